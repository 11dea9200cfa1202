//! Settings: built-in defaults, then an optional TOML file, then
//! environment variables (which win). Every setting is listed in the README.

use leptos::config::LeptosOptions;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

/// The name cargo-leptos gives the wasm/js bundle (`output-name` in Cargo.toml).
const OUTPUT_NAME: &str = "app";

#[derive(Debug, Clone)]
pub struct Config {
    /// `sqlite://…` or `postgres://…`; the scheme picks the backend.
    pub database_url: String,
    /// Where the web server listens.
    pub site_addr: SocketAddr,
    /// `tracing` filter, e.g. `info,sqlx=warn`.
    pub log_filter: String,
    pub leptos: LeptosOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {0}: {1}")]
    File(String, std::io::Error),
    #[error("the config file {0} is not valid: {1}")]
    Parse(String, toml::de::Error),
    #[error("{0} is not a valid address (expected host:port, e.g. 127.0.0.1:3000): {1}")]
    Address(String, std::net::AddrParseError),
    #[error("leptos settings: {0}")]
    Leptos(String),
}

/// The keys a config file may hold; all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    site_addr: Option<String>,
    log_filter: Option<String>,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/tracker.db";
pub const DEFAULT_SITE_ADDR: &str = "127.0.0.1:3000";
pub const DEFAULT_LOG_FILTER: &str = "info,sqlx=warn,tower_http=info";

impl Config {
    /// Reads the file named by `TRACKER_CONFIG` (if set) and the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let file = match env("TRACKER_CONFIG") {
            None => FileConfig::default(),
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File(path.clone(), e))?;
                toml::from_str(&text).map_err(|e| ConfigError::Parse(path, e))?
            }
        };
        let database_url = env("DATABASE_URL").or(file.database_url).unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        let addr = env("LEPTOS_SITE_ADDR").or(file.site_addr).unwrap_or_else(|| DEFAULT_SITE_ADDR.into());
        let site_addr = addr.parse().map_err(|e| ConfigError::Address(addr.clone(), e))?;
        let log_filter = env("RUST_LOG").or(file.log_filter).unwrap_or_else(|| DEFAULT_LOG_FILTER.into());
        Ok(Self { database_url, site_addr, log_filter, leptos: leptos_options(site_addr)? })
    }

    /// Settings for tests: the given database, any free port.
    pub fn for_tests(database_url: &str) -> Result<Self, ConfigError> {
        let site_addr: SocketAddr = "127.0.0.1:0".parse().map_err(|e| ConfigError::Address("127.0.0.1:0".into(), e))?;
        Ok(Self {
            database_url: database_url.into(),
            site_addr,
            log_filter: "warn".into(),
            leptos: leptos_options(site_addr)?,
        })
    }
}

/// Leptos reads its own settings (site root, bundle name…) from variables
/// that cargo-leptos sets; outside cargo-leptos (tests) we fill the bundle name.
fn leptos_options(site_addr: SocketAddr) -> Result<LeptosOptions, ConfigError> {
    let mut options = leptos::config::get_configuration(None)
        .map_err(|e| ConfigError::Leptos(e.to_string()))?
        .leptos_options;
    if options.output_name.is_empty() {
        options.output_name = Arc::from(OUTPUT_NAME);
    }
    options.site_addr = site_addr;
    Ok(options)
}
