//! `/policies/crossTenantAccessPolicy/default`: Entra's defaults, the redemption order and
//! outbound B2B collaboration that Portico enforces (read back through `b2b::policy`), the
//! refusal of settings Portico does not apply yet, reset, and permissions.

use portico_http::b2b::policy::{self, FallbackIdp, PrimaryIdp, RedemptionOrder};
use reqwest::StatusCode;
use serde_json::json;

use crate::api_test;
use crate::common::{Resp, TestApp, all_permissions};

const DEFAULT: &str = "/v1.0/policies/crossTenantAccessPolicy/default";
const RESET: &str = "/v1.0/policies/crossTenantAccessPolicy/default/resetToSystemDefault";
const SECURITY_ADMINISTRATOR: &str = "194ae4cb-b126-40b2-bd5b-6091b380977d";
const CONDITIONAL_ACCESS_ADMINISTRATOR: &str = "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9";

fn assert_status(r: &Resp, want: StatusCode, what: &str) {
    assert_eq!(r.status, want, "{what}: {}", r.text);
    if !want.is_success() {
        assert!(!r.code().is_empty(), "{what}: no Graph error envelope: {}", r.text);
    }
}

async fn order(app: &TestApp) -> RedemptionOrder {
    let mut c = app.state.dir.store.pool().acquire().await.expect("conn");
    policy::redemption_order(&mut c, app.tenant).await.expect("redemption order")
}

api_test!(the_default_shows_entras_defaults_and_the_redemption_order_is_read_back, |app| {
    let base = app.get("/v1.0/policies/crossTenantAccessPolicy").await;
    assert_status(&base, StatusCode::OK, "base policy");
    assert_eq!(base.body["allowedCloudEndpoints"], json!([]));
    let d = app.get(DEFAULT).await;
    assert_status(&d, StatusCode::OK, "default");
    assert!(
        d.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#policies/crossTenantAccessPolicy/default/$entity")
    );
    assert_eq!(d.body["isServiceDefault"], json!(true));
    let redemption = &d.body["invitationRedemptionIdentityProviderConfiguration"];
    assert_eq!(
        redemption["primaryIdentityProviderPrecedenceOrder"],
        json!(["azureActiveDirectory", "externalFederation", "socialIdentityProviders"])
    );
    assert_eq!(redemption["fallbackIdentityProvider"], json!("defaultConfiguredIdp"));
    assert_eq!(d.body["b2bCollaborationOutbound"]["usersAndGroups"]["accessType"], json!("allowed"));
    assert_eq!(d.body["b2bDirectConnectInbound"]["usersAndGroups"]["accessType"], json!("blocked"));
    assert_eq!(order(&app).await, RedemptionOrder::default());

    // Partner entries of the same document are left alone.
    {
        let mut c = app.state.dir.store.pool().acquire().await.unwrap();
        let doc = json!({"partners": [{"tenantId": "11111111-1111-1111-1111-111111111111", "b2bCollaborationOutbound": null}]});
        portico_store::b2b::set_policy(&mut c, app.tenant, "crossTenantAccessPolicy", &doc, 1).await.unwrap();
    }
    let r = app
        .patch(
            DEFAULT,
            json!({"invitationRedemptionIdentityProviderConfiguration": {
                "primaryIdentityProviderPrecedenceOrder": ["externalFederation", "socialIdentityProviders"],
                "fallbackIdentityProvider": "emailOneTimePasscode"
            }}),
        )
        .await;
    assert_status(&r, StatusCode::NO_CONTENT, "patch the redemption order");
    let d = app.get(DEFAULT).await;
    assert_eq!(d.body["isServiceDefault"], json!(false));
    assert_eq!(
        d.body["invitationRedemptionIdentityProviderConfiguration"]["primaryIdentityProviderPrecedenceOrder"],
        json!(["externalFederation", "socialIdentityProviders"])
    );
    assert_eq!(
        order(&app).await,
        RedemptionOrder {
            primary: vec![PrimaryIdp::ExternalFederation, PrimaryIdp::SocialIdentityProviders],
            fallback: FallbackIdp::EmailOneTimePasscode
        }
    );
    // Only the fallback: the order stays.
    let r = app
        .patch(DEFAULT, json!({"invitationRedemptionIdentityProviderConfiguration": {"fallbackIdentityProvider": "defaultConfiguredIdp"}}))
        .await;
    assert_status(&r, StatusCode::NO_CONTENT, "patch the fallback");
    let o = order(&app).await;
    assert_eq!((o.primary.len(), o.fallback), (2, FallbackIdp::DefaultConfiguredIdp));
    // All primaries may be switched off.
    let r = app
        .patch(DEFAULT, json!({"invitationRedemptionIdentityProviderConfiguration": {"primaryIdentityProviderPrecedenceOrder": []}}))
        .await;
    assert_status(&r, StatusCode::NO_CONTENT, "no primaries");
    assert_eq!(order(&app).await.primary, vec![]);
    assert_eq!(app.audits_for("Update a cross-tenant access setting", "default").await.len(), 3);

    // Reset: Entra's defaults again, partners kept.
    assert_status(&app.post(RESET, json!({})).await, StatusCode::NO_CONTENT, "reset");
    assert_eq!(app.get(DEFAULT).await.body["isServiceDefault"], json!(true));
    assert_eq!(order(&app).await, RedemptionOrder::default());
    let mut c = app.state.dir.store.pool().acquire().await.unwrap();
    let doc = portico_store::b2b::policy(&mut c, app.tenant, "crossTenantAccessPolicy").await.unwrap().unwrap();
    assert_eq!(doc["partners"][0]["tenantId"], json!("11111111-1111-1111-1111-111111111111"));
    assert!(doc.get("default").is_none());
    assert_eq!(app.audits_for("Reset the cross-tenant access default setting", "default").await.len(), 1);
});

api_test!(outbound_collaboration_is_enforced_for_everyone, |app| {
    let (other, _) = app.new_tenant("Fabrikam", Some("fabrikam.test"), &all_permissions()).await;
    let user = portico_core::ids::ObjectId::new();
    let allowed = |app: &TestApp| {
        let state = app.state.clone();
        let home = app.tenant;
        async move {
            let mut c = state.dir.store.pool().acquire().await.unwrap();
            policy::outbound_allowed(&mut c, home, other, user).await.unwrap()
        }
    };
    assert!(allowed(&app).await);
    let blocked = json!({"b2bCollaborationOutbound": {
        "usersAndGroups": {"accessType": "blocked", "targets": [{"target": "AllUsers", "targetType": "user"}]},
        "applications": {"accessType": "blocked", "targets": [{"target": "AllApplications", "targetType": "application"}]}
    }});
    assert_status(&app.patch(DEFAULT, blocked).await, StatusCode::NO_CONTENT, "block outbound");
    assert!(!allowed(&app).await);
    let d = app.get(DEFAULT).await;
    assert_eq!(d.body["b2bCollaborationOutbound"]["applications"]["accessType"], json!("blocked"));
    // Targets other than everyone, and halves that disagree, are refused.
    let groups = json!({"b2bCollaborationOutbound": {
        "usersAndGroups": {"accessType": "allowed", "targets": [{"target": "3f1f7b1e-0000-4000-8000-000000000001", "targetType": "group"}]},
        "applications": {"accessType": "allowed"}
    }});
    assert_status(&app.patch(DEFAULT, groups).await, StatusCode::BAD_REQUEST, "group targets");
    let half = json!({"b2bCollaborationOutbound": {"usersAndGroups": {"accessType": "allowed"}}});
    assert_status(&app.patch(DEFAULT, half).await, StatusCode::BAD_REQUEST, "users allowed, apps blocked");
    assert!(!allowed(&app).await, "a refused PATCH changes nothing");
});

api_test!(settings_portico_does_not_apply_are_refused, |app| {
    let cases = [
        (
            "microsoftAccount",
            json!({"invitationRedemptionIdentityProviderConfiguration": {"fallbackIdentityProvider": "microsoftAccount"}}),
            "Microsoft account",
        ),
        (
            "unknown primary",
            json!({"invitationRedemptionIdentityProviderConfiguration": {"primaryIdentityProviderPrecedenceOrder": ["facebook"]}}),
            "facebook",
        ),
        (
            "duplicate primary",
            json!({"invitationRedemptionIdentityProviderConfiguration": {"primaryIdentityProviderPrecedenceOrder": ["externalFederation", "externalFederation"]}}),
            "twice",
        ),
        (
            "inbound trust",
            json!({"inboundTrust": {"isMfaAccepted": true, "isCompliantDeviceAccepted": false, "isHybridAzureADJoinedDeviceAccepted": false}}),
            "inboundTrust",
        ),
        (
            "direct connect",
            json!({"b2bDirectConnectOutbound": {"usersAndGroups": {"accessType": "allowed"}}}),
            "b2bDirectConnectOutbound",
        ),
        (
            "automatic redemption",
            json!({"automaticUserConsentSettings": {"inboundAllowed": true, "outboundAllowed": true}}),
            "automaticUserConsentSettings",
        ),
        (
            "inbound",
            json!({"b2bCollaborationInbound": {"usersAndGroups": {"accessType": "blocked"}}}),
            "b2bCollaborationInbound",
        ),
        ("unknown", json!({"colour": "blue"}), "colour"),
    ];
    for (what, body, needle) in cases {
        let r = app.patch(DEFAULT, body).await;
        assert_status(&r, StatusCode::BAD_REQUEST, what);
        assert!(r.text.contains(needle), "{what}: {}", r.text);
    }
    assert_eq!(app.get(DEFAULT).await.body["isServiceDefault"], json!(true), "nothing was stored");
    // A GET body sent back unchanged is accepted (nothing hollow: the values are the ones shown).
    let mut shown = app.get(DEFAULT).await.body;
    shown.as_object_mut().unwrap().remove("@odata.context");
    assert_status(&app.patch(DEFAULT, shown).await, StatusCode::NO_CONTENT, "round trip");
});

api_test!(cross_tenant_settings_need_the_cross_tenant_permission, |app| {
    let reader = app.token_with(app.tenant, &["Policy.Read.All".to_string()]).await;
    let ca = app.token_with(app.tenant, &["Policy.ReadWrite.ConditionalAccess".to_string()]).await;
    let writer = app.token_with(app.tenant, &["Policy.ReadWrite.CrossTenantAccess".to_string()]).await;
    let patch = json!({"invitationRedemptionIdentityProviderConfiguration": {"fallbackIdentityProvider": "emailOneTimePasscode"}});
    assert_status(&app.get_as(&reader, DEFAULT).await, StatusCode::OK, "Policy.Read.All reads");
    assert_status(
        &app.patch_as(&reader, DEFAULT, patch.clone()).await,
        StatusCode::FORBIDDEN,
        "Policy.Read.All writes",
    );
    assert_status(
        &app.patch_as(&ca, DEFAULT, patch.clone()).await,
        StatusCode::FORBIDDEN,
        "conditional access permission",
    );
    assert_status(&app.post_as(&ca, RESET, json!({})).await, StatusCode::FORBIDDEN, "conditional access reset");
    assert_status(
        &app.patch_as(&writer, DEFAULT, patch.clone()).await,
        StatusCode::NO_CONTENT,
        "cross-tenant permission",
    );
    // Delegated: Security Administrator may, Conditional Access Administrator may not.
    let sec = app.create_user("secadmin", "Sec Admin").await;
    let caa = app.create_user("caadmin", "CA Admin").await;
    let scope = "Policy.ReadWrite.CrossTenantAccess";
    let t_sec = app.delegated_token(&sec, scope, &[SECURITY_ADMINISTRATOR]).await;
    let t_caa = app.delegated_token(&caa, scope, &[CONDITIONAL_ACCESS_ADMINISTRATOR]).await;
    assert_status(&app.patch_as(&t_caa, DEFAULT, patch.clone()).await, StatusCode::FORBIDDEN, "CA administrator");
    assert_status(&app.get_as(&t_caa, DEFAULT).await, StatusCode::OK, "CA administrator reads");
    assert_status(&app.patch_as(&t_sec, DEFAULT, patch).await, StatusCode::NO_CONTENT, "Security administrator");
    assert_status(
        &app.post_as(&t_sec, RESET, json!({})).await,
        StatusCode::NO_CONTENT,
        "Security administrator resets",
    );
});
