//! `/oauth2PermissionGrants` (delegated consent), `revokeSignInSessions`, and an application's
//! `groupMembershipClaims`.

use portico_core::access::{GRAPH_APP_ID, GRAPH_RESOURCE};
use portico_core::ids::{ObjectId, TenantId};
use portico_store::signin;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::common::{TestApp, all_permissions, jwt_claims, urlencode};

async fn graph_sp(app: &TestApp, token: &str) -> String {
    let f = urlencode(&format!("appId eq '{GRAPH_APP_ID}'"));
    let r = app.get_as(token, &format!("/v1.0/servicePrincipals?$filter={f}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["value"][0]["id"].as_str().expect("Microsoft Graph service principal").to_string()
}

/// An API application exposing `Things.Read` (enabled) and `Things.Old` (disabled), with its
/// service principal; returns the service principal id.
async fn api_resource(app: &TestApp) -> String {
    let r = app
        .post(
            "/v1.0/applications",
            json!({"displayName": "Things API", "api": {"oauth2PermissionScopes": [
                {"id": uuid::Uuid::new_v4().to_string(), "value": "Things.Read", "type": "User", "isEnabled": true,
                 "adminConsentDisplayName": "Read things", "adminConsentDescription": "Read things"},
                {"id": uuid::Uuid::new_v4().to_string(), "value": "Things.Old", "type": "User", "isEnabled": false,
                 "adminConsentDisplayName": "Old", "adminConsentDescription": "Old"}
            ]}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app.post("/v1.0/servicePrincipals", json!({"appId": r.body["appId"]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body["id"].as_str().expect("id").to_string()
}

api_test!(grants_are_created_listed_updated_and_deleted, |app| {
    let graph = graph_sp(&app, &app.token).await;
    let client = jwt_claims(&app.token)["oid"].as_str().expect("oid").to_string();
    let things = api_resource(&app).await;
    let user = app.create_user("consenter", "Consenter").await;
    let uid = user["id"].as_str().expect("id").to_string();

    // Admin consent to Graph scopes (spelling normalized, duplicates dropped).
    let r = app
        .post(
            "/v1.0/oauth2PermissionGrants",
            json!({"clientId": client, "consentType": "AllPrincipals", "resourceId": graph, "scope": " user.read  openid User.Read"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let admin = r.body["id"].as_str().expect("id").to_string();
    assert_eq!(r.body["scope"], json!("User.Read openid"));
    assert_eq!(r.body["principalId"], Value::Null);
    assert_eq!(r.body["consentType"], json!("AllPrincipals"));
    assert!(
        r.body["@odata.context"].as_str().unwrap_or_default().ends_with("$metadata#oauth2PermissionGrants/$entity")
    );

    // The same (client, resource, principal) again: 409.
    let r = app
        .post(
            "/v1.0/oauth2PermissionGrants",
            json!({"clientId": client, "consentType": "AllPrincipals", "resourceId": graph, "scope": "profile"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert!(!r.code().is_empty());

    // A user's consent to the custom API.
    let r = app
        .post(
            "/v1.0/oauth2PermissionGrants",
            json!({"clientId": client, "consentType": "Principal", "principalId": uid, "resourceId": things, "scope": "Things.Read"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let personal = r.body["id"].as_str().expect("id").to_string();
    assert_eq!(r.body["principalId"], json!(uid));

    // Validation.
    let bad = [
        json!({"clientId": client, "consentType": "Principal", "resourceId": graph, "scope": "User.Read"}),
        json!({"clientId": client, "consentType": "AllPrincipals", "principalId": uid, "resourceId": things, "scope": "Things.Read"}),
        json!({"clientId": client, "consentType": "Everyone", "resourceId": things, "scope": "Things.Read"}),
        json!({"clientId": client, "consentType": "AllPrincipals", "resourceId": things, "scope": "Things.Write"}),
        json!({"clientId": client, "consentType": "AllPrincipals", "resourceId": things, "scope": "Things.Old"}),
        json!({"clientId": client, "consentType": "AllPrincipals", "resourceId": things, "scope": "Mail.Send.Everything"}),
        json!({"clientId": ObjectId::new().to_string(), "consentType": "AllPrincipals", "resourceId": graph, "scope": "User.Read"}),
        json!({"clientId": "nope", "consentType": "AllPrincipals", "resourceId": graph, "scope": "User.Read"}),
        json!({"clientId": client, "consentType": "AllPrincipals", "resourceId": uid, "scope": "User.Read"}),
        json!({"clientId": client, "consentType": "Principal", "principalId": ObjectId::new().to_string(), "resourceId": graph, "scope": "User.Read"}),
        json!({"clientId": client, "consentType": "AllPrincipals", "resourceId": things, "scope": "Things.Read", "id": "x"}),
        json!({"clientId": client, "consentType": "AllPrincipals", "resourceId": things, "scope": "Things.Read", "color": "red"}),
        json!({"consentType": "AllPrincipals", "resourceId": things, "scope": "Things.Read"}),
    ];
    for b in bad {
        let r = app.post("/v1.0/oauth2PermissionGrants", b.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{b}: {}", r.text);
    }

    // Reads.
    let r = app.get("/v1.0/oauth2PermissionGrants").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut all = TestApp::ids(&r);
    all.sort();
    let mut want = vec![admin.clone(), personal.clone()];
    want.sort();
    assert_eq!(all, want);
    let f = |q: &str| format!("/v1.0/oauth2PermissionGrants?$filter={}", urlencode(q));
    assert_eq!(TestApp::ids(&app.get(&f("consentType eq 'Principal'")).await), vec![personal.clone()]);
    assert_eq!(TestApp::ids(&app.get(&f(&format!("resourceId eq '{graph}'"))).await), vec![admin.clone()]);
    assert_eq!(TestApp::ids(&app.get(&f(&format!("principalId eq '{uid}'"))).await), vec![personal.clone()]);
    assert_eq!(TestApp::ids(&app.get(&f(&format!("clientId eq '{client}'"))).await).len(), 2);
    assert_eq!(app.get(&f("scope eq 'User.Read'")).await.status, StatusCode::BAD_REQUEST);
    let r = app.get("/v1.0/oauth2PermissionGrants?$top=1").await;
    assert_eq!(TestApp::ids(&r).len(), 1);
    assert!(r.body["@odata.nextLink"].is_string());
    assert_eq!(
        TestApp::ids(&app.get(&format!("/v1.0/users/{uid}/oauth2PermissionGrants")).await),
        vec![personal.clone()]
    );
    assert_eq!(
        TestApp::ids(&app.get(&format!("/v1.0/servicePrincipals/{client}/oauth2PermissionGrants")).await).len(),
        2
    );
    assert!(
        TestApp::ids(&app.get(&format!("/v1.0/servicePrincipals/{graph}/oauth2PermissionGrants")).await).is_empty()
    );
    let r = app.get(&format!("/v1.0/oauth2PermissionGrants/{admin}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["clientId"], json!(client));
    assert_eq!(r.body["resourceId"], json!(graph));
    assert_eq!(app.get("/v1.0/oauth2PermissionGrants/unknown-grant").await.status, StatusCode::NOT_FOUND);

    // Scope changes, checked against the resource.
    let r = app.patch(&format!("/v1.0/oauth2PermissionGrants/{admin}"), json!({"scope": "User.Read profile"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        app.get(&format!("/v1.0/oauth2PermissionGrants/{admin}")).await.body["scope"],
        json!("User.Read profile")
    );
    let r = app.patch(&format!("/v1.0/oauth2PermissionGrants/{admin}"), json!({"scope": "Things.Read"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app.patch(&format!("/v1.0/oauth2PermissionGrants/{admin}"), json!({"clientId": things})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    // Audit records.
    let added = app.audits_for("Add delegated permission grant", &graph).await;
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(added[0]["category"], json!("ApplicationManagement"));
    assert_eq!(app.audits_for("Add delegated permission grant", &things).await.len(), 1);
    assert_eq!(app.audits_for("Update delegated permission grant", &graph).await.len(), 1);

    // Delete.
    let r = app.delete(&format!("/v1.0/oauth2PermissionGrants/{personal}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get(&format!("/v1.0/oauth2PermissionGrants/{personal}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&format!("/v1.0/oauth2PermissionGrants/{personal}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.audits_for("Remove delegated permission grant", &things).await.len(), 1);
    // The pair is free again.
    let r = app
        .post(
            "/v1.0/oauth2PermissionGrants",
            json!({"clientId": client, "consentType": "Principal", "principalId": uid, "resourceId": things, "scope": "Things.Read"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
});

api_test!(grants_need_permissions_and_stay_in_their_tenant, |app| {
    let graph = graph_sp(&app, &app.token).await;
    let client = jwt_claims(&app.token)["oid"].as_str().expect("oid").to_string();
    let r = app
        .post(
            "/v1.0/oauth2PermissionGrants",
            json!({"clientId": client, "consentType": "AllPrincipals", "resourceId": graph, "scope": "User.Read"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().expect("id").to_string();

    let (_, other) = app.new_tenant("Fabrikam", Some("fabrikam.test"), &all_permissions()).await;
    let path = format!("/v1.0/oauth2PermissionGrants/{id}");
    assert_eq!(app.get_as(&other, &path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.patch_as(&other, &path, json!({"scope": "openid"})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete_as(&other, &path).await.status, StatusCode::NOT_FOUND);
    let r = app.get_as(&other, "/v1.0/oauth2PermissionGrants").await;
    assert!(!r.text.contains(&id), "{}", r.text);
    // Naming the first tenant's service principals from the other tenant is refused.
    let other_graph = graph_sp(&app, &other).await;
    let r = app
        .post_as(
            &other,
            "/v1.0/oauth2PermissionGrants",
            json!({"clientId": client, "consentType": "AllPrincipals", "resourceId": other_graph, "scope": "User.Read"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(app.get(&path).await.body["scope"], json!("User.Read"));

    // Reading needs Application.Read.All or Directory.Read.All; writing AppRoleAssignment.ReadWrite.All.
    let read = app.token_with(app.tenant, &["Application.Read.All".to_string()]).await;
    assert_eq!(app.get_as(&read, &path).await.status, StatusCode::OK);
    assert_eq!(app.patch_as(&read, &path, json!({"scope": "openid"})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.delete_as(&read, &path).await.status, StatusCode::FORBIDDEN);
    let none = app.token_with(app.tenant, &["User.Read.All".to_string()]).await;
    assert_eq!(app.get_as(&none, "/v1.0/oauth2PermissionGrants").await.status, StatusCode::FORBIDDEN);
});

fn now_ms() -> i64 {
    portico_core::clock::to_millis(time::OffsetDateTime::now_utc())
}

/// A browser session and a grant made in it for `user`; returns the grant id.
async fn signed_in(app: &TestApp, tenant: TenantId, user: ObjectId) -> ObjectId {
    app.stored_sign_in(tenant, user, &ObjectId::new().to_string(), "openid User.Read").await.1
}

async fn live(app: &TestApp, tenant: TenantId, grant: ObjectId) -> bool {
    let mut conn = app.state.dir.store.pool().acquire().await.expect("conn");
    signin::grant_is_live(&mut conn, tenant, grant, now_ms()).await.expect("grant_is_live")
}

/// A delegated Graph token for `user` naming `grant`, signed with the tenant's key.
async fn user_token(app: &TestApp, user: &Value, grant: ObjectId, scp: &str) -> String {
    let tid = app.tenant;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "aud": GRAPH_RESOURCE, "iss": app.state.dir.settings.issuer(tid),
        "iat": now, "nbf": now, "exp": now + 3600,
        "azp": ObjectId::new().to_string(), "idtyp": "user", "oid": user["id"],
        "preferred_username": user["userPrincipalName"], "scp": scp, "tid": tid.to_string(),
        "ver": "2.0", "wids": [], "xms_grant": grant.to_string(),
    });
    let signer = app.state.dir.keys.signer(&app.state.dir.store, tid).await.expect("signer");
    signer.sign_jwt(&claims).expect("sign")
}

api_test!(revoke_sign_in_sessions_ends_sessions_and_grants, |app| {
    let user = app.create_user("revokee", "Revokee").await;
    let id = user["id"].as_str().expect("id").to_string();
    let uid = ObjectId::parse(&id).expect("guid");
    let grant = signed_in(&app, app.tenant, uid).await;
    let bystander = app.create_user("bystander", "Bystander").await;
    let other_grant =
        signed_in(&app, app.tenant, ObjectId::parse(bystander["id"].as_str().expect("id")).expect("guid")).await;
    assert!(live(&app, app.tenant, grant).await);

    let r = app.post(&format!("/v1.0/users/{id}/revokeSignInSessions"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["value"], json!(true));
    assert_eq!(r.body["@odata.context"], json!(format!("{}/v1.0/$metadata#Edm.Boolean", app.base)));
    assert!(!live(&app, app.tenant, grant).await, "the user's grant is revoked");
    assert!(live(&app, app.tenant, other_grant).await, "other users keep theirs");
    assert_eq!(app.audits_for("Invalidate all refresh tokens for a user", &id).await.len(), 1);

    // By UPN too; unknown users are 404; User.ReadWrite.All is needed.
    let upn = user["userPrincipalName"].as_str().expect("upn");
    assert_eq!(app.post(&format!("/v1.0/users/{upn}/revokeSignInSessions"), json!({})).await.status, StatusCode::OK);
    let r = app.post(&format!("/v1.0/users/{}/revokeSignInSessions", ObjectId::new()), json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let read = app.token_with(app.tenant, &["User.Read.All".to_string()]).await;
    let r = app.post_as(&read, &format!("/v1.0/users/{id}/revokeSignInSessions"), json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // Another tenant cannot revoke this tenant's user.
    let (_, other) = app.new_tenant("Fabrikam", Some("fabrikam.test"), &all_permissions()).await;
    let r = app
        .post_as(
            &other,
            &format!("/v1.0/users/{}/revokeSignInSessions", bystander["id"].as_str().expect("id")),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(live(&app, app.tenant, other_grant).await);
});

api_test!(me_revoke_sign_in_sessions_is_for_the_signed_in_user, |app| {
    let user = app.create_user("selfie", "Selfie").await;
    let uid = ObjectId::parse(user["id"].as_str().expect("id")).expect("guid");
    let grant = signed_in(&app, app.tenant, uid).await;
    let token = user_token(&app, &user, grant, "User.Read").await;
    let r = app.get_as(&token, "/v1.0/me").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let r = app.post_as(&token, "/v1.0/me/revokeSignInSessions", json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["value"], json!(true));
    assert!(!live(&app, app.tenant, grant).await);
    // The token named the revoked grant: it stops working at once.
    assert_eq!(app.get_as(&token, "/v1.0/me").await.status, StatusCode::UNAUTHORIZED);

    // App-only tokens have no "me".
    let r = app.post("/v1.0/me/revokeSignInSessions", json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
});

api_test!(group_membership_claims_round_trip, |app| {
    let r = app
        .post("/v1.0/applications", json!({"displayName": "Claims app", "groupMembershipClaims": "securitygroup"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["groupMembershipClaims"], json!("SecurityGroup"));
    let id = r.body["id"].as_str().expect("id").to_string();
    let path = format!("/v1.0/applications/{id}");

    let r = app.patch(&path, json!({"groupMembershipClaims": "SecurityGroup,DirectoryRole"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get(&path).await.body["groupMembershipClaims"], json!("SecurityGroup,DirectoryRole"));
    let listed = app.get("/v1.0/applications").await;
    let me =
        listed.body["value"].as_array().expect("value").iter().find(|a| a["id"] == json!(id)).cloned().expect("listed");
    assert_eq!(me["groupMembershipClaims"], json!("SecurityGroup,DirectoryRole"));
    let audits = app.audits_for("Update application", &id).await;
    assert!(
        audits.iter().any(|a| a["targetResources"][0]["modifiedProperties"]
            .as_array()
            .is_some_and(|m| m.iter().any(|p| p["displayName"] == json!("groupMembershipClaims")))),
        "{audits:?}"
    );

    for bad in [json!("Everything"), json!("All,,None"), json!(7), json!(["All"])] {
        let r = app.patch(&path, json!({"groupMembershipClaims": bad})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }
    let r =
        app.post("/v1.0/applications", json!({"displayName": "Bad claims", "groupMembershipClaims": "Groups"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.get(&path).await.body["groupMembershipClaims"], json!("SecurityGroup,DirectoryRole"));

    let r = app.patch(&path, json!({"groupMembershipClaims": null})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get(&path).await.body["groupMembershipClaims"], Value::Null);
    let plain = app.post("/v1.0/applications", json!({"displayName": "No claims"})).await;
    assert_eq!(plain.body["groupMembershipClaims"], Value::Null);
});

api_test!(graph_service_principal_lists_its_delegated_scopes, |app| {
    let graph = graph_sp(&app, &app.token).await;
    let r = app.get(&format!("/v1.0/servicePrincipals/{graph}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let scopes = r.body["oauth2PermissionScopes"].as_array().expect("oauth2PermissionScopes");
    let user_read = scopes.iter().find(|s| s["value"] == json!("User.Read")).expect("User.Read");
    assert_eq!(user_read["id"], json!("e1fe6dd8-ba31-4d61-89e7-88639da4683d"));
    assert_eq!(user_read["type"], json!("User"));
    assert_eq!(user_read["isEnabled"], json!(true));
    let audit = scopes.iter().find(|s| s["value"] == json!("AuditLog.Read.All")).expect("AuditLog.Read.All");
    assert_eq!(audit["type"], json!("Admin"));
});
