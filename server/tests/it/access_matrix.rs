//! The authorization matrix: every API route (read from the OpenAPI
//! document, which utoipa-axum builds from the router itself) and every
//! server function (read from the server-function registry) is called by
//! anonymous, a member of partner Alpha, a viewer, a reviewer and an admin,
//! on partner Bravo's data. A route or server function without an entry
//! here fails the test, so a new one cannot ship unchecked.

use crate::helpers::{spawn_app, Backend, TestApp};
use app::domain::access::Role;
use app::domain::user::UserStatus;
use serde_json::json;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What a caller should get.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Want {
    /// 2xx or a redirect.
    Ok,
    Unauthorized,
    Forbidden,
    NotFound,
    /// 422: for a member, another partner's slug is "no such partner".
    Invalid,
    /// 409: allowed to ask, but the rules of the thing say no (e.g. a stage
    /// that is open cannot be reopened): the access check was passed.
    Conflict,
}
use Want::*;

/// Expectations for (anonymous, member of Alpha, viewer, reviewer, admin).
type Row = [Want; 5];
const PUBLIC: Row = [Ok, Ok, Ok, Ok, Ok];
const READ: Row = [Unauthorized, Ok, Ok, Ok, Ok];
const HIDDEN_READ: Row = [Unauthorized, NotFound, Ok, Ok, Ok];
const STAFF_WRITE: Row = [Unauthorized, Forbidden, Forbidden, Ok, Ok];
const HIDDEN_WRITE: Row = [Unauthorized, NotFound, Forbidden, Ok, Ok];
const STAFF_READ: Row = [Unauthorized, Forbidden, Ok, Ok, Ok];
const ADMIN_ONLY_INVALID: Row = [Unauthorized, Forbidden, Forbidden, Forbidden, Invalid];
const HIDDEN_WRITE_INVALID: Row = [Unauthorized, NotFound, Forbidden, Invalid, Invalid];
const ADMIN_ONLY: Row = [Unauthorized, Forbidden, Forbidden, Forbidden, Ok];
/// Admins pass the check and find nothing there.
const ADMIN_ONLY_MISSING: Row = [Unauthorized, Forbidden, Forbidden, Forbidden, NotFound];
const OWN_ONLY: Row = [Unauthorized, NotFound, NotFound, NotFound, NotFound];
/// A member writing on their own partner's integrations.
const MEMBER_WRITE: Row = [Unauthorized, Ok, Forbidden, Ok, Ok];
const MEMBER_STAFF_WRITE_OWN: Row = [Unauthorized, Forbidden, Forbidden, Ok, Ok];
const HIDDEN_CREATE: Row = [Unauthorized, Invalid, Forbidden, Ok, Ok];
/// Reviewing on another partner: members do not see it, viewers may not.
const HIDDEN_REVIEW_REFUSED_BY_RULES: Row = [Unauthorized, NotFound, Forbidden, Conflict, Conflict];

/// A body with this key is sent as multipart/form-data with its fields.
const MULTIPART: &str = "__multipart";

/// Partner Bravo's name: a member of Alpha must never see it in any answer.
const BRAVO_NAME: &str = "Bravo Systems";
const BRAVO: &str = "bravo-systems";
const ALPHA: &str = "alpha-works";

struct World {
    app: TestApp,
    /// anonymous, member of Alpha, viewer, reviewer, admin
    callers: Vec<(&'static str, reqwest::Client)>,
    alpha_integration: i64,
    bravo_integration: i64,
    target_user: i64,
    invited_user: i64,
    bravo_task: i64,
    bravo_file: i64,
    bravo_issue: i64,
    bravo_flag: i64,
    /// Bravo's run task (no endpoint registered) and a check of it.
    bravo_run_task: i64,
    bravo_check: i64,
    counter: AtomicUsize,
}

/// A run task of Bravo's workflow sibling (its name contains Bravo's, so a
/// leak would show) and a queued check of it, written to the store (no
/// runner runs here); starting another is refused for want of an endpoint.
async fn bravo_check(app: &TestApp) -> (i64, i64) {
    let (s, b) = app.post_json("/api/v1/partners", &json!({"name": format!("{BRAVO_NAME} Scans"), "kind": "workflow"})).await;
    assert_eq!(s, 201, "{b}");
    let body =
        json!({"kind": "run_task", "name": "Scanner", "partner": b["slug"], "categories": ["Code Scanning"], "stage": "develop_test"});
    let (s, b) = app.post_json("/api/v1/integrations", &body).await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_i64().unwrap();
    let audit =
        app::domain::audit::Entry::system("integration.check_start", app::domain::audit::TargetKind::Integration, Some(id), "Scanner");
    let check = app::store::run_task_checks::queue(
        &app.db,
        id,
        (0, "matrix"),
        ("https://scan.bravo.example/tfc", "post_plan", false),
        chrono::Utc::now(),
        &audit,
    )
    .await
    .unwrap();
    (id, check)
}

/// A tier flag on Bravo's integration, written as the evaluation would.
async fn bravo_flag(app: &TestApp, integration: i64) -> i64 {
    use app::domain::audit::{Entry, TargetKind};
    use app::store::flags::{apply, Change};
    let partner = app::store::integrations::get(&app.db, integration).await.unwrap().expect("integration").partner_id;
    let raise = Change::Raise {
        integration_id: integration,
        partner_id: partner,
        rule: "critical_breach_open",
        state: "due",
        reason: format!("{BRAVO_NAME} has a critical breach"),
        evidence: "[]".into(),
        clears_when: "resolve it".into(),
        due_at: Some(chrono::Utc::now()),
        audit: Entry::system("flag.raise", TargetKind::Flag, None, "matrix flag"),
        alert: None,
    };
    assert_eq!(apply(&app.db, &[raise], chrono::Utc::now()).await.unwrap(), 1);
    app::store::flags::standing(&app.db).await.unwrap().first().expect("the flag").id
}

impl World {
    async fn new(backend: Backend) -> Self {
        let app = spawn_app(backend).await;
        for (name, ns) in [("Alpha Works", "alpha"), (BRAVO_NAME, "bravo")] {
            let (s, b) =
                app.post_json("/api/v1/partners", &json!({"name": name, "kind": "infrastructure", "registry_namespace": ns})).await;
            assert_eq!(s, 201, "{b}");
        }
        let mut ids = Vec::new();
        for (partner, address) in [(ALPHA, "alpha/widget"), (BRAVO, "bravo/widget")] {
            let (s, b) = app
                .post_json("/api/v1/integrations", &json!({"kind": "provider", "name": "Widget", "partner": partner, "source_address": address, "tier": "community", "stage": "prepare", "categories": ["Networking"]}))
                .await;
            assert_eq!(s, 201, "{b}");
            ids.push(b["id"].as_i64().unwrap());
        }
        let (_, member) = app.client_as("member@alpha.example", Role::Partner, Some(ALPHA)).await;
        let (_, viewer) = app.client_as("viewer@staff.example", Role::Viewer, None).await;
        let (_, reviewer) = app.client_as("reviewer@staff.example", Role::Reviewer, None).await;
        let target_user = app.user("target@staff.example", Role::Viewer, None, UserStatus::Active).await;
        let invited_user = app.user("invited@staff.example", Role::Viewer, None, UserStatus::Invited).await;
        let admin = app.client.clone();
        let (_, pipeline) = app.get_json(&format!("/api/v1/integrations/{}/pipeline", ids[1])).await;
        let bravo_task = pipeline["stages"][0]["tasks"][0]["id"].as_i64().expect("a task");
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(format!("{BRAVO_NAME} test log").into_bytes()).file_name("run.log"));
        let res = app.client.post(app.url(&format!("/api/v1/tasks/{bravo_task}/report"))).multipart(form).send().await.unwrap();
        let (status, reported) = crate::helpers::json_of(res).await;
        assert_eq!(status, 200, "{reported}");
        let bravo_file = reported["stages"][0]["tasks"][0]["events"][0]["file"]["id"].as_i64().expect("a file");
        let (s, issue) = app
            .post_json(
                &format!("/api/v1/integrations/{}/issues", ids[1]),
                &json!({"title": format!("{BRAVO_NAME} outage"), "severity": "normal", "opened_at": "2026-11-02T10:00:00Z"}),
            )
            .await;
        assert_eq!(s, 201, "{issue}");
        let bravo_issue = issue["id"].as_i64().expect("an issue");
        let bravo_flag = bravo_flag(&app, ids[1]).await;
        let (bravo_run_task, bravo_check) = bravo_check(&app).await;
        World {
            bravo_run_task,
            bravo_check,
            bravo_flag,
            bravo_issue,
            bravo_task,
            bravo_file,
            callers: vec![("anonymous", app.anonymous()), ("member", member), ("viewer", viewer), ("reviewer", reviewer), ("admin", admin)],
            app,
            alpha_integration: ids[0],
            bravo_integration: ids[1],
            target_user,
            invited_user,
            counter: AtomicUsize::new(0),
        }
    }

    fn unique(&self) -> usize {
        self.counter.fetch_add(1, Ordering::SeqCst)
    }

    /// One call; checks the status class against `want`, and that a member
    /// of Alpha never gets Bravo's name back.
    async fn check(&self, label: &str, who: usize, want: Want, req: reqwest::RequestBuilder) {
        let res = req.send().await.unwrap_or_else(|e| panic!("{label}: {e}"));
        let status = res.status().as_u16();
        let body = res.text().await.unwrap_or_default();
        let got = match status {
            200..=399 => Ok,
            401 => Unauthorized,
            403 => Forbidden,
            404 => NotFound,
            422 => Invalid,
            409 => Conflict,
            _ => panic!("{label} as {}: unexpected {status}: {body}", self.callers[who].0),
        };
        assert_eq!(got, want, "{label} as {}: {status} {body}", self.callers[who].0);
        if self.callers[who].0 == "member" {
            assert!(!body.contains(BRAVO_NAME), "{label}: a member of Alpha saw Bravo: {body}");
        }
    }
}

/// API cases: (method, documented path, concrete path, body, expectations).
fn api_cases(w: &World) -> Vec<(&'static str, &'static str, String, Option<serde_json::Value>, Row)> {
    let ib = w.bravo_integration;
    let ia = w.alpha_integration;
    let n = w.unique();
    let partner_body = json!({"name": BRAVO_NAME, "slug": BRAVO, "kind": "infrastructure", "registry_namespace": "bravo"});
    let integration = |partner: &str, address: String| json!({"kind": "provider", "name": "Gadget", "partner": partner, "source_address": address, "tier": "community", "stage": "prepare", "categories": ["Networking"]});
    let bi = w.bravo_issue;
    let fl = w.bravo_flag;
    let until = (chrono::Utc::now() + chrono::Duration::days(30)).format("%Y-%m-%d").to_string();
    let issue = json!({"title": format!("Matrix {n}"), "severity": "normal", "opened_at": "2026-11-02T10:00:00Z"});
    let settings = json!({"time_zone": "UTC", "critical_warn_hours": "24", "normal_warn_hours": "24", "critical_labels": "critical", "pause_labels": "", "window_days": "90"});
    vec![
        ("GET", "/api/v1/openapi.json", "/api/v1/openapi.json".into(), None, READ),
        ("GET", "/api/v1/partners", "/api/v1/partners".into(), None, READ),
        ("POST", "/api/v1/partners", "/api/v1/partners".into(), Some(json!({"name": format!("New {n}"), "kind": "workflow"})), STAFF_WRITE),
        ("GET", "/api/v1/partners/{slug}", format!("/api/v1/partners/{BRAVO}"), None, HIDDEN_READ),
        ("GET", "/api/v1/partners/{slug}", format!("/api/v1/partners/{ALPHA}"), None, READ),
        ("PUT", "/api/v1/partners/{slug}", format!("/api/v1/partners/{BRAVO}"), Some(partner_body.clone()), HIDDEN_WRITE),
        (
            "PUT",
            "/api/v1/partners/{slug}",
            format!("/api/v1/partners/{ALPHA}"),
            Some(json!({"name": "Alpha Works", "kind": "infrastructure", "registry_namespace": "alpha"})),
            MEMBER_STAFF_WRITE_OWN,
        ),
        ("PATCH", "/api/v1/partners/{slug}", format!("/api/v1/partners/{BRAVO}"), Some(json!({"name": BRAVO_NAME})), HIDDEN_WRITE),
        ("GET", "/api/v1/integrations", "/api/v1/integrations".into(), None, READ),
        ("POST", "/api/v1/integrations", "/api/v1/integrations".into(), Some(integration(BRAVO, format!("bravo/g{n}"))), HIDDEN_CREATE),
        ("POST", "/api/v1/integrations", "/api/v1/integrations".into(), Some(integration(ALPHA, format!("alpha/g{n}"))), MEMBER_WRITE),
        ("GET", "/api/v1/integrations/{id}", format!("/api/v1/integrations/{ib}"), None, HIDDEN_READ),
        (
            "PUT",
            "/api/v1/integrations/{id}",
            format!("/api/v1/integrations/{ib}"),
            Some(integration(BRAVO, "bravo/widget".into())),
            HIDDEN_WRITE,
        ),
        ("PATCH", "/api/v1/integrations/{id}", format!("/api/v1/integrations/{ib}"), Some(json!({"name": "Widget"})), HIDDEN_WRITE),
        ("PATCH", "/api/v1/integrations/{id}", format!("/api/v1/integrations/{ia}"), Some(json!({"name": "Widget"})), MEMBER_WRITE),
        ("GET", "/api/v1/integrations/{id}/pipeline", format!("/api/v1/integrations/{ib}/pipeline"), None, HIDDEN_READ),
        (
            "POST",
            "/api/v1/tasks/{id}",
            format!("/api/v1/tasks/{}", w.bravo_task),
            Some(json!({"action": "report", "note": "matrix"})),
            HIDDEN_WRITE,
        ),
        (
            "POST",
            "/api/v1/integrations/{id}/stages/{stage}/reopen",
            format!("/api/v1/integrations/{ib}/stages/prepare/reopen"),
            Some(json!({"reason": "matrix"})),
            HIDDEN_REVIEW_REFUSED_BY_RULES,
        ),
        (
            "POST",
            "/api/v1/tasks/{id}/report",
            format!("/api/v1/tasks/{}/report", w.bravo_task),
            Some(json!({MULTIPART: {"note": "matrix"}})),
            HIDDEN_WRITE,
        ),
        ("GET", "/api/v1/integrations/{id}/run-task", format!("/api/v1/integrations/{ib}/run-task"), None, HIDDEN_READ),
        // Bravo's integration is a provider: staff pass the check and meet the rule.
        (
            "PUT",
            "/api/v1/integrations/{id}/run-task",
            format!("/api/v1/integrations/{ib}/run-task"),
            Some(json!({"endpoint_url": "https://x.example"})),
            HIDDEN_WRITE_INVALID,
        ),
        ("GET", "/api/v1/integrations/{id}/versions", format!("/api/v1/integrations/{ib}/versions"), None, HIDDEN_READ),
        ("POST", "/api/v1/integrations/{id}/poll", format!("/api/v1/integrations/{ib}/poll"), None, HIDDEN_WRITE),
        ("POST", "/api/v1/integrations/{id}/poll", format!("/api/v1/integrations/{ia}/poll"), None, MEMBER_STAFF_WRITE_OWN),
        ("GET", "/api/v1/registry/status", "/api/v1/registry/status".into(), None, ADMIN_ONLY),
        ("GET", "/api/v1/evidence/{id}", format!("/api/v1/evidence/{}", w.bravo_file), None, HIDDEN_READ),
        ("GET", "/api/v1/integrations/{id}/audit", format!("/api/v1/integrations/{ib}/audit"), None, HIDDEN_READ),
        ("GET", "/api/v1/integrations/{id}/audit", format!("/api/v1/integrations/{ia}/audit"), None, READ),
        ("GET", "/api/v1/partners/{slug}/audit", format!("/api/v1/partners/{BRAVO}/audit"), None, HIDDEN_READ),
        ("GET", "/api/v1/audit", "/api/v1/audit?q=bravo".into(), None, ADMIN_ONLY),
        ("GET", "/api/v1/audit/export.csv", "/api/v1/audit/export.csv".into(), None, ADMIN_ONLY),
        ("GET", "/api/v1/issues", "/api/v1/issues".into(), None, READ),
        ("GET", "/api/v1/issues", format!("/api/v1/issues?partner={BRAVO}"), None, HIDDEN_READ),
        ("GET", "/api/v1/integrations/{id}/issues", format!("/api/v1/integrations/{ib}/issues"), None, HIDDEN_READ),
        ("POST", "/api/v1/integrations/{id}/issues", format!("/api/v1/integrations/{ib}/issues"), Some(issue.clone()), HIDDEN_WRITE),
        ("POST", "/api/v1/integrations/{id}/issues", format!("/api/v1/integrations/{ia}/issues"), Some(issue), MEMBER_WRITE),
        ("GET", "/api/v1/issues/{id}", format!("/api/v1/issues/{bi}"), None, HIDDEN_READ),
        // Resolve before reopen: each caller who may leaves the issue open again.
        ("POST", "/api/v1/issues/{id}/resolve", format!("/api/v1/issues/{bi}/resolve"), Some(json!({})), HIDDEN_WRITE),
        ("POST", "/api/v1/issues/{id}/reopen", format!("/api/v1/issues/{bi}/reopen"), None, HIDDEN_WRITE),
        (
            "PUT",
            "/api/v1/issues/{id}/severity",
            format!("/api/v1/issues/{bi}/severity"),
            Some(json!({"severity": "critical"})),
            HIDDEN_WRITE,
        ),
        ("GET", "/api/v1/integrations/{id}/support", format!("/api/v1/integrations/{ib}/support"), None, HIDDEN_READ),
        ("GET", "/api/v1/partners/{slug}/support", format!("/api/v1/partners/{BRAVO}/support"), None, HIDDEN_READ),
        (
            "PUT",
            "/api/v1/integrations/{id}/critical-labels",
            format!("/api/v1/integrations/{ib}/critical-labels"),
            Some(json!({"labels": ["P0"]})),
            HIDDEN_WRITE,
        ),
        // Bravo's widget has no repository: staff pass the check and meet the rule.
        ("POST", "/api/v1/integrations/{id}/sync", format!("/api/v1/integrations/{ib}/sync"), None, HIDDEN_REVIEW_REFUSED_BY_RULES),
        ("GET", "/api/v1/sla/overview", "/api/v1/sla/overview".into(), None, STAFF_READ),
        ("GET", "/api/v1/sla/settings", "/api/v1/sla/settings".into(), None, READ),
        ("PUT", "/api/v1/sla/settings", "/api/v1/sla/settings".into(), Some(settings), ADMIN_ONLY),
        ("GET", "/api/v1/sla/holidays", "/api/v1/sla/holidays".into(), None, READ),
        // Added, then removed: the admin finds it.
        (
            "POST",
            "/api/v1/sla/holidays",
            "/api/v1/sla/holidays".into(),
            Some(json!({"day": "2030-01-01", "name": "Matrix day"})),
            ADMIN_ONLY,
        ),
        ("DELETE", "/api/v1/sla/holidays/{day}", "/api/v1/sla/holidays/2030-01-01".into(), None, ADMIN_ONLY),
        // A JSON string is no iCalendar file: the admin passes the check and gets a field error.
        ("POST", "/api/v1/sla/holidays/import", "/api/v1/sla/holidays/import".into(), Some(json!("not a calendar")), ADMIN_ONLY_INVALID),
        ("GET", "/api/v1/github/status", "/api/v1/github/status".into(), None, ADMIN_ONLY),
        ("GET", "/api/v1/alerts", "/api/v1/alerts".into(), None, READ),
        ("GET", "/api/v1/alerts/preferences", "/api/v1/alerts/preferences".into(), None, READ),
        (
            "PUT",
            "/api/v1/alerts/preferences",
            "/api/v1/alerts/preferences".into(),
            Some(json!({"time_zone": "Europe/Berlin", "digest_hour": "9", "choices": {"review_waiting": "digest"}})),
            READ,
        ),
        ("GET", "/api/v1/outbox", "/api/v1/outbox".into(), None, ADMIN_ONLY),
        ("POST", "/api/v1/outbox/{id}/retry", "/api/v1/outbox/999999/retry".into(), None, ADMIN_ONLY_MISSING),
        ("POST", "/api/v1/outbox/test", "/api/v1/outbox/test".into(), None, ADMIN_ONLY),
        ("POST", "/api/v1/issues/{id}/acknowledge", format!("/api/v1/issues/{bi}/acknowledge"), None, HIDDEN_WRITE),
        ("GET", "/api/v1/dashboard", "/api/v1/dashboard".into(), None, STAFF_READ),
        ("GET", "/api/v1/partners/{slug}/dashboard", format!("/api/v1/partners/{BRAVO}/dashboard"), None, HIDDEN_READ),
        ("GET", "/api/v1/partners/{slug}/dashboard", format!("/api/v1/partners/{ALPHA}/dashboard"), None, READ),
        ("GET", "/api/v1/flags", "/api/v1/flags".into(), None, READ),
        ("GET", "/api/v1/flags/export.csv", "/api/v1/flags/export.csv".into(), None, READ),
        ("GET", "/api/v1/flags/{id}", format!("/api/v1/flags/{fl}"), None, HIDDEN_READ),
        // "keep" without a reason: staff pass the check and get a field error.
        (
            "POST",
            "/api/v1/flags/{id}/decision",
            format!("/api/v1/flags/{fl}/decision"),
            Some(json!({"outcome": "keep"})),
            HIDDEN_WRITE_INVALID,
        ),
        ("POST", "/api/v1/flags/evaluate", "/api/v1/flags/evaluate".into(), None, ADMIN_ONLY),
        ("GET", "/api/v1/flags/settings", "/api/v1/flags/settings".into(), None, STAFF_READ),
        (
            "PUT",
            "/api/v1/flags/settings",
            "/api/v1/flags/settings".into(),
            Some(
                json!({"window_days": "90", "compliance_threshold": "90", "min_issues": "5", "stale_release_months": "6", "grace_days": "7", "recheck_after_keep_days": "90"}),
            ),
            ADMIN_ONLY,
        ),
        ("GET", "/api/v1/stage-targets", "/api/v1/stage-targets".into(), None, STAFF_READ),
        ("PUT", "/api/v1/stage-targets", "/api/v1/stage-targets".into(), Some(json!({"prepare": "30"})), ADMIN_ONLY),
        ("GET", "/api/v1/integrations/{id}/exemptions", format!("/api/v1/integrations/{ib}/exemptions"), None, HIDDEN_READ),
        ("GET", "/api/v1/integrations/{id}/checks", format!("/api/v1/integrations/{}/checks", w.bravo_run_task), None, HIDDEN_READ),
        // Staff pass the access check; Bravo's run task has no endpoint to check.
        (
            "POST",
            "/api/v1/integrations/{id}/checks",
            format!("/api/v1/integrations/{}/checks", w.bravo_run_task),
            None,
            HIDDEN_WRITE_INVALID,
        ),
        ("GET", "/api/v1/checks/{id}", format!("/api/v1/checks/{}", w.bravo_check), None, HIDDEN_READ),
        // The check has not passed, so it cannot be attached.
        ("POST", "/api/v1/checks/{id}/evidence", format!("/api/v1/checks/{}/evidence", w.bravo_check), None, HIDDEN_WRITE_INVALID),
        (
            "POST",
            "/api/v1/integrations/{id}/exemptions",
            format!("/api/v1/integrations/{ib}/exemptions"),
            Some(json!({"rule": "critical_breach_open", "until": until, "reason": "matrix"})),
            HIDDEN_WRITE,
        ),
        (
            "DELETE",
            "/api/v1/integrations/{id}/exemptions/{rule}",
            format!("/api/v1/integrations/{ib}/exemptions/critical_breach_open"),
            None,
            HIDDEN_WRITE,
        ),
        ("GET", "/api/v1/integrations/{id}/end-of-support", format!("/api/v1/integrations/{ib}/end-of-support"), None, HIDDEN_READ),
        (
            "PUT",
            "/api/v1/integrations/{id}/end-of-support",
            format!("/api/v1/integrations/{ib}/end-of-support"),
            Some(json!({"day": ""})),
            HIDDEN_WRITE,
        ),
        (
            "PUT",
            "/api/v1/integrations/{id}/end-of-support",
            format!("/api/v1/integrations/{ia}/end-of-support"),
            Some(json!({"day": ""})),
            MEMBER_WRITE,
        ),
        ("GET", "/api/v1/partners/export.csv", "/api/v1/partners/export.csv".into(), None, READ),
        ("GET", "/api/v1/integrations/export.csv", "/api/v1/integrations/export.csv".into(), None, READ),
        ("GET", "/api/v1/issues/export.csv", "/api/v1/issues/export.csv".into(), None, READ),
    ]
}

/// Server-function cases: (endpoint under /api/, form fields, expectations).
fn fn_cases(w: &World) -> Vec<(&'static str, Vec<(String, String)>, Row)> {
    let n = w.unique();
    let f = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    let ib = w.bravo_integration.to_string();
    let ia = w.alpha_integration.to_string();
    let target = w.target_user.to_string();
    let invited = w.invited_user.to_string();
    let bi = w.bravo_issue.to_string();
    let fl = w.bravo_flag.to_string();
    let until = (chrono::Utc::now() + chrono::Duration::days(30)).format("%Y-%m-%d").to_string();
    let integration = |current: &str, partner: &str, address: &str| {
        f(&[
            ("current_id", current),
            ("kind", "provider"),
            ("name", "Widget"),
            ("partner", partner),
            ("categories[]", "Networking"),
            ("tier", "community"),
            ("stage", "prepare"),
            ("source_address", address),
        ])
    };
    vec![
        ("partners/list", f(&[("query[page]", "1")]), READ),
        ("partners/get", f(&[("slug", BRAVO)]), HIDDEN_READ),
        (
            "partners/save",
            f(&[
                ("current_slug", BRAVO),
                ("name", BRAVO_NAME),
                ("slug", BRAVO),
                ("kind", "infrastructure"),
                ("registry_namespace", "bravo"),
            ]),
            HIDDEN_WRITE,
        ),
        ("partners/save", f(&[("name", &format!("Fn New {n}")), ("kind", "workflow")]), STAFF_WRITE),
        ("partners/options", vec![], READ),
        ("integrations/list", f(&[("query[page]", "1")]), READ),
        ("integrations/get", f(&[("id", &ib)]), HIDDEN_READ),
        ("integrations/check-address", f(&[("address", "acme/cloud")]), READ),
        ("integrations/save", integration(&ib, BRAVO, "bravo/widget"), HIDDEN_WRITE),
        ("integrations/save", integration(&ia, ALPHA, "alpha/widget"), MEMBER_WRITE),
        ("pipeline/get", f(&[("integration_id", &ib)]), HIDDEN_READ),
        ("pipeline/act", f(&[("task_id", &w.bravo_task.to_string()), ("action", "report"), ("note", "matrix")]), HIDDEN_WRITE),
        ("pipeline/reopen", f(&[("integration_id", &ib), ("stage", "prepare"), ("reason", "matrix")]), HIDDEN_REVIEW_REFUSED_BY_RULES),
        ("audit/integration", f(&[("id", &ib)]), HIDDEN_READ),
        ("audit/partner", f(&[("slug", BRAVO)]), HIDDEN_READ),
        ("audit/search", f(&[("query[q]", "bravo")]), ADMIN_ONLY),
        ("review/queue", f(&[("mine", "false")]), STAFF_READ),
        ("run-task/get", f(&[("id", &ib)]), HIDDEN_READ),
        ("run-task/save", f(&[("id", &ib), ("endpoint_url", "https://x.example")]), HIDDEN_WRITE_INVALID),
        ("templates/get", f(&[("kind", "provider")]), ADMIN_ONLY),
        ("registry/provider", f(&[("id", &ib)]), HIDDEN_READ),
        ("registry/poll-now", f(&[("id", &ib)]), HIDDEN_WRITE),
        ("registry/status", vec![], ADMIN_ONLY),
        // Nothing changed: the admin passes the check and gets a field error.
        ("templates/save", f(&[("kind", "run_task"), ("base", "1")]), ADMIN_ONLY_INVALID),
        ("templates/apply", f(&[("kind", "provider"), ("version", "1"), ("integrations[]", &ib)]), ADMIN_ONLY),
        ("auth/options", vec![], PUBLIC),
        ("auth/invitation", f(&[("token", "no-such-invitation")]), PUBLIC),
        ("auth/me", vec![], READ),
        ("dashboard/overview", vec![], READ),
        ("tokens/list", vec![], READ),
        ("tokens/create", f(&[("name", "matrix")]), READ),
        ("tokens/revoke", f(&[("id", "999999")]), OWN_ONLY),
        ("users/list", vec![], ADMIN_ONLY),
        ("users/get", f(&[("id", &target)]), ADMIN_ONLY),
        ("users/invite", f(&[("email", &format!("new{n}@staff.example")), ("role", "viewer")]), ADMIN_ONLY),
        ("users/reinvite", f(&[("id", &invited)]), ADMIN_ONLY),
        ("users/save", f(&[("id", &target), ("name", "Target"), ("role", "viewer")]), ADMIN_ONLY),
        ("users/set-active", f(&[("id", &target), ("active", "true")]), ADMIN_ONLY),
        ("support/issues", f(&[("query[state]", "open")]), READ),
        ("support/issue", f(&[("id", &bi)]), HIDDEN_READ),
        (
            "support/create",
            f(&[("integration_id", &ib), ("title", "Fn issue"), ("severity", "normal"), ("opened_at", "2026-11-02T10:00")]),
            HIDDEN_WRITE,
        ),
        ("support/resolve", f(&[("id", &bi)]), HIDDEN_WRITE),
        ("support/reopen", f(&[("id", &bi)]), HIDDEN_WRITE),
        ("support/severity", f(&[("id", &bi), ("severity", "labels")]), HIDDEN_WRITE),
        ("support/health", f(&[("integration", &ib)]), HIDDEN_READ),
        ("support/sync", f(&[("integration", &ib)]), HIDDEN_READ),
        ("support/issues-scope", f(&[("integration", &ib)]), HIDDEN_READ),
        ("support/labels-of", f(&[("integration", &ib)]), HIDDEN_READ),
        ("support/sync-now", f(&[("integration", &ib)]), HIDDEN_REVIEW_REFUSED_BY_RULES),
        ("support/labels", f(&[("integration", &ib), ("labels", "P0")]), HIDDEN_WRITE),
        ("support/overview", vec![], STAFF_READ),
        ("support/settings", vec![], READ),
        (
            "support/save-settings",
            f(&[
                ("time_zone", "UTC"),
                ("critical_warn_hours", "24"),
                ("normal_warn_hours", "24"),
                ("critical_labels", "critical"),
                ("window_days", "90"),
            ]),
            ADMIN_ONLY,
        ),
        ("support/add-holiday", f(&[("day", "2031-01-01"), ("name", "Fn day")]), ADMIN_ONLY),
        ("support/remove-holiday", f(&[("day", "2031-01-01")]), ADMIN_ONLY),
        ("support/import-holidays", f(&[("ics", "not a calendar")]), ADMIN_ONLY_INVALID),
        ("support/sync-status", vec![], ADMIN_ONLY),
        ("alerts/mine", f(&[("query[status]", "")]), READ),
        ("alerts/preferences", vec![], READ),
        ("alerts/save-preferences", f(&[("time_zone", "UTC"), ("digest_hour", "8"), ("choices[sla_due_soon]", "digest")]), READ),
        ("alerts/outbox", f(&[("query[status]", "failed")]), ADMIN_ONLY),
        ("alerts/retry", f(&[("id", "999999")]), ADMIN_ONLY_MISSING),
        ("alerts/test", vec![], ADMIN_ONLY),
        // Each caller reopened it just before, so there is a new breach to acknowledge.
        ("alerts/acknowledge", f(&[("issue", &bi)]), HIDDEN_WRITE),
        ("dashboard/staff", f(&[("query[track]", ""), ("query[mine]", "false")]), STAFF_READ),
        // `/`'s staff dashboard: a partner member gets nothing (200 with no figures); the JSON body is checked in flags.rs.
        ("dashboard/home", f(&[("query[track]", ""), ("query[mine]", "false")]), READ),
        // `/`'s partner dashboard: staff get nothing (200, null), a member their own.
        ("dashboard/home-partner", vec![], READ),
        // A member always gets their own partner's dashboard, whatever slug they send.
        ("dashboard/partner", f(&[("slug", BRAVO)]), READ),
        ("flags/list", f(&[("query[state]", "all")]), READ),
        ("flags/get", f(&[("id", &fl)]), HIDDEN_READ),
        ("flags/decide", f(&[("id", &fl), ("outcome", "keep")]), HIDDEN_WRITE_INVALID),
        (
            "flags/exempt",
            f(&[("flag", &fl), ("integration", &ib), ("rule", "critical_breach_open"), ("until", &until), ("reason", "matrix")]),
            HIDDEN_WRITE,
        ),
        ("flags/settings", vec![], STAFF_READ),
        ("checks/list", f(&[("integration", &w.bravo_run_task.to_string()), ("page", "1")]), HIDDEN_READ),
        ("checks/get", f(&[("id", &w.bravo_check.to_string())]), HIDDEN_READ),
        ("checks/start", f(&[("integration", &w.bravo_run_task.to_string())]), HIDDEN_WRITE_INVALID),
        ("checks/attach", f(&[("id", &w.bravo_check.to_string())]), HIDDEN_WRITE_INVALID),
        ("flags/integration", f(&[("integration", &ib)]), HIDDEN_READ),
        ("flags/end-of-support", f(&[("integration", &ib), ("day", "")]), HIDDEN_WRITE),
        (
            "flags/save-settings",
            f(&[
                ("window_days", "90"),
                ("compliance_threshold", "90"),
                ("min_issues", "5"),
                ("stale_release_months", "6"),
                ("grace_days", "7"),
                ("recheck_after_keep_days", "90"),
                ("targets[prepare]", "30"),
            ]),
            ADMIN_ONLY,
        ),
    ]
}

async fn every_route_and_server_function_enforces_access(backend: Backend) {
    let w = World::new(backend).await;

    // The matrix covers exactly the routes the router documents…
    let doc = server::http::api::document();
    let mut documented = BTreeSet::new();
    for (path, item) in doc.paths.paths.iter() {
        let methods = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
        ];
        for (m, present) in methods {
            if present {
                documented.insert((m.to_string(), path.clone()));
            }
        }
    }
    let covered: BTreeSet<_> = api_cases(&w).iter().map(|(m, p, ..)| (m.to_string(), p.to_string())).collect();
    assert_eq!(documented, covered, "API routes without a matrix entry (left only) or stale entries (right only)");

    // …and every registered server function.
    let registered: BTreeSet<String> = leptos::server_fn::axum::server_fn_paths().map(|(p, _)| p.to_string()).collect();
    let covered: BTreeSet<String> = fn_cases(&w).iter().map(|(p, ..)| format!("/api/{p}")).collect();
    assert_eq!(registered, covered, "server functions without a matrix entry (left only) or stale entries (right only)");

    for who in 0..5 {
        for (method, _, path, body, want) in api_cases(&w) {
            let client = &w.callers[who].1;
            let mut req = client.request(method.parse().unwrap(), w.app.url(&path));
            match body {
                Some(b) if b.get(MULTIPART).is_some() => {
                    let mut form = reqwest::multipart::Form::new();
                    for (k, v) in b[MULTIPART].as_object().unwrap() {
                        form = form.text(k.clone(), v.as_str().unwrap().to_string());
                    }
                    req = req.multipart(form);
                }
                Some(b) => req = req.json(&b),
                None => {}
            }
            w.check(&format!("{method} {path}"), who, want[who], req).await;
        }
        for (endpoint, form, want) in fn_cases(&w) {
            let client = &w.callers[who].1;
            let req = client.post(w.app.url(&format!("/api/{endpoint}"))).form(&form);
            w.check(&format!("server fn {endpoint}"), who, want[who], req).await;
        }
    }
}

async fn every_page_requires_sign_in_and_hides_other_partners(backend: Backend) {
    let w = World::new(backend).await;
    let public = ["/sign-in", "/sign-in/refused", "/invite/{token}"];
    let routes = server::http::route_list();
    assert!(routes.len() >= 10, "{} routes", routes.len());
    for route in routes {
        let pattern = route.path().to_string();
        let path = pattern.replace("{slug}", BRAVO).replace("{id}", &w.bravo_integration.to_string()).replace("{token}", "x");
        let res = w.callers[0].1.get(w.app.url(&path)).send().await.unwrap();
        if public.contains(&pattern.as_str()) {
            assert!(res.status().as_u16() < 500, "{path}: {}", res.status());
        } else {
            assert_eq!(res.status(), 303, "anonymous GET {path}");
            assert!(res.headers()["location"].to_str().unwrap().starts_with("/sign-in"), "{path}");
        }
    }
    // Pages of Bravo answer a member of Alpha with 404 and no trace of Bravo.
    let member = &w.callers[1].1;
    for path in [
        format!("/partners/{BRAVO}"),
        format!("/partners/{BRAVO}/edit"),
        format!("/integrations/{}", w.bravo_integration),
        format!("/integrations/{}/edit", w.bravo_integration),
    ] {
        let res = member.get(w.app.url(&path)).send().await.unwrap();
        let status = res.status();
        let body = res.text().await.unwrap();
        assert_eq!(status, 404, "{path}");
        assert!(!body.contains(BRAVO_NAME), "{path} showed Bravo");
    }
    for path in ["/partners", "/integrations", "/integrations/new", "/"] {
        let body = member.get(w.app.url(path)).send().await.unwrap().text().await.unwrap();
        assert!(!body.contains(BRAVO_NAME), "{path} showed Bravo to a member of Alpha");
    }
    // Issue lists kept to Bravo (their heading names the scope) name nothing of it.
    let bravo_partner = app::store::integrations::get(&w.app.db, w.bravo_integration).await.unwrap().unwrap().partner_id;
    for path in [format!("/issues?integration={}", w.bravo_integration), format!("/issues?partner={bravo_partner}")] {
        let body = member.get(w.app.url(&path)).send().await.unwrap().text().await.unwrap();
        assert!(!body.contains(BRAVO_NAME) && !body.contains("Issues of"), "{path} showed Bravo to a member of Alpha");
    }
    for path in ["/admin/users", "/admin/audit", "/admin/registry"] {
        let res = member.get(w.app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }

    // Pages offer only the actions the caller may take.
    let page = |who: usize, path: String| {
        let client = w.callers[who].1.clone();
        let url = w.app.url(&path);
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    let (member, viewer, admin) = (1, 2, 4);
    assert!(page(admin, "/partners".into()).await.contains("Add partner"));
    assert!(!page(member, "/partners".into()).await.contains("Add partner"));
    assert!(!page(viewer, "/partners".into()).await.contains("Add partner"));
    let own = page(member, format!("/partners/{ALPHA}")).await;
    assert!(own.contains("Add integration") && !own.contains("Edit partner"), "member on own partner");
    let seen = page(viewer, format!("/partners/{BRAVO}")).await;
    assert!(!seen.contains("Add integration") && !seen.contains("Edit partner"), "viewer");
    assert!(!page(viewer, format!("/integrations/{}", w.bravo_integration)).await.contains("Edit integration"));
    assert!(page(member, format!("/integrations/{}", w.alpha_integration)).await.contains("Edit integration"));
    assert!(page(admin, format!("/integrations/{}", w.bravo_integration)).await.contains("Poll now"));
    assert!(!page(viewer, format!("/integrations/{}", w.bravo_integration)).await.contains("Poll now"));
    assert!(!page(member, format!("/integrations/{}", w.alpha_integration)).await.contains("Poll now"));
    assert!(page(admin, format!("/partners/{BRAVO}")).await.contains("Edit partner"));
}

#[tokio::test]
async fn matrix_on_sqlite() {
    every_route_and_server_function_enforces_access(Backend::Sqlite).await
}
#[tokio::test]
async fn matrix_on_postgres() {
    every_route_and_server_function_enforces_access(Backend::Postgres).await
}
#[tokio::test]
async fn pages_on_sqlite() {
    every_page_requires_sign_in_and_hides_other_partners(Backend::Sqlite).await
}
#[tokio::test]
async fn pages_on_postgres() {
    every_page_requires_sign_in_and_hides_other_partners(Backend::Postgres).await
}
