//! My Account at a tenant: who the signed-in person is there, and for guests the self-service
//! "Leave organization" (`externalIdentitiesPolicy.allowExternalIdentitiesToLeave`). Leaving
//! soft-deletes the guest object (it shows in deleted items), ends its sessions and tokens, and
//! the hourly upkeep purges it 30 days later like every deleted object.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use portico_core::ids::TenantId;
use portico_store::{audit as audit_store, signin, users};

use super::pages::{Brand, render};
use super::{Client, PageError, check_csrf, cookie, field, session_cookie_name};
use crate::app::AppState;
use crate::audit::{Actor, Target, entry};
use crate::b2b::policy;

async fn signed_in(
    state: &AppState,
    key: &str,
    client: &Client,
) -> Result<(TenantId, Brand, String, Option<(signin::Session, users::User)>), PageError> {
    let tenant = TenantId::parse(key).ok_or_else(|| PageError::unknown_tenant(key))?;
    let mut conn = super::conn(state).await?;
    let t = portico_store::tenants::get(&mut conn, tenant).await?.ok_or_else(|| PageError::unknown_tenant(key))?;
    drop(conn);
    let brand = Brand::of(&t);
    let session = super::flow::current_session(state, tenant, client).await?;
    let who = match session {
        Some(s) => {
            let mut conn = super::conn(state).await?;
            users::get(&mut conn, tenant, s.user_id, users::Deleted::Exclude).await?.map(|u| (s, u))
        }
        None => None,
    };
    Ok((tenant, brand, t.display_name, who))
}

/// GET /{tenant}/myaccount
pub async fn page(
    State(state): State<AppState>,
    Path(key): Path<String>,
    client: Client,
) -> Result<Response, PageError> {
    let (tenant, brand, org, who) = signed_in(&state, &key, &client).await?;
    let lang = portico_core::locale::negotiate(None, client.accept_language.as_deref(), brand.language.as_deref());
    let Some((s, u)) = who else {
        let mut r = render(lang, Some(&brand), "myaccount.html", minijinja::context! { org => org }, None);
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return Ok(r);
    };
    let mut conn = super::conn(&state).await?;
    let may_leave = u.external_user_state.is_some() && policy::guests_may_leave(&mut conn, tenant).await?;
    let ctx = minijinja::context! {
        org => org, name => u.display_name.clone(), address => u.mail.clone().unwrap_or(u.user_principal_name.clone()),
        guest => u.external_user_state.is_some(), may_leave => may_leave,
        action => format!("/{tenant}/myaccount/leave"), csrf => s.csrf.clone(),
    };
    Ok(render(lang, Some(&brand), "myaccount.html", ctx, None))
}

/// POST /{tenant}/myaccount/leave
pub async fn leave(
    State(state): State<AppState>,
    Path(key): Path<String>,
    client: Client,
    body: axum::body::Bytes,
) -> Result<Response, PageError> {
    let (tenant, brand, org, who) = signed_in(&state, &key, &client).await?;
    let lang = portico_core::locale::negotiate(None, client.accept_language.as_deref(), brand.language.as_deref());
    let form = super::form_fields(&body);
    let Some((s, mut u)) = who else {
        return Err(PageError::new(StatusCode::UNAUTHORIZED, None, "error_access", "Sign in first."));
    };
    check_csrf(&state, &client, field(&form, "csrf"), &s.csrf)?;
    let now = state.now_ms();
    let mut tx = state.dir.store.begin().await?;
    if u.external_user_state.is_none() || !policy::guests_may_leave(&mut tx, tenant).await? {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            None,
            "error_access",
            "This organization does not let you leave by yourself. Ask your contact there to remove your guest account.",
        ));
    }
    u.deleted_at = Some(now);
    users::update(&mut tx, &u).await?;
    signin::revoke_user(&mut tx, tenant, u.id, now, "left the organization").await?;
    let actor = Actor::User { id: u.id, user_principal_name: u.user_principal_name.clone() };
    let mut t = Target::new(u.id, "User", Some(u.display_name.clone()));
    t.user_principal_name = Some(u.user_principal_name.clone());
    let mut e = entry(tenant, &actor, "Delete external user", "UserManagement", "Delete", "Invited Users", &[t], now);
    e.additional_details =
        serde_json::json!([{"key": "reason", "value": "The user left the organization (self-service leave)."}]);
    audit_store::insert(&mut tx, &e).await?;
    tx.commit().await?;
    let mut r = render(lang, Some(&brand), "left.html", minijinja::context! { org => org }, None);
    r.headers_mut().append(header::SET_COOKIE, cookie(&state, &session_cookie_name(tenant), "", Some(0)));
    Ok(r)
}
