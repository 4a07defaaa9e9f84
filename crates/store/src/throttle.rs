//! Fixed-window counters shared by every server: sign-in failures (throttling without lockout)
//! and invitation requests (Entra's per-tenant invitation limit).

use sqlx::AnyConnection;

use crate::db::StoreError;

/// The failures counted under `key` in the window of `window_ms` that contains `now`.
pub async fn failures(conn: &mut AnyConnection, key: &str, now: i64, window_ms: i64) -> Result<i64, StoreError> {
    let n: Option<i64> = sqlx::query_scalar("SELECT failures FROM throttle WHERE key = $1 AND window_start > $2")
        .bind(key)
        .bind(now - window_ms)
        .fetch_optional(conn)
        .await?;
    Ok(n.unwrap_or(0))
}

/// Counts one failure under `key`; a window older than `window_ms` starts again at one.
pub async fn record_failure(conn: &mut AnyConnection, key: &str, now: i64, window_ms: i64) -> Result<(), StoreError> {
    hit(conn, key, now, window_ms).await.map(|_| ())
}

/// Counts one request under `key` in fixed windows of `window_ms` and returns the count so far in
/// the current window (this one included) with the window's start. One statement, so servers
/// sharing the store count together.
pub async fn hit(conn: &mut AnyConnection, key: &str, now: i64, window_ms: i64) -> Result<(i64, i64), StoreError> {
    let row: (i64, i64) = sqlx::query_as(
        "INSERT INTO throttle (key, window_start, failures) VALUES ($1, $2, 1) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN throttle.window_start > $3 THEN throttle.failures + 1 ELSE 1 END, \
           window_start = CASE WHEN throttle.window_start > $3 THEN throttle.window_start ELSE $2 END \
         RETURNING failures, window_start",
    )
    .bind(key)
    .bind(now)
    .bind(now - window_ms)
    .fetch_one(conn)
    .await?;
    Ok(row)
}

/// Forgets the failures under `key` (after a success).
pub async fn clear(conn: &mut AnyConnection, key: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM throttle WHERE key = $1").bind(key).execute(conn).await?;
    Ok(())
}
