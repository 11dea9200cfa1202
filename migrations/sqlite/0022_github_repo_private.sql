-- Whether GitHub last said the repository is private (or internal): the
-- Prepare task "public source repository named terraform-provider-<type>"
-- completes itself only once a sync has seen the repository public.
ALTER TABLE github_syncs ADD COLUMN repo_private BOOLEAN;
