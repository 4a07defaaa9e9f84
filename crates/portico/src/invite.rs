//! `portico invite import`: bulk invitations from Entra's bulk-invite CSV, run directly against
//! the store (no server needed) through the same code as `POST /portico/inviteBatches`
//! ([`portico_http::b2b::batch`]), and resumable after an interruption.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Subcommand;
use portico_http::AppState;
use portico_http::b2b::batch;
use portico_http::b2b::invite::Inviting;
use portico_http::directory::Directory;
use portico_store::StoreError;
use portico_store::batches::{self, row_status};
use serde_json::{Value, json};

use crate::admin;

#[derive(Debug, Subcommand)]
pub enum InviteCommand {
    /// Invite every row of a bulk-invite CSV file (Entra's template) into a tenant.
    ///
    /// The file is Entra's bulk-invite template: an optional first row `version:v1.0`, then the
    /// headings, then one row per person. Columns are matched by the property name in brackets
    /// (any order, case-insensitive; other columns are ignored):
    ///
    ///   version:v1.0
    ///   Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Send invitation message (true or false) [sendEmail],Customized invitation message [customizedMessageBody],Display name [invitedUserDisplayName]
    ///   ada@partner.test,https://myapps.example.com,true,Welcome to the project!,Ada Lovelace
    ///
    /// Portico also reads [scheduledSendDateTime] (ISO 8601: the guest is created now, the mail
    /// goes at that time). A blank sendEmail means true. Mail is queued for the server's worker
    /// (`portico serve`) to send.
    ///
    /// An address that already has a guest is invited again, never duplicated, and reported as
    /// already invited. Rows with a missing or invalid address or URL fail one by one; the others
    /// go on. Interrupted (Ctrl-C, a crash)? Run the same command again: it continues the
    /// unfinished import of the same file (recognised by its SHA-256) where it stopped.
    ///
    /// Prints a summary (invited, already invited, failed with each failed row's reason); with
    /// --json, a JSON object. A progress bar goes to stderr.
    ///
    /// Example: portico invite import partners.csv --tenant contoso.test
    #[command(verbatim_doc_comment)]
    Import {
        /// The CSV file.
        #[arg(value_name = "FILE.csv")]
        file: PathBuf,
        /// Tenant id or verified domain.
        #[arg(long)]
        tenant: String,
    },
}

/// `portico invite ...`
pub async fn run(dir: Directory, cmd: InviteCommand, json: bool) -> anyhow::Result<()> {
    match cmd {
        InviteCommand::Import { file, tenant } => import(dir, &file, &tenant, json).await,
    }
}

async fn import(dir: Directory, file: &std::path::Path, tenant: &str, json: bool) -> anyhow::Result<()> {
    let data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let tenant = admin::tenant_id(&dir, tenant).await?;
    let state = AppState { dir, metrics: None };
    let parsed = match batch::parse_csv(&data, state.now_ms()) {
        Ok(p) => p,
        Err(e) => bail!("{}: {e}", file.display()),
    };
    let who = Inviting::command_line();
    // The schema has no column for the file's digest; `created_by` carries it ("cli:<sha256>"),
    // which is what a re-run looks for to resume instead of starting over.
    let created_by = format!("cli:{}", parsed.digest);
    let existing = {
        let mut conn = state.dir.store.pool().acquire().await.map_err(StoreError::from)?;
        batches::unfinished_by(&mut conn, tenant, &created_by).await?
    };
    let (b, resumed) = match existing {
        Some(b) => (b, true),
        None => (batch::create(&state, tenant, &parsed.rows, &created_by, &who, false).await?, false),
    };
    let before = {
        let mut conn = state.dir.store.pool().acquire().await.map_err(StoreError::from)?;
        batches::counts(&mut conn, b.id).await?
    };
    if resumed {
        eprintln!("Resuming the unfinished import {} of this file: {} of {} rows left.", b.id, before.pending, b.total);
    }
    let pb = indicatif::ProgressBar::new(b.total as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {per_sec}  eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb.set_position((b.total - before.pending) as u64);
    let counts = batch::run_to_end(&state, &b, &who, |n| {
        pb.inc(n as u64);
        async { Ok(()) }
    })
    .await?;
    pb.finish_and_clear();
    let mut failed = vec![];
    let mut after = 0;
    let mut conn = state.dir.store.pool().acquire().await.map_err(StoreError::from)?;
    loop {
        let page = batches::list_rows(&mut conn, b.id, after, Some(row_status::FAILED), 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.row_no;
        for r in &page {
            let input: batch::RowInput = serde_json::from_str(&r.input).unwrap_or_default();
            failed.push(json!({"row": r.row_no, "email": input.email, "error": r.error}));
        }
    }
    let summary = json!({
        "batchId": b.id.to_string(),
        "tenantId": tenant.to_string(),
        "resumed": resumed,
        "total": b.total,
        "invited": counts.invited,
        "alreadyInvited": counts.already_invited,
        "failed": counts.failed,
        "failedRows": failed,
    });
    let mut text = format!(
        "Imported {} rows into tenant {tenant} (batch {}):\n  invited:          {}\n  already invited:  {}\n  failed:           {}",
        b.total, b.id, counts.invited, counts.already_invited, counts.failed
    );
    for f in &failed {
        text.push_str(&format!(
            "\n    row {}: {}: {}",
            f["row"],
            f["email"].as_str().unwrap_or_default(),
            f["error"].as_str().unwrap_or_default()
        ));
    }
    admin::print(json, Value::clone(&summary), &text)
}
