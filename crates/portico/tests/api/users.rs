//! Tests of the Graph-shaped API: users.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::common::{TestApp, path_of, urlencode};

const PASSWORD: &str = "correct horse battery staple";

/// A full create body for `alias@contoso.test`.
fn new_user(alias: &str, name: &str) -> Value {
    json!({
        "accountEnabled": true,
        "displayName": name,
        "mailNickname": alias,
        "userPrincipalName": format!("{alias}@contoso.test"),
        "passwordProfile": {"password": PASSWORD, "forceChangePasswordNextSignIn": false}
    })
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// The ids a filtered list answers (the query is URL-encoded here).
async fn filtered(app: &TestApp, filter: &str) -> BTreeSet<String> {
    let r = app.get(&format!("/v1.0/users?$filter={}", urlencode(filter))).await;
    assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.text);
    TestApp::ids(&r).into_iter().collect()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

// ---- create ----

api_test!(create_answers_201_with_the_new_user_and_its_user_principal_name_identity, |app| {
    let mut body = new_user("alice", "Alice Adams");
    body["givenName"] = json!("Alice");
    body["surname"] = json!("Adams");
    body["mail"] = json!("alice@contoso.test");
    body["jobTitle"] = json!("Engineer");
    body["otherMails"] = json!(["alice@fabrikam.test"]);
    let r = app.post("/v1.0/users", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let u = &r.body;
    assert!(u["@odata.context"].as_str().unwrap().ends_with("/v1.0/$metadata#users/$entity"), "{}", r.text);
    assert!(uuid::Uuid::parse_str(u["id"].as_str().unwrap()).is_ok(), "id is a GUID: {}", r.text);
    assert_eq!(u["userPrincipalName"], json!("alice@contoso.test"));
    assert_eq!(u["displayName"], json!("Alice Adams"));
    assert_eq!(u["givenName"], json!("Alice"));
    assert_eq!(u["surname"], json!("Adams"));
    assert_eq!(u["mail"], json!("alice@contoso.test"));
    assert_eq!(u["mailNickname"], json!("alice"));
    assert_eq!(u["jobTitle"], json!("Engineer"));
    assert_eq!(u["otherMails"], json!(["alice@fabrikam.test"]));
    assert_eq!(u["accountEnabled"], json!(true));
    assert_eq!(u["userType"], json!("Member"));
    assert_eq!(u["creationType"], Value::Null);
    assert!(u["createdDateTime"].as_str().is_some_and(|s| s.ends_with('Z')), "{}", r.text);
    assert_eq!(u["deletedDateTime"], Value::Null);
    let ids = u["identities"].as_array().expect("identities");
    let upn_identity =
        ids.iter().find(|i| i["signInType"] == json!("userPrincipalName")).expect("a userPrincipalName identity");
    assert_eq!(upn_identity["issuerAssignedId"], json!("alice@contoso.test"));
    assert_eq!(
        upn_identity["issuer"],
        json!("contoso.portico.localhost"),
        "the UPN identity is issued by the initial domain: {}",
        r.text
    );
    // The password is never echoed.
    assert!(!r.text.contains(PASSWORD), "the password leaked: {}", r.text);
    assert_eq!(u["passwordProfile"], Value::Null);
    // And it is there to read back.
    let g = app.get(&format!("/v1.0/users/{}", id_of(u))).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    assert_eq!(g.body["displayName"], json!("Alice Adams"));
});

api_test!(create_keeps_extra_identities_and_adds_the_user_principal_name_identity, |app| {
    let mut body = new_user("ivy", "Ivy");
    body["identities"] =
        json!([{"signInType": "emailAddress", "issuer": "fabrikam.test", "issuerAssignedId": "ivy@fabrikam.test"}]);
    let r = app.post("/v1.0/users", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let ids = r.body["identities"].as_array().unwrap();
    assert_eq!(ids.len(), 2, "{}", r.text);
    assert!(
        ids.iter()
            .any(|i| i["signInType"] == json!("emailAddress") && i["issuerAssignedId"] == json!("ivy@fabrikam.test"))
    );
    assert!(
        ids.iter().any(
            |i| i["signInType"] == json!("userPrincipalName") && i["issuerAssignedId"] == json!("ivy@contoso.test")
        )
    );
});

api_test!(create_requires_each_required_property, |app| {
    for missing in ["accountEnabled", "displayName", "mailNickname", "passwordProfile", "userPrincipalName"] {
        let mut body = new_user("req", "Required");
        body.as_object_mut().unwrap().remove(missing);
        let r = app.post("/v1.0/users", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "without {missing}: {}", r.text);
        assert_eq!(r.code(), "Request_BadRequest");
        assert!(r.body["error"]["message"].as_str().unwrap().contains(missing), "without {missing}: {}", r.text);
    }
    let mut body = new_user("req", "Required");
    body["passwordProfile"] = json!({"forceChangePasswordNextSignIn": true});
    let r = app.post("/v1.0/users", body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("passwordProfile.password"), "{}", r.text);
    // Nothing was created along the way.
    assert!(filtered(&app, "startsWith(displayName,'Required')").await.is_empty());
});

api_test!(display_names_are_limited_to_256_characters_not_bytes, |app| {
    // 200 characters, 600 bytes of UTF-8.
    let long_cjk = "名".repeat(200);
    let mut body = new_user("cjk", &long_cjk);
    body["givenName"] = json!("名".repeat(256));
    let r = app.post("/v1.0/users", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["displayName"], json!(long_cjk));
    let r = app.patch(&format!("/v1.0/users/{}", id_of(&r.body)), json!({"displayName": "é".repeat(256)})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app.post("/v1.0/users", new_user("toolong", &"x".repeat(257))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app.post("/v1.0/users", new_user("toolong", &"名".repeat(257))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
});

api_test!(create_refuses_ill_typed_values, |app| {
    for (prop, value) in [
        ("accountEnabled", json!("yes")),
        ("displayName", json!(5)),
        ("otherMails", json!("a@b.test")),
        ("mail", json!("not-an-address")),
    ] {
        let mut body = new_user("typed", "Typed");
        body[prop] = value;
        let r = app.post("/v1.0/users", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{prop}: {}", r.text);
        assert!(r.text.contains(prop), "{prop}: {}", r.text);
    }
});

api_test!(create_without_a_body_of_json_is_refused, |app| {
    let r = app
        .raw(
            app.http
                .post(format!("{}/v1.0/users", app.base))
                .bearer_auth(&app.token)
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app
        .raw(
            app.http
                .post(format!("{}/v1.0/users", app.base))
                .bearer_auth(&app.token)
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.text);
});

api_test!(duplicate_user_principal_name_is_refused_with_graphs_message, |app| {
    app.create_user("dup", "First").await;
    for upn in ["dup@contoso.test", "DUP@Contoso.Test"] {
        let mut body = new_user("dup2", "Second");
        body["userPrincipalName"] = json!(upn);
        let r = app.post("/v1.0/users", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{upn}: {}", r.text);
        assert_eq!(r.code(), "Request_BadRequest");
        assert_eq!(
            r.body["error"]["message"],
            json!("Another object with the same value for property userPrincipalName already exists.")
        );
    }
    // PATCHing another user onto the taken name fails the same way.
    let other = app.create_user("other", "Other").await;
    let r =
        app.patch(&format!("/v1.0/users/{}", id_of(&other)), json!({"userPrincipalName": "dup@contoso.test"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(
        r.body["error"]["message"],
        json!("Another object with the same value for property userPrincipalName already exists.")
    );
    assert_eq!(filtered(&app, "startsWith(displayName,'Second')").await.len(), 0);
});

api_test!(user_principal_name_on_an_unverified_or_foreign_domain_is_refused, |app| {
    let d = app.post("/v1.0/domains", json!({"id": "unverified.test"})).await;
    assert_eq!(d.status, StatusCode::CREATED, "{}", d.text);
    // A domain verified by another tenant is still foreign here.
    app.new_tenant("Fabrikam", Some("fabrikam.test"), &[]).await;
    for upn in ["eve@unverified.test", "eve@fabrikam.test", "eve@nowhere.test"] {
        let mut body = new_user("eve", "Eve");
        body["userPrincipalName"] = json!(upn);
        let r = app.post("/v1.0/users", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{upn}: {}", r.text);
        assert!(r.text.contains("verified domain"), "{upn}: {}", r.text);
    }
    let mut body = new_user("eve", "Eve");
    body["userPrincipalName"] = json!("no-at-sign");
    let r = app.post("/v1.0/users", body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("userPrincipalName"), "{}", r.text);
    // Renaming onto a foreign domain fails too, and leaves the user as it was.
    let u = app.create_user("frank", "Frank").await;
    let r =
        app.patch(&format!("/v1.0/users/{}", id_of(&u)), json!({"userPrincipalName": "frank@unverified.test"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let g = app.get(&format!("/v1.0/users/{}", id_of(&u))).await;
    assert_eq!(g.body["userPrincipalName"], json!("frank@contoso.test"));
});

api_test!(password_shorter_than_eight_characters_is_refused, |app| {
    let mut body = new_user("short", "Short Password");
    body["passwordProfile"] = json!({"password": "1234567", "forceChangePasswordNextSignIn": false});
    let r = app.post("/v1.0/users", body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "Request_BadRequest");
    assert!(r.text.contains("password complexity"), "{}", r.text);
    assert!(filtered(&app, "startsWith(displayName,'Short')").await.is_empty());
    // Eight is enough, unless it is one of the most common passwords.
    let mut body = new_user("short", "Short Password");
    body["passwordProfile"] = json!({"password": "12345678"});
    let r = app.post("/v1.0/users", body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("common"), "{}", r.text);
    let mut body = new_user("short", "Short Password");
    body["passwordProfile"] = json!({"password": "tulip-92x"});
    assert_eq!(app.post("/v1.0/users", body).await.status, StatusCode::CREATED);
});

api_test!(unknown_property_is_refused_with_graphs_message, |app| {
    let mut body = new_user("unk", "Unknown");
    body["favouriteColour"] = json!("teal");
    let r = app.post("/v1.0/users", body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "Request_BadRequest");
    assert_eq!(
        r.body["error"]["message"],
        json!("Property 'favouriteColour' does not exist on type 'microsoft.graph.user'.")
    );
    let u = app.create_user("known", "Known").await;
    let r = app.patch(&format!("/v1.0/users/{}", id_of(&u)), json!({"x": 1})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.body["error"]["message"], json!("Property 'x' does not exist on type 'microsoft.graph.user'."));
});

api_test!(read_only_properties_are_refused_on_create_and_update, |app| {
    for (prop, value) in [
        ("createdDateTime", json!("2020-01-01T00:00:00Z")),
        ("creationType", json!("Invitation")),
        ("id", json!("00000000-0000-0000-0000-000000000001")),
    ] {
        let mut body = new_user("ro", "Read Only");
        body[prop] = value.clone();
        let r = app.post("/v1.0/users", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{prop}: {}", r.text);
        assert_eq!(r.code(), "Request_BadRequest");
        assert_eq!(r.body["error"]["message"], json!(format!("Property '{prop}' is read-only and cannot be set.")));
    }
    let u = app.create_user("ro", "Read Only").await;
    let r = app.patch(&format!("/v1.0/users/{}", id_of(&u)), json!({"creationType": "Invitation"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("read-only"), "{}", r.text);
    let g = app.get(&format!("/v1.0/users/{}?$select=creationType", id_of(&u))).await;
    assert_eq!(g.body["creationType"], Value::Null);
});

api_test!(properties_portico_does_not_keep_yet_answer_501_not_supported, |app| {
    let mut body = new_user("np", "Not Yet");
    body["mobilePhone"] = json!("+1 555 0100");
    let r = app.post("/v1.0/users", body).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{}", r.text);
    assert_eq!(r.code(), "notSupported");
    assert!(r.text.contains("mobilePhone"), "{}", r.text);
    let u = app.create_user("np", "Not Yet").await;
    for (prop, value) in [
        ("mobilePhone", json!("+1 555 0100")),
        ("businessPhones", json!(["+1 555 0101"])),
        ("officeLocation", json!("B1")),
    ] {
        let r = app.patch(&format!("/v1.0/users/{}", id_of(&u)), json!({ prop: value })).await;
        assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{prop}: {}", r.text);
        assert_eq!(r.code(), "notSupported");
    }
});

// ---- read ----

api_test!(get_without_select_answers_the_default_property_set, |app| {
    let u = app.create_user("dflt", "Default Set").await;
    let r = app.get(&format!("/v1.0/users/{}", id_of(&u))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let keys: BTreeSet<&str> = r.body.as_object().unwrap().keys().map(String::as_str).collect();
    let expected: BTreeSet<&str> = [
        "@odata.context",
        "businessPhones",
        "displayName",
        "givenName",
        "jobTitle",
        "mail",
        "mobilePhone",
        "officeLocation",
        "preferredLanguage",
        "surname",
        "userPrincipalName",
        "id",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, expected, "{}", r.text);
    assert!(r.body["@odata.context"].as_str().unwrap().ends_with("/v1.0/$metadata#users/$entity"));
    // The list uses the same default set.
    let l = app.get("/v1.0/users").await;
    let item = l.body["value"].as_array().unwrap().iter().find(|v| v["id"] == u["id"]).cloned().expect("listed");
    assert!(item.get("accountEnabled").is_none() && item.get("userType").is_none(), "{}", l.text);
    assert_eq!(item["displayName"], json!("Default Set"));
});

api_test!(get_with_select_answers_exactly_the_selected_properties, |app| {
    let u = app.create_user("sel", "Selected").await;
    let r = app.get(&format!("/v1.0/users/{}?$select=accountEnabled,userType,identities", id_of(&u))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let keys: BTreeSet<&str> = r.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["@odata.context", "accountEnabled", "identities", "userType"].into_iter().collect(),
        "{}",
        r.text
    );
    assert_eq!(r.body["accountEnabled"], json!(true));
    assert_eq!(r.body["userType"], json!("Member"));
    assert!(
        r.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/v1.0/$metadata#users(accountEnabled,userType,identities)/$entity"),
        "{}",
        r.text
    );
    // Lists honour $select too.
    let l = app.get("/v1.0/users?$select=id,userType").await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.text);
    assert_eq!(l.body["value"][0].as_object().unwrap().len(), 2, "{}", l.text);
    assert!(l.body["@odata.context"].as_str().unwrap().ends_with("#users(id,userType)"));
    // An unknown property cannot be selected; a single read takes $select only.
    assert_eq!(app.get(&format!("/v1.0/users/{}?$select=nope", id_of(&u))).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.get(&format!("/v1.0/users/{}?$top=1", id_of(&u))).await.status, StatusCode::BAD_REQUEST);
});

api_test!(a_user_is_found_by_id_and_by_url_encoded_user_principal_name, |app| {
    let u = app.create_user("grace", "Grace Hopper").await;
    let id = id_of(&u);
    for key in
        [id.clone(), urlencode("grace@contoso.test"), urlencode("GRACE@Contoso.test"), "grace@contoso.test".to_string()]
    {
        let r = app.get(&format!("/v1.0/users/{key}")).await;
        assert_eq!(r.status, StatusCode::OK, "{key}: {}", r.text);
        assert_eq!(r.body["id"], json!(id), "{key}");
    }
    // A guest-style UPN with '#' must be encoded, or the client would cut it at the fragment.
    let mut body = new_user("hash", "Hash Mark");
    body["userPrincipalName"] = json!("hash_fabrikam.test#EXT#@contoso.test");
    let c = app.post("/v1.0/users", body).await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
    let r = app.get(&format!("/v1.0/users/{}", urlencode("hash_fabrikam.test#EXT#@contoso.test"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], c.body["id"]);
    assert_eq!(r.body["userPrincipalName"], json!("hash_fabrikam.test#EXT#@contoso.test"));
    // PATCH and DELETE take the UPN too.
    let p = app
        .patch(
            &format!("/v1.0/users/{}", urlencode("hash_fabrikam.test#EXT#@contoso.test")),
            json!({"jobTitle": "Marker"}),
        )
        .await;
    assert_eq!(p.status, StatusCode::NO_CONTENT, "{}", p.text);
    assert_eq!(app.get(&format!("/v1.0/users/{}", id_of(&c.body))).await.body["jobTitle"], json!("Marker"));
    // Unknown keys are 404 in Graph's shape.
    for key in [urlencode("nobody@contoso.test"), uuid::Uuid::new_v4().to_string()] {
        let r = app.get(&format!("/v1.0/users/{key}")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{key}: {}", r.text);
        assert_eq!(r.code(), "Request_ResourceNotFound");
        assert!(r.body["error"]["innerError"]["request-id"].is_string(), "{}", r.text);
    }
});

api_test!(users_of_another_tenant_are_invisible, |app| {
    let u = app.create_user("mine", "Mine").await;
    let (_, other) = app.new_tenant("Fabrikam", Some("fabrikam.test"), &crate::common::all_permissions()).await;
    let r = app.get_as(&other, &format!("/v1.0/users/{}", id_of(&u))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = app.get_as(&other, "/v1.0/users").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!TestApp::ids(&r).contains(&id_of(&u)));
    let r = app.patch_as(&other, &format!("/v1.0/users/{}", id_of(&u)), json!({"jobTitle": "x"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = app.delete_as(&other, &format!("/v1.0/users/{}", id_of(&u))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(app.get(&format!("/v1.0/users/{}", id_of(&u))).await.status, StatusCode::OK);
});

api_test!(reading_and_writing_users_needs_the_matching_permission, |app| {
    let u = app.create_user("perm", "Perm").await;
    let reader = app.token_with(app.tenant, &["User.Read.All".to_string()]).await;
    assert_eq!(app.get_as(&reader, &format!("/v1.0/users/{}", id_of(&u))).await.status, StatusCode::OK);
    let r = app.post_as(&reader, "/v1.0/users", new_user("nope", "Nope")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.code(), "Authorization_RequestDenied");
    let r = app.patch_as(&reader, &format!("/v1.0/users/{}", id_of(&u)), json!({"jobTitle": "x"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let nobody = app.token_with(app.tenant, &[]).await;
    assert_eq!(app.get_as(&nobody, "/v1.0/users").await.status, StatusCode::FORBIDDEN);
    let r = app.raw(app.http.get(format!("{}/v1.0/users", app.base))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
});

// ---- update ----

api_test!(patch_answers_204_and_every_writable_property_round_trips, |app| {
    let u = app.create_user("round", "Round Trip").await;
    let id = id_of(&u);
    let changes = json!({
        "displayName": "Round Tripped",
        "givenName": "Round",
        "surname": "Tripped",
        "mail": "rt@contoso.test",
        "mailNickname": "rt",
        "otherMails": ["rt@fabrikam.test", "rt@example.test"],
        "jobTitle": "Tester",
        "companyName": "Contoso",
        "department": "QA",
        "preferredLanguage": "en-GB",
        "accountEnabled": false,
        "userPrincipalName": "rt@contoso.test"
    });
    let r = app.patch(&format!("/v1.0/users/{id}"), changes.clone()).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(r.text.is_empty(), "204 has no body: {}", r.text);
    let names: Vec<&str> = changes.as_object().unwrap().keys().map(String::as_str).collect();
    let g = app.get(&format!("/v1.0/users/{id}?$select={},identities", names.join(","))).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    for (k, v) in changes.as_object().unwrap() {
        assert_eq!(&g.body[k], v, "{k} after PATCH: {}", g.text);
    }
    // The UPN identity follows the new UPN.
    let ids = g.body["identities"].as_array().unwrap();
    let upn_ids: Vec<&Value> = ids.iter().filter(|i| i["signInType"] == json!("userPrincipalName")).collect();
    assert_eq!(upn_ids.len(), 1, "{}", g.text);
    assert_eq!(upn_ids[0]["issuerAssignedId"], json!("rt@contoso.test"));
    // The old UPN no longer finds the user; the new one does.
    assert_eq!(app.get("/v1.0/users/round@contoso.test").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/v1.0/users/rt@contoso.test").await.body["id"], json!(id));
    // Nullable strings can be cleared with null.
    let r = app.patch(&format!("/v1.0/users/{id}"), json!({"jobTitle": null, "mail": null, "givenName": null})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let g = app.get(&format!("/v1.0/users/{id}?$select=jobTitle,mail,givenName,surname")).await;
    assert_eq!(g.body["jobTitle"], Value::Null);
    assert_eq!(g.body["mail"], Value::Null);
    assert_eq!(g.body["givenName"], Value::Null);
    assert_eq!(g.body["surname"], json!("Tripped"), "untouched properties stay");
});

api_test!(patch_refuses_invalid_values_and_changes_nothing, |app| {
    let u = app.create_user("inv", "Invalid").await;
    let id = id_of(&u);
    for body in [
        json!({"displayName": "   "}),
        json!({"displayName": null}),
        json!({"mail": "not an address"}),
        json!({"preferredLanguage": "en_GB!"}),
        json!({"mailNickname": "has space"}),
        json!({"accountEnabled": "false"}),
        json!({"displayName": "x".repeat(257)}),
    ] {
        let r = app.patch(&format!("/v1.0/users/{id}"), body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert_eq!(r.code(), "Request_BadRequest", "{body}");
    }
    let g = app
        .get(&format!("/v1.0/users/{id}?$select=displayName,mail,preferredLanguage,mailNickname,accountEnabled"))
        .await;
    assert_eq!(g.body["displayName"], json!("Invalid"));
    assert_eq!(g.body["mail"], json!("inv@contoso.test"));
    assert_eq!(g.body["mailNickname"], json!("inv"));
    assert_eq!(g.body["accountEnabled"], json!(true));
    let r = app.patch(&format!("/v1.0/users/{}", uuid::Uuid::new_v4()), json!({"jobTitle": "x"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
});

api_test!(user_type_is_canonicalised_and_must_be_member_or_guest, |app| {
    let u = app.create_user("ut", "User Type").await;
    let id = id_of(&u);
    for (sent, stored) in [("guest", "Guest"), ("MEMBER", "Member"), ("GuEsT", "Guest")] {
        let r = app.patch(&format!("/v1.0/users/{id}"), json!({"userType": sent})).await;
        assert_eq!(r.status, StatusCode::NO_CONTENT, "{sent}: {}", r.text);
        assert_eq!(
            app.get(&format!("/v1.0/users/{id}?$select=userType")).await.body["userType"],
            json!(stored),
            "{sent}"
        );
    }
    for bad in [json!("Robot"), json!(null), json!("")] {
        let r = app.patch(&format!("/v1.0/users/{id}"), json!({"userType": bad})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }
    assert_eq!(app.get(&format!("/v1.0/users/{id}?$select=userType")).await.body["userType"], json!("Guest"));
    // On create too.
    let mut body = new_user("ut2", "User Type 2");
    body["userType"] = json!("guest");
    let c = app.post("/v1.0/users", body).await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
    assert_eq!(c.body["userType"], json!("Guest"));
});

api_test!(other_mails_are_replaced_in_order_validated_and_cleared, |app| {
    let u = app.create_user("om", "Other Mails").await;
    let id = id_of(&u);
    let r =
        app.patch(&format!("/v1.0/users/{id}"), json!({"otherMails": ["b@fabrikam.test", "a@fabrikam.test"]})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        app.get(&format!("/v1.0/users/{id}?$select=otherMails")).await.body["otherMails"],
        json!(["b@fabrikam.test", "a@fabrikam.test"])
    );
    let r = app.patch(&format!("/v1.0/users/{id}"), json!({"otherMails": ["c@fabrikam.test"]})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        app.get(&format!("/v1.0/users/{id}?$select=otherMails")).await.body["otherMails"],
        json!(["c@fabrikam.test"])
    );
    let r = app.patch(&format!("/v1.0/users/{id}"), json!({"otherMails": ["fine@fabrikam.test", "not-a-mail"]})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("otherMails"), "{}", r.text);
    assert_eq!(
        app.get(&format!("/v1.0/users/{id}?$select=otherMails")).await.body["otherMails"],
        json!(["c@fabrikam.test"])
    );
    let r = app.patch(&format!("/v1.0/users/{id}"), json!({"otherMails": []})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get(&format!("/v1.0/users/{id}?$select=otherMails")).await.body["otherMails"], json!([]));
});

api_test!(password_change_is_audited_with_a_redacted_value, |app| {
    let u = app.create_user("pw", "Password").await;
    let id = id_of(&u);
    let secret = "a brand new passphrase";
    let r = app
        .patch(
            &format!("/v1.0/users/{id}"),
            json!({"passwordProfile": {"password": secret, "forceChangePasswordNextSignIn": true}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let audits = app.audits_for("Update user", &id).await;
    assert_eq!(audits.len(), 1, "{audits:?}");
    let props = audits[0]["targetResources"][0]["modifiedProperties"].as_array().unwrap().clone();
    let pw = props
        .iter()
        .find(|p| p["displayName"] == json!("PasswordProfile"))
        .unwrap_or_else(|| panic!("no PasswordProfile change: {props:?}"));
    assert_eq!(pw["newValue"], json!("\"[redacted]\""));
    let all = serde_json::to_string(&audits).unwrap();
    assert!(!all.contains(secret), "the password reached the audit log: {all}");
    // A too-short new password is refused and not audited.
    let r = app.patch(&format!("/v1.0/users/{id}"), json!({"passwordProfile": {"password": "short"}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(app.audits_for("Update user", &id).await.len(), 1);
});

api_test!(a_password_profile_that_cannot_be_applied_is_refused, |app| {
    let u = app.create_user("pp", "Password Profile").await;
    let path = format!("/v1.0/users/{}", id_of(&u));
    for (profile, status) in [
        (json!({"password": 12345678}), StatusCode::BAD_REQUEST),
        (json!({"passwrd": "a long enough password"}), StatusCode::BAD_REQUEST),
        (json!({"forceChangePasswordNextSignIn": "yes"}), StatusCode::BAD_REQUEST),
        (
            json!({"password": "a long enough password", "forceChangePasswordNextSignInWithMfa": true}),
            StatusCode::NOT_IMPLEMENTED,
        ),
    ] {
        let r = app.patch(&path, json!({"passwordProfile": profile})).await;
        assert_eq!(r.status, status, "{profile}: {}", r.text);
        let mut body = new_user("pp2", "Password Profile 2");
        body["passwordProfile"] = profile.clone();
        let r = app.post("/v1.0/users", body).await;
        assert_eq!(r.status, status, "create with {profile}: {}", r.text);
    }
    let r = app.patch(&path, json!({"passwordProfile": {"passwrd": "x"}})).await;
    assert_eq!(
        r.body["error"]["message"],
        json!("Property 'passwrd' does not exist on type 'microsoft.graph.passwordProfile'.")
    );
    assert!(app.audits_for("Update user", &id_of(&u)).await.is_empty(), "nothing was changed");
    assert!(filtered(&app, "startsWith(displayName,'Password Profile 2')").await.is_empty());
});

api_test!(patch_is_audited_with_old_and_new_values, |app| {
    let u = app.create_user("aud", "Audited").await;
    let id = id_of(&u);
    let r =
        app.patch(&format!("/v1.0/users/{id}"), json!({"jobTitle": "Auditor", "displayName": "Audited Twice"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let audits = app.audits_for("Update user", &id).await;
    assert_eq!(audits.len(), 1, "{audits:?}");
    let props = audits[0]["targetResources"][0]["modifiedProperties"].as_array().unwrap().clone();
    let dn = props.iter().find(|p| p["displayName"] == json!("displayName")).expect("displayName change");
    assert_eq!(dn["oldValue"], json!("\"Audited\""));
    assert_eq!(dn["newValue"], json!("\"Audited Twice\""));
    let jt = props.iter().find(|p| p["displayName"] == json!("jobTitle")).expect("jobTitle change");
    assert_eq!(jt["oldValue"], json!("null"));
    assert!(
        props.iter().all(|p| p["displayName"] != json!("surname")),
        "unchanged properties are not listed: {props:?}"
    );
});

// ---- delete, deleted items, restore ----

api_test!(deleted_user_moves_to_deleted_items_and_can_be_restored, |app| {
    let u = app.create_user("del", "Deleted Person").await;
    let id = id_of(&u);
    let r = app.delete(&format!("/v1.0/users/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let g = app.get(&format!("/v1.0/users/{id}")).await;
    assert_eq!(g.status, StatusCode::NOT_FOUND, "{}", g.text);
    assert_eq!(g.code(), "Request_ResourceNotFound");
    assert_eq!(app.get("/v1.0/users/del@contoso.test").await.status, StatusCode::NOT_FOUND);
    assert!(!TestApp::ids(&app.get("/v1.0/users").await).contains(&id));
    assert_eq!(
        app.delete(&format!("/v1.0/users/{id}")).await.status,
        StatusCode::NOT_FOUND,
        "a second delete finds nothing"
    );

    let d = app.get("/v1.0/directory/deletedItems/microsoft.graph.user").await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let item = d.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == json!(id))
        .cloned()
        .unwrap_or_else(|| panic!("not in deleted items: {}", d.text));
    assert_eq!(item["@odata.type"], json!("#microsoft.graph.user"));
    assert!(item["deletedDateTime"].is_string(), "{item}");
    assert_eq!(item["userPrincipalName"], json!("del@contoso.test"));
    let one = app.get(&format!("/v1.0/directory/deletedItems/{id}")).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(one.body["@odata.type"], json!("#microsoft.graph.user"));
    assert_eq!(app.audits_for("Delete user", &id).await.len(), 1);

    let r = app.post(&format!("/v1.0/directory/deletedItems/{id}/restore"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["id"], json!(id));
    assert_eq!(r.body["deletedDateTime"], Value::Null);
    let g = app.get(&format!("/v1.0/users/{id}?$select=displayName,deletedDateTime,userPrincipalName")).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    assert_eq!(g.body["displayName"], json!("Deleted Person"));
    assert_eq!(g.body["deletedDateTime"], Value::Null);
    assert!(TestApp::ids(&app.get("/v1.0/users").await).contains(&id));
    let d = app.get("/v1.0/directory/deletedItems/microsoft.graph.user").await;
    assert!(!TestApp::ids(&d).contains(&id), "{}", d.text);
    assert_eq!(app.get(&format!("/v1.0/directory/deletedItems/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.audits_for("Restore user", &id).await.len(), 1);
});

api_test!(a_deleted_user_keeps_its_group_memberships_when_restored, |app| {
    let u = app.create_user("keep", "Keeper").await;
    let g = app.create_group("Keepers").await;
    let r = app
        .post(
            &format!("/v1.0/groups/{}/members/$ref", id_of(&g)),
            json!({"@odata.id": format!("{}/v1.0/directoryObjects/{}", app.base, id_of(&u))}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.delete(&format!("/v1.0/users/{}", id_of(&u))).await.status, StatusCode::NO_CONTENT);
    let m = app.get(&format!("/v1.0/groups/{}/members", id_of(&g))).await;
    assert!(TestApp::ids(&m).is_empty(), "a deleted user is not listed as a member: {}", m.text);
    assert_eq!(
        app.post(&format!("/v1.0/directory/deletedItems/{}/restore", id_of(&u)), json!({})).await.status,
        StatusCode::OK
    );
    let m = app.get(&format!("/v1.0/groups/{}/members", id_of(&g))).await;
    assert_eq!(TestApp::ids(&m), vec![id_of(&u)], "{}", m.text);
});

api_test!(permanently_deleting_a_deleted_user_removes_it_for_good, |app| {
    let u = app.create_user("gone", "Gone").await;
    let id = id_of(&u);
    assert_eq!(app.delete(&format!("/v1.0/users/{id}")).await.status, StatusCode::NO_CONTENT);
    let r = app.delete(&format!("/v1.0/directory/deletedItems/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get(&format!("/v1.0/directory/deletedItems/{id}")).await.status, StatusCode::NOT_FOUND);
    assert!(!TestApp::ids(&app.get("/v1.0/directory/deletedItems/microsoft.graph.user").await).contains(&id));
    let r = app.post(&format!("/v1.0/directory/deletedItems/{id}/restore"), json!({})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(app.get(&format!("/v1.0/users/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&format!("/v1.0/directory/deletedItems/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.audits_for("Hard Delete user", &id).await.len(), 1);
    // The name is free again.
    let c = app.post("/v1.0/users", new_user("gone", "Gone Again")).await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
    assert_ne!(c.body["id"], json!(id));
});

api_test!(a_live_user_cannot_be_purged_through_deleted_items, |app| {
    let u = app.create_user("live", "Live").await;
    let r = app.delete(&format!("/v1.0/directory/deletedItems/{}", id_of(&u))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(app.get(&format!("/v1.0/users/{}", id_of(&u))).await.status, StatusCode::OK);
});

// ---- $filter ----

api_test!(filter_eq_on_mail_is_case_insensitive, |app| {
    let a = app.create_user("alice", "Alice").await;
    app.create_user("bob", "Bob").await;
    assert_eq!(filtered(&app, "mail eq 'ALICE@Contoso.TEST'").await, set(&[&id_of(&a)]));
    assert_eq!(filtered(&app, "mail eq 'alice@contoso.test'").await, set(&[&id_of(&a)]));
    assert!(filtered(&app, "mail eq 'carol@contoso.test'").await.is_empty());
    // Quotes are escaped by doubling them.
    let body = new_user("obrien", "Pat O'Brien");
    let c = app.post("/v1.0/users", body).await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
    assert_eq!(filtered(&app, "displayName eq 'Pat O''Brien'").await, set(&[&id_of(&c.body)]));
});

api_test!(filter_starts_with_display_name_matches_prefixes_only, |app| {
    let a = app.create_user("ann", "Annabel Lee").await;
    let b = app.create_user("anne", "anne Shirley").await;
    app.create_user("joanne", "Joanne Smith").await;
    assert_eq!(filtered(&app, "startsWith(displayName,'ann')").await, set(&[&id_of(&a), &id_of(&b)]));
    assert_eq!(filtered(&app, "startswith(displayName,'ANNE')").await, set(&[&id_of(&b)]));
    assert!(filtered(&app, "startsWith(displayName,'zzz')").await.is_empty());
    // A LIKE wildcard in the prefix is taken literally.
    assert!(filtered(&app, "startsWith(displayName,'%')").await.is_empty());
    assert!(filtered(&app, "startsWith(displayName,'_nn')").await.is_empty());
});

api_test!(filter_user_type_guest_finds_users_made_guests_by_patch, |app| {
    let g1 = app.create_user("g1", "Guest One").await;
    let g2 = app.create_user("g2", "Guest Two").await;
    let m = app.create_user("m1", "Member One").await;
    for g in [&g1, &g2] {
        assert_eq!(
            app.patch(&format!("/v1.0/users/{}", id_of(g)), json!({"userType": "Guest"})).await.status,
            StatusCode::NO_CONTENT
        );
    }
    assert_eq!(filtered(&app, "userType eq 'Guest'").await, set(&[&id_of(&g1), &id_of(&g2)]));
    assert_eq!(filtered(&app, "userType eq 'Member'").await, set(&[&id_of(&m)]));
    // Back to member.
    assert_eq!(
        app.patch(&format!("/v1.0/users/{}", id_of(&g2)), json!({"userType": "Member"})).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(filtered(&app, "userType eq 'Guest'").await, set(&[&id_of(&g1)]));
});

api_test!(filter_account_enabled_false_finds_blocked_users, |app| {
    let a = app.create_user("blocked", "Blocked").await;
    let b = app.create_user("open", "Open").await;
    assert!(filtered(&app, "accountEnabled eq false").await.is_empty());
    assert_eq!(
        app.patch(&format!("/v1.0/users/{}", id_of(&a)), json!({"accountEnabled": false})).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(filtered(&app, "accountEnabled eq false").await, set(&[&id_of(&a)]));
    assert_eq!(filtered(&app, "accountEnabled eq true").await, set(&[&id_of(&b)]));
    let r = app.get(&format!("/v1.0/users?$filter={}", urlencode("accountEnabled eq 'no'"))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
});

api_test!(filter_in_matches_any_listed_value, |app| {
    let a = app.create_user("ina", "In A").await;
    let b = app.create_user("inb", "In B").await;
    app.create_user("inc", "In C").await;
    assert_eq!(
        filtered(&app, "userPrincipalName in ('ina@contoso.test','INB@contoso.test','nobody@contoso.test')").await,
        set(&[&id_of(&a), &id_of(&b)])
    );
    assert_eq!(filtered(&app, &format!("id in ('{}')", id_of(&a))).await, set(&[&id_of(&a)]));
});

api_test!(filter_other_mails_any_matches_an_alternate_address, |app| {
    let a = app.create_user("oma", "Other A").await;
    let b = app.create_user("omb", "Other B").await;
    assert_eq!(
        app.patch(
            &format!("/v1.0/users/{}", id_of(&a)),
            json!({"otherMails": ["x@fabrikam.test", "shared@fabrikam.test"]})
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.patch(&format!("/v1.0/users/{}", id_of(&b)), json!({"otherMails": ["shared@fabrikam.test"]})).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(filtered(&app, "otherMails/any(x:x eq 'X@Fabrikam.test')").await, set(&[&id_of(&a)]));
    assert_eq!(filtered(&app, "otherMails/any(x:x eq 'shared@fabrikam.test')").await, set(&[&id_of(&a), &id_of(&b)]));
    assert!(filtered(&app, "otherMails/any(x:x eq 'none@fabrikam.test')").await.is_empty());
});

api_test!(filter_identities_any_matches_issuer_and_issuer_assigned_id_together, |app| {
    let mut body = new_user("ida", "Identity A");
    body["identities"] =
        json!([{"signInType": "federated", "issuer": "google.com", "issuerAssignedId": "a@gmail.test"}]);
    let a = app.post("/v1.0/users", body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let mut body = new_user("idb", "Identity B");
    body["identities"] =
        json!([{"signInType": "federated", "issuer": "facebook.com", "issuerAssignedId": "a@gmail.test"}]);
    let b = app.post("/v1.0/users", body).await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.text);
    let a_id = id_of(&a.body);
    assert_eq!(
        filtered(&app, "identities/any(c:c/issuer eq 'google.com' and c/issuerAssignedId eq 'a@gmail.test')").await,
        set(&[&a_id])
    );
    // Both conditions must hold on the same identity.
    assert!(
        filtered(&app, "identities/any(c:c/issuer eq 'google.com' and c/issuerAssignedId eq 'ida@contoso.test')")
            .await
            .is_empty()
    );
    // The UPN identity is searchable like any other.
    assert_eq!(
        filtered(
            &app,
            "identities/any(c:c/signInType eq 'userPrincipalName' and c/issuerAssignedId eq 'ida@contoso.test')"
        )
        .await,
        set(&[&a_id])
    );
    // PATCHing identities replaces them (the UPN identity stays).
    let r = app
        .patch(
            &format!("/v1.0/users/{a_id}"),
            json!({"identities": [{"signInType": "federated", "issuer": "mail", "issuerAssignedId": "ida@mail.test"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(
        filtered(&app, "identities/any(c:c/issuer eq 'google.com' and c/issuerAssignedId eq 'a@gmail.test')")
            .await
            .is_empty()
    );
    assert_eq!(
        filtered(&app, "identities/any(c:c/issuer eq 'mail' and c/issuerAssignedId eq 'ida@mail.test')").await,
        set(&[&a_id])
    );
    assert_eq!(
        filtered(
            &app,
            "identities/any(c:c/signInType eq 'userPrincipalName' and c/issuerAssignedId eq 'ida@contoso.test')"
        )
        .await,
        set(&[&a_id])
    );
});

api_test!(filter_created_date_time_compares_instants, |app| {
    let a = app.create_user("cda", "Created A").await;
    let created = a["createdDateTime"].as_str().unwrap().to_string();
    assert!(filtered(&app, &format!("createdDateTime ge {created}")).await.contains(&id_of(&a)));
    assert!(!filtered(&app, &format!("createdDateTime lt {created}")).await.contains(&id_of(&a)));
    assert_eq!(filtered(&app, "createdDateTime ge 2000-01-01T00:00:00Z").await, set(&[&id_of(&a)]));
    assert!(filtered(&app, "createdDateTime ge 2999-01-01T00:00:00Z").await.is_empty());
    let r = app.get(&format!("/v1.0/users?$filter={}", urlencode("createdDateTime ge 'yesterday'"))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
});

api_test!(filter_on_an_unknown_property_or_with_bad_syntax_is_a_bad_request, |app| {
    app.create_user("syn", "Syntax").await;
    for f in ["nope eq 'x'", "displayName eq", "displayName eq 'unterminated", "startsWith(displayName)"] {
        let r = app.get(&format!("/v1.0/users?$filter={}", urlencode(f))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{f}: {}", r.text);
        assert!(r.code().starts_with("Request_"), "{f}: {}", r.text);
    }
    let r = app.get("/v1.0/users?$bogus=1").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
});

// ---- advanced queries ----

api_test!(ne_not_and_ends_with_need_consistency_level_and_count, |app| {
    let a = app.create_user("adv1", "Advanced One").await;
    let b = app.create_user("adv2", "Other Two").await;
    assert_eq!(
        app.patch(&format!("/v1.0/users/{}", id_of(&b)), json!({"userType": "Guest", "mail": "adv2@fabrikam.test"}))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let cases = [
        ("userType ne 'Guest'", vec![id_of(&a)]),
        ("not(startsWith(displayName,'Advanced'))", vec![id_of(&b)]),
        ("endsWith(mail,'@fabrikam.test')", vec![id_of(&b)]),
        ("endsWith(userPrincipalName,'@contoso.test')", vec![id_of(&a), id_of(&b)]),
    ];
    for (f, expected) in cases {
        let q = format!("/v1.0/users?$filter={}", urlencode(f));
        for (path, eventual) in [(q.clone(), false), (q.clone(), true), (format!("{q}&$count=true"), false)] {
            let r = if eventual { app.get_eventual(&path).await } else { app.get(&path).await };
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path} (eventual: {eventual}): {}", r.text);
            assert_eq!(r.code(), "Request_UnsupportedQuery", "{path}");
        }
        let r = app.get_eventual(&format!("{q}&$count=true")).await;
        assert_eq!(r.status, StatusCode::OK, "{f}: {}", r.text);
        let got: BTreeSet<String> = TestApp::ids(&r).into_iter().collect();
        assert_eq!(got, expected.iter().cloned().collect::<BTreeSet<_>>(), "{f}");
        assert_eq!(r.body["@odata.count"], json!(expected.len()), "{f}: {}", r.text);
    }
});

api_test!(ends_with_is_refused_on_properties_graph_does_not_allow_it_on, |app| {
    let r =
        app.get_eventual(&format!("/v1.0/users?$count=true&$filter={}", urlencode("endsWith(displayName,'x')"))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "Request_UnsupportedQuery");
});

api_test!(search_needs_the_consistency_level_header, |app| {
    let a = app.create_user("srch", "Searchable Person").await;
    app.create_user("hidden", "Hidden Person").await;
    let q = format!("/v1.0/users?$search={}", urlencode("\"displayName:Searchable\""));
    let r = app.get(&q).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "Request_UnsupportedQuery");
    let r = app.get_eventual(&q).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(TestApp::ids(&r), vec![id_of(&a)]);
    let r = app.get_eventual(&format!("/v1.0/users?$search={}", urlencode("\"displayName:person\""))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(TestApp::ids(&r).len(), 2, "{}", r.text);
    // The clause must be quoted property:value.
    let r = app.get_eventual(&format!("/v1.0/users?$search={}", urlencode("Searchable"))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
});

api_test!(count_option_without_the_header_is_silently_ignored, |app| {
    for i in 0..3 {
        app.create_user(&format!("cnt{i}"), &format!("Count {i}")).await;
    }
    let r = app.get("/v1.0/users?$count=true").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body.get("@odata.count").is_none(), "{}", r.text);
    assert_eq!(TestApp::ids(&r).len(), 3);
    let r = app.get_eventual("/v1.0/users?$count=true&$top=1").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["@odata.count"], json!(3), "the count covers every match, not the page: {}", r.text);
    assert_eq!(TestApp::ids(&r).len(), 1);
    let r = app.get("/v1.0/users?$count=maybe").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
});

api_test!(count_segment_needs_the_header_and_answers_a_plain_number, |app| {
    for i in 0..4 {
        app.create_user(&format!("seg{i}"), &format!("Segment {i}")).await;
    }
    let r = app.get("/v1.0/users/$count").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "Request_BadRequest");
    let r = app.get_eventual("/v1.0/users/$count").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/plain"), "{:?}", r.headers);
    assert_eq!(r.text, "4");
    // A deleted user is not counted; $filter narrows the count.
    let first = app.get("/v1.0/users/seg0@contoso.test").await;
    assert_eq!(app.delete(&format!("/v1.0/users/{}", id_of(&first.body))).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get_eventual("/v1.0/users/$count").await.text, "3");
    let r = app
        .get_eventual(&format!("/v1.0/users/$count?$filter={}", urlencode("startsWith(displayName,'Segment 1')")))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.text, "1");
});

api_test!(orderby_display_name_works_alone_but_needs_advanced_headers_with_filter, |app| {
    for (alias, name) in [("ob1", "Bravo"), ("ob2", "alpha"), ("ob3", "Charlie")] {
        app.create_user(alias, name).await;
    }
    let names = |r: &crate::common::Resp| -> Vec<String> {
        r.body["value"].as_array().unwrap().iter().map(|v| v["displayName"].as_str().unwrap().to_string()).collect()
    };
    let r = app.get("/v1.0/users?$orderby=displayName desc").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(names(&r), vec!["Charlie", "Bravo", "alpha"], "case-insensitive descending order");
    let r = app.get("/v1.0/users?$orderby=displayName").await;
    assert_eq!(names(&r), vec!["alpha", "Bravo", "Charlie"]);
    let q = format!("/v1.0/users?$orderby=displayName%20desc&$filter={}", urlencode("accountEnabled eq true"));
    let r = app.get(&q).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "Request_UnsupportedQuery");
    let r = app.get_eventual(&format!("{q}&$count=true")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(names(&r), vec!["Charlie", "Bravo", "alpha"]);
    assert_eq!(r.body["@odata.count"], json!(3));
    // Sorting on a property that does not support it is refused.
    let r = app.get("/v1.0/users?$orderby=jobTitle").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
});

// ---- paging ----

api_test!(paging_with_top_follows_next_links_through_every_user_exactly_once, |app| {
    let mut created = BTreeSet::new();
    for i in 0..7 {
        created.insert(id_of(&app.create_user(&format!("page{i}"), &format!("Page {i}")).await));
    }
    for first in [
        "/v1.0/users?$top=3",
        "/v1.0/users?$top=3&$orderby=displayName%20desc",
        "/v1.0/users?$top=2&$select=id,displayName",
    ] {
        let mut seen = vec![];
        let mut path = first.to_string();
        let mut pages = 0;
        loop {
            let r = app.get(&path).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
            let ids = TestApp::ids(&r);
            assert!(!ids.is_empty() && ids.len() <= 3, "{path}: {}", r.text);
            seen.extend(ids);
            pages += 1;
            assert!(pages <= 7, "paging does not end");
            match r.body["@odata.nextLink"].as_str() {
                Some(next) => {
                    assert!(next.starts_with(&app.base), "absolute link: {next}");
                    assert!(next.contains("/v1.0/users"), "{next}");
                    assert!(next.contains("skiptoken"), "{next}");
                    path = path_of(&app, next);
                }
                None => break,
            }
        }
        let unique: BTreeSet<String> = seen.iter().cloned().collect();
        assert_eq!(unique.len(), seen.len(), "{first}: a user was listed twice: {seen:?}");
        assert_eq!(unique, created, "{first}");
    }
    // The sort order holds across pages.
    let mut names = vec![];
    let mut path = "/v1.0/users?$top=3&$orderby=displayName".to_string();
    loop {
        let r = app.get(&path).await;
        names
            .extend(r.body["value"].as_array().unwrap().iter().map(|v| v["displayName"].as_str().unwrap().to_string()));
        match r.body["@odata.nextLink"].as_str() {
            Some(next) => path = path_of(&app, next),
            None => break,
        }
    }
    assert_eq!(names, (0..7).map(|i| format!("Page {i}")).collect::<Vec<_>>());
});

api_test!(paging_sorted_on_a_tied_display_name_still_visits_every_user_once, |app| {
    let mut created = BTreeSet::new();
    for i in 0..5 {
        created.insert(id_of(&app.create_user(&format!("same{i}"), "Same Name").await));
    }
    for order in ["displayName", "displayName%20desc"] {
        let mut seen = vec![];
        let mut path = format!("/v1.0/users?$top=2&$orderby={order}");
        loop {
            let r = app.get(&path).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            seen.extend(TestApp::ids(&r));
            match r.body["@odata.nextLink"].as_str() {
                Some(next) => path = path_of(&app, next),
                None => break,
            }
        }
        assert_eq!(seen.len(), 5, "{order}: {seen:?}");
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), created, "{order}");
    }
});

api_test!(next_link_keeps_the_filter, |app| {
    for i in 0..5 {
        app.create_user(&format!("keepf{i}"), &format!("Kept {i}")).await;
    }
    app.create_user("outside", "Outside").await;
    let mut seen = vec![];
    let mut path = format!("/v1.0/users?$top=2&$filter={}", urlencode("startsWith(displayName,'Kept')"));
    loop {
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        seen.extend(r.body["value"].as_array().unwrap().iter().map(|v| v["displayName"].as_str().unwrap().to_string()));
        match r.body["@odata.nextLink"].as_str() {
            Some(next) => path = path_of(&app, next),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, (0..5).map(|i| format!("Kept {i}")).collect::<Vec<_>>());
});

api_test!(a_tampered_skiptoken_is_refused, |app| {
    for i in 0..3 {
        app.create_user(&format!("tok{i}"), &format!("Token {i}")).await;
    }
    let r = app.get("/v1.0/users?$top=1").await;
    let next = r.body["@odata.nextLink"].as_str().expect("a next link").to_string();
    let token = url::Url::parse(&next)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "$skiptoken")
        .map(|(_, v)| v.into_owned())
        .expect("$skiptoken");
    let half = &token[..token.len() / 2];
    for bad in ["garbage!!", "bm90IGpzb24", half, "eyJrIjpbXX0"] {
        let r = app.get(&format!("/v1.0/users?$top=1&$skiptoken={}", urlencode(bad))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
        assert_eq!(r.code(), "Request_BadRequest", "{bad}");
    }
    let r = app.get(&path_of(&app, &next)).await;
    assert_eq!(r.status, StatusCode::OK, "the untouched token still works: {}", r.text);
});

api_test!(top_must_be_between_1_and_999, |app| {
    app.create_user("top", "Top").await;
    for bad in ["0", "1000", "-1", "abc"] {
        let r = app.get(&format!("/v1.0/users?$top={bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "$top={bad}: {}", r.text);
        assert_eq!(r.code(), "Request_BadRequest");
    }
    for good in ["1", "999"] {
        let r = app.get(&format!("/v1.0/users?$top={good}")).await;
        assert_eq!(r.status, StatusCode::OK, "$top={good}: {}", r.text);
        assert_eq!(TestApp::ids(&r).len(), 1);
    }
});

// ---- relationships ----

api_test!(member_of_transitive_member_of_and_owned_objects_of_a_user, |app| {
    let u = app.create_user("rel", "Related").await;
    let inner = app.create_group("Inner").await;
    let outer = app.create_group("Outer").await;
    let owned = app.create_group("Owned").await;
    let link = |id: &str| json!({"@odata.id": format!("{}/v1.0/directoryObjects/{id}", app.base)});
    assert_eq!(
        app.post(&format!("/v1.0/groups/{}/members/$ref", id_of(&inner)), link(&id_of(&u))).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.post(&format!("/v1.0/groups/{}/members/$ref", id_of(&outer)), link(&id_of(&inner))).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.post(&format!("/v1.0/groups/{}/owners/$ref", id_of(&owned)), link(&id_of(&u))).await.status,
        StatusCode::NO_CONTENT
    );

    let r = app.get(&format!("/v1.0/users/{}/memberOf", id_of(&u))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(TestApp::ids(&r), vec![id_of(&inner)]);
    assert_eq!(r.body["value"][0]["@odata.type"], json!("#microsoft.graph.group"));
    assert_eq!(r.body["value"][0]["displayName"], json!("Inner"));

    let r = app.get(&format!("/v1.0/users/{}/transitiveMemberOf", id_of(&u))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(TestApp::ids(&r).into_iter().collect::<BTreeSet<_>>(), set(&[&id_of(&inner), &id_of(&outer)]));

    let r = app.get(&format!("/v1.0/users/{}/ownedObjects", id_of(&u))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(TestApp::ids(&r), vec![id_of(&owned)]);

    // By UPN as well, and 404 for nobody.
    let r = app.get("/v1.0/users/rel@contoso.test/memberOf").await;
    assert_eq!(TestApp::ids(&r), vec![id_of(&inner)]);
    let r = app.get(&format!("/v1.0/users/{}/memberOf", uuid::Uuid::new_v4())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    // Leaving the inner group empties both lists.
    let r = app.delete(&format!("/v1.0/groups/{}/members/{}/$ref", id_of(&inner), id_of(&u))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(TestApp::ids(&app.get(&format!("/v1.0/users/{}/memberOf", id_of(&u))).await).is_empty());
    assert!(TestApp::ids(&app.get(&format!("/v1.0/users/{}/transitiveMemberOf", id_of(&u))).await).is_empty());
});
