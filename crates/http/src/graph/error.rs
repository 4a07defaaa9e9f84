//! The Graph error envelope: `{"error":{"code","message","innerError":{"date","request-id","client-request-id"}}}`.
//! Clients branch on `code`; 5xx bodies carry the code and request id only, the cause goes to the log.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portico_odata::{ODataError, ODataErrorKind};
use portico_store::StoreError;
use portico_store::list::ListError;
use serde_json::json;

/// An error of the Graph-shaped API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code, e.g. `Request_BadRequest`.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
}

/// Result alias for handlers.
pub type GraphResult<T> = Result<T, GraphError>;

impl GraphError {
    /// Any status and code.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }
    /// 400 Request_BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_BadRequest", message)
    }
    /// 400 Request_UnsupportedQuery.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Request_UnsupportedQuery", message)
    }
    /// 404 Request_ResourceNotFound for an id.
    pub fn not_found(id: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            format!("Resource '{id}' does not exist or one of its queried reference-property objects are not present."),
        )
    }
    /// 403 Authorization_RequestDenied.
    pub fn forbidden() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }
    /// 401 InvalidAuthenticationToken.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", message)
    }
    /// 400 for a property the type does not have.
    pub fn unknown_property(name: &str, type_name: &str) -> Self {
        Self::bad_request(format!("Property '{name}' does not exist on type 'microsoft.graph.{type_name}'."))
    }
    /// 400 for a read-only property.
    pub fn read_only(name: &str) -> Self {
        Self::bad_request(format!("Property '{name}' is read-only and cannot be set."))
    }
    /// 400 for a property whose value has the wrong type or form.
    pub fn invalid_value(name: &str) -> Self {
        Self::bad_request(format!("Invalid value specified for property '{name}' of resource 'directoryObject'."))
    }
    /// 500 generalException (the cause is logged, not shown).
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let id = crate::request_id::current();
        tracing::error!(request.id = %id, error = %cause, "internal error on request {id}: {cause}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "generalException",
            format!("An internal error occurred. Request id: {id}."),
        )
    }
}

impl IntoResponse for GraphError {
    fn into_response(self) -> Response {
        let now = time::OffsetDateTime::now_utc();
        let date = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let id = crate::request_id::current();
        let client = crate::request_id::client().unwrap_or_else(|| id.clone());
        let body = json!({
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": { "date": date, "request-id": id, "client-request-id": client }
            }
        });
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl From<StoreError> for GraphError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => GraphError::not_found("unknown"),
            StoreError::Conflict(m) => GraphError::bad_request(m),
            other => GraphError::internal(&other),
        }
    }
}

impl From<ListError> for GraphError {
    fn from(e: ListError) -> Self {
        match e {
            ListError::Token(t) => GraphError::bad_request(t.to_string()),
            ListError::Store(s) => s.into(),
        }
    }
}

impl From<ODataError> for GraphError {
    fn from(e: ODataError) -> Self {
        match e.kind {
            ODataErrorKind::BadRequest => GraphError::bad_request(e.message),
            ODataErrorKind::Unsupported => GraphError::unsupported(e.message),
        }
    }
}
