//! Federation with external identity providers: a tenant's providers (OpenID Connect and SAML
//! 2.0 direct federation), the email domains that route to them (home-realm discovery), and the
//! replay cache of SAML assertions that every server of a deployment shares.
//!
//! A provider's client secret is stored sealed (the caller seals and opens it); its other
//! settings are one JSON document whose shape belongs to the HTTP layer.

use portico_core::ids::TenantId;
use serde_json::Value as Json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{StoreError, ci, json_col};
use crate::signin::tenant_of;

/// Kinds of provider.
pub mod kind {
    /// A generic OpenID Connect provider (Okta, Keycloak, Auth0, another Portico, ...).
    pub const OIDC: &str = "oidc";
    /// Google (OpenID Connect preset).
    pub const GOOGLE: &str = "google";
    /// Microsoft Entra ID (OpenID Connect preset, multi-tenant issuer).
    pub const MICROSOFT: &str = "microsoft";
    /// SAML 2.0 direct federation by domain.
    pub const SAML: &str = "saml";
}

/// One identity provider of a tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityProvider {
    /// Id (`Google-OAUTH`, `OIDC-<guid>`, or a GUID for SAML).
    pub id: String,
    /// Tenant.
    pub tenant_id: TenantId,
    /// One of [`kind`].
    pub kind: String,
    /// Display name.
    pub display_name: String,
    /// The issuer identities from it carry (OIDC `iss`, SAML `issuerUri`); unique per tenant.
    pub issuer: String,
    /// The provider's settings.
    pub config: Json,
    /// The client secret, sealed with the master key.
    pub secret: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Last changed (ms).
    pub updated_at: i64,
}

macro_rules! columns {
    () => {
        "id, tenant_id, kind, display_name, issuer, config, secret, created_at, updated_at"
    };
}

fn from_row(r: &AnyRow) -> Result<IdentityProvider, StoreError> {
    Ok(IdentityProvider {
        id: r.try_get("id")?,
        tenant_id: tenant_of(r)?,
        kind: r.try_get("kind")?,
        display_name: r.try_get("display_name")?,
        issuer: r.try_get("issuer")?,
        config: json_col(r, "config")?,
        secret: r.try_get("secret")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// Adds a provider; [`StoreError::Conflict`] when the id or the issuer is taken in the tenant.
pub async fn insert(conn: &mut AnyConnection, p: &IdentityProvider) -> Result<(), StoreError> {
    sqlx::query(concat!(
        "INSERT INTO identity_providers (",
        columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(&p.id)
    .bind(p.tenant_id.to_string())
    .bind(&p.kind)
    .bind(&p.display_name)
    .bind(&p.issuer)
    .bind(p.config.to_string())
    .bind(&p.secret)
    .bind(p.created_at)
    .bind(p.updated_at)
    .execute(conn)
    .await
    .map_err(|e| StoreError::from(e).conflict_as("an identity provider with this id or issuer already exists"))?;
    Ok(())
}

/// Rewrites a provider's name, issuer, settings and secret; false when it does not exist.
pub async fn update(conn: &mut AnyConnection, p: &IdentityProvider) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE identity_providers SET display_name = $1, issuer = $2, config = $3, secret = $4, updated_at = $5 \
         WHERE tenant_id = $6 AND id = $7",
    )
    .bind(&p.display_name)
    .bind(&p.issuer)
    .bind(p.config.to_string())
    .bind(&p.secret)
    .bind(p.updated_at)
    .bind(p.tenant_id.to_string())
    .bind(&p.id)
    .execute(conn)
    .await
    .map_err(|e| StoreError::from(e).conflict_as("another identity provider already has this issuer"))?;
    Ok(r.rows_affected() > 0)
}

/// One provider of a tenant (ids compare case-insensitively, as Graph keys do).
pub async fn get(conn: &mut AnyConnection, tenant: TenantId, id: &str) -> Result<Option<IdentityProvider>, StoreError> {
    let r =
        sqlx::query(concat!("SELECT ", columns!(), " FROM identity_providers WHERE tenant_id = $1 AND lower(id) = $2"))
            .bind(tenant.to_string())
            .bind(ci(id))
            .fetch_optional(conn)
            .await?;
    r.as_ref().map(from_row).transpose()
}

/// The provider of a tenant with this issuer.
pub async fn by_issuer(
    conn: &mut AnyConnection,
    tenant: TenantId,
    issuer: &str,
) -> Result<Option<IdentityProvider>, StoreError> {
    let r =
        sqlx::query(concat!("SELECT ", columns!(), " FROM identity_providers WHERE tenant_id = $1 AND issuer = $2"))
            .bind(tenant.to_string())
            .bind(issuer)
            .fetch_optional(conn)
            .await?;
    r.as_ref().map(from_row).transpose()
}

/// A tenant's providers, oldest first (optionally of one kind).
pub async fn list(
    conn: &mut AnyConnection,
    tenant: TenantId,
    of_kind: Option<&str>,
) -> Result<Vec<IdentityProvider>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM identity_providers WHERE tenant_id = $1 AND ($2 = '' OR kind = $2) ORDER BY created_at, id"
    ))
    .bind(tenant.to_string())
    .bind(of_kind.unwrap_or(""))
    .fetch_all(conn)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Every provider of every tenant of one kind (for the metadata refresh).
pub async fn all_of_kind(conn: &mut AnyConnection, of_kind: &str) -> Result<Vec<IdentityProvider>, StoreError> {
    let rows =
        sqlx::query(concat!("SELECT ", columns!(), " FROM identity_providers WHERE kind = $1 ORDER BY tenant_id, id"))
            .bind(of_kind)
            .fetch_all(conn)
            .await?;
    rows.iter().map(from_row).collect()
}

/// Removes a provider and its domains; false when it did not exist.
pub async fn delete(conn: &mut AnyConnection, tenant: TenantId, id: &str) -> Result<bool, StoreError> {
    sqlx::query(
        "DELETE FROM identity_provider_domains WHERE tenant_id = $1 AND provider_id IN \
         (SELECT id FROM identity_providers WHERE tenant_id = $1 AND lower(id) = $2)",
    )
    .bind(tenant.to_string())
    .bind(ci(id))
    .execute(&mut *conn)
    .await?;
    let r = sqlx::query("DELETE FROM identity_providers WHERE tenant_id = $1 AND lower(id) = $2")
        .bind(tenant.to_string())
        .bind(ci(id))
        .execute(conn)
        .await?;
    Ok(r.rows_affected() > 0)
}

// ---------------------------------------------------------------------------------------------
// Domains (home-realm discovery)

/// Routes `domain` to a provider; [`StoreError::Conflict`] when the domain already routes to a
/// provider of the tenant.
pub async fn add_domain(
    conn: &mut AnyConnection,
    tenant: TenantId,
    provider: &str,
    domain: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO identity_provider_domains (tenant_id, domain_ci, provider_id, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(tenant.to_string())
    .bind(ci(domain))
    .bind(provider)
    .bind(now)
    .execute(conn)
    .await
    .map_err(|e| StoreError::from(e).conflict_as("this domain is already federated with an identity provider"))?;
    Ok(())
}

/// Stops routing `domain` to `provider`; false when it did not.
pub async fn remove_domain(
    conn: &mut AnyConnection,
    tenant: TenantId,
    provider: &str,
    domain: &str,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "DELETE FROM identity_provider_domains WHERE tenant_id = $1 AND provider_id = $2 AND domain_ci = $3",
    )
    .bind(tenant.to_string())
    .bind(provider)
    .bind(ci(domain))
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// The domains routed to a provider, sorted.
pub async fn domains(conn: &mut AnyConnection, tenant: TenantId, provider: &str) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT domain_ci FROM identity_provider_domains WHERE tenant_id = $1 AND provider_id = $2 ORDER BY domain_ci",
    )
    .bind(tenant.to_string())
    .bind(provider)
    .fetch_all(conn)
    .await?)
}

/// The provider `domain` routes to in the tenant, if any.
pub async fn provider_for_domain(
    conn: &mut AnyConnection,
    tenant: TenantId,
    domain: &str,
) -> Result<Option<IdentityProvider>, StoreError> {
    let r = sqlx::query(
        "SELECT p.id, p.tenant_id, p.kind, p.display_name, p.issuer, p.config, p.secret, p.created_at, p.updated_at \
         FROM identity_provider_domains d \
         JOIN identity_providers p ON p.tenant_id = d.tenant_id AND p.id = d.provider_id \
         WHERE d.tenant_id = $1 AND d.domain_ci = $2",
    )
    .bind(tenant.to_string())
    .bind(ci(domain))
    .fetch_optional(conn)
    .await?;
    r.as_ref().map(from_row).transpose()
}

// ---------------------------------------------------------------------------------------------
// SAML replay cache

/// Records that the assertion `id` from `issuer` was accepted, until `expires_at`; false when it
/// was already recorded (a replay). One INSERT, so two servers racing on one assertion cannot
/// both accept it.
pub async fn first_use_of_assertion(
    conn: &mut AnyConnection,
    issuer: &str,
    id: &str,
    expires_at: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "INSERT INTO saml_assertions_seen (issuer, assertion_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
    )
    .bind(issuer)
    .bind(id)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() > 0)
}

/// Forgets assertions that can no longer be accepted anyway.
pub async fn purge_seen_assertions(conn: &mut AnyConnection, now: i64) -> Result<u64, StoreError> {
    let r = sqlx::query("DELETE FROM saml_assertions_seen WHERE expires_at <= $1").bind(now).execute(conn).await?;
    Ok(r.rows_affected())
}
