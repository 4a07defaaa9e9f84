//! `/users/{id}/sponsors` with `$ref` add and remove.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::common::{Resp, TestApp, all_permissions};

fn user_ref(id: &str) -> Value {
    json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/users/{id}")})
}

fn group_ref(id: &str) -> Value {
    json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/groups/{id}")})
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

fn assert_bad_request(r: &Resp, what: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.text);
    assert_eq!(r.code(), "Request_BadRequest", "{what}: {}", r.text);
}

api_test!(sponsors_are_added_listed_and_removed, |app| {
    let guest = id(&app.create_user("gina", "Gina Guest").await);
    let sponsor = id(&app.create_user("sam", "Sam Sponsor").await);
    let group = id(&app.create_group("Sponsors").await);
    let path = format!("/v1.0/users/{guest}/sponsors");

    let r = app.get(&path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["value"], json!([]));

    let r = app.post(&format!("{path}/$ref"), user_ref(&sponsor)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app.post(&format!("{path}/$ref"), group_ref(&group)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);

    let r = app.get(&path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(TestApp::ids(&r), vec![sponsor.clone(), group.clone()]);
    assert_eq!(r.body["value"][0]["@odata.type"], json!("#microsoft.graph.user"));
    assert_eq!(r.body["value"][0]["displayName"], json!("Sam Sponsor"));
    assert_eq!(r.body["value"][1]["@odata.type"], json!("#microsoft.graph.group"));
    assert!(r.body["@odata.context"].as_str().unwrap_or_default().ends_with("$metadata#directoryObjects"));
    // By user principal name too.
    let r = app.get(&format!("/v1.0/users/gina@{}/sponsors", app.domain())).await;
    assert_eq!(TestApp::ids(&r), vec![sponsor.clone(), group.clone()]);
    // Paged like other relationships.
    let r = app.get(&format!("{path}?$top=1")).await;
    assert_eq!(TestApp::ids(&r), vec![sponsor.clone()]);
    assert!(r.body["@odata.nextLink"].is_string(), "{}", r.text);

    // Twice is refused.
    assert_bad_request(&app.post(&format!("{path}/$ref"), user_ref(&sponsor)).await, "the same sponsor twice");

    let audits = app.audits_for("Add user sponsor", &guest).await;
    assert_eq!(audits.len(), 2);
    assert_eq!(audits[0]["category"], json!("UserManagement"));
    assert!(
        audits
            .iter()
            .any(|a| a["targetResources"].as_array().is_some_and(|t| t.iter().any(|t| t["id"] == json!(sponsor)))),
        "the sponsor is a target: {audits:?}"
    );

    let r = app.delete(&format!("{path}/{sponsor}/$ref")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app.delete(&format!("{path}/{sponsor}/$ref")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.code(), "Request_ResourceNotFound");
    assert_eq!(app.delete(&format!("{path}/not-a-guid/$ref")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(TestApp::ids(&app.get(&path).await), vec![group.clone()]);
    assert_eq!(app.audits_for("Remove user sponsor", &guest).await.len(), 1);

    // A deleted sponsor drops out of the list, and is back when restored.
    assert_eq!(app.post(&format!("{path}/$ref"), user_ref(&sponsor)).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.delete(&format!("/v1.0/users/{sponsor}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(TestApp::ids(&app.get(&path).await), vec![group.clone()]);
    let r = app.post(&format!("/v1.0/directory/deletedItems/{sponsor}/restore"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(TestApp::ids(&app.get(&path).await), vec![group, sponsor]);
});

api_test!(sponsor_refs_are_checked, |app| {
    let guest = id(&app.create_user("gina", "Gina Guest").await);
    let sponsor = id(&app.create_user("sam", "Sam Sponsor").await);
    let group = id(&app.create_group("Sponsors").await);
    let sps = app.get("/v1.0/servicePrincipals").await;
    let sp = sps.body["value"][0]["id"].as_str().expect("a service principal").to_string();
    let add = format!("/v1.0/users/{guest}/sponsors/$ref");
    let cases = [
        (user_ref(&uuid::Uuid::new_v4().to_string()), "no such object"),
        (
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{sp}")}),
            "a service principal",
        ),
        (user_ref(&group), "a group named as a user"),
        (group_ref(&sponsor), "a user named as a group"),
        (user_ref(&guest), "the user itself"),
        (user_ref("not-a-guid"), "not an id"),
        (
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/users/{sponsor}"), "extra": 1}),
            "extra property",
        ),
        (json!({}), "no @odata.id"),
        (json!({"@odata.id": 5}), "@odata.id not a string"),
    ];
    for (body, what) in cases {
        let r = app.post(&add, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.text);
        assert!(!r.code().is_empty(), "{what}: no Graph envelope: {}", r.text);
    }
    // The directoryObjects form names a user or group whatever its kind.
    let r = app
        .post(&add, json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{sponsor}")}))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(TestApp::ids(&app.get(&format!("/v1.0/users/{guest}/sponsors")).await), vec![sponsor.clone()]);

    // An unknown user has no sponsors to list or change.
    let nobody = uuid::Uuid::new_v4();
    assert_eq!(app.get(&format!("/v1.0/users/{nobody}/sponsors")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.post(&format!("/v1.0/users/{nobody}/sponsors/$ref"), user_ref(&sponsor)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("/v1.0/users/{nobody}/sponsors/{sponsor}/$ref")).await.status,
        StatusCode::NOT_FOUND
    );
});

api_test!(sponsors_need_user_permissions, |app| {
    let guest = id(&app.create_user("gina", "Gina Guest").await);
    let sponsor = id(&app.create_user("sam", "Sam Sponsor").await);
    let path = format!("/v1.0/users/{guest}/sponsors");
    assert_eq!(app.post(&format!("{path}/$ref"), user_ref(&sponsor)).await.status, StatusCode::NO_CONTENT);

    let read = app.token_with(app.tenant, &["User.Read.All".to_string()]).await;
    assert_eq!(app.get_as(&read, &path).await.status, StatusCode::OK);
    let r = app.post_as(&read, &format!("{path}/$ref"), user_ref(&guest)).await;
    assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "Authorization_RequestDenied"), "{}", r.text);
    let r = app.delete_as(&read, &format!("{path}/{sponsor}/$ref")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

    let no_users: Vec<String> =
        all_permissions().into_iter().filter(|p| !p.starts_with("User.") && !p.starts_with("Directory.")).collect();
    let none = app.token_with(app.tenant, &no_users).await;
    assert_eq!(app.get_as(&none, &path).await.status, StatusCode::FORBIDDEN);
    assert_eq!(TestApp::ids(&app.get(&path).await), vec![sponsor]);
});

api_test!(sponsors_stay_in_their_tenant, |app| {
    let guest = id(&app.create_user("gina", "Gina Guest").await);
    let (_, token_b) = app.new_tenant("Fabrikam", Some("fabrikam.test"), &all_permissions()).await;
    let new_user = |alias: &str| {
        json!({"accountEnabled": true, "displayName": alias, "mailNickname": alias, "userPrincipalName": format!("{alias}@fabrikam.test"),
               "passwordProfile": {"password": "correct horse battery staple"}})
    };
    let r = app.post_as(&token_b, "/v1.0/users", new_user("bguest")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let b_guest = id(&r.body);
    let r = app.post_as(&token_b, "/v1.0/users", new_user("bsponsor")).await;
    let b_sponsor = id(&r.body);
    let r = app
        .post_as(
            &token_b,
            "/v1.0/groups",
            json!({"displayName": "B", "mailEnabled": false, "mailNickname": "b", "securityEnabled": true}),
        )
        .await;
    let b_group = id(&r.body);
    let r = app.post_as(&token_b, &format!("/v1.0/users/{b_guest}/sponsors/$ref"), user_ref(&b_sponsor)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let b_view = app.get_as(&token_b, &format!("/v1.0/users/{b_guest}/sponsors")).await.body;

    // A cannot make B's user or group a sponsor of its own user ...
    for body in [user_ref(&b_sponsor), group_ref(&b_group)] {
        assert_bad_request(&app.post(&format!("/v1.0/users/{guest}/sponsors/$ref"), body).await, "B's object");
    }
    // ... nor read or change the sponsors of B's user.
    assert_eq!(app.get(&format!("/v1.0/users/{b_guest}/sponsors")).await.status, StatusCode::NOT_FOUND);
    let guest_ref = user_ref(&guest);
    assert_eq!(
        app.post(&format!("/v1.0/users/{b_guest}/sponsors/$ref"), guest_ref).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete(&format!("/v1.0/users/{b_guest}/sponsors/{b_sponsor}/$ref")).await.status,
        StatusCode::NOT_FOUND
    );
    // A's own user never had B's sponsor.
    assert_eq!(
        app.delete(&format!("/v1.0/users/{guest}/sponsors/{b_sponsor}/$ref")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get(&format!("/v1.0/users/{guest}/sponsors")).await.body["value"], json!([]));
    assert_eq!(app.get_as(&token_b, &format!("/v1.0/users/{b_guest}/sponsors")).await.body, b_view);
    assert_eq!(TestApp::ids(&app.get_as(&token_b, &format!("/v1.0/users/{b_guest}/sponsors")).await), vec![b_sponsor]);
});
