//! `cargo bench -p server --bench registry`: one full sweep of the registry
//! poller over 5,000 providers spread across 20 registry hosts (local
//! servers speaking the protocol), then a second sweep where every answer
//! is a 304; wall time, requests per second and peak memory of each. Then
//! the two halves of the first sweep apart: the poller's HTTP client alone
//! over its requests, and its database work alone (claims and writes, on a
//! fresh database). Then a bare reqwest loop fetching the same URLs at the
//! same concurrency, and the poller's throughput as a share of it. Each
//! sweep prints how long its writer was busy (when that is about the
//! sweep's own time, the database set the pace). Each
//! phase prints the connections the registries accepted and the CPU time,
//! split by thread (the runtime's workers, SQLite's). Numbers, not
//! assertions.
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
    /// Connections the registries accepted: a client that reuses its
    /// connections opens about one per request in flight per host.
    connections: Arc<AtomicU64>,
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
    stat_cpu_seconds(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// User + system seconds of a `/proc/…/stat` line (a process's or a thread's).
fn stat_cpu_seconds(stat: &str) -> f64 {
    // Fields after the command name (which may hold spaces) start after ')'.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15, i.e. 11 and 12 after the state.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds used so far per kind of thread: the runtime's workers
/// (HTTP on both sides, the poller's own work) and SQLite's, which sqlx
/// runs on a thread per connection.
fn cpu_by_thread() -> std::collections::BTreeMap<String, f64> {
    let mut by = std::collections::BTreeMap::new();
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
        let Some(open) = stat.find('(') else { continue };
        let name = stat[open + 1..].split(')').next().unwrap_or_default();
        let kind = if name.starts_with("sqlx-sqlite") {
            "sqlite"
        } else if name.starts_with("tokio") {
            "runtime"
        } else {
            "other"
        };
        *by.entry(kind.to_string()).or_insert(0.0) += stat_cpu_seconds(&stat);
    }
    by
}

/// What each kind of thread used since `before`, for a phase's line.
fn cpu_split(before: &std::collections::BTreeMap<String, f64>) -> String {
    let now = cpu_by_thread();
    let parts: Vec<String> = now.iter().map(|(k, v)| format!("{k} {:.2}", v - before.get(k).copied().unwrap_or(0.0))).collect();
    parts.join(", ")
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
        connections: Arc::new(AtomicU64::new(0)),
        rtt_ms: Arc::new(AtomicU64::new(0)),
        versions_body: Arc::new(serde_json::json!({"versions": versions}).to_string()),
        download_body: Arc::new(download.to_string()),
    };
    let mut hosts = Vec::new();
    for _ in 0..HOSTS {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        hosts.push(listener.local_addr().expect("addr").to_string());
        let app = axum::Router::new().fallback(answer).with_state(state.clone());
        let connections = state.connections.clone();
        use axum::serve::ListenerExt;
        let listener = listener.tap_io(move |_| {
            connections.fetch_add(1, Ordering::Relaxed);
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
    }
    (hosts, state)
}

/// A fresh database under `dir` with the providers, each with its
/// checklist as created through the app.
async fn seeded(dir: &std::path::Path, hosts: &[String]) -> Db {
    let db = Db::connect(&format!("sqlite://{}/bench.db", dir.display())).await.expect("database");
    db.migrate().await.expect("migrate");
    let start = Instant::now();
    seed(&db, hosts).await;
    for id in 1..=PROVIDERS as i64 {
        let integration = app::store::integrations::get(&db, id).await.expect("read").expect("seeded");
        app::services::pipeline::ensure_checklist(&db, &integration, Utc::now()).await.expect("checklist");
    }
    println!("seeded {PROVIDERS} providers with their checklists in {:.1} s", start.elapsed().as_secs_f64());
    db
}

/// The first sweep's database work without its requests: the claims and
/// the reads behind them, then the outcomes the polls hand the writer
/// (each provider found with its versions, the latest one's release
/// complete), recorded as the writer records them: batches of 128, each
/// followed by the pipeline's step for providers found. The sweep cannot
/// end before this work does: one writer does it in order.
async fn database_alone(db: &Db) -> (std::time::Duration, f64) {
    use app::domain::registry::EventKind;
    use app::store::registry::{self as store, Found, NewEvent, NewVersion, Outcome};
    let now = Utc::now();
    let instance = "bench-db";
    let platforms: Vec<Platform> = PLATFORMS.iter().map(|(os, arch)| Platform { os: os.to_string(), arch: arch.to_string() }).collect();
    let platform_keys = app::domain::registry::platform_keys(&platforms);
    store::sync(db, &[], now).await.expect("poll rows");
    let start = Instant::now();
    let cpu = cpu_seconds();
    let threads = cpu_by_thread();
    store::sweep_started(db, app::services::registry::JOB, instance, PROVIDERS as i64, now).await.expect("sweep");
    loop {
        let claimed = store::claim(db, instance, now, chrono::Duration::minutes(5), 1024).await.expect("claim");
        if claimed.is_empty() {
            break;
        }
        let ids: Vec<i64> = claimed.iter().map(|d| d.integration_id).collect();
        let mut subjects = store::subjects(db, &ids).await.expect("subjects");
        let keys: Vec<(i64, String)> = claimed.iter().map(|d| (d.integration_id, d.registry_host.clone())).collect();
        store::known_versions_many(db, &keys).await.expect("known versions");
        let mut outcomes = Vec::with_capacity(claimed.len());
        for due in claimed {
            let latest = format!("1.{}.0", VERSIONS - 1);
            let versions = (0..VERSIONS)
                .map(|i| NewVersion {
                    version: format!("1.{i}.0"),
                    protocols: "5.0,6.0".into(),
                    platforms: platform_keys.clone(),
                    published_at: None,
                    missing: (i == VERSIONS - 1).then(Vec::new),
                })
                .collect();
            let event = NewEvent {
                kind: EventKind::Found,
                key: now.to_rfc3339(),
                detail: format!("{VERSIONS} versions listed; the latest is {latest}"),
                version: Some(latest),
            };
            let outcome = Outcome {
                integration_id: due.integration_id,
                registry_host: due.registry_host.clone(),
                outcome: "ok",
                error: None,
                failures: 0,
                next_poll_at: now + chrono::Duration::hours(1),
                validators: Some((Some("\"v1\"".into()), None)),
                found: Found::Set(now),
                metadata: None,
                versions,
                events: vec![event],
            };
            outcomes.push((outcome, subjects.remove(&due.integration_id)));
        }
        for batch in outcomes.chunks(128) {
            let records = store::record_outcomes(db, instance, batch, now, Some(app::services::registry::JOB)).await.expect("record");
            let found: Vec<i64> = batch.iter().zip(&records).filter(|(_, r)| r.versions > 0).map(|((o, _), _)| o.integration_id).collect();
            for id in store::awaiting_publication(db, &found).await.expect("awaiting") {
                app::services::pipeline::observe(db, id, now).await.expect("observe");
            }
        }
    }
    println!("  (CPU by thread: {})", cpu_split(&threads));
    (start.elapsed(), cpu_seconds() - cpu)
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
    compare(&hosts, &registry, 0).await;
    let rtt = std::env::var("REGISTRY_BENCH_RTT_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(RTT_MS);
    registry.rtt_ms.store(rtt, Ordering::Relaxed);
    compare(&hosts, &registry, rtt).await;
}

/// Seeds a fresh database, runs both sweeps and the bare loops, and prints
/// the figures of one condition.
async fn compare(hosts: &[String], registry: &Registry, rtt_ms: u64) {
    let requests = &registry.requests;
    let connections = || registry.connections.load(Ordering::Relaxed);
    println!("\n--- answers delayed by {rtt_ms} ms ---");
    let dir = std::env::temp_dir().join(format!("registry-bench-{}-{rtt_ms}", std::process::id()));
    let db = seeded(&dir, hosts).await;
    println!("registry poller: {PROVIDERS} providers on {HOSTS} local registry hosts, concurrency {CONCURRENCY}, SQLite");

    let guard = Arc::new(Guard::parse("http://127.0.0.1").expect("allow-list"));
    let client =
        RegistryClient::new(guard.clone(), ClientSettings { metadata_hosts: vec![], ..ClientSettings::default() }).expect("client");
    let settings = Settings { concurrency: CONCURRENCY, per_host: CONCURRENCY, ..Settings::default() };
    let poller = Poller::new(db.clone(), Arc::new(client), settings, "bench".into());

    reset_peak();
    let first_base = rss_mib();
    let before = requests.load(Ordering::Relaxed);
    let opened = connections();
    let start = Instant::now();
    let cpu = cpu_seconds();
    let threads = cpu_by_thread();
    let now = Utc::now();
    let first = poller.sweep(|| now).await.expect("first sweep");
    println!("  (first sweep's CPU by thread: {})", cpu_split(&threads));
    let first_time = start.elapsed();
    let first_cpu = cpu_seconds() - cpu;
    let first_requests = requests.load(Ordering::Relaxed) - before;
    let first_peak = peak_rss_mib();
    println!(
        "first sweep:  {:>6.2} s ({first_cpu:.2} s CPU, its writer busy {:.2} s), {first_requests} requests on {} connections, {:.0} requests/s, {} polled ({} failed), {} versions stored; peak RSS {first_peak:.1} MiB (from {first_base:.1})",
        first_time.as_secs_f64(),
        first.writer_busy.as_secs_f64(),
        connections() - opened,
        first_requests as f64 / first_time.as_secs_f64(),
        first.polled,
        first.failed,
        first.versions
    );

    reset_peak();
    let second_base = rss_mib();
    let before = requests.load(Ordering::Relaxed);
    let opened = connections();
    let start = Instant::now();
    let cpu = cpu_seconds();
    let later = now + chrono::Duration::hours(3);
    let second = poller.sweep(|| later).await.expect("second sweep");
    let second_time = start.elapsed();
    let second_cpu = cpu_seconds() - cpu;
    let second_requests = requests.load(Ordering::Relaxed) - before;
    println!(
        "second sweep: {:>6.2} s ({second_cpu:.2} s CPU, its writer busy {:.2} s), {second_requests} requests (all 304) on {} connections, {:.0} requests/s, {} polled; peak RSS {:.1} MiB (from {second_base:.1})",
        second_time.as_secs_f64(),
        second.writer_busy.as_secs_f64(),
        connections() - opened,
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
    let opened = connections();
    let start = Instant::now();
    let cpu = cpu_seconds();
    let threads = cpu_by_thread();
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
        "poller's HTTP client alone: {:>6.2} s ({:.2} s CPU, {} connections), the first sweep's requests without the database",
        start.elapsed().as_secs_f64(),
        cpu_seconds() - cpu,
        connections() - opened
    );
    println!("  (CPU by thread: {})", cpu_split(&threads));

    // The database work alone, on a database of its own.
    let alone = dir.with_extension("alone");
    let alone_db = seeded(&alone, hosts).await;
    let (time, cpu) = database_alone(&alone_db).await;
    println!(
        "poller's database work alone: {:>6.2} s ({cpu:.2} s CPU), the first sweep's claims and writes without requests",
        time.as_secs_f64()
    );
    alone_db.close().await;
    let _ = std::fs::remove_dir_all(alone);

    let bare = reqwest::Client::builder().pool_max_idle_per_host(32).build().expect("client");
    let opened = connections();
    let (fetched, bare_time) = bare_loop(&bare, urls.iter(), None).await;
    let bare_rate = fetched as f64 / bare_time.as_secs_f64();
    let poller_rate = first_requests as f64 / first_time.as_secs_f64();
    println!(
        "bare reqwest: {:>6.2} s, {fetched} requests on {} connections, {bare_rate:.0} requests/s",
        bare_time.as_secs_f64(),
        connections() - opened
    );
    println!("poller / bare throughput (first sweep, requests per second): {:.0} %", 100.0 * poller_rate / bare_rate);

    // The second sweep's requests: every versions list, conditional, all 304.
    let opened = connections();
    let (fetched, bare_time) = bare_loop(&bare, urls.iter().filter(|u| u.ends_with("/versions")), Some("\"v1\"")).await;
    let bare_rate = fetched as f64 / bare_time.as_secs_f64();
    println!(
        "bare reqwest, 304s: {:>6.2} s, {fetched} requests on {} connections, {bare_rate:.0} requests/s",
        bare_time.as_secs_f64(),
        connections() - opened
    );
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
