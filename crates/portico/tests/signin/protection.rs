//! CSRF on the sign-in forms, account enumeration, and password throttling.

use std::time::Instant;

use reqwest::StatusCode;

use crate::browser::*;
use crate::common::{Custom, TestApp};
use crate::{api_test, api_test_custom};

/// A browser at the password page of a fresh flow for `login`.
async fn at_password(app: &TestApp, client: &Client, login: &str) -> (Browser, Page) {
    let mut b = Browser::new(app);
    let page = b.authorize(app, client, &AuthReq::new()).await;
    assert_eq!(page.step().as_deref(), Some("identify"), "{}", page.text);
    let page = b.answer(&app.tenant.to_string(), &page, "identify", &[("login", login)]).await;
    assert_eq!(page.step().as_deref(), Some("password"), "{}", page.text);
    (b, page)
}

api_test!(login_post_without_the_flow_csrf_token_is_403, |app| {
    let user = app.create_user("csrf", "Csrf Target").await;
    let client = web_client(&app).await;
    let (mut b, page) = at_password(&app, &client, &upn(&user)).await;
    let flow = page.input("flow").unwrap();
    let csrf = page.input("csrf").unwrap();
    let path = format!("/{}/login", app.tenant);

    let r = b.post(&path, &[("flow", &flow), ("step", "password"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no csrf: {}", r.text);
    assert!(r.location().is_none());
    let r = b.post(&path, &[("flow", &flow), ("csrf", "wrong"), ("step", "password"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "wrong csrf: {}", r.text);

    // Another site's form, even with the right token.
    let fields = [("flow", flow.as_str()), ("csrf", csrf.as_str()), ("step", "password"), ("password", PASSWORD)];
    let r = b.post_with(&path, &fields, &[("Origin", "https://evil.example")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "foreign Origin: {}", r.text);
    let r = b.post_with(&path, &fields, &[("Origin", "null")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "Origin null: {}", r.text);

    // Another browser (its own portico_b) cannot continue this flow, token or not.
    let mut other = Browser::new(&app);
    other.get(&authorize_url(&app, &client, &AuthReq::new())).await;
    assert!(other.cookie("portico_b").is_some());
    let r = other.post(&path, &fields).await;
    assert!(r.status.is_client_error(), "another browser: {}", r.status);
    assert!(r.location().is_none() && !r.text.contains("code="), "another browser got through: {}", r.text);
    let mut cookieless = Browser::new(&app);
    let r = cookieless.post(&path, &fields).await;
    assert!(r.status.is_client_error(), "no browser cookie: {}", r.status);

    // The real browser, same origin, right token: fine.
    let own = b.base.clone();
    let r = b.post_with(&path, &fields, &[("Origin", own.as_str())]).await;
    let r = b.follow(r).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.step().as_deref(), Some("kmsi"), "{}", r.text);
});

/// The password page after a wrong password, with everything naming the attempt blanked out.
fn normalised(page: &Page, login: &str) -> String {
    let mut t = page.text.clone();
    for v in [page.input("flow"), page.input("csrf")].into_iter().flatten() {
        t = t.replace(&v, "X");
    }
    t = t.replace(login, "LOGIN");
    match t.find("<footer") {
        Some(i) => t[..i].to_string(),
        None => t,
    }
}

api_test_custom!(
    unknown_account_and_wrong_password_look_and_take_the_same,
    Custom::settings(|s| s.trust_forwarded_for = true),
    |app| {
        let user = app.create_user("known", "Known Person").await;
        let client = web_client(&app).await;
        let known = upn(&user);
        let mut times = [vec![], vec![]];
        let mut pages: [Option<String>; 2] = [None, None];
        for i in 0..10 {
            for (which, login) in [known.clone(), format!("nobody{i}@contoso.test")].into_iter().enumerate() {
                let (mut b, page) = at_password(&app, &client, &login).await;
                // A fresh address per attempt keeps the throttle out of the measurement.
                b.forwarded_for = Some(format!("10.0.{which}.{i}"));
                let start = Instant::now();
                let r = b.answer(&app.tenant.to_string(), &page, "password", &[("password", "Wrong-password-1")]).await;
                times[which].push(start.elapsed().as_secs_f64());
                assert_eq!(r.status, StatusCode::OK, "{login}: {}", r.text);
                assert_eq!(r.step().as_deref(), Some("password"));
                let n = normalised(&r, &login);
                match &pages[which] {
                    None => pages[which] = Some(n),
                    Some(p) => assert_eq!(p, &n),
                }
            }
        }
        assert_eq!(pages[0], pages[1], "unknown account and wrong password answer alike");
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (k, u) = (mean(&times[0]), mean(&times[1]));
        assert!((k - u).abs() < 0.5 * k.max(u), "mean time known {k:.4}s vs unknown {u:.4}s");
    }
);

api_test!(sixth_wrong_password_is_throttled_and_then_even_the_right_one, |app| {
    let user = app.create_user("throttled", "Throttled Person").await;
    let client = web_client(&app).await;
    let (mut b, mut page) = at_password(&app, &client, &upn(&user)).await;
    let tenant = app.tenant.to_string();
    for i in 0..5 {
        page = b.answer(&tenant, &page, "password", &[("password", &format!("wrong-{i}"))]).await;
        assert_eq!(page.status, StatusCode::OK, "failure {i}: {}", page.text);
        assert!(page.alert().is_some_and(|a| a.contains("incorrect")), "failure {i}: {:?}", page.alert());
    }
    let r = b.answer(&tenant, &page, "password", &[("password", "wrong-6")]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.header("retry-after").and_then(|v| v.parse::<u64>().ok()).is_some_and(|s| s > 0), "Retry-After");
    let r = b.answer(&tenant, &r, "password", &[("password", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "the right password from the same address: {}", r.text);
    assert!(r.location().is_none());
    // A new flow from the same address is held back too.
    let (mut b2, page2) = at_password(&app, &client, &upn(&user)).await;
    let r = b2.answer(&tenant, &page2, "password", &[("password", PASSWORD)]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "new flow: {}", r.text);

    // An unknown account gets the same treatment.
    let (mut b3, mut page3) = at_password(&app, &client, "ghost@contoso.test").await;
    for i in 0..5 {
        page3 = b3.answer(&tenant, &page3, "password", &[("password", &format!("wrong-{i}"))]).await;
        assert_eq!(page3.status, StatusCode::OK);
    }
    let r = b3.answer(&tenant, &page3, "password", &[("password", "x")]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "unknown account: {}", r.text);

    let codes = sign_in_codes(&app).await;
    assert!(codes.contains(&50053), "sign-in log has a throttled record: {codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 50126).count(), 10, "ten wrong passwords logged: {codes:?}");
    assert!(!codes.contains(&0), "no success: {codes:?}");
});
