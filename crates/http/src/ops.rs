//! Operations endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document, and a
//! plain index page that says where things are.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::app::AppState;
use crate::graph::routes::routes;

/// GET /healthz: the process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// GET /readyz: the store answers and its schema is current.
pub async fn readyz(State(state): State<AppState>) -> Response {
    match state.dir.store.require_current().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready: the store is unreachable or its schema is not current")
                .into_response()
        }
    }
}

/// GET /metrics in Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(h) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], h.render()).into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled").into_response(),
    }
}

/// The OpenAPI 3.1 document, generated from the route table.
pub fn openapi_document(public_url: &str) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for r in routes() {
        {
            let path = format!("/v1.0{}", r.path);
            let params: Vec<Value> = r
                .path
                .split('/')
                .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
                .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
                .collect();
            let perms =
                r.action.map(|a| a.permissions().join(", ")).unwrap_or_else(|| "any authenticated caller".into());
            let mut op = json!({
                "summary": r.summary,
                "description": format!("Application permissions (any of): {perms}."),
                "operationId": format!("{}{}", r.method.to_ascii_lowercase(), r.path.replace(['/', '{', '}', '$', '.'], "_")),
                "parameters": params,
                "security": [{"bearer": []}],
                "responses": {
                    "default": {"description": "Graph error envelope", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
            });
            let ok = match r.method {
                "POST" if r.path.ends_with("$ref") || r.path.ends_with("removePassword") => "204",
                "POST"
                    if r.path.ends_with("addPassword")
                        || r.path.ends_with("verify")
                        || r.path.ends_with("restore")
                        || r.path.ends_with("revokeSignInSessions") =>
                {
                    "200"
                }
                "POST" => "201",
                "PATCH" | "DELETE" => "204",
                _ => "200",
            };
            op["responses"][ok] = json!({"description": "Success"});
            paths.entry(path).or_insert_with(|| json!({}))[r.method.to_ascii_lowercase()] = op;
        }
    }
    for (path, summary) in [
        ("/{tenant}/oauth2/v2.0/token", "OAuth 2.0 token endpoint (client_credentials)"),
        ("/{tenant}/v2.0/.well-known/openid-configuration", "OpenID Provider metadata"),
        ("/{tenant}/discovery/v2.0/keys", "JSON Web Key Set"),
    ] {
        let method = if path.ends_with("token") { "post" } else { "get" };
        paths.insert(path.into(), json!({ method: { "summary": summary, "parameters": [{"name": "tenant", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": {"description": "Success"}} } }));
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "Portico Graph-shaped API", "version": env!("CARGO_PKG_VERSION"),
                  "description": "Microsoft Graph v1.0-shaped directory API. Authenticate with a bearer token from /{tenant}/oauth2/v2.0/token (scope https://graph.microsoft.com/.default)." },
        "servers": [{ "url": public_url }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } },
            "schemas": { "Error": { "type": "object", "properties": { "error": { "type": "object", "properties": {
                "code": {"type": "string"}, "message": {"type": "string"}, "innerError": {"type": "object"} } } } } }
        }
    })
}

/// GET /openapi.json
pub async fn openapi(State(state): State<AppState>) -> Json<Value> {
    Json(openapi_document(&state.dir.settings.public_url))
}

/// GET /: where things are.
pub async fn index(State(state): State<AppState>) -> Response {
    let base = &state.dir.settings.public_url;
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!(
            "Portico is running.\n\nGraph-shaped API: {base}/v1.0\nOpenAPI document: {base}/openapi.json\nToken endpoint:   {base}/{{tenant}}/oauth2/v2.0/token\nHealth:           {base}/healthz, {base}/readyz, {base}/metrics\n"
        ),
    )
        .into_response()
}
