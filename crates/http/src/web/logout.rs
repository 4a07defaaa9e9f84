//! `GET|POST /{tenant}/oauth2/v2.0/logout`: RP-initiated logout (OpenID Connect RP-Initiated
//! Logout 1.0). With a valid `id_token_hint` for the signed-in user the session ends at once;
//! otherwise the person confirms on a page (a POST with the session's CSRF token), so a link on
//! another site cannot sign anyone out. `post_logout_redirect_uri` is followed only when it is
//! registered for the client (a redirect URI or the web logout URL).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portico_core::ids::TenantId;
use portico_core::jws;
use portico_store::{apps, signin, users};
use serde_json::Value;

use super::pages::{Brand, render};
use super::{Client, PageError, check_csrf, cookie, field, session_cookie_name};
use crate::app::AppState;

/// The client id an ID token was issued to, if it is ours and names this session's user.
async fn hint_matches(state: &AppState, tenant: TenantId, hint: &str, user_sub: Option<&str>) -> Option<String> {
    let unverified = jws::decode_unverified(hint).ok()?;
    let keys = state.dir.keys.published(&state.dir.store, tenant, state.now_ms(), false).await.ok()?;
    // An expired ID token is still a fine hint (OIDC RP-Initiated Logout §2).
    let claims = unverified.verify(&keys).ok()?;
    if claims.get("iss").and_then(Value::as_str) != Some(state.dir.settings.issuer(tenant).as_str()) {
        return None;
    }
    let oid = claims.get("oid").and_then(Value::as_str);
    if user_sub.is_some() && oid != user_sub {
        return None;
    }
    claims.get("aud").and_then(Value::as_str).map(str::to_owned)
}

async fn allowed_return(
    state: &AppState,
    tenant: TenantId,
    client_id: Option<&str>,
    uri: Option<&str>,
) -> Option<String> {
    let (client_id, uri) = (client_id?, uri?);
    portico_core::ids::parse_guid(client_id)?;
    let mut conn = state.dir.store.pool().acquire().await.ok()?;
    let app = apps::get_app_by_app_id(&mut conn, tenant, client_id).await.ok()??;
    let mut registered: Vec<String> = vec![];
    for v in [&app.web, &app.spa, &app.public_client] {
        if let Some(a) = v.get("redirectUris").and_then(Value::as_array) {
            registered.extend(a.iter().filter_map(|u| u.as_str().map(str::to_owned)));
        }
    }
    if let Some(l) = app.web.get("logoutUrl").and_then(Value::as_str) {
        registered.push(l.to_string());
    }
    registered.iter().any(|r| r == uri).then(|| uri.to_string())
}

/// GET|POST /{tenant}/oauth2/v2.0/logout
pub async fn logout(
    State(state): State<AppState>,
    Path(tenant_key): Path<String>,
    method: Method,
    client: Client,
    Query(query): Query<Vec<(String, String)>>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let tenant = portico_store::tenants::resolve(&state.dir.store, &tenant_key)
        .await?
        .filter(|_| !tenant_key.chars().any(char::is_control))
        .ok_or_else(|| PageError::unknown_tenant(&tenant_key))?;
    let form = if method == Method::POST { super::form_fields(&body) } else { query };
    let session = super::flow::current_session(&state, tenant, &client).await?;
    let mut conn = super::conn(&state).await?;
    let user = match &session {
        Some(s) => users::get(&mut conn, tenant, s.user_id, users::Deleted::Exclude).await?,
        None => None,
    };
    let t =
        portico_store::tenants::get(&mut conn, tenant).await?.ok_or_else(|| PageError::unknown_tenant(&tenant_key))?;
    drop(conn);
    let brand = Brand::of(&t);
    let lang = portico_core::locale::negotiate(
        field(&form, "ui_locales"),
        client.accept_language.as_deref(),
        brand.language.as_deref(),
    );
    let user_oid = session.as_ref().map(|s| s.user_id.to_string());
    let hinted_client = match field(&form, "id_token_hint") {
        Some(h) => hint_matches(&state, tenant, h, user_oid.as_deref()).await,
        None => None,
    };
    let client_id = field(&form, "client_id").map(str::to_owned).or(hinted_client.clone());
    let confirmed = method == Method::POST && field(&form, "csrf").is_some();
    if let Some(s) = &session {
        if confirmed {
            check_csrf(&state, &client, field(&form, "csrf"), &s.csrf)?;
        } else if hinted_client.is_none() {
            // No proof the request comes from the user's application: ask first.
            let carry: Vec<(String, String)> = form
                .iter()
                .filter(|(k, _)| ["post_logout_redirect_uri", "state", "client_id", "ui_locales"].contains(&k.as_str()))
                .cloned()
                .collect();
            let ctx = minijinja::context! {
                action => format!("/{tenant}/oauth2/v2.0/logout"), csrf => s.csrf.clone(), carry => carry,
                login => user.as_ref().map(|u| u.user_principal_name.clone()),
            };
            return Ok(render(lang, Some(&brand), "logout.html", ctx, None));
        }
        let mut conn = super::conn(&state).await?;
        signin::revoke_session(&mut conn, tenant, &s.id, state.now_ms(), "signed out").await?;
    }
    let back = allowed_return(&state, tenant, client_id.as_deref(), field(&form, "post_logout_redirect_uri")).await;
    let mut r = match back {
        Some(uri) => {
            let mut url = url::Url::parse(&uri).map_err(|e| PageError::server(&e))?;
            if let Some(st) = field(&form, "state") {
                url.query_pairs_mut().append_pair("state", st);
            }
            let mut r = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(url.as_str()) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            super::page_headers(r.headers_mut(), None);
            r
        }
        None => render(lang, Some(&brand), "signed_out.html", minijinja::context! {}, None),
    };
    r.headers_mut().append(header::SET_COOKIE, cookie(&state, &session_cookie_name(tenant), "", Some(0)));
    Ok(r)
}
