-- Tier-downgrade flags and dashboard inputs (SQLite). Paired with
-- ../postgres/0012_flags.sql: same tables and columns.

-- One row per flag: raised when a rule's condition holds for an
-- integration, closed when it clears or a reviewer decides. At most one
-- open flag per integration and rule (the partial unique index), so two
-- evaluators cannot raise the same flag twice.
CREATE TABLE tier_flags (
    id              INTEGER PRIMARY KEY,
    integration_id  INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    partner_id      INTEGER NOT NULL REFERENCES partners(id) ON DELETE CASCADE,
    -- a key of domain::flag::Rule
    rule            TEXT NOT NULL,
    -- preview | grace | due | exempt | cleared | kept | downgraded
    state           TEXT NOT NULL,
    reason          TEXT NOT NULL,
    -- JSON [{label, link}]
    evidence        TEXT NOT NULL,
    clears_when     TEXT NOT NULL,
    -- since when the condition holds: the grace period counts from here
    held_since      TEXT NOT NULL,
    due_at          TEXT,
    evaluated_at    TEXT NOT NULL,
    -- set when it leaves the open states
    closed_at       TEXT,
    close_note      TEXT,
    decided_by      INTEGER REFERENCES users(id) ON DELETE SET NULL,
    decided_by_name TEXT,
    tier_before     TEXT,
    tier_after      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX tier_flags_one_open ON tier_flags (integration_id, rule) WHERE closed_at IS NULL;
CREATE INDEX tier_flags_state ON tier_flags (state, due_at);
CREATE INDEX tier_flags_partner ON tier_flags (partner_id, closed_at);

-- A reviewer's "not this rule, not until then" for one integration.
CREATE TABLE flag_exemptions (
    integration_id  INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    rule            TEXT NOT NULL,
    until_at        TEXT NOT NULL,
    reason          TEXT NOT NULL,
    created_by      INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_by_name TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    PRIMARY KEY (integration_id, rule)
);

-- Since when an integration is in its current stage (time in stage,
-- stalled integrations); existing rows start from their last change.
ALTER TABLE integrations ADD COLUMN stage_since TEXT;
UPDATE integrations SET stage_since = updated_at;

-- The partner's declaration that it stops supporting an integration.
ALTER TABLE integrations ADD COLUMN end_of_support_at TEXT;
ALTER TABLE integrations ADD COLUMN end_of_support_note TEXT;

CREATE INDEX integrations_stage ON integrations (kind, stage);
CREATE INDEX provider_versions_integration ON provider_versions (integration_id, first_seen_at);
