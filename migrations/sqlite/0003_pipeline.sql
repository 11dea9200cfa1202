-- Checklists of the stage pipeline (SQLite). Paired with
-- ../postgres/0003_pipeline.sql: same tables and columns.

-- Each integration's own copy of its track's checklist.
CREATE TABLE tasks (
    id             INTEGER PRIMARY KEY,
    integration_id INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    -- stable within the track, e.g. prepare.licence
    key            TEXT NOT NULL,
    stage          TEXT NOT NULL,
    position       INTEGER NOT NULL,
    title          TEXT NOT NULL,
    help           TEXT NOT NULL,
    required       BOOLEAN NOT NULL,
    -- the observed fact that completes it, for automatic tasks
    fact           TEXT,
    -- open | reported | changes_requested | accepted | waived
    state          TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (integration_id, key)
);
CREATE INDEX tasks_integration ON tasks (integration_id, position);
CREATE INDEX tasks_state ON tasks (state, updated_at);

-- What happened to a task: every report, review, waiver, fact and reopening.
CREATE TABLE task_events (
    id           INTEGER PRIMARY KEY,
    task_id      INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    action       TEXT NOT NULL,
    -- NULL for the system (observed facts)
    actor_id     INTEGER REFERENCES users(id) ON DELETE SET NULL,
    actor_name   TEXT NOT NULL,
    from_state   TEXT NOT NULL,
    to_state     TEXT NOT NULL,
    evidence_url TEXT,
    note         TEXT,
    comment      TEXT,
    created_at   TEXT NOT NULL
);
CREATE INDEX task_events_task ON task_events (task_id, id);
