//! The happy path of the code flow, and what its tokens are.

use portico_core::jws::{self, Jwk};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::*;
use crate::common::{TestApp, jwt_claims};
use crate::{api_test, api_test_clock};

async fn jwks(app: &TestApp) -> Vec<Jwk> {
    let r = app.raw(app.http.get(format!("{}/{}/discovery/v2.0/keys", app.base, app.tenant))).await;
    assert_eq!(r.status, StatusCode::OK, "jwks: {}", r.text);
    serde_json::from_value(r.body["keys"].clone()).expect("keys parse as JWKs")
}

api_test!(confidential_code_flow_issues_signed_id_token_with_the_sign_in_facts, |app| {
    let user = app.create_user("adele", "Adele Vance").await;
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    let req = AuthReq::new();
    let before = time::OffsetDateTime::now_utc().unix_timestamp();

    // authorize → 303 to the flow page, with the browser-binding cookie.
    let r = b.get(&authorize_url(&app, &client, &req)).await;
    r.expect_status(StatusCode::SEE_OTHER, "authorize");
    assert!(r.location().unwrap().starts_with(&format!("/{}/login?flow=", app.tenant)), "{:?}", r.location());
    let set_cookie = r.header("set-cookie").expect("portico_b is set");
    assert!(set_cookie.starts_with("portico_b="), "{set_cookie}");
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");

    let page = b.follow(r).await;
    assert_eq!(page.step().as_deref(), Some("identify"));
    let last = b.complete(&app, page, &upn(&user), PASSWORD).await;
    let code = code_of(&last, &client);
    let issuer = format!("{}/{}/v2.0", app.base, app.tenant);
    assert_eq!(last.param("state"), Some(req.state.clone()), "state is echoed");
    assert_eq!(last.param("iss"), Some(issuer.clone()), "RFC 9207 iss parameter equals the issuer");
    assert!(b.cookie(&session_cookie(&app)).is_some(), "a session cookie was set");

    let r = redeem(&app, &client, &code, &req.verifier).await;
    assert_eq!(r.status, StatusCode::OK, "redeem: {}", r.text);
    assert_eq!(r.headers.get("cache-control").and_then(|v| v.to_str().ok()), Some("no-store"));
    assert_eq!(r.body["token_type"], json!("Bearer"));
    let id_token = field(&r, "id_token");
    let access = field(&r, "access_token");
    field(&r, "refresh_token");

    // The ID token verifies against the tenant's published keys.
    let keys = jwks(&app).await;
    let claims = jws::decode_unverified(&id_token).expect("JWS").verify(&keys).expect("ID token signature verifies");
    assert_eq!(claims["aud"], json!(client.client_id));
    assert_eq!(claims["iss"], json!(issuer));
    assert_eq!(claims["nonce"], json!(req.nonce));
    assert_eq!(claims["tid"], json!(app.tenant.to_string()));
    assert_eq!(claims["oid"], user["id"]);
    assert_eq!(claims["preferred_username"], json!(upn(&user)));
    let amr: Vec<String> = serde_json::from_value(claims["amr"].clone()).expect("amr list");
    assert!(amr.contains(&"pwd".to_string()), "amr: {amr:?}");
    assert!(claims["sid"].as_str().is_some_and(|s| !s.is_empty()), "sid: {claims}");
    let auth_time = claims["auth_time"].as_i64().expect("auth_time");
    let after = time::OffsetDateTime::now_utc().unix_timestamp();
    assert!(auth_time >= before - 1 && auth_time <= after + 1, "auth_time {auth_time} not in [{before}, {after}]");
    // The access token verifies too, and is for Graph.
    let at = jws::decode_unverified(&access).expect("JWS").verify(&keys).expect("access token signature verifies");
    assert_eq!(at["oid"], user["id"]);

    // The access token works on Graph as the user.
    let me = app.get_as(&access, "/v1.0/me").await;
    assert_eq!(me.status, StatusCode::OK, "/me: {}", me.text);
    assert_eq!(me.body["id"], user["id"]);

    // userinfo names the same subject as the ID token.
    let r = app.raw(app.http.get(format!("{}/{}/oidc/userinfo", app.base, app.tenant)).bearer_auth(&access)).await;
    assert_eq!(r.status, StatusCode::OK, "userinfo: {}", r.text);
    assert_eq!(r.body["sub"], claims["sub"], "userinfo sub equals ID token sub");
    assert_eq!(r.body["preferred_username"], json!(upn(&user)));
});

api_test!(second_authorize_with_a_live_session_answers_without_pages, |app| {
    let user = app.create_user("alex", "Alex Wilber").await;
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    b.sign_in(&app, &client, &AuthReq::new(), &upn(&user)).await;

    // prompt=none with the session: a code straight away.
    let req = AuthReq::new().with("prompt", "none");
    let r = b.get(&authorize_url(&app, &client, &req)).await;
    let code = code_of(&r, &client);
    let tokens = redeem(&app, &client, &code, &req.verifier).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    let claims = jwt_claims(&field(&tokens, "id_token"));
    assert_eq!(claims["nonce"], json!(req.nonce));

    // No prompt at all: also no pages.
    let req = AuthReq::new();
    let r = b.get(&authorize_url(&app, &client, &req)).await;
    code_of(&r, &client);
});

api_test!(prompt_none_without_a_session_answers_login_required, |app| {
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    let req = AuthReq::new().with("prompt", "none");
    let r = b.get(&authorize_url(&app, &client, &req)).await;
    r.expect_status(StatusCode::SEE_OTHER, "prompt=none");
    assert!(r.location().unwrap().starts_with(&client.redirect_uri));
    assert_eq!(r.param("error").as_deref(), Some("login_required"));
    assert_eq!(r.param("state"), Some(req.state.clone()));
    assert!(r.param("code").is_none());
});

api_test!(prompt_login_and_max_age_zero_force_a_new_password, |app| {
    let user = app.create_user("megan", "Megan Bowen").await;
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    b.sign_in(&app, &client, &AuthReq::new(), &upn(&user)).await;

    for (k, v) in [("prompt", "login"), ("max_age", "0")] {
        let req = AuthReq::new().with(k, v);
        let r = b.get(&authorize_url(&app, &client, &req)).await;
        r.expect_status(StatusCode::SEE_OTHER, k);
        let loc = r.location().unwrap();
        assert!(loc.starts_with(&format!("/{}/login?flow=", app.tenant)), "{k}={v} must not answer with a code: {loc}");
        let page = b.follow(r).await;
        let step = page.step().unwrap_or_default();
        assert!(step == "identify" || step == "password", "{k}={v}: page {step}");
        let last = b.complete(&app, page, &upn(&user), PASSWORD).await;
        let code = code_of(&last, &client);
        let tokens = redeem(&app, &client, &code, &req.verifier).await;
        assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text);
    }
});

api_test!(refresh_tokens_rotate_and_reuse_revokes_the_family, |app| {
    let user = app.create_user("lee", "Lee Gu").await;
    let client = web_client(&app).await;
    let (_, first) = sign_in_tokens(&app, &client, &upn(&user)).await;
    let rt1 = field(&first, "refresh_token");

    let second = refresh(&app, &client, &rt1).await;
    let rt2 = field(&second, "refresh_token");
    assert_ne!(rt1, rt2, "a new refresh token each time");
    let third = refresh(&app, &client, &rt2).await;
    let rt3 = field(&third, "refresh_token");
    let at3 = field(&third, "access_token");
    assert_ne!(rt2, rt3);
    assert_eq!(me_status(&app, &at3).await, StatusCode::OK);

    // Reusing rt1 is theft: the family ends.
    let r = refresh(&app, &client, &rt1).await;
    assert_token_error(&r, StatusCode::BAD_REQUEST, "invalid_grant", 70043, "reused refresh token");
    let r = refresh(&app, &client, &rt3).await;
    assert_token_error(&r, StatusCode::BAD_REQUEST, "invalid_grant", 50173, "newest token of a revoked family");
    assert_eq!(me_status(&app, &at3).await, StatusCode::UNAUTHORIZED, "access tokens of the family end at once");
});

api_test!(replayed_code_fails_and_revokes_what_it_issued, |app| {
    let user = app.create_user("diego", "Diego Siciliani").await;
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    let req = AuthReq::new();
    let code = b.sign_in(&app, &client, &req, &upn(&user)).await;
    let first = redeem(&app, &client, &code, &req.verifier).await;
    let at = field(&first, "access_token");
    let rt = field(&first, "refresh_token");
    assert_eq!(me_status(&app, &at).await, StatusCode::OK);

    let again = redeem(&app, &client, &code, &req.verifier).await;
    assert_token_error(&again, StatusCode::BAD_REQUEST, "invalid_grant", 54005, "replayed code");
    let r = refresh(&app, &client, &rt).await;
    assert_token_error(&r, StatusCode::BAD_REQUEST, "invalid_grant", 50173, "refresh token of a replayed code");
    assert_eq!(me_status(&app, &at).await, StatusCode::UNAUTHORIZED, "access token of a replayed code");
});

api_test!(public_client_redeems_without_secret_and_is_refused_with_one, |app| {
    let user = app.create_user("grady", "Grady Archie").await;
    let client = register(&app, "spa", "https://spa.example/").await;
    let mut b = Browser::new(&app);
    let req = AuthReq::new();
    let code = b.sign_in(&app, &client, &req, &upn(&user)).await;

    let with_secret = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &client.redirect_uri),
            ("code_verifier", &req.verifier),
            ("client_id", &client.client_id),
            ("client_secret", "anything"),
        ],
    )
    .await;
    assert_token_error(&with_secret, StatusCode::UNAUTHORIZED, "invalid_client", 700025, "public client with a secret");

    // The refused attempt did not spend the code.
    let r = redeem(&app, &client, &code, &req.verifier).await;
    assert_eq!(r.status, StatusCode::OK, "public redeem: {}", r.text);
    let rt = field(&r, "refresh_token");
    let claims = jwt_claims(&field(&r, "access_token"));
    assert_eq!(claims["appidacr"], json!("0"));
    let r = refresh(&app, &client, &rt).await;
    assert_eq!(r.status, StatusCode::OK, "public refresh: {}", r.text);
    let refreshed: Value = r.body.clone();
    let lifetime = refreshed["refresh_token_expires_in"].as_i64().expect("refresh_token_expires_in");
    assert!(lifetime <= 24 * 3600, "a public client's family ends within 24 h, not {lifetime} s");
});

api_test_clock!(max_age_zero_forces_a_new_password_even_in_the_same_instant, |app, clock| {
    // OpenID Connect Core 1.0 §3.1.2.1 (errata 2): "max_age=0 is equivalent to prompt=login".
    let user = app.create_user("instant", "Instant").await;
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    b.sign_in(&app, &client, &AuthReq::new(), &upn(&user)).await;
    // The clock has not moved since the password was proved.
    let r = b.get(&authorize_url(&app, &client, &AuthReq::new().with("max_age", "0"))).await;
    r.expect_status(StatusCode::SEE_OTHER, "max_age=0");
    let loc = r.location().unwrap();
    assert!(loc.starts_with(&format!("/{}/login?flow=", app.tenant)), "max_age=0 answered with a code: {loc}");
    drop(clock);
});

api_test_clock!(max_age_is_honoured_against_the_session_auth_time, |app, clock| {
    let user = app.create_user("aging", "Aging").await;
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    b.sign_in(&app, &client, &AuthReq::new(), &upn(&user)).await;
    clock.advance(time::Duration::seconds(30));
    let req = AuthReq::new().with("max_age", "60");
    let r = b.get(&authorize_url(&app, &client, &req)).await;
    let code = code_of(&r, &client);
    let tokens = redeem(&app, &client, &code, &req.verifier).await;
    let claims = jwt_claims(&field(&tokens, "id_token"));
    let now = app.state.dir.clock.now().unix_timestamp();
    assert_eq!(claims["auth_time"].as_i64(), Some(now - 30), "auth_time is the session's, not the code's");
    clock.advance(time::Duration::seconds(31));
    let r = b.get(&authorize_url(&app, &client, &AuthReq::new().with("max_age", "60"))).await;
    assert!(r.location().unwrap().starts_with(&format!("/{}/login?flow=", app.tenant)), "61 s > max_age=60");
    let r = b.get(&authorize_url(&app, &client, &AuthReq::new().with("max_age", "60").with("prompt", "none"))).await;
    assert_eq!(r.param("error").as_deref(), Some("login_required"), "silent and too old");
});

api_test!(prompt_select_account_shows_the_picker_for_a_signed_in_browser, |app| {
    let user = app.create_user("picker", "Picker").await;
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    b.sign_in(&app, &client, &AuthReq::new(), &upn(&user)).await;
    let req = AuthReq::new().with("prompt", "select_account");
    let page = b.authorize(&app, &client, &req).await;
    assert_eq!(page.step().as_deref(), Some("select_account"), "{}", page.text);
    assert!(page.text.contains(&upn(&user)));
    let r = b.answer(&app.tenant.to_string(), &page, "select_account", &[("choice", "continue")]).await;
    let code = code_of(&r, &client);
    assert_eq!(redeem(&app, &client, &code, &req.verifier).await.status, StatusCode::OK);

    let page = b.authorize(&app, &client, &AuthReq::new().with("prompt", "select_account")).await;
    let r = b.answer(&app.tenant.to_string(), &page, "select_account", &[("choice", "other")]).await;
    assert_eq!(r.step().as_deref(), Some("identify"), "another account: {}", r.text);
});

api_test!(code_of_one_tenant_is_unknown_at_another_tenants_token_endpoint, |app| {
    let user = app.create_user("crosser", "Crosser").await;
    let client = web_client(&app).await;
    let (other, _) = app.new_tenant("Fabrikam", Some("fabrikam.test"), &[]).await;
    let mut b = Browser::new(&app);
    let req = AuthReq::new();
    let code = b.sign_in(&app, &client, &req, &upn(&user)).await;
    let r = app
        .raw(app.http.post(format!("{}/{other}/oauth2/v2.0/token", app.base)).form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", client.redirect_uri.as_str()),
            ("code_verifier", req.verifier.as_str()),
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.secret.as_deref().unwrap()),
        ]))
        .await;
    assert!(r.status.is_client_error(), "{}", r.text);
    assert!(r.body.get("access_token").is_none());
    assert_eq!(redeem(&app, &client, &code, &req.verifier).await.status, StatusCode::OK);
});
