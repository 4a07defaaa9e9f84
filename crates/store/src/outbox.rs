//! Mail kept instead of sent: the embedded default's outbox, which administrators read.

use portico_core::ids::{ObjectId, TenantId};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{StoreError, opt_str};

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
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body_text: String,
    /// HTML body.
    pub body_html: Option<String>,
    /// `password_reset`, `email_otp`, `invitation`, ...
    pub purpose: String,
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
        subject: r.try_get("subject")?,
        body_text: r.try_get("body_text")?,
        body_html: opt_str(r, "body_html")?,
        purpose: r.try_get("purpose")?,
    })
}

/// Keeps a message.
pub async fn insert(conn: &mut AnyConnection, m: &OutboxMail) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO mail_outbox (id, tenant_id, created_at, recipient, subject, body_text, body_html, purpose) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(m.id.to_string())
    .bind(m.tenant_id.map(|t| t.to_string()))
    .bind(m.created_at)
    .bind(&m.recipient)
    .bind(&m.subject)
    .bind(&m.body_text)
    .bind(m.body_html.clone())
    .bind(&m.purpose)
    .execute(conn)
    .await?;
    Ok(())
}

/// The newest messages first, optionally for one tenant.
pub async fn list(
    conn: &mut AnyConnection,
    tenant: Option<TenantId>,
    limit: i64,
) -> Result<Vec<OutboxMail>, StoreError> {
    let rows = match tenant {
        Some(t) => {
            sqlx::query("SELECT * FROM mail_outbox WHERE tenant_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2")
                .bind(t.to_string())
                .bind(limit)
                .fetch_all(conn)
                .await?
        }
        None => {
            sqlx::query("SELECT * FROM mail_outbox ORDER BY created_at DESC, id DESC LIMIT $1")
                .bind(limit)
                .fetch_all(conn)
                .await?
        }
    };
    Ok(rows.iter().map(from_row).collect::<Result<_, _>>()?)
}
