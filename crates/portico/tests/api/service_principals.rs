//! Tests of the Graph-shaped API: service principals and app role assignments.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::common::{Resp, TestApp, jwt_claims, urlencode};

const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
const USER_READ_ALL: &str = "df021288-bdef-4463-88db-98f22de89214";
const DEFAULT_ACCESS: &str = "00000000-0000-0000-0000-000000000000";
const ROLE_USER: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const ROLE_APP: &str = "aaaaaaaa-0000-4000-8000-000000000002";
const ROLE_OFF: &str = "aaaaaaaa-0000-4000-8000-000000000003";

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// A registered client: application, its service principal, and one secret.
struct Client {
    app: Value,
    sp: Value,
    secret: String,
}

impl Client {
    fn client_id(&self) -> &str {
        self.app["appId"].as_str().unwrap()
    }
    fn sp_id(&self) -> String {
        id_of(&self.sp)
    }
}

async fn client(app: &TestApp, name: &str, extra: Value) -> Client {
    let mut body = json!({"displayName": name});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let a = app.post("/v1.0/applications", body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let sp = app.post("/v1.0/servicePrincipals", json!({"appId": a.body["appId"]})).await;
    assert_eq!(sp.status, StatusCode::CREATED, "{}", sp.text);
    let p = app.post(&format!("/v1.0/applications/{}/addPassword", id_of(&a.body)), json!({})).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    Client { app: a.body, sp: sp.body, secret: p.body["secretText"].as_str().unwrap().to_string() }
}

async fn token_for(app: &TestApp, c: &Client, scope: &str) -> Resp {
    app.token_request(&app.tenant.to_string(), c.client_id(), &c.secret, scope).await
}

async fn graph_token(app: &TestApp, c: &Client) -> String {
    let r = token_for(app, c, GRAPH_SCOPE).await;
    assert_eq!(r.status, StatusCode::OK, "token: {}", r.text);
    r.body["access_token"].as_str().unwrap().to_string()
}

async fn graph_sp(app: &TestApp) -> Value {
    let r =
        app.get(&format!("/v1.0/servicePrincipals?$filter={}", urlencode(&format!("appId eq '{GRAPH_APP_ID}'")))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = r.body["value"].as_array().unwrap();
    assert_eq!(v.len(), 1, "one Microsoft Graph service principal: {}", r.text);
    v[0].clone()
}

/// An API application with a user role, an application role and a disabled role.
async fn api_with_roles(app: &TestApp, name: &str, uri: &str) -> Client {
    client(
        app,
        name,
        json!({
            "identifierUris": [uri],
            "appRoles": [
                {"id": ROLE_USER, "allowedMemberTypes": ["User"], "displayName": "Approver", "description": "Approves", "value": "Orders.Approve", "isEnabled": true},
                {"id": ROLE_APP, "allowedMemberTypes": ["Application"], "displayName": "Sync", "description": "Syncs", "value": "Orders.Sync", "isEnabled": true},
                {"id": ROLE_OFF, "allowedMemberTypes": ["User", "Application"], "displayName": "Old", "description": "Retired", "value": "Orders.Old", "isEnabled": false}
            ]
        }),
    )
    .await
}

// ---- create ----

api_test!(create_makes_the_service_principal_of_a_registered_application, |app| {
    let a = app
        .post(
            "/v1.0/applications",
            json!({"displayName": "Ledger", "web": {"redirectUris": ["https://ledger.contoso.test/cb"]}}),
        )
        .await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let r = app
        .post(
            "/v1.0/servicePrincipals",
            json!({"appId": a.body["appId"], "tags": ["WindowsAzureActiveDirectoryIntegratedApp"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let sp = &r.body;
    assert!(
        sp["@odata.context"].as_str().unwrap().ends_with("/v1.0/$metadata#servicePrincipals/$entity"),
        "{}",
        r.text
    );
    assert!(uuid::Uuid::parse_str(sp["id"].as_str().unwrap()).is_ok());
    assert_ne!(sp["id"], a.body["id"]);
    assert_eq!(sp["appId"], a.body["appId"]);
    assert_eq!(sp["displayName"], json!("Ledger"));
    assert_eq!(sp["accountEnabled"], json!(true));
    assert_eq!(sp["appRoleAssignmentRequired"], json!(false));
    assert_eq!(sp["servicePrincipalType"], json!("Application"));
    assert_eq!(sp["appOwnerOrganizationId"], json!(app.tenant.to_string()));
    assert_eq!(sp["servicePrincipalNames"], json!([a.body["appId"]]));
    assert_eq!(sp["replyUrls"], json!(["https://ledger.contoso.test/cb"]));
    assert_eq!(sp["tags"], json!(["WindowsAzureActiveDirectoryIntegratedApp"]));
    assert_eq!(app.audits_for("Add service principal", &id_of(sp)).await.len(), 1);
});

api_test!(create_refuses_unknown_malformed_and_repeated_app_ids, |app| {
    let r = app.post("/v1.0/servicePrincipals", json!({"appId": uuid::Uuid::new_v4().to_string()})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("does not reference a valid application object"), "{}", r.text);
    assert_eq!(app.post("/v1.0/servicePrincipals", json!({"appId": "nope"})).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.post("/v1.0/servicePrincipals", json!({})).await.status, StatusCode::BAD_REQUEST);
    // An application of another tenant is unknown here.
    let (_, other) = app.new_tenant("Fabrikam", Some("fabrikam.test"), &crate::common::all_permissions()).await;
    let foreign = app.post_as(&other, "/v1.0/applications", json!({"displayName": "Foreign"})).await;
    let r = app.post("/v1.0/servicePrincipals", json!({"appId": foreign.body["appId"]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);

    let a = app.post("/v1.0/applications", json!({"displayName": "Once"})).await;
    let r =
        app.post("/v1.0/servicePrincipals", json!({"appId": a.body["appId"].as_str().unwrap().to_uppercase()})).await;
    assert_eq!(r.status, StatusCode::CREATED, "appIds compare case-insensitively: {}", r.text);
    let r = app.post("/v1.0/servicePrincipals", json!({"appId": a.body["appId"]})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.code(), "Request_MultipleObjectsWithSameKeyValue");
    for (prop, value) in [("appRoles", json!([])), ("servicePrincipalType", json!("Application")), ("nope", json!(1))] {
        let b = app.post("/v1.0/applications", json!({"displayName": "Props"})).await;
        let r = app.post("/v1.0/servicePrincipals", json!({"appId": b.body["appId"], prop: value})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{prop}: {}", r.text);
    }
    let r = app.post("/v1.0/servicePrincipals", json!({"appId": a.body["appId"], "loginUrl": "https://x.test"})).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{}", r.text);
});

// ---- read ----

api_test!(service_principals_are_listed_read_and_filtered, |app| {
    let a = client(&app, "Alpha Service", json!({})).await;
    let b = client(&app, "Beta Service", json!({})).await;
    let all: BTreeSet<String> = TestApp::ids(&app.get("/v1.0/servicePrincipals").await).into_iter().collect();
    assert!(all.contains(&a.sp_id()) && all.contains(&b.sp_id()), "{all:?}");
    assert!(all.contains(&id_of(&graph_sp(&app).await)), "the Graph service principal is listed");
    let q = |f: String| format!("/v1.0/servicePrincipals?$filter={}", urlencode(&f));
    assert_eq!(TestApp::ids(&app.get(&q(format!("appId eq '{}'", a.client_id()))).await), vec![a.sp_id()]);
    assert_eq!(TestApp::ids(&app.get(&q("startsWith(displayName,'beta')".into())).await), vec![b.sp_id()]);
    assert_eq!(
        app.patch(&format!("/v1.0/servicePrincipals/{}", b.sp_id()), json!({"accountEnabled": false})).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(TestApp::ids(&app.get(&q("accountEnabled eq false".into())).await), vec![b.sp_id()]);
    let g = app.get(&format!("/v1.0/servicePrincipals/{}?$select=appId,displayName", a.sp_id())).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    assert_eq!(g.body.as_object().unwrap().len(), 3, "{}", g.text);
    assert_eq!(g.body["appId"], json!(a.client_id()));
    assert_eq!(
        app.get(&format!("/v1.0/servicePrincipals/{}", uuid::Uuid::new_v4())).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/v1.0/servicePrincipals/not-a-guid").await.status, StatusCode::BAD_REQUEST);
    // The application object id is not a service principal id.
    assert_eq!(app.get(&format!("/v1.0/servicePrincipals/{}", id_of(&a.app))).await.status, StatusCode::NOT_FOUND);
});

api_test!(the_graph_service_principal_lists_the_permission_catalog_and_cannot_be_deleted, |app| {
    let g = graph_sp(&app).await;
    assert_eq!(g["displayName"], json!("Microsoft Graph"));
    let roles = g["appRoles"].as_array().unwrap();
    assert_eq!(roles.len(), crate::common::all_permissions().len(), "{g}");
    let user_read = roles.iter().find(|r| r["value"] == json!("User.Read.All")).expect("User.Read.All");
    assert_eq!(user_read["id"], json!(USER_READ_ALL));
    assert_eq!(user_read["allowedMemberTypes"], json!(["Application"]));
    assert_eq!(user_read["isEnabled"], json!(true));
    let values: BTreeSet<String> = roles.iter().map(|r| r["value"].as_str().unwrap().to_string()).collect();
    assert_eq!(values, crate::common::all_permissions().into_iter().collect());
    let r = app.delete(&format!("/v1.0/servicePrincipals/{}", id_of(&g))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(app.get(&format!("/v1.0/servicePrincipals/{}", id_of(&g))).await.status, StatusCode::OK);
    // Tokens for Graph still work.
    let c = client(&app, "Still Works", json!({})).await;
    graph_token(&app, &c).await;
});

// ---- update and delete ----

api_test!(patch_updates_a_service_principal_and_is_audited, |app| {
    let c = client(&app, "Patched", json!({})).await;
    let path = format!("/v1.0/servicePrincipals/{}", c.sp_id());
    let r = app
        .patch(&path, json!({"appRoleAssignmentRequired": true, "tags": ["HideApp"], "displayName": "Patched SP"}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(r.text.is_empty());
    let g = app.get(&path).await;
    assert_eq!(g.body["appRoleAssignmentRequired"], json!(true));
    assert_eq!(g.body["tags"], json!(["HideApp"]));
    assert_eq!(g.body["displayName"], json!("Patched SP"));
    let audits = app.audits_for("Update service principal", &c.sp_id()).await;
    assert_eq!(audits.len(), 1);
    let names: Vec<&str> = audits[0]["targetResources"][0]["modifiedProperties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["displayName"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"appRoleAssignmentRequired") && names.contains(&"tags"), "{names:?}");
    for body in [
        json!({"appId": uuid::Uuid::new_v4().to_string()}),
        json!({"appRoles": []}),
        json!({"displayName": "  "}),
        json!({"accountEnabled": "no"}),
        json!({"x": 1}),
    ] {
        let r = app.patch(&path, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
    }
    assert_eq!(
        app.patch(&format!("/v1.0/servicePrincipals/{}", uuid::Uuid::new_v4()), json!({"tags": []})).await.status,
        StatusCode::NOT_FOUND
    );
});

api_test!(a_disabled_service_principal_gets_no_tokens, |app| {
    let c = client(&app, "Switchable", json!({})).await;
    graph_token(&app, &c).await;
    let path = format!("/v1.0/servicePrincipals/{}", c.sp_id());
    assert_eq!(app.patch(&path, json!({"accountEnabled": false})).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path).await.body["accountEnabled"], json!(false));
    let r = token_for(&app, &c, GRAPH_SCOPE).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"], json!("unauthorized_client"));
    assert!(r.body["error_description"].as_str().unwrap().contains("disabled"), "{}", r.text);
    assert_eq!(app.patch(&path, json!({"accountEnabled": true})).await.status, StatusCode::NO_CONTENT);
    graph_token(&app, &c).await;
});

api_test!(a_deleted_service_principal_is_gone_but_its_application_stays, |app| {
    let c = client(&app, "Detachable", json!({})).await;
    let path = format!("/v1.0/servicePrincipals/{}", c.sp_id());
    let r = app.delete(&path).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/v1.0/applications/{}", id_of(&c.app))).await.status, StatusCode::OK);
    let r = token_for(&app, &c, GRAPH_SCOPE).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"], json!("invalid_client"));
    assert_eq!(app.audits_for("Remove service principal", &c.sp_id()).await.len(), 1);
    // It can be created again, as a new object.
    let again = app.post("/v1.0/servicePrincipals", json!({"appId": c.client_id()})).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
    assert_ne!(again.body["id"], c.sp["id"]);
    graph_token(&app, &c).await;
});

// ---- application permissions (app role assignments on Microsoft Graph) ----

api_test!(a_granted_application_permission_reaches_the_token_and_the_api, |app| {
    let c = client(&app, "Reader Daemon", json!({})).await;
    let graph = graph_sp(&app).await;
    let target = app.create_user("target", "Target").await;
    let before = graph_token(&app, &c).await;
    assert!(jwt_claims(&before).get("roles").is_none());
    assert_eq!(app.get_as(&before, "/v1.0/users").await.status, StatusCode::FORBIDDEN);

    let r = app
        .post(
            &format!("/v1.0/servicePrincipals/{}/appRoleAssignments", c.sp_id()),
            json!({"principalId": c.sp_id(), "resourceId": id_of(&graph), "appRoleId": USER_READ_ALL}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let a = r.body.clone();
    assert!(
        a["@odata.context"].as_str().unwrap().ends_with("/v1.0/$metadata#appRoleAssignments/$entity"),
        "{}",
        r.text
    );
    assert_eq!(a["principalId"], json!(c.sp_id()));
    assert_eq!(a["principalType"], json!("ServicePrincipal"));
    assert_eq!(a["principalDisplayName"], json!("Reader Daemon"));
    assert_eq!(a["resourceId"], graph["id"]);
    assert_eq!(a["resourceDisplayName"], json!("Microsoft Graph"));
    assert_eq!(a["appRoleId"], json!(USER_READ_ALL));
    assert!(a["createdDateTime"].is_string());

    let token = graph_token(&app, &c).await;
    assert_eq!(jwt_claims(&token)["roles"], json!(["User.Read.All"]));
    let r = app.get_as(&token, "/v1.0/users").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(TestApp::ids(&r).contains(&id_of(&target)));
    let r = app.post_as(&token, "/v1.0/users", json!({"accountEnabled": true, "displayName": "No", "mailNickname": "no", "userPrincipalName": "no@contoso.test", "passwordProfile": {"password": "long enough password"}})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.code(), "Authorization_RequestDenied");
    assert_eq!(
        app.get_as(&token, "/v1.0/groups").await.status,
        StatusCode::FORBIDDEN,
        "User.Read.All does not read groups"
    );

    // Both sides list the assignment.
    let held = app.get(&format!("/v1.0/servicePrincipals/{}/appRoleAssignments", c.sp_id())).await;
    assert_eq!(held.status, StatusCode::OK, "{}", held.text);
    assert_eq!(TestApp::ids(&held), vec![id_of(&a)]);
    let granted = app.get(&format!("/v1.0/servicePrincipals/{}/appRoleAssignedTo", id_of(&graph))).await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.text);
    let mine = granted.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == a["id"])
        .cloned()
        .unwrap_or_else(|| panic!("{}", granted.text));
    assert_eq!(mine["principalId"], json!(c.sp_id()));
    assert_eq!(mine["appRoleId"], json!(USER_READ_ALL));
    assert_eq!(app.audits_for("Add app role assignment to service principal", &c.sp_id()).await.len(), 1);

    // Granting it twice is refused.
    let r = app
        .post(
            &format!("/v1.0/servicePrincipals/{}/appRoleAssignments", c.sp_id()),
            json!({"principalId": c.sp_id(), "resourceId": id_of(&graph), "appRoleId": USER_READ_ALL}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("already exists"), "{}", r.text);

    // Revoking it empties the next token.
    let r = app.delete(&format!("/v1.0/servicePrincipals/{}/appRoleAssignments/{}", c.sp_id(), id_of(&a))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let after = graph_token(&app, &c).await;
    assert!(jwt_claims(&after).get("roles").is_none(), "{}", jwt_claims(&after));
    let r = app.get_as(&after, "/v1.0/users").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.code(), "Authorization_RequestDenied");
    assert!(
        TestApp::ids(&app.get(&format!("/v1.0/servicePrincipals/{}/appRoleAssignments", c.sp_id())).await).is_empty()
    );
    assert_eq!(
        app.delete(&format!("/v1.0/servicePrincipals/{}/appRoleAssignments/{}", c.sp_id(), id_of(&a))).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.audits_for("Remove app role assignment from service principal", &c.sp_id()).await.len(), 1);
});

api_test!(a_permission_can_be_granted_from_the_resource_side_too, |app| {
    let c = client(&app, "Resource Side", json!({})).await;
    let graph = graph_sp(&app).await;
    let path = format!("/v1.0/servicePrincipals/{}/appRoleAssignedTo", id_of(&graph));
    let r = app
        .post(&path, json!({"principalId": c.sp_id(), "resourceId": id_of(&graph), "appRoleId": USER_READ_ALL}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(jwt_claims(&graph_token(&app, &c).await)["roles"], json!(["User.Read.All"]));
    // The resourceId must be the service principal in the URL.
    let other = client(&app, "Other Resource", json!({})).await;
    let r = app
        .post(&path, json!({"principalId": c.sp_id(), "resourceId": other.sp_id(), "appRoleId": USER_READ_ALL}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // An assignment is removed only through a path it belongs to.
    let listed = app.get(&path).await;
    let aid = listed.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["principalId"] == json!(c.sp_id()))
        .map(id_of)
        .expect("listed");
    let r = app.delete(&format!("/v1.0/servicePrincipals/{}/appRoleAssignedTo/{aid}", other.sp_id())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = app.delete(&format!("/v1.0/servicePrincipals/{}/appRoleAssignedTo/{aid}", id_of(&graph))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(jwt_claims(&graph_token(&app, &c).await).get("roles").is_none());
});

api_test!(graph_permissions_cannot_be_given_to_users_or_made_up, |app| {
    let graph = graph_sp(&app).await;
    let u = app.create_user("perm", "Perm").await;
    let r = app
        .post(
            &format!("/v1.0/users/{}/appRoleAssignments", id_of(&u)),
            json!({"principalId": id_of(&u), "resourceId": id_of(&graph), "appRoleId": USER_READ_ALL}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "an application permission is not for users: {}", r.text);
    let c = client(&app, "Made Up", json!({})).await;
    let r = app
        .post(&format!("/v1.0/servicePrincipals/{}/appRoleAssignments", c.sp_id()), json!({"principalId": c.sp_id(), "resourceId": id_of(&graph), "appRoleId": uuid::Uuid::new_v4().to_string()}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("was not found on application"), "{}", r.text);
    let r = app
        .post(
            &format!("/v1.0/servicePrincipals/{}/appRoleAssignments", c.sp_id()),
            json!({"principalId": c.sp_id(), "resourceId": id_of(&graph), "appRoleId": DEFAULT_ACCESS}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "default access is for users and groups: {}", r.text);
    let r = app
        .post(&format!("/v1.0/servicePrincipals/{}/appRoleAssignments", c.sp_id()), json!({"principalId": c.sp_id(), "resourceId": uuid::Uuid::new_v4().to_string(), "appRoleId": USER_READ_ALL}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    for body in [
        json!({"principalId": c.sp_id(), "resourceId": id_of(&graph)}),
        json!({"principalId": "nope", "resourceId": id_of(&graph), "appRoleId": USER_READ_ALL}),
        json!({"principalId": c.sp_id(), "resourceId": id_of(&graph), "appRoleId": USER_READ_ALL, "principalType": "User"}),
    ] {
        let r = app.post(&format!("/v1.0/servicePrincipals/{}/appRoleAssignments", c.sp_id()), body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
    }
    assert!(
        TestApp::ids(&app.get(&format!("/v1.0/servicePrincipals/{}/appRoleAssignments", c.sp_id())).await).is_empty()
    );
});

api_test!(assignments_need_the_app_role_assignment_permission, |app| {
    let c = client(&app, "Self Granting", json!({})).await;
    let graph = graph_sp(&app).await;
    let weak = app.token_with(app.tenant, &["Application.ReadWrite.All".to_string()]).await;
    let r = app
        .post_as(
            &weak,
            &format!("/v1.0/servicePrincipals/{}/appRoleAssignments", c.sp_id()),
            json!({"principalId": c.sp_id(), "resourceId": id_of(&graph), "appRoleId": USER_READ_ALL}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(jwt_claims(&graph_token(&app, &c).await).get("roles").is_none());
    let strong = app
        .token_with(app.tenant, &["AppRoleAssignment.ReadWrite.All".to_string(), "Application.Read.All".to_string()])
        .await;
    let r = app
        .post_as(
            &strong,
            &format!("/v1.0/servicePrincipals/{}/appRoleAssignments", c.sp_id()),
            json!({"principalId": c.sp_id(), "resourceId": id_of(&graph), "appRoleId": USER_READ_ALL}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
});

// ---- assignments to a custom API's app roles ----

api_test!(users_and_groups_are_assigned_a_custom_app_role, |app| {
    let api = api_with_roles(&app, "Orders API", "api://orders").await;
    let u = app.create_user("approver", "Approver").await;
    let g = app.create_group("Approvers").await;
    let r = app
        .post(
            &format!("/v1.0/users/{}/appRoleAssignments", id_of(&u)),
            json!({"principalId": id_of(&u), "resourceId": api.sp_id(), "appRoleId": ROLE_USER}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["principalType"], json!("User"));
    assert_eq!(r.body["principalDisplayName"], json!("Approver"));
    assert_eq!(r.body["resourceDisplayName"], json!("Orders API"));
    let ua = id_of(&r.body);
    let r = app
        .post(
            &format!("/v1.0/groups/{}/appRoleAssignments", id_of(&g)),
            json!({"principalId": id_of(&g), "resourceId": api.sp_id(), "appRoleId": ROLE_USER}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["principalType"], json!("Group"));
    let ga = id_of(&r.body);
    // By userPrincipalName too, with the default access role.
    let v = app.create_user("viewer", "Viewer").await;
    let r = app
        .post(
            "/v1.0/users/viewer@contoso.test/appRoleAssignments",
            json!({"principalId": id_of(&v), "resourceId": api.sp_id(), "appRoleId": DEFAULT_ACCESS}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "the all-zero GUID is default access: {}", r.text);
    assert_eq!(r.body["appRoleId"], json!(DEFAULT_ACCESS));

    assert_eq!(
        TestApp::ids(&app.get(&format!("/v1.0/users/{}/appRoleAssignments", id_of(&u))).await),
        vec![ua.clone()]
    );
    assert_eq!(
        TestApp::ids(&app.get(&format!("/v1.0/groups/{}/appRoleAssignments", id_of(&g))).await),
        vec![ga.clone()]
    );
    let to = app.get(&format!("/v1.0/servicePrincipals/{}/appRoleAssignedTo", api.sp_id())).await;
    assert_eq!(to.status, StatusCode::OK, "{}", to.text);
    let principals: BTreeSet<String> =
        to.body["value"].as_array().unwrap().iter().map(|v| v["principalId"].as_str().unwrap().to_string()).collect();
    assert_eq!(principals, [id_of(&u), id_of(&g), id_of(&v)].into_iter().collect());
    assert_eq!(app.audits_for("Add app role assignment grant to user", &id_of(&u)).await.len(), 1);
    assert_eq!(app.audits_for("Add app role assignment to group", &id_of(&g)).await.len(), 1);

    // Removing through the user's path.
    let r = app.delete(&format!("/v1.0/users/{}/appRoleAssignments/{ua}", id_of(&u))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(TestApp::ids(&app.get(&format!("/v1.0/users/{}/appRoleAssignments", id_of(&u))).await).is_empty());
    // A group's assignment cannot be removed through a user's path.
    let r = app.delete(&format!("/v1.0/users/{}/appRoleAssignments/{ga}", id_of(&v))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = app.delete(&format!("/v1.0/groups/{}/appRoleAssignments/{ga}", id_of(&g))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.audits_for("Remove app role assignment from group", &id_of(&g)).await.len(), 1);
});

api_test!(a_role_not_allowed_for_the_member_type_is_refused, |app| {
    let api = api_with_roles(&app, "Typed API", "api://typed").await;
    let u = app.create_user("typed", "Typed").await;
    let g = app.create_group("Typed Group").await;
    let c = client(&app, "Typed Client", json!({})).await;
    // An Application role for a user or group, a User role for a service principal, a disabled role, an unknown role.
    for (path, principal, role) in [
        (format!("/v1.0/users/{}/appRoleAssignments", id_of(&u)), id_of(&u), ROLE_APP),
        (format!("/v1.0/groups/{}/appRoleAssignments", id_of(&g)), id_of(&g), ROLE_APP),
        (format!("/v1.0/servicePrincipals/{}/appRoleAssignments", c.sp_id()), c.sp_id(), ROLE_USER),
        (format!("/v1.0/users/{}/appRoleAssignments", id_of(&u)), id_of(&u), ROLE_OFF),
        (format!("/v1.0/users/{}/appRoleAssignments", id_of(&u)), id_of(&u), "aaaaaaaa-0000-4000-8000-0000000000ff"),
    ] {
        let r = app.post(&path, json!({"principalId": principal, "resourceId": api.sp_id(), "appRoleId": role})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path} {role}: {}", r.text);
        assert_eq!(r.code(), "Request_BadRequest");
        assert!(r.text.contains("was not found on application"), "{}", r.text);
    }
    let to = app.get(&format!("/v1.0/servicePrincipals/{}/appRoleAssignedTo", api.sp_id())).await;
    assert!(TestApp::ids(&to).is_empty(), "{}", to.text);
});

api_test!(a_principal_id_that_differs_from_the_url_is_refused, |app| {
    let api = api_with_roles(&app, "Mismatch API", "api://mismatch").await;
    let u = app.create_user("one", "One").await;
    let v = app.create_user("two", "Two").await;
    let g = app.create_group("Mismatch").await;
    let r = app
        .post(
            &format!("/v1.0/users/{}/appRoleAssignments", id_of(&u)),
            json!({"principalId": id_of(&v), "resourceId": api.sp_id(), "appRoleId": ROLE_USER}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("principalId"), "{}", r.text);
    let r = app
        .post(
            &format!("/v1.0/groups/{}/appRoleAssignments", id_of(&g)),
            json!({"principalId": id_of(&u), "resourceId": api.sp_id(), "appRoleId": ROLE_USER}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app
        .post(
            &format!("/v1.0/servicePrincipals/{}/appRoleAssignments", api.sp_id()),
            json!({"principalId": id_of(&u), "resourceId": api.sp_id(), "appRoleId": ROLE_USER}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(TestApp::ids(&app.get(&format!("/v1.0/users/{}/appRoleAssignments", id_of(&v))).await).is_empty());
    assert!(TestApp::ids(&app.get(&format!("/v1.0/users/{}/appRoleAssignments", id_of(&u))).await).is_empty());
    // Unknown principals in the URL are 404.
    let r = app
        .post(
            &format!("/v1.0/users/{}/appRoleAssignments", uuid::Uuid::new_v4()),
            json!({"principalId": id_of(&u), "resourceId": api.sp_id(), "appRoleId": ROLE_USER}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
});

api_test!(an_application_role_of_a_custom_api_reaches_its_tokens, |app| {
    let api = api_with_roles(&app, "Inventory API", "api://inventory").await;
    let c = client(&app, "Inventory Sync", json!({})).await;
    let r = token_for(&app, &c, "api://inventory/.default").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let claims = jwt_claims(r.body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], json!(api.client_id()));
    assert!(claims.get("roles").is_none());
    let r = app
        .post(
            &format!("/v1.0/servicePrincipals/{}/appRoleAssignments", c.sp_id()),
            json!({"principalId": c.sp_id(), "resourceId": api.sp_id(), "appRoleId": ROLE_APP}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = token_for(&app, &c, "api://inventory/.default").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(jwt_claims(r.body["access_token"].as_str().unwrap())["roles"], json!(["Orders.Sync"]));
    // The API's roles do not leak into Graph tokens.
    assert!(jwt_claims(&graph_token(&app, &c).await).get("roles").is_none());
    // By appId as well as by identifier URI.
    let r = token_for(&app, &c, &format!("{}/.default", api.client_id())).await;
    assert_eq!(jwt_claims(r.body["access_token"].as_str().unwrap())["roles"], json!(["Orders.Sync"]));
});

api_test!(assignment_required_on_a_resource_turns_away_unassigned_clients, |app| {
    let api = api_with_roles(&app, "Strict API", "api://strict").await;
    let assigned = client(&app, "Assigned", json!({})).await;
    let stranger = client(&app, "Stranger", json!({})).await;
    let r = app
        .post(
            &format!("/v1.0/servicePrincipals/{}/appRoleAssignedTo", api.sp_id()),
            json!({"principalId": assigned.sp_id(), "resourceId": api.sp_id(), "appRoleId": ROLE_APP}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(token_for(&app, &stranger, "api://strict/.default").await.status, StatusCode::OK, "not required yet");
    assert_eq!(
        app.patch(&format!("/v1.0/servicePrincipals/{}", api.sp_id()), json!({"appRoleAssignmentRequired": true}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let r = token_for(&app, &stranger, "api://strict/.default").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"], json!("invalid_grant"));
    let r = token_for(&app, &assigned, "api://strict/.default").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(jwt_claims(r.body["access_token"].as_str().unwrap())["roles"], json!(["Orders.Sync"]));
    // Disabling the role in the application takes it out of tokens, and then out of reach.
    let mut roles = api.app["appRoles"].clone();
    for r in roles.as_array_mut().unwrap() {
        if r["id"] == json!(ROLE_APP) {
            r["isEnabled"] = json!(false);
        }
    }
    assert_eq!(
        app.patch(&format!("/v1.0/applications/{}", id_of(&api.app)), json!({"appRoles": roles})).await.status,
        StatusCode::NO_CONTENT
    );
    let r = token_for(&app, &assigned, "api://strict/.default").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "a disabled role is no assignment: {}", r.text);
});

api_test!(assignments_of_deleted_objects_are_hidden_until_they_are_restored, |app| {
    let api = api_with_roles(&app, "Hidden API", "api://hidden").await;
    let u = app.create_user("leaving", "Leaving").await;
    let r = app
        .post(
            &format!("/v1.0/users/{}/appRoleAssignments", id_of(&u)),
            json!({"principalId": id_of(&u), "resourceId": api.sp_id(), "appRoleId": ROLE_USER}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let to = format!("/v1.0/servicePrincipals/{}/appRoleAssignedTo", api.sp_id());
    assert_eq!(TestApp::ids(&app.get(&to).await).len(), 1);
    assert_eq!(app.delete(&format!("/v1.0/users/{}", id_of(&u))).await.status, StatusCode::NO_CONTENT);
    let r = app.get_eventual(&format!("{to}?$count=true")).await;
    assert!(TestApp::ids(&r).is_empty(), "a deleted user's assignment is not listed: {}", r.text);
    assert_eq!(r.body["@odata.count"], json!(0));
    assert_eq!(
        app.post(&format!("/v1.0/directory/deletedItems/{}/restore", id_of(&u)), json!({})).await.status,
        StatusCode::OK
    );
    let r = app.get(&to).await;
    assert_eq!(r.body["value"][0]["principalDisplayName"], json!("Leaving"), "back with the user: {}", r.text);

    // A deleted resource application hides the assignment from the principal's side too.
    let v = app.create_user("staying", "Staying").await;
    let r = app
        .post(
            &format!("/v1.0/users/{}/appRoleAssignments", id_of(&v)),
            json!({"principalId": id_of(&v), "resourceId": api.sp_id(), "appRoleId": ROLE_USER}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(app.delete(&format!("/v1.0/applications/{}", id_of(&api.app))).await.status, StatusCode::NO_CONTENT);
    let r = app.get(&format!("/v1.0/users/{}/appRoleAssignments", id_of(&v))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(TestApp::ids(&r).is_empty(), "{}", r.text);
    assert_eq!(
        app.post(&format!("/v1.0/directory/deletedItems/{}/restore", id_of(&api.app)), json!({})).await.status,
        StatusCode::OK
    );
    let r = app.get(&format!("/v1.0/users/{}/appRoleAssignments", id_of(&v))).await;
    assert_eq!(TestApp::ids(&r).len(), 1, "{}", r.text);
    assert_eq!(r.body["value"][0]["resourceDisplayName"], json!("Hidden API"));

    // The same for a client whose application was deleted, on Microsoft Graph's side.
    let c = client(&app, "Deleted Daemon", json!({})).await;
    let graph = graph_sp(&app).await;
    let r = app
        .post(
            &format!("/v1.0/servicePrincipals/{}/appRoleAssignments", c.sp_id()),
            json!({"principalId": c.sp_id(), "resourceId": id_of(&graph), "appRoleId": USER_READ_ALL}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(app.delete(&format!("/v1.0/applications/{}", id_of(&c.app))).await.status, StatusCode::NO_CONTENT);
    let r = app.get(&format!("/v1.0/servicePrincipals/{}/appRoleAssignedTo", id_of(&graph))).await;
    assert!(
        r.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["principalId"] != json!(c.sp_id()) && !v["principalDisplayName"].is_null()),
        "{}",
        r.text
    );
});

api_test!(the_microsoft_graph_service_principal_cannot_be_changed, |app| {
    let list = app.get("/v1.0/servicePrincipals?$filter=appId eq '00000003-0000-0000-c000-000000000000'").await;
    let id = list.body["value"][0]["id"].as_str().unwrap().to_string();
    let r = app.patch(&format!("/v1.0/servicePrincipals/{id}"), serde_json::json!({"accountEnabled": false})).await;
    assert_eq!(r.status, reqwest::StatusCode::BAD_REQUEST, "{}", r.text);
    let again = app.get(&format!("/v1.0/servicePrincipals/{id}")).await;
    assert_eq!(again.body["accountEnabled"], serde_json::json!(true));
});
