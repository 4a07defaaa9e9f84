//! SAML 2.0 service-provider side for Portico: accepting guests from a partner's SAML identity provider
//! ("SAML direct federation", as in Entra ID).
//!
//! Pure Rust: [`roxmltree`] for XML, `aws-lc-rs` for digests and signatures, `x509-parser` for certificates.
//!
//! # What it does
//!
//! * [`authn_request_redirect`] builds the IdP sign-on URL carrying an unsigned `AuthnRequest` (HTTP-Redirect
//!   binding); [`new_request_id`] makes its ID.
//! * [`decode_post_binding`] decodes the `SAMLResponse` form field; [`validate_response`] checks the response
//!   against an [`IdpTrust`] and [`Expectations`] and returns the [`Assertion`]'s facts ([`Assertion::email`],
//!   [`Assertion::mfa`], attributes).
//! * [`sp_metadata`] writes this SP's metadata; [`parse_idp_metadata`] reads a partner's; [`certificate_from_base64`]
//!   and [`certificate_info`] help administrators manage signing certificates.
//!
//! # Validation rules and defences
//!
//! * **DTD / XXE / entity expansion**: any `<!DOCTYPE` is refused (`dtd_refused`), before and during parsing.
//!   Responses are limited to 256 KiB and 64 levels of nesting.
//! * **Structure**: the document element must be `{urn:oasis:names:tc:SAML:2.0:protocol}Response` (namespaces are
//!   compared by URI, never by prefix), Status must be Success, and there must be exactly one
//!   `saml:Assertion`, a direct child of the Response. Encrypted assertions are not supported.
//! * **Signature wrapping**: an Assertion anywhere else in the document (Extensions, a `ds:Object`, Advice, ...)
//!   is refused; every ID value must be unique; the signature must be a direct child of the element it signs and
//!   its single Reference must be `#` + that element's `ID`; only enveloped-signature + exclusive C14N transforms
//!   are accepted. After verification only the verified element is read: values are never looked up again by
//!   searching the document.
//! * **Signatures**: XML-DSig 1.0 enveloped signatures with exclusive C14N 1.0 (InclusiveNamespaces supported),
//!   SHA-256/384/512 digests, RSA PKCS#1 v1.5 (≥ 2048 bits) with SHA-256/384/512 or ECDSA P-256/P-384; SHA-1 is
//!   refused (`weak_algorithm`). Keys come only from [`IdpTrust::certificates`]; a certificate inside the message
//!   only selects among them and must be byte-identical to one (`certificate_unknown`). Either the assertion or
//!   the response (then covering its direct-child assertion) must be signed; every signature present must verify.
//!   The validity period of trusted certificates is the caller's to apply when it builds [`IdpTrust`] (Portico's
//!   ACS leaves out certificates past their end date; [`certificate_info`] reads the dates).
//! * **Comment injection**: NameID, Issuer, Audience, AuthnContextClassRef and attribute values must be a single
//!   text node; comments, processing instructions or elements inside them are refused (`malformed`), since
//!   digests do not cover comments and `user@evil.com<!---->.partner.com` must never become `user@evil.com`.
//! * **Audience, recipient, destination, issuer, InResponseTo, time window** per SAML core/profiles, with a
//!   caller-chosen clock skew of at most 5 minutes. Times are xs:dateTime in UTC (`Z`).
//!
//! # Replay
//!
//! Replay detection is the caller's job: after a successful validation, record [`Assertion::id`] together with
//! [`Assertion::issuer`] until [`Assertion::not_on_or_after_ms`] and refuse any assertion already recorded.
//!
//! All times in the API are `i64` milliseconds since the Unix epoch.
//!
//! # Testing
//!
//! The `testing` feature adds [`testing`]: a fixture IdP that signs responses like a real one (usable from other
//! crates' tests and benchmarks), and helpers that build signature-wrapping attacks.

#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod c14n;
mod cert;
mod dsig;
mod error;
mod metadata;
mod request;
mod response;
#[cfg(feature = "testing")]
pub mod testing;
mod xml;
mod xstime;

pub use c14n::exclusive_c14n;
pub use cert::{CertInfo, certificate_from_base64, certificate_info};
pub use error::SamlError;
pub use metadata::{IdpMetadata, MAX_METADATA_BYTES, parse_idp_metadata, sp_metadata};
pub use request::{authn_request_redirect, authn_request_xml, decode_redirect_binding, new_request_id};
pub use response::{AUTHN_METHODS_ATTRIBUTE, Assertion, EMAIL_ATTRIBUTES, MFA_CLASS_REFS, validate_response};

/// Largest SAML response accepted (decoded XML), 256 KiB.
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;

/// This tenant's service-provider identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpConfig {
    /// The SP's entity id; assertions must name it as Audience.
    pub entity_id: String,
    /// The assertion consumer service URL; responses must name it as Destination and Recipient.
    pub acs_url: String,
}

/// What the SP trusts about one partner IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpTrust {
    /// The IdP's entity id, which must be the Issuer of its assertions (and responses).
    pub issuer: String,
    /// DER X.509 certificates whose keys may sign (several during a roll-over).
    pub certificates: Vec<Vec<u8>>,
}

/// What the SP expects of one particular response.
#[derive(Debug, Clone, Copy)]
pub struct Expectations<'a> {
    /// The SP: Audience must equal `sp.entity_id`; Recipient and Destination must equal `sp.acs_url`.
    pub sp: &'a SpConfig,
    /// `Some(id)`: the response answers our AuthnRequest `id`; the bearer SubjectConfirmationData's InResponseTo
    /// must equal it, and the Response's InResponseTo, when present, too. `None`: an IdP-initiated (unsolicited)
    /// response is expected, and any InResponseTo is refused.
    pub request_id: Option<&'a str>,
    /// The current time, milliseconds since the Unix epoch.
    pub now_ms: i64,
    /// Allowed clock difference with the IdP, in milliseconds (e.g. 120_000); clamped to 0..=300_000.
    pub clock_skew_ms: i64,
}

/// Decodes the `SAMLResponse` field of the HTTP-POST binding: base64 (whitespace and line breaks tolerated) of
/// UTF-8 XML of at most 256 KiB. A leading byte-order mark is removed.
pub fn decode_post_binding(saml_response_b64: &str) -> Result<String, SamlError> {
    // 4 base64 characters per 3 bytes, plus generous room for line breaks.
    let max_text = MAX_RESPONSE_BYTES / 3 * 4 * 2 + 1024;
    if saml_response_b64.len() > max_text {
        return Err(SamlError::TooLarge { what: "SAMLResponse field", size: saml_response_b64.len(), limit: max_text });
    }
    let bytes = xml::base64_lenient(saml_response_b64)
        .ok_or_else(|| SamlError::malformed("the SAMLResponse field is not valid base64"))?;
    if bytes.len() > MAX_RESPONSE_BYTES {
        return Err(SamlError::TooLarge { what: "SAML response", size: bytes.len(), limit: MAX_RESPONSE_BYTES });
    }
    let text = String::from_utf8(bytes).map_err(|_| SamlError::malformed("the SAML response is not UTF-8"))?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}
