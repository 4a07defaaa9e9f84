//! Guests from external identity providers, end to end over real HTTP: an OpenID Provider (a
//! small one written here, so each security check can be provoked: wrong nonce, unverified
//! email, key roll-over, a provider that is down or on a refused address) and a SAML identity
//! provider (`portico_saml::testing::TestIdp`, which signs like a real IdP: replays, wrong
//! audience, expired, wrapped). The independent peers (npm oidc-provider, pysaml2, another
//! Portico process) are exercised by compat/.

use std::collections::HashMap;
use std::io::Read as _;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};
use base64::Engine as _;
use portico_core::jws::{self, Alg, Signer};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test_custom;
use crate::browser::{AuthReq, Browser, Page, challenge_of, code_of, redeem, web_client};
use crate::common::{Custom, TestApp, jwt_claims};
use crate::support::{answer_redeem, invite, redeem_path};

fn danger_domains() -> Custom {
    Custom::settings(|s| s.danger_accept_unverified_domains = true)
}

// ---------------------------------------------------------------------------------------------
// A minimal OpenID Provider

#[derive(Clone)]
struct Account {
    sub: String,
    email: String,
    email_verified: bool,
    amr: Vec<String>,
    /// The `tid` claim, if any (the OP's issuer names a tenant, as Entra's and Portico's do).
    tid: Option<String>,
}

struct OpState {
    base: String,
    signer: Mutex<Arc<Signer>>,
    account: Mutex<Account>,
    wrong_nonce: Mutex<bool>,
    /// code -> (nonce, code_challenge, redirect_uri)
    codes: Mutex<HashMap<String, (String, String, String)>>,
    /// What the authorize requests carried.
    authorize_seen: Mutex<Vec<HashMap<String, String>>>,
}

struct Op {
    base: String,
    state: Arc<OpState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Op {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn new_signer(kid: &str) -> Arc<Signer> {
    Arc::new(Signer::from_pkcs8(kid, Alg::RS256, &jws::generate_pkcs8(Alg::RS256).unwrap()).unwrap())
}

async fn start_op(account: Account) -> Op {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // A tenant-scoped issuer, like Entra ID's and Portico's: `http://host/{tenant}/v2.0`.
    let home_tenant = uuid::Uuid::new_v4().to_string();
    let prefix = format!("/{home_tenant}/v2.0");
    let base = format!("http://{}{prefix}", listener.local_addr().unwrap());
    let state = Arc::new(OpState {
        base: base.clone(),
        signer: Mutex::new(new_signer("k1")),
        account: Mutex::new(account),
        wrong_nonce: Mutex::new(false),
        codes: Mutex::new(HashMap::new()),
        authorize_seen: Mutex::new(vec![]),
    });
    let routes = axum::Router::new()
        .route("/.well-known/openid-configuration", get(op_discovery))
        .route("/jwks", get(op_jwks))
        .route("/authorize", get(op_authorize))
        .route("/token", post(op_token))
        .with_state(state.clone());
    let app = axum::Router::new().nest(&prefix, routes);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Op { base, state, task }
}

async fn op_discovery(State(s): State<Arc<OpState>>) -> axum::Json<Value> {
    let b = &s.base;
    axum::Json(json!({
        "issuer": b, "authorization_endpoint": format!("{b}/authorize"), "token_endpoint": format!("{b}/token"),
        "jwks_uri": format!("{b}/jwks"), "response_types_supported": ["code"], "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"], "code_challenge_methods_supported": ["S256"],
    }))
}

async fn op_jwks(State(s): State<Arc<OpState>>) -> axum::Json<Value> {
    let k = s.signer.lock().unwrap().public_jwk();
    axum::Json(json!({"keys": [k]}))
}

async fn op_authorize(State(s): State<Arc<OpState>>, Query(q): Query<HashMap<String, String>>) -> impl IntoResponse {
    let code = portico_core::secret::random_token(16);
    s.codes.lock().unwrap().insert(
        code.clone(),
        (q["nonce"].clone(), q.get("code_challenge").cloned().unwrap_or_default(), q["redirect_uri"].clone()),
    );
    s.authorize_seen.lock().unwrap().push(q.clone());
    let mut u = url::Url::parse(&q["redirect_uri"]).unwrap();
    u.query_pairs_mut().append_pair("code", &code).append_pair("state", &q["state"]).append_pair("iss", &s.base);
    Redirect::to(u.as_str())
}

async fn op_token(
    State(s): State<Arc<OpState>>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> impl IntoResponse {
    let bad = |e: &str| (StatusCode::BAD_REQUEST, axum::Json(json!({"error": e}))).into_response();
    let basic = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("portico-rp:rp-secret"));
    if basic != expected {
        return bad("invalid_client");
    }
    let Some((nonce, challenge, redirect)) =
        s.codes.lock().unwrap().remove(f.get("code").map(String::as_str).unwrap_or(""))
    else {
        return bad("invalid_grant");
    };
    // PKCE towards the provider: the verifier must match the challenge sent to /authorize.
    if challenge_of(f.get("code_verifier").map(String::as_str).unwrap_or("")) != challenge
        || f.get("redirect_uri") != Some(&redirect)
    {
        return bad("invalid_grant");
    }
    let a = s.account.lock().unwrap().clone();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let nonce = if *s.wrong_nonce.lock().unwrap() { "not-the-nonce".to_string() } else { nonce };
    let claims = json!({
        "iss": s.base, "aud": "portico-rp", "sub": a.sub, "email": a.email, "email_verified": a.email_verified,
        "nonce": nonce, "iat": now, "exp": now + 300, "amr": a.amr, "auth_time": now, "name": "Olga Partner",
    });
    let mut claims = claims;
    if let Some(t) = &a.tid {
        claims["tid"] = json!(t);
    }
    let token = s.signer.lock().unwrap().sign_jwt(&claims).unwrap();
    axum::Json(json!({"access_token": "at", "token_type": "Bearer", "id_token": token})).into_response()
}

/// Registers `op` as an OpenID Connect provider of the app's tenant for `domain`. Without
/// `allow_private` the metadata URL is https (plain http is only accepted with the allowance).
async fn add_oidc_provider(app: &TestApp, op: &Op, domain: &str, allow_private: bool) -> Value {
    let base = if allow_private { op.base.clone() } else { op.base.replace("http://", "https://") };
    let r = app
        .post(
            "/v1.0/identity/identityProviders",
            json!({
                "@odata.type": "#microsoft.graph.openIdConnectIdentityProvider",
                "displayName": "Partner OP", "clientId": "portico-rp", "clientSecret": "rp-secret",
                "metadataUrl": format!("{base}/.well-known/openid-configuration"),
                "scope": "openid email profile", "responseType": "code", "responseMode": "query",
                "claimsMapping": {"userId": "sub", "email": "email", "displayName": "name"},
                "domains": [domain], "allowPrivateNetwork": allow_private,
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

/// Opens the invitation and continues: the 303 out to the provider.
async fn out_to_provider(app: &TestApp, b: &mut Browser, inv: &Value) -> Page {
    let start = b.get(&redeem_path(app, inv)).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    answer_redeem(b, &app.tenant.to_string(), &start, "start", &[]).await
}

/// From the 303 to the OP to Portico's answer after the callback.
async fn through_op(b: &mut Browser, out: &Page) -> Page {
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.text);
    let at_op = b.get(&out.location().unwrap()).await;
    assert_eq!(at_op.status, StatusCode::SEE_OTHER, "the OP answers at once");
    let back = b.get(&at_op.location().unwrap()).await;
    b.follow(back).await
}

async fn guest_json(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1.0/users/{id}?$select=id,externalUserState,identities")).await.body
}

/// The newest sign-in log entry.
async fn last_sign_in(app: &TestApp) -> Value {
    let r = app.get("/v1.0/auditLogs/signIns?$top=1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["value"][0].clone()
}

fn assert_failure_page(page: &Page, reason: &str) {
    assert!(page.status == StatusCode::FORBIDDEN || page.status == StatusCode::BAD_REQUEST, "{}", page.text);
    let rid = page.header("request-id").unwrap_or_default();
    assert!(!rid.is_empty() && page.text.contains(&rid), "the page shows the request id {rid}: {}", page.text);
    let _ = reason;
}

async fn assert_logged(app: &TestApp, reason: &str) {
    let s = last_sign_in(app).await;
    let why = s["status"]["failureReason"].as_str().unwrap_or_default();
    assert!(why.starts_with(&format!("{reason}:")), "sign-in log reason {why:?} should be {reason}");
    assert_ne!(s["status"]["errorCode"], 0, "{s}");
}

fn account(email: &str, verified: bool) -> Account {
    Account {
        sub: "op-user-1".into(),
        email: email.into(),
        email_verified: verified,
        amr: vec!["pwd".into()],
        tid: None,
    }
}

api_test_custom!(oidc_guest_redeems_and_signs_in_with_the_partners_provider, danger_domains(), |app| {
    let op = start_op(account("olga@oidc.test", true)).await;
    let home_tenant = op.base.split('/').nth(3).unwrap().to_string();
    op.state.account.lock().unwrap().tid = Some(home_tenant.clone());
    add_oidc_provider(&app, &op, "oidc.test", true).await;
    let inv = invite(&app, "olga@oidc.test", json!({})).await;
    let guest_id = inv["invitedUser"]["id"].as_str().unwrap().to_string();
    let mut b = Browser::new(&app);
    let out = out_to_provider(&app, &mut b, &inv).await;
    let loc = out.location().unwrap();
    assert!(
        loc.starts_with(&format!("{}/authorize?", op.base)),
        "home-realm discovery sends oidc.test to the OP: {loc}"
    );
    let consent = through_op(&mut b, &out).await;
    assert_eq!(consent.step().as_deref(), Some("consent"), "{}", consent.text);
    // State, nonce and PKCE S256 went to the provider (the OP checked the verifier at /token).
    let seen = op.state.authorize_seen.lock().unwrap()[0].clone();
    assert_eq!(seen["code_challenge_method"], "S256");
    assert!(seen["nonce"].len() >= 20 && seen["state"].len() >= 20);
    assert_eq!(seen["login_hint"], "olga@oidc.test");
    let done = answer_redeem(&mut b, &app.tenant.to_string(), &consent, "consent", &[("decision", "accept")]).await;
    assert_eq!(done.location().as_deref(), Some("https://apps.contoso.test/welcome"), "{}", done.text);
    let g = guest_json(&app, &guest_id).await;
    assert_eq!(g["externalUserState"], "Accepted");
    let fed = g["identities"].as_array().unwrap().iter().find(|i| i["signInType"] == "federated").cloned().unwrap();
    assert_eq!(fed["issuer"], op.base, "keyed on the provider's issuer");
    assert_eq!(fed["issuerAssignedId"], "op-user-1", "and its subject");

    // Sign in to an app as the guest: back to the OP, tokens with idp = the OP's issuer.
    // The OP rolls its signing key meanwhile: Portico follows without restart.
    *op.state.signer.lock().unwrap() = new_signer("k2");
    let client = web_client(&app).await;
    let mut b2 = Browser::new(&app);
    let req = AuthReq::new();
    let first = b2.authorize(&app, &client, &req).await;
    let out = b2.answer(&app.tenant.to_string(), &first, "identify", &[("login", "olga@oidc.test")]).await;
    let back = through_op(&mut b2, &out).await;
    let last = b2.complete(&app, back, "olga@oidc.test", "").await;
    let code = code_of(&last, &client);
    let r = redeem(&app, &client, &code, &req.verifier).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let c = jwt_claims(r.body["id_token"].as_str().unwrap());
    assert_eq!(c["idp"], op.base);
    assert_eq!(c["oid"], guest_id.as_str());
    assert_eq!(c["acct"], 1);
    assert!(c["amr"].as_array().unwrap().iter().any(|a| a == "fed"), "{c}");
    // The sign-in log knows the guest's home tenant (from the issuer, confirmed by tid).
    let s = last_sign_in(&app).await;
    assert_eq!(s["crossTenantAccessType"], "b2bCollaboration", "{s}");
    assert_eq!(s["homeTenantId"], home_tenant.as_str(), "{s}");

    // Another person at the same provider (another subject) cannot sign in as the guest, even
    // with the guest's address: identities are keyed on (issuer, subject), not on email.
    op.state.account.lock().unwrap().sub = "op-user-2".into();
    let mut b3 = Browser::new(&app);
    let req = AuthReq::new();
    let first = b3.authorize(&app, &client, &req).await;
    let out = b3.answer(&app.tenant.to_string(), &first, "identify", &[("login", "olga@oidc.test")]).await;
    let refused = through_op(&mut b3, &out).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
});

api_test_custom!(oidc_failures_give_a_page_with_the_request_id_and_a_logged_reason, danger_domains(), |app| {
    // Email not verified at the provider: cannot prove the invited address.
    let op = start_op(account("una@unverified.test", false)).await;
    add_oidc_provider(&app, &op, "unverified.test", true).await;
    let inv = invite(&app, "una@unverified.test", json!({})).await;
    let mut b = Browser::new(&app);
    let out = out_to_provider(&app, &mut b, &inv).await;
    let page = through_op(&mut b, &out).await;
    assert_failure_page(&page, "email_not_verified");
    assert_logged(&app, "email_not_verified").await;
    let g = guest_json(&app, inv["invitedUser"]["id"].as_str().unwrap()).await;
    assert_eq!(g["externalUserState"], "PendingAcceptance", "nothing half-done");

    // A wrong nonce in the ID token.
    let op2 = start_op(account("nick@nonce.test", true)).await;
    *op2.state.wrong_nonce.lock().unwrap() = true;
    add_oidc_provider(&app, &op2, "nonce.test", true).await;
    let inv = invite(&app, "nick@nonce.test", json!({})).await;
    let mut b = Browser::new(&app);
    let out = out_to_provider(&app, &mut b, &inv).await;
    let page = through_op(&mut b, &out).await;
    assert_failure_page(&page, "nonce_mismatch");
    assert_logged(&app, "nonce_mismatch").await;

    // A provider on loopback without the administrator's allowance: refused before any request.
    let op3 = start_op(account("pia@private.test", true)).await;
    add_oidc_provider(&app, &op3, "private.test", false).await;
    let inv = invite(&app, "pia@private.test", json!({})).await;
    let mut b = Browser::new(&app);
    let page = out_to_provider(&app, &mut b, &inv).await;
    assert_failure_page(&page, "address_refused");
    assert_logged(&app, "address_refused").await;
    assert!(op3.state.authorize_seen.lock().unwrap().is_empty());

    // A provider that is down.
    let op4 = start_op(account("dan@down.test", true)).await;
    add_oidc_provider(&app, &op4, "down.test", true).await;
    drop(op4);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let inv = invite(&app, "dan@down.test", json!({})).await;
    let mut b = Browser::new(&app);
    let page = out_to_provider(&app, &mut b, &inv).await;
    assert_failure_page(&page, "provider_unreachable");
    assert_logged(&app, "provider_unreachable").await;

    // A token whose tid is not the tenant its issuer names.
    let op6 = start_op(account("tim@tid.test", true)).await;
    op6.state.account.lock().unwrap().tid = Some(uuid::Uuid::new_v4().to_string());
    add_oidc_provider(&app, &op6, "tid.test", true).await;
    let inv = invite(&app, "tim@tid.test", json!({})).await;
    let mut b = Browser::new(&app);
    let out = out_to_provider(&app, &mut b, &inv).await;
    let page = through_op(&mut b, &out).await;
    assert_failure_page(&page, "tid_mismatch");
    assert_logged(&app, "tid_mismatch").await;

    // A callback with another browser's state is refused (the flow is bound to its browser).
    let op5 = start_op(account("sam@state.test", true)).await;
    add_oidc_provider(&app, &op5, "state.test", true).await;
    let inv = invite(&app, "sam@state.test", json!({})).await;
    let mut b = Browser::new(&app);
    let out = out_to_provider(&app, &mut b, &inv).await;
    let at_op = b.get(&out.location().unwrap()).await;
    let mut other = Browser::new(&app);
    let stolen = other.get(&at_op.location().unwrap()).await;
    assert_eq!(stolen.status, StatusCode::BAD_REQUEST, "{}", stolen.text);
});

// ---------------------------------------------------------------------------------------------
// SAML direct federation

use portico_saml::testing::{ResponseSpec, TestIdp};

async fn add_saml(app: &TestApp, idp: &TestIdp, domain: &str) -> Value {
    let r = app
        .post(
            "/v1.0/directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation",
            json!({
                "displayName": "Partner SAML", "issuerUri": idp.issuer,
                "passiveSignInUri": "http://127.0.0.1:9/sso/redirect", "preferredAuthenticationProtocol": "saml",
                "signingCertificate": idp.cert_b64(),
                "domains": [{"@odata.type": "microsoft.graph.externalDomainName", "id": domain}],
                "allowPrivateNetwork": true,
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

/// The AuthnRequest id and RelayState in the 303 to the IdP.
fn authn_request_of(out: &Page) -> (String, String) {
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.text);
    let u = url::Url::parse(&out.location().unwrap()).unwrap();
    assert!(u.as_str().starts_with("http://127.0.0.1:9/sso/redirect?"), "{u}");
    let q: HashMap<String, String> = u.query_pairs().into_owned().collect();
    let raw = base64::engine::general_purpose::STANDARD.decode(&q["SAMLRequest"]).unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(&raw[..]).read_to_string(&mut xml).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let id = doc.root_element().attribute("ID").unwrap().to_string();
    (id, q["RelayState"].clone())
}

fn spec_for(app: &TestApp, idp: &TestIdp, request_id: &str, email: &str) -> ResponseSpec {
    let sp = portico_saml::SpConfig {
        entity_id: format!("{}/{}/", app.base, app.tenant),
        acs_url: format!("{}/{}/federation/saml/acs", app.base, app.tenant),
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut spec = ResponseSpec::new(idp, &sp, "partner-user-77", now);
    spec.in_response_to = Some(request_id.to_string());
    spec.email = Some(email.to_string());
    spec
}

/// Posts a SAMLResponse to the ACS and follows to Portico's next page.
async fn post_acs(app: &TestApp, b: &mut Browser, response_b64: &str, relay: &str) -> Page {
    let acs = format!("/{}/federation/saml/acs", app.tenant);
    let r = b.post(&acs, &[("SAMLResponse", response_b64), ("RelayState", relay)]).await;
    b.follow(r).await
}

api_test_custom!(saml_guest_redeems_with_direct_federation_and_replays_are_refused, danger_domains(), |app| {
    let idp = TestIdp::new("urn:partner:saml-idp");
    add_saml(&app, &idp, "saml.test").await;
    // The SP metadata the partner loads.
    let md = app.get(&format!("/{}/federation/saml/metadata", app.tenant)).await;
    assert_eq!(md.status, StatusCode::OK);
    assert!(md.text.contains(&format!("entityID=\"{}/{}/\"", app.base, app.tenant)), "{}", md.text);

    let inv = invite(&app, "sara@saml.test", json!({})).await;
    let guest_id = inv["invitedUser"]["id"].as_str().unwrap().to_string();
    let mut b = Browser::new(&app);
    let out = out_to_provider(&app, &mut b, &inv).await;
    let (request_id, relay) = authn_request_of(&out);
    let good = idp.response_b64(&spec_for(&app, &idp, &request_id, "sara@saml.test"));
    let consent = post_acs(&app, &mut b, &good, &relay).await;
    assert_eq!(consent.step().as_deref(), Some("consent"), "{}", consent.text);
    let done = answer_redeem(&mut b, &app.tenant.to_string(), &consent, "consent", &[("decision", "accept")]).await;
    assert_eq!(done.location().as_deref(), Some("https://apps.contoso.test/welcome"), "{}", done.text);
    let g = guest_json(&app, &guest_id).await;
    assert_eq!(g["externalUserState"], "Accepted");
    let fed = g["identities"].as_array().unwrap().iter().find(|i| i["signInType"] == "federated").cloned().unwrap();
    assert_eq!(fed["issuer"], "urn:partner:saml-idp");
    assert_eq!(fed["issuerAssignedId"], "partner-user-77");

    // The same response again, posted once more for its own request: that request was answered.
    let again = post_acs(&app, &mut b, &good, &relay).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.text);
    // And replayed into a new flow (another browser): refused, and the reason is logged.
    let client = web_client(&app).await;
    let tenant = app.tenant.to_string();
    let mut thief = Browser::new(&app);
    let req = AuthReq::new();
    let first = thief.authorize(&app, &client, &req).await;
    let out = thief.answer(&tenant, &first, "identify", &[("login", "sara@saml.test")]).await;
    let (_, relay2) = authn_request_of(&out);
    let replay = post_acs(&app, &mut thief, &good, &relay2).await;
    assert_failure_page(&replay, "replayed");
    let s = last_sign_in(&app).await;
    let why = s["status"]["failureReason"].as_str().unwrap_or_default();
    // The old response answers another request: refused for InResponseTo or as a replay.
    assert!(why.starts_with("replayed:") || why.starts_with("in_response_to_mismatch:"), "{why}");

    // A fresh response for a new request signs the guest in: idp = the SAML issuer.
    let mut b2 = Browser::new(&app);
    let first = b2.authorize(&app, &client, &req).await;
    let out = b2.answer(&tenant, &first, "identify", &[("login", "sara@saml.test")]).await;
    let (request_id3, relay3) = authn_request_of(&out);
    let fresh = idp.response_b64(&spec_for(&app, &idp, &request_id3, "sara@saml.test"));
    let back = post_acs(&app, &mut b2, &fresh, &relay3).await;
    let last = b2.complete(&app, back, "sara@saml.test", "").await;
    let code = code_of(&last, &client);
    let r = redeem(&app, &client, &code, &req.verifier).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let c = jwt_claims(r.body["id_token"].as_str().unwrap());
    assert_eq!(c["idp"], "urn:partner:saml-idp");
    assert_eq!(c["oid"], guest_id.as_str());
});

api_test_custom!(bad_saml_responses_are_refused_with_the_exact_reason_logged, danger_domains(), |app| {
    let idp = TestIdp::new("urn:partner:strict-idp");
    add_saml(&app, &idp, "strict.test").await;
    let stranger = TestIdp::new("urn:partner:strict-idp");
    let inv = invite(&app, "sol@strict.test", json!({})).await;
    let guest_id = inv["invitedUser"]["id"].as_str().unwrap().to_string();
    type Bend = Box<dyn Fn(&TestApp, &TestIdp, &TestIdp, ResponseSpec) -> String>;
    let cases: Vec<(&str, &[&str], Bend)> = vec![
        (
            "unsigned",
            &["signature_missing"],
            Box::new(|_, i, _, mut s| {
                s.sign_response = false;
                s.sign_assertion = false;
                i.response_b64(&s)
            }),
        ),
        ("another key", &["certificate_unknown", "signature_invalid"], Box::new(|_, _, o, s| o.response_b64(&s))),
        (
            "wrong audience",
            &["audience_mismatch"],
            Box::new(|_, i, _, mut s| {
                s.audience = "https://other.example/".into();
                i.response_b64(&s)
            }),
        ),
        (
            "wrong recipient",
            &["recipient_mismatch", "destination_mismatch"],
            Box::new(|_, i, _, mut s| {
                s.recipient = "https://other.example/acs".into();
                s.destination = Some("https://other.example/acs".into());
                i.response_b64(&s)
            }),
        ),
        (
            "expired",
            &["expired"],
            Box::new(|_, i, _, mut s| {
                s.not_on_or_after_ms = s.issue_instant_ms - 600_000;
                s.not_before_ms = s.issue_instant_ms - 1_200_000;
                i.response_b64(&s)
            }),
        ),
        (
            "wrapped",
            &["wrapped", "signature_invalid", "digest_mismatch", "multiple_assertions"],
            Box::new(|_, i, _, s| {
                let signed = i.response_xml(&s);
                let (_, attack) =
                    portico_saml::testing::wrapping_attacks(&signed, "evil-user").into_iter().next().unwrap();
                base64::engine::general_purpose::STANDARD.encode(attack)
            }),
        ),
        (
            "another address",
            &["email_not_verified"],
            Box::new(|_, i, _, mut s| {
                s.email = Some("sol@elsewhere.test".into());
                i.response_b64(&s)
            }),
        ),
    ];
    for (what, reasons, bend) in cases {
        let mut b = Browser::new(&app);
        let out = out_to_provider(&app, &mut b, &inv).await;
        let (request_id, relay) = authn_request_of(&out);
        let spec = spec_for(&app, &idp, &request_id, "sol@strict.test");
        let page = post_acs(&app, &mut b, &bend(&app, &idp, &stranger, spec), &relay).await;
        assert_failure_page(&page, what);
        let s = last_sign_in(&app).await;
        let why = s["status"]["failureReason"].as_str().unwrap_or_default().to_string();
        assert!(
            reasons.iter().any(|r| why.starts_with(&format!("{r}:"))),
            "{what}: logged {why:?}, want one of {reasons:?}"
        );
        assert_eq!(guest_json(&app, &guest_id).await["externalUserState"], "PendingAcceptance", "{what}");
    }
    // A response without RelayState (unsolicited) is refused.
    let mut b = Browser::new(&app);
    let r = b.post(&format!("/{}/federation/saml/acs", app.tenant), &[("SAMLResponse", "PHg+")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
});

/// Replaces the federation's stored signing certificates, as time passing would leave them (the
/// API refuses an expired certificate, so the store is written directly).
async fn set_stored_certificates(app: &TestApp, id: &str, certs: &[String]) {
    let mut conn = app.state.dir.store.pool().acquire().await.unwrap();
    let mut p = portico_store::federation::get(&mut conn, app.tenant, id).await.unwrap().expect("federation");
    p.config["signingCertificates"] = json!(certs);
    assert!(portico_store::federation::update(&mut conn, &p).await.unwrap());
}

api_test_custom!(an_expired_signing_certificate_no_longer_signs_for_the_partner, danger_domains(), |app| {
    // The partner's certificate ran out; the federation still lists it beside a current one.
    let old = TestIdp::with_validity("urn:partner:rolling-idp", -400, -1);
    let current = TestIdp::new("urn:partner:rolling-idp");
    let fed = add_saml(&app, &current, "rolling.test").await;
    let id = fed["id"].as_str().unwrap().to_string();
    set_stored_certificates(&app, &id, &[old.cert_b64(), current.cert_b64()]).await;
    let inv = invite(&app, "rae@rolling.test", json!({})).await;
    let guest_id = inv["invitedUser"]["id"].as_str().unwrap().to_string();

    // A response signed with the expired certificate's key: refused, and the log says why.
    let mut b = Browser::new(&app);
    let out = out_to_provider(&app, &mut b, &inv).await;
    let (request_id, relay) = authn_request_of(&out);
    let page =
        post_acs(&app, &mut b, &old.response_b64(&spec_for(&app, &old, &request_id, "rae@rolling.test")), &relay).await;
    assert_failure_page(&page, "expired certificate");
    assert_logged(&app, "certificate_expired").await;
    assert_eq!(guest_json(&app, &guest_id).await["externalUserState"], "PendingAcceptance");
    // Another key altogether is still "unknown", not "expired".
    let mut b = Browser::new(&app);
    let out = out_to_provider(&app, &mut b, &inv).await;
    let (request_id, relay) = authn_request_of(&out);
    let stranger = TestIdp::new("urn:partner:rolling-idp");
    let page = post_acs(
        &app,
        &mut b,
        &stranger.response_b64(&spec_for(&app, &stranger, &request_id, "rae@rolling.test")),
        &relay,
    )
    .await;
    assert_failure_page(&page, "unknown certificate");
    assert_logged(&app, "certificate_unknown").await;

    // Only the expired certificate left: the guest is not even sent to the partner.
    set_stored_certificates(&app, &id, &[old.cert_b64()]).await;
    let mut b = Browser::new(&app);
    let out = out_to_provider(&app, &mut b, &inv).await;
    assert_failure_page(&out, "no valid certificate");
    assert_logged(&app, "certificate_expired").await;
    let why = last_sign_in(&app).await["status"]["failureReason"].as_str().unwrap_or_default().to_string();
    assert!(why.contains("no configured signing certificate is valid now (the last ended "), "{why}");

    // The current certificate signs as before.
    set_stored_certificates(&app, &id, &[old.cert_b64(), current.cert_b64()]).await;
    let mut b = Browser::new(&app);
    let out = out_to_provider(&app, &mut b, &inv).await;
    let (request_id, relay) = authn_request_of(&out);
    let good = current.response_b64(&spec_for(&app, &current, &request_id, "rae@rolling.test"));
    let consent = post_acs(&app, &mut b, &good, &relay).await;
    assert_eq!(consent.step().as_deref(), Some("consent"), "{}", consent.text);
});

api_test_custom!(the_redemption_order_follows_the_cross_tenant_default, danger_domains(), |app| {
    // rita@order.test is a member of another tenant of this deployment (by mail) and her domain
    // routes to an external OP: both azureActiveDirectory and externalFederation apply.
    let op = start_op(account("rita@order.test", true)).await;
    add_oidc_provider(&app, &op, "order.test", true).await;
    let (_, home_token) = app.new_tenant("Fabrikam", Some("fabrikam.test"), &crate::common::all_permissions()).await;
    let r = app
        .post_as(
            &home_token,
            "/v1.0/users",
            json!({
                "accountEnabled": true, "displayName": "Rita", "mailNickname": "rita",
                "userPrincipalName": "rita@fabrikam.test", "mail": "rita@order.test",
                "passwordProfile": {"password": crate::browser::PASSWORD, "forceChangePasswordNextSignIn": false}
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let inv = invite(&app, "rita@order.test", json!({})).await;

    // Entra's default order: azureActiveDirectory first, so the home tenant's sign-in page (same
    // server, so the test browser followed the redirect).
    let mut b = Browser::new(&app);
    let at_home = out_to_provider(&app, &mut b, &inv).await;
    assert_eq!(at_home.step().as_deref(), Some("identify"), "{}", at_home.text);
    assert!(at_home.text.contains("<p class=\"org-name\">Fabrikam</p>"), "default order goes to the home tenant");
    assert!(op.state.authorize_seen.lock().unwrap().is_empty());

    // externalFederation first: the partner's OP.
    let r = app
        .patch(
            "/v1.0/policies/crossTenantAccessPolicy/default",
            json!({"invitationRedemptionIdentityProviderConfiguration": {
                "primaryIdentityProviderPrecedenceOrder": ["externalFederation", "azureActiveDirectory"],
                "fallbackIdentityProvider": "emailOneTimePasscode"}}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let mut b = Browser::new(&app);
    let out = out_to_provider(&app, &mut b, &inv).await;
    let loc = out.location().unwrap();
    assert!(loc.starts_with(&format!("{}/authorize?", op.base)), "externalFederation first goes to the OP: {loc}");

    // Neither group: the fallback, a one-time passcode.
    let r = app
        .patch(
            "/v1.0/policies/crossTenantAccessPolicy/default",
            json!({"invitationRedemptionIdentityProviderConfiguration": {
                "primaryIdentityProviderPrecedenceOrder": ["socialIdentityProviders"],
                "fallbackIdentityProvider": "emailOneTimePasscode"}}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let mut b = Browser::new(&app);
    let page = out_to_provider(&app, &mut b, &inv).await;
    assert_eq!(page.step().as_deref(), Some("otp"), "{}", page.text);
});
