//! The dashboards: what staff see at a glance (pipeline funnel, support
//! health, tier flags, registry activity, review queue) and what a partner
//! sees of their own standing. Stage targets (when an integration counts as
//! stalled) are program settings; the figures are computed from stored rows
//! by `services::dashboard`.

use super::catalog::{IntegrationKind, Stage, Tier};
use super::flag::FlagView;
use super::sla::WeekPoint;
use super::support::{Health, IssueView};
use super::{FieldErrors, Problems};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Days an integration may stay in a stage before it counts as stalled.
/// `Support` is where integrations live: it has no target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTargets(pub Vec<(Stage, i64)>);

impl Default for StageTargets {
    fn default() -> Self {
        use Stage::*;
        StageTargets(vec![
            (Prepare, 30),
            (Publish, 14),
            (Apply, 14),
            (Verify, 30),
            (Engage, 30),
            (DevelopTest, 60),
            (Review, 21),
            (Release, 14),
        ])
    }
}

impl StageTargets {
    pub fn days(&self, stage: Stage) -> Option<i64> {
        self.0.iter().find(|(s, _)| *s == stage).map(|(_, d)| *d)
    }

    fn key(stage: Stage) -> String {
        format!("stage_target.{}", stage.key())
    }

    /// From stored pairs; missing or unreadable values keep their defaults.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut t = StageTargets::default();
        for (key, value) in pairs {
            let Some(stage) = key.strip_prefix("stage_target.").and_then(Stage::parse) else { continue };
            if let (Some(slot), Ok(days)) = (t.0.iter_mut().find(|(s, _)| *s == stage), value.parse::<i64>()) {
                slot.1 = days;
            }
        }
        t
    }

    pub fn to_pairs(&self) -> Vec<(String, String)> {
        self.0.iter().map(|(s, d)| (Self::key(*s), d.to_string())).collect()
    }

    /// Checks a form's values (stage key → days, 1 to 365).
    pub fn validate(input: &std::collections::BTreeMap<String, String>) -> Result<StageTargets, FieldErrors> {
        let mut p = Problems::default();
        let mut t = StageTargets::default();
        for (key, value) in input {
            let Some(stage) = Stage::parse(key).filter(|s| t.days(*s).is_some()) else {
                p.add(&format!("target.{key}"), "not a stage with a target");
                continue;
            };
            match value.trim().parse::<i64>() {
                Ok(d) if (1..=365).contains(&d) => {
                    if let Some(slot) = t.0.iter_mut().find(|(s, _)| *s == stage) {
                        slot.1 = d;
                    }
                }
                _ => p.add(&format!("target.{key}"), "a whole number of days from 1 to 365"),
            }
        }
        p.finish(t)
    }
}

/// The dashboard's filters, as the query string gives them (empty = all).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DashboardQuery {
    /// provider | run_task
    pub track: String,
    pub stage: String,
    pub tier: String,
    pub category: String,
    /// Only partners whose alliance manager is the viewer.
    pub mine: bool,
    /// How the compliance table is sorted: worst (default), best, name, breaches or due.
    pub sort: String,
}

/// Orders of the dashboard's compliance table.
pub const SUPPORT_SORTS: [&str; 5] = ["worst", "best", "name", "breaches", "due"];

/// Checked filters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DashboardFilter {
    pub kind: Option<IntegrationKind>,
    pub stage: Option<Stage>,
    pub tier: Option<Tier>,
    pub category: Option<String>,
    pub manager_email: Option<String>,
    /// One of [`SUPPORT_SORTS`].
    pub sort: &'static str,
}

impl DashboardQuery {
    pub fn validate(&self, viewer_email: &str) -> Result<DashboardFilter, FieldErrors> {
        let mut p = Problems::default();
        let mut pick = |field: &str, value: &str, parse: &dyn Fn(&str) -> bool, expected: String| {
            let v = value.trim();
            if v.is_empty() {
                return None;
            }
            if parse(v) {
                Some(v.to_string())
            } else {
                p.add(field, format!("one of {expected}"));
                None
            }
        };
        let kind = pick("track", &self.track, &|s| IntegrationKind::parse(s).is_some(), IntegrationKind::expected());
        let stage = pick("stage", &self.stage, &|s| Stage::parse(s).is_some(), Stage::expected());
        let tier = pick("tier", &self.tier, &|s| Tier::parse(s).is_some(), Tier::expected());
        let all = super::catalog::all_categories();
        let category = pick("category", &self.category, &|s| all.contains(&s), "a category from the program's lists".into());
        let sort = match self.sort.trim() {
            "" => "worst",
            s => SUPPORT_SORTS.iter().copied().find(|k| *k == s).unwrap_or_else(|| {
                p.add("sort", format!("one of {}", SUPPORT_SORTS.join(", ")));
                "worst"
            }),
        };
        let filter = DashboardFilter {
            sort,
            kind: kind.as_deref().and_then(IntegrationKind::parse),
            stage: stage.as_deref().and_then(Stage::parse),
            tier: tier.as_deref().and_then(Tier::parse),
            category,
            manager_email: self.mine.then(|| viewer_email.trim().to_lowercase()),
        };
        p.finish(filter)
    }

    /// The filters as query parameters (empty ones left out by links).
    pub fn params(&self) -> Vec<(&'static str, String)> {
        vec![
            ("track", self.track.trim().to_string()),
            ("stage", self.stage.trim().to_string()),
            ("tier", self.tier.trim().to_string()),
            ("category", self.category.trim().to_string()),
            ("mine", if self.mine { "true".into() } else { String::new() }),
            ("sort", self.sort.trim().to_string()),
        ]
    }
}

/// One stage of a track's funnel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageFigure {
    pub stage: Stage,
    pub count: i64,
    /// Median days the integrations now in the stage have spent in it.
    pub median_days: Option<f64>,
    pub target_days: Option<i64>,
    pub stalled: i64,
    /// The spread of the integrations' days in the stage, for the distribution chart.
    pub spread: Option<crate::components::chart::Spread>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Funnel {
    pub kind: IntegrationKind,
    pub stages: Vec<StageFigure>,
}

/// An integration past its stage's target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stalled {
    pub integration_id: i64,
    pub integration: String,
    pub partner: String,
    pub stage: Stage,
    pub days: i64,
    pub target_days: i64,
}

/// One partner's support figures over the window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerSupport {
    pub partner_id: i64,
    pub slug: String,
    pub name: String,
    pub resolved: i64,
    pub within_sla: i64,
    pub percent: Option<f64>,
    pub open_breaches: i64,
    pub due_24h: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SupportSummary {
    pub window_days: i64,
    /// Worst first; partners without issues last.
    pub partners: Vec<PartnerSupport>,
    pub open_breaches: i64,
    pub due_24h: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagSummary {
    pub due: i64,
    pub grace: i64,
    pub preview: i64,
    pub exempt: i64,
    pub decided_recently: i64,
    /// Due first, then in grace, soonest first.
    pub open: Vec<FlagView>,
    pub decided: Vec<FlagView>,
}

/// Versions published in one month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MonthCount {
    /// The first day of the month.
    pub month: NaiveDate,
    pub versions: i64,
}

/// A mirror registry missing versions its provider's own registry lists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lagging {
    pub integration_id: i64,
    pub integration: String,
    pub registry_host: String,
    pub missing: i64,
}

/// A provider whose latest GitHub release no registry lists, past the lag threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BehindGithub {
    pub integration_id: i64,
    pub integration: String,
    pub tag: String,
    pub published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrySummary {
    pub this_week: i64,
    pub per_month: Vec<MonthCount>,
    pub lagging: Vec<Lagging>,
    #[serde(default)]
    pub behind_github: Vec<BehindGithub>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaitingTask {
    pub task_id: i64,
    pub task: String,
    pub integration_id: i64,
    pub integration: String,
    pub partner: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewQueue {
    pub waiting: i64,
    pub oldest: Option<WaitingTask>,
}

/// Everything on the staff dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffDashboard {
    pub query: DashboardQuery,
    pub integrations: i64,
    pub funnels: Vec<Funnel>,
    pub stalled: Vec<Stalled>,
    pub support: SupportSummary,
    pub flags: FlagSummary,
    pub registry: RegistrySummary,
    pub review: ReviewQueue,
    pub generated_at: DateTime<Utc>,
}

/// One of a partner's integrations, with its progress through its track.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub integration_id: i64,
    pub name: String,
    pub kind: IntegrationKind,
    pub tier: Tier,
    pub stage: Stage,
    /// Position of the stage in the track, from 1.
    pub stage_number: usize,
    pub stages: usize,
    pub accepted: i64,
    pub required: i64,
    /// Tasks of the current stage the partner has to act on (open or changes requested).
    pub waiting_on_partner: Vec<String>,
    /// Tasks reported and waiting for a reviewer.
    pub waiting_on_review: i64,
}

/// Everything on a partner's dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerDashboard {
    pub partner_id: i64,
    pub partner: String,
    pub integrations: Vec<Progress>,
    pub open_issues: Vec<IssueView>,
    pub health: Health,
    pub trend: Vec<WeekPoint>,
    pub flags: Vec<FlagView>,
    pub generated_at: DateTime<Utc>,
}

/// The median of some numbers (NaN-free), for time in stage.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Sorts the compliance table: `worst` (see [`worst_first`]), `best` (its
/// reverse), `name`, `breaches` (most first) or `due` (most due within a day first).
pub fn sort_partners(partners: &mut [PartnerSupport], sort: &str) {
    let by_name = |a: &PartnerSupport, b: &PartnerSupport| a.name.to_lowercase().cmp(&b.name.to_lowercase());
    match sort {
        "best" => {
            worst_first(partners);
            partners.reverse();
        }
        "name" => partners.sort_by(by_name),
        "breaches" => partners.sort_by(|a, b| b.open_breaches.cmp(&a.open_breaches).then(by_name(a, b))),
        "due" => partners.sort_by(|a, b| b.due_24h.cmp(&a.due_24h).then(by_name(a, b))),
        _ => worst_first(partners),
    }
}

/// Sorts partners worst first: lowest compliance, then most open breaches,
/// then most due within a day, then by name; partners with nothing
/// resolved in the window count as fully compliant.
pub fn worst_first(partners: &mut [PartnerSupport]) {
    partners.sort_by(|a, b| {
        let pa = a.percent.unwrap_or(100.0);
        let pb = b.percent.unwrap_or(100.0);
        pa.total_cmp(&pb)
            .then(b.open_breaches.cmp(&a.open_breaches))
            .then(b.due_24h.cmp(&a.due_24h))
            .then(a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        let cases: [(&[f64], Option<f64>); 5] =
            [(&[], None), (&[3.0], Some(3.0)), (&[5.0, 1.0, 3.0], Some(3.0)), (&[4.0, 1.0, 3.0, 2.0], Some(2.5)), (&[f64::NAN], None)];
        for (values, want) in cases {
            assert_eq!(median(values), want, "{values:?}");
        }
    }

    #[test]
    fn stage_targets_round_trip_and_validate() {
        let t = StageTargets::default();
        let pairs = t.to_pairs();
        let back = StageTargets::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        assert_eq!(back, t);
        let changed = StageTargets::from_pairs([("stage_target.prepare", "45"), ("stage_target.support", "9"), ("x", "1")]);
        assert_eq!(changed.days(Stage::Prepare), Some(45));
        assert_eq!(changed.days(Stage::Support), None, "support has no target");

        let input = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let cases: [(&[(&str, &str)], Result<i64, &[&str]>); 5] = [
            (&[("prepare", "10")], Ok(10)),
            (&[("prepare", "0")], Err(&["target.prepare"])),
            (&[("prepare", "366")], Err(&["target.prepare"])),
            (&[("prepare", "ten")], Err(&["target.prepare"])),
            (&[("support", "5"), ("nope", "5")], Err(&["target.nope", "target.support"])),
        ];
        for (pairs, want) in cases {
            let got = StageTargets::validate(&input(pairs));
            match want {
                Ok(days) => assert_eq!(got.expect("valid").days(Stage::Prepare), Some(days)),
                Err(fields) => {
                    let errors = got.expect_err("invalid");
                    assert_eq!(errors.keys().map(String::as_str).collect::<Vec<_>>(), fields, "{pairs:?}");
                }
            }
        }
    }

    #[test]
    fn filters() {
        let q = |track: &str, stage: &str, tier: &str, category: &str, mine: bool| DashboardQuery {
            track: track.into(),
            stage: stage.into(),
            tier: tier.into(),
            category: category.into(),
            mine,
            sort: String::new(),
        };
        let ok = q("provider", "verify", "verified", "", true).validate("Ann@Example.com").expect("valid");
        assert_eq!(ok.kind, Some(IntegrationKind::Provider));
        assert_eq!(ok.stage, Some(Stage::Verify));
        assert_eq!(ok.tier, Some(Tier::Verified));
        assert_eq!(ok.manager_email.as_deref(), Some("ann@example.com"));
        assert_eq!(q("", "", "", "", false).validate("a@b.c").expect("valid"), DashboardFilter { sort: "worst", ..Default::default() });
        let bad_sort = DashboardQuery { sort: "random".into(), ..Default::default() }.validate("a@b.c").expect_err("invalid");
        assert!(bad_sort.contains_key("sort"));
        let bad = q("tractor", "nowhere", "gold", "knitting", false).validate("a@b.c").expect_err("invalid");
        assert_eq!(bad.keys().map(String::as_str).collect::<Vec<_>>(), ["category", "stage", "tier", "track"]);
        let params = q("provider", "", "verified", "", true).params();
        assert_eq!(params.iter().filter(|(_, v)| !v.is_empty()).count(), 3, "{params:?}");
    }

    #[test]
    fn worst_partner_first() {
        let p = |name: &str, percent: Option<f64>, breaches: i64, due: i64| PartnerSupport {
            partner_id: 0,
            slug: name.to_lowercase(),
            name: name.into(),
            resolved: 1,
            within_sla: 0,
            percent,
            open_breaches: breaches,
            due_24h: due,
        };
        let mut list = vec![p("Calm", None, 0, 0), p("Bad", Some(50.0), 0, 0), p("Worse", Some(50.0), 2, 0), p("Fine", Some(95.0), 0, 3)];
        worst_first(&mut list);
        let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["Worse", "Bad", "Fine", "Calm"]);
        let cases: [(&str, [&str; 4]); 5] = [
            ("worst", ["Worse", "Bad", "Fine", "Calm"]),
            ("best", ["Calm", "Fine", "Bad", "Worse"]),
            ("name", ["Bad", "Calm", "Fine", "Worse"]),
            ("breaches", ["Worse", "Bad", "Calm", "Fine"]),
            ("due", ["Fine", "Bad", "Calm", "Worse"]),
        ];
        for (sort, want) in cases {
            sort_partners(&mut list, sort);
            let names: Vec<&str> = list.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(names, want, "{sort}");
        }
    }
}
