-- A run-task integration's registration (sqlite). Paired with
-- ../postgres/0008_run_task_registration.sql. The HMAC key is never shown
-- again once saved: pages and the API only see its fingerprint.
CREATE TABLE run_task_registrations (
    integration_id   INTEGER PRIMARY KEY REFERENCES integrations(id) ON DELETE CASCADE,
    endpoint_url     TEXT,
    hmac_key         TEXT,
    hmac_fingerprint TEXT,
    hmac_set_at      TEXT,
    -- comma-separated: pre_plan,post_plan,pre_apply,post_apply
    stages           TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
