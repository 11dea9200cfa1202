//! Tier-downgrade flags end to end: a breach raises a flag, the grace
//! period passes (the clock is passed to each evaluation, never slept), a
//! reviewer downgrades, the tier changes, the partner's contacts are
//! alerted and the trail records it all; flags clear themselves, exemptions
//! and preview mode hold them back; partners see only their own. Also the
//! dashboards' access and filters, and CSV exports kept to the viewer.

use crate::helpers::{spawn_app_with, Backend, TestApp};
use app::domain::access::Role;
use app::services::flags::evaluate;
use chrono::{Duration, Utc};
use serde_json::{json, Value};

/// A verified run task of a fresh partner with an alliance manager and a support contact.
async fn verified(app: &TestApp, partner: &str) -> (String, i64) {
    let slug = partner.to_lowercase().replace(' ', "-");
    if app::store::users::get_by_email(&app.db, "am@alliances.example").await.unwrap().is_none() {
        app.user("am@alliances.example", app::domain::access::Role::Reviewer, None, app::domain::user::UserStatus::Active).await;
    }
    let (s, b) = app
        .post_json(
            "/api/v1/partners",
            &json!({"name": partner, "kind": "workflow", "alliance_manager_email": "am@alliances.example",
                "support_contacts": [{"name": "Ops", "email": format!("ops@{slug}.example")}]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, b) = app
        .post_json(
            "/api/v1/integrations",
            &json!({"kind": "run_task", "name": format!("{partner} scan"), "partner": slug, "tier": "verified", "stage": "support",
                "categories": ["Code Scanning"]}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    (slug, b["id"].as_i64().unwrap())
}

/// A critical issue opened 60 hours ago: breached on arrival. Returns its id.
async fn breach(app: &TestApp, integration: i64, title: &str) -> i64 {
    let opened = Utc::now() - Duration::hours(60);
    let (s, b) = app
        .post_json(
            &format!("/api/v1/integrations/{integration}/issues"),
            &json!({"title": title, "severity": "critical", "opened_at": opened.to_rfc3339()}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["state"], "breached", "{b}");
    b["id"].as_i64().unwrap()
}

async fn flags_of(app: &TestApp, integration: i64) -> Vec<Value> {
    let (s, b) = app.get_json(&format!("/api/v1/flags?integration_id={integration}&state=all")).await;
    assert_eq!(s, 200, "{b}");
    b["items"].as_array().unwrap().clone()
}

/// Outbox rows of a kind: (recipient, mandatory).
async fn outbox(app: &TestApp, kind: &str) -> Vec<(String, bool)> {
    app::on_pool!(&app.db, |pool| sqlx::query_as("SELECT recipient, mandatory FROM alert_outbox WHERE kind = $1 ORDER BY recipient")
        .bind(kind)
        .fetch_all(pool)
        .await
        .unwrap())
}

async fn breach_flag_grace_downgrade(app: TestApp) {
    let (slug, id) = verified(&app, "Breach Co").await;
    breach(&app, id, "Scanner crashes on every run").await;
    let now = Utc::now();

    // Raised in its grace period, due in 7 days; the alliance manager hears of the new flag.
    let e = evaluate(&app.db, now).await.unwrap();
    assert_eq!((e.raised, e.moved), (1, 0), "{e:?}");
    let flags = flags_of(&app, id).await;
    assert_eq!(flags.len(), 1, "{flags:?}");
    let flag = &flags[0];
    let flag_id = flag["id"].as_i64().unwrap();
    assert_eq!((flag["rule"].as_str(), flag["state"].as_str()), (Some("critical_breach_open"), Some("grace")), "{flag}");
    assert!(flag["clears_when"].as_str().unwrap().contains("resolve"), "{flag}");
    assert_eq!(outbox(&app, "flag_raised").await, vec![("am@alliances.example".to_string(), false)]);
    let raised: String = app::on_pool!(&app.db, |pool| sqlx::query_scalar("SELECT content FROM alert_outbox WHERE kind = 'flag_raised'")
        .fetch_one(pool)
        .await
        .unwrap());
    assert!(raised.contains("was flagged") && raised.contains("due for a tier decision from"), "{raised}");

    // Evaluating again changes nothing; halfway through the grace period neither.
    assert_eq!(evaluate(&app.db, now).await.unwrap().raised, 0);
    let e = evaluate(&app.db, now + Duration::days(3)).await.unwrap();
    assert_eq!((e.raised, e.moved, e.cleared), (0, 0, 0), "{e:?}");

    // The grace period passes: due for decision, and the alliance manager hears again, once.
    let e = evaluate(&app.db, now + Duration::days(7) + Duration::minutes(1)).await.unwrap();
    assert_eq!(e.moved, 1, "{e:?}");
    assert_eq!(flags_of(&app, id).await[0]["state"], "due");
    evaluate(&app.db, now + Duration::days(8)).await.unwrap();
    assert_eq!(outbox(&app, "flag_raised").await.len(), 2);

    // The partner sees its flag and what clears it, and may not decide it.
    let (_, member) = app.client_as("pat@breach.example", Role::Partner, Some(&slug)).await;
    let res = member.get(app.url(&format!("/api/v1/flags/{flag_id}"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = member.get(app.url("/api/v1/flags")).send().await.unwrap();
    let mine: Value = res.json().await.unwrap();
    assert_eq!(mine["total"], 1, "{mine}");
    let res = member
        .post(app.url(&format!("/api/v1/flags/{flag_id}/decision")))
        .json(&json!({"outcome": "keep", "reason": "we try"}))
        .send()
        .await;
    assert_eq!(res.unwrap().status(), 403);

    // Another partner's member does not even learn it exists.
    let (other_slug, _) = verified(&app, "Other Co").await;
    let (_, stranger) = app.client_as("sam@other.example", Role::Partner, Some(&other_slug)).await;
    assert_eq!(stranger.get(app.url(&format!("/api/v1/flags/{flag_id}"))).send().await.unwrap().status(), 404);
    let theirs: Value = stranger.get(app.url("/api/v1/flags")).send().await.unwrap().json().await.unwrap();
    assert_eq!(theirs["total"], 0, "{theirs}");
    let sneaky: Value = stranger.get(app.url(&format!("/api/v1/flags?integration_id={id}"))).send().await.unwrap().json().await.unwrap();
    assert_eq!(sneaky["total"], 0, "a member's list stays their own whatever they filter: {sneaky}");
    assert_eq!(
        stranger
            .post(app.url(&format!("/api/v1/flags/{flag_id}/decision")))
            .json(&json!({"outcome": "downgrade"}))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // A reviewer: "keep" needs a reason, and bad input changes nothing.
    let (_, reviewer) = app.client_as("rita@alliances.example", Role::Reviewer, None).await;
    let decide = |body: Value| reviewer.post(app.url(&format!("/api/v1/flags/{flag_id}/decision"))).json(&body).send();
    let res = decide(json!({"outcome": "keep", "reason": ""})).await.unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert!(body["fields"]["reason"].is_array(), "{body}");
    let res = decide(json!({"outcome": "downgrade", "tier": "official"})).await.unwrap();
    assert_eq!(res.status(), 422, "official is not a downgrade");
    assert_eq!(flags_of(&app, id).await[0]["state"], "due");

    // Another open flag of the integration (the partner declared an end of support), which the downgrade closes.
    let other: i64 = app::on_pool!(&app.db, |pool| sqlx::query_scalar(
        "INSERT INTO tier_flags (integration_id, partner_id, rule, state, reason, evidence, clears_when, held_since, evaluated_at,
            created_at, updated_at)
         SELECT id, partner_id, 'end_of_support', 'grace', 'end of support declared', '[]', 'withdraw it', $2, $2, $2, $2
         FROM integrations WHERE id = $1 RETURNING id"
    )
    .bind(id)
    .bind(Utc::now())
    .fetch_one(pool)
    .await
    .unwrap());
    // Downgrade: the tier changes, the partner's contacts hear (they cannot opt out), the trail records it.
    let res = decide(json!({"outcome": "downgrade", "tier": "community", "reason": "breach open for a week"})).await.unwrap();
    assert_eq!(res.status(), 200);
    let decided: Value = res.json().await.unwrap();
    assert_eq!((decided["state"].as_str(), decided["tier"].as_str()), (Some("downgraded"), Some("community")), "{decided}");
    let (_, integration) = app.get_json(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(integration["tier"], "community");
    let decided_alerts = outbox(&app, "flag_decided").await;
    assert!(decided_alerts.contains(&("ops@breach-co.example".to_string(), true)), "{decided_alerts:?}");
    assert!(decided_alerts.contains(&("am@alliances.example".to_string(), false)), "{decided_alerts:?}");
    let (_, trail) = app.get_json(&format!("/api/v1/integrations/{id}/audit")).await;
    let actions: Vec<&str> = trail["items"].as_array().unwrap().iter().filter_map(|r| r["action"].as_str()).collect();
    for a in ["flag.raise", "flag.due", "flag.decide", "integration.tier", "flag.clear"] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let closed = flags_of(&app, id).await.into_iter().find(|f| f["id"] == other).unwrap();
    assert_eq!(closed["state"], "cleared", "{closed}");
    let cleared = trail["items"].as_array().unwrap().iter().find(|r| r["action"] == "flag.clear").unwrap();
    assert!(cleared["summary"].as_str().unwrap().contains("closed by the downgrade"), "{cleared}");
    assert_eq!(cleared["actor_name"], "rita@alliances.example", "{cleared}");
    assert_eq!(cleared["changes"], json!([{"field": "state", "before": "grace", "after": "cleared"}]), "{cleared}");

    // Decided once: a second decision is refused, and no new flag is raised for a community integration.
    assert_eq!(decide(json!({"outcome": "keep", "reason": "second thoughts"})).await.unwrap().status(), 422);
    let e = evaluate(&app.db, now + Duration::days(9)).await.unwrap();
    assert_eq!(e.raised, 0, "{e:?}");

    // Verified again later, with the breach still open: the downgrade no longer holds the rule back.
    let (s, b) = app.send_json(reqwest::Method::PATCH, &format!("/api/v1/integrations/{id}"), &json!({"tier": "verified"})).await;
    assert_eq!(s, 200, "{b}");
    let e = evaluate(&app.db, now + Duration::days(10)).await.unwrap();
    assert_eq!(e.raised, 1, "judged afresh: {e:?}");
    let open: Vec<Value> = flags_of(&app, id).await.into_iter().filter(|f| f["closed_at"].is_null()).collect();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0]["rule"], "critical_breach_open", "{open:?}");
}

/// A "keep" holds the same flag back while its condition holds; once the
/// condition clears, a new occurrence is flagged again, within the 90 days.
async fn a_keep_lapses_when_its_condition_clears(app: TestApp) {
    let (_, id) = verified(&app, "Keep Co").await;
    let first = breach(&app, id, "Crash on start").await;
    let now = Utc::now();
    evaluate(&app.db, now).await.unwrap();
    evaluate(&app.db, now + Duration::days(8)).await.unwrap();
    let flag_id = flags_of(&app, id).await[0]["id"].as_i64().unwrap();
    let (_, reviewer) = app.client_as("rita@alliances.example", Role::Reviewer, None).await;
    let res = reviewer
        .post(app.url(&format!("/api/v1/flags/{flag_id}/decision")))
        .json(&json!({"outcome": "keep", "reason": "the fix ships tomorrow"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // While the condition holds, nothing new.
    assert_eq!(evaluate(&app.db, now + Duration::days(9)).await.unwrap().raised, 0);
    // The breach is resolved: the keep lapses (once), and the trail says so.
    let (s, r) = app.post_json(&format!("/api/v1/issues/{first}/resolve"), &json!({})).await;
    assert_eq!(s, 200, "{r}");
    let e = evaluate(&app.db, now + Duration::days(10)).await.unwrap();
    assert_eq!((e.lapsed, e.raised), (1, 0), "{e:?}");
    assert_eq!(evaluate(&app.db, now + Duration::days(11)).await.unwrap().lapsed, 0, "once");
    // A new critical breach 20 days later: a new flag, well within the 90 days.
    breach(&app, id, "Data loss").await;
    let e = evaluate(&app.db, now + Duration::days(30)).await.unwrap();
    assert_eq!(e.raised, 1, "{e:?}");
    let (_, trail) = app.get_json(&format!("/api/v1/integrations/{id}/audit")).await;
    assert!(trail.to_string().contains("flag.lapse"), "{trail}");
}

async fn flags_clear_and_wait(app: TestApp) {
    let now = Utc::now();
    // Cleared within the grace period: the flag closes itself with a note.
    let (_, a) = verified(&app, "Quick Fix").await;
    let issue = breach(&app, a, "Login broken").await;
    evaluate(&app.db, now).await.unwrap();
    let (s, r) = app.post_json(&format!("/api/v1/issues/{issue}/resolve"), &json!({})).await;
    assert_eq!(s, 200, "{r}");
    let e = evaluate(&app.db, now + Duration::days(1)).await.unwrap();
    assert_eq!(e.cleared, 1, "{e:?}");
    let flag = &flags_of(&app, a).await[0];
    assert_eq!(flag["state"], "cleared", "{flag}");
    assert!(flag["close_note"].as_str().unwrap().contains("grace"), "{flag}");

    // Exempt: the flag waits as "exempt" and never becomes due while the exemption runs.
    let (_, b) = verified(&app, "Exempt Co").await;
    breach(&app, b, "Slow scans").await;
    let until = (now + Duration::days(30)).format("%Y-%m-%d").to_string();
    let res = app
        .client
        .post(app.url(&format!("/api/v1/integrations/{b}/exemptions")))
        .json(&json!({"rule": "critical_breach_open", "until": until, "reason": "fix ships next week"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (s, r) =
        app.post_json(&format!("/api/v1/integrations/{b}/exemptions"), &json!({"rule": "nope", "until": "yesterday", "reason": ""})).await;
    assert_eq!(s, 422, "{r}");
    evaluate(&app.db, now).await.unwrap();
    evaluate(&app.db, now + Duration::days(10)).await.unwrap();
    assert_eq!(flags_of(&app, b).await[0]["state"], "exempt");
    // Ended early: the time already held counts, so it is due at once.
    let res = app.client.delete(app.url(&format!("/api/v1/integrations/{b}/exemptions/critical_breach_open"))).send().await.unwrap();
    assert_eq!(res.status(), 204);
    evaluate(&app.db, now + Duration::days(10)).await.unwrap();
    assert_eq!(flags_of(&app, b).await[0]["state"], "due");

    // Preview: a new rule is shown but never bites.
    let (s, r) = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/flags/settings",
            &json!({"window_days": "90", "compliance_threshold": "90", "min_issues": "5", "stale_release_months": "6", "grace_days": "7",
                "recheck_after_keep_days": "90", "modes": {"end_of_support": "preview"}}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (s, r) = app.send_json(reqwest::Method::PUT, "/api/v1/flags/settings", &json!({"grace_days": "-1"})).await;
    assert_eq!(s, 422, "{r}");
    let (slug, c) = verified(&app, "Sunset Co").await;
    let (_, member) = app.client_as("pat@sunset.example", Role::Partner, Some(&slug)).await;
    let today = now.format("%Y-%m-%d").to_string();
    let res = member
        .put(app.url(&format!("/api/v1/integrations/{c}/end-of-support")))
        .json(&json!({"day": today, "note": "product retired"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    evaluate(&app.db, now + Duration::hours(1)).await.unwrap();
    evaluate(&app.db, now + Duration::days(30)).await.unwrap();
    let flags = flags_of(&app, c).await;
    assert_eq!(
        (flags.len(), flags[0]["rule"].as_str(), flags[0]["state"].as_str()),
        (1, Some("end_of_support"), Some("preview")),
        "{flags:?}"
    );
}

async fn dashboards_and_exports(app: TestApp) {
    let (own, id) = verified(&app, "Dash Co").await;
    breach(&app, id, "Crash").await;
    let (other, _) = verified(&app, "Else Co").await;
    evaluate(&app.db, Utc::now()).await.unwrap();

    // Staff: everything; a filter narrows it; a bad filter is a 422.
    let (s, d) = app.get_json("/api/v1/dashboard").await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["integrations"], 2);
    assert_eq!(d["funnels"].as_array().unwrap().len(), 2, "both tracks: {d}");
    assert_eq!(d["support"]["open_breaches"], 1, "{d}");
    assert_eq!(d["flags"]["grace"], 1, "{d}");
    let (_, narrowed) = app.get_json("/api/v1/dashboard?track=provider").await;
    assert_eq!(narrowed["integrations"], 0, "{narrowed}");
    assert_eq!(narrowed["flags"]["grace"], 0, "{narrowed}");
    assert_eq!(narrowed["funnels"].as_array().unwrap().len(), 1);
    let (s, bad) = app.get_json("/api/v1/dashboard?tier=gold").await;
    assert_eq!(s, 422, "{bad}");
    assert!(bad["fields"]["tier"].is_array(), "{bad}");

    // A partner member: not the staff dashboard; their own partner's only.
    let (_, member) = app.client_as("pat@dash.example", Role::Partner, Some(&own)).await;
    assert_eq!(member.get(app.url("/api/v1/dashboard")).send().await.unwrap().status(), 403);
    let res = member.get(app.url(&format!("/api/v1/partners/{own}/dashboard"))).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let mine: Value = res.json().await.unwrap();
    assert_eq!(mine["flags"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(mine["open_issues"].as_array().unwrap().len(), 1, "{mine}");
    assert_eq!(member.get(app.url(&format!("/api/v1/partners/{other}/dashboard"))).send().await.unwrap().status(), 404);

    // Exports: CSV, kept to what the viewer may see.
    let csv = |client: reqwest::Client, path: &'static str| {
        let url = app.url(path);
        async move {
            let res = client.get(url).send().await.unwrap();
            assert_eq!(res.status(), 200, "{path}");
            assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
            res.text().await.unwrap()
        }
    };
    let all = csv(app.client.clone(), "/api/v1/integrations/export.csv").await;
    assert_eq!(all.lines().count(), 3, "header and two integrations: {all}");
    let theirs = csv(member.clone(), "/api/v1/integrations/export.csv").await;
    assert_eq!(theirs.lines().count(), 2, "{theirs}");
    assert!(theirs.contains("Dash Co scan") && !theirs.contains("Else Co"), "{theirs}");
    let partners = csv(member.clone(), "/api/v1/partners/export.csv").await;
    assert_eq!(partners.lines().count(), 2, "{partners}");
    let issues = csv(member.clone(), "/api/v1/issues/export.csv").await;
    assert!(issues.lines().nth(1).unwrap().contains("breached"), "{issues}");
    let flags = csv(app.client.clone(), "/api/v1/flags/export.csv").await;
    assert!(flags.starts_with("id,partner,integration,tier,rule,state"), "{flags}");
    assert!(flags.contains("critical_breach_open"), "{flags}");
    let none = csv(app.client.clone(), "/api/v1/flags/export.csv?state=decided").await;
    assert_eq!(none.lines().count(), 1, "{none}");
    assert_eq!(app.get("/api/v1/flags/export.csv?state=bogus").await.status(), 422);

    // Staff move the integration to the other partner: its flag goes with it.
    let (_, flag) = app.get_json(&format!("/api/v1/flags?integration_id={id}")).await;
    let flag_id = flag["items"][0]["id"].as_i64().unwrap();
    let (s, moved) = app.send_json(reqwest::Method::PATCH, &format!("/api/v1/integrations/{id}"), &json!({"partner": other})).await;
    assert_eq!(s, 200, "{moved}");
    assert_eq!(member.get(app.url(&format!("/api/v1/flags/{flag_id}"))).send().await.unwrap().status(), 404);
    let (s, list) = crate::helpers::json_of(member.get(app.url("/api/v1/flags?state=all")).send().await.unwrap()).await;
    assert_eq!((s, list["total"].as_i64()), (200, Some(0)), "{list}");
    assert!(!csv(member.clone(), "/api/v1/flags/export.csv").await.contains("critical_breach_open"));
    let (_, newcomer) = app.client_as("pat@else.example", Role::Partner, Some(&other)).await;
    let (s, theirs) = crate::helpers::json_of(newcomer.get(app.url(&format!("/api/v1/flags/{flag_id}"))).send().await.unwrap()).await;
    assert_eq!(s, 200, "{theirs}");
    assert_eq!(theirs["partner"], "Else Co", "{theirs}");
}

async fn dashboard_and_flag_pages_render(app: TestApp) {
    let (slug, id) = verified(&app, "Page Co").await;
    breach(&app, id, "Crash on plan").await;
    evaluate(&app.db, Utc::now()).await.unwrap();
    let flag_id = flags_of(&app, id).await[0]["id"].as_i64().unwrap();

    let page = app.get("/").await.text().await.unwrap();
    for text in ["Pipeline", "Support health", "Tier flags", "Review queue", "role=\"img\"", "Page Co scan — Critical breach still open"]
    {
        assert!(page.contains(text), "{text} missing from the dashboard");
    }
    let sorted = app.get("/?sort=name&track=run_task").await;
    assert_eq!(sorted.status(), 200);
    let bad = app.get("/?tier=gold").await;
    assert_eq!(bad.status(), 422, "a bad filter is an error on the page");

    let list = app.get("/flags").await.text().await.unwrap();
    assert!(list.contains(&format!("href=\"/flags/{flag_id}\"")), "{list}");
    let one = app.get(&format!("/flags/{flag_id}")).await.text().await.unwrap();
    assert!(one.contains("What clears it") && one.contains("Record decision"), "{one}");
    let settings = app.get("/admin/flags").await.text().await.unwrap();
    assert!(settings.contains("Grace period (days)") && settings.contains("Develop &amp; Test"), "{settings}");
    let partner = app.get(&format!("/partners/{slug}/dashboard")).await.text().await.unwrap();
    assert!(partner.contains("To clear it:"), "{partner}");
    let integration = app.get(&format!("/integrations/{id}")).await.text().await.unwrap();
    assert!(integration.contains("End of support"), "{integration}");

    // Deciding works without JavaScript: the form posts, the browser is sent back to the flag.
    let res = app
        .post_form(
            "/api/flags/decide",
            &[("id", &flag_id.to_string()), ("outcome", "keep"), ("reason", "fix is merged")],
            &format!("/flags/{flag_id}"),
        )
        .await;
    let location = res.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or_default().to_string();
    assert_eq!((res.status().as_u16(), location.as_str()), (302, format!("/flags/{flag_id}?decided=1").as_str()));
    assert_eq!(flags_of(&app, id).await[0]["state"], "kept");
}

crate::on_both_backends!(
    breach_flag_grace_downgrade,
    a_keep_lapses_when_its_condition_clears,
    flags_clear_and_wait,
    dashboards_and_exports,
    dashboard_and_flag_pages_render
);

/// The staff dashboard is shown from a stored snapshot while it is younger
/// than `DASHBOARD_MAX_AGE_SECONDS`, refreshed once (one claim across
/// instances) when older, and the rendered page is kept per viewer until a
/// newer snapshot exists; every response carries its own CSP nonce.
async fn dashboard_snapshots_and_page_cache(backend: Backend) {
    use app::services::dashboard::{snapshot_key, staff_view, MaxAge};
    use app::store::snapshots;
    let app = spawn_app_with(backend, |c| {
        c.dashboard = server::config::DashboardConfig { max_age: MaxAge(Duration::seconds(60)), page_cache: 8 };
    })
    .await;
    let max_age = MaxAge(Duration::seconds(60));
    let admin = app::domain::access::Caller {
        user_id: 1,
        email: "admin@example.com".into(),
        name: "Admin".into(),
        role: Role::Admin,
        partner: None,
    };
    let all = app::domain::dashboard::DashboardQuery::default();
    let key = snapshot_key(&all.validate(&admin.email).unwrap());
    verified(&app, "Snap Co").await;

    // Computed and stored on the first view; the same figures while nothing changes.
    // Whole seconds: PostgreSQL keeps microseconds.
    let t0 = chrono::DurationRound::duration_trunc(Utc::now() + Duration::hours(1), Duration::seconds(1)).unwrap();
    let first = staff_view(&app.db, &admin, &all, t0, max_age).await.unwrap();
    assert_eq!((first.integrations, first.generated_at), (1, t0));
    let same = staff_view(&app.db, &admin, &all, t0 + Duration::seconds(30), max_age).await.unwrap();
    assert_eq!((same.integrations, same.generated_at), (1, t0), "the snapshot");

    // A change (the audit trail moves): the next view computes anew and shows it.
    verified(&app, "Later Co").await;
    let live = staff_view(&app.db, &admin, &all, t0 + Duration::seconds(30), MaxAge(Duration::zero())).await.unwrap();
    assert_eq!(live.integrations, 2, "max age 0: computed from the tables every time");
    let changed = staff_view(&app.db, &admin, &all, t0 + Duration::seconds(31), max_age).await.unwrap();
    assert_eq!((changed.integrations, changed.generated_at), (2, t0 + Duration::seconds(31)));

    // Only old: the old figures at once, their successor computed in the background by one claimant.
    let t1 = t0 + Duration::seconds(31);
    let old = staff_view(&app.db, &admin, &all, t1 + Duration::seconds(61), max_age).await.unwrap();
    assert_eq!(old.generated_at, t1);
    let mut refreshed = None;
    for _ in 0..250 {
        refreshed = snapshots::get(&app.db, &key).await.unwrap().map(|s| s.generated_at).filter(|at| *at > t1);
        if refreshed.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let t2 = refreshed.expect("the old snapshot was refreshed");
    assert_eq!(t2, t1 + Duration::seconds(61));
    let now = t2 + Duration::seconds(120);
    assert!(snapshots::claim_refresh(&app.db, &key, t2, now, now + Duration::seconds(300)).await.unwrap());
    assert!(!snapshots::claim_refresh(&app.db, &key, t2, now, now + Duration::seconds(300)).await.unwrap(), "one refresh at a time");
    assert!(!snapshots::claim_refresh(&app.db, &key, t1, now, now + Duration::seconds(300)).await.unwrap(), "not of an older snapshot");
    snapshots::release(&app.db, &key).await.unwrap();

    // Bad filters and partner members get no snapshot.
    let bad = app::domain::dashboard::DashboardQuery { tier: "gold".into(), ..Default::default() };
    assert!(staff_view(&app.db, &admin, &bad, t2, max_age).await.is_err());
    let (_, member) = app.client_as("pat@snap-co.example", Role::Partner, Some("snap-co")).await;
    assert_eq!(member.get(app.url("/api/v1/dashboard")).send().await.unwrap().status(), 403);
    // `/`'s server function: nothing for a member (their page shows their own dashboard), the figures for staff.
    let form = [("query[track]", ""), ("query[mine]", "false")];
    let res = member.post(app.url("/api/dashboard/home")).form(&form).send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.text().await.unwrap()), (200, "null".to_string()));
    let res = app.client.post(app.url("/api/dashboard/home")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("\"funnels\""));
    // `/`'s partner dashboard: the member's own partner's, never another's; nothing for staff.
    let none: [(&str, &str); 0] = [];
    let res = member.post(app.url("/api/dashboard/home-partner")).form(&none).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let own: serde_json::Value = res.json().await.unwrap();
    assert_eq!(own["partner"], "Snap Co", "{own}");
    assert!(!own.to_string().contains("Later Co"), "{own}");
    let res = app.client.post(app.url("/api/dashboard/home-partner")).form(&none).send().await.unwrap();
    assert_eq!((res.status().as_u16(), res.text().await.unwrap()), (200, "null".to_string()));
    let count = || async {
        app::on_pool!(&app.db, |pool| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM dashboard_snapshots").fetch_one(pool).await)
            .unwrap()
    };
    assert_eq!(count().await, 1);

    // The page: after a change, a view computes; the next renders from the snapshot and is kept;
    // the next is the kept page. Each response has a nonce of its own in the header and the page.
    let (_, viewer) = app.client_as("vera@alliances.example", Role::Viewer, None).await;
    let nonce = |res: &reqwest::Response| {
        let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
        csp.split("'nonce-").nth(1).and_then(|r| r.split('\'').next()).unwrap().to_string()
    };
    let hit = |res: &reqwest::Response| res.headers().get("x-page-cache").is_some();
    let res = app.get("/").await;
    assert_eq!((res.status().as_u16(), hit(&res)), (200, false));
    app.caught_up().await;
    let res = app.get("/").await;
    assert!(!hit(&res), "rendered from the snapshot, and kept");
    let n1 = nonce(&res);
    let page1 = res.text().await.unwrap();
    assert!(page1.contains("2 integrations match these filters.") && page1.contains(&format!("nonce=\"{n1}\"")), "{page1}");
    let res = app.get("/").await;
    assert!(hit(&res), "the kept page");
    let n2 = nonce(&res);
    let page2 = res.text().await.unwrap();
    assert_ne!(n1, n2);
    assert_eq!(page2, page1.replace(&n1, &n2), "the kept page, with this response's nonce");
    // Any write the change feed reports makes the kept pages stale: here, the stored figures themselves.
    let tampered = snapshots::get(&app.db, &key).await.unwrap().unwrap().body.replace("\"integrations\":2", "\"integrations\":77");
    app::on_pool!(&app.db, |pool| sqlx::query("UPDATE dashboard_snapshots SET body = $1 WHERE filter_key = $2")
        .bind(&tampered)
        .bind(&key)
        .execute(pool)
        .await
        .map(|_| ()))
    .unwrap();
    app.caught_up().await;
    let res = app.get("/").await;
    assert!(!hit(&res));
    let page3 = res.text().await.unwrap();
    assert!(page3.contains("77 integrations match these filters."), "rendered from the snapshot as stored");
    // Another staff member gets a page of their own (their name is on it), from the same snapshot.
    let theirs = viewer.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(theirs.contains("Signed in as vera@alliances.example"), "{theirs}");
    assert!(theirs.contains("77 integrations match these filters."), "{theirs}");
    let res = viewer.get(app.url("/")).send().await.unwrap();
    assert!(hit(&res), "theirs was kept");
    let n3 = nonce(&res);
    let again = res.text().await.unwrap();
    assert!(again.contains("Signed in as vera@alliances.example") && again.contains(&format!("nonce=\"{n3}\"")), "{again}");
    // A newer snapshot (from any instance): every kept page of the older one stops matching.
    let newer = tampered.replace("\"integrations\":77", "\"integrations\":78");
    let mark = snapshots::latest_audit(&app.db).await.unwrap();
    snapshots::put(&app.db, &key, &newer, Utc::now(), mark, Utc::now() - Duration::days(1)).await.unwrap();
    app.caught_up().await;
    let page4 = app.get("/").await.text().await.unwrap();
    assert!(page4.contains("78 integrations match these filters."), "{page4}");
    // And a change: the next view computes again.
    verified(&app, "Third Co").await;
    app.caught_up().await;
    let page5 = app.get("/").await.text().await.unwrap();
    assert!(page5.contains("3 integrations match these filters."), "{page5}");
}

mod dashboard_snapshots_and_page_cache {
    use crate::helpers::Backend;
    #[tokio::test]
    async fn sqlite() {
        super::dashboard_snapshots_and_page_cache(Backend::Sqlite).await
    }
    #[tokio::test]
    async fn postgres() {
        super::dashboard_snapshots_and_page_cache(Backend::Postgres).await
    }
}
