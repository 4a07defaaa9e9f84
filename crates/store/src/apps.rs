//! Applications (registrations), their secrets, service principals, and app role assignments.

use portico_core::ids::{ObjectId, TenantId};
use serde_json::Value as Json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{StoreError, ci, flag, json_col, opt_str};

/// An application registration.
#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    /// Object id.
    pub id: ObjectId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Client id.
    pub app_id: String,
    /// Name.
    pub display_name: String,
    /// Description.
    pub description: Option<String>,
    /// Who may sign in.
    pub sign_in_audience: String,
    /// Application ID URIs.
    pub identifier_uris: Vec<String>,
    /// web: {redirectUris, homePageUrl, logoutUrl, implicitGrantSettings}
    pub web: Json,
    /// spa: {redirectUris}
    pub spa: Json,
    /// publicClient: {redirectUris}
    pub public_client: Json,
    /// api: {oauth2PermissionScopes, ...}
    pub api: Json,
    /// appRoles array.
    pub app_roles: Json,
    /// requiredResourceAccess array.
    pub required_resource_access: Json,
    /// Created at (ms).
    pub created_at: i64,
    /// Soft-deleted at (ms).
    pub deleted_at: Option<i64>,
}

/// A client secret (the secret itself is never stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordCredential {
    /// keyId.
    pub key_id: ObjectId,
    /// Owner.
    pub application_id: ObjectId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Label.
    pub display_name: Option<String>,
    /// First 3 characters.
    pub hint: String,
    /// SHA-256 digest.
    pub secret_digest: String,
    /// Valid from (ms).
    pub start_at: i64,
    /// Valid until (ms).
    pub end_at: i64,
}

/// A service principal (an application's instance in a tenant).
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePrincipal {
    /// Object id.
    pub id: ObjectId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Client id.
    pub app_id: String,
    /// The registration, when it lives in this tenant.
    pub application_id: Option<ObjectId>,
    /// Name.
    pub display_name: String,
    /// Only assigned principals get tokens.
    pub app_role_assignment_required: bool,
    /// Sign-in enabled.
    pub account_enabled: bool,
    /// Application, ManagedIdentity, ...
    pub service_principal_type: String,
    /// Tenant that owns the registration.
    pub app_owner_organization_id: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Created at (ms).
    pub created_at: i64,
    /// Soft-deleted at (ms).
    pub deleted_at: Option<i64>,
}

/// An app role granted to a principal on a resource service principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRoleAssignment {
    /// Id.
    pub id: ObjectId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// The app role (all zeros for default access).
    pub app_role_id: String,
    /// Who receives it.
    pub principal_id: ObjectId,
    /// User, Group or ServicePrincipal.
    pub principal_type: String,
    /// The resource service principal.
    pub resource_id: ObjectId,
    /// Created at (ms).
    pub created_at: i64,
}

fn oid(r: &AnyRow, col: &str) -> Result<ObjectId, sqlx::Error> {
    let s: String = r.try_get(col)?;
    ObjectId::parse(&s).ok_or_else(|| sqlx::Error::Decode(format!("bad id in {col}").into()))
}

fn tid(r: &AnyRow) -> Result<TenantId, sqlx::Error> {
    let s: String = r.try_get("tenant_id")?;
    TenantId::parse(&s).ok_or_else(|| sqlx::Error::Decode("bad tenant id".into()))
}

/// The select list for applications.
pub const APP_COLUMNS: &str = "id, tenant_id, app_id, display_name, description, sign_in_audience, identifier_uris, web, spa, \
    public_client, api, app_roles, required_resource_access, created_at, deleted_at";

/// Maps a row of [`APP_COLUMNS`].
pub fn app_from_row(r: &AnyRow) -> Result<Application, sqlx::Error> {
    Ok(Application {
        id: oid(r, "id")?,
        tenant_id: tid(r)?,
        app_id: r.try_get("app_id")?,
        display_name: r.try_get("display_name")?,
        description: opt_str(r, "description")?,
        sign_in_audience: r.try_get("sign_in_audience")?,
        identifier_uris: serde_json::from_value(json_col(r, "identifier_uris")?).unwrap_or_default(),
        web: json_col(r, "web")?,
        spa: json_col(r, "spa")?,
        public_client: json_col(r, "public_client")?,
        api: json_col(r, "api")?,
        app_roles: json_col(r, "app_roles")?,
        required_resource_access: json_col(r, "required_resource_access")?,
        created_at: r.try_get("created_at")?,
        deleted_at: r.try_get("deleted_at")?,
    })
}

/// Inserts an application.
pub async fn insert_app(conn: &mut AnyConnection, a: &Application) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO applications (id, tenant_id, app_id, display_name, display_name_ci, description, sign_in_audience, \
         identifier_uris, web, spa, public_client, api, app_roles, required_resource_access, created_at, deleted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
    )
    .bind(a.id.to_string())
    .bind(a.tenant_id.to_string())
    .bind(a.app_id.to_ascii_lowercase())
    .bind(&a.display_name)
    .bind(ci(&a.display_name))
    .bind(&a.description)
    .bind(&a.sign_in_audience)
    .bind(serde_json::to_string(&a.identifier_uris).unwrap_or_else(|_| "[]".into()))
    .bind(a.web.to_string())
    .bind(a.spa.to_string())
    .bind(a.public_client.to_string())
    .bind(a.api.to_string())
    .bind(a.app_roles.to_string())
    .bind(a.required_resource_access.to_string())
    .bind(a.created_at)
    .bind(a.deleted_at)
    .execute(conn)
    .await
    .map_err(|e| StoreError::from(e).conflict_as("Another object with the same value for property appId already exists."))?;
    Ok(())
}

/// Writes every property of an existing application.
pub async fn update_app(conn: &mut AnyConnection, a: &Application) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE applications SET display_name = $3, display_name_ci = $4, description = $5, sign_in_audience = $6, \
         identifier_uris = $7, web = $8, spa = $9, public_client = $10, api = $11, app_roles = $12, \
         required_resource_access = $13, deleted_at = $14 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(a.tenant_id.to_string())
    .bind(a.id.to_string())
    .bind(&a.display_name)
    .bind(ci(&a.display_name))
    .bind(&a.description)
    .bind(&a.sign_in_audience)
    .bind(serde_json::to_string(&a.identifier_uris).unwrap_or_else(|_| "[]".into()))
    .bind(a.web.to_string())
    .bind(a.spa.to_string())
    .bind(a.public_client.to_string())
    .bind(a.api.to_string())
    .bind(a.app_roles.to_string())
    .bind(a.required_resource_access.to_string())
    .bind(a.deleted_at)
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Reads an application by object id.
pub async fn get_app(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: ObjectId,
    deleted: bool,
) -> Result<Option<Application>, StoreError> {
    let cond = if deleted { "deleted_at IS NOT NULL" } else { "deleted_at IS NULL" };
    let q = format!("SELECT {APP_COLUMNS} FROM applications WHERE tenant_id = $1 AND id = $2 AND {cond}");
    let row = crate::db::dynamic(q).bind(tenant.to_string()).bind(id.to_string()).fetch_optional(conn).await?;
    Ok(row.as_ref().map(app_from_row).transpose()?)
}

/// Reads a live application by client id.
pub async fn get_app_by_app_id(
    conn: &mut AnyConnection,
    tenant: TenantId,
    app_id: &str,
) -> Result<Option<Application>, StoreError> {
    let q =
        format!("SELECT {APP_COLUMNS} FROM applications WHERE tenant_id = $1 AND app_id = $2 AND deleted_at IS NULL");
    let row =
        crate::db::dynamic(q).bind(tenant.to_string()).bind(app_id.to_ascii_lowercase()).fetch_optional(conn).await?;
    Ok(row.as_ref().map(app_from_row).transpose()?)
}

/// Finds a live application in the tenant whose identifierUris contain `uri` (exact match).
pub async fn get_app_by_identifier_uri(
    conn: &mut AnyConnection,
    tenant: TenantId,
    uri: &str,
) -> Result<Option<Application>, StoreError> {
    // identifierUris is a short JSON array; a LIKE narrows, the exact check happens in Rust.
    let q = format!(
        "SELECT {APP_COLUMNS} FROM applications WHERE tenant_id = $1 AND deleted_at IS NULL AND identifier_uris LIKE $2 ESCAPE '\\'"
    );
    let pattern = format!("%{}%", uri.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
    let rows = crate::db::dynamic(q).bind(tenant.to_string()).bind(pattern).fetch_all(conn).await?;
    for r in &rows {
        let a = app_from_row(r)?;
        if a.identifier_uris.iter().any(|u| u == uri) {
            return Ok(Some(a));
        }
    }
    Ok(None)
}

/// Removes an application for good, with its secrets.
pub async fn purge_app(conn: &mut AnyConnection, tenant: TenantId, id: ObjectId) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM applications WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Adds a client secret.
pub async fn insert_password(conn: &mut AnyConnection, p: &PasswordCredential) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO password_credentials (key_id, application_id, tenant_id, display_name, hint, secret_digest, start_at, end_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(p.key_id.to_string())
    .bind(p.application_id.to_string())
    .bind(p.tenant_id.to_string())
    .bind(&p.display_name)
    .bind(&p.hint)
    .bind(&p.secret_digest)
    .bind(p.start_at)
    .bind(p.end_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes a client secret; returns whether it existed.
pub async fn delete_password(
    conn: &mut AnyConnection,
    tenant: TenantId,
    app: ObjectId,
    key_id: ObjectId,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query("DELETE FROM password_credentials WHERE tenant_id = $1 AND application_id = $2 AND key_id = $3")
            .bind(tenant.to_string())
            .bind(app.to_string())
            .bind(key_id.to_string())
            .execute(conn)
            .await?;
    Ok(done.rows_affected() > 0)
}

/// An application's client secrets.
pub async fn passwords(
    conn: &mut AnyConnection,
    tenant: TenantId,
    app: ObjectId,
) -> Result<Vec<PasswordCredential>, StoreError> {
    let rows = sqlx::query(
        "SELECT * FROM password_credentials WHERE tenant_id = $1 AND application_id = $2 ORDER BY start_at, key_id",
    )
    .bind(tenant.to_string())
    .bind(app.to_string())
    .fetch_all(conn)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(PasswordCredential {
                key_id: oid(r, "key_id")?,
                application_id: oid(r, "application_id")?,
                tenant_id: tid(r)?,
                display_name: opt_str(r, "display_name")?,
                hint: r.try_get("hint")?,
                secret_digest: r.try_get("secret_digest")?,
                start_at: r.try_get("start_at")?,
                end_at: r.try_get("end_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(StoreError::from)
}

/// The select list for service principals.
pub const SP_COLUMNS: &str = "id, tenant_id, app_id, application_id, display_name, app_role_assignment_required, account_enabled, \
    service_principal_type, app_owner_organization_id, tags, created_at, deleted_at";

/// Maps a row of [`SP_COLUMNS`].
pub fn sp_from_row(r: &AnyRow) -> Result<ServicePrincipal, sqlx::Error> {
    Ok(ServicePrincipal {
        id: oid(r, "id")?,
        tenant_id: tid(r)?,
        app_id: r.try_get("app_id")?,
        application_id: opt_str(r, "application_id")?.as_deref().and_then(ObjectId::parse),
        display_name: r.try_get("display_name")?,
        app_role_assignment_required: flag(r, "app_role_assignment_required")?,
        account_enabled: flag(r, "account_enabled")?,
        service_principal_type: r.try_get("service_principal_type")?,
        app_owner_organization_id: opt_str(r, "app_owner_organization_id")?,
        tags: serde_json::from_value(json_col(r, "tags")?).unwrap_or_default(),
        created_at: r.try_get("created_at")?,
        deleted_at: r.try_get("deleted_at")?,
    })
}

/// Inserts a service principal (one per application per tenant).
pub async fn insert_sp(conn: &mut AnyConnection, s: &ServicePrincipal) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO service_principals (id, tenant_id, app_id, application_id, display_name, display_name_ci, \
         app_role_assignment_required, account_enabled, service_principal_type, app_owner_organization_id, tags, created_at, deleted_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(s.id.to_string())
    .bind(s.tenant_id.to_string())
    .bind(s.app_id.to_ascii_lowercase())
    .bind(s.application_id.map(|i| i.to_string()))
    .bind(&s.display_name)
    .bind(ci(&s.display_name))
    .bind(i64::from(s.app_role_assignment_required))
    .bind(i64::from(s.account_enabled))
    .bind(&s.service_principal_type)
    .bind(&s.app_owner_organization_id)
    .bind(serde_json::to_string(&s.tags).unwrap_or_else(|_| "[]".into()))
    .bind(s.created_at)
    .bind(s.deleted_at)
    .execute(conn)
    .await
    .map_err(|e| StoreError::from(e).conflict_as("A service principal for this application already exists in the tenant."))?;
    Ok(())
}

/// Writes the updatable properties of a service principal.
pub async fn update_sp(conn: &mut AnyConnection, s: &ServicePrincipal) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE service_principals SET display_name = $3, display_name_ci = $4, app_role_assignment_required = $5, \
         account_enabled = $6, tags = $7, deleted_at = $8 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(s.tenant_id.to_string())
    .bind(s.id.to_string())
    .bind(&s.display_name)
    .bind(ci(&s.display_name))
    .bind(i64::from(s.app_role_assignment_required))
    .bind(i64::from(s.account_enabled))
    .bind(serde_json::to_string(&s.tags).unwrap_or_else(|_| "[]".into()))
    .bind(s.deleted_at)
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Reads a live service principal by object id.
pub async fn get_sp(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: ObjectId,
) -> Result<Option<ServicePrincipal>, StoreError> {
    let q =
        format!("SELECT {SP_COLUMNS} FROM service_principals WHERE tenant_id = $1 AND id = $2 AND deleted_at IS NULL");
    let row = crate::db::dynamic(q).bind(tenant.to_string()).bind(id.to_string()).fetch_optional(conn).await?;
    Ok(row.as_ref().map(sp_from_row).transpose()?)
}

/// Reads the live service principal of a client id in a tenant.
pub async fn get_sp_by_app_id(
    conn: &mut AnyConnection,
    tenant: TenantId,
    app_id: &str,
) -> Result<Option<ServicePrincipal>, StoreError> {
    let q = format!(
        "SELECT {SP_COLUMNS} FROM service_principals WHERE tenant_id = $1 AND app_id = $2 AND deleted_at IS NULL"
    );
    let row =
        crate::db::dynamic(q).bind(tenant.to_string()).bind(app_id.to_ascii_lowercase()).fetch_optional(conn).await?;
    Ok(row.as_ref().map(sp_from_row).transpose()?)
}

/// Removes a service principal for good, with its assignments.
pub async fn purge_sp(conn: &mut AnyConnection, tenant: TenantId, id: ObjectId) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM service_principals WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    crate::groups::forget_object(conn, tenant, id).await?;
    Ok(true)
}

/// Inserts an app role assignment; a duplicate is a conflict.
pub async fn insert_assignment(conn: &mut AnyConnection, a: &AppRoleAssignment) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO app_role_assignments (id, tenant_id, app_role_id, principal_id, principal_type, resource_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(a.id.to_string())
    .bind(a.tenant_id.to_string())
    .bind(a.app_role_id.to_ascii_lowercase())
    .bind(a.principal_id.to_string())
    .bind(&a.principal_type)
    .bind(a.resource_id.to_string())
    .bind(a.created_at)
    .execute(conn)
    .await
    .map_err(|e| StoreError::from(e).conflict_as("Permission being assigned already exists on the object"))?;
    Ok(())
}

fn assignment_from_row(r: &AnyRow) -> Result<AppRoleAssignment, sqlx::Error> {
    Ok(AppRoleAssignment {
        id: oid(r, "id")?,
        tenant_id: tid(r)?,
        app_role_id: r.try_get("app_role_id")?,
        principal_id: oid(r, "principal_id")?,
        principal_type: r.try_get("principal_type")?,
        resource_id: oid(r, "resource_id")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Which side of assignments to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Assignments a principal holds.
    Principal,
    /// Assignments made on a resource.
    Resource,
}

/// Lists assignments held by a principal or granted on a resource.
pub async fn assignments(
    conn: &mut AnyConnection,
    tenant: TenantId,
    side: Side,
    id: ObjectId,
) -> Result<Vec<AppRoleAssignment>, StoreError> {
    let col = match side {
        Side::Principal => "principal_id",
        Side::Resource => "resource_id",
    };
    let q = format!("SELECT * FROM app_role_assignments WHERE tenant_id = $1 AND {col} = $2 ORDER BY created_at, id");
    let rows = crate::db::dynamic(q).bind(tenant.to_string()).bind(id.to_string()).fetch_all(conn).await?;
    Ok(rows.iter().map(assignment_from_row).collect::<Result<_, _>>()?)
}

/// Reads one assignment.
pub async fn get_assignment(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: ObjectId,
) -> Result<Option<AppRoleAssignment>, StoreError> {
    let row = sqlx::query("SELECT * FROM app_role_assignments WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(assignment_from_row).transpose()?)
}

/// Deletes one assignment; returns whether it existed.
pub async fn delete_assignment(conn: &mut AnyConnection, tenant: TenantId, id: ObjectId) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM app_role_assignments WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The app role ids a principal holds on a resource.
pub async fn granted_roles(
    conn: &mut AnyConnection,
    tenant: TenantId,
    principal: ObjectId,
    resource: ObjectId,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT app_role_id FROM app_role_assignments WHERE tenant_id = $1 AND principal_id = $2 AND resource_id = $3 ORDER BY app_role_id",
    )
    .bind(tenant.to_string())
    .bind(principal.to_string())
    .bind(resource.to_string())
    .fetch_all(conn)
    .await?)
}

/// The app role ids any of `principals` (a user and their groups, say) holds on a resource, in
/// one query.
pub async fn granted_roles_of_any(
    conn: &mut AnyConnection,
    tenant: TenantId,
    principals: &[ObjectId],
    resource: ObjectId,
) -> Result<Vec<String>, StoreError> {
    if principals.is_empty() {
        return Ok(vec![]);
    }
    let q = format!(
        "SELECT DISTINCT app_role_id FROM app_role_assignments WHERE tenant_id = $1 AND resource_id = $2 \
         AND principal_id IN ({}) ORDER BY app_role_id",
        crate::db::placeholders(3, principals.len())
    );
    let mut query = crate::db::dynamic(q).bind(tenant.to_string()).bind(resource.to_string());
    for p in principals {
        query = query.bind(p.to_string());
    }
    Ok(query.fetch_all(conn).await?.iter().map(|r| r.try_get("app_role_id")).collect::<Result<_, _>>()?)
}

/// Ids of soft-deleted service principals of a client id (deleted with their application).
pub async fn deleted_sp_ids(
    conn: &mut AnyConnection,
    tenant: TenantId,
    app_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT id FROM service_principals WHERE tenant_id = $1 AND app_id = $2 AND deleted_at IS NOT NULL",
    )
    .bind(tenant.to_string())
    .bind(app_id.to_ascii_lowercase())
    .fetch_all(conn)
    .await?)
}

/// Brings a soft-deleted service principal back.
pub async fn restore_sp(conn: &mut AnyConnection, tenant: TenantId, id: ObjectId) -> Result<(), StoreError> {
    sqlx::query("UPDATE service_principals SET deleted_at = NULL WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// What the token endpoint needs about a client, read in one round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientForToken {
    /// The application's object id.
    pub application_id: ObjectId,
    /// Client id.
    pub app_id: String,
    /// Name.
    pub display_name: String,
    /// The service principal in the tenant, with whether it is enabled.
    pub service_principal: Option<(ObjectId, bool)>,
    /// Client secrets: (digest, start, end).
    pub secrets: Vec<(String, i64, i64)>,
}

/// Reads a live application, its service principal and its secrets with one query.
pub async fn client_for_token(
    conn: &mut AnyConnection,
    tenant: TenantId,
    app_id: &str,
) -> Result<Option<ClientForToken>, StoreError> {
    let rows = sqlx::query(
        "SELECT a.id AS app_oid, a.app_id, a.display_name, sp.id AS sp_id, sp.account_enabled, \
                pc.secret_digest, pc.start_at, pc.end_at \
         FROM applications a \
         LEFT JOIN service_principals sp ON sp.tenant_id = a.tenant_id AND sp.app_id = a.app_id AND sp.deleted_at IS NULL \
         LEFT JOIN password_credentials pc ON pc.application_id = a.id \
         WHERE a.tenant_id = $1 AND a.app_id = $2 AND a.deleted_at IS NULL",
    )
    .bind(tenant.to_string())
    .bind(app_id.to_ascii_lowercase())
    .fetch_all(conn)
    .await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let sp = match opt_str(first, "sp_id")? {
        Some(id) => Some((
            ObjectId::parse(&id).ok_or_else(|| StoreError::Corrupt(format!("service principal id {id}")))?,
            flag(first, "account_enabled")?,
        )),
        None => None,
    };
    let mut secrets = vec![];
    for r in &rows {
        if let Some(d) = opt_str(r, "secret_digest")? {
            secrets.push((d, r.try_get("start_at")?, r.try_get("end_at")?));
        }
    }
    Ok(Some(ClientForToken {
        application_id: oid(first, "app_oid")?,
        app_id: first.try_get("app_id")?,
        display_name: first.try_get("display_name")?,
        service_principal: sp,
        secrets,
    }))
}

/// A resource service principal with the app role ids one principal holds on it, read in one
/// round trip: `(resource, role ids)`.
pub async fn resource_with_grants(
    conn: &mut AnyConnection,
    tenant: TenantId,
    resource_app_id: &str,
    principal: ObjectId,
) -> Result<Option<(ServicePrincipal, Vec<String>)>, StoreError> {
    let cols: Vec<String> = SP_COLUMNS.split(", ").map(|c| format!("sp.{c}")).collect();
    let q = format!(
        "SELECT {}, ara.app_role_id AS granted FROM service_principals sp \
         LEFT JOIN app_role_assignments ara ON ara.resource_id = sp.id AND ara.principal_id = $3 AND ara.tenant_id = sp.tenant_id \
         WHERE sp.tenant_id = $1 AND sp.app_id = $2 AND sp.deleted_at IS NULL ORDER BY ara.app_role_id",
        cols.join(", ")
    );
    let rows = crate::db::dynamic(q)
        .bind(tenant.to_string())
        .bind(resource_app_id.to_ascii_lowercase())
        .bind(principal.to_string())
        .fetch_all(conn)
        .await?;
    let Some(first) = rows.first() else { return Ok(None) };
    let sp = sp_from_row(first)?;
    let mut granted = vec![];
    for r in &rows {
        if let Some(g) = opt_str(r, "granted")? {
            granted.push(g);
        }
    }
    Ok(Some((sp, granted)))
}

/// The client secrets of many applications with one query, grouped by application.
pub async fn passwords_of(
    conn: &mut AnyConnection,
    tenant: TenantId,
    apps: &[ObjectId],
) -> Result<std::collections::HashMap<ObjectId, Vec<PasswordCredential>>, StoreError> {
    let mut out: std::collections::HashMap<ObjectId, Vec<PasswordCredential>> = std::collections::HashMap::new();
    if apps.is_empty() {
        return Ok(out);
    }
    let ph = crate::db::placeholders(2, apps.len());
    let q = format!(
        "SELECT * FROM password_credentials WHERE tenant_id = $1 AND application_id IN ({}) ORDER BY start_at, key_id",
        ph
    );
    let mut query = crate::db::dynamic(q).bind(tenant.to_string());
    for a in apps {
        query = query.bind(a.to_string());
    }
    for r in query.fetch_all(conn).await? {
        let p = PasswordCredential {
            key_id: oid(&r, "key_id")?,
            application_id: oid(&r, "application_id")?,
            tenant_id: tid(&r)?,
            display_name: opt_str(&r, "display_name")?,
            hint: r.try_get("hint")?,
            secret_digest: r.try_get("secret_digest")?,
            start_at: r.try_get("start_at")?,
            end_at: r.try_get("end_at")?,
        };
        out.entry(p.application_id).or_default().push(p);
    }
    Ok(out)
}

/// Live applications of a tenant by object id, with one query (missing ones absent).
pub async fn get_apps(
    conn: &mut AnyConnection,
    tenant: TenantId,
    ids: &[ObjectId],
) -> Result<std::collections::HashMap<ObjectId, Application>, StoreError> {
    if ids.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let ph = crate::db::placeholders(2, ids.len());
    let q = format!(
        "SELECT {APP_COLUMNS} FROM applications WHERE tenant_id = $1 AND deleted_at IS NULL AND id IN ({})",
        ph
    );
    let mut query = crate::db::dynamic(q).bind(tenant.to_string());
    for id in ids {
        query = query.bind(id.to_string());
    }
    let rows = query.fetch_all(conn).await?;
    let mut out = std::collections::HashMap::with_capacity(rows.len());
    for r in &rows {
        let a = app_from_row(r)?;
        out.insert(a.id, a);
    }
    Ok(out)
}

/// An application's `groupMembershipClaims` (None, SecurityGroup, All, ...), if set.
pub async fn group_membership_claims(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: ObjectId,
) -> Result<Option<String>, StoreError> {
    let v: Option<Option<String>> =
        sqlx::query_scalar("SELECT group_membership_claims FROM applications WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.to_string())
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
    Ok(v.flatten())
}

/// Sets an application's `groupMembershipClaims`.
pub async fn set_group_membership_claims(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: ObjectId,
    value: Option<&str>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE applications SET group_membership_claims = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(value)
        .execute(conn)
        .await?;
    Ok(())
}
