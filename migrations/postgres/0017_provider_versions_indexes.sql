-- Paired with ../sqlite/0017_provider_versions_indexes.sql (the same statements).
-- Two indexes of provider_versions that no query uses: every lookup is by
-- provider, which the unique (integration_id, registry_host, version) key
-- serves, and the dashboard's period counts filter on
-- COALESCE(published_at, first_seen_at), which an index on first_seen_at
-- cannot. Each cost a B-tree insert per version the poller stores.
DROP INDEX provider_versions_seen;
DROP INDEX provider_versions_integration;
