//! The registry poller: finds new provider versions on every registry a
//! provider is published on, checks that new releases are complete, and
//! records what it noticed as events (`store::registry`).
//!
//! How it stays polite and safe:
//! - a poll is claimed with a lease first, so instances never poll one
//!   provider at once and a crashed instance's claims expire;
//! - concurrency is bounded overall and per host, and a poll waits for its
//!   host's permit before it takes a global one, so a slow host only ever
//!   ties up its own share;
//! - conditional requests make an unchanged list cost a 304;
//! - errors back off exponentially with jitter, and `Retry-After` or a
//!   failing host pauses every poll of that host, on every instance.

use crate::outbound::registry::{RegistryClient, RegistryError, Versions};
use app::domain::registry::{self as rules, EventKind, Schedule};
use app::store::registry::{self as store, Due, Found, NewEvent, NewVersion, Outcome, Subject};
use app::store::Db;
use chrono::{DateTime, Duration, Utc};
use futures::{FutureExt, StreamExt};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::sync::Semaphore;

#[derive(Debug, Clone)]
pub struct Settings {
    pub enabled: bool,
    pub schedule: Schedule,
    /// How often the loop looks for due polls.
    pub tick: std::time::Duration,
    /// Requests in flight at once, overall and per registry host.
    pub concurrency: usize,
    pub per_host: usize,
    /// How long a claim lasts; longer than a poll can take.
    pub lease: Duration,
    /// Registries that mirror another: `(primary, mirror)`, e.g.
    /// (registry.terraform.io, registry.opentofu.org). Providers of the
    /// primary are looked up on the mirror too, and the gap is shown.
    pub mirrors: Vec<(String, String)>,
    /// New versions whose release is checked per poll (newest first).
    pub release_checks: usize,
    /// Platforms checked per release.
    pub platforms_checked: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            enabled: true,
            schedule: Schedule::default(),
            tick: std::time::Duration::from_secs(15),
            concurrency: 64,
            per_host: 8,
            lease: Duration::minutes(5),
            mirrors: Vec::new(),
            release_checks: 5,
            platforms_checked: 16,
        }
    }
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub claimed: usize,
    pub polled: usize,
    pub failed: usize,
    pub postponed: usize,
    pub versions: u64,
    pub events: u64,
    /// How long the writer spent recording outcomes. Close to the sweep's
    /// own time means the database, not the registries, set the pace.
    pub writer_busy: std::time::Duration,
}

impl std::ops::AddAssign for SweepReport {
    fn add_assign(&mut self, o: Self) {
        self.claimed += o.claimed;
        self.polled += o.polled;
        self.failed += o.failed;
        self.postponed += o.postponed;
        self.versions += o.versions;
        self.events += o.events;
        self.writer_busy += o.writer_busy;
    }
}

/// Cheap to clone: the sweep's writer runs as a task of its own with a copy.
#[derive(Clone)]
pub struct Poller {
    db: Db,
    client: Arc<RegistryClient>,
    settings: Arc<Settings>,
    instance: Arc<str>,
    global: Arc<Semaphore>,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

/// The sweep's memory of hosts: paused ones, and healthy ones (no write
/// needed). One for the whole sweep, so a pause learnt in one batch holds
/// for the batch claimed ahead of it too; each claim adds what the
/// database knows (other instances' pauses).
#[derive(Default)]
struct HostMemory {
    paused: Mutex<HashMap<String, DateTime<Utc>>>,
    healthy: Mutex<HashSet<String>>,
}

impl HostMemory {
    fn learn(&self, paused: HashMap<String, DateTime<Utc>>, healthy: HashSet<String>) {
        let mut known = self.paused.lock().unwrap_or_else(|p| p.into_inner());
        for (host, until) in paused {
            let at = known.entry(host).or_insert(until);
            *at = (*at).max(until);
        }
        self.healthy.lock().unwrap_or_else(|p| p.into_inner()).extend(healthy);
    }

    /// Until when `host` is paused, if it still is at `now`.
    fn paused_until(&self, host: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.paused.lock().unwrap_or_else(|p| p.into_inner()).get(host).copied().filter(|until| *until > now)
    }

    fn pause(&self, host: &str, until: DateTime<Utc>) {
        self.paused.lock().unwrap_or_else(|p| p.into_inner()).insert(host.to_string(), until);
        // It answers again after the pause: then it is recorded healthy again.
        self.healthy.lock().unwrap_or_else(|p| p.into_inner()).remove(host);
    }
}

/// A claimed poll with what it needs to know, ready to run.
struct Ready {
    due: Due,
    subject: Option<Subject>,
    /// The versions stored before, when read up front.
    known: Option<HashSet<String>>,
    hosts: Arc<HostMemory>,
    /// The clock of its claim.
    now: DateTime<Utc>,
}

/// An outcome on its way to the writer, with the clock of its claim.
type Finished = (Outcome, Option<Subject>, DateTime<Utc>);

/// Outcomes written per transaction.
const WRITE_BATCH: usize = 128;

fn jitter() -> f64 {
    rand::random::<f64>()
}

impl Poller {
    pub fn new(db: Db, client: Arc<RegistryClient>, settings: Settings, instance: String) -> Self {
        let global = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        Self { db, client, settings: Arc::new(settings), instance: instance.into(), global, hosts: Arc::new(Mutex::new(HashMap::new())) }
    }

    fn host_permits(&self, host: &str) -> Arc<Semaphore> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        hosts.entry(host.to_string()).or_insert_with(|| Arc::new(Semaphore::new(self.settings.per_host.max(1)))).clone()
    }

    /// Polls claimed at once: enough that claiming is rare.
    fn batch(&self) -> usize {
        (self.settings.concurrency * 16).clamp(16, 2048)
    }

    /// Claims one batch of due polls and reads what they need: the providers
    /// behind them, versions stored before and the hosts' state.
    async fn claim(&self, now: DateTime<Utc>, hosts: &Arc<HostMemory>) -> Result<Vec<Ready>, sqlx::Error> {
        let claimed = store::claim(&self.db, &self.instance, now, self.settings.lease, self.batch() as i64).await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<i64> = claimed.iter().map(|d| d.integration_id).collect::<HashSet<_>>().into_iter().collect();
        let subjects = store::subjects(&self.db, &ids).await?;
        // Versions known before are read up front only for polls likely to
        // list something new (no validators to send); a poll whose
        // conditional request is answered with a new list reads its own.
        let keys: Vec<(i64, String)> = claimed
            .iter()
            .filter(|d| d.etag.is_none() && d.last_modified.is_none())
            .map(|d| (d.integration_id, d.registry_host.clone()))
            .collect();
        let mut known = store::known_versions_many(&self.db, &keys).await?;
        let (paused, healthy) = store::host_states(&self.db, now).await?;
        hosts.learn(paused, healthy);
        Ok(claimed
            .into_iter()
            .map(|due| Ready {
                subject: subjects.get(&due.integration_id).cloned(),
                known: known.remove(&(due.integration_id, due.registry_host.clone())),
                due,
                hosts: hosts.clone(),
                now,
            })
            .collect())
    }

    /// Creates missing poll rows, then polls until nothing is due; records
    /// the sweep for the status page. `now` is the clock for claims,
    /// schedules and records (tests move it instead of sleeping).
    ///
    /// Polls run without a break between batches: the next batch is claimed
    /// while the current one's polls run, and one writer records outcomes in
    /// batches as they come, so neither the claims nor the writes leave the
    /// registries idle.
    pub async fn sweep(&self, now: impl Fn() -> DateTime<Utc>) -> Result<SweepReport, sqlx::Error> {
        store::sync(&self.db, &self.settings.mirrors, now()).await?;
        let due = store::due_count(&self.db, now()).await?;
        if due == 0 {
            return Ok(SweepReport::default());
        }
        store::sweep_started(&self.db, app::services::registry::JOB, &self.instance, due, now()).await?;
        let now = &now;
        let (finished, outcomes) = tokio::sync::mpsc::channel::<Finished>(WRITE_BATCH * 4);
        let writer = tokio::spawn(self.clone().write(outcomes));
        // One claimed batch waits while the one before is polled.
        let (claims, claimed) = tokio::sync::mpsc::channel::<Vec<Ready>>(1);
        let hosts = Arc::new(HostMemory::default());
        let claiming = async move {
            let mut count = 0;
            loop {
                let ready = self.claim(now(), &hosts).await?;
                let n = ready.len();
                count += n;
                if n == 0 || claims.send(ready).await.is_err() || n < self.batch() {
                    return Ok::<usize, sqlx::Error>(count);
                }
            }
        };
        let ready = futures::stream::unfold(claimed, |mut claimed| async move {
            claimed.recv().await.map(|batch| (futures::stream::iter(batch), claimed))
        })
        .flatten();
        // Up to a batch of polls at once, all in this task; the permits inside
        // each poll bound the requests, per host first, so a slow host holds
        // only its share. (A task per poll spread the polls over the
        // runtime's threads, but its wake-ups across threads cost more CPU
        // than that won: a quarter to two fifths of a sweep's, in the
        // registry bench.)
        let polling = ready.map(|ready| caught(self.clone().poll_one(ready, finished.clone()))).buffer_unordered(self.batch()).fold(
            SweepReport::default(),
            |mut report, result| async move {
                match result {
                    Some(Ok(true)) => report.postponed += 1,
                    Some(Ok(false)) => {}
                    Some(Err(e)) => {
                        tracing::warn!(error = %e, "a registry poll failed on the database");
                        report.failed += 1;
                    }
                    // Its claim expires and it is polled again then.
                    None => {
                        tracing::error!("a registry poll panicked; it is polled again when its claim expires");
                        report.failed += 1;
                    }
                }
                report
            },
        );
        let (claimed, mut total) = tokio::join!(claiming, polling);
        drop(finished);
        // The writer ends early only by panicking; its polls' claims expire.
        let written = writer.await.map_err(|e| sqlx::Error::Protocol(format!("the registry writer stopped: {e}")))?;
        total.claimed = claimed?;
        total += written;
        let next = store::next_due(&self.db).await?;
        store::sweep_finished(&self.db, app::services::registry::JOB, now(), next).await?;
        Ok(total)
    }

    /// One poll, its outcome handed to the writer; `true` when postponed.
    async fn poll_one(self, ready: Ready, finished: tokio::sync::mpsc::Sender<Finished>) -> Result<bool, sqlx::Error> {
        let Ready { due, subject, known, hosts, now } = ready;
        match self.poll(due, subject, known, &hosts, now).await? {
            Some((outcome, subject)) => {
                let _ = finished.send((outcome, subject, now)).await;
                Ok(false)
            }
            None => Ok(true),
        }
    }

    /// Records outcomes in batches as they come, counts them into the
    /// sweep's progress, and tells the pipeline about providers found.
    async fn write(self, mut outcomes: tokio::sync::mpsc::Receiver<Finished>) -> SweepReport {
        let mut total = SweepReport::default();
        let mut batch: Vec<Finished> = Vec::new();
        let mut pairs: Vec<(Outcome, Option<Subject>)> = Vec::new();
        while outcomes.recv_many(&mut batch, WRITE_BATCH).await > 0 {
            let started = std::time::Instant::now();
            // Claims of one batch may differ by seconds; the latest clock is the batch's.
            let Some(now) = batch.iter().map(|(_, _, at)| *at).max() else { continue };
            pairs.extend(batch.drain(..).map(|(o, s, _)| (o, s)));
            let mut written = SweepReport::default();
            let mut found = Vec::new();
            match store::record_outcomes(&self.db, &self.instance, &pairs, now, Some(app::services::registry::JOB)).await {
                Ok(records) => {
                    for ((outcome, subject), recorded) in pairs.iter().zip(records) {
                        written.polled += 1;
                        written.failed += usize::from(outcome.is_failure());
                        written.versions += recorded.versions;
                        written.events += recorded.events;
                        if !recorded.held {
                            tracing::warn!(integration = outcome.integration_id, host = %outcome.registry_host,
                                "registry poll outlived its lease; its result was dropped");
                        }
                        // The Publish stage's "published on the registry"
                        // task holds once a version is on the provider's own
                        // registry: asked whenever one is added there, not
                        // only when the provider is first found (it may be
                        // listed with no versions yet, or a call before may
                        // not have got through).
                        let own = subject.as_ref().is_some_and(|s| s.source_host == outcome.registry_host);
                        if own && recorded.versions > 0 {
                            found.push(outcome.integration_id);
                        }
                    }
                }
                Err(e) => {
                    // The claims expire and these polls are retried then.
                    tracing::warn!(error = %e, polls = pairs.len(), "could not record registry polls");
                    written.failed += pairs.len();
                    // The progress would have gone with the batch's transaction.
                    if let Err(e) = store::sweep_progress(&self.db, app::services::registry::JOB, 0, pairs.len() as i64).await {
                        tracing::warn!(error = %e, "could not update the registry sweep's progress");
                    }
                }
            }
            pairs.clear();
            match store::awaiting_publication(&self.db, &found).await {
                Ok(ids) => {
                    for id in ids {
                        if let Err(e) = app::services::pipeline::observe(&self.db, id, now).await {
                            tracing::warn!(integration = id, error = %e, "could not observe the new version in the pipeline");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "could not tell the pipeline about providers found"),
            }
            written.writer_busy = started.elapsed();
            total += written;
        }
        total
    }

    /// Runs sweeps every tick until the process stops.
    pub async fn run(self: Arc<Self>) {
        tracing::info!(instance = %self.instance, "registry poller started");
        let mut tick = tokio::time::interval(self.settings.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.sweep(Utc::now).await {
                Ok(r) if r.claimed > 0 => tracing::info!(
                    polled = r.polled,
                    failed = r.failed,
                    postponed = r.postponed,
                    versions = r.versions,
                    events = r.events,
                    writer_busy_ms = r.writer_busy.as_millis() as u64,
                    "registry sweep done"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "registry sweep failed; trying again next tick"),
            }
        }
    }

    /// One poll: the outcome to record, or `None` when it was postponed
    /// because its host is paused.
    async fn poll(
        &self,
        due: Due,
        subject: Option<Subject>,
        known: Option<HashSet<String>>,
        hosts: &HostMemory,
        now: DateTime<Utc>,
    ) -> Result<Option<(Outcome, Option<Subject>)>, sqlx::Error> {
        let host = due.registry_host.clone();
        if let Some(until) = hosts.paused_until(&host, now) {
            self.postpone(&due, until).await?;
            return Ok(None);
        }
        let host_permits = self.host_permits(&host);
        let Ok(_host_permit) = host_permits.acquire().await else { return Ok(None) };
        // The host may have failed while this poll waited for its permit.
        if let Some(until) = hosts.paused_until(&host, now) {
            self.postpone(&due, until).await?;
            return Ok(None);
        }
        let Ok(_permit) = self.global.acquire().await else { return Ok(None) };
        let outcome =
            match self.client.versions(&host, &due.namespace, &due.type_name, due.etag.as_deref(), due.last_modified.as_deref()).await {
                Ok(Versions::NotModified) => self.unchanged(&due, subject.as_ref(), now),
                Ok(Versions::Listed { list, etag, last_modified }) => {
                    let known = match known {
                        Some(known) => known,
                        None => {
                            let key = (due.integration_id, due.registry_host.clone());
                            store::known_versions_many(&self.db, std::slice::from_ref(&key)).await?.remove(&key).unwrap_or_default()
                        }
                    };
                    match self.listed(&due, subject.as_ref(), &known, list, (etag, last_modified), now).await {
                        Ok(outcome) => outcome,
                        // Nothing stored: the new versions are still new,
                        // and checked, when the host answers again.
                        Err(error) => self.failed(&due, error, hosts, now).await?,
                    }
                }
                Err(error) => self.failed(&due, error, hosts, now).await?,
            };
        if outcome.outcome == "ok" || outcome.outcome == "not_modified" {
            self.healthy(&host, hosts, now).await?;
        }
        Ok(Some((outcome, subject)))
    }

    async fn postpone(&self, due: &Due, until: DateTime<Utc>) -> Result<(), sqlx::Error> {
        let at = until + Duration::seconds((jitter() * 30.0) as i64);
        store::postpone(&self.db, &self.instance, due.integration_id, &due.registry_host, at).await
    }

    /// Marks a host healthy once (a write only when it was not).
    async fn healthy(&self, host: &str, hosts: &HostMemory, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
        if !hosts.healthy.lock().unwrap_or_else(|p| p.into_inner()).insert(host.to_string()) {
            return Ok(());
        }
        if let Ok(base) = self.client.discover(host).await {
            store::host_ok(&self.db, host, base.as_str(), now).await?;
        }
        Ok(())
    }

    fn next_regular(&self, subject: Option<&Subject>, now: DateTime<Utc>) -> DateTime<Utc> {
        let stage = subject.map(|s| s.stage).unwrap_or(app::domain::catalog::Stage::Support);
        self.settings.schedule.after_success(now, stage, jitter())
    }

    fn unchanged(&self, due: &Due, subject: Option<&Subject>, now: DateTime<Utc>) -> Outcome {
        Outcome {
            integration_id: due.integration_id,
            registry_host: due.registry_host.clone(),
            outcome: "not_modified",
            error: None,
            failures: 0,
            next_poll_at: self.next_regular(subject, now),
            validators: None,
            found: Found::Keep,
            metadata: None,
            versions: Vec::new(),
            events: Vec::new(),
        }
    }

    async fn listed(
        &self,
        due: &Due,
        subject: Option<&Subject>,
        known: &HashSet<String>,
        list: rules::VersionList,
        validators: (Option<String>, Option<String>),
        now: DateTime<Utc>,
    ) -> Result<Outcome, RegistryError> {
        let (host, ns, ty) = (&due.registry_host, &due.namespace, &due.type_name);
        let mut notes = Vec::new();
        if list.ignored > 0 {
            notes.push(format!("{} entries of the versions list were not versions and were left out", list.ignored));
        }
        let metadata = match self.client.metadata(host, ns, ty).await {
            Ok(m) => m,
            Err(e) => {
                notes.push(format!("metadata: {e}"));
                None
            }
        };
        let first = due.found_at.is_none() && known.is_empty();
        let fresh = rules::new_versions(known, &list.versions);
        // On the first poll only the latest release is checked: a provider
        // with 300 versions is not 300 × platforms requests.
        let latest = rules::latest(list.versions.iter().map(|v| v.version.as_str())).map(str::to_string);
        let to_check: Vec<&rules::ListedVersion> = if first {
            fresh.iter().copied().filter(|v| Some(&v.version) == latest.as_ref()).collect()
        } else {
            fresh.iter().rev().copied().take(self.settings.release_checks).collect()
        };
        let mut checked: HashMap<String, Vec<String>> = HashMap::new();
        for v in to_check {
            let platforms: Vec<rules::Platform> = v.platforms.iter().take(self.settings.platforms_checked).cloned().collect();
            match self.client.missing_in_release(host, ns, ty, &v.version, &platforms).await {
                Ok(missing) => {
                    checked.insert(v.version.clone(), missing);
                }
                // A host that is rate limiting, failing or not answering has
                // not said the release is incomplete: the poll fails, the host
                // pauses, and the versions are checked on the next poll
                // (stored now, they would stay unchecked for good).
                Err(e) if e.is_host_problem() => return Err(e),
                Err(e) => notes.push(format!("release check of {}: {e}", v.version)),
            }
        }
        let published = metadata.as_ref().map(|m| &m.published);
        let versions: Vec<NewVersion> = fresh
            .iter()
            .map(|v| NewVersion {
                version: v.version.clone(),
                protocols: v.protocols.join(","),
                platforms: rules::platform_keys(&v.platforms),
                published_at: published.and_then(|p| p.get(&v.version).copied()),
                missing: checked.get(&v.version).cloned(),
            })
            .collect();
        let events = events_for(due, subject, &list, metadata.as_ref(), &fresh, first, latest.as_deref(), &checked, now);
        Ok(Outcome {
            integration_id: due.integration_id,
            registry_host: host.clone(),
            outcome: "ok",
            error: (!notes.is_empty()).then(|| notes.join("; ")),
            failures: 0,
            next_poll_at: self.next_regular(subject, now),
            validators: Some(validators),
            found: if due.found_at.is_none() { Found::Set(now) } else { Found::Keep },
            metadata,
            versions,
            events,
        })
    }

    async fn failed(&self, due: &Due, error: RegistryError, hosts: &HostMemory, now: DateTime<Utc>) -> Result<Outcome, sqlx::Error> {
        let host = &due.registry_host;
        let mut outcome = Outcome {
            integration_id: due.integration_id,
            registry_host: host.clone(),
            outcome: error.outcome(),
            error: Some(error.to_string()),
            failures: due.failures + 1,
            next_poll_at: now,
            validators: None,
            found: Found::Keep,
            metadata: None,
            versions: Vec::new(),
            events: Vec::new(),
        };
        if let RegistryError::NotFound(_) = error {
            // An answer, not a failure: poll at the usual pace.
            outcome.failures = 0;
            outcome.next_poll_at = self.settings.schedule.after_success(now, app::domain::catalog::Stage::Support, jitter());
            outcome.validators = Some((None, None));
            if let Some(found_at) = due.found_at {
                outcome.found = Found::Clear;
                outcome.events.push(NewEvent {
                    kind: EventKind::ProviderGone,
                    key: found_at.to_rfc3339(),
                    version: None,
                    detail: format!(
                        "{host} answers 404 for {}/{}; it was listed there since {}",
                        due.namespace,
                        due.type_name,
                        found_at.format("%Y-%m-%d")
                    ),
                });
            }
            return Ok(outcome);
        }
        outcome.next_poll_at = self.settings.schedule.after_failure(now, outcome.failures, jitter(), error.retry_after());
        if error.is_host_problem() {
            let until = self.settings.schedule.after_failure(now, 1, jitter(), error.retry_after());
            hosts.pause(host, until);
            store::host_failed(&self.db, host, &error.to_string(), until, now).await?;
            if matches!(error, RegistryError::Status { .. } | RegistryError::Fetch { .. }) {
                self.client.forget(host).await;
            }
        }
        tracing::info!(integration = due.integration_id, host = %host, error = %error, "registry poll failed");
        Ok(outcome)
    }
}

/// A poll's result, or `None` when it panicked: the sweep goes on without it.
async fn caught(poll: impl std::future::Future<Output = Result<bool, sqlx::Error>>) -> Option<Result<bool, sqlx::Error>> {
    std::panic::AssertUnwindSafe(poll).catch_unwind().await.ok()
}

/// The events of a successful listing.
#[allow(clippy::too_many_arguments)]
fn events_for(
    due: &Due,
    subject: Option<&Subject>,
    list: &rules::VersionList,
    metadata: Option<&rules::Metadata>,
    fresh: &[&rules::ListedVersion],
    first: bool,
    latest: Option<&str>,
    checked: &HashMap<String, Vec<String>>,
    now: DateTime<Utc>,
) -> Vec<NewEvent> {
    let mut events = Vec::new();
    let event =
        |kind, key: String, version: Option<&str>, detail: String| NewEvent { kind, key, version: version.map(String::from), detail };
    if first {
        let detail = match latest {
            Some(l) => format!("{} versions listed; the latest is {l}", list.versions.len()),
            None => "listed, with no versions yet".to_string(),
        };
        events.push(event(EventKind::Found, now.to_rfc3339(), latest, detail));
    } else {
        for v in fresh {
            let detail = format!("{} published (protocols {}; {} platforms)", v.version, v.protocols.join(", "), v.platforms.len());
            events.push(event(EventKind::NewVersion, v.version.clone(), Some(&v.version), detail));
        }
    }
    for (version, missing) in checked {
        if !missing.is_empty() {
            events.push(event(EventKind::ReleaseIncomplete, version.clone(), Some(version), missing.join("; ")));
        }
    }
    if let Some(s) = subject {
        let candidates: Vec<&str> = if first { latest.into_iter().collect() } else { fresh.iter().map(|v| v.version.as_str()).collect() };
        for v in candidates {
            if rules::outside_verified_range(s.verified_version_range.as_deref(), v) {
                let range = s.verified_version_range.clone().unwrap_or_default();
                events.push(event(
                    EventKind::OutsideVerifiedRange,
                    v.to_string(),
                    Some(v),
                    format!("{v} is outside the verified range {range}: reviewers should verify it again"),
                ));
            }
        }
        // The provider's own registry speaks for its tier; mirrors do not.
        if s.source_host == due.registry_host {
            let warning = metadata.and_then(|m| m.warning.clone()).or_else(|| (!list.warnings.is_empty()).then(|| list.warnings.join(" ")));
            let tier = metadata.and_then(|m| m.tier.clone());
            if let Some(why) = rules::tier_mismatch(s.tier, tier.as_deref(), warning.as_deref()) {
                let key = format!("{}|{}|{}", s.tier.key(), tier.unwrap_or_default(), rules::warns_archived(warning.as_deref()));
                events.push(event(EventKind::TierMismatch, key, None, why));
            }
        }
    }
    events
}
