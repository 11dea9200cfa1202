//! Partners' support issues and the SLA clock: issue lists for whoever may
//! see them, manual issues, severity overrides, compliance figures, the
//! program's SLA settings and holidays, and the glue the background jobs use
//! (the monitor's step, turning a GitHub issue into a stored one).
//!
//! The clock itself is pure (`domain::sla`); this module feeds it the
//! stored periods and the program's calendar, and stores what it says.

use crate::domain::access::{Action, Caller};
use crate::domain::audit::{Entry, FieldChange, TargetKind};
use crate::domain::github;
use crate::domain::sla::{self, Calendar, Clock, ClockState, Compliance, Policy, Severity, Span};
use crate::domain::support::{
    critical_set, label_list, parse_ical, severity_from_labels, Health, Holiday, IssueQuery, IssueSource, IssueView, ManualIssueInput,
    PartnerHealth, SlaSettings, SlaSettingsInput,
};
use crate::domain::{FieldErrors, Page};
use crate::error::AppError;
use crate::store::support::{self as store, ClockColumns, ClockEvent, ClockUpdate, IssueData, IssueFilter, IssueRow, SyncedIssue};
use crate::store::{decode_error, Db};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::collections::HashMap;

/// The jobs' names in `job_runs` and `job_leases`.
pub const SYNC_JOB: &str = "github_sync";
pub const MONITOR_JOB: &str = "sla_monitor";

/// Open and pause periods as stored (JSON) and handled.
pub type Periods = Vec<(DateTime<Utc>, Option<DateTime<Utc>>)>;

/// Everything the clock needs from the program, read once per use.
pub struct Program {
    pub settings: SlaSettings,
    pub holidays: Vec<Holiday>,
    pub calendar: Calendar,
    pub policy: Policy,
}

impl Program {
    pub fn new(settings: SlaSettings, holidays: Vec<Holiday>) -> Self {
        let calendar = Calendar::new(settings.tz(), holidays.iter().map(|h| h.day));
        let policy = settings.policy();
        Program { settings, holidays, calendar, policy }
    }

    /// The target of a severity (clock time for critical, business time otherwise).
    pub fn target(&self, severity: Severity) -> Duration {
        match severity {
            Severity::Critical => self.policy.critical_target,
            Severity::Normal => self.policy.normal_target,
        }
    }

    pub fn clock(&self, severity: Severity, open: &Periods, pause: &Periods, now: DateTime<Utc>) -> Clock {
        let open = spans(open);
        let paused = spans(pause);
        sla::evaluate(&sla::IssueClock { severity, open: &open, paused: &paused }, &self.calendar, &self.policy, now)
    }
}

fn spans(p: &Periods) -> Vec<Span> {
    p.iter().map(|(start, end)| Span { start: *start, end: *end }).collect()
}

pub async fn program(db: &Db) -> Result<Program, AppError> {
    let (settings, holidays) = store::settings(db).await?;
    Ok(Program::new(settings, holidays))
}

pub fn periods_json(p: &Periods) -> String {
    // Timestamps always serialise.
    serde_json::to_string(p).unwrap_or_else(|_| "[]".into())
}

fn parse_periods(text: &str) -> Result<Periods, sqlx::Error> {
    serde_json::from_str(text).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn severity(row: &IssueRow) -> Result<Severity, sqlx::Error> {
    let key = row.severity_override.as_deref().unwrap_or(&row.label_severity);
    Severity::parse(key).ok_or_else(|| decode_error("severity", key))
}

fn columns(c: &Clock) -> ClockColumns {
    ClockColumns { due_at: c.due_at, warn_at: c.warn_at, state: c.state.key(), used_seconds: c.used.num_seconds() }
}

/// How an issue is named in trails and alerts: `acme/widget #123` or the title.
fn issue_label(integration: &str, number: Option<i64>, title: &str) -> String {
    match number {
        Some(n) => format!("{integration} #{n}"),
        None => format!("{integration}: {title}"),
    }
}

/// Whose issue it is, for the events' trail entries.
pub struct Owner<'a> {
    pub partner_id: i64,
    pub partner_name: &'a str,
    pub integration_id: i64,
    pub integration_name: &'a str,
}

/// The clock events an issue's new clock calls for: "due soon" and
/// "breached" while open, "met"/"missed" when it was just resolved. Each is
/// keyed by the issue's cycle (reopenings), so a reopened issue gets new
/// ones and a repeated computation none.
pub fn clock_events(owner: &Owner, number: Option<i64>, title: &str, clock: &Clock, cycle: i64, just_resolved: bool) -> Vec<ClockEvent> {
    let label = issue_label(owner.integration_name, number, title);
    let when = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let (kind, summary) = match clock.state {
        ClockState::DueSoon => ("due_soon", format!("{label} is due soon: its SLA deadline is {}", when(clock.due_at))),
        ClockState::Breached => ("breached", format!("{label} breached its SLA: it was due {}", when(clock.due_at))),
        ClockState::Met if just_resolved => ("met", format!("{label} was resolved within its SLA (due {})", when(clock.due_at))),
        ClockState::Missed if just_resolved => ("missed", format!("{label} was resolved after its SLA deadline ({})", when(clock.due_at))),
        _ => return Vec::new(),
    };
    let audit = Entry::system(&format!("sla.{kind}"), TargetKind::Issue, None, &label)
        .partner(owner.partner_id)
        .integration(owner.integration_id)
        .summary(summary);
    let alert_label = match number {
        Some(n) => format!("{} #{n}", owner.integration_name),
        None => owner.integration_name.to_string(),
    };
    let alert = crate::services::alerts::sla_alert(
        kind,
        owner.partner_id,
        owner.partner_name,
        owner.integration_name,
        &alert_label,
        title,
        cycle,
        clock.due_at,
    );
    vec![ClockEvent { kind, cycle, deadline: clock.due_at, audit, alert }]
}

/// An issue as shown, with its clock computed now (the stored clock may be
/// up to a monitor tick old).
pub fn view(row: &IssueRow, program: &Program, now: DateTime<Utc>) -> Result<IssueView, sqlx::Error> {
    let severity = severity(row)?;
    let clock = program.clock(severity, &parse_periods(&row.open_periods)?, &parse_periods(&row.pause_periods)?, now);
    Ok(IssueView {
        id: row.id,
        integration_id: row.integration_id,
        integration_name: row.integration_name.clone(),
        partner_id: row.partner_id,
        partner_slug: row.partner_slug.clone(),
        partner_name: row.partner_name.clone(),
        source: IssueSource::parse(&row.source).ok_or_else(|| decode_error("issue source", &row.source))?,
        number: row.number,
        title: row.title.clone(),
        url: row.url.clone(),
        author: row.author.clone(),
        labels: row.labels.lines().map(str::to_string).collect(),
        severity,
        severity_overridden: row.severity_override.is_some(),
        opened_at: row.opened_at,
        resolved_at: row.resolved_at,
        due_at: clock.due_at,
        warn_at: clock.warn_at,
        state: clock.state,
        paused: clock.paused,
        used_seconds: clock.used.num_seconds(),
        left_seconds: clock.left.num_seconds(),
        reopened: row.cycle,
        gone: row.gone_at.is_some(),
        acknowledged_at: row.acknowledged_at,
        as_of: now,
    })
}

fn data_of(row: &IssueRow, open: &Periods, resolved_at: Option<DateTime<Utc>>) -> IssueData {
    IssueData {
        integration_id: row.integration_id,
        source: if row.source == "github" { "github" } else { "manual" },
        number: row.number,
        title: row.title.clone(),
        url: row.url.clone(),
        author: row.author.clone(),
        labels: row.labels.lines().map(str::to_string).collect(),
        label_severity: if row.label_severity == "critical" { "critical" } else { "normal" },
        opened_at: row.opened_at,
        open_periods: periods_json(open),
        pause_periods: row.pause_periods.clone(),
        resolved_at,
        cycle: open.len().saturating_sub(1) as i64,
        gone_at: row.gone_at,
    }
}

// ---- reading ----

/// The longest "due within" an issue list takes: 30 days.
pub const MAX_DUE_WITHIN_HOURS: i64 = 720;

/// Checks a list filter against the vocabularies.
fn filter_of(q: &IssueQuery, now: DateTime<Utc>) -> Result<IssueFilter, AppError> {
    let mut fields = FieldErrors::new();
    let state = q.state.trim();
    if !(state.is_empty() || state == "open" || ClockState::parse(state).is_some()) {
        fields.insert("state".into(), vec!["expected open, on_track, due_soon, breached, met or missed".into()]);
    }
    let severity = q.severity.trim();
    if !(severity.is_empty() || Severity::parse(severity).is_some()) {
        fields.insert("severity".into(), vec!["expected critical or normal".into()]);
    }
    let due_within = q.due_within.trim();
    let due = match due_within.parse::<i64>() {
        _ if due_within.is_empty() => None,
        Ok(hours) if (1..=MAX_DUE_WITHIN_HOURS).contains(&hours) => Some((now, now + chrono::Duration::hours(hours))),
        _ => {
            fields.insert("due_within".into(), vec![format!("expected a number of hours from 1 to {MAX_DUE_WITHIN_HOURS}")]);
            None
        }
    };
    let sort = q.sort.trim();
    if !(sort.is_empty() || sort == "urgency" || sort == "opened") {
        fields.insert("sort".into(), vec!["expected urgency or opened".into()]);
    }
    if !fields.is_empty() {
        return Err(AppError::invalid(fields));
    }
    Ok(IssueFilter {
        state: (!state.is_empty()).then(|| state.to_string()),
        severity: (!severity.is_empty()).then(|| severity.to_string()),
        q: crate::domain::optional(&q.q),
        due,
        newest_first: sort == "opened",
        ..IssueFilter::default()
    })
}

/// Issues the caller may see: a partner member only their own partner's;
/// narrowed to one partner or integration when given.
pub async fn list(
    db: &Db,
    caller: &Caller,
    partner_id: Option<i64>,
    integration_id: Option<i64>,
    query: &IssueQuery,
    now: DateTime<Utc>,
) -> Result<Page<IssueView>, AppError> {
    let mut filter = filter_of(query, now)?;
    if let Some(id) = integration_id {
        let integration = super::integrations::get(db, caller, id).await?;
        filter.integration_id = Some(integration.id);
    }
    if let Some(p) = partner_id {
        caller.check(Action::Read { partner: p }, || format!("partner {p}"))?;
    }
    filter.partner_id = caller.partner_scope().or(partner_id);
    let per_page = query.per_page.unwrap_or(25).clamp(1, 200);
    let (page, _) = crate::domain::paging(query.page, None);
    let (rows, total) = store::list(db, &filter, page, per_page).await?;
    let program = program(db).await?;
    let items = rows.iter().map(|r| view(r, &program, now)).collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items, total, page, per_page })
}

/// What an issue list kept to one integration or partner is about, as its
/// page names it ("Acme provider", "Acme Cloud"); `None` for the whole list.
/// The same checks as [`list`]: another partner's name is not found.
pub async fn scope_name(
    db: &Db,
    caller: &Caller,
    partner_id: Option<i64>,
    integration_id: Option<i64>,
) -> Result<Option<String>, AppError> {
    if let Some(id) = integration_id {
        return Ok(Some(super::integrations::get(db, caller, id).await?.name));
    }
    let Some(p) = partner_id else { return Ok(None) };
    let missing = || format!("partner {p}");
    caller.check(Action::Read { partner: p }, missing)?;
    let name = crate::store::partners::name_of(db, p).await?.ok_or_else(|| AppError::NotFound(missing()))?;
    Ok(Some(name))
}

/// The filter of an export, checked (and kept to the caller's partner) before the first row.
pub fn export_filter(caller: &Caller, query: &IssueQuery, now: DateTime<Utc>) -> Result<store::IssueFilter, AppError> {
    let mut filter = filter_of(query, now)?;
    filter.partner_id = caller.partner_scope();
    Ok(filter)
}

/// One chunk of an issue export, with each issue's clock as pages show it.
pub async fn export_chunk(
    db: &Db,
    filter: &store::IssueFilter,
    after: i64,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<IssueView>, AppError> {
    let rows = store::export_chunk(db, filter, after, limit).await?;
    let program = program(db).await?;
    Ok(rows.iter().map(|r| view(r, &program, now)).collect::<Result<Vec<_>, _>>()?)
}

async fn row(db: &Db, caller: &Caller, id: i64) -> Result<IssueRow, AppError> {
    let missing = || format!("issue {id}");
    let row = store::get(db, id).await?.ok_or_else(|| AppError::NotFound(missing()))?;
    caller.check(Action::Read { partner: row.partner_id }, missing)?;
    Ok(row)
}

pub async fn get(db: &Db, caller: &Caller, id: i64, now: DateTime<Utc>) -> Result<IssueView, AppError> {
    let row = row(db, caller, id).await?;
    Ok(view(&row, &program(db).await?, now)?)
}

// ---- manual issues ----

/// Records an issue by hand (support queues not on GitHub). Partners record
/// their own; staff any.
pub async fn create(
    db: &Db,
    caller: &Caller,
    integration_id: i64,
    input: &ManualIssueInput,
    now: DateTime<Utc>,
) -> Result<IssueView, AppError> {
    caller.check(Action::Write, || "issues".into())?;
    let integration = super::integrations::get(db, caller, integration_id).await?;
    caller.check(Action::EditIntegration { partner: integration.partner_id }, || format!("integration {integration_id}"))?;
    let program = program(db).await?;
    let issue = input.validate(program.settings.tz(), now).map_err(AppError::invalid)?;
    let open: Periods = vec![(issue.opened_at, issue.resolved_at)];
    let clock = program.clock(issue.severity, &open, &Vec::new(), now);
    let data = IssueData {
        integration_id: integration.id,
        source: "manual",
        number: None,
        title: issue.title.clone(),
        url: issue.url.clone(),
        author: Some(caller.name.clone()),
        labels: Vec::new(),
        label_severity: issue.severity.key(),
        opened_at: issue.opened_at,
        open_periods: periods_json(&open),
        pause_periods: "[]".into(),
        resolved_at: issue.resolved_at,
        cycle: 0,
        gone_at: None,
    };
    let partner_name = crate::store::partners::name_of(db, integration.partner_id).await?.unwrap_or_default();
    let owner = Owner {
        partner_id: integration.partner_id,
        partner_name: &partner_name,
        integration_id: integration.id,
        integration_name: &integration.name,
    };
    let events = clock_events(&owner, None, &issue.title, &clock, 0, false);
    let label = issue_label(&integration.name, None, &issue.title);
    let audit = Entry::by(caller, "issue.create", TargetKind::Issue, None, &label)
        .partner(integration.partner_id)
        .integration(integration.id)
        .summary(format!("recorded {} issue \"{}\"", issue.severity.key(), issue.title));
    let (id, _) = store::save(db, None, &data, &columns(&clock), &events, Some(&audit), now).await?;
    get(db, caller, id, now).await
}

/// Resolves a manual issue at `at` (default now); GitHub issues resolve on GitHub.
pub async fn resolve(db: &Db, caller: &Caller, id: i64, at: Option<&str>, now: DateTime<Utc>) -> Result<IssueView, AppError> {
    change_manual(db, caller, id, now, |row, open, program| {
        if row.resolved_at.is_some() {
            return Err(AppError::conflict("resolved_at", "this issue is already resolved"));
        }
        let at = match at.map(str::trim).filter(|s| !s.is_empty()) {
            None => now,
            Some(text) => crate::domain::support::parse_when(text, program.settings.tz())
                .ok_or_else(|| field("resolved_at", "a date and time, e.g. 2026-11-21T09:30"))?,
        };
        let started = open.last().map(|(s, _)| *s).unwrap_or(row.opened_at);
        if at < started {
            return Err(field("resolved_at", "cannot be before the issue was (re)opened"));
        }
        if at > now + Duration::minutes(5) {
            return Err(field("resolved_at", "cannot be in the future"));
        }
        if let Some(last) = open.last_mut() {
            last.1 = Some(at);
        }
        Ok(("issue.resolve", format!("resolved at {}", at.format("%Y-%m-%d %H:%M UTC")), Some(at)))
    })
    .await
}

/// Reopens a resolved manual issue now: its clock resumes with the time already used.
pub async fn reopen(db: &Db, caller: &Caller, id: i64, now: DateTime<Utc>) -> Result<IssueView, AppError> {
    change_manual(db, caller, id, now, |row, open, _| {
        if row.resolved_at.is_none() {
            return Err(AppError::conflict("state", "this issue is open"));
        }
        open.push((now, None));
        Ok(("issue.reopen", "reopened; the clock resumes with the time already used".to_string(), None))
    })
    .await
}

fn field(name: &str, message: &str) -> AppError {
    let mut fields = FieldErrors::new();
    fields.insert(name.into(), vec![message.into()]);
    AppError::invalid(fields)
}

async fn change_manual(
    db: &Db,
    caller: &Caller,
    id: i64,
    now: DateTime<Utc>,
    change: impl FnOnce(&IssueRow, &mut Periods, &Program) -> Result<(&'static str, String, Option<DateTime<Utc>>), AppError>,
) -> Result<IssueView, AppError> {
    caller.check(Action::Write, || "issues".into())?;
    let row = row(db, caller, id).await?;
    caller.check(Action::EditIntegration { partner: row.partner_id }, || format!("issue {id}"))?;
    if row.source != "manual" {
        return Err(AppError::BadRequest("this issue is synced from GitHub: close or reopen it there".into()));
    }
    let program = program(db).await?;
    let mut open = parse_periods(&row.open_periods)?;
    let was_open = row.resolved_at.is_none();
    let (action, summary, resolved_at) = change(&row, &mut open, &program)?;
    let data = data_of(&row, &open, resolved_at);
    let clock = program.clock(severity(&row)?, &open, &parse_periods(&row.pause_periods)?, now);
    let owner = Owner {
        partner_id: row.partner_id,
        partner_name: &row.partner_name,
        integration_id: row.integration_id,
        integration_name: &row.integration_name,
    };
    let events = clock_events(&owner, row.number, &row.title, &clock, data.cycle, was_open && resolved_at.is_some());
    let audit = Entry::by(caller, action, TargetKind::Issue, Some(id), &issue_label(&row.integration_name, row.number, &row.title))
        .partner(row.partner_id)
        .integration(row.integration_id)
        .summary(summary);
    store::save(db, Some(id), &data, &columns(&clock), &events, Some(&audit), now).await?;
    get(db, caller, id, now).await
}

/// A reviewer sets the severity that counts, over what the labels say
/// (`None` goes back to the labels). The new severity's target counts from
/// the original opening; the change is in the trail.
pub async fn override_severity(db: &Db, caller: &Caller, id: i64, severity_key: &str, now: DateTime<Utc>) -> Result<IssueView, AppError> {
    let row = row(db, caller, id).await?;
    caller.check(Action::Review { partner: row.partner_id }, || format!("issue {id}"))?;
    let new = match severity_key.trim() {
        "" | "labels" => None,
        s => Some(Severity::parse(s).ok_or_else(|| field("severity", "critical, normal, or labels to follow the issue's labels"))?),
    };
    let before = row.severity_override.clone();
    let after = new.map(|s| s.key().to_string());
    if before == after {
        return get(db, caller, id, now).await;
    }
    let label = issue_label(&row.integration_name, row.number, &row.title);
    let summary = match new {
        Some(s) => format!("severity set to {} by a reviewer", s.key()),
        None => format!("severity follows the labels again ({})", row.label_severity),
    };
    let audit = Entry::by(caller, "issue.severity", TargetKind::Issue, Some(id), &label)
        .partner(row.partner_id)
        .integration(row.integration_id)
        .summary(summary)
        .changes(vec![FieldChange { field: "severity_override".into(), before, after: after.clone() }]);
    store::set_override(db, id, after.as_deref(), &audit, now).await?;
    recompute(db, &[id], now).await?;
    get(db, caller, id, now).await
}

/// Recomputes and stores the clocks of `ids` (or, with an empty list, of
/// every issue, in chunks, classifying GitHub issues again by the critical
/// labels in force), emitting the events that are now due.
pub async fn recompute(db: &Db, ids: &[i64], now: DateTime<Utc>) -> Result<usize, AppError> {
    let program = program(db).await?;
    if ids.is_empty() {
        return recompute_all(db, &program, None, now).await;
    }
    let mut rows = Vec::new();
    for id in ids {
        rows.extend(store::get(db, *id).await?);
    }
    Ok(store::save_clocks(db, &clock_updates(&rows, &program, None, now)?, now).await?)
}

/// Recomputes every issue (or every issue of one integration) after a
/// change of the calendar or of a critical label set: GitHub issues take
/// the severity their labels now give them.
async fn recompute_all(db: &Db, program: &Program, integration_id: Option<i64>, now: DateTime<Utc>) -> Result<usize, AppError> {
    let relabel = Relabel::read(db, program, integration_id).await?;
    let mut fired = 0;
    let mut after = 0;
    loop {
        let rows = store::chunk(db, integration_id, after, 500).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        fired += store::save_clocks(db, &clock_updates(&rows, program, Some(&relabel), now)?, now).await?;
    }
    Ok(fired)
}

/// The critical labels in force per integration (of one, or of all), read
/// once for a recompute.
struct Relabel {
    default: Vec<String>,
    own: HashMap<i64, Vec<String>>,
}

impl Relabel {
    async fn read(db: &Db, program: &Program, integration_id: Option<i64>) -> Result<Self, sqlx::Error> {
        let default = program.settings.critical_labels.clone();
        let own = store::own_critical_labels(db, integration_id)
            .await?
            .into_iter()
            .map(|(id, text)| (id, critical_set(Some(&text), &default)))
            .collect();
        Ok(Relabel { default, own })
    }

    fn of(&self, integration_id: i64) -> &[String] {
        self.own.get(&integration_id).unwrap_or(&self.default)
    }
}

fn clock_updates(
    rows: &[IssueRow],
    program: &Program,
    relabel: Option<&Relabel>,
    now: DateTime<Utc>,
) -> Result<Vec<ClockUpdate>, sqlx::Error> {
    rows.iter()
        .map(|r| {
            let relabelled = match relabel {
                None => None,
                Some(rl) => {
                    let source = IssueSource::parse(&r.source).ok_or_else(|| decode_error("issue source", &r.source))?;
                    let stored = Severity::parse(&r.label_severity).ok_or_else(|| decode_error("severity", &r.label_severity))?;
                    let labels: Vec<String> = r.labels.lines().map(str::to_string).collect();
                    crate::domain::support::relabel(source, &labels, stored, rl.of(r.integration_id))
                }
            };
            let severity = match (&r.severity_override, relabelled) {
                (None, Some(new)) => new,
                _ => severity(r)?,
            };
            let clock = program.clock(severity, &parse_periods(&r.open_periods)?, &parse_periods(&r.pause_periods)?, now);
            let owner = Owner {
                partner_id: r.partner_id,
                partner_name: &r.partner_name,
                integration_id: r.integration_id,
                integration_name: &r.integration_name,
            };
            let events =
                if r.resolved_at.is_none() { clock_events(&owner, r.number, &r.title, &clock, r.cycle, false) } else { Vec::new() };
            Ok((r.id, r.integration_id, columns(&clock), events, relabelled.map(Severity::key)))
        })
        .collect()
}

/// The SLA monitor's step: issues whose warning or deadline has passed get
/// their new state and events. Returns how many events were new. Callers
/// hold the monitor's lease; the events' unique keys make a second run harmless anyway.
pub async fn monitor_step(db: &Db, now: DateTime<Utc>) -> Result<usize, AppError> {
    let program = program(db).await?;
    let mut fired = 0;
    // Bounded: each pass moves issues out of the query's reach, except
    // paused ones, whose projected deadline moves with the clock.
    for _ in 0..20 {
        let rows = store::due_for_monitor(db, now, 500).await?;
        fired += store::save_clocks(db, &clock_updates(&rows, &program, None, now)?, now).await?;
        if rows.len() < 500 {
            break;
        }
    }
    Ok(fired)
}

// ---- GitHub ----

/// The stored form of a GitHub issue: its periods from the events when
/// they were fetched, else carried over from what was stored (a close ends
/// the last period; a reopen adds one).
#[allow(clippy::too_many_arguments)]
pub fn synced_issue(
    existing: Option<&IssueRow>,
    issue: &github::Issue,
    events: Option<&[github::IssueEvent]>,
    owner: &Owner,
    critical_labels: &[String],
    program: &Program,
    now: DateTime<Utc>,
) -> Result<SyncedIssue, sqlx::Error> {
    let open: Periods = match (events, existing) {
        (Some(ev), _) => github::open_periods(issue, ev),
        (None, Some(row)) => {
            let mut p = parse_periods(&row.open_periods)?;
            match (row.resolved_at.is_some(), issue.open) {
                (false, false) => {
                    if let Some(last) = p.last_mut() {
                        last.1 = Some(issue.closed_at.unwrap_or(issue.updated_at));
                    }
                }
                (true, true) => p.push((issue.updated_at, None)),
                _ => {}
            }
            p
        }
        (None, None) => vec![(issue.created_at, if issue.open { None } else { Some(issue.closed_at.unwrap_or(issue.updated_at)) })],
    };
    let pause: Periods = match (events, existing) {
        _ if program.settings.pause_labels.is_empty() => Vec::new(),
        (Some(ev), _) => github::label_periods(issue, ev, &program.settings.pause_labels),
        (None, Some(row)) => parse_periods(&row.pause_periods)?,
        (None, None) => Vec::new(),
    };
    let label_severity = severity_from_labels(&issue.labels, critical_labels);
    let severity = match existing.and_then(|r| r.severity_override.as_deref()).and_then(Severity::parse) {
        Some(s) => s,
        None => label_severity,
    };
    let resolved_at = open.last().and_then(|(_, end)| *end);
    let clock = program.clock(severity, &open, &pause, now);
    let cycle = open.len().saturating_sub(1) as i64;
    let was_open = existing.is_some_and(|r| r.resolved_at.is_none());
    let data = IssueData {
        integration_id: owner.integration_id,
        source: "github",
        number: Some(issue.number),
        title: issue.title.chars().take(300).collect(),
        url: Some(issue.url.clone()),
        author: Some(issue.author.clone()),
        labels: issue.labels.clone(),
        label_severity: label_severity.key(),
        opened_at: issue.created_at,
        open_periods: periods_json(&open),
        pause_periods: periods_json(&pause),
        resolved_at,
        cycle,
        gone_at: None,
    };
    let events = clock_events(owner, Some(issue.number), &issue.title, &clock, cycle, was_open && resolved_at.is_some());
    Ok((existing.map(|r| r.id), data, columns(&clock), events))
}

/// A stored GitHub issue checked again: still there (written again, so it
/// is not checked for another day), or gone (deleted or transferred: it
/// stops counting now, without a met/missed event, since nobody resolved it).
pub fn rechecked(row: &IssueRow, gone: bool, program: &Program, now: DateTime<Utc>) -> Result<SyncedIssue, sqlx::Error> {
    let open = parse_periods(&row.open_periods)?;
    let clock = program.clock(severity(row)?, &open, &parse_periods(&row.pause_periods)?, now);
    let issue = (Some(row.id), data_of(row, &open, row.resolved_at), columns(&clock), Vec::new());
    if gone {
        vanished(issue, row.severity_override.as_deref(), program, now)
    } else {
        Ok(issue)
    }
}

/// A deleted or transferred issue stops counting when we notice: its last
/// open period ends now, it is marked gone, and it gets no met/missed event
/// (nobody resolved it). `severity_override` is a reviewer's, if any.
pub fn vanished(
    mut issue: SyncedIssue,
    severity_override: Option<&str>,
    program: &Program,
    now: DateTime<Utc>,
) -> Result<SyncedIssue, sqlx::Error> {
    let data = &mut issue.1;
    let mut open = parse_periods(&data.open_periods)?;
    if let Some(last) = open.last_mut().filter(|l| l.1.is_none()) {
        last.1 = Some(now);
    }
    data.gone_at = Some(now);
    data.resolved_at = open.last().and_then(|l| l.1);
    data.open_periods = periods_json(&open);
    let key = severity_override.unwrap_or(data.label_severity);
    let severity = Severity::parse(key).ok_or_else(|| decode_error("severity", key))?;
    let clock = program.clock(severity, &open, &parse_periods(&data.pause_periods)?, now);
    issue.2 = columns(&clock);
    issue.3.clear();
    Ok(issue)
}

/// Whether a synced issue needs its events fetched: to see reopenings and
/// the pause labels' history (one request per such issue, so only then).
pub fn needs_events(existing: Option<&IssueRow>, issue: &github::Issue, program: &Program) -> bool {
    !program.settings.pause_labels.is_empty()
        || issue.state_reason.as_deref() == Some("reopened")
        || existing.is_some_and(|r| r.resolved_at.is_some() && issue.open)
}

/// The critical label set of an integration: its own, else the program's.
pub async fn critical_labels_of(db: &Db, integration_id: i64, program: &Program) -> Result<Vec<String>, sqlx::Error> {
    Ok(critical_set(store::critical_labels(db, integration_id).await?.as_deref(), &program.settings.critical_labels))
}

/// An integration's own critical labels (empty: it uses the program's
/// default) and the labels in force, for its form.
pub async fn critical_labels(db: &Db, caller: &Caller, integration_id: i64) -> Result<(Vec<String>, Vec<String>), AppError> {
    let integration = super::integrations::get(db, caller, integration_id).await?;
    let text = store::critical_labels(db, integration.id).await?;
    let in_force = critical_set(text.as_deref(), &program(db).await?.settings.critical_labels);
    Ok((text.as_deref().map(label_list).unwrap_or_default(), in_force))
}

/// Sets an integration's own critical labels (empty: the program's default).
pub async fn set_critical_labels(
    db: &Db,
    caller: &Caller,
    integration_id: i64,
    text: &str,
    now: DateTime<Utc>,
) -> Result<Vec<String>, AppError> {
    let integration = super::integrations::get(db, caller, integration_id).await?;
    caller.check(Action::Review { partner: integration.partner_id }, || format!("integration {integration_id}"))?;
    let labels = label_list(text);
    let before = store::critical_labels(db, integration.id).await?;
    let after = (!labels.is_empty()).then(|| labels.join("\n"));
    let audit = Entry::by(caller, "integration.critical_labels", TargetKind::Integration, Some(integration.id), &integration.name)
        .partner(integration.partner_id)
        .integration(integration.id)
        .summary(match &after {
            Some(_) => format!("critical labels set to {}", labels.join(", ")),
            None => "critical labels follow the program's default".into(),
        })
        .changes(vec![FieldChange { field: "critical_labels".into(), before, after: after.clone() }]);
    store::set_critical_labels(db, integration.id, after.as_deref(), &audit, now).await?;
    // Its GitHub issues are classified again, their clocks with them.
    let program = program(db).await?;
    recompute_all(db, &program, Some(integration.id), now).await?;
    Ok(critical_set(after.as_deref(), &program.settings.critical_labels))
}

/// Queues a GitHub sync of the integration now.
pub async fn sync_now(db: &Db, caller: &Caller, integration_id: i64, now: DateTime<Utc>) -> Result<u64, AppError> {
    let integration = super::integrations::get(db, caller, integration_id).await?;
    caller.check(Action::Review { partner: integration.partner_id }, || format!("integration {integration_id}"))?;
    let n = store::sync_now(db, integration.id, now).await?;
    if n == 0 {
        return Err(AppError::conflict("repository_url", "this integration has no repository on the GitHub this tracker syncs with"));
    }
    Ok(n)
}

fn sync_view(r: store::SyncRow) -> crate::domain::support::SyncView {
    crate::domain::support::SyncView {
        integration_id: r.integration_id,
        repository: format!("{}/{}", r.owner, r.repo),
        last_synced_at: r.last_synced_at,
        last_outcome: r.last_outcome,
        last_error: r.last_error,
        failures: r.failures,
        next_sync_at: r.next_sync_at,
        licence: r.licence,
        licence_checked_at: r.licence_checked_at,
    }
}

/// The integration's GitHub sync, if its repository is on the configured GitHub.
pub async fn sync_state(db: &Db, caller: &Caller, integration_id: i64) -> Result<Option<crate::domain::support::SyncView>, AppError> {
    let integration = super::integrations::get(db, caller, integration_id).await?;
    Ok(store::sync_row(db, integration.id).await?.map(sync_view))
}

/// The sync's status line (admins): last step, repositories, failures, pause.
pub async fn sync_status(db: &Db, caller: &Caller, now: DateTime<Utc>) -> Result<crate::domain::support::SyncStatus, AppError> {
    caller.check(Action::Operate, || "GitHub sync status".into())?;
    let (sweep, _, _, _) = crate::store::registry::status(db, SYNC_JOB).await?;
    let (repositories, due, next_run) = store::sync_counts(db, now).await?;
    let paused_until = store::api_paused_until(db).await?.filter(|u| *u > now);
    let failing = store::failing_syncs(db, 20).await?.into_iter().map(sync_view).collect();
    Ok(crate::domain::support::SyncStatus { sweep, repositories, due, next_run, paused_until, failing })
}

// ---- compliance ----

fn outcomes(rows: &[store::OutcomeRow]) -> Vec<sla::Outcome> {
    rows.iter()
        .filter_map(|r| {
            Some(sla::Outcome {
                severity: Severity::parse(&r.severity)?,
                opened_at: r.opened_at,
                resolved_at: r.resolved_at,
                state: ClockState::parse(&r.clock_state)?,
                resolve_time: r.resolved_at.map(|_| Duration::seconds(r.used_seconds)),
            })
        })
        .collect()
}

fn health_of(rows: &[store::OutcomeRow], window_days: i64, since: DateTime<Utc>, now: DateTime<Utc>) -> Health {
    let o = outcomes(rows);
    Health {
        window_days,
        compliance: sla::compliance(o.iter(), since, now),
        open: rows.iter().filter(|r| r.resolved_at.is_none()).count() as i64,
        due_soon: rows.iter().filter(|r| r.resolved_at.is_none() && r.clock_state == "due_soon").count() as i64,
    }
}

/// The partner whose issues a roll-up may count: the integration's or the
/// one given, checked readable; a member is always kept to their own.
async fn readable_scope(db: &Db, caller: &Caller, partner_id: Option<i64>, integration_id: Option<i64>) -> Result<Option<i64>, AppError> {
    let partner_id = match integration_id {
        Some(id) => Some(super::integrations::get(db, caller, id).await?.partner_id),
        None => partner_id,
    };
    if let Some(p) = partner_id {
        caller.check(Action::Read { partner: p }, || format!("partner {p}"))?;
    }
    Ok(caller.partner_scope().or(partner_id))
}

/// Support health of one partner or one integration over the program's window.
pub async fn health(
    db: &Db,
    caller: &Caller,
    partner_id: Option<i64>,
    integration_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Health, AppError> {
    let partner_id = readable_scope(db, caller, partner_id, integration_id).await?;
    let program = program(db).await?;
    let since = now - Duration::days(program.settings.window_days);
    let rows = store::outcomes(db, partner_id, integration_id, since).await?;
    Ok(health_of(&rows, program.settings.window_days, since, now))
}

/// Weekly compliance of a partner or integration, oldest week first.
pub async fn trend(
    db: &Db,
    caller: &Caller,
    partner_id: Option<i64>,
    integration_id: Option<i64>,
    weeks: u32,
    now: DateTime<Utc>,
) -> Result<Vec<sla::WeekPoint>, AppError> {
    let partner_id = readable_scope(db, caller, partner_id, integration_id).await?;
    let since = now - Duration::weeks(i64::from(weeks) + 1);
    let rows = store::outcomes(db, partner_id, integration_id, since).await?;
    Ok(sla::weekly_trend(outcomes(&rows).iter(), weeks, now))
}

/// Every partner's support health, worst compliance first (staff only).
pub async fn overview(db: &Db, caller: &Caller, now: DateTime<Utc>) -> Result<Vec<PartnerHealth>, AppError> {
    if caller.partner_scope().is_some() {
        return Err(AppError::Forbidden);
    }
    let program = program(db).await?;
    let since = now - Duration::days(program.settings.window_days);
    let rows = store::outcomes(db, None, None, since).await?;
    let partners = crate::store::partners::ids_and_names(db).await?;
    let mut by_partner: std::collections::HashMap<i64, Vec<store::OutcomeRow>> = std::collections::HashMap::new();
    for r in rows {
        by_partner.entry(r.partner_id).or_default().push(r);
    }
    let mut out: Vec<PartnerHealth> = partners
        .into_iter()
        .map(|(id, slug, name)| {
            let rows = by_partner.remove(&id).unwrap_or_default();
            PartnerHealth { partner_id: id, slug, name, health: health_of(&rows, program.settings.window_days, since, now) }
        })
        .collect();
    // Worst first: lowest compliance (none resolved yet counts as 100 %:
    // nothing missed), then most open breaches, then by name.
    out.sort_by(|a, b| {
        let pa = a.health.compliance.percent.unwrap_or(100.0);
        let pb = b.health.compliance.percent.unwrap_or(100.0);
        pa.partial_cmp(&pb)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(b.health.compliance.open_breaches.cmp(&a.health.compliance.open_breaches))
            .then(a.name.cmp(&b.name))
    });
    Ok(out)
}

// ---- settings ----

/// The program's SLA settings and holidays (anyone signed in may read them:
/// partners need to know how their deadlines are counted).
pub async fn settings(db: &Db, _caller: &Caller) -> Result<(SlaSettings, Vec<Holiday>), AppError> {
    Ok(store::settings(db).await?)
}

pub async fn save_settings(db: &Db, caller: &Caller, input: &SlaSettingsInput, now: DateTime<Utc>) -> Result<SlaSettings, AppError> {
    caller.check(Action::Configure, || "program settings".into())?;
    let new = input.validate().map_err(AppError::invalid)?;
    let (old, _) = store::settings(db).await?;
    let changes: Vec<FieldChange> = old
        .to_pairs()
        .into_iter()
        .zip(new.to_pairs())
        .filter(|((_, a), (_, b))| a != b)
        .map(|((k, a), (_, b))| FieldChange { field: k.trim_start_matches("sla.").into(), before: Some(a), after: Some(b) })
        .collect();
    if changes.is_empty() {
        return Ok(new);
    }
    let audit = Entry::by(caller, "settings.sla", TargetKind::Settings, None, "SLA settings")
        .summary(format!("changed {}", crate::domain::audit::field_names(&changes)))
        .changes(changes);
    store::save_settings(db, &new, &audit, now).await?;
    recompute(db, &[], now).await?;
    Ok(new)
}

pub async fn add_holiday(db: &Db, caller: &Caller, day: &str, name: &str, now: DateTime<Utc>) -> Result<u64, AppError> {
    caller.check(Action::Configure, || "program settings".into())?;
    let mut fields = FieldErrors::new();
    // Only years the SLA clock counts in: others are junk (and PostgreSQL refuses some).
    let parsed = NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| crate::domain::sla::YEARS.contains(&chrono::Datelike::year(d)))
        .ok_or(());
    if parsed.is_err() {
        fields.insert("day".into(), vec![format!("a date, e.g. 2026-12-25 (years {})", crate::domain::sla::years_label())]);
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        fields.insert("name".into(), vec!["a name of 1 to 200 characters, e.g. Christmas Day".into()]);
    }
    let Ok(day) = parsed else { return Err(AppError::invalid(fields)) };
    if !fields.is_empty() {
        return Err(AppError::invalid(fields));
    }
    save_holidays(db, caller, &[Holiday { day, name: name.to_string() }], now).await
}

/// Imports the holidays of an iCalendar file.
pub async fn import_holidays(db: &Db, caller: &Caller, ics: &str, now: DateTime<Utc>) -> Result<u64, AppError> {
    caller.check(Action::Configure, || "program settings".into())?;
    let days = parse_ical(ics).map_err(|e| field("file", &e))?;
    if days.is_empty() {
        return Err(field("file", "the file lists no events"));
    }
    save_holidays(db, caller, &days, now).await
}

async fn save_holidays(db: &Db, caller: &Caller, days: &[Holiday], now: DateTime<Utc>) -> Result<u64, AppError> {
    let summary = match days {
        [one] => format!("holiday {} ({}) added", one.day, one.name),
        many => format!("{} holidays imported, {} to {}", many.len(), many[0].day, many[many.len() - 1].day),
    };
    let audit = Entry::by(caller, "settings.holidays", TargetKind::Settings, None, "Holidays").summary(summary);
    let added = store::add_holidays(db, days, &audit, now).await?;
    recompute(db, &[], now).await?;
    Ok(added)
}

pub async fn remove_holiday(db: &Db, caller: &Caller, day: &str, now: DateTime<Utc>) -> Result<(), AppError> {
    caller.check(Action::Configure, || "program settings".into())?;
    let day = NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d").map_err(|_| field("day", "a date, e.g. 2026-12-25"))?;
    let audit = Entry::by(caller, "settings.holidays", TargetKind::Settings, None, "Holidays").summary(format!("holiday {day} removed"));
    if !store::remove_holiday(db, day, &audit, now).await? {
        return Err(AppError::NotFound(format!("holiday {day}")));
    }
    recompute(db, &[], now).await?;
    Ok(())
}

/// Compliance of a set of outcomes (re-exported for benchmarks and the dashboard).
pub fn compliance_of(rows: &[store::OutcomeRow], since: DateTime<Utc>, now: DateTime<Utc>) -> Compliance {
    sla::compliance(outcomes(rows).iter(), since, now)
}
