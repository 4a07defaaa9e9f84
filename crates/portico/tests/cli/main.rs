//! Tests of the `portico` binary as an operator uses it: start-up on a fresh data directory,
//! transport rules, TLS, configuration layering, JSON output of the commands, refusal of a newer
//! schema. Servers bind to loopback, and every child process is killed when its guard drops.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_portico");

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let p = std::env::temp_dir().join(format!("portico-cli-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn portico(data: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--data-dir")
        .arg(data)
        .env_remove("PORTICO_DATABASE_URL")
        .env_remove("PORTICO_MASTER_KEY")
        .env("PORTICO_LOG", "warn");
    c
}

fn run_json(cmd: &mut Command) -> Value {
    let out = cmd.arg("--json").output().expect("run portico");
    assert!(out.status.success(), "portico failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `serve` and waits (bounded) for its "ready" line; returns the server and what it printed.
fn serve(cmd: &mut Command) -> (Server, String) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("spawn serve");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
            if line.contains("Portico is ready on") {
                let _ = tx.send(text.clone());
            }
        }
    });
    let text = rx.recv_timeout(Duration::from_secs(60)).expect("server did not get ready within 60 s");
    (Server(child), text)
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

#[test]
fn first_start_creates_the_data_directory_and_prints_a_working_admin_client() {
    let dir = TempDir::new();
    let data = dir.0.join("fresh");
    let port = free_port();
    let started = Instant::now();
    let (_server, text) = serve(portico(&data).args(["serve", "--listen", &format!("127.0.0.1:{port}")]));
    println!("ready after {:?}", started.elapsed());
    assert!(data.join("portico.db").exists());
    let key = std::fs::metadata(data.join("master.key")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(key.permissions().mode() & 0o777, 0o600, "the master key must be private");
    }
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.split_whitespace().next().unwrap_or("").to_string()))
            .unwrap_or_else(|| panic!("no '{name}' in:\n{text}"))
    };
    let (tenant, client, secret) = (field("Tenant:"), field("API client id:"), field("API client secret:"));
    let base = format!("http://127.0.0.1:{port}");
    let tok: Value = http()
        .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &client),
            ("client_secret", &secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = tok["access_token"].as_str().expect("token");
    let users: Value = http().get(format!("{base}/v1.0/users")).bearer_auth(token).send().unwrap().json().unwrap();
    assert!(
        users["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u["userPrincipalName"].as_str().unwrap().starts_with("admin@"))
    );
    assert_eq!(http().get(format!("{base}/readyz")).send().unwrap().status(), 200);
    let metrics = http().get(format!("{base}/metrics")).send().unwrap().text().unwrap();
    assert!(metrics.contains("portico_http_requests_total"), "{metrics}");
    let openapi: Value = http().get(format!("{base}/openapi.json")).send().unwrap().json().unwrap();
    assert!(openapi["paths"]["/v1.0/users"]["get"].is_object());
    // The secret is shown once: a second start prints no credentials.
    drop(_server);
    let port2 = free_port();
    let (_again, text2) = serve(portico(&data).args(["serve", "--listen", &format!("127.0.0.1:{port2}")]));
    assert!(!text2.contains("API client secret"), "credentials printed twice");
}

#[test]
fn cli_commands_print_json_and_share_the_store_with_a_running_server() {
    let dir = TempDir::new();
    let port = free_port();
    let (_server, _) = serve(portico(&dir.0).args(["serve", "--listen", &format!("127.0.0.1:{port}")]));
    let t = run_json(portico(&dir.0).args(["tenant", "create", "--name", "Fabrikam", "--domain", "fabrikam.test"]));
    assert_eq!(t["displayName"], "Fabrikam");
    let tid = t["id"].as_str().unwrap().to_string();
    let list = run_json(portico(&dir.0).args(["tenant", "list"]));
    assert!(list.as_array().unwrap().iter().any(|x| x["id"] == tid.as_str()));
    let u = run_json(portico(&dir.0).args([
        "user",
        "create",
        "--tenant",
        "fabrikam.test",
        "--upn",
        "dave@fabrikam.test",
        "--name",
        "Dave",
        "--role",
        "Global Administrator",
    ]));
    assert!(u["initialPassword"].as_str().unwrap().len() >= 16);
    let a = run_json(portico(&dir.0).args([
        "app",
        "create",
        "--tenant",
        "fabrikam.test",
        "--name",
        "sync",
        "--permission",
        "User.Read.All",
        "--permission",
        "AuditLog.Read.All",
    ]));
    assert_eq!(a["permissions"], serde_json::json!(["User.Read.All", "AuditLog.Read.All"]));
    // The running server sees what the CLI wrote, and the CLI's writes are audited.
    let base = format!("http://127.0.0.1:{port}");
    let tok: Value = http()
        .post(format!("{base}/fabrikam.test/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", a["appId"].as_str().unwrap()),
            ("client_secret", a["clientSecret"].as_str().unwrap()),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let token = tok["access_token"].as_str().expect("token");
    let users: Value =
        http().get(format!("{base}/v1.0/users/dave@fabrikam.test")).bearer_auth(token).send().unwrap().json().unwrap();
    assert_eq!(users["displayName"], "Dave");
    let audits: Value = http()
        .get(format!("{base}/v1.0/auditLogs/directoryAudits?$filter=activityDisplayName eq 'Add user'"))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(audits["value"][0]["initiatedBy"]["app"]["displayName"], "Portico command line");
    // Key rotation from the CLI keeps old tokens valid.
    let r = run_json(portico(&dir.0).args(["keys", "rotate", "--tenant", "fabrikam.test"]));
    assert_eq!(r[0]["tenantId"], tid.as_str());
    let still = http().get(format!("{base}/v1.0/users")).bearer_auth(token).send().unwrap();
    assert_eq!(still.status(), 200);
    let jwks: Value = http().get(format!("{base}/{tid}/discovery/v2.0/keys")).send().unwrap().json().unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
}

#[test]
fn bad_commands_fail_with_a_clear_message() {
    let dir = TempDir::new();
    let out = portico(&dir.0)
        .args(["user", "create", "--tenant", "nowhere.test", "--upn", "a@nowhere.test", "--name", "A"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no tenant 'nowhere.test'"));
    let out = portico(&dir.0)
        .args(["app", "create", "--tenant", "x", "--name", "n", "--permission", "Bogus.All"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let help = Command::new(BIN).args(["app", "create", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("--permission"));
}

#[test]
fn plain_http_off_loopback_is_refused_unless_a_tls_proxy_is_declared() {
    let dir = TempDir::new();
    let out = portico(&dir.0).args(["serve", "--listen", "0.0.0.0:0"]).output().unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("refusing to serve plain HTTP"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = portico(&dir.0)
        .args(["serve", "--listen", "0.0.0.0:0", "--behind-tls-proxy", "--public-url", "http://idp.example.com"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not https"));
}

#[test]
fn tls_serves_https_with_the_given_certificate() {
    let dir = TempDir::new();
    let (cert, key) = (dir.0.join("cert.pem"), dir.0.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    let Ok(made) = made else {
        println!("skipped: openssl is not installed");
        return;
    };
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let port = free_port();
    let (_server, text) = serve(
        portico(&dir.0)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--tls-cert"])
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key),
    );
    assert!(text.contains(&format!("https://127.0.0.1:{port}")), "{text}");
    let client = reqwest::blocking::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let r = client.get(format!("https://127.0.0.1:{port}/healthz")).send().unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        http().get(format!("http://127.0.0.1:{port}/healthz")).send().is_err(),
        "plain HTTP must not be served on the TLS port"
    );
}

#[test]
fn settings_layer_file_then_environment_then_flags() {
    let dir = TempDir::new();
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    std::fs::write(dir.0.join("portico.toml"), format!("listen = \"127.0.0.1:{p1}\"\nbase_domain = \"file.test\"\n"))
        .unwrap();
    // The file alone.
    let (s, text) = serve(portico(&dir.0).arg("serve"));
    assert!(text.contains(&format!("127.0.0.1:{p1}")), "{text}");
    drop(s);
    let t = run_json(portico(&dir.0).args(["tenant", "create", "--name", "Layered"]));
    // Every command reads the same file: the tenant gets the file's base domain.
    assert_eq!(t["initialDomain"], "layered.file.test", "{t}");
    // The environment beats the file.
    let (s, text) = serve(portico(&dir.0).arg("serve").env("PORTICO_LISTEN", format!("127.0.0.1:{p2}")));
    assert!(text.contains(&format!("127.0.0.1:{p2}")), "{text}");
    drop(s);
    // A flag beats the environment.
    let (_s, text) = serve(
        portico(&dir.0)
            .args(["serve", "--listen", &format!("127.0.0.1:{p3}")])
            .env("PORTICO_LISTEN", format!("127.0.0.1:{p2}")),
    );
    assert!(text.contains(&format!("127.0.0.1:{p3}")), "{text}");
    // An unknown key in the file is an error, not silently ignored.
    std::fs::write(dir.0.join("portico.toml"), "lisen = \"x\"\n").unwrap();
    let out = portico(&dir.0).arg("tenant").arg("list").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid"));
}

#[test]
fn a_schema_newer_than_the_binary_is_refused() {
    let dir = TempDir::new();
    let out = portico(&dir.0).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = dir.0.join("portico.db");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = portico_store::Store::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        sqlx::query("INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) VALUES (999, 'future', CURRENT_TIMESTAMP, TRUE, x'00', 0)")
            .execute(store.pool())
            .await
            .unwrap();
    });
    let out = portico(&dir.0).args(["serve", "--listen", &format!("127.0.0.1:{}", free_port())]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("schema is at version 999"), "{err}");
}

#[test]
fn mail_outbox_lists_the_newest_mail_as_a_table_or_json() {
    let dir = TempDir::new();
    let fab = run_json(portico(&dir.0).args(["tenant", "create", "--name", "Fabrikam", "--domain", "fabrikam.test"]));
    let other = run_json(portico(&dir.0).args(["tenant", "create", "--name", "Other"]));
    let empty = run_json(portico(&dir.0).args(["mail", "outbox", "--tenant", "fabrikam.test"]));
    assert_eq!(empty, serde_json::json!([]));
    let db = dir.0.join("portico.db");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = portico_store::Store::connect(&format!("sqlite://{}", db.display())).await.unwrap();
        for (tenant, to, subject, at) in [
            (&fab, "first@example.test", "First", 1_000),
            (&fab, "second@example.test", "Second", 2_000),
            (&other, "elsewhere@example.test", "Elsewhere", 3_000),
        ] {
            let tid = portico_core::ids::TenantId::parse(tenant["id"].as_str().unwrap()).unwrap();
            let m = portico_http::mail::Message {
                to: to.into(),
                cc: Some("cc@example.test".into()),
                subject: subject.into(),
                text: format!("Open https://portico.test/{subject}"),
                purpose: "invitation".into(),
                ..Default::default()
            };
            let mut tx = store.begin().await.unwrap();
            portico_http::mail::queue(&mut tx, Some(tid), &m, at, at).await.unwrap();
            tx.commit().await.unwrap();
        }
        store.pool().close().await;
    });
    let list = run_json(portico(&dir.0).args(["mail", "outbox", "--tenant", "fabrikam.test"]));
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0]["to"], "second@example.test", "newest first");
    assert_eq!(list[0]["subject"], "Second");
    assert_eq!(list[0]["cc"], "cc@example.test");
    assert_eq!(list[0]["status"], "queued", "no server ran, so nothing delivered it");
    assert_eq!(list[0]["bodyText"], "Open https://portico.test/Second");
    assert_eq!(list[0]["tenantId"], fab["id"]);
    assert_eq!(list[1]["to"], "first@example.test");
    let all = run_json(portico(&dir.0).args(["mail", "outbox", "--limit", "1"]));
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["subject"], "Elsewhere", "every tenant without --tenant");
    let out = portico(&dir.0).args(["mail", "outbox"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("STATUS") && text.contains("SUBJECT"), "{text}");
    let second = text.lines().find(|l| l.contains("second@example.test")).unwrap_or_else(|| panic!("{text}"));
    assert!(second.contains("queued") && second.contains("Second"), "{text}");
    let bad = portico(&dir.0).args(["mail", "outbox", "--limit", "0"]).output().unwrap();
    assert!(!bad.status.success());
    let help = Command::new(BIN).args(["mail", "outbox", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--tenant") && help.contains("--limit") && help.contains("portico mail outbox --tenant"),
        "{help}"
    );
}

#[test]
fn serve_refuses_an_unusable_smtp_url() {
    let dir = TempDir::new();
    let out = portico(&dir.0)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
            "--smtp-url",
            "smtp-ish://mail.example.test",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SMTP URL") && err.contains("smtps://"), "{err}");
}

/// Runs `sql` on the data directory's SQLite store (to stage an interrupted import).
fn sqlite_exec(data: &Path, sql: &'static str) -> u64 {
    let url = format!("sqlite://{}?mode=rw", data.join("portico.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Connection as _;
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query(sql).execute(&mut c).await.unwrap().rows_affected()
    })
}

fn guests(data: &Path) -> i64 {
    let url = format!("sqlite://{}?mode=rw", data.join("portico.db").display());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::Connection as _;
        let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE creation_type = 'Invitation'")
            .fetch_one(&mut c)
            .await
            .unwrap()
    })
}

#[test]
fn invite_import_invites_a_csv_file_and_a_rerun_reports_already_invited() {
    let dir = TempDir::new();
    run_json(portico(&dir.0).args(["tenant", "create", "--name", "Fabrikam", "--domain", "fabrikam.test"]));
    let csv = dir.0.join("partners.csv");
    std::fs::write(
        &csv,
        "version:v1.0\n\
         Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Send invitation message (true or false) [sendEmail]\n\
         ada@partner.test,https://myapps.example.com,false\n\
         bob@partner.test,https://myapps.example.com,true\n\
         nobody,https://myapps.example.com,false\n",
    )
    .unwrap();
    let file = csv.to_str().unwrap();
    let first = run_json(portico(&dir.0).args(["invite", "import", file, "--tenant", "fabrikam.test"]));
    assert_eq!(
        (first["invited"].as_i64(), first["alreadyInvited"].as_i64(), first["failed"].as_i64()),
        (Some(2), Some(0), Some(1)),
        "{first}"
    );
    assert_eq!(first["failedRows"][0]["row"], 3, "{first}");
    assert!(first["failedRows"][0]["error"].as_str().unwrap().contains("not a valid email address"), "{first}");
    assert_eq!(guests(&dir.0), 2);
    // The same file again: a new import (the first one finished) that finds both guests.
    let text = portico(&dir.0).args(["invite", "import", file, "--tenant", "fabrikam.test"]).output().unwrap();
    assert!(text.status.success(), "{}", String::from_utf8_lossy(&text.stderr));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("already invited:  2") && text.contains("invited:          0"), "{text}");
    assert!(text.contains("row 3: nobody:"), "{text}");
    assert_eq!(guests(&dir.0), 2);

    // An import that died after inviting rows 1 and 2 but before recording them: a re-run
    // continues that import (same file digest) and counts the guests as its own, once.
    sqlite_exec(&dir.0, "DELETE FROM invite_batches WHERE id <> (SELECT MIN(id) FROM invite_batches)");
    assert_eq!(sqlite_exec(&dir.0, "UPDATE invite_batches SET status = 'running', finished_at = NULL"), 1);
    assert_eq!(
        sqlite_exec(&dir.0, "UPDATE invite_batch_rows SET status = 'inviting', user_id = NULL WHERE row_no <= 2"),
        2
    );
    let resumed = run_json(portico(&dir.0).args(["invite", "import", file, "--tenant", "fabrikam.test"]));
    assert_eq!(resumed["resumed"], true, "{resumed}");
    assert_eq!(resumed["batchId"], first["batchId"], "{resumed}");
    assert_eq!((resumed["invited"].as_i64(), resumed["failed"].as_i64()), (Some(2), Some(1)), "{resumed}");
    assert_eq!(guests(&dir.0), 2, "no guest twice");

    let help = Command::new(BIN).args(["invite", "import", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("[inviteeEmail]") && help.contains("--tenant") && help.contains("version:v1.0"), "{help}");
}
