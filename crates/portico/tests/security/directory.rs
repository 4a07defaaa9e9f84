//! Directory-level resources: `/organization` (privacy profile, branding), `/domains` (add, DNS
//! proof, default, remove), directory roles (definitions and assignments) and the audit log that
//! records every write with its caller and request id.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::api_test;
use crate::common::{Resp, TestApp};
use crate::isolation::{GLOBAL_ADMINISTRATOR, GUEST_INVITER};

/// Entra ID's built-in roles Portico implements, by template id.
const BUILT_IN_ROLES: &[(&str, &str)] = &[
    ("62e90394-69f5-4237-9190-012177145e10", "Global Administrator"),
    ("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator"),
    ("95e79109-95c0-4d8e-aee3-d01accf2d47b", "Guest Inviter"),
    ("729827e3-9c14-49f7-bb1b-9608f156bbb8", "Helpdesk Administrator"),
    ("9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "Application Administrator"),
    ("b1be1c3e-b65d-4f19-8427-f6fa0d97feb9", "Conditional Access Administrator"),
    ("be2f45a1-457d-42af-a067-6ec1fa63bc45", "External Identity Provider Administrator"),
    ("194ae4cb-b126-40b2-bd5b-6091b380977d", "Security Administrator"),
    ("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader"),
    ("45d8d3c5-c802-45c6-b32a-1d70b5e1e86e", "Identity Governance Administrator"),
];

fn values(r: &Resp) -> &Vec<Value> {
    r.body["value"].as_array().unwrap_or_else(|| panic!("no value array in {}", r.text))
}

fn request_id(r: &Resp) -> String {
    r.headers.get("request-id").and_then(|v| v.to_str().ok()).expect("request-id header").to_string()
}

fn assert_bad_request(r: &Resp, what: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{what}: {}", r.text);
    assert!(!r.code().is_empty(), "{what}: {}", r.text);
}

/// The audit record whose correlation id is `correlation`.
async fn audit_for(app: &TestApp, correlation: &str) -> Value {
    let r = app.get(&format!("/v1.0/auditLogs/directoryAudits?$filter=correlationId eq '{correlation}'")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = values(&r);
    assert_eq!(v.len(), 1, "one audit record for request {correlation}: {}", r.text);
    v[0].clone()
}

api_test!(organization_is_the_callers_tenant_with_its_verified_domains, |app| {
    let tid = app.tenant.to_string();
    let r = app.post("/v1.0/domains", json!({"id": "notyet.example"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app.get("/v1.0/organization").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let orgs = values(&r);
    assert_eq!(orgs.len(), 1, "{}", r.text);
    assert_eq!(orgs[0]["id"], json!(tid));
    assert_eq!(orgs[0]["displayName"], "Contoso");
    let domains = orgs[0]["verifiedDomains"].as_array().expect("verifiedDomains");
    let find = |name: &str| domains.iter().find(|d| d["name"] == json!(name)).cloned();
    let custom = find("contoso.test").expect("contoso.test is verified");
    assert_eq!(custom["isDefault"], true);
    let initial = find("contoso.portico.localhost").expect("the initial domain is verified");
    assert_eq!(initial["isInitial"], true);
    assert!(find("notyet.example").is_none(), "an unverified domain is listed as verified");
    let one = app.get(&format!("/v1.0/organization/{tid}")).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    assert_eq!(one.body["id"], json!(tid));
    assert_eq!(app.get(&format!("/v1.0/organization/{}", uuid::Uuid::new_v4())).await.status, StatusCode::NOT_FOUND);
});

api_test!(privacy_profile_is_validated_then_shown, |app| {
    let path = format!("/v1.0/organization/{}", app.tenant);
    let good = json!({"contactEmail": "privacy@contoso.test", "statementUrl": "https://contoso.test/privacy"});
    let r = app.patch(&path, json!({ "privacyProfile": good })).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let audit = audit_for(&app, &request_id(&r)).await;
    assert_eq!(audit["activityDisplayName"], "Update company settings");
    for (bad, what) in [
        (json!({"privacyProfile": {"contactEmail": "not-an-email"}}), "bad email"),
        (json!({"privacyProfile": {"contactEmail": 5}}), "email not a string"),
        (json!({"privacyProfile": {"statementUrl": "javascript:alert(1)"}}), "javascript URL"),
        (json!({"privacyProfile": {"statementUrl": "ftp://contoso.test/p"}}), "ftp URL"),
        (json!({"privacyProfile": {"statementUrl": "not a url"}}), "not a URL"),
        (json!({"privacyProfile": {"nope": "x"}}), "unknown privacyProfile property"),
        (json!({"privacyProfile": "x"}), "privacyProfile not an object"),
        (json!({"displayName": "Renamed"}), "read-only displayName"),
        (json!({"technicalNotificationMails": ["bad"]}), "bad notification mail"),
        (json!({"nope": 1}), "unknown property"),
    ] {
        assert_bad_request(&app.patch(&path, bad).await, what);
    }
    let r = app.get(&path).await;
    assert_eq!(r.body["privacyProfile"], good, "refused PATCHes changed the profile");
    assert_eq!(r.body["displayName"], "Contoso");
    let r = app.get("/v1.0/organization").await;
    assert_eq!(values(&r)[0]["privacyProfile"], good);
    // Clearing works.
    let r = app.patch(&path, json!({"privacyProfile": {"statementUrl": null}})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        app.get(&path).await.body["privacyProfile"],
        json!({"contactEmail": "privacy@contoso.test", "statementUrl": null})
    );
});

api_test!(branding_is_absent_until_set_and_validated, |app| {
    let path = format!("/v1.0/organization/{}/branding", app.tenant);
    let r = app.get(&path).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_eq!(r.code(), "Request_ResourceNotFound");
    let r = app.patch(&path, json!({"backgroundColor": "#0078D4", "signInPageText": "Welcome to Contoso"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    for (bad, what) in [
        (json!({"backgroundColor": "blue"}), "named colour"),
        (json!({"backgroundColor": "#12345"}), "short colour"),
        (json!({"backgroundColor": "#GGGGGG"}), "not hex"),
        (json!({"backgroundColor": 255}), "colour not a string"),
        (json!({"customPrivacyAndCookiesUrl": "javascript:alert(1)"}), "javascript URL"),
        (json!({"signInPageText": "x".repeat(1025)}), "text too long"),
        (json!({"nope": "x"}), "unknown property"),
        (json!({"loginPageTextVisibilitySettings": "x"}), "settings not an object"),
    ] {
        assert_bad_request(&app.patch(&path, bad).await, what);
    }
    let r = app.patch(&path, json!({"bannerLogo": "iVBORw0KGgo="})).await;
    assert_eq!(r.status, StatusCode::NOT_IMPLEMENTED, "{}", r.text);
    assert_eq!(r.code(), "notSupported");
    let r = app.get(&path).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["backgroundColor"], "#0078D4");
    assert_eq!(r.body["signInPageText"], "Welcome to Contoso");
    assert_eq!(r.body["customPrivacyAndCookiesUrl"], Value::Null);
    // A branding of another organization id is not this tenant's.
    assert_eq!(
        app.get(&format!("/v1.0/organization/{}/branding", uuid::Uuid::new_v4())).await.status,
        StatusCode::NOT_FOUND
    );
});

api_test!(domains_are_added_unverified_proven_by_dns_and_removed, |app| {
    let r = app.get("/v1.0/domains").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let names: Vec<&str> = values(&r).iter().filter_map(|d| d["id"].as_str()).collect();
    assert!(names.contains(&"contoso.test") && names.contains(&"contoso.portico.localhost"), "{names:?}");
    let name = format!("unverified-{}.test", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let r = app.post("/v1.0/domains", json!({ "id": name.to_uppercase() })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["id"], json!(name), "domain names are stored lowercased");
    assert_eq!(r.body["isVerified"], false);
    assert_eq!(r.body["isDefault"], false);
    assert_bad_request(&app.post("/v1.0/domains", json!({ "id": name })).await, "duplicate");
    for bad in [
        "gmail.com",
        "Outlook.com",
        "tenant.portico.localhost",
        "portico.localhost",
        "not a domain",
        "-x.test",
        "x",
        "",
    ] {
        assert_bad_request(&app.post("/v1.0/domains", json!({ "id": bad })).await, bad);
    }
    assert_bad_request(&app.post("/v1.0/domains", json!({})).await, "no id");
    assert_bad_request(
        &app.post("/v1.0/domains", json!({"id": "ok.example", "isVerified": true})).await,
        "isVerified is read-only",
    );

    let r = app.get(&format!("/v1.0/domains/{name}/verificationDnsRecords")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let rec = &values(&r)[0];
    assert_eq!(rec["recordType"], "Txt");
    assert_eq!(rec["label"], json!(name));
    let text = rec["text"].as_str().expect("text");
    assert!(text.starts_with("MS=ms") && text.len() > 5, "{text}");
    // No TXT record exists for the name: verification fails and the domain stays unverified.
    let r = app.post(&format!("/v1.0/domains/{name}/verify"), json!({})).await;
    assert_bad_request(&r, "verify without DNS proof");
    assert_eq!(app.get(&format!("/v1.0/domains/{name}")).await.body["isVerified"], false);
    assert_bad_request(
        &app.patch(&format!("/v1.0/domains/{name}"), json!({"isDefault": true})).await,
        "unverified default",
    );
    assert_eq!(app.get("/v1.0/domains/contoso.test").await.body["isDefault"], true);
    // Users cannot be created on it.
    let r = app
        .post("/v1.0/users", json!({"accountEnabled": true, "displayName": "U", "mailNickname": "u", "userPrincipalName": format!("u@{name}"), "passwordProfile": {"password": "correct horse battery staple"}}))
        .await;
    assert_bad_request(&r, "user on an unverified domain");

    // Only a verified domain becomes the default; the default and the initial domain stay.
    assert_bad_request(&app.delete("/v1.0/domains/contoso.portico.localhost").await, "delete initial");
    assert_bad_request(&app.delete("/v1.0/domains/contoso.test").await, "delete default");
    assert_bad_request(&app.patch("/v1.0/domains/contoso.test", json!({"isDefault": false})).await, "unset default");
    let r = app.patch("/v1.0/domains/contoso.portico.localhost", json!({"isDefault": true})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let defaults: Vec<String> = values(&app.get("/v1.0/domains").await)
        .iter()
        .filter(|d| d["isDefault"] == true)
        .filter_map(|d| d["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(defaults, vec!["contoso.portico.localhost".to_string()]);

    let r = app.delete(&format!("/v1.0/domains/{name}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(app.get(&format!("/v1.0/domains/{name}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&format!("/v1.0/domains/{name}")).await.status, StatusCode::NOT_FOUND);
});

api_test!(a_removed_domain_no_longer_names_the_tenant, |app| {
    let discovery = |app: &TestApp, key: &str| {
        let url = format!("{}/{key}/v2.0/.well-known/openid-configuration", app.base);
        let http = app.http.clone();
        async move { http.get(url).send().await.expect("discovery").status() }
    };
    assert_eq!(discovery(&app, "contoso.test").await, StatusCode::OK);
    let r = app.patch("/v1.0/domains/contoso.portico.localhost", json!({"isDefault": true})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app.delete("/v1.0/domains/contoso.test").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(audit_for(&app, &request_id(&r)).await["activityDisplayName"], "Remove verified domain");
    assert_eq!(discovery(&app, "contoso.test").await, StatusCode::BAD_REQUEST);
    assert_eq!(discovery(&app, "contoso.portico.localhost").await, StatusCode::OK);
    let org = app.get("/v1.0/organization").await;
    assert!(!org.text.contains("\"contoso.test\""), "{}", org.text);
    let r = app
        .post("/v1.0/users", json!({"accountEnabled": true, "displayName": "U", "mailNickname": "u", "userPrincipalName": "u@contoso.test", "passwordProfile": {"password": "correct horse battery staple"}}))
        .await;
    assert_bad_request(&r, "user on a removed domain");
});

api_test!(role_definitions_are_entras_built_in_roles, |app| {
    let r = app.get("/v1.0/roleManagement/directory/roleDefinitions").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut got: Vec<(String, String)> = values(&r)
        .iter()
        .map(|d| (d["id"].as_str().expect("id").to_string(), d["displayName"].as_str().expect("name").to_string()))
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> =
        BUILT_IN_ROLES.iter().map(|(i, n)| ((*i).to_string(), (*n).to_string())).collect();
    want.sort();
    assert_eq!(got, want);
    for d in values(&r) {
        assert_eq!(d["isBuiltIn"], true);
        assert_eq!(d["templateId"], d["id"]);
        assert!(d["rolePermissions"][0]["allowedResourceActions"].as_array().is_some_and(|a| !a.is_empty()), "{d}");
    }
    let r = app.get("/v1.0/roleManagement/directory/roleDefinitions?$filter=displayName eq 'Guest Inviter'").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(values(&r).len(), 1);
    assert_eq!(values(&r)[0]["id"], GUEST_INVITER);
    let r = app.get("/v1.0/roleManagement/directory/roleDefinitions?$filter=displayName eq 'Nobody'").await;
    assert_eq!(values(&r).len(), 0);
    let r = app.get(&format!("/v1.0/roleManagement/directory/roleDefinitions/{GLOBAL_ADMINISTRATOR}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["displayName"], "Global Administrator");
    assert_eq!(
        app.get(&format!("/v1.0/roleManagement/directory/roleDefinitions/{}", uuid::Uuid::new_v4())).await.status,
        StatusCode::NOT_FOUND
    );
    let r = app.get("/v1.0/roleManagement/directory/roleDefinitions?$filter=startsWith(displayName,'G')").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
});

api_test!(role_assignments_are_created_listed_and_removed, |app| {
    let user = app.create_user("ria", "Ria Role").await;
    let uid = user["id"].as_str().expect("id").to_string();
    let path = "/v1.0/roleManagement/directory/roleAssignments";
    let r =
        app.post(path, json!({"principalId": uid, "roleDefinitionId": GUEST_INVITER, "directoryScopeId": "/"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let aid = r.body["id"].as_str().expect("id").to_string();
    assert_eq!(r.body["principalId"], json!(uid));
    assert_eq!(r.body["roleDefinitionId"], GUEST_INVITER);
    assert_eq!(r.body["directoryScopeId"], "/");
    let audit = audit_for(&app, &request_id(&r)).await;
    assert_eq!(audit["activityDisplayName"], "Add member to role");
    assert_bad_request(
        &app.post(path, json!({"principalId": uid, "roleDefinitionId": GUEST_INVITER})).await,
        "duplicate assignment",
    );
    // Another role for the same user is another assignment.
    let r = app.post(path, json!({"principalId": uid, "roleDefinitionId": GLOBAL_ADMINISTRATOR})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    let r = app.get(&format!("{path}?$filter=principalId eq '{uid}'")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(values(&r).len(), 2, "{}", r.text);
    assert!(values(&r).iter().all(|a| a["principalId"] == json!(uid)));
    let r = app.get(&format!("{path}?$filter=principalId eq '{uid}' and roleDefinitionId eq '{GUEST_INVITER}'")).await;
    assert_eq!(values(&r).len(), 1, "{}", r.text);
    assert_eq!(values(&r)[0]["id"], json!(aid));
    let r = app.get(&format!("{path}/{aid}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["roleDefinitionId"], GUEST_INVITER);

    let r = app.delete(&format!("{path}/{aid}")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(audit_for(&app, &request_id(&r)).await["activityDisplayName"], "Remove member from role");
    assert_eq!(app.get(&format!("{path}/{aid}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.delete(&format!("{path}/{aid}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(values(&app.get(&format!("{path}?$filter=principalId eq '{uid}'")).await).len(), 1);

    // Groups need isAssignableToRole.
    let plain = app.create_group("Not for roles").await;
    let r = app.post(path, json!({"principalId": plain["id"], "roleDefinitionId": GUEST_INVITER})).await;
    assert_bad_request(&r, "group without isAssignableToRole");
    let r = app.post("/v1.0/groups", json!({"displayName": "Role group", "mailEnabled": false, "mailNickname": "rolegroup", "securityEnabled": true, "isAssignableToRole": true})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app.post(path, json!({"principalId": r.body["id"], "roleDefinitionId": GUEST_INVITER})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    // Unknown roles and principals.
    assert_bad_request(
        &app.post(path, json!({"principalId": uid, "roleDefinitionId": uuid::Uuid::new_v4().to_string()})).await,
        "unknown role",
    );
    assert_bad_request(
        &app.post(path, json!({"principalId": "nope", "roleDefinitionId": GUEST_INVITER})).await,
        "principal not a GUID",
    );
    let r = app
        .post(path, json!({"principalId": uuid::Uuid::new_v4().to_string(), "roleDefinitionId": GUEST_INVITER}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert_bad_request(&app.post(path, json!({"roleDefinitionId": GUEST_INVITER})).await, "no principal");
});

api_test!(audit_log_records_each_write_with_its_caller_and_request_id, |app| {
    let claims = portico_core::jws::decode_unverified(&app.token).expect("token").claims;
    let (client_id, client_sp) = (claims["appid"].clone(), claims["oid"].clone());
    // A few writes of different categories.
    let mut writes = vec![];
    let r = app
        .post("/v1.0/users", json!({"accountEnabled": true, "displayName": "Audited", "mailNickname": "audited", "userPrincipalName": "audited@contoso.test", "passwordProfile": {"password": "correct horse battery staple"}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let uid = r.body["id"].as_str().expect("id").to_string();
    writes.push((request_id(&r), "UserManagement", "Add user"));
    let r = app.patch(&format!("/v1.0/organization/{}", app.tenant), json!({"preferredLanguage": "fr"})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    writes.push((request_id(&r), "DirectoryManagement", "Update company settings"));
    let r = app
        .post(
            "/v1.0/roleManagement/directory/roleAssignments",
            json!({"principalId": uid, "roleDefinitionId": GUEST_INVITER}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    writes.push((request_id(&r), "RoleManagement", "Add member to role"));
    let r = app.post("/v1.0/domains", json!({"id": "audited.example"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    writes.push((request_id(&r), "DirectoryManagement", "Add unverified domain"));
    // A refused write leaves no record.
    let refused = app.post("/v1.0/domains", json!({"id": "gmail.com"})).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);

    for (rid, category, activity) in &writes {
        let e = audit_for(&app, rid).await;
        assert_eq!(e["category"], json!(category), "{e}");
        assert_eq!(e["activityDisplayName"], json!(activity), "{e}");
        assert_eq!(e["result"], "success");
        assert_eq!(e["initiatedBy"]["app"]["appId"], client_id, "{e}");
        assert_eq!(e["initiatedBy"]["app"]["servicePrincipalId"], client_sp, "{e}");
        assert_eq!(e["initiatedBy"]["user"], Value::Null, "{e}");
        let one = app.get(&format!("/v1.0/auditLogs/directoryAudits/{}", e["id"].as_str().expect("id"))).await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.text);
        assert_eq!(one.body["correlationId"], json!(rid));
    }
    let r =
        app.get(&format!("/v1.0/auditLogs/directoryAudits?$filter=correlationId eq '{}'", request_id(&refused))).await;
    assert_eq!(values(&r).len(), 0, "a refused write was audited: {}", r.text);

    // Filter by category.
    let r = app.get("/v1.0/auditLogs/directoryAudits?$filter=category eq 'RoleManagement'").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!values(&r).is_empty());
    assert!(values(&r).iter().all(|e| e["category"] == "RoleManagement"), "{}", r.text);
    assert!(values(&r).iter().any(|e| e["correlationId"] == json!(writes[2].0)));

    // Default order: newest first.
    let all = app.get("/v1.0/auditLogs/directoryAudits?$top=999").await;
    let entries = values(&all).clone();
    let times: Vec<&str> = entries.iter().map(|e| e["activityDateTime"].as_str().expect("activityDateTime")).collect();
    let ms = |t: &str| portico_core::clock::parse_rfc3339_millis(t).unwrap_or_else(|| panic!("not RFC 3339: {t}"));
    assert!(times.windows(2).all(|w| ms(w[0]) >= ms(w[1])), "not newest first: {times:?}");
    let first_write = entries.iter().position(|e| e["correlationId"] == json!(writes[0].0)).expect("first write");
    let last_write = entries.iter().position(|e| e["correlationId"] == json!(writes[3].0)).expect("last write");
    assert!(last_write < first_write, "the last write is listed after the first");

    // activityDateTime ge / le bracket the role assignment's record.
    let e = audit_for(&app, &writes[2].0).await;
    let t = e["activityDateTime"].as_str().expect("time").to_string();
    let id = e["id"].clone();
    let has = |r: &Resp| values(r).iter().any(|x| x["id"] == id);
    let r = app
        .get(&format!(
            "/v1.0/auditLogs/directoryAudits?$top=999&$filter=activityDateTime ge {t} and activityDateTime le {t}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(has(&r), "ge/le of its own time miss it: {}", r.text);
    assert!(values(&r).iter().all(|x| x["activityDateTime"] == json!(t)));
    let r = app.get(&format!("/v1.0/auditLogs/directoryAudits?$top=999&$filter=activityDateTime gt {t}")).await;
    assert!(!has(&r));
    let r = app.get("/v1.0/auditLogs/directoryAudits?$filter=activityDateTime ge 2000-01-01T00:00:00Z and activityDateTime le 2000-01-02T00:00:00Z").await;
    assert_eq!(values(&r).len(), 0, "{}", r.text);
    let r = app.get("/v1.0/auditLogs/directoryAudits?$top=999&$filter=activityDateTime ge 2000-01-01T00:00:00Z").await;
    assert_eq!(values(&r).len(), entries.len());

    // Paging with $top follows @odata.nextLink through every record once, in order.
    let mut seen = vec![];
    let mut next = Some(format!("{}/v1.0/auditLogs/directoryAudits?$top=2", app.base));
    let mut pages = 0;
    while let Some(link) = next {
        pages += 1;
        assert!(pages <= entries.len(), "paging does not end");
        let r = app.raw(app.http.get(&link).bearer_auth(&app.token)).await;
        assert_eq!(r.status, StatusCode::OK, "{link}: {}", r.text);
        assert!(values(&r).len() <= 2);
        seen.extend(values(&r).iter().map(|e| e["id"].clone()));
        next = r.body["@odata.nextLink"].as_str().map(str::to_owned);
        if let Some(n) = &next {
            assert!(n.starts_with(&app.base) && n.contains("skiptoken"), "{n}");
        }
    }
    let ids: Vec<Value> = entries.iter().map(|e| e["id"].clone()).collect();
    assert_eq!(seen, ids, "paged records differ from the full list");
    // $count needs no header on the audit log.
    let r = app.get("/v1.0/auditLogs/directoryAudits?$count=true&$top=1").await;
    assert_eq!(r.body["@odata.count"], json!(entries.len()), "{}", r.text);
});
