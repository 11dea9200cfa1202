-- People, how they sign in, and what they may do (SQLite). Paired with
-- ../postgres/0002_users_and_sign_in.sql: same tables and columns.

-- Optional rule: members of the partner's GitHub organisation who sign in
-- with GitHub join the partner as partner members.
ALTER TABLE partners ADD COLUMN github_auto_join BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    -- lower-cased; the key invitations and create-admin match on
    email           TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    -- admin | reviewer | partner | viewer
    role            TEXT NOT NULL,
    -- set exactly when role = 'partner'
    partner_id      INTEGER REFERENCES partners(id) ON DELETE CASCADE,
    -- invited | active | deactivated
    status          TEXT NOT NULL,
    -- a demo account that the loopback-only picker may offer
    demo            BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    last_sign_in_at TEXT
);

-- An identity at a provider (GitHub's numeric user id, or an OIDC issuer's
-- subject) bound to one user.
CREATE TABLE user_identities (
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);

-- Server-side sessions; the cookie holds the token, this the SHA-256 of it.
CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    -- absolute end, whatever the activity
    expires_at   TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Personal API tokens, shown once, stored as SHA-256.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    -- the first characters, so people can tell their tokens apart
    prefix       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- One-time sign-in links: the bootstrap admin's and invitations.
CREATE TABLE sign_in_links (
    token_hash TEXT PRIMARY KEY,
    -- bootstrap | invitation
    purpose    TEXT NOT NULL,
    user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);

-- An OAuth2 authorization in flight, between the redirect to the provider
-- and its callback; kept in the database so any instance can finish it.
CREATE TABLE oauth_states (
    state           TEXT PRIMARY KEY,
    provider        TEXT NOT NULL,
    pkce_verifier   TEXT NOT NULL,
    nonce           TEXT NOT NULL,
    invitation_hash TEXT,
    return_to       TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);

-- Fixed-window counters for rate limits shared by every instance.
CREATE TABLE rate_limits (
    bucket       TEXT PRIMARY KEY,
    window_start TEXT NOT NULL,
    hits         INTEGER NOT NULL
);
