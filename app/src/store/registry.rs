//! Queries for the registry poller: poll rows (which double as leases),
//! versions, events, per-host state and the sweep status.
//!
//! Claiming is one statement: on PostgreSQL the candidate rows are locked
//! with `FOR UPDATE SKIP LOCKED`, so two instances claiming at the same
//! moment get disjoint sets; SQLite serialises writers anyway. Everything a
//! poll found is written in one transaction, and only while the instance
//! still holds the claim, so a poll whose lease ran out changes nothing.

use crate::domain::audit::{Entry, TargetKind};
use crate::domain::catalog::{Stage, Tier};
use crate::domain::registry::{EventKind, EventView, HostStatus, Metadata, PollView, Sweep, VersionView};
use crate::on_pool;
use crate::store::audit::record;
use crate::store::{decode_error, placeholders, Db};
use chrono::{DateTime, Duration, Utc};
use std::collections::{HashMap, HashSet};

/// Creates poll rows for providers that have none (on their own host, and
/// on the mirror of that host where one is configured: `(primary, mirror)`)
/// and drops rows whose provider moved to another address. Returns how many
/// rows were added.
pub async fn sync(db: &Db, mirrors: &[(String, String)], now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let on_mirror: String = if mirrors.is_empty() {
        "FALSE".into()
    } else {
        (0..mirrors.len())
            .map(|k| format!("(i.source_host = ${} AND registry_polls.registry_host = ${})", 2 * k + 1, 2 * k + 2))
            .collect::<Vec<_>>()
            .join(" OR ")
    };
    let delete = format!(
        "DELETE FROM registry_polls WHERE NOT EXISTS (
            SELECT 1 FROM integrations i
            WHERE i.id = registry_polls.integration_id AND i.kind = 'provider'
              AND i.source_namespace = registry_polls.namespace AND i.source_type = registry_polls.type_name
              AND (i.source_host = registry_polls.registry_host OR {on_mirror}))"
    );
    let insert = "INSERT INTO registry_polls (integration_id, registry_host, namespace, type_name, next_poll_at)
        SELECT i.id, i.source_host, i.source_namespace, i.source_type, $1 FROM integrations i
        WHERE i.kind = 'provider' AND i.source_host IS NOT NULL AND i.source_namespace IS NOT NULL AND i.source_type IS NOT NULL
        ON CONFLICT (integration_id, registry_host) DO NOTHING";
    let insert_mirror = "INSERT INTO registry_polls (integration_id, registry_host, namespace, type_name, next_poll_at)
        SELECT i.id, $2, i.source_namespace, i.source_type, $1 FROM integrations i
        WHERE i.kind = 'provider' AND i.source_host = $3 AND i.source_namespace IS NOT NULL AND i.source_type IS NOT NULL
        ON CONFLICT (integration_id, registry_host) DO NOTHING";
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let mut q = sqlx::query(&delete);
        for (primary, mirror) in mirrors {
            q = q.bind(primary).bind(mirror);
        }
        q.execute(&mut *tx).await?;
        let mut added = sqlx::query(insert).bind(now).execute(&mut *tx).await?.rows_affected();
        for (primary, mirror) in mirrors {
            added += sqlx::query(insert_mirror).bind(now).bind(mirror).bind(primary).execute(&mut *tx).await?.rows_affected();
        }
        tx.commit().await?;
        Ok(added)
    })
}

/// A claimed poll: what to ask and what we knew last time.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Due {
    pub integration_id: i64,
    pub registry_host: String,
    pub namespace: String,
    pub type_name: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub found_at: Option<DateTime<Utc>>,
    pub failures: i64,
    pub registry_tier: Option<String>,
    pub registry_warning: Option<String>,
}

/// Claims up to `limit` due polls for `lease`; nobody else polls them until
/// the claim is released or expires.
pub async fn claim(db: &Db, instance: &str, now: DateTime<Utc>, lease: Duration, limit: i64) -> Result<Vec<Due>, sqlx::Error> {
    let lock = match db {
        Db::Postgres(_) => " FOR UPDATE SKIP LOCKED",
        Db::Sqlite(_) => "",
    };
    let sql = format!(
        "UPDATE registry_polls SET claimed_until = $1, claimed_by = $2
         WHERE (integration_id, registry_host) IN (
            SELECT integration_id, registry_host FROM registry_polls
            WHERE next_poll_at <= $3 AND (claimed_until IS NULL OR claimed_until < $3)
            ORDER BY next_poll_at LIMIT $4{lock})
         RETURNING integration_id, registry_host, namespace, type_name, etag, last_modified, found_at, failures,
            registry_tier, registry_warning"
    );
    on_pool!(db, |pool| sqlx::query_as::<_, Due>(&sql).bind(now + lease).bind(instance).bind(now).bind(limit).fetch_all(pool).await)
}

/// How many polls are due now (for a sweep's "done of total").
pub async fn due_count(db: &Db, now: DateTime<Utc>) -> Result<i64, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM registry_polls WHERE next_poll_at <= $1").bind(now).fetch_one(pool).await)
}

/// What the poller needs to know about the provider behind a poll.
#[derive(Debug, Clone)]
pub struct Subject {
    pub name: String,
    pub partner_id: i64,
    pub partner_name: String,
    pub tier: Tier,
    pub stage: Stage,
    pub source_host: String,
    pub verified_version_range: Option<String>,
}

pub async fn subjects(db: &Db, ids: &[i64]) -> Result<HashMap<i64, Subject>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT i.id, i.name, i.partner_id, p.name, i.tier, i.stage, i.source_host, i.verified_version_range
         FROM integrations i JOIN partners p ON p.id = i.partner_id WHERE i.id IN ({})",
        placeholders(db, ids.len())
    );
    type Row = (i64, String, i64, String, String, String, Option<String>, Option<String>);
    let rows: Vec<Row> = on_pool!(db, |pool| {
        let mut q = sqlx::query_as(&sql);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await?
    });
    rows.into_iter()
        .map(|(id, name, partner_id, partner_name, tier, stage, host, range)| {
            let subject = Subject {
                name,
                partner_id,
                partner_name,
                tier: Tier::parse(&tier).ok_or_else(|| decode_error("tier", &tier))?,
                stage: Stage::parse(&stage).ok_or_else(|| decode_error("stage", &stage))?,
                source_host: host.unwrap_or_default(),
                verified_version_range: range,
            };
            Ok((id, subject))
        })
        .collect()
}

/// Of `ids`, the integrations whose "published on the registry" task is
/// still to be completed (or that have no checklist yet): only these need
/// the pipeline to observe a finding.
pub async fn awaiting_publication(db: &Db, ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT i.id FROM integrations i WHERE i.id IN ({}) AND (
            NOT EXISTS (SELECT 1 FROM tasks t WHERE t.integration_id = i.id)
            OR EXISTS (SELECT 1 FROM tasks t WHERE t.integration_id = i.id AND t.fact = 'version_published'
                       AND t.state NOT IN ('accepted', 'waived')))",
        placeholders(db, ids.len())
    );
    on_pool!(db, |pool| {
        let mut q = sqlx::query_scalar(&sql);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await
    })
}

/// When each of `hosts` may be asked again, for hosts that are paused.
/// Also returns the hosts already recorded as healthy, which need no write
/// when they answer again.
pub async fn host_states(db: &Db, now: DateTime<Utc>) -> Result<(HashMap<String, DateTime<Utc>>, HashSet<String>), sqlx::Error> {
    let rows: Vec<(String, Option<DateTime<Utc>>, i64, Option<String>)> =
        on_pool!(db, |pool| sqlx::query_as("SELECT host, blocked_until, failures, providers_base FROM registry_hosts")
            .fetch_all(pool)
            .await?);
    let mut paused = HashMap::new();
    let mut healthy = HashSet::new();
    for (host, blocked_until, failures, base) in rows {
        match blocked_until {
            Some(until) if until > now => {
                paused.insert(host, until);
            }
            _ if failures == 0 && base.is_some() => {
                healthy.insert(host);
            }
            _ => {}
        }
    }
    Ok((paused, healthy))
}

/// A version to store.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub version: String,
    /// Comma-separated, as stored: "5.0,6.0".
    pub protocols: String,
    /// Comma-separated `os_arch` keys, as stored: "darwin_arm64,linux_amd64".
    pub platforms: String,
    pub published_at: Option<DateTime<Utc>>,
    /// `None`: not checked (older versions found on the first poll).
    pub missing: Option<Vec<String>>,
}

/// An event to record once.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub kind: EventKind,
    pub key: String,
    pub version: Option<String>,
    pub detail: String,
}

/// How `found_at` changes with this poll.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Found {
    Keep,
    Set(DateTime<Utc>),
    Clear,
}

/// Everything one poll learned, written at once.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub integration_id: i64,
    pub registry_host: String,
    /// `ok`, `not_modified`, `not_found`, `unauthorised`, `refused`, `error`.
    pub outcome: &'static str,
    pub error: Option<String>,
    pub failures: i64,
    pub next_poll_at: DateTime<Utc>,
    /// New validators; `None` keeps the stored ones.
    pub validators: Option<(Option<String>, Option<String>)>,
    pub found: Found,
    pub metadata: Option<Metadata>,
    pub versions: Vec<NewVersion>,
    pub events: Vec<NewEvent>,
}

impl Outcome {
    /// Counted as failed in a sweep's progress: the registry did not give
    /// an answer (a 404 is one).
    pub fn is_failure(&self) -> bool {
        !matches!(self.outcome, "ok" | "not_modified" | "not_found")
    }
}

/// What a recorded outcome added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recorded {
    /// False when the claim had passed to someone else: nothing was written.
    pub held: bool,
    pub versions: u64,
    pub events: u64,
}

/// Writes a poll's outcome, its versions and events, and releases the claim;
/// only while `instance` still holds the claim.
pub async fn record_outcome(
    db: &Db,
    instance: &str,
    o: &Outcome,
    subject: Option<&Subject>,
    now: DateTime<Utc>,
) -> Result<Recorded, sqlx::Error> {
    let mut recorded = record_outcomes(db, instance, &[(o.clone(), subject.cloned())], now, None).await?;
    Ok(recorded.pop().unwrap_or_default())
}

/// Rows per multi-row statement (see `store::pieces`): with 17 values a poll
/// row, 9 a version and 7 an event, each well under SQLite's 32,766 and
/// PostgreSQL's 65,535 binds.
const POLL_ROWS_PER_UPDATE: usize = 256;
const VERSION_ROWS_PER_INSERT: usize = 1024;
const EVENT_ROWS_PER_INSERT: usize = 1024;

/// Stores `rows` versions; `counted` returns a row for each one inserted
/// (and skips those already stored), the plain form fails on them.
fn version_insert_sql(db: &Db, rows: usize, counted: bool) -> String {
    format!(
        "INSERT INTO provider_versions (integration_id, registry_host, version, protocols, platforms, published_at, first_seen_at,
            release_check, release_missing)
         VALUES {}{}",
        crate::store::tuples(db, rows, 9, 0),
        if counted {
            " ON CONFLICT (integration_id, registry_host, version) DO NOTHING RETURNING integration_id, registry_host"
        } else {
            ""
        }
    )
}

/// Binds the values of [`version_insert_sql`]'s rows.
macro_rules! bind_versions {
    ($q:expr, $rows:expr, $now:expr) => {{
        let mut q = $q;
        for (o, v) in $rows {
            let (check, missing) = match &v.missing {
                None => ("unchecked", None),
                Some(m) if m.is_empty() => ("complete", None),
                Some(m) => ("incomplete", Some(m.join("; "))),
            };
            // Borrowed text: binding a `&String` would copy it.
            q = q
                .bind(o.integration_id)
                .bind(o.registry_host.as_str())
                .bind(v.version.as_str())
                .bind(v.protocols.as_str())
                .bind(v.platforms.as_str())
                .bind(v.published_at)
                .bind($now)
                .bind(check)
                .bind(missing);
        }
        q
    }};
}

/// Releases the claims of a batch and stores what each poll learned, in one
/// statement per up to 256 polls; returns the polls this instance still held.
fn release_sql(db: &Db, rows: usize) -> String {
    // Parameters only in the VALUES list and after it: see `store::param`.
    format!(
        "UPDATE registry_polls SET
            claimed_until = NULL, claimed_by = NULL, last_polled_at = v.column17, last_outcome = v.column3, last_error = v.column4,
            failures = v.column5, next_poll_at = v.column6,
            failing_since = CASE WHEN v.column5 > 0 THEN COALESCE(failing_since, v.column17) ELSE NULL END,
            failure_alerted_at = CASE WHEN v.column5 > 0 THEN failure_alerted_at ELSE NULL END,
            etag = CASE WHEN v.column7 THEN v.column8 ELSE etag END,
            last_modified = CASE WHEN v.column7 THEN v.column9 ELSE last_modified END,
            found_at = CASE WHEN v.column10 THEN v.column11 ELSE found_at END,
            registry_tier = CASE WHEN v.column12 THEN v.column13 ELSE registry_tier END,
            registry_source = CASE WHEN v.column12 THEN v.column14 ELSE registry_source END,
            registry_warning = CASE WHEN v.column12 THEN v.column15 ELSE registry_warning END,
            downloads = CASE WHEN v.column12 THEN v.column16 ELSE downloads END
         FROM (VALUES {}) AS v
         WHERE registry_polls.integration_id = v.column1 AND registry_polls.registry_host = v.column2
           AND registry_polls.claimed_by = {}
         RETURNING integration_id, registry_host",
        crate::store::tuples(db, rows, 17, 0),
        crate::store::param(db, rows * 17 + 1)
    )
}

/// Writes many polls' outcomes in one transaction, with a few multi-row
/// statements instead of several per poll: SQLite has one writer and each
/// statement has a fixed cost, so a batch of 128 polls costs about as much
/// as one. An outcome whose claim passed to another instance is skipped
/// (its `Recorded::held` is false); the others are written all or nothing.
/// With a `sweep` (the job's name), the batch is counted into that sweep's
/// progress in the same transaction: one commit per batch, not two.
pub async fn record_outcomes(
    db: &Db,
    instance: &str,
    outcomes: &[(Outcome, Option<Subject>)],
    now: DateTime<Utc>,
    sweep: Option<&str>,
) -> Result<Vec<Recorded>, sqlx::Error> {
    if outcomes.is_empty() {
        return Ok(Vec::new());
    }
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        // Claims first, so an outcome whose claim was lost writes nothing else.
        let mut held: HashSet<(i64, String)> = HashSet::new();
        for chunk in crate::store::pieces(outcomes, POLL_ROWS_PER_UPDATE) {
            let sql = release_sql(db, chunk.len());
            let mut q = sqlx::query_as::<_, (i64, String)>(&sql);
            for (o, _) in chunk {
                let (set_found, found_value) = match o.found {
                    Found::Keep => (false, None),
                    Found::Set(at) => (true, Some(at)),
                    Found::Clear => (true, None),
                };
                let (set_validators, etag, last_modified) = match &o.validators {
                    Some((e, m)) => (true, e.clone(), m.clone()),
                    None => (false, None, None),
                };
                let meta = o.metadata.as_ref();
                q = q
                    .bind(o.integration_id)
                    .bind(&o.registry_host)
                    .bind(o.outcome)
                    .bind(&o.error)
                    .bind(o.failures)
                    .bind(o.next_poll_at)
                    .bind(set_validators)
                    .bind(etag)
                    .bind(last_modified)
                    .bind(set_found)
                    .bind(found_value)
                    .bind(meta.is_some())
                    .bind(meta.and_then(|m| m.tier.clone()))
                    .bind(meta.and_then(|m| m.source.clone()))
                    .bind(meta.and_then(|m| m.warning.clone()))
                    .bind(meta.and_then(|m| m.downloads))
                    .bind(now);
            }
            held.extend(q.bind(instance).fetch_all(&mut *tx).await?);
        }
        let mut all: Vec<Recorded> = outcomes
            .iter()
            .map(|(o, _)| Recorded { held: held.contains(&(o.integration_id, o.registry_host.clone())), ..Recorded::default() })
            .collect();
        let index: HashMap<(i64, &str), usize> =
            outcomes.iter().enumerate().map(|(k, (o, _))| ((o.integration_id, o.registry_host.as_str()), k)).collect();
        let written: Vec<(&Outcome, &Option<Subject>)> =
            outcomes.iter().zip(&all).filter(|(_, r)| r.held).map(|((o, s), _)| (o, s)).collect();

        let versions: Vec<(&Outcome, &NewVersion)> = written.iter().flat_map(|&(o, _)| o.versions.iter().map(move |v| (o, v))).collect();
        for piece in crate::store::pieces(&versions, VERSION_ROWS_PER_INSERT) {
            // Every version is new as a rule (the poll compared the list with
            // the versions stored, under its claim), so a plain insert counts
            // them without sending a row back for each. When one is stored
            // after all (this instance claimed the poll again after its lease
            // ran out, and the first poll wrote meanwhile), the insert fails
            // as a whole and the piece goes in again, skipping those and
            // counting row by row.
            let mut savepoint = sqlx::Acquire::begin(&mut *tx).await?;
            let sql = version_insert_sql(db, piece.len(), false);
            let inserted = bind_versions!(sqlx::query(&sql), piece, now).execute(&mut *savepoint).await;
            match inserted {
                Ok(_) => {
                    savepoint.commit().await?;
                    for (o, _) in piece {
                        if let Some(&k) = index.get(&(o.integration_id, o.registry_host.as_str())) {
                            all[k].versions += 1;
                        }
                    }
                }
                Err(e) if crate::store::is_unique_violation(&e) => {
                    savepoint.rollback().await?;
                    let sql = version_insert_sql(db, piece.len(), true);
                    for (id, host) in bind_versions!(sqlx::query_as::<_, (i64, String)>(&sql), piece, now).fetch_all(&mut *tx).await? {
                        if let Some(&k) = index.get(&(id, host.as_str())) {
                            all[k].versions += 1;
                        }
                    }
                }
                Err(e) => return Err(e),
            }
        }
        // Publication dates the metadata gives for versions stored earlier
        // (the public registry only, and only dates it had not given before).
        for &(o, _) in &written {
            let Some(m) = o.metadata.as_ref() else { continue };
            for (version, at) in &m.published {
                if o.versions.iter().any(|v| v.version == *version) {
                    continue;
                }
                sqlx::query(
                    "UPDATE provider_versions SET published_at = $4
                     WHERE integration_id = $1 AND registry_host = $2 AND version = $3 AND published_at IS NULL",
                )
                .bind(o.integration_id)
                .bind(&o.registry_host)
                .bind(version)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
        }

        let events: Vec<(&Outcome, &Option<Subject>, &NewEvent)> =
            written.iter().flat_map(|&(o, s)| o.events.iter().map(move |e| (o, s, e))).collect();
        let mut entries = Vec::new();
        let mut alerts = Vec::new();
        for chunk in crate::store::pieces(&events, EVENT_ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO registry_events (integration_id, registry_host, kind, event_key, version, detail, occurred_at)
                 VALUES {}
                 ON CONFLICT (integration_id, registry_host, kind, event_key) DO NOTHING
                 RETURNING integration_id, registry_host, kind, event_key",
                crate::store::tuples(db, chunk.len(), 7, 0)
            );
            let mut q = sqlx::query_as::<_, (i64, String, String, String)>(&sql);
            for (o, _, e) in chunk {
                q = q
                    .bind(o.integration_id)
                    .bind(&o.registry_host)
                    .bind(e.kind.key())
                    .bind(&e.key)
                    .bind(&e.version)
                    .bind(&e.detail)
                    .bind(now);
            }
            let added: HashSet<(i64, String, String, String)> = q.fetch_all(&mut *tx).await?.into_iter().collect();
            for (o, subject, e) in chunk {
                if !added.contains(&(o.integration_id, o.registry_host.clone(), e.kind.key().to_string(), e.key.clone())) {
                    continue;
                }
                if let Some(&k) = index.get(&(o.integration_id, o.registry_host.as_str())) {
                    all[k].events += 1;
                }
                // The integration's timeline shows what the registry did.
                let Some(s) = subject else { continue };
                entries.push(
                    Entry::system(&format!("registry.{}", e.kind.key()), TargetKind::Integration, Some(o.integration_id), &s.name)
                        .partner(s.partner_id)
                        .integration(o.integration_id)
                        .summary(format!("{} on {}: {}", e.kind.label(), o.registry_host, e.detail)),
                );
                if let (true, Some(version)) = (crate::domain::registry::announces_version(e.kind, s.stage), &e.version) {
                    alerts.push(crate::services::alerts::version_published(
                        s.partner_id,
                        &s.partner_name,
                        o.integration_id,
                        &s.name,
                        version,
                        &o.registry_host,
                    ));
                }
            }
        }
        crate::store::audit::record_all!(db, &mut *tx, &entries, now)?;
        for alert in &alerts {
            crate::store::alerts::enqueue!(tx, alert, now)?;
        }
        if let Some(job) = sweep {
            let failed = outcomes.iter().filter(|(o, _)| o.is_failure()).count();
            sqlx::query(PROGRESS_SQL).bind(job).bind(outcomes.len() as i64).bind(failed as i64).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(all)
    })
}

/// The versions already stored for each (provider, host) of a batch.
pub async fn known_versions_many(db: &Db, keys: &[(i64, String)]) -> Result<HashMap<(i64, String), HashSet<String>>, sqlx::Error> {
    let ids: Vec<i64> = keys.iter().map(|(id, _)| *id).collect::<HashSet<_>>().into_iter().collect();
    let mut map: HashMap<(i64, String), HashSet<String>> = keys.iter().map(|k| (k.clone(), HashSet::new())).collect();
    if ids.is_empty() {
        return Ok(map);
    }
    let sql = format!(
        "SELECT integration_id, registry_host, version FROM provider_versions WHERE integration_id IN ({})",
        placeholders(db, ids.len())
    );
    let rows: Vec<(i64, String, String)> = on_pool!(db, |pool| {
        let mut q = sqlx::query_as(&sql);
        for id in &ids {
            q = q.bind(id);
        }
        q.fetch_all(pool).await?
    });
    for (id, host, version) in rows {
        if let Some(set) = map.get_mut(&(id, host)) {
            set.insert(version);
        }
    }
    Ok(map)
}

/// Remembers a host-level error; `blocked_until` pauses every poll of the host.
pub async fn host_failed(db: &Db, host: &str, error: &str, blocked_until: DateTime<Utc>, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query(
        "INSERT INTO registry_hosts (host, last_error, last_error_at, failures, blocked_until) VALUES ($1, $2, $3, 1, $4)
         ON CONFLICT (host) DO UPDATE SET last_error = excluded.last_error, last_error_at = excluded.last_error_at,
            failures = registry_hosts.failures + 1,
            blocked_until = CASE WHEN registry_hosts.blocked_until IS NULL OR registry_hosts.blocked_until < excluded.blocked_until
                                 THEN excluded.blocked_until ELSE registry_hosts.blocked_until END"
    )
    .bind(host)
    .bind(error)
    .bind(now)
    .bind(blocked_until)
    .execute(pool)
    .await
    .map(|_| ()))
}

/// The host answered: clear its error state (cheap when already clear).
pub async fn host_ok(db: &Db, host: &str, base: &str, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        sqlx::query(
        "INSERT INTO registry_hosts (host, providers_base, discovered_at, failures) VALUES ($1, $2, $3, 0)
         ON CONFLICT (host) DO UPDATE SET providers_base = excluded.providers_base, discovered_at = excluded.discovered_at,
            failures = 0, blocked_until = NULL, last_error = NULL
         WHERE registry_hosts.failures <> 0 OR registry_hosts.providers_base IS NULL OR registry_hosts.providers_base <> excluded.providers_base"
    )
    .bind(host)
    .bind(base)
    .bind(now)
    .execute(pool)
    .await
    .map(|_| ())
    })
}

/// Hands a claimed poll back unpolled, to be tried at `at` (its host is paused).
pub async fn postpone(db: &Db, instance: &str, integration_id: i64, host: &str, at: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query(
        "UPDATE registry_polls SET claimed_until = NULL, claimed_by = NULL, next_poll_at = $3
         WHERE integration_id = $1 AND registry_host = $2 AND claimed_by = $4"
    )
    .bind(integration_id)
    .bind(host)
    .bind(at)
    .bind(instance)
    .execute(pool)
    .await
    .map(|_| ()))
}

/// "Poll now": makes the provider's polls due; returns how many.
pub async fn poll_now(db: &Db, integration_id: i64, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query("UPDATE registry_polls SET next_poll_at = $2 WHERE integration_id = $1")
        .bind(integration_id)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))
}

#[derive(sqlx::FromRow)]
struct PollRow {
    registry_host: String,
    last_polled_at: Option<DateTime<Utc>>,
    last_outcome: Option<String>,
    last_error: Option<String>,
    next_poll_at: DateTime<Utc>,
    found_at: Option<DateTime<Utc>>,
    registry_tier: Option<String>,
    downloads: Option<i64>,
    registry_warning: Option<String>,
}

#[derive(sqlx::FromRow)]
struct VersionRow {
    registry_host: String,
    version: String,
    protocols: String,
    platforms: String,
    published_at: Option<DateTime<Utc>>,
    first_seen_at: DateTime<Utc>,
    release_check: String,
    release_missing: Option<String>,
}

fn split(s: &str) -> Vec<String> {
    s.split(',').filter(|x| !x.is_empty()).map(str::to_string).collect()
}

/// A provider's polls (its own host first), versions (newest first, merged
/// across hosts) and latest events.
pub async fn provider(
    db: &Db,
    integration_id: i64,
    own_host: &str,
    events: i64,
) -> Result<crate::domain::registry::ProviderRegistry, sqlx::Error> {
    use crate::domain::constraint::Version;
    let (polls, versions, event_rows) = on_pool!(db, |pool| {
        let polls: Vec<PollRow> = sqlx::query_as(
            "SELECT registry_host, last_polled_at, last_outcome, last_error, next_poll_at, found_at, registry_tier, downloads, registry_warning
             FROM registry_polls WHERE integration_id = $1 ORDER BY registry_host",
        )
        .bind(integration_id)
        .fetch_all(pool)
        .await?;
        let versions: Vec<VersionRow> = sqlx::query_as(
            "SELECT registry_host, version, protocols, platforms, published_at, first_seen_at, release_check, release_missing
             FROM provider_versions WHERE integration_id = $1",
        )
        .bind(integration_id)
        .fetch_all(pool)
        .await?;
        let events: Vec<(String, String, Option<String>, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT kind, registry_host, version, detail, occurred_at FROM registry_events WHERE integration_id = $1
             ORDER BY occurred_at DESC, id DESC LIMIT $2",
        )
        .bind(integration_id)
        .bind(events)
        .fetch_all(pool)
        .await?;
        (polls, versions, events)
    });
    let mut hosts: Vec<String> = polls.iter().map(|p| p.registry_host.clone()).collect();
    hosts.sort_by_key(|h| (h != own_host, h.clone()));
    let mut by_version: HashMap<String, VersionView> = HashMap::new();
    let mut per_host: HashMap<String, Vec<String>> = HashMap::new();
    for v in versions {
        per_host.entry(v.registry_host.clone()).or_default().push(v.version.clone());
        let own = v.registry_host == own_host;
        let entry = by_version.entry(v.version.clone()).or_insert_with(|| VersionView {
            version: v.version.clone(),
            protocols: split(&v.protocols),
            platforms: split(&v.platforms),
            published_at: v.published_at,
            first_seen_at: v.first_seen_at,
            hosts: Vec::new(),
            release_check: v.release_check.clone(),
            release_missing: v.release_missing.clone(),
        });
        entry.hosts.push(v.registry_host.clone());
        entry.first_seen_at = entry.first_seen_at.min(v.first_seen_at);
        if own {
            // The provider's own registry is the authority on the release.
            entry.protocols = split(&v.protocols);
            entry.platforms = split(&v.platforms);
            entry.release_check = v.release_check;
            entry.release_missing = v.release_missing;
            entry.published_at = v.published_at.or(entry.published_at);
        }
    }
    let mut list: Vec<VersionView> = by_version.into_values().collect();
    for v in &mut list {
        v.hosts.sort_by_key(|h| hosts.iter().position(|x| x == h));
    }
    list.sort_by_cached_key(|v| std::cmp::Reverse((Version::parse(&v.version).ok(), v.version.clone())));
    let latest = crate::domain::registry::latest(list.iter().map(|v| v.version.as_str())).map(str::to_string);
    let own_versions: Vec<&str> = per_host.get(own_host).map(|v| v.iter().map(String::as_str).collect()).unwrap_or_default();
    let gaps = hosts
        .iter()
        .filter(|h| *h != own_host)
        .map(|h| {
            let theirs: HashSet<&str> = per_host.get(h).map(|v| v.iter().map(String::as_str).collect()).unwrap_or_default();
            (h.clone(), crate::domain::registry::gap(&own_versions, &theirs))
        })
        .collect();
    let mut poll_views: Vec<PollView> = polls
        .into_iter()
        .map(|p| {
            let mine: Vec<&str> = per_host.get(&p.registry_host).map(|v| v.iter().map(String::as_str).collect()).unwrap_or_default();
            PollView {
                versions: mine.len() as i64,
                latest: crate::domain::registry::latest(mine.iter().copied()).map(str::to_string),
                registry_host: p.registry_host,
                last_polled_at: p.last_polled_at,
                last_outcome: p.last_outcome,
                last_error: p.last_error,
                next_poll_at: p.next_poll_at,
                found_at: p.found_at,
                registry_tier: p.registry_tier,
                downloads: p.downloads,
                warning: p.registry_warning,
            }
        })
        .collect();
    poll_views.sort_by_key(|p| hosts.iter().position(|h| *h == p.registry_host));
    let events = event_rows
        .into_iter()
        .map(|(kind, registry_host, version, detail, occurred_at)| {
            Ok(EventView {
                kind: EventKind::parse(&kind).ok_or_else(|| decode_error("registry event", &kind))?,
                registry_host,
                version,
                detail,
                occurred_at,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(crate::domain::registry::ProviderRegistry { polls: poll_views, versions: list, events, latest, gaps })
}

/// The newest version on the provider's own registry and when it was first seen.
pub async fn latest_published(db: &Db, integration_id: i64, own_host: &str) -> Result<Option<(String, DateTime<Utc>)>, sqlx::Error> {
    let rows: Vec<(String, DateTime<Utc>)> = on_pool!(db, |pool| sqlx::query_as(
        "SELECT version, first_seen_at FROM provider_versions WHERE integration_id = $1 AND registry_host = $2"
    )
    .bind(integration_id)
    .bind(own_host)
    .fetch_all(pool)
    .await?);
    let latest = crate::domain::registry::latest(rows.iter().map(|(v, _)| v.as_str())).map(str::to_string);
    Ok(latest.and_then(|l| rows.into_iter().find(|(v, _)| *v == l)))
}

/// Starts a sweep's record (whoever starts one overwrites the last).
pub async fn sweep_started(db: &Db, job: &str, instance: &str, total: i64, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query(
        "INSERT INTO job_runs (job, instance, started_at, finished_at, total, done, failed) VALUES ($1, $2, $3, NULL, $4, 0, 0)
         ON CONFLICT (job) DO UPDATE SET instance = excluded.instance, started_at = excluded.started_at, finished_at = NULL,
            total = excluded.total, done = 0, failed = 0"
    )
    .bind(job)
    .bind(instance)
    .bind(now)
    .bind(total)
    .execute(pool)
    .await
    .map(|_| ()))
}

const PROGRESS_SQL: &str = "UPDATE job_runs SET done = done + $2, failed = failed + $3 WHERE job = $1";

pub async fn sweep_progress(db: &Db, job: &str, done: i64, failed: i64) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query(PROGRESS_SQL).bind(job).bind(done).bind(failed).execute(pool).await.map(|_| ()))
}

pub async fn sweep_finished(db: &Db, job: &str, now: DateTime<Utc>, next: Option<DateTime<Utc>>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query("UPDATE job_runs SET finished_at = $2, next_run_at = $3 WHERE job = $1")
        .bind(job)
        .bind(now)
        .bind(next)
        .execute(pool)
        .await
        .map(|_| ()))
}

/// The earliest poll not yet due.
pub async fn next_due(db: &Db) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_scalar("SELECT MIN(next_poll_at) FROM registry_polls").fetch_one(pool).await)
}

/// The status page's numbers.
pub async fn status(db: &Db, job: &str) -> Result<(Option<Sweep>, i64, Vec<HostStatus>, Vec<(String, i64)>), sqlx::Error> {
    on_pool!(db, |pool| {
        let sweep: Option<(String, DateTime<Utc>, Option<DateTime<Utc>>, i64, i64, i64)> =
            sqlx::query_as("SELECT instance, started_at, finished_at, total, done, failed FROM job_runs WHERE job = $1")
                .bind(job)
                .fetch_optional(pool)
                .await?;
        let providers: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT integration_id) FROM registry_polls").fetch_one(pool).await?;
        let hosts: Vec<(String, i64, i64, Option<String>, Option<DateTime<Utc>>, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT p.registry_host, COUNT(*), SUM(CASE WHEN p.failures > 0 THEN 1 ELSE 0 END), h.last_error, h.last_error_at, h.blocked_until
             FROM registry_polls p LEFT JOIN registry_hosts h ON h.host = p.registry_host
             GROUP BY p.registry_host, h.last_error, h.last_error_at, h.blocked_until
             ORDER BY SUM(CASE WHEN p.failures > 0 THEN 1 ELSE 0 END) DESC, p.registry_host",
        )
        .fetch_all(pool)
        .await?;
        let outcomes: Vec<(String, i64)> = sqlx::query_as(
            "SELECT COALESCE(last_outcome, 'not_yet'), COUNT(*) FROM registry_polls GROUP BY COALESCE(last_outcome, 'not_yet') ORDER BY 1",
        )
        .fetch_all(pool)
        .await?;
        let sweep = sweep.map(|(instance, started_at, finished_at, total, done, failed)| Sweep {
            instance,
            started_at,
            finished_at,
            total,
            done,
            failed,
        });
        let hosts = hosts
            .into_iter()
            .map(|(host, providers, failing, last_error, last_error_at, blocked_until)| HostStatus {
                host,
                providers,
                failing,
                last_error,
                last_error_at,
                blocked_until,
            })
            .collect();
        Ok((sweep, providers, hosts, outcomes))
    })
}

/// Every version any registry lists for a provider.
pub async fn listed_versions(db: &Db, integration_id: i64) -> Result<Vec<String>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_scalar::<_, String>("SELECT DISTINCT version FROM provider_versions WHERE integration_id = $1")
        .bind(integration_id)
        .fetch_all(pool)
        .await)
}

/// Records that `version`, released on GitHub, is on no registry: once per
/// version (the event's key), with its timeline entry. True when new.
pub async fn record_lag(
    db: &Db,
    integration_id: i64,
    github_host: &str,
    version: &str,
    detail: &str,
    now: DateTime<Utc>,
    audit: &Entry,
) -> Result<bool, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let added = sqlx::query(
            "INSERT INTO registry_events (integration_id, registry_host, kind, event_key, version, detail, occurred_at)
             VALUES ($1, $2, 'registry_lag', $3, $3, $4, $5)
             ON CONFLICT (integration_id, registry_host, kind, event_key) DO NOTHING",
        )
        .bind(integration_id)
        .bind(github_host)
        .bind(version)
        .bind(detail)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if added == 1 {
            record!(&mut *tx, audit, now)?;
        }
        tx.commit().await?;
        Ok(added == 1)
    })
}
