-- ---------------------------------------------------------------------------------------------
-- Recycling (回收): customers their owner neither follows up nor closes go back to the pool.
-- Rules: recycle_no_followup, recycle_no_deal, recycle_exempt_deals, warn_before (set_rules).
-- Run by CALL crmpool.recycle(), a pg_cron job (crmpool.schedule()) or crmpool's background
-- worker (crmpool.worker_databases); docs/recycling.md.
-- ---------------------------------------------------------------------------------------------

-- One row per owned, unlocked customer that a recycle rule applies to, kept by the ownership
-- trigger: when it is due and by which rule, and when its owner is warned.  A recycle batch
-- finds the rep due first by (table_id, due_at) and that rep's due customers by (tenant,
-- table_id, owner, due_at); warnings go by (table_id, warn_at) among those not yet warned.
CREATE TABLE crmpool.recycle_due (
	table_id	integer		NOT NULL,	-- crmpool.managed_table.table_id
	customer	bigint		NOT NULL,
	owner		bigint		NOT NULL,
	since		timestamptz	NOT NULL,	-- the spell began (the clock of recycle_no_deal)
	due_at		timestamptz	NOT NULL,
	rule		text		NOT NULL,	-- no_followup or no_deal
	warn_at		timestamptz,			-- due_at - warn_before; NULL: no warning
	warned		boolean		NOT NULL DEFAULT false,
	tenant		bigint		NOT NULL,
	PRIMARY KEY (tenant, table_id, customer)
);
CREATE INDEX recycle_due_by_time ON crmpool.recycle_due (table_id, due_at);
CREATE INDEX recycle_due_by_owner ON crmpool.recycle_due (tenant, table_id, owner, due_at);
CREATE INDEX recycle_due_to_warn ON crmpool.recycle_due (table_id, warn_at) WHERE NOT warned;
COMMENT ON TABLE crmpool.recycle_due IS 'When each owned customer is recycled; read it through crmpool.due().';

-- Every warning sent (NOTIFY crmpool_expiring), for applications that poll instead of listen:
-- crmpool.recycle_warnings(rel, after).  A spell is warned once per due time.
CREATE TABLE crmpool.recycle_warning (
	table_id	integer		NOT NULL,
	seq			bigint		GENERATED ALWAYS AS IDENTITY,
	customer	bigint		NOT NULL,
	owner		bigint		NOT NULL,
	since		timestamptz	NOT NULL,
	due_at		timestamptz	NOT NULL,
	rule		text		NOT NULL,
	warned_at	timestamptz	NOT NULL,
	tenant		bigint		NOT NULL,
	PRIMARY KEY (tenant, table_id, seq)
);
CREATE INDEX recycle_warning_by_customer ON crmpool.recycle_warning (tenant, table_id, customer);
-- recycle_warnings(rel, after) polls a table's warnings of every tenant in seq order
CREATE INDEX recycle_warning_by_seq ON crmpool.recycle_warning (table_id, seq);
COMMENT ON TABLE crmpool.recycle_warning IS 'Warnings sent to owners before recycling; read them through crmpool.recycle_warnings().';

-- Follow-ups recorded by crmpool.follow_up(), with their notes.  For a table without a mapped
-- follow-up column, the last one here is the customer's last follow-up.
CREATE TABLE crmpool.followup (
	table_id	integer		NOT NULL,
	customer	bigint		NOT NULL,
	seq			bigint		GENERATED ALWAYS AS IDENTITY,
	rep			bigint		NOT NULL,
	at			timestamptz	NOT NULL,
	note		text,
	actor		text,
	tenant		bigint		NOT NULL,
	PRIMARY KEY (tenant, table_id, customer, seq)
);
COMMENT ON TABLE crmpool.followup IS 'Follow-ups recorded with crmpool.follow_up().';

SELECT pg_catalog.pg_extension_config_dump('crmpool.recycle_due', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.recycle_warning', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.recycle_warning_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.followup', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.followup_seq_seq', '');
REVOKE ALL ON crmpool.recycle_due, crmpool.recycle_warning, crmpool.followup FROM PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Follow-ups, due times, warnings (readers check SELECT privilege on the managed table)
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION crmpool.follow_up(rel regclass, customer bigint, rep bigint,
								  at timestamptz DEFAULT NULL, note text DEFAULT NULL)
RETURNS void LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_follow_up';
COMMENT ON FUNCTION crmpool.follow_up(regclass, bigint, bigint, timestamptz, text) IS
	'The owner followed the customer up at `at` (NULL: now, by crmpool''s clock); its recycle clock restarts at once.';

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

-- ---------------------------------------------------------------------------------------------
-- The maintenance run: warnings, then recycling, in batches
-- ---------------------------------------------------------------------------------------------
CREATE PROCEDURE crmpool.recycle(rel regclass DEFAULT NULL, batch_size integer DEFAULT NULL)
LANGUAGE C
AS 'MODULE_PATHNAME', 'crmpool_recycle';
COMMENT ON PROCEDURE crmpool.recycle(regclass, integer) IS
	'Warn owners and return every due customer to its pool, committing each batch (crmpool.recycle_batch_size).  NULL rel: every managed table the caller owns.';

CREATE FUNCTION crmpool.recycle_now(rel regclass DEFAULT NULL, batch_size integer DEFAULT NULL)
RETURNS bigint LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_recycle_now';
COMMENT ON FUNCTION crmpool.recycle_now(regclass, integer) IS
	'The same run as crmpool.recycle() inside the current transaction; returns how many customers were recycled.';

-- ---------------------------------------------------------------------------------------------
-- Scheduling with pg_cron (crmpool's own worker needs no call: crmpool.worker_databases)
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION crmpool.require_pg_cron()
RETURNS void LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF pg_catalog.to_regprocedure('cron.schedule(text,text,text)') IS NULL THEN
		RAISE EXCEPTION 'pg_cron is not installed in database %', pg_catalog.current_database()
			USING ERRCODE = 'undefined_function',
				  DETAIL = 'crmpool.schedule() registers crmpool''s maintenance job with pg_cron.',
				  HINT = 'Add pg_cron to shared_preload_libraries, set cron.database_name to this database and CREATE EXTENSION pg_cron; or let crmpool''s background worker run it (crmpool.worker_databases).';
	END IF;
END;
$$;
COMMENT ON FUNCTION crmpool.require_pg_cron() IS
	'Raises 42883 unless pg_cron is installed in the current database.';

CREATE FUNCTION crmpool.schedule(schedule text DEFAULT '*/5 * * * *')
RETURNS bigint LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF schedule IS NULL THEN
		RAISE EXCEPTION 'schedule must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM crmpool.require_pg_cron();
	-- a named job: scheduling again changes its schedule
	RETURN cron.schedule('crmpool-maintenance', schedule, 'CALL crmpool.recycle()');
END;
$$;
COMMENT ON FUNCTION crmpool.schedule(text) IS
	'Register (or reschedule) the pg_cron job "crmpool-maintenance" running CALL crmpool.recycle() in this database as the current user; returns its job id.';

CREATE FUNCTION crmpool.unschedule()
RETURNS boolean LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	job bigint;
BEGIN
	PERFORM crmpool.require_pg_cron();
	SELECT j.jobid INTO job FROM cron.job j
	WHERE j.jobname OPERATOR(pg_catalog.=) 'crmpool-maintenance'
	  AND j.username OPERATOR(pg_catalog.=) CURRENT_USER;
	IF job IS NULL THEN
		RETURN false;
	END IF;
	RETURN cron.unschedule(job);
END;
$$;
COMMENT ON FUNCTION crmpool.unschedule() IS
	'Remove the current user''s pg_cron job "crmpool-maintenance"; false if there was none.';
