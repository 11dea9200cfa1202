//! The pipeline on an integration's page: its stages in order, each task
//! with its state, history and the forms the viewer's role allows (report
//! with evidence, accept, request changes, waive; reopen a completed
//! stage). Every form is a plain form post that also works before the wasm
//! has loaded.

use crate::components::{successes, ErrorNotice};
use crate::domain::task::{Pipeline, StageStatus, StageView, TaskAction, TaskState, TaskView};
use crate::error::AppError;
use leptos::prelude::*;

#[server(endpoint = "pipeline/get")]
pub async fn get_pipeline(integration_id: i64) -> Result<Pipeline, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::pipeline::get(&db, &caller, integration_id).await)
}

/// Acts on one task, then shows the integration again at that task (or
/// the review queue, when the form came from there: `back`).
#[server(endpoint = "pipeline/act")]
pub async fn act_on_task(
    task_id: i64,
    #[server(default)] action: String,
    #[server(default)] evidence_url: String,
    #[server(default)] note: String,
    #[server(default)] comment: String,
    #[server(default)] back: String,
) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let input = crate::domain::task::TaskInput { action, evidence_url, note, comment };
    let result = crate::services::pipeline::act(&db, &caller, task_id, &input, chrono::Utc::now()).await;
    let pipeline = crate::context::form_result(result)?;
    // Only our own queue pages: never an open redirect.
    // A header value holds visible ASCII only (leptos_axum panics on anything else).
    let back_to_queue = (back == "/review" || back.starts_with("/review?")) && back.chars().all(|c| c.is_ascii_graphic());
    if back_to_queue {
        leptos_axum::redirect(&back);
    } else {
        leptos_axum::redirect(&format!("/integrations/{}#task-{task_id}", pipeline.integration_id));
    }
    Ok(())
}

#[server(endpoint = "pipeline/reopen")]
pub async fn reopen_stage(
    integration_id: i64,
    #[server(default)] stage: String,
    #[server(default)] reason: String,
) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let result = crate::services::pipeline::reopen(&db, &caller, integration_id, &stage, &reason, chrono::Utc::now()).await;
    crate::context::form_result(result)?;
    // The parsed stage, not the text sent: that may hold what no header can.
    let anchor = crate::domain::catalog::Stage::parse(stage.trim()).map(|s| format!("#stage-{}", s.key())).unwrap_or_default();
    leptos_axum::redirect(&format!("/integrations/{integration_id}{anchor}"));
    Ok(())
}

pub(crate) fn when(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn status_label(s: StageStatus) -> &'static str {
    match s {
        StageStatus::Complete => "Complete",
        StageStatus::Open => "Open",
        StageStatus::Locked => "Waiting for earlier stages",
    }
}

#[component]
pub fn PipelineSection(integration_id: i64) -> impl IntoView {
    let act = ServerAction::<ActOnTask>::new();
    let reopen = ServerAction::<ReopenStage>::new();
    let (acted, reopened) = (successes(act), successes(reopen));
    let pipeline = Resource::new(move || (acted.get(), reopened.get()), move |_| get_pipeline(integration_id));
    let error = Signal::derive(move || act.value().get().and_then(Result::err).or_else(|| reopen.value().get().and_then(Result::err)));
    // A report form (a plain post) comes back with its error in the address.
    let query = leptos_router::hooks::use_query_map();
    let report_error = move || query.read().get("report_error");
    view! {
        <section class="pipeline" aria-labelledby="pipeline-title">
            <h2 id="pipeline-title">"Pipeline"</h2>
            {move || error.get().map(|e| view! { <ErrorNotice error=e/> })}
            {move || report_error().map(|message| view! {
                <div class="notice error" role="alert"><p>{format!("The report was not saved: {message}")}</p></div>
            })}
            <Transition fallback=|| view! { <p class="loading">"Loading the pipeline…"</p> }>
                {move || Suspend::new(async move {
                    match pipeline.await {
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                        Ok(p) => view! {
                            <ol class="stages">
                                {p.stages.into_iter().enumerate().map(|(i, s)| view! { <StageItem number=i + 1 stage=s integration_id act reopen/> }).collect_view()}
                            </ol>
                        }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn StageItem(
    number: usize,
    stage: StageView,
    integration_id: i64,
    act: ServerAction<ActOnTask>,
    reopen: ServerAction<ReopenStage>,
) -> impl IntoView {
    let key = stage.stage.key();
    let open = stage.status == StageStatus::Open;
    let reason_id = format!("reopen-{key}");
    view! {
        <li class=format!("stage stage-{}", match stage.status { StageStatus::Complete => "complete", StageStatus::Open => "open", StageStatus::Locked => "locked" })
            id=format!("stage-{key}") aria-current=open.then_some("step")>
            <h3>{format!("{number}. {}", stage.stage.label())}<span class="stage-status">{status_label(stage.status)}</span></h3>
            <ul class="tasks">
                {stage.tasks.into_iter().map(|t| view! { <TaskItem task=t act/> }).collect_view()}
            </ul>
            {stage.reopenable.then(|| view! {
                <ActionForm action=reopen attr:class="form inline reopen">
                    <input type="hidden" name="integration_id" value=integration_id.to_string()/>
                    <input type="hidden" name="stage" value=key/>
                    <div class="field">
                        <label for=reason_id.clone()>"Reason for reopening"</label>
                        <input id=reason_id type="text" name="reason" required=true/>
                    </div>
                    <button type="submit">{format!("Reopen {}", stage.stage.label())}</button>
                </ActionForm>
            })}
        </li>
    }
}

#[component]
fn TaskItem(task: TaskView, act: ServerAction<ActOnTask>) -> impl IntoView {
    let id = task.id;
    let may = |a: TaskAction| task.allowed.contains(&a);
    let (report, accept, changes, waive) =
        (may(TaskAction::Report), may(TaskAction::Accept), may(TaskAction::RequestChanges), may(TaskAction::Waive));
    let f = move |name: &str| format!("t{id}-{name}");
    let state_class = format!("task-state state-{}", task.state.key());
    let history = task
        .events
        .iter()
        .map(|e| {
            let what = match e.action {
                TaskAction::Report => "reported",
                TaskAction::Accept => "accepted",
                TaskAction::RequestChanges => "requested changes",
                TaskAction::Waive => "waived it",
                TaskAction::Observe => "observed it",
                TaskAction::Reopen => "reopened the stage",
            };
            let url = e.evidence_url.clone();
            view! {
                <li>
                    <span class="who">{format!("{} {what}", e.actor)}</span>" · "<time>{when(e.at)}</time>
                    {url.map(|u| { let text = u.clone(); view! { <div>"Evidence: "<a href=u rel="nofollow noopener">{text}</a></div> } })}
                {e.file.clone().map(|file| view! {
                    <div class="file">"File: "<a href=file.href() download="">{file.name.clone()}</a>{format!(" ({})", file.size_label())}</div>
                })}
                    {e.note_html.clone().map(|n| view! { <div class="note markdown" inner_html=n></div> })}
                    {e.comment_html.clone().map(|c| view! { <div class="comment markdown" inner_html=c></div> })}
                </li>
            }
        })
        .collect_view();
    view! {
        <li class="task" id=format!("task-{id}")>
            <div class="task-head">
                <strong>{task.title.clone()}</strong>
                <span class=state_class>{task.state.label()}</span>
                {(!task.required).then(|| view! { <span class="hint">"optional"</span> })}
                {task.automatic.then(|| view! { <span class="hint">"checked automatically"</span> })}
            </div>
            <p class="hint">{task.help.clone()}</p>
            {(!task.events.is_empty()).then(|| view! { <ul class="history">{history}</ul> })}
            {report.then(|| view! {
                <details class="report-form">
                <summary>{if task.state == TaskState::Open { "Report this task…" } else { "Report again…" }}</summary>
                // A plain multipart form (it may carry a file), before and after hydration alike.
                <form method="post" action=format!("/api/v1/tasks/{id}/report") enctype="multipart/form-data" class="form task-form">
                    <input type="hidden" name="action" value="report"/>
                    <div class="field">
                        <label for=f("url")>"Evidence link"</label>
                        <input id=f("url") type="url" name="evidence_url" placeholder="https://…"/>
                    </div>
                    <div class="field">
                        <label for=f("note")>"Note (Markdown)"</label>
                        <textarea id=f("note") name="note" rows="2"></textarea>
                    </div>
                    <div class="field">
                        <label for=f("file")>"Evidence file"</label>
                        <input id=f("file") type="file" name="file" aria-describedby=f("file-hint")/>
                        <p class="hint" id=f("file-hint")>"Optional: a PDF, screenshot, log or archive; only people who can see this integration can download it."</p>
                    </div>
                    <button type="submit" class="primary">{if task.state == TaskState::Reported { "Update report" } else { "Report done" }}</button>
                </form>
                </details>
            })}
            {accept.then(|| view! {
                <ActionForm action=act attr:class="form inline">
                    <input type="hidden" name="task_id" value=id.to_string()/>
                    <input type="hidden" name="action" value="accept"/>
                    <button type="submit" class="primary">"Accept"</button>
                </ActionForm>
            })}
            {changes.then(|| view! {
                <ActionForm action=act attr:class="form inline">
                    <input type="hidden" name="task_id" value=id.to_string()/>
                    <input type="hidden" name="action" value="request_changes"/>
                    <div class="field">
                        <label for=f("comment")>"What needs to change"</label>
                        <input id=f("comment") type="text" name="comment"/>
                    </div>
                    <button type="submit">"Request changes"</button>
                </ActionForm>
            })}
            {waive.then(|| view! {
                <ActionForm action=act attr:class="form inline">
                    <input type="hidden" name="task_id" value=id.to_string()/>
                    <input type="hidden" name="action" value="waive"/>
                    <div class="field">
                        <label for=f("waive")>"Reason for waiving"</label>
                        <input id=f("waive") type="text" name="comment"/>
                    </div>
                    <button type="submit">"Waive"</button>
                </ActionForm>
            })}
        </li>
    }
}
