//! Guests from external identity providers: the legs of a guest flow ([`super::guest`]) that go
//! out to a tenant's OpenID Connect provider (generic, Google, Microsoft, another Portico
//! deployment) or SAML 2.0 direct federation, and the answers that come back.
//!
//! ```text
//! guest flow ──> to_provider ──OIDC──> provider /authorize (state, nonce, PKCE S256)
//!                     │                   └──> GET /{tenant}/federation/oidc/callback ──┐
//!                     └──SAML──> passiveSignInUri (AuthnRequest, HTTP-Redirect)        │
//!                                     └──> POST /{tenant}/federation/saml/acs          │
//!                                            (validated, replay-checked) ──303──>      │
//!                                          GET /{tenant}/federation/saml/continue ─────┤
//!                                                                                     v
//!                                                      guest::proved (address or linked identity)
//! ```
//!
//! The SAML response arrives as a cross-site POST, which carries no SameSite=Lax cookie; it is
//! validated there against the request it answers (InResponseTo) and the outcome waits in a
//! one-time request row for a top-level GET that does carry the browser cookie, so the identity
//! still lands only in the browser that started the flow.
//!
//! Every failure shows the guest a page with the request id and writes a sign-in log entry with
//! the exact reason for the administrator.

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use portico_core::ids::{ObjectId, TenantId};
use portico_core::secret;
use portico_saml::{Expectations, IdpTrust, SpConfig};
use portico_store::b2b::{self as store, FederationRequest};
use portico_store::federation::{self as fed, IdentityProvider, kind};
use portico_store::signin::LoginFlow;
use portico_store::signins::SignIn;
use serde_json::json;

use super::guest::{self, GuestCtx};
use super::{Client, PageError, field};
use crate::app::AppState;
use crate::federation::oidc::{self, EmailVerified, FederatedIdentity, OidcError, ProviderConfig, TokenAuth};
use crate::federation::providers::{EmailVerification, OidcSettings, SamlSettings};

/// Clock skew allowed on SAML assertions.
pub const SAML_CLOCK_SKEW_MS: i64 = 120_000;

/// The reason logged when a provider's stored settings cannot be used.
const MISCONFIGURED: &str = "provider_misconfigured";

/// The amr value recorded when an external provider says it did multi-factor authentication.
/// Deliberately not `mfa`: whether to trust a partner's MFA is a cross-tenant policy decision,
/// so nothing in Portico counts it as MFA by itself.
pub const IDP_MFA: &str = "idp_mfa";

/// The SAML service provider this tenant is (entity id `{public_url}/{tenant}/`, as Entra's
/// `https://login.microsoftonline.com/<tenant>/`).
pub fn sp_config(state: &AppState, tenant: TenantId) -> SpConfig {
    let base = &state.dir.settings.public_url;
    SpConfig { entity_id: format!("{base}/{tenant}/"), acs_url: format!("{base}/{tenant}/federation/saml/acs") }
}

/// The OpenID Connect callback of a tenant.
pub fn oidc_callback_url(state: &AppState, tenant: TenantId) -> String {
    format!("{}/{tenant}/federation/oidc/callback", state.dir.settings.public_url)
}

/// The relying-party settings of an OpenID Connect provider (its secret opened).
pub fn oidc_config(state: &AppState, p: &IdentityProvider) -> Result<ProviderConfig, String> {
    let s: OidcSettings = serde_json::from_value(p.config.clone()).map_err(|e| format!("stored settings: {e}"))?;
    let secret = match &p.secret {
        Some(sealed) => Some(
            String::from_utf8(
                state
                    .dir
                    .keys
                    .master()
                    .open(sealed, &format!("idp-secret:{}:{}", p.tenant_id, p.id))
                    .map_err(|e| format!("the client secret cannot be opened: {e}"))?,
            )
            .map_err(|_| "the client secret is not text".to_string())?,
        ),
        None => None,
    };
    Ok(ProviderConfig {
        issuer: s.issuer,
        metadata_url: s.metadata_url,
        client_id: s.client_id,
        token_auth: if secret.is_some() { TokenAuth::ClientSecretBasic } else { TokenAuth::None },
        client_secret: secret,
        scopes: s.scopes,
        claims: s.claims_mapping,
        email_verified: match s.email_verification {
            EmailVerification::Claim => EmailVerified::Claim,
            EmailVerification::Always => EmailVerified::Always,
            EmailVerification::Never => EmailVerified::Never,
        },
        allow_private: s.allow_private_network,
    })
}

/// Why a SAML partner's certificate was not used: it has expired (or is not valid yet).
const CERTIFICATE_EXPIRED: &str = "certificate_expired";

/// The SAML trust of a direct federation at `now`.
pub struct SamlTrust {
    /// The stored settings.
    pub settings: SamlSettings,
    /// The issuer with the configured certificates valid at `now` (within the clock skew).
    pub trust: IdpTrust,
    /// Configured certificates outside their validity period: never trusted, kept to tell the
    /// administrator why a response signed with one was refused.
    pub expired: Vec<Vec<u8>>,
}

/// The SAML trust of a direct federation at `now`. As in Entra, a signing certificate past its
/// end date no longer signs for the partner (a metadata URL brings the successor); one not valid
/// yet waits for its start. Errors carry the sign-in log's reason and the message.
pub fn saml_trust(p: &IdentityProvider, now: i64) -> Result<SamlTrust, (&'static str, String)> {
    let s: SamlSettings =
        serde_json::from_value(p.config.clone()).map_err(|e| (MISCONFIGURED, format!("stored settings: {e}")))?;
    let (mut valid, mut expired, mut last_end) = (vec![], vec![], None::<i64>);
    for der in s.signing_certificates.iter().filter_map(|c| portico_saml::certificate_from_base64(c).ok()) {
        match portico_saml::certificate_info(&der) {
            Ok(i) if i.not_before_ms - SAML_CLOCK_SKEW_MS <= now && now <= i.not_after_ms + SAML_CLOCK_SKEW_MS => {
                valid.push(der)
            }
            Ok(i) => {
                last_end = last_end.max(Some(i.not_after_ms));
                expired.push(der);
            }
            Err(_) => {}
        }
    }
    if valid.is_empty() {
        return Err(match last_end {
            Some(end) => {
                let when = match end < now {
                    true => format!("the last ended {}", portico_core::clock::graph_datetime(end)),
                    false => "none has started yet".to_string(),
                };
                let why = format!(
                    "no configured signing certificate is valid now ({when}); update the federation's signing certificate or its metadata"
                );
                (CERTIFICATE_EXPIRED, why)
            }
            None => (MISCONFIGURED, "no usable signing certificate is configured".into()),
        });
    }
    let trust = IdpTrust { issuer: s.issuer_uri.clone(), certificates: valid };
    Ok(SamlTrust { settings: s, trust, expired })
}

/// Sends the browser to an external provider for the guest flow `f`.
pub(super) async fn to_provider(
    state: &AppState,
    client: &Client,
    f: &mut LoginFlow,
    c: &GuestCtx,
    p: &IdentityProvider,
) -> Result<Response, PageError> {
    let now = state.now_ms();
    let mut req = FederationRequest {
        id: secret::random_token(24),
        tenant_id: f.tenant_id,
        browser_digest: f.browser_digest.clone(),
        purpose: if c.invitation.is_some() { "redeem".into() } else { "sign_in".into() },
        context: json!({"flow": f.id, "provider": p.id}),
        nonce: secret::random_token(24),
        verifier: secret::random_token(32),
        created_at: now,
        expires_at: now + state.dir.settings.sessions.flow_secs * 1000,
    };
    let location = if p.kind == kind::SAML {
        let s = match saml_trust(p, now) {
            Ok(t) => t.settings,
            Err((reason, why)) => return Err(failed(state, client, f.tenant_id, c, p, &why, reason).await),
        };
        let request_id = portico_saml::new_request_id();
        req.context["request"] = json!(request_id);
        let sp = sp_config(state, f.tenant_id);
        match portico_saml::authn_request_redirect(
            &sp,
            &s.passive_sign_in_uri,
            &request_id,
            now,
            Some(&req.id),
            Some(&c.address),
        ) {
            Ok(l) => l,
            Err(e) => return Err(failed(state, client, f.tenant_id, c, p, &e.to_string(), MISCONFIGURED).await),
        }
    } else {
        let cfg = match oidc_config(state, p) {
            Ok(cfg) => cfg,
            Err(why) => return Err(failed(state, client, f.tenant_id, c, p, &why, MISCONFIGURED).await),
        };
        let meta = match crate::federation::rp().metadata(&cfg).await {
            Ok(m) => m,
            Err(e) => return Err(failed(state, client, f.tenant_id, c, p, &e.to_string(), e.reason()).await),
        };
        let url = oidc::OidcRp::authorize_url(
            &meta,
            &cfg,
            &oidc_callback_url(state, f.tenant_id),
            &req.id,
            &req.nonce,
            &portico_core::pkce::challenge_s256(&req.verifier),
            Some(&c.address),
        );
        let hint = p.config["domainHint"].as_str().filter(|h| !h.is_empty());
        match (hint, url::Url::parse(&url)) {
            (Some(h), Ok(mut u)) => {
                u.query_pairs_mut().append_pair("domain_hint", h);
                u.to_string()
            }
            _ => url,
        }
    };
    {
        let mut conn = super::conn(state).await?;
        store::insert_federation_request(&mut conn, &req).await?;
    }
    f.stage = "external".into();
    guest::save(state, f, c).await?;
    Ok(guest::see_other(&location))
}

/// A request this browser started, taken once.
async fn take_request(
    state: &AppState,
    client: &Client,
    tenant: TenantId,
    id: &str,
) -> Result<FederationRequest, PageError> {
    let mut conn = super::conn(state).await?;
    let req =
        store::take_federation_request(&mut conn, tenant, id, state.now_ms()).await?.ok_or_else(guest::expired)?;
    if !super::bound_to_browser(client, &req.browser_digest) {
        return Err(guest::expired());
    }
    Ok(req)
}

async fn provider_of(
    state: &AppState,
    tenant: TenantId,
    req: &FederationRequest,
) -> Result<IdentityProvider, PageError> {
    let id = req.context["provider"].as_str().unwrap_or_default();
    let mut conn = super::conn(state).await?;
    fed::get(&mut conn, tenant, id).await?.ok_or_else(|| {
        PageError::new(
            StatusCode::FORBIDDEN,
            Some(50107),
            "error_access",
            "The identity provider you signed in with was removed from this organization's settings. Start again.",
        )
    })
}

/// GET /{tenant}/federation/oidc/callback?code=&state=&iss= (or ?error=)
pub async fn oidc_callback(
    State(state): State<AppState>,
    Path(key): Path<String>,
    client: Client,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let tenant = TenantId::parse(&key).ok_or_else(|| PageError::unknown_tenant(&key))?;
    let req = take_request(&state, &client, tenant, field(&q, "state").ok_or_else(guest::expired)?).await?;
    let f = guest::load(&state, tenant, req.context["flow"].as_str().unwrap_or_default(), &client).await?;
    let mut c = guest::ctx_of(&f)?;
    let p = provider_of(&state, tenant, &req).await?;
    if let Some(err) = field(&q, "error") {
        let said = field(&q, "error_description").unwrap_or(err).chars().take(300).collect::<String>();
        return Err(failed(
            &state,
            &client,
            tenant,
            &c,
            &p,
            &format!("the provider answered {err}: {said}"),
            "provider_error",
        )
        .await);
    }
    let cfg = match oidc_config(&state, &p) {
        Ok(cfg) => cfg,
        Err(why) => return Err(failed(&state, &client, tenant, &c, &p, &why, MISCONFIGURED).await),
    };
    let rp = crate::federation::rp();
    let outcome = async {
        let meta = rp.metadata(&cfg).await?;
        // RFC 9207: when the provider names itself, it must be the one asked.
        if let Some(iss) = field(&q, "iss")
            && iss != meta.issuer
        {
            return Err(OidcError::IssuerMismatch { expected: meta.issuer.clone(), got: iss.to_string() });
        }
        let code = field(&q, "code").unwrap_or_default();
        rp.redeem(&cfg, &meta, code, &oidc_callback_url(&state, tenant), &req.verifier, &req.nonce, state.now_ms())
            .await
    }
    .await;
    let who = match outcome {
        Ok(w) => w,
        Err(e) => return Err(failed(&state, &client, tenant, &c, &p, &e.to_string(), e.reason()).await),
    };
    // A tenant-scoped issuer (another Portico deployment, Entra ID) names the home tenant; the
    // token's `tid` must agree with it.
    if let (Some(tid), Some(named)) = (who.tid.as_deref(), super::flow::tenant_in_issuer(&who.issuer))
        && !tid.eq_ignore_ascii_case(&named)
    {
        let why = format!("the ID token's tid {tid} is not the tenant its issuer {} names", who.issuer);
        return Err(failed(&state, &client, tenant, &c, &p, &why, "tid_mismatch").await);
    }
    if c.invitation.is_some() && who.email.is_none() {
        let (why, reason) = match &who.email_unverified {
            Some(a) => (
                format!("the provider did not confirm that the address {a} is verified (email_verified)"),
                "email_not_verified",
            ),
            None => ("the provider sent no email address (ID token and userinfo)".to_string(), "email_missing"),
        };
        return Err(failed(&state, &client, tenant, &c, &p, &why, reason).await);
    }
    let amr = oidc_amr(&who);
    let addresses: Vec<String> = who.email.iter().cloned().collect();
    let auth_time = who.auth_time_ms.unwrap_or(state.now_ms());
    let r = guest::proved(&state, &client, f, &mut c, &who.issuer, &who.subject, &addresses, amr, auth_time).await?;
    Ok(guest::leave_form_chain(&state, r, c.lang.as_deref().unwrap_or("en")))
}

/// The amr a session records for an OpenID Connect identity: `fed`, plus [`IDP_MFA`] when the
/// provider says it did MFA (`amr` with `mfa`, or both a knowledge and a possession factor).
pub fn oidc_amr(who: &FederatedIdentity) -> Vec<String> {
    let has = |v: &str| who.amr.iter().any(|a| a == v);
    let mut amr = vec!["fed".to_string()];
    if has("mfa") || (has("pwd") && ["otp", "hwk", "swk", "sms", "face", "fpt"].iter().any(|a| has(a))) {
        amr.push(IDP_MFA.into());
    }
    amr
}

/// POST /{tenant}/federation/saml/acs (SAMLResponse, RelayState): validates the response and
/// hands the outcome to [`saml_continue`].
pub async fn saml_acs(
    State(state): State<AppState>,
    Path(key): Path<String>,
    client: Client,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let tenant = TenantId::parse(&key).ok_or_else(|| PageError::unknown_tenant(&key))?;
    let form = super::form_fields(&body);
    let relay = field(&form, "RelayState").ok_or_else(|| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            Some(50008),
            "error_request",
            "This sign-in answer was not asked for by this organization (no RelayState): unsolicited SAML responses are not accepted. Start again from the invitation or the application.",
        )
    })?;
    // The cross-site POST carries no browser cookie: the request is checked by its InResponseTo
    // here and by the browser at the GET that follows.
    let now = state.now_ms();
    let req = {
        let mut conn = super::conn(&state).await?;
        store::take_federation_request(&mut conn, tenant, relay, now).await?.ok_or_else(guest::expired)?
    };
    let p = provider_of(&state, tenant, &req).await?;
    let flow_id = req.context["flow"].as_str().unwrap_or_default().to_string();
    let c = {
        let mut conn = super::conn(&state).await?;
        let f = portico_store::signin::get_flow(&mut conn, tenant, &flow_id, now).await?.ok_or_else(guest::expired)?;
        guest::ctx_of(&f)?
    };
    let SamlTrust { settings, trust, expired } = match saml_trust(&p, now) {
        Ok(t) => t,
        Err((reason, why)) => return Err(failed(&state, &client, tenant, &c, &p, &why, reason).await),
    };
    let sp = sp_config(&state, tenant);
    let request_id = req.context["request"].as_str().unwrap_or_default().to_string();
    let expect =
        Expectations { sp: &sp, request_id: Some(&request_id), now_ms: now, clock_skew_ms: SAML_CLOCK_SKEW_MS };
    let xml = portico_saml::decode_post_binding(field(&form, "SAMLResponse").unwrap_or_default());
    let checked =
        xml.as_deref().map_err(Clone::clone).and_then(|xml| portico_saml::validate_response(xml, &trust, &expect));
    let assertion = match checked {
        Ok(a) => a,
        Err(e) => {
            // Signed by a configured certificate that has expired? Say so rather than "unknown".
            let by_expired = e.reason() == "certificate_unknown"
                && !expired.is_empty()
                && xml.as_deref().is_ok_and(|xml| {
                    let old = IdpTrust { issuer: trust.issuer.clone(), certificates: expired };
                    portico_saml::validate_response(xml, &old, &expect).is_ok()
                });
            let (why, reason) = match by_expired {
                true => (
                    format!("{e}: it is a configured signing certificate that is no longer valid"),
                    CERTIFICATE_EXPIRED,
                ),
                false => (e.to_string(), e.reason()),
            };
            return Err(failed(&state, &client, tenant, &c, &p, &why, reason).await);
        }
    };
    // Each assertion once, across every server (the store is shared).
    let first = {
        let mut conn = super::conn(&state).await?;
        fed::first_use_of_assertion(
            &mut conn,
            &trust.issuer,
            &assertion.id,
            assertion.not_on_or_after_ms + SAML_CLOCK_SKEW_MS,
        )
        .await?
    };
    if !first {
        let why = format!("the assertion {} was already used (replayed)", assertion.id);
        return Err(failed(&state, &client, tenant, &c, &p, &why, "replayed").await);
    }
    // The address counts only within the domains federated to this provider.
    let email = assertion.email().map(str::to_lowercase);
    let domains = {
        let mut conn = super::conn(&state).await?;
        fed::domains(&mut conn, tenant, &p.id).await?
    };
    let verified = email.clone().filter(|e| {
        let d = e.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        domains.iter().any(|x| x == d)
    });
    if c.invitation.is_some() && verified.is_none() {
        let why = match email {
            Some(e) => format!(
                "the asserted address {e} is not in a domain federated to this provider ({})",
                domains.join(", ")
            ),
            None => "the assertion carries no email address claim".into(),
        };
        return Err(failed(&state, &client, tenant, &c, &p, &why, "email_not_verified").await);
    }
    let mut amr = vec!["fed".to_string()];
    if assertion.mfa() {
        amr.push(IDP_MFA.into());
    }
    let outcome = FederationRequest {
        id: secret::random_token(24),
        tenant_id: tenant,
        browser_digest: req.browser_digest.clone(),
        purpose: "saml_result".into(),
        context: json!({
            "flow": flow_id, "provider": p.id, "issuer": settings.issuer_uri, "subject": assertion.name_id,
            "addresses": verified.iter().collect::<Vec<_>>(), "amr": amr,
            "authTime": assertion.authn_instant_ms.unwrap_or(now),
        }),
        nonce: String::new(),
        verifier: String::new(),
        created_at: now,
        expires_at: now + 120_000,
    };
    {
        let mut conn = super::conn(&state).await?;
        store::insert_federation_request(&mut conn, &outcome).await?;
    }
    Ok(guest::see_other(&format!(
        "{}/{tenant}/federation/saml/continue?state={}",
        state.dir.settings.public_url, outcome.id
    )))
}

/// GET /{tenant}/federation/saml/continue?state=: the validated SAML identity, in the browser
/// that started the flow.
pub async fn saml_continue(
    State(state): State<AppState>,
    Path(key): Path<String>,
    client: Client,
    Query(q): Query<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let tenant = TenantId::parse(&key).ok_or_else(|| PageError::unknown_tenant(&key))?;
    let req = take_request(&state, &client, tenant, field(&q, "state").ok_or_else(guest::expired)?).await?;
    if req.purpose != "saml_result" {
        return Err(guest::expired());
    }
    let x = &req.context;
    let f = guest::load(&state, tenant, x["flow"].as_str().unwrap_or_default(), &client).await?;
    let mut c = guest::ctx_of(&f)?;
    let strings = |v: &serde_json::Value| -> Vec<String> {
        v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
    };
    let (issuer, subject) = (x["issuer"].as_str().unwrap_or_default(), x["subject"].as_str().unwrap_or_default());
    let auth_time = x["authTime"].as_i64().unwrap_or(state.now_ms());
    let r = guest::proved(
        &state,
        &client,
        f,
        &mut c,
        issuer,
        subject,
        &strings(&x["addresses"]),
        strings(&x["amr"]),
        auth_time,
    )
    .await?;
    Ok(guest::leave_form_chain(&state, r, c.lang.as_deref().unwrap_or("en")))
}

/// GET /{tenant}/federation/saml/metadata: this tenant's SAML service-provider metadata, for
/// the partner's identity provider.
pub async fn saml_metadata(State(state): State<AppState>, Path(key): Path<String>) -> Result<Response, PageError> {
    let tenant = TenantId::parse(&key).ok_or_else(|| PageError::unknown_tenant(&key))?;
    let t = {
        let mut conn = super::conn(&state).await?;
        portico_store::tenants::get(&mut conn, tenant).await?.ok_or_else(|| PageError::unknown_tenant(&key))?
    };
    let xml = portico_saml::sp_metadata(&sp_config(&state, tenant), Some(&t.display_name));
    let mut r = xml.into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/samlmetadata+xml"));
    Ok(r)
}

/// A failed federated sign-in: a sign-in log entry with the exact reason, and the guest's page.
async fn failed(
    state: &AppState,
    client: &Client,
    tenant: TenantId,
    c: &GuestCtx,
    p: &IdentityProvider,
    why: &str,
    reason: &str,
) -> PageError {
    if let Err(e) = log_failure(state, client, tenant, c, p, why, reason).await {
        return e;
    }
    guest_page(p, reason)
}

/// The AADSTS-like code of a federation failure (as Entra's, where one exists).
pub fn error_code(reason: &str) -> u32 {
    match reason {
        "signature_invalid"
        | "digest_mismatch"
        | "certificate_unknown"
        | "certificate_expired"
        | "signature_missing"
        | "wrapped" => 50006,
        "expired" | "id_token_expired" | "not_yet_valid" => 50013,
        "audience_mismatch" | "recipient_mismatch" | "destination_mismatch" => 50012,
        "replayed" => 500212,
        "email_not_verified" | "email_missing" => 90072,
        "issuer_mismatch" | "tid_mismatch" => 50014,
        "provider_timeout" | "provider_unreachable" | "address_refused" | "provider_status" | "redirect_refused" => {
            90043
        }
        "provider_misconfigured" | "discovery_failed" => 50107,
        _ => 50008,
    }
}

fn guest_page(p: &IdentityProvider, reason: &str) -> PageError {
    let name = &p.display_name;
    let detail = match reason {
        "provider_timeout"
        | "provider_unreachable"
        | "address_refused"
        | "provider_status"
        | "redirect_refused"
        | "bad_response"
        | "response_too_large"
        | "discovery_failed" => format!(
            "We could not reach {name}, the sign-in service of your organization, or it answered in a way we cannot use. Try again in a few minutes; if it keeps happening, give the request id below to the organization that invited you."
        ),
        "email_not_verified" => format!(
            "{name} signed you in but did not confirm the email address this invitation was sent to. Sign in with the account of that address, or ask the organization that invited you for help."
        ),
        "email_missing" => format!(
            "{name} signed you in but did not tell us your email address, so the invitation cannot be matched to you. Ask the organization that invited you to check the connection to {name} (the email claim)."
        ),
        "provider_misconfigured" => format!(
            "The connection to {name} is not set up correctly in this organization. Give the request id below to the organization that invited you."
        ),
        "provider_error" => format!("{name} did not sign you in. Try again, or ask your organization's help desk."),
        _ => format!(
            "The answer from {name} could not be accepted, so you were not signed in. Start again; if it keeps happening, give the request id below to the organization that invited you."
        ),
    };
    PageError::new(StatusCode::FORBIDDEN, Some(error_code(reason)), "error_idp", detail)
}

async fn log_failure(
    state: &AppState,
    client: &Client,
    tenant: TenantId,
    c: &GuestCtx,
    p: &IdentityProvider,
    why: &str,
    reason: &str,
) -> Result<(), PageError> {
    tracing::warn!(tenant = %tenant, provider = %p.id, reason, "federated sign-in failed: {why}");
    metrics::counter!("portico_federated_sign_ins_total", "result" => "failure", "reason" => reason.to_string())
        .increment(1);
    let mut conn = super::conn(state).await?;
    let guest = match ObjectId::parse(&c.guest) {
        Some(id) => portico_store::users::get(&mut conn, tenant, id, portico_store::users::Deleted::Exclude).await?,
        None => None,
    };
    let record = SignIn {
        id: ObjectId::new(),
        tenant_id: tenant,
        created_at: state.now_ms(),
        user_id: guest.as_ref().map(|u| u.id),
        user_principal_name: guest.as_ref().map(|u| u.user_principal_name.clone()).or(Some(c.address.clone())),
        user_display_name: guest.as_ref().map(|u| u.display_name.clone()),
        app_id: None,
        app_display_name: Some(if c.invitation.is_some() { "Invitation redemption" } else { "Guest sign-in" }.into()),
        resource_id: None,
        resource_display_name: None,
        ip_address: Some(client.ip.clone()),
        client_app_used: "Browser".into(),
        user_agent: client.user_agent.clone(),
        is_interactive: true,
        error_code: i64::from(error_code(reason)),
        failure_reason: Some(format!("{reason}: {why}")),
        additional_details: Some(format!("Identity provider {} ({}, {})", p.display_name, p.kind, p.issuer)),
        authentication_details: json!([{
            "authenticationMethod": "Federated identity provider",
            "authenticationStepDateTime": portico_core::clock::graph_datetime(state.now_ms()),
            "succeeded": false,
            "authenticationStepResultDetail": reason,
        }]),
        authentication_requirement: "singleFactorAuthentication".into(),
        conditional_access_status: "notApplied".into(),
        home_tenant_id: None,
        resource_tenant_id: tenant.to_string(),
        correlation_id: crate::request_id::current(),
        user_type: guest.as_ref().map(|u| u.user_type.to_lowercase()),
        cross_tenant_access_type: "b2bCollaboration".into(),
    };
    portico_store::signins::insert(&mut conn, &record).await?;
    Ok(())
}
