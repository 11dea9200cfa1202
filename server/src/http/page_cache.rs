//! Rendered staff dashboards, kept by this instance so a dashboard that has
//! not changed is not rendered again for the same viewer.
//!
//! A page is kept under the viewer (everything the page shows of them) and
//! its URL, with the `generated_at` of the snapshot it shows and the change
//! feed's mark from before that snapshot was found current. It is served
//! again, without a database round trip, while the feed has seen no write
//! since (any instance's new snapshot, or any change in the audit trail,
//! moves it, so two instances do not serve different figures for long) and
//! the snapshot is younger than the dashboards' max age (after which the
//! render refreshes it). What changes per response, the CSP nonce, is put
//! back into the copy each time. Only staff views of `/` are kept; partner
//! members' dashboards are computed for each view. A page served from here
//! says so in `x-page-cache: hit`.

use crate::fifo::Fifo;
use crate::http::security::CspNonce;
use crate::AppState;
use app::domain::access::Caller;
use app::domain::dashboard::DashboardQuery;
use app::store::changes::Mark;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

/// A rendered page larger than this is not kept.
const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

pub struct PageCache {
    pages: Fifo<Kept>,
}

struct Kept {
    page: Page,
    /// The snapshot the page shows.
    generated_at: DateTime<Utc>,
    mark: Mark,
}

/// A rendered page cut where its nonce was: `parts` joined with the
/// response's own nonce give the page again.
struct Page {
    headers: HeaderMap,
    parts: Vec<Bytes>,
}

impl Page {
    fn cut(headers: HeaderMap, body: &Bytes, nonce: &str) -> Page {
        let mut parts = Vec::new();
        let (needle, mut start) = (nonce.as_bytes(), 0);
        let mut at = 0;
        while at + needle.len() <= body.len() {
            if !needle.is_empty() && &body[at..at + needle.len()] == needle {
                parts.push(body.slice(start..at));
                at += needle.len();
                start = at;
            } else {
                at += 1;
            }
        }
        parts.push(body.slice(start..));
        Page { headers, parts }
    }

    fn with_nonce(&self, nonce: &str) -> Vec<u8> {
        let len = self.parts.iter().map(Bytes::len).sum::<usize>() + nonce.len() * (self.parts.len() - 1);
        let mut out = Vec::with_capacity(len);
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(nonce.as_bytes());
            }
            out.extend_from_slice(part);
        }
        out
    }
}

impl PageCache {
    /// Keeps up to `capacity` pages; 0 keeps none.
    pub fn new(capacity: usize) -> PageCache {
        PageCache { pages: Fifo::new(capacity) }
    }

    pub fn len(&self) -> usize {
        self.pages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }
}

/// Middleware in front of the pages: answers a staff `GET /` from the cache
/// when this viewer's copy is still current; otherwise renders it, and keeps
/// the copy when the snapshot it shows was current before the render.
pub async fn serve(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // Only what the key needs: a `&Request` held across an await would make this future not `Send`.
    let (method, uri, caller) = (req.method().clone(), req.uri().clone(), req.extensions().get::<Caller>().cloned());
    let Some(key) = cache_key(&state, &method, &uri, caller.as_ref()) else {
        return next.run(req).await;
    };
    let Some(nonce) = req.extensions().get::<CspNonce>().map(|n| n.0.clone()) else {
        return next.run(req).await;
    };
    let now = Utc::now();
    if let Some(kept) = state.page_cache.pages.get(&key) {
        if state.changes.unchanged_since(kept.mark) && now - kept.generated_at < state.dashboard_max_age.0 {
            let mut res = Response::new(Body::from(kept.page.with_nonce(&nonce)));
            *res.headers_mut() = kept.page.headers.clone();
            res.headers_mut().insert("x-page-cache", HeaderValue::from_static("hit"));
            return res;
        }
    }
    // A miss: only pages of filters that validate are kept (others are answered 422).
    let Some(snapshot) = caller.as_ref().and_then(|c| snapshot_of(&uri, c)) else {
        return next.run(req).await;
    };
    // Marked before the snapshot is looked at: a change committed from here on makes the copy stale.
    let Some(mark) = state.changes.mark() else {
        return next.run(req).await;
    };
    let Some(generated_at) = current_snapshot(&state, &snapshot, now).await else {
        return next.run(req).await;
    };
    let res = next.run(req).await;
    if res.status() != StatusCode::OK {
        return res;
    }
    let (mut parts, body) = res.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_PAGE_BYTES).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "page cache: reading a rendered dashboard failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response();
        }
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    let page = Page::cut(parts.headers.clone(), &bytes, &nonce);
    state.page_cache.pages.put(key, Kept { page, generated_at, mark });
    Response::from_parts(parts, Body::from(bytes))
}

/// The key a request's page is kept under, or `None` when it is not one the
/// cache keeps: not a staff view of `/`.
fn cache_key(state: &AppState, method: &Method, uri: &axum::http::Uri, caller: Option<&Caller>) -> Option<String> {
    if state.page_cache.pages.is_off() || method != Method::GET || uri.path() != "/" {
        return None;
    }
    let caller = caller?;
    if caller.partner_scope().is_some() || !caller.role.is_staff() {
        return None;
    }
    let viewer = serde_json::to_string(caller).ok()?;
    Some(format!("{viewer}\n{uri}"))
}

/// The key of the snapshot the page shows, if its filters validate.
fn snapshot_of(uri: &axum::http::Uri, caller: &Caller) -> Option<String> {
    let Query(query) = Query::<DashboardQuery>::try_from_uri(uri).ok()?;
    let filter = query.validate(&caller.email).ok()?;
    Some(app::services::dashboard::snapshot_key(&filter))
}

/// When the snapshot the page will show was computed, if it is current (none
/// stored, changed since, or too old: the render computes or refreshes it,
/// and that page is not kept).
async fn current_snapshot(state: &AppState, snapshot: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    match app::store::snapshots::unchanged_since(&state.db, snapshot).await {
        Ok(Some(at)) if now - at < state.dashboard_max_age.0 => Some(at),
        Ok(_) => None,
        Err(e) => {
            tracing::warn!(error = %e, "page cache: cannot read the snapshot's time; rendering");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_gets_the_new_nonce_everywhere_the_old_one_was() {
        let cases: &[(&str, &str, &str)] = &[
            ("<script nonce=\"N1\">a</script><b nonce=\"N1\">", "N1", "<script nonce=\"XYZ\">a</script><b nonce=\"XYZ\">"),
            ("no nonce at all", "N1", "no nonce at all"),
            ("N1", "N1", "XYZ"),
            ("N1N1", "N1", "XYZXYZ"),
            ("", "N1", ""),
            ("N", "N1", "N"),
        ];
        for (body, old, want) in cases {
            let page = Page::cut(HeaderMap::new(), &Bytes::from(body.to_string()), old);
            assert_eq!(String::from_utf8(page.with_nonce("XYZ")).expect("utf-8"), *want, "{body}");
        }
    }
}
