//! HTTP routes beside the Leptos pages: the JSON API under `/api/v1`, the
//! health check, sign-in under `/auth`, and the server-function endpoint the
//! pages post to. Every request first passes `auth::authenticate` (who is
//! asking; anonymous requests stop there unless the path is public) and
//! gets the security headers.

pub mod api;
mod csv;
mod extract;
pub mod page_cache;
pub mod run_task_callback;
pub mod sample_run_task;
pub mod security;

use crate::AppState;
use app::{shell, App};
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Json, Router};
use leptos::prelude::{provide_context, use_context};
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::trace::TraceLayer;

/// Request bodies larger than this are refused (forms and JSON are small),
/// except evidence uploads: see [`limit_body`].
const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The app's page routes, worked out once per process. Generating them runs
/// the app with resource loading suppressed process-wide (a global flag in
/// leptos_server), so doing it while another server in the same process
/// renders a page can leave that page waiting forever (leptos issue #4773);
/// the test suite runs many servers in one process.
pub fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn router(state: AppState) -> Router {
    let routes = route_list();
    let context = page_context(&state);
    let options = state.leptos_options.clone();
    let sample = match state.sample_run_task {
        true => sample_run_task::router(),
        false => Router::new(),
    };
    Router::new()
        .route("/healthz", get(health))
        .merge(crate::auth::routes::router())
        .merge(api::router())
        .merge(run_task_callback::router())
        .merge(sample)
        // Unknown API paths get a JSON 404, not the server-function handler's text.
        .route("/api/v1/{*rest}", any(|| async { app::error::AppError::NotFound("API route".into()) }))
        .route("/api/{*fn_name}", any(server_fn))
        .leptos_routes_with_context(&state, routes, context, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn_with_state(state.clone(), page_cache::serve))
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::auth::authenticate))
        .layer(axum::middleware::from_fn_with_state(state.auth.secure_cookies, security::headers))
        .layer(axum::middleware::from_fn_with_state(upload_limit(&state), limit_body))
        .with_state(state)
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
}

/// The largest body of an evidence upload: the file at its limit
/// (`EVIDENCE_MAX_MB`), with the form's text fields and framing.
fn upload_limit(state: &AppState) -> usize {
    usize::try_from(state.blobs.max_bytes).unwrap_or(usize::MAX).saturating_add(MAX_BODY_BYTES)
}

/// Limits every request body to [`MAX_BODY_BYTES`], and an evidence upload
/// (`POST /api/v1/tasks/{id}/report`) to `upload`: its handler reads the
/// file under the evidence limit itself and says when it is too large. A
/// declared length past the limit is answered at once; a longer body than
/// declared fails where it is read.
async fn limit_body(State(upload): State<usize>, req: Request<Body>, next: axum::middleware::Next) -> axum::response::Response {
    let path = req.uri().path();
    let is_upload = req.method() == axum::http::Method::POST
        && path.strip_prefix("/api/v1/tasks/").and_then(|rest| rest.strip_suffix("/report")).is_some_and(|id| !id.contains('/'));
    let limit = if is_upload { upload } else { MAX_BODY_BYTES };
    let declared = req.headers().get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        let message = format!("the request body is larger than the {} bytes this address takes", limit);
        return (StatusCode::PAYLOAD_TOO_LARGE, Json(serde_json::json!({ "error": message }))).into_response();
    }
    next.run(req.map(|body| Body::new(http_body_util::Limited::new(body, limit)))).await
}

/// 200 when the database answers, 503 when it does not.
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ok", "database": state.db.backend()}))),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({"status": "unavailable", "database": state.db.backend()})))
        }
    }
}

async fn server_fn(State(state): State<AppState>, req: Request<Body>) -> impl IntoResponse {
    handle_server_fns_with_context(page_context(&state), req).await
}

/// What pages and server functions find in their context: the database,
/// the sign-in settings, and this request's CSP nonce for Leptos's scripts.
/// (The caller is read from the request's extensions: `app::context::caller`.)
fn page_context(state: &AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    let db = state.db.clone();
    let policy = state.auth.config.policy.clone();
    let base_url = app::context::BaseUrl(state.auth.base_url.clone());
    let mail = state.mail.clone();
    let checks = state.checks;
    let plain_http = state.plain_http.clone();
    let max_age = state.dashboard_max_age;
    let github_orgs = state.github_orgs.clone();
    let options = app::pages::sign_in::SignInOptions {
        github: state.auth.github.is_some(),
        oidc: state.auth.oidc.as_ref().map(|o| o.label().to_string()),
        demo: state.auth.demo_allowed,
    };
    move || {
        provide_context(db.clone());
        provide_context(policy.clone());
        provide_context(base_url.clone());
        provide_context(options.clone());
        provide_context(mail.clone());
        provide_context(checks);
        provide_context(plain_http.clone());
        provide_context(max_age);
        provide_context(github_orgs.clone());
        let nonce = use_context::<axum::http::request::Parts>().and_then(|p| p.extensions.get::<security::CspNonce>().cloned());
        if let Some(nonce) = nonce {
            provide_context(leptos::nonce::Nonce::from_value(nonce.0));
        }
    }
}
