//! AuthnRequest, metadata, certificates and the POST binding decoder.

use base64::Engine;
use portico_saml::testing::TestIdp;
use portico_saml::{
    SpConfig, authn_request_redirect, certificate_from_base64, certificate_info, decode_post_binding,
    decode_redirect_binding, new_request_id, parse_idp_metadata, sp_metadata,
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";

fn sp() -> SpConfig {
    SpConfig {
        entity_id: "https://portico.example/t/acme".into(),
        acs_url: "https://portico.example/t/acme/saml/acs".into(),
    }
}

fn query(url: &str) -> Vec<(String, String)> {
    url::Url::parse(url).unwrap().query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

#[test]
fn request_ids_are_ncnames_and_unique() {
    let a = new_request_id();
    assert_eq!(a.len(), 33);
    assert!(a.starts_with('_') && a[1..].chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, new_request_id());
}

#[test]
fn authn_request_redirect_binding() {
    let url = authn_request_redirect(
        &sp(),
        "https://login.partner.example/saml2?tenant=x&amp=1",
        "_abc123",
        1_767_225_600_500,
        Some("state/1 2"),
        Some("guest@partner.example"),
    )
    .unwrap();
    assert!(url.starts_with("https://login.partner.example/saml2?tenant=x&amp=1&SAMLRequest="), "{url}");
    let q = query(&url);
    assert_eq!(q[2].0, "SAMLRequest");
    assert_eq!(q[3], ("RelayState".into(), "state/1 2".into()));
    let xml = decode_redirect_binding(&q[2].1).unwrap();
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let r = doc.root_element();
    assert!(r.has_tag_name((PROTOCOL, "AuthnRequest")));
    assert_eq!(r.attribute("ID"), Some("_abc123"));
    assert_eq!(r.attribute("Version"), Some("2.0"));
    assert_eq!(r.attribute("IssueInstant"), Some("2026-01-01T00:00:00Z"));
    assert_eq!(r.attribute("Destination"), Some("https://login.partner.example/saml2?tenant=x&amp=1"));
    assert_eq!(r.attribute("AssertionConsumerServiceURL"), Some("https://portico.example/t/acme/saml/acs"));
    assert_eq!(r.attribute("ProtocolBinding"), Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"));
    let kids: Vec<_> = r.children().filter(|n| n.is_element()).collect();
    assert!(kids[0].has_tag_name((ASSERTION, "Issuer")));
    assert_eq!(kids[0].text(), Some("https://portico.example/t/acme"));
    assert!(kids[1].has_tag_name((ASSERTION, "Subject")));
    let name_id = kids[1].first_element_child().unwrap();
    assert_eq!(name_id.attribute("Format"), Some("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"));
    assert_eq!(name_id.text(), Some("guest@partner.example"));
    assert!(kids[2].has_tag_name((PROTOCOL, "NameIDPolicy")));
    assert_eq!(kids[2].attribute("Format"), Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"));
    assert_eq!(kids[2].attribute("AllowCreate"), Some("true"));
    assert_eq!(kids.len(), 3);

    // Without hint and relay state.
    let url = authn_request_redirect(&sp(), "https://idp.example/sso", "_x", 0, None, None).unwrap();
    let q = query(&url);
    assert_eq!(q.len(), 1);
    let xml = decode_redirect_binding(&q[0].1).unwrap();
    assert!(!xml.contains("Subject"));
}

#[test]
fn authn_request_refuses_bad_arguments() {
    for id in ["1abc", "", "_a b", "a:b", "-x"] {
        let err = authn_request_redirect(&sp(), "https://idp.example/sso", id, 0, None, None).unwrap_err();
        assert_eq!(err.reason(), "invalid_argument", "{id}");
    }
    assert_eq!(
        authn_request_redirect(&sp(), "not a url", "_x", 0, None, None).unwrap_err().reason(),
        "invalid_argument"
    );
    assert_eq!(
        authn_request_redirect(&sp(), "javascript:alert(1)", "_x", 0, None, None).unwrap_err().reason(),
        "invalid_argument"
    );
    let long = "x".repeat(81);
    assert!(authn_request_redirect(&sp(), "https://idp.example/sso", "_x", 0, Some(&long), None).is_err());
}

#[test]
fn sp_metadata_is_well_formed_and_escaped() {
    let sp = SpConfig {
        entity_id: "https://portico.example/t/a&b\"<c>".into(),
        acs_url: "https://portico.example/acs?x=1&y=2".into(),
    };
    let xml = sp_metadata(&sp, Some("Acme & <Co>"));
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let ed = doc.root_element();
    assert!(ed.has_tag_name((MD, "EntityDescriptor")));
    assert_eq!(ed.attribute("entityID"), Some("https://portico.example/t/a&b\"<c>"));
    let sso = ed.children().find(|n| n.has_tag_name((MD, "SPSSODescriptor"))).unwrap();
    assert_eq!(sso.attribute("AuthnRequestsSigned"), Some("false"));
    assert_eq!(sso.attribute("WantAssertionsSigned"), Some("true"));
    assert_eq!(sso.attribute("protocolSupportEnumeration"), Some(PROTOCOL));
    let formats: Vec<_> =
        sso.children().filter(|n| n.has_tag_name((MD, "NameIDFormat"))).map(|n| n.text().unwrap()).collect();
    assert_eq!(
        formats,
        [
            "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
        ]
    );
    let acs = sso.children().find(|n| n.has_tag_name((MD, "AssertionConsumerService"))).unwrap();
    assert_eq!(acs.attribute("Location"), Some("https://portico.example/acs?x=1&y=2"));
    assert_eq!(acs.attribute("index"), Some("0"));
    assert_eq!(acs.attribute("isDefault"), Some("true"));
    let org = ed.children().find(|n| n.has_tag_name((MD, "Organization"))).unwrap();
    let names: Vec<_> =
        org.children().filter(|n| n.is_element()).map(|n| (n.tag_name().name(), n.text().unwrap())).collect();
    assert_eq!(
        names,
        [
            ("OrganizationName", "Acme & <Co>"),
            ("OrganizationDisplayName", "Acme & <Co>"),
            ("OrganizationURL", "https://portico.example")
        ]
    );
    assert!(!sp_metadata(&sp, None).contains("Organization"));
}

#[test]
fn idp_metadata_is_read() {
    let idp = TestIdp::new("https://idp.partner.example/");
    let md = parse_idp_metadata(&idp.metadata_xml("https://idp.partner.example/sso?x=1&y=2")).unwrap();
    assert_eq!(md.entity_id, "https://idp.partner.example/");
    assert_eq!(md.sso_redirect_url.as_deref(), Some("https://idp.partner.example/sso?x=1&y=2"));
    assert_eq!(md.sso_post_url.as_deref(), Some("https://idp.partner.example/sso?x=1&y=2"));
    assert_eq!(md.signing_certificates, vec![idp.cert_der.clone()]);
    assert_eq!(md.valid_until_ms, None);
}

#[test]
fn idp_metadata_in_entities_descriptor_with_key_uses() {
    let idp = TestIdp::new("https://idp.partner.example/");
    let enc = TestIdp::new_ecdsa("enc");
    let xml = format!(
        r#"<EntitiesDescriptor xmlns="{MD}" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" validUntil="2027-01-01T00:00:00Z">
  <EntityDescriptor entityID="https://sp-only.example/"><SPSSODescriptor protocolSupportEnumeration="{PROTOCOL}"/></EntityDescriptor>
  <EntityDescriptor entityID="https://idp.partner.example/" validUntil="2026-06-01T00:00:00Z">
    <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:1.1:protocol {PROTOCOL}">
      <KeyDescriptor use="encryption"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{enc}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>
      <KeyDescriptor><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>
      <KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor>
      <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.partner.example/post"/>
    </IDPSSODescriptor>
  </EntityDescriptor>
</EntitiesDescriptor>"#,
        enc = enc.cert_b64(),
        cert = idp.cert_b64()
    );
    let md = parse_idp_metadata(&xml).unwrap();
    assert_eq!(md.entity_id, "https://idp.partner.example/");
    assert_eq!(md.sso_redirect_url, None);
    assert_eq!(md.sso_post_url.as_deref(), Some("https://idp.partner.example/post"));
    assert_eq!(md.signing_certificates, vec![idp.cert_der.clone()]);
    assert_eq!(md.valid_until_ms, Some(1_780_272_000_000));
}

#[test]
fn bad_idp_metadata_is_refused() {
    let idp = TestIdp::new("https://idp.partner.example/");
    let good = idp.metadata_xml("https://idp.partner.example/sso");
    assert_eq!(
        parse_idp_metadata(&format!("<!DOCTYPE x>{}", &good[good.find("<md:").unwrap()..])).unwrap_err().reason(),
        "dtd_refused"
    );
    let no_cert = {
        let s = good.find("<md:KeyDescriptor").unwrap();
        let e = good.find("</md:KeyDescriptor>").unwrap() + "</md:KeyDescriptor>".len();
        format!("{}{}", &good[..s], &good[e..])
    };
    assert_eq!(parse_idp_metadata(&no_cert).unwrap_err().reason(), "malformed");
    let bad_cert = good.replacen("<ds:X509Certificate>\n", "<ds:X509Certificate>\nAAAA", 1);
    assert_eq!(parse_idp_metadata(&bad_cert).unwrap_err().reason(), "invalid_certificate");
    let saml1 = good.replace("urn:oasis:names:tc:SAML:2.0:protocol", "urn:oasis:names:tc:SAML:1.1:protocol");
    assert_eq!(parse_idp_metadata(&saml1).unwrap_err().reason(), "malformed");
    assert_eq!(parse_idp_metadata("<x/>").unwrap_err().reason(), "malformed");
    assert_eq!(parse_idp_metadata("not xml").unwrap_err().reason(), "malformed");
}

#[test]
fn certificates_from_pem_or_base64() {
    let pem = include_str!("data/xmlsec1_cert.pem");
    let der = certificate_from_base64(pem).unwrap();
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect::<Vec<_>>().join("\r\n  ");
    assert_eq!(certificate_from_base64(&body).unwrap(), der);
    assert_eq!(certificate_from_base64(&B64.encode(&der)).unwrap(), der);
    assert_eq!(certificate_from_base64("bm90IGEgY2VydA==").unwrap_err().reason(), "invalid_certificate");
    assert_eq!(certificate_from_base64("%%%").unwrap_err().reason(), "invalid_certificate");
    assert_eq!(certificate_from_base64("").unwrap_err().reason(), "invalid_certificate");
    let mut trailing = der.clone();
    trailing.push(0);
    assert_eq!(certificate_from_base64(&B64.encode(&trailing)).unwrap_err().reason(), "invalid_certificate");
    assert_eq!(
        certificate_from_base64("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").unwrap_err().reason(),
        "invalid_certificate"
    );

    // Values from `openssl x509 -fingerprint -sha1 -subject -dates`.
    let info = certificate_info(&der).unwrap();
    assert_eq!(info.thumbprint_sha1_hex, "76DE636D537180AAEFD0E4EE82E41FCEA9B82381");
    assert_eq!(info.subject, "CN=xmlsec test");
    assert_eq!(info.not_before_ms, 1_795_377_060_000);
    assert_eq!(info.not_after_ms, 1_795_377_060_000 + 30 * 86_400_000);
}

#[test]
fn test_idp_certificate_validity() {
    let idp = TestIdp::new("x");
    let info = certificate_info(&idp.cert_der).unwrap();
    assert_eq!(info.not_after_ms - info.not_before_ms, 366 * 86_400_000);
    assert_eq!(info.thumbprint_sha1_hex.len(), 40);
    assert!(info.thumbprint_sha1_hex.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
}

#[test]
fn post_binding_decoding() {
    let xml = "<samlp:Response/>";
    let b64 = B64.encode(xml);
    let spaced: String = b64.chars().flat_map(|c| [c, '\n']).collect();
    assert_eq!(decode_post_binding(&spaced).unwrap(), xml);
    assert_eq!(decode_post_binding(&format!(" {b64}\r\n")).unwrap(), xml);
    assert_eq!(decode_post_binding(&B64.encode(format!("\u{feff}{xml}"))).unwrap(), xml);
    assert_eq!(decode_post_binding("@@@").unwrap_err().reason(), "malformed");
    assert_eq!(decode_post_binding(&B64.encode([0xff, 0xfe, 0x00])).unwrap_err().reason(), "malformed");
    let big = B64.encode(vec![b'a'; 256 * 1024 + 1]);
    assert_eq!(decode_post_binding(&big).unwrap_err().reason(), "too_large");
    assert_eq!(decode_post_binding(&"A".repeat(2_000_000)).unwrap_err().reason(), "too_large");
}
