//! Command-line interface: every command, flag and environment variable, with help that teaches.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Portico: a self-hosted identity platform for business-to-business collaboration.
///
/// Start with `portico serve`: it creates ./data, an embedded SQLite store, a first tenant and
/// its administrator, and prints what to do next. Add `--demo` for two sample organisations
/// (Contoso and Fabrikam) to try cross-tenant work in minutes.
///
/// Settings come from, in rising priority: built-in defaults, a TOML file (--config, or
/// DATA_DIR/portico.toml when present), PORTICO_* environment variables, and flags.
#[derive(Debug, Parser)]
#[command(name = "portico", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command shares.
#[derive(Debug, Args, Clone)]
pub struct Global {
    /// Directory for the embedded store, the master key file and the config file.
    #[arg(long, env = "PORTICO_DATA_DIR", global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB (default: SQLite in DATA_DIR).
    #[arg(long, env = "PORTICO_DATABASE_URL", global = true, value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// A TOML file with settings (keys as the long flags, with underscores).
    #[arg(long, env = "PORTICO_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log filter, e.g. info, debug, portico_http=debug.
    #[arg(long, env = "PORTICO_LOG", global = true, value_name = "FILTER")]
    pub log: Option<String>,
    /// Log format.
    #[arg(long, env = "PORTICO_LOG_FORMAT", global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Signing algorithms for new keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Deserialize)]
pub enum SigningAlg {
    /// RSA 2048 with SHA-256 (default; what Entra ID uses).
    #[value(name = "RS256")]
    #[serde(rename = "RS256")]
    Rs256,
    /// ECDSA P-256 with SHA-256.
    #[value(name = "ES256")]
    #[serde(rename = "ES256")]
    Es256,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (applies migrations first).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage tenants (directories).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage applications and their credentials.
    #[command(subcommand)]
    App(AppCommand),
    /// Manage token signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Generate bulk data for benchmarks and trials.
    #[command(subcommand)]
    Seed(SeedCommand),
    /// Look at the mail Portico sent or kept.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Invite guests in bulk from a CSV file (Entra's bulk-invite template).
    #[command(subcommand)]
    Invite(crate::invite::InviteCommand),
}

/// Flags of `serve`.
#[derive(Debug, Args, Clone, Default)]
pub struct ServeArgs {
    /// Address and port to listen on. Without TLS the default is loopback only.
    #[arg(long, env = "PORTICO_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// The URL clients use to reach Portico (issuers and links are built from it).
    #[arg(long, env = "PORTICO_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// PEM certificate chain: serve HTTPS directly.
    #[arg(long, env = "PORTICO_TLS_CERT", value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long, env = "PORTICO_TLS_KEY", value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// A reverse proxy in front terminates TLS: allows a non-loopback plain-HTTP listener
    /// (the public URL must then be https).
    #[arg(long, env = "PORTICO_BEHIND_TLS_PROXY")]
    pub behind_tls_proxy: bool,
    /// Base domain for new tenants' initial domains (<name>.<base>).
    #[arg(long, env = "PORTICO_BASE_DOMAIN", value_name = "DOMAIN")]
    pub base_domain: Option<String>,
    /// Algorithm for new signing keys.
    #[arg(long, env = "PORTICO_SIGNING_ALG", value_enum)]
    pub signing_alg: Option<SigningAlg>,
    /// Invitations (POST /invitations) a tenant may send every 5 seconds, counted across all
    /// servers; more are answered 429 with Retry-After, as Entra's 150. 0: no limit.
    #[arg(long = "invitations-per-5s", env = "PORTICO_INVITATIONS_PER_5S", value_name = "N")]
    pub invitations_per_5s: Option<u32>,
    /// Also create the Contoso and Fabrikam sample tenants (once).
    #[arg(long)]
    pub demo: bool,
    /// Refuse to start instead of applying pending migrations.
    #[arg(long, env = "PORTICO_NO_MIGRATE")]
    pub no_migrate: bool,
    /// DEVELOPMENT ONLY: mark domains verified without their DNS TXT proof.
    #[arg(long, env = "PORTICO_DANGER_ACCEPT_UNVERIFIED_DOMAINS")]
    pub danger_accept_unverified_domains: bool,
    /// DEVELOPMENT ONLY: allow a plain-http public URL on a non-loopback host.
    #[arg(long, env = "PORTICO_DANGER_INSECURE_HTTP")]
    pub danger_insecure_http: bool,
    /// Send mail through this SMTP server: smtp://HOST:PORT (plain to loopback, else STARTTLS
    /// when offered), smtp+starttls://HOST:PORT (STARTTLS required) or smtps://HOST:PORT (TLS),
    /// with optional USER:PASSWORD@ (percent-encoded). Without it, mail is kept in the outbox
    /// (read it with `portico mail outbox`) and each arrival is logged with its link.
    #[arg(long, env = "PORTICO_SMTP_URL", value_name = "URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// The From address of mail Portico sends.
    #[arg(long, env = "PORTICO_MAIL_FROM", value_name = "ADDRESS")]
    pub mail_from: Option<String>,
    /// The From name; mail on behalf of an organisation shows "<organisation> via <name>".
    #[arg(long, env = "PORTICO_MAIL_FROM_NAME", value_name = "NAME")]
    pub mail_from_name: Option<String>,
    /// A folder whose files replace the built-in mail templates of the same name
    /// (invitation.html, invitation.txt, invitation_subject.txt, invitation.en.json, ...).
    #[arg(long, env = "PORTICO_MAIL_TEMPLATE_DIR", value_name = "DIR")]
    pub mail_template_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant with its initial domain, Graph service principal and signing key.
    ///
    /// Example: portico tenant create --name Contoso --domain contoso.test
    Create {
        /// Organisation name.
        #[arg(long)]
        name: String,
        /// A custom domain the operator vouches for (verified at once and made default).
        #[arg(long)]
        domain: Option<String>,
    },
    /// List tenants.
    List,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a member user; prints the initial password once when none is given.
    ///
    /// Example: portico user create --tenant contoso.test --upn alice@contoso.test --name "Alice Archer" --role "Global Administrator"
    Create {
        /// Tenant id or verified domain.
        #[arg(long)]
        tenant: String,
        /// User principal name; its domain must be verified in the tenant.
        #[arg(long)]
        upn: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Initial password (read from PORTICO_USER_PASSWORD when not given; else generated).
        #[arg(long, env = "PORTICO_USER_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Mail address.
        #[arg(long)]
        mail: Option<String>,
        /// Assign a built-in directory role by name or template id (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Register an application with a service principal, grant Graph application permissions,
    /// and print its client id and a client secret (shown once).
    ///
    /// Example: portico app create --tenant contoso.test --name "HR sync" --permission User.Read.All --permission Group.ReadWrite.All
    Create {
        /// Tenant id or verified domain.
        #[arg(long)]
        tenant: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Graph application permission to grant (repeatable), e.g. User.Read.All.
        #[arg(long = "permission")]
        permissions: Vec<String>,
        /// Web redirect URI (repeatable).
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a new signing key; the old one stays published until its tokens expire.
    Rotate {
        /// Tenant id or verified domain.
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        tenant: Option<String>,
        /// Rotate every tenant's key.
        #[arg(long)]
        all: bool,
        /// Algorithm of the new key (default: the configured one).
        #[arg(long, value_enum)]
        alg: Option<SigningAlg>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SeedCommand {
    /// Insert many member users into one tenant (for benchmarks). Users get no password.
    ///
    /// Example: portico seed users --tenant bench.portico.localhost --count 1000000
    Users {
        /// Tenant id or verified domain.
        #[arg(long)]
        tenant: String,
        /// How many users.
        #[arg(long)]
        count: u64,
        /// One in this many users is a guest.
        #[arg(long, default_value_t = 10)]
        guest_every: u64,
    },
    /// Create many tenants (for benchmarks), printing the time per batch.
    Tenants {
        /// How many tenants.
        #[arg(long)]
        count: u64,
        /// Name prefix.
        #[arg(long, default_value = "Bench")]
        prefix: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// List the newest messages of the outbox: sign-in codes, password links and invitations,
    /// with their delivery status (queued, sent, kept, failed) and last error.
    ///
    /// Without an SMTP server (serve --smtp-url) every message is kept here, so this is where
    /// the links of a fresh installation arrive. With --json, prints a JSON array whose messages
    /// carry their text bodies (they hold working links: treat the output as secret).
    ///
    /// Examples:
    ///   portico mail outbox
    ///   portico mail outbox --tenant contoso.test --limit 5 --json
    #[command(verbatim_doc_comment)]
    Outbox {
        /// Only this tenant's mail (tenant id or verified domain); default: every tenant.
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
        /// How many messages, newest first (1-1000).
        #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..=1000))]
        limit: i64,
    },
}
