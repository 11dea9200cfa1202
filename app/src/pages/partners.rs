//! Partner screens: the list with search and filters, a partner's page, and
//! the create/edit form.

use crate::components::{href_with, Allowed, ErrorNotice, FieldHelp, Pager, TextField};
use crate::domain::access::Action;
use crate::domain::catalog::{all_categories, PartnerKind};
use crate::domain::integration::{Integration, IntegrationQuery};
use crate::domain::partner::{contact_lines, Partner, PartnerQuery};
use crate::domain::Page;
use crate::error::AppError;
use crate::pages::integrations::{list_integrations, IntegrationTable};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::{use_params_map, use_query_map};

#[server(endpoint = "partners/list")]
pub async fn list_partners(query: PartnerQuery) -> Result<Page<Partner>, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::partners::list(&db, &caller, &query).await)
}

#[server(endpoint = "partners/get")]
pub async fn get_partner(slug: String) -> Result<Partner, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::partners::get(&db, &caller, &slug).await)
}

/// Creates a partner (no `current_slug`) or updates the one named by it,
/// then sends the browser to the partner's page.
#[server(endpoint = "partners/save")]
#[allow(clippy::too_many_arguments)]
pub async fn save_partner(
    #[server(default)] current_slug: String,
    #[server(default)] name: String,
    #[server(default)] slug: String,
    #[server(default)] kind: String,
    #[server(default)] categories: Vec<String>,
    #[server(default)] support_contacts: String,
    #[server(default)] github_org: String,
    #[server(default)] github_auto_join: Option<String>,
    #[server(default)] registry_namespace: String,
    #[server(default)] alliance_manager_name: String,
    #[server(default)] alliance_manager_email: String,
) -> Result<(), AppError> {
    use crate::domain::partner::{parse_contact_lines, PartnerInput};
    use crate::services::partners;
    let result = async {
        let (db, caller) = crate::context::signed_in()?;
        let support_contacts = parse_contact_lines(&support_contacts)
            .map_err(|m| AppError::invalid([("support_contacts".to_string(), vec![m])].into_iter().collect()))?;
        let input = PartnerInput {
            name,
            slug,
            kind,
            categories,
            support_contacts,
            github_org,
            github_auto_join: github_auto_join.is_some(),
            registry_namespace,
            alliance_manager_name,
            alliance_manager_email,
        };
        let orgs = leptos::prelude::use_context::<partners::GithubOrgs>().unwrap_or_default();
        if current_slug.is_empty() {
            partners::create(&db, &caller, &input, &orgs).await
        } else {
            partners::update(&db, &caller, &current_slug, &input, &orgs).await
        }
    }
    .await;
    let partner = crate::context::form_result(result)?;
    leptos_axum::redirect(&format!("/partners/{}", partner.slug));
    Ok(())
}

fn query_from_url() -> PartnerQuery {
    let q = use_query_map();
    let q = q.read();
    PartnerQuery {
        q: q.get("q").unwrap_or_default(),
        kind: q.get("kind").unwrap_or_default(),
        category: q.get("category").unwrap_or_default(),
        page: q.get("page").and_then(|p| p.parse().ok()),
        per_page: None,
    }
}

#[component]
pub fn PartnersPage() -> impl IntoView {
    let query = use_query_map();
    let current = move || {
        query.track();
        query_from_url()
    };
    let partners = Resource::new(current, list_partners);
    let initial = query_from_url();
    view! {
        <Title text="Partners · Integration Tracker"/>
        <header class="page-head">
            <h1>"Partners"</h1>
            <Allowed action=Action::ManagePartners><A href="/partners/new" attr:class="button primary">"Add partner"</A></Allowed>
        </header>
        <Form method="GET" action="/partners" attr:class="filters" attr:role="search">
            <div class="field">
                <label for="q">"Search"</label>
                <input id="q" type="search" name="q" value=initial.q.clone() placeholder="Partner name or slug"/>
            </div>
            <div class="field">
                <label for="kind">"Kind"</label>
                <select id="kind" name="kind">
                    <option value="">"Any kind"</option>
                    {PartnerKind::ALL.iter().map(|k| {
                        view! { <option value=k.key() selected=initial.kind == k.key()>{k.label()}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="category">"Category"</label>
                <select id="category" name="category">
                    <option value="">"Any category"</option>
                    {all_categories().into_iter().map(|c| {
                        view! { <option value=c selected=initial.category == c>{c}</option> }
                    }).collect_view()}
                </select>
            </div>
            <button type="submit">"Filter"</button>
        </Form>
        <Transition fallback=|| view! { <p class="loading">"Loading partners…"</p> }>
            {move || Suspend::new(async move {
                let q = current();
                match partners.await {
                    Ok(page) => view! { <PartnerList page=page query=q/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PartnerList(page: Page<Partner>, query: PartnerQuery) -> impl IntoView {
    let filtered = !(query.q.is_empty() && query.kind.is_empty() && query.category.is_empty());
    if page.items.is_empty() {
        return if filtered {
            view! {
                <div class="empty">
                    <p>"No partners match these filters."</p>
                    <a href="/partners">"Clear the filters"</a>
                </div>
            }
            .into_any()
        } else {
            view! {
                <div class="empty">
                    <p>"No partners yet. Partners are the organisations in the program; add the first one to start tracking its integrations."</p>
                    <Allowed action=Action::ManagePartners><a class="button primary" href="/partners/new">"Add the first partner"</a></Allowed>
                </div>
            }
            .into_any()
        };
    }
    let pages = page.pages();
    let params = vec![("q", query.q), ("kind", query.kind), ("category", query.category)];
    view! {
        <table class="list">
            <thead><tr><th scope="col">"Partner"</th><th scope="col">"Kind"</th><th scope="col">"Categories"</th><th scope="col" class="num">"Integrations"</th></tr></thead>
            <tbody>
                {page.items.into_iter().map(|p| view! {
                    <tr>
                        <td><a href=format!("/partners/{}", p.slug)>{p.name}</a></td>
                        <td>{p.kind.label()}</td>
                        <td class="tags">{p.categories.into_iter().map(|c| view! { <span class="tag">{c}</span> }).collect_view()}</td>
                        <td class="num">{p.integration_count}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <Pager path="/partners" params=params page=page.page pages=pages total=page.total/>
    }
    .into_any()
}

#[component]
pub fn PartnerPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug").unwrap_or_default();
    let partner = Resource::new(slug, get_partner);
    let integrations =
        Resource::new(slug, |s| list_integrations(IntegrationQuery { partner: s, per_page: Some(100), ..Default::default() }));
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match (partner.await, integrations.await) {
                    (Ok(p), Ok(list)) => view! { <PartnerDetails partner=p integrations=list/> }.into_any(),
                    (Err(AppError::NotFound(what)), _) => view! {
                        <Title text="Not found · Integration Tracker"/>
                        <h1>"No such partner"</h1>
                        <p>{format!("There is no {what}. ")}<a href="/partners">"Back to the partners"</a></p>
                    }.into_any(),
                    (Err(e), _) | (_, Err(e)) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PartnerDetails(partner: Partner, integrations: Page<Integration>) -> impl IntoView {
    let p = partner;
    let none = || view! { <span class="muted">"—"</span> }.into_any();
    let contacts = if p.support_contacts.is_empty() {
        none()
    } else {
        view! {
            <ul class="plain">
                {p.support_contacts.iter().map(|c| view! {
                    <li>{c.name.clone()}" "<a href=format!("mailto:{}", c.email)>{c.email.clone()}</a></li>
                }).collect_view()}
            </ul>
        }
        .into_any()
    };
    let manager = match (&p.alliance_manager_name, &p.alliance_manager_email) {
        (None, None) => none(),
        (name, email) => view! {
            <span>{name.clone().unwrap_or_default()}" "
            {email.clone().map(|e| view! { <a href=format!("mailto:{e}")>{e.clone()}</a> })}</span>
        }
        .into_any(),
    };
    let new_integration = href_with(
        "/integrations/new",
        &[("partner", p.slug.clone()), ("kind", if p.kind == PartnerKind::Workflow { "run_task".into() } else { "provider".into() })],
    );
    let edit_href = format!("/partners/{}/edit", p.slug);
    view! {
        <Title text=format!("{} · Integration Tracker", p.name)/>
        <nav class="crumbs" aria-label="Breadcrumb"><a href="/partners">"Partners"</a></nav>
        <header class="page-head">
            <h1>{p.name.clone()}</h1>
            <Allowed action=Action::EditPartner { partner: p.id }><a class="button" href=edit_href.clone()>"Edit partner"</a></Allowed>
        </header>
        <dl class="details">
            <dt>"Slug"</dt><dd><code>{p.slug.clone()}</code></dd>
            <dt>"Kind"</dt><dd>{p.kind.label()}</dd>
            <dt>"Categories"</dt>
            <dd class="tags">{if p.categories.is_empty() { none() } else { p.categories.iter().map(|c| view! { <span class="tag">{c.clone()}</span> }).collect_view().into_any() }}</dd>
            <dt>"Support contacts"</dt><dd>{contacts}</dd>
            <dt>"GitHub organisation"</dt>
            <dd>{match p.github_org.clone() { Some(o) => view! { <a href=format!("https://github.com/{o}")>{o.clone()}</a> }.into_any(), None => none() }}
                {match (p.github_auto_join, p.github_org_id) {
                    (true, Some(_)) => Some(view! { <span class="hint">" · its members join when they sign in with GitHub"</span> }.into_any()),
                    // Set before organisations were matched by id: saving looks the id up.
                    (true, None) => Some(view! { <span class="hint warning">" · members cannot join yet: edit and save the partner to confirm the organisation on GitHub"</span> }.into_any()),
                    (false, _) => None,
                }}</dd>
            <dt>"Registry namespace"</dt>
            <dd>{match p.registry_namespace.clone() { Some(n) => view! { <code>{n}</code> }.into_any(), None => none() }}</dd>
            <dt>"Alliance manager"</dt><dd>{manager}</dd>
        </dl>
        <section aria-labelledby="integrations-heading">
            <header class="section-head">
                <h2 id="integrations-heading">"Integrations"</h2>
                <Allowed action=Action::EditIntegration { partner: p.id }><a class="button primary" href=new_integration.clone()>"Add integration"</a></Allowed>
            </header>
            {if integrations.items.is_empty() {
                view! { <p class="empty">"This partner has no integrations yet. Add its first provider or run task."</p> }.into_any()
            } else {
                view! { <IntegrationTable items=integrations.items show_partner=false/> }.into_any()
            }}
        </section>
        <crate::pages::support::PartnerSupport partner_id=p.id/>
        <crate::pages::audit::Timeline subject=crate::pages::audit::Subject::Partner(p.slug.clone())/>
    }
}

/// `/partners/new` and `/partners/:slug/edit`.
#[component]
pub fn PartnerEditPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("slug");
    let partner = Resource::new(slug, |s| async move {
        match s {
            Some(s) => get_partner(s).await.map(Some),
            None => Ok(None),
        }
    });
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match partner.await {
                    Ok(p) => view! { <PartnerForm existing=p/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn PartnerForm(existing: Option<Partner>) -> impl IntoView {
    let action = ServerAction::<SavePartner>::new();
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    let field = move |name: &'static str| Signal::derive(move || error.get().and_then(|e| e.field(name)));
    let p = existing.clone().map(|p| p.to_input()).unwrap_or_default();
    let title = match &existing {
        Some(e) => format!("Edit {}", e.name),
        None => "Add a partner".to_string(),
    };
    let cancel = existing.as_ref().map(|e| format!("/partners/{}", e.slug)).unwrap_or_else(|| "/partners".into());
    let chosen = p.categories.clone();
    let kind = p.kind.clone();
    view! {
        <Title text=format!("{title} · Integration Tracker")/>
        <h1>{title}</h1>
        {move || error.get().map(|e| view! { <ErrorNotice error=e/> })}
        <ActionForm action=action attr:class="form" attr:novalidate=true>
            <input type="hidden" name="current_slug" value=existing.as_ref().map(|e| e.slug.clone()).unwrap_or_default()/>
            <TextField label="Name" name="name" value=p.name.clone() required=true error=field("name")/>
            <TextField label="Slug" name="slug" value=p.slug.clone() error=field("slug")
                hint="Used in addresses like /partners/acme-cloud. Leave empty to derive it from the name."/>
            <div class="field" class:invalid=move || field("kind").get().is_some()>
                <label for="f-kind">"Kind"<span class="req" aria-hidden="true">" *"</span></label>
                <select id="f-kind" name="kind" aria-describedby="f-kind-hint f-kind-error">
                    <option value="" selected=kind.is_empty()>"Choose…"</option>
                    {PartnerKind::ALL.iter().map(|k| view! {
                        <option value=k.key() selected=kind == k.key()>{k.label()}</option>
                    }).collect_view()}
                </select>
                <FieldHelp id="f-kind".into() hint=Some("Infrastructure partners publish providers; workflow partners build run tasks.".into()) error=field("kind")/>
            </div>
            <fieldset class="field checkboxes" class:invalid=move || field("categories").get().is_some()>
                <legend>"Use-case categories"</legend>
                {all_categories().into_iter().map(|c| {
                    let id = format!("f-cat-{}", crate::domain::slug::slugify(c));
                    let for_id = id.clone();
                    view! {
                        <label for=for_id><input type="checkbox" id=id name="categories[]" value=c checked=chosen.iter().any(|x| x == c)/>{c}</label>
                    }
                }).collect_view()}
                <FieldHelp id="f-categories".into() hint=None error=field("categories")/>
            </fieldset>
            <div class="field" class:invalid=move || field("support_contacts").get().is_some()>
                <label for="f-support_contacts">"Support contacts"</label>
                <textarea id="f-support_contacts" name="support_contacts" rows="3" aria-describedby="f-support_contacts-hint f-support_contacts-error">{contact_lines(&p.support_contacts)}</textarea>
                <FieldHelp id="f-support_contacts".into() hint=Some("One per line: Name <email@example.com>".into()) error=field("support_contacts")/>
            </div>
            <TextField label="GitHub organisation" name="github_org" value=p.github_org.clone() error=field("github_org") placeholder="acme-corp"/>
            <div class="field checkbox">
                <label>
                    <input type="checkbox" name="github_auto_join" value="on" checked=p.github_auto_join/>
                    " Members of this GitHub organisation who sign in with GitHub join as partner members"
                </label>
                <p class="hint">"Saving asks GitHub for the organisation's id; members are matched on it, so a renamed organisation keeps its members and its old name gives nobody access."</p>
                <p class="field-error" aria-live="polite">{let e = field("github_auto_join"); move || e.get()}</p>
            </div>
            <TextField label="Registry namespace" name="registry_namespace" value=p.registry_namespace.clone() error=field("registry_namespace")
                hint="The namespace its providers are published under, e.g. acme for acme/cloud."/>
            <TextField label="Alliance manager's email" name="alliance_manager_email" input_type="email" value=p.alliance_manager_email.clone() error=field("alliance_manager_email")
                hint="The email of a reviewer's account (Admin → Users): alerts about this partner go there."/>
            <TextField label="Alliance manager" name="alliance_manager_name" value=p.alliance_manager_name.clone() error=field("alliance_manager_name")
                hint="Leave empty to use the account's name."/>
            <div class="actions">
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    {move || if action.pending().get() { "Saving…" } else { "Save partner" }}
                </button>
                <a href=cancel>"Cancel"</a>
            </div>
        </ActionForm>
    }
}
