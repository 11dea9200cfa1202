//! The run-task conformance check: the tracker plays Terraform Cloud's part
//! against a partner's endpoint, so Develop & Test rests on a repeatable test
//! instead of a claim. This module holds the rules: the payloads Terraform
//! Cloud sends (run-tasks.md), what a correct answer is, what a valid
//! callback is, and how the steps add up to a report. Sending and receiving
//! live at the edges (the server's runner and callback routes).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The `access_token` of Terraform Cloud's verification request.
pub const TEST_TOKEN: &str = "test-token";
/// What Terraform Cloud sends as its user agent.
pub const USER_AGENT: &str = "TFC/1.0 (+https://app.terraform.io; TFC)";
/// The callback's required media type.
pub const CALLBACK_CONTENT_TYPE: &str = "application/vnd.api+json";
/// The header carrying the request's HMAC-SHA512 signature.
pub const SIGNATURE_HEADER: &str = "X-TFC-Task-Signature";

pub const MAX_MESSAGE_CHARS: usize = 1000;
pub const MAX_URL_CHARS: usize = 500;
pub const MAX_OUTCOMES: usize = 250;
pub const MAX_OUTCOME_ID_CHARS: usize = 64;
pub const MAX_DESCRIPTION_CHARS: usize = 1000;
pub const MAX_TAG_LABEL_CHARS: usize = 32;
pub const TAG_LEVELS: [&str; 4] = ["none", "info", "warning", "error"];

/// Where a check is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckState {
    /// Waiting for a runner to pick it up.
    Queued,
    /// A runner is sending the requests.
    Sending,
    /// Requests sent; waiting for the endpoint's callbacks.
    Awaiting,
    Passed,
    Failed,
}

impl CheckState {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckState::Queued => "queued",
            CheckState::Sending => "sending",
            CheckState::Awaiting => "awaiting",
            CheckState::Passed => "passed",
            CheckState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [CheckState::Queued, CheckState::Sending, CheckState::Awaiting, CheckState::Passed, CheckState::Failed]
            .into_iter()
            .find(|c| c.as_str() == s)
    }

    pub fn is_running(self) -> bool {
        matches!(self, CheckState::Queued | CheckState::Sending | CheckState::Awaiting)
    }

    pub fn label(self) -> &'static str {
        match self {
            CheckState::Queued => "Queued",
            CheckState::Sending => "Sending requests",
            CheckState::Awaiting => "Waiting for callbacks",
            CheckState::Passed => "Passed",
            CheckState::Failed => "Failed",
        }
    }
}

/// A step's result, as the report shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Pending,
    Running,
    Passed,
    Failed,
    /// Not applicable (e.g. no HMAC key registered): neither passes nor fails.
    Skipped,
    /// Recorded for the reviewer, not judged (e.g. whether the plan was fetched).
    Info,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Running => "running",
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
            Outcome::Info => "info",
        }
    }
}

/// Which request a sent step was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "stage")]
pub enum Probe {
    /// The test POST Terraform Cloud sends when a run task is created.
    Verification,
    /// The same request with a wrong signature: must be refused.
    WrongSignature,
    /// A run-task request for one stage.
    Stage(String),
}

/// What came back from one request the runner sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    pub probe: Probe,
    pub at: DateTime<Utc>,
    pub millis: i64,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// Why there was no answer (timeout, refused by the SSRF guard, …).
    pub error: Option<String>,
    /// The first bytes of the answer's body, to show what came back.
    pub body_excerpt: Option<String>,
}

/// One step of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub title: String,
    pub outcome: Outcome,
    pub detail: String,
    pub millis: Option<i64>,
    /// What came back, when there is something to show: the start of the
    /// endpoint's answer, or the last callback's message.
    #[serde(default)]
    pub received: Option<String>,
}

/// A final or progress status the partner sends back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultStatus {
    Running,
    Passed,
    Failed,
}

impl ResultStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultStatus::Running => "running",
            ResultStatus::Passed => "passed",
            ResultStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ResultStatus::Running, ResultStatus::Passed, ResultStatus::Failed].into_iter().find(|r| r.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        self != ResultStatus::Running
    }
}

/// A callback that was valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub status: ResultStatus,
    pub message: Option<String>,
    pub url: Option<String>,
    pub outcomes: usize,
}

/// A callback as stored: valid (a status) or not (a problem).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Received {
    pub at: DateTime<Utc>,
    pub status: Option<ResultStatus>,
    pub message: Option<String>,
    pub outcomes: i64,
    /// Why it was refused; `None` for an accepted callback.
    pub problem: Option<String>,
    /// It came after the check's time limit.
    pub late: bool,
}

/// Everything known about one stage's request and its callbacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageFacts {
    pub stage: String,
    pub requested_at: Option<DateTime<Utc>>,
    pub received: Vec<Received>,
    pub plan_offered: bool,
    pub plan_fetched_at: Option<DateTime<Utc>>,
    pub configuration_fetched_at: Option<DateTime<Utc>>,
}

/// The stage's label, e.g. "post-plan".
pub fn stage_label(stage: &str) -> String {
    stage.replace('_', "-")
}

/// Terraform Cloud offers the plan's JSON from post-plan on.
pub fn offers_plan(stage: &str) -> bool {
    matches!(stage, "post_plan" | "pre_apply" | "post_apply")
}

/// The fixed parts of a run Terraform Cloud describes in every request.
#[derive(Debug, Clone, PartialEq)]
pub struct Run<'a> {
    pub stage: &'a str,
    pub access_token: &'a str,
    pub callback_url: &'a str,
    pub task_result_id: &'a str,
    pub run_id: &'a str,
    pub created_at: DateTime<Utc>,
    pub plan_json_api_url: Option<&'a str>,
    pub configuration_version_download_url: Option<&'a str>,
    /// Where the tracker shows this check: stands in for the run's page.
    pub app_url: &'a str,
}

/// The request body, with every field run-tasks.md lists, as Terraform
/// Cloud sends it.
pub fn payload(run: &Run) -> serde_json::Value {
    let mut body = serde_json::json!({
        "payload_version": 1,
        "stage": run.stage,
        "access_token": run.access_token,
        "capabilities": {"outcomes": true},
        "configuration_version_download_url": run.configuration_version_download_url,
        "configuration_version_id": "cv-ntv3HbhJqvFzamy7",
        "is_speculative": false,
        "organization_name": "integration-tracker",
        "run_app_url": run.app_url,
        "run_created_at": run.created_at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        "run_created_by": "integration-tracker",
        "run_id": run.run_id,
        "run_message": "Conformance check by the Integration Tracker",
        "task_result_callback_url": run.callback_url,
        "task_result_enforcement_level": "mandatory",
        "task_result_id": run.task_result_id,
        "vcs_branch": "main",
        "vcs_commit_url": "https://github.com/hashicorp/terraform-random-pet/commit/7d7a1e6f0a4d4a8b3c9d2e1f0a9b8c7d6e5f4a3b",
        "vcs_pull_request_url": null,
        "vcs_repo_url": "https://github.com/hashicorp/terraform-random-pet",
        "workspace_app_url": run.app_url,
        "workspace_id": "ws-2Hb2cGmyYcVGhaQ9",
        "workspace_name": "conformance-check",
        "workspace_working_directory": "",
    });
    if offers_plan(run.stage) {
        body["plan_json_api_url"] = serde_json::json!(run.plan_json_api_url);
    }
    body
}

/// An identifier in Terraform Cloud's style (`run-…`, `taskrs-…`) from 16
/// random bytes' worth of characters.
pub fn tfc_id(prefix: &str, random: &[u8]) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let tail: String = random.iter().map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char).collect();
    format!("{prefix}-{tail}")
}

fn took(s: &Sent) -> String {
    format!("{} ms", s.millis)
}

/// The verification request must get a 200.
pub fn judge_verification(s: &Sent) -> Step {
    let title = "Verification request (access_token \"test-token\")".to_string();
    let (outcome, detail) = match (s.status, &s.error) {
        (Some(200), _) => (Outcome::Passed, format!("answered 200 in {}", took(s))),
        (Some(code), _) => {
            (Outcome::Failed, format!("answered {code}; Terraform Cloud needs a 200 to the test request before it accepts the run task"))
        }
        (None, Some(e)) => (Outcome::Failed, format!("no answer: {e}")),
        (None, None) => (Outcome::Failed, "no answer".to_string()),
    };
    Step { title, outcome, detail, millis: Some(s.millis), received: s.body_excerpt.clone() }
}

/// A request signed with the wrong key must be refused with a 4xx.
pub fn judge_wrong_signature(s: &Sent) -> Step {
    let title = format!("Signature enforcement (wrong {SIGNATURE_HEADER})");
    let (outcome, detail) = match (s.status, &s.error) {
        (Some(code), _) if (400..500).contains(&code) => (Outcome::Passed, format!("refused with {code} in {}", took(s))),
        (Some(code), _) if (200..300).contains(&code) => (
            Outcome::Failed,
            format!(
                "answered {code} to a request signed with the wrong key; the endpoint must check {SIGNATURE_HEADER} \
                 (HMAC-SHA512 of the body) and refuse a mismatch, e.g. with 401"
            ),
        ),
        (Some(code), _) => (Outcome::Failed, format!("answered {code}; a wrong signature should be refused with a 4xx such as 401")),
        (None, Some(e)) => (Outcome::Failed, format!("no answer: {e}")),
        (None, None) => (Outcome::Failed, "no answer".to_string()),
    };
    Step { title, outcome, detail, millis: Some(s.millis), received: s.body_excerpt.clone() }
}

/// Why signature enforcement was not checked.
pub fn no_key_step() -> Step {
    Step {
        title: format!("Signature enforcement (wrong {SIGNATURE_HEADER})"),
        outcome: Outcome::Skipped,
        detail: "no HMAC key is registered, so requests are sent unsigned and enforcement cannot be checked".into(),
        millis: None,
        received: None,
    }
}

/// A stage request must get a 200 promptly.
pub fn judge_stage_request(stage: &str, s: &Sent) -> Step {
    let title = format!("{} request", stage_label(stage));
    let (outcome, detail) = match (s.status, &s.error) {
        (Some(200), _) => (Outcome::Passed, format!("answered 200 in {}", took(s))),
        (Some(401), _) => (
            Outcome::Failed,
            "answered 401 to a correctly signed request: is the registered HMAC key the one the endpoint uses?".to_string(),
        ),
        (Some(code), _) => (Outcome::Failed, format!("answered {code}; Terraform Cloud expects 200 and the result through the callback")),
        (None, Some(e)) => (Outcome::Failed, format!("no answer: {e}")),
        (None, None) => (Outcome::Failed, "no answer".to_string()),
    };
    Step { title, outcome, detail, millis: Some(s.millis), received: s.body_excerpt.clone() }
}

/// "10 minutes", "45 seconds".
pub fn duration_label(seconds: i64) -> String {
    match seconds {
        s if s >= 120 && s % 60 == 0 => format!("{} minutes", s / 60),
        60 => "1 minute".into(),
        1 => "1 second".into(),
        s => format!("{s} seconds"),
    }
}

/// The callback step of one stage, given what arrived. `request_ok` is
/// whether the stage's request got its 200; `expired` whether the time
/// limit (`limit_seconds`) has passed.
pub fn judge_callbacks(facts: &StageFacts, request_ok: bool, expired: bool, limit_seconds: i64) -> Step {
    let title = format!("{} callback", stage_label(&facts.stage));
    let last_message = facts.received.iter().rev().find_map(|r| r.message.clone());
    let step = |outcome, detail: String| Step { title: title.clone(), outcome, detail, millis: None, received: last_message.clone() };
    let in_time: Vec<&Received> = facts.received.iter().filter(|r| !r.late).collect();
    if let Some(bad) = in_time.iter().find_map(|r| r.problem.as_deref()) {
        return step(Outcome::Failed, bad.to_string());
    }
    let progress = in_time.iter().filter(|r| r.status == Some(ResultStatus::Running)).count();
    if let Some(last) = in_time.iter().find(|r| r.status.is_some_and(ResultStatus::is_final)) {
        let status = last.status.map(ResultStatus::as_str).unwrap_or_default();
        let after = facts
            .requested_at
            .map(|t| (last.at - t).num_milliseconds())
            .map(|ms| format!(" {ms} ms after the request"))
            .unwrap_or_default();
        let mut detail = match progress {
            0 => format!("status \"{status}\"{after}"),
            1 => format!("1 \"running\" update, then \"{status}\"{after}"),
            n => format!("{n} \"running\" updates, then \"{status}\"{after}"),
        };
        if let Some(m) = &last.message {
            detail.push_str(&format!(": \"{m}\""));
        }
        if last.outcomes > 0 {
            detail.push_str(&format!(" ({} outcome{})", last.outcomes, if last.outcomes == 1 { "" } else { "s" }));
        }
        return step(Outcome::Passed, detail);
    }
    if !request_ok && in_time.is_empty() {
        return step(Outcome::Skipped, "the request was not accepted, so no callback was expected".into());
    }
    if expired {
        let mut detail = format!("no final status (passed or failed) within {}", duration_label(limit_seconds));
        if progress > 0 {
            detail.push_str(&format!(" ({progress} \"running\" update{} arrived)", if progress == 1 { "" } else { "s" }));
        }
        if let Some(late) = facts.received.iter().find(|r| r.late) {
            match facts.requested_at {
                Some(t) => detail.push_str(&format!("; a callback arrived {} s after the request, too late", (late.at - t).num_seconds())),
                None => detail.push_str("; a callback arrived too late"),
            }
        }
        return step(Outcome::Failed, detail);
    }
    match progress {
        0 => step(Outcome::Running, "waiting for the callback".into()),
        n => {
            step(Outcome::Running, format!("{n} \"running\" update{} so far; waiting for the final status", if n == 1 { "" } else { "s" }))
        }
    }
}

/// Whether the endpoint fetched what the request offered (recorded, not judged).
pub fn fetch_step(facts: &StageFacts) -> Step {
    let mut parts = Vec::new();
    if facts.plan_offered {
        parts.push(match facts.plan_fetched_at {
            Some(_) => "fetched the plan JSON (plan_json_api_url)",
            None => "did not fetch the plan JSON (plan_json_api_url)",
        });
    }
    parts.push(match facts.configuration_fetched_at {
        Some(_) => "fetched the configuration version (configuration_version_download_url)",
        None => "did not fetch the configuration version (configuration_version_download_url)",
    });
    Step {
        title: format!("{} documents", stage_label(&facts.stage)),
        outcome: Outcome::Info,
        detail: format!("the endpoint {}", parts.join("; it ")),
        millis: None,
        received: None,
    }
}

/// The report: the sent steps, then per stage its request, callback and
/// documents. `expired`: the time limit for callbacks has passed.
pub fn report(sent: &[Sent], has_key: bool, stages: &[StageFacts], expired: bool, limit_seconds: i64) -> Vec<Step> {
    let mut steps = Vec::new();
    let find = |p: &Probe| sent.iter().find(|s| &s.probe == p);
    let pending = |title: String| Step { title, outcome: Outcome::Pending, detail: "not sent yet".into(), millis: None, received: None };
    steps.push(match find(&Probe::Verification) {
        Some(s) => judge_verification(s),
        None => pending("Verification request (access_token \"test-token\")".into()),
    });
    steps.push(match (has_key, find(&Probe::WrongSignature)) {
        (false, _) => no_key_step(),
        (true, Some(s)) => judge_wrong_signature(s),
        (true, None) => pending(format!("Signature enforcement (wrong {SIGNATURE_HEADER})")),
    });
    for facts in stages {
        match find(&Probe::Stage(facts.stage.clone())) {
            Some(s) => {
                let request = judge_stage_request(&facts.stage, s);
                let ok = request.outcome == Outcome::Passed;
                steps.push(request);
                steps.push(judge_callbacks(facts, ok, expired, limit_seconds));
                if ok {
                    steps.push(fetch_step(facts));
                }
            }
            None => steps.push(pending(format!("{} request", stage_label(&facts.stage)))),
        }
    }
    steps
}

/// The check's verdict: `None` while a step still waits.
pub fn verdict(steps: &[Step]) -> Option<CheckState> {
    if steps.iter().any(|s| matches!(s.outcome, Outcome::Pending | Outcome::Running)) {
        return None;
    }
    Some(if steps.iter().any(|s| s.outcome == Outcome::Failed) { CheckState::Failed } else { CheckState::Passed })
}

/// One line for lists and the audit trail.
pub fn summary(steps: &[Step]) -> String {
    let judged = steps.iter().filter(|s| matches!(s.outcome, Outcome::Passed | Outcome::Failed)).count();
    let passed = steps.iter().filter(|s| s.outcome == Outcome::Passed).count();
    match steps.iter().find(|s| s.outcome == Outcome::Failed) {
        Some(first) => format!("{passed} of {judged} steps passed; {}: {}", first.title, first.detail),
        None => format!("{passed} of {judged} steps passed"),
    }
}

/// The media type without parameters, lower-case.
fn essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

/// Reads a callback as Terraform Cloud does: its content type, then the
/// JSON:API body and its limits. The error says what is wrong, in words a
/// partner's developer can act on.
pub fn read_callback(content_type: Option<&str>, body: &[u8]) -> Result<Callback, String> {
    match content_type.map(essence) {
        Some(t) if t == CALLBACK_CONTENT_TYPE => {}
        Some(t) => return Err(format!("callback content type was {t}; Terraform Cloud requires {CALLBACK_CONTENT_TYPE}")),
        None => return Err(format!("callback had no content type; Terraform Cloud requires {CALLBACK_CONTENT_TYPE}")),
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| format!("callback body is not valid JSON: {e}"))?;
    let data = value.get("data").filter(|d| d.is_object()).ok_or("callback body has no \"data\" object")?;
    match data.get("type").and_then(|t| t.as_str()) {
        Some("task-results") => {}
        Some(other) => return Err(format!("data.type was \"{other}\"; Terraform Cloud requires \"task-results\"")),
        None => return Err("data.type is missing; Terraform Cloud requires \"task-results\"".into()),
    }
    let attributes = data.get("attributes").filter(|a| a.is_object()).ok_or("data.attributes is missing")?;
    let status = match attributes.get("status") {
        Some(serde_json::Value::String(s)) => {
            ResultStatus::parse(s).ok_or_else(|| format!("status \"{s}\" is not one of \"passed\", \"failed\" or \"running\""))?
        }
        Some(_) => return Err("status must be a string: \"passed\", \"failed\" or \"running\"".into()),
        None => return Err("data.attributes.status is missing (\"passed\", \"failed\" or \"running\")".into()),
    };
    let text = |name: &str, max: usize| -> Result<Option<String>, String> {
        match attributes.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => {
                let n = chars(s);
                if n == 0 && name == "message" {
                    Err("message is empty; Terraform Cloud requires 1 to 1000 characters".into())
                } else if n > max {
                    Err(format!("{name} is {n} characters long; Terraform Cloud allows at most {max}"))
                } else {
                    Ok(Some(s.clone()))
                }
            }
            Some(_) => Err(format!("{name} must be a string")),
        }
    };
    let message = text("message", MAX_MESSAGE_CHARS)?;
    let url = text("url", MAX_URL_CHARS)?;
    let outcomes = match data.pointer("/relationships/outcomes/data") {
        None | Some(serde_json::Value::Null) => 0,
        Some(serde_json::Value::Array(items)) => {
            if items.is_empty() || items.len() > MAX_OUTCOMES {
                return Err(format!("outcomes has {} items; Terraform Cloud accepts 1 to {MAX_OUTCOMES}", items.len()));
            }
            for (i, item) in items.iter().enumerate() {
                read_outcome(item).map_err(|e| format!("outcome {}: {e}", i + 1))?;
            }
            items.len()
        }
        Some(_) => return Err("relationships.outcomes.data must be a list".into()),
    };
    Ok(Callback { status, message, url, outcomes })
}

fn read_outcome(item: &serde_json::Value) -> Result<(), String> {
    match item.get("type").and_then(|t| t.as_str()) {
        Some("task-result-outcomes") => {}
        other => return Err(format!("type was {:?}; Terraform Cloud requires \"task-result-outcomes\"", other.unwrap_or("missing"))),
    }
    let a = item.get("attributes").filter(|a| a.is_object()).ok_or("attributes are missing")?;
    let required = |name: &str, max: usize| -> Result<(), String> {
        match a.get(name).and_then(|v| v.as_str()) {
            Some(s) if !s.is_empty() && chars(s) <= max => Ok(()),
            Some(s) if s.is_empty() => Err(format!("{name} is empty; 1 to {max} characters are required")),
            Some(s) => Err(format!("{name} is {} characters long; Terraform Cloud allows at most {max}", chars(s))),
            None => Err(format!("{name} is missing")),
        }
    };
    required("outcome-id", MAX_OUTCOME_ID_CHARS)?;
    required("description", MAX_DESCRIPTION_CHARS)?;
    if let Some(url) = a.get("url").and_then(|v| v.as_str()) {
        if chars(url) > MAX_URL_CHARS {
            return Err(format!("url is {} characters long; Terraform Cloud allows at most {MAX_URL_CHARS}", chars(url)));
        }
    }
    match a.get("tags") {
        None | Some(serde_json::Value::Null) => Ok(()),
        Some(serde_json::Value::Object(tags)) => {
            for (name, values) in tags {
                let values = values.as_array().ok_or_else(|| format!("tag \"{name}\" must be a list of labels"))?;
                for v in values {
                    let label = v.get("label").and_then(|l| l.as_str()).unwrap_or_default();
                    if chars(label) > MAX_TAG_LABEL_CHARS {
                        return Err(format!("tag \"{name}\" label is {} characters long; at most {MAX_TAG_LABEL_CHARS}", chars(label)));
                    }
                    if let Some(level) = v.get("level") {
                        let level = level.as_str().unwrap_or_default();
                        if !TAG_LEVELS.contains(&level) {
                            return Err(format!("tag \"{name}\" level \"{level}\" is not one of none, info, warning, error"));
                        }
                    }
                }
            }
            Ok(())
        }
        Some(_) => Err("tags must be an object of lists".into()),
    }
}

/// The check as lists and the report page show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckView {
    pub id: i64,
    pub integration_id: i64,
    pub integration_name: String,
    pub partner_id: i64,
    pub state: CheckState,
    pub started_by: Option<String>,
    pub endpoint_url: String,
    pub stages: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub deadline_at: Option<DateTime<Utc>>,
    pub summary: Option<String>,
    pub steps: Vec<Step>,
    /// When the report was attached to the Develop & Test evidence task.
    pub evidence_attached_at: Option<DateTime<Utc>>,
    /// The server's clock when this was read (for "running for 12 s").
    pub as_of: DateTime<Utc>,
}

/// Checks shown per page of an integration's history.
pub const CHECKS_PER_PAGE: i64 = 20;

/// A page of an integration's checks, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckList {
    pub checks: Vec<CheckView>,
    /// Whether the caller may start one now, and if not, why.
    pub may_start: bool,
    pub reason: Option<String>,
}

/// How many checks an integration may start per hour, and the limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckSettings {
    pub per_hour: i64,
    /// How long the endpoint has for its final callback.
    pub callback_seconds: i64,
}

impl Default for CheckSettings {
    fn default() -> Self {
        CheckSettings { per_hour: 10, callback_seconds: 600 }
    }
}

/// Why a new check may not start now, from the integration's recent checks.
pub fn start_refusal(running: bool, started_last_hour: i64, settings: &CheckSettings, endpoint: bool, stages: usize) -> Option<String> {
    if !endpoint {
        return Some("register the endpoint URL first (Run-task registration)".into());
    }
    if stages == 0 {
        return Some("choose at least one supported stage first (Run-task registration)".into());
    }
    if running {
        return Some("a check is already running for this integration; wait for it to finish".into());
    }
    if started_last_hour >= settings.per_hour {
        return Some(format!("at most {} checks per hour for one integration; try again later", settings.per_hour));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap() + chrono::Duration::seconds(s)
    }

    fn sent(probe: Probe, status: Option<u16>, error: Option<&str>) -> Sent {
        Sent { probe, at: t(0), millis: 12, status, error: error.map(str::to_string), body_excerpt: None }
    }

    const JSONAPI: Option<&str> = Some("application/vnd.api+json");

    fn body(attributes: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({"data": {"type": "task-results", "attributes": attributes}})).unwrap()
    }

    #[test]
    fn callbacks_are_read_as_terraform_cloud_reads_them() {
        let ok = serde_json::json!({"data": {"type": "task-results",
            "attributes": {"status": "passed", "message": "4 passed, 0 failed", "url": "https://partner.example/results/123"},
            "relationships": {"outcomes": {"data": [
                {"type": "task-result-outcomes", "attributes": {"outcome-id": "PRTNR-CC-TF-127", "description": "one line",
                 "body": "# markdown", "url": "https://partner.example/o/1",
                 "tags": {"Severity": [{"label": "High", "level": "error"}]}}}]}}}});
        let ok = serde_json::to_vec(&ok).unwrap();
        let c = read_callback(JSONAPI, &ok).unwrap();
        assert_eq!((c.status, c.outcomes, c.message.as_deref()), (ResultStatus::Passed, 1, Some("4 passed, 0 failed")));
        assert_eq!(read_callback(Some("application/vnd.api+json; charset=utf-8"), &ok).map(|c| c.status), Ok(ResultStatus::Passed));
        assert_eq!(read_callback(JSONAPI, &body(serde_json::json!({"status": "running"}))).map(|c| c.status), Ok(ResultStatus::Running));

        let long = "x".repeat(1001);
        let outcome = |attrs: serde_json::Value| {
            serde_json::to_vec(&serde_json::json!({"data": {"type": "task-results", "attributes": {"status": "failed"},
                "relationships": {"outcomes": {"data": [{"type": "task-result-outcomes", "attributes": attrs}]}}}}))
            .unwrap()
        };
        let cases: Vec<(Option<&str>, Vec<u8>, &str)> = vec![
            (
                Some("application/json"),
                ok.clone(),
                "callback content type was application/json; Terraform Cloud requires application/vnd.api+json",
            ),
            (None, ok.clone(), "callback had no content type"),
            (JSONAPI, b"{not json".to_vec(), "callback body is not valid JSON"),
            (JSONAPI, b"{}".to_vec(), "no \"data\" object"),
            (JSONAPI, br#"{"data":{"type":"tasks","attributes":{"status":"passed"}}}"#.to_vec(), "data.type was \"tasks\""),
            (JSONAPI, body(serde_json::json!({"status": "done"})), "status \"done\" is not one of"),
            (JSONAPI, body(serde_json::json!({"status": "errored"})), "status \"errored\" is not one of"),
            (JSONAPI, body(serde_json::json!({"message": "hi"})), "status is missing"),
            (JSONAPI, body(serde_json::json!({"status": 1})), "status must be a string"),
            (
                JSONAPI,
                body(serde_json::json!({"status": "passed", "message": long})),
                "message is 1001 characters long; Terraform Cloud allows at most 1000",
            ),
            (JSONAPI, body(serde_json::json!({"status": "passed", "message": ""})), "message is empty"),
            (JSONAPI, body(serde_json::json!({"status": "passed", "url": "x".repeat(501)})), "url is 501 characters long"),
            (JSONAPI, outcome(serde_json::json!({"description": "d"})), "outcome 1: outcome-id is missing"),
            (JSONAPI, outcome(serde_json::json!({"outcome-id": "x".repeat(65), "description": "d"})), "outcome-id is 65 characters long"),
            (JSONAPI, outcome(serde_json::json!({"outcome-id": "A-1", "description": ""})), "description is empty"),
            (
                JSONAPI,
                outcome(
                    serde_json::json!({"outcome-id": "A-1", "description": "d", "tags": {"Severity": [{"label": "High", "level": "fatal"}]}}),
                ),
                "level \"fatal\" is not one of none, info, warning, error",
            ),
            (
                JSONAPI,
                outcome(serde_json::json!({"outcome-id": "A-1", "description": "d", "tags": {"S": [{"label": "x".repeat(33)}]}})),
                "label is 33 characters long",
            ),
            (
                JSONAPI,
                serde_json::to_vec(&serde_json::json!({"data": {"type": "task-results", "attributes": {"status": "passed"},
                    "relationships": {"outcomes": {"data": []}}}}))
                .unwrap(),
                "outcomes has 0 items; Terraform Cloud accepts 1 to 250",
            ),
        ];
        for (ct, b, want) in cases {
            let err = read_callback(ct, &b).expect_err(want);
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
    }

    #[test]
    fn answers_to_the_requests() {
        let cases: Vec<(Step, Outcome, &str)> = vec![
            (judge_verification(&sent(Probe::Verification, Some(200), None)), Outcome::Passed, "answered 200"),
            (judge_verification(&sent(Probe::Verification, Some(500), None)), Outcome::Failed, "answered 500"),
            (judge_verification(&sent(Probe::Verification, None, Some("no answer within 5 seconds"))), Outcome::Failed, "within 5 seconds"),
            (judge_wrong_signature(&sent(Probe::WrongSignature, Some(401), None)), Outcome::Passed, "refused with 401"),
            (judge_wrong_signature(&sent(Probe::WrongSignature, Some(403), None)), Outcome::Passed, "refused with 403"),
            (judge_wrong_signature(&sent(Probe::WrongSignature, Some(200), None)), Outcome::Failed, "signed with the wrong key"),
            (judge_wrong_signature(&sent(Probe::WrongSignature, Some(500), None)), Outcome::Failed, "answered 500"),
            (judge_stage_request("post_plan", &sent(Probe::Stage("post_plan".into()), Some(200), None)), Outcome::Passed, "200"),
            (judge_stage_request("post_plan", &sent(Probe::Stage("post_plan".into()), Some(401), None)), Outcome::Failed, "HMAC key"),
            (judge_stage_request("post_plan", &sent(Probe::Stage("post_plan".into()), Some(202), None)), Outcome::Failed, "answered 202"),
            (
                judge_stage_request("pre_plan", &sent(Probe::Stage("pre_plan".into()), None, Some("127.0.0.1 is not a public address"))),
                Outcome::Failed,
                "not a public address",
            ),
        ];
        for (step, outcome, text) in cases {
            assert_eq!(step.outcome, outcome, "{step:?}");
            assert!(step.detail.contains(text), "{:?} should contain {text:?}", step.detail);
        }
        assert_eq!(judge_stage_request("post_plan", &sent(Probe::Stage("post_plan".into()), Some(200), None)).title, "post-plan request");
    }

    fn facts(received: Vec<Received>) -> StageFacts {
        StageFacts {
            stage: "post_plan".into(),
            requested_at: Some(t(0)),
            received,
            plan_offered: true,
            plan_fetched_at: None,
            configuration_fetched_at: None,
        }
    }

    fn got(at: i64, status: Option<ResultStatus>, problem: Option<&str>, late: bool) -> Received {
        Received { at: t(at), status, message: Some("3 passed".into()), outcomes: 2, problem: problem.map(str::to_string), late }
    }

    #[test]
    fn callbacks_make_the_callback_step() {
        use ResultStatus::*;
        let cases: Vec<(&str, StageFacts, bool, bool, Outcome, &str)> = vec![
            ("nothing yet", facts(vec![]), true, false, Outcome::Running, "waiting for the callback"),
            (
                "progress only",
                facts(vec![got(1, Some(Running), None, false)]),
                true,
                false,
                Outcome::Running,
                "1 \"running\" update so far",
            ),
            (
                "running then passed",
                facts(vec![got(1, Some(Running), None, false), got(2, Some(Passed), None, false)]),
                true,
                false,
                Outcome::Passed,
                "1 \"running\" update, then \"passed\" 2000 ms after the request: \"3 passed\" (2 outcomes)",
            ),
            (
                "failed is a final status too",
                facts(vec![got(2, Some(Failed), None, false)]),
                true,
                false,
                Outcome::Passed,
                "status \"failed\"",
            ),
            (
                "an invalid callback fails the step",
                facts(vec![got(1, None, Some("status \"done\" is not one of"), false), got(2, Some(Passed), None, false)]),
                true,
                false,
                Outcome::Failed,
                "status \"done\"",
            ),
            ("never called back", facts(vec![]), true, true, Outcome::Failed, "no final status (passed or failed) within 10 minutes"),
            (
                "called back late",
                facts(vec![got(700, Some(Passed), None, true)]),
                true,
                true,
                Outcome::Failed,
                "a callback arrived 700 s after the request, too late",
            ),
            ("request refused", facts(vec![]), false, true, Outcome::Skipped, "no callback was expected"),
        ];
        for (name, f, ok, expired, outcome, text) in cases {
            let step = judge_callbacks(&f, ok, expired, 600);
            assert_eq!(step.outcome, outcome, "{name}: {step:?}");
            assert!(step.detail.contains(text), "{name}: {:?} should contain {text:?}", step.detail);
        }
    }

    #[test]
    fn steps_add_up_to_a_verdict() {
        let stage = "post_plan".to_string();
        let ok_sent = vec![
            sent(Probe::Verification, Some(200), None),
            sent(Probe::WrongSignature, Some(401), None),
            sent(Probe::Stage(stage.clone()), Some(200), None),
        ];
        let mut f = facts(vec![got(2, Some(ResultStatus::Passed), None, false)]);
        f.plan_fetched_at = Some(t(1));
        let steps = report(&ok_sent, true, std::slice::from_ref(&f), false, 600);
        assert_eq!(steps.len(), 5, "{steps:#?}");
        assert_eq!(verdict(&steps), Some(CheckState::Passed));
        assert_eq!(steps[4].outcome, Outcome::Info);
        assert!(steps[4].detail.contains("fetched the plan JSON") && steps[4].detail.contains("did not fetch the configuration"));
        assert_eq!(summary(&steps), "4 of 4 steps passed");

        // Still waiting: no verdict.
        let waiting = report(&ok_sent, true, &[facts(vec![])], false, 600);
        assert_eq!(verdict(&waiting), None);
        // The limit passes: failed, and the summary names the first failure.
        let late = report(&ok_sent, true, &[facts(vec![])], true, 600);
        assert_eq!(verdict(&late), Some(CheckState::Failed));
        assert_eq!(summary(&late), "3 of 4 steps passed; post-plan callback: no final status (passed or failed) within 10 minutes");
        // Nothing sent yet: pending.
        assert_eq!(verdict(&report(&[], true, &[facts(vec![])], false, 600)), None);
        // No key: signature enforcement is skipped, not failed.
        let no_key = vec![sent(Probe::Verification, Some(200), None), sent(Probe::Stage(stage), Some(200), None)];
        let steps = report(&no_key, false, &[facts(vec![got(1, Some(ResultStatus::Passed), None, false)])], false, 600);
        assert_eq!(steps[1].outcome, Outcome::Skipped);
        assert_eq!(verdict(&steps), Some(CheckState::Passed));
    }

    #[test]
    fn payloads_carry_every_documented_field() {
        let run = Run {
            stage: "post_plan",
            access_token: "tok",
            callback_url: "https://tracker.example/run-task-checks/task-results/taskrs-1/callback",
            task_result_id: "taskrs-1",
            run_id: "run-1",
            created_at: t(0),
            plan_json_api_url: Some("https://tracker.example/p"),
            configuration_version_download_url: Some("https://tracker.example/c"),
            app_url: "https://tracker.example/integrations/1/checks/1",
        };
        let body = payload(&run);
        for field in [
            "payload_version",
            "stage",
            "access_token",
            "capabilities",
            "configuration_version_download_url",
            "configuration_version_id",
            "is_speculative",
            "organization_name",
            "run_app_url",
            "run_created_at",
            "run_created_by",
            "run_id",
            "run_message",
            "task_result_callback_url",
            "task_result_enforcement_level",
            "task_result_id",
            "vcs_branch",
            "vcs_commit_url",
            "vcs_repo_url",
            "vcs_pull_request_url",
            "workspace_app_url",
            "workspace_id",
            "workspace_name",
            "workspace_working_directory",
            "plan_json_api_url",
        ] {
            assert!(body.get(field).is_some(), "{field} missing");
        }
        assert_eq!(body["run_created_at"], "2026-11-23T10:00:00.000Z");
        assert_eq!(body["capabilities"]["outcomes"], true);
        let pre_plan = payload(&Run { stage: "pre_plan", ..run });
        assert!(pre_plan.get("plan_json_api_url").is_none(), "pre-plan has no plan yet");
    }

    #[test]
    fn starting_is_refused_with_a_reason() {
        let s = CheckSettings { per_hour: 3, callback_seconds: 600 };
        let cases: Vec<(bool, i64, bool, usize, Option<&str>)> = vec![
            (false, 0, true, 1, None),
            (false, 2, true, 4, None),
            (true, 0, true, 1, Some("already running")),
            (false, 3, true, 1, Some("at most 3 checks per hour")),
            (false, 0, false, 1, Some("register the endpoint URL")),
            (false, 0, true, 0, Some("at least one supported stage")),
        ];
        for (running, recent, endpoint, stages, want) in cases {
            let got = start_refusal(running, recent, &s, endpoint, stages);
            match want {
                None => assert_eq!(got, None),
                Some(w) => assert!(got.as_deref().is_some_and(|g| g.contains(w)), "{got:?} should contain {w:?}"),
            }
        }
    }

    #[test]
    fn identifiers_and_labels() {
        let id = tfc_id("taskrs", &[0, 1, 2, 200]);
        assert!(id.starts_with("taskrs-") && id.len() == 11, "{id}");
        assert_eq!(duration_label(600), "10 minutes");
        assert_eq!(duration_label(2), "2 seconds");
        assert_eq!(CheckState::parse("awaiting"), Some(CheckState::Awaiting));
        assert!(!CheckState::Passed.is_running());
    }
}
