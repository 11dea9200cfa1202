//! HTTP routes beside the Leptos pages: the JSON API under `/api/v1`, the
//! health check, and the server-function endpoint the pages post to.

pub mod api;
mod extract;

use crate::AppState;
use app::{shell, App};
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use axum::{Json, Router};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

/// Request bodies larger than this are refused (forms and JSON are small).
const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let db = state.db.clone();
    let context = move || provide_context(db.clone());
    let options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(health))
        .nest("/api/v1", api::router())
        // Unknown API paths get a JSON 404, not the server-function handler's text.
        .route("/api/v1/{*rest}", any(|| async { app::error::AppError::NotFound("API route".into()) }))
        .route("/api/{*fn_name}", any(server_fn))
        .leptos_routes_with_context(&state, routes, context, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .with_state(state)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
}

/// 200 when the database answers, 503 when it does not.
async fn health(State(state): State<AppState>) -> impl IntoResponse {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ok", "database": state.db.backend()}))),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable", "database": state.db.backend()})),
            )
        }
    }
}

async fn server_fn(State(state): State<AppState>, req: Request<Body>) -> impl IntoResponse {
    let db = state.db.clone();
    handle_server_fns_with_context(move || provide_context(db.clone()), req).await
}
