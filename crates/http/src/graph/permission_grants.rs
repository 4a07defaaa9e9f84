//! `/oauth2PermissionGrants`: delegated consent, in Graph's oAuth2PermissionGrant shape, and the
//! grants of one user (`/users/{id}/oauth2PermissionGrants`) or one client
//! (`/servicePrincipals/{id}/oauth2PermissionGrants`).
//!
//! Permissions: reads need [`Action::AppsRead`] (Graph: Directory.Read.All); writes need
//! [`Action::AppRoleAssignmentsWrite`]. Graph's own permission for writes is
//! DelegatedPermissionGrant.ReadWrite.All, which the catalog does not have; the closest existing
//! action (AppRoleAssignment.ReadWrite.All, Directory.ReadWrite.All) stands in for it.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portico_core::access::{Action, GRAPH_APP_ID, scope_by_name};
use portico_core::ids::{ObjectId, TenantId};
use portico_odata::{EntitySchema, Field, FieldKind, Ops, Value as V};
use portico_store::apps::{self, ServicePrincipal};
use portico_store::consent::{self, PermissionGrant};
use portico_store::list::{Cond, Page};
use portico_store::users::{self, Deleted};
use portico_store::{StoreError, audit as audit_store};
use serde_json::{Value, json};
use sqlx::AnyConnection;

use super::auth::Authed;
use super::body::{Access, JsonBody, Kind, Prop, check, opt_str, p, require};
use super::error::{GraphError, GraphResult};
use super::query::QueryOptions;
use super::wire;
use crate::app::AppState;
use crate::audit::{Actor, Target, entry};

/// A new grant id: Graph's are opaque base64url strings, not GUIDs.
pub fn new_grant_id() -> String {
    portico_core::secret::random_token(32)
}

/// The OData allow-list of oAuth2PermissionGrant: Graph filters on its four keys with `eq`.
pub static GRANT: EntitySchema = EntitySchema {
    entity: "OAuth2PermissionGrant",
    table: "oauth2_permission_grants",
    id_column: "id",
    fields: &[
        Field::new("id", FieldKind::Text { column: "", ci_column: "" }, Ops::NONE),
        Field::new("clientId", FieldKind::Guid { column: "client_id" }, Ops::EQ_IN),
        Field::new("resourceId", FieldKind::Guid { column: "resource_id" }, Ops::EQ_IN),
        Field::new("principalId", FieldKind::Guid { column: "principal_id" }, Ops::EQ_IN),
        Field::new(
            "consentType",
            FieldKind::Enum { column: "consent_type", values: &["AllPrincipals", "Principal"] },
            Ops::EQ_IN,
        ),
        Field::new("scope", FieldKind::Text { column: "", ci_column: "" }, Ops::NONE),
    ],
};

const W: Access = Access::Write;

/// The writable shape of microsoft.graph.oAuth2PermissionGrant.
const GRANT_PROPS: &[Prop] = &[
    p("clientId", Kind::StrRequired, Access::CreateOnly),
    p("consentType", Kind::StrRequired, Access::CreateOnly),
    p("principalId", Kind::Str, Access::CreateOnly),
    p("resourceId", Kind::StrRequired, Access::CreateOnly),
    p("scope", Kind::Str, W),
    p("id", Kind::Str, Access::ReadOnly),
];

/// Graph's limit on the scope string.
const MAX_SCOPE_LEN: usize = 3850;

/// A grant in Graph's shape.
pub fn render(g: &PermissionGrant) -> Value {
    json!({
        "id": g.id,
        "clientId": g.client_id.to_string(),
        "consentType": g.consent_type,
        "principalId": g.principal_id.map(|p| p.to_string()),
        "resourceId": g.resource_id.to_string(),
        "scope": g.scope,
    })
}

fn conflict() -> GraphError {
    GraphError::new(
        StatusCode::CONFLICT,
        "Request_MultipleObjectsWithSameKeyValue",
        "Permission entry already exists for this client, resource and principal; update it instead.",
    )
}

/// A grant of the caller's tenant, or 404.
async fn find(state: &AppState, tenant: TenantId, id: &str) -> GraphResult<PermissionGrant> {
    // Ids are 43-character base64url tokens; anything else cannot name one.
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(GraphError::not_found(id));
    }
    let mut conn = state.conn().await?;
    consent::get(&mut conn, tenant, id).await?.ok_or_else(|| GraphError::not_found(id))
}

/// A live service principal of the tenant named by a body property, or 400.
async fn live_sp(conn: &mut AnyConnection, tenant: TenantId, prop: &str, v: &str) -> GraphResult<ServicePrincipal> {
    let id = ObjectId::parse(v).ok_or_else(|| GraphError::invalid_value(prop))?;
    apps::get_sp(conn, tenant, id).await?.ok_or_else(|| {
        GraphError::bad_request(format!("The service principal '{v}' named by '{prop}' does not exist in this tenant."))
    })
}

/// The scope values `resource` offers as delegated permissions: Microsoft Graph's catalog, or the
/// enabled `api.oauth2PermissionScopes` of the resource's application.
async fn offered_scopes(conn: &mut AnyConnection, resource: &ServicePrincipal) -> GraphResult<Vec<String>> {
    if resource.app_id == GRAPH_APP_ID && resource.application_id.is_none() {
        return Ok(portico_core::access::GRAPH_SCOPES.iter().map(|s| s.name.to_string()).collect());
    }
    let Some(app_id) = resource.application_id else { return Ok(vec![]) };
    let Some(app) = apps::get_app(conn, resource.tenant_id, app_id, false).await? else { return Ok(vec![]) };
    Ok(app
        .api
        .get("oauth2PermissionScopes")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter(|s| s.get("isEnabled").and_then(Value::as_bool).unwrap_or(true))
                .filter_map(|s| s.get("value").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// Checks a space-separated scope string against what `resource` offers and returns it
/// normalized (canonical spelling, single spaces, no duplicates).
async fn checked_scope(conn: &mut AnyConnection, resource: &ServicePrincipal, scope: &str) -> GraphResult<String> {
    if scope.len() > MAX_SCOPE_LEN {
        return Err(GraphError::bad_request(format!(
            "Property 'scope' is too long (at most {MAX_SCOPE_LEN} characters)."
        )));
    }
    let graph = resource.app_id == GRAPH_APP_ID && resource.application_id.is_none();
    let offered = if graph { vec![] } else { offered_scopes(conn, resource).await? };
    let mut out: Vec<String> = vec![];
    for s in scope.split_whitespace() {
        let canonical = if graph {
            scope_by_name(s).map(|d| d.name.to_string())
        } else {
            offered.iter().find(|o| o.eq_ignore_ascii_case(s)).cloned()
        };
        let canonical = canonical.ok_or_else(|| {
            GraphError::bad_request(format!(
                "Invalid value specified for property 'scope': '{s}' is not a delegated permission of resource '{}'.",
                resource.id
            ))
        })?;
        if !out.contains(&canonical) {
            out.push(canonical);
        }
    }
    Ok(out.join(" "))
}

fn audit_target(g: &PermissionGrant, resource_name: Option<String>, old_scope: Option<&str>) -> Target {
    Target::new(g.resource_id, "ServicePrincipal", resource_name).with_changes(vec![
        (
            "DelegatedPermissionGrant.Scope".into(),
            old_scope.map_or(Value::Null, |s| json!(s)),
            if g.scope.is_empty() { Value::Null } else { json!(g.scope) },
        ),
        ("DelegatedPermissionGrant.ConsentType".into(), Value::Null, json!(g.consent_type)),
    ])
}

async fn list_within(state: &AppState, opts: &QueryOptions, scope: Cond) -> GraphResult<Response> {
    let plan = opts.plan(&GRANT, state.dir.store.dialect())?;
    let list = plan.list("oauth2_permission_grants", consent::COLUMNS, scope, opts);
    let page = list.run(&state.dir.store, consent::from_row).await?;
    let items = page.items.iter().map(|g| wire::select(render(g), &plan.select, &[])).collect();
    Ok(wire::collection(
        &state.dir.settings.public_url,
        opts,
        "oauth2PermissionGrants",
        Page { items, next: page.next, count: page.count },
        &plan.select,
    ))
}

/// GET /oauth2PermissionGrants
pub async fn list_grants(auth: Authed, State(state): State<AppState>, opts: QueryOptions) -> GraphResult<Response> {
    auth.require(Action::AppsRead)?;
    let scope = Cond::new("tenant_id = $1", vec![V::Text(auth.tenant().to_string())]);
    list_within(&state, &opts, scope).await
}

/// GET /users/{id}/oauth2PermissionGrants: the grants made for this user (consentType Principal).
pub async fn list_user_grants(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::AppsRead)?;
    let u = super::users::find(&state, auth.tenant(), &key).await?;
    let scope = Cond::new(
        "tenant_id = $1 AND principal_id = $2",
        vec![V::Text(auth.tenant().to_string()), V::Text(u.id.to_string())],
    );
    list_within(&state, &opts, scope).await
}

/// GET /servicePrincipals/{id}/oauth2PermissionGrants: the grants this service principal holds
/// as the client.
pub async fn list_sp_grants(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::AppsRead)?;
    let sp = super::service_principals::find(&state, auth.tenant(), &key).await?;
    let scope = Cond::new(
        "tenant_id = $1 AND client_id = $2",
        vec![V::Text(auth.tenant().to_string()), V::Text(sp.id.to_string())],
    );
    list_within(&state, &opts, scope).await
}

/// GET /oauth2PermissionGrants/{id}
pub async fn get_grant(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::AppsRead)?;
    let select = opts.select_for(&GRANT)?;
    let g = find(&state, auth.tenant(), &id).await?;
    Ok(wire::entity(
        &state.dir.settings.public_url,
        &opts,
        "oauth2PermissionGrants",
        wire::select(render(&g), &select, &[]),
        &select,
    ))
}

fn canonical_consent_type(v: &str) -> GraphResult<&'static str> {
    ["AllPrincipals", "Principal"]
        .into_iter()
        .find(|t| t.eq_ignore_ascii_case(v))
        .ok_or_else(|| GraphError::invalid_value("consentType"))
}

/// POST /oauth2PermissionGrants
pub async fn create_grant(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::AppRoleAssignmentsWrite)?.clone();
    check(&body, "oAuth2PermissionGrant", GRANT_PROPS, true, &[])?;
    require(&body, &["clientId", "consentType", "resourceId"])?;
    let s = |k: &str| opt_str(&body, k).flatten().unwrap_or_default();
    let consent_type = canonical_consent_type(&s("consentType"))?;
    let principal_text = opt_str(&body, "principalId").flatten();
    let tenant = auth.tenant();
    let mut tx = state.dir.store.begin().await?;
    let client = live_sp(&mut tx, tenant, "clientId", &s("clientId")).await?;
    let resource = live_sp(&mut tx, tenant, "resourceId", &s("resourceId")).await?;
    let principal = match (consent_type, principal_text) {
        ("Principal", Some(p)) => {
            let id = ObjectId::parse(&p).ok_or_else(|| GraphError::invalid_value("principalId"))?;
            let u = users::get(&mut tx, tenant, id, Deleted::Exclude).await?.ok_or_else(|| {
                GraphError::bad_request(format!("The user '{p}' named by 'principalId' does not exist in this tenant."))
            })?;
            Some(u.id)
        }
        ("Principal", None) => {
            return Err(GraphError::bad_request("Property 'principalId' is required when consentType is 'Principal'."));
        }
        (_, Some(_)) => {
            return Err(GraphError::bad_request(
                "Property 'principalId' must be null when consentType is 'AllPrincipals'.",
            ));
        }
        (_, None) => None,
    };
    let scope = checked_scope(&mut tx, &resource, &s("scope")).await?;
    if consent::find(&mut tx, tenant, client.id, resource.id, principal).await?.is_some() {
        return Err(conflict());
    }
    let g = PermissionGrant {
        id: new_grant_id(),
        tenant_id: tenant,
        client_id: client.id,
        consent_type: consent_type.to_string(),
        principal_id: principal,
        resource_id: resource.id,
        scope,
        created_at: state.now_ms(),
    };
    consent::insert(&mut tx, &g).await.map_err(|e| match e {
        StoreError::Conflict(_) => conflict(),
        other => other.into(),
    })?;
    let targets = [
        audit_target(&g, Some(resource.display_name.clone()), None),
        Target::new(client.id, "ServicePrincipal", Some(client.display_name.clone())),
    ];
    audit_store::insert(
        &mut tx,
        &entry(
            tenant,
            &Actor::of(&caller),
            "Add delegated permission grant",
            "ApplicationManagement",
            "Assign",
            "Core Directory",
            &targets,
            state.now_ms(),
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(wire::created(&state.dir.settings.public_url, &opts, "oauth2PermissionGrants", render(&g)))
}

/// PATCH /oauth2PermissionGrants/{id}: only `scope` changes.
pub async fn update_grant(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::AppRoleAssignmentsWrite)?.clone();
    check(&body, "oAuth2PermissionGrant", GRANT_PROPS, false, &[])?;
    let old = find(&state, auth.tenant(), &id).await?;
    let Some(new_scope) = opt_str(&body, "scope") else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let tenant = auth.tenant();
    let mut tx = state.dir.store.begin().await?;
    let resource = apps::get_sp(&mut tx, tenant, old.resource_id)
        .await?
        .ok_or_else(|| GraphError::bad_request("The resource service principal of this grant no longer exists."))?;
    let scope = checked_scope(&mut tx, &resource, new_scope.as_deref().unwrap_or_default()).await?;
    if !consent::set_scope(&mut tx, tenant, &old.id, &scope).await? {
        return Err(GraphError::not_found(&id));
    }
    let g = PermissionGrant { scope, ..old.clone() };
    audit_store::insert(
        &mut tx,
        &entry(
            tenant,
            &Actor::of(&caller),
            "Update delegated permission grant",
            "ApplicationManagement",
            "Update",
            "Core Directory",
            &[audit_target(&g, Some(resource.display_name.clone()), Some(&old.scope))],
            state.now_ms(),
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// DELETE /oauth2PermissionGrants/{id}
pub async fn delete_grant(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> GraphResult<Response> {
    let caller = auth.require(Action::AppRoleAssignmentsWrite)?.clone();
    let g = find(&state, auth.tenant(), &id).await?;
    let tenant = auth.tenant();
    let mut tx = state.dir.store.begin().await?;
    if !consent::delete(&mut tx, tenant, &g.id).await? {
        return Err(GraphError::not_found(&id));
    }
    let resource_name = apps::get_sp(&mut tx, tenant, g.resource_id).await?.map(|sp| sp.display_name);
    let mut t = audit_target(&g, resource_name, Some(&g.scope));
    t.modified = vec![("DelegatedPermissionGrant.Scope".into(), json!(g.scope), Value::Null)];
    audit_store::insert(
        &mut tx,
        &entry(
            tenant,
            &Actor::of(&caller),
            "Remove delegated permission grant",
            "ApplicationManagement",
            "Unassign",
            "Core Directory",
            &[t, Target::new(g.client_id, "ServicePrincipal", None)],
            state.now_ms(),
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_ids_are_opaque_base64url() {
        let id = new_grant_id();
        assert!(id.len() >= 40);
        assert!(id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    }

    #[test]
    fn consent_types_are_canonical() {
        assert_eq!(canonical_consent_type("allprincipals").ok(), Some("AllPrincipals"));
        assert_eq!(canonical_consent_type("Principal").ok(), Some("Principal"));
        assert!(canonical_consent_type("Everyone").is_err());
    }
}
