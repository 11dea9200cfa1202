//! `cargo bench -p server --bench foundation`: prints how fast the pure
//! rules run and how quickly the server answers on SQLite with the demo
//! data, and the process's memory. Numbers, not assertions: compare runs.

use app::domain::constraint::{Constraints, Version};
use app::domain::source_address::SourceAddress;
use server::config::Config;
use server::Application;
use std::time::{Duration, Instant};

const ADDRESSES: &[&str] = &[
    "hashicorp/aws",
    "registry.Terraform.io/HashiCorp/AWS",
    "münchen.example:8443/acme/cloud",
    "example.com/bad.namespace/aws",
    "tf.internal.example/team/network",
];

fn per_op(total: Duration, n: usize) -> String {
    format!("{:.0} ns/op", total.as_nanos() as f64 / n as f64)
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn latency(client: &reqwest::Client, url: &str, n: usize) -> String {
    timed(client, url, n, true).await
}

/// Like `latency`, for answers that are not 2xx (redirects).
async fn latency_any(client: &reqwest::Client, url: &str, n: usize) -> String {
    timed(client, url, n, false).await
}

async fn timed(client: &reqwest::Client, url: &str, n: usize, want_success: bool) -> String {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let res = client.get(url).send().await.expect("request");
        assert!(!want_success || res.status().is_success(), "{url}: {}", res.status());
        res.bytes().await.expect("body");
        times.push(start.elapsed());
    }
    times.sort();
    format!(
        "p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms ({n} sequential requests)",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.95).as_secs_f64() * 1e3,
        times[n - 1].as_secs_f64() * 1e3
    )
}

fn main() {
    let n = 200_000;
    let start = Instant::now();
    for i in 0..n {
        let _ = std::hint::black_box(SourceAddress::parse(ADDRESSES[i % ADDRESSES.len()]));
    }
    println!("source address parse+normalise: {}", per_op(start.elapsed(), n));

    let constraints = Constraints::parse("~> 2.1, != 2.3.1").expect("constraint");
    let versions: Vec<Version> = ["2.1.0", "2.3.1", "2.9.9", "3.0.0", "2.4.0-beta"].iter().map(|v| Version::parse(v).unwrap()).collect();
    let start = Instant::now();
    for i in 0..n {
        std::hint::black_box(constraints.matches(&versions[i % versions.len()]));
    }
    println!("version constraint match: {}", per_op(start.elapsed(), n));
    let start = Instant::now();
    for _ in 0..n {
        let _ = std::hint::black_box(Constraints::parse(">= 1.0, < 2.0, != 1.5.3"));
    }
    println!("version constraint parse: {}", per_op(start.elapsed(), n));

    let note = "**Done.** See [the docs](https://example.com/docs) and `terraform plan` output:\n\n- one\n- two\n<script>x</script>";
    let start = Instant::now();
    for _ in 0..n / 10 {
        std::hint::black_box(app::services::markdown::render(note));
    }
    println!("markdown note render (safe HTML): {}", per_op(start.elapsed(), n / 10));

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("tracker-bench-{}", std::process::id()));
        let config = Config::for_tests(&format!("sqlite://{}/bench.db", dir.display())).expect("config");
        let app = Application::build(&config).await.expect("build");
        server::demo::seed(app.db()).await.expect("seed");
        let base = format!("http://{}", app.local_addr());
        println!("memory after start-up and demo seed (server and client in one process): {} KiB", rss_kib().unwrap_or(0));
        // Every request is signed in: API calls with a demo admin's token,
        // pages with a session cookie, so the numbers include the lookups.
        let people = app::store::users::demo_users(app.db()).await.expect("demo users");
        let admin = people.iter().find(|p| p.role == app::domain::access::Role::Admin).expect("demo admin");
        let member = people.iter().find(|p| p.role == app::domain::access::Role::Partner).expect("demo member");
        let now = chrono::Utc::now();
        let (_, token) = app::services::tokens::create_for(app.db(), admin.user_id, "bench", now).await.expect("token");
        let (_, member_token) = app::services::tokens::create_for(app.db(), member.user_id, "bench", now).await.expect("token");
        let session = app::services::sign_in::start_session(app.db(), &Default::default(), admin.user_id, now).await.expect("session");
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        let with = |header: reqwest::header::HeaderName, value: String| {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(header, value.parse().expect("header"));
            reqwest::Client::builder().default_headers(headers).build().expect("client")
        };
        let client = with(reqwest::header::AUTHORIZATION, format!("Bearer {token}"));
        let browser = with(reqwest::header::COOKIE, format!("tracker_session={session}"));
        let member_client = with(reqwest::header::AUTHORIZATION, format!("Bearer {member_token}"));
        let anonymous = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        println!("GET /partners anonymous (redirect to sign-in): {}", latency_any(&anonymous, &format!("{base}/partners"), 500).await);
        println!("GET /api/v1/partners (20 per page): {}", latency(&client, &format!("{base}/api/v1/partners"), 500).await);
        println!(
            "GET /api/v1/integrations?stage=support: {}",
            latency(&client, &format!("{base}/api/v1/integrations?stage=support"), 500).await
        );
        println!(
            "GET /api/v1/integrations as a partner member (scoped): {}",
            latency(&member_client, &format!("{base}/api/v1/integrations"), 500).await
        );
        println!("GET /partners (server-rendered page, session cookie): {}", latency(&browser, &format!("{base}/partners"), 500).await);
        println!(
            "GET /integrations/1 (server-rendered page, session cookie): {}",
            latency(&browser, &format!("{base}/integrations/1"), 500).await
        );
        println!("GET /review (review queue page, session cookie): {}", latency(&browser, &format!("{base}/review"), 300).await);
        println!("GET /api/v1/audit?q=nimbus (audit search): {}", latency(&client, &format!("{base}/api/v1/audit?q=nimbus"), 300).await);
        let start = Instant::now();
        let csv = client.get(format!("{base}/api/v1/audit/export.csv")).send().await.expect("export").text().await.expect("csv");
        println!(
            "GET /api/v1/audit/export.csv (whole trail, {} rows, {} KiB): {:.1} ms",
            csv.lines().count().saturating_sub(1),
            csv.len() / 1024,
            start.elapsed().as_secs_f64() * 1e3
        );
        println!("memory after 3,600 requests: {} KiB", rss_kib().unwrap_or(0));
        let _ = std::fs::remove_dir_all(&dir);
    });
}
