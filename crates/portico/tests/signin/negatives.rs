//! What the authorization and token endpoints refuse (security checklist items 4–14).

use reqwest::StatusCode;

use crate::browser::*;
use crate::{api_test, api_test_clock};

api_test!(unregistered_redirect_uri_shows_a_page_and_never_redirects, |app| {
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    for bad in [
        "https://evil.example/cb",
        "https://client.example/cb/extra",
        "https://client.example/cb?x=1",
        "https://client.example/cb/",
        "https://CLIENT.example/cb",
        "http://client.example/cb",
    ] {
        let mut req = AuthReq::new();
        req.redirect_uri = Some(bad.to_string());
        let r = b.get(&authorize_url(&app, &client, &req)).await;
        assert!(r.status.is_client_error(), "{bad}: status {}", r.status);
        assert!(r.location().is_none(), "{bad}: must not redirect, got {:?}", r.location());
        assert!(r.text.contains("AADSTS50011"), "{bad}: page names the error: {}", r.text);
    }
    // An unknown client is a page too.
    let mut other = client.clone();
    other.client_id = uuid::Uuid::new_v4().to_string();
    let r = b.get(&authorize_url(&app, &other, &AuthReq::new())).await;
    assert!(r.status.is_client_error() && r.location().is_none(), "unknown client: {}", r.status);
});

api_test!(authorize_without_s256_pkce_redirects_invalid_request, |app| {
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    for (what, req) in [
        ("no code_challenge", AuthReq::new().with("code_challenge", "").with("code_challenge_method", "")),
        ("no method", AuthReq::new().with("code_challenge_method", "")),
        ("plain", AuthReq::new().with("code_challenge_method", "plain")),
        ("plain with a verifier-shaped challenge", {
            let r = AuthReq::new();
            let v = r.verifier.clone();
            r.with("code_challenge", &v).with("code_challenge_method", "plain")
        }),
    ] {
        let r = b.get(&authorize_url(&app, &client, &req)).await;
        r.expect_status(StatusCode::SEE_OTHER, what);
        assert!(r.location().unwrap().starts_with(&client.redirect_uri), "{what}: {:?}", r.location());
        assert_eq!(r.param("error").as_deref(), Some("invalid_request"), "{what}");
        assert_eq!(r.param("state"), Some(req.state.clone()), "{what}: state");
        assert!(r.param("iss").is_some(), "{what}: iss");
        assert!(r.param("code").is_none(), "{what}");
    }
});

api_test!(implicit_and_hybrid_response_types_are_unsupported, |app| {
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    for rt in ["token", "id_token", "code id_token", "id_token token"] {
        let req = AuthReq::new().with("response_type", rt);
        let r = b.get(&authorize_url(&app, &client, &req)).await;
        r.expect_status(StatusCode::SEE_OTHER, rt);
        assert_eq!(r.param("error").as_deref(), Some("unsupported_response_type"), "{rt}");
        assert!(!r.location().unwrap().contains('#'), "{rt}: nothing in a fragment");
    }
});

api_test!(wrong_code_verifier_fails_without_burning_the_code, |app| {
    let user = app.create_user("pradeep", "Pradeep Gupta").await;
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    let req = AuthReq::new();
    let code = b.sign_in(&app, &client, &req, &upn(&user)).await;

    let other = AuthReq::new().verifier;
    let r = redeem(&app, &client, &code, &other).await;
    assert_token_error(&r, StatusCode::BAD_REQUEST, "invalid_grant", 501481, "wrong verifier");
    let r = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("client_id", &client.client_id),
            ("client_secret", client.secret.as_deref().unwrap()),
        ],
    )
    .await;
    assert_eq!(r.body["error"], serde_json::json!("invalid_grant"), "missing verifier: {}", r.text);

    let r = redeem(&app, &client, &code, &req.verifier).await;
    assert_eq!(r.status, StatusCode::OK, "the right verifier still works: {}", r.text);
});

api_test!(token_request_with_another_redirect_uri_is_refused, |app| {
    let user = app.create_user("isaiah", "Isaiah Langer").await;
    let client = register(&app, "web", "https://client.example/cb").await;
    let r = app
        .patch(
            &format!("/v1.0/applications/{}", client.object_id),
            serde_json::json!({"web": {"redirectUris": ["https://client.example/cb", "https://client.example/other"]}}),
        )
        .await;
    assert!(r.status.is_success(), "add a second redirect URI: {}", r.text);
    let mut b = Browser::new(&app);
    let req = AuthReq::new();
    let code = b.sign_in(&app, &client, &req, &upn(&user)).await;
    let mut elsewhere = client.clone();
    elsewhere.redirect_uri = "https://client.example/other".into();
    let r = redeem(&app, &elsewhere, &code, &req.verifier).await;
    assert_token_error(&r, StatusCode::BAD_REQUEST, "invalid_grant", 50011, "other redirect_uri");
    let r = redeem(&app, &client, &code, &req.verifier).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
});

api_test!(wrong_client_secret_is_401_invalid_client, |app| {
    let user = app.create_user("johanna", "Johanna Lorenz").await;
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    let req = AuthReq::new();
    let code = b.sign_in(&app, &client, &req, &upn(&user)).await;
    let mut wrong = client.clone();
    wrong.secret = Some("not-the-secret".into());
    let r = redeem(&app, &wrong, &code, &req.verifier).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.body["error"], serde_json::json!("invalid_client"));
    let mut none = client.clone();
    none.secret = None;
    let r = redeem(&app, &none, &code, &req.verifier).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "no secret: {}", r.text);
    assert_eq!(r.body["error"], serde_json::json!("invalid_client"));
    let r = redeem(&app, &client, &code, &req.verifier).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
});

api_test!(code_presented_by_another_client_is_invalid_grant, |app| {
    let user = app.create_user("lidia", "Lidia Holloway").await;
    let client = web_client(&app).await;
    let thief = register(&app, "web", "https://client.example/cb").await;
    let mut b = Browser::new(&app);
    let req = AuthReq::new();
    let code = b.sign_in(&app, &client, &req, &upn(&user)).await;
    let r = redeem(&app, &thief, &code, &req.verifier).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"], serde_json::json!("invalid_grant"), "{}", r.text);
    assert!(r.body.get("access_token").is_none());
});

api_test_clock!(expired_code_is_invalid_grant, |app, clock| {
    let user = app.create_user("nestor", "Nestor Wilke").await;
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    let req = AuthReq::new();
    let code = b.sign_in(&app, &client, &req, &upn(&user)).await;
    clock.advance(time::Duration::seconds(601));
    let r = redeem(&app, &client, &code, &req.verifier).await;
    assert_token_error(&r, StatusCode::BAD_REQUEST, "invalid_grant", 70008, "code after 601 s");
});

api_test_clock!(public_refresh_family_ends_after_its_absolute_lifetime, |app, clock| {
    let user = app.create_user("patti", "Patti Fernandez").await;
    let client = register(&app, "publicClient", "http://127.0.0.1/callback").await;
    let (_, first) = sign_in_tokens(&app, &client, &upn(&user)).await;
    let rt = field(&first, "refresh_token");

    // Within the day it keeps rotating.
    clock.advance(time::Duration::hours(23));
    let r = refresh(&app, &client, &rt).await;
    let rt = field(&r, "refresh_token");
    // Past 24 h from the sign-in, even a fresh token of the family is refused.
    clock.advance(time::Duration::hours(1) + time::Duration::seconds(5));
    let r = refresh(&app, &client, &rt).await;
    assert_token_error(&r, StatusCode::BAD_REQUEST, "invalid_grant", 700082, "refresh after the absolute end");
});
