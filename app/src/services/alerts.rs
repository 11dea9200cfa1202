//! Email alerts: what each event sends to whom (the outbox rows are written
//! by the store in the event's own transaction), escalation of breaches
//! nobody acknowledged, each user's preferences, "my alerts", and the
//! admin outbox.

use crate::domain::access::{Action, Caller};
use crate::domain::alert::{AlertContent, AlertKind, Preferences, PreferencesInput};
use crate::domain::audit::{Entry, TargetKind};
use crate::domain::outbox::{AlertView, MailTransport, OutboxOverview, OutboxQuery, OutboxStatus};
use crate::domain::sla::Severity;
use crate::domain::Page;
use crate::error::AppError;
use crate::store::alerts::{self as store, Audience, NewAlert, OutboxFilter, OutboxRow, RecipientPreferences};
use crate::store::{decode_error, Db};
use chrono::{DateTime, Duration, Utc};

fn json(content: &AlertContent) -> serde_json::Value {
    // Plain strings and timestamps always serialise.
    serde_json::to_value(content).unwrap_or(serde_json::Value::Null)
}

/// An alert about `content`, to `audience`, keyed by subject and discriminator.
fn new_alert(
    content: AlertContent,
    subject_ref: String,
    discriminator: String,
    partner_id: Option<i64>,
    audience: Vec<(Audience, bool)>,
) -> NewAlert {
    NewAlert { kind: content.kind.key(), subject_ref, discriminator, partner_id, content: json(&content), audience }
}

/// What an SLA event sends: "due soon" to the partner's support contacts;
/// "breached" to them (mandatory: they cannot turn it off) and to the
/// alliance manager. `link` and `subject_ref` name issue 0 until the store
/// knows the issue's id.
#[allow(clippy::too_many_arguments)]
pub fn sla_alert(
    kind: &str,
    partner_id: i64,
    partner: &str,
    integration: &str,
    label: &str,
    title: &str,
    cycle: i64,
    deadline: DateTime<Utc>,
) -> Option<NewAlert> {
    let (alert_kind, audience, detail, next_step) = match kind {
        "due_soon" => (
            AlertKind::SlaDueSoon,
            vec![(Audience::SupportContacts(partner_id), false)],
            "This issue is close to its support SLA deadline.",
            "Resolve the issue, or tell the reporter where it stands, before the deadline.",
        ),
        "breached" => (
            AlertKind::SlaBreached,
            vec![(Audience::SupportContacts(partner_id), true), (Audience::AllianceManager(partner_id), false)],
            "This issue passed its support SLA deadline without being resolved.",
            "Acknowledge the breach on the issue's page and resolve the issue as soon as you can.",
        ),
        _ => return None,
    };
    let content = AlertContent {
        kind: alert_kind,
        subject: label.to_string(),
        title: title.to_string(),
        partner: Some(partner.to_string()),
        integration: Some(integration.to_string()),
        link: "/issues/0".into(),
        deadline: Some(deadline),
        detail: detail.into(),
        next_step: next_step.into(),
    };
    Some(new_alert(content, "issue:0".into(), format!("cycle{cycle}:{}", deadline.timestamp()), Some(partner_id), audience))
}

/// Fills in the issue an SLA alert is about, once its row exists.
pub fn for_issue(alert: &NewAlert, issue_id: i64) -> NewAlert {
    let mut alert = alert.clone();
    alert.subject_ref = format!("issue:{issue_id}");
    if let Some(o) = alert.content.as_object_mut() {
        o.insert("link".into(), serde_json::Value::String(format!("/issues/{issue_id}")));
    }
    alert
}

/// A partner reported a task: the alliance manager reviews it.
pub fn review_waiting(
    partner_id: i64,
    partner: &str,
    integration_id: i64,
    integration: &str,
    task_id: i64,
    task: &str,
    at: DateTime<Utc>,
) -> NewAlert {
    let content = AlertContent {
        kind: AlertKind::ReviewWaiting,
        subject: integration.to_string(),
        title: task.to_string(),
        partner: Some(partner.to_string()),
        integration: Some(integration.to_string()),
        link: format!("/integrations/{integration_id}#task-{task_id}"),
        deadline: None,
        detail: format!("{partner} reported \"{task}\" as done."),
        next_step: "Review the evidence, then accept the task or ask for changes.".into(),
    };
    new_alert(
        content,
        format!("task:{task_id}"),
        at.timestamp_micros().to_string(),
        Some(partner_id),
        vec![(Audience::AllianceManager(partner_id), false)],
    )
}

/// A reviewer accepted a task or asked for changes: the partner hears.
#[allow(clippy::too_many_arguments)]
pub fn review_decision(
    partner_id: i64,
    partner: &str,
    integration_id: i64,
    integration: &str,
    task_id: i64,
    task: &str,
    decision: &str,
    comment: Option<&str>,
    at: DateTime<Utc>,
) -> NewAlert {
    let content = AlertContent {
        kind: AlertKind::ReviewDecision,
        subject: integration.to_string(),
        title: task.to_string(),
        partner: Some(partner.to_string()),
        integration: Some(integration.to_string()),
        link: format!("/integrations/{integration_id}#task-{task_id}"),
        deadline: None,
        detail: match comment {
            Some(c) => format!("\"{task}\": {decision}. The reviewer wrote: {c}"),
            None => format!("\"{task}\": {decision}."),
        },
        next_step: "Open the task to see the decision and what comes next.".into(),
    };
    new_alert(
        content,
        format!("task:{task_id}"),
        at.timestamp_micros().to_string(),
        Some(partner_id),
        vec![(Audience::SupportContacts(partner_id), false)],
    )
}

/// The registry poller found a new version: the alliance manager hears.
pub fn version_published(partner_id: i64, partner: &str, integration_id: i64, integration: &str, version: &str, host: &str) -> NewAlert {
    let content = AlertContent {
        kind: AlertKind::VersionPublished,
        subject: integration.to_string(),
        title: format!("version {version}"),
        partner: Some(partner.to_string()),
        integration: Some(integration.to_string()),
        link: format!("/integrations/{integration_id}"),
        deadline: None,
        detail: format!("{integration} {version} was published on {host}."),
        next_step: "Check the release on the integration's page.".into(),
    };
    new_alert(
        content,
        format!("integration:{integration_id}"),
        format!("{host}:{version}"),
        Some(partner_id),
        vec![(Audience::AllianceManager(partner_id), false)],
    )
}

/// A user's stored preferences; a row that no longer parses counts as the defaults.
pub fn parse_preferences(row: &RecipientPreferences) -> Preferences {
    Preferences::from_stored(&row.time_zone, row.digest_hour, &row.choices)
}

/// Breaches the partner has not acknowledged within `after` go to the
/// alliance manager, and critical ones to the admins too; each once.
/// Returns how many breaches escalated.
pub async fn escalate(db: &Db, now: DateTime<Utc>, after: Duration) -> Result<u64, sqlx::Error> {
    let mut n = 0;
    for b in store::unacknowledged_breaches(db, now - after, 100).await? {
        let critical = b.severity == Severity::Critical.key();
        let label = match b.number {
            Some(num) => format!("{} #{num}", b.integration_name),
            None => b.integration_name.clone(),
        };
        let content = AlertContent {
            kind: AlertKind::SlaEscalated,
            subject: label,
            title: b.title.clone(),
            partner: Some(b.partner_name.clone()),
            integration: Some(b.integration_name.clone()),
            link: format!("/issues/{}", b.issue_id),
            deadline: Some(b.deadline),
            detail: format!(
                "This {} issue breached its support SLA and {} has not acknowledged it for {} hours.",
                if critical { "critical" } else { "normal" },
                b.partner_name,
                after.num_hours()
            ),
            next_step: "Contact the partner about the issue.".into(),
        };
        let mut audience = vec![(Audience::AllianceManager(b.partner_id), false)];
        if critical {
            audience.push((Audience::Admins, false));
        }
        let alert = new_alert(content, format!("issue:{}", b.issue_id), format!("cycle{}", b.cycle), Some(b.partner_id), audience);
        if store::escalate(db, b.event_id, &alert, now).await? {
            n += 1;
        }
    }
    Ok(n)
}

/// Registry polls and GitHub syncs failing for a day: the admins hear once per failing streak.
pub async fn failing_syncs(db: &Db, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let (registry, github) = store::failing_syncs(db, now - Duration::hours(24), 50).await?;
    let mut n = 0;
    for (is_registry, f) in registry.iter().map(|f| (true, f)).chain(github.iter().map(|f| (false, f))) {
        let (what, link) = if is_registry {
            (format!("Polling {} for {}", f.target, f.integration_name), format!("/integrations/{}", f.integration_id))
        } else {
            (
                format!("The GitHub sync of {} for {}", f.target, f.integration_name),
                format!("/integrations/{}#support-heading", f.integration_id),
            )
        };
        let content = AlertContent {
            kind: AlertKind::SyncFailing,
            subject: f.integration_name.clone(),
            title: if is_registry { format!("registry {}", f.target) } else { format!("GitHub {}", f.target) },
            partner: None,
            integration: Some(f.integration_name.clone()),
            link,
            deadline: None,
            detail: format!(
                "{what} has failed since {}: {}",
                f.failing_since.format("%Y-%m-%d %H:%M UTC"),
                f.last_error.as_deref().unwrap_or("no answer")
            ),
            next_step: "Check the host or repository and the tokens; the status pages show each failure.".into(),
        };
        let alert = new_alert(
            content,
            format!("{}:{}:{}", if is_registry { "registry" } else { "github" }, f.integration_id, f.target),
            f.failing_since.timestamp().to_string(),
            Some(f.partner_id),
            vec![(Audience::Admins, false)],
        );
        if store::alert_failing(db, is_registry, f, &alert, now).await? {
            n += 1;
        }
    }
    Ok(n)
}

/// The partner (or staff) acknowledges an issue's current breach, which stops its escalation.
pub async fn acknowledge(db: &Db, caller: &Caller, issue_id: i64, now: DateTime<Utc>) -> Result<(), AppError> {
    let issue = crate::services::support::get(db, caller, issue_id, now).await?;
    caller.check(Action::EditIntegration { partner: issue.partner_id }, || format!("issue {issue_id}"))?;
    let label = match issue.number {
        Some(n) => format!("{} #{n}", issue.integration_name),
        None => format!("{}: {}", issue.integration_name, issue.title),
    };
    let audit = Entry::by(caller, "issue.acknowledge", TargetKind::Issue, Some(issue_id), &label)
        .partner(issue.partner_id)
        .integration(issue.integration_id)
        .summary(format!("acknowledged the SLA breach of {label}"));
    match store::acknowledge(db, issue_id, issue.reopened, caller.user_id, &audit, now).await? {
        true => Ok(()),
        false => Err(AppError::conflict("issue", "this issue has no unacknowledged breach")),
    }
}

fn view(row: &OutboxRow) -> Result<AlertView, sqlx::Error> {
    let content: AlertContent = serde_json::from_str(&row.content).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(AlertView {
        id: row.id,
        kind: AlertKind::parse(&row.kind).ok_or_else(|| decode_error("alert kind", &row.kind))?,
        recipient: row.recipient.clone(),
        subject: content.subject,
        title: content.title,
        link: content.link,
        status: OutboxStatus::parse(&row.status).ok_or_else(|| decode_error("outbox status", &row.status))?,
        delivery: row.delivery.clone(),
        mandatory: row.mandatory,
        attempts: row.attempts,
        last_error: row.last_error.clone(),
        created_at: row.created_at,
        send_after: row.send_after,
        sent_at: row.sent_at,
    })
}

fn filter(query: &OutboxQuery, recipient: Option<String>) -> Result<OutboxFilter, AppError> {
    let status = super::filter_value("status", &query.status, |s| OutboxStatus::parse(s).is_some(), OutboxStatus::expected())?;
    let kind = super::filter_value("kind", &query.kind, |s| AlertKind::parse(s).is_some(), AlertKind::expected())?;
    Ok(OutboxFilter { recipient, status: Some(status), kind: Some(kind), page: crate::domain::paging(query.page, None).0, per_page: 50 })
}

async fn page(db: &Db, f: &OutboxFilter) -> Result<Page<AlertView>, AppError> {
    let (rows, total) = store::list(db, f).await?;
    let items = rows.iter().map(view).collect::<Result<Vec<_>, _>>()?;
    Ok(Page { items, total, page: f.page, per_page: f.per_page })
}

/// What was sent (or is waiting) for the caller, newest first.
pub async fn mine(db: &Db, caller: &Caller, query: &OutboxQuery) -> Result<Page<AlertView>, AppError> {
    let f = filter(query, Some(caller.email.trim().to_lowercase()))?;
    page(db, &f).await
}

/// The admin outbox: every row, with counts per status.
pub async fn outbox(db: &Db, caller: &Caller, query: &OutboxQuery, transport: MailTransport) -> Result<OutboxOverview, AppError> {
    caller.check(Action::Configure, || "outbox".into())?;
    let f = filter(query, None)?;
    let counts = store::counts(db).await?.into_iter().filter_map(|(s, n)| OutboxStatus::parse(&s).map(|s| (s, n))).collect();
    Ok(OutboxOverview { transport, counts, rows: page(db, &f).await? })
}

/// Puts a failed row back in the queue (admins).
pub async fn retry(db: &Db, caller: &Caller, id: i64, now: DateTime<Utc>) -> Result<(), AppError> {
    caller.check(Action::Configure, || format!("alert {id}"))?;
    let row = store::get(db, id).await?.ok_or_else(|| AppError::NotFound(format!("alert {id}")))?;
    let audit = Entry::by(caller, "alert.retry", TargetKind::Settings, Some(id), &format!("alert {id}"))
        .summary(format!("queued the failed {} alert to {} again", row.kind, row.recipient));
    if !store::retry(db, id, &audit, now).await? {
        return Err(AppError::conflict("status", format!("only failed alerts can be retried; this one is {}", row.status)));
    }
    Ok(())
}

/// Queues a test email to the caller (admins), to check the mail settings.
pub async fn send_test(db: &Db, caller: &Caller, now: DateTime<Utc>) -> Result<(), AppError> {
    caller.check(Action::Configure, || "outbox".into())?;
    let content = AlertContent {
        kind: AlertKind::Test,
        subject: "Integration Tracker".into(),
        title: "test email".into(),
        partner: None,
        integration: None,
        link: "/admin/outbox".into(),
        deadline: None,
        detail: format!("{} asked for this test email to check the mail settings.", caller.name),
        next_step: "Nothing: if you can read this, alerts reach you.".into(),
    };
    let alert = new_alert(
        content,
        format!("user:{}", caller.user_id),
        now.timestamp_micros().to_string(),
        None,
        vec![(Audience::Email(caller.email.clone()), true)],
    );
    store::enqueue_all(db, &[alert], now).await?;
    Ok(())
}

/// The caller's preferences (the defaults until saved).
pub async fn preferences(db: &Db, caller: &Caller) -> Result<Preferences, AppError> {
    Ok(match store::preferences(db, caller.user_id).await? {
        Some((time_zone, digest_hour, choices)) => {
            parse_preferences(&RecipientPreferences { email: caller.email.clone(), time_zone, digest_hour, choices })
        }
        None => Preferences::default(),
    })
}

pub async fn save_preferences(db: &Db, caller: &Caller, input: &PreferencesInput, now: DateTime<Utc>) -> Result<Preferences, AppError> {
    let p = input.validate().map_err(AppError::invalid)?;
    store::save_preferences(db, caller.user_id, p.time_zone.name(), i64::from(p.digest_hour), &p.choices_json(), now).await?;
    Ok(p)
}
