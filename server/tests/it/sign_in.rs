//! Sign-in end to end over HTTP: the GitHub flow against a local stand-in
//! for GitHub, invitations, the organisation rule, refusals, the bootstrap
//! link, sessions and sign-out, deactivation, API tokens, origin checks,
//! security headers and the CLI.

use crate::fake_github::{Account, FakeGithub, CLIENT_ID, CLIENT_SECRET};
use crate::helpers::{http_client, spawn_app, spawn_app_with, Backend, TestApp};
use app::domain::access::Role;
use app::domain::user::UserStatus;
use serde_json::json;

/// An app with GitHub sign-in pointing at a fresh fake GitHub.
async fn app_with_github(backend: Backend) -> (TestApp, FakeGithub) {
    let github = FakeGithub::start().await;
    let url = github.url.clone();
    let app = spawn_app_with(backend, |c| {
        c.auth.github = Some(server::config::GithubConfig {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            web_url: url.clone(),
            api_url: url,
        });
        // The sync's token goes along with organisation lookups.
        c.support.client.token = Some("ghp_lookup".into());
    })
    .await;
    (app, github)
}

/// A browser: keeps cookies, follows no redirects (the tests do, step by step).
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("browser")
}

fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no Location on a {} answer", res.status()))
        .to_str()
        .expect("location")
        .to_string()
}

/// Starts at `/auth/github/start{query}`, goes through the fake GitHub, and
/// returns the callback's answer.
async fn github_round_trip(app: &TestApp, browser: &reqwest::Client, query: &str) -> reqwest::Response {
    let start = browser.get(app.url(&format!("/auth/github/start{query}"))).send().await.expect("start");
    assert_eq!(start.status(), 303, "start should redirect to GitHub");
    let authorize = location(&start);
    assert!(authorize.contains("code_challenge=") && authorize.contains("state="), "{authorize}");
    let back = browser.get(&authorize).send().await.expect("authorize");
    assert_eq!(back.status(), 303, "GitHub should redirect back");
    browser.get(location(&back)).send().await.expect("callback")
}

async fn is_signed_in(app: &TestApp, browser: &reqwest::Client) -> bool {
    let res = browser.get(app.url("/")).send().await.expect("GET /");
    res.status() == 200
}

#[tokio::test]
async fn an_invited_user_signs_in_with_github_and_out_again() {
    let (app, github) = app_with_github(Backend::Sqlite).await;
    let (status, invited) = {
        let res = app
            .client
            .post(app.url("/api/users/invite"))
            .form(&[("email", "Rita@Partner.example"), ("role", "reviewer"), ("name", "Rita")])
            .send()
            .await
            .expect("invite");
        crate::helpers::json_of(res).await
    };
    assert_eq!(status, 200, "{invited}");
    assert!(invited["link"].as_str().unwrap().contains("/invite/"), "{invited}");

    github.sign_in_as(Account::new(101, "rita", "rita@partner.example"));
    let b = browser();
    assert!(!is_signed_in(&app, &b).await);
    let done = github_round_trip(&app, &b, "?next=/partners").await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/partners");
    let cookie = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("tracker_session="))
        .expect("a session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "no Secure flag on plain http: {cookie}");
    assert!(is_signed_in(&app, &b).await);
    let me = crate::helpers::json_of(b.post(app.url("/api/auth/me")).header("origin", app.url("")).send().await.unwrap()).await;
    assert_eq!(me.1["role"], "reviewer", "{me:?}");
    assert_eq!(me.1["name"], "Rita");

    // The invitation was accepted: the user is active and bound to GitHub id 101.
    let user = app::store::users::get_by_email(&app.db, "rita@partner.example").await.unwrap().unwrap();
    assert_eq!(user.status, UserStatus::Active);
    assert!(user.last_sign_in_at.is_some());

    // Signing in again gives a new session id.
    let again = github_round_trip(&app, &b, "").await;
    let second = again
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("tracker_session="))
        .unwrap();
    assert_ne!(cookie.split(';').next(), second.split(';').next());

    let out = b.post(app.url("/auth/sign-out")).header("origin", app.url("")).send().await.unwrap();
    assert_eq!(out.status(), 303);
    assert!(location(&out).starts_with("/sign-in"));
    assert!(!is_signed_in(&app, &b).await, "signed out");
}

#[tokio::test]
async fn the_github_org_rule_lets_members_join_their_partner() {
    let (app, github) = app_with_github(Backend::Postgres).await;
    let org_id = github.organisation("orbit-labs");
    let (status, body) = app
        .post_json(
            "/api/v1/partners",
            &json!({"name": "Orbit", "kind": "infrastructure", "github_org": "Orbit-Labs", "github_auto_join": true}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["github_org_id"], org_id, "looked up on GitHub when auto-join was switched on");
    assert_eq!(github.lookups(), vec![Some("Bearer ghp_lookup".to_string())]);
    app.partner("Quiet", "infrastructure").await; // has no rule

    let mut member = Account::new(202, "ola", "ola@orbit.example");
    member.orgs = vec!["some-oss".into(), "orbit-labs".into()];
    github.sign_in_as(member);
    let b = browser();
    let done = github_round_trip(&app, &b, "").await;
    assert_eq!(location(&done), "/");
    let me = crate::helpers::json_of(b.post(app.url("/api/auth/me")).header("origin", app.url("")).send().await.unwrap()).await.1;
    assert_eq!(me["role"], "partner");
    assert_eq!(me["partner"]["slug"], "orbit");
    // …and sees only their partner.
    let list = b.get(app.url("/partners")).send().await.unwrap().text().await.unwrap();
    assert!(list.contains("Orbit") && !list.contains("Quiet"));

    // Someone in no matching organisation is told to ask for an invitation.
    let mut stranger = Account::new(203, "stray", "stray@elsewhere.example");
    stranger.orgs = vec!["quiet".into()];
    github.sign_in_as(stranger);
    let b2 = browser();
    let refused = github_round_trip(&app, &b2, "").await;
    assert_eq!(location(&refused), "/sign-in/refused?reason=not-invited");
    let page = b2.get(app.url("/sign-in/refused?reason=not-invited")).send().await.unwrap();
    assert_eq!(page.status(), 403);
    assert!(page.text().await.unwrap().contains("Ask your alliance manager"));
    assert!(!is_signed_in(&app, &b2).await);
    assert!(app::store::users::get_by_email(&app.db, "stray@elsewhere.example").await.unwrap().is_none(), "no account was made");
}

/// Members are matched on the organisation's numeric id, looked up when
/// auto-join is switched on: a renamed organisation keeps its members
/// coming, and its old login, registered by somebody else, lets nobody in.
#[tokio::test]
async fn auto_join_follows_the_organisation_not_its_login() {
    let (app, github) = app_with_github(Backend::Sqlite).await;
    let nimbus = json!({"name": "Nimbus", "kind": "infrastructure", "github_org": "nimbus-labs", "github_auto_join": true});
    // A login GitHub does not know is the field's error, and nothing is saved.
    let (status, err) = app.post_json("/api/v1/partners", &nimbus).await;
    assert_eq!(status, 422, "{err}");
    assert!(err["fields"]["github_org"][0].as_str().unwrap().contains("GitHub has no organisation \"nimbus-labs\""), "{err}");
    assert_eq!(app.get_json("/api/v1/partners/nimbus").await.0, 404);

    let org_id = github.organisation("Nimbus-Labs");
    let (status, partner) = app.post_json("/api/v1/partners", &nimbus).await;
    assert_eq!(status, 201, "{partner}");
    assert_eq!(partner["github_org_id"], org_id);
    let partner_id = partner["id"].as_i64().unwrap();

    // The organisation renames itself, and somebody registers the old login.
    github.rename_organisation("nimbus-labs", "nimbus-cloud");
    assert_ne!(github.organisation("nimbus-labs"), org_id);
    let mut squatter = Account::new(801, "mallory", "mallory@elsewhere.example");
    squatter.orgs = vec!["nimbus-labs".into()];
    github.sign_in_as(squatter);
    let refused = github_round_trip(&app, &browser(), "").await;
    assert_eq!(location(&refused), "/sign-in/refused?reason=not-invited");
    assert!(app::store::users::get_by_email(&app.db, "mallory@elsewhere.example").await.unwrap().is_none());

    // A member of the renamed organisation joins, though it is on the
    // second page of the 120 organisations they belong to.
    let mut member = Account::new(802, "nia", "nia@nimbus.example");
    member.orgs =
        (0..110).map(|i| format!("oss-{i}")).chain(["nimbus-cloud".to_string()]).chain((0..9).map(|i| format!("more-{i}"))).collect();
    github.sign_in_as(member);
    assert_eq!(location(&github_round_trip(&app, &browser(), "").await), "/");
    let nia = app::store::users::get_by_email(&app.db, "nia@nimbus.example").await.unwrap().unwrap();
    assert_eq!(nia.partner_slug.as_deref(), Some("nimbus"));

    // Switching auto-join off forgets the id; a partner saved before ids
    // were kept (auto-join on, no id) lets nobody in until it is saved again.
    let (status, off) = app.send_json(reqwest::Method::PATCH, "/api/v1/partners/nimbus", &json!({"github_auto_join": false})).await;
    assert_eq!((status, &off["github_org_id"]), (200, &serde_json::Value::Null), "{off}");
    app::on_pool!(&app.db, |pool| {
        sqlx::query("UPDATE partners SET github_org = 'nimbus-cloud', github_auto_join = $1 WHERE id = $2")
            .bind(true)
            .bind(partner_id)
            .execute(pool)
            .await
            .unwrap();
    });
    let page = app.get("/partners/nimbus").await.text().await.unwrap();
    assert!(page.contains("members cannot join yet"), "the page says what to do");
    let mut late = Account::new(803, "noor", "noor@nimbus.example");
    late.orgs = vec!["nimbus-cloud".into()];
    github.sign_in_as(late.clone());
    assert_eq!(location(&github_round_trip(&app, &browser(), "").await), "/sign-in/refused?reason=not-invited");
    // A reviewer's unrelated edit neither fails for it nor confirms it:
    // only admins let an organisation's members in.
    let (_, reviewer) = app.client_as("rev@staff.example", Role::Reviewer, None).await;
    let (status, edited) = crate::helpers::json_of(
        reviewer.patch(app.url("/api/v1/partners/nimbus")).json(&json!({"name": "Nimbus Cloud"})).send().await.unwrap(),
    )
    .await;
    assert_eq!((status, &edited["github_org_id"]), (200, &serde_json::Value::Null), "{edited}");
    let (status, saved) = app.send_json(reqwest::Method::PATCH, "/api/v1/partners/nimbus", &json!({})).await;
    assert_eq!((status, &saved["github_org_id"]), (200, &json!(org_id)), "{saved}");
    github.sign_in_as(late);
    assert_eq!(location(&github_round_trip(&app, &browser(), "").await), "/");
}

#[tokio::test]
async fn a_callback_with_a_foreign_or_reused_state_is_refused() {
    let (app, github) = app_with_github(Backend::Sqlite).await;
    app.user("eve@example.com", Role::Viewer, None, UserStatus::Active).await;
    github.sign_in_as(Account::new(303, "eve", "eve@example.com"));

    // The callback arrives in a browser that did not start the sign-in.
    let starter = browser();
    let start = starter.get(app.url("/auth/github/start")).send().await.unwrap();
    let back = starter.get(location(&start)).send().await.unwrap();
    let callback = location(&back);
    let other = browser();
    let res = other.get(&callback).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("not started in this browser"));
    assert!(!is_signed_in(&app, &other).await);

    // The genuine callback works once; replaying it, even with the state
    // cookie, does not.
    let ok = starter.get(&callback).send().await.unwrap();
    assert_eq!(ok.status(), 303, "{}", ok.text().await.unwrap_or_default());
    assert!(is_signed_in(&app, &starter).await);
    let state = callback.split("state=").nth(1).unwrap().split('&').next().unwrap().to_string();
    let replay = http_client(None).get(&callback).header("cookie", format!("tracker_oauth={state}")).send().await.unwrap();
    assert_eq!(replay.status(), 400);
    assert!(replay.text().await.unwrap().contains("already used"));

    // A forged state fails even with a matching cookie.
    let forged = callback.replace("state=", "state=x");
    let res = http_client(None).get(&forged).header("cookie", format!("tracker_oauth=x{state}")).send().await.unwrap();
    assert_eq!(res.status(), 400);

    // A provider error ends on a page, not a crash.
    let cancelled = browser().get(app.url("/auth/github/callback?error=access_denied&state=abc")).send().await.unwrap();
    assert_eq!(cancelled.status(), 400);
}

#[tokio::test]
async fn too_few_scopes_or_no_verified_email_are_refused() {
    let (app, github) = app_with_github(Backend::Sqlite).await;
    app.user("sam@example.com", Role::Viewer, None, UserStatus::Active).await;
    let mut narrow = Account::new(404, "sam", "sam@example.com");
    narrow.scope = "user:email".into();
    github.sign_in_as(narrow);
    let b = browser();
    let res = github_round_trip(&app, &b, "").await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("read:org"));

    let mut unverified = Account::new(404, "sam", "sam@example.com");
    unverified.emails = vec![("sam@example.com".into(), true, false)];
    github.sign_in_as(unverified);
    let res = github_round_trip(&app, &b, "").await;
    assert_eq!(res.status(), 400);
    assert!(!is_signed_in(&app, &b).await);
}

#[tokio::test]
async fn an_expired_invitation_is_refused() {
    let (app, github) = app_with_github(Backend::Postgres).await;
    let uid = app.user("late@example.com", Role::Viewer, None, UserStatus::Invited).await;
    let past = chrono::Utc::now() - chrono::Duration::days(8);
    let secret = "expired-invitation-secret";
    app::store::users::insert_link(
        &app.db,
        &app::services::secret::hash(secret),
        "invitation",
        Some(uid),
        past,
        past + chrono::Duration::days(7),
    )
    .await
    .unwrap();
    // The invitation page says so…
    let page = browser().get(app.url(&format!("/invite/{secret}"))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("has expired"), "{page}");
    // …and signing in with the invited email is refused.
    github.sign_in_as(Account::new(505, "late", "late@example.com"));
    let b = browser();
    let res = github_round_trip(&app, &b, &format!("?invite={secret}")).await;
    assert_eq!(location(&res), "/sign-in/refused?reason=invitation-expired");
    let res = github_round_trip(&app, &b, "").await;
    assert_eq!(location(&res), "/sign-in/refused?reason=invitation-expired");
    assert!(!is_signed_in(&app, &b).await);
}

#[tokio::test]
async fn an_invitation_link_binds_whoever_follows_it_once() {
    let (app, github) = app_with_github(Backend::Sqlite).await;
    let res = app
        .client
        .post(app.url("/api/users/invite"))
        .form(&[("email", "new.member@orbit.example"), ("role", "viewer")])
        .send()
        .await
        .unwrap();
    let link = crate::helpers::json_of(res).await.1["link"].as_str().unwrap().to_string();
    let secret = link.rsplit('/').next().unwrap().to_string();
    let page = browser().get(&link).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("new.member@orbit.example") && page.contains("Viewer"), "{page}");
    // Their GitHub account uses another address: the link still binds it.
    github.sign_in_as(Account::new(606, "nm", "personal@mail.example"));
    let b = browser();
    let res = github_round_trip(&app, &b, &format!("?invite={secret}")).await;
    assert_eq!(location(&res), "/");
    assert!(is_signed_in(&app, &b).await);
    // A second person cannot reuse it.
    github.sign_in_as(Account::new(607, "other", "other@mail.example"));
    let res = github_round_trip(&app, &browser(), &format!("?invite={secret}")).await;
    assert_eq!(location(&res), "/sign-in/refused?reason=invitation-used");
}

#[tokio::test]
async fn accepted_or_replaced_invitation_links_stop_working() {
    let (app, github) = app_with_github(Backend::Postgres).await;
    let invite = |email: &'static str| {
        let app = &app;
        async move {
            let res = app.client.post(app.url("/api/users/invite")).form(&[("email", email), ("role", "admin")]).send().await.unwrap();
            let link = crate::helpers::json_of(res).await.1["link"].as_str().unwrap().to_string();
            link.rsplit('/').next().unwrap().to_string()
        }
    };
    // Accepted by signing in with the invited email: the link is used up.
    let secret = invite("boss@staff.example").await;
    github.sign_in_as(Account::new(701, "boss", "boss@staff.example"));
    assert_eq!(location(&github_round_trip(&app, &browser(), "").await), "/");
    github.sign_in_as(Account::new(702, "mallory", "mallory@mail.example"));
    let res = github_round_trip(&app, &browser(), &format!("?invite={secret}")).await;
    assert_eq!(location(&res), "/sign-in/refused?reason=invitation-used");
    // A second GitHub account with the same email is not the same person.
    github.sign_in_as(Account::new(703, "boss-alt", "boss@staff.example"));
    let res = github_round_trip(&app, &browser(), "").await;
    assert_eq!(location(&res), "/sign-in/refused?reason=not-invited");

    // A new invitation link replaces the old one.
    let old = invite("late@staff.example").await;
    let user = app::store::users::get_by_email(&app.db, "late@staff.example").await.unwrap().unwrap();
    let res = app.client.post(app.url("/api/users/reinvite")).form(&[("id", user.id.to_string())]).send().await.unwrap();
    let new = crate::helpers::json_of(res).await.1["link"].as_str().unwrap().rsplit('/').next().unwrap().to_string();
    github.sign_in_as(Account::new(704, "late", "elsewhere@mail.example"));
    let res = github_round_trip(&app, &browser(), &format!("?invite={old}")).await;
    assert_eq!(location(&res), "/sign-in/refused?reason=invitation-used");
    let res = github_round_trip(&app, &browser(), &format!("?invite={new}")).await;
    assert_eq!(location(&res), "/");
}

#[tokio::test]
async fn only_admins_let_an_organisation_join() {
    // Without GitHub sign-in nobody could join through an organisation.
    let bare = spawn_app(Backend::Sqlite).await;
    let body = json!({"name": "Joiner", "kind": "infrastructure", "github_org": "joiner", "github_auto_join": true});
    let (status, err) = bare.post_json("/api/v1/partners", &body).await;
    assert_eq!(status, 422, "{err}");
    assert!(err["fields"]["github_org"][0].as_str().unwrap().contains("GitHub sign-in is not configured"), "{err}");

    let (app, github) = app_with_github(Backend::Sqlite).await;
    github.organisation("joiner");
    let (_, reviewer) = app.client_as("rev@staff.example", Role::Reviewer, None).await;
    let (status, err) = crate::helpers::json_of(reviewer.post(app.url("/api/v1/partners")).json(&body).send().await.unwrap()).await;
    assert_eq!(status, 422, "{err}");
    assert!(err["fields"]["github_auto_join"][0].as_str().unwrap().contains("only an admin"));
    let (status, _) = app.post_json("/api/v1/partners", &body).await;
    assert_eq!(status, 201);
    // A reviewer may still edit the partner, leaving the rule as it is.
    let (status, body) = crate::helpers::json_of(
        reviewer.patch(app.url("/api/v1/partners/joiner")).json(&json!({"name": "Joiner Inc"})).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Without a GitHub organisation the rule makes no sense.
    let (status, err) = app.post_json("/api/v1/partners", &json!({"name": "Nobody", "kind": "workflow", "github_auto_join": true})).await;
    assert_eq!(status, 422);
    assert!(err["fields"]["github_auto_join"].is_array(), "{err}");
}

#[tokio::test]
async fn deactivation_ends_sessions_and_tokens_at_once() {
    let app = spawn_app(Backend::Postgres).await;
    let (uid, api) = app.client_as("leaver@example.com", Role::Reviewer, None).await;
    let session = app.session_for(uid).await;
    let b = http_client(None);
    let with_cookie = |path: &str| b.get(app.url(path)).header("cookie", format!("tracker_session={session}"));
    assert_eq!(with_cookie("/").send().await.unwrap().status(), 200);
    assert_eq!(api.get(app.url("/api/v1/partners")).send().await.unwrap().status(), 200);

    let res = app
        .client
        .post(app.url("/api/users/set-active"))
        .form(&[("id", uid.to_string().as_str()), ("active", "false")])
        .send()
        .await
        .unwrap();
    assert!(res.status().as_u16() < 400, "{}", res.status());

    let page = with_cookie("/").send().await.unwrap();
    assert_eq!(page.status(), 303, "the session no longer works");
    assert_eq!(location(&page), "/sign-in");
    let (status, body) = crate::helpers::json_of(api.get(app.url("/api/v1/partners")).send().await.unwrap()).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not valid"));
}

#[tokio::test]
async fn the_bootstrap_link_works_once_and_expires() {
    // A fresh server with no admin prints a link; spawn_app then adds its own
    // admin, so read the link the server printed.
    let app = spawn_app(Backend::Sqlite).await;
    let link = app.bootstrap_url.clone().expect("a bootstrap link at first start");
    // spawn_app made an admin after start; take it away so none is active.
    let test_admin = app::store::users::get_by_email(&app.db, "admin@tracker.test").await.unwrap().unwrap();
    let audit =
        app::domain::audit::Entry::system("user.deactivate", app::domain::audit::TargetKind::User, Some(test_admin.id), "test admin");
    app::store::users::set_status(&app.db, test_admin.id, UserStatus::Deactivated, chrono::Utc::now(), &audit).await.unwrap();
    let b = browser();
    let page = b.get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("admin@tracker.localhost"));
    // GET alone does not use it up (link previews); the POST signs in.
    let post = b.post(&link).header("origin", app.url("")).send().await.unwrap();
    let status = post.status();
    assert_eq!(status, 303, "{}", post.text().await.unwrap());
    assert!(is_signed_in(&app, &b).await);
    let admin = app::store::users::get_by_email(&app.db, "admin@tracker.localhost").await.unwrap().unwrap();
    assert_eq!((admin.role, admin.status), (Role::Admin, UserStatus::Active));
    // Works once.
    let again = browser().post(&link).header("origin", app.url("")).send().await.unwrap();
    assert_eq!(again.status(), 410);
    // An expired link is refused, on GET and POST.
    let past = chrono::Utc::now() - chrono::Duration::hours(2);
    let old = "old-bootstrap-secret";
    app::store::users::insert_link(&app.db, &app::services::secret::hash(old), "bootstrap", None, past, past + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(browser().get(app.url(&format!("/auth/bootstrap/{old}"))).send().await.unwrap().status(), 410);
    assert_eq!(browser().post(app.url(&format!("/auth/bootstrap/{old}"))).send().await.unwrap().status(), 410);
    // With an admin present, a restart prints no new link, and a link another
    // instance printed earlier no longer works.
    let none = app::services::sign_in::bootstrap_link(&app.db, &Default::default(), chrono::Utc::now()).await.unwrap();
    assert!(none.is_none());
    let now = chrono::Utc::now();
    let stale = "stale-bootstrap-secret";
    app::store::users::insert_link(&app.db, &app::services::secret::hash(stale), "bootstrap", None, now, now + chrono::Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(browser().post(app.url(&format!("/auth/bootstrap/{stale}"))).send().await.unwrap().status(), 410);
}

#[tokio::test]
async fn api_tokens_are_shown_once_stored_hashed_and_revocable() {
    let app = spawn_app(Backend::Sqlite).await;
    let (status, made) =
        crate::helpers::json_of(app.client.post(app.url("/api/tokens/create")).form(&[("name", "CI")]).send().await.unwrap()).await;
    assert_eq!(status, 200, "{made}");
    let secret = made["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("itk_"));
    let token_id = made["token"]["id"].as_i64().unwrap();
    // Only the hash is stored.
    let stored: Vec<String> =
        app::on_pool!(&app.db, |pool| sqlx::query_scalar("SELECT token_hash FROM api_tokens").fetch_all(pool).await.unwrap());
    assert!(stored.iter().all(|h| h.len() == 64 && !h.contains(&secret[4..])));
    // It works, records its use, and the list never shows the secret.
    let ci = http_client(Some(&secret));
    assert_eq!(ci.get(app.url("/api/v1/partners")).send().await.unwrap().status(), 200);
    let (_, list) = crate::helpers::json_of(app.client.post(app.url("/api/tokens/list")).send().await.unwrap()).await;
    let listed = list.as_array().unwrap().iter().find(|t| t["id"] == token_id).unwrap().clone();
    assert!(!listed.to_string().contains(&secret));
    assert!(listed["last_used_at"].is_string(), "{listed}");
    // An empty name is refused with a field error.
    let (status, err) =
        crate::helpers::json_of(app.client.post(app.url("/api/tokens/create")).form(&[("name", " ")]).send().await.unwrap()).await;
    assert_eq!(status, 422);
    assert!(err.to_string().contains("name"), "{err}");
    // Revoked: 401 at once.
    let res = app.client.post(app.url("/api/tokens/revoke")).form(&[("id", token_id.to_string().as_str())]).send().await.unwrap();
    assert!(res.status().as_u16() < 400);
    assert_eq!(ci.get(app.url("/api/v1/partners")).send().await.unwrap().status(), 401);
    // Someone else's token id is "not found".
    let (_, other) = app.client_as("other@example.com", Role::Viewer, None).await;
    let res = other.post(app.url("/api/tokens/revoke")).form(&[("id", token_id.to_string().as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 404);
    // Malformed Authorization headers get a JSON 401 too.
    let res = app.anonymous().get(app.url("/api/v1/partners")).header("authorization", "Basic abc").send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers().get("www-authenticate").unwrap(), "Bearer");
}

#[tokio::test]
async fn writes_from_another_origin_are_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    let (uid, _) = app.client_as("staff@example.com", Role::Admin, None).await;
    let session = app.session_for(uid).await;
    let b = http_client(None);
    let post = |origin: Option<&str>| {
        let mut r = b
            .post(app.url("/api/partners/save"))
            .header("cookie", format!("tracker_session={session}"))
            .form(&[("name", "Cross Site"), ("kind", "infrastructure")]);
        if let Some(o) = origin {
            r = r.header("origin", o);
        }
        r
    };
    let res = post(Some("https://evil.example")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("cross-origin"));
    let (status, _) = app.get_json("/api/v1/partners/cross-site").await;
    assert_eq!(status, 404, "nothing was written");
    let ok = post(Some(&app.url(""))).send().await.unwrap();
    assert!(ok.status().as_u16() < 400, "{}", ok.status());
    let (status, _) = app.get_json("/api/v1/partners/cross-site").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn every_response_carries_security_headers() {
    let app = spawn_app(Backend::Sqlite).await;
    for path in ["/", "/sign-in", "/api/v1/partners", "/healthz"] {
        let res = app.get(path).await;
        let h = res.headers();
        let csp = h.get("content-security-policy").unwrap_or_else(|| panic!("{path}: no CSP")).to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("'wasm-unsafe-eval'"), "{csp}");
        assert_eq!(h.get("x-content-type-options").unwrap(), "nosniff");
        assert!(h.get("referrer-policy").is_some());
        assert!(h.get("strict-transport-security").is_none(), "{path}: served over http");
        if path != "/healthz" {
            assert_eq!(h.get("cache-control").map(|v| v.to_str().unwrap()), Some("private, no-store"), "{path}");
        }
    }
    // Served over https: browsers are told to keep to it.
    let secure = spawn_app_with(Backend::Sqlite, |c| c.auth.base_url = Some("https://tracker.example.com".into())).await;
    let res = secure.get("/sign-in").await;
    assert_eq!(res.headers().get("strict-transport-security").map(|v| v.to_str().unwrap()), Some("max-age=31536000"));
    // The page's inline scripts carry the nonce the header allows.
    let res = app.get("/partners").await;
    let csp = res.headers().get("content-security-policy").unwrap().to_str().unwrap().to_string();
    let nonce = csp.split("'nonce-").nth(1).unwrap().split('\'').next().unwrap().to_string();
    let html = res.text().await.unwrap();
    let scripts = html.matches("<script").count();
    let nonced = html.matches(&format!("nonce=\"{nonce}\"")).count();
    assert!(scripts > 0 && scripts == nonced, "{scripts} scripts, {nonced} with the nonce");
}

/// Over https our cookies carry the `__Host-` prefix, which browsers take
/// only from this host, on the whole site and `Secure`: a sibling subdomain
/// cannot plant a session (login CSRF). The unprefixed name is not read.
#[tokio::test]
async fn cookies_over_https_carry_the_host_prefix() {
    let secure = spawn_app_with(Backend::Sqlite, |c| c.auth.base_url = Some("https://tracker.example.com".into())).await;
    let uid = secure.user("hana@staff.example", Role::Reviewer, None, UserStatus::Active).await;
    let session = secure.session_for(uid).await;
    let url = secure.url("/partners");
    let page = |cookie: String| browser().get(&url).header("cookie", cookie).send();
    assert_eq!(page(format!("__Host-tracker_session={session}")).await.unwrap().status(), 200);
    let planted = page(format!("tracker_session={session}")).await.unwrap();
    assert_eq!(planted.status(), 303, "an unprefixed cookie is somebody else's");
    assert!(location(&planted).starts_with("/sign-in"));

    let out = browser()
        .post(secure.url("/auth/sign-out"))
        .header("origin", secure.url(""))
        .header("cookie", format!("__Host-tracker_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let cleared = out.headers().get("set-cookie").unwrap().to_str().unwrap().to_string();
    assert!(cleared.starts_with("__Host-tracker_session=;") && cleared.contains("Path=/;") && cleared.contains("Secure"), "{cleared}");
    assert!(!cleared.contains("Domain"), "{cleared}");
    assert_eq!(page(format!("__Host-tracker_session={session}")).await.unwrap().status(), 303, "the session ended");
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_client() {
    let app = spawn_app_with(Backend::Sqlite, |c| c.auth.rate_limit_per_minute = 3).await;
    let b = browser();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(b.get(app.url("/auth/github/start")).send().await.unwrap().status().as_u16());
    }
    // GitHub is not configured here (404), until the limit answers 429.
    assert_eq!(statuses, vec![404, 404, 404, 429, 429]);
}

#[tokio::test]
async fn anonymous_pages_redirect_to_sign_in_and_keep_the_destination() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app.anonymous().get(app.url("/partners?q=acme")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/sign-in?next=%2Fpartners%3Fq%3Dacme");
    let page = app.anonymous().get(app.url("/sign-in?next=%2Fpartners")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign in"), "{html}");
    // The next parameter cannot send people to another site.
    assert_eq!(server::auth::safe_next(Some("//evil.example")), "/");
}

#[tokio::test]
async fn the_cli_creates_admins_and_tokens() {
    let dir = std::env::temp_dir().join(format!("cli_{}", std::process::id()));
    let url = format!("sqlite://{}/cli.db", dir.display());
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .args(args)
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "error")
            .output()
            .expect("run the server binary")
    };
    let first = run(&["create-admin", "--email", "Boss@Example.com"]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let second = run(&["create-admin", "--email", "boss@example.com"]);
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("already"), "idempotent");
    let token = run(&["create-token", "--email", "boss@example.com", "--name", "automation"]);
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    let stdout = String::from_utf8(token.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "only the token on stdout: {stdout:?}");
    assert!(lines[0].starts_with("itk_"));
    let nobody = run(&["create-token", "--email", "nobody@example.com", "--name", "x"]);
    assert!(!nobody.status.success());
    assert!(String::from_utf8_lossy(&nobody.stderr).contains("no user"));
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn bad_user_management_input_is_refused_and_changes_nothing() {
    let app = spawn_app(Backend::Sqlite).await;
    let call = |path: &'static str, form: Vec<(&'static str, String)>| {
        let req = app.client.post(app.url(path)).form(&form);
        async move { crate::helpers::json_of(req.send().await.unwrap()).await }
    };
    let count = || async { app::store::users::list(&app.db, 1, 100).await.unwrap().1 };
    let before = count().await;
    // Bad email, unknown role, partner member without a partner, unknown partner.
    for (form, field) in [
        (vec![("email", "not-an-email".to_string()), ("role", "viewer".to_string())], "email"),
        (vec![("email", "a@b.example".to_string()), ("role", "owner".to_string())], "role"),
        (vec![("email", "a@b.example".to_string()), ("role", "partner".to_string())], "partner"),
        (vec![("email", "a@b.example".to_string()), ("role", "partner".to_string()), ("partner", "nope".to_string())], "partner"),
    ] {
        let (status, err) = call("/api/users/invite", form).await;
        assert_eq!(status, 422, "{err}");
        assert!(err["Validation"]["fields"][field].is_array(), "{field}: {err}");
    }
    assert_eq!(count().await, before, "nothing was created");
    // An email that already has an account is a conflict.
    let (status, err) = call("/api/users/invite", vec![("email", "ADMIN@tracker.test".into()), ("role", "viewer".into())]).await;
    assert_eq!(status, 409, "{err}");
    // An admin cannot demote or deactivate themselves.
    let me = app::store::users::get_by_email(&app.db, "admin@tracker.test").await.unwrap().unwrap();
    let (status, _) = call("/api/users/save", vec![("id", me.id.to_string()), ("role", "viewer".into())]).await;
    assert_eq!(status, 400);
    let (status, _) = call("/api/users/set-active", vec![("id", me.id.to_string()), ("active", "false".into())]).await;
    assert_eq!(status, 400);
    let after = app::store::users::get(&app.db, me.id).await.unwrap().unwrap();
    assert_eq!((after.role, after.status), (Role::Admin, UserStatus::Active));
    // Demo sign-in is not offered by a server without the setting.
    let res =
        browser().post(app.url("/auth/demo")).header("origin", app.url("")).form(&[("user_id", me.id.to_string())]).send().await.unwrap();
    assert_eq!(res.status(), 404);
}
