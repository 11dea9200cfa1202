//! Rendered staff dashboards, kept by this instance so a dashboard that has
//! not changed is not rendered again for the same viewer.
//!
//! A page is cached under the viewer (everything the page shows of them),
//! its URL and the `generated_at` of the snapshot it shows, which lives in
//! the database, and only while that snapshot is current: when any
//! instance stores a newer one, or anything changes (the audit trail
//! moves), every instance's copies stop matching, so two instances never
//! serve different figures for the same snapshot. What changes per response, the CSP
//! nonce, is put back into the copy each time. Only staff views of `/` are
//! cached; partner members' dashboards are computed for each view.

use crate::http::security::CspNonce;
use crate::AppState;
use app::domain::access::Caller;
use app::domain::dashboard::DashboardQuery;
use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

/// A rendered page larger than this is not kept.
const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

pub struct PageCache {
    capacity: usize,
    pages: Mutex<Pages>,
}

#[derive(Default)]
struct Pages {
    by_key: HashMap<String, Arc<Page>>,
    /// Oldest first: the first to go when the cache is full.
    order: VecDeque<String>,
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
        PageCache { capacity, pages: Mutex::new(Pages::default()) }
    }

    fn get(&self, key: &str) -> Option<Arc<Page>> {
        self.pages.lock().ok()?.by_key.get(key).cloned()
    }

    fn put(&self, key: String, page: Page) {
        let Ok(mut pages) = self.pages.lock() else { return };
        if pages.by_key.insert(key.clone(), Arc::new(page)).is_none() {
            pages.order.push_back(key);
        }
        while pages.order.len() > self.capacity {
            if let Some(old) = pages.order.pop_front() {
                pages.by_key.remove(&old);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.pages.lock().map(|p| p.by_key.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Middleware in front of the pages: answers a staff `GET /` from the cache
/// when the snapshot it would show is current and this viewer's copy of it is
/// here; otherwise renders it and keeps the copy.
pub async fn serve(State(state): State<AppState>, req: Request, next: Next) -> Response {
    // Only what the key needs: a `&Request` held across an await would make this future not `Send`.
    let (method, uri, caller) = (req.method().clone(), req.uri().clone(), req.extensions().get::<Caller>().cloned());
    let Some(key) = cache_key(&state, &method, &uri, caller.as_ref()).await else {
        return next.run(req).await;
    };
    let Some(nonce) = req.extensions().get::<CspNonce>().map(|n| n.0.clone()) else {
        return next.run(req).await;
    };
    if let Some(page) = state.page_cache.get(&key) {
        let mut res = Response::new(Body::from(page.with_nonce(&nonce)));
        *res.headers_mut() = page.headers.clone();
        return res;
    }
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
    state.page_cache.put(key, Page::cut(parts.headers.clone(), &bytes, &nonce));
    Response::from_parts(parts, Body::from(bytes))
}

/// The key a request's page is kept under, or `None` when it is not one the
/// cache keeps: not a staff view of `/`, filters that do not validate, or
/// no current snapshot (none, changed since, or too old: the render
/// computes or refreshes it).
async fn cache_key(state: &AppState, method: &Method, uri: &axum::http::Uri, caller: Option<&Caller>) -> Option<String> {
    if state.page_cache.capacity == 0 || method != Method::GET || uri.path() != "/" {
        return None;
    }
    let caller = caller?;
    if caller.partner_scope().is_some() || !caller.role.is_staff() {
        return None;
    }
    let Query(query) = Query::<DashboardQuery>::try_from_uri(uri).ok()?;
    let filter = query.validate(&caller.email).ok()?;
    let snapshot = app::services::dashboard::snapshot_key(&filter);
    let generated_at = match app::store::snapshots::unchanged_since(&state.db, &snapshot).await {
        Ok(Some(at)) => at,
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(error = %e, "page cache: cannot read the snapshot's time; rendering");
            return None;
        }
    };
    if chrono::Utc::now() - generated_at >= state.dashboard_max_age.0 {
        return None;
    }
    let viewer = serde_json::to_string(caller).ok()?;
    Some(format!("{viewer}\n{uri}\n{}", generated_at.timestamp_micros()))
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

    #[test]
    fn the_oldest_page_goes_first_when_full() {
        let cache = PageCache::new(2);
        let page = || Page::cut(HeaderMap::new(), &Bytes::from_static(b"p"), "n");
        cache.put("a".into(), page());
        cache.put("b".into(), page());
        cache.put("a".into(), page());
        assert_eq!(cache.len(), 2);
        cache.put("c".into(), page());
        assert!(cache.get("a").is_none() && cache.get("b").is_some() && cache.get("c").is_some());
        let none = PageCache::new(0);
        none.put("a".into(), page());
        assert!(none.is_empty());
    }
}
