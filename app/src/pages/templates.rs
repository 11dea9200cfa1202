//! Admin → Templates: the checklist of each track. Admins reword tasks,
//! make them required or optional, reorder them within their stage and add
//! new ones; each save is a new version. Integrations keep the version they
//! were given until an admin applies the new one to them.

use crate::components::{successes, ErrorNotice};
use crate::domain::catalog::{IntegrationKind, Stage};
use crate::domain::revision::{Follower, TaskRowInput, Template};
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateView {
    pub template: Template,
    pub followers: Vec<Follower>,
}

#[server(endpoint = "templates/get")]
pub async fn get_template(kind: String) -> Result<TemplateView, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let result = crate::services::templates::view(&db, &caller, &kind).await;
    crate::context::answer(result.map(|(template, followers)| TemplateView { template, followers }))
}

#[server(endpoint = "templates/save")]
pub async fn save_template(
    #[server(default)] kind: String,
    #[server(default)] base: i64,
    #[server(default)] tasks: Vec<TaskRowInput>,
) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let result = crate::services::templates::save(&db, &caller, &kind, base, &tasks, chrono::Utc::now()).await;
    let saved = crate::context::form_result(result)?;
    leptos_axum::redirect(&format!("/admin/templates?kind={}&saved={}", saved.kind.key(), saved.version));
    Ok(())
}

#[server(endpoint = "templates/apply")]
pub async fn apply_template(
    #[server(default)] kind: String,
    #[server(default)] version: i64,
    #[server(default)] integrations: Vec<i64>,
) -> Result<usize, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let result = crate::services::templates::apply(&db, &caller, &kind, version, &integrations, chrono::Utc::now()).await;
    let count = crate::context::form_result(result)?;
    // The parsed kind, not the text sent: that may hold what no header can.
    let kind = crate::domain::catalog::IntegrationKind::parse(kind.trim()).map(|k| k.key()).unwrap_or_default();
    leptos_axum::redirect(&format!("/admin/templates?kind={kind}&applied={count}"));
    Ok(count)
}

/// New rows offered under the existing tasks.
const BLANK_ROWS: usize = 3;

#[component]
pub fn TemplatesPage() -> impl IntoView {
    let query = use_query_map();
    let kind = move || query.read().get("kind").filter(|k| IntegrationKind::parse(k).is_some()).unwrap_or_else(|| "provider".into());
    let save = ServerAction::<SaveTemplate>::new();
    let apply = ServerAction::<ApplyTemplate>::new();
    let (saved, applied) = (successes(save), successes(apply));
    let view_data = Resource::new(move || (kind(), saved.get(), applied.get()), |(k, _, _)| get_template(k));
    let notice = move || {
        let q = query.read();
        q.get("saved")
            .map(|v| format!("Version {v} saved. New integrations get it; apply it below to existing ones."))
            .or_else(|| q.get("applied").map(|n| format!("Checklists brought up to date: {n}.")))
    };
    view! {
        <Title text="Checklist templates · Integration Tracker"/>
        <header class="page-head"><h1>"Checklist templates"</h1></header>
        <nav class="tabs" aria-label="Tracks">
            {IntegrationKind::ALL.iter().map(|k| {
                let key = k.key();
                view! { <a href=format!("/admin/templates?kind={key}") aria-current=move || (kind() == key).then_some("page")>{k.label()}</a> }
            }).collect_view()}
        </nav>
        {move || notice().map(|n| view! { <p class="notice success" role="status">{n}</p> })}
        {move || save.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
        {move || apply.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
        <Transition fallback=|| view! { <p class="loading">"Loading the template…"</p> }>
            {move || Suspend::new(async move {
                match view_data.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(v) => view! { <TemplateEditor template=v.template.clone() save/> <Followers template=v.template followers=v.followers apply/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn TemplateEditor(template: Template, save: ServerAction<SaveTemplate>) -> impl IntoView {
    let kind = template.kind;
    let existing = template.tasks.len();
    view! {
        <section aria-labelledby="template-heading">
            <h2 id="template-heading">{format!("{} checklist, version {}", kind.label(), template.version)}</h2>
            <p class="hint">"Reword tasks, make them required or optional, reorder them within their stage (lower numbers first) or add new ones. Tasks cannot be removed: make them optional instead. Saving makes a new version."</p>
            <ActionForm action=save attr:class="form template-form">
                <input type="hidden" name="kind" value=kind.key()/>
                <input type="hidden" name="base" value=template.version.to_string()/>
                <table class="template">
                    <thead><tr>
                        <th scope="col">"Stage"</th><th scope="col">"Order"</th><th scope="col">"Title"</th>
                        <th scope="col">"What counts as done"</th><th scope="col">"Required"</th>
                    </tr></thead>
                    <tbody>
                        {template.tasks.into_iter().enumerate().map(|(i, t)| {
                            let name = move |f: &str| format!("tasks[{i}][{f}]");
                            let id = move |f: &str| format!("t{i}-{f}");
                            view! {
                                <tr>
                                    <td>{t.stage.label()}<input type="hidden" name=name("key") value=t.key.clone()/>
                                        {t.fact.is_some().then(|| view! { <span class="hint">" · automatic"</span> })}</td>
                                    <td><label class="visually-hidden" for=id("position")>{format!("Order of {}", t.title)}</label>
                                        <input id=id("position") type="number" min="0" max="1000" name=name("position") value=i.to_string() class="order"/></td>
                                    <td><label class="visually-hidden" for=id("title")>"Title"</label>
                                        <input id=id("title") type="text" name=name("title") value=t.title.clone() required=true/></td>
                                    <td><label class="visually-hidden" for=id("help")>{format!("What counts as done for {}", t.title)}</label>
                                        <input id=id("help") type="text" name=name("help") value=t.help.clone()/></td>
                                    <td><label class="visually-hidden" for=id("required")>{format!("{} is required", t.title)}</label>
                                        <input id=id("required") type="checkbox" name=name("required") checked=t.required/></td>
                                </tr>
                            }
                        }).collect_view()}
                        {(existing..existing + BLANK_ROWS).map(|i| {
                            let name = move |f: &str| format!("tasks[{i}][{f}]");
                            let id = move |f: &str| format!("t{i}-{f}");
                            let n = i - existing + 1;
                            view! {
                                <tr class="new-task">
                                    <td><label class="visually-hidden" for=id("stage")>{format!("Stage of new task {n}")}</label>
                                        <select id=id("stage") name=name("stage")>
                                            {kind.track().iter().map(|s| view! { <option value=s.key()>{s.label()}</option> }).collect_view()}
                                        </select></td>
                                    <td><label class="visually-hidden" for=id("position")>{format!("Order of new task {n}")}</label>
                                        <input id=id("position") type="number" min="0" max="1000" name=name("position") value="1000" class="order"/></td>
                                    <td><label class="visually-hidden" for=id("title")>{format!("Title of new task {n}")}</label>
                                        <input id=id("title") type="text" name=name("title") placeholder="New task"/></td>
                                    <td><label class="visually-hidden" for=id("help")>{format!("What counts as done for new task {n}")}</label>
                                        <input id=id("help") type="text" name=name("help")/></td>
                                    <td><label class="visually-hidden" for=id("required")>{format!("New task {n} is required")}</label>
                                        <input id=id("required") type="checkbox" name=name("required") checked=true/></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                <button type="submit" class="primary">{format!("Save as version {}", template.version + 1)}</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn Followers(template: Template, followers: Vec<Follower>, apply: ServerAction<ApplyTemplate>) -> impl IntoView {
    let version = template.version;
    let behind = followers.iter().filter(|f| f.checklist_version < version).count();
    view! {
        <section aria-labelledby="followers-heading">
            <h2 id="followers-heading">"Integrations"</h2>
            {if followers.is_empty() {
                view! { <p class="empty">{format!("No {} yet.", template.kind.label().to_lowercase())}</p> }.into_any()
            } else {
                view! {
                    <p class="hint">{format!("{behind} of {} follow an older version. Applying copies rewordings, flags and order, and adds new tasks (already accepted in stages the integration has completed).", followers.len())}</p>
                    <ActionForm action=apply attr:class="form">
                        <input type="hidden" name="kind" value=template.kind.key()/>
                        <input type="hidden" name="version" value=version.to_string()/>
                        <ul class="plain followers">
                            {followers.into_iter().map(|f| {
                                let current = f.checklist_version >= version;
                                let id = format!("follower-{}", f.id);
                                let stage = Stage::parse(&f.stage).map(|s| s.label().to_string()).unwrap_or_else(|| f.stage.replace('_', " "));
                                let label = format!("{} · {} (version {}, {stage})", f.partner_name, f.name, f.checklist_version);
                                view! {
                                    <li>
                                        {if current {
                                            view! { <span>{label}<span class="hint">" · up to date"</span></span> }.into_any()
                                        } else {
                                            view! {
                                                <input id=id.clone() type="checkbox" name="integrations[]" value=f.id.to_string()/>
                                                <label for=id>{label}</label>
                                            }.into_any()
                                        }}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                        {(behind > 0).then(|| view! { <button type="submit">{format!("Apply version {version} to the chosen integrations")}</button> })}
                    </ActionForm>
                }.into_any()
            }}
        </section>
    }
}
