//! The database: one pool for SQLite or PostgreSQL, picked by the URL
//! scheme, and the queries per concept. Queries are written once with `$n`
//! placeholders (SQLite accepts them) and run on either backend through
//! [`on_pool!`]; only the migrations differ, as paired files.

pub mod alerts;
pub mod audit;
pub mod blobs;
pub mod changes;
pub mod dashboard;
pub mod flags;
pub mod integrations;
pub mod partners;
pub mod registry;
pub mod run_task_checks;
pub mod run_tasks;
pub mod snapshots;
pub mod support;
pub mod tasks;
pub mod templates;
pub mod users;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::{PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// A connection pool on one of the two supported backends.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same code against whichever pool `db` holds. The body is
/// compiled once per backend, so it is written once and type-checked twice.
#[macro_export]
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}

/// Starts a transaction that writes. On SQLite it takes the write lock at
/// once (`BEGIN IMMEDIATE`): a deferred transaction that reads first and
/// writes later fails at once with SQLITE_BUSY_SNAPSHOT (517) when another
/// connection wrote in between, and the busy timeout cannot help it, so
/// concurrent writers (a runner, a callback, a person) would see 500s.
/// Waiting for the lock instead is what `busy_timeout` is for.
pub trait BeginWrite {
    type Database: sqlx::Database;
    fn begin_write(&self) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>> + Send;
}

impl BeginWrite for SqlitePool {
    type Database = sqlx::Sqlite;
    fn begin_write(&self) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

impl BeginWrite for PgPool {
    type Database = sqlx::Postgres;
    fn begin_write(&self) -> impl std::future::Future<Output = Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error>> + Send {
        self.begin()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("DATABASE_URL must start with sqlite:// or postgres:// (got \"{0}\")")]
    UnknownScheme(String),
    #[error("cannot create the database directory {0}: {1}")]
    Directory(String, std::io::Error),
    #[error(transparent)]
    Sqlx(#[from] sqlx::Error),
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Db {
    /// Connects; for SQLite, creates the file (and its directory) if
    /// missing and switches on WAL and foreign keys.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                // WAL with NORMAL: a commit survives a crash of the process;
                // only a power cut can lose the last moments. One fsync less per write.
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
            let path = options.get_filename();
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| ConnectError::Directory(dir.display().to_string(), e))?;
            }
            let feed = changes::sqlite::feed(path);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .acquire_timeout(Duration::from_secs(10))
                .after_connect(move |conn, _| {
                    let feed = feed.clone();
                    Box::pin(async move {
                        // The WAL hook fires only in WAL mode (a file system without it keeps another journal).
                        let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&mut *conn).await?;
                        if mode.eq_ignore_ascii_case("wal") {
                            changes::sqlite::report_commits(&mut conn.lock_handle().await?, &feed);
                        } else {
                            tracing::warn!(mode, "SQLite is not in WAL mode: commits cannot be followed, caches are off");
                            feed.set_live(false);
                        }
                        Ok(())
                    })
                })
                .connect_with(options)
                .await?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(10)).connect_with(options).await?;
            Ok(Db::Postgres(pool))
        } else {
            let scheme = url.split(':').next().unwrap_or_default().to_string();
            Err(ConnectError::UnknownScheme(scheme))
        }
    }

    /// Applies the migrations of this backend (`migrations/sqlite` or
    /// `migrations/postgres`, paired file by file).
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        match self {
            Db::Sqlite(pool) => sqlx::migrate!("../migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("../migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        on_pool!(self, |pool| sqlx::query("SELECT 1").execute(pool).await.map(|_| ()))
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await)
    }
}

/// True when the error is a unique-constraint violation, on either backend.
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// The `n`th bind parameter of a statement built for long parameter lists:
/// `$n` on PostgreSQL, a plain `?` on SQLite. SQLite keeps `$n` names in a
/// list it searches linearly on every bind, so a statement with thousands of
/// them costs quadratic time per execution (120 ms for 11,520 values); plain
/// `?` parameters bind by position. Statements built with this must use
/// each parameter once, in order.
pub(crate) fn param(db: &Db, n: usize) -> String {
    match db {
        Db::Sqlite(_) => "?".to_string(),
        Db::Postgres(_) => format!("${n}"),
    }
}

/// The parameters of an `IN (…)` list of `n` values, the statement's only ones.
pub(crate) fn placeholders(db: &Db, n: usize) -> String {
    (1..=n).map(|i| param(db, i)).collect::<Vec<_>>().join(", ")
}

/// `rows` tuples of `width` parameters after the first `skip`: `($3, $4),
/// ($5, $6)` for a multi-row `VALUES` list (see [`param`]).
pub(crate) fn tuples(db: &Db, rows: usize, width: usize, skip: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", (1..=width).map(|c| param(db, skip + r * width + c)).collect::<Vec<_>>().join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The row counts multi-row statements are built for. Each count is a
/// statement text of its own, which every connection prepares and caches,
/// and a statement of a thousand rows is a large program: a batch cut into
/// these few sizes reuses a handful of cached statements instead of filling
/// the cache with one-off sizes (prepared at a cost, held in memory).
const PIECE_SIZES: [usize; 6] = [1024, 256, 64, 16, 4, 1];

/// `items` cut into pieces of at most `max` (a size from [`PIECE_SIZES`]),
/// largest first, for multi-row statements.
pub(crate) fn pieces<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = PIECE_SIZES.iter().copied().find(|&s| s <= max && s <= rest.len()).unwrap_or(1);
        let (piece, tail) = rest.split_at(size);
        rest = tail;
        Some(piece)
    })
}

/// Sorts categories in the program's order, so every list reads the same.
pub(crate) fn program_order(mut categories: Vec<String>) -> Vec<String> {
    let all = crate::domain::catalog::all_categories();
    categories.sort_by_key(|c| all.iter().position(|a| a == c).unwrap_or(usize::MAX));
    categories
}

/// A stored vocabulary value this build does not know (a newer schema, or
/// a hand edit): surfaced as a decode error rather than guessed at.
pub(crate) fn decode_error(what: &str, value: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unknown {what} {value:?} in the database").into())
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
pub fn like_pattern(needle: &str) -> String {
    let mut out = String::from("%");
    for c in needle.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

#[cfg(test)]
mod tests {
    use super::pieces;

    #[test]
    fn batches_are_cut_into_a_few_statement_sizes() {
        let cases: &[(usize, usize, &[usize])] = &[
            (0, 1024, &[]),
            (1, 1024, &[1]),
            (3, 1024, &[1, 1, 1]),
            (5, 1024, &[4, 1]),
            (128, 256, &[64, 64]),
            (1280, 1024, &[1024, 256]),
            (1300, 1024, &[1024, 256, 16, 4]),
            (2048, 1024, &[1024, 1024]),
            (600, 256, &[256, 256, 64, 16, 4, 4]),
            // A maximum below every size still makes progress, one by one.
            (2, 0, &[1, 1]),
        ];
        for &(len, max, want) in cases {
            let items: Vec<usize> = (0..len).collect();
            let sizes: Vec<usize> = pieces(&items, max).map(<[usize]>::len).collect();
            assert_eq!(sizes, want, "{len} items, at most {max} a piece");
            let rejoined: Vec<usize> = pieces(&items, max).flatten().copied().collect();
            assert_eq!(rejoined, items, "{len} items come back in order");
        }
    }
}
