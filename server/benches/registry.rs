//! `cargo bench -p server --bench registry`: one full sweep of the registry
//! poller over 5,000 providers spread across 20 registry hosts (local
//! servers speaking the protocol), then a second sweep where every answer
//! is a 304; wall time, requests per second and peak memory of each. Then a
//! bare reqwest loop fetching the same URLs at the same concurrency, and
//! the poller's throughput as a share of it. Numbers, not assertions.
//!
//! Goals (issue 5): first sweep < 10 s at concurrency 64, second < 3 s,
//! memory < 100 MB, poller ≥ 70 % of the bare loop's requests per second.
//!
//! Everything runs twice: with local answers at once (no network: the
//! comparison is of CPU per request, registries and database sharing the
//! machine's cores), then with every answer delayed by a round trip
//! (`REGISTRY_BENCH_RTT_MS`, default 5), as a registry across a network
//! would be (the comparison is of how well the poller keeps its requests in
//! flight).

use app::domain::registry::Platform;
use app::store::Db;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures::StreamExt;
use server::jobs::registry_poll::{Poller, Settings};
use server::outbound::guard::Guard;
use server::outbound::registry::{RegistryClient, Settings as ClientSettings};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

const HOSTS: usize = 20;
const PROVIDERS: usize = 5_000;
const CONCURRENCY: usize = 64;
const VERSIONS: usize = 10;
/// The second run's simulated round trip, in milliseconds, unless
/// `REGISTRY_BENCH_RTT_MS` says otherwise.
const RTT_MS: u64 = 5;
const PLATFORMS: &[(&str, &str)] = &[("darwin", "arm64"), ("linux", "amd64"), ("linux", "arm64"), ("windows", "amd64")];

#[derive(Clone)]
struct Registry {
    requests: Arc<AtomicU64>,
    /// Milliseconds each answer waits, as if it crossed a network.
    rtt_ms: Arc<AtomicU64>,
    versions_body: Arc<String>,
    download_body: Arc<String>,
}

async fn answer(State(r): State<Registry>, uri: Uri, headers: HeaderMap) -> Response {
    r.requests.fetch_add(1, Ordering::Relaxed);
    let rtt = r.rtt_ms.load(Ordering::Relaxed);
    if rtt > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(rtt)).await;
    }
    let path = uri.path();
    if path == "/.well-known/terraform.json" {
        return ([("content-type", "application/json")], r#"{"providers.v1":"/v1/providers/"}"#).into_response();
    }
    if path.ends_with("/versions") {
        if headers.get("if-none-match").is_some_and(|v| v == "\"v1\"") {
            return (StatusCode::NOT_MODIFIED, [("etag", "\"v1\"")]).into_response();
        }
        return ([("content-type", "application/json"), ("etag", "\"v1\"")], r.versions_body.as_str().to_string()).into_response();
    }
    if path.contains("/download/") {
        return ([("content-type", "application/json")], r.download_body.as_str().to_string()).into_response();
    }
    StatusCode::NOT_FOUND.into_response()
}

fn peak_rss_mib() -> f64 {
    status_mib("VmHWM:")
}

/// Resident memory now: what a phase starts from (the database's caches,
/// the registries, the heap earlier phases left).
fn rss_mib() -> f64 {
    status_mib("VmRSS:")
}

fn status_mib(field: &str) -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 =
        status.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    kib / 1024.0
}

/// CPU time the whole process has used (user + system), to tell waiting
/// from working: with 2 cores, a phase that took 1 s used at most 2 s.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after ')'.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state.
    (ticks(11) + ticks(12)) / 100.0
}

/// Resets the peak-RSS mark so each phase reports its own peak.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

async fn start_registries() -> (Vec<String>, Registry) {
    let requests = Arc::new(AtomicU64::new(0));
    let versions: Vec<serde_json::Value> = (0..VERSIONS)
        .map(|i| {
            serde_json::json!({"version": format!("1.{i}.0"), "protocols": ["5.0", "6.0"],
                "platforms": PLATFORMS.iter().map(|(os, arch)| serde_json::json!({"os": os, "arch": arch})).collect::<Vec<_>>()})
        })
        .collect();
    let download = serde_json::json!({
        "protocols": ["6.0"], "os": "linux", "arch": "amd64", "filename": "terraform-provider-x_1.9.0_linux_amd64.zip",
        "download_url": "https://github.com/acme/terraform-provider-x/releases/download/v1.9.0/terraform-provider-x_1.9.0_linux_amd64.zip",
        "shasums_url": "https://github.com/acme/terraform-provider-x/releases/download/v1.9.0/terraform-provider-x_1.9.0_SHA256SUMS",
        "shasums_signature_url": "https://github.com/acme/terraform-provider-x/releases/download/v1.9.0/terraform-provider-x_1.9.0_SHA256SUMS.sig",
        "shasum": "5f9c7aa76b7c34d722fc9123208e26b22d60440cb47150dd04733b9b94f4541a",
        "signing_keys": {"gpg_public_keys": [{"key_id": "51852D87348FFC4C", "ascii_armor": "-----BEGIN PGP PUBLIC KEY BLOCK-----\n...\n-----END PGP PUBLIC KEY BLOCK-----"}]}
    });
    let state = Registry {
        requests,
        rtt_ms: Arc::new(AtomicU64::new(0)),
        versions_body: Arc::new(serde_json::json!({"versions": versions}).to_string()),
        download_body: Arc::new(download.to_string()),
    };
    let mut hosts = Vec::new();
    for _ in 0..HOSTS {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        hosts.push(listener.local_addr().expect("addr").to_string());
        let app = axum::Router::new().fallback(answer).with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    (hosts, state)
}

async fn seed(db: &Db, hosts: &[String]) {
    let now = Utc::now();
    app::on_pool!(db, |pool| {
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("INSERT INTO partners (slug, name, kind, created_at, updated_at) VALUES ('bench', 'Bench', 'infrastructure', $1, $1)")
            .bind(now)
            .execute(&mut *tx)
            .await
            .expect("partner");
        for n in 0..PROVIDERS {
            let host = &hosts[n % hosts.len()];
            let ty = format!("p{n}");
            sqlx::query(
                "INSERT INTO integrations (partner_id, kind, name, tier, stage, source_address, source_host, source_namespace, source_type,
                    created_at, updated_at)
                 VALUES (1, 'provider', $1, 'verified', 'support', $2, $3, 'acme', $4, $5, $5)",
            )
            .bind(format!("Provider {n}"))
            .bind(format!("{host}/acme/{ty}"))
            .bind(host)
            .bind(&ty)
            .bind(now)
            .execute(&mut *tx)
            .await
            .expect("integration");
        }
        tx.commit().await.expect("commit");
    });
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(run());
}

async fn run() {
    let (hosts, registry) = start_registries().await;
    compare(&hosts, &registry.requests, 0).await;
    let rtt = std::env::var("REGISTRY_BENCH_RTT_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(RTT_MS);
    registry.rtt_ms.store(rtt, Ordering::Relaxed);
    compare(&hosts, &registry.requests, rtt).await;
}

/// Seeds a fresh database, runs both sweeps and the bare loops, and prints
/// the figures of one condition.
async fn compare(hosts: &[String], requests: &AtomicU64, rtt_ms: u64) {
    println!("\n--- answers delayed by {rtt_ms} ms ---");
    let dir = std::env::temp_dir().join(format!("registry-bench-{}-{rtt_ms}", std::process::id()));
    let db = Db::connect(&format!("sqlite://{}/bench.db", dir.display())).await.expect("database");
    db.migrate().await.expect("migrate");
    let start = Instant::now();
    seed(&db, hosts).await;
    // As created through the app, each provider has its checklist.
    for id in 1..=PROVIDERS as i64 {
        let integration = app::store::integrations::get(&db, id).await.expect("read").expect("seeded");
        app::services::pipeline::ensure_checklist(&db, &integration, Utc::now()).await.expect("checklist");
    }
    println!("seeded {PROVIDERS} providers with their checklists in {:.1} s", start.elapsed().as_secs_f64());
    println!("registry poller: {PROVIDERS} providers on {HOSTS} local registry hosts, concurrency {CONCURRENCY}, SQLite");

    let guard = Arc::new(Guard::parse("http://127.0.0.1").expect("allow-list"));
    let client =
        RegistryClient::new(guard.clone(), ClientSettings { metadata_hosts: vec![], ..ClientSettings::default() }).expect("client");
    let settings = Settings { concurrency: CONCURRENCY, per_host: CONCURRENCY, ..Settings::default() };
    let poller = Poller::new(db.clone(), Arc::new(client), settings, "bench".into());

    reset_peak();
    let first_base = rss_mib();
    let before = requests.load(Ordering::Relaxed);
    let start = Instant::now();
    let cpu = cpu_seconds();
    let now = Utc::now();
    let first = poller.sweep(|| now).await.expect("first sweep");
    let first_time = start.elapsed();
    let first_cpu = cpu_seconds() - cpu;
    let first_requests = requests.load(Ordering::Relaxed) - before;
    let first_peak = peak_rss_mib();
    println!(
        "first sweep:  {:>6.2} s ({first_cpu:.2} s CPU), {first_requests} requests, {:.0} requests/s, {} polled ({} failed), {} versions stored; peak RSS {first_peak:.1} MiB (from {first_base:.1})",
        first_time.as_secs_f64(),
        first_requests as f64 / first_time.as_secs_f64(),
        first.polled,
        first.failed,
        first.versions
    );

    reset_peak();
    let second_base = rss_mib();
    let before = requests.load(Ordering::Relaxed);
    let start = Instant::now();
    let cpu = cpu_seconds();
    let later = now + chrono::Duration::hours(3);
    let second = poller.sweep(|| later).await.expect("second sweep");
    let second_time = start.elapsed();
    let second_cpu = cpu_seconds() - cpu;
    let second_requests = requests.load(Ordering::Relaxed) - before;
    println!(
        "second sweep: {:>6.2} s ({second_cpu:.2} s CPU), {second_requests} requests (all 304), {:.0} requests/s, {} polled; peak RSS {:.1} MiB (from {second_base:.1})",
        second_time.as_secs_f64(),
        second_requests as f64 / second_time.as_secs_f64(),
        second.polled,
        peak_rss_mib()
    );

    // The same URLs with a bare client: discovery once per host, each
    // versions list, each download the first sweep checked.
    let mut urls: Vec<String> = hosts.iter().map(|h| format!("http://{h}/.well-known/terraform.json")).collect();
    for n in 0..PROVIDERS {
        let host = &hosts[n % hosts.len()];
        urls.push(format!("http://{host}/v1/providers/acme/p{n}/versions"));
        for (os, arch) in PLATFORMS {
            urls.push(format!("http://{host}/v1/providers/acme/p{n}/1.9.0/download/{os}/{arch}"));
        }
    }
    // The poller's own HTTP client over the first sweep's requests, with no
    // database: what the poller costs beyond it is its bookkeeping.
    let client =
        RegistryClient::new(guard.clone(), ClientSettings { metadata_hosts: vec![], ..ClientSettings::default() }).expect("client");
    let platforms: Vec<Platform> = PLATFORMS.iter().map(|(os, arch)| Platform { os: os.to_string(), arch: arch.to_string() }).collect();
    let start = Instant::now();
    let cpu = cpu_seconds();
    futures::stream::iter(0..PROVIDERS)
        .map(|n| {
            let (host, ty, client, platforms) = (&hosts[n % hosts.len()], format!("p{n}"), &client, &platforms);
            async move {
                client.versions(host, "acme", &ty, None, None).await.expect("versions");
                client.missing_in_release(host, "acme", &ty, "1.9.0", platforms).await.expect("release");
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<()>>()
        .await;
    println!(
        "poller's HTTP client alone: {:>6.2} s ({:.2} s CPU), the first sweep's requests without the database",
        start.elapsed().as_secs_f64(),
        cpu_seconds() - cpu
    );

    let bare = reqwest::Client::builder().pool_max_idle_per_host(32).build().expect("client");
    let (fetched, bare_time) = bare_loop(&bare, urls.iter(), None).await;
    let bare_rate = fetched as f64 / bare_time.as_secs_f64();
    let poller_rate = first_requests as f64 / first_time.as_secs_f64();
    println!("bare reqwest: {:>6.2} s, {fetched} requests, {bare_rate:.0} requests/s", bare_time.as_secs_f64());
    println!("poller / bare throughput (first sweep, requests per second): {:.0} %", 100.0 * poller_rate / bare_rate);

    // The second sweep's requests: every versions list, conditional, all 304.
    let (fetched, bare_time) = bare_loop(&bare, urls.iter().filter(|u| u.ends_with("/versions")), Some("\"v1\"")).await;
    let bare_rate = fetched as f64 / bare_time.as_secs_f64();
    println!("bare reqwest, 304s: {:>6.2} s, {fetched} requests, {bare_rate:.0} requests/s", bare_time.as_secs_f64());
    println!("poller / bare throughput (second sweep): {:.0} %", 100.0 * (second_requests as f64 / second_time.as_secs_f64()) / bare_rate);
    db.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Fetches `urls` with a bare client at the poller's concurrency; returns
/// how many answered and how long it took.
async fn bare_loop<'a>(
    client: &reqwest::Client,
    urls: impl Iterator<Item = &'a String>,
    if_none_match: Option<&str>,
) -> (usize, std::time::Duration) {
    let start = Instant::now();
    let cpu = cpu_seconds();
    let fetched = futures::stream::iter(urls)
        .map(|u| {
            let mut request = client.get(u);
            if let Some(etag) = if_none_match {
                request = request.header("if-none-match", etag);
            }
            async move {
                let res = request.send().await.expect("request");
                usize::from(res.bytes().await.is_ok())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .fold(0, |a, b| async move { a + b })
        .await;
    println!("  (bare loop: {:.2} s CPU)", cpu_seconds() - cpu);
    (fetched, start.elapsed())
}
