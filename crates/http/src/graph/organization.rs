//! `/organization` and `/organization/{id}/branding`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portico_core::access::Action;
use portico_core::clock::graph_datetime;
use portico_core::validate;
use portico_store::tenants::{self, Tenant};
use portico_store::{StoreError, audit as audit_store};
use serde_json::{Map, Value, json};

use super::auth::Authed;
use super::body::{Access, JsonBody, Kind, Prop, check, p};
use super::error::{GraphError, GraphResult};
use super::query::QueryOptions;
use super::{guest_scope, wire};
use crate::app::AppState;
use crate::audit::{Actor, Target, diff, entry};

const W: Access = Access::Write;

const ORG_PROPS: &[Prop] = &[
    p("privacyProfile", Kind::Object, W),
    p("technicalNotificationMails", Kind::StrList, W),
    p("preferredLanguage", Kind::Str, W),
    p("displayName", Kind::Str, Access::ReadOnly),
    p("id", Kind::Str, Access::ReadOnly),
    p("verifiedDomains", Kind::ObjectList, Access::ReadOnly),
    p("createdDateTime", Kind::Str, Access::ReadOnly),
    p("tenantType", Kind::Str, Access::ReadOnly),
    p("marketingNotificationEmails", Kind::StrList, Access::NotYet),
    p("securityComplianceNotificationMails", Kind::StrList, Access::NotYet),
];

/// String properties of organizationalBranding that Portico stores and shows on its pages.
pub const BRANDING_STRINGS: &[&str] = &[
    "backgroundColor",
    "headerBackgroundColor",
    "signInPageText",
    "usernameHintText",
    "customAccountResetCredentialsUrl",
    "customCannotAccessYourAccountText",
    "customCannotAccessYourAccountUrl",
    "customForgotMyPasswordText",
    "customPrivacyAndCookiesText",
    "customPrivacyAndCookiesUrl",
    "customResetItNowText",
    "customTermsOfUseText",
    "customTermsOfUseUrl",
];

async fn load(state: &AppState, auth: &Authed, key: &str) -> GraphResult<Tenant> {
    if key != auth.tenant().to_string() {
        return Err(GraphError::not_found(key));
    }
    let mut conn = state.conn().await?;
    tenants::get(&mut conn, auth.tenant()).await?.ok_or_else(|| GraphError::not_found(key))
}

async fn render(state: &AppState, t: &Tenant) -> GraphResult<Value> {
    let mut conn = state.conn().await?;
    let domains = tenants::list_domains(&mut conn, t.id).await?;
    let verified: Vec<Value> = domains
        .iter()
        .filter(|d| d.is_verified)
        .map(|d| json!({"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": d.is_default, "isInitial": d.is_initial, "name": d.name, "type": "Managed"}))
        .collect();
    Ok(json!({
        "id": t.id.to_string(),
        "createdDateTime": graph_datetime(t.created_at),
        "displayName": t.display_name,
        "preferredLanguage": t.preferred_language,
        "privacyProfile": { "contactEmail": t.privacy_contact_email, "statementUrl": t.privacy_statement_url },
        "technicalNotificationMails": t.technical_notification_mails,
        "tenantType": "AAD",
        "verifiedDomains": verified,
        "city": null,
        "country": null,
        "countryLetterCode": null,
        "businessPhones": [],
        "marketingNotificationEmails": [],
        "securityComplianceNotificationMails": [],
    }))
}

/// GET /organization
pub async fn list_organization(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::OrgRead)?;
    let t = load(&state, &auth, &auth.tenant().to_string()).await?;
    let select: Vec<&str> = opts.select.as_deref().map(|s| s.split(',').map(str::trim).collect()).unwrap_or_default();
    let v = wire::select(guest_scope::organization(&auth, render(&state, &t).await?), &select, &[]);
    let page = portico_store::list::Page { items: vec![v], next: None, count: opts.count.then_some(1) };
    Ok(wire::collection(&state.dir.settings.public_url, &opts, "organization", page, &[]))
}

/// GET /organization/{id}
pub async fn get_organization(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::OrgRead)?;
    let t = load(&state, &auth, &key).await?;
    let v = guest_scope::organization(&auth, render(&state, &t).await?);
    Ok(wire::entity(&state.dir.settings.public_url, &opts, "organization", v, &[]))
}

fn check_url(name: &str, v: &Value) -> GraphResult<()> {
    match v {
        Value::Null => Ok(()),
        Value::String(s) if url::Url::parse(s).is_ok_and(|u| matches!(u.scheme(), "https" | "http")) => Ok(()),
        _ => Err(GraphError::invalid_value(name)),
    }
}

/// PATCH /organization/{id}
pub async fn update_organization(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::OrgWrite)?.clone();
    check(&body, "organization", ORG_PROPS, false, &[])?;
    let old = load(&state, &auth, &key).await?;
    let mut t = old.clone();
    if let Some(pp) = body.get("privacyProfile").and_then(Value::as_object) {
        for k in pp.keys() {
            if k != "contactEmail" && k != "statementUrl" {
                return Err(GraphError::unknown_property(k, "privacyProfile"));
            }
        }
        if let Some(v) = pp.get("contactEmail") {
            match v {
                Value::Null => t.privacy_contact_email = None,
                Value::String(s) if validate::address(s).is_some() => t.privacy_contact_email = Some(s.clone()),
                _ => return Err(GraphError::invalid_value("privacyProfile.contactEmail")),
            }
        }
        if let Some(v) = pp.get("statementUrl") {
            check_url("privacyProfile.statementUrl", v)?;
            t.privacy_statement_url = v.as_str().map(str::to_owned);
        }
    }
    if let Some(list) = body.get("technicalNotificationMails").and_then(Value::as_array) {
        let mails: Vec<String> = list.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect();
        if mails.iter().any(|m| validate::address(m).is_none()) {
            return Err(GraphError::invalid_value("technicalNotificationMails"));
        }
        t.technical_notification_mails = mails;
    }
    if let Some(v) = body.get("preferredLanguage") {
        t.preferred_language = v.as_str().map(str::to_owned);
    }
    let mut tx = state.dir.store.begin().await?;
    tenants::update(&mut tx, &t).await?;
    let changes = diff(
        &render(&state, &old).await?,
        &render(&state, &t).await?,
        &["privacyProfile", "technicalNotificationMails", "preferredLanguage"],
    );
    let target = Target::new(t.id, "Directory", Some(t.display_name.clone())).with_changes(changes);
    audit_store::insert(
        &mut tx,
        &entry(
            t.id,
            &Actor::of(&caller),
            "Update company settings",
            "DirectoryManagement",
            "Update",
            "Core Directory",
            &[target],
            state.now_ms(),
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// GET /organization/{id}/branding (404 when no default branding exists, as in Graph)
pub async fn get_branding(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::OrgRead)?;
    let t = load(&state, &auth, &key).await?;
    let b = t.branding.as_object().cloned().unwrap_or_default();
    if b.is_empty() {
        return Err(GraphError::not_found("branding"));
    }
    let mut out = Map::new();
    out.insert("id".into(), json!("0"));
    for k in BRANDING_STRINGS {
        out.insert((*k).into(), b.get(*k).cloned().unwrap_or(Value::Null));
    }
    for k in ["loginPageTextVisibilitySettings", "loginPageLayoutConfiguration"] {
        out.insert(k.into(), b.get(k).cloned().unwrap_or(Value::Null));
    }
    Ok(wire::entity(
        &state.dir.settings.public_url,
        &opts,
        &format!("organization('{key}')/branding"),
        Value::Object(out),
        &[],
    ))
}

fn is_colour(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// PATCH /organization/{id}/branding
pub async fn update_branding(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::OrgWrite)?.clone();
    let old = load(&state, &auth, &key).await?;
    let mut b = old.branding.as_object().cloned().unwrap_or_default();
    for (k, v) in &body {
        if BRANDING_STRINGS.contains(&k.as_str()) {
            match v {
                Value::Null => {
                    b.remove(k);
                }
                Value::String(s) => {
                    if k.ends_with("Color") && !is_colour(s) {
                        return Err(GraphError::bad_request(format!("Property '{k}' must be a colour like #0078D4.")));
                    }
                    if k.ends_with("Url") {
                        check_url(k, v)?;
                    }
                    if s.chars().count() > 1024 {
                        return Err(GraphError::bad_request(format!("Property '{k}' is too long.")));
                    }
                    b.insert(k.clone(), v.clone());
                }
                _ => return Err(GraphError::invalid_value(k)),
            }
        } else if k == "loginPageTextVisibilitySettings" || k == "loginPageLayoutConfiguration" {
            if !(v.is_object() || v.is_null()) {
                return Err(GraphError::invalid_value(k));
            }
            b.insert(k.clone(), v.clone());
        } else if [
            "backgroundImage",
            "bannerLogo",
            "squareLogo",
            "squareLogoDark",
            "favicon",
            "headerLogo",
            "customCSS",
        ]
        .contains(&k.as_str())
        {
            return Err(GraphError::new(
                StatusCode::NOT_IMPLEMENTED,
                "notSupported",
                format!("Property '{k}' is an image stream; Portico does not store branding images yet."),
            ));
        } else {
            return Err(GraphError::unknown_property(k, "organizationalBranding"));
        }
    }
    let mut t = old.clone();
    t.branding = Value::Object(b);
    let mut tx = state.dir.store.begin().await?;
    tenants::update(&mut tx, &t).await?;
    let changes: Vec<(String, Value, Value)> = body
        .keys()
        .map(|k| {
            (
                k.clone(),
                old.branding.get(k).cloned().unwrap_or(Value::Null),
                t.branding.get(k).cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    let target = Target::new(t.id, "Directory", Some(t.display_name.clone())).with_changes(changes);
    audit_store::insert(
        &mut tx,
        &entry(
            t.id,
            &Actor::of(&caller),
            "Update organizational branding",
            "DirectoryManagement",
            "Update",
            "Core Directory",
            &[target],
            state.now_ms(),
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
