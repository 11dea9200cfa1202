//! `/auth/*`: start a sign-in at a provider, finish it on the callback,
//! the bootstrap admin's one-time link, the demo picker, and sign-out.
//! Every failure ends on a page that says what happened, never a blank error.

use super::{encode, safe_next, OAUTH_COOKIE, SESSION_COOKIE};
use crate::AppState;
use app::services::secret::hash;
use app::services::sign_in::{self, Refusal};
use app::store::users::{self as store, OAuthState};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::Utc;
use serde::Deserialize;
use std::net::SocketAddr;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/{provider}/start", get(start))
        .route("/auth/{provider}/callback", get(callback))
        .route("/auth/bootstrap/{token}", get(bootstrap_page).post(bootstrap_sign_in))
        .route("/auth/demo", post(demo_sign_in))
        .route("/auth/sign-out", post(sign_out))
}

/// How long a started sign-in may take at the provider.
const STATE_TTL_MINUTES: i64 = 10;

#[derive(Deserialize)]
struct StartQuery {
    next: Option<String>,
    /// The secret of an invitation link followed before signing in.
    invite: Option<String>,
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// A page for people, with a link back to sign-in.
fn message_page(status: StatusCode, title: &str, message: &str) -> Response {
    let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let html = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{t} · Integration Tracker</title><link rel="stylesheet" href="/pkg/app.css"></head>
<body><header class="top"><a class="brand" href="/">Integration Tracker</a></header>
<main id="main" class="narrow"><h1>{t}</h1><p>{m}</p><p><a href="/sign-in">Back to sign-in</a></p></main></body></html>"#,
        t = esc(title),
        m = esc(message)
    );
    (status, Html(html)).into_response()
}

fn refused(reason: Refusal) -> Response {
    Redirect::to(&format!("/sign-in/refused?reason={}", reason.key())).into_response()
}

async fn rate_limited(state: &AppState, client: &SocketAddr) -> Option<Response> {
    let limit = state.auth.config.rate_limit_per_minute;
    match sign_in::within_rate_limit(&state.db, &client.ip().to_string(), limit, Utc::now()).await {
        Ok(true) => None,
        Ok(false) => {
            tracing::warn!(client = %client.ip(), "sign-in rate limit reached");
            let mut res = message_page(StatusCode::TOO_MANY_REQUESTS, "Too many sign-in attempts", "Please wait a minute and try again.");
            res.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
            Some(res)
        }
        Err(e) => Some(e.into_response()),
    }
}

async fn start(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(provider): Path<String>,
    Query(q): Query<StartQuery>,
) -> Response {
    if let Some(res) = rate_limited(&state, &client).await {
        return res;
    }
    let auth = &state.auth;
    let started = match provider.as_str() {
        "github" => match &auth.github {
            Some(gh) => gh.authorize_url().map(|(url, st, verifier)| (url, st, verifier, String::new())).map_err(|e| e.to_string()),
            None => return message_page(StatusCode::NOT_FOUND, "Not available", "Sign-in with GitHub is not configured here."),
        },
        "oidc" => match &auth.oidc {
            Some(oidc) => oidc.authorize_url().await.map_err(|e| e.to_string()),
            None => return message_page(StatusCode::NOT_FOUND, "Not available", "Single sign-on is not configured here."),
        },
        _ => return message_page(StatusCode::NOT_FOUND, "Not available", "There is no such sign-in provider."),
    };
    let (url, oauth_state, verifier, nonce) = match started {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(provider, error = e, "cannot start sign-in");
            return message_page(
                StatusCode::BAD_GATEWAY,
                "Sign-in is unavailable",
                "The identity provider cannot be reached right now. Please try again in a moment.",
            );
        }
    };
    let now = Utc::now();
    let row = OAuthState {
        state: oauth_state.clone(),
        provider: provider.clone(),
        pkce_verifier: verifier,
        nonce,
        invitation_hash: q.invite.as_deref().map(hash),
        return_to: safe_next(q.next.as_deref()),
        expires_at: now + chrono::Duration::minutes(STATE_TTL_MINUTES),
    };
    if let Err(e) = store::insert_oauth_state(&state.db, &row, now).await {
        return app::error::AppError::from(e).into_response();
    }
    let mut res = Redirect::to(&url).into_response();
    res.headers_mut().append(header::SET_COOKIE, auth.cookie(OAUTH_COOKIE, &oauth_state, Some(STATE_TTL_MINUTES * 60)));
    res
}

async fn callback(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Response {
    if let Some(res) = rate_limited(&state, &client).await {
        return res;
    }
    let auth = &state.auth;
    let clear = auth.clear_cookie(OAUTH_COOKIE);
    let fail = |title: &str, message: &str| {
        let mut res = message_page(StatusCode::BAD_REQUEST, title, message);
        res.headers_mut().append(header::SET_COOKIE, clear.clone());
        res
    };
    if let Some(error) = q.error {
        tracing::info!(provider, error, description = q.error_description, "the provider ended the sign-in");
        return fail("Sign-in cancelled", "The identity provider did not complete the sign-in. You can try again.");
    }
    let (Some(code), Some(returned_state)) = (q.code, q.state) else {
        return fail("Sign-in failed", "The provider's answer was incomplete. Please start again.");
    };
    // The state must be the one this browser started with, and still pending.
    if auth.read_cookie(&headers, OAUTH_COOKIE).as_deref() != Some(returned_state.as_str()) {
        tracing::warn!(provider, "callback state does not match the browser's cookie");
        return fail("Sign-in failed", "This sign-in was not started in this browser, or it took too long. Please start again.");
    }
    let now = Utc::now();
    let pending = match store::take_oauth_state(&state.db, &returned_state, now).await {
        Ok(Some(p)) if p.provider == provider => p,
        Ok(_) => return fail("Sign-in failed", "This sign-in has expired or was already used. Please start again."),
        Err(e) => return app::error::AppError::from(e).into_response(),
    };
    let identity = match provider.as_str() {
        "github" => match &auth.github {
            Some(gh) => gh.identity(&code, &pending.pkce_verifier).await.map_err(|e| e.to_string()),
            None => Err("GitHub sign-in is not configured".to_string()),
        },
        "oidc" => match &auth.oidc {
            Some(oidc) => oidc.identity(&code, &pending.pkce_verifier, &pending.nonce).await.map_err(|e| e.to_string()),
            None => Err("OIDC sign-in is not configured".to_string()),
        },
        _ => Err("unknown provider".to_string()),
    };
    let identity = match identity {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(provider, error = e, "sign-in refused");
            return fail("Sign-in failed", &format!("We could not confirm who you are: {e}."));
        }
    };
    let user_id = match sign_in::resolve(&state.db, &identity, pending.invitation_hash.as_deref(), now).await {
        Ok(Ok(id)) => id,
        Ok(Err(reason)) => {
            tracing::info!(provider, email = identity.email, reason = reason.key(), "signed in at the provider but refused here");
            let mut res = refused(reason);
            res.headers_mut().append(header::SET_COOKIE, clear);
            return res;
        }
        Err(e) => return e.into_response(),
    };
    let mut res = signed_in(&state, &headers, user_id, &pending.return_to).await;
    res.headers_mut().append(header::SET_COOKIE, clear);
    res
}

/// Starts a session and sends the browser on. The browser's previous
/// session, if any, is ended: the session id always changes at sign-in.
async fn signed_in(state: &AppState, headers: &HeaderMap, user_id: i64, next: &str) -> Response {
    if let Some(old) = state.auth.read_cookie(headers, SESSION_COOKIE) {
        if let Err(e) = sign_in::end_session(&state.db, &old).await {
            return e.into_response();
        }
    }
    match sign_in::start_session(&state.db, &state.auth.config.policy, user_id, Utc::now()).await {
        Ok(secret) => {
            let mut res = Redirect::to(next).into_response();
            let max_age = state.auth.config.policy.session_absolute.num_seconds();
            res.headers_mut().append(header::SET_COOKIE, state.auth.cookie(SESSION_COOKIE, &secret, Some(max_age)));
            res
        }
        Err(e) => e.into_response(),
    }
}

/// The bootstrap link shows a button rather than signing in on GET, so a
/// link preview or prefetch cannot use it up.
async fn bootstrap_page(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    let valid = matches!(
        store::link(&state.db, &hash(&token), "bootstrap").await,
        Ok(Some((_, expires, None))) if expires > Utc::now()
    );
    if !valid {
        return message_page(StatusCode::GONE, "Link expired", Refusal::LinkExpired.message());
    }
    let email = &state.auth.config.bootstrap_admin_email;
    let html = format!(
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>First sign-in · Integration Tracker</title><link rel="stylesheet" href="/pkg/app.css"></head>
<body><header class="top"><a class="brand" href="/">Integration Tracker</a></header>
<main id="main" class="narrow"><h1>First sign-in</h1>
<p>This one-time link signs you in as the administrator <strong>{email}</strong>. Once in, invite your colleagues under Users and configure GitHub or single sign-on.</p>
<form method="post"><button type="submit" class="primary">Sign in as administrator</button></form></main></body></html>"#,
        email = email.replace('<', "&lt;")
    );
    Html(html).into_response()
}

async fn bootstrap_sign_in(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    if let Some(res) = rate_limited(&state, &client).await {
        return res;
    }
    match sign_in::use_bootstrap_link(&state.db, &token, &state.auth.config.bootstrap_admin_email, Utc::now()).await {
        Ok(Ok(user_id)) => signed_in(&state, &headers, user_id, "/").await,
        Ok(Err(_)) => message_page(StatusCode::GONE, "Link expired", Refusal::LinkExpired.message()),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct DemoForm {
    user_id: i64,
}

async fn demo_sign_in(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<DemoForm>) -> Response {
    if !state.auth.demo_allowed {
        return message_page(StatusCode::NOT_FOUND, "Not available", "Demo sign-in is only offered on a local demo server.");
    }
    match sign_in::demo_user(&state.db, form.user_id).await {
        Ok(Some(id)) => signed_in(&state, &headers, id, "/").await,
        Ok(None) => message_page(StatusCode::NOT_FOUND, "Not available", "There is no such demo account."),
        Err(e) => e.into_response(),
    }
}

async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(secret) = state.auth.read_cookie(&headers, SESSION_COOKIE) {
        if let Err(e) = sign_in::end_session(&state.db, &secret).await {
            return e.into_response();
        }
    }
    let mut res = Redirect::to(&format!("/sign-in?signed_out={}", encode("1"))).into_response();
    res.headers_mut().append(header::SET_COOKIE, state.auth.clear_cookie(SESSION_COOKIE));
    res
}
