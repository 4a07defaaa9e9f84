//! The invitation email: language by reference 1.7's order, rendered from the (overridable)
//! templates with the tenant's branding, and queued in the invitation's transaction for the job
//! worker to deliver (over SMTP, or into the outbox with the redemption link in the log).

use portico_store::StoreError;
use portico_store::b2b::Invitation;
use portico_store::tenants::{self, Tenant};
use portico_store::users::User;

use super::invite::Inviting;
use crate::app::AppState;
use crate::mail::{InvitationMail, Message, queue, render_invitation};
use crate::web::pages::Brand;

/// The language of an invitation mail: messageLanguage (ignored when a customized message is
/// set), the guest's preferredLanguage, the inviting tenant's language, then English.
pub fn language(message: &serde_json::Value, user: &User, tenant: &Tenant) -> &'static str {
    let custom = message["customizedMessageBody"].as_str().is_some_and(|s| !s.is_empty());
    let asked = if custom { None } else { message["messageLanguage"].as_str() };
    portico_core::locale::negotiate(
        asked.or(user.preferred_language.as_deref()),
        None,
        tenant.preferred_language.as_deref(),
    )
}

/// Renders and queues the invitation mail (and its one cc), due at `send_at`.
#[expect(clippy::too_many_arguments, reason = "one mail, many facts")]
pub async fn queue_invitation(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    tenant: &Tenant,
    invitation: &Invitation,
    user: &User,
    redeem_url: &str,
    who: &Inviting,
    send_at: i64,
) -> Result<(), StoreError> {
    let brand = Brand::of(tenant);
    let domain = tenants::list_domains(conn, tenant.id)
        .await?
        .into_iter()
        .find(|d| d.is_default)
        .map(|d| d.name)
        .unwrap_or_else(|| tenant.initial_domain.clone());
    let mail = InvitationMail {
        lang: language(&invitation.message, user, tenant),
        tenant_name: tenant.display_name.clone(),
        tenant_domain: domain,
        inviter_name: who.name.clone(),
        inviter_email: who.email.clone(),
        custom_message: invitation.message["customizedMessageBody"].as_str().map(str::to_owned),
        redeem_url: redeem_url.to_string(),
        redirect_url: invitation.redirect_url.clone(),
        privacy_url: brand.privacy_url.clone(),
        unsubscribe_url: crate::web::unsubscribe::unsubscribe_url(state, tenant.id, &invitation.email),
        brand_color: tenant.branding.get("backgroundColor").and_then(serde_json::Value::as_str).map(str::to_owned),
        sign_in_text: brand.sign_in_text.clone(),
    };
    let (subject, text, html) = render_invitation(&state.dir.settings.mail, &mail)
        .map_err(|e| StoreError::Corrupt(format!("the invitation mail template failed: {e}")))?;
    let cc = invitation.message["ccRecipients"][0]["emailAddress"]["address"].as_str().map(str::to_owned);
    let m = Message {
        to: invitation.email.clone(),
        cc,
        reply_to: who.email.clone(),
        sender_name: Some(tenant.display_name.clone()),
        subject,
        text,
        html: Some(html),
        purpose: "invitation".into(),
        log_link: Some(redeem_url.to_string()),
    };
    queue(conn, Some(tenant.id), &m, send_at, state.now_ms()).await?;
    Ok(())
}
