//! `federated-signin`: Portico's own time per sign-in of a guest from an external identity provider
//! (OpenID Connect and SAML direct federation), without the provider's time, against a member's
//! sign-in to the same app.
//!
//! Setup (once, untimed): an in-process Portico over a real store (settings
//! `danger_accept_unverified_domains`, so a partner domain is routed without a DNS proof), a tenant
//! with a confidential web app and a member with a password; an in-process OpenID Provider (below:
//! discovery, JWKS, an `/authorize` that answers at once with a code, a `/token` that checks the
//! client, the code, the redirect URI and the PKCE verifier and returns an RS256 ID token with the
//! nonce it saw and `email_verified: true`) registered through Graph
//! (`POST /v1.0/identity/identityProviders`); a SAML identity provider
//! (`portico_saml::testing::TestIdp`, RSA-2048, response and assertion signed) registered as a
//! direct federation (`POST /v1.0/directory/federationConfigurations/...`); `--guests` guests of
//! each kind invited and redeemed through their provider (consent), then signed in once to the
//! app (consent) and `--warmup` more times.
//!
//! Measured, each sign-in in a fresh cookie jar (no Portico session), kinds interleaved:
//!
//! - **OIDC guest**: `GET /authorize` → identify page → `POST` the guest's address → 303 to the
//!   provider's `/authorize` (not Portico: not timed) → its 303 back → `GET
//!   /{tenant}/federation/oidc/callback` (Portico redeems the code at the provider's `/token` and
//!   validates the ID token; the time spent inside the provider's handlers is measured there and
//!   subtracted) → Portico's pages to the 303 to the client → `POST` the token endpoint.
//! - **SAML guest**: the same to the 303 carrying the AuthnRequest (deflate + base64 `SAMLRequest`,
//!   `RelayState`); the IdP's work — reading the request and signing a response for it — is not
//!   timed; `POST /{tenant}/federation/saml/acs` → `GET /{tenant}/federation/saml/continue` →
//!   pages → code → token.
//! - **member, live session** (baseline): the jar holds the member's session cookie: `GET
//!   /authorize` → 303 with the code → token.
//! - **member, password** (baseline): `GET /authorize` → identify → password (`PasswordCost::TEST`)
//!   → "stay signed in?" → code → token: the same pages as a guest's, with the password check
//!   in place of the trip to the provider.
//!
//! Portico's time is the sum of the wall times of the requests to Portico (sent to the response
//! read), minus the time the provider's handlers ran during them.

use crate::web::{Page, graph, serve_in_process, stats};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use axum::extract::{Form, Query, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use portico_core::ids::TenantId;
use portico_core::jws::{self, Alg, Signer};
use portico_http::audit::Actor;
use portico_saml::SpConfig;
use portico_saml::testing::{ResponseSpec, TestIdp};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::get_token;

const PASSWORD: &str = "correct horse battery staple";
const REDIRECT_URI: &str = "https://client.example/cb";
const SCOPES: &str = "openid profile email offline_access User.Read";
const INVITE_REDIRECT: &str = "https://apps.bench.test/welcome";
/// The SAML IdP's sign-on URL: the browser is sent there, but the benchmark answers in its place.
const SAML_SSO: &str = "http://127.0.0.1:9/sso";
const OP_CLIENT_ID: &str = "bench";
const OP_CLIENT_SECRET: &str = "s";

fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// The OpenID Provider

/// What `/authorize` handed out with a code.
struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
    login: String,
}

struct Op {
    base: String,
    signer: Signer,
    codes: Mutex<HashMap<String, Grant>>,
    /// Nanoseconds spent inside the provider's handlers for requests Portico makes (everything
    /// but `/authorize`, which the browser calls).
    inside_ns: AtomicU64,
    /// Token requests answered.
    tokens: AtomicU64,
}

async fn start_op() -> anyhow::Result<Arc<Op>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let op = Arc::new(Op {
        base,
        signer: Signer::from_pkcs8("bench-op-1", Alg::RS256, &jws::generate_pkcs8(Alg::RS256)?)?,
        codes: Mutex::new(HashMap::new()),
        inside_ns: AtomicU64::new(0),
        tokens: AtomicU64::new(0),
    });
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", get(op_discovery))
        .route("/jwks", get(op_jwks))
        .route("/authorize", get(op_authorize))
        .route("/token", post(op_token))
        .layer(axum::middleware::from_fn_with_state(op.clone(), op_timed))
        .with_state(op.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(op)
}

/// Times the provider's handling (extractors, handler, response body) of Portico's requests.
async fn op_timed(State(op): State<Arc<Op>>, req: Request, next: Next) -> Response {
    let counted = req.uri().path() != "/authorize";
    let t = Instant::now();
    let r = next.run(req).await;
    if counted {
        op.inside_ns.fetch_add(t.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
    r
}

async fn op_discovery(State(op): State<Arc<Op>>) -> axum::Json<Value> {
    let b = &op.base;
    axum::Json(json!({
        "issuer": b, "authorization_endpoint": format!("{b}/authorize"), "token_endpoint": format!("{b}/token"),
        "jwks_uri": format!("{b}/jwks"), "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
}

async fn op_jwks(State(op): State<Arc<Op>>) -> axum::Json<Value> {
    axum::Json(json!({"keys": [op.signer.public_jwk()]}))
}

async fn op_authorize(State(op): State<Arc<Op>>, Query(q): Query<HashMap<String, String>>) -> Response {
    let need = |k: &str| q.get(k).cloned().unwrap_or_default();
    if need("client_id") != OP_CLIENT_ID || need("code_challenge_method") != "S256" || need("nonce").is_empty() {
        return (StatusCode::BAD_REQUEST, "client_id, nonce and PKCE S256 are required").into_response();
    }
    let Ok(mut back) = url::Url::parse(&need("redirect_uri")) else {
        return (StatusCode::BAD_REQUEST, "redirect_uri").into_response();
    };
    let code = portico_core::secret::random_token(16);
    let grant = Grant {
        nonce: need("nonce"),
        challenge: need("code_challenge"),
        redirect_uri: need("redirect_uri"),
        // The person signing in: the address Portico passes as login_hint.
        login: need("login_hint"),
    };
    op.codes.lock().unwrap_or_else(|e| e.into_inner()).insert(code.clone(), grant);
    back.query_pairs_mut().append_pair("code", &code).append_pair("state", &need("state")).append_pair("iss", &op.base);
    Redirect::to(back.as_str()).into_response()
}

async fn op_token(State(op): State<Arc<Op>>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
    let bad = |e: &str| (StatusCode::BAD_REQUEST, axum::Json(json!({"error": e}))).into_response();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{OP_CLIENT_ID}:{OP_CLIENT_SECRET}"))
    );
    let by_header = headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(basic.as_str());
    let by_form = f.get("client_id").map(String::as_str) == Some(OP_CLIENT_ID)
        && f.get("client_secret").map(String::as_str) == Some(OP_CLIENT_SECRET);
    if !(by_header || by_form) {
        return bad("invalid_client");
    }
    let code = f.get("code").cloned().unwrap_or_default();
    let Some(g) = op.codes.lock().unwrap_or_else(|e| e.into_inner()).remove(&code) else {
        return bad("invalid_grant");
    };
    let verifier = f.get("code_verifier").map(String::as_str).unwrap_or_default();
    if portico_core::pkce::challenge_s256(verifier) != g.challenge || f.get("redirect_uri") != Some(&g.redirect_uri) {
        return bad("invalid_grant");
    }
    let now = now_ms() / 1000;
    let claims = json!({
        "iss": op.base, "aud": OP_CLIENT_ID, "sub": format!("op-{}", g.login), "email": g.login,
        "email_verified": true, "nonce": g.nonce, "iat": now, "exp": now + 300, "auth_time": now,
        "amr": ["pwd"], "name": format!("Partner {}", g.login), "given_name": "Partner", "family_name": "Guest",
    });
    let Ok(id_token) = op.signer.sign_jwt(&claims) else { return bad("server_error") };
    op.tokens.fetch_add(1, Ordering::Relaxed);
    axum::Json(json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "id_token": id_token}))
        .into_response()
}

// ---------------------------------------------------------------------------------------------
// The browser

/// The partners a browser may be sent to.
struct Partners {
    op: Arc<Op>,
    idp: TestIdp,
    sp: SpConfig,
}

/// What one sign-in cost: Portico's time and requests, and the wall time of everything.
#[derive(Default)]
struct Cost {
    portico_ms: f64,
    /// Portico's time in the requests under `/federation/` (callback, ACS, continue).
    federation_ms: f64,
    requests: usize,
}

/// A browser with its own cookies and no automatic redirects, which times every request to
/// Portico.
struct Jar {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
    cost: Cost,
}

impl Jar {
    fn new(http: &reqwest::Client, base: &str) -> Self {
        Self { http: http.clone(), base: base.to_string(), cookies: BTreeMap::new(), cost: Cost::default() }
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.base)
        }
    }

    fn is_local(&self, url: &str) -> bool {
        url.starts_with('/') || url == self.base || url.starts_with(&format!("{}/", self.base))
    }

    async fn send(&mut self, url: &str, mut rb: reqwest::RequestBuilder, op: &Op) -> anyhow::Result<Page> {
        if !self.cookies.is_empty() {
            let c = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            rb = rb.header("Cookie", c);
        }
        let inside_before = op.inside_ns.load(Ordering::Relaxed);
        let t = Instant::now();
        let r = rb.send().await?;
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await?;
        let wall = t.elapsed().as_secs_f64() * 1000.0;
        if self.is_local(url) {
            let inside = op.inside_ns.load(Ordering::Relaxed).saturating_sub(inside_before) as f64 / 1e6;
            let ms = (wall - inside).max(0.0);
            self.cost.portico_ms += ms;
            self.cost.requests += 1;
            if url.contains("/federation/") {
                self.cost.federation_ms += ms;
            }
        }
        for v in headers.get_all(reqwest::header::SET_COOKIE) {
            let Ok(v) = v.to_str() else { continue };
            let mut parts = v.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.trim().split_once('=')) else { continue };
            let deleted = parts.any(|a| a.trim().eq_ignore_ascii_case("Max-Age=0"));
            if deleted || value.is_empty() {
                self.cookies.remove(name.trim());
            } else {
                self.cookies.insert(name.trim().to_string(), value.trim().to_string());
            }
        }
        let location = headers.get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        Ok(Page { status, location, text })
    }

    async fn get(&mut self, path: &str, p: &Partners) -> anyhow::Result<Page> {
        let url = self.url(path);
        let rb = self.http.get(&url);
        self.send(&url, rb, &p.op).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)], p: &Partners) -> anyhow::Result<Page> {
        let url = self.url(path);
        let rb = self.http.post(&url).form(fields);
        self.send(&url, rb, &p.op).await
    }

    /// Follows redirects that stay on Portico; a redirect elsewhere is returned.
    async fn follow(&mut self, mut page: Page, p: &Partners) -> anyhow::Result<Page> {
        for _ in 0..10 {
            if !page.is_redirect() {
                return Ok(page);
            }
            let loc = page.location.clone().unwrap_or_default();
            if !self.is_local(&loc) {
                return Ok(page);
            }
            page = self.get(&loc, p).await?;
        }
        Ok(page)
    }

    /// Answers the page's form (flow and csrf taken from the page) and follows the answer.
    async fn answer(&mut self, page: &Page, step: &str, fields: &[(&str, &str)], p: &Partners) -> anyhow::Result<Page> {
        let action = page.action().with_context(|| format!("no form on the page: {}", page.describe()))?;
        let flow = page.input("flow").with_context(|| format!("no flow: {}", page.describe()))?;
        let csrf = page.input("csrf").with_context(|| format!("no csrf: {}", page.describe()))?;
        let mut all: Vec<(&str, &str)> = vec![("flow", &flow), ("csrf", &csrf), ("step", step)];
        all.extend_from_slice(fields);
        let r = self.post(&action, &all, p).await?;
        self.follow(r, p).await
    }

    /// At the OpenID Provider: its `/authorize` answers at once; back to Portico's callback.
    async fn via_op(&mut self, to_op: &str, p: &Partners) -> anyhow::Result<Page> {
        let at_op = self.get(to_op, p).await?;
        let back = match (at_op.status, &at_op.location) {
            (StatusCode::SEE_OTHER, Some(l)) if self.is_local(l) => l.clone(),
            _ => bail!("the provider did not send the browser back: {}", at_op.describe()),
        };
        let page = self.get(&back, p).await?;
        self.follow(page, p).await
    }

    /// At the SAML IdP: reads the AuthnRequest, signs a response for `login` (the IdP's work, not
    /// timed), posts it to Portico's ACS and follows.
    async fn via_idp(&mut self, to_idp: &str, login: &str, p: &Partners) -> anyhow::Result<Page> {
        let u = url::Url::parse(to_idp)?;
        let q: HashMap<String, String> = u.query_pairs().into_owned().collect();
        let xml = portico_saml::decode_redirect_binding(q.get("SAMLRequest").context("no SAMLRequest")?)?;
        let relay = q.get("RelayState").context("no RelayState")?;
        let request_id = xml
            .split_once(" ID=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(id, _)| id.to_string())
            .context("no ID in the AuthnRequest")?;
        let mut spec = ResponseSpec::new(&p.idp, &p.sp, &format!("saml-{login}"), now_ms());
        spec.in_response_to = Some(request_id);
        spec.email = Some(login.to_string());
        let claims = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims";
        spec.extra_attributes = vec![
            (format!("{claims}/givenname"), "Partner".into()),
            (format!("{claims}/surname"), "Guest".into()),
            ("http://schemas.microsoft.com/identity/claims/displayname".into(), format!("Partner {login}")),
        ];
        let response = p.idp.response_b64(&spec);
        let acs = p.sp.acs_url.clone();
        let page = self.post(&acs, &[("SAMLResponse", &response), ("RelayState", relay)], p).await?;
        self.follow(page, p).await
    }

    /// Answers Portico's pages and goes through the providers until the flow leaves for the
    /// client (or the invitation's redirect); returns the last page and the steps taken.
    async fn complete(&mut self, mut page: Page, login: &str, p: &Partners) -> anyhow::Result<(Page, Vec<String>)> {
        let mut steps = vec![];
        for _ in 0..16 {
            if page.is_redirect() {
                let loc = page.location.clone().unwrap_or_default();
                if loc.starts_with(&format!("{}/authorize?", p.op.base)) {
                    steps.push("oidc-provider".into());
                    page = self.via_op(&loc, p).await?;
                    continue;
                }
                if loc.starts_with(&format!("{SAML_SSO}?")) {
                    steps.push("saml-idp".into());
                    page = self.via_idp(&loc, login, p).await?;
                    continue;
                }
                return Ok((page, steps));
            }
            if page.step().is_none()
                && let Some(next) = page.meta_refresh()
            {
                steps.push("meta-refresh".into());
                if self.is_local(&next) {
                    let r = self.get(&next, p).await?;
                    page = self.follow(r, p).await?;
                    continue;
                }
                return Ok((Page { status: StatusCode::SEE_OTHER, location: Some(next), text: String::new() }, steps));
            }
            let Some(step) = page.step() else { bail!("a page without a form: {}", page.describe()) };
            page = match step.as_str() {
                "start" => self.answer(&page, "start", &[], p).await?,
                "identify" => self.answer(&page, "identify", &[("login", login)], p).await?,
                "password" => self.answer(&page, "password", &[("password", PASSWORD)], p).await?,
                "kmsi" => self.answer(&page, "kmsi", &[("stay", "no")], p).await?,
                "consent" => self.answer(&page, "consent", &[("decision", "accept")], p).await?,
                other => bail!("unexpected step {other}: {}", page.describe()),
            };
            steps.push(step);
        }
        bail!("the flow did not end: {}", page.describe())
    }
}

// ---------------------------------------------------------------------------------------------
// Sign-ins

struct WebApp {
    tenant: TenantId,
    client_id: String,
    secret: String,
}

struct SignIn {
    cost: Cost,
    wall_ms: f64,
    steps: Vec<String>,
    id_token: Value,
}

/// One sign-in: authorize, pages (and providers), code, token.
async fn sign_in(
    jar: &mut Jar,
    app: &WebApp,
    login: &str,
    p: &Partners,
    warm_steps: Option<&[String]>,
) -> anyhow::Result<SignIn> {
    let verifier = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("client_id", app.client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", SCOPES),
            ("state", &format!("st-{}", uuid::Uuid::new_v4().simple())),
            ("nonce", &format!("n-{}", uuid::Uuid::new_v4().simple())),
            ("code_challenge", &portico_core::pkce::challenge_s256(&verifier)),
            ("code_challenge_method", "S256"),
        ])
        .finish();
    let t = Instant::now();
    let first = jar.get(&format!("/{}/oauth2/v2.0/authorize?{q}", app.tenant), p).await?;
    let first = jar.follow(first, p).await?;
    let (last, steps) = jar.complete(first, login, p).await?;
    let loc = last.location.clone().unwrap_or_default();
    if !loc.starts_with(REDIRECT_URI) {
        bail!("expected the answer to the client, got {}", last.describe());
    }
    let code = url::Url::parse(&loc)?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .with_context(|| format!("no code in {loc}"))?;
    let token = format!("/{}/oauth2/v2.0/token", app.tenant);
    let r = jar
        .post(
            &token,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", &verifier),
                ("client_id", &app.client_id),
                ("client_secret", &app.secret),
            ],
            p,
        )
        .await?;
    let wall_ms = t.elapsed().as_secs_f64() * 1000.0;
    let body: Value = serde_json::from_str(&r.text).unwrap_or(Value::Null);
    if r.status != StatusCode::OK || body["access_token"].as_str().is_none() {
        bail!("token endpoint answered {}: {}", r.status, r.text);
    }
    if let Some(w) = warm_steps
        && w != steps.as_slice()
    {
        bail!("the measured sign-in went through {steps:?}, the warm one through {w:?}");
    }
    let id_token = body["id_token"]
        .as_str()
        .and_then(|t| t.split('.').nth(1))
        .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    Ok(SignIn { cost: std::mem::take(&mut jar.cost), wall_ms, steps, id_token })
}

#[derive(Default)]
struct Samples {
    portico: Vec<f64>,
    federation: Vec<f64>,
    wall: Vec<f64>,
    requests: usize,
    steps: Vec<String>,
}

impl Samples {
    fn push(&mut self, s: SignIn) {
        self.portico.push(s.cost.portico_ms);
        self.federation.push(s.cost.federation_ms);
        self.wall.push(s.wall_ms);
        self.requests = s.cost.requests;
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Oidc,
    Saml,
    MemberSession,
    MemberPassword,
}

pub async fn federated_signin(url: &str, n: usize, warmup: usize, guests: usize) -> anyhow::Result<()> {
    println!("command: {}", std::env::args().collect::<Vec<_>>().join(" "));
    let guests = guests.max(1);
    // Partner domains are routed without the DNS proof.
    let (base, dir, http) = serve_in_process(url, |s| s.danger_accept_unverified_domains = true).await?;

    // Setup: a tenant (unique domains per run, so a store can be reused), its admin token, the
    // providers, an app and a member.
    let run = uuid::Uuid::new_v4().simple().to_string();
    let tag = &run[..8];
    let (home, op_domain, saml_domain) =
        (format!("contoso-{tag}.test"), format!("op-{tag}.bench"), format!("saml-{tag}.bench"));
    let tenant = dir.create_tenant("Contoso", Some(&home), &Actor::CommandLine).await?.id;
    let all: Vec<String> = portico_core::access::GRAPH_PERMISSIONS.iter().map(|p| p.name.to_string()).collect();
    let token = get_token(&dir, &http, &base, tenant, &all).await?;

    let op = start_op().await?;
    let idp = TestIdp::new(&format!("urn:bench:saml-idp:{tag}"));
    graph(
        &http,
        &base,
        &token,
        "/v1.0/identity/identityProviders",
        json!({
            "@odata.type": "#microsoft.graph.openIdConnectIdentityProvider", "displayName": "Bench OP",
            "clientId": OP_CLIENT_ID, "clientSecret": OP_CLIENT_SECRET,
            "metadataUrl": format!("{}/.well-known/openid-configuration", op.base),
            "scope": "openid email profile", "responseType": "code", "responseMode": "query",
            "claimsMapping": {"userId": "sub", "email": "email"}, "domains": [op_domain],
            "allowPrivateNetwork": true,
        }),
    )
    .await?;
    graph(
        &http,
        &base,
        &token,
        "/v1.0/directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation",
        json!({
            "displayName": "Bench SAML", "issuerUri": idp.issuer, "passiveSignInUri": SAML_SSO,
            "preferredAuthenticationProtocol": "saml", "signingCertificate": idp.cert_b64(),
            "domains": [{"@odata.type": "microsoft.graph.externalDomainName", "id": saml_domain}],
            "allowPrivateNetwork": true,
        }),
    )
    .await?;
    let p = Partners {
        op,
        idp,
        sp: SpConfig {
            entity_id: format!("{base}/{tenant}/"),
            acs_url: format!("{base}/{tenant}/federation/saml/acs"),
        },
    };

    let a = graph(
        &http,
        &base,
        &token,
        "/v1.0/applications",
        json!({"displayName": "bench web app", "web": {"redirectUris": [REDIRECT_URI]}}),
    )
    .await?;
    let client_id = a["appId"].as_str().context("appId")?.to_string();
    let object_id = a["id"].as_str().context("id")?.to_string();
    graph(&http, &base, &token, "/v1.0/servicePrincipals", json!({"appId": client_id})).await?;
    let s = graph(&http, &base, &token, &format!("/v1.0/applications/{object_id}/addPassword"), json!({})).await?;
    let app = WebApp { tenant, client_id, secret: s["secretText"].as_str().context("secretText")?.to_string() };
    let member = format!("ann@{home}");
    graph(
        &http,
        &base,
        &token,
        "/v1.0/users",
        json!({
            "accountEnabled": true, "displayName": "Ann", "mailNickname": "ann", "userPrincipalName": member,
            "mail": member, "passwordProfile": {"password": PASSWORD, "forceChangePasswordNextSignIn": false}
        }),
    )
    .await?;

    // Invite and redeem the guests through their providers, then one sign-in each (consent).
    let mut oidc_guests = vec![];
    let mut saml_guests = vec![];
    for i in 0..guests {
        for (domain, list) in [(&op_domain, &mut oidc_guests), (&saml_domain, &mut saml_guests)] {
            let address = format!("guest{i}@{domain}");
            let inv = graph(
                &http,
                &base,
                &token,
                "/v1.0/invitations",
                json!({"invitedUserEmailAddress": address, "inviteRedirectUrl": INVITE_REDIRECT}),
            )
            .await?;
            let redeem_url = inv["inviteRedeemUrl"].as_str().context("inviteRedeemUrl")?.to_string();
            let mut b = Jar::new(&http, &base);
            let start = b.get(&redeem_url, &p).await?;
            let (end, steps) = b.complete(start, &address, &p).await?;
            if end.location.as_deref() != Some(INVITE_REDIRECT) {
                bail!("{address}: the redemption did not end at the invite redirect ({steps:?}): {}", end.describe());
            }
            let first = sign_in(&mut Jar::new(&http, &base), &app, &address, &p, None).await?;
            let want = if domain == &op_domain { p.op.base.as_str() } else { p.idp.issuer.as_str() };
            if first.id_token["idp"].as_str() != Some(want) {
                bail!("{address}: the ID token names idp {} instead of {want}", first.id_token["idp"]);
            }
            if i == 0 {
                println!("setup: {address} redeemed through {steps:?}; first sign-in {:?}", first.steps);
            }
            list.push(address);
        }
    }
    println!("setup: {guests} OIDC and {guests} SAML guests invited, redeemed and signed in once");

    let mut m = Jar::new(&http, &base);
    let first = sign_in(&mut m, &app, &member, &p, None).await?;
    let cookie = portico_http::web::session_cookie_name(tenant);
    let session = m.cookies.get(&cookie).context("no session after the member's sign-in")?.clone();
    println!("setup: member {member} signed in once ({:?})", first.steps);

    let one = async |kind: Kind, i: usize, warm: Option<&[String]>| -> anyhow::Result<SignIn> {
        let mut jar = Jar::new(&http, &base);
        let login = match kind {
            Kind::Oidc => oidc_guests[i % guests].clone(),
            Kind::Saml => saml_guests[i % guests].clone(),
            Kind::MemberSession => {
                jar.cookies.insert(cookie.clone(), session.clone());
                member.clone()
            }
            Kind::MemberPassword => member.clone(),
        };
        sign_in(&mut jar, &app, &login, &p, warm).await
    };
    const KINDS: [Kind; 4] = [Kind::Oidc, Kind::Saml, Kind::MemberSession, Kind::MemberPassword];
    let mut samples: Vec<Samples> = vec![];
    for kind in KINDS {
        let s = one(kind, 0, None).await?;
        samples.push(Samples { steps: s.steps, ..Samples::default() });
    }
    for i in 0..warmup {
        for (k, kind) in KINDS.into_iter().enumerate() {
            let steps = samples[k].steps.clone();
            one(kind, i, Some(&steps)).await?;
        }
    }
    let tokens_before = p.op.tokens.load(Ordering::Relaxed);
    let pb = indicatif::ProgressBar::new(n as u64);
    for i in 0..n {
        // Rotate which kind goes first, so drift in the machine hits all alike.
        for j in 0..KINDS.len() {
            let k = (i + j) % KINDS.len();
            let steps = samples[k].steps.clone();
            let s = one(KINDS[k], i, Some(&steps)).await?;
            samples[k].push(s);
        }
        pb.inc(1);
    }
    pb.finish_and_clear();
    let tokens = p.op.tokens.load(Ordering::Relaxed) - tokens_before;
    if tokens != n as u64 {
        bail!("the provider answered {tokens} token requests for {n} OIDC sign-ins");
    }

    let engine = if url.starts_with("sqlite") { "SQLite" } else { "PostgreSQL" };
    println!(
        "\n{engine}: {n} sign-ins of each kind, interleaved, after {warmup} warm-up each; {guests} guests of each \
         kind in turn; milliseconds"
    );
    let names = ["OIDC guest", "SAML guest", "member, live session", "member, password"];
    for (k, s) in samples.iter().enumerate() {
        println!("{:<22} {} Portico requests: {:?}", names[k], s.requests, s.steps);
    }
    println!(
        "\n{:<22} {:>9} {:>9} {:>9} {:>14} {:>14} {:>10}",
        "Portico's time", "p50", "p99", "mean", "federation p50", "federation p99", "wall p50"
    );
    let mut summary = vec![];
    for (k, s) in samples.iter_mut().enumerate() {
        let (p50, p99, mean) = stats(&mut s.portico);
        let (f50, f99, _) = stats(&mut s.federation);
        let (w50, _, _) = stats(&mut s.wall);
        summary.push((p50, p99, mean));
        let fed = |v: f64| if k < 2 { format!("{v:.2}") } else { "—".to_string() };
        println!("{:<22} {p50:>9.2} {p99:>9.2} {mean:>9.2} {:>14} {:>14} {w50:>10.2}", names[k], fed(f50), fed(f99));
    }
    println!("\nadded by federation (difference of the percentiles)");
    println!("{:<40} {:>9} {:>9} {:>9}", "", "p50", "p99", "mean");
    for (g, gname) in [(0, "OIDC"), (1, "SAML")] {
        for (b, bname) in [(2, "member, live session"), (3, "member, password")] {
            let (x, y) = (summary[g], summary[b]);
            println!(
                "{:<40} {:>9.2} {:>9.2} {:>9.2}",
                format!("{gname} guest over {bname}"),
                x.0 - y.0,
                x.1 - y.1,
                x.2 - y.2
            );
        }
    }
    Ok(())
}
