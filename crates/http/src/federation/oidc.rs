//! The relying party towards an external OpenID Provider: discovery, the authorization request
//! (code flow with PKCE S256), the code redemption and the ID token validation of OpenID Connect
//! Core §3.1.3.7. Every network call goes through [`super::outbound`] and its SSRF rules.
//!
//! Signing keys are read from the provider's `jwks_uri` and cached for an hour; a token naming a
//! `kid` that is not cached makes the JWKS be fetched again at once, which is how a provider's
//! key roll-over is followed without a restart. Only RS256 and ES256 are accepted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portico_core::jws::{self, Jwk, JwsError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::outbound::{self, FetchError, OutboundPolicy};

/// How long discovery documents and JWKS are cached.
const CACHE_TTL: Duration = Duration::from_secs(3600);
/// Allowed clock difference with the provider.
const SKEW_MS: i64 = 120_000;
/// Size caps of the provider's documents.
const MAX_METADATA: usize = 256 * 1024;
const MAX_JWKS: usize = 256 * 1024;
const MAX_TOKEN_RESPONSE: usize = 128 * 1024;

/// Which claims carry the user's attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ClaimsMapping {
    /// The stable user id (default `sub`; e.g. `oid` for Entra ID).
    pub user_id: String,
    /// The email address (default `email`).
    pub email: String,
    /// The display name (default `name`).
    pub display_name: String,
    /// The given name (default `given_name`).
    pub given_name: String,
    /// The surname (default `family_name`).
    pub surname: String,
}

impl Default for ClaimsMapping {
    fn default() -> Self {
        Self {
            user_id: "sub".into(),
            email: "email".into(),
            display_name: "name".into(),
            given_name: "given_name".into(),
            surname: "family_name".into(),
        }
    }
}

/// When the provider's email claim counts as verified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum EmailVerified {
    /// Only when the token says `email_verified: true` (or `"true"`).
    #[default]
    Claim,
    /// Always: the administrator trusts this provider for email addresses.
    Always,
    /// Never.
    Never,
}

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenAuth {
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
    /// HTTP Basic with the form-urlencoded `client_id` and `client_secret` (RFC 6749 §2.3.1).
    /// Without a configured secret the client is sent as a public client, as with `None`.
    #[default]
    ClientSecretBasic,
    /// A public client: only `client_id` in the form; PKCE protects the code.
    None,
}

/// One external OpenID Provider, as configured by an administrator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderConfig {
    /// The expected `iss`. May contain `{tenantid}` (Microsoft multi-tenant endpoints), replaced by
    /// the token's `tid` claim (which must then be a GUID) before comparing.
    pub issuer: String,
    /// The discovery document URL.
    pub metadata_url: String,
    /// Our client id at the provider.
    pub client_id: String,
    /// Our client secret, unsealed by the caller.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Scopes to request; `openid` is always added.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Which claims carry the user's attributes.
    #[serde(default)]
    pub claims: ClaimsMapping,
    /// When the email claim counts as verified.
    #[serde(default)]
    pub email_verified: EmailVerified,
    /// Allow the provider on private addresses and over plain http.
    #[serde(default)]
    pub allow_private: bool,
    /// Client authentication at the token endpoint.
    #[serde(default)]
    pub token_auth: TokenAuth,
}

impl ProviderConfig {
    fn policy(&self) -> OutboundPolicy {
        OutboundPolicy::new(self.allow_private)
    }
}

/// What discovery says about a provider (the parts Portico uses).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// The provider's issuer (equal to the configured one, template included).
    pub issuer: String,
    /// Where the browser is sent.
    pub authorization_endpoint: String,
    /// Where the code is redeemed.
    pub token_endpoint: String,
    /// The signing keys.
    pub jwks_uri: String,
    /// The userinfo endpoint, if any.
    pub userinfo_endpoint: Option<String>,
    /// `code_challenge_methods_supported` (may be empty: PKCE S256 is sent anyway).
    pub code_challenge_methods: Vec<String>,
}

/// The user as the provider described them, after the ID token was validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FederatedIdentity {
    /// The token's actual `iss` (after `{tenantid}` substitution).
    pub issuer: String,
    /// The user id claim (per the mapping). Federated accounts are keyed on (provider, subject).
    pub subject: String,
    /// The email, lowercased, only when verified per the configuration.
    pub email: Option<String>,
    /// The email the provider gave when it does not count as verified (for the error page).
    pub email_unverified: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Surname.
    pub surname: Option<String>,
    /// Authentication methods (`amr`).
    pub amr: Vec<String>,
    /// Authentication context class (`acr`).
    pub acr: Option<String>,
    /// `auth_time` in milliseconds since the epoch.
    pub auth_time_ms: Option<i64>,
    /// Microsoft tenant id (`tid`).
    pub tid: Option<String>,
    /// All claims of the ID token.
    pub claims: Value,
}

/// Why signing in with a provider failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum OidcError {
    /// A call to the provider failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The discovery document is unusable.
    #[error("provider discovery failed: {0}")]
    Discovery(String),
    /// The token endpoint answered with an error.
    #[error("the identity provider refused the code: {error}: {description}")]
    TokenError {
        /// The OAuth `error` code.
        error: String,
        /// `error_description`, if any.
        description: String,
    },
    /// The token response has no `id_token`.
    #[error("the token response has no ID token")]
    IdTokenMissing,
    /// The ID token's signature does not verify (or the token is malformed).
    #[error("the ID token's signature is invalid")]
    SignatureInvalid,
    /// The ID token's `kid` is not in the provider's JWKS, even after fetching it again.
    #[error("the ID token is signed with an unknown key")]
    UnknownKey,
    /// `iss` is not the configured issuer.
    #[error("issuer mismatch: expected {expected}, got {got}")]
    IssuerMismatch {
        /// What was expected (template substituted when possible).
        expected: String,
        /// What the token said.
        got: String,
    },
    /// `aud` does not contain our client id.
    #[error("audience mismatch: got {got}")]
    AudienceMismatch {
        /// The token's audiences.
        got: String,
    },
    /// `azp` is missing (with several audiences) or not our client id.
    #[error("authorized party mismatch")]
    AzpMismatch,
    /// The ID token has expired.
    #[error("the ID token expired at {exp}")]
    Expired {
        /// `exp` (seconds).
        exp: i64,
    },
    /// The ID token was issued in the future.
    #[error("the ID token is not valid yet (iat {iat})")]
    NotYetValid {
        /// `iat` or `nbf` (seconds).
        iat: i64,
    },
    /// The nonce is not the one we sent.
    #[error("nonce mismatch")]
    NonceMismatch,
    /// No user id claim.
    #[error("the ID token has no subject")]
    SubjectMissing,
    /// The ID token is signed with an algorithm Portico does not accept.
    #[error("signature algorithm {alg} refused")]
    AlgRefused {
        /// The header's `alg`.
        alg: String,
    },
}

impl OidcError {
    /// A stable snake_case reason for logs, metrics and error pages.
    pub fn reason(&self) -> &'static str {
        match self {
            OidcError::Fetch(e) => e.reason(),
            OidcError::Discovery(_) => "discovery_failed",
            OidcError::TokenError { .. } => "provider_error",
            OidcError::IdTokenMissing => "id_token_missing",
            OidcError::SignatureInvalid => "signature_invalid",
            OidcError::UnknownKey => "unknown_signing_key",
            OidcError::IssuerMismatch { .. } => "issuer_mismatch",
            OidcError::AudienceMismatch { .. } => "audience_mismatch",
            OidcError::AzpMismatch => "azp_mismatch",
            OidcError::Expired { .. } => "id_token_expired",
            OidcError::NotYetValid { .. } => "id_token_not_yet_valid",
            OidcError::NonceMismatch => "nonce_mismatch",
            OidcError::SubjectMissing => "subject_missing",
            OidcError::AlgRefused { .. } => "alg_refused",
        }
    }
}

/// Reads and checks a discovery document (OpenID Connect Discovery §4.3: the issuer must be the
/// configured one; endpoints must be https unless the provider is allowed on private addresses).
pub fn parse_metadata(doc: &Value, cfg: &ProviderConfig) -> Result<Metadata, OidcError> {
    let s = |k: &str| doc.get(k).and_then(Value::as_str).filter(|v| !v.is_empty()).map(str::to_owned);
    let need = |k: &str| s(k).ok_or_else(|| OidcError::Discovery(format!("{k} missing")));
    let issuer = need("issuer")?;
    if issuer != cfg.issuer {
        return Err(OidcError::Discovery(format!("issuer is {issuer}, expected {}", cfg.issuer)));
    }
    let meta = Metadata {
        issuer,
        authorization_endpoint: need("authorization_endpoint")?,
        token_endpoint: need("token_endpoint")?,
        jwks_uri: need("jwks_uri")?,
        userinfo_endpoint: s("userinfo_endpoint"),
        code_challenge_methods: doc
            .get("code_challenge_methods_supported")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default(),
    };
    let endpoints = [
        ("authorization_endpoint", Some(&meta.authorization_endpoint)),
        ("token_endpoint", Some(&meta.token_endpoint)),
        ("jwks_uri", Some(&meta.jwks_uri)),
        ("userinfo_endpoint", meta.userinfo_endpoint.as_ref()),
    ];
    for (name, value) in endpoints {
        let Some(value) = value else { continue };
        let url = url::Url::parse(value).map_err(|_| OidcError::Discovery(format!("{name} is not a URL")))?;
        let ok = match url.scheme() {
            "https" => true,
            "http" => cfg.allow_private,
            _ => false,
        };
        if !ok {
            return Err(OidcError::Discovery(format!("{name} must use https")));
        }
    }
    Ok(meta)
}

#[derive(Clone)]
struct Cached<T> {
    at: Instant,
    value: T,
}

impl<T: Clone> Cached<T> {
    fn fresh(&self) -> Option<T> {
        (self.at.elapsed() < CACHE_TTL).then(|| self.value.clone())
    }
}

/// The relying party: caches of discovery documents and signing keys, shared by all providers.
#[derive(Default)]
pub struct OidcRp {
    metadata: Mutex<HashMap<String, Cached<Metadata>>>,
    jwks: Mutex<HashMap<String, Cached<Arc<Vec<Jwk>>>>>,
}

impl std::fmt::Debug for OidcRp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcRp").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn is_guid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

/// A claim as a string: strings as they are, numbers printed (some providers use numeric ids).
fn claim_str(claims: &Value, name: &str) -> Option<String> {
    match claims.get(name)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl OidcRp {
    /// An RP with empty caches.
    pub fn new() -> Self {
        Self::default()
    }

    /// The provider's discovery document, cached per `metadata_url` for an hour.
    pub async fn metadata(&self, cfg: &ProviderConfig) -> Result<Metadata, OidcError> {
        if let Some(m) = lock(&self.metadata).get(&cfg.metadata_url).and_then(Cached::fresh)
            && m.issuer == cfg.issuer
        {
            return Ok(m);
        }
        if !cfg.allow_private && !cfg.metadata_url.starts_with("https://") {
            return Err(OidcError::Discovery("metadata_url must use https".into()));
        }
        let doc = outbound::get_json(&cfg.policy(), &cfg.metadata_url, MAX_METADATA).await?;
        let meta = parse_metadata(&doc, cfg)?;
        lock(&self.metadata).insert(cfg.metadata_url.clone(), Cached { at: Instant::now(), value: meta.clone() });
        Ok(meta)
    }

    /// Drops what is cached for a provider (its discovery document and its keys).
    pub fn forget(&self, metadata_url: &str) {
        let removed = lock(&self.metadata).remove(metadata_url);
        if let Some(m) = removed {
            lock(&self.jwks).remove(&m.value.jwks_uri);
        }
    }

    /// The URL the browser is sent to: code flow, query response mode, PKCE S256 always.
    pub fn authorize_url(
        meta: &Metadata,
        cfg: &ProviderConfig,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        code_challenge_s256: &str,
        login_hint: Option<&str>,
    ) -> String {
        let mut scopes: Vec<&str> = vec!["openid"];
        for s in cfg.scopes.iter().flat_map(|s| s.split_whitespace()) {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        let scope = scopes.join(" ");
        let mut params: Vec<(&str, &str)> = vec![
            ("response_type", "code"),
            ("response_mode", "query"),
            ("client_id", &cfg.client_id),
            ("redirect_uri", redirect_uri),
            ("scope", &scope),
            ("state", state),
            ("nonce", nonce),
            ("code_challenge", code_challenge_s256),
            ("code_challenge_method", "S256"),
        ];
        if let Some(hint) = login_hint.filter(|h| !h.is_empty()) {
            params.push(("login_hint", hint));
        }
        match url::Url::parse(&meta.authorization_endpoint) {
            Ok(mut url) => {
                url.query_pairs_mut().extend_pairs(params);
                url.to_string()
            }
            // Discovery checked the URL; keep a best effort if a caller built Metadata by hand.
            Err(_) => {
                let q: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", form_encode(v))).collect();
                let sep = if meta.authorization_endpoint.contains('?') { '&' } else { '?' };
                format!("{}{sep}{}", meta.authorization_endpoint, q.join("&"))
            }
        }
    }

    /// The provider's signing keys, from the cache unless stale or `refresh`.
    /// Returns the keys and whether they were just fetched.
    async fn keys(
        &self,
        cfg: &ProviderConfig,
        jwks_uri: &str,
        refresh: bool,
    ) -> Result<(Arc<Vec<Jwk>>, bool), OidcError> {
        if !refresh && let Some(k) = lock(&self.jwks).get(jwks_uri).and_then(Cached::fresh) {
            return Ok((k, false));
        }
        let doc = outbound::get_json(&cfg.policy(), jwks_uri, MAX_JWKS).await?;
        if !doc.get("keys").is_some_and(Value::is_array) {
            return Err(OidcError::Discovery("the JWKS has no keys array".into()));
        }
        let keys = Arc::new(Jwk::set_from_remote(&doc));
        lock(&self.jwks).insert(jwks_uri.to_owned(), Cached { at: Instant::now(), value: keys.clone() });
        Ok((keys, true))
    }

    /// Checks the ID token's signature and returns its claims.
    async fn verify_signature(
        &self,
        cfg: &ProviderConfig,
        meta: &Metadata,
        id_token: &str,
    ) -> Result<Value, OidcError> {
        let token = jws::decode_unverified(id_token).map_err(|_| OidcError::SignatureInvalid)?;
        let alg = token.alg().unwrap_or("").to_owned();
        if jws::Alg::parse(&alg).is_none() {
            return Err(OidcError::AlgRefused { alg });
        }
        let (keys, fresh) = self.keys(cfg, &meta.jwks_uri, false).await?;
        let result = match token.clone().verify_remote(&keys) {
            // A key we have not seen: the provider may have rolled its keys over. Fetch once more.
            Err(JwsError::UnknownKey) if !fresh => {
                let (keys, _) = self.keys(cfg, &meta.jwks_uri, true).await?;
                token.verify_remote(&keys)
            }
            other => other,
        };
        result.map_err(|e| match e {
            JwsError::UnknownKey => OidcError::UnknownKey,
            _ => OidcError::SignatureInvalid,
        })
    }

    /// Redeems an authorization code and validates the ID token (OpenID Connect Core §3.1.3.7).
    #[allow(clippy::too_many_arguments)]
    pub async fn redeem(
        &self,
        cfg: &ProviderConfig,
        meta: &Metadata,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
        nonce: &str,
        now_ms: i64,
    ) -> Result<FederatedIdentity, OidcError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        let (id_enc, secret_enc);
        let mut basic = None;
        match (cfg.token_auth, cfg.client_secret.as_deref()) {
            (TokenAuth::ClientSecretBasic, Some(secret)) => {
                (id_enc, secret_enc) = (form_encode(&cfg.client_id), form_encode(secret));
                basic = Some((id_enc.as_str(), secret_enc.as_str()));
            }
            (TokenAuth::ClientSecretPost, Some(secret)) => {
                form.push(("client_id", &cfg.client_id));
                form.push(("client_secret", secret));
            }
            _ => form.push(("client_id", &cfg.client_id)),
        }
        let (status, body) =
            outbound::post_form(&cfg.policy(), &meta.token_endpoint, &form, basic, MAX_TOKEN_RESPONSE).await?;
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(|s| s.chars().take(500).collect::<String>());
        if let Some(error) = text("error") {
            return Err(OidcError::TokenError { error, description: text("error_description").unwrap_or_default() });
        }
        if !(200..300).contains(&status) {
            return Err(OidcError::TokenError { error: format!("http_{status}"), description: String::new() });
        }
        let id_token = body.get("id_token").and_then(Value::as_str).ok_or(OidcError::IdTokenMissing)?;
        let mut claims = self.verify_signature(cfg, meta, id_token).await?;
        // Providers that follow OIDC Core §5.4 strictly put `email` in userinfo only: ask there
        // (with the access token just issued) when the ID token has none. The answer counts only
        // for the same subject (§5.3.2).
        let email_claim = cfg.claims.email.as_str();
        if claims.get(email_claim).is_none()
            && let (Some(endpoint), Some(at)) =
                (meta.userinfo_endpoint.as_deref(), body.get("access_token").and_then(Value::as_str))
        {
            let info = outbound::get_json_bearer(&cfg.policy(), endpoint, at, MAX_TOKEN_RESPONSE).await?;
            if info.get("sub").is_some() && info.get("sub") == claims.get("sub") {
                for k in [email_claim, "email_verified"] {
                    if let (Some(v), Some(obj)) = (info.get(k), claims.as_object_mut())
                        && !obj.contains_key(k)
                    {
                        obj.insert(k.to_string(), v.clone());
                    }
                }
            }
        }
        validate_claims(cfg, claims, nonce, now_ms)
    }
}

/// Validates the claims of a signature-checked ID token and maps them.
fn validate_claims(
    cfg: &ProviderConfig,
    claims: Value,
    nonce: &str,
    now_ms: i64,
) -> Result<FederatedIdentity, OidcError> {
    let str_claim = |k: &str| claims.get(k).and_then(Value::as_str);
    let int_claim = |k: &str| claims.get(k).and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)));

    // Issuer, with the Microsoft multi-tenant template.
    let iss = str_claim("iss").unwrap_or("").to_owned();
    let tid = str_claim("tid").map(str::to_owned);
    let expected = if cfg.issuer.contains("{tenantid}") {
        match tid.as_deref().filter(|t| is_guid(t)) {
            Some(t) => cfg.issuer.replace("{tenantid}", t),
            None => return Err(OidcError::IssuerMismatch { expected: cfg.issuer.clone(), got: iss }),
        }
    } else {
        cfg.issuer.clone()
    };
    if iss != expected {
        return Err(OidcError::IssuerMismatch { expected, got: iss });
    }

    // Audience and authorized party.
    let auds: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if !auds.contains(&cfg.client_id.as_str()) {
        return Err(OidcError::AudienceMismatch { got: auds.join(" ") });
    }
    match str_claim("azp") {
        Some(azp) if azp != cfg.client_id => return Err(OidcError::AzpMismatch),
        None if auds.len() > 1 => return Err(OidcError::AzpMismatch),
        _ => {}
    }

    // Lifetime.
    let exp = int_claim("exp").ok_or(OidcError::Expired { exp: 0 })?;
    if exp.saturating_mul(1000) <= now_ms - SKEW_MS {
        return Err(OidcError::Expired { exp });
    }
    let iat = int_claim("iat").ok_or(OidcError::NotYetValid { iat: 0 })?;
    if iat.saturating_mul(1000) > now_ms + SKEW_MS {
        return Err(OidcError::NotYetValid { iat });
    }
    if let Some(nbf) = int_claim("nbf")
        && nbf.saturating_mul(1000) > now_ms + SKEW_MS
    {
        return Err(OidcError::NotYetValid { iat: nbf });
    }

    if str_claim("nonce") != Some(nonce) || nonce.is_empty() {
        return Err(OidcError::NonceMismatch);
    }

    let subject = claim_str(&claims, &cfg.claims.user_id).ok_or(OidcError::SubjectMissing)?;

    let said_email = claim_str(&claims, &cfg.claims.email).filter(|e| e.contains('@'));
    let verified = match cfg.email_verified {
        EmailVerified::Always => true,
        EmailVerified::Never => false,
        EmailVerified::Claim => match claims.get("email_verified") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        },
    };
    let (email, email_unverified) = match said_email {
        Some(e) if verified => (Some(e.to_lowercase()), None),
        other => (None, other),
    };

    let amr = match claims.get("amr") {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => vec![],
    };
    Ok(FederatedIdentity {
        issuer: iss,
        subject,
        email,
        email_unverified,
        display_name: claim_str(&claims, &cfg.claims.display_name),
        given_name: claim_str(&claims, &cfg.claims.given_name),
        surname: claim_str(&claims, &cfg.claims.surname),
        amr,
        acr: str_claim("acr").map(str::to_owned),
        auth_time_ms: int_claim("auth_time").map(|t| t.saturating_mul(1000)),
        tid,
        claims,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
    use jws::{Alg, Signer};
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const NOW_MS: i64 = 1_800_000_000_000;
    const NOW: i64 = NOW_MS / 1000;

    /// What the in-test OpenID Provider serves; tests change it between calls.
    #[derive(Default)]
    struct Op {
        discovery: Value,
        jwks: Value,
        /// Status and body of the token endpoint.
        token: (u16, Value),
        /// The forms and Authorization headers received by the token endpoint.
        forms: Vec<(HashMap<String, String>, Option<String>)>,
    }

    struct Provider {
        base: String,
        op: Arc<Mutex<Op>>,
        discovery_hits: Arc<AtomicUsize>,
        jwks_hits: Arc<AtomicUsize>,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Provider {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    #[derive(Clone)]
    struct AppState {
        op: Arc<Mutex<Op>>,
        discovery_hits: Arc<AtomicUsize>,
        jwks_hits: Arc<AtomicUsize>,
    }

    async fn discovery(State(s): State<AppState>) -> axum::Json<Value> {
        s.discovery_hits.fetch_add(1, Ordering::SeqCst);
        axum::Json(lock(&s.op).discovery.clone())
    }

    async fn jwks(State(s): State<AppState>) -> axum::Json<Value> {
        s.jwks_hits.fetch_add(1, Ordering::SeqCst);
        axum::Json(lock(&s.op).jwks.clone())
    }

    async fn token(State(s): State<AppState>, headers: HeaderMap, body: String) -> impl IntoResponse {
        let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
        let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let mut op = lock(&s.op);
        op.forms.push((form, auth));
        let (status, body) = op.token.clone();
        (StatusCode::from_u16(status).unwrap(), axum::Json(body))
    }

    async fn provider() -> Provider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let op = Arc::new(Mutex::new(Op::default()));
        lock(&op).discovery = json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "jwks_uri": format!("{base}/jwks"),
            "userinfo_endpoint": format!("{base}/userinfo"),
            "code_challenge_methods_supported": ["S256"],
        });
        let state = AppState {
            op: op.clone(),
            discovery_hits: Arc::new(AtomicUsize::new(0)),
            jwks_hits: Arc::new(AtomicUsize::new(0)),
        };
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Provider { base, op, discovery_hits: state.discovery_hits, jwks_hits: state.jwks_hits, task }
    }

    impl Provider {
        fn config(&self) -> ProviderConfig {
            ProviderConfig {
                issuer: self.base.clone(),
                metadata_url: format!("{}/.well-known/openid-configuration", self.base),
                client_id: "portico-client".into(),
                client_secret: Some("s3cret/+=".into()),
                scopes: vec!["email".into(), "profile".into()],
                claims: ClaimsMapping::default(),
                email_verified: EmailVerified::Claim,
                allow_private: true,
                token_auth: TokenAuth::ClientSecretBasic,
            }
        }

        fn publish(&self, signers: &[&Signer]) {
            let keys: Vec<Value> = signers
                .iter()
                .map(|s| {
                    // Remote JWKs often lack alg/use.
                    let mut v = serde_json::to_value(s.public_jwk()).unwrap();
                    v.as_object_mut().unwrap().remove("alg");
                    v
                })
                .collect();
            lock(&self.op).jwks = json!({ "keys": keys });
        }

        fn answer(&self, id_token: &str) {
            lock(&self.op).token =
                (200, json!({"access_token": "at", "token_type": "Bearer", "id_token": id_token, "expires_in": 3600}));
        }

        /// Serves `id_token` and redeems it on `rp`.
        async fn redeem_with(
            &self,
            rp: &OidcRp,
            cfg: &ProviderConfig,
            id_token: &str,
        ) -> Result<FederatedIdentity, OidcError> {
            self.answer(id_token);
            let meta = rp.metadata(cfg).await?;
            rp.redeem(cfg, &meta, "the-code", "https://portico.test/cb", "the-verifier", "n-0S6", NOW_MS).await
        }
    }

    fn signer(kid: &str, alg: Alg) -> Signer {
        Signer::from_pkcs8(kid, alg, &jws::generate_pkcs8(alg).unwrap()).unwrap()
    }

    fn claims(p: &Provider) -> Value {
        json!({
            "iss": p.base,
            "sub": "248289761001",
            "aud": "portico-client",
            "exp": NOW + 300,
            "iat": NOW - 10,
            "auth_time": NOW - 20,
            "nonce": "n-0S6",
            "email": "Jane.Doe@Example.com",
            "email_verified": true,
            "name": "Jane Doe",
            "given_name": "Jane",
            "family_name": "Doe",
            "amr": ["pwd", "mfa"],
            "acr": "urn:mace:incommon:iap:silver",
        })
    }

    fn with(mut v: Value, changes: Value) -> Value {
        for (k, c) in changes.as_object().unwrap() {
            if c.is_null() {
                v.as_object_mut().unwrap().remove(k);
            } else {
                v[k] = c.clone();
            }
        }
        v
    }

    /// A token with a hand-made header and signature.
    fn forged(header: Value, claims: &Value, sig: &[u8]) -> String {
        format!("{}.{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()), B64.encode(sig))
    }

    #[tokio::test]
    async fn happy_path_maps_claims() {
        let p = provider().await;
        let key = signer("k1", Alg::RS256);
        p.publish(&[&key]);
        let rp = OidcRp::new();
        let cfg = p.config();
        let id = p.redeem_with(&rp, &cfg, &key.sign_jwt(&claims(&p)).unwrap()).await.unwrap();
        assert_eq!(id.issuer, p.base);
        assert_eq!(id.subject, "248289761001");
        assert_eq!(id.email.as_deref(), Some("jane.doe@example.com"));
        assert_eq!(id.email_unverified, None);
        assert_eq!(id.display_name.as_deref(), Some("Jane Doe"));
        assert_eq!(id.given_name.as_deref(), Some("Jane"));
        assert_eq!(id.surname.as_deref(), Some("Doe"));
        assert_eq!(id.amr, vec!["pwd", "mfa"]);
        assert_eq!(id.acr.as_deref(), Some("urn:mace:incommon:iap:silver"));
        assert_eq!(id.auth_time_ms, Some((NOW - 20) * 1000));
        assert_eq!(id.tid, None);
        assert_eq!(id.claims["sub"], "248289761001");

        // ES256, a custom mapping and "email_verified": "true" as a string.
        let ec = signer("e1", Alg::ES256);
        p.publish(&[&ec]);
        let mut cfg = p.config();
        cfg.claims.user_id = "oid".into();
        cfg.claims.display_name = "preferred_username".into();
        let c = with(
            claims(&p),
            json!({"oid": "00000000-0000-0000-66f3-3332eca7ea81", "email_verified": "true", "preferred_username": "jdoe"}),
        );
        let id = p.redeem_with(&OidcRp::new(), &cfg, &ec.sign_jwt(&c).unwrap()).await.unwrap();
        assert_eq!(id.subject, "00000000-0000-0000-66f3-3332eca7ea81");
        assert_eq!(id.display_name.as_deref(), Some("jdoe"));
        assert_eq!(id.email.as_deref(), Some("jane.doe@example.com"));

        // Metadata is cached; forget() drops it.
        assert_eq!(p.discovery_hits.load(Ordering::SeqCst), 2);
        rp.metadata(&cfg).await.unwrap();
        assert_eq!(p.discovery_hits.load(Ordering::SeqCst), 2);
        rp.forget(&cfg.metadata_url);
        rp.metadata(&cfg).await.unwrap();
        assert_eq!(p.discovery_hits.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn email_counts_only_when_verified() {
        let p = provider().await;
        let key = signer("k1", Alg::RS256);
        p.publish(&[&key]);
        let rp = OidcRp::new();
        let mut cfg = p.config();
        for verified in [json!(false), json!("false"), Value::Null] {
            let t = key.sign_jwt(&with(claims(&p), json!({ "email_verified": verified }))).unwrap();
            let id = p.redeem_with(&rp, &cfg, &t).await.unwrap();
            assert_eq!(id.email, None);
            assert_eq!(id.email_unverified.as_deref(), Some("Jane.Doe@Example.com"));
        }
        // An administrator may trust the provider for email addresses...
        cfg.email_verified = EmailVerified::Always;
        let t = key.sign_jwt(&with(claims(&p), json!({"email_verified": false}))).unwrap();
        assert_eq!(p.redeem_with(&rp, &cfg, &t).await.unwrap().email.as_deref(), Some("jane.doe@example.com"));
        // ...or never.
        cfg.email_verified = EmailVerified::Never;
        let t = key.sign_jwt(&claims(&p)).unwrap();
        let id = p.redeem_with(&rp, &cfg, &t).await.unwrap();
        assert_eq!((id.email, id.email_unverified.as_deref()), (None, Some("Jane.Doe@Example.com")));
    }

    #[tokio::test]
    async fn signature_and_algorithm_checks() {
        let p = provider().await;
        let key = signer("k1", Alg::RS256);
        p.publish(&[&key]);
        let rp = OidcRp::new();
        let cfg = p.config();
        let c = claims(&p);

        // Same kid, another key.
        let impostor = signer("k1", Alg::RS256);
        let err = p.redeem_with(&rp, &cfg, &impostor.sign_jwt(&c).unwrap()).await.unwrap_err();
        assert_eq!(err, OidcError::SignatureInvalid);
        assert_eq!(err.reason(), "signature_invalid");

        // A tampered payload.
        let good = key.sign_jwt(&c).unwrap();
        let mut parts: Vec<&str> = good.split('.').collect();
        let other = B64.encode(with(c.clone(), json!({"sub": "admin"})).to_string());
        parts[1] = &other;
        assert_eq!(p.redeem_with(&rp, &cfg, &parts.join(".")).await.unwrap_err(), OidcError::SignatureInvalid);

        // alg none, HS256 (keyed with the public modulus, the classic confusion) and others.
        for alg in ["none", "HS256", "RS512", "PS256"] {
            let t =
                forged(json!({"alg": alg, "kid": "k1", "typ": "JWT"}), &c, if alg == "none" { b"" } else { b"sig" });
            let err = p.redeem_with(&rp, &cfg, &t).await.unwrap_err();
            assert_eq!(err, OidcError::AlgRefused { alg: alg.into() });
            assert_eq!(err.reason(), "alg_refused");
        }

        // An unknown kid, even after a refetch.
        let stranger = signer("k9", Alg::RS256);
        let before = p.jwks_hits.load(Ordering::SeqCst);
        let err = p.redeem_with(&rp, &cfg, &stranger.sign_jwt(&c).unwrap()).await.unwrap_err();
        assert_eq!(err, OidcError::UnknownKey);
        assert_eq!(err.reason(), "unknown_signing_key");
        assert_eq!(p.jwks_hits.load(Ordering::SeqCst), before + 1);

        // Garbage.
        assert_eq!(p.redeem_with(&rp, &cfg, "not.a.jwt").await.unwrap_err(), OidcError::SignatureInvalid);
    }

    #[tokio::test]
    async fn claim_checks() {
        let p = provider().await;
        let key = signer("k1", Alg::ES256);
        p.publish(&[&key]);
        let rp = OidcRp::new();
        let cfg = p.config();
        let c = claims(&p);
        let (pr, rpr, cfgr, keyr, cr) = (&p, &rp, &cfg, &key, &c);
        let run = move |changes: Value| {
            let t = keyr.sign_jwt(&with(cr.clone(), changes)).unwrap();
            async move { pr.redeem_with(rpr, cfgr, &t).await }
        };

        let err = run(json!({"iss": "https://evil.example"})).await.unwrap_err();
        assert_eq!(err, OidcError::IssuerMismatch { expected: p.base.clone(), got: "https://evil.example".into() });
        assert_eq!(err.reason(), "issuer_mismatch");
        assert!(matches!(run(json!({"iss": format!("{}/", p.base)})).await, Err(OidcError::IssuerMismatch { .. })));

        let err = run(json!({"aud": "someone-else"})).await.unwrap_err();
        assert_eq!(err, OidcError::AudienceMismatch { got: "someone-else".into() });
        assert_eq!(err.reason(), "audience_mismatch");
        assert!(matches!(run(json!({"aud": null})).await, Err(OidcError::AudienceMismatch { .. })));

        // Several audiences: azp must be us.
        assert_eq!(run(json!({"aud": ["portico-client", "other"]})).await.unwrap_err(), OidcError::AzpMismatch);
        assert_eq!(
            run(json!({"aud": ["portico-client", "other"], "azp": "other"})).await.unwrap_err(),
            OidcError::AzpMismatch
        );
        run(json!({"aud": ["portico-client", "other"], "azp": "portico-client"})).await.unwrap();
        run(json!({"aud": ["portico-client"]})).await.unwrap();

        // Lifetime, with two minutes of skew.
        let err = run(json!({"exp": NOW - 600})).await.unwrap_err();
        assert_eq!(err, OidcError::Expired { exp: NOW - 600 });
        assert_eq!(err.reason(), "id_token_expired");
        run(json!({"exp": NOW - 60})).await.unwrap();
        assert!(matches!(run(json!({"exp": null})).await, Err(OidcError::Expired { .. })));
        assert_eq!(run(json!({"iat": NOW + 600})).await.unwrap_err(), OidcError::NotYetValid { iat: NOW + 600 });
        run(json!({"iat": NOW + 60})).await.unwrap();

        let err = run(json!({"nonce": "other"})).await.unwrap_err();
        assert_eq!(err, OidcError::NonceMismatch);
        assert_eq!(err.reason(), "nonce_mismatch");
        assert_eq!(run(json!({"nonce": null})).await.unwrap_err(), OidcError::NonceMismatch);

        assert_eq!(run(json!({"sub": null})).await.unwrap_err(), OidcError::SubjectMissing);
        assert_eq!(run(json!({"sub": ""})).await.unwrap_err(), OidcError::SubjectMissing);
    }

    #[tokio::test]
    async fn token_endpoint_errors() {
        let p = provider().await;
        let rp = OidcRp::new();
        let cfg = p.config();
        let meta = rp.metadata(&cfg).await.unwrap();
        lock(&p.op).token = (400, json!({"error": "invalid_grant", "error_description": "code expired"}));
        let err = rp.redeem(&cfg, &meta, "c", "https://portico.test/cb", "v", "n", NOW_MS).await.unwrap_err();
        assert_eq!(err, OidcError::TokenError { error: "invalid_grant".into(), description: "code expired".into() });
        assert_eq!(err.reason(), "provider_error");

        lock(&p.op).token = (200, json!({"access_token": "at", "token_type": "Bearer"}));
        let err = rp.redeem(&cfg, &meta, "c", "https://portico.test/cb", "v", "n", NOW_MS).await.unwrap_err();
        assert_eq!(err, OidcError::IdTokenMissing);

        lock(&p.op).token = (500, json!({"oops": true}));
        let err = rp.redeem(&cfg, &meta, "c", "https://portico.test/cb", "v", "n", NOW_MS).await.unwrap_err();
        assert_eq!(err.reason(), "provider_status");
    }

    #[tokio::test]
    async fn discovery_checks() {
        let p = provider().await;
        let rp = OidcRp::new();
        let mut cfg = p.config();
        lock(&p.op).discovery["issuer"] = json!("https://attacker.example");
        let err = rp.metadata(&cfg).await.unwrap_err();
        assert!(matches!(&err, OidcError::Discovery(m) if m.contains("attacker")), "{err:?}");
        assert_eq!(err.reason(), "discovery_failed");

        // Non-https endpoints are refused unless the provider is allowed on private addresses.
        let doc = json!({
            "issuer": "https://op.example",
            "authorization_endpoint": "https://op.example/authorize",
            "token_endpoint": "http://op.example/token",
            "jwks_uri": "https://op.example/jwks",
        });
        cfg.issuer = "https://op.example".into();
        cfg.allow_private = false;
        assert!(matches!(parse_metadata(&doc, &cfg), Err(OidcError::Discovery(m)) if m.contains("token_endpoint")));
        cfg.allow_private = true;
        let meta = parse_metadata(&doc, &cfg).unwrap();
        assert_eq!((meta.userinfo_endpoint, meta.code_challenge_methods.len()), (None, 0));
        let missing = with(doc, json!({"jwks_uri": null}));
        assert!(matches!(parse_metadata(&missing, &cfg), Err(OidcError::Discovery(m)) if m.contains("jwks_uri")));

        // Without allow_private, a plain-http metadata URL is refused before any call.
        cfg.allow_private = false;
        cfg.metadata_url = "http://op.example/.well-known/openid-configuration".into();
        assert!(matches!(rp.metadata(&cfg).await, Err(OidcError::Discovery(_))));
    }

    #[tokio::test]
    async fn key_rollover_is_followed() {
        let p = provider().await;
        let old = signer("2024-key", Alg::RS256);
        p.publish(&[&old]);
        let rp = OidcRp::new();
        let cfg = p.config();
        p.redeem_with(&rp, &cfg, &old.sign_jwt(&claims(&p)).unwrap()).await.unwrap();
        assert_eq!(p.jwks_hits.load(Ordering::SeqCst), 1);

        // The provider rolls over to a new key; the cached JWKS does not know its kid.
        let new = signer("2025-key", Alg::ES256);
        p.publish(&[&new]);
        let id = p.redeem_with(&rp, &cfg, &new.sign_jwt(&claims(&p)).unwrap()).await.unwrap();
        assert_eq!(id.subject, "248289761001");
        assert_eq!(p.jwks_hits.load(Ordering::SeqCst), 2);

        // The refreshed keys are cached again.
        p.redeem_with(&rp, &cfg, &new.sign_jwt(&claims(&p)).unwrap()).await.unwrap();
        assert_eq!(p.jwks_hits.load(Ordering::SeqCst), 2);
        // The retired key is gone.
        let err = p.redeem_with(&rp, &cfg, &old.sign_jwt(&claims(&p)).unwrap()).await.unwrap_err();
        assert_eq!(err, OidcError::UnknownKey);
    }

    #[tokio::test]
    async fn token_without_kid() {
        let p = provider().await;
        let key = signer("k1", Alg::ES256);
        p.publish(&[&key]);
        let rp = OidcRp::new();
        let cfg = p.config();
        let no_kid = key.sign_jwt_without_kid(&claims(&p)).unwrap();
        p.redeem_with(&rp, &cfg, &no_kid).await.unwrap();
        // Ambiguous with two ES256 keys.
        p.publish(&[&key, &signer("k2", Alg::ES256)]);
        assert_eq!(p.redeem_with(&OidcRp::new(), &cfg, &no_kid).await.unwrap_err(), OidcError::UnknownKey);
    }

    #[tokio::test]
    async fn tenant_issuer_template() {
        let p = provider().await;
        let key = signer("k1", Alg::RS256);
        p.publish(&[&key]);
        let template = format!("{}/{{tenantid}}/v2.0", p.base);
        lock(&p.op).discovery["issuer"] = json!(template);
        let rp = OidcRp::new();
        let mut cfg = p.config();
        cfg.issuer = template.clone();
        let tid = "9188040d-6c67-4c5b-b112-36a304b66dad";
        let iss = format!("{}/{tid}/v2.0", p.base);
        let t = key.sign_jwt(&with(claims(&p), json!({"iss": iss, "tid": tid}))).unwrap();
        let id = p.redeem_with(&rp, &cfg, &t).await.unwrap();
        assert_eq!(id.issuer, iss);
        assert_eq!(id.tid.as_deref(), Some(tid));

        // The tid must match the issuer's tenant, and be a GUID.
        let other = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let t = key.sign_jwt(&with(claims(&p), json!({"iss": iss, "tid": other}))).unwrap();
        let err = p.redeem_with(&rp, &cfg, &t).await.unwrap_err();
        assert_eq!(err, OidcError::IssuerMismatch { expected: format!("{}/{other}/v2.0", p.base), got: iss.clone() });
        for bad in [json!("common"), json!("../x"), Value::Null] {
            let iss = format!("{}/{}/v2.0", p.base, bad.as_str().unwrap_or(""));
            let t = key.sign_jwt(&with(claims(&p), json!({"iss": iss, "tid": bad}))).unwrap();
            assert!(matches!(p.redeem_with(&rp, &cfg, &t).await, Err(OidcError::IssuerMismatch { .. })));
        }
    }

    #[tokio::test]
    async fn unreachable_provider() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let base = format!("http://127.0.0.1:{port}");
        let cfg = ProviderConfig {
            issuer: base.clone(),
            metadata_url: format!("{base}/.well-known/openid-configuration"),
            client_id: "c".into(),
            client_secret: None,
            scopes: vec![],
            claims: ClaimsMapping::default(),
            email_verified: EmailVerified::Claim,
            allow_private: true,
            token_auth: TokenAuth::None,
        };
        let err = OidcRp::new().metadata(&cfg).await.unwrap_err();
        assert!(matches!(err, OidcError::Fetch(FetchError::Connect { .. })), "{err:?}");
        assert_eq!(err.reason(), "provider_unreachable");
        assert!(err.to_string().contains("unreachable"), "{err}");

        // Without allow_private the loopback provider is refused outright.
        let cfg = ProviderConfig { allow_private: false, metadata_url: "https://127.0.0.1/x".into(), ..cfg };
        assert_eq!(OidcRp::new().metadata(&cfg).await.unwrap_err().reason(), "address_refused");
    }

    #[tokio::test]
    async fn pkce_and_client_authentication_reach_the_token_endpoint() {
        let p = provider().await;
        let key = signer("k1", Alg::RS256);
        p.publish(&[&key]);
        let t = key.sign_jwt(&claims(&p)).unwrap();
        let rp = OidcRp::new();
        let mut cfg = p.config();

        let last = |p: &Provider| lock(&p.op).forms.last().cloned().unwrap();
        let base_form = |f: &HashMap<String, String>| {
            assert_eq!(f["grant_type"], "authorization_code");
            assert_eq!(f["code"], "the-code");
            assert_eq!(f["redirect_uri"], "https://portico.test/cb");
            assert_eq!(f["code_verifier"], "the-verifier");
        };

        // client_secret_basic (the default), credentials form-urlencoded per RFC 6749 §2.3.1.
        p.redeem_with(&rp, &cfg, &t).await.unwrap();
        let (f, auth) = last(&p);
        base_form(&f);
        assert!(!f.contains_key("client_secret") && !f.contains_key("client_id"));
        let decoded = STANDARD.decode(auth.unwrap().strip_prefix("Basic ").unwrap()).unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "portico-client:s3cret%2F%2B%3D");

        // client_secret_post.
        cfg.token_auth = TokenAuth::ClientSecretPost;
        p.redeem_with(&rp, &cfg, &t).await.unwrap();
        let (f, auth) = last(&p);
        base_form(&f);
        assert_eq!((f["client_id"].as_str(), f["client_secret"].as_str(), auth), ("portico-client", "s3cret/+=", None));

        // A public client: only client_id, and PKCE.
        cfg.token_auth = TokenAuth::None;
        p.redeem_with(&rp, &cfg, &t).await.unwrap();
        let (f, auth) = last(&p);
        base_form(&f);
        assert_eq!((f["client_id"].as_str(), f.get("client_secret"), auth), ("portico-client", None, None));
    }

    #[test]
    fn futures_are_send() {
        fn is_send<T: Send>(_: &T) {}
        let rp = OidcRp::new();
        let cfg = ProviderConfig {
            issuer: "https://op.example".into(),
            metadata_url: "https://op.example/.well-known/openid-configuration".into(),
            client_id: "c".into(),
            client_secret: None,
            scopes: vec![],
            claims: ClaimsMapping::default(),
            email_verified: EmailVerified::Claim,
            allow_private: false,
            token_auth: TokenAuth::None,
        };
        let meta = parse_metadata(
            &json!({"issuer": "https://op.example", "authorization_endpoint": "https://op.example/a",
                "token_endpoint": "https://op.example/t", "jwks_uri": "https://op.example/k"}),
            &cfg,
        )
        .unwrap();
        is_send(&rp.metadata(&cfg));
        is_send(&rp.redeem(&cfg, &meta, "c", "r", "v", "n", 0));
        // The configuration round-trips through JSON with defaults for the optional fields.
        let parsed: ProviderConfig = serde_json::from_value(json!({
            "issuer": "https://op.example", "metadataUrl": "https://op.example/m", "clientId": "c"
        }))
        .unwrap();
        assert_eq!((parsed.token_auth, parsed.email_verified), (TokenAuth::ClientSecretBasic, EmailVerified::Claim));
        assert_eq!(parsed.claims, ClaimsMapping::default());
    }

    #[tokio::test]
    async fn authorize_url_carries_the_request() {
        let p = provider().await;
        let rp = OidcRp::new();
        let cfg = p.config();
        let meta = rp.metadata(&cfg).await.unwrap();
        let url = OidcRp::authorize_url(&meta, &cfg, "https://portico.test/cb", "st", "no", "ch", Some("a@b.c"));
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!(parsed.path(), "/authorize");
        let q: HashMap<String, String> = parsed.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["response_mode"], "query");
        assert_eq!(q["client_id"], "portico-client");
        assert_eq!(q["redirect_uri"], "https://portico.test/cb");
        assert_eq!(q["scope"], "openid email profile");
        assert_eq!((q["state"].as_str(), q["nonce"].as_str()), ("st", "no"));
        assert_eq!((q["code_challenge"].as_str(), q["code_challenge_method"].as_str()), ("ch", "S256"));
        assert_eq!(q["login_hint"], "a@b.c");

        let meta = Metadata { authorization_endpoint: "https://op.example/authorize?p=b2c_1_signin".into(), ..meta };
        let url = OidcRp::authorize_url(&meta, &cfg, "https://portico.test/cb", "st", "no", "ch", None);
        assert!(url.starts_with("https://op.example/authorize?p=b2c_1_signin&response_type=code"), "{url}");
        assert!(!url.contains("login_hint"));
    }
}
