-- Distribution from the pool (issue 10): crmpool.distribute (round_robin, lottery, performance,
-- least_busy), rule auto_distribute, crmpool.claim_next (grab-next), pool order, and the
-- statistics view.  sql/upgrade/0.1--0.2/61_distribute.sql is a link to this file.  Its tables
-- are registered for pg_dump in sql/parts/96_distribute.sql (after crmpool.rep_config).
-- ---------------------------------------------------------------------------------------------

-- The round-robin cursor of each pool (pool NULL: the default pool): the rep served last and
-- how many turns were handed out.  Its row is locked by every distribution of the pool, which
-- serializes them (src/ops/distribute.c).
CREATE TABLE crmpool.distribute_cursor (
	tenant		bigint		NOT NULL,	-- the tenant's key, as in every state table (tenants.c)
	table_id	integer		NOT NULL,	-- crmpool.managed_table.table_id (no foreign key: 70_dump_restore.sql)
	pool		text,
	last_rep	bigint,
	turns		bigint		NOT NULL DEFAULT 0,
	CONSTRAINT distribute_cursor_pool UNIQUE NULLS NOT DISTINCT (tenant, table_id, pool)
);
COMMENT ON TABLE crmpool.distribute_cursor IS 'Per pool: the rep crmpool.distribute() served last (round_robin, least_busy) and the turns handed out.';

-- Every hand-out of crmpool.distribute() and of rule auto_distribute: by pool, rep and mode.
CREATE TABLE crmpool.distribute_log (
	tenant		bigint		NOT NULL,
	table_id	integer		NOT NULL,
	pool		text,
	customer	bigint		NOT NULL,
	rep			bigint		NOT NULL,
	mode		text		NOT NULL,
	at			timestamptz	NOT NULL
);
-- BRIN: the log only grows, in time order, by one row per hand-out (100,000 for a whole pool);
-- a B-tree entry per row cost as much as the row, a BRIN range summary nearly nothing.  Read by
-- time (distribution_stats: the last 30 days) and, when a table goes, by table_id.
CREATE INDEX distribute_log_by_time ON crmpool.distribute_log USING brin (table_id, at);
COMMENT ON TABLE crmpool.distribute_log IS 'Customers handed out by crmpool.distribute() and auto_distribute; read it through crmpool.distribution_stats.';

-- Pool order of a table (crmpool.set_priority_column): this column, highest first, then the key.
CREATE TABLE crmpool.pool_order (
	rel				regclass	PRIMARY KEY,	-- no foreign key: sql/parts/70_dump_restore.sql
	priority_column	name		NOT NULL
);
COMMENT ON TABLE crmpool.pool_order IS 'The priority column of a table''s pool order (crmpool.claim_next, crmpool.distribute).';

REVOKE ALL ON crmpool.distribute_cursor, crmpool.distribute_log, crmpool.pool_order FROM PUBLIC;

CREATE FUNCTION crmpool.set_priority_column(rel regclass, priority_column name)
RETURNS void LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_set_priority_column';
COMMENT ON FUNCTION crmpool.set_priority_column(regclass, name) IS
	'Pool order of the table: the priority column, highest first (NULL last), then the key; NULL: the key alone (oldest first).';

-- distribute gives customers to reps without the claim-only limits: not PUBLIC's (as assign)
CREATE FUNCTION crmpool.distribute(rel regclass, pool text DEFAULT NULL, n integer DEFAULT NULL,
								   mode text DEFAULT NULL, customers bigint[] DEFAULT NULL,
								   seed bigint DEFAULT NULL)
RETURNS TABLE(customer bigint, rep bigint, outcome text) LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_distribute';
COMMENT ON FUNCTION crmpool.distribute(regclass, text, integer, text, bigint[], bigint) IS
	'Hand pool customers (the given ones, or the next n in pool order) to the pool''s eligible reps by mode round_robin, lottery, performance or least_busy; outcome is distributed or why not.';
REVOKE EXECUTE ON FUNCTION crmpool.distribute(regclass, text, integer, text, bigint[], bigint) FROM PUBLIC;

CREATE FUNCTION crmpool.claim_next(rel regclass, rep bigint, pool text DEFAULT NULL, n integer DEFAULT 1)
RETURNS SETOF bigint LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_claim_next';
COMMENT ON FUNCTION crmpool.claim_next(regclass, bigint, text, integer) IS
	'Grab-next: claim the next n claimable customers of the pool in pool order, skipping those another transaction holds; returns the customers claimed.';

-- The statistics view, crmpool.distribution_stats, is in sql/parts/96_distribute.sql: it shows
-- the app's own tenant through crmpool.tenant_name (sql/parts/92_tenant_names.sql).
