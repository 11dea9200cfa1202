use crate::helpers::TestApp;
use crate::on_both_backends;
use reqwest::Method;
use serde_json::json;

on_both_backends!(
    integrations_can_be_created_read_listed_and_updated,
    bad_integration_input_is_refused_and_nothing_is_written,
    the_same_source_address_written_differently_is_a_conflict,
    integration_lists_filter_by_partner_kind_tier_and_stage,
    partner_members_cannot_set_what_staff_decide,
);

fn provider(partner: &str, address: &str) -> serde_json::Value {
    json!({
        "kind": "provider",
        "name": format!("{address} provider"),
        "partner": partner,
        "categories": ["Public Cloud"],
        "source_address": address,
    })
}

async fn integrations_can_be_created_read_listed_and_updated(app: TestApp) {
    app.partner("Acme", "both").await;
    let mut body = provider("acme", "registry.Terraform.io:443/Acme/Cloud");
    body["verified_version_range"] = json!(">=2,<3");
    body["repository_url"] = json!("https://github.com/acme/terraform-provider-cloud");
    let (status, created) = app.post_json("/api/v1/integrations", &body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["source_address"], "registry.terraform.io/acme/cloud");
    assert_eq!(created["source_address_display"], "acme/cloud");
    assert_eq!(created["registry_url"], "https://registry.terraform.io/providers/acme/cloud");
    assert_eq!(created["verified_version_range"], ">= 2.0.0, < 3.0.0");
    assert_eq!(created["tier"], "community");
    assert_eq!(created["stage"], "prepare");
    assert_eq!(created["partner_slug"], "acme");
    let id = created["id"].as_i64().unwrap();

    let (status, got) = app.get_json(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(got, created);

    // An in-house registry with a Unicode hostname: stored in punycode, shown in Unicode.
    let (status, inhouse) = app.post_json("/api/v1/integrations", &provider("acme", "München.example:8443/acme/net")).await;
    assert_eq!(status, 201, "{inhouse}");
    assert_eq!(inhouse["source_address"], "xn--mnchen-3ya.example:8443/acme/net");
    assert_eq!(inhouse["source_address_display"], "münchen.example:8443/acme/net");
    assert_eq!(inhouse["registry_url"], serde_json::Value::Null);

    let (status, run_task) = app
        .post_json(
            "/api/v1/integrations",
            &json!({"kind": "run_task", "name": "Acme Scan", "partner": "acme", "categories": ["Code Scanning"], "stage": "develop_test"}),
        )
        .await;
    assert_eq!(status, 201, "{run_task}");
    assert_eq!(run_task["source_address"], serde_json::Value::Null);

    // The stage follows the pipeline; it cannot be set by editing.
    let (status, refused) =
        app.send_json(Method::PATCH, &format!("/api/v1/integrations/{id}"), &json!({"tier": "verified", "stage": "verify"})).await;
    assert_eq!(status, 422, "{refused}");
    assert!(refused["fields"]["stage"][0].as_str().unwrap().contains("follows the pipeline"));
    let (status, patched) = app.send_json(Method::PATCH, &format!("/api/v1/integrations/{id}"), &json!({"tier": "verified"})).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["tier"], "verified");
    assert_eq!(patched["stage"], "prepare");
    let (status, refused) = app.send_json(Method::PATCH, &format!("/api/v1/integrations/{id}"), &json!({"kind": "run_task"})).await;
    assert_eq!(status, 422, "{refused}");
    let (_, still) = app.get_json(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(still["kind"], "provider");
    assert_eq!(patched["source_address"], "registry.terraform.io/acme/cloud");

    let mut replacement = provider("acme", "acme/cloud2");
    replacement["name"] = json!("Acme Cloud v2");
    let (status, replaced) = app.send_json(Method::PUT, &format!("/api/v1/integrations/{id}"), &replacement).await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["name"], "Acme Cloud v2");
    assert_eq!(replaced["verified_version_range"], serde_json::Value::Null);

    let (_, partner) = app.get_json("/api/v1/partners/acme").await;
    assert_eq!(partner["integration_count"], 3);
}

async fn bad_integration_input_is_refused_and_nothing_is_written(app: TestApp) {
    app.partner("Acme", "infrastructure").await;
    let cases = [
        (provider("acme", "example.com/bad.namespace/aws"), "source_address", "contains a dot"),
        (provider("acme", "aws"), "source_address", "hashicorp/aws"),
        (provider("acme", "acme/terraform-provider-cloud"), "source_address", "did you mean acme/cloud?"),
        (provider("nobody", "acme/cloud"), "partner", "no partner"),
        (json!({"kind": "run_task", "name": "Scan", "partner": "acme", "categories": ["Code Scanning"]}), "partner", "cannot own"),
        (
            json!({"kind": "provider", "name": "X", "partner": "acme", "categories": ["Public Cloud"], "source_address": "acme/x", "verified_version_range": "=> 1.0"}),
            "verified_version_range",
            "did you mean",
        ),
        (
            json!({"kind": "provider", "name": "X", "partner": "acme", "categories": [], "source_address": "acme/x"}),
            "categories",
            "at least one",
        ),
        (
            json!({"kind": "provider", "name": "X", "partner": "acme", "categories": ["Networking"], "source_address": "acme/x", "stage": "release"}),
            "stage",
            "not a stage",
        ),
        (json!({"kind": "module", "name": "X", "partner": "acme"}), "kind", "choose a kind"),
    ];
    for (body, field, fragment) in cases {
        let (status, answer) = app.post_json("/api/v1/integrations", &body).await;
        assert_eq!(status, 422, "{body} → {answer}");
        let message = answer["fields"][field][0].as_str().unwrap_or_else(|| panic!("no {field} error: {answer}"));
        assert!(message.contains(fragment), "{field}: {message:?} lacks {fragment:?}");
    }
    let (status, _) = app.get_json("/api/v1/integrations/abc").await;
    assert_eq!(status, 404);
    let (status, _) = app.get_json("/api/v1/integrations/999").await;
    assert_eq!(status, 404);
    let (_, list) = app.get_json("/api/v1/integrations").await;
    assert_eq!(list["total"], 0, "{list}");

    // A bad update leaves the stored integration as it was.
    let (_, good) = app.post_json("/api/v1/integrations", &provider("acme", "acme/good")).await;
    let id = good["id"].as_i64().unwrap();
    let (status, _) = app.send_json(Method::PATCH, &format!("/api/v1/integrations/{id}"), &json!({"source_address": "a/b/c/d"})).await;
    assert_eq!(status, 422);
    let (status, _) = app.send_json(Method::PATCH, &format!("/api/v1/integrations/{id}"), &json!(["not", "an", "object"])).await;
    assert_eq!(status, 400);
    let (_, after) = app.get_json(&format!("/api/v1/integrations/{id}")).await;
    assert_eq!(after, good);
}

async fn the_same_source_address_written_differently_is_a_conflict(app: TestApp) {
    app.partner("Acme", "infrastructure").await;
    let (status, first) = app.post_json("/api/v1/integrations", &provider("acme", "acme/cloud")).await;
    assert_eq!(status, 201, "{first}");
    for same in ["ACME/Cloud", "registry.terraform.io/acme/cloud", "Registry.Terraform.IO:443/acme/CLOUD"] {
        let (status, body) = app.post_json("/api/v1/integrations", &provider("acme", same)).await;
        assert_eq!(status, 409, "{same}: {body}");
        assert!(body["fields"]["source_address"][0].as_str().unwrap().contains("already tracked"));
    }
    let (_, other) = app.post_json("/api/v1/integrations", &provider("acme", "acme/other")).await;
    let (status, _) =
        app.send_json(Method::PATCH, &format!("/api/v1/integrations/{}", other["id"]), &json!({"source_address": "Acme/Cloud"})).await;
    assert_eq!(status, 409);
    let (_, list) = app.get_json("/api/v1/integrations").await;
    assert_eq!(list["total"], 2);
}

async fn integration_lists_filter_by_partner_kind_tier_and_stage(app: TestApp) {
    app.partner("Acme", "both").await;
    app.partner("Beta", "infrastructure").await;
    for i in 0..6 {
        let mut body = provider(if i % 2 == 0 { "acme" } else { "beta" }, &format!("ns/p{i}"));
        body["tier"] = json!(if i < 2 { "verified" } else { "community" });
        body["stage"] = json!(if i < 3 { "publish" } else { "prepare" });
        let (status, b) = app.post_json("/api/v1/integrations", &body).await;
        assert_eq!(status, 201, "{b}");
    }
    let (status, b) = app
        .post_json("/api/v1/integrations", &json!({"kind": "run_task", "name": "Scan", "partner": "acme", "categories": ["Audit"]}))
        .await;
    assert_eq!(status, 201, "{b}");

    let count = |q: &'static str| {
        let app = &app;
        async move { app.get_json(&format!("/api/v1/integrations?{q}")).await.1["total"].as_i64().unwrap() }
    };
    assert_eq!(count("").await, 7);
    assert_eq!(count("partner=acme").await, 4);
    assert_eq!(count("kind=run_task").await, 1);
    assert_eq!(count("tier=verified").await, 2);
    assert_eq!(count("stage=publish").await, 3);
    assert_eq!(count("partner=beta&stage=prepare").await, 2);
    assert_eq!(count("q=ns%2Fp1").await, 1);
    assert_eq!(count("per_page=2&page=4").await, 7);
    let (status, _) = app.get_json("/api/v1/integrations?tier=partner").await;
    assert_eq!(status, 422);
}

/// The tier, and a stage past the first for a new integration, are staff's:
/// a partner member who sends them gets field errors and nothing changes.
async fn partner_members_cannot_set_what_staff_decide(app: TestApp) {
    app.partner("Acme", "both").await;
    let (_, member) = app.client_as("dev@acme.example", app::domain::access::Role::Partner, Some("acme")).await;
    let send = |method: Method, path: String, body: serde_json::Value| {
        let request = member.request(method, app.url(&path)).json(&body);
        async move { crate::helpers::json_of(request.send().await.unwrap()).await }
    };
    let count = || async {
        app::on_pool!(&app.db, |pool| sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM integrations").fetch_one(pool).await.unwrap())
    };

    let mut verified = provider("acme", "acme/cloud");
    verified["tier"] = json!("verified");
    let (st, refused) = send(Method::POST, "/api/v1/integrations".into(), verified).await;
    assert_eq!(st, 422, "{refused}");
    assert!(refused["fields"]["tier"][0].as_str().unwrap().contains("alliances staff"), "{refused}");
    let mut ahead = provider("acme", "acme/cloud");
    ahead["stage"] = json!("support");
    let (st, refused) = send(Method::POST, "/api/v1/integrations".into(), ahead).await;
    assert_eq!(st, 422, "{refused}");
    assert!(refused["fields"]["stage"][0].as_str().unwrap().contains("starts in Prepare"), "{refused}");
    assert_eq!(count().await, 0, "nothing was written");

    // Without them (or with the defaults spelled out) it is theirs to add.
    let mut plain = provider("acme", "acme/cloud");
    plain["tier"] = json!("community");
    plain["stage"] = json!("prepare");
    let (st, created) = send(Method::POST, "/api/v1/integrations".into(), plain).await;
    assert_eq!(st, 201, "{created}");
    let id = created["id"].as_i64().unwrap();
    let path = format!("/api/v1/integrations/{id}");
    let (st, refused) = send(Method::PATCH, path.clone(), json!({"tier": "verified"})).await;
    assert_eq!(st, 422, "{refused}");
    assert!(refused["fields"]["tier"].is_array(), "{refused}");
    let (_, still) = app.get_json(&path).await;
    assert_eq!(still["tier"], "community");

    // Staff set it; the member edits other fields and keeps it, but cannot undo it.
    let (st, set) = app.send_json(Method::PATCH, &path, &json!({"tier": "verified"})).await;
    assert_eq!(st, 200, "{set}");
    let (st, renamed) = send(Method::PATCH, path.clone(), json!({"name": "Acme Cloud"})).await;
    assert_eq!(st, 200, "{renamed}");
    assert_eq!((renamed["name"].as_str(), renamed["tier"].as_str()), (Some("Acme Cloud"), Some("verified")));
    let (st, refused) = send(Method::PATCH, path.clone(), json!({"tier": "community"})).await;
    assert_eq!(st, 422, "{refused}");
    let (_, still) = app.get_json(&path).await;
    assert_eq!(still["tier"], "verified");

    // The form shows the member the tier and the first stage as text, not as choices.
    let page = member.get(app.url("/integrations/new")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("set by alliances staff") && !page.contains("<select id=\"f-tier\""), "the tier is not a choice");
    assert!(!page.contains("<select id=\"f-stage\""), "nor is the stage");
    let page = app.get("/integrations/new").await.text().await.unwrap();
    assert!(page.contains("<select id=\"f-tier\""), "staff choose the tier");
}
