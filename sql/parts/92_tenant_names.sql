-- ---------------------------------------------------------------------------------------------
-- Tenant keys (docs/design.md, "Tenants and distribution").  crmpool's state tables key every
-- row by a bigint tenant, first in each key: the value itself for an integer tenant column, 0
-- for a table without one, and for a text, varchar or uuid tenant column the id this table gives
-- the name, the first time crmpool sees it (src/table/registry.c, tenant_key_of_name).  Ids are
-- never reused nor changed while the table is managed; they go with its crmpool.managed_table
-- row (crmpool.forget_table_config).  sql/upgrade/0.1--0.2/50_tenant_names.sql links this file.
-- Registered for pg_dump after every table of 0.1 and before crmpool.rep_config, as an updated
-- 0.1 registers them (test/t/003_upgrade.pl compares the list).
-- ---------------------------------------------------------------------------------------------
CREATE TABLE crmpool.tenant_name (
	table_id	integer		NOT NULL,	-- crmpool.managed_table.table_id; no foreign key: 70_dump_restore.sql
	tenant		bigint		GENERATED ALWAYS AS IDENTITY,
	name		text		NOT NULL,
	PRIMARY KEY (table_id, tenant),
	CONSTRAINT tenant_name_unique UNIQUE (table_id, name)
);
COMMENT ON TABLE crmpool.tenant_name IS 'The bigint key of each text tenant of a managed table, as crmpool''s tables store it.';
REVOKE ALL ON crmpool.tenant_name FROM PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('crmpool.tenant_name', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.tenant_name_tenant_seq', '');
