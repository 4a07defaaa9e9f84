//! A fixture identity provider for tests and benchmarks (feature `testing`).
//!
//! [`TestIdp`] holds a self-signed certificate and its key and signs SAML responses the way real IdPs
//! (xmlsec/pysaml2, Entra) do: enveloped XML-DSig, exclusive C14N (with `InclusiveNamespaces PrefixList="xs"`),
//! RSA-SHA256 over SHA-256 digests, and the certificate in `KeyInfo`. [`wrapping_attacks`] derives classic
//! signature-wrapping variants from a signed response.
//!
//! Never use this module outside tests: the keys are generated on the fly and the responses are whatever the
//! caller asks for.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _};
use base64::Engine;
use roxmltree::Node;

use crate::c14n::{self, Options};
use crate::dsig::{
    ALG_ECDSA_SHA256, ALG_ENVELOPED, ALG_EXC_C14N, ALG_RSA_SHA256, ALG_RSA_SHA384, ALG_RSA_SHA512, ALG_SHA256,
    ALG_SHA384, ALG_SHA512,
};
use crate::xml::{self, NS_DS, NS_SAML, NS_SAMLP, escape, is};
use crate::{IdpTrust, SpConfig, new_request_id, xstime};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

enum Key {
    Rsa(aws_lc_rs::rsa::KeyPair),
    Ec(EcdsaKeyPair),
}

/// A test identity provider with a fresh key and self-signed certificate (valid from one day ago for 365 days).
pub struct TestIdp {
    /// The IdP's entity id, used as Issuer.
    pub issuer: String,
    /// The DER certificate, to put in [`IdpTrust::certificates`].
    pub cert_der: Vec<u8>,
    key: Key,
}

/// Hash used by [`TestIdp::sign_xml_with`] for both the digest and (RSA) signature methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256 (what IdPs use).
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// What [`TestIdp::response_xml`] should produce. [`ResponseSpec::new`] fills in a valid response.
#[derive(Debug, Clone)]
pub struct ResponseSpec {
    /// The Response's ID.
    pub response_id: String,
    /// The Assertion's ID.
    pub assertion_id: String,
    /// Issuer of the response and assertion.
    pub issuer: String,
    /// Response/@Destination (omitted when `None`).
    pub destination: Option<String>,
    /// SubjectConfirmationData/@Recipient.
    pub recipient: String,
    /// The single Audience.
    pub audience: String,
    /// InResponseTo on the Response and the SubjectConfirmationData.
    pub in_response_to: Option<String>,
    /// The NameID value.
    pub name_id: String,
    /// The NameID Format.
    pub name_id_format: String,
    /// Adds the `http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress` attribute.
    pub email: Option<String>,
    /// AuthnStatement/@SessionIndex.
    pub session_index: Option<String>,
    /// IssueInstant of the response and assertion, and AuthnInstant.
    pub issue_instant_ms: i64,
    /// Conditions/@NotBefore.
    pub not_before_ms: i64,
    /// Conditions/@NotOnOrAfter and SubjectConfirmationData/@NotOnOrAfter.
    pub not_on_or_after_ms: i64,
    /// Sign the Response (after the assertion, so the response signature covers the assertion's).
    pub sign_response: bool,
    /// Sign the Assertion.
    pub sign_assertion: bool,
    /// AuthnContextClassRef (PasswordProtectedTransport when `None`).
    pub authn_context: Option<String>,
    /// Further attributes, one `saml:Attribute` (NameFormat uri) with one value each.
    pub extra_attributes: Vec<(String, String)>,
}

impl ResponseSpec {
    /// A valid, fully signed response for `sp` from `idp`, issued at `now_ms`: NotBefore one minute earlier,
    /// NotOnOrAfter five minutes later, unsolicited (no InResponseTo), persistent NameID.
    pub fn new(idp: &TestIdp, sp: &SpConfig, name_id: &str, now_ms: i64) -> Self {
        ResponseSpec {
            response_id: new_request_id(),
            assertion_id: new_request_id(),
            issuer: idp.issuer.clone(),
            destination: Some(sp.acs_url.clone()),
            recipient: sp.acs_url.clone(),
            audience: sp.entity_id.clone(),
            in_response_to: None,
            name_id: name_id.to_owned(),
            name_id_format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into(),
            email: None,
            session_index: Some(new_request_id()),
            issue_instant_ms: now_ms,
            not_before_ms: now_ms - 60_000,
            not_on_or_after_ms: now_ms + 300_000,
            sign_response: true,
            sign_assertion: true,
            authn_context: None,
            extra_attributes: Vec::new(),
        }
    }
}

impl TestIdp {
    /// An IdP with an RSA-2048 key.
    pub fn new(issuer: &str) -> Self {
        Self::with_validity(issuer, -1, 365)
    }

    /// An IdP with an RSA-2048 key whose certificate is valid from `from_days` to `to_days`
    /// days from now (negative: in the past), e.g. `(-400, -30)` for one that has expired.
    pub fn with_validity(issuer: &str, from_days: i64, to_days: i64) -> Self {
        let kp = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
            .expect("RSA key generation");
        let key = Key::Rsa(aws_lc_rs::rsa::KeyPair::from_pkcs8(&kp.serialize_der()).expect("RSA PKCS#8"));
        TestIdp { issuer: issuer.to_owned(), cert_der: self_signed(&kp, issuer, from_days, to_days), key }
    }

    /// An IdP with an ECDSA P-256 key (signs with ecdsa-sha256).
    pub fn new_ecdsa(issuer: &str) -> Self {
        let kp = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("EC key generation");
        let key = Key::Ec(
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &kp.serialize_der())
                .expect("EC PKCS#8"),
        );
        TestIdp { issuer: issuer.to_owned(), cert_der: self_signed(&kp, issuer, -1, 365), key }
    }

    /// The trust configuration an SP would hold for this IdP.
    pub fn trust(&self) -> IdpTrust {
        IdpTrust { issuer: self.issuer.clone(), certificates: vec![self.cert_der.clone()] }
    }

    /// The certificate as bare base64 (as in metadata).
    pub fn cert_b64(&self) -> String {
        B64.encode(&self.cert_der)
    }

    /// IdP metadata for this IdP with Redirect and POST sign-on services at `sso_url`.
    pub fn metadata_xml(&self, sso_url: &str) -> String {
        format!(
            concat!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
                "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" ",
                "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{issuer}\">\n",
                "  <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n",
                "    <md:KeyDescriptor use=\"signing\"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\n{cert}\n",
                "    </ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>\n",
                "    <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{sso}\"/>\n",
                "    <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{sso}\"/>\n",
                "  </md:IDPSSODescriptor>\n",
                "</md:EntityDescriptor>\n"
            ),
            issuer = escape(&self.issuer),
            cert = wrap(&self.cert_b64(), 64),
            sso = escape(sso_url),
        )
    }

    /// The response XML described by `spec`, signed as requested.
    pub fn response_xml(&self, spec: &ResponseSpec) -> String {
        let instant = xstime::format_ms(spec.issue_instant_ms);
        let noa = xstime::format_ms(spec.not_on_or_after_ms);
        let irt = spec.in_response_to.as_ref().map(|i| format!(" InResponseTo=\"{}\"", escape(i))).unwrap_or_default();
        let mut attrs = Vec::new();
        if let Some(email) = &spec.email {
            attrs
                .push(("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress".to_owned(), email.clone()));
        }
        attrs.extend(spec.extra_attributes.iter().cloned());
        let attribute_statement = if attrs.is_empty() {
            String::new()
        } else {
            let mut s = String::from("  <saml:AttributeStatement>\n");
            for (name, value) in &attrs {
                s.push_str(&format!(
                    concat!(
                        "    <saml:Attribute Name=\"{}\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:uri\">",
                        "<saml:AttributeValue xsi:type=\"xs:string\">{}</saml:AttributeValue></saml:Attribute>\n"
                    ),
                    escape(name),
                    escape(value)
                ));
            }
            s.push_str("  </saml:AttributeStatement>\n");
            s
        };
        let assertion = format!(
            concat!(
                "<saml:Assertion xmlns:saml=\"{ns_saml}\" xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" ",
                "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ID=\"{aid}\" Version=\"2.0\" IssueInstant=\"{instant}\">\n",
                "  <saml:Issuer>{issuer}</saml:Issuer>\n",
                "  <saml:Subject>\n",
                "    <saml:NameID Format=\"{fmt}\">{name_id}</saml:NameID>\n",
                "    <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\n",
                "      <saml:SubjectConfirmationData NotOnOrAfter=\"{noa}\" Recipient=\"{recipient}\"{irt}/>\n",
                "    </saml:SubjectConfirmation>\n",
                "  </saml:Subject>\n",
                "  <saml:Conditions NotBefore=\"{nb}\" NotOnOrAfter=\"{noa}\">\n",
                "    <saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>\n",
                "  </saml:Conditions>\n",
                "  <saml:AuthnStatement AuthnInstant=\"{instant}\"{session}>\n",
                "    <saml:AuthnContext><saml:AuthnContextClassRef>{ctx}</saml:AuthnContextClassRef></saml:AuthnContext>\n",
                "  </saml:AuthnStatement>\n",
                "{attribute_statement}",
                "</saml:Assertion>"
            ),
            ns_saml = NS_SAML,
            aid = escape(&spec.assertion_id),
            instant = instant,
            issuer = escape(&spec.issuer),
            fmt = escape(&spec.name_id_format),
            name_id = escape(&spec.name_id),
            noa = noa,
            recipient = escape(&spec.recipient),
            irt = irt,
            nb = xstime::format_ms(spec.not_before_ms),
            audience = escape(&spec.audience),
            session =
                spec.session_index.as_ref().map(|s| format!(" SessionIndex=\"{}\"", escape(s))).unwrap_or_default(),
            ctx = escape(
                spec.authn_context
                    .as_deref()
                    .unwrap_or("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport")
            ),
            attribute_statement = attribute_statement,
        );
        let assertion = if spec.sign_assertion { self.sign_xml(&assertion) } else { assertion };
        let response = format!(
            concat!(
                "<samlp:Response xmlns:samlp=\"{ns_samlp}\" xmlns:saml=\"{ns_saml}\" ID=\"{rid}\" Version=\"2.0\" ",
                "IssueInstant=\"{instant}\"{dest}{irt}>\n",
                "<saml:Issuer>{issuer}</saml:Issuer>\n",
                "<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Success\"/></samlp:Status>\n",
                "{assertion}\n",
                "</samlp:Response>"
            ),
            ns_samlp = NS_SAMLP,
            ns_saml = NS_SAML,
            rid = escape(&spec.response_id),
            instant = instant,
            dest = spec.destination.as_ref().map(|d| format!(" Destination=\"{}\"", escape(d))).unwrap_or_default(),
            irt = irt,
            issuer = escape(&spec.issuer),
            assertion = assertion,
        );
        if spec.sign_response { self.sign_xml(&response) } else { response }
    }

    /// [`TestIdp::response_xml`] base64-encoded as in the HTTP-POST binding (with line breaks every 76 characters,
    /// as some IdPs send it).
    pub fn response_b64(&self, spec: &ResponseSpec) -> String {
        wrap(&B64.encode(self.response_xml(spec)), 76)
    }

    /// Signs the document element of `xml` (which must carry an `ID`) with SHA-256; see [`TestIdp::sign_xml_with`].
    pub fn sign_xml(&self, xml: &str) -> String {
        self.sign_xml_with(xml, Hash::Sha256)
    }

    /// Adds an enveloped signature to the document element of `xml` (which must carry an `ID`), placed right after
    /// its Issuer child (or first). RSA keys sign with rsa-sha{256,384,512} per `hash`; EC keys always use
    /// ecdsa-sha256 with a `hash` digest. Panics on input that is not well-formed.
    pub fn sign_xml_with(&self, xml: &str, hash: Hash) -> String {
        let doc = xml::parse(xml, "document to sign", usize::MAX).expect("well-formed XML to sign");
        let root = doc.root_element();
        let id = root.attribute("ID").expect("the document element has an ID");
        let (digest_uri, digest_alg) = match hash {
            Hash::Sha256 => (ALG_SHA256, &aws_lc_rs::digest::SHA256),
            Hash::Sha384 => (ALG_SHA384, &aws_lc_rs::digest::SHA384),
            Hash::Sha512 => (ALG_SHA512, &aws_lc_rs::digest::SHA512),
        };
        let prefixes = vec!["xs".to_owned()];
        let canonical = c14n::canonicalize(root, &Options { inclusive_prefixes: &prefixes, ..Options::default() });
        let digest = B64.encode(aws_lc_rs::digest::digest(digest_alg, canonical.as_bytes()));
        let sig_uri = match (&self.key, hash) {
            (Key::Ec(_), _) => ALG_ECDSA_SHA256,
            (Key::Rsa(_), Hash::Sha256) => ALG_RSA_SHA256,
            (Key::Rsa(_), Hash::Sha384) => ALG_RSA_SHA384,
            (Key::Rsa(_), Hash::Sha512) => ALG_RSA_SHA512,
        };
        let signed_info = format!(
            concat!(
                "<ds:SignedInfo><ds:CanonicalizationMethod Algorithm=\"{c14n}\"/><ds:SignatureMethod Algorithm=\"{sig}\"/>",
                "<ds:Reference URI=\"#{id}\"><ds:Transforms><ds:Transform Algorithm=\"{env}\"/>",
                "<ds:Transform Algorithm=\"{c14n}\"><ec:InclusiveNamespaces xmlns:ec=\"{c14n}\" PrefixList=\"xs\"/>",
                "</ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"{dig}\"/>",
                "<ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
            ),
            c14n = ALG_EXC_C14N,
            sig = sig_uri,
            id = escape(id),
            env = ALG_ENVELOPED,
            dig = digest_uri,
            digest = digest,
        );
        let wrapper = format!("<ds:Signature xmlns:ds=\"{NS_DS}\">{signed_info}</ds:Signature>");
        let wdoc = roxmltree::Document::parse(&wrapper).expect("signature template");
        let si = wdoc.root_element().first_element_child().expect("SignedInfo");
        let si_canonical = c14n::canonicalize(si, &Options::default());
        let sig_value = self.sign_bytes(si_canonical.as_bytes(), hash);
        let signature = format!(
            concat!(
                "<ds:Signature xmlns:ds=\"{ns}\">{si}<ds:SignatureValue>\n{value}\n</ds:SignatureValue>",
                "<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>",
                "</ds:Signature>"
            ),
            ns = NS_DS,
            si = signed_info,
            value = wrap(&B64.encode(sig_value), 76),
            cert = self.cert_b64(),
        );
        let at = match root.first_element_child() {
            Some(first) if first.tag_name().name() == "Issuer" => first.range().end,
            Some(first) => first.range().start,
            None => xml[..root.range().end].rfind("</").expect("element with content"),
        };
        format!("{}{}{}", &xml[..at], signature, &xml[at..])
    }

    fn sign_bytes(&self, msg: &[u8], hash: Hash) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.key {
            Key::Rsa(k) => {
                let alg = match hash {
                    Hash::Sha256 => &signature::RSA_PKCS1_SHA256,
                    Hash::Sha384 => &signature::RSA_PKCS1_SHA384,
                    Hash::Sha512 => &signature::RSA_PKCS1_SHA512,
                };
                let mut out = vec![0u8; k.public_modulus_len()];
                k.sign(alg, &rng, msg, &mut out).expect("RSA signing");
                out
            }
            Key::Ec(k) => k.sign(&rng, msg).expect("ECDSA signing").as_ref().to_vec(),
        }
    }

    /// The public key bytes (for diagnostics).
    pub fn public_key(&self) -> Vec<u8> {
        match &self.key {
            Key::Rsa(k) => k.public_key().as_ref().to_vec(),
            Key::Ec(k) => k.public_key().as_ref().to_vec(),
        }
    }
}

fn self_signed(kp: &rcgen::KeyPair, issuer: &str, from_days: i64, to_days: i64) -> Vec<u8> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("certificate parameters");
    let mut dn = rcgen::DistinguishedName::new();
    dn.push(rcgen::DnType::CommonName, format!("Test IdP {}", issuer.chars().take(40).collect::<String>()));
    params.distinguished_name = dn;
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(from_days);
    params.not_after = now + time::Duration::days(to_days);
    params.self_signed(kp).expect("self-signed certificate").der().to_vec()
}

fn wrap(s: &str, width: usize) -> String {
    s.as_bytes().chunks(width).map(|c| std::str::from_utf8(c).unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Applies non-overlapping edits (byte range in `text` -> replacement), returning the new text.
fn splice(text: &str, mut edits: Vec<(std::ops::Range<usize>, String)>) -> String {
    edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    let mut out = text.to_owned();
    for (r, s) in edits {
        out.replace_range(r, &s);
    }
    out
}

/// Signature-wrapping variants of a signed response whose (direct-child) assertion is signed, each paired with a
/// short name. In every variant an "evil" copy of the assertion whose NameID is `evil_name_id` is placed where a
/// naive SP would read it; a correct SP refuses them all.
///
/// Variants: the signed assertion moved into `samlp:Extensions` and replaced by an unsigned evil one; the
/// evil assertion keeping the original signature with the original assertion inside its `ds:Object`; an evil
/// assertion with the same ID as the original (moved to Extensions); the signature moved onto the evil assertion
/// with the original removed; an evil sibling before the original; and the evil copy hidden in Extensions while
/// the original stays.
pub fn wrapping_attacks(signed_response: &str, evil_name_id: &str) -> Vec<(&'static str, String)> {
    let doc = roxmltree::Document::parse(signed_response).expect("well-formed response");
    let root = doc.root_element();
    let a = root.children().find(|n| is(*n, NS_SAML, "Assertion")).expect("an assertion");
    let src = signed_response;
    let ar = a.range();
    let original = &src[ar.clone()];
    let rel = |r: std::ops::Range<usize>| (r.start - ar.start)..(r.end - ar.start);
    let name_id = a.descendants().find(|n| is(*n, NS_SAML, "NameID")).expect("a NameID");
    let name_text = text_range(name_id);
    let sig = a.children().find(|n| is(*n, NS_DS, "Signature"));
    let id_range = a.attribute_node("ID").expect("assertion ID").range_value();
    let evil_id = "_evil0000000000000000000000000000".to_owned();

    let evil_unsigned = |keep_id: bool| {
        let mut edits = vec![(rel(name_text.clone()), escape(evil_name_id))];
        if !keep_id {
            edits.push((rel(id_range.clone()), evil_id.clone()));
        }
        if let Some(s) = sig {
            edits.push((rel(s.range()), String::new()));
        }
        splice(original, edits)
    };
    let evil_with_sig = |object: Option<&str>| {
        let mut edits = vec![(rel(name_text.clone()), escape(evil_name_id)), (rel(id_range.clone()), evil_id.clone())];
        if let (Some(s), Some(obj)) = (sig, object) {
            let qn = xml::element_qname(s);
            let obj_qn = match xml::split_qname(qn).0 {
                "" => "Object".to_owned(),
                p => format!("{p}:Object"),
            };
            let at = s.range().end - qn.len() - 3;
            edits.push((rel(at..at), format!("<{obj_qn}>{obj}</{obj_qn}>")));
        }
        splice(original, edits)
    };
    let ext_at = root
        .children()
        .find(|n| is(*n, NS_SAML, "Issuer"))
        .map(|i| i.range().end)
        .or_else(|| root.first_element_child().map(|c| c.range().start))
        .expect("response content");
    let ext = |inner: &str| format!("<samlp:Extensions xmlns:samlp=\"{NS_SAMLP}\">{inner}</samlp:Extensions>");

    vec![
        (
            "signed_assertion_in_extensions",
            splice(src, vec![(ext_at..ext_at, ext(original)), (ar.clone(), evil_unsigned(false))]),
        ),
        ("original_in_evil_signature_object", splice(src, vec![(ar.clone(), evil_with_sig(Some(original)))])),
        ("duplicate_id", splice(src, vec![(ext_at..ext_at, ext(original)), (ar.clone(), evil_unsigned(true))])),
        ("signature_moved_to_evil", splice(src, vec![(ar.clone(), evil_with_sig(None))])),
        ("evil_sibling_first", splice(src, vec![(ar.start..ar.start, evil_unsigned(false))])),
        ("evil_in_extensions", splice(src, vec![(ext_at..ext_at, ext(&evil_unsigned(false)))])),
    ]
}

/// The byte range of an element's text content (between its start and end tags).
fn text_range(node: Node) -> std::ops::Range<usize> {
    let r = node.range();
    let src = node.document().input_text();
    let start = r.start + src[r.clone()].find('>').expect("start tag") + 1;
    let end = src[..r.end].rfind("</").expect("end tag");
    start..end
}
