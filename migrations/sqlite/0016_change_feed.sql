-- The change feed (app/src/store/changes.rs) needs nothing in an SQLite
-- database: each connection reports its commits through SQLite's WAL hook.
-- This file pairs PostgreSQL's 0016, whose triggers notify other instances.
SELECT 1;
