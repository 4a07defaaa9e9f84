//! The grants that turn a person's sign-in into tokens: `authorization_code` (RFC 6749 §4.1.3
//! with PKCE, RFC 7636 §4.6) and `refresh_token` (RFC 6749 §6) with rotation: every refresh
//! token is used once, a second use revokes the whole family (RFC 9700 §4.14.2), and no token
//! outlives the family's absolute end. A replayed authorization code revokes what it issued
//! (RFC 9700 §4.2.4). Also the ID token and user access token claims, and userinfo.

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use portico_core::access::{GRAPH_RESOURCE, OIDC_SCOPES};
use portico_core::ids::{ObjectId, TenantId};
use portico_core::{pkce, secret};
use portico_store::signin::{self, Grant, Redeemed, RefreshToken};
use portico_store::signins::SignIn;
use portico_store::{apps, groups, roles, users};
use serde_json::{Value, json};

use super::OAuthError;
use crate::app::AppState;

fn invalid_grant(code: u32, description: impl Into<String>) -> OAuthError {
    OAuthError::new("invalid_grant", code, description)
}

/// Authenticates the client the way the grant requires: a public client (SPA, native) sends
/// only its client_id; a confidential one must prove its secret.
async fn authenticate_client(
    conn: &mut sqlx::AnyConnection,
    tid: TenantId,
    headers: &HeaderMap,
    form: &[(String, String)],
    grant: &Grant,
    now_ms: i64,
) -> Result<(), OAuthError> {
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let has_basic = headers.get(header::AUTHORIZATION).is_some();
    if grant.public_client {
        if field("client_secret").is_some() || field("client_assertion").is_some() || has_basic {
            return Err(OAuthError::invalid_client(
                700025,
                "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.",
                false,
            ));
        }
        let id = field("client_id").ok_or_else(|| {
            OAuthError::new(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            )
        })?;
        if !id.eq_ignore_ascii_case(&grant.client_id) {
            return Err(invalid_grant(70000, "The grant was issued to another client."));
        }
        return Ok(());
    }
    let auth = super::token::client_auth(headers, form)?;
    if !auth.client_id.eq_ignore_ascii_case(&grant.client_id) {
        return Err(invalid_grant(70000, "The grant was issued to another client."));
    }
    let client = apps::client_for_token(conn, tid, &auth.client_id).await.map_err(|e| OAuthError::server(&e))?;
    let ok = client.as_ref().is_some_and(|c| {
        c.secrets.iter().any(|(digest, start, end)| {
            secret::secret_matches(&auth.secret, digest) && *end > now_ms && *start <= now_ms + 300_000
        })
    });
    if !ok {
        return Err(OAuthError::invalid_client(
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            auth.basic,
        ));
    }
    Ok(())
}

/// The pairwise subject of a user for one application (Entra: `sub` differs per app).
pub fn pairwise_sub(tenant: TenantId, user: ObjectId, app: &str) -> String {
    secret::token_digest(&format!("{tenant}:{user}:{}", app.to_ascii_lowercase()))
}

fn app_role_values(app_roles: &Value, ids: &[String]) -> Vec<String> {
    let mut out: Vec<String> = ids
        .iter()
        .filter_map(|id| {
            app_roles
                .as_array()?
                .iter()
                .find(|r| {
                    r.get("id").and_then(Value::as_str).is_some_and(|x| x.eq_ignore_ascii_case(id))
                        && r.get("isEnabled").and_then(Value::as_bool).unwrap_or(true)
                })?
                .get("value")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// App role ids the user holds on `resource_sp`, directly or through groups.
async fn role_ids(
    conn: &mut sqlx::AnyConnection,
    tid: TenantId,
    principals: &[ObjectId],
    resource_sp: ObjectId,
) -> Result<Vec<String>, OAuthError> {
    apps::granted_roles_of_any(conn, tid, principals, resource_sp).await.map_err(|e| OAuthError::server(&e))
}

/// Builds and signs the tokens of a grant: access token, ID token (with `openid`), and a new
/// refresh token (with `offline_access`), which the caller stores in its transaction.
async fn tokens(
    state: &AppState,
    conn: &mut sqlx::AnyConnection,
    grant: &Grant,
    scopes: &[String],
    nonce: Option<&str>,
) -> Result<(Value, Option<RefreshToken>), OAuthError> {
    let tid = grant.tenant_id;
    let server = |e: &dyn std::fmt::Display| OAuthError::server(e);
    let user = users::get(conn, tid, grant.user_id, users::Deleted::Exclude)
        .await
        .map_err(|e| server(&e))?
        .filter(|u| u.account_enabled)
        .ok_or_else(|| invalid_grant(50057, "The user account is disabled or was deleted."))?;
    // Guests: the home identity provider as idp, acct = 1, and access ends with the home account.
    let (idp, acct) = if user.external_user_state.is_some() || user.user_type.eq_ignore_ascii_case("Guest") {
        if !crate::web::guest::home_account_live(conn, state, &user).await.map_err(|e| server(&e))? {
            return Err(invalid_grant(
                50057,
                "The user's account in their home organization is disabled or was deleted.",
            ));
        }
        let home = user
            .identities
            .iter()
            .find(|i| i.sign_in_type == "federated" || i.issuer == crate::web::guest::OTP_ISSUER)
            .map(|i| i.issuer.clone());
        (home, i64::from(user.user_type.eq_ignore_ascii_case("Guest")))
    } else {
        (None, 0)
    };
    let app = apps::get_app_by_app_id(conn, tid, &grant.client_id)
        .await
        .map_err(|e| server(&e))?
        .ok_or_else(|| invalid_grant(700016, "The application no longer exists in the directory."))?;
    let client_sp = apps::get_sp_by_app_id(conn, tid, &grant.client_id)
        .await
        .map_err(|e| server(&e))?
        .filter(|s| s.account_enabled)
        .ok_or_else(|| OAuthError::new("unauthorized_client", 7000112, "The application is disabled."))?;
    let wids = roles::roles_of(conn, tid, user.id).await.map_err(|e| server(&e))?;
    let group_ids = groups::transitive_member_of(conn, tid, user.id).await.map_err(|e| server(&e))?;
    let gmc = apps::group_membership_claims(conn, tid, app.id).await.map_err(|e| server(&e))?.unwrap_or_default();
    let emit_groups = ["SecurityGroup", "All", "ApplicationGroup"]
        .iter()
        .any(|k| gmc.split(',').any(|g| g.trim().eq_ignore_ascii_case(k)));
    let mut principals = vec![user.id];
    principals.extend(group_ids.iter().copied());
    let id_roles = app_role_values(&app.app_roles, &role_ids(conn, tid, &principals, client_sp.id).await?);
    let (resource_app_roles, resource_sp) = if grant.resource == GRAPH_RESOURCE {
        (Value::Null, None)
    } else {
        let api = apps::get_app_by_app_id(conn, tid, &grant.resource).await.map_err(|e| server(&e))?;
        let sp = apps::get_sp_by_app_id(conn, tid, &grant.resource).await.map_err(|e| server(&e))?;
        (api.map(|a| a.app_roles).unwrap_or(Value::Null), sp)
    };
    let at_roles = match &resource_sp {
        Some(sp) => app_role_values(&resource_app_roles, &role_ids(conn, tid, &principals, sp.id).await?),
        None => vec![],
    };
    let now = state.dir.clock.now().unix_timestamp();
    let lifetime = state.dir.settings.access_token_lifetime_secs;
    let iss = state.dir.settings.issuer(tid);
    let has = |s: &str| scopes.iter().any(|x| x.eq_ignore_ascii_case(s));
    // scp: the resource's scopes without prefix; for Graph also openid, profile and email.
    let scp: Vec<String> = scopes
        .iter()
        .filter(|s| !s.eq_ignore_ascii_case("offline_access"))
        .filter(|s| grant.resource == GRAPH_RESOURCE || !OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(s)))
        .map(|s| s.rsplit('/').next().unwrap_or(s).to_string())
        .collect();
    let groups_json: Vec<String> = group_ids.iter().take(200).map(ToString::to_string).collect();
    let mut at = json!({
        "aud": grant.resource,
        "iss": iss,
        "iat": now, "nbf": now, "exp": now + lifetime,
        "amr": grant.amr,
        "app_displayname": app.display_name,
        "appid": grant.client_id,
        "appidacr": if grant.public_client { "0" } else { "1" },
        "azp": grant.client_id,
        "azpacr": if grant.public_client { "0" } else { "1" },
        "acct": acct,
        "idp": idp.clone().unwrap_or_else(|| iss.clone()),
        "idtyp": "user",
        "name": user.display_name,
        "oid": user.id.to_string(),
        "preferred_username": user.user_principal_name,
        "scp": scp.join(" "),
        "sub": pairwise_sub(tid, user.id, &grant.resource),
        "tid": tid.to_string(),
        "unique_name": user.user_principal_name,
        "upn": user.user_principal_name,
        "uti": secret::random_token(16),
        "ver": "2.0",
        "wids": wids,
        "xms_grant": grant.id.to_string(),
    });
    if let Some(sid) = &grant.session_id {
        at["sid"] = json!(sid);
    }
    if emit_groups {
        at["groups"] = json!(groups_json);
    }
    if !at_roles.is_empty() {
        at["roles"] = json!(at_roles);
    }
    let signer = state.dir.keys.signer(&state.dir.store, tid).await.map_err(|e| server(&e))?;
    let access_token = signer.sign_jwt(&at).map_err(|e| server(&e))?;
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scopes.join(" "),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access_token,
    });
    if has("openid") {
        let mut id = json!({
            "aud": grant.client_id,
            "iss": iss,
            "iat": now, "nbf": now, "exp": now + 3600,
            "auth_time": grant.auth_time / 1000,
            "amr": grant.amr,
            "oid": user.id.to_string(),
            "sub": pairwise_sub(tid, user.id, &grant.client_id),
            "tid": tid.to_string(),
            "ver": "2.0",
            "acct": acct,
        });
        if let Some(i) = &idp {
            id["idp"] = json!(i);
        }
        if let Some(n) = nonce {
            id["nonce"] = json!(n);
        }
        if let Some(sid) = &grant.session_id {
            id["sid"] = json!(sid);
        }
        if has("profile") {
            id["name"] = json!(user.display_name);
            id["preferred_username"] = json!(user.user_principal_name);
        }
        if has("email")
            && let Some(m) = &user.mail
        {
            id["email"] = json!(m);
        }
        if emit_groups {
            id["groups"] = json!(groups_json);
        }
        if !id_roles.is_empty() {
            id["roles"] = json!(id_roles);
        }
        body["id_token"] = json!(signer.sign_jwt(&id).map_err(|e| server(&e))?);
    }
    let mut refresh = None;
    if has("offline_access") {
        let token = secret::random_token(48);
        let now_ms = state.now_ms();
        let idle = state.dir.settings.sessions.refresh_idle_secs * 1000;
        refresh = Some(RefreshToken {
            digest: secret::token_digest(&token),
            grant_id: grant.id,
            tenant_id: tid,
            created_at: now_ms,
            expires_at: (now_ms + idle).min(grant.expires_at),
            used_at: None,
        });
        body["refresh_token"] = json!(token);
        body["refresh_token_expires_in"] = json!((grant.expires_at - now_ms) / 1000);
    }
    Ok((body, refresh))
}

fn respond(body: Value) -> Response {
    let mut r = Json(body).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

/// grant_type=authorization_code
pub async fn authorization_code(
    state: &AppState,
    tid: TenantId,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<Response, OAuthError> {
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let required = |k: &str| {
        field(k).ok_or_else(|| {
            OAuthError::new(
                "invalid_request",
                900144,
                format!("The request body must contain the following parameter: '{k}'."),
            )
        })
    };
    let code = required("code")?;
    let redirect_uri = required("redirect_uri")?;
    let verifier = field("code_verifier")
        .ok_or_else(|| OAuthError::new("invalid_grant", 501481, "The code_verifier is missing: PKCE is required."))?;
    let now = state.now_ms();
    // The signing key first: a new tenant's key is created in a transaction of its own, which
    // SQLite would make wait for the one below (and time out).
    state.dir.keys.signer(&state.dir.store, tid).await.map_err(|e| OAuthError::server(&e))?;
    let mut tx = state.dir.store.begin().await.map_err(|e| OAuthError::server(&e))?;
    let redeemed = signin::redeem_code(&mut tx, tid, &secret::token_digest(code), now)
        .await
        .map_err(|e| OAuthError::server(&e))?;
    let c = match redeemed {
        Redeemed::Unknown => {
            return Err(invalid_grant(70000, "The provided value for the 'code' parameter is not valid."));
        }
        Redeemed::Replayed(c) => {
            signin::revoke_grant(&mut tx, tid, c.grant_id, now, "authorization code replayed")
                .await
                .map_err(|e| OAuthError::server(&e))?;
            tx.commit().await.map_err(|e| OAuthError::server(&e))?;
            metrics::counter!("portico_token_requests_total", "result" => "code_replayed").increment(1);
            return Err(invalid_grant(
                54005,
                "OAuth2 Authorization code was already redeemed; the tokens issued for it have been revoked.",
            ));
        }
        Redeemed::Fresh(c) => c,
    };
    // Failures below roll the transaction back, so the code stays usable by its real owner.
    if c.expires_at <= now {
        return Err(invalid_grant(70008, "The provided authorization code has expired."));
    }
    let grant = signin::get_grant(&mut tx, tid, c.grant_id)
        .await
        .map_err(|e| OAuthError::server(&e))?
        .filter(|g| g.revoked_at.is_none())
        .ok_or_else(|| invalid_grant(70000, "The grant behind this code has been revoked."))?;
    authenticate_client(&mut tx, tid, headers, form, &grant, now).await?;
    if c.redirect_uri != redirect_uri {
        return Err(invalid_grant(50011, "The redirect URI does not match the one used in the authorization request."));
    }
    if !pkce::verify_s256(verifier, &c.code_challenge) {
        return Err(invalid_grant(
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        ));
    }
    let scopes: Vec<String> = grant.scopes.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let (body, refresh) = tokens(state, &mut tx, &grant, &scopes, c.nonce.as_deref()).await?;
    if let Some(r) = &refresh {
        signin::insert_refresh(&mut tx, r).await.map_err(|e| OAuthError::server(&e))?;
    }
    tx.commit().await.map_err(|e| OAuthError::server(&e))?;
    metrics::counter!("portico_token_requests_total", "result" => "issued").increment(1);
    Ok(respond(body))
}

/// grant_type=refresh_token
pub async fn refresh_token(
    state: &AppState,
    tid: TenantId,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<Response, OAuthError> {
    let field = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let token = field("refresh_token").ok_or_else(|| {
        OAuthError::new(
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'refresh_token'.",
        )
    })?;
    let now = state.now_ms();
    // The signing key before the transaction (see `authorization_code`).
    state.dir.keys.signer(&state.dir.store, tid).await.map_err(|e| OAuthError::server(&e))?;
    let mut tx = state.dir.store.begin().await.map_err(|e| OAuthError::server(&e))?;
    let redeemed = signin::redeem_refresh(&mut tx, tid, &secret::token_digest(token), now)
        .await
        .map_err(|e| OAuthError::server(&e))?;
    let rt = match redeemed {
        Redeemed::Unknown => return Err(invalid_grant(9002313, "Invalid refresh token.")),
        Redeemed::Replayed(rt) => {
            signin::revoke_grant(&mut tx, tid, rt.grant_id, now, "refresh token reused")
                .await
                .map_err(|e| OAuthError::server(&e))?;
            tx.commit().await.map_err(|e| OAuthError::server(&e))?;
            metrics::counter!("portico_token_requests_total", "result" => "refresh_reused").increment(1);
            return Err(invalid_grant(
                70043,
                "The refresh token was already used. Every token of its family has been revoked; sign in again.",
            ));
        }
        Redeemed::Fresh(rt) => rt,
    };
    let grant = signin::get_grant(&mut tx, tid, rt.grant_id)
        .await
        .map_err(|e| OAuthError::server(&e))?
        .ok_or_else(|| invalid_grant(9002313, "Invalid refresh token."))?;
    if grant.revoked_at.is_some() {
        return Err(invalid_grant(
            50173,
            "The provided grant has been revoked: the user's sessions were revoked or the user signed out.",
        ));
    }
    if rt.expires_at <= now || grant.expires_at <= now {
        return Err(invalid_grant(700082, "The refresh token has expired. Sign in again."));
    }
    authenticate_client(&mut tx, tid, headers, form, &grant, now).await?;
    let granted: Vec<String> = grant.scopes.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    let scopes = match field("scope") {
        None => granted.clone(),
        Some(asked) => {
            let mut out = vec![];
            for s in asked.split(' ').filter(|s| !s.is_empty()) {
                let found = granted.iter().find(|g| {
                    g.eq_ignore_ascii_case(s)
                        || g.rsplit('/')
                            .next()
                            .is_some_and(|v| v.eq_ignore_ascii_case(s.rsplit('/').next().unwrap_or(s)))
                });
                match found {
                    Some(g) => out.push(g.clone()),
                    None => {
                        return Err(OAuthError::new(
                            "invalid_scope",
                            65001,
                            format!(
                                "The scope '{s}' was not granted to this refresh token; sign in again to ask for it."
                            ),
                        ));
                    }
                }
            }
            if !out.iter().any(|s| s == "offline_access") {
                out.push("offline_access".into());
            }
            out
        }
    };
    let (body, refresh) = tokens(state, &mut tx, &grant, &scopes, None).await?;
    if let Some(r) = &refresh {
        signin::insert_refresh(&mut tx, r).await.map_err(|e| OAuthError::server(&e))?;
    }
    let record = SignIn {
        id: ObjectId::new(),
        tenant_id: tid,
        created_at: now,
        user_id: Some(grant.user_id),
        user_principal_name: None,
        user_display_name: None,
        app_id: Some(grant.client_id.clone()),
        app_display_name: None,
        resource_id: Some(grant.resource.clone()),
        resource_display_name: None,
        ip_address: None,
        client_app_used: "Mobile Apps and Desktop clients".into(),
        user_agent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect()),
        is_interactive: false,
        error_code: 0,
        failure_reason: None,
        additional_details: Some("Refresh token redeemed".into()),
        authentication_details: json!([]),
        authentication_requirement: if grant.amr.iter().any(|a| a == "mfa") {
            "multiFactorAuthentication".into()
        } else {
            "singleFactorAuthentication".into()
        },
        conditional_access_status: "notApplied".into(),
        home_tenant_id: Some(tid.to_string()),
        resource_tenant_id: tid.to_string(),
        correlation_id: crate::request_id::current(),
        user_type: None,
        cross_tenant_access_type: "none".into(),
    };
    portico_store::signins::insert(&mut tx, &record).await.map_err(|e| OAuthError::server(&e))?;
    tx.commit().await.map_err(|e| OAuthError::server(&e))?;
    metrics::counter!("portico_token_requests_total", "result" => "refreshed").increment(1);
    Ok(respond(body))
}

/// GET|POST /{tenant}/oidc/userinfo (OpenID Connect Core §5.3), with an access token for the
/// Graph-shaped API that carries `openid`, as in Entra.
pub async fn userinfo(axum::extract::State(state): axum::extract::State<AppState>, headers: HeaderMap) -> Response {
    let challenge = |status: StatusCode, error: &str, desc: &str| {
        let mut r = (status, Json(json!({"error": error, "error_description": desc}))).into_response();
        if let Ok(v) = HeaderValue::from_str(&format!("Bearer error=\"{error}\", error_description=\"{desc}\"")) {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        r
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(s, _)| s.eq_ignore_ascii_case("Bearer"))
        .map(|(_, t)| t.trim().to_string());
    let Some(token) = token else {
        return challenge(StatusCode::UNAUTHORIZED, "invalid_request", "A bearer access token is required.");
    };
    let caller = match crate::graph::auth::validate(&state, &token).await {
        Ok(c) => c,
        Err(_) => return challenge(StatusCode::UNAUTHORIZED, "invalid_token", "The access token is not valid."),
    };
    let portico_core::access::Principal::User { user_id, app_id, .. } = &caller.principal else {
        return challenge(StatusCode::FORBIDDEN, "insufficient_scope", "userinfo needs a user's token.");
    };
    if !caller.has_scope(&["openid"]) {
        return challenge(StatusCode::FORBIDDEN, "insufficient_scope", "The token lacks the openid scope.");
    }
    let Ok(mut conn) = state.dir.store.pool().acquire().await else {
        return OAuthError::server(&"no database connection").into_response();
    };
    let user = match users::get(&mut conn, caller.tenant, *user_id, users::Deleted::Exclude).await {
        Ok(Some(u)) if u.account_enabled => u,
        Ok(_) => {
            return challenge(StatusCode::UNAUTHORIZED, "invalid_token", "The user no longer exists or is disabled.");
        }
        Err(e) => return OAuthError::server(&e).into_response(),
    };
    let mut out = json!({ "sub": pairwise_sub(caller.tenant, user.id, app_id) });
    if caller.has_scope(&["profile"]) {
        out["name"] = json!(user.display_name);
        out["preferred_username"] = json!(user.user_principal_name);
        if let Some(g) = &user.given_name {
            out["given_name"] = json!(g);
        }
        if let Some(f) = &user.surname {
            out["family_name"] = json!(f);
        }
    }
    if caller.has_scope(&["email"])
        && let Some(m) = &user.mail
    {
        out["email"] = json!(m);
    }
    respond(out)
}
