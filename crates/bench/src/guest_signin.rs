//! `guest-signin`: the latency Portico adds to a guest's sign-in through a home tenant of the
//! same deployment, against the same sign-in of an ordinary member.
//!
//! Setup (once, untimed): a resource tenant "Contoso" with a confidential web app
//! (`https://client.example/cb`, service principal, secret) and a member; a home tenant
//! "Fabrikam" with a member Lee; Lee is invited to Contoso and redeems through Fabrikam (start,
//! home sign-in with password, consent). Then every measured sign-in starts in a fresh cookie jar
//! that already holds a session cookie — Fabrikam's for the guest, Contoso's for the member — so
//! no password is checked while timing (Argon2 would otherwise dominate both):
//!
//! - guest: GET Contoso `/authorize` → identify page → POST the guest's address → 303 to
//!   Fabrikam's `/authorize` (first-party B2B client) → single sign-on → 303 to Contoso's
//!   `/federation/home/callback` (the code redeemed in-process) → Contoso's pages until the 303
//!   to the client with a code → POST the code to the token endpoint;
//! - member: GET Contoso `/authorize` → the live session continues → 303 to the client with a
//!   code → POST the code to the token endpoint.
//!
//! Both kinds run interleaved over one keep-alive HTTP client (loopback), after warm-up.

use crate::web::{Page, graph, serve_in_process, stats};
use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, bail};
use portico_core::ids::TenantId;
use portico_http::audit::Actor;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::get_token;

const PASSWORD: &str = "correct horse battery staple";
const REDIRECT_URI: &str = "https://client.example/cb";
const SCOPES: &str = "openid profile email offline_access User.Read";

/// A browser: its own cookies, no automatic redirects; connections come from the shared client.
struct Jar {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
    requests: usize,
}

impl Jar {
    fn new(http: &reqwest::Client, base: &str) -> Self {
        Self { http: http.clone(), base: base.to_string(), cookies: BTreeMap::new(), requests: 0 }
    }

    fn url(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.base)
        }
    }

    async fn send(&mut self, mut rb: reqwest::RequestBuilder) -> anyhow::Result<Page> {
        if !self.cookies.is_empty() {
            let c = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            rb = rb.header("Cookie", c);
        }
        let r = rb.send().await?;
        self.requests += 1;
        let status = r.status();
        for v in r.headers().get_all(reqwest::header::SET_COOKIE) {
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
        let location = r.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = r.text().await?;
        Ok(Page { status, location, text })
    }

    async fn get(&mut self, path: &str) -> anyhow::Result<Page> {
        let rb = self.http.get(self.url(path));
        self.send(rb).await
    }

    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> anyhow::Result<Page> {
        let rb = self.http.post(self.url(path)).form(fields);
        self.send(rb).await
    }

    /// Follows redirects that stay on this server; a redirect elsewhere (the client) is returned.
    async fn follow(&mut self, mut page: Page) -> anyhow::Result<Page> {
        for _ in 0..10 {
            if !page.is_redirect() {
                return Ok(page);
            }
            let loc = page.location.clone().unwrap_or_default();
            if !(loc.starts_with('/') || loc.starts_with(&self.base)) {
                return Ok(page);
            }
            page = self.get(&loc).await?;
        }
        Ok(page)
    }

    /// Answers the page's form (flow and csrf taken from the page) and follows the answer.
    async fn answer(&mut self, page: &Page, step: &str, fields: &[(&str, &str)]) -> anyhow::Result<Page> {
        let action = page.action().with_context(|| format!("no form on the page: {}", page.describe()))?;
        let flow = page.input("flow").with_context(|| format!("no flow: {}", page.describe()))?;
        let csrf = page.input("csrf").with_context(|| format!("no csrf: {}", page.describe()))?;
        let mut all: Vec<(&str, &str)> = vec![("flow", &flow), ("csrf", &csrf), ("step", step)];
        all.extend_from_slice(fields);
        let r = self.post(&action, &all).await?;
        self.follow(r).await
    }

    /// Answers the ordinary pages until the flow leaves the server; returns the last page and the
    /// steps answered.
    async fn complete(&mut self, mut page: Page, login: &str) -> anyhow::Result<(Page, Vec<String>)> {
        let mut steps = vec![];
        for _ in 0..12 {
            if page.is_redirect() {
                return Ok((page, steps));
            }
            if page.step().is_none()
                && let Some(next) = page.meta_refresh()
            {
                steps.push("meta-refresh".into());
                if next.starts_with('/') || next.starts_with(&self.base) {
                    let r = self.get(&next).await?;
                    page = self.follow(r).await?;
                    continue;
                }
                return Ok((Page { status: StatusCode::SEE_OTHER, location: Some(next), text: String::new() }, steps));
            }
            let Some(step) = page.step() else { bail!("a page without a form: {}", page.describe()) };
            page = match step.as_str() {
                "identify" => self.answer(&page, "identify", &[("login", login)]).await?,
                "password" => self.answer(&page, "password", &[("password", PASSWORD)]).await?,
                "kmsi" => self.answer(&page, "kmsi", &[("stay", "no")]).await?,
                "consent" => self.answer(&page, "consent", &[("decision", "accept")]).await?,
                other => bail!("unexpected step {other}: {}", page.describe()),
            };
            steps.push(step);
        }
        bail!("the flow did not end: {}", page.describe())
    }
}

/// The client of the benchmark: a confidential web app of the resource tenant.
struct WebApp {
    tenant: TenantId,
    client_id: String,
    secret: String,
}

/// One sign-in: authorize, pages, code, token. Returns (ms to the code, ms including the token
/// response, HTTP requests, steps answered).
async fn sign_in(
    jar: &mut Jar,
    app: &WebApp,
    login: &str,
    warm_steps: Option<&[String]>,
) -> anyhow::Result<(f64, f64, usize, Vec<String>)> {
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
    let first = jar.get(&format!("/{}/oauth2/v2.0/authorize?{q}", app.tenant)).await?;
    let first = jar.follow(first).await?;
    let (last, steps) = jar.complete(first, login).await?;
    let loc = last.location.clone().unwrap_or_default();
    if !loc.starts_with(REDIRECT_URI) {
        bail!("expected the answer to the client, got {}", last.describe());
    }
    let code = url::Url::parse(&loc)?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .with_context(|| format!("no code in {loc}"))?;
    let to_code = t.elapsed().as_secs_f64() * 1000.0;
    let r = jar
        .http
        .post(format!("{}/{}/oauth2/v2.0/token", jar.base, app.tenant))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &verifier),
            ("client_id", &app.client_id),
            ("client_secret", &app.secret),
        ])
        .send()
        .await?;
    jar.requests += 1;
    let status = r.status();
    let body: Value = r.json().await?;
    let total = t.elapsed().as_secs_f64() * 1000.0;
    if status != StatusCode::OK || body["access_token"].as_str().is_none() {
        bail!("token endpoint answered {status}: {body}");
    }
    if let Some(w) = warm_steps
        && w != steps.as_slice()
    {
        bail!("the measured sign-in answered pages {steps:?}, the warm one {w:?}");
    }
    Ok((to_code, total, jar.requests, steps))
}

async fn create_member(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    alias: &str,
    domain: &str,
) -> anyhow::Result<String> {
    let address = format!("{alias}@{domain}");
    graph(
        http,
        base,
        token,
        "/v1.0/users",
        json!({
            "accountEnabled": true, "displayName": format!("{alias} of {domain}"), "mailNickname": alias,
            "userPrincipalName": address, "mail": address,
            "passwordProfile": {"password": PASSWORD, "forceChangePasswordNextSignIn": false}
        }),
    )
    .await?;
    Ok(address)
}

pub async fn guest_signin(url: &str, n: usize, warmup: usize) -> anyhow::Result<()> {
    let (base, dir, http) = serve_in_process(url, |_| {}).await?;

    // Setup: tenants (unique domains per run, so a store can be reused), users, app, invitation.
    let run = uuid::Uuid::new_v4().simple().to_string();
    let tag = &run[..8];
    let (contoso_domain, fabrikam_domain) = (format!("contoso-{tag}.test"), format!("fabrikam-{tag}.test"));
    let contoso = dir.create_tenant("Contoso", Some(&contoso_domain), &Actor::CommandLine).await?.id;
    let fabrikam = dir.create_tenant("Fabrikam", Some(&fabrikam_domain), &Actor::CommandLine).await?.id;
    let all: Vec<String> = portico_core::access::GRAPH_PERMISSIONS.iter().map(|p| p.name.to_string()).collect();
    let contoso_token = get_token(&dir, &http, &base, contoso, &all).await?;
    let fabrikam_token = get_token(&dir, &http, &base, fabrikam, &all).await?;
    let lee = create_member(&http, &base, &fabrikam_token, "lee", &fabrikam_domain).await?;
    let ann = create_member(&http, &base, &contoso_token, "ann", &contoso_domain).await?;
    let a = graph(
        &http,
        &base,
        &contoso_token,
        "/v1.0/applications",
        json!({"displayName": "bench web app", "web": {"redirectUris": [REDIRECT_URI]}}),
    )
    .await?;
    let client_id = a["appId"].as_str().context("appId")?.to_string();
    let object_id = a["id"].as_str().context("id")?.to_string();
    graph(&http, &base, &contoso_token, "/v1.0/servicePrincipals", json!({"appId": client_id})).await?;
    let s =
        graph(&http, &base, &contoso_token, &format!("/v1.0/applications/{object_id}/addPassword"), json!({})).await?;
    let app =
        WebApp { tenant: contoso, client_id, secret: s["secretText"].as_str().context("secretText")?.to_string() };
    let inv = graph(
        &http,
        &base,
        &contoso_token,
        "/v1.0/invitations",
        json!({"invitedUserEmailAddress": lee, "inviteRedirectUrl": "https://apps.contoso.test/welcome"}),
    )
    .await?;
    let redeem_url = inv["inviteRedeemUrl"].as_str().context("inviteRedeemUrl")?.to_string();

    // Redemption through the home tenant: start → Fabrikam's pages (identify, password, kmsi) →
    // consent at Contoso.
    let mut b = Jar::new(&http, &base);
    let start = b.get(&redeem_url).await?;
    if start.step().as_deref() != Some("start") {
        bail!("redeem start page: {}", start.describe());
    }
    let mut page = b.answer(&start, "start", &[]).await?;
    for _ in 0..6 {
        page = match page.step().as_deref() {
            Some("identify") => b.answer(&page, "identify", &[("login", &lee)]).await?,
            Some("password") => b.answer(&page, "password", &[("password", PASSWORD)]).await?,
            Some("kmsi") => b.answer(&page, "kmsi", &[("stay", "no")]).await?,
            Some("consent") => b.answer(&page, "consent", &[("decision", "accept")]).await?,
            _ => break,
        };
    }
    let end = page.location.clone().or_else(|| page.meta_refresh());
    if end.as_deref() != Some("https://apps.contoso.test/welcome") {
        bail!("redemption did not end at the invite redirect: {}", page.describe());
    }
    let fab_cookie = portico_http::web::session_cookie_name(fabrikam);
    let fab_session = b.cookies.get(&fab_cookie).context("no Fabrikam session after redemption")?.clone();
    println!("setup: redeemed {lee}'s invitation to Contoso through Fabrikam");

    // The member's first sign-in (password, kmsi, consent) gives the Contoso session.
    let mut m = Jar::new(&http, &base);
    let (_, _, _, steps) = sign_in(&mut m, &app, &ann, None).await?;
    let con_cookie = portico_http::web::session_cookie_name(contoso);
    let con_session = m.cookies.get(&con_cookie).context("no Contoso session after sign-in")?.clone();
    println!("setup: member {ann} signed in once (pages {steps:?})");

    let guest_jar = || {
        let mut j = Jar::new(&http, &base);
        j.cookies.insert(fab_cookie.clone(), fab_session.clone());
        j
    };
    let member_jar = || {
        let mut j = Jar::new(&http, &base);
        j.cookies.insert(con_cookie.clone(), con_session.clone());
        j
    };
    // The guest's first sign-in to the app (consents for the guest, if asked).
    let (_, _, _, steps) = sign_in(&mut guest_jar(), &app, &lee, None).await?;
    println!("setup: guest {lee} signed in once (pages {steps:?})");

    // Warm-up, then the pages a warm sign-in shows (every measured one must show the same).
    let (_, _, greq, gsteps) = sign_in(&mut guest_jar(), &app, &lee, None).await?;
    let (_, _, mreq, msteps) = sign_in(&mut member_jar(), &app, &ann, None).await?;
    for _ in 0..warmup {
        sign_in(&mut guest_jar(), &app, &lee, Some(&gsteps)).await?;
        sign_in(&mut member_jar(), &app, &ann, Some(&msteps)).await?;
    }
    println!(
        "warm sign-in: guest answers pages {gsteps:?} in {greq} HTTP requests, member {msteps:?} in {mreq} requests"
    );

    let (mut g_code, mut g_total, mut m_code, mut m_total) = (vec![], vec![], vec![], vec![]);
    let pb = indicatif::ProgressBar::new(n as u64);
    for i in 0..n {
        // Alternate which goes first, so drift in the machine hits both alike.
        let order = if i % 2 == 0 { [true, false] } else { [false, true] };
        for guest in order {
            if guest {
                let (c, t, _, _) = sign_in(&mut guest_jar(), &app, &lee, Some(&gsteps)).await?;
                g_code.push(c);
                g_total.push(t);
            } else {
                let (c, t, _, _) = sign_in(&mut member_jar(), &app, &ann, Some(&msteps)).await?;
                m_code.push(c);
                m_total.push(t);
            }
        }
        pb.inc(1);
    }
    pb.finish_and_clear();

    let engine = if url.starts_with("sqlite") { "SQLite" } else { "PostgreSQL" };
    let (gc, gt, mc, mt) = (stats(&mut g_code), stats(&mut g_total), stats(&mut m_code), stats(&mut m_total));
    println!("\n{engine}: {n} warm sign-ins of each kind (after {warmup} warm-up each), milliseconds");
    println!("{:<34} {:>8} {:>8} {:>8}", "", "p50", "p99", "mean");
    println!("{:<34} {:>8.2} {:>8.2} {:>8.2}", format!("guest, authorize → token ({greq} req)"), gt.0, gt.1, gt.2);
    println!("{:<34} {:>8.2} {:>8.2} {:>8.2}", format!("member, authorize → token ({mreq} req)"), mt.0, mt.1, mt.2);
    println!("{:<34} {:>8.2} {:>8.2} {:>8.2}", "added by the guest path", gt.0 - mt.0, gt.1 - mt.1, gt.2 - mt.2);
    println!("{:<34} {:>8.2} {:>8.2} {:>8.2}", "guest, authorize → code", gc.0, gc.1, gc.2);
    println!("{:<34} {:>8.2} {:>8.2} {:>8.2}", "member, authorize → code", mc.0, mc.1, mc.2);
    println!("{:<34} {:>8.2} {:>8.2} {:>8.2}", "added, to the code", gc.0 - mc.0, gc.1 - mc.1, gc.2 - mc.2);
    Ok(())
}
