//! "Block future invitations": the page an invitation email's footer links to. The link carries
//! the address and the inviting tenant sealed with the master key (associated data
//! `unsubscribe`), so only someone holding the mail can block (or allow again) invitations to
//! that address, and nobody can do it for another address by guessing or editing a link.
//!
//! GET shows the address and what blocking means; POST (anonymous-form CSRF: a token derived
//! from the browser cookie, and no foreign Origin) records the choice deployment-wide
//! (`portico_store::b2b::set_unsubscribed`) with the audit entry "Email unsubscribed" or "Email
//! subscribed" in the inviting tenant, in one transaction. Whether invitations honour the list
//! is the invitation code's business.

use std::sync::OnceLock;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use minijinja::{Environment, Value};
use portico_core::ids::TenantId;
use portico_core::secret;
use portico_store::{audit, b2b, tenants};
use serde_json::json;

use super::pages::{Brand, message, messages};
use super::{BROWSER_COOKIE, Client, LANG, PageError, check_csrf, cookie, field, page_headers};
use crate::app::AppState;

/// The associated data of unsubscribe tokens: a value sealed for another purpose does not open.
const AAD: &str = "unsubscribe";

/// The page's path.
pub const PATH: &str = "/invitations/unsubscribe";

/// The sealed token of an address in a tenant's invitation.
pub fn unsubscribe_token(state: &AppState, tenant: TenantId, address: &str) -> String {
    let claim = json!({"t": tenant.to_string(), "a": address.trim()});
    state.dir.keys.master().seal(claim.to_string().as_bytes(), AAD)
}

/// The "Block future invitations" link of an invitation to `address` from `tenant`:
/// `{public_url}/invitations/unsubscribe?t=<token>`.
pub fn unsubscribe_url(state: &AppState, tenant: TenantId, address: &str) -> String {
    let token: String =
        url::form_urlencoded::byte_serialize(unsubscribe_token(state, tenant, address).as_bytes()).collect();
    format!("{}{PATH}?t={token}", state.dir.settings.public_url)
}

/// The tenant and address a token was sealed for; None when it does not open.
fn open(state: &AppState, token: &str) -> Option<(TenantId, String)> {
    let raw = state.dir.keys.master().open(token.trim(), AAD).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    let tenant = TenantId::parse(v["t"].as_str()?)?;
    let address = v["a"].as_str().filter(|a| a.contains('@') && a.len() <= 320)?.to_string();
    Some((tenant, address))
}

fn bad_link(lang: &str) -> PageError {
    PageError::new(StatusCode::BAD_REQUEST, None, "error_link", message(lang, "error_unsubscribe_link"))
}

/// The CSRF token of this anonymous form, derived from the browser cookie (double submit).
fn browser_csrf(browser: &str) -> String {
    secret::token_digest(&format!("unsubscribe-form:{browser}"))
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::Html);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        for (name, src) in [
            ("base.html", include_str!("templates/base.html")),
            ("unsubscribe.html", include_str!("templates/unsubscribe.html")),
        ] {
            // Both templates are part of the binary; a broken one fails the page tests.
            if let Err(e) = env.add_template(name, src) {
                tracing::error!("template {name} does not compile: {e}");
            }
        }
        env
    })
}

struct PageState<'a> {
    lang: &'static str,
    brand: &'a Brand,
    address: &'a str,
    token: &'a str,
    csrf: &'a str,
    blocked: bool,
    done: bool,
}

fn render(p: &PageState<'_>) -> Response {
    let ctx = minijinja::context! {
        m => Value::from(minijinja::value::Serde(messages(p.lang))),
        lang => p.lang,
        brand => Value::from(minijinja::value::Serde(p.brand.clone())),
        request_id => crate::request_id::current(),
        action => PATH,
        address => p.address,
        token => p.token,
        csrf => p.csrf,
        blocked => p.blocked,
        done => p.done,
    };
    let mut r = match environment().get_template("unsubscribe.html").and_then(|t| t.render(ctx)) {
        Ok(h) => Html(h).into_response(),
        Err(e) => PageError::server(&format!("rendering unsubscribe.html failed: {e:#}")).into_response(),
    };
    page_headers(r.headers_mut(), None);
    r
}

async fn brand_of(state: &AppState, tenant: TenantId, lang: &str) -> Result<Brand, PageError> {
    let mut conn = super::conn(state).await?;
    let t = tenants::get(&mut conn, tenant).await?.ok_or_else(|| bad_link(lang))?;
    Ok(Brand::of(&t))
}

/// GET /invitations/unsubscribe?t=...
pub async fn unsubscribe_page(
    State(state): State<AppState>,
    client: Client,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let lang = LANG.try_with(|l| *l).unwrap_or("en");
    let token = field(&q, "t").unwrap_or_default();
    let (tenant, address) = open(&state, token).ok_or_else(|| bad_link(lang))?;
    let brand = brand_of(&state, tenant, lang).await?;
    let blocked = b2b::is_unsubscribed(&mut *super::conn(&state).await?, &address).await?;
    let (b, new) = super::browser(&client);
    let csrf = browser_csrf(&b);
    let mut r = render(&PageState { lang, brand: &brand, address: &address, token, csrf: &csrf, blocked, done: false });
    if new {
        r.headers_mut().append(header::SET_COOKIE, cookie(&state, BROWSER_COOKIE, &b, None));
    }
    Ok(r)
}

/// POST /invitations/unsubscribe (`op` = `unsubscribe` or `subscribe`)
pub async fn unsubscribe_post(
    State(state): State<AppState>,
    client: Client,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let lang = LANG.try_with(|l| *l).unwrap_or("en");
    let form = super::form_fields(&body);
    let (b, _) = super::browser(&client);
    check_csrf(&state, &client, field(&form, "csrf"), &browser_csrf(&b))?;
    let token = field(&form, "t").unwrap_or_default();
    let (tenant, address) = open(&state, token).ok_or_else(|| bad_link(lang))?;
    let block = match field(&form, "op") {
        Some("unsubscribe") => true,
        Some("subscribe") => false,
        _ => return Err(PageError::bad_request(90014, "The form is missing the choice (op).")),
    };
    let brand = brand_of(&state, tenant, lang).await?;
    let now = state.now_ms();
    let mut tx = state.dir.store.begin().await?;
    if b2b::set_unsubscribed(&mut tx, &address, block, now).await? {
        let activity = if block { "Email unsubscribed" } else { "Email subscribed" };
        let target = crate::audit::Target::new(&address, "Other", Some(address.clone())).with_changes(vec![(
            "unsubscribed".into(),
            json!(!block),
            json!(block),
        )]);
        let mut e = crate::audit::entry(
            tenant,
            &crate::audit::Actor::CommandLine,
            activity,
            "UserManagement",
            "Update",
            "Invited Users",
            &[target],
            now,
        );
        // The person who holds the mail acted, not an application or a directory user.
        e.initiated_by = json!({
            "user": {"id": null, "displayName": null, "userPrincipalName": address, "ipAddress": client.ip},
            "app": null
        });
        audit::insert(&mut tx, &e).await?;
        tracing::info!(tenant.id = %tenant, "{activity}: {address}");
    }
    tx.commit().await?;
    let csrf = browser_csrf(&b);
    Ok(render(&PageState { lang, brand: &brand, address: &address, token, csrf: &csrf, blocked: block, done: true }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_page_template_compiles() {
        let env = super::environment();
        assert!(env.get_template("unsubscribe.html").is_ok());
    }
}
