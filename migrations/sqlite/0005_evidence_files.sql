-- Files attached to task reports (SQLite). Paired with
-- ../postgres/0005_evidence_files.sql. The bytes live on disk under
-- EVIDENCE_DIR, named by storage_key; the name is only shown.
CREATE TABLE evidence_files (
    id             INTEGER PRIMARY KEY,
    task_id        INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    integration_id INTEGER NOT NULL,
    name           TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    size           INTEGER NOT NULL,
    sha256         TEXT NOT NULL,
    storage_key    TEXT NOT NULL UNIQUE,
    uploaded_by    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at     TEXT NOT NULL
);
CREATE INDEX evidence_files_task ON evidence_files (task_id);
ALTER TABLE task_events ADD COLUMN evidence_file_id INTEGER REFERENCES evidence_files(id) ON DELETE SET NULL;
