//! Tier-downgrade flags: the evaluation that raises, advances and clears
//! them (run by a leased job), a reviewer's decision and exemptions, the
//! partner's end-of-support declaration, and the lists pages and the API show.
//!
//! The rules themselves are pure ([`crate::domain::flag`]); this module
//! gathers their facts in a few whole-program queries and writes what
//! changed, each change with its audit record and alerts.

use crate::domain::access::{Action, Caller};
use crate::domain::alert::{AlertContent, AlertKind};
use crate::domain::audit::{Entry, FieldChange, TargetKind};
use crate::domain::catalog::{IntegrationKind, Tier};
use crate::domain::flag::{
    self, Current, DecisionInput, Evidence, Exemption, ExemptionInput, Facts, FlagQuery, FlagSettings, FlagSettingsInput, FlagState,
    FlagView, IssueRef, Outcome, Rule, Step,
};
use crate::domain::{paging, Page};
use crate::error::AppError;
use crate::store::alerts::{Audience, NewAlert};
use crate::store::flags::{self as store, Change, Decided, FlagFilter, FlagRow};
use crate::store::{decode_error, support as support_store, Db};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::collections::HashMap;

/// The `job_leases` name of the evaluation.
pub const JOB: &str = "tier_flags";

/// What one evaluation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evaluation {
    pub subjects: usize,
    pub raised: usize,
    pub moved: usize,
    pub cleared: usize,
    pub refreshed: usize,
    /// Kept flags whose condition cleared (the keep stops holding them back).
    pub lapsed: usize,
}

/// The program's flag settings (read per use, so every instance sees an admin's change).
pub async fn settings_of(db: &Db) -> Result<FlagSettings, sqlx::Error> {
    let pairs = store::settings(db).await?;
    Ok(FlagSettings::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
}

fn json<T: serde::Serialize>(value: &T) -> String {
    // Lists of plain strings always serialise.
    serde_json::to_string(value).unwrap_or_else(|_| "[]".into())
}

fn label(integration: &str, rule: Rule) -> String {
    format!("{integration} · {}", rule.label())
}

/// Evaluates every official and verified integration at `now` and writes
/// what changed. Safe to run twice: changes are guarded by the state they
/// were computed from, and one open flag per integration and rule is a
/// unique index.
pub async fn evaluate(db: &Db, now: DateTime<Utc>) -> Result<Evaluation, AppError> {
    let settings = settings_of(db).await?;
    let since = now - Duration::days(settings.window_days);
    let subjects = store::subjects(db).await?;

    let mut outcomes: HashMap<i64, Vec<support_store::OutcomeRow>> = HashMap::new();
    for row in support_store::outcomes(db, None, None, since).await? {
        outcomes.entry(row.integration_id).or_default().push(row);
    }
    let mut breaches: HashMap<i64, Vec<IssueRef>> = HashMap::new();
    for b in store::open_critical_breaches(db).await? {
        breaches.entry(b.integration_id).or_default().push(IssueRef { id: b.id, number: b.number, title: b.title, due_at: b.due_at });
    }
    let registry: HashMap<i64, store::RegistryFacts> =
        store::registry_facts(db).await?.into_iter().map(|r| (r.integration_id, r)).collect();
    let mut standing: HashMap<(i64, String), Vec<FlagRow>> = HashMap::new();
    for row in store::standing(db).await? {
        standing.entry((row.integration_id, row.rule.clone())).or_default().push(row);
    }
    let exemptions: HashMap<(i64, String), Exemption> = store::exemptions(db, None, now)
        .await?
        .into_iter()
        .map(|e| ((e.integration_id, e.rule), Exemption { until: e.until_at, reason: e.reason }))
        .collect();

    let mut changes = Vec::new();
    let mut report = Evaluation { subjects: subjects.len(), ..Default::default() };
    let mut seen = std::collections::HashSet::new();
    for s in &subjects {
        seen.insert(s.integration_id);
        let kind = IntegrationKind::parse(&s.kind).ok_or_else(|| decode_error("integration kind", &s.kind))?;
        let tier = Tier::parse(&s.tier).ok_or_else(|| decode_error("tier", &s.tier))?;
        let compliance =
            crate::services::support::compliance_of(outcomes.get(&s.integration_id).map(Vec::as_slice).unwrap_or(&[]), since, now);
        let reg = registry.get(&s.integration_id);
        let facts = Facts {
            integration_id: s.integration_id,
            kind,
            tier,
            met: compliance.within_sla,
            total: compliance.resolved,
            open_critical_breaches: breaches.remove(&s.integration_id).unwrap_or_default(),
            open_breaches: compliance.open_breaches,
            registry_tier_mismatch: reg
                .filter(|r| r.found_at.is_some())
                .and_then(|r| crate::domain::registry::tier_mismatch(tier, r.registry_tier.as_deref(), r.registry_warning.as_deref())),
            provider_gone_since: reg.filter(|r| r.found_at.is_none()).and_then(|r| r.gone_at),
            last_release_at: reg.and_then(|r| r.last_release_at),
            end_of_support_at: s.end_of_support_at,
        };
        let findings: HashMap<Rule, flag::Finding> = flag::findings(&facts, &settings, now).into_iter().map(|f| (f.rule, f)).collect();
        for &rule in Rule::ALL {
            let rows = standing.get(&(s.integration_id, rule.key().to_string()));
            let open = rows.and_then(|r| r.iter().find(|f| f.closed_at.is_none()));
            let last = open.or_else(|| rows.and_then(|r| r.iter().rev().find(|f| f.closed_at.is_some())));
            let current = last.map(current_of).transpose()?;
            let finding = findings.get(&rule);
            let exemption = exemptions.get(&(s.integration_id, rule.key().to_string()));
            let step = flag::step(current.as_ref(), finding.is_some(), settings.mode(rule), exemption, &settings, now);
            if let Some(change) = change_for(s, rule, open, last, finding, step, now) {
                match &change {
                    Change::Raise { .. } => report.raised += 1,
                    Change::Move { .. } => report.moved += 1,
                    Change::Clear { .. } => report.cleared += 1,
                    Change::Refresh { .. } => report.refreshed += 1,
                    Change::Lapse { .. } => report.lapsed += 1,
                }
                changes.push(change);
            }
        }
    }
    // Open flags of integrations that are no longer official or verified.
    for rows in standing.values() {
        for f in rows.iter().filter(|f| f.closed_at.is_none() && !seen.contains(&f.integration_id)) {
            let rule = Rule::parse(&f.rule).ok_or_else(|| decode_error("flag rule", &f.rule))?;
            report.cleared += 1;
            changes.push(Change::Clear {
                id: f.id,
                from: f.state.clone(),
                note: format!("the integration is no longer official or verified (now {})", f.tier),
                audit: Entry::system("flag.clear", TargetKind::Flag, Some(f.id), &label(&f.integration_name, rule))
                    .partner(f.partner_id)
                    .integration(f.integration_id)
                    .summary("closed: the integration is no longer official or verified"),
            });
        }
    }
    store::apply(db, &changes, now).await?;
    Ok(report)
}

fn current_of(row: &FlagRow) -> Result<Current, sqlx::Error> {
    let state = FlagState::parse(&row.state).ok_or_else(|| decode_error("flag state", &row.state))?;
    let tier_now = Tier::parse(&row.tier).ok_or_else(|| decode_error("tier", &row.tier))?;
    let tier_after = row.tier_after.as_deref().and_then(Tier::parse);
    Ok(Current {
        state,
        held_since: row.held_since,
        due_at: row.due_at,
        decided_at: row.closed_at,
        superseded: flag::superseded(state, tier_after, tier_now, row.lapsed_at.is_some()),
    })
}

/// The store change for one rule's step, with its record and alert.
#[allow(clippy::too_many_arguments)]
fn change_for(
    s: &store::Subject,
    rule: Rule,
    open: Option<&FlagRow>,
    // The latest flag, open or closed (a kept one, for a lapse).
    last: Option<&FlagRow>,
    finding: Option<&flag::Finding>,
    step: Step,
    now: DateTime<Utc>,
) -> Option<Change> {
    let entry = |action: &str, id: Option<i64>, summary: String| {
        Entry::system(action, TargetKind::Flag, id, &label(&s.integration_name, rule))
            .partner(s.partner_id)
            .integration(s.integration_id)
            .summary(summary)
    };
    match step {
        Step::Nothing => {
            let (f, finding) = (open?, finding?);
            let evidence = json(&finding.evidence);
            (f.reason != finding.reason || f.evidence != evidence || f.clears_when != finding.clears_when).then(|| Change::Refresh {
                id: f.id,
                state: f.state.clone(),
                reason: finding.reason.clone(),
                evidence,
                clears_when: finding.clears_when.clone(),
            })
        }
        Step::Raise { state, due_at } => {
            let finding = finding?;
            let summary = format!("flag raised ({}): {}", state.label().to_lowercase(), finding.reason);
            Some(Change::Raise {
                integration_id: s.integration_id,
                partner_id: s.partner_id,
                rule: rule.key(),
                state: state.key(),
                reason: finding.reason.clone(),
                evidence: json(&finding.evidence),
                clears_when: finding.clears_when.clone(),
                due_at,
                audit: entry("flag.raise", None, summary),
                // A new flag is news to the alliance manager (program.md), in
                // its grace period already; not in preview or while exempt.
                alert: matches!(state, FlagState::Grace | FlagState::Due).then(|| raised_alert(s, rule, finding, state, due_at, now)),
            })
        }
        Step::Move { to, due_at } => {
            let (f, finding) = (open?, finding?);
            let summary = format!("{} → {}", FlagState::parse(&f.state).map(|s| s.label()).unwrap_or("?"), to.label());
            Some(Change::Move {
                id: f.id,
                from: f.state.clone(),
                to: to.key(),
                due_at,
                reason: finding.reason.clone(),
                evidence: json(&finding.evidence),
                clears_when: finding.clears_when.clone(),
                audit: entry(&format!("flag.{}", to.key()), Some(f.id), summary),
                alert: (to == FlagState::Due).then(|| raised_alert(s, rule, finding, to, due_at, now)),
            })
        }
        Step::Clear { note } => {
            let f = open?;
            Some(Change::Clear { id: f.id, from: f.state.clone(), audit: entry("flag.clear", Some(f.id), format!("closed: {note}")), note })
        }
        Step::Lapse => {
            let f = last?;
            Some(Change::Lapse {
                id: f.id,
                audit: entry("flag.lapse", Some(f.id), "the kept flag's condition cleared: a new occurrence is flagged again".into()),
            })
        }
    }
}

/// A flag was raised, or became due for decision: the partner's alliance
/// manager hears of each.
fn raised_alert(
    s: &store::Subject,
    rule: Rule,
    finding: &flag::Finding,
    state: FlagState,
    due_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> NewAlert {
    let (detail, step) = match (state, due_at) {
        (FlagState::Grace, Some(due)) => (
            format!(
                "{} was flagged: {}. It is due for a tier decision from {} unless that clears.",
                s.integration_name,
                finding.reason,
                due.format("%Y-%m-%d")
            ),
            "raised",
        ),
        _ => (format!("{} is due for a tier decision: {}.", s.integration_name, finding.reason), "due"),
    };
    let content = AlertContent {
        kind: AlertKind::FlagRaised,
        subject: s.integration_name.clone(),
        title: rule.label().to_string(),
        partner: Some(s.partner_name.clone()),
        integration: Some(s.integration_name.clone()),
        link: "/flags/0".into(),
        deadline: None,
        detail,
        next_step: "Open the flag, look at its evidence, and downgrade the integration or keep its tier with a reason.".into(),
    };
    NewAlert {
        kind: AlertKind::FlagRaised.key(),
        subject_ref: "flag:0".into(),
        discriminator: format!("{step}:{}", now.timestamp()),
        partner_id: Some(s.partner_id),
        content: serde_json::to_value(&content).unwrap_or(serde_json::Value::Null),
        audience: vec![(Audience::AllianceManager(s.partner_id), false)],
    }
}

// ---- reading ----

/// A stored flag as pages show it (without its exemption).
pub fn view_row(row: FlagRow) -> Result<FlagView, sqlx::Error> {
    view(row, None)
}

fn view(row: FlagRow, exemption: Option<&store::ExemptionRow>) -> Result<FlagView, sqlx::Error> {
    let evidence: Vec<Evidence> = serde_json::from_str(&row.evidence).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(FlagView {
        rule: Rule::parse(&row.rule).ok_or_else(|| decode_error("flag rule", &row.rule))?,
        state: FlagState::parse(&row.state).ok_or_else(|| decode_error("flag state", &row.state))?,
        tier: Tier::parse(&row.tier).ok_or_else(|| decode_error("tier", &row.tier))?,
        exempt_until: exemption.map(|e| e.until_at),
        exempt_reason: exemption.map(|e| e.reason.clone()),
        id: row.id,
        integration_id: row.integration_id,
        integration: row.integration_name,
        partner_id: row.partner_id,
        partner: row.partner_name,
        reason: row.reason,
        evidence,
        clears_when: row.clears_when,
        held_since: row.held_since,
        due_at: row.due_at,
        closed_at: row.closed_at,
        close_note: row.close_note,
        decided_by: row.decided_by_name,
        tier_before: row.tier_before,
        tier_after: row.tier_after,
    })
}

/// The filter a query asks for, kept to the caller's partner for members.
pub fn filter_of(caller: &Caller, query: &FlagQuery) -> Result<FlagFilter, AppError> {
    let states = match query.state.trim() {
        "" | "all" => Vec::new(),
        "open" => ["preview", "grace", "due", "exempt"].map(String::from).to_vec(),
        "closed" => ["cleared", "kept", "downgraded"].map(String::from).to_vec(),
        "decided" => ["kept", "downgraded"].map(String::from).to_vec(),
        other => match FlagState::parse(other) {
            Some(s) => vec![s.key().to_string()],
            None => {
                return Err(AppError::invalid(
                    [("state".to_string(), vec![format!("one of open, closed, decided, all, or {}", FlagState::expected())])].into(),
                ))
            }
        },
    };
    let rule = match query.rule.trim() {
        "" => None,
        r => Some(
            Rule::parse(r)
                .map(|r| r.key().to_string())
                .ok_or_else(|| AppError::invalid([("rule".to_string(), vec![format!("one of {}", Rule::expected())])].into()))?,
        ),
    };
    Ok(FlagFilter {
        partner_id: caller.partner_scope().or(query.partner_id.filter(|p| *p > 0)),
        integration_id: query.integration_id.filter(|i| *i > 0),
        states,
        rule,
        manager_email: query.mine.then(|| caller.email.clone()),
        closed_since: query.decided_within_days.filter(|d| *d > 0).map(|d| Utc::now() - Duration::days(d.min(3650))),
        ..Default::default()
    })
}

pub async fn list(db: &Db, caller: &Caller, query: &FlagQuery, now: DateTime<Utc>) -> Result<Page<FlagView>, AppError> {
    let filter = filter_of(caller, query)?;
    if let Some(p) = query.partner_id.filter(|p| *p > 0) {
        caller.check(Action::Read { partner: p }, || format!("partner {p}"))?;
    }
    let (page, per_page) = paging(query.page, query.per_page);
    let (rows, total) = store::list(db, &filter, page, per_page).await?;
    let exemptions = store::exemptions(db, filter.integration_id, now).await?;
    let items = rows
        .into_iter()
        .map(|r| {
            let e = exemptions.iter().find(|e| e.integration_id == r.integration_id && e.rule == r.rule);
            view(r, e)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items, total, page, per_page })
}

/// A flag the caller may read (a member asking for another partner's gets 404).
async fn readable(db: &Db, caller: &Caller, id: i64) -> Result<FlagRow, AppError> {
    let missing = || format!("flag {id}");
    let row = store::get(db, id).await?.ok_or_else(|| AppError::NotFound(missing()))?;
    caller.check(Action::Read { partner: row.partner_id }, missing)?;
    Ok(row)
}

pub async fn get(db: &Db, caller: &Caller, id: i64, now: DateTime<Utc>) -> Result<FlagView, AppError> {
    let row = readable(db, caller, id).await?;
    let exemptions = store::exemptions(db, Some(row.integration_id), now).await?;
    let e = exemptions.iter().find(|e| e.rule == row.rule);
    Ok(view(row, e)?)
}

/// Rows for a streamed export, in id order after `after`.
pub async fn export_chunk(db: &Db, filter: &FlagFilter, after: i64, limit: i64) -> Result<Vec<FlagView>, AppError> {
    let rows = store::export_chunk(db, filter, after, limit).await?;
    Ok(rows.into_iter().map(|r| view(r, None)).collect::<Result<Vec<_>, _>>()?)
}

// ---- deciding ----

/// A reviewer resolves an open flag: downgrade (the tier changes, the
/// partner's contacts hear) or keep (with a reason).
pub async fn decide(db: &Db, caller: &Caller, id: i64, input: &DecisionInput, now: DateTime<Utc>) -> Result<FlagView, AppError> {
    let row = readable(db, caller, id).await?;
    caller.check(Action::Review { partner: row.partner_id }, || format!("flag {id}"))?;
    let tier = Tier::parse(&row.tier).ok_or_else(|| decode_error("tier", &row.tier))?;
    let state = FlagState::parse(&row.state).ok_or_else(|| decode_error("flag state", &row.state))?;
    let rule = Rule::parse(&row.rule).ok_or_else(|| decode_error("flag rule", &row.rule))?;
    let decision = input.validate(tier, state).map_err(AppError::invalid)?;
    let flag_label = label(&row.integration_name, rule);
    let (state_key, summary) = match (decision.outcome, decision.new_tier) {
        (Outcome::Downgrade, Some(new)) => ("downgraded", format!("downgrade: {} → {}", tier.label(), new.label())),
        _ => ("kept", format!("keep {}: {}", tier.label(), decision.reason)),
    };
    let mut audit = vec![Entry::by(caller, "flag.decide", TargetKind::Flag, Some(id), &flag_label)
        .partner(row.partner_id)
        .integration(row.integration_id)
        .summary(summary.clone())
        .changes(vec![FieldChange { field: "state".into(), before: Some(row.state.clone()), after: Some(state_key.into()) }])];
    // A downgrade closes the integration's other open flags: each in the trail.
    let closes = match decision.new_tier {
        Some(_) => store::open_of(db, row.integration_id).await?.into_iter().filter(|(other, ..)| *other != id).collect(),
        None => Vec::new(),
    };
    for (other, other_rule, other_state) in &closes {
        let other_label = Rule::parse(other_rule).map(|r| label(&row.integration_name, r)).unwrap_or_else(|| other_rule.clone());
        audit.push(
            Entry::by(caller, "flag.clear", TargetKind::Flag, Some(*other), &other_label)
                .partner(row.partner_id)
                .integration(row.integration_id)
                .summary(format!("closed by the downgrade of flag {id}"))
                .changes(vec![FieldChange { field: "state".into(), before: Some(other_state.clone()), after: Some("cleared".into()) }]),
        );
    }
    if let Some(new) = decision.new_tier {
        audit.push(
            Entry::by(caller, "integration.tier", TargetKind::Integration, Some(row.integration_id), &row.integration_name)
                .partner(row.partner_id)
                .integration(row.integration_id)
                .summary(format!("tier {} → {} (flag: {})", tier.label(), new.label(), rule.label()))
                .changes(vec![FieldChange { field: "tier".into(), before: Some(tier.key().into()), after: Some(new.key().into()) }]),
        );
    }
    let detail = match decision.new_tier {
        Some(new) => format!(
            "{} moves from {} to {} because: {}.{}",
            row.integration_name,
            tier.label(),
            new.label(),
            row.reason,
            if decision.reason.is_empty() { String::new() } else { format!(" The reviewer wrote: {}", decision.reason) }
        ),
        None => format!("{} keeps its {} tier. The reviewer wrote: {}", row.integration_name, tier.label(), decision.reason),
    };
    let content = AlertContent {
        kind: AlertKind::FlagDecided,
        subject: row.integration_name.clone(),
        title: rule.label().to_string(),
        partner: Some(row.partner_name.clone()),
        integration: Some(row.integration_name.clone()),
        link: format!("/flags/{id}"),
        deadline: None,
        detail,
        next_step: match decision.new_tier {
            Some(_) => "Talk to your alliance manager about what it takes to regain the tier.".into(),
            None => format!("Nothing is required now; {} would stop the flag coming back.", row.clears_when),
        },
    };
    let downgrade = decision.new_tier.is_some();
    let alert = NewAlert {
        kind: AlertKind::FlagDecided.key(),
        subject_ref: format!("flag:{id}"),
        discriminator: state_key.into(),
        partner_id: Some(row.partner_id),
        content: serde_json::to_value(&content).unwrap_or(serde_json::Value::Null),
        audience: vec![(Audience::SupportContacts(row.partner_id), downgrade), (Audience::AllianceManager(row.partner_id), false)],
    };
    let decided = Decided {
        flag_id: id,
        from: &row.state,
        state: state_key,
        note: &decision.reason,
        decided_by: ((caller.user_id > 0).then_some(caller.user_id), &caller.name),
        tier_before: tier.key(),
        tier_after: decision.new_tier.map(|t| t.key()),
        integration_id: row.integration_id,
        closes: closes.iter().map(|(other, ..)| *other).collect(),
        audit,
        alert,
    };
    if !store::decide(db, &decided, now).await? {
        return Err(AppError::conflict("outcome", "the flag changed meanwhile (another reviewer, or its condition cleared); reload it"));
    }
    get(db, caller, id, now).await
}

/// A reviewer exempts an integration from a rule until a date.
pub async fn exempt(db: &Db, caller: &Caller, integration_id: i64, input: &ExemptionInput, now: DateTime<Utc>) -> Result<(), AppError> {
    let integration = super::integrations::get(db, caller, integration_id).await?;
    caller.check(Action::Review { partner: integration.partner_id }, || format!("integration {integration_id}"))?;
    let (rule, until, reason) = input.validate(now).map_err(AppError::invalid)?;
    let audit = Entry::by(caller, "flag.exempt", TargetKind::Integration, Some(integration_id), &integration.name)
        .partner(integration.partner_id)
        .integration(integration_id)
        .summary(format!("exempt from \"{}\" until {}: {reason}", rule.label(), (until - Duration::seconds(1)).format("%Y-%m-%d")));
    store::exempt(
        db,
        integration_id,
        rule.key(),
        until,
        &reason,
        ((caller.user_id > 0).then_some(caller.user_id), &caller.name),
        &audit,
        now,
    )
    .await?;
    Ok(())
}

pub async fn end_exemption(db: &Db, caller: &Caller, integration_id: i64, rule: &str, now: DateTime<Utc>) -> Result<(), AppError> {
    let integration = super::integrations::get(db, caller, integration_id).await?;
    caller.check(Action::Review { partner: integration.partner_id }, || format!("integration {integration_id}"))?;
    let rule = Rule::parse(rule).ok_or_else(|| AppError::NotFound(format!("rule {rule}")))?;
    let audit = Entry::by(caller, "flag.exempt_end", TargetKind::Integration, Some(integration_id), &integration.name)
        .partner(integration.partner_id)
        .integration(integration_id)
        .summary(format!("exemption from \"{}\" ended", rule.label()));
    if !store::end_exemption(db, integration_id, rule.key(), &audit, now).await? {
        return Err(AppError::NotFound(format!("exemption from \"{}\"", rule.label())));
    }
    Ok(())
}

pub async fn exemptions(db: &Db, caller: &Caller, integration_id: i64, now: DateTime<Utc>) -> Result<Vec<flag::ExemptionView>, AppError> {
    super::integrations::get(db, caller, integration_id).await?;
    let rows = store::exemptions(db, Some(integration_id), now).await?;
    rows.into_iter()
        .map(|e| {
            Ok(flag::ExemptionView {
                rule: Rule::parse(&e.rule).ok_or_else(|| decode_error("flag rule", &e.rule))?,
                until: e.until_at,
                reason: e.reason,
                by: e.created_by_name,
                at: e.created_at,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()
        .map_err(AppError::from)
}

/// The partner declares (or, with an empty date, withdraws) the end of
/// support of an integration. A date in the future is an announcement; the
/// rule bites from that day.
pub async fn declare_end_of_support(
    db: &Db,
    caller: &Caller,
    integration_id: i64,
    day: &str,
    note: &str,
    now: DateTime<Utc>,
) -> Result<Option<(DateTime<Utc>, Option<String>)>, AppError> {
    let integration = super::integrations::get(db, caller, integration_id).await?;
    caller.check(Action::EditIntegration { partner: integration.partner_id }, || format!("integration {integration_id}"))?;
    let note = crate::domain::optional(note);
    if note.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        return Err(AppError::invalid([("note".to_string(), vec!["at most 2,000 characters".to_string()])].into()));
    }
    let at = match day.trim() {
        "" => None,
        d => Some(
            NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .ok()
                // Within the SLA calendar's years: `%Y` also reads "+99999".
                .filter(|d| crate::domain::sla::YEARS.contains(&chrono::Datelike::year(d)))
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|d| d.and_utc())
                .ok_or_else(|| AppError::invalid([("day".to_string(), vec!["a date, e.g. 2027-06-30".to_string()])].into()))?,
        ),
    };
    let summary = match at {
        Some(at) => format!("end of support declared from {}", at.format("%Y-%m-%d")),
        None => "end-of-support declaration withdrawn".to_string(),
    };
    let audit = Entry::by(caller, "integration.end_of_support", TargetKind::Integration, Some(integration_id), &integration.name)
        .partner(integration.partner_id)
        .integration(integration_id)
        .summary(summary);
    store::declare_end_of_support(db, integration_id, at, note.as_deref(), &audit, now).await?;
    Ok(store::end_of_support(db, integration_id).await?)
}

pub async fn end_of_support(db: &Db, caller: &Caller, integration_id: i64) -> Result<Option<(DateTime<Utc>, Option<String>)>, AppError> {
    super::integrations::get(db, caller, integration_id).await?;
    Ok(store::end_of_support(db, integration_id).await?)
}

// ---- settings ----

/// Flag settings (staff read them; partners see rules through their flags).
pub async fn settings(db: &Db, caller: &Caller) -> Result<FlagSettings, AppError> {
    if caller.partner_scope().is_some() {
        return Err(AppError::Forbidden);
    }
    Ok(settings_of(db).await?)
}

pub async fn save_settings(db: &Db, caller: &Caller, input: &FlagSettingsInput, now: DateTime<Utc>) -> Result<FlagSettings, AppError> {
    caller.check(Action::Configure, || "program settings".into())?;
    let new = input.validate().map_err(AppError::invalid)?;
    let old = settings_of(db).await?;
    let changes: Vec<FieldChange> = old
        .to_pairs()
        .into_iter()
        .zip(new.to_pairs())
        .filter(|((_, a), (_, b))| a != b)
        .map(|((k, a), (_, b))| FieldChange { field: k.trim_start_matches("flags.").to_string(), before: Some(a), after: Some(b) })
        .collect();
    if changes.is_empty() {
        return Ok(new);
    }
    let audit = Entry::by(caller, "settings.flags", TargetKind::Settings, None, "Tier flag settings")
        .summary(format!("changed {}", crate::domain::audit::field_names(&changes)))
        .changes(changes);
    let pairs: Vec<(String, String)> = new.to_pairs().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    store::save_settings(db, &pairs, &audit, now).await?;
    Ok(new)
}
