//! The GitHub sync against the fake GitHub API: issues with their clocks
//! (pull requests left out), the licence completing the Prepare task, free
//! 304s, close/reopen cycles with their events, deleted issues, rate limits
//! pausing every instance, a low budget, server errors with back-off, and
//! two instances syncing each repository once. The clock is passed to each
//! step, never slept.

use crate::fake_github_api::{FakeGitHubApi, Misbehaviour};
use crate::helpers::TestApp;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use server::jobs::github_sync::{Settings, Syncer};
use server::outbound::github::{GitHubClient, Settings as ClientSettings};
use server::outbound::guard::Guard;
use std::sync::Arc;

fn syncer(app: &TestApp, fake: &FakeGitHubApi, instance: &str) -> Syncer {
    syncer_with(app, fake, instance, Settings::default())
}

fn syncer_with(app: &TestApp, fake: &FakeGitHubApi, instance: &str, settings: Settings) -> Syncer {
    let client = ClientSettings {
        api_base: url::Url::parse(&format!("{}/", fake.base)).unwrap(),
        token: Some("ghp_sync".into()),
        timeout: std::time::Duration::from_secs(5),
        ..ClientSettings::default()
    };
    let client = GitHubClient::new(Arc::new(Guard::parse("http://127.0.0.1").unwrap()), client).unwrap();
    Syncer::new(app.db.clone(), Arc::new(client), settings, instance.into())
}

/// A provider of a fresh partner whose repository is `acme/{repo}` on the fake; returns its id.
async fn provider(app: &TestApp, partner: &str, repo: &str) -> i64 {
    let (s, b) = app.post_json("/api/v1/partners", &json!({"name": partner, "kind": "infrastructure", "registry_namespace": "acme"})).await;
    assert!(s == 201 || s == 409, "{b}");
    let slug = partner.to_lowercase().replace(' ', "-");
    let body = json!({"kind": "provider", "name": format!("{partner} {repo}"), "partner": slug, "source_address": format!("acme/{repo}"),
        "repository_url": format!("https://127.0.0.1/acme/terraform-provider-{repo}"), "tier": "verified", "stage": "prepare", "categories": ["Networking"]});
    let (s, b) = app.post_json("/api/v1/integrations", &body).await;
    assert_eq!(s, 201, "{b}");
    b["id"].as_i64().unwrap()
}

async fn issues(app: &TestApp, id: i64) -> Vec<serde_json::Value> {
    let (s, b) = app.get_json(&format!("/api/v1/integrations/{id}/issues?sort=opened&per_page=100")).await;
    assert_eq!(s, 200, "{b}");
    b["items"].as_array().unwrap().clone()
}

fn by_number(list: &[serde_json::Value], n: i64) -> serde_json::Value {
    list.iter().find(|i| i["number"] == n).cloned().unwrap_or_else(|| panic!("issue #{n} in {list:?}"))
}

async fn events(app: &TestApp, id: i64) -> Vec<(String, i64)> {
    app::store::support::events(&app.db, id).await.unwrap().into_iter().map(|(_, kind, cycle, _)| (kind, cycle)).collect()
}

fn round(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap()
}

async fn issues_and_licence_are_synced(app: TestApp) {
    let fake = FakeGitHubApi::start().await;
    let repo = "terraform-provider-widget";
    fake.add_repo("acme", repo);
    fake.set_licence("acme", repo, Some("MPL-2.0"));
    let now = round(Utc::now());
    let critical = fake.add_issue("acme", repo, "Crash on apply", &["bug", "P0"], now - Duration::hours(50));
    let normal = fake.add_issue("acme", repo, "Docs typo", &["documentation"], now - Duration::hours(72));
    fake.close("acme", repo, normal, now - Duration::hours(24), "completed");
    fake.add_pull_request("acme", repo, "Fix the crash", now - Duration::hours(1));
    let id = provider(&app, "Acme Cloud", "widget").await;
    let s = syncer(&app, &fake, "one");

    let report = s.step(now).await.unwrap();
    assert_eq!((report.claimed, report.synced, report.issues, report.failed), (1, 1, 2, 0), "{report:?}");
    let list = issues(&app, id).await;
    assert_eq!(list.len(), 2, "the pull request is left out: {list:?}");
    let c = by_number(&list, critical);
    assert_eq!((c["severity"].as_str(), c["state"].as_str()), (Some("critical"), Some("breached")), "P0 is critical: {c}");
    assert_eq!(
        c["due_at"].as_str().map(|d| d.to_string()),
        Some((now - Duration::hours(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    );
    let d = by_number(&list, normal);
    assert_eq!((d["severity"].as_str(), d["state"].as_str()), (Some("normal"), Some("met")), "{d}");
    assert!(d["url"].as_str().unwrap_or_default().contains(&format!("/issues/{normal}")), "{d}");
    // Breached once; an issue first seen resolved brings no met/missed alert.
    assert_eq!(events(&app, id).await, vec![("breached".to_string(), 0)]);

    // The licence completed the Prepare stage's licence task.
    let (_, pipeline) = app.get_json(&format!("/api/v1/integrations/{id}/pipeline")).await;
    let task =
        pipeline["stages"].as_array().unwrap().iter().flat_map(|s| s["tasks"].as_array().unwrap()).find(|t| t["key"] == "prepare.licence");
    let task = task.expect("a licence task");
    assert_eq!(task["state"], "accepted", "{task}");
    assert!(task["events"].to_string().contains("MPL-2.0"), "{task}");
    // GitHub said the repository is public, and it is named after the type.
    let task = pipeline["stages"][0]["tasks"].as_array().unwrap().iter().find(|t| t["key"] == "prepare.repository").unwrap();
    assert_eq!(task["state"], "accepted", "{task}");
    assert!(task["events"][0]["note"].as_str().unwrap().contains("is public on GitHub"), "{task}");

    // The next listing asks `since` the newest change (inclusive, so that
    // issue comes again); after that nothing changed: a conditional
    // request answered 304, and no licence request (checked daily).
    assert_eq!(s.step(now + Duration::minutes(40)).await.unwrap().synced, 1);
    fake.clear_log();
    let report = s.step(now + Duration::minutes(80)).await.unwrap();
    assert_eq!((report.synced, report.not_modified), (1, 1), "{report:?}");
    let log = fake.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert!(log[0].if_none_match.is_some() && log[0].path.contains("since="), "{log:?}");
    assert_eq!(log[0].authorization.as_deref(), Some("Bearer ghp_sync"));

    // Closed on GitHub: the breached issue is missed, once.
    fake.close("acme", repo, critical, now + Duration::minutes(85), "completed");
    let report = s.step(now + Duration::minutes(120)).await.unwrap();
    assert_eq!(report.synced, 1, "{report:?}");
    let c = by_number(&issues(&app, id).await, critical);
    assert_eq!(c["state"], "missed", "{c}");
    assert_eq!(events(&app, id).await, vec![("breached".into(), 0), ("missed".into(), 0)]);

    // Reopened: events are read, a new cycle starts, and its breach is a new event.
    fake.reopen("acme", repo, critical, now + Duration::minutes(130));
    s.step(now + Duration::hours(3)).await.unwrap();
    let c = by_number(&issues(&app, id).await, critical);
    assert_eq!((c["state"].as_str(), c["reopened"].as_i64()), (Some("breached"), Some(1)), "{c}");
    assert_eq!(events(&app, id).await, vec![("breached".into(), 0), ("missed".into(), 0), ("breached".into(), 1)]);
    assert!(fake.log().iter().any(|l| l.path.contains(&format!("/issues/{critical}/events"))));

    // Deleted on GitHub: it leaves the list; a day later the sync checks and stops its clock.
    let doomed = fake.add_issue("acme", repo, "Spam", &[], now + Duration::hours(3));
    s.step(now + Duration::hours(4)).await.unwrap();
    assert_eq!(by_number(&issues(&app, id).await, doomed)["resolved_at"], serde_json::Value::Null);
    fake.remove_issue("acme", repo, doomed, 410);
    s.step(now + Duration::hours(30)).await.unwrap();
    let gone = by_number(&issues(&app, id).await, doomed);
    assert_eq!(gone["gone"], true, "{gone}");
    assert!(gone["resolved_at"].is_string(), "a gone issue stops counting: {gone}");

    // The integration page says when it synced.
    let page = app.get(&format!("/integrations/{id}")).await.text().await.unwrap();
    assert!(page.contains("GitHub acme/terraform-provider-widget: last sync"), "the sync line is on the page");
}

async fn rate_limits_pause_every_instance(app: TestApp) {
    let fake = FakeGitHubApi::start().await;
    for repo in ["terraform-provider-alpha", "terraform-provider-beta"] {
        fake.add_repo("acme", repo);
        fake.add_issue("acme", repo, "Bug", &[], Utc::now() - Duration::hours(1));
    }
    let a_id = provider(&app, "Acme Cloud", "alpha").await;
    let b_id = provider(&app, "Acme Cloud", "beta").await;
    let (one, two) = (syncer(&app, &fake, "one"), syncer(&app, &fake, "two"));
    let now = Utc::now();

    // A secondary limit: 429 with Retry-After pauses both instances.
    fake.misbehave(Misbehaviour::SecondaryLimit { status: 429, retry_after: 120 });
    let report = one.step(now).await.unwrap();
    let until = report.paused_until.expect("paused");
    assert!(until >= now + Duration::seconds(100) && until <= now + Duration::seconds(200), "{until}");
    fake.clear_log();
    let report = two.step(now + Duration::seconds(10)).await.unwrap();
    assert_eq!(report.claimed, 0, "the other instance waits too");
    let waits = report.paused_until.expect("paused for the other instance too");
    assert!((waits - until).num_milliseconds().abs() < 1000, "{waits} vs {until}");
    assert!(fake.log().is_empty(), "no request while limited");
    let (_, status) = app.get_json("/api/v1/github/status").await;
    assert!(status["paused_until"].is_string(), "{status}");
    // An instance whose step was under way meanwhile, seeing a healthy
    // budget, records it: the pause another was told to keep still holds.
    let base: String = app::on_pool!(&app.db, |pool| sqlx::query_scalar("SELECT base FROM github_api").fetch_one(pool).await.unwrap());
    let budget_reset = Some(now + Duration::hours(1));
    app::store::support::api_state(&app.db, &base, None, Some(4000), budget_reset, None, now + Duration::seconds(20)).await.unwrap();
    let kept = app::store::support::api_blocked_until(&app.db, &base).await.unwrap();
    assert!(kept.is_some_and(|k| (k - until).num_milliseconds().abs() < 1000), "{kept:?} vs {until}");
    // Once it is over, a healthy budget clears it.
    app::store::support::api_state(&app.db, &base, None, Some(4000), budget_reset, None, until + Duration::seconds(1)).await.unwrap();
    assert_eq!(app::store::support::api_blocked_until(&app.db, &base).await.unwrap(), None);

    // After the pause: two instances at once sync each repository once.
    fake.behave();
    let after = now + Duration::minutes(5);
    let (r1, r2) = tokio::join!(one.step(after), two.step(after));
    let (r1, r2) = (r1.unwrap(), r2.unwrap());
    assert_eq!(r1.synced + r2.synced, 2, "{r1:?} {r2:?}");
    assert_eq!(issues(&app, a_id).await.len() + issues(&app, b_id).await.len(), 2);

    // The primary limit exhausted: 403 with remaining 0 waits for the reset.
    let reset = Utc::now() + Duration::minutes(30);
    fake.set_budget(0, reset);
    app::store::support::sync_now(&app.db, a_id, after).await.unwrap();
    let report = one.step(after + Duration::minutes(1)).await.unwrap();
    let until = report.paused_until.expect("paused by the primary limit");
    assert!((until - reset).num_seconds().abs() <= 2, "{until} vs {reset}");

    // A low budget pauses syncing before GitHub has to say no.
    let later = reset + Duration::minutes(1);
    let next_reset = later + Duration::minutes(45);
    fake.set_budget(150, next_reset);
    fake.add_issue("acme", "terraform-provider-alpha", "Another bug", &[], Utc::now());
    app::store::support::sync_now(&app.db, a_id, later).await.unwrap();
    let report = one.step(later).await.unwrap();
    assert_eq!(report.synced, 1, "{report:?}");
    assert_eq!(report.paused_until, Some(DateTime::from_timestamp(next_reset.timestamp(), 0).unwrap()), "{report:?}");

    // A server error: recorded on the repository, retried later, shown to admins.
    fake.set_budget(5000, Utc::now() + Duration::hours(1));
    fake.misbehave(Misbehaviour::Status(502));
    let much_later = next_reset + Duration::hours(1);
    let report = one.step(much_later).await.unwrap();
    assert_eq!(report.failed, 2, "{report:?}");
    let row = app::store::support::sync_row(&app.db, a_id).await.unwrap().unwrap();
    assert_eq!((row.failures, row.last_outcome.as_deref()), (1, Some("error")), "{row:?}");
    assert!(row.last_error.as_deref().unwrap_or_default().contains("502"), "{row:?}");
    assert!(row.next_sync_at > much_later && row.next_sync_at <= much_later + Duration::minutes(2), "{row:?}");
    let (_, status) = app.get_json("/api/v1/github/status").await;
    assert_eq!(status["failing"].as_array().map(Vec::len), Some(2), "{status}");
    // Staff queue a sync; a repository-less integration says why not.
    let (s, b) = app.post_json(&format!("/api/v1/integrations/{a_id}/sync"), &json!({})).await;
    assert_eq!((s, b["queued"].as_i64()), (202, Some(1)), "{b}");
}

/// Changing a critical label set classifies synced issues again at once,
/// not when GitHub next lists them as changed: the integration's own set,
/// then the program's default.
async fn label_set_changes_reclassify_synced_issues(app: TestApp) {
    let fake = FakeGitHubApi::start().await;
    let opened = Utc::now() - Duration::hours(72);
    let sev1 = fake.add_issue("acme", "terraform-provider-labels", "Outage", &["sev1"], opened);
    let p0 = fake.add_issue("acme", "terraform-provider-labels", "Crash", &["P0"], opened);
    let id = provider(&app, "Acme Cloud", "labels").await;
    fake.add_repo("acme", "terraform-provider-labels");
    syncer(&app, &fake, "one").step(Utc::now()).await.unwrap();
    let state = |list: &[serde_json::Value], n: i64| {
        let i = by_number(list, n);
        (i["severity"].as_str().unwrap().to_string(), i["state"].as_str().unwrap().to_string())
    };
    let list = issues(&app, id).await;
    assert_eq!(state(&list, sev1), ("normal".into(), "on_track".into()), "sev1 is not in the default set");
    assert_eq!(state(&list, p0), ("critical".into(), "breached".into()));

    // The integration's own set: sev1 is critical now, and 72 hours is past its 48.
    let (s, b) =
        app.send_json(reqwest::Method::PUT, &format!("/api/v1/integrations/{id}/critical-labels"), &json!({"labels": ["sev1"]})).await;
    assert_eq!(s, 200, "{b}");
    let list = issues(&app, id).await;
    assert_eq!(state(&list, sev1), ("critical".into(), "breached".into()), "{list:?}");
    assert_eq!(state(&list, p0).0, "normal", "P0 is not in the integration's set");
    let breached: i64 = app::on_pool!(&app.db, |pool| sqlx::query_scalar(
        "SELECT COUNT(*) FROM sla_events e JOIN support_issues s ON s.id = e.issue_id WHERE s.number = $1 AND e.kind = 'breached'"
    )
    .bind(sev1)
    .fetch_one(pool)
    .await
    .unwrap());
    assert_eq!(breached, 1, "the breach is an event like any other");

    // Back to the program's default, which an admin then changes to "sev1".
    let (s, _) = app.send_json(reqwest::Method::PUT, &format!("/api/v1/integrations/{id}/critical-labels"), &json!({"labels": []})).await;
    assert_eq!(s, 200);
    assert_eq!(state(&issues(&app, id).await, sev1).0, "normal");
    let body = json!({"time_zone": "UTC", "critical_warn_hours": "24", "normal_warn_hours": "24", "critical_labels": "sev1",
        "pause_labels": "", "window_days": "90"});
    let (s, r) = app.send_json(reqwest::Method::PUT, "/api/v1/sla/settings", &body).await;
    assert_eq!(s, 200, "{r}");
    let list = issues(&app, id).await;
    assert_eq!((state(&list, sev1).0, state(&list, p0).0), ("critical".into(), "normal".into()), "{list:?}");
}

/// A limit GitHub gives without saying how long (a bare 429) pauses every
/// instance for a minute, doubling with each one in a row, whichever
/// instance met it; a sync that gets through starts again at a minute.
async fn silent_limits_back_off_exponentially(app: TestApp) {
    let fake = FakeGitHubApi::start().await;
    fake.add_repo("acme", "terraform-provider-busy");
    fake.add_issue("acme", "terraform-provider-busy", "Bug", &[], Utc::now() - Duration::hours(1));
    let id = provider(&app, "Acme Cloud", "busy").await;
    let (one, two) = (syncer(&app, &fake, "one"), syncer(&app, &fake, "two"));
    fake.misbehave(Misbehaviour::SilentLimit);
    // Whole seconds: PostgreSQL keeps microseconds.
    let mut at = DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap();
    for (n, (instance, want)) in [(&one, 60), (&two, 120), (&one, 240), (&two, 480)].into_iter().enumerate() {
        let report = instance.step(at).await.unwrap();
        assert_eq!(report.claimed, 1, "limit {n}: the pause before is over: {report:?}");
        let until = report.paused_until.expect("paused");
        assert_eq!((until - at).num_seconds(), want, "limit {n}");
        let early = two.step(until - Duration::seconds(1)).await.unwrap();
        assert_eq!((early.claimed, early.paused_until), (0, Some(until)), "limit {n}: every instance waits");
        at = until + Duration::seconds(1);
    }
    fake.behave();
    assert_eq!(one.step(at).await.unwrap().synced, 1);
    fake.misbehave(Misbehaviour::SilentLimit);
    app::store::support::sync_now(&app.db, id, at).await.unwrap();
    let later = at + Duration::minutes(1);
    let until = two.step(later).await.unwrap().paused_until.expect("paused");
    assert_eq!((until - later).num_seconds(), 60, "a sync got through in between: a minute again");
}

/// A sync that outlasts its lease keeps its claim: the step renews it, so
/// another instance does not start the same sync midway.
async fn a_long_sync_keeps_its_claim(app: TestApp) {
    let fake = FakeGitHubApi::start().await;
    fake.add_repo("acme", "terraform-provider-slow");
    fake.add_issue("acme", "terraform-provider-slow", "Bug", &[], Utc::now() - Duration::hours(1));
    let id = provider(&app, "Acme Cloud", "slow").await;
    let settings = || Settings { lease: Duration::seconds(1), ..Settings::default() };
    let (one, two) = (syncer_with(&app, &fake, "one", settings()), syncer_with(&app, &fake, "two", settings()));
    // Each answer takes 0.7 s and a first sync asks several: well past the 1 s lease.
    fake.slow_down(std::time::Duration::from_millis(700));
    let now = Utc::now();
    let later = async {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        two.step(now + Duration::milliseconds(1500)).await
    };
    let (first, second) = tokio::join!(one.step(now), later);
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!((first.claimed, first.synced), (1, 1), "{first:?}");
    assert_eq!(second.claimed, 0, "the claim outlived its first second: {second:?}");
    assert_eq!(issues(&app, id).await.len(), 1);
    let row = app::store::support::sync_row(&app.db, id).await.unwrap().unwrap();
    assert_eq!(row.last_outcome.as_deref(), Some("ok"), "{row:?}");
}

async fn lag_events(app: &TestApp, id: i64) -> Vec<String> {
    app::on_pool!(&app.db, |pool| sqlx::query_scalar::<_, String>(
        "SELECT version FROM registry_events WHERE integration_id = $1 AND kind = 'registry_lag' ORDER BY id"
    )
    .bind(id)
    .fetch_all(pool)
    .await)
    .unwrap()
}

/// A GitHub release that no registry lists after REGISTRY_LAG_HOURS is
/// registry lag: recorded once, on the timeline and the staff dashboard,
/// until a registry lists it.
async fn releases_missing_from_registries_are_registry_lag(app: TestApp) {
    let fake = FakeGitHubApi::start().await;
    let repo = "terraform-provider-lagging";
    fake.add_repo("acme", repo);
    let now = round(Utc::now());
    fake.set_release("acme", repo, "v1.4.0", now - Duration::hours(30));
    let id = provider(&app, "Lag Works", "lagging").await;
    let s = syncer(&app, &fake, "one");
    assert_eq!(s.step(now).await.unwrap().synced, 1);
    assert_eq!(lag_events(&app, id).await, ["1.4.0"]);
    let (_, registry) = app.get_json(&format!("/api/v1/integrations/{id}/versions")).await;
    let event = registry["events"].as_array().unwrap().iter().find(|e| e["kind"] == "registry_lag").cloned().expect("a lag event");
    assert!(event["detail"].as_str().unwrap().contains("GitHub release v1.4.0 was published 30 hours ago"), "{event}");
    let (_, dashboard) = app.get_json("/api/v1/dashboard").await;
    let behind = dashboard["registry"]["behind_github"].as_array().unwrap().clone();
    assert_eq!(behind.len(), 1, "{dashboard:#}");
    assert_eq!((behind[0]["integration_id"].as_i64(), behind[0]["tag"].as_str()), (Some(id), Some("v1.4.0")));

    // Read again after GITHUB_RELEASE_CHECK_HOURS: the same release is not a second event.
    fake.clear_log();
    app::store::support::sync_now(&app.db, id, now + Duration::hours(7)).await.unwrap();
    s.step(now + Duration::hours(7)).await.unwrap();
    assert!(fake.log().iter().any(|l| l.path.contains("/releases/latest")), "{:?}", fake.log());
    assert_eq!(lag_events(&app, id).await, ["1.4.0"]);

    // Once a registry lists it, the dashboard drops it.
    app::on_pool!(&app.db, |pool| sqlx::query(
        "INSERT INTO provider_versions (integration_id, registry_host, version, protocols, platforms, first_seen_at, release_check)
         VALUES ($1, 'registry.terraform.io', '1.4.0', '6.0', 'linux_amd64', $2, 'unchecked')"
    )
    .bind(id)
    .bind(now)
    .execute(pool)
    .await
    .map(|r| r.rows_affected()))
    .unwrap();
    let (_, dashboard) = app.get_json("/api/v1/dashboard").await;
    assert_eq!(dashboard["registry"]["behind_github"], json!([]), "{dashboard:#}");

    // A release younger than the allowance is no lag yet.
    fake.set_release("acme", repo, "v1.5.0", now + Duration::hours(12));
    app::store::support::sync_now(&app.db, id, now + Duration::hours(14)).await.unwrap();
    s.step(now + Duration::hours(14)).await.unwrap();
    assert_eq!(lag_events(&app, id).await, ["1.4.0"], "v1.5.0 is 2 hours old");
    let (tag, version): (Option<String>, Option<String>) =
        app::on_pool!(&app.db, |pool| sqlx::query_as("SELECT release_tag, release_version FROM github_syncs WHERE integration_id = $1")
            .bind(id)
            .fetch_one(pool)
            .await)
        .unwrap();
    assert_eq!((tag.as_deref(), version.as_deref()), (Some("v1.5.0"), Some("1.5.0")), "the newer release was read");
}

/// A member can type any repository URL, and the sync's token may read
/// other partners' private repositories: a private repository's issues,
/// licence and releases are copied only into its own organisation's
/// partner (`github_org`, set by staff); anyone may have a public one's.
async fn private_repositories_are_copied_only_for_their_own_partner(app: TestApp) {
    let fake = FakeGitHubApi::start().await;
    let repo = "terraform-provider-vault-x";
    fake.add_repo("acme", repo);
    fake.set_private("acme", repo, true);
    fake.set_licence("acme", repo, Some("MPL-2.0"));
    fake.set_release("acme", repo, "v2.0.0", Utc::now() - Duration::days(3));
    let now = round(Utc::now());
    fake.add_issue("acme", repo, "Crash with the customer's credentials in the log", &["bug"], now - Duration::hours(5));
    let url = format!("https://127.0.0.1/acme/{repo}");

    let (s, b) = app.post_json("/api/v1/partners", &json!({"name": "Acme Cloud", "kind": "infrastructure", "github_org": "acme"})).await;
    assert_eq!(s, 201, "{b}");
    let own = json!({"kind": "provider", "name": "Acme Vault", "partner": "acme-cloud", "source_address": "acme/vault-x",
        "repository_url": url, "tier": "verified", "stage": "prepare", "categories": ["Networking"]});
    let (s, b) = app.post_json("/api/v1/integrations", &own).await;
    assert_eq!(s, 201, "{b}");
    let acme = b["id"].as_i64().unwrap();

    // Another partner's member points their own provider at Acme's private repository.
    app.partner("Other Corp", "infrastructure").await;
    let (_, member) = app.client_as("dev@other.example", app::domain::access::Role::Partner, Some("other-corp")).await;
    let theirs = json!({"kind": "provider", "name": "Other Vault", "partner": "other-corp", "source_address": "other/vault-x",
        "repository_url": url, "tier": "community", "stage": "prepare", "categories": ["Networking"]});
    let (s, b) = crate::helpers::json_of(member.post(app.url("/api/v1/integrations")).json(&theirs).send().await.unwrap()).await;
    assert_eq!(s, 201, "{b}");
    let other = b["id"].as_i64().unwrap();

    let report = syncer(&app, &fake, "one").step(now).await.unwrap();
    assert_eq!((report.claimed, report.synced, report.failed), (2, 1, 1), "{report:?}");
    assert_eq!(issues(&app, acme).await.len(), 1, "Acme's own private repository is synced");
    assert_eq!(issues(&app, other).await, Vec::<serde_json::Value>::new(), "nothing of it goes to Other Corp");
    let row = app::store::support::sync_row(&app.db, other).await.unwrap().unwrap();
    assert_eq!(row.last_outcome.as_deref(), Some("refused"), "{row:?}");
    let error = row.last_error.clone().unwrap_or_default();
    assert!(error.contains("private and belongs to acme") && error.contains("no GitHub organisation set"), "{error}");
    assert_eq!((row.licence, row.licence_checked_at), (None, None), "its licence was not read for Other Corp either");
    let (tag,): (Option<String>,) =
        app::on_pool!(&app.db, |pool| sqlx::query_as("SELECT release_tag FROM github_syncs WHERE integration_id = $1")
            .bind(other)
            .fetch_one(pool)
            .await)
        .unwrap();
    assert_eq!(tag, None, "nor its release");
    let acme_row = app::store::support::sync_row(&app.db, acme).await.unwrap().unwrap();
    assert_eq!((acme_row.last_outcome.as_deref(), acme_row.licence.as_deref()), (Some("ok"), Some("MPL-2.0")), "{acme_row:?}");
    // Named after the type but private: Prepare's "public repository" stays open.
    assert_eq!(acme_row.repo_private, Some(true));
    assert_eq!(repository_task(&app, acme).await, "open");
    // The member sees why on their integration's page.
    let page = member.get(app.url(&format!("/integrations/{other}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("not the partner") || page.contains("no GitHub organisation set"), "the refusal is on the page");

    // Made public on GitHub, it is anyone's to read: the next sync copies it.
    fake.set_private("acme", repo, false);
    app::store::support::sync_now(&app.db, other, now + Duration::hours(1)).await.unwrap();
    let report = syncer(&app, &fake, "one").step(now + Duration::hours(1)).await.unwrap();
    // (Acme's own repository is due again too, and unchanged: a 304.)
    assert_eq!((report.synced, report.not_modified, report.failed, report.issues), (2, 1, 0, 1), "{report:?}");
    assert_eq!(issues(&app, other).await.len(), 1);
    let row = app::store::support::sync_row(&app.db, other).await.unwrap().unwrap();
    assert_eq!((row.last_outcome.as_deref(), row.licence.as_deref()), (Some("ok"), Some("MPL-2.0")), "{row:?}");
    assert_eq!(repository_task(&app, other).await, "accepted", "public now, and named terraform-provider-vault-x");
}

/// The state of Prepare's "public repository" task.
async fn repository_task(app: &TestApp, id: i64) -> String {
    let (_, p) = app.get_json(&format!("/api/v1/integrations/{id}/pipeline")).await;
    let tasks = p["stages"][0]["tasks"].as_array().unwrap().clone();
    tasks.iter().find(|t| t["key"] == "prepare.repository").unwrap()["state"].as_str().unwrap().to_string()
}

/// What the sync learnt of one repository says nothing of the next: right
/// after the URL changes (the row still names the old one), Prepare's
/// "public repository" task waits for the new repository's own answer.
async fn a_changed_repository_waits_for_its_own_sync(app: TestApp) {
    let fake = FakeGitHubApi::start().await;
    fake.add_repo("acme", "widget-tools");
    fake.add_repo("acme", "terraform-provider-widget");
    fake.set_private("acme", "terraform-provider-widget", true);
    let (s, b) = app
        .post_json(
            "/api/v1/partners",
            &json!({"name": "Acme", "kind": "infrastructure", "registry_namespace": "acme", "github_org": "acme"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let body = json!({"kind": "provider", "name": "Widget", "partner": "acme", "source_address": "acme/widget",
        "repository_url": "https://127.0.0.1/acme/widget-tools", "stage": "prepare", "categories": ["Networking"]});
    let (s, b) = app.post_json("/api/v1/integrations", &body).await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_i64().unwrap();
    let now = round(Utc::now());
    let report = syncer(&app, &fake, "one").step(now).await.unwrap();
    assert_eq!((report.synced, report.failed), (1, 0), "{report:?}");
    assert_eq!(app::store::support::sync_row(&app.db, id).await.unwrap().unwrap().repo_private, Some(false));
    assert_eq!(repository_task(&app, id).await, "open", "public, but not named terraform-provider-widget");

    // Pointed at the (private) repository with the right name: the edit
    // itself must not take the old repository's "public" for it.
    let (s, b) = app
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v1/integrations/{id}"),
            &json!({"repository_url": "https://127.0.0.1/acme/terraform-provider-widget"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(repository_task(&app, id).await, "open");
    syncer(&app, &fake, "one").step(now + Duration::minutes(1)).await.unwrap();
    assert_eq!(app::store::support::sync_row(&app.db, id).await.unwrap().unwrap().repo_private, Some(true));
    assert_eq!(repository_task(&app, id).await, "open", "private");
}

crate::on_both_backends!(
    a_changed_repository_waits_for_its_own_sync,
    private_repositories_are_copied_only_for_their_own_partner,
    issues_and_licence_are_synced,
    rate_limits_pause_every_instance,
    silent_limits_back_off_exponentially,
    label_set_changes_reclassify_synced_issues,
    a_long_sync_keeps_its_claim,
    releases_missing_from_registries_are_registry_lag,
);
