//! Request ids: every response carries `request-id` (and echoes `client-request-id`), every
//! error body names the request id, and audit records use it as their correlation id.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The current request's id (a fresh one outside a request).
pub fn current() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| uuid::Uuid::new_v4().to_string())
}

/// Middleware: assigns the id, runs the request inside its scope, and sets the headers.
pub async fn layer(req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().to_string();
    let client = req.headers().get("client-request-id").cloned();
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut resp = REQUEST_ID.scope(id.clone(), next.run(req)).await;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        h.insert("request-id", v);
    }
    if let Some(c) = client {
        h.insert("client-request-id", c);
    }
    let status = resp.status().as_u16();
    metrics::counter!("portico_http_requests_total", "status" => status.to_string()).increment(1);
    metrics::histogram!("portico_http_request_duration_seconds").record(started.elapsed().as_secs_f64());
    tracing::debug!(request.id = %id, http.method = %method, http.path = %path, http.status = status, "{method} {path} -> {status}");
    resp
}
