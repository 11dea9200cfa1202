-- The change feed (app/src/store/changes.rs): every instance's caches of
-- sessions and rendered dashboards learn of a committed write to what they
-- show through a notification. Statement-level: one per statement, and
-- PostgreSQL folds identical notifications of one transaction into one.
CREATE FUNCTION notify_tracker_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tracker_changes', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

-- Sessions: ended or moved; the idle clock (last_seen_at) is the caches' own business.
CREATE TRIGGER sessions_changed AFTER DELETE OR UPDATE OF token_hash, user_id, expires_at ON sessions
    FOR EACH STATEMENT EXECUTE FUNCTION notify_tracker_change();
CREATE TRIGGER users_changed AFTER UPDATE OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION notify_tracker_change();
CREATE TRIGGER partners_changed AFTER UPDATE OR DELETE ON partners
    FOR EACH STATEMENT EXECUTE FUNCTION notify_tracker_change();
-- Every change a dashboard shows writes an audit record.
CREATE TRIGGER audit_records_changed AFTER INSERT ON audit_records
    FOR EACH STATEMENT EXECUTE FUNCTION notify_tracker_change();
CREATE TRIGGER dashboard_snapshots_changed AFTER INSERT OR UPDATE OR DELETE ON dashboard_snapshots
    FOR EACH STATEMENT EXECUTE FUNCTION notify_tracker_change();
