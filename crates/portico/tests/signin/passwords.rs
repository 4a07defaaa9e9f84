//! Forced password change at first sign-in, and self-service reset by mail.

use reqwest::StatusCode;
use serde_json::json;

use crate::api_test;
use crate::browser::*;

const NEW_PASSWORD: &str = "a brand new long passphrase 42";

api_test!(forced_change_at_first_sign_in_refuses_common_passwords, |app| {
    let r = app
        .post(
            "/v1.0/users",
            json!({
                "accountEnabled": true, "displayName": "New Starter", "mailNickname": "starter",
                "userPrincipalName": "starter@contoso.test",
                "passwordProfile": {"password": PASSWORD, "forceChangePasswordNextSignIn": true}
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let login = "starter@contoso.test";
    let client = web_client(&app).await;
    let tenant = app.tenant.to_string();
    let mut b = Browser::new(&app);
    let req = AuthReq::new();
    let first = b.authorize(&app, &client, &req).await;
    let page = b.complete(&app, first, login, PASSWORD).await;
    assert_eq!(page.step().as_deref(), Some("change_password"), "{}", page.text);

    let page = b
        .answer(&tenant, &page, "change_password", &[("new_password", "password123"), ("confirm", "password123")])
        .await;
    assert_eq!(page.step().as_deref(), Some("change_password"), "a common password was accepted");
    assert!(page.alert().is_some_and(|a| a.contains("commonly used")), "clear message: {:?}", page.alert());
    let page = b
        .answer(
            &tenant,
            &page,
            "change_password",
            &[("new_password", NEW_PASSWORD), ("confirm", "something else entirely")],
        )
        .await;
    assert_eq!(page.step().as_deref(), Some("change_password"));
    assert!(page.alert().is_some_and(|a| a.contains("not the same")), "{:?}", page.alert());
    let page =
        b.answer(&tenant, &page, "change_password", &[("new_password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)]).await;
    let last = b.complete(&app, page, login, NEW_PASSWORD).await;
    let code = code_of(&last, &client);
    let r = redeem(&app, &client, &code, &req.verifier).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // The old password no longer works; the new one does, without another change.
    let mut b = Browser::new(&app);
    let first = b.authorize(&app, &client, &AuthReq::new()).await;
    let page = b.complete(&app, first, login, PASSWORD).await;
    assert_eq!(page.step().as_deref(), Some("password"), "old password refused: {}", page.text);
    let page = b.answer(&tenant, &page, "password", &[("password", NEW_PASSWORD)]).await;
    let last = b.complete(&app, page, login, NEW_PASSWORD).await;
    code_of(&last, &client);
});

api_test!(password_reset_link_works_once_and_revokes_refresh_tokens, |app| {
    let user = app.create_user("forgetful", "Forgetful").await;
    let login = upn(&user);
    let client = web_client(&app).await;
    let (_, tokens) = sign_in_tokens(&app, &client, &login).await;
    let rt = field(&tokens, "refresh_token");

    let tenant = app.tenant.to_string();
    let mut b = Browser::new(&app);
    let page = b.get(&format!("/{tenant}/reset")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let csrf = page.input("csrf").expect("csrf");
    let forged = b.post(&format!("/{tenant}/reset"), &[("csrf", "nope"), ("login", &login)]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let sent = b.post(&format!("/{tenant}/reset"), &[("csrf", &csrf), ("login", &login)]).await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    let unknown = b.post(&format!("/{tenant}/reset"), &[("csrf", &csrf), ("login", "nobody@contoso.test")]).await;
    assert_eq!(unknown.h1(), sent.h1(), "the same answer for an unknown account");

    let mails = outbox(&app).await;
    let mail = mails.iter().find(|m| m.purpose == "password_reset").expect("a reset mail");
    assert_eq!(mails.iter().filter(|m| m.purpose == "password_reset").count(), 1);
    let link = mail.body_text.split_whitespace().find(|w| w.contains("/reset?token=")).expect("link").to_string();
    assert!(link.starts_with(&app.base), "{link}");

    let page = b.get(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page.input("csrf").unwrap();
    let token = page.input("token").unwrap();
    let path = format!("/{tenant}/reset/password");
    let weak = b
        .post(&path, &[("csrf", &csrf), ("token", &token), ("new_password", "password123"), ("confirm", "password123")])
        .await;
    assert!(weak.alert().is_some_and(|a| a.contains("commonly used")), "{}", weak.text);
    let done = b
        .post(&path, &[("csrf", &csrf), ("token", &token), ("new_password", NEW_PASSWORD), ("confirm", NEW_PASSWORD)])
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert!(done.text.contains("Your password was changed"), "{}", done.text);

    let r = refresh(&app, &client, &rt).await;
    assert_token_error(&r, StatusCode::BAD_REQUEST, "invalid_grant", 50173, "refresh token after a reset");

    let again = b
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("new_password", "yet another passphrase 77"),
                ("confirm", "yet another passphrase 77"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "the link works once: {}", again.text);

    // The new password signs in.
    let mut b = Browser::new(&app);
    let first = b.authorize(&app, &client, &AuthReq::new()).await;
    let last = b.complete(&app, first, &login, NEW_PASSWORD).await;
    code_of(&last, &client);
});
