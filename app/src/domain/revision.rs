//! Editing checklist templates and bringing integrations up to a new
//! version. Admins may add tasks, reword them, make them required or
//! optional and reorder them within their stage; tasks are never removed
//! (their history matters), and a task's stage and key never change. An
//! integration keeps the checklist it was given until an admin applies a
//! newer version to it: then rewordings, required flags and order are
//! copied, and new tasks are added — accepted already when they belong to
//! a stage the integration has completed, so nothing moves backwards.

use super::catalog::{IntegrationKind, Stage};
use super::slug::slugify;
use super::template::default_checklist;
use super::{FieldErrors, Problems};
use serde::{Deserialize, Serialize};

/// One task of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateTask {
    pub key: String,
    pub stage: Stage,
    pub title: String,
    pub help: String,
    pub required: bool,
    /// The fact that completes it automatically (built-in tasks only).
    pub fact: Option<String>,
}

/// A version of a track's checklist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    pub kind: IntegrationKind,
    /// 1 is the built-in default; each save adds one.
    pub version: i64,
    pub tasks: Vec<TemplateTask>,
}

/// An integration as the "apply a new version" list shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(sqlx::FromRow))]
pub struct Follower {
    pub id: i64,
    pub name: String,
    pub partner_name: String,
    pub checklist_version: i64,
    pub stage: String,
}

/// The built-in default, version 1.
pub fn builtin(kind: IntegrationKind) -> Template {
    let tasks = default_checklist(kind)
        .iter()
        .map(|t| TemplateTask {
            key: t.key.into(),
            stage: t.stage,
            title: t.title.into(),
            help: t.help.into(),
            required: t.required,
            fact: t.automatic.map(|f| f.key().to_string()),
        })
        .collect();
    Template { kind, version: 1, tasks }
}

/// One row of the template form: an existing task (its key) or a new one
/// (no key). Position orders tasks within their stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskRowInput {
    pub key: String,
    pub stage: String,
    pub title: String,
    pub help: String,
    /// A checkbox: present when ticked.
    pub required: Option<String>,
    pub position: String,
}

pub const MAX_TITLE_CHARS: usize = 200;
pub const MAX_HELP_CHARS: usize = 600;

/// The next version's tasks from the form's rows, or what is wrong (by
/// field `tasks[i].title` etc.). Blank new rows are ignored.
pub fn revise(current: &Template, rows: &[TaskRowInput]) -> Result<Vec<TemplateTask>, FieldErrors> {
    let mut problems = Problems::default();
    let track = current.kind.track();
    // (stage index, position, row index, task)
    let mut placed: Vec<(usize, i64, usize, TemplateTask)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, row) in rows.iter().enumerate() {
        let field = |name: &str| format!("tasks[{i}].{name}");
        let title = row.title.trim().to_string();
        let help = row.help.trim().to_string();
        let key = row.key.trim();
        if key.is_empty() && title.is_empty() && help.is_empty() {
            continue;
        }
        if title.is_empty() {
            problems.add(&field("title"), "give the task a title");
        } else if title.chars().count() > MAX_TITLE_CHARS {
            problems.add(&field("title"), format!("at most {MAX_TITLE_CHARS} characters"));
        }
        if help.chars().count() > MAX_HELP_CHARS {
            problems.add(&field("help"), format!("at most {MAX_HELP_CHARS} characters"));
        }
        let position = match row.position.trim() {
            "" => i as i64,
            p => match p.parse::<i64>() {
                Ok(n) if (0..=1000).contains(&n) => n,
                _ => {
                    problems.add(&field("position"), format!("\"{p}\" is not a position (0–1000)"));
                    i as i64
                }
            },
        };
        let required = row.required.is_some();
        let task = if key.is_empty() {
            let Some(stage) = Stage::parse(row.stage.trim()).filter(|s| track.contains(s)) else {
                problems.add(&field("stage"), "choose a stage of this track");
                continue;
            };
            TemplateTask { key: String::new(), stage, title, help, required, fact: None }
        } else {
            let Some(existing) = current.tasks.iter().find(|t| t.key == key) else {
                problems.add(&field("key"), format!("there is no task \"{key}\" in this template"));
                continue;
            };
            if !seen.insert(key.to_string()) {
                problems.add(&field("key"), format!("the task \"{key}\" appears twice"));
                continue;
            }
            TemplateTask { title, help, required, ..existing.clone() }
        };
        let stage_index = track.iter().position(|s| *s == task.stage).unwrap_or(0);
        placed.push((stage_index, position, i, task));
    }
    for t in &current.tasks {
        if !seen.contains(&t.key) {
            problems.add("tasks", format!("\"{}\" is missing: tasks can be reworded or made optional, not removed", t.title));
        }
    }
    placed.sort_by_key(|(stage, position, row, _)| (*stage, *position, *row));
    let mut tasks: Vec<TemplateTask> = Vec::with_capacity(placed.len());
    for (_, _, _, mut task) in placed {
        if task.key.is_empty() {
            task.key = new_key(task.stage, &task.title, &tasks, &current.tasks);
        }
        tasks.push(task);
    }
    if problems.is_empty() && tasks == current.tasks {
        problems.add("tasks", "nothing changed");
    }
    problems.finish(tasks)
}

/// `stage.slug-of-title`, unique in the template.
fn new_key(stage: Stage, title: &str, so_far: &[TemplateTask], current: &[TemplateTask]) -> String {
    let base = format!("{}.{}", stage.key(), slugify(title).chars().take(40).collect::<String>());
    let taken = |k: &str| so_far.iter().chain(current).any(|t| t.key == k);
    if !taken(&base) {
        return base;
    }
    (2..).map(|n| format!("{base}-{n}")).find(|k| !taken(k)).unwrap_or(base)
}

/// A task of an integration's checklist, as an upgrade sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldTask {
    pub key: String,
    pub stage: Stage,
    pub title: String,
    pub help: String,
    pub required: bool,
    pub position: i64,
}

/// What applying a template to one integration changes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Upgrade {
    /// Existing tasks whose wording, required flag or position change.
    pub updates: Vec<(HeldTask, HeldTask)>,
    /// New tasks, their position, and whether they start accepted (their
    /// stage is behind the integration).
    pub additions: Vec<(TemplateTask, i64, bool)>,
}

impl Upgrade {
    pub fn is_empty(&self) -> bool {
        self.updates.is_empty() && self.additions.is_empty()
    }
}

/// Plans bringing a checklist to `template`; `reached` is the integration's
/// current stage. Tasks the template does not know (added to this one
/// integration, or from a newer build) keep their place at the end.
pub fn plan_upgrade(held: &[HeldTask], template: &Template, reached: Stage) -> Upgrade {
    let track = template.kind.track();
    let reached = track.iter().position(|s| *s == reached).unwrap_or(0);
    let mut plan = Upgrade::default();
    for (position, t) in template.tasks.iter().enumerate() {
        let position = position as i64;
        match held.iter().find(|h| h.key == t.key) {
            Some(h) => {
                let new = HeldTask { title: t.title.clone(), help: t.help.clone(), required: t.required, position, ..h.clone() };
                if new != *h {
                    plan.updates.push((h.clone(), new));
                }
            }
            None => {
                let behind = track.iter().position(|s| *s == t.stage).unwrap_or(0) < reached;
                plan.additions.push((t.clone(), position, behind));
            }
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: &str, title: &str, required: bool) -> TaskRowInput {
        TaskRowInput { key: key.into(), title: title.into(), required: required.then(|| "on".into()), ..Default::default() }
    }

    fn rows_of(t: &Template) -> Vec<TaskRowInput> {
        t.tasks
            .iter()
            .enumerate()
            .map(|(i, t)| TaskRowInput { position: i.to_string(), help: t.help.clone(), ..row(&t.key, &t.title, t.required) })
            .collect()
    }

    #[test]
    fn builtin_templates_have_unique_keys_in_track_order() {
        for kind in IntegrationKind::ALL.iter().copied() {
            let t = builtin(kind);
            let keys: std::collections::HashSet<_> = t.tasks.iter().map(|t| &t.key).collect();
            assert_eq!(keys.len(), t.tasks.len());
            let order: Vec<usize> = t.tasks.iter().map(|t| kind.track().iter().position(|s| *s == t.stage).unwrap()).collect();
            assert!(order.windows(2).all(|w| w[0] <= w[1]), "{kind:?}");
        }
    }

    #[test]
    fn revising_rewords_adds_reorders_and_flags() {
        let current = builtin(IntegrationKind::Provider);
        let mut rows = rows_of(&current);
        rows[0].title = "Built with the Terraform Plugin Framework".into();
        rows[0].position = "2".into();
        rows[3].required = None;
        rows[3].position = "0".into(); // prepare.docs first in Prepare
        rows.push(TaskRowInput {
            stage: "prepare".into(),
            title: "Acceptance tests run in CI".into(),
            position: "1".into(),
            required: Some("on".into()),
            ..Default::default()
        });
        rows.push(TaskRowInput::default()); // a blank row is ignored
        let next = revise(&current, &rows).expect("valid");
        assert_eq!(next.len(), current.tasks.len() + 1);
        assert_eq!(next[0].key, "prepare.docs");
        assert!(!next[0].required);
        let added = next.iter().find(|t| t.title == "Acceptance tests run in CI").unwrap();
        assert_eq!(added.key, "prepare.acceptance-tests-run-in-ci");
        assert_eq!(added.stage, Stage::Prepare);
        assert!(next.iter().position(|t| t.key == added.key).unwrap() < 5, "stays in Prepare");
        let framework = next.iter().find(|t| t.key == "prepare.framework").unwrap();
        assert_eq!(framework.title, "Built with the Terraform Plugin Framework");
        // Facts survive rewording.
        assert_eq!(next.iter().find(|t| t.key == "prepare.repository").unwrap().fact.as_deref(), Some("repository_named"));
    }

    #[test]
    fn revising_refuses_what_breaks_the_rules() {
        let current = builtin(IntegrationKind::RunTask);
        let base = rows_of(&current);
        let cases: Vec<(Vec<TaskRowInput>, &str)> = vec![
            (base.clone(), "tasks"),       // nothing changed
            (base[1..].to_vec(), "tasks"), // a task removed
            (
                {
                    let mut r = base.clone();
                    r[0].title = " ".into();
                    r
                },
                "tasks[0].title",
            ),
            (
                {
                    let mut r = base.clone();
                    r[0].title = "x".repeat(201);
                    r
                },
                "tasks[0].title",
            ),
            (
                {
                    let mut r = base.clone();
                    r[0].position = "first".into();
                    r
                },
                "tasks[0].position",
            ),
            (
                {
                    let mut r = base.clone();
                    r.push(TaskRowInput { stage: "publish".into(), title: "Wrong track".into(), ..Default::default() });
                    r
                },
                "tasks[N].stage",
            ),
            (
                {
                    let mut r = base.clone();
                    r.push(row("engage.nope", "Unknown", true));
                    r
                },
                "tasks[N].key",
            ),
            (
                {
                    let mut r = base.clone();
                    r.push(r[0].clone());
                    r
                },
                "tasks[N].key",
            ),
        ];
        for (rows, field) in cases {
            let field = field.replace('N', &(rows.len() - 1).to_string());
            let errors = revise(&current, &rows).expect_err(&field);
            assert!(errors.contains_key(&field), "{field}: {errors:?}");
        }
    }

    #[test]
    fn new_keys_stay_unique() {
        let current = builtin(IntegrationKind::RunTask);
        let mut rows = rows_of(&current);
        for _ in 0..2 {
            rows.push(TaskRowInput { stage: "review".into(), title: "Security review".into(), ..Default::default() });
        }
        let next = revise(&current, &rows).unwrap();
        let keys: Vec<_> = next.iter().filter(|t| t.title == "Security review").map(|t| t.key.as_str()).collect();
        assert_eq!(keys, ["review.security-review", "review.security-review-2"]);
    }

    #[test]
    fn upgrades_copy_wording_and_add_tasks_without_moving_backwards() {
        let v1 = builtin(IntegrationKind::Provider);
        let held: Vec<HeldTask> = v1
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| HeldTask {
                key: t.key.clone(),
                stage: t.stage,
                title: t.title.clone(),
                help: t.help.clone(),
                required: t.required,
                position: i as i64,
            })
            .collect();
        assert!(plan_upgrade(&held, &v1, Stage::Prepare).is_empty(), "the same version changes nothing");
        let mut rows = rows_of(&v1);
        rows[0].title = "Reworded".into();
        rows.push(TaskRowInput {
            stage: "prepare".into(),
            title: "New in Prepare".into(),
            position: "99".into(),
            required: Some("on".into()),
            ..Default::default()
        });
        rows.push(TaskRowInput {
            stage: "verify".into(),
            title: "New in Verify".into(),
            position: "99".into(),
            required: Some("on".into()),
            ..Default::default()
        });
        let v2 = Template { kind: IntegrationKind::Provider, version: 2, tasks: revise(&v1, &rows).unwrap() };
        // An integration in Publish: Prepare is behind it, Verify ahead.
        let plan = plan_upgrade(&held, &v2, Stage::Publish);
        assert_eq!(plan.updates.iter().filter(|(old, new)| old.title != new.title).count(), 1);
        let added: Vec<(&str, bool)> = plan.additions.iter().map(|(t, _, behind)| (t.title.as_str(), *behind)).collect();
        assert_eq!(added, [("New in Prepare", true), ("New in Verify", false)]);
        // Positions shift for the tasks after the insertions.
        assert!(plan.updates.iter().any(|(old, new)| old.position != new.position));
    }
}
