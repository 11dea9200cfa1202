//! A sample run-task endpoint served by the tracker itself when
//! `SAMPLE_RUN_TASK` is on (the demo turns it on and registers the demo's
//! run tasks to it), so a conformance check can be clicked through without
//! a partner's service. It behaves as HashiCorp's run-task scaffolding does:
//! checks `X-TFC-Task-Signature` in constant time (401 on a mismatch),
//! answers the verification request with 200, and for a stage request
//! answers 200, reads the plan it was offered, then calls back `running`
//! and, two seconds later, `passed` with an outcome.

use crate::AppState;
use app::domain::conformance::{CALLBACK_CONTENT_TYPE, SIGNATURE_HEADER, TEST_TOKEN};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;

pub const PATH: &str = "/sample-run-task";
/// The sample's HMAC key: a demo, so it is no secret.
pub const KEY: &str = "sample-run-task-hmac-key";

pub fn router() -> Router<AppState> {
    Router::new().route(PATH, post(receive))
}

async fn receive(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let valid = crate::outbound::run_task::verify(KEY, &body, signature);
    if !valid {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&body) else { return StatusCode::BAD_REQUEST };
    if payload.get("access_token").and_then(|v| v.as_str()) != Some(TEST_TOKEN) {
        tokio::spawn(call_back(payload, format!("{}/run-task-checks/", state.auth.base_url.trim_end_matches('/'))));
    }
    StatusCode::OK
}

/// Calls back only to this tracker's own check routes (`ours`): the key is
/// public, so the sample must not become a way to send requests elsewhere.
async fn call_back(payload: serde_json::Value, ours: String) {
    let text = |k: &str| payload.get(k).and_then(|v| v.as_str()).filter(|u| u.starts_with(&ours)).map(str::to_string);
    let token = payload.get("access_token").and_then(|v| v.as_str()).map(str::to_string);
    let (Some(callback), Some(token)) = (text("task_result_callback_url"), token) else { return };
    let Ok(http) = reqwest::Client::builder().timeout(std::time::Duration::from_secs(10)).build() else { return };
    if let Some(plan) = text("plan_json_api_url") {
        let _ = http.get(plan).bearer_auth(&token).send().await;
    }
    let send = |attributes: serde_json::Value, outcomes: Option<serde_json::Value>| {
        let mut data = serde_json::json!({"type": "task-results", "attributes": attributes});
        if let Some(o) = outcomes {
            data["relationships"] = serde_json::json!({"outcomes": {"data": o}});
        }
        http.patch(&callback)
            .bearer_auth(&token)
            .header("content-type", CALLBACK_CONTENT_TYPE)
            .body(serde_json::json!({"data": data}).to_string())
            .send()
    };
    let _ = send(serde_json::json!({"status": "running", "message": "Reading the plan"}), None).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let outcomes = serde_json::json!([{"type": "task-result-outcomes", "attributes": {
        "outcome-id": "SAMPLE-1", "description": "Every resource in the plan is tagged",
        "tags": {"Severity": [{"label": "Low", "level": "info"}]}}}]);
    let _ = send(serde_json::json!({"status": "passed", "message": "1 passed, 0 failed"}), Some(outcomes)).await;
}
