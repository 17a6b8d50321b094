-- ---------------------------------------------------------------------------------------------
-- Pools as objects (issue 10): 61_pools.sql, a link to sql/parts/17_pools.sql, creates the
-- tables and functions; 62_pools_dump.sql, a link to sql/parts/96_pools.sql, registers the
-- tables for pg_dump after crmpool.rep_config, as a fresh install does; 63_pools_adopt.sql
-- gives every table 0.1 managed the pools manage() gives a table now.  Here what only an
-- update does before them.
-- ---------------------------------------------------------------------------------------------
-- release() gains to_pool: 0.1's four-argument release goes (0.1's SQL binds it to the C symbol
-- crmpool_release, which keeps working until this update); 61_pools.sql creates the new one.
DROP FUNCTION crmpool.release(regclass, bigint, bigint, text);
