//! The registry poller against fake registries speaking the protocol: new
//! versions found once (also with two pollers on one database), release
//! checks, tier mismatch, provider gone, every failure with a clear status,
//! back-off and Retry-After, the SSRF guard, mirrors, "poll now", the status
//! page's numbers, and the Publish task completed by a published version.
//! The clock is passed to each step, never slept.

use crate::fake_registry::{Behaviour, Discovery, FakeRegistry, Provider};
use crate::helpers::TestApp;
use app::domain::access::Role;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use server::jobs::registry_poll::{Poller, Settings};
use server::outbound::guard::Guard;
use server::outbound::registry::{RegistryClient, Settings as ClientSettings};
use std::sync::Arc;

const ALLOW_LOCAL: &str = "http://127.0.0.1";

fn poller(app: &TestApp, instance: &str, allow: &str, tweak: impl FnOnce(&mut Settings, &mut ClientSettings)) -> Poller {
    let mut settings = Settings::default();
    let mut client = ClientSettings { metadata_hosts: vec![], ..ClientSettings::default() };
    tweak(&mut settings, &mut client);
    let guard = Guard::parse(allow).expect("allow-list");
    let client = RegistryClient::new(Arc::new(guard), client).expect("client");
    Poller::new(app.db.clone(), Arc::new(client), settings, instance.into())
}

/// Claims not released: none should be left once a sweep or write ends.
const UNRELEASED: &str = "SELECT COUNT(*) FROM registry_polls WHERE claimed_by IS NOT NULL";

/// A `SELECT COUNT(*) …` of the test's database.
async fn count(app: &TestApp, sql: &str) -> i64 {
    app::on_pool!(&app.db, |pool| sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.unwrap())
}

/// A provider integration of a fresh partner; returns its id.
async fn provider(app: &TestApp, partner: &str, address: &str, extra: Value) -> i64 {
    let (s, b) = app.post_json("/api/v1/partners", &json!({"name": partner, "kind": "infrastructure", "registry_namespace": "acme"})).await;
    assert!(s == 201 || s == 409, "{b}");
    let slug = partner.to_lowercase().replace(' ', "-");
    let mut body = json!({"kind": "provider", "name": format!("{partner} provider"), "partner": slug, "source_address": address,
        "tier": "verified", "stage": "publish", "categories": ["Networking"]});
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        body[k] = v;
    }
    let (s, b) = app.post_json("/api/v1/integrations", &body).await;
    assert_eq!(s, 201, "{b}");
    b["id"].as_i64().unwrap()
}

async fn versions(app: &TestApp, id: i64) -> Value {
    let (s, b) = app.get_json(&format!("/api/v1/integrations/{id}/versions")).await;
    assert_eq!(s, 200, "{b}");
    b
}

fn event_kinds(registry: &Value) -> Vec<String> {
    registry["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

fn t0() -> DateTime<Utc> {
    Utc::now()
}

async fn new_versions_are_found_once_and_complete_the_publish_task(app: TestApp) {
    let fake = FakeRegistry::start(Discovery::Relative).await;
    fake.set("acme", "widget", Provider::new(&["1.0.0", "1.1.0", "0.9.0"]));
    let id = provider(&app, "Acme", &format!("{}/acme/widget", fake.host), json!({"verified_version_range": "~> 1.0"})).await;
    let p = poller(&app, "one", ALLOW_LOCAL, |_, _| {});
    let now = t0();

    let first = p.sweep(|| now).await.unwrap();
    assert_eq!((first.polled, first.failed, first.versions), (1, 0, 3), "{first:?}");
    let r = versions(&app, id).await;
    assert_eq!(r["latest"], "1.1.0");
    assert_eq!(event_kinds(&r), ["found"], "the first listing is one event, not one per version");
    let v = &r["versions"][0];
    assert_eq!((v["version"].as_str(), v["release_check"].as_str()), (Some("1.1.0"), Some("complete")));
    assert_eq!(v["platforms"], json!(["darwin_arm64", "linux_amd64", "windows_amd64"]));
    assert_eq!(v["protocols"], json!(["5.0", "6.0"]));
    assert_eq!(r["versions"][2]["release_check"], "unchecked", "only the latest is checked on the first poll");
    assert_eq!(r["polls"][0]["last_outcome"], "ok");
    // The Publish stage's automatic task is done, with the version as its note.
    let (_, pipeline) = app.get_json(&format!("/api/v1/integrations/{id}/pipeline")).await;
    let task =
        pipeline["stages"].as_array().unwrap().iter().flat_map(|s| s["tasks"].as_array().unwrap()).find(|t| t["key"] == "publish.version");
    let task = task.expect("the Publish stage has a version_published task");
    assert_eq!(task["state"], "accepted", "{task}");
    assert!(task["events"].to_string().contains("version 1.1.0 is on"), "{task}");

    // Nothing due yet: the next poll is about an interval away (10 min in Publish).
    let idle = p.sweep(|| now + Duration::minutes(1)).await.unwrap();
    assert_eq!(idle.claimed, 0);
    assert!(
        first.writer_busy > std::time::Duration::ZERO && idle.writer_busy.is_zero(),
        "the writer's time is counted: {first:?} {idle:?}"
    );

    // A new version: one event, even when polled again and again.
    fake.update("acme", "widget", |p| p.versions.push("1.2.0".into()));
    fake.clear_log();
    let later = now + Duration::hours(2);
    let second = p.sweep(|| later).await.unwrap();
    assert_eq!((second.versions, second.events), (1, 1), "{second:?}");
    assert!(fake.log().iter().any(|l| l.contains("/versions [\"")), "the poll was conditional: {:?}", fake.log());
    fake.clear_log();
    let third = p.sweep(|| later + Duration::hours(2)).await.unwrap();
    assert_eq!((third.polled, third.versions, third.events), (1, 0, 0));
    assert_eq!(fake.log().iter().filter(|l| l.contains("/download/")).count(), 0, "a 304 costs one request: {:?}", fake.log());
    let r = versions(&app, id).await;
    assert_eq!(r["polls"][0]["last_outcome"], "not_modified");
    assert_eq!(r["latest"], "1.2.0");
    assert_eq!(event_kinds(&r), ["new_version", "found"]);
    let (_, audit) = app.get_json(&format!("/api/v1/integrations/{id}/audit")).await;
    assert!(audit.to_string().contains("New version on"), "the timeline shows it: {audit}");
}

async fn two_pollers_record_each_event_once(app: TestApp) {
    let fake = FakeRegistry::start(Discovery::Relative).await;
    let mut ids = Vec::new();
    for n in 0..24 {
        fake.set("acme", &format!("p{n}"), Provider::new(&["1.0.0"]));
        ids.push(provider(&app, "Acme", &format!("{}/acme/p{n}", fake.host), json!({"name": format!("P{n}")})).await);
    }
    let a = poller(&app, "instance-a", ALLOW_LOCAL, |s, _| s.concurrency = 4);
    let b = poller(&app, "instance-b", ALLOW_LOCAL, |s, _| s.concurrency = 4);
    let now = t0();
    let (ra, rb) = tokio::join!(a.sweep(|| now), b.sweep(|| now));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.polled + rb.polled, 24, "each provider polled once: {ra:?} {rb:?}");
    for n in 0..24 {
        fake.update("acme", &format!("p{n}"), |p| p.versions.push("1.1.0".into()));
    }
    let later = now + Duration::hours(3);
    let (ra, rb) = tokio::join!(a.sweep(|| later), b.sweep(|| later));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(ra.polled + rb.polled, 24, "{ra:?} {rb:?}");
    assert_eq!(ra.events + rb.events, 24, "one new-version event per provider: {ra:?} {rb:?}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM registry_events WHERE kind = 'new_version'").await, 24);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_versions").await, 48);
    assert_eq!(count(&app, UNRELEASED).await, 0, "every claim released");
}

/// A poll that finds a version already stored (its claim was taken again by
/// this instance after the lease ran out, and the first poll wrote it): the
/// batch still stores the other versions, its own and its neighbours', and
/// counts exactly those (the plain insert fails and the batch falls back
/// to one that skips stored versions).
async fn versions_stored_meanwhile_are_skipped_and_the_rest_counted(app: TestApp) {
    use app::store::registry::{self as store, Found, NewVersion, Outcome};
    let fake = FakeRegistry::start(Discovery::Relative).await;
    fake.set("acme", "a", Provider::new(&["1.0.0"]));
    fake.set("acme", "b", Provider::new(&["2.0.0"]));
    let a = provider(&app, "Acme", &format!("{}/acme/a", fake.host), json!({"name": "A"})).await;
    let b = provider(&app, "Acme", &format!("{}/acme/b", fake.host), json!({"name": "B"})).await;
    let now = t0();
    poller(&app, "one", ALLOW_LOCAL, |_, _| {}).sweep(|| now).await.unwrap();

    let later = now + Duration::hours(3);
    let claimed = store::claim(&app.db, "one", later, Duration::minutes(5), 10).await.unwrap();
    assert_eq!(claimed.len(), 2, "{claimed:?}");
    let outcome = |id: i64, versions: &[&str]| {
        let due = claimed.iter().find(|d| d.integration_id == id).expect("claimed");
        let versions = versions
            .iter()
            .map(|v| NewVersion {
                version: v.to_string(),
                protocols: "6.0".into(),
                platforms: "linux_amd64".into(),
                published_at: None,
                missing: None,
            })
            .collect();
        let o = Outcome {
            integration_id: id,
            registry_host: due.registry_host.clone(),
            outcome: "ok",
            error: None,
            failures: 0,
            next_poll_at: later + Duration::hours(1),
            validators: None,
            found: Found::Keep,
            metadata: None,
            versions,
            events: Vec::new(),
        };
        (o, None)
    };
    let batch = [outcome(a, &["1.0.0", "1.1.0"]), outcome(b, &["2.1.0"])];
    let recorded = store::record_outcomes(&app.db, "one", &batch, later, None).await.unwrap();
    let counted: Vec<(bool, u64)> = recorded.iter().map(|r| (r.held, r.versions)).collect();
    assert_eq!(counted, [(true, 1), (true, 1)], "1.0.0 was stored already; 1.1.0 and 2.1.0 are new");
    let listed =
        |r: Value| r["versions"].as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(listed(versions(&app, a).await), ["1.1.0", "1.0.0"]);
    assert_eq!(listed(versions(&app, b).await), ["2.1.0", "2.0.0"]);
    assert_eq!(count(&app, UNRELEASED).await, 0, "both claims released");
}

/// A sweep larger than one claim (16 polls at concurrency 1) goes on from
/// batch to batch without a break: every provider polled once, the
/// status page's progress counts all of them, every claim released.
async fn a_sweep_goes_on_across_claimed_batches(app: TestApp) {
    let fake = FakeRegistry::start(Discovery::Relative).await;
    let mut ids = Vec::new();
    for n in 0..40 {
        fake.set("acme", &format!("q{n}"), Provider::new(&["1.0.0", "1.1.0"]));
        ids.push(provider(&app, "Acme", &format!("{}/acme/q{n}", fake.host), json!({"name": format!("Q{n}")})).await);
    }
    let p = poller(&app, "solo", ALLOW_LOCAL, |s, _| {
        s.concurrency = 1;
        s.per_host = 1;
    });
    let now = t0();
    let first = p.sweep(|| now).await.unwrap();
    assert_eq!((first.claimed, first.polled, first.failed, first.versions), (40, 40, 0, 80), "{first:?}");
    let (s, status) = app.get_json("/api/v1/registry/status").await;
    assert_eq!(s, 200, "{status}");
    assert_eq!((status["sweep"]["total"].as_i64(), status["sweep"]["done"].as_i64()), (Some(40), Some(40)), "{status}");
    assert!(status["sweep"]["finished_at"].is_string(), "{status}");
    for n in 0..40 {
        fake.update("acme", &format!("q{n}"), |p| p.versions.push("1.2.0".into()));
    }
    let later = now + Duration::hours(3);
    let second = p.sweep(|| later).await.unwrap();
    assert_eq!((second.polled, second.versions, second.events), (40, 40, 40), "one new version each: {second:?}");
    for id in [ids[0], ids[17], ids[39]] {
        let r = versions(&app, id).await;
        assert_eq!(r["latest"], "1.2.0", "{r}");
    }
    assert_eq!(count(&app, UNRELEASED).await, 0, "every claim released");
}

/// A host that asks to slow down is paused for the rest of the sweep,
/// including the batch claimed while its first poll ran: one request, the
/// other polls postponed past Retry-After.
async fn a_pause_holds_for_batches_claimed_ahead(app: TestApp) {
    let fake = FakeRegistry::start(Discovery::Relative).await;
    for n in 0..40 {
        let mut p = Provider::new(&["1.0.0"]);
        p.behaviour = Behaviour::RateLimited(600);
        fake.set("acme", &format!("r{n}"), p);
        provider(&app, "Acme", &format!("{}/acme/r{n}", fake.host), json!({"name": format!("R{n}")})).await;
    }
    let p = poller(&app, "solo", ALLOW_LOCAL, |s, _| {
        s.concurrency = 1;
        s.per_host = 1;
    });
    let now = t0();
    let report = p.sweep(|| now).await.unwrap();
    let asked = fake.log().iter().filter(|l| l.contains("/versions")).count();
    assert_eq!(asked, 1, "one request, then the host waits: {:?}", fake.log());
    assert_eq!((report.claimed, report.polled, report.postponed), (40, 1, 39), "{report:?}");
    // The status page counts the one poll, failed, in the same write as its outcome.
    let (_, status) = app.get_json("/api/v1/registry/status").await;
    assert_eq!((status["sweep"]["done"].as_i64(), status["sweep"]["failed"].as_i64()), (Some(1), Some(1)), "{status}");
    let early = app::on_pool!(&app.db, |pool| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM registry_polls WHERE next_poll_at < $1")
        .bind(now + Duration::seconds(600))
        .fetch_one(pool)
        .await
        .unwrap());
    assert_eq!(early, 0, "no poll is due before Retry-After");
}

async fn leases_keep_a_poll_to_one_instance_until_they_expire(app: TestApp) {
    let fake = FakeRegistry::start(Discovery::Relative).await;
    fake.set("acme", "widget", Provider::new(&["1.0.0"]));
    provider(&app, "Acme", &format!("{}/acme/widget", fake.host), json!({})).await;
    let now = t0();
    app::store::registry::sync(&app.db, &[], now).await.unwrap();
    let lease = Duration::minutes(5);
    let first = app::store::registry::claim(&app.db, "a", now, lease, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(app::store::registry::claim(&app.db, "b", now, lease, 10).await.unwrap().is_empty(), "claimed by a");
    // a crashed: after the lease, b takes over, and a's late result is dropped.
    let taken = app::store::registry::claim(&app.db, "b", now + Duration::minutes(6), lease, 10).await.unwrap();
    assert_eq!(taken.len(), 1);
    let late = app::store::registry::Outcome {
        integration_id: first[0].integration_id,
        registry_host: first[0].registry_host.clone(),
        outcome: "ok",
        error: None,
        failures: 0,
        next_poll_at: now + Duration::hours(1),
        validators: None,
        found: app::store::registry::Found::Keep,
        metadata: None,
        versions: vec![],
        events: vec![],
    };
    let recorded = app::store::registry::record_outcome(&app.db, "a", &late, None, now + Duration::minutes(7)).await.unwrap();
    assert!(!recorded.held, "a no longer holds the claim");

    // One batch, written with multi-row statements, with a claim held and a
    // claim lost: only the held one's versions and events are stored.
    fake.set("acme", "gadget", Provider::new(&["2.0.0"]));
    provider(&app, "Acme", &format!("{}/acme/gadget", fake.host), json!({})).await;
    let later = now + Duration::minutes(8);
    app::store::registry::sync(&app.db, &[], later).await.unwrap();
    let mine = app::store::registry::claim(&app.db, "b", later, lease, 10).await.unwrap();
    assert_eq!(mine.len(), 1, "the new provider; the first is still b's");
    let version = |v: &str| app::store::registry::NewVersion {
        version: v.into(),
        protocols: "6.0".into(),
        platforms: "linux_amd64".into(),
        published_at: None,
        missing: Some(vec![]),
    };
    let event = |v: &str| app::store::registry::NewEvent {
        kind: app::domain::registry::EventKind::NewVersion,
        key: v.into(),
        version: Some(v.into()),
        detail: format!("{v} published"),
    };
    let held = app::store::registry::Outcome {
        integration_id: mine[0].integration_id,
        registry_host: mine[0].registry_host.clone(),
        versions: vec![version("2.0.0"), version("2.1.0")],
        events: vec![event("2.1.0")],
        validators: Some((Some("\"v2\"".into()), None)),
        ..late.clone()
    };
    let lost = app::store::registry::Outcome { versions: vec![version("9.9.9")], events: vec![event("9.9.9")], ..late.clone() };
    let batch = [(held.clone(), None), (lost, None)];
    let recorded = app::store::registry::record_outcomes(&app.db, "b-other", &batch, later, None).await.unwrap();
    assert!(recorded.iter().all(|r| !r.held), "nothing is written under another instance's name");
    let recorded = app::store::registry::record_outcomes(&app.db, "b", &batch[..1], later, None).await.unwrap();
    assert_eq!((recorded[0].held, recorded[0].versions, recorded[0].events), (true, 2, 1));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_versions").await, 2);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM provider_versions WHERE version = '9.9.9'").await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM registry_events WHERE event_key = '2.1.0'").await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM registry_polls WHERE etag = '\"v2\"' AND claimed_by IS NULL").await, 1);
    // b's first claim was never released: a batch from a holds nothing.
    let mixed = [(late.clone(), None), (held, None)];
    let recorded = app::store::registry::record_outcomes(&app.db, "a", &mixed, later, None).await.unwrap();
    assert_eq!(recorded.iter().map(|r| r.held).collect::<Vec<_>>(), vec![false, false]);
    // Same batch by b: the first is b's, the second was released above.
    let recorded = app::store::registry::record_outcomes(&app.db, "b", &mixed, later, None).await.unwrap();
    assert_eq!(recorded.iter().map(|r| r.held).collect::<Vec<_>>(), vec![true, false]);
}

/// The state of the Publish stage's automatic task ("published on the registry").
async fn publish_task_state(app: &TestApp, id: i64) -> String {
    let (_, pipeline) = app.get_json(&format!("/api/v1/integrations/{id}/pipeline")).await;
    let task =
        pipeline["stages"].as_array().unwrap().iter().flat_map(|s| s["tasks"].as_array().unwrap()).find(|t| t["key"] == "publish.version");
    task.expect("the Publish stage has a version_published task")["state"].as_str().unwrap().to_string()
}

/// A provider listed before its first release completes the Publish task
/// when that release appears; a host rate limiting the release check fails
/// the poll instead of storing the version as never to be checked, and the
/// next poll checks it.
async fn a_first_release_after_listing_is_checked_and_completes_publish(app: TestApp) {
    let fake = FakeRegistry::start(Discovery::Relative).await;
    fake.set("acme", "gadget", Provider::new(&[]));
    let id = provider(&app, "Acme", &format!("{}/acme/gadget", fake.host), json!({})).await;
    let p = poller(&app, "one", ALLOW_LOCAL, |_, _| {});
    let now = t0();
    p.sweep(|| now).await.unwrap();
    let r = versions(&app, id).await;
    assert_eq!((event_kinds(&r), r["polls"][0]["last_outcome"].as_str()), (vec!["found".to_string()], Some("ok")), "{r}");
    assert_ne!(publish_task_state(&app, id).await, "accepted", "no version yet");

    // The first release, while the host rate limits its download answers.
    fake.update("acme", "gadget", |p| {
        p.versions.push("1.0.0".into());
        p.downloads = Behaviour::RateLimited(120);
    });
    let later = now + Duration::hours(2);
    p.sweep(|| later).await.unwrap();
    let r = versions(&app, id).await;
    let poll = &r["polls"][0];
    assert_eq!(poll["last_outcome"], "error", "{poll}");
    assert!(poll["last_error"].as_str().unwrap().contains("slow down"), "{poll}");
    assert_eq!(r["versions"].as_array().map(Vec::len), Some(0), "nothing stored unchecked: {r}");
    assert_ne!(publish_task_state(&app, id).await, "accepted");

    // The host answers again: the release is checked, and Publish is done.
    fake.update("acme", "gadget", |p| p.downloads = Behaviour::Normal);
    let again = later + Duration::minutes(10);
    p.sweep(|| again).await.unwrap();
    let r = versions(&app, id).await;
    assert_eq!(r["polls"][0]["last_outcome"], "ok", "{r}");
    let v = &r["versions"][0];
    assert_eq!((v["version"].as_str(), v["release_check"].as_str()), (Some("1.0.0"), Some("complete")), "{r}");
    assert_eq!(event_kinds(&r), ["new_version", "found"]);
    assert_eq!(publish_task_state(&app, id).await, "accepted");
}

/// The alliance manager hears of a provider's first release (the registry
/// knew nothing of it before, so it is "found", not a new version), but
/// not of the latest version of a provider that was published long before
/// the tracker knew it.
async fn a_first_release_reaches_the_manager(app: TestApp) {
    let fake = FakeRegistry::start(Discovery::Relative).await;
    app.user("am@tracker.example.com", app::domain::access::Role::Reviewer, None, app::domain::user::UserStatus::Active).await;
    let (s, b) = app
        .post_json(
            "/api/v1/partners",
            &json!({"name": "Acme", "kind": "infrastructure", "registry_namespace": "acme",
                "alliance_manager_name": "Alex Manager", "alliance_manager_email": "am@tracker.example.com"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let new = provider(&app, "Acme", &format!("{}/acme/fresh", fake.host), json!({"name": "Acme fresh"})).await;
    fake.set("acme", "old", Provider::new(&["2.0.0", "2.1.0"]));
    provider(&app, "Acme", &format!("{}/acme/old", fake.host), json!({"name": "Acme old", "stage": "support"})).await;
    let p = poller(&app, "one", ALLOW_LOCAL, |_, _| {});
    let now = t0();
    p.sweep(|| now).await.unwrap();
    assert_eq!(versions(&app, new).await["polls"][0]["last_outcome"], "not_found");

    fake.set("acme", "fresh", Provider::new(&["0.1.0"]));
    p.sweep(|| now + Duration::hours(2)).await.unwrap();
    let r = versions(&app, new).await;
    assert_eq!(event_kinds(&r), ["found"], "{r}");
    let (s, o) = app.get_json("/api/v1/outbox?kind=version_published").await;
    assert_eq!(s, 200, "{o}");
    let rows = o["rows"]["items"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "one alert, for the first release only: {o}");
    assert_eq!(rows[0]["recipient"], "am@tracker.example.com", "{o}");
    assert!(rows[0]["subject"].as_str().unwrap().contains("Acme fresh"), "{o}");
}

/// Each misbehaving registry gives its own outcome and a message that says what happened.
async fn failures_give_clear_statuses(app: TestApp) {
    struct Case {
        discovery: Discovery,
        behaviour: Option<Behaviour>,
        outcome: &'static str,
        message: &'static str,
    }
    let cases = vec![
        Case {
            discovery: Discovery::Missing,
            behaviour: Some(Behaviour::Normal),
            outcome: "error",
            message: "offers no registry services",
        },
        Case {
            discovery: Discovery::ModulesOnly,
            behaviour: Some(Behaviour::Normal),
            outcome: "error",
            message: "is not a provider registry",
        },
        Case { discovery: Discovery::Relative, behaviour: None, outcome: "not_found", message: "" },
        Case { discovery: Discovery::Relative, behaviour: Some(Behaviour::Status(500)), outcome: "error", message: "answered 500" },
        Case { discovery: Discovery::Relative, behaviour: Some(Behaviour::Status(401)), outcome: "unauthorised", message: "set a token" },
        Case {
            discovery: Discovery::Relative,
            behaviour: Some(Behaviour::RateLimited(120)),
            outcome: "error",
            message: "asked us to slow down (429)",
        },
        Case {
            discovery: Discovery::Relative,
            behaviour: Some(Behaviour::Slow(std::time::Duration::from_secs(3))),
            outcome: "error",
            message: "no answer within 1 seconds",
        },
        Case { discovery: Discovery::Relative, behaviour: Some(Behaviour::Malformed), outcome: "error", message: "not valid JSON" },
        Case {
            discovery: Discovery::Relative,
            behaviour: Some(Behaviour::Huge(300_000)),
            outcome: "error",
            message: "larger than 65536 bytes",
        },
        Case { discovery: Discovery::Absolute, behaviour: Some(Behaviour::Normal), outcome: "ok", message: "" },
    ];
    let p = poller(&app, "one", ALLOW_LOCAL, |_, c| {
        c.timeout = std::time::Duration::from_secs(1);
        c.max_body = 65536;
    });
    let mut ids = Vec::new();
    let mut fakes = Vec::new();
    for (n, case) in cases.iter().enumerate() {
        let fake = FakeRegistry::start(case.discovery.clone()).await;
        if let Some(b) = &case.behaviour {
            let mut provider = Provider::new(&["1.0.0"]);
            provider.behaviour = b.clone();
            fake.set("acme", "widget", provider);
        }
        ids.push(provider(&app, "Acme", &format!("{}/acme/widget", fake.host), json!({"name": format!("Case {n}")})).await);
        fakes.push(fake);
    }
    let now = t0();
    let report = p.sweep(|| now).await.unwrap();
    assert_eq!(report.polled, cases.len(), "{report:?}");
    for (case, id) in cases.iter().zip(&ids) {
        let r = versions(&app, *id).await;
        let poll = &r["polls"][0];
        assert_eq!(poll["last_outcome"], case.outcome, "{:?}/{:?}: {poll}", case.discovery, case.behaviour);
        let error = poll["last_error"].as_str().unwrap_or_default();
        assert!(error.contains(case.message), "{:?}/{:?}: {error}", case.discovery, case.behaviour);
        let next = DateTime::parse_from_rfc3339(poll["next_poll_at"].as_str().unwrap()).unwrap().with_timezone(&Utc);
        match case.outcome {
            // Backed off: the first retry comes 30–60 s later, or when Retry-After says.
            "error" | "unauthorised" => {
                let wait = (next - now).num_seconds();
                if let Some(Behaviour::RateLimited(secs)) = case.behaviour {
                    assert!(wait >= secs as i64 - 2, "Retry-After honoured: {wait}");
                } else {
                    assert!((30..=60).contains(&wait), "{wait}");
                }
            }
            _ => assert!((next - now).num_minutes() >= 8, "the regular interval"),
        }
    }
    // The rate-limited and failing hosts are paused for all their providers.
    let (s, status) = app.get_json("/api/v1/registry/status").await;
    assert_eq!(s, 200, "{status}");
    let hosts = status["hosts"].as_array().unwrap();
    let limited = hosts.iter().find(|h| h["host"] == fakes[5].host).unwrap();
    assert!(limited["blocked_until"].is_string(), "{limited}");
    assert!(limited["last_error"].as_str().unwrap().contains("slow down"));
    assert_eq!(status["sweep"]["done"], cases.len());
    assert_eq!(status["providers"], cases.len());

    // Failures in a row back off exponentially.
    let failing = &fakes[3];
    for round in 1..=3 {
        let at = now + Duration::hours(round);
        p.sweep(|| at).await.unwrap();
        let _ = failing;
    }
    let r = versions(&app, ids[3]).await;
    let next = DateTime::parse_from_rfc3339(r["polls"][0]["next_poll_at"].as_str().unwrap()).unwrap().with_timezone(&Utc);
    let wait = (next - (now + Duration::hours(3))).num_seconds();
    assert!((240..=480).contains(&wait), "the fourth failure in a row waits 4–8 minutes: {wait}");
}

async fn the_registry_is_compared_with_the_tracker(app: TestApp) {
    let fake = FakeRegistry::start(Discovery::Relative).await;
    let mut widget = Provider::new(&["2.0.0", "2.1.0"]);
    widget.tier = "community".into();
    fake.set("acme", "widget", widget);
    let id = provider(&app, "Acme", &format!("{}/acme/widget", fake.host), json!({"verified_version_range": "~> 2.0", "stage": "support"}))
        .await;
    let p = poller(&app, "one", ALLOW_LOCAL, |_, c| c.metadata_hosts = vec![fake.host.clone()]);
    let now = t0();
    p.sweep(|| now).await.unwrap();
    let r = versions(&app, id).await;
    assert_eq!(event_kinds(&r), ["tier_mismatch", "found"], "newest first");
    let mismatch = r["events"].as_array().unwrap().iter().find(|e| e["kind"] == "tier_mismatch").unwrap();
    assert!(mismatch["detail"].as_str().unwrap().contains("tier \"community\""), "{mismatch}");
    assert_eq!(r["polls"][0]["registry_tier"], "community");
    assert_eq!(r["polls"][0]["downloads"], 1234567);
    assert!(r["versions"][0]["published_at"].is_string(), "publication dates from the metadata: {}", r["versions"][0]);

    // A new major with an unsigned platform: outside the verified range, release incomplete.
    fake.update("acme", "widget", |p| {
        p.versions.push("3.0.0".into());
        p.unsigned.insert(("3.0.0".into(), "linux_amd64".into()));
    });
    p.sweep(|| now + Duration::hours(2)).await.unwrap();
    let r = versions(&app, id).await;
    let kinds = event_kinds(&r);
    for k in ["new_version", "outside_verified_range", "release_incomplete"] {
        assert!(kinds.contains(&k.to_string()), "{k} in {kinds:?}");
    }
    assert_eq!(kinds.iter().filter(|k| *k == "tier_mismatch").count(), 1, "the same mismatch is reported once");
    let v3 = &r["versions"][0];
    assert_eq!(v3["release_check"], "incomplete");
    assert_eq!(v3["release_missing"], "linux_amd64: shasums_signature_url, signing_keys");

    // The provider disappears: "provider gone", once.
    fake.remove("acme", "widget");
    p.sweep(|| now + Duration::hours(4)).await.unwrap();
    p.sweep(|| now + Duration::hours(6)).await.unwrap();
    let r = versions(&app, id).await;
    assert_eq!(event_kinds(&r).iter().filter(|k| *k == "provider_gone").count(), 1, "{:?}", event_kinds(&r));
    assert_eq!(r["polls"][0]["last_outcome"], "not_found");
}

async fn user_typed_hosts_pass_the_ssrf_guard(app: TestApp) {
    let fake = FakeRegistry::start(Discovery::Relative).await;
    fake.set("acme", "widget", Provider::new(&["1.0.0"]));
    let port = fake.host.rsplit(':').next().unwrap().to_string();
    let loopback = provider(&app, "Acme", &format!("localhost:{port}/acme/widget"), json!({"name": "Loopback"})).await;
    let metadata = provider(&app, "Acme", "169.254.169.254/acme/widget", json!({"name": "Metadata"})).await;
    let literal = provider(&app, "Acme", &format!("{}/acme/widget", fake.host), json!({"name": "Literal"})).await;
    // No allow-list, as in production.
    let p = poller(&app, "one", "", |_, _| {});
    let now = t0();
    p.sweep(|| now).await.unwrap();
    for (id, words) in
        [(loopback, "127.0.0.1"), (metadata, "169.254.169.254 is not a public address"), (literal, "127.0.0.1 is not a public address")]
    {
        let r = versions(&app, id).await;
        let poll = &r["polls"][0];
        assert_eq!(poll["last_outcome"], "refused", "{poll}");
        assert!(poll["last_error"].as_str().unwrap().contains(words), "{poll}");
    }
    assert!(fake.log().is_empty(), "nothing reached the registry: {:?}", fake.log());
}

async fn mirrors_show_the_gap(app: TestApp) {
    let primary = FakeRegistry::start(Discovery::Relative).await;
    let mirror = FakeRegistry::start(Discovery::Absolute).await;
    primary.set("acme", "widget", Provider::new(&["1.0.0", "1.1.0", "1.2.0"]));
    mirror.set("acme", "widget", Provider::new(&["1.0.0", "1.1.0"]));
    let id = provider(&app, "Acme", &format!("{}/acme/widget", primary.host), json!({})).await;
    let pairs = vec![(primary.host.clone(), mirror.host.clone())];
    let p = poller(&app, "one", ALLOW_LOCAL, |s, _| s.mirrors = pairs);
    p.sweep(t0).await.unwrap();
    let r = versions(&app, id).await;
    assert_eq!(r["polls"].as_array().unwrap().len(), 2);
    assert_eq!(r["polls"][0]["registry_host"], primary.host.as_str(), "the provider's own registry first");
    assert_eq!(r["gaps"], json!([[mirror.host, ["1.2.0"]]]));
    assert_eq!(r["versions"][0]["hosts"], json!([primary.host]));
    assert_eq!(r["versions"][1]["hosts"], json!([primary.host, mirror.host]));
    // The page shows the same.
    let page = app.get(&format!("/integrations/{id}")).await.text().await.unwrap();
    assert!(page.contains(&format!("{} lacks one version: 1.2.0", mirror.host)), "{page}");
    assert!(page.contains("latest-version") && page.contains("Latest version"), "latest badge");
}

async fn staff_poll_now_and_partners_see_only_their_own(app: TestApp) {
    let fake = FakeRegistry::start(Discovery::Relative).await;
    fake.set("acme", "widget", Provider::new(&["1.0.0"]));
    let id = provider(&app, "Acme", &format!("{}/acme/widget", fake.host), json!({})).await;
    app.partner("Other Co", "infrastructure").await;
    let (_, other) = app.client_as("m@other.example", Role::Partner, Some("other-co")).await;
    let (_, own) = app.client_as("m@acme.example", Role::Partner, Some("acme")).await;
    let p = poller(&app, "one", ALLOW_LOCAL, |_, _| {});
    let now = t0();
    p.sweep(|| now).await.unwrap();
    // Not due for a while; "poll now" makes it due at once.
    assert_eq!(p.sweep(|| now + Duration::minutes(2)).await.unwrap().claimed, 0);
    let res = own.post(app.url(&format!("/api/v1/integrations/{id}/poll"))).send().await.unwrap();
    assert_eq!(res.status(), 403, "partners cannot make the poller run");
    let res = other.get(app.url(&format!("/api/v1/integrations/{id}/versions"))).send().await.unwrap();
    assert_eq!(res.status(), 404, "another partner's provider does not exist for them");
    let res = own.get(app.url(&format!("/api/v1/integrations/{id}/versions"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let (s, b) = app.post_json(&format!("/api/v1/integrations/{id}/poll"), &json!({})).await;
    assert_eq!((s, b["queued"].as_i64()), (202, Some(1)), "{b}");
    assert_eq!(p.sweep(Utc::now).await.unwrap().polled, 1);
    // A run task has no registry.
    let (_, rt) = app.post_json("/api/v1/partners", &json!({"name": "Flow", "kind": "workflow"})).await;
    assert!(rt["slug"].is_string());
    let (_, task) = app
        .post_json(
            "/api/v1/integrations",
            &json!({"kind": "run_task", "name": "Scan", "partner": "flow", "categories": ["Code Scanning"], "stage": "engage"}),
        )
        .await;
    let (s, b) = app.get_json(&format!("/api/v1/integrations/{}/versions", task["id"])).await;
    assert_eq!(s, 400, "{b}");
    assert!(b["error"].as_str().unwrap_or_default().contains("only providers"), "{b}");
}

crate::on_both_backends!(
    new_versions_are_found_once_and_complete_the_publish_task,
    two_pollers_record_each_event_once,
    versions_stored_meanwhile_are_skipped_and_the_rest_counted,
    a_sweep_goes_on_across_claimed_batches,
    a_pause_holds_for_batches_claimed_ahead,
    leases_keep_a_poll_to_one_instance_until_they_expire,
    failures_give_clear_statuses,
    a_first_release_after_listing_is_checked_and_completes_publish,
    a_first_release_reaches_the_manager,
    the_registry_is_compared_with_the_tracker,
    user_typed_hosts_pass_the_ssrf_guard,
    mirrors_show_the_gap,
    staff_poll_now_and_partners_see_only_their_own,
);
