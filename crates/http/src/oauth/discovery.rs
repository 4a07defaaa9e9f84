//! OpenID Provider metadata and the JWKS of a tenant.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portico_core::clock::to_millis;
use portico_core::ids::TenantId;
use portico_store::tenants;
use serde_json::json;

use super::OAuthError;
use crate::app::AppState;

/// Resolves `{tenant}`: an id or a verified domain.
pub async fn resolve(state: &AppState, key: &str) -> Result<TenantId, OAuthError> {
    let not_found = || {
        OAuthError::new(
            "invalid_tenant",
            90002,
            format!(
                "Tenant '{key}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        )
    };
    // No tenant id or domain has control characters; PostgreSQL text cannot even compare a NUL.
    if key.chars().any(char::is_control) {
        return Err(not_found());
    }
    tenants::resolve(&state.dir.store, key).await.map_err(|e| OAuthError::server(&e))?.ok_or_else(not_found)
}

/// GET /{tenant}/v2.0/.well-known/openid-configuration
pub async fn openid_configuration(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Response, OAuthError> {
    let tid = resolve(&state, &tenant).await?;
    let base = &state.dir.settings.public_url;
    let issuer = state.dir.settings.issuer(tid);
    let body = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/{tid}/oauth2/v2.0/token"),
        "userinfo_endpoint": format!("{base}/{tid}/oidc/userinfo"),
        "end_session_endpoint": format!("{base}/{tid}/oauth2/v2.0/logout"),
        "jwks_uri": format!("{base}/{tid}/discovery/v2.0/keys"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic", "none"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "prompt_values_supported": ["login", "none", "consent", "select_account"],
        "scopes_supported": ["openid", "profile", "email", "offline_access", "https://graph.microsoft.com/.default"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "nbf", "auth_time", "nonce", "amr", "sid", "tid", "oid", "name",
            "preferred_username", "email", "groups", "roles", "azp", "appid", "idtyp", "ver"
        ],
        "ui_locales_supported": portico_core::locale::SUPPORTED,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "frontchannel_logout_supported": false,
        "tenant_region_scope": null,
        "cloud_instance_name": state.dir.settings.public_url.trim_start_matches("https://").trim_start_matches("http://"),
    });
    let mut r = Json(body).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=86400, private"));
    r.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    Ok(r)
}

/// GET /{tenant}/discovery/v2.0/keys
pub async fn jwks(State(state): State<AppState>, Path(tenant): Path<String>) -> Result<Response, OAuthError> {
    let tid = resolve(&state, &tenant).await?;
    let now = to_millis(state.dir.clock.now());
    // Read from the store, not the server's cache: a rotation made by another server or the CLI
    // is published at once (clients cache the document themselves, per Cache-Control).
    let mut rows =
        portico_store::keys::published(&state.dir.store, tid, now).await.map_err(|e| OAuthError::server(&e))?;
    if rows.is_empty() {
        // A tenant gets its first key when first needed; a JWKS is never empty.
        state.dir.keys.signer(&state.dir.store, tid).await.map_err(|e| OAuthError::server(&e))?;
        rows = portico_store::keys::published(&state.dir.store, tid, now).await.map_err(|e| OAuthError::server(&e))?;
    }
    let keys: Vec<portico_core::jws::Jwk> =
        rows.iter().filter_map(|r| serde_json::from_str(&r.public_jwk).ok()).collect();
    let issuer = state.dir.settings.issuer(tid);
    let keys: Vec<_> = keys
        .iter()
        .map(|k| {
            let mut v = serde_json::to_value(k).unwrap_or_default();
            v["issuer"] = json!(issuer);
            v
        })
        .collect();
    let mut r = (StatusCode::OK, Json(json!({ "keys": keys }))).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=300, public"));
    r.headers_mut().insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    Ok(r)
}
