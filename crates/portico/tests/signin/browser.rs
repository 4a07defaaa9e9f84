//! A small browser for the hosted pages: no automatic redirects, a cookie jar that honours
//! `Max-Age=0`, form helpers, and the client side of the code flow (registration, PKCE, token
//! requests).

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

use crate::common::{Resp, TestApp};

/// The password `TestApp::create_user` gives its users.
pub const PASSWORD: &str = "correct horse battery staple";
/// Scopes of an ordinary OpenID Connect sign-in with a refresh token and Graph profile access.
pub const SCOPES: &str = "openid profile email offline_access User.Read";

/// One answer as the browser saw it.
#[derive(Debug, Clone)]
pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

/// Undoes minijinja's HTML escaping.
pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Page {
    /// The Location header, or the target of a page that moves on by itself (meta refresh: how
    /// the server leaves a redirect chain that began with a form post).
    pub fn location(&self) -> Option<String> {
        self.headers.get(LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned).or_else(|| self.refresh())
    }
    /// The target of a `<meta http-equiv="refresh">`.
    pub fn refresh(&self) -> Option<String> {
        let needle = "http-equiv=\"refresh\" content=\"0;url=";
        let start = self.text.find(needle)? + needle.len();
        let end = self.text[start..].find('"')?;
        Some(unescape(&self.text[start..start + end]))
    }
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    }
    /// The value of the first input named `name`.
    pub fn input(&self, name: &str) -> Option<String> {
        let needle = format!("name=\"{name}\" value=\"");
        let start = self.text.find(&needle)? + needle.len();
        let end = self.text[start..].find('"')?;
        Some(unescape(&self.text[start..start + end]))
    }
    /// The flow step the page's (first) form answers, or None for pages without one.
    pub fn step(&self) -> Option<String> {
        self.input("step")
    }
    /// A query parameter of the Location (the client's answer).
    pub fn param(&self, name: &str) -> Option<String> {
        let loc = self.location()?;
        let url = url::Url::parse(&loc).or_else(|_| url::Url::parse(&format!("http://x{loc}"))).ok()?;
        url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }
    /// The text of the first element with `class="{class}"` (tags inside stripped).
    pub fn class_text(&self, class: &str) -> Option<String> {
        let needle = format!("class=\"{class}\"");
        let at = self.text.find(&needle)?;
        let open_end = self.text[at..].find('>')? + at + 1;
        let close = self.text[open_end..].find("</")? + open_end;
        Some(unescape(&self.text[open_end..close]).trim().to_string())
    }
    /// The alert text of the page, if any.
    pub fn alert(&self) -> Option<String> {
        let at = self.text.find("class=\"alert\"")?;
        let open_end = self.text[at..].find('>')? + at + 1;
        let close = self.text[open_end..].find("</div>")? + open_end;
        let raw = &self.text[open_end..close];
        let mut out = String::new();
        let mut in_tag = false;
        for c in raw.chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        Some(unescape(out.split_whitespace().collect::<Vec<_>>().join(" ").as_str()))
    }
    /// The `<h1>` of the page.
    pub fn h1(&self) -> Option<String> {
        let at = self.text.find("<h1>")? + 4;
        let end = self.text[at..].find("</h1>")? + at;
        Some(unescape(&self.text[at..end]))
    }
    /// Panics with the page when the status differs.
    pub fn expect_status(&self, status: StatusCode, what: &str) -> &Self {
        assert_eq!(self.status, status, "{what}: {}\n{}", self.location().unwrap_or_default(), self.text);
        self
    }
}

/// A browser: its own cookies and language, no automatic redirects.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
    pub cookies: BTreeMap<String, String>,
    pub accept_language: Option<String>,
    pub forwarded_for: Option<String>,
}

impl Browser {
    /// A fresh browser for `app`'s server.
    pub fn new(app: &TestApp) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("browser client");
        Self { http, base: app.base.clone(), cookies: BTreeMap::new(), accept_language: None, forwarded_for: None }
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.base)
        }
    }

    fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty())
            .then(|| self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; "))
    }

    /// A cookie's value.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    fn absorb(&mut self, headers: &HeaderMap) {
        for v in headers.get_all(SET_COOKIE) {
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
    }

    async fn send(&mut self, mut rb: reqwest::RequestBuilder, extra: &[(&str, &str)]) -> Page {
        if let Some(c) = self.cookie_header() {
            rb = rb.header("Cookie", c);
        }
        if let Some(l) = &self.accept_language {
            rb = rb.header("Accept-Language", l.clone());
        }
        if let Some(f) = &self.forwarded_for {
            rb = rb.header("X-Forwarded-For", f.clone());
        }
        for (k, v) in extra {
            rb = rb.header(*k, *v);
        }
        let r = rb.send().await.expect("browser request");
        let status = r.status();
        let headers = r.headers().clone();
        self.absorb(&headers);
        let text = r.text().await.unwrap_or_default();
        Page { status, headers, text }
    }

    /// GET a path or URL of the server.
    pub async fn get(&mut self, path: &str) -> Page {
        let rb = self.http.get(self.url(path));
        self.send(rb, &[]).await
    }

    /// POST a form.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_with(path, fields, &[]).await
    }

    /// POST a form with extra headers.
    pub async fn post_with(&mut self, path: &str, fields: &[(&str, &str)], headers: &[(&str, &str)]) -> Page {
        let rb = self.http.post(self.url(path)).form(fields);
        self.send(rb, headers).await
    }

    /// Follows 303s that stay on this server (a redirect to the client is returned as is).
    pub async fn follow(&mut self, mut page: Page) -> Page {
        for _ in 0..10 {
            let Some(loc) = page.location().filter(|_| page.status == StatusCode::SEE_OTHER) else { return page };
            if !(loc.starts_with('/') || loc.starts_with(&self.base)) {
                return page;
            }
            page = self.get(&loc).await;
        }
        page
    }

    /// Answers the flow form of `page` with `step` and `fields` (flow and csrf taken from the page).
    pub async fn answer(&mut self, tenant: &str, page: &Page, step: &str, fields: &[(&str, &str)]) -> Page {
        let flow = page.input("flow").unwrap_or_else(|| panic!("no flow on the page: {}", page.text));
        let csrf = page.input("csrf").unwrap_or_else(|| panic!("no csrf on the page: {}", page.text));
        let mut all: Vec<(&str, &str)> = vec![("flow", &flow), ("csrf", &csrf), ("step", step)];
        all.extend_from_slice(fields);
        let r = self.post(&format!("/{tenant}/login"), &all).await;
        self.follow(r).await
    }

    /// Opens an authorization request and follows it to the first page (or the client's answer).
    pub async fn authorize(&mut self, app: &TestApp, client: &Client, req: &AuthReq) -> Page {
        let r = self.get(&authorize_url(app, client, req)).await;
        self.follow(r).await
    }

    /// Answers the ordinary pages (identify, password, kmsi "no", consent "accept") until the flow
    /// leaves the server; returns the last page (the client's 303, or a page it cannot answer).
    pub async fn complete(&mut self, app: &TestApp, mut page: Page, login: &str, password: &str) -> Page {
        let tenant = app.tenant.to_string();
        let mut previous = None;
        for _ in 0..10 {
            if page.status == StatusCode::SEE_OTHER {
                return page;
            }
            let step = match page.step() {
                Some(s) => s,
                None => return page,
            };
            // The same page again (a wrong password, say): the caller decides what next.
            if previous.as_ref() == Some(&step) {
                return page;
            }
            previous = Some(step.clone());
            page = match step.as_str() {
                "identify" => self.answer(&tenant, &page, "identify", &[("login", login)]).await,
                "password" => self.answer(&tenant, &page, "password", &[("password", password)]).await,
                "kmsi" => self.answer(&tenant, &page, "kmsi", &[("stay", "no")]).await,
                "consent" => self.answer(&tenant, &page, "consent", &[("decision", "accept")]).await,
                _ => return page,
            };
        }
        page
    }

    /// A whole interactive sign-in: the authorization code (panics if there is none).
    pub async fn sign_in(&mut self, app: &TestApp, client: &Client, req: &AuthReq, login: &str) -> String {
        let first = self.authorize(app, client, req).await;
        let last = self.complete(app, first, login, PASSWORD).await;
        code_of(&last, client)
    }
}

/// The authorization code of the client's answer, after checking it goes to the redirect URI.
pub fn code_of(page: &Page, client: &Client) -> String {
    assert!(
        page.status == StatusCode::SEE_OTHER || page.refresh().is_some(),
        "expected the answer to the client: {}",
        page.text
    );
    let loc = page.location().expect("Location");
    assert!(loc.starts_with(&client.redirect_uri), "answer goes to {loc}, not {}", client.redirect_uri);
    page.param("code").unwrap_or_else(|| panic!("no code in {loc}"))
}

/// A registered client.
#[derive(Debug, Clone)]
pub struct Client {
    pub object_id: String,
    pub client_id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

/// Registers an application with a service principal: `kind` is "web" (confidential, with a
/// secret), "spa" or "publicClient".
pub async fn register(app: &TestApp, kind: &str, redirect_uri: &str) -> Client {
    let mut body = json!({"displayName": format!("{kind} app {}", uuid::Uuid::new_v4().simple())});
    body[kind] = json!({"redirectUris": [redirect_uri]});
    let r = app.post("/v1.0/applications", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "create application: {}", r.text);
    let object_id = r.body["id"].as_str().expect("id").to_string();
    let client_id = r.body["appId"].as_str().expect("appId").to_string();
    let r = app.post("/v1.0/servicePrincipals", json!({"appId": client_id})).await;
    assert_eq!(r.status, StatusCode::CREATED, "create service principal: {}", r.text);
    let secret = if kind == "web" {
        let r = app.post(&format!("/v1.0/applications/{object_id}/addPassword"), json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "addPassword: {}", r.text);
        Some(r.body["secretText"].as_str().expect("secretText").to_string())
    } else {
        None
    };
    Client { object_id, client_id, secret, redirect_uri: redirect_uri.to_string() }
}

/// A confidential web client answering at `https://client.example/cb`.
pub async fn web_client(app: &TestApp) -> Client {
    register(app, "web", "https://client.example/cb").await
}

/// The parameters of one authorization request.
#[derive(Debug, Clone)]
pub struct AuthReq {
    pub scope: String,
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    pub redirect_uri: Option<String>,
    pub extra: Vec<(String, String)>,
}

impl AuthReq {
    /// Fresh state, nonce and PKCE verifier with [`SCOPES`].
    pub fn new() -> Self {
        Self::with_scope(SCOPES)
    }
    /// Fresh state, nonce and PKCE verifier.
    pub fn with_scope(scope: &str) -> Self {
        Self {
            scope: scope.to_string(),
            state: format!("st-{}", uuid::Uuid::new_v4().simple()),
            nonce: format!("n-{}", uuid::Uuid::new_v4().simple()),
            verifier: format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple()),
            redirect_uri: None,
            extra: vec![],
        }
    }
    /// Adds a parameter.
    pub fn with(mut self, k: &str, v: &str) -> Self {
        self.extra.push((k.to_string(), v.to_string()));
        self
    }
    /// The S256 challenge of the verifier.
    pub fn challenge(&self) -> String {
        challenge_of(&self.verifier)
    }
}

/// BASE64URL(SHA256(verifier)).
pub fn challenge_of(verifier: &str) -> String {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
}

/// The authorize URL of `req`, with every standard parameter unless `extra` overrides it
/// (an override with an empty value drops the parameter).
pub fn authorize_url(app: &TestApp, client: &Client, req: &AuthReq) -> String {
    let redirect = req.redirect_uri.clone().unwrap_or_else(|| client.redirect_uri.clone());
    let mut params: Vec<(String, String)> = vec![
        ("client_id".into(), client.client_id.clone()),
        ("response_type".into(), "code".into()),
        ("redirect_uri".into(), redirect),
        ("scope".into(), req.scope.clone()),
        ("state".into(), req.state.clone()),
        ("nonce".into(), req.nonce.clone()),
        ("code_challenge".into(), req.challenge()),
        ("code_challenge_method".into(), "S256".into()),
    ];
    for (k, v) in &req.extra {
        params.retain(|(n, _)| n != k);
        if !v.is_empty() {
            params.push((k.clone(), v.clone()));
        }
    }
    let q = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    format!("{}/{}/oauth2/v2.0/authorize?{q}", app.base, app.tenant)
}

/// POSTs a form to the tenant's token endpoint.
pub async fn token(app: &TestApp, fields: &[(&str, &str)]) -> Resp {
    app.raw(app.http.post(format!("{}/{}/oauth2/v2.0/token", app.base, app.tenant)).form(fields)).await
}

/// Redeems a code the way the client should.
pub async fn redeem(app: &TestApp, client: &Client, code: &str, verifier: &str) -> Resp {
    let mut f: Vec<(&str, &str)> = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &client.redirect_uri),
        ("code_verifier", verifier),
        ("client_id", &client.client_id),
    ];
    if let Some(s) = &client.secret {
        f.push(("client_secret", s));
    }
    token(app, &f).await
}

/// Redeems a refresh token the way the client should.
pub async fn refresh(app: &TestApp, client: &Client, refresh_token: &str) -> Resp {
    let mut f: Vec<(&str, &str)> =
        vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token), ("client_id", &client.client_id)];
    if let Some(s) = &client.secret {
        f.push(("client_secret", s));
    }
    token(app, &f).await
}

/// The AADSTS number of a token endpoint error.
pub fn aadsts(r: &Resp) -> i64 {
    r.body["error_codes"][0].as_i64().unwrap_or_default()
}

/// Asserts a token endpoint error.
pub fn assert_token_error(r: &Resp, status: StatusCode, error: &str, code: i64, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text);
    assert_eq!(r.body["error"], json!(error), "{what}: {}", r.text);
    assert_eq!(aadsts(r), code, "{what}: {}", r.text);
}

/// A token response's field.
pub fn field(r: &Resp, name: &str) -> String {
    assert_eq!(r.status, StatusCode::OK, "token response: {}", r.text);
    r.body[name].as_str().unwrap_or_else(|| panic!("no {name} in {}", r.text)).to_string()
}

/// A whole sign-in of `login` to `client` in a fresh browser, and the token response.
pub async fn sign_in_tokens(app: &TestApp, client: &Client, login: &str) -> (Browser, Resp) {
    let mut b = Browser::new(app);
    let req = AuthReq::new();
    let code = b.sign_in(app, client, &req, login).await;
    let r = redeem(app, client, &code, &req.verifier).await;
    assert_eq!(r.status, StatusCode::OK, "redeem: {}", r.text);
    (b, r)
}

/// The UPN of a user JSON.
pub fn upn(user: &Value) -> String {
    user["userPrincipalName"].as_str().expect("upn").to_string()
}

/// The tenant's session cookie name.
pub fn session_cookie(app: &TestApp) -> String {
    format!("portico_s_{}", app.tenant.to_string().replace('-', ""))
}

/// Error codes of the tenant's sign-in log, oldest first.
pub async fn sign_in_codes(app: &TestApp) -> Vec<i64> {
    let mut conn = app.state.dir.store.pool().acquire().await.expect("conn");
    sqlx::query_scalar::<_, i64>("SELECT error_code FROM sign_ins WHERE tenant_id = $1 ORDER BY created_at")
        .bind(app.tenant.to_string())
        .fetch_all(&mut *conn)
        .await
        .expect("sign_ins")
}

/// The newest mails of the tenant's outbox (bodies).
pub async fn outbox(app: &TestApp) -> Vec<portico_store::outbox::OutboxMail> {
    let mut conn = app.state.dir.store.pool().acquire().await.expect("conn");
    portico_store::outbox::list(&mut conn, Some(app.tenant), 10).await.expect("outbox")
}

/// Turns on a sign-in policy.
pub async fn set_policy(app: &TestApp, policy: Value) {
    let mut conn = app.state.dir.store.pool().acquire().await.expect("conn");
    portico_store::tenants::set_sign_in_policy(&mut conn, app.tenant, &policy).await.expect("policy");
}

/// The access token works on /v1.0/me (and names the user).
pub async fn me_status(app: &TestApp, access_token: &str) -> StatusCode {
    app.get_as(access_token, "/v1.0/me").await.status
}
