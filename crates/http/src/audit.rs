//! Building directoryAudit records: who did it, to what, and which properties changed.

use portico_core::access::{Caller, Principal};
use portico_core::ids::{ObjectId, TenantId};
use portico_store::audit::AuditEntry;
use serde_json::{Value, json};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An application (app-only token).
    App {
        /// Client id.
        app_id: String,
        /// Display name.
        display_name: String,
        /// Its service principal.
        service_principal_id: ObjectId,
    },
    /// A user (delegated token).
    User {
        /// Object id.
        id: ObjectId,
        /// UPN.
        user_principal_name: String,
    },
    /// The `portico` command line, run by an operator on the server.
    CommandLine,
}

impl Actor {
    /// The actor behind an API caller.
    pub fn of(caller: &Caller) -> Self {
        match &caller.principal {
            Principal::Application { app_id, service_principal_id, display_name } => Actor::App {
                app_id: app_id.clone(),
                display_name: display_name.clone(),
                service_principal_id: *service_principal_id,
            },
            Principal::User { user_id, user_principal_name, .. } => {
                Actor::User { id: *user_id, user_principal_name: user_principal_name.clone() }
            }
        }
    }

    /// Graph's `initiatedBy`.
    pub fn initiated_by(&self) -> Value {
        match self {
            Actor::App { app_id, display_name, service_principal_id } => json!({
                "user": null,
                "app": { "appId": app_id, "displayName": display_name, "servicePrincipalId": service_principal_id.to_string(), "servicePrincipalName": null }
            }),
            Actor::User { id, user_principal_name } => json!({
                "user": { "id": id.to_string(), "displayName": null, "userPrincipalName": user_principal_name, "ipAddress": null },
                "app": null
            }),
            Actor::CommandLine => json!({
                "user": null,
                "app": { "appId": null, "displayName": "Portico command line", "servicePrincipalId": null, "servicePrincipalName": null }
            }),
        }
    }
}

/// An object a change touched.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// Id.
    pub id: String,
    /// Name.
    pub display_name: Option<String>,
    /// User, Group, Application, ServicePrincipal, Directory, Policy, Other.
    pub kind: &'static str,
    /// For users.
    pub user_principal_name: Option<String>,
    /// (property, old, new) as JSON values.
    pub modified: Vec<(String, Value, Value)>,
}

impl Target {
    /// A target without property changes.
    pub fn new(id: impl ToString, kind: &'static str, display_name: Option<String>) -> Self {
        Target { id: id.to_string(), display_name, kind, ..Default::default() }
    }

    /// Adds changed properties.
    pub fn with_changes(mut self, changes: Vec<(String, Value, Value)>) -> Self {
        self.modified = changes;
        self
    }

    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "displayName": self.display_name,
            "type": self.kind,
            "userPrincipalName": self.user_principal_name,
            "groupType": null,
            // Graph encodes old and new values as JSON text.
            "modifiedProperties": self.modified.iter().map(|(n, o, v)| json!({
                "displayName": n, "oldValue": o.to_string(), "newValue": v.to_string()
            })).collect::<Vec<_>>()
        })
    }
}

/// A successful change, ready to insert in the change's transaction.
#[expect(clippy::too_many_arguments, reason = "each argument is one field of Graph's directoryAudit")]
pub fn entry(
    tenant: TenantId,
    actor: &Actor,
    activity: &str,
    category: &str,
    operation: &str,
    service: &str,
    targets: &[Target],
    now_ms: i64,
) -> AuditEntry {
    AuditEntry {
        id: ObjectId::new(),
        tenant_id: tenant,
        activity_at: now_ms,
        activity_display_name: activity.into(),
        category: category.into(),
        correlation_id: crate::request_id::current(),
        logged_by_service: service.into(),
        operation_type: operation.into(),
        result: "success".into(),
        result_reason: None,
        initiated_by: actor.initiated_by(),
        target_resources: Value::Array(targets.iter().map(Target::to_json).collect()),
        additional_details: json!([]),
    }
}

/// Properties whose values differ between two JSON objects (for modifiedProperties).
pub fn diff(old: &Value, new: &Value, names: &[&str]) -> Vec<(String, Value, Value)> {
    names
        .iter()
        .filter_map(|n| {
            let (o, v) = (old.get(*n).cloned().unwrap_or(Value::Null), new.get(*n).cloned().unwrap_or(Value::Null));
            (o != v).then(|| ((*n).to_string(), o, v))
        })
        .collect()
}
