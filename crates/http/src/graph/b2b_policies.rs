//! The external collaboration settings as Graph resources: `/policies/authorizationPolicy`,
//! `/policies/b2bManagementPolicies` (Graph beta), `/policies/externalIdentitiesPolicy` (Graph
//! beta) and `/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email`.
//!
//! Each resource is one policy document of the tenant (`portico_store::b2b::policy`), stored in
//! Graph's own shape under the names and property names that `crate::b2b::policy` reads; the
//! invitation and sign-in code only ever read through those readers. A missing document is
//! Entra's defaults. Writes validate the whole body first, then change the document and insert
//! the audit record in one transaction.
//!
//! Like every route of the table, the beta-only resources answer under `/v1.0` too (Graph
//! answers 400 there); the `@odata.context` names the version asked.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portico_core::access::{Action, Caller};
use portico_core::b2b::{InvitesFrom, guest_role};
use portico_core::ids::{ObjectId, TenantId};
use portico_core::validate;
use portico_store::list::Page;
use portico_store::{StoreError, audit as audit_store, b2b as store, groups};
use serde_json::{Map, Value, json};

use super::auth::Authed;
use super::body::{Access, JsonBody, Kind, Prop, check, p, require};
use super::error::{GraphError, GraphResult};
use super::query::QueryOptions;
use super::wire;
use crate::app::AppState;
use crate::audit::{Actor, Target, diff, entry};
use crate::b2b::policy::{DEFAULT_OTP_MINUTES, DEFAULT_OTP_SESSION_HOURS, MAX_OTP_MINUTES, doc};

const W: Access = Access::Write;
const RO: Access = Access::ReadOnly;

// ---------------------------------------------------------------------------------------------
// Shared

/// A stored document as an object (empty when none was written yet).
async fn load(conn: &mut sqlx::AnyConnection, tenant: TenantId, name: &str) -> GraphResult<Map<String, Value>> {
    Ok(match store::policy(conn, tenant, name).await? {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    })
}

/// 400 for a value outside a property's allowed set.
fn invalid(name: &str, value: &Value, type_name: &str) -> GraphError {
    GraphError::bad_request(format!(
        "Invalid value '{}' specified for property '{name}' of resource '{type_name}'.",
        value.as_str().map_or_else(|| value.to_string(), str::to_owned)
    ))
}

/// Answers a single policy object, honouring `$select` (the only query option a single object
/// takes).
fn respond(state: &AppState, opts: &QueryOptions, set: &str, type_name: &str, body: Value) -> GraphResult<Response> {
    if opts.filter.is_some() || opts.orderby.is_some() || opts.search.is_some() || opts.top.is_some() {
        return Err(GraphError::bad_request("Only $select is supported when reading a single object."));
    }
    let mut selected: Vec<String> = vec![];
    if let Some(sel) = opts.select.as_deref() {
        for s in sel.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let name = body
                .as_object()
                .and_then(|m| m.keys().find(|k| !k.starts_with('@') && k.eq_ignore_ascii_case(s)))
                .ok_or_else(|| {
                    GraphError::bad_request(format!(
                        "Could not find a property named '{s}' on type 'microsoft.graph.{type_name}'."
                    ))
                })?;
            selected.push(name.clone());
        }
    }
    let selected: Vec<&str> = selected.iter().map(String::as_str).collect();
    let body = if selected.is_empty() { body } else { wire::select(body, &selected, &[]) };
    Ok(wire::entity(&state.dir.settings.public_url, opts, set, body, &selected))
}

/// What a policy audit record says happened: activity, operation type, logging service.
struct Activity(&'static str, &'static str, &'static str);

const UPDATE_POLICY: Activity = Activity("Update policy", "Update", "Core Directory");

/// Inserts a policy audit record in the change's transaction.
async fn audit(
    tx: &mut portico_store::Tx,
    state: &AppState,
    tenant: TenantId,
    caller: &Caller,
    Activity(activity, operation, service): Activity,
    target: Target,
) -> GraphResult<()> {
    audit_store::insert(
        tx,
        &entry(tenant, &Actor::of(caller), activity, "Policy", operation, service, &[target], state.now_ms()),
    )
    .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// authorizationPolicy (Graph v1.0)

/// The singleton's id, the same in every tenant.
pub const AUTHORIZATION_ID: &str = "authorizationPolicy";

const AUTHORIZATION_PROPS: &[Prop] = &[
    p("allowInvitesFrom", Kind::StrRequired, W),
    p("guestUserRoleId", Kind::StrRequired, W),
    p("allowEmailVerifiedUsersToJoinOrganization", Kind::Bool, W),
    p("allowedToSignUpEmailBasedSubscriptions", Kind::Bool, W),
    p("allowedToUseSSPR", Kind::Bool, W),
    p("allowUserConsentForRiskyApps", Kind::Bool, W),
    p("blockMsolPowerShell", Kind::Bool, W),
    p("defaultUserRolePermissions", Kind::Object, W),
    p("displayName", Kind::StrRequired, W),
    p("description", Kind::Str, W),
    p("id", Kind::Str, RO),
    p("deletedDateTime", Kind::Str, RO),
];

const DEFAULT_USER_ROLE_PROPS: &[Prop] = &[
    p("allowedToCreateApps", Kind::Bool, W),
    p("allowedToCreateSecurityGroups", Kind::Bool, W),
    p("allowedToCreateTenants", Kind::Bool, W),
    p("allowedToReadBitlockerKeysForOwnedDevice", Kind::Bool, W),
    p("allowedToReadOtherUsers", Kind::Bool, W),
    p("permissionGrantPoliciesAssigned", Kind::StrList, W),
];

/// Properties compared for the audit record.
const AUTHORIZATION_AUDITED: &[&str] = &[
    "allowInvitesFrom",
    "guestUserRoleId",
    "allowEmailVerifiedUsersToJoinOrganization",
    "allowedToSignUpEmailBasedSubscriptions",
    "allowedToUseSSPR",
    "allowUserConsentForRiskyApps",
    "blockMsolPowerShell",
    "defaultUserRolePermissions",
    "displayName",
    "description",
];

/// Entra's defaults for a new tenant.
pub fn authorization_defaults() -> Value {
    json!({
        "id": AUTHORIZATION_ID,
        "deletedDateTime": null,
        "displayName": "Authorization Policy",
        "description": "Used to manage authorization related settings across the company.",
        "allowInvitesFrom": InvitesFrom::Everyone.as_str(),
        "allowedToSignUpEmailBasedSubscriptions": true,
        "allowedToUseSSPR": true,
        "allowEmailVerifiedUsersToJoinOrganization": false,
        "allowUserConsentForRiskyApps": false,
        "blockMsolPowerShell": false,
        "guestUserRoleId": guest_role::GUEST_USER,
        "defaultUserRolePermissions": {
            "allowedToCreateApps": true,
            "allowedToCreateSecurityGroups": true,
            "allowedToCreateTenants": true,
            "allowedToReadBitlockerKeysForOwnedDevice": true,
            "allowedToReadOtherUsers": true,
            "permissionGrantPoliciesAssigned": ["ManagePermissionGrantsForSelf.microsoft-user-default-legacy"]
        }
    })
}

/// Applies `changes` (checked) over `base`: top-level properties replace, and
/// `defaultUserRolePermissions` merges property by property, as Graph's PATCH does.
fn merge_authorization(base: &Value, changes: &Map<String, Value>) -> Value {
    let mut out = base.clone();
    for (k, v) in changes {
        if k.starts_with('@') || k == "id" || k == "deletedDateTime" {
            continue;
        }
        match (k.as_str(), v, out.get_mut(k)) {
            ("defaultUserRolePermissions", Value::Object(sub), Some(Value::Object(cur))) => {
                for (sk, sv) in sub {
                    cur.insert(sk.clone(), sv.clone());
                }
            }
            _ => {
                out[k.as_str()] = v.clone();
            }
        }
    }
    out
}

/// The policy as Graph shows it: defaults with the stored document over them.
fn render_authorization(stored: &Map<String, Value>) -> Value {
    let mut v = merge_authorization(&authorization_defaults(), stored);
    v["id"] = json!(AUTHORIZATION_ID);
    v
}

/// Checks a PATCH body and puts enumerations in their canonical spelling.
fn authorization_changes(body: &Map<String, Value>) -> GraphResult<Map<String, Value>> {
    const TYPE: &str = "authorizationPolicy";
    check(body, TYPE, AUTHORIZATION_PROPS, false, &[])?;
    let mut changes = body.clone();
    if let Some(v) = body.get("allowInvitesFrom") {
        // `unknownFutureValue` is Graph's evolvable-enum sentinel, never a setting.
        let parsed = v.as_str().and_then(InvitesFrom::parse).ok_or_else(|| invalid("allowInvitesFrom", v, TYPE))?;
        changes.insert("allowInvitesFrom".into(), json!(parsed.as_str()));
    }
    if let Some(v) = body.get("guestUserRoleId") {
        let id = [guest_role::USER, guest_role::GUEST_USER, guest_role::RESTRICTED_GUEST_USER]
            .into_iter()
            .find(|id| v.as_str().is_some_and(|s| s.trim().eq_ignore_ascii_case(id)))
            .ok_or_else(|| invalid("guestUserRoleId", v, TYPE))?;
        changes.insert("guestUserRoleId".into(), json!(id));
    }
    if let Some(v) = body.get("defaultUserRolePermissions") {
        let sub = v.as_object().ok_or_else(|| GraphError::invalid_value("defaultUserRolePermissions"))?;
        check(sub, "defaultUserRolePermissions", DEFAULT_USER_ROLE_PROPS, false, &[])?;
    }
    Ok(changes)
}

/// GET /policies/authorizationPolicy
pub async fn get_authorization_policy(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::PolicyRead)?;
    let mut conn = state.conn().await?;
    let stored = load(&mut conn, auth.tenant(), doc::AUTHORIZATION).await?;
    drop(conn);
    respond(&state, &opts, "policies/authorizationPolicy", "authorizationPolicy", render_authorization(&stored))
}

/// PATCH /policies/authorizationPolicy: merges the given properties; 204.
pub async fn update_authorization_policy(
    auth: Authed,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::AuthorizationPolicyWrite)?.clone();
    let changes = authorization_changes(&body)?;
    let tenant = auth.tenant();
    let mut tx = state.dir.store.begin().await?;
    let old = render_authorization(&load(&mut tx, tenant, doc::AUTHORIZATION).await?);
    let new = merge_authorization(&old, &changes);
    let changed = diff(&old, &new, AUTHORIZATION_AUDITED);
    if !changed.is_empty() {
        store::set_policy(&mut tx, tenant, doc::AUTHORIZATION, &new, state.now_ms()).await?;
        let display = new["displayName"].as_str().map(str::to_owned);
        let target = Target::new(AUTHORIZATION_ID, "Policy", display).with_changes(changed);
        let what = Activity("Update authorization policy", "Update", "Core Directory");
        audit(&mut tx, &state, tenant, &caller, what, target).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------------
// externalIdentitiesPolicy (Graph beta)

/// The singleton's id as Graph's documentation shows it (singular "Identity").
pub const EXTERNAL_IDENTITIES_ID: &str = "externalIdentityPolicy";

const EXTERNAL_IDENTITIES_PROPS: &[Prop] = &[
    p("allowExternalIdentitiesToLeave", Kind::Bool, W),
    p("allowDeletedIdentitiesDataRemoval", Kind::Bool, W),
    p("id", Kind::Str, RO),
    p("displayName", Kind::Str, RO),
    p("description", Kind::Str, RO),
    p("deletedDateTime", Kind::Str, RO),
];

const EXTERNAL_IDENTITIES_WRITABLE: &[&str] = &["allowExternalIdentitiesToLeave", "allowDeletedIdentitiesDataRemoval"];

/// The policy as Graph shows it. Guests may leave by default, as in Entra.
fn render_external_identities(stored: &Map<String, Value>) -> Value {
    let flag = |k: &str, default: bool| stored.get(k).and_then(Value::as_bool).unwrap_or(default);
    json!({
        "id": EXTERNAL_IDENTITIES_ID,
        "deletedDateTime": null,
        "displayName": "External Identities Policy",
        "description": null,
        "allowExternalIdentitiesToLeave": flag("allowExternalIdentitiesToLeave", true),
        "allowDeletedIdentitiesDataRemoval": flag("allowDeletedIdentitiesDataRemoval", false),
    })
}

/// GET /policies/externalIdentitiesPolicy
pub async fn get_external_identities_policy(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::PolicyRead)?;
    let mut conn = state.conn().await?;
    let stored = load(&mut conn, auth.tenant(), doc::EXTERNAL_IDENTITIES).await?;
    drop(conn);
    let body = render_external_identities(&stored);
    respond(&state, &opts, "policies/externalIdentitiesPolicy", "externalIdentitiesPolicy", body)
}

/// PATCH /policies/externalIdentitiesPolicy; 204.
///
/// Entra's portal asks for the tenant's privacy information before it lets guests leave;
/// Graph does not, and neither does Portico.
pub async fn update_external_identities_policy(
    auth: Authed,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::ExternalIdentitiesPolicyWrite)?.clone();
    check(&body, "externalIdentitiesPolicy", EXTERNAL_IDENTITIES_PROPS, false, &[])?;
    let tenant = auth.tenant();
    let mut tx = state.dir.store.begin().await?;
    let old = render_external_identities(&load(&mut tx, tenant, doc::EXTERNAL_IDENTITIES).await?);
    let mut new = old.clone();
    for k in EXTERNAL_IDENTITIES_WRITABLE {
        if let Some(v) = body.get(*k) {
            new[*k] = v.clone();
        }
    }
    let changed = diff(&old, &new, EXTERNAL_IDENTITIES_WRITABLE);
    if !changed.is_empty() {
        store::set_policy(&mut tx, tenant, doc::EXTERNAL_IDENTITIES, &new, state.now_ms()).await?;
        let target = Target::new(EXTERNAL_IDENTITIES_ID, "Policy", Some("External Identities Policy".into()))
            .with_changes(changed);
        audit(&mut tx, &state, tenant, &caller, UPDATE_POLICY, target).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------------
// The email authentication method (Graph v1.0), with Portico's code and session lifetimes

/// The configuration's id.
pub const EMAIL_ID: &str = "Email";

/// Longest one-time-passcode session (hours).
pub const MAX_OTP_SESSION_HOURS: i64 = 24;

const EMAIL_TYPE: &str = "emailAuthenticationMethodConfiguration";

/// Portico's integer properties, checked apart (the body checker knows no integers).
const CODE_MINUTES: &str = "oneTimePasscodeLifetimeInMinutes";
const SESSION_HOURS: &str = "oneTimePasscodeSessionLifetimeInHours";

const EMAIL_PROPS: &[Prop] = &[
    p("state", Kind::StrRequired, W),
    p("allowExternalIdToUseEmailOtp", Kind::StrRequired, W),
    p("includeTargets", Kind::ObjectList, W),
    p("excludeTargets", Kind::ObjectList, W),
    p("id", Kind::Str, RO),
];

const EMAIL_WRITABLE: &[&str] =
    &["state", "allowExternalIdToUseEmailOtp", "includeTargets", "excludeTargets", CODE_MINUTES, SESSION_HOURS];

/// How many group ids are looked up per query.
const GROUP_CHUNK: usize = 500;

/// The configuration as Graph shows it: enabled for all users, guests' email one-time passcode
/// in the `default` state (on).
fn render_email(stored: &Map<String, Value>) -> Value {
    let get = |k: &str, default: Value| stored.get(k).filter(|v| !v.is_null()).cloned().unwrap_or(default);
    json!({
        "@odata.type": format!("#microsoft.graph.{EMAIL_TYPE}"),
        "id": EMAIL_ID,
        "state": get("state", json!("enabled")),
        "allowExternalIdToUseEmailOtp": get("allowExternalIdToUseEmailOtp", json!("default")),
        "includeTargets": get("includeTargets", json!([{"targetType": "group", "id": "all_users", "isRegistrationRequired": false}])),
        "excludeTargets": get("excludeTargets", json!([])),
        CODE_MINUTES: get(CODE_MINUTES, json!(DEFAULT_OTP_MINUTES)),
        SESSION_HOURS: get(SESSION_HOURS, json!(DEFAULT_OTP_SESSION_HOURS)),
    })
}

fn one_of(body: &Map<String, Value>, name: &str, allowed: &[&str]) -> GraphResult<Option<Value>> {
    let Some(v) = body.get(name) else { return Ok(None) };
    let found = allowed.iter().find(|a| v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(a)));
    found.map(|a| Some(json!(a))).ok_or_else(|| invalid(name, v, EMAIL_TYPE))
}

fn in_range(body: &Map<String, Value>, name: &str, max: i64) -> GraphResult<Option<Value>> {
    let Some(v) = body.get(name) else { return Ok(None) };
    match v.as_i64() {
        Some(n) if (1..=max).contains(&n) => Ok(Some(json!(n))),
        _ => Err(GraphError::bad_request(format!(
            "Invalid value '{v}' specified for property '{name}' of resource '{EMAIL_TYPE}': a whole number from 1 to {max}."
        ))),
    }
}

/// Checks the targets' shape and returns the group ids they name (`all_users` aside).
fn target_groups(targets: &[Value], list: &str, item_type: &str) -> GraphResult<Vec<ObjectId>> {
    let mut ids = vec![];
    for t in targets {
        let Some(m) = t.as_object() else { return Err(GraphError::invalid_value(list)) };
        for (k, v) in m {
            let ok = match k.as_str() {
                "@odata.type" => v.as_str().is_some_and(|s| {
                    s.trim_start_matches('#').eq_ignore_ascii_case(&format!("microsoft.graph.{item_type}"))
                }),
                "targetType" => v.as_str().is_some_and(|s| s.eq_ignore_ascii_case("group")),
                "id" => v.is_string(),
                "isRegistrationRequired" if list == "includeTargets" => v.is_boolean(),
                _ => return Err(GraphError::unknown_property(k, item_type)),
            };
            if !ok {
                return Err(invalid(k, v, item_type));
            }
        }
        let id = m.get("id").and_then(Value::as_str).ok_or_else(|| {
            GraphError::bad_request(format!("Property 'id' is required in each of '{list}' but was not supplied."))
        })?;
        if list == "includeTargets" && id.eq_ignore_ascii_case("all_users") {
            continue;
        }
        ids.push(ObjectId::parse(id).ok_or_else(|| invalid("id", &json!(id), item_type))?);
    }
    Ok(ids)
}

/// The targets in their stored form (`targetType` and `all_users` spelled canonically).
fn canonical_targets(targets: &[Value], list: &str) -> Value {
    Value::Array(
        targets
            .iter()
            .map(|t| {
                let id = t["id"].as_str().unwrap_or_default();
                let id = if id.eq_ignore_ascii_case("all_users") { "all_users".to_string() } else { id.to_lowercase() };
                let mut out = json!({"targetType": "group", "id": id});
                if list == "includeTargets" {
                    out["isRegistrationRequired"] = json!(t["isRegistrationRequired"].as_bool().unwrap_or(false));
                }
                out
            })
            .collect(),
    )
}

/// GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email
pub async fn get_email_method(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::PolicyRead)?;
    let mut conn = state.conn().await?;
    let stored = load(&mut conn, auth.tenant(), doc::EMAIL_METHOD).await?;
    drop(conn);
    respond(&state, &opts, "authenticationMethodConfigurations", EMAIL_TYPE, render_email(&stored))
}

/// PATCH /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email; 204.
/// Targets must name groups of the caller's tenant (or `all_users`).
pub async fn update_email_method(
    auth: Authed,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::AuthenticationMethodsPolicyWrite)?.clone();
    let mut rest = body.clone();
    rest.remove(CODE_MINUTES);
    rest.remove(SESSION_HOURS);
    check(&rest, EMAIL_TYPE, EMAIL_PROPS, false, &[])?;
    let mut changes = Map::new();
    let enums = [
        ("state", &["enabled", "disabled"][..]),
        ("allowExternalIdToUseEmailOtp", &["default", "enabled", "disabled"][..]),
    ];
    for (name, allowed) in enums {
        if let Some(v) = one_of(&body, name, allowed)? {
            changes.insert(name.into(), v);
        }
    }
    for (name, max) in [(CODE_MINUTES, MAX_OTP_MINUTES), (SESSION_HOURS, MAX_OTP_SESSION_HOURS)] {
        if let Some(v) = in_range(&body, name, max)? {
            changes.insert(name.into(), v);
        }
    }
    let mut groups_named = vec![];
    for (list, item_type) in [("includeTargets", "authenticationMethodTarget"), ("excludeTargets", "excludeTarget")] {
        if let Some(targets) = body.get(list).and_then(Value::as_array) {
            groups_named.extend(target_groups(targets, list, item_type)?);
            changes.insert(list.into(), canonical_targets(targets, list));
        }
    }
    let tenant = auth.tenant();
    let mut tx = state.dir.store.begin().await?;
    groups_named.sort();
    groups_named.dedup();
    for chunk in groups_named.chunks(GROUP_CHUNK) {
        let found = groups::get_many(&mut tx, tenant, chunk).await?;
        if let Some(missing) = chunk.iter().find(|id| !found.iter().any(|g| g.id == **id)) {
            return Err(GraphError::bad_request(format!("Group '{missing}' does not exist in the tenant.")));
        }
    }
    let stored = load(&mut tx, tenant, doc::EMAIL_METHOD).await?;
    let old = render_email(&stored);
    let mut new = old.clone();
    for (k, v) in &changes {
        new[k.as_str()] = v.clone();
    }
    let changed = diff(&old, &new, EMAIL_WRITABLE);
    if !changed.is_empty() {
        let mut document = new.clone();
        if let Some(m) = document.as_object_mut() {
            m.remove("@odata.type");
        }
        store::set_policy(&mut tx, tenant, doc::EMAIL_METHOD, &document, state.now_ms()).await?;
        let target = Target::new(EMAIL_ID, "Policy", Some(EMAIL_ID.into())).with_changes(changed);
        let what = Activity("Authentication Methods Policy Update", "Update", "Authentication Methods");
        audit(&mut tx, &state, tenant, &caller, what, target).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

// ---------------------------------------------------------------------------------------------
// b2bManagementPolicies (Graph beta): the domain allow or deny list

const B2B_TYPE: &str = "b2bManagementPolicy";
const B2B_SET: &str = "policies/b2bManagementPolicies";

/// Largest policy definition (Entra: "25 KB total policy size").
pub const MAX_DEFINITION_BYTES: usize = 25 * 1024;

const B2B_PROPS: &[Prop] = &[
    p("displayName", Kind::StrRequired, W),
    p("description", Kind::Str, W),
    p("definition", Kind::StrList, W),
    p("isOrganizationDefault", Kind::Bool, W),
    p("id", Kind::Str, RO),
    p("deletedDateTime", Kind::Str, RO),
];

/// The policy as Graph shows it.
fn render_b2b(stored: &Map<String, Value>) -> Value {
    json!({
        "@odata.type": format!("#microsoft.graph.{B2B_TYPE}"),
        "id": stored.get("id").cloned().unwrap_or(Value::Null),
        "deletedDateTime": null,
        "definition": stored.get("definition").cloned().unwrap_or_else(|| json!([])),
        "description": stored.get("description").cloned().unwrap_or(Value::Null),
        "displayName": stored.get("displayName").cloned().unwrap_or(Value::Null),
        "isOrganizationDefault": true,
    })
}

/// A body without the `deletedDateTime: null` that Graph's own create example sends.
fn without_null_deleted(mut body: Map<String, Value>) -> Map<String, Value> {
    if body.get("deletedDateTime").is_some_and(Value::is_null) {
        body.remove("deletedDateTime");
    }
    body
}

/// Checks a policy definition and returns the string to store: a one-element collection
/// holding a JSON object `{"B2BManagementPolicy":{...}}` of at most 25 KB, whose
/// `InvitationsAllowedAndBlockedDomainsPolicy` lists valid domains in `AllowedDomains` or in
/// `BlockedDomains`, never in both. Graph's documentation writes the JSON with single quotes;
/// such a definition is stored in standard JSON, which the readers parse.
pub fn check_definition(v: &Value) -> GraphResult<String> {
    let bad = |m: &str| GraphError::bad_request(format!("Invalid policy definition: {m}"));
    let [Value::String(s)] = v.as_array().map(Vec::as_slice).unwrap_or_default() else {
        return Err(bad("'definition' must be a collection holding exactly one JSON string."));
    };
    if s.len() > MAX_DEFINITION_BYTES {
        return Err(bad("the policy is larger than the 25 KB Entra allows."));
    }
    let (parsed, stored) = match serde_json::from_str::<Value>(s) {
        Ok(p) => (p, s.clone()),
        Err(_) => match serde_json::from_str::<Value>(&s.replace('\'', "\"")) {
            Ok(p) => {
                let text = p.to_string();
                (p, text)
            }
            Err(_) => return Err(bad("the definition is not JSON.")),
        },
    };
    let Some(policy) = parsed.get("B2BManagementPolicy").and_then(Value::as_object) else {
        return Err(bad("expected an object {\"B2BManagementPolicy\": {...}}."));
    };
    if let Some(lists) = policy.get("InvitationsAllowedAndBlockedDomainsPolicy").filter(|v| !v.is_null()) {
        let Some(lists) = lists.as_object() else {
            return Err(bad("InvitationsAllowedAndBlockedDomainsPolicy must be an object."));
        };
        let mut non_empty = 0;
        for key in ["AllowedDomains", "BlockedDomains"] {
            let Some(list) = lists.get(key).filter(|v| !v.is_null()) else { continue };
            let Some(list) = list.as_array() else { return Err(bad(&format!("{key} must be a list of domains."))) };
            for d in list {
                let name = d.as_str().unwrap_or_default();
                // `*.contoso.com` is read as contoso.com and its subdomains.
                if validate::domain_name(name.trim().trim_start_matches("*.")).is_none() {
                    return Err(bad(&format!("'{}' in {key} is not a valid domain name.", d.as_str().unwrap_or("?"))));
                }
            }
            if !list.is_empty() {
                non_empty += 1;
            }
        }
        if non_empty > 1 {
            return Err(bad("set either AllowedDomains or BlockedDomains, not both."));
        }
    }
    Ok(stored)
}

fn require_default(body: &Map<String, Value>) -> GraphResult<()> {
    if body.get("isOrganizationDefault").is_some_and(|v| v == &json!(false)) {
        return Err(GraphError::bad_request(
            "Portico keeps one b2bManagementPolicy per tenant and it is the organization default; \
             'isOrganizationDefault' cannot be false.",
        ));
    }
    Ok(())
}

/// The tenant's policy when `id` names it.
async fn find_b2b(conn: &mut sqlx::AnyConnection, tenant: TenantId, id: &str) -> GraphResult<Map<String, Value>> {
    let stored = load(conn, tenant, doc::B2B_MANAGEMENT).await?;
    if stored.get("id").and_then(Value::as_str).is_some_and(|s| s.eq_ignore_ascii_case(id.trim())) {
        Ok(stored)
    } else {
        Err(GraphError::not_found(id))
    }
}

/// The audit target: the policy, with `PolicyDetail` (the definition) old and new when it
/// changed, and the names.
fn b2b_target(old: &Map<String, Value>, new: &Map<String, Value>) -> Target {
    let (old, new) = (Value::Object(old.clone()), Value::Object(new.clone()));
    let current = if new.as_object().is_some_and(Map::is_empty) { &old } else { &new };
    let id = current["id"].as_str().unwrap_or_default();
    let name = current["displayName"].as_str().map(str::to_owned);
    let mut changes = vec![];
    if old["definition"] != new["definition"] {
        changes.push(("PolicyDetail".to_string(), old["definition"].clone(), new["definition"].clone()));
    }
    changes.extend(diff(&old, &new, &["displayName", "description"]));
    Target::new(id, "B2BManagementPolicy", name).with_changes(changes)
}

/// GET /policies/b2bManagementPolicies
pub async fn list_b2b_management_policies(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::PolicyRead)?;
    if opts.filter.is_some() || opts.search.is_some() || opts.orderby.is_some() {
        return Err(GraphError::unsupported("$filter, $search and $orderby are not supported on this collection."));
    }
    let mut conn = state.conn().await?;
    let stored = load(&mut conn, auth.tenant(), doc::B2B_MANAGEMENT).await?;
    drop(conn);
    let items: Vec<Value> = if stored.contains_key("id") { vec![render_b2b(&stored)] } else { vec![] };
    let count = opts.count.then_some(items.len() as i64);
    let page = Page { items, next: None, count };
    Ok(wire::collection(&state.dir.settings.public_url, &opts, B2B_SET, page, &[]))
}

/// POST /policies/b2bManagementPolicies: one per tenant (409 when it exists); 201.
pub async fn create_b2b_management_policy(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::B2BManagementPolicyWrite)?.clone();
    let body = without_null_deleted(body);
    check(&body, B2B_TYPE, B2B_PROPS, true, &[])?;
    require(&body, &["displayName", "definition"])?;
    require_default(&body)?;
    let definition = check_definition(body.get("definition").unwrap_or(&Value::Null))?;
    let tenant = auth.tenant();
    let mut tx = state.dir.store.begin().await?;
    if store::policy(&mut tx, tenant, doc::B2B_MANAGEMENT).await?.is_some() {
        return Err(GraphError::new(
            StatusCode::CONFLICT,
            "Request_MultipleObjectsWithSameKeyValue",
            "A b2bManagementPolicy already exists in the tenant; update it instead.",
        ));
    }
    let document = json!({
        "id": ObjectId::new().to_string(),
        "displayName": body.get("displayName").cloned().unwrap_or(Value::Null),
        "description": body.get("description").cloned().unwrap_or(Value::Null),
        "definition": [definition],
        "isOrganizationDefault": true,
    });
    store::set_policy(&mut tx, tenant, doc::B2B_MANAGEMENT, &document, state.now_ms()).await?;
    let stored = document.as_object().cloned().unwrap_or_default();
    let target = b2b_target(&Map::new(), &stored);
    audit(&mut tx, &state, tenant, &caller, Activity("Add policy", "Add", "Core Directory"), target).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(wire::created(&state.dir.settings.public_url, &opts, B2B_SET, render_b2b(&stored)))
}

/// GET /policies/b2bManagementPolicies/{id}
pub async fn get_b2b_management_policy(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::PolicyRead)?;
    let mut conn = state.conn().await?;
    let stored = find_b2b(&mut conn, auth.tenant(), &id).await?;
    drop(conn);
    respond(&state, &opts, B2B_SET, B2B_TYPE, render_b2b(&stored))
}

/// PATCH /policies/b2bManagementPolicies/{id}: a new definition replaces the old one whole
/// (switching from an allow list to a block list drops the allow list); 204.
pub async fn update_b2b_management_policy(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::B2BManagementPolicyWrite)?.clone();
    let body = without_null_deleted(body);
    check(&body, B2B_TYPE, B2B_PROPS, false, &[])?;
    require_default(&body)?;
    let definition = body.get("definition").map(check_definition).transpose()?;
    let tenant = auth.tenant();
    let mut tx = state.dir.store.begin().await?;
    let old = find_b2b(&mut tx, tenant, &id).await?;
    let mut new = old.clone();
    if let Some(d) = definition {
        new.insert("definition".into(), json!([d]));
    }
    for k in ["displayName", "description"] {
        if let Some(v) = body.get(k) {
            new.insert(k.into(), v.clone());
        }
    }
    if new != old {
        store::set_policy(&mut tx, tenant, doc::B2B_MANAGEMENT, &Value::Object(new.clone()), state.now_ms()).await?;
        let target = b2b_target(&old, &new);
        audit(&mut tx, &state, tenant, &caller, UPDATE_POLICY, target).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// DELETE /policies/b2bManagementPolicies/{id}: back to no domain list; 204.
pub async fn delete_b2b_management_policy(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> GraphResult<Response> {
    let caller = auth.require(Action::B2BManagementPolicyWrite)?.clone();
    let tenant = auth.tenant();
    let mut tx = state.dir.store.begin().await?;
    let old = find_b2b(&mut tx, tenant, &id).await?;
    store::delete_policy(&mut tx, tenant, doc::B2B_MANAGEMENT).await?;
    let target = b2b_target(&old, &Map::new());
    audit(&mut tx, &state, tenant, &caller, Activity("Delete policy", "Delete", "Core Directory"), target).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(s: &str) -> Value {
        json!([s])
    }

    #[test]
    fn definitions_are_checked() {
        let ok = r#"{"B2BManagementPolicy":{"InvitationsAllowedAndBlockedDomainsPolicy":{"AllowedDomains":[],"BlockedDomains":["live.com","*.example.org"]}}}"#;
        assert_eq!(check_definition(&def(ok)).unwrap(), ok);
        // Graph's documented single-quoted form is stored as standard JSON.
        assert_eq!(
            check_definition(&def("{'B2BManagementPolicy':{'Version':1}}")).unwrap(),
            r#"{"B2BManagementPolicy":{"Version":1}}"#
        );
        let both = r#"{"B2BManagementPolicy":{"InvitationsAllowedAndBlockedDomainsPolicy":{"AllowedDomains":["a.com"],"BlockedDomains":["b.com"]}}}"#;
        for bad in [
            json!([]),
            json!(["{}", "{}"]),
            def("not json"),
            def("{}"),
            def(both),
            def(
                r#"{"B2BManagementPolicy":{"InvitationsAllowedAndBlockedDomainsPolicy":{"AllowedDomains":["bad_domain"]}}}"#,
            ),
            def(r#"{"B2BManagementPolicy":{"InvitationsAllowedAndBlockedDomainsPolicy":{"AllowedDomains":"a.com"}}}"#),
        ] {
            assert!(check_definition(&bad).is_err(), "{bad}");
        }
        let big = format!(
            r#"{{"B2BManagementPolicy":{{"InvitationsAllowedAndBlockedDomainsPolicy":{{"BlockedDomains":[{}]}}}}}}"#,
            (0..2000).map(|i| format!("\"d{i}.example.com\"")).collect::<Vec<_>>().join(",")
        );
        assert!(big.len() > MAX_DEFINITION_BYTES);
        assert!(check_definition(&def(&big)).is_err());
    }

    #[test]
    fn authorization_patch_merges_role_permissions() {
        let changes = authorization_changes(
            json!({"allowInvitesFrom": "ADMINSANDGUESTINVITERS", "defaultUserRolePermissions": {"allowedToCreateApps": false}})
                .as_object()
                .unwrap(),
        )
        .unwrap();
        let v = merge_authorization(&render_authorization(&Map::new()), &changes);
        assert_eq!(v["allowInvitesFrom"], json!("adminsAndGuestInviters"));
        assert_eq!(v["defaultUserRolePermissions"]["allowedToCreateApps"], json!(false));
        assert_eq!(v["defaultUserRolePermissions"]["allowedToReadOtherUsers"], json!(true));
        for bad in [
            json!({"allowInvitesFrom": "unknownFutureValue"}),
            json!({"guestUserRoleId": "62e90394-69f5-4237-9190-012177145e10"}),
            json!({"defaultUserRolePermissions": {"allowedToFly": true}}),
            json!({"defaultUserRolePermissions": null}),
            json!({"blockMsolPowerShell": "yes"}),
        ] {
            assert!(authorization_changes(bad.as_object().unwrap()).is_err(), "{bad}");
        }
    }
}
