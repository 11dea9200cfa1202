//! The GitHub client against the fake GitHub API: paging by `link`
//! headers with pull requests left out, `since`, free 304s, the rate
//! limits (primary and secondary) and the budget it reports, server and
//! permission errors worded for the status page, deleted issues, licences,
//! the token, and the refusals: next links to other hosts and local
//! addresses without the allow-list. No database.

use crate::fake_github_api::{t0, FakeGitHubApi, Misbehaviour};
use app::domain::github::{label_periods, licence_verdict, open_periods, EventKind, LicenceVerdict};
use chrono::{DateTime, Duration, Utc};
use server::outbound::github::{GitHubClient, GitHubError, IssuePage, Settings};
use server::outbound::guard::Guard;
use std::sync::Arc;

const OWNER: &str = "acme";
const REPO: &str = "terraform-provider-acme";
const FULL: &str = "acme/terraform-provider-acme";

fn client_with(fake: &FakeGitHubApi, allow: &str, token: Option<&str>, tweak: impl FnOnce(&mut Settings)) -> GitHubClient {
    let mut settings = Settings {
        api_base: url::Url::parse(&fake.base).unwrap(),
        token: token.map(str::to_string),
        timeout: std::time::Duration::from_secs(5),
        ..Settings::default()
    };
    tweak(&mut settings);
    GitHubClient::new(Arc::new(Guard::parse(allow).expect("allow-list")), settings).expect("client")
}

fn client(fake: &FakeGitHubApi) -> GitHubClient {
    client_with(fake, "http://127.0.0.1", Some("ghp_t0k3n"), |_| {})
}

/// 250 issues and 20 pull requests, one a minute from `t0()`; returns the
/// pull requests' numbers.
fn busy_repository(fake: &FakeGitHubApi) -> Vec<i64> {
    let mut prs = Vec::new();
    for k in 0..270 {
        let at = t0() + Duration::minutes(k);
        if k % 27 == 13 || k % 27 == 26 {
            prs.push(fake.add_pull_request(OWNER, REPO, &format!("Add feature {k}"), at));
        } else {
            let labels: &[&str] = if k % 10 == 0 { &["bug", "severity/critical"] } else { &["bug"] };
            fake.add_issue(OWNER, REPO, &format!("Crash on apply {k}"), labels, at);
        }
    }
    prs
}

fn changed(page: IssuePage) -> (Vec<app::domain::github::Issue>, Option<String>, u32, bool) {
    match page {
        IssuePage::Changed { issues, etag, pages, truncated } => (issues, etag, pages, truncated),
        IssuePage::NotModified => panic!("expected a listing, got 304"),
    }
}

fn close_to(at: DateTime<Utc>, want: DateTime<Utc>, slack: i64) -> bool {
    (at - want).num_seconds().abs() <= slack
}

#[tokio::test]
async fn pages_through_every_issue_leaving_out_pull_requests() {
    let fake = FakeGitHubApi::start().await;
    let prs = busy_repository(&fake);
    fake.close(OWNER, REPO, 1, t0() + Duration::days(3), "completed");
    let c = client(&fake);

    let (issues, etag, pages, truncated) = changed(c.list_issues(OWNER, REPO, None, None).await.unwrap());
    assert_eq!((issues.len(), pages, truncated), (250, 3, false));
    assert!(issues.iter().all(|i| !prs.contains(&i.number)), "pull requests are left out");
    assert_eq!(etag, None, "a listing over several pages gets no ETag: a 304 on page 1 says nothing of page 3");
    assert!(issues.windows(2).all(|w| w[0].updated_at <= w[1].updated_at), "oldest update first");
    let last = issues.last().unwrap();
    assert_eq!((last.number, last.open, last.state_reason.as_deref()), (1, false, Some("completed")), "#1 was updated last");
    assert_eq!(last.closed_at, Some(t0() + Duration::days(3)));
    let first = &issues[0];
    assert_eq!((first.number, first.title.as_str(), first.labels.as_slice()), (2, "Crash on apply 1", ["bug".to_string()].as_slice()));
    assert_eq!((first.author.as_str(), first.url.as_str()), ("octocat", "https://github.com/acme/terraform-provider-acme/issues/2"));
    assert!(first.open && first.closed_at.is_none() && first.state_reason.is_none());
    let critical = issues.iter().find(|i| i.number == 11).unwrap();
    assert_eq!(critical.labels, ["bug", "severity/critical"], "label objects give their names");

    let log = fake.log();
    assert_eq!(log.len(), 3, "{log:#?}");
    assert_eq!(log[0].path, format!("/repos/{FULL}/issues?state=all&per_page=100&sort=updated&direction=asc"));
    let id = fake.repo_id(OWNER, REPO);
    for (n, l) in log.iter().enumerate().skip(1) {
        assert!(l.path.starts_with(&format!("/repositories/{id}/issues?")), "the next link is followed as given: {}", l.path);
        assert!(l.path.contains(&format!("page={}", n + 1)) && l.path.contains("per_page=100"), "{}", l.path);
    }
    for l in &log {
        assert_eq!(l.accept.as_deref(), Some("application/vnd.github+json"));
        assert_eq!(l.api_version.as_deref(), Some("2022-11-28"));
        assert!(l.user_agent.as_deref().unwrap_or_default().starts_with("integration-tracker/"), "{:?}", l.user_agent);
    }
    let budget = c.budget().expect("the rate-limit headers are kept");
    assert_eq!((budget.limit, budget.remaining), (Some(5000), 4997));
    assert!(budget.reset > Utc::now());
}

#[tokio::test]
async fn since_lists_only_what_changed() {
    let fake = FakeGitHubApi::start().await;
    busy_repository(&fake);
    let c = client(&fake);
    let (all, ..) = changed(c.list_issues(OWNER, REPO, None, None).await.unwrap());
    fake.clear_log();

    let since = t0() + Duration::minutes(200);
    fake.label(OWNER, REPO, 5, "needs-info", t0() + Duration::days(2));
    let (issues, _, pages, _) = changed(c.list_issues(OWNER, REPO, Some(since), None).await.unwrap());
    let want: Vec<i64> = all.iter().filter(|i| i.updated_at >= since).map(|i| i.number).chain([5]).collect();
    assert_eq!(issues.iter().map(|i| i.number).collect::<Vec<_>>(), want, "updated at or after since, #5 last");
    assert_eq!(pages, 1);
    assert!(issues.last().unwrap().labels.contains(&"needs-info".to_string()));
    let log = fake.log();
    assert!(log[0].path.ends_with("&since=2026-02-02T12%3A20%3A00Z"), "{}", log[0].path);

    let (none, ..) = changed(c.list_issues(OWNER, REPO, Some(t0() + Duration::days(30)), None).await.unwrap());
    assert!(none.is_empty());
}

#[tokio::test]
async fn an_unchanged_list_answers_304_for_free() {
    let fake = FakeGitHubApi::start().await;
    for k in 0..5 {
        fake.add_issue(OWNER, REPO, &format!("Issue {k}"), &[], t0() + Duration::hours(k));
    }
    fake.add_pull_request(OWNER, REPO, "Fix it", t0() + Duration::hours(6));
    let c = client(&fake);
    let (issues, etag, ..) = changed(c.list_issues(OWNER, REPO, None, None).await.unwrap());
    assert_eq!(issues.len(), 5);
    let etag = etag.expect("a one-page listing has an ETag");
    let before = c.budget().unwrap().remaining;

    assert_eq!(c.list_issues(OWNER, REPO, None, Some(&etag)).await.unwrap(), IssuePage::NotModified);
    assert_eq!(fake.log().last().unwrap().if_none_match.as_deref(), Some(etag.as_str()));
    assert_eq!(c.budget().unwrap().remaining, before, "a 304 costs nothing");

    fake.close(OWNER, REPO, 2, t0() + Duration::days(1), "not_planned");
    let (issues, new_etag, ..) = changed(c.list_issues(OWNER, REPO, None, Some(&etag)).await.unwrap());
    assert_ne!(new_etag.as_deref(), Some(etag.as_str()));
    let closed = issues.iter().find(|i| i.number == 2).unwrap();
    assert_eq!((closed.open, closed.state_reason.as_deref()), (false, Some("not_planned")));
    assert_eq!(c.budget().unwrap().remaining, before - 1);
}

#[tokio::test]
async fn the_page_cap_stops_a_listing_and_since_picks_up_the_rest() {
    let fake = FakeGitHubApi::start().await;
    busy_repository(&fake);
    let c = client_with(&fake, "http://127.0.0.1", None, |s| s.max_pages = 2);
    let (first, etag, pages, truncated) = changed(c.list_issues(OWNER, REPO, None, None).await.unwrap());
    assert_eq!((pages, truncated, etag), (2, true, None));
    assert_eq!(fake.log().len(), 2, "no third request");
    let since = first.last().unwrap().updated_at;
    let (rest, _, _, truncated) = changed(c.list_issues(OWNER, REPO, Some(since), None).await.unwrap());
    assert!(!truncated);
    let mut numbers: Vec<i64> = first.iter().chain(&rest).map(|i| i.number).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 250, "every issue once the two listings are put together");
}

#[tokio::test]
async fn a_spent_budget_waits_until_the_reset() {
    let fake = FakeGitHubApi::start().await;
    busy_repository(&fake);
    let reset = DateTime::from_timestamp((Utc::now() + Duration::minutes(30)).timestamp(), 0).unwrap();
    fake.set_budget(1, reset);
    let c = client(&fake);
    let err = c.list_issues(OWNER, REPO, None, None).await.unwrap_err();
    assert_eq!(err, GitHubError::RateLimited { repo: FULL.into(), until: Some(reset) }, "page 1 spent the last request; page 2 is refused");
    assert_eq!((err.outcome(), err.retry_after()), ("rate_limited", Some(reset)));
    assert!(err.to_string().contains("rate limit was reached while reading acme/terraform-provider-acme"), "{err}");
    assert_eq!(c.budget().map(|b| (b.remaining, b.reset)), Some((0, reset)));
    assert_eq!(fake.log().len(), 2);
}

#[tokio::test]
async fn secondary_limits_wait_as_retry_after_says() {
    let fake = FakeGitHubApi::start().await;
    fake.add_issue(OWNER, REPO, "One", &[], t0());
    let c = client(&fake);
    for (status, seconds) in [(403, 90), (429, 30)] {
        fake.misbehave(Misbehaviour::SecondaryLimit { status, retry_after: seconds });
        let err = c.list_issues(OWNER, REPO, None, None).await.unwrap_err();
        let GitHubError::RateLimited { until: Some(until), .. } = err else { panic!("{status}: {err:?}") };
        assert!(close_to(until, Utc::now() + Duration::seconds(seconds as i64), 5), "{status}: {until}");
        assert!(c.budget().unwrap().remaining > 0, "budget left: it is the secondary limit");
    }
    // A bare 429: GitHub does not say how long, so the sync decides.
    fake.misbehave(Misbehaviour::SilentLimit);
    let err = c.list_issues(OWNER, REPO, None, None).await.unwrap_err();
    assert_eq!(err, GitHubError::RateLimited { repo: FULL.into(), until: None });
    assert_eq!(err.retry_after(), None);
    fake.behave();
    assert!(c.list_issues(OWNER, REPO, None, None).await.is_ok());
}

#[tokio::test]
async fn server_errors_and_bad_answers_say_what_failed() {
    let fake = FakeGitHubApi::start().await;
    busy_repository(&fake);
    fake.set_licence(OWNER, REPO, Some("MIT"));
    let c = client(&fake);

    fake.misbehave(Misbehaviour::Status(500));
    let err = c.list_issues(OWNER, REPO, None, None).await.unwrap_err();
    assert_eq!(err.outcome(), "error");
    assert_eq!(err.to_string(), "GitHub answered 500 for the issues of acme/terraform-provider-acme (Server Error)");
    let err = c.licence(OWNER, REPO).await.unwrap_err();
    assert!(matches!(err, GitHubError::Status { status: 500, .. }), "{err:?}");

    fake.misbehave_after(1, Misbehaviour::Status(502));
    let err = c.list_issues(OWNER, REPO, None, None).await.unwrap_err();
    assert!(matches!(err, GitHubError::Status { status: 502, .. }), "a failing second page fails the listing: {err:?}");

    fake.misbehave(Misbehaviour::Malformed);
    let err = c.list_issues(OWNER, REPO, None, None).await.unwrap_err();
    assert!(matches!(err, GitHubError::Malformed { .. }), "{err:?}");
    assert!(err.to_string().starts_with("the issues of acme/terraform-provider-acme, page 1: the issue list is not valid JSON"), "{err}");

    fake.behave();
    let err = c.list_issues(OWNER, "no-such-repo", None, None).await.unwrap_err();
    assert_eq!((err.outcome(), err.to_string().starts_with("acme/no-such-repo is not on GitHub (404)")), ("not_found", true), "{err}");
}

#[tokio::test]
async fn permission_errors_point_at_the_token() {
    let fake = FakeGitHubApi::start().await;
    fake.add_issue(OWNER, REPO, "One", &[], t0());
    let c = client(&fake);

    fake.misbehave(Misbehaviour::Forbidden);
    let err = c.list_issues(OWNER, REPO, None, None).await.unwrap_err();
    assert!(matches!(err, GitHubError::Unauthorised { status: 403, .. }), "a 403 with budget left is no rate limit: {err:?}");
    assert_eq!(err.outcome(), "unauthorised");
    let text = err.to_string();
    assert!(
        text.contains("acme/terraform-provider-acme") && text.contains("Resource not accessible") && text.contains("GITHUB_TOKEN"),
        "{text}"
    );

    fake.behave();
    fake.require_token(Some("ghp_other"));
    let err = c.licence(OWNER, REPO).await.unwrap_err();
    assert!(matches!(err, GitHubError::Unauthorised { status: 401, .. }), "{err:?}");
    assert!(err.to_string().contains("(Bad credentials): check the GitHub token"), "{err}");
    assert!(!err.to_string().contains("ghp_t0k3n"), "the token is never shown");
}

#[tokio::test]
async fn the_token_is_sent_as_bearer() {
    let fake = FakeGitHubApi::start().await;
    fake.add_issue(OWNER, REPO, "One", &[], t0());
    fake.require_token(Some("ghp_t0k3n"));
    client(&fake).list_issues(OWNER, REPO, None, None).await.unwrap();
    assert_eq!(fake.log()[0].authorization.as_deref(), Some("Bearer ghp_t0k3n"));

    fake.require_token(None);
    fake.clear_log();
    client_with(&fake, "http://127.0.0.1", None, |_| {}).list_issues(OWNER, REPO, None, None).await.unwrap();
    assert_eq!(fake.log()[0].authorization, None, "no token, no header");
}

#[tokio::test]
async fn events_give_the_history_and_deleted_issues_are_gone() {
    let fake = FakeGitHubApi::start().await;
    let n = fake.add_issue(OWNER, REPO, "Crash", &["bug"], t0());
    let h = |hours| t0() + Duration::hours(hours);
    fake.label(OWNER, REPO, n, "waiting-on-reporter", h(1));
    fake.close(OWNER, REPO, n, h(2), "completed");
    fake.reopen(OWNER, REPO, n, h(24));
    fake.unlabel(OWNER, REPO, n, "waiting-on-reporter", h(25));
    // Enough label churn for a second page of events.
    for k in 0..60 {
        fake.unlabel(OWNER, REPO, n, "bug", h(26 + k));
        fake.label(OWNER, REPO, n, "bug", h(26 + k) + Duration::minutes(30));
    }
    let c = client(&fake);
    let events = c.issue_events(OWNER, REPO, n).await.unwrap();
    assert_eq!(events.len(), 125, "subscribed and mentioned are skipped");
    assert_eq!((&events[2].kind, events[2].at), (&EventKind::Closed, h(2)));
    let log = fake.log();
    assert_eq!(log.len(), 2, "{log:#?}");
    assert_eq!(log[0].path, format!("/repos/{FULL}/issues/{n}/events?per_page=100"));
    assert!(log[1].path.starts_with(&format!("/repositories/{}/issues/{n}/events?", fake.repo_id(OWNER, REPO))), "{}", log[1].path);

    let (issues, ..) = changed(c.list_issues(OWNER, REPO, None, None).await.unwrap());
    let issue = &issues[0];
    assert_eq!(issue.state_reason.as_deref(), Some("reopened"));
    assert_eq!(open_periods(issue, &events), vec![(t0(), Some(h(2))), (h(24), None)]);
    assert_eq!(label_periods(issue, &events, &["Waiting-On-Reporter".to_string()]), vec![(h(1), Some(h(25)))]);

    for status in [410, 404] {
        let m = fake.add_issue(OWNER, REPO, "Spam", &[], h(100));
        fake.remove_issue(OWNER, REPO, m, status);
        let err = c.issue_events(OWNER, REPO, m).await.unwrap_err();
        assert_eq!(err, GitHubError::Gone { repo: FULL.into(), number: m, status });
        assert_eq!(err.outcome(), "gone");
        let (issues, ..) = changed(c.list_issues(OWNER, REPO, None, None).await.unwrap());
        assert!(issues.iter().all(|i| i.number != m), "a deleted or transferred issue leaves the list");
    }
}

#[tokio::test]
async fn licences_present_missing_and_unnamed() {
    let fake = FakeGitHubApi::start().await;
    let c = client(&fake);
    let cases: &[(Option<&str>, Option<&str>, LicenceVerdict)] = &[
        (Some("MPL-2.0"), Some("MPL-2.0"), LicenceVerdict::Approved),
        (Some("BUSL-1.1"), Some("BUSL-1.1"), LicenceVerdict::NotApproved),
        (Some("NOASSERTION"), Some("NOASSERTION"), LicenceVerdict::NeedsReviewer),
        (None, None, LicenceVerdict::NeedsReviewer),
    ];
    for (file, want, verdict) in cases {
        fake.set_licence(OWNER, REPO, *file);
        let got = c.licence(OWNER, REPO).await.unwrap();
        assert_eq!(got.as_deref(), *want, "{file:?}");
        assert_eq!(licence_verdict(got.as_deref()), *verdict, "{file:?}");
    }
    assert_eq!(fake.log().last().unwrap().path, format!("/repos/{FULL}/license"));
    assert_eq!(c.licence(OWNER, "no-such-repo").await.unwrap(), None, "404 is no licence file");
}

#[tokio::test]
async fn next_links_to_other_origins_are_refused() {
    let fake = FakeGitHubApi::start().await;
    busy_repository(&fake);
    let c = client(&fake);
    let port = url::Url::parse(&fake.base).unwrap().port().unwrap();
    for origin in ["https://evil.example".to_string(), format!("http://localhost:{port}"), format!("https://127.0.0.1:{port}")] {
        fake.misbehave(Misbehaviour::ForeignLinks(origin.clone()));
        fake.clear_log();
        let err = c.list_issues(OWNER, REPO, None, None).await.unwrap_err();
        assert_eq!(err.outcome(), "refused", "{origin}: {err:?}");
        assert!(err.to_string().contains(&format!("points to {origin}, not to the GitHub API at {}", fake.base)), "{err}");
        assert_eq!(fake.log().len(), 1, "{origin}: the foreign page is never asked for");
    }
}

#[tokio::test]
async fn the_ssrf_guard_refuses_local_addresses_unless_allowed() {
    let fake = FakeGitHubApi::start().await;
    fake.add_issue(OWNER, REPO, "One", &[], t0());
    let port = url::Url::parse(&fake.base).unwrap().port().unwrap();
    let https = format!("https://127.0.0.1:{port}/");
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("", None, "127.0.0.1 must be reached over https"),
        ("127.0.0.1", None, "127.0.0.1 must be reached over https"),
        ("", Some(https.as_str()), "127.0.0.1 is not a public address"),
    ];
    for (allow, base, want) in cases {
        let c = client_with(&fake, allow, None, |s| {
            if let Some(b) = base {
                s.api_base = url::Url::parse(b).unwrap();
            }
        });
        let err = c.list_issues(OWNER, REPO, None, None).await.unwrap_err();
        assert_eq!(err.outcome(), "refused", "{allow:?} {base:?}: {err:?}");
        assert!(err.to_string().contains(want), "{err}");
        let err = c.licence(OWNER, REPO).await.unwrap_err();
        assert_eq!(err.outcome(), "refused");
    }
    assert!(fake.log().is_empty(), "nothing reached the fake");
}
