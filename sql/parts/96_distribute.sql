-- pg_dump keeps the distribution cursors, log and pool order (sql/parts/18_distribute.sql).
-- Registered after crmpool.rep_config, as an updated 0.1 registers them
-- (sql/upgrade/0.1--0.2/61_distribute_dump.sql): the order of registration must agree.
SELECT pg_catalog.pg_extension_config_dump('crmpool.distribute_cursor', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.distribute_log', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.pool_order', '');
