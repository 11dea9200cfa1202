//! The audit trail: who changed what, when, from what to what. Records are
//! written by the store in the same transaction as the change itself, so a
//! change without its record (or a record without its change) cannot exist.
//! This module holds the vocabulary and the field-by-field comparison.

use serde::{Deserialize, Serialize};

/// What kind of thing a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Partner,
    Integration,
    Task,
    Stage,
    User,
    Token,
    Template,
    /// A support issue (SLA clock events, severity overrides).
    Issue,
    /// Program-wide settings (SLA calendar, labels).
    Settings,
    /// A tier-downgrade flag.
    Flag,
}

impl TargetKind {
    pub const ALL: [TargetKind; 10] = [
        TargetKind::Partner,
        TargetKind::Integration,
        TargetKind::Task,
        TargetKind::Stage,
        TargetKind::User,
        TargetKind::Token,
        TargetKind::Template,
        TargetKind::Issue,
        TargetKind::Settings,
        TargetKind::Flag,
    ];

    pub fn key(self) -> &'static str {
        match self {
            TargetKind::Partner => "partner",
            TargetKind::Integration => "integration",
            TargetKind::Task => "task",
            TargetKind::Stage => "stage",
            TargetKind::User => "user",
            TargetKind::Token => "token",
            TargetKind::Template => "template",
            TargetKind::Issue => "issue",
            TargetKind::Settings => "settings",
            TargetKind::Flag => "flag",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TargetKind::Partner => "Partner",
            TargetKind::Integration => "Integration",
            TargetKind::Task => "Task",
            TargetKind::Stage => "Stage",
            TargetKind::User => "User",
            TargetKind::Token => "API token",
            TargetKind::Template => "Checklist template",
            TargetKind::Issue => "Support issue",
            TargetKind::Settings => "Program settings",
            TargetKind::Flag => "Tier flag",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.key() == s)
    }
}

/// One field's value before and after a change; `None` where it was or
/// became empty (and on the side that does not exist for a creation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// A record to write: built by a service, written by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// `None` for the system (pollers, monitors).
    pub actor_id: Option<i64>,
    pub actor_name: String,
    /// `<target>.<verb>`, e.g. `partner.update`, `task.accept`.
    pub action: String,
    pub target_kind: TargetKind,
    /// Filled by the store for creations, once the id exists.
    pub target_id: Option<i64>,
    /// A readable name that survives the target's deletion or renaming.
    pub target_label: String,
    pub partner_id: Option<i64>,
    pub integration_id: Option<i64>,
    /// One line a person reads in a timeline.
    pub summary: String,
    pub changes: Vec<FieldChange>,
}

impl Entry {
    /// A change made by a signed-in person.
    /// (A caller without an account, such as the demo seed with id 0, is
    /// recorded by name only.)
    pub fn by(caller: &super::access::Caller, action: &str, target_kind: TargetKind, target_id: Option<i64>, label: &str) -> Self {
        let id = (caller.user_id > 0).then_some(caller.user_id);
        Self::new(id, &caller.name, action, target_kind, target_id, label)
    }

    /// A change the tracker made by itself (checklists, observed facts).
    pub fn system(action: &str, target_kind: TargetKind, target_id: Option<i64>, label: &str) -> Self {
        Self::new(None, "Integration Tracker", action, target_kind, target_id, label)
    }

    fn new(actor_id: Option<i64>, actor_name: &str, action: &str, target_kind: TargetKind, target_id: Option<i64>, label: &str) -> Self {
        Entry {
            actor_id,
            actor_name: actor_name.to_string(),
            action: action.to_string(),
            target_kind,
            target_id,
            target_label: label.to_string(),
            partner_id: None,
            integration_id: None,
            summary: String::new(),
            changes: Vec::new(),
        }
    }

    pub fn partner(self, id: i64) -> Self {
        Entry { partner_id: Some(id), ..self }
    }

    pub fn integration(self, id: i64) -> Self {
        Entry { integration_id: Some(id), ..self }
    }

    pub fn summary(self, summary: impl Into<String>) -> Self {
        Entry { summary: summary.into(), ..self }
    }

    pub fn changes(self, changes: Vec<FieldChange>) -> Self {
        Entry { changes, ..self }
    }
}

/// Names the changed fields for a summary: "name, tier and stage".
pub fn field_names(changes: &[FieldChange]) -> String {
    let names: Vec<String> = changes.iter().map(|c| c.field.replace('_', " ")).collect();
    match names.as_slice() {
        [] => "nothing".to_string(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A stored record, as timelines, the admin search and exports show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor_name: String,
    pub action: String,
    pub target_kind: TargetKind,
    pub target_id: Option<i64>,
    pub target_label: String,
    pub partner_id: Option<i64>,
    pub integration_id: Option<i64>,
    pub summary: String,
    pub changes: Vec<FieldChange>,
}

/// A snapshot of something's auditable fields, in display order.
pub type Fields = Vec<(&'static str, String)>;

/// The fields whose values differ between two snapshots (empty values read
/// as absent). A field only in one snapshot counts as changed.
pub fn changes(before: &Fields, after: &Fields) -> Vec<FieldChange> {
    let value = |fields: &Fields, name: &str| fields.iter().find(|(f, _)| *f == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let mut names: Vec<&'static str> = after.iter().map(|(f, _)| *f).collect();
    names.extend(before.iter().map(|(f, _)| *f).filter(|f| !after.iter().any(|(a, _)| a == f)));
    names
        .into_iter()
        .filter_map(|name| {
            let (b, a) = (value(before, name), value(after, name));
            (b != a).then(|| FieldChange { field: name.to_string(), before: b, after: a })
        })
        .collect()
}

/// The fields of a creation: everything set, nothing before.
pub fn created(after: &Fields) -> Vec<FieldChange> {
    changes(&Vec::new(), after)
}

/// What the admin search filters on. Empty strings mean "any".
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditQuery {
    /// Words in the summary, target or actor.
    pub q: String,
    pub target: String,
    pub actor: String,
    /// `YYYY-MM-DD`, inclusive, in UTC.
    pub from: String,
    pub to: String,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// A checked [`AuditQuery`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditFilter {
    pub q: Option<String>,
    pub target: Option<TargetKind>,
    pub actor: Option<String>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Exclusive: the start of the day after `to`.
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    pub partner_id: Option<i64>,
    pub integration_id: Option<i64>,
}

impl AuditQuery {
    pub fn validate(&self) -> Result<AuditFilter, super::FieldErrors> {
        let mut problems = super::Problems::default();
        let target = match self.target.trim() {
            "" => None,
            t => match TargetKind::parse(t) {
                Some(k) => Some(k),
                None => {
                    problems.add("target", format!("\"{t}\" is not a kind of record"));
                    None
                }
            },
        };
        let mut day = |field: &str, s: &str, next: bool| match s.trim() {
            "" => None,
            // Years the program counts in: others are typos (and PostgreSQL refuses some).
            s => match chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .filter(|d| super::sla::YEARS.contains(&chrono::Datelike::year(d)))
                .ok_or(())
            {
                Ok(d) => {
                    let d = if next { d.succ_opt().unwrap_or(d) } else { d };
                    d.and_hms_opt(0, 0, 0).map(|t| t.and_utc())
                }
                Err(_) => {
                    problems.add(field, format!("\"{s}\" is not a date (YYYY-MM-DD, years {})", super::sla::years_label()));
                    None
                }
            },
        };
        let from = day("from", &self.from, false);
        let until = day("to", &self.to, true);
        if let (Some(f), Some(u)) = (from, until) {
            if u <= f {
                problems.add("to", "the end date is before the start date");
            }
        }
        let filter = AuditFilter {
            q: super::optional(&self.q),
            target,
            actor: super::optional(&self.actor),
            from,
            until,
            partner_id: None,
            integration_id: None,
        };
        problems.finish(filter)
    }
}

/// Joins list values for a snapshot: order matters to readers, so it is kept.
pub fn list(values: &[String]) -> String {
    values.join(", ")
}

/// A boolean as a snapshot shows it.
pub fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pairs: &[(&'static str, &str)]) -> Fields {
        pairs.iter().map(|(k, v)| (*k, v.to_string())).collect()
    }

    fn c(field: &str, before: Option<&str>, after: Option<&str>) -> FieldChange {
        FieldChange { field: field.into(), before: before.map(Into::into), after: after.map(Into::into) }
    }

    #[test]
    fn changes_lists_only_differences() {
        let cases: Vec<(Fields, Fields, Vec<FieldChange>)> = vec![
            (f(&[("name", "A")]), f(&[("name", "A")]), vec![]),
            (f(&[("name", "A")]), f(&[("name", "B")]), vec![c("name", Some("A"), Some("B"))]),
            // Empty and absent read the same.
            (f(&[("org", "")]), f(&[("org", "")]), vec![]),
            (f(&[("org", "")]), f(&[("org", "acme")]), vec![c("org", None, Some("acme"))]),
            (f(&[("org", "acme")]), f(&[("org", "")]), vec![c("org", Some("acme"), None)]),
            // Order follows the new snapshot; vanished fields come last.
            (
                f(&[("a", "1"), ("b", "2"), ("gone", "x")]),
                f(&[("b", "3"), ("a", "0")]),
                vec![c("b", Some("2"), Some("3")), c("a", Some("1"), Some("0")), c("gone", Some("x"), None)],
            ),
            (f(&[]), f(&[("tier", "verified")]), vec![c("tier", None, Some("verified"))]),
        ];
        for (before, after, want) in cases {
            assert_eq!(changes(&before, &after), want, "{before:?} → {after:?}");
        }
    }

    #[test]
    fn created_skips_empty_fields() {
        let got = created(&f(&[("name", "Acme"), ("org", ""), ("auto", "no")]));
        assert_eq!(got, vec![c("name", None, Some("Acme")), c("auto", None, Some("no"))]);
    }

    #[test]
    fn query_validation() {
        let q = |target: &str, from: &str, to: &str| AuditQuery {
            target: target.into(),
            from: from.into(),
            to: to.into(),
            ..Default::default()
        };
        let ok = q("task", "2026-01-01", "2026-01-01").validate().expect("valid");
        assert_eq!(ok.target, Some(TargetKind::Task));
        assert_eq!(ok.from.map(|d| d.to_rfc3339()), Some("2026-01-01T00:00:00+00:00".into()));
        assert_eq!(ok.until.map(|d| d.to_rfc3339()), Some("2026-01-02T00:00:00+00:00".into()));
        let cases = [
            (q("widget", "", ""), "target"),
            (q("", "yesterday", ""), "from"),
            (q("", "", "2026-13-01"), "to"),
            (q("", "2026-02-01", "2026-01-01"), "to"),
            (q("", "-5000-01-01", ""), "from"),
            (q("", "", "+99999-12-31"), "to"),
            (q("", "1969-12-31", ""), "from"),
        ];
        for (query, field) in cases {
            let errors = query.validate().expect_err("invalid");
            assert!(errors.contains_key(field), "{query:?}: {errors:?}");
        }
        assert_eq!(AuditQuery::default().validate(), Ok(AuditFilter::default()));
    }

    #[test]
    fn field_names_read_as_a_list() {
        let names = |fields: &[&str]| field_names(&fields.iter().map(|f| c(f, None, Some("x"))).collect::<Vec<_>>());
        assert_eq!(names(&[]), "nothing");
        assert_eq!(names(&["tier"]), "tier");
        assert_eq!(names(&["name", "repository_url"]), "name and repository url");
        assert_eq!(names(&["name", "tier", "stage"]), "name, tier and stage");
    }

    #[test]
    fn target_kinds_round_trip() {
        for k in TargetKind::ALL {
            assert_eq!(TargetKind::parse(k.key()), Some(k));
        }
        assert_eq!(TargetKind::parse("Partner"), None);
    }
}
