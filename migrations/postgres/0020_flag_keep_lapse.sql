-- When the condition of a kept flag was first found cleared: a "keep"
-- holds the same flag back only while its condition holds (README), so a
-- new occurrence after it cleared is flagged again.
ALTER TABLE tier_flags ADD COLUMN lapsed_at TIMESTAMPTZ;
