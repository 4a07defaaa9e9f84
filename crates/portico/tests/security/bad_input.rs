//! Bad input to the Graph-shaped API: malformed bodies, wrong media types, oversized bodies,
//! query options Graph refuses, bad `$filter`s, bad ids and paths, and a bounded deterministic
//! fuzz of `$filter`s, skiptokens and JSON bodies. Every refusal is a 4xx in Graph's envelope;
//! nothing is a 5xx and nothing is half-written.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

use crate::api_test;
use crate::common::{Resp, TestApp};

fn url(app: &TestApp, path: &str) -> String {
    format!("{}{path}", app.base)
}

/// A Graph error envelope with a code, a message and the request id of the response.
fn assert_envelope(r: &Resp, what: &str) {
    let e = &r.body["error"];
    assert!(e["code"].as_str().is_some_and(|c| !c.is_empty()), "{what}: no error.code in {}", r.text);
    assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{what}: no error.message in {}", r.text);
    let header = r.headers.get("request-id").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(!header.is_empty(), "{what}: no request-id header");
    assert_eq!(
        e["innerError"]["request-id"].as_str(),
        Some(header),
        "{what}: innerError.request-id differs from the header"
    );
    assert!(
        e["innerError"]["date"].as_str().is_some_and(|d| d.len() == 19 && d.as_bytes()[10] == b'T'),
        "{what}: innerError.date in {}",
        r.text
    );
}

fn assert_error(r: &Resp, status: StatusCode, code: &str, what: &str) {
    assert_eq!(r.status, status, "{what}: {}", r.text);
    assert_eq!(r.code(), code, "{what}: {}", r.text);
    assert_envelope(r, what);
}

const VALID_USER: &str = r#"{"accountEnabled":true,"displayName":"Val","mailNickname":"val","userPrincipalName":"val@contoso.test","passwordProfile":{"password":"correct horse battery staple"}}"#;

api_test!(malformed_json_and_non_object_bodies_are_bad_requests, |app| {
    for (body, what) in [
        ("{not json", "malformed"),
        ("{\"displayName\": \"x\",}", "trailing comma"),
        ("[1, 2]", "array"),
        ("[{\"displayName\": \"x\"}]", "array of objects"),
        ("\"just a string\"", "string"),
        ("42", "number"),
        ("null", "null"),
        ("", "empty"),
        ("\u{feff}{}", "byte order mark"),
    ] {
        let r = app
            .raw(
                app.http
                    .post(url(&app, "/v1.0/users"))
                    .bearer_auth(&app.token)
                    .header("Content-Type", "application/json")
                    .body(body),
            )
            .await;
        assert_error(&r, StatusCode::BAD_REQUEST, "Request_BadRequest", what);
    }
    // Same on PATCH.
    let g = app.create_group("Patchable").await;
    let r = app
        .raw(
            app.http
                .patch(url(&app, &format!("/v1.0/groups/{}", g["id"].as_str().expect("id"))))
                .bearer_auth(&app.token)
                .header("Content-Type", "application/json")
                .body("[]"),
        )
        .await;
    assert_error(&r, StatusCode::BAD_REQUEST, "Request_BadRequest", "PATCH array");
});

api_test!(bodies_need_a_json_content_type, |app| {
    let missing = app.raw(app.http.post(url(&app, "/v1.0/users")).bearer_auth(&app.token).body(VALID_USER)).await;
    assert_eq!(missing.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", missing.text);
    assert_envelope(&missing, "no content type");
    for ct in ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml"]
    {
        let r = app
            .raw(
                app.http
                    .post(url(&app, "/v1.0/users"))
                    .bearer_auth(&app.token)
                    .header("Content-Type", ct)
                    .body(VALID_USER),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{ct}: {}", r.text);
        assert_envelope(&r, ct);
    }
    // Nothing was created by the refused requests; the same body as JSON works.
    let r = app.get("/v1.0/users?$filter=userPrincipalName eq 'val@contoso.test'").await;
    assert_eq!(r.body["value"].as_array().map(Vec::len), Some(0), "{}", r.text);
    let r = app
        .raw(
            app.http
                .post(url(&app, "/v1.0/users"))
                .bearer_auth(&app.token)
                .header("Content-Type", "application/json; charset=utf-8")
                .body(VALID_USER),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
});

api_test!(bodies_over_one_mebibyte_are_refused_with_413, |app| {
    let big = format!("{{\"displayName\":\"{}\"}}", "a".repeat(1024 * 1024 + 16));
    let r = app
        .raw(
            app.http
                .post(url(&app, "/v1.0/users"))
                .bearer_auth(&app.token)
                .header("Content-Type", "application/json")
                .body(big.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", &r.text[..r.text.len().min(300)]);
    assert_envelope(&r, "oversized body");
    // Just under the limit is read (and refused for what it says, not for its size).
    let under = format!("{{\"displayName\":\"{}\"}}", "a".repeat(1024 * 1024 - 64));
    let r = app
        .raw(
            app.http
                .post(url(&app, "/v1.0/users"))
                .bearer_auth(&app.token)
                .header("Content-Type", "application/json")
                .body(under),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", &r.text[..r.text.len().min(300)]);
    // The server still answers afterwards.
    assert_eq!(app.get("/v1.0/users").await.status, StatusCode::OK);
});

api_test!(query_options_graph_refuses_are_bad_requests, |app| {
    for (q, code) in [
        ("$bogus=1", "Request_BadRequest"),
        ("$top=1&$top=2", "Request_BadRequest"),
        ("$top=1&top=2", "Request_BadRequest"),
        ("$top=abc", "Request_BadRequest"),
        ("$top=0", "Request_BadRequest"),
        ("$top=1000", "Request_BadRequest"),
        ("$top=-1", "Request_BadRequest"),
        ("$top=99999999999999999999999", "Request_BadRequest"),
        ("$skip=10", "Request_BadRequest"),
        ("$expand=memberOf", "Request_UnsupportedQuery"),
        ("$count=maybe", "Request_BadRequest"),
        ("$skiptoken=!!!", "Request_BadRequest"),
        ("$select=nope", "Request_BadRequest"),
        ("$orderby=nope", "Request_BadRequest"),
        ("$search=\"displayName:x\"", "Request_UnsupportedQuery"),
    ] {
        let r = app.get(&format!("/v1.0/users?{q}")).await;
        assert_error(&r, StatusCode::BAD_REQUEST, code, q);
    }
    // Options without '$' that are not OData are ignored, as Graph does.
    assert_eq!(app.get("/v1.0/users?custom=1").await.status, StatusCode::OK);
});

api_test!(bad_filters_are_refused_with_a_reason, |app| {
    // Syntax errors name the position.
    for f in
        ["displayName eq 'abc", "displayName eq", "(displayName eq 'a'", "displayName eq 'a' and", "displayName ~ 'a'"]
    {
        let r = app.get(&format!("/v1.0/users?$filter={}", urlencode(f))).await;
        assert_error(&r, StatusCode::BAD_REQUEST, "Request_BadRequest", f);
        assert!(r.body["error"]["message"].as_str().unwrap_or_default().contains("position"), "{f}: {}", r.text);
    }
    // Unknown properties.
    for f in ["nope eq 'x'", "passwordProfile eq 'x'", "identities/nope eq 'x'"] {
        let r = app.get(&format!("/v1.0/users?$filter={}", urlencode(f))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{f}: {}", r.text);
        assert_envelope(&r, f);
    }
    // Operators the property does not support.
    let r = app.get(&format!("/v1.0/users?$filter={}", urlencode("startsWith(accountEnabled,'x')"))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(["Request_BadRequest", "Request_UnsupportedQuery"].contains(&r.code()), "{}", r.text);
    let r =
        app.get_eventual(&format!("/v1.0/users?$count=true&$filter={}", urlencode("endsWith(displayName,'x')"))).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "Request_UnsupportedQuery", "endsWith on displayName");
    // endsWith on mail is an advanced query: refused without the headers, answered with them.
    let f = urlencode("endsWith(mail,'@contoso.test')");
    let r = app.get(&format!("/v1.0/users?$filter={f}")).await;
    assert_error(&r, StatusCode::BAD_REQUEST, "Request_UnsupportedQuery", "endsWith without ConsistencyLevel");
    let r = app.get_eventual(&format!("/v1.0/users?$count=true&$filter={f}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Type mismatches.
    for f in ["accountEnabled eq 'yes'", "createdDateTime ge 'soon'", "id eq 'not-a-guid'", "accountEnabled eq 1"] {
        let r = app.get(&format!("/v1.0/users?$filter={}", urlencode(f))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{f}: {}", r.text);
        assert_envelope(&r, f);
    }
});

api_test!(bad_ids_and_unknown_paths_get_graph_errors_never_5xx, |app| {
    for path in [
        "/v1.0/groups/not-a-guid",
        "/v1.0/groups/not-a-guid/members",
        "/v1.0/applications/not-a-guid",
        "/v1.0/servicePrincipals/not-a-guid",
        "/v1.0/users/not-a-user",
        "/v1.0/users/00000000-0000-0000-0000-000000000000",
        "/v1.0/roleManagement/directory/roleAssignments/not-a-guid",
        "/v1.0/roleManagement/directory/roleDefinitions/not-a-guid",
        "/v1.0/auditLogs/directoryAudits/not-a-guid",
        "/v1.0/directory/deletedItems/not-a-guid",
        "/v1.0/domains/not..a..domain",
        "/v1.0/organization/not-a-guid",
        "/v1.0/groups/%FF%FE",
        "/v1.0/users/%00",
        "/v1.0/groups/'%20or%201=1--",
    ] {
        let r = app.get(path).await;
        assert!(matches!(r.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND), "{path}: {} {}", r.status, r.text);
        assert_envelope(&r, path);
    }
    for path in ["/v1.0/nothing", "/v1.0/users/x/nothing", "/v1.0/groups/$count/x", "/beta/nothing"] {
        let r = app.get(path).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text);
        assert_envelope(&r, path);
    }
    for (method, path) in [
        ("PUT", "/v1.0/users"),
        ("DELETE", "/v1.0/users"),
        ("PATCH", "/v1.0/organization"),
        ("PUT", "/v1.0/groups/x/members/$ref"),
    ] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let r = app.raw(app.http.request(m, url(&app, path)).bearer_auth(&app.token).json(&json!({}))).await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {}", r.text);
        assert_envelope(&r, path);
        // RFC 9110 §15.5.6: a 405 lists the methods the resource supports.
        assert!(r.headers.get("allow").is_some(), "{method} {path}: 405 without Allow");
    }
});

api_test!(every_error_names_its_request_and_echoes_the_client_request_id, |app| {
    let none = app.token_with(app.tenant, &[]).await;
    let client_id = uuid::Uuid::new_v4().to_string();
    let missing = uuid::Uuid::new_v4();
    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        ("401", app.http.get(url(&app, "/v1.0/users"))),
        ("403", app.http.get(url(&app, "/v1.0/users")).bearer_auth(&none)),
        ("400 query", app.http.get(url(&app, "/v1.0/users?$bogus=1")).bearer_auth(&app.token)),
        ("404", app.http.get(url(&app, &format!("/v1.0/groups/{missing}"))).bearer_auth(&app.token)),
        ("405", app.http.put(url(&app, "/v1.0/users")).bearer_auth(&app.token)),
        ("415", app.http.post(url(&app, "/v1.0/users")).bearer_auth(&app.token).body("{}")),
        ("400 path", app.http.get(url(&app, "/v1.0/nothing")).bearer_auth(&app.token)),
        (
            "501",
            app.http
                .patch(url(&app, &format!("/v1.0/organization/{}/branding", app.tenant)))
                .bearer_auth(&app.token)
                .json(&json!({"bannerLogo": "x"})),
        ),
    ];
    for (what, rb) in cases {
        let r = app.raw(rb.header("client-request-id", &client_id)).await;
        assert!(r.status.is_client_error() || r.status == StatusCode::NOT_IMPLEMENTED, "{what}: {}", r.status);
        assert_envelope(&r, what);
        assert_eq!(
            r.headers.get("client-request-id").and_then(|v| v.to_str().ok()),
            Some(client_id.as_str()),
            "{what}: client-request-id header"
        );
        assert_eq!(
            r.body["error"]["innerError"]["client-request-id"],
            json!(client_id),
            "{what}: innerError.client-request-id"
        );
    }
    // Without one, Graph answers with the request id in its place.
    let r = app.get("/v1.0/users?$bogus=1").await;
    let rid = r.headers.get("request-id").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!(r.body["error"]["innerError"]["client-request-id"], json!(rid));
    // Successes carry the ids too.
    let r = app
        .raw(app.http.get(url(&app, "/v1.0/users")).bearer_auth(&app.token).header("client-request-id", &client_id))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers.get("request-id").is_some());
    assert_eq!(r.headers.get("client-request-id").and_then(|v| v.to_str().ok()), Some(client_id.as_str()));
});

api_test!(a_group_with_one_bad_member_binding_is_not_created_at_all, |app| {
    let u = app.create_user("bound", "Bound User").await;
    let good = format!("https://graph.microsoft.com/v1.0/directoryObjects/{}", u["id"].as_str().expect("id"));
    let audits = |app: &TestApp| {
        let app_url = url(app, "/v1.0/auditLogs/directoryAudits?$top=999&$filter=category%20eq%20'GroupManagement'");
        let (http, token) = (app.http.clone(), app.token.clone());
        async move {
            http.get(app_url).bearer_auth(token).send().await.expect("audit").json::<Value>().await.expect("json")["value"].as_array().map_or(0, Vec::len)
        }
    };
    let audits_before = audits(&app).await;
    for (i, bad) in [
        "https://graph.microsoft.com/v1.0/directoryObjects/not-a-guid".to_string(),
        format!("https://graph.microsoft.com/v1.0/directoryObjects/{}", uuid::Uuid::new_v4()),
        "not a url".to_string(),
    ]
    .iter()
    .enumerate()
    {
        for field in ["members@odata.bind", "owners@odata.bind"] {
            let mut body = json!({"displayName": format!("Half {i}"), "mailEnabled": false, "mailNickname": format!("half{i}"), "securityEnabled": true});
            body[field] = json!([good, bad]);
            let r = app.post("/v1.0/groups", body).await;
            assert!(
                matches!(r.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND),
                "{field} {bad}: {} {}",
                r.status,
                r.text
            );
            assert_envelope(&r, bad);
        }
        let list = app.get(&format!("/v1.0/groups?$filter=displayName eq 'Half {i}'")).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        assert_eq!(list.body["value"], json!([]), "a refused POST /groups left a group behind");
    }
    let memberships = app.get(&format!("/v1.0/users/{}/memberOf", u["id"].as_str().expect("id"))).await;
    assert_eq!(memberships.body["value"], json!([]), "{}", memberships.text);
    assert_eq!(audits(&app).await, audits_before, "refused writes left audit records");
});

// ---- fuzz ----

/// xorshift64*: deterministic, no extra crates.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

const PROPS: &[&str] = &[
    "displayName",
    "userPrincipalName",
    "mail",
    "accountEnabled",
    "userType",
    "createdDateTime",
    "otherMails",
    "identities",
    "identities/issuer",
    "id",
    "appId",
    "activityDateTime",
    "category",
    "correlationId",
    "principalId",
    "roleDefinitionId",
    "securityEnabled",
    "groupTypes",
    "mailNickname",
    "externalUserState",
    "nope",
    "a/b/c",
    "x",
];
const OPS: &[&str] = &["eq", "ne", "gt", "ge", "lt", "le", "in", "has", "and", "or", "not", "add", "eq eq"];
const LITERALS: &[&str] = &[
    "'x'",
    "''",
    "'O''Brien'",
    "'%'",
    "'_'",
    "'\\'",
    "'*'",
    "true",
    "false",
    "null",
    "0",
    "-1",
    "42",
    "9223372036854775807",
    "99999999999999999999",
    "2024-01-01T00:00:00Z",
    "2024-01-01",
    "2024-13-45T99:00:00Z",
    "1e10",
    "3.14",
    "-0",
    "00000000-0000-0000-0000-000000000000",
    "('a','b')",
    "()",
    "('a',1,null)",
    "'ï'",
    "'😀'",
    "'\u{0}'",
    "'\u{7f}'",
    "'a\nb'",
    "'unterminated",
];
const FRAGMENTS: &[&str] = &[
    "startsWith(displayName,'a')",
    "endsWith(mail,'.test')",
    "contains(displayName,'a')",
    "otherMails/any(m:m eq 'a@b.c')",
    "identities/any(i:i/issuer eq 'x')",
    "identities/any(i:i eq 'x')",
    "otherMails/all(m:m eq 'a')",
    "not(accountEnabled eq true)",
    "startsWith(",
    "any(",
    "m:m",
    "(",
    ")",
    ",",
    "/",
    "$count",
    "@p",
    "$it",
    "x/any(y:y/any(z:z eq 1))",
    "startsWith(displayName)",
    "startsWith('a',displayName)",
    "length(displayName) eq 1",
    "displayName/$count eq 0",
];
const CHARS: &[&str] = &[
    " ", "'", "(", ")", "/", ",", ":", "$", "@", "%", "*", "[", "]", "{", "}", "\"", "\\", "\t", "\n", "\u{0}", "ä",
    "😀", "-", ".",
];

fn random_filter(rng: &mut Rng) -> String {
    if rng.chance(50) {
        // Shaped like a comparison, combined a few times.
        let mut s = String::new();
        for i in 0..=rng.below(3) {
            if i > 0 {
                s.push_str(if rng.chance(50) { " and " } else { " or " });
            }
            if rng.chance(25) {
                let fragment = *rng.pick(FRAGMENTS);
                s.push_str(fragment);
            } else {
                s.push_str(&format!("{} {} {}", rng.pick(PROPS), rng.pick(OPS), rng.pick(LITERALS)));
            }
        }
        s
    } else {
        // Token soup.
        let mut s = String::new();
        for _ in 0..=rng.below(9) {
            let t = match rng.below(5) {
                0 => *rng.pick(PROPS),
                1 => *rng.pick(OPS),
                2 => *rng.pick(LITERALS),
                3 => *rng.pick(FRAGMENTS),
                _ => *rng.pick(CHARS),
            };
            s.push_str(t);
            if rng.chance(60) {
                s.push(' ');
            }
        }
        s
    }
}

const STRINGS: &[&str] = &[
    "",
    " ",
    "x",
    "Zed",
    "zed@contoso.test",
    "x@fabrikam.test",
    "not an email",
    "Member",
    "Guest",
    "Unified",
    "Public",
    "Private",
    "\u{0}",
    "ä😀",
    "'; DROP TABLE users; --",
    "https://graph.microsoft.com/v1.0/directoryObjects/00000000-0000-0000-0000-000000000000",
    "correct horse battery staple",
    "#EXT#",
    "@",
    "#0078D4",
    "en-US",
    "00000000-0000-0000-0000-000000000000",
    "userPrincipalName",
];
const KEYS: &[&str] = &[
    "accountEnabled",
    "displayName",
    "mailNickname",
    "userPrincipalName",
    "passwordProfile",
    "mail",
    "otherMails",
    "identities",
    "userType",
    "givenName",
    "jobTitle",
    "preferredLanguage",
    "description",
    "visibility",
    "securityEnabled",
    "mailEnabled",
    "groupTypes",
    "isAssignableToRole",
    "members@odata.bind",
    "owners@odata.bind",
    "@odata.type",
    "id",
    "createdDateTime",
    "businessPhones",
    "password",
    "forceChangePasswordNextSignIn",
    "signInType",
    "issuer",
    "issuerAssignedId",
    "nope",
    "",
];

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth > 2 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(50)),
        2 => match rng.below(5) {
            0 => json!(0),
            1 => json!(-1),
            2 => json!(i64::MAX),
            3 => json!(1e300),
            _ => json!(0.5),
        },
        3 => {
            if rng.chance(10) {
                Value::String("a".repeat(300))
            } else {
                Value::String((*rng.pick(STRINGS)).to_string())
            }
        }
        4 => Value::String(format!("{}{}", rng.pick(STRINGS), rng.pick(STRINGS))),
        5 => Value::Array((0..rng.below(4)).map(|_| random_value(rng, depth + 1)).collect()),
        _ => random_object(rng, depth + 1),
    }
}

fn random_object(rng: &mut Rng, depth: usize) -> Value {
    let mut m = Map::new();
    for _ in 0..rng.below(6) {
        m.insert((*rng.pick(KEYS)).to_string(), random_value(rng, depth + 1));
    }
    Value::Object(m)
}

/// A valid body with a few properties replaced, removed or added at random.
fn mutate(rng: &mut Rng, valid: &Value) -> Value {
    let mut v = valid.clone();
    let Some(m) = v.as_object_mut() else { return v };
    for _ in 0..=rng.below(3) {
        let key = if rng.chance(60) && !m.is_empty() {
            let keys: Vec<String> = m.keys().cloned().collect();
            rng.pick(&keys).clone()
        } else {
            (*rng.pick(KEYS)).to_string()
        };
        if rng.chance(20) {
            m.remove(&key);
        } else {
            m.insert(key, random_value(rng, 1));
        }
    }
    v
}

api_test!(fuzzed_filters_skiptokens_and_bodies_never_cause_a_server_error, |app| {
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let group = app.create_group("Fuzz target").await;
    let gid = group["id"].as_str().expect("id").to_string();
    let lists = [
        "/v1.0/users",
        "/v1.0/groups",
        "/v1.0/applications",
        "/v1.0/servicePrincipals",
        "/v1.0/auditLogs/directoryAudits",
        "/v1.0/roleManagement/directory/roleAssignments",
        "/v1.0/directory/deletedItems/microsoft.graph.user",
    ];
    let mut failures = vec![];
    let mut check = |what: String, r: &Resp| {
        // 501 notSupported is the designed answer for a Graph property Portico does not store yet.
        let not_yet = r.status == StatusCode::NOT_IMPLEMENTED && r.code() == "notSupported";
        if r.status.is_server_error() && !not_yet {
            failures.push(format!("{what} -> {} {}", r.status, r.text));
        } else if !r.status.is_success() && r.code().is_empty() {
            failures.push(format!("{what} -> {} without a Graph envelope: {}", r.status, r.text));
        }
    };
    for _ in 0..160 {
        let list = *rng.pick(&lists);
        let option = match rng.below(10) {
            0 => "$orderby",
            1 => "$select",
            2 => "$search",
            _ => "$filter",
        };
        let value = if option == "$search" {
            format!("\"{}:{}\"", rng.pick(PROPS), rng.pick(STRINGS))
        } else {
            random_filter(&mut rng)
        };
        let advanced = rng.chance(50);
        let q = format!("{list}?{option}={}{}", urlencode(&value), if advanced { "&$count=true" } else { "" });
        let r = if advanced { app.get_eventual(&q).await } else { app.get(&q).await };
        check(format!("GET {list} {option}={value:?}"), &r);
    }
    // Skiptokens are opaque to clients, but a crafted one must still be a client error.
    let tokens: Vec<String> = [
        json!({"k": ["x"]}),
        json!({"k": [true]}),
        json!({"k": [null]}),
        json!({"k": [1.5]}),
        json!({"k": [[1]]}),
        json!({"k": []}),
        json!({"o": 5}),
        json!({"o": -1}),
        json!({"o": "x"}),
        json!([]),
        json!("x"),
        // Keys of the wrong type for their sort column, and NUL, which PostgreSQL text cannot hold.
        json!({"k": [1]}),
        json!({"k": ["x", "y"]}),
        json!({"k": ["\u{0}"]}),
        json!({"k": [9_223_372_036_854_775_807_i64, "x"]}),
    ]
    .iter()
    .map(|v| B64.encode(v.to_string()))
    .chain(["o:5", "%%%", ""].iter().map(|s| B64.encode(s)))
    .collect();
    let paged = [
        "/v1.0/users".to_string(),
        "/v1.0/users?$orderby=displayName".into(),
        "/v1.0/groups".into(),
        "/v1.0/applications".into(),
        "/v1.0/auditLogs/directoryAudits".into(),
        "/v1.0/auditLogs/directoryAudits?$orderby=activityDateTime".into(),
        "/v1.0/roleManagement/directory/roleAssignments".into(),
        format!("/v1.0/groups/{gid}/members"),
    ];
    for path in &paged {
        for t in &tokens {
            let sep = if path.contains('?') { '&' } else { '?' };
            let r = app.get(&format!("{path}{sep}$skiptoken={t}")).await;
            check(format!("GET {path} $skiptoken={t}"), &r);
        }
    }
    let valid_user = serde_json::from_str::<Value>(VALID_USER).expect("valid user");
    let valid_group = json!({"displayName": "Fuzz target", "description": "d", "mailNickname": "fuzz", "visibility": "Private", "securityEnabled": true, "mailEnabled": false});
    for i in 0..80 {
        let body = if rng.chance(50) { mutate(&mut rng, &valid_user) } else { random_object(&mut rng, 0) };
        let r = app.post("/v1.0/users", body.clone()).await;
        check(format!("POST /users #{i} {body}"), &r);
        let body = if rng.chance(50) { mutate(&mut rng, &valid_group) } else { random_object(&mut rng, 0) };
        let r = app.patch(&format!("/v1.0/groups/{gid}"), body.clone()).await;
        check(format!("PATCH /groups #{i} {body}"), &r);
    }
    assert!(failures.is_empty(), "{} fuzz failures:\n{}", failures.len(), failures.join("\n"));
    // The directory is still whole.
    assert_eq!(app.get(&format!("/v1.0/groups/{gid}")).await.status, StatusCode::OK);
    assert_eq!(app.get("/v1.0/users?$top=999").await.status, StatusCode::OK);
});

api_test!(nul_characters_in_urls_and_token_requests_are_client_errors, |app| {
    // PostgreSQL text cannot hold NUL: such input must be refused before it reaches a query.
    for path in [
        "/v1.0/users/%00",
        "/v1.0/users/a%00b@contoso.test",
        "/v1.0/domains/a%00b.test",
        "/v1.0/users?$filter=displayName%20eq%20'a%00b'",
        "/v1.0/users?$filter=startsWith(displayName,'%00')",
        "/v1.0/auditLogs/directoryAudits?$filter=category%20eq%20'%00'",
    ] {
        assert_error(&app.get(path).await, StatusCode::BAD_REQUEST, "Request_BadRequest", path);
    }
    let r = app.get_eventual("/v1.0/users?$search=%22displayName:a%00%22").await;
    assert_error(&r, StatusCode::BAD_REQUEST, "Request_BadRequest", "$search with NUL");
    let (client_id, secret) = app.client(app.tenant, &[]).await;
    let token_url = format!("{}/{}/oauth2/v2.0/token", app.base, app.tenant);
    for (field, value) in [("client_id", "a\u{0}"), ("scope", "api://a\u{0}/.default"), ("client_secret", "\u{0}")] {
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", secret.as_str()),
            ("scope", "https://graph.microsoft.com/.default"),
        ];
        form.retain(|(k, _)| *k != field);
        form.push((field, value));
        let r = app.raw(app.http.post(&token_url).form(&form)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{field}: {}", r.text);
        assert_eq!(r.body["error"], "invalid_request", "{field}: {}", r.text);
    }
    let basic = base64::engine::general_purpose::STANDARD.encode("a%00:x");
    let r = app
        .raw(
            app.http
                .post(&token_url)
                .header("Authorization", format!("Basic {basic}"))
                .form(&[("grant_type", "client_credentials"), ("scope", "https://graph.microsoft.com/.default")]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    assert_eq!(r.body["error"], "invalid_client");
    for path in ["/a%00b/v2.0/.well-known/openid-configuration", "/a%00b/discovery/v2.0/keys"] {
        let r = app.raw(app.http.get(url(&app, path))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text);
        assert_eq!(r.body["error"], "invalid_tenant", "{path}: {}", r.text);
    }
    // NUL inside a JSON string is refused up front (PostgreSQL text cannot hold it).
    let r = app
        .post(
            "/v1.0/users",
            json!({"accountEnabled": true, "displayName": "a\u{0}b", "mailNickname": "nul",
                "userPrincipalName": "nul@contoso.test", "passwordProfile": {"password": "correct horse battery staple"}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.code(), "Request_BadRequest");
});
