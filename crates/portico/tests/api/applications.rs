//! Tests of the Graph-shaped API: applications and their client secrets.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::common::{Resp, TestApp, jwt_claims, urlencode};

const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn register(app: &TestApp, body: Value) -> Value {
    let r = app.post("/v1.0/applications", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "register: {}", r.text);
    r.body
}

async fn create_sp(app: &TestApp, app_id: &str) -> Value {
    let r = app.post("/v1.0/servicePrincipals", json!({"appId": app_id})).await;
    assert_eq!(r.status, StatusCode::CREATED, "service principal: {}", r.text);
    r.body
}

async fn add_password(app: &TestApp, object_id: &str) -> Value {
    let r = app
        .post(
            &format!("/v1.0/applications/{object_id}/addPassword"),
            json!({"passwordCredential": {"displayName": "ci"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "addPassword: {}", r.text);
    r.body
}

async fn sps_with_app_id(app: &TestApp, app_id: &str) -> Vec<String> {
    let r = app.get(&format!("/v1.0/servicePrincipals?$filter={}", urlencode(&format!("appId eq '{app_id}'")))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    TestApp::ids(&r)
}

async fn token(app: &TestApp, client_id: &str, secret: &str) -> Resp {
    app.token_request(&app.tenant.to_string(), client_id, secret, GRAPH_SCOPE).await
}

fn role(id: &str, value: &str, enabled: bool) -> Value {
    json!({"id": id, "allowedMemberTypes": ["User"], "displayName": value, "description": value, "value": value, "isEnabled": enabled})
}

const ROLE_A: &str = "11111111-1111-1111-1111-111111111111";
const ROLE_B: &str = "22222222-2222-2222-2222-222222222222";

// ---- create ----

api_test!(create_registers_an_application_without_a_service_principal, |app| {
    let r = app.post("/v1.0/applications", json!({"displayName": "Billing", "description": "Pays"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let a = &r.body;
    assert!(a["@odata.context"].as_str().unwrap().ends_with("/v1.0/$metadata#applications/$entity"), "{}", r.text);
    assert!(uuid::Uuid::parse_str(a["id"].as_str().unwrap()).is_ok());
    let app_id = a["appId"].as_str().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&app_id).is_ok(), "appId is a GUID: {app_id}");
    assert_ne!(a["appId"], a["id"], "appId and object id differ");
    assert_eq!(a["displayName"], json!("Billing"));
    assert_eq!(a["description"], json!("Pays"));
    assert_eq!(a["signInAudience"], json!("AzureADMyOrg"));
    assert_eq!(a["identifierUris"], json!([]));
    assert_eq!(a["passwordCredentials"], json!([]));
    assert_eq!(a["appRoles"], json!([]));
    assert_eq!(a["web"]["redirectUris"], json!([]));
    assert_eq!(a["publisherDomain"], json!("contoso.test"));
    assert!(sps_with_app_id(&app, &app_id).await.is_empty(), "POST /applications creates no service principal");
    assert_eq!(app.audits_for("Add application", &id_of(a)).await.len(), 1);
    // Two registrations never share an appId.
    let b = register(&app, json!({"displayName": "Billing"})).await;
    assert_ne!(b["appId"], a["appId"]);
});

api_test!(create_refuses_missing_unknown_read_only_and_unsupported_properties, |app| {
    let before = TestApp::ids(&app.get("/v1.0/applications").await);
    let r = app.post("/v1.0/applications", json!({"description": "no name"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("displayName"), "{}", r.text);
    let r = app.post("/v1.0/applications", json!({"displayName": "x", "color": "red"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(
        r.body["error"]["message"],
        json!("Property 'color' does not exist on type 'microsoft.graph.application'.")
    );
    for prop in ["appId", "passwordCredentials", "publisherDomain"] {
        let value =
            if prop == "passwordCredentials" { json!([]) } else { json!("00000000-0000-0000-0000-000000000001") };
        let r = app.post("/v1.0/applications", json!({"displayName": "x", prop: value})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{prop}: {}", r.text);
        assert!(r.text.contains("read-only"), "{prop}: {}", r.text);
    }
    let r = app.post("/v1.0/applications", json!({"displayName": "x", "keyCredentials": []})).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{}", r.text);
    assert_eq!(r.code(), "notSupported");
    let r = app.post("/v1.0/applications", json!({"displayName": "x", "signInAudience": "Everyone"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(TestApp::ids(&app.get("/v1.0/applications").await), before, "nothing was registered");
});

// ---- read ----

api_test!(applications_are_read_listed_and_filtered_by_app_id, |app| {
    // The harness's own API client is an application of the tenant too.
    let harness: BTreeSet<String> = TestApp::ids(&app.get("/v1.0/applications").await).into_iter().collect();
    let a = register(&app, json!({"displayName": "Alpha App"})).await;
    let b = register(&app, json!({"displayName": "Beta App", "signInAudience": "azureadmultipleorgs"})).await;
    assert_eq!(b["signInAudience"], json!("AzureADMultipleOrgs"), "audience is canonicalised");
    let g = app.get(&format!("/v1.0/applications/{}", id_of(&a))).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    assert_eq!(g.body["appId"], a["appId"]);
    let g = app.get(&format!("/v1.0/applications/{}?$select=appId,displayName", id_of(&a))).await;
    assert_eq!(g.body.as_object().unwrap().len(), 3, "{}", g.text);
    assert_eq!(app.get(&format!("/v1.0/applications/{}", uuid::Uuid::new_v4())).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/v1.0/applications/not-a-guid").await.status, StatusCode::BAD_REQUEST);

    let all: BTreeSet<String> = TestApp::ids(&app.get("/v1.0/applications").await).into_iter().collect();
    assert_eq!(
        all.difference(&harness).cloned().collect::<BTreeSet<_>>(),
        [id_of(&a), id_of(&b)].into_iter().collect()
    );
    let q = |f: String| format!("/v1.0/applications?$filter={}", urlencode(&f));
    let r = app.get(&q(format!("appId eq '{}'", a["appId"].as_str().unwrap()))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(TestApp::ids(&r), vec![id_of(&a)]);
    let r = app.get(&q(format!("appId eq '{}'", a["appId"].as_str().unwrap().to_uppercase()))).await;
    assert_eq!(TestApp::ids(&r), vec![id_of(&a)], "GUIDs compare case-insensitively");
    let r = app.get(&q("startsWith(displayName,'beta')".into())).await;
    assert_eq!(TestApp::ids(&r), vec![id_of(&b)]);
    let r = app.get(&q("signInAudience eq 'AzureADMultipleOrgs'".into())).await;
    assert_eq!(TestApp::ids(&r), vec![id_of(&b)]);
    let r = app.get(&q("appId eq 'not-a-guid'".into())).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // Another tenant sees none of these.
    let (_, other) = app.new_tenant("Fabrikam", Some("fabrikam.test"), &crate::common::all_permissions()).await;
    let r = app.get_as(&other, "/v1.0/applications").await;
    assert!(TestApp::ids(&r).iter().all(|i| *i != id_of(&a) && *i != id_of(&b)), "{}", r.text);
    assert_eq!(app.get_as(&other, &format!("/v1.0/applications/{}", id_of(&a))).await.status, StatusCode::NOT_FOUND);
});

// ---- update ----

api_test!(patch_round_trips_and_renaming_renames_the_service_principal, |app| {
    let a = register(&app, json!({"displayName": "Old Name"})).await;
    let sp = create_sp(&app, a["appId"].as_str().unwrap()).await;
    assert_eq!(sp["displayName"], json!("Old Name"));
    let changes = json!({
        "displayName": "New Name",
        "description": "described",
        "signInAudience": "AzureADMultipleOrgs",
        "identifierUris": ["api://new-name"],
        "web": {"redirectUris": ["https://app.contoso.test/signin", "http://localhost:8080/cb"], "homePageUrl": "https://app.contoso.test"},
        "spa": {"redirectUris": ["https://spa.contoso.test/"]},
        "publicClient": {"redirectUris": ["myapp://auth", "http://127.0.0.1/cb"]},
        "requiredResourceAccess": [{"resourceAppId": "00000003-0000-0000-c000-000000000000", "resourceAccess": [{"id": "df021288-bdef-4463-88db-98f22de89214", "type": "Role"}]}]
    });
    let r = app.patch(&format!("/v1.0/applications/{}", id_of(&a)), changes.clone()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(r.text.is_empty());
    let g = app.get(&format!("/v1.0/applications/{}", id_of(&a))).await;
    for (k, v) in changes.as_object().unwrap() {
        assert_eq!(&g.body[k], v, "{k}: {}", g.text);
    }
    let s = app.get(&format!("/v1.0/servicePrincipals/{}", id_of(&sp))).await;
    assert_eq!(s.body["displayName"], json!("New Name"), "{}", s.text);
    assert_eq!(s.body["appDisplayName"], json!("New Name"));
    assert_eq!(s.body["replyUrls"], json!(["https://app.contoso.test/signin", "http://localhost:8080/cb"]));
    let audits = app.audits_for("Update application", &id_of(&a)).await;
    assert_eq!(audits.len(), 1);
    assert!(
        audits[0]["targetResources"][0]["modifiedProperties"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["displayName"] == json!("displayName"))
    );
    // Read-only and unknown properties are refused.
    for body in
        [json!({"appId": "00000000-0000-0000-0000-000000000001"}), json!({"nope": 1}), json!({"displayName": " "})]
    {
        let r = app.patch(&format!("/v1.0/applications/{}", id_of(&a)), body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
    }
    assert_eq!(
        app.patch(&format!("/v1.0/applications/{}", uuid::Uuid::new_v4()), json!({"description": "x"})).await.status,
        StatusCode::NOT_FOUND
    );
});

api_test!(redirect_uris_must_be_https_or_loopback_http_without_fragments, |app| {
    let a =
        register(&app, json!({"displayName": "Redirects", "web": {"redirectUris": ["https://ok.contoso.test/cb"]}}))
            .await;
    let path = format!("/v1.0/applications/{}", id_of(&a));
    for (prop, uri) in [
        ("web", "http://app.contoso.test/cb"),
        ("web", "https://app.contoso.test/cb#fragment"),
        ("web", "myapp://cb"),
        ("web", "/relative/cb"),
        ("spa", "http://spa.contoso.test/"),
        ("spa", "https://spa.contoso.test/#/route"),
        ("publicClient", "myapp://cb#frag"),
    ] {
        let r = app.patch(&path, json!({ prop: {"redirectUris": [uri]} })).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{prop} {uri}: {}", r.text);
        assert!(r.text.contains(&format!("{prop}.redirectUris")), "{prop} {uri}: {}", r.text);
        let r = app.post("/v1.0/applications", json!({"displayName": "Bad", prop: {"redirectUris": [uri]}})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "create with {prop} {uri}: {}", r.text);
    }
    assert_eq!(
        app.get(&path).await.body["web"]["redirectUris"],
        json!(["https://ok.contoso.test/cb"]),
        "refused changes change nothing"
    );
    for uri in [
        "http://localhost/cb",
        "http://localhost:5000/signin-oidc",
        "http://127.0.0.1:9000/",
        "https://app.contoso.test/cb?x=1",
    ] {
        let r = app.patch(&path, json!({"web": {"redirectUris": [uri]}})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{uri}: {}", r.text);
        assert_eq!(app.get(&path).await.body["web"]["redirectUris"], json!([uri]));
    }
    let r = app.patch(&path, json!({"publicClient": {"redirectUris": ["com.contoso.app://auth"]}})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "public clients may use a custom scheme: {}", r.text);
    let names = app.get("/v1.0/applications").await;
    assert_eq!(names.body["value"].as_array().unwrap().iter().filter(|v| v["displayName"] == json!("Bad")).count(), 0);
});

api_test!(identifier_uris_are_unique_within_the_tenant, |app| {
    let a = register(&app, json!({"displayName": "First", "identifierUris": ["api://shared"]})).await;
    let r = app.post("/v1.0/applications", json!({"displayName": "Second", "identifierUris": ["api://shared"]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(
        r.body["error"]["message"],
        json!("Another object with the same value for property identifierUris already exists.")
    );
    let b = register(&app, json!({"displayName": "Second"})).await;
    let r = app
        .patch(&format!("/v1.0/applications/{}", id_of(&b)), json!({"identifierUris": ["api://other", "api://shared"]}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(app.get(&format!("/v1.0/applications/{}", id_of(&b))).await.body["identifierUris"], json!([]));
    // Saving an application with its own URI is fine.
    let r = app
        .patch(
            &format!("/v1.0/applications/{}", id_of(&a)),
            json!({"identifierUris": ["api://shared", "https://first.contoso.test"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    // A near miss is not a duplicate (no LIKE wildcard surprises).
    let r = app.patch(&format!("/v1.0/applications/{}", id_of(&b)), json!({"identifierUris": ["api://share"]})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    for bad in ["ftp://x.contoso.test", "not a uri", "https://graph.microsoft.com/mine"] {
        let r = app.patch(&format!("/v1.0/applications/{}", id_of(&b)), json!({"identifierUris": [bad]})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }
    // Uniqueness is per tenant.
    let (_, other) = app.new_tenant("Fabrikam", Some("fabrikam.test"), &crate::common::all_permissions()).await;
    let r = app
        .post_as(&other, "/v1.0/applications", json!({"displayName": "Elsewhere", "identifierUris": ["api://shared"]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
});

api_test!(app_roles_are_validated, |app| {
    let a = register(&app, json!({"displayName": "Roles"})).await;
    let path = format!("/v1.0/applications/{}", id_of(&a));
    let cases = [
        (json!([{"allowedMemberTypes": ["User"], "displayName": "No id", "value": "x"}]), "id"),
        (json!([{"id": "nope", "allowedMemberTypes": ["User"], "displayName": "Bad id", "value": "x"}]), "id"),
        (json!([role(ROLE_A, "a", true), role(ROLE_A, "b", true)]), "unique"),
        (
            json!([{"id": ROLE_A, "allowedMemberTypes": ["Robot"], "displayName": "R", "value": "r"}]),
            "allowedMemberTypes",
        ),
        (json!([{"id": ROLE_A, "allowedMemberTypes": [], "displayName": "R", "value": "r"}]), "allowedMemberTypes"),
        (json!([{"id": ROLE_A, "allowedMemberTypes": ["User"], "displayName": "R", "value": "has space"}]), "value"),
        (json!([role(ROLE_A, "same", true), role(ROLE_B, "same", true)]), "unique"),
        (json!([{"id": ROLE_A, "allowedMemberTypes": ["User"], "value": "r"}]), "displayName"),
    ];
    for (roles, what) in cases {
        let r = app.patch(&path, json!({"appRoles": roles})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{roles}: {}", r.text);
        assert!(r.text.contains(what), "{roles}: expected '{what}' in {}", r.text);
        let r = app.post("/v1.0/applications", json!({"displayName": "Bad Roles", "appRoles": roles})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "create {roles}: {}", r.text);
    }
    assert_eq!(app.get(&path).await.body["appRoles"], json!([]));
    // A valid set round-trips, with Graph's defaults filled in.
    let r = app.patch(&path, json!({"appRoles": [{"id": ROLE_A.to_uppercase(), "allowedMemberTypes": ["User", "Application"], "displayName": "Reader", "value": "Data.Read"}]})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let roles = app.get(&path).await.body["appRoles"].clone();
    assert_eq!(
        roles,
        json!([{"allowedMemberTypes": ["User", "Application"], "description": null, "displayName": "Reader", "id": ROLE_A, "isEnabled": true, "origin": "Application", "value": "Data.Read"}])
    );
});

api_test!(an_enabled_app_role_must_be_disabled_before_it_is_deleted, |app| {
    let a = register(
        &app,
        json!({"displayName": "Lifecycle", "appRoles": [role(ROLE_A, "keep", true), role(ROLE_B, "drop", true)]}),
    )
    .await;
    let path = format!("/v1.0/applications/{}", id_of(&a));
    let r = app.patch(&path, json!({"appRoles": [role(ROLE_A, "keep", true)]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("disabled"), "{}", r.text);
    assert_eq!(app.get(&path).await.body["appRoles"].as_array().unwrap().len(), 2);
    let r = app.patch(&path, json!({"appRoles": [role(ROLE_A, "keep", true), role(ROLE_B, "drop", false)]})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let roles = app.get(&path).await.body["appRoles"].clone();
    assert_eq!(roles[1]["isEnabled"], json!(false), "{roles}");
    let r = app.patch(&path, json!({"appRoles": [role(ROLE_A, "keep", true)]})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let roles = app.get(&path).await.body["appRoles"].clone();
    assert_eq!(roles.as_array().unwrap().len(), 1);
    assert_eq!(roles[0]["id"], json!(ROLE_A));
    // Removing every role at once needs the same care.
    let r = app.patch(&path, json!({"appRoles": []})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
});

// ---- client secrets ----

api_test!(add_password_returns_the_secret_once_with_its_hint, |app| {
    let a = register(&app, json!({"displayName": "Secretive"})).await;
    let r = app
        .post(
            &format!("/v1.0/applications/{}/addPassword", id_of(&a)),
            json!({"passwordCredential": {"displayName": "deploy key"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let p = &r.body;
    assert!(
        p["@odata.context"].as_str().unwrap().ends_with("/v1.0/$metadata#microsoft.graph.passwordCredential"),
        "{}",
        r.text
    );
    let secret = p["secretText"].as_str().expect("secretText").to_string();
    assert!(secret.len() >= 32, "{secret}");
    assert_eq!(p["hint"], json!(&secret[..3]));
    assert_eq!(p["displayName"], json!("deploy key"));
    assert!(uuid::Uuid::parse_str(p["keyId"].as_str().unwrap()).is_ok());
    let start = time::OffsetDateTime::parse(
        p["startDateTime"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let end =
        time::OffsetDateTime::parse(p["endDateTime"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
            .unwrap();
    assert!(end - start > time::Duration::days(365), "a default lifetime of about two years: {start} .. {end}");

    let g = app.get(&format!("/v1.0/applications/{}", id_of(&a))).await;
    let creds = g.body["passwordCredentials"].as_array().unwrap();
    assert_eq!(creds.len(), 1, "{}", g.text);
    assert_eq!(creds[0]["keyId"], p["keyId"]);
    assert_eq!(creds[0]["hint"], p["hint"]);
    assert_eq!(creds[0]["secretText"], Value::Null);
    assert!(!g.text.contains(&secret), "the secret is shown only once: {}", g.text);
    assert!(!app.get("/v1.0/applications").await.text.contains(&secret));
    // Each call makes a new, different secret.
    let q = add_password(&app, &id_of(&a)).await;
    assert_ne!(q["secretText"], p["secretText"]);
    assert_ne!(q["keyId"], p["keyId"]);
    assert_eq!(
        app.get(&format!("/v1.0/applications/{}", id_of(&a))).await.body["passwordCredentials"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Audited without the secret.
    let audits = app.audits_for("Update application – Certificates and secrets management ", &id_of(&a)).await;
    assert_eq!(audits.len(), 2, "{audits:?}");
    assert!(!serde_json::to_string(&audits).unwrap().contains(&secret));
});

api_test!(add_password_checks_its_input, |app| {
    let a = register(&app, json!({"displayName": "Picky"})).await;
    let path = format!("/v1.0/applications/{}/addPassword", id_of(&a));
    let r = app.post(&path, json!({"passwordCredential": {"endDateTime": "2000-01-01T00:00:00Z"}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app.post(&path, json!({"passwordCredential": {"endDateTime": "soon"}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app.post(&path, json!({"passwordCredential": {"secretText": "chosen-by-me"}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "clients cannot choose the secret: {}", r.text);
    let r = app.post(&path, json!({"other": 1})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(app.get(&format!("/v1.0/applications/{}", id_of(&a))).await.body["passwordCredentials"], json!([]));
    let r = app.post(&format!("/v1.0/applications/{}/addPassword", uuid::Uuid::new_v4()), json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    // An explicit future end is kept; an empty body is fine.
    let r = app.post(&path, json!({"passwordCredential": {"endDateTime": "2099-01-01T00:00:00Z"}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["endDateTime"].as_str().unwrap().starts_with("2099-01-01T00:00:00"), "{}", r.text);
    assert_eq!(app.post(&path, json!({})).await.status, StatusCode::OK);
});

api_test!(a_new_secret_works_at_the_token_endpoint_once_the_service_principal_exists, |app| {
    let a = register(&app, json!({"displayName": "Daemon"})).await;
    let client_id = a["appId"].as_str().unwrap().to_string();
    let secret = add_password(&app, &id_of(&a)).await["secretText"].as_str().unwrap().to_string();
    let r = token(&app, &client_id, &secret).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "no service principal yet: {}", r.text);
    assert_eq!(r.body["error"], json!("invalid_client"));
    let sp = create_sp(&app, &client_id).await;
    let r = token(&app, &client_id, &secret).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let access = r.body["access_token"].as_str().unwrap();
    let claims = jwt_claims(access);
    assert_eq!(claims["appid"], json!(client_id));
    assert_eq!(claims["oid"], sp["id"]);
    assert_eq!(claims["tid"], json!(app.tenant.to_string()));
    assert_eq!(claims["aud"], json!("https://graph.microsoft.com"));
    assert!(claims.get("roles").is_none(), "a fresh application holds no permission: {claims}");
    // The token authenticates, but grants nothing.
    let r = app.get_as(access, "/v1.0/users").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    // The tenant's verified domain names the tenant as well as its id.
    let r = app.token_request("contoso.test", &client_id, &secret, GRAPH_SCOPE).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = token(&app, &client_id, "wrong-secret").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.body["error"], json!("invalid_client"));
});

api_test!(a_removed_secret_no_longer_gets_tokens, |app| {
    let a = register(&app, json!({"displayName": "Rotating"})).await;
    let client_id = a["appId"].as_str().unwrap().to_string();
    create_sp(&app, &client_id).await;
    let old = add_password(&app, &id_of(&a)).await;
    let new = add_password(&app, &id_of(&a)).await;
    let old_secret = old["secretText"].as_str().unwrap();
    let new_secret = new["secretText"].as_str().unwrap();
    assert_eq!(token(&app, &client_id, old_secret).await.status, StatusCode::OK);
    let path = format!("/v1.0/applications/{}/removePassword", id_of(&a));
    let r = app.post(&path, json!({"keyId": old["keyId"]})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(r.text.is_empty());
    let r = token(&app, &client_id, old_secret).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.body["error"], json!("invalid_client"));
    assert_eq!(token(&app, &client_id, new_secret).await.status, StatusCode::OK, "the other secret still works");
    let creds = app.get(&format!("/v1.0/applications/{}", id_of(&a))).await.body["passwordCredentials"].clone();
    assert_eq!(creds.as_array().unwrap().len(), 1);
    assert_eq!(creds[0]["keyId"], new["keyId"]);
    // Removing it again, or a key of nobody, is 404; a malformed keyId is 400.
    assert_eq!(app.post(&path, json!({"keyId": old["keyId"]})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.post(&path, json!({"keyId": uuid::Uuid::new_v4().to_string()})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.post(&path, json!({"keyId": "nope"})).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.post(&path, json!({})).await.status, StatusCode::BAD_REQUEST);
    // A key of another application cannot be removed through this one.
    let other = register(&app, json!({"displayName": "Other"})).await;
    let r =
        app.post(&format!("/v1.0/applications/{}/removePassword", id_of(&other)), json!({"keyId": new["keyId"]})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(token(&app, &client_id, new_secret).await.status, StatusCode::OK);
});

// ---- delete and restore ----

api_test!(a_deleted_application_can_be_restored_with_its_service_principal, |app| {
    let a = register(&app, json!({"displayName": "Phoenix"})).await;
    let id = id_of(&a);
    let client_id = a["appId"].as_str().unwrap().to_string();
    let sp = create_sp(&app, &client_id).await;
    let secret = add_password(&app, &id).await["secretText"].as_str().unwrap().to_string();
    assert_eq!(token(&app, &client_id, &secret).await.status, StatusCode::OK);

    let r = app.delete(&format!("/v1.0/applications/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get(&format!("/v1.0/applications/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("/v1.0/servicePrincipals/{}", id_of(&sp))).await.status,
        StatusCode::NOT_FOUND,
        "the service principal goes with it"
    );
    assert!(sps_with_app_id(&app, &client_id).await.is_empty());
    let r = token(&app, &client_id, &secret).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a deleted application gets no token: {}", r.text);
    let d = app.get("/v1.0/directory/deletedItems/microsoft.graph.application").await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let item = d.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == json!(id))
        .cloned()
        .unwrap_or_else(|| panic!("{}", d.text));
    assert_eq!(item["@odata.type"], json!("#microsoft.graph.application"));
    assert_eq!(item["appId"], json!(client_id));
    assert!(item["deletedDateTime"].is_string());
    assert_eq!(item["publisherDomain"], json!("contoso.test"), "{item}");
    assert_eq!(item["passwordCredentials"].as_array().unwrap().len(), 1, "the secret's metadata is shown: {item}");
    assert_eq!(item["passwordCredentials"][0]["secretText"], Value::Null);
    let one = app.get(&format!("/v1.0/directory/deletedItems/{id}")).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(one.body["publisherDomain"], json!("contoso.test"), "{}", one.text);
    assert!(!one.text.contains(&secret));
    assert_eq!(app.audits_for("Delete application", &id).await.len(), 1);

    let r = app.post(&format!("/v1.0/directory/deletedItems/{id}/restore"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["appId"], json!(client_id));
    assert_eq!(r.body["publisherDomain"], json!("contoso.test"), "{}", r.text);
    assert_eq!(r.body["passwordCredentials"].as_array().unwrap().len(), 1, "{}", r.text);
    let g = app.get(&format!("/v1.0/applications/{id}")).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    assert_eq!(g.body["passwordCredentials"].as_array().unwrap().len(), 1, "secrets come back: {}", g.text);
    let s = app.get(&format!("/v1.0/servicePrincipals/{}", id_of(&sp))).await;
    assert_eq!(s.status, StatusCode::OK, "the service principal is back: {}", s.text);
    assert_eq!(s.body["deletedDateTime"], Value::Null);
    assert_eq!(sps_with_app_id(&app, &client_id).await, vec![id_of(&sp)]);
    assert_eq!(token(&app, &client_id, &secret).await.status, StatusCode::OK);
    assert!(!TestApp::ids(&app.get("/v1.0/directory/deletedItems/microsoft.graph.application").await).contains(&id));
    assert_eq!(app.audits_for("Restore application", &id).await.len(), 1);
});

api_test!(an_application_whose_identifier_uri_was_taken_meanwhile_cannot_be_restored, |app| {
    let a = register(&app, json!({"displayName": "Original", "identifierUris": ["api://contested"]})).await;
    assert_eq!(app.delete(&format!("/v1.0/applications/{}", id_of(&a))).await.status, StatusCode::NO_CONTENT);
    let b = register(&app, json!({"displayName": "Usurper", "identifierUris": ["api://contested"]})).await;
    let r = app.post(&format!("/v1.0/directory/deletedItems/{}/restore", id_of(&a)), json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(
        r.body["error"]["message"],
        json!("Another object with the same value for property identifierUris already exists.")
    );
    assert_eq!(
        app.get(&format!("/v1.0/applications/{}", id_of(&a))).await.status,
        StatusCode::NOT_FOUND,
        "still deleted"
    );
    // Once the URI is free again, the restore goes through.
    assert_eq!(
        app.patch(&format!("/v1.0/applications/{}", id_of(&b)), json!({"identifierUris": []})).await.status,
        StatusCode::NO_CONTENT
    );
    let r = app.post(&format!("/v1.0/directory/deletedItems/{}/restore", id_of(&a)), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        app.get(&format!("/v1.0/applications/{}", id_of(&a))).await.body["identifierUris"],
        json!(["api://contested"])
    );
});

api_test!(a_purged_application_takes_its_service_principal_and_secrets_with_it, |app| {
    let a = register(&app, json!({"displayName": "Ashes"})).await;
    let id = id_of(&a);
    let client_id = a["appId"].as_str().unwrap().to_string();
    let sp = create_sp(&app, &client_id).await;
    let secret = add_password(&app, &id).await["secretText"].as_str().unwrap().to_string();
    assert_eq!(app.delete(&format!("/v1.0/applications/{id}")).await.status, StatusCode::NO_CONTENT);
    let r = app.delete(&format!("/v1.0/directory/deletedItems/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get(&format!("/v1.0/directory/deletedItems/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.post(&format!("/v1.0/directory/deletedItems/{id}/restore"), json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get(&format!("/v1.0/servicePrincipals/{}", id_of(&sp))).await.status, StatusCode::NOT_FOUND);
    assert_eq!(token(&app, &client_id, &secret).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.audits_for("Hard delete application", &id).await.len(), 1);
});

api_test!(applications_need_the_application_permissions, |app| {
    let a = register(&app, json!({"displayName": "Guarded"})).await;
    let reader = app.token_with(app.tenant, &["Application.Read.All".to_string()]).await;
    assert_eq!(app.get_as(&reader, &format!("/v1.0/applications/{}", id_of(&a))).await.status, StatusCode::OK);
    for r in [
        app.post_as(&reader, "/v1.0/applications", json!({"displayName": "No"})).await,
        app.patch_as(&reader, &format!("/v1.0/applications/{}", id_of(&a)), json!({"description": "no"})).await,
        app.post_as(&reader, &format!("/v1.0/applications/{}/addPassword", id_of(&a)), json!({})).await,
        app.delete_as(&reader, &format!("/v1.0/applications/{}", id_of(&a))).await,
    ] {
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(r.code(), "Authorization_RequestDenied");
    }
    let users_only = app.token_with(app.tenant, &["User.Read.All".to_string()]).await;
    assert_eq!(app.get_as(&users_only, "/v1.0/applications").await.status, StatusCode::FORBIDDEN);
    // A reader of applications cannot restore a deleted one either.
    assert_eq!(app.delete(&format!("/v1.0/applications/{}", id_of(&a))).await.status, StatusCode::NO_CONTENT);
    let r = app.post_as(&reader, &format!("/v1.0/directory/deletedItems/{}/restore", id_of(&a)), json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(
        app.get_as(&reader, &format!("/v1.0/directory/deletedItems/{}", id_of(&a))).await.status,
        StatusCode::OK
    );
});
