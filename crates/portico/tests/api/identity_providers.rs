//! `/identity/identityProviders`: the polymorphic list with the built-in email one-time passcode
//! provider, the Google and Microsoft presets, OpenID Connect providers, secrets that are never
//! returned, the domain routing rules, permissions and tenant isolation.

use portico_store::federation as fed;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Custom, Resp, TestApp, all_permissions};
use crate::{api_test, api_test_custom};

const IDPS: &str = "/v1.0/identity/identityProviders";
/// External Identity Provider Administrator.
const EXTERNAL_IDP_ADMIN: &str = "be2f45a1-457d-42af-a067-6ec1fa63bc45";

fn google(secret: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.socialIdentityProvider",
        "displayName": "Google",
        "identityProviderType": "Google",
        "clientId": "google-client.apps.googleusercontent.com",
        "clientSecret": secret,
    })
}

/// An OpenID Connect provider whose discovery document lives under `domain` (which proves it).
fn oidc(domain: &str, domains: &[&str]) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.openIdConnectIdentityProvider",
        "displayName": "Partner IdP",
        "clientId": "portico-rp",
        "clientSecret": "oidc-secret-value-123",
        "metadataUrl": format!("https://login.{domain}/.well-known/openid-configuration"),
        "domains": domains,
    })
}

fn assert_status(r: &Resp, want: StatusCode, what: &str) {
    assert_eq!(r.status, want, "{what}: {}", r.text);
    if !want.is_success() {
        assert!(!r.code().is_empty(), "{what}: no Graph error envelope: {}", r.text);
    }
}

async fn conn(app: &TestApp) -> sqlx::pool::PoolConnection<sqlx::Any> {
    app.state.dir.store.pool().acquire().await.expect("conn")
}

api_test!(the_google_preset_is_created_once_and_its_secret_is_never_returned, |app| {
    let r = app.post(IDPS, google("g-secret-do-not-show")).await;
    assert_status(&r, StatusCode::CREATED, "create Google");
    assert_eq!(r.body["id"], json!("Google-OAUTH"));
    assert_eq!(r.body["@odata.type"], json!("#microsoft.graph.socialIdentityProvider"));
    assert_eq!(r.body["identityProviderType"], json!("Google"));
    assert_eq!(r.body["clientSecret"], json!("****"));
    assert_eq!(r.body["domains"], json!(["gmail.com", "googlemail.com"]));
    assert_eq!(r.body["issuer"], json!("https://accounts.google.com"));
    assert!(
        r.headers["location"].to_str().unwrap().ends_with("/v1.0/identity/identityProviders/Google-OAUTH"),
        "{:?}",
        r.headers.get("location")
    );
    assert!(!r.text.contains("g-secret-do-not-show"));
    let again = app.post(IDPS, google("other")).await;
    assert_status(&again, StatusCode::CONFLICT, "a second Google provider");

    // The list: the built-in email one-time passcode provider, then Google.
    let list = app.get(IDPS).await;
    assert_status(&list, StatusCode::OK, "list");
    assert_eq!(TestApp::ids(&list), vec!["EmailOtpSignup-OAUTH", "Google-OAUTH"]);
    assert_eq!(list.body["value"][0]["@odata.type"], json!("#microsoft.graph.builtInIdentityProvider"));
    assert_eq!(list.body["value"][0]["identityProviderType"], json!("EmailOTP"));
    let one = app.get(&format!("{IDPS}/google-oauth")).await;
    assert_status(&one, StatusCode::OK, "get");
    for r in [&list, &one] {
        assert!(!r.text.contains("g-secret-do-not-show"), "the secret leaked: {}", r.text);
    }
    // Stored sealed, under the documented associated data.
    let mut c = conn(&app).await;
    let stored = fed::get(&mut c, app.tenant, "Google-OAUTH").await.unwrap().expect("stored");
    let sealed = stored.secret.expect("a sealed secret");
    assert!(!sealed.contains("g-secret-do-not-show"));
    let opened = app.state.dir.keys.master().open(&sealed, &format!("idp-secret:{}:Google-OAUTH", app.tenant)).unwrap();
    assert_eq!(opened, b"g-secret-do-not-show");
    assert_eq!(
        fed::provider_for_domain(&mut c, app.tenant, "gmail.com").await.unwrap().map(|p| p.id).as_deref(),
        Some("Google-OAUTH")
    );
    assert_eq!(app.audits_for("Add identity provider", "Google-OAUTH").await.len(), 1);

    // PATCH: a new secret (write-only) and client id; the type cannot change.
    let r =
        app.patch(&format!("{IDPS}/Google-OAUTH"), json!({"clientSecret": "rotated-secret", "clientId": "c2"})).await;
    assert_status(&r, StatusCode::NO_CONTENT, "rotate the secret");
    let stored = fed::get(&mut c, app.tenant, "Google-OAUTH").await.unwrap().expect("stored");
    let opened =
        app.state.dir.keys.master().open(&stored.secret.unwrap(), &format!("idp-secret:{}:Google-OAUTH", app.tenant));
    assert_eq!(opened.unwrap(), b"rotated-secret");
    let r = app
        .patch(
            &format!("{IDPS}/Google-OAUTH"),
            json!({"@odata.type": "#microsoft.graph.socialIdentityProvider", "identityProviderType": "Microsoft"}),
        )
        .await;
    assert_status(&r, StatusCode::BAD_REQUEST, "change the type");
    let audit = app.audits_for("Update identity provider", "Google-OAUTH").await;
    assert_eq!(audit.len(), 1);
    assert!(!audit[0].to_string().contains("rotated-secret"), "the audit shows the secret");

    // The Microsoft preset: its own id and Entra's issuer template.
    let r = app
        .post(
            IDPS,
            json!({"@odata.type": "microsoft.graph.socialIdentityProvider", "displayName": "Microsoft", "identityProviderType": "Microsoft", "clientId": "ms", "clientSecret": "ms-secret"}),
        )
        .await;
    assert_status(&r, StatusCode::CREATED, "create Microsoft");
    assert_eq!(r.body["id"], json!("Microsoft-OAUTH"));
    assert_eq!(r.body["issuer"], json!("https://login.microsoftonline.com/{tenantid}/v2.0"));

    let types = app.get(&format!("{IDPS}/availableProviderTypes()")).await;
    assert_status(&types, StatusCode::OK, "availableProviderTypes");
    assert_eq!(types.body["value"], json!(["Google", "Microsoft", "OpenIDConnect", "EmailOTP"]));
    assert_eq!(app.get(&format!("{IDPS}/availableProviderTypes")).await.body["value"], types.body["value"]);
});

api_test!(an_openid_connect_provider_is_created_updated_and_deleted, |app| {
    let r = app.post(IDPS, oidc("partner-oidc.test", &["partner-oidc.test"])).await;
    assert_status(&r, StatusCode::CREATED, "create");
    let id = r.body["id"].as_str().expect("id").to_string();
    assert!(id.starts_with("OIDC-"), "{id}");
    assert_eq!(r.body["@odata.type"], json!("#microsoft.graph.openIdConnectIdentityProvider"));
    assert_eq!(r.body["issuer"], json!("https://login.partner-oidc.test"));
    assert_eq!(r.body["responseType"], json!("code"));
    assert_eq!(r.body["responseMode"], json!("query"));
    assert_eq!(r.body["scope"], json!("openid email profile"));
    assert_eq!(r.body["claimsMapping"]["userId"], json!("sub"));
    assert_eq!(r.body["claimsMapping"]["email"], json!("email"));
    assert_eq!(r.body["emailVerification"], json!("claim"));
    assert_eq!(r.body["allowPrivateNetwork"], json!(false));
    assert_eq!(r.body["clientSecret"], json!("****"));
    assert!(!r.text.contains("oidc-secret-value-123"));
    // A second provider with the same issuer: 409.
    let dup = app.post(IDPS, oidc("partner-oidc.test", &[])).await;
    assert_status(&dup, StatusCode::CONFLICT, "same issuer");

    let path = format!("{IDPS}/{id}");
    let r = app
        .patch(
            &path,
            json!({
                "displayName": "Partner (Okta)", "scope": "openid email", "emailVerification": "always",
                "claimsMapping": {"userId": "uid", "email": "mail"},
                "domains": ["partner-oidc.test", "login.partner-oidc.test"], "clientSecret": null
            }),
        )
        .await;
    assert_status(&r, StatusCode::NO_CONTENT, "update");
    let got = app.get(&path).await;
    assert_eq!(got.body["displayName"], json!("Partner (Okta)"));
    assert_eq!(got.body["scope"], json!("openid email"));
    assert_eq!(got.body["emailVerification"], json!("always"));
    assert_eq!(got.body["claimsMapping"]["userId"], json!("uid"));
    assert_eq!(got.body["claimsMapping"]["surname"], json!("family_name"));
    assert_eq!(got.body["clientSecret"], Value::Null, "a public client after clientSecret: null");
    assert_eq!(got.body["domains"], json!(["login.partner-oidc.test", "partner-oidc.test"]));
    let audit = app.audits_for("Update identity provider", &id).await;
    assert_eq!(audit.len(), 1);
    let props: Vec<&str> = audit[0]["targetResources"][0]["modifiedProperties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["displayName"].as_str().unwrap())
        .collect();
    assert!(
        props.contains(&"displayName") && props.contains(&"domains") && props.contains(&"clientSecret"),
        "{props:?}"
    );

    // Delete: routes go with it.
    assert_status(&app.delete(&path).await, StatusCode::NO_CONTENT, "delete");
    assert_status(&app.get(&path).await, StatusCode::NOT_FOUND, "deleted");
    assert_status(&app.delete(&path).await, StatusCode::NOT_FOUND, "deleted twice");
    let mut c = conn(&app).await;
    assert_eq!(fed::provider_for_domain(&mut c, app.tenant, "partner-oidc.test").await.unwrap(), None);
    assert_eq!(app.audits_for("Delete identity provider", &id).await.len(), 1);
    // The built-in provider is not for changing here.
    assert_status(
        &app.delete(&format!("{IDPS}/EmailOtpSignup-OAUTH")).await,
        StatusCode::BAD_REQUEST,
        "delete built-in",
    );
});

api_test!(bad_provider_bodies_are_refused_with_graph_errors, |app| {
    let cases: Vec<(&str, Value)> = vec![
        ("no @odata.type", json!({"displayName": "x", "clientId": "c", "clientSecret": "s"})),
        ("Facebook", {
            let mut g = google("s");
            g["identityProviderType"] = json!("Facebook");
            g
        }),
        ("social without secret", {
            let mut g = google("s");
            g.as_object_mut().unwrap().remove("clientSecret");
            g
        }),
        ("oidc without metadataUrl", {
            let mut o = oidc("p.test", &[]);
            o.as_object_mut().unwrap().remove("metadataUrl");
            o
        }),
        ("http metadata", {
            let mut o = oidc("p.test", &[]);
            o["metadataUrl"] = json!("http://login.p.test/.well-known/openid-configuration");
            o
        }),
        ("relative metadata", {
            let mut o = oidc("p.test", &[]);
            o["metadataUrl"] = json!("/.well-known/openid-configuration");
            o
        }),
        ("implicit flow", {
            let mut o = oidc("p.test", &[]);
            o["responseType"] = json!("id_token");
            o
        }),
        ("form_post", {
            let mut o = oidc("p.test", &[]);
            o["responseMode"] = json!("form_post");
            o
        }),
        ("no openid scope", {
            let mut o = oidc("p.test", &[]);
            o["scope"] = json!("email profile");
            o
        }),
        ("unknown property", {
            let mut o = oidc("p.test", &[]);
            o["nope"] = json!(1);
            o
        }),
        ("bad domain", oidc("p.test", &["not a domain"])),
    ];
    for (what, body) in cases {
        let r = app.post(IDPS, body).await;
        assert_status(&r, StatusCode::BAD_REQUEST, what);
    }
    let r = app.post(IDPS, oidc("p.test", &[])).await;
    assert!(r.text.contains("\"id\""), "a valid body still works: {}", r.text);
    assert_eq!(app.get(IDPS).await.body["value"].as_array().map(Vec::len), Some(2));
});

api_test!(domain_routing_rules_are_enforced, |app| {
    let refused = |r: &Resp, want: StatusCode, what: &str, needle: &str| {
        assert_status(r, want, what);
        let m = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(m.contains(needle), "{what}: message {m:?} lacks {needle:?}");
    };
    // A consumer mail domain, except gmail.com for Google.
    refused(
        &app.post(IDPS, oidc("outlook.com", &["outlook.com"])).await,
        StatusCode::BAD_REQUEST,
        "consumer",
        "consumer",
    );
    refused(
        &app.post(IDPS, oidc("p1.test", &["gmail.com"])).await,
        StatusCode::BAD_REQUEST,
        "gmail for OIDC",
        "consumer",
    );
    // A domain of this tenant.
    refused(
        &app.post(IDPS, oidc(app.domain(), &[app.domain()])).await,
        StatusCode::BAD_REQUEST,
        "own domain",
        "this tenant",
    );
    // A domain another tenant of this deployment verified.
    app.new_tenant("Fabrikam", Some("fabrikam.test"), &all_permissions()).await;
    refused(
        &app.post(IDPS, oidc("fabrikam.test", &["fabrikam.test"])).await,
        StatusCode::BAD_REQUEST,
        "another tenant's domain",
        "another tenant",
    );
    // No proof: the endpoint is elsewhere and no TXT record names it.
    let mut body = oidc("idp-host.test", &["elsewhere-partner.test"]);
    body["metadataUrl"] = json!("https://idp-host.test/.well-known/openid-configuration");
    refused(
        &app.post(IDPS, body).await,
        StatusCode::BAD_REQUEST,
        "unproven",
        "DirectFedAuthUrl=https://idp-host.test/",
    );
    // Routed to another provider of the tenant: 409.
    let r = app.post(IDPS, oidc("routed.test", &["routed.test"])).await;
    assert_status(&r, StatusCode::CREATED, "first route");
    let mut second = oidc("routed.test", &["routed.test"]);
    second["metadataUrl"] = json!("https://other.routed.test/.well-known/openid-configuration");
    refused(&app.post(IDPS, second).await, StatusCode::CONFLICT, "duplicate route", "already federated");
    // The Google preset always routes gmail.com and may not take another consumer domain.
    let mut g = google("s");
    g["domains"] = json!(["hotmail.com"]);
    refused(&app.post(IDPS, g).await, StatusCode::BAD_REQUEST, "hotmail for Google", "consumer");
    assert_status(&app.post(IDPS, google("s")).await, StatusCode::CREATED, "Google");
});

api_test_custom!(
    unproven_domains_pass_only_with_the_danger_setting,
    Custom::settings(|s| s.danger_accept_unverified_domains = true),
    |app| {
        let mut body = oidc("idp-host.test", &["elsewhere-partner.test"]);
        body["metadataUrl"] = json!("https://idp-host.test/.well-known/openid-configuration");
        let r = app.post(IDPS, body).await;
        assert_status(&r, StatusCode::CREATED, "danger_accept_unverified_domains");
        assert_eq!(r.body["domains"], json!(["elsewhere-partner.test"]));
        // The other rules still hold.
        let r = app.post(IDPS, oidc("outlook.com", &["outlook.com"])).await;
        assert_status(&r, StatusCode::BAD_REQUEST, "consumer domain with the danger setting");
    }
);

api_test!(permissions_and_roles_gate_identity_providers, |app| {
    let reader = app.token_with(app.tenant, &["IdentityProvider.Read.All".to_string()]).await;
    let policy_admin = app.token_with(app.tenant, &["Policy.ReadWrite.Authorization".to_string()]).await;
    let writer = app.token_with(app.tenant, &["IdentityProvider.ReadWrite.All".to_string()]).await;
    assert_status(&app.get_as(&reader, IDPS).await, StatusCode::OK, "reader lists");
    assert_status(&app.post_as(&reader, IDPS, google("s")).await, StatusCode::FORBIDDEN, "reader creates");
    assert_status(&app.get_as(&policy_admin, IDPS).await, StatusCode::FORBIDDEN, "policy permission lists");
    assert_status(&app.post_as(&writer, IDPS, google("s")).await, StatusCode::CREATED, "writer creates");
    assert_status(
        &app.patch_as(&reader, &format!("{IDPS}/Google-OAUTH"), json!({"displayName": "x"})).await,
        StatusCode::FORBIDDEN,
        "reader patches",
    );
    assert_status(
        &app.delete_as(&reader, &format!("{IDPS}/Google-OAUTH")).await,
        StatusCode::FORBIDDEN,
        "reader deletes",
    );
    // Delegated: the External Identity Provider Administrator may; a member with the scope only may not.
    let admin = app.create_user("idpadmin", "IdP Admin").await;
    let member = app.create_user("idpmember", "IdP Member").await;
    let scope = "IdentityProvider.ReadWrite.All";
    let t_admin = app.delegated_token(&admin, scope, &[EXTERNAL_IDP_ADMIN]).await;
    let t_member = app.delegated_token(&member, scope, &[]).await;
    assert_status(
        &app.post_as(&t_member, IDPS, oidc("member.test", &[])).await,
        StatusCode::FORBIDDEN,
        "member creates",
    );
    assert_status(&app.get_as(&t_member, IDPS).await, StatusCode::FORBIDDEN, "member lists");
    assert_status(&app.post_as(&t_admin, IDPS, oidc("admin.test", &[])).await, StatusCode::CREATED, "role creates");
    assert_status(
        &app.patch_as(&t_admin, &format!("{IDPS}/Google-OAUTH"), json!({"displayName": "G"})).await,
        StatusCode::NO_CONTENT,
        "role updates",
    );
});

api_test!(another_tenants_providers_are_invisible, |app| {
    let (tb, tok_b) = app.new_tenant("Fabrikam", Some("fabrikam.test"), &all_permissions()).await;
    let r = app.post_as(&tok_b, IDPS, google("b-secret")).await;
    assert_status(&r, StatusCode::CREATED, "B's Google");
    let r = app.post_as(&tok_b, IDPS, oidc("b-partner.test", &["b-partner.test"])).await;
    assert_status(&r, StatusCode::CREATED, "B's OIDC");
    let b_oidc = r.body["id"].as_str().unwrap().to_string();
    for id in ["Google-OAUTH", b_oidc.as_str()] {
        assert_status(&app.get(&format!("{IDPS}/{id}")).await, StatusCode::NOT_FOUND, "A reads B's");
        assert_status(
            &app.patch(&format!("{IDPS}/{id}"), json!({"displayName": "x"})).await,
            StatusCode::NOT_FOUND,
            "A patches B's",
        );
        assert_status(&app.delete(&format!("{IDPS}/{id}")).await, StatusCode::NOT_FOUND, "A deletes B's");
    }
    let list = app.get(IDPS).await;
    assert_eq!(TestApp::ids(&list), vec!["EmailOtpSignup-OAUTH"]);
    // A may have its own Google provider and route the same partner domain to its own provider.
    assert_status(&app.post(IDPS, google("a-secret")).await, StatusCode::CREATED, "A's Google");
    assert_status(&app.post(IDPS, oidc("b-partner.test", &["b-partner.test"])).await, StatusCode::CREATED, "A's OIDC");
    let b_list = app.get_as(&tok_b, IDPS).await;
    assert_eq!(b_list.body["value"].as_array().map(Vec::len), Some(3), "{}", b_list.text);
    let mut c = conn(&app).await;
    let b_google = fed::get(&mut c, tb, "Google-OAUTH").await.unwrap().expect("B's Google");
    let opened = app.state.dir.keys.master().open(&b_google.secret.unwrap(), &format!("idp-secret:{tb}:Google-OAUTH"));
    assert_eq!(opened.unwrap(), b"b-secret");
});

api_test!(the_built_in_passcode_provider_follows_the_email_method_policy, |app| {
    let email = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email";
    assert_status(&app.get(&format!("{IDPS}/EmailOtpSignup-OAUTH")).await, StatusCode::OK, "enabled by default");
    let r = app.patch(email, json!({"allowExternalIdToUseEmailOtp": "disabled"})).await;
    assert_status(&r, StatusCode::NO_CONTENT, "disable email OTP");
    assert_eq!(TestApp::ids(&app.get(IDPS).await), Vec::<String>::new());
    assert_status(&app.get(&format!("{IDPS}/EmailOtpSignup-OAUTH")).await, StatusCode::NOT_FOUND, "disabled");
});
