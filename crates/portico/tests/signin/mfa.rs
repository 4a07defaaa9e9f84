//! Second factors: TOTP enrollment under security defaults, TOTP and recovery codes at later
//! sign-ins, and email codes.

use portico_core::totp;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::browser::*;
use crate::common::{TestApp, jwt_claims};

/// A member without a mail address (so email codes cannot stand in for an authenticator app).
async fn user_without_mail(app: &TestApp, alias: &str) -> Value {
    let r = app
        .post(
            "/v1.0/users",
            json!({
                "accountEnabled": true, "displayName": alias, "mailNickname": alias,
                "userPrincipalName": format!("{alias}@contoso.test"),
                "passwordProfile": {"password": PASSWORD, "forceChangePasswordNextSignIn": false}
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.body
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn recovery_codes(page: &Page) -> Vec<String> {
    page.text.split("<li><code>").skip(1).filter_map(|s| s.split("</code>").next()).map(str::to_owned).collect()
}

/// Signs in up to the second-factor page in a fresh browser.
async fn to_mfa(app: &TestApp, client: &Client, login: &str) -> (Browser, Page, AuthReq) {
    let mut b = Browser::new(app);
    let req = AuthReq::new();
    let first = b.authorize(app, client, &req).await;
    let page = b.complete(app, first, login, PASSWORD).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    (b, page, req)
}

async fn finish(app: &TestApp, b: &mut Browser, client: &Client, page: Page, req: &AuthReq, login: &str) -> Value {
    let last = b.complete(app, page, login, PASSWORD).await;
    let code = code_of(&last, client);
    let r = redeem(app, client, &code, &req.verifier).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    jwt_claims(&field(&r, "id_token"))
}

api_test!(security_defaults_enroll_totp_then_require_it_once_per_code, |app| {
    set_policy(&app, json!({"securityDefaults": true})).await;
    let user = user_without_mail(&app, "mfauser").await;
    let login = upn(&user);
    let client = web_client(&app).await;
    let tenant = app.tenant.to_string();

    // First sign-in: enroll an authenticator app.
    let (mut b, page, req) = to_mfa(&app, &client, &login).await;
    assert_eq!(page.step().as_deref(), Some("enroll"), "{}", page.text);
    let secret_text = page.class_text("secret").expect("the key is shown");
    let secret = totp::base32_decode(&secret_text).expect("base32 key");
    let wrong = b.answer(&tenant, &page, "enroll", &[("code", "000000")]).await;
    assert_eq!(wrong.step().as_deref(), Some("enroll"), "a wrong code does not enroll: {}", wrong.text);
    assert!(wrong.alert().is_some());
    let enrolled_code = totp::code_at(&secret, now());
    let page = b.answer(&tenant, &wrong, "enroll", &[("code", &enrolled_code)]).await;
    assert_eq!(page.step().as_deref(), Some("recovery_codes"), "{}", page.text);
    let codes = recovery_codes(&page);
    assert_eq!(codes.len(), 10, "{codes:?}");
    assert!(codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'), "{codes:?}");
    let page = b.answer(&tenant, &page, "recovery_codes", &[]).await;
    let claims = finish(&app, &mut b, &client, page, &req, &login).await;
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));

    // Second sign-in: the app's code is asked for; the code used at enrollment does not work again.
    let (mut b, page, req) = to_mfa(&app, &client, &login).await;
    assert_eq!(page.step().as_deref(), Some("mfa"), "{}", page.text);
    let replay = b.answer(&tenant, &page, "mfa", &[("method", "totp"), ("code", &enrolled_code)]).await;
    assert_eq!(replay.step().as_deref(), Some("mfa"), "replayed TOTP code accepted: {}", replay.text);
    assert!(replay.alert().is_some(), "an error is shown");
    let next = totp::code_at(&secret, now() + 30);
    let page = b.answer(&tenant, &replay, "mfa", &[("method", "totp"), ("code", &next)]).await;
    assert_ne!(page.step().as_deref(), Some("mfa"), "next step's code works: {}", page.text);
    let claims = finish(&app, &mut b, &client, page, &req, &login).await;
    assert_eq!(claims["amr"], json!(["pwd", "otp", "mfa"]));

    // The same code cannot serve a second sign-in either.
    let (mut b, page, _) = to_mfa(&app, &client, &login).await;
    let again = b.answer(&tenant, &page, "mfa", &[("method", "totp"), ("code", &next)]).await;
    assert_eq!(again.step().as_deref(), Some("mfa"), "a used TOTP code was accepted twice");

    // A recovery code works once.
    let (mut b, page, req) = to_mfa(&app, &client, &login).await;
    let page = b.answer(&tenant, &page, "mfa", &[("method", "recovery"), ("code", &codes[0])]).await;
    assert_ne!(page.step().as_deref(), Some("mfa"), "recovery code refused: {}", page.text);
    let claims = finish(&app, &mut b, &client, page, &req, &login).await;
    let amr: Vec<String> = serde_json::from_value(claims["amr"].clone()).unwrap();
    assert!(amr.contains(&"mfa".to_string()), "{amr:?}");
    let (mut b, page, _) = to_mfa(&app, &client, &login).await;
    let page = b.answer(&tenant, &page, "mfa", &[("method", "recovery"), ("code", &codes[0])]).await;
    assert_eq!(page.step().as_deref(), Some("mfa"), "a recovery code worked twice");
});

api_test!(email_code_from_the_outbox_is_a_second_factor, |app| {
    set_policy(&app, json!({"securityDefaults": true})).await;
    let user = app.create_user("mailmfa", "Mail Mfa").await;
    let login = upn(&user);
    let client = web_client(&app).await;
    let tenant = app.tenant.to_string();
    let (mut b, page, req) = to_mfa(&app, &client, &login).await;
    assert_eq!(page.step().as_deref(), Some("mfa"), "{}", page.text);
    assert!(page.text.contains("email_send"), "email is offered");
    let page = b.answer(&tenant, &page, "mfa", &[("method", "email_send")]).await;
    assert_eq!(page.status, StatusCode::OK);
    let mails = outbox(&app).await;
    let mail = mails.iter().find(|m| m.purpose == "email_otp").expect("a code was mailed");
    assert_eq!(mail.recipient, user["mail"].as_str().unwrap());
    let code: String = mail
        .body_text
        .split("code is ")
        .nth(1)
        .expect("code in the mail")
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6, "{}", mail.body_text);

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let page = b.answer(&tenant, &page, "mfa", &[("method", "email_code"), ("code", wrong)]).await;
    assert_eq!(page.step().as_deref(), Some("mfa"));
    let page = b.answer(&tenant, &page, "mfa", &[("method", "email_code"), ("code", &code)]).await;
    assert_ne!(page.step().as_deref(), Some("mfa"), "{}", page.text);
    let claims = finish(&app, &mut b, &client, page, &req, &login).await;
    let amr: Vec<String> = serde_json::from_value(claims["amr"].clone()).unwrap();
    assert!(amr.contains(&"mfa".to_string()) && amr.contains(&"pwd".to_string()), "{amr:?}");
});

api_test!(prompt_none_with_a_single_factor_session_under_mfa_policy_is_interaction_required, |app| {
    let user = app.create_user("stepup", "Step Up").await;
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    b.sign_in(&app, &client, &AuthReq::new(), &upn(&user)).await;
    set_policy(&app, json!({"securityDefaults": true})).await;
    let req = AuthReq::new().with("prompt", "none");
    let r = b.get(&authorize_url(&app, &client, &req)).await;
    r.expect_status(StatusCode::SEE_OTHER, "prompt=none");
    assert_eq!(r.param("error").as_deref(), Some("interaction_required"), "{:?}", r.location());
});

api_test!(ten_wrong_second_factor_codes_block_the_eleventh_even_if_right, |app| {
    set_policy(&app, json!({"securityDefaults": true})).await;
    let user = app.create_user("guesser", "Guesser").await;
    let login = upn(&user);
    let client = web_client(&app).await;
    let tenant = app.tenant.to_string();
    let (mut b, page, _) = to_mfa(&app, &client, &login).await;
    let mut page = b.answer(&tenant, &page, "mfa", &[("method", "email_send")]).await;
    let mails = outbox(&app).await;
    let body = &mails.iter().find(|m| m.purpose == "email_otp").expect("mail").body_text;
    let code: String = body.split("code is ").nth(1).unwrap().chars().take_while(char::is_ascii_digit).collect();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for i in 0..10 {
        page = b.answer(&tenant, &page, "mfa", &[("method", "totp"), ("code", wrong)]).await;
        assert_eq!(page.status, StatusCode::OK, "failure {i}");
    }
    let r = b.answer(&tenant, &page, "mfa", &[("method", "email_code"), ("code", &code)]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(sign_in_codes(&app).await.contains(&500121));
});
