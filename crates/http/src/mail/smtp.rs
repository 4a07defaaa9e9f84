//! SMTP delivery with lettre: the `smtp_url` forms, the transport (pooled, rustls with the
//! webpki roots), and the MIME message built from an outbox row.
//!
//! `smtp_url` forms, each with optional `user:password@` (percent-encoded):
//! - `smtp://host[:port]` (port 25): plain to a loopback host; to any other host STARTTLS is
//!   used when the server offers it (opportunistic, which a man in the middle can strip).
//! - `smtp+starttls://host[:port]` (port 587): STARTTLS required, certificate checked.
//! - `smtps://host[:port]` (port 465): TLS from the first byte, certificate checked.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use portico_store::outbox::OutboxMail;

use crate::settings::MailSettings;

/// How long one SMTP command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// How messages leave: kept in the outbox, or sent to an SMTP server.
#[derive(Clone)]
pub enum Mailer {
    /// No SMTP server configured: messages are kept in the outbox (the embedded default).
    Keep,
    /// An SMTP server.
    Smtp(SmtpMailer),
    /// `smtp_url` cannot be used; every delivery fails (and retries) with this reason.
    Misconfigured(String),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Keep => f.write_str("Mailer::Keep"),
            Mailer::Smtp(s) => write!(f, "Mailer::Smtp({})", s.endpoint),
            Mailer::Misconfigured(why) => write!(f, "Mailer::Misconfigured({why})"),
        }
    }
}

impl Mailer {
    /// The mailer the settings describe (build it once, inside the Tokio runtime: the SMTP
    /// transport keeps a pool of connections).
    pub fn from_settings(settings: &MailSettings) -> Self {
        match settings.smtp_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            None => Mailer::Keep,
            Some(url) => match SmtpMailer::new(url, settings) {
                Ok(m) => Mailer::Smtp(m),
                Err(why) => Mailer::Misconfigured(why),
            },
        }
    }
}

/// Checks `smtp_url` and the From address (for start-up, so a typo stops the server instead of
/// failing every mail later). Connects nowhere.
pub fn check(settings: &MailSettings) -> Result<(), String> {
    match settings.smtp_url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
        None => Ok(()),
        Some(url) => prepare(url, settings).map(|_| ()),
    }
}

/// Why a message was not sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// Retrying will not help (the server refused with 5xx, or the message is malformed).
    pub permanent: bool,
    /// What happened (no credentials in it).
    pub message: String,
}

impl SendError {
    fn permanent(message: impl Into<String>) -> Self {
        Self { permanent: true, message: message.into() }
    }
}

/// A configured SMTP server and the From address.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// `host:port (mode)`, for logs; never the credentials.
    endpoint: String,
    from_address: lettre::Address,
    from_name: String,
}

/// A parsed `smtp_url`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// How TLS is used.
    pub mode: TlsMode,
    /// `user`, `password`.
    pub credentials: Option<(String, String)>,
}

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// No TLS (loopback `smtp://`).
    Plain,
    /// STARTTLS when offered (`smtp://` to another host).
    Opportunistic,
    /// STARTTLS or fail (`smtp+starttls://`).
    StartTls,
    /// TLS from the start (`smtps://`).
    Tls,
}

/// Parses an `smtp_url` (see the module documentation).
pub fn parse_url(url: &str) -> Result<SmtpUrl, String> {
    let bad =
        |why: &str| format!("the SMTP URL is not usable: {why} (use smtp://, smtp+starttls:// or smtps://HOST:PORT)");
    let u = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    let host = u.host_str().filter(|h| !h.is_empty()).ok_or_else(|| bad("no host"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let loopback =
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    let (mode, default_port) = match u.scheme() {
        "smtp" if loopback => (TlsMode::Plain, 25),
        "smtp" => (TlsMode::Opportunistic, 25),
        "smtp+starttls" => (TlsMode::StartTls, 587),
        "smtps" => (TlsMode::Tls, 465),
        other => return Err(bad(&format!("unknown scheme '{other}'"))),
    };
    if u.path() != "" && u.path() != "/" || u.query().is_some() {
        return Err(bad("a path or query is not allowed"));
    }
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let credentials = match (u.username(), u.password()) {
        ("", None) => None,
        (user, pass) => Some((decode(user), decode(pass.unwrap_or_default()))),
    };
    Ok(SmtpUrl { host, port: u.port().unwrap_or(default_port), mode, credentials })
}

/// The transport builder, its description for logs, and the From address.
fn prepare(url: &str, settings: &MailSettings) -> Result<(AsyncSmtpTransportBuilder, String, lettre::Address), String> {
    let p = parse_url(url)?;
    let from_address: lettre::Address = settings
        .from_address
        .trim()
        .parse()
        .map_err(|e| format!("the mail From address '{}' is not valid: {e}", settings.from_address))?;
    let tls_params =
        || TlsParameters::new(p.host.clone()).map_err(|e| format!("TLS for the SMTP server {}: {e}", p.host));
    let tls = match p.mode {
        TlsMode::Plain => Tls::None,
        TlsMode::Opportunistic => Tls::Opportunistic(tls_params()?),
        TlsMode::StartTls => Tls::Required(tls_params()?),
        TlsMode::Tls => Tls::Wrapper(tls_params()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(p.host.clone())
        .port(p.port)
        .tls(tls)
        .timeout(Some(COMMAND_TIMEOUT));
    if let Some((user, pass)) = &p.credentials {
        builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
    }
    Ok((builder, format!("{}:{} ({:?})", p.host, p.port, p.mode), from_address))
}

impl SmtpMailer {
    /// Builds the transport; needs a Tokio runtime (the connection pool runs a task).
    fn new(url: &str, settings: &MailSettings) -> Result<Self, String> {
        let (builder, endpoint, from_address) = prepare(url, settings)?;
        Ok(SmtpMailer {
            transport: builder.build(),
            endpoint,
            from_address,
            from_name: settings.from_name.trim().to_string(),
        })
    }

    /// The From mailbox: the deployment's name, or "<sender> via <name>" for mail sent on behalf
    /// of an organisation or person.
    fn from(&self, sender_name: Option<&str>) -> Mailbox {
        let name = match sender_name.map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) if self.from_name.is_empty() => s.to_string(),
            Some(s) => format!("{s} via {}", self.from_name),
            None => self.from_name.clone(),
        };
        let name: String = name.chars().filter(|c| !c.is_control()).take(200).collect();
        Mailbox::new((!name.is_empty()).then_some(name), self.from_address.clone())
    }

    /// The MIME message of an outbox row: text, or text and HTML as alternatives.
    pub fn message(&self, m: &OutboxMail) -> Result<lettre::Message, SendError> {
        let mailbox = |what: &str, s: &str| {
            s.trim()
                .parse::<Mailbox>()
                .map_err(|e| SendError::permanent(format!("the {what} address '{s}' is not valid: {e}")))
        };
        let mut b = lettre::Message::builder()
            .from(self.from(m.sender_name.as_deref()))
            .to(mailbox("To", &m.recipient)?)
            .subject(m.subject.clone())
            .message_id(Some(format!("<{}@{}>", m.id, self.from_address.domain())));
        if let Some(cc) = &m.cc {
            b = b.cc(mailbox("Cc", cc)?);
        }
        if let Some(r) = &m.reply_to {
            b = b.reply_to(mailbox("Reply-To", r)?);
        }
        let built = match &m.body_html {
            Some(html) => b.multipart(MultiPart::alternative_plain_html(m.body_text.clone(), html.clone())),
            None => b.singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(m.body_text.clone())),
        };
        built.map_err(|e| SendError::permanent(format!("the message cannot be built: {e}")))
    }

    /// Sends an outbox row.
    pub async fn send(&self, m: &OutboxMail) -> Result<(), SendError> {
        let msg = self.message(m)?;
        match self.transport.send(msg).await {
            Ok(_) => Ok(()),
            Err(e) => {
                Err(SendError { permanent: e.is_permanent(), message: format!("SMTP server {}: {e}", self.endpoint) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_urls_choose_tls_by_scheme_and_host() {
        let p = parse_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((p.host.as_str(), p.port, p.mode, p.credentials), ("127.0.0.1", 2525, TlsMode::Plain, None));
        assert_eq!(parse_url("smtp://mail.example.test").unwrap().mode, TlsMode::Opportunistic);
        assert_eq!(parse_url("smtp://mail.example.test").unwrap().port, 25);
        let p = parse_url("smtp+starttls://u%40x:p%3Aw@mail.example.test").unwrap();
        assert_eq!((p.port, p.mode), (587, TlsMode::StartTls));
        assert_eq!(p.credentials, Some(("u@x".to_string(), "p:w".to_string())));
        let p = parse_url("smtps://mail.example.test:2465").unwrap();
        assert_eq!((p.port, p.mode), (2465, TlsMode::Tls));
        assert_eq!(parse_url("smtp://[::1]:25").unwrap().mode, TlsMode::Plain);
        for bad in ["http://mail.example.test", "smtp://", "not a url", "smtp://h/path", "smtp://h?tls=required"] {
            assert!(parse_url(bad).is_err(), "{bad} was accepted");
        }
    }

    #[tokio::test]
    async fn a_bad_url_or_from_address_makes_a_misconfigured_mailer_and_none_keeps_mail() {
        let mut s = MailSettings::default();
        assert!(matches!(Mailer::from_settings(&s), Mailer::Keep));
        s.smtp_url = Some("ftp://x".into());
        assert!(matches!(Mailer::from_settings(&s), Mailer::Misconfigured(_)));
        assert!(check(&s).is_err());
        s.smtp_url = Some("smtp://127.0.0.1:2525".into());
        assert!(check(&s).is_ok());
        s.from_address = "not an address".into();
        assert!(check(&s).unwrap_err().contains("From address"));
        assert!(matches!(Mailer::from_settings(&s), Mailer::Misconfigured(_)));
    }

    #[tokio::test]
    async fn the_from_name_says_on_whose_behalf_and_headers_cannot_be_injected() {
        let s = MailSettings { smtp_url: Some("smtp://127.0.0.1:2525".into()), ..MailSettings::default() };
        let Mailer::Smtp(m) = Mailer::from_settings(&s) else { panic!("no SMTP mailer") };
        let row = OutboxMail {
            id: portico_core::ids::ObjectId::new(),
            tenant_id: None,
            created_at: 0,
            recipient: "guest@example.test".into(),
            cc: Some("cc@example.test".into()),
            reply_to: Some("inviter@contoso.test".into()),
            sender_name: Some("Contoso\r\nBcc: evil@example.test".into()),
            subject: "Hi".into(),
            body_text: "text".into(),
            body_html: Some("<p>html</p>".into()),
            purpose: "invitation".into(),
            status: "queued".into(),
            sent_at: None,
            error: None,
        };
        let raw = String::from_utf8(m.message(&row).unwrap().formatted()).unwrap();
        assert!(!raw.contains("\r\nBcc:") && raw.contains("<invites@portico.localhost>"), "{raw}");
        let plain = OutboxMail { sender_name: Some("Contoso".into()), ..row.clone() };
        let raw = String::from_utf8(m.message(&plain).unwrap().formatted()).unwrap();
        assert!(raw.contains("From: \"Contoso via Portico invitations\" <invites@portico.localhost>"), "{raw}");
        let own = OutboxMail { sender_name: None, ..row.clone() };
        let raw = String::from_utf8(m.message(&own).unwrap().formatted()).unwrap();
        assert!(
            raw.contains("From: \"Portico invitations\" <invites@portico.localhost>")
                || raw.contains("From: Portico invitations <invites@portico.localhost>"),
            "{raw}"
        );
        assert!(raw.contains("Cc: cc@example.test") && raw.contains("Reply-To: inviter@contoso.test"), "{raw}");
        assert!(raw.contains("multipart/alternative"), "{raw}");
        let bad = OutboxMail { recipient: "not an address".into(), ..row };
        assert!(m.message(&bad).unwrap_err().permanent);
    }
}
