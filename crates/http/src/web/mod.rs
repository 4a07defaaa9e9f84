//! The hosted pages every tenant serves to people: sign-in (identifier first, then the
//! credential), MFA and its enrollment, password change and reset, "stay signed in?", consent,
//! account picker, sign-out, and error pages that carry a request id.
//!
//! Pages are rendered on the server from embedded templates (`templates/`) with messages in
//! English and German (`messages/`), work without JavaScript, load nothing from outside the
//! server, and are sent with a strict Content-Security-Policy. Every form carries a CSRF token
//! bound to the flow or session it acts on; flows are bound to the browser by a cookie. What the
//! flow produces (codes, tokens) is the OAuth surface's business (`crate::oauth`).

pub mod authorize;
pub mod federated;
pub mod flow;
pub mod guest;
pub mod logout;
pub mod myaccount;
pub mod pages;
pub mod reset;
pub mod unsubscribe;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portico_core::ids::TenantId;

use crate::app::AppState;

tokio::task_local! {
    /// The language of the page being answered (for error pages rendered outside a handler).
    pub static LANG: &'static str;
}

/// The person's browser as the server sees it.
#[derive(Debug, Clone)]
pub struct Client {
    /// Source address (the proxy's forwarded address when the deployment trusts one).
    pub ip: String,
    /// User-Agent.
    pub user_agent: Option<String>,
    /// Cookies sent.
    pub cookies: Vec<(String, String)>,
    /// Accept-Language.
    pub accept_language: Option<String>,
    /// The Origin header of a form post, if sent.
    pub origin: Option<String>,
}

impl Client {
    /// A cookie's value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let h = &parts.headers;
        let text = |name: header::HeaderName| h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let socket = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        // Behind a TLS-terminating proxy the socket is the proxy's; its X-Forwarded-For last hop
        // is the only part of that header the proxy vouches for.
        let forwarded = state
            .dir
            .settings
            .trust_forwarded_for
            .then(|| h.get("x-forwarded-for").and_then(|v| v.to_str().ok()))
            .flatten()
            .and_then(|v| v.rsplit(',').next())
            .map(|s| s.trim().to_string())
            .filter(|s| s.parse::<std::net::IpAddr>().is_ok());
        let cookies = h
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .take(64)
            .collect();
        Ok(Client {
            ip: forwarded.or(socket).unwrap_or_else(|| "0.0.0.0".into()),
            user_agent: text(header::USER_AGENT).map(|s| s.chars().take(512).collect()),
            cookies,
            accept_language: text(header::ACCEPT_LANGUAGE),
            origin: text(header::ORIGIN),
        })
    }
}

/// Whether cookies get the Secure attribute (the deployment is reached over https).
pub fn secure(state: &AppState) -> bool {
    state.dir.settings.public_url.starts_with("https://")
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, Path=/, Secure over https; `max_age` None makes
/// a browser-session cookie, Some(0) deletes it.
pub fn cookie(state: &AppState, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
    let mut c = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if secure(state) {
        c.push_str("; Secure");
    }
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static("portico_invalid=1; Max-Age=0"))
}

/// The name of the browser-binding cookie (one per browser, shared by its flows).
pub const BROWSER_COOKIE: &str = "portico_b";

/// The name of a tenant's session cookie.
pub fn session_cookie_name(tenant: TenantId) -> String {
    format!("portico_s_{}", tenant.to_string().replace('-', ""))
}

/// An error shown as a page: what went wrong, in the person's language, with the request id.
#[derive(Debug, Clone)]
pub struct PageError {
    /// HTTP status.
    pub status: StatusCode,
    /// Entra-style AADSTS number, shown so administrators can look it up.
    pub code: Option<u32>,
    /// Message key of the headline.
    pub title: &'static str,
    /// The explanation (already in the page language or a technical detail).
    pub detail: String,
}

impl PageError {
    /// A 400 page.
    pub fn bad_request(code: u32, detail: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code: Some(code), title: "error_request", detail: detail.into() }
    }
    /// A page with its own headline.
    pub fn new(status: StatusCode, code: Option<u32>, title: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, title, detail: detail.into() }
    }
    /// The tenant in the URL does not exist.
    pub fn unknown_tenant(key: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            Some(90002),
            "error_tenant",
            format!("Tenant '{key}' not found. Check the address the application sent you to."),
        )
    }
    /// A 500: the cause goes to the log, the page shows the request id only.
    pub fn server(cause: &dyn std::fmt::Display) -> Self {
        let id = crate::request_id::current();
        tracing::error!(request.id = %id, error = %cause, "sign-in page failure on request {id}: {cause}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, None, "error_server", String::new())
    }
}

impl From<portico_store::StoreError> for PageError {
    fn from(e: portico_store::StoreError) -> Self {
        PageError::server(&e)
    }
}

impl From<sqlx::Error> for PageError {
    fn from(e: sqlx::Error) -> Self {
        PageError::server(&e)
    }
}

/// A pooled connection, for page handlers.
pub async fn conn(state: &AppState) -> Result<sqlx::pool::PoolConnection<sqlx::Any>, PageError> {
    Ok(state.dir.store.pool().acquire().await?)
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let lang = LANG.try_with(|l| *l).unwrap_or("en");
        let ctx = minijinja::context! {
            title_key => self.title,
            detail => self.detail,
            code => self.code,
        };
        let mut r = pages::render(lang, None, "error.html", ctx, None);
        *r.status_mut() = self.status;
        r
    }
}

/// Runs page handlers with the language of Accept-Language (and `ui_locales`) in [`LANG`], so
/// errors raised anywhere render in it.
pub async fn page_language(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let accept = req.headers().get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let ui = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "ui_locales").map(|(_, v)| v.into_owned())
    });
    let lang = portico_core::locale::negotiate(ui.as_deref(), accept.as_deref(), None);
    LANG.scope(lang, next.run(req)).await
}

/// Checks a form's CSRF token against the expected one, and refuses posts whose Origin is
/// another site. Both failures get the same page: the form did not come from this sign-in.
pub fn check_csrf(state: &AppState, client: &Client, sent: Option<&str>, expected: &str) -> Result<(), PageError> {
    let origin_ok = match &client.origin {
        None => true,
        Some(o) if o == "null" => false,
        Some(o) => url::Url::parse(&state.dir.settings.public_url)
            .map(|u| u.origin().ascii_serialization() == *o)
            .unwrap_or(false),
    };
    let token_ok = sent.is_some_and(|s| portico_core::secret::constant_time_eq(s.as_bytes(), expected.as_bytes()));
    if origin_ok && token_ok {
        Ok(())
    } else {
        Err(PageError::new(
            StatusCode::FORBIDDEN,
            Some(90100),
            "error_csrf",
            "The form was not sent from this sign-in page, or it has expired. Start again from the application.",
        ))
    }
}

/// The CSP widening that lets a page's form post end in a redirect to `url`'s origin (browsers
/// apply `form-action` to the redirects that follow a form submission).
pub fn form_action_for(url: &str) -> Option<String> {
    let o = url::Url::parse(url).ok()?.origin();
    o.is_tuple().then(|| format!(" {}", o.ascii_serialization()))
}

/// Response headers every page gets; `form_action` widens the CSP for a form_post answer.
pub fn page_headers(h: &mut HeaderMap, csp_extra: Option<&str>) {
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'{}; frame-ancestors 'none'; base-uri 'none'",
        csp_extra.unwrap_or("")
    );
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// The form fields of a urlencoded body (repeated names keep the first value).
pub fn form_fields(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().take(64).collect()
}

/// One field.
pub fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The browser-binding cookie's value, or a new one to set (true).
pub fn browser(client: &Client) -> (String, bool) {
    match client.cookie(BROWSER_COOKIE).filter(|b| b.len() >= 20 && b.len() <= 64) {
        Some(b) => (b.to_string(), false),
        None => (portico_core::secret::random_token(24), true),
    }
}

/// Whether the request comes from the browser a flow was bound to (its cookie's digest), so a
/// flow started in one browser cannot be continued in another (login CSRF, RFC 6749 §10.12).
pub fn bound_to_browser(client: &Client, digest: &str) -> bool {
    use portico_core::secret;
    client
        .cookie(BROWSER_COOKIE)
        .is_some_and(|b| secret::constant_time_eq(secret::token_digest(b).as_bytes(), digest.as_bytes()))
}

/// A live flow of the tenant bound to this browser; `gone` is the page for a missing, expired or
/// foreign flow (a flow started in another browser cannot be continued here: login CSRF, RFC 6749
/// §10.12).
pub async fn load_flow(
    state: &AppState,
    tenant: TenantId,
    id: &str,
    client: &Client,
    gone: fn() -> PageError,
) -> Result<portico_store::signin::LoginFlow, PageError> {
    let mut conn = conn(state).await?;
    let f = portico_store::signin::get_flow(&mut conn, tenant, id, state.now_ms()).await?.ok_or_else(gone)?;
    if !bound_to_browser(client, &f.browser_digest) {
        return Err(gone());
    }
    Ok(f)
}
