//! Token signing keys per tenant, sealed under the master key.
//!
//! One key per tenant is active (it signs); retired keys stay published until `expires_at`, so
//! tokens they signed keep verifying until those tokens expire.

use portico_core::ids::TenantId;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{Store, StoreError, flag};

/// A stored signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// Key id (the JWK `kid`).
    pub kid: String,
    /// Tenant.
    pub tenant_id: TenantId,
    /// RS256 or ES256.
    pub alg: String,
    /// PKCS#8 sealed with the master key, with the kid as associated data.
    pub sealed_private_key: String,
    /// The public JWK as JSON text.
    pub public_jwk: String,
    /// Created at (ms).
    pub created_at: i64,
    /// Signs new tokens.
    pub active: bool,
    /// When it stopped signing (ms).
    pub retired_at: Option<i64>,
    /// When it stops being published (ms).
    pub expires_at: Option<i64>,
}

fn from_row(r: &AnyRow) -> Result<SigningKey, sqlx::Error> {
    let t: String = r.try_get("tenant_id")?;
    Ok(SigningKey {
        kid: r.try_get("kid")?,
        tenant_id: TenantId::parse(&t).ok_or_else(|| sqlx::Error::Decode("bad tenant".into()))?,
        alg: r.try_get("alg")?,
        sealed_private_key: r.try_get("sealed_private_key")?,
        public_jwk: r.try_get("public_jwk")?,
        created_at: r.try_get("created_at")?,
        active: flag(r, "active")?,
        retired_at: r.try_get("retired_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

/// Stores a new key (already sealed).
pub async fn insert(conn: &mut AnyConnection, k: &SigningKey) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO signing_keys (kid, tenant_id, alg, sealed_private_key, public_jwk, created_at, active, retired_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&k.kid)
    .bind(k.tenant_id.to_string())
    .bind(&k.alg)
    .bind(&k.sealed_private_key)
    .bind(&k.public_jwk)
    .bind(k.created_at)
    .bind(i64::from(k.active))
    .bind(k.retired_at)
    .bind(k.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Retires the tenant's active key(s): they stop signing now and stay published until `until`.
pub async fn retire_active(
    conn: &mut AnyConnection,
    tenant: TenantId,
    now: i64,
    until: i64,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "UPDATE signing_keys SET active = 0, retired_at = $2, expires_at = $3 WHERE tenant_id = $1 AND active = 1",
    )
    .bind(tenant.to_string())
    .bind(now)
    .bind(until)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The key that signs for the tenant now.
pub async fn active(store: &Store, tenant: TenantId) -> Result<Option<SigningKey>, StoreError> {
    let row =
        sqlx::query("SELECT * FROM signing_keys WHERE tenant_id = $1 AND active = 1 ORDER BY created_at DESC LIMIT 1")
            .bind(tenant.to_string())
            .fetch_optional(store.pool())
            .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Keys to publish: the active one and retired ones not yet expired.
pub async fn published(store: &Store, tenant: TenantId, now: i64) -> Result<Vec<SigningKey>, StoreError> {
    let rows = sqlx::query(
        "SELECT * FROM signing_keys WHERE tenant_id = $1 AND (active = 1 OR expires_at > $2) ORDER BY active DESC, created_at DESC",
    )
    .bind(tenant.to_string())
    .bind(now)
    .fetch_all(store.pool())
    .await?;
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}

/// Deletes keys whose publication ended; returns how many.
pub async fn prune(conn: &mut AnyConnection, now: i64) -> Result<u64, StoreError> {
    let done =
        sqlx::query("DELETE FROM signing_keys WHERE active = 0 AND expires_at <= $1").bind(now).execute(conn).await?;
    Ok(done.rows_affected())
}

/// Whether the tenant has an active key, read on `conn` (inside a transaction).
pub async fn has_active(conn: &mut AnyConnection, tenant: TenantId) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys WHERE tenant_id = $1 AND active = 1")
        .bind(tenant.to_string())
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}
