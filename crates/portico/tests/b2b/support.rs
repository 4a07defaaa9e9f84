//! Helpers for the B2B tests: a home tenant with a member, invitations, and walking the
//! redemption pages with the test browser.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, PASSWORD, Page};
use crate::common::{TestApp, all_permissions};

/// A second tenant of the deployment ("Fabrikam", domain fabrikam.test) and one member.
pub struct Home {
    pub tenant: String,
    pub token: String,
    pub user_id: String,
    pub address: String,
}

/// Creates the home tenant and a member `alias@fabrikam.test` with the test password.
pub async fn home_tenant(app: &TestApp, alias: &str) -> Home {
    let (tenant, token) = app.new_tenant("Fabrikam", Some("fabrikam.test"), &all_permissions()).await;
    let address = format!("{alias}@fabrikam.test");
    let r = app
        .post_as(
            &token,
            "/v1.0/users",
            json!({
                "accountEnabled": true, "displayName": format!("{alias} of Fabrikam"), "mailNickname": alias,
                "userPrincipalName": address, "mail": address,
                "passwordProfile": {"password": PASSWORD, "forceChangePasswordNextSignIn": false}
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "home user: {}", r.text);
    Home { tenant: tenant.to_string(), token, user_id: r.body["id"].as_str().unwrap().to_string(), address }
}

/// Invites `address` to the app's tenant; returns the invitation JSON.
pub async fn invite(app: &TestApp, address: &str, extra: Value) -> Value {
    let mut body =
        json!({"invitedUserEmailAddress": address, "inviteRedirectUrl": "https://apps.contoso.test/welcome"});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            b.insert(k.clone(), v.clone());
        }
    }
    let r = app.post("/v1.0/invitations", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "invite {address}: {}", r.text);
    r.body
}

/// The path and query of the redeem URL.
pub fn redeem_path(app: &TestApp, invitation: &Value) -> String {
    let url = invitation["inviteRedeemUrl"].as_str().expect("inviteRedeemUrl");
    url.strip_prefix(&app.base).expect("redeem URL on this server").to_string()
}

/// Posts a guest-flow form (flow, csrf from the page) to `/{tenant}/redeem`, following 303s on
/// this server.
pub async fn answer_redeem(b: &mut Browser, tenant: &str, page: &Page, step: &str, fields: &[(&str, &str)]) -> Page {
    let flow = page.input("flow").unwrap_or_else(|| panic!("no flow on the page: {}", page.text));
    let csrf = page.input("csrf").unwrap_or_else(|| panic!("no csrf on the page: {}", page.text));
    let mut all: Vec<(&str, &str)> = vec![("flow", &flow), ("csrf", &csrf), ("step", step)];
    all.extend_from_slice(fields);
    let r = b.post(&format!("/{tenant}/redeem"), &all).await;
    b.follow(r).await
}

/// Answers the home tenant's sign-in pages (identify, password, kmsi) for `login`.
pub async fn home_sign_in(b: &mut Browser, home: &str, mut page: Page, login: &str) -> Page {
    for _ in 0..6 {
        let Some(step) = page.step() else { return page };
        page = match step.as_str() {
            "identify" => b.answer(home, &page, "identify", &[("login", login)]).await,
            "password" => b.answer(home, &page, "password", &[("password", PASSWORD)]).await,
            "kmsi" => b.answer(home, &page, "kmsi", &[("stay", "no")]).await,
            _ => return page,
        };
    }
    page
}

/// Walks a redemption through the home tenant up to the consent page.
pub async fn redeem_via_home_to_consent(
    app: &TestApp,
    b: &mut Browser,
    invitation: &Value,
    home: &str,
    login: &str,
) -> Page {
    let start = b.get(&redeem_path(app, invitation)).await;
    assert_eq!(start.status, StatusCode::OK, "start page: {}", start.text);
    let at_home = answer_redeem(b, &app.tenant.to_string(), &start, "start", &[]).await;
    home_sign_in(b, home, at_home, login).await
}

/// Reads the newest mail to `to` from the outbox and returns its text.
pub async fn last_mail_to(app: &TestApp, to: &str) -> String {
    let mut conn = app.state.dir.store.pool().acquire().await.expect("conn");
    let mails = portico_store::outbox::list(&mut conn, Some(app.tenant), 50).await.expect("outbox");
    mails
        .into_iter()
        .find(|m| m.recipient.eq_ignore_ascii_case(to))
        .map(|m| m.body_text)
        .unwrap_or_else(|| panic!("no mail to {to}"))
}

/// The 8-digit code in a mail text.
pub fn code_in(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 8)
        .unwrap_or_else(|| panic!("no code in {text}"))
        .to_string()
}
