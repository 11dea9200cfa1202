use crate::helpers::TestApp;
use crate::on_both_backends;
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    partners_can_be_created_read_listed_and_updated,
    bad_partner_input_is_refused_and_nothing_is_written,
    a_taken_slug_is_a_conflict,
    partner_lists_filter_and_page,
    partner_kind_cannot_strand_its_integrations,
    unknown_partners_and_routes_are_json_404s,
    health_and_openapi_answer,
);

async fn partners_can_be_created_read_listed_and_updated(app: TestApp) {
    app.user("priya@alliances.example", app::domain::access::Role::Reviewer, None, app::domain::user::UserStatus::Active).await;
    let (status, created) = app
        .post_json(
            "/api/v1/partners",
            &json!({
                "name": "Acme Cloud",
                "kind": "infrastructure",
                "categories": ["networking", "Public Cloud"],
                "support_contacts": [{"name": "Ops", "email": "ops@acme.example"}],
                "github_org": "acme-cloud",
                "registry_namespace": "Acme",
                "alliance_manager_name": "Priya Raman",
                "alliance_manager_email": "priya@alliances.example"
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["slug"], "acme-cloud");
    assert_eq!(created["categories"], json!(["Public Cloud", "Networking"]));
    assert_eq!(created["registry_namespace"], "acme");
    assert_eq!(created["support_contacts"][0]["email"], "ops@acme.example");

    let (status, got) = app.get_json("/api/v1/partners/acme-cloud").await;
    assert_eq!(status, 200);
    assert_eq!(got, created);

    let (status, list) = app.get_json("/api/v1/partners").await;
    assert_eq!(status, 200);
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["slug"], "acme-cloud");

    // PUT replaces the record: fields left out become empty.
    let (status, replaced) = app
        .send_json(Method::PUT, "/api/v1/partners/acme-cloud", &json!({"name": "Acme Cloud Inc.", "slug": "acme", "kind": "both"}))
        .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["slug"], "acme");
    assert_eq!(replaced["kind"], "both");
    assert_eq!(replaced["support_contacts"], json!([]));
    assert_eq!(app.get("/api/v1/partners/acme-cloud").await.status(), 404);

    // PATCH changes only what it names.
    let (status, patched) =
        app.send_json(Method::PATCH, "/api/v1/partners/acme", &json!({"github_org": "acme-inc", "categories": ["ITSM"]})).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["github_org"], "acme-inc");
    assert_eq!(patched["name"], "Acme Cloud Inc.");
    assert_eq!(patched["categories"], json!(["ITSM"]));
}

async fn bad_partner_input_is_refused_and_nothing_is_written(app: TestApp) {
    let (status, body) = app
        .post_json(
            "/api/v1/partners",
            &json!({"name": "", "kind": "cloud", "support_contacts": [{"name": "x", "email": "not-an-email"}], "registry_namespace": "a.b"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].is_string());
    for field in ["name", "kind", "support_contacts", "registry_namespace"] {
        assert!(body["fields"][field][0].is_string(), "no message for {field}: {body}");
    }

    // Malformed JSON: 400; JSON of the wrong shape: 422; never a plain-text error.
    let res =
        app.client.post(app.url("/api/v1/partners")).header("content-type", "application/json").body("{\"name\": ").send().await.unwrap();
    let (status, body) = crate::helpers::json_of(res).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not valid JSON"));
    let (status, body) = app.post_json("/api/v1/partners", &json!({"name": 5, "kind": "both"})).await;
    assert_eq!(status, 422, "{body}");
    let res = app.client.post(app.url("/api/v1/partners")).body("name=x").send().await.unwrap();
    let (status, _) = crate::helpers::json_of(res).await;
    assert_eq!(status, 400);

    // An update with bad input leaves the record as it was.
    app.partner("Good Partner", "workflow").await;
    let (status, _) = app.send_json(Method::PATCH, "/api/v1/partners/good-partner", &json!({"alliance_manager_email": "nope"})).await;
    assert_eq!(status, 422);
    let (_, after) = app.get_json("/api/v1/partners/good-partner").await;
    assert_eq!(after["alliance_manager_email"], serde_json::Value::Null);

    let (_, list) = app.get_json("/api/v1/partners").await;
    assert_eq!(list["total"], 1, "only the good partner exists: {list}");
}

async fn a_taken_slug_is_a_conflict(app: TestApp) {
    app.partner("Acme", "infrastructure").await;
    let (status, body) = app.post_json("/api/v1/partners", &json!({"name": "ACME!", "kind": "workflow"})).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["fields"]["slug"][0].as_str().unwrap().contains("already taken"));

    app.partner("Other", "workflow").await;
    let (status, _) = app.send_json(Method::PATCH, "/api/v1/partners/other", &json!({"slug": "acme"})).await;
    assert_eq!(status, 409);
    let (_, list) = app.get_json("/api/v1/partners").await;
    assert_eq!(list["total"], 2);
}

async fn partner_lists_filter_and_page(app: TestApp) {
    for i in 0..25 {
        let kind = ["infrastructure", "workflow", "both"][i % 3];
        let categories = if kind == "workflow" { json!(["ITSM"]) } else { json!(["Networking"]) };
        let (status, body) =
            app.post_json("/api/v1/partners", &json!({"name": format!("Partner {i:02}"), "kind": kind, "categories": categories})).await;
        assert_eq!(status, 201, "{body}");
    }
    app.partner("100% Special_Name", "both").await;

    let (_, page1) = app.get_json("/api/v1/partners?per_page=10").await;
    assert_eq!(page1["total"], 26);
    assert_eq!(page1["items"].as_array().unwrap().len(), 10);
    assert_eq!(page1["items"][0]["name"], "100% Special_Name");
    let (_, page3) = app.get_json("/api/v1/partners?per_page=10&page=3").await;
    assert_eq!(page3["items"].as_array().unwrap().len(), 6);
    assert_eq!(page3["page"], 3);

    let (_, workflow) = app.get_json("/api/v1/partners?kind=workflow").await;
    assert_eq!(workflow["total"], 8);
    let (_, itsm) = app.get_json("/api/v1/partners?category=ITSM").await;
    assert_eq!(itsm["total"], 8);
    let (_, networking_both) = app.get_json("/api/v1/partners?category=Networking&kind=both").await;
    assert_eq!(networking_both["total"], 8);
    let (_, search) = app.get_json("/api/v1/partners?q=partner%201").await;
    assert_eq!(search["total"], 10, "Partner 10–19");
    // LIKE wildcards in the search are literal characters.
    let (_, literal) = app.get_json("/api/v1/partners?q=0%25").await;
    assert_eq!(literal["total"], 1, "{literal}");
    let (_, underscore) = app.get_json("/api/v1/partners?q=l_n").await;
    assert_eq!(underscore["total"], 1, "{underscore}");

    let (status, body) = app.get_json("/api/v1/partners?kind=cloud").await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app.get_json("/api/v1/partners?page=abc").await;
    assert_eq!(status, 400, "{body}");
    // Out-of-range paging is clamped, not an error.
    let (status, body) = app.get_json("/api/v1/partners?per_page=1000&page=0").await;
    assert_eq!(status, 200);
    assert_eq!(body["per_page"], 100);
    assert_eq!(body["page"], 1);
}

async fn partner_kind_cannot_strand_its_integrations(app: TestApp) {
    app.partner("Acme", "both").await;
    let (status, body) = app
        .post_json(
            "/api/v1/integrations",
            &json!({"kind": "provider", "name": "Acme", "partner": "acme", "categories": ["Networking"], "source_address": "acme/net"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app.send_json(Method::PATCH, "/api/v1/partners/acme", &json!({"kind": "workflow", "categories": []})).await;
    assert_eq!(status, 422, "{body}");
    assert!(body["fields"]["kind"][0].as_str().unwrap().contains("owns provider integrations"));
}

async fn unknown_partners_and_routes_are_json_404s(app: TestApp) {
    let (status, body) = app.get_json("/api/v1/partners/nobody").await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("nobody"));
    let (status, _) = app.send_json(Method::PUT, "/api/v1/partners/nobody", &json!({"name": "x", "kind": "both"})).await;
    assert_eq!(status, 404);
    let (status, _) = app.get_json("/api/v1/no-such-thing").await;
    assert_eq!(status, 404);
}

async fn health_and_openapi_answer(app: TestApp) {
    let (status, body) = app.get_json("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    let (status, doc) = app.get_json("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/api/v1/partners", "/api/v1/partners/{slug}", "/api/v1/integrations", "/api/v1/integrations/{id}"] {
        assert!(doc["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    assert!(doc["paths"]["/api/v1/partners/{slug}"]["patch"].is_object());
    assert!(doc["components"]["schemas"]["PartnerInput"]["properties"]["registry_namespace"].is_object());
}
