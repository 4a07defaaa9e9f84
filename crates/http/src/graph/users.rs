//! `/users`, `/users/{id | userPrincipalName}`, `/users/$count`, `/me`, and a user's group
//! memberships.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portico_core::access::{Action, Caller, Principal};
use portico_core::ids::{ObjectId, TenantId};
use portico_core::{secret, validate};
use portico_store::schema::USER;
use portico_store::users::{self, Deleted, Identity, User};
use portico_store::{StoreError, audit as audit_store};
use serde_json::{Map, Value, json};

use super::auth::Authed;
use super::body::{Access, JsonBody, Kind, Prop, check, opt_str, p, require, str_list};
use super::error::{GraphError, GraphResult};
use super::query::{QueryOptions, tenant_scope};
use super::{guest_scope, wire};
use crate::app::AppState;
use crate::audit::{Actor, Target, diff, entry};
use crate::directory::{NewUser, check_password};

const W: Access = Access::Write;

/// The writable shape of microsoft.graph.user.
pub const USER_PROPS: &[Prop] = &[
    p("accountEnabled", Kind::Bool, W),
    p("displayName", Kind::StrRequired, W),
    p("givenName", Kind::Str, W),
    p("surname", Kind::Str, W),
    p("mail", Kind::Str, W),
    p("mailNickname", Kind::StrRequired, W),
    p("otherMails", Kind::StrList, W),
    p("userType", Kind::StrRequired, W),
    p("jobTitle", Kind::Str, W),
    p("companyName", Kind::Str, W),
    p("department", Kind::Str, W),
    p("preferredLanguage", Kind::Str, W),
    p("userPrincipalName", Kind::StrRequired, W),
    p("passwordProfile", Kind::Object, W),
    p("identities", Kind::ObjectList, W),
    p("id", Kind::Str, Access::ReadOnly),
    p("createdDateTime", Kind::Str, Access::ReadOnly),
    p("creationType", Kind::Str, Access::ReadOnly),
    p("externalUserState", Kind::Str, Access::ReadOnly),
    p("externalUserStateChangeDateTime", Kind::Str, Access::ReadOnly),
    p("deletedDateTime", Kind::Str, Access::ReadOnly),
    p("signInActivity", Kind::Object, Access::ReadOnly),
    p("businessPhones", Kind::StrList, Access::NotYet),
    p("mobilePhone", Kind::Str, Access::NotYet),
    p("officeLocation", Kind::Str, Access::NotYet),
    p("showInAddressList", Kind::Bool, Access::NotYet),
];

/// Properties compared for audit modifiedProperties.
const AUDITED: &[&str] = &[
    "accountEnabled",
    "displayName",
    "givenName",
    "surname",
    "mail",
    "mailNickname",
    "otherMails",
    "userType",
    "jobTitle",
    "companyName",
    "department",
    "preferredLanguage",
    "userPrincipalName",
    "identities",
];

/// Finds a live user by object id or user principal name.
pub async fn find(state: &AppState, tenant: TenantId, key: &str) -> GraphResult<User> {
    let mut conn = state.conn().await?;
    let found = match ObjectId::parse(key) {
        Some(id) => users::get(&mut conn, tenant, id, Deleted::Exclude).await?,
        None => users::get_by_upn(&mut conn, tenant, key).await?,
    };
    found.ok_or_else(|| GraphError::not_found(key))
}

/// Whether `$select` asks for signInActivity. Graph only shows it to callers that may read the
/// sign-in log (AuditLog.Read.All) and refuses the request otherwise.
fn wants_activity(auth: &Authed, select: &[&str]) -> GraphResult<bool> {
    let wanted = select.iter().any(|s| s.eq_ignore_ascii_case("signInActivity"));
    if wanted && !auth.0.may(Action::AuditRead) {
        return Err(GraphError::forbidden());
    }
    Ok(wanted)
}

/// Graph's signInActivity from the store's (last interactive, its request id, last
/// non-interactive); Portico records successful sign-ins only, so the last successful one is the
/// last interactive one.
fn sign_in_activity(a: Option<&(Option<i64>, Option<String>, Option<i64>)>) -> Value {
    let (last, request, non_interactive) = a.cloned().unwrap_or_default();
    let dt = |ms: Option<i64>| ms.map_or(Value::Null, |m| json!(portico_core::clock::graph_datetime(m)));
    json!({
        "lastSignInDateTime": dt(last),
        "lastSignInRequestId": request,
        "lastNonInteractiveSignInDateTime": dt(non_interactive),
        "lastNonInteractiveSignInRequestId": null,
        "lastSuccessfulSignInDateTime": dt(last),
        "lastSuccessfulSignInRequestId": request,
    })
}

/// Users in Graph's shape; with signInActivity filled in when `activity` (one query for all).
async fn render_users(
    conn: &mut sqlx::AnyConnection,
    tenant: TenantId,
    list: &[User],
    activity: bool,
) -> GraphResult<Vec<Value>> {
    let mut out: Vec<Value> = list.iter().map(wire::user).collect();
    if activity && !list.is_empty() {
        let ids: Vec<ObjectId> = list.iter().map(|u| u.id).collect();
        let acts = portico_store::signins::activity(conn, tenant, &ids).await?;
        for (u, v) in list.iter().zip(out.iter_mut()) {
            v["signInActivity"] = sign_in_activity(acts.get(&u.id));
        }
    }
    Ok(out)
}

async fn render_one(state: &AppState, tenant: TenantId, u: &User, activity: bool) -> GraphResult<Value> {
    if !activity {
        return Ok(wire::user(u));
    }
    let mut conn = state.conn().await?;
    Ok(render_users(&mut conn, tenant, std::slice::from_ref(u), true).await?.pop().unwrap_or_default())
}

/// GET /users
pub async fn list_users(auth: Authed, State(state): State<AppState>, opts: QueryOptions) -> GraphResult<Response> {
    guest_scope::require_directory_wide(&auth, Action::UsersRead)?;
    let plan = opts.plan(&USER, state.dir.store.dialect())?;
    let list = plan.list("users", users::COLUMNS, tenant_scope(auth.tenant(), false), &opts);
    let mut page = list.run(&state.dir.store, users::from_row).await?;
    let activity = wants_activity(&auth, &plan.select)?;
    let mut conn = state.conn().await?;
    users::load_collections(&mut conn, &mut page.items).await?;
    let rendered = render_users(&mut conn, auth.tenant(), &page.items, activity).await?;
    let items = rendered.into_iter().map(|v| wire::select(v, &plan.select, wire::USER_DEFAULT)).collect();
    let page = portico_store::list::Page { items, next: page.next, count: page.count };
    Ok(wire::collection(&state.dir.settings.public_url, &opts, "users", page, &plan.select))
}

/// GET /users/$count
pub async fn count_users(auth: Authed, State(state): State<AppState>, opts: QueryOptions) -> GraphResult<Response> {
    guest_scope::require_directory_wide(&auth, Action::UsersRead)?;
    let n = opts.count_only(&state.dir.store, &USER, "users", tenant_scope(auth.tenant(), false)).await?;
    Ok(wire::count_text(n))
}

/// GET /users/{id}
pub async fn get_user(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    auth.require(Action::UsersRead)?;
    let select = opts.select_for(&USER)?;
    let activity = wants_activity(&auth, &select)?;
    let (u, view) = guest_scope::user(&state, &auth, find(&state, auth.tenant(), &key).await).await?;
    let v = view.show(render_one(&state, auth.tenant(), &u, activity).await?, true);
    Ok(wire::entity(
        &state.dir.settings.public_url,
        &opts,
        "users",
        wire::select(v, &select, wire::USER_DEFAULT),
        &select,
    ))
}

/// GET /me
pub async fn me(auth: Authed, State(state): State<AppState>, opts: QueryOptions) -> GraphResult<Response> {
    let Principal::User { user_id, .. } = &auth.0.principal else {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        ));
    };
    if !auth.0.has_scope(portico_core::access::READ_SELF_SCOPES) {
        return Err(GraphError::forbidden());
    }
    let select = opts.select_for(&USER)?;
    let activity = wants_activity(&auth, &select)?;
    let u = find(&state, auth.tenant(), &user_id.to_string()).await?;
    let v = render_one(&state, auth.tenant(), &u, activity).await?;
    Ok(wire::entity(
        &state.dir.settings.public_url,
        &opts,
        "users",
        wire::select(v, &select, wire::USER_DEFAULT),
        &select,
    ))
}

fn canonical_user_type(s: &str) -> GraphResult<String> {
    ["Member", "Guest"]
        .iter()
        .find(|t| t.eq_ignore_ascii_case(s))
        .map(|t| (*t).to_string())
        .ok_or_else(|| GraphError::invalid_value("userType"))
}

fn check_mail(name: &str, v: &str) -> GraphResult<()> {
    validate::address(v).map(|_| ()).ok_or_else(|| GraphError::invalid_value(name))
}

fn check_language(v: &str) -> GraphResult<()> {
    let ok = !v.is_empty()
        && v.len() <= 35
        && v.split('-').all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()));
    if ok { Ok(()) } else { Err(GraphError::invalid_value("preferredLanguage")) }
}

fn parse_identities(v: &Value) -> GraphResult<Vec<Identity>> {
    let arr = v.as_array().ok_or_else(|| GraphError::invalid_value("identities"))?;
    arr.iter()
        .map(|i| {
            let s = |k: &str| i.get(k).and_then(Value::as_str).map(str::to_owned);
            let sign_in_type =
                s("signInType").filter(|x| !x.is_empty()).ok_or_else(|| GraphError::invalid_value("identities"))?;
            let issuer =
                s("issuer").filter(|x| !x.is_empty()).ok_or_else(|| GraphError::invalid_value("identities"))?;
            Ok(Identity { sign_in_type, issuer, issuer_assigned_id: s("issuerAssignedId") })
        })
        .collect()
}

fn upn_identity(upn: &str, initial_domain: &str) -> Identity {
    Identity {
        sign_in_type: "userPrincipalName".into(),
        issuer: initial_domain.to_string(),
        issuer_assigned_id: Some(upn.to_string()),
    }
}

/// Keeps the user's UPN identity in step with its UPN (issued by the tenant's initial domain, as
/// in Entra); other identities as given.
fn with_upn_identity(mut ids: Vec<Identity>, upn: &str, initial_domain: &str) -> Vec<Identity> {
    ids.retain(|i| !i.sign_in_type.eq_ignore_ascii_case("userPrincipalName"));
    ids.push(upn_identity(upn, initial_domain));
    ids
}

/// Checks a passwordProfile: `password` a string, `forceChangePasswordNextSignIn` a boolean,
/// nothing else. A password reset that cannot be applied must fail, not answer 204.
fn check_password_profile(profile: &Map<String, Value>) -> GraphResult<()> {
    for (k, v) in profile {
        let ok = match k.as_str() {
            "password" => v.is_string(),
            "forceChangePasswordNextSignIn" => v.is_boolean(),
            "forceChangePasswordNextSignInWithMfa" => {
                return Err(GraphError::new(
                    StatusCode::NOT_IMPLEMENTED,
                    "notSupported",
                    format!("Property '{k}' is a Graph property that Portico does not support yet."),
                ));
            }
            _ => return Err(GraphError::unknown_property(k, "passwordProfile")),
        };
        if !ok {
            return Err(GraphError::invalid_value(&format!("passwordProfile.{k}")));
        }
    }
    Ok(())
}

fn validate_common(body: &Map<String, Value>) -> GraphResult<()> {
    if let Some(profile) = body.get("passwordProfile").and_then(Value::as_object) {
        check_password_profile(profile)?;
    }
    if let Some(Some(m)) = opt_str(body, "mail") {
        check_mail("mail", &m)?;
    }
    for m in str_list(body, "otherMails").unwrap_or_default() {
        check_mail("otherMails", &m)?;
    }
    if let Some(Some(l)) = opt_str(body, "preferredLanguage") {
        check_language(&l)?;
    }
    for n in ["displayName", "givenName", "surname", "jobTitle", "companyName", "department"] {
        if let Some(Some(v)) = opt_str(body, n)
            && v.chars().count() > 256
        {
            return Err(GraphError::bad_request(format!("Property '{n}' is too long (at most 256 characters).")));
        }
    }
    if let Some(Some(d)) = opt_str(body, "displayName")
        && d.trim().is_empty()
    {
        return Err(GraphError::invalid_value("displayName"));
    }
    Ok(())
}

/// POST /users
pub async fn create_user(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::UsersWrite)?.clone();
    check(&body, "user", USER_PROPS, true, &[])?;
    require(&body, &["accountEnabled", "displayName", "mailNickname", "passwordProfile", "userPrincipalName"])?;
    validate_common(&body)?;
    let profile = body.get("passwordProfile").and_then(Value::as_object).cloned().unwrap_or_default();
    let password = profile
        .get("password")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            GraphError::bad_request("Property 'passwordProfile.password' is required but was not supplied.")
        })?
        .to_string();
    let s = |k: &str| opt_str(&body, k).flatten();
    let n = NewUser {
        user_principal_name: s("userPrincipalName").unwrap_or_default(),
        display_name: s("displayName").unwrap_or_default(),
        password: Some(password),
        force_change_password: profile.get("forceChangePasswordNextSignIn").and_then(Value::as_bool).unwrap_or(true),
        mail_nickname: s("mailNickname"),
        mail: s("mail"),
        given_name: s("givenName"),
        surname: s("surname"),
        job_title: s("jobTitle"),
        company_name: s("companyName"),
        department: s("department"),
        preferred_language: s("preferredLanguage"),
        other_mails: str_list(&body, "otherMails").unwrap_or_default(),
        account_enabled: body.get("accountEnabled").and_then(Value::as_bool).unwrap_or(true),
        user_type: s("userType").map(|t| canonical_user_type(&t)).transpose()?,
    };
    let extra_identities = body.get("identities").map(parse_identities).transpose()?;
    let actor = Actor::of(&caller);
    let mut tx = state.dir.store.begin().await?;
    let (mut user, _) = state.dir.build_user(&mut tx, auth.tenant(), n).await?;
    if let Some(ids) = extra_identities {
        let initial = state.dir.initial_domain(&mut tx, auth.tenant()).await?;
        user.identities = with_upn_identity(ids, &user.user_principal_name, &initial);
    }
    users::insert(&mut tx, &user).await?;
    let mut t = Target::new(user.id, "User", Some(user.display_name.clone()));
    t.user_principal_name = Some(user.user_principal_name.clone());
    audit_store::insert(
        &mut tx,
        &entry(auth.tenant(), &actor, "Add user", "UserManagement", "Add", "Core Directory", &[t], state.now_ms()),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(wire::created(&state.dir.settings.public_url, &opts, "users", wire::select(wire::user(&user), &[], &[])))
}

/// PATCH /users/{id}
pub async fn update_user(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    JsonBody(body): JsonBody,
) -> GraphResult<Response> {
    let caller = auth.require(Action::UsersWrite)?.clone();
    check(&body, "user", USER_PROPS, false, &[])?;
    validate_common(&body)?;
    let old = find(&state, auth.tenant(), &key).await?;
    let mut u = old.clone();
    let s = |k: &str| opt_str(&body, k);
    if let Some(Some(v)) = s("displayName") {
        u.display_name = v.trim().to_string();
    }
    if let Some(v) = s("givenName") {
        u.given_name = v;
    }
    if let Some(v) = s("surname") {
        u.surname = v;
    }
    if let Some(v) = s("mail") {
        u.mail = v;
    }
    if let Some(Some(v)) = s("mailNickname") {
        if !validate::mail_nickname(&v) {
            return Err(GraphError::invalid_value("mailNickname"));
        }
        u.mail_nickname = Some(v);
    }
    if let Some(v) = str_list(&body, "otherMails") {
        u.other_mails = v;
    }
    if let Some(Some(v)) = s("userType") {
        u.user_type = canonical_user_type(&v)?;
    }
    if let Some(v) = s("jobTitle") {
        u.job_title = v;
    }
    if let Some(v) = s("companyName") {
        u.company_name = v;
    }
    if let Some(v) = s("department") {
        u.department = v;
    }
    if let Some(v) = s("preferredLanguage") {
        u.preferred_language = v;
    }
    if let Some(v) = body.get("accountEnabled").and_then(Value::as_bool) {
        u.account_enabled = v;
    }
    let mut tx = state.dir.store.begin().await?;
    if let Some(Some(v)) = s("userPrincipalName") {
        u.user_principal_name = state.dir.check_upn(&mut tx, auth.tenant(), &v).await?;
    }
    if let Some(v) = body.get("identities") {
        u.identities = parse_identities(v)?;
    }
    let initial = state.dir.initial_domain(&mut tx, auth.tenant()).await?;
    u.identities = with_upn_identity(std::mem::take(&mut u.identities), &u.user_principal_name, &initial);
    let mut password_changed = false;
    if let Some(profile) = body.get("passwordProfile").and_then(Value::as_object) {
        if let Some(pw) = profile.get("password").and_then(Value::as_str) {
            check_password(pw)?;
            u.password_hash =
                Some(secret::hash_password(pw, state.dir.password_cost).map_err(|e| GraphError::internal(&e))?);
            u.password_changed_at = Some(state.now_ms());
            password_changed = true;
        }
        if let Some(f) = profile.get("forceChangePasswordNextSignIn").and_then(Value::as_bool) {
            u.force_change_password = f;
        }
    }
    users::update(&mut tx, &u).await?;
    let mut changes = diff(&wire::user(&old), &wire::user(&u), AUDITED);
    if password_changed {
        changes.push(("PasswordProfile".into(), Value::Null, json!("[redacted]")));
    }
    let mut t = Target::new(u.id, "User", Some(u.display_name.clone())).with_changes(changes);
    t.user_principal_name = Some(u.user_principal_name.clone());
    let actor = Actor::of(&caller);
    audit_store::insert(
        &mut tx,
        &entry(
            auth.tenant(),
            &actor,
            "Update user",
            "UserManagement",
            "Update",
            "Core Directory",
            &[t],
            state.now_ms(),
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// DELETE /users/{id}: moves the user to deleted items (restorable for 30 days).
pub async fn delete_user(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> GraphResult<Response> {
    let caller = auth.require(Action::UsersWrite)?.clone();
    let mut u = find(&state, auth.tenant(), &key).await?;
    if let Principal::User { user_id, .. } = &caller.principal
        && *user_id == u.id
    {
        return Err(GraphError::bad_request("A user cannot delete their own account."));
    }
    u.deleted_at = Some(state.now_ms());
    let mut tx = state.dir.store.begin().await?;
    users::update(&mut tx, &u).await?;
    let activity = if u.user_type == "Guest" { "Delete external user" } else { "Delete user" };
    let mut t = Target::new(u.id, "User", Some(u.display_name.clone()));
    t.user_principal_name = Some(u.user_principal_name.clone());
    audit_store::insert(
        &mut tx,
        &entry(
            auth.tenant(),
            &Actor::of(&caller),
            activity,
            "UserManagement",
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

/// Ends every session and refresh token of `user`, audited in the same transaction, and
/// answers as Graph does: `{"value": true}`.
async fn revoke_sessions(state: &AppState, opts: &QueryOptions, caller: &Caller, u: &User) -> GraphResult<Response> {
    let tenant = u.tenant_id;
    let now = state.now_ms();
    let mut tx = state.dir.store.begin().await?;
    portico_store::signin::revoke_user(&mut tx, tenant, u.id, now, "revokeSignInSessions").await?;
    let mut t = Target::new(u.id, "User", Some(u.display_name.clone()));
    t.user_principal_name = Some(u.user_principal_name.clone());
    audit_store::insert(
        &mut tx,
        &entry(
            tenant,
            &Actor::of(caller),
            "Invalidate all refresh tokens for a user",
            "UserManagement",
            "Update",
            "Core Directory",
            &[t],
            now,
        ),
    )
    .await?;
    tx.commit().await.map_err(StoreError::from)?;
    let context = format!("{}/{}/$metadata#Edm.Boolean", state.dir.settings.public_url, opts.version());
    Ok(axum::Json(json!({"@odata.context": context, "value": true})).into_response())
}

/// POST /users/{id}/revokeSignInSessions
pub async fn revoke_sign_in_sessions(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    let caller = auth.require(Action::UsersWrite)?.clone();
    let u = find(&state, auth.tenant(), &key).await?;
    revoke_sessions(&state, &opts, &caller, &u).await
}

/// POST /me/revokeSignInSessions: any signed-in user may end their own sessions.
pub async fn revoke_my_sign_in_sessions(
    auth: Authed,
    State(state): State<AppState>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    let Principal::User { user_id, .. } = &auth.0.principal else {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        ));
    };
    let u = find(&state, auth.tenant(), &user_id.to_string()).await?;
    revoke_sessions(&state, &opts, &auth.0, &u).await
}

async fn groups_of_user(
    auth: Authed,
    state: AppState,
    key: String,
    opts: QueryOptions,
    which: super::groups::GroupsOf,
) -> GraphResult<Response> {
    auth.require(Action::UsersRead)?;
    auth.require(Action::GroupsRead)?;
    let (u, view) = guest_scope::memberships(&auth, find(&state, auth.tenant(), &key).await)?;
    super::groups::groups_of(&state, &opts, auth.tenant(), u.id, which, view).await
}

/// GET /users/{id}/memberOf
pub async fn user_member_of(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    groups_of_user(auth, state, key, opts, super::groups::GroupsOf::Direct).await
}

/// GET /users/{id}/transitiveMemberOf
pub async fn user_transitive_member_of(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    groups_of_user(auth, state, key, opts, super::groups::GroupsOf::Transitive).await
}

/// GET /users/{id}/ownedObjects (groups the user owns)
pub async fn user_owned_objects(
    auth: Authed,
    State(state): State<AppState>,
    Path(key): Path<String>,
    opts: QueryOptions,
) -> GraphResult<Response> {
    groups_of_user(auth, state, key, opts, super::groups::GroupsOf::Owned).await
}
