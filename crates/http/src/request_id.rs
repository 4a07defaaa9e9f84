//! Request ids: every response carries `request-id` and `client-request-id` (the client's, or
//! the request id when it sent none, as Graph does), every error body names both, and audit
//! records use the request id as their correlation id.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

/// The ids of the request being served.
#[derive(Debug, Clone)]
struct Ids {
    request: String,
    client: Option<String>,
}

tokio::task_local! {
    static IDS: Ids;
}

/// The current request's id (a fresh one outside a request).
pub fn current() -> String {
    IDS.try_with(|ids| ids.request.clone()).unwrap_or_else(|_| uuid::Uuid::new_v4().to_string())
}

/// The `client-request-id` the client sent with the current request, if any.
pub fn client() -> Option<String> {
    IDS.try_with(|ids| ids.client.clone()).ok().flatten()
}

/// Middleware: assigns the id, runs the request inside its scope, and sets the headers.
pub async fn layer(req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let client = req.headers().get("client-request-id").cloned();
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let ids = Ids { request: id.clone(), client: client.as_ref().and_then(|c| c.to_str().ok()).map(str::to_owned) };
    let mut resp = IDS.scope(ids, next.run(req)).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("client-request-id", client.unwrap_or_else(|| v.clone()));
        h.insert("request-id", v);
    }
    let status = resp.status().as_u16();
    metrics::counter!("portico_http_requests_total", "status" => status.to_string()).increment(1);
    metrics::histogram!("portico_http_request_duration_seconds").record(started.elapsed().as_secs_f64());
    tracing::debug!(request.id = %id, http.method = %method, http.path = %path, http.status = status, "{method} {path} -> {status}");
    resp
}
