-- Run-task conformance checks (SQLite). Paired with
-- ../postgres/0013_run_task_checks.sql: same tables and columns.

-- One row per check. A runner claims a queued check with a lease
-- (claimed_by/claimed_until), sends the requests, then leaves it awaiting
-- callbacks until every stage has its final status or deadline_at passes.
CREATE TABLE run_task_checks (
    id                    INTEGER PRIMARY KEY,
    integration_id        INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    started_by            INTEGER REFERENCES users(id) ON DELETE SET NULL,
    started_by_name       TEXT,
    -- queued | sending | awaiting | passed | failed
    state                 TEXT NOT NULL,
    -- what was checked: the registration when the check started
    endpoint_url          TEXT NOT NULL,
    stages                TEXT NOT NULL,
    has_key               BOOLEAN NOT NULL,
    -- JSON [domain::conformance::Sent], written by the runner as it goes
    sent                  TEXT NOT NULL DEFAULT '[]',
    summary               TEXT,
    created_at            TEXT NOT NULL,
    started_at            TEXT,
    finished_at           TEXT,
    deadline_at           TEXT,
    claimed_by            TEXT,
    claimed_until         TEXT,
    evidence_attached_at  TEXT
);
CREATE INDEX run_task_checks_integration ON run_task_checks (integration_id, created_at);
CREATE INDEX run_task_checks_state ON run_task_checks (state, claimed_until);

-- One row per stage request: the task-result id in its callback URL and
-- the hash of the access token minted for it (the token itself is only in
-- the request we sent). Tokens expire with the check's time limit.
CREATE TABLE run_task_check_stages (
    task_result_id            TEXT PRIMARY KEY,
    check_id                  INTEGER NOT NULL REFERENCES run_task_checks(id) ON DELETE CASCADE,
    stage                     TEXT NOT NULL,
    token_hash                TEXT NOT NULL,
    expires_at                TEXT NOT NULL,
    requested_at              TEXT,
    plan_offered              BOOLEAN NOT NULL,
    plan_fetched_at           TEXT,
    configuration_fetched_at  TEXT
);
CREATE INDEX run_task_check_stages_check ON run_task_check_stages (check_id);

-- Every callback that reached us for a stage, valid or not: insert-only,
-- so two callbacks arriving together cannot overwrite each other.
CREATE TABLE run_task_check_callbacks (
    id              INTEGER PRIMARY KEY,
    task_result_id  TEXT NOT NULL REFERENCES run_task_check_stages(task_result_id) ON DELETE CASCADE,
    received_at     TEXT NOT NULL,
    -- running | passed | failed; NULL when refused
    status          TEXT,
    message         TEXT,
    outcomes        INTEGER NOT NULL DEFAULT 0,
    problem         TEXT,
    late            BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX run_task_check_callbacks_stage ON run_task_check_callbacks (task_result_id, id);
