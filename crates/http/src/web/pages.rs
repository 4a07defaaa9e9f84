//! Rendering: the embedded templates, the message catalogs, the tenant's branding, and the
//! stylesheets pages load (the shared one and a tenant's colours).

use std::collections::HashMap;
use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value};
use portico_core::ids::TenantId;
use portico_store::tenants::Tenant;

use crate::app::AppState;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("templates/base.html")),
    ("error.html", include_str!("templates/error.html")),
    ("identify.html", include_str!("templates/identify.html")),
    ("password.html", include_str!("templates/password.html")),
    ("change_password.html", include_str!("templates/change_password.html")),
    ("mfa.html", include_str!("templates/mfa.html")),
    ("enroll.html", include_str!("templates/enroll.html")),
    ("recovery_codes.html", include_str!("templates/recovery_codes.html")),
    ("kmsi.html", include_str!("templates/kmsi.html")),
    ("consent.html", include_str!("templates/consent.html")),
    ("select_account.html", include_str!("templates/select_account.html")),
    ("form_post.html", include_str!("templates/form_post.html")),
    ("logout.html", include_str!("templates/logout.html")),
    ("signed_out.html", include_str!("templates/signed_out.html")),
    ("reset_request.html", include_str!("templates/reset_request.html")),
    ("reset_sent.html", include_str!("templates/reset_sent.html")),
    ("reset_set.html", include_str!("templates/reset_set.html")),
    ("reset_done.html", include_str!("templates/reset_done.html")),
    ("redeem_start.html", include_str!("templates/redeem_start.html")),
    ("redeem_otp.html", include_str!("templates/redeem_otp.html")),
    ("redeem_consent.html", include_str!("templates/redeem_consent.html")),
    ("redeem_done.html", include_str!("templates/redeem_done.html")),
    ("redeem_no_idp.html", include_str!("templates/redeem_no_idp.html")),
    ("redeem_declined.html", include_str!("templates/redeem_declined.html")),
    ("myaccount.html", include_str!("templates/myaccount.html")),
    ("continue.html", include_str!("templates/continue.html")),
    ("left.html", include_str!("templates/left.html")),
];

const MESSAGES: &[(&str, &str)] = &[("en", include_str!("messages/en.json")), ("de", include_str!("messages/de.json"))];

/// The shared stylesheet.
pub const STYLESHEET: &str = include_str!("templates/portico.css");

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        for (name, src) in TEMPLATES {
            // The templates are part of the binary; a broken one fails the test suite.
            if let Err(e) = env.add_template(name, src) {
                tracing::error!("template {name} does not compile: {e}");
            }
        }
        env
    })
}

/// The message catalog of a language (English for keys another language lacks).
pub fn messages(lang: &str) -> &'static HashMap<String, String> {
    static CATALOGS: OnceLock<HashMap<&'static str, HashMap<String, String>>> = OnceLock::new();
    let all = CATALOGS.get_or_init(|| {
        let en: HashMap<String, String> = serde_json::from_str(MESSAGES[0].1).unwrap_or_default();
        MESSAGES
            .iter()
            .map(|(l, src)| {
                let mut m = en.clone();
                m.extend(serde_json::from_str::<HashMap<String, String>>(src).unwrap_or_default());
                (*l, m)
            })
            .collect()
    });
    all.get(lang).or_else(|| all.get("en")).unwrap_or_else(|| {
        static EMPTY: OnceLock<HashMap<String, String>> = OnceLock::new();
        EMPTY.get_or_init(HashMap::new)
    })
}

/// One message.
pub fn message(lang: &str, key: &str) -> String {
    messages(lang).get(key).cloned().unwrap_or_else(|| key.to_string())
}

/// What pages show of a tenant: its name and its organizationalBranding.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Brand {
    /// Tenant id (for the colours stylesheet).
    pub tenant: String,
    /// Organization name.
    pub name: String,
    /// signInPageText.
    pub sign_in_text: Option<String>,
    /// usernameHintText.
    pub username_hint: Option<String>,
    /// The privacy statement link (customPrivacyAndCookiesUrl, else the organization's).
    pub privacy_url: Option<String>,
    /// Whether the tenant set colours (then pages load its stylesheet).
    pub has_colours: bool,
    /// The tenant's preferred language.
    pub language: Option<String>,
}

impl Brand {
    /// From the tenant record.
    pub fn of(t: &Tenant) -> Self {
        let b = &t.branding;
        let s = |k: &str| b.get(k).and_then(serde_json::Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
        Brand {
            tenant: t.id.to_string(),
            name: t.display_name.clone(),
            sign_in_text: s("signInPageText"),
            username_hint: s("usernameHintText"),
            privacy_url: s("customPrivacyAndCookiesUrl").or_else(|| t.privacy_statement_url.clone()),
            has_colours: s("backgroundColor").is_some(),
            language: t.preferred_language.clone(),
        }
    }
}

/// Renders a page. `csp_extra` widens the Content-Security-Policy (form_post answers).
pub fn render(lang: &str, brand: Option<&Brand>, template: &str, ctx: Value, csp_extra: Option<&str>) -> Response {
    let env = environment();
    let full = minijinja::context! {
        m => Value::from(minijinja::value::Serde(messages(lang))),
        lang => lang,
        brand => brand.map(|b| Value::from(minijinja::value::Serde(b.clone()))),
        request_id => crate::request_id::current(),
        ..ctx
    };
    let html = env.get_template(template).and_then(|t| t.render(full));
    let mut r = match html {
        Ok(h) => Html(h).into_response(),
        Err(e) => {
            tracing::error!("rendering {template} failed: {e:#}");
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                Html(format!(
                    "<!doctype html><title>Error</title><p>The page could not be shown. Request id: {}</p>",
                    crate::request_id::current()
                )),
            )
                .into_response()
        }
    };
    super::page_headers(r.headers_mut(), csp_extra);
    r
}

/// GET /static/portico.css
pub async fn stylesheet() -> Response {
    let mut r = ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLESHEET).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    r
}

/// GET /{tenant}/branding.css: the tenant's colours, as a stylesheet so pages keep a CSP without
/// inline styles. Colours were checked to be `#RRGGBB` when they were set.
pub async fn tenant_stylesheet(State(state): State<AppState>, Path(tenant): Path<String>) -> Response {
    let colour = async {
        let tid = TenantId::parse(&tenant)?;
        let mut conn = state.dir.store.pool().acquire().await.ok()?;
        let t = portico_store::tenants::get(&mut conn, tid).await.ok()??;
        let c = t.branding.get("backgroundColor")?.as_str()?.to_string();
        (c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit())).then_some(c)
    }
    .await;
    let css = match colour {
        Some(c) => format!("body {{ background: {c}; }}\n"),
        None => String::new(),
    };
    let mut r = ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], css).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    r
}
