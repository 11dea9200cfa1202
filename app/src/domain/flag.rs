//! Tier-downgrade flags, the pure part: which rules an integration breaks
//! ([`findings`]), how a flag moves through preview, grace, exemption and due
//! ([`step`]), and the forms staff fill in (settings, decisions, exemptions).
//! The tracker recommends, staff decide; gathering facts, storing flags and
//! alerting live elsewhere.
//!
//! Decisions callers rely on:
//! - only Official and Verified integrations are subject to flags ([`subject`]);
//! - a rule in [`Mode::Preview`] is evaluated and shown, but its flags never become due;
//! - a kept flag is not raised again for `recheck_after_keep_days`; a downgraded one never
//!   again for the same integration and rule;
//! - time held before an exemption counts when it ends; time held in preview does not
//!   (the partner gets a full grace period once the rule is switched on).

use super::catalog::{IntegrationKind, Tier};
use super::{optional, FieldErrors, Problems};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::RangeInclusive;

crate::domain::catalog::vocabulary!(
    /// What can put an integration's tier in question. Ordered as declared, so
    /// settings, pages and flags list the rules alike.
    #[derive(PartialOrd, Ord)]
    Rule {
        LowCompliance => ("low_compliance", "Compliance below threshold"),
        CriticalBreachOpen => ("critical_breach_open", "Critical breach still open"),
        TierMismatch => ("tier_mismatch", "Registry lists another tier"),
        ProviderGone => ("provider_gone", "Gone from the registry"),
        StaleReleases => ("stale_releases", "No release while breaches are open"),
        EndOfSupport => ("end_of_support", "Partner declared end of support"),
    }
);

crate::domain::catalog::vocabulary!(
    /// How a rule takes part: a new rule can run in preview first, so staff see
    /// what it would flag before partners are held to it.
    Mode {
        On => ("on", "On"),
        Off => ("off", "Off"),
        Preview => ("preview", "Preview"),
    }
);

crate::domain::catalog::vocabulary!(
    /// Where one flag (an integration and a rule) stands.
    FlagState {
        Preview => ("preview", "Preview"),
        Grace => ("grace", "In grace period"),
        Due => ("due", "Due for decision"),
        Exempt => ("exempt", "Exempt"),
        Cleared => ("cleared", "Cleared"),
        Kept => ("kept", "Kept"),
        Downgraded => ("downgraded", "Downgraded"),
    }
);

crate::domain::catalog::vocabulary!(
    /// What staff decided on a flag.
    Outcome {
        Downgrade => ("downgrade", "Downgrade"),
        Keep => ("keep", "Keep"),
    }
);

impl FlagState {
    /// Still waiting for the condition to clear or for a decision; the others are history.
    pub fn is_open(self) -> bool {
        matches!(self, FlagState::Preview | FlagState::Grace | FlagState::Due | FlagState::Exempt)
    }
}

/// Only the tiers a downgrade can take something from are flagged.
pub fn subject(tier: Tier) -> bool {
    matches!(tier, Tier::Official | Tier::Verified)
}

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

/// The program's flag settings, edited by admins and stored in `program_settings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FlagSettings {
    /// The rolling window of the compliance rule, in days.
    pub window_days: i64,
    /// Percent of issues resolved within their SLA below which compliance is low.
    pub compliance_threshold: i64,
    /// Fewer resolved issues than this say too little to flag anyone.
    pub min_issues: i64,
    /// Months (of 30 days) without a release after which open breaches count as neglect.
    pub stale_release_months: i64,
    /// Days a partner has to fix a condition before staff decide; 0 makes flags due at once.
    pub grace_days: i64,
    /// Days a kept flag stays quiet before the rule may raise it again.
    pub recheck_after_keep_days: i64,
    /// Rules left out are On.
    pub modes: BTreeMap<Rule, Mode>,
}

impl Default for FlagSettings {
    fn default() -> Self {
        FlagSettings {
            window_days: 90,
            compliance_threshold: 90,
            min_issues: 5,
            stale_release_months: 6,
            grace_days: 7,
            recheck_after_keep_days: 90,
            modes: Rule::ALL.iter().map(|r| (*r, Mode::On)).collect(),
        }
    }
}

impl FlagSettings {
    /// Keys of `program_settings`: the numbers, then one mode per rule.
    pub const KEYS: [&'static str; 12] = [
        "flags.window_days",
        "flags.compliance_threshold",
        "flags.min_issues",
        "flags.stale_release_months",
        "flags.grace_days",
        "flags.recheck_after_keep_days",
        "flags.mode.low_compliance",
        "flags.mode.critical_breach_open",
        "flags.mode.tier_mismatch",
        "flags.mode.provider_gone",
        "flags.mode.stale_releases",
        "flags.mode.end_of_support",
    ];

    pub fn mode(&self, rule: Rule) -> Mode {
        self.modes.get(&rule).copied().unwrap_or(Mode::On)
    }

    /// From stored key/value pairs; missing or unreadable values keep their
    /// defaults (they were validated when saved).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut s = FlagSettings::default();
        for (key, value) in pairs {
            let value = value.trim();
            let read = |current: i64| value.parse().unwrap_or(current);
            match key {
                "flags.window_days" => s.window_days = read(s.window_days),
                "flags.compliance_threshold" => s.compliance_threshold = read(s.compliance_threshold),
                "flags.min_issues" => s.min_issues = read(s.min_issues),
                "flags.stale_release_months" => s.stale_release_months = read(s.stale_release_months),
                "flags.grace_days" => s.grace_days = read(s.grace_days),
                "flags.recheck_after_keep_days" => s.recheck_after_keep_days = read(s.recheck_after_keep_days),
                _ => {
                    let rule = key.strip_prefix("flags.mode.").and_then(Rule::parse);
                    if let (Some(rule), Some(mode)) = (rule, Mode::parse(value)) {
                        s.modes.insert(rule, mode);
                    }
                }
            }
        }
        s
    }

    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("flags.window_days", self.window_days.to_string()),
            ("flags.compliance_threshold", self.compliance_threshold.to_string()),
            ("flags.min_issues", self.min_issues.to_string()),
            ("flags.stale_release_months", self.stale_release_months.to_string()),
            ("flags.grace_days", self.grace_days.to_string()),
            ("flags.recheck_after_keep_days", self.recheck_after_keep_days.to_string()),
        ];
        pairs.extend(Rule::ALL.iter().map(|r| (mode_key(*r), self.mode(*r).key().to_string())));
        pairs
    }

    /// The settings form, filled in with these values.
    pub fn to_input(&self) -> FlagSettingsInput {
        FlagSettingsInput {
            window_days: self.window_days.to_string(),
            compliance_threshold: self.compliance_threshold.to_string(),
            min_issues: self.min_issues.to_string(),
            stale_release_months: self.stale_release_months.to_string(),
            grace_days: self.grace_days.to_string(),
            recheck_after_keep_days: self.recheck_after_keep_days.to_string(),
            modes: Rule::ALL.iter().map(|r| (r.key().to_string(), self.mode(*r).key().to_string())).collect(),
        }
    }
}

/// `flags.mode.<rule key>`, spelled out so the pairs keep `'static` keys.
fn mode_key(rule: Rule) -> &'static str {
    match rule {
        Rule::LowCompliance => "flags.mode.low_compliance",
        Rule::CriticalBreachOpen => "flags.mode.critical_breach_open",
        Rule::TierMismatch => "flags.mode.tier_mismatch",
        Rule::ProviderGone => "flags.mode.provider_gone",
        Rule::StaleReleases => "flags.mode.stale_releases",
        Rule::EndOfSupport => "flags.mode.end_of_support",
    }
}

/// The settings form as typed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FlagSettingsInput {
    pub window_days: String,
    pub compliance_threshold: String,
    pub min_issues: String,
    pub stale_release_months: String,
    pub grace_days: String,
    pub recheck_after_keep_days: String,
    /// Rule key → mode key; rules left out are On.
    pub modes: BTreeMap<String, String>,
}

impl FlagSettingsInput {
    pub fn validate(&self) -> Result<FlagSettings, FieldErrors> {
        let mut p = Problems::default();
        let mut number = |field: &str, value: &str, range: RangeInclusive<i64>, unit: &str| match value.trim().parse::<i64>() {
            Ok(n) if range.contains(&n) => n,
            _ => {
                p.add(field, format!("a whole number of {unit} from {} to {}", range.start(), range.end()));
                *range.start()
            }
        };
        let window_days = number("window_days", &self.window_days, 7..=730, "days");
        let compliance_threshold = number("compliance_threshold", &self.compliance_threshold, 1..=100, "percent");
        let min_issues = number("min_issues", &self.min_issues, 0..=1000, "issues");
        let stale_release_months = number("stale_release_months", &self.stale_release_months, 1..=60, "months");
        let grace_days = number("grace_days", &self.grace_days, 0..=90, "days");
        let recheck_after_keep_days = number("recheck_after_keep_days", &self.recheck_after_keep_days, 1..=730, "days");
        let mut modes: BTreeMap<Rule, Mode> = Rule::ALL.iter().map(|r| (*r, Mode::On)).collect();
        for (key, value) in &self.modes {
            let field = format!("mode.{}", key.trim());
            match (Rule::parse(key.trim()), Mode::parse(value.trim())) {
                (None, _) => p.add(&field, format!("there is no rule \"{}\"; the rules are {}", key.trim(), Rule::expected())),
                (Some(_), None) => p.add(&field, format!("{}, not \"{}\"", Mode::expected(), value.trim())),
                (Some(rule), Some(mode)) => {
                    modes.insert(rule, mode);
                }
            }
        }
        p.finish(FlagSettings {
            window_days,
            compliance_threshold,
            min_issues,
            stale_release_months,
            grace_days,
            recheck_after_keep_days,
            modes,
        })
    }
}

// ---------------------------------------------------------------------------
// Findings
// ---------------------------------------------------------------------------

/// An open issue the rules point at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueRef {
    pub id: i64,
    /// The GitHub number; `None` for manual issues.
    pub number: Option<i64>,
    pub title: String,
    pub due_at: DateTime<Utc>,
}

/// What the store gathers about one integration for the rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub integration_id: i64,
    pub kind: IntegrationKind,
    pub tier: Tier,
    /// Issues resolved in the window within their SLA.
    pub met: u32,
    /// Issues resolved in the window; 0 when there is no data.
    pub total: u32,
    pub open_critical_breaches: Vec<IssueRef>,
    /// Issues of any severity still open and past due.
    pub open_breaches: u32,
    /// The poller's detail, e.g. "registry says community, we expect verified".
    pub registry_tier_mismatch: Option<String>,
    pub provider_gone_since: Option<DateTime<Utc>>,
    /// The newest version's publication (or first sighting); `None`: never released.
    pub last_release_at: Option<DateTime<Utc>>,
    /// The partner's declaration; a future date is only announced.
    pub end_of_support_at: Option<DateTime<Utc>>,
}

impl Facts {
    /// An integration with nothing against it, for the store to fill in.
    pub fn new(integration_id: i64, kind: IntegrationKind, tier: Tier) -> Self {
        Facts {
            integration_id,
            kind,
            tier,
            met: 0,
            total: 0,
            open_critical_breaches: Vec::new(),
            open_breaches: 0,
            registry_tier_mismatch: None,
            provider_gone_since: None,
            last_release_at: None,
            end_of_support_at: None,
        }
    }
}

/// Something shown as the grounds of a finding; `link` is an app path such as `/issues/42`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub label: String,
    pub link: Option<String>,
}

/// A rule whose condition holds, said so partners and staff know what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub rule: Rule,
    pub reason: String,
    pub evidence: Vec<Evidence>,
    pub clears_when: String,
}

/// One finding per rule that holds and is not switched off, in the order of [`Rule::ALL`].
/// Tiers that are not [`subject`] to flags yield none.
pub fn findings(facts: &Facts, settings: &FlagSettings, now: DateTime<Utc>) -> Vec<Finding> {
    if !subject(facts.tier) {
        return Vec::new();
    }
    Rule::ALL.iter().filter(|rule| settings.mode(**rule) != Mode::Off).filter_map(|rule| finding(*rule, facts, settings, now)).collect()
}

fn finding(rule: Rule, facts: &Facts, settings: &FlagSettings, now: DateTime<Utc>) -> Option<Finding> {
    let integration = || Some(format!("/integrations/{}", facts.integration_id));
    let found = |reason: String, evidence: Vec<Evidence>, clears_when: String| Some(Finding { rule, reason, evidence, clears_when });
    match rule {
        Rule::LowCompliance => {
            let (met, total) = (i64::from(facts.met.min(facts.total)), i64::from(facts.total));
            let threshold = settings.compliance_threshold;
            if total == 0 || total < settings.min_issues || met * 100 >= threshold * total {
                return None;
            }
            // Rounded down, so a figure shown as "below 90 %" never reads 90 %.
            let percent = met * 100 / total;
            let window = plural(settings.window_days, "day", "days");
            found(
                format!("SLA compliance {percent} % ({met} of {}) over {window}, below {threshold} %", plural(total, "issue", "issues")),
                vec![Evidence {
                    label: format!("{met} of {} resolved within their SLA", plural(total, "issue", "issues")),
                    link: integration(),
                }],
                format!("bring compliance back to {threshold} % or more over {window}"),
            )
        }
        Rule::CriticalBreachOpen => {
            let issues = &facts.open_critical_breaches;
            if issues.is_empty() {
                return None;
            }
            let reason = match issues.len() {
                1 => "1 critical issue breached its SLA and is still open".to_string(),
                n => format!("{n} critical issues breached their SLA and are still open"),
            };
            let evidence = issues
                .iter()
                .map(|i| {
                    let name = match i.number {
                        Some(n) => format!("#{n} {}", i.title),
                        None => format!("Issue {}", i.title),
                    };
                    Evidence { label: format!("{name} (due {})", day(i.due_at)), link: Some(format!("/issues/{}", i.id)) }
                })
                .collect();
            let names: Vec<String> = issues
                .iter()
                .map(|i| match i.number {
                    Some(n) => format!("#{n}"),
                    None => format!("\"{}\"", i.title),
                })
                .collect();
            let which = if names.len() == 1 { "issue" } else { "issues" };
            found(reason, evidence, format!("resolve {which} {}", and_list(&names)))
        }
        Rule::TierMismatch => {
            let detail = facts.registry_tier_mismatch.as_deref()?;
            let reason = optional(detail).unwrap_or_else(|| "the registry lists another tier".to_string());
            let tier = facts.tier.label();
            found(
                reason,
                vec![Evidence { label: format!("Tracked here as {tier}"), link: integration() }],
                format!("the registry lists it as {tier} again, or correct the tier here"),
            )
        }
        Rule::ProviderGone => {
            let since = day(facts.provider_gone_since?);
            found(
                format!("not listed on the registry since {since}"),
                vec![Evidence { label: format!("Missing from the registry since {since}"), link: integration() }],
                "publish it on the registry again".to_string(),
            )
        }
        Rule::StaleReleases => {
            // Run tasks are not released on a registry.
            if facts.open_breaches == 0 || facts.kind != IntegrationKind::Provider {
                return None;
            }
            let breaches = match facts.open_breaches {
                1 => "1 SLA breach is open".to_string(),
                n => format!("{n} SLA breaches are open"),
            };
            let (reason, label) = match facts.last_release_at {
                Some(last) if now - last <= days(settings.stale_release_months.saturating_mul(30)) => return None,
                Some(last) => {
                    let months = plural((now - last).num_days() / 30, "month", "months");
                    (format!("no release for {months} (last {}) while {breaches}", day(last)), format!("Last release {}", day(last)))
                }
                None => (format!("never released while {breaches}"), "No release on record".to_string()),
            };
            found(reason, vec![Evidence { label, link: integration() }], "publish a new version or resolve the open breaches".to_string())
        }
        Rule::EndOfSupport => {
            let at = facts.end_of_support_at.filter(|at| *at <= now)?;
            found(
                format!("partner declared end of support on {}", day(at)),
                vec![Evidence { label: format!("End of support from {}", day(at)), link: integration() }],
                "withdraw the end-of-support declaration".to_string(),
            )
        }
    }
}

/// "1 issue", "11 issues".
fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// "a", "a and b", "a, b and c".
fn and_list(items: &[String]) -> String {
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => items.join(""),
    }
}

/// The one date format of flag texts.
fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// Days from settings, bounded so a stray stored value cannot overflow the clock.
fn days(n: i64) -> Duration {
    Duration::days(n.clamp(0, 36_500))
}

// ---------------------------------------------------------------------------
// The state machine
// ---------------------------------------------------------------------------

/// The latest flag of one integration and rule, open or closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Current {
    pub state: FlagState,
    /// When the condition was first found; kept across state changes.
    pub held_since: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub decided_at: Option<DateTime<Utc>>,
    /// A decision that no longer applies (see [`superseded`]): it holds
    /// nothing back.
    pub superseded: bool,
}

/// Whether a decided flag no longer applies: a downgrade stands only while
/// the integration keeps the tier it gave (verified again later, through
/// the pipeline's Verify or by staff, it is judged afresh by every rule);
/// a keep only while its condition holds (`lapsed`: found cleared since).
pub fn superseded(state: FlagState, tier_after: Option<Tier>, tier_now: Tier, lapsed: bool) -> bool {
    match state {
        FlagState::Downgraded => tier_after.is_some_and(|t| t != tier_now),
        FlagState::Kept => lapsed,
        _ => false,
    }
}

/// Staff excused an integration from a rule until a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exemption {
    pub until: DateTime<Utc>,
    pub reason: String,
}

/// What to do with one integration and rule after an evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    Nothing,
    /// Open a new flag (in Preview, Grace, Exempt, or Due when `grace_days` is 0).
    Raise {
        state: FlagState,
        due_at: Option<DateTime<Utc>>,
    },
    /// An open flag changes state; its `held_since` stays, so time already held counts.
    Move {
        to: FlagState,
        due_at: Option<DateTime<Utc>>,
    },
    /// The condition no longer holds (or the rule was switched off): the open flag
    /// closes itself with this note.
    Clear {
        note: String,
    },
    /// The condition of a kept flag no longer holds: the keep stops holding
    /// the rule back.
    Lapse,
}

/// The next step for one integration and rule. `current` is its latest flag (closed ones
/// only matter for keep and downgrade suppression), `holds` whether the rule's condition
/// holds now, `exemption` the latest exemption of this rule (ended ones are ignored).
pub fn step(
    current: Option<&Current>,
    holds: bool,
    mode: Mode,
    exemption: Option<&Exemption>,
    settings: &FlagSettings,
    now: DateTime<Utc>,
) -> Step {
    let open = current.filter(|c| c.state.is_open());
    let exempt = exemption.is_some_and(|e| e.until > now);
    let grace = days(settings.grace_days);
    match open {
        Some(_) if mode == Mode::Off => Step::Clear { note: "rule switched off".into() },
        _ if mode == Mode::Off => Step::Nothing,
        Some(c) if !holds => Step::Clear {
            note: if c.state == FlagState::Due {
                "condition cleared before a decision"
            } else {
                "condition cleared within the grace period"
            }
            .into(),
        },
        Some(c) => {
            let (to, due_at) = if mode == Mode::Preview {
                (FlagState::Preview, None)
            } else if exempt {
                (FlagState::Exempt, None)
            } else {
                match c.state {
                    // Switched on: the partner gets a full grace period from now.
                    FlagState::Preview => clock(now + grace, now),
                    // Exemption over: the time held before it counts.
                    FlagState::Exempt => clock(c.held_since + grace, now),
                    FlagState::Grace => clock(c.due_at.unwrap_or(c.held_since + grace), now),
                    FlagState::Due | FlagState::Cleared | FlagState::Kept | FlagState::Downgraded => return Step::Nothing,
                }
            };
            if to == c.state {
                Step::Nothing
            } else {
                Step::Move { to, due_at }
            }
        }
        // A keep holds while its condition does: once it clears, the next occurrence is a new flag.
        None if !holds && current.is_some_and(|c| c.state == FlagState::Kept && !c.superseded) => Step::Lapse,
        None if !holds || suppressed(current, settings, now) => Step::Nothing,
        None => {
            let (state, due_at) = if mode == Mode::Preview {
                (FlagState::Preview, None)
            } else if exempt {
                (FlagState::Exempt, None)
            } else {
                clock(now + grace, now)
            };
            Step::Raise { state, due_at }
        }
    }
}

/// Grace until `due`, due from then on.
fn clock(due: DateTime<Utc>, now: DateTime<Utc>) -> (FlagState, Option<DateTime<Utc>>) {
    (if due <= now { FlagState::Due } else { FlagState::Grace }, Some(due))
}

/// A decision holds: a kept flag for a while, a downgrade while its tier stands.
fn suppressed(last: Option<&Current>, settings: &FlagSettings, now: DateTime<Utc>) -> bool {
    match last {
        Some(c) if c.superseded => false,
        Some(c) if c.state == FlagState::Downgraded => true,
        Some(c) if c.state == FlagState::Kept => c.decided_at.unwrap_or(c.held_since) + days(settings.recheck_after_keep_days) > now,
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// Decisions and exemptions
// ---------------------------------------------------------------------------

/// The longest reason a decision or exemption keeps.
const MAX_REASON: usize = 2000;

/// The decision form as typed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecisionInput {
    /// `downgrade` or `keep`.
    pub outcome: String,
    /// The tier to downgrade to: `community` (the default) or `archived`.
    pub tier: String,
    pub reason: String,
}

/// A validated decision on an open flag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub outcome: Outcome,
    /// Set for a downgrade only.
    pub new_tier: Option<Tier>,
    pub reason: String,
}

impl DecisionInput {
    pub fn validate(&self, current_tier: Tier, state: FlagState) -> Result<Decision, FieldErrors> {
        let mut p = Problems::default();
        if !state.is_open() {
            p.add("outcome", "this flag is already closed");
            return Err(p.0);
        }
        let outcome = Outcome::parse(self.outcome.trim());
        if outcome.is_none() {
            p.add("outcome", Outcome::expected());
        }
        let reason = self.reason.trim().to_string();
        if reason.chars().count() > MAX_REASON {
            p.add("reason", format!("at most {MAX_REASON} characters"));
        }
        let new_tier = match outcome {
            Some(Outcome::Downgrade) => {
                let tier = match optional(&self.tier) {
                    None => Some(Tier::Community),
                    Some(key) => match Tier::parse(&key) {
                        Some(t @ (Tier::Community | Tier::Archived)) => Some(t),
                        _ => {
                            p.add("tier", "community or archived");
                            None
                        }
                    },
                };
                match tier {
                    Some(t) if t == current_tier => p.add("tier", format!("the integration is already {}", t.label())),
                    Some(t) if rank(t) < rank(current_tier) => {
                        p.add("tier", format!("{} to {} is not a downgrade", current_tier.label(), t.label()))
                    }
                    _ => {}
                }
                tier
            }
            Some(Outcome::Keep) => {
                if reason.is_empty() {
                    p.add("reason", "say why the integration keeps its tier");
                }
                None
            }
            None => None,
        };
        p.finish(Decision { outcome: outcome.unwrap_or(Outcome::Keep), new_tier, reason })
    }
}

/// Lower tiers come later in [`Tier::ALL`].
fn rank(tier: Tier) -> usize {
    Tier::ALL.iter().position(|t| *t == tier).unwrap_or(0)
}

/// The exemption form as typed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExemptionInput {
    pub rule: String,
    /// The last exempt day, `YYYY-MM-DD` (UTC).
    pub until: String,
    pub reason: String,
}

/// How far ahead an exemption may reach: a longer one is a policy change, not an exemption.
const MAX_EXEMPTION_DAYS: i64 = 365;

impl ExemptionInput {
    /// The rule, the end of the exemption (the midnight UTC after `until`, so that whole
    /// day is exempt) and the reason.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<(Rule, DateTime<Utc>, String), FieldErrors> {
        let mut p = Problems::default();
        let rule = Rule::parse(self.rule.trim());
        if rule.is_none() {
            p.add("rule", format!("one of {}", Rule::expected()));
        }
        let today = now.date_naive();
        let until = match NaiveDate::parse_from_str(self.until.trim(), "%Y-%m-%d") {
            Err(_) => {
                p.add("until", "a date, e.g. 2027-01-31");
                None
            }
            Ok(d) if d <= today => {
                p.add("until", "must be after today");
                None
            }
            Ok(d) if (d - today).num_days() > MAX_EXEMPTION_DAYS => {
                p.add("until", format!("at most {MAX_EXEMPTION_DAYS} days ahead"));
                None
            }
            Ok(d) => d.succ_opt().map(|next| next.and_time(NaiveTime::MIN).and_utc()),
        };
        let reason = self.reason.trim().to_string();
        if reason.is_empty() {
            p.add("reason", "say why the integration is exempt");
        } else if reason.chars().count() > MAX_REASON {
            p.add("reason", format!("at most {MAX_REASON} characters"));
        }
        match (rule, until) {
            (Some(rule), Some(until)) => p.finish((rule, until, reason)),
            _ => Err(p.0),
        }
    }
}

// ---- what pages and the API show ----

/// A flag as pages and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlagView {
    pub id: i64,
    pub rule: Rule,
    pub state: FlagState,
    /// The integration's tier now.
    pub tier: Tier,
    pub integration_id: i64,
    pub integration: String,
    pub partner_id: i64,
    pub partner: String,
    pub reason: String,
    pub evidence: Vec<Evidence>,
    /// What the partner can do to clear it.
    pub clears_when: String,
    pub held_since: DateTime<Utc>,
    pub due_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub close_note: Option<String>,
    pub decided_by: Option<String>,
    pub tier_before: Option<String>,
    pub tier_after: Option<String>,
    pub exempt_until: Option<DateTime<Utc>>,
    pub exempt_reason: Option<String>,
}

/// Filters of flag lists, as the query string gives them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FlagQuery {
    /// open, closed, decided, all, or one state's key; empty = all.
    pub state: String,
    pub rule: String,
    pub partner_id: Option<i64>,
    pub integration_id: Option<i64>,
    /// Only partners whose alliance manager is the viewer.
    pub mine: bool,
    /// With `decided`: only flags closed in the last N days.
    pub decided_within_days: Option<i64>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

/// A running exemption.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExemptionView {
    pub rule: Rule,
    pub until: DateTime<Utc>,
    pub reason: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn now() -> DateTime<Utc> {
        at("2026-11-23T12:00:00Z")
    }

    fn ago(d: i64) -> DateTime<Utc> {
        now() - Duration::days(d)
    }

    fn issue(id: i64, number: Option<i64>, title: &str) -> IssueRef {
        IssueRef { id, number, title: title.into(), due_at: at("2026-11-20T09:00:00Z") }
    }

    /// A verified provider with a clean record.
    fn clean() -> Facts {
        Facts { met: 10, total: 10, last_release_at: Some(ago(10)), ..Facts::new(7, IntegrationKind::Provider, Tier::Verified) }
    }

    fn rules(facts: &Facts, settings: &FlagSettings) -> Vec<Rule> {
        findings(facts, settings, now()).iter().map(|f| f.rule).collect()
    }

    #[test]
    fn vocabularies() {
        assert_eq!(Rule::parse("tier_mismatch"), Some(Rule::TierMismatch));
        assert_eq!(Mode::expected(), "on, off or preview");
        let open: Vec<FlagState> = FlagState::ALL.iter().copied().filter(|s| s.is_open()).collect();
        assert_eq!(open, [FlagState::Preview, FlagState::Grace, FlagState::Due, FlagState::Exempt]);
        assert!(Rule::LowCompliance < Rule::EndOfSupport);
        let subjects: Vec<Tier> = Tier::ALL.iter().copied().filter(|t| subject(*t)).collect();
        assert_eq!(subjects, [Tier::Official, Tier::Verified]);
    }

    #[test]
    fn each_rule_holds_or_not() {
        let cases: &[(&str, fn(&mut Facts), &[Rule])] = &[
            ("clean record", |_| {}, &[]),
            ("no data", |f| (f.met, f.total) = (0, 0), &[]),
            ("exactly at the threshold", |f| (f.met, f.total) = (9, 10), &[]),
            ("just below the threshold", |f| (f.met, f.total) = (89, 100), &[Rule::LowCompliance]),
            ("too few issues to say", |f| (f.met, f.total) = (0, 4), &[]),
            ("exactly min_issues", |f| (f.met, f.total) = (0, 5), &[Rule::LowCompliance]),
            ("one critical breach", |f| f.open_critical_breaches = vec![issue(1, Some(12), "x")], &[Rule::CriticalBreachOpen]),
            ("tier mismatch", |f| f.registry_tier_mismatch = Some("registry says community".into()), &[Rule::TierMismatch]),
            ("gone", |f| f.provider_gone_since = Some(ago(3)), &[Rule::ProviderGone]),
            ("breaches, recent release", |f| f.open_breaches = 2, &[]),
            ("stale but no breaches", |f| f.last_release_at = Some(ago(400)), &[]),
            ("breaches, release exactly 6 months ago", |f| (f.open_breaches, f.last_release_at) = (1, Some(ago(180))), &[]),
            (
                "breaches, release a second past 6 months",
                |f| (f.open_breaches, f.last_release_at) = (1, Some(ago(180) - Duration::seconds(1))),
                &[Rule::StaleReleases],
            ),
            ("breaches, never released", |f| (f.open_breaches, f.last_release_at) = (1, None), &[Rule::StaleReleases]),
            (
                "a run task with breaches is never released on a registry",
                |f| (f.kind, f.open_breaches, f.last_release_at) = (IntegrationKind::RunTask, 1, None),
                &[],
            ),
            ("end of support today", |f| f.end_of_support_at = Some(now()), &[Rule::EndOfSupport]),
            ("end of support announced", |f| f.end_of_support_at = Some(now() + Duration::days(30)), &[]),
            (
                "everything at once, listed in rule order",
                |f| {
                    (f.met, f.total, f.open_breaches, f.last_release_at) = (0, 10, 1, None);
                    f.open_critical_breaches = vec![issue(1, None, "x")];
                    f.registry_tier_mismatch = Some(String::new());
                    f.provider_gone_since = Some(ago(1));
                    f.end_of_support_at = Some(ago(1));
                },
                Rule::ALL,
            ),
        ];
        let settings = FlagSettings::default();
        for (what, change, want) in cases {
            let mut facts = clean();
            change(&mut facts);
            assert_eq!(rules(&facts, &settings), *want, "{what}");
            for tier in [Tier::Community, Tier::Archived] {
                assert_eq!(rules(&Facts { tier, ..facts.clone() }, &settings), Vec::<Rule>::new(), "{what} as {tier}");
            }
            assert_eq!(rules(&Facts { tier: Tier::Official, ..facts.clone() }, &settings), *want, "{what} as official");
        }
    }

    #[test]
    fn modes_switch_rules_off_but_not_preview() {
        let mut facts = clean();
        facts.provider_gone_since = Some(ago(1));
        facts.end_of_support_at = Some(ago(1));
        let mut settings = FlagSettings::default();
        settings.modes.insert(Rule::ProviderGone, Mode::Preview);
        assert_eq!(rules(&facts, &settings), [Rule::ProviderGone, Rule::EndOfSupport]);
        settings.modes.insert(Rule::EndOfSupport, Mode::Off);
        assert_eq!(rules(&facts, &settings), [Rule::ProviderGone]);
        settings.modes.clear();
        assert_eq!(settings.mode(Rule::EndOfSupport), Mode::On);
    }

    #[test]
    fn findings_say_why_and_what_clears_them() {
        let settings = FlagSettings::default();
        let one = |change: fn(&mut Facts)| {
            let mut facts = clean();
            change(&mut facts);
            let mut all = findings(&facts, &settings, now());
            assert_eq!(all.len(), 1);
            all.remove(0)
        };
        let cases: &[(fn(&mut Facts), &str, &str)] = &[
            (
                |f| (f.met, f.total) = (9, 11),
                "SLA compliance 81 % (9 of 11 issues) over 90 days, below 90 %",
                "bring compliance back to 90 % or more over 90 days",
            ),
            (
                |f| f.open_critical_breaches = vec![issue(4, Some(123), "Crash")],
                "1 critical issue breached its SLA and is still open",
                "resolve issue #123",
            ),
            (
                |f| f.open_critical_breaches = vec![issue(4, Some(123), "Crash"), issue(5, Some(124), "Leak")],
                "2 critical issues breached their SLA and are still open",
                "resolve issues #123 and #124",
            ),
            (
                |f| f.open_critical_breaches = vec![issue(4, Some(1), "a"), issue(5, None, "Portal down"), issue(6, Some(3), "c")],
                "3 critical issues breached their SLA and are still open",
                "resolve issues #1, \"Portal down\" and #3",
            ),
            (
                |f| f.registry_tier_mismatch = Some(" registry says community, we expect verified ".into()),
                "registry says community, we expect verified",
                "the registry lists it as Verified again, or correct the tier here",
            ),
            (
                |f| f.provider_gone_since = Some(at("2026-11-01T08:00:00Z")),
                "not listed on the registry since 2026-11-01",
                "publish it on the registry again",
            ),
            (
                |f| (f.open_breaches, f.last_release_at) = (3, Some(at("2026-03-01T00:00:00Z"))),
                "no release for 8 months (last 2026-03-01) while 3 SLA breaches are open",
                "publish a new version or resolve the open breaches",
            ),
            (
                |f| (f.open_breaches, f.last_release_at) = (1, None),
                "never released while 1 SLA breach is open",
                "publish a new version or resolve the open breaches",
            ),
            (
                |f| f.end_of_support_at = Some(at("2026-10-31T00:00:00Z")),
                "partner declared end of support on 2026-10-31",
                "withdraw the end-of-support declaration",
            ),
        ];
        for (change, reason, clears_when) in cases {
            let f = one(*change);
            assert_eq!((f.reason.as_str(), f.clears_when.as_str()), (*reason, *clears_when));
            assert!(!f.evidence.is_empty(), "{reason}");
        }
        let f = one(|f| f.open_critical_breaches = vec![issue(4, Some(123), "Crash"), issue(5, None, "Portal down")]);
        assert_eq!(
            f.evidence,
            [
                Evidence { label: "#123 Crash (due 2026-11-20)".into(), link: Some("/issues/4".into()) },
                Evidence { label: "Issue Portal down (due 2026-11-20)".into(), link: Some("/issues/5".into()) },
            ]
        );
        assert_eq!(one(|f| f.provider_gone_since = Some(ago(1))).evidence[0].link.as_deref(), Some("/integrations/7"));
    }

    fn flag(state: FlagState, held_days_ago: i64, due_in_days: Option<i64>) -> Current {
        Current {
            state,
            held_since: ago(held_days_ago),
            due_at: due_in_days.map(|d| now() + Duration::days(d)),
            decided_at: None,
            superseded: false,
        }
    }

    fn decided(state: FlagState, days_ago: i64) -> Current {
        Current { decided_at: Some(ago(days_ago)), ..flag(state, days_ago + 10, None) }
    }

    #[test]
    fn flags_move_through_grace_exemption_and_decisions() {
        use FlagState::*;
        let s = FlagSettings::default();
        let exempt = Exemption { until: now() + Duration::days(30), reason: "migration".into() };
        let ended = Exemption { until: now(), reason: "migration".into() };
        let later = |d: i64| Some(now() + Duration::days(d));
        let clear = |note: &str| Step::Clear { note: note.into() };
        let cases: &[(&str, Option<Current>, bool, Mode, Option<&Exemption>, Step)] = &[
            ("nothing holds", None, false, Mode::On, None, Step::Nothing),
            ("raise into grace", None, true, Mode::On, None, Step::Raise { state: Grace, due_at: later(7) }),
            ("raise in preview", None, true, Mode::Preview, None, Step::Raise { state: Preview, due_at: None }),
            ("raise as exempt", None, true, Mode::On, Some(&exempt), Step::Raise { state: Exempt, due_at: None }),
            ("an ended exemption does not count", None, true, Mode::On, Some(&ended), Step::Raise { state: Grace, due_at: later(7) }),
            ("off raises nothing", None, true, Mode::Off, None, Step::Nothing),
            ("still in grace", Some(flag(Grace, 3, Some(4))), true, Mode::On, None, Step::Nothing),
            ("due at due_at", Some(flag(Grace, 7, Some(0))), true, Mode::On, None, Step::Move { to: Due, due_at: later(0) }),
            ("due stays due", Some(flag(Due, 9, Some(-2))), true, Mode::On, None, Step::Nothing),
            ("preview stays preview", Some(flag(Preview, 40, None)), true, Mode::Preview, None, Step::Nothing),
            (
                "preview switched on: a full grace period",
                Some(flag(Preview, 40, None)),
                true,
                Mode::On,
                None,
                Step::Move { to: Grace, due_at: later(7) },
            ),
            ("due switched to preview", Some(flag(Due, 9, Some(-2))), true, Mode::Preview, None, Step::Move { to: Preview, due_at: None }),
            ("grace cleared", Some(flag(Grace, 3, Some(4))), false, Mode::On, None, clear("condition cleared within the grace period")),
            (
                "preview cleared",
                Some(flag(Preview, 3, None)),
                false,
                Mode::Preview,
                None,
                clear("condition cleared within the grace period"),
            ),
            (
                "exempt cleared",
                Some(flag(Exempt, 3, None)),
                false,
                Mode::On,
                Some(&exempt),
                clear("condition cleared within the grace period"),
            ),
            ("due cleared", Some(flag(Due, 9, Some(-2))), false, Mode::On, None, clear("condition cleared before a decision")),
            ("switched off", Some(flag(Due, 9, Some(-2))), true, Mode::Off, None, clear("rule switched off")),
            ("due becomes exempt", Some(flag(Due, 9, Some(-2))), true, Mode::On, Some(&exempt), Step::Move { to: Exempt, due_at: None }),
            ("grace becomes exempt", Some(flag(Grace, 3, Some(4))), true, Mode::On, Some(&exempt), Step::Move { to: Exempt, due_at: None }),
            ("exempt stays exempt", Some(flag(Exempt, 3, None)), true, Mode::On, Some(&exempt), Step::Nothing),
            (
                "exemption ended after the grace period: due",
                Some(flag(Exempt, 20, None)),
                true,
                Mode::On,
                Some(&ended),
                Step::Move { to: Due, due_at: later(-13) },
            ),
            (
                "exemption ended within the grace period: grace for what is left",
                Some(flag(Exempt, 2, None)),
                true,
                Mode::On,
                None,
                Step::Move { to: Grace, due_at: later(5) },
            ),
            ("kept recently: quiet", Some(decided(Kept, 30)), true, Mode::On, None, Step::Nothing),
            (
                "kept 90 days ago: raised again",
                Some(decided(Kept, 90)),
                true,
                Mode::On,
                None,
                Step::Raise { state: Grace, due_at: later(7) },
            ),
            ("kept, in preview: quiet", Some(decided(Kept, 89)), true, Mode::Preview, None, Step::Nothing),
            ("downgraded: not while its tier stands", Some(decided(Downgraded, 1000)), true, Mode::On, None, Step::Nothing),
            (
                "downgraded, then verified again: raised again",
                Some(Current { superseded: true, ..decided(Downgraded, 400) }),
                true,
                Mode::On,
                None,
                Step::Raise { state: Grace, due_at: later(7) },
            ),
            ("cleared: raised again", Some(decided(Cleared, 1)), true, Mode::On, None, Step::Raise { state: Grace, due_at: later(7) }),
            ("kept, and the condition cleared: the keep lapses", Some(decided(Kept, 200)), false, Mode::On, None, Step::Lapse),
            (
                "kept, lapsed, holding again: raised again",
                Some(Current { superseded: true, ..decided(Kept, 10) }),
                true,
                Mode::On,
                None,
                Step::Raise { state: Grace, due_at: later(7) },
            ),
            (
                "kept, lapsed, not holding: nothing more",
                Some(Current { superseded: true, ..decided(Kept, 10) }),
                false,
                Mode::On,
                None,
                Step::Nothing,
            ),
            ("downgraded and not holding", Some(decided(Downgraded, 200)), false, Mode::On, None, Step::Nothing),
            ("closed and switched off", Some(decided(Cleared, 1)), true, Mode::Off, None, Step::Nothing),
        ];
        for (what, current, holds, mode, exemption, want) in cases {
            assert_eq!(step(current.as_ref(), *holds, *mode, *exemption, &s, now()), *want, "{what}");
        }
    }

    #[test]
    fn a_downgrade_stands_while_its_tier_does() {
        use FlagState::*;
        let cases = [
            (Downgraded, Some(Tier::Community), Tier::Community, false),
            (Downgraded, Some(Tier::Archived), Tier::Archived, false),
            (Downgraded, Some(Tier::Community), Tier::Verified, true),
            (Downgraded, Some(Tier::Community), Tier::Official, true),
            (Downgraded, Some(Tier::Community), Tier::Archived, true),
            // Older rows without the tier they gave: they stand.
            (Downgraded, None, Tier::Verified, false),
            (Kept, Some(Tier::Verified), Tier::Community, false),
            (Cleared, None, Tier::Verified, false),
        ];
        assert!(superseded(Kept, Some(Tier::Verified), Tier::Verified, true), "a keep whose condition cleared");
        assert!(!superseded(Downgraded, Some(Tier::Community), Tier::Community, true), "lapsing is for keeps");
        for (state, after, now_tier, want) in cases {
            assert_eq!(superseded(state, after, now_tier, false), want, "{state:?} {after:?} {now_tier:?}");
        }
    }

    #[test]
    fn no_grace_period_means_due_at_once() {
        let s = FlagSettings { grace_days: 0, ..FlagSettings::default() };
        let cases: &[(Option<Current>, Option<Exemption>, Step)] = &[
            (None, None, Step::Raise { state: FlagState::Due, due_at: Some(now()) }),
            (Some(flag(FlagState::Preview, 5, None)), None, Step::Move { to: FlagState::Due, due_at: Some(now()) }),
            (Some(flag(FlagState::Exempt, 5, None)), None, Step::Move { to: FlagState::Due, due_at: Some(ago(5)) }),
            (
                None,
                Some(Exemption { until: now() + Duration::days(1), reason: "x".into() }),
                Step::Raise { state: FlagState::Exempt, due_at: None },
            ),
        ];
        for (current, exemption, want) in cases {
            assert_eq!(step(current.as_ref(), true, Mode::On, exemption.as_ref(), &s, now()), *want, "{current:?} {exemption:?}");
        }
    }

    #[test]
    fn settings_round_trip_and_validate() {
        let mut s = FlagSettings { grace_days: 0, compliance_threshold: 95, ..FlagSettings::default() };
        s.modes.insert(Rule::StaleReleases, Mode::Preview);
        s.modes.insert(Rule::TierMismatch, Mode::Off);
        let pairs = s.to_pairs();
        let keys: Vec<&str> = pairs.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, FlagSettings::KEYS);
        for rule in Rule::ALL {
            assert_eq!(mode_key(*rule), format!("flags.mode.{}", rule.key()));
        }
        assert_eq!(FlagSettings::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str()))), s);
        // Values this build cannot read keep their defaults.
        let odd =
            FlagSettings::from_pairs([("flags.grace_days", "soon"), ("flags.mode.tier_mismatch", "maybe"), ("flags.mode.nope", "off")]);
        assert_eq!(odd, FlagSettings::default());

        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"stale_releases\":\"preview\""), "{json}");
        assert_eq!(serde_json::from_str::<FlagSettings>(&json).unwrap(), s);

        assert_eq!(s.to_input().validate(), Ok(s.clone()));
        let partial = FlagSettingsInput { modes: BTreeMap::new(), ..s.to_input() };
        assert_eq!(partial.validate().unwrap().mode(Rule::TierMismatch), Mode::On);

        let good = FlagSettings::default().to_input();
        let cases: &[(FlagSettingsInput, &[&str])] = &[
            (FlagSettingsInput { window_days: "6".into(), ..good.clone() }, &["window_days"]),
            (FlagSettingsInput { window_days: "731".into(), ..good.clone() }, &["window_days"]),
            (FlagSettingsInput { compliance_threshold: "0".into(), ..good.clone() }, &["compliance_threshold"]),
            (FlagSettingsInput { compliance_threshold: "90.5".into(), ..good.clone() }, &["compliance_threshold"]),
            (FlagSettingsInput { min_issues: "-1".into(), ..good.clone() }, &["min_issues"]),
            (FlagSettingsInput { stale_release_months: "61".into(), ..good.clone() }, &["stale_release_months"]),
            (FlagSettingsInput { grace_days: "91".into(), ..good.clone() }, &["grace_days"]),
            (FlagSettingsInput { recheck_after_keep_days: "0".into(), ..good.clone() }, &["recheck_after_keep_days"]),
            (
                FlagSettingsInput {
                    modes: [("nope".to_string(), "on".to_string()), ("provider_gone".to_string(), "sometimes".to_string())].into(),
                    ..good.clone()
                },
                &["mode.nope", "mode.provider_gone"],
            ),
            (
                FlagSettingsInput::default(),
                &["compliance_threshold", "grace_days", "min_issues", "recheck_after_keep_days", "stale_release_months", "window_days"],
            ),
        ];
        for (input, want) in cases {
            let errors = input.validate().unwrap_err();
            let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
            assert_eq!(fields, *want, "{input:?}");
        }
        let ok = FlagSettingsInput { min_issues: " 0 ".into(), grace_days: "0".into(), ..good.clone() };
        assert_eq!(ok.validate().map(|s| (s.min_issues, s.grace_days)), Ok((0, 0)));
        let errors = FlagSettingsInput { grace_days: "x".into(), ..good }.validate().unwrap_err();
        assert_eq!(errors["grace_days"], ["a whole number of days from 0 to 90"]);
    }

    #[test]
    fn decisions_are_validated() {
        let input =
            |outcome: &str, tier: &str, reason: &str| DecisionInput { outcome: outcome.into(), tier: tier.into(), reason: reason.into() };
        let long = "x".repeat(2001);
        let cases: &[(DecisionInput, Tier, FlagState, Result<(Outcome, Option<Tier>), &[&str]>)] = &[
            (input("downgrade", "", ""), Tier::Verified, FlagState::Due, Ok((Outcome::Downgrade, Some(Tier::Community)))),
            (input("downgrade", "archived", "gone"), Tier::Official, FlagState::Grace, Ok((Outcome::Downgrade, Some(Tier::Archived)))),
            (input("keep", "", "fixing it this week"), Tier::Verified, FlagState::Due, Ok((Outcome::Keep, None))),
            (input("keep", "archived", "ok"), Tier::Verified, FlagState::Exempt, Ok((Outcome::Keep, None))),
            (input("keep", "", " "), Tier::Verified, FlagState::Due, Err(&["reason"])),
            (input("keep", "", &long), Tier::Verified, FlagState::Due, Err(&["reason"])),
            (input("downgrade", "", &long), Tier::Verified, FlagState::Due, Err(&["reason"])),
            (input("downgrade", "verified", ""), Tier::Official, FlagState::Due, Err(&["tier"])),
            (input("downgrade", "community", ""), Tier::Community, FlagState::Due, Err(&["tier"])),
            (input("downgrade", "community", ""), Tier::Archived, FlagState::Due, Err(&["tier"])),
            (input("", "", ""), Tier::Verified, FlagState::Due, Err(&["outcome"])),
            (input("keep", "", "why"), Tier::Verified, FlagState::Kept, Err(&["outcome"])),
            (input("downgrade", "", ""), Tier::Verified, FlagState::Cleared, Err(&["outcome"])),
        ];
        for (input, tier, state, want) in cases {
            let got = input.validate(*tier, *state);
            match (got, want) {
                (Ok(d), Ok((outcome, new_tier))) => assert_eq!((d.outcome, d.new_tier), (*outcome, *new_tier), "{input:?}"),
                (Err(errors), Err(fields)) => assert_eq!(errors.keys().map(String::as_str).collect::<Vec<_>>(), *fields, "{input:?}"),
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
        let closed = input("keep", "", "why").validate(Tier::Verified, FlagState::Downgraded).unwrap_err();
        assert_eq!(closed["outcome"], ["this flag is already closed"]);
        assert_eq!(input("keep", "", " fixing ").validate(Tier::Verified, FlagState::Due).unwrap().reason, "fixing");
    }

    #[test]
    fn exemptions_are_validated() {
        let input =
            |rule: &str, until: &str, reason: &str| ExemptionInput { rule: rule.into(), until: until.into(), reason: reason.into() };
        let ok = input("provider_gone", "2026-12-31", " registry migration ").validate(now()).unwrap();
        assert_eq!(ok, (Rule::ProviderGone, at("2027-01-01T00:00:00Z"), "registry migration".to_string()));
        assert_eq!(input("provider_gone", "2026-11-24", "x").validate(now()).unwrap().1, at("2026-11-25T00:00:00Z"));
        assert_eq!(input("provider_gone", "2027-11-23", "x").validate(now()).unwrap().1, at("2027-11-24T00:00:00Z"));
        let cases: &[(ExemptionInput, &[&str])] = &[
            (input("nope", "2026-12-31", "x"), &["rule"]),
            (input("provider_gone", "31.12.2026", "x"), &["until"]),
            (input("provider_gone", "2026-11-23", "x"), &["until"]),
            (input("provider_gone", "2026-11-01", "x"), &["until"]),
            (input("provider_gone", "2027-11-24", "x"), &["until"]),
            (input("provider_gone", "2026-12-31", " "), &["reason"]),
            (input("provider_gone", "2026-12-31", &"x".repeat(2001)), &["reason"]),
            (ExemptionInput::default(), &["reason", "rule", "until"]),
        ];
        for (input, want) in cases {
            let errors = input.validate(now()).unwrap_err();
            let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
            assert_eq!(fields, *want, "{input:?}");
        }
    }
}
