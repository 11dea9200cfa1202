//! The life of a checklist task (program.md, "Two tracks of five stages"):
//! a partner reports it done with evidence, a reviewer accepts it or asks
//! for changes, optional tasks can be waived, and some complete themselves
//! from observed facts. Pure: the services apply what [`transition`] allows
//! and record it; everything it refuses comes back as a sentence a person
//! can act on.

use super::access::Role;
use serde::{Deserialize, Serialize};

crate::domain::catalog::vocabulary!(
    /// Where a task stands.
    TaskState {
        Open => ("open", "Open"),
        Reported => ("reported", "Reported"),
        ChangesRequested => ("changes_requested", "Changes requested"),
        Accepted => ("accepted", "Accepted"),
        Waived => ("waived", "Waived"),
    }
);

crate::domain::catalog::vocabulary!(
    /// What someone does to a task. `Observe`: an observed fact completed
    /// it (no person involved). `Reopen`: a reviewer reopened its stage, so
    /// accepted work must be looked at again.
    TaskAction {
        Report => ("report", "Report done"),
        Accept => ("accept", "Accept"),
        RequestChanges => ("request_changes", "Request changes"),
        Waive => ("waive", "Waive"),
        Observe => ("observe", "Completed automatically"),
        Reopen => ("reopen", "Reopen"),
    }
);

impl TaskState {
    /// Done for the purpose of completing a stage.
    pub fn is_done(self) -> bool {
        matches!(self, TaskState::Accepted | TaskState::Waived)
    }
}

/// Who acts: a person with a role, or the system reporting an observed fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Actor {
    Person(Role),
    System,
}

/// What the task is, as far as the rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskFacts {
    pub state: TaskState,
    pub required: bool,
    /// The task's stage is open (the current stage, or reopened); tasks of
    /// later stages wait, tasks of completed stages are settled.
    pub stage_open: bool,
}

/// What comes with an action: evidence for a report, a comment or reason
/// for a request for changes, a waiver or a reopening.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Given {
    pub evidence: bool,
    pub comment: bool,
}

/// Why a transition is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("your role may not {0}")]
    Role(&'static str),
    #[error("this stage is not open: finish the earlier stages first (stages cannot be skipped)")]
    StageNotOpen,
    #[error("{0}")]
    State(String),
    #[error("{0}")]
    Missing(&'static str),
}

/// The state after `action`, or why not.
pub fn transition(actor: Actor, action: TaskAction, task: TaskFacts, given: Given) -> Result<TaskState, Refused> {
    use TaskAction::*;
    use TaskState::*;
    let staff_only = |what: &'static str| match actor {
        Actor::Person(Role::Admin | Role::Reviewer) => Ok(()),
        Actor::Person(_) => Err(Refused::Role(what)),
        Actor::System => Err(Refused::Role(what)),
    };
    // Who may attempt what, before looking at the task.
    match action {
        Report => match actor {
            Actor::Person(Role::Partner | Role::Reviewer | Role::Admin) => {}
            _ => return Err(Refused::Role("report tasks")),
        },
        Accept => staff_only("accept tasks")?,
        RequestChanges => staff_only("request changes")?,
        Waive => staff_only("waive tasks")?,
        Reopen => staff_only("reopen stages")?,
        Observe => {
            if actor != Actor::System {
                return Err(Refused::Role("record observed facts"));
            }
        }
    }
    // Reopening applies to a settled stage; everything else needs an open one.
    if action != Reopen && action != Observe && !task.stage_open {
        return Err(Refused::StageNotOpen);
    }
    let state = |msg: String| Err(Refused::State(msg));
    match (action, task.state) {
        (Report, Open | ChangesRequested | Reported) => {
            if given.evidence {
                Ok(Reported)
            } else {
                Err(Refused::Missing("add evidence: a URL, a note or a file"))
            }
        }
        (Report, s) => state(format!("this task is already {}", s.label().to_lowercase())),
        (Accept, Reported) => Ok(Accepted),
        (Accept, Open | ChangesRequested) => state("there is nothing to accept: the task has not been reported".into()),
        (Accept, s) => state(format!("this task is already {}", s.label().to_lowercase())),
        (RequestChanges, Reported) => {
            if given.comment {
                Ok(ChangesRequested)
            } else {
                Err(Refused::Missing("say what needs to change"))
            }
        }
        (RequestChanges, Open) => state("there is nothing to review: the task has not been reported".into()),
        (RequestChanges, s) => state(format!("this task is already {}", s.label().to_lowercase())),
        (Waive, _) if task.required => state("a required task cannot be waived".into()),
        (Waive, Open | Reported | ChangesRequested) => {
            if given.comment {
                Ok(Waived)
            } else {
                Err(Refused::Missing("give the reason for waiving it"))
            }
        }
        (Waive, s) => state(format!("this task is already {}", s.label().to_lowercase())),
        // A fact completes whatever is not yet accepted; waived stays waived.
        (Observe, Waived) => Ok(Waived),
        (Observe, _) => Ok(Accepted),
        (Reopen, _) if task.stage_open => state("this stage is already open".into()),
        (Reopen, _) if !given.comment => Err(Refused::Missing("give the reason for reopening the stage")),
        (Reopen, Accepted) => Ok(ChangesRequested),
        (Reopen, s) => Ok(s),
    }
}

/// Where each stage of a track stands, from its tasks' states (in track
/// order): complete stages, then the one open stage, then locked ones. A
/// stage with no required tasks left open completes; the last stage
/// (Support) never completes, it is open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StageStatus {
    Complete,
    Open,
    Locked,
}

/// `stages[i]` holds (required, state) for each task of stage i.
pub fn stage_statuses(stages: &[Vec<(bool, TaskState)>]) -> Vec<StageStatus> {
    let mut out = Vec::with_capacity(stages.len());
    let mut open_found = false;
    for (i, tasks) in stages.iter().enumerate() {
        let last = i + 1 == stages.len();
        let done = tasks.iter().all(|(required, state)| !required || state.is_done());
        if open_found {
            out.push(StageStatus::Locked);
        } else if done && !last {
            out.push(StageStatus::Complete);
        } else {
            out.push(StageStatus::Open);
            open_found = true;
        }
    }
    out
}

/// A task as people see it, with its history and what the caller may do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    pub id: i64,
    pub key: String,
    pub stage: super::catalog::Stage,
    pub title: String,
    pub help: String,
    pub required: bool,
    /// Completed by an observed fact rather than a report.
    pub automatic: bool,
    pub state: TaskState,
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Oldest first.
    pub events: Vec<TaskEvent>,
    /// The actions the caller could take now.
    pub allowed: Vec<TaskAction>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEvent {
    pub action: TaskAction,
    pub actor: String,
    pub from: TaskState,
    pub to: TaskState,
    pub evidence_url: Option<String>,
    pub note: Option<String>,
    pub comment: Option<String>,
    /// `note` and `comment` rendered from Markdown by the server (safe HTML).
    #[serde(default)]
    pub note_html: Option<String>,
    #[serde(default)]
    pub comment_html: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
    /// A file attached to a report.
    #[serde(default)]
    pub file: Option<super::evidence::EvidenceFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageView {
    pub stage: super::catalog::Stage,
    pub status: StageStatus,
    pub tasks: Vec<TaskView>,
    /// The caller may reopen it (a completed stage, and a reviewer).
    pub reopenable: bool,
}

/// A task waiting on someone, as the review queue and the partner's home
/// list it, with the latest word on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueItem {
    pub task_id: i64,
    pub title: String,
    pub stage: super::catalog::Stage,
    pub state: TaskState,
    /// When it entered its state (reported, or sent back).
    pub since: chrono::DateTime<chrono::Utc>,
    /// Whole days since then, as of the server's clock.
    pub waiting_days: i64,
    pub integration_id: i64,
    pub integration_name: String,
    pub partner_slug: String,
    pub partner_name: String,
    /// Who acted last, and what they said.
    pub last_actor: Option<String>,
    pub evidence_url: Option<String>,
    pub note: Option<String>,
    pub comment: Option<String>,
    /// Rendered from Markdown by the server (safe HTML).
    pub note_html: Option<String>,
    pub comment_html: Option<String>,
}

/// What a partner member's home shows: their integrations' open work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerWork {
    /// Open or sent back, in the current stage: theirs to do.
    pub waiting_on_you: Vec<QueueItem>,
    /// Reported, waiting for a reviewer.
    pub waiting_on_review: Vec<QueueItem>,
}

/// An integration's pipeline: its stages in track order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pipeline {
    pub integration_id: i64,
    /// The open stage.
    pub current: super::catalog::Stage,
    pub stages: Vec<StageView>,
}

/// What a form or API client sends to act on a task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(default)]
pub struct TaskInput {
    /// report, accept, request_changes or waive
    pub action: String,
    /// Evidence: a link (http or https).
    pub evidence_url: String,
    /// Evidence: a note (plain text or Markdown).
    pub note: String,
    /// The reviewer's comment, or the reason for a waiver.
    pub comment: String,
}

/// A checked [`TaskInput`].
#[derive(Debug, Clone, PartialEq)]
pub struct ValidTaskInput {
    pub action: TaskAction,
    pub evidence_url: Option<String>,
    pub note: Option<String>,
    pub comment: Option<String>,
}

pub const MAX_NOTE_CHARS: usize = 4000;

impl TaskInput {
    pub fn validate(&self) -> Result<ValidTaskInput, super::FieldErrors> {
        let mut p = super::Problems::default();
        let action = match TaskAction::parse(self.action.trim()) {
            Some(a @ (TaskAction::Report | TaskAction::Accept | TaskAction::RequestChanges | TaskAction::Waive)) => Some(a),
            _ => {
                p.add("action", "choose report, accept, request_changes or waive");
                None
            }
        };
        let evidence_url = super::optional(&self.evidence_url);
        if let Some(url) = &evidence_url {
            if let Err(e) = super::validate_web_url(url) {
                p.add("evidence_url", e);
            }
        }
        let note = super::optional(&self.note);
        if note.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
            p.add("note", format!("at most {MAX_NOTE_CHARS} characters"));
        }
        let comment = super::optional(&self.comment);
        if comment.as_ref().is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
            p.add("comment", format!("at most {MAX_NOTE_CHARS} characters"));
        }
        p.finish(ValidTaskInput { action: action.unwrap_or(TaskAction::Report), evidence_url, note, comment })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TaskAction::*;
    use TaskState::*;

    const PARTNER: Actor = Actor::Person(Role::Partner);
    const REVIEWER: Actor = Actor::Person(Role::Reviewer);
    const ADMIN: Actor = Actor::Person(Role::Admin);
    const VIEWER: Actor = Actor::Person(Role::Viewer);
    const SYSTEM: Actor = Actor::System;

    fn facts(state: TaskState, required: bool, stage_open: bool) -> TaskFacts {
        TaskFacts { state, required, stage_open }
    }
    const FULL: Given = Given { evidence: true, comment: true };

    /// Every (state, action, actor) on a required task of an open stage,
    /// with evidence and comment given: the expected outcome, or the
    /// start of the refusal message.
    #[test]
    fn every_state_action_and_actor() {
        let actors = [PARTNER, REVIEWER, ADMIN, VIEWER, SYSTEM];
        for &state in TaskState::ALL {
            for &action in TaskAction::ALL {
                for actor in actors {
                    let got = transition(actor, action, facts(state, true, true), FULL);
                    let expected: Result<TaskState, &str> = match (action, actor, state) {
                        (Report, VIEWER | SYSTEM, _) => Err("your role may not report"),
                        (Report, _, Open | ChangesRequested | Reported) => Ok(Reported),
                        (Report, _, _) => Err("this task is already"),
                        (Accept | RequestChanges | Waive | Reopen, PARTNER | VIEWER | SYSTEM, _) => Err("your role may not"),
                        (Observe, PARTNER | REVIEWER | ADMIN | VIEWER, _) => Err("your role may not record"),
                        (Accept, _, Reported) => Ok(Accepted),
                        (Accept, _, Open | ChangesRequested) => Err("there is nothing to accept"),
                        (Accept, _, _) => Err("this task is already"),
                        (RequestChanges, _, Reported) => Ok(ChangesRequested),
                        (RequestChanges, _, Open) => Err("there is nothing to review"),
                        (RequestChanges, _, _) => Err("this task is already"),
                        (Waive, _, _) => Err("a required task cannot be waived"),
                        (Observe, _, Waived) => Ok(Waived),
                        (Observe, _, _) => Ok(Accepted),
                        (Reopen, _, _) => Err("this stage is already open"),
                    };
                    match (&got, expected) {
                        (Ok(s), Ok(e)) => assert_eq!(*s, e, "{actor:?} {action:?} on {state:?}"),
                        (Err(r), Err(e)) => assert!(r.to_string().starts_with(e), "{actor:?} {action:?} on {state:?}: {r}"),
                        _ => panic!("{actor:?} {action:?} on {state:?}: got {got:?}, expected {expected:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn optional_tasks_can_be_waived_with_a_reason() {
        for state in [Open, Reported, ChangesRequested] {
            assert_eq!(transition(REVIEWER, Waive, facts(state, false, true), FULL), Ok(Waived));
            let no_reason = transition(REVIEWER, Waive, facts(state, false, true), Given { evidence: true, comment: false });
            assert_eq!(no_reason, Err(Refused::Missing("give the reason for waiving it")));
        }
        assert!(transition(ADMIN, Waive, facts(Accepted, false, true), FULL).is_err());
        assert!(transition(PARTNER, Waive, facts(Open, false, true), FULL).is_err());
    }

    #[test]
    fn reports_need_evidence_and_requests_need_a_comment() {
        let none = Given::default();
        assert_eq!(
            transition(PARTNER, Report, facts(Open, true, true), none),
            Err(Refused::Missing("add evidence: a URL, a note or a file"))
        );
        assert_eq!(
            transition(REVIEWER, RequestChanges, facts(Reported, true, true), none),
            Err(Refused::Missing("say what needs to change"))
        );
    }

    #[test]
    fn closed_stages_refuse_work_and_only_they_can_be_reopened() {
        for action in [Report, Accept, RequestChanges, Waive] {
            let actor = if action == Report { PARTNER } else { REVIEWER };
            assert_eq!(transition(actor, action, facts(Reported, false, false), FULL), Err(Refused::StageNotOpen), "{action:?}");
        }
        // Facts are recorded whatever the stage (a version can appear early).
        assert_eq!(transition(SYSTEM, Observe, facts(Open, true, false), FULL), Ok(Accepted));
        // Reopening sends accepted work back for changes and keeps the rest.
        assert_eq!(transition(REVIEWER, Reopen, facts(Accepted, true, false), FULL), Ok(ChangesRequested));
        assert_eq!(transition(REVIEWER, Reopen, facts(Waived, false, false), FULL), Ok(Waived));
        assert_eq!(transition(REVIEWER, Reopen, facts(Open, true, false), FULL), Ok(Open));
        assert_eq!(
            transition(REVIEWER, Reopen, facts(Accepted, true, false), Given { evidence: false, comment: false }),
            Err(Refused::Missing("give the reason for reopening the stage"))
        );
        assert!(transition(PARTNER, Reopen, facts(Accepted, true, false), FULL).is_err());
    }

    #[test]
    fn task_inputs() {
        let input = |action: &str, url: &str, note: &str| TaskInput {
            action: action.into(),
            evidence_url: url.into(),
            note: note.into(),
            comment: String::new(),
        };
        assert_eq!(input("report", "https://ci.example/run/1", "").validate().unwrap().action, Report);
        assert_eq!(input(" accept ", "", "").validate().unwrap().evidence_url, None);
        for (bad, field) in [
            (input("observe", "", ""), "action"),
            (input("", "", ""), "action"),
            (input("report", "not a url", ""), "evidence_url"),
            (input("report", "javascript:alert(1)", ""), "evidence_url"),
            (input("report", "", &"x".repeat(MAX_NOTE_CHARS + 1)), "note"),
        ] {
            let errors = bad.validate().expect_err("should fail");
            assert!(errors.contains_key(field), "{bad:?}: {errors:?}");
        }
    }

    #[test]
    fn stages_open_in_order_and_support_never_completes() {
        let done = |n: usize| vec![(true, Accepted); n];
        let open = |n: usize| vec![(true, TaskState::Open); n];
        use StageStatus::{Complete, Locked, Open as Current};
        let cases: Vec<(Vec<Vec<(bool, TaskState)>>, Vec<StageStatus>)> = vec![
            (vec![open(2), open(1), open(1)], vec![Current, Locked, Locked]),
            (vec![done(2), open(1), open(1)], vec![Complete, Current, Locked]),
            // A later stage's finished tasks do not let it skip ahead.
            (vec![open(1), done(1), done(1)], vec![Current, Locked, Locked]),
            // Optional tasks do not hold a stage back; waived required ones do not either.
            (vec![vec![(true, Accepted), (false, TaskState::Open)], vec![(true, Waived)], open(1)], vec![Complete, Complete, Current]),
            // The last stage stays open even when all its tasks are done.
            (vec![done(1), done(1), done(1)], vec![Complete, Complete, Current]),
            // A stage without tasks passes straight through.
            (vec![vec![], open(1)], vec![Complete, Current]),
            (vec![vec![(true, Reported)], open(1)], vec![Current, Locked]),
        ];
        for (stages, expected) in cases {
            assert_eq!(stage_statuses(&stages), expected, "{stages:?}");
        }
    }
}
