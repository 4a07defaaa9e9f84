//! The `portico` binary: wires the real store, clock and keys into the HTTP surfaces, and
//! offers the operator's commands. See `portico --help`.

mod admin;
mod cli;
mod config;
mod demo;
mod invite;
mod seed;
mod serve;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use portico_core::clock::SystemClock;
use portico_http::directory::Directory;
use portico_http::keyring::KeyRing;
use portico_store::{SchemaStatus, Store};

use crate::cli::{Cli, Command, LogFormat, ServeArgs};
use crate::config::Config;

fn init_logging(cfg: &Config) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(&cfg.log).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cfg.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.with_target(false).init(),
    }
}

/// Opens the store and builds the directory service. `migrate`: apply pending migrations.
async fn open(cfg: &Config, migrate: bool) -> anyhow::Result<Directory> {
    if cfg.is_sqlite() {
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("creating the data directory {}", cfg.data_dir.display()))?;
    }
    let store = Store::connect(&cfg.database_url)
        .await
        .with_context(|| format!("connecting to {}", cfg.redacted_database_url()))?;
    match store.schema_status().await? {
        SchemaStatus::TooNew { found, known } => {
            anyhow::bail!(portico_store::StoreError::SchemaTooNew { found, known });
        }
        SchemaStatus::Current(_) => {}
        SchemaStatus::Empty | SchemaStatus::Behind { .. } if migrate => {
            let n = store.migrate().await?;
            tracing::info!(migrations = n, "applied {n} migration(s) to {}", cfg.redacted_database_url());
        }
        SchemaStatus::Empty | SchemaStatus::Behind { .. } => {
            store.require_current().await?;
        }
    }
    let (master, source) = cfg.master_key()?;
    if source == "new file" {
        tracing::info!(path = %cfg.master_key_file.display(), "created a new master key at {}", cfg.master_key_file.display());
        if !cfg.is_sqlite() {
            tracing::warn!(
                "with PostgreSQL, every server must share one master key: set PORTICO_MASTER_KEY on all of them"
            );
        }
    }
    let settings = Arc::new(cfg.settings.clone());
    let keys =
        Arc::new(KeyRing::new(master, Duration::from_secs(settings.key_cache_secs)).with_alg(settings.signing_alg));
    Ok(Directory { store, settings, keys, clock: Arc::new(SystemClock), password_cost: cfg.password_cost })
}

fn main() -> std::process::ExitCode {
    let started = Instant::now();
    let cli = Cli::parse();
    let serve_args = match &cli.command {
        Command::Serve(a) => a.clone(),
        _ => ServeArgs::default(),
    };
    let cfg = match Config::load(&cli.global, &serve_args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("portico: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    init_logging(&cfg);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("portico: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let json = cli.global.json;
    let result = rt.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(&cfg, &args, started).await,
            Command::Migrate => {
                if cfg.is_sqlite() {
                    std::fs::create_dir_all(&cfg.data_dir)
                        .with_context(|| format!("creating {}", cfg.data_dir.display()))?;
                }
                let store = Store::connect(&cfg.database_url)
                    .await
                    .with_context(|| format!("connecting to {}", cfg.redacted_database_url()))?;
                let n = store.migrate().await?;
                admin::print(
                    json,
                    serde_json::json!({"migrated": n, "version": store.known_version()}),
                    &format!(
                        "Applied {n} migration(s) to {}; the schema is at version {}.",
                        cfg.redacted_database_url(),
                        store.known_version()
                    ),
                )
            }
            Command::Tenant(c) => admin::tenant(&open(&cfg, true).await?, c, json).await,
            Command::User(c) => admin::user(&open(&cfg, true).await?, c, json).await,
            Command::App(c) => admin::app(&open(&cfg, true).await?, c, json).await,
            Command::Keys(c) => admin::keys(&open(&cfg, true).await?, c, json).await,
            Command::Seed(c) => seed::run(&open(&cfg, true).await?, c, json).await,
            Command::Mail(c) => admin::mail(&open(&cfg, true).await?, c, json).await,
            Command::Invite(c) => invite::run(open(&cfg, true).await?, c, json).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("portico: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
