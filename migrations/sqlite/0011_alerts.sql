-- Email alerts (issue 7). Paired with migrations/postgres/0011_alerts.sql.

-- One row per alert and recipient, written in the same transaction as the
-- change that caused it. dedupe_key (kind, subject, deadline or version,
-- recipient) makes emitting an event twice a no-op.
CREATE TABLE alert_outbox (
    id          INTEGER PRIMARY KEY,
    dedupe_key  TEXT NOT NULL UNIQUE,
    -- a key of domain::alert::AlertKind
    kind        TEXT NOT NULL,
    -- lower-cased email address
    recipient   TEXT NOT NULL,
    partner_id  INTEGER REFERENCES partners(id) ON DELETE SET NULL,
    -- what it is about, e.g. issue:12, task:5, integration:3
    subject_ref TEXT NOT NULL,
    -- domain::alert::AlertContent as JSON
    content     TEXT NOT NULL,
    -- sent whatever the recipient's preferences say
    mandatory   BOOLEAN NOT NULL,
    -- pending | sent | failed | skipped
    status      TEXT NOT NULL,
    -- NULL until the worker applies the recipient's preference; then immediate | digest
    delivery    TEXT,
    -- not before this: a digest hour or a retry's back-off
    send_after  TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    -- the worker sending it; the lease expires so a dead worker's rows are taken again
    leased_by   TEXT,
    lease_until TEXT,
    -- the email that carried it: several alerts can fold into one
    message_id  TEXT,
    sent_at     TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX alert_outbox_due ON alert_outbox (status, send_after);
CREATE INDEX alert_outbox_recipient ON alert_outbox (recipient, created_at);

-- A user's choices: per alert kind immediately, in a daily digest, or off.
CREATE TABLE alert_preferences (
    user_id     INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    time_zone   TEXT NOT NULL,
    digest_hour INTEGER NOT NULL,
    -- JSON {kind: delivery}
    choices     TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- A breach is acknowledged by the partner; one not acknowledged in time escalates once.
ALTER TABLE sla_events ADD COLUMN acknowledged_at TEXT;
ALTER TABLE sla_events ADD COLUMN acknowledged_by INTEGER REFERENCES users(id) ON DELETE SET NULL;
ALTER TABLE sla_events ADD COLUMN escalated_at TEXT;

-- A poll or sync failing since when (NULL while it works), and when admins were told.
ALTER TABLE registry_polls ADD COLUMN failing_since TEXT;
ALTER TABLE registry_polls ADD COLUMN failure_alerted_at TEXT;
ALTER TABLE github_syncs ADD COLUMN failing_since TEXT;
ALTER TABLE github_syncs ADD COLUMN failure_alerted_at TEXT;
