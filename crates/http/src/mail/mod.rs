//! Mail the deployment sends (one-time codes, password links, invitations), durably.
//!
//! [`queue`] writes the message to the outbox (`portico_store::outbox`) and enqueues a `mail`
//! job (`portico_store::jobs`), both in the caller's transaction, so a message exists exactly
//! when what caused it committed. The job worker (`crate::jobs`) then runs [`deliver`]: over
//! SMTP when `MailSettings::smtp_url` is set ([`smtp`]), otherwise the message is kept in the
//! outbox and its arrival logged with the link it carries, so a developer on a fresh machine can
//! follow the flow. Delivery is at least once: a server that stops between handing a message to
//! the SMTP server and recording it may send it again.
//!
//! - [`smtp`]: the `smtp_url` forms and the MIME message.
//! - [`invitation`]: the invitation email's templates (English and German, overridable).

pub mod invitation;
pub mod smtp;

use portico_core::ids::{ObjectId, TenantId};
use portico_store::StoreError;
use portico_store::jobs::{self, Job};
use portico_store::outbox::{self, OutboxMail, status};
use serde_json::json;

pub use invitation::{InvitationMail, render_invitation};
pub use smtp::Mailer;

use crate::app::AppState;

/// The job kind that delivers one outbox message.
pub const JOB_KIND: &str = "mail";

/// A message to send.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// The recipient's address.
    pub to: String,
    /// One more recipient, copied.
    pub cc: Option<String>,
    /// Where replies go (an inviter's address).
    pub reply_to: Option<String>,
    /// On whose behalf it is sent: the From name becomes "<sender_name> via <from_name>".
    pub sender_name: Option<String>,
    /// Subject (one line).
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body (sent as an alternative to the text).
    pub html: Option<String>,
    /// `password_reset`, `email_otp`, `invitation`, ...
    pub purpose: String,
    /// The link the message is about (an invitation's redemption link). Logged when the message
    /// is kept instead of sent, never stored in the outbox row.
    pub log_link: Option<String>,
}

/// Writes `m` to the outbox (status `queued`) and enqueues its delivery, due at `send_at`, in
/// the caller's connection or transaction. Returns the outbox id.
pub async fn queue(
    conn: &mut sqlx::AnyConnection,
    tenant: Option<TenantId>,
    m: &Message,
    send_at: i64,
    now: i64,
) -> Result<ObjectId, StoreError> {
    let row = OutboxMail {
        id: ObjectId::new(),
        tenant_id: tenant,
        created_at: now,
        recipient: m.to.trim().to_string(),
        cc: m.cc.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned),
        reply_to: m.reply_to.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned),
        sender_name: m.sender_name.clone().filter(|s| !s.trim().is_empty()),
        subject: one_line(&m.subject),
        body_text: m.text.clone(),
        body_html: m.html.clone(),
        purpose: m.purpose.clone(),
        status: status::QUEUED.into(),
        sent_at: None,
        error: None,
    };
    outbox::insert(conn, &row).await?;
    let payload = json!({"mailId": row.id.to_string(), "logLink": m.log_link});
    jobs::enqueue(conn, &Job::new(tenant, JOB_KIND, payload, send_at, now)).await?;
    tracing::debug!(mail.id = %row.id, mail.purpose = %row.purpose, "mail for {} queued: {}", row.recipient, row.subject);
    Ok(row.id)
}

/// Queues a plain-text message for delivery now (the sign-in surface's one-time codes and
/// password links).
pub async fn keep(
    conn: &mut sqlx::AnyConnection,
    tenant: Option<TenantId>,
    to: &str,
    subject: &str,
    text: &str,
    purpose: &str,
    now: i64,
) -> Result<(), StoreError> {
    let m = Message {
        to: to.to_string(),
        subject: subject.to_string(),
        text: text.to_string(),
        purpose: purpose.to_string(),
        ..Message::default()
    };
    queue(conn, tenant, &m, now, now).await.map(|_| ())
}

/// A subject is one header line: control characters (CR, LF, tabs) become spaces.
fn one_line(s: &str) -> String {
    let s: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    s.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(255).collect()
}

/// What became of a `mail` job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Handed to the SMTP server.
    Sent,
    /// Kept in the outbox (no SMTP server configured).
    Kept,
    /// Nothing to do: the message is gone or was delivered before.
    Skipped,
    /// Failed; the job is queued again after a back-off.
    Retry,
    /// Failed for good; the message is marked `failed`.
    Failed,
    /// This worker lost the job's lease meanwhile; nothing was recorded.
    Lost,
}

impl Delivery {
    /// The `result` label of `portico_mail_sent_total`.
    pub fn label(self) -> &'static str {
        match self {
            Delivery::Sent => "sent",
            Delivery::Kept => "kept",
            Delivery::Skipped => "skipped",
            Delivery::Retry => "retry",
            Delivery::Failed => "failed",
            Delivery::Lost => "lost",
        }
    }
}

/// Runs a claimed `mail` job: delivers (or keeps) its message and records the outcome on the
/// message and the job in one transaction. A permanent SMTP refusal (5xx, a malformed address)
/// fails the job at once; other failures retry with the queue's back-off, and the last one marks
/// the message `failed`.
pub async fn deliver(state: &AppState, mailer: &Mailer, job: &Job, worker: &str) -> Result<Delivery, StoreError> {
    let store = &state.dir.store;
    let Some(id) = job.payload["mailId"].as_str().and_then(ObjectId::parse) else {
        let mut conn = store.pool().acquire().await?;
        jobs::give_up(&mut conn, job, worker, "the job names no outbox message (mailId)", state.now_ms()).await?;
        return Ok(Delivery::Failed);
    };
    let mut conn = store.pool().acquire().await?;
    let mail = outbox::get(&mut conn, id).await?;
    let mail = match mail {
        Some(m) if m.status != status::SENT && m.status != status::KEPT => m,
        _ => {
            jobs::complete(&mut conn, job.id, worker, state.now_ms()).await?;
            return Ok(Delivery::Skipped);
        }
    };
    drop(conn);
    let attempt = match mailer {
        Mailer::Keep => {
            let link = job.payload["logLink"].as_str().map(|l| format!(" (link: {l})")).unwrap_or_default();
            let mut tx = store.begin().await?;
            if !jobs::complete(&mut tx, job.id, worker, state.now_ms()).await? {
                return Ok(Delivery::Lost);
            }
            outbox::set_status(&mut tx, mail.id, status::KEPT, None, None).await?;
            tx.commit().await?;
            tracing::info!(
                mail.id = %mail.id,
                mail.to = %mail.recipient,
                mail.purpose = %mail.purpose,
                mail.link = job.payload["logLink"].as_str(),
                "mail for {} kept in the outbox (no SMTP server configured): {}{link}",
                mail.recipient,
                mail.subject
            );
            return Ok(Delivery::Kept);
        }
        Mailer::Smtp(smtp) => smtp.send(&mail).await,
        Mailer::Misconfigured(why) => Err(smtp::SendError { permanent: false, message: why.clone() }),
    };
    let now = state.now_ms();
    let mut tx = store.begin().await?;
    let outcome = match attempt {
        Ok(()) => {
            // Recorded even when another worker holds the job by now: it then finds the message
            // sent and skips it.
            jobs::complete(&mut tx, job.id, worker, now).await?;
            outbox::set_status(&mut tx, mail.id, status::SENT, Some(now), None).await?;
            tracing::info!(mail.id = %mail.id, mail.to = %mail.recipient, mail.purpose = %mail.purpose, "mail for {} sent: {}", mail.recipient, mail.subject);
            Delivery::Sent
        }
        Err(e) => {
            let recorded = if e.permanent {
                jobs::give_up(&mut tx, job, worker, &e.message, now).await?
            } else {
                jobs::fail(&mut tx, job, worker, &e.message, now).await?
            };
            match recorded {
                None => Delivery::Lost,
                Some(jobs::state::FAILED) => {
                    outbox::set_status(&mut tx, mail.id, status::FAILED, None, Some(&e.message)).await?;
                    tracing::warn!(mail.id = %mail.id, mail.to = %mail.recipient, error = %e.message, attempts = job.attempts, "mail for {} failed for good: {}", mail.recipient, e.message);
                    Delivery::Failed
                }
                Some(_) => {
                    outbox::set_status(&mut tx, mail.id, status::QUEUED, None, Some(&e.message)).await?;
                    tracing::warn!(mail.id = %mail.id, mail.to = %mail.recipient, error = %e.message, attempts = job.attempts, "mail for {} not sent (attempt {}), will retry: {}", mail.recipient, job.attempts, e.message);
                    Delivery::Retry
                }
            }
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_is_one_line_whatever_it_was_given() {
        assert_eq!(one_line("Hello\r\nBcc: evil@example.test\tthere "), "Hello Bcc: evil@example.test there");
        assert_eq!(one_line(&"x".repeat(400)).len(), 255);
    }
}
