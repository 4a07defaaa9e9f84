//! The job worker: claims due jobs of the durable queue (`portico_store::jobs`), runs them and
//! records the outcome. `mail` jobs are delivered here ([`crate::mail::deliver`]); every other
//! kind goes to [`crate::b2b::run_job`]. Every server runs one worker; the queue's leases keep
//! them from running a job twice at the same time, and a job whose worker died is claimed again
//! when its lease runs out. Jobs must therefore be idempotent.

use std::time::Duration;

use portico_store::StoreError;
use portico_store::jobs::{self, Job};

use crate::app::AppState;
use crate::mail::{self, Delivery, Mailer};

/// How long a claimed job is leased to its worker (longer jobs extend their lease).
pub const LEASE_MS: i64 = 5 * 60 * 1000;

/// How many jobs a worker claims at once.
pub const BATCH: i64 = 20;

/// Claims up to `limit` due jobs for `worker` and runs them concurrently, each to its outcome
/// (done, retried later, or failed). Returns how many were claimed.
pub async fn run_due(state: &AppState, worker: &str, limit: i64) -> Result<usize, StoreError> {
    let mailer = Mailer::from_settings(&state.dir.settings.mail);
    run_due_with(state, &mailer, worker, limit).await
}

/// [`run_due`] with a mailer built once (its SMTP connections are pooled).
pub async fn run_due_with(state: &AppState, mailer: &Mailer, worker: &str, limit: i64) -> Result<usize, StoreError> {
    let claimed = jobs::claim(&state.dir.store, worker, state.now_ms(), LEASE_MS, limit).await?;
    let n = claimed.len();
    let mut running = tokio::task::JoinSet::new();
    for job in claimed {
        let (state, mailer, worker) = (state.clone(), mailer.clone(), worker.to_string());
        running.spawn(async move {
            let id = job.id;
            if let Err(e) = run_one(&state, &mailer, &job, &worker).await {
                // The lease runs out and the job is claimed again.
                tracing::warn!(job.id = %id, job.kind = %job.kind, error = %e, "job {id} ({}) could not record its outcome: {e}", job.kind);
            }
        });
    }
    while let Some(joined) = running.join_next().await {
        if let Err(e) = joined {
            // A job that panicked keeps its lease until it runs out; then it is retried, and
            // failed once its attempts are spent.
            tracing::error!(error = %e, "a job panicked: {e}");
        }
    }
    Ok(n)
}

async fn run_one(state: &AppState, mailer: &Mailer, job: &Job, worker: &str) -> Result<(), StoreError> {
    if job.kind == mail::JOB_KIND {
        let outcome = mail::deliver(state, mailer, job, worker).await?;
        metrics::counter!("portico_mail_sent_total", "result" => outcome.label()).increment(1);
        if outcome == Delivery::Lost {
            tracing::warn!(job.id = %job.id, "mail job {} lost its lease before it finished", job.id);
        }
        return Ok(());
    }
    let result = crate::b2b::run_job(state, job).await;
    let now = state.now_ms();
    let mut conn = state.dir.store.pool().acquire().await?;
    match result {
        Ok(()) => {
            if !jobs::complete(&mut conn, job.id, worker, now).await? {
                tracing::warn!(job.id = %job.id, job.kind = %job.kind, "job {} ({}) finished after losing its lease", job.id, job.kind);
            }
            metrics::counter!("portico_jobs_total", "kind" => job.kind.clone(), "result" => "done").increment(1);
        }
        Err(e) => {
            let state_now = jobs::fail(&mut conn, job, worker, &e, now).await?;
            let label = match state_now {
                Some(jobs::state::FAILED) => {
                    tracing::error!(job.id = %job.id, job.kind = %job.kind, attempts = job.attempts, error = %e, "job {} ({}) failed for good: {e}", job.id, job.kind);
                    "failed"
                }
                Some(_) => {
                    tracing::warn!(job.id = %job.id, job.kind = %job.kind, attempts = job.attempts, error = %e, "job {} ({}) failed, will retry: {e}", job.id, job.kind);
                    "retry"
                }
                None => "lost",
            };
            metrics::counter!("portico_jobs_total", "kind" => job.kind.clone(), "result" => label).increment(1);
        }
    }
    Ok(())
}

/// Starts this server's worker: it runs due jobs every `worker_poll_ms`, and at once again after
/// a full batch. Errors (a database that is away, say) are logged and the loop goes on; it ends
/// only when the store's pool is closed.
pub fn spawn_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let worker = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        let mailer = Mailer::from_settings(&state.dir.settings.mail);
        if let Mailer::Misconfigured(why) = &mailer {
            tracing::error!("mail cannot be delivered: {why}");
        }
        let poll = Duration::from_millis(state.dir.settings.mail.worker_poll_ms.max(10));
        tracing::debug!(worker = %worker, "job worker {worker} started ({mailer:?})");
        // The loop ends only when the store's pool was closed (the server is shutting down).
        while !state.dir.store.pool().is_closed() {
            // Each round runs in a task of its own, so even a panic does not end the worker.
            let round = tokio::spawn({
                let (state, mailer, worker) = (state.clone(), mailer.clone(), worker.clone());
                async move { run_due_with(&state, &mailer, &worker, BATCH).await }
            });
            match round.await {
                Ok(Ok(n)) if n as i64 >= BATCH => continue,
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "the job worker could not claim jobs: {e}"),
                Err(e) => tracing::error!(error = %e, "the job worker's round panicked: {e}"),
            }
            tokio::time::sleep(poll).await;
        }
        tracing::debug!(worker = %worker, "job worker {worker} stopped: the store was closed");
    })
}
