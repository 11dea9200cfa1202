//! Run-task conformance checks: start one (partner members on their own
//! integrations, reviewers on any), read the report, take the endpoint's
//! callbacks and document fetches, settle the verdict, attach a passing
//! report to the Develop & Test evidence task. The requests themselves are
//! sent by the server's runner (`server/src/jobs/run_task_check.rs`).

use crate::domain::access::{Action, Caller};
use crate::domain::audit::{Entry, TargetKind};
use crate::domain::catalog::IntegrationKind;
use crate::domain::conformance::{self as rules, CheckList, CheckSettings, CheckState, CheckView, Received};
use crate::domain::task::TaskInput;
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::store::run_task_checks::{self as store, CheckRow, Document};
use crate::store::Db;
use chrono::{DateTime, Duration, Utc};

use crate::domain::conformance::CHECKS_PER_PAGE as PAGE_SIZE;

fn missing(id: i64) -> impl FnOnce() -> String {
    move || format!("check {id}")
}

/// Builds the report from what is stored.
async fn view(db: &Db, row: CheckRow, settings: &CheckSettings, now: DateTime<Utc>) -> Result<CheckView, AppError> {
    let stages = row.stage_list();
    let facts = store::stage_facts(db, row.id, &stages).await?;
    let state = row.state();
    let expired = !state.is_running() || row.deadline_at.is_some_and(|d| d <= now);
    let sent = row.sent();
    let mut steps = rules::report(&sent, row.has_key, &facts, expired, settings.callback_seconds);
    if !state.is_running() && rules::verdict(&steps).is_none() {
        // Finished before everything was sent (the runner was interrupted):
        // what never happened is not waiting any more.
        for s in steps.iter_mut().filter(|s| matches!(s.outcome, rules::Outcome::Pending | rules::Outcome::Running)) {
            s.outcome = rules::Outcome::Failed;
            s.detail = "not completed: the check ended first".into();
        }
    }
    Ok(CheckView {
        id: row.id,
        integration_id: row.integration_id,
        integration_name: row.integration_name,
        partner_id: row.partner_id,
        state,
        started_by: row.started_by_name,
        endpoint_url: row.endpoint_url,
        stages,
        created_at: row.created_at,
        started_at: row.started_at,
        finished_at: row.finished_at,
        deadline_at: row.deadline_at,
        summary: row.summary,
        steps,
        evidence_attached_at: row.evidence_attached_at,
        as_of: now,
    })
}

/// A run-task integration the caller may see, or 404; `edit` also asks
/// for the right to act on it (partner members on their own, reviewers).
async fn integration(
    db: &Db,
    caller: &Caller,
    integration_id: i64,
    edit: bool,
) -> Result<crate::domain::integration::Integration, AppError> {
    let integration = super::integrations::get(db, caller, integration_id).await?;
    if edit {
        caller.check(Action::EditIntegration { partner: integration.partner_id }, || format!("integration {integration_id}"))?;
    }
    if integration.kind != IntegrationKind::RunTask {
        return Err(AppError::NotFound(format!("run-task integration {integration_id}")));
    }
    Ok(integration)
}

/// Why the caller may not start a check now (`None`: they may), given the
/// registration (`target`) as stored.
async fn refusal(
    db: &Db,
    caller: &Caller,
    integration_id: i64,
    partner: i64,
    target: Option<&store::Target>,
    settings: &CheckSettings,
    now: DateTime<Utc>,
) -> Result<Option<(u16, String)>, AppError> {
    if !caller.may(Action::EditIntegration { partner }) {
        return Ok(Some((403, "only the partner's members and reviewers start checks".into())));
    }
    let endpoint = target.is_some_and(|t| t.endpoint_url.is_some());
    let stages = target.map(|t| t.stages.split(',').filter(|s| !s.is_empty()).count()).unwrap_or(0);
    let (running, recent) = store::recent(db, integration_id, now - Duration::hours(1)).await?;
    Ok(rules::start_refusal(running, recent, settings, endpoint, stages).map(|reason| {
        let status = if !endpoint || stages == 0 { 422 } else { 429 };
        (status, reason)
    }))
}

/// Queues a check of the integration's registered endpoint.
pub async fn start(
    db: &Db,
    caller: &Caller,
    integration_id: i64,
    settings: &CheckSettings,
    now: DateTime<Utc>,
) -> Result<CheckView, AppError> {
    let integration = integration(db, caller, integration_id, true).await?;
    let target = store::target(db, integration.id).await?;
    if let Some((status, reason)) = refusal(db, caller, integration.id, integration.partner_id, target.as_ref(), settings, now).await? {
        return Err(match status {
            403 => AppError::Forbidden,
            422 => {
                let mut fields = FieldErrors::new();
                fields.insert("registration".into(), vec![reason.clone()]);
                AppError::Validation { message: reason, fields }
            }
            _ => AppError::TooManyRequests(reason),
        });
    }
    let Some(target) = target else { return Err(AppError::Internal) };
    let endpoint = target.endpoint_url.clone().ok_or(AppError::Internal)?;
    let audit = Entry::by(caller, "integration.check_start", TargetKind::Integration, Some(integration.id), &integration.name)
        .partner(integration.partner_id)
        .integration(integration.id)
        .summary(format!("Started a run-task conformance check of {endpoint}"));
    let id = store::queue(
        db,
        integration.id,
        (caller.user_id, &caller.name),
        (&endpoint, &target.stages, target.hmac_key.is_some()),
        now,
        &audit,
    )
    .await?;
    get(db, caller, id, settings, now).await
}

/// One check's report.
pub async fn get(db: &Db, caller: &Caller, check_id: i64, settings: &CheckSettings, now: DateTime<Utc>) -> Result<CheckView, AppError> {
    let row = store::get(db, check_id).await?.ok_or_else(|| AppError::NotFound(missing(check_id)()))?;
    caller.check(Action::Read { partner: row.partner_id }, missing(check_id))?;
    view(db, row, settings, now).await
}

/// An integration's checks, newest first (`page` from 1), and whether a new one may start.
pub async fn list(
    db: &Db,
    caller: &Caller,
    integration_id: i64,
    page: i64,
    settings: &CheckSettings,
    now: DateTime<Utc>,
) -> Result<CheckList, AppError> {
    let integration = integration(db, caller, integration_id, false).await?;
    let rows = store::list(db, integration.id, PAGE_SIZE, (crate::domain::paging(Some(page), None).0 - 1) * PAGE_SIZE).await?;
    let mut checks = Vec::with_capacity(rows.len());
    for row in rows {
        checks.push(view(db, row, settings, now).await?);
    }
    let target = store::target(db, integration.id).await?;
    let reason = refusal(db, caller, integration.id, integration.partner_id, target.as_ref(), settings, now).await?.map(|(_, r)| r);
    Ok(CheckList { checks, may_start: reason.is_none(), reason })
}

/// Writes the verdict of an awaiting check once every stage has its final
/// callback, or once its time limit passed. Called after each callback and
/// by the runner's sweep; safe to call twice (the write is guarded).
pub async fn settle(db: &Db, check_id: i64, settings: &CheckSettings, now: DateTime<Utc>) -> Result<Option<CheckState>, AppError> {
    let Some(row) = store::get(db, check_id).await? else { return Ok(None) };
    if row.state() != CheckState::Awaiting {
        return Ok(None);
    }
    let (integration_id, partner_id, name) = (row.integration_id, row.partner_id, row.integration_name.clone());
    let report = view(db, row, settings, now).await?;
    let Some(verdict) = rules::verdict(&report.steps) else { return Ok(None) };
    let summary = rules::summary(&report.steps);
    let audit = Entry::system("integration.check_finish", TargetKind::Integration, Some(integration_id), &name)
        .partner(partner_id)
        .integration(integration_id)
        .summary(format!("Run-task conformance check #{check_id} {}: {summary}", verdict.as_str()));
    Ok(store::finish(db, check_id, CheckState::Awaiting, verdict, &summary, now, &audit).await?.then_some(verdict))
}

/// Ends a check whose runner stopped mid-sending (its lease ran out): its
/// requests were half sent, so it cannot be judged; a new one can start.
pub async fn abandon(db: &Db, check_id: i64, now: DateTime<Utc>) -> Result<(), AppError> {
    let Some(row) = store::get(db, check_id).await? else { return Ok(()) };
    let audit = Entry::system("integration.check_finish", TargetKind::Integration, Some(row.integration_id), &row.integration_name)
        .partner(row.partner_id)
        .integration(row.integration_id)
        .summary(format!("Run-task conformance check #{check_id} was interrupted (the server stopped while sending)"));
    let summary = "interrupted: the server stopped while sending the requests; start a new check";
    store::finish(db, check_id, CheckState::Sending, CheckState::Failed, summary, now, &audit).await?;
    Ok(())
}

/// What the callback route answers, as Terraform Cloud would.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub detail: String,
}

impl Answer {
    fn new(status: u16, detail: impl Into<String>) -> Self {
        Answer { status, detail: detail.into() }
    }
}

/// A stage's callback: the token must be the one sent with that stage's
/// request, the check still running and its time limit not passed; the
/// body must be what Terraform Cloud accepts. Everything that reaches a
/// known task result is recorded, so the report can say what went wrong.
pub async fn callback(
    db: &Db,
    task_result_id: &str,
    bearer: Option<&str>,
    content_type: Option<&str>,
    body: &[u8],
    settings: &CheckSettings,
    now: DateTime<Utc>,
) -> Result<Answer, AppError> {
    let Some(ticket) = store::ticket(db, task_result_id).await? else {
        return Ok(Answer::new(404, "no such task result"));
    };
    let running = CheckState::parse(&ticket.state).is_some_and(CheckState::is_running);
    let open = running && now <= ticket.expires_at;
    let token_ok = bearer.is_some_and(|b| super::secret::hash(b) == ticket.token_hash);
    let refused =
        |problem: String, late: bool| Received { at: now, status: None, message: None, outcomes: 0, problem: Some(problem), late };
    if !token_ok {
        let problem = match bearer {
            None => "the callback had no \"Authorization: Bearer …\" header; send the access_token from the request".to_string(),
            Some(_) => "the callback's bearer token is not the access_token sent with this stage's request".to_string(),
        };
        if open {
            store::add_callback(db, task_result_id, &refused(problem.clone(), false)).await?;
        }
        return Ok(Answer::new(401, problem));
    }
    if !open {
        // Too late: recorded for the report, refused as Terraform Cloud does once a task result has ended.
        let status = rules::read_callback(content_type, body).ok().map(|c| c.status);
        let late = Received { at: now, status, message: None, outcomes: 0, problem: None, late: true };
        store::add_callback(db, task_result_id, &late).await?;
        return Ok(Answer::new(401, "this task result no longer accepts callbacks: the check has ended or its time limit passed"));
    }
    match rules::read_callback(content_type, body) {
        Err(problem) => {
            store::add_callback(db, task_result_id, &refused(problem.clone(), false)).await?;
            Ok(Answer::new(422, problem))
        }
        Ok(cb) => {
            let received = Received {
                at: now,
                status: Some(cb.status),
                message: cb.message,
                outcomes: cb.outcomes as i64,
                problem: None,
                late: false,
            };
            store::add_callback(db, task_result_id, &received).await?;
            if cb.status.is_final() {
                settle(db, ticket.check_id, settings, now).await?;
            }
            Ok(Answer::new(200, "accepted"))
        }
    }
}

/// A document the request offered (plan JSON, configuration version):
/// served only with that stage's token while the check runs; recorded.
pub async fn document(
    db: &Db,
    task_result_id: &str,
    bearer: Option<&str>,
    which: Document,
    now: DateTime<Utc>,
) -> Result<Answer, AppError> {
    let Some(ticket) = store::ticket(db, task_result_id).await? else {
        return Ok(Answer::new(404, "no such task result"));
    };
    if which == Document::Plan && !rules::offers_plan(&ticket.stage) {
        return Ok(Answer::new(404, "this stage has no plan yet"));
    }
    let token_ok = bearer.is_some_and(|b| super::secret::hash(b) == ticket.token_hash);
    let running = CheckState::parse(&ticket.state).is_some_and(CheckState::is_running);
    if !token_ok || !running || now > ticket.expires_at {
        return Ok(Answer::new(401, "send the access_token of this stage's request as a bearer token, while the check runs"));
    }
    store::fetched(db, task_result_id, which, now).await?;
    Ok(Answer::new(200, "ok"))
}

/// Attaches a passing check's report to the Develop & Test evidence task,
/// as a report with a link to it: the task then waits for a reviewer.
pub async fn attach(
    db: &Db,
    caller: &Caller,
    check_id: i64,
    base_url: &str,
    settings: &CheckSettings,
    now: DateTime<Utc>,
) -> Result<CheckView, AppError> {
    let check = get(db, caller, check_id, settings, now).await?;
    caller.check(Action::EditIntegration { partner: check.partner_id }, missing(check_id))?;
    let refuse = |m: &str| {
        let mut fields = FieldErrors::new();
        fields.insert("check".into(), vec![m.to_string()]);
        AppError::Validation { message: m.to_string(), fields }
    };
    if check.state != CheckState::Passed {
        return Err(refuse("only a passing check can be attached as evidence"));
    }
    if check.evidence_attached_at.is_some() {
        return Err(refuse("this check is already attached as evidence"));
    }
    let tasks = crate::store::tasks::for_integration(db, check.integration_id).await?;
    let task = tasks
        .iter()
        .find(|t| t.key == "develop.evidence")
        .ok_or_else(|| refuse("this integration's checklist has no test-evidence task"))?;
    let finished = check.finished_at.unwrap_or(now).format("%Y-%m-%d %H:%M UTC");
    let input = TaskInput {
        action: "report".into(),
        evidence_url: format!("{}/integrations/{}/checks/{}", base_url.trim_end_matches('/'), check.integration_id, check.id),
        note: format!(
            "Run-task conformance check #{} passed on {finished} against {} (stages: {}). {}",
            check.id,
            check.endpoint_url,
            check.stages.iter().map(|s| rules::stage_label(s)).collect::<Vec<_>>().join(", "),
            check.summary.clone().unwrap_or_default()
        ),
        comment: String::new(),
    };
    super::pipeline::act(db, caller, task.id, &input, now).await?;
    store::mark_attached(db, check.id, now).await?;
    get(db, caller, check_id, settings, now).await
}
