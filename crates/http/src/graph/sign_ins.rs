//! `/auditLogs/signIns`: the sign-in log in Graph's signIn shape.

use axum::extract::{Path, State};
use axum::response::Response;
use portico_core::access::Action;
use portico_core::clock::graph_datetime;
use portico_core::ids::ObjectId;
use portico_odata::Value as V;
use portico_store::list::{Cond, List, Page};
use portico_store::schema::SIGN_IN;
use portico_store::signins::{self, SignIn};
use serde_json::{Value, json};

use super::auth::Authed;
use super::error::{GraphError, GraphResult};
use super::query::QueryOptions;
use super::wire;
use crate::app::AppState;

/// A signIn in Graph's shape. Portico does no risk scoring and no geolocation: risk fields say
/// "none" and `location` has every field empty, as Entra shows for sign-ins it could not place.
pub fn render(s: &SignIn) -> Value {
    json!({
        "id": s.id.to_string(),
        "createdDateTime": graph_datetime(s.created_at),
        "userDisplayName": s.user_display_name,
        "userPrincipalName": s.user_principal_name,
        "userId": s.user_id.map(|u| u.to_string()),
        "appId": s.app_id,
        "appDisplayName": s.app_display_name,
        "ipAddress": s.ip_address,
        "clientAppUsed": s.client_app_used,
        "userAgent": s.user_agent,
        "correlationId": s.correlation_id,
        "conditionalAccessStatus": s.conditional_access_status,
        "isInteractive": s.is_interactive,
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "riskEventTypes_v2": [],
        "status": {
            "errorCode": s.error_code,
            "failureReason": s.failure_reason,
            "additionalDetails": s.additional_details,
        },
        "authenticationDetails": s.authentication_details,
        "authenticationRequirement": s.authentication_requirement,
        "homeTenantId": s.home_tenant_id,
        "resourceTenantId": s.resource_tenant_id,
        "resourceDisplayName": s.resource_display_name,
        "resourceId": s.resource_id,
        "userType": s.user_type,
        "crossTenantAccessType": s.cross_tenant_access_type,
        "appliedConditionalAccessPolicies": [],
        "deviceDetail": {
            "deviceId": "", "displayName": "", "operatingSystem": "", "browser": "",
            "isCompliant": false, "isManaged": false, "trustType": ""
        },
        "location": {
            "city": null, "state": null, "countryOrRegion": null,
            "geoCoordinates": {"altitude": null, "latitude": null, "longitude": null}
        },
    })
}

/// GET /auditLogs/signIns (newest first unless `$orderby` says otherwise)
pub async fn list_sign_ins(auth: Authed, State(state): State<AppState>, opts: QueryOptions) -> GraphResult<Response> {
    auth.require(Action::AuditRead)?;
    // Like directoryAudits, the sign-in log is no directory object: $filter, $orderby and $count
    // combine freely without `ConsistencyLevel: eventual`.
    let relaxed = QueryOptions { eventual: true, count: opts.count, ..opts.clone() };
    let mut plan = relaxed.plan(&SIGN_IN, state.dir.store.dialect())?;
    if plan.order.is_empty() {
        plan.order = vec![("created_at", true)];
    }
    let scope = Cond::new("tenant_id = $1", vec![V::Text(auth.tenant().to_string())]);
    let list = plan.list("sign_ins", signins::COLUMNS, scope, &opts);
    let page = list.run(&state.dir.store, signins::from_row).await?;
    let items = page.items.iter().map(|s| wire::select(render(s), &plan.select, &[])).collect();
    Ok(wire::collection(
        &state.dir.settings.public_url,
        &opts,
        "auditLogs/signIns",
        Page { items, next: page.next, count: page.count },
        &plan.select,
    ))
}

/// GET /auditLogs/signIns/{id}
pub async fn get_sign_in(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::AuditRead)?;
    let select = opts.select_for(&SIGN_IN)?;
    let oid = ObjectId::parse(&id).ok_or_else(|| GraphError::not_found(&id))?;
    // The store has no single-record read for sign-ins; a one-row list within the tenant is one.
    let one = List {
        table: "sign_ins",
        columns: signins::COLUMNS,
        conds: vec![Cond::new(
            "tenant_id = $1 AND id = $2",
            vec![V::Text(auth.tenant().to_string()), V::Text(oid.to_string())],
        )],
        order: vec![],
        id_column: "id",
        top: 1,
        skiptoken: None,
        count: false,
    };
    let s =
        one.run(&state.dir.store, signins::from_row).await?.items.pop().ok_or_else(|| GraphError::not_found(&id))?;
    Ok(wire::entity(
        &state.dir.settings.public_url,
        &opts,
        "auditLogs/signIns",
        wire::select(render(&s), &select, &[]),
        &select,
    ))
}
