-- The registry poller (sqlite). Paired with ../postgres/0009_registry.sql.
--
-- One poll row per provider and registry host it is looked up on (its own
-- host, plus mirrors such as registry.opentofu.org for public providers).
-- The row is also the lease: an instance sets claimed_until before polling,
-- so two instances never poll one provider at once, and a crashed
-- instance's claim simply expires.
CREATE TABLE registry_polls (
    integration_id   INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    registry_host    TEXT NOT NULL,
    namespace        TEXT NOT NULL,
    type_name        TEXT NOT NULL,
    next_poll_at     TEXT NOT NULL,
    claimed_until    TEXT,
    claimed_by       TEXT,
    -- conditional request validators of the last versions answer
    etag             TEXT,
    last_modified    TEXT,
    last_polled_at   TEXT,
    -- ok | not_modified | not_found | unauthorised | error | refused
    last_outcome     TEXT,
    last_error       TEXT,
    failures         INTEGER NOT NULL DEFAULT 0,
    -- set once the provider has been found on this host
    found_at         TEXT,
    -- public registry metadata, where the host offers it
    registry_tier    TEXT,
    registry_source  TEXT,
    registry_warning TEXT,
    downloads        INTEGER,
    PRIMARY KEY (integration_id, registry_host)
);
CREATE INDEX registry_polls_due ON registry_polls (next_poll_at);

-- Every version seen, per registry host.
CREATE TABLE provider_versions (
    id              INTEGER PRIMARY KEY,
    integration_id  INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    registry_host   TEXT NOT NULL,
    version         TEXT NOT NULL,
    -- comma-separated, as the registry lists them: "5.0,6.0"
    protocols       TEXT NOT NULL,
    -- comma-separated os_arch pairs: "darwin_arm64,linux_amd64"
    platforms       TEXT NOT NULL,
    published_at    TEXT,
    first_seen_at   TEXT NOT NULL,
    -- unchecked | complete | incomplete
    release_check   TEXT NOT NULL,
    release_missing TEXT,
    UNIQUE (integration_id, registry_host, version)
);
CREATE INDEX provider_versions_seen ON provider_versions (first_seen_at);

-- What the poller noticed, once each: the unique key makes re-emitting a
-- no-op. Alerts, pipeline evidence and timelines read these rows.
CREATE TABLE registry_events (
    id             INTEGER PRIMARY KEY,
    integration_id INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    registry_host  TEXT NOT NULL,
    -- found | new_version | tier_mismatch | provider_gone | release_incomplete | outside_verified_range
    kind           TEXT NOT NULL,
    -- what makes this event unique within its kind (a version, a tier value…)
    event_key      TEXT NOT NULL,
    version        TEXT,
    detail         TEXT NOT NULL,
    occurred_at    TEXT NOT NULL,
    UNIQUE (integration_id, registry_host, kind, event_key)
);
CREATE INDEX registry_events_integration ON registry_events (integration_id, occurred_at);

-- Per-host state shared by all instances: discovery, errors, back-off.
CREATE TABLE registry_hosts (
    host            TEXT PRIMARY KEY,
    providers_base  TEXT,
    discovered_at   TEXT,
    last_error      TEXT,
    last_error_at   TEXT,
    failures        INTEGER NOT NULL DEFAULT 0,
    -- Retry-After or back-off: no request to this host before then
    blocked_until   TEXT
);

-- The latest sweep of each background job, for the status pages.
CREATE TABLE job_runs (
    job          TEXT PRIMARY KEY,
    instance     TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    total        INTEGER NOT NULL,
    done         INTEGER NOT NULL,
    failed       INTEGER NOT NULL,
    next_run_at  TEXT
);
