//! The storage contract of the durable job queue (`portico_store::jobs`) and the mail outbox
//! rows it delivers, on both engines: leases, exclusive claims, lapsed leases, back-off, final
//! failure, completion and purging.

use std::collections::BTreeSet;

use portico_core::ids::ObjectId;
use portico_store::Store;
use portico_store::jobs::{self, Job, state};
use portico_store::outbox::{self, OutboxMail};
use serde_json::json;

use crate::common::*;

const LEASE: i64 = 60_000;

async fn enqueue(store: &Store, kind: &str, run_at: i64) -> Job {
    let j = Job::new(None, kind, json!({"n": run_at}), run_at, NOW);
    jobs::enqueue(&mut *conn(store).await, &j).await.expect("enqueue");
    j
}

async fn get(store: &Store, id: ObjectId) -> Job {
    jobs::get(&mut *conn(store).await, id).await.expect("get").expect("the job exists")
}

pub async fn claimed_jobs_are_leased_and_a_second_claim_does_not_get_them(store: Store) {
    let a = enqueue(&store, "mail", NOW).await;
    let b = enqueue(&store, "mail", NOW - 1).await;
    let later = enqueue(&store, "invite_batch", NOW + 10_000).await;

    let first = jobs::claim(&store, "w1", NOW, LEASE, 10).await.unwrap();
    assert_eq!(first.iter().map(|j| j.id).collect::<Vec<_>>(), vec![b.id, a.id], "due jobs, oldest first");
    for j in &first {
        assert_eq!(j.state, state::RUNNING);
        assert_eq!(j.locked_by.as_deref(), Some("w1"));
        assert_eq!(j.locked_until, Some(NOW + LEASE));
        assert_eq!(j.attempts, 1);
        assert_eq!(get(&store, j.id).await, *j, "the claim is stored as returned");
    }
    assert!(
        jobs::claim(&store, "w2", NOW + 1, LEASE, 10).await.unwrap().is_empty(),
        "leased jobs are not claimed twice"
    );
    assert!(jobs::claim(&store, "w2", NOW + 9_999, LEASE, 10).await.unwrap().is_empty(), "not due yet");
    let due = jobs::claim(&store, "w2", NOW + 10_000, LEASE, 10).await.unwrap();
    assert_eq!(due.iter().map(|j| j.id).collect::<Vec<_>>(), vec![later.id]);
    assert_eq!(due[0].kind, "invite_batch");
    assert_eq!(due[0].payload, json!({"n": NOW + 10_000}));

    // `limit` bounds a claim.
    for i in 0..5 {
        enqueue(&store, "mail", NOW + 20_000 + i).await;
    }
    assert_eq!(jobs::claim(&store, "w3", NOW + 30_000, LEASE, 2).await.unwrap().len(), 2);
    assert_eq!(jobs::claim(&store, "w3", NOW + 30_000, LEASE, 10).await.unwrap().len(), 3);
}

pub async fn concurrent_claims_share_the_jobs_without_overlap(store: Store) {
    let mut all = BTreeSet::new();
    for i in 0..40 {
        all.insert(enqueue(&store, "mail", NOW - i).await.id);
    }
    let mut tasks = vec![];
    for w in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut mine = vec![];
            loop {
                let got = jobs::claim(&store, &format!("w{w}"), NOW, LEASE, 3).await.expect("claim");
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|j| j.id));
            }
        }));
    }
    let mut seen = vec![];
    for t in tasks {
        seen.extend(t.await.unwrap());
    }
    let unique: BTreeSet<_> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "a job was claimed by two workers");
    assert_eq!(unique, all, "every job was claimed");
}

pub async fn a_job_whose_lease_lapsed_is_claimed_again_and_the_old_holder_cannot_finish_it(store: Store) {
    let j = enqueue(&store, "mail", NOW).await;
    let first = jobs::claim(&store, "w1", NOW, LEASE, 1).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(jobs::claim(&store, "w2", NOW + LEASE - 1, LEASE, 1).await.unwrap().is_empty());
    let again = jobs::claim(&store, "w2", NOW + LEASE, LEASE, 1).await.unwrap();
    assert_eq!(again.len(), 1, "a lapsed lease is claimed again");
    assert_eq!((again[0].id, again[0].attempts, again[0].locked_by.as_deref()), (j.id, 2, Some("w2")));

    let mut c = conn(&store).await;
    assert!(!jobs::complete(&mut c, j.id, "w1", NOW + LEASE + 1).await.unwrap(), "w1 lost the job");
    assert_eq!(jobs::fail(&mut c, &first[0], "w1", "late", NOW + LEASE + 1).await.unwrap(), None);
    assert!(!jobs::extend_lease(&mut c, j.id, "w1", NOW + 10 * LEASE).await.unwrap());
    assert!(jobs::extend_lease(&mut c, j.id, "w2", NOW + 10 * LEASE).await.unwrap());
    drop(c);
    assert!(jobs::claim(&store, "w3", NOW + 2 * LEASE, LEASE, 1).await.unwrap().is_empty(), "the lease was extended");
    let mut c = conn(&store).await;
    assert!(jobs::complete(&mut c, j.id, "w2", NOW + 3 * LEASE).await.unwrap());
    drop(c);
    let done = get(&store, j.id).await;
    assert_eq!(done.state, state::DONE);
    assert_eq!(done.finished_at, Some(NOW + 3 * LEASE));
    assert_eq!((done.locked_by, done.locked_until), (None, None));
    assert!(jobs::claim(&store, "w3", NOW + 100 * LEASE, LEASE, 1).await.unwrap().is_empty(), "done jobs stay done");
}

pub async fn failed_attempts_back_off_then_the_job_fails_for_good(store: Store) {
    let mut j = Job::new(None, "mail", json!({}), NOW, NOW);
    j.max_attempts = 3;
    jobs::enqueue(&mut *conn(&store).await, &j).await.unwrap();

    let mut now = NOW;
    let mut expected_waits = vec![30_000, 60_000].into_iter();
    for attempt in 1..=3 {
        let got = jobs::claim(&store, "w", now, LEASE, 1).await.unwrap();
        assert_eq!(got.len(), 1, "attempt {attempt} was not claimed");
        assert_eq!(got[0].attempts, attempt);
        let new_state =
            jobs::fail(&mut *conn(&store).await, &got[0], "w", &format!("boom {attempt}"), now).await.unwrap();
        let stored = get(&store, j.id).await;
        assert_eq!(stored.last_error.as_deref(), Some(format!("boom {attempt}").as_str()));
        assert_eq!((stored.locked_by, stored.locked_until), (None, None));
        if attempt < 3 {
            let wait = expected_waits.next().unwrap();
            assert_eq!(new_state, Some(state::QUEUED));
            assert_eq!(stored.state, state::QUEUED);
            assert_eq!(stored.run_at, now + wait, "attempt {attempt} backs off {wait} ms");
            assert!(
                jobs::claim(&store, "w", now + wait - 1, LEASE, 1).await.unwrap().is_empty(),
                "claimed before its back-off"
            );
            now += wait;
        } else {
            assert_eq!(new_state, Some(state::FAILED));
            assert_eq!(stored.state, state::FAILED);
            assert_eq!(stored.finished_at, Some(now));
        }
    }
    assert!(
        jobs::claim(&store, "w", now + 10 * 3_600_000, LEASE, 1).await.unwrap().is_empty(),
        "failed jobs stay failed"
    );

    // Giving up ends a job at its first attempt.
    let k = enqueue(&store, "mail", NOW).await;
    let got = jobs::claim(&store, "w", NOW, LEASE, 1).await.unwrap();
    assert_eq!(got[0].id, k.id);
    assert_eq!(
        jobs::give_up(&mut *conn(&store).await, &got[0], "w", "550 no such user", NOW).await.unwrap(),
        Some(state::FAILED)
    );
    assert_eq!(get(&store, k.id).await.state, state::FAILED);
}

pub async fn a_job_whose_last_attempt_lapsed_fails_instead_of_running_again(store: Store) {
    let mut j = Job::new(None, "invite_batch", json!({}), NOW, NOW);
    j.max_attempts = 2;
    jobs::enqueue(&mut *conn(&store).await, &j).await.unwrap();
    assert_eq!(jobs::claim(&store, "w1", NOW, LEASE, 1).await.unwrap()[0].attempts, 1);
    // The worker died twice: the second lapse ends the job.
    assert_eq!(jobs::claim(&store, "w2", NOW + LEASE, LEASE, 1).await.unwrap()[0].attempts, 2);
    assert!(jobs::claim(&store, "w3", NOW + 2 * LEASE, LEASE, 1).await.unwrap().is_empty());
    let stored = get(&store, j.id).await;
    assert_eq!(stored.state, state::FAILED);
    assert_eq!(stored.finished_at, Some(NOW + 2 * LEASE));
    assert!(stored.last_error.unwrap().contains("lease"));
}

pub async fn finished_jobs_are_counted_and_purged_after_their_time(store: Store) {
    let done = enqueue(&store, "mail", NOW).await;
    let failed = enqueue(&store, "mail", NOW + 1).await;
    let queued = enqueue(&store, "invite_batch", NOW + 1_000_000).await;
    let claimed = jobs::claim(&store, "w", NOW + 1, LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let mut c = conn(&store).await;
    assert!(jobs::complete(&mut c, done.id, "w", NOW + 10).await.unwrap());
    let f = claimed.iter().find(|j| j.id == failed.id).unwrap();
    jobs::give_up(&mut c, f, "w", "x", NOW + 20).await.unwrap();
    let counts = jobs::counts(&mut c).await.unwrap();
    assert_eq!(
        counts,
        vec![
            ("invite_batch".to_string(), "queued".to_string(), 1),
            ("mail".to_string(), "done".to_string(), 1),
            ("mail".to_string(), "failed".to_string(), 1),
        ]
    );
    assert_eq!(jobs::purge_finished(&mut c, NOW + 15).await.unwrap(), 1, "only jobs finished before the cutoff");
    assert!(jobs::get(&mut c, done.id).await.unwrap().is_none());
    assert_eq!(jobs::purge_finished(&mut c, NOW + 1_000_000_000).await.unwrap(), 1, "queued jobs are never purged");
    assert!(jobs::get(&mut c, queued.id).await.unwrap().is_some());
}

pub async fn outbox_messages_round_trip_and_record_their_delivery(store: Store) {
    let t = add_tenant(&store, "contoso").await;
    let other = add_tenant(&store, "fabrikam").await;
    let m = OutboxMail {
        id: ObjectId::new(),
        tenant_id: Some(t),
        created_at: NOW,
        recipient: "guest@example.test".into(),
        cc: Some("cc@example.test".into()),
        reply_to: Some("inviter@contoso.test".into()),
        sender_name: Some("Contoso".into()),
        subject: "Hello".into(),
        body_text: "text".into(),
        body_html: Some("<p>html</p>".into()),
        purpose: "invitation".into(),
        status: outbox::status::QUEUED.into(),
        sent_at: None,
        error: None,
    };
    let mut c = conn(&store).await;
    outbox::insert(&mut c, &m).await.unwrap();
    let newer = OutboxMail { id: ObjectId::new(), created_at: NOW + 1, cc: None, body_html: None, ..m.clone() };
    outbox::insert(&mut c, &newer).await.unwrap();
    outbox::insert(&mut c, &OutboxMail { id: ObjectId::new(), tenant_id: Some(other), ..m.clone() }).await.unwrap();
    assert_eq!(outbox::get(&mut c, m.id).await.unwrap(), Some(m.clone()));
    assert_eq!(
        outbox::list(&mut c, Some(t), 10).await.unwrap(),
        vec![newer.clone(), m.clone()],
        "newest first, one tenant"
    );
    assert_eq!(outbox::list(&mut c, Some(t), 1).await.unwrap(), vec![newer.clone()]);
    assert_eq!(outbox::list(&mut c, None, 10).await.unwrap().len(), 3);

    assert!(outbox::set_status(&mut c, m.id, outbox::status::QUEUED, None, Some("421 try later")).await.unwrap());
    assert_eq!(outbox::get(&mut c, m.id).await.unwrap().unwrap().error.as_deref(), Some("421 try later"));
    assert!(outbox::set_status(&mut c, m.id, outbox::status::SENT, Some(NOW + 5), None).await.unwrap());
    let sent = outbox::get(&mut c, m.id).await.unwrap().unwrap();
    assert_eq!((sent.status.as_str(), sent.sent_at, sent.error), ("sent", Some(NOW + 5), None));
    assert!(!outbox::set_status(&mut c, ObjectId::new(), "sent", None, None).await.unwrap());
    // Rows written before delivery existed read as kept (the migration's default).
    let legacy = ObjectId::new();
    sqlx::query(
        "INSERT INTO mail_outbox (id, tenant_id, created_at, recipient, subject, body_text, purpose) \
         VALUES ($1, $2, $3, 'a@b.test', 's', 't', 'email_otp')",
    )
    .bind(legacy.to_string())
    .bind(t.to_string())
    .bind(NOW)
    .execute(&mut *c)
    .await
    .unwrap();
    assert_eq!(outbox::get(&mut c, legacy).await.unwrap().unwrap().status, "kept");
}
