//! A partner's run-task endpoint in the tests, written the way HashiCorp's
//! run-task scaffolding behaves (`shared/spec/run-tasks.md`): it verifies
//! `X-TFC-Task-Signature` (HMAC-SHA512, compared in constant time) and
//! answers 401 on a mismatch, answers the verification request
//! (`access_token` "test-token") with 200 and no callback, and for a stage
//! request answers 200 at once, fetches the plan JSON and configuration
//! version it was offered, then PATCHes the callback URL with `running` and
//! then `passed` with outcomes. Each [`Behaviour`] breaks one of these.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    Correct,
    /// Answers 200 whatever the signature.
    IgnoresSignature,
    /// Answers 500 to everything.
    Answers500,
    /// Answers 200 and never calls back.
    NeverCallsBack,
    /// Calls back with the final status after this many milliseconds.
    CallsBackLate(u64),
    /// Sends the callback as `application/json`.
    WrongContentType,
    /// Sends `"status": "done"`.
    InvalidStatus,
    /// Sends a 1,500-character message.
    MessageTooLong,
    /// Calls back with a made-up bearer token.
    WrongBearer,
}

/// What the endpoint saw and what the tracker answered its callbacks.
#[derive(Debug, Default)]
pub struct Log {
    /// (stage, access_token, signature valid) per request received.
    pub requests: Vec<(String, String, bool)>,
    /// The status the tracker answered each callback with.
    pub callback_answers: Vec<u16>,
    /// The statuses of the plan and configuration fetches.
    pub fetches: Vec<(String, u16)>,
}

pub struct FakeRunTask {
    pub url: String,
    pub key: String,
    pub log: Arc<Mutex<Log>>,
}

#[derive(Clone)]
struct Endpoint {
    key: String,
    behaviour: Behaviour,
    log: Arc<Mutex<Log>>,
    http: reqwest::Client,
}

/// The scaffolding's check: HMAC-SHA512 of the raw body, compared in constant time.
fn signature_valid(key: &str, body: &[u8], signature: &str) -> bool {
    server::outbound::run_task::verify(key, body, signature)
}

/// What the partner's scanner reports back: realistic outcomes with tags.
fn final_body(behaviour: Behaviour) -> serde_json::Value {
    let message = match behaviour {
        Behaviour::MessageTooLong => "x".repeat(1500),
        _ => "2 passed, 1 failed".to_string(),
    };
    let status = if behaviour == Behaviour::InvalidStatus { "done" } else { "passed" };
    serde_json::json!({"data": {"type": "task-results",
    "attributes": {"status": status, "message": message, "url": "https://scanner.partner.example/results/8412"},
    "relationships": {"outcomes": {"data": [
        {"type": "task-result-outcomes", "attributes": {"outcome-id": "PRTNR-CC-TF-127",
            "description": "S3 bucket has no server-side encryption", "body": "# Encrypt the bucket\n\nAdd a `server_side_encryption_configuration` block.",
            "url": "https://scanner.partner.example/rules/127",
            "tags": {"Severity": [{"label": "High", "level": "error"}], "Cost Centre": [{"label": "IT-OPS"}]}}},
        {"type": "task-result-outcomes", "attributes": {"outcome-id": "PRTNR-CC-TF-201",
            "description": "Random pet names are two words long", "tags": {"Severity": [{"label": "Low", "level": "info"}]}}}
    ]}}}})
}

impl Endpoint {
    async fn call_back(self, payload: serde_json::Value) {
        let text = |k: &str| payload.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let (Some(callback), Some(token)) = (text("task_result_callback_url"), text("access_token")) else { return };
        // Fetch what the request offered, as a scanner reading the plan would.
        for key in ["plan_json_api_url", "configuration_version_download_url"] {
            if let Some(url) = text(key) {
                let status = self.http.get(&url).bearer_auth(&token).send().await.map(|r| r.status().as_u16()).unwrap_or(0);
                self.log.lock().unwrap().fetches.push((key.to_string(), status));
            }
        }
        let token = if self.behaviour == Behaviour::WrongBearer { "rtc_not-the-token".to_string() } else { token };
        let content_type = if self.behaviour == Behaviour::WrongContentType { "application/json" } else { "application/vnd.api+json" };
        let running =
            serde_json::json!({"data": {"type": "task-results", "attributes": {"status": "running", "message": "Scanning 1 resource"}}});
        let send = |body: serde_json::Value| {
            self.http.patch(&callback).bearer_auth(&token).header("content-type", content_type).body(body.to_string()).send()
        };
        if let Behaviour::CallsBackLate(ms) = self.behaviour {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        } else if let Ok(r) = send(running).await {
            self.log.lock().unwrap().callback_answers.push(r.status().as_u16());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if let Ok(r) = send(final_body(self.behaviour)).await {
            self.log.lock().unwrap().callback_answers.push(r.status().as_u16());
        }
    }
}

async fn receive(State(e): State<Endpoint>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
    let signature = headers.get("x-tfc-task-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let valid = signature_valid(&e.key, &body, signature);
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    let stage = payload.get("stage").and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let token = payload.get("access_token").and_then(|v| v.as_str()).unwrap_or_default().to_string();
    e.log.lock().unwrap().requests.push((stage, token.clone(), valid));
    if e.behaviour == Behaviour::Answers500 {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    }
    if !valid && e.behaviour != Behaviour::IgnoresSignature {
        return (StatusCode::UNAUTHORIZED, "invalid signature").into_response();
    }
    if token == "test-token" {
        return (StatusCode::OK, "").into_response();
    }
    if e.behaviour != Behaviour::NeverCallsBack {
        tokio::spawn(e.clone().call_back(payload));
    }
    (StatusCode::OK, "").into_response()
}

impl FakeRunTask {
    pub async fn start(behaviour: Behaviour) -> Self {
        let key = "s3cr3t-hmac-key-for-tests".to_string();
        let log = Arc::new(Mutex::new(Log::default()));
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
        let endpoint = Endpoint { key: key.clone(), behaviour, log: log.clone(), http };
        let app = Router::new().route("/tfc/run-task", axum::routing::post(receive)).with_state(endpoint);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/tfc/run-task", listener.local_addr().expect("address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeRunTask { url, key, log }
    }
}
