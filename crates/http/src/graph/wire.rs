//! Wire shapes: directory objects as Graph JSON, `$select`, `@odata.context`, collections.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portico_core::clock::graph_datetime;
use portico_store::apps::{AppRoleAssignment, Application, PasswordCredential, ServicePrincipal};
use portico_store::groups::Group;
use portico_store::list::Page;
use portico_store::users::User;
use serde_json::{Map, Value, json};

use super::query::QueryOptions;

fn dt(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |m| Value::String(graph_datetime(m)))
}

/// Properties Graph returns for a user when no `$select` is given.
pub const USER_DEFAULT: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

/// A user with every property Portico keeps.
pub fn user(u: &User) -> Value {
    json!({
        "id": u.id.to_string(),
        "businessPhones": [],
        "displayName": u.display_name,
        "givenName": u.given_name,
        "jobTitle": u.job_title,
        "mail": u.mail,
        "mobilePhone": null,
        "officeLocation": null,
        "preferredLanguage": u.preferred_language,
        "surname": u.surname,
        "userPrincipalName": u.user_principal_name,
        "accountEnabled": u.account_enabled,
        "companyName": u.company_name,
        "department": u.department,
        "mailNickname": u.mail_nickname,
        "otherMails": u.other_mails,
        "identities": u.identities,
        "userType": u.user_type,
        "creationType": u.creation_type,
        "externalUserState": u.external_user_state,
        "externalUserStateChangeDateTime": dt(u.external_user_state_changed_at),
        "createdDateTime": dt(Some(u.created_at)),
        "deletedDateTime": dt(u.deleted_at),
        "showInAddressList": null,
        "signInActivity": null,
        "passwordProfile": null,
    })
}

/// A group.
pub fn group(g: &Group) -> Value {
    json!({
        "id": g.id.to_string(),
        "deletedDateTime": dt(g.deleted_at),
        "createdDateTime": dt(Some(g.created_at)),
        "description": g.description,
        "displayName": g.display_name,
        "groupTypes": g.group_types,
        "isAssignableToRole": g.is_assignable_to_role,
        "mail": null,
        "mailEnabled": g.mail_enabled,
        "mailNickname": g.mail_nickname,
        "securityEnabled": g.security_enabled,
        "securityIdentifier": null,
        "visibility": g.visibility,
    })
}

/// A client secret as listed (no secret text).
pub fn password_credential(p: &PasswordCredential, secret_text: Option<&str>) -> Value {
    json!({
        "customKeyIdentifier": null,
        "displayName": p.display_name,
        "endDateTime": graph_datetime(p.end_at),
        "hint": p.hint,
        "keyId": p.key_id.to_string(),
        "secretText": secret_text,
        "startDateTime": graph_datetime(p.start_at),
    })
}

/// An application.
pub fn application(a: &Application, passwords: &[PasswordCredential], publisher_domain: &str) -> Value {
    json!({
        "id": a.id.to_string(),
        "appId": a.app_id,
        "createdDateTime": dt(Some(a.created_at)),
        "deletedDateTime": dt(a.deleted_at),
        "description": a.description,
        "displayName": a.display_name,
        "identifierUris": a.identifier_uris,
        "publisherDomain": publisher_domain,
        "signInAudience": a.sign_in_audience,
        "api": a.api,
        "appRoles": a.app_roles,
        "keyCredentials": [],
        "passwordCredentials": passwords.iter().map(|p| password_credential(p, None)).collect::<Vec<_>>(),
        "publicClient": a.public_client,
        "requiredResourceAccess": a.required_resource_access,
        "spa": a.spa,
        "web": a.web,
    })
}

/// Microsoft Graph's delegated permissions as `oauth2PermissionScopes` of its service principal.
pub fn graph_permission_scopes() -> Value {
    Value::Array(
        portico_core::access::GRAPH_SCOPES
            .iter()
            .map(|s| {
                json!({
                    "adminConsentDescription": s.description,
                    "adminConsentDisplayName": s.description,
                    "id": s.id,
                    "isEnabled": true,
                    "type": if s.admin_consent { "Admin" } else { "User" },
                    "userConsentDescription": s.description,
                    "userConsentDisplayName": s.description,
                    "value": s.name,
                })
            })
            .collect(),
    )
}

/// A service principal; `app_roles` are its application's roles (or Graph's permissions). The
/// Microsoft Graph service principal also lists its delegated permissions.
pub fn service_principal(s: &ServicePrincipal, app_roles: &Value, reply_urls: &[String]) -> Value {
    let mut v = service_principal_base(s, app_roles, reply_urls);
    if s.app_id == portico_core::access::GRAPH_APP_ID && s.application_id.is_none() {
        v["oauth2PermissionScopes"] = graph_permission_scopes();
    }
    v
}

fn service_principal_base(s: &ServicePrincipal, app_roles: &Value, reply_urls: &[String]) -> Value {
    json!({
        "id": s.id.to_string(),
        "accountEnabled": s.account_enabled,
        "appDisplayName": s.display_name,
        "appId": s.app_id,
        "appOwnerOrganizationId": s.app_owner_organization_id,
        "appRoleAssignmentRequired": s.app_role_assignment_required,
        "appRoles": app_roles,
        "createdDateTime": dt(Some(s.created_at)),
        "deletedDateTime": dt(s.deleted_at),
        "displayName": s.display_name,
        "replyUrls": reply_urls,
        "servicePrincipalNames": [s.app_id.clone()],
        "servicePrincipalType": s.service_principal_type,
        "tags": s.tags,
    })
}

/// An app role assignment with display names resolved by the caller.
pub fn app_role_assignment(a: &AppRoleAssignment, principal_name: Option<&str>, resource_name: Option<&str>) -> Value {
    json!({
        "id": a.id.to_string(),
        "appRoleId": a.app_role_id,
        "createdDateTime": graph_datetime(a.created_at),
        "deletedDateTime": null,
        "principalDisplayName": principal_name,
        "principalId": a.principal_id.to_string(),
        "principalType": a.principal_type,
        "resourceDisplayName": resource_name,
        "resourceId": a.resource_id.to_string(),
    })
}

/// Keeps the selected properties (plus `id` and annotations); with no selection keeps `default`
/// (or everything when `default` is empty).
pub fn select(v: Value, selected: &[&str], default: &[&str]) -> Value {
    let Value::Object(m) = v else { return v };
    let keep: &[&str] = if selected.is_empty() { default } else { selected };
    if keep.is_empty() {
        return Value::Object(m);
    }
    let mut out = Map::new();
    for (k, val) in m {
        if k.starts_with('@') || keep.iter().any(|s| s.eq_ignore_ascii_case(&k)) || (k == "id" && selected.is_empty()) {
            out.insert(k, val);
        }
    }
    Value::Object(out)
}

/// `@odata.context` for a collection or entity path like `users` or `users/$entity`.
pub fn context(public_url: &str, version: &str, what: &str, selected: &[&str]) -> String {
    if selected.is_empty() {
        format!("{public_url}/{version}/$metadata#{what}")
    } else {
        let (set, rest) = what.split_once('/').map_or((what, ""), |(a, b)| (a, b));
        let sel = format!("{set}({})", selected.join(","));
        if rest.is_empty() {
            format!("{public_url}/{version}/$metadata#{sel}")
        } else {
            format!("{public_url}/{version}/$metadata#{sel}/{rest}")
        }
    }
}

/// A single entity response (200).
pub fn entity(public_url: &str, opts: &QueryOptions, set: &str, body: Value, selected: &[&str]) -> Response {
    let mut body = body;
    if let Value::Object(m) = &mut body {
        let mut out = Map::new();
        out.insert(
            "@odata.context".into(),
            Value::String(context(public_url, opts.version(), &format!("{set}/$entity"), selected)),
        );
        out.extend(std::mem::take(m));
        body = Value::Object(out);
    }
    Json(body).into_response()
}

/// A created entity response (201).
pub fn created(public_url: &str, opts: &QueryOptions, set: &str, body: Value) -> Response {
    let mut r = entity(public_url, opts, set, body, &[]);
    *r.status_mut() = StatusCode::CREATED;
    r
}

/// A collection page.
pub fn collection(public_url: &str, opts: &QueryOptions, set: &str, page: Page<Value>, selected: &[&str]) -> Response {
    let mut out = Map::new();
    out.insert("@odata.context".into(), Value::String(context(public_url, opts.version(), set, selected)));
    if let Some(c) = page.count {
        out.insert("@odata.count".into(), json!(c));
    }
    if let Some(next) = &page.next {
        out.insert("@odata.nextLink".into(), Value::String(opts.next_link(public_url, next)));
    }
    out.insert("value".into(), Value::Array(page.items));
    Json(Value::Object(out)).into_response()
}

/// Adds `@odata.type` first in an object.
pub fn typed(kind: &str, v: Value) -> Value {
    let Value::Object(m) = v else { return v };
    let mut out = Map::new();
    out.insert("@odata.type".into(), Value::String(format!("#microsoft.graph.{kind}")));
    out.extend(m);
    Value::Object(out)
}

/// The plain-text answer of `/$count`.
pub fn count_text(n: i64) -> Response {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; charset=utf-8")], n.to_string()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_keeps_what_was_asked_and_default_otherwise() {
        let v = json!({"id": "1", "displayName": "A", "userType": "Guest", "mail": null});
        assert_eq!(select(v.clone(), &["userType"], USER_DEFAULT), json!({"userType": "Guest"}));
        assert_eq!(
            select(v.clone(), &[], &["displayName", "mail"]),
            json!({"id": "1", "displayName": "A", "mail": null})
        );
        assert_eq!(select(v.clone(), &[], &[]), v);
    }

    #[test]
    fn contexts_follow_graph() {
        assert_eq!(context("http://h", "v1.0", "users", &[]), "http://h/v1.0/$metadata#users");
        assert_eq!(
            context("http://h", "v1.0", "users/$entity", &["id", "mail"]),
            "http://h/v1.0/$metadata#users(id,mail)/$entity"
        );
    }
}
