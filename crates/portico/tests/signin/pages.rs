//! What every page is: strict CSP, no framing, nothing loaded from elsewhere, the person's
//! language, and the form_post answer.

use reqwest::StatusCode;

use crate::api_test;
use crate::browser::*;

fn assert_strict(page: &Page, what: &str) {
    let csp = page.header("content-security-policy").unwrap_or_else(|| panic!("{what}: no CSP"));
    assert!(csp.starts_with("default-src 'none'"), "{what}: {csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{what}: {csp}");
    assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"), "{what}");
    for attr in ["src=\"http", "href=\"http", "src=\"//", "href=\"//", "url(http"] {
        assert!(!page.text.contains(attr), "{what}: loads something from elsewhere ({attr})");
    }
}

api_test!(every_sign_in_page_is_sent_with_a_strict_csp, |app| {
    let user = app.create_user("csp", "Csp Person").await;
    let client = web_client(&app).await;
    let tenant = app.tenant.to_string();
    let mut b = Browser::new(&app);
    let first = b.get(&authorize_url(&app, &client, &AuthReq::new())).await;
    assert_strict(&first, "authorize redirect");
    let page = b.follow(first).await;
    assert_strict(&page, "identify");
    let page = b.answer(&tenant, &page, "identify", &[("login", &upn(&user))]).await;
    assert_strict(&page, "password");
    let wrong = b.answer(&tenant, &page, "password", &[("password", "nope-nope-nope")]).await;
    assert_strict(&wrong, "password error");
    let page = b.answer(&tenant, &wrong, "password", &[("password", PASSWORD)]).await;
    assert_eq!(page.step().as_deref(), Some("kmsi"));
    assert_strict(&page, "kmsi");
    let page = b.answer(&tenant, &page, "kmsi", &[("stay", "yes")]).await;
    assert_eq!(page.step().as_deref(), Some("consent"));
    assert_strict(&page, "consent");
    let last = b.answer(&tenant, &page, "consent", &[("decision", "accept")]).await;
    assert_strict(&last, "answer redirect");
    code_of(&last, &client);

    let mut bad = AuthReq::new();
    bad.redirect_uri = Some("https://evil.example/".into());
    let err = b.get(&authorize_url(&app, &client, &bad)).await;
    assert_strict(&err, "error page");
    let reset = b.get(&format!("/{tenant}/reset")).await;
    assert_strict(&reset, "reset");
    let expired = b.get(&format!("/{tenant}/login?flow=nope")).await;
    assert_strict(&expired, "expired flow");
});

api_test!(kmsi_yes_makes_a_persistent_session_cookie, |app| {
    let user = app.create_user("stayer", "Stayer").await;
    let client = web_client(&app).await;
    let tenant = app.tenant.to_string();
    let mut b = Browser::new(&app);
    let page = b.authorize(&app, &client, &AuthReq::new()).await;
    let page = b.answer(&tenant, &page, "identify", &[("login", &upn(&user))]).await;
    let page = b.answer(&tenant, &page, "password", &[("password", PASSWORD)]).await;
    let flow = page.input("flow").unwrap();
    let csrf = page.input("csrf").unwrap();
    let r = b
        .post(&format!("/{tenant}/login"), &[("flow", &flow), ("csrf", &csrf), ("step", "kmsi"), ("stay", "yes")])
        .await;
    let cookie = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&session_cookie(&app)))
        .expect("session cookie")
        .to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Max-Age="), "stay signed in: a persistent cookie: {cookie}");
});

api_test!(pages_speak_german_to_german_browsers, |app| {
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    b.accept_language = Some("de-DE,de;q=0.9,en;q=0.5".into());
    let page = b.authorize(&app, &client, &AuthReq::new()).await;
    assert_eq!(page.step().as_deref(), Some("identify"));
    assert!(page.text.contains("Anmelden"), "{}", page.text);
    assert!(page.text.contains("lang=\"de\""));
    let page = b.answer(&app.tenant.to_string(), &page, "identify", &[("login", "x@contoso.test")]).await;
    let wrong = b.answer(&app.tenant.to_string(), &page, "password", &[("password", "wrong-wrong")]).await;
    assert!(wrong.alert().is_some_and(|a| a.contains("Kennwort ist falsch")), "{:?}", wrong.alert());

    // ui_locales wins over Accept-Language.
    let mut en = Browser::new(&app);
    en.accept_language = Some("de".into());
    let page = en.authorize(&app, &client, &AuthReq::new().with("ui_locales", "en")).await;
    assert!(page.text.contains("Sign in"), "{}", page.text);
});

api_test!(form_post_answer_posts_code_state_and_iss_to_the_redirect_uri, |app| {
    let user = app.create_user("poster", "Poster").await;
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    let req = AuthReq::new().with("response_mode", "form_post");
    let first = b.authorize(&app, &client, &req).await;
    let page = b.complete(&app, first, &upn(&user), PASSWORD).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.location().is_none());
    assert!(
        page.text.contains(&format!("action=\"{}\"", client.redirect_uri))
            || page.text.contains(&format!("action=\"{}\"", client.redirect_uri.replace('/', "&#x2f;"))),
        "the form posts to the redirect URI: {}",
        page.text
    );
    let code = page.input("code").expect("code");
    assert_eq!(page.input("state"), Some(req.state.clone()));
    assert_eq!(page.input("iss"), Some(format!("{}/{}/v2.0", app.base, app.tenant)));
    let csp = page.header("content-security-policy").expect("csp");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(csp.contains("form-action 'self' https://client.example"), "{csp}");
    let nonce = csp.split("'nonce-").nth(1).and_then(|s| s.split('\'').next()).expect("script nonce");
    assert!(page.text.contains(&format!("<script nonce=\"{nonce}\">")), "{}", page.text);
    let r = redeem(&app, &client, &code, &req.verifier).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
});
