//! Authentication and authorization of the Graph-shaped API: what a bearer token must be (signed
//! by the tenant's published key, right issuer, audience and lifetime) and what its `roles` allow.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use portico_core::ids::TenantId;
use portico_http::audit::Actor;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::common::{Resp, TestApp, all_permissions};
use crate::isolation::{fill, populate};

fn claims_of(token: &str) -> Value {
    portico_core::jws::decode_unverified(token).expect("a compact JWS").claims
}

fn header_of(token: &str) -> Value {
    portico_core::jws::decode_unverified(token).expect("a compact JWS").header
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Signs `claims` with the active key of `tenant`, as the token endpoint would.
async fn sign(app: &TestApp, tenant: TenantId, claims: &Value) -> String {
    let signer = app.state.dir.keys.signer(&app.state.dir.store, tenant).await.expect("signer");
    signer.sign_jwt(claims).expect("sign")
}

/// The harness token's claims with some replaced, signed by `tenant`'s key.
async fn forged(app: &TestApp, tenant: TenantId, changes: Value) -> String {
    let mut claims = claims_of(&app.token);
    for (k, v) in changes.as_object().expect("object") {
        claims[k] = v.clone();
    }
    sign(app, tenant, &claims).await
}

fn perms(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_string()).collect()
}

fn assert_unauthenticated(r: &Resp, what: &str) {
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.text);
    assert_eq!(r.code(), "InvalidAuthenticationToken", "{what}: {}", r.text);
    assert_eq!(r.headers.get("www-authenticate").and_then(|v| v.to_str().ok()), Some("Bearer"), "{what}");
}

fn assert_forbidden(r: &Resp, what: &str) {
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {}", r.text);
    assert_eq!(r.code(), "Authorization_RequestDenied", "{what}: {}", r.text);
}

api_test!(requests_without_a_bearer_token_are_unauthenticated, |app| {
    let r = app.raw(app.http.get(format!("{}/v1.0/users", app.base))).await;
    assert_unauthenticated(&r, "no Authorization header");
    assert!(r.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    let r =
        app.raw(app.http.get(format!("{}/v1.0/users", app.base)).header("Authorization", "Basic dXNlcjpwYXNz")).await;
    assert_unauthenticated(&r, "Basic credentials");
    let r = app.raw(app.http.get(format!("{}/v1.0/users", app.base)).header("Authorization", "Bearer ")).await;
    assert_unauthenticated(&r, "empty bearer token");
    // Writes are refused before the body is looked at.
    let r = app.raw(app.http.post(format!("{}/v1.0/users", app.base)).json(&json!({}))).await;
    assert_unauthenticated(&r, "POST without a token");
});

api_test!(the_bearer_scheme_name_is_case_insensitive, |app| {
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let r = app
            .raw(
                app.http
                    .get(format!("{}/v1.0/users", app.base))
                    .header("Authorization", format!("{scheme} {}", app.token)),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{scheme}: {}", r.text);
    }
    let r = app
        .raw(app.http.get(format!("{}/v1.0/users", app.base)).header("Authorization", format!("Bearer{}", app.token)))
        .await;
    assert_unauthenticated(&r, "no space after the scheme");
});

api_test!(malformed_and_tampered_tokens_are_unauthenticated, |app| {
    for garbage in ["garbage", "a.b.c", "a.b", "....", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", &"x".repeat(20_000)] {
        let r = app.get_as(garbage, "/v1.0/users").await;
        assert_unauthenticated(&r, &format!("garbage token {:.20}", garbage));
    }
    // Payload altered (more roles, another object id), signature kept.
    let parts: Vec<&str> = app.token.split('.').collect();
    let mut claims = claims_of(&app.token);
    claims["oid"] = json!(uuid::Uuid::new_v4().to_string());
    let altered = format!("{}.{}.{}", parts[0], B64.encode(claims.to_string()), parts[2]);
    assert_unauthenticated(&app.get_as(&altered, "/v1.0/users").await, "altered payload");
    // Signature of another token.
    let other = app.token_with(app.tenant, &perms(&["User.Read.All"])).await;
    let swapped = format!("{}.{}.{}", parts[0], parts[1], other.split('.').nth(2).expect("signature"));
    assert_unauthenticated(&app.get_as(&swapped, "/v1.0/users").await, "signature of another token");
    // alg none (with and without a signature), and HS256 keyed with the public key id.
    let kid = header_of(&app.token)["kid"].clone();
    for alg in ["none", "None", "HS256"] {
        let header = B64.encode(json!({"alg": alg, "typ": "JWT", "kid": kid}).to_string());
        for sig in ["", parts[2]] {
            let t = format!("{header}.{}.{sig}", parts[1]);
            assert_unauthenticated(&app.get_as(&t, "/v1.0/users").await, &format!("alg {alg}"));
        }
    }
    // No kid at all.
    let header = B64.encode(json!({"alg": "RS256", "typ": "JWT"}).to_string());
    assert_unauthenticated(&app.get_as(&format!("{header}.{}.{}", parts[1], parts[2]), "/v1.0/users").await, "no kid");
});

api_test!(token_lifetime_is_enforced_with_five_minutes_of_skew, |app| {
    let t = now();
    let expired = forged(&app, app.tenant, json!({"iat": t - 7200, "nbf": t - 7200, "exp": t - 600})).await;
    let r = app.get_as(&expired, "/v1.0/users").await;
    assert_unauthenticated(&r, "expired");
    assert!(
        r.body["error"]["message"].as_str().unwrap_or_default().starts_with("Lifetime validation failed"),
        "{}",
        r.text
    );
    // Within the skew it is still good.
    let just_expired = forged(&app, app.tenant, json!({"iat": t - 3700, "nbf": t - 3700, "exp": t - 60})).await;
    assert_eq!(app.get_as(&just_expired, "/v1.0/users").await.status, StatusCode::OK);
    let future = forged(&app, app.tenant, json!({"iat": t, "nbf": t + 600, "exp": t + 4200})).await;
    let r = app.get_as(&future, "/v1.0/users").await;
    assert_unauthenticated(&r, "nbf in the future");
    assert!(
        r.body["error"]["message"].as_str().unwrap_or_default().starts_with("Lifetime validation failed"),
        "{}",
        r.text
    );
    let no_exp = {
        let mut c = claims_of(&app.token);
        c.as_object_mut().expect("object").remove("exp");
        sign(&app, app.tenant, &c).await
    };
    assert_unauthenticated(&app.get_as(&no_exp, "/v1.0/users").await, "no exp");
});

api_test!(audience_and_issuer_must_be_graph_and_the_tenant, |app| {
    let r = app.get_as(&forged(&app, app.tenant, json!({"aud": "api://something"})).await, "/v1.0/users").await;
    assert_unauthenticated(&r, "wrong audience");
    assert!(r.body["error"]["message"].as_str().unwrap_or_default().contains("Invalid audience"), "{}", r.text);
    let r = app
        .get_as(&forged(&app, app.tenant, json!({"aud": ["https://graph.microsoft.com"]})).await, "/v1.0/users")
        .await;
    assert_unauthenticated(&r, "audience as an array");
    // The Graph app id as audience is Graph.
    let r = app
        .get_as(&forged(&app, app.tenant, json!({"aud": "00000003-0000-0000-c000-000000000000"})).await, "/v1.0/users")
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let tid = app.tenant.to_string();
    for iss in [
        format!("https://login.microsoftonline.com/{tid}/v2.0"),
        format!("https://sts.windows.net/{tid}/"),
        format!("{}/{}/v2.0", app.base, TenantId::new()),
        format!("{}/{tid}/v2.0/", app.base),
    ] {
        let r = app.get_as(&forged(&app, app.tenant, json!({ "iss": iss })).await, "/v1.0/users").await;
        assert_unauthenticated(&r, &format!("issuer {iss}"));
    }
});

api_test!(a_token_signed_by_another_tenant_is_refused_and_a_tenants_token_acts_there_only, |app| {
    let (tb, token_b) = app.new_tenant("Fabrikam", Some("fabrikam.test"), &all_permissions()).await;
    // B's key, A's claims.
    let r = app.get_as(&forged(&app, tb, json!({})).await, "/v1.0/users").await;
    assert_unauthenticated(&r, "A's claims signed with B's key");
    // B's key, B's claims but A's tid (and iss).
    let mut c = claims_of(&token_b);
    c["tid"] = json!(app.tenant.to_string());
    c["iss"] = json!(format!("{}/{}/v2.0", app.base, app.tenant));
    let r = app.get_as(&sign(&app, tb, &c).await, "/v1.0/users").await;
    assert_unauthenticated(&r, "B's token claiming A's tenant");
    // B's token names B's issuer but A's tid: the issuer check refuses it even with B's key.
    let mut c = claims_of(&token_b);
    c["tid"] = json!(app.tenant.to_string());
    assert_unauthenticated(&app.get_as(&sign(&app, tb, &c).await, "/v1.0/users").await, "tid of A, iss of B");

    // B's real token acts in B: it creates there, lists there, and sees nothing of A.
    let a_user = app.create_user("alice", "Alice A").await;
    let r = app
        .post_as(
            &token_b,
            "/v1.0/users",
            json!({"accountEnabled": true, "displayName": "Bob B", "mailNickname": "bob", "userPrincipalName": "bob@fabrikam.test",
                   "passwordProfile": {"password": "correct horse battery staple"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let b_user = r.body["id"].as_str().expect("id").to_string();
    let list_b = app.get_as(&token_b, "/v1.0/users?$top=999").await;
    assert!(list_b.text.contains(&b_user));
    assert!(!list_b.text.contains(a_user["id"].as_str().expect("id")));
    let list_a = app.get("/v1.0/users?$top=999").await;
    assert!(!list_a.text.contains(&b_user));
    assert_eq!(app.get_as(&token_b, "/v1.0/organization").await.body["value"][0]["id"], json!(tb.to_string()));
    // A token of B cannot name A's organization.
    let r = app.get_as(&token_b, &format!("/v1.0/organization/{}", app.tenant)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
});

api_test!(a_token_without_roles_is_denied_on_every_route, |app| {
    let objects = populate(&app, app.tenant, &app.token, app.domain()).await;
    let none = app.token_with(app.tenant, &[]).await;
    assert!(claims_of(&none).get("roles").is_none(), "a client without grants got roles");
    let mut failures = vec![];
    for route in portico_http::graph::routes::routes() {
        for path in fill(route.path, &objects).unwrap_or_else(|e| panic!("{e}")) {
            let m = reqwest::Method::from_bytes(route.method.as_bytes()).expect("method");
            let mut rb = app
                .http
                .request(m, format!("{}{path}", app.base))
                .bearer_auth(&none)
                .header("ConsistencyLevel", "eventual");
            if route.method == "POST" || route.method == "PATCH" {
                rb = rb.json(&json!({}));
            }
            let r = app.raw(rb).await;
            let ok = match (route.path, route.action) {
                // /me needs a delegated token; an app-only one is a bad request, whatever its roles.
                ("/me" | "/me/revokeSignInSessions", None) => r.status == StatusCode::BAD_REQUEST,
                _ => r.status == StatusCode::FORBIDDEN && r.code() == "Authorization_RequestDenied",
            };
            if !ok {
                failures.push(format!("{} {path} answered {}: {}", route.method, r.status, r.text));
            }
        }
    }
    assert!(failures.is_empty(), "routes that did not deny a token without roles:\n{}", failures.join("\n"));
});

api_test!(each_permission_allows_only_what_it_names, |app| {
    let user = app.create_user("lee", "Lee Least").await;
    let uid = user["id"].as_str().expect("id").to_string();
    let group = app.create_group("Least group").await;
    let gid = group["id"].as_str().expect("id").to_string();
    let new_user = |alias: &str| {
        json!({"accountEnabled": true, "displayName": alias, "mailNickname": alias, "userPrincipalName": format!("{alias}@contoso.test"),
               "passwordProfile": {"password": "correct horse battery staple"}})
    };
    let member_ref = json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{uid}")});
    let new_group = json!({"displayName": "G", "mailEnabled": false, "mailNickname": "g", "securityEnabled": true});

    // User.Read.All reads users and nothing is written with it.
    let t = app.token_with(app.tenant, &perms(&["User.Read.All"])).await;
    assert_eq!(app.get_as(&t, "/v1.0/users").await.status, StatusCode::OK);
    assert_eq!(app.get_as(&t, &format!("/v1.0/users/{uid}")).await.status, StatusCode::OK);
    assert_forbidden(&app.post_as(&t, "/v1.0/users", new_user("nope")).await, "User.Read.All POST /users");
    assert_forbidden(
        &app.patch_as(&t, &format!("/v1.0/users/{uid}"), json!({"jobTitle": "x"})).await,
        "User.Read.All PATCH",
    );
    assert_forbidden(&app.delete_as(&t, &format!("/v1.0/users/{uid}")).await, "User.Read.All DELETE");
    assert_forbidden(&app.get_as(&t, "/v1.0/groups").await, "User.Read.All GET /groups");

    // Group.Read.All reads groups and memberships, and changes none.
    let t = app.token_with(app.tenant, &perms(&["Group.Read.All"])).await;
    assert_eq!(app.get_as(&t, &format!("/v1.0/groups/{gid}/members")).await.status, StatusCode::OK);
    assert_forbidden(
        &app.post_as(&t, &format!("/v1.0/groups/{gid}/members/$ref"), member_ref.clone()).await,
        "Group.Read.All add member",
    );
    assert_forbidden(&app.post_as(&t, "/v1.0/groups", new_group.clone()).await, "Group.Read.All POST /groups");

    // GroupMember.ReadWrite.All changes memberships but creates no groups.
    let t = app.token_with(app.tenant, &perms(&["GroupMember.ReadWrite.All"])).await;
    let r = app.post_as(&t, &format!("/v1.0/groups/{gid}/members/$ref"), member_ref.clone()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_forbidden(
        &app.post_as(&t, "/v1.0/groups", new_group.clone()).await,
        "GroupMember.ReadWrite.All POST /groups",
    );
    assert_forbidden(
        &app.patch_as(&t, &format!("/v1.0/groups/{gid}"), json!({"description": "x"})).await,
        "GroupMember.ReadWrite.All PATCH group",
    );
    let r = app.delete_as(&t, &format!("/v1.0/groups/{gid}/members/{uid}/$ref")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    // AuditLog.Read.All reads the audit log, not the directory.
    let t = app.token_with(app.tenant, &perms(&["AuditLog.Read.All"])).await;
    assert_eq!(app.get_as(&t, "/v1.0/auditLogs/directoryAudits").await.status, StatusCode::OK);
    assert_forbidden(&app.get_as(&t, "/v1.0/users").await, "AuditLog.Read.All GET /users");

    // Registering applications needs Application.ReadWrite.All; Directory.ReadWrite.All is not enough (as in Graph).
    let t = app.token_with(app.tenant, &perms(&["Directory.ReadWrite.All"])).await;
    assert_forbidden(
        &app.post_as(&t, "/v1.0/applications", json!({"displayName": "Nope"})).await,
        "Directory.ReadWrite.All POST /applications",
    );
    assert_eq!(app.get_as(&t, "/v1.0/applications").await.status, StatusCode::OK);
    let t = app.token_with(app.tenant, &perms(&["Application.ReadWrite.All"])).await;
    let r = app.post_as(&t, "/v1.0/applications", json!({"displayName": "Yes"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_forbidden(&app.get_as(&t, "/v1.0/users").await, "Application.ReadWrite.All GET /users");
});

api_test!(me_needs_a_delegated_token, |app| {
    let r = app.get("/v1.0/me").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["message"], json!("/me request is only valid with delegated authentication flow."));
});

api_test!(rotated_keys_keep_old_tokens_valid_and_sign_new_ones, |app| {
    let jwks = |app: &TestApp| {
        let url = format!("{}/{}/discovery/v2.0/keys", app.base, app.tenant);
        let http = app.http.clone();
        async move {
            let v: Value = http.get(url).send().await.expect("jwks").json().await.expect("jwks json");
            v["keys"]
                .as_array()
                .expect("keys")
                .iter()
                .map(|k| k["kid"].as_str().expect("kid").to_string())
                .collect::<Vec<_>>()
        }
    };
    let old_kid = header_of(&app.token)["kid"].as_str().expect("kid").to_string();
    assert_eq!(jwks(&app).await, vec![old_kid.clone()]);
    let new_kid = app.state.dir.rotate_key(app.tenant, None, &Actor::CommandLine).await.expect("rotate");
    assert_ne!(new_kid, old_kid);
    // Signed before the rotation: still accepted, its key still published.
    assert_eq!(app.get("/v1.0/users").await.status, StatusCode::OK);
    let kids = jwks(&app).await;
    assert_eq!(kids.len(), 2, "{kids:?}");
    assert!(kids.contains(&old_kid) && kids.contains(&new_kid), "{kids:?}");
    // New tokens carry the new kid and work.
    let fresh = app.token_with(app.tenant, &all_permissions()).await;
    assert_eq!(header_of(&fresh)["kid"], json!(new_kid));
    assert_eq!(app.get_as(&fresh, "/v1.0/users").await.status, StatusCode::OK);
    // A second rotation keeps the first retired key too (each stays for a token lifetime).
    let third = app.state.dir.rotate_key(app.tenant, None, &Actor::CommandLine).await.expect("rotate");
    assert_eq!(jwks(&app).await.len(), 3);
    assert_eq!(app.get_as(&fresh, "/v1.0/users").await.status, StatusCode::OK);
    assert_eq!(app.get("/v1.0/users").await.status, StatusCode::OK);
    assert_eq!(header_of(&app.token_with(app.tenant, &[]).await)["kid"], json!(third));
});
