//! The durable job queue: work that must happen even if the server that accepted it stops
//! (mail delivery, invitation batches, scheduled invitations, purges).
//!
//! A job is enqueued in the transaction of what caused it. Workers claim due jobs with a lease
//! (`locked_until`); on PostgreSQL the claim uses `FOR UPDATE SKIP LOCKED` so servers never wait
//! on each other's jobs, on SQLite the write transaction serialises claims. A worker that dies
//! leaves its lease to run out, and the job is claimed again. Failed attempts back off
//! exponentially until `max_attempts`, then the job is `failed` with its last error.

use portico_core::ids::{ObjectId, TenantId};
use serde_json::Value as Json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{Dialect, Store, StoreError, json_col, opt_str};

/// Job states.
pub mod state {
    /// Waiting for its time.
    pub const QUEUED: &str = "queued";
    /// Claimed by a worker (lease in `locked_until`).
    pub const RUNNING: &str = "running";
    /// Finished.
    pub const DONE: &str = "done";
    /// Gave up after `max_attempts`.
    pub const FAILED: &str = "failed";
}

/// One job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Id.
    pub id: ObjectId,
    /// Tenant, when the job belongs to one.
    pub tenant_id: Option<TenantId>,
    /// `mail`, `invite_batch`, `invitation_mail`, `purge_guest`, ...
    pub kind: String,
    /// What the job needs, JSON.
    pub payload: Json,
    /// See [`state`].
    pub state: String,
    /// Due (ms).
    pub run_at: i64,
    /// Attempts started so far.
    pub attempts: i64,
    /// Give up after this many.
    pub max_attempts: i64,
    /// The worker holding it.
    pub locked_by: Option<String>,
    /// Its lease ends then (ms).
    pub locked_until: Option<i64>,
    /// The last failure.
    pub last_error: Option<String>,
    /// Created (ms).
    pub created_at: i64,
    /// Done or failed (ms).
    pub finished_at: Option<i64>,
}

impl Job {
    /// A queued job due at `run_at`.
    pub fn new(tenant: Option<TenantId>, kind: &str, payload: Json, run_at: i64, now: i64) -> Self {
        Job {
            id: ObjectId::new(),
            tenant_id: tenant,
            kind: kind.to_string(),
            payload,
            state: state::QUEUED.into(),
            run_at,
            attempts: 0,
            max_attempts: 8,
            locked_by: None,
            locked_until: None,
            last_error: None,
            created_at: now,
            finished_at: None,
        }
    }
}

fn from_row(r: &AnyRow) -> Result<Job, sqlx::Error> {
    let bad = |c: &str| sqlx::Error::Decode(format!("bad {c}").into());
    let id: String = r.try_get("id")?;
    Ok(Job {
        id: ObjectId::parse(&id).ok_or_else(|| bad("id"))?,
        tenant_id: match opt_str(r, "tenant_id")? {
            Some(t) => Some(TenantId::parse(&t).ok_or_else(|| bad("tenant_id"))?),
            None => None,
        },
        kind: r.try_get("kind")?,
        payload: json_col(r, "payload")?,
        state: r.try_get("state")?,
        run_at: r.try_get("run_at")?,
        attempts: r.try_get("attempts")?,
        max_attempts: r.try_get("max_attempts")?,
        locked_by: opt_str(r, "locked_by")?,
        locked_until: r.try_get("locked_until")?,
        last_error: opt_str(r, "last_error")?,
        created_at: r.try_get("created_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

/// Enqueues a job (call inside the transaction of what caused it).
pub async fn enqueue(conn: &mut AnyConnection, j: &Job) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO jobs (id, tenant_id, kind, payload, state, run_at, attempts, max_attempts, locked_by, locked_until, \
         last_error, created_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(j.id.to_string())
    .bind(j.tenant_id.map(|t| t.to_string()))
    .bind(&j.kind)
    .bind(j.payload.to_string())
    .bind(&j.state)
    .bind(j.run_at)
    .bind(j.attempts)
    .bind(j.max_attempts)
    .bind(j.locked_by.clone())
    .bind(j.locked_until)
    .bind(j.last_error.clone())
    .bind(j.created_at)
    .bind(j.finished_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Claims up to `limit` due jobs (queued and due, or running with a lapsed lease) for `worker`,
/// leasing them for `lease_ms`. Each claim counts an attempt. A job whose lease lapsed after its
/// last allowed attempt (its worker died, perhaps because of the job) is `failed` instead of
/// claimed again, so a job that kills workers cannot run forever.
pub async fn claim(store: &Store, worker: &str, now: i64, lease_ms: i64, limit: i64) -> Result<Vec<Job>, StoreError> {
    let lock = match store.dialect() {
        Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        Dialect::Sqlite => "",
    };
    let sql = format!(
        "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1 \
         WHERE id IN (SELECT id FROM jobs WHERE (state = 'queued' AND run_at <= $3) \
         OR (state = 'running' AND locked_until <= $3 AND attempts < max_attempts) \
         ORDER BY run_at, id LIMIT $4{lock}) RETURNING *"
    );
    // A cheap read first, so an idle poll does not take SQLite's write lock.
    let due: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM jobs WHERE (state = 'queued' AND run_at <= $1) OR (state = 'running' AND locked_until <= $1) \
         LIMIT 1",
    )
    .bind(now)
    .fetch_optional(store.pool())
    .await?;
    if due.is_none() {
        return Ok(vec![]);
    }
    let mut tx = store.begin().await?;
    sqlx::query(
        "UPDATE jobs SET state = 'failed', finished_at = $1, locked_by = NULL, locked_until = NULL, \
         last_error = COALESCE(last_error, 'the lease of the last attempt ran out (the worker stopped)') \
         WHERE state = 'running' AND locked_until <= $1 AND attempts >= max_attempts",
    )
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let rows = crate::db::dynamic(sql)
        .bind(worker.to_string())
        .bind(now + lease_ms)
        .bind(now)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    tx.commit().await?;
    let mut jobs: Vec<Job> = rows.iter().map(from_row).collect::<Result<_, _>>()?;
    jobs.sort_by_key(|j| (j.run_at, j.id.to_string()));
    Ok(jobs)
}

/// Marks a claimed job done (only if `worker` still holds it).
pub async fn complete(conn: &mut AnyConnection, id: ObjectId, worker: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE jobs SET state = 'done', finished_at = $3, locked_by = NULL, locked_until = NULL, last_error = NULL \
         WHERE id = $1 AND locked_by = $2 AND state = 'running'",
    )
    .bind(id.to_string())
    .bind(worker)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Records a failed attempt: queued again after a back-off (30 s after the first attempt,
/// doubling, at most an hour), or `failed` once `max_attempts` are spent. Returns the new state,
/// or None when `worker` no longer holds the job (its lease ran out and another worker claimed
/// it), in which case nothing changed.
pub async fn fail(
    conn: &mut AnyConnection,
    job: &Job,
    worker: &str,
    error: &str,
    now: i64,
) -> Result<Option<&'static str>, StoreError> {
    let give_up = job.attempts >= job.max_attempts;
    record_failure(conn, job, worker, error, now, give_up).await
}

/// Fails a claimed job for good, whatever attempts are left (the error will not go away by
/// retrying, e.g. a recipient the mail server refuses). None when `worker` no longer holds it.
pub async fn give_up(
    conn: &mut AnyConnection,
    job: &Job,
    worker: &str,
    error: &str,
    now: i64,
) -> Result<Option<&'static str>, StoreError> {
    record_failure(conn, job, worker, error, now, true).await
}

async fn record_failure(
    conn: &mut AnyConnection,
    job: &Job,
    worker: &str,
    error: &str,
    now: i64,
    give_up: bool,
) -> Result<Option<&'static str>, StoreError> {
    // `attempts` counts the attempt that just failed, so the first retry waits 30 s.
    let backoff = (30_000i64 << (job.attempts - 1).clamp(0, 7)).min(3_600_000);
    let (new_state, run_at, finished) =
        if give_up { (state::FAILED, job.run_at, Some(now)) } else { (state::QUEUED, now + backoff, None) };
    let error: String = error.chars().take(2000).collect();
    let r = sqlx::query(
        "UPDATE jobs SET state = $3, run_at = $4, finished_at = $5, last_error = $6, locked_by = NULL, \
         locked_until = NULL WHERE id = $1 AND locked_by = $2 AND state = 'running'",
    )
    .bind(job.id.to_string())
    .bind(worker)
    .bind(new_state)
    .bind(run_at)
    .bind(finished)
    .bind(error)
    .execute(conn)
    .await?;
    Ok((r.rows_affected() == 1).then_some(new_state))
}

/// Extends a running job's lease (long jobs call this between chunks).
pub async fn extend_lease(
    conn: &mut AnyConnection,
    id: ObjectId,
    worker: &str,
    until: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE jobs SET locked_until = $3 WHERE id = $1 AND locked_by = $2 AND state = 'running'")
        .bind(id.to_string())
        .bind(worker)
        .bind(until)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// A job by id.
pub async fn get(conn: &mut AnyConnection, id: ObjectId) -> Result<Option<Job>, StoreError> {
    let row = sqlx::query("SELECT * FROM jobs WHERE id = $1").bind(id.to_string()).fetch_optional(conn).await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Counts jobs by state (for metrics and `portico jobs`).
pub async fn counts(conn: &mut AnyConnection) -> Result<Vec<(String, String, i64)>, StoreError> {
    let rows = sqlx::query("SELECT kind, state, COUNT(*) AS n FROM jobs GROUP BY kind, state ORDER BY kind, state")
        .fetch_all(conn)
        .await?;
    Ok(rows
        .iter()
        .map(|r| Ok((r.try_get("kind")?, r.try_get("state")?, r.try_get("n")?)))
        .collect::<Result<_, sqlx::Error>>()?)
}

/// Deletes finished jobs older than `before` (ms); returns how many.
pub async fn purge_finished(conn: &mut AnyConnection, before: i64) -> Result<u64, StoreError> {
    let r = sqlx::query("DELETE FROM jobs WHERE state IN ('done', 'failed') AND finished_at < $1")
        .bind(before)
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}
