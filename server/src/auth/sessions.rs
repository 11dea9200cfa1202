//! Signed-in sessions this instance has looked up, so a page view does not
//! need a database round trip to learn who is asking. A kept session is
//! used only while the change feed has seen no write since it was read
//! (a sign-out, a deactivation or a role change anywhere moves it), before
//! the session's end, and until its idle clock is due to be written, which
//! sends the next request to the database anyway.

use crate::fifo::Fifo;
use app::domain::access::Caller;
use app::error::AppError;
use app::services::sign_in::{self, Policy};
use app::store::changes::{Changes, Mark};
use app::store::users::LiveSession;
use app::store::Db;
use chrono::{DateTime, Utc};
use std::sync::Arc;

pub struct Sessions {
    feed: Arc<Changes>,
    kept: Fifo<Kept>,
}

struct Kept {
    session: LiveSession,
    mark: Mark,
}

impl Sessions {
    /// Keeps up to `capacity` sessions (0: every request asks the database).
    pub fn new(capacity: usize, feed: Arc<Changes>) -> Sessions {
        Sessions { feed, kept: Fifo::new(capacity) }
    }

    /// The caller behind a session cookie's secret, as `sign_in::session_caller` gives it.
    pub async fn caller(&self, db: &Db, policy: &Policy, secret: &str, now: DateTime<Utc>) -> Result<Option<Caller>, AppError> {
        if self.kept.is_off() {
            return sign_in::session_caller(db, policy, secret, now).await;
        }
        let key = sign_in::session_key(secret);
        if let Some(kept) = self.kept.get(&key) {
            if self.feed.unchanged_since(kept.mark) && sign_in::still_live(&kept.session, policy, now) {
                return Ok(Some(kept.session.caller.clone()));
            }
        }
        // Marked before the read: a write committed meanwhile makes the copy stale at once.
        let mark = self.feed.mark();
        let Some(session) = sign_in::session(db, policy, secret, now).await? else {
            return Ok(None);
        };
        let caller = session.caller.clone();
        if let Some(mark) = mark {
            self.kept.put(key, Kept { session, mark });
        }
        Ok(Some(caller))
    }
}
