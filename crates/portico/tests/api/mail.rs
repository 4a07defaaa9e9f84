//! Mail: the outbox and its job (kept without SMTP, delivered over real SMTP to an aiosmtpd
//! sink), `/beta/portico/mailOutbox`, and the "Block future invitations" page.
//!
//! The SMTP tests need Python with aiosmtpd in `PORTICO_TEST_PYTHON` (scripts/test-all creates
//! `target/test-venv`); without it they print why they skip, and fail when `CI` is set.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portico_core::ids::TenantId;
use portico_http::mail::{self, Message};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Custom, Engine, TestApp, with_app_custom};
use crate::{api_test, api_test_custom};

// ---------------------------------------------------------------------------------------------
// Helpers

/// An aiosmtpd sink on a free loopback port (tests/support/smtp_sink.py), killed on drop.
struct SmtpSink {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl SmtpSink {
    /// Starts the sink, or None (after saying why) when no Python with aiosmtpd is configured.
    fn start() -> Option<SmtpSink> {
        let python = match std::env::var("PORTICO_TEST_PYTHON").ok().filter(|p| !p.is_empty()) {
            Some(p) => p,
            None if std::env::var_os("CI").is_some() => {
                panic!("PORTICO_TEST_PYTHON is not set: CI must run the SMTP tests (scripts/test-all creates it)")
            }
            None => {
                println!(
                    "skipped: PORTICO_TEST_PYTHON is not set (a Python with aiosmtpd==1.4.6; scripts/test-all creates target/test-venv)"
                );
                return None;
            }
        };
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/smtp_sink.py");
        let dir = std::env::temp_dir().join(format!("portico-smtp-{}", uuid::Uuid::new_v4()));
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(&dir)
            .args(["--lifetime", "60"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {python} {}: {e}", script.display()));
        let stdout = child.stdout.take().expect("sink stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut sink = SmtpSink { child, dir, port: 0 };
        let line = rx.recv_timeout(Duration::from_secs(30)).expect("the SMTP sink did not start within 30 s");
        sink.port = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the SMTP sink said {line:?} instead of its port (is aiosmtpd installed?)"));
        Some(sink)
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The summaries (envelope, decoded headers, text and html parts) of the first `n` messages,
    /// waiting up to 20 s for them.
    async fn wait_for(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut emls: Vec<PathBuf> = std::fs::read_dir(&self.dir)
                .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            emls.retain(|p| p.extension().is_some_and(|x| x == "eml"));
            emls.sort();
            if emls.len() >= n {
                return emls
                    .iter()
                    .take(n)
                    .map(|p| {
                        let summary = std::fs::read_to_string(p.with_extension("json")).expect("summary");
                        let mut v: Value = serde_json::from_str(&summary).expect("summary JSON");
                        v["raw"] = json!(std::fs::read_to_string(p).expect("eml"));
                        v
                    })
                    .collect();
            }
            assert!(Instant::now() < deadline, "{} of {n} messages arrived at the sink within 20 s", emls.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Queues `m` for `tenant`, due now, in a committed transaction; returns the outbox id.
async fn queue(app: &TestApp, tenant: TenantId, m: &Message) -> String {
    let now = app.state.now_ms();
    let mut tx = app.state.dir.store.begin().await.expect("begin");
    let id = mail::queue(&mut tx, Some(tenant), m, now, now).await.expect("queue");
    tx.commit().await.expect("commit");
    id.to_string()
}

fn message(to: &str, subject: &str) -> Message {
    Message {
        to: to.into(),
        subject: subject.into(),
        text: format!("Text of {subject}"),
        purpose: "test".into(),
        ..Message::default()
    }
}

/// The outbox entry `id` as the API shows it, once `done` accepts it (waits up to 20 s).
async fn outbox_entry(app: &TestApp, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = app.get("/beta/portico/mailOutbox?$top=999").await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let entry = r.body["value"].as_array().and_then(|v| v.iter().find(|m| m["id"] == json!(id))).cloned();
        match entry {
            Some(e) if done(&e) => return e,
            other => assert!(Instant::now() < deadline, "outbox entry {id} did not get there: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The state of the `mail` job of outbox message `id`.
async fn mail_job(app: &TestApp, id: &str) -> portico_store::jobs::Job {
    use sqlx::Row as _;
    let row = sqlx::query("SELECT id FROM jobs WHERE kind = 'mail' AND payload LIKE $1")
        .bind(format!("%{id}%"))
        .fetch_one(app.state.dir.store.pool())
        .await
        .expect("the mail job");
    let job_id: String = row.get("id");
    let mut conn = app.state.dir.store.pool().acquire().await.expect("conn");
    portico_store::jobs::get(&mut conn, portico_core::ids::ObjectId::parse(&job_id).expect("id"))
        .await
        .expect("get")
        .expect("job")
}

// ---------------------------------------------------------------------------------------------
// Delivery

api_test!(without_smtp_mail_is_kept_in_the_outbox_by_the_worker, |app| {
    let id = queue(
        &app,
        app.tenant,
        &Message { log_link: Some("https://x.test/redeem".into()), ..message("kept@example.test", "Kept") },
    )
    .await;
    let e = outbox_entry(&app, &id, |e| e["status"] == "kept").await;
    assert_eq!(e["to"], "kept@example.test");
    assert_eq!(e["bodyText"], "Text of Kept");
    assert_eq!(e["sentDateTime"], Value::Null);
    assert_eq!(mail_job(&app, &id).await.state, "done");
    // keep() (the sign-in pages' one-time codes) goes the same way.
    let now = app.state.now_ms();
    let mut tx = app.state.dir.store.begin().await.unwrap();
    mail::keep(&mut tx, Some(app.tenant), "otp@example.test", "Your code", "123456", "email_otp", now).await.unwrap();
    tx.commit().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = app.get("/beta/portico/mailOutbox").await;
        if r.body["value"][0]["to"] == "otp@example.test" && r.body["value"][0]["status"] == "kept" {
            assert_eq!(r.body["value"][0]["purpose"], "email_otp");
            break;
        }
        assert!(Instant::now() < deadline, "{}", r.text);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
});

api_test!(mail_due_later_waits_for_its_time, |app| {
    let now = app.state.now_ms();
    let mut tx = app.state.dir.store.begin().await.unwrap();
    let id = mail::queue(&mut tx, Some(app.tenant), &message("later@example.test", "Later"), now + 3_600_000, now)
        .await
        .unwrap()
        .to_string();
    tx.commit().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let e = outbox_entry(&app, &id, |_| true).await;
    assert_eq!(e["status"], "queued", "sent before its time");
    assert_eq!(mail_job(&app, &id).await.state, "queued");
});

async fn smtp_delivery(engine: Engine) {
    if engine == Engine::Postgres && std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()).is_none() {
        println!("skipped: TEST_DATABASE_URL not set");
        return;
    }
    let Some(sink) = SmtpSink::start() else { return };
    let url = sink.url();
    let sink = &sink;
    let custom = Custom::settings(move |s| s.mail.smtp_url = Some(url));
    with_app_custom(engine, custom, |app| async move {
        let html = "<p>Hello <b>guest</b></p>".to_string();
        let m = Message {
            to: "guest@example.test".into(),
            cc: Some("boss@example.test".into()),
            reply_to: Some("inviter@contoso.test".into()),
            sender_name: Some("Contoso".into()),
            subject: "Welcome to Contoso".into(),
            text: "Hello guest\nhttps://portico.test/redeem?t=1".into(),
            html: Some(html.clone()),
            purpose: "invitation".into(),
            log_link: None,
        };
        let id = queue(&app, app.tenant, &m).await;
        let got = sink.wait_for(1).await;
        let msg = &got[0];
        let h = &msg["headers"];
        assert_eq!(h["To"], "guest@example.test", "{msg}");
        assert_eq!(h["Cc"], "boss@example.test", "{msg}");
        assert_eq!(h["Reply-To"], "inviter@contoso.test", "{msg}");
        assert_eq!(h["Subject"], "Welcome to Contoso", "{msg}");
        assert_eq!(h["From"], "Contoso via Portico invitations <invites@portico.localhost>", "{msg}");
        assert_eq!(msg["content_type"], "multipart/alternative", "{msg}");
        assert_eq!(
            msg["text"].as_str().map(str::trim_end),
            Some("Hello guest\nhttps://portico.test/redeem?t=1"),
            "{msg}"
        );
        assert_eq!(msg["html"].as_str().map(str::trim_end), Some(html.as_str()), "{msg}");
        assert_eq!(msg["mail_from"], "invites@portico.localhost");
        let mut rcpts: Vec<&str> = msg["rcpt_tos"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        rcpts.sort();
        assert_eq!(rcpts, ["boss@example.test", "guest@example.test"], "the Cc is an envelope recipient too");
        assert!(!msg["raw"].as_str().unwrap().to_ascii_lowercase().contains("\nbcc:"));

        let e = outbox_entry(&app, &id, |e| e["status"] == "sent").await;
        assert!(e["sentDateTime"].as_str().is_some(), "{e}");
        assert_eq!(e["error"], Value::Null);
        assert_eq!(e["cc"], "boss@example.test");
        assert_eq!(mail_job(&app, &id).await.state, "done");

        // A permanent refusal (550) fails the message at once, with the server's reason.
        let refused = queue(&app, app.tenant, &message("refused@example.test", "Refused")).await;
        let e = outbox_entry(&app, &refused, |e| e["status"] == "failed").await;
        assert!(e["error"].as_str().unwrap().contains("No such user"), "{e}");
        let job = mail_job(&app, &refused).await;
        assert_eq!((job.state.as_str(), job.attempts), ("failed", 1));

        // A temporary one (451) is recorded and retried after a back-off.
        let busy = queue(&app, app.tenant, &message("busy@example.test", "Busy")).await;
        let e = outbox_entry(&app, &busy, |e| e["error"].is_string()).await;
        assert_eq!(e["status"], "queued", "{e}");
        assert!(e["error"].as_str().unwrap().contains("try again later"), "{e}");
        let job = mail_job(&app, &busy).await;
        assert_eq!((job.state.as_str(), job.attempts), ("queued", 1));
        assert!(job.run_at >= app.state.now_ms() + 20_000, "no back-off: due at {}", job.run_at);
        // Only the first message reached the sink.
        assert_eq!(sink.wait_for(1).await.len(), 1);
        assert!(!sink.dir.join("0002.eml").exists());
    })
    .await;
}

mod smtp_delivery_sends_text_and_html_with_cc_and_reply_to {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::smtp_delivery(crate::common::Engine::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::smtp_delivery(crate::common::Engine::Postgres).await;
    }
}

api_test_custom!(
    an_unusable_smtp_url_keeps_mail_queued_with_the_reason,
    Custom::settings(|s| s.mail.smtp_url = Some("ftp://nowhere".into())),
    |app| {
        let id = queue(&app, app.tenant, &message("x@example.test", "Nowhere")).await;
        let e = outbox_entry(&app, &id, |e| e["error"].is_string()).await;
        assert_eq!(e["status"], "queued");
        assert!(e["error"].as_str().unwrap().contains("SMTP URL"), "{e}");
    }
);

// ---------------------------------------------------------------------------------------------
// The outbox API

api_test!(the_outbox_lists_the_tenants_mail_newest_first_to_user_administrators_only, |app| {
    let mut ids = vec![];
    for i in 0..3 {
        ids.push(queue(&app, app.tenant, &message(&format!("m{i}@example.test"), &format!("Message {i}"))).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (other, other_token) =
        app.new_tenant("Fabrikam", Some("fabrikam.test"), &crate::common::all_permissions()).await;
    let foreign = queue(&app, other, &message("f@example.test", "Foreign")).await;

    let r = app.get("/beta/portico/mailOutbox").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["@odata.context"].as_str().unwrap().ends_with("/beta/$metadata#portico/mailOutbox"), "{}", r.text);
    let listed = TestApp::ids(&r);
    assert_eq!(listed, ids.iter().rev().cloned().collect::<Vec<_>>(), "newest first, this tenant only");
    let first = &r.body["value"][0];
    for key in
        ["id", "createdDateTime", "to", "cc", "subject", "status", "sentDateTime", "error", "purpose", "bodyText"]
    {
        assert!(first.get(key).is_some(), "{key} missing: {first}");
    }
    assert_eq!(first["subject"], "Message 2");
    assert_eq!(first["bodyText"], "Text of Message 2");
    assert!(!r.text.contains(&foreign));

    let r = app.get("/beta/portico/mailOutbox?$top=2").await;
    assert_eq!(TestApp::ids(&r), vec![ids[2].clone(), ids[1].clone()]);
    for bad in ["$top=0", "$top=1000", "$filter=status%20eq%20'sent'", "$orderby=subject", "$skiptoken=x"] {
        let r = app.get(&format!("/beta/portico/mailOutbox?{bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }
    assert_eq!(TestApp::ids(&app.get_as(&other_token, "/beta/portico/mailOutbox").await), vec![foreign]);

    // The bodies hold redemption and reset links: reading users is not enough.
    let reader = app.token_with(app.tenant, &["User.Read.All".to_string()]).await;
    let r = app.get_as(&reader, "/beta/portico/mailOutbox").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let writer = app.token_with(app.tenant, &["User.ReadWrite.All".to_string()]).await;
    assert_eq!(app.get_as(&writer, "/beta/portico/mailOutbox").await.status, StatusCode::OK);
    let r = app.raw(app.http.get(format!("{}/beta/portico/mailOutbox", app.base))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
});

// ---------------------------------------------------------------------------------------------
// Block future invitations

/// A form page: its Set-Cookie browser cookie (if any) and hidden fields.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&#x2f;", "/").replace("&amp;", "&").replace("&#x3d;", "=").replace("&#x2b;", "+"))
}

fn browser_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("portico_b="))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
}

async fn unsubscribed(app: &TestApp, address: &str) -> bool {
    let mut conn = app.state.dir.store.pool().acquire().await.unwrap();
    portico_store::b2b::is_unsubscribed(&mut conn, address).await.unwrap()
}

api_test!(block_future_invitations_needs_the_sealed_link_and_records_the_choice_with_an_audit_entry, |app| {
    let address = "Guest.One@Example.test";
    let link = portico_http::web::unsubscribe::unsubscribe_url(&app.state, app.tenant, address);
    assert!(link.starts_with(&format!("{}/invitations/unsubscribe?t=", app.base)), "{link}");
    assert!(!link.to_ascii_lowercase().contains("guest.one"), "the address is sealed, not readable: {link}");

    // GET shows the address and what blocking means; it changes nothing.
    let r = app.http.get(&link).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let cookie = browser_cookie(&r).expect("a browser cookie");
    let page = r.text().await.unwrap();
    assert!(page.contains(address) && page.contains("Block future invitations"), "{page}");
    assert!(page.contains("Contoso"), "{page}");
    let (csrf, token) = (hidden(&page, "csrf").expect("csrf"), hidden(&page, "t").expect("t"));
    assert!(!unsubscribed(&app, address).await);

    let post = |form: Vec<(&'static str, String)>, cookie: Option<String>, origin: Option<String>| {
        let mut rb = app.http.post(format!("{}/invitations/unsubscribe", app.base)).form(&form);
        if let Some(c) = cookie {
            rb = rb.header(reqwest::header::COOKIE, c);
        }
        if let Some(o) = origin {
            rb = rb.header(reqwest::header::ORIGIN, o);
        }
        rb.send()
    };
    // Without the form's CSRF token, or from another site: refused.
    let r = post(vec![("t", token.clone()), ("op", "unsubscribe".into())], Some(cookie.clone()), None).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(
        vec![("csrf", csrf.clone()), ("t", token.clone()), ("op", "unsubscribe".into())],
        Some(cookie.clone()),
        Some("https://evil.example".into()),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(!unsubscribed(&app, address).await);

    // POST records it, with "Email unsubscribed" in the inviting tenant.
    let r = post(
        vec![("csrf", csrf.clone()), ("t", token.clone()), ("op", "unsubscribe".into())],
        Some(cookie.clone()),
        Some(app.base.clone()),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.unwrap();
    assert!(page.contains("Invitations are blocked") && page.contains("Allow invitations again"), "{page}");
    assert!(unsubscribed(&app, address).await);
    assert!(unsubscribed(&app, "guest.one@example.test").await, "the list ignores case");
    assert!(!unsubscribed(&app, "guest.two@example.test").await, "only the sealed address is blocked");
    let audits = app.audits_for("Email unsubscribed", address).await;
    assert_eq!(audits.len(), 1, "{audits:?}");
    assert_eq!(audits[0]["category"], "UserManagement");
    assert_eq!(audits[0]["initiatedBy"]["user"]["userPrincipalName"], address);
    // A second POST changes nothing and writes no second entry.
    let r = post(
        vec![("csrf", csrf.clone()), ("t", token.clone()), ("op", "unsubscribe".into())],
        Some(cookie.clone()),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(app.audits_for("Email unsubscribed", address).await.len(), 1);

    // The GET page now offers to allow invitations again, and that is recorded too.
    let page = app.http.get(&link).header(reqwest::header::COOKIE, &cookie).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Allow invitations again"), "{page}");
    let r = post(
        vec![("csrf", csrf.clone()), ("t", token.clone()), ("op", "subscribe".into())],
        Some(cookie.clone()),
        None,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.unwrap().contains("Invitations are allowed again"));
    assert!(!unsubscribed(&app, address).await);
    assert_eq!(app.audits_for("Email subscribed", address).await.len(), 1);

    // Tokens that were not sealed for this page by this deployment are refused: edited, sealed
    // for another purpose, sealed under another master key, or missing.
    let master = app.state.dir.keys.master();
    let claim = json!({"t": app.tenant.to_string(), "a": "victim@example.test"}).to_string();
    let mut edited = token.clone().into_bytes();
    let i = edited.len() - 5;
    edited[i] = if edited[i] == b'A' { b'B' } else { b'A' };
    let forged = [
        String::from_utf8(edited).unwrap(),
        master.seal(claim.as_bytes(), "kid-1"),
        portico_core::sealed::MasterKey::generate().seal(claim.as_bytes(), "unsubscribe"),
        String::new(),
    ];
    for bad in &forged {
        let q: String = url::form_urlencoded::byte_serialize(bad.as_bytes()).collect();
        let r = app.http.get(format!("{}/invitations/unsubscribe?t={q}", app.base)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "GET with {bad}");
        let r = post(
            vec![("csrf", csrf.clone()), ("t", bad.clone()), ("op", "unsubscribe".into())],
            Some(cookie.clone()),
            None,
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "POST with {bad}");
    }
    assert!(!unsubscribed(&app, "victim@example.test").await);
    // A German browser gets the page in German.
    let page = app
        .http
        .get(&link)
        .header(reqwest::header::ACCEPT_LANGUAGE, "de-DE")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Künftige Einladungen blockieren"), "{page}");
});

// ---------------------------------------------------------------------------------------------
// The invitation mail over SMTP

/// An attribute or text node of the HTML part as a mail client shows it (entities decoded).
fn html_text(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&#x3d;", "=")
        .replace("&#x2b;", "+")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

async fn invitation_over_smtp(engine: Engine) {
    if engine == Engine::Postgres && std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()).is_none() {
        println!("skipped: TEST_DATABASE_URL not set");
        return;
    }
    let Some(sink) = SmtpSink::start() else { return };
    let url = sink.url();
    let sink = &sink;
    let custom = Custom::settings(move |s| s.mail.smtp_url = Some(url));
    with_app_custom(engine, custom, |app| async move {
        // Branding: the background colour is the mail's brand colour; the privacy statement is
        // linked in the footer.
        let r = app
            .patch(&format!("/v1.0/organization/{}/branding", app.tenant), json!({"backgroundColor": "#123456"}))
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
        let r = app
            .patch(
                &format!("/v1.0/organization/{}", app.tenant),
                json!({"privacyProfile": {"statementUrl": "https://contoso.test/privacy-statement"}}),
            )
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

        // German, by messageLanguage (no customized body), with one cc.
        let r = app
            .post(
                "/v1.0/invitations",
                json!({
                    "invitedUserEmailAddress": "gast@nowhere.test",
                    "inviteRedirectUrl": "https://apps.contoso.test/willkommen",
                    "sendInvitationMessage": true,
                    "invitedUserMessageInfo": {
                        "messageLanguage": "de-DE",
                        "ccRecipients": [{"emailAddress": {"address": "chefin@nowhere.test", "name": "Chefin"}}]
                    }
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let redeem_url = r.body["inviteRedeemUrl"].as_str().expect("inviteRedeemUrl").to_string();
        assert!(redeem_url.starts_with(&format!("{}/{}/redeem?ticket=", app.base, app.tenant)), "{redeem_url}");

        let got = sink.wait_for(1).await;
        let msg = &got[0];
        let h = &msg["headers"];
        assert_eq!(h["To"], "gast@nowhere.test", "{msg}");
        assert_eq!(h["Cc"], "chefin@nowhere.test", "{msg}");
        let subject = h["Subject"].as_str().expect("Subject");
        assert!(subject.contains("hat Sie eingeladen"), "German subject: {subject}");
        assert_eq!(msg["content_type"], "multipart/alternative", "{msg}");
        let mut rcpts: Vec<&str> = msg["rcpt_tos"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        rcpts.sort();
        assert_eq!(rcpts, ["chefin@nowhere.test", "gast@nowhere.test"]);
        let text = msg["text"].as_str().expect("text part");
        let html = msg["html"].as_str().expect("html part");
        assert!(html.contains("#123456"), "the brand colour: {html}");
        assert!(!html.contains(portico_http::mail::invitation::DEFAULT_BRAND_COLOR), "{html}");
        assert!(html.contains("<html lang=\"de\">"), "{html}");
        let shown = html_text(html);
        assert!(shown.contains("Einladung annehmen") && shown.contains("Künftige Einladungen blockieren"), "{shown}");
        assert!(!shown.contains("Accept invitation"), "{shown}");
        assert!(shown.contains("https://contoso.test/privacy-statement"), "the privacy statement: {shown}");
        assert!(text.contains(&redeem_url), "the text part holds the redeem link: {text}");
        assert!(shown.contains(&format!("href=\"{redeem_url}\"")), "the button links the redeem URL: {html}");

        // The link in the mail works: the redemption start page names the inviting tenant.
        let link = text
            .split_whitespace()
            .find(|w| w.contains("/redeem?ticket="))
            .expect("a redeem link in the text part")
            .to_string();
        assert_eq!(link, redeem_url);
        let page = app.http.get(&link).send().await.expect("GET the redeem link");
        assert_eq!(page.status(), StatusCode::OK);
        let page = page.text().await.unwrap();
        assert!(page.contains("Contoso"), "{page}");
        assert!(page.contains("id=\"continue\""), "{page}");

        // A customized message: messageLanguage is ignored (English), and the text the inviter
        // typed is escaped in the HTML part.
        let body = "Hallo <b>Gast</b> & \"willkommen\" <script>alert(1)</script>";
        let r = app
            .post(
                "/v1.0/invitations",
                json!({
                    "invitedUserEmailAddress": "custom@nowhere.test",
                    "inviteRedirectUrl": "https://apps.contoso.test/welcome",
                    "sendInvitationMessage": true,
                    "invitedUserMessageInfo": {"messageLanguage": "de-DE", "customizedMessageBody": body}
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let redeem_url = r.body["inviteRedeemUrl"].as_str().unwrap().to_string();
        let got = sink.wait_for(2).await;
        let msg = &got[1];
        let h = &msg["headers"];
        assert_eq!(h["To"], "custom@nowhere.test", "{msg}");
        assert!(h.get("Cc").is_none(), "no cc: {msg}");
        let subject = h["Subject"].as_str().unwrap();
        assert!(subject.contains("invited you"), "English subject: {subject}");
        let (text, html) = (msg["text"].as_str().unwrap(), msg["html"].as_str().unwrap());
        assert!(html.contains("<html lang=\"en\">"), "{html}");
        assert!(html_text(html).contains("Accept invitation"), "{html}");
        assert!(!html.contains("<b>Gast</b>") && !html.contains("<script>"), "not markup: {html}");
        assert!(html.contains("&lt;b&gt;Gast&lt;&#x2f;b&gt; &amp; &quot;willkommen&quot;"), "escaped: {html}");
        assert!(html_text(html).contains(body), "{html}");
        assert!(text.contains(body), "verbatim in the text part: {text}");
        assert!(text.contains(&redeem_url), "{text}");
        assert!(html.contains("#123456"), "{html}");
    })
    .await;
}

mod invitation_mail_over_smtp_in_the_guests_language_with_branding_and_a_working_link {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::invitation_over_smtp(crate::common::Engine::Sqlite).await;
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::invitation_over_smtp(crate::common::Engine::Postgres).await;
    }
}
