//! Self-service password reset by email: `/{tenant}/reset` asks for the account and mails a
//! single-use link valid for an hour (to the user's mail or other mails); the link's page sets a
//! new password under the policy, ends every session and refresh token of the user, and keeps
//! the user's second factors (a reset never bypasses MFA). The answer is the same whether or not
//! the account exists.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use portico_core::ids::{ObjectId, TenantId};
use portico_core::secret;
use portico_store::{mfa, throttle, users};

use super::pages::{Brand, message, render};
use super::{BROWSER_COOKIE, Client, PageError, check_csrf, cookie, field};
use crate::app::AppState;

/// Reset requests allowed per source address per 15 minutes.
pub const REQUESTS_PER_ADDRESS: i64 = 10;

async fn tenant_and_brand(state: &AppState, key: &str) -> Result<(TenantId, Brand), PageError> {
    let tenant = TenantId::parse(key).ok_or_else(|| PageError::unknown_tenant(key))?;
    let mut conn = super::conn(state).await?;
    let t = portico_store::tenants::get(&mut conn, tenant).await?.ok_or_else(|| PageError::unknown_tenant(key))?;
    Ok((tenant, Brand::of(&t)))
}

/// The CSRF token of anonymous forms: derived from the browser cookie, which other sites cannot
/// read (double submit).
fn browser_csrf(browser: &str) -> String {
    secret::token_digest(&format!("reset-form:{browser}"))
}

/// GET /{tenant}/reset (and with `?token=` from the mail)
pub async fn reset_page(
    State(state): State<AppState>,
    Path(key): Path<String>,
    client: Client,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let (tenant, brand) = tenant_and_brand(&state, &key).await?;
    let lang = portico_core::locale::negotiate(None, client.accept_language.as_deref(), brand.language.as_deref());
    let (b, new) = super::browser(&client);
    let csrf = browser_csrf(&b);
    let mut r = match field(&q, "token") {
        Some(token) => {
            let ctx =
                minijinja::context! { action => format!("/{tenant}/reset/password"), csrf => csrf, token => token };
            render(lang, Some(&brand), "reset_set.html", ctx, None)
        }
        None => {
            let ctx = minijinja::context! { action => format!("/{tenant}/reset"), csrf => csrf };
            render(lang, Some(&brand), "reset_request.html", ctx, None)
        }
    };
    if new {
        r.headers_mut().append(header::SET_COOKIE, cookie(&state, BROWSER_COOKIE, &b, None));
    }
    Ok(r)
}

/// POST /{tenant}/reset
pub async fn reset_request(
    State(state): State<AppState>,
    Path(key): Path<String>,
    client: Client,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let (tenant, brand) = tenant_and_brand(&state, &key).await?;
    let lang = portico_core::locale::negotiate(None, client.accept_language.as_deref(), brand.language.as_deref());
    let form = super::form_fields(&body);
    let (b, _) = super::browser(&client);
    check_csrf(&state, &client, field(&form, "csrf"), &browser_csrf(&b))?;
    let now = state.now_ms();
    let k_ip = format!("reset:{}", client.ip);
    let mut tx = state.dir.store.begin().await?;
    if throttle::failures(&mut tx, &k_ip, now, super::flow::WINDOW_MS).await? >= REQUESTS_PER_ADDRESS {
        tx.commit().await?;
        let mut r = render(
            lang,
            Some(&brand),
            "reset_request.html",
            minijinja::context! {
                action => format!("/{tenant}/reset"), csrf => browser_csrf(&b), error => message(lang, "throttled"),
            },
            None,
        );
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return Ok(r);
    }
    throttle::record_failure(&mut tx, &k_ip, now, super::flow::WINDOW_MS).await?;
    let login: String = field(&form, "login").unwrap_or_default().trim().chars().take(256).collect();
    let user = users::find_for_sign_in(&mut tx, tenant, &login).await?;
    if let Some(mut u) = user.filter(|u| u.account_enabled && u.password_hash.is_some()) {
        users::load_collections(&mut tx, std::slice::from_mut(&mut u)).await?;
        let to = u.mail.clone().or_else(|| u.other_mails.first().cloned());
        if let Some(to) = to {
            let token = secret::random_token(32);
            let lifetime = state.dir.settings.sessions.reset_link_secs;
            mfa::insert_code(
                &mut tx,
                &mfa::OneTimeCode {
                    id: ObjectId::new(),
                    tenant_id: tenant,
                    user_id: u.id,
                    purpose: "password_reset".into(),
                    digest: secret::token_digest(&token),
                    bound_to: None,
                    attempts: 0,
                    created_at: now,
                    expires_at: now + lifetime * 1000,
                    used_at: None,
                },
            )
            .await?;
            let link = format!("{}/{tenant}/reset?token={token}", state.dir.settings.public_url);
            let text = format!(
                "Someone asked to reset the password of {} at {}.\n\nChoose a new password here (the link works once, for {} minutes):\n{link}\n\nIf it was not you, ignore this mail; your password stays as it is.",
                u.user_principal_name,
                brand.name,
                lifetime / 60
            );
            crate::mail::keep(&mut tx, Some(tenant), &to, "Reset your password", &text, "password_reset", now).await?;
        }
    }
    tx.commit().await?;
    Ok(render(lang, Some(&brand), "reset_sent.html", minijinja::context! {}, None))
}

/// POST /{tenant}/reset/password
pub async fn reset_password(
    State(state): State<AppState>,
    Path(key): Path<String>,
    client: Client,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let (tenant, brand) = tenant_and_brand(&state, &key).await?;
    let lang = portico_core::locale::negotiate(None, client.accept_language.as_deref(), brand.language.as_deref());
    let form = super::form_fields(&body);
    let (b, _) = super::browser(&client);
    check_csrf(&state, &client, field(&form, "csrf"), &browser_csrf(&b))?;
    let token = field(&form, "token").unwrap_or_default();
    let now = state.now_ms();
    let bad_link = || {
        PageError::new(
            StatusCode::BAD_REQUEST,
            None,
            "error_link",
            "The link has expired or was already used. Ask for a new one.",
        )
    };
    let mut conn = super::conn(&state).await?;
    let code = mfa::code_by_digest(&mut conn, tenant, &secret::token_digest(token), "password_reset", now)
        .await?
        .ok_or_else(bad_link)?;
    let user = users::get(&mut conn, tenant, code.user_id, users::Deleted::Exclude).await?.ok_or_else(bad_link)?;
    drop(conn);
    let new = field(&form, "new_password").unwrap_or_default();
    let problem = if new != field(&form, "confirm").unwrap_or_default() {
        Some(message(lang, "passwords_differ"))
    } else {
        super::flow::check_new_password(new, &user).err()
    };
    if let Some(error) = problem {
        let ctx = minijinja::context! { action => format!("/{tenant}/reset/password"), csrf => browser_csrf(&b), token => token, error => error };
        return Ok(render(lang, Some(&brand), "reset_set.html", ctx, None));
    }
    let mut conn = super::conn(&state).await?;
    if !mfa::spend_code(&mut conn, code.id, now).await? {
        return Err(bad_link());
    }
    drop(conn);
    super::flow::set_password(&state, &user, new, "Reset password (self-service)").await?;
    Ok(render(lang, Some(&brand), "reset_done.html", minijinja::context! {}, None))
}
