-- GitHub's numeric id of a partner's organisation, looked up when staff
-- let its members join: sign-in matches members on it, not on the login,
-- which a rename frees for anyone to register. Partners that allowed
-- auto-join before this column stop auto-joining until staff save them
-- again (the page says so).
ALTER TABLE partners ADD COLUMN github_org_id BIGINT;
