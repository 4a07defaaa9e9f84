//! Delegated consent: Graph's oAuth2PermissionGrant. A grant lets a client (service principal)
//! act for one user (`Principal`) or for every user (`AllPrincipals`, admin consent) with the
//! listed scopes of one resource (service principal).

use portico_core::ids::{ObjectId, TenantId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::StoreError;

/// One oAuth2PermissionGrant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionGrant {
    /// Id.
    pub id: String,
    /// Tenant.
    pub tenant_id: TenantId,
    /// The client's service principal id.
    pub client_id: ObjectId,
    /// `AllPrincipals` or `Principal`.
    pub consent_type: String,
    /// The user, for `Principal`.
    pub principal_id: Option<ObjectId>,
    /// The resource's service principal id.
    pub resource_id: ObjectId,
    /// Space-separated scope values.
    pub scope: String,
    /// Created (ms).
    pub created_at: i64,
}

/// The select list.
pub const COLUMNS: &str = "id, tenant_id, client_id, consent_type, principal_id, resource_id, scope, created_at";

/// Maps a row of [`COLUMNS`].
pub fn from_row(r: &AnyRow) -> Result<PermissionGrant, sqlx::Error> {
    let bad = |c: &str| sqlx::Error::Decode(format!("bad {c}").into());
    let t: String = r.try_get("tenant_id")?;
    let c: String = r.try_get("client_id")?;
    let p: String = r.try_get("principal_id")?;
    let res: String = r.try_get("resource_id")?;
    Ok(PermissionGrant {
        id: r.try_get("id")?,
        tenant_id: TenantId::parse(&t).ok_or_else(|| bad("tenant_id"))?,
        client_id: ObjectId::parse(&c).ok_or_else(|| bad("client_id"))?,
        consent_type: r.try_get("consent_type")?,
        principal_id: if p.is_empty() { None } else { Some(ObjectId::parse(&p).ok_or_else(|| bad("principal_id"))?) },
        resource_id: ObjectId::parse(&res).ok_or_else(|| bad("resource_id"))?,
        scope: r.try_get("scope")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Stores a grant; one per (client, resource, principal).
pub async fn insert(conn: &mut AnyConnection, g: &PermissionGrant) -> Result<(), StoreError> {
    crate::db::dynamic(format!(
        "INSERT INTO oauth2_permission_grants ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(&g.id)
    .bind(g.tenant_id.to_string())
    .bind(g.client_id.to_string())
    .bind(&g.consent_type)
    .bind(g.principal_id.map(|p| p.to_string()).unwrap_or_default())
    .bind(g.resource_id.to_string())
    .bind(&g.scope)
    .bind(g.created_at)
    .execute(conn)
    .await
    .map_err(|e| {
        StoreError::from(e)
            .conflict_as("Permission entry already exists for this client, resource and principal; update it instead.")
    })?;
    Ok(())
}

/// Changes a grant's scopes.
pub async fn set_scope(conn: &mut AnyConnection, tenant: TenantId, id: &str, scope: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE oauth2_permission_grants SET scope = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id)
        .bind(scope)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// One grant.
pub async fn get(conn: &mut AnyConnection, tenant: TenantId, id: &str) -> Result<Option<PermissionGrant>, StoreError> {
    let row =
        crate::db::dynamic(format!("SELECT {COLUMNS} FROM oauth2_permission_grants WHERE tenant_id = $1 AND id = $2"))
            .bind(tenant.to_string())
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Deletes a grant.
pub async fn delete(conn: &mut AnyConnection, tenant: TenantId, id: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM oauth2_permission_grants WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The grants that apply when `user` signs in to `client` for `resource`: the tenant-wide one and
/// the user's own.
pub async fn applicable(
    conn: &mut AnyConnection,
    tenant: TenantId,
    client: ObjectId,
    resource: ObjectId,
    user: ObjectId,
) -> Result<Vec<PermissionGrant>, StoreError> {
    let rows = crate::db::dynamic(format!(
        "SELECT {COLUMNS} FROM oauth2_permission_grants WHERE tenant_id = $1 AND client_id = $2 AND resource_id = $3 \
         AND principal_id IN ('', $4)"
    ))
    .bind(tenant.to_string())
    .bind(client.to_string())
    .bind(resource.to_string())
    .bind(user.to_string())
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// The grant for exactly this (client, resource, principal), if any.
pub async fn find(
    conn: &mut AnyConnection,
    tenant: TenantId,
    client: ObjectId,
    resource: ObjectId,
    principal: Option<ObjectId>,
) -> Result<Option<PermissionGrant>, StoreError> {
    let row = crate::db::dynamic(format!(
        "SELECT {COLUMNS} FROM oauth2_permission_grants WHERE tenant_id = $1 AND client_id = $2 AND resource_id = $3 \
         AND principal_id = $4"
    ))
    .bind(tenant.to_string())
    .bind(client.to_string())
    .bind(resource.to_string())
    .bind(principal.map(|p| p.to_string()).unwrap_or_default())
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}
