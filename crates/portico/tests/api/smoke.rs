//! First end-to-end checks: token, list, create, filter, audit.

use reqwest::StatusCode;
use serde_json::json;

use crate::api_test;

api_test!(created_user_is_listed_filtered_and_audited, |app| {
    let u = app.create_user("zed", "Zed Zimmer").await;
    let id = u["id"].as_str().unwrap().to_string();
    let r = app.get("/v1.0/users?$filter=startsWith(displayName,'zed')&$select=id,displayName").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["value"][0]["id"], json!(id));
    assert!(r.body["@odata.context"].as_str().unwrap().ends_with("/v1.0/$metadata#users(id,displayName)"));
    let a = app.get("/v1.0/auditLogs/directoryAudits?$filter=activityDisplayName eq 'Add user'").await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let hit = a.body["value"].as_array().unwrap().iter().any(|e| e["targetResources"][0]["id"] == json!(id));
    assert!(hit, "no audit record for the new user: {}", a.text);
});
