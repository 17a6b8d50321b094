-- The readers that list customers of every tenant of a table (due, recycle_warnings,
-- duplicate_groups, duplicate_warnings, check, repair) end with each customer's tenant as the app
-- writes it (NULL for a table without a tenant column).  0.1's due, recycle_warnings,
-- duplicate_groups and duplicate_warnings keep their C symbols for 0.1's SQL; 0.2 binds the _v2
-- symbols.  check and repair are new in 0.2 (30_repair.sql): only their result changes here.
DROP FUNCTION crmpool.due(regclass);
DROP FUNCTION crmpool.recycle_warnings(regclass, bigint);
DROP FUNCTION crmpool.duplicate_groups(regclass);
DROP FUNCTION crmpool.duplicate_warnings(regclass);
DROP FUNCTION crmpool.check(regclass);
DROP FUNCTION crmpool.repair(regclass);

CREATE FUNCTION crmpool.due(rel regclass DEFAULT NULL)
RETURNS TABLE(relation regclass, customer bigint, owner bigint, due_at timestamptz, rule text,
			  days_left integer, warn_at timestamptz, tenant text)
LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_due_v2';
COMMENT ON FUNCTION crmpool.due(regclass) IS
	'Owned customers a recycle rule applies to, soonest first: when each is recycled, by which rule, and whole days left (0 once due); tenant: the customer''s (NULL without a tenant column).  NULL rel: every table the caller may read.';

CREATE FUNCTION crmpool.recycle_warnings(rel regclass, after bigint DEFAULT 0)
RETURNS TABLE(seq bigint, customer bigint, owner bigint, due_at timestamptz, rule text,
			  warned_at timestamptz, tenant text)
LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_recycle_warnings_v2';
COMMENT ON FUNCTION crmpool.recycle_warnings(regclass, bigint) IS
	'Warnings sent for the table after sequence number `after`, oldest first: poll with the last seq seen.  tenant: the customer''s (NULL without a tenant column).';

CREATE FUNCTION crmpool.duplicate_groups(rel regclass)
RETURNS TABLE(group_id bigint, customer bigint, matched_on text, tenant text)
LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_duplicate_groups_v2';
COMMENT ON FUNCTION crmpool.duplicate_groups(regclass) IS
	'Groups of likely-same customers already in a table (one pass, each group within one tenant), for adopting crmpool on dirty data.  tenant: the group''s (NULL without a tenant column).';

CREATE FUNCTION crmpool.duplicate_warnings(rel regclass)
RETURNS TABLE(id bigint, customer bigint, existing bigint, matched_on text, score real, at timestamptz, actor text,
			  tenant text)
LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_duplicate_warnings_v2';
COMMENT ON FUNCTION crmpool.duplicate_warnings(regclass) IS
	'Duplicates let through under a "warn" policy, newest first.  tenant: the customers'' (NULL without a tenant column).';

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
