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
use crate::{graph, oauth, ops, request_id, web};

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

/// Every error of the Graph-shaped API is in Graph's envelope, also the ones axum answers before
/// a handler runs: 405 for a known path with another method (keeping `Allow`, RFC 9110 §15.5.6),
/// and the plain-text rejections of its extractors (a path segment that is not UTF-8, say).
async fn graph_envelope_for_errors(req: Request, next: Next) -> Response {
    let resp = next.run(req).await;
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        let allow = resp.headers().get(header::ALLOW).cloned();
        let mut r = GraphError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "The HTTP method is not supported for this resource.",
        )
        .into_response();
        if let Some(a) = allow {
            r.headers_mut().insert(header::ALLOW, a);
        }
        return r;
    }
    let text = axum::body::to_bytes(resp.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    if status.is_server_error() {
        return GraphError { status, ..GraphError::internal(&text) }.into_response();
    }
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "Request_EntityTooLarge",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "Request_UnsupportedMediaType",
        _ => "Request_BadRequest",
    };
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("The request is not valid.").to_string()
    } else {
        text
    };
    GraphError::new(status, code, message).into_response()
}

/// A URL with a NUL character is refused before routing: no Graph identifier or query option
/// holds one, and PostgreSQL text cannot store or compare it (the query would fail as a 500).
async fn refuse_nul_in_url(req: Request, next: Next) -> Response {
    let has_nul = |s: &str| percent_encoding::percent_decode_str(s).any(|b| b == 0);
    if has_nul(req.uri().path()) || req.uri().query().is_some_and(has_nul) {
        return GraphError::bad_request("The request URL contains a NUL character.").into_response();
    }
    next.run(req).await
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    // same-origin, not no-referrer: with no-referrer browsers send `Origin: null` on form posts,
    // which the pages' Origin check must refuse.
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    resp
}

/// The Graph-shaped API router (mounted under `/v1.0` and `/beta`).
pub fn graph_router() -> Router<AppState> {
    let mut r = Router::new();
    for route in graph::routes::routes() {
        r = r.route(route.path, route.handler);
    }
    r.fallback(graph_not_found)
        .layer(middleware::from_fn(refuse_nul_in_url))
        .layer(middleware::from_fn(graph_envelope_for_errors))
}

/// The hosted pages (sign-in, consent, sign-out, password reset) and their stylesheets.
pub fn pages_router() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/authorize", get(web::authorize::authorize).post(web::authorize::authorize))
        .route("/{tenant}/oauth2/v2.0/logout", get(web::logout::logout).post(web::logout::logout))
        .route("/{tenant}/login", get(web::flow::login_page).post(web::flow::login_post))
        .route("/{tenant}/reset", get(web::reset::reset_page).post(web::reset::reset_request))
        .route("/{tenant}/reset/password", post(web::reset::reset_password))
        .route("/{tenant}/redeem", get(web::guest::redeem_page).post(web::guest::redeem_post))
        .route("/{tenant}/federation/home/callback", get(web::guest::home_callback))
        .route("/{tenant}/federation/oidc/callback", get(web::federated::oidc_callback))
        .route("/{tenant}/federation/saml/acs", post(web::federated::saml_acs))
        .route("/{tenant}/federation/saml/continue", get(web::federated::saml_continue))
        .route("/{tenant}/federation/saml/metadata", get(web::federated::saml_metadata))
        .route("/{tenant}/myaccount", get(web::myaccount::page))
        .route("/{tenant}/myaccount/leave", post(web::myaccount::leave))
        .route(web::unsubscribe::PATH, get(web::unsubscribe::unsubscribe_page).post(web::unsubscribe::unsubscribe_post))
        .route("/{tenant}/branding.css", get(web::pages::tenant_stylesheet))
        .route("/static/portico.css", get(web::pages::stylesheet))
        .layer(middleware::from_fn(web::page_language))
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
        .route("/{tenant}/oidc/userinfo", get(oauth::user_tokens::userinfo).post(oauth::user_tokens::userinfo))
        .merge(pages_router())
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route("/", get(ops::index))
        .fallback(|m: Method| async move {
            let _ = m;
            (StatusCode::NOT_FOUND, "Not found. The Graph-shaped API lives under /v1.0; see /openapi.json.")
                .into_response()
        })
        .layer(DefaultBodyLimit::max(crate::graph::body::MAX_BODY))
        .layer(middleware::from_fn(security_headers))
        .layer(middleware::from_fn(request_id::layer))
        .with_state(state)
}
