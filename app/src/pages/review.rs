//! The review queue: reported tasks waiting for a reviewer, oldest first,
//! with their evidence, accepted or sent back right from the list.

use crate::components::{successes, ErrorNotice, Pager};
use crate::domain::access::Role;
use crate::domain::task::QueueItem;
use crate::domain::Page;
use crate::error::AppError;
use crate::pages::pipeline::ActOnTask;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Form;
use leptos_router::hooks::{use_location, use_query_map};

#[server(endpoint = "review/queue")]
pub async fn review_queue(#[server(default)] mine: bool, page: Option<i64>) -> Result<Page<QueueItem>, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::pipeline::review_queue(&db, &caller, mine, page, chrono::Utc::now()).await)
}

pub(crate) fn waited(days: i64) -> String {
    match days {
        0 => "today".into(),
        1 => "1 day".into(),
        n => format!("{n} days"),
    }
}

/// One waiting task: where it belongs, what was sent, and (for those who
/// may review) the two answers.
#[component]
pub fn QueueEntry(item: QueueItem, act: Option<(ServerAction<ActOnTask>, String)>) -> impl IntoView {
    let id = item.task_id;
    let href = format!("/integrations/{}#task-{id}", item.integration_id);
    let label = format!("{} · {} · {}", item.partner_name, item.integration_name, item.stage.label());
    let state_class = format!("task-state state-{}", item.state.key());
    view! {
        <li class="queue-item" id=format!("queue-{id}")>
            <div class="task-head">
                <a href=href><strong>{item.title.clone()}</strong></a>
                <span class=state_class>{item.state.label()}</span>
                <span class="age" title=crate::pages::pipeline::when(item.since)>{format!("waiting {}", waited(item.waiting_days))}</span>
            </div>
            <p class="hint">{label}</p>
            {item.last_actor.clone().map(|a| view! { <p class="who">{format!("Last: {a}")}</p> })}
            {item.evidence_url.clone().map(|u| { let text = u.clone(); view! { <p>"Evidence: "<a href=u rel="nofollow noopener">{text}</a></p> } })}
            {item.note_html.clone().map(|n| view! { <div class="note markdown" inner_html=n></div> })}
            {item.comment_html.clone().map(|c| view! { <div class="comment markdown" inner_html=c></div> })}
            {act.map(|(act, back)| {
                let comment_id = format!("q{id}-comment");
                let back2 = back.clone();
                view! {
                    <div class="queue-actions">
                        <ActionForm action=act attr:class="form inline">
                            <input type="hidden" name="task_id" value=id.to_string()/>
                            <input type="hidden" name="action" value="accept"/>
                            <input type="hidden" name="back" value=back2/>
                            <button type="submit" class="primary">"Accept"</button>
                        </ActionForm>
                        <ActionForm action=act attr:class="form inline">
                            <input type="hidden" name="task_id" value=id.to_string()/>
                            <input type="hidden" name="action" value="request_changes"/>
                            <input type="hidden" name="back" value=back/>
                            <div class="field">
                                <label for=comment_id.clone()>"What needs to change"</label>
                                <input id=comment_id type="text" name="comment"/>
                            </div>
                            <button type="submit">"Request changes"</button>
                        </ActionForm>
                    </div>
                }
            })}
        </li>
    }
}

/// `/review`: for reviewers and admins (viewers see it without the forms).
#[component]
pub fn ReviewPage() -> impl IntoView {
    let query = use_query_map();
    let location = use_location();
    let act = ServerAction::<ActOnTask>::new();
    let mine = move || query.read().get("mine").is_some_and(|v| v == "1");
    let page = move || query.read().get("page").and_then(|p| p.parse::<i64>().ok());
    let acted = successes(act);
    let items = Resource::new(move || (mine(), page(), acted.get()), |(mine, page, _)| review_queue(mine, page));
    let me = use_context::<crate::components::CurrentCaller>();
    let initial_mine = mine();
    view! {
        <Title text="Review queue · Integration Tracker"/>
        <header class="page-head"><h1>"Review queue"</h1></header>
        <Form method="GET" action="/review" attr:class="filters">
            <div class="field checkbox">
                <input id="mine" type="checkbox" name="mine" value="1" checked=initial_mine/>
                <label for="mine">"Only my partners (where I am the alliance manager)"</label>
            </div>
            <button type="submit">"Show"</button>
        </Form>
        {move || act.value().get().and_then(Result::err).map(|e| view! { <ErrorNotice error=e/> })}
        <Transition fallback=|| view! { <p class="loading">"Loading the queue…"</p> }>
            {move || Suspend::new(async move {
                let may_review = match me {
                    Some(crate::components::CurrentCaller(r)) => r.await.ok().flatten().is_some_and(|c| matches!(c.role, Role::Admin | Role::Reviewer)),
                    None => false,
                };
                let back = {
                    let search = location.search.get_untracked();
                    if search.is_empty() { "/review".to_string() } else { format!("/review?{}", search.trim_start_matches('?')) }
                };
                match items.await {
                    Ok(page) if page.items.is_empty() => view! {
                        <p class="empty">{if mine() { "Nothing waits for review at your partners." } else { "Nothing waits for review. Reported tasks appear here, oldest first." }}</p>
                    }.into_any(),
                    Ok(page) => {
                        let (current, pages, total) = (page.page, page.pages(), page.total);
                        let params = vec![("mine", if mine() { "1".to_string() } else { String::new() })];
                        view! {
                            <ol class="queue">
                                {page.items.into_iter().map(|item| {
                                    let act = may_review.then(|| (act, back.clone()));
                                    view! { <QueueEntry item act/> }
                                }).collect_view()}
                            </ol>
                            <Pager path="/review" params=params page=current pages=pages total=total/>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}
