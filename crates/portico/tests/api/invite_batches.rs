//! `/portico/inviteBatches`: bulk invitations from Entra's bulk-invite CSV, run by the job worker;
//! per-row results, re-uploads, resuming after a crash, tenant isolation.

use portico_http::b2b::batch;
use portico_http::b2b::invite::{Inviting, invite};
use portico_store::batches;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::common::{Resp, TestApp};

const HEADINGS: &str = "version:v1.0\nEmail address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,\
Send invitation message (true or false) [sendEmail],Customized invitation message [customizedMessageBody],\
Display name [invitedUserDisplayName],Notes\n";

/// Two good rows, a duplicate of the first, a bad address, a bad URL, a missing address.
fn mixed_file() -> String {
    format!(
        "{HEADINGS}ada@partner.test,https://myapps.example.com,false,Welcome,Ada Lovelace,x\n\
         bob@partner.test,https://myapps.example.com,true,,,\n\
         ADA@partner.test,https://myapps.example.com,false,,,\n\
         not-an-address,https://myapps.example.com,false,,,\n\
         cy@partner.test,ftp://files.example.com,false,,,\n\
         ,https://myapps.example.com,false,,,\n"
    )
}

async fn upload(app: &TestApp, token: &str, csv: &str) -> Resp {
    app.raw(
        app.http
            .post(format!("{}/beta/portico/inviteBatches", app.base))
            .bearer_auth(token)
            .header("Content-Type", "text/csv")
            .body(csv.to_string()),
    )
    .await
}

/// Runs the due jobs until none is due or running. The server's own worker polls too and may have
/// claimed a job first: then this waits for that worker to finish it (bounded).
async fn run_jobs(app: &TestApp) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let ran = portico_http::jobs::run_due(&app.state, "test-worker", 10).await.expect("run jobs");
        let running = {
            let mut conn = app.state.dir.store.pool().acquire().await.expect("connection");
            portico_store::jobs::counts(&mut conn).await.expect("job counts")
        }
        .iter()
        .filter(|(_, state, _)| state == "running")
        .map(|(_, _, n)| n)
        .sum::<i64>();
        if ran == 0 && running == 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "jobs still running after 60 s");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn rows(app: &TestApp, id: &str) -> Vec<Value> {
    let r = app.get(&format!("/beta/portico/inviteBatches/{id}/rows?$top=999")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["value"].as_array().cloned().unwrap_or_default()
}

fn statuses(rows: &[Value]) -> Vec<&str> {
    rows.iter().map(|r| r["status"].as_str().unwrap_or_default()).collect()
}

async fn users(app: &TestApp) -> i64 {
    app.state.dir.store.count_users(app.tenant).await.expect("count users")
}

api_test!(a_csv_upload_invites_each_row_and_reports_per_row_results, |app| {
    let before = users(&app).await;
    let r = upload(&app, &app.token, &mixed_file()).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.body["status"], "queued");
    assert_eq!(r.body["total"], 6);
    assert!(r.body["createdDateTime"].is_string());
    let id = r.body["id"].as_str().expect("id").to_string();
    let location = r.headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(location.ends_with(&format!("/portico/inviteBatches/{id}")), "{location}");

    run_jobs(&app).await;
    let b = app.get(&format!("/beta/portico/inviteBatches/{id}")).await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.text);
    assert_eq!(b.body["status"], "completedWithErrors");
    assert_eq!(b.body["counts"], json!({"invited": 2, "alreadyInvited": 1, "failed": 3, "pending": 0}));
    let list = rows(&app, &id).await;
    assert_eq!(statuses(&list), ["invited", "invited", "alreadyInvited", "failed", "failed", "failed"]);
    assert_eq!(list[0]["userId"], list[2]["userId"], "a duplicate address reaches the same guest");
    assert!(list[3]["error"].as_str().unwrap().contains("invitedUserEmailAddress"), "{}", list[3]);
    assert!(list[4]["error"].as_str().unwrap().contains("inviteRedirectUrl"), "{}", list[4]);
    assert!(list[5]["error"].as_str().unwrap().contains("inviteeEmail"), "{}", list[5]);
    assert_eq!(users(&app).await, before + 2);
    let ada = app.get(&format!("/v1.0/users/{}", list[0]["userId"].as_str().unwrap())).await;
    assert_eq!(ada.body["displayName"], "Ada Lovelace");
    assert_eq!(ada.body["mail"], "ada@partner.test");
    let failed = app.get(&format!("/beta/portico/inviteBatches/{id}/rows?$filter=status eq 'failed'")).await;
    assert_eq!(failed.body["value"].as_array().map(Vec::len), Some(3), "{}", failed.text);
    assert_eq!(app.audits_for("Batch invites uploaded", &id).await.len(), 1);
    let processed = app.audits_for("Batch invites processed", &id).await;
    assert_eq!(processed.len(), 1);
    let details = processed[0]["additionalDetails"].to_string();
    assert!(details.contains("\"Succeeded\"") && details.contains("\"3\""), "{details}");

    // The same file again: nobody new, every good row already invited.
    let again = upload(&app, &app.token, &mixed_file()).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.text);
    let id2 = again.body["id"].as_str().unwrap().to_string();
    assert_ne!(id, id2);
    run_jobs(&app).await;
    let b2 = app.get(&format!("/beta/portico/inviteBatches/{id2}")).await;
    assert_eq!(b2.body["counts"], json!({"invited": 0, "alreadyInvited": 3, "failed": 3, "pending": 0}));
    let list2 = rows(&app, &id2).await;
    assert_eq!(list2[0]["userId"], list[0]["userId"]);
    assert_eq!(list2[1]["userId"], list[1]["userId"]);
    assert_eq!(users(&app).await, before + 2);
});

api_test!(rows_page_with_skiptoken, |app| {
    let mut csv = "Email address to invite [inviteeEmail],Redirection url [inviteRedirectURL]\n".to_string();
    for i in 0..5 {
        csv.push_str(&format!("p{i}@partner.test,https://myapps.example.com\n"));
    }
    let r = upload(&app, &app.token, &csv).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    // The server's worker may start on the batch at any moment: page over the finished rows.
    run_jobs(&app).await;
    let mut path = format!("/v1.0/portico/inviteBatches/{id}/rows?$top=2");
    let mut seen = vec![];
    loop {
        let page = app.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for v in page.body["value"].as_array().unwrap() {
            assert_eq!(v["status"], "invited", "{v}");
            seen.push(v["row"].as_i64().unwrap());
        }
        match page.body["@odata.nextLink"].as_str() {
            Some(next) => path = crate::common::path_of(&app, next),
            None => break,
        }
    }
    assert_eq!(seen, [1, 2, 3, 4, 5]);
});

api_test!(bad_files_and_callers_are_refused, |app| {
    let no_url = "Email address to invite [inviteeEmail] Required\nada@partner.test\n";
    let r = upload(&app, &app.token, no_url).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.body["error"]["message"].as_str().unwrap().contains("inviteRedirectURL"), "{}", r.text);
    let r = upload(&app, &app.token, "").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let headings_only = "Email address to invite [inviteeEmail],Redirection url [inviteRedirectURL]\n";
    assert_eq!(upload(&app, &app.token, headings_only).await.status, StatusCode::BAD_REQUEST);
    let json = app.post("/v1.0/portico/inviteBatches", json!({"rows": []})).await;
    assert_eq!(json.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", json.text);
    let (_, reader) = app.new_tenant("Reader", None, &["User.Read.All".to_string()]).await;
    let r = upload(&app, &reader, &mixed_file()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // Invitations switched off: refused at upload, not row by row.
    let off = app.patch("/v1.0/policies/authorizationPolicy", json!({"allowInvitesFrom": "none"})).await;
    assert!(off.status.is_success(), "{}", off.text);
    let r = upload(&app, &app.token, &mixed_file()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
});

api_test!(another_tenants_batch_is_not_found, |app| {
    let r = upload(&app, &app.token, &mixed_file()).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let (_, other) = app.new_tenant("Fabrikam", None, &crate::common::all_permissions()).await;
    let g = app.get_as(&other, &format!("/v1.0/portico/inviteBatches/{id}")).await;
    assert_eq!(g.status, StatusCode::NOT_FOUND, "{}", g.text);
    assert_eq!(g.code(), "Request_ResourceNotFound");
    let rows = app.get_as(&other, &format!("/v1.0/portico/inviteBatches/{id}/rows")).await;
    assert_eq!(rows.status, StatusCode::NOT_FOUND, "{}", rows.text);
    let own = app.get(&format!("/v1.0/portico/inviteBatches/{id}")).await;
    assert_eq!(own.status, StatusCode::OK);
});

api_test!(an_interrupted_batch_resumes_without_duplicates, |app| {
    let before = users(&app).await;
    let csv = format!(
        "{HEADINGS}a@partner.test,https://myapps.example.com,false,,,\n\
         b@partner.test,https://myapps.example.com,false,,,\n\
         c@partner.test,https://myapps.example.com,false,,,\n\
         c@partner.test,https://myapps.example.com,false,,,\n\
         d@partner.test,https://myapps.example.com,false,,,\n"
    );
    let parsed = batch::parse_csv(csv.as_bytes(), app.state.now_ms()).expect("parse");
    let who = Inviting::command_line();
    let b = batch::create(&app.state, app.tenant, &parsed.rows, "test", &who, false).await.expect("create");
    // First run: two rows, then it stops.
    assert_eq!(batch::process_chunk(&app.state, &b, &who, 2).await.expect("chunk"), 2);
    // A crash in the next chunk: rows 3 and 4 were marked, row 3's invitation committed, and the
    // process died before any outcome was recorded.
    {
        let mut conn = app.state.dir.store.pool().acquire().await.unwrap();
        batches::mark_inviting(&mut conn, b.id, &[3, 4]).await.unwrap();
    }
    let row3: batch::RowInput = serde_json::from_str(&parsed.rows[2].input).unwrap();
    let c = invite(&app.state, app.tenant, &row3.to_invite(), &who).await.expect("invite c");
    assert!(c.created);
    let mid = app.get(&format!("/v1.0/portico/inviteBatches/{}", b.id)).await;
    assert_eq!(mid.body["counts"]["pending"], 3, "{}", mid.text);

    // Resume.
    let counts = batch::run_to_end(&app.state, &b, &who, |_| async { Ok(()) }).await.expect("resume");
    assert_eq!((counts.invited, counts.already_invited, counts.failed, counts.pending), (4, 1, 0, 0));
    let list = rows(&app, &b.id.to_string()).await;
    assert_eq!(statuses(&list), ["invited", "invited", "invited", "alreadyInvited", "invited"]);
    assert_eq!(list[2]["userId"], json!(c.user.id.to_string()));
    assert_eq!(list[3]["userId"], json!(c.user.id.to_string()));
    assert_eq!(users(&app).await, before + 4, "one guest per address");
    // Row 3 was not invited a second time on resume.
    let mut conn = app.state.dir.store.pool().acquire().await.unwrap();
    let invitations: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM invitations WHERE tenant_id = $1 AND email_ci = $2")
            .bind(app.tenant.to_string())
            .bind("c@partner.test")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(invitations, 1, "the crashed run's invitation, and no second one on resume");
    // Running a finished batch again changes nothing.
    let again = batch::run_to_end(&app.state, &b, &who, |_| async { Ok(()) }).await.expect("again");
    assert_eq!(again, counts);
    assert_eq!(users(&app).await, before + 4);
});
