//! A client of GitHub's REST API (`shared/spec/github.md`) for the SLA
//! sync: a repository's issues (paged by the `link` header, conditional on
//! the stored ETag), one issue's events, the repository's licence, and
//! whether it is private and whose.
//! Every request goes through the SSRF guard (Enterprise hosts are typed
//! by admins); answers are size-limited; the rate-limit headers of the
//! last answer are kept so the sync can spread its work; errors say which
//! repository and what happened, for the status page.

use super::guard::Guard;
use super::{fetch, FetchError, Fetched};
use app::domain::github::{self as rules, Issue, IssueEvent, RateBudget};
use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::header::{ACCEPT, AUTHORIZATION, ETAG, IF_NONE_MATCH, LINK, RETRY_AFTER};
use reqwest::StatusCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone)]
pub struct Settings {
    /// `https://api.github.com/`, or `https://{host}/api/v3/` for GitHub Enterprise.
    pub api_base: url::Url,
    /// A token (`GITHUB_TOKEN`): 5,000 requests an hour instead of 60, and
    /// private repositories. Never logged.
    pub token: Option<String>,
    /// Per request.
    pub timeout: Duration,
    /// The largest answer read: a page of 100 issues carries their bodies.
    pub max_body: usize,
    /// The most pages one listing follows, so a server handing out `next`
    /// links for ever cannot keep the sync busy.
    pub max_pages: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            api_base: url::Url::parse("https://api.github.com/").expect("a valid URL"),
            token: None,
            timeout: Duration::from_secs(20),
            max_body: 16 * 1024 * 1024,
            max_pages: 50,
        }
    }
}

/// Prints everything but the token.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("api_base", &self.api_base.as_str())
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .field("timeout", &self.timeout)
            .field("max_body", &self.max_body)
            .field("max_pages", &self.max_pages)
            .finish()
    }
}

/// GitHub's own words in an error answer, in brackets, if it gave any.
fn said(message: &Option<String>) -> String {
    message.as_ref().map(|m| format!(" ({m})")).unwrap_or_default()
}

fn waiting(until: &Option<DateTime<Utc>>) -> String {
    match until {
        Some(at) => format!("waiting until {at}"),
        None => "GitHub did not say for how long: backing off".into(),
    }
}

/// What went wrong, worded for the sync status and the log. `repo` is
/// `owner/repo`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GitHubError {
    #[error("{repo}: not fetched: {reason}")]
    Refused { repo: String, reason: String },
    #[error(
        "GitHub refused to show {repo}: {status}{}: check the GitHub token (GITHUB_TOKEN): it may be missing, expired, or without access to the repository",
        said(.message)
    )]
    Unauthorised { repo: String, status: u16, message: Option<String> },
    /// `until` is `None` when GitHub did not say: the sync backs off.
    #[error("GitHub's rate limit was reached while reading {repo}: {}", waiting(.until))]
    RateLimited { repo: String, until: Option<DateTime<Utc>> },
    #[error("{repo} is not on GitHub (404): check the repository URL, or that the token can read a private repository")]
    NotFound { repo: String },
    #[error("{repo} has issues turned off on GitHub (410)")]
    IssuesDisabled { repo: String },
    #[error("issue #{number} of {repo} was deleted or transferred ({status})")]
    Gone { repo: String, number: i64, status: u16 },
    #[error("GitHub answered {status} for {what}{}", said(.message))]
    Status { what: String, status: u16, message: Option<String> },
    #[error("reading {repo} from GitHub: {error}")]
    Fetch { repo: String, error: FetchError },
    #[error("{what}: {message}")]
    Malformed { what: String, message: String },
}

impl GitHubError {
    /// The stored outcome of a sync that ended with this error.
    pub fn outcome(&self) -> &'static str {
        match self {
            GitHubError::Refused { .. } => "refused",
            GitHubError::Unauthorised { .. } => "unauthorised",
            GitHubError::RateLimited { .. } => "rate_limited",
            GitHubError::NotFound { .. } => "not_found",
            GitHubError::IssuesDisabled { .. } => "issues_disabled",
            GitHubError::Gone { .. } => "gone",
            GitHubError::Status { .. } | GitHubError::Fetch { .. } | GitHubError::Malformed { .. } => "error",
        }
    }

    /// When to try again, when GitHub said.
    pub fn retry_after(&self) -> Option<DateTime<Utc>> {
        match self {
            GitHubError::RateLimited { until, .. } => *until,
            _ => None,
        }
    }
}

/// An issue-list answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuePage {
    /// 304: nothing changed since the ETag we sent (free of the rate limit).
    NotModified,
    Changed {
        /// Issues of every page, pull requests left out, oldest update first.
        issues: Vec<Issue>,
        /// The ETag to send on the next call with the same `since`; only
        /// for a listing on one page that is not full (see below).
        etag: Option<String>,
        pages: u32,
        /// The page cap stopped the listing: the rest comes on the next
        /// sync, `since` the latest update listed (the list is sorted by
        /// update, oldest first).
        truncated: bool,
    },
}

pub struct GitHubClient {
    http: reqwest::Client,
    guard: Arc<Guard>,
    settings: Settings,
    budget: Mutex<Option<RateBudget>>,
}

const API_VERSION: &str = "2022-11-28";
/// GitHub's largest page.
const PER_PAGE: usize = 100;

/// The pages of a listing, read to the end (or the cap).
struct Pages {
    bodies: Vec<Vec<u8>>,
    etag: Option<String>,
    truncated: bool,
}

impl GitHubClient {
    pub fn new(guard: Arc<Guard>, mut settings: Settings) -> Result<Self, reqwest::Error> {
        // Joined paths must land below the base: `…/api/v3` means `…/api/v3/`.
        if !settings.api_base.path().ends_with('/') {
            let path = format!("{}/", settings.api_base.path());
            settings.api_base.set_path(&path);
        }
        let http = super::guard::client(guard.clone(), settings.timeout, concat!("integration-tracker/", env!("CARGO_PKG_VERSION")))?;
        Ok(GitHubClient { http, guard, settings, budget: Mutex::new(None) })
    }

    /// The API base, e.g. `https://api.github.com/`.
    pub fn api_base(&self) -> &url::Url {
        &self.settings.api_base
    }

    /// The host of this GitHub's web pages, where repository URLs point:
    /// `github.com` for `api.github.com`, else the Enterprise host itself.
    pub fn web_host(&self) -> String {
        match self.settings.api_base.host_str().unwrap_or_default().to_lowercase() {
            h if h == "api.github.com" => "github.com".into(),
            h => h,
        }
    }

    /// The rate-limit budget from the last answer that carried one.
    pub fn budget(&self) -> Option<RateBudget> {
        *self.budget.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `{base}repos/{owner}/{repo}/…`, each name one path segment whatever it contains.
    fn repo_url(&self, owner: &str, repo: &str, tail: &[&str]) -> Result<url::Url, GitHubError> {
        let mut url = self.settings.api_base.clone();
        url.path_segments_mut()
            .map_err(|_| GitHubError::Refused { repo: format!("{owner}/{repo}"), reason: "the GitHub API URL cannot take a path".into() })?
            .pop_if_empty()
            .extend(["repos", owner, repo])
            .extend(tail);
        Ok(url)
    }

    /// One request: the guard, the headers GitHub asks for, the size limit;
    /// records the budget; turns rate limits and refusals into errors.
    async fn get(&self, repo: &str, url: url::Url, etag: Option<&str>) -> Result<Fetched, GitHubError> {
        self.guard.check_url(&url).map_err(|r| GitHubError::Refused { repo: repo.into(), reason: r.0 })?;
        tracing::debug!(%url, "GitHub request");
        let mut request = self.http.get(url).header(ACCEPT, "application/vnd.github+json").header("x-github-api-version", API_VERSION);
        if let Some(token) = &self.settings.token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(etag) = etag {
            request = request.header(IF_NONE_MATCH, etag);
        }
        let fetched = fetch(request, self.settings.max_body, self.settings.timeout).await.map_err(|error| match error {
            FetchError::Refused(reason) => GitHubError::Refused { repo: repo.into(), reason },
            error => GitHubError::Fetch { repo: repo.into(), error },
        })?;
        let header = |name: &str| fetched.headers.get(name).and_then(|v| v.to_str().ok());
        if let Some(budget) =
            RateBudget::from_headers(header("x-ratelimit-limit"), header("x-ratelimit-remaining"), header("x-ratelimit-reset"))
        {
            *self.budget.lock().unwrap_or_else(|p| p.into_inner()) = Some(budget);
        }
        let status = fetched.status.as_u16();
        let limited =
            rules::limit(status, header(RETRY_AFTER.as_str()), header("x-ratelimit-remaining"), header("x-ratelimit-reset"), Utc::now());
        if let Some(limit) = limited {
            let until = match limit {
                rules::Limit::Until(at) => Some(at),
                rules::Limit::BackOff => None,
            };
            return Err(GitHubError::RateLimited { repo: repo.into(), until });
        }
        if matches!(fetched.status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN) {
            return Err(GitHubError::Unauthorised { repo: repo.into(), status, message: rules::error_message(&fetched.body) });
        }
        Ok(fetched)
    }

    /// Reads a listing page by page, following `link: rel="next"` as given,
    /// only on the API's own origin. `first` answers a 304 with `None`.
    async fn pages(
        &self,
        repo: &str,
        what: &str,
        first: url::Url,
        etag: Option<&str>,
        on_status: impl Fn(StatusCode) -> Option<GitHubError>,
    ) -> Result<Option<Pages>, GitHubError> {
        let mut pages = Pages { bodies: Vec::new(), etag: None, truncated: false };
        let mut next = Some(first);
        while let Some(url) = next.take() {
            if pages.bodies.len() as u32 >= self.settings.max_pages {
                pages.truncated = true;
                break;
            }
            let first_page = pages.bodies.is_empty();
            let fetched = self.get(repo, url, etag.filter(|_| first_page)).await?;
            match fetched.status {
                StatusCode::OK => {}
                StatusCode::NOT_MODIFIED if first_page && etag.is_some() => return Ok(None),
                status => {
                    return Err(on_status(status).unwrap_or_else(|| GitHubError::Status {
                        what: what.to_string(),
                        status: status.as_u16(),
                        message: rules::error_message(&fetched.body),
                    }))
                }
            }
            if first_page {
                pages.etag = fetched.headers.get(ETAG).and_then(|v| v.to_str().ok()).filter(|v| v.len() <= 256).map(str::to_string);
            }
            let links: Vec<&str> = fetched.headers.get_all(LINK).iter().filter_map(|v| v.to_str().ok()).collect();
            if let Some(link) = rules::next_link(Some(&links.join(", "))) {
                // Relative links resolve against the page; other origins are refused.
                let url = fetched.url.join(&link).map_err(|e| GitHubError::Malformed {
                    what: format!("the next-page link of {what}"),
                    message: format!("\"{link}\" is not a URL: {e}"),
                })?;
                if url.origin() != self.settings.api_base.origin() {
                    return Err(GitHubError::Refused {
                        repo: repo.into(),
                        reason: format!(
                            "the next-page link of {what} points to {}, not to the GitHub API at {}",
                            url.origin().ascii_serialization(),
                            self.settings.api_base.origin().ascii_serialization()
                        ),
                    });
                }
                next = Some(url);
            }
            pages.bodies.push(fetched.body);
        }
        Ok(Some(pages))
    }

    /// The repository's issues (pull requests left out) updated at or after
    /// `since`, oldest update first, every page; `NotModified` when `etag`
    /// (from an earlier call with the same `since`) still holds.
    pub async fn list_issues(
        &self,
        owner: &str,
        repo: &str,
        since: Option<DateTime<Utc>>,
        etag: Option<&str>,
    ) -> Result<IssuePage, GitHubError> {
        let name = format!("{owner}/{repo}");
        let what = format!("the issues of {name}");
        let mut url = self.repo_url(owner, repo, &["issues"])?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("state", "all")
                .append_pair("per_page", &PER_PAGE.to_string())
                .append_pair("sort", "updated")
                .append_pair("direction", "asc");
            if let Some(since) = since {
                query.append_pair("since", &since.to_rfc3339_opts(SecondsFormat::Secs, true));
            }
        }
        let on_status = |status| match status {
            StatusCode::NOT_FOUND => Some(GitHubError::NotFound { repo: name.clone() }),
            StatusCode::GONE => Some(GitHubError::IssuesDisabled { repo: name.clone() }),
            _ => None,
        };
        let Some(pages) = self.pages(&name, &what, url, etag, on_status).await? else {
            return Ok(IssuePage::NotModified);
        };
        let mut issues = Vec::new();
        for (i, body) in pages.bodies.iter().enumerate() {
            let page =
                rules::parse_issues(body).map_err(|message| GitHubError::Malformed { what: format!("{what}, page {}", i + 1), message })?;
            issues.extend(page);
        }
        // A 304 on the first page says nothing about later ones, and a full
        // page would not change when an update lands on the next: keep the
        // ETag only for a listing that fits on one page with room to spare.
        let one_page = pages.bodies.len() == 1
            && !pages.truncated
            && serde_json::from_slice::<Vec<serde::de::IgnoredAny>>(&pages.bodies[0]).is_ok_and(|items| items.len() < PER_PAGE);
        Ok(IssuePage::Changed {
            issues,
            etag: pages.etag.filter(|_| one_page),
            pages: pages.bodies.len() as u32,
            truncated: pages.truncated,
        })
    }

    /// The closes, reopenings and label changes of one issue, every page.
    /// `Gone` when the issue was deleted or transferred (404/410).
    pub async fn issue_events(&self, owner: &str, repo: &str, number: i64) -> Result<Vec<IssueEvent>, GitHubError> {
        let name = format!("{owner}/{repo}");
        let what = format!("the events of issue #{number} of {name}");
        let mut url = self.repo_url(owner, repo, &["issues", &number.to_string(), "events"])?;
        url.query_pairs_mut().append_pair("per_page", &PER_PAGE.to_string());
        let on_status = |status: StatusCode| {
            matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE).then(|| GitHubError::Gone {
                repo: name.clone(),
                number,
                status: status.as_u16(),
            })
        };
        let pages = self.pages(&name, &what, url, None, on_status).await?.unwrap_or(Pages { bodies: vec![], etag: None, truncated: false });
        if pages.truncated {
            return Err(GitHubError::Malformed {
                what,
                message: format!("more than {} pages of events: not read", self.settings.max_pages),
            });
        }
        let mut events = Vec::new();
        for (i, body) in pages.bodies.iter().enumerate() {
            events.extend(
                rules::parse_events(body).map_err(|message| GitHubError::Malformed { what: format!("{what}, page {}", i + 1), message })?,
            );
        }
        Ok(events)
    }

    /// The SPDX id GitHub detects for the repository's licence
    /// (`NOASSERTION` when it cannot name it); `None` when there is no
    /// licence file (404).
    pub async fn licence(&self, owner: &str, repo: &str) -> Result<Option<String>, GitHubError> {
        let what = format!("the licence of {owner}/{repo}");
        let Some(body) = self.optional(owner, repo, &["license"], &what).await? else { return Ok(None) };
        rules::parse_licence(&body).map_err(|message| GitHubError::Malformed { what, message })
    }

    /// Whether the repository is private, and whose it is.
    pub async fn repository(&self, owner: &str, repo: &str) -> Result<rules::Visibility, GitHubError> {
        let name = format!("{owner}/{repo}");
        let fetched = self.get(&name, self.repo_url(owner, repo, &[])?, None).await?;
        match fetched.status {
            StatusCode::OK => rules::parse_repository(&fetched.body)
                .map_err(|message| GitHubError::Malformed { what: format!("the repository {name}"), message }),
            StatusCode::NOT_FOUND => Err(GitHubError::NotFound { repo: name }),
            status => Err(GitHubError::Status {
                what: format!("the repository {name}"),
                status: status.as_u16(),
                message: rules::error_message(&fetched.body),
            }),
        }
    }

    /// The repository's latest release (neither draft nor prerelease);
    /// `None` when it has none (404).
    pub async fn latest_release(&self, owner: &str, repo: &str) -> Result<Option<rules::Release>, GitHubError> {
        let what = format!("the latest release of {owner}/{repo}");
        let Some(body) = self.optional(owner, repo, &["releases", "latest"], &what).await? else { return Ok(None) };
        rules::parse_latest_release(&body).map(Some).map_err(|message| GitHubError::Malformed { what, message })
    }

    /// A repository document that may be absent: its body, or `None` for 404.
    async fn optional(&self, owner: &str, repo: &str, path: &[&str], what: &str) -> Result<Option<Vec<u8>>, GitHubError> {
        let name = format!("{owner}/{repo}");
        let fetched = self.get(&name, self.repo_url(owner, repo, path)?, None).await?;
        match fetched.status {
            StatusCode::OK => Ok(Some(fetched.body)),
            StatusCode::NOT_FOUND => Ok(None),
            status => {
                Err(GitHubError::Status { what: what.to_string(), status: status.as_u16(), message: rules::error_message(&fetched.body) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> GitHubClient {
        let settings = Settings { api_base: url::Url::parse(base).unwrap(), token: Some("ghp_secret".into()), ..Settings::default() };
        GitHubClient::new(Arc::new(Guard::default()), settings).unwrap()
    }

    #[test]
    fn urls_and_hosts() {
        let cases = [
            ("https://api.github.com/", "github.com", "https://api.github.com/repos/acme/widget/issues"),
            ("https://api.github.com", "github.com", "https://api.github.com/repos/acme/widget/issues"),
            ("https://GHE.example.com/api/v3", "ghe.example.com", "https://ghe.example.com/api/v3/repos/acme/widget/issues"),
            ("https://ghe.example.com/api/v3/", "ghe.example.com", "https://ghe.example.com/api/v3/repos/acme/widget/issues"),
        ];
        for (base, host, issues) in cases {
            let c = client(base);
            assert_eq!(c.web_host(), host, "{base}");
            assert_eq!(c.repo_url("acme", "widget", &["issues"]).unwrap().as_str(), issues, "{base}");
        }
        let odd = client("https://api.github.com/").repo_url("a/../b", "c?d", &["license"]).unwrap();
        assert_eq!(odd.as_str(), "https://api.github.com/repos/a%2F..%2Fb/c%3Fd/license", "names stay one segment each");
    }

    #[test]
    fn the_token_is_never_printed() {
        let c = client("https://api.github.com/");
        let debug = format!("{:?}", c.settings);
        assert!(!debug.contains("ghp_secret") && debug.contains("(set)"), "{debug}");
    }

    #[test]
    fn errors_for_the_status_page() {
        let until = DateTime::parse_from_rfc3339("2026-03-02T10:00:00Z").unwrap().with_timezone(&Utc);
        let cases: Vec<(GitHubError, &str, &str)> = vec![
            (
                GitHubError::Unauthorised { repo: "acme/widget".into(), status: 401, message: Some("Bad credentials".into()) },
                "unauthorised",
                "GitHub refused to show acme/widget: 401 (Bad credentials): check the GitHub token",
            ),
            (
                GitHubError::RateLimited { repo: "acme/widget".into(), until: Some(until) },
                "rate_limited",
                "GitHub's rate limit was reached while reading acme/widget: waiting until 2026-03-02 10:00:00 UTC",
            ),
            (
                GitHubError::RateLimited { repo: "acme/widget".into(), until: None },
                "rate_limited",
                "GitHub's rate limit was reached while reading acme/widget: GitHub did not say for how long: backing off",
            ),
            (GitHubError::NotFound { repo: "acme/widget".into() }, "not_found", "acme/widget is not on GitHub (404)"),
            (GitHubError::Gone { repo: "acme/widget".into(), number: 7, status: 410 }, "gone", "issue #7 of acme/widget was deleted"),
            (
                GitHubError::Status { what: "the issues of acme/widget".into(), status: 502, message: Some("Bad Gateway".into()) },
                "error",
                "GitHub answered 502 for the issues of acme/widget (Bad Gateway)",
            ),
            (
                GitHubError::Fetch { repo: "acme/widget".into(), error: FetchError::Timeout(20) },
                "error",
                "reading acme/widget from GitHub: no answer within 20 seconds",
            ),
        ];
        for (e, outcome, text) in cases {
            assert_eq!(e.outcome(), outcome, "{e:?}");
            assert!(e.to_string().starts_with(text), "{e}");
            let stated = matches!(e, GitHubError::RateLimited { until: Some(_), .. });
            assert_eq!(e.retry_after(), stated.then_some(until));
        }
    }
}
