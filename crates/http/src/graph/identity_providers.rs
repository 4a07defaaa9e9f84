//! `/identity/identityProviders`: the tenant's identity providers for guests, as Graph's
//! polymorphic `identityProviderBase` collection, and the home-realm discovery rule that decides
//! which email domains may be routed to a provider (shared with `federation_configurations.rs`).
//!
//! Types in the collection:
//!
//! - `#microsoft.graph.builtInIdentityProvider` `EmailOtpSignup-OAUTH` (`EmailOTP`): listed while
//!   email one-time passcode is enabled for guests (`crate::b2b::policy::email_otp`); it is
//!   switched with the email authentication method policy, not here.
//! - `#microsoft.graph.socialIdentityProvider` with `identityProviderType` `Google`
//!   (`Google-OAUTH`, routes `gmail.com` and `googlemail.com`) or `Microsoft` (`Microsoft-OAUTH`,
//!   Microsoft Entra ID work and school accounts; issuer `https://login.microsoftonline.com/{tenantid}/v2.0`):
//!   OpenID Connect presets, one of each per tenant.
//! - `#microsoft.graph.openIdConnectIdentityProvider` (`OIDC-<guid>`): any OpenID Provider, with
//!   Graph's `clientId`, `clientSecret`, `claimsMapping`, `domainHint`, `metadataUrl`,
//!   `responseMode` (`query` only), `responseType` (`code` only) and `scope` (must hold `openid`).
//!   Without `clientSecret` it is a public client (PKCE only).
//! - `#microsoft.graph.samlOrWsFedExternalDomainFederation`: SAML direct federations, managed at
//!   `/directory/federationConfigurations` (read and delete here).
//!
//! Portico extensions on the OpenID Connect kinds (not in Graph's schema):
//!
//! - `issuer`: the `iss` expected in ID tokens. For `openIdConnectIdentityProvider` it defaults to
//!   `metadataUrl` without `/.well-known/openid-configuration`; for the presets it is fixed unless
//!   `metadataUrl` is overridden (then it defaults the same way, or may be given).
//! - `metadataUrl` on the presets: overrides the discovery document (e.g. to point the Google
//!   preset at a test provider); `null` restores the preset's.
//! - `emailVerification`: `claim` (default: the address counts only with `email_verified: true`),
//!   `always` or `never`.
//! - `allowPrivateNetwork`: the provider may live on a private or loopback address, and plain
//!   `http` is accepted.
//! - `domains`: the email domains that home-realm discovery sends to this provider.
//!
//! Client secrets are sealed with the master key (associated data `idp-secret:{tenant}:{id}`)
//! and never returned: reads show `****`.
//!
//! Domain routing ([`check_domain_routes`], also used for SAML federations): a valid DNS name;
//! not a consumer mail domain (`gmail.com`/`googlemail.com` only for the Google preset); not a
//! domain of this tenant or of this deployment; not verified by another tenant of this deployment
//! (its users already federate as `azureActiveDirectory`); not routed to another provider of the
//! tenant (409); and proven as Entra requires ([`domain_proven`]): the provider's sign-in endpoint
//! host is the domain or a host under it, or the domain publishes the DNS TXT record
//! `DirectFedAuthUrl=<url>` naming that host (or `danger_accept_unverified_domains` is set).

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portico_core::access::{Action, Caller};
use portico_core::ids::{ObjectId, TenantId};
use portico_core::validate;
use portico_store::federation::{self as fed, IdentityProvider, kind};
use portico_store::list::Page;
use portico_store::{StoreError, audit as audit_store};
use serde_json::{Map, Value, json};

use super::auth::Authed;
use super::body::{Access, JsonBody, Kind, Prop, check, p, require};
use super::error::{GraphError, GraphResult};
use super::query::QueryOptions;
use super::wire;
use crate::app::AppState;
use crate::audit::{Actor, Target, entry};
use crate::b2b::policy;
use crate::federation::providers::{
    ClaimsMapping, EmailVerification, GOOGLE_DOMAINS, GOOGLE_ISSUER, GOOGLE_METADATA_URL, MICROSOFT_ISSUER,
    MICROSOFT_METADATA_URL, OidcSettings,
};

/// The built-in email one-time passcode provider's id.
pub const EMAIL_OTP_ID: &str = "EmailOtpSignup-OAUTH";
/// The Google preset's id.
pub const GOOGLE_ID: &str = "Google-OAUTH";
/// The Microsoft preset's id.
pub const MICROSOFT_ID: &str = "Microsoft-OAUTH";
/// What reads show instead of a client secret.
pub const SECRET_MASK: &str = "****";
/// The suffix of a discovery document URL.
const WELL_KNOWN: &str = "/.well-known/openid-configuration";
/// The entity set, for `@odata.context` and `Location`.
const SET: &str = "identity/identityProviders";
/// The provider types Portico can configure (`availableProviderTypes`).
pub const AVAILABLE_TYPES: &[&str] = &["Google", "Microsoft", "OpenIDConnect", "EmailOTP"];

const W: Access = Access::Write;
const RO: Access = Access::ReadOnly;

const SOCIAL_TYPE: &str = "socialIdentityProvider";
const OIDC_TYPE: &str = "openIdConnectIdentityProvider";

const SOCIAL_PROPS: &[Prop] = &[
    p("id", Kind::Str, RO),
    p("displayName", Kind::StrRequired, W),
    p("identityProviderType", Kind::StrRequired, Access::CreateOnly),
    p("clientId", Kind::StrRequired, W),
    p("clientSecret", Kind::StrRequired, W),
    p("issuer", Kind::Str, W),
    p("metadataUrl", Kind::Str, W),
    p("emailVerification", Kind::StrRequired, W),
    p("allowPrivateNetwork", Kind::Bool, W),
    p("domains", Kind::StrList, W),
];

const OIDC_PROPS: &[Prop] = &[
    p("id", Kind::Str, RO),
    p("displayName", Kind::StrRequired, W),
    p("clientId", Kind::StrRequired, W),
    p("clientSecret", Kind::Str, W),
    p("claimsMapping", Kind::Object, W),
    p("domainHint", Kind::Str, W),
    p("metadataUrl", Kind::StrRequired, W),
    p("responseMode", Kind::StrRequired, W),
    p("responseType", Kind::StrRequired, W),
    p("scope", Kind::StrRequired, W),
    p("issuer", Kind::Str, W),
    p("emailVerification", Kind::StrRequired, W),
    p("allowPrivateNetwork", Kind::Bool, W),
    p("domains", Kind::StrList, W),
];

/// Properties compared for audit records.
const AUDITED: &[&str] = &[
    "displayName",
    "clientId",
    "metadataUrl",
    "issuer",
    "scope",
    "claimsMapping",
    "domainHint",
    "emailVerification",
    "allowPrivateNetwork",
    "domains",
];

// ---------------------------------------------------------------------------------------------
// Shared with federation_configurations.rs

/// 409 for a store conflict (an id, issuer or domain route already taken).
pub(super) fn conflict(e: StoreError) -> GraphError {
    match e {
        StoreError::Conflict(m) => {
            GraphError::new(StatusCode::CONFLICT, "Request_MultipleObjectsWithSameKeyValue", format!("{m}."))
        }
        other => other.into(),
    }
}

/// A created entity (201) with `Location`.
pub(super) fn created_at(state: &AppState, opts: &QueryOptions, set: &str, path: &str, body: Value) -> Response {
    let public = &state.dir.settings.public_url;
    let mut r = wire::created(public, opts, set, body);
    if let Ok(v) = HeaderValue::from_str(&format!("{public}/{}/{path}", opts.version())) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Inserts an audit record about identity providers in the change's transaction.
pub(super) async fn audit(
    tx: &mut portico_store::Tx,
    state: &AppState,
    tenant: TenantId,
    caller: &Caller,
    (activity, operation): (&str, &str),
    targets: &[Target],
) -> GraphResult<()> {
    let now = state.now_ms();
    let e = entry(tenant, &Actor::of(caller), activity, "IdentityProvider", operation, "Core Directory", targets, now);
    audit_store::insert(tx, &e).await?;
    Ok(())
}

/// An absolute `https` URL (or `http` when the provider may be on a private network), as a
/// string; 400 naming the property otherwise.
pub(super) fn endpoint_url(name: &str, raw: &str, allow_private: bool) -> GraphResult<url::Url> {
    let bad = |why: &str| GraphError::bad_request(format!("Invalid value '{raw}' for property '{name}': {why}"));
    let u = url::Url::parse(raw.trim()).map_err(|_| bad("it must be an absolute URL."))?;
    match u.scheme() {
        "https" => {}
        "http" if allow_private => {}
        "http" => return Err(bad("it must use https (plain http only with allowPrivateNetwork: true).")),
        _ => return Err(bad("it must be an https URL.")),
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host."));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err(bad("it must not carry credentials."));
    }
    Ok(u)
}

/// The host of an endpoint URL, lowercased, without a trailing dot.
pub(super) fn host_of(url: &url::Url) -> String {
    url.host_str().unwrap_or_default().trim_end_matches('.').to_ascii_lowercase()
}

/// Entra's proof that a domain may be federated with a provider: the provider's sign-in
/// endpoint host is the domain or a host under it, or one of the domain's DNS TXT records is
/// `DirectFedAuthUrl=<url>` whose host is the endpoint's host. Pure: the caller looks the TXT
/// records up (only when the host alone does not prove it).
pub fn domain_proven(domain: &str, endpoint_host: &str, txt_records: &[String]) -> bool {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let host = endpoint_host.trim_end_matches('.').to_ascii_lowercase();
    if host.is_empty() || domain.is_empty() {
        return false;
    }
    if host == domain || host.ends_with(&format!(".{domain}")) {
        return true;
    }
    txt_records.iter().any(|r| {
        let r = r.trim().trim_matches('"').trim();
        let Some((key, value)) = r.split_once('=') else { return false };
        key.trim().eq_ignore_ascii_case("DirectFedAuthUrl")
            && url::Url::parse(value.trim())
                .ok()
                .and_then(|u| u.host_str().map(|h| h.trim_end_matches('.').to_ascii_lowercase()))
                .is_some_and(|h| h == host)
    })
}

/// Which provider a domain route is being checked for.
#[derive(Debug, Clone, Copy)]
pub(super) struct RouteTarget<'a> {
    /// The provider's id (`None` while creating it).
    pub provider: Option<&'a str>,
    /// Its kind.
    pub kind: &'a str,
    /// Its sign-in endpoint (SAML `passiveSignInUri`, OIDC `metadataUrl`).
    pub endpoint: &'a url::Url,
    /// The property that holds the endpoint, for messages.
    pub endpoint_property: &'a str,
}

/// Normalises and checks domains to route to a provider (see the module documentation). Domains
/// already routed to `target.provider` pass without a new proof unless `recheck` is set.
/// Returns the normalised names.
pub(super) async fn check_domain_routes(
    state: &AppState,
    tenant: TenantId,
    target: RouteTarget<'_>,
    domains: &[String],
    recheck: bool,
) -> GraphResult<Vec<String>> {
    let mut out: Vec<String> = vec![];
    let mut conn = state.conn().await?;
    let own = portico_store::tenants::list_domains(&mut conn, tenant).await?;
    let base = state.dir.settings.base_domain.to_ascii_lowercase();
    let host = host_of(target.endpoint);
    for raw in domains {
        let name = validate::domain_name(raw)
            .ok_or_else(|| GraphError::bad_request(format!("'{raw}' is not a valid domain name.")))?;
        if out.contains(&name) {
            continue;
        }
        let refuse = |why: String| GraphError::bad_request(format!("The domain '{name}' cannot be federated: {why}"));
        let google_default = target.kind == kind::GOOGLE && GOOGLE_DOMAINS.contains(&name.as_str());
        if portico_core::b2b::CONSUMER_DOMAINS.contains(&name.as_str()) && !google_default {
            return Err(refuse(
                "it is a consumer mail domain, where an address says nothing about an organization \
                 (gmail.com and googlemail.com route to the Google provider)."
                    .into(),
            ));
        }
        if own.iter().any(|d| d.name == name && (d.is_verified || d.is_initial)) {
            return Err(refuse("it is a domain of this tenant; its users sign in here as members.".into()));
        }
        if !base.is_empty() && (name == base || name.ends_with(&format!(".{base}"))) {
            return Err(refuse("it belongs to this Portico deployment.".into()));
        }
        if portico_store::b2b::tenant_owning_domain(&mut conn, &name, tenant).await?.is_some() {
            return Err(refuse(
                "another tenant of this deployment has verified it; its users are already recognised as \
                 azureActiveDirectory guests (prioritize with the cross-tenant redemption order instead)."
                    .into(),
            ));
        }
        let routed = fed::provider_for_domain(&mut conn, tenant, &name).await?;
        let already_here = match (&routed, target.provider) {
            (Some(r), Some(id)) if r.id.eq_ignore_ascii_case(id) => true,
            (Some(r), _) => {
                return Err(GraphError::new(
                    StatusCode::CONFLICT,
                    "Request_MultipleObjectsWithSameKeyValue",
                    format!(
                        "The domain '{name}' is already federated with the identity provider '{}' ({}); remove it \
                         there first.",
                        r.display_name, r.id
                    ),
                ));
            }
            (None, _) => false,
        };
        if !google_default && (recheck || !already_here) {
            prove(state, &name, &host, target).await?;
        }
        out.push(name);
    }
    Ok(out)
}

/// Applies the proof rule, looking up DNS only when the endpoint host alone does not prove it.
async fn prove(state: &AppState, domain: &str, host: &str, target: RouteTarget<'_>) -> GraphResult<()> {
    if domain_proven(domain, host, &[]) {
        return Ok(());
    }
    if state.dir.settings.danger_accept_unverified_domains {
        tracing::warn!(
            domain = %domain, host = %host,
            "domain {domain} federated WITHOUT a DNS proof for {host} (danger_accept_unverified_domains)"
        );
        return Ok(());
    }
    let records = match crate::dns::txt_records(domain).await {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(domain = %domain, error = %e, "DNS lookup for a federation domain proof failed");
            vec![]
        }
    };
    if domain_proven(domain, host, &records) {
        return Ok(());
    }
    let endpoint = target.endpoint.as_str();
    Err(GraphError::bad_request(format!(
        "The domain '{domain}' cannot be federated with this provider: its {} host '{host}' is neither \
         '{domain}' nor a host under it, and no DNS TXT record proves the domain's owner chose it. Use an endpoint \
         under the domain, or publish `{domain}. IN TXT \"DirectFedAuthUrl={endpoint}\"` and try again (DNS \
         changes can take time to propagate).",
        target.endpoint_property
    )))
}

// ---------------------------------------------------------------------------------------------
// Wire shapes

/// The built-in email one-time passcode provider.
fn email_otp_provider() -> Value {
    json!({
        "@odata.type": "#microsoft.graph.builtInIdentityProvider",
        "id": EMAIL_OTP_ID,
        "displayName": "Email One Time Passcode",
        "identityProviderType": "EmailOTP",
    })
}

fn email_verification_str(e: EmailVerification) -> &'static str {
    match e {
        EmailVerification::Claim => "claim",
        EmailVerification::Always => "always",
        EmailVerification::Never => "never",
    }
}

/// The stored OpenID Connect settings of a provider.
fn oidc_settings(p: &IdentityProvider) -> GraphResult<OidcSettings> {
    serde_json::from_value(p.config.clone())
        .map_err(|e| GraphError::internal(&format!("stored settings of {}: {e}", p.id)))
}

/// An OpenID Connect provider (preset or generic) as Graph shows it.
fn render_oidc(p: &IdentityProvider, s: &OidcSettings, domains: &[String]) -> Value {
    let secret = p.secret.as_ref().map(|_| SECRET_MASK);
    let mut v = match p.kind.as_str() {
        kind::GOOGLE | kind::MICROSOFT => json!({
            "@odata.type": format!("#microsoft.graph.{SOCIAL_TYPE}"),
            "id": p.id,
            "displayName": p.display_name,
            "identityProviderType": if p.kind == kind::GOOGLE { "Google" } else { "Microsoft" },
            "clientId": s.client_id,
            "clientSecret": secret,
        }),
        _ => json!({
            "@odata.type": format!("#microsoft.graph.{OIDC_TYPE}"),
            "id": p.id,
            "displayName": p.display_name,
            "clientId": s.client_id,
            "clientSecret": secret,
            "claimsMapping": {
                "userId": s.claims_mapping.user_id,
                "givenName": s.claims_mapping.given_name,
                "surname": s.claims_mapping.surname,
                "email": s.claims_mapping.email,
                "displayName": s.claims_mapping.display_name,
            },
            "domainHint": s.domain_hint,
            "responseMode": "query",
            "responseType": "code",
            "scope": s.scopes.join(" "),
        }),
    };
    v["metadataUrl"] = json!(s.metadata_url);
    v["issuer"] = json!(s.issuer);
    v["emailVerification"] = json!(email_verification_str(s.email_verification));
    v["allowPrivateNetwork"] = json!(s.allow_private_network);
    v["domains"] = json!(domains);
    v
}

/// Any stored provider as Graph shows it in `/identity/identityProviders`.
pub(super) fn render(p: &IdentityProvider, domains: &[String]) -> GraphResult<Value> {
    if p.kind == kind::SAML {
        return super::federation_configurations::render(p, Some(domains));
    }
    Ok(render_oidc(p, &oidc_settings(p)?, domains))
}

// ---------------------------------------------------------------------------------------------
// Building settings from a body

/// What a write does to the sealed client secret.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SecretChange {
    Keep,
    Set(String),
    Clear,
}

/// The changes a body asks for, checked, over the current values.
struct Draft {
    display_name: String,
    settings: OidcSettings,
    secret: SecretChange,
    domains: Option<Vec<String>>,
}

/// The preset defaults of a kind: (metadata URL, issuer).
fn preset(k: &str) -> Option<(&'static str, &'static str)> {
    match k {
        kind::GOOGLE => Some((GOOGLE_METADATA_URL, GOOGLE_ISSUER)),
        kind::MICROSOFT => Some((MICROSOFT_METADATA_URL, MICROSOFT_ISSUER)),
        _ => None,
    }
}

/// The issuer a discovery URL implies (OpenID Connect Discovery §4: issuer + well-known path).
fn derived_issuer(metadata_url: &str) -> String {
    metadata_url.strip_suffix(WELL_KNOWN).unwrap_or(metadata_url).to_string()
}

fn non_empty(body: &Map<String, Value>, name: &str, max: usize) -> GraphResult<Option<String>> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let s = v.as_str().map(str::trim).unwrap_or_default();
            if s.is_empty() || s.chars().count() > max {
                return Err(GraphError::bad_request(format!(
                    "Property '{name}' must be a non-empty string of at most {max} characters."
                )));
            }
            Ok(Some(s.to_string()))
        }
    }
}

fn parse_claims_mapping(v: &Value, current: &ClaimsMapping) -> GraphResult<ClaimsMapping> {
    let Some(m) = v.as_object() else { return Ok(ClaimsMapping::default()) };
    let mut out = current.clone();
    for (k, val) in m {
        if k == "@odata.type" {
            continue;
        }
        let s = val
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty() && s.len() <= 256)
            .ok_or_else(|| GraphError::bad_request(format!("claimsMapping.{k} must be a non-empty claim name.")))?;
        let slot = match k.as_str() {
            "userId" => &mut out.user_id,
            "email" => &mut out.email,
            "displayName" => &mut out.display_name,
            "givenName" => &mut out.given_name,
            "surname" => &mut out.surname,
            _ => return Err(GraphError::unknown_property(k, "claimsMapping")),
        };
        *slot = s.to_string();
    }
    Ok(out)
}

/// Applies a checked body to the current (or default) values of an OpenID Connect provider.
fn apply(
    k: &str,
    body: &Map<String, Value>,
    display_name: String,
    mut s: OidcSettings,
    creating: bool,
) -> GraphResult<Draft> {
    let display_name = non_empty(body, "displayName", 256)?.unwrap_or(display_name);
    if let Some(c) = non_empty(body, "clientId", 256)? {
        s.client_id = c;
    }
    if let Some(v) = body.get("allowPrivateNetwork").and_then(Value::as_bool) {
        s.allow_private_network = v;
    }
    if let Some(v) = body.get("emailVerification") {
        s.email_verification = match v.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("claim") => EmailVerification::Claim,
            Some("always") => EmailVerification::Always,
            Some("never") => EmailVerification::Never,
            _ => return Err(GraphError::bad_request("emailVerification must be 'claim', 'always' or 'never'.")),
        };
    }
    // The issuer follows the metadata URL unless it was set to something else.
    let old_metadata = s.metadata_url.clone();
    let issuer_was_default = match preset(k) {
        Some((url, iss)) => (s.issuer == iss && old_metadata == url) || s.issuer == derived_issuer(&old_metadata),
        None => s.issuer == derived_issuer(&old_metadata),
    };
    match (body.get("metadataUrl"), preset(k)) {
        (None, _) => {}
        (Some(Value::Null), Some((url, _))) => s.metadata_url = url.into(),
        (Some(v), _) => {
            let raw = v.as_str().unwrap_or_default();
            endpoint_url("metadataUrl", raw, s.allow_private_network)?;
            s.metadata_url = raw.trim().to_string();
        }
    }
    endpoint_url("metadataUrl", &s.metadata_url, s.allow_private_network)?;
    let overridden = preset(k).is_some_and(|(url, _)| s.metadata_url != url);
    match body.get("issuer") {
        Some(Value::String(i)) if preset(k).is_some() && !overridden && i != preset(k).map_or("", |p| p.1) => {
            return Err(GraphError::bad_request(
                "The issuer of a Google or Microsoft provider is fixed; override metadataUrl to change it.",
            ));
        }
        Some(Value::String(i)) => {
            let i = i.trim();
            if i.is_empty() || i.len() > 1024 {
                return Err(GraphError::bad_request("Property 'issuer' must be a non-empty URL."));
            }
            url::Url::parse(i).map_err(|_| GraphError::bad_request("Property 'issuer' must be an absolute URL."))?;
            s.issuer = i.to_string();
        }
        Some(_) => s.issuer = default_issuer(k, &s.metadata_url),
        None if creating || (issuer_was_default && old_metadata != s.metadata_url) => {
            s.issuer = default_issuer(k, &s.metadata_url);
        }
        None => {}
    }
    if let Some(v) = body.get("responseType")
        && v.as_str() != Some("code")
    {
        return Err(GraphError::bad_request(
            "responseType must be 'code': Portico only uses the authorization code flow (with PKCE).",
        ));
    }
    if let Some(v) = body.get("responseMode")
        && v.as_str() != Some("query")
    {
        return Err(GraphError::bad_request(
            "responseMode must be 'query': Portico only uses the authorization code flow with the code in the query.",
        ));
    }
    if let Some(v) = body.get("scope").and_then(Value::as_str) {
        let mut scopes: Vec<String> = vec![];
        for sc in v.split_whitespace() {
            if !scopes.iter().any(|x| x == sc) {
                scopes.push(sc.to_string());
            }
        }
        if !scopes.iter().any(|x| x == "openid") {
            return Err(GraphError::bad_request("scope must include 'openid' (OpenID Connect Core §3.1.2.1)."));
        }
        s.scopes = scopes;
    }
    if let Some(v) = body.get("claimsMapping") {
        s.claims_mapping = parse_claims_mapping(v, &s.claims_mapping)?;
    }
    if let Some(v) = body.get("domainHint") {
        s.domain_hint = v.as_str().map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned);
    }
    let secret = match body.get("clientSecret") {
        None => SecretChange::Keep,
        // A body copied from a read sends the mask back: nothing changes.
        Some(Value::String(x)) if x == SECRET_MASK => SecretChange::Keep,
        Some(Value::String(x)) if !x.is_empty() && x.len() <= 1024 => SecretChange::Set(x.clone()),
        Some(Value::Null) if k == kind::OIDC => SecretChange::Clear,
        Some(_) => return Err(GraphError::bad_request("clientSecret must be a non-empty string.")),
    };
    let mut domains: Option<Vec<String>> = body.get("domains").map(|v| {
        v.as_array().map(|a| a.iter().filter_map(|d| d.as_str().map(str::to_owned)).collect()).unwrap_or_default()
    });
    // Google always serves gmail.com and googlemail.com, as in Entra.
    if k == kind::GOOGLE && (creating || domains.is_some()) {
        let given = domains.take().unwrap_or_default();
        let mut list: Vec<String> = GOOGLE_DOMAINS.iter().map(|d| (*d).to_string()).collect();
        list.extend(given.into_iter().filter(|d| !GOOGLE_DOMAINS.iter().any(|g| g.eq_ignore_ascii_case(d.trim()))));
        domains = Some(list);
    }
    Ok(Draft { display_name, settings: s, secret, domains })
}

fn default_issuer(k: &str, metadata_url: &str) -> String {
    match preset(k) {
        Some((url, iss)) if url == metadata_url => iss.to_string(),
        _ => derived_issuer(metadata_url),
    }
}

/// The settings a new provider of a kind starts from.
fn initial_settings(k: &str) -> OidcSettings {
    let (metadata_url, issuer) = preset(k).unwrap_or(("", ""));
    OidcSettings {
        metadata_url: metadata_url.into(),
        issuer: issuer.into(),
        client_id: String::new(),
        scopes: vec!["openid".into(), "email".into(), "profile".into()],
        claims_mapping: ClaimsMapping::default(),
        email_verification: EmailVerification::Claim,
        domain_hint: None,
        allow_private_network: false,
    }
}

fn seal(state: &AppState, tenant: TenantId, id: &str, secret: &str) -> String {
    state.dir.keys.master().seal(secret.as_bytes(), &format!("idp-secret:{tenant}:{id}"))
}

/// The kind and Graph type a create body names.
fn kind_of_create(body: &Map<String, Value>) -> GraphResult<(&'static str, &'static str)> {
    let t = body.get("@odata.type").and_then(Value::as_str).unwrap_or_default();
    let t = t.trim_start_matches('#').trim_start_matches("microsoft.graph.").to_ascii_lowercase();
    match t.as_str() {
        "socialidentityprovider" => {
            let ty = body.get("identityProviderType").and_then(Value::as_str).unwrap_or_default();
            match ty.to_ascii_lowercase().as_str() {
                "google" => Ok((kind::GOOGLE, SOCIAL_TYPE)),
                "microsoft" => Ok((kind::MICROSOFT, SOCIAL_TYPE)),
                "" => Err(GraphError::bad_request("Property 'identityProviderType' is required but was not supplied.")),
                _ => Err(GraphError::bad_request(format!(
                    "identityProviderType '{ty}' is not supported by Portico; use Google or Microsoft, or an \
                     openIdConnectIdentityProvider for any other OpenID provider."
                ))),
            }
        }
        "openidconnectidentityprovider" => Ok((kind::OIDC, OIDC_TYPE)),
        "samlorwsfedexternaldomainfederation" => Err(GraphError::bad_request(
            "SAML federations are created at /directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation.",
        )),
        "builtinidentityprovider" => Err(GraphError::bad_request(
            "Built-in identity providers cannot be created; email one-time passcode is switched with \
             /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email.",
        )),
        "" => Err(GraphError::bad_request(
            "'@odata.type' is required: #microsoft.graph.socialIdentityProvider or \
             #microsoft.graph.openIdConnectIdentityProvider.",
        )),
        _ => Err(GraphError::bad_request(format!("A type named '{t}' could not be resolved here."))),
    }
}

fn target_of(p: &IdentityProvider, changes: Vec<(String, Value, Value)>) -> Target {
    Target::new(&p.id, "IdentityProvider", Some(p.display_name.clone())).with_changes(changes)
}

fn metadata_endpoint(s: &OidcSettings) -> GraphResult<url::Url> {
    endpoint_url("metadataUrl", &s.metadata_url, s.allow_private_network)
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// GET /identity/identityProviders: the built-in email one-time passcode provider while it is
/// enabled, then the tenant's providers, oldest first.
pub async fn list_identity_providers(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::IdentityProvidersRead)?;
    if opts.filter.is_some() || opts.search.is_some() || opts.orderby.is_some() || opts.skiptoken.is_some() {
        return Err(GraphError::unsupported(
            "$filter, $search, $orderby and paging are not supported on this collection.",
        ));
    }
    let tenant = auth.tenant();
    let mut conn = state.conn().await?;
    let mut items = vec![];
    if policy::email_otp(&mut conn, tenant).await?.enabled {
        items.push(email_otp_provider());
    }
    for p in fed::list(&mut conn, tenant, None).await? {
        let domains = fed::domains(&mut conn, tenant, &p.id).await?;
        items.push(render(&p, &domains)?);
    }
    drop(conn);
    let selected: Vec<&str> = opts.select.as_deref().map(|s| s.split(',').map(str::trim).collect()).unwrap_or_default();
    let items: Vec<Value> = items.into_iter().map(|v| wire::select(v, &selected, &[])).collect();
    let count = opts.count.then_some(items.len() as i64);
    Ok(wire::collection(&state.dir.settings.public_url, &opts, SET, Page { items, next: None, count }, &[]))
}

/// GET /identity/identityProviders/availableProviderTypes(): the types Portico can configure.
pub async fn available_provider_types(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::IdentityProvidersRead)?;
    let ctx = format!("{}/{}/$metadata#Collection(Edm.String)", state.dir.settings.public_url, opts.version());
    Ok(axum::Json(json!({"@odata.context": ctx, "value": AVAILABLE_TYPES})).into_response())
}

/// GET /identity/identityProviders/{id}
pub async fn get_identity_provider(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::IdentityProvidersRead)?;
    let tenant = auth.tenant();
    let mut conn = state.conn().await?;
    let body = if id.eq_ignore_ascii_case(EMAIL_OTP_ID) {
        if !policy::email_otp(&mut conn, tenant).await?.enabled {
            return Err(GraphError::not_found(&id));
        }
        email_otp_provider()
    } else {
        let p = fed::get(&mut conn, tenant, &id).await?.ok_or_else(|| GraphError::not_found(&id))?;
        let domains = fed::domains(&mut conn, tenant, &p.id).await?;
        render(&p, &domains)?
    };
    drop(conn);
    let selected: Vec<&str> = opts.select.as_deref().map(|s| s.split(',').map(str::trim).collect()).unwrap_or_default();
    let body = wire::select(body, &selected, &[]);
    Ok(wire::entity(&state.dir.settings.public_url, &opts, SET, body, &selected))
}

/// POST /identity/identityProviders: a Google or Microsoft preset (one of each per tenant) or an
/// OpenID Connect provider; 201 with `Location`.
pub async fn create_identity_provider(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::IdentityProvidersWrite)?.clone();
    let (k, type_name) = kind_of_create(&body)?;
    let props = if k == kind::OIDC { OIDC_PROPS } else { SOCIAL_PROPS };
    check(&body, type_name, props, true, &[])?;
    if k == kind::OIDC {
        require(&body, &["displayName", "clientId", "metadataUrl"])?;
    } else {
        require(&body, &["displayName", "clientId", "clientSecret"])?;
    }
    let tenant = auth.tenant();
    let id = match k {
        kind::GOOGLE => GOOGLE_ID.to_string(),
        kind::MICROSOFT => MICROSOFT_ID.to_string(),
        _ => format!("OIDC-{}", ObjectId::new()),
    };
    let draft = apply(k, &body, String::new(), initial_settings(k), true)?;
    if k != kind::OIDC && draft.secret == SecretChange::Keep {
        return Err(GraphError::bad_request("Property 'clientSecret' is required but was not supplied."));
    }
    {
        let mut conn = state.conn().await?;
        if fed::get(&mut conn, tenant, &id).await?.is_some() {
            return Err(GraphError::new(
                StatusCode::CONFLICT,
                "Request_MultipleObjectsWithSameKeyValue",
                format!("The tenant already has the identity provider '{id}'; update it instead."),
            ));
        }
    }
    let endpoint = metadata_endpoint(&draft.settings)?;
    let route = RouteTarget { provider: None, kind: k, endpoint: &endpoint, endpoint_property: "metadataUrl" };
    let domains =
        check_domain_routes(&state, tenant, route, draft.domains.as_deref().unwrap_or_default(), false).await?;
    let now = state.now_ms();
    let provider = IdentityProvider {
        id: id.clone(),
        tenant_id: tenant,
        kind: k.into(),
        display_name: draft.display_name,
        issuer: draft.settings.issuer.clone(),
        config: serde_json::to_value(&draft.settings).map_err(|e| GraphError::internal(&e))?,
        secret: match &draft.secret {
            SecretChange::Set(s) => Some(seal(&state, tenant, &id, s)),
            _ => None,
        },
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.dir.store.begin().await?;
    fed::insert(&mut tx, &provider).await.map_err(conflict)?;
    for d in &domains {
        fed::add_domain(&mut tx, tenant, &id, d, now).await.map_err(conflict)?;
    }
    let shown = render_oidc(&provider, &draft.settings, &domains);
    let changes = wire_diff(&Value::Null, &shown);
    audit(&mut tx, &state, tenant, &caller, ("Add identity provider", "Add"), &[target_of(&provider, changes)]).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(created_at(&state, &opts, SET, &format!("{SET}/{id}"), shown))
}

/// Audited properties that differ between two renderings.
fn wire_diff(old: &Value, new: &Value) -> Vec<(String, Value, Value)> {
    crate::audit::diff(old, new, AUDITED)
}

/// PATCH /identity/identityProviders/{id}: display name, client id and secret, and the OpenID
/// Connect settings and Portico extensions; `identityProviderType` cannot change. 204.
pub async fn update_identity_provider(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(mut body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::IdentityProvidersWrite)?.clone();
    let tenant = auth.tenant();
    if id.eq_ignore_ascii_case(EMAIL_OTP_ID) {
        return Err(GraphError::bad_request(
            "The built-in email one-time passcode provider is switched with \
             /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email.",
        ));
    }
    let current = {
        let mut conn = state.conn().await?;
        fed::get(&mut conn, tenant, &id).await?.ok_or_else(|| GraphError::not_found(&id))?
    };
    if current.kind == kind::SAML {
        return Err(GraphError::bad_request(format!(
            "SAML federations are updated at /directory/federationConfigurations/{}.",
            current.id
        )));
    }
    let (type_name, props) =
        if current.kind == kind::OIDC { (OIDC_TYPE, OIDC_PROPS) } else { (SOCIAL_TYPE, SOCIAL_PROPS) };
    if current.kind != kind::OIDC
        && let Some(t) = body.get("identityProviderType")
    {
        let same = t.as_str().is_some_and(|t| t.eq_ignore_ascii_case(&current.kind));
        if !same {
            return Err(GraphError::bad_request("identityProviderType cannot be changed; add another provider."));
        }
        body.remove("identityProviderType");
    }
    check(&body, type_name, props, false, &[])?;
    let old_settings = oidc_settings(&current)?;
    let draft = apply(&current.kind, &body, current.display_name.clone(), old_settings.clone(), false)?;
    let endpoint = metadata_endpoint(&draft.settings)?;
    let host_changed =
        url::Url::parse(&old_settings.metadata_url).ok().map(|u| host_of(&u)) != Some(host_of(&endpoint));
    let old_domains = {
        let mut conn = state.conn().await?;
        fed::domains(&mut conn, tenant, &current.id).await?
    };
    let route = RouteTarget {
        provider: Some(&current.id),
        kind: &current.kind,
        endpoint: &endpoint,
        endpoint_property: "metadataUrl",
    };
    // A new endpoint host must still be entitled to every routed domain.
    let wanted = draft.domains.clone().unwrap_or_else(|| old_domains.clone());
    let domains = check_domain_routes(&state, tenant, route, &wanted, host_changed).await?;
    let now = state.now_ms();
    let mut next = current.clone();
    next.display_name = draft.display_name.clone();
    next.issuer = draft.settings.issuer.clone();
    next.config = serde_json::to_value(&draft.settings).map_err(|e| GraphError::internal(&e))?;
    next.secret = match &draft.secret {
        SecretChange::Keep => current.secret.clone(),
        SecretChange::Set(s) => Some(seal(&state, tenant, &current.id, s)),
        SecretChange::Clear => None,
    };
    next.updated_at = now;
    let old_shown = render_oidc(&current, &old_settings, &old_domains);
    let new_shown = render_oidc(&next, &draft.settings, &domains);
    let mut changes = wire_diff(&old_shown, &new_shown);
    if draft.secret != SecretChange::Keep {
        changes.push(("clientSecret".into(), Value::Null, json!("(changed)")));
    }
    let mut tx = state.dir.store.begin().await?;
    if !fed::update(&mut tx, &next).await.map_err(conflict)? {
        return Err(GraphError::not_found(&id));
    }
    for d in old_domains.iter().filter(|d| !domains.contains(d)) {
        fed::remove_domain(&mut tx, tenant, &current.id, d).await?;
    }
    for d in domains.iter().filter(|d| !old_domains.contains(d)) {
        fed::add_domain(&mut tx, tenant, &current.id, d, now).await.map_err(conflict)?;
    }
    if !changes.is_empty() {
        let what = ("Update identity provider", "Update");
        audit(&mut tx, &state, tenant, &caller, what, &[target_of(&next, changes)]).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// DELETE /identity/identityProviders/{id}: removes the provider and its domain routes; 204.
/// Guests already linked to it keep their user object and identity, but cannot sign in through
/// it any more (an administrator can reset their redemption to move them to another provider).
pub async fn delete_identity_provider(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> GraphResult<Response> {
    let caller = auth.require(Action::IdentityProvidersWrite)?.clone();
    if id.eq_ignore_ascii_case(EMAIL_OTP_ID) {
        return Err(GraphError::bad_request(
            "The built-in email one-time passcode provider cannot be deleted; disable it with \
             /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email.",
        ));
    }
    delete_provider(&state, &caller, auth.tenant(), &id, None).await
}

/// Deletes a provider (of `only_kind` when given) with its routes and an audit record.
pub(super) async fn delete_provider(
    state: &AppState,
    caller: &Caller,
    tenant: TenantId,
    id: &str,
    only_kind: Option<&str>,
) -> GraphResult<Response> {
    let mut tx = state.dir.store.begin().await?;
    let p = fed::get(&mut tx, tenant, id)
        .await?
        .filter(|p| only_kind.is_none_or(|k| p.kind == k))
        .ok_or_else(|| GraphError::not_found(id))?;
    let domains = fed::domains(&mut tx, tenant, &p.id).await?;
    fed::delete(&mut tx, tenant, &p.id).await?;
    let changes = vec![("domains".to_string(), json!(domains), json!([]))];
    audit(&mut tx, state, tenant, caller, ("Delete identity provider", "Delete"), &[target_of(&p, changes)]).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_domain_is_proven_by_its_endpoint_host_or_a_txt_record() {
        assert!(domain_proven("fabrikam.com", "fabrikam.com", &[]));
        assert!(domain_proven("fabrikam.com", "sts.fabrikam.com", &[]));
        assert!(domain_proven("Fabrikam.COM.", "STS.fabrikam.com", &[]));
        assert!(!domain_proven("fabrikam.com", "evilfabrikam.com", &[]), "a suffix is not a subdomain");
        assert!(!domain_proven("fabrikam.com", "fabrikam.com.evil.net", &[]));
        assert!(!domain_proven("sub.fabrikam.com", "fabrikam.com", &[]), "a parent host proves nothing");
        let txt = |s: &str| vec!["v=spf1 -all".to_string(), s.to_string()];
        assert!(domain_proven(
            "fabrikam.com",
            "idp.partner.net",
            &txt("DirectFedAuthUrl=https://idp.partner.net/adfs")
        ));
        assert!(domain_proven("fabrikam.com", "idp.partner.net", &txt("directfedauthurl = https://IDP.partner.net/x")));
        assert!(!domain_proven("fabrikam.com", "idp.partner.net", &txt("DirectFedAuthUrl=https://other.net/adfs")));
        assert!(!domain_proven("fabrikam.com", "idp.partner.net", &txt("MS=ms123")));
        assert!(!domain_proven("fabrikam.com", "idp.partner.net", &txt("DirectFedAuthUrl=not a url")));
        assert!(!domain_proven("fabrikam.com", "", &[]));
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn oidc_bodies_are_checked_and_defaulted() {
        let d = apply(
            kind::OIDC,
            &obj(json!({"displayName": "Okta", "clientId": "c", "metadataUrl": "https://idp.test/.well-known/openid-configuration"})),
            String::new(),
            initial_settings(kind::OIDC),
            true,
        )
        .unwrap();
        assert_eq!(d.settings.issuer, "https://idp.test");
        assert_eq!(d.settings.scopes, vec!["openid", "email", "profile"]);
        assert_eq!(d.secret, SecretChange::Keep);
        for bad in [
            json!({"metadataUrl": "http://idp.test/.well-known/openid-configuration"}),
            json!({"metadataUrl": "idp.test"}),
            json!({"responseType": "id_token"}),
            json!({"responseMode": "form_post"}),
            json!({"scope": "email profile"}),
            json!({"claimsMapping": {"userId": ""}}),
            json!({"claimsMapping": {"nickname": "nick"}}),
            json!({"emailVerification": "sometimes"}),
        ] {
            let mut body = obj(json!({"displayName": "x", "clientId": "c", "metadataUrl": "https://idp.test/m"}));
            body.extend(obj(bad.clone()));
            assert!(apply(kind::OIDC, &body, String::new(), initial_settings(kind::OIDC), true).is_err(), "{bad}");
        }
        // Plain http on a private network only with the flag.
        let body = obj(json!({"metadataUrl": "http://10.0.0.5/m", "allowPrivateNetwork": true}));
        assert!(apply(kind::OIDC, &body, "x".into(), initial_settings(kind::OIDC), true).is_ok());
    }

    #[test]
    fn preset_issuers_are_fixed_unless_the_metadata_is_overridden() {
        let google =
            apply(kind::GOOGLE, &obj(json!({"clientId": "c"})), "G".into(), initial_settings(kind::GOOGLE), true)
                .unwrap();
        assert_eq!(google.settings.issuer, GOOGLE_ISSUER);
        assert_eq!(google.domains.unwrap(), vec!["gmail.com", "googlemail.com"]);
        assert!(
            apply(
                kind::GOOGLE,
                &obj(json!({"issuer": "https://x.test"})),
                "G".into(),
                initial_settings(kind::GOOGLE),
                true
            )
            .is_err()
        );
        let over = obj(
            json!({"metadataUrl": "http://127.0.0.1:9/.well-known/openid-configuration", "allowPrivateNetwork": true}),
        );
        let d = apply(kind::GOOGLE, &over, "G".into(), initial_settings(kind::GOOGLE), false).unwrap();
        assert_eq!(d.settings.issuer, "http://127.0.0.1:9");
        // Back to the preset: the preset's issuer again.
        let back = apply(kind::GOOGLE, &obj(json!({"metadataUrl": null})), "G".into(), d.settings, false).unwrap();
        assert_eq!(
            (back.settings.metadata_url.as_str(), back.settings.issuer.as_str()),
            (GOOGLE_METADATA_URL, GOOGLE_ISSUER)
        );
        let ms = apply(kind::MICROSOFT, &obj(json!({})), "M".into(), initial_settings(kind::MICROSOFT), true).unwrap();
        assert_eq!(ms.settings.issuer, MICROSOFT_ISSUER);
    }
}
