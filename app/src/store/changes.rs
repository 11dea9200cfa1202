//! The change feed: a counter that moves after every committed write that
//! may change what a cache holds, so caches (signed-in sessions, rendered
//! dashboards) can answer without a database round trip and still never
//! outlive the data they were made from by more than the feed's delay.
//!
//! - **PostgreSQL**: triggers on the watched tables `NOTIFY` on
//!   [`CHANNEL`] (migrations 0016 and 0018; a statement that changes no
//!   row notifies no one); PostgreSQL delivers a notification only
//!   once its transaction has committed, to every instance listening, so
//!   all instances' caches follow one another's writes within milliseconds.
//!   While the listening connection is down the feed is not *live* and
//!   caches are bypassed; every reconnect moves the counter, because
//!   notifications sent meanwhile are lost.
//! - **SQLite**: one server process per database file. Every connection
//!   reports its commits through SQLite's WAL hook, which runs after the
//!   commit is durable and visible, so the counter moves before anyone can
//!   have read old data under the new count. Every commit counts, whatever
//!   it wrote. A write by another process (a command-line tool) is not seen;
//!   caches bound the age of what they keep for that reason.
//!
//! A cache takes a [`Mark`] before reading what it keeps and serves the
//! copy only while [`Changes::unchanged_since`] that mark.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;

/// The channel the PostgreSQL triggers notify.
pub const CHANNEL: &str = "tracker_changes";

#[derive(Debug, Default)]
pub struct Changes {
    count: AtomicU64,
    live: AtomicBool,
}

/// The feed's count when a cache began reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark(u64);

impl Changes {
    /// A feed that reports nothing yet (not live): caches are bypassed until it is.
    pub fn pending() -> Arc<Changes> {
        Arc::new(Changes::default())
    }

    /// Where the feed stands, to be taken before reading what will be
    /// cached; `None` while the feed is not live (nothing may be cached).
    pub fn mark(&self) -> Option<Mark> {
        let mark = Mark(self.count.load(SeqCst));
        self.live.load(SeqCst).then_some(mark)
    }

    /// True while nothing has been written since `mark` and the feed has
    /// been live throughout.
    pub fn unchanged_since(&self, mark: Mark) -> bool {
        self.live.load(SeqCst) && self.count.load(SeqCst) == mark.0
    }

    /// Something was (or may have been) written.
    pub fn changed(&self) {
        self.count.fetch_add(1, SeqCst);
    }

    /// How many changes the feed has seen (for tests and metrics).
    pub fn count(&self) -> u64 {
        self.count.load(SeqCst)
    }

    pub fn is_live(&self) -> bool {
        self.live.load(SeqCst)
    }

    /// The feed starts or stops reporting. Either way the count moves:
    /// what was read while it was down may be out of date.
    pub fn set_live(&self, live: bool) {
        if live {
            self.changed();
            self.live.store(true, SeqCst);
        } else {
            self.live.store(false, SeqCst);
            self.changed();
        }
    }
}

/// The feed of a database.
pub fn of(db: &super::Db) -> Arc<Changes> {
    match db {
        super::Db::Sqlite(pool) => sqlite::feed(pool.connect_options().get_filename()),
        // Live once `follow_postgres` listens.
        super::Db::Postgres(_) => Changes::pending(),
    }
}

/// Listens for the triggers' notifications until the task is dropped,
/// reconnecting with backoff; the feed is live only while listening.
pub async fn follow_postgres(pool: sqlx::PgPool, feed: Arc<Changes>) {
    use sqlx::postgres::PgListener;
    let mut backoff = std::time::Duration::from_millis(250);
    loop {
        let listener = match PgListener::connect_with(&pool).await {
            Ok(mut listener) => listener.listen(CHANNEL).await.map(|()| listener),
            Err(e) => Err(e),
        };
        match listener {
            Ok(mut listener) => {
                feed.set_live(true);
                backoff = std::time::Duration::from_millis(250);
                loop {
                    match listener.try_recv().await {
                        Ok(Some(_)) => feed.changed(),
                        Ok(None) => {
                            tracing::warn!("change feed: the listening connection was lost; caches are bypassed until it is back");
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "change feed: listening failed; caches are bypassed until it is back");
                            break;
                        }
                    }
                }
                feed.set_live(false);
            }
            Err(e) => tracing::warn!(error = %e, "change feed: cannot listen for changes; caches stay bypassed"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(std::time::Duration::from_secs(30));
    }
}

/// SQLite's side: one feed per database file in this process, fed by every
/// connection's WAL hook.
pub(super) mod sqlite {
    use super::Changes;
    use std::collections::HashMap;
    use std::ffi::{c_char, c_int, c_void};
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, LazyLock, Mutex};

    /// SQLite checkpoints the WAL itself after a commit that leaves this
    /// many pages in it; a WAL hook of our own replaces that, so it does the same.
    const AUTO_CHECKPOINT_PAGES: c_int = 1000;

    static FEEDS: LazyLock<Mutex<HashMap<PathBuf, Arc<Changes>>>> = LazyLock::new(Default::default);

    /// The feed of the database file at `path` (one per file, however many
    /// pools this process opens on it); live from the start.
    pub fn feed(path: &Path) -> Arc<Changes> {
        let key = canonical(path);
        let mut feeds = FEEDS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        feeds
            .entry(key)
            .or_insert_with(|| {
                let feed = Arc::new(Changes::default());
                feed.set_live(true);
                feed
            })
            .clone()
    }

    /// The same file under whatever name it was opened by.
    fn canonical(path: &Path) -> PathBuf {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        match (dir.canonicalize(), path.file_name()) {
            (Ok(dir), Some(name)) => dir.join(name),
            _ => path.to_path_buf(),
        }
    }

    /// Makes the connection report its commits to `feed`. Called once per
    /// new connection, on a connection in WAL mode (the hook fires in no other).
    pub fn report_commits(handle: &mut sqlx::sqlite::LockedSqliteHandle<'_>, feed: &Arc<Changes>) {
        // One reference per connection, never released: the hook may run as
        // long as the connection lives, and feeds live as long as the process anyway.
        let context = Arc::into_raw(feed.clone()) as *mut c_void;
        // SAFETY: the handle is locked (no other thread uses the connection
        // meanwhile), and `context` points to a `Changes` that is never freed.
        unsafe {
            libsqlite3_sys::sqlite3_wal_hook(handle.as_raw_handle().as_ptr(), Some(committed), context);
        }
    }

    /// SQLite's WAL hook: runs after a transaction has committed.
    unsafe extern "C" fn committed(context: *mut c_void, db: *mut libsqlite3_sys::sqlite3, name: *const c_char, pages: c_int) -> c_int {
        // SAFETY: `context` is the pointer `report_commits` leaked.
        let feed = unsafe { &*(context as *const Changes) };
        feed.changed();
        if pages >= AUTO_CHECKPOINT_PAGES {
            // SAFETY: what SQLite's own auto-checkpoint hook does, with the arguments it was given.
            unsafe {
                libsqlite3_sys::sqlite3_wal_checkpoint(db, name);
            }
        }
        libsqlite3_sys::SQLITE_OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_holds_until_a_change_or_an_outage() {
        let feed = Changes::pending();
        assert_eq!(feed.mark(), None, "nothing may be cached before the feed is live");
        feed.set_live(true);
        let mark = feed.mark().expect("live");
        assert!(feed.unchanged_since(mark));
        feed.changed();
        assert!(!feed.unchanged_since(mark), "a write");
        let mark = feed.mark().expect("live");
        feed.set_live(false);
        assert!(!feed.unchanged_since(mark), "an outage");
        assert_eq!(feed.mark(), None);
        feed.set_live(true);
        assert!(!feed.unchanged_since(mark), "what was kept before the outage stays stale after it");
        assert!(feed.mark().is_some_and(|m| feed.unchanged_since(m)));
    }
}
