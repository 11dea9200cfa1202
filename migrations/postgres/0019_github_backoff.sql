-- Rate limits GitHub answered in a row without saying how long to wait
-- (a secondary limit's bare 429): each doubles the shared pause, from a
-- minute to at most an hour (github.md). Back to 0 once a sync gets through.
ALTER TABLE github_api ADD COLUMN silent_limits BIGINT NOT NULL DEFAULT 0;
