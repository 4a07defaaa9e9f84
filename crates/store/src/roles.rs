//! Directory role assignments (unifiedRoleAssignment) of built-in roles.

use portico_core::ids::{ObjectId, TenantId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::StoreError;

/// A role assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    /// Id.
    pub id: ObjectId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Who holds the role.
    pub principal_id: ObjectId,
    /// The role definition (= template id for built-in roles).
    pub role_definition_id: String,
    /// `/` for the whole tenant.
    pub directory_scope_id: String,
    /// Created at (ms).
    pub created_at: i64,
}

/// The select list.
pub const COLUMNS: &str = "id, tenant_id, principal_id, role_definition_id, directory_scope_id, created_at";

/// Maps a row of [`COLUMNS`].
pub fn from_row(r: &AnyRow) -> Result<RoleAssignment, sqlx::Error> {
    let bad = |c: &str| sqlx::Error::Decode(format!("bad {c}").into());
    let id: String = r.try_get("id")?;
    let t: String = r.try_get("tenant_id")?;
    let p: String = r.try_get("principal_id")?;
    Ok(RoleAssignment {
        id: ObjectId::parse(&id).ok_or_else(|| bad("id"))?,
        tenant_id: TenantId::parse(&t).ok_or_else(|| bad("tenant"))?,
        principal_id: ObjectId::parse(&p).ok_or_else(|| bad("principal"))?,
        role_definition_id: r.try_get("role_definition_id")?,
        directory_scope_id: r.try_get("directory_scope_id")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Inserts an assignment; a duplicate is a conflict.
pub async fn insert(conn: &mut AnyConnection, a: &RoleAssignment) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO role_assignments (id, tenant_id, principal_id, role_definition_id, directory_scope_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(a.id.to_string())
    .bind(a.tenant_id.to_string())
    .bind(a.principal_id.to_string())
    .bind(a.role_definition_id.to_ascii_lowercase())
    .bind(&a.directory_scope_id)
    .bind(a.created_at)
    .execute(conn)
    .await
    .map_err(|e| StoreError::from(e).conflict_as("A conflicting object with one or more of the specified property values is present in the directory."))?;
    Ok(())
}

/// Reads one assignment.
pub async fn get(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: ObjectId,
) -> Result<Option<RoleAssignment>, StoreError> {
    let q = format!("SELECT {COLUMNS} FROM role_assignments WHERE tenant_id = $1 AND id = $2");
    let row = crate::db::dynamic(q).bind(tenant.to_string()).bind(id.to_string()).fetch_optional(conn).await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Deletes one assignment; returns whether it existed.
pub async fn delete(conn: &mut AnyConnection, tenant: TenantId, id: ObjectId) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM role_assignments WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The role template ids a principal holds tenant-wide (for the `wids` claim).
pub async fn roles_of(
    conn: &mut AnyConnection,
    tenant: TenantId,
    principal: ObjectId,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT DISTINCT role_definition_id FROM role_assignments WHERE tenant_id = $1 AND principal_id = $2 ORDER BY role_definition_id",
    )
    .bind(tenant.to_string())
    .bind(principal.to_string())
    .fetch_all(conn)
    .await?)
}
