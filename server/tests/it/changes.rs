//! The change feed (`app::store::changes`) and the session cache that
//! follows it: a kept session is used until a write could have changed it,
//! on this instance or another; on PostgreSQL the feed survives losing its
//! listening connection.

use crate::helpers::{caught_up, fresh_db, spawn_app_with, Backend, TestApp};
use app::domain::access::Role;
use app::domain::user::UserStatus;
use app::store::changes::{self, Changes};
use app::store::Db;
use std::time::Duration;

async fn cached(backend: Backend) -> TestApp {
    spawn_app_with(backend, |c| c.session_cache = 100).await
}

/// A client that sends a session cookie, as a signed-in browser does.
fn browser(secret: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::COOKIE, format!("tracker_session={secret}").parse().unwrap());
    reqwest::Client::builder().default_headers(headers).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Signed in: `/` shows the dashboard rather than redirecting to sign-in.
async fn signed_in(client: &reqwest::Client, base: &str) -> bool {
    let res = client.get(format!("{base}/")).send().await.unwrap();
    match res.status().as_u16() {
        200 => true,
        303 | 307 => false,
        other => panic!("GET /: {other}"),
    }
}

async fn a_kept_session_lasts_until_a_write_could_change_it(backend: Backend) {
    let app = cached(backend).await;
    let base = app.url("");
    let kim = app.user("kim@alliances.example", Role::Reviewer, None, UserStatus::Active).await;
    let secret = app.session_for(kim).await;
    let client = browser(&secret);
    // Starting the session wrote (the user's last sign-in): let the feed hear of it first.
    app.caught_up().await;
    assert!(signed_in(&client, &base).await);

    // A write the feed does not report (the idle clock is the cache's own
    // business on PostgreSQL; on SQLite every commit counts).
    let hash = app::services::sign_in::session_key(&secret);
    let long_ago = chrono::Utc::now() - chrono::Duration::days(2);
    app::on_pool!(&app.db, |pool| sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
        .bind(long_ago)
        .bind(&hash)
        .execute(pool)
        .await
        .map(|_| ()))
    .unwrap();
    // (No `caught_up` here: its own notification would move the feed.)
    match backend {
        Backend::Postgres => assert!(signed_in(&client, &base).await, "kept: no database round trip saw the idle session"),
        Backend::Sqlite => assert!(!signed_in(&client, &base).await, "any commit moves SQLite's feed: looked up, idled out"),
    }

    // Deactivation, written straight to the database: the kept session goes.
    let lee = app.user("lee@alliances.example", Role::Reviewer, None, UserStatus::Active).await;
    let client = browser(&app.session_for(lee).await);
    assert!(signed_in(&client, &base).await);
    assert!(signed_in(&client, &base).await);
    app::store::users::cut_off(&app.db, lee, chrono::Utc::now()).await.unwrap();
    app.caught_up().await;
    assert!(!signed_in(&client, &base).await, "signed out everywhere");
}

/// Two instances on one database: signing out through one ends the session
/// the other keeps.
#[tokio::test]
async fn signing_out_on_one_instance_ends_the_session_another_keeps() {
    let app = cached(Backend::Postgres).await;
    let (other, other_feed) = app.instance(|c| c.session_cache = 100).await;
    let other = format!("http://{other}");
    let max = app.user("max@alliances.example", Role::Viewer, None, UserStatus::Active).await;
    let client = browser(&app.session_for(max).await);
    assert!(signed_in(&client, &other).await);
    assert!(signed_in(&client, &other).await, "kept by the other instance");
    let out = client.post(app.url("/auth/sign-out")).header("origin", app.url("")).send().await.unwrap();
    assert_eq!(out.status(), 303);
    caught_up(&app.db, &other_feed).await;
    assert!(!signed_in(&client, &other).await, "the other instance heard of it");
    assert!(!signed_in(&client, &app.url("")).await);
}

/// SQLite: every pool this process opens on one file shares a feed, however
/// the file was named, and it moves on commits only.
#[tokio::test]
async fn sqlite_commits_move_the_feed_of_every_pool_on_the_file() {
    let (db, _guard) = fresh_db(Backend::Sqlite).await;
    let Db::Sqlite(pool) = &db else { unreachable!() };
    let path = pool.connect_options().get_filename().to_path_buf();
    let dir = path.parent().unwrap();
    let renamed = format!("sqlite://{}/./{}", dir.display(), path.file_name().unwrap().to_string_lossy());
    let other = Db::connect(&renamed).await.unwrap();
    let feed = changes::of(&db);
    assert!(std::sync::Arc::ptr_eq(&feed, &changes::of(&other)), "one feed per file");
    let mark = feed.mark().expect("SQLite's feed is live from the start");
    db.ping().await.unwrap();
    app::store::users::sweep(&other, chrono::Utc::now(), chrono::Utc::now()).await.unwrap();
    assert!(feed.unchanged_since(mark), "a statement that changed no row wrote nothing");
    add_user(&other, "ann@example.com").await;
    assert!(!feed.unchanged_since(mark), "a commit through the other pool");
    let mark = feed.mark().unwrap();
    for _ in 0..3 {
        db.ping().await.unwrap();
        app::store::snapshots::get(&other, "nothing").await.unwrap();
    }
    assert!(feed.unchanged_since(mark), "reads are not changes");
    other.close().await;
}

/// PostgreSQL: the feed follows the triggers' notifications, not other
/// writes; losing the listening connection stops it being live (nothing
/// may be kept meanwhile) until it is back, and the count moves across it.
#[tokio::test]
async fn the_postgres_feed_follows_notifications_and_survives_losing_its_connection() {
    let (db, _guard) = fresh_db(Backend::Postgres).await;
    let Db::Postgres(pool) = &db else { unreachable!() };
    let feed = Changes::pending();
    let follower = tokio::spawn(changes::follow_postgres(pool.clone(), feed.clone()));
    wait(|| feed.is_live(), "the feed goes live").await;

    let mark = feed.mark().unwrap();
    add_user(&db, "ann@example.com").await;
    wait(|| !feed.unchanged_since(mark), "an audited write is reported").await;

    // Writes no trigger watches (a new session, its idle clock) and
    // statements that change no watched row (the session sweep every
    // instance runs, with nothing to sweep): nothing arrives before a
    // notification sent after them.
    let now = chrono::Utc::now();
    caught_up(&db, &feed).await;
    let before = feed.count();
    app::store::users::insert_session(&db, "h", 1, now, now + chrono::Duration::days(1)).await.unwrap();
    app::store::users::touch_session(&db, "h", now).await.unwrap();
    app::store::users::sweep(&db, now, now - chrono::Duration::days(1)).await.unwrap();
    caught_up(&db, &feed).await;
    assert_eq!(feed.count(), before + 1, "only the test's own notification arrived");
    // A sweep that ends the session is reported.
    let mark = feed.mark().unwrap();
    app::store::users::sweep(&db, now + chrono::Duration::days(2), now).await.unwrap();
    wait(|| !feed.unchanged_since(mark), "a swept session is reported").await;

    // The listening connection is cut.
    let count = feed.count();
    let cut: i64 = sqlx::query_scalar(
        "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(cut, 1, "one listening connection");
    wait(|| feed.count() > count, "the loss is noticed").await;
    wait(|| feed.is_live(), "listening again").await;
    app::store::users::insert_session(&db, "h2", 1, now, now + chrono::Duration::days(1)).await.unwrap();
    let mark = feed.mark().unwrap();
    app::store::users::cut_off(&db, 1, chrono::Utc::now()).await.unwrap();
    wait(|| !feed.unchanged_since(mark), "reported after the reconnect").await;
    follower.abort();
}

async fn add_user(db: &Db, email: &str) -> i64 {
    let audit = app::domain::audit::Entry::system("user.create", app::domain::audit::TargetKind::User, None, email);
    let new =
        app::store::users::NewUser { email, name: email, role: Role::Viewer, partner_id: None, status: UserStatus::Active, demo: false };
    app::store::users::insert(db, &new, chrono::Utc::now(), &audit).await.unwrap()
}

async fn wait(done: impl Fn() -> bool, what: &str) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out: {what}");
}

mod a_kept_session_lasts_until_a_write_could_change_it {
    use crate::helpers::Backend;
    #[tokio::test]
    async fn sqlite() {
        super::a_kept_session_lasts_until_a_write_could_change_it(Backend::Sqlite).await
    }
    #[tokio::test]
    async fn postgres() {
        super::a_kept_session_lasts_until_a_write_could_change_it(Backend::Postgres).await
    }
}
