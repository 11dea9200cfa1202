//! The server: configuration, the HTTP application (pages, server
//! functions, JSON API, health) and the command-line entry points.

pub mod config;
pub mod demo;
pub mod http;

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
}

/// A bound, ready-to-run server; binding first lets tests learn the port.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    db: Db,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] app::store::ConnectError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

impl Application {
    /// Connects to the database, applies migrations and binds the address.
    pub async fn build(config: &Config) -> Result<Self, StartError> {
        let db = Db::connect(&config.database_url).await?;
        db.migrate().await?;
        Self::with_db(config, db).await
    }

    pub async fn with_db(config: &Config, db: Db) -> Result<Self, StartError> {
        let listener = TcpListener::bind(config.site_addr)
            .await
            .map_err(|e| StartError::Bind(config.site_addr, e))?;
        let state = AppState { leptos_options: config.leptos.clone(), db: db.clone() };
        Ok(Self { listener, router: http::router(state), db })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Serves until `shutdown` completes, then finishes open requests.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let result = axum::serve(self.listener, self.router).with_graceful_shutdown(shutdown).await;
        self.db.close().await;
        result
    }
}
