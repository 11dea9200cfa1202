//! A real SMTP server for the tests to deliver mail to: `e2e/smtp-sink.mjs`
//! (the npm packages `smtp-server` and `mailparser`) run with node, one
//! process per sink. It records what it accepted, answers 451 or slowly on
//! request, and is read and steered over a small HTTP API. Needs `node` on
//! PATH and `cd e2e && npm ci` done (`.ci/test` does it).

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::MultiPart;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../e2e/smtp-sink.mjs");
const E2E_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../e2e");
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// A message the sink accepted (it got its 250).
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Received {
    /// SMTP envelope sender (`MAIL FROM`), "" for the null sender.
    pub from: String,
    /// SMTP envelope recipients (`RCPT TO`), not the `To:` header.
    pub to: Vec<String>,
    pub subject: String,
    /// The text/plain part ("" when there is none: no conversion from HTML).
    pub text: String,
    /// The text/html part ("" when there is none).
    pub html: String,
    /// Top-level headers by lower-case name; plain headers decoded (RFC 2047),
    /// structured ones (from, to, date, content-type…) as written. A
    /// repeated header keeps every value, joined by "\n".
    pub headers: HashMap<String, String>,
    /// The `Message-ID` with its angle brackets, "" when there is none.
    pub message_id: String,
    /// When the sink accepted it, RFC 3339 in UTC.
    pub received_at: String,
}

/// One running `smtp-sink.mjs`; killed when dropped.
pub struct SmtpSink {
    pub smtp_port: u16,
    pub http_port: u16,
    child: Child,
    client: reqwest::Client,
}

impl SmtpSink {
    /// A sink on free ports.
    pub async fn start() -> SmtpSink {
        let mut last = String::new();
        // The ports are free when picked but could be taken before node binds them: try again then.
        for _ in 0..5 {
            match SmtpSink::spawn(free_port(), free_port()).await {
                Ok(sink) => return sink,
                Err(e) if e.contains("EADDRINUSE") => last = e,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("{last}");
    }

    /// A sink on `smtp_port` (a server coming back up where the previous one was).
    pub async fn start_on(smtp_port: u16) -> SmtpSink {
        let mut last = String::new();
        for _ in 0..5 {
            match SmtpSink::spawn(smtp_port, free_port()).await {
                Ok(sink) => return sink,
                // Only the control port can be retried; the SMTP port is the caller's.
                Err(e) if e.contains("EADDRINUSE") && e.contains("(http port") => last = e,
                Err(e) => panic!("{e}"),
            }
        }
        panic!("{last}");
    }

    async fn spawn(smtp_port: u16, http_port: u16) -> Result<SmtpSink, String> {
        for package in ["smtp-server", "mailparser"] {
            if !Path::new(E2E_DIR).join("node_modules").join(package).join("package.json").exists() {
                panic!("smtp-sink: the npm package `{package}` is not installed in e2e/node_modules: run `cd e2e && npm ci`");
            }
        }
        let mut child = Command::new("node")
            .arg(SCRIPT)
            .current_dir(E2E_DIR)
            .env("SMTP_PORT", smtp_port.to_string())
            .env("SINK_HTTP_PORT", http_port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("smtp-sink: cannot run `node` (is Node.js 20+ on PATH?): {e}"));

        // stdout: the ready line, then drained so node never blocks on a full pipe.
        let (ready_tx, ready_rx) = mpsc::channel::<String>();
        let stdout = child.stdout.take().expect("piped stdout");
        std::thread::spawn(move || {
            let mut ready_tx = Some(ready_tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("smtp-sink ready") {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(line);
                    }
                }
            }
        });
        // stderr: kept for the panic message.
        let stderr_text = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let collected = Arc::clone(&stderr_text);
        std::thread::spawn(move || {
            let mut stderr = stderr;
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                collected.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });

        let deadline = Instant::now() + READY_TIMEOUT;
        let line = loop {
            if let Ok(line) = ready_rx.try_recv() {
                break line;
            }
            if let Ok(Some(status)) = child.try_wait() {
                // Let the stderr reader catch up with what node said before dying.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return Err(failure(&format!("node exited ({status}) before it was ready"), &stderr_text));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{}", failure(&format!("not ready after {READY_TIMEOUT:?}"), &stderr_text));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let port_of = |key: &str| -> u16 {
            line.split_whitespace()
                .find_map(|w| w.strip_prefix(key))
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("smtp-sink: unexpected ready line {line:?}"))
        };
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().expect("reqwest client");
        Ok(SmtpSink { smtp_port: port_of("smtp="), http_port: port_of("http="), child, client })
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http_port)
    }

    /// Everything accepted so far, in arrival order.
    pub async fn messages(&self) -> Vec<Received> {
        let res = self.client.get(self.url("/messages")).send().await.expect("smtp-sink: GET /messages");
        assert!(res.status().is_success(), "smtp-sink: GET /messages answered {}", res.status());
        res.json().await.expect("smtp-sink: messages JSON")
    }

    /// Forgets the messages received so far.
    pub async fn clear(&self) {
        let res = self.client.delete(self.url("/messages")).send().await.expect("smtp-sink: DELETE /messages");
        assert!(res.status().is_success(), "smtp-sink: DELETE /messages answered {}", res.status());
    }

    /// `"accept"`, `"tempfail"` (451 to every DATA) or `"slow"` (the 250 to
    /// DATA comes `delay_ms` late). Applies to messages whose DATA ends from now on.
    pub async fn set_mode(&self, mode: &str, delay_ms: u64) {
        let res = self
            .client
            .post(self.url("/mode"))
            .json(&serde_json::json!({ "mode": mode, "delayMs": delay_ms }))
            .send()
            .await
            .expect("smtp-sink: POST /mode");
        assert!(res.status().is_success(), "smtp-sink: POST /mode {mode:?} answered {}", res.status());
    }

    /// The messages once there are at least `n`, or whatever there is after `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages().await;
            if messages.len() >= n || Instant::now() >= deadline {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Kills the sink and waits for it to be gone (its ports are then free).
    pub async fn stop(self) {
        drop(self);
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0").local_addr().expect("local addr").port()
}

fn failure(what: &str, stderr: &Mutex<String>) -> String {
    let stderr = stderr.lock().unwrap();
    let hint = if stderr.contains("Cannot find package") || stderr.contains("ERR_MODULE_NOT_FOUND") {
        "\nthe npm packages are missing: run `cd e2e && npm ci`"
    } else {
        ""
    };
    format!("smtp-sink ({SCRIPT}): {what}; node's stderr:\n{}{hint}", stderr.trim_end())
}

// The sink as a real SMTP peer, driven by lettre as the server drives it.

fn transport(port: u16, credentials: Option<Credentials>) -> AsyncSmtpTransport<Tokio1Executor> {
    let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(port).timeout(Some(Duration::from_secs(10)));
    match credentials {
        Some(c) => builder.credentials(c).build(),
        None => builder.build(),
    }
}

fn email(subject: &str) -> Message {
    let mut email = Message::builder()
        .from("Integration Tracker <alerts@tracker.test>".parse().unwrap())
        .to("Partner Ops <ops@partner.test>".parse().unwrap())
        .subject(subject)
        .message_id(Some("<alert-42@tracker.test>".to_string()))
        .multipart(MultiPart::alternative_plain_html(
            "The SLA of Acme is breached.".to_string(),
            "<p>The SLA of <b>Acme</b> is breached.</p>".to_string(),
        ))
        .unwrap();
    email.headers_mut().insert_raw(HeaderValue::new(HeaderName::new_from_ascii_str("X-Tracker-Alert"), "alert-42".to_string()));
    email
}

#[tokio::test]
async fn smtp_sink_receives_a_multipart_message() {
    let sink = SmtpSink::start().await;
    let mailer = transport(sink.smtp_port, Some(Credentials::new("tracker".into(), "any-password".into())));
    mailer.send(email("SLA breached: Acme — 2 h over")).await.expect("the sink accepts the message");

    let got = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "{got:#?}");
    let m = &got[0];
    assert_eq!(m.from, "alerts@tracker.test");
    assert_eq!(m.to, vec!["ops@partner.test".to_string()]);
    assert_eq!(m.subject, "SLA breached: Acme — 2 h over");
    assert_eq!(m.text.trim(), "The SLA of Acme is breached.");
    assert_eq!(m.html.trim(), "<p>The SLA of <b>Acme</b> is breached.</p>");
    assert_eq!(m.headers.get("x-tracker-alert").map(String::as_str), Some("alert-42"), "{:#?}", m.headers);
    assert!(m.headers["content-type"].starts_with("multipart/alternative"), "{:#?}", m.headers);
    assert_eq!(m.message_id, "<alert-42@tracker.test>");
    assert!(m.received_at.ends_with('Z'), "{:?}", m.received_at);

    sink.clear().await;
    assert!(sink.messages().await.is_empty());
    sink.stop().await;
}

#[tokio::test]
async fn smtp_sink_tempfail_records_nothing_until_it_accepts_again() {
    let sink = SmtpSink::start().await;
    let mailer = transport(sink.smtp_port, None);

    sink.set_mode("tempfail", 0).await;
    let err = mailer.send(email("first try")).await.expect_err("tempfail answers 451");
    assert!(err.is_transient(), "a 4xx, not {err:?}");
    assert_eq!(err.status().map(|c| c.to_string()), Some("451".to_string()), "{err:?}");
    assert!(sink.messages().await.is_empty(), "a refused message is not recorded");

    sink.set_mode("accept", 0).await;
    mailer.send(email("second try")).await.expect("accepted again");
    let got = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>(), ["second try"]);

    // The server goes away and comes back on the same port: a fresh sink, a fresh connection.
    let port = sink.smtp_port;
    sink.stop().await;
    assert!(transport(port, None).send(email("while down")).await.is_err(), "nobody listens");
    let sink = SmtpSink::start_on(port).await;
    assert_eq!(sink.smtp_port, port);
    transport(port, None).send(email("back up")).await.expect("accepted after the restart");
    let got = sink.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(got.iter().map(|m| m.subject.as_str()).collect::<Vec<_>>(), ["back up"]);
}
