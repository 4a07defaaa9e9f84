//! Proof Key for Code Exchange (RFC 7636): the shape of challenges and verifiers, and the S256 check
//! that binds an authorization code to the client that asked for it.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;

/// Length of an S256 challenge: a SHA-256 digest (32 bytes) in base64url without padding.
const S256_CHALLENGE_LEN: usize = 43;
/// RFC 7636 §4.1: a verifier has 43 to 128 characters.
const VERIFIER_LEN: std::ops::RangeInclusive<usize> = 43..=128;

/// Whether `challenge` has the form of an S256 code challenge: exactly 43 base64url characters
/// without padding (RFC 7636 §4.2).
pub fn valid_challenge(challenge: &str) -> bool {
    challenge.len() == S256_CHALLENGE_LEN
        && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `verifier` is a well-formed code verifier: 43 to 128 unreserved characters
/// `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"` (RFC 7636 §4.1).
pub fn valid_verifier(verifier: &str) -> bool {
    VERIFIER_LEN.contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 challenge of a verifier (for Portico as a client of an identity provider).
pub fn challenge_s256(verifier: &str) -> String {
    B64URL.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

/// Whether `verifier` matches an S256 `challenge`:
/// `BASE64URL-ENCODE(SHA256(ASCII(code_verifier))) == code_challenge` (RFC 7636 §4.6), compared in
/// constant time. A malformed verifier never matches.
pub fn verify_s256(verifier: &str, challenge: &str) -> bool {
    if !valid_verifier(verifier) {
        return false;
    }
    let computed = B64URL.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    verify_slices_are_equal(computed.as_bytes(), challenge.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7636 Appendix B: the verifier encodes the 32 octets listed there.
    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn rfc_7636_appendix_b_vector_matches() {
        assert!(valid_verifier(RFC_VERIFIER));
        assert!(valid_challenge(RFC_CHALLENGE));
        assert!(verify_s256(RFC_VERIFIER, RFC_CHALLENGE));
    }

    #[test]
    fn a_different_verifier_or_challenge_does_not_match() {
        // A well-formed verifier that merely shares the RFC vector's prefix.
        let other_verifier = "dBjftJeZ4CVP-1mB31qXkvPawBgYJtFjJ0hKMpIzgss";
        assert!(!verify_s256(other_verifier, RFC_CHALLENGE));
        assert!(!verify_s256(RFC_VERIFIER, "F9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!verify_s256(RFC_VERIFIER, ""));
        // The plain method's challenge (the verifier itself) is not an S256 challenge.
        assert!(!verify_s256(RFC_VERIFIER, RFC_VERIFIER));
    }

    #[test]
    fn verifiers_outside_43_to_128_characters_are_refused() {
        assert!(!valid_verifier(&"a".repeat(42)));
        assert!(valid_verifier(&"a".repeat(43)));
        assert!(valid_verifier(&"a".repeat(128)));
        assert!(!valid_verifier(&"a".repeat(129)));
        assert!(!verify_s256(&"a".repeat(42), RFC_CHALLENGE));
    }

    #[test]
    fn verifiers_with_reserved_characters_are_refused() {
        assert!(valid_verifier(&format!("{}-._~", "A".repeat(40))));
        for bad in ['+', '/', '=', ' ', '%', 'é'] {
            let v = format!("{}{bad}", "A".repeat(43));
            assert!(!valid_verifier(&v), "{bad:?}");
        }
    }

    #[test]
    fn challenges_must_be_43_base64url_characters() {
        assert!(!valid_challenge(&RFC_CHALLENGE[..42]));
        assert!(!valid_challenge(&format!("{RFC_CHALLENGE}A")));
        assert!(!valid_challenge(&format!("{}=", &RFC_CHALLENGE[..42])));
        assert!(!valid_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"));
        assert!(!valid_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw/cM"));
    }
}
