//! `/portico/mailOutbox`: the mail the caller's tenant sent or kept, newest first (a Portico
//! extension; Entra has no such resource). Administrators read one-time codes and invitation
//! links here when no SMTP server is configured, and delivery failures when one is. The bodies
//! hold redemption and reset links, so reading needs what creating users needs
//! (`User.ReadWrite.All`).

use axum::extract::State;
use axum::response::Response;
use portico_core::access::Action;
use portico_core::clock::graph_datetime;
use portico_store::list::Page;
use portico_store::outbox::{self, OutboxMail};
use serde_json::{Value, json};

use super::auth::Authed;
use super::error::{GraphError, GraphResult};
use super::query::{DEFAULT_TOP, QueryOptions};
use super::wire;
use crate::app::AppState;

/// A message in the API's shape.
pub fn render(m: &OutboxMail) -> Value {
    json!({
        "id": m.id.to_string(),
        "createdDateTime": graph_datetime(m.created_at),
        "to": m.recipient,
        "cc": m.cc,
        "replyTo": m.reply_to,
        "subject": m.subject,
        "status": m.status,
        "sentDateTime": m.sent_at.map(graph_datetime),
        "error": m.error,
        "purpose": m.purpose,
        "bodyText": m.body_text,
    })
}

/// GET /portico/mailOutbox (`$top` 1–999, default 100; newest first)
pub async fn list_mail_outbox(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::UsersWrite)?;
    let unsupported = [
        ("$filter", opts.filter.is_some()),
        ("$search", opts.search.is_some()),
        ("$orderby", opts.orderby.is_some()),
        ("$select", opts.select.is_some()),
        ("$count", opts.count),
        ("$skiptoken", opts.skiptoken.is_some()),
    ];
    if let Some((name, _)) = unsupported.iter().find(|(_, given)| *given) {
        return Err(GraphError::bad_request(format!(
            "The query option '{name}' is not supported on mailOutbox; use $top (at most 999)."
        )));
    }
    let top = opts.top.unwrap_or(DEFAULT_TOP);
    let mut conn = state.conn().await?;
    let mails = outbox::list(&mut conn, Some(auth.tenant()), top as i64).await?;
    let items = mails.iter().map(render).collect();
    Ok(wire::collection(
        &state.dir.settings.public_url,
        &opts,
        "portico/mailOutbox",
        Page { items, next: None, count: None },
        &[],
    ))
}
