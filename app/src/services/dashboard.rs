//! The dashboards: the staff view of the whole program and a partner's view
//! of their own standing. Staff (and viewers) see every partner, narrowed by
//! filters; a partner member asking for the staff dashboard is refused, and
//! sees only their own partner's dashboard.

use crate::domain::access::{Action, Caller};
use crate::domain::catalog::{IntegrationKind, Stage, Tier};
use crate::domain::dashboard::{
    self, DashboardFilter, DashboardQuery, FlagSummary, Funnel, Lagging, MonthCount, PartnerDashboard, PartnerSupport, Progress,
    RegistrySummary, ReviewQueue, StaffDashboard, StageFigure, StageTargets, Stalled, SupportSummary, WaitingTask,
};
use crate::domain::flag::FlagQuery;
use crate::domain::support::IssueQuery;
use crate::error::AppError;
use crate::store::{dashboard as store, decode_error, flags as flag_store, snapshots, Db};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

/// How many rows the dashboard's lists show; the full lists are a click (or a CSV) away.
const LIST: usize = 10;

pub async fn stage_targets(db: &Db) -> Result<StageTargets, sqlx::Error> {
    let pairs = flag_store::settings(db).await?;
    Ok(StageTargets::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
}

/// How long a staff dashboard snapshot is shown before it is recomputed
/// (`DASHBOARD_MAX_AGE_SECONDS`). Zero: no snapshots, every view computes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaxAge(pub Duration);

impl Default for MaxAge {
    fn default() -> Self {
        MaxAge(Duration::seconds(60))
    }
}

/// How long one instance may take to recompute a stale snapshot before
/// another may try.
const REFRESH_CLAIM: i64 = 300;
/// Snapshots of filters nobody has looked at for this long are dropped.
const FORGET_AFTER_DAYS: i64 = 7;

/// The snapshot a view reads: one per set of checked filters (and sort
/// order); "only partners I manage" makes it the manager's own.
pub fn snapshot_key(f: &DashboardFilter) -> String {
    [
        "staff",
        f.kind.map(|k| k.key()).unwrap_or_default(),
        f.stage.map(|s| s.key()).unwrap_or_default(),
        f.tier.map(|t| t.key()).unwrap_or_default(),
        f.category.as_deref().unwrap_or_default(),
        f.manager_email.as_deref().unwrap_or_default(),
        f.sort,
    ]
    .join("\n")
}

/// The staff dashboard as pages and the API show it: the stored snapshot
/// for these filters. When something has changed since (the audit trail
/// moved), the first view to claim it computes a new one and shows that,
/// while views that do not get the claim show the previous one; when it is
/// only older than `max_age`, it is still shown while the claimant
/// recomputes it in the background. With no snapshot (or `max_age` zero)
/// the view computes. The figures carry the time they were computed, which
/// the page shows.
pub async fn staff_view(
    db: &Db,
    caller: &Caller,
    query: &DashboardQuery,
    now: DateTime<Utc>,
    max_age: MaxAge,
) -> Result<StaffDashboard, AppError> {
    if caller.partner_scope().is_some() {
        return Err(AppError::Forbidden);
    }
    let filter = query.validate(&caller.email).map_err(AppError::invalid)?;
    if max_age.0 <= Duration::zero() {
        return staff(db, caller, query, now).await;
    }
    let key = snapshot_key(&filter);
    let Some(stored) = snapshots::get(db, &key).await? else {
        return compute_and_store(db, caller, query, &key, now).await;
    };
    let mut shown = match serde_json::from_str::<StaffDashboard>(&stored.body) {
        Ok(d) => d,
        // Written by another version of the app: compute it anew.
        Err(e) => {
            tracing::info!(error = %e, key, "dashboard: a stored snapshot does not parse; recomputing");
            return compute_and_store(db, caller, query, &key, now).await;
        }
    };
    let (changed, aged) = (stored.changed(), now - stored.generated_at >= max_age.0);
    if (changed || aged) && snapshots::claim_refresh(db, &key, stored.generated_at, now, now + Duration::seconds(REFRESH_CLAIM)).await? {
        if changed {
            return compute_and_store(db, caller, query, &key, now).await;
        }
        let (db, caller, query) = (db.clone(), caller.clone(), query.clone());
        tokio::spawn(async move {
            if let Err(e) = compute_and_store(&db, &caller, &query, &key, now).await {
                tracing::warn!(error = %e, "dashboard: refreshing a snapshot failed");
            }
        });
    }
    shown.query = query.clone();
    Ok(shown)
}

/// Computes the figures and stores them; a failure gives the refresh claim back.
async fn compute_and_store(
    db: &Db,
    caller: &Caller,
    query: &DashboardQuery,
    key: &str,
    now: DateTime<Utc>,
) -> Result<StaffDashboard, AppError> {
    let result = async {
        let mark = snapshots::latest_audit(db).await?;
        let d = staff(db, caller, query, now).await?;
        match serde_json::to_string(&d) {
            Ok(body) => snapshots::put(db, key, &body, now, mark, now - Duration::days(FORGET_AFTER_DAYS)).await?,
            Err(e) => tracing::error!(error = %e, "dashboard: cannot serialise a snapshot"),
        }
        Ok::<_, AppError>(d)
    }
    .await;
    if result.is_err() {
        if let Err(e) = snapshots::release(db, key).await {
            tracing::warn!(error = %e, "dashboard: cannot give a refresh claim back; it expires on its own");
        }
    }
    result
}

/// The staff dashboard computed at `now`, from the live tables.
pub async fn staff(db: &Db, caller: &Caller, query: &DashboardQuery, now: DateTime<Utc>) -> Result<StaffDashboard, AppError> {
    if caller.partner_scope().is_some() {
        return Err(AppError::Forbidden);
    }
    let filter = query.validate(&caller.email).map_err(AppError::invalid)?;
    let targets = stage_targets(db).await?;
    let window_days = crate::store::support::settings(db).await?.0.window_days;

    // Pipeline funnel and stalled integrations.
    let rows = store::stages(db, &filter).await?;
    let mut funnels: Vec<Funnel> = IntegrationKind::ALL
        .iter()
        .filter(|k| filter.kind.is_none_or(|f| f == **k))
        .map(|&kind| Funnel {
            kind,
            stages: kind
                .track()
                .iter()
                .map(|&stage| StageFigure {
                    stage,
                    count: 0,
                    median_days: None,
                    target_days: targets.days(stage),
                    stalled: 0,
                    spread: None,
                })
                .collect(),
        })
        .collect();
    let mut stalled = Vec::new();
    // Days in stage per (track, stage), in the funnels' order.
    let mut days_in: Vec<Vec<Vec<f64>>> = funnels.iter().map(|f| vec![Vec::new(); f.stages.len()]).collect();
    for r in &rows {
        let kind = IntegrationKind::parse(&r.kind).ok_or_else(|| decode_error("integration kind", &r.kind))?;
        let stage = Stage::parse(&r.stage).ok_or_else(|| decode_error("stage", &r.stage))?;
        let days = (now - r.since).num_minutes().max(0) as f64 / (24.0 * 60.0);
        let Some((fi, si)) = funnels
            .iter()
            .position(|f| f.kind == kind)
            .and_then(|fi| Some((fi, funnels[fi].stages.iter().position(|s| s.stage == stage)?)))
        else {
            continue;
        };
        let fig = &mut funnels[fi].stages[si];
        fig.count += 1;
        days_in[fi][si].push((days * 10.0).round() / 10.0);
        if let Some(target) = fig.target_days.filter(|t| days > *t as f64) {
            fig.stalled += 1;
            stalled.push(Stalled {
                integration_id: r.id,
                integration: r.name.clone(),
                partner: r.partner_name.clone(),
                stage,
                days: days as i64,
                target_days: target,
            });
        }
    }
    for (f, days) in funnels.iter_mut().zip(&days_in) {
        for (s, days) in f.stages.iter_mut().zip(days) {
            s.median_days = dashboard::median(days);
            s.spread = crate::components::chart::Spread::of(days);
        }
    }
    // Most overdue (relative to the target) first.
    stalled.sort_by(|a, b| (b.days - b.target_days).cmp(&(a.days - a.target_days)).then(a.integration.cmp(&b.integration)));
    stalled.truncate(LIST);

    // Support health.
    let since = now - Duration::days(window_days);
    let mut partners: Vec<PartnerSupport> = store::support(db, &filter, since, now, now + Duration::hours(24))
        .await?
        .into_iter()
        .map(|r| PartnerSupport {
            percent: (r.resolved > 0).then(|| (r.within_sla as f64 * 1000.0 / r.resolved as f64).round() / 10.0),
            partner_id: r.partner_id,
            slug: r.slug,
            name: r.name,
            resolved: r.resolved,
            within_sla: r.within_sla,
            open_breaches: r.open_breaches,
            due_24h: r.due_24h,
        })
        .collect();
    dashboard::sort_partners(&mut partners, filter.sort);
    let support = SupportSummary {
        window_days,
        open_breaches: partners.iter().map(|p| p.open_breaches).sum(),
        due_24h: partners.iter().map(|p| p.due_24h).sum(),
        partners: partners.into_iter().take(LIST).collect(),
    };

    // Tier flags.
    let flags = flag_summary(db, caller, query, now).await?;

    // Registry activity: this week (from Monday) and the last twelve months.
    let week_start =
        (now.date_naive() - Duration::days(i64::from(now.weekday().num_days_from_monday()))).and_time(Default::default()).and_utc();
    let months = month_starts(now.date_naive(), 12);
    let mut bounds: Vec<DateTime<Utc>> = months.iter().map(|m| m.and_time(Default::default()).and_utc()).collect();
    bounds.push(now + Duration::seconds(1));
    let per_month = store::versions_per_period(db, &filter, &bounds).await?;
    let this_week = store::versions_per_period(db, &filter, &[week_start, now + Duration::seconds(1)]).await?.first().copied().unwrap_or(0);
    let lagging = store::lagging(db, &filter, LIST as i64).await?;
    let behind = store::behind_github(db, &filter, LIST as i64).await?;
    let registry = RegistrySummary {
        behind_github: behind
            .into_iter()
            .map(|b| crate::domain::dashboard::BehindGithub {
                integration_id: b.integration_id,
                integration: b.integration,
                tag: b.tag,
                published_at: b.published_at,
            })
            .collect(),
        this_week,
        per_month: months.into_iter().zip(per_month).map(|(month, versions)| MonthCount { month, versions }).collect(),
        lagging: lagging
            .into_iter()
            .map(|l| Lagging {
                integration_id: l.integration_id,
                integration: l.integration,
                registry_host: l.registry_host,
                missing: l.missing,
            })
            .collect(),
    };

    // Review queue.
    let (waiting, oldest) = store::review_queue(db, &filter).await?;
    let review = ReviewQueue {
        waiting,
        oldest: oldest.map(|o| WaitingTask {
            task_id: o.task_id,
            task: o.task,
            integration_id: o.integration_id,
            integration: o.integration,
            partner: o.partner,
            since: o.since,
        }),
    };

    Ok(StaffDashboard {
        query: query.clone(),
        integrations: rows.len() as i64,
        funnels,
        stalled,
        support,
        flags,
        registry,
        review,
        generated_at: now,
    })
}

async fn flag_summary(db: &Db, caller: &Caller, query: &DashboardQuery, now: DateTime<Utc>) -> Result<FlagSummary, AppError> {
    let filter = query.validate(&caller.email).map_err(AppError::invalid)?;
    let base = flag_store::FlagFilter {
        manager_email: filter.manager_email.clone(),
        kind: filter.kind.map(|k| k.key().to_string()),
        stage: filter.stage.map(|s| s.key().to_string()),
        tier: filter.tier.map(|t| t.key().to_string()),
        category: filter.category.clone(),
        ..Default::default()
    };
    let counts = flag_store::counts(db, &base).await?;
    let count = |state: &str| counts.iter().find(|(s, _)| s == state).map(|(_, n)| *n).unwrap_or(0);
    let recent = now - Duration::days(30);
    let decided_filter =
        flag_store::FlagFilter { states: vec!["kept".into(), "downgraded".into()], closed_since: Some(recent), ..base.clone() };
    let open_filter = flag_store::FlagFilter { states: ["due", "grace"].map(String::from).to_vec(), ..base.clone() };
    let views =
        |rows: Vec<flag_store::FlagRow>| rows.into_iter().map(|r| super::flags::view_row(r)).collect::<Result<Vec<_>, sqlx::Error>>();
    let (open, _) = flag_store::list(db, &open_filter, 1, LIST as i64).await?;
    let (decided, decided_recently) = flag_store::list(db, &decided_filter, 1, LIST as i64).await?;
    Ok(FlagSummary {
        due: count("due"),
        grace: count("grace"),
        preview: count("preview"),
        exempt: count("exempt"),
        decided_recently,
        open: views(open)?,
        decided: views(decided)?,
    })
}

/// The first days of the last `n` months, oldest first, ending with `today`'s month.
pub fn month_starts(today: NaiveDate, n: u32) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let (mut y, mut m) = (today.year(), today.month());
    for _ in 0..n {
        if let Some(d) = NaiveDate::from_ymd_opt(y, m, 1) {
            out.push(d);
        }
        (y, m) = if m == 1 { (y - 1, 12) } else { (y, m - 1) };
    }
    out.reverse();
    out
}

/// A partner's dashboard: their own for a member, any for staff.
pub async fn partner(db: &Db, caller: &Caller, partner_id: Option<i64>, now: DateTime<Utc>) -> Result<PartnerDashboard, AppError> {
    let partner_id = match (caller.partner_scope(), partner_id) {
        (Some(own), _) => own,
        (None, Some(p)) => p,
        (None, None) => return Err(AppError::BadRequest("which partner? staff open a partner's dashboard from its page".into())),
    };
    caller.check(Action::Read { partner: partner_id }, || format!("partner {partner_id}"))?;
    let name = crate::store::partners::name_of(db, partner_id).await?.ok_or_else(|| AppError::NotFound(format!("partner {partner_id}")))?;
    let waiting = store::waiting_on_partner(db, partner_id).await?;
    let integrations = store::progress(db, partner_id)
        .await?
        .into_iter()
        .map(|r| {
            let kind = IntegrationKind::parse(&r.kind).ok_or_else(|| decode_error("integration kind", &r.kind))?;
            let stage = Stage::parse(&r.stage).ok_or_else(|| decode_error("stage", &r.stage))?;
            let track = kind.track();
            Ok(Progress {
                integration_id: r.id,
                tier: Tier::parse(&r.tier).ok_or_else(|| decode_error("tier", &r.tier))?,
                stage_number: track.iter().position(|s| *s == stage).map(|p| p + 1).unwrap_or(1),
                stages: track.len(),
                waiting_on_partner: waiting.iter().filter(|(id, _)| *id == r.id).map(|(_, t)| t.clone()).collect(),
                name: r.name,
                kind,
                stage,
                accepted: r.accepted,
                required: r.required,
                waiting_on_review: r.waiting_on_review,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let issues = super::support::list(
        db,
        caller,
        Some(partner_id),
        None,
        &IssueQuery { state: "open".into(), per_page: Some(50), ..Default::default() },
        now,
    )
    .await?;
    let health = super::support::health(db, caller, Some(partner_id), None, now).await?;
    let trend = super::support::trend(db, caller, Some(partner_id), None, 26, now).await?;
    let flags =
        super::flags::list(db, caller, &FlagQuery { state: "open".into(), partner_id: Some(partner_id), ..Default::default() }, now)
            .await?
            .items;
    Ok(PartnerDashboard { partner_id, partner: name, integrations, open_issues: issues.items, health, trend, flags, generated_at: now })
}

/// Stage targets (staff read them; admins change them).
pub async fn targets(db: &Db, caller: &Caller) -> Result<StageTargets, AppError> {
    if caller.partner_scope().is_some() {
        return Err(AppError::Forbidden);
    }
    Ok(stage_targets(db).await?)
}

pub async fn save_targets(
    db: &Db,
    caller: &Caller,
    input: &std::collections::BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Result<StageTargets, AppError> {
    use crate::domain::audit::{Entry, FieldChange, TargetKind};
    caller.check(Action::Configure, || "program settings".into())?;
    let new = StageTargets::validate(input).map_err(AppError::invalid)?;
    let old = stage_targets(db).await?;
    let changes: Vec<FieldChange> = old
        .to_pairs()
        .into_iter()
        .zip(new.to_pairs())
        .filter(|((_, a), (_, b))| a != b)
        .map(|((k, a), (_, b))| FieldChange { field: k, before: Some(a), after: Some(b) })
        .collect();
    if changes.is_empty() {
        return Ok(new);
    }
    let audit = Entry::by(caller, "settings.stage_targets", TargetKind::Settings, None, "Stage targets")
        .summary(format!("changed {}", crate::domain::audit::field_names(&changes)))
        .changes(changes);
    flag_store::save_settings(db, &new.to_pairs(), &audit, now).await?;
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).expect("date");
        assert_eq!(month_starts(d(2026, 2, 17), 3), vec![d(2025, 12, 1), d(2026, 1, 1), d(2026, 2, 1)]);
        assert_eq!(month_starts(d(2026, 1, 1), 1), vec![d(2026, 1, 1)]);
        assert_eq!(month_starts(d(2026, 11, 30), 12).len(), 12);
        assert_eq!(month_starts(d(2026, 11, 30), 12)[0], d(2025, 12, 1));
    }
}
