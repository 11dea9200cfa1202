-- Pairs PostgreSQL's 0018, which makes the change feed's triggers fire per
-- row; SQLite's feed (the WAL hook) already moves only on commits that wrote.
SELECT 1;
