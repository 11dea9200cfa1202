//! Queries for users, their identities at sign-in providers, sessions, API
//! tokens, one-time sign-in links, OAuth states in flight and rate limits.
//! Secrets are never stored: only SHA-256 hashes of them.

use crate::domain::access::{Caller, PartnerRef, Role};
use crate::domain::audit::Entry;
use crate::domain::user::{ApiToken, User, UserStatus};
use crate::on_pool;
use crate::store::audit::record;
use crate::store::{decode_error, Db};
use chrono::{DateTime, Utc};

#[derive(sqlx::FromRow)]
struct CallerRow {
    id: i64,
    email: String,
    name: String,
    role: String,
    partner_id: Option<i64>,
    partner_slug: Option<String>,
    partner_name: Option<String>,
}

impl CallerRow {
    fn into_caller(self) -> Result<Caller, sqlx::Error> {
        let role = Role::parse(&self.role).ok_or_else(|| decode_error("role", &self.role))?;
        let partner = match (self.partner_id, self.partner_slug, self.partner_name) {
            (Some(id), Some(slug), Some(name)) => Some(PartnerRef { id, slug, name }),
            _ => None,
        };
        Ok(Caller { user_id: self.id, email: self.email, name: self.name, role, partner })
    }
}

const CALLER: &str = "SELECT u.id, u.email, u.name, u.role, u.partner_id, p.slug AS partner_slug, p.name AS partner_name
  FROM users u LEFT JOIN partners p ON p.id = u.partner_id";

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    email: String,
    name: String,
    role: String,
    partner_slug: Option<String>,
    partner_name: Option<String>,
    status: String,
    created_at: DateTime<Utc>,
    last_sign_in_at: Option<DateTime<Utc>>,
}

const USER: &str = "SELECT u.id, u.email, u.name, u.role, p.slug AS partner_slug, p.name AS partner_name,
    u.status, u.created_at, u.last_sign_in_at
  FROM users u LEFT JOIN partners p ON p.id = u.partner_id";

impl UserRow {
    fn into_user(self) -> Result<User, sqlx::Error> {
        Ok(User {
            id: self.id,
            role: Role::parse(&self.role).ok_or_else(|| decode_error("role", &self.role))?,
            status: UserStatus::parse(&self.status).ok_or_else(|| decode_error("user status", &self.status))?,
            email: self.email,
            name: self.name,
            partner_slug: self.partner_slug,
            partner_name: self.partner_name,
            created_at: self.created_at,
            last_sign_in_at: self.last_sign_in_at,
        })
    }
}

// ---- users ----

pub async fn caller_by_id(db: &Db, user_id: i64) -> Result<Option<Caller>, sqlx::Error> {
    let sql = format!("{CALLER} WHERE u.id = $1 AND u.status = 'active'");
    let row = on_pool!(db, |pool| sqlx::query_as::<_, CallerRow>(&sql).bind(user_id).fetch_optional(pool).await?);
    row.map(CallerRow::into_caller).transpose()
}

pub async fn get(db: &Db, id: i64) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("{USER} WHERE u.id = $1");
    let row = on_pool!(db, |pool| sqlx::query_as::<_, UserRow>(&sql).bind(id).fetch_optional(pool).await?);
    row.map(UserRow::into_user).transpose()
}

pub async fn get_by_email(db: &Db, email: &str) -> Result<Option<User>, sqlx::Error> {
    let sql = format!("{USER} WHERE u.email = $1");
    let row = on_pool!(db, |pool| sqlx::query_as::<_, UserRow>(&sql).bind(email).fetch_optional(pool).await?);
    row.map(UserRow::into_user).transpose()
}

/// The user an identity at a provider is bound to, whatever their status.
pub async fn user_id_by_identity(db: &Db, provider: &str, subject: &str) -> Result<Option<i64>, sqlx::Error> {
    on_pool!(db, |pool| sqlx::query_scalar("SELECT user_id FROM user_identities WHERE provider = $1 AND subject = $2")
        .bind(provider)
        .bind(subject)
        .fetch_optional(pool)
        .await)
}

/// Whether the user already has an identity at `provider`.
pub async fn has_identity(db: &Db, user_id: i64, provider: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = on_pool!(db, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM user_identities WHERE user_id = $1 AND provider = $2")
        .bind(user_id)
        .bind(provider)
        .fetch_one(pool)
        .await?);
    Ok(n > 0)
}

pub async fn link_identity(db: &Db, provider: &str, subject: &str, user_id: i64, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        sqlx::query(
            "INSERT INTO user_identities (provider, subject, user_id, created_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (provider, subject) DO NOTHING",
        )
        .bind(provider)
        .bind(subject)
        .bind(user_id)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())?
    });
    Ok(())
}

/// Active and invited people before deactivated ones, by email; with the total.
pub async fn list(db: &Db, page: i64, per_page: i64) -> Result<(Vec<User>, i64), sqlx::Error> {
    let sql = format!("{USER} ORDER BY u.status = 'deactivated', LOWER(u.email) LIMIT $1 OFFSET $2");
    let (rows, total) = on_pool!(db, |pool| {
        let rows = sqlx::query_as::<_, UserRow>(&sql).bind(per_page).bind((page - 1) * per_page).fetch_all(pool).await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users").fetch_one(pool).await?;
        (rows, total)
    });
    Ok((rows.into_iter().map(UserRow::into_user).collect::<Result<_, _>>()?, total))
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub partner_id: Option<i64>,
    pub status: UserStatus,
    pub demo: bool,
}

/// Inserts a user and its audit record (which gets the new id) in one transaction.
pub async fn insert(db: &Db, u: &NewUser<'_>, now: DateTime<Utc>, audit: &Entry) -> Result<i64, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (email, name, role, partner_id, status, demo, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id",
        )
        .bind(u.email)
        .bind(u.name)
        .bind(u.role.key())
        .bind(u.partner_id)
        .bind(u.status.key())
        .bind(u.demo)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        record!(&mut *tx, &Entry { target_id: Some(id), ..audit.clone() }, now)?;
        tx.commit().await?;
        Ok(id)
    })
}

/// Changes name, role and partner (not the email, which identifies them),
/// with its audit record.
pub async fn update(
    db: &Db,
    id: i64,
    name: &str,
    role: Role,
    partner_id: Option<i64>,
    now: DateTime<Utc>,
    audit: &Entry,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        sqlx::query("UPDATE users SET name = $2, role = $3, partner_id = $4, updated_at = $5 WHERE id = $1")
            .bind(id)
            .bind(name)
            .bind(role.key())
            .bind(partner_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        record!(&mut *tx, audit, now)?;
        tx.commit().await
    })
}

pub async fn set_name(db: &Db, id: i64, name: &str, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query("UPDATE users SET name = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(name)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())?);
    Ok(())
}

/// Activates or deactivates a user, with its audit record.
pub async fn set_status(db: &Db, id: i64, status: UserStatus, now: DateTime<Utc>, audit: &Entry) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        sqlx::query("UPDATE users SET status = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(status.key())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        record!(&mut *tx, audit, now)?;
        tx.commit().await
    })
}

pub async fn record_sign_in(db: &Db, id: i64, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query("UPDATE users SET last_sign_in_at = $2 WHERE id = $1")
        .bind(id)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())?);
    Ok(())
}

pub async fn active_admin_exists(db: &Db) -> Result<bool, sqlx::Error> {
    let n: i64 = on_pool!(db, |pool| sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND status = 'active'")
        .fetch_one(pool)
        .await?);
    Ok(n > 0)
}

/// Demo accounts the loopback-only picker offers, as (id, name, role, partner name).
pub async fn demo_users(db: &Db) -> Result<Vec<Caller>, sqlx::Error> {
    let sql = format!("{CALLER} WHERE u.demo = $1 AND u.status = 'active' ORDER BY u.id");
    let rows = on_pool!(db, |pool| sqlx::query_as::<_, CallerRow>(&sql).bind(true).fetch_all(pool).await?);
    rows.into_iter().map(CallerRow::into_caller).collect()
}

/// The partners that let members of their GitHub organisation join and
/// whose organisation, by GitHub's numeric id, is one of `org_ids`, as
/// (id, slug). By id, not login: a renamed organisation's old login can be
/// registered by anyone.
pub async fn auto_join_partners(db: &Db, org_ids: &[i64]) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let mut found = Vec::new();
    for chunk in org_ids.chunks(500) {
        let sql = format!(
            "SELECT id, slug FROM partners WHERE github_auto_join = $1 AND github_org_id IN ({}) ORDER BY slug",
            (2..chunk.len() + 2).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
        );
        let rows = on_pool!(db, |pool| {
            let mut q = sqlx::query_as::<_, (i64, String)>(&sql).bind(true);
            for id in chunk {
                q = q.bind(id);
            }
            q.fetch_all(pool).await?
        });
        found.extend(rows);
    }
    found.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(found)
}

// ---- sessions ----

pub async fn insert_session(
    db: &Db,
    token_hash: &str,
    user_id: i64,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        sqlx::query("INSERT INTO sessions (token_hash, user_id, created_at, last_seen_at, expires_at) VALUES ($1, $2, $3, $3, $4)")
            .bind(token_hash)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|_| ())?
    });
    Ok(())
}

/// A session found live: its user, when it was last seen and when it ends.
pub struct LiveSession {
    pub caller: Caller,
    pub last_seen: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The active user behind a session that has neither idled out (last seen
/// after `idle_since`) nor reached its absolute end.
pub async fn live_session(
    db: &Db,
    token_hash: &str,
    now: DateTime<Utc>,
    idle_since: DateTime<Utc>,
) -> Result<Option<LiveSession>, sqlx::Error> {
    let sql = format!(
        "SELECT u.id, u.email, u.name, u.role, u.partner_id, p.slug AS partner_slug, p.name AS partner_name, s.last_seen_at, s.expires_at
         FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN partners p ON p.id = u.partner_id
         WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.status = 'active'"
    );
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        caller: CallerRow,
        last_seen_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    }
    let row = on_pool!(db, |pool| sqlx::query_as::<_, Row>(&sql).bind(token_hash).bind(now).bind(idle_since).fetch_optional(pool).await?);
    row.map(|r| Ok(LiveSession { caller: r.caller.into_caller()?, last_seen: r.last_seen_at, expires_at: r.expires_at })).transpose()
}

pub async fn touch_session(db: &Db, token_hash: &str, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE token_hash = $1")
        .bind(token_hash)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())?);
    Ok(())
}

pub async fn delete_session(db: &Db, token_hash: &str) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(pool).await.map(|_| ())?);
    Ok(())
}

/// Ends every session of a user and revokes their tokens.
pub async fn cut_off(db: &Db, user_id: i64, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(pool).await?;
        sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
            .bind(user_id)
            .bind(now)
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// Removes sessions and OAuth states past their end, and old rate windows.
pub async fn sweep(db: &Db, now: DateTime<Utc>, idle_since: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2").bind(now).bind(idle_since).execute(pool).await?;
        sqlx::query("DELETE FROM oauth_states WHERE expires_at <= $1").bind(now).execute(pool).await?;
        sqlx::query("DELETE FROM rate_limits WHERE window_start <= $1").bind(now - chrono::Duration::hours(1)).execute(pool).await?;
    });
    Ok(())
}

// ---- API tokens ----

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: i64,
    name: String,
    prefix: String,
    created_at: DateTime<Utc>,
    last_used_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
}

/// Stores a new token's hash and its audit record (which gets the new id).
pub async fn insert_token(
    db: &Db,
    user_id: i64,
    name: &str,
    token_hash: &str,
    prefix: &str,
    now: DateTime<Utc>,
    audit: &Entry,
) -> Result<i64, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user_id)
        .bind(name)
        .bind(token_hash)
        .bind(prefix)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        record!(&mut *tx, &Entry { target_id: Some(id), ..audit.clone() }, now)?;
        tx.commit().await?;
        Ok(id)
    })
}

pub async fn tokens_of(db: &Db, user_id: i64) -> Result<Vec<ApiToken>, sqlx::Error> {
    let rows = on_pool!(db, |pool| sqlx::query_as::<_, TokenRow>(
        "SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_tokens
         WHERE user_id = $1 ORDER BY revoked_at IS NOT NULL, created_at DESC, id DESC"
    )
    .bind(user_id)
    .fetch_all(pool)
    .await?);
    Ok(rows
        .into_iter()
        .map(|r| ApiToken {
            id: r.id,
            name: r.name,
            prefix: r.prefix,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        })
        .collect())
}

/// Revokes one of the user's own tokens, with its audit record; false (and
/// nothing written) when there is no such live token.
pub async fn revoke_token(db: &Db, user_id: i64, token_id: i64, now: DateTime<Utc>, audit: &Entry) -> Result<bool, sqlx::Error> {
    on_pool!(db, |pool| {
        let mut tx = crate::store::BeginWrite::begin_write(pool).await?;
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL")
            .bind(token_id)
            .bind(user_id)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if done != 1 {
            return Ok(false);
        }
        record!(&mut *tx, audit, now)?;
        tx.commit().await?;
        Ok(true)
    })
}

/// The active user behind a live token, the token's id and when it was last used.
pub async fn caller_by_token(db: &Db, token_hash: &str) -> Result<Option<(Caller, i64, Option<DateTime<Utc>>)>, sqlx::Error> {
    let sql = "SELECT u.id, u.email, u.name, u.role, u.partner_id, p.slug AS partner_slug, p.name AS partner_name,
            t.id AS token_id, t.last_used_at
         FROM api_tokens t JOIN users u ON u.id = t.user_id LEFT JOIN partners p ON p.id = u.partner_id
         WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.status = 'active'";
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        caller: CallerRow,
        token_id: i64,
        last_used_at: Option<DateTime<Utc>>,
    }
    let row = on_pool!(db, |pool| sqlx::query_as::<_, Row>(sql).bind(token_hash).fetch_optional(pool).await?);
    row.map(|r| Ok((r.caller.into_caller()?, r.token_id, r.last_used_at))).transpose()
}

pub async fn touch_token(db: &Db, token_id: i64, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
        .bind(token_id)
        .bind(now)
        .execute(pool)
        .await
        .map(|_| ())?);
    Ok(())
}

// ---- one-time sign-in links ----

pub async fn insert_link(
    db: &Db,
    token_hash: &str,
    purpose: &str,
    user_id: Option<i64>,
    now: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        sqlx::query("INSERT INTO sign_in_links (token_hash, purpose, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(token_hash)
            .bind(purpose)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(pool)
            .await
            .map(|_| ())?
    });
    Ok(())
}

/// A link as stored: (user id, expires at, used at).
pub async fn link(
    db: &Db,
    token_hash: &str,
    purpose: &str,
) -> Result<Option<(Option<i64>, DateTime<Utc>, Option<DateTime<Utc>>)>, sqlx::Error> {
    on_pool!(db, |pool| {
        sqlx::query_as("SELECT user_id, expires_at, used_at FROM sign_in_links WHERE token_hash = $1 AND purpose = $2")
            .bind(token_hash)
            .bind(purpose)
            .fetch_optional(pool)
            .await
    })
}

/// Marks a live link used; true for exactly one caller, even when several
/// instances race for it.
pub async fn consume_link(db: &Db, token_hash: &str, purpose: &str, now: DateTime<Utc>) -> Result<bool, sqlx::Error> {
    let n = on_pool!(db, |pool| {
        sqlx::query("UPDATE sign_in_links SET used_at = $3 WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3")
            .bind(token_hash)
            .bind(purpose)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
    });
    Ok(n == 1)
}

/// Marks every unused invitation link of a user used (accepted, or replaced by a new one).
pub async fn use_up_invitations(db: &Db, user_id: i64, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        sqlx::query("UPDATE sign_in_links SET used_at = $2 WHERE user_id = $1 AND purpose = 'invitation' AND used_at IS NULL")
            .bind(user_id)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())?
    });
    Ok(())
}

/// The newest invitation link of a user: (expires at, used at).
pub async fn latest_invitation(db: &Db, user_id: i64) -> Result<Option<(DateTime<Utc>, Option<DateTime<Utc>>)>, sqlx::Error> {
    on_pool!(db, |pool| {
        sqlx::query_as(
            "SELECT expires_at, used_at FROM sign_in_links WHERE user_id = $1 AND purpose = 'invitation'
         ORDER BY expires_at DESC LIMIT 1",
        )
        .bind(user_id)
        .fetch_optional(pool)
        .await
    })
}

// ---- OAuth states ----

/// An authorization in flight (see the `oauth_states` table).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OAuthState {
    pub state: String,
    pub provider: String,
    pub pkce_verifier: String,
    pub nonce: String,
    pub invitation_hash: Option<String>,
    pub return_to: String,
    pub expires_at: DateTime<Utc>,
}

pub async fn insert_oauth_state(db: &Db, s: &OAuthState, now: DateTime<Utc>) -> Result<(), sqlx::Error> {
    on_pool!(db, |pool| {
        sqlx::query(
            "INSERT INTO oauth_states (state, provider, pkce_verifier, nonce, invitation_hash, return_to, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&s.state)
        .bind(&s.provider)
        .bind(&s.pkce_verifier)
        .bind(&s.nonce)
        .bind(&s.invitation_hash)
        .bind(&s.return_to)
        .bind(now)
        .bind(s.expires_at)
        .execute(pool)
        .await
        .map(|_| ())?
    });
    Ok(())
}

/// Removes and returns a live state: each can finish one sign-in only.
pub async fn take_oauth_state(db: &Db, state: &str, now: DateTime<Utc>) -> Result<Option<OAuthState>, sqlx::Error> {
    let row = on_pool!(db, |pool| sqlx::query_as::<_, OAuthState>(
        "DELETE FROM oauth_states WHERE state = $1
         RETURNING state, provider, pkce_verifier, nonce, invitation_hash, return_to, expires_at"
    )
    .bind(state)
    .fetch_optional(pool)
    .await?);
    Ok(row.filter(|s| s.expires_at > now))
}

// ---- rate limits ----

/// Counts a hit in `bucket`'s fixed window starting at `window_start` and
/// returns the hits so far in that window (a new window starts at 1).
pub async fn hit(db: &Db, bucket: &str, window_start: DateTime<Utc>) -> Result<i64, sqlx::Error> {
    on_pool!(db, |pool| {
        sqlx::query_scalar(
            "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1)
         ON CONFLICT (bucket) DO UPDATE SET
           hits = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.hits + 1 ELSE 1 END,
           window_start = excluded.window_start
         RETURNING hits",
        )
        .bind(bucket)
        .bind(window_start)
        .fetch_one(pool)
        .await
    })
}
