//! Interactive sign-in state: login flows, browser sessions, and grants with their
//! authorization codes and rotating refresh tokens.
//!
//! Everything a browser or client holds (flow binding, session cookie, code, refresh token) is
//! stored as a digest; the caller hashes before it asks. Consuming a code or refresh token is one
//! conditional UPDATE, so two servers racing on one token cannot both win.

use portico_core::ids::{ObjectId, TenantId};
use serde_json::Value as Json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{StoreError, flag, opt_str};

pub(crate) fn tenant_of(r: &AnyRow) -> Result<TenantId, sqlx::Error> {
    let t: String = r.try_get("tenant_id")?;
    TenantId::parse(&t).ok_or_else(|| sqlx::Error::Decode("bad tenant id".into()))
}

pub(crate) fn opt_oid(r: &AnyRow, col: &str) -> Result<Option<ObjectId>, sqlx::Error> {
    match opt_str(r, col)? {
        None => Ok(None),
        Some(s) => ObjectId::parse(&s).map(Some).ok_or_else(|| sqlx::Error::Decode(format!("bad {col}").into())),
    }
}

pub(crate) fn oid(r: &AnyRow, col: &str) -> Result<ObjectId, sqlx::Error> {
    opt_oid(r, col)?.ok_or_else(|| sqlx::Error::Decode(format!("missing {col}").into()))
}

pub(crate) fn json_list(r: &AnyRow, col: &str) -> Result<Vec<String>, sqlx::Error> {
    let s: String = r.try_get(col)?;
    serde_json::from_str(&s).map_err(|e| sqlx::Error::Decode(e.into()))
}

/// One browser's way through `/authorize`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginFlow {
    /// The flow id (in the page URLs; useless without the browser cookie it is bound to).
    pub id: String,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Digest of the browser-binding cookie.
    pub browser_digest: String,
    /// The token every form of the flow must echo.
    pub csrf: String,
    /// The validated authorization request.
    pub request: Json,
    /// The user, once identified.
    pub user_id: Option<ObjectId>,
    /// What the person typed to identify themselves.
    pub login_name: Option<String>,
    /// identify, password, mfa, enroll, change_password, consent, kmsi.
    pub stage: String,
    /// Authentication methods proved so far (`pwd`, `otp`, `mfa`).
    pub amr: Vec<String>,
    /// When the first factor was proved (ms).
    pub auth_time: Option<i64>,
    /// The browser session the flow continues, if any.
    pub session_id: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Expires (ms).
    pub expires_at: i64,
}

fn flow_from_row(r: &AnyRow) -> Result<LoginFlow, sqlx::Error> {
    let req: String = r.try_get("request")?;
    Ok(LoginFlow {
        id: r.try_get("id")?,
        tenant_id: tenant_of(r)?,
        browser_digest: r.try_get("browser_digest")?,
        csrf: r.try_get("csrf")?,
        request: serde_json::from_str(&req).map_err(|e| sqlx::Error::Decode(e.into()))?,
        user_id: opt_oid(r, "user_id")?,
        login_name: opt_str(r, "login_name")?,
        stage: r.try_get("stage")?,
        amr: json_list(r, "amr")?,
        auth_time: r.try_get("auth_time")?,
        session_id: opt_str(r, "session_id")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
    })
}

/// Stores a new flow.
pub async fn insert_flow(conn: &mut AnyConnection, f: &LoginFlow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO login_flows (id, tenant_id, browser_digest, csrf, request, user_id, login_name, stage, amr, auth_time, \
         session_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&f.id)
    .bind(f.tenant_id.to_string())
    .bind(&f.browser_digest)
    .bind(&f.csrf)
    .bind(f.request.to_string())
    .bind(f.user_id.map(|u| u.to_string()))
    .bind(f.login_name.clone())
    .bind(&f.stage)
    .bind(serde_json::to_string(&f.amr).unwrap_or_else(|_| "[]".into()))
    .bind(f.auth_time)
    .bind(f.session_id.clone())
    .bind(f.created_at)
    .bind(f.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Saves the flow's progress.
pub async fn update_flow(conn: &mut AnyConnection, f: &LoginFlow) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE login_flows SET user_id = $3, login_name = $4, stage = $5, amr = $6, auth_time = $7, session_id = $8, \
         request = $9 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(f.tenant_id.to_string())
    .bind(&f.id)
    .bind(f.user_id.map(|u| u.to_string()))
    .bind(f.login_name.clone())
    .bind(&f.stage)
    .bind(serde_json::to_string(&f.amr).unwrap_or_else(|_| "[]".into()))
    .bind(f.auth_time)
    .bind(f.session_id.clone())
    .bind(f.request.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

/// A live flow of the tenant.
pub async fn get_flow(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: &str,
    now: i64,
) -> Result<Option<LoginFlow>, StoreError> {
    let row = sqlx::query("SELECT * FROM login_flows WHERE tenant_id = $1 AND id = $2 AND expires_at > $3")
        .bind(tenant.to_string())
        .bind(id)
        .bind(now)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(flow_from_row).transpose()?)
}

/// Ends a flow (it produced its answer, or was abandoned).
pub async fn delete_flow(conn: &mut AnyConnection, tenant: TenantId, id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM login_flows WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A browser session: the person proved who they are to this tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Public id (the `sid` claim).
    pub id: String,
    /// Digest of the cookie value.
    pub token_digest: String,
    /// Tenant.
    pub tenant_id: TenantId,
    /// User.
    pub user_id: ObjectId,
    /// The token the session's own forms (sign-out, consent) echo.
    pub csrf: String,
    /// When the user last proved a first factor (ms).
    pub auth_time: i64,
    /// Methods proved.
    pub amr: Vec<String>,
    /// "Stay signed in?" answered yes: the cookie outlives the browser.
    pub persistent: bool,
    /// Where it started.
    pub ip_address: Option<String>,
    /// Browser.
    pub user_agent: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Last used (ms).
    pub last_seen_at: i64,
    /// Expires (ms).
    pub expires_at: i64,
    /// Revoked (ms).
    pub revoked_at: Option<i64>,
}

fn session_from_row(r: &AnyRow) -> Result<Session, sqlx::Error> {
    Ok(Session {
        id: r.try_get("id")?,
        token_digest: r.try_get("token_digest")?,
        tenant_id: tenant_of(r)?,
        user_id: oid(r, "user_id")?,
        csrf: r.try_get("csrf")?,
        auth_time: r.try_get("auth_time")?,
        amr: json_list(r, "amr")?,
        persistent: flag(r, "persistent")?,
        ip_address: opt_str(r, "ip_address")?,
        user_agent: opt_str(r, "user_agent")?,
        created_at: r.try_get("created_at")?,
        last_seen_at: r.try_get("last_seen_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

/// Stores a new session.
pub async fn insert_session(conn: &mut AnyConnection, s: &Session) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sessions (id, token_digest, tenant_id, user_id, csrf, auth_time, amr, persistent, ip_address, \
         user_agent, created_at, last_seen_at, expires_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&s.id)
    .bind(&s.token_digest)
    .bind(s.tenant_id.to_string())
    .bind(s.user_id.to_string())
    .bind(&s.csrf)
    .bind(s.auth_time)
    .bind(serde_json::to_string(&s.amr).unwrap_or_else(|_| "[]".into()))
    .bind(i64::from(s.persistent))
    .bind(s.ip_address.clone())
    .bind(s.user_agent.clone())
    .bind(s.created_at)
    .bind(s.last_seen_at)
    .bind(s.expires_at)
    .bind(s.revoked_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The live session of the tenant whose cookie digests to `digest`.
pub async fn session_by_digest(
    conn: &mut AnyConnection,
    tenant: TenantId,
    digest: &str,
    now: i64,
) -> Result<Option<Session>, StoreError> {
    let row = sqlx::query(
        "SELECT * FROM sessions WHERE tenant_id = $1 AND token_digest = $2 AND revoked_at IS NULL AND expires_at > $3",
    )
    .bind(tenant.to_string())
    .bind(digest)
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(session_from_row).transpose()?)
}

/// A session by its public id (live or not).
pub async fn get_session(conn: &mut AnyConnection, tenant: TenantId, id: &str) -> Result<Option<Session>, StoreError> {
    let row = sqlx::query("SELECT * FROM sessions WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(session_from_row).transpose()?)
}

/// Records a step up (more methods proved) or a new first factor on an existing session.
pub async fn refresh_session(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: &str,
    auth_time: i64,
    amr: &[String],
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET auth_time = $3, amr = $4, last_seen_at = $5 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id)
        .bind(auth_time)
        .bind(serde_json::to_string(amr).unwrap_or_else(|_| "[]".into()))
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// Marks a session as used now (sliding expiry for persistent sessions is the caller's rule).
pub async fn touch_session(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE sessions SET last_seen_at = $3, expires_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id)
        .bind(now)
        .bind(expires_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends one session and every grant made in it. Returns whether the session was live.
pub async fn revoke_session(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: &str,
    now: i64,
    reason: &str,
) -> Result<bool, StoreError> {
    let done =
        sqlx::query("UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL")
            .bind(tenant.to_string())
            .bind(id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    sqlx::query(
        "UPDATE grants SET revoked_at = $3, revoked_reason = $4 WHERE tenant_id = $1 AND session_id = $2 AND revoked_at IS NULL",
    )
    .bind(tenant.to_string())
    .bind(id)
    .bind(now)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Ends every session and grant of a user (revokeSignInSessions, password change, disable).
/// Returns how many sessions and grants were live.
pub async fn revoke_user(
    conn: &mut AnyConnection,
    tenant: TenantId,
    user: ObjectId,
    now: i64,
    reason: &str,
) -> Result<(u64, u64), StoreError> {
    let s =
        sqlx::query("UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL")
            .bind(tenant.to_string())
            .bind(user.to_string())
            .bind(now)
            .execute(&mut *conn)
            .await?;
    let g = sqlx::query(
        "UPDATE grants SET revoked_at = $3, revoked_reason = $4 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .bind(now)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE users SET sign_in_sessions_valid_from = $3 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(user.to_string())
        .bind(now)
        .execute(conn)
        .await?;
    Ok((s.rows_affected(), g.rows_affected()))
}

/// What a user's sign-in to a client produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// Id (the family of the code and its refresh tokens).
    pub id: ObjectId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// The client's appId.
    pub client_id: String,
    /// User.
    pub user_id: ObjectId,
    /// Browser session it came from.
    pub session_id: Option<String>,
    /// Granted scopes (space-separated, as requested and consented).
    pub scopes: String,
    /// The access token audience (Graph's URI or an API's appId).
    pub resource: String,
    /// Methods proved at sign-in.
    pub amr: Vec<String>,
    /// When the user authenticated (ms).
    pub auth_time: i64,
    /// Issued to a public client (SPA or native): no client authentication at the token endpoint.
    pub public_client: bool,
    /// Created (ms).
    pub created_at: i64,
    /// Absolute end of the family: no refresh token outlives it (ms).
    pub expires_at: i64,
    /// Revoked (ms).
    pub revoked_at: Option<i64>,
    /// Why.
    pub revoked_reason: Option<String>,
}

fn grant_from_row(r: &AnyRow) -> Result<Grant, sqlx::Error> {
    Ok(Grant {
        id: oid(r, "id")?,
        tenant_id: tenant_of(r)?,
        client_id: r.try_get("client_id")?,
        user_id: oid(r, "user_id")?,
        session_id: opt_str(r, "session_id")?,
        scopes: r.try_get("scopes")?,
        resource: r.try_get("resource")?,
        amr: json_list(r, "amr")?,
        auth_time: r.try_get("auth_time")?,
        public_client: flag(r, "public_client")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        revoked_at: r.try_get("revoked_at")?,
        revoked_reason: opt_str(r, "revoked_reason")?,
    })
}

/// Stores a grant.
pub async fn insert_grant(conn: &mut AnyConnection, g: &Grant) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO grants (id, tenant_id, client_id, user_id, session_id, scopes, resource, amr, auth_time, public_client, \
         created_at, expires_at, revoked_at, revoked_reason) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(g.id.to_string())
    .bind(g.tenant_id.to_string())
    .bind(&g.client_id)
    .bind(g.user_id.to_string())
    .bind(g.session_id.clone())
    .bind(&g.scopes)
    .bind(&g.resource)
    .bind(serde_json::to_string(&g.amr).unwrap_or_else(|_| "[]".into()))
    .bind(g.auth_time)
    .bind(i64::from(g.public_client))
    .bind(g.created_at)
    .bind(g.expires_at)
    .bind(g.revoked_at)
    .bind(g.revoked_reason.clone())
    .execute(conn)
    .await?;
    Ok(())
}

/// A grant of the tenant.
pub async fn get_grant(conn: &mut AnyConnection, tenant: TenantId, id: ObjectId) -> Result<Option<Grant>, StoreError> {
    let row = sqlx::query("SELECT * FROM grants WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(grant_from_row).transpose()?)
}

/// Revokes a grant (and so its code and every refresh token of its family).
pub async fn revoke_grant(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: ObjectId,
    now: i64,
    reason: &str,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE grants SET revoked_at = $3, revoked_reason = $4 WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL",
    )
    .bind(tenant.to_string())
    .bind(id.to_string())
    .bind(now)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Whether the grant is live (not revoked, not past its absolute end); read by resource servers
/// that honour revocation before access tokens expire.
pub async fn grant_is_live(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: ObjectId,
    now: i64,
) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM grants WHERE tenant_id = $1 AND id = $2 AND revoked_at IS NULL AND expires_at > $3",
    )
    .bind(tenant.to_string())
    .bind(id.to_string())
    .bind(now)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// An authorization code (RFC 6749 §4.1.2), stored by digest.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizationCode {
    /// SHA-256 digest of the code.
    pub digest: String,
    /// The grant it starts.
    pub grant_id: ObjectId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// The redirect URI of the request (RFC 6749 §4.1.3: must be repeated exactly).
    pub redirect_uri: String,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// OIDC nonce, for the ID token.
    pub nonce: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Expires (ms).
    pub expires_at: i64,
    /// Redeemed (ms).
    pub used_at: Option<i64>,
}

fn code_from_row(r: &AnyRow) -> Result<AuthorizationCode, sqlx::Error> {
    Ok(AuthorizationCode {
        digest: r.try_get("digest")?,
        grant_id: oid(r, "grant_id")?,
        tenant_id: tenant_of(r)?,
        redirect_uri: r.try_get("redirect_uri")?,
        code_challenge: r.try_get("code_challenge")?,
        nonce: opt_str(r, "nonce")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
    })
}

/// Stores a code.
pub async fn insert_code(conn: &mut AnyConnection, c: &AuthorizationCode) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO authorization_codes (digest, grant_id, tenant_id, redirect_uri, code_challenge, nonce, created_at, \
         expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&c.digest)
    .bind(c.grant_id.to_string())
    .bind(c.tenant_id.to_string())
    .bind(&c.redirect_uri)
    .bind(&c.code_challenge)
    .bind(c.nonce.clone())
    .bind(c.created_at)
    .bind(c.expires_at)
    .bind(c.used_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// What happened when a code or refresh token was presented.
#[derive(Debug, Clone, PartialEq)]
pub enum Redeemed<T> {
    /// First use: it is now spent.
    Fresh(T),
    /// It had been used before (a replay): the caller revokes the grant.
    Replayed(T),
    /// No such token in this tenant.
    Unknown,
}

/// Looks a code up and spends it in one step.
pub async fn redeem_code(
    conn: &mut AnyConnection,
    tenant: TenantId,
    digest: &str,
    now: i64,
) -> Result<Redeemed<AuthorizationCode>, StoreError> {
    let row = sqlx::query("SELECT * FROM authorization_codes WHERE tenant_id = $1 AND digest = $2")
        .bind(tenant.to_string())
        .bind(digest)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(code) = row.as_ref().map(code_from_row).transpose()? else { return Ok(Redeemed::Unknown) };
    let spent = sqlx::query(
        "UPDATE authorization_codes SET used_at = $3 WHERE tenant_id = $1 AND digest = $2 AND used_at IS NULL",
    )
    .bind(tenant.to_string())
    .bind(digest)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(if spent.rows_affected() == 1 { Redeemed::Fresh(code) } else { Redeemed::Replayed(code) })
}

/// A refresh token, stored by digest.
#[derive(Debug, Clone, PartialEq)]
pub struct RefreshToken {
    /// SHA-256 digest.
    pub digest: String,
    /// Its family.
    pub grant_id: ObjectId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// Created (ms).
    pub created_at: i64,
    /// Expires (ms): the inactivity limit, never past the grant's absolute end.
    pub expires_at: i64,
    /// Exchanged (ms).
    pub used_at: Option<i64>,
}

/// Stores a refresh token.
pub async fn insert_refresh(conn: &mut AnyConnection, t: &RefreshToken) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO refresh_tokens (digest, grant_id, tenant_id, created_at, expires_at, used_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&t.digest)
    .bind(t.grant_id.to_string())
    .bind(t.tenant_id.to_string())
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(t.used_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Looks a refresh token up and spends it in one step (rotation: each is used once).
pub async fn redeem_refresh(
    conn: &mut AnyConnection,
    tenant: TenantId,
    digest: &str,
    now: i64,
) -> Result<Redeemed<RefreshToken>, StoreError> {
    let row = sqlx::query("SELECT * FROM refresh_tokens WHERE tenant_id = $1 AND digest = $2")
        .bind(tenant.to_string())
        .bind(digest)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(r) = row else { return Ok(Redeemed::Unknown) };
    let token = RefreshToken {
        digest: r.try_get("digest")?,
        grant_id: oid(&r, "grant_id")?,
        tenant_id: tenant_of(&r)?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
        used_at: r.try_get("used_at")?,
    };
    let spent =
        sqlx::query("UPDATE refresh_tokens SET used_at = $3 WHERE tenant_id = $1 AND digest = $2 AND used_at IS NULL")
            .bind(tenant.to_string())
            .bind(digest)
            .bind(now)
            .execute(conn)
            .await?;
    Ok(if spent.rows_affected() == 1 { Redeemed::Fresh(token) } else { Redeemed::Replayed(token) })
}

/// Deletes expired flows, sessions, grants (with their codes and tokens) and one-time codes.
pub async fn purge_expired(conn: &mut AnyConnection, now: i64) -> Result<u64, StoreError> {
    let mut n = 0;
    for sql in [
        "DELETE FROM login_flows WHERE expires_at <= $1",
        "DELETE FROM sessions WHERE expires_at <= $1",
        "DELETE FROM grants WHERE expires_at <= $1",
        "DELETE FROM one_time_codes WHERE expires_at <= $1",
        "DELETE FROM throttle WHERE window_start <= $1 - 86400000",
    ] {
        n += sqlx::query(sql).bind(now).execute(&mut *conn).await?.rows_affected();
    }
    Ok(n)
}
