//! Inviting: the rules of Graph's `POST /invitations`, shared by the API, bulk jobs and the CLI.
//!
//! Order of checks (reference 14.1): who may invite (`allowInvitesFrom` with the inviter's kind),
//! the address, the domain allow or deny list, then one transaction that finds or creates the
//! guest, stores the invitation with a hashed single-use ticket, names the sponsor, queues the
//! mail (or records why none was sent) and writes the audit entries.

use portico_core::access::{Caller, Principal};
use portico_core::b2b::{self as rules, Inviter};
use portico_core::ids::{ObjectId, TenantId};
use portico_core::secret;
use portico_store::b2b::{self as store, Invitation, status};
use portico_store::users::{self, Identity, User};
use portico_store::{StoreError, audit as audit_store, tenants};
use serde_json::{Value, json};

use super::policy;
use crate::app::AppState;
use crate::audit::{Actor, Target, entry};
use crate::graph::error::GraphError;

/// Global Administrator, User Administrator and Guest Inviter: "admins and guest inviters".
const INVITER_ROLES: &[&str] = &[
    "62e90394-69f5-4237-9190-012177145e10",
    "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "95e79109-95c0-4d8e-aee3-d01accf2d47b",
];
/// Global Administrator and User Administrator: may invite members and reset redemption.
const USER_ADMIN_ROLES: &[&str] = &["62e90394-69f5-4237-9190-012177145e10", "fe930be7-5e62-47db-91af-98c3a49a38b1"];
/// Helpdesk Administrator: may reset redemption too.
const HELPDESK: &str = "729827e3-9c14-49f7-bb1b-9608f156bbb8";

/// invitedUserMessageInfo.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageInfo {
    /// customizedMessageBody (plain text).
    pub body: Option<String>,
    /// The one ccRecipient's address.
    pub cc: Option<String>,
    /// The cc recipient's name.
    pub cc_name: Option<String>,
    /// messageLanguage.
    pub language: Option<String>,
}

impl MessageInfo {
    /// Graph's shape.
    pub fn to_json(&self) -> Value {
        json!({
            "messageLanguage": self.language,
            "customizedMessageBody": self.body,
            "ccRecipients": [{"emailAddress": {"name": self.cc_name, "address": self.cc}}],
        })
    }
}

/// What to invite.
#[derive(Debug, Clone, Default)]
pub struct InviteInput {
    /// invitedUserEmailAddress.
    pub email: String,
    /// inviteRedirectUrl.
    pub redirect_url: String,
    /// invitedUserDisplayName.
    pub display_name: Option<String>,
    /// invitedUserType (`Guest` or `Member`).
    pub user_type: Option<String>,
    /// sendInvitationMessage.
    pub send_message: bool,
    /// invitedUserMessageInfo.
    pub message: MessageInfo,
    /// resetRedemption.
    pub reset_redemption: bool,
    /// invitedUser.id (reset, or an internal user invited to B2B).
    pub invited_user_id: Option<ObjectId>,
    /// invitedUserSponsors (default: the inviting user).
    pub sponsors: Vec<ObjectId>,
    /// Send the mail later (ms).
    pub send_at: Option<i64>,
}

/// Who invites.
#[derive(Debug, Clone)]
pub struct Inviting {
    /// For audit records.
    pub actor: Actor,
    /// The kind the policy judges.
    pub kind: Inviter,
    /// The inviting user.
    pub user: Option<ObjectId>,
    /// The name the guest sees.
    pub name: String,
    /// The inviter's address (Reply-To).
    pub email: Option<String>,
    /// May invite members and reset redemption.
    pub user_admin: bool,
    /// May reset redemption.
    pub may_reset: bool,
    /// An application acting as itself.
    pub app_only: bool,
}

impl Inviting {
    /// The command line: an operator on the server, treated as an administrator.
    pub fn command_line() -> Self {
        Inviting {
            actor: Actor::CommandLine,
            kind: Inviter::Admin,
            user: None,
            name: "An administrator".into(),
            email: None,
            user_admin: true,
            may_reset: true,
            app_only: false,
        }
    }

    /// The inviter behind an API caller (its user looked up for name, mail and userType).
    pub async fn of(state: &AppState, caller: &Caller) -> Result<Self, InviteError> {
        let actor = Actor::of(caller);
        match &caller.principal {
            Principal::Application { display_name, .. } => {
                let writes = caller.app_permissions.iter().any(|p| {
                    p.eq_ignore_ascii_case("User.ReadWrite.All") || p.eq_ignore_ascii_case("Directory.ReadWrite.All")
                });
                Ok(Inviting {
                    actor,
                    kind: Inviter::Application,
                    user: None,
                    name: display_name.clone(),
                    email: None,
                    user_admin: writes,
                    may_reset: writes,
                    app_only: true,
                })
            }
            Principal::User { user_id, .. } => {
                let mut conn = state.dir.store.pool().acquire().await.map_err(StoreError::from)?;
                let u = users::get(&mut conn, caller.tenant, *user_id, users::Deleted::Exclude)
                    .await?
                    .ok_or_else(|| InviteError::Denied("The signed-in user no longer exists.".into()))?;
                let has = |ids: &[&str]| caller.role_template_ids.iter().any(|w| ids.iter().any(|r| r == w));
                let kind = if has(INVITER_ROLES) {
                    Inviter::Admin
                } else if u.user_type.eq_ignore_ascii_case("Guest") {
                    Inviter::Guest
                } else {
                    Inviter::Member
                };
                Ok(Inviting {
                    actor,
                    kind,
                    user: Some(u.id),
                    name: u.display_name.clone(),
                    email: u.mail.clone(),
                    user_admin: has(USER_ADMIN_ROLES),
                    may_reset: has(USER_ADMIN_ROLES) || has(&[HELPDESK]),
                    app_only: false,
                })
            }
        }
    }
}

/// Why an invitation was refused.
#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    /// The caller may not do this.
    #[error("{0}")]
    Denied(String),
    /// Bad input.
    #[error("{0}")]
    Invalid(String),
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<InviteError> for GraphError {
    fn from(e: InviteError) -> Self {
        match e {
            InviteError::Denied(m) => {
                GraphError::new(axum::http::StatusCode::FORBIDDEN, "Authorization_RequestDenied", m)
            }
            InviteError::Invalid(m) => GraphError::bad_request(m),
            InviteError::NotFound(m) => GraphError::new(
                axum::http::StatusCode::NOT_FOUND,
                "Request_ResourceNotFound",
                format!("{m} does not exist."),
            ),
            InviteError::Store(s) => s.into(),
        }
    }
}

/// What an invitation produced.
#[derive(Debug, Clone)]
pub struct Invited {
    /// The stored invitation.
    pub invitation: Invitation,
    /// The guest (or converted member).
    pub user: User,
    /// The redemption link (holds the ticket; shown once).
    pub redeem_url: String,
    /// PendingAcceptance or Completed (already redeemed).
    pub status: &'static str,
    /// Whether the user object was created now.
    pub created: bool,
    /// Whether a mail was queued.
    pub mailed: bool,
}

/// The redemption link of a ticket.
pub fn redeem_url(state: &AppState, tenant: TenantId, ticket: &str) -> String {
    format!("{}/{tenant}/redeem?ticket={ticket}", state.dir.settings.public_url)
}

fn check_redirect(url: &str) -> Result<(), InviteError> {
    let bad = || {
        InviteError::Invalid("Property inviteRedirectUrl is invalid: it must be an absolute http or https URL.".into())
    };
    let u = url::Url::parse(url).map_err(|_| bad())?;
    if !matches!(u.scheme(), "https" | "http") || u.host_str().is_none() || url.len() > 2048 {
        return Err(bad());
    }
    Ok(())
}

/// Checks what can be checked before a transaction: the policy, the address, the domain list.
/// Returns the address's (local part, domain).
pub async fn precheck(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    input: &InviteInput,
    who: &Inviting,
) -> Result<(String, String), InviteError> {
    let from = policy::invites_from(conn, tenant).await?;
    if !rules::may_invite(from, who.kind) {
        return Err(InviteError::Denied(
            "Guest invitations not allowed for your company. Contact your company administrator for more details."
                .into(),
        ));
    }
    let (local, domain) = rules::invited_address(&input.email).ok_or_else(|| {
        InviteError::Invalid(format!(
            "Property invitedUserEmailAddress is invalid: '{}' is not a valid email address.",
            input.email.chars().take(256).collect::<String>()
        ))
    })?;
    check_redirect(&input.redirect_url)?;
    if !policy::domain_list(conn, tenant).await?.allows(&domain) {
        return Err(InviteError::Invalid(format!(
            "The invitation could not be sent: the domain '{domain}' is blocked by the organization's B2B collaboration settings (domain allow or deny list)."
        )));
    }
    match input.user_type.as_deref() {
        None => {}
        Some(t) if t.eq_ignore_ascii_case("Guest") => {}
        Some(t) if t.eq_ignore_ascii_case("Member") && !who.user_admin => {
            return Err(InviteError::Denied(
                "Only a User Administrator or Global Administrator may invite users as members.".into(),
            ));
        }
        Some(t) if t.eq_ignore_ascii_case("Member") => {}
        Some(_) => return Err(InviteError::Invalid("Property invitedUserType must be 'Guest' or 'Member'.".into())),
    }
    if input.message.body.as_ref().is_some_and(|b| b.chars().count() > 10_000) {
        return Err(InviteError::Invalid("customizedMessageBody is too long (10,000 characters at most).".into()));
    }
    if let Some(cc) = &input.message.cc
        && portico_core::validate::address(cc).is_none()
    {
        return Err(InviteError::Invalid("ccRecipients holds an invalid email address.".into()));
    }
    if input.reset_redemption {
        if input.invited_user_id.is_none() {
            return Err(InviteError::Invalid("invitedUser.id is required when resetRedemption is true.".into()));
        }
        if !who.may_reset {
            return Err(InviteError::Denied(
                "Resetting redemption needs the Helpdesk Administrator, User Administrator or Global Administrator role, or User.ReadWrite.All."
                    .into(),
            ));
        }
    }
    Ok((local, domain))
}

async fn upn_taken(conn: &mut sqlx::AnyConnection, tenant: TenantId, upn: &str) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND upn_ci = $2")
        .bind(tenant.to_string())
        .bind(upn.to_lowercase())
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}

async fn member_with_address(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    address: &str,
) -> Result<bool, StoreError> {
    let a = address.to_lowercase();
    // Two index lookups: `mail_ci = $2 OR upn_ci = $2` walked every user of the tenant.
    let n: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND mail_ci = $2 AND deleted_at IS NULL \
         AND external_user_state IS NULL) + (SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND upn_ci = $2 \
         AND deleted_at IS NULL AND external_user_state IS NULL)",
    )
    .bind(tenant.to_string())
    .bind(a)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Invites (see the module comment). Retries once when a concurrent invitation of the same new
/// address won the race for the guest, so both calls return the same guest.
pub async fn invite(
    state: &AppState,
    tenant: TenantId,
    input: &InviteInput,
    who: &Inviting,
) -> Result<Invited, InviteError> {
    {
        let mut conn = state.dir.store.pool().acquire().await.map_err(StoreError::from)?;
        precheck(&mut conn, tenant, input, who).await?;
    }
    match invite_once(state, tenant, input, who).await {
        Err(InviteError::Store(StoreError::Conflict(_))) => invite_once(state, tenant, input, who).await,
        other => other,
    }
}

async fn invite_once(
    state: &AppState,
    tenant: TenantId,
    input: &InviteInput,
    who: &Inviting,
) -> Result<Invited, InviteError> {
    let now = state.now_ms();
    let (local, domain) = rules::invited_address(&input.email)
        .ok_or_else(|| InviteError::Invalid("Property invitedUserEmailAddress is invalid.".into()))?;
    let email = format!("{local}@{domain}");
    let mut tx = state.dir.store.begin().await?;
    let t = tenants::get(&mut tx, tenant).await?.ok_or_else(|| InviteError::NotFound("the tenant".into()))?;
    let mut audits: Vec<(&str, Target)> = vec![];
    let target_of = |u: &User| {
        let mut x = Target::new(u.id, "User", Some(u.display_name.clone()));
        x.user_principal_name = Some(u.user_principal_name.clone());
        x
    };

    // Find or create the user.
    let (mut user, created, activity) = if let Some(id) = input.invited_user_id {
        let mut u = users::get(&mut tx, tenant, id, users::Deleted::Exclude)
            .await?
            .ok_or_else(|| InviteError::NotFound(format!("The invited user '{id}'")))?;
        let known = u.mail.as_deref().is_some_and(|m| m.eq_ignore_ascii_case(&email))
            || u.other_mails.iter().any(|m| m.eq_ignore_ascii_case(&email));
        if input.reset_redemption {
            if who.app_only && has_directory_roles(&mut tx, tenant, u.id).await? {
                return Err(InviteError::Denied(
                    "An application cannot reset the redemption of a user who holds directory roles.".into(),
                ));
            }
            // The new address becomes the sign-in address; the UPN stays.
            if !known
                && let Some(old) = u.mail.replace(email.clone())
                && !u.other_mails.iter().any(|m| m.eq_ignore_ascii_case(&old))
            {
                u.other_mails.push(old);
            }
            revoke_sign_in(&mut tx, tenant, u.id, now).await?;
            let kept: Vec<Identity> =
                u.identities.iter().filter(|i| i.sign_in_type == "userPrincipalName").cloned().collect();
            u.identities = kept;
            (u, false, "Invite external user with reset invitation status")
        } else {
            if u.external_user_state.is_some() {
                return Err(InviteError::Invalid(
                    "The user is already an external user; use resetRedemption to invite them again.".into(),
                ));
            }
            if !known {
                return Err(InviteError::Invalid(
                    "To invite an internal user to B2B collaboration, invitedUserEmailAddress must be the user's mail or one of their otherMails."
                        .into(),
                ));
            }
            // The member keeps object id, UPN, groups and apps, and from now on signs in with
            // their external identity (one way).
            u.password_hash = None;
            revoke_sign_in(&mut tx, tenant, u.id, now).await?;
            (u, false, "Invite internal user to B2B collaboration")
        }
    } else if let Some(id) = store::user_by_invited_address(&mut tx, tenant, &email).await? {
        let u = users::get(&mut tx, tenant, id, users::Deleted::Exclude)
            .await?
            .ok_or_else(|| InviteError::NotFound("the invited user".into()))?;
        (u, false, "Invite external user")
    } else {
        if member_with_address(&mut tx, tenant, &email).await? {
            return Err(InviteError::Invalid(format!(
                "A member of this organization already signs in as '{email}'. To invite them to B2B collaboration, send invitedUser.id."
            )));
        }
        let mut upn = rules::guest_upn(&local, &domain, &t.initial_domain);
        if upn_taken(&mut tx, tenant, &upn).await? {
            // A deleted guest still holds the name; Entra adds a suffix as well.
            let (head, tail) = upn.split_once("#EXT#").unwrap_or((&upn, ""));
            upn = format!("{head}{}#EXT#{tail}", &secret::random_digits(4));
        }
        let display = input
            .display_name
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| s.chars().take(256).collect())
            .unwrap_or_else(|| local.clone());
        let user_type = if input.user_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("Member")) {
            "Member"
        } else {
            "Guest"
        };
        let u = User {
            id: ObjectId::new(),
            tenant_id: tenant,
            user_principal_name: upn.clone(),
            display_name: display,
            given_name: None,
            surname: None,
            mail: Some(email.clone()),
            mail_nickname: Some(upn.split('#').next().unwrap_or_default().to_string()),
            other_mails: vec![],
            identities: vec![Identity {
                sign_in_type: "userPrincipalName".into(),
                issuer: t.initial_domain.clone(),
                issuer_assigned_id: Some(upn),
            }],
            account_enabled: true,
            user_type: user_type.into(),
            creation_type: Some("Invitation".into()),
            external_user_state: Some(status::PENDING.into()),
            external_user_state_changed_at: Some(now),
            preferred_language: None,
            company_name: None,
            job_title: None,
            department: None,
            password_hash: None,
            force_change_password: false,
            password_changed_at: None,
            created_at: now,
            deleted_at: None,
        };
        users::insert(&mut tx, &u).await?;
        audits.push(("Add user", target_of(&u)));
        (u, true, "Invite external user")
    };

    let already_accepted = !input.reset_redemption
        && input.invited_user_id.is_none()
        && user.external_user_state.as_deref() == Some("Accepted");
    if !created && !already_accepted {
        if user.external_user_state.as_deref() != Some(status::PENDING) || input.invited_user_id.is_some() {
            user.external_user_state = Some(status::PENDING.into());
            user.external_user_state_changed_at = Some(now);
        }
        users::update(&mut tx, &user).await?;
    }

    let ticket = secret::random_token(32);
    let invitation = Invitation {
        id: ObjectId::new(),
        tenant_id: tenant,
        user_id: user.id,
        email: email.clone(),
        redirect_url: input.redirect_url.clone(),
        ticket_digest: secret::token_digest(&ticket),
        invited_by: who.user,
        inviter_name: Some(who.name.clone()),
        user_type: user.user_type.clone(),
        send_message: input.send_message,
        message: input.message.to_json(),
        status: if already_accepted { status::COMPLETED.into() } else { status::PENDING.into() },
        created_at: now,
        send_at: input.send_at,
        expires_at: now + state.dir.settings.b2b.invitation_days * 86_400_000,
        redeemed_at: None,
        revoked_at: None,
        redeemed_issuer: None,
        redeemed_subject: None,
    };
    // For an accepted guest the record only remembers that the address was invited again
    // (it has no pending invitation for the insert to revoke).
    store::insert_invitation(&mut tx, &invitation).await?;
    let mut invited_target = target_of(&user);
    invited_target.modified = vec![
        ("InvitedUserEmailAddress".into(), Value::Null, json!(email)),
        ("InviteRedirectUrl".into(), Value::Null, json!(input.redirect_url)),
    ];
    audits.push((activity, invited_target));

    // Sponsors: the ones named, else the inviting user.
    let sponsors: Vec<ObjectId> =
        if input.sponsors.is_empty() { who.user.into_iter().collect() } else { input.sponsors.clone() };
    for s in sponsors {
        if s != user.id && store::add_sponsor(&mut tx, tenant, user.id, s, now).await? {
            let mut x = target_of(&user);
            x.modified = vec![("Sponsor".into(), Value::Null, json!(s.to_string()))];
            audits.push(("Add user sponsor", x));
        }
    }

    let url = redeem_url(state, tenant, &ticket);
    let mut mailed = false;
    if input.send_message && !already_accepted {
        if store::is_unsubscribed(&mut tx, &email).await? {
            audits.push(("Email not sent, user unsubscribed", target_of(&user)));
        } else {
            super::mail::queue_invitation(
                state,
                &mut tx,
                &t,
                &invitation,
                &user,
                &url,
                who,
                input.send_at.unwrap_or(now),
            )
            .await?;
            mailed = true;
        }
    }
    for (activity, target) in audits {
        audit_store::insert(
            &mut tx,
            &entry(tenant, &who.actor, activity, "UserManagement", "Add", "Invited Users", &[target], now),
        )
        .await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    metrics::counter!("portico_invitations_total", "result" => "created").increment(1);
    Ok(Invited {
        status: if already_accepted { status::COMPLETED } else { status::PENDING },
        invitation,
        user,
        redeem_url: url,
        created,
        mailed,
    })
}

async fn has_directory_roles(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    user: ObjectId,
) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM role_assignments WHERE tenant_id = $1 AND principal_id = $2")
        .bind(tenant.to_string())
        .bind(user.to_string())
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}

/// Ends the user's sessions and grants: a reset identity must sign in again.
async fn revoke_sign_in(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    user: ObjectId,
    now: i64,
) -> Result<(), StoreError> {
    portico_store::signin::revoke_user(conn, tenant, user, now, "redemption reset").await?;
    Ok(())
}
