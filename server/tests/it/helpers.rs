//! `spawn_app()`: the real server on a random port with a fresh database,
//! SQLite or PostgreSQL, dropped when the test ends. Its `client` acts as an
//! administrator (an API token of a seeded admin); `anonymous()` and
//! `client_as()` give other callers.

use app::domain::access::Role;
use app::domain::user::UserStatus;
use app::store::users::NewUser;
use app::store::Db;
use server::config::Config;
use server::Application;
use std::net::SocketAddr;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: SocketAddr,
    /// Sends an administrator's API token with every request.
    pub client: reqwest::Client,
    pub db: Db,
    pub database_url: String,
    /// The change feed the server's caches follow.
    pub changes: std::sync::Arc<app::store::changes::Changes>,
    /// The one-time admin link the server printed at start (none once
    /// `spawn_app` has created its admin).
    pub bootstrap_url: Option<String>,
    _guard: DbGuard,
}

/// Removes the test's database when the test ends, pass or fail.
enum DbGuard {
    Sqlite(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl Drop for DbGuard {
    fn drop(&mut self) {
        match self {
            DbGuard::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            DbGuard::Postgres { admin_url, name } => {
                let (admin_url, name) = (admin_url.clone(), name.clone());
                // Drop runs inside the test's runtime: use a thread of our own.
                let _ = std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
                    if let Ok(rt) = rt {
                        rt.block_on(async {
                            if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).execute(&admin).await;
                                admin.close().await;
                            }
                        });
                    }
                })
                .join();
            }
        }
    }
}

fn random_name() -> String {
    use rand::Rng;
    let n: u64 = rand::thread_rng().gen();
    format!("it_{n:016x}")
}

/// The PostgreSQL server tests use: `TEST_POSTGRES_URL`, else the local
/// default that the test command makes sure is running.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host_part}/{name}{query}")
}

/// A fresh, migrated database on `backend`, and the guard that drops it.
async fn fresh_database(backend: Backend) -> (String, DbGuard) {
    let name = random_name();
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(&name);
            let url = format!("sqlite://{}/test.db", dir.display());
            (url, DbGuard::Sqlite(dir))
        }
        Backend::Postgres => {
            let admin_url = postgres_admin_url();
            let admin = sqlx::PgPool::connect(&admin_url).await.unwrap_or_else(|e| {
                panic!("PostgreSQL is not reachable at {admin_url} ({e}); set TEST_POSTGRES_URL or run the README's test command, which starts one")
            });
            sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&admin).await.expect("create test database");
            admin.close().await;
            (with_database(&admin_url, &name), DbGuard::Postgres { admin_url, name })
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, |_| {}).await
}

/// Like `spawn_app`, with settings changed first (e.g. sign-in providers).
pub async fn spawn_app_with(backend: Backend, configure: impl FnOnce(&mut Config)) -> TestApp {
    let (url, guard) = fresh_database(backend).await;
    let mut config = Config::for_tests(&url).expect("test config");
    configure(&mut config);
    let (address, changes, app) = start(&config).await;
    let db = app.db().clone();
    let bootstrap_url = app.bootstrap_url().map(str::to_string);
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    wait_until_live(&changes).await;
    let mut test_app = TestApp { address, client: http_client(None), db, database_url: url, changes, bootstrap_url, _guard: guard };
    let (_, admin) = test_app.client_as("admin@tracker.test", Role::Admin, None).await;
    test_app.client = admin;
    test_app
}

async fn start(config: &Config) -> (SocketAddr, std::sync::Arc<app::store::changes::Changes>, Application) {
    let app = Application::build(config).await.expect("build the application");
    (app.local_addr(), app.changes(), app)
}

/// On PostgreSQL the change feed is live once the server's listener is connected.
async fn wait_until_live(changes: &app::store::changes::Changes) {
    for _ in 0..500 {
        if changes.is_live() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the change feed did not go live");
}

/// Returns once `changes` has seen every write committed to `db` so far:
/// at once on SQLite (commits are reported as they happen); on PostgreSQL
/// after a notification sent now arrives, since notifications arrive in
/// the order their transactions committed.
pub async fn caught_up(db: &Db, changes: &app::store::changes::Changes) {
    let Db::Postgres(pool) = db else { return };
    let before = changes.count();
    sqlx::query("SELECT pg_notify($1, 'test')").bind(app::store::changes::CHANNEL).execute(pool).await.expect("notify");
    for _ in 0..500 {
        if changes.count() > before {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("the change feed did not catch up");
}

/// A client that follows no redirects and sends `token` as a bearer token.
pub fn http_client(token: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(t) = token {
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {t}").parse().expect("header"));
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        // A hung request fails the test instead of stalling the suite.
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("http client")
}

/// A migrated database without a server, for store-level tests.
pub async fn fresh_db(backend: Backend) -> (Db, impl Drop) {
    let (url, guard) = fresh_database(backend).await;
    let db = Db::connect(&url).await.expect("connect");
    db.migrate().await.expect("migrate");
    (db, guard)
}

impl TestApp {
    /// Another server on the same database (another instance behind the
    /// load balancer): its address and its change feed.
    pub async fn instance(&self, configure: impl FnOnce(&mut Config)) -> (SocketAddr, std::sync::Arc<app::store::changes::Changes>) {
        let mut config = Config::for_tests(&self.database_url).expect("test config");
        configure(&mut config);
        let (address, changes, app) = start(&config).await;
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        wait_until_live(&changes).await;
        (address, changes)
    }

    /// Returns once this server's caches have seen every write committed so far
    /// (on PostgreSQL this moves the feed itself, so nothing kept survives it).
    pub async fn caught_up(&self) {
        caught_up(&self.db, &self.changes).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// A client without credentials.
    pub fn anonymous(&self) -> reqwest::Client {
        http_client(None)
    }

    /// Creates an active user (a member of `partner`, by slug, for the
    /// partner role) and returns their id and a client with their API token.
    pub async fn client_as(&self, email: &str, role: Role, partner: Option<&str>) -> (i64, reqwest::Client) {
        let user_id = self.user(email, role, partner, UserStatus::Active).await;
        let (_, token) = app::services::tokens::create_for(&self.db, user_id, "tests", chrono::Utc::now()).await.expect("create token");
        (user_id, http_client(Some(&token)))
    }

    /// Creates a user directly in the store; returns their id.
    pub async fn user(&self, email: &str, role: Role, partner: Option<&str>, status: UserStatus) -> i64 {
        let partner_id = match partner {
            Some(slug) => {
                Some(app::store::partners::kind_by_slug(&self.db, slug).await.expect("partner lookup").expect("partner exists").0)
            }
            None => None,
        };
        let new = NewUser { email, name: email, role, partner_id, status, demo: false };
        app::store::users::insert(
            &self.db,
            &new,
            chrono::Utc::now(),
            &app::domain::audit::Entry::system("user.create", app::domain::audit::TargetKind::User, None, email),
        )
        .await
        .expect("insert user")
    }

    /// A signed-in browser session for the user: the cookie's value.
    pub async fn session_for(&self, user_id: i64) -> String {
        app::services::sign_in::start_session(&self.db, &Default::default(), user_id, chrono::Utc::now()).await.expect("session")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        json_of(self.get(path).await).await
    }

    pub async fn send_json(&self, method: reqwest::Method, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        json_of(self.client.request(method, self.url(path)).json(body).send().await.expect("request")).await
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        self.send_json(reqwest::Method::POST, path, body).await
    }

    /// A form post as a browser without JavaScript sends it.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)], referer: &str) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("accept", "text/html,application/xhtml+xml")
            .header("referer", self.url(referer))
            .form(form)
            .send()
            .await
            .expect("form post")
    }

    /// Creates a partner through the API, panicking on failure.
    pub async fn partner(&self, name: &str, kind: &str) -> serde_json::Value {
        let (status, body) = self.post_json("/api/v1/partners", &serde_json::json!({"name": name, "kind": kind})).await;
        assert_eq!(status, 201, "{body}");
        body
    }
}

pub async fn json_of(res: reqwest::Response) -> (u16, serde_json::Value) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    let value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON (status {status}): {text}"));
    (status, value)
}

/// Runs each named `async fn(TestApp)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use $crate::helpers::{spawn_app, Backend};
            #[tokio::test]
            async fn sqlite() { super::$name(spawn_app(Backend::Sqlite).await).await }
            #[tokio::test]
            async fn postgres() { super::$name(spawn_app(Backend::Postgres).await).await }
        }
    )*};
}
