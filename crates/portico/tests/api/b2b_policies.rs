//! The external collaboration settings: `/policies/authorizationPolicy`,
//! `/policies/b2bManagementPolicies`, `/policies/externalIdentitiesPolicy` and the email
//! authentication method; and that what the API writes is what the B2B readers read.

use portico_core::b2b::{DomainList, GuestAccess, InvitesFrom, guest_role};
use portico_http::b2b::policy;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::common::{TestApp, all_permissions};

const AUTHZ: &str = "/v1.0/policies/authorizationPolicy";
const B2B: &str = "/beta/policies/b2bManagementPolicies";
const EXT: &str = "/beta/policies/externalIdentitiesPolicy";
const EMAIL: &str = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email";

/// A b2bManagementPolicy definition with these lists.
fn definition(allowed: &[&str], blocked: &[&str]) -> Value {
    let inner = json!({"B2BManagementPolicy": {"InvitationsAllowedAndBlockedDomainsPolicy": {
        "AllowedDomains": allowed, "BlockedDomains": blocked
    }}});
    json!([inner.to_string()])
}

fn new_policy(allowed: &[&str], blocked: &[&str]) -> Value {
    json!({"displayName": "B2B policy", "description": "Domains", "definition": definition(allowed, blocked), "isOrganizationDefault": true})
}

/// The audit records of `activity` naming `target`, each one's modifiedProperties by name.
async fn changes(app: &TestApp, activity: &str, target: &str) -> Vec<Vec<(String, String, String)>> {
    app.audits_for(activity, target)
        .await
        .iter()
        .map(|e| {
            let t = e["targetResources"].as_array().expect("targets").iter().find(|t| t["id"] == json!(target));
            t.expect("target")["modifiedProperties"]
                .as_array()
                .expect("modifiedProperties")
                .iter()
                .map(|m| {
                    let s = |k: &str| m[k].as_str().unwrap_or_default().to_string();
                    (s("displayName"), s("oldValue"), s("newValue"))
                })
                .collect()
        })
        .collect()
}

fn assert_bad_request(r: &crate::common::Resp, what: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.text);
    assert_eq!(r.code(), "Request_BadRequest", "{what}: {}", r.text);
    assert!(r.body["error"]["innerError"]["request-id"].is_string(), "{what}: no Graph envelope: {}", r.text);
}

async fn conn(app: &TestApp) -> sqlx::pool::PoolConnection<sqlx::Any> {
    app.state.dir.store.pool().acquire().await.expect("conn")
}

api_test!(authorization_policy_has_entras_defaults, |app| {
    for path in [AUTHZ, "/beta/policies/authorizationPolicy"] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let mut body = r.body.clone();
        let context = body.as_object_mut().expect("object").remove("@odata.context").expect("context");
        let version = if path.starts_with("/beta") { "beta" } else { "v1.0" };
        assert_eq!(context, json!(format!("{}/{version}/$metadata#policies/authorizationPolicy/$entity", app.base)));
        assert_eq!(
            body,
            json!({
                "id": "authorizationPolicy",
                "deletedDateTime": null,
                "displayName": "Authorization Policy",
                "description": "Used to manage authorization related settings across the company.",
                "allowInvitesFrom": "everyone",
                "allowedToSignUpEmailBasedSubscriptions": true,
                "allowedToUseSSPR": true,
                "allowEmailVerifiedUsersToJoinOrganization": false,
                "allowUserConsentForRiskyApps": false,
                "blockMsolPowerShell": false,
                "guestUserRoleId": "10dae51f-b6af-4016-8d66-8c2a99b929b3",
                "defaultUserRolePermissions": {
                    "allowedToCreateApps": true,
                    "allowedToCreateSecurityGroups": true,
                    "allowedToCreateTenants": true,
                    "allowedToReadBitlockerKeysForOwnedDevice": true,
                    "allowedToReadOtherUsers": true,
                    "permissionGrantPoliciesAssigned": ["ManagePermissionGrantsForSelf.microsoft-user-default-legacy"]
                }
            })
        );
    }
    let r = app.get(&format!("{AUTHZ}?$select=allowInvitesFrom,guestUserRoleId")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["allowInvitesFrom"], json!("everyone"));
    assert!(r.body.get("displayName").is_none(), "{}", r.text);
    assert_bad_request(&app.get(&format!("{AUTHZ}?$select=nope")).await, "$select of an unknown property");
    let mut c = conn(&app).await;
    assert_eq!(policy::invites_from(&mut c, app.tenant).await.expect("read"), InvitesFrom::Everyone);
    assert_eq!(policy::guest_access(&mut c, app.tenant).await.expect("read"), GuestAccess::Limited);
});

api_test!(authorization_policy_patch_merges_is_read_back_and_audited, |app| {
    let r = app
        .patch(
            AUTHZ,
            json!({
                "allowInvitesFrom": "adminsAndGuestInviters",
                "guestUserRoleId": "2AF84B1E-32C8-42B7-82BC-DAA82404023B",
                "blockMsolPowerShell": true,
                "defaultUserRolePermissions": {"allowedToCreateApps": false}
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app.get(AUTHZ).await;
    assert_eq!(r.body["allowInvitesFrom"], json!("adminsAndGuestInviters"));
    assert_eq!(r.body["guestUserRoleId"], json!(guest_role::RESTRICTED_GUEST_USER));
    assert_eq!(r.body["blockMsolPowerShell"], json!(true));
    // The nested object merges: only allowedToCreateApps changed.
    assert_eq!(r.body["defaultUserRolePermissions"]["allowedToCreateApps"], json!(false));
    assert_eq!(r.body["defaultUserRolePermissions"]["allowedToReadOtherUsers"], json!(true));
    assert_eq!(r.body["allowedToUseSSPR"], json!(true));
    {
        let mut c = conn(&app).await;
        assert_eq!(policy::invites_from(&mut c, app.tenant).await.expect("read"), InvitesFrom::AdminsAndGuestInviters);
        assert_eq!(policy::guest_access(&mut c, app.tenant).await.expect("read"), GuestAccess::Restricted);
    }
    let audits = changes(&app, "Update authorization policy", "authorizationPolicy").await;
    assert_eq!(audits.len(), 1, "{audits:?}");
    assert!(
        audits[0].contains(&("allowInvitesFrom".into(), "\"everyone\"".into(), "\"adminsAndGuestInviters\"".into())),
        "{audits:?}"
    );
    assert!(audits[0].iter().any(|(n, _, _)| n == "guestUserRoleId"), "{audits:?}");
    assert!(!audits[0].iter().any(|(n, _, _)| n == "allowedToUseSSPR"), "unchanged properties are not listed");

    // Every level of the invitation setting and of guest access reads back.
    for (value, want) in [
        ("none", InvitesFrom::None),
        ("adminsGuestInvitersAndAllMembers", InvitesFrom::AdminsGuestInvitersAndAllMembers),
        ("everyone", InvitesFrom::Everyone),
    ] {
        assert_eq!(app.patch(AUTHZ, json!({"allowInvitesFrom": value})).await.status, StatusCode::NO_CONTENT);
        let mut c = conn(&app).await;
        assert_eq!(policy::invites_from(&mut c, app.tenant).await.expect("read"), want);
    }
    assert_eq!(app.patch(AUTHZ, json!({"guestUserRoleId": guest_role::USER})).await.status, StatusCode::NO_CONTENT);
    let mut c = conn(&app).await;
    assert_eq!(policy::guest_access(&mut c, app.tenant).await.expect("read"), GuestAccess::SameAsMembers);
    drop(c);
    // A PATCH that changes nothing writes no audit record.
    let before = app.audits_for("Update authorization policy", "authorizationPolicy").await.len();
    assert_eq!(app.patch(AUTHZ, json!({"allowInvitesFrom": "everyone"})).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.audits_for("Update authorization policy", "authorizationPolicy").await.len(), before);
});

api_test!(authorization_policy_refuses_bad_values, |app| {
    let cases = [
        (json!({"allowInvitesFrom": "unknownFutureValue"}), "unknownFutureValue"),
        (json!({"allowInvitesFrom": "sometimes"}), "unknown enum member"),
        (json!({"allowInvitesFrom": null}), "null enum"),
        (json!({"guestUserRoleId": "62e90394-69f5-4237-9190-012177145e10"}), "not a guest role id"),
        (json!({"guestUserRoleId": "not-a-guid"}), "bad guid"),
        (json!({"allowedToUseSSPR": "true"}), "boolean as text"),
        (json!({"blockMsolPowerShell": 1}), "boolean as number"),
        (json!({"allowGuestsToFly": true}), "unknown property"),
        (json!({"id": "other"}), "read-only id"),
        (json!({"defaultUserRolePermissions": {"allowedToFly": true}}), "unknown nested property"),
        (json!({"defaultUserRolePermissions": {"allowedToCreateApps": "no"}}), "nested boolean as text"),
        (json!({"defaultUserRolePermissions": null}), "null nested object"),
    ];
    for (body, what) in cases {
        assert_bad_request(&app.patch(AUTHZ, body).await, what);
    }
    let r = app.get(AUTHZ).await;
    assert_eq!(r.body["allowInvitesFrom"], json!("everyone"));
    assert_eq!(r.body["guestUserRoleId"], json!(guest_role::GUEST_USER));
    assert!(app.audits_for("Update authorization policy", "authorizationPolicy").await.is_empty());
    let mut c = conn(&app).await;
    assert!(portico_store::b2b::policy(&mut c, app.tenant, "authorizationPolicy").await.expect("read").is_none());
});

api_test!(b2b_management_policy_lifecycle_drives_the_domain_list, |app| {
    let r = app.get(B2B).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["value"], json!([]));
    assert!(
        r.body["@odata.context"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/beta/$metadata#policies/b2bManagementPolicies")
    );

    // Graph's documented create body (single-quoted JSON, deletedDateTime null) is accepted.
    let r = app
        .post(
            B2B,
            json!({
                "@odata.type": "#microsoft.graph.b2bManagementPolicy",
                "deletedDateTime": null,
                "displayName": "Policy1",
                "description": "Policy used for B2B features",
                "definition": ["{'B2BManagementPolicy':{'InvitationsAllowedAndBlockedDomainsPolicy':{'AllowedDomains':['fabrikam.com','*.woodgrove.test']}}}"],
                "isOrganizationDefault": true
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().expect("id").to_string();
    assert_eq!(r.body["@odata.type"], json!("#microsoft.graph.b2bManagementPolicy"));
    assert_eq!(r.body["isOrganizationDefault"], json!(true));
    assert_eq!(r.body["displayName"], json!("Policy1"));
    assert_eq!(r.body["definition"].as_array().map(Vec::len), Some(1));
    {
        let mut c = conn(&app).await;
        let list = policy::domain_list(&mut c, app.tenant).await.expect("read");
        assert_eq!(list, DomainList::Allow(vec!["fabrikam.com".into(), "*.woodgrove.test".into()]));
        assert!(list.allows("eu.woodgrove.test") && !list.allows("contoso.com"));
    }
    let r = app.get(B2B).await;
    assert_eq!(TestApp::ids(&r), vec![id.clone()]);
    let r = app.get(&format!("{B2B}/{id}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], json!(id));
    assert_eq!(r.body["description"], json!("Policy used for B2B features"));
    assert_eq!(app.get(&format!("{B2B}/{}", uuid::Uuid::new_v4())).await.status, StatusCode::NOT_FOUND);

    // One per tenant.
    let r = app.post(B2B, new_policy(&[], &["live.com"])).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    assert_eq!(r.code(), "Request_MultipleObjectsWithSameKeyValue");

    // Switching to a block list replaces the allow list whole.
    let r = app.patch(&format!("{B2B}/{id}"), json!({"definition": definition(&[], &["live.com"])})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    {
        let mut c = conn(&app).await;
        let list = policy::domain_list(&mut c, app.tenant).await.expect("read");
        assert_eq!(list, DomainList::Block(vec!["live.com".into()]));
        assert!(list.allows("fabrikam.com") && !list.allows("live.com"));
    }
    let r = app.get(&format!("{B2B}/{id}")).await;
    assert_eq!(r.body["definition"], definition(&[], &["live.com"]));
    assert_eq!(r.body["displayName"], json!("Policy1"), "a PATCH keeps what it does not name");
    assert_eq!(
        app.patch(&format!("{B2B}/{id}"), json!({"displayName": "Renamed"})).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&format!("{B2B}/{id}")).await.body["displayName"], json!("Renamed"));

    let adds = changes(&app, "Add policy", &id).await;
    assert_eq!(adds.len(), 1);
    let updates = changes(&app, "Update policy", &id).await;
    assert_eq!(updates.len(), 2, "{updates:?}");
    let detail = updates
        .iter()
        .flatten()
        .find(|(n, _, _)| n == "PolicyDetail")
        .unwrap_or_else(|| panic!("no PolicyDetail: {updates:?}"));
    assert!(detail.1.contains("fabrikam.com") && detail.2.contains("live.com"), "{detail:?}");
    let audit = &app.audits_for("Update policy", &id).await[0];
    assert_eq!(audit["targetResources"][0]["type"], json!("B2BManagementPolicy"));
    assert_eq!(audit["category"], json!("Policy"));

    let r = app.delete(&format!("{B2B}/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.delete(&format!("{B2B}/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("{B2B}/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.patch(&format!("{B2B}/{id}"), json!({"displayName": "x"})).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(B2B).await.body["value"], json!([]));
    assert_eq!(changes(&app, "Delete policy", &id).await.len(), 1);
    {
        let mut c = conn(&app).await;
        assert_eq!(policy::domain_list(&mut c, app.tenant).await.expect("read"), DomainList::Open);
    }
    // After a delete a new one may be created.
    let r = app.post(B2B, new_policy(&["fabrikam.com"], &[])).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_ne!(r.body["id"], json!(id));
});

api_test!(b2b_management_policy_refuses_bad_definitions, |app| {
    let too_big: Vec<String> = (0..2000).map(|i| format!("domain{i}.example.com")).collect();
    let too_big: Vec<&str> = too_big.iter().map(String::as_str).collect();
    let cases = vec![
        (new_policy(&["fabrikam.com"], &["live.com"]), "both lists"),
        (new_policy(&["not a domain"], &[]), "invalid domain"),
        (new_policy(&[], &["under_score.com"]), "invalid blocked domain"),
        (new_policy(&[], &["localhost"]), "single-label domain"),
        (new_policy(&[], &too_big), "larger than 25 KB"),
        (json!({"displayName": "x", "definition": ["{}", "{}"]}), "two strings"),
        (json!({"displayName": "x", "definition": []}), "no string"),
        (json!({"displayName": "x", "definition": ["not json"]}), "not JSON"),
        (json!({"displayName": "x", "definition": ["{\"Other\":{}}"]}), "not a B2BManagementPolicy"),
        (json!({"displayName": "x", "definition": "{}"}), "not a collection"),
        (json!({"displayName": "x"}), "no definition"),
        (json!({"definition": definition(&[], &["live.com"])}), "no displayName"),
        (
            json!({"displayName": "x", "definition": definition(&[], &["live.com"]), "appliesTo": []}),
            "unknown property",
        ),
        (json!({"displayName": "x", "definition": definition(&[], &["live.com"]), "id": "mine"}), "read-only id"),
        (
            json!({"displayName": "x", "definition": definition(&[], &["live.com"]), "isOrganizationDefault": false}),
            "not the organization default",
        ),
    ];
    for (body, what) in cases {
        assert_bad_request(&app.post(B2B, body).await, what);
    }
    assert_eq!(app.get(B2B).await.body["value"], json!([]));

    let r = app.post(B2B, new_policy(&[], &["live.com"])).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().expect("id").to_string();
    for (body, what) in [
        (json!({"definition": definition(&["a.com"], &["b.com"])}), "both lists"),
        (json!({"definition": definition(&["bad..domain"], &[])}), "invalid domain"),
        (json!({"definition": definition(&[], &too_big)}), "too big"),
        (json!({"displayName": null}), "null displayName"),
        (json!({"nope": 1}), "unknown property"),
    ] {
        assert_bad_request(&app.patch(&format!("{B2B}/{id}"), body).await, what);
    }
    let mut c = conn(&app).await;
    assert_eq!(
        policy::domain_list(&mut c, app.tenant).await.expect("read"),
        DomainList::Block(vec!["live.com".into()])
    );
});

api_test!(external_identities_policy_round_trips, |app| {
    let r = app.get(EXT).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], json!("externalIdentityPolicy"));
    assert_eq!(r.body["displayName"], json!("External Identities Policy"));
    assert_eq!(r.body["allowExternalIdentitiesToLeave"], json!(true));
    assert_eq!(r.body["allowDeletedIdentitiesDataRemoval"], json!(false));
    assert!(
        r.body["@odata.context"]
            .as_str()
            .unwrap_or_default()
            .ends_with("/beta/$metadata#policies/externalIdentitiesPolicy/$entity")
    );
    {
        let mut c = conn(&app).await;
        assert!(policy::guests_may_leave(&mut c, app.tenant).await.expect("read"));
    }
    let r = app.patch(EXT, json!({"allowExternalIdentitiesToLeave": false})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get(EXT).await.body["allowExternalIdentitiesToLeave"], json!(false));
    {
        let mut c = conn(&app).await;
        assert!(!policy::guests_may_leave(&mut c, app.tenant).await.expect("read"));
    }
    let audits = changes(&app, "Update policy", "externalIdentityPolicy").await;
    assert_eq!(
        audits,
        vec![vec![("allowExternalIdentitiesToLeave".to_string(), "true".to_string(), "false".to_string())]]
    );
    for (body, what) in [
        (json!({"allowExternalIdentitiesToLeave": "no"}), "boolean as text"),
        (json!({"allowExternalIdentitiesToLeave": null}), "null"),
        (json!({"displayName": "Mine"}), "read-only displayName"),
        (json!({"allowGuestsToStay": true}), "unknown property"),
    ] {
        assert_bad_request(&app.patch(EXT, body).await, what);
    }
    assert_eq!(app.get(EXT).await.body["allowExternalIdentitiesToLeave"], json!(false));
});

api_test!(email_method_round_trips_with_portico_lifetimes, |app| {
    let r = app.get(EMAIL).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["@odata.type"], json!("#microsoft.graph.emailAuthenticationMethodConfiguration"));
    assert_eq!(r.body["id"], json!("Email"));
    assert_eq!(r.body["state"], json!("enabled"));
    assert_eq!(r.body["allowExternalIdToUseEmailOtp"], json!("default"));
    assert_eq!(
        r.body["includeTargets"],
        json!([{"targetType": "group", "id": "all_users", "isRegistrationRequired": false}])
    );
    assert_eq!(r.body["excludeTargets"], json!([]));
    assert_eq!(r.body["oneTimePasscodeLifetimeInMinutes"], json!(10));
    assert_eq!(r.body["oneTimePasscodeSessionLifetimeInHours"], json!(24));
    assert!(
        r.body["@odata.context"]
            .as_str()
            .unwrap_or_default()
            .ends_with("$metadata#authenticationMethodConfigurations/$entity")
    );
    {
        let mut c = conn(&app).await;
        let otp = policy::email_otp(&mut c, app.tenant).await.expect("read");
        assert_eq!((otp.enabled, otp.code_minutes, otp.session_hours), (true, 10, 24));
    }

    let group = app.create_group("OTP excluded").await;
    let gid = group["id"].as_str().expect("id").to_string();
    let r = app
        .patch(
            EMAIL,
            json!({
                "@odata.type": "#microsoft.graph.emailAuthenticationMethodConfiguration",
                "allowExternalIdToUseEmailOtp": "disabled",
                "oneTimePasscodeLifetimeInMinutes": 5,
                "oneTimePasscodeSessionLifetimeInHours": 12,
                "excludeTargets": [{"targetType": "group", "id": gid}]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app.get(EMAIL).await;
    assert_eq!(r.body["allowExternalIdToUseEmailOtp"], json!("disabled"));
    assert_eq!(r.body["oneTimePasscodeLifetimeInMinutes"], json!(5));
    assert_eq!(r.body["oneTimePasscodeSessionLifetimeInHours"], json!(12));
    assert_eq!(r.body["excludeTargets"], json!([{"targetType": "group", "id": gid}]));
    assert_eq!(r.body["state"], json!("enabled"), "a PATCH keeps what it does not name");
    {
        let mut c = conn(&app).await;
        let otp = policy::email_otp(&mut c, app.tenant).await.expect("read");
        assert_eq!((otp.enabled, otp.code_minutes, otp.session_hours), (false, 5, 12));
    }
    let audits = changes(&app, "Authentication Methods Policy Update", "Email").await;
    assert_eq!(audits.len(), 1);
    let names: Vec<&str> = audits[0].iter().map(|(n, _, _)| n.as_str()).collect();
    for n in [
        "allowExternalIdToUseEmailOtp",
        "oneTimePasscodeLifetimeInMinutes",
        "oneTimePasscodeSessionLifetimeInHours",
        "excludeTargets",
    ] {
        assert!(names.contains(&n), "{n} not in {names:?}");
    }

    // The ends of the ranges are accepted.
    let r = app.patch(EMAIL, json!({"oneTimePasscodeLifetimeInMinutes": 30, "oneTimePasscodeSessionLifetimeInHours": 1, "allowExternalIdToUseEmailOtp": "Enabled"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    {
        let mut c = conn(&app).await;
        let otp = policy::email_otp(&mut c, app.tenant).await.expect("read");
        assert_eq!((otp.enabled, otp.code_minutes, otp.session_hours), (true, 30, 1));
    }
    assert_eq!(app.get(EMAIL).await.body["allowExternalIdToUseEmailOtp"], json!("enabled"));

    let cases = [
        (json!({"oneTimePasscodeLifetimeInMinutes": 0}), "minutes below 1"),
        (json!({"oneTimePasscodeLifetimeInMinutes": 31}), "minutes above 30"),
        (json!({"oneTimePasscodeLifetimeInMinutes": "10"}), "minutes as text"),
        (json!({"oneTimePasscodeLifetimeInMinutes": 2.5}), "fractional minutes"),
        (json!({"oneTimePasscodeSessionLifetimeInHours": 25}), "hours above 24"),
        (json!({"oneTimePasscodeSessionLifetimeInHours": 0}), "hours below 1"),
        (json!({"oneTimePasscodeSessionLifetimeInHours": null}), "null hours"),
        (json!({"allowExternalIdToUseEmailOtp": "unknownFutureValue"}), "unknownFutureValue"),
        (json!({"allowExternalIdToUseEmailOtp": "sometimes"}), "unknown enum member"),
        (json!({"state": "paused"}), "unknown state"),
        (json!({"id": "Sms"}), "read-only id"),
        (json!({"otpLength": 8}), "unknown property"),
        (json!({"@odata.type": "#microsoft.graph.smsAuthenticationMethodConfiguration"}), "another type"),
        (json!({"excludeTargets": [{"targetType": "group", "id": uuid::Uuid::new_v4().to_string()}]}), "unknown group"),
        (json!({"excludeTargets": [{"targetType": "user", "id": gid}]}), "a user target"),
        (json!({"excludeTargets": [{"targetType": "group", "id": "all_users"}]}), "all_users excluded"),
        (json!({"includeTargets": [{"targetType": "group"}]}), "target without id"),
        (
            json!({"includeTargets": [{"targetType": "group", "id": "all_users", "colour": "red"}]}),
            "unknown target property",
        ),
    ];
    for (body, what) in cases {
        assert_bad_request(&app.patch(EMAIL, body).await, what);
    }
    let mut c = conn(&app).await;
    let otp = policy::email_otp(&mut c, app.tenant).await.expect("read");
    assert_eq!((otp.enabled, otp.code_minutes, otp.session_hours), (true, 30, 1));
});

api_test!(policies_need_policy_permissions, |app| {
    let b2b = app.post(B2B, new_policy(&[], &["live.com"])).await;
    assert_eq!(b2b.status, StatusCode::CREATED, "{}", b2b.text);
    let id = b2b.body["id"].as_str().expect("id").to_string();
    let one = format!("{B2B}/{id}");
    let reads = [AUTHZ, B2B, one.as_str(), EXT, EMAIL];
    let writes: Vec<(&str, &str, Value)> = vec![
        ("PATCH", AUTHZ, json!({"allowInvitesFrom": "none"})),
        ("POST", B2B, new_policy(&["fabrikam.com"], &[])),
        ("PATCH", &one, json!({"displayName": "x"})),
        ("DELETE", &one, Value::Null),
        ("PATCH", EXT, json!({"allowExternalIdentitiesToLeave": false})),
        ("PATCH", EMAIL, json!({"allowExternalIdToUseEmailOtp": "disabled"})),
    ];
    let no_policy: Vec<String> = all_permissions().into_iter().filter(|p| !p.starts_with("Policy.")).collect();
    let none = app.token_with(app.tenant, &no_policy).await;
    let read_only = app.token_with(app.tenant, &["Policy.Read.All".to_string()]).await;
    for path in reads {
        let r = app.get_as(&none, path).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "GET {path}: {}", r.text);
        assert_eq!(r.code(), "Authorization_RequestDenied");
        assert_eq!(app.get_as(&read_only, path).await.status, StatusCode::OK, "Policy.Read.All GET {path}");
    }
    for (method, path, body) in &writes {
        for t in [&none, &read_only] {
            let r = match *method {
                "PATCH" => app.patch_as(t, path, body.clone()).await,
                "POST" => app.post_as(t, path, body.clone()).await,
                _ => app.delete_as(t, path).await,
            };
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path}: {}", r.text);
            assert_eq!(r.code(), "Authorization_RequestDenied");
        }
    }
    // Each policy has its own write permission: all the other policy permissions together are
    // refused (Policy.ReadWrite.CrossTenantAccess does not change the authorization policy).
    let needed = |path: &str| match path {
        EXT => "Policy.ReadWrite.ExternalIdentities",
        EMAIL => "Policy.ReadWrite.AuthenticationMethod",
        _ => "Policy.ReadWrite.Authorization",
    };
    for (method, path, body) in &writes {
        let others: Vec<String> =
            all_permissions().into_iter().filter(|p| p.starts_with("Policy.") && p != needed(path)).collect();
        let t = app.token_with(app.tenant, &others).await;
        let r = match *method {
            "PATCH" => app.patch_as(&t, path, body.clone()).await,
            "POST" => app.post_as(&t, path, body.clone()).await,
            _ => app.delete_as(&t, path).await,
        };
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{method} {path} without {}: {}", needed(path), r.text);
    }
    // Nothing changed.
    assert_eq!(app.get(AUTHZ).await.body["allowInvitesFrom"], json!("everyone"));
    assert_eq!(app.get(&one).await.status, StatusCode::OK);
    assert_eq!(app.get(EXT).await.body["allowExternalIdentitiesToLeave"], json!(true));
    // Graph's write permission for the authorization policy writes it.
    let authz = app.token_with(app.tenant, &["Policy.ReadWrite.Authorization".to_string()]).await;
    let r = app.patch_as(&authz, AUTHZ, json!({"allowInvitesFrom": "none"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get_as(&authz, AUTHZ).await.body["allowInvitesFrom"], json!("none"));
    let methods = app.token_with(app.tenant, &["Policy.ReadWrite.AuthenticationMethod".to_string()]).await;
    let r = app.patch_as(&methods, EMAIL, json!({"oneTimePasscodeLifetimeInMinutes": 15})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let ext = app.token_with(app.tenant, &["Policy.ReadWrite.ExternalIdentities".to_string()]).await;
    let r = app.patch_as(&ext, EXT, json!({"allowExternalIdentitiesToLeave": false})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
});

api_test!(policies_stay_in_their_tenant, |app| {
    let (tb, token_b) = app.new_tenant("Fabrikam", Some("fabrikam.test"), &all_permissions()).await;
    let group_b = app
        .post_as(
            &token_b,
            "/v1.0/groups",
            json!({"displayName": "B group", "mailEnabled": false, "mailNickname": "bgroup", "securityEnabled": true}),
        )
        .await;
    assert_eq!(group_b.status, StatusCode::CREATED, "{}", group_b.text);
    let group_b = group_b.body["id"].as_str().expect("id").to_string();
    let b_policy = app.post_as(&token_b, B2B, new_policy(&["woodgrove.test"], &[])).await;
    assert_eq!(b_policy.status, StatusCode::CREATED, "{}", b_policy.text);
    let b_policy = b_policy.body["id"].as_str().expect("id").to_string();
    let b_before: Vec<Value> = {
        let mut v = vec![];
        for p in [AUTHZ, B2B, EXT, EMAIL] {
            v.push(app.get_as(&token_b, p).await.body);
        }
        v
    };

    // A changes all of its settings.
    assert_eq!(
        app.patch(AUTHZ, json!({"allowInvitesFrom": "none", "guestUserRoleId": guest_role::USER})).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.post(B2B, new_policy(&[], &["live.com"])).await.status, StatusCode::CREATED);
    assert_eq!(app.patch(EXT, json!({"allowExternalIdentitiesToLeave": false})).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.patch(EMAIL, json!({"oneTimePasscodeLifetimeInMinutes": 3})).await.status, StatusCode::NO_CONTENT);
    // ... but cannot reach B's policy by id, nor name B's group as a target.
    for r in [
        app.get(&format!("{B2B}/{b_policy}")).await,
        app.patch(&format!("{B2B}/{b_policy}"), json!({"displayName": "pwned"})).await,
        app.delete(&format!("{B2B}/{b_policy}")).await,
    ] {
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    }
    assert!(!app.get(B2B).await.text.contains(&b_policy));
    assert_bad_request(
        &app.patch(EMAIL, json!({"excludeTargets": [{"targetType": "group", "id": group_b}]})).await,
        "another tenant's group",
    );

    // B sees what it had.
    for (p, before) in [AUTHZ, B2B, EXT, EMAIL].iter().zip(&b_before) {
        assert_eq!(&app.get_as(&token_b, p).await.body, before, "B's {p} changed");
    }
    let mut c = conn(&app).await;
    assert_eq!(policy::invites_from(&mut c, tb).await.expect("read"), InvitesFrom::Everyone);
    assert_eq!(policy::guest_access(&mut c, tb).await.expect("read"), GuestAccess::Limited);
    assert_eq!(policy::domain_list(&mut c, tb).await.expect("read"), DomainList::Allow(vec!["woodgrove.test".into()]));
    assert!(policy::guests_may_leave(&mut c, tb).await.expect("read"));
    assert_eq!(policy::email_otp(&mut c, tb).await.expect("read").code_minutes, 10);
    assert_eq!(policy::invites_from(&mut c, app.tenant).await.expect("read"), InvitesFrom::None);
    assert_eq!(
        policy::domain_list(&mut c, app.tenant).await.expect("read"),
        DomainList::Block(vec!["live.com".into()])
    );
    assert_eq!(policy::email_otp(&mut c, app.tenant).await.expect("read").code_minutes, 3);
});
