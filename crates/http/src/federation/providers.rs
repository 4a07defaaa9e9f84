//! The settings of a tenant's identity providers as stored (`identity_providers.config`), shared
//! by the Graph surface that writes them and the sign-in pages that use them.
//!
//! Kinds (`portico_store::federation::kind`): `oidc` (a generic OpenID Provider: Okta, Keycloak,
//! Auth0, another Portico deployment), `google` and `microsoft` (OpenID Connect presets whose
//! endpoints can be overridden) and `saml` (SAML 2.0 direct federation by domain).

use serde::{Deserialize, Serialize};

/// Google's discovery document.
pub const GOOGLE_METADATA_URL: &str = "https://accounts.google.com/.well-known/openid-configuration";
/// Google's issuer.
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";
/// The mail domains a Google provider serves without configuration (as in Entra).
pub const GOOGLE_DOMAINS: &[&str] = &["gmail.com", "googlemail.com"];
/// Microsoft Entra ID's multi-tenant discovery document (work and school accounts).
pub const MICROSOFT_METADATA_URL: &str =
    "https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration";
/// Microsoft Entra ID's issuer template: `{tenantid}` is the token's `tid`.
pub const MICROSOFT_ISSUER: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";

/// How an OpenID provider's email claim counts as proof of the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum EmailVerification {
    /// Only with `email_verified: true` in the ID token (the default).
    #[default]
    Claim,
    /// The administrator trusts the provider for every address it asserts.
    Always,
    /// Never: guests from it cannot redeem invitations by email (only linked identities sign in).
    Never,
}

/// Which claims of the ID token hold what (Graph's `claimsMapping`).
pub use crate::federation::oidc::ClaimsMapping;

/// An OpenID Connect provider's settings (kinds `oidc`, `google`, `microsoft`). The client secret
/// is not here: it is sealed in its own column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OidcSettings {
    /// The discovery document.
    pub metadata_url: String,
    /// The expected issuer (may hold `{tenantid}`).
    pub issuer: String,
    /// The client id registered at the provider.
    pub client_id: String,
    /// Scopes asked for (space-separated in Graph's `scope`).
    pub scopes: Vec<String>,
    /// Claim names.
    #[serde(default)]
    pub claims_mapping: ClaimsMapping,
    /// When the email claim proves the address.
    #[serde(default)]
    pub email_verification: EmailVerification,
    /// Graph's `domainHint`, passed on as `domain_hint` when set.
    #[serde(default)]
    pub domain_hint: Option<String>,
    /// Allow endpoints on private or loopback addresses (and plain http): an administrator's
    /// explicit choice for a provider inside the network.
    #[serde(default)]
    pub allow_private_network: bool,
}

/// A SAML 2.0 direct federation's settings (kind `saml`; Graph's
/// `samlOrWsFedExternalDomainFederation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SamlSettings {
    /// The partner's entity id (the assertions' Issuer).
    pub issuer_uri: String,
    /// Where browsers are sent with an AuthnRequest (HTTP-Redirect binding).
    pub passive_sign_in_uri: String,
    /// The partner's metadata, refreshed on a schedule (certificate roll-over), if given.
    #[serde(default)]
    pub metadata_exchange_uri: Option<String>,
    /// Always `saml` (WS-Federation is not supported).
    pub preferred_authentication_protocol: String,
    /// Trusted signing certificates, base64 DER: the configured one first, then any others the
    /// metadata publishes (the next certificate of a roll-over).
    pub signing_certificates: Vec<String>,
    /// Allow endpoints on private or loopback addresses (and plain http).
    #[serde(default)]
    pub allow_private_network: bool,
    /// When the metadata was last read successfully (ms).
    #[serde(default)]
    pub metadata_refreshed_at: Option<i64>,
    /// Why the last metadata refresh failed, if it did.
    #[serde(default)]
    pub metadata_error: Option<String>,
}

/// Which group of Entra's redemption order a provider kind belongs to
/// (`primaryIdentityProviderPrecedenceOrder`).
pub fn precedence_group(kind: &str) -> &'static str {
    match kind {
        portico_store::federation::kind::MICROSOFT => "azureActiveDirectory",
        portico_store::federation::kind::GOOGLE => "socialIdentityProviders",
        _ => "externalFederation",
    }
}
