//! `/auditLogs/directoryAudits`.

use axum::extract::{Path, State};
use axum::response::Response;
use portico_core::access::Action;
use portico_core::clock::graph_datetime;
use portico_core::ids::ObjectId;
use portico_odata::Value as V;
use portico_store::audit::{self, AuditEntry};
use portico_store::list::{Cond, Page};
use portico_store::schema::DIRECTORY_AUDIT;
use serde_json::{Value, json};

use super::auth::Authed;
use super::error::{GraphError, GraphResult};
use super::query::QueryOptions;
use super::wire;
use crate::app::AppState;

/// A directoryAudit in Graph's shape.
pub fn render(e: &AuditEntry) -> Value {
    json!({
        "id": e.id.to_string(),
        "category": e.category,
        "correlationId": e.correlation_id,
        "result": e.result,
        "resultReason": e.result_reason.clone().unwrap_or_default(),
        "activityDisplayName": e.activity_display_name,
        "activityDateTime": graph_datetime(e.activity_at),
        "loggedByService": e.logged_by_service,
        "operationType": e.operation_type,
        "initiatedBy": e.initiated_by,
        "targetResources": e.target_resources,
        "additionalDetails": e.additional_details,
    })
}

/// GET /auditLogs/directoryAudits (newest first unless `$orderby` says otherwise)
pub async fn list_directory_audits(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::AuditRead)?;
    // Audit logs are not directory objects: $filter and $orderby combine freely, $count needs no header.
    let relaxed = QueryOptions { eventual: true, count: opts.count, ..opts.clone() };
    let mut plan = relaxed.plan(&DIRECTORY_AUDIT, state.dir.store.dialect())?;
    if plan.order.is_empty() {
        plan.order = vec![("activity_at", true)];
    }
    let scope = Cond::new("tenant_id = $1", vec![V::Text(auth.tenant().to_string())]);
    let list = plan.list("audit_logs", audit::COLUMNS, scope, &opts);
    let page = list.run(&state.dir.store, audit::from_row).await?;
    let items = page.items.iter().map(|e| wire::select(render(e), &plan.select, &[])).collect();
    Ok(wire::collection(
        &state.dir.settings.public_url,
        &opts,
        "auditLogs/directoryAudits",
        Page { items, next: page.next, count: page.count },
        &plan.select,
    ))
}

/// GET /auditLogs/directoryAudits/{id}
pub async fn get_directory_audit(
    auth: Authed,
    State(state): State<AppState>,
    Path(id): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::AuditRead)?;
    let oid = ObjectId::parse(&id).ok_or_else(|| GraphError::not_found(&id))?;
    let mut conn = state.conn().await?;
    let e = audit::get(&mut conn, auth.tenant(), oid).await?.ok_or_else(|| GraphError::not_found(&id))?;
    Ok(wire::entity(&state.dir.settings.public_url, &opts, "auditLogs/directoryAudits", render(&e), &[]))
}
