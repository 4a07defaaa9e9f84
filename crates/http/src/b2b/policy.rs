//! The tenant's external collaboration settings, read from the policy documents the Graph-shaped
//! API writes (`portico_store::b2b::policy`). Each document is stored in Graph's own shape; a
//! missing document or property means Entra's default.
//!
//! | document name               | Graph resource                                                        |
//! |-----------------------------|-----------------------------------------------------------------------|
//! | `authorizationPolicy`       | `/v1.0/policies/authorizationPolicy` (allowInvitesFrom, guestUserRoleId, ...) |
//! | `b2bManagementPolicy`       | `/beta/policies/b2bManagementPolicies/{id}` (definition, displayName, ...) |
//! | `externalIdentitiesPolicy`  | `/beta/policies/externalIdentitiesPolicy`                             |
//! | `emailAuthenticationMethod` | `/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/email` |
//! | `crossTenantAccessPolicy`   | `/v1.0/policies/crossTenantAccessPolicy/default` (`default`; `partners` not yet served) |

use portico_core::b2b::{DomainList, GuestAccess, InvitesFrom, guest_role};
use portico_core::ids::TenantId;
use portico_store::StoreError;
use portico_store::b2b as store;
use serde_json::Value;

/// Document names.
pub mod doc {
    /// authorizationPolicy.
    pub const AUTHORIZATION: &str = "authorizationPolicy";
    /// b2bManagementPolicy (the domain allow or deny list).
    pub const B2B_MANAGEMENT: &str = "b2bManagementPolicy";
    /// externalIdentitiesPolicy.
    pub const EXTERNAL_IDENTITIES: &str = "externalIdentitiesPolicy";
    /// The email authentication method configuration.
    pub const EMAIL_METHOD: &str = "emailAuthenticationMethod";
    /// crossTenantAccessPolicy: `default` (the default configuration) and `partners`.
    pub const CROSS_TENANT_ACCESS: &str = "crossTenantAccessPolicy";
}

/// Email one-time passcode for guests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OtpSettings {
    /// Guests without another identity provider may redeem and sign in with a mailed code.
    pub enabled: bool,
    /// How long a code works (minutes, 1 to 30; default 10).
    pub code_minutes: i64,
    /// How long a one-time-passcode guest's session lasts (hours, 1 to 24; default 24).
    pub session_hours: i64,
}

/// Default code lifetime (minutes).
pub const DEFAULT_OTP_MINUTES: i64 = 10;
/// Longest code lifetime (minutes).
pub const MAX_OTP_MINUTES: i64 = 30;
/// Default one-time-passcode session (hours).
pub const DEFAULT_OTP_SESSION_HOURS: i64 = 24;

async fn document(conn: &mut sqlx::AnyConnection, tenant: TenantId, name: &str) -> Result<Value, StoreError> {
    Ok(store::policy(conn, tenant, name).await?.unwrap_or(Value::Null))
}

/// `allowInvitesFrom` (default `everyone`).
pub async fn invites_from(conn: &mut sqlx::AnyConnection, tenant: TenantId) -> Result<InvitesFrom, StoreError> {
    let d = document(conn, tenant, doc::AUTHORIZATION).await?;
    Ok(d["allowInvitesFrom"].as_str().and_then(InvitesFrom::parse).unwrap_or(InvitesFrom::Everyone))
}

/// The guest access level from `guestUserRoleId` (default limited).
pub async fn guest_access(conn: &mut sqlx::AnyConnection, tenant: TenantId) -> Result<GuestAccess, StoreError> {
    let d = document(conn, tenant, doc::AUTHORIZATION).await?;
    Ok(GuestAccess::from_role_id(d["guestUserRoleId"].as_str().unwrap_or(guest_role::GUEST_USER)))
}

/// The domain allow or deny list (default open).
pub async fn domain_list(conn: &mut sqlx::AnyConnection, tenant: TenantId) -> Result<DomainList, StoreError> {
    let d = document(conn, tenant, doc::B2B_MANAGEMENT).await?;
    let definition = d["definition"]
        .as_array()
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .unwrap_or(Value::Null);
    Ok(DomainList::from_definition(&definition))
}

/// `allowExternalIdentitiesToLeave` (default true, as in Entra).
pub async fn guests_may_leave(conn: &mut sqlx::AnyConnection, tenant: TenantId) -> Result<bool, StoreError> {
    let d = document(conn, tenant, doc::EXTERNAL_IDENTITIES).await?;
    Ok(d["allowExternalIdentitiesToLeave"].as_bool().unwrap_or(true))
}

/// Email one-time passcode settings (`allowExternalIdToUseEmailOtp`: `default` and `enabled`
/// turn it on, `disabled` off; Portico adds the code and session lifetimes to the document).
pub async fn email_otp(conn: &mut sqlx::AnyConnection, tenant: TenantId) -> Result<OtpSettings, StoreError> {
    let d = document(conn, tenant, doc::EMAIL_METHOD).await?;
    let enabled = !d["allowExternalIdToUseEmailOtp"].as_str().is_some_and(|s| s.eq_ignore_ascii_case("disabled"));
    let code_minutes =
        d["oneTimePasscodeLifetimeInMinutes"].as_i64().unwrap_or(DEFAULT_OTP_MINUTES).clamp(1, MAX_OTP_MINUTES);
    let session_hours =
        d["oneTimePasscodeSessionLifetimeInHours"].as_i64().unwrap_or(DEFAULT_OTP_SESSION_HOURS).clamp(1, 24);
    Ok(OtpSettings { enabled, code_minutes, session_hours })
}

/// Whether the home tenant's cross-tenant access settings let its user go out to `resource` for
/// B2B collaboration: the partner entry for the resource tenant, else the default, of the
/// `crossTenantAccessPolicy` document (`b2bCollaborationOutbound.usersAndGroups.accessType`;
/// `blocked` refuses). No document means Entra's default: allowed.
pub async fn outbound_allowed(
    conn: &mut sqlx::AnyConnection,
    home: TenantId,
    resource: TenantId,
    _user: portico_core::ids::ObjectId,
) -> Result<bool, StoreError> {
    let d = document(conn, home, doc::CROSS_TENANT_ACCESS).await?;
    let partner = d["partners"].as_array().and_then(|ps| {
        ps.iter().find(|p| p["tenantId"].as_str().is_some_and(|t| t.eq_ignore_ascii_case(&resource.to_string())))
    });
    let rule = partner
        .map(|p| &p["b2bCollaborationOutbound"])
        .filter(|v| !v.is_null())
        .unwrap_or(&d["default"]["b2bCollaborationOutbound"]);
    Ok(!rule["usersAndGroups"]["accessType"].as_str().is_some_and(|a| a.eq_ignore_ascii_case("blocked")))
}

/// A group of identity providers in the redemption order
/// (`primaryIdentityProviderPrecedenceOrder`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrimaryIdp {
    /// Tenants (of this deployment), and the Microsoft Entra ID provider.
    AzureActiveDirectory,
    /// SAML direct federation and generic OpenID Connect providers.
    ExternalFederation,
    /// Google.
    SocialIdentityProviders,
}

impl PrimaryIdp {
    /// Graph's name.
    pub fn as_str(self) -> &'static str {
        match self {
            PrimaryIdp::AzureActiveDirectory => "azureActiveDirectory",
            PrimaryIdp::ExternalFederation => "externalFederation",
            PrimaryIdp::SocialIdentityProviders => "socialIdentityProviders",
        }
    }
    /// From Graph's name.
    pub fn parse(s: &str) -> Option<Self> {
        [PrimaryIdp::AzureActiveDirectory, PrimaryIdp::ExternalFederation, PrimaryIdp::SocialIdentityProviders]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// What redemption falls back to when no primary provider applies (`fallbackIdentityProvider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackIdp {
    /// Portico's default configured provider: the email one-time passcode, when enabled.
    DefaultConfiguredIdp,
    /// The email one-time passcode, when enabled.
    EmailOneTimePasscode,
}

/// The redemption order of a tenant (`invitationRedemptionIdentityProviderConfiguration` on the
/// cross-tenant access default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedemptionOrder {
    /// The groups, in order.
    pub primary: Vec<PrimaryIdp>,
    /// The fallback.
    pub fallback: FallbackIdp,
}

impl Default for RedemptionOrder {
    fn default() -> Self {
        Self {
            primary: vec![
                PrimaryIdp::AzureActiveDirectory,
                PrimaryIdp::ExternalFederation,
                PrimaryIdp::SocialIdentityProviders,
            ],
            fallback: FallbackIdp::DefaultConfiguredIdp,
        }
    }
}

/// The tenant's redemption order (Entra's default when not configured).
pub async fn redemption_order(conn: &mut sqlx::AnyConnection, tenant: TenantId) -> Result<RedemptionOrder, StoreError> {
    let d = document(conn, tenant, doc::CROSS_TENANT_ACCESS).await?;
    let cfg = &d["default"]["invitationRedemptionIdentityProviderConfiguration"];
    let mut order = RedemptionOrder::default();
    if let Some(list) = cfg["primaryIdentityProviderPrecedenceOrder"].as_array() {
        order.primary = list.iter().filter_map(|v| v.as_str().and_then(PrimaryIdp::parse)).collect();
    }
    if cfg["fallbackIdentityProvider"].as_str() == Some("emailOneTimePasscode") {
        order.fallback = FallbackIdp::EmailOneTimePasscode;
    }
    Ok(order)
}
