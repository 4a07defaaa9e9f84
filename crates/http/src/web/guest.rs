//! Guests at the resource tenant: redeeming an invitation (`/{tenant}/redeem?ticket=`) and
//! signing in with the identity linked at redemption.
//!
//! A guest flow is a `login_flows` row whose request is a [`GuestCtx`], bound to the browser
//! like every sign-in flow. Its stages:
//!
//! ```text
//! start ──(Continue)──> resolver ──> home tenant (OIDC, same deployment) ──callback──┐
//!                           │                                                       │
//!                           ├──> email one-time passcode ──(code)───────────────────┤
//!                           └──> "no way to sign in" page                           v
//!                                           redemption: consent ──Accept──> linked, Accepted
//!                                           sign-in: the identity must be the linked one
//! ```
//!
//! The resolver order is a list ([`resolvers`]): a tenant of this deployment that owns the
//! address's domain or has the address as a member; the tenant's external identity providers
//! the domain routes to ([`super::federated`]), in the tenant's precedence order; email one-time
//! passcode when the tenant allows it. The identity used must prove the
//! invited address. Spending the invitation is one conditional UPDATE, so two redemptions
//! racing on one ticket link exactly one identity.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use portico_core::ids::{ObjectId, TenantId};
use portico_core::secret;
use portico_store::b2b::{self as store, FederationRequest, Invitation, status};
use portico_store::federation::{self as fed, IdentityProvider};
use portico_store::signin::{self, LoginFlow};
use portico_store::users::{self, Identity, User};
use portico_store::{audit as audit_store, mfa, tenants, throttle};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::pages::{Brand, message, render};
use super::{BROWSER_COOKIE, Client, PageError, check_csrf, cookie, field, session_cookie_name};
use crate::app::AppState;
use crate::audit::{Actor, Target, entry};
use crate::b2b::policy::{self, PrimaryIdp};

/// The first-party client every tenant of this deployment accepts for B2B sign-ins: the
/// resource tenant asks the guest's home tenant to authenticate the guest with it. Its only
/// redirect URIs are other tenants' `/{tenant}/federation/home/callback`.
pub const B2B_CLIENT_ID: &str = "00000b2b-0000-4000-8000-000000000b2b";

/// The issuer recorded for email one-time passcode identities (as in Entra).
pub const OTP_ISSUER: &str = "mail";

/// Codes sent per address per window (15 minutes).
pub const OTP_SENDS_PER_WINDOW: i64 = 5;
/// Wrong codes before a code stops working.
pub const OTP_TRIES: i64 = 5;

/// What a guest flow carries.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GuestCtx {
    /// Always `guest`.
    pub kind: String,
    /// The guest object.
    pub guest: String,
    /// The address the identity must prove.
    pub address: String,
    /// The invitation being redeemed, if any.
    pub invitation: Option<String>,
    /// The sign-in flow to continue afterwards, if any.
    pub sign_in_flow: Option<String>,
    /// Where to go after redemption.
    pub redirect: Option<String>,
    /// The identity proved: issuer.
    pub issuer: Option<String>,
    /// The identity proved: subject.
    pub subject: Option<String>,
    /// What the identity provider proved (`pwd`, `mfa`, `otp`, ...).
    pub amr: Vec<String>,
    /// When (ms).
    pub auth_time: Option<i64>,
    /// The inviter's name, for pages.
    pub inviter: Option<String>,
    /// Page language.
    pub lang: Option<String>,
    /// The client's redirect URI when a sign-in continues afterwards (for the pages' CSP).
    #[serde(default)]
    pub client_redirect: Option<String>,
}

impl GuestCtx {
    /// The CSP widening for pages whose post may end in a redirect off this server (to
    /// inviteRedirectUrl, or to the client of a sign-in).
    fn csp(&self) -> Option<String> {
        let parts: Vec<String> = [&self.redirect, &self.client_redirect]
            .into_iter()
            .flatten()
            .filter_map(|u| super::form_action_for(u))
            .collect();
        (!parts.is_empty()).then(|| parts.concat())
    }
}

/// A way for the guest to prove who they are.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolver {
    /// A tenant of this deployment (Entra's "managed tenant" discovery).
    HomeTenant(TenantId),
    /// One of the tenant's identity providers that the address's domain routes to (OpenID
    /// Connect, Google, Microsoft, SAML direct federation).
    External(Box<IdentityProvider>),
    /// A one-time passcode sent to the address.
    EmailOtp,
}

/// The redemption order: every resolver that applies to the address, best first. The groups
/// come in the tenant's `primaryIdentityProviderPrecedenceOrder` (cross-tenant access default):
/// `azureActiveDirectory` (a tenant of this deployment owning the domain or having the address
/// as a member, or the Microsoft provider when the domain routes to it), `externalFederation`
/// (SAML direct federation and OpenID Connect providers the domain routes to),
/// `socialIdentityProviders` (Google); then the fallback, the email one-time passcode when the
/// tenant allows it. A domain routes to a provider only when the tenant's configuration lists
/// it (`identity_provider_domains`).
pub async fn resolvers(state: &AppState, tenant: TenantId, address: &str) -> Result<Vec<Resolver>, PageError> {
    let mut out = vec![];
    let mut conn = super::conn(state).await?;
    let domain = address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let order = policy::redemption_order(&mut conn, tenant).await?;
    let routed = fed::provider_for_domain(&mut conn, tenant, domain).await?;
    for group in order.primary {
        if group == PrimaryIdp::AzureActiveDirectory {
            let home = match store::tenant_owning_domain(&mut conn, domain, tenant).await? {
                Some(t) => Some(t),
                None => store::tenant_with_member(&mut conn, address, tenant).await?,
            };
            if let Some(h) = home {
                out.push(Resolver::HomeTenant(h));
            }
        }
        if let Some(p) = routed.as_ref().filter(|p| group_of(&p.kind) == group) {
            out.push(Resolver::External(Box::new(p.clone())));
        }
    }
    // The fallback: Portico's default configured provider is the email one-time passcode.
    if policy::email_otp(&mut conn, tenant).await?.enabled {
        out.push(Resolver::EmailOtp);
    }
    Ok(out)
}

fn group_of(kind: &str) -> PrimaryIdp {
    match crate::federation::providers::precedence_group(kind) {
        "azureActiveDirectory" => PrimaryIdp::AzureActiveDirectory,
        "socialIdentityProviders" => PrimaryIdp::SocialIdentityProviders,
        _ => PrimaryIdp::ExternalFederation,
    }
}

fn issuer_of(state: &AppState, t: TenantId) -> String {
    state.dir.settings.issuer(t)
}

/// The tenant of this deployment whose issuer this is.
pub fn tenant_of_issuer(state: &AppState, issuer: &str) -> Option<TenantId> {
    let prefix = format!("{}/", state.dir.settings.public_url);
    issuer.strip_prefix(&prefix)?.strip_suffix("/v2.0").and_then(TenantId::parse)
}

/// The tenant's provider that issues identities with this issuer (a Microsoft provider's
/// issuer is a template over the home tenant id).
async fn fed_provider_of_issuer(
    state: &AppState,
    tenant: TenantId,
    issuer: &str,
) -> Result<Option<IdentityProvider>, PageError> {
    let mut conn = super::conn(state).await?;
    if let Some(p) = fed::by_issuer(&mut conn, tenant, issuer).await? {
        return Ok(Some(p));
    }
    let templated = fed::list(&mut conn, tenant, Some(fed::kind::MICROSOFT)).await?;
    Ok(templated.into_iter().find(|p| {
        p.issuer.split_once("{tenantid}").is_some_and(|(pre, post)| {
            issuer
                .strip_prefix(pre)
                .and_then(|rest| rest.strip_suffix(post))
                .is_some_and(|tid| uuid::Uuid::parse_str(tid).is_ok())
        })
    }))
}

/// For a guest linked to a home tenant of this deployment: whether the home account may still
/// sign in (exists, enabled, a member). True for every other user.
pub async fn home_account_live(
    conn: &mut sqlx::AnyConnection,
    state: &AppState,
    user: &User,
) -> Result<bool, portico_store::StoreError> {
    if user.external_user_state.is_none() {
        return Ok(true);
    }
    for i in &user.identities {
        if i.sign_in_type == "federated"
            && let (Some(home), Some(sub)) = (tenant_of_issuer(state, &i.issuer), i.issuer_assigned_id.as_deref())
        {
            let Some(oid) = ObjectId::parse(sub) else { return Ok(false) };
            let h = users::get(conn, home, oid, users::Deleted::Exclude).await?;
            return Ok(h.is_some_and(|h| h.account_enabled && h.user_type != "Guest"));
        }
    }
    Ok(true)
}

async fn brand_of(state: &AppState, tenant: TenantId) -> Result<(Brand, tenants::Tenant), PageError> {
    let mut conn = super::conn(state).await?;
    let t = tenants::get(&mut conn, tenant).await?.ok_or_else(|| PageError::unknown_tenant(&tenant.to_string()))?;
    Ok((Brand::of(&t), t))
}

fn lang(client: &Client, brand: &Brand) -> &'static str {
    portico_core::locale::negotiate(None, client.accept_language.as_deref(), brand.language.as_deref())
}

fn ticket_page(status_code: StatusCode, detail: &str) -> PageError {
    PageError::new(status_code, None, "invite_problem", detail.to_string())
}

pub(super) fn ctx_of(f: &LoginFlow) -> Result<GuestCtx, PageError> {
    serde_json::from_value::<GuestCtx>(f.request.clone())
        .ok()
        .filter(|c| c.kind == "guest")
        .ok_or_else(|| PageError::new(StatusCode::BAD_REQUEST, None, "error_flow", "This page has expired."))
}

pub(super) fn expired() -> PageError {
    PageError::new(
        StatusCode::BAD_REQUEST,
        None,
        "error_flow",
        "This page has expired or was opened in another browser. Open the invitation link again.",
    )
}

pub(super) async fn load(
    state: &AppState,
    tenant: TenantId,
    id: &str,
    client: &Client,
) -> Result<LoginFlow, PageError> {
    super::load_flow(state, tenant, id, client, expired).await
}

pub(super) async fn save(state: &AppState, f: &mut LoginFlow, c: &GuestCtx) -> Result<(), PageError> {
    f.request = serde_json::to_value(c).map_err(|e| PageError::server(&e))?;
    let mut conn = super::conn(state).await?;
    signin::update_flow(&mut conn, f).await?;
    Ok(())
}

/// Why an invitation cannot be redeemed now, if it cannot.
fn ticket_problem(i: &Invitation, now: i64) -> Option<&'static str> {
    match i.status.as_str() {
        status::REVOKED => Some(
            "This invitation is no longer valid: the organization replaced or withdrew it. Use the latest invitation you received, or ask the person who invited you for a new one.",
        ),
        status::COMPLETED => None,
        _ if i.expires_at <= now => {
            Some("This invitation has expired. Ask the person who invited you to send a new one.")
        }
        _ => None,
    }
}

/// Starts a guest flow bound to this browser.
#[expect(clippy::too_many_arguments, reason = "a flow starts with many facts")]
async fn start_flow(
    state: &AppState,
    tenant: TenantId,
    browser_cookie: &str,
    guest: &User,
    address: &str,
    invitation: Option<&Invitation>,
    sign_in_flow: Option<String>,
    lang: &str,
) -> Result<LoginFlow, PageError> {
    let now = state.now_ms();
    let ctx = GuestCtx {
        kind: "guest".into(),
        guest: guest.id.to_string(),
        address: address.to_string(),
        invitation: invitation.map(|i| i.id.to_string()),
        sign_in_flow,
        redirect: invitation.map(|i| i.redirect_url.clone()),
        inviter: invitation.and_then(|i| i.inviter_name.clone()),
        lang: Some(lang.to_string()),
        ..GuestCtx::default()
    };
    let f = LoginFlow {
        id: secret::random_token(24),
        tenant_id: tenant,
        browser_digest: secret::token_digest(browser_cookie),
        csrf: secret::random_token(24),
        request: serde_json::to_value(&ctx).map_err(|e| PageError::server(&e))?,
        user_id: Some(guest.id),
        login_name: Some(address.to_string()),
        stage: "start".into(),
        amr: vec![],
        auth_time: None,
        session_id: None,
        created_at: now,
        expires_at: now + state.dir.settings.sessions.flow_secs * 1000,
    };
    let mut conn = super::conn(state).await?;
    signin::insert_flow(&mut conn, &f).await?;
    Ok(f)
}

fn start_page(
    state: &AppState,
    f: &LoginFlow,
    c: &GuestCtx,
    brand: &Brand,
    t: &tenants::Tenant,
    lang: &str,
) -> Response {
    let _ = state;
    let ctx = minijinja::context! {
        action => format!("/{}/redeem", f.tenant_id), flow => f.id.clone(), csrf => f.csrf.clone(),
        org => t.display_name.clone(), domain => t.initial_domain.clone(), inviter => c.inviter.clone(),
        address => c.address.clone(), redirect => c.redirect.clone(), redeeming => c.invitation.is_some(),
    };
    render(lang, Some(brand), "redeem_start.html", ctx, c.csp().as_deref())
}

/// GET /{tenant}/redeem?ticket=
pub async fn redeem_page(
    State(state): State<AppState>,
    Path(key): Path<String>,
    client: Client,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let tenant = TenantId::parse(&key).ok_or_else(|| PageError::unknown_tenant(&key))?;
    let (brand, t) = brand_of(&state, tenant).await?;
    let lang = lang(&client, &brand);
    let ticket = field(&q, "ticket").unwrap_or_default();
    let not_valid = || {
        ticket_page(
            StatusCode::NOT_FOUND,
            "This invitation link is not valid. Check that you opened the whole link from the invitation email.",
        )
    };
    if ticket.len() < 20 || ticket.len() > 100 {
        return Err(not_valid());
    }
    let now = state.now_ms();
    let mut conn = super::conn(&state).await?;
    let inv =
        store::invitation_by_ticket(&mut conn, tenant, &secret::token_digest(ticket)).await?.ok_or_else(not_valid)?;
    if let Some(problem) = ticket_problem(&inv, now) {
        return Err(ticket_page(StatusCode::GONE, problem));
    }
    let guest = users::get(&mut conn, tenant, inv.user_id, users::Deleted::Exclude).await?.ok_or_else(|| {
        ticket_page(StatusCode::GONE, "The account this invitation was for no longer exists in the organization.")
    })?;
    if inv.status == status::COMPLETED {
        // Already redeemed: nothing to accept, the guest signs in where the link leads.
        let ctx = minijinja::context! { org => t.display_name.clone(), redirect => inv.redirect_url.clone() };
        return Ok(render(lang, Some(&brand), "redeem_done.html", ctx, None));
    }
    let domain = inv.email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    if !policy::domain_list(&mut conn, tenant).await?.allows(domain) {
        return Err(ticket_page(
            StatusCode::FORBIDDEN,
            "This organization no longer accepts guests from your domain, so the invitation cannot be redeemed.",
        ));
    }
    drop(conn);
    let (b, new) = super::browser(&client);
    let f = start_flow(&state, tenant, &b, &guest, &inv.email, Some(&inv), None, lang).await?;
    let c = ctx_of(&f)?;
    let mut r = start_page(&state, &f, &c, &brand, &t, lang);
    if new {
        r.headers_mut().append(header::SET_COOKIE, cookie(&state, BROWSER_COOKIE, &b, None));
    }
    Ok(r)
}

/// Called by the sign-in flow when the name typed belongs to a guest of the tenant: starts a
/// guest flow that authenticates at the guest's identity provider and then continues `login`.
/// None when the name is not a guest's (the ordinary password flow goes on).
pub async fn sign_in_as_guest(
    state: &AppState,
    client: &Client,
    login: &LoginFlow,
    name: &str,
) -> Result<Option<Response>, PageError> {
    let tenant = login.tenant_id;
    let mut conn = super::conn(state).await?;
    let Some(id) = store::user_by_invited_address(&mut conn, tenant, name).await? else { return Ok(None) };
    let Some(guest) = users::get(&mut conn, tenant, id, users::Deleted::Exclude).await? else { return Ok(None) };
    let pending = match guest.external_user_state.as_deref() {
        Some(status::PENDING) => {
            let inv = store::latest_invitation(&mut conn, tenant, guest.id).await?;
            match inv {
                Some(i) if i.status == status::PENDING && i.expires_at > state.now_ms() => Some(i),
                _ => {
                    return Err(ticket_page(
                        StatusCode::FORBIDDEN,
                        "Your invitation to this organization has expired or was withdrawn. Ask the person who invited you for a new one.",
                    ));
                }
            }
        }
        _ => None,
    };
    drop(conn);
    let b = client.cookie(BROWSER_COOKIE).ok_or_else(expired)?.to_string();
    let (brand, t) = brand_of(state, tenant).await?;
    let lang = lang(client, &brand);
    let address = pending.as_ref().map(|i| i.email.clone()).or_else(|| guest.mail.clone()).unwrap_or(name.to_string());
    let mut f = start_flow(state, tenant, &b, &guest, &address, pending.as_ref(), Some(login.id.clone()), lang).await?;
    let mut c = ctx_of(&f)?;
    c.client_redirect = login.request["redirect_uri"].as_str().map(str::to_owned);
    save(state, &mut f, &c).await?;
    if pending.is_some() {
        // Just-in-time redemption: the same pages as the invitation link.
        return Ok(Some(start_page(state, &f, &c, &brand, &t, lang)));
    }
    // An accepted guest goes to the identity linked at redemption.
    let linked = guest.identities.iter().find(|i| i.sign_in_type == "federated" || i.issuer == OTP_ISSUER);
    match linked {
        Some(i) if i.issuer == OTP_ISSUER => {
            if !policy::email_otp(&mut *super::conn(state).await?, tenant).await?.enabled {
                return Err(PageError::new(
                    StatusCode::FORBIDDEN,
                    Some(1001001),
                    "error_access",
                    "You signed in to this organization with a one-time passcode, which the organization has turned off. Ask your contact there to reset your invitation.",
                ));
            }
            Ok(Some(send_otp(state, client, &mut f, &mut c, &brand, lang, None).await?))
        }
        Some(i) => match tenant_of_issuer(state, &i.issuer) {
            Some(home) => Ok(Some(to_home(state, &mut f, &c, home).await?)),
            None => {
                let p = fed_provider_of_issuer(state, tenant, &i.issuer).await?;
                match p {
                    Some(p) => Ok(Some(super::federated::to_provider(state, client, &mut f, &c, &p).await?)),
                    None => Err(PageError::new(
                        StatusCode::FORBIDDEN,
                        Some(50107),
                        "error_access",
                        "Your account is linked to an identity provider this organization no longer federates with. Ask your contact there to reset your invitation.",
                    )),
                }
            }
        },
        None => Err(PageError::new(
            StatusCode::FORBIDDEN,
            None,
            "error_access",
            "Your guest account has no identity to sign in with. Ask the organization to reset your invitation.",
        )),
    }
}

/// POST /{tenant}/redeem
pub async fn redeem_post(
    State(state): State<AppState>,
    Path(key): Path<String>,
    client: Client,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let tenant = TenantId::parse(&key).ok_or_else(|| PageError::unknown_tenant(&key))?;
    let form = super::form_fields(&body);
    let id = field(&form, "flow").ok_or_else(expired)?;
    let mut f = load(&state, tenant, id, &client).await?;
    check_csrf(&state, &client, field(&form, "csrf"), &f.csrf)?;
    let mut c = ctx_of(&f)?;
    let (brand, t) = brand_of(&state, tenant).await?;
    let lang = lang(&client, &brand);
    let step = field(&form, "step").unwrap_or_default();
    if step != f.stage {
        return Err(expired());
    }
    match step {
        "start" => {
            let options = resolvers(&state, tenant, &c.address).await?;
            match options.first() {
                Some(Resolver::HomeTenant(home)) => to_home(&state, &mut f, &c, *home).await,
                Some(Resolver::External(p)) => super::federated::to_provider(&state, &client, &mut f, &c, p).await,
                Some(Resolver::EmailOtp) => send_otp(&state, &client, &mut f, &mut c, &brand, lang, None).await,
                None => {
                    let ctx = minijinja::context! { org => t.display_name.clone(), address => c.address.clone() };
                    let mut r = render(lang, Some(&brand), "redeem_no_idp.html", ctx, None);
                    *r.status_mut() = StatusCode::FORBIDDEN;
                    Ok(r)
                }
            }
        }
        "otp" => {
            if field(&form, "resend") == Some("1") {
                return send_otp(&state, &client, &mut f, &mut c, &brand, lang, None).await;
            }
            check_otp(&state, &client, f, c, &brand, lang, field(&form, "code").unwrap_or_default()).await
        }
        "consent" => {
            if field(&form, "decision") != Some("accept") {
                let mut conn = super::conn(&state).await?;
                signin::delete_flow(&mut conn, tenant, &f.id).await?;
                let ctx = minijinja::context! { org => t.display_name.clone() };
                return Ok(render(lang, Some(&brand), "redeem_declined.html", ctx, None));
            }
            redeem(&state, &client, f, c).await
        }
        _ => Err(expired()),
    }
}

/// Sends the browser to the home tenant's authorize endpoint (OIDC with state, nonce, PKCE).
async fn to_home(state: &AppState, f: &mut LoginFlow, c: &GuestCtx, home: TenantId) -> Result<Response, PageError> {
    let now = state.now_ms();
    let verifier = secret::random_token(32);
    let challenge = portico_core::pkce::challenge_s256(&verifier);
    let req = FederationRequest {
        id: secret::random_token(24),
        tenant_id: f.tenant_id,
        browser_digest: f.browser_digest.clone(),
        purpose: if c.invitation.is_some() { "redeem".into() } else { "sign_in".into() },
        context: json!({"flow": f.id, "home": home.to_string()}),
        nonce: secret::random_token(24),
        verifier,
        created_at: now,
        expires_at: now + state.dir.settings.sessions.flow_secs * 1000,
    };
    {
        let mut conn = super::conn(state).await?;
        store::insert_federation_request(&mut conn, &req).await?;
    }
    f.stage = "home".into();
    save(state, f, c).await?;
    let mut url = url::Url::parse(&format!("{}/{home}/oauth2/v2.0/authorize", state.dir.settings.public_url))
        .map_err(|e| PageError::server(&e))?;
    url.query_pairs_mut()
        .append_pair("client_id", B2B_CLIENT_ID)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &callback_url(state, f.tenant_id))
        .append_pair("scope", "openid profile email")
        .append_pair("state", &req.id)
        .append_pair("nonce", &req.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("login_hint", &c.address);
    Ok(see_other(url.as_str()))
}

/// The resource tenant's callback for its home-tenant requests.
pub fn callback_url(state: &AppState, tenant: TenantId) -> String {
    format!("{}/{tenant}/federation/home/callback", state.dir.settings.public_url)
}

pub(super) fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = header::HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    super::page_headers(r.headers_mut(), None);
    r
}

/// GET /{tenant}/federation/home/callback?code=&state=&iss= (or ?error=)
pub async fn home_callback(
    State(state): State<AppState>,
    Path(key): Path<String>,
    client: Client,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let tenant = TenantId::parse(&key).ok_or_else(|| PageError::unknown_tenant(&key))?;
    let now = state.now_ms();
    let sent_state = field(&q, "state").ok_or_else(expired)?;
    let req = {
        let mut conn = super::conn(&state).await?;
        store::take_federation_request(&mut conn, tenant, sent_state, now).await?.ok_or_else(expired)?
    };
    let mine = super::bound_to_browser(&client, &req.browser_digest);
    if !mine {
        return Err(expired());
    }
    let flow_id = req.context["flow"].as_str().unwrap_or_default().to_string();
    let home = req.context["home"].as_str().and_then(TenantId::parse).ok_or_else(expired)?;
    let f = load(&state, tenant, &flow_id, &client).await?;
    let mut c = ctx_of(&f)?;
    if let Some(err) = field(&q, "error") {
        let detail = field(&q, "error_description").unwrap_or(err).chars().take(500).collect::<String>();
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            None,
            "error_access",
            format!("Your organization did not sign you in: {detail}"),
        ));
    }
    // RFC 9207: the answer must come from the tenant we asked.
    if field(&q, "iss") != Some(issuer_of(&state, home).as_str()) {
        return Err(PageError::new(
            StatusCode::BAD_REQUEST,
            None,
            "error_request",
            "The answer did not come from your organization's sign-in service.",
        ));
    }
    let code = field(&q, "code").ok_or_else(expired)?;
    // Redeem the code in-process: same store, same checks as the token endpoint.
    let mut tx = state.dir.store.begin().await?;
    let bad = |why: &str| PageError::new(StatusCode::BAD_REQUEST, None, "error_request", why.to_string());
    let spent = signin::redeem_code(&mut tx, home, &secret::token_digest(code), now).await?;
    let signin::Redeemed::Fresh(ac) = spent else {
        return Err(bad("The sign-in answer was already used or is unknown. Start again."));
    };
    if ac.expires_at <= now
        || ac.redirect_uri != callback_url(&state, tenant)
        || !portico_core::pkce::verify_s256(&req.verifier, &ac.code_challenge)
        || ac.nonce.as_deref() != Some(req.nonce.as_str())
    {
        return Err(bad("The sign-in answer did not match the request."));
    }
    let grant =
        signin::get_grant(&mut tx, home, ac.grant_id).await?.ok_or_else(|| bad("The sign-in answer is unknown."))?;
    tx.commit().await?;
    let mut conn = super::conn(&state).await?;
    let who = users::get(&mut conn, home, grant.user_id, users::Deleted::Exclude)
        .await?
        .filter(|u| u.account_enabled)
        .ok_or_else(|| bad("Your account in your organization cannot sign in."))?;
    drop(conn);
    let issuer = issuer_of(&state, home);
    let subject = who.id.to_string();
    let mut amr = grant.amr.clone();
    amr.push("fed".into());
    let r = proved(&state, &client, f, &mut c, &issuer, &subject, &addresses_of(&who), amr, grant.auth_time).await?;
    Ok(leave_form_chain(&state, r, c.lang.as_deref().unwrap_or("en")))
}

/// This callback is reached through redirects that began with a form post on the home tenant's
/// page, whose CSP (`form-action`) browsers apply to every hop; a last hop to another site (the
/// client, inviteRedirectUrl) is therefore made from a page of its own (a meta refresh and a link).
pub(super) fn leave_form_chain(state: &AppState, r: Response, lang: &str) -> Response {
    let location = r.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let ours = |l: &str| l.starts_with('/') || l.starts_with(&format!("{}/", state.dir.settings.public_url));
    match location {
        Some(l) if r.status() == StatusCode::SEE_OTHER && !ours(&l) => {
            let mut page = continue_page(lang, &l);
            for c in r.headers().get_all(header::SET_COOKIE) {
                page.headers_mut().append(header::SET_COOKIE, c.clone());
            }
            page
        }
        _ => r,
    }
}

/// A page that moves on to `next` by itself (meta refresh) and offers a link.
fn continue_page(lang: &str, next: &str) -> Response {
    render(lang, None, "continue.html", minijinja::context! { next => next }, None)
}

fn addresses_of(u: &User) -> Vec<String> {
    let mut v: Vec<String> = u.mail.iter().cloned().collect();
    v.push(u.user_principal_name.clone());
    v.extend(u.other_mails.iter().cloned());
    v
}

/// An identity was proved; checks it against the guest and goes on (consent or sign-in).
#[expect(clippy::too_many_arguments, reason = "an identity has many facts")]
pub(super) async fn proved(
    state: &AppState,
    client: &Client,
    mut f: LoginFlow,
    c: &mut GuestCtx,
    issuer: &str,
    subject: &str,
    addresses: &[String],
    amr: Vec<String>,
    auth_time: i64,
) -> Result<Response, PageError> {
    let tenant = f.tenant_id;
    let guest_id = ObjectId::parse(&c.guest).ok_or_else(expired)?;
    let mut conn = super::conn(state).await?;
    let guest = users::get(&mut conn, tenant, guest_id, users::Deleted::Exclude).await?.ok_or_else(expired)?;
    drop(conn);
    if c.invitation.is_some() {
        // The invitation is bound to the address: the identity must prove it.
        if !addresses.iter().any(|a| a.eq_ignore_ascii_case(&c.address)) {
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                None,
                "invite_problem",
                format!(
                    "This invitation was sent to {}, but you signed in with another account. Sign in with the account of that address, or ask for an invitation to the address you use.",
                    c.address
                ),
            ));
        }
    } else {
        let linked = guest.identities.iter().any(|i| {
            i.issuer.eq_ignore_ascii_case(issuer)
                && i.issuer_assigned_id.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(subject))
        });
        if !linked {
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                None,
                "error_access",
                "You signed in with an account that is not the one linked to your guest access here.",
            ));
        }
    }
    c.issuer = Some(issuer.to_string());
    c.subject = Some(subject.to_string());
    c.amr = amr;
    c.auth_time = Some(auth_time);
    if c.invitation.is_some() {
        f.stage = "consent".into();
        save(state, &mut f, c).await?;
        let (brand, t) = brand_of(state, tenant).await?;
        let lang = c.lang.clone().unwrap_or_else(|| "en".into());
        let ctx = minijinja::context! {
            action => format!("/{tenant}/redeem"), flow => f.id.clone(), csrf => f.csrf.clone(),
            org => t.display_name.clone(), address => c.address.clone(),
            name => guest.display_name.clone(),
        };
        return Ok(render(&lang, Some(&brand), "redeem_consent.html", ctx, c.csp().as_deref()));
    }
    finish_sign_in(state, client, f, c).await
}

/// Sends (or re-sends) a one-time passcode to the guest's address and shows the code page.
async fn send_otp(
    state: &AppState,
    client: &Client,
    f: &mut LoginFlow,
    c: &mut GuestCtx,
    brand: &Brand,
    lang: &str,
    error: Option<String>,
) -> Result<Response, PageError> {
    let _ = client;
    let tenant = f.tenant_id;
    let now = state.now_ms();
    let guest_id = ObjectId::parse(&c.guest).ok_or_else(expired)?;
    let mut tx = state.dir.store.begin().await?;
    let settings = policy::email_otp(&mut tx, tenant).await?;
    if !settings.enabled {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            None,
            "error_access",
            "One-time passcodes are turned off for this organization.",
        ));
    }
    let key = format!("guest_otp:{}", c.address.to_lowercase());
    if throttle::failures(&mut tx, &key, now, super::flow::WINDOW_MS).await? >= OTP_SENDS_PER_WINDOW {
        tx.commit().await?;
        let mut r = otp_page(f, c, brand, lang, Some(message(lang, "throttled")));
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return Ok(r);
    }
    throttle::record_failure(&mut tx, &key, now, super::flow::WINDOW_MS).await?;
    let code = secret::random_digits(8);
    mfa::insert_code(
        &mut tx,
        &mfa::OneTimeCode {
            id: ObjectId::new(),
            tenant_id: tenant,
            user_id: guest_id,
            purpose: "guest_otp".into(),
            digest: secret::token_digest(&code),
            bound_to: Some(f.id.clone()),
            attempts: 0,
            created_at: now,
            expires_at: now + settings.code_minutes * 60_000,
            used_at: None,
        },
    )
    .await?;
    let (_, t) = brand_of(state, tenant).await?;
    let text = format!(
        "Your code to sign in to {org}: {code}\n\nIt works once, for {m} minutes. If you did not try to sign in to {org}, ignore this mail.",
        org = t.display_name,
        m = settings.code_minutes
    );
    crate::mail::keep(
        &mut tx,
        Some(tenant),
        &c.address,
        &format!("{} account verification code", t.display_name),
        &text,
        "guest_otp",
        now,
    )
    .await?;
    tx.commit().await?;
    f.stage = "otp".into();
    save(state, f, c).await?;
    Ok(otp_page(f, c, brand, lang, error))
}

fn otp_page(f: &LoginFlow, c: &GuestCtx, brand: &Brand, lang: &str, error: Option<String>) -> Response {
    let ctx = minijinja::context! {
        action => format!("/{}/redeem", f.tenant_id), flow => f.id.clone(), csrf => f.csrf.clone(),
        address => c.address.clone(), error => error,
    };
    render(lang, Some(brand), "redeem_otp.html", ctx, c.csp().as_deref())
}

async fn check_otp(
    state: &AppState,
    client: &Client,
    f: LoginFlow,
    mut c: GuestCtx,
    brand: &Brand,
    lang: &str,
    typed: &str,
) -> Result<Response, PageError> {
    let now = state.now_ms();
    let typed: String = typed.chars().filter(|ch| !ch.is_whitespace()).take(16).collect();
    let mut conn = super::conn(state).await?;
    let live = mfa::code_for_flow(&mut conn, f.tenant_id, &f.id, "guest_otp", now).await?;
    let Some(code) = live else {
        drop(conn);
        return Ok(otp_page(&f, &c, brand, lang, Some(message(lang, "code_expired"))));
    };
    let right = secret::constant_time_eq(secret::token_digest(&typed).as_bytes(), code.digest.as_bytes());
    if !right || code.attempts >= OTP_TRIES {
        let tries = mfa::count_attempt(&mut conn, code.id).await?;
        if tries >= OTP_TRIES {
            mfa::spend_code(&mut conn, code.id, now).await?;
        }
        drop(conn);
        let mut r = otp_page(&f, &c, brand, lang, Some(message(lang, "wrong_code")));
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(r);
    }
    if !mfa::spend_code(&mut conn, code.id, now).await? {
        drop(conn);
        return Ok(otp_page(&f, &c, brand, lang, Some(message(lang, "code_expired"))));
    }
    drop(conn);
    let address = c.address.clone();
    proved(state, client, f, &mut c, OTP_ISSUER, &address, std::slice::from_ref(&address), vec!["otp".into()], now)
        .await
}

/// Accept on the consent page: links the identity, marks the guest Accepted, audits, starts a
/// session at the resource tenant, and goes to inviteRedirectUrl (or continues the sign-in).
async fn redeem(state: &AppState, client: &Client, f: LoginFlow, c: GuestCtx) -> Result<Response, PageError> {
    let tenant = f.tenant_id;
    let now = state.now_ms();
    let (Some(issuer), Some(subject), Some(inv_id)) =
        (c.issuer.clone(), c.subject.clone(), c.invitation.as_deref().and_then(ObjectId::parse))
    else {
        return Err(expired());
    };
    let guest_id = ObjectId::parse(&c.guest).ok_or_else(expired)?;
    let mut tx = state.dir.store.begin().await?;
    let domain = c.address.rsplit_once('@').map(|(_, d)| d.to_string()).unwrap_or_default();
    if !policy::domain_list(&mut tx, tenant).await?.allows(&domain) {
        return Err(ticket_page(StatusCode::FORBIDDEN, "This organization no longer accepts guests from your domain."));
    }
    // One identity per guest object; another guest already linked to it would be two accounts.
    if let Some(other) = store::user_by_identity(&mut tx, tenant, &issuer, &subject).await?
        && other != guest_id
    {
        return Err(ticket_page(
            StatusCode::CONFLICT,
            "Your account is already linked to another guest account in this organization. Ask your contact there for help.",
        ));
    }
    if !store::complete_invitation(&mut tx, tenant, inv_id, &issuer, &subject, now).await? {
        return Err(ticket_page(StatusCode::GONE, "This invitation was already redeemed or is no longer valid."));
    }
    let guest = users::get(&mut tx, tenant, guest_id, users::Deleted::Exclude).await?.ok_or_else(expired)?;
    let mut identities: Vec<Identity> =
        guest.identities.iter().filter(|i| i.sign_in_type == "userPrincipalName").cloned().collect();
    identities.insert(
        0,
        if issuer == OTP_ISSUER {
            Identity {
                sign_in_type: "emailAddress".into(),
                issuer: OTP_ISSUER.into(),
                issuer_assigned_id: Some(c.address.clone()),
            }
        } else {
            Identity {
                sign_in_type: "federated".into(),
                issuer: issuer.clone(),
                issuer_assigned_id: Some(subject.clone()),
            }
        },
    );
    store::set_identities(&mut tx, guest.id, &identities).await?;
    store::set_external_state(&mut tx, tenant, guest.id, "Accepted", now).await?;
    let actor = Actor::User { id: guest.id, user_principal_name: guest.user_principal_name.clone() };
    let mut target = Target::new(guest.id, "User", Some(guest.display_name.clone()));
    target.user_principal_name = Some(guest.user_principal_name.clone());
    let mut updated = target.clone();
    updated.modified = vec![
        ("ExternalUserState".into(), json!(guest.external_user_state), json!("Accepted")),
        ("Identities".into(), json!(guest.identities), json!(identities)),
    ];
    audit_store::insert(
        &mut tx,
        &entry(
            tenant,
            &actor,
            "Redeem external user invite",
            "UserManagement",
            "Update",
            "Invited Users",
            &[target],
            now,
        ),
    )
    .await?;
    audit_store::insert(
        &mut tx,
        &entry(tenant, &actor, "Update user", "UserManagement", "Update", "Core Directory", &[updated], now),
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("portico_redemptions_total").increment(1);
    finish_sign_in(state, client, f, &c).await
}

/// The guest is authenticated at the resource tenant: a session starts there, then either the
/// sign-in flow goes on or the browser goes to inviteRedirectUrl.
async fn finish_sign_in(state: &AppState, client: &Client, f: LoginFlow, c: &GuestCtx) -> Result<Response, PageError> {
    let tenant = f.tenant_id;
    let now = state.now_ms();
    let guest_id = ObjectId::parse(&c.guest).ok_or_else(expired)?;
    let mut conn = super::conn(state).await?;
    signin::delete_flow(&mut conn, tenant, &f.id).await?;
    let otp = policy::email_otp(&mut conn, tenant).await?;
    drop(conn);
    let lifetime_secs = if c.issuer.as_deref() == Some(OTP_ISSUER) {
        otp.session_hours * 3600
    } else {
        state.dir.settings.sessions.session_secs
    };
    let token = secret::random_token(32);
    let session = signin::Session {
        id: ObjectId::new().to_string(),
        token_digest: secret::token_digest(&token),
        tenant_id: tenant,
        user_id: guest_id,
        csrf: secret::random_token(24),
        auth_time: c.auth_time.unwrap_or(now),
        amr: c.amr.clone(),
        persistent: false,
        ip_address: Some(client.ip.clone()),
        user_agent: client.user_agent.clone(),
        created_at: now,
        last_seen_at: now,
        expires_at: now + lifetime_secs * 1000,
        revoked_at: None,
    };
    {
        let mut conn = super::conn(state).await?;
        signin::insert_session(&mut conn, &session).await?;
    }
    let set = cookie(state, &session_cookie_name(tenant), &token, None);
    let mut r = match &c.sign_in_flow {
        Some(login_id) => {
            let mut conn = super::conn(state).await?;
            let Some(mut lf) = signin::get_flow(&mut conn, tenant, login_id, now).await? else {
                return Err(expired());
            };
            drop(conn);
            lf.user_id = Some(guest_id);
            lf.amr = c.amr.clone();
            lf.auth_time = c.auth_time;
            lf.session_id = Some(session.id.clone());
            lf.stage = "continue".into();
            super::flow::continue_after_guest(state, client, lf).await?
        }
        // The end of a redemption: a page of its own moves on to inviteRedirectUrl, so the
        // form-action of the consent page does not govern where that address leads next.
        None => continue_page(c.lang.as_deref().unwrap_or("en"), c.redirect.as_deref().unwrap_or("/")),
    };
    r.headers_mut().append(header::SET_COOKIE, set);
    Ok(r)
}
