-- Dump and restore: no foreign keys between crmpool's configuration tables, which pg_restore -j
-- loads in any order; a trigger does what their ON DELETE CASCADE did.  The trigger and its
-- function are new objects: 41_dump_restore.sql is a link to the install script's own part
-- (sql/parts/70_dump_restore.sql), so the two cannot differ; 30_repair.sql likewise links to
-- sql/parts/60_repair.sql (check() and repair(), new in 0.2).
ALTER TABLE crmpool.rule_set DROP CONSTRAINT rule_set_rel_fkey;
ALTER TABLE crmpool.identity_config DROP CONSTRAINT identity_config_rel_fkey;
