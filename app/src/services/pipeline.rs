//! The stage pipeline of an integration: its checklist, reporting and
//! reviewing tasks, reopening a stage. The rules are `domain::task`; this
//! module reads the checklist, asks the rules, and records what they allow.

use crate::domain::access::{Action, Caller};
use crate::domain::audit::{Entry, FieldChange, TargetKind};
use crate::domain::catalog::Stage;
use crate::domain::evidence::{check_size, clean_name, content_type, size_label, EvidenceFile};
use crate::domain::integration::Integration;
use crate::domain::task::{
    stage_statuses, transition, Actor, Given, PartnerWork, Pipeline, QueueItem, StageStatus, StageView, TaskAction, TaskEvent, TaskFacts,
    TaskInput, TaskState, TaskView,
};
use crate::domain::template::{check_report, grants_badge, repository_matches_type, tier_on_completing, Fact};
use crate::domain::FieldErrors;
use crate::domain::{paging, Page};
use crate::error::AppError;
use crate::services::markdown;
use crate::store::tasks::{self as store, Change, NewFile, NewTask, TaskRow};
use crate::store::{integrations as integration_store, Db};
use chrono::{DateTime, Utc};

/// Gives an integration its track's current checklist template if it has
/// none. Tasks of stages before the integration's recorded stage start
/// accepted (it was past them before checklists existed), so nothing moves
/// backwards.
pub async fn ensure_checklist(db: &Db, integration: &Integration, now: DateTime<Utc>) -> Result<(), AppError> {
    let (kind, stage) = (integration.kind, integration.stage);
    let template = crate::services::templates::current(db, kind).await?;
    let track = kind.track();
    let reached = track.iter().position(|s| *s == stage).unwrap_or(0);
    let tasks: Vec<NewTask> = template
        .tasks
        .iter()
        .map(|t| {
            let before = track.iter().position(|s| *s == t.stage).unwrap_or(0) < reached;
            NewTask {
                key: &t.key,
                stage: t.stage,
                title: &t.title,
                help: &t.help,
                required: t.required,
                fact: t.fact.as_deref(),
                state: if before { TaskState::Accepted } else { TaskState::Open },
            }
        })
        .collect();
    let audit = Entry::system("integration.checklist", TargetKind::Integration, Some(integration.id), &integration.name)
        .partner(integration.partner_id)
        .integration(integration.id)
        .summary(format!(
            "Checklist created from the {} template, version {} ({} tasks)",
            kind.label().to_lowercase(),
            template.version,
            tasks.len()
        ));
    store::create_checklist(db, integration.id, &tasks, template.version, now, &audit).await?;
    Ok(())
}

/// (required, state) per stage of the track, in order.
pub(crate) fn by_stage(track: &[Stage], rows: &[(TaskRow, Stage, TaskState)]) -> Vec<Vec<(bool, TaskState)>> {
    track.iter().map(|s| rows.iter().filter(|(_, st, _)| st == s).map(|(r, _, state)| (r.required, *state)).collect()).collect()
}

pub(crate) fn current_stage(track: &[Stage], statuses: &[StageStatus]) -> Stage {
    let i = statuses.iter().position(|s| *s == StageStatus::Open).unwrap_or(track.len() - 1);
    track[i]
}

/// The actions a caller could take on a task now (for the page's buttons).
fn allowed(caller: &Caller, facts: TaskFacts, may_edit: bool, may_review: bool) -> Vec<TaskAction> {
    let full = Given { evidence: true, comment: true };
    [TaskAction::Report, TaskAction::Accept, TaskAction::RequestChanges, TaskAction::Waive]
        .into_iter()
        .filter(|a| match a {
            TaskAction::Report => may_edit,
            _ => may_review,
        })
        .filter(|a| transition(Actor::Person(caller.role), *a, facts, full).is_ok())
        .collect()
}

struct Loaded {
    integration: Integration,
    rows: Vec<(TaskRow, Stage, TaskState)>,
    statuses: Vec<StageStatus>,
}

async fn load(db: &Db, caller: &Caller, integration_id: i64) -> Result<Loaded, AppError> {
    let integration = crate::services::integrations::get(db, caller, integration_id).await?;
    let mut stored = store::for_integration(db, integration.id).await?;
    if stored.is_empty() {
        // Integrations from before checklists existed get theirs on first view.
        ensure_checklist(db, &integration, Utc::now()).await?;
        stored = store::for_integration(db, integration.id).await?;
    }
    let rows = stored
        .into_iter()
        .map(|r| Ok::<_, sqlx::Error>((r.stage()?, r.state()?, r)))
        .map(|x| x.map(|(st, state, r)| (r, st, state)))
        .collect::<Result<Vec<_>, _>>()?;
    let track = integration.kind.track();
    let statuses = stage_statuses(&by_stage(track, &rows));
    Ok(Loaded { integration, rows, statuses })
}

/// An integration's pipeline as the caller may see it.
pub async fn get(db: &Db, caller: &Caller, integration_id: i64) -> Result<Pipeline, AppError> {
    let Loaded { integration, rows, statuses } = load(db, caller, integration_id).await?;
    let track = integration.kind.track();
    let partner = integration.partner_id;
    let may_edit = caller.may(Action::EditIntegration { partner });
    let may_review = caller.may(Action::Review { partner });
    let events = store::events_for(db, integration.id).await?;
    let stages = track
        .iter()
        .zip(&statuses)
        .map(|(stage, status)| StageView {
            stage: *stage,
            status: *status,
            reopenable: may_review && *status == StageStatus::Complete,
            tasks: rows
                .iter()
                .filter(|(_, s, _)| s == stage)
                .map(|(r, _, state)| {
                    let facts = TaskFacts { state: *state, required: r.required, stage_open: *status == StageStatus::Open };
                    let mine: Vec<_> = events.iter().filter(|(id, _)| *id == r.id).map(|(_, e)| rendered(e.clone())).collect();
                    TaskView {
                        id: r.id,
                        key: r.key.clone(),
                        stage: *stage,
                        title: r.title.clone(),
                        help: r.help.clone(),
                        required: r.required,
                        automatic: r.fact.is_some(),
                        state: *state,
                        updated_at: r.updated_at,
                        events: mine,
                        allowed: allowed(caller, facts, may_edit, may_review),
                    }
                })
                .collect(),
        })
        .collect();
    Ok(Pipeline { integration_id: integration.id, current: current_stage(track, &statuses), stages })
}

fn refused(e: crate::domain::task::Refused) -> AppError {
    use crate::domain::task::Refused;
    match e {
        Refused::Role(_) => AppError::Forbidden,
        Refused::Missing(m) => {
            let field = if m.starts_with("add evidence") { "evidence_url" } else { "comment" };
            let mut fields = FieldErrors::new();
            fields.insert(field.into(), vec![m.to_string()]);
            AppError::Validation { message: m.to_string(), fields }
        }
        other => AppError::Conflict { message: other.to_string(), fields: FieldErrors::new() },
    }
}

fn changed_meanwhile() -> AppError {
    AppError::Conflict { message: "someone changed this task meanwhile; reload to see its state".into(), fields: FieldErrors::new() }
}

/// Refuses, before an upload is read, a caller who may not report on the
/// task at all (another partner's member, a viewer): otherwise anyone signed
/// in could make the server hold a file of the evidence limit per request.
/// `act_with_file` checks again, with the form.
pub async fn may_report(db: &Db, caller: &Caller, task_id: i64) -> Result<(), AppError> {
    let missing = || format!("task {task_id}");
    let task = store::get(db, task_id).await?.ok_or_else(|| AppError::NotFound(missing()))?;
    let integration = crate::services::integrations::get(db, caller, task.integration_id).await.map_err(|e| match e {
        AppError::NotFound(_) => AppError::NotFound(missing()),
        other => other,
    })?;
    caller.check(Action::EditIntegration { partner: integration.partner_id }, missing)
}

/// Reports, accepts, requests changes on or waives one task.
pub async fn act(db: &Db, caller: &Caller, task_id: i64, input: &TaskInput, now: DateTime<Utc>) -> Result<Pipeline, AppError> {
    act_with_file(db, caller, task_id, input, None, now).await
}

/// A file sent with a report: its name as sent, and its bytes.
pub struct Upload {
    pub name: String,
    pub bytes: Vec<u8>,
    pub blobs: crate::store::blobs::Blobs,
}

fn file_error(message: String) -> AppError {
    let mut fields = FieldErrors::new();
    fields.insert("file".into(), vec![message.clone()]);
    AppError::Validation { message, fields }
}

/// [`act`], with an evidence file for a report. The file is checked, and
/// written to disk only once the report is known to be allowed; its row
/// goes in with the report's event, and the bytes go again if that fails.
pub async fn act_with_file(
    db: &Db,
    caller: &Caller,
    task_id: i64,
    input: &TaskInput,
    upload: Option<Upload>,
    now: DateTime<Utc>,
) -> Result<Pipeline, AppError> {
    let missing = || format!("task {task_id}");
    let task = store::get(db, task_id).await?.ok_or_else(|| AppError::NotFound(missing()))?;
    let Loaded { integration, rows, statuses } = load(db, caller, task.integration_id).await.map_err(|e| match e {
        AppError::NotFound(_) => AppError::NotFound(missing()),
        other => other,
    })?;
    let partner = integration.partner_id;
    let valid = input.validate().map_err(AppError::invalid)?;
    // Partner members act on their own partner only; reviewing needs a staff role.
    match valid.action {
        TaskAction::Report => caller.check(Action::EditIntegration { partner }, missing)?,
        _ => caller.check(Action::Review { partner }, missing)?,
    }
    let track = integration.kind.track();
    let (row, stage, state) = rows.iter().find(|(r, _, _)| r.id == task_id).ok_or(AppError::Internal)?;
    let stage_open = statuses[track.iter().position(|s| s == stage).unwrap_or(0)] == StageStatus::Open;
    let given =
        Given { evidence: valid.evidence_url.is_some() || valid.note.is_some() || upload.is_some(), comment: valid.comment.is_some() };
    let facts = TaskFacts { state: *state, required: row.required, stage_open };
    let to = transition(Actor::Person(caller.role), valid.action, facts, given).map_err(refused)?;
    if valid.action == TaskAction::Report {
        check_report(&row.key, valid.note.as_deref()).map_err(|m| {
            let mut fields = FieldErrors::new();
            fields.insert("note".into(), vec![m.clone()]);
            AppError::Validation { message: m, fields }
        })?;
    }
    let file = match &upload {
        None => None,
        Some(_) if valid.action != TaskAction::Report => return Err(file_error("files go with reports".into())),
        Some(u) => {
            let name = clean_name(&u.name).map_err(file_error)?;
            check_size(u.bytes.len() as u64, u.blobs.max_bytes).map_err(file_error)?;
            let sha256 = crate::services::secret::hash_bytes(&u.bytes);
            let key = u.blobs.put(&u.bytes).await.map_err(|e| {
                tracing::error!(error = %e, "could not store an evidence file");
                AppError::Internal
            })?;
            let content_type = content_type(&name).to_string();
            Some((name, content_type, u.bytes.len() as i64, sha256, key))
        }
    };
    // Where the pipeline stands afterwards.
    let after: Vec<_> = rows.iter().map(|(r, s, st)| (r.clone(), *s, if r.id == task_id { to } else { *st })).collect();
    let after_statuses = stage_statuses(&by_stage(track, &after));
    let current = current_stage(track, &after_statuses);
    // The stage this action completes, if any: it may change the tier or grant the badge.
    let completed = track
        .iter()
        .zip(statuses.iter().zip(&after_statuses))
        .find(|(_, (before, after))| **before != StageStatus::Complete && **after == StageStatus::Complete)
        .map(|(stage, _)| *stage);
    let change = Change {
        task_id,
        from: *state,
        to,
        action: valid.action,
        actor_id: Some(caller.user_id),
        actor_name: &caller.name,
        evidence_url: valid.evidence_url.as_deref(),
        note: valid.note.as_deref(),
        comment: valid.comment.as_deref(),
        file: file.as_ref().map(|(name, content_type, size, sha256, key)| NewFile {
            name,
            content_type,
            size: *size,
            sha256,
            storage_key: key,
        }),
    };
    let mut changed = vec![FieldChange { field: "state".into(), before: Some(state.key().into()), after: Some(to.key().into()) }];
    for (field, value) in [("evidence_url", &valid.evidence_url), ("note", &valid.note), ("comment", &valid.comment)] {
        if let Some(v) = value {
            changed.push(FieldChange { field: field.into(), before: None, after: Some(v.clone()) });
        }
    }
    if let Some((name, _, size, sha256, _)) = &file {
        changed.push(FieldChange {
            field: "file".into(),
            before: None,
            after: Some(format!("{name} ({}, sha256 {sha256})", size_label(*size))),
        });
    }
    let mut audit = vec![Entry::by(caller, &format!("task.{}", valid.action.key()), TargetKind::Task, Some(task_id), &row.title)
        .partner(partner)
        .integration(integration.id)
        .summary(format!("{}: \"{}\" ({}) is now {}", valid.action.label(), row.title, stage.label(), to.label().to_lowercase()))
        .changes(changed)];
    audit.extend(stage_moved(Some(caller), &integration, current));
    let tier = completed.and_then(|stage| tier_on_completing(stage, integration.tier));
    let badge = completed.is_some_and(grants_badge) && integration.badge_granted_at.is_none();
    if badge {
        audit.push(
            Entry::by(caller, "integration.badge", TargetKind::Integration, Some(integration.id), &integration.name)
                .partner(partner)
                .integration(integration.id)
                .summary(format!("{} was granted the Terraform Cloud badge (Release complete)", integration.name))
                .changes(vec![FieldChange { field: "badge".into(), before: None, after: Some("granted".into()) }]),
        );
    }
    if let Some(tier) = tier {
        audit.push(
            Entry::by(caller, "integration.tier", TargetKind::Integration, Some(integration.id), &integration.name)
                .partner(partner)
                .integration(integration.id)
                .summary(format!("{} became {} (Verify complete)", integration.name, tier.label().to_lowercase()))
                .changes(vec![FieldChange {
                    field: "tier".into(),
                    before: Some(integration.tier.key().into()),
                    after: Some(tier.key().into()),
                }]),
        );
    }
    // Who hears of it: the alliance manager of a report, the partner of a decision.
    let (partner_name, integration_name) = (&integration.partner_name, &integration.name);
    let alerts: Vec<_> = match valid.action {
        TaskAction::Report => {
            vec![crate::services::alerts::review_waiting(partner, partner_name, integration.id, integration_name, task_id, &row.title, now)]
        }
        TaskAction::Accept | TaskAction::RequestChanges | TaskAction::Waive => vec![crate::services::alerts::review_decision(
            partner,
            partner_name,
            integration.id,
            integration_name,
            task_id,
            &row.title,
            &to.label().to_lowercase(),
            valid.comment.as_deref(),
            now,
        )],
        _ => Vec::new(),
    };
    let applied = store::apply(db, integration.id, &[change], store::Standing { stage: current, tier, badge }, now, &audit, &alerts).await;
    if !matches!(applied, Ok(true)) {
        if let (Some((_, _, _, _, key)), Some(u)) = (&file, &upload) {
            u.blobs.remove(key).await;
        }
    }
    if !applied? {
        return Err(changed_meanwhile());
    }
    tracing::info!(task = task_id, action = valid.action.key(), by = caller.email, "task {}", to.key());
    get(db, caller, integration.id).await
}

/// The record of the integration's current stage moving, if it does.
pub(crate) fn stage_moved(caller: Option<&Caller>, integration: &Integration, current: Stage) -> Option<Entry> {
    (integration.stage != current).then(|| {
        let track = integration.kind.track();
        let forward = track.iter().position(|s| *s == current) > track.iter().position(|s| *s == integration.stage);
        let summary = if forward {
            format!("{} completed {} and moved to {}", integration.name, integration.stage.label(), current.label())
        } else {
            format!("{} moved back to {}", integration.name, current.label())
        };
        let (action, label) = (if forward { "stage.advance" } else { "stage.back" }, format!("{} · {}", integration.name, current.label()));
        match caller {
            Some(caller) => Entry::by(caller, action, TargetKind::Stage, Some(integration.id), &label),
            None => Entry::system(action, TargetKind::Stage, Some(integration.id), &label),
        }
        .partner(integration.partner_id)
        .integration(integration.id)
        .summary(summary)
        .changes(vec![FieldChange {
            field: "stage".into(),
            before: Some(integration.stage.key().into()),
            after: Some(current.key().into()),
        }])
    })
}

/// Reopens a completed stage: its accepted tasks go back for changes, with
/// the reason as the comment, and later stages wait again.
pub async fn reopen(
    db: &Db,
    caller: &Caller,
    integration_id: i64,
    stage: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<Pipeline, AppError> {
    let Loaded { integration, rows, statuses } = load(db, caller, integration_id).await?;
    caller.check(Action::Review { partner: integration.partner_id }, || format!("integration {integration_id}"))?;
    let track = integration.kind.track();
    let Some(index) = Stage::parse(stage.trim()).and_then(|s| track.iter().position(|t| *t == s)) else {
        let mut fields = FieldErrors::new();
        fields.insert("stage".into(), vec![format!("not a stage of this integration's track")]);
        return Err(AppError::invalid(fields));
    };
    let stage = track[index];
    let reason = reason.trim();
    let given = Given { evidence: false, comment: !reason.is_empty() };
    let stage_open = statuses[index] != StageStatus::Complete;
    let mut changes = Vec::new();
    let mut after = Vec::new();
    for (r, s, st) in &rows {
        let mut new_state = *st;
        if *s == stage {
            let facts = TaskFacts { state: *st, required: r.required, stage_open };
            new_state = transition(Actor::Person(caller.role), TaskAction::Reopen, facts, given).map_err(refused)?;
            if new_state != *st {
                changes.push(Change {
                    task_id: r.id,
                    from: *st,
                    to: new_state,
                    action: TaskAction::Reopen,
                    actor_id: Some(caller.user_id),
                    actor_name: &caller.name,
                    evidence_url: None,
                    note: None,
                    comment: Some(reason),
                    file: None,
                });
            }
        }
        after.push((r.clone(), *s, new_state));
    }
    if changes.is_empty() {
        return Err(AppError::Conflict { message: "this stage has no accepted task to reopen".into(), fields: FieldErrors::new() });
    }
    let current = current_stage(track, &stage_statuses(&by_stage(track, &after)));
    let reopened = changes
        .iter()
        .filter_map(|c| {
            let title = rows.iter().find(|(r, _, _)| r.id == c.task_id).map(|(r, _, _)| r.title.clone())?;
            Some(FieldChange { field: title, before: Some(c.from.key().into()), after: Some(c.to.key().into()) })
        })
        .chain(std::iter::once(FieldChange { field: "reason".into(), before: None, after: Some(reason.to_string()) }))
        .collect();
    let mut audit = vec![Entry::by(
        caller,
        "stage.reopen",
        TargetKind::Stage,
        Some(integration.id),
        &format!("{} · {}", integration.name, stage.label()),
    )
    .partner(integration.partner_id)
    .integration(integration.id)
    .summary(format!("Reopened stage {} of {}: {reason}", stage.label(), integration.name))
    .changes(reopened)];
    audit.extend(stage_moved(Some(caller), &integration, current));
    if !store::apply(db, integration.id, &changes, store::Standing { stage: current, tier: None, badge: false }, now, &audit, &[]).await? {
        return Err(changed_meanwhile());
    }
    tracing::info!(integration = integration.id, stage = stage.key(), by = caller.email, "stage reopened");
    get(db, caller, integration.id).await
}

/// Used when an integration is created: its checklist starts at once.
pub async fn start(db: &Db, integration_id: i64, now: DateTime<Utc>) -> Result<(), AppError> {
    if let Some(i) = integration_store::get(db, integration_id).await? {
        ensure_checklist(db, &i, now).await?;
    }
    Ok(())
}

fn queue_item(r: store::QueueRow, now: DateTime<Utc>) -> Result<QueueItem, AppError> {
    let stage = Stage::parse(&r.stage).ok_or_else(|| crate::store::decode_error("stage", &r.stage))?;
    let state = TaskState::parse(&r.state).ok_or_else(|| crate::store::decode_error("task state", &r.state))?;
    Ok(QueueItem {
        task_id: r.task_id,
        title: r.title,
        stage,
        state,
        since: r.since,
        waiting_days: (now - r.since).num_days().max(0),
        integration_id: r.integration_id,
        integration_name: r.integration_name,
        partner_slug: r.partner_slug,
        partner_name: r.partner_name,
        last_actor: r.last_actor,
        evidence_url: r.evidence_url,
        note_html: r.note.as_deref().map(markdown::render),
        comment_html: r.comment.as_deref().map(markdown::render),
        note: r.note,
        comment: r.comment,
    })
}

/// An event with its note and comment rendered for display.
fn rendered(e: TaskEvent) -> TaskEvent {
    TaskEvent { note_html: e.note.as_deref().map(markdown::render), comment_html: e.comment.as_deref().map(markdown::render), ..e }
}

/// Reported tasks waiting for a reviewer, oldest first; `mine`: only
/// partners whose alliance manager is the caller. Staff only.
pub async fn review_queue(
    db: &Db,
    caller: &Caller,
    mine: bool,
    page: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Page<QueueItem>, AppError> {
    if !caller.role.is_staff() {
        return Err(AppError::Forbidden);
    }
    let (page, per_page) = paging(page, None);
    let filter = store::QueueFilter {
        states: vec![TaskState::Reported],
        partner_id: 0,
        manager_email: if mine { caller.email.to_lowercase() } else { String::new() },
        current_stage_only: false,
        page,
        per_page,
    };
    let (rows, total) = store::queue(db, &filter).await?;
    let items = rows.into_iter().map(|r| queue_item(r, now)).collect::<Result<_, _>>()?;
    Ok(Page { items, total, page, per_page })
}

/// A partner member's open work: what they must do in their integrations'
/// current stages, and what waits for a reviewer. `None` for staff.
pub async fn partner_work(db: &Db, caller: &Caller, now: DateTime<Utc>) -> Result<Option<PartnerWork>, AppError> {
    let Some(partner_id) = caller.partner_scope() else {
        return Ok(None);
    };
    // A long list is a symptom; the integration pages hold the rest.
    const SHOWN: i64 = 50;
    let mut lists = Vec::new();
    for (states, current_stage_only) in [(vec![TaskState::ChangesRequested, TaskState::Open], true), (vec![TaskState::Reported], false)] {
        let filter = store::QueueFilter { states, partner_id, manager_email: String::new(), current_stage_only, page: 1, per_page: SHOWN };
        let (rows, _) = store::queue(db, &filter).await?;
        lists.push(rows.into_iter().map(|r| queue_item(r, now)).collect::<Result<Vec<_>, _>>()?);
    }
    let waiting_on_review = lists.pop().unwrap_or_default();
    let waiting_on_you = lists.pop().unwrap_or_default();
    Ok(Some(PartnerWork { waiting_on_you, waiting_on_review }))
}

/// The facts this build can observe without asking anyone outside: the
/// registry namespace and the alliance manager. (The licence and whether
/// the repository is public come from the GitHub sync, published versions
/// from the registry poller.)
fn observed_facts(
    integration: &Integration,
    partner: &crate::domain::partner::Partner,
    registration: Option<&crate::domain::run_task::Registration>,
    published: Option<&(String, DateTime<Utc>)>,
    licence: Option<&(String, String)>,
    public_repository: bool,
    manager: Option<&str>,
) -> Vec<(Fact, String)> {
    let mut facts = Vec::new();
    if let Some((repository, spdx)) = licence {
        if crate::domain::github::licence_verdict(Some(spdx)) == crate::domain::github::LicenceVerdict::Approved {
            facts.push((Fact::LicenceApproved, format!("GitHub reports the licence of {repository} as {spdx}, an approved licence")));
        }
    }
    if let Some(r) = registration {
        if let Some(url) = &r.endpoint_url {
            facts.push((Fact::EndpointRegistered, format!("endpoint {url} registered")));
        }
        if let Some(f) = &r.hmac_fingerprint {
            facts.push((Fact::HmacRegistered, format!("HMAC key registered (fingerprint {f})")));
        }
        if !r.stages.is_empty() {
            facts.push((Fact::StagesChosen, format!("supports {}", r.stages.join(", ").replace('_', "-"))));
        }
    }
    let address = integration.source_address.as_deref().and_then(|a| crate::domain::source_address::SourceAddress::parse(a).ok());
    // Prepare asks for a *public* repository so named: the name alone does
    // not say so; GitHub's answer to the sync does.
    if let (Some(url), Some(address), true) = (&integration.repository_url, &address, public_repository) {
        if repository_matches_type(url, address.type_name()).is_ok() {
            facts.push((Fact::RepositoryNamed, format!("{url} is public on GitHub and named terraform-provider-{}", address.type_name())));
        }
    }
    if let (Some(ns), Some(address)) = (&partner.registry_namespace, &address) {
        if ns.eq_ignore_ascii_case(address.namespace()) {
            facts.push((Fact::OwnNamespace, format!("published as {address}, under the partner's namespace {ns}")));
        }
    }
    if let (Some((version, seen)), Some(address)) = (published, &address) {
        let page = address.registry_page_url().map(|u| format!(" ({u})")).unwrap_or_default();
        facts.push((
            Fact::VersionPublished,
            format!("version {version} is on {}{page}, first seen {}", address.host_display(), seen.format("%Y-%m-%d %H:%M UTC")),
        ));
    }
    if let Some(m) = manager {
        facts.push((Fact::ManagerAssigned, format!("{} has {m} as alliance manager", partner.name)));
    }
    facts
}

/// The partner's alliance manager as "Name <email>", when the email is a
/// reviewer's (or admin's) account: a manager who cannot be reached is not
/// one (program.md: the alliance manager is a reviewer).
async fn alliance_manager(db: &Db, partner: &crate::domain::partner::Partner) -> Result<Option<String>, AppError> {
    let Some(email) = partner.alliance_manager_email.as_deref() else { return Ok(None) };
    let (_, problem) = crate::services::partners::manager_account(db, email).await?;
    Ok(problem.is_none().then(|| format!("{} <{email}>", partner.alliance_manager_name.as_deref().unwrap_or(email))))
}

/// Completes the integration's automatic tasks whose facts now hold, as the
/// system, with the fact as the note. Called after the integration or its
/// partner changed; does nothing when nothing new holds.
pub async fn observe(db: &Db, integration_id: i64, now: DateTime<Utc>) -> Result<(), AppError> {
    let Some(integration) = integration_store::get(db, integration_id).await? else { return Ok(()) };
    let Some(partner) = crate::store::partners::get_by_slug(db, &integration.partner_slug).await? else { return Ok(()) };
    let registration = crate::store::run_tasks::registration(db, integration.id).await?;
    let host = integration.source_address.as_deref().and_then(|a| a.split('/').next()).unwrap_or_default();
    let published = crate::store::registry::latest_published(db, integration.id, host).await?;
    // The sync's answers hold for the repository it asked about: right after
    // the URL changes, the row still names the old one until the next sync.
    let current = integration.repository_url.as_deref().and_then(crate::domain::github::repo_from_url);
    let sync = crate::store::support::sync_row(db, integration.id).await?.filter(|r| {
        current.as_ref().is_some_and(|(owner, repo)| owner.eq_ignore_ascii_case(&r.owner) && repo.eq_ignore_ascii_case(&r.repo))
    });
    let public_repository = sync.as_ref().is_some_and(|r| r.repo_private == Some(false));
    let licence = sync.and_then(|r| r.licence.map(|l| (format!("{}/{}", r.owner, r.repo), l)));
    let manager = alliance_manager(db, &partner).await?;
    let facts = observed_facts(
        &integration,
        &partner,
        registration.as_ref(),
        published.as_ref(),
        licence.as_ref(),
        public_repository,
        manager.as_deref(),
    );
    if facts.is_empty() {
        return Ok(());
    }
    ensure_checklist(db, &integration, now).await?;
    let rows = store::for_integration(db, integration.id).await?;
    let rows = rows.into_iter().map(|r| Ok::<_, sqlx::Error>((r.stage()?, r.state()?, r))).collect::<Result<Vec<_>, _>>()?;
    let rows: Vec<(TaskRow, Stage, TaskState)> = rows.into_iter().map(|(st, state, r)| (r, st, state)).collect();
    let track = integration.kind.track();
    let mut changes = Vec::new();
    let mut audit = Vec::new();
    let mut after = Vec::new();
    for (r, stage, state) in &rows {
        let fact = facts.iter().find(|(f, _)| r.fact.as_deref() == Some(f.key()));
        let mut new_state = *state;
        if let Some((_, note)) = fact {
            let facts_now = TaskFacts { state: *state, required: r.required, stage_open: true };
            if let Ok(to) = transition(Actor::System, TaskAction::Observe, facts_now, Given::default()) {
                if to != *state {
                    new_state = to;
                    changes.push(Change {
                        task_id: r.id,
                        from: *state,
                        to,
                        action: TaskAction::Observe,
                        actor_id: None,
                        actor_name: "Integration Tracker",
                        evidence_url: None,
                        note: Some(note.as_str()),
                        comment: None,
                        file: None,
                    });
                    audit.push(
                        Entry::system("task.observe", TargetKind::Task, Some(r.id), &r.title)
                            .partner(integration.partner_id)
                            .integration(integration.id)
                            .summary(format!("Completed automatically: \"{}\" ({}): {note}", r.title, stage.label()))
                            .changes(vec![FieldChange {
                                field: "state".into(),
                                before: Some(state.key().into()),
                                after: Some(to.key().into()),
                            }]),
                    );
                }
            }
        }
        after.push((r.clone(), *stage, new_state));
    }
    if changes.is_empty() {
        return Ok(());
    }
    let current = current_stage(track, &stage_statuses(&by_stage(track, &after)));
    audit.extend(stage_moved(None, &integration, current));
    // A conflict means someone acted meanwhile; the next change observes again.
    if !store::apply(db, integration.id, &changes, store::Standing { stage: current, tier: None, badge: false }, now, &audit, &[]).await? {
        tracing::info!(integration = integration.id, "facts not recorded: the checklist changed meanwhile");
    }
    Ok(())
}

/// An evidence file and its key on disk, for someone who may see its
/// integration (others get "not found").
pub async fn evidence_file(db: &Db, caller: &Caller, id: i64) -> Result<(EvidenceFile, String), AppError> {
    let missing = || AppError::NotFound(format!("file {id}"));
    let (file, key, integration_id) = store::evidence_file(db, id).await?.ok_or_else(missing)?;
    crate::services::integrations::get(db, caller, integration_id).await.map_err(|e| match e {
        AppError::NotFound(_) => missing(),
        other => other,
    })?;
    Ok((file, key))
}
