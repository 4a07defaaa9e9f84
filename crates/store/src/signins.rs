//! The sign-in log (Graph signIn) and each user's signInActivity.

use portico_core::ids::{ObjectId, TenantId};
use serde_json::Value as Json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{StoreError, ci_opt, flag, json_col, opt_str};

/// One sign-in attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct SignIn {
    /// Id.
    pub id: ObjectId,
    /// The tenant whose log it is (the resource tenant).
    pub tenant_id: TenantId,
    /// When (ms).
    pub created_at: i64,
    /// The user, when one was identified.
    pub user_id: Option<ObjectId>,
    /// What was typed or resolved.
    pub user_principal_name: Option<String>,
    /// Display name.
    pub user_display_name: Option<String>,
    /// The client application.
    pub app_id: Option<String>,
    /// Its name.
    pub app_display_name: Option<String>,
    /// The resource the token was for.
    pub resource_id: Option<String>,
    /// Its name.
    pub resource_display_name: Option<String>,
    /// Source address.
    pub ip_address: Option<String>,
    /// "Browser", "Mobile Apps and Desktop clients".
    pub client_app_used: String,
    /// User agent.
    pub user_agent: Option<String>,
    /// Interactive (a person at a page) or not (a refresh).
    pub is_interactive: bool,
    /// 0 for success, else an AADSTS number.
    pub error_code: i64,
    /// Why it failed.
    pub failure_reason: Option<String>,
    /// More detail.
    pub additional_details: Option<String>,
    /// authenticationDetails array.
    pub authentication_details: Json,
    /// singleFactorAuthentication or multiFactorAuthentication.
    pub authentication_requirement: String,
    /// notApplied, success, failure.
    pub conditional_access_status: String,
    /// The user's home tenant.
    pub home_tenant_id: Option<String>,
    /// The tenant signed in to.
    pub resource_tenant_id: String,
    /// The request id.
    pub correlation_id: String,
    /// member or guest.
    pub user_type: Option<String>,
    /// none, b2bCollaboration, ...
    pub cross_tenant_access_type: String,
}

/// The select list.
pub const COLUMNS: &str = "id, tenant_id, created_at, user_id, user_principal_name, user_display_name, app_id, \
    app_display_name, resource_id, resource_display_name, ip_address, client_app_used, user_agent, is_interactive, \
    error_code, failure_reason, additional_details, authentication_details, authentication_requirement, \
    conditional_access_status, home_tenant_id, resource_tenant_id, correlation_id, user_type, cross_tenant_access_type";

/// Maps a row of [`COLUMNS`].
pub fn from_row(r: &AnyRow) -> Result<SignIn, sqlx::Error> {
    let bad = |c: &str| sqlx::Error::Decode(format!("bad {c}").into());
    let id: String = r.try_get("id")?;
    let t: String = r.try_get("tenant_id")?;
    Ok(SignIn {
        id: ObjectId::parse(&id).ok_or_else(|| bad("id"))?,
        tenant_id: TenantId::parse(&t).ok_or_else(|| bad("tenant_id"))?,
        created_at: r.try_get("created_at")?,
        user_id: match opt_str(r, "user_id")? {
            Some(u) => Some(ObjectId::parse(&u).ok_or_else(|| bad("user_id"))?),
            None => None,
        },
        user_principal_name: opt_str(r, "user_principal_name")?,
        user_display_name: opt_str(r, "user_display_name")?,
        app_id: opt_str(r, "app_id")?,
        app_display_name: opt_str(r, "app_display_name")?,
        resource_id: opt_str(r, "resource_id")?,
        resource_display_name: opt_str(r, "resource_display_name")?,
        ip_address: opt_str(r, "ip_address")?,
        client_app_used: r.try_get("client_app_used")?,
        user_agent: opt_str(r, "user_agent")?,
        is_interactive: flag(r, "is_interactive")?,
        error_code: r.try_get("error_code")?,
        failure_reason: opt_str(r, "failure_reason")?,
        additional_details: opt_str(r, "additional_details")?,
        authentication_details: json_col(r, "authentication_details")?,
        authentication_requirement: r.try_get("authentication_requirement")?,
        conditional_access_status: r.try_get("conditional_access_status")?,
        home_tenant_id: opt_str(r, "home_tenant_id")?,
        resource_tenant_id: r.try_get("resource_tenant_id")?,
        correlation_id: r.try_get("correlation_id")?,
        user_type: opt_str(r, "user_type")?,
        cross_tenant_access_type: r.try_get("cross_tenant_access_type")?,
    })
}

/// Records a sign-in; on success also the user's signInActivity.
pub async fn insert(conn: &mut AnyConnection, s: &SignIn) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sign_ins (id, tenant_id, created_at, user_id, user_principal_name, upn_ci, user_display_name, app_id, \
         app_display_name, app_display_name_ci, resource_id, resource_display_name, ip_address, client_app_used, user_agent, \
         is_interactive, error_code, failure_reason, additional_details, authentication_details, authentication_requirement, \
         conditional_access_status, home_tenant_id, resource_tenant_id, correlation_id, user_type, cross_tenant_access_type) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, \
         $24, $25, $26, $27)",
    )
    .bind(s.id.to_string())
    .bind(s.tenant_id.to_string())
    .bind(s.created_at)
    .bind(s.user_id.map(|u| u.to_string()))
    .bind(s.user_principal_name.clone())
    .bind(ci_opt(s.user_principal_name.as_deref()))
    .bind(s.user_display_name.clone())
    .bind(s.app_id.clone())
    .bind(s.app_display_name.clone())
    .bind(ci_opt(s.app_display_name.as_deref()))
    .bind(s.resource_id.clone())
    .bind(s.resource_display_name.clone())
    .bind(s.ip_address.clone())
    .bind(&s.client_app_used)
    .bind(s.user_agent.clone())
    .bind(i64::from(s.is_interactive))
    .bind(s.error_code)
    .bind(s.failure_reason.clone())
    .bind(s.additional_details.clone())
    .bind(s.authentication_details.to_string())
    .bind(&s.authentication_requirement)
    .bind(&s.conditional_access_status)
    .bind(s.home_tenant_id.clone())
    .bind(&s.resource_tenant_id)
    .bind(&s.correlation_id)
    .bind(s.user_type.clone())
    .bind(&s.cross_tenant_access_type)
    .execute(&mut *conn)
    .await?;
    if s.error_code == 0
        && let Some(user) = s.user_id
    {
        let sql = if s.is_interactive {
            "UPDATE users SET last_sign_in_at = $3, last_sign_in_request_id = $4 WHERE tenant_id = $1 AND id = $2"
        } else {
            "UPDATE users SET last_non_interactive_sign_in_at = $3, last_sign_in_request_id = $4 WHERE tenant_id = $1 AND id = $2"
        };
        sqlx::query(sql)
            .bind(s.tenant_id.to_string())
            .bind(user.to_string())
            .bind(s.created_at)
            .bind(s.id.to_string())
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// A user's signInActivity: (last interactive, its request id, last non-interactive).
pub async fn activity(
    conn: &mut AnyConnection,
    tenant: TenantId,
    users: &[ObjectId],
) -> Result<std::collections::HashMap<ObjectId, (Option<i64>, Option<String>, Option<i64>)>, StoreError> {
    let mut out = std::collections::HashMap::new();
    if users.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT id, last_sign_in_at, last_sign_in_request_id, last_non_interactive_sign_in_at FROM users \
         WHERE tenant_id = $1 AND id IN ({})",
        crate::db::placeholders(2, users.len())
    );
    let mut q = crate::db::dynamic(sql).bind(tenant.to_string());
    for u in users {
        q = q.bind(u.to_string());
    }
    for r in q.fetch_all(conn).await? {
        let id: String = r.try_get("id")?;
        if let Some(id) = ObjectId::parse(&id) {
            out.insert(
                id,
                (
                    r.try_get("last_sign_in_at")?,
                    opt_str(&r, "last_sign_in_request_id")?,
                    r.try_get("last_non_interactive_sign_in_at")?,
                ),
            );
        }
    }
    Ok(out)
}

/// Whether `ip` signed in to this user's account successfully since `since` (a familiar place).
pub async fn familiar_address(
    conn: &mut AnyConnection,
    tenant: TenantId,
    user: ObjectId,
    ip: &str,
    since: i64,
) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sign_ins WHERE tenant_id = $1 AND user_id = $2 AND ip_address = $3 AND error_code = 0 \
         AND created_at > $4",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .bind(ip)
    .bind(since)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}
