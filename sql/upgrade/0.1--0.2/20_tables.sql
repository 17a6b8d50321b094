-- Section 4 of issue 7: tables crmpool must refuse, or handle (src/table/tables.c).

-- A mapped column of a managed table that stays cannot be dropped, and the event trigger runs
-- under session_replication_role = replica too: 0.2's crmpool.forget_dropped_tables() and its
-- event trigger, made once, last (81_drop_forget_dropped.sql).  Until then 0.1's stays: the
-- steps between drop no table a user could have managed.

-- ALTER TABLE of a managed table: renames followed, changes crmpool cannot follow refused.
CREATE FUNCTION crmpool.check_altered_table()
RETURNS event_trigger LANGUAGE C
AS 'MODULE_PATHNAME', 'crmpool_check_altered_table';
COMMENT ON FUNCTION crmpool.check_altered_table() IS
	'Event trigger: follows renamed mapped columns of managed tables and refuses an ALTER TABLE that leaves a managed table crmpool cannot manage.';
REVOKE ALL ON FUNCTION crmpool.check_altered_table() FROM PUBLIC;

CREATE EVENT TRIGGER crmpool_check_altered_table ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'ALTER FOREIGN TABLE', 'CREATE FOREIGN TABLE')
	EXECUTE FUNCTION crmpool.check_altered_table();
ALTER EVENT TRIGGER crmpool_check_altered_table ENABLE ALWAYS;

-- 0.1 let temporary tables be managed: at the end of their session their rows stayed behind,
-- for tables that no longer exist.  Nothing can reach them any more; they go.
DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['customer_lock', 'recycle_due', 'recycle_warning', 'followup',
							 'ownership_event', 'rep_counter', 'identity_key', 'identity_name',
							 'duplicate_warning', 'managed_table'] LOOP
		EXECUTE pg_catalog.format('DELETE FROM crmpool.%I c WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class r '
								  'WHERE r.oid OPERATOR(pg_catalog.=) c.rel)', t);
	END LOOP;
END;
$$;
