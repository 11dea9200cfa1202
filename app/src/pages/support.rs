//! Support issues and the SLA: the issue list with live countdowns
//! (`/issues`), one issue (`/issues/:id`), the support section of an
//! integration's page and the summary on a partner's, the staff overview
//! (`/sla`) and the admins' SLA settings and holidays (`/admin/sla`).

use crate::components::{href_with, successes, ErrorNotice, FieldHelp, Pager, TextField};
use crate::domain::access::Action as Do;
use crate::domain::sla::{ClockState, Severity};
use crate::domain::support::{
    countdown_text, Health, Holiday, IssueQuery, IssueView, PartnerHealth, SlaSettings, SlaSettingsInput, SyncStatus, SyncView,
};
use crate::domain::Page;
use crate::error::AppError;
use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[server(endpoint = "support/issues")]
pub async fn get_issues(
    #[server(default)] partner: Option<i64>,
    #[server(default)] integration: Option<i64>,
    query: IssueQuery,
) -> Result<Page<IssueView>, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::support::list(&db, &caller, partner, integration, &query, Utc::now()).await)
}

/// The name of the partner or integration an issue list is kept to.
#[server(endpoint = "support/issues-scope")]
pub async fn get_issues_scope(
    #[server(default)] partner: Option<i64>,
    #[server(default)] integration: Option<i64>,
) -> Result<Option<String>, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::support::scope_name(&db, &caller, partner, integration).await)
}

#[server(endpoint = "support/issue")]
pub async fn get_issue(id: i64) -> Result<IssueView, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::support::get(&db, &caller, id, Utc::now()).await)
}

#[server(endpoint = "support/create")]
pub async fn create_issue(
    integration_id: i64,
    #[server(default)] title: String,
    #[server(default)] severity: String,
    #[server(default)] opened_at: String,
    #[server(default)] resolved_at: String,
    #[server(default)] url: String,
) -> Result<i64, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let input = crate::domain::support::ManualIssueInput { title, severity, opened_at, resolved_at, url };
    let issue = crate::context::form_result(crate::services::support::create(&db, &caller, integration_id, &input, Utc::now()).await)?;
    leptos_axum::redirect(&format!("/issues/{}?recorded=1", issue.id));
    Ok(issue.id)
}

#[server(endpoint = "support/resolve")]
pub async fn resolve_issue(id: i64, #[server(default)] resolved_at: String) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::form_result(crate::services::support::resolve(&db, &caller, id, Some(&resolved_at), Utc::now()).await)?;
    leptos_axum::redirect(&format!("/issues/{id}"));
    Ok(())
}

#[server(endpoint = "support/reopen")]
pub async fn reopen_issue(id: i64) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::form_result(crate::services::support::reopen(&db, &caller, id, Utc::now()).await)?;
    leptos_axum::redirect(&format!("/issues/{id}"));
    Ok(())
}

#[server(endpoint = "support/severity")]
pub async fn set_severity(id: i64, severity: String) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::form_result(crate::services::support::override_severity(&db, &caller, id, &severity, Utc::now()).await)?;
    leptos_axum::redirect(&format!("/issues/{id}"));
    Ok(())
}

#[server(endpoint = "support/health")]
pub async fn get_health(#[server(default)] partner: Option<i64>, #[server(default)] integration: Option<i64>) -> Result<Health, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::support::health(&db, &caller, partner, integration, Utc::now()).await)
}

#[server(endpoint = "support/sync")]
pub async fn get_sync(integration: i64) -> Result<Option<SyncView>, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::support::sync_state(&db, &caller, integration).await)
}

#[server(endpoint = "support/sync-now")]
pub async fn sync_now(integration: i64) -> Result<u64, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let n = crate::context::form_result(crate::services::support::sync_now(&db, &caller, integration, Utc::now()).await)?;
    leptos_axum::redirect(&format!("/integrations/{integration}?synced=1#support-heading"));
    Ok(n)
}

/// An integration's own critical labels and the labels in force.
#[server(endpoint = "support/labels-of")]
pub async fn get_labels(integration: i64) -> Result<(Vec<String>, Vec<String>), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::support::critical_labels(&db, &caller, integration).await)
}

#[server(endpoint = "support/labels")]
pub async fn save_labels(integration: i64, #[server(default)] labels: String) -> Result<Vec<String>, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let saved =
        crate::context::form_result(crate::services::support::set_critical_labels(&db, &caller, integration, &labels, Utc::now()).await)?;
    leptos_axum::redirect(&format!("/integrations/{integration}#support-heading"));
    Ok(saved)
}

#[server(endpoint = "support/overview")]
pub async fn get_overview() -> Result<Vec<PartnerHealth>, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::support::overview(&db, &caller, Utc::now()).await)
}

#[server(endpoint = "support/settings")]
pub async fn get_sla_settings() -> Result<(SlaSettings, Vec<Holiday>), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::support::settings(&db, &caller).await)
}

#[server(endpoint = "support/save-settings")]
pub async fn save_sla_settings(
    #[server(default)] time_zone: String,
    #[server(default)] critical_warn_hours: String,
    #[server(default)] normal_warn_hours: String,
    #[server(default)] critical_labels: String,
    #[server(default)] pause_labels: String,
    #[server(default)] window_days: String,
) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let input = SlaSettingsInput { time_zone, critical_warn_hours, normal_warn_hours, critical_labels, pause_labels, window_days };
    crate::context::form_result(crate::services::support::save_settings(&db, &caller, &input, Utc::now()).await)?;
    leptos_axum::redirect("/admin/sla?saved=1");
    Ok(())
}

#[server(endpoint = "support/add-holiday")]
pub async fn add_holiday(#[server(default)] day: String, #[server(default)] name: String) -> Result<u64, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let n = crate::context::form_result(crate::services::support::add_holiday(&db, &caller, &day, &name, Utc::now()).await)?;
    leptos_axum::redirect("/admin/sla#holidays-heading");
    Ok(n)
}

#[server(endpoint = "support/import-holidays")]
pub async fn import_holidays(#[server(default)] ics: String) -> Result<u64, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let n = crate::context::form_result(crate::services::support::import_holidays(&db, &caller, &ics, Utc::now()).await)?;
    leptos_axum::redirect(&format!("/admin/sla?imported={n}#holidays-heading"));
    Ok(n)
}

#[server(endpoint = "support/remove-holiday")]
pub async fn remove_holiday(day: String) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::form_result(crate::services::support::remove_holiday(&db, &caller, &day, Utc::now()).await)?;
    leptos_axum::redirect("/admin/sla#holidays-heading");
    Ok(())
}

#[server(endpoint = "support/sync-status")]
pub async fn get_sync_status() -> Result<SyncStatus, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::support::sync_status(&db, &caller, Utc::now()).await)
}

fn when(at: Option<DateTime<Utc>>) -> String {
    at.map(crate::pages::pipeline::when).unwrap_or_else(|| "—".into())
}

fn hours(seconds: i64) -> String {
    let h = seconds.abs() as f64 / 3600.0;
    if h < 1.0 {
        format!("{} min", seconds.abs() / 60)
    } else {
        format!("{h:.1} h")
    }
}

/// The time to a deadline, counting down once the page is live. It starts
/// from the server's `as_of`, so the first render is the same on both sides.
#[component]
pub fn Countdown(due_at: DateTime<Utc>, as_of: DateTime<Utc>) -> impl IntoView {
    let now = RwSignal::new(as_of);
    Effect::new(move |_| {
        now.set(Utc::now());
        if let Ok(handle) = set_interval_with_handle(move || now.set(Utc::now()), std::time::Duration::from_secs(30)) {
            on_cleanup(move || handle.clear());
        }
    });
    let overdue = move || now.get() >= due_at;
    view! {
        <time class="countdown" class:overdue=overdue datetime=due_at.to_rfc3339() title=format!("due {}", crate::pages::pipeline::when(due_at))>
            {move || countdown_text(due_at - now.get())}
        </time>
    }
}

#[component]
pub fn StateBadge(state: ClockState, #[prop(optional)] paused: bool) -> impl IntoView {
    view! {
        <span class=format!("badge clock clock-{}", state.key()) data-testid="clock-state">{state.label()}</span>
        {paused.then(|| view! { " " <span class="badge clock-paused">"paused"</span> })}
    }
}

#[component]
fn SeverityBadge(severity: Severity, #[prop(optional)] overridden: bool) -> impl IntoView {
    let title = overridden.then_some("set by a reviewer");
    view! { <span class=format!("badge severity-{}", severity.key()) title=title>{severity.key()}{overridden.then_some(" *")}</span> }
}

/// The deadline cell: countdown while open, the outcome once resolved.
#[component]
fn DueCell(issue: IssueView) -> impl IntoView {
    match issue.resolved_at {
        Some(at) => view! { <span>{format!("resolved {}", crate::pages::pipeline::when(at))}</span> }.into_any(),
        None if issue.paused => view! { <span class="muted">{format!("paused, {} left", hours(issue.left_seconds))}</span> }.into_any(),
        None => view! { <Countdown due_at=issue.due_at as_of=issue.as_of/> }.into_any(),
    }
}

#[component]
pub(crate) fn IssueTable(
    issues: Vec<IssueView>,
    #[prop(optional)] show_partner: bool,
    #[prop(optional)] show_integration: bool,
) -> impl IntoView {
    view! {
        <table class="issues">
            <thead>
                <tr>
                    <th scope="col">"Issue"</th>
                    {show_integration.then(|| view! { <th scope="col">"Integration"</th> })}
                    {show_partner.then(|| view! { <th scope="col">"Partner"</th> })}
                    <th scope="col">"Severity"</th>
                    <th scope="col">"Opened"</th>
                    <th scope="col">"Due"</th>
                    <th scope="col">"State"</th>
                </tr>
            </thead>
            <tbody>
                {issues.into_iter().map(|i| {
                    let title = match i.number { Some(n) => format!("#{n} {}", i.title), None => i.title.clone() };
                    view! {
                        <tr class=format!("issue-row clock-{}", i.state.key())>
                            <th scope="row"><a href=format!("/issues/{}", i.id)>{title}</a>{i.gone.then(|| view! { " " <span class="muted">"(gone from GitHub)"</span> })}</th>
                            {show_integration.then(|| view! { <td><a href=format!("/integrations/{}", i.integration_id)>{i.integration_name.clone()}</a></td> })}
                            {show_partner.then(|| view! { <td><a href=format!("/partners/{}", i.partner_slug)>{i.partner_name.clone()}</a></td> })}
                            <td><SeverityBadge severity=i.severity overridden=i.severity_overridden/></td>
                            <td>{crate::pages::pipeline::when(i.opened_at)}</td>
                            <td><DueCell issue=i.clone()/></td>
                            <td><StateBadge state=i.state paused=i.paused/></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

pub(crate) fn percent(p: Option<f64>) -> String {
    p.map(|p| format!("{p:.0} %")).unwrap_or_else(|| "—".into())
}

/// One line of support health: compliance, breaches, what is open.
#[component]
pub fn HealthSummary(health: Health) -> impl IntoView {
    let c = &health.compliance;
    let median = c.median_seconds.map(hours).unwrap_or_else(|| "—".into());
    let p90 = c.p90_seconds.map(hours).unwrap_or_else(|| "—".into());
    view! {
        <dl class="health" data-testid="support-health">
            <div><dt>"Within SLA"</dt><dd>{percent(c.percent)}<span class="muted">{format!(" ({} of {} resolved, last {} days)", c.within_sla, c.resolved, health.window_days)}</span></dd></div>
            <div><dt>"Open breaches"</dt><dd class=(c.open_breaches > 0).then_some("bad")>{c.open_breaches}</dd></div>
            <div><dt>"Open"</dt><dd>{health.open}{(health.due_soon > 0).then(|| format!(" ({} due soon)", health.due_soon))}</dd></div>
            <div><dt>"Time to resolve"</dt><dd>{format!("median {median}, 90th percentile {p90}")}</dd></div>
        </dl>
    }
}

/// The support section of an integration's page.
#[component]
pub fn SupportSection(integration_id: i64, partner_id: i64) -> impl IntoView {
    let create = ServerAction::<CreateIssue>::new();
    let sync = ServerAction::<SyncNow>::new();
    let labels = ServerAction::<SaveLabels>::new();
    let labels_saved = successes(labels);
    let current_labels = Resource::new(move || labels_saved.get(), move |_| get_labels(integration_id));
    let health = Resource::new(|| (), move |_| get_health(None, Some(integration_id)));
    let query = IssueQuery { state: "open".into(), per_page: Some(10), ..IssueQuery::default() };
    let issues = Resource::new(|| (), move |_| get_issues(None, Some(integration_id), query.clone()));
    let sync_state = Resource::new(move || sync.version().get(), move |_| get_sync(integration_id));
    let error = Signal::derive(move || create.value().get().and_then(Result::err));
    let field = move |name: &'static str| Signal::derive(move || error.get().and_then(|e| e.field(name)));
    let q = use_query_map();
    let synced = move || sync.value().get().is_some_and(|r| r.is_ok()) || q.read().get("synced").is_some();
    view! {
        <section class="support" aria-labelledby="support-heading">
            <header class="section-head">
                <h2 id="support-heading">"Support"</h2>
                <a href=format!("/issues?integration={integration_id}")>"All issues"</a>
            </header>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match health.await {
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                        Ok(h) => view! { <HealthSummary health=h/> }.into_any(),
                    }
                })}
            </Suspense>
            <h3>"Open issues"</h3>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match issues.await {
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                        Ok(p) if p.items.is_empty() => view! { <p class="empty">"No open issues."</p> }.into_any(),
                        Ok(p) => view! {
                            <IssueTable issues=p.items.clone()/>
                            {(p.total > p.items.len() as i64).then(|| view! { <p><a href=format!("/issues?integration={integration_id}&state=open")>{format!("All {} open issues", p.total)}</a></p> })}
                        }.into_any(),
                    }
                })}
            </Suspense>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match sync_state.await {
                        Ok(Some(s)) => view! { <SyncLine sync=s integration_id=integration_id partner_id=partner_id action=sync/> }.into_any(),
                        Ok(None) => view! { <p class="muted">"Issues are recorded by hand: the repository is not on the GitHub this tracker syncs with."</p> }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    }
                })}
            </Transition>
            {move || synced().then(|| view! { <p class="notice" role="status">"Queued: the sync looks at this repository within a minute."</p> })}
            {move || sync.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
            <crate::components::Allowed action=Do::EditIntegration { partner: partner_id }>
                <details class="report-form">
                    <summary>"Record an issue by hand…"</summary>
                    <ActionForm action=create attr:class="form">
                        <input type="hidden" name="integration_id" value=integration_id.to_string()/>
                        {move || error.get().filter(|e| e.fields().is_none()).map(|e| view! { <ErrorNotice error=e/> })}
                        <TextField label="Title" name="title" required=true error=field("title")/>
                        <div class="field">
                            <label for="f-severity">"Severity"</label>
                            <select id="f-severity" name="severity">
                                <option value="normal">"normal (5 business days)"</option>
                                <option value="critical">"critical (48 hours)"</option>
                            </select>
                            <FieldHelp id="f-severity".into() hint=None error=field("severity")/>
                        </div>
                        <TextField label="Opened" name="opened_at" input_type="datetime-local" required=true
                            hint="In the program's time zone." error=field("opened_at")/>
                        <TextField label="Resolved" name="resolved_at" input_type="datetime-local"
                            hint="Leave empty while the issue is open." error=field("resolved_at")/>
                        <TextField label="Link" name="url" input_type="url" placeholder="https://…" hint="Where the issue lives (optional)." error=field("url")/>
                        <button type="submit" class="primary">"Record issue"</button>
                    </ActionForm>
                </details>
            </crate::components::Allowed>
            <crate::components::Allowed action=Do::Review { partner: partner_id }>
                <details class="report-form">
                    <summary>"Critical labels of this integration…"</summary>
                    <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                        {move || Suspend::new(async move {
                            let (own, in_force) = current_labels.await.unwrap_or_default();
                            let using_default = own.is_empty();
                            view! {
                                <ActionForm action=labels attr:class="form">
                                    <input type="hidden" name="integration" value=integration_id.to_string()/>
                                    <div class="field">
                                        <label for="f-labels">"Labels that make an issue critical"</label>
                                        <textarea id="f-labels" name="labels" rows="3" aria-describedby="f-labels-hint">{own.join("\n")}</textarea>
                                        <p class="hint" id="f-labels-hint">
                                            "One per line. Empty: the program's default set (Admin → SLA). "
                                            {format!("In force{}: {}.", if using_default { " (the default)" } else { "" }, in_force.join(", "))}
                                        </p>
                                    </div>
                                    <button type="submit">"Save labels"</button>
                                </ActionForm>
                            }
                        })}
                    </Suspense>
                    {move || labels.value().get().map(|r| match r {
                        Ok(l) => view! { <p class="notice" role="status">{format!("Critical labels: {}", l.join(", "))}</p> }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    })}
                </details>
            </crate::components::Allowed>
        </section>
    }
}

#[component]
fn SyncLine(sync: SyncView, integration_id: i64, partner_id: i64, action: ServerAction<SyncNow>) -> impl IntoView {
    let s = sync;
    let result = match (s.last_outcome.as_deref(), &s.last_error) {
        (None, _) => "not synced yet".to_string(),
        (Some(_), Some(e)) => format!("failed: {e}"),
        (Some("not_modified"), None) => "unchanged".into(),
        (Some(_), None) => "synced".into(),
    };
    let licence = match (&s.licence, s.licence_checked_at) {
        (_, None) => "licence not checked yet".to_string(),
        (Some(l), Some(_)) => format!("licence {l}"),
        (None, Some(_)) => "no licence file".to_string(),
    };
    view! {
        <p class="sync-line" data-testid="github-sync">
            {format!("GitHub {}: last sync {} ({result}); next {}; {licence}.", s.repository, when(s.last_synced_at), when(Some(s.next_sync_at)))}
        </p>
        <crate::components::Allowed action=Do::Review { partner: partner_id }>
            <ActionForm action=action attr:class="inline">
                <input type="hidden" name="integration" value=integration_id.to_string()/>
                <button type="submit">"Sync now"</button>
            </ActionForm>
        </crate::components::Allowed>
    }
}

/// A partner's support health on the partner page.
#[component]
pub fn PartnerSupport(partner_id: i64) -> impl IntoView {
    let health = Resource::new(|| (), move |_| get_health(Some(partner_id), None));
    view! {
        <section class="support" aria-labelledby="support-heading">
            <header class="section-head">
                <h2 id="support-heading">"Support health"</h2>
                <a href=format!("/issues?partner={partner_id}")>"Issues"</a>
            </header>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match health.await {
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                        Ok(h) => view! { <HealthSummary health=h/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

fn opt_id(v: Option<String>) -> Option<i64> {
    v.and_then(|s| s.parse().ok())
}

/// `/issues`: issues the caller may see, most urgent first, filterable.
#[component]
pub fn IssuesPage() -> impl IntoView {
    let q = use_query_map();
    let args = move || {
        let q = q.read();
        let get = |k: &str| q.get(k).unwrap_or_default();
        let query = IssueQuery {
            state: get("state"),
            severity: get("severity"),
            q: get("q"),
            due_within: get("due_within"),
            sort: get("sort"),
            page: get("page").parse().ok(),
            per_page: None,
        };
        (opt_id(q.get("partner")), opt_id(q.get("integration")), query)
    };
    let issues = Resource::new(args, |(p, i, query)| get_issues(p, i, query));
    let scope = Resource::new(move || (args().0, args().1), |(p, i)| get_issues_scope(p, i));
    // The list without its scope, keeping the other filters.
    let widen = move || {
        let (_, _, query) = args();
        href_with(
            "/issues",
            &[("state", query.state), ("severity", query.severity), ("q", query.q), ("due_within", query.due_within), ("sort", query.sort)],
        )
    };
    view! {
        <Title text="Issues · Integration Tracker"/>
        <h1>"Support issues"</h1>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                scope.await.ok().flatten().map(|name| view! {
                    <p class="scope" data-testid="issues-scope">"Issues of " <strong>{name}</strong> " · " <a href=widen()>"show all issues"</a></p>
                })
            })}
        </Suspense>
        <form method="get" class="filters" role="search">
            {move || { let (p, i, _) = args(); view! {
                {p.map(|p| view! { <input type="hidden" name="partner" value=p.to_string()/> })}
                {i.map(|i| view! { <input type="hidden" name="integration" value=i.to_string()/> })}
            }}}
            <label>"Search " <input type="search" name="q" value=move || args().2.q/></label>
            <label>"State "
                <select name="state">
                    {move || { let cur = args().2.state; [("", "any"), ("open", "open"), ("breached", "breached"), ("due_soon", "due soon"), ("on_track", "on track"), ("met", "met"), ("missed", "missed")]
                        .into_iter().map(|(v, l)| view! { <option value=v selected=cur == v>{l}</option> }).collect_view() }}
                </select>
            </label>
            <label>"Severity "
                <select name="severity">
                    {move || { let cur = args().2.severity; [("", "any"), ("critical", "critical"), ("normal", "normal")]
                        .into_iter().map(|(v, l)| view! { <option value=v selected=cur == v>{l}</option> }).collect_view() }}
                </select>
            </label>
            <label>"Due within "
                <select name="due_within">
                    {move || {
                        let cur = args().2.due_within;
                        let mut choices: Vec<(String, String)> = [("", "any time"), ("24", "24 hours"), ("168", "7 days")]
                            .into_iter().map(|(v, l)| (v.to_string(), l.to_string())).collect();
                        // A link may ask for another window: it stays chosen.
                        if !choices.iter().any(|(v, _)| *v == cur) {
                            choices.push((cur.clone(), format!("{cur} hours")));
                        }
                        choices.into_iter().map(|(v, l)| { let selected = cur == v; view! { <option value=v selected=selected>{l}</option> } }).collect_view()
                    }}
                </select>
            </label>
            <label>"Sort "
                <select name="sort">
                    {move || { let cur = args().2.sort; [("urgency", "most urgent first"), ("opened", "newest first")]
                        .into_iter().map(|(v, l)| view! { <option value=v selected=cur == v>{l}</option> }).collect_view() }}
                </select>
            </label>
            <button type="submit">"Filter"</button>
        </form>
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let (partner, integration, query) = args();
                match issues.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(p) if p.items.is_empty() => {
                        let filtered = !(query.state.is_empty() && query.severity.is_empty() && query.q.is_empty() && query.due_within.is_empty());
                        let mut scope = Vec::new();
                        if let Some(p) = partner { scope.push(("partner", p.to_string())); }
                        if let Some(i) = integration { scope.push(("integration", i.to_string())); }
                        view! {
                            <p class="empty">"No issues match."
                                {filtered.then(|| view! { " " <a href=href_with("/issues", &scope)>"Clear the filters"</a> })}
                            </p>
                        }.into_any()
                    }
                    Ok(p) => {
                        let mut params = vec![("state", query.state.clone()), ("severity", query.severity.clone()), ("q", query.q.clone()),
                            ("due_within", query.due_within.clone()), ("sort", query.sort.clone())];
                        if let Some(p) = partner { params.push(("partner", p.to_string())); }
                        if let Some(i) = integration { params.push(("integration", i.to_string())); }
                        let pages = p.pages();
                        view! {
                            <IssueTable issues=p.items.clone() show_partner=partner.is_none() show_integration=integration.is_none()/>
                            <Pager path="/issues" params=params page=p.page pages=pages total=p.total/>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

/// `/issues/:id`: one issue, its clock, and what may be done to it.
#[component]
pub fn IssuePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let resolve = ServerAction::<ResolveIssue>::new();
    let reopen = ServerAction::<ReopenIssue>::new();
    let severity = ServerAction::<SetSeverity>::new();
    let (resolved, reopened, overridden) = (successes(resolve), successes(reopen), successes(severity));
    let q = use_query_map();
    // An acknowledgement answers with a redirect to `?acknowledged=1`: read the issue again then.
    let acknowledged = move || q.read().get("acknowledged").is_some();
    let issue = Resource::new(move || (id(), resolved.get(), reopened.get(), overridden.get(), acknowledged()), |(id, ..)| get_issue(id));
    let action_error = move || {
        resolve
            .value()
            .get()
            .and_then(Result::err)
            .or_else(|| reopen.value().get().and_then(Result::err))
            .or_else(|| severity.value().get().and_then(Result::err))
    };
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match issue.await {
                    Err(e) => view! { <Title text="Issue · Integration Tracker"/><h1>"Issue"</h1><ErrorNotice error=e/> }.into_any(),
                    Ok(i) => {
                        let heading = match i.number { Some(n) => format!("#{n} {}", i.title), None => i.title.clone() };
                        let target = match i.severity { Severity::Critical => "48 clock hours", Severity::Normal => "5 business days" };
                        let partner_id = i.partner_id;
                        let manual = i.source == crate::domain::support::IssueSource::Manual;
                        let resolved = i.resolved_at.is_some();
                        view! {
                            <Title text=format!("{heading} · Integration Tracker")/>
                            <p class="crumbs"><a href=format!("/partners/{}", i.partner_slug)>{i.partner_name.clone()}</a>" › "<a href=format!("/integrations/{}", i.integration_id)>{i.integration_name.clone()}</a></p>
                            <h1>{heading}</h1>
                            {q.read().get("recorded").map(|_| view! { <p class="notice" role="status">"Issue recorded."</p> })}
                            {move || action_error().map(|e| view! { <ErrorNotice error=e/> })}
                            <dl class="details">
                                <dt>"State"</dt><dd><StateBadge state=i.state paused=i.paused/></dd>
                                <dt>"Severity"</dt><dd><SeverityBadge severity=i.severity overridden=i.severity_overridden/>{format!(" — resolve within {target}")}</dd>
                                <dt>"Opened"</dt><dd>{crate::pages::pipeline::when(i.opened_at)}{(i.reopened > 0).then(|| format!(" (reopened {} time{})", i.reopened, if i.reopened == 1 { "" } else { "s" }))}</dd>
                                <dt>"Due"</dt><dd>{crate::pages::pipeline::when(i.due_at)}" "{(!resolved).then(|| view! { "(" <Countdown due_at=i.due_at as_of=i.as_of/> ")" })}</dd>
                                <dt>"Warning from"</dt><dd>{crate::pages::pipeline::when(i.warn_at)}</dd>
                                <dt>"Time used"</dt><dd>{format!("{} of the target ({} left{})", hours(i.used_seconds), hours(i.left_seconds.max(0)), if i.severity == Severity::Normal { ", business time" } else { "" })}</dd>
                                <dt>"Resolved"</dt><dd>{when(i.resolved_at)}</dd>
                                <dt>"Labels"</dt><dd>{if i.labels.is_empty() { "—".to_string() } else { i.labels.join(", ") }}</dd>
                                <dt>"Source"</dt><dd>{match (&i.url, manual) {
                                    (Some(u), false) => view! { <a href=u.clone() rel="noopener noreferrer">"GitHub"</a> }.into_any(),
                                    (Some(u), true) => view! { "recorded by hand · " <a href=u.clone() rel="noopener noreferrer">"link"</a> }.into_any(),
                                    (None, _) => view! { "recorded by hand" }.into_any(),
                                }}</dd>
                            </dl>
                            {(i.state == ClockState::Breached).then(|| view! {
                                <crate::components::Allowed action=Do::EditIntegration { partner: partner_id }>
                                    <crate::pages::alerts::BreachAcknowledgement issue=i.id acknowledged=i.acknowledged_at/>
                                </crate::components::Allowed>
                            })}
                            {q.read().get("acknowledged").map(|_| view! { <p class="notice" role="status">"Breach acknowledged."</p> })}
                            {manual.then(|| view! {
                                <crate::components::Allowed action=Do::EditIntegration { partner: partner_id }>
                                    {if resolved {
                                        view! {
                                            <ActionForm action=reopen attr:class="inline">
                                                <input type="hidden" name="id" value=i.id.to_string()/>
                                                <button type="submit">"Reopen"</button>
                                            </ActionForm>
                                        }.into_any()
                                    } else {
                                        view! {
                                            <ActionForm action=resolve attr:class="form inline">
                                                <input type="hidden" name="id" value=i.id.to_string()/>
                                                <label for="f-resolved_at">"Resolved at "</label>
                                                <input id="f-resolved_at" type="datetime-local" name="resolved_at" aria-describedby="f-resolved-hint"/>
                                                <span class="hint" id="f-resolved-hint">" empty: now"</span>
                                                <button type="submit" class="primary">"Mark resolved"</button>
                                            </ActionForm>
                                        }.into_any()
                                    }}
                                </crate::components::Allowed>
                            })}
                            <crate::components::Allowed action=Do::Review { partner: partner_id }>
                                <ActionForm action=severity attr:class="form inline">
                                    <input type="hidden" name="id" value=i.id.to_string()/>
                                    <label for="f-override">"Severity override "</label>
                                    <select id="f-override" name="severity">
                                        <option value="labels" selected=!i.severity_overridden>"follow the labels"</option>
                                        <option value="critical" selected=i.severity_overridden && i.severity == Severity::Critical>"critical"</option>
                                        <option value="normal" selected=i.severity_overridden && i.severity == Severity::Normal>"normal"</option>
                                    </select>
                                    <button type="submit">"Set severity"</button>
                                </ActionForm>
                            </crate::components::Allowed>
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// `/sla`: every partner's support health, worst first, with what is
/// breached and what is due soon (staff).
#[component]
pub fn SlaOverviewPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| get_overview());
    let breached = Resource::new(
        || (),
        |_| get_issues(None, None, IssueQuery { state: "breached".into(), per_page: Some(50), ..IssueQuery::default() }),
    );
    let due_soon = Resource::new(
        || (),
        |_| get_issues(None, None, IssueQuery { state: "due_soon".into(), per_page: Some(50), ..IssueQuery::default() }),
    );
    let list = move |r: Resource<Result<Page<IssueView>, AppError>>, empty: &'static str| {
        view! {
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match r.await {
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                        Ok(p) if p.items.is_empty() => view! { <p class="empty">{empty}</p> }.into_any(),
                        Ok(p) => view! { <IssueTable issues=p.items show_partner=true show_integration=true/> }.into_any(),
                    }
                })}
            </Suspense>
        }
    };
    view! {
        <Title text="SLA overview · Integration Tracker"/>
        <h1>"Support SLA"</h1>
        <h2>"Breached, still open"</h2>
        {list(breached, "No open breaches.")}
        <h2>"Due soon"</h2>
        {list(due_soon, "Nothing is due soon.")}
        <h2>"Partners by compliance"</h2>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match overview.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(rows) if rows.is_empty() => view! { <p class="empty">"No partners yet."</p> }.into_any(),
                    Ok(rows) => view! {
                        <table class="compliance">
                            <thead><tr><th scope="col">"Partner"</th><th scope="col">"Within SLA"</th><th scope="col">"Resolved"</th><th scope="col">"Open breaches"</th><th scope="col">"Open"</th><th scope="col">"Median time to resolve"</th></tr></thead>
                            <tbody>
                                {rows.into_iter().map(|r| {
                                    let c = r.health.compliance.clone();
                                    view! {
                                        <tr>
                                            <th scope="row"><a href=format!("/partners/{}", r.slug)>{r.name}</a></th>
                                            <td>{percent(c.percent)}</td>
                                            <td>{c.resolved}</td>
                                            <td class=(c.open_breaches > 0).then_some("bad")>{c.open_breaches}</td>
                                            <td><a href=format!("/issues?partner={}&state=open", r.partner_id)>{r.health.open}</a></td>
                                            <td>{c.median_seconds.map(hours).unwrap_or_else(|| "—".into())}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// `/admin/sla`: the program's time zone, warnings, labels and holidays.
#[component]
pub fn SlaSettingsPage() -> impl IntoView {
    let save = ServerAction::<SaveSlaSettings>::new();
    let add = ServerAction::<AddHoliday>::new();
    let import = ServerAction::<ImportHolidays>::new();
    let remove = ServerAction::<RemoveHoliday>::new();
    let (saved, added, imported, removed) = (successes(save), successes(add), successes(import), successes(remove));
    let settings = Resource::new(move || (saved.get(), added.get(), imported.get(), removed.get()), |_| get_sla_settings());
    let status = Resource::new(|| (), |_| get_sync_status());
    let error = Signal::derive(move || save.value().get().and_then(Result::err));
    let field = move |name: &'static str| Signal::derive(move || error.get().and_then(|e| e.field(name)));
    let add_error = Signal::derive(move || add.value().get().and_then(Result::err));
    let add_field = move |name: &'static str| Signal::derive(move || add_error.get().and_then(|e| e.field(name)));
    let import_error = Signal::derive(move || import.value().get().and_then(Result::err));
    let q = use_query_map();
    view! {
        <Title text="SLA settings · Integration Tracker"/>
        <h1>"SLA settings"</h1>
        {move || q.read().get("saved").map(|_| view! { <p class="notice" role="status">"Saved. Every issue's clock was recomputed."</p> })}
        {move || q.read().get("imported").map(|n| view! { <p class="notice" role="status">{format!("Imported {n} new holidays.")}</p> })}
        {move || error.get().filter(|e| e.fields().is_none()).map(|e| view! { <ErrorNotice error=e/> })}
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok((s, holidays)) => {
                        let input = SlaSettingsInput::from(&s);
                        view! {
                            <ActionForm action=save attr:class="form">
                                <TextField label="Time zone" name="time_zone" value=input.time_zone.clone() required=true
                                    hint="IANA name, e.g. UTC, Europe/Berlin, America/New_York. Business days run Monday to Friday in this zone." error=field("time_zone")/>
                                <TextField label="Warn before a critical deadline (hours)" name="critical_warn_hours" input_type="number" value=input.critical_warn_hours.clone() error=field("critical_warn_hours")/>
                                <TextField label="Warn before other deadlines (business hours)" name="normal_warn_hours" input_type="number" value=input.normal_warn_hours.clone() error=field("normal_warn_hours")/>
                                <div class="field" class:invalid=move || field("critical_labels").get().is_some()>
                                    <label for="f-critical_labels">"Critical labels (default set)"</label>
                                    <textarea id="f-critical_labels" name="critical_labels" rows="3" aria-describedby="f-critical_labels-hint f-critical_labels-error">{input.critical_labels.clone()}</textarea>
                                    <FieldHelp id="f-critical_labels".into() hint=Some("One per line; an integration may set its own.".into()) error=field("critical_labels")/>
                                </div>
                                <div class="field" class:invalid=move || field("pause_labels").get().is_some()>
                                    <label for="f-pause_labels">"Labels that pause the clock"</label>
                                    <textarea id="f-pause_labels" name="pause_labels" rows="2" aria-describedby="f-pause_labels-hint f-pause_labels-error">{input.pause_labels.clone()}</textarea>
                                    <FieldHelp id="f-pause_labels".into() hint=Some("E.g. waiting-on-reporter. Empty (the default): the clock runs from open to resolve.".into()) error=field("pause_labels")/>
                                </div>
                                <TextField label="Compliance window (days)" name="window_days" input_type="number" value=input.window_days.clone() error=field("window_days")/>
                                <button type="submit" class="primary">"Save settings"</button>
                            </ActionForm>
                            <h2 id="holidays-heading">"Holidays"</h2>
                            {if holidays.is_empty() {
                                view! { <p class="empty">"No holidays: every Monday to Friday is a business day."</p> }.into_any()
                            } else {
                                view! {
                                    <table class="holidays">
                                        <thead><tr><th scope="col">"Date"</th><th scope="col">"Name"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                                        <tbody>
                                            {holidays.into_iter().map(|h| view! {
                                                <tr>
                                                    <th scope="row">{h.day.format("%a %Y-%m-%d").to_string()}</th>
                                                    <td>{h.name.clone()}</td>
                                                    <td>
                                                        <ActionForm action=remove attr:class="inline">
                                                            <input type="hidden" name="day" value=h.day.to_string()/>
                                                            <button type="submit" aria-label=format!("Remove {} ({})", h.name, h.day)>"Remove"</button>
                                                        </ActionForm>
                                                    </td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                }.into_any()
                            }}
                        }.into_any()
                    }
                }
            })}
        </Suspense>
        <h3>"Add a holiday"</h3>
        {move || add_error.get().filter(|e| e.fields().is_none()).map(|e| view! { <ErrorNotice error=e/> })}
        <ActionForm action=add attr:class="form">
            <TextField label="Date" name="day" input_type="date" required=true error=add_field("day")/>
            <TextField label="Name" name="name" required=true placeholder="Christmas Day" error=add_field("name")/>
            <button type="submit">"Add holiday"</button>
        </ActionForm>
        <h3>"Import from an iCalendar file"</h3>
        <ActionForm action=import attr:class="form">
            <div class="field" class:invalid=move || import_error.get().is_some()>
                <label for="f-ics">"Paste the .ics file's text"</label>
                <textarea id="f-ics" name="ics" rows="6" aria-describedby="f-ics-hint f-ics-error" placeholder="BEGIN:VCALENDAR…"></textarea>
                <p class="hint" id="f-ics-hint">"Each event's date (or days up to its end) becomes a holiday. The API also takes the file itself: POST /api/v1/sla/holidays/import."</p>
                <p class="field-error" id="f-ics-error" aria-live="polite">{move || import_error.get().map(|e| e.field("file").unwrap_or_else(|| e.to_string()))}</p>
            </div>
            <button type="submit">"Import"</button>
        </ActionForm>
        <h2>"GitHub sync"</h2>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match status.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(s) => view! { <SyncStatusDetails status=s/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SyncStatusDetails(status: SyncStatus) -> impl IntoView {
    let s = status;
    let last = match &s.sweep {
        None => "No sync has run yet.".to_string(),
        Some(w) => match w.finished_at {
            Some(at) => format!("Last step finished {} ({} repositories, {} failed, on {}).", when(Some(at)), w.done, w.failed, w.instance),
            None => format!("Step in progress since {}: {} of {} done (on {}).", when(Some(w.started_at)), w.done, w.total, w.instance),
        },
    };
    view! {
        <p data-testid="sync-status">{last}</p>
        <dl class="details">
            <dt>"Repositories"</dt><dd>{s.repositories}</dd>
            <dt>"Due now"</dt><dd>{s.due}</dd>
            <dt>"Next sync due"</dt><dd>{when(s.next_run)}</dd>
            <dt>"Rate limit"</dt><dd>{match s.paused_until { Some(u) => format!("paused until {}", crate::pages::pipeline::when(u)), None => "not limited".into() }}</dd>
        </dl>
        {(!s.failing.is_empty()).then(|| view! {
            <table>
                <thead><tr><th scope="col">"Repository"</th><th scope="col">"Failures"</th><th scope="col">"Last error"</th><th scope="col">"Next try"</th></tr></thead>
                <tbody>
                    {s.failing.into_iter().map(|f| view! {
                        <tr class="failing">
                            <th scope="row"><a href=format!("/integrations/{}#support-heading", f.integration_id)>{f.repository}</a></th>
                            <td>{f.failures}</td>
                            <td>{f.last_error.unwrap_or_default()}</td>
                            <td>{when(Some(f.next_sync_at))}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        })}
    }
}
