-- A run-task integration's registration (postgres). Paired with
-- ../sqlite/0008_run_task_registration.sql. The HMAC key is never shown
-- again once saved: pages and the API only see its fingerprint.
CREATE TABLE run_task_registrations (
    integration_id   BIGINT PRIMARY KEY REFERENCES integrations(id) ON DELETE CASCADE,
    endpoint_url     TEXT,
    hmac_key         TEXT,
    hmac_fingerprint TEXT,
    hmac_set_at      TIMESTAMPTZ,
    -- comma-separated: pre_plan,post_plan,pre_apply,post_apply
    stages           TEXT NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
