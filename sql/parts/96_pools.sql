-- pg_dump keeps the pools and their members (sql/parts/17_pools.sql) with the data.  Registered
-- after crmpool.rep_config (sql/parts/95_reps.sql), as an updated 0.1 registers them
-- (sql/upgrade/0.1--0.2/62_pools_dump.sql, a link to this file).
SELECT pg_catalog.pg_extension_config_dump('crmpool.pool', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.pool_member', '');
