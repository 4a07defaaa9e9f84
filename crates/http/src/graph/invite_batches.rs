//! `/portico/inviteBatches`: bulk invitations from Entra's bulk-invite CSV (a Portico extension;
//! Entra offers the same only in its portal). The upload is answered at once with 202 and the
//! rows are invited by the `invite_batch` job; the CSV format and the runner live in
//! [`crate::b2b::batch`], the rules of each invitation in [`crate::b2b::invite`].

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use portico_core::access::Action;
use portico_core::clock::graph_datetime;
use portico_core::ids::ObjectId;
use portico_store::batches::{self, Batch, BatchRow, Counts, row_status};
use portico_store::list::Page;
use serde_json::{Value, json};

use super::auth::Authed;
use super::error::{GraphError, GraphResult};
use super::query::{DEFAULT_TOP, QueryOptions};
use super::wire;
use crate::app::AppState;
use crate::b2b::batch::{self as runner, MAX_FILE_BYTES, RowInput};
use crate::b2b::invite::Inviting;

const SET: &str = "portico/inviteBatches";

/// A batch in the API's shape.
pub fn render(b: &Batch, c: &Counts) -> Value {
    json!({
        "id": b.id.to_string(),
        "status": b.status,
        "total": b.total,
        "createdDateTime": graph_datetime(b.created_at),
        "finishedDateTime": b.finished_at.map(graph_datetime),
        "counts": {
            "invited": c.invited,
            "alreadyInvited": c.already_invited,
            "failed": c.failed,
            "pending": c.pending,
        },
    })
}

/// A row's result in the API's shape.
pub fn render_row(r: &BatchRow) -> Value {
    let input: RowInput = serde_json::from_str(&r.input).unwrap_or_default();
    json!({
        "row": r.row_no,
        "email": input.email,
        "displayName": input.display_name,
        // `inviting` is an internal step; outside, the row is still pending.
        "status": if r.status == row_status::INVITING { row_status::PENDING } else { r.status.as_str() },
        "userId": r.user_id.map(|u| u.to_string()),
        "error": r.error,
    })
}

async fn batch_of(state: &AppState, auth: &Authed, id: &str) -> GraphResult<Batch> {
    let oid = ObjectId::parse(id).ok_or_else(|| GraphError::not_found(id))?;
    let mut conn = state.conn().await?;
    batches::get(&mut conn, auth.tenant(), oid).await?.ok_or_else(|| GraphError::not_found(id))
}

/// POST /portico/inviteBatches (`Content-Type: text/csv`, Entra's bulk-invite template) → 202
pub async fn create_invite_batch(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
    headers: HeaderMap,
    body: Body,
) -> GraphResult<Response> {
    let caller = auth.require(Action::UsersInvite)?.clone();
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    if !(ct.starts_with("text/csv") || ct.starts_with("text/plain")) {
        return Err(GraphError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Request_UnsupportedMediaType",
            "The request body must be the bulk-invite CSV file with 'Content-Type: text/csv'.",
        ));
    }
    // The Graph JSON limit (1 MiB) is too small for a file of 100,000 rows (about 8 MB).
    let bytes = axum::body::to_bytes(body, MAX_FILE_BYTES).await.map_err(|_| {
        GraphError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request_EntityTooLarge",
            format!("The file is too large ({} MiB at most).", MAX_FILE_BYTES / (1024 * 1024)),
        )
    })?;
    let now = state.now_ms();
    let parsed = tokio::task::spawn_blocking(move || runner::parse_csv(&bytes, now))
        .await
        .map_err(|e| GraphError::internal(&e))??;
    let who = Inviting::of(&state, &caller).await?;
    runner::check_may_invite(&state, caller.tenant, &who).await?;
    let created_by = format!("api:{}", parsed.digest);
    let batch = runner::create(&state, caller.tenant, &parsed.rows, &created_by, &who, true).await?;
    let counts = {
        let mut conn = state.conn().await?;
        batches::counts(&mut conn, batch.id).await?
    };
    let location = format!("{}/{}/{SET}/{}", state.dir.settings.public_url, opts.version(), batch.id);
    let mut r = wire::entity(&state.dir.settings.public_url, &opts, SET, render(&batch, &counts), &[]);
    *r.status_mut() = StatusCode::ACCEPTED;
    if let Ok(v) = HeaderValue::from_str(&location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r.into_response())
}

/// GET /portico/inviteBatches/{id}
pub async fn get_invite_batch(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
    Path(id): Path<String>,
) -> GraphResult<Response> {
    auth.require(Action::UsersInvite)?;
    let batch = batch_of(&state, &auth, &id).await?;
    let mut conn = state.conn().await?;
    let counts = batches::counts(&mut conn, batch.id).await?;
    Ok(wire::entity(&state.dir.settings.public_url, &opts, SET, render(&batch, &counts), &[]))
}

fn encode_token(row: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("row:{row}"))
}

fn decode_token(t: &str) -> Option<i64> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(t).ok()?;
    String::from_utf8(raw).ok()?.strip_prefix("row:")?.parse().ok()
}

/// `status eq 'failed'`, the one filter rows support.
fn status_filter(f: &str) -> Option<&'static str> {
    let rest = f.trim().strip_prefix("status")?.trim_start().strip_prefix("eq")?.trim();
    let v = rest.strip_prefix('\'')?.strip_suffix('\'')?;
    [row_status::PENDING, row_status::INVITED, row_status::ALREADY_INVITED, row_status::FAILED]
        .into_iter()
        .find(|s| s.eq_ignore_ascii_case(v))
}

/// GET /portico/inviteBatches/{id}/rows (`$top` 1–999, default 100; `$skiptoken`;
/// `$filter=status eq 'failed'`)
pub async fn list_invite_batch_rows(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
    Path(id): Path<String>,
) -> GraphResult<Response> {
    auth.require(Action::UsersInvite)?;
    let unsupported = [
        ("$search", opts.search.is_some()),
        ("$orderby", opts.orderby.is_some()),
        ("$select", opts.select.is_some()),
        ("$count", opts.count),
    ];
    if let Some((name, _)) = unsupported.iter().find(|(_, given)| *given) {
        return Err(GraphError::bad_request(format!(
            "The query option '{name}' is not supported on invite batch rows; use $top, $skiptoken and $filter=status eq '...'."
        )));
    }
    let status = match &opts.filter {
        None => None,
        Some(f) => Some(status_filter(f).ok_or_else(|| {
            GraphError::bad_request(
                "Rows can be filtered by status only: $filter=status eq 'invited' | 'alreadyInvited' | 'failed' | 'pending'.",
            )
        })?),
    };
    let after = match &opts.skiptoken {
        None => 0,
        Some(t) => decode_token(t).ok_or_else(|| GraphError::bad_request("The $skiptoken is not valid."))?,
    };
    let batch = batch_of(&state, &auth, &id).await?;
    let top = opts.top.unwrap_or(DEFAULT_TOP) as i64;
    let mut conn = state.conn().await?;
    // (A `pending` filter also shows the rows in the middle of being invited.)
    let mut rows = batches::list_rows(&mut conn, batch.id, after, status, top + 1).await?;
    let next = if rows.len() as i64 > top {
        rows.truncate(top as usize);
        rows.last().map(|r| encode_token(r.row_no))
    } else {
        None
    };
    let items = rows.iter().map(render_row).collect();
    Ok(wire::collection(
        &state.dir.settings.public_url,
        &opts,
        &format!("{SET}('{}')/rows", batch.id),
        Page { items, next, count: None },
        &[],
    ))
}
