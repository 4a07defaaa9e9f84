//! `/directory/federationConfigurations`: SAML direct federation by domain, its domains, the
//! metadata import through the outbound SSRF rules, and the daily metadata refresh, against a
//! loopback metadata server.

use std::sync::{Arc, Mutex};

use portico_http::graph::federation_configurations::refresh_saml_metadata;
use portico_saml::testing::TestIdp;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{Custom, Resp, TestApp, all_permissions};
use crate::{api_test, api_test_custom};

const CAST: &str = "/v1.0/directory/federationConfigurations/graph.samlOrWsFedExternalDomainFederation";
const CONFIGS: &str = "/v1.0/directory/federationConfigurations";

/// A certificate that expired on 2021-01-01.
const EXPIRED_CERT: &str = "MIICrzCCAZegAwIBAgIBBzANBgkqhkiG9w0BAQsFADAbMRkwFwYDVQQDDBBleHBpcmVkLmlkcC50ZXN0MB4XDTIwMDEwMTAwMDAwMFoXDTIxMDEwMTAwMDAwMFowGzEZMBcGA1UEAwwQZXhwaXJlZC5pZHAudGVzdDCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBANR0mfbQDajPk1cLADinsNaH69K7+xikP3/GcvqAAQjc73FlbGYwRAZ72r8YwxsZczZ24DaChWkXnX0Nono8c/3aTe457/L+XezDYmgCYlQNsI3DJZr/HKYCS1xhfoAd1tRZhUvmDPXyO9/Y8wLCUPulFl7uVEhswKyPg08YehUMEf+ZxW4WPzEZr80GtylcauaqXn0THGyIX03NR0tkZznqdjdkCryEiRaPXZAGAvwNCw4n7UDNK9pYjktpZDJsaMchx9xZakVV9S0KGZmy4T0uJjA2yzDvACvVkWoLHKhkfyNEBNsDCSLaiQv0vDP6aN0fKjHQXJPDdufumIuNGRUCAwEAATANBgkqhkiG9w0BAQsFAAOCAQEAtVwxHAz1S9UT1gZVHKhXgxnH/8MstWd0Co8S47zpbrva5GCG+hVe+XERefhAANBtI8+WSUF//gW4gJXMi/f54HwUJHnIcAjV3XbDJhAs/vBwDvq51F5qPAfQlhaVSKxAHX9wjisNBaSRxe6b+yIf3JkeDIkYrq//QI08J/miK0Ypqanuk6Gom2ssWAjCo+wLqz2zWbody8EcYhqimL8G+TuXb2uk/bU4Qt+X6+alp/uTUjogYM3c9LAOebhXTTm53uWdwsGWq51bLMe6Y6hp/tP3amYHfI0OmxjauB4VqT37JoAFxWqkkvzXcR8mYmVTIHyqV2Bjlc15xGSg228FWg==";

/// A federation for `domain` whose sign-in endpoint is under it.
fn federation(domain: &str, idp: &TestIdp) -> Value {
    json!({
        "@odata.type": "microsoft.graph.samlOrWsFedExternalDomainFederation",
        "displayName": format!("{domain} SAML"),
        "issuerUri": idp.issuer,
        "passiveSignInUri": format!("https://sts.{domain}/adfs/ls/"),
        "preferredAuthenticationProtocol": "saml",
        "signingCertificate": idp.cert_b64(),
        "domains": [{"@odata.type": "microsoft.graph.externalDomainName", "id": domain}],
    })
}

fn assert_status(r: &Resp, want: StatusCode, what: &str) {
    assert_eq!(r.status, want, "{what}: {}", r.text);
    if !want.is_success() {
        assert!(!r.code().is_empty(), "{what}: no Graph error envelope: {}", r.text);
    }
}

api_test!(a_saml_federation_is_created_read_updated_and_deleted, |app| {
    let idp = TestIdp::new("https://sts.fabrikam-saml.test/adfs/services/trust");
    let r = app.post(CAST, federation("fabrikam-saml.test", &idp)).await;
    assert_status(&r, StatusCode::CREATED, "create");
    let id = r.body["id"].as_str().expect("id").to_string();
    assert!(portico_core::ids::ObjectId::parse(&id).is_some(), "a GUID id: {id}");
    assert_eq!(r.body["@odata.type"], json!("#microsoft.graph.samlOrWsFedExternalDomainFederation"));
    assert_eq!(r.body["issuerUri"], json!(idp.issuer));
    assert_eq!(r.body["preferredAuthenticationProtocol"], json!("saml"));
    assert_eq!(r.body["signingCertificate"], json!(idp.cert_b64()));
    assert_eq!(r.body["metadataExchangeUri"], Value::Null);
    assert_eq!(r.body["domains"], json!([{"id": "fabrikam-saml.test"}]));
    assert!(r.headers["location"].to_str().unwrap().ends_with(&format!("/directory/federationConfigurations/{id}")));
    assert_eq!(app.audits_for("Add identity provider", &id).await.len(), 1);
    assert_eq!(app.audits_for("Set federation settings on domain", "fabrikam-saml.test").await.len(), 1);

    // Reads: the cast list (both namespaces), $expand, $filter on a domain, by id, and in
    // /identity/identityProviders.
    let list = app.get(CAST).await;
    assert_status(&list, StatusCode::OK, "list");
    assert_eq!(TestApp::ids(&list), vec![id.clone()]);
    assert!(list.body["value"][0].get("domains").is_none(), "domains only when expanded");
    let full = app.get(&CAST.replace("/graph.", "/microsoft.graph.")).await;
    assert_eq!(TestApp::ids(&full), vec![id.clone()]);
    let expanded = app.get(&format!("{CAST}?$expand=domains")).await;
    assert_eq!(expanded.body["value"][0]["domains"], json!([{"id": "fabrikam-saml.test"}]));
    let f = crate::common::urlencode("domains/any(x: x/id eq 'FABRIKAM-saml.test')");
    assert_eq!(TestApp::ids(&app.get(&format!("{CAST}?$filter={f}")).await), vec![id.clone()]);
    let f = crate::common::urlencode("domains/any(x: x/id eq 'other.test')");
    assert_eq!(TestApp::ids(&app.get(&format!("{CAST}?$filter={f}")).await), Vec::<String>::new());
    let f = crate::common::urlencode("displayName eq 'x'");
    assert_status(&app.get(&format!("{CAST}?$filter={f}")).await, StatusCode::BAD_REQUEST, "other filters");
    assert_status(&app.get(&format!("{CAST}?$expand=owners")).await, StatusCode::BAD_REQUEST, "other expansions");
    let one = app.get(&format!("{CONFIGS}/{id}?$expand=domains")).await;
    assert_status(&one, StatusCode::OK, "get");
    assert_eq!(one.body["domains"], json!([{"id": "fabrikam-saml.test"}]));
    let idps = app.get("/v1.0/identity/identityProviders").await;
    assert!(TestApp::ids(&idps).contains(&id), "{}", idps.text);

    // Domains: add (both path forms), list, remove; the last one stays.
    let r = app.post(&format!("{CAST}/{id}/domains"), json!({"id": "sts.fabrikam-saml.test"})).await;
    assert_status(&r, StatusCode::CREATED, "add a domain");
    assert_eq!(r.body["id"], json!("sts.fabrikam-saml.test"));
    let domains = app.get(&format!("{CAST}/{id}/domains")).await;
    assert_eq!(TestApp::ids(&domains), vec!["fabrikam-saml.test", "sts.fabrikam-saml.test"]);
    let d = "sts.fabrikam-saml.test";
    assert_status(&app.delete(&format!("{CAST}/{id}/domains/{d}")).await, StatusCode::NO_CONTENT, "remove a domain");
    let after_id = format!("{CONFIGS}/{id}/microsoft.graph.samlOrWsFedExternalDomainFederation/domains");
    let r = app.post(&after_id, json!({"@odata.type": "microsoft.graph.externalDomainName", "id": d})).await;
    assert_status(&r, StatusCode::CREATED, "add a domain (cast after id)");
    assert_eq!(TestApp::ids(&app.get(&after_id).await), TestApp::ids(&domains));
    // A domain the sign-in endpoint does not prove.
    let r = app.post(&after_id, json!({"id": "adfs.fabrikam-saml.test"})).await;
    assert_status(&r, StatusCode::BAD_REQUEST, "unproven domain");
    assert_status(&app.delete(&format!("{after_id}/{d}")).await, StatusCode::NO_CONTENT, "remove (cast after id)");
    assert_status(&app.delete(&format!("{CAST}/{id}/domains/nope.test")).await, StatusCode::NOT_FOUND, "not routed");
    assert_status(
        &app.delete(&format!("{CAST}/{id}/domains/fabrikam-saml.test")).await,
        StatusCode::BAD_REQUEST,
        "the last domain",
    );

    // Update: a new certificate becomes the first one; WS-Fed is refused.
    let next = TestIdp::new("https://sts.fabrikam-saml.test/adfs/services/trust");
    let r = app
        .patch(&format!("{CONFIGS}/{id}"), json!({"displayName": "Fabrikam", "signingCertificate": next.cert_b64()}))
        .await;
    assert_status(&r, StatusCode::NO_CONTENT, "update");
    let got = app.get(&format!("{CONFIGS}/{id}")).await;
    assert_eq!(got.body["displayName"], json!("Fabrikam"));
    assert_eq!(got.body["signingCertificate"], json!(next.cert_b64()));
    let r = app.patch(&format!("{CONFIGS}/{id}"), json!({"preferredAuthenticationProtocol": "wsFed"})).await;
    assert_status(&r, StatusCode::BAD_REQUEST, "WS-Fed");
    assert_eq!(app.audits_for("Update identity provider", &id).await.len(), 1);

    assert_status(&app.delete(&format!("{CONFIGS}/{id}")).await, StatusCode::NO_CONTENT, "delete");
    assert_status(&app.get(&format!("{CONFIGS}/{id}")).await, StatusCode::NOT_FOUND, "deleted");
    let mut c = app.state.dir.store.pool().acquire().await.unwrap();
    assert_eq!(
        portico_store::federation::provider_for_domain(&mut c, app.tenant, "fabrikam-saml.test").await.unwrap(),
        None
    );
});

api_test!(bad_federations_are_refused, |app| {
    let idp = TestIdp::new("urn:fabrikam:idp");
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = federation("bad-saml.test", &idp);
        f(&mut v);
        v
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "WS-Fed",
            with(&|v| v["preferredAuthenticationProtocol"] = json!("wsFed")),
            "WS-Federation is not supported by Portico",
        ),
        ("expired certificate", with(&|v| v["signingCertificate"] = json!(EXPIRED_CERT)), "expired"),
        ("not a certificate", with(&|v| v["signingCertificate"] = json!("bm90IGEgY2VydA==")), "signingCertificate"),
        (
            "no certificate",
            with(&|v| {
                v.as_object_mut().unwrap().remove("signingCertificate");
            }),
            "signingCertificate",
        ),
        ("http sign-in", with(&|v| v["passiveSignInUri"] = json!("http://sts.bad-saml.test/")), "https"),
        ("no domains", with(&|v| v["domains"] = json!([])), "domain"),
        (
            "no issuer",
            with(&|v| {
                v.as_object_mut().unwrap().remove("issuerUri");
            }),
            "issuerUri",
        ),
        ("consumer domain", with(&|v| v["domains"] = json!([{"id": "yahoo.com"}])), "consumer"),
        ("own domain", with(&|v| v["domains"] = json!([{"id": "contoso.test"}])), "this tenant"),
        ("unproven domain", with(&|v| v["domains"] = json!([{"id": "unrelated-saml.test"}])), "DirectFedAuthUrl"),
        (
            "wrong domain type",
            with(&|v| v["domains"] = json!([{"@odata.type": "microsoft.graph.domain", "id": "bad-saml.test"}])),
            "externalDomainName",
        ),
    ];
    for (what, body, needle) in cases {
        let r = app.post(CAST, body).await;
        assert_status(&r, StatusCode::BAD_REQUEST, what);
        let m = r.body["error"]["message"].as_str().unwrap_or_default();
        assert!(m.contains(needle), "{what}: {m:?} lacks {needle:?}");
    }
    assert_status(&app.post(CAST, federation("bad-saml.test", &idp)).await, StatusCode::CREATED, "valid");
    // The same issuer again, and a domain already routed: 409.
    let mut dup = federation("other-saml.test", &idp);
    dup["displayName"] = json!("dup");
    assert_status(&app.post(CAST, dup).await, StatusCode::CONFLICT, "same issuerUri");
    let other = TestIdp::new("urn:other:idp");
    let mut taken = federation("bad-saml.test", &other);
    taken["passiveSignInUri"] = json!("https://login.bad-saml.test/");
    assert_status(&app.post(CAST, taken).await, StatusCode::CONFLICT, "domain routed elsewhere");
    // Another tenant's verified domain.
    app.new_tenant("Northwind", Some("northwind.test"), &all_permissions()).await;
    let r = app.post(CAST, federation("northwind.test", &other)).await;
    assert_status(&r, StatusCode::BAD_REQUEST, "another tenant's domain");
});

api_test!(federations_need_identity_provider_permissions_and_stay_in_their_tenant, |app| {
    let idp = TestIdp::new("urn:perm:idp");
    let reader = app.token_with(app.tenant, &["IdentityProvider.Read.All".to_string()]).await;
    assert_status(
        &app.post_as(&reader, CAST, federation("perm-saml.test", &idp)).await,
        StatusCode::FORBIDDEN,
        "reader",
    );
    assert_status(&app.get_as(&reader, CAST).await, StatusCode::OK, "reader lists");
    let domains_only = app.token_with(app.tenant, &["Domain.ReadWrite.All".to_string()]).await;
    assert_status(&app.get_as(&domains_only, CAST).await, StatusCode::FORBIDDEN, "domain permission");
    let (_, tok_b) = app.new_tenant("Fabrikam", Some("fabrikam.test"), &all_permissions()).await;
    let r = app.post_as(&tok_b, CAST, federation("b-saml.test", &idp)).await;
    assert_status(&r, StatusCode::CREATED, "B's federation");
    let b_id = r.body["id"].as_str().unwrap().to_string();
    assert_status(&app.get(&format!("{CONFIGS}/{b_id}")).await, StatusCode::NOT_FOUND, "A reads B's");
    assert_status(
        &app.patch(&format!("{CONFIGS}/{b_id}"), json!({"displayName": "x"})).await,
        StatusCode::NOT_FOUND,
        "A patches B's",
    );
    assert_status(&app.get(&format!("{CAST}/{b_id}/domains")).await, StatusCode::NOT_FOUND, "A lists B's domains");
    assert_status(
        &app.post(&format!("{CAST}/{b_id}/domains"), json!({"id": "x.b-saml.test"})).await,
        StatusCode::NOT_FOUND,
        "A adds to B's",
    );
    assert_status(&app.delete(&format!("{CONFIGS}/{b_id}")).await, StatusCode::NOT_FOUND, "A deletes B's");
    assert_eq!(TestApp::ids(&app.get(CAST).await), Vec::<String>::new());
    // The same partner may federate with A too (routes are per tenant).
    assert_status(&app.post(CAST, federation("b-saml.test", &idp)).await, StatusCode::CREATED, "A's federation");
});

/// A loopback server answering `GET /metadata` with the shared (status, body).
async fn metadata_server(doc: Arc<Mutex<(u16, String)>>) -> String {
    let router = axum::Router::new().route(
        "/metadata",
        axum::routing::get(move || {
            let doc = doc.clone();
            async move {
                let (status, body) = doc.lock().unwrap().clone();
                (axum::http::StatusCode::from_u16(status).unwrap(), body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

api_test_custom!(
    metadata_is_imported_and_refreshed_from_a_private_server_only_when_allowed,
    Custom::settings(|s| s.danger_accept_unverified_domains = true),
    |app| {
        let issuer = "https://idp.loopback-partner.test/saml";
        let first = TestIdp::new(issuer);
        let doc = Arc::new(Mutex::new((200u16, String::new())));
        let base = metadata_server(doc.clone()).await;
        doc.lock().unwrap().1 = first.metadata_xml(&format!("{base}/sso"));
        let body = |metadata: &str, private: bool| {
            json!({
                "displayName": "Loopback partner",
                "issuerUri": issuer,
                "passiveSignInUri": format!("{base}/sso"),
                "metadataExchangeUri": metadata,
                "allowPrivateNetwork": private,
                "domains": [{"id": "loopback-partner.test"}],
            })
        };
        // Without allowPrivateNetwork: plain http is refused, and https to a loopback address is
        // refused by the outbound rules.
        let r = app.post(CAST, body(&format!("{base}/metadata"), false)).await;
        assert_status(&r, StatusCode::BAD_REQUEST, "http without the flag");
        let mut https = body(&format!("{}/metadata", base.replace("http://", "https://")), false);
        https["passiveSignInUri"] = json!("https://sts.loopback-partner.test/sso");
        let r = app.post(CAST, https).await;
        assert_status(&r, StatusCode::BAD_REQUEST, "loopback without the flag");
        assert!(r.text.contains("metadataExchangeUri could not be used"), "{}", r.text);
        // A metadata document of another entity.
        let stranger = TestIdp::new("urn:someone:else");
        doc.lock().unwrap().1 = stranger.metadata_xml(&format!("{base}/sso"));
        let r = app.post(CAST, body(&format!("{base}/metadata"), true)).await;
        assert_status(&r, StatusCode::BAD_REQUEST, "another entity's metadata");
        // With the flag: imported, the metadata's certificate trusted.
        doc.lock().unwrap().1 = first.metadata_xml(&format!("{base}/sso"));
        let r = app.post(CAST, body(&format!("{base}/metadata"), true)).await;
        assert_status(&r, StatusCode::CREATED, "import");
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(r.body["signingCertificate"], json!(first.cert_b64()));
        assert!(r.body["metadataRefreshedDateTime"].is_string(), "{}", r.text);
        let stored = |app: &TestApp| {
            let app_state = app.state.clone();
            let id = id.clone();
            let tenant = app.tenant;
            async move {
                let mut c = app_state.dir.store.pool().acquire().await.unwrap();
                let p = portico_store::federation::get(&mut c, tenant, &id).await.unwrap().unwrap();
                serde_json::from_value::<portico_http::federation::providers::SamlSettings>(p.config).unwrap()
            }
        };
        assert_eq!(stored(&app).await.signing_certificates, vec![first.cert_b64()]);

        // Roll-over: the partner publishes its next certificate; the refresh trusts both, the
        // configured one first.
        let next = TestIdp::new(issuer);
        doc.lock().unwrap().1 = next.metadata_xml(&format!("{base}/sso"));
        let report = refresh_saml_metadata(&app.state).await.unwrap();
        assert_eq!((report.checked, report.updated, report.failed), (1, 1, 0));
        assert_eq!(stored(&app).await.signing_certificates, vec![first.cert_b64(), next.cert_b64()]);
        let again = refresh_saml_metadata(&app.state).await.unwrap();
        assert_eq!((again.checked, again.updated, again.failed), (1, 0, 0), "idempotent");
        // The partner's server fails: recorded, the certificates kept.
        *doc.lock().unwrap() = (500, "down".into());
        let report = refresh_saml_metadata(&app.state).await.unwrap();
        assert_eq!(report.failed, 1);
        let s = stored(&app).await;
        assert_eq!(s.signing_certificates.len(), 2);
        assert!(s.metadata_error.as_deref().is_some_and(|e| e.contains("500")), "{:?}", s.metadata_error);
        let got = app.get(&format!("{CONFIGS}/{id}")).await;
        assert!(got.body["metadataError"].as_str().is_some_and(|e| e.contains("500")), "{}", got.text);
    }
);
