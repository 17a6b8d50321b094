-- ---------------------------------------------------------------------------------------------
-- A managed table's rules (crmpool.rule_set) and identity columns (crmpool.identity_config) go
-- with its crmpool.managed_table row, and so does every state row of its table_id (the only
-- way they go when the table is dropped: crmpool.forget_dropped_tables).  Not by foreign keys: pg_restore -j loads the data of an
-- extension's configuration tables in parallel, in any order (pg_dump orders them by their
-- foreign keys for a serial restore only), and a foreign key between two of them fails such a
-- restore.  This trigger does what their ON DELETE CASCADE did (0.1 had the foreign keys), with
-- their snapshots under REPEATABLE READ (src/table/registry.c, crmpool_forget_table_config);
-- crmpool.set_rules() and crmpool.set_identity() lock the managed_table row as the foreign key's
-- check did (src/admin/rule_api.c, src/admin/set_identity.c).
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION crmpool.forget_table_config()
RETURNS trigger LANGUAGE C
AS 'MODULE_PATHNAME', 'crmpool_forget_table_config';
COMMENT ON FUNCTION crmpool.forget_table_config() IS
	'Trigger: a managed table''s rules, identity columns and state rows go with its crmpool.managed_table row.';
REVOKE ALL ON FUNCTION crmpool.forget_table_config() FROM PUBLIC;

CREATE TRIGGER forget_table_config AFTER DELETE ON crmpool.managed_table
	FOR EACH ROW EXECUTE FUNCTION crmpool.forget_table_config();
-- also under session_replication_role = replica, where crmpool_forget_dropped_tables runs too
ALTER TABLE crmpool.managed_table ENABLE ALWAYS TRIGGER forget_table_config;
