//! Admin → Users: invite people by email (a one-time link that expires),
//! change their role and partner, deactivate or reactivate them.

use crate::components::{successes, ErrorNotice, FieldHelp, Pager, TextField};
use crate::domain::access::Role;
use crate::domain::user::{User, UserStatus};
use crate::domain::Page;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

#[server(endpoint = "users/list")]
pub async fn list_users(page: Option<i64>) -> Result<Page<User>, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::users::list(&db, &caller, page, None).await)
}

#[server(endpoint = "users/get")]
pub async fn get_user(id: i64) -> Result<User, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::users::get(&db, &caller, id).await)
}

/// An invitation just made: who, and the link to send them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentInvitation {
    pub email: String,
    pub link: String,
    pub expires_in_hours: i64,
}

#[cfg(feature = "ssr")]
fn sent(invitation: crate::services::users::Invitation) -> SentInvitation {
    let policy = crate::context::policy();
    SentInvitation {
        email: invitation.user.email,
        link: format!("{}/invite/{}", crate::context::base_url(), invitation.secret),
        expires_in_hours: policy.invitation_ttl.num_hours(),
    }
}

#[server(endpoint = "users/invite")]
pub async fn invite_user(
    #[server(default)] email: String,
    #[server(default)] name: String,
    #[server(default)] role: String,
    #[server(default)] partner: String,
) -> Result<SentInvitation, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let input = crate::domain::user::UserInput { email, name, role, partner };
    let policy = crate::context::policy();
    let result = crate::services::users::invite(&db, &caller, &policy, &input, chrono::Utc::now()).await;
    crate::context::form_result(result.map(sent))
}

#[server(endpoint = "users/reinvite")]
pub async fn reinvite_user(id: i64) -> Result<SentInvitation, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let policy = crate::context::policy();
    let result = crate::services::users::reinvite(&db, &caller, &policy, id, chrono::Utc::now()).await;
    crate::context::form_result(result.map(sent))
}

#[server(endpoint = "users/save")]
pub async fn save_user(
    id: i64,
    #[server(default)] name: String,
    #[server(default)] role: String,
    #[server(default)] partner: String,
) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let input = crate::domain::user::UserInput { email: String::new(), name, role, partner };
    let result = crate::services::users::update(&db, &caller, id, &input, chrono::Utc::now()).await;
    crate::context::form_result(result)?;
    leptos_axum::redirect("/admin/users");
    Ok(())
}

/// `active: false` deactivates (sessions and tokens stop at once); `true` reactivates.
#[server(endpoint = "users/set-active")]
pub async fn set_user_active(id: i64, active: bool) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let now = chrono::Utc::now();
    let result = if active {
        crate::services::users::reactivate(&db, &caller, id, now).await
    } else {
        crate::services::users::deactivate(&db, &caller, id, now).await
    };
    crate::context::form_result(result)?;
    leptos_axum::redirect(&format!("/admin/users/{id}"));
    Ok(())
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_else(|| "never".into())
}

/// Role and partner pickers, shared by the invitation and edit forms.
#[component]
fn RoleFields(role: String, partner: String, #[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    let field = move |name: &'static str| Signal::derive(move || error.get().and_then(|e| e.field(name)));
    let partners = Resource::new(|| (), |_| crate::pages::integrations::partner_options());
    view! {
        <div class="field" class:invalid=move || field("role").get().is_some()>
            <label for="f-role">"Role"<span class="req" aria-hidden="true">" *"</span></label>
            <select id="f-role" name="role" aria-describedby="f-role-hint f-role-error">
                <option value="" selected=role.is_empty()>"Choose…"</option>
                {Role::ALL.iter().map(|r| view! { <option value=r.key() selected=role == r.key()>{r.label()}</option> }).collect_view()}
            </select>
            <FieldHelp id="f-role".into() hint=Some("Admins manage users; reviewers see every partner and review; partner members see their own partner; viewers only read.".into()) error=field("role")/>
        </div>
        <div class="field" class:invalid=move || field("partner").get().is_some()>
            <label for="f-partner">"Partner (for partner members)"</label>
            <Suspense fallback=|| view! { <select id="f-partner" name="partner" disabled=true><option>"Loading…"</option></select> }>
                {move || {
                    let partner = partner.clone();
                    Suspend::new(async move {
                        let options = partners.await.unwrap_or_default();
                        view! {
                            <select id="f-partner" name="partner" aria-describedby="f-partner-error">
                                <option value="" selected=partner.is_empty()>"None"</option>
                                {options.into_iter().map(|(slug, name, _)| {
                                    let selected = partner == slug;
                                    view! { <option value=slug selected=selected>{name}</option> }
                                }).collect_view()}
                            </select>
                        }
                    })
                }}
            </Suspense>
            <FieldHelp id="f-partner".into() hint=None error=field("partner")/>
        </div>
    }
}

#[component]
pub fn UsersPage() -> impl IntoView {
    let query = use_query_map();
    let page = move || query.read().get("page").and_then(|p| p.parse::<i64>().ok());
    let invite = ServerAction::<InviteUser>::new();
    let users = Resource::new(move || (page(), invite.version().get()), |(page, _)| list_users(page));
    let error = Signal::derive(move || invite.value().get().and_then(Result::err));
    let field = move |name: &'static str| Signal::derive(move || error.get().and_then(|e| e.field(name)));
    let hydrated = crate::components::use_hydrated();
    view! {
        <Title text="Users · Integration Tracker"/>
        <h1>"Users"</h1>
        <section aria-labelledby="invite-title">
            <h2 id="invite-title">"Invite someone"</h2>
            {move || invite.value().get().and_then(Result::ok).map(|s| view! {
                <div class="notice success" role="status">
                    <p>{format!("Invitation for {} created. Send them this link (valid {} hours, works once):", s.email, s.expires_in_hours)}</p>
                    <p><output class="secret" aria-label="Invitation link">{s.link}</output></p>
                </div>
            })}
            {move || error.get().map(|e| view! { <ErrorNotice error=e/> })}
            <ActionForm action=invite attr:class="form" attr:novalidate=true>
                <TextField label="Email" name="email" input_type="email" required=true error=field("email")/>
                <TextField label="Name" name="name" error=field("name") hint="Optional; taken from the email when empty."/>
                <RoleFields role=String::new() partner=String::new() error=error/>
                <button type="submit" class="primary" disabled=move || !hydrated.get() || invite.pending().get()>"Create invitation"</button>
            </ActionForm>
        </section>
        <section aria-labelledby="people-title">
            <h2 id="people-title">"People"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                        Ok(p) if p.items.is_empty() => view! { <p class="empty">"No users yet."</p> }.into_any(),
                        Ok(p) => {
                            let pages = p.pages();
                            view! {
                                <table class="list">
                                    <thead><tr><th scope="col">"Email"</th><th scope="col">"Name"</th><th scope="col">"Role"</th><th scope="col">"Partner"</th><th scope="col">"Status"</th><th scope="col">"Last sign-in"</th></tr></thead>
                                    <tbody>
                                        {p.items.into_iter().map(|u| view! {
                                            <tr>
                                                <td><a href=format!("/admin/users/{}", u.id)>{u.email.clone()}</a></td>
                                                <td>{u.name.clone()}</td>
                                                <td>{u.role.label()}</td>
                                                <td>{u.partner_name.clone().unwrap_or_default()}</td>
                                                <td>{u.status.label()}</td>
                                                <td>{when(u.last_sign_in_at)}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                <Pager path="/admin/users" params=vec![] page=p.page pages=pages total=p.total/>
                            }.into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
pub fn UserPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|i| i.parse::<i64>().ok()).unwrap_or(-1);
    // Deactivating or reactivating stays on this page: the user is read
    // again after it, so the status and the button show what it did.
    let active = ServerAction::<SetUserActive>::new();
    let switched = successes(active);
    let user = Resource::new(move || (id(), switched.get()), |(id, _)| get_user(id));
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(u) => view! { <UserForm user=u active=active/> }.into_any(),
                    Err(e) => {
                        #[cfg(feature = "ssr")]
                        crate::context::set_status(e.status());
                        view! { <Title text="User · Integration Tracker"/><h1>"User"</h1><ErrorNotice error=e/> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn UserForm(user: User, active: ServerAction<SetUserActive>) -> impl IntoView {
    let save = ServerAction::<SaveUser>::new();
    let reinvite = ServerAction::<ReinviteUser>::new();
    let error = Signal::derive(move || {
        save.value()
            .get()
            .and_then(Result::err)
            .or_else(|| active.value().get().and_then(Result::err))
            .or_else(|| reinvite.value().get().and_then(Result::err))
    });
    let field = move |name: &'static str| Signal::derive(move || error.get().and_then(|e| e.field(name)));
    let id = user.id.to_string();
    let (id1, id2, id3) = (id.clone(), id.clone(), id);
    view! {
        <Title text=format!("{} · Users · Integration Tracker", user.email)/>
        <h1>{user.email.clone()}</h1>
        <p>{format!("Status: {}. Last sign-in: {}.", user.status.label(), when(user.last_sign_in_at))}</p>
        {move || error.get().map(|e| view! { <ErrorNotice error=e/> })}
        {move || reinvite.value().get().and_then(Result::ok).map(|s| view! {
            <div class="notice success" role="status">
                <p>{format!("New invitation link (valid {} hours, works once):", s.expires_in_hours)}</p>
                <p><output class="secret" aria-label="Invitation link">{s.link}</output></p>
            </div>
        })}
        <ActionForm action=save attr:class="form" attr:novalidate=true>
            <input type="hidden" name="id" value=id1/>
            <TextField label="Name" name="name" value=user.name.clone() error=field("name")/>
            <RoleFields role=user.role.key().to_string() partner=user.partner_slug.clone().unwrap_or_default() error=error/>
            <p class="hint">"Changing the role or partner signs them out everywhere."</p>
            <button type="submit" class="primary">"Save"</button>
            " " <a href="/admin/users">"Cancel"</a>
        </ActionForm>
        <div class="actions">
            {(user.status == UserStatus::Invited).then(|| view! {
                <ActionForm action=reinvite>
                    <input type="hidden" name="id" value=id2/>
                    <button type="submit">"New invitation link"</button>
                </ActionForm>
            })}
            <ActionForm action=active>
                <input type="hidden" name="id" value=id3/>
                {if user.status == UserStatus::Deactivated {
                    view! { <input type="hidden" name="active" value="true"/><button type="submit">"Reactivate"</button> }.into_any()
                } else {
                    view! { <input type="hidden" name="active" value="false"/><button type="submit" class="danger">"Deactivate"</button> }.into_any()
                }}
            </ActionForm>
        </div>
    }
}
