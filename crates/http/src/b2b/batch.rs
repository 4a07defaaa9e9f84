//! Bulk invitations: reading Entra's bulk-invite CSV, storing it as a batch, and inviting its
//! rows in chunks (the `invite_batch` job, the CLI's `portico invite import`, the benchmark).
//!
//! Every row goes through [`invite`], so the rules (policy, address, domain list, one guest per
//! address) are those of `POST /invitations`. The batch and its rows are kept by
//! [`portico_store::batches`]; this module owns the CSV format and the resume rules.
//!
//! # Crash safety without duplicates
//!
//! [`invite`] commits its own transaction, so a row's invitation and the row's outcome cannot
//! commit together. Instead:
//! - inviting an address that already has a guest never creates a second one (the store's unique
//!   index and `invite`'s lookup), so re-running a row is harmless; and
//! - before a chunk is invited, its rows whose address has no guest yet are marked `inviting` in
//!   one statement. After a crash, an `inviting` row whose address now has a guest was invited by
//!   this batch (the guest appeared after the mark), so it is recorded `invited` without being
//!   invited again — unless an earlier row of the same batch already claimed that guest (the
//!   address appears twice in the file), then `alreadyInvited`. A row that was still `pending`
//!   had a guest before the batch touched it, so re-running it yields `alreadyInvited`, which is
//!   true. The one imprecision: another inviter creating the same guest in the instant between
//!   the mark and this batch's invitation would be counted as this batch's; the guest is still
//!   one guest.

use portico_core::b2b::{self as rules, Inviter};
use portico_core::ids::{ObjectId, TenantId};
use portico_store::batches::{self, Batch, BatchRow, Counts, NewRow, batch_status, row_status};
use portico_store::jobs::{self, Job};
use portico_store::{StoreError, audit as audit_store};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::invite::{InviteError, InviteInput, Inviting, MessageInfo, invite};
use crate::app::AppState;
use crate::audit::{Actor, Target, entry};
use crate::graph::error::GraphError;

/// The job kind of a batch.
pub const JOB_KIND: &str = "invite_batch";

/// Most data rows a file may hold. Entra states no limit for bulk invite (bulk user creation
/// handles "at least 50,000" per hour); 500,000 rows is about 40 MB of CSV and a few minutes of
/// work, large enough for any one organisation's partner list and small enough to hold in memory.
pub const MAX_ROWS: usize = 500_000;

/// Largest accepted file (bytes).
pub const MAX_FILE_BYTES: usize = 64 * 1024 * 1024;

/// Rows invited between two lease extensions and outcome writes.
pub const CHUNK: i64 = 200;

/// One row of the file, as stored (`invite_batch_rows.input`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RowInput {
    /// inviteeEmail.
    pub email: String,
    /// inviteRedirectURL.
    pub redirect_url: String,
    /// sendEmail (blank: true, as in the portal's bulk invite).
    pub send_email: bool,
    /// customizedMessageBody.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// invitedUserDisplayName (Portico).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// scheduledSendDateTime (Portico): send the mail later (ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_at: Option<i64>,
}

impl RowInput {
    /// The invitation this row asks for.
    pub fn to_invite(&self) -> InviteInput {
        InviteInput {
            email: self.email.clone(),
            redirect_url: self.redirect_url.clone(),
            display_name: self.display_name.clone(),
            send_message: self.send_email,
            message: MessageInfo { body: self.message.clone(), ..MessageInfo::default() },
            send_at: self.send_at,
            ..InviteInput::default()
        }
    }
}

/// Why a file as a whole was refused.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// Not UTF-8 text.
    #[error("The file is not UTF-8 text; save the CSV as UTF-8.")]
    NotText,
    /// The CSV reader failed.
    #[error("The file is not valid CSV: {0}")]
    NotCsv(String),
    /// No headings row, or a required column is missing.
    #[error(
        "The file has no '{0}' column. Row 1 may be 'version:v1.0'; the next row must hold the headings, e.g. \
         'Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required'."
    )]
    MissingColumn(&'static str),
    /// More rows than [`MAX_ROWS`].
    #[error("The file has more than {MAX_ROWS} rows; split it into several files.")]
    TooManyRows,
    /// No data rows.
    #[error("The file has no rows to invite.")]
    Empty,
}

impl From<CsvError> for GraphError {
    fn from(e: CsvError) -> Self {
        GraphError::bad_request(e.to_string())
    }
}

/// A parsed file: its rows and its SHA-256 (base64url), which names the file for resuming.
#[derive(Debug, Clone)]
pub struct ParsedFile {
    /// Rows, numbered from 1 (headings not counted); rows refused while reading carry their error.
    pub rows: Vec<NewRow>,
    /// SHA-256 of the file's bytes, base64url.
    pub digest: String,
}

/// The columns Portico reads, by the bracketed property name of Entra's template (lowercase).
const COLUMNS: &[&str] = &[
    "inviteeemail",
    "inviteredirecturl",
    "sendemail",
    "customizedmessagebody",
    "inviteduserdisplayname",
    "scheduledsenddatetime",
];

/// `Email address to invite [inviteeEmail] Required` -> `inviteeemail`; a heading without
/// brackets is taken whole.
fn property_of(heading: &str) -> String {
    let h = heading.trim().trim_start_matches('\u{feff}');
    match (h.find('['), h.find(']')) {
        (Some(a), Some(b)) if a < b => h[a + 1..b].trim().to_ascii_lowercase(),
        _ => h.to_ascii_lowercase(),
    }
}

/// Reads a bulk-invite CSV (Entra's template: an optional `version:v1.0` row, then headings
/// matched by their bracketed property name, case-insensitive; extra columns are ignored).
/// Rows with a missing address or URL, or an unreadable flag or date, are refused one by one;
/// a file-level problem is a [`CsvError`].
pub fn parse_csv(data: &[u8], now_ms: i64) -> Result<ParsedFile, CsvError> {
    let text = std::str::from_utf8(data).map_err(|_| CsvError::NotText)?;
    let digest = portico_core::secret::token_digest(text);
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader =
        csv::ReaderBuilder::new().has_headers(false).flexible(true).trim(csv::Trim::All).from_reader(text.as_bytes());
    let mut records = reader.records();
    let mut next = || records.next().transpose().map_err(|e| CsvError::NotCsv(e.to_string()));
    let mut first = next()?.ok_or(CsvError::MissingColumn("inviteeEmail"))?;
    if first.get(0).is_some_and(|f| f.trim_start_matches('\u{feff}').to_ascii_lowercase().starts_with("version:")) {
        first = next()?.ok_or(CsvError::MissingColumn("inviteeEmail"))?;
    }
    let mut index = [None; 6];
    for (i, h) in first.iter().enumerate() {
        let p = property_of(h);
        if let Some(k) = COLUMNS.iter().position(|c| *c == p)
            && index[k].is_none()
        {
            index[k] = Some(i);
        }
    }
    let email_col = index[0].ok_or(CsvError::MissingColumn("inviteeEmail"))?;
    let url_col = index[1].ok_or(CsvError::MissingColumn("inviteRedirectURL"))?;
    let mut rows = vec![];
    let mut row_no = 0i64;
    while let Some(rec) = next()? {
        if rec.iter().all(str::is_empty) {
            continue;
        }
        if rows.len() == MAX_ROWS {
            return Err(CsvError::TooManyRows);
        }
        row_no += 1;
        let field = |k: usize| index[k].and_then(|i| rec.get(i)).filter(|s| !s.is_empty()).map(str::to_owned);
        let mut input = RowInput {
            email: rec.get(email_col).unwrap_or_default().chars().take(320).collect(),
            redirect_url: rec.get(url_col).unwrap_or_default().chars().take(4096).collect(),
            send_email: true,
            message: field(3),
            display_name: field(4),
            send_at: None,
        };
        let mut error = None;
        if input.email.is_empty() {
            error = Some("Email address to invite [inviteeEmail] is required.".to_string());
        } else if input.redirect_url.is_empty() {
            error = Some("Redirection url [inviteRedirectURL] is required.".to_string());
        }
        match field(2).map(|s| s.to_ascii_lowercase()).as_deref() {
            None | Some("true") | Some("yes") | Some("1") => {}
            Some("false") | Some("no") | Some("0") => input.send_email = false,
            Some(_) => error = error.or(Some("Send invitation message [sendEmail] must be true or false.".into())),
        }
        if let Some(t) = field(5) {
            match time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339) {
                Ok(at) => input.send_at = Some(((at.unix_timestamp_nanos() / 1_000_000) as i64).max(now_ms)),
                Err(_) => {
                    error = error.or(Some(
                        "scheduledSendDateTime must be an ISO 8601 date and time, e.g. 2030-01-31T09:00:00Z.".into(),
                    ))
                }
            }
        }
        if input.message.as_ref().is_some_and(|m| m.chars().count() > 10_000) {
            // Keep the stored input small; precheck would refuse it anyway.
            input.message = None;
            error = error.or(Some("customizedMessageBody is too long (10,000 characters at most).".into()));
        }
        let json = serde_json::to_string(&input).map_err(|e| CsvError::NotCsv(e.to_string()))?;
        rows.push(NewRow { row_no, input: json, error });
    }
    if rows.is_empty() {
        return Err(CsvError::Empty);
    }
    Ok(ParsedFile { rows, digest })
}

/// The inviter, as kept in the job's payload (the job runs later, on any server).
pub fn inviter_to_json(who: &Inviting) -> Value {
    let actor = match &who.actor {
        Actor::App { app_id, display_name, service_principal_id } => json!({
            "type": "app", "appId": app_id, "displayName": display_name,
            "servicePrincipalId": service_principal_id.to_string(),
        }),
        Actor::User { id, user_principal_name } => {
            json!({"type": "user", "id": id.to_string(), "userPrincipalName": user_principal_name})
        }
        Actor::CommandLine => json!({"type": "commandLine"}),
    };
    let kind = match who.kind {
        Inviter::Application => "application",
        Inviter::Admin => "admin",
        Inviter::Member => "member",
        Inviter::Guest => "guest",
    };
    json!({
        "actor": actor,
        "kind": kind,
        "user": who.user.map(|u| u.to_string()),
        "name": who.name,
        "email": who.email,
        "userAdmin": who.user_admin,
        "mayReset": who.may_reset,
        "appOnly": who.app_only,
    })
}

/// Reads [`inviter_to_json`]'s shape.
pub fn inviter_from_json(v: &Value) -> Option<Inviting> {
    let s = |o: &Value, k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
    let a = v.get("actor")?;
    let actor = match a.get("type")?.as_str()? {
        "app" => Actor::App {
            app_id: s(a, "appId")?,
            display_name: s(a, "displayName")?,
            service_principal_id: ObjectId::parse(&s(a, "servicePrincipalId")?)?,
        },
        "user" => Actor::User { id: ObjectId::parse(&s(a, "id")?)?, user_principal_name: s(a, "userPrincipalName")? },
        "commandLine" => Actor::CommandLine,
        _ => return None,
    };
    let kind = match v.get("kind")?.as_str()? {
        "application" => Inviter::Application,
        "admin" => Inviter::Admin,
        "member" => Inviter::Member,
        "guest" => Inviter::Guest,
        _ => return None,
    };
    let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    Some(Inviting {
        actor,
        kind,
        user: match s(v, "user") {
            Some(u) => Some(ObjectId::parse(&u)?),
            None => None,
        },
        name: s(v, "name")?,
        email: s(v, "email"),
        user_admin: flag("userAdmin"),
        may_reset: flag("mayReset"),
        app_only: flag("appOnly"),
    })
}

fn batch_target(b: &Batch) -> Target {
    Target::new(b.id, "Other", Some("Bulk invitation".into()))
}

/// Refuses the upload at once when the policy does not let this inviter invite at all (the
/// per-row check would refuse every row).
pub async fn check_may_invite(state: &AppState, tenant: TenantId, who: &Inviting) -> Result<(), InviteError> {
    let mut conn = state.dir.store.pool().acquire().await.map_err(StoreError::from)?;
    let from = super::policy::invites_from(&mut conn, tenant).await?;
    if !rules::may_invite(from, who.kind) {
        return Err(InviteError::Denied(
            "Guest invitations not allowed for your company. Contact your company administrator for more details."
                .into(),
        ));
    }
    Ok(())
}

/// Stores a batch with its rows and the audit entry "Batch invites uploaded"; with `enqueue`, also
/// the `invite_batch` job that runs it (the API), else the caller runs it (the CLI).
pub async fn create(
    state: &AppState,
    tenant: TenantId,
    rows: &[NewRow],
    created_by: &str,
    who: &Inviting,
    enqueue: bool,
) -> Result<Batch, InviteError> {
    let now = state.now_ms();
    let batch = Batch {
        id: ObjectId::new(),
        tenant_id: tenant,
        status: batch_status::QUEUED.into(),
        total: rows.len() as i64,
        created_by: created_by.to_string(),
        created_at: now,
        finished_at: None,
    };
    let mut tx = state.dir.store.begin().await?;
    batches::create(&mut tx, &batch, rows).await?;
    let target = batch_target(&batch).with_changes(vec![("Total".into(), Value::Null, json!(batch.total))]);
    let e =
        entry(tenant, &who.actor, "Batch invites uploaded", "UserManagement", "Add", "Invited Users", &[target], now);
    audit_store::insert(&mut tx, &e).await?;
    if enqueue {
        let payload = json!({"batchId": batch.id.to_string(), "inviter": inviter_to_json(who)});
        jobs::enqueue(&mut tx, &Job::new(Some(tenant), JOB_KIND, payload, now, now)).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(batch)
}

struct Outcome {
    row_no: i64,
    status: &'static str,
    user: Option<ObjectId>,
    error: Option<String>,
}

async fn record(state: &AppState, batch: ObjectId, outcomes: &[Outcome]) -> Result<(), StoreError> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let mut tx = state.dir.store.begin().await?;
    for o in outcomes {
        batches::finish_row(&mut tx, batch, o.row_no, o.status, o.user, o.error.as_deref()).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Invites the next `limit` open rows of the batch and records their outcomes (see the module
/// comment for the resume rule). Returns how many rows it took (0: none were left).
pub async fn process_chunk(state: &AppState, batch: &Batch, who: &Inviting, limit: i64) -> Result<usize, InviteError> {
    let tenant = batch.tenant_id;
    let rows: Vec<BatchRow> = {
        let mut conn = state.dir.store.pool().acquire().await.map_err(StoreError::from)?;
        batches::open_rows(&mut conn, batch.id, limit).await?
    };
    if rows.is_empty() {
        return Ok(0);
    }
    // Mark the pending rows whose address has no guest yet (the resume rule's evidence).
    let mut fresh = vec![];
    {
        let mut conn = state.dir.store.pool().acquire().await.map_err(StoreError::from)?;
        for r in rows.iter().filter(|r| r.status == row_status::PENDING) {
            let Ok(input) = serde_json::from_str::<RowInput>(&r.input) else { continue };
            let Some((local, domain)) = rules::invited_address(&input.email) else { continue };
            let address = format!("{local}@{domain}");
            if portico_store::b2b::user_by_invited_address(&mut conn, tenant, &address).await?.is_none() {
                fresh.push(r.row_no);
            }
        }
        if !fresh.is_empty() {
            batches::mark_inviting(&mut conn, batch.id, &fresh).await?;
        }
    }
    let mut outcomes = Vec::with_capacity(rows.len());
    for r in &rows {
        let input = match serde_json::from_str::<RowInput>(&r.input) {
            Ok(i) => i,
            Err(e) => {
                let error = Some(format!("The stored row is unreadable: {e}"));
                outcomes.push(Outcome { row_no: r.row_no, status: row_status::FAILED, user: None, error });
                continue;
            }
        };
        if r.status == row_status::INVITING {
            // Resumed: the guest, if there is one now, is this batch's own work.
            let found = match rules::invited_address(&input.email) {
                Some((local, domain)) => {
                    let mut conn = state.dir.store.pool().acquire().await.map_err(StoreError::from)?;
                    let address = format!("{local}@{domain}");
                    match portico_store::b2b::user_by_invited_address(&mut conn, tenant, &address).await? {
                        Some(u) => Some((u, batches::earlier_row_invited(&mut conn, batch.id, r.row_no, u).await?)),
                        None => None,
                    }
                }
                None => None,
            };
            if let Some((user, earlier)) = found {
                // Earlier rows of this chunk are not recorded yet: look at their outcomes too.
                let duplicate = earlier || outcomes.iter().any(|o: &Outcome| o.user == Some(user));
                let status = if duplicate { row_status::ALREADY_INVITED } else { row_status::INVITED };
                outcomes.push(Outcome { row_no: r.row_no, status, user: Some(user), error: None });
                continue;
            }
        }
        match invite(state, tenant, &input.to_invite(), who).await {
            Ok(done) => {
                let status = if done.created { row_status::INVITED } else { row_status::ALREADY_INVITED };
                outcomes.push(Outcome { row_no: r.row_no, status, user: Some(done.user.id), error: None });
            }
            Err(InviteError::Store(e)) if !matches!(e, StoreError::Conflict(_)) => {
                // The store failed, not the row: keep what is done and let the job retry.
                record(state, batch.id, &outcomes).await?;
                return Err(InviteError::Store(e));
            }
            Err(e) => {
                let error = Some(e.to_string());
                outcomes.push(Outcome { row_no: r.row_no, status: row_status::FAILED, user: None, error });
            }
        }
    }
    record(state, batch.id, &outcomes).await?;
    Ok(rows.len())
}

/// Marks the batch finished (`completed` or `completedWithErrors`) with the audit entry "Batch
/// invites processed" holding the counts. Returns the counts.
pub async fn finish(state: &AppState, batch: &Batch, who: &Inviting) -> Result<Counts, InviteError> {
    let now = state.now_ms();
    let mut tx = state.dir.store.begin().await?;
    let counts = batches::counts(&mut tx, batch.id).await?;
    let status = if counts.failed > 0 { batch_status::COMPLETED_WITH_ERRORS } else { batch_status::COMPLETED };
    batches::set_status(&mut tx, batch.tenant_id, batch.id, status, Some(now)).await?;
    let succeeded = counts.invited + counts.already_invited;
    let target = batch_target(batch).with_changes(vec![
        ("Succeeded".into(), Value::Null, json!(succeeded)),
        ("Failed".into(), Value::Null, json!(counts.failed)),
    ]);
    let mut e = entry(
        batch.tenant_id,
        &who.actor,
        "Batch invites processed",
        "UserManagement",
        "Add",
        "Invited Users",
        &[target],
        now,
    );
    e.additional_details = json!([
        {"key": "BatchId", "value": batch.id.to_string()},
        {"key": "Total", "value": batch.total.to_string()},
        {"key": "Invited", "value": counts.invited.to_string()},
        {"key": "AlreadyInvited", "value": counts.already_invited.to_string()},
        {"key": "Succeeded", "value": succeeded.to_string()},
        {"key": "Failed", "value": counts.failed.to_string()},
    ]);
    audit_store::insert(&mut tx, &e).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(counts)
}

/// Runs the batch's open rows chunk by chunk to the end and finishes it. `between_chunks` runs
/// after each chunk with the number of rows it took (progress, lease extension); an error from it
/// stops the run.
pub async fn run_to_end<F, Fut>(
    state: &AppState,
    batch: &Batch,
    who: &Inviting,
    mut between_chunks: F,
) -> Result<Counts, InviteError>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<(), InviteError>>,
{
    {
        // The stored state decides (the caller's copy may be older than a run that finished it).
        let mut conn = state.dir.store.pool().acquire().await.map_err(StoreError::from)?;
        let now = batches::get(&mut conn, batch.tenant_id, batch.id)
            .await?
            .ok_or_else(|| InviteError::NotFound(format!("The invitation batch '{}'", batch.id)))?;
        if now.finished_at.is_some() {
            return Ok(batches::counts(&mut conn, batch.id).await?);
        }
        if now.status == batch_status::QUEUED {
            batches::set_status(&mut conn, batch.tenant_id, batch.id, batch_status::RUNNING, None).await?;
        }
    }
    loop {
        let n = process_chunk(state, batch, who, CHUNK).await?;
        if n == 0 {
            break;
        }
        between_chunks(n).await?;
    }
    finish(state, batch, who).await
}

/// The `invite_batch` job: payload `{"batchId", "inviter"}`. Extends its lease between chunks;
/// a batch that is gone (its tenant deleted) or already finished is done.
pub async fn run(state: &AppState, job: &Job) -> Result<(), String> {
    let tenant = job.tenant_id.ok_or("an invite_batch job needs a tenant")?;
    let id = job
        .payload
        .get("batchId")
        .and_then(Value::as_str)
        .and_then(ObjectId::parse)
        .ok_or("the job's payload has no batchId")?;
    let who = job.payload.get("inviter").and_then(inviter_from_json).ok_or("the job's payload has no inviter")?;
    let batch = {
        let mut conn = state.dir.store.pool().acquire().await.map_err(|e| e.to_string())?;
        batches::get(&mut conn, tenant, id).await.map_err(|e| e.to_string())?
    };
    let Some(batch) = batch else { return Ok(()) };
    let worker = job.locked_by.clone().unwrap_or_default();
    let extend = |_: usize| {
        let (state, worker) = (state.clone(), worker.clone());
        async move {
            let until = state.now_ms() + crate::jobs::LEASE_MS;
            let mut conn = state.dir.store.pool().acquire().await.map_err(StoreError::from)?;
            if jobs::extend_lease(&mut conn, job.id, &worker, until).await? {
                Ok(())
            } else {
                // Another worker holds the job now; it continues where this one stopped.
                Err(InviteError::Denied("the job's lease was lost".into()))
            }
        }
    };
    let counts = run_to_end(state, &batch, &who, extend).await.map_err(|e| e.to_string())?;
    tracing::info!(
        batch.id = %batch.id, invited = counts.invited, already_invited = counts.already_invited, failed = counts.failed,
        "invitation batch {} finished: {} invited, {} already invited, {} failed",
        batch.id, counts.invited, counts.already_invited, counts.failed
    );
    Ok(())
}
