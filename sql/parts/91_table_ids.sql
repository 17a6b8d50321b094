-- pg_dump keeps the sequence of crmpool.managed_table's table_id (sql/parts/10_core.sql) with
-- the data: a table managed after a restore gets an id no restored row has.  Registered after
-- every table of 0.1 and before crmpool.tenant_name, as an updated 0.1 registers it
-- (sql/upgrade/0.1--0.2/45_table_id.sql): the order of registration must agree.
SELECT pg_catalog.pg_extension_config_dump('crmpool.managed_table_table_id_seq', '');
