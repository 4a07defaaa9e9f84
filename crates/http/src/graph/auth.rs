//! Bearer tokens for the Graph-shaped API: signature against the issuing tenant's published
//! keys, issuer, audience, lifetime; then the [`Caller`] that every handler authorizes against,
//! with the guest access level of a guest user (what that level lets it see is
//! [`super::guest_scope`]'s).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use portico_core::access::{Action, Caller, GRAPH_APP_ID, GRAPH_RESOURCE, Principal};
use portico_core::b2b::GuestAccess;
use portico_core::clock::to_millis;
use portico_core::ids::{ObjectId, TenantId};
use portico_core::jws;
use serde_json::Value;

use super::error::GraphError;
use crate::app::AppState;

/// Allowed clock skew when checking `exp` and `nbf`.
pub const CLOCK_SKEW_SECS: i64 = 300;

/// An authenticated request.
#[derive(Debug, Clone)]
pub struct Authed(pub Caller);

impl Authed {
    /// Fails with 403 unless the caller may perform `action`.
    pub fn require(&self, action: Action) -> Result<&Caller, GraphError> {
        if self.0.may(action) { Ok(&self.0) } else { Err(GraphError::forbidden()) }
    }

    /// The caller's tenant.
    pub fn tenant(&self) -> TenantId {
        self.0.tenant
    }
}

fn claim_str<'a>(claims: &'a Value, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

fn claim_list(claims: &Value, name: &str) -> Vec<String> {
    match claims.get(name) {
        Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        Some(Value::String(s)) => s.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        _ => vec![],
    }
}

/// Validates a bearer token for the Graph-shaped API and returns the caller.
pub async fn validate(state: &AppState, token: &str) -> Result<Caller, GraphError> {
    let invalid =
        || GraphError::unauthenticated("Access token validation failure. Invalid signature or malformed token.");
    let unverified = jws::decode_unverified(token).map_err(|_| invalid())?;
    let tid = claim_str(&unverified.claims, "tid").and_then(TenantId::parse).ok_or_else(invalid)?;
    let now = state.dir.clock.now();
    let now_ms = to_millis(now);
    let keys =
        state.dir.keys.published(&state.dir.store, tid, now_ms, false).await.map_err(|e| GraphError::internal(&e))?;
    let kid = unverified.header.get("kid").and_then(Value::as_str).unwrap_or_default().to_string();
    let keys = if keys.iter().any(|k| k.kid == kid) {
        keys
    } else {
        // A key rotated on another server: look again before refusing.
        state.dir.keys.published(&state.dir.store, tid, now_ms, true).await.map_err(|e| GraphError::internal(&e))?
    };
    let claims = unverified.verify(&keys).map_err(|_| invalid())?;
    if claim_str(&claims, "iss") != Some(state.dir.settings.issuer(tid).as_str()) {
        return Err(GraphError::unauthenticated("Access token validation failure. Invalid issuer."));
    }
    let aud = claim_str(&claims, "aud").unwrap_or_default();
    if aud != GRAPH_RESOURCE && aud != GRAPH_APP_ID && aud != format!("{GRAPH_RESOURCE}/") {
        return Err(GraphError::unauthenticated("Access token validation failure. Invalid audience."));
    }
    let now_s = now.unix_timestamp();
    let exp = claims.get("exp").and_then(Value::as_i64).ok_or_else(invalid)?;
    if exp + CLOCK_SKEW_SECS < now_s {
        return Err(GraphError::unauthenticated("Lifetime validation failed, the token is expired."));
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_i64)
        && nbf - CLOCK_SKEW_SECS > now_s
    {
        return Err(GraphError::unauthenticated("Lifetime validation failed, the token is not yet valid."));
    }
    let oid = claim_str(&claims, "oid").and_then(ObjectId::parse).ok_or_else(invalid)?;
    let app_id = claim_str(&claims, "azp").or_else(|| claim_str(&claims, "appid")).unwrap_or_default().to_string();
    let principal = if claim_str(&claims, "idtyp") == Some("app") || claims.get("scp").is_none() {
        Principal::Application {
            app_id,
            service_principal_id: oid,
            display_name: claim_str(&claims, "app_displayname").unwrap_or_default().to_string(),
        }
    } else {
        Principal::User {
            user_id: oid,
            user_principal_name: claim_str(&claims, "preferred_username").unwrap_or_default().to_string(),
            app_id,
        }
    };
    let mut guest = None;
    if let Principal::User { user_id, .. } = &principal {
        let mut conn = state.dir.store.pool().acquire().await.map_err(|e| GraphError::internal(&e))?;
        // A user token names its grant: a revoked grant (sign-out, revoked sessions, a replayed
        // code or refresh token) ends its access tokens at once, not at their expiry.
        if let Some(grant) = claim_str(&claims, "xms_grant").and_then(ObjectId::parse) {
            let live = portico_store::signin::grant_is_live(&mut conn, tid, grant, now_ms)
                .await
                .map_err(|e| GraphError::internal(&e))?;
            if !live {
                return Err(GraphError::unauthenticated("The access token has been revoked."));
            }
        }
        // Whether the user is a guest, and the tenant's guest access level, are read on every
        // request rather than taken from the token: a changed policy or userType applies at once.
        guest = guest_level(&mut conn, tid, *user_id).await.map_err(|e| GraphError::internal(&e))?;
    }
    Ok(Caller {
        tenant: tid,
        principal,
        app_permissions: claim_list(&claims, "roles"),
        scopes: claim_list(&claims, "scp"),
        role_template_ids: claim_list(&claims, "wids"),
        guest,
    })
}

/// The guest access level of `user` when it is a guest of `tenant` (`authorizationPolicy`
/// `guestUserRoleId`); `None` for members.
async fn guest_level(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    user: ObjectId,
) -> Result<Option<GuestAccess>, portico_store::StoreError> {
    let user_type = portico_store::users::user_type(conn, tenant, user).await?;
    if !user_type.is_some_and(|t| t.eq_ignore_ascii_case("Guest")) {
        return Ok(None);
    }
    Ok(Some(crate::b2b::policy::guest_access(conn, tenant).await?))
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = GraphError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| GraphError::unauthenticated("Access token is empty."))?;
        // RFC 9110 §11.1: the scheme name is case-insensitive.
        let token = header
            .split_once(' ')
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| GraphError::unauthenticated("Access token is empty."))?;
        validate(state, token).await.map(Authed)
    }
}
