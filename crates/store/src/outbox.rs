//! The mail outbox: every message the deployment sends is a row here, written in the
//! transaction of what caused it. A `mail` job of the queue ([`crate::jobs`]) then delivers it
//! over SMTP (`sent`) or, without SMTP (the embedded default), keeps it for administrators
//! (`kept`). Delivery itself is `portico-http`'s business.

use portico_core::ids::{ObjectId, TenantId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{StoreError, dynamic, opt_str};

/// Delivery states of a message.
pub mod status {
    /// Waiting for its job (also between failed attempts; `error` holds the last failure).
    pub const QUEUED: &str = "queued";
    /// Handed to the SMTP server.
    pub const SENT: &str = "sent";
    /// Kept in the outbox: no SMTP server is configured.
    pub const KEPT: &str = "kept";
    /// Delivery was given up (`error` says why).
    pub const FAILED: &str = "failed";
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    /// Id.
    pub id: ObjectId,
    /// The tenant it was sent for.
    pub tenant_id: Option<TenantId>,
    /// When (ms).
    pub created_at: i64,
    /// To.
    pub recipient: String,
    /// Cc (one address).
    pub cc: Option<String>,
    /// Reply-To (one address).
    pub reply_to: Option<String>,
    /// Who sends it, shown in the From name ("<sender> via <deployment>").
    pub sender_name: Option<String>,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body_text: String,
    /// HTML body.
    pub body_html: Option<String>,
    /// `password_reset`, `email_otp`, `invitation`, ...
    pub purpose: String,
    /// See [`status`].
    pub status: String,
    /// When it was handed to the SMTP server (ms).
    pub sent_at: Option<i64>,
    /// The last delivery failure.
    pub error: Option<String>,
}

fn from_row(r: &AnyRow) -> Result<OutboxMail, sqlx::Error> {
    let bad = |c: &str| sqlx::Error::Decode(format!("bad {c}").into());
    let id: String = r.try_get("id")?;
    Ok(OutboxMail {
        id: ObjectId::parse(&id).ok_or_else(|| bad("id"))?,
        tenant_id: match opt_str(r, "tenant_id")? {
            Some(t) => Some(TenantId::parse(&t).ok_or_else(|| bad("tenant_id"))?),
            None => None,
        },
        created_at: r.try_get("created_at")?,
        recipient: r.try_get("recipient")?,
        cc: opt_str(r, "cc")?,
        reply_to: opt_str(r, "reply_to")?,
        sender_name: opt_str(r, "sender_name")?,
        subject: r.try_get("subject")?,
        body_text: r.try_get("body_text")?,
        body_html: opt_str(r, "body_html")?,
        purpose: r.try_get("purpose")?,
        status: r.try_get("status")?,
        sent_at: r.try_get("sent_at")?,
        error: opt_str(r, "error")?,
    })
}

const COLUMNS: &str = "id, tenant_id, created_at, recipient, cc, reply_to, sender_name, subject, body_text, \
                       body_html, purpose, status, sent_at, error";

/// Stores a message.
pub async fn insert(conn: &mut AnyConnection, m: &OutboxMail) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mail_outbox (id, tenant_id, created_at, recipient, cc, reply_to, sender_name, subject, \
         body_text, body_html, purpose, status, sent_at, error) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(m.id.to_string())
    .bind(m.tenant_id.map(|t| t.to_string()))
    .bind(m.created_at)
    .bind(&m.recipient)
    .bind(m.cc.clone())
    .bind(m.reply_to.clone())
    .bind(m.sender_name.clone())
    .bind(&m.subject)
    .bind(&m.body_text)
    .bind(m.body_html.clone())
    .bind(&m.purpose)
    .bind(&m.status)
    .bind(m.sent_at)
    .bind(m.error.clone())
    .execute(conn)
    .await?;
    Ok(())
}

/// A message by id.
pub async fn get(conn: &mut AnyConnection, id: ObjectId) -> Result<Option<OutboxMail>, StoreError> {
    let row = dynamic(format!("SELECT {COLUMNS} FROM mail_outbox WHERE id = $1"))
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(from_row).transpose()?)
}

/// Sets a message's delivery state: `sent_at` is set with [`status::SENT`], `error` replaces the
/// recorded one (None clears it). Returns whether the message exists.
pub async fn set_status(
    conn: &mut AnyConnection,
    id: ObjectId,
    new_status: &str,
    sent_at: Option<i64>,
    error: Option<&str>,
) -> Result<bool, StoreError> {
    let error: Option<String> = error.map(|e| e.chars().take(2000).collect());
    let r = sqlx::query("UPDATE mail_outbox SET status = $2, sent_at = $3, error = $4 WHERE id = $1")
        .bind(id.to_string())
        .bind(new_status)
        .bind(sent_at)
        .bind(error)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// The newest messages first, optionally for one tenant.
pub async fn list(
    conn: &mut AnyConnection,
    tenant: Option<TenantId>,
    limit: i64,
) -> Result<Vec<OutboxMail>, StoreError> {
    let rows = match tenant {
        Some(t) => {
            dynamic(format!(
                "SELECT {COLUMNS} FROM mail_outbox WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
            ))
            .bind(t.to_string())
            .bind(limit)
            .fetch_all(conn)
            .await?
        }
        None => {
            dynamic(format!("SELECT {COLUMNS} FROM mail_outbox ORDER BY created_at DESC, id DESC LIMIT $1"))
                .bind(limit)
                .fetch_all(conn)
                .await?
        }
    };
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}
