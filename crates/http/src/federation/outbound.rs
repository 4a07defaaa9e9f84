//! Outbound HTTP towards identity providers (discovery documents, JWKS, token endpoints), with the
//! server-side request forgery rules applied in one place:
//!
//! - only `http` and `https` URLs;
//! - a resolver that drops private, loopback, link-local, unique-local, unspecified, multicast,
//!   broadcast, documentation and CGNAT addresses (and IPv4-mapped forms of those) unless the
//!   provider is configured with `allow_private`. The check is on the addresses actually handed
//!   to the connector, so a DNS answer that changes between two lookups (rebinding) is covered;
//! - IP-literal URLs are checked before sending (reqwest does not call the resolver for them);
//! - no redirects at all: identity provider endpoints do not redirect, and following one would
//!   let a provider point us at an internal address. A 3xx answer is an error naming `Location`;
//! - bodies are read chunk by chunk under a byte cap; a total timeout and a connect timeout;
//! - no proxy from the environment.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{AUTHORIZATION, LOCATION};
use reqwest::{Client, Response, Url};
use serde_json::Value;

/// How an outbound call may behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutboundPolicy {
    /// Allow private, loopback and other non-public addresses (for a provider on the local network).
    pub allow_private: bool,
    /// Total time for one call, body included. The connect phase gets at most 5 s of it.
    pub timeout: Duration,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self { allow_private: false, timeout: Duration::from_secs(10) }
    }
}

impl OutboundPolicy {
    /// The default policy with `allow_private` set as given.
    pub fn new(allow_private: bool) -> Self {
        Self { allow_private, ..Self::default() }
    }
}

/// Why an outbound call failed.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    /// The call took longer than the policy allows.
    #[error("{url}: the identity provider did not answer in time")]
    Timeout {
        /// The URL called (without query).
        url: String,
    },
    /// The host resolves only to addresses the policy forbids.
    #[error("{host}: address refused ({why})")]
    Refused {
        /// The host name or literal.
        host: String,
        /// The kind of address, e.g. `loopback`.
        why: String,
    },
    /// The provider answered with a redirect; redirects are never followed.
    #[error("{from}: redirect to {to} refused")]
    Redirect {
        /// The URL called.
        from: String,
        /// The `Location` it named.
        to: String,
    },
    /// The provider answered with an unexpected status.
    #[error("{url}: HTTP {status}: {body_excerpt}")]
    Status {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body, for the log.
        body_excerpt: String,
    },
    /// The body is larger than allowed.
    #[error("{url}: response too large")]
    TooLarge {
        /// The URL called.
        url: String,
    },
    /// The body could not be read or parsed.
    #[error("{url}: bad response: {why}")]
    Body {
        /// The URL called.
        url: String,
        /// What was wrong.
        why: String,
    },
    /// The connection failed.
    #[error("{url}: identity provider unreachable: {why}")]
    Connect {
        /// The URL called.
        url: String,
        /// The underlying error.
        why: String,
    },
    /// The URL is not an absolute http(s) URL.
    #[error("{url}: not an http(s) URL")]
    BadUrl {
        /// The URL given.
        url: String,
    },
}

impl FetchError {
    /// A stable snake_case reason for logs, metrics and error pages.
    pub fn reason(&self) -> &'static str {
        match self {
            FetchError::Timeout { .. } => "provider_timeout",
            FetchError::Refused { .. } => "address_refused",
            FetchError::Redirect { .. } => "redirect_refused",
            FetchError::Status { .. } => "provider_status",
            FetchError::TooLarge { .. } => "response_too_large",
            FetchError::Body { .. } => "bad_response",
            FetchError::Connect { .. } => "provider_unreachable",
            FetchError::BadUrl { .. } => "bad_url",
        }
    }
}

/// Why an IPv4 address is not public, if it is not.
fn v4_forbidden(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_broadcast() => "broadcast",
        (0, _, _) => "unspecified",
        (127, _, _) => "loopback",
        (10, _, _) | (192, 168, _) => "private",
        (172, 16..=31, _) => "private",
        (169, 254, _) => "link-local",
        (100, 64..=127, _) => "cgnat",
        (192, 0, 0) => "ietf-protocol",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation",
        (198, 18..=19, _) => "benchmarking",
        (224..=239, _, _) => "multicast",
        (240..=255, _, _) => "reserved",
        _ => return None,
    })
}

/// Why an IPv6 address is not public, if it is not.
fn v6_forbidden(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_forbidden(v4).map(|_| "ipv4-mapped");
    }
    let s = ip.segments();
    Some(match s {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        // IPv4-compatible (deprecated) and NAT64 well-known prefix carrying a forbidden IPv4.
        [0, 0, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => {
            let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
            return v4_forbidden(v4).map(|_| "ipv4-embedded");
        }
        [x, ..] if x & 0xffc0 == 0xfe80 => "link-local",
        [x, ..] if x & 0xffc0 == 0xfec0 => "site-local",
        [x, ..] if x & 0xfe00 == 0xfc00 => "unique-local",
        [x, ..] if x & 0xff00 == 0xff00 => "multicast",
        [0x2001, 0x0db8, ..] => "documentation",
        [0x3fff, y, ..] if y < 0x1000 => "documentation",
        _ => return None,
    })
}

/// Why `ip` may not be connected to without `allow_private`, or `None` when it is public.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_forbidden(v4),
        IpAddr::V6(v6) => v6_forbidden(v6),
    }
}

/// The error a resolver answer carries when every address was forbidden.
#[derive(Debug)]
struct RefusedByPolicy {
    host: String,
    why: &'static str,
}

impl std::fmt::Display for RefusedByPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: address refused ({})", self.host, self.why)
    }
}

impl std::error::Error for RefusedByPolicy {}

/// Resolves with tokio and drops forbidden addresses.
struct PolicyResolver {
    allow_private: bool,
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut why = "no address";
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match forbidden_reason(a.ip()) {
                    Some(w) if !allow_private => {
                        why = w;
                        false
                    }
                    _ => true,
                })
                .collect();
            if kept.is_empty() {
                return Err(Box::new(RefusedByPolicy { host, why }) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(kept.into_iter()) as Addrs)
        })
    }
}

fn user_agent() -> String {
    format!("Portico/{}", env!("CARGO_PKG_VERSION"))
}

fn build_client(policy: &OutboundPolicy) -> Client {
    Client::builder()
        .dns_resolver(PolicyResolver { allow_private: policy.allow_private })
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(policy.timeout)
        .connect_timeout(policy.timeout.min(Duration::from_secs(5)))
        .user_agent(user_agent())
        .build()
        .expect("the outbound HTTP client configuration is valid")
}

/// The shared client for `policy`. Clients are cached per (allow_private, timeout), so this is
/// cheap to call and connections are pooled.
pub fn client(policy: &OutboundPolicy) -> Client {
    static CLIENTS: OnceLock<Mutex<HashMap<(bool, Duration), Client>>> = OnceLock::new();
    let mut map = CLIENTS.get_or_init(Default::default).lock().unwrap_or_else(|p| p.into_inner());
    map.entry((policy.allow_private, policy.timeout)).or_insert_with(|| build_client(policy)).clone()
}

/// `url` without query, fragment or credentials, for errors and logs.
fn display_url(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string()
}

/// Parses and checks a URL: http(s), a host, and an allowed address when it is an IP literal.
fn check_url(policy: &OutboundPolicy, raw: &str) -> Result<Url, FetchError> {
    let bad = || FetchError::BadUrl { url: raw.chars().take(200).collect() };
    let url = Url::parse(raw).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad());
    }
    let ip = match url.host().ok_or_else(bad)? {
        url::Host::Domain(_) => None,
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
    };
    if let Some(ip) = ip
        && !policy.allow_private
        && let Some(why) = forbidden_reason(ip)
    {
        return Err(FetchError::Refused { host: ip.to_string(), why: why.into() });
    }
    Ok(url)
}

/// All messages of an error's source chain.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let msg = s.to_string();
        if !out.contains(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        cur = s.source();
    }
    out
}

fn map_send_error(url: &str, e: reqwest::Error) -> FetchError {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(s) = cur {
        if let Some(r) = s.downcast_ref::<RefusedByPolicy>() {
            return FetchError::Refused { host: r.host.clone(), why: r.why.into() };
        }
        cur = s.source();
    }
    if e.is_timeout() {
        return FetchError::Timeout { url: url.into() };
    }
    FetchError::Connect { url: url.into(), why: chain(&e) }
}

/// Reads the body under the byte cap.
async fn read_capped(url: &str, mut resp: Response, max_bytes: usize) -> Result<Vec<u8>, FetchError> {
    if resp.content_length().is_some_and(|n| n > max_bytes as u64) {
        return Err(FetchError::TooLarge { url: url.into() });
    }
    let mut body = Vec::with_capacity(resp.content_length().map_or(8 * 1024, |n| n as usize).min(max_bytes));
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max_bytes {
                    return Err(FetchError::TooLarge { url: url.into() });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => return Err(FetchError::Timeout { url: url.into() }),
            Err(e) => return Err(FetchError::Body { url: url.into(), why: chain(&e) }),
        }
    }
}

fn excerpt(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(200)]).chars().filter(|c| !c.is_control()).collect()
}

/// Sends `req`, refuses redirects, and reads the body. Returns the status and the body.
async fn send(
    url: &Url,
    req: reqwest::RequestBuilder,
    max_bytes: usize,
) -> Result<(reqwest::StatusCode, Vec<u8>), FetchError> {
    let shown = display_url(url);
    let resp = req.send().await.map_err(|e| map_send_error(&shown, e))?;
    let status = resp.status();
    if status.is_redirection() {
        let to = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("").chars().take(200).collect();
        return Err(FetchError::Redirect { from: shown, to });
    }
    let body = read_capped(&shown, resp, max_bytes).await?;
    Ok((status, body))
}

fn parse_json(url: &Url, body: &[u8]) -> Result<Value, FetchError> {
    serde_json::from_slice(body).map_err(|e| FetchError::Body { url: display_url(url), why: format!("not JSON: {e}") })
}

async fn get_bytes(
    policy: &OutboundPolicy,
    raw: &str,
    accept: &str,
    max_bytes: usize,
) -> Result<(Url, Vec<u8>), FetchError> {
    let url = check_url(policy, raw)?;
    let req = client(policy).get(url.clone()).header(reqwest::header::ACCEPT, accept);
    let (status, body) = send(&url, req, max_bytes).await?;
    if !status.is_success() {
        return Err(FetchError::Status {
            url: display_url(&url),
            status: status.as_u16(),
            body_excerpt: excerpt(&body),
        });
    }
    Ok((url, body))
}

/// GETs a JSON document (discovery, JWKS). Any status other than 2xx is an error.
pub async fn get_json(policy: &OutboundPolicy, url: &str, max_bytes: usize) -> Result<Value, FetchError> {
    let (url, body) = get_bytes(policy, url, "application/json", max_bytes).await?;
    parse_json(&url, &body)
}

/// GETs a JSON document with a bearer token (the OpenID Connect userinfo endpoint). Any status
/// other than 2xx is an error.
pub async fn get_json_bearer(
    policy: &OutboundPolicy,
    raw: &str,
    token: &str,
    max_bytes: usize,
) -> Result<Value, FetchError> {
    let url = check_url(policy, raw)?;
    let req = client(policy)
        .get(url.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .header(AUTHORIZATION, format!("Bearer {token}"));
    let (status, body) = send(&url, req, max_bytes).await?;
    if !status.is_success() {
        return Err(FetchError::Status {
            url: display_url(&url),
            status: status.as_u16(),
            body_excerpt: excerpt(&body),
        });
    }
    parse_json(&url, &body)
}

/// GETs a text document (e.g. SAML metadata). Any status other than 2xx is an error.
pub async fn get_text(policy: &OutboundPolicy, url: &str, max_bytes: usize) -> Result<String, FetchError> {
    let (url, body) = get_bytes(policy, url, "*/*", max_bytes).await?;
    String::from_utf8(body).map_err(|_| FetchError::Body { url: display_url(&url), why: "not UTF-8".into() })
}

/// POSTs an `application/x-www-form-urlencoded` body, optionally with HTTP Basic authentication
/// (the caller encodes the credentials as its protocol requires). Returns the status and the JSON
/// body for 2xx and 4xx answers (token endpoint errors are JSON); other statuses, and 4xx answers
/// that are not JSON, are [`FetchError::Status`].
pub async fn post_form(
    policy: &OutboundPolicy,
    url: &str,
    form: &[(&str, &str)],
    basic_auth: Option<(&str, &str)>,
    max_bytes: usize,
) -> Result<(u16, Value), FetchError> {
    let url = check_url(policy, url)?;
    let mut req = client(policy).post(url.clone()).header(reqwest::header::ACCEPT, "application/json").form(form);
    if let Some((user, pass)) = basic_auth {
        req = req.header(AUTHORIZATION, format!("Basic {}", B64.encode(format!("{user}:{pass}"))));
    }
    let (status, body) = send(&url, req, max_bytes).await?;
    let status_err = |body: &[u8]| FetchError::Status {
        url: display_url(&url),
        status: status.as_u16(),
        body_excerpt: excerpt(body),
    };
    if status.is_success() {
        return Ok((status.as_u16(), parse_json(&url, &body)?));
    }
    if status.is_client_error() {
        return match serde_json::from_slice::<Value>(&body) {
            Ok(v) if v.is_object() => Ok((status.as_u16(), v)),
            _ => Err(status_err(&body)),
        };
    }
    Err(status_err(&body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    use axum::routing::{get, post};
    use tokio::io::AsyncWriteExt;

    /// A test server on 127.0.0.1 that stops when dropped.
    struct Server {
        port: u16,
        task: tokio::task::JoinHandle<()>,
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.task.abort();
        }
    }

    async fn serve(router: Router) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Server { port, task }
    }

    fn test_router() -> Router {
        Router::new()
            .route("/json", get(|| async { axum::Json(serde_json::json!({"ok": true})) }))
            .route("/text", get(|| async { "hello" }))
            .route("/big", get(|| async { "x".repeat(10_000) }))
            .route("/redirect-away", get(|| async { (StatusCode::FOUND, [(header::LOCATION, "http://10.0.0.1/x")]) }))
            .route("/redirect-here", get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/json")]) }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    "late"
                }),
            )
            .route("/html", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "<h1>oops</h1>") }))
            .route(
                "/token",
                post(|body: String| async move {
                    if body.contains("code=good") {
                        axum::Json(serde_json::json!({"access_token": "a"})).into_response()
                    } else {
                        (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({"error": "invalid_grant"})))
                            .into_response()
                    }
                }),
            )
    }

    const OPEN: OutboundPolicy = OutboundPolicy { allow_private: true, timeout: Duration::from_secs(10) };
    const CLOSED: OutboundPolicy = OutboundPolicy { allow_private: false, timeout: Duration::from_secs(10) };

    #[test]
    fn classifies_addresses() {
        for (ip, why) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.20.0.1", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local"),
            ("100.100.1.1", "cgnat"),
            ("0.0.0.0", "unspecified"),
            ("255.255.255.255", "broadcast"),
            ("224.0.0.1", "multicast"),
            ("192.0.2.10", "documentation"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fe80::1", "link-local"),
            ("fd00::1", "unique-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
            ("::ffff:127.0.0.1", "ipv4-mapped"),
            ("::ffff:169.254.169.254", "ipv4-mapped"),
            ("64:ff9b::a00:1", "ipv4-embedded"),
        ] {
            assert_eq!(forbidden_reason(ip.parse().unwrap()), Some(why), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8"] {
            assert_eq!(forbidden_reason(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_private_allowed() {
        let srv = serve(test_router()).await;
        let by_name = format!("http://localhost:{}/json", srv.port);
        let by_ip = format!("http://127.0.0.1:{}/json", srv.port);

        // Through the resolver (a name) and as a literal.
        let err = get_json(&CLOSED, &by_name, 1024).await.unwrap_err();
        assert!(matches!(&err, FetchError::Refused { host, .. } if host == "localhost"), "{err:?}");
        assert_eq!(err.reason(), "address_refused");
        let err = get_json(&CLOSED, &by_ip, 1024).await.unwrap_err();
        assert_eq!(err, FetchError::Refused { host: "127.0.0.1".into(), why: "loopback".into() });

        assert_eq!(get_json(&OPEN, &by_name, 1024).await.unwrap(), serde_json::json!({"ok": true}));
        assert_eq!(get_json(&OPEN, &by_ip, 1024).await.unwrap(), serde_json::json!({"ok": true}));
        assert_eq!(get_text(&OPEN, &format!("http://127.0.0.1:{}/text", srv.port), 1024).await.unwrap(), "hello");
    }

    #[tokio::test]
    async fn forbidden_literals_are_refused_before_sending() {
        for url in [
            "http://10.1.2.3/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:8080/",
            "http://[::ffff:127.0.0.1]/",
            "https://0.0.0.0/",
            "http://100.64.0.1/",
        ] {
            let err = get_json(&CLOSED, url, 1024).await.unwrap_err();
            assert!(matches!(err, FetchError::Refused { .. }), "{url}: {err:?}");
        }
    }

    #[tokio::test]
    async fn only_http_and_https() {
        for url in ["ftp://example.com/x", "file:///etc/passwd", "gopher://x/", "not a url", "http://"] {
            let err = get_json(&OPEN, url, 1024).await.unwrap_err();
            assert_eq!(err.reason(), "bad_url", "{url}: {err:?}");
        }
    }

    #[tokio::test]
    async fn all_redirects_are_refused() {
        let srv = serve(test_router()).await;
        // To another host...
        let err = get_json(&OPEN, &format!("http://127.0.0.1:{}/redirect-away", srv.port), 1024).await.unwrap_err();
        assert!(matches!(&err, FetchError::Redirect { to, .. } if to == "http://10.0.0.1/x"), "{err:?}");
        assert_eq!(err.reason(), "redirect_refused");
        // ...and to the same host: identity provider endpoints do not redirect, so none is followed.
        let err = get_json(&OPEN, &format!("http://127.0.0.1:{}/redirect-here", srv.port), 1024).await.unwrap_err();
        assert!(matches!(&err, FetchError::Redirect { to, .. } if to == "/json"), "{err:?}");
    }

    #[tokio::test]
    async fn slow_server_times_out() {
        let srv = serve(test_router()).await;
        let policy = OutboundPolicy { allow_private: true, timeout: Duration::from_millis(300) };
        let started = std::time::Instant::now();
        let err = get_json(&policy, &format!("http://127.0.0.1:{}/slow", srv.port), 1024).await.unwrap_err();
        assert!(matches!(err, FetchError::Timeout { .. }), "{err:?}");
        assert_eq!(err.reason(), "provider_timeout");
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn oversized_bodies_are_refused() {
        let srv = serve(test_router()).await;
        // Announced by Content-Length.
        let err = get_text(&OPEN, &format!("http://127.0.0.1:{}/big", srv.port), 1000).await.unwrap_err();
        assert!(matches!(err, FetchError::TooLarge { .. }), "{err:?}");
        assert_eq!(err.reason(), "response_too_large");

        // Chunked, without Content-Length: the cap applies while reading.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let raw = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = tokio::io::AsyncReadExt::read(&mut sock, &mut buf).await;
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
                .await;
            let chunk = format!("{:x}\r\n{}\r\n", 512, "y".repeat(512));
            for _ in 0..8 {
                if sock.write_all(chunk.as_bytes()).await.is_err() {
                    return;
                }
            }
            let _ = sock.write_all(b"0\r\n\r\n").await;
        });
        let err = get_text(&OPEN, &format!("http://127.0.0.1:{port}/"), 1000).await.unwrap_err();
        assert!(matches!(err, FetchError::TooLarge { .. }), "{err:?}");
        raw.abort();
    }

    #[tokio::test]
    async fn statuses_and_form_posts() {
        let srv = serve(test_router()).await;
        let base = format!("http://127.0.0.1:{}", srv.port);
        let err = get_json(&OPEN, &format!("{base}/html"), 1024).await.unwrap_err();
        assert!(
            matches!(&err, FetchError::Status { status: 500, body_excerpt, .. } if body_excerpt == "<h1>oops</h1>")
        );
        let err = get_json(&OPEN, &format!("{base}/text"), 1024).await.unwrap_err();
        assert_eq!(err.reason(), "bad_response");

        let (status, body) = post_form(&OPEN, &format!("{base}/token"), &[("code", "good")], None, 1024).await.unwrap();
        assert_eq!((status, body["access_token"].as_str()), (200, Some("a")));
        let (status, body) =
            post_form(&OPEN, &format!("{base}/token"), &[("code", "bad")], Some(("id", "secret")), 1024).await.unwrap();
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")));
    }

    #[tokio::test]
    async fn closed_port_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = get_json(&OPEN, &format!("http://127.0.0.1:{port}/x?secret=1"), 1024).await.unwrap_err();
        assert!(matches!(&err, FetchError::Connect { url, .. } if !url.contains("secret")), "{err:?}");
        assert_eq!(err.reason(), "provider_unreachable");
    }
}
