//! Each tenant's authorization server: OpenID discovery, the JWKS, and the token endpoint's
//! client credentials grant (client authentication, grant types, scopes and resources, custom
//! APIs with app roles, token claims and caching).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use portico_core::clock::to_millis;
use portico_core::ids::{ObjectId, TenantId};
use portico_core::jws::{self, Jwk};
use portico_store::apps::{self, PasswordCredential};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::common::{Resp, TestApp, all_permissions};

const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// POSTs a token request to `tenant`'s endpoint; `basic` sends client_secret_basic (RFC 6749
/// §2.3.1: id and secret form-urlencoded, joined by ':', base64).
async fn token_request(app: &TestApp, tenant: &str, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Resp {
    let mut rb = app.http.post(format!("{}/{tenant}/oauth2/v2.0/token", app.base)).form(form);
    if let Some((id, secret)) = basic {
        rb = rb.header(
            "Authorization",
            format!("Basic {}", STANDARD.encode(format!("{}:{}", form_encode(id), form_encode(secret)))),
        );
    }
    app.raw(rb).await
}

/// client_secret_post with the client credentials grant.
async fn client_credentials(app: &TestApp, tenant: TenantId, id: &str, secret: &str, scope: &str) -> Resp {
    token_request(
        app,
        &tenant.to_string(),
        &[("grant_type", "client_credentials"), ("client_id", id), ("client_secret", secret), ("scope", scope)],
        None,
    )
    .await
}

fn claims_of(token: &str) -> Value {
    jws::decode_unverified(token).expect("a compact JWS").claims
}

fn assert_oauth_error(r: &Resp, status: StatusCode, error: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text);
    assert_eq!(r.body["error"], json!(error), "{what}: {}", r.text);
    let description = r.body["error_description"].as_str().unwrap_or_default();
    assert!(description.starts_with("AADSTS"), "{what}: {description}");
    let code = r.body["error_codes"][0].as_u64().unwrap_or_default();
    assert!(description.starts_with(&format!("AADSTS{code}:")), "{what}: error_codes {code} vs {description}");
    assert_eq!(r.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"), "{what}");
    let rid = r.headers.get("request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!(r.body["trace_id"], json!(rid), "{what}: trace_id is the request id");
}

/// The service principal of a client id in a tenant, through the API.
async fn sp_of(app: &TestApp, client_id: &str) -> String {
    let r = app.get(&format!("/v1.0/servicePrincipals?$filter=appId eq '{client_id}'")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["value"][0]["id"].as_str().expect("the client's service principal").to_string()
}

api_test!(discovery_names_the_tenant_issuer_and_endpoints_by_id_and_by_domain, |app| {
    let tid = app.tenant.to_string();
    let issuer = format!("{}/{tid}/v2.0", app.base);
    for key in [tid.clone(), "contoso.test".into(), "CONTOSO.test".into(), "contoso.portico.localhost".into()] {
        let r = app.raw(app.http.get(format!("{}/{key}/v2.0/.well-known/openid-configuration", app.base))).await;
        assert_eq!(r.status, StatusCode::OK, "{key}: {}", r.text);
        assert_eq!(r.body["issuer"], json!(issuer), "{key}");
        assert_eq!(r.body["token_endpoint"], json!(format!("{}/{tid}/oauth2/v2.0/token", app.base)), "{key}");
        assert_eq!(r.body["jwks_uri"], json!(format!("{}/{tid}/discovery/v2.0/keys", app.base)), "{key}");
        let methods = r.body["token_endpoint_auth_methods_supported"].as_array().expect("auth methods");
        assert!(methods.contains(&json!("client_secret_basic")) && methods.contains(&json!("client_secret_post")));
        assert_eq!(
            r.body["grant_types_supported"],
            json!(["authorization_code", "refresh_token", "client_credentials"]),
            "{key}"
        );
        assert_eq!(r.body["response_types_supported"], json!(["code"]), "{key}: no implicit or hybrid flows");
        assert_eq!(r.body["code_challenge_methods_supported"], json!(["S256"]), "{key}: PKCE S256 only");
        assert_eq!(r.body["authorization_response_iss_parameter_supported"], json!(true), "{key}: RFC 9207");
        assert_eq!(r.body["authorization_endpoint"], json!(format!("{}/{tid}/oauth2/v2.0/authorize", app.base)));
    }
    let jwks = app.raw(app.http.get(format!("{}/{tid}/discovery/v2.0/keys", app.base))).await;
    assert_eq!(jwks.status, StatusCode::OK);
    // Unknown tenants, and a domain that is only added (not verified), name no tenant.
    let r = app.post("/v1.0/domains", json!({"id": "pending.example"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for key in
        [TenantId::new().to_string(), "nowhere.test".into(), "pending.example".into(), "common".into(), "x".repeat(300)]
    {
        for path in ["v2.0/.well-known/openid-configuration", "discovery/v2.0/keys"] {
            let r = app.raw(app.http.get(format!("{}/{key}/{path}", app.base))).await;
            assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_tenant", &format!("{key:.40}/{path}"));
        }
        let r = token_request(&app, &key, &[("grant_type", "client_credentials")], None).await;
        assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_tenant", &format!("token at {key:.40}"));
    }
});

api_test!(jwks_publishes_rs256_keys_that_verify_issued_tokens, |app| {
    let r = app.raw(app.http.get(format!("{}/{}/discovery/v2.0/keys", app.base, app.tenant))).await;
    assert_eq!(r.status, StatusCode::OK);
    let keys = r.body["keys"].as_array().expect("keys");
    assert!(!keys.is_empty());
    for k in keys {
        assert_eq!(k["kty"], "RSA", "{k}");
        assert_eq!(k["alg"], "RS256", "{k}");
        assert_eq!(k["use"], "sig", "{k}");
        for f in ["kid", "n", "e"] {
            assert!(k[f].as_str().is_some_and(|s| !s.is_empty()), "{f} missing in {k}");
        }
        assert!(k.get("d").is_none() && k.get("p").is_none(), "private key material published: {k}");
        // 2048-bit modulus: 256 bytes, base64url without padding.
        assert!(k["n"].as_str().is_some_and(|n| n.len() >= 342), "{k}");
    }
    let jwks: Vec<Jwk> = serde_json::from_value(r.body["keys"].clone()).expect("keys are JWKs");
    let claims = jws::decode_unverified(&app.token)
        .expect("token")
        .verify(&jwks)
        .expect("the token verifies against the published keys");
    assert_eq!(claims, claims_of(&app.token));
    // Another tenant's keys do not verify it.
    let (other, _) = app.new_tenant("Fabrikam", None, &[]).await;
    let r = app.raw(app.http.get(format!("{}/{other}/discovery/v2.0/keys", app.base))).await;
    let other_keys: Vec<Jwk> = serde_json::from_value(r.body["keys"].clone()).expect("keys");
    assert!(jws::decode_unverified(&app.token).expect("token").verify(&other_keys).is_err());
});

api_test!(client_secret_post_and_basic_both_authenticate_but_not_together, |app| {
    let (id, secret) = app.client(app.tenant, &all_permissions()).await;
    let tid = app.tenant.to_string();
    let r = client_credentials(&app, app.tenant, &id, &secret, GRAPH_SCOPE).await;
    assert_eq!(r.status, StatusCode::OK, "post: {}", r.text);
    let r = token_request(
        &app,
        &tid,
        &[("grant_type", "client_credentials"), ("scope", GRAPH_SCOPE)],
        Some((&id, &secret)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "basic: {}", r.text);
    assert_eq!(claims_of(r.body["access_token"].as_str().expect("token"))["appid"], json!(id));
    // RFC 9110 §11.1: the scheme name is case-insensitive.
    let credentials = STANDARD.encode(format!("{}:{}", form_encode(&id), form_encode(&secret)));
    let r = app
        .raw(
            app.http
                .post(format!("{}/{tid}/oauth2/v2.0/token", app.base))
                .header("Authorization", format!("basic {credentials}"))
                .form(&[("grant_type", "client_credentials"), ("scope", GRAPH_SCOPE)]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "lowercase basic: {}", r.text);
    // By domain as well as by id.
    let r = token_request(
        &app,
        "contoso.test",
        &[("grant_type", "client_credentials"), ("scope", GRAPH_SCOPE)],
        Some((&id, &secret)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "basic by domain: {}", r.text);
    // The same client id in the body is fine; another is not.
    let r = token_request(
        &app,
        &tid,
        &[("grant_type", "client_credentials"), ("client_id", &id), ("scope", GRAPH_SCOPE)],
        Some((&id, &secret)),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "basic with the same client_id: {}", r.text);
    let other = ObjectId::new().to_string();
    let r = token_request(
        &app,
        &tid,
        &[("grant_type", "client_credentials"), ("client_id", &other), ("scope", GRAPH_SCOPE)],
        Some((&id, &secret)),
    )
    .await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_request", "basic with another client_id");
    // Both methods at once.
    let r = token_request(
        &app,
        &tid,
        &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret), ("scope", GRAPH_SCOPE)],
        Some((&id, &secret)),
    )
    .await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_request", "basic and post together");
});

api_test!(wrong_secrets_and_unknown_clients_are_invalid_client, |app| {
    let (id, secret) = app.client(app.tenant, &[]).await;
    let tid = app.tenant.to_string();
    let wrong = format!("{secret}x");
    let r = client_credentials(&app, app.tenant, &id, &wrong, GRAPH_SCOPE).await;
    assert_oauth_error(&r, StatusCode::UNAUTHORIZED, "invalid_client", "wrong secret (post)");
    assert!(r.body["error_description"].as_str().unwrap_or_default().contains("AADSTS7000215"), "{}", r.text);
    assert!(r.headers.get("www-authenticate").is_none(), "no Basic challenge when Basic was not used");
    let r =
        token_request(&app, &tid, &[("grant_type", "client_credentials"), ("scope", GRAPH_SCOPE)], Some((&id, &wrong)))
            .await;
    assert_oauth_error(&r, StatusCode::UNAUTHORIZED, "invalid_client", "wrong secret (basic)");
    assert!(r.body["error_description"].as_str().unwrap_or_default().contains("AADSTS7000215"), "{}", r.text);
    assert!(
        r.headers.get("www-authenticate").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("Basic")),
        "RFC 6749 §5.2: Basic challenge"
    );
    // Unknown clients, with either method.
    let unknown = ObjectId::new().to_string();
    let r = client_credentials(&app, app.tenant, &unknown, &secret, GRAPH_SCOPE).await;
    assert_oauth_error(&r, StatusCode::UNAUTHORIZED, "invalid_client", "unknown client (post)");
    let r = token_request(
        &app,
        &tid,
        &[("grant_type", "client_credentials"), ("scope", GRAPH_SCOPE)],
        Some((&unknown, &secret)),
    )
    .await;
    assert_oauth_error(&r, StatusCode::UNAUTHORIZED, "invalid_client", "unknown client (basic)");
    assert!(r.headers.get("www-authenticate").is_some());
    let r = client_credentials(&app, app.tenant, "not-a-guid", &secret, GRAPH_SCOPE).await;
    assert_oauth_error(&r, StatusCode::UNAUTHORIZED, "invalid_client", "client id that is not a GUID");
    // Missing pieces.
    let r = token_request(
        &app,
        &tid,
        &[("grant_type", "client_credentials"), ("client_id", &id), ("scope", GRAPH_SCOPE)],
        None,
    )
    .await;
    assert_oauth_error(&r, StatusCode::UNAUTHORIZED, "invalid_client", "no secret");
    let r = token_request(
        &app,
        &tid,
        &[("grant_type", "client_credentials"), ("client_secret", &secret), ("scope", GRAPH_SCOPE)],
        None,
    )
    .await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_request", "no client_id");
    let r = app
        .raw(
            app.http
                .post(format!("{}/{tid}/oauth2/v2.0/token", app.base))
                .header("Authorization", "Basic !!!")
                .form(&[("grant_type", "client_credentials"), ("scope", GRAPH_SCOPE)]),
        )
        .await;
    assert_oauth_error(&r, StatusCode::UNAUTHORIZED, "invalid_client", "Basic that is not base64");
    // The secret of one client does not authenticate another.
    let (id2, _) = app.client(app.tenant, &[]).await;
    let r = client_credentials(&app, app.tenant, &id2, &secret, GRAPH_SCOPE).await;
    assert_oauth_error(&r, StatusCode::UNAUTHORIZED, "invalid_client", "another client's secret");
});

api_test!(password_implicit_and_unknown_grants_are_refused, |app| {
    let (id, secret) = app.client(app.tenant, &[]).await;
    let tid = app.tenant.to_string();
    let r = token_request(&app, &tid, &[("client_id", &id), ("client_secret", &secret), ("scope", GRAPH_SCOPE)], None)
        .await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_request", "no grant_type");
    for grant in [
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "",
    ] {
        let form = [
            ("grant_type", grant),
            ("client_id", id.as_str()),
            ("client_secret", secret.as_str()),
            ("scope", GRAPH_SCOPE),
            ("username", "a@contoso.test"),
            ("password", "x"),
            ("code", "x"),
        ];
        let r = token_request(&app, &tid, &form, None).await;
        assert_oauth_error(&r, StatusCode::BAD_REQUEST, "unsupported_grant_type", grant);
    }
    let r = token_request(
        &app,
        &tid,
        &[
            ("grant_type", "client_credentials"),
            ("grant_type", "password"),
            ("client_id", &id),
            ("client_secret", &secret),
            ("scope", GRAPH_SCOPE),
        ],
        None,
    )
    .await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_request", "repeated grant_type");
});

api_test!(scopes_name_one_resource_with_the_default_suffix, |app| {
    let (id, secret) = app.client(app.tenant, &["User.Read.All".to_string()]).await;
    for scope in [
        "https://graph.microsoft.com/User.Read.All",
        "User.Read.All",
        "https://graph.microsoft.com",
        "openid",
        "https://graph.microsoft.com/.default openid",
        "https://graph.microsoft.com/.default https://graph.microsoft.com/.default",
        "",
    ] {
        let r = client_credentials(&app, app.tenant, &id, &secret, scope).await;
        assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_scope", scope);
    }
    let r = token_request(
        &app,
        &app.tenant.to_string(),
        &[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)],
        None,
    )
    .await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_request", "no scope");
    for scope in [
        "api://nothing/.default",
        &format!("{}/.default", ObjectId::new()),
        "https://graph.microsoft.com.evil/.default",
    ] {
        let r = client_credentials(&app, app.tenant, &id, &secret, scope).await;
        assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_resource", scope);
    }
    // Microsoft Graph by its app id is Graph.
    for scope in ["00000003-0000-0000-c000-000000000000/.default", "https://graph.microsoft.com//.default", GRAPH_SCOPE]
    {
        let r = client_credentials(&app, app.tenant, &id, &secret, scope).await;
        assert_eq!(r.status, StatusCode::OK, "{scope}: {}", r.text);
        let token = r.body["access_token"].as_str().expect("token");
        assert_eq!(claims_of(token)["aud"], "https://graph.microsoft.com", "{scope}");
        assert_eq!(app.get_as(token, "/v1.0/users").await.status, StatusCode::OK, "{scope}");
    }
});

api_test!(a_custom_api_gets_tokens_with_its_audience_and_assigned_roles_that_graph_refuses, |app| {
    let role_id = uuid::Uuid::new_v4().to_string();
    let role = json!({"id": role_id, "allowedMemberTypes": ["Application"], "displayName": "Read things", "description": "Reads things", "value": "Things.Read", "isEnabled": true});
    let r = app
        .post(
            "/v1.0/applications",
            json!({"displayName": "My API", "identifierUris": ["api://my-api"], "appRoles": [role]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let (api_obj, api_app_id) =
        (r.body["id"].as_str().expect("id").to_string(), r.body["appId"].as_str().expect("appId").to_string());
    let r = app.post("/v1.0/servicePrincipals", json!({"appId": api_app_id})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let resource_sp = r.body["id"].as_str().expect("id").to_string();

    let (client, secret) = app.client(app.tenant, &[]).await;
    let client_sp = sp_of(&app, &client).await;
    let r = app
        .post(
            &format!("/v1.0/servicePrincipals/{resource_sp}/appRoleAssignedTo"),
            json!({"principalId": client_sp, "resourceId": resource_sp, "appRoleId": role_id}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    for scope in ["api://my-api/.default".to_string(), format!("{api_app_id}/.default")] {
        let r = client_credentials(&app, app.tenant, &client, &secret, &scope).await;
        assert_eq!(r.status, StatusCode::OK, "{scope}: {}", r.text);
        let token = r.body["access_token"].as_str().expect("token").to_string();
        let c = claims_of(&token);
        assert_eq!(c["aud"], json!(api_app_id), "{scope}");
        assert_eq!(c["roles"], json!(["Things.Read"]), "{scope}");
        assert_eq!(c["oid"], json!(client_sp));
        // Not a Graph token: the Graph-shaped API refuses it.
        let g = app.get_as(&token, "/v1.0/users").await;
        assert_eq!(g.status, StatusCode::UNAUTHORIZED, "{}", g.text);
        assert!(g.body["error"]["message"].as_str().unwrap_or_default().contains("Invalid audience"), "{}", g.text);
    }
    // A client without the role gets a token without roles.
    let (other, other_secret) = app.client(app.tenant, &[]).await;
    let r = client_credentials(&app, app.tenant, &other, &other_secret, "api://my-api/.default").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(claims_of(r.body["access_token"].as_str().expect("token")).get("roles").is_none());
    // A disabled role is not issued.
    let disabled = json!([{"id": role_id, "allowedMemberTypes": ["Application"], "displayName": "Read things", "description": "Reads things", "value": "Things.Read", "isEnabled": false}]);
    let r = app.patch(&format!("/v1.0/applications/{api_obj}"), json!({"appRoles": disabled})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = client_credentials(&app, app.tenant, &client, &secret, "api://my-api/.default").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        claims_of(r.body["access_token"].as_str().expect("token")).get("roles").is_none(),
        "a disabled role was issued"
    );
    // When the resource requires assignment, clients without an (enabled) role get no token.
    let r =
        app.patch(&format!("/v1.0/servicePrincipals/{resource_sp}"), json!({"appRoleAssignmentRequired": true})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = client_credentials(&app, app.tenant, &other, &other_secret, "api://my-api/.default").await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_grant", "unassigned client");
    // A disabled resource issues nothing.
    let r = app
        .patch(
            &format!("/v1.0/servicePrincipals/{resource_sp}"),
            json!({"accountEnabled": false, "appRoleAssignmentRequired": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = client_credentials(&app, app.tenant, &client, &secret, "api://my-api/.default").await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_resource", "disabled resource");
});

api_test!(issued_tokens_are_not_cached_and_carry_the_client_claims, |app| {
    let perms = vec!["Group.Read.All".to_string(), "User.Read.All".to_string()];
    let (id, secret) = app.client(app.tenant, &perms).await;
    let sp = sp_of(&app, &id).await;
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    let r = client_credentials(&app, app.tenant, &id, &secret, GRAPH_SCOPE).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    assert_eq!(r.headers.get("pragma").and_then(|v| v.to_str().ok()), Some("no-cache"));
    assert_eq!(r.body["token_type"], "Bearer");
    let expires_in = r.body["expires_in"].as_i64().expect("expires_in");
    assert!(expires_in > 0 && expires_in <= 24 * 3600, "{expires_in}");
    let token = r.body["access_token"].as_str().expect("access_token");
    let header = jws::decode_unverified(token).expect("token").header;
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["typ"], "JWT");
    let c = claims_of(token);
    let tid = app.tenant.to_string();
    assert_eq!(c["iss"], json!(format!("{}/{tid}/v2.0", app.base)));
    assert_eq!(c["tid"], json!(tid));
    assert_eq!(c["aud"], "https://graph.microsoft.com");
    assert_eq!(c["oid"], json!(sp));
    assert_eq!(c["sub"], json!(sp));
    assert_eq!(c["azp"], json!(id));
    assert_eq!(c["appid"], json!(id));
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["ver"], "2.0");
    assert!(c.get("scp").is_none(), "an app-only token has no scopes");
    let iat = c["iat"].as_i64().expect("iat");
    assert!((before - 5..=before + 5).contains(&iat), "iat {iat} vs now {before}");
    assert_eq!(c["exp"].as_i64().expect("exp") - iat, expires_in);
    let mut roles: Vec<String> = serde_json::from_value(c["roles"].clone()).expect("roles");
    roles.sort();
    assert_eq!(roles, perms);
    // Each token is unique.
    let again = client_credentials(&app, app.tenant, &id, &secret, GRAPH_SCOPE).await;
    assert_ne!(claims_of(again.body["access_token"].as_str().expect("token"))["uti"], c["uti"]);
    // The token endpoint's errors are not cached either (checked in assert_oauth_error).
    let r = client_credentials(&app, app.tenant, &id, "wrong", GRAPH_SCOPE).await;
    assert_oauth_error(&r, StatusCode::UNAUTHORIZED, "invalid_client", "wrong secret");
});

api_test!(token_requests_must_be_form_encoded, |app| {
    let (id, secret) = app.client(app.tenant, &[]).await;
    let url = format!("{}/{}/oauth2/v2.0/token", app.base, app.tenant);
    let body =
        json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret, "scope": GRAPH_SCOPE});
    let r = app.raw(app.http.post(&url).json(&body)).await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_request", "JSON body");
    let form = format!(
        "grant_type=client_credentials&client_id={id}&client_secret={}&scope={}",
        form_encode(&secret),
        form_encode(GRAPH_SCOPE)
    );
    let r = app.raw(app.http.post(&url).body(form.clone())).await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_request", "no content type");
    let r = app.raw(app.http.post(&url).header("Content-Type", "text/plain").body(form.clone())).await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "invalid_request", "text/plain");
    let r = app
        .raw(app.http.post(&url).header("Content-Type", "application/x-www-form-urlencoded; charset=utf-8").body(form))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // GET is not the token endpoint.
    let r = app.raw(app.http.get(&url)).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.text);
});

api_test!(expired_and_future_client_secrets_are_refused, |app| {
    let (id, secret) = app.client(app.tenant, &[]).await;
    let mut conn = app.state.dir.store.pool().acquire().await.expect("connection");
    let client =
        apps::get_app_by_app_id(&mut conn, app.tenant, &id).await.expect("lookup").expect("the client application");
    let now = to_millis(time::OffsetDateTime::now_utc());
    let hour = 3_600_000;
    let add = |start_at: i64, end_at: i64| {
        let (text, hint) = portico_core::secret::new_client_secret();
        let cred = PasswordCredential {
            key_id: ObjectId::new(),
            application_id: client.id,
            tenant_id: app.tenant,
            display_name: Some("test".into()),
            hint,
            secret_digest: portico_core::secret::digest_secret(&text),
            start_at,
            end_at,
        };
        (text, cred)
    };
    let (expired, expired_cred) = add(now - 48 * hour, now - hour);
    let (future, future_cred) = add(now + 24 * hour, now + 48 * hour);
    apps::insert_password(&mut conn, &expired_cred).await.expect("insert expired secret");
    apps::insert_password(&mut conn, &future_cred).await.expect("insert future secret");
    drop(conn);
    let r = client_credentials(&app, app.tenant, &id, &expired, GRAPH_SCOPE).await;
    assert_oauth_error(&r, StatusCode::UNAUTHORIZED, "invalid_client", "expired secret");
    assert!(r.body["error_description"].as_str().unwrap_or_default().contains("AADSTS7000222"), "{}", r.text);
    let r = client_credentials(&app, app.tenant, &id, &future, GRAPH_SCOPE).await;
    assert_oauth_error(&r, StatusCode::UNAUTHORIZED, "invalid_client", "secret not valid yet");
    // The client's current secret still works.
    assert_eq!(client_credentials(&app, app.tenant, &id, &secret, GRAPH_SCOPE).await.status, StatusCode::OK);
});

api_test!(disabled_or_deleted_clients_get_no_tokens, |app| {
    let (id, secret) = app.client(app.tenant, &[]).await;
    let sp = sp_of(&app, &id).await;
    let r = app.patch(&format!("/v1.0/servicePrincipals/{sp}"), json!({"accountEnabled": false})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = client_credentials(&app, app.tenant, &id, &secret, GRAPH_SCOPE).await;
    assert_oauth_error(&r, StatusCode::BAD_REQUEST, "unauthorized_client", "disabled client");
    // A removed secret no longer authenticates.
    let (id2, secret2) = app.client(app.tenant, &[]).await;
    let r = app.get(&format!("/v1.0/applications?$filter=appId eq '{id2}'")).await;
    let obj = r.body["value"][0]["id"].as_str().expect("application").to_string();
    let key_id = r.body["value"][0]["passwordCredentials"][0]["keyId"].as_str().expect("keyId").to_string();
    let r = app.post(&format!("/v1.0/applications/{obj}/removePassword"), json!({"keyId": key_id})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = client_credentials(&app, app.tenant, &id2, &secret2, GRAPH_SCOPE).await;
    assert_oauth_error(&r, StatusCode::UNAUTHORIZED, "invalid_client", "removed secret");
});

api_test!(a_new_tenant_gets_its_first_signing_key_on_first_use_and_keeps_it, |app| {
    let t = app.state.dir.create_tenant("Lazy", None, &portico_http::audit::Actor::CommandLine).await.expect("tenant");
    let now = portico_core::clock::to_millis(time::OffsetDateTime::now_utc());
    assert!(
        portico_store::keys::published(&app.state.dir.store, t.id, now).await.unwrap().is_empty(),
        "creating a tenant makes no key"
    );
    let r = app.raw(app.http.get(format!("{}/{}/discovery/v2.0/keys", app.base, t.id))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let keys = r.body["keys"].as_array().expect("keys").clone();
    assert_eq!(keys.len(), 1, "the JWKS is never empty: {}", r.text);
    // The next request publishes the same key, and tokens are signed with it.
    let again = app.raw(app.http.get(format!("{}/{}/discovery/v2.0/keys", app.base, t.id))).await;
    assert_eq!(again.body["keys"], serde_json::Value::Array(keys.clone()));
    let token = app.token_with(t.id, &["User.Read.All".to_string()]).await;
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], keys[0]["kid"]);
});
