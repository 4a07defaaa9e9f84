//! `POST /v1.0/invitations`: the answer's shape, the guest object, re-invitation, sponsors, the
//! rules (allowInvitesFrom, domain lists, members only by admins), mail and unsubscribed addresses.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::TestApp;
use crate::support::invite;
use crate::{api_test, api_test_clock, api_test_custom};

async fn set_doc(app: &TestApp, name: &str, doc: serde_json::Value) {
    let mut conn = app.state.dir.store.pool().acquire().await.expect("conn");
    portico_store::b2b::set_policy(&mut conn, app.tenant, name, &doc, 0).await.expect("policy");
}

async fn audit_activities(app: &TestApp) -> Vec<String> {
    let r = app.get("/v1.0/auditLogs/directoryAudits?$top=999").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["value"].as_array().unwrap().iter().map(|e| e["activityDisplayName"].as_str().unwrap().to_string()).collect()
}

api_test!(invitation_creates_a_pending_guest, |app| {
    let inv = invite(&app, "Lee.Stokes@Fabrikam.com", json!({"invitedUserDisplayName": "Lee Stokes"})).await;
    assert_eq!(inv["status"], "PendingAcceptance");
    assert_eq!(inv["invitedUserType"], "Guest");
    assert_eq!(inv["invitedUserEmailAddress"], "Lee.Stokes@fabrikam.com");
    assert_eq!(inv["sendInvitationMessage"], false);
    assert!(inv["@odata.context"].as_str().unwrap().ends_with("$metadata#invitations/$entity"));
    let redeem = inv["inviteRedeemUrl"].as_str().unwrap();
    assert!(redeem.starts_with(&format!("{}/{}/redeem?ticket=", app.base, app.tenant)), "{redeem}");
    assert_ne!(inv["id"], inv["invitedUser"]["id"]);
    let id = inv["invitedUser"]["id"].as_str().unwrap();
    let u = app.get(&format!("/v1.0/users/{id}?$select=id,userType,creationType,externalUserState,userPrincipalName,mail,identities,displayName")).await;
    assert_eq!(u.status, StatusCode::OK, "{}", u.text);
    assert_eq!(u.body["userType"], "Guest");
    assert_eq!(u.body["creationType"], "Invitation");
    assert_eq!(u.body["externalUserState"], "PendingAcceptance");
    assert_eq!(u.body["displayName"], "Lee Stokes");
    assert_eq!(u.body["mail"], "Lee.Stokes@fabrikam.com");
    let upn = u.body["userPrincipalName"].as_str().unwrap();
    assert!(upn.starts_with("lee.stokes_fabrikam.com#EXT#@"), "{upn}");
    let ids = u.body["identities"].as_array().unwrap();
    assert_eq!(ids.len(), 1, "only the UPN identity before redemption: {ids:?}");
    assert_eq!(ids[0]["signInType"], "userPrincipalName");
    // The guest can be put in a group before redemption.
    let g = app.create_group("Partners").await;
    let r = app
        .post(
            &format!("/v1.0/groups/{}/members/$ref", g["id"].as_str().unwrap()),
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let acts = audit_activities(&app).await;
    for a in ["Add user", "Invite external user"] {
        assert!(acts.iter().any(|x| x == a), "audit {a} missing: {acts:?}");
    }
});

api_test!(inviting_again_returns_the_same_guest, |app| {
    let a = invite(&app, "kim@partner.test", json!({})).await;
    let b = invite(&app, "KIM@partner.test", json!({})).await;
    assert_eq!(a["invitedUser"]["id"], b["invitedUser"]["id"]);
    assert_ne!(a["inviteRedeemUrl"], b["inviteRedeemUrl"], "a new ticket each time");
    let r = app.get_eventual("/v1.0/users/$count?$filter=userType eq 'Guest'").await;
    assert_eq!(r.text.trim(), "1", "one guest: {}", r.text);
    // Concurrent invitations of a new address also end with one guest.
    let (x, y) = tokio::join!(invite(&app, "sam@partner.test", json!({})), invite(&app, "sam@partner.test", json!({})));
    assert_eq!(x["invitedUser"]["id"], y["invitedUser"]["id"]);
});

api_test!(bad_invitations_get_graph_errors, |app| {
    for (body, what) in [
        (json!({"inviteRedirectUrl": "https://x.test"}), "no address"),
        (json!({"invitedUserEmailAddress": "a+b@x.test", "inviteRedirectUrl": "https://x.test"}), "bad local part"),
        (json!({"invitedUserEmailAddress": "a@x.test", "inviteRedirectUrl": "javascript:alert(1)"}), "bad redirect"),
        (json!({"invitedUserEmailAddress": "a@x.test"}), "no redirect"),
        (
            json!({"invitedUserEmailAddress": "a@x.test", "inviteRedirectUrl": "https://x.test", "invitedUserType": "Owner"}),
            "bad type",
        ),
        (
            json!({"invitedUserEmailAddress": "a@x.test", "inviteRedirectUrl": "https://x.test", "colour": "red"}),
            "unknown property",
        ),
        (
            json!({"invitedUserEmailAddress": "a@x.test", "inviteRedirectUrl": "https://x.test", "resetRedemption": true}),
            "reset without id",
        ),
        (
            json!({"invitedUserEmailAddress": "a@x.test", "inviteRedirectUrl": "https://x.test",
                   "invitedUserMessageInfo": {"ccRecipients": [{"emailAddress": {"address": "c@x.test"}}, {"emailAddress": {"address": "d@x.test"}}]}}),
            "two cc",
        ),
    ] {
        let r = app.post("/v1.0/invitations", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.text);
        assert_eq!(r.body["error"]["code"], "Request_BadRequest", "{what}: {}", r.text);
    }
    // A member's own address is not invited as a second account.
    let m = app.create_user("pat", "Pat").await;
    let r = app
        .post("/v1.0/invitations", json!({"invitedUserEmailAddress": m["mail"], "inviteRedirectUrl": "https://x.test"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
});

api_test!(allow_invites_from_none_refuses_apps, |app| {
    for (policy, allowed) in [
        ("none", false),
        ("adminsAndGuestInviters", false),
        ("adminsGuestInvitersAndAllMembers", true),
        ("everyone", true),
    ] {
        set_doc(&app, "authorizationPolicy", json!({"allowInvitesFrom": policy})).await;
        let r = app
            .post(
                "/v1.0/invitations",
                json!({"invitedUserEmailAddress": format!("{policy}@x.test"), "inviteRedirectUrl": "https://x.test"}),
            )
            .await;
        if allowed {
            assert_eq!(r.status, StatusCode::CREATED, "{policy}: {}", r.text);
        } else {
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{policy}: {}", r.text);
            assert_eq!(r.body["error"]["code"], "Authorization_RequestDenied");
        }
    }
});

api_test!(domain_allow_and_deny_lists_apply_at_invitation, |app| {
    let def = |k: &str, list: &[&str]| json!({"definition": [json!({"B2BManagementPolicy": {"InvitationsAllowedAndBlockedDomainsPolicy": {k: list}}}).to_string()]});
    set_doc(&app, "b2bManagementPolicy", def("BlockedDomains", &["blocked.test"])).await;
    let r = app
        .post(
            "/v1.0/invitations",
            json!({"invitedUserEmailAddress": "a@blocked.test", "inviteRedirectUrl": "https://x.test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("blocked"), "{}", r.text);
    let r = app
        .post(
            "/v1.0/invitations",
            json!({"invitedUserEmailAddress": "a@sub.blocked.test", "inviteRedirectUrl": "https://x.test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "subdomains are covered: {}", r.text);
    invite(&app, "a@fine.test", json!({})).await;
    set_doc(&app, "b2bManagementPolicy", def("AllowedDomains", &["partner.test"])).await;
    invite(&app, "a@partner.test", json!({})).await;
    let r = app
        .post(
            "/v1.0/invitations",
            json!({"invitedUserEmailAddress": "b@fine.test", "inviteRedirectUrl": "https://x.test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "not on the allow list: {}", r.text);
});

api_test!(invitation_mail_and_unsubscribed_addresses, |app| {
    let inv = invite(
        &app,
        "mail.me@partner.test",
        json!({"sendInvitationMessage": true, "invitedUserMessageInfo": {"customizedMessageBody": "Welcome <b>aboard</b>"}}),
    )
    .await;
    let mut conn = app.state.dir.store.pool().acquire().await.expect("conn");
    let mails = portico_store::outbox::list(&mut conn, Some(app.tenant), 10).await.unwrap();
    let m = mails.iter().find(|m| m.recipient == "mail.me@partner.test").expect("invitation mail");
    assert_eq!(m.purpose, "invitation");
    assert!(m.body_text.contains(inv["inviteRedeemUrl"].as_str().unwrap()), "{}", m.body_text);
    // An address that blocked future invitations gets none, and the audit log says why.
    portico_store::b2b::set_unsubscribed(&mut conn, "quiet@partner.test", true, 0).await.unwrap();
    drop(conn);
    invite(&app, "quiet@partner.test", json!({"sendInvitationMessage": true})).await;
    let mut conn = app.state.dir.store.pool().acquire().await.expect("conn");
    let mails = portico_store::outbox::list(&mut conn, Some(app.tenant), 10).await.unwrap();
    assert!(!mails.iter().any(|m| m.recipient == "quiet@partner.test"), "no mail to an unsubscribed address");
    drop(conn);
    let acts = audit_activities(&app).await;
    assert!(acts.iter().any(|a| a == "Email not sent, user unsubscribed"), "{acts:?}");
});

api_test!(inviter_application_needs_user_invite_permission, |app| {
    let weak = app.token_with(app.tenant, &["User.Read.All".to_string()]).await;
    let r = app
        .post_as(
            &weak,
            "/v1.0/invitations",
            json!({"invitedUserEmailAddress": "a@x.test", "inviteRedirectUrl": "https://x.test"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
});

api_test_clock!(invitations_are_throttled_per_tenant_as_in_entra, |app, clock| {
    // Entra's invitation manager: 150 requests per 5 seconds per tenant, whatever the caller.
    let other_app = app.token_with(app.tenant, &["User.Invite.All".to_string()]).await;
    for i in 0..150 {
        let token = if i % 2 == 0 { &app.token } else { &other_app };
        let body =
            json!({"invitedUserEmailAddress": format!("t{i}@partner.test"), "inviteRedirectUrl": "https://x.test"});
        let r = app.post_as(token, "/v1.0/invitations", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "invitation {i}: {}", r.text);
    }
    let over = json!({"invitedUserEmailAddress": "over@partner.test", "inviteRedirectUrl": "https://x.test"});
    let r = app.post_as(&other_app, "/v1.0/invitations", over.clone()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.code(), "TooManyRequests");
    assert!(r.body["error"]["innerError"]["request-id"].is_string(), "{}", r.text);
    let header = |name: &str| r.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    // The window started with the first invitation on a stopped clock: all 5 seconds remain.
    assert_eq!(header("retry-after"), "5");
    assert!(header("x-ms-throttle-scope").starts_with("Tenant/Write/"), "{}", header("x-ms-throttle-scope"));
    assert!(header("x-ms-throttle-scope").ends_with(&app.tenant.to_string()));
    assert_eq!(header("x-ms-throttle-information"), "WriteLimitExceeded");
    // Nothing was written for the refused one.
    let found = app.get("/v1.0/users?$filter=mail eq 'over@partner.test'").await;
    assert_eq!(found.body["value"].as_array().map(Vec::len), Some(0), "{}", found.text);
    // Another tenant has its own budget.
    let (other, other_token) = app.new_tenant("Fabrikam", None, &["User.Invite.All".to_string()]).await;
    let r = app.post_as(&other_token, "/v1.0/invitations", over.clone()).await;
    assert_eq!(r.status, StatusCode::CREATED, "tenant {other}: {}", r.text);
    // Half a window later: still refused, and told to wait the rest.
    clock.advance(time::Duration::milliseconds(2_500));
    let r = app.post_as(&other_app, "/v1.0/invitations", over.clone()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(r.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("3"));
    // After the window: accepted again.
    clock.advance(time::Duration::milliseconds(2_500));
    let r = app.post_as(&other_app, "/v1.0/invitations", over).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
});

api_test_custom!(
    the_invitation_limit_is_a_setting,
    crate::common::Custom::settings(|s| s.b2b.invitations_per_window = 2),
    |app| {
        for i in 0..2 {
            invite(&app, &format!("s{i}@partner.test"), json!({})).await;
        }
        let body = json!({"invitedUserEmailAddress": "s2@partner.test", "inviteRedirectUrl": "https://x.test"});
        let r = app.post("/v1.0/invitations", body).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
        assert!(r.text.contains("at most 2 every 5 seconds"), "{}", r.text);
    }
);
