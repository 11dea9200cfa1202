//! Server-side glue for server functions: the shared state they read, who
//! is asking, and how their errors reach a browser that has not loaded the
//! wasm yet.

use crate::domain::access::Caller;
use crate::error::AppError;
use crate::services::sign_in::Policy;
use crate::store::Db;
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use leptos::prelude::*;
use leptos::server_fn::error::ServerFnUrlError;
use leptos_axum::ResponseOptions;

/// The database and the signed-in caller, together: server functions get
/// the database only through this, so none can forget to ask who is asking.
pub fn signed_in() -> Result<(Db, Caller), AppError> {
    let caller = caller().ok_or(AppError::Unauthorized);
    let caller = answer(caller)?;
    Ok((db()?, caller))
}

/// The caller the server's sign-in middleware found for this request (from
/// the session cookie or an API token), if any.
pub fn caller() -> Option<Caller> {
    use_context::<Parts>().and_then(|p| p.extensions.get::<Caller>().cloned())
}

/// The public address of the site, for links people are sent.
#[derive(Debug, Clone)]
pub struct BaseUrl(pub String);

pub fn base_url() -> String {
    use_context::<BaseUrl>().map(|b| b.0).unwrap_or_default()
}

/// How the server sends mail (provided by the server at start).
pub fn mail_transport() -> crate::domain::outbox::MailTransport {
    use_context::<crate::domain::outbox::MailTransport>().unwrap_or_default()
}

/// Session and invitation lifetimes, as configured.
pub fn policy() -> Policy {
    use_context::<Policy>().unwrap_or_default()
}

/// The database, for the few server functions that serve people before
/// they sign in (the sign-in page).
pub(crate) fn db() -> Result<Db, AppError> {
    use_context::<Db>().ok_or_else(|| {
        tracing::error!("the database was not provided as context");
        AppError::Internal
    })
}

/// Sets the HTTP status of the page being rendered (e.g. 404 for a
/// partner that does not exist); only takes effect on async-rendered routes.
pub fn set_status(status: u16) {
    if let (Some(res), Ok(code)) = (use_context::<ResponseOptions>(), StatusCode::from_u16(status)) {
        res.set_status(code);
    }
}

/// Gives a server function's HTTP answer the status of its error (422,
/// 404…) instead of the blanket 500 server functions use by default; the
/// hydrated client decodes the error either way.
pub fn answer<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(e) = &result {
        set_status(e.status());
    }
    result
}

/// A plain HTML form post (before hydration) cannot read a JSON error, so
/// on failure the browser is sent back to the form with the error encoded
/// in the URL (`__path`/`__err`), where the form's `ServerAction` picks it up
/// and shows it next to the fields. Hydrated calls are left untouched.
pub fn form_result<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    let result = answer(result);
    let Err(error) = &result else { return result };
    let (Some(parts), Some(res)) = (use_context::<Parts>(), use_context::<ResponseOptions>()) else {
        return result;
    };
    let accepts_html = parts.headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("text/html"));
    let referer = parts.headers.get(header::REFERER).and_then(|v| v.to_str().ok());
    if let (true, Some(referer)) = (accepts_html, referer) {
        let mut back = referer.to_string();
        ServerFnUrlError::<AppError>::strip_error_info(&mut back);
        if let Ok(url) = ServerFnUrlError::new(parts.uri.path(), error.clone()).to_url(&back) {
            if let Ok(location) = HeaderValue::from_str(url.as_str()) {
                res.insert_header(header::LOCATION, location);
                res.set_status(StatusCode::SEE_OTHER);
            }
        }
    }
    result
}
