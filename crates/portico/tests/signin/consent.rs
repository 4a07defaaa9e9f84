//! Consent: asked once per user and app, declined, admin-only scopes, and organization-wide
//! consent by an administrator.

use reqwest::StatusCode;
use serde_json::json;

use crate::api_test;
use crate::browser::*;
use crate::common::TestApp;

/// Signs in up to the first page that is not identify/password/kmsi.
async fn past_password(app: &TestApp, b: &mut Browser, client: &Client, req: &AuthReq, login: &str) -> Page {
    let tenant = app.tenant.to_string();
    let mut page = b.authorize(app, client, req).await;
    for _ in 0..5 {
        page = match page.step().as_deref() {
            Some("identify") => b.answer(&tenant, &page, "identify", &[("login", login)]).await,
            Some("password") => b.answer(&tenant, &page, "password", &[("password", PASSWORD)]).await,
            Some("kmsi") => b.answer(&tenant, &page, "kmsi", &[("stay", "no")]).await,
            _ => return page,
        };
    }
    page
}

async fn make_admin(app: &TestApp, user_id: &str) {
    let r = app
        .post(
            "/v1.0/roleManagement/directory/roleAssignments",
            json!({"principalId": user_id, "roleDefinitionId": portico_core::access::GLOBAL_ADMINISTRATOR, "directoryScopeId": "/"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "role assignment: {}", r.text);
}

api_test!(user_consents_on_first_sign_in_only, |app| {
    let user = app.create_user("consenter", "Consenter").await;
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    let req = AuthReq::new();
    let page = past_password(&app, &mut b, &client, &req, &upn(&user)).await;
    assert_eq!(page.step().as_deref(), Some("consent"), "{}", page.text);
    assert!(page.text.contains("User.Read"), "the scopes are listed");
    assert!(!page.text.contains("name=\"org\""), "no organization-wide consent for a member");
    let last = b.answer(&app.tenant.to_string(), &page, "consent", &[("decision", "accept")]).await;
    code_of(&last, &client);

    // A new browser: password again, but no consent page.
    let mut b = Browser::new(&app);
    let page = past_password(&app, &mut b, &client, &AuthReq::new(), &upn(&user)).await;
    code_of(&page, &client);
    // prompt=consent asks again.
    let page = past_password(&app, &mut b, &client, &AuthReq::new().with("prompt", "consent"), &upn(&user)).await;
    assert_eq!(page.step().as_deref(), Some("consent"), "prompt=consent: {}", page.text);
});

api_test!(declined_consent_redirects_access_denied, |app| {
    let user = app.create_user("decliner", "Decliner").await;
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    let req = AuthReq::new();
    let page = past_password(&app, &mut b, &client, &req, &upn(&user)).await;
    assert_eq!(page.step().as_deref(), Some("consent"), "{}", page.text);
    let r = b.answer(&app.tenant.to_string(), &page, "consent", &[("decision", "cancel")]).await;
    r.expect_status(StatusCode::SEE_OTHER, "cancel");
    assert!(r.location().unwrap().starts_with(&client.redirect_uri));
    assert_eq!(r.param("error").as_deref(), Some("access_denied"));
    assert_eq!(r.param("state"), Some(req.state.clone()));
    assert!(r.param("code").is_none());
    assert!(sign_in_codes(&app).await.contains(&65004));
});

api_test!(admin_only_scope_for_a_member_needs_admin_approval, |app| {
    let user = app.create_user("member", "Plain Member").await;
    let client = web_client(&app).await;
    let mut b = Browser::new(&app);
    let req = AuthReq::with_scope("openid profile User.Read.All");
    // As in Entra, the member is told at once; no consent page they could not accept.
    let page = past_password(&app, &mut b, &client, &req, &upn(&user)).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN, "{}", page.text);
    assert!(page.text.contains("Need admin approval"), "{}", page.text);
    assert!(page.location().is_none());
});

api_test!(admin_consent_for_the_organization_covers_other_users, |app| {
    let admin = app.create_user("boss", "The Boss").await;
    make_admin(&app, admin["id"].as_str().unwrap()).await;
    let member = app.create_user("worker", "A Worker").await;
    let client = web_client(&app).await;
    let scope = "openid profile User.Read.All";

    let mut b = Browser::new(&app);
    let page = past_password(&app, &mut b, &client, &AuthReq::with_scope(scope), &upn(&admin)).await;
    assert_eq!(page.step().as_deref(), Some("consent"), "{}", page.text);
    assert!(page.text.contains("name=\"org\""), "an administrator may consent for the organization");
    let last = b.answer(&app.tenant.to_string(), &page, "consent", &[("decision", "accept"), ("org", "1")]).await;
    code_of(&last, &client);
    let mut conn = app.state.dir.store.pool().acquire().await.unwrap();
    let types: Vec<String> =
        sqlx::query_scalar("SELECT consent_type FROM oauth2_permission_grants WHERE tenant_id = $1")
            .bind(app.tenant.to_string())
            .fetch_all(&mut *conn)
            .await
            .unwrap();
    drop(conn);
    assert_eq!(types, vec!["AllPrincipals".to_string()]);

    // The member is not asked, and gets the admin-consented scope.
    let mut b = Browser::new(&app);
    let req = AuthReq::with_scope(scope);
    let page = past_password(&app, &mut b, &client, &req, &upn(&member)).await;
    let code = code_of(&page, &client);
    let r = redeem(&app, &client, &code, &req.verifier).await;
    assert!(field(&r, "scope").contains("User.Read.All"), "{}", r.text);
});
