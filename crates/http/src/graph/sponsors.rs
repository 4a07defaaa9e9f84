//! `/users/{id}/sponsors`: the users and groups who answer for a user (typically a guest), with
//! `$ref` add and remove. The links live in `portico_store::b2b`; the collection is rendered by
//! the groups' directory-object renderer, so a deleted sponsor drops out of the list (and comes
//! back when restored).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portico_core::access::Action;
use portico_core::ids::ObjectId;
use portico_store::groups::{self, ObjectKind};
use portico_store::users::User;
use portico_store::{StoreError, audit as audit_store, b2b, users as user_store};
use serde_json::{Map, Value};

use super::auth::Authed;
use super::body::{JsonBody, object_id_from_ref};
use super::error::{GraphError, GraphResult};
use super::groups::object_collection;
use super::guest_scope::{self, View};
use super::query::QueryOptions;
use super::users::find;
use crate::app::AppState;
use crate::audit::{Actor, Target, entry};

/// GET /users/{id}/sponsors
pub async fn list_sponsors(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::UsersRead)?;
    let tenant = auth.tenant();
    // A guest with limited or restricted access reads its own sponsors (as My Account shows
    // them), with the basic profile of sponsoring users.
    let (user, _) = guest_scope::user(&state, &auth, find(&state, tenant, &key).await).await?;
    let view = if auth.0.guest_limit(Action::UsersRead).is_some() { View::BasicUsers } else { View::Full };
    let mut conn = state.conn().await?;
    let ids = b2b::sponsors(&mut conn, tenant, user.id).await?;
    // Two lookups tell users from groups; ids that are neither any more are left out.
    let as_users: Vec<ObjectId> = user_store::get_many(&mut conn, tenant, &ids).await?.iter().map(|u| u.id).collect();
    let as_groups: Vec<ObjectId> = groups::get_many(&mut conn, tenant, &ids).await?.iter().map(|g| g.id).collect();
    drop(conn);
    let all = ids
        .into_iter()
        .filter_map(|id| {
            if as_users.contains(&id) {
                Some((id, ObjectKind::User))
            } else if as_groups.contains(&id) {
                Some((id, ObjectKind::Group))
            } else {
                None
            }
        })
        .collect();
    object_collection(&state, &opts, tenant, all, view).await
}

/// The sponsor an `@odata.id` body names, and the kind its URL claims (`.../users/{id}`,
/// `.../groups/{id}`; None for `.../directoryObjects/{id}`).
fn sponsor_ref(body: &Map<String, Value>) -> GraphResult<(ObjectId, Option<ObjectKind>)> {
    if let Some(k) = body.keys().find(|k| *k != "@odata.id") {
        return Err(GraphError::unknown_property(k, "directoryObject"));
    }
    let url = body
        .get("@odata.id")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::bad_request("Property '@odata.id' is required but was not supplied."))?;
    let id = object_id_from_ref(url).ok_or_else(|| GraphError::invalid_value("@odata.id"))?;
    let set = url.trim_end_matches('/').rsplit('/').nth(1).unwrap_or_default();
    let claimed = if set.eq_ignore_ascii_case("users") {
        Some(ObjectKind::User)
    } else if set.eq_ignore_ascii_case("groups") {
        Some(ObjectKind::Group)
    } else {
        None
    };
    Ok((id, claimed))
}

async fn audit_sponsor(
    tx: &mut portico_store::Tx,
    state: &AppState,
    auth: &Authed,
    added: bool,
    user: &User,
    sponsor: ObjectId,
    kind: ObjectKind,
) -> GraphResult<()> {
    let caller = auth.0.clone();
    let (activity, op) = if added { ("Add user sponsor", "Add") } else { ("Remove user sponsor", "Delete") };
    let mut target = Target::new(user.id, "User", Some(user.display_name.clone()));
    target.user_principal_name = Some(user.user_principal_name.clone());
    let sponsor_kind = if kind == ObjectKind::Group { "Group" } else { "User" };
    let sponsor = Target::new(sponsor, sponsor_kind, None);
    audit_store::insert(
        tx,
        &entry(
            auth.tenant(),
            &Actor::of(&caller),
            activity,
            "UserManagement",
            op,
            "Core Directory",
            &[target, sponsor],
            state.now_ms(),
        ),
    )
    .await?;
    Ok(())
}

/// POST /users/{id}/sponsors/$ref: a user or group of the tenant becomes a sponsor; 204.
pub async fn add_sponsor(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    auth.require(Action::UsersWrite)?;
    let (id, claimed) = sponsor_ref(&body)?;
    let tenant = auth.tenant();
    let user = find(&state, tenant, &key).await?;
    let mut tx = state.dir.store.begin().await?;
    let kind = groups::resolve_object(&mut tx, tenant, id)
        .await?
        .filter(|k| matches!(k, ObjectKind::User | ObjectKind::Group) && claimed.is_none_or(|c| c == *k))
        .ok_or_else(|| {
            GraphError::bad_request(format!(
                "Resource '{id}' does not exist or is not a user or group of the tenant; a sponsor is a user or a group."
            ))
        })?;
    if id == user.id {
        return Err(GraphError::bad_request("A user cannot be their own sponsor."));
    }
    if !b2b::add_sponsor(&mut tx, tenant, user.id, id, state.now_ms()).await? {
        return Err(GraphError::bad_request(
            "One or more added object references already exist for the following modified properties: 'sponsors'.",
        ));
    }
    audit_sponsor(&mut tx, &state, &auth, true, &user, id, kind).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// DELETE /users/{id}/sponsors/{sponsorId}/$ref; 204, or 404 when it is not a sponsor.
pub async fn remove_sponsor(
    auth: Authed,
    State(state): State<AppState>,
    Path((key, sponsor)): Path<(String, String)>,
) -> GraphResult<Response> {
    auth.require(Action::UsersWrite)?;
    let tenant = auth.tenant();
    let user = find(&state, tenant, &key).await?;
    let id = ObjectId::parse(&sponsor).ok_or_else(|| GraphError::not_found(&sponsor))?;
    let mut tx = state.dir.store.begin().await?;
    if !b2b::remove_sponsor(&mut tx, tenant, user.id, id).await? {
        return Err(GraphError::not_found(&sponsor));
    }
    let kind = groups::resolve_object(&mut tx, tenant, id).await?.unwrap_or(ObjectKind::User);
    audit_sponsor(&mut tx, &state, &auth, false, &user, id, kind).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refs_name_a_user_or_group() {
        let id = ObjectId::new();
        let body = |url: String| json!({"@odata.id": url}).as_object().cloned().unwrap();
        assert_eq!(
            sponsor_ref(&body(format!("https://graph.microsoft.com/v1.0/users/{id}"))).unwrap(),
            (id, Some(ObjectKind::User))
        );
        assert_eq!(sponsor_ref(&body(format!("https://x/v1.0/groups/{id}"))).unwrap(), (id, Some(ObjectKind::Group)));
        assert_eq!(sponsor_ref(&body(format!("https://x/v1.0/directoryObjects/{id}"))).unwrap(), (id, None));
        assert!(sponsor_ref(&body("https://x/v1.0/users/not-a-guid".into())).is_err());
        assert!(sponsor_ref(&json!({"@odata.id": "x", "more": 1}).as_object().cloned().unwrap()).is_err());
        assert!(sponsor_ref(&Map::new()).is_err());
    }
}
