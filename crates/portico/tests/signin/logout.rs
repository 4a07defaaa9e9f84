//! RP-initiated sign-out.

use reqwest::StatusCode;

use crate::api_test;
use crate::browser::*;
use crate::common::{TestApp, urlencode};

fn logout_url(app: &TestApp, params: &[(&str, &str)]) -> String {
    let q: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect();
    format!("/{}/oauth2/v2.0/logout?{}", app.tenant, q.join("&"))
}

api_test!(logout_with_id_token_hint_ends_the_session_and_its_tokens, |app| {
    let user = app.create_user("leaver", "Leaver").await;
    let client = web_client(&app).await;
    let (mut b, tokens) = sign_in_tokens(&app, &client, &upn(&user)).await;
    let id_token = field(&tokens, "id_token");
    let rt = field(&tokens, "refresh_token");
    let at = field(&tokens, "access_token");
    let cookie = session_cookie(&app);
    assert!(b.cookie(&cookie).is_some());

    let r = b
        .get(&logout_url(
            &app,
            &[("id_token_hint", &id_token), ("post_logout_redirect_uri", &client.redirect_uri), ("state", "bye")],
        ))
        .await;
    r.expect_status(StatusCode::SEE_OTHER, "logout");
    let loc = r.location().unwrap();
    assert!(loc.starts_with(&client.redirect_uri), "{loc}");
    assert_eq!(r.param("state").as_deref(), Some("bye"));
    assert!(b.cookie(&cookie).is_none(), "the session cookie is cleared");

    let r = refresh(&app, &client, &rt).await;
    assert_token_error(&r, StatusCode::BAD_REQUEST, "invalid_grant", 50173, "refresh after sign-out");
    assert_eq!(me_status(&app, &at).await, StatusCode::UNAUTHORIZED, "access token after sign-out");
    // Even a browser that kept the old cookie has no session.
    let r = b.get(&authorize_url(&app, &client, &AuthReq::new().with("prompt", "none"))).await;
    assert_eq!(r.param("error").as_deref(), Some("login_required"));
});

api_test!(logout_without_hint_asks_for_confirmation_first, |app| {
    let user = app.create_user("asked", "Asked").await;
    let client = web_client(&app).await;
    let (mut b, _) = sign_in_tokens(&app, &client, &upn(&user)).await;
    let r = b.get(&logout_url(&app, &[("post_logout_redirect_uri", &client.redirect_uri)])).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.location().is_none());
    let csrf = r.input("csrf").expect("a confirmation form with a csrf token");
    assert!(b.cookie(&session_cookie(&app)).is_some(), "still signed in");
    // Still signed in for real: a silent request succeeds.
    let silent = b.get(&authorize_url(&app, &client, &AuthReq::new().with("prompt", "none"))).await;
    code_of(&silent, &client);

    // A forged confirmation is refused.
    let path = format!("/{}/oauth2/v2.0/logout", app.tenant);
    let forged = b.post(&path, &[("csrf", "forged")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text);
    let r = b
        .post(
            &path,
            &[("csrf", &csrf), ("post_logout_redirect_uri", &client.redirect_uri), ("client_id", &client.client_id)],
        )
        .await;
    assert!(r.status == StatusCode::SEE_OTHER || r.status == StatusCode::OK, "{}", r.text);
    assert!(b.cookie(&session_cookie(&app)).is_none());
    let silent = b.get(&authorize_url(&app, &client, &AuthReq::new().with("prompt", "none"))).await;
    assert_eq!(silent.param("error").as_deref(), Some("login_required"));
});

api_test!(logout_to_an_unregistered_uri_shows_the_signed_out_page, |app| {
    let user = app.create_user("stray", "Stray").await;
    let client = web_client(&app).await;
    let (mut b, tokens) = sign_in_tokens(&app, &client, &upn(&user)).await;
    let id_token = field(&tokens, "id_token");
    let r = b
        .get(&logout_url(
            &app,
            &[("id_token_hint", &id_token), ("post_logout_redirect_uri", "https://evil.example/"), ("state", "s")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.location().is_none(), "no open redirect: {:?}", r.location());
    assert!(r.text.contains("You signed out"), "{}", r.text);
    assert!(b.cookie(&session_cookie(&app)).is_none());
});
