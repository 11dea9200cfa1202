-- The Terraform Cloud badge of run-task integrations (PostgreSQL). Paired
-- with ../sqlite/0007_badge.sql. Set when the Release stage's support
-- documentation is accepted.
ALTER TABLE integrations ADD COLUMN badge_granted_at TIMESTAMPTZ;
