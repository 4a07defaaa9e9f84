//! `/auditLogs/signIns` and users' `signInActivity`: records written through the store, read
//! through the API.

use portico_core::ids::{ObjectId, TenantId};
use portico_store::signins::{self, SignIn};
use reqwest::StatusCode;
use serde_json::json;

use crate::api_test;
use crate::common::{TestApp, all_permissions, path_of, urlencode};

/// 2024-05-01T00:00:00Z in ms.
const BASE_MS: i64 = 1_714_521_600_000;

fn record(
    tenant: TenantId,
    at: i64,
    user: Option<(ObjectId, &str)>,
    app_id: &str,
    error: i64,
    interactive: bool,
) -> SignIn {
    SignIn {
        id: ObjectId::new(),
        tenant_id: tenant,
        created_at: at,
        user_id: user.map(|u| u.0),
        user_principal_name: user.map(|u| u.1.to_string()),
        user_display_name: user.map(|_| "Signer".to_string()),
        app_id: Some(app_id.to_string()),
        app_display_name: Some("Sign-in test app".into()),
        resource_id: Some("00000003-0000-0000-c000-000000000000".into()),
        resource_display_name: Some("Microsoft Graph".into()),
        ip_address: Some("203.0.113.7".into()),
        client_app_used: "Browser".into(),
        user_agent: Some("test-agent".into()),
        is_interactive: interactive,
        error_code: error,
        failure_reason: (error != 0).then(|| "Invalid username or password.".to_string()),
        additional_details: None,
        authentication_details: json!([]),
        authentication_requirement: "singleFactorAuthentication".into(),
        conditional_access_status: "notApplied".into(),
        home_tenant_id: Some(tenant.to_string()),
        resource_tenant_id: tenant.to_string(),
        correlation_id: ObjectId::new().to_string(),
        user_type: Some("member".into()),
        cross_tenant_access_type: "none".into(),
    }
}

async fn insert(app: &TestApp, s: &SignIn) {
    let mut conn = app.state.dir.store.pool().acquire().await.expect("conn");
    signins::insert(&mut conn, s).await.expect("insert sign-in");
}

api_test!(sign_ins_are_listed_filtered_paged_and_selected, |app| {
    let user = app.create_user("signer", "Signer").await;
    let uid = ObjectId::parse(user["id"].as_str().expect("id")).expect("guid");
    let upn = user["userPrincipalName"].as_str().expect("upn").to_string();
    let app_a = ObjectId::new().to_string();
    let app_b = ObjectId::new().to_string();
    let mut ids = vec![];
    for i in 0..5 {
        let s = record(
            app.tenant,
            BASE_MS + i * 60_000,
            Some((uid, &upn)),
            if i % 2 == 0 { &app_a } else { &app_b },
            if i == 3 { 50126 } else { 0 },
            i != 4,
        );
        insert(&app, &s).await;
        ids.push(s.id.to_string());
    }
    // Another tenant's sign-in never shows.
    let (other, _) = app.new_tenant("Other", None, &[]).await;
    let foreign = record(other, BASE_MS, None, &app_a, 0, true);
    insert(&app, &foreign).await;

    let r = app.get("/v1.0/auditLogs/signIns").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let got = TestApp::ids(&r);
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(got, newest_first, "newest first, own tenant only");
    assert!(r.body["@odata.context"].as_str().unwrap_or_default().ends_with("$metadata#auditLogs/signIns"));
    let first = &r.body["value"][0];
    assert_eq!(first["userId"], json!(uid.to_string()));
    assert_eq!(first["userPrincipalName"], json!(upn));
    assert_eq!(first["riskDetail"], json!("none"));
    assert_eq!(first["isInteractive"], json!(false));
    assert_eq!(first["status"]["errorCode"], json!(0));
    assert!(first["location"].is_object());
    assert_eq!(r.body["value"][1]["status"]["errorCode"], json!(50126));

    let q = |f: &str| format!("/v1.0/auditLogs/signIns?$filter={}", urlencode(f));
    let r = app.get(&q(&format!("appId eq '{app_b}'"))).await;
    assert_eq!(TestApp::ids(&r), vec![ids[3].clone(), ids[1].clone()], "{}", r.text);
    let r = app.get(&q("status/errorCode eq 50126")).await;
    assert_eq!(TestApp::ids(&r), vec![ids[3].clone()], "{}", r.text);
    let r = app.get(&q("isInteractive eq false")).await;
    assert_eq!(TestApp::ids(&r), vec![ids[4].clone()], "{}", r.text);
    let r = app.get(&q(&format!("userId eq '{uid}'"))).await;
    assert_eq!(TestApp::ids(&r).len(), 5);
    let r = app.get(&q("startsWith(userPrincipalName, 'SIGNER@')")).await;
    assert_eq!(TestApp::ids(&r).len(), 5, "{}", r.text);
    let r = app.get(&q("createdDateTime ge 2024-05-01T00:02:00Z and createdDateTime le 2024-05-01T00:03:00Z")).await;
    assert_eq!(TestApp::ids(&r), vec![ids[3].clone(), ids[2].clone()], "{}", r.text);
    let r = app.get(&q("bogus eq 1")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Paging with $top and the skiptoken, with $count.
    let mut path = "/v1.0/auditLogs/signIns?$top=2&$count=true".to_string();
    let mut seen = vec![];
    loop {
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.body["@odata.count"], json!(5));
        seen.extend(TestApp::ids(&r));
        match r.body["@odata.nextLink"].as_str() {
            Some(next) => path = path_of(&app, next),
            None => break,
        }
    }
    assert_eq!(seen, newest_first);

    let r = app.get("/v1.0/auditLogs/signIns?$select=id,appId,status&$top=1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let keys: Vec<&String> = r.body["value"][0].as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 3, "{keys:?}");

    let r = app.get(&format!("/v1.0/auditLogs/signIns/{}", ids[2])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], json!(ids[2]));
    assert!(r.body["@odata.context"].as_str().unwrap_or_default().ends_with("auditLogs/signIns/$entity"));
    let r = app.get(&format!("/v1.0/auditLogs/signIns/{}", foreign.id)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "another tenant's sign-in: {}", r.text);
    let r = app.get(&format!("/v1.0/auditLogs/signIns/{}", ObjectId::new())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "Request_ResourceNotFound");
    let r = app.get("/v1.0/auditLogs/signIns/not-a-guid").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
});

api_test!(sign_ins_need_audit_log_read_all, |app| {
    let perms: Vec<String> = all_permissions().into_iter().filter(|p| p != "AuditLog.Read.All").collect();
    let t = app.token_with(app.tenant, &perms).await;
    let r = app.get_as(&t, "/v1.0/auditLogs/signIns").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.code(), "Authorization_RequestDenied");
    let r = app.get_as(&t, &format!("/v1.0/auditLogs/signIns/{}", ObjectId::new())).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let t = app.token_with(app.tenant, &["AuditLog.Read.All".to_string()]).await;
    assert_eq!(app.get_as(&t, "/v1.0/auditLogs/signIns").await.status, StatusCode::OK);
});

api_test!(sign_in_activity_is_selected_on_users, |app| {
    let user = app.create_user("active", "Active User").await;
    let id = user["id"].as_str().expect("id").to_string();
    let uid = ObjectId::parse(&id).expect("guid");
    let upn = user["userPrincipalName"].as_str().expect("upn").to_string();
    let interactive = record(app.tenant, BASE_MS, Some((uid, &upn)), "a", 0, true);
    insert(&app, &interactive).await;
    insert(&app, &record(app.tenant, BASE_MS + 1000, Some((uid, &upn)), "a", 0, false)).await;
    // A failure does not count as activity.
    insert(&app, &record(app.tenant, BASE_MS + 5000, Some((uid, &upn)), "a", 50126, true)).await;

    let r = app.get(&format!("/v1.0/users/{id}?$select=id,signInActivity")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let a = &r.body["signInActivity"];
    assert_eq!(a["lastSignInDateTime"], json!("2024-05-01T00:00:00Z"), "{a}");
    assert_eq!(a["lastSuccessfulSignInDateTime"], a["lastSignInDateTime"]);
    assert_eq!(a["lastNonInteractiveSignInDateTime"], json!("2024-05-01T00:00:01Z"));
    assert!(a["lastSignInRequestId"].is_string());

    let r = app.get("/v1.0/users?$select=id,displayName,signInActivity").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let list = r.body["value"].as_array().expect("value");
    let me = list.iter().find(|u| u["id"] == json!(id)).expect("user listed");
    assert_eq!(me["signInActivity"]["lastSignInDateTime"], json!("2024-05-01T00:00:00Z"));
    assert!(list.iter().all(|u| u["signInActivity"].is_object()), "every user gets the object");
    // Not shown unless selected.
    assert!(app.get(&format!("/v1.0/users/{id}")).await.body.get("signInActivity").is_none());

    let perms: Vec<String> = all_permissions().into_iter().filter(|p| p != "AuditLog.Read.All").collect();
    let t = app.token_with(app.tenant, &perms).await;
    let r = app.get_as(&t, &format!("/v1.0/users/{id}?$select=signInActivity")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app.get_as(&t, "/v1.0/users?$select=signInActivity").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(app.get_as(&t, &format!("/v1.0/users/{id}?$select=id")).await.status, StatusCode::OK);
});
