//! Run-task conformance checks on the page: the section on a run task's
//! page (start a check, the history of checks) and the report page, which
//! follows a running check live and attaches a passing one as evidence.

use crate::components::{Allowed, ErrorNotice};
use crate::domain::access::Action as Do;
use crate::domain::conformance::{CheckList, CheckState, CheckView, Outcome};
use crate::error::AppError;
use crate::pages::pipeline::when;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

#[cfg(feature = "ssr")]
fn settings() -> crate::domain::conformance::CheckSettings {
    use_context::<crate::domain::conformance::CheckSettings>().unwrap_or_default()
}

#[server(endpoint = "checks/list")]
pub async fn list_checks(integration: i64, page: i64) -> Result<CheckList, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::run_task_checks::list(&db, &caller, integration, page, &settings(), chrono::Utc::now()).await)
}

#[server(endpoint = "checks/get")]
pub async fn get_check(id: i64) -> Result<CheckView, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::run_task_checks::get(&db, &caller, id, &settings(), chrono::Utc::now()).await)
}

/// Starts a check and goes to its report.
#[server(endpoint = "checks/start")]
pub async fn start_check(integration: i64) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let result = crate::services::run_task_checks::start(&db, &caller, integration, &settings(), chrono::Utc::now()).await;
    let check = crate::context::form_result(result)?;
    leptos_axum::redirect(&format!("/integrations/{integration}/checks/{}", check.id));
    Ok(())
}

#[server(endpoint = "checks/attach")]
pub async fn attach_check(id: i64) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let base = crate::context::base_url();
    let result = crate::services::run_task_checks::attach(&db, &caller, id, &base, &settings(), chrono::Utc::now()).await;
    let check = crate::context::form_result(result)?;
    leptos_axum::redirect(&format!("/integrations/{}/checks/{}?attached=1", check.integration_id, check.id));
    Ok(())
}

fn state_badge(state: CheckState) -> impl IntoView {
    view! { <span class=format!("badge check-{}", state.as_str()) data-testid="check-state">{state.label()}</span> }
}

fn outcome_badge(outcome: Outcome) -> impl IntoView {
    view! { <span class=format!("badge outcome-{}", outcome.label())>{outcome.label()}</span> }
}

/// On a run task's page: start a check, and the checks so far.
#[component]
pub fn CheckSection(
    integration_id: i64,
    partner_id: i64,
    /// Changes when the registration was saved: whether a check may start depends on it.
    #[prop(into)]
    registration_version: Signal<usize>,
) -> impl IntoView {
    let start = ServerAction::<StartCheck>::new();
    let page = RwSignal::new(1i64);
    let checks = Resource::new(
        move || (page.get(), start.version().get(), registration_version.get()),
        move |(p, _, _)| list_checks(integration_id, p),
    );
    let error = Signal::derive(move || start.value().get().and_then(Result::err));
    view! {
        <section class="checks" aria-labelledby="checks-heading">
            <h2 id="checks-heading">"Conformance check"</h2>
            <p class="hint">
                "The tracker calls the registered endpoint as Terraform Cloud would: the verification request, a request with a wrong "
                "signature, one request per supported stage, then waits for the callbacks and checks them against Terraform Cloud's rules."
            </p>
            {move || error.get().map(|e| view! { <ErrorNotice error=e/> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match checks.await {
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                        Ok(list) => {
                            let count = list.checks.len() as i64;
                            view! {
                                <Allowed action=Do::EditIntegration { partner: partner_id }>
                                    {match (list.may_start, list.reason.clone()) {
                                        (true, _) => view! {
                                            <ActionForm action=start attr:class="form inline">
                                                <input type="hidden" name="integration" value=integration_id.to_string()/>
                                                <button type="submit" class="primary">"Start a check"</button>
                                            </ActionForm>
                                        }.into_any(),
                                        (false, reason) => view! {
                                            <p class="muted" data-testid="check-refusal">{reason.unwrap_or_default()}</p>
                                        }.into_any(),
                                    }}
                                </Allowed>
                                {if list.checks.is_empty() && page.get_untracked() == 1 {
                                    view! { <p class="empty">"No checks yet."</p> }.into_any()
                                } else {
                                    view! {
                                        <table class="list">
                                            <caption class="visually-hidden">"Conformance checks, newest first"</caption>
                                            <thead><tr><th scope="col">"Check"</th><th scope="col">"Result"</th><th scope="col">"Started"</th><th scope="col">"By"</th><th scope="col">"Summary"</th></tr></thead>
                                            <tbody>
                                                {list.checks.iter().map(|c| view! {
                                                    <tr>
                                                        <td><a href=format!("/integrations/{}/checks/{}", c.integration_id, c.id)>{format!("#{}", c.id)}</a></td>
                                                        <td>{state_badge(c.state)}{c.evidence_attached_at.map(|_| view! { " " <span class="badge">"evidence"</span> })}</td>
                                                        <td>{when(c.created_at)}</td>
                                                        <td>{c.started_by.clone().unwrap_or_default()}</td>
                                                        <td>{c.summary.clone().unwrap_or_default()}</td>
                                                    </tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                        <nav class="pager" aria-label="Checks pages">
                                            {(page.get_untracked() > 1).then(|| view! { <button type="button" on:click=move |_| page.update(|p| *p -= 1)>"Newer"</button> })}
                                            {(count == crate::domain::conformance::CHECKS_PER_PAGE).then(|| view! { <button type="button" on:click=move |_| page.update(|p| *p += 1)>"Older"</button> })}
                                        </nav>
                                    }.into_any()
                                }}
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

/// `/integrations/:id/checks/:check`: the report, live while it runs.
#[component]
pub fn CheckPage() -> impl IntoView {
    let params = use_params_map();
    let q = use_query_map();
    let id = move || params.read().get("check").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let attach = ServerAction::<AttachCheck>::new();
    let tick = RwSignal::new(0u64);
    let check = Resource::new(move || (id(), tick.get(), attach.version().get()), |(id, _, _)| get_check(id));
    // Once the page is live, read the check again every second while it runs.
    Effect::new(move |_| {
        let poll = move || {
            let running = check.get_untracked().and_then(Result::ok).is_some_and(|c| c.state.is_running());
            if running {
                tick.update(|t| *t += 1);
            }
        };
        if let Ok(handle) = set_interval_with_handle(poll, std::time::Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    });
    let error = Signal::derive(move || attach.value().get().and_then(Result::err));
    view! {
        <Title text="Conformance check · Integration Tracker"/>
        {move || q.read().get("attached").map(|_| view! { <p class="notice" role="status">"Attached to the Test evidence task; a reviewer will look at it."</p> })}
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match check.await {
                    Err(e) => view! { <h1>"Conformance check"</h1><ErrorNotice error=e/> }.into_any(),
                    Ok(c) => {
                        let running = c.state.is_running();
                        let may_attach = c.state == CheckState::Passed && c.evidence_attached_at.is_none();
                        view! {
                            <nav class="crumbs" aria-label="Breadcrumb">
                                <a href=format!("/integrations/{}", c.integration_id)>{c.integration_name.clone()}</a>" / "<a href=format!("/integrations/{}#checks-heading", c.integration_id)>"Conformance checks"</a>
                            </nav>
                            <h1>{format!("Conformance check #{}", c.id)}</h1>
                            <div aria-live="polite" role="status">
                                <p>{state_badge(c.state)}" "{c.summary.clone().unwrap_or_default()}</p>
                                {running.then(|| view! {
                                    <p class="muted">
                                        {match c.deadline_at {
                                            Some(d) if d > c.as_of => format!("Waiting for callbacks for up to {} more seconds.", (d - c.as_of).num_seconds()),
                                            _ => "Running; this page follows it.".to_string(),
                                        }}
                                        " "<a href=format!("/integrations/{}/checks/{}", c.integration_id, c.id)>"Refresh"</a>
                                    </p>
                                })}
                            </div>
                            <dl class="facts">
                                <div><dt>"Endpoint"</dt><dd><code>{c.endpoint_url.clone()}</code></dd></div>
                                <div><dt>"Stages"</dt><dd>{c.stages.iter().map(|s| crate::domain::conformance::stage_label(s)).collect::<Vec<_>>().join(", ")}</dd></div>
                                <div><dt>"Started"</dt><dd>{format!("{} by {}", when(c.created_at), c.started_by.clone().unwrap_or_else(|| "someone".into()))}</dd></div>
                                {c.finished_at.map(|at| view! { <div><dt>"Finished"</dt><dd>{when(at)}</dd></div> })}
                                {c.evidence_attached_at.map(|at| view! { <div><dt>"Evidence"</dt><dd>{format!("attached to the Test evidence task on {}", when(at))}</dd></div> })}
                            </dl>
                            <table class="list steps" data-testid="check-steps">
                                <caption>"Steps"</caption>
                                <thead><tr><th scope="col">"Step"</th><th scope="col">"Result"</th><th scope="col">"What happened"</th><th scope="col">"Time"</th></tr></thead>
                                <tbody>
                                    {c.steps.iter().map(|s| view! {
                                        <tr class=format!("step-{}", s.outcome.label())>
                                            <th scope="row">{s.title.clone()}</th>
                                            <td>{outcome_badge(s.outcome)}</td>
                                            <td>
                                                {s.detail.clone()}
                                                {s.received.clone().map(|r| view! { <details class="received"><summary>"What came back"</summary><pre>{r}</pre></details> })}
                                            </td>
                                            <td>{s.millis.map(|m| format!("{m} ms")).unwrap_or_default()}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            {may_attach.then(|| view! {
                                <Allowed action=Do::EditIntegration { partner: c.partner_id }>
                                    {move || error.get().map(|e| view! { <ErrorNotice error=e/> })}
                                    <ActionForm action=attach attr:class="form inline">
                                        <input type="hidden" name="id" value=c.id.to_string()/>
                                        <button type="submit" class="primary">"Attach as test evidence"</button>
                                    </ActionForm>
                                </Allowed>
                            })}
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}
