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
    pub auth: AuthConfig,
    /// Where evidence files are stored (`EVIDENCE_DIR`, default `data/evidence`).
    pub evidence_dir: std::path::PathBuf,
    /// The largest evidence file accepted (`EVIDENCE_MAX_MB`, default 10).
    pub evidence_max_bytes: u64,
    /// Hosts and networks outbound requests may reach besides public https
    /// (`OUTBOUND_ALLOW`; see `outbound::guard`).
    pub outbound_allow: String,
    pub registry: RegistryConfig,
    pub support: SupportConfig,
    pub mail: MailConfig,
    /// Run-task conformance checks (README, "Run-task conformance checks").
    pub checks: crate::jobs::run_task_check::Settings,
    /// Serve the sample run-task endpoint (`SAMPLE_RUN_TASK`; the demo's run tasks use it).
    pub sample_run_task: bool,
    pub dashboard: DashboardConfig,
    /// `SESSION_CACHE` (default 10000): signed-in sessions this instance keeps
    /// so a request needs no database round trip to know who asks; 0 = none.
    pub session_cache: usize,
}

/// The staff dashboard's snapshots and rendered-page cache (README, "Dashboards and tier flags").
#[derive(Debug, Clone, Copy)]
pub struct DashboardConfig {
    /// `DASHBOARD_MAX_AGE_SECONDS` (default 60, 0 = compute every view).
    pub max_age: app::services::dashboard::MaxAge,
    /// `DASHBOARD_PAGE_CACHE` (default 64): rendered staff dashboards this instance keeps; 0 = none.
    pub page_cache: usize,
}

/// Email alerts: the mail transport and the delivery worker (README, "Email alerts").
#[derive(Debug, Clone)]
pub struct MailConfig {
    pub mailer: crate::outbound::mailer::Settings,
    /// `base_url` is filled in from the server's at start.
    pub delivery: crate::jobs::alert_delivery::Settings,
}

/// The GitHub sync and the SLA monitor (README, "Support SLA").
#[derive(Debug, Clone)]
pub struct SupportConfig {
    pub sync: crate::jobs::github_sync::Settings,
    pub client: crate::outbound::github::Settings,
    /// Whether the SLA monitor runs in this instance.
    pub monitor: bool,
    pub monitor_tick: std::time::Duration,
    /// Whether the tier-flag review runs in this instance.
    pub flag_review: bool,
    pub flag_review_tick: std::time::Duration,
}

/// The registry poller and its client (README, "Registry poller").
#[derive(Debug, Clone, Default)]
pub struct RegistryConfig {
    pub poller: crate::jobs::registry_poll::Settings,
    pub client: crate::outbound::registry::Settings,
}

/// Sign-in settings (see the README's "Sign-in" section).
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The address people use, e.g. `https://tracker.example.com`; OAuth
    /// callbacks and links are built from it. Default: `http://` + the bound address.
    pub base_url: Option<String>,
    pub github: Option<GithubConfig>,
    pub oidc: Option<OidcConfig>,
    pub policy: app::services::sign_in::Policy,
    /// Who the bootstrap link signs in as.
    pub bootstrap_admin_email: String,
    /// Sign-in requests per client address and minute.
    pub rate_limit_per_minute: i64,
    /// Offer the demo accounts on the sign-in page (only ever on a loopback bind).
    pub demo_sign_in: bool,
}

#[derive(Debug, Clone)]
pub struct GithubConfig {
    pub client_id: String,
    pub client_secret: String,
    /// `https://github.com`, or a GitHub Enterprise host.
    pub web_url: String,
    /// `https://api.github.com`, or `https://{host}/api/v3`.
    pub api_url: String,
}

#[derive(Debug, Clone)]
pub struct OidcConfig {
    pub issuer_url: String,
    pub client_id: String,
    pub client_secret: String,
    /// The button's text, e.g. "Okta".
    pub label: String,
    /// Accept an `email` claim that comes without `email_verified` (Entra ID
    /// sends none). Only for providers where people cannot set their own address.
    pub trust_unverified_email: bool,
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
    #[error("{0}: {1}")]
    Invalid(&'static str, String),
}

/// The keys a config file may hold; all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    site_addr: Option<String>,
    log_filter: Option<String>,
    base_url: Option<String>,
    github_client_id: Option<String>,
    github_client_secret: Option<String>,
    github_url: Option<String>,
    github_api_url: Option<String>,
    oidc_issuer_url: Option<String>,
    oidc_client_id: Option<String>,
    oidc_client_secret: Option<String>,
    oidc_label: Option<String>,
    oidc_trust_unverified_email: Option<bool>,
    session_idle_hours: Option<i64>,
    session_max_hours: Option<i64>,
    invitation_hours: Option<i64>,
    bootstrap_link_minutes: Option<i64>,
    bootstrap_admin_email: Option<String>,
    sign_in_rate_limit: Option<i64>,
    demo_sign_in: Option<bool>,
    evidence_dir: Option<String>,
    evidence_max_mb: Option<i64>,
    outbound_allow: Option<String>,
    registry_poll: Option<bool>,
    registry_poll_interval_minutes: Option<i64>,
    registry_poll_publish_minutes: Option<i64>,
    registry_poll_concurrency: Option<i64>,
    registry_poll_per_host: Option<i64>,
    registry_poll_tick_seconds: Option<i64>,
    registry_timeout_seconds: Option<i64>,
    registry_mirrors: Option<String>,
    registry_metadata_hosts: Option<String>,
    /// Bearer tokens per registry host, as `TF_TOKEN_…` variables give them.
    registry_tokens: Option<std::collections::HashMap<String, String>>,
    github_token: Option<String>,
    github_sync: Option<bool>,
    github_sync_interval_minutes: Option<i64>,
    github_sync_tick_seconds: Option<i64>,
    github_timeout_seconds: Option<i64>,
    github_release_check_hours: Option<i64>,
    registry_lag_hours: Option<i64>,
    sla_monitor: Option<bool>,
    sla_monitor_tick_seconds: Option<i64>,
    flag_review: Option<bool>,
    flag_review_tick_seconds: Option<i64>,
    run_task_checks: Option<bool>,
    run_task_check_tick_ms: Option<i64>,
    run_task_check_timeout_seconds: Option<i64>,
    run_task_check_callback_seconds: Option<i64>,
    run_task_checks_per_hour: Option<i64>,
    sample_run_task: Option<bool>,
    dashboard_max_age_seconds: Option<i64>,
    dashboard_page_cache: Option<i64>,
    session_cache: Option<i64>,
    smtp_host: Option<String>,
    smtp_port: Option<i64>,
    smtp_tls: Option<String>,
    smtp_username: Option<String>,
    smtp_password: Option<String>,
    smtp_pool_size: Option<i64>,
    smtp_timeout_seconds: Option<i64>,
    mail_from: Option<String>,
    mail_reply_to: Option<String>,
    mail_dir: Option<String>,
    alert_delivery: Option<bool>,
    alert_delivery_tick_seconds: Option<i64>,
    alert_fold_seconds: Option<i64>,
    alert_max_attempts: Option<i64>,
    alert_lease_seconds: Option<i64>,
    alert_escalate_hours: Option<i64>,
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/tracker.db";
pub const DEFAULT_SITE_ADDR: &str = "127.0.0.1:3000";
pub const DEFAULT_EVIDENCE_DIR: &str = "data/evidence";
pub const DEFAULT_EVIDENCE_MAX_MB: u64 = 10;
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
        let database_url = env("DATABASE_URL").or(file.database_url.clone()).unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        let addr = env("LEPTOS_SITE_ADDR").or(file.site_addr.clone()).unwrap_or_else(|| DEFAULT_SITE_ADDR.into());
        let site_addr = addr.parse().map_err(|e| ConfigError::Address(addr.clone(), e))?;
        let log_filter = env("RUST_LOG").or(file.log_filter.clone()).unwrap_or_else(|| DEFAULT_LOG_FILTER.into());
        let evidence_dir = env("EVIDENCE_DIR").or(file.evidence_dir.clone()).unwrap_or_else(|| DEFAULT_EVIDENCE_DIR.into()).into();
        let evidence_mb = match env("EVIDENCE_MAX_MB") {
            Some(v) => v.trim().parse::<u64>().ok().filter(|n| (1..=1024).contains(n)).ok_or_else(|| {
                ConfigError::Invalid("EVIDENCE_MAX_MB", format!("expected a whole number of megabytes from 1 to 1024, got \"{v}\""))
            })?,
            None => file.evidence_max_mb.map(|n| n.clamp(1, 1024) as u64).unwrap_or(DEFAULT_EVIDENCE_MAX_MB),
        };
        let outbound_allow = env("OUTBOUND_ALLOW").or(file.outbound_allow.clone()).unwrap_or_default();
        crate::outbound::guard::Guard::parse(&outbound_allow).map_err(|e| ConfigError::Invalid("OUTBOUND_ALLOW", e))?;
        let registry = registry_config(&env, &file, std::env::vars())?;
        let support = support_config(&env, &file)?;
        let mail = mail_config(&env, &file)?;
        let checks = checks_config(&env, &file)?;
        let sample_run_task = switch(&env, "SAMPLE_RUN_TASK", file.sample_run_task, false)?;
        let dashboard = DashboardConfig {
            max_age: app::services::dashboard::MaxAge(chrono::Duration::seconds(zero_or_number(
                &env,
                "DASHBOARD_MAX_AGE_SECONDS",
                file.dashboard_max_age_seconds,
                60,
                86_400,
            )?)),
            page_cache: zero_or_number(&env, "DASHBOARD_PAGE_CACHE", file.dashboard_page_cache, 64, 10_000)? as usize,
        };
        let session_cache = zero_or_number(&env, "SESSION_CACHE", file.session_cache, 10_000, 1_000_000)? as usize;
        let auth = auth_config(&env, file)?;
        Ok(Self {
            database_url,
            site_addr,
            log_filter,
            leptos: leptos_options(site_addr)?,
            auth,
            evidence_dir,
            evidence_max_bytes: evidence_mb * 1024 * 1024,
            outbound_allow,
            registry,
            support,
            mail,
            checks,
            sample_run_task,
            dashboard,
            session_cache,
        })
    }

    /// Settings for tests: the given database, any free port.
    pub fn for_tests(database_url: &str) -> Result<Self, ConfigError> {
        let site_addr: SocketAddr = "127.0.0.1:0".parse().map_err(|e| ConfigError::Address("127.0.0.1:0".into(), e))?;
        Ok(Self {
            database_url: database_url.into(),
            site_addr,
            log_filter: "warn".into(),
            leptos: leptos_options(site_addr)?,
            auth: AuthConfig {
                base_url: None,
                github: None,
                oidc: None,
                policy: Default::default(),
                bootstrap_admin_email: DEFAULT_BOOTSTRAP_ADMIN_EMAIL.into(),
                rate_limit_per_minute: 1000,
                demo_sign_in: false,
            },
            // Beside the test's database; tests may shrink the limit.
            evidence_dir: std::env::temp_dir().join(format!("tracker-evidence-{}", std::process::id())),
            evidence_max_bytes: DEFAULT_EVIDENCE_MAX_MB * 1024 * 1024,
            outbound_allow: String::new(),
            // Tests run the poller's steps themselves.
            registry: RegistryConfig {
                poller: crate::jobs::registry_poll::Settings { enabled: false, ..Default::default() },
                client: Default::default(),
            },
            // Tests run the sync's and the monitor's steps themselves.
            support: SupportConfig {
                sync: crate::jobs::github_sync::Settings { enabled: false, ..Default::default() },
                client: Default::default(),
                monitor: false,
                monitor_tick: std::time::Duration::from_secs(60),
                flag_review: false,
                flag_review_tick: std::time::Duration::from_secs(300),
            },
            // Tests run the delivery worker's steps themselves, into files unless they point it at an SMTP sink.
            mail: MailConfig {
                mailer: crate::outbound::mailer::Settings {
                    transport: crate::outbound::mailer::Transport::Folder(
                        std::env::temp_dir().join(format!("tracker-mail-{}", std::process::id())),
                    ),
                    ..Default::default()
                },
                delivery: crate::jobs::alert_delivery::Settings { enabled: false, fold: chrono::Duration::zero(), ..Default::default() },
            },
            // Tests that check run tasks switch the runner on, with short limits.
            checks: crate::jobs::run_task_check::Settings { enabled: false, ..Default::default() },
            sample_run_task: false,
            // Tests look at the dashboard right after changing data: no snapshots unless a test asks.
            dashboard: DashboardConfig { max_age: app::services::dashboard::MaxAge(chrono::Duration::zero()), page_cache: 0 },
            // Tests that write to the database directly would race the change feed's notifications.
            session_cache: 0,
        })
    }
}

fn checks_config(env: &dyn Fn(&str) -> Option<String>, file: &FileConfig) -> Result<crate::jobs::run_task_check::Settings, ConfigError> {
    Ok(crate::jobs::run_task_check::Settings {
        enabled: switch(env, "RUN_TASK_CHECKS", file.run_task_checks, true)?,
        tick: std::time::Duration::from_millis(number(env, "RUN_TASK_CHECK_TICK_MS", file.run_task_check_tick_ms, 1000, 60_000)? as u64),
        timeout: std::time::Duration::from_secs(
            number(env, "RUN_TASK_CHECK_TIMEOUT_SECONDS", file.run_task_check_timeout_seconds, 10, 120)? as u64,
        ),
        limits: app::domain::conformance::CheckSettings {
            callback_seconds: number(env, "RUN_TASK_CHECK_CALLBACK_SECONDS", file.run_task_check_callback_seconds, 600, 3600)?,
            per_hour: number(env, "RUN_TASK_CHECKS_PER_HOUR", file.run_task_checks_per_hour, 10, 1000)?,
        },
    })
}

pub const DEFAULT_BOOTSTRAP_ADMIN_EMAIL: &str = "admin@tracker.localhost";

/// The longest a session or invitation may be set to last; far larger
/// values would overflow the clock's arithmetic.
const HOURS_A_YEAR: i64 = 365 * 24;

fn auth_config(env: &dyn Fn(&str) -> Option<String>, file: FileConfig) -> Result<AuthConfig, ConfigError> {
    let policy = app::services::sign_in::Policy {
        session_idle: chrono::Duration::hours(number(env, "SESSION_IDLE_HOURS", file.session_idle_hours, 12, HOURS_A_YEAR)?),
        session_absolute: chrono::Duration::hours(number(env, "SESSION_MAX_HOURS", file.session_max_hours, 168, HOURS_A_YEAR)?),
        invitation_ttl: chrono::Duration::hours(number(env, "INVITATION_HOURS", file.invitation_hours, 168, HOURS_A_YEAR)?),
        bootstrap_ttl: chrono::Duration::minutes(number(env, "BOOTSTRAP_LINK_MINUTES", file.bootstrap_link_minutes, 60, 7 * 24 * 60)?),
    };
    let github = match (env("GITHUB_CLIENT_ID").or(file.github_client_id), env("GITHUB_CLIENT_SECRET").or(file.github_client_secret)) {
        (Some(client_id), Some(client_secret)) => Some(GithubConfig {
            client_id,
            client_secret,
            web_url: trim_slash(env("GITHUB_URL").or(file.github_url).unwrap_or_else(|| "https://github.com".into())),
            api_url: trim_slash(env("GITHUB_API_URL").or(file.github_api_url).unwrap_or_else(|| "https://api.github.com".into())),
        }),
        (None, None) => None,
        _ => return Err(ConfigError::Invalid("GITHUB_CLIENT_ID", "set both GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET, or neither".into())),
    };
    let oidc = match env("OIDC_ISSUER_URL").or(file.oidc_issuer_url) {
        None => None,
        Some(issuer_url) => Some(OidcConfig {
            issuer_url: trim_slash(issuer_url),
            client_id: env("OIDC_CLIENT_ID")
                .or(file.oidc_client_id)
                .ok_or(ConfigError::Invalid("OIDC_CLIENT_ID", "required when OIDC_ISSUER_URL is set".into()))?,
            client_secret: env("OIDC_CLIENT_SECRET").or(file.oidc_client_secret).unwrap_or_default(),
            label: env("OIDC_LABEL").or(file.oidc_label.clone()).unwrap_or_else(|| "single sign-on".into()),
            trust_unverified_email: switch(env, "OIDC_TRUST_UNVERIFIED_EMAIL", file.oidc_trust_unverified_email, false)?,
        }),
    };
    // Off unless asked for (the README's run command asks): a production
    // server behind a reverse proxy listens on loopback too, and a database
    // that ever held the demo data would otherwise hand out its admin.
    let demo_sign_in = switch(env, "DEMO_SIGN_IN", file.demo_sign_in, false)?;
    Ok(AuthConfig {
        base_url: env("BASE_URL").or(file.base_url).map(trim_slash),
        github,
        oidc,
        policy,
        bootstrap_admin_email: env("BOOTSTRAP_ADMIN_EMAIL")
            .or(file.bootstrap_admin_email)
            .unwrap_or_else(|| DEFAULT_BOOTSTRAP_ADMIN_EMAIL.into()),
        rate_limit_per_minute: number(env, "SIGN_IN_RATE_LIMIT", file.sign_in_rate_limit, 30, i64::MAX)?,
        demo_sign_in,
    })
}

fn registry_config(
    env: &dyn Fn(&str) -> Option<String>,
    file: &FileConfig,
    vars: impl Iterator<Item = (String, String)>,
) -> Result<RegistryConfig, ConfigError> {
    let hosts = |s: String| -> Vec<String> { s.split(',').map(|h| h.trim().to_lowercase()).filter(|h| !h.is_empty()).collect() };
    let enabled = switch(env, "REGISTRY_POLL", file.registry_poll, true)?;
    let mut schedule = app::domain::registry::Schedule::default();
    schedule.interval =
        chrono::Duration::minutes(number(env, "REGISTRY_POLL_INTERVAL_MINUTES", file.registry_poll_interval_minutes, 60, 7 * 24 * 60)?);
    schedule.publish_interval =
        chrono::Duration::minutes(number(env, "REGISTRY_POLL_PUBLISH_MINUTES", file.registry_poll_publish_minutes, 10, 24 * 60)?);
    let poller = crate::jobs::registry_poll::Settings {
        enabled,
        schedule,
        concurrency: number(env, "REGISTRY_POLL_CONCURRENCY", file.registry_poll_concurrency, 64, 1024)? as usize,
        per_host: number(env, "REGISTRY_POLL_PER_HOST", file.registry_poll_per_host, 8, 256)? as usize,
        tick: std::time::Duration::from_secs(number(env, "REGISTRY_POLL_TICK_SECONDS", file.registry_poll_tick_seconds, 15, 3600)? as u64),
        mirrors: mirror_pairs(&env("REGISTRY_MIRRORS").or(file.registry_mirrors.clone()).unwrap_or_default())?,
        ..Default::default()
    };
    // Terraform's convention: TF_TOKEN_app_terraform_io for app.terraform.io
    // (dots as `_`, dashes as `__`).
    let mut tokens: std::collections::HashMap<String, String> =
        file.registry_tokens.clone().unwrap_or_default().into_iter().map(|(h, t)| (h.to_lowercase(), t)).collect();
    for (key, value) in vars {
        if let Some(host) = key.strip_prefix("TF_TOKEN_") {
            let host = host.replace("__", "\u{0}").replace('_', ".").replace('\u{0}', "-").to_lowercase();
            if !host.is_empty() && !value.trim().is_empty() {
                tokens.insert(host, value.trim().to_string());
            }
        }
    }
    let client = crate::outbound::registry::Settings {
        timeout: std::time::Duration::from_secs(number(env, "REGISTRY_TIMEOUT_SECONDS", file.registry_timeout_seconds, 11, 300)? as u64),
        tokens,
        metadata_hosts: hosts(
            env("REGISTRY_METADATA_HOSTS")
                .or(file.registry_metadata_hosts.clone())
                .unwrap_or_else(|| app::domain::registry::PUBLIC_REGISTRY.into()),
        ),
        ..Default::default()
    };
    Ok(RegistryConfig { poller, client })
}

/// Like [`number`], where 0 (switching the feature off) is allowed too.
fn zero_or_number(
    env: &dyn Fn(&str) -> Option<String>,
    key: &'static str,
    file_value: Option<i64>,
    default: i64,
    max: i64,
) -> Result<i64, ConfigError> {
    match env(key) {
        Some(v) if v.trim() == "0" => Ok(0),
        Some(_) => number(env, key, None, default, max).map_err(|e| match e {
            ConfigError::Invalid(key, why) => ConfigError::Invalid(key, why.replacen("from 1", "from 0", 1)),
            other => other,
        }),
        None => Ok(file_value.unwrap_or(default).clamp(0, max)),
    }
}

/// A whole number from 1 to `max` (any positive one for `i64::MAX`); a file value out of range is clamped.
fn number(
    env: &dyn Fn(&str) -> Option<String>,
    key: &'static str,
    file_value: Option<i64>,
    default: i64,
    max: i64,
) -> Result<i64, ConfigError> {
    match env(key) {
        Some(v) => v.trim().parse::<i64>().ok().filter(|n| (1..=max).contains(n)).ok_or_else(|| {
            let expected = if max == i64::MAX { "a positive whole number".to_string() } else { format!("a whole number from 1 to {max}") };
            ConfigError::Invalid(key, format!("expected {expected}, got \"{v}\""))
        }),
        None => Ok(file_value.unwrap_or(default).clamp(1, max)),
    }
}

/// On or off: 1/true/yes/on or 0/false/no/off.
fn switch(env: &dyn Fn(&str) -> Option<String>, key: &'static str, file_value: Option<bool>, default: bool) -> Result<bool, ConfigError> {
    match env(key) {
        Some(v) => match v.trim() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            other => Err(ConfigError::Invalid(key, format!("expected on or off, got \"{other}\""))),
        },
        None => Ok(file_value.unwrap_or(default)),
    }
}

fn support_config(env: &dyn Fn(&str) -> Option<String>, file: &FileConfig) -> Result<SupportConfig, ConfigError> {
    let token = env("GITHUB_TOKEN").or(file.github_token.clone()).map(|t| t.trim().to_string());
    let api = trim_slash(env("GITHUB_API_URL").or(file.github_api_url.clone()).unwrap_or_else(|| "https://api.github.com".into()));
    let api_base = url::Url::parse(&format!("{api}/")).map_err(|e| ConfigError::Invalid("GITHUB_API_URL", format!("\"{api}\": {e}")))?;
    // Without a token GitHub allows 60 requests an hour: the sync is on by default only with one.
    let sync = crate::jobs::github_sync::Settings {
        enabled: switch(env, "GITHUB_SYNC", file.github_sync, token.is_some())?,
        interval: chrono::Duration::minutes(number(env, "GITHUB_SYNC_INTERVAL_MINUTES", file.github_sync_interval_minutes, 30, 24 * 60)?),
        tick: std::time::Duration::from_secs(number(env, "GITHUB_SYNC_TICK_SECONDS", file.github_sync_tick_seconds, 30, 3600)? as u64),
        release_every: chrono::Duration::hours(number(env, "GITHUB_RELEASE_CHECK_HOURS", file.github_release_check_hours, 6, 24 * 7)?),
        lag_after: chrono::Duration::hours(number(env, "REGISTRY_LAG_HOURS", file.registry_lag_hours, 24, 24 * 90)?),
        ..Default::default()
    };
    let client = crate::outbound::github::Settings {
        api_base,
        token,
        timeout: std::time::Duration::from_secs(number(env, "GITHUB_TIMEOUT_SECONDS", file.github_timeout_seconds, 20, 300)? as u64),
        ..Default::default()
    };
    Ok(SupportConfig {
        sync,
        client,
        monitor: switch(env, "SLA_MONITOR", file.sla_monitor, true)?,
        monitor_tick: std::time::Duration::from_secs(
            number(env, "SLA_MONITOR_TICK_SECONDS", file.sla_monitor_tick_seconds, 60, 3600)? as u64
        ),
        flag_review: switch(env, "FLAG_REVIEW", file.flag_review, true)?,
        flag_review_tick: std::time::Duration::from_secs(number(
            env,
            "FLAG_REVIEW_TICK_SECONDS",
            file.flag_review_tick_seconds,
            300,
            86_400,
        )? as u64),
    })
}

fn mail_config(env: &dyn Fn(&str) -> Option<String>, file: &FileConfig) -> Result<MailConfig, ConfigError> {
    use crate::outbound::mailer::{Secret, Settings, SmtpSettings, TlsMode, Transport};
    let text =
        |key: &str, file_value: &Option<String>| env(key).or(file_value.clone()).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let transport = match text("SMTP_HOST", &file.smtp_host) {
        None => Transport::Folder(text("MAIL_DIR", &file.mail_dir).unwrap_or_else(|| "data/mail".into()).into()),
        Some(host) => {
            let tls = match text("SMTP_TLS", &file.smtp_tls) {
                None => TlsMode::StartTls,
                Some(t) => TlsMode::parse(&t)
                    .ok_or_else(|| ConfigError::Invalid("SMTP_TLS", format!("expected none, starttls or tls, got \"{t}\"")))?,
            };
            let default_port = match tls {
                TlsMode::None => 25,
                TlsMode::StartTls => 587,
                TlsMode::Implicit => 465,
            };
            Transport::Smtp(SmtpSettings {
                host,
                port: number(env, "SMTP_PORT", file.smtp_port, default_port, 65535)? as u16,
                tls,
                username: text("SMTP_USERNAME", &file.smtp_username),
                password: text("SMTP_PASSWORD", &file.smtp_password).map(Secret::new),
                timeout: std::time::Duration::from_secs(number(env, "SMTP_TIMEOUT_SECONDS", file.smtp_timeout_seconds, 30, 600)? as u64),
                pool_size: number(env, "SMTP_POOL_SIZE", file.smtp_pool_size, 8, 64)? as u32,
            })
        }
    };
    let mailer = Settings {
        transport,
        from: text("MAIL_FROM", &file.mail_from).unwrap_or_else(|| Settings::default().from),
        reply_to: text("MAIL_REPLY_TO", &file.mail_reply_to),
    };
    crate::outbound::mailer::Mailer::check_addresses(&mailer).map_err(|e| ConfigError::Invalid("MAIL_FROM", e.to_string()))?;
    let pool = match &mailer.transport {
        Transport::Smtp(s) => s.pool_size as usize,
        Transport::Folder(_) => 4,
    };
    let backoff = app::domain::alert::Backoff {
        max_attempts: number(env, "ALERT_MAX_ATTEMPTS", file.alert_max_attempts, 12, 100)? as u32,
        ..Default::default()
    };
    let delivery = crate::jobs::alert_delivery::Settings {
        enabled: switch(env, "ALERT_DELIVERY", file.alert_delivery, true)?,
        tick: std::time::Duration::from_secs(number(env, "ALERT_DELIVERY_TICK_SECONDS", file.alert_delivery_tick_seconds, 5, 3600)? as u64),
        fold: chrono::Duration::seconds(number(env, "ALERT_FOLD_SECONDS", file.alert_fold_seconds, 60, 3600)?),
        lease: chrono::Duration::seconds(number(env, "ALERT_LEASE_SECONDS", file.alert_lease_seconds, 300, 3600)?),
        concurrency: pool,
        backoff,
        escalate_after: chrono::Duration::hours(number(env, "ALERT_ESCALATE_HOURS", file.alert_escalate_hours, 24, 24 * 14)?),
        ..Default::default()
    };
    Ok(MailConfig { mailer, delivery })
}

/// `primary=mirror` pairs, comma-separated; a bare host mirrors the public registry.
fn mirror_pairs(value: &str) -> Result<Vec<(String, String)>, ConfigError> {
    let mut pairs = Vec::new();
    for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (primary, mirror) = match item.split_once('=') {
            Some((p, m)) => (p.trim().to_lowercase(), m.trim().to_lowercase()),
            None => (app::domain::registry::PUBLIC_REGISTRY.to_string(), item.to_lowercase()),
        };
        if primary.is_empty() || mirror.is_empty() || primary == mirror || [&primary, &mirror].iter().any(|h| h.contains('/')) {
            return Err(ConfigError::Invalid("REGISTRY_MIRRORS", format!("\"{item}\" is not a host or a primary=mirror pair of hosts")));
        }
        pairs.push((primary, mirror));
    }
    Ok(pairs)
}

fn trim_slash(url: String) -> String {
    url.trim().trim_end_matches('/').to_string()
}

/// Leptos reads its own settings (site root, bundle name…) from variables
/// that cargo-leptos sets; outside cargo-leptos (tests) we fill the bundle name.
fn leptos_options(site_addr: SocketAddr) -> Result<LeptosOptions, ConfigError> {
    let mut options = leptos::config::get_configuration(None).map_err(|e| ConfigError::Leptos(e.to_string()))?.leptos_options;
    if options.output_name.is_empty() {
        options.output_name = Arc::from(OUTPUT_NAME);
    }
    options.site_addr = site_addr;
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_sign_in_only_when_asked() {
        let cases: &[(Option<&str>, Option<bool>, bool)] =
            &[(None, None, false), (Some("on"), None, true), (None, Some(true), true), (Some("off"), Some(true), false)];
        for &(value, in_file, want) in cases {
            let env = |k: &str| (k == "DEMO_SIGN_IN").then(|| value.map(str::to_string)).flatten();
            let file = FileConfig { demo_sign_in: in_file, ..FileConfig::default() };
            assert_eq!(auth_config(&env, file).unwrap().demo_sign_in, want, "{value:?} {in_file:?}");
        }
    }

    #[test]
    fn zero_or_number_takes_zero_as_off() {
        let cases: &[(Option<&str>, Option<i64>, Result<i64, &str>)] = &[
            (None, None, Ok(60)),
            (None, Some(0), Ok(0)),
            (None, Some(99_999), Ok(3600)),
            (Some("0"), Some(30), Ok(0)),
            (Some(" 15 "), None, Ok(15)),
            (Some("3600"), None, Ok(3600)),
            (Some("3601"), None, Err("from 0 to 3600")),
            (Some("-1"), None, Err("from 0 to 3600")),
            (Some("soon"), None, Err("got \"soon\"")),
        ];
        for (env, file, want) in cases {
            let lookup = |_: &str| env.map(String::from);
            let got = zero_or_number(&lookup, "DASHBOARD_MAX_AGE_SECONDS", *file, 60, 3600);
            match (got, want) {
                (Ok(n), Ok(w)) => assert_eq!(n, *w, "{env:?} {file:?}"),
                (Err(ConfigError::Invalid(key, why)), Err(w)) => {
                    assert_eq!(key, "DASHBOARD_MAX_AGE_SECONDS");
                    assert!(why.contains(w), "{why}");
                }
                (got, _) => panic!("{env:?} {file:?}: {got:?}"),
            }
        }
    }
}
