//! Settings layering: defaults < TOML file < PORTICO_* environment < flags (clap merges the
//! last two). Secrets (the master key, database passwords) are never printed or logged.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use portico_core::jws::Alg;
use portico_core::sealed::MasterKey;
use portico_core::secret::PasswordCost;
use portico_http::Settings;
use serde::Deserialize;

use crate::cli::{Global, LogFormat, ServeArgs, SigningAlg};

/// The TOML file's keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    log: Option<String>,
    log_format: Option<LogFormat>,
    listen: Option<SocketAddr>,
    public_url: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    behind_tls_proxy: Option<bool>,
    base_domain: Option<String>,
    signing_alg: Option<SigningAlg>,
    master_key_file: Option<PathBuf>,
    access_token_lifetime_secs: Option<i64>,
    password_memory_kib: Option<u32>,
    password_iterations: Option<u32>,
    danger_accept_unverified_domains: Option<bool>,
    danger_insecure_http: Option<bool>,
    invitations_per_5s: Option<u32>,
}

/// Settings after layering.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Database URL (may hold a password: print with `redacted_database_url`).
    pub database_url: String,
    /// Log filter.
    pub log: String,
    /// Log format.
    pub log_format: LogFormat,
    /// Listen address.
    pub listen: SocketAddr,
    /// TLS files.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// A proxy terminates TLS.
    pub behind_tls_proxy: bool,
    /// Allow http public URLs off loopback.
    pub danger_insecure_http: bool,
    /// What the surfaces need.
    pub settings: Settings,
    /// Argon2id cost.
    pub password_cost: PasswordCost,
    /// Where the master key file is (when not given by PORTICO_MASTER_KEY).
    pub master_key_file: PathBuf,
}

fn alg(a: SigningAlg) -> Alg {
    match a {
        SigningAlg::Rs256 => Alg::RS256,
        SigningAlg::Es256 => Alg::ES256,
    }
}

impl Config {
    /// Layers the settings.
    pub fn load(global: &Global, serve: &ServeArgs) -> anyhow::Result<Config> {
        let provisional_dir = global.data_dir.clone().unwrap_or_else(|| PathBuf::from("data"));
        let file_path = global.config.clone().or_else(|| {
            let p = provisional_dir.join("portico.toml");
            p.exists().then_some(p)
        });
        let file: FileConfig = match &file_path {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).with_context(|| format!("reading the config file {}", p.display()))?;
                toml::from_str(&text).with_context(|| format!("the config file {} is not valid", p.display()))?
            }
            None => FileConfig::default(),
        };
        let data_dir = global.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("data"));
        let database_url = global
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("portico.db").display()));
        let tls = match (serve.tls_cert.clone().or(file.tls_cert), serve.tls_key.clone().or(file.tls_key)) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => bail!("--tls-cert and --tls-key go together"),
        };
        let listen = serve.listen.or(file.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let scheme = if tls.is_some() { "https" } else { "http" };
        let host = if listen.ip().is_unspecified() { "127.0.0.1".to_string() } else { listen.ip().to_string() };
        let host = if listen.is_ipv6() && !listen.ip().is_unspecified() { format!("[{host}]") } else { host };
        let public_url = serve
            .public_url
            .clone()
            .or(file.public_url)
            .unwrap_or_else(|| format!("{scheme}://{host}:{}", listen.port()))
            .trim_end_matches('/')
            .to_string();
        let defaults = Settings::default();
        let settings = Settings {
            public_url,
            base_domain: serve.base_domain.clone().or(file.base_domain).unwrap_or(defaults.base_domain),
            access_token_lifetime_secs: file.access_token_lifetime_secs.unwrap_or(defaults.access_token_lifetime_secs),
            signing_alg: serve.signing_alg.or(file.signing_alg).map(alg).unwrap_or(defaults.signing_alg),
            key_cache_secs: defaults.key_cache_secs,
            danger_accept_unverified_domains: serve.danger_accept_unverified_domains
                || file.danger_accept_unverified_domains.unwrap_or(false),
            trust_forwarded_for: serve.behind_tls_proxy || file.behind_tls_proxy.unwrap_or(false),
            sessions: defaults.sessions,
            mail: defaults.mail,
            b2b: portico_http::settings::B2bSettings {
                invitations_per_window: serve
                    .invitations_per_5s
                    .or(file.invitations_per_5s)
                    .unwrap_or(defaults.b2b.invitations_per_window),
                ..defaults.b2b
            },
        };
        if !(300..=86_400).contains(&settings.access_token_lifetime_secs) {
            bail!("access_token_lifetime_secs must be between 300 and 86400");
        }
        let password_cost = PasswordCost {
            memory_kib: file.password_memory_kib.unwrap_or(PasswordCost::default().memory_kib),
            iterations: file.password_iterations.unwrap_or(PasswordCost::default().iterations),
        };
        Ok(Config {
            master_key_file: file.master_key_file.unwrap_or_else(|| data_dir.join("master.key")),
            data_dir,
            database_url,
            log: global.log.clone().or(file.log).unwrap_or_else(|| "info".into()),
            log_format: global.log_format.or(file.log_format).unwrap_or(LogFormat::Text),
            listen,
            tls,
            behind_tls_proxy: serve.behind_tls_proxy || file.behind_tls_proxy.unwrap_or(false),
            danger_insecure_http: serve.danger_insecure_http || file.danger_insecure_http.unwrap_or(false),
            settings,
            password_cost,
        })
    }

    /// The database URL with any password hidden.
    pub fn redacted_database_url(&self) -> String {
        portico_store::db::redact_url(&self.database_url)
    }

    /// Whether the store is the embedded SQLite one.
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    /// Enforces the transport rules: loopback or TLS or a declared TLS proxy; https public URLs
    /// off loopback.
    pub fn check_transport(&self) -> anyhow::Result<()> {
        let loopback = self.listen.ip().is_loopback();
        if self.tls.is_none() && !loopback && !self.behind_tls_proxy {
            bail!(
                "refusing to serve plain HTTP on {} (not loopback). Give --tls-cert/--tls-key, or --behind-tls-proxy when a reverse proxy terminates TLS.",
                self.listen
            );
        }
        let url = url::Url::parse(&self.settings.public_url).context("--public-url is not a URL")?;
        let public_loopback = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]" | "::1"));
        if url.scheme() != "https" && !public_loopback && !self.danger_insecure_http {
            bail!(
                "the public URL {} is not https. Tokens and cookies must travel over TLS; use an https public URL (with --behind-tls-proxy if a proxy terminates TLS).",
                self.settings.public_url
            );
        }
        Ok(())
    }

    /// The master key: PORTICO_MASTER_KEY, or the key file (created on first use).
    pub fn master_key(&self) -> anyhow::Result<(MasterKey, &'static str)> {
        if let Ok(text) = std::env::var("PORTICO_MASTER_KEY") {
            return Ok((MasterKey::from_base64(&text).context("PORTICO_MASTER_KEY")?, "PORTICO_MASTER_KEY"));
        }
        let path = &self.master_key_file;
        if path.exists() {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            return Ok((
                MasterKey::from_base64(&text).with_context(|| format!("the master key in {}", path.display()))?,
                "file",
            ));
        }
        let key = MasterKey::generate();
        write_private(path, &key.to_base64())?;
        Ok((key, "new file"))
    }
}

/// Writes a file only its owner can read.
pub fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("creating {}", path.display()))?;
        f.write_all(text.as_bytes())?;
    }
    #[cfg(not(unix))]
    std::fs::write(path, text)?;
    Ok(())
}
