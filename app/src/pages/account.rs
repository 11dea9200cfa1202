//! Settings → API tokens: each person's personal tokens for the JSON API.
//! A new token is shown once, right after it is made.

use crate::components::{ErrorNotice, TextField};
use crate::domain::user::ApiToken;
use crate::error::AppError;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

#[server(endpoint = "tokens/list")]
pub async fn list_tokens() -> Result<Vec<ApiToken>, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::answer(crate::services::tokens::list(&db, &caller).await)
}

/// A token just made, with the secret its owner must copy now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewToken {
    pub token: ApiToken,
    pub secret: String,
}

#[server(endpoint = "tokens/create")]
pub async fn create_token(#[server(default)] name: String) -> Result<NewToken, AppError> {
    let (db, caller) = crate::context::signed_in()?;
    let result = crate::services::tokens::create(&db, &caller, &name, chrono::Utc::now()).await;
    crate::context::form_result(result.map(|(token, secret)| NewToken { token, secret }))
}

#[server(endpoint = "tokens/revoke")]
pub async fn revoke_token(id: i64) -> Result<(), AppError> {
    let (db, caller) = crate::context::signed_in()?;
    crate::context::form_result(crate::services::tokens::revoke(&db, &caller, id, chrono::Utc::now()).await)?;
    leptos_axum::redirect("/settings/tokens");
    Ok(())
}

fn when(t: Option<chrono::DateTime<chrono::Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_else(|| "never".into())
}

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let tokens = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_tokens());
    let error = Signal::derive(move || create.value().get().and_then(Result::err));
    let field = move |name: &'static str| Signal::derive(move || error.get().and_then(|e| e.field(name)));
    let created = move || create.value().get().and_then(Result::ok);
    let hydrated = crate::components::use_hydrated();
    view! {
        <Title text="API tokens · Integration Tracker"/>
        <h1>"Personal API tokens"</h1>
        <p>"Scripts and CI use these to call the "<a href="/api/v1/openapi.json" rel="external">"JSON API"</a>" as you, with "<code>"Authorization: Bearer <token>"</code>". A token can do what you can do; revoke it when it is no longer needed."</p>
        {move || created().map(|t| view! {
            <div class="notice success" role="status">
                <p>{format!("Token \"{}\" created. Copy it now: it will not be shown again.", t.token.name)}</p>
                <p><output class="secret" aria-label="New token">{t.secret}</output></p>
            </div>
        })}
        <ActionForm action=create attr:class="form inline">
            <TextField label="Token name" name="name" required=true error=field("name") hint="What it is for, e.g. \"CI pipeline\"."/>
            <button type="submit" class="primary" disabled=move || !hydrated.get() || create.pending().get()>"Create token"</button>
        </ActionForm>
        <Transition fallback=|| view! { <p class="loading">"Loading tokens…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    Ok(list) if list.is_empty() => view! { <p class="empty">"You have no API tokens yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="list">
                            <thead><tr><th scope="col">"Name"</th><th scope="col">"Starts with"</th><th scope="col">"Created"</th><th scope="col">"Last used"</th><th scope="col">"Status"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|t| {
                                    let live = t.revoked_at.is_none();
                                    view! {
                                        <tr>
                                            <td>{t.name.clone()}</td>
                                            <td><code>{format!("{}…", t.prefix)}</code></td>
                                            <td>{when(Some(t.created_at))}</td>
                                            <td>{when(t.last_used_at)}</td>
                                            <td>{if live { "active".to_string() } else { format!("revoked {}", when(t.revoked_at)) }}</td>
                                            <td>{live.then(|| view! {
                                                <ActionForm action=revoke>
                                                    <input type="hidden" name="id" value=t.id.to_string()/>
                                                    <button type="submit" aria-label=format!("Revoke {}", t.name)>"Revoke"</button>
                                                </ActionForm>
                                            })}</td>
                                        </tr>
                                    }
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}
