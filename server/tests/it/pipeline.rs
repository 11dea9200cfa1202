//! The stage pipeline over the JSON API, on both databases: reporting with
//! evidence, review, waivers, reopening, no skipping, and who may do what.

use crate::helpers::{json_of, TestApp};
use crate::on_both_backends;
use app::domain::access::Role;
use serde_json::{json, Value};

on_both_backends!(
    report_request_changes_report_accept_and_the_stage_advances,
    stages_cannot_be_skipped_and_waivers_need_optional_tasks_and_reasons,
    a_reviewer_reopens_a_completed_stage,
    members_report_but_never_review_and_never_see_other_partners,
    the_review_queue_and_the_partner_home,
    completing_verify_makes_the_provider_verified,
    observed_facts_complete_automatic_tasks,
    admins_revise_templates_and_apply_them_to_chosen_integrations,
    completing_release_grants_the_badge,
    a_run_task_registers_its_endpoint_key_and_stages,
);

struct Setup {
    member: reqwest::Client,
    reviewer: reqwest::Client,
    integration: i64,
}

async fn setup(app: &TestApp) -> Setup {
    app.partner("Acme Cloud", "infrastructure").await;
    let (s, i) = app
        .post_json("/api/v1/integrations", &json!({"kind": "provider", "name": "Acme", "partner": "acme-cloud", "source_address": "acme-cloud/acme", "categories": ["Networking"]}))
        .await;
    assert_eq!(s, 201, "{i}");
    let (_, member) = app.client_as("dev@acme.example", Role::Partner, Some("acme-cloud")).await;
    let (_, reviewer) = app.client_as("rev@staff.example", Role::Reviewer, None).await;
    Setup { member, reviewer, integration: i["id"].as_i64().unwrap() }
}

async fn pipeline(app: &TestApp, client: &reqwest::Client, id: i64) -> (u16, Value) {
    json_of(client.get(app.url(&format!("/api/v1/integrations/{id}/pipeline"))).send().await.unwrap()).await
}

/// The id of the task with `key`, and the pipeline it came from.
fn task<'a>(p: &'a Value, key: &str) -> &'a Value {
    p["stages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["tasks"].as_array().unwrap())
        .find(|t| t["key"] == key)
        .unwrap_or_else(|| panic!("no task {key}"))
}

async fn act(app: &TestApp, client: &reqwest::Client, task_id: &Value, body: Value) -> (u16, Value) {
    json_of(client.post(app.url(&format!("/api/v1/tasks/{task_id}"))).json(&body).send().await.unwrap()).await
}

async fn report_and_accept(app: &TestApp, s: &Setup, p: &Value, key: &str) -> Value {
    let id = &task(p, key)["id"];
    let (st, _) =
        act(app, &s.member, id, json!({"action": "report", "evidence_url": "https://github.com/acme-cloud/terraform-provider-acme"})).await;
    assert_eq!(st, 200, "report {key}");
    let (st, after) = act(app, &s.reviewer, id, json!({"action": "accept"})).await;
    assert_eq!(st, 200, "accept {key}: {after}");
    after
}

async fn report_request_changes_report_accept_and_the_stage_advances(app: TestApp) {
    let s = setup(&app).await;
    let (status, p) = pipeline(&app, &s.member, s.integration).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["current"], "prepare");
    let stages: Vec<&str> = p["stages"].as_array().unwrap().iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["prepare", "publish", "apply", "verify", "support"]);
    assert_eq!(p["stages"][0]["status"], "open");
    assert_eq!(p["stages"][1]["status"], "locked");
    let docs = task(&p, "prepare.docs").clone();
    assert_eq!(docs["state"], "open");
    assert_eq!(docs["allowed"], json!(["report"]), "a member may only report");

    // Reporting needs evidence.
    let (st, err) = act(&app, &s.member, &docs["id"], json!({"action": "report"})).await;
    assert_eq!(st, 422, "{err}");
    assert!(err["fields"]["evidence_url"].is_array());
    let (st, p) = act(&app, &s.member, &docs["id"], json!({"action": "report", "evidence_url": "https://github.com/acme-cloud/terraform-provider-acme/tree/main/docs", "note": "Generated with tfplugindocs."})).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(task(&p, "prepare.docs")["state"], "reported");

    // Changes requested need a comment, which the partner then sees.
    let (st, err) = act(&app, &s.reviewer, &docs["id"], json!({"action": "request_changes"})).await;
    assert_eq!(st, 422, "{err}");
    let (st, _) =
        act(&app, &s.reviewer, &docs["id"], json!({"action": "request_changes", "comment": "Add the data sources to the docs."})).await;
    assert_eq!(st, 200);
    let (_, p) = pipeline(&app, &s.member, s.integration).await;
    let t = task(&p, "prepare.docs");
    assert_eq!(t["state"], "changes_requested");
    assert_eq!(t["events"].as_array().unwrap().last().unwrap()["comment"], "Add the data sources to the docs.");
    assert_eq!(t["events"][0]["note"], "Generated with tfplugindocs.");
    assert_eq!(t["events"][0]["actor"], "dev@acme.example");

    // Reported again and accepted; accepting twice is refused.
    let (st, _) = act(&app, &s.member, &docs["id"], json!({"action": "report", "note": "Data sources documented."})).await;
    assert_eq!(st, 200);
    let (st, p) = act(&app, &s.reviewer, &docs["id"], json!({"action": "accept"})).await;
    assert_eq!(st, 200);
    assert_eq!(task(&p, "prepare.docs")["state"], "accepted");
    let (st, err) = act(&app, &s.reviewer, &docs["id"], json!({"action": "accept"})).await;
    assert_eq!(st, 409, "{err}");
    assert!(err["error"].as_str().unwrap().contains("already accepted"));

    // The rest of Prepare: then Publish opens, and the integration says so.
    let mut p = p;
    for key in ["prepare.framework", "prepare.repository", "prepare.licence"] {
        p = report_and_accept(&app, &s, &p, key).await;
    }
    assert_eq!(p["current"], "publish");
    assert_eq!(p["stages"][0]["status"], "complete");
    assert_eq!(p["stages"][1]["status"], "open");
    let (_, integration) = app.get_json(&format!("/api/v1/integrations/{}", s.integration)).await;
    assert_eq!(integration["stage"], "publish");
}

async fn stages_cannot_be_skipped_and_waivers_need_optional_tasks_and_reasons(app: TestApp) {
    let s = setup(&app).await;
    let (_, p) = pipeline(&app, &s.reviewer, s.integration).await;
    let later = &task(&p, "publish.docs_render")["id"];
    let (st, err) = act(&app, &s.member, later, json!({"action": "report", "note": "Looks fine."})).await;
    assert_eq!(st, 409, "{err}");
    assert!(err["error"].as_str().unwrap().contains("cannot be skipped"));

    let docs = &task(&p, "prepare.docs")["id"];
    let (st, err) = act(&app, &s.reviewer, docs, json!({"action": "waive", "comment": "Not needed."})).await;
    assert_eq!(st, 409);
    assert!(err["error"].as_str().unwrap().contains("required task cannot be waived"));
    // An optional task (as an admin's template may make it) can be waived, with a reason.
    let docs_id = docs.as_i64().unwrap();
    app::on_pool!(&app.db, |pool| sqlx::query("UPDATE tasks SET required = $1 WHERE id = $2")
        .bind(false)
        .bind(docs_id)
        .execute(pool)
        .await
        .map(|_| ())
        .unwrap());
    let (st, _) = act(&app, &s.reviewer, docs, json!({"action": "waive"})).await;
    assert_eq!(st, 422);
    let (st, _) = act(&app, &s.member, docs, json!({"action": "waive", "comment": "Please"})).await;
    assert_eq!(st, 403, "members cannot waive");
    // The partner's support contact hears of a waiver as of any review decision.
    app::on_pool!(&app.db, |pool| sqlx::query(
        "INSERT INTO support_contacts (partner_id, position, name, email)
         SELECT partner_id, 0, 'Ops', 'ops@acme-cloud.example' FROM integrations WHERE id = $1"
    )
    .bind(s.integration)
    .execute(pool)
    .await
    .map(|_| ())
    .unwrap());
    let (st, p) = act(&app, &s.reviewer, docs, json!({"action": "waive", "comment": "Docs live on the vendor site."})).await;
    assert_eq!(st, 200);
    assert_eq!(task(&p, "prepare.docs")["state"], "waived");
    let told: Vec<(String, String)> =
        app::on_pool!(&app.db, |pool| sqlx::query_as("SELECT recipient, content FROM alert_outbox WHERE kind = 'review_decision'")
            .fetch_all(pool)
            .await
            .unwrap());
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0].0, "ops@acme-cloud.example");
    assert!(told[0].1.contains("waived") && told[0].1.contains("Docs live on the vendor site."), "{told:?}");
    // Unknown actions and tasks are clear errors.
    let (st, _) = act(&app, &s.reviewer, docs, json!({"action": "approve"})).await;
    assert_eq!(st, 422);
    let (st, _) = act(&app, &s.reviewer, &json!(999999), json!({"action": "accept"})).await;
    assert_eq!(st, 404);
}

async fn a_reviewer_reopens_a_completed_stage(app: TestApp) {
    let s = setup(&app).await;
    let (_, mut p) = pipeline(&app, &s.reviewer, s.integration).await;
    for key in ["prepare.framework", "prepare.repository", "prepare.licence", "prepare.docs"] {
        p = report_and_accept(&app, &s, &p, key).await;
    }
    assert_eq!(p["current"], "publish");
    let url = app.url(&format!("/api/v1/integrations/{}/stages/prepare/reopen", s.integration));
    let (st, _) = json_of(s.reviewer.post(&url).json(&json!({"reason": ""})).send().await.unwrap()).await;
    assert_eq!(st, 422, "a reason is required");
    let (st, _) = json_of(s.member.post(&url).json(&json!({"reason": "Please"})).send().await.unwrap()).await;
    assert_eq!(st, 403);
    let (st, p) = json_of(s.reviewer.post(&url).json(&json!({"reason": "The licence changed to BUSL."})).send().await.unwrap()).await;
    assert_eq!(st, 200, "{p}");
    assert_eq!(p["current"], "prepare");
    assert_eq!(p["stages"][1]["status"], "locked");
    let licence = task(&p, "prepare.licence");
    assert_eq!(licence["state"], "changes_requested");
    assert_eq!(licence["events"].as_array().unwrap().last().unwrap()["comment"], "The licence changed to BUSL.");
    // An open stage cannot be reopened; nor can an unknown one.
    let (st, _) = json_of(s.reviewer.post(&url).json(&json!({"reason": "again"})).send().await.unwrap()).await;
    assert_eq!(st, 409);
    let bad = app.url(&format!("/api/v1/integrations/{}/stages/engage/reopen", s.integration));
    let (st, _) = json_of(s.reviewer.post(&bad).json(&json!({"reason": "x"})).send().await.unwrap()).await;
    assert_eq!(st, 422);
}

async fn members_report_but_never_review_and_never_see_other_partners(app: TestApp) {
    let s = setup(&app).await;
    let (_, p) = pipeline(&app, &s.member, s.integration).await;
    let docs = &task(&p, "prepare.docs")["id"];
    let (st, _) = act(&app, &s.member, docs, json!({"action": "report", "note": "done"})).await;
    assert_eq!(st, 200);
    let (st, _) = act(&app, &s.member, docs, json!({"action": "accept"})).await;
    assert_eq!(st, 403, "a member cannot review their own work");
    let (_, viewer) = app.client_as("view@staff.example", Role::Viewer, None).await;
    let (st, vp) = pipeline(&app, &viewer, s.integration).await;
    assert_eq!(st, 200);
    assert_eq!(task(&vp, "prepare.docs")["allowed"], json!([]), "viewers only read");
    let (st, _) = act(&app, &viewer, docs, json!({"action": "report", "note": "x"})).await;
    assert_eq!(st, 403);
    // Another partner's member: the pipeline and its tasks do not exist for them.
    app.partner("Other Co", "infrastructure").await;
    let (_, outsider) = app.client_as("dev@other.example", Role::Partner, Some("other-co")).await;
    let (st, _) = pipeline(&app, &outsider, s.integration).await;
    assert_eq!(st, 404);
    let (st, _) = act(&app, &outsider, docs, json!({"action": "report", "note": "x"})).await;
    assert_eq!(st, 404);
    let reopen = app.url(&format!("/api/v1/integrations/{}/stages/prepare/reopen", s.integration));
    assert_eq!(outsider.post(&reopen).json(&json!({"reason": "x"})).send().await.unwrap().status(), 404);
    // Nor does a browser's failed upload send them to the integration behind the task.
    let res = outsider
        .post(app.url(&format!("/api/v1/tasks/{docs}/report")))
        .header("accept", "text/html")
        .header("referer", app.url("/"))
        .multipart(reqwest::multipart::Form::new().text("note", "x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.headers().get("location").is_none(), "{:?}", res.headers().get("location"));
}

/// A form post as a browser without JavaScript sends it.
async fn form(app: &TestApp, client: &reqwest::Client, path: &str, fields: &[(&str, &str)], from: &str) -> reqwest::Response {
    client.post(app.url(path)).header("accept", "text/html").header("referer", app.url(from)).form(fields).send().await.unwrap()
}

async fn the_review_queue_and_the_partner_home(app: TestApp) {
    let s = setup(&app).await;
    // A second partner, managed by someone else, with work waiting too.
    app.user("other@staff.example", app::domain::access::Role::Reviewer, None, app::domain::user::UserStatus::Active).await;
    let (st, b) = app
        .post_json(
            "/api/v1/partners",
            &json!({"name": "Bravo Systems", "kind": "infrastructure", "alliance_manager_email": "other@staff.example"}),
        )
        .await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = app
        .post_json("/api/v1/integrations", &json!({"kind": "provider", "name": "Bravo", "partner": "bravo-systems", "source_address": "bravo/thing", "categories": ["Networking"]}))
        .await;
    assert_eq!(st, 201, "{b}");
    let bravo = b["id"].as_i64().unwrap();
    let (_, bravo_p) = pipeline(&app, &app.client, bravo).await;
    let (st, _) =
        act(&app, &app.client, &task(&bravo_p, "prepare.framework")["id"], json!({"action": "report", "note": "Plugin framework v1.13"}))
            .await;
    assert_eq!(st, 200);
    let (st, b) =
        app.send_json(reqwest::Method::PATCH, "/api/v1/partners/acme-cloud", &json!({"alliance_manager_email": "rev@staff.example"})).await;
    assert_eq!(st, 200, "{b}");

    // The partner's home lists what is theirs to do.
    let (_, p) = pipeline(&app, &s.member, s.integration).await;
    let docs = task(&p, "prepare.docs").clone();
    let title = docs["title"].as_str().unwrap().to_string();
    let home = s.member.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    // The partner dashboard's data is fetched, and embedded in the page, once.
    assert_eq!(home.matches("\\\"open_issues\\\":").count(), 1, "{home}");
    let (yours, _) = home.split_once("Waiting on review").expect("both lists");
    assert!(yours.contains("Waiting on you") && yours.contains(&title), "{home}");
    let (st, _) = act(&app, &s.member, &docs["id"], json!({"action": "report", "evidence_url": "https://github.com/acme-cloud/terraform-provider-acme/tree/main/docs", "note": "Generated with tfplugindocs."})).await;
    assert_eq!(st, 200);
    let home = s.member.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    let (yours, review) = home.split_once("Waiting on review").expect("both lists");
    assert!(yours.contains("Waiting on you") && !yours.contains(&title), "reported work left the member's list");
    assert!(review.contains(&title) && review.contains("tfplugindocs"), "{review}");
    assert!(!home.contains("Bravo"), "a member sees only their partner's work");

    // The reviewer's queue: oldest first, both partners; "mine" narrows it.
    let queue = |client: reqwest::Client, mine: &'static str| {
        let url = app.url("/api/review/queue");
        async move { json_of(client.post(url).form(&[("mine", mine)]).send().await.unwrap()).await }
    };
    let (st, all) = queue(s.reviewer.clone(), "false").await;
    assert_eq!(st, 200, "{all}");
    let titles: Vec<&str> = all["items"].as_array().unwrap().iter().map(|i| i["partner_slug"].as_str().unwrap()).collect();
    assert_eq!(titles, ["bravo-systems", "acme-cloud"], "oldest first");
    assert_eq!(all["items"][1]["evidence_url"], "https://github.com/acme-cloud/terraform-provider-acme/tree/main/docs");
    assert_eq!(all["items"][1]["last_actor"], "dev@acme.example");
    let (_, mine) = queue(s.reviewer.clone(), "true").await;
    assert_eq!(mine["total"], 1);
    assert_eq!(mine["items"][0]["task_id"], docs["id"]);
    let (st, _) = queue(s.member.clone(), "false").await;
    assert_eq!(st, 403, "members have no review queue");

    // The page: reviewers get the inline forms, viewers only the list.
    let page = s.reviewer.get(app.url("/review?mine=1")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&title) && page.contains(">Accept<") && !page.contains("Bravo"), "{page}");
    let (_, viewer) = app.client_as("view@staff.example", Role::Viewer, None).await;
    let page = viewer.get(app.url("/review")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&title) && !page.contains(">Accept<"));
    assert_eq!(s.member.get(app.url("/review")).send().await.unwrap().status(), 403);

    // Inline answers work without JavaScript and come back to the queue.
    let id = docs["id"].to_string();
    let res = form(
        &app,
        &s.reviewer,
        "/api/pipeline/act",
        &[("task_id", &id), ("action", "request_changes"), ("back", "/review?mine=1")],
        "/review?mine=1",
    )
    .await;
    assert_eq!(res.status(), 303, "no comment: back to the form with the error");
    let res = form(
        &app,
        &s.reviewer,
        "/api/pipeline/act",
        &[("task_id", &id), ("action", "request_changes"), ("comment", "Add the data sources."), ("back", "/review?mine=1")],
        "/review?mine=1",
    )
    .await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], "/review?mine=1");
    let (_, mine) = queue(s.reviewer.clone(), "true").await;
    assert_eq!(mine["total"], 0, "answered: off the queue");
    let home = s.member.get(app.url("/")).send().await.unwrap().text().await.unwrap();
    let (yours, _) = home.split_once("Waiting on review").unwrap();
    assert!(yours.contains(&title) && yours.contains("Add the data sources."), "sent back to the member, with the comment");
    // `back` only ever leads to the queue.
    let bravo_task = task(&bravo_p, "prepare.framework")["id"].to_string();
    let res = form(
        &app,
        &s.reviewer,
        "/api/pipeline/act",
        &[("task_id", &bravo_task), ("action", "accept"), ("back", "https://evil.example/")],
        "/review",
    )
    .await;
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"].to_str().unwrap(), format!("/integrations/{bravo}#task-{bravo_task}"));
}

async fn completing_verify_makes_the_provider_verified(app: TestApp) {
    let s = setup(&app).await;
    let (_, mut p) = pipeline(&app, &s.reviewer, s.integration).await;
    for stage in 0..4 {
        let mut keys: Vec<String> =
            p["stages"][stage]["tasks"].as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap().to_string()).collect();
        // "Integration verified" first: the tier waits for the whole of Verify.
        keys.reverse();
        for key in keys {
            let (_, i) = app.get_json(&format!("/api/v1/integrations/{}", s.integration)).await;
            assert_eq!(i["tier"], "community", "still community before {key}");
            p = report_and_accept(&app, &s, &p, &key).await;
        }
    }
    assert_eq!(p["current"], "support");
    let (_, i) = app.get_json(&format!("/api/v1/integrations/{}", s.integration)).await;
    assert_eq!(i["tier"], "verified");
    let (_, records) = app.get_json("/api/v1/audit?q=became%20verified").await;
    assert_eq!(records["total"], 1, "{records}");
    assert_eq!(records["items"][0]["changes"], json!([{"field": "tier", "before": "community", "after": "verified"}]));
}

async fn observed_facts_complete_automatic_tasks(app: TestApp) {
    let (st, b) =
        app.post_json("/api/v1/partners", &json!({"name": "Fact Co", "kind": "infrastructure", "registry_namespace": "factco"})).await;
    assert_eq!(st, 201, "{b}");
    // A repository named after the type, published under the partner's own namespace.
    let (st, i) = app
        .post_json(
            "/api/v1/integrations",
            &json!({"kind": "provider", "name": "Fact", "partner": "fact-co", "source_address": "factco/fact",
            "repository_url": "https://github.com/factco/terraform-provider-fact", "categories": ["Networking"]}),
        )
        .await;
    assert_eq!(st, 201, "{i}");
    let id = i["id"].as_i64().unwrap();
    let (_, p) = pipeline(&app, &app.client, id).await;
    let namespace = task(&p, "publish.namespace");
    assert_eq!(namespace["state"], "accepted", "a later stage's fact is recorded too: {namespace}");
    let event = &namespace["events"][0];
    assert_eq!(event["action"], "observe");
    assert_eq!(event["actor"], "Integration Tracker");
    assert!(event["note"].as_str().unwrap().contains("factco/fact"), "{event}");
    // The name alone does not say the repository is public: that waits for
    // the GitHub sync (github_sync::issues_and_licence_are_synced).
    assert_eq!(task(&p, "prepare.repository")["state"], "open");
    assert_eq!(task(&p, "apply.manager")["state"], "open", "no alliance manager yet");
    assert_eq!(p["current"], "prepare", "no stage is skipped: Prepare still has open tasks");

    // The alliance manager is a reviewer: a name alone, or someone without
    // a reviewer's account, is refused and changes nothing.
    let app_ref = &app;
    let patch =
        move |body: serde_json::Value| async move { app_ref.send_json(reqwest::Method::PATCH, "/api/v1/partners/fact-co", &body).await };
    let (st, b) = patch(json!({"alliance_manager_name": "Ann Alliance"})).await;
    assert_eq!(st, 422, "{b}");
    assert!(b["fields"]["alliance_manager_email"][0].as_str().unwrap().contains("a name alone reaches nobody"), "{b}");
    let (st, b) = patch(json!({"alliance_manager_email": "ann@alliances.example"})).await;
    assert_eq!(st, 422, "{b}");
    assert!(b["fields"]["alliance_manager_email"][0].as_str().unwrap().contains("invite them first"), "{b}");
    app.user("dev@factco.example", app::domain::access::Role::Partner, Some("fact-co"), app::domain::user::UserStatus::Active).await;
    let (st, b) = patch(json!({"alliance_manager_email": "dev@factco.example"})).await;
    assert_eq!(st, 422, "{b}");
    assert!(b["fields"]["alliance_manager_email"][0].as_str().unwrap().contains("partner member account"), "{b}");
    // A manager stored before the rule, with no account behind it, is kept
    // but completes nothing.
    app::on_pool!(&app.db, |pool| {
        sqlx::query("UPDATE partners SET alliance_manager_email = 'legacy@alliances.example' WHERE slug = 'fact-co'")
            .execute(pool)
            .await
            .unwrap();
    });
    app::services::pipeline::observe(&app.db, id, chrono::Utc::now()).await.unwrap();
    let (_, p) = pipeline(&app, &app.client, id).await;
    assert_eq!(task(&p, "apply.manager")["state"], "open");

    // Naming a reviewer completes its integrations' tasks; the name is the account's.
    app.user("ann@alliances.example", app::domain::access::Role::Reviewer, None, app::domain::user::UserStatus::Active).await;
    let (st, b) = patch(json!({"alliance_manager_email": "Ann@Alliances.example"})).await;
    assert_eq!(st, 200, "{b}");
    assert_eq!(
        (b["alliance_manager_email"].as_str(), b["alliance_manager_name"].as_str()),
        (Some("ann@alliances.example"), Some("ann@alliances.example"))
    );
    let (_, p) = pipeline(&app, &app.client, id).await;
    let manager = task(&p, "apply.manager");
    assert_eq!(manager["state"], "accepted");
    assert!(manager["events"][0]["note"].as_str().unwrap().contains("<ann@alliances.example>"), "{manager}");
    // Another manager, with the old one's name still in the form, takes
    // their own; taking the email away and keeping a name is refused.
    let bo = app::domain::user::UserStatus::Active;
    app.user("bo@alliances.example", app::domain::access::Role::Admin, None, bo).await;
    let (st, b) = patch(json!({"alliance_manager_email": "bo@alliances.example", "alliance_manager_name": "ann@alliances.example"})).await;
    assert_eq!((st, b["alliance_manager_name"].as_str()), (200, Some("bo@alliances.example")), "{b}");
    let (st, b) = patch(json!({"alliance_manager_email": ""})).await;
    assert_eq!(st, 422, "{b}");
    assert!(b["fields"]["alliance_manager_email"][0].as_str().unwrap().contains("a name alone"), "{b}");
    let (_, records) = app.get_json("/api/v1/audit?q=completed%20automatically").await;
    assert_eq!(records["total"], 2, "{records}");
    assert!(records["items"].as_array().unwrap().iter().all(|r| r["actor_name"] == "Integration Tracker"));

    // A repository that does not match stays for a person to report.
    let (_, i) = app
        .post_json(
            "/api/v1/integrations",
            &json!({"kind": "provider", "name": "Other", "partner": "fact-co", "source_address": "factco/other",
            "repository_url": "https://github.com/factco/other-repo", "categories": ["Networking"]}),
        )
        .await;
    let (_, p) = pipeline(&app, &app.client, i["id"].as_i64().unwrap()).await;
    assert_eq!(task(&p, "prepare.repository")["state"], "open");
}

mod evidence_files {
    use super::*;
    use crate::helpers::{spawn_app_with, Backend};

    #[tokio::test]
    async fn sqlite() {
        files_are_limited_stored_with_reports_and_served_only_to_who_may_see_them(Backend::Sqlite).await
    }
    #[tokio::test]
    async fn postgres() {
        files_are_limited_stored_with_reports_and_served_only_to_who_may_see_them(Backend::Postgres).await
    }

    #[tokio::test]
    async fn sqlite_large_files() {
        files_up_to_the_evidence_limit_are_taken_though_other_bodies_stop_at_a_mebibyte(Backend::Sqlite).await
    }
    #[tokio::test]
    async fn postgres_large_files() {
        files_up_to_the_evidence_limit_are_taken_though_other_bodies_stop_at_a_mebibyte(Backend::Postgres).await
    }

    async fn files_up_to_the_evidence_limit_are_taken_though_other_bodies_stop_at_a_mebibyte(backend: Backend) {
        let (app, dir) = with_evidence_limit(backend, "large", 3 * 1024 * 1024).await;
        let s = setup(&app).await;
        let (_, p) = pipeline(&app, &s.member, s.integration).await;
        let url = app.url(&format!("/api/v1/tasks/{}/report", task(&p, "prepare.docs")["id"]));
        let (st, p) =
            json_of(s.member.post(&url).multipart(report_form(&vec![b'x'; 2 * 1024 * 1024], "run.log")).send().await.unwrap()).await;
        assert_eq!(st, 200, "a 2 MiB file under a 3 MiB limit: {p}");
        assert_eq!(task(&p, "prepare.docs")["events"][0]["file"]["size"], 2 * 1024 * 1024);
        // Past the evidence limit the handler itself says so, with a field error.
        let (st, err) =
            json_of(s.member.post(&url).multipart(report_form(&vec![b'x'; 3 * 1024 * 1024 + 1], "big.log")).send().await.unwrap()).await;
        assert_eq!(st, 422, "{err}");
        assert!(err["fields"]["file"][0].as_str().unwrap().contains("larger than"), "{err}");
        // Every other body stops at 1 MiB.
        let patch = app.url(&format!("/api/v1/integrations/{}", s.integration));
        let res = s.member.patch(&patch).json(&json!({"name": "x".repeat(1024 * 1024)})).send().await.unwrap();
        assert_eq!(res.status(), 413);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A server keeping evidence files in a folder of the test's own
    /// (named by `test` and the backend), up to `max_bytes` each.
    async fn with_evidence_limit(backend: Backend, test: &str, max_bytes: u64) -> (crate::helpers::TestApp, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("evidence-{test}-{}-{}", std::process::id(), backend as u8));
        let evidence_dir = dir.clone();
        let app = spawn_app_with(backend, move |c| {
            c.evidence_dir = evidence_dir;
            c.evidence_max_bytes = max_bytes;
        })
        .await;
        (app, dir)
    }

    fn report_form(file: &[u8], name: &str) -> reqwest::multipart::Form {
        let part = reqwest::multipart::Part::bytes(file.to_vec()).file_name(name.to_string()).mime_str("text/html").unwrap();
        reqwest::multipart::Form::new().text("note", "Test run attached.").part("file", part)
    }

    async fn files_are_limited_stored_with_reports_and_served_only_to_who_may_see_them(backend: Backend) {
        let (app, dir) = with_evidence_limit(backend, "limited", 2048).await;
        let s = setup(&app).await;
        let (_, p) = pipeline(&app, &s.member, s.integration).await;
        let docs = task(&p, "prepare.docs")["id"].clone();
        let url = app.url(&format!("/api/v1/tasks/{docs}/report"));
        let files_on_disk = || std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);

        // Too large: refused with a field error, nothing kept.
        let (st, err) = json_of(s.member.post(&url).multipart(report_form(&[b'x'; 4096], "big.log")).send().await.unwrap()).await;
        assert_eq!(st, 422, "{err}");
        assert!(err["fields"]["file"][0].as_str().unwrap().contains("larger than 2.0 KB"), "{err}");
        assert_eq!(files_on_disk(), 0);
        // Files go with reports only.
        let form = reqwest::multipart::Form::new()
            .text("action", "accept")
            .part("file", reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("a.txt"));
        let (st, _) = json_of(s.reviewer.post(&url).multipart(form).send().await.unwrap()).await;
        assert!(st == 409 || st == 422, "{st}");
        assert_eq!(files_on_disk(), 0);

        // A report with a file (an HTML page, which must never be served as one).
        let body = b"<html><script>alert(1)</script></html>";
        let (st, p) = json_of(s.member.post(&url).multipart(report_form(body, "../../report \"x\".html")).send().await.unwrap()).await;
        assert_eq!(st, 200, "{p}");
        let t = task(&p, "prepare.docs");
        assert_eq!(t["state"], "reported");
        let file = &t["events"][0]["file"];
        assert_eq!(file["name"], "report x.html");
        assert_eq!(file["size"], body.len());
        assert_eq!(files_on_disk(), 1);
        let href = format!("/api/v1/evidence/{}", file["id"]);

        let res = s.member.get(app.url(&href)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let h = res.headers().clone();
        assert_eq!(h["content-type"], "application/octet-stream", "HTML is not served as HTML");
        assert!(h["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"report x.html\""));
        assert!(h["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
        assert_eq!(res.bytes().await.unwrap().as_ref(), body);
        assert_eq!(s.reviewer.get(app.url(&href)).send().await.unwrap().status(), 200);
        let res = s.member.get(app.url(&href)).header("accept-encoding", "gzip").send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.expect("a compressed download ends cleanly");
        // Another partner's member and anonymous callers get nothing.
        app.partner("Other Co", "infrastructure").await;
        let (_, outsider) = app.client_as("dev@other.example", Role::Partner, Some("other-co")).await;
        let res = outsider.get(app.url(&href)).send().await.unwrap();
        assert_eq!(res.status(), 404);
        assert!(!res.text().await.unwrap().contains("alert"));
        // Who may not report is turned away before the file is read: not
        // "too large" (which would mean it was read), and nothing is kept.
        let (_, viewer) = app.client_as("viewer@staff.example", Role::Viewer, None).await;
        for (who, client, want) in [("outsider", &outsider, 404), ("viewer", &viewer, 403)] {
            let (st, err) = json_of(client.post(&url).multipart(report_form(&[b'x'; 4096], "big.log")).send().await.unwrap()).await;
            assert_eq!(st, want, "{who}: {err}");
            assert!(err["fields"]["file"].is_null(), "{who}: {err}");
        }
        assert_eq!(files_on_disk(), 1);
        assert_eq!(app.anonymous().get(app.url(&href)).send().await.unwrap().status(), 401);
        assert_eq!(s.member.get(app.url("/api/v1/evidence/999999")).send().await.unwrap().status(), 404);
        // The audit record names the file and its checksum.
        let (_, records) = app.get_json("/api/v1/audit?target=task").await;
        let change = records["items"][0]["changes"].as_array().unwrap().iter().find(|c| c["field"] == "file").cloned().unwrap();
        assert!(
            change["after"].as_str().unwrap().contains("report x.html") && change["after"].as_str().unwrap().contains("sha256"),
            "{change}"
        );

        // A browser's form post goes back to the task; its errors come along.
        let html_post = |form: reqwest::multipart::Form| {
            s.member.post(&url).header("accept", "text/html").header("referer", app.url("/integrations/1")).multipart(form).send()
        };
        let res = html_post(report_form(b"second run", "run2.log")).await.unwrap();
        assert_eq!(res.status(), 303);
        assert_eq!(res.headers()["location"].to_str().unwrap(), format!("/integrations/{}#task-{docs}", s.integration));
        let res = html_post(report_form(&[b'y'; 4096], "big.log")).await.unwrap();
        assert_eq!(res.status(), 303);
        let location = res.headers()["location"].to_str().unwrap().to_string();
        assert!(location.contains("report_error=") && location.contains("larger"), "{location}");
        let page = s.member.get(app.url(&location)).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("The report was not saved: the file is larger than 2.0 KB"), "the page shows the error");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The template form's fields for the current tasks, as the page sends them.
fn template_form(template: &Value) -> Vec<(String, String)> {
    let mut form =
        vec![("kind".to_string(), template["kind"].as_str().unwrap().to_string()), ("base".into(), template["version"].to_string())];
    for (i, t) in template["tasks"].as_array().unwrap().iter().enumerate() {
        form.push((format!("tasks[{i}][key]"), t["key"].as_str().unwrap().into()));
        form.push((format!("tasks[{i}][title]"), t["title"].as_str().unwrap().into()));
        form.push((format!("tasks[{i}][help]"), t["help"].as_str().unwrap().into()));
        form.push((format!("tasks[{i}][position]"), i.to_string()));
        if t["required"] == true {
            form.push((format!("tasks[{i}][required]"), "on".into()));
        }
    }
    form
}

async fn admins_revise_templates_and_apply_them_to_chosen_integrations(app: TestApp) {
    let s = setup(&app).await;
    // A second provider, further along: Prepare done, in Publish.
    let (_, i) = app
        .post_json("/api/v1/integrations", &json!({"kind": "provider", "name": "Later", "partner": "acme-cloud", "source_address": "acme-cloud/later", "categories": ["Networking"]}))
        .await;
    let later = i["id"].as_i64().unwrap();
    let (_, mut p) = pipeline(&app, &s.reviewer, later).await;
    for key in ["prepare.framework", "prepare.repository", "prepare.licence", "prepare.docs"] {
        p = report_and_accept(&app, &s, &p, key).await;
    }
    assert_eq!(p["current"], "publish");

    let get = |client: reqwest::Client, kind: &'static str| {
        let url = app.url("/api/templates/get");
        async move { json_of(client.post(url).form(&[("kind", kind)]).send().await.unwrap()).await }
    };
    let (st, view) = get(app.client.clone(), "provider").await;
    assert_eq!(st, 200, "{view}");
    assert_eq!(view["template"]["version"], 1);
    assert_eq!(view["followers"].as_array().unwrap().len(), 2);
    let (st, _) = get(s.reviewer.clone(), "provider").await;
    assert_eq!(st, 403, "templates are for admins");
    let (st, _) = get(app.client.clone(), "widget").await;
    assert_eq!(st, 422);

    // Version 2: docs reworded and optional, a new Prepare task, a new Verify task.
    let mut form = template_form(&view["template"]);
    let docs = view["template"]["tasks"].as_array().unwrap().iter().position(|t| t["key"] == "prepare.docs").unwrap();
    form.retain(|(k, _)| k != &format!("tasks[{docs}][required]"));
    for (k, v) in form.iter_mut() {
        if k == &format!("tasks[{docs}][title]") {
            *v = "Documentation generated with tfplugindocs".into();
        }
    }
    let n = view["template"]["tasks"].as_array().unwrap().len();
    for (i, (stage, title)) in [(n, ("prepare", "Acceptance tests run in CI")), (n + 1, ("verify", "Security review passed"))] {
        form.push((format!("tasks[{i}][stage]"), stage.into()));
        form.push((format!("tasks[{i}][title]"), title.into()));
        form.push((format!("tasks[{i}][position]"), "1000".into()));
        form.push((format!("tasks[{i}][required]"), "on".into()));
    }
    let save = |form: Vec<(String, String)>| {
        let url = app.url("/api/templates/save");
        let client = app.client.clone();
        async move { client.post(url).form(&form).send().await.unwrap() }
    };
    // Removing a task is refused, with the reason.
    let without_first: Vec<_> = form.iter().filter(|(k, _)| !k.starts_with("tasks[0]")).cloned().collect();
    let res = save(without_first).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("not removed"));
    let res = save(form.clone()).await;
    assert!(res.status().is_success() || res.status().is_redirection(), "{}", res.text().await.unwrap());
    // Saving from a stale version is a conflict.
    let res = save(form.clone()).await;
    assert_eq!(res.status(), 409);

    // Existing checklists are untouched until applied; new integrations get version 2.
    let (_, p) = pipeline(&app, &s.member, s.integration).await;
    assert_eq!(task(&p, "prepare.docs")["title"], "Documentation in the repository");
    let (_, i) = app
        .post_json("/api/v1/integrations", &json!({"kind": "provider", "name": "Fresh", "partner": "acme-cloud", "source_address": "acme-cloud/fresh", "categories": ["Networking"]}))
        .await;
    let (_, fresh) = pipeline(&app, &s.member, i["id"].as_i64().unwrap()).await;
    assert_eq!(task(&fresh, "prepare.docs")["title"], "Documentation generated with tfplugindocs");
    assert_eq!(task(&fresh, "prepare.acceptance-tests-run-in-ci")["state"], "open");

    // Apply version 2 to both older ones.
    let (_, view) = get(app.client.clone(), "provider").await;
    assert_eq!(view["template"]["version"], 2);
    let apply = |ids: Vec<i64>, version: &'static str| {
        let url = app.url("/api/templates/apply");
        let client = app.client.clone();
        let mut form = vec![("kind".to_string(), "provider".to_string()), ("version".into(), version.into())];
        form.extend(ids.iter().map(|id| ("integrations[]".to_string(), id.to_string())));
        async move { client.post(url).form(&form).send().await.unwrap() }
    };
    assert_eq!(apply(vec![s.integration, later], "1").await.status(), 409, "only the current version applies");
    let res = apply(vec![s.integration, later], "2").await;
    assert!(res.status().is_success() || res.status().is_redirection());
    // The one in Prepare gets the new Prepare task open; the one in Publish gets it accepted.
    let (_, p) = pipeline(&app, &s.member, s.integration).await;
    assert_eq!(task(&p, "prepare.docs")["title"], "Documentation generated with tfplugindocs");
    assert_eq!(task(&p, "prepare.docs")["required"], false);
    assert_eq!(task(&p, "prepare.acceptance-tests-run-in-ci")["state"], "open");
    let (_, p) = pipeline(&app, &s.member, later).await;
    assert_eq!(p["current"], "publish", "nothing moves backwards");
    assert_eq!(task(&p, "prepare.acceptance-tests-run-in-ci")["state"], "accepted");
    assert_eq!(task(&p, "verify.security-review-passed")["state"], "open");
    // Applying again changes nothing; the audit trail tells the story.
    let (_, view) = get(app.client.clone(), "provider").await;
    assert!(view["followers"].as_array().unwrap().iter().all(|f| f["checklist_version"] == 2), "{view}");
    let (_, records) = app.get_json("/api/v1/audit?q=checklist%20brought").await;
    assert_eq!(records["total"], 2);
    let (_, records) = app.get_json("/api/v1/audit?target=template").await;
    assert_eq!(records["total"], 1);
    assert!(records["items"][0]["changes"].as_array().unwrap().iter().any(|c| c["field"] == "prepare.docs"));
    // The editor page shows the new version and the follow-up form.
    let page = app.get("/admin/templates?kind=provider").await.text().await.unwrap();
    assert!(page.contains("Provider checklist, version 2") && page.contains("Save as version 3"), "{page}");
}

async fn completing_release_grants_the_badge(app: TestApp) {
    let s = setup(&app).await;
    app.partner("Scan Co", "workflow").await;
    let (st, i) = app
        .post_json(
            "/api/v1/integrations",
            &json!({"kind": "run_task", "name": "Scanner", "partner": "scan-co", "categories": ["Code Scanning"]}),
        )
        .await;
    assert_eq!(st, 201, "{i}");
    assert_eq!(i["badge_granted_at"], Value::Null);
    let id = i["id"].as_i64().unwrap();
    let (_, mut p) = pipeline(&app, &app.client, id).await;
    let mut granted = false;
    for stage in 0..4 {
        let mut keys: Vec<String> = p["stages"][stage]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["state"] != "accepted")
            .map(|t| t["key"].as_str().unwrap().to_string())
            .collect();
        // Support documentation first: the badge waits for the whole of Release.
        keys.reverse();
        let last = keys.last().cloned();
        for key in keys {
            let task_id = task(&p, &key)["id"].clone();
            if key == "release.summary" {
                // The note is the public summary: at most two lines.
                let (st, b) = act(&app, &app.client, &task_id, json!({"action": "report", "note": "One.\nTwo.\nThree."})).await;
                assert_eq!(st, 422, "{b}");
                assert!(b["fields"]["note"][0].as_str().unwrap().contains("at most two lines"), "{b}");
            }
            let report = json!({"action": "report", "evidence_url": "https://scan.example/docs", "note": "Scans plans for secrets.\nBlocks leaky applies."});
            let (st, b) = act(&app, &app.client, &task_id, report).await;
            assert_eq!(st, 200, "{key}: {b}");
            let (st, b) = act(&app, &s.reviewer, &task_id, json!({"action": "accept"})).await;
            assert_eq!(st, 200, "{key}: {b}");
            p = b;
            granted |= stage == 3 && Some(&key) == last.as_ref();
            let (_, i) = app.get_json(&format!("/api/v1/integrations/{id}")).await;
            assert_eq!(i["badge_granted_at"].is_string(), granted, "after accepting {key}");
        }
    }
    assert_eq!(p["current"], "support");
    let page = app.get(&format!("/integrations/{id}")).await.text().await.unwrap();
    assert!(page.contains("Terraform Cloud badge") && page.contains("Granted on"), "the page shows the badge");
    let (_, records) = app.get_json("/api/v1/audit?q=terraform%20cloud%20badge").await;
    assert_eq!(records["total"], 1);
}

async fn a_run_task_registers_its_endpoint_key_and_stages(app: TestApp) {
    let s = setup(&app).await;
    app.partner("Scan Co", "workflow").await;
    let (_, i) = app
        .post_json(
            "/api/v1/integrations",
            &json!({"kind": "run_task", "name": "Scanner", "partner": "scan-co", "categories": ["Code Scanning"]}),
        )
        .await;
    let id = i["id"].as_i64().unwrap();
    let (_, member) = app.client_as("dev@scan.example", Role::Partner, Some("scan-co")).await;
    let url = app.url(&format!("/api/v1/integrations/{id}/run-task"));
    let put = |client: &reqwest::Client, body: Value| client.put(&url).json(&body).send();
    // Bad input: every problem named, nothing stored.
    let (st, err) =
        json_of(put(&member, json!({"endpoint_url": "http://scan.example", "hmac_key": "short", "stages": ["mid_plan"]})).await.unwrap())
            .await;
    assert_eq!(st, 422, "{err}");
    for field in ["endpoint_url", "hmac_key", "stages"] {
        assert!(err["fields"][field].is_array(), "{field}: {err}");
    }
    let key = "s3cr3t-hmac-key-0123456789";
    let (st, r) = json_of(
        put(&member, json!({"endpoint_url": "https://scan.example/tfc", "hmac_key": key, "stages": ["post_plan", "pre_plan"]}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(r["stages"], json!(["pre_plan", "post_plan"]));
    let fingerprint = r["hmac_fingerprint"].as_str().unwrap().to_string();
    assert_eq!(fingerprint.len(), 12);
    // The key is never shown again: not in the API, the page, or the audit trail.
    let (_, again) = json_of(member.get(&url).send().await.unwrap()).await;
    assert!(!again.to_string().contains(key));
    let page = member.get(app.url(&format!("/integrations/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(&fingerprint) && !page.contains(key), "the page shows the fingerprint only");
    let (_, records) = app.get_json(&format!("/api/v1/integrations/{id}/audit")).await;
    assert!(!records.to_string().contains(key) && records.to_string().contains(&fingerprint));
    // The Develop & Test tasks the registration answers completed themselves.
    let (_, p) = pipeline(&app, &member, id).await;
    for key in ["develop.endpoint", "develop.hmac", "develop.stages"] {
        assert_eq!(task(&p, key)["state"], "accepted", "{key}");
    }
    // Saving again without a key keeps it.
    let (st, r) = json_of(put(&member, json!({"endpoint_url": "https://scan.example/v2", "stages": ["pre_apply"]})).await.unwrap()).await;
    assert_eq!(st, 200);
    assert_eq!(r["hmac_fingerprint"], fingerprint.as_str());
    // Viewers may not change it; other partners do not see it; providers have none.
    let (_, viewer) = app.client_as("view@staff.example", Role::Viewer, None).await;
    assert_eq!(put(&viewer, json!({})).await.unwrap().status(), 403);
    assert_eq!(put(&s.member, json!({})).await.unwrap().status(), 404);
    let provider = app.url(&format!("/api/v1/integrations/{}/run-task", s.integration));
    assert_eq!(app.client.put(&provider).json(&json!({"endpoint_url": "https://x.example"})).send().await.unwrap().status(), 422);
}
