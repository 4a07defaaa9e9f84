//! X.509 certificate helpers: decoding, facts for administrators, and public-key extraction for XML-DSig.

use x509_parser::prelude::{FromDer, X509Certificate};

use crate::SamlError;
use crate::xml::base64_lenient;

/// Facts about a certificate, for showing to an administrator (as Entra does for federation certificates).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Start of validity, milliseconds since the Unix epoch.
    pub not_before_ms: i64,
    /// End of validity, milliseconds since the Unix epoch.
    pub not_after_ms: i64,
    /// SHA-1 of the DER encoding as uppercase hex without separators (the "thumbprint" Entra shows).
    pub thumbprint_sha1_hex: String,
    /// The subject distinguished name, e.g. `CN=Microsoft Azure Federated SSO Certificate`.
    pub subject: String,
}

/// Longest accepted certificate text (base64 or PEM).
const MAX_CERT_TEXT: usize = 64 * 1024;

/// Decodes a certificate given as bare base64 DER (as in SAML metadata) or PEM; whitespace is tolerated.
///
/// Returns the DER bytes, which must parse as an X.509 certificate with nothing after it. For PEM input the first
/// `CERTIFICATE` block is used.
pub fn certificate_from_base64(s: &str) -> Result<Vec<u8>, SamlError> {
    if s.len() > MAX_CERT_TEXT {
        return Err(SamlError::TooLarge { what: "certificate text", size: s.len(), limit: MAX_CERT_TEXT });
    }
    let body = match s.find("-----BEGIN CERTIFICATE-----") {
        Some(start) => {
            let rest = &s[start + "-----BEGIN CERTIFICATE-----".len()..];
            let end = rest
                .find("-----END CERTIFICATE-----")
                .ok_or_else(|| SamlError::InvalidCertificate("the PEM block has no END CERTIFICATE line".into()))?;
            &rest[..end]
        }
        None if s.contains("-----BEGIN") => {
            return Err(SamlError::InvalidCertificate("the PEM block is not a CERTIFICATE".into()));
        }
        None => s,
    };
    let der = base64_lenient(body)
        .filter(|d| !d.is_empty())
        .ok_or_else(|| SamlError::InvalidCertificate("the certificate text is not valid base64".into()))?;
    parse(&der)?;
    Ok(der)
}

/// Validity, SHA-1 thumbprint and subject of a DER certificate.
pub fn certificate_info(der: &[u8]) -> Result<CertInfo, SamlError> {
    let cert = parse(der)?;
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    Ok(CertInfo {
        not_before_ms: cert.validity().not_before.timestamp().saturating_mul(1000),
        not_after_ms: cert.validity().not_after.timestamp().saturating_mul(1000),
        thumbprint_sha1_hex: digest.as_ref().iter().map(|b| format!("{b:02X}")).collect(),
        subject: cert.subject().to_string(),
    })
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, SamlError> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(SamlError::InvalidCertificate("trailing data after the certificate".into())),
        Err(e) => Err(SamlError::InvalidCertificate(format!("not an X.509 certificate: {e}"))),
    }
}

/// The kind of public key a trusted certificate holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Rsa { bits: usize },
    EcP256,
    EcP384,
    Other,
}

/// A trusted certificate with its public key ready for verification.
#[derive(Debug, Clone)]
pub(crate) struct TrustedKey<'a> {
    pub der: &'a [u8],
    pub kind: KeyKind,
    /// RSA: the PKCS#1 RSAPublicKey; EC: the uncompressed point.
    pub public_key: Vec<u8>,
    pub label: String,
}

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

/// Parses a trusted certificate and extracts its key.
pub(crate) fn trusted_key(der: &[u8]) -> Result<TrustedKey<'_>, SamlError> {
    let cert = parse(der)?;
    let spki = cert.public_key();
    let alg = spki.algorithm.algorithm.to_id_string();
    let kind = if alg == OID_RSA {
        let bits = match spki.parsed() {
            Ok(x509_parser::public_key::PublicKey::RSA(k)) => k.key_size(),
            _ => return Err(SamlError::InvalidCertificate("the RSA public key cannot be parsed".into())),
        };
        KeyKind::Rsa { bits }
    } else if alg == OID_EC {
        let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.as_oid().ok()).map(|o| o.to_id_string());
        match curve.as_deref() {
            Some(OID_P256) => KeyKind::EcP256,
            Some(OID_P384) => KeyKind::EcP384,
            _ => KeyKind::Other,
        }
    } else {
        KeyKind::Other
    };
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    let thumb: String = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    Ok(TrustedKey {
        der,
        kind,
        public_key: spki.subject_public_key.data.to_vec(),
        label: format!("{} (thumbprint {thumb})", cert.subject()),
    })
}

/// A short description of a certificate found in a message, for error messages.
pub(crate) fn describe(der: &[u8]) -> String {
    match certificate_info(der) {
        Ok(i) => format!("{} (thumbprint {})", i.subject, i.thumbprint_sha1_hex),
        Err(_) => "an unparseable certificate".into(),
    }
}
