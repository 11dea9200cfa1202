//! `server [serve|migrate|seed-demo|create-admin|create-token]`: see the
//! README for settings.

use clap::{Parser, Subcommand};
use server::config::Config;
use server::{demo, Application};
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "server", about = "Integration Tracker server")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply migrations and serve the web app and API (the default).
    Serve,
    /// Apply database migrations, then exit.
    Migrate,
    /// Load the demo partners, integrations and accounts into an empty database.
    SeedDemo,
    /// Make EMAIL an active administrator, creating the account if needed (idempotent).
    CreateAdmin {
        #[arg(long)]
        email: String,
    },
    /// Create a personal API token for the user with EMAIL; prints only the token.
    CreateToken {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::load() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info")))
        // The log goes to stderr: stdout is for what commands print (a token).
        .with_writer(std::io::stderr)
        .init();
    match run(cli.command.unwrap_or(Command::Serve), config).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, config: Config) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve => {
            let app = Application::build(&config).await?;
            tracing::info!(address = %app.local_addr(), backend = app.db().backend(), "serving on http://{}", app.local_addr());
            app.run_until_stopped(shutdown_signal()).await?;
            tracing::info!("stopped");
        }
        Command::Migrate => {
            let db = app::store::Db::connect(&config.database_url).await?;
            db.migrate().await?;
            println!("migrations applied ({})", db.backend());
        }
        Command::SeedDemo => {
            let db = app::store::Db::connect(&config.database_url).await?;
            db.migrate().await?;
            // With the sample endpoint on, the demo's run tasks are registered to it.
            let sample = config.sample_run_task.then(|| demo::SampleEndpoint {
                url: format!(
                    "{}{}",
                    config.auth.base_url.clone().unwrap_or_else(|| format!("http://{}", config.site_addr)),
                    server::http::sample_run_task::PATH
                ),
                key: server::http::sample_run_task::KEY.into(),
                plain_http: server::outbound_guard(&config).map(|g| g.plain_http_hosts().to_vec()).unwrap_or_default(),
            });
            match demo::seed_with(&db, sample.as_ref()).await? {
                demo::Seeded::Loaded { partners, integrations } => {
                    println!("demo data loaded: {partners} partners, {integrations} integrations")
                }
                demo::Seeded::AlreadyHasData => {
                    println!("the database already has partners; demo data not loaded")
                }
            }
        }
        Command::CreateAdmin { email } => {
            let db = app::store::Db::connect(&config.database_url).await?;
            db.migrate().await?;
            let (_, changed) = app::services::sign_in::ensure_admin(&db, &email, chrono::Utc::now()).await?;
            // Messages on stderr, so scripts can rely on stdout.
            if changed {
                eprintln!("{email} is now an active administrator; they sign in with GitHub or OpenID Connect using this email");
            } else {
                eprintln!("{email} already is an active administrator");
            }
        }
        Command::CreateToken { email, name } => {
            let db = app::store::Db::connect(&config.database_url).await?;
            db.migrate().await?;
            let email = app::domain::user::normalise_email(&email);
            let user = app::store::users::get_by_email(&db, &email).await?;
            let user = match user {
                Some(u) if u.status == app::domain::user::UserStatus::Active => u,
                Some(_) => return Err(format!("{email} is not active (invited or deactivated)").into()),
                None => {
                    return Err(
                        format!("no user with the email {email}; create one first (e.g. server create-admin --email {email})").into()
                    )
                }
            };
            let (_, secret) = app::services::tokens::create_for(&db, user.id, &name, chrono::Utc::now()).await?;
            println!("{secret}");
        }
    }
    Ok(())
}

/// Ctrl-C or SIGTERM: stop accepting, finish what is in flight.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
