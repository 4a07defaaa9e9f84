//! Authentication methods beyond the password: TOTP authenticator apps (seed sealed by the
//! caller), recovery codes (digests), and one-time codes sent by mail (digests, bounded attempts).

use portico_core::ids::{ObjectId, TenantId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{StoreError, opt_str};

/// A registered method (Graph: softwareOathAuthenticationMethod and friends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthMethod {
    /// Id.
    pub id: ObjectId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// User.
    pub user_id: ObjectId,
    /// `softwareOath`.
    pub kind: String,
    /// A name the user recognises.
    pub display_name: Option<String>,
    /// The sealed seed.
    pub sealed_secret: Option<String>,
    /// The last accepted TOTP time step (one use per step).
    pub last_step: Option<i64>,
    /// Created (ms).
    pub created_at: i64,
}

fn method_from_row(r: &AnyRow) -> Result<AuthMethod, sqlx::Error> {
    let bad = |c: &str| sqlx::Error::Decode(format!("bad {c}").into());
    let id: String = r.try_get("id")?;
    let t: String = r.try_get("tenant_id")?;
    let u: String = r.try_get("user_id")?;
    Ok(AuthMethod {
        id: ObjectId::parse(&id).ok_or_else(|| bad("id"))?,
        tenant_id: TenantId::parse(&t).ok_or_else(|| bad("tenant_id"))?,
        user_id: ObjectId::parse(&u).ok_or_else(|| bad("user_id"))?,
        kind: r.try_get("kind")?,
        display_name: opt_str(r, "display_name")?,
        sealed_secret: opt_str(r, "sealed_secret")?,
        last_step: r.try_get("last_step")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Registers a method.
pub async fn insert_method(conn: &mut AnyConnection, m: &AuthMethod) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO auth_methods (id, tenant_id, user_id, kind, display_name, sealed_secret, last_step, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(m.id.to_string())
    .bind(m.tenant_id.to_string())
    .bind(m.user_id.to_string())
    .bind(&m.kind)
    .bind(m.display_name.clone())
    .bind(m.sealed_secret.clone())
    .bind(m.last_step)
    .bind(m.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A user's methods.
pub async fn methods(
    conn: &mut AnyConnection,
    tenant: TenantId,
    user: ObjectId,
) -> Result<Vec<AuthMethod>, StoreError> {
    let rows = sqlx::query("SELECT * FROM auth_methods WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at, id")
        .bind(tenant.to_string())
        .bind(user.to_string())
        .fetch_all(conn)
        .await?;
    Ok(rows.iter().map(method_from_row).collect::<Result<_, _>>()?)
}

/// Records the TOTP step just accepted, only if it is later than the stored one: of two requests
/// racing with the same code, one wins.
pub async fn advance_step(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: ObjectId,
    step: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE auth_methods SET last_step = $3 WHERE tenant_id = $1 AND id = $2 AND (last_step IS NULL OR last_step < $3)",
    )
    .bind(tenant.to_string())
    .bind(id.to_string())
    .bind(step)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a method of a user.
pub async fn delete_method(
    conn: &mut AnyConnection,
    tenant: TenantId,
    user: ObjectId,
    id: ObjectId,
) -> Result<bool, StoreError> {
    let done = sqlx::query("DELETE FROM auth_methods WHERE tenant_id = $1 AND user_id = $2 AND id = $3")
        .bind(tenant.to_string())
        .bind(user.to_string())
        .bind(id.to_string())
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Replaces a user's recovery codes with new digests.
pub async fn replace_recovery_codes(
    conn: &mut AnyConnection,
    tenant: TenantId,
    user: ObjectId,
    digests: &[String],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2")
        .bind(tenant.to_string())
        .bind(user.to_string())
        .execute(&mut *conn)
        .await?;
    for d in digests {
        sqlx::query("INSERT INTO recovery_codes (tenant_id, user_id, digest, used_at) VALUES ($1, $2, $3, NULL)")
            .bind(tenant.to_string())
            .bind(user.to_string())
            .bind(d)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Spends a recovery code; false if unknown or used.
pub async fn use_recovery_code(
    conn: &mut AnyConnection,
    tenant: TenantId,
    user: ObjectId,
    digest: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE recovery_codes SET used_at = $4 WHERE tenant_id = $1 AND user_id = $2 AND digest = $3 AND used_at IS NULL",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .bind(digest)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// How many unused recovery codes a user has.
pub async fn recovery_codes_left(
    conn: &mut AnyConnection,
    tenant: TenantId,
    user: ObjectId,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE tenant_id = $1 AND user_id = $2 AND used_at IS NULL",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .fetch_one(conn)
    .await?)
}

/// A short-lived secret sent by mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeCode {
    /// Id.
    pub id: ObjectId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// User.
    pub user_id: ObjectId,
    /// `email_otp`, `password_reset`.
    pub purpose: String,
    /// SHA-256 digest of the code or link token.
    pub digest: String,
    /// The flow it belongs to (a code proves nothing outside the request that asked for it).
    pub bound_to: Option<String>,
    /// Wrong guesses so far.
    pub attempts: i64,
    /// Created (ms).
    pub created_at: i64,
    /// Expires (ms).
    pub expires_at: i64,
    /// Used (ms).
    pub used_at: Option<i64>,
}

fn code_from_row(r: &AnyRow) -> Result<OneTimeCode, sqlx::Error> {
    let bad = |c: &str| sqlx::Error::Decode(format!("bad {c}").into());
    let id: String = r.try_get("id")?;
    let t: String = r.try_get("tenant_id")?;
    let u: String = r.try_get("user_id")?;
    Ok(OneTimeCode {
        id: ObjectId::parse(&id).ok_or_else(|| bad("id"))?,
        tenant_id: TenantId::parse(&t).ok_or_else(|| bad("tenant_id"))?,
        user_id: ObjectId::parse(&u).ok_or_else(|| bad("user_id"))?,
        purpose: r.try_get("purpose")?,
        digest: r.try_get("digest")?,
        bound_to: opt_str(r, "bound_to")?,
        attempts: r.try_get("attempts")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
    })
}

/// Stores a code; earlier unused codes of the same purpose for the same flow (or user, for links)
/// stop working, so only the latest mail counts.
pub async fn insert_code(conn: &mut AnyConnection, c: &OneTimeCode) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE one_time_codes SET used_at = $4 WHERE tenant_id = $1 AND user_id = $2 AND purpose = $3 AND used_at IS NULL",
    )
    .bind(c.tenant_id.to_string())
    .bind(c.user_id.to_string())
    .bind(&c.purpose)
    .bind(c.created_at)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO one_time_codes (id, tenant_id, user_id, purpose, digest, bound_to, attempts, created_at, expires_at, used_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(c.id.to_string())
    .bind(c.tenant_id.to_string())
    .bind(c.user_id.to_string())
    .bind(&c.purpose)
    .bind(&c.digest)
    .bind(c.bound_to.clone())
    .bind(c.attempts)
    .bind(c.created_at)
    .bind(c.expires_at)
    .bind(c.used_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The live code of a flow for a purpose.
pub async fn code_for_flow(
    conn: &mut AnyConnection,
    tenant: TenantId,
    flow: &str,
    purpose: &str,
    now: i64,
) -> Result<Option<OneTimeCode>, StoreError> {
    let row = sqlx::query(
        "SELECT * FROM one_time_codes WHERE tenant_id = $1 AND bound_to = $2 AND purpose = $3 AND used_at IS NULL \
         AND expires_at > $4 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(tenant.to_string())
    .bind(flow)
    .bind(purpose)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(code_from_row).transpose()?)
}

/// The live code of the tenant with this digest and purpose.
pub async fn code_by_digest(
    conn: &mut AnyConnection,
    tenant: TenantId,
    digest: &str,
    purpose: &str,
    now: i64,
) -> Result<Option<OneTimeCode>, StoreError> {
    let row = sqlx::query(
        "SELECT * FROM one_time_codes WHERE tenant_id = $1 AND digest = $2 AND purpose = $3 AND used_at IS NULL \
         AND expires_at > $4",
    )
    .bind(tenant.to_string())
    .bind(digest)
    .bind(purpose)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(code_from_row).transpose()?)
}

/// Counts a wrong guess; returns the attempts so far.
pub async fn count_attempt(conn: &mut AnyConnection, id: ObjectId) -> Result<i64, StoreError> {
    sqlx::query("UPDATE one_time_codes SET attempts = attempts + 1 WHERE id = $1")
        .bind(id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query_scalar("SELECT attempts FROM one_time_codes WHERE id = $1")
        .bind(id.to_string())
        .fetch_one(conn)
        .await?)
}

/// Spends a code; false if another request spent it first.
pub async fn spend_code(conn: &mut AnyConnection, id: ObjectId, now: i64) -> Result<bool, StoreError> {
    let done = sqlx::query("UPDATE one_time_codes SET used_at = $2 WHERE id = $1 AND used_at IS NULL")
        .bind(id.to_string())
        .bind(now)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}
