//! Requests to the outside world: one SSRF-guarded HTTP client ([`guard`])
//! and the clients built on it ([`registry`], [`github`], [`run_task`]). Bodies are read chunk by
//! chunk under a size limit, so a hostile server cannot make us buffer
//! gigabytes.

pub mod github;
pub mod guard;
pub mod mailer;
pub mod registry;
pub mod run_task;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;

/// An answer whose body was read in full (within the limit).
#[derive(Debug)]
pub struct Fetched {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The URL after redirects: relative links in the body resolve against it.
    pub url: url::Url,
    pub body: Vec<u8>,
}

/// Why a request produced no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("{0}")]
    Refused(String),
    #[error("no answer within {0} seconds")]
    Timeout(u64),
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    Network(String),
}

impl FetchError {
    fn from_reqwest(e: reqwest::Error, timeout: std::time::Duration) -> Self {
        if e.is_timeout() {
            return FetchError::Timeout(timeout.as_secs().max(1));
        }
        // The guard's refusal travels inside reqwest's error chain.
        let mut source: Option<&dyn std::error::Error> = Some(&e);
        while let Some(s) = source {
            if let Some(r) = s.downcast_ref::<guard::Refusal>() {
                return FetchError::Refused(r.0.clone());
            }
            source = s.source();
        }
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        FetchError::Network(text)
    }
}

/// Sends `request` and reads the body up to `limit` bytes.
pub async fn fetch(request: reqwest::RequestBuilder, limit: usize, timeout: std::time::Duration) -> Result<Fetched, FetchError> {
    let mut response = request.send().await.map_err(|e| FetchError::from_reqwest(e, timeout))?;
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(FetchError::TooLarge(limit));
    }
    let (status, headers, url) = (response.status(), response.headers().clone(), response.url().clone());
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| FetchError::from_reqwest(e, timeout))? {
        if body.len() + chunk.len() > limit {
            return Err(FetchError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched { status, headers, url, body })
}
