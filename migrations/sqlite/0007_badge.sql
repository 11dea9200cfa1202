-- The Terraform Cloud badge of run-task integrations (SQLite). Paired with
-- ../postgres/0007_badge.sql. Set when the Release stage's support
-- documentation is accepted.
ALTER TABLE integrations ADD COLUMN badge_granted_at TEXT;
