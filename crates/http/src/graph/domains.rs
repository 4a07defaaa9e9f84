//! `/domains`: add, verify (DNS TXT proof), make default, list DNS records, remove.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portico_core::access::Action;
use portico_core::{secret, validate};
use portico_store::tenants::{self, Domain};
use portico_store::{StoreError, audit as audit_store};
use serde_json::{Value, json};

use super::auth::Authed;
use super::body::{Access, JsonBody, Kind, Prop, check, p, require};
use super::error::{GraphError, GraphResult};
use super::query::QueryOptions;
use super::wire;
use crate::app::AppState;
use crate::audit::{Actor, Target, entry};

const DOMAIN_PROPS: &[Prop] = &[
    p("id", Kind::StrRequired, Access::CreateOnly),
    p("isDefault", Kind::Bool, Access::Write),
    p("isVerified", Kind::Bool, Access::ReadOnly),
    p("isInitial", Kind::Bool, Access::ReadOnly),
    p("isRoot", Kind::Bool, Access::ReadOnly),
    p("isAdminManaged", Kind::Bool, Access::ReadOnly),
    p("authenticationType", Kind::Str, Access::ReadOnly),
    p("supportedServices", Kind::StrList, Access::NotYet),
    p("passwordValidityPeriodInDays", Kind::Str, Access::NotYet),
];

fn render(d: &Domain) -> Value {
    json!({
        "id": d.name,
        "authenticationType": "Managed",
        "availabilityStatus": null,
        "isAdminManaged": true,
        "isDefault": d.is_default,
        "isInitial": d.is_initial,
        "isRoot": true,
        "isVerified": d.is_verified,
        "passwordNotificationWindowInDays": null,
        "passwordValidityPeriodInDays": null,
        "supportedServices": if d.is_verified { json!(["Email"]) } else { json!([]) },
        "state": null,
    })
}

async fn find(state: &AppState, auth: &Authed, name: &str) -> GraphResult<Domain> {
    let mut conn = state.conn().await?;
    tenants::get_domain(&mut conn, auth.tenant(), name).await?.ok_or_else(|| GraphError::not_found(name))
}

/// GET /domains
pub async fn list_domains(auth: Authed, State(state): State<AppState>, opts: QueryOptions) -> GraphResult<Response> {
    auth.require(Action::DomainsRead)?;
    if opts.filter.is_some() || opts.search.is_some() || opts.orderby.is_some() {
        return Err(GraphError::unsupported("$filter, $search and $orderby are not supported on domains."));
    }
    let mut conn = state.conn().await?;
    let all = tenants::list_domains(&mut conn, auth.tenant()).await?;
    let items = all.iter().map(render).collect();
    Ok(wire::collection(
        &state.dir.settings.public_url,
        &opts,
        "domains",
        portico_store::list::Page { items, next: None, count: None },
        &[],
    ))
}

/// GET /domains/{id}
pub async fn get_domain(
    auth: Authed,
    State(state): State<AppState>,
    Path(name): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::DomainsRead)?;
    let d = find(&state, &auth, &name).await?;
    Ok(wire::entity(&state.dir.settings.public_url, &opts, "domains", render(&d), &[]))
}

/// POST /domains
pub async fn create_domain(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::DomainsWrite)?.clone();
    check(&body, "domain", DOMAIN_PROPS, true, &[])?;
    require(&body, &["id"])?;
    let raw = body.get("id").and_then(Value::as_str).unwrap_or_default();
    let name = validate::domain_name(raw)
        .ok_or_else(|| GraphError::bad_request(format!("'{raw}' is not a valid domain name.")))?;
    if portico_core::b2b::CONSUMER_DOMAINS.contains(&name.as_str())
        || name.ends_with(&format!(".{}", state.dir.settings.base_domain))
        || name == state.dir.settings.base_domain
    {
        return Err(GraphError::bad_request(format!(
            "The domain '{name}' cannot be added: it is a consumer mail domain or belongs to this deployment."
        )));
    }
    let d = Domain {
        tenant_id: auth.tenant(),
        name: name.clone(),
        is_initial: false,
        is_default: false,
        is_verified: false,
        verification_code: format!("MS=ms{}", secret::random_token(6).to_ascii_lowercase().replace(['-', '_'], "0")),
        created_at: state.now_ms(),
        verified_at: None,
    };
    let mut tx = state.dir.store.begin().await?;
    tenants::insert_domain(&mut tx, &d).await?;
    let t = Target::new(&name, "Directory", Some(name.clone()));
    audit_store::insert(
        &mut tx,
        &entry(
            auth.tenant(),
            &Actor::of(&caller),
            "Add unverified domain",
            "DirectoryManagement",
            "Add",
            "Core Directory",
            &[t],
            state.now_ms(),
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(wire::created(&state.dir.settings.public_url, &opts, "domains", render(&d)))
}

/// GET /domains/{id}/verificationDnsRecords
pub async fn verification_records(
    auth: Authed,
    State(state): State<AppState>,
    Path(name): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::DomainsRead)?;
    let d = find(&state, &auth, &name).await?;
    let rec = json!({
        "@odata.type": "#microsoft.graph.domainDnsTxtRecord",
        "id": format!("txt-{}", d.name),
        "isOptional": false,
        "label": d.name,
        "recordType": "Txt",
        "supportedService": "Email",
        "ttl": 3600,
        "text": d.verification_code,
    });
    Ok(wire::collection(
        &state.dir.settings.public_url,
        &opts,
        &format!("domains('{}')/verificationDnsRecords", d.name),
        portico_store::list::Page { items: vec![rec], next: None, count: None },
        &[],
    ))
}

/// POST /domains/{id}/verify: looks for the TXT record (or, with the development override
/// `danger_accept_unverified_domains`, accepts the domain without it).
pub async fn verify_domain(
    auth: Authed,
    State(state): State<AppState>,
    Path(name): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    let caller = auth.require(Action::DomainsWrite)?.clone();
    let d = find(&state, &auth, &name).await?;
    if !d.is_verified {
        let proven = if state.dir.settings.danger_accept_unverified_domains {
            tracing::warn!(domain = %d.name, "domain {} marked verified WITHOUT a DNS proof (danger_accept_unverified_domains)", d.name);
            true
        } else {
            match crate::dns::txt_records(&d.name).await {
                Ok(records) => records.iter().any(|r| r.trim() == d.verification_code),
                Err(e) => {
                    tracing::info!(domain = %d.name, error = %e, "DNS lookup for domain verification failed");
                    false
                }
            }
        };
        if !proven {
            return Err(GraphError::bad_request(format!(
                "Domain verification failed: no TXT record '{}' was found for {}. Publish it and try again (DNS changes can take time to propagate).",
                d.verification_code, d.name
            )));
        }
        let mut tx = state.dir.store.begin().await?;
        tenants::verify_domain(&mut tx, auth.tenant(), &d.name, state.now_ms()).await?;
        let t = Target::new(&d.name, "Directory", Some(d.name.clone()));
        audit_store::insert(
            &mut tx,
            &entry(
                auth.tenant(),
                &Actor::of(&caller),
                "Verify domain",
                "DirectoryManagement",
                "Update",
                "Core Directory",
                &[t],
                state.now_ms(),
            ),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
    }
    let d = find(&state, &auth, &name).await?;
    Ok(wire::entity(&state.dir.settings.public_url, &opts, "domains", render(&d), &[]))
}

/// PATCH /domains/{id} (isDefault)
pub async fn update_domain(
    auth: Authed,
    State(state): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::DomainsWrite)?.clone();
    check(&body, "domain", DOMAIN_PROPS, false, &[])?;
    let d = find(&state, &auth, &name).await?;
    if let Some(true) = body.get("isDefault").and_then(Value::as_bool) {
        if !d.is_verified {
            return Err(GraphError::bad_request("Only a verified domain can be the default domain."));
        }
        let mut tx = state.dir.store.begin().await?;
        tenants::set_default_domain(&mut tx, auth.tenant(), &d.name).await?;
        let t = Target::new(&d.name, "Directory", Some(d.name.clone())).with_changes(vec![(
            "IsDefault".into(),
            json!(d.is_default),
            json!(true),
        )]);
        audit_store::insert(
            &mut tx,
            &entry(
                auth.tenant(),
                &Actor::of(&caller),
                "Set domain authentication",
                "DirectoryManagement",
                "Update",
                "Core Directory",
                &[t],
                state.now_ms(),
            ),
        )
        .await?;
        tx.commit().await.map_err(StoreError::from)?;
    } else if body.get("isDefault").is_some() {
        return Err(GraphError::bad_request("Choose another domain as default instead of unsetting isDefault."));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// DELETE /domains/{id}
pub async fn delete_domain(
    auth: Authed,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> GraphResult<Response> {
    let caller = auth.require(Action::DomainsWrite)?.clone();
    let d = find(&state, &auth, &name).await?;
    if d.is_initial || d.is_default {
        return Err(GraphError::bad_request("The initial and the default domain cannot be removed."));
    }
    let mut tx = state.dir.store.begin().await?;
    if tenants::domain_usage(&mut tx, auth.tenant(), &d.name).await? > 0 {
        return Err(GraphError::bad_request(format!(
            "The domain '{}' is still used by users' principal names; change them first.",
            d.name
        )));
    }
    tenants::delete_domain(&mut tx, auth.tenant(), &d.name).await?;
    let t = Target::new(&d.name, "Directory", Some(d.name.clone()));
    let activity = if d.is_verified { "Remove verified domain" } else { "Remove unverified domain" };
    audit_store::insert(
        &mut tx,
        &entry(
            auth.tenant(),
            &Actor::of(&caller),
            activity,
            "DirectoryManagement",
            "Delete",
            "Core Directory",
            &[t],
            state.now_ms(),
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
