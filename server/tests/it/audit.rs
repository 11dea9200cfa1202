//! The audit trail, on both databases: every change leaves one record in
//! its own transaction (a change whose record cannot be written does not
//! happen), timelines show them to whoever may see the subject, and admins
//! search and export everything.

use crate::helpers::{json_of, TestApp};
use crate::on_both_backends;
use app::domain::access::Role;
use serde_json::{json, Value};

on_both_backends!(
    changes_to_partners_integrations_tasks_and_users_are_recorded,
    a_change_whose_record_fails_is_rolled_back,
    timelines_follow_access_and_admins_search_and_export,
);

async fn search(app: &TestApp, query: &str) -> Value {
    let (status, body) = app.get_json(&format!("/api/v1/audit?per_page=100&{query}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn actions(page: &Value) -> Vec<String> {
    page["items"].as_array().unwrap().iter().map(|r| r["action"].as_str().unwrap().to_string()).collect()
}

async fn setup(app: &TestApp) -> i64 {
    app.partner("Acme Cloud", "infrastructure").await;
    let (s, i) = app
        .post_json("/api/v1/integrations", &json!({"kind": "provider", "name": "Acme", "partner": "acme-cloud", "source_address": "acme-cloud/acme", "categories": ["Networking"]}))
        .await;
    assert_eq!(s, 201, "{i}");
    i["id"].as_i64().unwrap()
}

async fn changes_to_partners_integrations_tasks_and_users_are_recorded(app: TestApp) {
    let id = setup(&app).await;
    let all = search(&app, "").await;
    // Newest first: the checklist, the integration, the partner (before
    // them, the test's own users).
    let got: Vec<String> = actions(&all).into_iter().filter(|a| !a.starts_with("user.") && !a.starts_with("token.")).collect();
    assert_eq!(got, ["integration.checklist", "integration.create", "partner.create"]);
    let created = all["items"].as_array().unwrap().iter().find(|r| r["action"] == "integration.create").unwrap();
    assert_eq!(created["target_id"], id);
    assert!(
        created["changes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["field"] == "source_address" && c["after"] == "registry.terraform.io/acme-cloud/acme"),
        "{created}"
    );

    // An update records exactly the fields that changed, before and after.
    let (s, b) = app
        .send_json(reqwest::Method::PATCH, &format!("/api/v1/integrations/{id}"), &json!({"tier": "verified", "name": "Acme Cloud"}))
        .await;
    assert_eq!(s, 200, "{b}");
    let page = search(&app, "target=integration").await;
    let update = &page["items"][0];
    assert_eq!(update["action"], "integration.update");
    assert_eq!(
        update["changes"],
        json!([
            {"field": "name", "before": "Acme", "after": "Acme Cloud"},
            {"field": "tier", "before": "community", "after": "verified"},
        ])
    );
    assert!(update["summary"].as_str().unwrap().contains("tier community → verified"), "{update}");
    // Saving without a change records nothing.
    let before = search(&app, "").await["total"].as_i64().unwrap();
    let (s, _) = app.send_json(reqwest::Method::PATCH, &format!("/api/v1/integrations/{id}"), &json!({"name": "Acme Cloud"})).await;
    assert_eq!(s, 200);
    let (s, _) = app.send_json(reqwest::Method::PATCH, "/api/v1/partners/acme-cloud", &json!({"github_org": "acme-cloud"})).await;
    assert_eq!(s, 200);
    assert_eq!(search(&app, "").await["total"].as_i64().unwrap(), before + 1, "only the partner's change");
    let partner_change = &search(&app, "target=partner").await["items"][0];
    assert_eq!(partner_change["changes"], json!([{"field": "github_org", "before": null, "after": "acme-cloud"}]));

    // Tasks: a report and a review, each with the person and the evidence.
    let (_, member) = app.client_as("dev@acme.example", Role::Partner, Some("acme-cloud")).await;
    let (_, reviewer) = app.client_as("rev@staff.example", Role::Reviewer, None).await;
    let (_, p) = json_of(member.get(app.url(&format!("/api/v1/integrations/{id}/pipeline"))).send().await.unwrap()).await;
    let prepare: Vec<Value> = p["stages"][0]["tasks"].as_array().unwrap().clone();
    for t in &prepare {
        let url = app.url(&format!("/api/v1/tasks/{}", t["id"]));
        let (s, b) = json_of(
            member
                .post(&url)
                .json(&json!({"action": "report", "evidence_url": "https://github.com/acme-cloud/terraform-provider-acme"}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 200, "{b}");
        let (s, b) = json_of(reviewer.post(&url).json(&json!({"action": "accept"})).send().await.unwrap()).await;
        assert_eq!(s, 200, "{b}");
    }
    let tasks = search(&app, "target=task").await;
    assert_eq!(tasks["total"].as_u64().unwrap() as usize, prepare.len() * 2);
    let report = tasks["items"].as_array().unwrap().iter().find(|r| r["action"] == "task.report").unwrap();
    assert_eq!(report["actor_name"], "dev@acme.example");
    assert_eq!(report["integration_id"], id);
    assert!(report["changes"].as_array().unwrap().iter().any(|c| c["field"] == "evidence_url"), "{report}");
    assert_eq!(report["changes"][0], json!({"field": "state", "before": "open", "after": "reported"}));
    // The last acceptance completed Prepare: the stage's move is recorded too.
    let stages = search(&app, "target=stage").await;
    assert_eq!(actions(&stages), ["stage.advance"]);
    assert_eq!(stages["items"][0]["changes"], json!([{"field": "stage", "before": "prepare", "after": "publish"}]));
    assert_eq!(stages["items"][0]["actor_name"], "rev@staff.example");

    // Users and tokens.
    let form = [("email", "new@staff.example"), ("role", "viewer")];
    let res = app.client.post(app.url("/api/users/invite")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let users = search(&app, "target=user&q=new%40staff").await;
    assert_eq!(actions(&users), ["user.invite"]);
    let res = app.client.post(app.url("/api/tokens/create")).form(&[("name", "ci")]).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let tokens = actions(&search(&app, "target=token").await);
    assert_eq!(tokens.first().map(String::as_str), Some("token.create"), "{tokens:?}");
    assert_eq!(search(&app, "target=token&q=%22ci%22").await["total"], 1);
}

/// Makes the database refuse audit records whose action is listed in
/// `refused_actions`, the way a full disk or a lost connection would fail
/// that one statement.
async fn install_refusal(app: &TestApp) {
    let statements: &[&str] = match &app.db {
        app::store::Db::Sqlite(_) => &[
            "CREATE TABLE refused_actions (action TEXT NOT NULL)",
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_records
             WHEN NEW.action IN (SELECT action FROM refused_actions)
             BEGIN SELECT RAISE(ABORT, 'audit refused'); END",
        ],
        app::store::Db::Postgres(_) => &[
            "CREATE TABLE refused_actions (action TEXT NOT NULL)",
            "CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN
               IF NEW.action IN (SELECT action FROM refused_actions) THEN RAISE EXCEPTION 'audit refused'; END IF;
               RETURN NEW;
             END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_records FOR EACH ROW EXECUTE FUNCTION refuse_audit()",
        ],
    };
    for sql in statements {
        app::on_pool!(&app.db, |pool| sqlx::query(sql).execute(pool).await.map(|_| ()).unwrap());
    }
}

/// Only `action` (or nothing, for "") is refused from now on.
async fn refuse(app: &TestApp, action: &str) {
    app::on_pool!(&app.db, |pool| {
        sqlx::query("DELETE FROM refused_actions").execute(pool).await.unwrap();
        sqlx::query("INSERT INTO refused_actions (action) VALUES ($1)").bind(action).execute(pool).await.unwrap();
    });
}

async fn a_change_whose_record_fails_is_rolled_back(app: TestApp) {
    let id = setup(&app).await;
    install_refusal(&app).await;
    refuse(&app, "integration.update").await;
    let (s, b) = app.send_json(reqwest::Method::PATCH, &format!("/api/v1/integrations/{id}"), &json!({"tier": "verified"})).await;
    assert_eq!(s, 500, "{b}");
    assert!(b["error"].is_string(), "a JSON error body: {b}");
    let (_, i) = app.get_json(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(i["tier"], "community", "the change went with its record");

    // A task's change, its event and its record go together too.
    let (_, p) = app.get_json(&format!("/api/v1/integrations/{id}/pipeline")).await;
    let task = p["stages"][0]["tasks"][0]["id"].clone();
    let (_, _) = app.post_json(&format!("/api/v1/tasks/{task}"), &json!({"action": "report", "note": "done"})).await;
    let before = app.get_json(&format!("/api/v1/integrations/{id}/pipeline")).await.1;
    let events_before = before["stages"][0]["tasks"][0]["events"].as_array().unwrap().len();
    refuse(&app, "task.accept").await;
    let (s, b) = app.post_json(&format!("/api/v1/tasks/{task}"), &json!({"action": "accept"})).await;
    assert_eq!(s, 500, "{b}");
    let after = app.get_json(&format!("/api/v1/integrations/{id}/pipeline")).await.1;
    assert_eq!(after["stages"][0]["tasks"][0]["state"], "reported");
    assert_eq!(after["stages"][0]["tasks"][0]["events"].as_array().unwrap().len(), events_before);
    refuse(&app, "").await;
    let (s, b) = app.post_json(&format!("/api/v1/tasks/{task}"), &json!({"action": "accept"})).await;
    assert_eq!(s, 200, "works again once records can be written: {b}");
}

async fn timelines_follow_access_and_admins_search_and_export(app: TestApp) {
    let id = setup(&app).await;
    app.partner("Bravo Systems", "infrastructure").await;
    let (s, b) = app
        .post_json("/api/v1/integrations", &json!({"kind": "provider", "name": "Bravo", "partner": "bravo-systems", "source_address": "bravo/thing", "categories": ["Networking"]}))
        .await;
    assert_eq!(s, 201, "{b}");
    let bravo = b["id"].as_i64().unwrap();
    // A name a spreadsheet would run as a formula.
    let (s, b) =
        app.send_json(reqwest::Method::PATCH, &format!("/api/v1/integrations/{id}"), &json!({"name": "=HYPERLINK(\"http://evil\")"})).await;
    assert_eq!(s, 200, "{b}");

    let (_, member) = app.client_as("dev@acme.example", Role::Partner, Some("acme-cloud")).await;
    let get = |client: &reqwest::Client, path: String| {
        let req = client.get(app.url(&path));
        async move { json_of(req.send().await.unwrap()).await }
    };
    let (s, own) = get(&member, format!("/api/v1/integrations/{id}/audit")).await;
    assert_eq!(s, 200, "{own}");
    assert_eq!(actions(&own), ["integration.update", "integration.checklist", "integration.create"]);
    let (s, partner) = get(&member, "/api/v1/partners/acme-cloud/audit".into()).await;
    assert_eq!(s, 200);
    assert_eq!(partner["total"], 4, "the partner's record and its integration's: {partner}");
    assert!(!partner.to_string().contains("Bravo"));
    let (s, _) = get(&member, format!("/api/v1/integrations/{bravo}/audit")).await;
    assert_eq!(s, 404);
    let (s, _) = get(&member, "/api/v1/audit".into()).await;
    assert_eq!(s, 403);

    // The pages show the timeline, paged by links that work without JavaScript.
    let html = member.get(app.url(&format!("/integrations/{id}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("id=\"history-heading\"") && html.contains("Checklist created from the provider template, version 1"), "{html}");
    let html = app.get("/partners/acme-cloud").await.text().await.unwrap();
    assert!(html.contains("Added partner Acme Cloud"));

    // Search: words, kind, dates; bad input is a 422 naming the field.
    assert_eq!(search(&app, "q=bravo").await["total"], 3);
    assert_eq!(search(&app, "target=partner").await["total"], 2);
    let today = chrono::Utc::now().date_naive();
    assert!(search(&app, &format!("from={today}&to={today}")).await["total"].as_i64().unwrap() >= 7);
    assert_eq!(search(&app, &format!("from={}", today.succ_opt().unwrap())).await["total"], 0);
    let (s, err) = app.get_json("/api/v1/audit?from=yesterday").await;
    assert_eq!(s, 422, "{err}");
    assert!(err["fields"]["from"].is_array(), "{err}");
    let html = app.get("/admin/audit?target=integration").await.text().await.unwrap();
    assert!(html.contains("Added provider Bravo") && !html.contains("Added partner Acme Cloud"), "the admin page filters");

    // Export: CSV with a header, every matching row, formulas defused.
    let res = app.get("/api/v1/audit/export.csv").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(res.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert!(lines[0].starts_with("at,actor,action,target_kind"), "{csv}");
    let total = search(&app, "").await["total"].as_u64().unwrap() as usize;
    assert_eq!(lines.len(), total + 1, "{csv}");
    assert!(csv.contains("\"'=HYPERLINK(\"\"http://evil\"\")\""), "{csv}");
    assert!(!csv.contains(",=HYPERLINK"), "{csv}");
    // Compressed, as browsers ask for it: the stream ends cleanly.
    let res = app.client.get(app.url("/api/v1/audit/export.csv")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let gz = res.bytes().await.expect("the whole compressed body");
    assert!(gz.len() > 20 && gz[..2] == [0x1f, 0x8b], "gzip data");
}
