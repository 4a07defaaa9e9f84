//! The token endpoint: the client credentials grant (RFC 6749 §4.4) with client_secret_basic and
//! client_secret_post here; the authorization code and refresh token grants of people's
//! sign-ins in [`super::user_tokens`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use portico_core::access::{self, GRAPH_APP_ID, GRAPH_RESOURCE};
use portico_core::clock::to_millis;
use portico_core::ids::TenantId;
use portico_core::secret;
use portico_store::apps;
use serde_json::{Value, json};

use super::OAuthError;
use super::discovery::resolve;
use crate::app::AppState;

/// How a confidential client authenticated.
pub(crate) struct ClientAuth {
    /// Its client id.
    pub client_id: String,
    /// The secret it presented.
    pub secret: String,
    /// Whether it used HTTP Basic.
    pub basic: bool,
}

/// Reads client_secret_basic or client_secret_post credentials (RFC 6749 §2.3.1).
pub(crate) fn client_auth(headers: &HeaderMap, form: &[(String, String)]) -> Result<ClientAuth, OAuthError> {
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    // RFC 9110 §11.1: the scheme name is case-insensitive.
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Basic"))
        .map(|(_, credentials)| credentials);
    if let Some(b) = basic {
        if field("client_secret").is_some() {
            return Err(OAuthError::new(
                "invalid_request",
                90014,
                "Only one client authentication method may be used.",
            ));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(|| {
                OAuthError::invalid_client(7000216, "The Authorization header is not valid Basic credentials.", true)
            })?;
        let (id, secret) = decoded.split_once(':').ok_or_else(|| {
            OAuthError::invalid_client(7000216, "The Authorization header is not valid Basic credentials.", true)
        })?;
        // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
        let dec = |s: &str| percent_encoding::percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
        let (id, secret) = (dec(id), dec(secret));
        if id.contains('\0') {
            return Err(OAuthError::invalid_client(
                7000216,
                "The Authorization header is not valid Basic credentials.",
                true,
            ));
        }
        if let Some(form_id) = field("client_id")
            && form_id != id
        {
            return Err(OAuthError::new(
                "invalid_request",
                90014,
                "client_id in the body does not match the Authorization header.",
            ));
        }
        return Ok(ClientAuth { client_id: id, secret, basic: true });
    }
    let client_id = field("client_id").ok_or_else(|| {
        OAuthError::new(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        )
    })?;
    let secret = field("client_secret").ok_or_else(|| {
        OAuthError::invalid_client(
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            false,
        )
    })?;
    Ok(ClientAuth { client_id, secret, basic: false })
}

/// The resource a token is for.
enum Resource {
    /// Microsoft Graph: its app roles are the permission catalog.
    Graph,
    /// An application of the tenant (a custom API).
    App(Box<portico_store::apps::Application>),
}

/// The resource named by a `.default` scope (RFC 6749 §4.4.2 with Entra's `/.default` rule).
fn scope_resource(scope: &str) -> Result<&str, OAuthError> {
    let invalid = |s: &str| {
        OAuthError::new(
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {s} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )
    };
    let scopes: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    let [one] = scopes.as_slice() else { return Err(invalid(scope)) };
    one.strip_suffix("/.default").ok_or_else(|| invalid(one))
}

/// Finds the resource: Microsoft Graph needs no lookup; an application of the tenant is found
/// by appId or identifierUri. Returns the resource, the client id of its service principal, and
/// the token audience.
async fn find_resource(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    resource: &str,
) -> Result<(Resource, String, String), OAuthError> {
    if resource == GRAPH_RESOURCE
        || resource == format!("{GRAPH_RESOURCE}/")
        || resource.eq_ignore_ascii_case(GRAPH_APP_ID)
    {
        return Ok((Resource::Graph, GRAPH_APP_ID.to_string(), GRAPH_RESOURCE.to_string()));
    }
    let app = match portico_core::ids::parse_guid(resource) {
        Some(_) => apps::get_app_by_app_id(conn, tenant, resource).await,
        None => apps::get_app_by_identifier_uri(conn, tenant, resource).await,
    }
    .map_err(|e| OAuthError::server(&e))?
    .ok_or_else(|| resource_not_found(resource, tenant))?;
    let app_id = app.app_id.clone();
    Ok((Resource::App(Box::new(app)), app_id.clone(), app_id))
}

fn resource_not_found(resource: &str, tenant: TenantId) -> OAuthError {
    OAuthError::new(
        "invalid_resource",
        500011,
        format!("The resource principal named {resource} was not found in the tenant named {tenant}."),
    )
}

/// POST /{tenant}/oauth2/v2.0/token
pub async fn token(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, OAuthError> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return Err(OAuthError::new(
            "invalid_request",
            900144,
            "The token request must be sent as application/x-www-form-urlencoded.",
        ));
    }
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    for k in
        ["grant_type", "client_id", "client_secret", "scope", "code", "redirect_uri", "code_verifier", "refresh_token"]
    {
        if form.iter().filter(|(n, _)| n == k).count() > 1 {
            return Err(OAuthError::new("invalid_request", 90014, format!("The parameter '{k}' is repeated.")));
        }
    }
    // No parameter has a NUL character; PostgreSQL text cannot even compare one.
    if let Some((k, _)) = form.iter().find(|(_, v)| v.contains('\0')) {
        return Err(OAuthError::new(
            "invalid_request",
            90014,
            format!("The parameter '{k}' contains a NUL character."),
        ));
    }
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    match field("grant_type") {
        Some("authorization_code") => {
            let tid = resolve(&state, &tenant).await?;
            return super::user_tokens::authorization_code(&state, tid, &headers, &form).await;
        }
        Some("refresh_token") => {
            let tid = resolve(&state, &tenant).await?;
            return super::user_tokens::refresh_token(&state, tid, &headers, &form).await;
        }
        _ => {}
    }
    // A tenant id is checked only when the client is not found in it, saving a round trip on
    // every grant; a domain must be resolved first.
    let (tid, tenant_checked) = match TenantId::parse(&tenant) {
        Some(t) => (t, false),
        None => (resolve(&state, &tenant).await?, true),
    };
    // Validate the request; an unknown tenant is reported before any other problem, as Entra does.
    let checked = (|| {
        match field("grant_type") {
            Some("client_credentials") => {}
            Some("password") | Some("implicit") => {
                return Err(OAuthError::new(
                    "unsupported_grant_type",
                    70003,
                    "The grant type is not supported: Portico never offers the password or implicit grants.",
                ));
            }
            Some(other) => {
                return Err(OAuthError::new(
                    "unsupported_grant_type",
                    70003,
                    format!("The app requested an unsupported grant type '{other}'."),
                ));
            }
            None => {
                return Err(OAuthError::new(
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'grant_type'.",
                ));
            }
        }
        let auth = client_auth(&headers, &form)?;
        let scope = field("scope").ok_or_else(|| {
            OAuthError::new(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
            )
        })?;

        let resource_name = scope_resource(scope)?;
        Ok::<_, OAuthError>((auth, resource_name))
    })();
    let (auth, resource_name) = match checked {
        Ok(v) => v,
        Err(e) => {
            if !tenant_checked {
                resolve(&state, &tenant).await?;
            }
            return Err(e);
        }
    };
    let mut conn = state.dir.store.pool().acquire().await.map_err(|e| OAuthError::server(&e))?;
    let client = apps::client_for_token(&mut conn, tid, &auth.client_id).await.map_err(|e| OAuthError::server(&e))?;
    let Some(client) = client else {
        if !tenant_checked {
            resolve(&state, &tenant).await?;
        }
        // Same work as a real check, so timing does not reveal which client ids exist.
        let _ = secret::secret_matches(&auth.secret, "0000000000000000000000000000000000000000000");
        metrics::counter!("portico_token_requests_total", "result" => "invalid_client").increment(1);
        return Err(OAuthError::invalid_client(
            700016,
            format!("Application with identifier '{}' was not found in the directory '{tid}'.", auth.client_id),
            auth.basic,
        ));
    };
    let now = state.dir.clock.now();
    let now_ms = to_millis(now);
    let matched = client.secrets.iter().find(|(digest, _, _)| secret::secret_matches(&auth.secret, digest));
    match matched {
        None => {
            metrics::counter!("portico_token_requests_total", "result" => "invalid_client").increment(1);
            return Err(OAuthError::invalid_client(
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                auth.basic,
            ));
        }
        Some((_, _, end)) if *end <= now_ms => {
            return Err(OAuthError::invalid_client(
                7000222,
                format!("The provided client secret keys for app '{}' are expired.", client.app_id),
                auth.basic,
            ));
        }
        Some((_, start, _)) if *start > now_ms + 300_000 => {
            return Err(OAuthError::invalid_client(7000215, "The client secret is not valid yet.", auth.basic));
        }
        Some(_) => {}
    }
    let Some((client_sp, enabled)) = client.service_principal else {
        return Err(OAuthError::new(
            "invalid_client",
            7000229,
            format!("The client application {} is missing service principal in the tenant {tid}.", client.app_id),
        ));
    };
    if !enabled {
        return Err(OAuthError::new(
            "unauthorized_client",
            7000112,
            format!("Application '{}'({}) is disabled.", client.app_id, client.display_name),
        ));
    }
    let (resource, resource_app_id, audience) = find_resource(&mut conn, tid, resource_name).await?;
    let (resource_sp, granted) = apps::resource_with_grants(&mut conn, tid, &resource_app_id, client_sp)
        .await
        .map_err(|e| OAuthError::server(&e))?
        .ok_or_else(|| resource_not_found(resource_name, tid))?;
    drop(conn);
    if !resource_sp.account_enabled {
        return Err(OAuthError::new("invalid_resource", 7000112, "The resource application is disabled."));
    }
    let roles: Vec<String> = match &resource {
        Resource::Graph => {
            granted.iter().filter_map(|id| access::permission_by_id(id).map(|p| p.name.to_string())).collect()
        }
        Resource::App(app) => granted
            .iter()
            .filter_map(|id| {
                app.app_roles.as_array().and_then(|a| {
                    a.iter()
                        .find(|r| {
                            r.get("id").and_then(Value::as_str).is_some_and(|x| x.eq_ignore_ascii_case(id))
                                && r.get("isEnabled").and_then(Value::as_bool).unwrap_or(true)
                        })
                        .and_then(|r| r.get("value").and_then(Value::as_str).map(str::to_owned))
                })
            })
            .collect(),
    };
    if resource_sp.app_role_assignment_required && roles.is_empty() {
        return Err(OAuthError::new(
            "invalid_grant",
            501051,
            "The application is not assigned to a role for the resource application.",
        ));
    }
    let iat = now.unix_timestamp();
    let lifetime = state.dir.settings.access_token_lifetime_secs;
    let mut claims = json!({
        "aud": audience,
        "iss": state.dir.settings.issuer(tid),
        "iat": iat,
        "nbf": iat,
        "exp": iat + lifetime,
        "app_displayname": client.display_name,
        "appid": client.app_id,
        "appidacr": "1",
        "azp": client.app_id,
        "azpacr": "1",
        "idp": state.dir.settings.issuer(tid),
        "idtyp": "app",
        "oid": client_sp.to_string(),
        "sub": client_sp.to_string(),
        "tid": tid.to_string(),
        "uti": secret::random_token(16),
        "ver": "2.0",
    });
    if !roles.is_empty() {
        claims["roles"] = json!(roles);
    }
    let signer = state.dir.keys.signer(&state.dir.store, tid).await.map_err(|e| OAuthError::server(&e))?;
    let token = signer.sign_jwt(&claims).map_err(|e| OAuthError::server(&e))?;
    metrics::counter!("portico_token_requests_total", "result" => "issued").increment(1);
    let body =
        json!({ "token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token });
    let mut r = Json(body).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(r)
}
