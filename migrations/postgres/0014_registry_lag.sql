-- Registry lag (PostgreSQL). Paired with ../sqlite/0014_registry_lag.sql.
-- The latest GitHub release of a provider's repository, checked by the
-- GitHub sync every GITHUB_RELEASE_CHECK_HOURS; a release no registry lists
-- after REGISTRY_LAG_HOURS is a `registry_lag` event.
ALTER TABLE github_syncs ADD COLUMN release_tag TEXT;
-- the version the tag names (v1.2.3 -> 1.2.3), NULL when it names none
ALTER TABLE github_syncs ADD COLUMN release_version TEXT;
ALTER TABLE github_syncs ADD COLUMN release_published_at TIMESTAMPTZ;
ALTER TABLE github_syncs ADD COLUMN release_checked_at TIMESTAMPTZ;
