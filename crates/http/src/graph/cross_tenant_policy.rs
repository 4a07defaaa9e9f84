//! `/policies/crossTenantAccessPolicy` and its `default` configuration: the part of Entra's
//! cross-tenant access settings that Portico enforces.
//!
//! Stored in the tenant's policy document `crossTenantAccessPolicy` under `default` (the
//! `partners` entries of the same document are left as they are). What a PATCH of the default
//! may change, because Portico acts on it:
//!
//! - `invitationRedemptionIdentityProviderConfiguration`: the order in which redemption tries
//!   `azureActiveDirectory` (tenants of this deployment and the Microsoft provider),
//!   `externalFederation` (SAML and OpenID Connect providers) and `socialIdentityProviders`
//!   (Google), and the fallback `defaultConfiguredIdp` or `emailOneTimePasscode` (Portico has no
//!   Microsoft account fallback). Read by `crate::b2b::policy::redemption_order`.
//! - `b2bCollaborationOutbound` for all users and all applications (`allowed` or `blocked`), read
//!   by `crate::b2b::policy::outbound_allowed` when a member of this tenant redeems elsewhere.
//!
//! Every other property of the default (inbound settings, B2B direct connect, inbound trust,
//! automatic redemption, tenant restrictions) is shown with Entra's defaults and refused in a
//! PATCH unless unchanged, so that nothing is accepted and then ignored.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portico_core::access::{Action, Caller};
use portico_core::ids::TenantId;
use portico_store::{StoreError, audit as audit_store, b2b as store};
use serde_json::{Map, Value, json};

use super::auth::Authed;
use super::body::JsonBody;
use super::error::{GraphError, GraphResult};
use super::query::QueryOptions;
use super::wire;
use crate::app::AppState;
use crate::audit::{Actor, Target, diff, entry};
use crate::b2b::policy::doc;

/// The document's key for the default configuration.
const DEFAULT_KEY: &str = "default";
const REDEMPTION: &str = "invitationRedemptionIdentityProviderConfiguration";
const OUTBOUND: &str = "b2bCollaborationOutbound";
/// The primary groups Graph names, in Entra's default order.
const PRIMARY: &[&str] = &["azureActiveDirectory", "externalFederation", "socialIdentityProviders"];

/// Properties of the default that Portico shows but does not let a PATCH change yet.
const NOT_YET: &[&str] = &[
    "b2bCollaborationInbound",
    "b2bDirectConnectInbound",
    "b2bDirectConnectOutbound",
    "inboundTrust",
    "automaticUserConsentSettings",
    "tenantRestrictions",
];

fn all_targets(access: &str) -> Value {
    json!({
        "usersAndGroups": {"accessType": access, "targets": [{"target": "AllUsers", "targetType": "user"}]},
        "applications": {"accessType": access, "targets": [{"target": "AllApplications", "targetType": "application"}]},
    })
}

/// Entra's service defaults for the default configuration.
pub fn service_defaults() -> Value {
    let mut restrictions = all_targets("blocked");
    restrictions["devices"] = Value::Null;
    json!({
        "isServiceDefault": true,
        "inboundTrust": {"isMfaAccepted": false, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false},
        "automaticUserConsentSettings": {"inboundAllowed": false, "outboundAllowed": false},
        REDEMPTION: {"primaryIdentityProviderPrecedenceOrder": PRIMARY, "fallbackIdentityProvider": "defaultConfiguredIdp"},
        "b2bCollaborationInbound": all_targets("allowed"),
        OUTBOUND: all_targets("allowed"),
        "b2bDirectConnectInbound": all_targets("blocked"),
        "b2bDirectConnectOutbound": all_targets("blocked"),
        "tenantRestrictions": restrictions,
    })
}

/// The default as Graph shows it: the stored values over Entra's defaults.
pub fn render_default(stored: &Value) -> Value {
    let mut v = service_defaults();
    if let Some(m) = stored.as_object() {
        v["isServiceDefault"] = json!(false);
        for k in [REDEMPTION, OUTBOUND] {
            if let Some(x) = m.get(k).filter(|x| !x.is_null()) {
                v[k] = x.clone();
            }
        }
    }
    v
}

/// Checks `invitationRedemptionIdentityProviderConfiguration` and merges it over `current`.
fn redemption_changes(v: &Value, current: &Value) -> GraphResult<Value> {
    let m = v.as_object().ok_or_else(|| GraphError::bad_request(format!("'{REDEMPTION}' must be an object.")))?;
    let mut out = current.clone();
    for (k, val) in m {
        match k.as_str() {
            "@odata.type" => {}
            "primaryIdentityProviderPrecedenceOrder" => {
                let list = val
                    .as_array()
                    .ok_or_else(|| GraphError::bad_request("primaryIdentityProviderPrecedenceOrder must be a list."))?;
                let mut order: Vec<&str> = vec![];
                for item in list {
                    let name = item.as_str().unwrap_or_default();
                    let Some(known) = PRIMARY.iter().find(|p| p.eq_ignore_ascii_case(name)) else {
                        return Err(GraphError::bad_request(format!(
                            "'{name}' cannot be a primary identity provider; use azureActiveDirectory, \
                             externalFederation and socialIdentityProviders."
                        )));
                    };
                    if order.contains(known) {
                        return Err(GraphError::bad_request(format!(
                            "'{known}' appears twice in primaryIdentityProviderPrecedenceOrder."
                        )));
                    }
                    order.push(known);
                }
                out["primaryIdentityProviderPrecedenceOrder"] = json!(order);
            }
            "fallbackIdentityProvider" => {
                let f = match val.as_str().unwrap_or_default() {
                    s if s.eq_ignore_ascii_case("defaultConfiguredIdp") => "defaultConfiguredIdp",
                    s if s.eq_ignore_ascii_case("emailOneTimePasscode") => "emailOneTimePasscode",
                    s if s.eq_ignore_ascii_case("microsoftAccount") => {
                        return Err(GraphError::bad_request(
                            "Portico has no Microsoft account fallback; use defaultConfiguredIdp or emailOneTimePasscode.",
                        ));
                    }
                    s => {
                        return Err(GraphError::bad_request(format!(
                            "Invalid value '{s}' for fallbackIdentityProvider; use defaultConfiguredIdp or \
                             emailOneTimePasscode."
                        )));
                    }
                };
                out["fallbackIdentityProvider"] = json!(f);
            }
            _ => return Err(GraphError::unknown_property(k, "invitationRedemptionIdentityProviderConfiguration")),
        }
    }
    Ok(out)
}

/// Checks one half of a B2B setting (`usersAndGroups` or `applications`): Portico enforces
/// `allowed` or `blocked` for everyone (`AllUsers`, `AllApplications`) only.
fn target_configuration(half: &str, v: &Value) -> GraphResult<Value> {
    let (all, kind) = if half == "usersAndGroups" { ("AllUsers", "user") } else { ("AllApplications", "application") };
    let m = v.as_object().ok_or_else(|| GraphError::bad_request(format!("{OUTBOUND}.{half} must be an object.")))?;
    for k in m.keys() {
        if !["accessType", "targets", "@odata.type"].contains(&k.as_str()) {
            return Err(GraphError::unknown_property(k, "crossTenantAccessPolicyTargetConfiguration"));
        }
    }
    let access = match m.get("accessType").and_then(Value::as_str).unwrap_or_default() {
        s if s.eq_ignore_ascii_case("allowed") => "allowed",
        s if s.eq_ignore_ascii_case("blocked") => "blocked",
        s => {
            return Err(GraphError::bad_request(format!(
                "Invalid value '{s}' for {OUTBOUND}.{half}.accessType; use allowed or blocked."
            )));
        }
    };
    let everyone = match m.get("targets") {
        None => true,
        Some(Value::Array(ts)) => {
            ts.len() == 1
                && ts[0]["target"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(all))
                && ts[0]["targetType"].as_str().is_none_or(|t| t.eq_ignore_ascii_case(kind))
        }
        Some(_) => false,
    };
    if !everyone {
        return Err(GraphError::bad_request(format!(
            "{OUTBOUND}.{half}: Portico applies outbound settings to everyone only; targets must be \
             [{{\"target\": \"{all}\", \"targetType\": \"{kind}\"}}] (per-user, group and application targets are not \
             supported yet)."
        )));
    }
    Ok(json!({"accessType": access, "targets": [{"target": all, "targetType": kind}]}))
}

/// Checks `b2bCollaborationOutbound` and merges it over `current`.
fn outbound_changes(v: &Value, current: &Value) -> GraphResult<Value> {
    let m = v.as_object().ok_or_else(|| GraphError::bad_request(format!("'{OUTBOUND}' must be an object.")))?;
    let mut out = current.clone();
    for (k, val) in m {
        match k.as_str() {
            "@odata.type" => {}
            "usersAndGroups" | "applications" => out[k.as_str()] = target_configuration(k, val)?,
            _ => return Err(GraphError::unknown_property(k, "crossTenantAccessPolicyB2BSetting")),
        }
    }
    // Entra: blocking all users needs all applications blocked, and allowing users needs an
    // allowed application; with everyone-targets both halves must agree.
    if out["usersAndGroups"]["accessType"] != out["applications"]["accessType"] {
        return Err(GraphError::bad_request(format!(
            "{OUTBOUND}: usersAndGroups and applications must have the same accessType (blocking all users \
             needs all applications blocked, and allowing users needs applications allowed)."
        )));
    }
    Ok(out)
}

/// Checks a PATCH of the default against what GET shows; returns the new stored `default`.
fn default_changes(body: &Map<String, Value>, shown: &Value) -> GraphResult<Map<String, Value>> {
    let mut stored = Map::new();
    stored.insert("isServiceDefault".into(), json!(false));
    stored.insert(REDEMPTION.into(), shown[REDEMPTION].clone());
    stored.insert(OUTBOUND.into(), shown[OUTBOUND].clone());
    for (k, v) in body {
        match k.as_str() {
            "@odata.type" | "@odata.context" => {}
            REDEMPTION => {
                let merged = redemption_changes(v, &shown[REDEMPTION])?;
                stored.insert(REDEMPTION.into(), merged);
            }
            OUTBOUND => {
                let merged = outbound_changes(v, &shown[OUTBOUND])?;
                stored.insert(OUTBOUND.into(), merged);
            }
            "isServiceDefault" if v == &shown["isServiceDefault"] => {}
            "isServiceDefault" => return Err(GraphError::read_only(k)),
            _ if NOT_YET.contains(&k.as_str()) => {
                if v != &shown[k.as_str()] {
                    return Err(GraphError::bad_request(format!(
                        "Property '{k}' of the cross-tenant access default is not supported by Portico yet; only \
                         {REDEMPTION} and {OUTBOUND} (for all users and applications) can be changed."
                    )));
                }
            }
            _ => return Err(GraphError::unknown_property(k, "crossTenantAccessPolicyConfigurationDefault")),
        }
    }
    Ok(stored)
}

/// The stored document (an empty object when none was written).
async fn load(conn: &mut sqlx::AnyConnection, tenant: TenantId) -> GraphResult<Map<String, Value>> {
    Ok(match store::policy(conn, tenant, doc::CROSS_TENANT_ACCESS).await? {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    })
}

async fn audit(
    tx: &mut portico_store::Tx,
    state: &AppState,
    tenant: TenantId,
    caller: &Caller,
    activity: &str,
    changes: Vec<(String, Value, Value)>,
) -> GraphResult<()> {
    let target = Target::new(DEFAULT_KEY, "Policy", Some("Cross-tenant access default".into())).with_changes(changes);
    let e = entry(
        tenant,
        &Actor::of(caller),
        activity,
        "CrossTenantAccessSettings",
        "Update",
        "Core Directory",
        &[target],
        state.now_ms(),
    );
    audit_store::insert(tx, &e).await?;
    Ok(())
}

fn only_select(opts: &QueryOptions) -> GraphResult<Vec<&str>> {
    if opts.filter.is_some() || opts.orderby.is_some() || opts.search.is_some() || opts.top.is_some() {
        return Err(GraphError::bad_request("Only $select is supported when reading a single object."));
    }
    Ok(opts
        .select
        .as_deref()
        .map(|s| s.split(',').map(str::trim).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default())
}

/// GET /policies/crossTenantAccessPolicy: the base object (no cross-cloud endpoints: Portico is
/// one cloud).
pub async fn get_cross_tenant_access_policy(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::PolicyRead)?;
    let selected = only_select(&opts)?;
    let body = json!({
        "id": "crossTenantAccessPolicy",
        "deletedDateTime": null,
        "displayName": "CrossTenantAccessPolicy",
        "description": null,
        "definition": null,
        "allowedCloudEndpoints": [],
    });
    let body = wire::select(body, &selected, &[]);
    Ok(wire::entity(&state.dir.settings.public_url, &opts, "policies/crossTenantAccessPolicy", body, &selected))
}

/// GET /policies/crossTenantAccessPolicy/default
pub async fn get_default(auth: Authed, State(state): State<AppState>, opts: QueryOptions) -> GraphResult<Response> {
    auth.require(Action::PolicyRead)?;
    let selected = only_select(&opts)?;
    let mut conn = state.conn().await?;
    let d = load(&mut conn, auth.tenant()).await?;
    drop(conn);
    let body = wire::select(render_default(d.get(DEFAULT_KEY).unwrap_or(&Value::Null)), &selected, &[]);
    Ok(wire::entity(&state.dir.settings.public_url, &opts, "policies/crossTenantAccessPolicy/default", body, &selected))
}

/// PATCH /policies/crossTenantAccessPolicy/default: the redemption order and outbound B2B
/// collaboration; 204.
pub async fn update_default(
    auth: Authed,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::CrossTenantAccessWrite)?.clone();
    let tenant = auth.tenant();
    let mut tx = state.dir.store.begin().await?;
    let mut document = load(&mut tx, tenant).await?;
    let shown = render_default(document.get(DEFAULT_KEY).unwrap_or(&Value::Null));
    let stored = default_changes(&body, &shown)?;
    let new_shown = render_default(&Value::Object(stored.clone()));
    let changes = diff(&shown, &new_shown, &[REDEMPTION, OUTBOUND]);
    if !changes.is_empty() || shown["isServiceDefault"] == json!(true) {
        document.insert(DEFAULT_KEY.into(), Value::Object(stored));
        store::set_policy(&mut tx, tenant, doc::CROSS_TENANT_ACCESS, &Value::Object(document), state.now_ms()).await?;
        audit(&mut tx, &state, tenant, &caller, "Update a cross-tenant access setting", changes).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// POST /policies/crossTenantAccessPolicy/default/resetToSystemDefault: back to Entra's
/// defaults (partner settings are kept); 204.
pub async fn reset_default(auth: Authed, State(state): State<AppState>) -> GraphResult<Response> {
    let caller = auth.require(Action::CrossTenantAccessWrite)?.clone();
    let tenant = auth.tenant();
    let mut tx = state.dir.store.begin().await?;
    let mut document = load(&mut tx, tenant).await?;
    if let Some(old) = document.remove(DEFAULT_KEY) {
        let changes = diff(&render_default(&old), &service_defaults(), &[REDEMPTION, OUTBOUND]);
        if document.is_empty() {
            store::delete_policy(&mut tx, tenant, doc::CROSS_TENANT_ACCESS).await?;
        } else {
            let d = Value::Object(document);
            store::set_policy(&mut tx, tenant, doc::CROSS_TENANT_ACCESS, &d, state.now_ms()).await?;
        }
        audit(&mut tx, &state, tenant, &caller, "Reset the cross-tenant access default setting", changes).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn the_default_merges_over_entras_defaults() {
        let d = render_default(&Value::Null);
        assert_eq!(d["isServiceDefault"], json!(true));
        assert_eq!(d[REDEMPTION]["primaryIdentityProviderPrecedenceOrder"], json!(PRIMARY));
        let stored = default_changes(
            &obj(json!({REDEMPTION: {"primaryIdentityProviderPrecedenceOrder": ["ExternalFederation"], "fallbackIdentityProvider": "emailOneTimePasscode"}})),
            &d,
        )
        .unwrap();
        let shown = render_default(&Value::Object(stored));
        assert_eq!(shown["isServiceDefault"], json!(false));
        assert_eq!(shown[REDEMPTION]["primaryIdentityProviderPrecedenceOrder"], json!(["externalFederation"]));
        assert_eq!(shown[REDEMPTION]["fallbackIdentityProvider"], json!("emailOneTimePasscode"));
        assert_eq!(shown[OUTBOUND], d[OUTBOUND]);
        // Unchanged values of unsupported properties pass (a GET body sent back).
        assert!(default_changes(&obj(d.clone()), &d).is_ok());
    }

    #[test]
    fn bad_patches_are_refused() {
        let d = render_default(&Value::Null);
        for bad in [
            json!({REDEMPTION: {"fallbackIdentityProvider": "microsoftAccount"}}),
            json!({REDEMPTION: {"primaryIdentityProviderPrecedenceOrder": ["azureActiveDirectory", "azureActiveDirectory"]}}),
            json!({REDEMPTION: {"primaryIdentityProviderPrecedenceOrder": ["emailOneTimePasscode"]}}),
            json!({OUTBOUND: {"usersAndGroups": {"accessType": "blocked", "targets": [{"target": "AllUsers", "targetType": "user"}]}}}),
            json!({OUTBOUND: {"usersAndGroups": {"accessType": "blocked", "targets": [{"target": "g1", "targetType": "group"}]}, "applications": {"accessType": "blocked"}}}),
            json!({"inboundTrust": {"isMfaAccepted": true}}),
            json!({"isServiceDefault": false}),
            json!({"somethingElse": 1}),
        ] {
            assert!(default_changes(&obj(bad.clone()), &d).is_err(), "{bad}");
        }
        let both =
            json!({OUTBOUND: {"usersAndGroups": {"accessType": "blocked"}, "applications": {"accessType": "Blocked"}}});
        let stored = default_changes(&obj(both), &d).unwrap();
        assert_eq!(stored[OUTBOUND]["applications"]["accessType"], json!("blocked"));
    }
}
