//! `GET|POST /{tenant}/oauth2/v2.0/authorize`: the authorization code flow with PKCE
//! (RFC 6749 §4.1, RFC 7636, OpenID Connect Core §3.1). Validates the request, then starts a
//! sign-in flow bound to the browser, or continues a live session.
//!
//! Until the client and its redirect URI are known good, problems are shown as a page and never
//! redirected (RFC 6749 §4.1.2.1; RFC 9700 §4.1: no open redirector). After that they go back to
//! the client as `error` parameters with `state` and `iss` (RFC 9207).

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portico_core::access::{GRAPH_APP_ID, GRAPH_RESOURCE, OIDC_SCOPES, scope_by_name};
use portico_core::ids::TenantId;
use portico_core::{pkce, secret};
use portico_store::apps;
use portico_store::signin::{self, LoginFlow};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{BROWSER_COOKIE, Client, PageError, cookie, flow};
use crate::app::AppState;

/// A validated authorization request, kept in the flow while the person signs in.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AuthRequest {
    /// The client's appId.
    pub client_id: String,
    /// The client's service principal id.
    pub client_sp: String,
    /// The client's name, as pages show it.
    pub app_name: String,
    /// The registered redirect URI the answer goes to.
    pub redirect_uri: String,
    /// Registered as spa or publicClient: no client authentication at the token endpoint.
    pub public_client: bool,
    /// `query` or `form_post`.
    pub response_mode: String,
    /// Echoed back.
    pub state: Option<String>,
    /// Goes into the ID token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// OpenID Connect scopes asked for.
    pub oidc_scopes: Vec<String>,
    /// The access token audience: Graph's URI or the API's appId.
    pub resource: String,
    /// The resource's service principal id.
    pub resource_sp: String,
    /// The resource's name.
    pub resource_name: String,
    /// The resource's scope prefix in responses ("" for Graph, else the API's identifier).
    pub resource_prefix: String,
    /// The resource's scopes asked for: (value, description, admin consent required).
    pub resource_scopes: Vec<(String, String, bool)>,
    /// login, none, consent, select_account.
    pub prompt: Option<String>,
    /// Seconds since the last authentication that are still acceptable.
    pub max_age: Option<i64>,
    /// Prefills the sign-in name.
    pub login_hint: Option<String>,
    /// Which identity provider to use (home-realm discovery; federation issue).
    pub domain_hint: Option<String>,
    /// Page languages asked for.
    pub ui_locales: Option<String>,
    /// Progress: consent was answered in this flow.
    #[serde(default)]
    pub consent_done: bool,
    /// Progress: the password was proved in this flow (not taken from a session).
    #[serde(default)]
    pub fresh_password: bool,
    /// Progress: a TOTP secret being enrolled, sealed to the flow.
    #[serde(default)]
    pub pending_totp: Option<String>,
    /// Progress: recovery codes to show once.
    #[serde(default)]
    pub recovery_display: Vec<String>,
    /// Progress: an email code was sent.
    #[serde(default)]
    pub email_sent: bool,
    /// Progress: the account picker was answered.
    #[serde(default)]
    pub account_picked: bool,
}

impl AuthRequest {
    /// The scopes as the token response lists them.
    pub fn granted_scopes(&self) -> Vec<String> {
        let mut out: Vec<String> = self.oidc_scopes.clone();
        for (v, _, _) in &self.resource_scopes {
            out.push(format!("{}{v}", self.resource_prefix));
        }
        out
    }
}

/// An error that goes back to the client.
pub struct RedirectError {
    /// RFC 6749 error code.
    pub error: &'static str,
    /// AADSTS number.
    pub code: u32,
    /// Description.
    pub description: String,
}

fn rerr(error: &'static str, code: u32, description: impl Into<String>) -> RedirectError {
    RedirectError { error, code, description: description.into() }
}

/// Answers the client at its redirect URI (query or form_post), always with `iss` (RFC 9207).
pub fn answer(state: &AppState, tenant: TenantId, req: &AuthRequest, params: Vec<(String, String)>) -> Response {
    let mut params = params;
    if let Some(s) = &req.state {
        params.push(("state".into(), s.clone()));
    }
    params.push(("iss".into(), state.dir.settings.issuer(tenant)));
    if req.response_mode == "form_post" {
        let nonce = secret::random_token(16);
        let origin = url::Url::parse(&req.redirect_uri).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
        let lang = super::LANG.try_with(|l| *l).unwrap_or("en");
        let ctx =
            minijinja::context! { redirect_uri => req.redirect_uri.clone(), params => params, nonce => nonce.clone() };
        let csp = format!(" {origin}; script-src 'nonce-{nonce}'");
        return super::pages::render(lang, None, "form_post.html", ctx, Some(&csp));
    }
    let mut url = match url::Url::parse(&req.redirect_uri) {
        Ok(u) => u,
        Err(_) => return PageError::bad_request(50011, "The redirect URI is not valid.").into_response(),
    };
    url.query_pairs_mut().extend_pairs(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    // RFC 9700 §4.11: 303, never 307 (which would repeat a POST body with credentials).
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    super::page_headers(r.headers_mut(), None);
    r
}

/// Sends an error to the client.
pub fn answer_error(state: &AppState, tenant: TenantId, req: &AuthRequest, e: RedirectError) -> Response {
    let id = crate::request_id::current();
    let desc = format!("AADSTS{}: {} Trace ID: {id} Correlation ID: {id}", e.code, e.description);
    answer(state, tenant, req, vec![("error".into(), e.error.into()), ("error_description".into(), desc)])
}

fn fail(state: &AppState, tenant: TenantId, req: &AuthRequest, e: RedirectError) -> Result<Response, PageError> {
    Ok(answer_error(state, tenant, req, e))
}

/// Whether `presented` matches a registered URI exactly, or (native apps, RFC 8252 §7.3) a
/// registered loopback URI with any port.
fn redirect_matches(registered: &str, presented: &str, loopback_any_port: bool) -> bool {
    if registered == presented {
        return true;
    }
    if !loopback_any_port {
        return false;
    }
    let (Ok(a), Ok(b)) = (url::Url::parse(registered), url::Url::parse(presented)) else { return false };
    let loopback =
        |u: &url::Url| u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"));
    loopback(&a)
        && loopback(&b)
        && a.host_str() == b.host_str()
        && a.path() == b.path()
        && a.query() == b.query()
        && b.fragment().is_none()
}

fn uris(v: &Value) -> Vec<String> {
    v.get("redirectUris")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|u| u.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// The resource a set of scopes names, and its scopes.
async fn resolve_scopes(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    raw: &str,
    req: &mut AuthRequest,
) -> Result<(), RedirectError> {
    let mut resource: Option<(String, String)> = None; // (prefix as written, value)
    let mut values: Vec<(String, String)> = vec![];
    for s in raw.split(' ').filter(|s| !s.is_empty()).take(50) {
        if OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)) {
            let s = s.to_ascii_lowercase();
            if !req.oidc_scopes.contains(&s) {
                req.oidc_scopes.push(s);
            }
            continue;
        }
        let (prefix, value) = match s.rfind('/') {
            Some(i) if s[..i].contains(':') || portico_core::ids::parse_guid(&s[..i]).is_some() => {
                (s[..i].to_string(), s[i + 1..].to_string())
            }
            _ => (GRAPH_RESOURCE.to_string(), s.to_string()),
        };
        let prefix_key = if prefix.trim_end_matches('/') == GRAPH_RESOURCE || prefix.eq_ignore_ascii_case(GRAPH_APP_ID)
        {
            GRAPH_RESOURCE.to_string()
        } else {
            prefix
        };
        match &resource {
            Some((p, _)) if *p != prefix_key => {
                return Err(rerr(
                    "invalid_request",
                    28000,
                    "Provided value for the input parameter scope is not valid because it contains more than one resource.",
                ));
            }
            _ => resource = Some((prefix_key.clone(), value.clone())),
        }
        values.push((prefix_key, value));
    }
    let prefix = resource.map(|(p, _)| p).unwrap_or_else(|| GRAPH_RESOURCE.to_string());
    if prefix == GRAPH_RESOURCE {
        let sp = apps::get_sp_by_app_id(conn, tenant, GRAPH_APP_ID)
            .await
            .map_err(|_| rerr("server_error", 90000, "The server failed to read the directory."))?
            .ok_or_else(|| rerr("invalid_resource", 500011, "Microsoft Graph is not available in this tenant."))?;
        req.resource = GRAPH_RESOURCE.into();
        req.resource_sp = sp.id.to_string();
        req.resource_name = "Microsoft Graph".into();
        req.resource_prefix = String::new();
        let mut wanted: Vec<String> = values.into_iter().map(|(_, v)| v).collect();
        if wanted.is_empty() {
            // Entra: a sign-in with only OpenID scopes gets a Graph token for the user's profile.
            wanted.push("User.Read".into());
        }
        for v in wanted {
            if v == ".default" {
                continue;
            }
            let scope = scope_by_name(&v).filter(|s| !OIDC_SCOPES.contains(&s.name)).ok_or_else(|| {
                rerr(
                    "invalid_scope",
                    70011,
                    format!(
                        "The provided value for the input parameter 'scope' is not valid. The scope {v} does not exist."
                    ),
                )
            })?;
            if !req.resource_scopes.iter().any(|(n, _, _)| n == scope.name) {
                req.resource_scopes.push((scope.name.into(), scope.description.into(), scope.admin_consent));
            }
        }
        return Ok(());
    }
    let app = match portico_core::ids::parse_guid(&prefix) {
        Some(_) => apps::get_app_by_app_id(conn, tenant, &prefix).await,
        None => apps::get_app_by_identifier_uri(conn, tenant, &prefix).await,
    }
    .map_err(|_| rerr("server_error", 90000, "The server failed to read the directory."))?
    .ok_or_else(|| {
        rerr("invalid_resource", 500011, format!("The resource principal named {prefix} was not found in the tenant."))
    })?;
    let sp = apps::get_sp_by_app_id(conn, tenant, &app.app_id)
        .await
        .map_err(|_| rerr("server_error", 90000, "The server failed to read the directory."))?
        .ok_or_else(|| {
            rerr("invalid_resource", 500011, format!("The resource principal named {prefix} has no service principal."))
        })?;
    let offered: Vec<&Value> = app
        .api
        .get("oauth2PermissionScopes")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter(|s| s.get("isEnabled").and_then(Value::as_bool).unwrap_or(true)).collect())
        .unwrap_or_default();
    for (_, v) in values {
        let found = offered.iter().find(|s| s.get("value").and_then(Value::as_str) == Some(v.as_str()));
        let Some(s) = found else {
            return Err(rerr(
                "invalid_scope",
                70011,
                format!(
                    "The provided value for the input parameter 'scope' is not valid. The scope {prefix}/{v} does not exist."
                ),
            ));
        };
        let text = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let description = [text("userConsentDescription"), text("adminConsentDescription"), v.clone()]
            .into_iter()
            .find(|d| !d.is_empty())
            .unwrap_or_default();
        let admin = s.get("type").and_then(Value::as_str) == Some("Admin");
        req.resource_scopes.push((v.clone(), description, admin));
    }
    req.resource = app.app_id.clone();
    req.resource_sp = sp.id.to_string();
    req.resource_name = app.display_name.clone();
    req.resource_prefix = format!("{prefix}/");
    Ok(())
}

/// GET|POST /{tenant}/oauth2/v2.0/authorize
pub async fn authorize(
    State(state): State<AppState>,
    Path(tenant_key): Path<String>,
    method: Method,
    client: Client,
    Query(query): Query<Vec<(String, String)>>,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let params = if method == Method::POST { super::form_fields(&body) } else { query };
    let tenant = portico_store::tenants::resolve(&state.dir.store, &tenant_key)
        .await?
        .filter(|_| !tenant_key.chars().any(char::is_control))
        .ok_or_else(|| PageError::unknown_tenant(&tenant_key))?;
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if let Some((k, _)) = params.iter().find(|(_, v)| v.contains('\0')) {
        return Err(PageError::bad_request(90014, format!("The parameter '{k}' contains a NUL character.")));
    }
    for k in ["client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge", "prompt"] {
        if params.iter().filter(|(n, _)| n == k).count() > 1 {
            return Err(PageError::bad_request(90014, format!("The parameter '{k}' is repeated.")));
        }
    }
    let client_id = get("client_id").ok_or_else(|| {
        PageError::bad_request(900144, "The request must contain the following parameter: 'client_id'.")
    })?;
    let mut conn = super::conn(&state).await?;
    let not_found = || {
        PageError::bad_request(
            700016,
            format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'."),
        )
    };
    if portico_core::ids::parse_guid(client_id).is_none() {
        return Err(not_found());
    }
    if client_id == super::guest::B2B_CLIENT_ID {
        drop(conn);
        return b2b_request(&state, tenant, client, &params).await;
    }
    let app = apps::get_app_by_app_id(&mut conn, tenant, client_id).await?.ok_or_else(not_found)?;
    let sp = apps::get_sp_by_app_id(&mut conn, tenant, &app.app_id).await?.ok_or_else(|| {
        PageError::bad_request(
            700016,
            format!("Application '{client_id}' has no service principal in the directory '{tenant}', so no one can sign in to it yet."),
        )
    })?;
    if !sp.account_enabled {
        return Err(PageError::bad_request(7000112, format!("Application '{}' is disabled.", app.display_name)));
    }
    // RFC 6749 §3.1.2.3 and RFC 9700 §4.1.3: exact match against what was registered.
    let presented = get("redirect_uri").ok_or_else(|| {
        PageError::bad_request(900144, "The request must contain the following parameter: 'redirect_uri'.")
    })?;
    let web = uris(&app.web).iter().any(|u| redirect_matches(u, presented, false));
    let spa = uris(&app.spa).iter().any(|u| redirect_matches(u, presented, false));
    let native = uris(&app.public_client).iter().any(|u| redirect_matches(u, presented, true));
    if !(web || spa || native) {
        return Err(PageError::bad_request(
            50011,
            format!(
                "The redirect URI '{presented}' specified in the request does not match the redirect URIs configured for the application '{client_id}'."
            ),
        ));
    }
    // From here on, errors go back to the client.
    let mut req = AuthRequest {
        client_id: app.app_id.clone(),
        client_sp: sp.id.to_string(),
        app_name: app.display_name.clone(),
        redirect_uri: presented.to_string(),
        public_client: !web,
        response_mode: "query".into(),
        state: get("state").map(str::to_owned),
        nonce: get("nonce").map(str::to_owned),
        login_hint: get("login_hint").map(|s| s.chars().take(256).collect()),
        domain_hint: get("domain_hint").map(|s| s.chars().take(256).collect()),
        ui_locales: get("ui_locales").map(|s| s.chars().take(256).collect()),
        ..AuthRequest::default()
    };
    match get("response_mode") {
        None | Some("query") => {}
        Some("form_post") => req.response_mode = "form_post".into(),
        Some(other) => {
            return Ok(answer_error(
                &state,
                tenant,
                &req,
                rerr(
                    "invalid_request",
                    900144,
                    format!("The response_mode '{other}' is not supported for the code flow; use query or form_post."),
                ),
            ));
        }
    }
    if get("request").is_some() || get("request_uri").is_some() {
        return fail(
            &state,
            tenant,
            &req,
            rerr(
                "request_not_supported",
                90014,
                "Request objects (JAR) are not supported; send the parameters directly.",
            ),
        );
    }
    match get("response_type") {
        Some("code") => {}
        None => {
            return fail(
                &state,
                tenant,
                &req,
                rerr("invalid_request", 900144, "The request must contain 'response_type'."),
            );
        }
        Some(rt) => {
            return fail(
                &state,
                tenant,
                &req,
                rerr(
                    "unsupported_response_type",
                    700054,
                    format!(
                        "response_type '{rt}' is not enabled: Portico offers the authorization code flow with PKCE only (no implicit or hybrid flows)."
                    ),
                ),
            );
        }
    }
    drop(conn);
    continue_request(state, tenant, client, &params, req, false).await
}

/// The B2B sign-in of another tenant of this deployment (the resource tenant) asking this tenant
/// (the guest's home) to authenticate its member: the first-party client whose only redirect
/// URIs are other tenants' home-callback URLs.
async fn b2b_request(
    state: &AppState,
    tenant: TenantId,
    client: Client,
    params: &[(String, String)],
) -> Result<Response, PageError> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let presented = get("redirect_uri").unwrap_or_default();
    let prefix = format!("{}/", state.dir.settings.public_url);
    let resource = presented
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix("/federation/home/callback"))
        .and_then(TenantId::parse)
        .filter(|rt| *rt != tenant);
    let Some(rt) = resource else {
        return Err(PageError::bad_request(
            50011,
            format!("The redirect URI '{presented}' is not a B2B callback of another organization of this deployment."),
        ));
    };
    let mut conn = super::conn(state).await?;
    let Some(resource_tenant) = portico_store::tenants::get(&mut conn, rt).await? else {
        return Err(PageError::bad_request(50011, "The organization asking for this sign-in does not exist."));
    };
    drop(conn);
    let req = AuthRequest {
        client_id: super::guest::B2B_CLIENT_ID.into(),
        client_sp: String::new(),
        app_name: format!("{} (B2B collaboration)", resource_tenant.display_name),
        redirect_uri: presented.to_string(),
        public_client: true,
        response_mode: "query".into(),
        state: get("state").map(str::to_owned),
        nonce: get("nonce").map(str::to_owned),
        login_hint: get("login_hint").map(|s| s.chars().take(256).collect()),
        ui_locales: get("ui_locales").map(|s| s.chars().take(256).collect()),
        oidc_scopes: vec!["openid".into(), "profile".into(), "email".into()],
        resource: rt.to_string(),
        consent_done: true,
        ..AuthRequest::default()
    };
    continue_request(state.clone(), tenant, client, params, req, true).await
}

/// The checks every request goes through once its client and redirect URI are known: PKCE,
/// response type and mode, scopes, prompt, max_age; then the flow starts.
async fn continue_request(
    state: AppState,
    tenant: TenantId,
    client: Client,
    params: &[(String, String)],
    mut req: AuthRequest,
    first_party: bool,
) -> Result<Response, PageError> {
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    // RFC 7636 and RFC 9700 §2.1.1: PKCE for every client, S256 only.
    let Some(challenge) = get("code_challenge") else {
        return fail(
            &state,
            tenant,
            &req,
            rerr(
                "invalid_request",
                9002325,
                "Proof Key for Code Exchange is required: send code_challenge and code_challenge_method=S256.",
            ),
        );
    };
    match get("code_challenge_method") {
        Some("S256") => {}
        Some("plain") | None => {
            return fail(
                &state,
                tenant,
                &req,
                rerr(
                    "invalid_request",
                    9002325,
                    "The PKCE method 'plain' is not allowed; use code_challenge_method=S256.",
                ),
            );
        }
        Some(m) => {
            return fail(
                &state,
                tenant,
                &req,
                rerr("invalid_request", 9002325, format!("The PKCE method '{m}' is not supported.")),
            );
        }
    }
    if !pkce::valid_challenge(challenge) {
        return fail(
            &state,
            tenant,
            &req,
            rerr("invalid_request", 9002325, "The code_challenge is not a valid S256 challenge."),
        );
    }
    req.code_challenge = challenge.to_string();
    let Some(scope) = get("scope") else {
        return fail(
            &state,
            tenant,
            &req,
            rerr("invalid_request", 900144, "The request must contain the following parameter: 'scope'."),
        );
    };
    if first_party {
        if !scope.split(' ').any(|x| x == "openid") {
            return fail(&state, tenant, &req, rerr("invalid_scope", 70011, "The scope must include 'openid'."));
        }
    } else {
        let mut conn = super::conn(&state).await?;
        if let Err(e) = resolve_scopes(&mut conn, tenant, scope, &mut req).await {
            return fail(&state, tenant, &req, e);
        }
    }
    if let Some(p) = get("prompt") {
        let parts: Vec<&str> = p.split(' ').filter(|s| !s.is_empty()).collect();
        if parts.iter().any(|x| !["login", "none", "consent", "select_account"].contains(x))
            || (parts.contains(&"none") && parts.len() > 1)
            || parts.len() != 1
        {
            return fail(&state, tenant, &req, rerr("invalid_request", 90023, format!("Invalid prompt value '{p}'.")));
        }
        req.prompt = Some(parts[0].to_string());
    }
    if let Some(m) = get("max_age") {
        match m.parse::<i64>() {
            Ok(v) if v >= 0 => req.max_age = Some(v),
            _ => {
                return fail(
                    &state,
                    tenant,
                    &req,
                    rerr("invalid_request", 90014, "max_age must be a non-negative number of seconds."),
                );
            }
        }
    }
    // Bind the flow to this browser.
    let now = state.now_ms();
    let (browser, set_browser) = match client.cookie(BROWSER_COOKIE).filter(|b| b.len() >= 20 && b.len() <= 64) {
        Some(b) => (b.to_string(), false),
        None => (secret::random_token(24), true),
    };
    let mut f = LoginFlow {
        id: secret::random_token(24),
        tenant_id: tenant,
        browser_digest: secret::token_digest(&browser),
        csrf: secret::random_token(24),
        request: Value::Null,
        user_id: None,
        login_name: req.login_hint.clone(),
        stage: "identify".into(),
        amr: vec![],
        auth_time: None,
        session_id: None,
        created_at: now,
        expires_at: now + state.dir.settings.sessions.flow_secs * 1000,
    };
    let session = flow::current_session(&state, tenant, &client).await?;
    let mut use_session = session.is_some();
    if let (Some(s), Some(max)) = (&session, req.max_age)
        && (max == 0 || now - s.auth_time > max * 1000)
    {
        use_session = false;
    }
    if req.prompt.as_deref() == Some("login") {
        use_session = false;
    }
    if req.prompt.as_deref() == Some("none") && !use_session {
        return fail(
            &state,
            tenant,
            &req,
            rerr("login_required", 50058, "A silent sign-in request was sent but no user is signed in."),
        );
    }
    if use_session && let Some(s) = &session {
        f.user_id = Some(s.user_id);
        f.amr = s.amr.clone();
        f.auth_time = Some(s.auth_time);
        f.session_id = Some(s.id.clone());
        if req.prompt.as_deref() == Some("select_account") {
            f.stage = "select_account".into();
        }
    }
    f.request = serde_json::to_value(&req).map_err(|e| PageError::server(&e))?;
    {
        let mut conn = super::conn(&state).await?;
        signin::insert_flow(&mut conn, &f).await?;
    }
    let mut r = if f.stage == "select_account" || f.user_id.is_none() {
        flow::redirect_to_flow(tenant, &f.id)
    } else {
        flow::advance(&state, &client, f, req).await?
    };
    if set_browser {
        r.headers_mut().append(header::SET_COOKIE, cookie(&state, BROWSER_COOKIE, &browser, None));
    }
    Ok(r)
}
