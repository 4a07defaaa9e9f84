//! Redemption and guest sign-in end to end: through a home tenant of the same deployment and
//! through an email one-time passcode; the tokens a guest gets; tickets that cannot be used; the
//! race on one ticket; reset redemption; access ending with the home account.

use reqwest::StatusCode;
use serde_json::json;

use crate::api_test;
use crate::browser::{AuthReq, Browser, code_of, redeem, web_client};
use crate::common::{TestApp, jwt_claims};
use crate::support::{
    answer_redeem, code_in, home_sign_in, home_tenant, invite, last_mail_to, redeem_path, redeem_via_home_to_consent,
};

async fn guest_json(app: &TestApp, id: &str) -> serde_json::Value {
    let r = app.get(&format!("/v1.0/users/{id}?$select=id,externalUserState,identities,userType")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body
}

api_test!(redeem_through_home_tenant_then_sign_in_as_guest, |app| {
    let home = home_tenant(&app, "lee").await;
    let inv = invite(&app, &home.address, json!({})).await;
    let guest_id = inv["invitedUser"]["id"].as_str().unwrap().to_string();
    let tenant = app.tenant.to_string();
    let mut b = Browser::new(&app);
    let consent = redeem_via_home_to_consent(&app, &mut b, &inv, &home.tenant, &home.address).await;
    assert_eq!(consent.status, StatusCode::OK, "{}", consent.text);
    assert_eq!(consent.step().as_deref(), Some("consent"), "{}", consent.text);
    assert!(consent.text.contains("Contoso"), "names the inviting organisation");
    let done = answer_redeem(&mut b, &tenant, &consent, "consent", &[("decision", "accept")]).await;
    assert_eq!(done.location().as_deref(), Some("https://apps.contoso.test/welcome"), "{}", done.text);
    let g = guest_json(&app, &guest_id).await;
    assert_eq!(g["externalUserState"], "Accepted");
    let fed = g["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["signInType"] == "federated")
        .cloned()
        .expect("federated identity");
    assert_eq!(fed["issuer"], format!("{}/{}/v2.0", app.base, home.tenant));
    assert_eq!(fed["issuerAssignedId"], home.user_id);
    let audits =
        app.get("/v1.0/auditLogs/directoryAudits?$filter=activityDisplayName eq 'Redeem external user invite'").await;
    assert_eq!(audits.body["value"].as_array().map(Vec::len), Some(1), "{}", audits.text);

    // Sign in to an application of the resource tenant as the guest, in a fresh browser.
    let client = web_client(&app).await;
    let mut b2 = Browser::new(&app);
    let req = AuthReq::new();
    let first = b2.authorize(&app, &client, &req).await;
    let at_home = b2.answer(&tenant, &first, "identify", &[("login", &home.address)]).await;
    let back = home_sign_in(&mut b2, &home.tenant, at_home, &home.address).await;
    let last = b2.complete(&app, back, &home.address, "").await;
    let code = code_of(&last, &client);
    let r = redeem(&app, &client, &code, &req.verifier).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for tok in ["id_token", "access_token"] {
        let c = jwt_claims(r.body[tok].as_str().unwrap());
        assert_eq!(c["iss"], format!("{}/{}/v2.0", app.base, app.tenant), "{tok}");
        assert_eq!(c["tid"], tenant, "{tok}");
        assert_eq!(c["oid"], guest_id, "{tok}");
        assert_eq!(c["idp"], format!("{}/{}/v2.0", app.base, home.tenant), "{tok}");
        assert_eq!(c["acct"], 1, "{tok}");
    }
    let id = jwt_claims(r.body["id_token"].as_str().unwrap());
    assert_eq!(id["email"], home.address);
    assert_eq!(id["nonce"], req.nonce);

    // The home account is disabled: the guest can no longer sign in, nor refresh.
    let refresh_token = r.body["refresh_token"].as_str().unwrap().to_string();
    let off =
        app.patch_as(&home.token, &format!("/v1.0/users/{}", home.user_id), json!({"accountEnabled": false})).await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{}", off.text);
    let rr = crate::browser::refresh(&app, &client, &refresh_token).await;
    assert_eq!(rr.status, StatusCode::BAD_REQUEST, "refresh refused: {}", rr.text);
    let again = b2.authorize(&app, &client, &AuthReq::new()).await;
    // The resource tenant's session no longer counts, so the browser is asked who it is…
    assert_eq!(again.step().as_deref(), Some("identify"), "{}", again.text);
    let at_home = b2.answer(&tenant, &again, "identify", &[("login", &home.address)]).await;
    let refused = home_sign_in(&mut b2, &home.tenant, at_home, &home.address).await;
    // …and the home tenant refuses its disabled member.
    assert_ne!(refused.status, StatusCode::SEE_OTHER, "no code for a disabled home account: {}", refused.text);
    assert!(refused.status.is_client_error(), "{} {}", refused.status, refused.text);
});

api_test!(redeem_with_one_time_passcode_and_sign_in_again, |app| {
    let inv = invite(&app, "solo@nowhere.test", json!({})).await;
    let guest_id = inv["invitedUser"]["id"].as_str().unwrap().to_string();
    let tenant = app.tenant.to_string();
    let mut b = Browser::new(&app);
    let start = b.get(&redeem_path(&app, &inv)).await;
    let otp = answer_redeem(&mut b, &tenant, &start, "start", &[]).await;
    assert_eq!(otp.step().as_deref(), Some("otp"), "{}", otp.text);
    let wrong = answer_redeem(&mut b, &tenant, &otp, "otp", &[("code", "00000000")]).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let code = code_in(&last_mail_to(&app, "solo@nowhere.test").await);
    let consent = answer_redeem(&mut b, &tenant, &wrong, "otp", &[("code", &code)]).await;
    assert_eq!(consent.step().as_deref(), Some("consent"), "{}", consent.text);
    let done = answer_redeem(&mut b, &tenant, &consent, "consent", &[("decision", "accept")]).await;
    assert!(done.refresh().is_some(), "moves on to inviteRedirectUrl: {}", done.text);
    let g = guest_json(&app, &guest_id).await;
    assert_eq!(g["externalUserState"], "Accepted");
    assert!(
        g["identities"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["issuer"] == "mail" && i["issuerAssignedId"] == "solo@nowhere.test"),
        "{g}"
    );

    // The session from redemption signs the guest in to an app at once; a new browser uses a code.
    let client = web_client(&app).await;
    let req = AuthReq::new();
    let first = b.authorize(&app, &client, &req).await;
    let last = b.complete(&app, first, "", "").await;
    let code1 = code_of(&last, &client);
    let r = redeem(&app, &client, &code1, &req.verifier).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let c = jwt_claims(r.body["id_token"].as_str().unwrap());
    assert_eq!(c["idp"], "mail");
    assert_eq!(c["acct"], 1);
    let mut b2 = Browser::new(&app);
    let req = AuthReq::new();
    let first = b2.authorize(&app, &client, &req).await;
    let otp = b2.answer(&tenant, &first, "identify", &[("login", "solo@nowhere.test")]).await;
    assert_eq!(otp.step().as_deref(), Some("otp"), "{}", otp.text);
    let code = code_in(&last_mail_to(&app, "solo@nowhere.test").await);
    let next = answer_redeem(&mut b2, &tenant, &otp, "otp", &[("code", &code)]).await;
    let last = b2.complete(&app, next, "", "").await;
    code_of(&last, &client);
});

api_test!(tickets_that_cannot_be_used_get_clear_pages, |app| {
    let mut b = Browser::new(&app);
    let tenant = app.tenant.to_string();
    let p = b.get(&format!("/{tenant}/redeem?ticket={}", "x".repeat(43))).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND, "unknown ticket: {}", p.text);
    assert!(p.text.contains("not valid"), "{}", p.text);
    // A newer invitation revokes the older link.
    let old = invite(&app, "twice@nowhere.test", json!({})).await;
    let new = invite(&app, "twice@nowhere.test", json!({})).await;
    let p = b.get(&redeem_path(&app, &old)).await;
    assert_eq!(p.status, StatusCode::GONE, "revoked: {}", p.text);
    // Expired.
    let mut conn = app.state.dir.store.pool().acquire().await.unwrap();
    sqlx::query("UPDATE invitations SET expires_at = 1 WHERE user_id = $1 AND status = 'PendingAcceptance'")
        .bind(new["invitedUser"]["id"].as_str().unwrap())
        .execute(&mut *conn)
        .await
        .unwrap();
    drop(conn);
    let p = b.get(&redeem_path(&app, &new)).await;
    assert_eq!(p.status, StatusCode::GONE, "expired: {}", p.text);
    assert!(p.text.contains("expired"), "{}", p.text);
    // Used: redeem, then open the link again.
    let inv = invite(&app, "once@nowhere.test", json!({})).await;
    let start = b.get(&redeem_path(&app, &inv)).await;
    let otp = answer_redeem(&mut b, &tenant, &start, "start", &[]).await;
    let code = code_in(&last_mail_to(&app, "once@nowhere.test").await);
    let consent = answer_redeem(&mut b, &tenant, &otp, "otp", &[("code", &code)]).await;
    answer_redeem(&mut b, &tenant, &consent, "consent", &[("decision", "accept")]).await;
    let p = b.get(&redeem_path(&app, &inv)).await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.text.contains("already accepted"), "{}", p.text);
});

api_test!(mismatched_identity_cannot_redeem, |app| {
    let home = home_tenant(&app, "lee").await;
    // Someone else of Fabrikam opens Lee's invitation and signs in as themselves.
    let r = app
        .post_as(
            &home.token,
            "/v1.0/users",
            json!({"accountEnabled": true, "displayName": "Eve", "mailNickname": "eve", "userPrincipalName": "eve@fabrikam.test",
                   "mail": "eve@fabrikam.test", "passwordProfile": {"password": crate::browser::PASSWORD, "forceChangePasswordNextSignIn": false}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let inv = invite(&app, &home.address, json!({})).await;
    let mut b = Browser::new(&app);
    let page = redeem_via_home_to_consent(&app, &mut b, &inv, &home.tenant, "eve@fabrikam.test").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.text);
    assert!(page.text.contains(&home.address), "{}", page.text);
    let g = guest_json(&app, inv["invitedUser"]["id"].as_str().unwrap()).await;
    assert_eq!(g["externalUserState"], "PendingAcceptance");
});

api_test!(two_redemptions_racing_link_one_identity, |app| {
    let inv = invite(&app, "race@nowhere.test", json!({})).await;
    let tenant = app.tenant.to_string();
    let mut consents = vec![];
    let mut browsers = vec![];
    for _ in 0..2 {
        let mut b = Browser::new(&app);
        let start = b.get(&redeem_path(&app, &inv)).await;
        let otp = answer_redeem(&mut b, &tenant, &start, "start", &[]).await;
        let code = code_in(&last_mail_to(&app, "race@nowhere.test").await);
        let consent = answer_redeem(&mut b, &tenant, &otp, "otp", &[("code", &code)]).await;
        assert_eq!(consent.step().as_deref(), Some("consent"), "{}", consent.text);
        consents.push(consent);
        browsers.push(b);
    }
    let (mut b1, mut b2) = (browsers.remove(0), browsers.remove(0));
    let (c1, c2) = (consents.remove(0), consents.remove(0));
    let (r1, r2) = tokio::join!(
        answer_redeem(&mut b1, &tenant, &c1, "consent", &[("decision", "accept")]),
        answer_redeem(&mut b2, &tenant, &c2, "consent", &[("decision", "accept")])
    );
    let wins = [&r1, &r2].iter().filter(|r| r.refresh().is_some()).count();
    assert_eq!(wins, 1, "exactly one redemption wins: {} / {}", r1.status, r2.status);
    let g = guest_json(&app, inv["invitedUser"]["id"].as_str().unwrap()).await;
    let linked = g["identities"].as_array().unwrap().iter().filter(|i| i["issuer"] == "mail").count();
    assert_eq!(linked, 1, "{g}");
});

api_test!(reset_redemption_keeps_the_object_and_its_groups, |app| {
    let inv = invite(&app, "old@nowhere.test", json!({})).await;
    let id = inv["invitedUser"]["id"].as_str().unwrap().to_string();
    let tenant = app.tenant.to_string();
    let mut b = Browser::new(&app);
    let start = b.get(&redeem_path(&app, &inv)).await;
    let otp = answer_redeem(&mut b, &tenant, &start, "start", &[]).await;
    let code = code_in(&last_mail_to(&app, "old@nowhere.test").await);
    let consent = answer_redeem(&mut b, &tenant, &otp, "otp", &[("code", &code)]).await;
    answer_redeem(&mut b, &tenant, &consent, "consent", &[("decision", "accept")]).await;
    let g = app.create_group("Keep").await;
    let gid = g["id"].as_str().unwrap();
    app.post(
        &format!("/v1.0/groups/{gid}/members/$ref"),
        json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}")}),
    )
    .await;
    let r = app
        .post(
            "/v1.0/invitations",
            json!({"invitedUserEmailAddress": "new@nowhere.test", "inviteRedirectUrl": "https://x.test", "resetRedemption": true, "invitedUser": {"id": id}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["invitedUser"]["id"], id);
    let u = guest_json(&app, &id).await;
    assert_eq!(u["externalUserState"], "PendingAcceptance");
    assert!(!u["identities"].as_array().unwrap().iter().any(|i| i["issuer"] == "mail"), "old identity dropped: {u}");
    let m = app.get(&format!("/v1.0/groups/{gid}/members")).await;
    assert!(m.text.contains(&id), "still a member: {}", m.text);
    // The new address redeems.
    let mut b = Browser::new(&app);
    let start = b.get(&redeem_path(&app, &r.body)).await;
    assert!(start.text.contains("new@nowhere.test"), "{}", start.text);
});

api_test!(guest_leaves_from_my_account_and_is_purged_later, |app| {
    let inv = invite(&app, "leaver@nowhere.test", json!({})).await;
    let id = inv["invitedUser"]["id"].as_str().unwrap().to_string();
    let tenant = app.tenant.to_string();
    let mut b = Browser::new(&app);
    let start = b.get(&redeem_path(&app, &inv)).await;
    let otp = answer_redeem(&mut b, &tenant, &start, "start", &[]).await;
    let code = code_in(&last_mail_to(&app, "leaver@nowhere.test").await);
    let consent = answer_redeem(&mut b, &tenant, &otp, "otp", &[("code", &code)]).await;
    answer_redeem(&mut b, &tenant, &consent, "consent", &[("decision", "accept")]).await;
    let page = b.get(&format!("/{tenant}/myaccount")).await;
    let csrf = page.input("csrf").expect("csrf of the session");
    // The policy can forbid leaving.
    let mut conn = app.state.dir.store.pool().acquire().await.unwrap();
    portico_store::b2b::set_policy(
        &mut conn,
        app.tenant,
        "externalIdentitiesPolicy",
        &json!({"allowExternalIdentitiesToLeave": false}),
        0,
    )
    .await
    .unwrap();
    drop(conn);
    let page = b.get(&format!("/{tenant}/myaccount")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(!page.text.contains("id=\"leave\""), "no leave button when the policy says no");
    let r = b.post(&format!("/{tenant}/myaccount/leave"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let mut conn = app.state.dir.store.pool().acquire().await.unwrap();
    portico_store::b2b::set_policy(
        &mut conn,
        app.tenant,
        "externalIdentitiesPolicy",
        &json!({"allowExternalIdentitiesToLeave": true}),
        0,
    )
    .await
    .unwrap();
    drop(conn);
    let page = b.get(&format!("/{tenant}/myaccount")).await;
    assert!(page.text.contains("id=\"leave\""), "{}", page.text);
    let r = b.post(&format!("/{tenant}/myaccount/leave"), &[("csrf", "forged")]).await;
    assert!(r.status.is_client_error(), "forged csrf refused: {}", r.status);
    let r = b.post(&format!("/{tenant}/myaccount/leave"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Gone from the directory, in deleted items, and the session no longer works.
    assert_eq!(app.get(&format!("/v1.0/users/{id}")).await.status, StatusCode::NOT_FOUND);
    let del = app.get(&format!("/v1.0/directory/deletedItems/{id}")).await;
    assert_eq!(del.status, StatusCode::OK, "{}", del.text);
    let page = b.get(&format!("/{tenant}/myaccount")).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    // The upkeep purges it once 30 days have passed.
    let mut conn = app.state.dir.store.pool().acquire().await.unwrap();
    let now = app.state.now_ms();
    portico_store::maintenance::purge_deleted_before(&mut conn, now - 30 * 86_400_000).await.unwrap();
    drop(conn);
    assert_eq!(app.get(&format!("/v1.0/directory/deletedItems/{id}")).await.status, StatusCode::OK, "kept for 30 days");
    let mut conn = app.state.dir.store.pool().acquire().await.unwrap();
    portico_store::maintenance::purge_deleted_before(&mut conn, now + 30 * 86_400_000).await.unwrap();
    drop(conn);
    assert_eq!(
        app.get(&format!("/v1.0/directory/deletedItems/{id}")).await.status,
        StatusCode::NOT_FOUND,
        "purged after 30 days"
    );
});
