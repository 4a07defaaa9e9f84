//! Response validation: one test (at least) per rule, with the fixture IdP and with xmlsec1-signed vectors.

use std::sync::OnceLock;

use portico_saml::testing::{Hash, ResponseSpec, TestIdp, wrapping_attacks};
use portico_saml::{
    Assertion, Expectations, IdpTrust, SamlError, SpConfig, certificate_from_base64, validate_response,
};

/// 2026-01-01T00:00:00Z.
const NOW: i64 = 1_767_225_600_000;
const SKEW: i64 = 120_000;

fn idp() -> &'static TestIdp {
    static IDP: OnceLock<TestIdp> = OnceLock::new();
    IDP.get_or_init(|| TestIdp::new("https://idp.partner.example/"))
}

fn other_idp() -> &'static TestIdp {
    static IDP: OnceLock<TestIdp> = OnceLock::new();
    IDP.get_or_init(|| TestIdp::new("https://idp.partner.example/"))
}

fn sp() -> SpConfig {
    SpConfig {
        entity_id: "https://portico.example/t/acme".into(),
        acs_url: "https://portico.example/t/acme/saml/acs".into(),
    }
}

fn spec() -> ResponseSpec {
    ResponseSpec::new(idp(), &sp(), "user@partner.example", NOW)
}

fn check_full(
    xml: &str,
    trust: &IdpTrust,
    request_id: Option<&str>,
    now: i64,
    skew: i64,
) -> Result<Assertion, SamlError> {
    let sp = sp();
    validate_response(xml, trust, &Expectations { sp: &sp, request_id, now_ms: now, clock_skew_ms: skew })
}

fn check(xml: &str) -> Result<Assertion, SamlError> {
    check_full(xml, &idp().trust(), None, NOW, SKEW)
}

fn reason(xml: &str) -> &'static str {
    match check(xml) {
        Ok(a) => panic!("accepted: {a:?}"),
        Err(e) => e.reason(),
    }
}

fn with(f: impl FnOnce(&mut ResponseSpec)) -> String {
    let mut s = spec();
    f(&mut s);
    idp().response_xml(&s)
}

/// An unsigned response edited by `edit` and then signed at the Response level (covering the assertion).
fn signed_after(f: impl FnOnce(&mut ResponseSpec), edit: impl FnOnce(String) -> String) -> String {
    let mut s = spec();
    s.sign_assertion = false;
    s.sign_response = false;
    f(&mut s);
    idp().sign_xml(&edit(idp().response_xml(&s)))
}

fn replace_once(xml: &str, from: &str, to: &str) -> String {
    assert!(xml.contains(from), "{from} not in document");
    xml.replacen(from, to, 1)
}

// ---- accepted responses -------------------------------------------------------------------------------------------

#[test]
fn fully_signed_response_is_accepted_with_its_facts() {
    let s = spec();
    let a = check(&idp().response_xml(&s)).unwrap();
    assert_eq!(a.id, s.assertion_id);
    assert_eq!(a.issuer, "https://idp.partner.example/");
    assert_eq!(a.name_id, "user@partner.example");
    assert_eq!(a.name_id_format.as_deref(), Some("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"));
    assert_eq!(a.session_index, s.session_index);
    assert_eq!(a.not_on_or_after_ms, NOW + 300_000);
    assert_eq!(a.authn_instant_ms, Some(NOW));
    assert_eq!(
        a.authn_context_class_ref.as_deref(),
        Some("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
    );
    assert!(!a.mfa());
    assert_eq!(a.email(), None);
}

#[test]
fn only_assertion_signed_or_only_response_signed_is_accepted() {
    assert!(check(&with(|s| s.sign_response = false)).is_ok());
    assert!(check(&with(|s| s.sign_assertion = false)).is_ok());
}

#[test]
fn ecdsa_and_larger_hashes_are_accepted() {
    let ec = TestIdp::new_ecdsa("https://idp.partner.example/");
    let xml = ec.response_xml(&ResponseSpec::new(&ec, &sp(), "u@x", NOW));
    assert!(check_full(&xml, &ec.trust(), None, NOW, SKEW).is_ok());
    for hash in [Hash::Sha384, Hash::Sha512] {
        let mut s = spec();
        s.sign_response = false;
        s.sign_assertion = false;
        let xml = idp().sign_xml_with(&idp().response_xml(&s), hash);
        assert!(check(&xml).is_ok(), "{hash:?}");
    }
}

#[test]
fn post_binding_round_trip() {
    let b64 = idp().response_b64(&spec());
    assert!(b64.contains('\n'));
    let xml = portico_saml::decode_post_binding(&b64).unwrap();
    assert!(check(&xml).is_ok());
}

#[test]
fn certificate_roll_over_any_trusted_certificate_may_sign() {
    let trust = IdpTrust {
        issuer: idp().issuer.clone(),
        certificates: vec![other_idp().cert_der.clone(), idp().cert_der.clone()],
    };
    assert!(check_full(&idp().response_xml(&spec()), &trust, None, NOW, SKEW).is_ok());
}

/// Independent vectors: signed by xmlsec1 (libxml2 exclusive C14N) over a document with a default-namespace
/// assertion, namespace undeclarations, comments, a PI, CDATA, char references, `xml:lang`, attribute ordering
/// and an InclusiveNamespaces PrefixList of `xs #default`; the second uses the `#WithComments` variants and a
/// comment inside SignedInfo.
#[test]
fn xmlsec1_signed_vectors_verify() {
    let cert = certificate_from_base64(include_str!("data/xmlsec1_cert.pem")).unwrap();
    let trust = IdpTrust { issuer: "https://idp.example/".into(), certificates: vec![cert] };
    let sp = SpConfig { entity_id: "https://sp.example/saml".into(), acs_url: "https://sp.example/acs?a=1&b=2".into() };
    let now = 1_795_377_060_123; // the vectors' IssueInstant, 2026-11-22T19:51:00.123Z
    let exp = Expectations { sp: &sp, request_id: None, now_ms: now, clock_skew_ms: SKEW };
    for xml in [include_str!("data/xmlsec1_signed.xml"), include_str!("data/xmlsec1_signed_with_comments.xml")] {
        let a = validate_response(xml, &trust, &exp).unwrap();
        assert_eq!(a.id, "_a1");
        assert_eq!(a.attribute("Weird"), Some("<cdata & stuff> & text\r> é ü 𝄞"));
        assert_eq!(a.email(), Some("someone@example.com"));
        assert!(a.mfa());
        // Any change to signed content breaks it.
        let tampered = xml.replacen("someone@example.com", "someone@example.org", 1);
        assert_eq!(validate_response(&tampered, &trust, &exp).unwrap_err().reason(), "digest_mismatch");
        let tampered = xml.replacen("<h xmlns=\"\"/>", "<h/>", 1);
        assert_eq!(validate_response(&tampered, &trust, &exp).unwrap_err().reason(), "digest_mismatch");
    }
}

// ---- rule 1: parsing, size, root --------------------------------------------------------------------------------

#[test]
fn doctype_and_xxe_are_refused() {
    let xml = idp().response_xml(&spec());
    assert_eq!(reason(&format!("<!DOCTYPE samlp:Response>\n{xml}")), "dtd_refused");
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
        xml.replacen("user@partner.example", "&x;", 1)
    );
    assert_eq!(reason(&xxe), "dtd_refused");
    let bomb = "<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;\">]><r>&b;</r>";
    assert_eq!(reason(bomb), "dtd_refused");
}

#[test]
fn oversized_response_is_refused() {
    let xml = idp().response_xml(&spec());
    let padded = xml.replacen("<samlp:Status>", &format!("<!--{}--><samlp:Status>", "x".repeat(300 * 1024)), 1);
    assert_eq!(reason(&padded), "too_large");
}

#[test]
fn root_must_be_a_protocol_response_by_namespace_uri() {
    // Same prefix, different namespace URI.
    let xml = idp().response_xml(&spec()).replacen(
        "xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\"",
        "xmlns:samlp=\"urn:evil:protocol\"",
        1,
    );
    assert_eq!(reason(&xml), "malformed");
    // Different prefix, right namespace: accepted.
    let mut s = spec();
    s.sign_response = false;
    let xml = idp().response_xml(&s).replace("samlp:", "p2:").replace("xmlns:samlp=", "xmlns:p2=");
    assert!(check(&xml).is_ok());
    // An assertion as the document element.
    assert_eq!(reason(&idp().sign_xml(&assertion_only())), "malformed");
}

fn assertion_only() -> String {
    let xml = with(|s| {
        s.sign_response = false;
        s.sign_assertion = false
    });
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    xml[start..end].to_owned()
}

// ---- rule 2: status ------------------------------------------------------------------------------------------------

#[test]
fn non_success_status_is_reported_with_codes_and_message() {
    let xml = concat!(
        r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r" Version="2.0" IssueInstant="2026-01-01T00:00:00Z">"#,
        r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder">"#,
        r#"<samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></samlp:StatusCode>"#,
        r#"<samlp:StatusMessage>User cancelled</samlp:StatusMessage></samlp:Status></samlp:Response>"#
    );
    let err = check(xml).unwrap_err();
    assert_eq!(err.reason(), "status_not_success");
    let text = err.to_string();
    assert!(text.contains("urn:oasis:names:tc:SAML:2.0:status:Responder"), "{text}");
    assert!(text.contains("urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"), "{text}");
    assert!(text.contains("User cancelled"), "{text}");
}

// ---- rule 3: exactly one assertion, in its place ------------------------------------------------------------------

#[test]
fn assertion_count_and_encryption() {
    let xml = idp().response_xml(&spec());
    let start = xml.find("<saml:Assertion").unwrap();
    let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let none = format!("{}{}", &xml[..start], &xml[end..]);
    assert_eq!(reason(&none), "no_assertion");
    let encrypted = format!(
        "{}<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc=\"http://www.w3.org/2001/04/xmlenc#\"/></saml:EncryptedAssertion>{}",
        &xml[..start],
        &xml[end..]
    );
    assert_eq!(reason(&encrypted), "encrypted_unsupported");
    let mut s = spec();
    s.sign_response = false;
    let single = idp().response_xml(&s);
    let a = &single[single.find("<saml:Assertion").unwrap()..single.find("</saml:Assertion>").unwrap() + 17];
    let mut s2 = spec();
    s2.sign_response = false;
    let second = idp().response_xml(&s2);
    let b = &second[second.find("<saml:Assertion").unwrap()..second.find("</saml:Assertion>").unwrap() + 17];
    let two = single.replacen(a, &format!("{a}{b}"), 1);
    assert_eq!(reason(&two), "multiple_assertions");
}

#[test]
fn assertion_inside_advice_of_signed_assertion_is_refused() {
    let inner = assertion_only().replacen("ID=\"", "ID=\"x", 1);
    let xml = signed_after(
        |_| {},
        |x| {
            replace_once(
                &x,
                "  <saml:AuthnStatement",
                &format!("<saml:Advice>{inner}</saml:Advice><saml:AuthnStatement"),
            )
        },
    );
    assert_eq!(reason(&xml), "wrapped");
}

#[test]
fn wrapping_attacks_are_refused() {
    for (sign_response, sign_assertion) in [(false, true), (true, true)] {
        let xml = with(|s| {
            s.sign_response = sign_response;
            s.sign_assertion = sign_assertion;
        });
        assert!(check(&xml).is_ok());
        for (name, attack) in wrapping_attacks(&xml, "admin@victim.example") {
            assert!(attack.contains("admin@victim.example"), "{name}");
            match check(&attack) {
                Ok(a) => panic!("{name} accepted: {a:?}"),
                Err(e) => {
                    let expected: &[&str] = match name {
                        "evil_sibling_first" => &["multiple_assertions"],
                        _ if sign_response => &["wrapped", "digest_mismatch"],
                        _ => &["wrapped"],
                    };
                    assert!(expected.contains(&e.reason()), "{name}: {e}");
                }
            }
        }
    }
}

// ---- rule 4: signatures --------------------------------------------------------------------------------------------

#[test]
fn unsigned_response_is_refused() {
    let xml = with(|s| {
        s.sign_response = false;
        s.sign_assertion = false;
    });
    assert_eq!(reason(&xml), "signature_missing");
    // A signature that is not a direct child of the Response or Assertion does not count.
    let assertion_signed = with(|s| s.sign_response = false);
    let sig_start = assertion_signed.find("<ds:Signature").unwrap();
    let sig_end = assertion_signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let sig = &assertion_signed[sig_start..sig_end];
    let moved = format!("{}{}", &assertion_signed[..sig_start], &assertion_signed[sig_end..]).replacen(
        "</saml:SubjectConfirmation>",
        &format!("{sig}</saml:SubjectConfirmation>"),
        1,
    );
    assert_eq!(reason(&moved), "signature_missing");
}

#[test]
fn modified_signed_content_is_a_digest_mismatch() {
    for (sr, sa) in [(false, true), (true, false), (true, true)] {
        let xml = with(|s| {
            s.sign_response = sr;
            s.sign_assertion = sa;
        });
        assert_eq!(reason(&xml.replacen("user@partner.example", "admin@partner.example", 1)), "digest_mismatch");
        // Even whitespace inside the signed element is signed.
        assert_eq!(reason(&xml.replacen("  <saml:Subject>", "   <saml:Subject>", 1)), "digest_mismatch");
    }
}

#[test]
fn altered_signature_value_is_invalid() {
    let xml = with(|s| s.sign_response = false);
    let at = xml.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>\n".len();
    let mut bytes = xml.into_bytes();
    bytes[at + 10] = if bytes[at + 10] == b'A' { b'B' } else { b'A' };
    assert_eq!(reason(&String::from_utf8(bytes).unwrap()), "signature_invalid");
}

#[test]
fn untrusted_key_is_refused_even_if_the_message_carries_it() {
    // The message carries its own certificate: that alone is not trust.
    let trust_other = other_idp().trust();
    let xml = idp().response_xml(&spec());
    assert_eq!(check_full(&xml, &trust_other, None, NOW, SKEW).unwrap_err().reason(), "certificate_unknown");
    // Without KeyInfo the trusted key is tried and fails.
    let xml = with(|s| s.sign_response = false);
    let start = xml.find("<ds:KeyInfo>").unwrap();
    let stripped = xml.replace(&xml[start..xml.find("</ds:KeyInfo>").unwrap() + 13], "");
    assert_eq!(check_full(&stripped, &trust_other, None, NOW, SKEW).unwrap_err().reason(), "signature_invalid");
    assert!(check(&stripped).is_ok());
    // No configured certificate.
    let empty = IdpTrust { issuer: idp().issuer.clone(), certificates: vec![] };
    assert_eq!(check_full(&xml, &empty, None, NOW, SKEW).unwrap_err().reason(), "certificate_unknown");
}

#[test]
fn sha1_and_unsupported_algorithms_are_refused() {
    let xml = with(|s| s.sign_response = false);
    let sha1_digest = xml.replace("http://www.w3.org/2001/04/xmlenc#sha256", "http://www.w3.org/2000/09/xmldsig#sha1");
    assert_eq!(reason(&sha1_digest), "weak_algorithm");
    let sha1_sig =
        xml.replace("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2000/09/xmldsig#rsa-sha1");
    let err = check(&sha1_sig).unwrap_err();
    assert_eq!(err.reason(), "weak_algorithm");
    assert!(err.to_string().contains("SHA-1"));
    let hmac = xml.replace(
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256",
    );
    assert_eq!(reason(&hmac), "unsupported_algorithm");
    let inclusive = xml.replacen(
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>",
        "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"/>",
        1,
    );
    assert_eq!(reason(&inclusive), "unsupported_algorithm");
    let xslt = xml.replacen(
        "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>",
        "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\"/>",
        1,
    );
    assert_eq!(reason(&xslt), "unsupported_algorithm");
}

#[test]
fn reference_must_point_at_the_enclosing_element() {
    let s = spec();
    let xml = with(|x| {
        x.sign_response = false;
        x.response_id = s.response_id.clone();
        x.assertion_id = s.assertion_id.clone();
    });
    let to_response = xml.replacen(&format!("URI=\"#{}\"", s.assertion_id), &format!("URI=\"#{}\"", s.response_id), 1);
    assert_eq!(reason(&to_response), "wrapped");
    let whole_doc = xml.replacen(&format!("URI=\"#{}\"", s.assertion_id), "URI=\"\"", 1);
    assert_eq!(reason(&whole_doc), "wrapped");
    let xpointer = xml.replacen(
        &format!("URI=\"#{}\"", s.assertion_id),
        &format!("URI=\"#xpointer(id('{}'))\"", s.assertion_id),
        1,
    );
    assert_eq!(reason(&xpointer), "wrapped");
    // Two references.
    let si_end = xml.find("</ds:SignedInfo>").unwrap();
    let r_start = xml.find("<ds:Reference").unwrap();
    let reference = &xml[r_start..si_end];
    let two = xml.replacen("</ds:SignedInfo>", &format!("{reference}</ds:SignedInfo>"), 1);
    assert_eq!(reason(&two), "wrapped");
}

#[test]
fn duplicate_ids_are_refused() {
    let xml = with(|s| s.sign_response = false);
    let s = spec();
    let _ = s;
    let dup = xml.replacen(
        "<samlp:Status>",
        "<samlp:Extensions><x ID=\"DUP\"/><y ID=\"DUP\"/></samlp:Extensions><samlp:Status>",
        1,
    );
    assert_eq!(reason(&dup), "wrapped");
}

#[test]
fn two_signatures_on_one_element_are_refused() {
    let xml = with(|s| s.sign_response = false);
    let sig_start = xml.find("<ds:Signature").unwrap();
    let sig_end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let sig = xml[sig_start..sig_end].to_owned();
    let two = xml.replacen(&sig, &format!("{sig}{sig}"), 1);
    assert_eq!(reason(&two), "wrapped");
}

#[test]
fn every_present_signature_must_verify() {
    // Valid response signature, but the assertion's own signature is broken (assertion edited before the
    // response was signed).
    let assertion_signed = with(|s| s.sign_response = false);
    let edited = assertion_signed.replacen("user@partner.example", "admin@partner.example", 1);
    let resigned = idp().sign_xml(&edited);
    assert_eq!(reason(&resigned), "digest_mismatch");
}

// ---- rule 5: issuer ---------------------------------------------------------------------------------------------------

#[test]
fn issuer_must_be_the_trusted_idp() {
    let xml = idp().response_xml(&spec());
    let trust = IdpTrust { issuer: "https://other.example/".into(), certificates: vec![idp().cert_der.clone()] };
    let err = check_full(&xml, &trust, None, NOW, SKEW).unwrap_err();
    assert_eq!(err.reason(), "issuer_mismatch");
    // The (unsigned) Response Issuer must match too.
    let xml = with(|s| s.sign_response = false);
    let xml = replace_once(
        &xml,
        "<saml:Issuer>https://idp.partner.example/</saml:Issuer>\n<samlp:Status>",
        "<saml:Issuer>https://evil.example/</saml:Issuer>\n<samlp:Status>",
    );
    let err = check(&xml).unwrap_err();
    assert_eq!(err.reason(), "issuer_mismatch");
    assert!(err.to_string().contains("response's issuer \"https://evil.example/\""), "{err}");
}

// ---- rule 6: destination, InResponseTo -----------------------------------------------------------------------------

#[test]
fn destination_must_be_the_acs_url_when_present() {
    assert_eq!(reason(&with(|s| s.destination = Some("https://evil.example/acs".into()))), "destination_mismatch");
    assert!(check(&with(|s| s.destination = None)).is_ok());
}

#[test]
fn in_response_to_rules() {
    let trust = idp().trust();
    let solicited = with(|s| s.in_response_to = Some("_req1".into()));
    assert!(check_full(&solicited, &trust, Some("_req1"), NOW, SKEW).is_ok());
    assert_eq!(
        check_full(&solicited, &trust, Some("_req2"), NOW, SKEW).unwrap_err().reason(),
        "in_response_to_mismatch"
    );
    // Unsolicited response where a request is pending: no InResponseTo on the confirmation.
    let unsolicited = idp().response_xml(&spec());
    assert_eq!(
        check_full(&unsolicited, &trust, Some("_req1"), NOW, SKEW).unwrap_err().reason(),
        "in_response_to_mismatch"
    );
    // IdP-initiated expected, but the response answers some request.
    assert_eq!(check(&solicited).unwrap_err().reason(), "in_response_to_mismatch");
    // Only the confirmation data carries it (response-level attribute removed, response unsigned).
    let xml = with(|s| {
        s.in_response_to = Some("_req1".into());
        s.sign_response = false;
    });
    let xml = replace_once(&xml, " InResponseTo=\"_req1\">", ">");
    assert!(check_full(&xml, &trust, Some("_req1"), NOW, SKEW).is_ok());
    assert_eq!(check(&xml).unwrap_err().reason(), "in_response_to_mismatch");
}

// ---- rule 7: subject -------------------------------------------------------------------------------------------------

#[test]
fn subject_rules() {
    let no_name_id = signed_after(
        |_| {},
        |x| {
            let start = x.find("<saml:NameID").unwrap();
            let end = x.find("</saml:NameID>").unwrap() + "</saml:NameID>".len();
            format!("{}{}", &x[..start], &x[end..])
        },
    );
    assert_eq!(reason(&no_name_id), "subject_missing");
    let empty_name_id = signed_after(|s| s.name_id = String::new(), |x| x);
    assert_eq!(reason(&empty_name_id), "subject_missing");
    let hok = signed_after(|_| {}, |x| replace_once(&x, "cm:bearer", "cm:holder-of-key"));
    assert_eq!(reason(&hok), "subject_missing");
    let encrypted_id =
        signed_after(|_| {}, |x| replace_once(&x, "<saml:Subject>", "<saml:Subject><saml:EncryptedID/>"));
    assert_eq!(reason(&encrypted_id), "encrypted_unsupported");
    let wrong_recipient = with(|s| s.recipient = "https://evil.example/acs".into());
    let err = check(&wrong_recipient).unwrap_err();
    assert_eq!(err.reason(), "recipient_mismatch");
    assert!(err.to_string().contains("https://evil.example/acs"));
    let no_recipient =
        signed_after(|_| {}, |x| replace_once(&x, " Recipient=\"https://portico.example/t/acme/saml/acs\"", ""));
    assert_eq!(reason(&no_recipient), "recipient_mismatch");
    let no_noa = signed_after(
        |_| {},
        |x| {
            let start = x.find("<saml:SubjectConfirmationData NotOnOrAfter=\"").unwrap()
                + "<saml:SubjectConfirmationData ".len();
            let end = start + x[start..].find("\" ").unwrap() + 2;
            format!("{}{}", &x[..start], &x[end..])
        },
    );
    assert_eq!(reason(&no_noa), "malformed");
    let scd_not_before = signed_after(
        |_| {},
        |x| {
            replace_once(
                &x,
                "<saml:SubjectConfirmationData ",
                "<saml:SubjectConfirmationData NotBefore=\"2026-01-01T00:10:00Z\" ",
            )
        },
    );
    assert_eq!(reason(&scd_not_before), "not_yet_valid");
    // A second, valid bearer confirmation after an invalid one is enough.
    let second = signed_after(
        |_| {},
        |x| {
            let start = x.find("<saml:SubjectConfirmation ").unwrap();
            let end = x.find("</saml:SubjectConfirmation>").unwrap() + "</saml:SubjectConfirmation>".len();
            let good = x[start..end].to_owned();
            let bad = good.replace("https://portico.example/t/acme/saml/acs", "https://evil.example/");
            x.replacen(&good, &format!("{bad}{good}"), 1)
        },
    );
    assert!(check(&second).is_ok());
}

#[test]
fn subject_confirmation_expiry() {
    // SubjectConfirmationData expires earlier than Conditions.
    let xml = signed_after(
        |_| {},
        |x| {
            let noa = "NotOnOrAfter=\"2026-01-01T00:05:00Z\" Recipient";
            replace_once(&x, noa, "NotOnOrAfter=\"2026-01-01T00:01:00Z\" Recipient")
        },
    );
    let a = check(&xml).unwrap();
    assert_eq!(a.not_on_or_after_ms, NOW + 60_000);
    assert_eq!(check_full(&xml, &idp().trust(), None, NOW + 60_000 + SKEW, SKEW).unwrap_err().reason(), "expired");
}

// ---- rule 8: conditions ---------------------------------------------------------------------------------------------

#[test]
fn time_window_with_clock_skew() {
    let xml = idp().response_xml(&spec());
    let trust = idp().trust();
    // NotBefore = NOW - 60 s; a clock 150 s behind is within 60 + 120 s... and 200 s behind is not.
    assert!(check_full(&xml, &trust, None, NOW - 60_000 - SKEW, SKEW).is_ok());
    let err = check_full(&xml, &trust, None, NOW - 60_000 - SKEW - 1, SKEW).unwrap_err();
    assert_eq!(err.reason(), "not_yet_valid");
    // NotOnOrAfter = NOW + 300 s.
    assert!(check_full(&xml, &trust, None, NOW + 300_000 + SKEW - 1, SKEW).is_ok());
    assert_eq!(check_full(&xml, &trust, None, NOW + 300_000 + SKEW, SKEW).unwrap_err().reason(), "expired");
    // Skew is clamped to 5 minutes.
    assert_eq!(check_full(&xml, &trust, None, NOW + 300_000 + 300_000, 36_000_000).unwrap_err().reason(), "expired");
    assert!(check_full(&xml, &trust, None, NOW + 300_000 + 300_000 - 1, 36_000_000).is_ok());
    // Negative skew counts as zero.
    assert!(check_full(&xml, &trust, None, NOW + 299_999, -5).is_ok());
    // Conditions NotOnOrAfter alone (SubjectConfirmationData later).
    let xml = signed_after(
        |_| {},
        |x| {
            replace_once(
                &x,
                "<saml:Conditions NotBefore=\"2025-12-31T23:59:00Z\" NotOnOrAfter=\"2026-01-01T00:05:00Z\"",
                "<saml:Conditions NotOnOrAfter=\"2026-01-01T00:02:00Z\"",
            )
        },
    );
    assert_eq!(check(&xml).unwrap().not_on_or_after_ms, NOW + 120_000);
    assert_eq!(check_full(&xml, &trust, None, NOW + 240_000, SKEW).unwrap_err().reason(), "expired");
}

#[test]
fn audience_rules() {
    let err = check(&with(|s| s.audience = "https://other.example/sp".into())).unwrap_err();
    assert_eq!(err.reason(), "audience_mismatch");
    assert_eq!(
        err.to_string(),
        "the assertion's audience \"https://other.example/sp\" is not this tenant's entity id \"https://portico.example/t/acme\""
    );
    let none = signed_after(
        |_| {},
        |x| {
            let start = x.find("<saml:AudienceRestriction>").unwrap();
            let end = x.find("</saml:AudienceRestriction>").unwrap() + "</saml:AudienceRestriction>".len();
            format!("{}{}", &x[..start], &x[end..])
        },
    );
    assert_eq!(reason(&none), "audience_mismatch");
    // Every AudienceRestriction must include us.
    let two = signed_after(
        |_| {},
        |x| {
            replace_once(
                &x,
                "</saml:AudienceRestriction>",
                "</saml:AudienceRestriction><saml:AudienceRestriction><saml:Audience>urn:other</saml:Audience></saml:AudienceRestriction>",
            )
        },
    );
    assert_eq!(reason(&two), "audience_mismatch");
    // Several audiences in one restriction, one of them us: fine.
    let many = signed_after(
        |_| {},
        |x| {
            replace_once(
                &x,
                "<saml:AudienceRestriction>",
                "<saml:AudienceRestriction><saml:Audience>urn:other</saml:Audience>",
            )
        },
    );
    assert!(check(&many).is_ok());
    let unknown_condition =
        signed_after(|_| {}, |x| replace_once(&x, "</saml:Conditions>", "<saml:Condition/></saml:Conditions>"));
    assert_eq!(reason(&unknown_condition), "malformed");
    let one_time =
        signed_after(|_| {}, |x| replace_once(&x, "</saml:Conditions>", "<saml:OneTimeUse/></saml:Conditions>"));
    assert!(check(&one_time).is_ok());
}

// ---- rule 9: comment injection ----------------------------------------------------------------------------------------

#[test]
fn comment_injection_into_signed_text_is_refused() {
    // Signed as user@evil.com.partner.com; the comment does not change the digest, so the signature stays valid:
    // the refusal must come from the strict text rule, never from reading the first text node.
    let xml = with(|s| {
        s.name_id = "user@evil.com.partner.example".into();
        s.email = Some("user@evil.com.partner.example".into());
        s.sign_response = false;
    });
    assert!(check(&xml).is_ok());
    let injected = replace_once(
        &xml,
        ">user@evil.com.partner.example</saml:NameID>",
        ">user@evil.com<!---->.partner.example</saml:NameID>",
    );
    let err = check(&injected).unwrap_err();
    assert_eq!(err.reason(), "malformed", "{err}");
    assert!(err.to_string().contains("comment"));
    let injected = replace_once(
        &xml,
        ">user@evil.com.partner.example</saml:AttributeValue>",
        ">user@evil.com<!---->.partner.example</saml:AttributeValue>",
    );
    assert_eq!(reason(&injected), "malformed");
    let injected = replace_once(&xml, "<saml:Audience>https://portico", "<saml:Audience><!---->https://portico");
    assert_eq!(reason(&injected), "malformed");
    let injected =
        xml.replace("<saml:Issuer>https://idp.partner.example/", "<saml:Issuer>https://idp.partner.example/<!-- x -->");
    assert_eq!(reason(&injected), "malformed");
    // Processing instructions and elements inside text are covered by the digest, but refused all the same.
    let pi = signed_after(|s| s.name_id = "a@b.c".into(), |x| replace_once(&x, ">a@b.c<", ">a@b<?x?>.c<"));
    assert_eq!(reason(&pi), "malformed");
    let element = signed_after(|s| s.name_id = "a@b.c".into(), |x| replace_once(&x, ">a@b.c<", ">a@b<b/>.c<"));
    assert_eq!(reason(&element), "malformed");
}

// ---- rule 10: times -------------------------------------------------------------------------------------------------

#[test]
fn times_must_be_utc() {
    let fractional = signed_after(|_| {}, |x| x.replace("T00:05:00Z\"", "T00:05:00.250Z\""));
    assert_eq!(check(&fractional).unwrap().not_on_or_after_ms, NOW + 300_250);
    let offset = signed_after(|_| {}, |x| x.replace("T00:05:00Z\"", "T00:05:00+00:00\""));
    assert_eq!(reason(&offset), "malformed");
    let local = signed_after(|_| {}, |x| x.replace("T00:05:00Z\"", "T00:05:00\""));
    assert_eq!(reason(&local), "malformed");
}

// ---- Assertion helpers ------------------------------------------------------------------------------------------------

#[test]
fn email_attribute_and_mfa_helpers() {
    let a = check(&with(|s| {
        s.email = Some("guest@partner.example".into());
        s.extra_attributes.push((
            "http://schemas.microsoft.com/claims/authnmethodsreferences".into(),
            "http://schemas.microsoft.com/claims/multipleauthn".into(),
        ));
    }))
    .unwrap();
    assert_eq!(a.email(), Some("guest@partner.example"));
    assert!(a.mfa());
    assert_eq!(
        a.attribute("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"),
        Some("guest@partner.example")
    );
    assert_eq!(a.attribute("HTTP://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"), None);

    let a = check(&with(|s| {
        s.authn_context = Some("https://refeds.org/profile/mfa".into());
        s.extra_attributes.push(("urn:oid:0.9.2342.19200300.100.1.3".into(), "oid@partner.example".into()));
    }))
    .unwrap();
    assert!(a.mfa());
    assert_eq!(a.email(), Some("oid@partner.example"));

    let a = check(&with(|s| {
        s.name_id = "nameid@partner.example".into();
        s.name_id_format = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into();
    }))
    .unwrap();
    assert_eq!(a.email(), Some("nameid@partner.example"));
    assert!(!a.mfa());

    let a = Assertion {
        id: "_x".into(),
        issuer: "i".into(),
        name_id: "opaque".into(),
        name_id_format: None,
        session_index: None,
        not_on_or_after_ms: 0,
        authn_instant_ms: None,
        authn_context_class_ref: Some("urn:oasis:names:tc:SAML:2.0:ac:classes:Password".into()),
        attributes: vec![("urn:oid:0.9.2342.19200300.100.1.3".into(), vec!["m@x".into()])],
        friendly_names: vec![("mail".into(), "urn:oid:0.9.2342.19200300.100.1.3".into())],
    };
    assert_eq!(a.attribute("mail"), Some("m@x"));
    assert_eq!(a.attribute("Mail"), Some("m@x"));
    assert_eq!(a.email(), Some("m@x"));
    assert!(!a.mfa());
}

#[test]
fn error_reasons_and_messages_are_stable() {
    assert_eq!(SamlError::DtdRefused.reason(), "dtd_refused");
    assert_eq!(SamlError::NoAssertion.to_string(), "the response contains no assertion");
    let e = SamlError::DestinationMismatch { found: "a".into(), expected: "b".into() };
    assert_eq!(
        e.to_string(),
        "the response's destination \"a\" is not this tenant's assertion consumer service URL \"b\""
    );
}
