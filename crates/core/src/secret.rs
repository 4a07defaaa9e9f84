//! Passwords and generated secrets.
//!
//! Passwords are hashed with Argon2id (PHC string). Client secrets are 240-bit random strings, so a
//! fast SHA-256 digest is enough to store them (a slow hash protects low-entropy secrets only, and
//! would cap the token endpoint at a few dozen grants per second); they are compared in constant time.

use argon2::password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash};
use argon2::{Algorithm, Argon2, Params, Version};
use aws_lc_rs::digest;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;

/// Argon2id cost settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Iterations.
    pub iterations: u32,
}

impl Default for PasswordCost {
    /// OWASP's Argon2id baseline: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        Self { memory_kib: 19 * 1024, iterations: 2 }
    }
}

impl PasswordCost {
    /// A cheap cost for tests and bulk seeding of throwaway data.
    pub const TEST: PasswordCost = PasswordCost { memory_kib: 256, iterations: 1 };
}

/// Errors of password hashing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

/// Hashes a password with Argon2id into a PHC string.
pub fn hash_password(password: &str, cost: PasswordCost) -> Result<String, HashError> {
    let params = Params::new(cost.memory_kib, cost.iterations, 1, None).map_err(|_| HashError)?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut salt = [0u8; 16];
    SystemRandom::new().fill(&mut salt).map_err(|_| HashError)?;
    argon.hash_password_with_salt(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|_| HashError)
}

/// Checks a password against a PHC string (any Argon2 parameters the string names).
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else { return false };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// `n` random bytes, base64url without padding.
pub fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    // SystemRandom only fails when the OS has no entropy source at all.
    let _ = SystemRandom::new().fill(&mut buf);
    B64URL.encode(buf)
}

/// `n` random bytes.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    let _ = SystemRandom::new().fill(&mut buf);
    buf
}

/// A code of `n` random decimal digits (uniform: bytes of 250 and above are drawn again).
pub fn random_digits(n: usize) -> String {
    let mut out = String::with_capacity(n);
    while out.len() < n {
        for b in random_bytes(n) {
            if b < 250 && out.len() < n {
                out.push(char::from(b'0' + b % 10));
            }
        }
    }
    out
}

/// A new client secret in Entra's shape: 40 characters with `~` as the fourth, so scanners that
/// know Entra secrets recognise it. Returns `(secret, hint)`; the hint is its first 3 characters.
pub fn new_client_secret() -> (String, String) {
    let body = random_token(30); // 40 chars, 240 bits
    let secret = format!("{}~{}", &body[..3], &body[4..]);
    let hint = secret[..3].to_string();
    (secret, hint)
}

/// A password an administrator can hand out once: 20 characters, mixed.
pub fn new_initial_password() -> String {
    random_token(15)
}

/// The stored digest of a client secret.
pub fn digest_secret(secret: &str) -> String {
    let d = digest::digest(&digest::SHA256, secret.as_bytes());
    B64URL.encode(d.as_ref())
}

/// Constant-time check of a presented secret against a stored digest.
pub fn secret_matches(presented: &str, stored_digest: &str) -> bool {
    let d = digest_secret(presented);
    aws_lc_rs::constant_time::verify_slices_are_equal(d.as_bytes(), stored_digest.as_bytes()).is_ok()
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    aws_lc_rs::constant_time::verify_slices_are_equal(a, b).is_ok()
}

/// SHA-256 of a browser- or client-held secret (cookie, code, refresh token, link), base64url:
/// what the store keeps instead of the secret.
pub fn token_digest(token: &str) -> String {
    use base64::Engine as _;
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(d.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let h = hash_password("correct horse battery", PasswordCost::TEST).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterY", &h));
        assert!(!verify_password("x", "not a phc string"));
    }

    #[test]
    fn client_secrets_look_like_entra_secrets_and_match_their_digest() {
        let (s, hint) = new_client_secret();
        assert_eq!(s.len(), 40);
        assert_eq!(&s[3..4], "~");
        assert_eq!(hint, &s[..3]);
        let d = digest_secret(&s);
        assert!(secret_matches(&s, &d));
        assert!(!secret_matches(&format!("{s}x"), &d));
        assert_ne!(new_client_secret().0, s);
    }
}
