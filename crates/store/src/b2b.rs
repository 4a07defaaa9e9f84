//! B2B collaboration state: tenant policy documents, invitations with their hashed tickets,
//! guest sponsors, requests out to a home identity provider, and unsubscribed addresses.
//!
//! A ticket is spent with one conditional UPDATE, so two redemptions racing on one ticket link
//! exactly one identity.

use portico_core::ids::{ObjectId, TenantId};
use serde_json::Value as Json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::db::{StoreError, ci, flag, json_col, opt_str};
use crate::signin::{oid, opt_oid, tenant_of};

// ---------------------------------------------------------------------------------------------
// Policy documents

/// A tenant's policy document by name (`authorizationPolicy`, `b2bManagementPolicy`,
/// `externalIdentitiesPolicy`, `emailAuthenticationMethod`, ...); none until first written.
pub async fn policy(conn: &mut AnyConnection, tenant: TenantId, name: &str) -> Result<Option<Json>, StoreError> {
    let s: Option<String> =
        sqlx::query_scalar("SELECT document FROM tenant_policies WHERE tenant_id = $1 AND name = $2")
            .bind(tenant.to_string())
            .bind(name)
            .fetch_optional(conn)
            .await?;
    Ok(s.and_then(|s| serde_json::from_str(&s).ok()))
}

/// Writes a tenant's policy document.
pub async fn set_policy(
    conn: &mut AnyConnection,
    tenant: TenantId,
    name: &str,
    document: &Json,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO tenant_policies (tenant_id, name, document, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (tenant_id, name) DO UPDATE SET document = excluded.document, updated_at = excluded.updated_at",
    )
    .bind(tenant.to_string())
    .bind(name)
    .bind(document.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes a tenant's policy document (back to defaults); false if there was none.
pub async fn delete_policy(conn: &mut AnyConnection, tenant: TenantId, name: &str) -> Result<bool, StoreError> {
    let r = sqlx::query("DELETE FROM tenant_policies WHERE tenant_id = $1 AND name = $2")
        .bind(tenant.to_string())
        .bind(name)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() > 0)
}

// ---------------------------------------------------------------------------------------------
// Invitations

/// `PendingAcceptance` until redeemed, then `Completed`; `Revoked` when a newer invitation (a
/// reset) or an administrator ended it.
pub mod status {
    /// Waiting for the guest.
    pub const PENDING: &str = "PendingAcceptance";
    /// Redeemed.
    pub const COMPLETED: &str = "Completed";
    /// No longer usable.
    pub const REVOKED: &str = "Revoked";
}

/// One invitation.
#[derive(Debug, Clone, PartialEq)]
pub struct Invitation {
    /// Invitation id.
    pub id: ObjectId,
    /// Tenant.
    pub tenant_id: TenantId,
    /// The guest (or converted internal user).
    pub user_id: ObjectId,
    /// The invited address.
    pub email: String,
    /// Where the guest lands after redemption.
    pub redirect_url: String,
    /// SHA-256 digest of the ticket in the redeem URL.
    pub ticket_digest: String,
    /// The inviting user, when a user invited.
    pub invited_by: Option<ObjectId>,
    /// The inviter's display name (user or application), for pages and mail.
    pub inviter_name: Option<String>,
    /// Guest or Member.
    pub user_type: String,
    /// Whether an email goes out.
    pub send_message: bool,
    /// invitedUserMessageInfo as given (customizedMessageBody, ccRecipients, messageLanguage).
    pub message: Json,
    /// PendingAcceptance, Completed, Revoked.
    pub status: String,
    /// Created (ms).
    pub created_at: i64,
    /// When the mail goes out, if scheduled (ms).
    pub send_at: Option<i64>,
    /// The ticket stops working then (ms).
    pub expires_at: i64,
    /// Redeemed (ms).
    pub redeemed_at: Option<i64>,
    /// Revoked (ms).
    pub revoked_at: Option<i64>,
    /// Issuer of the identity that redeemed.
    pub redeemed_issuer: Option<String>,
    /// Subject of the identity that redeemed.
    pub redeemed_subject: Option<String>,
}

fn invitation_from_row(r: &AnyRow) -> Result<Invitation, sqlx::Error> {
    Ok(Invitation {
        id: oid(r, "id")?,
        tenant_id: tenant_of(r)?,
        user_id: oid(r, "user_id")?,
        email: r.try_get("email")?,
        redirect_url: r.try_get("redirect_url")?,
        ticket_digest: r.try_get("ticket_digest")?,
        invited_by: opt_oid(r, "invited_by")?,
        inviter_name: opt_str(r, "inviter_name")?,
        user_type: r.try_get("user_type")?,
        send_message: flag(r, "send_message")?,
        message: json_col(r, "message")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        send_at: r.try_get("send_at")?,
        expires_at: r.try_get("expires_at")?,
        redeemed_at: r.try_get("redeemed_at")?,
        revoked_at: r.try_get("revoked_at")?,
        redeemed_issuer: opt_str(r, "redeemed_issuer")?,
        redeemed_subject: opt_str(r, "redeemed_subject")?,
    })
}

/// Stores an invitation. Earlier pending invitations of the same user stop working: only the
/// latest link redeems.
pub async fn insert_invitation(conn: &mut AnyConnection, i: &Invitation) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE invitations SET status = $3, revoked_at = $4 WHERE tenant_id = $1 AND user_id = $2 AND status = $5",
    )
    .bind(i.tenant_id.to_string())
    .bind(i.user_id.to_string())
    .bind(status::REVOKED)
    .bind(i.created_at)
    .bind(status::PENDING)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO invitations (id, tenant_id, user_id, email, email_ci, redirect_url, ticket_digest, invited_by, \
         inviter_name, user_type, send_message, message, status, created_at, send_at, expires_at, redeemed_at, \
         revoked_at, redeemed_issuer, redeemed_subject) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
    )
    .bind(i.id.to_string())
    .bind(i.tenant_id.to_string())
    .bind(i.user_id.to_string())
    .bind(&i.email)
    .bind(ci(&i.email))
    .bind(&i.redirect_url)
    .bind(&i.ticket_digest)
    .bind(i.invited_by.map(|u| u.to_string()))
    .bind(i.inviter_name.clone())
    .bind(&i.user_type)
    .bind(i64::from(i.send_message))
    .bind(i.message.to_string())
    .bind(&i.status)
    .bind(i.created_at)
    .bind(i.send_at)
    .bind(i.expires_at)
    .bind(i.redeemed_at)
    .bind(i.revoked_at)
    .bind(i.redeemed_issuer.clone())
    .bind(i.redeemed_subject.clone())
    .execute(conn)
    .await?;
    Ok(())
}

/// The invitation whose ticket has this digest, in any state (the page explains which).
pub async fn invitation_by_ticket(
    conn: &mut AnyConnection,
    tenant: TenantId,
    digest: &str,
) -> Result<Option<Invitation>, StoreError> {
    let row = sqlx::query("SELECT * FROM invitations WHERE tenant_id = $1 AND ticket_digest = $2")
        .bind(tenant.to_string())
        .bind(digest)
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(invitation_from_row).transpose()?)
}

/// An invitation by id.
pub async fn get_invitation(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: ObjectId,
) -> Result<Option<Invitation>, StoreError> {
    let row = sqlx::query("SELECT * FROM invitations WHERE tenant_id = $1 AND id = $2")
        .bind(tenant.to_string())
        .bind(id.to_string())
        .fetch_optional(conn)
        .await?;
    Ok(row.as_ref().map(invitation_from_row).transpose()?)
}

/// The user's latest invitation.
pub async fn latest_invitation(
    conn: &mut AnyConnection,
    tenant: TenantId,
    user: ObjectId,
) -> Result<Option<Invitation>, StoreError> {
    let row = sqlx::query(
        "SELECT * FROM invitations WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(row.as_ref().map(invitation_from_row).transpose()?)
}

/// Spends a pending, unexpired invitation for an identity; false if it was not pending any more
/// (another redemption won the race, or it was revoked).
pub async fn complete_invitation(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: ObjectId,
    issuer: &str,
    subject: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE invitations SET status = $3, redeemed_at = $4, redeemed_issuer = $5, redeemed_subject = $6 \
         WHERE tenant_id = $1 AND id = $2 AND status = $7 AND expires_at > $4",
    )
    .bind(tenant.to_string())
    .bind(id.to_string())
    .bind(status::COMPLETED)
    .bind(now)
    .bind(issuer)
    .bind(subject)
    .bind(status::PENDING)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Revokes a user's pending invitations; returns how many.
pub async fn revoke_invitations(
    conn: &mut AnyConnection,
    tenant: TenantId,
    user: ObjectId,
    now: i64,
) -> Result<u64, StoreError> {
    let r = sqlx::query(
        "UPDATE invitations SET status = $3, revoked_at = $4 WHERE tenant_id = $1 AND user_id = $2 AND status = $5",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .bind(status::REVOKED)
    .bind(now)
    .bind(status::PENDING)
    .execute(conn)
    .await?;
    Ok(r.rows_affected())
}

/// The tenant's guest (or B2B member) invited at this address, deleted ones excluded: matched on
/// `mail`, `otherMails` and the identities' addresses, so one person never gets two accounts.
pub async fn user_by_invited_address(
    conn: &mut AnyConnection,
    tenant: TenantId,
    address: &str,
) -> Result<Option<ObjectId>, StoreError> {
    let a = ci(address);
    // Three index lookups joined by UNION: an OR across the three (with correlated EXISTS) made
    // both engines walk every user of the tenant, so bulk invitations slowed down quadratically.
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT u.id, u.created_at FROM users u WHERE u.tenant_id = $1 AND u.mail_ci = $2 \
         AND u.deleted_at IS NULL AND u.external_user_state IS NOT NULL \
         UNION SELECT u.id, u.created_at FROM users u \
         WHERE u.id IN (SELECT m.user_id FROM user_other_mails m WHERE m.value_ci = $2) \
         AND u.tenant_id = $1 AND u.deleted_at IS NULL AND u.external_user_state IS NOT NULL \
         UNION SELECT u.id, u.created_at FROM users u \
         WHERE u.id IN (SELECT i.user_id FROM invitations i WHERE i.tenant_id = $1 AND i.email_ci = $2 \
         AND i.status <> 'Revoked') \
         AND u.tenant_id = $1 AND u.deleted_at IS NULL AND u.external_user_state IS NOT NULL \
         ORDER BY 2, 1 LIMIT 1",
    )
    .bind(tenant.to_string())
    .bind(a)
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|(s, _)| ObjectId::parse(&s)))
}

/// Marks the external user state (`PendingAcceptance`, `Accepted`) and when it changed.
pub async fn set_external_state(
    conn: &mut AnyConnection,
    tenant: TenantId,
    user: ObjectId,
    state: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE users SET external_user_state = $3, external_user_state_changed_at = $4 WHERE tenant_id = $1 AND id = $2",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .bind(state)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Replaces a user's sign-in identities.
pub async fn set_identities(
    conn: &mut AnyConnection,
    user: ObjectId,
    identities: &[crate::users::Identity],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM user_identities WHERE user_id = $1").bind(user.to_string()).execute(&mut *conn).await?;
    for (pos, i) in identities.iter().enumerate() {
        sqlx::query(
            "INSERT INTO user_identities (user_id, position, sign_in_type, issuer, issuer_assigned_id, sign_in_type_ci, \
             issuer_ci, issuer_assigned_id_ci) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(user.to_string())
        .bind(pos as i64)
        .bind(&i.sign_in_type)
        .bind(&i.issuer)
        .bind(i.issuer_assigned_id.clone())
        .bind(ci(&i.sign_in_type))
        .bind(ci(&i.issuer))
        .bind(i.issuer_assigned_id.as_deref().map(ci))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The tenant's user linked to a federated identity (issuer, subject), deleted ones excluded.
pub async fn user_by_identity(
    conn: &mut AnyConnection,
    tenant: TenantId,
    issuer: &str,
    subject: &str,
) -> Result<Option<ObjectId>, StoreError> {
    let id: Option<String> = sqlx::query_scalar(
        "SELECT u.id FROM users u JOIN user_identities i ON i.user_id = u.id \
         WHERE u.tenant_id = $1 AND u.deleted_at IS NULL AND i.issuer_ci = $2 AND i.issuer_assigned_id_ci = $3 LIMIT 1",
    )
    .bind(tenant.to_string())
    .bind(ci(issuer))
    .bind(ci(subject))
    .fetch_optional(conn)
    .await?;
    Ok(id.and_then(|s| ObjectId::parse(&s)))
}

// ---------------------------------------------------------------------------------------------
// Sponsors

/// Adds a sponsor (user or group id); false if already there.
pub async fn add_sponsor(
    conn: &mut AnyConnection,
    tenant: TenantId,
    user: ObjectId,
    sponsor: ObjectId,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "INSERT INTO user_sponsors (tenant_id, user_id, sponsor_id, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (user_id, sponsor_id) DO NOTHING",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .bind(sponsor.to_string())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Removes a sponsor; false if it was not one.
pub async fn remove_sponsor(
    conn: &mut AnyConnection,
    tenant: TenantId,
    user: ObjectId,
    sponsor: ObjectId,
) -> Result<bool, StoreError> {
    let r = sqlx::query("DELETE FROM user_sponsors WHERE tenant_id = $1 AND user_id = $2 AND sponsor_id = $3")
        .bind(tenant.to_string())
        .bind(user.to_string())
        .bind(sponsor.to_string())
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// A user's sponsors' ids, oldest first.
pub async fn sponsors(conn: &mut AnyConnection, tenant: TenantId, user: ObjectId) -> Result<Vec<ObjectId>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT sponsor_id FROM user_sponsors WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at, sponsor_id",
    )
    .bind(tenant.to_string())
    .bind(user.to_string())
    .fetch_all(conn)
    .await?;
    Ok(ids.iter().filter_map(|s| ObjectId::parse(s)).collect())
}

// ---------------------------------------------------------------------------------------------
// Requests to a home identity provider

/// A browser sent to a home identity provider: what to check when it comes back.
#[derive(Debug, Clone, PartialEq)]
pub struct FederationRequest {
    /// The `state` sent to the provider.
    pub id: String,
    /// The resource tenant.
    pub tenant_id: TenantId,
    /// Digest of the browser-binding cookie: the answer must come back to the same browser.
    pub browser_digest: String,
    /// `redeem` or `sign_in`.
    pub purpose: String,
    /// What to continue (invitation id, login flow id, provider, expected address), JSON.
    pub context: Json,
    /// The nonce the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier.
    pub verifier: String,
    /// Created (ms).
    pub created_at: i64,
    /// Expires (ms).
    pub expires_at: i64,
}

/// Stores a request.
pub async fn insert_federation_request(conn: &mut AnyConnection, r: &FederationRequest) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO federation_requests (id, tenant_id, browser_digest, purpose, context, nonce, verifier, created_at, \
         expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&r.id)
    .bind(r.tenant_id.to_string())
    .bind(&r.browser_digest)
    .bind(&r.purpose)
    .bind(r.context.to_string())
    .bind(&r.nonce)
    .bind(&r.verifier)
    .bind(r.created_at)
    .bind(r.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes a live request (deleting it, so a `state` is answered once).
pub async fn take_federation_request(
    conn: &mut AnyConnection,
    tenant: TenantId,
    id: &str,
    now: i64,
) -> Result<Option<FederationRequest>, StoreError> {
    let row = sqlx::query("DELETE FROM federation_requests WHERE tenant_id = $1 AND id = $2 RETURNING *")
        .bind(tenant.to_string())
        .bind(id)
        .fetch_optional(conn)
        .await?;
    let Some(r) = row else { return Ok(None) };
    let req = FederationRequest {
        id: r.try_get("id")?,
        tenant_id: tenant_of(&r)?,
        browser_digest: r.try_get("browser_digest")?,
        purpose: r.try_get("purpose")?,
        context: json_col(&r, "context")?,
        nonce: r.try_get("nonce")?,
        verifier: r.try_get("verifier")?,
        created_at: r.try_get("created_at")?,
        expires_at: r.try_get("expires_at")?,
    };
    Ok((req.expires_at > now).then_some(req))
}

// ---------------------------------------------------------------------------------------------
// Unsubscribed addresses

/// Whether an address asked for no more invitations.
pub async fn is_unsubscribed(conn: &mut AnyConnection, address: &str) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_unsubscribed WHERE address_ci = $1")
        .bind(ci(address))
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}

/// Records or lifts an address's "block future invitations"; true if something changed.
pub async fn set_unsubscribed(
    conn: &mut AnyConnection,
    address: &str,
    unsubscribed: bool,
    now: i64,
) -> Result<bool, StoreError> {
    let r = if unsubscribed {
        sqlx::query("INSERT INTO mail_unsubscribed (address_ci, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(ci(address))
            .bind(now)
            .execute(conn)
            .await?
    } else {
        sqlx::query("DELETE FROM mail_unsubscribed WHERE address_ci = $1").bind(ci(address)).execute(conn).await?
    };
    Ok(r.rows_affected() > 0)
}

/// Purges state that ended: federation requests past their expiry.
pub async fn purge_expired(conn: &mut AnyConnection, now: i64) -> Result<u64, StoreError> {
    let r = sqlx::query("DELETE FROM federation_requests WHERE expires_at <= $1").bind(now).execute(conn).await?;
    Ok(r.rows_affected())
}

// ---------------------------------------------------------------------------------------------
// Home tenants in this deployment

/// The tenant (other than `except`) that owns `domain` as a verified or initial domain.
pub async fn tenant_owning_domain(
    conn: &mut AnyConnection,
    domain: &str,
    except: TenantId,
) -> Result<Option<TenantId>, StoreError> {
    let t: Option<String> = sqlx::query_scalar(
        "SELECT tenant_id FROM domains WHERE lower(name) = $1 AND (is_verified = 1 OR is_initial = 1) AND tenant_id <> $2 \
         ORDER BY created_at LIMIT 1",
    )
    .bind(ci(domain))
    .bind(except.to_string())
    .fetch_optional(conn)
    .await?;
    Ok(t.and_then(|s| TenantId::parse(&s)))
}

/// The one tenant (other than `except`) where `address` is a member's mail or UPN; none when no
/// tenant or several tenants claim it.
pub async fn tenant_with_member(
    conn: &mut AnyConnection,
    address: &str,
    except: TenantId,
) -> Result<Option<TenantId>, StoreError> {
    let ts: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT tenant_id FROM users WHERE (mail_ci = $1 OR upn_ci = $1) AND deleted_at IS NULL \
         AND external_user_state IS NULL AND user_type = 'Member' AND tenant_id <> $2 LIMIT 2",
    )
    .bind(ci(address))
    .bind(except.to_string())
    .fetch_all(conn)
    .await?;
    Ok(if ts.len() == 1 { TenantId::parse(&ts[0]) } else { None })
}
