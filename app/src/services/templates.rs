//! Checklist templates: admins revise a track's template (a new version
//! each time) and bring chosen integrations up to it. The rules are
//! `domain::revision`; this module loads, checks access, and records.

use crate::domain::access::{Action, Caller};
use crate::domain::audit::{Entry, FieldChange, TargetKind};
use crate::domain::catalog::IntegrationKind;
use crate::domain::revision::{builtin, plan_upgrade, revise, Follower, HeldTask, TaskRowInput, Template};
use crate::domain::task::{stage_statuses, TaskState};
use crate::domain::FieldErrors;
use crate::error::AppError;
use crate::services::pipeline::{by_stage, current_stage, stage_moved};
use crate::store::templates as store;
use crate::store::{integrations as integration_store, is_unique_violation, tasks as task_store, Db};
use chrono::{DateTime, Utc};

/// The template new integrations of this kind get.
pub async fn current(db: &Db, kind: IntegrationKind) -> Result<Template, AppError> {
    Ok(store::latest(db, kind).await?.unwrap_or_else(|| builtin(kind)))
}

fn kind_of(kind: &str) -> Result<IntegrationKind, AppError> {
    IntegrationKind::parse(kind.trim()).ok_or_else(|| {
        let mut fields = FieldErrors::new();
        fields.insert("kind".into(), vec!["expected provider or run_task".into()]);
        AppError::invalid(fields)
    })
}

/// The template editor's data: the current version and every integration
/// of the kind with the version it follows.
pub async fn view(db: &Db, caller: &Caller, kind: &str) -> Result<(Template, Vec<Follower>), AppError> {
    caller.check(Action::EditTemplates, || "templates".into())?;
    let kind = kind_of(kind)?;
    Ok((current(db, kind).await?, store::followers(db, kind).await?))
}

/// Saves the next version from the editor's rows; `base` is the version the
/// editor showed (a newer one saved meanwhile is a conflict).
pub async fn save(
    db: &Db,
    caller: &Caller,
    kind: &str,
    base: i64,
    rows: &[TaskRowInput],
    now: DateTime<Utc>,
) -> Result<Template, AppError> {
    caller.check(Action::EditTemplates, || "templates".into())?;
    let kind = kind_of(kind)?;
    let current = current(db, kind).await?;
    let changed_meanwhile = || AppError::Conflict {
        message: "someone saved a newer version of this template meanwhile; reload to see it".into(),
        fields: FieldErrors::new(),
    };
    if current.version != base {
        return Err(changed_meanwhile());
    }
    let tasks = revise(&current, rows).map_err(AppError::invalid)?;
    let next = Template { kind, version: current.version + 1, tasks };
    let changes = describe(&current, &next);
    let audit = Entry::by(caller, "template.save", TargetKind::Template, Some(next.version), &format!("{} template", kind.label()))
        .summary(format!("Saved version {} of the {} template ({} changes)", next.version, kind.label().to_lowercase(), changes.len()))
        .changes(changes);
    match store::insert(db, &next, Some(caller.user_id).filter(|id| *id > 0), now, &audit).await {
        Ok(()) => Ok(next),
        Err(e) if is_unique_violation(&e) => Err(changed_meanwhile()),
        Err(e) => Err(e.into()),
    }
}

/// The tasks added or changed between two versions, for the audit trail.
fn describe(old: &Template, new: &Template) -> Vec<FieldChange> {
    new.tasks
        .iter()
        .enumerate()
        .filter_map(|(i, t)| {
            let line = |t: &crate::domain::revision::TemplateTask, pos: usize| {
                format!("#{} {}{}", pos + 1, t.title, if t.required { "" } else { " (optional)" })
            };
            match old.tasks.iter().position(|o| o.key == t.key) {
                None => Some(FieldChange { field: t.key.clone(), before: None, after: Some(line(t, i)) }),
                Some(j) => {
                    let o = &old.tasks[j];
                    (o.title != t.title || o.help != t.help || o.required != t.required || i != j).then(|| FieldChange {
                        field: t.key.clone(),
                        before: Some(line(o, j)),
                        after: Some(line(t, i)),
                    })
                }
            }
        })
        .collect()
}

/// Brings the chosen integrations' checklists to the current version;
/// returns how many changed. Integrations of another kind, unknown ones and
/// those already current are skipped.
pub async fn apply(db: &Db, caller: &Caller, kind: &str, version: i64, ids: &[i64], now: DateTime<Utc>) -> Result<usize, AppError> {
    caller.check(Action::EditTemplates, || "templates".into())?;
    let kind = kind_of(kind)?;
    let template = current(db, kind).await?;
    if template.version != version {
        return Err(AppError::Conflict {
            message: format!("version {version} is no longer the current one (now {}); reload", template.version),
            fields: FieldErrors::new(),
        });
    }
    if ids.is_empty() {
        let mut fields = FieldErrors::new();
        fields.insert("integrations".into(), vec!["choose at least one integration".into()]);
        return Err(AppError::invalid(fields));
    }
    let mut upgraded = 0;
    for id in ids {
        let Some(integration) = integration_store::get(db, *id).await? else { continue };
        if integration.kind != kind {
            continue;
        }
        let expected = store::checklist_version(db, integration.id).await?;
        if expected == template.version {
            continue;
        }
        let rows = task_store::for_integration(db, integration.id).await?;
        let mut held = Vec::with_capacity(rows.len());
        let mut states = Vec::with_capacity(rows.len());
        for r in &rows {
            let stage = r.stage()?;
            held.push(HeldTask {
                key: r.key.clone(),
                stage,
                title: r.title.clone(),
                help: r.help.clone(),
                required: r.required,
                position: r.position,
            });
            states.push((r.clone(), stage, r.state()?));
        }
        let plan = plan_upgrade(&held, &template, integration.stage);
        // Where the pipeline stands with the new tasks and flags.
        let track = kind.track();
        let mut after: Vec<_> = states
            .iter()
            .map(|(r, s, st)| {
                let required = plan.updates.iter().find(|(_, n)| n.key == r.key).map(|(_, n)| n.required).unwrap_or(r.required);
                (task_store::TaskRow { required, ..r.clone() }, *s, *st)
            })
            .collect();
        for (t, _, behind) in &plan.additions {
            let row = task_store::TaskRow {
                id: 0,
                integration_id: integration.id,
                key: t.key.clone(),
                stage: t.stage.key().into(),
                position: 0,
                title: t.title.clone(),
                help: t.help.clone(),
                required: t.required,
                fact: t.fact.clone(),
                state: String::new(),
                updated_at: now,
            };
            after.push((row, t.stage, if *behind { TaskState::Accepted } else { TaskState::Open }));
        }
        let stage = current_stage(track, &stage_statuses(&by_stage(track, &after)));
        let mut audit =
            vec![Entry::by(caller, "integration.checklist_upgrade", TargetKind::Integration, Some(integration.id), &integration.name)
                .partner(integration.partner_id)
                .integration(integration.id)
                .summary(format!(
                    "Checklist brought from version {expected} to {} ({} tasks added, {} changed)",
                    template.version,
                    plan.additions.len(),
                    plan.updates.len()
                ))
                .changes(vec![FieldChange {
                    field: "checklist_version".into(),
                    before: Some(expected.to_string()),
                    after: Some(template.version.to_string()),
                }])];
        audit.extend(stage_moved(Some(caller), &integration, stage));
        if store::upgrade(db, integration.id, expected, &plan, template.version, stage, now, &audit).await? {
            upgraded += 1;
        }
    }
    Ok(upgraded)
}
