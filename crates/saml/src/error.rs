//! The single error type of the crate.

/// Why a SAML message, certificate or metadata document was refused.
///
/// [`SamlError::reason`] gives a stable snake_case code for metrics and audit records; the `Display` text is a
/// sentence for an administrator's log naming the exact problem. Neither contains secrets, but both may contain
/// values taken from the (untrusted) message, such as an audience or issuer string.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SamlError {
    /// The input exceeds a size limit.
    #[error("the {what} is {size} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// What was too large ("SAML response", "metadata document", ...).
        what: &'static str,
        /// Its size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The document contains a document type declaration (DTD), which is never accepted (XXE, entity expansion).
    #[error("the XML document contains a document type declaration (<!DOCTYPE>), which is refused")]
    DtdRefused,
    /// The input is not well-formed XML, not valid base64, or does not have the structure SAML requires.
    #[error("malformed input: {0}")]
    Malformed(String),
    /// The IdP answered with a non-success status.
    #[error("the identity provider returned status {}{}", .codes.join(" / "), .message.as_ref().map(|m| format!(" with the message \"{m}\"")).unwrap_or_default())]
    StatusNotSuccess {
        /// The top-level StatusCode value followed by nested (second-level) StatusCode values.
        codes: Vec<String>,
        /// The StatusMessage, if any.
        message: Option<String>,
    },
    /// Neither the Response nor the Assertion is signed.
    #[error("neither the response nor the assertion carries an XML signature")]
    SignatureMissing,
    /// A signature is present but does not verify, or its structure is not acceptable.
    #[error("invalid signature: {0}")]
    SignatureInvalid(String),
    /// The signature names a certificate the tenant does not trust, or no trusted certificate is configured.
    #[error("certificate not trusted: {0}")]
    CertificateUnknown(String),
    /// The digest of the signed element does not match the one in the signature (the content was altered).
    #[error("digest mismatch: {0}")]
    DigestMismatch(String),
    /// A weak algorithm (SHA-1, short RSA keys) was used.
    #[error("weak algorithm refused: {0}")]
    WeakAlgorithm(String),
    /// An algorithm or transform this implementation does not support.
    #[error("unsupported algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// Signature-wrapping defence triggered: duplicate IDs, an assertion outside the expected place, or a reference
    /// that does not point at the element enclosing the signature.
    #[error("possible signature-wrapping attack: {0}")]
    Wrapped(String),
    /// The Issuer is not the trusted IdP's entity id.
    #[error("the {place} issuer \"{found}\" is not the trusted identity provider \"{expected}\"")]
    IssuerMismatch {
        /// "assertion's" or "response's".
        place: &'static str,
        /// The issuer found in the message.
        found: String,
        /// The configured issuer.
        expected: String,
    },
    /// The assertion is not addressed to this SP.
    #[error("{0}")]
    AudienceMismatch(String),
    /// The bearer SubjectConfirmationData's Recipient is not this SP's ACS URL.
    #[error("{0}")]
    RecipientMismatch(String),
    /// The Response's Destination is not this SP's ACS URL.
    #[error(
        "the response's destination \"{found}\" is not this tenant's assertion consumer service URL \"{expected}\""
    )]
    DestinationMismatch {
        /// The Destination found.
        found: String,
        /// The configured ACS URL.
        expected: String,
    },
    /// InResponseTo does not match the expectation (request id or unsolicited).
    #[error("{0}")]
    InResponseToMismatch(String),
    /// A NotBefore lies in the future (beyond the allowed clock skew).
    #[error("{0}")]
    NotYetValid(String),
    /// A NotOnOrAfter lies in the past (beyond the allowed clock skew).
    #[error("{0}")]
    Expired(String),
    /// The response contains no assertion.
    #[error("the response contains no assertion")]
    NoAssertion,
    /// The response contains several assertions.
    #[error("the response contains {0} assertions; exactly one is accepted")]
    MultipleAssertions(usize),
    /// Encrypted assertions, NameIDs or attributes are not supported.
    #[error("encrypted content is not supported: {0}")]
    EncryptedUnsupported(String),
    /// The assertion has no usable Subject (NameID or bearer SubjectConfirmation).
    #[error("{0}")]
    SubjectMissing(String),
    /// A certificate could not be decoded or parsed.
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),
    /// A caller-supplied argument is not acceptable (e.g. a request id that is not an XML NCName).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl SamlError {
    /// A stable snake_case code for this kind of error (for metrics, audit logs and tests).
    pub fn reason(&self) -> &'static str {
        match self {
            SamlError::TooLarge { .. } => "too_large",
            SamlError::DtdRefused => "dtd_refused",
            SamlError::Malformed(_) => "malformed",
            SamlError::StatusNotSuccess { .. } => "status_not_success",
            SamlError::SignatureMissing => "signature_missing",
            SamlError::SignatureInvalid(_) => "signature_invalid",
            SamlError::CertificateUnknown(_) => "certificate_unknown",
            SamlError::DigestMismatch(_) => "digest_mismatch",
            SamlError::WeakAlgorithm(_) => "weak_algorithm",
            SamlError::UnsupportedAlgorithm(_) => "unsupported_algorithm",
            SamlError::Wrapped(_) => "wrapped",
            SamlError::IssuerMismatch { .. } => "issuer_mismatch",
            SamlError::AudienceMismatch(_) => "audience_mismatch",
            SamlError::RecipientMismatch(_) => "recipient_mismatch",
            SamlError::DestinationMismatch { .. } => "destination_mismatch",
            SamlError::InResponseToMismatch(_) => "in_response_to_mismatch",
            SamlError::NotYetValid(_) => "not_yet_valid",
            SamlError::Expired(_) => "expired",
            SamlError::NoAssertion => "no_assertion",
            SamlError::MultipleAssertions(_) => "multiple_assertions",
            SamlError::EncryptedUnsupported(_) => "encrypted_unsupported",
            SamlError::SubjectMissing(_) => "subject_missing",
            SamlError::InvalidCertificate(_) => "invalid_certificate",
            SamlError::InvalidArgument(_) => "invalid_argument",
        }
    }

    pub(crate) fn malformed(msg: impl Into<String>) -> Self {
        SamlError::Malformed(msg.into())
    }
}
