//! What pages and the API show of the alert outbox: one row per alert and
//! recipient, with where it stands.

use crate::domain::alert::AlertKind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

crate::domain::catalog::vocabulary!(
    /// Where an outbox row stands.
    OutboxStatus {
        Pending => ("pending", "Pending"),
        Sent => ("sent", "Sent"),
        Failed => ("failed", "Failed"),
        Skipped => ("skipped", "Skipped (turned off)"),
    }
);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: i64,
    pub kind: AlertKind,
    pub recipient: String,
    /// What it is about, e.g. `acme/widget #123`.
    pub subject: String,
    pub title: String,
    /// The page it points at.
    pub link: String,
    pub status: OutboxStatus,
    /// `immediate` or `digest` once decided.
    pub delivery: Option<String>,
    pub mandatory: bool,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When it goes (pending) or went (sent).
    pub send_after: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Filters of the admin outbox and of "my alerts" (query strings; '' = any).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutboxQuery {
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub page: Option<i64>,
}

/// How the server sends mail, for the pages to say so.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MailTransport {
    /// `SMTP host:port (starttls)` or `files in data/mail`.
    pub description: String,
    /// False when mail only goes to files: nobody receives it.
    pub smtp: bool,
}

/// The admin outbox page: counts per status and a page of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxOverview {
    pub transport: MailTransport,
    pub counts: Vec<(OutboxStatus, i64)>,
    pub rows: crate::domain::Page<AlertView>,
}
