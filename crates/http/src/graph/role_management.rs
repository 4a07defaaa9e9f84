//! `/roleManagement/directory/roleDefinitions` (built-in roles) and `roleAssignments`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portico_core::access::{Action, BUILT_IN_ROLES, BuiltInRole, Principal, resource_actions, role_by_id};
use portico_core::clock::graph_datetime;
use portico_core::ids::ObjectId;
use portico_odata::Value as V;
use portico_store::groups;
use portico_store::list::{Cond, Page};
use portico_store::roles::{self, RoleAssignment};
use portico_store::schema::ROLE_ASSIGNMENT;
use portico_store::{StoreError, audit as audit_store};
use serde_json::{Value, json};

use super::auth::Authed;
use super::body::{Access, JsonBody, Kind, Prop, check, p, require};
use super::error::{GraphError, GraphResult};
use super::query::QueryOptions;
use super::wire;
use crate::app::AppState;
use crate::audit::{Actor, Target, entry};

const ASSIGNMENT_PROPS: &[Prop] = &[
    p("principalId", Kind::StrRequired, Access::CreateOnly),
    p("roleDefinitionId", Kind::StrRequired, Access::CreateOnly),
    p("directoryScopeId", Kind::Str, Access::CreateOnly),
    p("appScopeId", Kind::Str, Access::NotYet),
    p("condition", Kind::Str, Access::NotYet),
    p("id", Kind::Str, Access::ReadOnly),
];

fn definition(r: &BuiltInRole) -> Value {
    let mut actions: Vec<&str> = vec![];
    for a in r.actions.iter().flat_map(|a| resource_actions(*a).iter().copied()) {
        // Several of Portico's actions share one of Entra's resource actions: list it once.
        if !actions.contains(&a) {
            actions.push(a);
        }
    }
    json!({
        "id": r.template_id,
        "description": r.description,
        "displayName": r.display_name,
        "isBuiltIn": true,
        "isEnabled": true,
        "resourceScopes": ["/"],
        "templateId": r.template_id,
        "version": "1",
        "rolePermissions": [{ "allowedResourceActions": actions, "condition": null }],
        "inheritsPermissionsFrom": [],
    })
}

fn assignment(a: &RoleAssignment) -> Value {
    json!({
        "id": a.id.to_string(),
        "principalId": a.principal_id.to_string(),
        "roleDefinitionId": a.role_definition_id,
        "directoryScopeId": a.directory_scope_id,
        "appScopeId": null,
        "condition": null,
        "createdDateTime": graph_datetime(a.created_at),
    })
}

/// GET /roleManagement/directory/roleDefinitions
pub async fn list_role_definitions(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::RolesRead)?;
    if opts.search.is_some() || opts.orderby.is_some() {
        return Err(GraphError::unsupported("$search and $orderby are not supported on role definitions."));
    }
    // Role definitions are a fixed catalog; $filter supports displayName eq and isBuiltIn eq.
    let mut roles: Vec<&BuiltInRole> = BUILT_IN_ROLES.iter().collect();
    if let Some(f) = &opts.filter {
        let f = f.trim();
        if let Some(name) = f.strip_prefix("displayName eq '").and_then(|r| r.strip_suffix('\'')) {
            roles.retain(|r| r.display_name.eq_ignore_ascii_case(&name.replace("''", "'")));
        } else if f.eq_ignore_ascii_case("isBuiltIn eq true") {
        } else if f.eq_ignore_ascii_case("isBuiltIn eq false") {
            roles.clear();
        } else {
            return Err(GraphError::unsupported(
                "Role definitions support $filter on displayName eq '...' and isBuiltIn eq true|false.",
            ));
        }
    }
    let items = roles.iter().map(|r| definition(r)).collect();
    Ok(wire::collection(
        &state.dir.settings.public_url,
        &opts,
        "roleManagement/directory/roleDefinitions",
        Page { items, next: None, count: None },
        &[],
    ))
}

/// GET /roleManagement/directory/roleDefinitions/{id}
pub async fn get_role_definition(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::RolesRead)?;
    let r = role_by_id(&id).ok_or_else(|| GraphError::not_found(&id))?;
    Ok(wire::entity(
        &state.dir.settings.public_url,
        &opts,
        "roleManagement/directory/roleDefinitions",
        definition(r),
        &[],
    ))
}

/// GET /roleManagement/directory/roleAssignments
pub async fn list_role_assignments(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::RolesRead)?;
    let plan = opts.plan(&ROLE_ASSIGNMENT, state.dir.store.dialect())?;
    let scope = Cond::new("tenant_id = $1", vec![V::Text(auth.tenant().to_string())]);
    let list = plan.list("role_assignments", roles::COLUMNS, scope, &opts);
    let page = list.run(&state.dir.store, roles::from_row).await?;
    let items = page.items.iter().map(|a| wire::select(assignment(a), &plan.select, &[])).collect();
    Ok(wire::collection(
        &state.dir.settings.public_url,
        &opts,
        "roleManagement/directory/roleAssignments",
        Page { items, next: page.next, count: page.count },
        &plan.select,
    ))
}

/// GET /roleManagement/directory/roleAssignments/{id}
pub async fn get_role_assignment(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::RolesRead)?;
    let oid = ObjectId::parse(&id).ok_or_else(|| GraphError::not_found(&id))?;
    let mut conn = state.conn().await?;
    let a = roles::get(&mut conn, auth.tenant(), oid).await?.ok_or_else(|| GraphError::not_found(&id))?;
    Ok(wire::entity(
        &state.dir.settings.public_url,
        &opts,
        "roleManagement/directory/roleAssignments",
        assignment(&a),
        &[],
    ))
}

/// POST /roleManagement/directory/roleAssignments
pub async fn create_role_assignment(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::RolesWrite)?.clone();
    check(&body, "unifiedRoleAssignment", ASSIGNMENT_PROPS, true, &[])?;
    require(&body, &["principalId", "roleDefinitionId"])?;
    let principal = body
        .get("principalId")
        .and_then(Value::as_str)
        .and_then(ObjectId::parse)
        .ok_or_else(|| GraphError::invalid_value("principalId"))?;
    let role_id = body.get("roleDefinitionId").and_then(Value::as_str).unwrap_or_default().to_string();
    let scope = body.get("directoryScopeId").and_then(Value::as_str).unwrap_or("/");
    if scope != "/" {
        return Err(GraphError::new(
            StatusCode::NOT_IMPLEMENTED,
            "notSupported",
            "Only tenant-wide role assignments (directoryScopeId '/') are supported by Portico yet.",
        ));
    }
    if role_by_id(&role_id).is_none() {
        return Err(GraphError::bad_request(format!("The role definition '{role_id}' does not exist.")));
    }
    let mut tx = state.dir.store.begin().await?;
    match groups::resolve_object(&mut tx, auth.tenant(), principal).await? {
        Some(groups::ObjectKind::User | groups::ObjectKind::ServicePrincipal) => {}
        Some(groups::ObjectKind::Group) => {
            let g = groups::get(&mut tx, auth.tenant(), principal, false).await?;
            if !g.is_some_and(|g| g.is_assignable_to_role) {
                return Err(GraphError::bad_request(
                    "Only groups created with isAssignableToRole can be assigned roles.",
                ));
            }
        }
        None => return Err(GraphError::not_found(&principal.to_string())),
    }
    let a = state.dir.assign_role(&mut tx, auth.tenant(), principal, &role_id, &Actor::of(&caller)).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(wire::created(&state.dir.settings.public_url, &opts, "roleManagement/directory/roleAssignments", assignment(&a)))
}

/// DELETE /roleManagement/directory/roleAssignments/{id}
pub async fn delete_role_assignment(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> GraphResult<Response> {
    let caller = auth.require(Action::RolesWrite)?.clone();
    let oid = ObjectId::parse(&id).ok_or_else(|| GraphError::not_found(&id))?;
    let mut tx = state.dir.store.begin().await?;
    let a = roles::get(&mut tx, auth.tenant(), oid).await?.ok_or_else(|| GraphError::not_found(&id))?;
    if let Principal::User { user_id, .. } = &caller.principal
        && *user_id == a.principal_id
        && a.role_definition_id == portico_core::access::GLOBAL_ADMINISTRATOR
    {
        return Err(GraphError::bad_request("You cannot remove your own Global Administrator role."));
    }
    roles::delete(&mut tx, auth.tenant(), oid).await?;
    let name = role_by_id(&a.role_definition_id).map(|r| r.display_name).unwrap_or("role");
    let t = Target::new(a.principal_id, "User", None).with_changes(vec![(
        "Role.DisplayName".into(),
        json!(name),
        Value::Null,
    )]);
    audit_store::insert(
        &mut tx,
        &entry(
            auth.tenant(),
            &Actor::of(&caller),
            "Remove member from role",
            "RoleManagement",
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
