//! The API test harness: a real Portico server on 127.0.0.1 port 0, in-process, over a fresh
//! store (a SQLite file, or a PostgreSQL schema of `TEST_DATABASE_URL` that is dropped
//! afterwards), with helpers to create tenants and get tokens through the real token endpoint.
#![allow(dead_code)]

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt as _;
use portico_core::clock::SystemClock;
use portico_core::ids::TenantId;
use portico_core::sealed::MasterKey;
use portico_core::secret::PasswordCost;
use portico_http::audit::Actor;
use portico_http::directory::Directory;
use portico_http::keyring::KeyRing;
use portico_http::{AppState, Settings};
use portico_store::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection as _};

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh schema in `TEST_DATABASE_URL`.
    Postgres,
}

/// A running server and a first tenant with an all-powerful API client.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The server's state (for direct setup).
    pub state: AppState,
    /// HTTP client.
    pub http: reqwest::Client,
    /// The first tenant.
    pub tenant: TenantId,
    /// A token with every Graph permission in `tenant`.
    pub token: String,
}

/// A response: status and JSON body (Null when empty or not JSON), plus headers.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    /// The Graph error code.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

/// Every Graph permission the catalog has.
pub fn all_permissions() -> Vec<String> {
    portico_core::access::GRAPH_PERMISSIONS.iter().map(|p| p.name.to_string()).collect()
}

/// Runs `test` on `engine` (PostgreSQL only when `TEST_DATABASE_URL` is set; otherwise skipped).
pub async fn with_app<F, Fut>(engine: Engine, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    match engine {
        Engine::Sqlite => {
            let path = std::env::temp_dir().join(format!("portico-api-{}.db", uuid::Uuid::new_v4()));
            let url = format!("sqlite://{}?mode=rwc", path.display());
            let outcome = AssertUnwindSafe(async {
                let app = spawn(&url).await;
                test(app).await;
            })
            .catch_unwind()
            .await;
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            if let Err(p) = outcome {
                std::panic::resume_unwind(p);
            }
        }
        Engine::Postgres => {
            let Some(base) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
                println!("skipped: TEST_DATABASE_URL not set");
                return;
            };
            let schema = format!("portico_api_{}", uuid::Uuid::new_v4().simple());
            let mut admin = sqlx::PgConnection::connect(&base).await.expect("connect to TEST_DATABASE_URL");
            sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&mut admin)
                .await
                .expect("create schema");
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
            let outcome = AssertUnwindSafe(async {
                let app = spawn(&url).await;
                let pool = app.state.dir.store.pool().clone();
                test(app).await;
                pool.close().await;
            })
            .catch_unwind()
            .await;
            let _ = sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&mut admin).await;
            if let Err(p) = outcome {
                std::panic::resume_unwind(p);
            }
        }
    }
}

/// Declares a test that runs on SQLite and (when configured) on PostgreSQL.
#[macro_export]
macro_rules! api_test {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::common::with_app($crate::common::Engine::Sqlite, |$app| async move $body).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::common::with_app($crate::common::Engine::Postgres, |$app| async move $body).await;
            }
        }
    };
}

/// Starts a server over the store at `url`.
pub async fn spawn(url: &str) -> TestApp {
    let store = Store::connect(url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let base = format!("http://{addr}");
    let settings = Settings { public_url: base.clone(), ..Settings::default() };
    // The job worker (mail delivery, invitation jobs) looks for work every 100 ms.
    let settings = Settings {
        mail: portico_http::settings::MailSettings { worker_poll_ms: 100, ..Default::default() },
        ..settings
    };
    let dir = Directory {
        store,
        settings: Arc::new(settings),
        keys: Arc::new(KeyRing::new(MasterKey::generate(), Duration::from_secs(30))),
        clock: Arc::new(SystemClock),
        password_cost: PasswordCost::TEST,
    };
    let state = AppState { dir, metrics: None };
    let router = portico_http::router(state.clone());
    portico_http::jobs::spawn_worker(state.clone());
    // The server task ends with the test's runtime.
    tokio::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await;
    });
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let mut app = TestApp { base, state, http, tenant: TenantId::new(), token: String::new() };
    let (tenant, token) = app.new_tenant("Contoso", Some("contoso.test"), &all_permissions()).await;
    app.tenant = tenant;
    app.token = token;
    app
}

impl TestApp {
    /// Creates a tenant (with an optional verified custom domain) and an app-only token
    /// carrying `permissions`.
    pub async fn new_tenant(&self, name: &str, domain: Option<&str>, permissions: &[String]) -> (TenantId, String) {
        let t = self.state.dir.create_tenant(name, domain, &Actor::CommandLine).await.expect("create tenant");
        let token = self.token_with(t.id, permissions).await;
        (t.id, token)
    }

    /// Registers a client in `tenant` with `permissions`, and gets a token from the token endpoint.
    pub async fn token_with(&self, tenant: TenantId, permissions: &[String]) -> String {
        let (client_id, secret) = self.client(tenant, permissions).await;
        let r = self
            .http
            .post(format!("{}/{tenant}/oauth2/v2.0/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &client_id),
                ("client_secret", &secret),
                ("scope", "https://graph.microsoft.com/.default"),
            ])
            .send()
            .await
            .expect("token request");
        assert_eq!(r.status(), StatusCode::OK, "token endpoint refused");
        let v: Value = r.json().await.expect("token json");
        v["access_token"].as_str().expect("access_token").to_string()
    }

    /// Registers a client with a service principal and `permissions`; returns (client id, secret).
    pub async fn client(&self, tenant: TenantId, permissions: &[String]) -> (String, String) {
        let dir = &self.state.dir;
        let app = portico_store::apps::Application {
            id: portico_core::ids::ObjectId::new(),
            tenant_id: tenant,
            app_id: portico_core::ids::ObjectId::new().to_string(),
            display_name: "test client".into(),
            description: None,
            sign_in_audience: "AzureADMyOrg".into(),
            identifier_uris: vec![],
            web: json!({"redirectUris": []}),
            spa: json!({"redirectUris": []}),
            public_client: json!({"redirectUris": []}),
            api: json!({}),
            app_roles: json!([]),
            required_resource_access: json!([]),
            created_at: portico_core::clock::to_millis(time::OffsetDateTime::now_utc()),
            deleted_at: None,
        };
        let mut tx = dir.store.begin().await.expect("begin");
        let (app, sp) = dir.create_application(&mut tx, tenant, app, &Actor::CommandLine, true).await.expect("app");
        dir.grant_graph_permissions(&mut tx, tenant, sp.as_ref().expect("sp"), permissions, &Actor::CommandLine)
            .await
            .expect("grant");
        let (_, secret) = dir.add_password(&mut tx, &app, None, None, &Actor::CommandLine).await.expect("secret");
        tx.commit().await.expect("commit");
        (app.app_id, secret)
    }

    /// The default verified domain of the first tenant.
    pub fn domain(&self) -> &'static str {
        "contoso.test"
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.expect("request");
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp { status, body, text, headers }
    }

    /// GET with the default token.
    pub async fn get(&self, path: &str) -> Resp {
        self.get_as(&self.token, path).await
    }
    /// GET with a token.
    pub async fn get_as(&self, token: &str, path: &str) -> Resp {
        self.send(self.http.get(format!("{}{path}", self.base)).bearer_auth(token)).await
    }
    /// GET with `ConsistencyLevel: eventual`.
    pub async fn get_eventual(&self, path: &str) -> Resp {
        self.send(
            self.http
                .get(format!("{}{path}", self.base))
                .bearer_auth(&self.token)
                .header("ConsistencyLevel", "eventual"),
        )
        .await
    }
    /// POST JSON with the default token.
    pub async fn post(&self, path: &str, body: Value) -> Resp {
        self.post_as(&self.token, path, body).await
    }
    /// POST JSON with a token.
    pub async fn post_as(&self, token: &str, path: &str, body: Value) -> Resp {
        self.send(self.http.post(format!("{}{path}", self.base)).bearer_auth(token).json(&body)).await
    }
    /// PATCH JSON with the default token.
    pub async fn patch(&self, path: &str, body: Value) -> Resp {
        self.patch_as(&self.token, path, body).await
    }
    /// PATCH JSON with a token.
    pub async fn patch_as(&self, token: &str, path: &str, body: Value) -> Resp {
        self.send(self.http.patch(format!("{}{path}", self.base)).bearer_auth(token).json(&body)).await
    }
    /// DELETE with the default token.
    pub async fn delete(&self, path: &str) -> Resp {
        self.delete_as(&self.token, path).await
    }
    /// DELETE with a token.
    pub async fn delete_as(&self, token: &str, path: &str) -> Resp {
        self.send(self.http.delete(format!("{}{path}", self.base)).bearer_auth(token)).await
    }
    /// A raw request (for bad bodies and headers).
    pub async fn raw(&self, rb: reqwest::RequestBuilder) -> Resp {
        self.send(rb).await
    }

    /// Creates a member user through the API; returns its JSON.
    pub async fn create_user(&self, alias: &str, display_name: &str) -> Value {
        let r = self
            .post(
                "/v1.0/users",
                json!({
                    "accountEnabled": true,
                    "displayName": display_name,
                    "mailNickname": alias,
                    "userPrincipalName": format!("{alias}@{}", self.domain()),
                    "mail": format!("{alias}@{}", self.domain()),
                    "passwordProfile": {"password": "correct horse battery staple", "forceChangePasswordNextSignIn": false}
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "create user: {}", r.text);
        r.body
    }

    /// Creates a security group through the API; returns its JSON.
    pub async fn create_group(&self, name: &str) -> Value {
        let r = self
            .post("/v1.0/groups", json!({"displayName": name, "mailEnabled": false, "mailNickname": name.to_lowercase().replace(' ', "-"), "securityEnabled": true}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "create group: {}", r.text);
        r.body
    }
}

/// The claims of a JWT: its payload, base64url-decoded (no signature check).
pub fn jwt_claims(token: &str) -> Value {
    use base64::Engine as _;
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .expect("payload is base64url");
    serde_json::from_slice(&raw).expect("payload is JSON")
}

/// The path and query of an absolute URL on this server (for following `@odata.nextLink`).
pub fn path_of(app: &TestApp, link: &str) -> String {
    link.strip_prefix(&app.base).unwrap_or_else(|| panic!("{link} does not start with {}", app.base)).to_string()
}

impl TestApp {
    /// A client credentials request to the token endpoint of `tenant` (secret in the body).
    pub async fn token_request(&self, tenant: &str, client_id: &str, secret: &str, scope: &str) -> Resp {
        let rb = self.http.post(format!("{}/{tenant}/oauth2/v2.0/token", self.base)).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
            ("scope", scope),
        ]);
        self.send(rb).await
    }

    /// GET with `ConsistencyLevel: eventual` and a token.
    pub async fn get_eventual_as(&self, token: &str, path: &str) -> Resp {
        self.send(
            self.http.get(format!("{}{path}", self.base)).bearer_auth(token).header("ConsistencyLevel", "eventual"),
        )
        .await
    }

    /// The ids in a collection answer's `value`, in order.
    pub fn ids(r: &Resp) -> Vec<String> {
        r.body["value"]
            .as_array()
            .unwrap_or_else(|| panic!("no value array: {}", r.text))
            .iter()
            .map(|v| v["id"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Directory audit records with this activity name whose targets include `target_id`.
    pub async fn audits_for(&self, activity: &str, target_id: &str) -> Vec<Value> {
        let filter = format!("activityDisplayName eq '{}'", activity.replace('\'', "''"));
        let mut path = format!("/v1.0/auditLogs/directoryAudits?$filter={}", urlencode(&filter));
        let mut out = vec![];
        loop {
            let r = self.get(&path).await;
            assert_eq!(r.status, StatusCode::OK, "audit log: {}", r.text);
            for e in r.body["value"].as_array().cloned().unwrap_or_default() {
                if e["targetResources"].as_array().is_some_and(|ts| ts.iter().any(|t| t["id"] == json!(target_id))) {
                    out.push(e);
                }
            }
            match r.body["@odata.nextLink"].as_str() {
                Some(next) => path = path_of(self, next),
                None => break,
            }
        }
        out
    }
}

/// Percent-encodes a query value or path segment (everything but unreserved characters).
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}

/// How a customised test server differs from the default one (see [`with_app_custom`]).
pub struct Custom {
    /// The clock the server reads (a `ManualClock` lets a test move time forward).
    pub clock: Arc<dyn portico_core::clock::Clock>,
    /// Changes to the default settings (`public_url` is set afterwards).
    pub settings: Box<dyn FnOnce(&mut Settings) + Send>,
}

impl Custom {
    /// A server whose time is `clock`, with default settings.
    pub fn clock(clock: Arc<portico_core::clock::ManualClock>) -> Self {
        Self { clock, settings: Box::new(|_| {}) }
    }
    /// A server on the system clock with changed settings.
    pub fn settings(f: impl FnOnce(&mut Settings) + Send + 'static) -> Self {
        Self { clock: Arc::new(SystemClock), settings: Box::new(f) }
    }
}

/// A manual clock stopped at the current time.
pub fn manual_clock() -> Arc<portico_core::clock::ManualClock> {
    Arc::new(portico_core::clock::ManualClock::new(time::OffsetDateTime::now_utc()))
}

/// Like [`with_app`], over a server built from `custom`.
pub async fn with_app_custom<F, Fut>(engine: Engine, custom: Custom, test: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    match engine {
        Engine::Sqlite => {
            let path = std::env::temp_dir().join(format!("portico-api-{}.db", uuid::Uuid::new_v4()));
            let url = format!("sqlite://{}?mode=rwc", path.display());
            let outcome = AssertUnwindSafe(async {
                let app = spawn_custom(&url, custom).await;
                test(app).await;
            })
            .catch_unwind()
            .await;
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
            }
            if let Err(p) = outcome {
                std::panic::resume_unwind(p);
            }
        }
        Engine::Postgres => {
            let Some(base) = std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
                println!("skipped: TEST_DATABASE_URL not set");
                return;
            };
            let schema = format!("portico_api_{}", uuid::Uuid::new_v4().simple());
            let mut admin = sqlx::PgConnection::connect(&base).await.expect("connect to TEST_DATABASE_URL");
            sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&mut admin)
                .await
                .expect("create schema");
            let sep = if base.contains('?') { '&' } else { '?' };
            let url = format!("{base}{sep}options=-c%20search_path%3D{schema}");
            let outcome = AssertUnwindSafe(async {
                let app = spawn_custom(&url, custom).await;
                let pool = app.state.dir.store.pool().clone();
                test(app).await;
                pool.close().await;
            })
            .catch_unwind()
            .await;
            let _ = sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&mut admin).await;
            if let Err(p) = outcome {
                std::panic::resume_unwind(p);
            }
        }
    }
}

/// Declares a test over a customised server: `api_test_custom!(name, custom_expr, |app| { ... })`.
#[macro_export]
macro_rules! api_test_custom {
    ($name:ident, $custom:expr, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::common::with_app_custom($crate::common::Engine::Sqlite, $custom, |$app| async move $body)
                    .await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::common::with_app_custom($crate::common::Engine::Postgres, $custom, |$app| async move $body)
                    .await;
            }
        }
    };
}

/// Starts a server over the store at `url` with a custom clock and settings.
pub async fn spawn_custom(url: &str, custom: Custom) -> TestApp {
    let store = Store::connect(url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let base = format!("http://{addr}");
    let mut settings = Settings::default();
    settings.mail.worker_poll_ms = 100;
    (custom.settings)(&mut settings);
    settings.public_url = base.clone();
    let dir = Directory {
        store,
        settings: Arc::new(settings),
        keys: Arc::new(KeyRing::new(MasterKey::generate(), Duration::from_secs(30))),
        clock: custom.clock,
        password_cost: PasswordCost::TEST,
    };
    let state = AppState { dir, metrics: None };
    let router = portico_http::router(state.clone());
    portico_http::jobs::spawn_worker(state.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await;
    });
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let mut app = TestApp { base, state, http, tenant: TenantId::new(), token: String::new() };
    let (tenant, token) = app.new_tenant("Contoso", Some("contoso.test"), &all_permissions()).await;
    app.tenant = tenant;
    app.token = token;
    app
}

/// Declares a test over a server on a manual clock: `api_test_clock!(name, |app, clock| { ... })`,
/// where `clock` is the server's `Arc<ManualClock>`.
#[macro_export]
macro_rules! api_test_clock {
    ($name:ident, |$app:ident, $clock:ident| $body:block) => {
        $crate::api_test_clock!(#[cfg(all())] $name, |$app, $clock| $body);
    };
    (#[$meta:meta] $name:ident, |$app:ident, $clock:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[$meta]
            async fn sqlite() {
                let $clock = $crate::common::manual_clock();
                let custom = $crate::common::Custom::clock($clock.clone());
                $crate::common::with_app_custom($crate::common::Engine::Sqlite, custom, |$app| async move $body).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[$meta]
            async fn postgres() {
                let $clock = $crate::common::manual_clock();
                let custom = $crate::common::Custom::clock($clock.clone());
                $crate::common::with_app_custom($crate::common::Engine::Postgres, custom, |$app| async move $body)
                    .await;
            }
        }
    };
}

impl TestApp {
    /// What a sign-in leaves in the store: a live browser session (one hour) for `user` and a
    /// grant (one day) of `scopes` on Microsoft Graph to `client_id` made in it. Returns the
    /// session id and the grant id.
    pub async fn stored_sign_in(
        &self,
        tenant: TenantId,
        user: portico_core::ids::ObjectId,
        client_id: &str,
        scopes: &str,
    ) -> (String, portico_core::ids::ObjectId) {
        use portico_core::ids::ObjectId;
        use portico_store::signin::{self, Grant, Session};
        let now = portico_core::clock::to_millis(time::OffsetDateTime::now_utc());
        let session = Session {
            id: ObjectId::new().to_string(),
            token_digest: ObjectId::new().to_string(),
            tenant_id: tenant,
            user_id: user,
            csrf: "csrf".into(),
            auth_time: now,
            amr: vec!["pwd".into()],
            persistent: false,
            ip_address: None,
            user_agent: None,
            created_at: now,
            last_seen_at: now,
            expires_at: now + 3_600_000,
            revoked_at: None,
        };
        let grant = Grant {
            id: ObjectId::new(),
            tenant_id: tenant,
            client_id: client_id.to_string(),
            user_id: user,
            session_id: Some(session.id.clone()),
            scopes: scopes.to_string(),
            resource: portico_core::access::GRAPH_RESOURCE.into(),
            amr: vec!["pwd".into()],
            auth_time: now,
            public_client: false,
            created_at: now,
            expires_at: now + 86_400_000,
            revoked_at: None,
            revoked_reason: None,
        };
        let mut conn = self.state.dir.store.pool().acquire().await.expect("conn");
        signin::insert_session(&mut conn, &session).await.expect("session");
        signin::insert_grant(&mut conn, &grant).await.expect("grant");
        (session.id, grant.id)
    }

    /// A delegated Graph access token for `user` (its JSON as the API shows it) in the first
    /// tenant, as the sign-in flow issues one: a live browser session and grant are stored, and
    /// the claims of `oauth::user_tokens` (with `xms_grant`) are signed with the tenant's key.
    /// `scp` is the space-separated scope list; `wids` the user's directory role template ids.
    pub async fn delegated_token(&self, user: &Value, scp: &str, wids: &[&str]) -> String {
        use portico_core::access::GRAPH_RESOURCE;
        use portico_core::ids::ObjectId;
        let tenant = self.tenant;
        let user_id = ObjectId::parse(user["id"].as_str().expect("user id")).expect("user id is a GUID");
        let client_id = ObjectId::new().to_string();
        let now = portico_core::clock::to_millis(time::OffsetDateTime::now_utc());
        let (session_id, grant_id) = self.stored_sign_in(tenant, user_id, &client_id, &format!("openid {scp}")).await;
        let iss = self.state.dir.settings.issuer(tenant);
        let secs = now / 1000;
        let upn = user["userPrincipalName"].clone();
        let claims = json!({
            "aud": GRAPH_RESOURCE, "iss": iss, "iat": secs, "nbf": secs, "exp": secs + 3600,
            "amr": ["pwd"], "app_displayname": "test client", "appid": client_id, "appidacr": "1",
            "azp": client_id, "azpacr": "1", "idp": iss, "idtyp": "user", "name": user["displayName"],
            "oid": user_id.to_string(), "preferred_username": upn, "scp": scp, "sid": session_id,
            "sub": ObjectId::new().to_string(), "tid": tenant.to_string(), "unique_name": upn, "upn": upn,
            "uti": ObjectId::new().to_string(), "ver": "2.0", "wids": wids, "xms_grant": grant_id.to_string(),
        });
        let signer = self.state.dir.keys.signer(&self.state.dir.store, tenant).await.expect("signer");
        signer.sign_jwt(&claims).expect("sign")
    }
}
