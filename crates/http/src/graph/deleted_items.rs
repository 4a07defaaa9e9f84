//! `/directory/deletedItems`: soft-deleted users, Microsoft 365 groups and applications;
//! restore and permanent deletion.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portico_core::access::Action;
use portico_core::ids::{ObjectId, TenantId};
use portico_store::list::Page;
use portico_store::schema::{APPLICATION, GROUP, USER};
use portico_store::users::{self, Deleted};
use portico_store::{StoreError, apps, audit as audit_store, groups};
use serde_json::Value;

use super::auth::Authed;
use super::error::{GraphError, GraphResult};
use super::query::{QueryOptions, tenant_scope};
use super::{guest_scope, wire};
use crate::app::AppState;
use crate::audit::{Actor, Target, entry};

/// Days a deleted object stays restorable.
pub const RETENTION_DAYS: i64 = 30;

/// GET /directory/deletedItems/microsoft.graph.user
pub async fn list_deleted_users(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    guest_scope::require_directory_wide(&auth, Action::UsersRead)?;
    let plan = opts.plan(&USER, state.dir.store.dialect())?;
    let list = plan.list("users", users::COLUMNS, tenant_scope(auth.tenant(), true), &opts);
    let mut page = list.run(&state.dir.store, users::from_row).await?;
    let mut conn = state.conn().await?;
    users::load_collections(&mut conn, &mut page.items).await?;
    let mut default = wire::USER_DEFAULT.to_vec();
    default.push("deletedDateTime");
    let items =
        page.items.iter().map(|u| wire::typed("user", wire::select(wire::user(u), &plan.select, &default))).collect();
    Ok(wire::collection(
        &state.dir.settings.public_url,
        &opts,
        "directory/deletedItems/microsoft.graph.user",
        Page { items, next: page.next, count: page.count },
        &plan.select,
    ))
}

/// GET /directory/deletedItems/microsoft.graph.group
pub async fn list_deleted_groups(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    guest_scope::require_directory_wide(&auth, Action::GroupsRead)?;
    let plan = opts.plan(&GROUP, state.dir.store.dialect())?;
    let list = plan.list("directory_groups", groups::COLUMNS, tenant_scope(auth.tenant(), true), &opts);
    let page = list.run(&state.dir.store, groups::from_row).await?;
    let items =
        page.items.iter().map(|g| wire::typed("group", wire::select(wire::group(g), &plan.select, &[]))).collect();
    Ok(wire::collection(
        &state.dir.settings.public_url,
        &opts,
        "directory/deletedItems/microsoft.graph.group",
        Page { items, next: page.next, count: page.count },
        &plan.select,
    ))
}

/// GET /directory/deletedItems/microsoft.graph.application
pub async fn list_deleted_applications(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::AppsRead)?;
    let plan = opts.plan(&APPLICATION, state.dir.store.dialect())?;
    let list = plan.list("applications", apps::APP_COLUMNS, tenant_scope(auth.tenant(), true), &opts);
    let page = list.run(&state.dir.store, apps::app_from_row).await?;
    let items = super::applications::render_many(&state, auth.tenant(), &page.items)
        .await?
        .into_iter()
        .map(|v| wire::typed("application", wire::select(v, &plan.select, &[])))
        .collect();
    Ok(wire::collection(
        &state.dir.settings.public_url,
        &opts,
        "directory/deletedItems/microsoft.graph.application",
        Page { items, next: page.next, count: page.count },
        &plan.select,
    ))
}

enum Deleted_ {
    User(users::User),
    Group(groups::Group),
    App(apps::Application),
}

async fn find_deleted(state: &AppState, tenant: TenantId, key: &str) -> GraphResult<Deleted_> {
    let id = ObjectId::parse(key).ok_or_else(|| GraphError::not_found(key))?;
    let mut conn = state.conn().await?;
    if let Some(u) = users::get(&mut conn, tenant, id, Deleted::Only).await? {
        return Ok(Deleted_::User(u));
    }
    if let Some(g) = groups::get(&mut conn, tenant, id, true).await? {
        return Ok(Deleted_::Group(g));
    }
    if let Some(a) = apps::get_app(&mut conn, tenant, id, true).await? {
        return Ok(Deleted_::App(a));
    }
    Err(GraphError::not_found(key))
}

fn need(auth: &Authed, d: &Deleted_, write: bool) -> GraphResult<()> {
    let action = match (d, write) {
        (Deleted_::User(_), false) => Action::UsersRead,
        (Deleted_::User(_), true) => Action::UsersWrite,
        (Deleted_::Group(_), false) => Action::GroupsRead,
        (Deleted_::Group(_), true) => Action::GroupsWrite,
        (Deleted_::App(_), false) => Action::AppsRead,
        (Deleted_::App(_), true) => Action::AppsWrite,
    };
    guest_scope::require_directory_wide(auth, action).map(|_| ())
}

/// An item as `GET /applications/{id}` and friends show it (an application with its secrets'
/// metadata and publisher domain), typed.
async fn render(state: &AppState, d: &Deleted_) -> GraphResult<Value> {
    Ok(match d {
        Deleted_::User(u) => wire::typed("user", wire::user(u)),
        Deleted_::Group(g) => wire::typed("group", wire::group(g)),
        Deleted_::App(a) => wire::typed("application", super::applications::render(state, a).await?),
    })
}

/// Refuses callers who may neither read (or, for `write`, change) users, groups nor
/// applications before any lookup, so that no caller learns which deleted ids exist.
fn may_touch_deleted_items(auth: &Authed, write: bool) -> GraphResult<()> {
    let actions = if write {
        [Action::UsersWrite, Action::GroupsWrite, Action::AppsWrite]
    } else {
        [Action::UsersRead, Action::GroupsRead, Action::AppsRead]
    };
    if actions.iter().any(|a| guest_scope::may_range(&auth.0, *a)) { Ok(()) } else { Err(GraphError::forbidden()) }
}

/// GET /directory/deletedItems/{id}
pub async fn get_deleted_item(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    may_touch_deleted_items(&auth, false)?;
    let d = find_deleted(&state, auth.tenant(), &key).await?;
    need(&auth, &d, false)?;
    Ok(wire::entity(&state.dir.settings.public_url, &opts, "directoryObjects", render(&state, &d).await?, &[]))
}

/// POST /directory/deletedItems/{id}/restore
pub async fn restore_deleted_item(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    may_touch_deleted_items(&auth, true)?;
    let d = find_deleted(&state, auth.tenant(), &key).await?;
    need(&auth, &d, true)?;
    // Another application may have taken an identifier URI meanwhile; two live owners of one
    // URI would make token requests for it ambiguous.
    if let Deleted_::App(a) = &d {
        super::applications::check_identifier_uris(&state, auth.tenant(), &a.identifier_uris, Some(a.id)).await?;
    }
    let actor = Actor::of(&auth.0);
    let now = state.now_ms();
    let mut tx = state.dir.store.begin().await?;
    let restored = match d {
        Deleted_::User(mut u) => {
            u.deleted_at = None;
            users::update(&mut tx, &u).await?;
            let mut t = Target::new(u.id, "User", Some(u.display_name.clone()));
            t.user_principal_name = Some(u.user_principal_name.clone());
            audit_store::insert(
                &mut tx,
                &entry(auth.tenant(), &actor, "Restore user", "UserManagement", "Update", "Core Directory", &[t], now),
            )
            .await?;
            Deleted_::User(u)
        }
        Deleted_::Group(mut g) => {
            g.deleted_at = None;
            groups::update(&mut tx, &g).await?;
            let t = Target::new(g.id, "Group", Some(g.display_name.clone()));
            audit_store::insert(
                &mut tx,
                &entry(
                    auth.tenant(),
                    &actor,
                    "Restore Group",
                    "GroupManagement",
                    "Update",
                    "Core Directory",
                    &[t],
                    now,
                ),
            )
            .await?;
            Deleted_::Group(g)
        }
        Deleted_::App(mut a) => {
            a.deleted_at = None;
            apps::update_app(&mut tx, &a).await?;
            restore_sp(&mut tx, auth.tenant(), &a.app_id).await?;
            let t = Target::new(a.id, "Application", Some(a.display_name.clone()));
            audit_store::insert(
                &mut tx,
                &entry(
                    auth.tenant(),
                    &actor,
                    "Restore application",
                    "ApplicationManagement",
                    "Update",
                    "Core Directory",
                    &[t],
                    now,
                ),
            )
            .await?;
            Deleted_::App(a)
        }
    };
    tx.commit().await.map_err(StoreError::from)?;
    Ok(wire::entity(&state.dir.settings.public_url, &opts, "directoryObjects", render(&state, &restored).await?, &[]))
}

async fn restore_sp(tx: &mut portico_store::Tx, tenant: TenantId, app_id: &str) -> GraphResult<()> {
    // The service principal was soft-deleted with its application; bring it back too.
    let rows: Vec<String> = sqlx_ids(tx, tenant, app_id).await?;
    for id in rows.iter().filter_map(|s| ObjectId::parse(s)) {
        portico_store::apps::restore_sp(tx, tenant, id).await?;
    }
    Ok(())
}

async fn sqlx_ids(tx: &mut portico_store::Tx, tenant: TenantId, app_id: &str) -> GraphResult<Vec<String>> {
    Ok(portico_store::apps::deleted_sp_ids(tx, tenant, app_id).await?)
}

/// DELETE /directory/deletedItems/{id}: removes the object for good.
pub async fn purge_deleted_item(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> GraphResult<Response> {
    may_touch_deleted_items(&auth, true)?;
    let d = find_deleted(&state, auth.tenant(), &key).await?;
    need(&auth, &d, true)?;
    let actor = Actor::of(&auth.0);
    let now = state.now_ms();
    let mut tx = state.dir.store.begin().await?;
    match &d {
        Deleted_::User(u) => {
            users::purge(&mut tx, auth.tenant(), u.id).await?;
            let t = Target::new(u.id, "User", Some(u.display_name.clone()));
            audit_store::insert(
                &mut tx,
                &entry(
                    auth.tenant(),
                    &actor,
                    "Hard Delete user",
                    "UserManagement",
                    "Delete",
                    "Core Directory",
                    &[t],
                    now,
                ),
            )
            .await?;
        }
        Deleted_::Group(g) => {
            groups::purge(&mut tx, auth.tenant(), g.id).await?;
            let t = Target::new(g.id, "Group", Some(g.display_name.clone()));
            audit_store::insert(
                &mut tx,
                &entry(
                    auth.tenant(),
                    &actor,
                    "Hard Delete group",
                    "GroupManagement",
                    "Delete",
                    "Core Directory",
                    &[t],
                    now,
                ),
            )
            .await?;
        }
        Deleted_::App(a) => {
            for id in sqlx_ids(&mut tx, auth.tenant(), &a.app_id).await?.iter().filter_map(|s| ObjectId::parse(s)) {
                apps::purge_sp(&mut tx, auth.tenant(), id).await?;
            }
            apps::purge_app(&mut tx, auth.tenant(), a.id).await?;
            let t = Target::new(a.id, "Application", Some(a.display_name.clone()));
            audit_store::insert(
                &mut tx,
                &entry(
                    auth.tenant(),
                    &actor,
                    "Hard delete application",
                    "ApplicationManagement",
                    "Delete",
                    "Core Directory",
                    &[t],
                    now,
                ),
            )
            .await?;
        }
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
