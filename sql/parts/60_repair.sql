-- ---------------------------------------------------------------------------------------------
-- Checking and repairing crmpool's bookkeeping after its triggers were bypassed
-- (DISABLE TRIGGER, session_replication_role = replica): src/admin/repair.c.  Both require ownership
-- of the table, as manage() does, and take the same EXCLUSIVE lock on it.
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION crmpool.check(rel regclass)
RETURNS TABLE(kind text, customer bigint, rep bigint, expected text, found text, tenant text)
LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_check';
COMMENT ON FUNCTION crmpool.check(regclass) IS
	'Every disagreement between a managed table and crmpool''s bookkeeping of it (spells, locks, due times, identity keys, counters, disabled triggers): what the table calls for (expected) and what crmpool holds (found); tenant: the customer''s or rep''s (NULL without a tenant column, or for a trigger).  No rows: in step.';

CREATE FUNCTION crmpool.repair(rel regclass)
RETURNS TABLE(kind text, customer bigint, rep bigint, expected text, found text, tenant text)
LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_repair';
COMMENT ON FUNCTION crmpool.repair(regclass) IS
	'Bring crmpool''s bookkeeping of a table back in step with it: appends history (how "repair", reason "repair"; never deletes any), drops stale locks and due rows, rewrites due times, identity keys and counters.  Returns what it fixed, as crmpool.check() lists it.';
