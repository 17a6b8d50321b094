-- Table ids, continued (45_table_id.sql; docs/design.md, "Tenants and distribution"): every
-- state table of 0.1 keys its rows by the table's table_id instead of its OID, in the column
-- rel was, under the name table_id.  ALTER COLUMN ... TYPE rewrites the column in place, so the
-- column numbers C reads by stay those of a fresh install (src/base/store.c), and the keys and
-- indexes on it are built again, unchanged but for the column.  Rows of a table crmpool no
-- longer manages (0.1 left some) have no id: they go.  Runs after every other part, so that
-- the parts before it find 0.1's rel where 0.1 has it.
CREATE FUNCTION crmpool.upgrade_table_id(regclass)
RETURNS integer
LANGUAGE sql STABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT m.table_id FROM crmpool.managed_table m WHERE m.rel OPERATOR(pg_catalog.=) $1
$$;

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['rep_counter', 'ownership_event', 'customer_lock', 'recycle_due',
							 'recycle_warning', 'followup', 'identity_key', 'identity_name',
							 'duplicate_warning'] LOOP
		EXECUTE pg_catalog.format('DELETE FROM crmpool.%I c WHERE NOT EXISTS (SELECT FROM crmpool.managed_table m '
								  'WHERE m.rel OPERATOR(pg_catalog.=) c.rel)', t);
		EXECUTE pg_catalog.format('ALTER TABLE crmpool.%I ALTER COLUMN rel TYPE integer USING crmpool.upgrade_table_id(rel)', t);
		EXECUTE pg_catalog.format('ALTER TABLE crmpool.%I RENAME COLUMN rel TO table_id', t);
		-- PostgreSQL 18 names the NOT NULL constraint of a column after it when made
		IF EXISTS (SELECT FROM pg_catalog.pg_constraint
				   WHERE conrelid OPERATOR(pg_catalog.=) pg_catalog.format('crmpool.%I', t)::pg_catalog.regclass
					 AND conname OPERATOR(pg_catalog.=) (t OPERATOR(pg_catalog.||) '_rel_not_null')) THEN
			EXECUTE pg_catalog.format('ALTER TABLE crmpool.%I RENAME CONSTRAINT %I TO %I', t,
									  t OPERATOR(pg_catalog.||) '_rel_not_null',
									  t OPERATOR(pg_catalog.||) '_table_id_not_null');
		END IF;
	END LOOP;
END;
$$;
ALTER INDEX crmpool.duplicate_warning_rel RENAME TO duplicate_warning_by_table;

DROP FUNCTION crmpool.upgrade_table_id(regclass);

-- A dropped table's state rows go with its crmpool.managed_table row, by its table_id
-- (crmpool.forget_table_config): crmpool.forget_dropped_tables() only deletes that row
-- (81_forget_dropped.sql).

-- crmpool.managed_tables shows every column 0.2 adds (tenant_column, 50_tenant.sql; the app's
-- columns, 52_columns.sql; table_id, 45_table_id.sql), after 0.1's: replaced once, here.
CREATE OR REPLACE VIEW crmpool.managed_tables AS
	SELECT rel, key_column, owner_column, pool_column, followup_column, deal_column, level_column,
		managed_at, tenant_column, lock_column, owner_since_column, deleted_column, table_id
	FROM crmpool.managed_table;
