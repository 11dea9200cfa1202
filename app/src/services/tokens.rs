//! Personal API tokens: each person creates and revokes their own. The
//! secret is returned once, at creation; only its hash is kept.

use super::secret::{hash, new_secret};
use crate::domain::access::Caller;
use crate::domain::audit::{Entry, TargetKind};
use crate::domain::user::{validate_token_name, ApiToken};
use crate::error::AppError;
use crate::store::users as store;
use crate::store::Db;
use chrono::{DateTime, Utc};

/// Tokens start with this, so secret scanners and people can spot them.
pub const PREFIX: &str = "itk_";

pub async fn list(db: &Db, caller: &Caller) -> Result<Vec<ApiToken>, AppError> {
    Ok(store::tokens_of(db, caller.user_id).await?)
}

/// Creates a token for the caller; returns it with its secret.
pub async fn create(db: &Db, caller: &Caller, name: &str, now: DateTime<Utc>) -> Result<(ApiToken, String), AppError> {
    let audit = Entry::by(caller, "token.create", TargetKind::Token, None, name.trim()).summary(format!(
        "{} created the API token \"{}\"",
        caller.email,
        name.trim()
    ));
    issue(db, caller.user_id, name, now, &audit).await
}

/// Used by `server create-token`, which acts without a caller.
pub async fn create_for(db: &Db, user_id: i64, name: &str, now: DateTime<Utc>) -> Result<(ApiToken, String), AppError> {
    let audit = Entry::system("token.create", TargetKind::Token, None, name.trim())
        .summary(format!("API token \"{}\" created from the command line for user {user_id}", name.trim()));
    issue(db, user_id, name, now, &audit).await
}

async fn issue(db: &Db, user_id: i64, name: &str, now: DateTime<Utc>, audit: &Entry) -> Result<(ApiToken, String), AppError> {
    let name = validate_token_name(name).map_err(AppError::invalid)?;
    let secret = new_secret(PREFIX);
    let prefix: String = secret.chars().take(PREFIX.len() + 6).collect();
    let id = store::insert_token(db, user_id, &name, &hash(&secret), &prefix, now, audit).await?;
    let token = store::tokens_of(db, user_id).await?.into_iter().find(|t| t.id == id).ok_or(AppError::Internal)?;
    Ok((token, secret))
}

pub async fn revoke(db: &Db, caller: &Caller, token_id: i64, now: DateTime<Utc>) -> Result<(), AppError> {
    let audit = Entry::by(caller, "token.revoke", TargetKind::Token, Some(token_id), &format!("token {token_id}"))
        .summary(format!("{} revoked API token {token_id}", caller.email));
    if store::revoke_token(db, caller.user_id, token_id, now, &audit).await? {
        Ok(())
    } else {
        Err(AppError::NotFound(format!("token {token_id}")))
    }
}
