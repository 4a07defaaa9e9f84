//! JSON request bodies: content type, syntax, and a per-type property specification that
//! yields Graph's errors for unknown, read-only and ill-typed properties.

use axum::extract::{FromRequest, Request};
use axum::http::header;
use serde_json::{Map, Value};

use super::error::GraphError;

/// A JSON object body.
#[derive(Debug, Clone)]
pub struct JsonBody(pub Map<String, Value>);

/// Largest accepted body.
pub const MAX_BODY: usize = 1024 * 1024;

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = GraphError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct =
            req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
        if !ct.starts_with("application/json") {
            return Err(GraphError::new(
                axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Request_UnsupportedMediaType",
                "The request body must be JSON with 'Content-Type: application/json'.",
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state).await.map_err(|_| {
            GraphError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "Request_EntityTooLarge",
                "The request body is too large.",
            )
        })?;
        if bytes.len() > MAX_BODY {
            return Err(GraphError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                "Request_EntityTooLarge",
                "The request body is too large.",
            ));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            // PostgreSQL text cannot hold NUL; no Graph property needs it.
            Ok(v @ Value::Object(_)) if has_nul(&v) => {
                Err(GraphError::bad_request("String values must not contain the NUL character (\\u0000)."))
            }
            Ok(Value::Object(m)) => Ok(JsonBody(m)),
            _ => Err(GraphError::bad_request(
                "Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.",
            )),
        }
    }
}

/// Whether any key or string in `v` contains NUL.
fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(has_nul),
        Value::Object(m) => m.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// The JSON type a property accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// String or null.
    Str,
    /// String, never null.
    StrRequired,
    /// Boolean.
    Bool,
    /// Array of strings.
    StrList,
    /// Object or null.
    Object,
    /// Array of objects.
    ObjectList,
}

/// Whether clients may set a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// On create and update.
    Write,
    /// On create only.
    CreateOnly,
    /// Never.
    ReadOnly,
    /// A real Graph property Portico does not store yet: refused with a clear message.
    NotYet,
}

/// A property of a writable type.
#[derive(Debug, Clone, Copy)]
pub struct Prop {
    /// Graph name.
    pub name: &'static str,
    /// JSON type.
    pub kind: Kind,
    /// Access.
    pub access: Access,
}

/// Shorthand constructor.
pub const fn p(name: &'static str, kind: Kind, access: Access) -> Prop {
    Prop { name, kind, access }
}

/// Checks a body against the properties of `type_name`. `binds` lists the `x@odata.bind`
/// annotations accepted.
pub fn check(
    body: &Map<String, Value>,
    type_name: &str,
    props: &[Prop],
    creating: bool,
    binds: &[&str],
) -> Result<(), GraphError> {
    for (k, v) in body {
        if k == "@odata.type" {
            let expected = format!("#microsoft.graph.{type_name}");
            if v.as_str().is_some_and(|t| t.eq_ignore_ascii_case(&expected) || t.eq_ignore_ascii_case(&expected[1..])) {
                continue;
            }
            return Err(GraphError::bad_request(format!(
                "A type named '{v}' could not be resolved here; expected '{expected}'."
            )));
        }
        if let Some(b) = k.strip_suffix("@odata.bind") {
            if binds.contains(&b) {
                continue;
            }
            return Err(GraphError::bad_request(format!(
                "The property '{b}' cannot be bound with @odata.bind on this request."
            )));
        }
        let prop = props.iter().find(|p| p.name == k).ok_or_else(|| GraphError::unknown_property(k, type_name))?;
        match prop.access {
            Access::ReadOnly => return Err(GraphError::read_only(k)),
            Access::CreateOnly if !creating => return Err(GraphError::read_only(k)),
            Access::NotYet => {
                return Err(GraphError::new(
                    axum::http::StatusCode::NOT_IMPLEMENTED,
                    "notSupported",
                    format!("Property '{k}' is a Graph property that Portico does not support yet."),
                ));
            }
            _ => {}
        }
        let ok = match prop.kind {
            Kind::Str => v.is_string() || v.is_null(),
            Kind::StrRequired => v.is_string(),
            Kind::Bool => v.is_boolean(),
            Kind::StrList => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
            Kind::Object => v.is_object() || v.is_null(),
            Kind::ObjectList => v.as_array().is_some_and(|a| a.iter().all(Value::is_object)),
        };
        if !ok {
            return Err(GraphError::invalid_value(k));
        }
    }
    Ok(())
}

/// Fails unless every named property is present and not null.
pub fn require(body: &Map<String, Value>, names: &[&str]) -> Result<(), GraphError> {
    for n in names {
        if body.get(*n).is_none_or(Value::is_null) {
            return Err(GraphError::bad_request(format!("Property '{n}' is required but was not supplied.")));
        }
    }
    Ok(())
}

/// A string property: `None` when absent, `Some(None)` when null.
pub fn opt_str(body: &Map<String, Value>, name: &str) -> Option<Option<String>> {
    body.get(name).map(|v| v.as_str().map(str::to_owned))
}

/// A string list property.
pub fn str_list(body: &Map<String, Value>, name: &str) -> Option<Vec<String>> {
    body.get(name).and_then(Value::as_array).map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
}

/// The object id at the end of an `@odata.id` / `@odata.bind` URL (`.../directoryObjects/{id}`).
pub fn object_id_from_ref(url: &str) -> Option<portico_core::ids::ObjectId> {
    let last = url.trim_end_matches('/').rsplit('/').next()?;
    // Also accept the key form `directoryObjects('id')`.
    let last = last.trim_start_matches("directoryObjects(").trim_matches(|c| c == '\'' || c == '(' || c == ')');
    portico_core::ids::ObjectId::parse(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PROPS: &[Prop] = &[
        p("displayName", Kind::StrRequired, Access::Write),
        p("id", Kind::Str, Access::ReadOnly),
        p("x", Kind::Str, Access::CreateOnly),
    ];

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn bodies_are_checked_against_the_type() {
        assert!(check(&obj(json!({"displayName": "a"})), "user", PROPS, false, &[]).is_ok());
        let e = check(&obj(json!({"nope": 1})), "user", PROPS, false, &[]).unwrap_err();
        assert_eq!(e.message, "Property 'nope' does not exist on type 'microsoft.graph.user'.");
        assert!(check(&obj(json!({"id": "x"})), "user", PROPS, true, &[]).unwrap_err().message.contains("read-only"));
        assert!(check(&obj(json!({"x": "y"})), "user", PROPS, true, &[]).is_ok());
        assert!(check(&obj(json!({"x": "y"})), "user", PROPS, false, &[]).is_err());
        assert!(check(&obj(json!({"displayName": 5})), "user", PROPS, false, &[]).is_err());
        assert!(check(&obj(json!({"members@odata.bind": []})), "group", PROPS, true, &["members"]).is_ok());
        assert!(check(&obj(json!({"owners@odata.bind": []})), "group", PROPS, true, &["members"]).is_err());
    }

    #[test]
    fn refs_yield_object_ids() {
        let id = portico_core::ids::ObjectId::new();
        assert_eq!(object_id_from_ref(&format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")), Some(id));
        assert_eq!(object_id_from_ref(&format!("http://x/v1.0/directoryObjects('{id}')")), Some(id));
        assert_eq!(object_id_from_ref("https://x/v1.0/directoryObjects/not-a-guid"), None);
    }
}
