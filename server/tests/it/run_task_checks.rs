//! Run-task conformance checks end to end: the real server and its runner
//! call a sample run-task endpoint (`fake_run_task`) as Terraform Cloud
//! would; the endpoint calls the tracker back. A correct endpoint passes and
//! its report becomes evidence; each broken one fails with its reason.

use crate::fake_run_task::{Behaviour, FakeRunTask};
use crate::helpers::{json_of, spawn_app_with, Backend, TestApp};
use app::domain::access::Role;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// A server whose runner runs checks, allowed to call endpoints on this
/// machine over plain http, with a callback limit of `callback_seconds`.
async fn app(backend: Backend, callback_seconds: i64, per_hour: i64) -> TestApp {
    spawn_app_with(backend, |c| {
        c.outbound_allow = "http://127.0.0.1".into();
        c.checks.enabled = true;
        c.checks.tick = Duration::from_millis(100);
        c.checks.timeout = Duration::from_secs(3);
        c.checks.limits.callback_seconds = callback_seconds;
        c.checks.limits.per_hour = per_hour;
    })
    .await
}

async fn partner(app: &TestApp, slug: &str) {
    let (s, b) = app.post_json("/api/v1/partners", &json!({"name": slug, "slug": slug, "kind": "workflow"})).await;
    assert_eq!(s, 201, "{b}");
}

/// A run task of `partner` registered at the fake endpoint; its id.
async fn run_task(app: &TestApp, partner: &str, name: &str, endpoint: &FakeRunTask, stages: &[&str]) -> i64 {
    let (s, b) = app
        .post_json(
            "/api/v1/integrations",
            &json!({"kind": "run_task", "name": name, "partner": partner, "categories": ["Code Scanning"], "stage": "develop_test"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_i64().unwrap();
    let (s, b) = app
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/v1/integrations/{id}/run-task"),
            &json!({"endpoint_url": endpoint.url, "hmac_key": endpoint.key, "stages": stages}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    id
}

async fn start(app: &TestApp, client: &reqwest::Client, integration: i64) -> (u16, Value) {
    json_of(client.post(app.url(&format!("/api/v1/integrations/{integration}/checks"))).send().await.unwrap()).await
}

/// Polls the check until it has a verdict (at most 30 s).
async fn finished(app: &TestApp, client: &reqwest::Client, check: i64) -> Value {
    for _ in 0..300 {
        let (s, b) = json_of(client.get(app.url(&format!("/api/v1/checks/{check}"))).send().await.unwrap()).await;
        assert_eq!(s, 200, "{b}");
        if b["state"] == "passed" || b["state"] == "failed" {
            return b;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("check {check} did not finish within 30 s");
}

fn step<'a>(check: &'a Value, title: &str) -> &'a Value {
    check["steps"].as_array().unwrap().iter().find(|s| s["title"] == title).unwrap_or_else(|| panic!("no step {title}: {check:#}"))
}

async fn a_correct_endpoint_passes_and_becomes_evidence(backend: Backend) {
    let app = app(backend, 30, 10).await;
    partner(&app, "acme").await;
    partner(&app, "other").await;
    let endpoint = FakeRunTask::start(Behaviour::Correct).await;
    let id = run_task(&app, "acme", "Acme Scan", &endpoint, &["pre_plan", "post_plan"]).await;
    let (_, member) = app.client_as("dev@acme.example", Role::Partner, Some("acme")).await;
    let (_, outsider) = app.client_as("dev@other.example", Role::Partner, Some("other")).await;
    let (_, viewer) = app.client_as("viewer@staff.example", Role::Viewer, None).await;

    // Another partner's member cannot start, list or read it; a viewer may read, not start.
    assert_eq!(start(&app, &outsider, id).await.0, 404);
    assert_eq!(start(&app, &viewer, id).await.0, 403);

    let (s, queued) = start(&app, &member, id).await;
    assert_eq!(s, 201, "{queued}");
    let check = queued["id"].as_i64().unwrap();
    // One at a time per integration.
    let (s, refused) = start(&app, &member, id).await;
    assert_eq!(s, 429, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("already running"), "{refused}");
    let (s, _) = json_of(outsider.get(app.url(&format!("/api/v1/checks/{check}"))).send().await.unwrap()).await;
    assert_eq!(s, 404);
    let (s, _) = json_of(outsider.get(app.url(&format!("/api/v1/integrations/{id}/checks"))).send().await.unwrap()).await;
    assert_eq!(s, 404);

    let done = finished(&app, &member, check).await;
    assert_eq!(done["state"], "passed", "{done:#}");
    assert_eq!(step(&done, "Verification request (access_token \"test-token\")")["outcome"], "passed");
    assert!(step(&done, "Signature enforcement (wrong X-TFC-Task-Signature)")["detail"].as_str().unwrap().contains("refused with 401"));
    for stage in ["pre-plan", "post-plan"] {
        assert_eq!(step(&done, &format!("{stage} request"))["outcome"], "passed");
        let callback = step(&done, &format!("{stage} callback"));
        assert_eq!(callback["outcome"], "passed", "{callback}");
        assert!(callback["detail"].as_str().unwrap().contains("1 \"running\" update, then \"passed\""), "{callback}");
        assert!(callback["detail"].as_str().unwrap().contains("(2 outcomes)"), "{callback}");
    }
    assert!(step(&done, "post-plan documents")["detail"].as_str().unwrap().contains("fetched the plan JSON"), "{done:#}");
    assert!(step(&done, "pre-plan documents")["detail"].as_str().unwrap().contains("fetched the configuration version"));

    // What the endpoint saw: the verification request, the wrong signature, one request per stage.
    {
        let log = endpoint.log.lock().unwrap();
        let seen: Vec<(&str, bool)> = log
            .requests
            .iter()
            .map(|(stage, token, valid)| (if token == "test-token" { "test" } else { stage.as_str() }, *valid))
            .collect();
        assert_eq!(seen, [("test", true), ("test", false), ("pre_plan", true), ("post_plan", true)]);
        assert!(log.callback_answers.iter().all(|s| *s == 200), "{:?}", log.callback_answers);
        assert_eq!(log.callback_answers.len(), 4);
        assert!(log.fetches.iter().all(|(_, s)| *s == 200), "{:?}", log.fetches);
        assert_eq!(log.fetches.len(), 3, "the plan for post-plan only, the configuration for both");
    }

    // The check's tokens end with it: a callback now is refused.
    let (s, list) = json_of(member.get(app.url(&format!("/api/v1/integrations/{id}/checks"))).send().await.unwrap()).await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["checks"][0]["id"], check);
    assert_eq!(list["may_start"], true);

    // Attach it as evidence: the Develop & Test evidence task is reported with a link to the report.
    let (s, attached) = json_of(member.post(app.url(&format!("/api/v1/checks/{check}/evidence"))).send().await.unwrap()).await;
    assert_eq!(s, 200, "{attached}");
    assert!(attached["evidence_attached_at"].is_string());
    let (s, again) = json_of(member.post(app.url(&format!("/api/v1/checks/{check}/evidence"))).send().await.unwrap()).await;
    assert_eq!(s, 422, "{again}");
    let (_, pipeline) = app.get_json(&format!("/api/v1/integrations/{id}/pipeline")).await;
    let task = pipeline["stages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["tasks"].as_array().unwrap())
        .find(|t| t["key"] == "develop.evidence")
        .expect("the evidence task");
    assert_eq!(task["state"], "reported", "{task:#}");
    let evidence = task["events"].to_string();
    assert!(evidence.contains(&format!("/integrations/{id}/checks/{check}")), "{evidence}");

    // The audit trail has the start and the verdict.
    let (_, audit) = app.get_json(&format!("/api/v1/integrations/{id}/audit")).await;
    let actions = audit["items"].to_string();
    assert!(actions.contains("integration.check_start") && actions.contains("integration.check_finish"), "{actions}");

    // The report page and the section on the integration page render for the member.
    let page = member.get(app.url(&format!("/integrations/{id}/checks/{check}"))).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains(&format!("Conformance check #{check}")) && html.contains("post-plan callback"), "report page");
    let html = member.get(app.url(&format!("/integrations/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Conformance check") && html.contains(&format!("#{check}")), "integration page lists the check");
}

async fn broken_endpoints_fail_with_their_reason(backend: Backend) {
    let app = app(backend, 2, 10).await;
    partner(&app, "acme").await;
    let cases: Vec<(Behaviour, &str, &str, Option<u16>)> = vec![
        (
            Behaviour::IgnoresSignature,
            "Signature enforcement (wrong X-TFC-Task-Signature)",
            "answered 200 to a request signed with the wrong key",
            None,
        ),
        (Behaviour::Answers500, "Verification request (access_token \"test-token\")", "answered 500", None),
        (Behaviour::NeverCallsBack, "post-plan callback", "no final status (passed or failed) within 2 seconds", None),
        (
            Behaviour::WrongContentType,
            "post-plan callback",
            "callback content type was application/json; Terraform Cloud requires application/vnd.api+json",
            Some(422),
        ),
        (Behaviour::InvalidStatus, "post-plan callback", "status \"done\" is not one of \"passed\", \"failed\" or \"running\"", Some(422)),
        (
            Behaviour::MessageTooLong,
            "post-plan callback",
            "message is 1500 characters long; Terraform Cloud allows at most 1000",
            Some(422),
        ),
        (Behaviour::WrongBearer, "post-plan callback", "bearer token is not the access_token", Some(401)),
        (Behaviour::CallsBackLate(3500), "post-plan callback", "no final status (passed or failed) within 2 seconds", None),
    ];
    let mut running = Vec::new();
    for (i, (behaviour, title, reason, answer)) in cases.into_iter().enumerate() {
        let endpoint = FakeRunTask::start(behaviour).await;
        let id = run_task(&app, "acme", &format!("Scan {i}"), &endpoint, &["post_plan"]).await;
        let (s, check) = start(&app, &app.client, id).await;
        assert_eq!(s, 201, "{check}");
        running.push((behaviour, title, reason, answer, endpoint, check["id"].as_i64().unwrap()));
    }
    for (behaviour, title, reason, answer, endpoint, check) in running {
        let done = finished(&app, &app.client, check).await;
        assert_eq!(done["state"], "failed", "{behaviour:?}: {done:#}");
        let s = step(&done, title);
        assert_eq!(s["outcome"], "failed", "{behaviour:?}: {s}");
        assert!(s["detail"].as_str().unwrap().contains(reason), "{behaviour:?}: {s}");
        assert!(
            done["summary"].as_str().unwrap().contains(reason),
            "{behaviour:?}: the summary names the first failure: {}",
            done["summary"]
        );
        if let Some(code) = answer {
            assert!(endpoint.log.lock().unwrap().callback_answers.contains(&code), "{behaviour:?}: the tracker answered {code}");
        }
        if let Behaviour::CallsBackLate(_) = behaviour {
            // The late callback is refused and, once it came, the report says so.
            for _ in 0..50 {
                if !endpoint.log.lock().unwrap().callback_answers.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            assert_eq!(endpoint.log.lock().unwrap().callback_answers, [401]);
            let (_, late) = app.get_json(&format!("/api/v1/checks/{check}")).await;
            assert!(step(&late, title)["detail"].as_str().unwrap().contains("too late"), "{late:#}");
        }
    }
}

async fn callbacks_need_the_stage_token_and_limits_hold(backend: Backend) {
    let app = app(backend, 30, 1).await;
    partner(&app, "acme").await;
    let endpoint = FakeRunTask::start(Behaviour::Correct).await;
    let id = run_task(&app, "acme", "Acme Scan", &endpoint, &["pre_apply"]).await;
    let (s, check) = start(&app, &app.client, id).await;
    assert_eq!(s, 201, "{check}");
    let check = check["id"].as_i64().unwrap();
    finished(&app, &app.client, check).await;
    // The hourly allowance (1 here) is used up.
    let (s, refused) = start(&app, &app.client, id).await;
    assert_eq!(s, 429, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("at most 1 checks per hour"), "{refused}");

    // Bad ids and the wrong kind of integration: clear JSON errors, nothing queued.
    let (s, b) = app.get_json("/api/v1/checks/not-a-number").await;
    assert_eq!(s, 404, "{b}");
    assert!(b["error"].as_str().unwrap().contains("check not-a-number"), "{b}");
    let (s, b) = app.post_json("/api/v1/checks/999999/evidence", &json!({})).await;
    assert_eq!(s, 404, "{b}");
    let (s, b) = app
        .post_json(
            "/api/v1/partners",
            &json!({"name": "Prov Works", "slug": "prov-works", "kind": "infrastructure", "registry_namespace": "provworks"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (s, provider) = app
        .post_json(
            "/api/v1/integrations",
            &json!({"kind": "provider", "name": "Prov", "partner": "prov-works", "source_address": "provworks/prov", "categories": ["Networking"]}),
        )
        .await;
    assert_eq!(s, 201, "{provider}");
    let (s, b) = start(&app, &app.client, provider["id"].as_i64().unwrap()).await;
    assert_eq!(s, 404, "a provider has no run-task endpoint to check: {b}");
    let (_, list) = app.get_json(&format!("/api/v1/integrations/{id}/checks")).await;
    assert_eq!(list["checks"].as_array().map(Vec::len), Some(1), "only the one check was queued: {list}");

    // An unknown task result, and a known one without or with a wrong token.
    let anonymous = app.anonymous();
    let patch = |path: String, token: Option<&str>| {
        let mut req = anonymous
            .patch(app.url(&path))
            .header("content-type", "application/vnd.api+json")
            .body(r#"{"data":{"type":"task-results","attributes":{"status":"passed"}}}"#);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let res = patch("/run-task-checks/task-results/taskrs-nosuchresult/callback".into(), Some("rtc_x")).await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/vnd.api+json");
    let (task_result,): (String,) = sqlx_one(&app, check).await;
    let path = format!("/run-task-checks/task-results/{task_result}/callback");
    let res = patch(path.clone(), None).await.unwrap();
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert!(body["errors"][0]["detail"].as_str().unwrap().contains("Authorization"), "{body}");
    assert_eq!(patch(path.clone(), Some("rtc_guess")).await.unwrap().status(), 401);
    // The documents too are only for the stage's token.
    let res = anonymous
        .get(app.url(&format!("/run-task-checks/task-results/{task_result}/plan-json")))
        .bearer_auth("rtc_guess")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

async fn sqlx_one(app: &TestApp, check: i64) -> (String,) {
    app::on_pool!(&app.db, |pool| sqlx::query_as::<_, (String,)>("SELECT task_result_id FROM run_task_check_stages WHERE check_id = $1")
        .bind(check)
        .fetch_one(pool)
        .await)
    .expect("a stage")
}

/// Without the allow-list, endpoints on loopback, private or metadata
/// addresses are refused before any request leaves.
async fn private_endpoints_are_refused(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.checks.enabled = true;
        c.checks.tick = Duration::from_millis(100);
        c.checks.timeout = Duration::from_secs(3);
    })
    .await;
    partner(&app, "acme").await;
    let cases = [
        ("https://127.0.0.1:9/tfc", "127.0.0.1 is not a public address"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 is not a public address"),
        ("https://localhost:9/tfc", "localhost resolves to"),
    ];
    let mut last = 0;
    for (i, (url, reason)) in cases.into_iter().enumerate() {
        let (s, b) = app
            .post_json(
                "/api/v1/integrations",
                &json!({"kind": "run_task", "name": format!("Private {i}"), "partner": "acme", "categories": ["Code Scanning"], "stage": "develop_test"}),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        let id = b["id"].as_i64().unwrap();
        last = id;
        let (s, b) = app
            .send_json(
                reqwest::Method::PUT,
                &format!("/api/v1/integrations/{id}/run-task"),
                &json!({"endpoint_url": url, "stages": ["pre_plan"]}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        let (s, check) = start(&app, &app.client, id).await;
        assert_eq!(s, 201, "{check}");
        let done = finished(&app, &app.client, check["id"].as_i64().unwrap()).await;
        assert_eq!(done["state"], "failed");
        let detail = step(&done, "Verification request (access_token \"test-token\")")["detail"].as_str().unwrap().to_string();
        assert!(detail.contains(reason), "{url}: {detail}");
    }
    // Plain http is refused at registration without the allow-list.
    let (s, b) = app
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/v1/integrations/{last}/run-task"),
            &json!({"endpoint_url": "http://scan.example.com/tfc", "stages": ["pre_plan"]}),
        )
        .await;
    assert_eq!(s, 422, "{b}");
}

/// The server's own sample endpoint (the demo's) passes a check, and the
/// demo seed registers every run task to it.
async fn the_sample_endpoint_passes(backend: Backend) {
    let app = spawn_app_with(backend, |c| {
        c.outbound_allow = "http://127.0.0.1".into();
        c.checks.enabled = true;
        c.checks.tick = Duration::from_millis(100);
        c.checks.limits.callback_seconds = 30;
        c.sample_run_task = true;
    })
    .await;
    let sample = server::demo::SampleEndpoint {
        url: app.url(server::http::sample_run_task::PATH),
        key: server::http::sample_run_task::KEY.into(),
        plain_http: vec!["127.0.0.1".into()],
    };
    assert!(matches!(server::demo::seed_with(&app.db, Some(&sample)).await.expect("seed"), server::demo::Seeded::Loaded { .. }));
    let (_, list) = app.get_json("/api/v1/integrations?kind=run_task&per_page=1").await;
    let id = list["items"][0]["id"].as_i64().expect("a demo run task");
    let (_, registration) = app.get_json(&format!("/api/v1/integrations/{id}/run-task")).await;
    assert_eq!(registration["endpoint_url"], sample.url.as_str());
    let (s, check) = start(&app, &app.client, id).await;
    assert_eq!(s, 201, "{check}");
    let done = finished(&app, &app.client, check["id"].as_i64().unwrap()).await;
    assert_eq!(done["state"], "passed", "{done:#}");
    assert!(step(&done, "Signature enforcement (wrong X-TFC-Task-Signature)")["detail"].as_str().unwrap().contains("refused with 401"));
    // Its key is public: it calls back to this server only, so a forged request gets nothing sent elsewhere.
    let forged = serde_json::to_vec(&json!({"access_token": "x", "task_result_callback_url": "http://169.254.169.254/latest"})).unwrap();
    let signature = server::outbound::run_task::sign(server::http::sample_run_task::KEY, &forged);
    let res = app
        .anonymous()
        .post(app.url(server::http::sample_run_task::PATH))
        .header("x-tfc-task-signature", signature)
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = app.anonymous().post(app.url(server::http::sample_run_task::PATH)).body("{}").send().await.unwrap();
    assert_eq!(res.status(), 401, "unsigned requests are refused");
}

/// Two instances never send the same check; a check whose runner died
/// mid-way ends as interrupted once its lease runs out (clock injected).
async fn one_runner_per_check_and_interrupted_checks_end(backend: Backend) {
    use server::jobs::run_task_check::{Runner, Settings};
    // No runner of the server's own: this test plays the instances.
    let app = spawn_app_with(backend, |c| {
        c.outbound_allow = "http://127.0.0.1".into();
        c.checks.enabled = false;
    })
    .await;
    partner(&app, "acme").await;
    let endpoint = FakeRunTask::start(Behaviour::Correct).await;
    let id = run_task(&app, "acme", "Acme Scan", &endpoint, &["post_apply"]).await;
    // Queued straight into the store, then claimed by an instance that dies.
    let audit =
        app::domain::audit::Entry::system("integration.check_start", app::domain::audit::TargetKind::Integration, Some(id), "Acme Scan");
    let now = chrono::Utc::now();
    let check =
        app::store::run_task_checks::queue(&app.db, id, (0, "tests"), (&endpoint.url, "post_apply", true), now, &audit).await.unwrap();
    let lease = chrono::Duration::minutes(5);
    let claimed = app::store::run_task_checks::claim(&app.db, "dead-instance", now, lease).await.unwrap();
    assert_eq!(claimed.map(|(c, _)| c), Some(check));
    assert!(app::store::run_task_checks::start_sending(&app.db, check, "dead-instance", now).await.unwrap());
    // Nobody else gets it while the lease holds.
    assert_eq!(app::store::run_task_checks::claim(&app.db, "other", now + chrono::Duration::minutes(1), lease).await.unwrap(), None);
    // The dead instance never finishes; after its lease another runner ends the check.
    let client = server::outbound::run_task::RunTaskClient::new(
        Arc::new(server::outbound::guard::Guard::parse("http://127.0.0.1").unwrap()),
        Duration::from_secs(3),
    )
    .unwrap();
    let runner = Runner::new(app.db.clone(), Arc::new(client), Settings::default(), "second".into(), app.url(""));
    assert!(runner.step(now + chrono::Duration::minutes(6)).await.unwrap());
    let (_, done) = app.get_json(&format!("/api/v1/checks/{check}")).await;
    assert_eq!(done["state"], "failed", "{done:#}");
    assert!(done["summary"].as_str().unwrap().contains("interrupted"), "{done:#}");
    assert!(done["steps"].as_array().unwrap().iter().all(|s| s["outcome"] != "pending" && s["outcome"] != "running"), "{done:#}");
    // It sent nothing: the dead instance had the check.
    assert!(endpoint.log.lock().unwrap().requests.is_empty());
    // And a new check may start.
    let (s, b) = start(&app, &app.client, id).await;
    assert_eq!(s, 201, "{b}");
}

/// Each scenario on SQLite and on PostgreSQL; each builds its own server (settings differ).
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use crate::helpers::Backend;
            #[tokio::test]
            async fn sqlite() { super::$name(Backend::Sqlite).await }
            #[tokio::test]
            async fn postgres() { super::$name(Backend::Postgres).await }
        }
    )*};
}

on_both!(
    a_correct_endpoint_passes_and_becomes_evidence,
    broken_endpoints_fail_with_their_reason,
    callbacks_need_the_stage_token_and_limits_hold,
    private_endpoints_are_refused,
    the_sample_endpoint_passes,
    one_runner_per_check_and_interrupted_checks_end,
);
