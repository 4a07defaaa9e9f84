//! What a guest may read of the directory, by the tenant's guest access level
//! (`authorizationPolicy.guestUserRoleId`, the portal's "Guest user access"). The level comes
//! with the [`Caller`](portico_core::access::Caller) (`auth.rs`), and which actions a guest may
//! attempt at all is the core access rule's (`Action::guest_default`: users, groups and the
//! organization; applications, roles, domains and logs are refused there). This module narrows
//! those reads to the objects the level shows:
//!
//! | read                                                   | limited (default)                          | restricted                |
//! |--------------------------------------------------------|--------------------------------------------|---------------------------|
//! | list or count users or groups; deleted items           | refused                                    | refused                   |
//! | a user by id or user principal name                    | self in full; a user sharing a group with the guest: basic profile | self only |
//! | a group, its members, owners, memberOf                 | groups the guest belongs to (nesting included), other users in them with a basic profile | refused |
//! | a user's memberOf, transitiveMemberOf, ownedObjects    | the guest's own                            | the guest's own, ids only |
//! | the organization                                       | id, display name, verified domains         | the same                  |
//!
//! Members, guests with "same as members" access, guests whose directory role allows the read,
//! and applications are not narrowed. What a guest may not see is refused with 403 whether or
//! not it exists, so that a guest cannot probe for ids or user principal names.
//! (Entra: users-restrict-guest-permissions, users-default-permissions.)

use portico_core::access::{Action, Caller, Principal};
use portico_core::b2b::GuestAccess;
use portico_core::ids::{ObjectId, TenantId};
use portico_store::groups::{self, Group};
use portico_store::users::User;
use serde_json::Value;

use super::auth::Authed;
use super::error::{GraphError, GraphResult};
use crate::app::AppState;

/// Properties of another user a limited guest sees: Entra's "display name, email, sign-in name,
/// user principal name and user type", with the given name and surname of Graph's basic profile.
pub const BASIC_USER: &[&str] = &["id", "displayName", "givenName", "surname", "mail", "userPrincipalName", "userType"];

/// Properties of the organization a guest sees: Entra's "display name of company" and "all
/// domains".
pub const BASIC_ORGANIZATION: &[&str] = &["id", "displayName", "verifiedDomains"];

/// How much of the directory objects of an answer the caller sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Everything the caller's permissions show.
    Full,
    /// Users with their basic profile only; groups and service principals in full.
    BasicUsers,
    /// Object ids only.
    IdsOnly,
}

impl View {
    /// Narrows one rendered directory object (`user` when it is a user).
    pub fn show(self, v: Value, user: bool) -> Value {
        match self {
            View::Full => v,
            View::BasicUsers if user => keep(v, BASIC_USER),
            View::BasicUsers => v,
            View::IdsOnly => keep(v, &["id"]),
        }
    }
}

/// Keeps `props` (and `@odata` annotations) of a rendered object.
fn keep(v: Value, props: &[&str]) -> Value {
    let Value::Object(mut m) = v else { return v };
    m.retain(|k, _| k.starts_with('@') || props.contains(&k.as_str()));
    Value::Object(m)
}

fn me(caller: &Caller) -> Option<ObjectId> {
    match &caller.principal {
        Principal::User { user_id, .. } => Some(*user_id),
        Principal::Application { .. } => None,
    }
}

/// A lookup's outcome as a guest may learn it: an object it may not see and one that does not
/// exist are both refused.
fn hidden<T>(found: GraphResult<T>) -> GraphResult<T> {
    found.map_err(|e| if e.status == axum::http::StatusCode::NOT_FOUND { GraphError::forbidden() } else { e })
}

/// Whether the caller may do `action` over the whole directory: listing, counting, deleted items.
/// Guests with limited or restricted access may not ("guest users can't enumerate the list of all
/// users, groups, and other directory objects").
pub fn may_range(caller: &Caller, action: Action) -> bool {
    caller.may(action) && caller.guest_limit(action).is_none()
}

/// Like [`Authed::require`], for reads over the whole directory (see [`may_range`]).
pub fn require_directory_wide(auth: &Authed, action: Action) -> GraphResult<&Caller> {
    let caller = auth.require(action)?;
    if caller.guest_limit(action).is_some() { Err(GraphError::forbidden()) } else { Ok(caller) }
}

/// Whether `a` and `b` belong to a common group (nesting included).
async fn share_a_group(state: &AppState, tenant: TenantId, a: ObjectId, b: ObjectId) -> GraphResult<bool> {
    let mut conn = state.conn().await?;
    let mine = groups::transitive_member_of(&mut conn, tenant, a).await?;
    if mine.is_empty() {
        return Ok(false);
    }
    let theirs = groups::transitive_member_of(&mut conn, tenant, b).await?;
    Ok(theirs.iter().any(|g| mine.contains(g)))
}

/// A user read by id (`found` is the lookup's outcome), with what the caller may see of it.
pub async fn user(state: &AppState, auth: &Authed, found: GraphResult<User>) -> GraphResult<(User, View)> {
    let Some(level) = auth.0.guest_limit(Action::UsersRead) else { return found.map(|u| (u, View::Full)) };
    let u = hidden(found)?;
    let me = me(&auth.0);
    if me == Some(u.id) {
        return Ok((u, View::Full));
    }
    if let (GuestAccess::Limited, Some(me)) = (level, me)
        && share_a_group(state, auth.tenant(), me, u.id).await?
    {
        return Ok((u, View::BasicUsers));
    }
    Err(GraphError::forbidden())
}

/// A group read by id, or its members, owners or groups (`found` is the lookup's outcome), with
/// what the caller may see of the objects listed.
pub async fn group(state: &AppState, auth: &Authed, found: GraphResult<Group>) -> GraphResult<(Group, View)> {
    let Some(level) = auth.0.guest_limit(Action::GroupsRead) else { return found.map(|g| (g, View::Full)) };
    let g = hidden(found)?;
    if let (GuestAccess::Limited, Some(me)) = (level, me(&auth.0)) {
        let mut conn = state.conn().await?;
        if groups::transitive_member_of(&mut conn, auth.tenant(), me).await?.contains(&g.id) {
            return Ok((g, View::BasicUsers));
        }
    }
    Err(GraphError::forbidden())
}

/// The groups of a user (`found` is the lookup's outcome): a limited or restricted guest sees
/// its own only, a restricted one by id only ("read object ID for joined groups").
pub fn memberships(auth: &Authed, found: GraphResult<User>) -> GraphResult<(User, View)> {
    let Some(level) = auth.0.guest_limit(Action::GroupsRead) else { return found.map(|u| (u, View::Full)) };
    let u = hidden(found)?;
    match level {
        _ if me(&auth.0) != Some(u.id) => Err(GraphError::forbidden()),
        GuestAccess::Restricted => Ok((u, View::IdsOnly)),
        GuestAccess::Limited | GuestAccess::SameAsMembers => Ok((u, View::Full)),
    }
}

/// The organization as the caller may see it: a limited or restricted guest sees its name and
/// domains.
pub fn organization(auth: &Authed, v: Value) -> Value {
    if auth.0.guest_limit(Action::OrgRead).is_some() { keep(v, BASIC_ORGANIZATION) } else { v }
}
