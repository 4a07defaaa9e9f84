//! JSON Web Signature for tokens: key generation, compact JWS signing with aws-lc-rs, JWKs, and
//! verification. Claims validation (issuer, audience, lifetime) belongs to the caller.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _, RsaKeyPair, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Signature algorithms Portico signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over a 2048-bit key (the default, as Entra ID).
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
}

impl Alg {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
        }
    }
    /// Parses a JOSE name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "RS256" => Some(Alg::RS256),
            "ES256" => Some(Alg::ES256),
            _ => None,
        }
    }
}

/// Errors of this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// The private key could not be generated or loaded.
    #[error("key error: {0}")]
    Key(&'static str),
    /// The token is not a well-formed compact JWS.
    #[error("malformed token")]
    Malformed,
    /// No published key has the token's `kid` (or its algorithm differs).
    #[error("unknown signing key")]
    UnknownKey,
    /// The signature does not verify.
    #[error("invalid signature")]
    BadSignature,
}

/// A public key in JWK form (RFC 7517), as published at the JWKS endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    /// Key type: RSA or EC.
    pub kty: String,
    /// Always `sig`.
    #[serde(rename = "use")]
    pub use_: String,
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub alg: String,
    /// RSA modulus.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub n: Option<String>,
    /// RSA exponent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub e: Option<String>,
    /// EC curve.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub crv: Option<String>,
    /// EC x coordinate.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub x: Option<String>,
    /// EC y coordinate.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub y: Option<String>,
}

enum Inner {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
}

/// A loaded private signing key.
pub struct Signer {
    kid: String,
    alg: Alg,
    inner: Inner,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("kid", &self.kid).field("alg", &self.alg).finish()
    }
}

/// Generates a new private key and returns its PKCS#8 DER.
pub fn generate_pkcs8(alg: Alg) -> Result<Vec<u8>, JwsError> {
    match alg {
        Alg::RS256 => {
            let kp = RsaKeyPair::generate(KeySize::Rsa2048).map_err(|_| JwsError::Key("rsa generate"))?;
            let der = kp.as_der().map_err(|_| JwsError::Key("rsa export"))?;
            Ok(der.as_ref().to_vec())
        }
        Alg::ES256 => {
            let doc = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| JwsError::Key("ec generate"))?;
            Ok(doc.as_ref().to_vec())
        }
    }
}

impl Signer {
    /// Loads a PKCS#8 private key.
    pub fn from_pkcs8(kid: impl Into<String>, alg: Alg, pkcs8: &[u8]) -> Result<Self, JwsError> {
        let inner = match alg {
            Alg::RS256 => Inner::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(|_| JwsError::Key("rsa load"))?),
            Alg::ES256 => Inner::Ec(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(|_| JwsError::Key("ec load"))?,
            ),
        };
        Ok(Self { kid: kid.into(), alg, inner, rng: SystemRandom::new() })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The public half as a JWK.
    pub fn public_jwk(&self) -> Jwk {
        let mut jwk = Jwk {
            kty: String::new(),
            use_: "sig".into(),
            kid: self.kid.clone(),
            alg: self.alg.as_str().into(),
            n: None,
            e: None,
            crv: None,
            x: None,
            y: None,
        };
        match &self.inner {
            Inner::Rsa(kp) => {
                let pk = kp.public_key();
                jwk.kty = "RSA".into();
                jwk.n = Some(B64.encode(pk.modulus().big_endian_without_leading_zero()));
                jwk.e = Some(B64.encode(pk.exponent().big_endian_without_leading_zero()));
            }
            Inner::Ec(kp) => {
                let point = kp.public_key().as_ref();
                jwk.kty = "EC".into();
                jwk.crv = Some("P-256".into());
                // Uncompressed SEC1 point: 0x04 || x (32) || y (32).
                if point.len() == 65 {
                    jwk.x = Some(B64.encode(&point[1..33]));
                    jwk.y = Some(B64.encode(&point[33..65]));
                }
            }
        }
        jwk
    }

    /// Signs `claims` as a compact JWS with `typ: JWT`.
    pub fn sign_jwt(&self, claims: &Value) -> Result<String, JwsError> {
        self.sign_with_header(&serde_json::json!({"typ": "JWT", "alg": self.alg.as_str(), "kid": self.kid}), claims)
    }

    /// Signs `claims` with a header that has no `kid`, as some other issuers do (for interop tests).
    pub fn sign_jwt_without_kid(&self, claims: &Value) -> Result<String, JwsError> {
        self.sign_with_header(&serde_json::json!({"typ": "JWT", "alg": self.alg.as_str()}), claims)
    }

    fn sign_with_header(&self, header: &Value, claims: &Value) -> Result<String, JwsError> {
        let mut out = String::with_capacity(1024);
        B64.encode_string(header.to_string(), &mut out);
        out.push('.');
        B64.encode_string(claims.to_string(), &mut out);
        let sig = match &self.inner {
            Inner::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public_modulus_len()];
                kp.sign(&signature::RSA_PKCS1_SHA256, &self.rng, out.as_bytes(), &mut sig)
                    .map_err(|_| JwsError::Key("rsa sign"))?;
                sig
            }
            Inner::Ec(kp) => {
                kp.sign(&self.rng, out.as_bytes()).map_err(|_| JwsError::Key("ec sign"))?.as_ref().to_vec()
            }
        };
        out.push('.');
        B64.encode_string(sig, &mut out);
        Ok(out)
    }
}

/// The decoded parts of a compact JWS, before its signature is checked.
#[derive(Debug, Clone)]
pub struct Unverified {
    /// The protected header.
    pub header: Value,
    /// The payload.
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

/// Splits and decodes a compact JWS without checking the signature.
pub fn decode_unverified(token: &str) -> Result<Unverified, JwsError> {
    if token.len() > 16 * 1024 {
        return Err(JwsError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwsError::Malformed);
    };
    let header: Value = B64.decode(h).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(JwsError::Malformed)?;
    let claims: Value = B64.decode(p).ok().and_then(|b| serde_json::from_slice(&b).ok()).ok_or(JwsError::Malformed)?;
    if !header.is_object() || !claims.is_object() {
        return Err(JwsError::Malformed);
    }
    let signature = B64.decode(s).map_err(|_| JwsError::Malformed)?;
    Ok(Unverified { header, claims, signing_input: format!("{h}.{p}"), signature })
}

impl Jwk {
    /// Reads a JWK published by another party (RFC 7517). Such keys may lack `alg`, `use` or `kid`:
    /// the algorithm is inferred (RS256 for RSA, ES256 for EC P-256), a missing `kid` becomes the
    /// empty string. Returns `None` for keys that cannot verify RS256/ES256 signatures: encryption
    /// keys (`use: enc`), other key types, curves or algorithms, and keys with missing parameters.
    pub fn from_remote(v: &Value) -> Option<Jwk> {
        let s = |k: &str| v.get(k).and_then(Value::as_str);
        if s("use").is_some_and(|u| u != "sig") {
            return None;
        }
        if let Some(ops) = v.get("key_ops").and_then(Value::as_array)
            && !ops.iter().any(|o| o.as_str() == Some("verify"))
        {
            return None;
        }
        let kty = s("kty")?;
        let alg = match kty {
            "RSA" => Alg::RS256,
            "EC" => Alg::ES256,
            _ => return None,
        };
        if s("alg").is_some_and(|a| a != alg.as_str()) {
            return None;
        }
        let b64 = |k: &str| s(k).filter(|x| B64.decode(x).is_ok()).map(str::to_owned);
        let mut jwk = Jwk {
            kty: kty.into(),
            use_: "sig".into(),
            kid: s("kid").unwrap_or("").into(),
            alg: alg.as_str().into(),
            n: None,
            e: None,
            crv: None,
            x: None,
            y: None,
        };
        match alg {
            Alg::RS256 => {
                jwk.n = Some(b64("n")?);
                jwk.e = Some(b64("e")?);
            }
            Alg::ES256 => {
                if s("crv") != Some("P-256") {
                    return None;
                }
                let (x, y) = (b64("x")?, b64("y")?);
                let len = |c: &str| B64.decode(c).map(|b| b.len()).unwrap_or(0);
                if len(&x) != 32 || len(&y) != 32 {
                    return None;
                }
                jwk.crv = Some("P-256".into());
                (jwk.x, jwk.y) = (Some(x), Some(y));
            }
        }
        Some(jwk)
    }

    /// Reads the usable keys of a JWK Set document (`{"keys": [...]}`), skipping the others.
    pub fn set_from_remote(doc: &Value) -> Vec<Jwk> {
        doc.get("keys")
            .and_then(Value::as_array)
            .map(|keys| keys.iter().filter_map(Jwk::from_remote).collect())
            .unwrap_or_default()
    }
}

impl Unverified {
    /// The header's `alg`, if it is a string.
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    /// The header's `kid`, if it is a string.
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// Verifies the signature with the key named by the header's `kid` among `keys`.
    /// The header's `alg` must equal the key's algorithm (no `none`, no algorithm confusion).
    pub fn verify(self, keys: &[Jwk]) -> Result<Value, JwsError> {
        let kid = self.kid().ok_or(JwsError::UnknownKey)?;
        let alg = self.alg().ok_or(JwsError::Malformed)?;
        let key = keys.iter().find(|k| k.kid == kid && k.alg == alg).ok_or(JwsError::UnknownKey)?;
        self.verify_with(key)
    }

    /// As [`Unverified::verify`], for tokens of other issuers: a token without `kid` is accepted
    /// when exactly one of `keys` has its algorithm.
    pub fn verify_remote(self, keys: &[Jwk]) -> Result<Value, JwsError> {
        if self.kid().is_some() {
            return self.verify(keys);
        }
        let alg = self.alg().ok_or(JwsError::Malformed)?;
        let mut candidates = keys.iter().filter(|k| k.alg == alg);
        match (candidates.next(), candidates.next()) {
            (Some(key), None) => self.verify_with(key),
            _ => Err(JwsError::UnknownKey),
        }
    }

    fn verify_with(self, key: &Jwk) -> Result<Value, JwsError> {
        let msg = self.signing_input.as_bytes();
        let ok = match Alg::parse(&key.alg) {
            Some(Alg::RS256) => {
                let (Some(n), Some(e)) = (&key.n, &key.e) else { return Err(JwsError::UnknownKey) };
                let (n, e) = (
                    B64.decode(n).map_err(|_| JwsError::UnknownKey)?,
                    B64.decode(e).map_err(|_| JwsError::UnknownKey)?,
                );
                RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, &self.signature)
                    .is_ok()
            }
            Some(Alg::ES256) => {
                let (Some(x), Some(y)) = (&key.x, &key.y) else { return Err(JwsError::UnknownKey) };
                let mut point = vec![4u8];
                point.extend(B64.decode(x).map_err(|_| JwsError::UnknownKey)?);
                point.extend(B64.decode(y).map_err(|_| JwsError::UnknownKey)?);
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point).verify(msg, &self.signature).is_ok()
            }
            None => return Err(JwsError::UnknownKey),
        };
        if ok { Ok(self.claims) } else { Err(JwsError::BadSignature) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(alg: Alg) {
        let der = generate_pkcs8(alg).unwrap();
        let signer = Signer::from_pkcs8("k1", alg, &der).unwrap();
        let token = signer.sign_jwt(&serde_json::json!({"sub": "x", "n": 1})).unwrap();
        let jwks = vec![signer.public_jwk()];
        let claims = decode_unverified(&token).unwrap().verify(&jwks).unwrap();
        assert_eq!(claims["sub"], "x");

        // A flipped payload byte fails.
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        parts[1] = B64.encode(br#"{"sub":"y","n":1}"#);
        let forged = parts.join(".");
        assert_eq!(decode_unverified(&forged).unwrap().verify(&jwks), Err(JwsError::BadSignature));

        // Another key with the same kid fails.
        let other = Signer::from_pkcs8("k1", alg, &generate_pkcs8(alg).unwrap()).unwrap();
        let token2 = other.sign_jwt(&serde_json::json!({"sub": "x"})).unwrap();
        assert_eq!(decode_unverified(&token2).unwrap().verify(&jwks), Err(JwsError::BadSignature));
    }

    #[test]
    fn rs256_signs_and_verifies() {
        round_trip(Alg::RS256);
    }

    #[test]
    fn es256_signs_and_verifies() {
        round_trip(Alg::ES256);
    }

    #[test]
    fn alg_none_and_garbage_are_refused() {
        let signer = Signer::from_pkcs8("k1", Alg::ES256, &generate_pkcs8(Alg::ES256).unwrap()).unwrap();
        let jwks = vec![signer.public_jwk()];
        let none = format!("{}.{}.", B64.encode(r#"{"alg":"none","kid":"k1"}"#), B64.encode(r#"{"sub":"x"}"#));
        assert_eq!(decode_unverified(&none).unwrap().verify(&jwks), Err(JwsError::UnknownKey));
        assert_eq!(decode_unverified("a.b").unwrap_err(), JwsError::Malformed);
        assert_eq!(decode_unverified("!!.??.**").unwrap_err(), JwsError::Malformed);
    }

    #[test]
    fn remote_jwks_without_alg_use_or_kid() {
        let rsa = Signer::from_pkcs8("r1", Alg::RS256, &generate_pkcs8(Alg::RS256).unwrap()).unwrap();
        let ec = Signer::from_pkcs8("e1", Alg::ES256, &generate_pkcs8(Alg::ES256).unwrap()).unwrap();
        let mut r = serde_json::to_value(rsa.public_jwk()).unwrap();
        let mut e = serde_json::to_value(ec.public_jwk()).unwrap();
        for v in [&mut r, &mut e] {
            let o = v.as_object_mut().unwrap();
            o.remove("alg");
            o.remove("use");
        }
        let enc = serde_json::json!({"kty": "RSA", "use": "enc", "kid": "x", "n": "AQAB", "e": "AQAB"});
        let p384 = serde_json::json!({"kty": "EC", "crv": "P-384", "kid": "y", "x": "AA", "y": "AA"});
        let ps256 = serde_json::json!({"kty": "RSA", "alg": "PS256", "kid": "z", "n": "AQAB", "e": "AQAB"});
        let oct = serde_json::json!({"kty": "oct", "k": "c2VjcmV0"});
        let keys = Jwk::set_from_remote(&serde_json::json!({"keys": [r, e, enc, p384, ps256, oct, "junk"]}));
        assert_eq!(keys, vec![rsa.public_jwk(), ec.public_jwk()]);

        // With kid: as `verify`.
        let t = rsa.sign_jwt(&serde_json::json!({"sub": "a"})).unwrap();
        assert_eq!(decode_unverified(&t).unwrap().verify_remote(&keys).unwrap()["sub"], "a");

        // Without kid: only when exactly one key has the token's algorithm.
        let no_kid = ec.sign_jwt_without_kid(&serde_json::json!({"sub": "b"})).unwrap();
        assert_eq!(decode_unverified(&no_kid).unwrap().verify_remote(&keys).unwrap()["sub"], "b");
        assert_eq!(decode_unverified(&no_kid).unwrap().verify(&keys), Err(JwsError::UnknownKey));
        let ec2 = Signer::from_pkcs8("e2", Alg::ES256, &generate_pkcs8(Alg::ES256).unwrap()).unwrap();
        let two = vec![ec.public_jwk(), ec2.public_jwk()];
        assert_eq!(decode_unverified(&no_kid).unwrap().verify_remote(&two), Err(JwsError::UnknownKey));
        let mut unnamed = ec.public_jwk();
        unnamed.kid = String::new();
        assert_eq!(decode_unverified(&no_kid).unwrap().verify_remote(&[unnamed]).unwrap()["sub"], "b");
    }
}
