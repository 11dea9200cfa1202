-- Checklist templates edited by admins (sqlite). Paired with
-- ../postgres/0006_templates.sql. Version 1 of each track is the built-in
-- default and is not stored; each save adds a row with the next version.
CREATE TABLE templates (
    id         INTEGER PRIMARY KEY,
    -- provider | run_task
    kind       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    -- JSON list of {key, stage, title, help, required, fact}
    tasks      TEXT NOT NULL,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    UNIQUE (kind, version)
);
-- The template version an integration's checklist follows.
ALTER TABLE integrations ADD COLUMN checklist_version INTEGER NOT NULL DEFAULT 1;
