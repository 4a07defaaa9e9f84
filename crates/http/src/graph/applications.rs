//! `/applications`, `addPassword`, `removePassword`.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portico_core::access::Action;
use portico_core::clock::parse_rfc3339_millis;
use portico_core::ids::{ObjectId, TenantId, parse_guid};
use portico_store::apps::{self, Application};
use portico_store::list::{Cond, List, Page};
use portico_store::schema::APPLICATION;
use portico_store::{StoreError, audit as audit_store};
use serde_json::{Map, Value, json};
use sqlx::Row as _;

use super::auth::Authed;
use super::body::{Access, JsonBody, Kind, Prop, check, opt_str, p, require, str_list};
use super::error::{GraphError, GraphResult};
use super::query::{QueryOptions, tenant_scope};
use super::wire;
use crate::app::AppState;
use crate::audit::{Actor, Target, diff, entry};

const W: Access = Access::Write;

/// The writable shape of microsoft.graph.application.
pub const APPLICATION_PROPS: &[Prop] = &[
    p("displayName", Kind::StrRequired, W),
    p("description", Kind::Str, W),
    p("signInAudience", Kind::StrRequired, W),
    p("identifierUris", Kind::StrList, W),
    p("web", Kind::Object, W),
    p("spa", Kind::Object, W),
    p("publicClient", Kind::Object, W),
    p("api", Kind::Object, W),
    p("appRoles", Kind::ObjectList, W),
    p("requiredResourceAccess", Kind::ObjectList, W),
    p("id", Kind::Str, Access::ReadOnly),
    p("appId", Kind::Str, Access::ReadOnly),
    p("createdDateTime", Kind::Str, Access::ReadOnly),
    p("deletedDateTime", Kind::Str, Access::ReadOnly),
    p("publisherDomain", Kind::Str, Access::ReadOnly),
    p("passwordCredentials", Kind::ObjectList, Access::ReadOnly),
    p("keyCredentials", Kind::ObjectList, Access::NotYet),
    p("optionalClaims", Kind::Object, Access::NotYet),
    p("groupMembershipClaims", Kind::Str, W),
];

const AUDITED: &[&str] = &[
    "displayName",
    "description",
    "signInAudience",
    "identifierUris",
    "web",
    "spa",
    "publicClient",
    "api",
    "appRoles",
    "requiredResourceAccess",
];

/// The values of groupMembershipClaims, as Entra spells them.
const GROUP_CLAIMS: &[&str] = &["None", "SecurityGroup", "DirectoryRole", "ApplicationGroup", "All"];

/// Checks a groupMembershipClaims value: one of [`GROUP_CLAIMS`] or a comma-separated
/// combination (as Entra allows, e.g. `SecurityGroup,DirectoryRole`). Returns the canonical
/// spelling; null (or an empty string) unsets it.
pub fn canonical_group_claims(v: &Value) -> GraphResult<Option<String>> {
    let invalid = || GraphError::invalid_value("groupMembershipClaims");
    let s = match v {
        Value::Null => return Ok(None),
        Value::String(s) => s.trim(),
        _ => return Err(invalid()),
    };
    if s.is_empty() {
        return Ok(None);
    }
    let mut out: Vec<&str> = vec![];
    for part in s.split(',').map(str::trim) {
        let c = GROUP_CLAIMS.iter().find(|g| g.eq_ignore_ascii_case(part)).ok_or_else(invalid)?;
        if !out.contains(c) {
            out.push(c);
        }
    }
    Ok(Some(out.join(",")))
}

/// groupMembershipClaims of the listed applications, in one query.
async fn group_claims_of(
    state: &AppState,
    tenant: TenantId,
    ids: &[ObjectId],
) -> GraphResult<HashMap<ObjectId, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    // The store reads one application's value at a time; a list query reads a page's at once.
    let mut params = vec![portico_odata::Value::Text(tenant.to_string())];
    params.extend(ids.iter().map(|id| portico_odata::Value::Text(id.to_string())));
    let placeholders: Vec<String> = (2..=ids.len() + 1).map(|i| format!("${i}")).collect();
    let list = List {
        table: "applications",
        columns: "id, group_membership_claims",
        conds: vec![Cond::new(format!("tenant_id = $1 AND id IN ({})", placeholders.join(", ")), params)],
        order: vec![],
        id_column: "id",
        top: ids.len(),
        skiptoken: None,
        count: false,
    };
    let page = list
        .run(&state.dir.store, |r| {
            let id: String = r.try_get("id")?;
            let v: Option<String> = r.try_get("group_membership_claims")?;
            Ok((id, v))
        })
        .await?;
    Ok(page.items.into_iter().filter_map(|(id, v)| Some((ObjectId::parse(&id)?, v?))).collect())
}

const AUDIENCES: &[&str] =
    &["AzureADMyOrg", "AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount", "PersonalMicrosoftAccount"];

/// Finds a live application by object id.
pub async fn find(state: &AppState, tenant: TenantId, key: &str) -> GraphResult<Application> {
    let id =
        ObjectId::parse(key).ok_or_else(|| GraphError::bad_request(format!("Invalid object identifier '{key}'.")))?;
    let mut conn = state.conn().await?;
    apps::get_app(&mut conn, tenant, id, false).await?.ok_or_else(|| GraphError::not_found(key))
}

/// Renders an application with its secrets' metadata.
pub async fn render(state: &AppState, a: &Application) -> GraphResult<Value> {
    Ok(render_many(state, a.tenant_id, std::slice::from_ref(a)).await?.pop().unwrap_or_default())
}

/// Renders a page of applications with two queries in all (their secrets, and the tenant's
/// default domain for publisherDomain), not two per application.
pub async fn render_many(state: &AppState, tenant: TenantId, list: &[Application]) -> GraphResult<Vec<Value>> {
    let mut conn = state.conn().await?;
    let ids: Vec<ObjectId> = list.iter().map(|a| a.id).collect();
    let secrets = apps::passwords_of(&mut conn, tenant, &ids).await?;
    drop(conn);
    let claims = group_claims_of(state, tenant, &ids).await?;
    let domain = state.dir.default_domain(tenant).await.unwrap_or_default();
    Ok(list
        .iter()
        .map(|a| {
            let mut v = wire::application(a, secrets.get(&a.id).map_or(&[][..], Vec::as_slice), &domain);
            v["groupMembershipClaims"] = claims.get(&a.id).map_or(Value::Null, |c| json!(c));
            v
        })
        .collect())
}

/// Checks a redirect URI: absolute, no fragment; https unless loopback (or a custom scheme for
/// public clients).
pub fn check_redirect_uri(uri: &str, allow_custom_scheme: bool) -> bool {
    let Ok(u) = url::Url::parse(uri) else { return false };
    if u.fragment().is_some() || uri.len() > 256 {
        return false;
    }
    match u.scheme() {
        "https" => u.host().is_some(),
        "http" => matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")),
        _ => allow_custom_scheme,
    }
}

fn check_redirects(body: &Map<String, Value>, prop: &str, custom: bool) -> GraphResult<()> {
    if let Some(obj) = body.get(prop).and_then(Value::as_object)
        && let Some(list) = obj.get("redirectUris")
    {
        let arr = list.as_array().ok_or_else(|| GraphError::invalid_value(&format!("{prop}.redirectUris")))?;
        if arr.len() > 256 {
            return Err(GraphError::bad_request("At most 256 redirect URIs are allowed."));
        }
        for u in arr {
            if !u.as_str().is_some_and(|s| check_redirect_uri(s, custom)) {
                return Err(GraphError::bad_request(format!(
                    "Invalid value specified for property '{prop}.redirectUris': redirect URIs must be absolute https URLs (http only for localhost) without a fragment."
                )));
            }
        }
    }
    Ok(())
}

fn check_app_roles(new: &Value, old: Option<&Value>) -> GraphResult<()> {
    let empty = vec![];
    let roles = new.as_array().unwrap_or(&empty);
    let mut ids = vec![];
    let mut values = vec![];
    for r in roles {
        let id = r
            .get("id")
            .and_then(Value::as_str)
            .and_then(parse_guid)
            .ok_or_else(|| GraphError::bad_request("Every app role needs an 'id' GUID."))?;
        if ids.contains(&id) {
            return Err(GraphError::bad_request("App role ids must be unique."));
        }
        ids.push(id);
        let types = r.get("allowedMemberTypes").and_then(Value::as_array).cloned().unwrap_or_default();
        if types.is_empty() || !types.iter().all(|t| matches!(t.as_str(), Some("User" | "Application"))) {
            return Err(GraphError::bad_request(
                "allowedMemberTypes of an app role must be a non-empty subset of ['User','Application'].",
            ));
        }
        if let Some(v) = r.get("value").and_then(Value::as_str) {
            if v.contains(' ') || v.is_empty() || v.len() > 120 {
                return Err(GraphError::bad_request("An app role value must be 1 to 120 characters without spaces."));
            }
            if values.contains(&v.to_string()) {
                return Err(GraphError::bad_request("App role values must be unique."));
            }
            values.push(v.to_string());
        }
        if r.get("displayName").and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(GraphError::bad_request("Every app role needs a displayName."));
        }
    }
    // Graph: an enabled app role cannot be removed; it must be disabled (isEnabled: false) first.
    if let Some(old) = old.and_then(Value::as_array) {
        for r in old {
            let enabled = r.get("isEnabled").and_then(Value::as_bool).unwrap_or(true);
            let id = r.get("id").and_then(Value::as_str).and_then(parse_guid);
            if enabled && id.is_some_and(|i| !ids.contains(&i)) {
                return Err(GraphError::bad_request(
                    "Property 'appRoles' is invalid: an app role must be disabled (isEnabled: false) before it can be deleted.",
                ));
            }
        }
    }
    Ok(())
}

fn normalized_roles(v: &Value) -> Value {
    Value::Array(
        v.as_array()
            .unwrap_or(&vec![])
            .iter()
            .map(|r| {
                json!({
                    "allowedMemberTypes": r.get("allowedMemberTypes").cloned().unwrap_or(json!([])),
                    "description": r.get("description").cloned().unwrap_or(Value::Null),
                    "displayName": r.get("displayName").cloned().unwrap_or(Value::Null),
                    "id": r.get("id").and_then(Value::as_str).map(str::to_ascii_lowercase),
                    "isEnabled": r.get("isEnabled").and_then(Value::as_bool).unwrap_or(true),
                    "origin": "Application",
                    "value": r.get("value").cloned().unwrap_or(Value::Null),
                })
            })
            .collect(),
    )
}

/// Checks identifier URIs: api, https or urn scheme, not Microsoft Graph's, and not used by
/// another live application of the tenant (`own` is the application being saved).
pub async fn check_identifier_uris(
    state: &AppState,
    tenant: TenantId,
    uris: &[String],
    own: Option<ObjectId>,
) -> GraphResult<()> {
    let mut conn = state.conn().await?;
    for u in uris {
        let parsed = url::Url::parse(u).map_err(|_| GraphError::invalid_value("identifierUris"))?;
        if !matches!(parsed.scheme(), "api" | "https" | "urn") {
            return Err(GraphError::bad_request("Values of identifierUris must use the api, https or urn scheme."));
        }
        if u.starts_with(portico_core::access::GRAPH_RESOURCE) {
            return Err(GraphError::bad_request("Values of identifierUris cannot name Microsoft Graph."));
        }
        if let Some(other) = apps::get_app_by_identifier_uri(&mut conn, tenant, u).await?
            && Some(other.id) != own
        {
            return Err(GraphError::bad_request(
                "Another object with the same value for property identifierUris already exists.",
            ));
        }
    }
    Ok(())
}

fn apply(a: &mut Application, body: &Map<String, Value>) -> GraphResult<()> {
    if let Some(Some(v)) = opt_str(body, "displayName") {
        if v.trim().is_empty() || v.chars().count() > 256 {
            return Err(GraphError::invalid_value("displayName"));
        }
        a.display_name = v.trim().into();
    }
    if let Some(v) = opt_str(body, "description") {
        a.description = v;
    }
    if let Some(Some(v)) = opt_str(body, "signInAudience") {
        a.sign_in_audience = AUDIENCES
            .iter()
            .find(|x| x.eq_ignore_ascii_case(&v))
            .map(|x| (*x).to_string())
            .ok_or_else(|| GraphError::invalid_value("signInAudience"))?;
    }
    if let Some(v) = str_list(body, "identifierUris") {
        a.identifier_uris = v;
    }
    for (k, slot) in
        [("web", &mut a.web), ("spa", &mut a.spa), ("publicClient", &mut a.public_client), ("api", &mut a.api)]
    {
        if let Some(v) = body.get(k) {
            *slot = if v.is_null() { json!({}) } else { v.clone() };
        }
    }
    if let Some(v) = body.get("appRoles") {
        a.app_roles = normalized_roles(v);
    }
    if let Some(v) = body.get("requiredResourceAccess") {
        a.required_resource_access = v.clone();
    }
    Ok(())
}

fn validate_body(body: &Map<String, Value>) -> GraphResult<()> {
    check_redirects(body, "web", false)?;
    check_redirects(body, "spa", false)?;
    check_redirects(body, "publicClient", true)?;
    Ok(())
}

/// GET /applications
pub async fn list_applications(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::AppsRead)?;
    let plan = opts.plan(&APPLICATION, state.dir.store.dialect())?;
    let list = plan.list("applications", apps::APP_COLUMNS, tenant_scope(auth.tenant(), false), &opts);
    let page = list.run(&state.dir.store, apps::app_from_row).await?;
    let items = render_many(&state, auth.tenant(), &page.items)
        .await?
        .into_iter()
        .map(|v| wire::select(v, &plan.select, &[]))
        .collect();
    Ok(wire::collection(
        &state.dir.settings.public_url,
        &opts,
        "applications",
        Page { items, next: page.next, count: page.count },
        &plan.select,
    ))
}

/// GET /applications/{id}
pub async fn get_application(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::AppsRead)?;
    let select = opts.select_for(&APPLICATION)?;
    let a = find(&state, auth.tenant(), &key).await?;
    let v = render(&state, &a).await?;
    Ok(wire::entity(&state.dir.settings.public_url, &opts, "applications", wire::select(v, &select, &[]), &select))
}

/// POST /applications (registers the application only; create its service principal with
/// POST /servicePrincipals, as in Graph).
pub async fn create_application(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::AppsWrite)?.clone();
    check(&body, "application", APPLICATION_PROPS, true, &[])?;
    require(&body, &["displayName"])?;
    validate_body(&body)?;
    let mut a = Application {
        id: ObjectId::new(),
        tenant_id: auth.tenant(),
        app_id: ObjectId::new().to_string(),
        display_name: String::new(),
        description: None,
        sign_in_audience: "AzureADMyOrg".into(),
        identifier_uris: vec![],
        web: json!({"redirectUris": [], "homePageUrl": null, "logoutUrl": null}),
        spa: json!({"redirectUris": []}),
        public_client: json!({"redirectUris": []}),
        api: json!({"oauth2PermissionScopes": []}),
        app_roles: json!([]),
        required_resource_access: json!([]),
        created_at: state.now_ms(),
        deleted_at: None,
    };
    if let Some(v) = body.get("appRoles") {
        check_app_roles(v, None)?;
    }
    apply(&mut a, &body)?;
    let claims = body.get("groupMembershipClaims").map(canonical_group_claims).transpose()?.flatten();
    check_identifier_uris(&state, auth.tenant(), &a.identifier_uris, None).await?;
    let mut tx = state.dir.store.begin().await?;
    let a = state.dir.create_application(&mut tx, auth.tenant(), a, &Actor::of(&caller), false).await?.0;
    if claims.is_some() {
        apps::set_group_membership_claims(&mut tx, auth.tenant(), a.id, claims.as_deref()).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    let v = render(&state, &a).await?;
    Ok(wire::created(&state.dir.settings.public_url, &opts, "applications", v))
}

/// PATCH /applications/{id}
pub async fn update_application(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::AppsWrite)?.clone();
    check(&body, "application", APPLICATION_PROPS, false, &[])?;
    validate_body(&body)?;
    let old = find(&state, auth.tenant(), &key).await?;
    if let Some(v) = body.get("appRoles") {
        check_app_roles(v, Some(&old.app_roles))?;
    }
    let mut a = old.clone();
    apply(&mut a, &body)?;
    let claims = body.get("groupMembershipClaims").map(canonical_group_claims).transpose()?;
    check_identifier_uris(&state, auth.tenant(), &a.identifier_uris, Some(a.id)).await?;
    let mut tx = state.dir.store.begin().await?;
    apps::update_app(&mut tx, &a).await?;
    let mut claims_change = None;
    if let Some(new) = claims {
        let before = apps::group_membership_claims(&mut tx, auth.tenant(), a.id).await?;
        if before != new {
            apps::set_group_membership_claims(&mut tx, auth.tenant(), a.id, new.as_deref()).await?;
            claims_change = Some(("groupMembershipClaims".to_string(), json!(before), json!(new)));
        }
    }
    if a.display_name != old.display_name
        && let Some(mut sp) = apps::get_sp_by_app_id(&mut tx, auth.tenant(), &a.app_id).await?
    {
        sp.display_name = a.display_name.clone();
        apps::update_sp(&mut tx, &sp).await?;
    }
    let before = wire::application(&old, &[], "");
    let after = wire::application(&a, &[], "");
    let mut changes = diff(&before, &after, AUDITED);
    changes.extend(claims_change);
    let t = Target::new(a.id, "Application", Some(a.display_name.clone())).with_changes(changes);
    audit_store::insert(
        &mut tx,
        &entry(
            auth.tenant(),
            &Actor::of(&caller),
            "Update application",
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

/// DELETE /applications/{id}: to deleted items, with its service principal in this tenant.
pub async fn delete_application(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> GraphResult<Response> {
    let caller = auth.require(Action::AppsWrite)?.clone();
    let mut a = find(&state, auth.tenant(), &key).await?;
    let now = state.now_ms();
    a.deleted_at = Some(now);
    let mut tx = state.dir.store.begin().await?;
    apps::update_app(&mut tx, &a).await?;
    if let Some(mut sp) = apps::get_sp_by_app_id(&mut tx, auth.tenant(), &a.app_id).await? {
        sp.deleted_at = Some(now);
        apps::update_sp(&mut tx, &sp).await?;
    }
    let t = Target::new(a.id, "Application", Some(a.display_name.clone()));
    audit_store::insert(
        &mut tx,
        &entry(
            auth.tenant(),
            &Actor::of(&caller),
            "Delete application",
            "ApplicationManagement",
            "Delete",
            "Core Directory",
            &[t],
            now,
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// POST /applications/{id}/addPassword
pub async fn add_password(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::AppsWrite)?.clone();
    for k in body.keys() {
        if k != "passwordCredential" {
            return Err(GraphError::unknown_property(k, "application.addPassword"));
        }
    }
    let cred = body.get("passwordCredential").cloned().unwrap_or(json!({}));
    let cred = cred.as_object().ok_or_else(|| GraphError::invalid_value("passwordCredential"))?;
    for k in cred.keys() {
        if !["displayName", "endDateTime", "startDateTime"].contains(&k.as_str()) {
            return Err(GraphError::unknown_property(k, "passwordCredential"));
        }
    }
    let display_name = cred.get("displayName").and_then(Value::as_str).map(str::to_owned);
    let end = match cred.get("endDateTime").and_then(Value::as_str) {
        Some(s) => Some(parse_rfc3339_millis(s).ok_or_else(|| GraphError::invalid_value("endDateTime"))?),
        None => None,
    };
    let a = find(&state, auth.tenant(), &key).await?;
    let mut tx = state.dir.store.begin().await?;
    let (pc, secret) = state.dir.add_password(&mut tx, &a, display_name, end, &Actor::of(&caller)).await?;
    tx.commit().await.map_err(StoreError::from)?;
    let mut v = wire::password_credential(&pc, Some(&secret));
    if let Value::Object(m) = &mut v {
        let mut out = Map::new();
        out.insert(
            "@odata.context".into(),
            json!(format!(
                "{}/{}/$metadata#microsoft.graph.passwordCredential",
                state.dir.settings.public_url,
                opts.version()
            )),
        );
        out.extend(std::mem::take(m));
        v = Value::Object(out);
    }
    Ok(axum::Json(v).into_response())
}

/// POST /applications/{id}/removePassword
pub async fn remove_password(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::AppsWrite)?.clone();
    for k in body.keys() {
        if k != "keyId" {
            return Err(GraphError::unknown_property(k, "application.removePassword"));
        }
    }
    let key_id = body
        .get("keyId")
        .and_then(Value::as_str)
        .and_then(ObjectId::parse)
        .ok_or_else(|| GraphError::bad_request("Property 'keyId' is required and must be a GUID."))?;
    let a = find(&state, auth.tenant(), &key).await?;
    let mut tx = state.dir.store.begin().await?;
    if !apps::delete_password(&mut tx, auth.tenant(), a.id, key_id).await? {
        return Err(GraphError::not_found(&key_id.to_string()));
    }
    let t = Target::new(a.id, "Application", Some(a.display_name.clone())).with_changes(vec![(
        "KeyDescription".into(),
        json!(format!("[KeyIdentifier={key_id}]")),
        Value::Null,
    )]);
    audit_store::insert(
        &mut tx,
        &entry(
            auth.tenant(),
            &Actor::of(&caller),
            "Update application – Certificates and secrets management ",
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_membership_claims_are_canonical() {
        assert_eq!(canonical_group_claims(&json!("securitygroup")).unwrap(), Some("SecurityGroup".into()));
        assert_eq!(
            canonical_group_claims(&json!("SecurityGroup, DirectoryRole,SecurityGroup")).unwrap(),
            Some("SecurityGroup,DirectoryRole".into())
        );
        assert_eq!(canonical_group_claims(&Value::Null).unwrap(), None);
        assert_eq!(canonical_group_claims(&json!("")).unwrap(), None);
        assert!(canonical_group_claims(&json!("Everything")).is_err());
        assert!(canonical_group_claims(&json!("All,")).is_err());
        assert!(canonical_group_claims(&json!(3)).is_err());
    }

    #[test]
    fn redirect_uris_follow_entra_rules() {
        assert!(check_redirect_uri("https://app.contoso.test/cb", false));
        assert!(check_redirect_uri("http://localhost:3000/cb", false));
        assert!(!check_redirect_uri("http://app.contoso.test/cb", false));
        assert!(!check_redirect_uri("https://app.contoso.test/cb#frag", false));
        assert!(!check_redirect_uri("myapp://cb", false));
        assert!(check_redirect_uri("myapp://cb", true));
        assert!(!check_redirect_uri("not a url", true));
    }

    #[test]
    fn enabled_app_roles_cannot_be_removed() {
        let old = json!([{"id": "11111111-1111-1111-1111-111111111111", "allowedMemberTypes": ["User"], "displayName": "R", "value": "r", "isEnabled": true}]);
        assert!(check_app_roles(&json!([]), Some(&old)).is_err());
        let disabled = json!([{"id": "11111111-1111-1111-1111-111111111111", "allowedMemberTypes": ["User"], "displayName": "R", "value": "r", "isEnabled": false}]);
        assert!(check_app_roles(&json!([]), Some(&disabled)).is_ok());
        assert!(
            check_app_roles(&json!([{"id": "x", "allowedMemberTypes": ["User"], "displayName": "R"}]), None).is_err()
        );
        assert!(check_app_roles(&json!([{"id": "11111111-1111-1111-1111-111111111111", "allowedMemberTypes": ["Robot"], "displayName": "R"}]), None).is_err());
    }
}
