//! The sign-in flow behind `/{tenant}/login`: identify, password, password change, second
//! factor (or its enrollment), "stay signed in?", consent, then the authorization code. Each
//! step is a page; each answer is a POST carrying the flow id and its CSRF token, accepted only
//! from the browser the flow is bound to. Every outcome, success or failure, is a signIn record.

use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portico_core::access::ADMIN_CONSENT_ROLES;
use portico_core::ids::{ObjectId, TenantId};
use portico_core::{secret, totp};
use portico_store::signin::{self, Grant, LoginFlow, Session};
use portico_store::signins::SignIn;
use portico_store::users::User;
use portico_store::{apps, consent, mfa, roles, tenants, throttle, users};
use serde_json::json;

use super::authorize::{AuthRequest, RedirectError, answer, answer_error};
use super::pages::{Brand, message, render};
use super::{Client, PageError, check_csrf, cookie, field, session_cookie_name};
use crate::app::AppState;

/// Failed passwords allowed per (account, address) in [`WINDOW_MS`].
pub const PER_ACCOUNT_AND_ADDRESS: i64 = 5;
/// Failed passwords allowed per account from unfamiliar addresses in [`WINDOW_MS`]; familiar
/// addresses (a successful sign-in in the last 30 days) are not held back by it, so an attacker
/// cannot lock the owner out.
pub const PER_ACCOUNT: i64 = 20;
/// Failed passwords allowed per source address (any account) in [`WINDOW_MS`].
pub const PER_ADDRESS: i64 = 50;
/// Failed second-factor codes per account in [`WINDOW_MS`].
pub const MFA_FAILURES: i64 = 10;
/// The throttling window.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;

/// 303 to the flow's page.
pub fn redirect_to_flow(tenant: TenantId, flow: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("/{tenant}/login?flow={flow}")) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    super::page_headers(r.headers_mut(), None);
    r
}

/// The browser's live session with the tenant, if its user may still sign in.
pub async fn current_session(
    state: &AppState,
    tenant: TenantId,
    client: &Client,
) -> Result<Option<Session>, PageError> {
    let Some(token) = client.cookie(&session_cookie_name(tenant)) else { return Ok(None) };
    let mut conn = super::conn(state).await?;
    let Some(s) = signin::session_by_digest(&mut conn, tenant, &secret::token_digest(token), state.now_ms()).await?
    else {
        return Ok(None);
    };
    let user = users::get(&mut conn, tenant, s.user_id, portico_store::users::Deleted::Exclude).await?;
    let Some(user) = user.filter(|u| u.account_enabled) else { return Ok(None) };
    // A guest's session ends when the home account does (checked on every use).
    if !super::guest::home_account_live(&mut conn, state, &user).await? {
        return Ok(None);
    }
    Ok(Some(s))
}

fn request_of(f: &LoginFlow) -> Result<AuthRequest, PageError> {
    serde_json::from_value(f.request.clone()).map_err(|e| PageError::server(&e))
}

async fn save(state: &AppState, f: &mut LoginFlow, req: &AuthRequest) -> Result<(), PageError> {
    f.request = serde_json::to_value(req).map_err(|e| PageError::server(&e))?;
    let mut conn = super::conn(state).await?;
    signin::update_flow(&mut conn, f).await?;
    Ok(())
}

fn expired() -> PageError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        Some(50058),
        "error_flow",
        "This sign-in took too long or was already used. Go back to the application and sign in again.",
    )
}

/// Loads a flow for this browser.
async fn load(state: &AppState, tenant: TenantId, id: &str, client: &Client) -> Result<LoginFlow, PageError> {
    super::load_flow(state, tenant, id, client, expired).await
}

async fn brand(state: &AppState, tenant: TenantId) -> Result<Brand, PageError> {
    let mut conn = super::conn(state).await?;
    let t = tenants::get(&mut conn, tenant).await?.ok_or_else(|| PageError::unknown_tenant(&tenant.to_string()))?;
    Ok(Brand::of(&t))
}

fn lang_for(req: &AuthRequest, client: &Client, brand: &Brand) -> &'static str {
    portico_core::locale::negotiate(
        req.ui_locales.as_deref(),
        client.accept_language.as_deref(),
        brand.language.as_deref(),
    )
}

/// What a page needs besides the flow.
#[derive(Default)]
struct Extra {
    error: Option<String>,
    notice: Option<String>,
    status: Option<StatusCode>,
}

async fn show(
    state: &AppState,
    client: &Client,
    f: &LoginFlow,
    req: &AuthRequest,
    extra: Extra,
) -> Result<Response, PageError> {
    let tenant = f.tenant_id;
    let b = brand(state, tenant).await?;
    let lang = lang_for(req, client, &b);
    let action = format!("/{tenant}/login");
    // A post of this page may end in a redirect to the client: the CSP's form-action must allow it.
    let csp = super::form_action_for(&req.redirect_uri);
    let csp = csp.as_deref();
    let reset_url = format!("/{tenant}/reset");
    let mut conn = super::conn(state).await?;
    let user = match f.user_id {
        Some(u) => users::get(&mut conn, tenant, u, portico_store::users::Deleted::Exclude).await?,
        None => None,
    };
    let login = user.as_ref().map(|u| u.user_principal_name.clone()).or_else(|| f.login_name.clone());
    let base = minijinja::context! {
        flow => f.id.clone(), csrf => f.csrf.clone(), action => action, reset_url => reset_url, app => req.app_name.clone(),
        login => login.clone(), error => extra.error, notice => extra.notice,
    };
    let page = match f.stage.as_str() {
        "identify" => render(lang, Some(&b), "identify.html", base, csp),
        "password" => render(lang, Some(&b), "password.html", base, csp),
        "change_password" => render(lang, Some(&b), "change_password.html", base, csp),
        "mfa" => {
            let methods = match f.user_id {
                Some(u) => mfa::methods(&mut conn, tenant, u).await?,
                None => vec![],
            };
            let has_totp = methods.iter().any(|m| m.kind == "softwareOath");
            let email_ok = tenants::sign_in_policy(&mut conn, tenant)
                .await?
                .get("emailOtpAsSecondFactor")
                .and_then(|v| v.as_bool())
                .unwrap_or(true);
            let has_mail = email_ok && user.as_ref().is_some_and(|u| u.mail.is_some());
            let ctx = minijinja::context! { has_totp => has_totp, has_mail => has_mail, email_sent => req.email_sent, ..base };
            render(lang, Some(&b), "mfa.html", ctx, csp)
        }
        "enroll" => {
            let secret_bytes = req
                .pending_totp
                .as_deref()
                .and_then(|s| state.dir.keys.master().open(s, &format!("flow-totp:{}", f.id)).ok())
                .unwrap_or_default();
            let account = login.clone().unwrap_or_default();
            let uri = totp::otpauth_uri(&b.name, &account, &secret_bytes);
            let ctx = minijinja::context! {
                qr_svg => totp::qr_svg(&uri), secret => totp::base32_encode(&secret_bytes), otpauth_uri => uri, ..base
            };
            render(lang, Some(&b), "enroll.html", ctx, csp)
        }
        "recovery_codes" => {
            let ctx = minijinja::context! { codes => req.recovery_display.clone(), ..base };
            render(lang, Some(&b), "recovery_codes.html", ctx, csp)
        }
        "kmsi" => render(lang, Some(&b), "kmsi.html", base, csp),
        "consent" => {
            let wids = match f.user_id {
                Some(u) => roles::roles_of(&mut conn, tenant, u).await?,
                None => vec![],
            };
            let admin = wids.iter().any(|w| ADMIN_CONSENT_ROLES.iter().any(|r| r.eq_ignore_ascii_case(w)));
            let scopes: Vec<_> = req
                .oidc_scopes
                .iter()
                .filter_map(|s| portico_core::access::scope_by_name(s))
                .map(|s| json!({"name": s.name, "description": s.description}))
                .chain(
                    req.resource_scopes
                        .iter()
                        .map(|(n, d, _)| json!({"name": format!("{}{n}", req.resource_prefix), "description": d})),
                )
                .collect();
            let scopes = minijinja::Value::from(minijinja::value::Serde(scopes));
            let ctx = minijinja::context! { scopes => scopes, can_consent_for_org => admin, ..base };
            render(lang, Some(&b), "consent.html", ctx, csp)
        }
        "select_account" => render(lang, Some(&b), "select_account.html", base, csp),
        _ => return Err(expired()),
    };
    let mut page = page;
    if let Some(s) = extra.status {
        *page.status_mut() = s;
    }
    Ok(page)
}

/// GET /{tenant}/login?flow=ID
pub async fn login_page(
    State(state): State<AppState>,
    axum::extract::Path(tenant_key): axum::extract::Path<String>,
    client: Client,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let tenant = TenantId::parse(&tenant_key).ok_or_else(|| PageError::unknown_tenant(&tenant_key))?;
    let id = field(&q, "flow").ok_or_else(expired)?;
    let f = load(&state, tenant, id, &client).await?;
    let req = request_of(&f)?;
    show(&state, &client, &f, &req, Extra::default()).await
}

/// POST /{tenant}/login
pub async fn login_post(
    State(state): State<AppState>,
    axum::extract::Path(tenant_key): axum::extract::Path<String>,
    client: Client,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let tenant = TenantId::parse(&tenant_key).ok_or_else(|| PageError::unknown_tenant(&tenant_key))?;
    let form = super::form_fields(&body);
    let id = field(&form, "flow").ok_or_else(expired)?;
    let mut f = load(&state, tenant, id, &client).await?;
    check_csrf(&state, &client, field(&form, "csrf"), &f.csrf)?;
    let mut req = request_of(&f)?;
    let step = field(&form, "step").unwrap_or_default();
    if step != f.stage && step != "restart" {
        // An old tab or a replayed form: show where the flow really is.
        return show(&state, &client, &f, &req, Extra::default()).await;
    }
    let b = brand(&state, tenant).await?;
    let lang = lang_for(&req, &client, &b);
    match step {
        "restart" => {
            f.stage = "identify".into();
            f.user_id = None;
            f.amr.clear();
            f.auth_time = None;
            f.session_id = None;
            save(&state, &mut f, &req).await?;
            show(&state, &client, &f, &req, Extra::default()).await
        }
        "identify" => {
            let login: String = field(&form, "login").unwrap_or_default().trim().chars().take(256).collect();
            if login.is_empty() {
                return show(
                    &state,
                    &client,
                    &f,
                    &req,
                    Extra { error: Some(message(lang, "email_or_upn")), ..Extra::default() },
                )
                .await;
            }
            f.login_name = Some(login.clone());
            f.stage = "password".into();
            save(&state, &mut f, &req).await?;
            // Guests of the tenant authenticate at their own identity provider (identity-first
            // home-realm discovery, as in Entra); an unknown name still gets the password page,
            // so whether a member account exists is not revealed (ASVS 6.3.8).
            if f.user_id.is_none()
                && let Some(r) = super::guest::sign_in_as_guest(&state, &client, &f, &login).await?
            {
                return Ok(r);
            }
            show(&state, &client, &f, &req, Extra::default()).await
        }
        "password" => password_step(&state, &client, f, req, &form, lang).await,
        "change_password" => {
            let new = field(&form, "new_password").unwrap_or_default();
            let confirm = field(&form, "confirm").unwrap_or_default();
            let Some(user_id) = f.user_id else { return Err(expired()) };
            let mut conn = super::conn(&state).await?;
            let user = users::get(&mut conn, tenant, user_id, portico_store::users::Deleted::Exclude)
                .await?
                .ok_or_else(expired)?;
            drop(conn);
            let problem = if new != confirm {
                Some(message(lang, "passwords_differ"))
            } else {
                check_new_password(new, &user).err()
            };
            if let Some(error) = problem {
                return show(&state, &client, &f, &req, Extra { error: Some(error), ..Extra::default() }).await;
            }
            set_password(&state, &user, new, "Change user password").await?;
            f.stage = "continue".into();
            advance(&state, &client, f, req).await
        }
        "mfa" => mfa_step(&state, &client, f, req, &form, lang).await,
        "enroll" => enroll_step(&state, &client, f, req, &form, lang).await,
        "recovery_codes" => {
            req.recovery_display.clear();
            f.stage = "continue".into();
            save(&state, &mut f, &req).await?;
            advance(&state, &client, f, req).await
        }
        "kmsi" => {
            let persistent = field(&form, "stay") == Some("yes");
            let (session, token) = start_session(&state, &client, &f, persistent).await?;
            f.session_id = Some(session.id.clone());
            f.stage = "continue".into();
            save(&state, &mut f, &req).await?;
            let mut r = advance(&state, &client, f, req).await?;
            let age = persistent.then_some(state.dir.settings.sessions.persistent_session_secs);
            r.headers_mut().append(header::SET_COOKIE, cookie(&state, &session_cookie_name(tenant), &token, age));
            Ok(r)
        }
        "consent" => {
            if field(&form, "decision") != Some("accept") {
                let user = f.user_id;
                log_sign_in(
                    &state,
                    &client,
                    tenant,
                    &req,
                    user,
                    65004,
                    Some("User declined to consent to access the app."),
                    &f.amr,
                )
                .await?;
                delete_flow(&state, &f).await?;
                return Ok(answer_error(
                    &state,
                    tenant,
                    &req,
                    RedirectError {
                        error: "access_denied",
                        code: 65004,
                        description: "User declined to consent to access the app.".into(),
                    },
                ));
            }
            let for_org = field(&form, "org") == Some("1");
            record_consent(&state, &f, &req, for_org).await?;
            req.consent_done = true;
            f.stage = "continue".into();
            save(&state, &mut f, &req).await?;
            advance(&state, &client, f, req).await
        }
        "select_account" => {
            req.account_picked = true;
            if field(&form, "choice") == Some("other") {
                f.stage = "identify".into();
                f.user_id = None;
                f.amr.clear();
                f.auth_time = None;
                f.session_id = None;
                save(&state, &mut f, &req).await?;
                return show(&state, &client, &f, &req, Extra::default()).await;
            }
            f.stage = "continue".into();
            save(&state, &mut f, &req).await?;
            advance(&state, &client, f, req).await
        }
        _ => show(&state, &client, &f, &req, Extra::default()).await,
    }
}

/// Goes on with a sign-in flow after a guest authenticated at their identity provider.
pub async fn continue_after_guest(state: &AppState, client: &Client, mut f: LoginFlow) -> Result<Response, PageError> {
    let req = request_of(&f)?;
    save(state, &mut f, &req).await?;
    advance(state, client, f, req).await
}

/// Adds authentication methods the flow has now proved (`amr`), each once.
fn add_amr(f: &mut LoginFlow, methods: &[&str]) {
    for m in methods {
        if !f.amr.iter().any(|x| x == m) {
            f.amr.push((*m).to_string());
        }
    }
}

/// A digest every unknown account is checked against, so that a wrong name costs the same as a
/// wrong password (ASVS 6.3.8).
fn decoy_hash(state: &AppState) -> String {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY
        .get_or_init(|| secret::hash_password(&secret::random_token(24), state.dir.password_cost).unwrap_or_default())
        .clone()
}

/// Runs Argon2 off the async threads, at most one per core at a time (checklist item 22).
pub async fn verify_password_blocking(password: String, hash: String) -> bool {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let permits = PERMITS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2))
    });
    let Ok(_permit) = permits.acquire().await else { return false };
    metrics::counter!("portico_password_verifications_total").increment(1);
    tokio::task::spawn_blocking(move || secret::verify_password(&password, &hash)).await.unwrap_or(false)
}

async fn password_step(
    state: &AppState,
    client: &Client,
    mut f: LoginFlow,
    mut req: AuthRequest,
    form: &[(String, String)],
    lang: &'static str,
) -> Result<Response, PageError> {
    let tenant = f.tenant_id;
    let now = state.now_ms();
    let login = f.login_name.clone().unwrap_or_default();
    let login_key = login.to_lowercase();
    let k_pair = format!("pwd:{tenant}:{login_key}:{}", client.ip);
    let k_account = format!("pwd:{tenant}:{login_key}");
    let k_ip = format!("ip:{}", client.ip);
    let mut conn = super::conn(state).await?;
    let user = users::find_for_sign_in(&mut conn, tenant, &login).await?;
    let familiar = match &user {
        Some(u) => {
            portico_store::signins::familiar_address(&mut conn, tenant, u.id, &client.ip, now - 30 * 86_400_000).await?
        }
        None => false,
    };
    let blocked = throttle::failures(&mut conn, &k_pair, now, WINDOW_MS).await? >= PER_ACCOUNT_AND_ADDRESS
        || throttle::failures(&mut conn, &k_ip, now, WINDOW_MS).await? >= PER_ADDRESS
        || (!familiar && throttle::failures(&mut conn, &k_account, now, WINDOW_MS).await? >= PER_ACCOUNT);
    drop(conn);
    if blocked {
        metrics::counter!("portico_sign_in_throttled_total").increment(1);
        log_sign_in(
            state,
            client,
            tenant,
            &req,
            user.as_ref().map(|u| u.id),
            50053,
            Some("Sign-in was blocked: too many failed attempts from this address or for this account."),
            &[],
        )
        .await?;
        let mut r = show(
            state,
            client,
            &f,
            &req,
            Extra {
                error: Some(message(lang, "throttled")),
                status: Some(StatusCode::TOO_MANY_REQUESTS),
                ..Extra::default()
            },
        )
        .await?;
        r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("900"));
        return Ok(r);
    }
    let password: String = field(form, "password").unwrap_or_default().chars().take(1024).collect();
    let hash = user.as_ref().and_then(|u| u.password_hash.clone()).unwrap_or_else(|| decoy_hash(state));
    let ok = verify_password_blocking(password, hash).await && user.as_ref().is_some_and(|u| u.password_hash.is_some());
    let Some(user) = user.filter(|_| ok) else {
        let mut conn = super::conn(state).await?;
        for k in [&k_pair, &k_account, &k_ip] {
            throttle::record_failure(&mut conn, k, now, WINDOW_MS).await?;
        }
        drop(conn);
        log_sign_in_named(
            state,
            client,
            tenant,
            &req,
            None,
            Some(&login),
            50126,
            Some("Error validating credentials due to invalid username or password."),
            &[],
        )
        .await?;
        return show(
            state,
            client,
            &f,
            &req,
            Extra { error: Some(message(lang, "invalid_credentials")), ..Extra::default() },
        )
        .await;
    };
    if !user.account_enabled {
        log_sign_in(state, client, tenant, &req, Some(user.id), 50057, Some("User account is disabled."), &[]).await?;
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            Some(50057),
            "error_access",
            message(lang, "account_disabled"),
        ));
    }
    let mut conn = super::conn(state).await?;
    throttle::clear(&mut conn, &k_pair).await?;
    drop(conn);
    f.user_id = Some(user.id);
    f.amr = vec!["pwd".into()];
    f.auth_time = Some(now);
    f.session_id = None;
    req.fresh_password = true;
    f.stage = if user.force_change_password { "change_password".into() } else { "continue".into() };
    save(state, &mut f, &req).await?;
    if f.stage == "change_password" {
        return show(state, client, &f, &req, Extra::default()).await;
    }
    advance(state, client, f, req).await
}

/// Checks a new password against the policy; the error is for the page.
pub fn check_new_password(new: &str, user: &User) -> Result<(), String> {
    let local = user.user_principal_name.split('@').next().unwrap_or_default();
    portico_core::password::check_password(new, &[local, &user.display_name]).map_err(|p| p.message())
}

/// Sets a password the user chose, ends their other sessions and refresh tokens, and audits it.
pub async fn set_password(state: &AppState, user: &User, new: &str, activity: &str) -> Result<(), PageError> {
    let cost = state.dir.password_cost;
    let new = new.to_string();
    let hash = tokio::task::spawn_blocking(move || secret::hash_password(&new, cost))
        .await
        .map_err(|e| PageError::server(&e))?
        .map_err(|_| PageError::server(&"password hashing failed"))?;
    let now = state.now_ms();
    let mut tx = state.dir.store.begin().await?;
    users::set_password(&mut tx, user.tenant_id, user.id, &hash, false, now).await?;
    signin::revoke_user(&mut tx, user.tenant_id, user.id, now, "password changed").await?;
    let actor = crate::audit::Actor::User { id: user.id, user_principal_name: user.user_principal_name.clone() };
    let target = crate::audit::Target::new(user.id, "User", Some(user.user_principal_name.clone()));
    let e = crate::audit::entry(
        user.tenant_id,
        &actor,
        activity,
        "UserManagement",
        "Update",
        "Self-service Password Management",
        &[target],
        now,
    );
    portico_store::audit::insert(&mut tx, &e).await?;
    tx.commit().await?;
    Ok(())
}

/// Whether the user must prove a second factor, whether they have an authenticator app, and
/// whether an email code may serve as the second factor (tenant setting, on by default; ASVS
/// level 3 deployments turn it off).
async fn mfa_required(state: &AppState, tenant: TenantId, user: ObjectId) -> Result<(bool, bool, bool), PageError> {
    let mut conn = super::conn(state).await?;
    let policy = tenants::sign_in_policy(&mut conn, tenant).await?;
    let has_totp = mfa::methods(&mut conn, tenant, user).await?.iter().any(|m| m.kind == "softwareOath");
    let required = policy.get("securityDefaults").and_then(|v| v.as_bool()).unwrap_or(false) || has_totp;
    let email_ok = policy.get("emailOtpAsSecondFactor").and_then(|v| v.as_bool()).unwrap_or(true);
    Ok((required, has_totp, email_ok))
}

async fn mfa_step(
    state: &AppState,
    client: &Client,
    mut f: LoginFlow,
    mut req: AuthRequest,
    form: &[(String, String)],
    lang: &'static str,
) -> Result<Response, PageError> {
    let tenant = f.tenant_id;
    let user_id = f.user_id.ok_or_else(expired)?;
    let now = state.now_ms();
    let code: String =
        field(form, "code").unwrap_or_default().chars().filter(|c| !c.is_whitespace()).take(32).collect();
    let k_mfa = format!("mfa:{tenant}:{user_id}");
    let mut conn = super::conn(state).await?;
    if throttle::failures(&mut conn, &k_mfa, now, WINDOW_MS).await? >= MFA_FAILURES {
        drop(conn);
        log_sign_in(
            state,
            client,
            tenant,
            &req,
            Some(user_id),
            500121,
            Some("Too many failed second-factor attempts."),
            &f.amr,
        )
        .await?;
        return show(
            state,
            client,
            &f,
            &req,
            Extra {
                error: Some(message(lang, "throttled")),
                status: Some(StatusCode::TOO_MANY_REQUESTS),
                ..Extra::default()
            },
        )
        .await;
    }
    let (_, _, email_ok) = mfa_required(state, tenant, user_id).await?;
    let method = field(form, "method").unwrap_or_default();
    let method = if !email_ok && method.starts_with("email") { "" } else { method };
    let proved: Option<&[&str]> = match method {
        "totp" => {
            let methods = mfa::methods(&mut conn, tenant, user_id).await?;
            let mut ok = false;
            for m in methods.iter().filter(|m| m.kind == "softwareOath") {
                let Some(seed) = m
                    .sealed_secret
                    .as_deref()
                    .and_then(|s| state.dir.keys.master().open(s, &format!("totp:{}", m.id)).ok())
                else {
                    continue;
                };
                if let Some(step) = totp::verify(&seed, &code, now / 1000, m.last_step)
                    && mfa::advance_step(&mut conn, tenant, m.id, step).await?
                {
                    ok = true;
                    break;
                }
            }
            ok.then_some(&["otp", "mfa"][..])
        }
        "recovery" => {
            let normal: String = code.to_ascii_uppercase().chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            mfa::use_recovery_code(&mut conn, tenant, user_id, &secret::token_digest(&normal), now)
                .await?
                .then_some(&["mfa"][..])
        }
        "email_send" => {
            drop(conn);
            send_email_code(state, &f, user_id).await?;
            req.email_sent = true;
            save(state, &mut f, &req).await?;
            return show(
                state,
                client,
                &f,
                &req,
                Extra { notice: Some(message(lang, "email_code_sent")), ..Extra::default() },
            )
            .await;
        }
        "email_code" => match mfa::code_for_flow(&mut conn, tenant, &f.id, "email_otp", now).await? {
            Some(c) if c.attempts < 5 => {
                if secret::constant_time_eq(secret::token_digest(&code).as_bytes(), c.digest.as_bytes()) {
                    mfa::spend_code(&mut conn, c.id, now).await?.then_some(&["otp", "mfa"][..])
                } else {
                    mfa::count_attempt(&mut conn, c.id).await?;
                    None
                }
            }
            _ => None,
        },
        _ => None,
    };
    let Some(amr) = proved else {
        throttle::record_failure(&mut conn, &k_mfa, now, WINDOW_MS).await?;
        drop(conn);
        log_sign_in(
            state,
            client,
            tenant,
            &req,
            Some(user_id),
            500121,
            Some("Authentication failed during strong authentication request."),
            &f.amr,
        )
        .await?;
        return show(state, client, &f, &req, Extra { error: Some(message(lang, "wrong_code")), ..Extra::default() })
            .await;
    };
    throttle::clear(&mut conn, &k_mfa).await?;
    drop(conn);
    add_amr(&mut f, amr);
    f.stage = "continue".into();
    save(state, &mut f, &req).await?;
    advance(state, client, f, req).await
}

async fn send_email_code(state: &AppState, f: &LoginFlow, user_id: ObjectId) -> Result<(), PageError> {
    let tenant = f.tenant_id;
    let now = state.now_ms();
    let mut tx = state.dir.store.begin().await?;
    let user =
        users::get(&mut tx, tenant, user_id, portico_store::users::Deleted::Exclude).await?.ok_or_else(expired)?;
    let Some(mail) = user.mail.clone() else { return Ok(()) };
    let code = secret::random_digits(6);
    let lifetime = state.dir.settings.sessions.email_code_secs;
    mfa::insert_code(
        &mut tx,
        &mfa::OneTimeCode {
            id: ObjectId::new(),
            tenant_id: tenant,
            user_id,
            purpose: "email_otp".into(),
            digest: secret::token_digest(&code),
            bound_to: Some(f.id.clone()),
            attempts: 0,
            created_at: now,
            expires_at: now + lifetime * 1000,
            used_at: None,
        },
    )
    .await?;
    let text = format!(
        "Your verification code is {code}\n\nIt is valid for {} minutes. If you did not try to sign in, someone may know your password: change it.",
        lifetime / 60
    );
    crate::mail::keep(&mut tx, Some(tenant), &mail, "Your verification code", &text, "email_otp", now).await?;
    tx.commit().await?;
    Ok(())
}

async fn enroll_step(
    state: &AppState,
    client: &Client,
    mut f: LoginFlow,
    mut req: AuthRequest,
    form: &[(String, String)],
    lang: &'static str,
) -> Result<Response, PageError> {
    let tenant = f.tenant_id;
    let user_id = f.user_id.ok_or_else(expired)?;
    let aad = format!("flow-totp:{}", f.id);
    let seed =
        req.pending_totp.as_deref().and_then(|s| state.dir.keys.master().open(s, &aad).ok()).ok_or_else(expired)?;
    let now = state.now_ms();
    let code = field(form, "code").unwrap_or_default();
    let Some(step) = totp::verify(&seed, code, now / 1000, None) else {
        return show(state, client, &f, &req, Extra { error: Some(message(lang, "wrong_code")), ..Extra::default() })
            .await;
    };
    let method_id = ObjectId::new();
    let codes: Vec<String> = (0..10).map(|_| recovery_code()).collect();
    let digests: Vec<String> = codes.iter().map(|c| secret::token_digest(&c.replace('-', ""))).collect();
    let mut tx = state.dir.store.begin().await?;
    mfa::insert_method(
        &mut tx,
        &mfa::AuthMethod {
            id: method_id,
            tenant_id: tenant,
            user_id,
            kind: "softwareOath".into(),
            display_name: Some("Authenticator app".into()),
            sealed_secret: Some(state.dir.keys.master().seal(&seed, &format!("totp:{method_id}"))),
            last_step: Some(step),
            created_at: now,
        },
    )
    .await?;
    mfa::replace_recovery_codes(&mut tx, tenant, user_id, &digests).await?;
    let user =
        users::get(&mut tx, tenant, user_id, portico_store::users::Deleted::Exclude).await?.ok_or_else(expired)?;
    let actor = crate::audit::Actor::User { id: user.id, user_principal_name: user.user_principal_name.clone() };
    let target = crate::audit::Target::new(user.id, "User", Some(user.user_principal_name.clone()));
    let e = crate::audit::entry(
        tenant,
        &actor,
        "User registered security info",
        "UserManagement",
        "Add",
        "Authentication Methods",
        &[target],
        now,
    );
    portico_store::audit::insert(&mut tx, &e).await?;
    tx.commit().await?;
    add_amr(&mut f, &["otp", "mfa"]);
    req.pending_totp = None;
    req.recovery_display = codes;
    f.stage = "recovery_codes".into();
    save(state, &mut f, &req).await?;
    show(state, client, &f, &req, Extra::default()).await
}

/// A recovery code: 10 characters from an alphabet without look-alikes, shown as XXXXX-XXXXX
/// (about 50 bits).
fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let raw = secret::random_bytes(10);
    let s: String = raw.iter().map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char).collect();
    format!("{}-{}", &s[..5], &s[5..])
}

async fn start_session(
    state: &AppState,
    client: &Client,
    f: &LoginFlow,
    persistent: bool,
) -> Result<(Session, String), PageError> {
    let now = state.now_ms();
    let token = secret::random_token(32);
    let lifetime = if persistent {
        state.dir.settings.sessions.persistent_session_secs
    } else {
        state.dir.settings.sessions.session_secs
    };
    let s = Session {
        id: ObjectId::new().to_string(),
        token_digest: secret::token_digest(&token),
        tenant_id: f.tenant_id,
        user_id: f.user_id.ok_or_else(expired)?,
        csrf: secret::random_token(24),
        auth_time: f.auth_time.unwrap_or(now),
        amr: f.amr.clone(),
        persistent,
        ip_address: Some(client.ip.clone()),
        user_agent: client.user_agent.clone(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + lifetime * 1000,
        revoked_at: None,
    };
    let mut conn = super::conn(state).await?;
    signin::insert_session(&mut conn, &s).await?;
    Ok((s, token))
}

/// The scopes the user still has to consent to (none when consent covers them all).
async fn missing_consent(
    state: &AppState,
    tenant: TenantId,
    user: ObjectId,
    req: &AuthRequest,
) -> Result<Vec<String>, PageError> {
    let mut conn = super::conn(state).await?;
    let (Some(client), Some(resource)) = (ObjectId::parse(&req.client_sp), ObjectId::parse(&req.resource_sp)) else {
        return Err(PageError::server(&"bad service principal id in flow"));
    };
    let grants = consent::applicable(&mut conn, tenant, client, resource, user).await?;
    let granted: Vec<String> =
        grants.iter().flat_map(|g| g.scope.split(' ').map(str::to_lowercase).collect::<Vec<_>>()).collect();
    let mut wanted: Vec<String> = req.resource_scopes.iter().map(|(n, _, _)| n.clone()).collect();
    // The OpenID scopes are Graph's; they need consent when the resource is Graph (Entra).
    if req.resource == portico_core::access::GRAPH_RESOURCE {
        wanted.extend(req.oidc_scopes.iter().cloned());
    }
    Ok(wanted.into_iter().filter(|w| !granted.contains(&w.to_lowercase())).collect())
}

async fn is_consent_admin(state: &AppState, tenant: TenantId, user: ObjectId) -> Result<bool, PageError> {
    let mut conn = super::conn(state).await?;
    let wids = roles::roles_of(&mut conn, tenant, user).await?;
    Ok(wids.iter().any(|w| ADMIN_CONSENT_ROLES.iter().any(|r| r.eq_ignore_ascii_case(w))))
}

async fn record_consent(state: &AppState, f: &LoginFlow, req: &AuthRequest, for_org: bool) -> Result<(), PageError> {
    let tenant = f.tenant_id;
    let user_id = f.user_id.ok_or_else(expired)?;
    let now = state.now_ms();
    let (Some(client), Some(resource)) = (ObjectId::parse(&req.client_sp), ObjectId::parse(&req.resource_sp)) else {
        return Err(PageError::server(&"bad service principal id in flow"));
    };
    let missing = missing_consent(state, tenant, user_id, req).await?;
    let mut tx = state.dir.store.begin().await?;
    let wids = roles::roles_of(&mut tx, tenant, user_id).await?;
    let admin = wids.iter().any(|w| ADMIN_CONSENT_ROLES.iter().any(|r| r.eq_ignore_ascii_case(w)));
    // Only scopes not granted yet count: an administrator's earlier tenant-wide consent stands.
    let needs_admin =
        req.resource_scopes.iter().any(|(n, _, a)| *a && missing.iter().any(|m| m.eq_ignore_ascii_case(n)));
    if needs_admin && !admin {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            Some(90094),
            "error_admin_consent",
            admin_approval(&req.app_name),
        ));
    }
    let principal = if for_org && admin { None } else { Some(user_id) };
    let mut wanted: Vec<String> = req.resource_scopes.iter().map(|(n, _, _)| n.clone()).collect();
    if req.resource == portico_core::access::GRAPH_RESOURCE {
        wanted.extend(req.oidc_scopes.iter().cloned());
    }
    match consent::find(&mut tx, tenant, client, resource, principal).await? {
        Some(g) => {
            let mut all: Vec<String> = g.scope.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
            for w in wanted {
                if !all.iter().any(|a| a.eq_ignore_ascii_case(&w)) {
                    all.push(w);
                }
            }
            consent::set_scope(&mut tx, tenant, &g.id, &all.join(" ")).await?;
        }
        None => {
            consent::insert(
                &mut tx,
                &consent::PermissionGrant {
                    id: crate::graph::permission_grants::new_grant_id(),
                    tenant_id: tenant,
                    client_id: client,
                    consent_type: if principal.is_some() { "Principal".into() } else { "AllPrincipals".into() },
                    principal_id: principal,
                    resource_id: resource,
                    scope: wanted.join(" "),
                    created_at: now,
                },
            )
            .await?;
        }
    }
    let user =
        users::get(&mut tx, tenant, user_id, portico_store::users::Deleted::Exclude).await?.ok_or_else(expired)?;
    let actor = crate::audit::Actor::User { id: user.id, user_principal_name: user.user_principal_name.clone() };
    let target = crate::audit::Target::new(client, "ServicePrincipal", Some(req.app_name.clone()));
    let e = crate::audit::entry(
        tenant,
        &actor,
        "Consent to application",
        "ApplicationManagement",
        "Assign",
        "Core Directory",
        &[target],
        now,
    );
    portico_store::audit::insert(&mut tx, &e).await?;
    tx.commit().await?;
    Ok(())
}

/// Decides what the flow needs next and shows it, or answers the client.
pub async fn advance(
    state: &AppState,
    client: &Client,
    mut f: LoginFlow,
    req: AuthRequest,
) -> Result<Response, PageError> {
    let tenant = f.tenant_id;
    let silent = req.prompt.as_deref() == Some("none");
    let Some(user_id) = f.user_id else {
        f.stage = "identify".into();
        save(state, &mut f, &req).await?;
        return show(state, client, &f, &req, Extra::default()).await;
    };
    let mut conn = super::conn(state).await?;
    let user = users::get(&mut conn, tenant, user_id, portico_store::users::Deleted::Exclude).await?;
    let Some(user) = user.filter(|u| u.account_enabled) else {
        drop(conn);
        log_sign_in(
            state,
            client,
            tenant,
            &req,
            Some(user_id),
            50057,
            Some("User account is disabled or deleted."),
            &f.amr,
        )
        .await?;
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            Some(50057),
            "error_access",
            "This account is disabled. Contact your administrator.",
        ));
    };
    if req.client_id == super::guest::B2B_CLIENT_ID {
        drop(conn);
        return b2b_outbound(state, client, f, req, &user).await;
    }
    // Applications that require assignment admit only assigned users (directly or by group).
    let client_sp = ObjectId::parse(&req.client_sp).ok_or_else(|| PageError::server(&"bad client id in flow"))?;
    let sp = apps::get_sp(&mut conn, tenant, client_sp).await?.ok_or_else(expired)?;
    if sp.app_role_assignment_required {
        let mut principals = vec![user.id];
        principals.extend(portico_store::groups::transitive_member_of(&mut conn, tenant, user.id).await?);
        if apps::granted_roles_of_any(&mut conn, tenant, &principals, client_sp).await?.is_empty() {
            drop(conn);
            let detail = format!(
                "Your administrator has configured the application {} to block users unless they are specifically granted access.",
                req.app_name
            );
            let reason = "The signed in user is not assigned to a role for the application.";
            return Err(refuse(state, client, &f, &req, user.id, 50105, reason, "error_access", detail).await);
        }
    }
    drop(conn);
    let (mfa_needed, has_totp, email_ok) = mfa_required(state, tenant, user.id).await?;
    if mfa_needed && !f.amr.iter().any(|a| a == "mfa") {
        if silent {
            return Ok(answer_error(
                state,
                tenant,
                &req,
                RedirectError {
                    error: "interaction_required",
                    code: 50076,
                    description: "Multi-factor authentication is required.".into(),
                },
            ));
        }
        return ask_second_factor(state, client, f, req, has_totp || (email_ok && user.mail.is_some())).await;
    }
    if req.prompt.as_deref() == Some("select_account") && !req.account_picked {
        f.stage = "select_account".into();
        save(state, &mut f, &req).await?;
        return show(state, client, &f, &req, Extra::default()).await;
    }
    let mut set_cookie = None;
    if f.session_id.is_none() {
        if req.fresh_password && !silent {
            f.stage = "kmsi".into();
            save(state, &mut f, &req).await?;
            return show(state, client, &f, &req, Extra::default()).await;
        }
        let (s, token) = start_session(state, client, &f, false).await?;
        f.session_id = Some(s.id);
        set_cookie = Some(token);
    } else if req.fresh_password || f.amr.iter().any(|a| a == "mfa") {
        // A step up on an existing session: remember what was proved.
        let mut conn = super::conn(state).await?;
        if let Some(sid) = &f.session_id {
            signin::refresh_session(
                &mut conn,
                tenant,
                sid,
                f.auth_time.unwrap_or(state.now_ms()),
                &f.amr,
                state.now_ms(),
            )
            .await?;
        }
    }
    let missing = missing_consent(state, tenant, user.id, &req).await?;
    if (!missing.is_empty() || req.prompt.as_deref() == Some("consent")) && !req.consent_done {
        if silent {
            return Ok(answer_error(
                state,
                tenant,
                &req,
                RedirectError {
                    error: "consent_required",
                    code: 65001,
                    description: format!(
                        "The user or administrator has not consented to use the application with ID '{}'.",
                        req.client_id
                    ),
                },
            ));
        }
        // Entra: a member asked for scopes only an administrator can grant sees "Need admin
        // approval" at once, not a consent page they cannot accept.
        let needs_admin =
            req.resource_scopes.iter().any(|(n, _, admin)| *admin && missing.iter().any(|m| m.eq_ignore_ascii_case(n)));
        if needs_admin && !is_consent_admin(state, tenant, user.id).await? {
            let reason = "Admin consent is required for the permissions requested by this application.";
            let detail = admin_approval(&req.app_name);
            return Err(refuse(state, client, &f, &req, user.id, 90094, reason, "error_admin_consent", detail).await);
        }
        f.stage = "consent".into();
        save(state, &mut f, &req).await?;
        let mut r = show(state, client, &f, &req, Extra::default()).await?;
        if let Some(t) = set_cookie {
            r.headers_mut().append(header::SET_COOKIE, cookie(state, &session_cookie_name(tenant), &t, None));
        }
        return Ok(r);
    }
    let mut r = finish(state, client, &f, &req, &user).await?;
    if let Some(t) = set_cookie {
        r.headers_mut().append(header::SET_COOKIE, cookie(state, &session_cookie_name(tenant), &t, None));
    }
    Ok(r)
}

/// Shows the second-factor page, or enrollment of an authenticator app when the user has no
/// usable method yet.
async fn ask_second_factor(
    state: &AppState,
    client: &Client,
    mut f: LoginFlow,
    mut req: AuthRequest,
    has_method: bool,
) -> Result<Response, PageError> {
    if has_method {
        f.stage = "mfa".into();
    } else {
        f.stage = "enroll".into();
        let seed = totp::new_secret();
        req.pending_totp = Some(state.dir.keys.master().seal(&seed, &format!("flow-totp:{}", f.id)));
    }
    save(state, &mut f, &req).await?;
    show(state, client, &f, &req, Extra::default()).await
}

/// The home tenant's side of a B2B sign-in: its member authenticated (password, MFA as its
/// rules say); it checks that its rules let the user go out to the resource tenant, then answers
/// the resource tenant with a code. No consent here: the resource tenant asks on redemption.
async fn b2b_outbound(
    state: &AppState,
    client: &Client,
    mut f: LoginFlow,
    req: AuthRequest,
    user: &User,
) -> Result<Response, PageError> {
    let tenant = f.tenant_id;
    if user.user_type.eq_ignore_ascii_case("Guest") || user.external_user_state.is_some() {
        let reason = "Guest accounts cannot be used to sign in to other organizations.";
        let detail = format!(
            "{} is a guest account here; sign in with the account of your own organization.",
            user.user_principal_name
        );
        return Err(refuse(state, client, &f, &req, user.id, 500213, reason, "error_access", detail).await);
    }
    let resource = req.resource.clone();
    if let Some(rt) = TenantId::parse(&resource) {
        let mut conn = super::conn(state).await?;
        if !crate::b2b::policy::outbound_allowed(&mut conn, tenant, rt, user.id).await? {
            drop(conn);
            let reason = "The user's organization does not allow B2B collaboration with the resource organization.";
            let detail =
                "Your organization's cross-tenant access settings do not allow you to sign in to this organization."
                    .to_string();
            return Err(refuse(state, client, &f, &req, user.id, 500213, reason, "error_access", detail).await);
        }
    }
    let (mfa_needed, has_totp, email_ok) = mfa_required(state, tenant, user.id).await?;
    if mfa_needed && !f.amr.iter().any(|a| a == "mfa") {
        return ask_second_factor(state, client, f, req, has_totp || (email_ok && user.mail.is_some())).await;
    }
    let mut set_cookie = None;
    if f.session_id.is_none() {
        let (s, token) = start_session(state, client, &f, false).await?;
        f.session_id = Some(s.id);
        set_cookie = Some(token);
    }
    let mut r = finish(state, client, &f, &req, user).await?;
    if let Some(t) = set_cookie {
        r.headers_mut().append(header::SET_COOKIE, cookie(state, &session_cookie_name(tenant), &t, None));
    }
    Ok(r)
}

fn admin_approval(app: &str) -> String {
    format!(
        "{app} needs permissions that only an administrator can grant. Ask an administrator to grant them for the organization."
    )
}

/// Ends a flow with a refusal page, after its signIn record.
#[expect(clippy::too_many_arguments, reason = "one record, many facts")]
async fn refuse(
    state: &AppState,
    client: &Client,
    f: &LoginFlow,
    req: &AuthRequest,
    user: ObjectId,
    code: u32,
    reason: &str,
    title: &'static str,
    detail: String,
) -> PageError {
    if let Err(e) =
        log_sign_in(state, client, f.tenant_id, req, Some(user), i64::from(code), Some(reason), &f.amr).await
    {
        return e;
    }
    if let Err(e) = delete_flow(state, f).await {
        return e;
    }
    PageError::new(StatusCode::FORBIDDEN, Some(code), title, detail)
}

async fn delete_flow(state: &AppState, f: &LoginFlow) -> Result<(), PageError> {
    let mut conn = super::conn(state).await?;
    signin::delete_flow(&mut conn, f.tenant_id, &f.id).await?;
    Ok(())
}

/// Issues the authorization code and answers the client.
async fn finish(
    state: &AppState,
    client: &Client,
    f: &LoginFlow,
    req: &AuthRequest,
    user: &User,
) -> Result<Response, PageError> {
    let tenant = f.tenant_id;
    let now = state.now_ms();
    let s = &state.dir.settings.sessions;
    let absolute = if req.public_client { s.public_refresh_absolute_secs } else { s.refresh_absolute_secs };
    let grant = Grant {
        id: ObjectId::new(),
        tenant_id: tenant,
        client_id: req.client_id.clone(),
        user_id: user.id,
        session_id: f.session_id.clone(),
        scopes: req.granted_scopes().join(" "),
        resource: req.resource.clone(),
        amr: f.amr.clone(),
        auth_time: f.auth_time.unwrap_or(now),
        public_client: req.public_client,
        created_at: now,
        expires_at: now + absolute * 1000,
        revoked_at: None,
        revoked_reason: None,
    };
    let code = secret::random_token(32);
    let mut tx = state.dir.store.begin().await?;
    signin::insert_grant(&mut tx, &grant).await?;
    signin::insert_code(
        &mut tx,
        &signin::AuthorizationCode {
            digest: secret::token_digest(&code),
            grant_id: grant.id,
            tenant_id: tenant,
            redirect_uri: req.redirect_uri.clone(),
            code_challenge: req.code_challenge.clone(),
            nonce: req.nonce.clone(),
            created_at: now,
            expires_at: now + s.code_secs * 1000,
            used_at: None,
        },
    )
    .await?;
    signin::delete_flow(&mut tx, tenant, &f.id).await?;
    portico_store::signins::insert(
        &mut tx,
        &sign_in_record(state, client, tenant, req, Some(user), None, 0, None, &f.amr),
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("portico_sign_ins_total", "result" => "success").increment(1);
    Ok(answer(state, tenant, req, vec![("code".into(), code)]))
}

/// The tenant id an issuer URL names as a path segment (`https://host/{tenant}/v2.0`, as Portico
/// and Entra ID issuers do).
pub fn tenant_in_issuer(issuer: &str) -> Option<String> {
    let u = url::Url::parse(issuer).ok()?;
    u.path_segments()?.find(|s| uuid::Uuid::parse_str(s).is_ok() && s.len() == 36).map(str::to_lowercase)
}

/// Builds a signIn record of an interactive attempt.
#[expect(clippy::too_many_arguments, reason = "one record, many facts")]
pub fn sign_in_record(
    state: &AppState,
    client: &Client,
    tenant: TenantId,
    req: &AuthRequest,
    user: Option<&User>,
    login: Option<&str>,
    error_code: i64,
    reason: Option<&str>,
    amr: &[String],
) -> SignIn {
    let mfa = amr.iter().any(|a| a == "mfa");
    let details: Vec<serde_json::Value> = amr
        .iter()
        .filter(|a| *a != "mfa")
        .map(|a| {
            json!({
                "authenticationMethod": match a.as_str() { "pwd" => "Password", "otp" => "OATH verification code", _ => "Other" },
                "authenticationStepDateTime": portico_core::clock::graph_datetime(state.now_ms()),
                "succeeded": error_code == 0,
                "authenticationStepRequirement": if a == "pwd" { "Primary authentication" } else { "MFA" },
            })
        })
        .collect();
    // A guest's home tenant: the tenant id in its identity provider's issuer (this or another
    // Portico deployment, Entra ID), when the issuer names one.
    let guest = user.is_some_and(|u| u.user_type == "Guest");
    let home = user.filter(|_| guest).and_then(|u| {
        u.identities.iter().filter(|i| i.sign_in_type == "federated").find_map(|i| tenant_in_issuer(&i.issuer))
    });
    SignIn {
        id: ObjectId::new(),
        tenant_id: tenant,
        created_at: state.now_ms(),
        user_id: user.map(|u| u.id),
        user_principal_name: user.map(|u| u.user_principal_name.clone()).or_else(|| login.map(str::to_owned)),
        user_display_name: user.map(|u| u.display_name.clone()),
        app_id: Some(req.client_id.clone()),
        app_display_name: Some(req.app_name.clone()),
        resource_id: Some(req.resource.clone()),
        resource_display_name: Some(req.resource_name.clone()),
        ip_address: Some(client.ip.clone()),
        client_app_used: "Browser".into(),
        user_agent: client.user_agent.clone(),
        is_interactive: true,
        error_code,
        failure_reason: reason.map(str::to_owned),
        additional_details: None,
        authentication_details: serde_json::Value::Array(details),
        authentication_requirement: if mfa {
            "multiFactorAuthentication".into()
        } else {
            "singleFactorAuthentication".into()
        },
        conditional_access_status: "notApplied".into(),
        home_tenant_id: Some(home.unwrap_or_else(|| tenant.to_string())),
        resource_tenant_id: tenant.to_string(),
        correlation_id: crate::request_id::current(),
        user_type: user.map(|u| u.user_type.to_lowercase()),
        cross_tenant_access_type: if guest { "b2bCollaboration" } else { "none" }.into(),
    }
}

#[expect(clippy::too_many_arguments, reason = "one record, many facts")]
async fn log_sign_in(
    state: &AppState,
    client: &Client,
    tenant: TenantId,
    req: &AuthRequest,
    user: Option<ObjectId>,
    code: i64,
    reason: Option<&str>,
    amr: &[String],
) -> Result<(), PageError> {
    log_sign_in_named(state, client, tenant, req, user, None, code, reason, amr).await
}

#[expect(clippy::too_many_arguments, reason = "one record, many facts")]
async fn log_sign_in_named(
    state: &AppState,
    client: &Client,
    tenant: TenantId,
    req: &AuthRequest,
    user: Option<ObjectId>,
    login: Option<&str>,
    code: i64,
    reason: Option<&str>,
    amr: &[String],
) -> Result<(), PageError> {
    let mut conn = super::conn(state).await?;
    let u = match user {
        Some(id) => users::get(&mut conn, tenant, id, portico_store::users::Deleted::Exclude).await?,
        None => None,
    };
    portico_store::signins::insert(
        &mut conn,
        &sign_in_record(state, client, tenant, req, u.as_ref(), login, code, reason, amr),
    )
    .await?;
    metrics::counter!("portico_sign_ins_total", "result" => "failure").increment(1);
    Ok(())
}
