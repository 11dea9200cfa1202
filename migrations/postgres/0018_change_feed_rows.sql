-- The change feed's triggers on sessions, users and partners fire per row
-- instead of per statement, so a statement that changes no row notifies no
-- one, as on SQLite (where a commit that wrote nothing moves no feed). The
-- session sweep every instance runs every ten minutes deleted nothing most
-- of the time, yet made every instance drop every kept session and page.
-- PostgreSQL folds identical notifications of one transaction into one, so
-- a statement touching many rows still sends one.
DROP TRIGGER sessions_changed ON sessions;
DROP TRIGGER users_changed ON users;
DROP TRIGGER partners_changed ON partners;
CREATE TRIGGER sessions_changed AFTER DELETE OR UPDATE OF token_hash, user_id, expires_at ON sessions
    FOR EACH ROW EXECUTE FUNCTION notify_tracker_change();
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION notify_tracker_change();
CREATE TRIGGER partners_changed AFTER UPDATE OR DELETE ON partners
    FOR EACH ROW EXECUTE FUNCTION notify_tracker_change();
