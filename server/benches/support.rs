//! `cargo bench -p server --bench support`: the support SLA's two speed
//! goals (issue 6), as numbers rather than assertions.
//!
//! 1. The clock: state of 100,000 issues over a year with a full set of
//!    public holidays, in a zone with daylight saving, on one core.
//!    Goal: under 50 ms.
//! 2. The staff SLA overview: a compliance roll-up for 2,000 partners
//!    (40,000 issues) read from the database, on SQLite and, when
//!    reachable, PostgreSQL (`TEST_POSTGRES_URL`, else the local default).
//!    Goal: under 500 ms.

use app::domain::access::{Caller, Role};
use app::domain::sla::{evaluate, Calendar, ClockState, IssueClock, Policy, Severity, Span};
use app::store::Db;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use std::time::Instant;

const ISSUES: usize = 100_000;
const PARTNERS: usize = 2_000;
const ISSUES_PER_PARTNER: usize = 20;
const RUNS: usize = 7;

/// A small deterministic generator: the same issues every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: i64) -> i64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as i64
    }
}

/// Germany's nationwide public holidays of 2026 and 2027 plus Berlin's own.
fn holidays() -> Vec<NaiveDate> {
    [
        "2026-01-01",
        "2026-03-08",
        "2026-04-03",
        "2026-04-06",
        "2026-05-01",
        "2026-05-14",
        "2026-05-25",
        "2026-10-03",
        "2026-12-24",
        "2026-12-25",
        "2026-12-26",
        "2026-12-31",
        "2027-01-01",
        "2027-03-08",
        "2027-03-26",
        "2027-03-29",
        "2027-05-01",
        "2027-05-06",
        "2027-05-17",
        "2027-10-03",
        "2027-12-24",
        "2027-12-25",
        "2027-12-26",
        "2027-12-31",
    ]
    .iter()
    .filter_map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    .collect()
}

/// Median and fastest of `RUNS` timings of `f`, in milliseconds.
fn timed<T>(mut f: impl FnMut() -> T) -> (f64, f64, T) {
    let mut times = Vec::with_capacity(RUNS);
    let mut last = None;
    for _ in 0..RUNS {
        let start = Instant::now();
        last = Some(std::hint::black_box(f()));
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    (times[RUNS / 2], times[0], last.expect("at least one run"))
}

fn clock_bench() {
    let start = Instant::now();
    let calendar = Calendar::new(chrono_tz::Europe::Berlin, holidays());
    println!("calendar (Europe/Berlin, {} holidays): built in {:.2} ms", holidays().len(), start.elapsed().as_secs_f64() * 1e3);
    let policy = Policy::default();
    let mut rng = Lcg(7);
    let base = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("date");
    // A third resolved, a fifth paused for a day, a quarter critical, one in
    // ten reopened once.
    let issues: Vec<(Severity, Vec<Span>, Vec<Span>)> = (0..ISSUES)
        .map(|i| {
            let start = base + Duration::seconds(rng.below(330 * 86_400));
            let end = (i % 3 == 0).then(|| start + Duration::seconds(rng.below(20 * 86_400)));
            let mut open = vec![Span { start, end: if i % 10 == 1 { Some(start + Duration::hours(30)) } else { end } }];
            if i % 10 == 1 {
                open.push(Span { start: start + Duration::hours(50), end });
            }
            let paused =
                if i % 5 == 0 { vec![Span { start: start + Duration::hours(2), end: Some(start + Duration::hours(26)) }] } else { vec![] };
            (if i % 4 == 0 { Severity::Critical } else { Severity::Normal }, open, paused)
        })
        .collect();
    let now = Utc.with_ymd_and_hms(2026, 11, 27, 16, 30, 0).single().expect("date");
    let (median, best, breached) = timed(|| {
        issues
            .iter()
            .map(|(severity, open, paused)| evaluate(&IssueClock { severity: *severity, open, paused }, &calendar, &policy, now))
            .filter(|c| c.state == ClockState::Breached)
            .count()
    });
    println!(
        "clock: {ISSUES} issues in {median:.1} ms median, {best:.1} ms best of {RUNS} ({:.0} ns/issue; {breached} breached); goal < 50 ms",
        median * 1e6 / ISSUES as f64
    );
}

/// Seeds `PARTNERS` partners, each with one run task and its issues: half
/// resolved inside the 90-day window (a tenth of them late), a quarter
/// resolved before it, a quarter still open.
async fn seed(db: &Db, now: DateTime<Utc>) {
    let mut rng = Lcg(11);
    app::on_pool!(db, |pool| {
        let mut tx = pool.begin().await.expect("begin");
        for p in 1..=PARTNERS as i64 {
            sqlx::query(
                "INSERT INTO partners (id, slug, name, kind, created_at, updated_at) VALUES ($1, $2, $3, 'infrastructure', $4, $4)",
            )
            .bind(p)
            .bind(format!("partner-{p}"))
            .bind(format!("Partner {p}"))
            .bind(now)
            .execute(&mut *tx)
            .await
            .expect("partner");
            sqlx::query(
                "INSERT INTO integrations (id, partner_id, kind, name, tier, stage, created_at, updated_at)
                 VALUES ($1, $1, 'run_task', $2, 'verified', 'support', $3, $3)",
            )
            .bind(p)
            .bind(format!("Run task {p}"))
            .bind(now)
            .execute(&mut *tx)
            .await
            .expect("integration");
            for n in 0..ISSUES_PER_PARTNER {
                let critical = n % 4 == 0;
                let opened = match n % 4 {
                    3 => now - Duration::days(rng.below(10) + 1),
                    2 => now - Duration::days(100 + rng.below(200)),
                    _ => now - Duration::days(rng.below(85) + 5),
                };
                let took = Duration::hours(if n % 10 == 0 { 200 } else { rng.below(40) + 1 });
                let resolved = (n % 4 != 3).then(|| opened + took);
                let due = opened + Duration::hours(if critical { 48 } else { 168 });
                let state = match resolved {
                    Some(r) if r <= due => "met",
                    Some(_) => "missed",
                    None if due < now => "breached",
                    None => "on_track",
                };
                let used = resolved.unwrap_or(now) - opened;
                sqlx::query(
                    "INSERT INTO support_issues (integration_id, source, number, title, labels, label_severity, opened_at, open_periods,
                        pause_periods, resolved_at, due_at, warn_at, clock_state, used_seconds, cycle, created_at, updated_at)
                     VALUES ($1, 'manual', NULL, $2, '', $3, $4, '[]', '[]', $5, $6, $7, $8, $9, 0, $4, $4)",
                )
                .bind(p)
                .bind(format!("Issue {n}"))
                .bind(if critical { "critical" } else { "normal" })
                .bind(opened)
                .bind(resolved)
                .bind(due)
                .bind(due - Duration::hours(24))
                .bind(state)
                .bind(used.num_seconds())
                .execute(&mut *tx)
                .await
                .expect("issue");
            }
        }
        tx.commit().await.expect("commit");
    });
}

async fn rollup_bench(backend: &str, url: &str) {
    let db = match Db::connect(url).await {
        Ok(db) => db,
        Err(e) => {
            println!("compliance roll-up on {backend}: skipped, cannot connect ({e})");
            return;
        }
    };
    db.migrate().await.expect("migrate");
    let now = Utc::now();
    let start = Instant::now();
    seed(&db, now).await;
    println!(
        "compliance roll-up on {backend}: seeded {PARTNERS} partners, {} issues in {:.1} s",
        PARTNERS * ISSUES_PER_PARTNER,
        start.elapsed().as_secs_f64()
    );
    let staff = Caller { user_id: 1, email: "staff@bench.test".into(), name: "Staff".into(), role: Role::Viewer, partner: None };
    let mut times = Vec::with_capacity(RUNS);
    let mut partners = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let overview = app::services::support::overview(&db, &staff, now).await.expect("overview");
        times.push(start.elapsed().as_secs_f64() * 1e3);
        partners = overview.len();
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "compliance roll-up on {backend}: {partners} partners in {:.1} ms median, {:.1} ms best of {RUNS}; goal < 500 ms",
        times[RUNS / 2],
        times[0]
    );
    db.close().await;
}

fn admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh PostgreSQL database for the bench; its URL and the admin pool that drops it.
async fn postgres_database() -> Option<(String, sqlx::PgPool, String)> {
    let admin_url = admin_url();
    let admin = match sqlx::PgPool::connect(&admin_url).await {
        Ok(pool) => pool,
        Err(e) => {
            println!("compliance roll-up on PostgreSQL: skipped, {admin_url} is not reachable ({e})");
            return None;
        }
    };
    let name = format!("bench_support_{}", std::process::id());
    sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&admin).await.ok()?;
    let base = admin_url.split('?').next().unwrap_or(&admin_url);
    let host = base.rsplit_once('/').map(|(h, _)| h).unwrap_or(base);
    Some((format!("{host}/{name}"), admin, name))
}

fn main() {
    clock_bench();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let dir = std::env::temp_dir().join(format!("support-bench-{}", std::process::id()));
        rollup_bench("SQLite", &format!("sqlite://{}/bench.db", dir.display())).await;
        let _ = std::fs::remove_dir_all(&dir);
        if let Some((url, admin, name)) = postgres_database().await {
            rollup_bench("PostgreSQL", &url).await;
            let _ = sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)")).execute(&admin).await;
        }
    });
}
