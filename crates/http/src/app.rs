//! The application state and the router that mounts every surface.

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use portico_core::clock::to_millis;
use sqlx::pool::PoolConnection;

use crate::directory::Directory;
use crate::graph::error::GraphError;
use crate::{graph, oauth, ops, request_id};

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    /// Directory operations, store, settings, keys, clock.
    pub dir: Directory,
    /// The Prometheus exporter handle (None in tests that do not care).
    pub metrics: Option<Arc<metrics_exporter_prometheus::PrometheusHandle>>,
}

impl AppState {
    /// A pooled connection for reads.
    pub async fn conn(&self) -> Result<PoolConnection<sqlx::Any>, GraphError> {
        self.dir.store.pool().acquire().await.map_err(|e| GraphError::internal(&e))
    }

    /// Now, in milliseconds.
    pub fn now_ms(&self) -> i64 {
        to_millis(self.dir.clock.now())
    }
}

async fn graph_not_found(req: Request) -> Response {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "BadRequest",
        format!("Resource not found for the segment '{}'.", req.uri().path().rsplit('/').next().unwrap_or_default()),
    )
    .into_response()
}

/// Graph answers a known path with an unsupported method with 405 in its own envelope.
async fn graph_envelope_for_405(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
        return GraphError::new(StatusCode::METHOD_NOT_ALLOWED, "Request_BadRequest", "The HTTP method is not supported for this resource.").into_response();
    }
    resp
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    resp
}

/// The Graph-shaped API router (mounted under `/v1.0` and `/beta`).
pub fn graph_router() -> Router<AppState> {
    let mut r = Router::new();
    for route in graph::routes::routes() {
        r = r.route(route.path, route.handler);
    }
    r.fallback(graph_not_found).layer(middleware::from_fn(graph_envelope_for_405))
}

/// Every surface.
pub fn router(state: AppState) -> Router {
    let graph = graph_router();
    Router::new()
        .nest("/v1.0", graph.clone())
        .nest("/beta", graph)
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(oauth::discovery::openid_configuration))
        .route("/{tenant}/discovery/v2.0/keys", get(oauth::discovery::jwks))
        .route("/{tenant}/oauth2/v2.0/token", post(oauth::token::token))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route("/", get(ops::index))
        .fallback(|m: Method| async move {
            let _ = m;
            (StatusCode::NOT_FOUND, "Not found. The Graph-shaped API lives under /v1.0; see /openapi.json.").into_response()
        })
        .layer(DefaultBodyLimit::max(crate::graph::body::MAX_BODY))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(request_id::layer))
        .with_state(state)
}
