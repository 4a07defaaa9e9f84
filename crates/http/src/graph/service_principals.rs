//! `/servicePrincipals`, and app role assignments: `appRoleAssignedTo` on a resource, and
//! `appRoleAssignments` held by a service principal, user or group.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portico_core::access::{Action, GRAPH_APP_ID};
use portico_core::ids::{ObjectId, TenantId, parse_guid};
use portico_store::apps::{self, AppRoleAssignment, Application, ServicePrincipal, Side};
use portico_store::groups::{self, ObjectKind};
use portico_store::list::Page;
use portico_store::schema::SERVICE_PRINCIPAL;
use portico_store::{StoreError, audit as audit_store, users};
use serde_json::{Map, Value, json};

use super::auth::Authed;
use super::body::{Access, JsonBody, Kind, Prop, check, opt_str, p, require, str_list};
use super::error::{GraphError, GraphResult};
use super::query::{QueryOptions, tenant_scope};
use super::wire;
use crate::app::AppState;
use crate::audit::{Actor, Target, diff, entry};
use crate::directory::graph_app_roles;

const W: Access = Access::Write;

/// The writable shape of microsoft.graph.servicePrincipal.
pub const SP_PROPS: &[Prop] = &[
    p("appId", Kind::StrRequired, Access::CreateOnly),
    p("accountEnabled", Kind::Bool, W),
    p("appRoleAssignmentRequired", Kind::Bool, W),
    p("displayName", Kind::StrRequired, W),
    p("tags", Kind::StrList, W),
    p("id", Kind::Str, Access::ReadOnly),
    p("appRoles", Kind::ObjectList, Access::ReadOnly),
    p("appDisplayName", Kind::Str, Access::ReadOnly),
    p("appOwnerOrganizationId", Kind::Str, Access::ReadOnly),
    p("servicePrincipalType", Kind::Str, Access::ReadOnly),
    p("servicePrincipalNames", Kind::StrList, Access::ReadOnly),
    p("replyUrls", Kind::StrList, Access::ReadOnly),
    p("createdDateTime", Kind::Str, Access::ReadOnly),
    p("deletedDateTime", Kind::Str, Access::ReadOnly),
    p("preferredSingleSignOnMode", Kind::Str, Access::NotYet),
    p("samlSingleSignOnSettings", Kind::Object, Access::NotYet),
    p("loginUrl", Kind::Str, Access::NotYet),
];

const ASSIGNMENT_PROPS: &[Prop] = &[
    p("principalId", Kind::StrRequired, W),
    p("resourceId", Kind::StrRequired, W),
    p("appRoleId", Kind::StrRequired, W),
    p("id", Kind::Str, Access::ReadOnly),
    p("principalType", Kind::Str, Access::ReadOnly),
    p("principalDisplayName", Kind::Str, Access::ReadOnly),
    p("resourceDisplayName", Kind::Str, Access::ReadOnly),
    p("createdDateTime", Kind::Str, Access::ReadOnly),
];

const DEFAULT_ACCESS: &str = "00000000-0000-0000-0000-000000000000";

/// Finds a live service principal.
pub async fn find(state: &AppState, tenant: TenantId, key: &str) -> GraphResult<ServicePrincipal> {
    let id =
        ObjectId::parse(key).ok_or_else(|| GraphError::bad_request(format!("Invalid object identifier '{key}'.")))?;
    let mut conn = state.conn().await?;
    apps::get_sp(&mut conn, tenant, id).await?.ok_or_else(|| GraphError::not_found(key))
}

/// The app roles a service principal exposes (its application's, or Graph's permissions) and
/// its reply URLs.
pub async fn app_roles_of(state: &AppState, sp: &ServicePrincipal) -> GraphResult<(Value, Vec<String>)> {
    let mut conn = state.conn().await?;
    let ids: Vec<ObjectId> = sp.application_id.into_iter().collect();
    let apps_by_id = apps::get_apps(&mut conn, sp.tenant_id, &ids).await?;
    Ok(roles_and_replies(sp, &apps_by_id))
}

fn roles_and_replies(sp: &ServicePrincipal, apps_by_id: &HashMap<ObjectId, Application>) -> (Value, Vec<String>) {
    if sp.app_id == GRAPH_APP_ID && sp.application_id.is_none() {
        return (graph_app_roles(), vec![]);
    }
    match sp.application_id.and_then(|id| apps_by_id.get(&id)) {
        Some(a) => {
            let replies = a
                .web
                .get("redirectUris")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            (a.app_roles.clone(), replies)
        }
        None => (json!([]), vec![]),
    }
}

async fn render(state: &AppState, sp: &ServicePrincipal) -> GraphResult<Value> {
    let (roles, replies) = app_roles_of(state, sp).await?;
    Ok(wire::service_principal(sp, &roles, &replies))
}

/// Renders a page of service principals with one query for their applications in all.
async fn render_many(state: &AppState, tenant: TenantId, list: &[ServicePrincipal]) -> GraphResult<Vec<Value>> {
    let ids: Vec<ObjectId> = list.iter().filter_map(|sp| sp.application_id).collect();
    let mut conn = state.conn().await?;
    let apps_by_id = apps::get_apps(&mut conn, tenant, &ids).await?;
    Ok(list
        .iter()
        .map(|sp| {
            let (roles, replies) = roles_and_replies(sp, &apps_by_id);
            wire::service_principal(sp, &roles, &replies)
        })
        .collect())
}

/// GET /servicePrincipals
pub async fn list_service_principals(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::AppsRead)?;
    let plan = opts.plan(&SERVICE_PRINCIPAL, state.dir.store.dialect())?;
    let list = plan.list("service_principals", apps::SP_COLUMNS, tenant_scope(auth.tenant(), false), &opts);
    let page = list.run(&state.dir.store, apps::sp_from_row).await?;
    let items = render_many(&state, auth.tenant(), &page.items)
        .await?
        .into_iter()
        .map(|v| wire::select(v, &plan.select, &[]))
        .collect();
    Ok(wire::collection(
        &state.dir.settings.public_url,
        &opts,
        "servicePrincipals",
        Page { items, next: page.next, count: page.count },
        &plan.select,
    ))
}

/// GET /servicePrincipals/{id}
pub async fn get_service_principal(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::AppsRead)?;
    let select = opts.select_for(&SERVICE_PRINCIPAL)?;
    let sp = find(&state, auth.tenant(), &key).await?;
    let v = render(&state, &sp).await?;
    Ok(wire::entity(&state.dir.settings.public_url, &opts, "servicePrincipals", wire::select(v, &select, &[]), &select))
}

/// POST /servicePrincipals: creates the service principal of an application registered in this tenant.
pub async fn create_service_principal(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::AppsWrite)?.clone();
    check(&body, "servicePrincipal", SP_PROPS, true, &[])?;
    require(&body, &["appId"])?;
    let app_id = opt_str(&body, "appId").flatten().unwrap_or_default();
    if parse_guid(&app_id).is_none() {
        return Err(GraphError::invalid_value("appId"));
    }
    let mut tx = state.dir.store.begin().await?;
    let app = apps::get_app_by_app_id(&mut tx, auth.tenant(), &app_id).await?.ok_or_else(|| {
        GraphError::bad_request(format!(
            "The appId '{app_id}' of the service principal does not reference a valid application object."
        ))
    })?;
    if apps::get_sp_by_app_id(&mut tx, auth.tenant(), &app.app_id).await?.is_some() {
        return Err(GraphError::new(
            StatusCode::CONFLICT,
            "Request_MultipleObjectsWithSameKeyValue",
            "The service principal cannot be created, updated, or restored because the service principal name is already in use.",
        ));
    }
    let mut sp = state.dir.create_service_principal(&mut tx, auth.tenant(), &app, &Actor::of(&caller)).await?;
    if let Some(v) = body.get("appRoleAssignmentRequired").and_then(Value::as_bool) {
        sp.app_role_assignment_required = v;
    }
    if let Some(v) = body.get("accountEnabled").and_then(Value::as_bool) {
        sp.account_enabled = v;
    }
    if let Some(t) = str_list(&body, "tags") {
        sp.tags = t;
    }
    apps::update_sp(&mut tx, &sp).await?;
    tx.commit().await.map_err(StoreError::from)?;
    let v = render(&state, &sp).await?;
    Ok(wire::created(&state.dir.settings.public_url, &opts, "servicePrincipals", v))
}

/// PATCH /servicePrincipals/{id}
pub async fn update_service_principal(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::AppsWrite)?.clone();
    check(&body, "servicePrincipal", SP_PROPS, false, &[])?;
    let old = find(&state, auth.tenant(), &key).await?;
    if old.app_id == GRAPH_APP_ID && old.application_id.is_none() {
        // Disabling or renaming it would break every Graph-shaped token of the tenant.
        return Err(GraphError::bad_request("The Microsoft Graph service principal cannot be changed."));
    }
    let mut sp = old.clone();
    if let Some(Some(v)) = opt_str(&body, "displayName") {
        if v.trim().is_empty() {
            return Err(GraphError::invalid_value("displayName"));
        }
        sp.display_name = v.trim().into();
    }
    if let Some(v) = body.get("appRoleAssignmentRequired").and_then(Value::as_bool) {
        sp.app_role_assignment_required = v;
    }
    if let Some(v) = body.get("accountEnabled").and_then(Value::as_bool) {
        sp.account_enabled = v;
    }
    if let Some(t) = str_list(&body, "tags") {
        sp.tags = t;
    }
    let mut tx = state.dir.store.begin().await?;
    apps::update_sp(&mut tx, &sp).await?;
    let names = ["displayName", "appRoleAssignmentRequired", "accountEnabled", "tags"];
    let t = Target::new(sp.id, "ServicePrincipal", Some(sp.display_name.clone())).with_changes(diff(
        &wire::service_principal(&old, &json!([]), &[]),
        &wire::service_principal(&sp, &json!([]), &[]),
        &names,
    ));
    audit_store::insert(
        &mut tx,
        &entry(
            auth.tenant(),
            &Actor::of(&caller),
            "Update service principal",
            "ApplicationManagement",
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

/// DELETE /servicePrincipals/{id}
pub async fn delete_service_principal(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> GraphResult<Response> {
    let caller = auth.require(Action::AppsWrite)?.clone();
    let sp = find(&state, auth.tenant(), &key).await?;
    if sp.app_id == GRAPH_APP_ID {
        return Err(GraphError::bad_request("The Microsoft Graph service principal cannot be deleted."));
    }
    let mut tx = state.dir.store.begin().await?;
    apps::purge_sp(&mut tx, auth.tenant(), sp.id).await?;
    let t = Target::new(sp.id, "ServicePrincipal", Some(sp.display_name.clone()));
    audit_store::insert(
        &mut tx,
        &entry(
            auth.tenant(),
            &Actor::of(&caller),
            "Remove service principal",
            "ApplicationManagement",
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

// ---- app role assignments ----

/// Who an assignment path belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    /// `/servicePrincipals/{id}/appRoleAssignedTo`: assignments on a resource.
    Resource,
    /// `/{users|groups|servicePrincipals}/{id}/appRoleAssignments`: held by a principal.
    Principal(ObjectKind),
}

async fn owner_id(state: &AppState, tenant: TenantId, owner: Owner, key: &str) -> GraphResult<ObjectId> {
    match owner {
        Owner::Resource | Owner::Principal(ObjectKind::ServicePrincipal) => Ok(find(state, tenant, key).await?.id),
        Owner::Principal(ObjectKind::User) => Ok(super::users::find(state, tenant, key).await?.id),
        Owner::Principal(ObjectKind::Group) => Ok(super::groups::find(state, tenant, key).await?.id),
    }
}

async fn display_name(state: &AppState, tenant: TenantId, id: ObjectId) -> GraphResult<Option<String>> {
    let mut conn = state.conn().await?;
    Ok(match groups::resolve_object(&mut conn, tenant, id).await? {
        Some(ObjectKind::User) => {
            users::get(&mut conn, tenant, id, users::Deleted::Exclude).await?.map(|u| u.display_name)
        }
        Some(ObjectKind::Group) => groups::get(&mut conn, tenant, id, false).await?.map(|g| g.display_name),
        Some(ObjectKind::ServicePrincipal) => apps::get_sp(&mut conn, tenant, id).await?.map(|s| s.display_name),
        None => None,
    })
}

async fn render_assignment(state: &AppState, tenant: TenantId, a: &AppRoleAssignment) -> GraphResult<Value> {
    let pn = display_name(state, tenant, a.principal_id).await?;
    let rn = display_name(state, tenant, a.resource_id).await?;
    Ok(wire::app_role_assignment(a, pn.as_deref(), rn.as_deref()))
}

async fn list_assignments(
    auth: Authed,
    state: AppState,
    key: String,
    opts: QueryOptions,
    owner: Owner,
) -> GraphResult<Response> {
    auth.require(Action::AppsRead)?;
    let id = owner_id(&state, auth.tenant(), owner, &key).await?;
    let side = if owner == Owner::Resource { Side::Resource } else { Side::Principal };
    if opts.filter.is_some() || opts.search.is_some() || opts.orderby.is_some() {
        return Err(GraphError::unsupported(
            "$filter, $search and $orderby are not supported on app role assignments by Portico yet.",
        ));
    }
    let mut conn = state.conn().await?;
    // An assignment whose other end is soft-deleted (a deleted user, or a service principal
    // deleted with its application) comes back with it on restore; meanwhile it is not listed.
    let mut all = vec![];
    for a in apps::assignments(&mut conn, auth.tenant(), side, id).await? {
        let other = if side == Side::Resource { a.principal_id } else { a.resource_id };
        if groups::resolve_object(&mut conn, auth.tenant(), other).await?.is_some() {
            all.push(a);
        }
    }
    drop(conn);
    let (items, next, count) = super::groups::paged(&all, &opts)?;
    let mut out = vec![];
    for a in &items {
        out.push(render_assignment(&state, auth.tenant(), a).await?);
    }
    Ok(wire::collection(
        &state.dir.settings.public_url,
        &opts,
        "appRoleAssignments",
        Page { items: out, next, count },
        &[],
    ))
}

async fn create_assignment(
    auth: Authed,
    state: AppState,
    key: String,
    opts: QueryOptions,
    body: Map<String, Value>,
    owner: Owner,
) -> GraphResult<Response> {
    let caller = auth.require(Action::AppRoleAssignmentsWrite)?.clone();
    check(&body, "appRoleAssignment", ASSIGNMENT_PROPS, true, &[])?;
    require(&body, &["principalId", "resourceId", "appRoleId"])?;
    let tenant = auth.tenant();
    let guid = |k: &str| {
        body.get(k).and_then(Value::as_str).and_then(ObjectId::parse).ok_or_else(|| GraphError::invalid_value(k))
    };
    let principal_id = guid("principalId")?;
    let resource_id = guid("resourceId")?;
    let app_role_id = body
        .get("appRoleId")
        .and_then(Value::as_str)
        .and_then(parse_guid)
        .ok_or_else(|| GraphError::invalid_value("appRoleId"))?
        .to_string();
    let path_id = owner_id(&state, tenant, owner, &key).await?;
    match owner {
        Owner::Resource if path_id != resource_id => {
            return Err(GraphError::bad_request("The resourceId must be the service principal in the request URL."));
        }
        Owner::Principal(_) if path_id != principal_id => {
            return Err(GraphError::bad_request("The principalId must be the object in the request URL."));
        }
        _ => {}
    }
    let mut tx = state.dir.store.begin().await?;
    let kind = groups::resolve_object(&mut tx, tenant, principal_id)
        .await?
        .ok_or_else(|| GraphError::not_found(&principal_id.to_string()))?;
    if let Owner::Principal(k) = owner
        && k != kind
    {
        return Err(GraphError::not_found(&principal_id.to_string()));
    }
    let resource = apps::get_sp(&mut tx, tenant, resource_id)
        .await?
        .ok_or_else(|| GraphError::not_found(&resource_id.to_string()))?;
    drop(tx);
    let (roles, _) = app_roles_of(&state, &resource).await?;
    let member_type = if kind == ObjectKind::ServicePrincipal { "Application" } else { "User" };
    let role = roles.as_array().and_then(|a| {
        a.iter().find(|r| r.get("id").and_then(Value::as_str).is_some_and(|i| i.eq_ignore_ascii_case(&app_role_id)))
    });
    let ok = match role {
        Some(r) => {
            r.get("isEnabled").and_then(Value::as_bool).unwrap_or(true)
                && r.get("allowedMemberTypes")
                    .and_then(Value::as_array)
                    .is_some_and(|t| t.iter().any(|x| x == member_type))
        }
        None => app_role_id == DEFAULT_ACCESS && kind != ObjectKind::ServicePrincipal,
    };
    if !ok {
        return Err(GraphError::bad_request(format!(
            "Permission being assigned was not found on application '{}'.",
            resource.app_id
        )));
    }
    let (principal_type, activity) = match kind {
        ObjectKind::User => ("User", "Add app role assignment grant to user"),
        ObjectKind::Group => ("Group", "Add app role assignment to group"),
        ObjectKind::ServicePrincipal => ("ServicePrincipal", "Add app role assignment to service principal"),
    };
    let a = AppRoleAssignment {
        id: ObjectId::new(),
        tenant_id: tenant,
        app_role_id,
        principal_id,
        principal_type: principal_type.into(),
        resource_id,
        created_at: state.now_ms(),
    };
    let mut tx = state.dir.store.begin().await?;
    apps::insert_assignment(&mut tx, &a).await?;
    let value = role.and_then(|r| r.get("value").cloned()).unwrap_or(Value::Null);
    let t = Target::new(principal_id, principal_type, None).with_changes(vec![
        ("AppRole.Id".into(), Value::Null, json!(a.app_role_id)),
        ("AppRole.Value".into(), Value::Null, value),
    ]);
    let r = Target::new(resource.id, "ServicePrincipal", Some(resource.display_name.clone()));
    audit_store::insert(
        &mut tx,
        &entry(
            tenant,
            &Actor::of(&caller),
            activity,
            "ApplicationManagement",
            "Assign",
            "Core Directory",
            &[t, r],
            state.now_ms(),
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    let v = render_assignment(&state, tenant, &a).await?;
    Ok(wire::created(&state.dir.settings.public_url, &opts, "appRoleAssignments", v))
}

async fn delete_assignment(
    auth: Authed,
    state: AppState,
    key: String,
    aid: String,
    owner: Owner,
) -> GraphResult<Response> {
    let caller = auth.require(Action::AppRoleAssignmentsWrite)?.clone();
    let tenant = auth.tenant();
    let path_id = owner_id(&state, tenant, owner, &key).await?;
    let id =
        ObjectId::parse(&aid).ok_or_else(|| GraphError::bad_request(format!("Invalid object identifier '{aid}'.")))?;
    let mut tx = state.dir.store.begin().await?;
    let a = apps::get_assignment(&mut tx, tenant, id).await?.ok_or_else(|| GraphError::not_found(&aid))?;
    let belongs = match owner {
        Owner::Resource => a.resource_id == path_id,
        Owner::Principal(_) => a.principal_id == path_id,
    };
    if !belongs {
        return Err(GraphError::not_found(&aid));
    }
    apps::delete_assignment(&mut tx, tenant, id).await?;
    let activity = match a.principal_type.as_str() {
        "User" => "Remove app role assignment from user",
        "Group" => "Remove app role assignment from group",
        _ => "Remove app role assignment from service principal",
    };
    let t = Target::new(a.principal_id, "Other", None).with_changes(vec![(
        "AppRole.Id".into(),
        json!(a.app_role_id),
        Value::Null,
    )]);
    audit_store::insert(
        &mut tx,
        &entry(
            tenant,
            &Actor::of(&caller),
            activity,
            "ApplicationManagement",
            "Unassign",
            "Core Directory",
            &[t],
            state.now_ms(),
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

macro_rules! assignment_handlers {
    ($list:ident, $create:ident, $delete:ident, $owner:expr, $doc:literal) => {
        #[doc = concat!("GET ", $doc)]
        pub async fn $list(
            auth: Authed,
            State(state): State<AppState>,
            Path(key): Path<String>,
            opts: QueryOptions,
        ) -> GraphResult<Response> {
            list_assignments(auth, state, key, opts, $owner).await
        }
        #[doc = concat!("POST ", $doc)]
        pub async fn $create(
            auth: Authed,
            State(state): State<AppState>,
            Path(key): Path<String>,
            opts: QueryOptions,
            JsonBody(body): JsonBody,
        ) -> GraphResult<Response> {
            create_assignment(auth, state, key, opts, body, $owner).await
        }
        #[doc = concat!("DELETE ", $doc, "/{assignmentId}")]
        pub async fn $delete(
            auth: Authed,
            State(state): State<AppState>,
            Path((key, aid)): Path<(String, String)>,
        ) -> GraphResult<Response> {
            delete_assignment(auth, state, key, aid, $owner).await
        }
    };
}

assignment_handlers!(
    list_assigned_to,
    create_assigned_to,
    delete_assigned_to,
    Owner::Resource,
    "/servicePrincipals/{id}/appRoleAssignedTo"
);
assignment_handlers!(
    list_sp_assignments,
    create_sp_assignment,
    delete_sp_assignment,
    Owner::Principal(ObjectKind::ServicePrincipal),
    "/servicePrincipals/{id}/appRoleAssignments"
);
assignment_handlers!(
    list_user_assignments,
    create_user_assignment,
    delete_user_assignment,
    Owner::Principal(ObjectKind::User),
    "/users/{id}/appRoleAssignments"
);
assignment_handlers!(
    list_group_assignments,
    create_group_assignment,
    delete_group_assignment,
    Owner::Principal(ObjectKind::Group),
    "/groups/{id}/appRoleAssignments"
);
