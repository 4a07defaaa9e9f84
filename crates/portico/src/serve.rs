//! `portico serve`: checks transport rules and the mail settings, opens and migrates the store,
//! bootstraps a first tenant on an empty store, optionally seeds the demo, starts the upkeep
//! task and the job worker (mail delivery, invitation batches), and serves until SIGINT/SIGTERM.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use portico_http::AppState;

use crate::cli::ServeArgs;
use crate::config::Config;
use crate::demo;

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

/// How long finished jobs stay in the queue for inspection.
const FINISHED_JOB_RETENTION_DAYS: i64 = 7;

/// Hourly upkeep every server may run (each step is idempotent): purge objects deleted more than
/// 30 days ago, keys whose publication ended, expired sign-in state (flows, sessions, grants
/// with their codes and refresh tokens, one-time codes, old throttle windows, requests out to
/// identity providers, SAML assertion ids past their expiry), and jobs that
/// finished more than a week ago.
fn spawn_upkeep(state: AppState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        for hour in 0u64.. {
            tick.tick().await;
            // Daily, beside the purges: SAML partners' signing certificates from their metadata.
            if hour % 24 == 0 {
                let state = state.clone();
                tokio::spawn(async move {
                    match portico_http::graph::federation_configurations::refresh_saml_metadata(&state).await {
                        Ok(r) if r.checked > 0 => tracing::info!(
                            checked = r.checked,
                            updated = r.updated,
                            failed = r.failed,
                            "upkeep: SAML metadata of {} federation(s) read, {} updated, {} failed",
                            r.checked,
                            r.updated,
                            r.failed
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::warn!(error = %e, "SAML metadata refresh failed: {e}"),
                    }
                });
            }
            let now = state.now_ms();
            let cutoff = now - portico_http::graph::deleted_items::RETENTION_DAYS * 24 * 3600 * 1000;
            let result = async {
                let mut tx = state.dir.store.begin().await?;
                let purged = portico_store::maintenance::purge_deleted_before(&mut tx, cutoff).await?;
                let keys = portico_store::keys::prune(&mut tx, now).await?;
                let expired = portico_store::signin::purge_expired(&mut tx, now).await?
                    + portico_store::b2b::purge_expired(&mut tx, now).await?
                    + portico_store::federation::purge_seen_assertions(&mut tx, now).await?;
                let jobs =
                    portico_store::jobs::purge_finished(&mut tx, now - FINISHED_JOB_RETENTION_DAYS * 24 * 3600 * 1000)
                        .await?;
                tx.commit().await.map_err(portico_store::StoreError::from)?;
                Ok::<_, portico_store::StoreError>((purged, keys, expired + jobs))
            }
            .await;
            match result {
                Ok((p, k, e)) if p + k + e > 0 => tracing::info!(
                    purged = p,
                    keys = k,
                    sign_in_state = e,
                    "upkeep: purged {p} deleted object(s), {k} expired key(s) and {e} expired sign-in record(s) or finished job(s)"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "upkeep failed: {e}"),
            }
        }
    });
}

/// The configuration with the mail flags of `serve` applied (flags and `PORTICO_SMTP_URL` and
/// friends win over the defaults).
fn with_mail_flags(cfg: &Config, args: &ServeArgs) -> Config {
    let mut cfg = cfg.clone();
    let mail = &mut cfg.settings.mail;
    if let Some(u) = args.smtp_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        mail.smtp_url = Some(u.to_string());
    }
    if let Some(a) = &args.mail_from {
        mail.from_address = a.trim().to_string();
    }
    if let Some(n) = &args.mail_from_name {
        mail.from_name = n.trim().to_string();
    }
    if let Some(d) = &args.mail_template_dir {
        mail.template_dir = Some(d.clone());
    }
    cfg
}

/// Runs the server.
pub async fn run(cfg: &Config, args: &ServeArgs, started: Instant) -> anyhow::Result<()> {
    cfg.check_transport()?;
    let cfg = &with_mail_flags(cfg, args);
    portico_http::mail::smtp::check(&cfg.settings.mail).map_err(|e| anyhow::anyhow!("{e}"))?;
    let dir = crate::open(cfg, !args.no_migrate).await?;
    let first = demo::bootstrap_if_empty(&dir).await?;
    if args.demo {
        demo::seed_demo(&dir).await?;
    }
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .map(Arc::new)
        .map_err(|e| tracing::warn!("metrics disabled: {e}"))
        .ok();
    let state = AppState { dir, metrics };
    spawn_upkeep(state.clone());
    portico_http::jobs::spawn_worker(state.clone());
    match &state.dir.settings.mail.smtp_url {
        Some(_) => tracing::info!("mail is sent through the configured SMTP server"),
        None => tracing::info!(
            "no SMTP server configured (--smtp-url): mail is kept in the outbox; read it with `portico mail outbox`"
        ),
    }
    let app = portico_http::router(state.clone());
    let public = state.dir.settings.public_url.clone();
    let elapsed = started.elapsed().as_millis();
    match &cfg.tls {
        Some((cert, key)) => {
            let tls = axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .with_context(|| format!("loading TLS certificate {} and key {}", cert.display(), key.display()))?;
            let handle = axum_server::Handle::new();
            let h2 = handle.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                h2.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            announce(&public, cfg, elapsed, first.as_ref());
            axum_server::bind_rustls(cfg.listen, tls)
                .handle(handle)
                .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .await
                .context("serving HTTPS")?;
        }
        None => {
            let listener =
                tokio::net::TcpListener::bind(cfg.listen).await.with_context(|| format!("binding {}", cfg.listen))?;
            announce(&public, cfg, elapsed, first.as_ref());
            axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .with_graceful_shutdown(shutdown_signal())
                .await
                .context("serving HTTP")?;
        }
    }
    Ok(())
}

fn announce(public: &str, cfg: &Config, elapsed: u128, first: Option<&demo::Bootstrap>) {
    if let Some(b) = first {
        println!("{}", b.describe(public));
    }
    tracing::info!(listen = %cfg.listen, public_url = %public, store = %cfg.redacted_database_url(), startup_ms = elapsed as u64, "Portico is ready on {public} (store: {}, started in {elapsed} ms)", cfg.redacted_database_url());
    println!(
        "Portico is ready on {public}  (Graph-shaped API: {public}/v1.0, OpenAPI: {public}/openapi.json). Press Ctrl-C to stop."
    );
}
