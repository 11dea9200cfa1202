//! Partners' support issues around the SLA clock ([`super::sla`]): the
//! program's SLA settings, severity from labels, the holiday calendar's
//! iCalendar import, manual issue input, and what pages and the API show.

use super::sla::{ClockState, Severity};
use super::{optional, FieldErrors, Problems};
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Labels that make an issue critical when an integration sets none (program guide).
pub const DEFAULT_CRITICAL_LABELS: [&str; 3] = ["critical", "severity/critical", "P0"];

/// The program's SLA settings, edited by admins and stored in `program_settings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlaSettings {
    /// IANA name, e.g. `Europe/Berlin`.
    pub time_zone: String,
    /// Warn this many clock hours before a critical issue is due.
    pub critical_warn_hours: i64,
    /// Warn this many business hours before any other issue is due.
    pub normal_warn_hours: i64,
    pub critical_labels: Vec<String>,
    /// "Waiting on reporter" labels that stop the clock while set; empty by
    /// default, because the program counts from open to resolve.
    pub pause_labels: Vec<String>,
    /// The rolling window of compliance figures.
    pub window_days: i64,
}

impl Default for SlaSettings {
    fn default() -> Self {
        SlaSettings {
            time_zone: "UTC".into(),
            critical_warn_hours: 24,
            normal_warn_hours: 24,
            critical_labels: DEFAULT_CRITICAL_LABELS.iter().map(|s| s.to_string()).collect(),
            pause_labels: Vec::new(),
            window_days: 90,
        }
    }
}

impl SlaSettings {
    /// Keys of `program_settings`.
    pub const KEYS: [&'static str; 6] =
        ["sla.time_zone", "sla.critical_warn_hours", "sla.normal_warn_hours", "sla.critical_labels", "sla.pause_labels", "sla.window_days"];

    /// From stored key/value pairs; missing or unreadable values keep their
    /// defaults (they were validated when saved).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut s = SlaSettings::default();
        for (key, value) in pairs {
            match key {
                "sla.time_zone" if value.parse::<chrono_tz::Tz>().is_ok() => s.time_zone = value.to_string(),
                "sla.critical_warn_hours" => s.critical_warn_hours = value.parse().unwrap_or(s.critical_warn_hours),
                "sla.normal_warn_hours" => s.normal_warn_hours = value.parse().unwrap_or(s.normal_warn_hours),
                "sla.critical_labels" => s.critical_labels = label_list(value),
                "sla.pause_labels" => s.pause_labels = label_list(value),
                "sla.window_days" => s.window_days = value.parse().unwrap_or(s.window_days),
                _ => {}
            }
        }
        s
    }

    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("sla.time_zone", self.time_zone.clone()),
            ("sla.critical_warn_hours", self.critical_warn_hours.to_string()),
            ("sla.normal_warn_hours", self.normal_warn_hours.to_string()),
            ("sla.critical_labels", self.critical_labels.join("\n")),
            ("sla.pause_labels", self.pause_labels.join("\n")),
            ("sla.window_days", self.window_days.to_string()),
        ]
    }

    pub fn tz(&self) -> chrono_tz::Tz {
        self.time_zone.parse().unwrap_or(chrono_tz::UTC)
    }

    pub fn policy(&self) -> super::sla::Policy {
        super::sla::Policy {
            critical_warn: chrono::Duration::hours(self.critical_warn_hours),
            normal_warn: chrono::Duration::hours(self.normal_warn_hours),
            ..super::sla::Policy::default()
        }
    }
}

/// The settings form as typed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SlaSettingsInput {
    pub time_zone: String,
    pub critical_warn_hours: String,
    pub normal_warn_hours: String,
    pub critical_labels: String,
    pub pause_labels: String,
    pub window_days: String,
}

impl SlaSettingsInput {
    pub fn validate(&self) -> Result<SlaSettings, FieldErrors> {
        let mut p = Problems::default();
        let tz = self.time_zone.trim();
        if tz.parse::<chrono_tz::Tz>().is_err() {
            p.add("time_zone", format!("\"{tz}\" is not a time zone name such as UTC or Europe/Berlin"));
        }
        let mut hours = |field: &str, value: &str, max: i64| match value.trim().parse::<i64>() {
            Ok(h) if (0..=max).contains(&h) => h,
            _ => {
                p.add(field, format!("a whole number of hours from 0 to {max}"));
                0
            }
        };
        let critical_warn_hours = hours("critical_warn_hours", &self.critical_warn_hours, 47);
        let normal_warn_hours = hours("normal_warn_hours", &self.normal_warn_hours, 119);
        let critical_labels = label_list(&self.critical_labels);
        if critical_labels.is_empty() {
            p.add("critical_labels", "at least one label, or no issue could ever be critical");
        }
        let pause_labels = label_list(&self.pause_labels);
        if let Some(both) = pause_labels.iter().find(|l| critical_labels.iter().any(|c| c.eq_ignore_ascii_case(l))) {
            p.add("pause_labels", format!("\"{both}\" cannot both pause the clock and mark an issue critical"));
        }
        let window_days = match self.window_days.trim().parse::<i64>() {
            Ok(d) if (7..=730).contains(&d) => d,
            _ => {
                p.add("window_days", "a number of days from 7 to 730");
                90
            }
        };
        p.finish(SlaSettings {
            time_zone: tz.to_string(),
            critical_warn_hours,
            normal_warn_hours,
            critical_labels,
            pause_labels,
            window_days,
        })
    }
}

impl From<&SlaSettings> for SlaSettingsInput {
    fn from(s: &SlaSettings) -> Self {
        SlaSettingsInput {
            time_zone: s.time_zone.clone(),
            critical_warn_hours: s.critical_warn_hours.to_string(),
            normal_warn_hours: s.normal_warn_hours.to_string(),
            critical_labels: s.critical_labels.join("\n"),
            pause_labels: s.pause_labels.join("\n"),
            window_days: s.window_days.to_string(),
        }
    }
}

/// Labels typed one per line or separated by commas; trimmed, no blanks,
/// no duplicates (GitHub compares label names without case).
pub fn label_list(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for label in text.split(['\n', ',']).map(str::trim).filter(|l| !l.is_empty()) {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(label)) {
            out.push(label.chars().take(100).collect());
        }
    }
    out
}

/// The critical labels in force for an integration: its own when it has
/// any, else the program's default.
pub fn critical_set(own: Option<&str>, default: &[String]) -> Vec<String> {
    let own = own.map(label_list).unwrap_or_default();
    if own.is_empty() {
        default.to_vec()
    } else {
        own
    }
}

/// The severity a GitHub issue's labels give it under `critical`, when it
/// differs from the `stored` one (a label set changed since it was synced).
/// Manual issues keep the severity they were recorded with.
pub fn relabel(source: IssueSource, labels: &[String], stored: Severity, critical: &[String]) -> Option<Severity> {
    let now = severity_from_labels(labels, critical);
    (source == IssueSource::GitHub && now != stored).then_some(now)
}

/// Critical when any label is in the set (compared without case).
pub fn severity_from_labels(labels: &[String], critical: &[String]) -> Severity {
    if labels.iter().any(|l| critical.iter().any(|c| c.eq_ignore_ascii_case(l.trim()))) {
        Severity::Critical
    } else {
        Severity::Normal
    }
}

/// A holiday of the program's calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holiday {
    pub day: NaiveDate,
    pub name: String,
}

/// The longest event an import expands into days: a longer one is a typo
/// or a "whole year" event, not a holiday.
const MAX_EVENT_DAYS: i64 = 31;

/// Holidays from an iCalendar file (RFC 5545): each `VEVENT`'s `DTSTART`
/// (date or date-time; its date counts) up to `DTEND` (exclusive) or one
/// day, named by its `SUMMARY`. Recurrence rules are not expanded: public
/// holiday calendars list each year's dates. Errors name the line.
pub fn parse_ical(text: &str) -> Result<Vec<Holiday>, String> {
    // Unfold continuation lines (a line starting with a space or tab continues the previous one).
    let mut lines: Vec<(usize, String)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let (Some(rest), Some(last)) = (raw.strip_prefix([' ', '\t']), lines.last_mut()) {
            last.1.push_str(rest);
        } else {
            lines.push((n + 1, raw.to_string()));
        }
    }
    if !lines.iter().any(|(_, l)| l.trim().eq_ignore_ascii_case("BEGIN:VCALENDAR")) {
        return Err("not an iCalendar file (no BEGIN:VCALENDAR)".into());
    }
    let mut out = Vec::new();
    let mut event: Option<(Option<NaiveDate>, Option<NaiveDate>, String, usize)> = None;
    for (n, line) in &lines {
        let Some((name_params, value)) = line.split_once(':') else { continue };
        let name = name_params.split(';').next().unwrap_or("").trim().to_ascii_uppercase();
        let value = value.trim();
        match (name.as_str(), &mut event) {
            ("BEGIN", None) if value.eq_ignore_ascii_case("VEVENT") => event = Some((None, None, String::new(), *n)),
            ("END", Some(_)) if value.eq_ignore_ascii_case("VEVENT") => {
                let Some((start, end, summary, begun)) = event.take() else { continue };
                let start = start.ok_or_else(|| format!("line {begun}: an event without DTSTART"))?;
                let end = end.filter(|e| *e > start).unwrap_or(start + chrono::Duration::days(1));
                let days = (end - start).num_days();
                if days > MAX_EVENT_DAYS {
                    return Err(format!("line {begun}: an event of {days} days is not a holiday (at most {MAX_EVENT_DAYS})"));
                }
                let name = if summary.is_empty() { "Holiday".to_string() } else { summary };
                for d in 0..days {
                    out.push(Holiday { day: start + chrono::Duration::days(d), name: name.clone() });
                }
            }
            ("DTSTART", Some(e)) => e.0 = Some(ical_date(value).ok_or_else(|| format!("line {n}: cannot read the date \"{value}\""))?),
            ("DTEND", Some(e)) => e.1 = Some(ical_date(value).ok_or_else(|| format!("line {n}: cannot read the date \"{value}\""))?),
            ("SUMMARY", Some(e)) => e.2 = unescape_text(value).chars().take(200).collect(),
            _ => {}
        }
    }
    if event.is_some() {
        return Err("the file ends inside an event (no END:VEVENT)".into());
    }
    out.sort_by_key(|h| h.day);
    out.dedup_by_key(|h| h.day);
    Ok(out)
}

/// `20261225`, `20261225T090000` or `20261225T090000Z`: the date part.
fn ical_date(value: &str) -> Option<NaiveDate> {
    let date = value.get(..8)?;
    NaiveDate::parse_from_str(date, "%Y%m%d").ok().filter(|d| super::sla::YEARS.contains(&chrono::Datelike::year(d)))
}

fn unescape_text(value: &str) -> String {
    value.replace("\\n", " ").replace("\\N", " ").replace("\\,", ",").replace("\\;", ";").replace("\\\\", "\\")
}

/// Where an issue comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum IssueSource {
    GitHub,
    Manual,
}

impl IssueSource {
    pub fn key(self) -> &'static str {
        match self {
            IssueSource::GitHub => "github",
            IssueSource::Manual => "manual",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "github" => Some(IssueSource::GitHub),
            "manual" => Some(IssueSource::Manual),
            _ => None,
        }
    }
}

/// An issue as lists, pages and the API show it, with its clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueView {
    pub id: i64,
    pub integration_id: i64,
    pub integration_name: String,
    pub partner_id: i64,
    pub partner_slug: String,
    pub partner_name: String,
    pub source: IssueSource,
    pub number: Option<i64>,
    pub title: String,
    pub url: Option<String>,
    pub author: Option<String>,
    pub labels: Vec<String>,
    /// What counts: the override when a reviewer set one, else the labels'.
    pub severity: Severity,
    pub severity_overridden: bool,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub due_at: DateTime<Utc>,
    pub warn_at: DateTime<Utc>,
    pub state: ClockState,
    pub paused: bool,
    /// Counted time so far (business time for non-critical issues), in seconds.
    pub used_seconds: i64,
    /// Target minus used; negative once breached.
    pub left_seconds: i64,
    pub reopened: i64,
    pub gone: bool,
    /// When the partner acknowledged the breach of the current cycle.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When the clock was computed: a countdown starts from here, so the
    /// page renders the same text on the server and when it hydrates.
    pub as_of: DateTime<Utc>,
}

/// A manual issue as typed (integrations whose support queue is not on GitHub).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ManualIssueInput {
    pub title: String,
    /// `critical` or `normal`.
    pub severity: String,
    /// `YYYY-MM-DDTHH:MM` in the program's time zone (what a datetime-local
    /// input sends), or RFC 3339 with an offset.
    pub opened_at: String,
    #[serde(default)]
    pub resolved_at: String,
    #[serde(default)]
    pub url: String,
}

/// A validated manual issue.
#[derive(Debug, Clone, PartialEq)]
pub struct ManualIssue {
    pub title: String,
    pub severity: Severity,
    pub opened_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub url: Option<String>,
}

impl ManualIssueInput {
    pub fn validate(&self, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Result<ManualIssue, FieldErrors> {
        let mut p = Problems::default();
        let title = self.title.trim();
        if title.is_empty() {
            p.add("title", "a short title, e.g. \"Plan fails on empty tags\"");
        } else if title.chars().count() > 300 {
            p.add("title", "at most 300 characters");
        }
        let severity = Severity::parse(self.severity.trim()).unwrap_or_else(|| {
            p.add("severity", "critical or normal");
            Severity::Normal
        });
        let opened_at = match parse_when(&self.opened_at, tz) {
            Some(t) if t > now + chrono::Duration::minutes(5) => {
                p.add("opened_at", "cannot be in the future");
                None
            }
            Some(t) => Some(t),
            None => {
                p.add("opened_at", "a date and time from 1970 on, e.g. 2026-11-20T14:00");
                None
            }
        };
        let resolved_at = match optional(&self.resolved_at) {
            None => None,
            Some(text) => match parse_when(&text, tz) {
                Some(t) if opened_at.is_some_and(|o| t < o) => {
                    p.add("resolved_at", "cannot be before it was opened");
                    None
                }
                Some(t) if t > now + chrono::Duration::minutes(5) => {
                    p.add("resolved_at", "cannot be in the future");
                    None
                }
                Some(t) => Some(t),
                None => {
                    p.add("resolved_at", "a date and time, e.g. 2026-11-21T09:30, or empty while open");
                    None
                }
            },
        };
        let url = optional(&self.url);
        if let Some(u) = &url {
            if let Err(e) = super::validate_web_url(u) {
                p.add("url", e);
            }
        }
        let opened_at = opened_at.unwrap_or(now);
        p.finish(ManualIssue { title: title.to_string(), severity, opened_at, resolved_at, url })
    }
}

/// A time typed in the program's zone (`2026-11-20T14:00`, seconds
/// optional, or a space instead of `T`), or RFC 3339 with its own offset.
/// A local time skipped by a daylight-saving change reads as the moment
/// after the gap; a repeated one as its first occurrence. Years outside
/// 1970–2199 (the SLA calendar's) are not read: an issue from year 1 would
/// count as breached for two thousand years, and chrono's `%Y` takes years
/// so large that moving them by an hour overflows.
pub fn parse_when(text: &str, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    let text = text.trim();
    let when = if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        t.with_timezone(&Utc)
    } else {
        let local = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())?;
        if !super::sla::YEARS.contains(&local.year()) {
            return None;
        }
        match tz.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
            chrono::LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
            // In a spring-forward gap: an hour later is always past it.
            chrono::LocalResult::None => {
                tz.from_local_datetime(&local.checked_add_signed(chrono::Duration::hours(1))?).earliest()?.with_timezone(&Utc)
            }
        }
    };
    super::sla::YEARS.contains(&when.year()).then_some(when)
}

/// A repository's GitHub sync, as the integration page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncView {
    pub integration_id: i64,
    /// `owner/repo`
    pub repository: String,
    pub last_synced_at: Option<DateTime<Utc>>,
    pub last_outcome: Option<String>,
    pub last_error: Option<String>,
    pub failures: i64,
    pub next_sync_at: DateTime<Utc>,
    pub licence: Option<String>,
    pub licence_checked_at: Option<DateTime<Utc>>,
}

/// The GitHub sync's status line for admins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub sweep: Option<super::registry::Sweep>,
    pub repositories: i64,
    pub due: i64,
    pub next_run: Option<DateTime<Utc>>,
    pub paused_until: Option<DateTime<Utc>>,
    pub failing: Vec<SyncView>,
}

/// The issue list filter as typed (query string or form).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IssueQuery {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub severity: String,
    #[serde(default)]
    pub q: String,
    /// Open issues whose deadline is within this many hours from now (and
    /// not yet passed), as the staff dashboard counts them; empty for all.
    #[serde(default)]
    pub due_within: String,
    /// `urgency` (default) or `opened`.
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub page: Option<i64>,
    #[serde(default)]
    pub per_page: Option<i64>,
}

/// One partner's line of the staff overview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartnerHealth {
    pub partner_id: i64,
    pub slug: String,
    pub name: String,
    pub health: Health,
}

/// Support health of an integration or partner, for summaries and the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub window_days: i64,
    pub compliance: super::sla::Compliance,
    pub open: i64,
    pub due_soon: i64,
}

/// When a repository is synced next: after a success, `interval` give or
/// take 10 % (so syncs spread over the hour instead of bunching); after a
/// failure, 1 minute doubling per failure up to 6 hours, taken between half
/// and all of it, or later when GitHub said when to come back.
pub fn next_sync(
    now: DateTime<Utc>,
    interval: chrono::Duration,
    failures: i64,
    jitter: f64,
    retry_after: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let jitter = jitter.clamp(0.0, 1.0);
    let at = if failures == 0 {
        now + scale(interval, 0.9 + 0.2 * jitter)
    } else {
        let backoff = scale(chrono::Duration::minutes(1), 2f64.powi((failures.clamp(1, 30) - 1) as i32)).min(chrono::Duration::hours(6));
        now + scale(backoff, 0.5 + 0.5 * jitter)
    };
    match retry_after {
        Some(r) if r > at => r.min(now + chrono::Duration::hours(24)),
        _ => at,
    }
}

fn scale(d: chrono::Duration, factor: f64) -> chrono::Duration {
    chrono::Duration::milliseconds((d.num_milliseconds() as f64 * factor) as i64)
}

/// "due in 2 d 4 h", "due in 35 min", "overdue by 1 d 3 h": the countdown
/// to a deadline, to the minute, largest two units.
pub fn countdown_text(to_due: chrono::Duration) -> String {
    let overdue = to_due < chrono::Duration::zero();
    let minutes = to_due.num_minutes().abs();
    let (d, h, m) = (minutes / (24 * 60), minutes / 60 % 24, minutes % 60);
    let amount = match (d, h, m) {
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    };
    if overdue {
        format!("overdue by {amount}")
    } else {
        format!("due in {amount}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn countdowns_read_naturally() {
        let cases: &[(i64, &str)] = &[
            (0, "due in 0 min"),
            (59, "due in 0 min"),
            (60 * 35, "due in 35 min"),
            (3600 * 3, "due in 3 h"),
            (3600 * 3 + 60 * 5, "due in 3 h 5 min"),
            (86400 * 2, "due in 2 d"),
            (86400 * 2 + 3600 * 4 + 60 * 59, "due in 2 d 4 h"),
            (-60 * 10, "overdue by 10 min"),
            (-(86400 + 3600 * 3), "overdue by 1 d 3 h"),
        ];
        for (seconds, want) in cases {
            assert_eq!(countdown_text(chrono::Duration::seconds(*seconds)), *want, "{seconds} s");
        }
    }

    #[test]
    fn syncs_spread_and_back_off() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").unwrap().with_timezone(&Utc);
        let hour = chrono::Duration::minutes(60);
        let m = |mins: i64| now + chrono::Duration::minutes(mins);
        let cases: &[(i64, f64, Option<DateTime<Utc>>, DateTime<Utc>)] = &[
            (0, 0.0, None, m(54)),
            (0, 1.0, None, m(66)),
            (0, 0.5, None, m(60)),
            (1, 1.0, None, m(1)),
            (1, 0.0, None, now + chrono::Duration::seconds(30)),
            (4, 1.0, None, m(8)),
            (30, 1.0, None, m(360)),
            // GitHub's reset wins when later, but never more than a day.
            (1, 1.0, Some(m(45)), m(45)),
            (1, 1.0, Some(m(3000)), m(24 * 60)),
            (0, 0.5, Some(m(10)), m(60)),
        ];
        for (failures, jitter, retry, want) in cases {
            assert_eq!(next_sync(now, hour, *failures, *jitter, *retry), *want, "failures {failures}, jitter {jitter}");
        }
    }

    #[test]
    fn labels_are_split_trimmed_and_deduplicated() {
        let cases: &[(&str, &[&str])] = &[
            ("", &[]),
            ("critical", &["critical"]),
            ("critical, P0\nseverity/critical", &["critical", "P0", "severity/critical"]),
            (" P0 ,, p0 ,\n\n", &["P0"]),
        ];
        for (text, want) in cases {
            assert_eq!(label_list(text), want.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{text:?}");
        }
    }

    #[test]
    fn severity_follows_the_label_set() {
        let default: Vec<String> = DEFAULT_CRITICAL_LABELS.iter().map(|s| s.to_string()).collect();
        let cases: &[(&[&str], Severity)] = &[
            (&[], Severity::Normal),
            (&["bug"], Severity::Normal),
            (&["bug", "Critical"], Severity::Critical),
            (&["p0"], Severity::Critical),
            (&["severity/critical"], Severity::Critical),
            (&["severity/high"], Severity::Normal),
        ];
        for (labels, want) in cases {
            let labels: Vec<String> = labels.iter().map(|s| s.to_string()).collect();
            assert_eq!(severity_from_labels(&labels, &default), *want, "{labels:?}");
        }
        assert_eq!(severity_from_labels(&["sev1".into()], &["SEV1".into()]), Severity::Critical);
    }

    #[test]
    fn label_sets_and_relabelling() {
        let default = vec!["critical".to_string(), "P0".to_string()];
        assert_eq!(critical_set(None, &default), default);
        assert_eq!(critical_set(Some(""), &default), default);
        assert_eq!(critical_set(Some(" \n "), &default), default);
        assert_eq!(critical_set(Some("sev1\nurgent"), &default), vec!["sev1".to_string(), "urgent".to_string()]);
        let labels = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let sev1 = vec!["sev1".to_string()];
        let cases = [
            (IssueSource::GitHub, labels(&["sev1"]), Severity::Normal, &sev1, Some(Severity::Critical)),
            (IssueSource::GitHub, labels(&["critical"]), Severity::Critical, &sev1, Some(Severity::Normal)),
            (IssueSource::GitHub, labels(&["sev1"]), Severity::Critical, &sev1, None),
            (IssueSource::GitHub, labels(&[]), Severity::Normal, &default, None),
            (IssueSource::Manual, labels(&[]), Severity::Critical, &sev1, None),
        ];
        for (source, l, stored, critical, want) in cases {
            assert_eq!(relabel(source, &l, stored, critical), want, "{source:?} {l:?} {stored:?}");
        }
    }

    #[test]
    fn settings_round_trip_and_validate() {
        let s = SlaSettings::default();
        let pairs = s.to_pairs();
        let back = SlaSettings::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
        assert_eq!(back, s);
        // A stored value this build cannot read keeps the default.
        assert_eq!(SlaSettings::from_pairs([("sla.time_zone", "Mars/Olympus")]).time_zone, "UTC");

        let good = SlaSettingsInput { time_zone: "Europe/Berlin".into(), ..SlaSettingsInput::from(&s) };
        assert_eq!(good.validate().unwrap().tz(), chrono_tz::Europe::Berlin);
        let bad = SlaSettingsInput {
            time_zone: "Berlin".into(),
            critical_warn_hours: "48".into(),
            normal_warn_hours: "x".into(),
            critical_labels: " ".into(),
            pause_labels: "".into(),
            window_days: "3".into(),
        };
        let errors = bad.validate().unwrap_err();
        let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
        assert_eq!(fields, ["critical_labels", "critical_warn_hours", "normal_warn_hours", "time_zone", "window_days"]);
        let clash = SlaSettingsInput { pause_labels: "P0".into(), ..SlaSettingsInput::from(&s) };
        assert!(clash.validate().unwrap_err().contains_key("pause_labels"));
    }

    #[test]
    fn ical_import_reads_dates_ranges_and_names() {
        let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nDTEND;VALUE=DATE:20261227\r\n\
                   SUMMARY:Christmas\\, Boxing\r\n  Day\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nDTSTART:20270101T000000Z\r\nSUMMARY:New Year\r\nEND:VEVENT\r\n\
                   BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261225\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
        let got = parse_ical(ics).unwrap();
        assert_eq!(
            got,
            vec![
                Holiday { day: d("2026-12-25"), name: "Christmas, Boxing Day".into() },
                Holiday { day: d("2026-12-26"), name: "Christmas, Boxing Day".into() },
                Holiday { day: d("2027-01-01"), name: "New Year".into() },
            ]
        );
    }

    #[test]
    fn ical_import_errors_name_the_problem() {
        let cases: &[(&str, &str)] = &[
            ("hello", "not an iCalendar"),
            ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:x\nEND:VEVENT\nEND:VCALENDAR", "line 2: an event without DTSTART"),
            ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:2026-12-25\nEND:VEVENT\nEND:VCALENDAR", "line 3: cannot read the date"),
            ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:00011225\nEND:VEVENT\nEND:VCALENDAR", "line 3: cannot read the date"),
            ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:99991225\nEND:VEVENT\nEND:VCALENDAR", "line 3: cannot read the date"),
            (
                "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20260101\nDTEND;VALUE=DATE:20270101\nEND:VEVENT\nEND:VCALENDAR",
                "365 days",
            ),
            ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20260101\n", "ends inside an event"),
        ];
        for (text, want) in cases {
            let e = parse_ical(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }

    #[test]
    fn times_are_read_in_the_program_zone() {
        let berlin = chrono_tz::Europe::Berlin;
        let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let cases: &[(&str, chrono_tz::Tz, Option<&str>)] = &[
            ("2026-11-20T14:00", chrono_tz::UTC, Some("2026-11-20T14:00:00Z")),
            ("2026-11-20T14:00", berlin, Some("2026-11-20T13:00:00Z")),
            ("2026-07-20 14:00:30", berlin, Some("2026-07-20T12:00:30Z")),
            ("2026-11-20T14:00:00-05:00", berlin, Some("2026-11-20T19:00:00Z")),
            // 02:30 does not exist in Berlin on 29 March 2026: read as 03:30 CEST.
            ("2026-03-29T02:30", berlin, Some("2026-03-29T01:30:00Z")),
            // 02:30 happens twice on 25 October 2026: the first (CEST).
            ("2026-10-25T02:30", berlin, Some("2026-10-25T00:30:00Z")),
            ("20.11.2026 14:00", berlin, None),
            ("", berlin, None),
            // Years the SLA calendar does not cover; the last one used to overflow west of UTC.
            ("0001-01-01T00:00", berlin, None),
            ("1969-12-31T23:00:00Z", berlin, None),
            ("1970-01-01T00:00:00Z", berlin, Some("1970-01-01T00:00:00Z")),
            ("2200-01-01T00:00", chrono_tz::UTC, None),
            ("+262142-12-31T23:30", chrono_tz::America::New_York, None),
            ("+262142-12-31T23:30", berlin, None),
        ];
        for (text, tz, want) in cases {
            assert_eq!(parse_when(text, *tz), want.map(utc), "{text} in {tz}");
        }
    }

    #[test]
    fn manual_issues_are_validated() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").unwrap().with_timezone(&Utc);
        let ok = ManualIssueInput {
            title: "Run task times out".into(),
            severity: "critical".into(),
            opened_at: "2026-11-20T09:00".into(),
            resolved_at: "".into(),
            url: "https://support.example.com/t/42".into(),
        };
        let issue = ok.validate(chrono_tz::UTC, now).unwrap();
        assert_eq!(issue.severity, Severity::Critical);
        assert_eq!(issue.resolved_at, None);
        let cases: &[(ManualIssueInput, &[&str])] = &[
            (ManualIssueInput { title: " ".into(), ..ok.clone() }, &["title"]),
            (ManualIssueInput { severity: "high".into(), ..ok.clone() }, &["severity"]),
            (ManualIssueInput { opened_at: "2026-12-01T09:00".into(), ..ok.clone() }, &["opened_at"]),
            (ManualIssueInput { opened_at: "yesterday".into(), ..ok.clone() }, &["opened_at"]),
            (ManualIssueInput { resolved_at: "2026-11-19T09:00".into(), ..ok.clone() }, &["resolved_at"]),
            (ManualIssueInput { url: "javascript:alert(1)".into(), ..ok.clone() }, &["url"]),
            (ManualIssueInput { url: "https://support.example.com:70000/t/1".into(), ..ok.clone() }, &["url"]),
        ];
        for (input, want) in cases {
            let errors = input.validate(chrono_tz::UTC, now).unwrap_err();
            let fields: Vec<&str> = errors.keys().map(String::as_str).collect();
            assert_eq!(fields, *want, "{input:?}");
        }
    }
}
