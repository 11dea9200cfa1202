use crate::helpers::TestApp;
use crate::on_both_backends;
use serde_json::json;

on_both_backends!(
    pages_render_on_the_server,
    unknown_pages_answer_404,
    forms_work_without_javascript,
    a_form_error_without_javascript_comes_back_to_the_form,
    server_functions_answer_hydrated_calls_with_the_error_status,
    pipeline_forms_work_without_javascript_and_show_errors_once,
);

async fn server_functions_answer_hydrated_calls_with_the_error_status(app: TestApp) {
    // As the wasm client calls it: no text/html in Accept, no redirect.
    let res = app
        .client
        .post(app.url("/api/partners/save"))
        .header("accept", "application/json")
        .form(&[("name", "X"), ("kind", "galaxy")])
        .send()
        .await
        .unwrap();
    let (status, body) = crate::helpers::json_of(res).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["Validation"]["fields"]["kind"][0].as_str().unwrap().contains("choose a kind"), "{body}");
    let (_, list) = app.get_json("/api/v1/partners").await;
    assert_eq!(list["total"], 0);
}

async fn pages_render_on_the_server(app: TestApp) {
    let empty = app.get("/partners").await.text().await.unwrap();
    assert!(empty.contains("No partners yet"), "empty state");

    app.partner("Acme Cloud", "both").await;
    let (status, i) = app
        .post_json("/api/v1/integrations", &json!({"kind": "provider", "name": "Acme provider", "partner": "acme-cloud", "categories": ["Networking"], "source_address": "Acme/Net"}))
        .await;
    assert_eq!(status, 201);

    let list = app.get("/partners").await.text().await.unwrap();
    assert!(list.contains("href=\"/partners/acme-cloud\""), "{list}");
    let filtered = app.get("/partners?kind=workflow").await.text().await.unwrap();
    assert!(filtered.contains("No partners match these filters"));

    let page = app.get("/partners/acme-cloud").await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.unwrap();
    assert!(page.contains("Acme provider"));

    let page = app.get(&format!("/integrations/{}", i["id"])).await.text().await.unwrap();
    assert!(page.contains("registry.terraform.io/acme/net"), "normalised address shown");
    assert!(page.contains("https://registry.terraform.io/providers/acme/net"), "registry link");

    // An issue list kept to one integration names it and can be widened;
    // an empty filtered one offers to clear its filters, keeping the scope.
    let scoped = app.get(&format!("/issues?integration={}&sort=opened", i["id"])).await.text().await.unwrap();
    assert!(scoped.contains("Issues of ") && scoped.contains("Acme provider</strong>"), "{scoped}");
    assert!(scoped.contains("href=\"/issues?sort=opened\"") && scoped.contains("show all issues"), "{scoped}");
    let empty = app.get(&format!("/issues?integration={}&state=breached", i["id"])).await.text().await.unwrap();
    assert!(empty.contains(&format!("href=\"/issues?integration={}\"", i["id"])) && empty.contains("Clear the filters"), "{empty}");
    let whole = app.get("/issues").await.text().await.unwrap();
    assert!(!whole.contains("Issues of") && !whole.contains("Clear the filters"), "{whole}");

    // The critical-labels form shows the integration's own labels, and the ones in force.
    let page = app.get(&format!("/integrations/{}", i["id"])).await.text().await.unwrap();
    assert!(page.contains("In force (the default): critical"), "{page}");
    let res = app
        .client
        .put(app.url(&format!("/api/v1/integrations/{}/critical-labels", i["id"])))
        .json(&json!({"labels": ["P0", "sev1"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = app.get(&format!("/integrations/{}", i["id"])).await.text().await.unwrap();
    assert!(page.contains("P0\nsev1</textarea>") && page.contains("In force: P0, sev1."), "{page}");

    let form = app.get("/integrations/new?partner=acme-cloud").await.text().await.unwrap();
    assert!(form.contains("Check address"));
    assert!(form.contains("value=\"acme-cloud\" selected"), "partner preselected");
}

async fn unknown_pages_answer_404(app: TestApp) {
    assert_eq!(app.get("/partners/nobody").await.status(), 404);
    assert_eq!(app.get("/integrations/12345").await.status(), 404);
    assert_eq!(app.get("/no/such/page").await.status(), 404);
}

async fn forms_work_without_javascript(app: TestApp) {
    let res = app
        .post_form(
            "/api/partners/save",
            &[
                ("name", "Form Partner"),
                ("kind", "infrastructure"),
                ("categories[]", "Networking"),
                ("categories[]", "Database"),
                ("support_contacts", "Jane <jane@form.example>"),
            ],
            "/partners/new",
        )
        .await;
    assert_eq!(res.status().as_u16(), 302, "{:?}", res.text().await);
    assert_eq!(res.headers()["location"], "/partners/form-partner");
    let (_, partner) = app.get_json("/api/v1/partners/form-partner").await;
    assert_eq!(partner["categories"], json!(["Networking", "Database"]));
    assert_eq!(partner["support_contacts"][0]["name"], "Jane");

    let res = app
        .post_form(
            "/api/integrations/save",
            &[
                ("kind", "provider"),
                ("name", "Form Provider"),
                ("partner", "form-partner"),
                ("categories[]", "Networking"),
                ("source_address", "Form-Partner/Net"),
            ],
            "/integrations/new",
        )
        .await;
    assert_eq!(res.status().as_u16(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let (_, integration) = app.get_json(&format!("/api/v1{location}")).await;
    assert_eq!(integration["source_address"], "registry.terraform.io/form-partner/net");
}

async fn a_form_error_without_javascript_comes_back_to_the_form(app: TestApp) {
    app.partner("Acme", "infrastructure").await;
    let res = app
        .post_form(
            "/api/integrations/save",
            &[
                ("kind", "provider"),
                ("name", "Broken"),
                ("partner", "acme"),
                ("categories[]", "Networking"),
                ("source_address", "example.com/bad.namespace/aws"),
            ],
            "/integrations/new?partner=acme",
        )
        .await;
    assert_eq!(res.status().as_u16(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.contains("/integrations/new?partner=acme&__path="), "{location}");
    // The form page shows the message next to the field.
    let path = location.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap();
    let page = app.get(&path).await.text().await.unwrap();
    assert!(page.contains("contains a dot"), "error shown on the re-rendered form");
    let (_, list) = app.get_json("/api/v1/integrations").await;
    assert_eq!(list["total"], 0, "nothing written");
}

async fn pipeline_forms_work_without_javascript_and_show_errors_once(app: TestApp) {
    app.partner("Acme", "infrastructure").await;
    let (st, i) = app
        .post_json(
            "/api/v1/integrations",
            &json!({"kind": "provider", "name": "Acme", "partner": "acme", "source_address": "acme/acme", "categories": ["Networking"]}),
        )
        .await;
    assert_eq!(st, 201, "{i}");
    let id = i["id"].as_i64().unwrap();
    let (_, p) = app.get_json(&format!("/api/v1/integrations/{id}/pipeline")).await;
    let task = p["stages"][0]["tasks"][0]["id"].to_string();
    let page = format!("/integrations/{id}");
    // Accepting an open task is refused: back to the page, the reason shown once.
    let res = app.post_form("/api/pipeline/act", &[("task_id", &task), ("action", "accept")], &page).await;
    assert_eq!(res.status().as_u16(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&app.url(&page)), "{location}");
    let html = app.client.get(&location).send().await.unwrap().text().await.unwrap();
    assert_eq!(html.matches("there is nothing to accept").count(), 1, "shown once: {html}");
    // A report (plain multipart form) and an acceptance, then the page shows both.
    let form = reqwest::multipart::Form::new().text("evidence_url", "https://example.com/docs").text("note", "*Done*");
    let res = app
        .client
        .post(app.url(&format!("/api/v1/tasks/{task}/report")))
        .header("accept", "text/html")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    // A way back that no header can hold (not ASCII) is not followed: back to the task.
    let res = app.post_form("/api/pipeline/act", &[("task_id", &task), ("action", "accept"), ("back", "/review?q=é")], &page).await;
    assert_eq!(res.status().as_u16(), 302);
    assert_eq!(res.headers()["location"].to_str().unwrap(), format!("/integrations/{id}#task-{task}"));
    let html = app.get(&page).await.text().await.unwrap();
    assert!(html.contains("<em>Done</em>") && html.contains("https://example.com/docs"), "the note is rendered Markdown");
}
