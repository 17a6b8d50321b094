-- The readers that list customers of every tenant of a table (due, recycle_warnings,
-- duplicate_groups, duplicate_warnings, check, repair) end with each customer's tenant as the app
-- writes it (NULL for a table without a tenant column).  0.1's due, recycle_warnings,
-- duplicate_groups and duplicate_warnings keep their C symbols for 0.1's SQL; 0.2 binds the _v2
-- symbols.  check and repair are new in 0.2: 30_repair.sql (a link to sql/parts/60_repair.sql)
-- makes them as they are.
DROP FUNCTION crmpool.due(regclass);
DROP FUNCTION crmpool.recycle_warnings(regclass, bigint);
DROP FUNCTION crmpool.duplicate_groups(regclass);
DROP FUNCTION crmpool.duplicate_warnings(regclass);

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
