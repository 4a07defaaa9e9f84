//! Mail the sign-in surface sends (one-time codes, password links). Until the delivery queue
//! lands (B2B issue), every message is kept in the store's outbox, in the transaction of what
//! caused it, and its arrival is logged so a developer on a fresh machine can follow links.

use portico_core::ids::{ObjectId, TenantId};
use portico_store::StoreError;
use portico_store::outbox::{self, OutboxMail};

/// Keeps a plain-text message in the outbox.
pub async fn keep(
    conn: &mut sqlx::AnyConnection,
    tenant: Option<TenantId>,
    to: &str,
    subject: &str,
    text: &str,
    purpose: &str,
    now: i64,
) -> Result<(), StoreError> {
    let m = OutboxMail {
        id: ObjectId::new(),
        tenant_id: tenant,
        created_at: now,
        recipient: to.to_string(),
        subject: subject.to_string(),
        body_text: text.to_string(),
        body_html: None,
        purpose: purpose.to_string(),
    };
    outbox::insert(conn, &m).await?;
    tracing::info!(mail.id = %m.id, mail.purpose = purpose, "mail for {to} kept in the outbox: {subject}");
    Ok(())
}
