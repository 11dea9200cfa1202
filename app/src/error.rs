//! The one error type of the app: returned by services, carried to the
//! browser by server functions, and turned into JSON HTTP responses by the
//! API. Internal causes are logged where they happen and never sent out.

use crate::domain::FieldErrors;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("sign in to continue")]
    Unauthorized,
    #[error("you may not do this")]
    Forbidden,
    #[error("{0} not found")]
    NotFound(String),
    /// Input broke a rule; `fields` says which and why.
    #[error("{message}")]
    Validation { message: String, fields: FieldErrors },
    /// Input is fine but clashes with what is stored (e.g. a taken slug).
    #[error("{message}")]
    Conflict { message: String, fields: FieldErrors },
    #[error("{0}")]
    BadRequest(String),
    /// Too many attempts in a window (e.g. conformance checks per hour).
    #[error("{0}")]
    TooManyRequests(String),
    #[error("something went wrong on our side; please try again")]
    Internal,
    /// The request never reached our code (network down, bad encoding).
    #[error("request failed: {0}")]
    Transport(String),
}

impl AppError {
    pub fn invalid(fields: FieldErrors) -> Self {
        AppError::Validation { message: "please correct the highlighted fields".into(), fields }
    }

    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut fields = FieldErrors::new();
        fields.insert(field.to_string(), vec![message.clone()]);
        AppError::Conflict { message, fields }
    }

    /// Messages for one form field, if this error has any.
    pub fn field(&self, name: &str) -> Option<String> {
        match self {
            AppError::Validation { fields, .. } | AppError::Conflict { fields, .. } => fields.get(name).map(|m| m.join("; ")),
            _ => None,
        }
    }

    pub fn fields(&self) -> Option<&FieldErrors> {
        match self {
            AppError::Validation { fields, .. } | AppError::Conflict { fields, .. } => Some(fields),
            _ => None,
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            AppError::Unauthorized => 401,
            AppError::Forbidden => 403,
            AppError::NotFound(_) => 404,
            AppError::Validation { .. } => 422,
            AppError::Conflict { .. } => 409,
            AppError::BadRequest(_) | AppError::Transport(_) => 400,
            AppError::TooManyRequests(_) => 429,
            AppError::Internal => 500,
        }
    }
}

impl leptos::server_fn::error::FromServerFnError for AppError {
    type Encoder = leptos::server_fn::codec::JsonEncoding;

    fn from_server_fn_error(value: leptos::server_fn::error::ServerFnErrorErr) -> Self {
        use leptos::server_fn::error::ServerFnErrorErr as E;
        match value {
            // Bad form or query encoding is the caller's mistake.
            E::Args(m) | E::MissingArg(m) => AppError::BadRequest(m),
            other => AppError::Transport(other.to_string()),
        }
    }
}

#[cfg(feature = "ssr")]
mod ssr {
    use super::AppError;
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    use axum::Json;

    /// Database failures are logged with their cause and reported as
    /// `Internal`; unique violations are mapped by the services, which know
    /// which field clashed.
    impl From<sqlx::Error> for AppError {
        fn from(e: sqlx::Error) -> Self {
            match e {
                sqlx::Error::RowNotFound => AppError::NotFound("record".into()),
                other => {
                    tracing::error!(error = %other, "database error");
                    AppError::Internal
                }
            }
        }
    }

    /// `{"error": "...", "fields": {...}}` with the matching status.
    impl IntoResponse for AppError {
        fn into_response(self) -> Response {
            let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut body = serde_json::json!({ "error": self.to_string() });
            if let Some(fields) = self.fields() {
                body["fields"] = serde_json::json!(fields);
            }
            (status, Json(body)).into_response()
        }
    }
}
