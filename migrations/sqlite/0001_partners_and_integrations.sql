-- Partners and their integrations (SQLite). Paired with
-- ../postgres/0001_partners_and_integrations.sql: same tables, same columns;
-- only types differ (INTEGER ids, timestamps as RFC 3339 TEXT in UTC).

CREATE TABLE partners (
    id                     INTEGER PRIMARY KEY,
    slug                   TEXT NOT NULL UNIQUE,
    name                   TEXT NOT NULL,
    -- infrastructure | workflow | both
    kind                   TEXT NOT NULL,
    github_org             TEXT,
    registry_namespace     TEXT,
    -- a plain name/email until sign-in brings reviewer accounts
    alliance_manager_name  TEXT,
    alliance_manager_email TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);

-- Use-case categories, one row each, so lists can filter with EXISTS.
CREATE TABLE partner_categories (
    partner_id INTEGER NOT NULL REFERENCES partners(id) ON DELETE CASCADE,
    category   TEXT NOT NULL,
    PRIMARY KEY (partner_id, category)
);

CREATE TABLE support_contacts (
    id         INTEGER PRIMARY KEY,
    partner_id INTEGER NOT NULL REFERENCES partners(id) ON DELETE CASCADE,
    position   INTEGER NOT NULL,
    name       TEXT NOT NULL,
    email      TEXT NOT NULL
);
CREATE INDEX support_contacts_partner ON support_contacts (partner_id, position);

CREATE TABLE integrations (
    id                     INTEGER PRIMARY KEY,
    partner_id             INTEGER NOT NULL REFERENCES partners(id) ON DELETE CASCADE,
    -- provider | run_task
    kind                   TEXT NOT NULL,
    name                   TEXT NOT NULL,
    repository_url         TEXT,
    -- official | verified | community | archived
    tier                   TEXT NOT NULL,
    -- a stage key of the kind's track (see app/src/domain/catalog.rs)
    stage                  TEXT NOT NULL,
    -- providers: the normalised host/namespace/type, unique; NULL for run tasks
    source_address         TEXT UNIQUE,
    source_host            TEXT,
    source_namespace       TEXT,
    source_type            TEXT,
    -- canonical version constraint, e.g. "~> 2.0"
    verified_version_range TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);
CREATE INDEX integrations_partner ON integrations (partner_id);

CREATE TABLE integration_categories (
    integration_id INTEGER NOT NULL REFERENCES integrations(id) ON DELETE CASCADE,
    category       TEXT NOT NULL,
    PRIMARY KEY (integration_id, category)
);
CREATE INDEX partners_name ON partners (LOWER(name));
