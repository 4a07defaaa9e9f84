//! `/directory/federationConfigurations`: SAML 2.0 direct federation with a partner's identity
//! provider by email domain (Graph's `samlOrWsFedExternalDomainFederation`), stored as providers
//! of kind `saml` with [`SamlSettings`], and the daily refresh of their signing certificates from
//! the partner's metadata ([`refresh_saml_metadata`]).
//!
//! Paths (Graph documents the domain navigation both after the cast and after the id):
//! `.../graph.samlOrWsFedExternalDomainFederation` (also `microsoft.graph.`) to list and create,
//! `.../{id}` to read, update and delete, `.../graph.samlOrWsFedExternalDomainFederation/{id}/domains`
//! and `.../{id}/microsoft.graph.samlOrWsFedExternalDomainFederation/domains` to list and add
//! domains, `.../domains/{domainName}` to remove one.
//!
//! Rules: `preferredAuthenticationProtocol` is `saml` (WS-Federation is not supported);
//! `passiveSignInUri` is https (plain http and private addresses only with the Portico extension
//! `allowPrivateNetwork`); `issuerUri` is unique in the tenant; a `metadataExchangeUri` is read
//! at once through the outbound SSRF rules and must describe `issuerUri`, and its signing
//! certificates are trusted along with `signingCertificate` (required when the metadata gives
//! none; expired certificates are refused). Domains follow the routing rule of
//! `identity_providers.rs`, with `passiveSignInUri` as the endpoint. Read-only Portico
//! extensions: `metadataRefreshedDateTime`, `metadataError`.

use axum::extract::{FromRequestParts, Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use portico_core::access::Action;
use portico_core::clock::graph_datetime;
use portico_core::ids::{ObjectId, TenantId};
use portico_store::StoreError;
use portico_store::federation::{self as fed, IdentityProvider, kind};
use portico_store::list::Page;
use serde_json::{Map, Value, json};

use super::auth::Authed;
use super::body::{Access, JsonBody, Kind, Prop, check, p, require};
use super::error::{GraphError, GraphResult};
use super::identity_providers::{
    RouteTarget, audit, check_domain_routes, conflict, created_at, delete_provider, endpoint_url, host_of,
};
use super::query::QueryOptions;
use super::wire;
use crate::app::AppState;
use crate::audit::{Target, diff};
use crate::federation::outbound::{self, OutboundPolicy};
use crate::federation::providers::SamlSettings;

const TYPE: &str = "samlOrWsFedExternalDomainFederation";
const SET: &str = "directory/federationConfigurations";
/// Largest metadata document read (1 MiB).
pub const MAX_METADATA_BYTES: usize = 1024 * 1024;

const W: Access = Access::Write;
const RO: Access = Access::ReadOnly;

const PROPS: &[Prop] = &[
    p("id", Kind::Str, RO),
    p("displayName", Kind::StrRequired, W),
    p("issuerUri", Kind::StrRequired, W),
    p("passiveSignInUri", Kind::StrRequired, W),
    p("metadataExchangeUri", Kind::Str, W),
    p("preferredAuthenticationProtocol", Kind::StrRequired, W),
    p("signingCertificate", Kind::StrRequired, W),
    p("domains", Kind::ObjectList, Access::CreateOnly),
    p("allowPrivateNetwork", Kind::Bool, W),
    p("metadataRefreshedDateTime", Kind::Str, RO),
    p("metadataError", Kind::Str, RO),
];

const AUDITED: &[&str] = &[
    "displayName",
    "issuerUri",
    "passiveSignInUri",
    "metadataExchangeUri",
    "preferredAuthenticationProtocol",
    "signingCertificate",
    "allowPrivateNetwork",
];

// ---------------------------------------------------------------------------------------------
// Query options with `$expand=domains`

/// Query options of this resource: Graph's, plus `$expand=domains` (the only expansion).
pub struct FedQuery {
    /// The other options.
    pub opts: QueryOptions,
    /// `$expand=domains` was asked.
    pub expand_domains: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for FedQuery {
    type Rejection = GraphError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let eventual = parts
            .headers
            .get("consistencylevel")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("eventual"));
        let uri = parts.extensions.get::<axum::extract::OriginalUri>().map_or(&parts.uri, |o| &o.0);
        let mut expand_domains = false;
        let mut rest = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
            if k.trim_start_matches('$').eq_ignore_ascii_case("expand") {
                if !v.trim().eq_ignore_ascii_case("domains") {
                    return Err(GraphError::unsupported("Only $expand=domains is supported on this resource."));
                }
                expand_domains = true;
            } else {
                rest.append_pair(&k, &v);
            }
        }
        let opts = QueryOptions::parse(uri.path(), &rest.finish(), eventual)?;
        Ok(FedQuery { opts, expand_domains })
    }
}

/// The domain named by `$filter=domains/any(x: x/id eq 'contoso.com')`, the one filter the list
/// takes (lowercased).
pub fn domain_filter(filter: &str) -> Option<String> {
    let compact: String = filter.split_whitespace().collect::<Vec<_>>().join(" ");
    let rest = compact.strip_prefix("domains/any(")?.strip_suffix(')')?;
    let (var, cond) = rest.split_once(':')?;
    let var = var.trim();
    if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let cond = cond.trim().strip_prefix(&format!("{var}/id"))?.trim_start();
    let value = cond.strip_prefix("eq ")?.trim();
    let inner = value.strip_prefix('\'')?.strip_suffix('\'')?;
    if inner.contains('\'') {
        return None;
    }
    Some(inner.to_ascii_lowercase())
}

// ---------------------------------------------------------------------------------------------
// Wire shape

fn settings(p: &IdentityProvider) -> GraphResult<SamlSettings> {
    serde_json::from_value(p.config.clone())
        .map_err(|e| GraphError::internal(&format!("stored settings of {}: {e}", p.id)))
}

fn render_settings(p: &IdentityProvider, s: &SamlSettings, domains: Option<&[String]>) -> Value {
    let mut v = json!({
        "@odata.type": format!("#microsoft.graph.{TYPE}"),
        "id": p.id,
        "displayName": p.display_name,
        "issuerUri": s.issuer_uri,
        "metadataExchangeUri": s.metadata_exchange_uri,
        "passiveSignInUri": s.passive_sign_in_uri,
        "preferredAuthenticationProtocol": s.preferred_authentication_protocol,
        "signingCertificate": s.signing_certificates.first(),
        "allowPrivateNetwork": s.allow_private_network,
        "metadataRefreshedDateTime": s.metadata_refreshed_at.map(graph_datetime),
        "metadataError": s.metadata_error,
    });
    if let Some(d) = domains {
        v["domains"] = Value::Array(d.iter().map(|d| json!({"id": d})).collect());
    }
    v
}

/// A SAML federation as Graph shows it; `domains` when expanded.
pub(super) fn render(p: &IdentityProvider, domains: Option<&[String]>) -> GraphResult<Value> {
    Ok(render_settings(p, &settings(p)?, domains))
}

// ---------------------------------------------------------------------------------------------
// Certificates and metadata

/// Decodes and checks a configured signing certificate (base64 DER or PEM); returns base64 DER.
fn configured_certificate(raw: &str, now: i64) -> GraphResult<String> {
    let der = portico_saml::certificate_from_base64(raw)
        .map_err(|e| GraphError::bad_request(format!("Invalid signingCertificate: {e}")))?;
    let info = portico_saml::certificate_info(&der)
        .map_err(|e| GraphError::bad_request(format!("Invalid signingCertificate: {e}")))?;
    if info.not_after_ms <= now {
        return Err(GraphError::bad_request(format!(
            "The signingCertificate ({}, thumbprint {}) expired on {}; give the partner's current certificate.",
            info.subject,
            info.thumbprint_sha1_hex,
            graph_datetime(info.not_after_ms)
        )));
    }
    Ok(B64.encode(der))
}

/// Whether a stored (base64 DER) certificate is still valid at `now`; unreadable ones are not.
fn unexpired(cert: &str, now: i64) -> bool {
    B64.decode(cert)
        .ok()
        .and_then(|der| portico_saml::certificate_info(&der).ok())
        .is_some_and(|i| i.not_after_ms > now)
}

/// Reads a partner's metadata and returns its unexpired signing certificates (base64 DER);
/// the text of the error otherwise.
async fn read_metadata(url: &str, issuer_uri: &str, allow_private: bool, now: i64) -> Result<Vec<String>, String> {
    let policy = OutboundPolicy::new(allow_private);
    let text = outbound::get_text(&policy, url, MAX_METADATA_BYTES).await.map_err(|e| e.to_string())?;
    let md = portico_saml::parse_idp_metadata(&text).map_err(|e| format!("the metadata cannot be read: {e}"))?;
    if md.entity_id != issuer_uri {
        return Err(format!("the metadata describes the entity '{}', not issuerUri '{issuer_uri}'", md.entity_id));
    }
    Ok(md.signing_certificates.iter().map(|der| B64.encode(der)).filter(|c| unexpired(c, now)).collect())
}

/// The trusted list: the configured certificate first, then the others, without duplicates or
/// expired ones.
fn merge_certificates(first: Option<&String>, others: &[String], now: i64) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for c in first.into_iter().chain(others) {
        if !out.contains(c) && unexpired(c, now) {
            out.push(c.clone());
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Building settings from a body

fn text(body: &Map<String, Value>, name: &str, max: usize) -> GraphResult<Option<String>> {
    match body.get(name).and_then(Value::as_str) {
        None => Ok(None),
        Some(s) if s.trim().is_empty() || s.trim().len() > max => Err(GraphError::bad_request(format!(
            "Property '{name}' must be a non-empty string of at most {max} characters."
        ))),
        Some(s) => Ok(Some(s.trim().to_string())),
    }
}

fn check_protocol(body: &Map<String, Value>) -> GraphResult<()> {
    match body.get("preferredAuthenticationProtocol").and_then(Value::as_str) {
        None => Ok(()),
        Some(p) if p.eq_ignore_ascii_case("saml") => Ok(()),
        Some(p) if p.eq_ignore_ascii_case("wsFed") => Err(GraphError::bad_request(
            "WS-Federation is not supported by Portico; use preferredAuthenticationProtocol 'saml'.",
        )),
        Some(p) => Err(GraphError::bad_request(format!(
            "Invalid value '{p}' for property 'preferredAuthenticationProtocol'; Portico supports 'saml'."
        ))),
    }
}

/// The domain names of a create body's `domains` (`[{"id": "fabrikam.com"}]`).
fn body_domains(v: Option<&Value>) -> GraphResult<Vec<String>> {
    let items = v.and_then(Value::as_array).cloned().unwrap_or_default();
    items.iter().map(external_domain).collect()
}

/// The name of an `externalDomainName` object.
fn external_domain(v: &Value) -> GraphResult<String> {
    let m = v
        .as_object()
        .ok_or_else(|| GraphError::bad_request("A domain must be an object {\"id\": \"fabrikam.com\"}."))?;
    for (k, val) in m {
        match k.as_str() {
            "id" => {}
            "@odata.type" => {
                let t = val.as_str().unwrap_or_default().trim_start_matches('#');
                if !t.eq_ignore_ascii_case("microsoft.graph.externalDomainName") {
                    return Err(GraphError::bad_request(format!(
                        "A type named '{t}' could not be resolved here; expected 'microsoft.graph.externalDomainName'."
                    )));
                }
            }
            _ => return Err(GraphError::unknown_property(k, "externalDomainName")),
        }
    }
    m.get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| GraphError::bad_request("Property 'id' of the domain is required but was not supplied."))
}

async fn find(state: &AppState, tenant: TenantId, id: &str) -> GraphResult<IdentityProvider> {
    let mut conn = state.conn().await?;
    fed::get(&mut conn, tenant, id).await?.filter(|p| p.kind == kind::SAML).ok_or_else(|| GraphError::not_found(id))
}

fn target_of(p: &IdentityProvider, changes: Vec<(String, Value, Value)>) -> Target {
    Target::new(&p.id, "IdentityProvider", Some(p.display_name.clone())).with_changes(changes)
}

fn domain_targets(domains: &[String], on: bool) -> Vec<Target> {
    domains
        .iter()
        .map(|d| {
            let (old, new) = if on { (json!(null), json!("Federated")) } else { (json!("Federated"), json!(null)) };
            Target::new(d, "Directory", Some(d.clone())).with_changes(vec![("federation".into(), old, new)])
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Handlers

fn select_of(opts: &QueryOptions) -> Vec<&str> {
    opts.select.as_deref().map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()).collect()).unwrap_or_default()
}

/// GET /directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation (and the
/// whole `/directory/federationConfigurations`): the tenant's SAML federations; `$filter` on a
/// domain and `$expand=domains`.
pub async fn list_federations(
    auth: Authed,
    State(state): State<AppState>,
    FedQuery { opts, expand_domains }: FedQuery,
) -> GraphResult<Response> {
    auth.require(Action::IdentityProvidersRead)?;
    if opts.search.is_some() || opts.orderby.is_some() || opts.skiptoken.is_some() {
        return Err(GraphError::unsupported("$search, $orderby and paging are not supported on this collection."));
    }
    let wanted = match opts.filter.as_deref().filter(|f| !f.trim().is_empty()) {
        None => None,
        Some(f) => Some(domain_filter(f).ok_or_else(|| {
            GraphError::unsupported(
                "Only $filter=domains/any(x: x/id eq 'fabrikam.com') is supported on federation configurations.",
            )
        })?),
    };
    let tenant = auth.tenant();
    let mut conn = state.conn().await?;
    let mut items = vec![];
    for p in fed::list(&mut conn, tenant, Some(kind::SAML)).await? {
        let domains = fed::domains(&mut conn, tenant, &p.id).await?;
        if wanted.as_ref().is_some_and(|w| !domains.contains(w)) {
            continue;
        }
        items.push(render(&p, expand_domains.then_some(domains.as_slice()))?);
    }
    drop(conn);
    let selected = select_of(&opts);
    let items: Vec<Value> = items.into_iter().map(|v| wire::select(v, &selected, &[])).collect();
    let count = opts.count.then_some(items.len() as i64);
    let set = opts.path.trim_start_matches("/v1.0/").trim_start_matches("/beta/").to_string();
    Ok(wire::collection(&state.dir.settings.public_url, &opts, &set, Page { items, next: None, count }, &[]))
}

/// GET /directory/federationConfigurations/{id}
pub async fn get_federation(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
    FedQuery { opts, expand_domains }: FedQuery,
) -> GraphResult<Response> {
    auth.require(Action::IdentityProvidersRead)?;
    let p = find(&state, auth.tenant(), &id).await?;
    let domains = if expand_domains {
        let mut conn = state.conn().await?;
        Some(fed::domains(&mut conn, auth.tenant(), &p.id).await?)
    } else {
        None
    };
    let selected = select_of(&opts);
    let body = wire::select(render(&p, domains.as_deref())?, &selected, &[]);
    Ok(wire::entity(&state.dir.settings.public_url, &opts, SET, body, &selected))
}

/// POST /directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation: a SAML
/// direct federation with at least one domain; 201 with `Location`.
pub async fn create_federation(
    auth: Authed,
    State(state): State<AppState>,
    FedQuery { opts, .. }: FedQuery,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::IdentityProvidersWrite)?.clone();
    check(&body, TYPE, PROPS, true, &[])?;
    require(&body, &["displayName", "issuerUri", "passiveSignInUri", "domains"])?;
    check_protocol(&body)?;
    let tenant = auth.tenant();
    let now = state.now_ms();
    let display_name = text(&body, "displayName", 256)?.unwrap_or_default();
    let issuer_uri = text(&body, "issuerUri", 1024)?.unwrap_or_default();
    let allow_private = body.get("allowPrivateNetwork").and_then(Value::as_bool).unwrap_or(false);
    let passive_raw = text(&body, "passiveSignInUri", 2048)?.unwrap_or_default();
    let passive = endpoint_url("passiveSignInUri", &passive_raw, allow_private)?;
    let metadata_url = match body.get("metadataExchangeUri").and_then(Value::as_str).map(str::trim) {
        Some(u) if !u.is_empty() => Some(endpoint_url("metadataExchangeUri", u, allow_private)?.to_string()),
        _ => None,
    };
    let domains = body_domains(body.get("domains"))?;
    if domains.is_empty() {
        return Err(GraphError::bad_request("At least one domain is required to federate by domain."));
    }
    let configured = body.get("signingCertificate").and_then(Value::as_str).map(|c| configured_certificate(c, now));
    let configured = configured.transpose()?;
    let from_metadata = match &metadata_url {
        Some(u) => read_metadata(u, &issuer_uri, allow_private, now)
            .await
            .map_err(|e| GraphError::bad_request(format!("The metadataExchangeUri could not be used: {e}.")))?,
        None => vec![],
    };
    let certificates = merge_certificates(configured.as_ref(), &from_metadata, now);
    if certificates.is_empty() {
        return Err(GraphError::bad_request(
            "Property 'signingCertificate' is required unless metadataExchangeUri publishes a valid signing certificate.",
        ));
    }
    let id = ObjectId::new().to_string();
    let route =
        RouteTarget { provider: None, kind: kind::SAML, endpoint: &passive, endpoint_property: "passiveSignInUri" };
    let domains = check_domain_routes(&state, tenant, route, &domains, false).await?;
    let s = SamlSettings {
        issuer_uri: issuer_uri.clone(),
        passive_sign_in_uri: passive_raw,
        metadata_exchange_uri: metadata_url.clone(),
        preferred_authentication_protocol: "saml".into(),
        signing_certificates: certificates,
        allow_private_network: allow_private,
        metadata_refreshed_at: metadata_url.as_ref().map(|_| now),
        metadata_error: None,
    };
    let provider = IdentityProvider {
        id: id.clone(),
        tenant_id: tenant,
        kind: kind::SAML.into(),
        display_name,
        issuer: issuer_uri,
        config: serde_json::to_value(&s).map_err(|e| GraphError::internal(&e))?,
        secret: None,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.dir.store.begin().await?;
    fed::insert(&mut tx, &provider).await.map_err(conflict)?;
    for d in &domains {
        fed::add_domain(&mut tx, tenant, &id, d, now).await.map_err(conflict)?;
    }
    let shown = render_settings(&provider, &s, Some(&domains));
    let changes = diff(&Value::Null, &shown, AUDITED);
    audit(&mut tx, &state, tenant, &caller, ("Add identity provider", "Add"), &[target_of(&provider, changes)]).await?;
    let what = ("Set federation settings on domain", "Update");
    audit(&mut tx, &state, tenant, &caller, what, &domain_targets(&domains, true)).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(created_at(&state, &opts, SET, &format!("{SET}/{id}"), shown))
}

/// PATCH /directory/federationConfigurations/{id}; 204. A new `metadataExchangeUri` is read at
/// once; a new `signingCertificate` becomes the first trusted one; a new `passiveSignInUri` host
/// must still prove every domain.
pub async fn update_federation(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::IdentityProvidersWrite)?.clone();
    check(&body, TYPE, PROPS, false, &[])?;
    check_protocol(&body)?;
    let tenant = auth.tenant();
    let now = state.now_ms();
    let current = find(&state, tenant, &id).await?;
    let old = settings(&current)?;
    let mut s = old.clone();
    let mut next = current.clone();
    if let Some(n) = text(&body, "displayName", 256)? {
        next.display_name = n;
    }
    if let Some(i) = text(&body, "issuerUri", 1024)? {
        s.issuer_uri = i;
    }
    if let Some(v) = body.get("allowPrivateNetwork").and_then(Value::as_bool) {
        s.allow_private_network = v;
    }
    if let Some(u) = text(&body, "passiveSignInUri", 2048)? {
        s.passive_sign_in_uri = u;
    }
    let passive = endpoint_url("passiveSignInUri", &s.passive_sign_in_uri, s.allow_private_network)?;
    match body.get("metadataExchangeUri") {
        None => {}
        Some(Value::String(u)) if !u.trim().is_empty() => {
            s.metadata_exchange_uri =
                Some(endpoint_url("metadataExchangeUri", u.trim(), s.allow_private_network)?.to_string());
        }
        Some(_) => s.metadata_exchange_uri = None,
    }
    if let Some(u) = &s.metadata_exchange_uri {
        endpoint_url("metadataExchangeUri", u, s.allow_private_network)?;
    }
    let configured = match body.get("signingCertificate").and_then(Value::as_str) {
        Some(c) => Some(configured_certificate(c, now)?),
        None => old.signing_certificates.first().cloned(),
    };
    let mut others: Vec<String> = old.signing_certificates.iter().skip(1).cloned().collect();
    let reread = s.metadata_exchange_uri.is_some()
        && (s.metadata_exchange_uri != old.metadata_exchange_uri || s.issuer_uri != old.issuer_uri);
    if let Some(u) = s.metadata_exchange_uri.clone().filter(|_| reread) {
        others = read_metadata(&u, &s.issuer_uri, s.allow_private_network, now)
            .await
            .map_err(|e| GraphError::bad_request(format!("The metadataExchangeUri could not be used: {e}.")))?;
        s.metadata_refreshed_at = Some(now);
        s.metadata_error = None;
    }
    s.signing_certificates = merge_certificates(configured.as_ref(), &others, now);
    if s.signing_certificates.is_empty() {
        return Err(GraphError::bad_request("No valid signing certificate would remain; give signingCertificate."));
    }
    let domains = {
        let mut conn = state.conn().await?;
        fed::domains(&mut conn, tenant, &current.id).await?
    };
    if host_of(&passive) != url::Url::parse(&old.passive_sign_in_uri).map(|u| host_of(&u)).unwrap_or_default() {
        let route = RouteTarget {
            provider: Some(&current.id),
            kind: kind::SAML,
            endpoint: &passive,
            endpoint_property: "passiveSignInUri",
        };
        check_domain_routes(&state, tenant, route, &domains, true).await?;
    }
    next.issuer = s.issuer_uri.clone();
    next.config = serde_json::to_value(&s).map_err(|e| GraphError::internal(&e))?;
    next.updated_at = now;
    let changes = diff(&render_settings(&current, &old, None), &render_settings(&next, &s, None), AUDITED);
    let mut tx = state.dir.store.begin().await?;
    if !fed::update(&mut tx, &next).await.map_err(conflict)? {
        return Err(GraphError::not_found(&id));
    }
    if !changes.is_empty() {
        let what = ("Update identity provider", "Update");
        audit(&mut tx, &state, tenant, &caller, what, &[target_of(&next, changes)]).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// DELETE /directory/federationConfigurations/{id}: removes the federation and its domains;
/// 204. Guests who redeemed through it keep their account but cannot sign in through it.
pub async fn delete_federation(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> GraphResult<Response> {
    let caller = auth.require(Action::IdentityProvidersWrite)?.clone();
    delete_provider(&state, &caller, auth.tenant(), &id, Some(kind::SAML)).await
}

/// GET .../{id}/domains
pub async fn list_domains(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::IdentityProvidersRead)?;
    let p = find(&state, auth.tenant(), &id).await?;
    let mut conn = state.conn().await?;
    let domains = fed::domains(&mut conn, auth.tenant(), &p.id).await?;
    drop(conn);
    let wanted = opts.filter.as_deref().filter(|f| !f.trim().is_empty()).map(|f| {
        let f = f.trim();
        f.strip_prefix("id eq '")
            .and_then(|r| r.strip_suffix('\''))
            .map(str::to_ascii_lowercase)
            .ok_or_else(|| GraphError::unsupported("Only $filter=id eq 'fabrikam.com' is supported on domains."))
    });
    let wanted = wanted.transpose()?;
    let items: Vec<Value> = domains
        .iter()
        .filter(|d| wanted.as_ref().is_none_or(|w| w == *d))
        .map(|d| json!({"@odata.type": "#microsoft.graph.externalDomainName", "id": d}))
        .collect();
    let set = format!("{SET}/microsoft.graph.{TYPE}('{}')/domains", p.id);
    let count = opts.count.then_some(items.len() as i64);
    Ok(wire::collection(&state.dir.settings.public_url, &opts, &set, Page { items, next: None, count }, &[]))
}

/// POST .../{id}/domains: routes one more domain to the federation; 201.
pub async fn add_domain(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
    opts: QueryOptions,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::IdentityProvidersWrite)?.clone();
    let tenant = auth.tenant();
    let p = find(&state, tenant, &id).await?;
    let name = external_domain(&Value::Object(body))?;
    let s = settings(&p)?;
    let passive = endpoint_url("passiveSignInUri", &s.passive_sign_in_uri, s.allow_private_network)?;
    let route = RouteTarget {
        provider: Some(&p.id),
        kind: kind::SAML,
        endpoint: &passive,
        endpoint_property: "passiveSignInUri",
    };
    let names = check_domain_routes(&state, tenant, route, std::slice::from_ref(&name), false).await?;
    let mut tx = state.dir.store.begin().await?;
    for d in &names {
        fed::add_domain(&mut tx, tenant, &p.id, d, state.now_ms()).await.map_err(conflict)?;
    }
    let what = ("Set federation settings on domain", "Update");
    audit(&mut tx, &state, tenant, &caller, what, &domain_targets(&names, true)).await?;
    tx.commit().await.map_err(StoreError::from)?;
    let d = names.first().cloned().unwrap_or(name);
    let body = json!({"@odata.type": "#microsoft.graph.externalDomainName", "id": d});
    let set = format!("{SET}/microsoft.graph.{TYPE}('{}')/domains", p.id);
    Ok(created_at(&state, &opts, &set, &format!("{SET}/graph.{TYPE}/{}/domains/{d}", p.id), body))
}

/// DELETE .../{id}/domains/{domainName}: stops routing the domain; the last domain cannot be
/// removed (delete the federation instead). 204.
pub async fn remove_domain(
    auth: Authed,
    State(state): State<AppState>,
    Path((id, domain)): Path<(String, String)>,
) -> GraphResult<Response> {
    let caller = auth.require(Action::IdentityProvidersWrite)?.clone();
    let tenant = auth.tenant();
    let p = find(&state, tenant, &id).await?;
    let name = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let mut tx = state.dir.store.begin().await?;
    let domains = fed::domains(&mut tx, tenant, &p.id).await?;
    if !domains.contains(&name) {
        return Err(GraphError::not_found(&domain));
    }
    if domains.len() == 1 {
        return Err(GraphError::bad_request(
            "A federation keeps at least one domain; delete the federation configuration instead.",
        ));
    }
    fed::remove_domain(&mut tx, tenant, &p.id, &name).await?;
    let what = ("Remove federation settings from domain", "Update");
    audit(&mut tx, &state, tenant, &caller, what, &domain_targets(std::slice::from_ref(&name), false)).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------------
// Metadata refresh

/// What one metadata refresh did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// Federations with a metadata URL.
    pub checked: usize,
    /// Whose trusted certificates changed.
    pub updated: usize,
    /// Whose metadata could not be read or used (recorded in `metadataError`).
    pub failed: usize,
}

/// Reads the metadata of every SAML federation that has a `metadataExchangeUri` and updates its
/// trusted signing certificates: the configured (first) one is kept, new ones from the metadata
/// are added, expired ones are dropped (the list is never left empty). Records
/// `metadata_refreshed_at` or `metadata_error`. Idempotent; run daily by every server's upkeep
/// (Entra checks daily too).
pub async fn refresh_saml_metadata(state: &AppState) -> Result<RefreshReport, StoreError> {
    let mut report = RefreshReport::default();
    let providers = {
        let mut conn = state.dir.store.pool().acquire().await?;
        fed::all_of_kind(&mut conn, kind::SAML).await?
    };
    for p in providers {
        let Ok(mut s) = serde_json::from_value::<SamlSettings>(p.config.clone()) else { continue };
        let Some(url) = s.metadata_exchange_uri.clone() else { continue };
        report.checked += 1;
        let now = state.now_ms();
        let before = s.clone();
        match read_metadata(&url, &s.issuer_uri, s.allow_private_network, now).await {
            Ok(fresh) => {
                let merged = merge_certificates(s.signing_certificates.first(), &fresh, now);
                if merged.is_empty() {
                    s.metadata_error = Some("every signing certificate has expired".into());
                    report.failed += 1;
                } else {
                    if merged != s.signing_certificates {
                        report.updated += 1;
                    }
                    s.signing_certificates = merged;
                    s.metadata_error = None;
                }
                s.metadata_refreshed_at = Some(now);
            }
            Err(e) => {
                tracing::warn!(tenant.id = %p.tenant_id, provider = %p.id, error = %e, "SAML metadata refresh failed for {}: {e}", p.id);
                s.metadata_error = Some(e);
                report.failed += 1;
            }
        }
        if s == before {
            continue;
        }
        let mut next = p.clone();
        next.config = serde_json::to_value(&s).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        next.updated_at = now;
        let mut conn = state.dir.store.pool().acquire().await?;
        fed::update(&mut conn, &next).await?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_domain_filter_is_read() {
        assert_eq!(domain_filter("domains/any(x: x/id eq 'Contoso.com')").as_deref(), Some("contoso.com"));
        assert_eq!(domain_filter("domains/any(d:d/id eq 'a.b')").as_deref(), Some("a.b"));
        for bad in [
            "displayName eq 'x'",
            "domains/any(x: x/id ne 'a.b')",
            "domains/any(x: y/id eq 'a.b')",
            "domains/any(x: x/id eq 'a'b')",
        ] {
            assert_eq!(domain_filter(bad), None, "{bad}");
        }
    }

    #[test]
    fn protocols_other_than_saml_are_refused() {
        let b = |v: &str| json!({"preferredAuthenticationProtocol": v}).as_object().cloned().unwrap();
        assert!(check_protocol(&b("saml")).is_ok());
        assert!(check_protocol(&b("wsFed")).unwrap_err().message.contains("WS-Federation is not supported by Portico"));
        assert!(check_protocol(&b("oauth")).is_err());
    }
}
