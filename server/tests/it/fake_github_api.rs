//! A small GitHub REST API in the tests, speaking the calls the SLA sync
//! makes (`shared/spec/github.md`) with GitHub's payload shapes: the issue
//! list (pull requests included, as GitHub does; `state`, `since`, `sort`,
//! `direction`, `per_page`, `page`), an issue's events, the licence, the
//! repository itself (private or public, its owner), and the latest release.
//! Paging is real: `link` headers pointing at `/repositories/{id}/…` as
//! GitHub's do, so a client that builds page URLs itself gets lost. Lists
//! carry ETags and answer `If-None-Match` with a free 304; every answer
//! carries the rate-limit headers, and a spent budget answers 403 until
//! its reset. Misbehaviour on request: secondary limits, 5xx, permission
//! errors, malformed JSON, next links to another host. It logs what it was
//! asked, and tests change issues between calls as people would on GitHub.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// An issue (or pull request) as the fake keeps it.
#[derive(Clone, Debug)]
pub struct FakeIssue {
    pub number: i64,
    pub title: String,
    pub open: bool,
    pub state_reason: Option<String>,
    pub labels: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub author: String,
    pub pull_request: bool,
    /// Oldest first, as the events list gives them.
    pub events: Vec<Event>,
    /// Deleted (410) or transferred away (404): gone from the list, and
    /// its events answer with this status.
    pub gone: Option<u16>,
}

/// An issue event: (`event`, label name, when).
pub type Event = (String, Option<String>, DateTime<Utc>);

/// Trouble on request; applies to every request from when it is set
/// (see [`FakeGitHubApi::misbehave_after`]).
#[derive(Clone, Debug)]
pub enum Misbehaviour {
    /// `status` (403 or 429) with `retry-after: seconds` and budget left.
    SecondaryLimit { status: u16, retry_after: u64 },
    /// 429 with budget left and no `retry-after`: GitHub does not say how long.
    SilentLimit,
    /// That status with GitHub's error body (500, 502…).
    Status(u16),
    /// 403 with budget left: the token may not read this.
    Forbidden,
    /// 200 with a body cut short.
    Malformed,
    /// `link` URLs on this origin (e.g. `https://evil.example`) instead of the fake's.
    ForeignLinks(String),
}

/// One request, as the fake saw it.
#[derive(Clone, Debug)]
pub struct Logged {
    /// Path and query, e.g. `/repos/acme/widget/issues?state=all&…`.
    pub path: String,
    pub authorization: Option<String>,
    pub if_none_match: Option<String>,
    pub accept: Option<String>,
    pub api_version: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Clone, Debug, Default)]
struct Repo {
    id: i64,
    /// `owner/repo`.
    full_name: String,
    issues: BTreeMap<i64, FakeIssue>,
    /// SPDX id of the licence file; `None`: no licence file (404).
    licence: Option<String>,
    /// The latest release: (tag, published_at); `None`: no release (404).
    release: Option<(String, chrono::DateTime<chrono::Utc>)>,
    /// Readable only by those invited (the fake's token is).
    private: bool,
}

struct Inner {
    repos: HashMap<(String, String), Repo>,
    misbehaviour: Option<Misbehaviour>,
    /// Requests answered so far (the log may have been cleared).
    requests: usize,
    /// The request count after which the misbehaviour applies.
    misbehave_from: usize,
    /// When set, requests without `Authorization: Bearer {token}` get 401.
    token: Option<String>,
    log: Vec<Logged>,
    limit: i64,
    remaining: i64,
    reset: DateTime<Utc>,
}

#[derive(Clone)]
pub struct FakeGitHubApi {
    /// `http://127.0.0.1:port`, the API base to give the client.
    pub base: String,
    inner: Arc<Mutex<Inner>>,
    /// Milliseconds every answer waits first, as a busy GitHub would.
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
}

/// An instant in the fake's past, for tests that do not care when.
pub fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-02-02T09:00:00Z").unwrap().with_timezone(&Utc)
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl FakeGitHubApi {
    pub async fn start() -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            repos: HashMap::new(),
            misbehaviour: None,
            requests: 0,
            misbehave_from: 0,
            token: None,
            log: Vec::new(),
            limit: 5000,
            remaining: 5000,
            reset: Utc::now() + Duration::minutes(42),
        }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the fake GitHub API");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let fake = FakeGitHubApi { base, inner, delay_ms: Arc::default() };
        let app = Router::new().fallback(answer).with_state(fake.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        fake
    }

    fn with_repo<T>(&self, owner: &str, repo: &str, change: impl FnOnce(&mut Repo) -> T) -> T {
        let mut inner = self.inner.lock().unwrap();
        let next_id = 100_000 + inner.repos.len() as i64;
        let r = inner.repos.entry((owner.into(), repo.into())).or_insert_with(|| Repo {
            id: next_id,
            full_name: format!("{owner}/{repo}"),
            ..Repo::default()
        });
        change(r)
    }

    fn with_issue(&self, owner: &str, repo: &str, number: i64, change: impl FnOnce(&mut FakeIssue)) {
        self.with_repo(owner, repo, |r| change(r.issues.get_mut(&number).expect("an issue added earlier")))
    }

    /// Creates the repository (no issues, no licence file) if it is not there.
    pub fn add_repo(&self, owner: &str, repo: &str) {
        self.with_repo(owner, repo, |_| ());
    }

    fn add(&self, owner: &str, repo: &str, title: &str, labels: &[&str], at: DateTime<Utc>, pull_request: bool) -> i64 {
        self.with_repo(owner, repo, |r| {
            let number = r.issues.keys().next_back().copied().unwrap_or(0) + 1;
            let mut events: Vec<Event> = labels.iter().map(|l| ("labeled".to_string(), Some(l.to_string()), at)).collect();
            // GitHub's noise around a new issue.
            events.push(("subscribed".into(), None, at));
            events.push(("mentioned".into(), None, at));
            r.issues.insert(
                number,
                FakeIssue {
                    number,
                    title: title.into(),
                    open: true,
                    state_reason: None,
                    labels: labels.iter().map(|l| l.to_string()).collect(),
                    created_at: at,
                    updated_at: at,
                    closed_at: None,
                    author: "octocat".into(),
                    pull_request,
                    events,
                    gone: None,
                },
            );
            number
        })
    }

    /// Opens an issue with these labels at `at`; returns its number.
    pub fn add_issue(&self, owner: &str, repo: &str, title: &str, labels: &[&str], at: DateTime<Utc>) -> i64 {
        self.add(owner, repo, title, labels, at, false)
    }

    /// Opens a pull request (numbered among the issues, as on GitHub).
    pub fn add_pull_request(&self, owner: &str, repo: &str, title: &str, at: DateTime<Utc>) -> i64 {
        self.add(owner, repo, title, &[], at, true)
    }

    /// Closes an issue, as `completed` or `not_planned`.
    pub fn close(&self, owner: &str, repo: &str, number: i64, at: DateTime<Utc>, reason: &str) {
        self.with_issue(owner, repo, number, |i| {
            i.open = false;
            i.state_reason = Some(reason.into());
            i.closed_at = Some(at);
            i.updated_at = at;
            i.events.push(("closed".into(), None, at));
        });
    }

    pub fn reopen(&self, owner: &str, repo: &str, number: i64, at: DateTime<Utc>) {
        self.with_issue(owner, repo, number, |i| {
            i.open = true;
            i.state_reason = Some("reopened".into());
            i.closed_at = None;
            i.updated_at = at;
            i.events.push(("reopened".into(), None, at));
        });
    }

    pub fn label(&self, owner: &str, repo: &str, number: i64, name: &str, at: DateTime<Utc>) {
        self.with_issue(owner, repo, number, |i| {
            if !i.labels.iter().any(|l| l == name) {
                i.labels.push(name.into());
            }
            i.updated_at = at;
            i.events.push(("labeled".into(), Some(name.into()), at));
        });
    }

    pub fn unlabel(&self, owner: &str, repo: &str, number: i64, name: &str, at: DateTime<Utc>) {
        self.with_issue(owner, repo, number, |i| {
            i.labels.retain(|l| l != name);
            i.updated_at = at;
            i.events.push(("unlabeled".into(), Some(name.into()), at));
        });
    }

    /// Deletes (410) or transfers away (404) an issue.
    pub fn remove_issue(&self, owner: &str, repo: &str, number: i64, status: u16) {
        self.with_issue(owner, repo, number, |i| i.gone = Some(status));
    }

    /// The licence file's SPDX id as GitHub detects it (`NOASSERTION` when
    /// it cannot); `None`: no licence file.
    pub fn set_licence(&self, owner: &str, repo: &str, spdx: Option<&str>) {
        self.with_repo(owner, repo, |r| r.licence = spdx.map(str::to_string));
    }

    /// Publishes a release (`releases/latest` answers it from now on).
    pub fn set_private(&self, owner: &str, repo: &str, private: bool) {
        self.with_repo(owner, repo, |r| r.private = private);
    }

    pub fn set_release(&self, owner: &str, repo: &str, tag: &str, published_at: chrono::DateTime<chrono::Utc>) {
        self.with_repo(owner, repo, |r| r.release = Some((tag.to_string(), published_at)));
    }

    /// Requires `Authorization: Bearer {token}` (401 otherwise).
    pub fn require_token(&self, token: Option<&str>) {
        self.inner.lock().unwrap().token = token.map(str::to_string);
    }

    /// The primary budget: with 0 left, requests answer 403 until `reset`.
    pub fn set_budget(&self, remaining: i64, reset: DateTime<Utc>) {
        let mut inner = self.inner.lock().unwrap();
        inner.remaining = remaining;
        inner.reset = reset;
    }

    /// Every answer from now on waits `delay` first.
    pub fn slow_down(&self, delay: std::time::Duration) {
        self.delay_ms.store(delay.as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn misbehave(&self, m: Misbehaviour) {
        self.misbehave_after(0, m);
    }

    /// Answers the next `requests` requests well, then misbehaves.
    pub fn misbehave_after(&self, requests: usize, m: Misbehaviour) {
        let mut inner = self.inner.lock().unwrap();
        inner.misbehave_from = inner.requests + requests;
        inner.misbehaviour = Some(m);
    }

    pub fn behave(&self) {
        self.inner.lock().unwrap().misbehaviour = None;
    }

    pub fn log(&self) -> Vec<Logged> {
        self.inner.lock().unwrap().log.clone()
    }

    pub fn clear_log(&self) {
        self.inner.lock().unwrap().log.clear();
    }

    /// The repository's numeric id, as its page links name it.
    pub fn repo_id(&self, owner: &str, repo: &str) -> i64 {
        self.with_repo(owner, repo, |r| r.id)
    }
}

fn rate_headers(inner: &Inner, remaining: i64) -> Vec<(&'static str, String)> {
    vec![
        ("x-ratelimit-limit", inner.limit.to_string()),
        ("x-ratelimit-remaining", remaining.to_string()),
        ("x-ratelimit-used", (inner.limit - remaining).to_string()),
        ("x-ratelimit-reset", inner.reset.timestamp().to_string()),
        ("x-ratelimit-resource", "core".into()),
        ("x-github-api-version-selected", "2022-11-28".into()),
    ]
}

fn respond(status: StatusCode, headers: Vec<(&'static str, String)>, body: String) -> Response {
    let mut response = (status, body).into_response();
    let map = response.headers_mut();
    map.insert("content-type", "application/json; charset=utf-8".parse().unwrap());
    for (name, value) in headers {
        map.append(name, value.parse().unwrap());
    }
    response
}

fn error_body(message: &str, docs: &str) -> String {
    json!({"message": message, "documentation_url": format!("https://docs.github.com/rest/{docs}")}).to_string()
}

fn etag_of(body: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(body.as_bytes());
    format!("W/\"{}\"", digest.iter().take(16).map(|b| format!("{b:02x}")).collect::<String>())
}

async fn answer(State(fake): State<FakeGitHubApi>, uri: Uri, headers: HeaderMap) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let path = uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let query: HashMap<String, String> = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()).into_owned().collect();
    let if_none_match = header("if-none-match");
    let delay = fake.delay_ms.load(std::sync::atomic::Ordering::Relaxed);
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    let mut inner = fake.inner.lock().unwrap();
    inner.requests += 1;
    inner.log.push(Logged {
        path,
        authorization: header("authorization"),
        if_none_match: if_none_match.clone(),
        accept: header("accept"),
        api_version: header("x-github-api-version"),
        user_agent: header("user-agent"),
    });
    let budget = inner.remaining;

    if let Some(token) = &inner.token {
        if header("authorization") != Some(format!("Bearer {token}")) {
            return respond(
                StatusCode::UNAUTHORIZED,
                rate_headers(&inner, budget),
                error_body("Bad credentials", "overview/troubleshooting-the-rest-api"),
            );
        }
    }
    // The primary limit: a spent budget answers 403 until the reset.
    if inner.remaining <= 0 && inner.reset > Utc::now() {
        return respond(
            StatusCode::FORBIDDEN,
            rate_headers(&inner, 0),
            error_body("API rate limit exceeded for user ID 1.", "overview/rate-limits-for-the-rest-api"),
        );
    }
    let misbehaviour = inner.misbehaviour.clone().filter(|_| inner.requests > inner.misbehave_from);
    match &misbehaviour {
        Some(Misbehaviour::SecondaryLimit { status, retry_after }) => {
            let mut h = rate_headers(&inner, budget);
            h.push(("retry-after", retry_after.to_string()));
            let message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";
            return respond(StatusCode::from_u16(*status).unwrap(), h, error_body(message, "overview/rate-limits-for-the-rest-api"));
        }
        Some(Misbehaviour::SilentLimit) => {
            let message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";
            let body = error_body(message, "overview/rate-limits-for-the-rest-api");
            return respond(StatusCode::TOO_MANY_REQUESTS, rate_headers(&inner, budget), body);
        }
        Some(Misbehaviour::Status(code)) => {
            return respond(StatusCode::from_u16(*code).unwrap(), rate_headers(&inner, budget), error_body("Server Error", "overview"))
        }
        Some(Misbehaviour::Forbidden) => {
            let message = "Resource not accessible by personal access token";
            return respond(StatusCode::FORBIDDEN, rate_headers(&inner, budget), error_body(message, "issues/issues"));
        }
        _ => {}
    }

    let segments: Vec<String> = uri.path().trim_start_matches('/').split('/').map(str::to_string).collect();
    let (repo, rest): (Option<Repo>, &[String]) = match segments.as_slice() {
        [r, owner, name, rest @ ..] if r == "repos" => (inner.repos.get(&(owner.clone(), name.clone())).cloned(), rest),
        [r, id, rest @ ..] if r == "repositories" => (inner.repos.values().find(|repo| repo.id.to_string() == *id).cloned(), rest),
        _ => (None, &[]),
    };
    let not_found = |inner: &Inner, docs: &str| respond(StatusCode::NOT_FOUND, rate_headers(inner, budget), error_body("Not Found", docs));
    let Some(repo) = repo else { return not_found(&inner, "repos/repos#get-a-repository") };
    let links_origin = match &misbehaviour {
        Some(Misbehaviour::ForeignLinks(origin)) => origin.clone(),
        _ => fake.base.clone(),
    };

    let (status, body, link) = match rest.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["issues"] => {
            let state = query.get("state").map(String::as_str).unwrap_or("open");
            let since = match query.get("since").map(|s| DateTime::parse_from_rfc3339(s)) {
                None => None,
                Some(Ok(t)) => Some(t.with_timezone(&Utc)),
                Some(Err(_)) => {
                    return respond(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        rate_headers(&inner, budget),
                        error_body("Validation Failed", "issues"),
                    )
                }
            };
            let mut items: Vec<&FakeIssue> = repo
                .issues
                .values()
                .filter(|i| i.gone.is_none())
                .filter(|i| match state {
                    "all" => true,
                    "closed" => !i.open,
                    _ => i.open,
                })
                .filter(|i| since.is_none_or(|s| i.updated_at >= s))
                .collect();
            match query.get("sort").map(String::as_str) {
                Some("updated") => items.sort_by_key(|i| (i.updated_at, i.number)),
                _ => items.sort_by_key(|i| (i.created_at, i.number)),
            }
            if query.get("direction").map(String::as_str) != Some("asc") {
                items.reverse();
            }
            let (page, link) = paginate(&items, &query, &format!("{links_origin}/repositories/{}/issues", repo.id));
            let body: Vec<Value> = page.iter().map(|i| issue_json(&repo.full_name, i, repo.id)).collect();
            (StatusCode::OK, Value::Array(body).to_string(), link)
        }
        ["issues", number, "events"] => {
            let issue = number.parse::<i64>().ok().and_then(|n| repo.issues.get(&n));
            let Some(issue) = issue else { return not_found(&inner, "issues/events") };
            match issue.gone {
                Some(410) => {
                    return respond(StatusCode::GONE, rate_headers(&inner, budget), error_body("This issue was deleted", "issues/events"))
                }
                Some(code) => {
                    return respond(
                        StatusCode::from_u16(code).unwrap(),
                        rate_headers(&inner, budget),
                        error_body("Not Found", "issues/events"),
                    )
                }
                None => {}
            }
            let events: Vec<(usize, &Event)> = issue.events.iter().enumerate().collect();
            let (page, link) =
                paginate(&events, &query, &format!("{links_origin}/repositories/{}/issues/{}/events", repo.id, issue.number));
            let body: Vec<Value> = page.iter().map(|(n, e)| event_json(issue.number, *n, e)).collect();
            (StatusCode::OK, Value::Array(body).to_string(), link)
        }
        [] => (StatusCode::OK, repo_json(&repo).to_string(), None),
        ["releases", "latest"] => match &repo.release {
            None => return not_found(&inner, "releases/releases#get-the-latest-release"),
            Some((tag, at)) => {
                let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                let body = serde_json::json!({
                    "url": format!("https://api.github.com/repos/{}/releases/1", repo.full_name),
                    "html_url": format!("https://github.com/{}/releases/tag/{tag}", repo.full_name),
                    "id": 1, "tag_name": tag, "target_commitish": "main", "name": tag,
                    "draft": false, "prerelease": false, "created_at": at, "published_at": at,
                    "assets": [], "body": "## What's changed\n* Fixes"
                });
                (StatusCode::OK, body.to_string(), None)
            }
        },
        ["license"] => match &repo.licence {
            None => return not_found(&inner, "licenses/licenses#get-the-license-for-a-repository"),
            Some(spdx) => (StatusCode::OK, licence_json(&repo.full_name, spdx).to_string(), None),
        },
        _ => return not_found(&inner, "repos"),
    };
    let body = if matches!(misbehaviour, Some(Misbehaviour::Malformed)) { body[..body.len() / 2].to_string() } else { body };
    let etag = etag_of(&body);
    if if_none_match.as_deref() == Some(etag.as_str()) {
        // Conditional hits do not count against the limit.
        return respond(StatusCode::NOT_MODIFIED, [rate_headers(&inner, budget), vec![("etag", etag)]].concat(), String::new());
    }
    inner.remaining = (inner.remaining - 1).max(0);
    let mut h = rate_headers(&inner, inner.remaining);
    h.push(("etag", etag));
    h.push(("cache-control", "private, max-age=60, s-maxage=60".into()));
    if let Some(link) = link {
        h.push(("link", link));
    }
    respond(status, h, body)
}

/// One page of `items` by `per_page` (default 30, at most 100) and `page`
/// (from 1), and the `link` header GitHub would send, built on `base` with
/// the request's other parameters kept.
fn paginate<'a, T>(items: &'a [T], query: &HashMap<String, String>, base: &str) -> (&'a [T], Option<String>) {
    let per_page = query.get("per_page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(30).clamp(1, 100);
    let page = query.get("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let start = ((page - 1) * per_page).min(items.len());
    let end = (start + per_page).min(items.len());
    let mut kept: Vec<(&String, &String)> = query.iter().filter(|(k, _)| k.as_str() != "page").collect();
    kept.sort();
    let url = |n: usize| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &kept {
            q.append_pair(k, v);
        }
        q.append_pair("page", &n.to_string());
        format!("{base}?{}", q.finish())
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", url(page - 1)));
    }
    if page < last {
        links.push(format!("<{}>; rel=\"next\"", url(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"first\"", url(1)));
    }
    (&items[start..end], (!links.is_empty()).then(|| links.join(", ")))
}

/// `GET /repos/{owner}/{repo}`, the fields GitHub sends that matter here and a few around them.
fn repo_json(repo: &Repo) -> Value {
    let (owner, name) = repo.full_name.split_once('/').unwrap_or((&repo.full_name, ""));
    json!({
        "id": repo.id, "node_id": "R_kgDOBbVz9w", "name": name, "full_name": repo.full_name,
        "owner": {"login": owner, "id": 7, "type": "Organization", "site_admin": false},
        "private": repo.private, "visibility": if repo.private { "private" } else { "public" },
        "html_url": format!("https://github.com/{}", repo.full_name), "description": "Terraform provider",
        "fork": false, "archived": false, "disabled": false, "has_issues": true, "default_branch": "main",
        "open_issues_count": repo.issues.values().filter(|i| i.open && i.gone.is_none()).count(),
        "license": repo.licence.as_ref().map(|spdx| json!({"spdx_id": spdx})),
        "pushed_at": "2026-11-20T10:00:00Z", "created_at": "2021-03-01T09:00:00Z", "updated_at": "2026-11-20T10:00:00Z"
    })
}

fn user_json(login: &str) -> Value {
    json!({"login": login, "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==", "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4",
        "url": format!("https://api.github.com/users/{login}"), "html_url": format!("https://github.com/{login}"),
        "type": "User", "site_admin": false})
}

fn label_json(name: &str) -> Value {
    let id = name.bytes().fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64)) % 1_000_000_000;
    json!({"id": id, "node_id": "LA_kwDOB", "url": format!("https://api.github.com/repos/labels/{name}"), "name": name,
        "color": "d73a4a", "default": name == "bug", "description": null})
}

fn issue_json(full: &str, i: &FakeIssue, repo_id: i64) -> Value {
    let api = format!("https://api.github.com/repos/{full}");
    let kind = if i.pull_request { "pull" } else { "issues" };
    let mut v = json!({
        "url": format!("{api}/issues/{}", i.number),
        "repository_url": api,
        "labels_url": format!("{api}/issues/{}/labels{{/name}}", i.number),
        "comments_url": format!("{api}/issues/{}/comments", i.number),
        "events_url": format!("{api}/issues/{}/events", i.number),
        "html_url": format!("https://github.com/{full}/{kind}/{}", i.number),
        "id": repo_id * 10_000 + i.number,
        "node_id": "I_kwDOH4Ksss5",
        "number": i.number,
        "title": i.title,
        "user": user_json(&i.author),
        "labels": i.labels.iter().map(|l| label_json(l)).collect::<Vec<_>>(),
        "state": if i.open { "open" } else { "closed" },
        "locked": false,
        "assignee": null,
        "assignees": [],
        "milestone": null,
        "comments": 2,
        "created_at": iso(i.created_at),
        "updated_at": iso(i.updated_at),
        "closed_at": i.closed_at.map(iso),
        "author_association": "CONTRIBUTOR",
        "active_lock_reason": null,
        "body": format!("### Terraform Version\n\n1.9.0\n\n### Affected Resource(s)\n\n{}\n\nSteps to reproduce…", i.title),
        "closed_by": null,
        "reactions": {"url": format!("{api}/issues/{}/reactions", i.number), "total_count": 1, "+1": 1, "-1": 0},
        "timeline_url": format!("{api}/issues/{}/timeline", i.number),
        "performed_via_github_app": null,
        "state_reason": i.state_reason,
    });
    if i.pull_request {
        v["draft"] = json!(false);
        v["pull_request"] = json!({
            "url": format!("{api}/pulls/{}", i.number), "html_url": format!("https://github.com/{full}/pull/{}", i.number),
            "diff_url": format!("https://github.com/{full}/pull/{}.diff", i.number),
            "patch_url": format!("https://github.com/{full}/pull/{}.patch", i.number), "merged_at": null
        });
    }
    v
}

fn event_json(number: i64, n: usize, (event, label, at): &Event) -> Value {
    let id = 9_000_000_000u64 + number as u64 * 1000 + n as u64;
    let mut v = json!({
        "id": id, "node_id": "LE_lADOAbc", "url": format!("https://api.github.com/repos/events/{id}"),
        "actor": user_json("maintainer"), "event": event, "commit_id": null, "commit_url": null,
        "created_at": iso(*at), "performed_via_github_app": null
    });
    if let Some(name) = label {
        v["label"] = json!({"name": name, "color": "d73a4a"});
    }
    if event == "closed" {
        v["state_reason"] = json!("completed");
    }
    v
}

fn licence_json(full: &str, spdx: &str) -> Value {
    let (key, name, url) = match spdx {
        "NOASSERTION" => ("other".to_string(), "Other".to_string(), Value::Null),
        id => (id.to_lowercase(), format!("{id} licence"), json!(format!("https://api.github.com/licenses/{}", id.to_lowercase()))),
    };
    json!({
        "name": "LICENSE", "path": "LICENSE", "sha": "a7ae3ec1c1b2c6a1e4f9f7e7c2e0d1b8b7f3c2a1", "size": 16726,
        "url": format!("https://api.github.com/repos/{full}/contents/LICENSE?ref=main"),
        "html_url": format!("https://github.com/{full}/blob/main/LICENSE"),
        "git_url": format!("https://api.github.com/repos/{full}/git/blobs/a7ae3ec1"),
        "download_url": format!("https://raw.githubusercontent.com/{full}/main/LICENSE"),
        "type": "file", "content": "TW96aWxsYSBQdWJsaWMgTGljZW5zZSBWZXJzaW9uIDIuMAo=\n", "encoding": "base64",
        "_links": {"self": format!("https://api.github.com/repos/{full}/contents/LICENSE?ref=main"),
            "git": format!("https://api.github.com/repos/{full}/git/blobs/a7ae3ec1"),
            "html": format!("https://github.com/{full}/blob/main/LICENSE")},
        "license": {"key": key, "name": name, "spdx_id": spdx, "url": url, "node_id": "MDc6TGljZW5zZTE0"}
    })
}
