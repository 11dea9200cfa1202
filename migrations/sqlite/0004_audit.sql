-- The audit trail (SQLite). Paired with ../postgres/0004_audit.sql: same
-- table and columns. Rows are only ever inserted, in the transaction of the
-- change they describe.
CREATE TABLE audit_records (
    id             INTEGER PRIMARY KEY,
    at             TEXT NOT NULL,
    -- NULL for the system; the name is kept for when the user is gone
    actor_id       INTEGER REFERENCES users(id) ON DELETE SET NULL,
    actor_name     TEXT NOT NULL,
    action         TEXT NOT NULL,
    target_kind    TEXT NOT NULL,
    target_id      INTEGER,
    target_label   TEXT NOT NULL,
    -- for the partner's and the integration's timelines
    partner_id     INTEGER,
    integration_id INTEGER,
    summary        TEXT NOT NULL,
    -- JSON list of {field, before, after}
    changes        TEXT NOT NULL
);
CREATE INDEX audit_records_at ON audit_records (at, id);
CREATE INDEX audit_records_partner ON audit_records (partner_id, id);
CREATE INDEX audit_records_integration ON audit_records (integration_id, id);
CREATE INDEX audit_records_target ON audit_records (target_kind, target_id);
