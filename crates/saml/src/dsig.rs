//! Verification of one enveloped XML-DSig 1.0 signature as SAML uses it.

use aws_lc_rs::signature::{self, UnparsedPublicKey, VerificationAlgorithm};
use roxmltree::Node;

use crate::SamlError;
use crate::c14n::{self, Options};
use crate::cert::{KeyKind, TrustedKey, describe};
use crate::xml::{NS_DS, NS_EXC_C14N, base64_lenient, children, is, strict_text};

pub(crate) const ALG_EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub(crate) const ALG_EXC_C14N_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
pub(crate) const ALG_ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
pub(crate) const ALG_SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
pub(crate) const ALG_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#sha384";
pub(crate) const ALG_SHA512: &str = "http://www.w3.org/2001/04/xmlenc#sha512";
pub(crate) const ALG_RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
pub(crate) const ALG_RSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384";
pub(crate) const ALG_RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";
pub(crate) const ALG_ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
pub(crate) const ALG_ECDSA_SHA384: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SigAlg {
    Rsa(Hash),
    Ecdsa(Hash),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

fn digest_alg(uri: &str) -> Result<&'static aws_lc_rs::digest::Algorithm, SamlError> {
    use aws_lc_rs::digest;
    match uri {
        ALG_SHA256 => Ok(&digest::SHA256),
        ALG_SHA384 => Ok(&digest::SHA384),
        ALG_SHA512 => Ok(&digest::SHA512),
        u if u.to_ascii_lowercase().contains("sha1") => {
            Err(SamlError::WeakAlgorithm(format!("the digest method {u} (SHA-1) is not accepted; use SHA-256")))
        }
        u => Err(SamlError::UnsupportedAlgorithm(format!("the digest method \"{u}\" is not supported"))),
    }
}

fn signature_alg(uri: &str) -> Result<SigAlg, SamlError> {
    match uri {
        ALG_RSA_SHA256 => Ok(SigAlg::Rsa(Hash::Sha256)),
        ALG_RSA_SHA384 => Ok(SigAlg::Rsa(Hash::Sha384)),
        ALG_RSA_SHA512 => Ok(SigAlg::Rsa(Hash::Sha512)),
        ALG_ECDSA_SHA256 => Ok(SigAlg::Ecdsa(Hash::Sha256)),
        ALG_ECDSA_SHA384 => Ok(SigAlg::Ecdsa(Hash::Sha384)),
        u if u.to_ascii_lowercase().contains("sha1") => {
            Err(SamlError::WeakAlgorithm(format!("the signature method {u} (SHA-1) is not accepted; use SHA-256")))
        }
        u => Err(SamlError::UnsupportedAlgorithm(format!("the signature method \"{u}\" is not supported"))),
    }
}

/// (with_comments, inclusive prefixes) of an exclusive c14n algorithm element, or an error for anything else.
fn c14n_method(el: Node, role: &str) -> Result<(bool, Vec<String>), SamlError> {
    let alg = el.attribute("Algorithm").unwrap_or("");
    let with_comments = match alg {
        ALG_EXC_C14N => false,
        ALG_EXC_C14N_COMMENTS => true,
        other => {
            return Err(SamlError::UnsupportedAlgorithm(format!(
                "the {role} \"{other}\" is not supported; only exclusive XML canonicalization 1.0 is accepted"
            )));
        }
    };
    let mut prefixes = Vec::new();
    for child in el.children().filter(Node::is_element) {
        if !is(child, NS_EXC_C14N, "InclusiveNamespaces") {
            return Err(SamlError::malformed(format!("unexpected {} element in the {role}", child.tag_name().name())));
        }
        prefixes.extend(c14n::parse_prefix_list(child.attribute("PrefixList").unwrap_or("")));
    }
    Ok((with_comments, prefixes))
}

/// The element children of `node`, refusing non-whitespace text.
fn element_children<'a, 'i>(node: Node<'a, 'i>) -> Result<Vec<Node<'a, 'i>>, SamlError> {
    let mut out = Vec::new();
    for c in node.children() {
        if c.is_element() {
            out.push(c);
        } else if c.is_text() && !c.text().unwrap_or("").trim().is_empty() {
            return Err(SamlError::malformed(format!("unexpected text inside {}", node.tag_name().name())));
        }
    }
    Ok(out)
}

fn expect<'a, 'i>(node: Option<&Node<'a, 'i>>, local: &str, parent: &str) -> Result<Node<'a, 'i>, SamlError> {
    match node {
        Some(n) if is(*n, NS_DS, local) => Ok(*n),
        Some(n) => {
            Err(SamlError::malformed(format!("expected ds:{local} in ds:{parent}, found {}", n.tag_name().name())))
        }
        None => Err(SamlError::malformed(format!("ds:{parent} has no ds:{local}"))),
    }
}

/// Verifies the enveloped signature `sig`, a direct child of `parent`, against the trusted keys.
///
/// `what` names the signed element for messages ("response", "assertion").
pub(crate) fn verify_enveloped(parent: Node, sig: Node, keys: &[TrustedKey], what: &str) -> Result<(), SamlError> {
    debug_assert_eq!(sig.parent(), Some(parent));
    let kids = element_children(sig)?;
    let signed_info = expect(kids.first(), "SignedInfo", "Signature")?;
    let signature_value = expect(kids.get(1), "SignatureValue", "Signature")?;
    let mut key_info = None;
    for (i, k) in kids.iter().enumerate().skip(2) {
        if i == 2 && is(*k, NS_DS, "KeyInfo") {
            key_info = Some(*k);
        } else if !is(*k, NS_DS, "Object") {
            return Err(SamlError::malformed(format!("unexpected {} element in ds:Signature", k.tag_name().name())));
        }
    }

    // SignedInfo: CanonicalizationMethod, SignatureMethod, exactly one Reference.
    let si = element_children(signed_info)?;
    let canon = expect(si.first(), "CanonicalizationMethod", "SignedInfo")?;
    let method = expect(si.get(1), "SignatureMethod", "SignedInfo")?;
    let references: Vec<Node> = si.iter().skip(2).copied().collect();
    if references.iter().any(|r| !is(*r, NS_DS, "Reference")) {
        return Err(SamlError::malformed(
            "ds:SignedInfo contains an element other than ds:Reference after SignatureMethod",
        ));
    }
    if references.len() != 1 {
        return Err(SamlError::Wrapped(format!(
            "the {what}'s signature has {} references; exactly one, to the {what} itself, is accepted",
            references.len()
        )));
    }
    let reference = references[0];
    let (si_comments, si_prefixes) = c14n_method(canon, "canonicalization method")?;
    let sig_alg = signature_alg(method.attribute("Algorithm").unwrap_or(""))?;
    if method.children().any(|c| c.is_element()) {
        return Err(SamlError::UnsupportedAlgorithm("parameters of the signature method are not supported".into()));
    }

    // The reference must point at the element enclosing the signature, by its ID.
    let uri = reference.attribute("URI").unwrap_or("");
    let parent_id = parent.attribute("ID").unwrap_or("");
    if parent_id.is_empty() || uri.strip_prefix('#') != Some(parent_id) {
        return Err(SamlError::Wrapped(format!(
            "the {what}'s signature references \"{uri}\", not the {what} it is enclosed in (\"#{parent_id}\")"
        )));
    }
    let rk = element_children(reference)?;
    let (transforms, rest) = match rk.first() {
        Some(t) if is(*t, NS_DS, "Transforms") => (Some(*t), &rk[1..]),
        _ => (None, &rk[..]),
    };
    let digest_method = expect(rest.first(), "DigestMethod", "Reference")?;
    let digest_value = expect(rest.get(1), "DigestValue", "Reference")?;
    if rest.len() > 2 {
        return Err(SamlError::malformed("unexpected element after ds:DigestValue"));
    }
    let transforms = match transforms {
        Some(t) => element_children(t)?,
        None => Vec::new(),
    };
    // Exactly: enveloped-signature, then exclusive c14n (what every SAML IdP produces).
    let ok_shape = transforms.len() == 2
        && transforms.iter().all(|t| is(*t, NS_DS, "Transform"))
        && transforms[0].attribute("Algorithm") == Some(ALG_ENVELOPED)
        && !transforms[0].children().any(|c| c.is_element());
    if !ok_shape {
        let algs: Vec<&str> = transforms.iter().map(|t| t.attribute("Algorithm").unwrap_or("?")).collect();
        return Err(SamlError::UnsupportedAlgorithm(format!(
            "the reference transforms [{}] are not supported; expected enveloped-signature followed by exclusive c14n",
            algs.join(", ")
        )));
    }
    // With a bare-name XPointer ("#id") comments are removed before the transforms run (XML-DSig 4.3.3.3), so
    // the WithComments variant canonicalizes exactly like the plain one here.
    let (_, ref_prefixes) = c14n_method(transforms[1], "reference transform")?;
    let digest_alg = digest_alg(digest_method.attribute("Algorithm").unwrap_or(""))?;

    // Keys: a certificate carried in KeyInfo must be one of the trusted ones; it only selects among them.
    let mut embedded = Vec::new();
    if let Some(ki) = key_info {
        for data in children(ki, NS_DS, "X509Data") {
            for c in children(data, NS_DS, "X509Certificate") {
                let der = base64_lenient(strict_text(c)?)
                    .ok_or_else(|| SamlError::malformed("ds:X509Certificate is not valid base64"))?;
                embedded.push(der);
            }
        }
    }
    let candidates: Vec<&TrustedKey> = if embedded.is_empty() {
        keys.iter().collect()
    } else {
        let matching: Vec<&TrustedKey> = keys.iter().filter(|k| embedded.iter().any(|e| e == k.der)).collect();
        if matching.is_empty() {
            return Err(SamlError::CertificateUnknown(format!(
                "the {what} is signed with the certificate {}, which is not among the {} certificate(s) trusted for this identity provider",
                describe(&embedded[0]),
                keys.len()
            )));
        }
        matching
    };

    // Digest over the canonical form of the enclosing element without this signature.
    let canonical = c14n::canonicalize(
        parent,
        &Options { with_comments: false, inclusive_prefixes: &ref_prefixes, exclude: Some(sig.id()) },
    );
    let computed = aws_lc_rs::digest::digest(digest_alg, canonical.as_bytes());
    let expected = base64_lenient(strict_text(digest_value)?)
        .ok_or_else(|| SamlError::malformed("ds:DigestValue is not valid base64"))?;
    if aws_lc_rs::constant_time::verify_slices_are_equal(computed.as_ref(), &expected).is_err() {
        return Err(SamlError::DigestMismatch(format!(
            "the {what} (ID \"{parent_id}\") was modified after it was signed"
        )));
    }

    // Signature over the canonical SignedInfo.
    let si_canonical = c14n::canonicalize(
        signed_info,
        &Options { with_comments: si_comments, inclusive_prefixes: &si_prefixes, exclude: None },
    );
    let sig_bytes = base64_lenient(strict_text(signature_value)?)
        .ok_or_else(|| SamlError::malformed("ds:SignatureValue is not valid base64"))?;
    let mut tried = 0;
    for key in &candidates {
        if verify_with(key, sig_alg, si_canonical.as_bytes(), &sig_bytes, &mut tried)? {
            return Ok(());
        }
    }
    if tried == 0 {
        return Err(SamlError::SignatureInvalid(format!(
            "none of the trusted certificates has a key suitable for the {what}'s signature method {}",
            method.attribute("Algorithm").unwrap_or("")
        )));
    }
    Err(SamlError::SignatureInvalid(format!(
        "the {what}'s signature value does not verify with {}",
        if candidates.len() == 1 {
            format!("the trusted certificate {}", candidates[0].label)
        } else {
            format!("any of the {} trusted certificates", candidates.len())
        }
    )))
}

/// Verifies with one key; Ok(false) when it does not verify, or is of another type (then `tried` is unchanged).
fn verify_with(key: &TrustedKey, alg: SigAlg, msg: &[u8], sig: &[u8], tried: &mut usize) -> Result<bool, SamlError> {
    let verifier: &'static dyn VerificationAlgorithm = match (alg, key.kind) {
        (SigAlg::Rsa(h), KeyKind::Rsa { bits }) => {
            if bits < 2048 {
                return Err(SamlError::WeakAlgorithm(format!(
                    "the certificate {} has a {bits}-bit RSA key; at least 2048 bits are required",
                    key.label
                )));
            }
            match h {
                Hash::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                Hash::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                Hash::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            }
        }
        (SigAlg::Ecdsa(Hash::Sha256), KeyKind::EcP256) => &signature::ECDSA_P256_SHA256_FIXED,
        (SigAlg::Ecdsa(Hash::Sha384), KeyKind::EcP384) => &signature::ECDSA_P384_SHA384_FIXED,
        (SigAlg::Ecdsa(h), KeyKind::EcP256 | KeyKind::EcP384) => {
            // Mixed curve/hash pairs: XML-DSig carries r||s; convert to DER for the ASN.1 verifiers.
            let (verifier, width): (&'static dyn VerificationAlgorithm, usize) = match (key.kind, h) {
                (KeyKind::EcP256, Hash::Sha384) => (&signature::ECDSA_P256_SHA384_ASN1, 32),
                (KeyKind::EcP384, Hash::Sha256) => (&signature::ECDSA_P384_SHA256_ASN1, 48),
                _ => return Ok(false),
            };
            *tried += 1;
            if sig.len() != 2 * width {
                return Ok(false);
            }
            let der = ecdsa_fixed_to_der(&sig[..width], &sig[width..]);
            return Ok(UnparsedPublicKey::new(verifier, &key.public_key).verify(msg, &der).is_ok());
        }
        _ => return Ok(false),
    };
    *tried += 1;
    Ok(UnparsedPublicKey::new(verifier, &key.public_key).verify(msg, sig).is_ok())
}

/// DER `SEQUENCE { INTEGER r, INTEGER s }` from big-endian fixed-width r and s.
fn ecdsa_fixed_to_der(r: &[u8], s: &[u8]) -> Vec<u8> {
    fn int(v: &[u8], out: &mut Vec<u8>) {
        let v = match v.iter().position(|b| *b != 0) {
            Some(i) => &v[i..],
            None => &[0u8][..],
        };
        let pad = v[0] & 0x80 != 0;
        out.push(0x02);
        out.push((v.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
    }
    let mut body = Vec::with_capacity(2 * r.len() + 8);
    int(r, &mut body);
    int(s, &mut body);
    let mut out = vec![0x30];
    if body.len() >= 0x80 {
        out.push(0x81);
    }
    out.push(body.len() as u8);
    out.extend(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_is_weak_and_unknown_is_unsupported() {
        assert_eq!(digest_alg("http://www.w3.org/2000/09/xmldsig#sha1").unwrap_err().reason(), "weak_algorithm");
        assert_eq!(signature_alg("http://www.w3.org/2000/09/xmldsig#rsa-sha1").unwrap_err().reason(), "weak_algorithm");
        assert_eq!(
            signature_alg("http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1").unwrap_err().reason(),
            "weak_algorithm"
        );
        assert_eq!(
            signature_alg("http://www.w3.org/2000/09/xmldsig#hmac-sha256").unwrap_err().reason(),
            "unsupported_algorithm"
        );
        assert!(digest_alg(ALG_SHA512).is_ok());
    }

    #[test]
    fn der_conversion_pads_high_bit() {
        let der = ecdsa_fixed_to_der(&[0x00, 0x80], &[0x01, 0x02]);
        assert_eq!(der, vec![0x30, 0x08, 0x02, 0x02, 0x00, 0x80, 0x02, 0x02, 0x01, 0x02]);
    }
}
