//! `authorizationPolicy.guestUserRoleId` on the directory reads of a guest: same access as
//! members, limited (the default: itself, and users and groups it shares a group with) and
//! restricted (itself only). Members, guests holding a directory role and applications are not
//! narrowed, and a changed policy applies to the next request of a token already issued.

use portico_core::b2b::guest_role;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::common::{Resp, TestApp};

/// Delegated scopes that allow every read, so that a refusal comes from the guest rule.
const READ_ALL: &str = "User.Read Directory.Read.All";

/// Properties of another user a limited guest may see.
const BASIC: &[&str] = &["id", "displayName", "givenName", "surname", "mail", "userPrincipalName", "userType"];

/// The directory a guest looks at: the guest and a teammate in "Project" (itself inside
/// "Programme"), a stranger in "Other", a member in no group, and their tokens.
struct World {
    guest: Value,
    teammate: Value,
    stranger: Value,
    member: Value,
    project: String,
    programme: String,
    other: String,
    guest_token: String,
    member_token: String,
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

async fn user(app: &TestApp, alias: &str, user_type: &str) -> Value {
    let r = app
        .post(
            "/v1.0/users",
            json!({
                "accountEnabled": true, "displayName": alias, "mailNickname": alias,
                "userPrincipalName": format!("{alias}@{}", app.domain()), "mail": format!("{alias}@{}", app.domain()),
                "givenName": alias, "surname": "Tester", "jobTitle": "Engineer", "department": "R&D",
                "userType": user_type,
                "passwordProfile": {"password": "correct horse battery staple", "forceChangePasswordNextSignIn": false}
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "create {alias}: {}", r.text);
    r.body
}

async fn add_member(app: &TestApp, group: &str, member: &str) {
    let body = json!({"@odata.id": format!("{}/v1.0/directoryObjects/{member}", app.base)});
    let r = app.post(&format!("/v1.0/groups/{group}/members/$ref"), body).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
}

async fn world(app: &TestApp) -> World {
    let guest = user(app, "guest", "Guest").await;
    let teammate = user(app, "teammate", "Member").await;
    let stranger = user(app, "stranger", "Member").await;
    let member = user(app, "member", "Member").await;
    let project = id(&app.create_group("Project").await);
    let programme = id(&app.create_group("Programme").await);
    let other = id(&app.create_group("Other").await);
    add_member(app, &project, &id(&guest)).await;
    add_member(app, &project, &id(&teammate)).await;
    add_member(app, &programme, &project).await;
    add_member(app, &other, &id(&stranger)).await;
    let guest_token = app.delegated_token(&guest, READ_ALL, &[]).await;
    let member_token = app.delegated_token(&member, READ_ALL, &[]).await;
    World { guest, teammate, stranger, member, project, programme, other, guest_token, member_token }
}

/// Sets the tenant's guest access level, as `PATCH /policies/authorizationPolicy` stores it.
async fn set_level(app: &TestApp, role_id: &str) {
    let mut conn = app.state.dir.store.pool().acquire().await.expect("conn");
    let now = portico_core::clock::to_millis(time::OffsetDateTime::now_utc());
    portico_store::b2b::set_policy(
        &mut conn,
        app.tenant,
        "authorizationPolicy",
        &json!({"guestUserRoleId": role_id}),
        now,
    )
    .await
    .expect("set authorizationPolicy");
}

fn assert_denied(r: &Resp, what: &str) {
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {}", r.text);
    assert_eq!(r.code(), "Authorization_RequestDenied", "{what}: {}", r.text);
    assert_eq!(r.body["error"]["message"], json!("Insufficient privileges to complete the operation."), "{what}");
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().expect("object").keys().filter(|k| !k.starts_with('@')).cloned().collect()
}

/// Status of every read of the matrix for `token`: (path, status).
async fn statuses(app: &TestApp, token: &str, w: &World) -> Vec<(String, StatusCode)> {
    let paths = [
        "/v1.0/users".to_string(),
        format!("/v1.0/users/{}", id(&w.guest)),
        "/v1.0/me".to_string(),
        format!("/v1.0/users/{}", id(&w.teammate)),
        format!("/v1.0/users/{}", id(&w.stranger)),
        "/v1.0/groups".to_string(),
        format!("/v1.0/groups/{}", w.project),
        format!("/v1.0/groups/{}/members", w.project),
        format!("/v1.0/groups/{}", w.other),
        format!("/v1.0/groups/{}/members", w.other),
        format!("/v1.0/users/{}/memberOf", id(&w.guest)),
        "/v1.0/applications".to_string(),
        "/v1.0/organization".to_string(),
    ];
    let mut out = vec![];
    for p in paths {
        let r = app.get_as(token, &p).await;
        if r.status == StatusCode::FORBIDDEN {
            assert_denied(&r, &p);
        }
        out.push((p, r.status));
    }
    out
}

const OK: StatusCode = StatusCode::OK;
const NO: StatusCode = StatusCode::FORBIDDEN;

api_test!(each_guest_access_level_allows_its_own_set_of_reads, |app| {
    let w = world(&app).await;
    //                list  self  me    mate  strgr groups proj  membs other membs memberOf apps  org
    let same = [OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK, OK];
    let limited = [NO, OK, OK, OK, NO, NO, OK, OK, NO, NO, OK, NO, OK];
    let restricted = [NO, OK, OK, NO, NO, NO, NO, NO, NO, NO, OK, NO, OK];
    // No policy document: Entra's default, limited.
    let got = statuses(&app, &w.guest_token, &w).await;
    assert_eq!(got.iter().map(|(_, s)| *s).collect::<Vec<_>>(), limited, "default (limited): {got:?}");
    for (role, expected, name) in [
        (guest_role::USER, same, "same as members"),
        (guest_role::GUEST_USER, limited, "limited"),
        (guest_role::RESTRICTED_GUEST_USER, restricted, "restricted"),
    ] {
        set_level(&app, role).await;
        let got = statuses(&app, &w.guest_token, &w).await;
        assert_eq!(got.iter().map(|(_, s)| *s).collect::<Vec<_>>(), expected, "{name}: {got:?}");
        // A member reads everything whatever the guest level.
        let member = statuses(&app, &w.member_token, &w).await;
        assert!(member.iter().all(|(_, s)| *s == OK), "member under {name}: {member:?}");
    }
});

api_test!(limited_guests_see_other_users_basic_profile_only, |app| {
    let w = world(&app).await;
    let t = &w.guest_token;
    // Itself: in full, $select included.
    let r = app.get_as(t, &format!("/v1.0/users/{}?$select=department,jobTitle", id(&w.guest))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["department"], json!("R&D"));
    let r = app.get_as(t, &format!("/v1.0/users/{}", id(&w.guest))).await;
    assert_eq!(r.body["jobTitle"], json!("Engineer"));
    // A teammate, by id or user principal name: the basic profile, whatever $select asks.
    for key in [id(&w.teammate), w.teammate["userPrincipalName"].as_str().expect("upn").to_string()] {
        let r = app.get_as(t, &format!("/v1.0/users/{key}")).await;
        assert_eq!(r.status, StatusCode::OK, "{key}: {}", r.text);
        assert_eq!(r.body["displayName"], json!("teammate"));
        assert_eq!(r.body["mail"], w.teammate["mail"]);
        assert!(keys(&r.body).iter().all(|k| BASIC.contains(&k.as_str())), "{key}: {}", r.text);
        assert!(r.body.get("jobTitle").is_none(), "{}", r.text);
    }
    let r = app.get_as(t, &format!("/v1.0/users/{}?$select=department,userType,displayName", id(&w.teammate))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut shown = keys(&r.body);
    shown.sort();
    assert_eq!(shown, ["displayName", "userType"], "{}", r.text);
    assert_eq!(r.body["userType"], json!("Member"));
    assert!(r.body.get("department").is_none(), "{}", r.text);
    // The same teammate in the shared group's member list: basic too; the guest sees itself too.
    let r = app.get_as(t, &format!("/v1.0/groups/{}/members", w.project)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut ids = TestApp::ids(&r);
    ids.sort();
    let mut want = vec![id(&w.guest), id(&w.teammate)];
    want.sort();
    assert_eq!(ids, want);
    for m in r.body["value"].as_array().expect("value") {
        assert!(m.get("jobTitle").is_none(), "{m}");
    }
    // The group nesting "Project": the guest belongs to it through nesting.
    let r = app.get_as(t, &format!("/v1.0/groups/{}", w.programme)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["displayName"], json!("Programme"));
    let r = app.get_as(t, &format!("/v1.0/groups/{}/transitiveMembers", w.programme)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(TestApp::ids(&r).len(), 3, "Project and its two members: {}", r.text);
    // Its own groups, with their properties.
    let r = app.get_as(t, &format!("/v1.0/users/{}/transitiveMemberOf", id(&w.guest))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(TestApp::ids(&r).len(), 2, "{}", r.text);
    assert!(r.body["value"].as_array().expect("value").iter().all(|g| g["displayName"].is_string()));
});

api_test!(limited_guests_cannot_probe_or_enumerate, |app| {
    let w = world(&app).await;
    let t = &w.guest_token;
    let stranger_upn = w.stranger["userPrincipalName"].as_str().expect("upn");
    let unknown = portico_core::ids::ObjectId::new();
    for path in [
        // Lists and counts.
        "/v1.0/users?$filter=userType eq 'Member'".to_string(),
        "/v1.0/groups?$top=1".to_string(),
        "/v1.0/directory/deletedItems/microsoft.graph.user".to_string(),
        "/v1.0/directory/deletedItems/microsoft.graph.group".to_string(),
        // A stranger (by id or name) and an object that does not exist look the same.
        format!("/v1.0/users/{stranger_upn}"),
        format!("/v1.0/users/{unknown}"),
        format!("/v1.0/users/nobody@{}", app.domain()),
        format!("/v1.0/groups/{unknown}"),
        format!("/v1.0/directory/deletedItems/{unknown}"),
        // Other users' groups, and groups the guest is not in.
        format!("/v1.0/users/{}/memberOf", id(&w.teammate)),
        format!("/v1.0/groups/{}/owners", w.other),
        format!("/v1.0/groups/{}/transitiveMembers", w.other),
        format!("/v1.0/groups/{}/memberOf", w.other),
        // The rest of the directory.
        "/v1.0/servicePrincipals".to_string(),
        "/v1.0/oauth2PermissionGrants".to_string(),
        "/v1.0/roleManagement/directory/roleDefinitions".to_string(),
        "/v1.0/roleManagement/directory/roleAssignments".to_string(),
        "/v1.0/domains".to_string(),
        format!("/v1.0/domains/{}", app.domain()),
    ] {
        assert_denied(&app.get_as(t, &path).await, &path);
    }
    for path in ["/v1.0/users/$count", "/v1.0/groups/$count"] {
        assert_denied(&app.get_eventual_as(t, path).await, path);
    }
    // The organization: its name and domains, not its settings.
    let r = app.get_as(t, "/v1.0/organization").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let org = &r.body["value"][0];
    assert_eq!(org["displayName"], json!("Contoso"));
    assert!(org["verifiedDomains"].as_array().is_some_and(|d| !d.is_empty()), "{}", r.text);
    assert!(org.get("technicalNotificationMails").is_none() && org.get("privacyProfile").is_none(), "{}", r.text);
    let r = app.get_as(t, &format!("/v1.0/organization/{}", app.tenant)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(keys(&r.body).len(), 3, "{}", r.text);
    // A member sees the organization in full.
    let r = app.get_as(&w.member_token, &format!("/v1.0/organization/{}", app.tenant)).await;
    assert!(r.body.get("technicalNotificationMails").is_some(), "{}", r.text);
});

api_test!(restricted_guests_see_only_their_own_objects, |app| {
    let w = world(&app).await;
    set_level(&app, guest_role::RESTRICTED_GUEST_USER).await;
    let t = &w.guest_token;
    let r = app.get_as(t, "/v1.0/me").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["jobTitle"], json!("Engineer"));
    for path in [
        format!("/v1.0/users/{}", id(&w.teammate)),
        format!("/v1.0/users/{}", w.teammate["userPrincipalName"].as_str().expect("upn")),
        format!("/v1.0/groups/{}", w.project),
        format!("/v1.0/groups/{}/members", w.project),
        format!("/v1.0/groups/{}/owners", w.project),
        format!("/v1.0/groups/{}/members/$count", w.project),
        format!("/v1.0/users/{}/memberOf", id(&w.teammate)),
    ] {
        let r = if path.ends_with("$count") { app.get_eventual_as(t, &path).await } else { app.get_as(t, &path).await };
        assert_denied(&r, &path);
    }
    // Its own groups: their ids, nothing more.
    let r = app.get_as(t, &format!("/v1.0/users/{}/memberOf", id(&w.guest))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(TestApp::ids(&r), vec![w.project.clone()]);
    assert_eq!(keys(&r.body["value"][0]), vec!["id".to_string()], "{}", r.text);
    assert_eq!(r.body["value"][0]["@odata.type"], json!("#microsoft.graph.group"));
    let r = app.get_as(t, "/v1.0/organization").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(keys(&r.body["value"][0]).len(), 3, "{}", r.text);
});

api_test!(members_read_as_before_whatever_the_guest_level, |app| {
    let w = world(&app).await;
    set_level(&app, guest_role::RESTRICTED_GUEST_USER).await;
    let t = &w.member_token;
    let r = app.get_as(t, "/v1.0/users").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for u in [&w.guest, &w.teammate, &w.stranger, &w.member] {
        assert!(TestApp::ids(&r).contains(&id(u)));
    }
    let r = app.get_as(t, &format!("/v1.0/users/{}?$select=department", id(&w.stranger))).await;
    assert_eq!(r.body["department"], json!("R&D"), "{}", r.text);
    let r = app.get_as(t, &format!("/v1.0/users/{}/memberOf", id(&w.stranger))).await;
    assert_eq!(TestApp::ids(&r), vec![w.other.clone()], "{}", r.text);
    let r = app.get_as(t, &format!("/v1.0/groups/{}/members", w.other)).await;
    assert_eq!(r.body["value"][0]["jobTitle"], json!("Engineer"), "{}", r.text);
    for path in ["/v1.0/groups", "/v1.0/applications", "/v1.0/servicePrincipals", "/v1.0/domains"] {
        assert_eq!(app.get_as(t, path).await.status, StatusCode::OK, "{path}");
    }
    assert_eq!(app.get_eventual_as(t, "/v1.0/users/$count").await.status, StatusCode::OK);
    // Members still need the scopes and roles they needed.
    let narrow = app.delegated_token(&w.member, "User.Read", &[]).await;
    assert_denied(&app.get_as(&narrow, "/v1.0/users").await, "member with User.Read only");
    assert_denied(&app.get_as(t, "/v1.0/auditLogs/directoryAudits").await, "member without a role");
});

api_test!(app_only_callers_are_never_guests, |app| {
    let w = world(&app).await;
    set_level(&app, guest_role::RESTRICTED_GUEST_USER).await;
    let reader = app.token_with(app.tenant, &["User.Read.All".to_string(), "GroupMember.Read.All".to_string()]).await;
    let r = app.get_as(&reader, "/v1.0/users").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(TestApp::ids(&r).contains(&id(&w.guest)));
    let r = app.get_as(&reader, &format!("/v1.0/users/{}", id(&w.stranger))).await;
    assert_eq!(r.body["jobTitle"], json!("Engineer"), "{}", r.text);
    let r = app.get_as(&reader, &format!("/v1.0/groups/{}/members", w.other)).await;
    assert_eq!(TestApp::ids(&r), vec![id(&w.stranger)], "{}", r.text);
    assert_eq!(app.get_as(&reader, "/v1.0/groups").await.status, StatusCode::OK);
});

api_test!(a_guest_holding_a_directory_role_reads_as_the_role_allows, |app| {
    let w = world(&app).await;
    set_level(&app, guest_role::RESTRICTED_GUEST_USER).await;
    // Global Reader: every read, without the guest limits.
    let t = app.delegated_token(&w.guest, READ_ALL, &["f2ef992c-3afb-46b9-b7cf-a126ee74c451"]).await;
    for path in ["/v1.0/users", "/v1.0/groups", "/v1.0/applications", "/v1.0/domains"] {
        assert_eq!(app.get_as(&t, path).await.status, StatusCode::OK, "{path}");
    }
    let r = app.get_as(&t, &format!("/v1.0/users/{}", id(&w.stranger))).await;
    assert_eq!(r.body["jobTitle"], json!("Engineer"), "{}", r.text);
    // Application Administrator: applications, but still no users beyond itself.
    let t = app.delegated_token(&w.guest, READ_ALL, &["9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"]).await;
    assert_eq!(app.get_as(&t, "/v1.0/applications").await.status, StatusCode::OK);
    assert_denied(&app.get_as(&t, "/v1.0/users").await, "Application Administrator guest lists users");
    assert_denied(
        &app.get_as(&t, "/v1.0/directory/deletedItems/microsoft.graph.user").await,
        "Application Administrator guest lists deleted users",
    );
});

api_test!(a_changed_policy_or_user_type_applies_to_the_next_request, |app| {
    let w = world(&app).await;
    let t = &w.guest_token;
    let mate = format!("/v1.0/users/{}", id(&w.teammate));
    assert_eq!(app.get_as(t, &mate).await.status, StatusCode::OK);
    set_level(&app, guest_role::RESTRICTED_GUEST_USER).await;
    assert_denied(&app.get_as(t, &mate).await, "restricted");
    set_level(&app, guest_role::USER).await;
    assert_eq!(app.get_as(t, "/v1.0/users").await.status, StatusCode::OK);
    // An unknown role id is the default, limited.
    set_level(&app, "00000000-0000-0000-0000-000000000000").await;
    assert_denied(&app.get_as(t, "/v1.0/users").await, "unknown role id");
    assert_eq!(app.get_as(t, &mate).await.status, StatusCode::OK);
    // The guest made a member: the same token now reads like one; made a guest again, it does not.
    let r = app.patch(&format!("/v1.0/users/{}", id(&w.guest)), json!({"userType": "Member"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get_as(t, "/v1.0/users").await.status, StatusCode::OK);
    let r = app.patch(&format!("/v1.0/users/{}", id(&w.guest)), json!({"userType": "Guest"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_denied(&app.get_as(t, "/v1.0/users").await, "a guest again");
    // The member of the fixture was never affected.
    assert_eq!(app.get_as(&w.member_token, "/v1.0/users").await.status, StatusCode::OK);
});
