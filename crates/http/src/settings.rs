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
    /// Take the client address from the last hop of X-Forwarded-For (behind a TLS proxy).
    pub trust_forwarded_for: bool,
    /// Sign-in and session lifetimes.
    pub sessions: SessionSettings,
    /// Mail delivery.
    pub mail: MailSettings,
    /// B2B collaboration.
    pub b2b: B2bSettings,
}

/// How mail leaves the deployment.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// `smtp://host:port` (plain or STARTTLS when offered), `smtps://host:port` (TLS), with
    /// optional `user:password@`; none keeps every message in the outbox (embedded default).
    pub smtp_url: Option<String>,
    /// The From address.
    pub from_address: String,
    /// The From display name.
    pub from_name: String,
    /// A folder whose templates replace the built-in ones (same file names).
    pub template_dir: Option<std::path::PathBuf>,
    /// How often an idle job worker looks for due jobs (milliseconds).
    pub worker_poll_ms: u64,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from_address: "invites@portico.localhost".into(),
            from_name: "Portico invitations".into(),
            template_dir: None,
            worker_poll_ms: 1000,
        }
    }
}

/// B2B collaboration settings of the deployment.
#[derive(Debug, Clone)]
pub struct B2bSettings {
    /// How long an invitation's redeem link works (days).
    pub invitation_days: i64,
    /// `POST /invitations` per tenant (all callers, every server) in each window of
    /// [`INVITATION_WINDOW_MS`]; more are answered 429 with Retry-After. Entra's invitation
    /// manager allows 150 per 5 seconds. 0: no limit.
    pub invitations_per_window: u32,
}

/// The invitation throttle's window: 5 seconds, as Entra's.
pub const INVITATION_WINDOW_MS: i64 = 5_000;

impl Default for B2bSettings {
    fn default() -> Self {
        Self { invitation_days: 90, invitations_per_window: 150 }
    }
}

/// Lifetimes of what interactive sign-in creates.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// A browser session that is not "stay signed in" (seconds).
    pub session_secs: i64,
    /// A "stay signed in" session (seconds).
    pub persistent_session_secs: i64,
    /// An authorization code (seconds; RFC 9700 and ASVS: at most 10 minutes).
    pub code_secs: i64,
    /// A refresh token left unused (seconds).
    pub refresh_idle_secs: i64,
    /// The absolute end of a confidential client's refresh token family (seconds).
    pub refresh_absolute_secs: i64,
    /// The absolute end of a public client's (SPA, native) refresh token family (seconds).
    pub public_refresh_absolute_secs: i64,
    /// How long a sign-in page flow may take (seconds).
    pub flow_secs: i64,
    /// An email one-time passcode (seconds; ASVS 6.5: at most 10 minutes).
    pub email_code_secs: i64,
    /// A password reset link (seconds).
    pub reset_link_secs: i64,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            session_secs: 12 * 3600,
            persistent_session_secs: 90 * 24 * 3600,
            code_secs: 600,
            refresh_idle_secs: 14 * 24 * 3600,
            refresh_absolute_secs: 90 * 24 * 3600,
            public_refresh_absolute_secs: 24 * 3600,
            flow_secs: 1800,
            email_code_secs: 600,
            reset_link_secs: 3600,
        }
    }
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
            trust_forwarded_for: false,
            sessions: SessionSettings::default(),
            mail: MailSettings::default(),
            b2b: B2bSettings::default(),
        }
    }
}

impl Settings {
    /// The OpenID issuer of a tenant.
    pub fn issuer(&self, tenant: portico_core::ids::TenantId) -> String {
        format!("{}/{}/v2.0", self.public_url, tenant)
    }
}
