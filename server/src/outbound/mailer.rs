//! Sends one email: over SMTP with lettre (a pool of connections), or, with
//! no SMTP server configured, into a folder of `.eml` files so a demo run
//! loses nothing and needs no mail server.

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::time::Duration;

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text: only for a relay on the same host or network.
    None,
    /// Connect in plain text, then upgrade with STARTTLS (port 587); refuses to go on without it.
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
}

impl TlsMode {
    pub fn parse(s: &str) -> Option<TlsMode> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" | "off" | "plain" => Some(TlsMode::None),
            "starttls" => Some(TlsMode::StartTls),
            "tls" | "implicit" | "smtps" => Some(TlsMode::Implicit),
            _ => None,
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            TlsMode::None => "none",
            TlsMode::StartTls => "starttls",
            TlsMode::Implicit => "tls",
        }
    }
}

/// A password that never shows in logs or `Debug` output.
#[derive(Clone, Default, PartialEq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Self {
        Secret(s)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub timeout: Duration,
    /// Connections kept open to the server; alerts go out in parallel over them.
    pub pool_size: u32,
}

/// Where mail goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Transport {
    Smtp(SmtpSettings),
    /// No SMTP server: each email becomes a file in this folder.
    Folder(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub transport: Transport,
    pub from: String,
    pub reply_to: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            transport: Transport::Folder(PathBuf::from("data/mail")),
            from: "Integration Tracker <alerts@tracker.localhost>".into(),
            reply_to: None,
        }
    }
}

/// One email to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Our own id, unique per email: `<…@host>`.
    pub message_id: String,
    /// The preferences page (RFC 2369 List-Unsubscribe).
    pub unsubscribe: String,
    /// The outbox rows it carries, for the record and for tests.
    pub alert_ids: Vec<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the address {0} is not valid")]
    Address(String),
    #[error("the email could not be built: {0}")]
    Build(String),
    /// Worth trying again later (server down, 4xx, timeout).
    #[error("{0}")]
    Transient(String),
    /// Trying again will not help (5xx: unknown recipient, refused).
    #[error("{0}")]
    Permanent(String),
}

impl MailError {
    pub fn is_permanent(&self) -> bool {
        matches!(self, MailError::Address(_) | MailError::Build(_) | MailError::Permanent(_))
    }
}

#[derive(Clone)]
enum Inner {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Folder(AsyncFileTransport<Tokio1Executor>),
}

#[derive(Clone)]
pub struct Mailer {
    inner: Inner,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    description: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description)
    }
}

/// `List-Unsubscribe: <url>`.
#[derive(Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.trim_matches(|c| c == '<' || c == '>').to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), format!("<{}>", self.0))
    }
}

/// Which outbox rows an email carries (`X-Tracker-Alerts: 12,13`).
#[derive(Clone)]
struct AlertIds(String);

impl Header for AlertIds {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Tracker-Alerts")
    }
    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AlertIds(s.to_string()))
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

impl Mailer {
    /// The sender and reply-to addresses, parsed: a bad one stops the server at start.
    fn addresses(settings: &Settings) -> Result<(Mailbox, Option<Mailbox>), MailError> {
        let from: Mailbox = settings.from.parse().map_err(|_| MailError::Address(settings.from.clone()))?;
        let reply_to = match &settings.reply_to {
            Some(r) => Some(r.parse::<Mailbox>().map_err(|_| MailError::Address(r.clone()))?),
            None => None,
        };
        Ok((from, reply_to))
    }

    pub fn check_addresses(settings: &Settings) -> Result<(), MailError> {
        Self::addresses(settings).map(|_| ())
    }

    pub fn new(settings: &Settings) -> Result<Mailer, MailError> {
        let (from, reply_to) = Self::addresses(settings)?;
        let (inner, description) = match &settings.transport {
            Transport::Smtp(s) => {
                let tls = |host: &str| TlsParameters::new(host.to_string()).map_err(|e| MailError::Build(e.to_string()));
                let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host)
                    .port(s.port)
                    .timeout(Some(s.timeout))
                    .pool_config(PoolConfig::new().max_size(s.pool_size.max(1)))
                    .tls(match s.tls {
                        TlsMode::None => Tls::None,
                        TlsMode::StartTls => Tls::Required(tls(&s.host)?),
                        TlsMode::Implicit => Tls::Wrapper(tls(&s.host)?),
                    });
                if let (Some(user), Some(password)) = (&s.username, &s.password) {
                    builder = builder.credentials(Credentials::new(user.clone(), password.expose().to_string()));
                }
                (Inner::Smtp(builder.build()), format!("SMTP {}:{} ({})", s.host, s.port, s.tls.key()))
            }
            Transport::Folder(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| MailError::Build(format!("cannot create {}: {e}", dir.display())))?;
                (Inner::Folder(AsyncFileTransport::new(dir)), format!("files in {}", dir.display()))
            }
        };
        Ok(Mailer { inner, from, reply_to, description })
    }

    /// Where mail goes, for the pages: `SMTP host:port (starttls)` or `files in data/mail`.
    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn is_smtp(&self) -> bool {
        matches!(self.inner, Inner::Smtp(_))
    }

    /// Sends `email`; returns once the server took it (its `250 OK`).
    pub async fn send(&self, email: &Outgoing) -> Result<(), MailError> {
        let to: Mailbox = email.to.parse().map_err(|_| MailError::Address(email.to.clone()))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(email.message_id.clone()))
            .header(ListUnsubscribe(email.unsubscribe.clone()))
            .header(AlertIds(email.alert_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")));
        if let Some(r) = &self.reply_to {
            builder = builder.reply_to(r.clone());
        }
        let message = builder
            .multipart(MultiPart::alternative_plain_html(email.text.clone(), email.html.clone()))
            .map_err(|e| MailError::Build(e.to_string()))?;
        match &self.inner {
            Inner::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| {
                if e.is_permanent() {
                    MailError::Permanent(e.to_string())
                } else {
                    MailError::Transient(e.to_string())
                }
            }),
            Inner::Folder(t) => t.send(message).await.map(|_| ()).map_err(|e| MailError::Transient(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_modes() {
        for (text, mode) in
            [("none", Some(TlsMode::None)), ("STARTTLS", Some(TlsMode::StartTls)), ("tls", Some(TlsMode::Implicit)), ("ssl3", None)]
        {
            assert_eq!(TlsMode::parse(text), mode, "{text}");
        }
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let s = SmtpSettings {
            host: "smtp.example.com".into(),
            port: 587,
            tls: TlsMode::StartTls,
            username: Some("alerts".into()),
            password: Some(Secret::new("hunter2".into())),
            timeout: Duration::from_secs(10),
            pool_size: 4,
        };
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn bad_from_address_is_an_error() {
        let settings = Settings { from: "not an address".into(), ..Settings::default() };
        assert!(matches!(Mailer::new(&settings), Err(MailError::Address(_))));
    }
}
