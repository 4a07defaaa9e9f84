//! Tests of the Graph-shaped API: groups, their members and owners.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::common::{TestApp, path_of, urlencode};

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// `{"@odata.id": "<base>/v1.0/directoryObjects/{id}"}`.
fn reference(app: &TestApp, id: &str) -> Value {
    json!({"@odata.id": format!("{}/v1.0/directoryObjects/{id}", app.base)})
}

fn bind(app: &TestApp, id: &str) -> String {
    format!("{}/v1.0/directoryObjects/{id}", app.base)
}

async fn add(app: &TestApp, rel: &str, group: &str, object: &str) {
    let r = app.post(&format!("/v1.0/groups/{group}/{rel}/$ref"), reference(app, object)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "add {object} to {rel} of {group}: {}", r.text);
}

async fn ids_at(app: &TestApp, path: &str) -> BTreeSet<String> {
    let r = app.get(path).await;
    assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
    TestApp::ids(&r).into_iter().collect()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).clone()).collect()
}

async fn unified(app: &TestApp, name: &str) -> Value {
    let r = app
        .post("/v1.0/groups", json!({"displayName": name, "mailEnabled": true, "mailNickname": name.to_lowercase().replace(' ', "-"), "securityEnabled": false, "groupTypes": ["Unified"]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "create unified group: {}", r.text);
    r.body
}

/// A service principal of a freshly registered application.
async fn service_principal(app: &TestApp, name: &str) -> Value {
    let a = app.post("/v1.0/applications", json!({"displayName": name})).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.text);
    let sp = app.post("/v1.0/servicePrincipals", json!({"appId": a.body["appId"]})).await;
    assert_eq!(sp.status, StatusCode::CREATED, "{}", sp.text);
    sp.body
}

// ---- create ----

api_test!(create_security_group_answers_201_with_its_properties, |app| {
    let r = app
        .post("/v1.0/groups", json!({"displayName": "Engineering", "description": "Builders", "mailEnabled": false, "mailNickname": "eng", "securityEnabled": true, "visibility": "private"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let g = &r.body;
    assert!(g["@odata.context"].as_str().unwrap().ends_with("/v1.0/$metadata#groups/$entity"), "{}", r.text);
    assert!(uuid::Uuid::parse_str(g["id"].as_str().unwrap()).is_ok());
    assert_eq!(g["displayName"], json!("Engineering"));
    assert_eq!(g["description"], json!("Builders"));
    assert_eq!(g["mailEnabled"], json!(false));
    assert_eq!(g["securityEnabled"], json!(true));
    assert_eq!(g["mailNickname"], json!("eng"));
    assert_eq!(g["groupTypes"], json!([]));
    assert_eq!(g["visibility"], json!("Private"), "visibility is canonicalised");
    assert!(g["createdDateTime"].is_string());
    let got = app.get(&format!("/v1.0/groups/{}", id_of(g))).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    assert_eq!(got.body["displayName"], json!("Engineering"));
    assert_eq!(app.audits_for("Add group", &id_of(g)).await.len(), 1);
});

api_test!(only_unified_groups_can_be_mail_enabled, |app| {
    let u = unified(&app, "Everyone").await;
    assert_eq!(u["groupTypes"], json!(["Unified"]));
    assert_eq!(u["mailEnabled"], json!(true));
    let r = app
        .post(
            "/v1.0/groups",
            json!({"displayName": "Mailer", "mailEnabled": true, "mailNickname": "mailer", "securityEnabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "Request_BadRequest");
    assert!(r.text.contains("Unified"), "{}", r.text);
    let s = app.create_group("Security").await;
    let r = app.patch(&format!("/v1.0/groups/{}", id_of(&s)), json!({"mailEnabled": true})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(app.get(&format!("/v1.0/groups/{}", id_of(&s))).await.body["mailEnabled"], json!(false));
    // Listing shows the difference.
    let r = app.get(&format!("/v1.0/groups?$filter={}", urlencode("mailEnabled eq true"))).await;
    assert_eq!(TestApp::ids(&r), vec![id_of(&u)], "{}", r.text);
});

api_test!(create_requires_each_required_property, |app| {
    for missing in ["displayName", "mailEnabled", "mailNickname", "securityEnabled"] {
        let mut body =
            json!({"displayName": "Req", "mailEnabled": false, "mailNickname": "req", "securityEnabled": true});
        body.as_object_mut().unwrap().remove(missing);
        let r = app.post("/v1.0/groups", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "without {missing}: {}", r.text);
        assert!(r.text.contains(missing), "without {missing}: {}", r.text);
    }
    assert!(TestApp::ids(&app.get("/v1.0/groups").await).is_empty());
});

api_test!(create_refuses_invalid_values_and_unsupported_kinds, |app| {
    let base = json!({"displayName": "Bad", "mailEnabled": false, "mailNickname": "bad", "securityEnabled": true});
    for (prop, value) in [
        ("mailNickname", json!("has space")),
        ("displayName", json!("  ")),
        ("groupTypes", json!(["Robots"])),
        ("visibility", json!("Secret")),
        ("securityEnabled", json!("yes")),
        ("nope", json!(1)),
        ("createdDateTime", json!("2020-01-01T00:00:00Z")),
    ] {
        let mut body = base.clone();
        body[prop] = value;
        let r = app.post("/v1.0/groups", body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{prop}: {}", r.text);
        assert!(r.text.contains(prop) || prop == "displayName", "{prop}: {}", r.text);
    }
    let mut body = base.clone();
    body["groupTypes"] = json!(["DynamicMembership"]);
    let r = app.post("/v1.0/groups", body).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{}", r.text);
    assert_eq!(r.code(), "notSupported");
    let mut body = base.clone();
    body["membershipRule"] = json!("(user.userType -eq \"Guest\")");
    let r = app.post("/v1.0/groups", body).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{}", r.text);
    assert!(TestApp::ids(&app.get("/v1.0/groups").await).is_empty());
});

// ---- read ----

api_test!(groups_are_read_listed_filtered_and_sorted, |app| {
    let a = app.create_group("Alpha Team").await;
    let b = app.create_group("beta team").await;
    let c = unified(&app, "Gamma").await;
    let g = app.get(&format!("/v1.0/groups/{}?$select=displayName,securityEnabled", id_of(&a))).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.text);
    assert_eq!(g.body.as_object().unwrap().len(), 3, "{}", g.text);
    assert!(g.body["@odata.context"].as_str().unwrap().ends_with("#groups(displayName,securityEnabled)/$entity"));
    let r = app.get("/v1.0/groups/not-a-guid").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app.get(&format!("/v1.0/groups/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.code(), "Request_ResourceNotFound");

    assert_eq!(ids_at(&app, "/v1.0/groups").await, set(&[&id_of(&a), &id_of(&b), &id_of(&c)]));
    let q = |f: &str| format!("/v1.0/groups?$filter={}", urlencode(f));
    assert_eq!(ids_at(&app, &q("startsWith(displayName,'ALPHA')")).await, set(&[&id_of(&a)]));
    assert_eq!(ids_at(&app, &q("displayName eq 'BETA TEAM'")).await, set(&[&id_of(&b)]));
    assert_eq!(ids_at(&app, &q("securityEnabled eq false")).await, set(&[&id_of(&c)]));
    assert_eq!(ids_at(&app, &q("mailNickname in ('alpha-team','gamma')")).await, set(&[&id_of(&a), &id_of(&c)]));

    let names = |r: &crate::common::Resp| -> Vec<String> {
        r.body["value"].as_array().unwrap().iter().map(|v| v["displayName"].as_str().unwrap().to_string()).collect()
    };
    let r = app.get("/v1.0/groups?$orderby=displayName%20desc").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(names(&r), vec!["Gamma", "beta team", "Alpha Team"]);
    let with_filter = format!("/v1.0/groups?$orderby=displayName&$filter={}", urlencode("securityEnabled eq true"));
    let r = app.get(&with_filter).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "Request_UnsupportedQuery");
    let r = app.get_eventual(&format!("{with_filter}&$count=true")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(names(&r), vec!["Alpha Team", "beta team"]);
    assert_eq!(r.body["@odata.count"], json!(2));

    let r = app.get("/v1.0/groups/$count").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app.get_eventual("/v1.0/groups/$count").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.text, "3");
    let r = app.get_eventual(&format!("/v1.0/groups?$search={}", urlencode("\"displayName:team\""))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(TestApp::ids(&r).into_iter().collect::<BTreeSet<_>>(), set(&[&id_of(&a), &id_of(&b)]));
});

api_test!(groups_page_through_next_links, |app| {
    let mut created = BTreeSet::new();
    for i in 0..5 {
        created.insert(id_of(&app.create_group(&format!("Paged {i}")).await));
    }
    let mut seen = vec![];
    let mut path = "/v1.0/groups?$top=2".to_string();
    loop {
        let r = app.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        seen.extend(TestApp::ids(&r));
        match r.body["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&app.base) && next.contains("/v1.0/groups"), "{next}");
                path = path_of(&app, next);
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), created);
});

// ---- update ----

api_test!(patch_answers_204_and_changes_round_trip, |app| {
    let g = app.create_group("Before").await;
    let id = id_of(&g);
    let r = app.patch(&format!("/v1.0/groups/{id}"), json!({"displayName": "After", "description": "Now described", "mailNickname": "after", "visibility": "hiddenmembership"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(r.text.is_empty());
    let got = app.get(&format!("/v1.0/groups/{id}")).await;
    assert_eq!(got.body["displayName"], json!("After"));
    assert_eq!(got.body["description"], json!("Now described"));
    assert_eq!(got.body["mailNickname"], json!("after"));
    assert_eq!(got.body["visibility"], json!("HiddenMembership"));
    let r = app.patch(&format!("/v1.0/groups/{id}"), json!({"description": null})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get(&format!("/v1.0/groups/{id}")).await.body["description"], Value::Null);
    let audits = app.audits_for("Update group", &id).await;
    assert_eq!(audits.len(), 2, "{audits:?}");
    let changed: Vec<String> = audits
        .iter()
        .flat_map(|a| {
            a["targetResources"][0]["modifiedProperties"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["displayName"].as_str().unwrap().to_string())
        })
        .collect();
    assert!(changed.contains(&"displayName".to_string()) && changed.contains(&"visibility".to_string()), "{changed:?}");
});

api_test!(patch_refuses_create_only_unknown_and_invalid_properties, |app| {
    let g = app.create_group("Fixed").await;
    let id = id_of(&g);
    for (body, what) in [
        (json!({"groupTypes": ["Unified"]}), "read-only"),
        (json!({"isAssignableToRole": true}), "read-only"),
        (json!({"color": "red"}), "does not exist on type 'microsoft.graph.group'"),
        (json!({"displayName": ""}), "displayName"),
        (json!({"visibility": "Everyone"}), "visibility"),
        (json!({"mailNickname": "a b"}), "mailNickname"),
    ] {
        let r = app.patch(&format!("/v1.0/groups/{id}"), body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        assert!(r.text.contains(what), "{body}: {}", r.text);
    }
    let got = app.get(&format!("/v1.0/groups/{id}")).await;
    assert_eq!(got.body["groupTypes"], json!([]));
    assert_eq!(got.body["displayName"], json!("Fixed"));
    let r = app.patch(&format!("/v1.0/groups/{}", uuid::Uuid::new_v4()), json!({"description": "x"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
});

// ---- delete ----

api_test!(deleting_a_security_group_removes_it_for_good, |app| {
    let g = app.create_group("Ephemeral").await;
    let u = app.create_user("eph", "Eph").await;
    add(&app, "members", &id_of(&g), &id_of(&u)).await;
    let id = id_of(&g);
    let r = app.delete(&format!("/v1.0/groups/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get(&format!("/v1.0/groups/{id}")).await.status, StatusCode::NOT_FOUND);
    assert!(!ids_at(&app, "/v1.0/directory/deletedItems/microsoft.graph.group").await.contains(&id));
    assert_eq!(app.get(&format!("/v1.0/directory/deletedItems/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.post(&format!("/v1.0/directory/deletedItems/{id}/restore"), json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(ids_at(&app, &format!("/v1.0/users/{}/memberOf", id_of(&u))).await.is_empty());
    assert_eq!(app.delete(&format!("/v1.0/groups/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.audits_for("Delete group", &id).await.len(), 1);
});

api_test!(a_deleted_unified_group_goes_to_deleted_items_and_can_be_restored, |app| {
    let g = unified(&app, "Project X").await;
    let id = id_of(&g);
    let u = app.create_user("px", "Px").await;
    add(&app, "members", &id, &id_of(&u)).await;
    add(&app, "owners", &id, &id_of(&u)).await;
    assert_eq!(app.delete(&format!("/v1.0/groups/{id}")).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&format!("/v1.0/groups/{id}")).await.status, StatusCode::NOT_FOUND);
    assert!(!ids_at(&app, "/v1.0/groups").await.contains(&id));
    assert!(
        ids_at(&app, &format!("/v1.0/users/{}/memberOf", id_of(&u))).await.is_empty(),
        "a deleted group is no one's group"
    );
    assert!(ids_at(&app, &format!("/v1.0/users/{}/ownedObjects", id_of(&u))).await.is_empty());
    let d = app.get("/v1.0/directory/deletedItems/microsoft.graph.group").await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text);
    let item = d.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == json!(id))
        .cloned()
        .unwrap_or_else(|| panic!("{}", d.text));
    assert_eq!(item["@odata.type"], json!("#microsoft.graph.group"));
    assert!(item["deletedDateTime"].is_string());

    let r = app.post(&format!("/v1.0/directory/deletedItems/{id}/restore"), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["@odata.type"], json!("#microsoft.graph.group"));
    let got = app.get(&format!("/v1.0/groups/{id}")).await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    assert_eq!(got.body["deletedDateTime"], Value::Null);
    assert_eq!(ids_at(&app, &format!("/v1.0/groups/{id}/members")).await, set(&[&id_of(&u)]), "members come back");
    assert_eq!(ids_at(&app, &format!("/v1.0/groups/{id}/owners")).await, set(&[&id_of(&u)]), "owners come back");
    assert!(!ids_at(&app, "/v1.0/directory/deletedItems/microsoft.graph.group").await.contains(&id));
    assert_eq!(app.audits_for("Restore Group", &id).await.len(), 1);
});

api_test!(a_deleted_unified_group_can_be_purged, |app| {
    let g = unified(&app, "Short Lived").await;
    let id = id_of(&g);
    let u = app.create_user("sl", "Sl").await;
    add(&app, "members", &id, &id_of(&u)).await;
    assert_eq!(app.delete(&format!("/v1.0/groups/{id}")).await.status, StatusCode::NO_CONTENT);
    let r = app.delete(&format!("/v1.0/directory/deletedItems/{id}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get(&format!("/v1.0/directory/deletedItems/{id}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.post(&format!("/v1.0/directory/deletedItems/{id}/restore"), json!({})).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.audits_for("Hard Delete group", &id).await.len(), 1);
});

// ---- members and owners by $ref ----

api_test!(adding_a_member_by_ref_answers_204_and_lists_it_typed, |app| {
    let g = app.create_group("Crew").await;
    let u = app.create_user("crew", "Crew Member").await;
    let r = app.post(&format!("/v1.0/groups/{}/members/$ref", id_of(&g)), reference(&app, &id_of(&u))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(r.text.is_empty());
    let m = app.get(&format!("/v1.0/groups/{}/members", id_of(&g))).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert!(m.body["@odata.context"].as_str().unwrap().ends_with("/v1.0/$metadata#directoryObjects"), "{}", m.text);
    let items = m.body["value"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["@odata.type"], json!("#microsoft.graph.user"));
    assert_eq!(items[0]["id"], u["id"]);
    assert_eq!(items[0]["userPrincipalName"], json!("crew@contoso.test"));
    // The short key form and the Graph host name are accepted as well.
    let v = app.create_user("crew2", "Crew Two").await;
    let r = app
        .post(
            &format!("/v1.0/groups/{}/members/$ref", id_of(&g)),
            json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects('{}')", id_of(&v))}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(ids_at(&app, &format!("/v1.0/groups/{}/members", id_of(&g))).await, set(&[&id_of(&u), &id_of(&v)]));
});

api_test!(members_of_every_kind_are_listed_with_their_odata_type, |app| {
    let g = app.create_group("Mixed").await;
    let u = app.create_user("mixu", "Mixed User").await;
    let inner = app.create_group("Mixed Inner").await;
    let sp = service_principal(&app, "Mixed App").await;
    for id in [id_of(&u), id_of(&inner), id_of(&sp)] {
        add(&app, "members", &id_of(&g), &id).await;
    }
    let m = app.get(&format!("/v1.0/groups/{}/members", id_of(&g))).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    let items = m.body["value"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{}", m.text);
    let type_of = |id: &String| {
        items
            .iter()
            .find(|v| v["id"] == json!(id))
            .map(|v| v["@odata.type"].clone())
            .unwrap_or_else(|| panic!("{id} missing: {}", m.text))
    };
    assert_eq!(type_of(&id_of(&u)), json!("#microsoft.graph.user"));
    assert_eq!(type_of(&id_of(&inner)), json!("#microsoft.graph.group"));
    assert_eq!(type_of(&id_of(&sp)), json!("#microsoft.graph.servicePrincipal"));
    // $select narrows each item.
    let m = app.get(&format!("/v1.0/groups/{}/members?$select=displayName", id_of(&g))).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    for item in m.body["value"].as_array().unwrap() {
        assert!(item["displayName"].is_string(), "{item}");
        assert!(item.get("userPrincipalName").is_none() && item.get("mailNickname").is_none(), "{item}");
    }
    // Paging over members.
    let r = app.get(&format!("/v1.0/groups/{}/members?$top=2", id_of(&g))).await;
    assert_eq!(TestApp::ids(&r).len(), 2);
    let next = r.body["@odata.nextLink"].as_str().expect("next link").to_string();
    assert!(next.starts_with(&app.base) && next.contains(&format!("/v1.0/groups/{}/members", id_of(&g))), "{next}");
    let r2 = app.get(&path_of(&app, &next)).await;
    assert_eq!(TestApp::ids(&r2).len(), 1, "{}", r2.text);
    assert!(r2.body.get("@odata.nextLink").is_none());
    let all: BTreeSet<String> = TestApp::ids(&r).into_iter().chain(TestApp::ids(&r2)).collect();
    assert_eq!(all.len(), 3);
});

api_test!(adding_an_existing_member_again_is_refused_with_graphs_message, |app| {
    let g = app.create_group("Twice").await;
    let u = app.create_user("twice", "Twice").await;
    add(&app, "members", &id_of(&g), &id_of(&u)).await;
    let r = app.post(&format!("/v1.0/groups/{}/members/$ref", id_of(&g)), reference(&app, &id_of(&u))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "Request_BadRequest");
    assert_eq!(
        r.body["error"]["message"],
        json!("One or more added object references already exist for the following modified properties: 'members'.")
    );
    add(&app, "owners", &id_of(&g), &id_of(&u)).await;
    let r = app.post(&format!("/v1.0/groups/{}/owners/$ref", id_of(&g)), reference(&app, &id_of(&u))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("One or more added object references already exist"), "{}", r.text);
    assert_eq!(app.audits_for("Add member to group", &id_of(&u)).await.len(), 1, "the refused add is not audited");
});

api_test!(references_to_unknown_or_malformed_objects_are_refused, |app| {
    let g = app.create_group("Refs").await;
    let path = format!("/v1.0/groups/{}/members/$ref", id_of(&g));
    let r = app.post(&path, reference(&app, &uuid::Uuid::new_v4().to_string())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.code(), "Request_ResourceNotFound");
    // An application object is not a directory object that can be a member (its service principal is).
    let a = app.post("/v1.0/applications", json!({"displayName": "Not A Member"})).await;
    let r = app.post(&path, reference(&app, a.body["id"].as_str().unwrap())).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    // A deleted user cannot be added.
    let u = app.create_user("gonner", "Gonner").await;
    assert_eq!(app.delete(&format!("/v1.0/users/{}", id_of(&u))).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.post(&path, reference(&app, &id_of(&u))).await.status, StatusCode::NOT_FOUND);
    for body in [
        json!({"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/not-a-guid"}),
        json!({}),
        json!({"@odata.id": 5}),
    ] {
        let r = app.post(&path, body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
    }
    let live = app.create_user("live", "Live").await;
    let mut extra = reference(&app, &id_of(&live));
    extra["displayName"] = json!("x");
    let r = app.post(&path, extra).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // The group itself must exist.
    let r =
        app.post(&format!("/v1.0/groups/{}/members/$ref", uuid::Uuid::new_v4()), reference(&app, &id_of(&live))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(ids_at(&app, &format!("/v1.0/groups/{}/members", id_of(&g))).await.is_empty());
});

api_test!(a_group_cannot_be_its_own_member, |app| {
    let g = app.create_group("Ouroboros").await;
    let r = app.post(&format!("/v1.0/groups/{}/members/$ref", id_of(&g)), reference(&app, &id_of(&g))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "Request_BadRequest");
    assert!(ids_at(&app, &format!("/v1.0/groups/{}/members", id_of(&g))).await.is_empty());
});

api_test!(a_group_cannot_be_an_owner, |app| {
    let g = app.create_group("Owned").await;
    let other = app.create_group("Would Own").await;
    let r = app.post(&format!("/v1.0/groups/{}/owners/$ref", id_of(&g)), reference(&app, &id_of(&other))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "Request_BadRequest");
    assert!(ids_at(&app, &format!("/v1.0/groups/{}/owners", id_of(&g))).await.is_empty());
});

api_test!(owners_can_be_users_and_service_principals, |app| {
    let g = app.create_group("Owned Twice").await;
    let u = app.create_user("own", "Owner").await;
    let sp = service_principal(&app, "Owning App").await;
    add(&app, "owners", &id_of(&g), &id_of(&u)).await;
    add(&app, "owners", &id_of(&g), &id_of(&sp)).await;
    let o = app.get(&format!("/v1.0/groups/{}/owners", id_of(&g))).await;
    assert_eq!(o.status, StatusCode::OK, "{}", o.text);
    let types: BTreeSet<String> =
        o.body["value"].as_array().unwrap().iter().map(|v| v["@odata.type"].as_str().unwrap().to_string()).collect();
    assert_eq!(
        types,
        ["#microsoft.graph.servicePrincipal", "#microsoft.graph.user"].into_iter().map(String::from).collect()
    );
    assert!(ids_at(&app, &format!("/v1.0/groups/{}/members", id_of(&g))).await.is_empty(), "owners are not members");
    assert_eq!(ids_at(&app, &format!("/v1.0/users/{}/ownedObjects", id_of(&u))).await, set(&[&id_of(&g)]));
    let r = app.delete(&format!("/v1.0/groups/{}/owners/{}/$ref", id_of(&g), id_of(&u))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(ids_at(&app, &format!("/v1.0/groups/{}/owners", id_of(&g))).await, set(&[&id_of(&sp)]));
    assert_eq!(
        app.delete(&format!("/v1.0/groups/{}/owners/{}/$ref", id_of(&g), id_of(&u))).await.status,
        StatusCode::NOT_FOUND
    );
});

api_test!(removing_a_member_by_ref_answers_204_then_404, |app| {
    let g = app.create_group("Leavers").await;
    let u = app.create_user("leaver", "Leaver").await;
    let stay = app.create_user("stayer", "Stayer").await;
    add(&app, "members", &id_of(&g), &id_of(&u)).await;
    add(&app, "members", &id_of(&g), &id_of(&stay)).await;
    let path = format!("/v1.0/groups/{}/members/{}/$ref", id_of(&g), id_of(&u));
    let r = app.delete(&path).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(r.text.is_empty());
    assert_eq!(ids_at(&app, &format!("/v1.0/groups/{}/members", id_of(&g))).await, set(&[&id_of(&stay)]));
    let r = app.delete(&path).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.code(), "Request_ResourceNotFound");
    let r = app.delete(&format!("/v1.0/groups/{}/members/not-a-guid/$ref", id_of(&g))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    // The user is still there; only the link went.
    assert_eq!(app.get(&format!("/v1.0/users/{}", id_of(&u))).await.status, StatusCode::OK);
});

api_test!(members_count_needs_the_header_and_counts_direct_members, |app| {
    let g = app.create_group("Counted").await;
    let inner = app.create_group("Counted Inner").await;
    for i in 0..3 {
        let u = app.create_user(&format!("cm{i}"), &format!("Cm {i}")).await;
        add(&app, "members", &id_of(&g), &id_of(&u)).await;
    }
    let nested = app.create_user("nested", "Nested").await;
    add(&app, "members", &id_of(&inner), &id_of(&nested)).await;
    add(&app, "members", &id_of(&g), &id_of(&inner)).await;
    let path = format!("/v1.0/groups/{}/members/$count", id_of(&g));
    let r = app.get(&path).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "Request_BadRequest");
    let r = app.get_eventual(&path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert_eq!(r.text, "4", "direct members only");
    let r = app.get_eventual(&format!("/v1.0/groups/{}/members?$count=true", id_of(&g))).await;
    assert_eq!(r.body["@odata.count"], json!(4), "{}", r.text);
    let r = app.get(&format!("/v1.0/groups/{}/members?$count=true", id_of(&g))).await;
    assert!(r.body.get("@odata.count").is_none(), "{}", r.text);
});

api_test!(a_deleted_member_is_neither_listed_nor_counted_until_restored, |app| {
    let g = app.create_group("Survivors").await;
    let u = app.create_user("casualty", "Casualty").await;
    let v = app.create_user("survivor", "Survivor").await;
    add(&app, "members", &id_of(&g), &id_of(&u)).await;
    add(&app, "members", &id_of(&g), &id_of(&v)).await;
    assert_eq!(app.delete(&format!("/v1.0/users/{}", id_of(&u))).await.status, StatusCode::NO_CONTENT);
    assert_eq!(ids_at(&app, &format!("/v1.0/groups/{}/members", id_of(&g))).await, set(&[&id_of(&v)]));
    let r = app.get_eventual(&format!("/v1.0/groups/{}/members/$count", id_of(&g))).await;
    assert_eq!(r.text, "1", "a deleted user is not counted");
    let r = app.get_eventual(&format!("/v1.0/groups/{}/members?$count=true", id_of(&g))).await;
    assert_eq!(r.body["@odata.count"], json!(1), "{}", r.text);
    assert_eq!(TestApp::ids(&r), vec![id_of(&v)]);
    // Pages are full: the deleted member does not leave a hole.
    let r = app.get(&format!("/v1.0/groups/{}/members?$top=1", id_of(&g))).await;
    assert_eq!(TestApp::ids(&r), vec![id_of(&v)], "{}", r.text);
    assert!(r.body.get("@odata.nextLink").is_none(), "{}", r.text);
    assert_eq!(
        app.post(&format!("/v1.0/directory/deletedItems/{}/restore", id_of(&u)), json!({})).await.status,
        StatusCode::OK
    );
    assert_eq!(app.get_eventual(&format!("/v1.0/groups/{}/members/$count", id_of(&g))).await.text, "2");
});

// ---- binding on create ----

api_test!(members_and_owners_can_be_bound_on_create, |app| {
    let u1 = app.create_user("b1", "Bound One").await;
    let u2 = app.create_user("b2", "Bound Two").await;
    let inner = app.create_group("Bound Inner").await;
    let r = app
        .post(
            "/v1.0/groups",
            json!({
                "displayName": "Bound",
                "mailEnabled": false,
                "mailNickname": "bound",
                "securityEnabled": true,
                "members@odata.bind": [bind(&app, &id_of(&u1)), bind(&app, &id_of(&inner))],
                "owners@odata.bind": [bind(&app, &id_of(&u2))]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = id_of(&r.body);
    assert_eq!(ids_at(&app, &format!("/v1.0/groups/{id}/members")).await, set(&[&id_of(&u1), &id_of(&inner)]));
    assert_eq!(ids_at(&app, &format!("/v1.0/groups/{id}/owners")).await, set(&[&id_of(&u2)]));
    assert_eq!(app.audits_for("Add member to group", &id).await.len(), 2);
    assert_eq!(app.audits_for("Add owner to group", &id).await.len(), 1);
});

api_test!(binding_an_unknown_object_on_create_creates_nothing, |app| {
    let u = app.create_user("bu", "Bound User").await;
    let r = app
        .post(
            "/v1.0/groups",
            json!({
                "displayName": "Half Bound",
                "mailEnabled": false,
                "mailNickname": "half",
                "securityEnabled": true,
                "members@odata.bind": [bind(&app, &id_of(&u)), bind(&app, &uuid::Uuid::new_v4().to_string())]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(TestApp::ids(&app.get("/v1.0/groups").await).is_empty(), "the group was not created");
    assert!(ids_at(&app, &format!("/v1.0/users/{}/memberOf", id_of(&u))).await.is_empty());
    let mut too_many = vec![];
    for _ in 0..21 {
        too_many.push(bind(&app, &id_of(&u)));
    }
    let r = app.post("/v1.0/groups", json!({"displayName": "Crowd", "mailEnabled": false, "mailNickname": "crowd", "securityEnabled": true, "members@odata.bind": too_many})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = app.post("/v1.0/groups", json!({"displayName": "Odd", "mailEnabled": false, "mailNickname": "odd", "securityEnabled": true, "managers@odata.bind": []})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(TestApp::ids(&app.get("/v1.0/groups").await).is_empty());
});

api_test!(a_group_cannot_be_bound_as_owner_on_create, |app| {
    let other = app.create_group("Would Own").await;
    let r = app
        .post(
            "/v1.0/groups",
            json!({"displayName": "Owned By Group", "mailEnabled": false, "mailNickname": "obg", "securityEnabled": true, "owners@odata.bind": [bind(&app, &id_of(&other))]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "Request_BadRequest");
    assert_eq!(ids_at(&app, "/v1.0/groups").await, set(&[&id_of(&other)]), "nothing was created");
});

api_test!(a_member_bound_twice_on_create_is_added_and_audited_once, |app| {
    let u = app.create_user("twin", "Twin").await;
    let r = app
        .post(
            "/v1.0/groups",
            json!({"displayName": "Twins", "mailEnabled": false, "mailNickname": "twins", "securityEnabled": true, "members@odata.bind": [bind(&app, &id_of(&u)), bind(&app, &id_of(&u))]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = id_of(&r.body);
    assert_eq!(ids_at(&app, &format!("/v1.0/groups/{id}/members")).await, set(&[&id_of(&u)]));
    assert_eq!(app.audits_for("Add member to group", &id).await.len(), 1);
});

// ---- nesting ----

api_test!(transitive_members_and_member_of_follow_three_levels, |app| {
    // top ⊃ middle ⊃ bottom ⊃ user
    let top = app.create_group("Top").await;
    let middle = app.create_group("Middle").await;
    let bottom = app.create_group("Bottom").await;
    let u = app.create_user("deep", "Deep").await;
    let side = app.create_user("side", "Side").await;
    add(&app, "members", &id_of(&bottom), &id_of(&u)).await;
    add(&app, "members", &id_of(&middle), &id_of(&bottom)).await;
    add(&app, "members", &id_of(&top), &id_of(&middle)).await;
    add(&app, "members", &id_of(&top), &id_of(&side)).await;

    assert_eq!(
        ids_at(&app, &format!("/v1.0/groups/{}/members", id_of(&top))).await,
        set(&[&id_of(&middle), &id_of(&side)])
    );
    let t = app.get(&format!("/v1.0/groups/{}/transitiveMembers", id_of(&top))).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    assert_eq!(
        TestApp::ids(&t).into_iter().collect::<BTreeSet<_>>(),
        set(&[&id_of(&middle), &id_of(&bottom), &id_of(&u), &id_of(&side)])
    );
    let deep = t.body["value"].as_array().unwrap().iter().find(|v| v["id"] == u["id"]).cloned().unwrap();
    assert_eq!(deep["@odata.type"], json!("#microsoft.graph.user"));
    assert_eq!(
        ids_at(&app, &format!("/v1.0/groups/{}/transitiveMembers", id_of(&middle))).await,
        set(&[&id_of(&bottom), &id_of(&u)])
    );

    assert_eq!(ids_at(&app, &format!("/v1.0/users/{}/memberOf", id_of(&u))).await, set(&[&id_of(&bottom)]));
    assert_eq!(
        ids_at(&app, &format!("/v1.0/users/{}/transitiveMemberOf", id_of(&u))).await,
        set(&[&id_of(&bottom), &id_of(&middle), &id_of(&top)])
    );
    assert_eq!(ids_at(&app, &format!("/v1.0/groups/{}/memberOf", id_of(&bottom))).await, set(&[&id_of(&middle)]));
    assert_eq!(
        ids_at(&app, &format!("/v1.0/groups/{}/transitiveMemberOf", id_of(&bottom))).await,
        set(&[&id_of(&middle), &id_of(&top)])
    );
    assert!(ids_at(&app, &format!("/v1.0/groups/{}/memberOf", id_of(&top))).await.is_empty());

    // Cutting the middle link cuts the chain.
    let r = app.delete(&format!("/v1.0/groups/{}/members/{}/$ref", id_of(&middle), id_of(&bottom))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        ids_at(&app, &format!("/v1.0/groups/{}/transitiveMembers", id_of(&top))).await,
        set(&[&id_of(&middle), &id_of(&side)])
    );
    assert_eq!(ids_at(&app, &format!("/v1.0/users/{}/transitiveMemberOf", id_of(&u))).await, set(&[&id_of(&bottom)]));
});

api_test!(a_membership_cycle_still_answers, |app| {
    let a = app.create_group("Cycle A").await;
    let b = app.create_group("Cycle B").await;
    let u = app.create_user("cyc", "Cyclist").await;
    add(&app, "members", &id_of(&b), &id_of(&a)).await;
    add(&app, "members", &id_of(&a), &id_of(&b)).await;
    add(&app, "members", &id_of(&a), &id_of(&u)).await;
    assert_eq!(
        ids_at(&app, &format!("/v1.0/groups/{}/transitiveMembers", id_of(&a))).await,
        set(&[&id_of(&b), &id_of(&u)])
    );
    assert_eq!(
        ids_at(&app, &format!("/v1.0/groups/{}/transitiveMembers", id_of(&b))).await,
        set(&[&id_of(&a), &id_of(&u)])
    );
    assert_eq!(ids_at(&app, &format!("/v1.0/groups/{}/transitiveMemberOf", id_of(&a))).await, set(&[&id_of(&b)]));
    assert_eq!(
        ids_at(&app, &format!("/v1.0/users/{}/transitiveMemberOf", id_of(&u))).await,
        set(&[&id_of(&a), &id_of(&b)])
    );
    assert_eq!(ids_at(&app, &format!("/v1.0/groups/{}/memberOf", id_of(&a))).await, set(&[&id_of(&b)]));
});

api_test!(a_deleted_nested_group_no_longer_passes_on_its_members, |app| {
    let parent = app.create_group("Parent").await;
    let nested = unified(&app, "Nested").await;
    let u = app.create_user("via", "Via").await;
    add(&app, "members", &id_of(&nested), &id_of(&u)).await;
    add(&app, "members", &id_of(&parent), &id_of(&nested)).await;
    assert_eq!(app.delete(&format!("/v1.0/groups/{}", id_of(&nested))).await.status, StatusCode::NO_CONTENT);
    assert!(ids_at(&app, &format!("/v1.0/groups/{}/transitiveMembers", id_of(&parent))).await.is_empty());
    assert!(ids_at(&app, &format!("/v1.0/users/{}/transitiveMemberOf", id_of(&u))).await.is_empty());
});

// ---- audit ----

api_test!(every_membership_change_leaves_an_audit_record, |app| {
    let g = app.create_group("Audited").await;
    let u = app.create_user("aud", "Audited User").await;
    add(&app, "members", &id_of(&g), &id_of(&u)).await;
    let added = app.audits_for("Add member to group", &id_of(&u)).await;
    assert_eq!(added.len(), 1, "{added:?}");
    let targets = added[0]["targetResources"].as_array().unwrap();
    assert!(targets.iter().any(|t| t["id"] == g["id"] && t["type"] == json!("Group")), "{targets:?}");
    assert!(targets.iter().any(|t| t["id"] == u["id"] && t["type"] == json!("User")), "{targets:?}");
    assert_eq!(added[0]["category"], json!("GroupManagement"));
    assert_eq!(added[0]["operationType"], json!("Add"));
    assert_eq!(added[0]["result"], json!("success"));

    assert_eq!(
        app.delete(&format!("/v1.0/groups/{}/members/{}/$ref", id_of(&g), id_of(&u))).await.status,
        StatusCode::NO_CONTENT
    );
    let removed = app.audits_for("Remove member from group", &id_of(&u)).await;
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert!(removed[0]["targetResources"].as_array().unwrap().iter().any(|t| t["id"] == g["id"]));
    assert_eq!(removed[0]["operationType"], json!("Delete"));

    add(&app, "owners", &id_of(&g), &id_of(&u)).await;
    assert_eq!(app.audits_for("Add owner to group", &id_of(&u)).await.len(), 1);
    assert_eq!(
        app.delete(&format!("/v1.0/groups/{}/owners/{}/$ref", id_of(&g), id_of(&u))).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.audits_for("Remove owner from group", &id_of(&u)).await.len(), 1);
    // A refused removal leaves no record.
    assert_eq!(
        app.delete(&format!("/v1.0/groups/{}/members/{}/$ref", id_of(&g), id_of(&u))).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.audits_for("Remove member from group", &id_of(&u)).await.len(), 1);
});

api_test!(membership_writes_need_a_membership_permission, |app| {
    let g = app.create_group("Guarded").await;
    let u = app.create_user("guarded", "Guarded").await;
    let reader = app.token_with(app.tenant, &["Group.Read.All".to_string()]).await;
    let r =
        app.post_as(&reader, &format!("/v1.0/groups/{}/members/$ref", id_of(&g)), reference(&app, &id_of(&u))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert_eq!(r.code(), "Authorization_RequestDenied");
    assert_eq!(app.get_as(&reader, &format!("/v1.0/groups/{}/members", id_of(&g))).await.status, StatusCode::OK);
    let writer = app.token_with(app.tenant, &["GroupMember.ReadWrite.All".to_string()]).await;
    let r =
        app.post_as(&writer, &format!("/v1.0/groups/{}/members/$ref", id_of(&g)), reference(&app, &id_of(&u))).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app
        .post_as(
            &writer,
            "/v1.0/groups",
            json!({"displayName": "No", "mailEnabled": false, "mailNickname": "no", "securityEnabled": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
});

api_test!(a_type_cast_on_members_lists_only_that_type_under_both_namespace_spellings, |app| {
    let g = app.create_group("Mixed").await;
    let inner = app.create_group("Inner").await;
    let u = app.create_user("mix", "Mixed User").await;
    let deep = app.create_user("deep", "Deep User").await;
    add(&app, "members", &id_of(&g), &id_of(&u)).await;
    add(&app, "members", &id_of(&g), &id_of(&inner)).await;
    add(&app, "members", &id_of(&inner), &id_of(&deep)).await;
    for cast in ["microsoft.graph.user", "graph.user"] {
        let r = app.get(&format!("/v1.0/groups/{}/members/{cast}", id_of(&g))).await;
        assert_eq!(r.status, StatusCode::OK, "{cast}: {}", r.text);
        let items = r.body["value"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{cast}: {}", r.text);
        assert_eq!(items[0]["id"], u["id"]);
        assert_eq!(items[0]["@odata.type"], json!("#microsoft.graph.user"));
    }
    assert_eq!(
        ids_at(&app, &format!("/v1.0/groups/{}/members/microsoft.graph.group", id_of(&g))).await,
        set(&[&id_of(&inner)])
    );
    let bad = app.get(&format!("/v1.0/groups/{}/members/microsoft.graph.device", id_of(&g))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert_eq!(bad.code(), "Request_UnsupportedQuery");
    // On a transitive list the cast is an advanced query, as in Graph.
    let plain = app.get(&format!("/v1.0/groups/{}/transitiveMembers/microsoft.graph.user", id_of(&g))).await;
    assert_eq!(plain.status, StatusCode::BAD_REQUEST, "{}", plain.text);
    assert_eq!(plain.code(), "Request_UnsupportedQuery");
    let adv = app
        .get_eventual(&format!("/v1.0/groups/{}/transitiveMembers/microsoft.graph.user?$count=true", id_of(&g)))
        .await;
    assert_eq!(adv.status, StatusCode::OK, "{}", adv.text);
    let ids: BTreeSet<String> =
        adv.body["value"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids, set(&[&id_of(&u), &id_of(&deep)]));
    assert_eq!(adv.body["@odata.count"], json!(2));
});
