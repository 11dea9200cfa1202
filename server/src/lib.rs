//! The server: configuration, the HTTP application (pages, server
//! functions, JSON API, health) and the command-line entry points.

pub mod auth;
pub mod config;
pub mod demo;
mod fifo;
pub mod http;
pub mod jobs;
pub mod outbound;

use app::store::Db;
use axum::extract::FromRef;
use config::Config;
use leptos::config::LeptosOptions;
use std::future::Future;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// What every handler and server function can reach.
#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub auth: auth::SharedAuth,
    pub blobs: app::store::blobs::Blobs,
    /// How mail is sent, for the pages to say so.
    pub mail: app::domain::outbox::MailTransport,
    /// Run-task checks' time limit and hourly allowance.
    pub checks: app::domain::conformance::CheckSettings,
    /// Hosts `OUTBOUND_ALLOW` opens to plain http (run-task endpoints may use them).
    pub plain_http: app::domain::run_task::PlainHttp,
    /// Whether the sample run-task endpoint is served (the demo's).
    pub sample_run_task: bool,
    /// How old a dashboard snapshot may be before it is recomputed.
    pub dashboard_max_age: app::services::dashboard::MaxAge,
    /// Rendered staff dashboards, keyed by viewer and URL.
    pub page_cache: std::sync::Arc<http::page_cache::PageCache>,
    /// Moves whenever a committed write may have made a cached copy stale.
    pub changes: std::sync::Arc<app::store::changes::Changes>,
    /// Signed-in sessions this instance has looked up.
    pub sessions: std::sync::Arc<auth::sessions::Sessions>,
    /// Auto-join's organisation lookup (GitHub sign-in's API).
    pub github_orgs: app::services::partners::GithubOrgs,
}

/// A bound, ready-to-run server; binding first lets tests learn the port.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    db: Db,
    changes: std::sync::Arc<app::store::changes::Changes>,
    base_url: String,
    bootstrap_url: Option<String>,
    idle: chrono::Duration,
    poller: Option<std::sync::Arc<jobs::registry_poll::Poller>>,
    syncer: Option<std::sync::Arc<jobs::github_sync::Syncer>>,
    monitor: Option<std::sync::Arc<jobs::sla_monitor::Monitor>>,
    flag_review: Option<std::sync::Arc<jobs::flag_review::FlagReview>>,
    deliverer: Option<std::sync::Arc<jobs::alert_delivery::Deliverer>>,
    checker: Option<std::sync::Arc<jobs::run_task_check::Runner>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] app::store::ConnectError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("{0}")]
    Setting(String),
}

/// The SSRF guard `OUTBOUND_ALLOW` describes, shared by every outbound client.
pub fn outbound_guard(config: &Config) -> Result<std::sync::Arc<outbound::guard::Guard>, StartError> {
    let guard = outbound::guard::Guard::parse(&config.outbound_allow).map_err(|e| StartError::Setting(format!("OUTBOUND_ALLOW: {e}")))?;
    Ok(std::sync::Arc::new(guard))
}

/// The registry client the configuration describes, behind its SSRF guard.
pub fn registry_client(config: &Config) -> Result<outbound::registry::RegistryClient, StartError> {
    let guard = outbound_guard(config)?;
    outbound::registry::RegistryClient::new(guard, config.registry.client.clone())
        .map_err(|e| StartError::Setting(format!("cannot build the registry client: {e}")))
}

/// The run-task client the configuration describes, behind the SSRF guard.
pub fn run_task_client(config: &Config) -> Result<outbound::run_task::RunTaskClient, StartError> {
    let guard = outbound_guard(config)?;
    outbound::run_task::RunTaskClient::new(guard, config.checks.timeout)
        .map_err(|e| StartError::Setting(format!("cannot build the run-task client: {e}")))
}

/// The GitHub client the configuration describes, behind the SSRF guard.
pub fn github_client(config: &Config) -> Result<outbound::github::GitHubClient, StartError> {
    let guard = outbound_guard(config)?;
    outbound::github::GitHubClient::new(guard, config.support.client.clone())
        .map_err(|e| StartError::Setting(format!("cannot build the GitHub client: {e}")))
}

impl Application {
    /// Connects to the database, applies migrations and binds the address.
    pub async fn build(config: &Config) -> Result<Self, StartError> {
        let db = Db::connect(&config.database_url).await?;
        db.migrate().await?;
        Self::with_db(config, db).await
    }

    pub async fn with_db(config: &Config, db: Db) -> Result<Self, StartError> {
        let listener = TcpListener::bind(config.site_addr).await.map_err(|e| StartError::Bind(config.site_addr, e))?;
        let local = listener.local_addr().map_err(|e| StartError::Bind(config.site_addr, e))?;
        let base_url = config.auth.base_url.clone().unwrap_or_else(|| format!("http://{local}"));
        let auth = auth::Auth::new(config.auth.clone(), base_url.clone(), local.ip().is_loopback());
        let mailer = outbound::mailer::Mailer::new(&config.mail.mailer).map_err(|e| StartError::Setting(format!("mail: {e}")))?;
        let mail = app::domain::outbox::MailTransport { description: mailer.description().to_string(), smtp: mailer.is_smtp() };
        let changes = app::store::changes::of(&db);
        let auth = std::sync::Arc::new(auth);
        let state = AppState {
            leptos_options: config.leptos.clone(),
            db: db.clone(),
            github_orgs: auth::github::org_lookup(&auth, config.support.client.token.clone()),
            auth,
            blobs: app::store::blobs::Blobs::new(&config.evidence_dir, config.evidence_max_bytes),
            mail,
            checks: config.checks.limits,
            plain_http: app::domain::run_task::PlainHttp(outbound_guard(config)?.plain_http_hosts().to_vec()),
            sample_run_task: config.sample_run_task,
            dashboard_max_age: config.dashboard.max_age,
            page_cache: std::sync::Arc::new(http::page_cache::PageCache::new(
                match config.dashboard.max_age.0 > chrono::Duration::zero() {
                    true => config.dashboard.page_cache,
                    false => 0,
                },
            )),
            changes: changes.clone(),
            sessions: std::sync::Arc::new(auth::sessions::Sessions::new(config.session_cache, changes.clone())),
        };
        // With no admin yet, the first one gets in through a one-time link
        // printed to the log (there may be no identity provider yet).
        let policy = &config.auth.policy;
        let bootstrap_url = match app::services::sign_in::bootstrap_link(&db, policy, chrono::Utc::now()).await {
            Ok(Some(secret)) => {
                let url = format!("{base_url}/auth/bootstrap/{secret}");
                tracing::warn!(
                    "no administrator yet: sign in once with {url} (valid {} minutes; restart for a new one)",
                    policy.bootstrap_ttl.num_minutes()
                );
                Some(url)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::error!(error = %e, "cannot create the bootstrap sign-in link");
                None
            }
        };
        let poller = match config.registry.poller.enabled {
            true => Some(std::sync::Arc::new(jobs::registry_poll::Poller::new(
                db.clone(),
                std::sync::Arc::new(registry_client(config)?),
                config.registry.poller.clone(),
                jobs::instance_id(),
            ))),
            false => None,
        };
        let instance = jobs::instance_id();
        let syncer = match config.support.sync.enabled {
            true => Some(std::sync::Arc::new(jobs::github_sync::Syncer::new(
                db.clone(),
                std::sync::Arc::new(github_client(config)?),
                config.support.sync.clone(),
                instance.clone(),
            ))),
            false => None,
        };
        let monitor = config
            .support
            .monitor
            .then(|| std::sync::Arc::new(jobs::sla_monitor::Monitor::new(db.clone(), instance.clone(), config.support.monitor_tick)));
        let flag_review = config.support.flag_review.then(|| {
            std::sync::Arc::new(jobs::flag_review::FlagReview::new(db.clone(), instance.clone(), config.support.flag_review_tick))
        });
        let checker = match config.checks.enabled {
            true => Some(std::sync::Arc::new(jobs::run_task_check::Runner::new(
                db.clone(),
                std::sync::Arc::new(run_task_client(config)?),
                config.checks.clone(),
                instance.clone(),
                base_url.clone(),
            ))),
            false => None,
        };
        let deliverer = config.mail.delivery.enabled.then(|| {
            let settings = jobs::alert_delivery::Settings { base_url: base_url.clone(), ..config.mail.delivery.clone() };
            std::sync::Arc::new(jobs::alert_delivery::Deliverer::new(db.clone(), mailer, settings, instance))
        });
        Ok(Self {
            listener,
            router: http::router(state),
            db,
            changes,
            base_url,
            bootstrap_url,
            idle: policy.session_idle,
            poller,
            syncer,
            monitor,
            flag_review,
            deliverer,
            checker,
        })
    }

    /// The address links and OAuth callbacks are built from.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The one-time admin sign-in link, when there was no admin at start.
    pub fn bootstrap_url(&self) -> Option<&str> {
        self.bootstrap_url.as_deref()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The change feed this instance's caches follow.
    pub fn changes(&self) -> std::sync::Arc<app::store::changes::Changes> {
        self.changes.clone()
    }

    /// Serves until `shutdown` completes, then finishes open requests.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let sweeper = tokio::spawn(sweep_expired(self.db.clone(), self.idle));
        let feed = match &self.db {
            Db::Postgres(pool) => Some(tokio::spawn(app::store::changes::follow_postgres(pool.clone(), self.changes.clone()))),
            Db::Sqlite(_) => None,
        };
        let poller = self.poller.map(|p| tokio::spawn(p.run()));
        let syncer = self.syncer.map(|s| tokio::spawn(s.run()));
        let monitor = self.monitor.map(|m| tokio::spawn(m.run()));
        let flag_review = self.flag_review.map(|f| tokio::spawn(f.run()));
        let deliverer = self.deliverer.map(|d| tokio::spawn(d.run()));
        let checker = self.checker.map(|c| tokio::spawn(c.run()));
        let service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        // Pages are written in several chunks: without TCP_NODELAY a small
        // last chunk waits for the client's delayed ACK (~40 ms).
        use axum::serve::ListenerExt;
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let result = axum::serve(listener, service).with_graceful_shutdown(shutdown).await;
        sweeper.abort();
        for job in [feed, poller, syncer, monitor, flag_review, deliverer, checker].into_iter().flatten() {
            job.abort();
        }
        self.db.close().await;
        result
    }
}

/// Deletes ended sessions, stale OAuth states and old rate-limit windows
/// every ten minutes. Idempotent, so several instances may all run it.
async fn sweep_expired(db: Db, idle: chrono::Duration) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        let now = chrono::Utc::now();
        if let Err(e) = app::store::users::sweep(&db, now, now - idle).await {
            tracing::warn!(error = %e, "could not sweep expired sessions");
        }
    }
}
