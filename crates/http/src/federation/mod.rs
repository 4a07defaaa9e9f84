//! Federation with external identity providers: outbound HTTP under SSRF rules ([`outbound`]),
//! the OpenID Connect relying party ([`oidc`]) and the stored settings of a tenant's providers
//! ([`providers`]). SAML lives in the `portico-saml` crate; the browser legs of a federated
//! sign-in are in `web::federated`.

pub mod oidc;
pub mod outbound;
pub mod providers;

use std::sync::LazyLock;

static RP: LazyLock<oidc::OidcRp> = LazyLock::new(oidc::OidcRp::new);

/// The process's relying party: its discovery and JWKS caches are shared by every tenant (they
/// are keyed by URL) and followed on key roll-over without restart.
pub fn rp() -> &'static oidc::OidcRp {
    &RP
}
