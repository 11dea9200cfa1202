//! The support SLA through the API and the monitor: manual issues with
//! their clocks, resolve and reopen, severity overrides in the trail,
//! clock events once each across two monitors and a restart, holidays and
//! settings moving deadlines, and partners seeing only their own issues.
//! The clock is passed to each step, never slept.

use crate::helpers::TestApp;
use app::domain::access::Role;
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use server::jobs::sla_monitor::Monitor;

/// A run task of a fresh partner (run tasks record their issues by hand); returns its id.
async fn integration(app: &TestApp, partner: &str) -> i64 {
    let (s, b) = app.post_json("/api/v1/partners", &json!({"name": partner, "kind": "workflow"})).await;
    assert!(s == 201 || s == 409, "{b}");
    let slug = partner.to_lowercase().replace(' ', "-");
    let (s, b) = app
        .post_json(
            "/api/v1/integrations",
            &json!({"kind": "run_task", "name": format!("{partner} scan"), "partner": slug, "categories": ["Code Scanning"], "stage": "support"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    b["id"].as_i64().unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

async fn issue(app: &TestApp, integration: i64, body: Value) -> Value {
    let (s, b) = app.post_json(&format!("/api/v1/integrations/{integration}/issues"), &body).await;
    assert_eq!(s, 201, "{b}");
    b
}

async fn events(app: &TestApp, integration: i64) -> Vec<(String, i64)> {
    app::store::support::events(&app.db, integration).await.unwrap().into_iter().map(|(_, kind, cycle, _)| (kind, cycle)).collect()
}

async fn manual_issues_run_the_clock(app: TestApp) {
    let id = integration(&app, "Acme Flow").await;
    let now = Utc::now();
    // Critical, opened 30 hours ago: past the 24-hour warning, due in 18 hours.
    let opened = now - Duration::hours(30);
    let b = issue(&app, id, json!({"title": "Scan hangs", "severity": "critical", "opened_at": opened.to_rfc3339()})).await;
    assert_eq!(b["state"], "due_soon", "{b}");
    let due = at(b["due_at"].as_str().unwrap());
    assert_eq!(due, opened + Duration::hours(48));
    assert_eq!(b["used_seconds"].as_i64().unwrap() / 3600, 30);
    assert_eq!(events(&app, id).await, vec![("due_soon".to_string(), 0)]);
    let issue_id = b["id"].as_i64().unwrap();

    // Resolved within the 48 hours: met, and a "met" event.
    let (s, r) = app.post_json(&format!("/api/v1/issues/{issue_id}/resolve"), &json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["state"], "met", "{r}");
    assert_eq!(events(&app, id).await, vec![("due_soon".into(), 0), ("met".into(), 0)]);
    let (s, r) = app.post_json(&format!("/api/v1/issues/{issue_id}/resolve"), &json!({})).await;
    assert_eq!(s, 409, "resolving twice is a conflict: {r}");

    // Reopened: the clock resumes with the 30 hours already used.
    let (s, r) = app.post_json(&format!("/api/v1/issues/{issue_id}/reopen"), &json!({})).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["reopened"], 1);
    assert_eq!(r["resolved_at"], Value::Null);
    let left = r["left_seconds"].as_i64().unwrap();
    assert!((17 * 3600..=18 * 3600).contains(&left), "about 18 hours left, got {left} s");

    // Bad input changes nothing and says what is wrong.
    let (s, r) =
        app.post_json(&format!("/api/v1/integrations/{id}/issues"), &json!({"title": "", "severity": "urgent", "opened_at": "soon"})).await;
    assert_eq!(s, 422, "{r}");
    for f in ["title", "severity", "opened_at"] {
        assert!(r["fields"][f].is_array(), "{f}: {r}");
    }
    let (s, list) = app.get_json(&format!("/api/v1/integrations/{id}/issues")).await;
    assert_eq!((s, list["total"].as_i64()), (200, Some(1)), "{list}");

    // Normal severity counts business days: opened on a Saturday, due
    // the Saturday after (Monday 00:00 + 5 business days).
    let b = issue(
        &app,
        id,
        json!({"title": "Docs typo", "severity": "normal", "opened_at": "2026-11-14T10:00:00Z", "resolved_at": "2026-11-18T10:00:00Z"}),
    )
    .await;
    assert_eq!(b["due_at"], "2026-11-21T00:00:00Z", "{b}");
    assert_eq!(b["state"], "met");
    let (s, list) = app.get_json("/api/v1/issues?state=met&sort=opened").await;
    assert_eq!((s, list["total"].as_i64()), (200, Some(1)), "{list}");
    // The list's own scope and the shared filters, read from one query string.
    let (s, list) = app.get_json(&format!("/api/v1/issues?integration={id}&state=met&per_page=1")).await;
    assert_eq!((s, list["total"].as_i64(), list["per_page"].as_i64()), (200, Some(1), Some(1)), "{list}");
    let (s, none) = app.get_json(&format!("/api/v1/issues?integration={}&state=met", id + 1000)).await;
    assert_eq!(s, 404, "an integration that is not there: {none}");
    let (s, bad) = app.get_json("/api/v1/issues?state=sideways").await;
    assert_eq!(s, 422, "{bad}");
}

/// "Due within" lists the open issues the staff dashboard counts as due
/// in the next 24 hours, on the API, the page and the export; its tile
/// and the partner's row link there.
async fn issues_due_within_match_the_dashboard(app: TestApp) {
    let id = integration(&app, "Gamma Flow").await;
    let now = Utc::now();
    let open = |title: &str, hours_ago: i64| json!({"title": title, "severity": "critical", "opened_at": (now - Duration::hours(hours_ago)).to_rfc3339()});
    issue(&app, id, open("Due tonight", 30)).await; // due in 18 hours
    issue(&app, id, open("Due in two days", 10)).await; // due in 38 hours
    issue(&app, id, open("Already breached", 50)).await; // due 2 hours ago
    let mut resolved = open("Resolved early", 30);
    resolved["resolved_at"] = json!((now - Duration::hours(1)).to_rfc3339());
    issue(&app, id, resolved).await;

    let titles = |list: &Value| -> Vec<String> {
        list["items"].as_array().unwrap().iter().map(|i| i["title"].as_str().unwrap().to_string()).collect()
    };
    let (s, list) = app.get_json("/api/v1/issues?due_within=24").await;
    assert_eq!((s, titles(&list)), (200, vec!["Due tonight".to_string()]), "{list}");
    let (_, list) = app.get_json("/api/v1/issues?due_within=168").await;
    assert_eq!(titles(&list), vec!["Due tonight".to_string(), "Due in two days".into()], "{list}");
    let (_, d) = app.get_json("/api/v1/dashboard").await;
    assert_eq!(d["support"]["due_24h"], 1, "the dashboard counts the same issue: {}", d["support"]);
    for bad in ["0", "721", "soon", "-3"] {
        let (s, b) = app.get_json(&format!("/api/v1/issues?due_within={bad}")).await;
        assert_eq!(s, 422, "{bad}: {b}");
        assert!(b["fields"]["due_within"][0].as_str().unwrap().contains("1 to 720"), "{b}");
    }
    let csv = app.get("/api/v1/issues/export.csv?due_within=24").await.text().await.unwrap();
    assert!(csv.contains("Due tonight") && !csv.contains("Due in two days") && !csv.contains("Already breached"), "{csv}");

    let page = app.get("/issues?due_within=24").await.text().await.unwrap();
    assert!(page.contains("Due tonight") && !page.contains("Due in two days"), "the page lists the same issue");
    assert!(page.contains(r#"<option value="24" selected"#), "the filter shows what is chosen");
    let page = app.get("/issues?due_within=48").await.text().await.unwrap();
    assert!(page.contains(r#"<option value="48" selected"#) && page.contains("48 hours"), "a window from a link stays chosen");
    let home = app.get("/").await.text().await.unwrap();
    assert!(home.contains(r#"href="/issues?due_within=24""#), "the dashboard's tile links to the list");
    let partner: i64 = app::on_pool!(&app.db, |pool| sqlx::query_scalar("SELECT partner_id FROM integrations WHERE id = $1")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap());
    assert!(home.contains(&format!(r#"href="/issues?partner={partner}&amp;due_within=24""#)), "and so does the partner's row");
}

async fn severity_overrides_are_reviewed_and_audited(app: TestApp) {
    let id = integration(&app, "Beta Flow").await;
    let opened = Utc::now() - Duration::hours(60);
    let b = issue(&app, id, json!({"title": "Slow scans", "severity": "normal", "opened_at": opened.to_rfc3339()})).await;
    let issue_id = b["id"].as_i64().unwrap();
    assert_eq!(b["severity"], "normal", "{b}");
    let (_, reviewer) = app.client_as("rita@example.com", Role::Reviewer, None).await;
    let res =
        reviewer.put(app.url(&format!("/api/v1/issues/{issue_id}/severity"))).json(&json!({"severity": "critical"})).send().await.unwrap();
    let (s, r) = crate::helpers::json_of(res).await;
    assert_eq!(s, 200, "{r}");
    // Critical counts from the original opening: 60 hours > 48, breached.
    assert_eq!(
        (r["severity"].as_str(), r["severity_overridden"].as_bool(), r["state"].as_str()),
        (Some("critical"), Some(true), Some("breached")),
        "{r}"
    );
    assert!(events(&app, id).await.contains(&("breached".into(), 0)));
    let (_, trail) = app.get_json(&format!("/api/v1/integrations/{id}/audit")).await;
    let actions: Vec<&str> = trail["items"].as_array().unwrap().iter().filter_map(|r| r["action"].as_str()).collect();
    assert!(actions.contains(&"issue.severity") && actions.contains(&"sla.breached") && actions.contains(&"issue.create"), "{actions:?}");
    // A viewer may not.
    let (_, viewer) = app.client_as("vic@example.com", Role::Viewer, None).await;
    let res =
        viewer.put(app.url(&format!("/api/v1/issues/{issue_id}/severity"))).json(&json!({"severity": "normal"})).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let (s, r) = app.send_json(reqwest::Method::PUT, &format!("/api/v1/issues/{issue_id}/severity"), &json!({"severity": "sev0"})).await;
    assert_eq!(s, 422, "{r}");
}

async fn clock_events_fire_once_across_monitors_and_restarts(app: TestApp) {
    let id = integration(&app, "Gamma Flow").await;
    let now = Utc::now();
    // Due soon in 10 hours' time, breached in 34 (critical, opened 14 hours ago).
    let opened = now - Duration::hours(14);
    let b = issue(&app, id, json!({"title": "Crash", "severity": "critical", "opened_at": opened.to_rfc3339()})).await;
    assert_eq!(b["state"], "on_track");
    assert!(events(&app, id).await.is_empty());
    let tick = std::time::Duration::from_secs(60);
    let (a, b2) = (Monitor::new(app.db.clone(), "a".into(), tick), Monitor::new(app.db.clone(), "b".into(), tick));
    assert_eq!(a.step(now).await.unwrap(), Some(0), "nothing due yet");
    // Two instances at the same moment: one holds the lease, the other skips.
    let later = now + Duration::hours(11);
    let (ra, rb) = tokio::join!(a.step(later), b2.step(later));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!([ra, rb].iter().flatten().sum::<usize>(), 1, "one due-soon event: {ra:?} {rb:?}");
    assert!(ra.is_none() || rb.is_none(), "the lease keeps the second instance out: {ra:?} {rb:?}");
    // A restarted monitor (a new instance once the lease expired) adds nothing.
    let c = Monitor::new(app.db.clone(), "c".into(), tick);
    assert_eq!(c.step(later + Duration::minutes(10)).await.unwrap(), Some(0));
    assert_eq!(events(&app, id).await, vec![("due_soon".to_string(), 0)]);
    // Past the deadline: breached, once.
    let past = now + Duration::hours(35);
    assert_eq!(c.step(past).await.unwrap(), Some(1));
    assert_eq!(c.step(past + Duration::minutes(1)).await.unwrap(), Some(0));
    // Even a monitor that ignores the lease cannot fire it again.
    assert_eq!(app::services::support::monitor_step(&app.db, past + Duration::minutes(2)).await.unwrap(), 0);
    assert_eq!(events(&app, id).await, vec![("due_soon".to_string(), 0), ("breached".to_string(), 0)]);
    let stored = app::store::support::get(&app.db, b["id"].as_i64().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.clock_state, "breached");
}

async fn holidays_and_settings_move_deadlines(app: TestApp) {
    let id = integration(&app, "Delta Flow").await;
    // Wednesday 2025-12-24 14:00 UTC, normal: due Wednesday 2025-12-31 14:00 without holidays.
    let b = issue(&app, id, json!({"title": "Year-end bug", "severity": "normal", "opened_at": "2025-12-24T14:00:00Z"})).await;
    let issue_id = b["id"].as_i64().unwrap();
    assert_eq!(b["due_at"], "2025-12-31T14:00:00Z", "{b}");
    let (s, r) = app.post_json("/api/v1/sla/holidays", &json!({"day": "2025-12-25", "name": "Christmas Day"})).await;
    assert_eq!(s, 201, "{r}");
    let (_, b) = app.get_json(&format!("/api/v1/issues/{issue_id}")).await;
    assert_eq!(b["due_at"], "2026-01-01T14:00:00Z", "one holiday, one day later: {b}");
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20251229\r\nDTEND;VALUE=DATE:20251231\r\nSUMMARY:Year-end shutdown\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let res =
        app.client.post(app.url("/api/v1/sla/holidays/import")).header("content-type", "text/calendar").body(ics).send().await.unwrap();
    let (s, r) = crate::helpers::json_of(res).await;
    assert_eq!((s, r["added"].as_i64()), (200, Some(2)), "{r}");
    let (_, b) = app.get_json(&format!("/api/v1/issues/{issue_id}")).await;
    assert_eq!(b["due_at"], "2026-01-05T14:00:00Z", "two more days off: {b}");
    let (_, days) = app.get_json("/api/v1/sla/holidays").await;
    assert_eq!(days.as_array().map(Vec::len), Some(3), "{days}");
    // Years the SLA clock does not count in are refused, not stored as junk.
    for day in ["-5000-01-01", "+99999-12-25", "1900-01-01"] {
        let (s, r) = app.post_json("/api/v1/sla/holidays", &json!({"day": day, "name": "Junk"})).await;
        assert_eq!(s, 422, "{day}: {r}");
        assert!(r["fields"]["day"][0].as_str().is_some_and(|m| m.contains("1970–2199")), "{day}: {r}");
    }
    let (_, days) = app.get_json("/api/v1/sla/holidays").await;
    assert_eq!(days.as_array().map(Vec::len), Some(3), "nothing stored: {days}");
    let res = app.client.delete(app.url("/api/v1/sla/holidays/2025-12-29")).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let res = app.client.delete(app.url("/api/v1/sla/holidays/2025-12-29")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let (_, b) = app.get_json(&format!("/api/v1/issues/{issue_id}")).await;
    assert_eq!(b["due_at"], "2026-01-02T14:00:00Z", "the 29th works again: {b}");

    // Sunday 23:30 UTC is Monday 00:30 in Berlin: the zone decides when counting starts.
    let sunday = issue(
        &app,
        id,
        json!({"title": "Late report", "severity": "normal", "opened_at": "2025-12-14T23:30:00Z", "resolved_at": "2025-12-16T10:00:00Z"}),
    )
    .await;
    assert_eq!(sunday["due_at"], "2025-12-20T00:00:00Z", "UTC: from Monday 00:00 to Friday 24:00: {sunday}");

    // The program's time zone: Berlin is an hour ahead in winter.
    let (s, settings) = app.get_json("/api/v1/sla/settings").await;
    assert_eq!((s, settings["time_zone"].as_str()), (200, Some("UTC")), "{settings}");
    let body = json!({"time_zone": "Europe/Berlin", "critical_warn_hours": "12", "normal_warn_hours": "24",
        "critical_labels": "critical\nP0", "pause_labels": "", "window_days": "90"});
    let (s, r) = app.send_json(reqwest::Method::PUT, "/api/v1/sla/settings", &body).await;
    assert_eq!(s, 200, "{r}");
    let (_, b) = app.get_json(&format!("/api/v1/issues/{issue_id}")).await;
    // Opened Wed 15:00 Berlin; the 25th and 30th are off: due Fri 2 Jan 15:00 Berlin = 14:00 UTC.
    assert_eq!(b["due_at"], "2026-01-02T14:00:00Z", "{b}");
    let (_, sunday) = app.get_json(&format!("/api/v1/issues/{}", sunday["id"])).await;
    assert_eq!(sunday["due_at"], "2025-12-21T23:30:00Z", "Berlin: from Monday 00:30 to the next Monday 00:30: {sunday}");
    let (s, r) = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/sla/settings",
            &json!({"time_zone": "Mars/Olympus", "critical_warn_hours": "x",
        "normal_warn_hours": "24", "critical_labels": "", "pause_labels": "", "window_days": "90"}),
        )
        .await;
    assert_eq!(s, 422, "{r}");
    for f in ["time_zone", "critical_warn_hours", "critical_labels"] {
        assert!(r["fields"][f].is_array(), "{f}: {r}");
    }
    // Only admins change the program's settings.
    let (_, reviewer) = app.client_as("rex@example.com", Role::Reviewer, None).await;
    let res = reviewer.post(app.url("/api/v1/sla/holidays")).json(&json!({"day": "2027-01-01", "name": "New Year"})).send().await.unwrap();
    assert_eq!(res.status(), 403);
    let (_, trail) = app.get_json("/api/v1/audit?target=settings").await;
    assert!(trail["total"].as_i64().unwrap_or(0) >= 4, "settings changes are audited: {trail}");
}

async fn partners_see_only_their_own_issues(app: TestApp) {
    let own = integration(&app, "Own Flow").await;
    let other = integration(&app, "Other Flow").await;
    let now = Utc::now();
    let mine = issue(&app, own, json!({"title": "Mine", "severity": "normal", "opened_at": (now - Duration::hours(2)).to_rfc3339()})).await;
    let theirs =
        issue(&app, other, json!({"title": "Theirs", "severity": "critical", "opened_at": (now - Duration::hours(50)).to_rfc3339()})).await;
    let (_, member) = app.client_as("pat@own.example", Role::Partner, Some("own-flow")).await;
    let get = |path: String| {
        let member = member.clone();
        let url = app.url(&path);
        async move { crate::helpers::json_of(member.get(url).send().await.unwrap()).await }
    };
    let (s, list) = get("/api/v1/issues".into()).await;
    assert_eq!(s, 200);
    let titles: Vec<&str> = list["items"].as_array().unwrap().iter().filter_map(|i| i["title"].as_str()).collect();
    assert_eq!(titles, ["Mine"], "{list}");
    assert_eq!(get(format!("/api/v1/issues/{}", theirs["id"])).await.0, 404);
    assert_eq!(get(format!("/api/v1/integrations/{other}/issues")).await.0, 404);
    assert_eq!(get("/api/v1/issues?partner=other-flow".into()).await.0, 404);
    assert_eq!(get("/api/v1/partners/other-flow/support".into()).await.0, 404);
    assert_eq!(get("/api/v1/sla/overview".into()).await.0, 403);
    let (s, own_health) = get("/api/v1/partners/own-flow/support".into()).await;
    assert_eq!((s, own_health["health"]["open"].as_i64()), (200, Some(1)), "{own_health}");
    // Members record and resolve their own issues, not others'.
    let res = member
        .post(app.url(&format!("/api/v1/integrations/{other}/issues")))
        .json(&json!({"title": "x", "severity": "normal", "opened_at": now.to_rfc3339()}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = member.post(app.url(&format!("/api/v1/issues/{}/resolve", mine["id"]))).json(&json!({})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    // Staff see everyone, worst compliance first.
    let (s, overview) = app.get_json("/api/v1/sla/overview").await;
    assert_eq!(s, 200);
    let first = &overview.as_array().unwrap()[0];
    assert_eq!(first["slug"], "other-flow", "the partner with an open breach comes before: {overview}");
}

/// Numbers and times far out of range get an answer, never a crash: huge
/// page numbers an empty page, a year past 2199 a field error.
async fn out_of_range_input_is_answered(app: TestApp) {
    let id = integration(&app, "Range Co").await;
    let huge = i64::MAX;
    for path in [
        format!("/api/v1/issues?page={huge}&per_page=200"),
        format!("/api/v1/alerts?page={huge}"),
        format!("/api/v1/integrations/{id}/checks?page={huge}"),
    ] {
        let (s, b) = app.get_json(&path).await;
        assert_eq!(s, 200, "{path}: {b}");
    }
    // The staff list's page numbers are read as numbers.
    let (s, b) = app.get_json("/api/v1/issues?page=2&per_page=10").await;
    assert_eq!((s, b["page"].as_i64(), b["per_page"].as_i64()), (200, Some(2), Some(10)), "{b}");
    let (s, b) = app
        .post_json(
            &format!("/api/v1/integrations/{id}/issues"),
            &json!({"title": "x", "severity": "normal", "opened_at": "+262142-12-31T23:30"}),
        )
        .await;
    assert_eq!(s, 422, "{b}");
    assert!(b["fields"]["opened_at"][0].as_str().unwrap().contains("from 1970 on"), "{b}");
}

crate::on_both_backends!(
    out_of_range_input_is_answered,
    manual_issues_run_the_clock,
    issues_due_within_match_the_dashboard,
    severity_overrides_are_reviewed_and_audited,
    clock_events_fire_once_across_monitors_and_restarts,
    holidays_and_settings_move_deadlines,
    partners_see_only_their_own_issues,
);
