//! Deployment settings the surfaces need (the binary fills them from flags, environment and file).

use portico_core::jws::Alg;

/// What the HTTP surfaces need to know about the deployment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The externally visible base URL, without trailing slash (issuers and links use it).
    pub public_url: String,
    /// The base domain for tenants' initial domains (`<name>.<base>`).
    pub base_domain: String,
    /// Access token lifetime in seconds.
    pub access_token_lifetime_secs: i64,
    /// Algorithm for new signing keys.
    pub signing_alg: Alg,
    /// How long a key ring cache entry may be used before the store is asked again.
    pub key_cache_secs: u64,
    /// Development only: `POST /domains/{id}/verify` succeeds without the DNS TXT proof.
    pub danger_accept_unverified_domains: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            base_domain: "portico.localhost".into(),
            access_token_lifetime_secs: 3599,
            signing_alg: Alg::RS256,
            key_cache_secs: 30,
            danger_accept_unverified_domains: false,
        }
    }
}

impl Settings {
    /// The OpenID issuer of a tenant.
    pub fn issuer(&self, tenant: portico_core::ids::TenantId) -> String {
        format!("{}/{}/v2.0", self.public_url, tenant)
    }
}
