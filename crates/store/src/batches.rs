//! Invitation batches (bulk invite): a batch and its rows, as uploaded, and each row's outcome.
//!
//! The rows of a batch are written with the batch in one transaction (multi-row INSERTs), so a
//! batch exists whole or not at all. The runner (`portico_http::b2b::batch`) walks the rows that
//! are still open in `row_no` order and records each outcome; the rules of inviting and of
//! resuming after a crash live there, this module only keeps the state.

use portico_core::ids::{ObjectId, TenantId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{StoreError, dynamic, opt_str, placeholders};

/// Row states.
pub mod row_status {
    /// Not processed yet.
    pub const PENDING: &str = "pending";
    /// Being invited: the address had no guest when the runner took the row (so a guest found
    /// for it after a crash is this batch's own work).
    pub const INVITING: &str = "inviting";
    /// Invited; the guest was created by this row.
    pub const INVITED: &str = "invited";
    /// Invited again; the address already had a guest.
    pub const ALREADY_INVITED: &str = "alreadyInvited";
    /// Refused (the reason is in `error`).
    pub const FAILED: &str = "failed";
}

/// Batch states.
pub mod batch_status {
    /// Waiting for the job worker.
    pub const QUEUED: &str = "queued";
    /// Rows are being processed.
    pub const RUNNING: &str = "running";
    /// Every row succeeded.
    pub const COMPLETED: &str = "completed";
    /// Every row was processed, some failed.
    pub const COMPLETED_WITH_ERRORS: &str = "completedWithErrors";
}

/// A batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Id.
    pub id: ObjectId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// See [`batch_status`].
    pub status: String,
    /// Rows in the file.
    pub total: i64,
    /// Who uploaded it (an opaque tag chosen by the caller, e.g. `app:<id>` or `cli:<digest>`).
    pub created_by: String,
    /// Created (ms).
    pub created_at: i64,
    /// Finished (ms).
    pub finished_at: Option<i64>,
}

/// One row as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRow {
    /// 1-based data row number (the file's headings are not counted).
    pub row_no: i64,
    /// The row's input, JSON text.
    pub input: String,
    /// See [`row_status`].
    pub status: String,
    /// The guest the row invited.
    pub user_id: Option<ObjectId>,
    /// Why it failed.
    pub error: Option<String>,
}

/// A new row: number, input JSON, and (for rows refused while reading the file) the reason.
#[derive(Debug, Clone)]
pub struct NewRow {
    /// 1-based data row number.
    pub row_no: i64,
    /// JSON text.
    pub input: String,
    /// `Some(reason)`: stored as failed at once.
    pub error: Option<String>,
}

/// Rows per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Guests created by this batch.
    pub invited: i64,
    /// Addresses that already had a guest.
    pub already_invited: i64,
    /// Failed rows.
    pub failed: i64,
    /// Rows still open (pending or inviting).
    pub pending: i64,
}

fn batch_from(r: &AnyRow) -> Result<Batch, sqlx::Error> {
    let bad = |c: &str| sqlx::Error::Decode(format!("bad {c}").into());
    let id: String = r.try_get("id")?;
    let tenant: String = r.try_get("tenant_id")?;
    Ok(Batch {
        id: ObjectId::parse(&id).ok_or_else(|| bad("id"))?,
        tenant_id: TenantId::parse(&tenant).ok_or_else(|| bad("tenant_id"))?,
        status: r.try_get("status")?,
        total: r.try_get("total")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

fn row_from(r: &AnyRow) -> Result<BatchRow, sqlx::Error> {
    Ok(BatchRow {
        row_no: r.try_get("row_no")?,
        input: r.try_get("input")?,
        status: r.try_get("status")?,
        user_id: opt_str(r, "user_id")?.and_then(|s| ObjectId::parse(&s)),
        error: opt_str(r, "error")?,
    })
}

/// Rows per multi-row INSERT (6 parameters each: well under SQLite's and PostgreSQL's limits).
const INSERT_CHUNK: usize = 500;

/// Inserts a batch and all its rows (call inside a transaction).
pub async fn create(conn: &mut AnyConnection, b: &Batch, rows: &[NewRow]) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO invite_batches (id, tenant_id, status, total, created_by, created_at, finished_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(b.id.to_string())
    .bind(b.tenant_id.to_string())
    .bind(&b.status)
    .bind(b.total)
    .bind(&b.created_by)
    .bind(b.created_at)
    .bind(b.finished_at)
    .execute(&mut *conn)
    .await?;
    let id = b.id.to_string();
    for chunk in rows.chunks(INSERT_CHUNK) {
        let values: Vec<String> = (0..chunk.len()).map(|i| format!("({})", placeholders(i * 5 + 1, 5))).collect();
        let sql = format!(
            "INSERT INTO invite_batch_rows (batch_id, row_no, input, status, error) VALUES {}",
            values.join(", ")
        );
        let mut q = dynamic(sql);
        for r in chunk {
            let status = if r.error.is_some() { row_status::FAILED } else { row_status::PENDING };
            q = q.bind(id.clone()).bind(r.row_no).bind(r.input.clone()).bind(status).bind(r.error.clone());
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// A batch of the tenant.
pub async fn get(conn: &mut AnyConnection, tenant: TenantId, id: ObjectId) -> Result<Option<Batch>, StoreError> {
    let row = sqlx::query("SELECT * FROM invite_batches WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(batch_from).transpose()?)
}

/// The newest unfinished batch of the tenant uploaded by `created_by` (the CLI resumes it).
pub async fn unfinished_by(
    conn: &mut AnyConnection,
    tenant: TenantId,
    created_by: &str,
) -> Result<Option<Batch>, StoreError> {
    let row = sqlx::query(
        "SELECT * FROM invite_batches WHERE tenant_id = $1 AND created_by = $2 AND finished_at IS NULL \
         ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(tenant.to_string())
    .bind(created_by)
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(batch_from).transpose()?)
}

/// Sets the batch's status (and `finished_at` when given).
pub async fn set_status(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: ObjectId,
    status: &str,
    finished_at: Option<i64>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE invite_batches SET status = $3, finished_at = $4 WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .bind(status)
        .bind(finished_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// The next `limit` open rows (pending or inviting) in row order.
pub async fn open_rows(conn: &mut AnyConnection, batch: ObjectId, limit: i64) -> Result<Vec<BatchRow>, StoreError> {
    let rows = sqlx::query(
        "SELECT row_no, input, status, user_id, error FROM invite_batch_rows \
         WHERE batch_id = $1 AND status IN ('pending', 'inviting') ORDER BY row_no LIMIT $2",
    )
    .bind(batch.to_string())
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(row_from).collect::<Result<_, _>>()?)
}

/// Marks pending rows as being invited (one statement for a chunk).
pub async fn mark_inviting(conn: &mut AnyConnection, batch: ObjectId, row_nos: &[i64]) -> Result<(), StoreError> {
    for chunk in row_nos.chunks(INSERT_CHUNK) {
        let sql = format!(
            "UPDATE invite_batch_rows SET status = 'inviting' WHERE batch_id = $1 AND status = 'pending' \
             AND row_no IN ({})",
            placeholders(2, chunk.len())
        );
        let mut q = dynamic(sql).bind(batch.to_string());
        for n in chunk {
            q = q.bind(*n);
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records a row's outcome, if it is still open. Returns whether it was.
pub async fn finish_row(
    conn: &mut AnyConnection,
    batch: ObjectId,
    row_no: i64,
    status: &str,
    user_id: Option<ObjectId>,
    error: Option<&str>,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE invite_batch_rows SET status = $3, user_id = $4, error = $5 \
         WHERE batch_id = $1 AND row_no = $2 AND status IN ('pending', 'inviting')",
    )
    .bind(batch.to_string())
    .bind(row_no)
    .bind(status)
    .bind(user_id.map(|u| u.to_string()))
    .bind(error.map(|e| e.chars().take(2000).collect::<String>()))
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Whether a row of the batch before `row_no` already invited `user` (a duplicate address in
/// the file).
pub async fn earlier_row_invited(
    conn: &mut AnyConnection,
    batch: ObjectId,
    row_no: i64,
    user: ObjectId,
) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM invite_batch_rows WHERE batch_id = $1 AND row_no < $2 AND user_id = $3 \
         AND status IN ('invited', 'alreadyInvited')",
    )
    .bind(batch.to_string())
    .bind(row_no)
    .bind(user.to_string())
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Rows per status.
pub async fn counts(conn: &mut AnyConnection, batch: ObjectId) -> Result<Counts, StoreError> {
    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM invite_batch_rows WHERE batch_id = $1 GROUP BY status")
        .bind(batch.to_string())
        .fetch_all(conn)
        .await?;
    let mut c = Counts::default();
    for r in &rows {
        let status: String = r.try_get("status")?;
        let n: i64 = r.try_get("n")?;
        match status.as_str() {
            row_status::INVITED => c.invited += n,
            row_status::ALREADY_INVITED => c.already_invited += n,
            row_status::FAILED => c.failed += n,
            _ => c.pending += n,
        }
    }
    Ok(c)
}

/// Rows after `after_row` in row order (keyset paging), optionally only one status (`pending`
/// includes the rows being invited).
pub async fn list_rows(
    conn: &mut AnyConnection,
    batch: ObjectId,
    after_row: i64,
    status: Option<&str>,
    limit: i64,
) -> Result<Vec<BatchRow>, StoreError> {
    let filter = match status {
        None => "",
        Some(row_status::PENDING) => " AND status IN ($4, 'inviting')",
        Some(_) => " AND status = $4",
    };
    let sql = format!(
        "SELECT row_no, input, status, user_id, error FROM invite_batch_rows \
         WHERE batch_id = $1 AND row_no > $2{filter} ORDER BY row_no LIMIT $3"
    );
    let mut q = dynamic(sql).bind(batch.to_string()).bind(after_row).bind(limit);
    if let Some(s) = status {
        q = q.bind(s.to_owned());
    }
    let rows = q.fetch_all(conn).await?;
    Ok(rows.iter().map(row_from).collect::<Result<_, _>>()?)
}
