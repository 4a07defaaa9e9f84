//! `/groups`, members and owners (with `$ref`), `transitiveMembers`, `memberOf`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use portico_core::access::Action;
use portico_core::ids::{ObjectId, TenantId};
use portico_core::validate;
use portico_store::groups::{self, Group, ObjectKind, Relation};
use portico_store::list::Page;
use portico_store::schema::GROUP;
use portico_store::{StoreError, apps, audit as audit_store, users};
use serde_json::{Map, Value, json};

use super::auth::Authed;
use super::body::{Access, JsonBody, Kind, Prop, check, object_id_from_ref, opt_str, p, require, str_list};
use super::error::{GraphError, GraphResult};
use super::guest_scope::{self, View};
use super::query::{DEFAULT_TOP, QueryOptions, tenant_scope};
use super::wire;
use crate::app::AppState;
use crate::audit::{Actor, Target, diff, entry};

const W: Access = Access::Write;

/// The writable shape of microsoft.graph.group.
pub const GROUP_PROPS: &[Prop] = &[
    p("displayName", Kind::StrRequired, W),
    p("description", Kind::Str, W),
    p("mailNickname", Kind::StrRequired, W),
    p("mailEnabled", Kind::Bool, W),
    p("securityEnabled", Kind::Bool, W),
    p("groupTypes", Kind::StrList, Access::CreateOnly),
    p("visibility", Kind::Str, W),
    p("isAssignableToRole", Kind::Bool, Access::CreateOnly),
    p("id", Kind::Str, Access::ReadOnly),
    p("createdDateTime", Kind::Str, Access::ReadOnly),
    p("deletedDateTime", Kind::Str, Access::ReadOnly),
    p("mail", Kind::Str, Access::ReadOnly),
    p("securityIdentifier", Kind::Str, Access::ReadOnly),
    p("membershipRule", Kind::Str, Access::NotYet),
    p("membershipRuleProcessingState", Kind::Str, Access::NotYet),
];

const AUDITED: &[&str] =
    &["displayName", "description", "mailNickname", "mailEnabled", "securityEnabled", "visibility"];

/// Finds a live group.
pub async fn find(state: &AppState, tenant: TenantId, key: &str) -> GraphResult<Group> {
    let id =
        ObjectId::parse(key).ok_or_else(|| GraphError::bad_request(format!("Invalid object identifier '{key}'.")))?;
    let mut conn = state.conn().await?;
    groups::get(&mut conn, tenant, id, false).await?.ok_or_else(|| GraphError::not_found(key))
}

/// Pages an in-memory list with an offset token.
pub fn paged<T: Clone>(all: &[T], opts: &QueryOptions) -> GraphResult<(Vec<T>, Option<String>, Option<i64>)> {
    let top = opts.top.unwrap_or(DEFAULT_TOP);
    let offset = match &opts.skiptoken {
        None => 0,
        Some(t) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("o:").and_then(|n| n.parse::<usize>().ok()))
            .ok_or_else(|| GraphError::bad_request("the $skiptoken is not valid for this request"))?,
    };
    let items: Vec<T> = all.iter().skip(offset).take(top).cloned().collect();
    let next = (offset + top < all.len())
        .then(|| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("o:{}", offset + top)));
    let count = (opts.count && opts.eventual).then_some(all.len() as i64);
    Ok((items, next, count))
}

/// How many ids [`live_only`] looks up per query.
const LIVE_CHUNK: usize = 500;

/// Keeps the objects that are live in the tenant, in order. Links outlive a soft delete (so a
/// restored user is back in its groups), but a deleted object is no one's member or owner
/// meanwhile: it is neither listed nor counted.
pub async fn live_only(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    all: Vec<(ObjectId, ObjectKind)>,
) -> GraphResult<Vec<(ObjectId, ObjectKind)>> {
    let mut live = std::collections::HashSet::new();
    for chunk in all.chunks(LIVE_CHUNK) {
        let ids = |k: ObjectKind| chunk.iter().filter(|(_, kind)| *kind == k).map(|(i, _)| *i).collect::<Vec<_>>();
        live.extend(users::get_many(conn, tenant, &ids(ObjectKind::User)).await?.iter().map(|u| u.id));
        live.extend(groups::get_many(conn, tenant, &ids(ObjectKind::Group)).await?.iter().map(|g| g.id));
        for id in ids(ObjectKind::ServicePrincipal) {
            if apps::get_sp(conn, tenant, id).await?.is_some() {
                live.insert(id);
            }
        }
    }
    Ok(all.into_iter().filter(|(id, _)| live.contains(id)).collect())
}

/// Renders directory objects of mixed kinds (with `@odata.type`), paged, as `view` shows them;
/// soft-deleted objects are left out before paging and counting.
pub async fn object_collection(
    state: &AppState,
    opts: &QueryOptions,
    tenant: TenantId,
    all: Vec<(ObjectId, ObjectKind)>,
    view: View,
) -> GraphResult<Response> {
    if opts.filter.is_some() || opts.search.is_some() || opts.orderby.is_some() {
        return Err(GraphError::unsupported(
            "$filter, $search and $orderby are not supported on this relationship by Portico yet.",
        ));
    }
    let mut conn = state.conn().await?;
    let all = live_only(&mut conn, tenant, all).await?;
    let (items, next, count) = paged(&all, opts)?;
    let select: Vec<&str> = opts.select.as_deref().map(|s| s.split(',').map(str::trim).collect()).unwrap_or_default();
    let ids = |k: ObjectKind| items.iter().filter(|(_, kind)| *kind == k).map(|(i, _)| *i).collect::<Vec<_>>();
    let us = users::get_many(&mut conn, tenant, &ids(ObjectKind::User)).await?;
    let gs = groups::get_many(&mut conn, tenant, &ids(ObjectKind::Group)).await?;
    let mut out = vec![];
    for (id, kind) in &items {
        let v = match kind {
            ObjectKind::User => us.iter().find(|u| u.id == *id).map(|u| {
                wire::typed("user", wire::select(view.show(wire::user(u), true), &select, wire::USER_DEFAULT))
            }),
            ObjectKind::Group => gs
                .iter()
                .find(|g| g.id == *id)
                .map(|g| wire::typed("group", wire::select(view.show(wire::group(g), false), &select, &[]))),
            ObjectKind::ServicePrincipal => apps::get_sp(&mut conn, tenant, *id).await?.map(|s| {
                let v = view.show(wire::service_principal(&s, &json!([]), &[]), false);
                wire::typed("servicePrincipal", wire::select(v, &select, &[]))
            }),
        };
        out.extend(v);
    }
    let page = Page { items: out, next, count };
    let ctx_select: Vec<&str> = vec![];
    Ok(wire::collection(&state.dir.settings.public_url, opts, "directoryObjects", page, &ctx_select))
}

/// Renders groups by id, paged, as `view` shows them.
pub async fn group_collection(
    state: &AppState,
    opts: &QueryOptions,
    tenant: TenantId,
    ids: Vec<ObjectId>,
    view: View,
) -> GraphResult<Response> {
    object_collection(state, opts, tenant, ids.into_iter().map(|i| (i, ObjectKind::Group)).collect(), view).await
}

/// GET /groups
pub async fn list_groups(auth: Authed, State(state): State<AppState>, opts: QueryOptions) -> GraphResult<Response> {
    guest_scope::require_directory_wide(&auth, Action::GroupsRead)?;
    let plan = opts.plan(&GROUP, state.dir.store.dialect())?;
    let list = plan.list("directory_groups", groups::COLUMNS, tenant_scope(auth.tenant(), false), &opts);
    let page = list.run(&state.dir.store, groups::from_row).await?;
    let items = page.items.iter().map(|g| wire::select(wire::group(g), &plan.select, &[])).collect();
    Ok(wire::collection(
        &state.dir.settings.public_url,
        &opts,
        "groups",
        Page { items, next: page.next, count: page.count },
        &plan.select,
    ))
}

/// GET /groups/$count
pub async fn count_groups(auth: Authed, State(state): State<AppState>, opts: QueryOptions) -> GraphResult<Response> {
    guest_scope::require_directory_wide(&auth, Action::GroupsRead)?;
    let n = opts.count_only(&state.dir.store, &GROUP, "directory_groups", tenant_scope(auth.tenant(), false)).await?;
    Ok(wire::count_text(n))
}

/// GET /groups/{id}
pub async fn get_group(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::GroupsRead)?;
    let select = opts.select_for(&GROUP)?;
    let (g, _) = guest_scope::group(&state, &auth, find(&state, auth.tenant(), &key).await).await?;
    Ok(wire::entity(
        &state.dir.settings.public_url,
        &opts,
        "groups",
        wire::select(wire::group(&g), &select, &[]),
        &select,
    ))
}

fn check_visibility(v: &str) -> GraphResult<String> {
    ["Public", "Private", "HiddenMembership"]
        .iter()
        .find(|x| x.eq_ignore_ascii_case(v))
        .map(|x| (*x).to_string())
        .ok_or_else(|| GraphError::invalid_value("visibility"))
}

async fn bind_refs(
    state: &AppState,
    tx: &mut portico_store::Tx,
    tenant: TenantId,
    body: &Map<String, Value>,
    name: &str,
) -> GraphResult<Vec<(ObjectId, ObjectKind)>> {
    let Some(v) = body.get(&format!("{name}@odata.bind")) else { return Ok(vec![]) };
    let urls = v.as_array().ok_or_else(|| GraphError::invalid_value(&format!("{name}@odata.bind")))?;
    if urls.len() > 20 {
        return Err(GraphError::bad_request(format!("At most 20 {name} can be bound in one request.")));
    }
    let mut out = vec![];
    for u in urls {
        let id = u
            .as_str()
            .and_then(object_id_from_ref)
            .ok_or_else(|| GraphError::invalid_value(&format!("{name}@odata.bind")))?;
        let kind =
            groups::resolve_object(tx, tenant, id).await?.ok_or_else(|| GraphError::not_found(&id.to_string()))?;
        out.push((id, kind));
    }
    let _ = state;
    Ok(out)
}

/// POST /groups
pub async fn create_group(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::GroupsWrite)?.clone();
    check(&body, "group", GROUP_PROPS, true, &["members", "owners"])?;
    require(&body, &["displayName", "mailEnabled", "mailNickname", "securityEnabled"])?;
    let s = |k: &str| opt_str(&body, k).flatten();
    let nickname = s("mailNickname").unwrap_or_default();
    if !validate::mail_nickname(&nickname) {
        return Err(GraphError::invalid_value("mailNickname"));
    }
    let display_name = s("displayName").unwrap_or_default();
    if display_name.trim().is_empty() || display_name.chars().count() > 256 {
        return Err(GraphError::invalid_value("displayName"));
    }
    let group_types = str_list(&body, "groupTypes").unwrap_or_default();
    for t in &group_types {
        if !["Unified", "DynamicMembership"].contains(&t.as_str()) {
            return Err(GraphError::invalid_value("groupTypes"));
        }
    }
    if group_types.iter().any(|t| t == "DynamicMembership") {
        return Err(GraphError::new(
            StatusCode::NOT_IMPLEMENTED,
            "notSupported",
            "Dynamic membership groups are not supported by Portico yet.",
        ));
    }
    let mail_enabled = body.get("mailEnabled").and_then(Value::as_bool).unwrap_or(false);
    let security_enabled = body.get("securityEnabled").and_then(Value::as_bool).unwrap_or(true);
    if mail_enabled && !group_types.iter().any(|t| t == "Unified") {
        return Err(GraphError::bad_request("Only Microsoft 365 (Unified) groups can be mail-enabled."));
    }
    let g = Group {
        id: ObjectId::new(),
        tenant_id: auth.tenant(),
        display_name: display_name.trim().into(),
        description: s("description"),
        mail_nickname: nickname,
        mail_enabled,
        security_enabled,
        group_types,
        visibility: s("visibility").map(|v| check_visibility(&v)).transpose()?,
        is_assignable_to_role: body.get("isAssignableToRole").and_then(Value::as_bool).unwrap_or(false),
        created_at: state.now_ms(),
        deleted_at: None,
    };
    let actor = Actor::of(&caller);
    let mut tx = state.dir.store.begin().await?;
    groups::insert(&mut tx, &g).await?;
    let members = bind_refs(&state, &mut tx, auth.tenant(), &body, "members").await?;
    let owners = bind_refs(&state, &mut tx, auth.tenant(), &body, "owners").await?;
    // As with owners/$ref: only users and service principals can own a group.
    if owners.iter().any(|(_, kind)| *kind == ObjectKind::Group) {
        return Err(GraphError::bad_request("A group cannot own a group."));
    }
    let target = Target::new(g.id, "Group", Some(g.display_name.clone()));
    audit_store::insert(
        &mut tx,
        &entry(
            auth.tenant(),
            &actor,
            "Add group",
            "GroupManagement",
            "Add",
            "Core Directory",
            &[target],
            state.now_ms(),
        ),
    )
    .await?;
    for (rel, list) in [(Relation::Members, members), (Relation::Owners, owners)] {
        for (id, kind) in list {
            if kind == ObjectKind::Group && id == g.id {
                continue;
            }
            // The same object bound twice is one link, and one audit record.
            if groups::add_link(&mut tx, rel, g.id, id, kind).await? {
                audit_link(&mut tx, &state, auth.tenant(), &actor, rel, true, &g, id, kind).await?;
            }
        }
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(wire::created(&state.dir.settings.public_url, &opts, "groups", wire::group(&g)))
}

#[expect(clippy::too_many_arguments, reason = "one audit record names all of these")]
async fn audit_link(
    tx: &mut portico_store::Tx,
    state: &AppState,
    tenant: TenantId,
    actor: &Actor,
    rel: Relation,
    added: bool,
    g: &Group,
    object: ObjectId,
    kind: ObjectKind,
) -> GraphResult<()> {
    let activity = match (rel, added) {
        (Relation::Members, true) => "Add member to group",
        (Relation::Members, false) => "Remove member from group",
        (Relation::Owners, true) => "Add owner to group",
        (Relation::Owners, false) => "Remove owner from group",
    };
    let kind_name = match kind {
        ObjectKind::User => "User",
        ObjectKind::Group => "Group",
        ObjectKind::ServicePrincipal => "ServicePrincipal",
    };
    let member = Target::new(object, kind_name, None);
    let group = Target::new(g.id, "Group", Some(g.display_name.clone())).with_changes(vec![(
        "Group.DisplayName".into(),
        Value::Null,
        json!(g.display_name),
    )]);
    let op = if added { "Add" } else { "Delete" };
    audit_store::insert(
        tx,
        &entry(tenant, actor, activity, "GroupManagement", op, "Core Directory", &[member, group], state.now_ms()),
    )
    .await?;
    Ok(())
}

/// PATCH /groups/{id}
pub async fn update_group(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::GroupsWrite)?.clone();
    check(&body, "group", GROUP_PROPS, false, &[])?;
    let old = find(&state, auth.tenant(), &key).await?;
    let mut g = old.clone();
    let s = |k: &str| opt_str(&body, k);
    if let Some(Some(v)) = s("displayName") {
        if v.trim().is_empty() || v.chars().count() > 256 {
            return Err(GraphError::invalid_value("displayName"));
        }
        g.display_name = v.trim().into();
    }
    if let Some(v) = s("description") {
        g.description = v;
    }
    if let Some(Some(v)) = s("mailNickname") {
        if !validate::mail_nickname(&v) {
            return Err(GraphError::invalid_value("mailNickname"));
        }
        g.mail_nickname = v;
    }
    if let Some(v) = s("visibility") {
        g.visibility = v.map(|v| check_visibility(&v)).transpose()?;
    }
    if let Some(v) = body.get("securityEnabled").and_then(Value::as_bool) {
        g.security_enabled = v;
    }
    if let Some(v) = body.get("mailEnabled").and_then(Value::as_bool) {
        if v && !g.group_types.iter().any(|t| t == "Unified") {
            return Err(GraphError::bad_request("Only Microsoft 365 (Unified) groups can be mail-enabled."));
        }
        g.mail_enabled = v;
    }
    let mut tx = state.dir.store.begin().await?;
    groups::update(&mut tx, &g).await?;
    let t = Target::new(g.id, "Group", Some(g.display_name.clone())).with_changes(diff(
        &wire::group(&old),
        &wire::group(&g),
        AUDITED,
    ));
    audit_store::insert(
        &mut tx,
        &entry(
            auth.tenant(),
            &Actor::of(&caller),
            "Update group",
            "GroupManagement",
            "Update",
            "Core Directory",
            &[t],
            state.now_ms(),
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// DELETE /groups/{id}: Microsoft 365 groups go to deleted items; security groups are removed
/// at once, as in Entra ID.
pub async fn delete_group(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> GraphResult<Response> {
    let caller = auth.require(Action::GroupsWrite)?.clone();
    let mut g = find(&state, auth.tenant(), &key).await?;
    let mut tx = state.dir.store.begin().await?;
    if g.group_types.iter().any(|t| t == "Unified") {
        g.deleted_at = Some(state.now_ms());
        groups::update(&mut tx, &g).await?;
    } else {
        groups::purge(&mut tx, auth.tenant(), g.id).await?;
    }
    let t = Target::new(g.id, "Group", Some(g.display_name.clone()));
    audit_store::insert(
        &mut tx,
        &entry(
            auth.tenant(),
            &Actor::of(&caller),
            "Delete group",
            "GroupManagement",
            "Delete",
            "Core Directory",
            &[t],
            state.now_ms(),
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_links(
    auth: Authed,
    state: AppState,
    key: String,
    opts: QueryOptions,
    rel: Relation,
) -> GraphResult<Response> {
    auth.require(Action::GroupsRead)?;
    let (g, view) = guest_scope::group(&state, &auth, find(&state, auth.tenant(), &key).await).await?;
    let mut conn = state.conn().await?;
    let links = groups::links(&mut conn, rel, g.id).await?;
    drop(conn);
    object_collection(&state, &opts, auth.tenant(), links, view).await
}

/// GET /groups/{id}/members
pub async fn list_members(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    list_links(auth, state, key, opts, Relation::Members).await
}

/// GET /groups/{id}/owners
pub async fn list_owners(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    list_links(auth, state, key, opts, Relation::Owners).await
}

/// GET /groups/{id}/members/$count
pub async fn count_members(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::GroupsRead)?;
    if !opts.eventual {
        return Err(GraphError::bad_request("$count is not currently supported."));
    }
    let (g, _) = guest_scope::group(&state, &auth, find(&state, auth.tenant(), &key).await).await?;
    let mut conn = state.conn().await?;
    let links = groups::links(&mut conn, Relation::Members, g.id).await?;
    let live = live_only(&mut conn, auth.tenant(), links).await?;
    Ok(wire::count_text(live.len() as i64))
}

/// GET /groups/{id}/transitiveMembers
pub async fn list_transitive_members(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::GroupsRead)?;
    let (g, view) = guest_scope::group(&state, &auth, find(&state, auth.tenant(), &key).await).await?;
    let mut conn = state.conn().await?;
    let all = groups::transitive_members(&mut conn, g.id).await?;
    drop(conn);
    object_collection(&state, &opts, auth.tenant(), all, view).await
}

/// The member type an OData cast segment names (`microsoft.graph.user`, or Graph's short
/// `graph.user` alias that Microsoft's SDKs send).
fn cast_kind(cast: &str) -> GraphResult<ObjectKind> {
    let name = cast.strip_prefix("microsoft.").unwrap_or(cast);
    match name {
        "graph.user" => Ok(ObjectKind::User),
        "graph.group" => Ok(ObjectKind::Group),
        "graph.servicePrincipal" => Ok(ObjectKind::ServicePrincipal),
        _ => Err(GraphError::unsupported(format!(
            "The type cast '{cast}' is not supported here; use microsoft.graph.user, microsoft.graph.group or microsoft.graph.servicePrincipal."
        ))),
    }
}

/// GET /groups/{id}/members/{cast}: direct members of one type.
pub async fn list_members_cast(
    auth: Authed,
    State(state): State<AppState>,
    Path((key, cast)): Path<(String, String)>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::GroupsRead)?;
    let kind = cast_kind(&cast)?;
    let (g, view) = guest_scope::group(&state, &auth, find(&state, auth.tenant(), &key).await).await?;
    let mut conn = state.conn().await?;
    let mut links = groups::links(&mut conn, Relation::Members, g.id).await?;
    drop(conn);
    links.retain(|(_, k)| *k == kind);
    object_collection(&state, &opts, auth.tenant(), links, view).await
}

/// GET /groups/{id}/transitiveMembers/{cast}: members of one type, nesting included. As in
/// Graph, a cast on a transitive list is an advanced query.
pub async fn list_transitive_members_cast(
    auth: Authed,
    State(state): State<AppState>,
    Path((key, cast)): Path<(String, String)>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::GroupsRead)?;
    let kind = cast_kind(&cast)?;
    if !opts.advanced_allowed() {
        return Err(GraphError::unsupported(
            "A type cast on transitiveMembers needs the 'ConsistencyLevel: eventual' header and $count=true.",
        ));
    }
    let (g, view) = guest_scope::group(&state, &auth, find(&state, auth.tenant(), &key).await).await?;
    let mut conn = state.conn().await?;
    let mut all = groups::transitive_members(&mut conn, g.id).await?;
    drop(conn);
    all.retain(|(_, k)| *k == kind);
    object_collection(&state, &opts, auth.tenant(), all, view).await
}

/// Which groups of a directory object to list.
#[derive(Debug, Clone, Copy)]
pub enum GroupsOf {
    /// `memberOf`: direct memberships.
    Direct,
    /// `transitiveMemberOf`: memberships through nesting too.
    Transitive,
    /// `ownedObjects`: groups the object owns.
    Owned,
}

/// Lists groups of an object of the tenant (already looked up by the caller), as `view` shows
/// them.
pub async fn groups_of(
    state: &AppState,
    opts: &QueryOptions,
    tenant: TenantId,
    object: ObjectId,
    which: GroupsOf,
    view: View,
) -> GraphResult<Response> {
    let mut conn = state.conn().await?;
    let ids = match which {
        GroupsOf::Direct => groups::member_of(&mut conn, tenant, object).await?,
        GroupsOf::Transitive => groups::transitive_member_of(&mut conn, tenant, object).await?,
        GroupsOf::Owned => groups::owned_groups(&mut conn, tenant, object).await?,
    };
    drop(conn);
    group_collection(state, opts, tenant, ids, view).await
}

/// GET /groups/{id}/memberOf
pub async fn group_member_of(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::GroupsRead)?;
    let (g, view) = guest_scope::group(&state, &auth, find(&state, auth.tenant(), &key).await).await?;
    groups_of(&state, &opts, auth.tenant(), g.id, GroupsOf::Direct, view).await
}

/// GET /groups/{id}/transitiveMemberOf
pub async fn group_transitive_member_of(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::GroupsRead)?;
    let (g, view) = guest_scope::group(&state, &auth, find(&state, auth.tenant(), &key).await).await?;
    groups_of(&state, &opts, auth.tenant(), g.id, GroupsOf::Transitive, view).await
}

async fn add_ref(
    auth: Authed,
    state: AppState,
    key: String,
    body: Map<String, Value>,
    rel: Relation,
) -> GraphResult<Response> {
    let caller = auth.require(Action::GroupMembersWrite)?.clone();
    for k in body.keys() {
        if k != "@odata.id" {
            return Err(GraphError::unknown_property(k, "directoryObject"));
        }
    }
    let url = body
        .get("@odata.id")
        .and_then(Value::as_str)
        .ok_or_else(|| GraphError::bad_request("Property '@odata.id' is required but was not supplied."))?;
    let id = object_id_from_ref(url).ok_or_else(|| GraphError::invalid_value("@odata.id"))?;
    let g = find(&state, auth.tenant(), &key).await?;
    let mut tx = state.dir.store.begin().await?;
    let kind = groups::resolve_object(&mut tx, auth.tenant(), id)
        .await?
        .ok_or_else(|| GraphError::not_found(&id.to_string()))?;
    if rel == Relation::Owners && kind == ObjectKind::Group {
        return Err(GraphError::bad_request("A group cannot own a group."));
    }
    if kind == ObjectKind::Group && id == g.id {
        return Err(GraphError::bad_request("A group cannot be a member of itself."));
    }
    if !groups::add_link(&mut tx, rel, g.id, id, kind).await? {
        let what = if rel == Relation::Members { "members" } else { "owners" };
        return Err(GraphError::bad_request(format!(
            "One or more added object references already exist for the following modified properties: '{what}'."
        )));
    }
    audit_link(&mut tx, &state, auth.tenant(), &Actor::of(&caller), rel, true, &g, id, kind).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn remove_ref(
    auth: Authed,
    state: AppState,
    key: String,
    object: String,
    rel: Relation,
) -> GraphResult<Response> {
    let caller = auth.require(Action::GroupMembersWrite)?.clone();
    let g = find(&state, auth.tenant(), &key).await?;
    let id = ObjectId::parse(&object)
        .ok_or_else(|| GraphError::bad_request(format!("Invalid object identifier '{object}'.")))?;
    let mut tx = state.dir.store.begin().await?;
    let kind = groups::resolve_object(&mut tx, auth.tenant(), id).await?.unwrap_or(ObjectKind::User);
    if !groups::remove_link(&mut tx, rel, g.id, id).await? {
        return Err(GraphError::not_found(&object));
    }
    audit_link(&mut tx, &state, auth.tenant(), &Actor::of(&caller), rel, false, &g, id, kind).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// POST /groups/{id}/members/$ref
pub async fn add_member(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    add_ref(auth, state, key, body, Relation::Members).await
}

/// POST /groups/{id}/owners/$ref
pub async fn add_owner(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    add_ref(auth, state, key, body, Relation::Owners).await
}

/// DELETE /groups/{id}/members/{memberId}/$ref
pub async fn remove_member(
    auth: Authed,
    State(state): State<AppState>,
    Path((key, member)): Path<(String, String)>,
) -> GraphResult<Response> {
    remove_ref(auth, state, key, member, Relation::Members).await
}

/// DELETE /groups/{id}/owners/{ownerId}/$ref
pub async fn remove_owner(
    auth: Authed,
    State(state): State<AppState>,
    Path((key, owner)): Path<(String, String)>,
) -> GraphResult<Response> {
    remove_ref(auth, state, key, owner, Relation::Owners).await
}
