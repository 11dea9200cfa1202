-- The support SLA (sqlite). Paired with ../postgres/0010_support.sql.

-- Program-wide settings admins edit in the app (time zone, warning offsets,
-- label sets), as key/value text: read on every clock computation, so every
-- instance agrees without a restart.
CREATE TABLE program_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- The program's holidays: no business time runs on these local dates.
CREATE TABLE holidays (
    day  TEXT PRIMARY KEY,
    name TEXT NOT NULL
);

-- Labels that make an issue of this integration critical, one per line;
-- NULL means the program's default set.
ALTER TABLE integrations ADD COLUMN critical_labels TEXT;

-- Partners' support issues: synced from GitHub or recorded by hand. The
-- clock columns (due_at … used_seconds) are derived from the periods and the
-- program's calendar; they are stored so lists sort and filter in SQL, and
-- recomputed on every change, by the monitor, and when the calendar changes.
CREATE TABLE support_issues (
    id                INTEGER PRIMARY KEY,
    integration_id    INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    -- github | manual
    source            TEXT NOT NULL,
    -- the GitHub issue number; NULL for manual issues
    number            INTEGER,
    title             TEXT NOT NULL,
    url               TEXT,
    author            TEXT,
    -- one per line, as GitHub names them
    labels            TEXT NOT NULL,
    -- critical | normal: what the labels say, and a reviewer's override
    label_severity    TEXT NOT NULL,
    severity_override TEXT,
    opened_at         TEXT NOT NULL,
    -- JSON [[start, end or null], …]: when the issue was open (reopens add
    -- periods) and when a "waiting on reporter" label paused the clock
    open_periods      TEXT NOT NULL,
    pause_periods     TEXT NOT NULL,
    resolved_at       TEXT,
    due_at            TEXT NOT NULL,
    warn_at           TEXT NOT NULL,
    -- on_track | due_soon | breached | met | missed
    clock_state       TEXT NOT NULL,
    used_seconds      INTEGER NOT NULL,
    -- how many times the issue was reopened: events of a new cycle are new events
    cycle             INTEGER NOT NULL,
    -- GitHub answered 404/410 for it (deleted or transferred)
    gone_at           TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (integration_id, number)
);
CREATE INDEX support_issues_integration ON support_issues (integration_id, resolved_at);
CREATE INDEX support_issues_open_due ON support_issues (clock_state, warn_at, due_at);

-- What the clock did, once each per issue and cycle (the unique key makes a
-- second instance's or a restarted monitor's attempt a no-op). Alerts read these.
CREATE TABLE sla_events (
    id             INTEGER PRIMARY KEY,
    issue_id       INTEGER NOT NULL REFERENCES support_issues(id) ON DELETE CASCADE,
    integration_id INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    -- due_soon | breached | met | missed
    kind           TEXT NOT NULL,
    cycle          INTEGER NOT NULL,
    deadline       TEXT NOT NULL,
    occurred_at    TEXT NOT NULL,
    UNIQUE (issue_id, kind, cycle)
);
CREATE INDEX sla_events_integration ON sla_events (integration_id, occurred_at);

-- One row per provider with a GitHub repository: the sync schedule, its
-- lease (claimed_until/claimed_by, as registry_polls) and what we knew.
CREATE TABLE github_syncs (
    integration_id     INTEGER PRIMARY KEY REFERENCES integrations(id) ON DELETE CASCADE,
    owner              TEXT NOT NULL,
    repo               TEXT NOT NULL,
    next_sync_at       TEXT NOT NULL,
    claimed_until      TEXT,
    claimed_by         TEXT,
    -- validator of the first page of the last full listing
    etag               TEXT,
    -- the newest updated_at seen: the next listing's `since`
    since              TEXT,
    last_synced_at     TEXT,
    -- ok | not_modified | not_found | unauthorised | rate_limited | error | refused
    last_outcome       TEXT,
    last_error         TEXT,
    failures           INTEGER NOT NULL DEFAULT 0,
    -- SPDX id GitHub reports (NOASSERTION, or NULL for no licence file)
    licence            TEXT,
    licence_checked_at TEXT
);
CREATE INDEX github_syncs_due ON github_syncs (next_sync_at);

-- Shared state of the GitHub API for every instance: a rate limit pauses
-- all syncs until it resets.
CREATE TABLE github_api (
    base          TEXT PRIMARY KEY,
    blocked_until TEXT,
    remaining     INTEGER,
    reset_at      TEXT,
    last_error    TEXT
);

-- Leases on singleton jobs (the SLA monitor): the holder runs the step,
-- others skip it; a crashed holder's lease expires.
CREATE TABLE job_leases (
    job        TEXT PRIMARY KEY,
    held_by    TEXT NOT NULL,
    held_until TEXT NOT NULL
);
