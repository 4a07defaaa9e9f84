//! `/policies/identitySecurityDefaultsEnforcementPolicy`: Entra's security defaults. The switch
//! is the `securityDefaults` flag of the tenant's sign-in policy document; when on, every sign-in
//! of the tenant needs a second factor.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portico_core::access::Action;
use portico_store::{StoreError, audit as audit_store, tenants};
use serde_json::{Value, json};

use super::auth::Authed;
use super::body::{Access, JsonBody, Kind, Prop, check, p};
use super::error::{GraphError, GraphResult};
use super::query::QueryOptions;
use super::wire;
use crate::app::AppState;
use crate::audit::{Actor, Target, entry};

/// The policy's fixed id, the same in every Entra tenant.
pub const SECURITY_DEFAULTS_ID: &str = "00000000-0000-0000-0000-000000000005";

/// The key of the flag in the tenant's sign-in policy document.
pub const SECURITY_DEFAULTS_KEY: &str = "securityDefaults";

const DESCRIPTION: &str = "Security defaults is a set of basic identity security mechanisms recommended by \
    Microsoft. When enabled, these recommendations will be automatically enforced in your organization. \
    Administrators and users will be better protected from common identity related attacks.";

const POLICY_PROPS: &[Prop] = &[
    p("isEnabled", Kind::Bool, Access::Write),
    p("id", Kind::Str, Access::ReadOnly),
    p("displayName", Kind::Str, Access::ReadOnly),
    p("description", Kind::Str, Access::ReadOnly),
];

const SET: &str = "policies/identitySecurityDefaultsEnforcementPolicy";

/// Whether a sign-in policy document turns security defaults on.
pub fn enabled(policy: &Value) -> bool {
    policy.get(SECURITY_DEFAULTS_KEY).and_then(Value::as_bool).unwrap_or(false)
}

/// The policy in Graph's shape.
pub fn render(is_enabled: bool) -> Value {
    json!({
        "id": SECURITY_DEFAULTS_ID,
        "displayName": "Security Defaults",
        "description": DESCRIPTION,
        "isEnabled": is_enabled,
    })
}

/// GET /policies/identitySecurityDefaultsEnforcementPolicy
pub async fn get_security_defaults(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::PolicyRead)?;
    if opts.filter.is_some() || opts.orderby.is_some() || opts.search.is_some() || opts.top.is_some() {
        return Err(GraphError::bad_request("Only $select is supported when reading a single object."));
    }
    let mut conn = state.conn().await?;
    let policy = tenants::sign_in_policy(&mut conn, auth.tenant()).await?;
    let mut body = render(enabled(&policy));
    let mut selected: Vec<&'static str> = vec![];
    if let Some(sel) = opts.select.as_deref() {
        for s in sel.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let name = ["id", "displayName", "description", "isEnabled"]
                .into_iter()
                .find(|n| n.eq_ignore_ascii_case(s))
                .ok_or_else(|| {
                    GraphError::bad_request(format!(
                        "Could not find a property named '{s}' on type 'microsoft.graph.identitySecurityDefaultsEnforcementPolicy'."
                    ))
                })?;
            selected.push(name);
        }
        body = wire::select(body, &selected, &[]);
    }
    Ok(wire::entity(&state.dir.settings.public_url, &opts, SET, body, &selected))
}

/// PATCH /policies/identitySecurityDefaultsEnforcementPolicy: turns security defaults on or off
/// (other keys of the sign-in policy document are kept).
pub async fn update_security_defaults(
    auth: Authed,
    State(state): State<AppState>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::SecurityDefaultsWrite)?.clone();
    check(&body, "identitySecurityDefaultsEnforcementPolicy", POLICY_PROPS, false, &[])?;
    let Some(new) = body.get("isEnabled").and_then(Value::as_bool) else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let tenant = auth.tenant();
    let mut tx = state.dir.store.begin().await?;
    let mut policy = tenants::sign_in_policy(&mut tx, tenant).await?;
    let old = enabled(&policy);
    match policy.as_object_mut() {
        Some(m) => {
            m.insert(SECURITY_DEFAULTS_KEY.into(), json!(new));
        }
        None => policy = json!({ SECURITY_DEFAULTS_KEY: new }),
    }
    tenants::set_sign_in_policy(&mut tx, tenant, &policy).await?;
    let t = Target::new(SECURITY_DEFAULTS_ID, "Policy", Some("Security Defaults".into())).with_changes(vec![(
        "IsEnabled".into(),
        json!(old),
        json!(new),
    )]);
    audit_store::insert(
        &mut tx,
        &entry(
            tenant,
            &Actor::of(&caller),
            "Update policy",
            "Policy",
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
    fn the_flag_defaults_to_off() {
        assert!(!enabled(&json!({})));
        assert!(!enabled(&json!({"securityDefaults": "yes"})));
        assert!(enabled(&json!({"securityDefaults": true, "other": 1})));
        assert_eq!(render(true)["id"], json!(SECURITY_DEFAULTS_ID));
    }
}
