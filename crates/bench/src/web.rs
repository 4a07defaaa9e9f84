//! What the sign-in benchmarks share: an in-process server, the pages as a browser sees them,
//! Graph calls, and percentiles.

use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use portico_core::clock::SystemClock;
use portico_core::sealed::MasterKey;
use portico_core::secret::PasswordCost;
use portico_http::directory::Directory;
use portico_http::keyring::KeyRing;
use portico_http::{AppState, Settings};
use portico_store::Store;
use reqwest::StatusCode;
use serde_json::Value;

use crate::percentile;

/// One answer as the browser saw it.
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub text: String,
}

pub fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Page {
    pub fn input(&self, name: &str) -> Option<String> {
        let needle = format!("name=\"{name}\" value=\"");
        let start = self.text.find(&needle)? + needle.len();
        let end = self.text[start..].find('"')?;
        Some(unescape(&self.text[start..start + end]))
    }
    pub fn step(&self) -> Option<String> {
        self.input("step")
    }
    /// The action of the page's first post form.
    pub fn action(&self) -> Option<String> {
        let needle = "<form method=\"post\" action=\"";
        let start = self.text.find(needle)? + needle.len();
        let end = self.text[start..].find('"')?;
        Some(unescape(&self.text[start..start + end]))
    }
    /// The target of a `<meta http-equiv="refresh" content="0;url=…">` page (the callback leaves
    /// a form-post redirect chain for another site this way; a browser follows it at once).
    pub fn meta_refresh(&self) -> Option<String> {
        let needle = "<meta http-equiv=\"refresh\" content=\"0;url=";
        let start = self.text.find(needle)? + needle.len();
        let end = self.text[start..].find('"')?;
        Some(unescape(&self.text[start..start + end]))
    }
    pub fn is_redirect(&self) -> bool {
        matches!(self.status, StatusCode::FOUND | StatusCode::SEE_OTHER) && self.location.is_some()
    }
    pub fn describe(&self) -> String {
        let text: String = self.text.chars().take(600).collect();
        format!("{} {} {text}", self.status, self.location.as_deref().unwrap_or(""))
    }
}

/// POSTs a Graph request with a bearer token; the JSON answer.
pub async fn graph(http: &reqwest::Client, base: &str, token: &str, path: &str, body: Value) -> anyhow::Result<Value> {
    let r = http.post(format!("{base}{path}")).bearer_auth(token).json(&body).send().await?;
    let status = r.status();
    let text = r.text().await?;
    if !status.is_success() {
        bail!("POST {path} answered {status}: {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// p50, p99 and mean of `v` (sorted in place).
pub fn stats(v: &mut [f64]) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
    (percentile(v, 50.0), percentile(v, 99.0), mean)
}

/// Starts Portico in-process on a loopback port over the store at `url` (migrated), with the
/// test password cost (passwords are checked in setups and baselines only) and `tweak` applied
/// to the settings. Returns the base URL, the directory and a browser-like HTTP client (no
/// automatic redirects).
pub async fn serve_in_process(
    url: &str,
    tweak: impl FnOnce(&mut Settings),
) -> anyhow::Result<(String, Directory, reqwest::Client)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let store = Store::connect(url).await?;
    store.migrate().await?;
    let mut settings = crate::bench_settings(&base);
    tweak(&mut settings);
    let dir = Directory {
        store,
        settings: Arc::new(settings),
        keys: Arc::new(KeyRing::new(MasterKey::generate(), Duration::from_secs(30))),
        clock: Arc::new(SystemClock),
        password_cost: PasswordCost::TEST,
    };
    let router = portico_http::router(AppState { dir: dir.clone(), metrics: None });
    tokio::spawn(async move {
        let _ = axum::serve(listener, router.into_make_service_with_connect_info::<std::net::SocketAddr>()).await;
    });
    let http =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).pool_max_idle_per_host(8).build()?;
    Ok((base, dir, http))
}
