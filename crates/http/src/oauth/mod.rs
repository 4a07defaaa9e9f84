//! Each tenant's OAuth 2.0 authorization server and OpenID metadata:
//! `/{tenant}/v2.0/.well-known/openid-configuration`, `/{tenant}/discovery/v2.0/keys`,
//! `/{tenant}/oauth2/v2.0/token`, `/{tenant}/oidc/userinfo`; the authorize and logout pages are in
//! `crate::web`. `{tenant}` is the tenant id or any verified domain.

pub mod discovery;
pub mod token;
pub mod user_tokens;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// An OAuth error response (RFC 6749 §5.2) with Entra's extra fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// HTTP status (400, or 401 for client authentication).
    pub status: StatusCode,
    /// `error`.
    pub error: &'static str,
    /// Entra-style numeric code (AADSTS...).
    pub code: u32,
    /// `error_description` (without the AADSTS prefix).
    pub description: String,
    /// Whether to send `WWW-Authenticate: Basic` (client authenticated with Basic and failed).
    pub basic_challenge: bool,
}

impl OAuthError {
    /// A 400 error.
    pub fn new(error: &'static str, code: u32, description: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, error, code, description: description.into(), basic_challenge: false }
    }
    /// A 401 invalid_client.
    pub fn invalid_client(code: u32, description: impl Into<String>, basic: bool) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            error: "invalid_client",
            code,
            description: description.into(),
            basic_challenge: basic,
        }
    }
    /// A 500.
    pub fn server(cause: &dyn std::fmt::Display) -> Self {
        let id = crate::request_id::current();
        tracing::error!(request.id = %id, error = %cause, "token endpoint failure on request {id}: {cause}");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            error: "server_error",
            code: 90000,
            description: "The server failed to process the request.".into(),
            basic_challenge: false,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let id = crate::request_id::current();
        let now = time::OffsetDateTime::now_utc();
        let body = json!({
            "error": self.error,
            "error_description": format!("AADSTS{}: {} Trace ID: {id} Correlation ID: {id} Timestamp: {now}", self.code, self.description),
            "error_codes": [self.code],
            "timestamp": portico_core::clock::graph_datetime(portico_core::clock::to_millis(now)),
            "trace_id": id,
            "correlation_id": id,
        });
        let mut r = (self.status, Json(body)).into_response();
        let h = r.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.basic_challenge {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"portico\""));
        }
        r
    }
}
