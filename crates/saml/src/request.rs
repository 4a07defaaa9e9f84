//! AuthnRequest for the HTTP-Redirect binding (SAML bindings 3.4).

use std::io::Write;

use base64::Engine;

use crate::xml::escape;
use crate::{SamlError, SpConfig, xstime};

const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const NAMEID_PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";

/// A fresh AuthnRequest ID: `_` followed by 32 random hex digits (an XML NCName, 128 bits of randomness).
pub fn new_request_id() -> String {
    format!("_{}", uuid::Uuid::new_v4().simple())
}

/// Whether `s` is an XML NCName (restricted to ASCII, which is all SAML IDs need).
fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Builds the unsigned `samlp:AuthnRequest` XML (exposed for tests and logging).
pub fn authn_request_xml(
    sp: &SpConfig,
    idp_sso_url: &str,
    request_id: &str,
    issue_instant_ms: i64,
    name_id_hint: Option<&str>,
) -> Result<String, SamlError> {
    if !is_ncname(request_id) {
        return Err(SamlError::InvalidArgument(format!(
            "the request id \"{request_id}\" is not an XML NCName (it must start with a letter or underscore)"
        )));
    }
    let mut xml = format!(
        concat!(
            r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" "#,
            r#"xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{instant}" "#,
            r#"Destination="{dest}" AssertionConsumerServiceURL="{acs}" ProtocolBinding="{binding}">"#,
            "<saml:Issuer>{issuer}</saml:Issuer>"
        ),
        id = request_id,
        instant = xstime::format_ms(issue_instant_ms - issue_instant_ms.rem_euclid(1000)),
        dest = escape(idp_sso_url),
        acs = escape(&sp.acs_url),
        binding = BINDING_POST,
        issuer = escape(&sp.entity_id),
    );
    if let Some(hint) = name_id_hint.filter(|h| !h.is_empty()) {
        xml.push_str(&format!(
            r#"<saml:Subject><saml:NameID Format="{NAMEID_EMAIL}">{}</saml:NameID></saml:Subject>"#,
            escape(hint)
        ));
    }
    xml.push_str(&format!(
        r#"<samlp:NameIDPolicy Format="{NAMEID_PERSISTENT}" AllowCreate="true"/></samlp:AuthnRequest>"#
    ));
    Ok(xml)
}

/// The URL that sends the browser to the IdP with an AuthnRequest (HTTP-Redirect binding, unsigned).
///
/// The request is raw-DEFLATEd, base64-encoded and added as `SAMLRequest` (then `RelayState`, if given) to
/// `idp_sso_url`, keeping its existing query parameters. `request_id` must be an NCName (see [`new_request_id`]);
/// remember it to pass as [`crate::Expectations::request_id`] when the response arrives.
pub fn authn_request_redirect(
    sp: &SpConfig,
    idp_sso_url: &str,
    request_id: &str,
    issue_instant_ms: i64,
    relay_state: Option<&str>,
    name_id_hint: Option<&str>,
) -> Result<String, SamlError> {
    let mut url = url::Url::parse(idp_sso_url)
        .map_err(|e| SamlError::InvalidArgument(format!("the IdP sign-on URL \"{idp_sso_url}\" is not a URL: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(SamlError::InvalidArgument(format!("the IdP sign-on URL \"{idp_sso_url}\" is not http(s)")));
    }
    if relay_state.is_some_and(|r| r.len() > 80) {
        // SAML bindings 3.4.3: RelayState MUST NOT exceed 80 bytes.
        return Err(SamlError::InvalidArgument("the RelayState is longer than 80 bytes".into()));
    }
    let xml = authn_request_xml(sp, idp_sso_url, request_id, issue_instant_ms, name_id_hint)?;
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(xml.as_bytes()).map_err(|e| SamlError::malformed(e.to_string()))?;
    let deflated = enc.finish().map_err(|e| SamlError::malformed(e.to_string()))?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("SAMLRequest", &encoded);
        if let Some(rs) = relay_state {
            q.append_pair("RelayState", rs);
        }
    }
    Ok(url.into())
}

/// Inflates and decodes a `SAMLRequest` (or `SAMLResponse`) value of the HTTP-Redirect binding, as received after
/// URL-decoding. Limited to 256 KiB of output. Used by tests and available for debugging tools.
pub fn decode_redirect_binding(value: &str) -> Result<String, SamlError> {
    use std::io::Read;
    let raw = crate::xml::base64_lenient(value).ok_or_else(|| SamlError::malformed("the value is not valid base64"))?;
    let limit = crate::MAX_RESPONSE_BYTES;
    let mut out = Vec::new();
    flate2::read::DeflateDecoder::new(raw.as_slice())
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| SamlError::malformed(format!("the value is not raw DEFLATE data: {e}")))?;
    if out.len() > limit {
        return Err(SamlError::TooLarge { what: "inflated message", size: out.len(), limit });
    }
    String::from_utf8(out).map_err(|_| SamlError::malformed("the inflated message is not UTF-8"))
}
