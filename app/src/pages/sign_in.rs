//! The pages people see before they are in: sign-in (providers, the demo
//! picker on a local demo server), "you were refused and why", and the
//! landing page of an invitation link. The redirects and cookies are the
//! server's `/auth/*` routes; links to them carry `rel="external"` so the
//! client-side router lets the browser follow them.

use crate::components::encode;
use crate::domain::access::Caller;
use crate::domain::user::Refusal;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};

/// Which ways in this server offers (from its configuration).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SignInOptions {
    pub github: bool,
    /// The OIDC button's label, when an OpenID Connect provider is configured.
    pub oidc: Option<String>,
    /// The demo picker may be shown (loopback bind, demo setting on).
    pub demo: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignInPageData {
    pub options: SignInOptions,
    /// Demo accounts to pick from; empty unless the picker is allowed.
    pub demo_users: Vec<Caller>,
    /// No administrator exists yet: the server printed a bootstrap link.
    pub awaiting_admin: bool,
}

#[server(endpoint = "auth/options")]
pub async fn load_sign_in_page() -> Result<SignInPageData, AppError> {
    let db = crate::context::db()?;
    let options = use_context::<SignInOptions>().unwrap_or_default();
    let demo_users = if options.demo { crate::store::users::demo_users(&db).await? } else { Vec::new() };
    let awaiting_admin = !crate::store::users::active_admin_exists(&db).await?;
    Ok(SignInPageData { options, demo_users, awaiting_admin })
}

/// The signed-in person, for the header; `None` on public pages.
#[server(endpoint = "auth/me")]
pub async fn whoami() -> Result<Option<Caller>, AppError> {
    Ok(crate::context::caller())
}

/// What an invitation link leads to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum InvitationInfo {
    Valid { email: String, role: String, partner: Option<String>, options: SignInOptions },
    Expired,
    Used,
    Unknown,
}

#[server(endpoint = "auth/invitation")]
pub async fn invitation(token: String) -> Result<InvitationInfo, AppError> {
    use crate::services::secret::hash;
    use crate::store::users as store;
    let db = crate::context::db()?;
    let Some((Some(user_id), expires, used)) = store::link(&db, &hash(&token), "invitation").await? else {
        return Ok(InvitationInfo::Unknown);
    };
    if used.is_some() {
        return Ok(InvitationInfo::Used);
    }
    if expires <= chrono::Utc::now() {
        return Ok(InvitationInfo::Expired);
    }
    let user = store::get(&db, user_id).await?.ok_or(AppError::Internal)?;
    let options = use_context::<SignInOptions>().unwrap_or_default();
    Ok(InvitationInfo::Valid { email: user.email, role: user.role.label().into(), partner: user.partner_name, options })
}

/// Links to start a sign-in at each configured provider.
#[component]
fn ProviderButtons(options: SignInOptions, next: String, #[prop(optional)] invite: Option<String>) -> impl IntoView {
    let query = move |_: ()| {
        let mut q = format!("next={}", encode(&next));
        if let Some(i) = &invite {
            q.push_str(&format!("&invite={}", encode(i)));
        }
        q
    };
    let github = options.github.then(|| {
        let href = format!("/auth/github/start?{}", query(()));
        view! { <a class="button primary" rel="external" href=href>"Sign in with GitHub"</a> }
    });
    let oidc = options.oidc.clone().map(|label| {
        let href = format!("/auth/oidc/start?{}", query(()));
        view! { <a class="button primary" rel="external" href=href>{format!("Sign in with {label}")}</a> }
    });
    view! { <div class="providers">{github}{oidc}</div> }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let next = query.read_untracked().get("next").unwrap_or_else(|| "/".into());
    let signed_out = query.read_untracked().get("signed_out").is_some();
    let data = Resource::new(|| (), |_| load_sign_in_page());
    view! {
        <Title text="Sign in · Integration Tracker"/>
        <div class="narrow">
            <h1>"Sign in"</h1>
            {signed_out.then(|| view! { <p class="notice" role="status">"You have signed out."</p> })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || {
                    let next = next.clone();
                    Suspend::new(async move {
                        match data.await {
                            Err(e) => view! { <crate::components::ErrorNotice error=e/> }.into_any(),
                            Ok(d) => {
                                let none = !d.options.github && d.options.oidc.is_none();
                                view! {
                                    <p>"Alliances staff and partners sign in with the account their organisation uses."</p>
                                    <ProviderButtons options=d.options.clone() next=next/>
                                    {none.then(|| view! {
                                        <p class="notice">"No identity provider is configured yet. An administrator configures GitHub or OpenID Connect sign-in (see the README)."</p>
                                    })}
                                    {d.awaiting_admin.then(|| view! {
                                        <p class="notice">"There is no administrator yet. The server printed a one-time sign-in link to its log; open it to sign in as the first administrator, or run "<code>"server create-admin --email you@example.com"</code>"."</p>
                                    })}
                                    {(!d.demo_users.is_empty()).then(|| view! {
                                        <section class="demo-picker" aria-labelledby="demo-title">
                                            <h2 id="demo-title">"Demo accounts"</h2>
                                            <p class="hint">"Offered only on a local demo server."</p>
                                            <ul>
                                                {d.demo_users.into_iter().map(|u| {
                                                    let what = match &u.partner {
                                                        Some(p) => format!("{} of {}", u.role.label(), p.name),
                                                        None => u.role.label().to_string(),
                                                    };
                                                    view! {
                                                        <li>
                                                            <form method="post" action="/auth/demo">
                                                                <input type="hidden" name="user_id" value=u.user_id.to_string()/>
                                                                <button type="submit">{format!("Sign in as {}", u.name)}</button>
                                                                " " <span class="hint">{what}</span>
                                                            </form>
                                                        </li>
                                                    }
                                                }).collect_view()}
                                            </ul>
                                        </section>
                                    })}
                                }.into_any()
                            }
                        }
                    })
                }}
            </Suspense>
        </div>
    }
}

#[component]
pub fn RefusedPage() -> impl IntoView {
    let query = use_query_map();
    let reason = query.read_untracked().get("reason").and_then(|r| Refusal::parse(&r)).unwrap_or(Refusal::NotInvited);
    #[cfg(feature = "ssr")]
    crate::context::set_status(403);
    view! {
        <Title text="No access · Integration Tracker"/>
        <div class="narrow">
            <h1>"No access yet"</h1>
            <p class="notice error" role="alert">{reason.message()}</p>
            <p><a href="/sign-in">"Back to sign-in"</a></p>
        </div>
    }
}

#[component]
pub fn InvitePage() -> impl IntoView {
    let params = use_params_map();
    let token = params.read_untracked().get("token").unwrap_or_default();
    let info = Resource::new(move || token.clone(), invitation);
    view! {
        <Title text="Invitation · Integration Tracker"/>
        <div class="narrow">
            <h1>"Your invitation"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let token = params.read_untracked().get("token").unwrap_or_default();
                    match info.await {
                        Ok(InvitationInfo::Valid { email, role, partner, options }) => {
                            let what = match partner {
                                Some(p) => format!("{role} of {p}"),
                                None => role,
                            };
                            let none = !options.github && options.oidc.is_none();
                            view! {
                                <p>"You are invited to the Integration Tracker as "<strong>{what}</strong>" ("{email}"). Sign in to accept."</p>
                                <ProviderButtons options=options next="/".into() invite=token/>
                                {none.then(|| view! { <p class="notice">"No identity provider is configured yet; ask your alliance manager."</p> })}
                            }.into_any()
                        }
                        Ok(InvitationInfo::Expired) => view! { <p class="notice error" role="alert">{Refusal::InvitationExpired.message()}</p> }.into_any(),
                        Ok(InvitationInfo::Used) => view! { <p class="notice error" role="alert">{Refusal::InvitationUsed.message()}</p> }.into_any(),
                        Ok(InvitationInfo::Unknown) => view! { <p class="notice error" role="alert">"This invitation link is not valid. Check that you copied all of it, or ask for a new one."</p> }.into_any(),
                        Err(e) => view! { <crate::components::ErrorNotice error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
}
