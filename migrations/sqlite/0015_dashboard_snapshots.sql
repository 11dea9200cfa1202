-- Dashboard snapshots (SQLite). Paired with ../postgres/0015_dashboard_snapshots.sql.
-- The staff dashboard's figures for one set of filters, computed at
-- generated_at and shared by every instance: a page shows the snapshot
-- ("as of …") until the audit trail moves past audit_mark (something
-- changed: the next view computes a new one) or it is older than
-- DASHBOARD_MAX_AGE_SECONDS (it is still shown while one instance, the one
-- that set refreshing_until, computes its successor).
CREATE TABLE dashboard_snapshots (
    filter_key       TEXT PRIMARY KEY,
    body             TEXT NOT NULL,
    audit_mark       INTEGER NOT NULL,
    generated_at     TEXT NOT NULL,
    refreshing_until TEXT
);
CREATE INDEX dashboard_snapshots_generated ON dashboard_snapshots (generated_at);
