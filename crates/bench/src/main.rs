//! `portico-bench`: the benchmarks behind docs/PERFORMANCE.md. They print their figures; they
//! are not timed tests.
//!
//! - `list-latency`: seeds a tenant with N users (timed) and measures p50/p99 of Graph list
//!   queries against an in-process server over loopback HTTP.
//! - `sign-rate`: the raw RS256 (or ES256) signing rate of one core, the ceiling of the token
//!   endpoint.
//! - `token-rate`: client-credentials grants per second from concurrent loopback clients (for a
//!   separate load generator, see benches/token-rate.sh with wrk).
//! - `invite-rate`: sustained `POST /v1.0/invitations` per second from concurrent loopback
//!   clients against an in-process server (SQLite or PostgreSQL).
//! - `bulk-import`: a bulk-invite CSV of N rows through the code path of `portico invite import`
//!   (parse, store the batch, invite every row), timed per phase.
//! - `guest-signin`: p50/p99 of a guest's sign-in through a home tenant of the same deployment
//!   against a member's, both with a live session (see `guest_signin.rs`).
//! - `federated-signin`: Portico's own time per sign-in of a guest from an external OpenID
//!   Provider or SAML identity provider, without the provider's time, against a member's (see
//!   `federated_signin.rs`).
//! - `saml-validate`: SAML responses decoded and validated per second on one thread (see
//!   `saml_validate.rs`).

mod federated_signin;
mod guest_signin;
mod saml_validate;
mod web;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use portico_core::clock::{SystemClock, to_millis};
use portico_core::ids::{ObjectId, TenantId};
use portico_core::jws::{self, Alg, Signer};
use portico_core::sealed::MasterKey;
use portico_core::secret::PasswordCost;
use portico_http::audit::Actor;
use portico_http::directory::Directory;
use portico_http::keyring::KeyRing;
use portico_http::{AppState, Settings};
use portico_store::Store;
use portico_store::users::{self, User};
use serde_json::{Value, json};

#[derive(Parser)]
#[command(name = "portico-bench", about = "Portico benchmarks (see docs/PERFORMANCE.md)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// p50/p99 of GET /v1.0/users queries over a tenant of N users.
    ListLatency {
        /// sqlite://PATH?mode=rwc or postgres://... (a fresh file or schema is best).
        #[arg(long)]
        database_url: String,
        /// Users to seed (skipped when the tenant already has them).
        #[arg(long, default_value_t = 1_000_000)]
        users: u64,
        /// Measured requests per query kind (after 20 warm-up requests).
        #[arg(long, default_value_t = 300)]
        requests: usize,
    },
    /// Raw signing rate of one core.
    SignRate {
        /// RS256 or ES256.
        #[arg(long, default_value = "RS256")]
        alg: String,
        /// Seconds to run.
        #[arg(long, default_value_t = 5)]
        seconds: u64,
    },
    /// Client-credentials grants per second with concurrent loopback clients.
    TokenRate {
        /// Base URL of a running Portico (start it with `portico serve`).
        #[arg(long)]
        base: String,
        /// Tenant id.
        #[arg(long)]
        tenant: String,
        /// Client id.
        #[arg(long)]
        client_id: String,
        /// Client secret.
        #[arg(long, env = "BENCH_CLIENT_SECRET")]
        client_secret: String,
        /// Concurrent connections.
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Seconds to run.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
    },
    /// Sustained POST /v1.0/invitations per second over loopback HTTP (every address new).
    InviteRate {
        /// sqlite://PATH?mode=rwc or postgres://... (a fresh file or schema is best).
        #[arg(long, env = "TEST_DATABASE_URL")]
        database_url: String,
        /// Invitations to send (after 64 warm-up invitations).
        #[arg(long, default_value_t = 5000)]
        requests: usize,
        /// Concurrent clients.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// sendInvitationMessage: true queues one mail per invitation (nothing is sent: no SMTP
        /// server and no worker run in the benchmark).
        #[arg(long)]
        send_message: bool,
    },
    /// Bulk import of a generated bulk-invite CSV through `portico invite import`'s code path.
    BulkImport {
        /// sqlite://PATH?mode=rwc or postgres://... (a fresh file or schema is best).
        #[arg(long)]
        database_url: String,
        /// Rows in the file (every address new).
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        /// The file's sendEmail column (true queues one mail per row; nothing is sent).
        #[arg(long)]
        send_email: bool,
    },
    /// Latency a guest's sign-in through a home tenant adds over a member's (p50/p99).
    GuestSignin {
        /// sqlite://PATH?mode=rwc or postgres://... (each run makes its own tenants).
        #[arg(long, env = "TEST_DATABASE_URL")]
        database_url: String,
        /// Measured sign-ins of each kind.
        #[arg(long, default_value_t = 300)]
        requests: usize,
        /// Warm-up sign-ins of each kind (not measured).
        #[arg(long, default_value_t = 20)]
        warmup: usize,
    },
    /// Portico's time per federated sign-in (OIDC and SAML guests), without the provider's.
    FederatedSignin {
        /// sqlite://PATH?mode=rwc or postgres://... (each run makes its own tenant).
        #[arg(long, env = "TEST_DATABASE_URL")]
        database_url: String,
        /// Measured sign-ins of each kind.
        #[arg(long, default_value_t = 300)]
        requests: usize,
        /// Warm-up sign-ins of each kind (not measured).
        #[arg(long, default_value_t = 20)]
        warmup: usize,
        /// Guests of each kind (invited and redeemed in the setup; signed in in turn).
        #[arg(long, default_value_t = 10)]
        guests: usize,
    },
    /// SAML responses decoded and validated per second on one thread (RSA-2048 and ECDSA P-256).
    SamlValidate {
        /// Validations to run (instead of running for --seconds).
        #[arg(long)]
        count: Option<usize>,
        /// Seconds to run for each key type (when --count is not given).
        #[arg(long, default_value_t = 5)]
        seconds: u64,
        /// Distinct signed responses generated beforehand (validated in turn).
        #[arg(long, default_value_t = 1000)]
        distinct: usize,
    },
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

async fn seed(dir: &Directory, tenant: TenantId, domain: &str, count: u64) -> anyhow::Result<f64> {
    let started = Instant::now();
    let pb = indicatif::ProgressBar::new(count);
    let now = to_millis(dir.clock.now());
    let names = ["Ada", "Ben", "Chloe", "Dan", "Eva", "Finn", "Grace", "Hugo", "Iris", "Jon"];
    let mut done = 0;
    while done < count {
        let n = 10_000.min(count - done);
        let mut list = Vec::with_capacity(n as usize);
        for i in done..done + n {
            let guest = i % 10 == 0;
            let upn = format!("user{i}@{domain}");
            list.push(User {
                id: ObjectId::new(),
                tenant_id: tenant,
                user_principal_name: upn.clone(),
                display_name: format!("{} {:07}", names[(i % 10) as usize], i),
                given_name: Some(names[(i % 10) as usize].into()),
                surname: None,
                mail: Some(if guest { format!("user{i}@partner.test") } else { upn }),
                mail_nickname: Some(format!("user{i}")),
                other_mails: vec![],
                identities: vec![],
                account_enabled: true,
                user_type: if guest { "Guest".into() } else { "Member".into() },
                creation_type: guest.then(|| "Invitation".to_string()),
                external_user_state: guest.then(|| "Accepted".to_string()),
                external_user_state_changed_at: None,
                preferred_language: None,
                company_name: None,
                job_title: None,
                department: None,
                password_hash: None,
                force_change_password: false,
                password_changed_at: None,
                created_at: now + i as i64,
                deleted_at: None,
            });
        }
        let mut tx = dir.store.begin().await?;
        users::insert_many(&mut tx, &list).await?;
        tx.commit().await?;
        done += n;
        pb.set_position(done);
    }
    pb.finish_and_clear();
    Ok(started.elapsed().as_secs_f64())
}

async fn list_latency(url: &str, count: u64, requests: usize) -> anyhow::Result<()> {
    let store = Store::connect(url).await?;
    store.migrate().await?;
    let dir = Directory {
        store: store.clone(),
        settings: Arc::new(Settings::default()),
        keys: Arc::new(KeyRing::new(MasterKey::generate(), Duration::from_secs(30))),
        clock: Arc::new(SystemClock),
        password_cost: PasswordCost::TEST,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let dir = Directory { settings: Arc::new(Settings { public_url: base.clone(), ..Settings::default() }), ..dir };
    let existing = portico_store::tenants::resolve(&store, "bench.test").await?;
    let tenant = match existing {
        // Each run has a fresh master key, so the stored key cannot be opened: make a new one.
        Some(t) => {
            dir.rotate_key(t, None, &Actor::CommandLine).await?;
            t
        }
        None => dir.create_tenant("Bench", Some("bench.test"), &Actor::CommandLine).await?.id,
    };
    let have = store.count_users(tenant).await?;
    if (have as u64) < count {
        let secs = seed(&dir, tenant, "bench.test", count - have as u64).await?;
        println!(
            "seeded {} users in {secs:.1} s ({:.0} users/s)",
            count - have as u64,
            (count - have as u64) as f64 / secs
        );
    } else {
        println!("tenant already holds {have} users; not seeding");
    }
    // Planner statistics, as an operator would keep them (SQLite ANALYZE / PostgreSQL autovacuum).
    let analyze = if url.starts_with("sqlite") { "ANALYZE" } else { "ANALYZE users" };
    sqlx_exec(&store, analyze).await?;

    let state = AppState { dir: dir.clone(), metrics: None };
    let router = portico_http::router(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await;
    });
    let http = reqwest::Client::builder().pool_max_idle_per_host(4).build()?;
    let perms: Vec<String> = vec!["User.Read.All".into()];
    let token = get_token(&dir, &http, &base, tenant, &perms).await?;

    let mid = count / 2;
    let queries: Vec<(String, String)> = vec![
        (
            "startsWith(displayName)".into(),
            format!("/v1.0/users?$filter=startsWith(displayName,'Eva {:05}')", mid / 100),
        ),
        ("userType eq 'Guest'".into(), "/v1.0/users?$filter=userType eq 'Guest'".into()),
        ("mail eq".into(), format!("/v1.0/users?$filter=mail eq 'user{}@bench.test'", mid + 1)),
        ("page 1 (no filter)".into(), "/v1.0/users".into()),
    ];
    println!("\n{:<28} {:>9} {:>9} {:>9}  rows", "query", "p50 ms", "p99 ms", "max ms");
    for (name, path) in &queries {
        let mut lat = vec![];
        let mut rows = 0;
        for i in 0..requests + 20 {
            let t = Instant::now();
            let r = http.get(format!("{base}{path}")).bearer_auth(&token).send().await?;
            let status = r.status();
            let body: Value = r.json().await?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if !status.is_success() {
                bail!("{path}: {status} {body}");
            }
            rows = body["value"].as_array().map_or(0, Vec::len);
            if i >= 20 {
                lat.push(ms);
            }
        }
        lat.sort_by(f64::total_cmp);
        println!(
            "{name:<28} {:>9.2} {:>9.2} {:>9.2}  {rows}",
            percentile(&lat, 50.0),
            percentile(&lat, 99.0),
            lat.last().copied().unwrap_or(0.0)
        );
    }
    // Paging: follow nextLink to page 100 (top 100), timing each page; repeat to get a distribution
    // of the page-100 request itself.
    let mut page100 = vec![];
    let rounds = (requests / 30).max(5);
    for _ in 0..rounds {
        let mut next = Some(format!("{base}/v1.0/users?$top=100"));
        let mut page = 0;
        while let Some(url) = next.take() {
            page += 1;
            let t = Instant::now();
            let r = http.get(&url).bearer_auth(&token).send().await?;
            let body: Value = r.json().await?;
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if page == 100 {
                page100.push(ms);
                break;
            }
            next = body["@odata.nextLink"].as_str().map(str::to_owned);
        }
    }
    page100.sort_by(f64::total_cmp);
    println!(
        "{:<28} {:>9.2} {:>9.2} {:>9.2}  100 ({} walks)",
        "page 100 via nextLink",
        percentile(&page100, 50.0),
        percentile(&page100, 99.0),
        page100.last().copied().unwrap_or(0.0),
        rounds
    );
    Ok(())
}

async fn sqlx_exec(store: &Store, sql: &'static str) -> anyhow::Result<()> {
    store.execute_maintenance(sql).await.context(sql)?;
    Ok(())
}

async fn get_token(
    dir: &Directory,
    http: &reqwest::Client,
    base: &str,
    tenant: TenantId,
    perms: &[String],
) -> anyhow::Result<String> {
    let now = to_millis(dir.clock.now());
    let app = portico_store::apps::Application {
        id: ObjectId::new(),
        tenant_id: tenant,
        app_id: ObjectId::new().to_string(),
        display_name: "bench client".into(),
        description: None,
        sign_in_audience: "AzureADMyOrg".into(),
        identifier_uris: vec![],
        web: json!({}),
        spa: json!({}),
        public_client: json!({}),
        api: json!({}),
        app_roles: json!([]),
        required_resource_access: json!([]),
        created_at: now,
        deleted_at: None,
    };
    let mut tx = dir.store.begin().await?;
    let (app, sp) = dir.create_application(&mut tx, tenant, app, &Actor::CommandLine, true).await?;
    dir.grant_graph_permissions(&mut tx, tenant, sp.as_ref().context("sp")?, perms, &Actor::CommandLine).await?;
    let (_, secret) = dir.add_password(&mut tx, &app, None, None, &Actor::CommandLine).await?;
    tx.commit().await?;
    let r: Value = http
        .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &app.app_id),
            ("client_secret", &secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await?
        .json()
        .await?;
    Ok(r["access_token"].as_str().context("no token")?.to_string())
}

fn sign_rate(alg: &str, seconds: u64) -> anyhow::Result<()> {
    let alg = Alg::parse(alg).context("RS256 or ES256")?;
    let signer = Signer::from_pkcs8("bench", alg, &jws::generate_pkcs8(alg)?)?;
    let claims = json!({"aud": "https://graph.microsoft.com", "iss": "http://x/t/v2.0", "iat": 1, "exp": 2, "roles": ["User.Read.All"], "tid": "t", "oid": "o"});
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < Duration::from_secs(seconds) {
        for _ in 0..100 {
            signer.sign_jwt(&claims)?;
        }
        n += 100;
    }
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!("{} signatures per second on one core ({n} in {:.1} s)", rate.round(), started.elapsed().as_secs_f64());
    Ok(())
}

async fn token_rate(
    base: &str,
    tenant: &str,
    id: &str,
    secret: &str,
    conns: usize,
    seconds: u64,
) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().pool_max_idle_per_host(conns).build()?;
    let url = format!("{base}/{tenant}/oauth2/v2.0/token");
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = vec![];
    for _ in 0..conns {
        let (http, url, id, secret) = (http.clone(), url.clone(), id.to_string(), secret.to_string());
        tasks.push(tokio::spawn(async move {
            let mut ok = 0u64;
            let mut lat = vec![];
            while Instant::now() < deadline {
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .form(&[
                        ("grant_type", "client_credentials"),
                        ("client_id", id.as_str()),
                        ("client_secret", secret.as_str()),
                        ("scope", "https://graph.microsoft.com/.default"),
                    ])
                    .send()
                    .await;
                if let Ok(r) = r
                    && r.status().is_success()
                    && r.bytes().await.is_ok()
                {
                    ok += 1;
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            }
            (ok, lat)
        }));
    }
    let mut total = 0;
    let mut lat = vec![];
    for t in tasks {
        let (ok, l) = t.await?;
        total += ok;
        lat.extend(l);
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "{} grants/s over {seconds} s with {conns} connections (p50 {:.2} ms, p99 {:.2} ms)",
        (total as f64 / seconds as f64).round(),
        percentile(&lat, 50.0),
        percentile(&lat, 99.0)
    );
    Ok(())
}

/// Settings for a benchmark server: the invitation throttle (Entra's 150 per 5 s) is off, since
/// the benchmarks measure what the server can do, not the policy.
pub fn bench_settings(public_url: &str) -> Settings {
    let mut s = Settings { public_url: public_url.to_string(), ..Settings::default() };
    s.b2b.invitations_per_window = 0;
    s
}

/// A store, a directory over it and a fresh tenant (named with `tag`), for the invitation benchmarks.
async fn invite_setup(url: &str, public_url: &str, tag: &str) -> anyhow::Result<(Directory, TenantId)> {
    let store = Store::connect(url).await?;
    store.migrate().await?;
    let dir = Directory {
        store,
        settings: Arc::new(bench_settings(public_url)),
        keys: Arc::new(KeyRing::new(MasterKey::generate(), Duration::from_secs(30))),
        clock: Arc::new(SystemClock),
        password_cost: PasswordCost::TEST,
    };
    let t = dir.create_tenant(&format!("Invite bench {tag}"), None, &Actor::CommandLine).await?;
    Ok((dir, t.id))
}

async fn invite_rate(url: &str, requests: usize, concurrency: usize, send_message: bool) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let run = ObjectId::new().to_string();
    let tag = run[run.len() - 8..].to_string();
    let (dir, tenant) = invite_setup(url, &base, &tag).await?;
    let state = AppState { dir: dir.clone(), metrics: None };
    let router = portico_http::router(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await;
    });
    let http = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build()?;
    let token = get_token(&dir, &http, &base, tenant, &["User.Invite.All".to_string()]).await?;
    let send = move |i: usize, phase: &'static str| {
        let (http, base, token, tag) = (http.clone(), base.clone(), token.clone(), tag.clone());
        async move {
            let body = json!({
                "invitedUserEmailAddress": format!("{phase}{i}.{tag}@partner{}.test", i % 50),
                "inviteRedirectUrl": "https://myapps.example.com",
                "sendInvitationMessage": send_message,
            });
            let t = Instant::now();
            let r = http.post(format!("{base}/v1.0/invitations")).bearer_auth(&token).json(&body).send().await?;
            let status = r.status();
            let text = r.text().await?;
            if status != reqwest::StatusCode::CREATED {
                bail!("POST /v1.0/invitations answered {status}: {text}");
            }
            Ok::<f64, anyhow::Error>(t.elapsed().as_secs_f64() * 1000.0)
        }
    };
    for i in 0..64 {
        send(i, "warm").await?;
    }
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = vec![];
    for _ in 0..concurrency {
        let (next, send) = (next.clone(), send.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = vec![];
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= requests {
                    break;
                }
                lat.push(send(i, "g").await?);
            }
            Ok::<Vec<f64>, anyhow::Error>(lat)
        }));
    }
    let mut lat = vec![];
    for t in tasks {
        lat.extend(t.await??);
    }
    let secs = started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let engine = if url.starts_with("sqlite") { "SQLite" } else { "PostgreSQL" };
    println!(
        "{engine}: {} invitations/s ({} in {secs:.1} s, {concurrency} clients, sendInvitationMessage {send_message}; \
         p50 {:.1} ms, p99 {:.1} ms)",
        (requests as f64 / secs).round(),
        requests,
        percentile(&lat, 50.0),
        percentile(&lat, 99.0)
    );
    let guests = dir.store.count_users(tenant).await?;
    if guests != (requests + 64) as i64 {
        bail!("expected {} guests, found {guests}", requests + 64);
    }
    Ok(())
}

async fn bulk_import(url: &str, rows: usize, send_email: bool) -> anyhow::Result<()> {
    use portico_http::b2b::{batch, invite::Inviting};
    let run = ObjectId::new().to_string();
    let tag = &run[run.len() - 8..];
    let (dir, tenant) = invite_setup(url, "http://localhost:8080", tag).await?;
    let state = AppState { dir: dir.clone(), metrics: None };
    let mut csv = String::with_capacity(rows * 90);
    csv.push_str("version:v1.0\nEmail address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,\
                  Send invitation message (true or false) [sendEmail],Customized invitation message [customizedMessageBody]\n");
    for i in 0..rows {
        csv.push_str(&format!("guest{i}.{tag}@partner{}.test,https://myapps.example.com,{send_email},\n", i % 50));
    }
    println!("file: {rows} rows, {:.1} MB", csv.len() as f64 / 1e6);
    let total = Instant::now();
    let t = Instant::now();
    let parsed = batch::parse_csv(csv.as_bytes(), state.now_ms())?;
    let parse_s = t.elapsed().as_secs_f64();
    let who = Inviting::command_line();
    let t = Instant::now();
    let b = batch::create(&state, tenant, &parsed.rows, &format!("cli:{}", parsed.digest), &who, false).await?;
    let store_s = t.elapsed().as_secs_f64();
    let pb = indicatif::ProgressBar::new(rows as u64);
    let t = Instant::now();
    let counts = batch::run_to_end(&state, &b, &who, |n| {
        pb.inc(n as u64);
        async { Ok(()) }
    })
    .await?;
    pb.finish_and_clear();
    let invite_s = t.elapsed().as_secs_f64();
    let total_s = total.elapsed().as_secs_f64();
    let engine = if url.starts_with("sqlite") { "SQLite" } else { "PostgreSQL" };
    println!(
        "{engine}: {rows} rows in {total_s:.1} s ({:.0} rows/s): parse {parse_s:.2} s, store batch {store_s:.2} s, \
         invite {invite_s:.1} s; invited {}, already invited {}, failed {} (sendEmail {send_email})",
        rows as f64 / total_s,
        counts.invited,
        counts.already_invited,
        counts.failed
    );
    if counts.invited != rows as i64 {
        bail!("expected {rows} invited rows");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().cmd {
        Cmd::ListLatency { database_url, users, requests } => list_latency(&database_url, users, requests).await,
        Cmd::SignRate { alg, seconds } => sign_rate(&alg, seconds),
        Cmd::TokenRate { base, tenant, client_id, client_secret, connections, seconds } => {
            token_rate(&base, &tenant, &client_id, &client_secret, connections, seconds).await
        }
        Cmd::InviteRate { database_url, requests, concurrency, send_message } => {
            invite_rate(&database_url, requests, concurrency, send_message).await
        }
        Cmd::BulkImport { database_url, rows, send_email } => bulk_import(&database_url, rows, send_email).await,
        Cmd::GuestSignin { database_url, requests, warmup } => {
            guest_signin::guest_signin(&database_url, requests, warmup).await
        }
        Cmd::FederatedSignin { database_url, requests, warmup, guests } => {
            federated_signin::federated_signin(&database_url, requests, warmup, guests).await
        }
        Cmd::SamlValidate { count, seconds, distinct } => saml_validate::saml_validate(count, seconds, distinct),
    }
}
