//! The GitHub sync: partners' issues from their repositories, for the SLA
//! clock, and the repository's licence for the pipeline's licence task.
//!
//! Each step:
//! 1. stops at once while GitHub has us rate-limited (`github_api`, shared
//!    by every instance);
//! 2. brings the sync rows in line with the integrations' repository URLs;
//! 3. claims due repositories with a lease (`SKIP LOCKED` on PostgreSQL);
//! 4. syncs them one after another, as GitHub asks of API clients: the
//!    issue list `since` the last change with the stored ETag (a 304 costs
//!    nothing), events only for issues that need them, the licence daily,
//!    a provider's latest release every few hours (registry lag);
//! 5. writes each repository's issues, clocks, events and result in one
//!    transaction, only while the claim is still held.
//!
//! A member can type any repository URL, and the token may read other
//! partners' private repositories: before anything is copied, a private
//! repository must belong to the partner's GitHub organisation (set by
//! staff), or the sync is refused and says why.
//!
//! A limited answer pauses every instance until GitHub's reset, or, when
//! GitHub does not say (a bare 429), for a minute that doubles with each
//! such answer in a row, up to an hour (`github_api.silent_limits`); a budget
//! running low (fewer than `reserve` requests left) does the same, so a big
//! installation stays inside 5,000 requests an hour per token.

use crate::outbound::github::{GitHubClient, GitHubError, IssuePage};
use app::domain::github::{self as rules, repo_from_url, IssueEvent};
use app::domain::support::next_sync;
use app::services::support::{self as support, needs_events, synced_issue, Owner, Program, SYNC_JOB};
use app::store::support::{self as store, SyncDue, SyncResult, SyncedIssue};
use app::store::Db;
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Settings {
    pub enabled: bool,
    /// How often each repository is synced when all is well.
    pub interval: Duration,
    pub tick: std::time::Duration,
    /// Repositories claimed per step.
    pub batch: i64,
    /// How long a repository's licence answer is trusted.
    pub licence_every: Duration,
    /// Requests left to GitHub's hourly budget below which syncing waits for the reset.
    pub reserve: i64,
    /// How often a provider's latest release is read (`GITHUB_RELEASE_CHECK_HOURS`).
    pub release_every: Duration,
    /// A release no registry lists this long after publication is registry lag (`REGISTRY_LAG_HOURS`).
    pub lag_after: Duration,
    /// How long a claim lasts. While a step runs, its claims are renewed
    /// every quarter of this, so a long first sync (thousands of issues)
    /// is never taken over by another instance midway.
    pub lease: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            interval: Duration::minutes(30),
            tick: std::time::Duration::from_secs(30),
            batch: 20,
            licence_every: Duration::hours(24),
            lease: Duration::minutes(10),
            reserve: 200,
            release_every: Duration::hours(6),
            lag_after: Duration::hours(24),
        }
    }
}

/// What a step did, for logs and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepReport {
    pub claimed: usize,
    pub synced: usize,
    pub not_modified: usize,
    pub failed: usize,
    pub issues: usize,
    /// The API is paused until then (rate limit or low budget).
    pub paused_until: Option<DateTime<Utc>>,
}

pub struct Syncer {
    db: Db,
    client: Arc<GitHubClient>,
    settings: Settings,
    instance: String,
}

/// Stale open issues checked per repository and sync (one request each).
const STALE_CHECKS: i64 = 20;

fn jitter() -> f64 {
    rand::random::<f64>()
}

impl Syncer {
    pub fn new(db: Db, client: Arc<GitHubClient>, settings: Settings, instance: String) -> Self {
        Syncer { db, client, settings, instance }
    }

    fn base(&self) -> String {
        self.client.api_base().to_string()
    }

    /// Creates, moves and drops sync rows to match the repository URLs on
    /// this GitHub (github.com for api.github.com, else the Enterprise host).
    pub async fn sync_repositories(&self, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
        let host = self.client.web_host();
        let repos: Vec<(i64, String, String)> = store::repository_urls(&self.db)
            .await?
            .into_iter()
            .filter_map(|(id, _kind, url)| {
                let u = url::Url::parse(&url).ok()?;
                if !u.host_str()?.eq_ignore_ascii_case(&host) {
                    return None;
                }
                let (owner, repo) = repo_from_url(&url)?;
                Some((id, owner, repo))
            })
            .collect();
        store::sync_repositories(&self.db, &repos, now).await
    }

    /// One step at `now` (tests pass their own clock).
    pub async fn step(&self, now: DateTime<Utc>) -> Result<StepReport, app::error::AppError> {
        let mut report = StepReport::default();
        if let Some(until) = store::api_blocked_until(&self.db, &self.base()).await?.filter(|u| *u > now) {
            report.paused_until = Some(until);
            return Ok(report);
        }
        self.sync_repositories(now).await?;
        let lease = self.settings.lease;
        let claimed = store::claim_syncs(&self.db, &self.instance, now, lease, self.settings.batch).await?;
        report.claimed = claimed.len();
        if claimed.is_empty() {
            return Ok(report);
        }
        // The claims last while this step works through them, however long
        // that takes: renewed in the background until the step ends.
        let started = std::time::Instant::now();
        let renewing = async {
            let every = (lease / 4).to_std().unwrap_or(std::time::Duration::from_secs(60)).max(std::time::Duration::from_millis(100));
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                tick.tick().await;
                let until = now + Duration::from_std(started.elapsed()).unwrap_or_default() + lease;
                if let Err(e) = store::renew_sync_claims(&self.db, &self.instance, until).await {
                    tracing::warn!(error = %e, "could not renew the GitHub sync's claims");
                }
            }
        };
        tokio::select! {
            result = self.work_through(claimed, now, &mut report) => result?,
            // Renewing never ends by itself: the step's work ends it.
            _ = renewing => {}
        }
        let next = store::sync_counts(&self.db, now).await?.2;
        app::store::registry::sweep_finished(&self.db, SYNC_JOB, now, next).await?;
        Ok(report)
    }

    /// Syncs the claimed repositories one after another, then records the
    /// API's budget (a pause when it runs low).
    async fn work_through(&self, claimed: Vec<SyncDue>, now: DateTime<Utc>, report: &mut StepReport) -> Result<(), app::error::AppError> {
        let total = store::sync_counts(&self.db, now).await?.1 + claimed.len() as i64;
        app::store::registry::sweep_started(&self.db, SYNC_JOB, &self.instance, total, now).await?;
        let program = support::program(&self.db).await?;
        let mut remaining = claimed.into_iter();
        for due in remaining.by_ref() {
            match self.sync_one(&due, &program, now).await {
                Ok((result, issues)) => {
                    if result.outcome == "not_modified" {
                        report.not_modified += 1;
                    }
                    report.synced += 1;
                    report.issues += issues.len();
                    // A new licence or visibility may complete Prepare's tasks.
                    let facts_checked = result.licence.is_some() || result.private.is_some();
                    let release = result.release.clone().flatten();
                    store::record_sync(&self.db, &self.instance, &result, &issues, now).await?;
                    if facts_checked {
                        app::services::pipeline::observe(&self.db, due.integration_id, now).await?;
                    }
                    if let Some(release) = release {
                        let host = self.client.web_host();
                        app::services::registry::observe_release(
                            &self.db,
                            due.integration_id,
                            &host,
                            &release,
                            self.settings.lag_after,
                            now,
                        )
                        .await?;
                    }
                }
                Err(Failure::Store(e)) => return Err(e.into()),
                Err(Failure::GitHub(GitHubError::RateLimited { until, .. })) => {
                    let until = match until {
                        Some(at) => at,
                        None => rules::Limit::BackOff.until(now, store::api_silent_limit(&self.db, &self.base()).await?),
                    };
                    tracing::warn!(repo = %format!("{}/{}", due.owner, due.repo), %until, "GitHub rate limit: pausing every sync until the reset");
                    store::api_state(&self.db, &self.base(), Some(until), Some(0), Some(until), Some("rate limited"), now).await?;
                    report.paused_until = Some(until);
                    self.postpone(&due, until, now).await?;
                    break;
                }
                Err(Failure::GitHub(e)) => {
                    report.failed += 1;
                    tracing::info!(repo = %format!("{}/{}", due.owner, due.repo), error = %e, "GitHub sync failed");
                    let failures = due.failures + 1;
                    let result = SyncResult {
                        integration_id: due.integration_id,
                        outcome: e.outcome(),
                        error: Some(e.to_string()),
                        failures,
                        next_sync_at: next_sync(now, self.settings.interval, failures, jitter(), e.retry_after()),
                        listing: None,
                        licence: None,
                        release: None,
                        private: None,
                    };
                    store::record_sync(&self.db, &self.instance, &result, &[], now).await?;
                }
            }
            app::store::registry::sweep_progress(&self.db, SYNC_JOB, (report.synced + report.failed) as i64, report.failed as i64).await?;
        }
        // Claims left over after a rate limit wait for the reset too.
        if let Some(until) = report.paused_until {
            for due in remaining {
                self.postpone(&due, until, now).await?;
            }
        } else {
            if report.synced > 0 {
                store::api_got_through(&self.db, &self.base()).await?;
            }
            self.record_budget(now, report).await?;
        }
        Ok(())
    }

    /// Records the API's budget after a step, and pauses syncing when it
    /// runs low.
    async fn record_budget(&self, now: DateTime<Utc>, report: &mut StepReport) -> Result<(), app::error::AppError> {
        if let Some(budget) = self.client.budget() {
            // A reset GitHub (or an Enterprise host) puts past a day is not believed: a day at most, as for rate limits.
            let paused = (budget.remaining < self.settings.reserve)
                .then_some(budget.reset.min(now + chrono::Duration::hours(24)))
                .filter(|r| *r > now);
            if let Some(until) = paused {
                tracing::info!(remaining = budget.remaining, %until, "GitHub budget low: syncing waits for the reset");
                report.paused_until = Some(until);
            }
            store::api_state(&self.db, &self.base(), paused, Some(budget.remaining), Some(budget.reset), None, now).await?;
        }
        Ok(())
    }

    async fn postpone(&self, due: &SyncDue, until: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
        let result = SyncResult {
            integration_id: due.integration_id,
            outcome: "rate_limited",
            error: Some("GitHub's rate limit: waiting for its reset".into()),
            failures: due.failures,
            next_sync_at: until,
            listing: None,
            licence: None,
            release: None,
            private: None,
        };
        store::record_sync(&self.db, &self.instance, &result, &[], now).await.map(|_| ())
    }

    /// Syncs one repository; the caller writes the result.
    async fn sync_one(&self, due: &SyncDue, program: &Program, now: DateTime<Utc>) -> Result<(SyncResult, Vec<SyncedIssue>), Failure> {
        let (owner, repo) = (&due.owner, &due.repo);
        let page = self.client.list_issues(owner, repo, due.since, due.etag.as_deref()).await?;
        let mut issues = Vec::new();
        // Whether the repository is private, once GitHub was asked.
        let mut access_checked = None;
        // Read at most once per sync, by whichever step needs it first.
        let mut integration_row = None;
        let (outcome, listing) = match page {
            IssuePage::NotModified => ("not_modified", None),
            IssuePage::Changed { issues: listed, etag, .. } => {
                if !listed.is_empty() {
                    self.check_access(due, &mut access_checked).await?;
                }
                let numbers: Vec<i64> = listed.iter().map(|i| i.number).collect();
                let stored = store::by_numbers(&self.db, due.integration_id, &numbers).await?;
                let Some(integration) = self.integration(due, &mut integration_row).await? else {
                    return Err(Failure::Store(sqlx::Error::RowNotFound));
                };
                let partner_name = app::store::partners::name_of(&self.db, integration.partner_id).await?.unwrap_or_default();
                let owner_ref = Owner {
                    partner_id: integration.partner_id,
                    partner_name: &partner_name,
                    integration_id: integration.id,
                    integration_name: &integration.name,
                };
                let critical = support::critical_labels_of(&self.db, integration.id, program).await?;
                for issue in &listed {
                    let existing = stored.iter().find(|r| r.number == Some(issue.number));
                    let events: Option<Vec<IssueEvent>> = if needs_events(existing, issue, program) {
                        match self.client.issue_events(owner, repo, issue.number).await {
                            Ok(ev) => Some(ev),
                            Err(GitHubError::Gone { .. }) => {
                                let synced = synced_issue(existing, issue, None, &owner_ref, &critical, program, now)?;
                                let severity_override = existing.and_then(|r| r.severity_override.as_deref());
                                issues.push(support::vanished(synced, severity_override, program, now)?);
                                continue;
                            }
                            Err(e) => return Err(e.into()),
                        }
                    } else {
                        None
                    };
                    issues.push(synced_issue(existing, issue, events.as_deref(), &owner_ref, &critical, program, now)?);
                }
                let since = listed.iter().map(|i| i.updated_at).max().or(due.since);
                ("ok", Some((etag, since)))
            }
        };
        // Open issues not heard of for a day: still there?
        let seen: Vec<i64> = issues.iter().filter_map(|i| i.1.number).collect();
        for row in store::stale_open(&self.db, due.integration_id, now - Duration::hours(24), STALE_CHECKS).await? {
            let Some(number) = row.number.filter(|n| !seen.contains(n)) else { continue };
            let gone = match self.client.issue_events(owner, repo, number).await {
                Ok(_) => false,
                Err(GitHubError::Gone { .. }) => true,
                Err(e) => return Err(e.into()),
            };
            issues.push(support::rechecked(&row, gone, program, now)?);
        }
        let licence_due = due.licence_checked_at.is_none_or(|at| at + self.settings.licence_every <= now);
        let licence = match licence_due {
            true => {
                self.check_access(due, &mut access_checked).await?;
                Some(self.client.licence(owner, repo).await?)
            }
            false => None,
        };
        // Providers' releases, to see whether the registries have them (registry lag).
        let release_due = due.release_checked_at.is_none_or(|at| at + self.settings.release_every <= now);
        let is_provider = match release_due {
            true => self
                .integration(due, &mut integration_row)
                .await?
                .is_some_and(|i| i.kind == app::domain::catalog::IntegrationKind::Provider),
            false => false,
        };
        let release = match is_provider {
            true => {
                self.check_access(due, &mut access_checked).await?;
                Some(self.client.latest_release(owner, repo).await?)
            }
            false => None,
        };
        let result = SyncResult {
            integration_id: due.integration_id,
            outcome,
            error: None,
            failures: 0,
            next_sync_at: next_sync(now, self.settings.interval, 0, jitter(), None),
            listing,
            licence,
            release,
            private: access_checked,
        };
        Ok((result, issues))
    }

    /// The integration being synced, read once into `read` and kept there
    /// for the sync's later steps; `None` when it was deleted meanwhile.
    async fn integration<'a>(
        &self,
        due: &SyncDue,
        read: &'a mut Option<app::domain::integration::Integration>,
    ) -> Result<Option<&'a app::domain::integration::Integration>, sqlx::Error> {
        if read.is_none() {
            *read = app::store::integrations::get(&self.db, due.integration_id).await?;
        }
        Ok(read.as_ref())
    }

    /// Refuses, before anything of the repository is copied, a private
    /// repository that is not the partner's own (`may_import`): asked once
    /// per sync (`checked`), and only when there is something to copy, so
    /// an unchanged repository still costs one free 304.
    /// The answer is kept (`checked`, whether private) for the Prepare
    /// task that wants a public repository.
    async fn check_access(&self, due: &SyncDue, checked: &mut Option<bool>) -> Result<(), Failure> {
        if checked.is_some() {
            return Ok(());
        }
        let visibility = self.client.repository(&due.owner, &due.repo).await?;
        let org = app::store::partners::github_org_of_integration(&self.db, due.integration_id).await?;
        app::domain::github::may_import(&visibility, org.as_deref())
            .map_err(|reason| GitHubError::Refused { repo: format!("{}/{}", due.owner, due.repo), reason })?;
        *checked = Some(visibility.private);
        Ok(())
    }

    pub async fn run(self: Arc<Self>) {
        tracing::info!(instance = %self.instance, "GitHub sync started");
        let mut tick = tokio::time::interval(self.settings.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.step(Utc::now()).await {
                Ok(r) if r.claimed > 0 => {
                    tracing::info!(
                        synced = r.synced,
                        not_modified = r.not_modified,
                        failed = r.failed,
                        issues = r.issues,
                        "GitHub sync step done"
                    )
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "GitHub sync step failed; trying again next tick"),
            }
        }
    }
}

/// Why a repository's sync stopped: GitHub's answer (recorded on the row)
/// or our database (the step fails and the claim expires).
enum Failure {
    GitHub(GitHubError),
    Store(sqlx::Error),
}

impl From<GitHubError> for Failure {
    fn from(e: GitHubError) -> Self {
        Failure::GitHub(e)
    }
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Store(e)
    }
}
