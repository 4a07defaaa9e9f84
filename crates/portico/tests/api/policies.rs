//! `/policies/identitySecurityDefaultsEnforcementPolicy`.

use reqwest::StatusCode;
use serde_json::json;

use crate::api_test;
use crate::common::all_permissions;

const PATH: &str = "/v1.0/policies/identitySecurityDefaultsEnforcementPolicy";

api_test!(security_defaults_round_trip_and_are_audited, |app| {
    let r = app.get(PATH).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], json!("00000000-0000-0000-0000-000000000005"));
    assert_eq!(r.body["displayName"], json!("Security Defaults"));
    assert_eq!(r.body["isEnabled"], json!(false));
    assert!(r.body["description"].as_str().unwrap_or_default().starts_with("Security defaults is"));
    assert!(
        r.body["@odata.context"]
            .as_str()
            .unwrap_or_default()
            .ends_with("$metadata#policies/identitySecurityDefaultsEnforcementPolicy/$entity")
    );

    // Other keys of the sign-in policy survive.
    {
        let mut conn = app.state.dir.store.pool().acquire().await.expect("conn");
        portico_store::tenants::set_sign_in_policy(&mut conn, app.tenant, &json!({"keep": 1})).await.expect("policy");
    }
    let r = app.patch(PATH, json!({"isEnabled": true})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app.get(PATH).await;
    assert_eq!(r.body["isEnabled"], json!(true));
    let mut conn = app.state.dir.store.pool().acquire().await.expect("conn");
    let policy = portico_store::tenants::sign_in_policy(&mut conn, app.tenant).await.expect("policy");
    assert_eq!(policy, json!({"keep": 1, "securityDefaults": true}));
    drop(conn);
    let audits = app.audits_for("Update policy", "00000000-0000-0000-0000-000000000005").await;
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0]["category"], json!("Policy"));

    let r = app.get(&format!("{PATH}?$select=isEnabled")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["isEnabled"], json!(true));
    assert!(r.body.get("description").is_none());

    for bad in [json!({"isEnabled": "yes"}), json!({"displayName": "Mine"}), json!({"nope": true})] {
        let r = app.patch(PATH, bad.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }
    let r = app.patch(PATH, json!({"isEnabled": false})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(PATH).await.body["isEnabled"], json!(false));
});

api_test!(security_defaults_need_policy_permissions, |app| {
    let perms: Vec<String> = all_permissions().into_iter().filter(|p| !p.starts_with("Policy.")).collect();
    let t = app.token_with(app.tenant, &perms).await;
    assert_eq!(app.get_as(&t, PATH).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.patch_as(&t, PATH, json!({"isEnabled": true})).await.status, StatusCode::FORBIDDEN);
    let read = app.token_with(app.tenant, &["Policy.Read.All".to_string()]).await;
    assert_eq!(app.get_as(&read, PATH).await.status, StatusCode::OK);
    assert_eq!(app.patch_as(&read, PATH, json!({"isEnabled": true})).await.status, StatusCode::FORBIDDEN);
    // The other policies' write permissions do not reach security defaults.
    let others: Vec<String> = all_permissions()
        .into_iter()
        .filter(|p| {
            p.starts_with("Policy.")
                && p != "Policy.ReadWrite.SecurityDefaults"
                && p != "Policy.ReadWrite.ConditionalAccess"
        })
        .collect();
    let others = app.token_with(app.tenant, &others).await;
    assert_eq!(app.patch_as(&others, PATH, json!({"isEnabled": true})).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(PATH).await.body["isEnabled"], json!(false));
    // Graph's permission for it, and the conditional-access one Graph long listed, do.
    for p in ["Policy.ReadWrite.SecurityDefaults", "Policy.ReadWrite.ConditionalAccess"] {
        let t = app.token_with(app.tenant, &[p.to_string()]).await;
        let r = app.patch_as(&t, PATH, json!({"isEnabled": true})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{p}: {}", r.text);
        assert!(app.patch(PATH, json!({"isEnabled": false})).await.status.is_success());
    }
});
