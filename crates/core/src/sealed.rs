//! Secrets at rest: AES-256-GCM envelopes under the deployment's master key.
//!
//! Signing keys and (later) identity-provider secrets and TOTP seeds are stored sealed. The
//! associated data binds a sealed value to its row (for example the key id), so a sealed value
//! copied to another row does not open.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

/// A 256-bit master key.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// Errors of sealing and opening.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The master key text is not 32 bytes of base64.
    #[error("the master key must be 32 bytes, base64-encoded")]
    BadKey,
    /// The envelope is damaged or was sealed under another key or for another row.
    #[error("sealed value cannot be opened (wrong master key or damaged data)")]
    Open,
}

impl MasterKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        // SystemRandom only fails when the OS has no entropy source at all.
        let _ = SystemRandom::new().fill(&mut k);
        Self(k)
    }

    /// Parses the base64 text form.
    pub fn from_base64(s: &str) -> Result<Self, SealError> {
        let bytes = B64.decode(s.trim()).map_err(|_| SealError::BadKey)?;
        let arr: [u8; 32] = bytes.try_into().map_err(|_| SealError::BadKey)?;
        Ok(Self(arr))
    }

    /// The base64 text form.
    pub fn to_base64(&self) -> String {
        B64.encode(self.0)
    }

    fn key(&self) -> LessSafeKey {
        // The key length is fixed at 32 bytes, which AES-256-GCM always accepts.
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &self.0).unwrap_or_else(|_| unreachable!()))
    }

    /// Seals `plaintext` for the row named by `aad`; returns `v1.<base64(nonce|ciphertext|tag)>`.
    pub fn seal(&self, plaintext: &[u8], aad: &str) -> String {
        let mut nonce = [0u8; 12];
        let _ = SystemRandom::new().fill(&mut nonce);
        let mut buf = plaintext.to_vec();
        // Sealing in memory with a valid key cannot fail.
        let _ = self.key().seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad.as_bytes()),
            &mut buf,
        );
        let mut out = nonce.to_vec();
        out.extend(buf);
        format!("v1.{}", B64.encode(out))
    }

    /// Opens an envelope made by [`MasterKey::seal`] with the same `aad`.
    pub fn open(&self, sealed: &str, aad: &str) -> Result<Vec<u8>, SealError> {
        let body = sealed.strip_prefix("v1.").ok_or(SealError::Open)?;
        let raw = B64.decode(body).map_err(|_| SealError::Open)?;
        if raw.len() < 12 + 16 {
            return Err(SealError::Open);
        }
        let (nonce, rest) = raw.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| SealError::Open)?;
        let mut buf = rest.to_vec();
        let plain = self
            .key()
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad.as_bytes()), &mut buf)
            .map_err(|_| SealError::Open)?;
        Ok(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_row() {
        let k = MasterKey::generate();
        let s = k.seal(b"secret", "row-1");
        assert_eq!(k.open(&s, "row-1").unwrap(), b"secret");
        assert_eq!(k.open(&s, "row-2"), Err(SealError::Open));
        assert_eq!(MasterKey::generate().open(&s, "row-1"), Err(SealError::Open));
        assert!(!s.contains("secret"));
        let k2 = MasterKey::from_base64(&k.to_base64()).unwrap();
        assert_eq!(k2.open(&s, "row-1").unwrap(), b"secret");
        assert!(matches!(MasterKey::from_base64("c2hvcnQ="), Err(SealError::BadKey)));
    }
}
