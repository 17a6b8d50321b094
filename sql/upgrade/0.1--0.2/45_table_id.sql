-- Table ids (docs/design.md, "Tenants and distribution"): crmpool.managed_table gains table_id,
-- what crmpool's state tables key a table by instead of its OID.  Added here, before the parts
-- that create state tables keyed by it (50_tenant_names.sql, 61_distribute.sql) and the view
-- that joins by it (61_distribute_dump.sql); 0.1's own state tables are rewritten last
-- (80_table_id.sql).  The managed tables are numbered in the order they were managed, as
-- manage() would have numbered them; the identity goes on from there.
ALTER TABLE crmpool.managed_table ADD COLUMN table_id integer;
UPDATE crmpool.managed_table m SET table_id = n.id
FROM (SELECT t.rel, pg_catalog.row_number() OVER (ORDER BY t.managed_at, t.rel::pg_catalog.oid) AS id
	  FROM crmpool.managed_table t) AS n
WHERE n.rel OPERATOR(pg_catalog.=) m.rel;
ALTER TABLE crmpool.managed_table ALTER COLUMN table_id SET NOT NULL,
	ALTER COLUMN table_id ADD GENERATED ALWAYS AS IDENTITY,
	ADD CONSTRAINT managed_table_table_id_key UNIQUE (table_id);
SELECT pg_catalog.setval('crmpool.managed_table_table_id_seq', n)
FROM (SELECT pg_catalog.max(table_id) AS n FROM crmpool.managed_table) AS m WHERE n IS NOT NULL;
-- as sql/parts/91_table_ids.sql: after 0.1's tables, before crmpool.tenant_name
SELECT pg_catalog.pg_extension_config_dump('crmpool.managed_table_table_id_seq', '');
