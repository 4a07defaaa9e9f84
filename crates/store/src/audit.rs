//! The directory audit log (Graph directoryAudit), written in the same transaction as the change.

use portico_core::ids::{ObjectId, TenantId};
use serde_json::Value as Json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{StoreError, ci, json_col, opt_str};

/// One audit record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Id.
    pub id: ObjectId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// When (ms).
    pub activity_at: i64,
    /// "Add user", "Update user", ...
    pub activity_display_name: String,
    /// UserManagement, GroupManagement, ApplicationManagement, RoleManagement, DirectoryManagement, KeyManagement, ...
    pub category: String,
    /// The request's correlation id.
    pub correlation_id: String,
    /// "Core Directory", "Invited Users", ...
    pub logged_by_service: String,
    /// Add, Update, Delete, Assign, Unassign, Other.
    pub operation_type: String,
    /// success, failure.
    pub result: String,
    /// Why, for failures.
    pub result_reason: Option<String>,
    /// {user:{...}} or {app:{...}}.
    pub initiated_by: Json,
    /// targetResources array.
    pub target_resources: Json,
    /// additionalDetails array.
    pub additional_details: Json,
}

/// The select list.
pub const COLUMNS: &str = "id, tenant_id, activity_at, activity_display_name, category, correlation_id, logged_by_service, \
    operation_type, result, result_reason, initiated_by, target_resources, additional_details";

/// Maps a row of [`COLUMNS`].
pub fn from_row(r: &AnyRow) -> Result<AuditEntry, sqlx::Error> {
    let id: String = r.try_get("id")?;
    let t: String = r.try_get("tenant_id")?;
    Ok(AuditEntry {
        id: ObjectId::parse(&id).ok_or_else(|| sqlx::Error::Decode("bad id".into()))?,
        tenant_id: TenantId::parse(&t).ok_or_else(|| sqlx::Error::Decode("bad tenant".into()))?,
        activity_at: r.try_get("activity_at")?,
        activity_display_name: r.try_get("activity_display_name")?,
        category: r.try_get("category")?,
        correlation_id: r.try_get("correlation_id")?,
        logged_by_service: r.try_get("logged_by_service")?,
        operation_type: r.try_get("operation_type")?,
        result: r.try_get("result")?,
        result_reason: opt_str(r, "result_reason")?,
        initiated_by: json_col(r, "initiated_by")?,
        target_resources: json_col(r, "target_resources")?,
        additional_details: json_col(r, "additional_details")?,
    })
}

/// Records an entry (call inside the transaction that makes the change).
pub async fn insert(conn: &mut AnyConnection, e: &AuditEntry) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_logs (id, tenant_id, activity_at, activity_display_name, activity_display_name_ci, category, category_ci, \
         correlation_id, logged_by_service, operation_type, result, result_reason, initiated_by, target_resources, additional_details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(e.id.to_string())
    .bind(e.tenant_id.to_string())
    .bind(e.activity_at)
    .bind(&e.activity_display_name)
    .bind(ci(&e.activity_display_name))
    .bind(&e.category)
    .bind(ci(&e.category))
    .bind(&e.correlation_id)
    .bind(&e.logged_by_service)
    .bind(&e.operation_type)
    .bind(&e.result)
    .bind(&e.result_reason)
    .bind(e.initiated_by.to_string())
    .bind(e.target_resources.to_string())
    .bind(e.additional_details.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// Reads one entry.
pub async fn get(conn: &mut AnyConnection, tenant: TenantId, id: ObjectId) -> Result<Option<AuditEntry>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM audit_logs WHERE tenant_id = $1 AND id = $2");
    let row = crate::db::dynamic(q).bind(tenant.to_string()).bind(id.to_string()).fetch_optional(conn).await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}
