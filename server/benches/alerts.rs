//! `cargo bench -p server --bench alerts`: 10,000 queued alerts (each to a
//! different recipient, so nothing folds) delivered by the delivery worker
//! over a pool of SMTP connections to a real SMTP server on this machine
//! (`e2e/smtp-sink.mjs`; needs `cd e2e && npm ci`). Prints alerts per
//! second and the process's peak memory, on SQLite and, when reachable,
//! PostgreSQL. Goal (issue 7): at least 200 alerts per second.

use app::domain::alert::{AlertContent, AlertKind};
use app::store::alerts::{Audience, NewAlert};
use app::store::Db;
use chrono::Utc;
use server::jobs::alert_delivery::{Deliverer, Settings};
use server::outbound::mailer::{Mailer, Settings as MailSettings, SmtpSettings, TlsMode, Transport};
use std::io::BufRead;
use std::time::Instant;

const ALERTS: usize = 10_000;
const POOL: u32 = 16;

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Starts the SMTP sink; returns the child and its SMTP and HTTP ports.
fn start_sink() -> (std::process::Child, u16, u16) {
    let (smtp, http) = (free_port(), free_port());
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../e2e");
    let mut child = std::process::Command::new("node")
        .arg("smtp-sink.mjs")
        .current_dir(dir)
        .env("SMTP_PORT", smtp.to_string())
        .env("SINK_HTTP_PORT", http.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node (the SMTP sink needs Node.js and `cd e2e && npm ci`)");
    let stdout = child.stdout.take().expect("stdout");
    let mut reader = std::io::BufReader::new(stdout);
    let mut line = String::new();
    reader.read_line(&mut line).expect("the sink's ready line");
    assert!(line.contains("ready"), "the SMTP sink did not start: {line}");
    // Keep reading, so the sink never writes into a closed pipe.
    std::thread::spawn(move || for _ in reader.lines() {});
    (child, smtp, http)
}

fn alert(n: usize) -> NewAlert {
    let content = AlertContent {
        kind: AlertKind::SlaBreached,
        subject: format!("acme/widget #{n}"),
        title: "Plan output truncated".into(),
        partner: Some("Acme".into()),
        integration: Some("widget".into()),
        link: format!("/issues/{n}"),
        deadline: Some(Utc::now()),
        detail: "This issue passed its support SLA deadline without being resolved.".into(),
        next_step: "Acknowledge the breach and resolve the issue.".into(),
    };
    NewAlert {
        kind: AlertKind::SlaBreached.key(),
        subject_ref: format!("issue:{n}"),
        discriminator: "cycle0".into(),
        partner_id: None,
        content: serde_json::to_value(&content).expect("content"),
        audience: vec![(Audience::Email(format!("ops{n}@partner.example")), true)],
    }
}

async fn run(backend: &str, db: Db, smtp_port: u16, http_port: u16) {
    db.migrate().await.expect("migrate");
    let alerts: Vec<NewAlert> = (0..ALERTS).map(alert).collect();
    let start = Instant::now();
    for chunk in alerts.chunks(1000) {
        app::store::alerts::enqueue_all(&db, chunk, Utc::now()).await.expect("enqueue");
    }
    println!("{backend}: queued {ALERTS} alerts in {:.2} s", start.elapsed().as_secs_f64());
    let mail = MailSettings {
        transport: Transport::Smtp(SmtpSettings {
            host: "127.0.0.1".into(),
            port: smtp_port,
            tls: TlsMode::None,
            username: None,
            password: None,
            timeout: std::time::Duration::from_secs(30),
            pool_size: POOL,
        }),
        ..MailSettings::default()
    };
    let settings = Settings { fold: chrono::Duration::zero(), concurrency: POOL as usize, batch: 500, ..Settings::default() };
    let worker = Deliverer::new(db.clone(), Mailer::new(&mail).expect("mailer"), settings, "bench".into());
    let start = Instant::now();
    let mut sent = 0;
    loop {
        let r = worker.step(Utc::now()).await.expect("step");
        sent += r.sent;
        assert_eq!(r.failed + r.retried, 0, "{r:?}");
        if r.claimed == 0 {
            break;
        }
    }
    let took = start.elapsed().as_secs_f64();
    let received: Vec<serde_json::Value> =
        reqwest::get(format!("http://127.0.0.1:{http_port}/messages")).await.expect("sink").json().await.expect("json");
    println!(
        "{backend}: delivered {sent} alerts in {took:.2} s = {:.0} alerts/s over {POOL} SMTP connections (sink got {}); peak RSS {:.1} MiB; goal ≥ 200/s",
        sent as f64 / took,
        received.len(),
        peak_rss_mib()
    );
    let _ = reqwest::Client::new().delete(format!("http://127.0.0.1:{http_port}/messages")).send().await;
    db.close().await;
}

fn main() {
    let (mut sink, smtp_port, http_port) = start_sink();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("alerts-bench-{}", std::process::id()));
        let db = Db::connect(&format!("sqlite://{}/bench.db", dir.display())).await.expect("database");
        run("SQLite", db, smtp_port, http_port).await;
        let _ = std::fs::remove_dir_all(&dir);

        let admin_url = std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        match sqlx::PgPool::connect(&admin_url).await {
            Err(e) => println!("PostgreSQL: skipped, {admin_url} is not reachable ({e})"),
            Ok(admin) => {
                let name = format!("bench_alerts_{}", std::process::id());
                sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&admin).await.expect("create database");
                let base = admin_url.split('?').next().unwrap_or(&admin_url);
                let host = base.rsplit_once('/').map(|(h, _)| h).unwrap_or(base);
                let db = Db::connect(&format!("{host}/{name}")).await.expect("database");
                run("PostgreSQL", db, smtp_port, http_port).await;
                let _ = sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)")).execute(&admin).await;
            }
        }
    });
    let _ = sink.kill();
    let _ = sink.wait();
}
