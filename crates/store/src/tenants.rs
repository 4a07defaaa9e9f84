//! Tenants (directories) and their domains.

use portico_core::ids::TenantId;
use serde_json::Value as Json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{Store, StoreError, flag, json_col, opt_str};

/// A tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    /// Tenant id.
    pub id: TenantId,
    /// Organization name.
    pub display_name: String,
    /// `<name>.<base domain>`, verified from the start.
    pub initial_domain: String,
    /// Notification language.
    pub preferred_language: Option<String>,
    /// privacyProfile.contactEmail
    pub privacy_contact_email: Option<String>,
    /// privacyProfile.statementUrl
    pub privacy_statement_url: Option<String>,
    /// Where technical notices go.
    pub technical_notification_mails: Vec<String>,
    /// organizationalBranding properties (Graph names), default locale.
    pub branding: Json,
    /// Creation instant (ms).
    pub created_at: i64,
}

/// A domain of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// Owner.
    pub tenant_id: TenantId,
    /// Lowercased name.
    pub name: String,
    /// The tenant's initial domain.
    pub is_initial: bool,
    /// Default for new users.
    pub is_default: bool,
    /// Ownership proven.
    pub is_verified: bool,
    /// The value to publish as a DNS TXT record `MS=<code>` to prove ownership.
    pub verification_code: String,
    /// Added at (ms).
    pub created_at: i64,
    /// Verified at (ms).
    pub verified_at: Option<i64>,
}

const TENANT_COLUMNS: &str = "id, display_name, initial_domain, preferred_language, privacy_contact_email, \
    privacy_statement_url, technical_notification_mails, branding, created_at";

fn tenant_from_row(r: &AnyRow) -> Result<Tenant, sqlx::Error> {
    let id: String = r.try_get("id")?;
    Ok(Tenant {
        id: TenantId::parse(&id).ok_or_else(|| sqlx::Error::Decode("bad tenant id".into()))?,
        display_name: r.try_get("display_name")?,
        initial_domain: r.try_get("initial_domain")?,
        preferred_language: opt_str(r, "preferred_language")?,
        privacy_contact_email: opt_str(r, "privacy_contact_email")?,
        privacy_statement_url: opt_str(r, "privacy_statement_url")?,
        technical_notification_mails: serde_json::from_value(json_col(r, "technical_notification_mails")?)
            .unwrap_or_default(),
        branding: json_col(r, "branding")?,
        created_at: r.try_get("created_at")?,
    })
}

fn domain_from_row(r: &AnyRow) -> Result<Domain, sqlx::Error> {
    let id: String = r.try_get("tenant_id")?;
    Ok(Domain {
        tenant_id: TenantId::parse(&id).ok_or_else(|| sqlx::Error::Decode("bad tenant id".into()))?,
        name: r.try_get("name")?,
        is_initial: flag(r, "is_initial")?,
        is_default: flag(r, "is_default")?,
        is_verified: flag(r, "is_verified")?,
        verification_code: r.try_get("verification_code")?,
        created_at: r.try_get("created_at")?,
        verified_at: r.try_get("verified_at")?,
    })
}

/// Inserts a tenant.
pub async fn insert(conn: &mut AnyConnection, t: &Tenant) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO tenants (id, display_name, initial_domain, preferred_language, privacy_contact_email, \
         privacy_statement_url, technical_notification_mails, branding, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(t.id.to_string())
    .bind(&t.display_name)
    .bind(&t.initial_domain)
    .bind(&t.preferred_language)
    .bind(&t.privacy_contact_email)
    .bind(&t.privacy_statement_url)
    .bind(serde_json::to_string(&t.technical_notification_mails).unwrap_or_else(|_| "[]".into()))
    .bind(t.branding.to_string())
    .bind(t.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Writes a tenant's updatable properties.
pub async fn update(conn: &mut AnyConnection, t: &Tenant) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE tenants SET display_name = $2, preferred_language = $3, privacy_contact_email = $4, \
         privacy_statement_url = $5, technical_notification_mails = $6, branding = $7 WHERE id = $1",
    )
    .bind(t.id.to_string())
    .bind(&t.display_name)
    .bind(&t.preferred_language)
    .bind(&t.privacy_contact_email)
    .bind(&t.privacy_statement_url)
    .bind(serde_json::to_string(&t.technical_notification_mails).unwrap_or_else(|_| "[]".into()))
    .bind(t.branding.to_string())
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Reads a tenant.
pub async fn get(conn: &mut AnyConnection, id: TenantId) -> Result<Option<Tenant>, StoreError> {
    let q = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
    let row = crate::db::dynamic(q).bind(id.to_string()).fetch_optional(conn).await?;
    Ok(row.as_ref().map(tenant_from_row).transpose()?)
}

/// All tenants, oldest first.
pub async fn list(store: &Store) -> Result<Vec<Tenant>, StoreError> {
    let q = format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY created_at, id");
    let rows = crate::db::dynamic(q).fetch_all(store.pool()).await?;
    Ok(rows.iter().map(tenant_from_row).collect::<Result<_, _>>()?)
}

/// How many tenants exist.
pub async fn count(store: &Store) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM tenants").fetch_one(store.pool()).await?)
}

/// Resolves `{tenant}` in a URL: a tenant id, or any verified domain.
pub async fn resolve(store: &Store, key: &str) -> Result<Option<TenantId>, StoreError> {
    if let Some(id) = TenantId::parse(key) {
        let found: Option<String> = sqlx::query_scalar("SELECT id FROM tenants WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(store.pool())
            .await?;
        return Ok(found.and(Some(id)));
    }
    let found: Option<String> = sqlx::query_scalar("SELECT tenant_id FROM domains WHERE name = $1 AND is_verified = 1")
        .bind(key.to_ascii_lowercase())
        .fetch_optional(store.pool())
        .await?;
    Ok(found.and_then(|s| TenantId::parse(&s)))
}

/// Adds a domain (its name is stored lowercased). A verified name is unique across the deployment.
pub async fn insert_domain(conn: &mut AnyConnection, d: &Domain) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO domains (tenant_id, name, is_initial, is_default, is_verified, verification_code, created_at, verified_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(d.tenant_id.to_string())
    .bind(d.name.to_ascii_lowercase())
    .bind(i64::from(d.is_initial))
    .bind(i64::from(d.is_default))
    .bind(i64::from(d.is_verified))
    .bind(&d.verification_code)
    .bind(d.created_at)
    .bind(d.verified_at)
    .execute(conn)
    .await
    .map_err(|e| StoreError::from(e).conflict_as("A domain with this name already exists."))?;
    Ok(())
}

/// A tenant's domains.
pub async fn list_domains(conn: &mut AnyConnection, tenant: TenantId) -> Result<Vec<Domain>, StoreError> {
    let rows = sqlx::query("SELECT * FROM domains WHERE tenant_id = $1 ORDER BY is_initial DESC, name")
        .bind(tenant.to_string())
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(domain_from_row).collect::<Result<_, _>>()?)
}

/// One domain of a tenant.
pub async fn get_domain(conn: &mut AnyConnection, tenant: TenantId, name: &str) -> Result<Option<Domain>, StoreError> {
    let row = sqlx::query("SELECT * FROM domains WHERE tenant_id = $1 AND name = $2")
        .bind(tenant.to_string())
        .bind(name.to_ascii_lowercase())
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(domain_from_row).transpose()?)
}

/// Marks a domain verified. Fails with a conflict when another tenant verified the name first,
/// and with [`StoreError::NotFound`] when the tenant has no such domain.
pub async fn verify_domain(conn: &mut AnyConnection, tenant: TenantId, name: &str, at: i64) -> Result<(), StoreError> {
    let done = sqlx::query("UPDATE domains SET is_verified = 1, verified_at = $3 WHERE tenant_id = $1 AND name = $2")
        .bind(tenant.to_string())
        .bind(name.to_ascii_lowercase())
        .bind(at)
        .execute(conn)
        .await
        .map_err(|e| StoreError::from(e).conflict_as("The domain is already verified in another tenant."))?;
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Makes `name` the default domain (and no other). Fails with [`StoreError::NotFound`], changing
/// nothing, when the tenant has no such domain.
pub async fn set_default_domain(conn: &mut AnyConnection, tenant: TenantId, name: &str) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE domains SET is_default = CASE WHEN name = $2 THEN 1 ELSE 0 END WHERE tenant_id = $1 \
         AND EXISTS (SELECT 1 FROM domains d WHERE d.tenant_id = $1 AND d.name = $2)",
    )
    .bind(tenant.to_string())
    .bind(name.to_ascii_lowercase())
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// Removes a domain; returns whether it existed.
pub async fn delete_domain(conn: &mut AnyConnection, tenant: TenantId, name: &str) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM domains WHERE tenant_id = $1 AND name = $2")
        .bind(tenant.to_string())
        .bind(name.to_ascii_lowercase())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// How many objects use a domain in their user principal name (a domain in use cannot be removed).
pub async fn domain_usage(conn: &mut AnyConnection, tenant: TenantId, name: &str) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND upn_ci LIKE $2 ESCAPE '\\'")
        .bind(tenant.to_string())
        .bind(format!("%@{}", crate::db::ci(name).replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")))
        .fetch_one(conn)
        .await?)
}

/// A tenant's sign-in policy document (`{}` when never set).
pub async fn sign_in_policy(conn: &mut AnyConnection, tenant: TenantId) -> Result<serde_json::Value, StoreError> {
    let s: Option<String> = sqlx::query_scalar("SELECT sign_in_policy FROM tenants WHERE id = $1")
        .bind(tenant.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(s.and_then(|s| serde_json::from_str(&s).ok()).unwrap_or_else(|| serde_json::json!({})))
}

/// Replaces a tenant's sign-in policy document.
pub async fn set_sign_in_policy(
    conn: &mut AnyConnection,
    tenant: TenantId,
    policy: &serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE tenants SET sign_in_policy = $2 WHERE id = $1")
        .bind(tenant.to_string())
        .bind(policy.to_string())
        .execute(conn)
        .await?;
    Ok(())
}
