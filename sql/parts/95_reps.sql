-- pg_dump keeps crmpool.rep_config (sql/parts/10_core.sql) with the data.  Registered last, as
-- an updated 0.1 registers it (sql/upgrade/0.1--0.2/51_reps.sql, after every table 0.1 had):
-- the extension's list of configuration tables is in the order of registration, and an updated
-- 0.1 must equal a fresh 0.2 (test/t/003_upgrade.pl, 004_upgrade_data.pl).
SELECT pg_catalog.pg_extension_config_dump('crmpool.rep_config', '');
