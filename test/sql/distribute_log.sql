-- How crmpool.distribute() writes a large distribution: every rep's customers by one owner
-- UPDATE (rep by rep only when a rep is refused under lock: test/specs/distribute_cap_race.spec),
-- and its log (crmpool.distribute_log) LOG_BATCH (1000) rows at a time by table_multi_insert,
-- honouring what a superuser may have added to the log table: constraints, AFTER ROW triggers,
-- and a BEFORE ROW trigger (then row by row, so that it sees and may change each row).
SET TimeZone = 'UTC';
CREATE TABLE dlog (id bigint PRIMARY KEY, owner bigint, pool text);
SELECT crmpool.manage('dlog', 'owner', pool_column => 'pool');
SELECT crmpool.set_rep('dlog', r) FROM generate_series(1, 7) r;
SELECT crmpool.set_rules('dlog', '{"private_cap": 100}', rep => 7);
-- 2,500 customers, the first 1,200 in the default pool, then 1,300 in pool 'web'
INSERT INTO dlog SELECT i, NULL, CASE WHEN i > 1200 THEN 'web' END FROM generate_series(1, 2500) i;

-- round robin over 7 reps, rep 7 capped at 100: it takes every 7th until it is full, then is
-- passed over (its cap counts what this call gives it)
SELECT outcome, count(*) FROM crmpool.distribute('dlog') GROUP BY outcome;
SELECT owner, count(*) FROM dlog WHERE pool IS NULL GROUP BY owner ORDER BY owner;
-- one history event per customer, each saying how, and the counters agree with the table
SELECT how, count(*), count(DISTINCT customer) FROM crmpool.ownership_event
WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'dlog'::regclass)
GROUP BY how;
SELECT count(*) AS disagreements FROM crmpool.check('dlog');
-- the log: one row per customer handed out, with its pool, rep and mode, as the history says
SELECT pool, mode, count(*), count(DISTINCT customer) AS customers, min(customer), max(customer)
FROM crmpool.distribute_log
WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'dlog'::regclass)
GROUP BY pool, mode;
SELECT count(*) AS log_disagrees_with_table FROM crmpool.distribute_log l
JOIN dlog d ON d.id = l.customer
WHERE l.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'dlog'::regclass)
  AND d.owner IS DISTINCT FROM l.rep;
SELECT pool, rep, received, round_robin FROM crmpool.distribution_stats
WHERE rel = 'dlog'::regclass ORDER BY pool NULLS FIRST, rep;

-- A CHECK constraint on the log is checked for every row written in a batch: a distribution
-- whose log breaks it fails whole (nothing handed out).
ALTER TABLE crmpool.distribute_log ADD CONSTRAINT not_rep_3 CHECK (rep <> 3) NOT VALID;
DO $$
BEGIN
	PERFORM crmpool.distribute('dlog', 'web', n => 1100, mode => 'lottery', seed => 1);
EXCEPTION WHEN check_violation THEN
	RAISE NOTICE '%: %', SQLSTATE, SQLERRM;
END $$;
SELECT count(*) AS web_owned FROM dlog WHERE pool = 'web' AND owner IS NOT NULL;
ALTER TABLE crmpool.distribute_log DROP CONSTRAINT not_rep_3;

-- An AFTER ROW trigger on the log fires once per row of a batch.
CREATE TABLE dlog_seen (customer bigint, rep bigint);
CREATE FUNCTION dlog_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.dlog_seen VALUES (NEW.customer, NEW.rep);
	RETURN NEW;
END $$;
CREATE TRIGGER dlog_seen AFTER INSERT ON crmpool.distribute_log
	FOR EACH ROW EXECUTE FUNCTION dlog_seen();
SELECT outcome, count(*) FROM crmpool.distribute('dlog', 'web', n => 1100, mode => 'lottery', seed => 1)
GROUP BY outcome;
SELECT count(*), count(DISTINCT customer) FROM dlog_seen;
SELECT count(*) AS seen_disagrees_with_table FROM dlog_seen s JOIN dlog d ON d.id = s.customer
WHERE d.owner IS DISTINCT FROM s.rep;
DROP TRIGGER dlog_seen ON crmpool.distribute_log;

-- A BEFORE ROW trigger sees each row, and what it changes is what is kept.
CREATE FUNCTION dlog_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.mode := NEW.mode || ' (seen)';
	RETURN NEW;
END $$;
CREATE TRIGGER dlog_mark BEFORE INSERT ON crmpool.distribute_log
	FOR EACH ROW EXECUTE FUNCTION dlog_mark();
SELECT outcome, count(*) FROM crmpool.distribute('dlog', 'web', mode => 'least_busy') GROUP BY outcome;
SELECT pool, mode, count(*) FROM crmpool.distribute_log
WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'dlog'::regclass)
GROUP BY pool, mode ORDER BY pool NULLS FIRST, mode;
DROP TRIGGER dlog_mark ON crmpool.distribute_log;
DROP FUNCTION dlog_mark();
SELECT count(*) AS disagreements FROM crmpool.check('dlog');

SELECT crmpool.unmanage('dlog');
DROP TABLE dlog, dlog_seen;
DROP FUNCTION dlog_seen();
