-- Where a transaction left each rep's counter row (ledger.c, counter_tids) survives a rolled-back
-- subtransaction that did not change that row: a loop of claims that swallows a refusal after
-- each one (a PL/pgSQL EXCEPTION block) finds the row without the index, and stays linear.  The
-- counts stay right across many interleaved savepoints, committed and rolled back, nested, and
-- around other writers of the counters; and a rep's row is found by TID in later transactions
-- too.  bench/bulk measures the time.
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
CREATE TABLE cache_c (id bigint PRIMARY KEY, owner bigint);
INSERT INTO cache_c SELECT g, NULL FROM generate_series(1, 1000) g;
SELECT crmpool.manage('cache_c', 'owner');

-- counters against the table, and claims counted against the claims recorded: no row when
-- they agree
CREATE FUNCTION cache_books() RETURNS TABLE(rep bigint, counted integer, actual bigint,
										 claims integer, claim_events bigint)
LANGUAGE sql AS $$
	SELECT coalesce(c.rep, t.owner), c.owned, t.n, c.claims, e.n
	FROM (SELECT rep, owned, claims FROM crmpool.rep_counter WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cache_c'::regclass)) c
	FULL JOIN (SELECT owner, count(*) AS n FROM cache_c WHERE owner IS NOT NULL GROUP BY owner) t
	  ON t.owner = c.rep
	LEFT JOIN (SELECT owner, count(*) AS n FROM crmpool.ownership_event
	           WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cache_c'::regclass) AND how = 'claim' GROUP BY owner) e
	  ON e.owner = coalesce(c.rep, t.owner)
	WHERE c.owned IS DISTINCT FROM coalesce(t.n, 0) OR c.claims IS DISTINCT FROM coalesce(e.n, 0) $$;

-- Index scans of crmpool.rep_counter's primary key in this transaction: a change of a rep's
-- counter row that cannot use the cached TID looks the row up there.  100 claims by rep 7,
-- each followed by a claim refused and swallowed: 3 lookups (the first claim finds no row for
-- rep 7 and inserts it, ON CONFLICT; the second finds it and caches it), where forgetting
-- every cached TID on each rollback made 101.
BEGIN;
DO $$
DECLARE
	scans bigint := pg_stat_get_xact_numscans('crmpool.rep_counter_pkey'::regclass);
BEGIN
	FOR i IN 1..100 LOOP
		PERFORM crmpool.claim('cache_c', i, 7);
		BEGIN
			PERFORM crmpool.claim('cache_c', i, 8);				-- CR003: already owned
		EXCEPTION WHEN SQLSTATE 'CR003' THEN NULL;
		END;
	END LOOP;
	RAISE NOTICE 'counter lookups through the index: %',
		pg_stat_get_xact_numscans('crmpool.rep_counter_pkey'::regclass) - scans;
END $$;
SELECT rep, owned, claims FROM crmpool.rep_counter WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cache_c'::regclass) ORDER BY rep;
ROLLBACK;

-- Many savepoints, nested, committed and rolled back, three reps changing their rows in each
-- level.  A rolled-back level takes its changes with it; the next change counts from the
-- version before it, whether the row was last changed by the parent, by a sibling committed
-- before, or by the level that rolled back.
BEGIN;
DO $$
DECLARE
	r bigint;
BEGIN
	FOR i IN 1..150 LOOP
		r := 1 + i % 3;
		PERFORM crmpool.claim('cache_c', i, r);							-- kept
		BEGIN
			PERFORM crmpool.claim('cache_c', 200 + i, r);
			BEGIN
				PERFORM crmpool.claim('cache_c', 400 + i, r);
				PERFORM crmpool.claim('cache_c', 600 + i, 1 + (i + 1) % 3);
				IF i % 2 = 0 THEN
					RAISE EXCEPTION 'undo the inner level';
				END IF;
			EXCEPTION WHEN raise_exception THEN NULL;
			END;
			PERFORM crmpool.claim('cache_c', 800 + i, r);
			IF i % 3 = 0 THEN
				RAISE EXCEPTION 'undo the outer level';
			END IF;
		EXCEPTION WHEN raise_exception THEN NULL;
		END;
		IF i % 5 = 0 THEN
			PERFORM crmpool.release('cache_c', i, r);					-- after either
		END IF;
	END LOOP;
END $$;
SELECT * FROM cache_books();
SELECT rep, owned, claims FROM crmpool.rep_counter WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cache_c'::regclass) ORDER BY rep;

-- Another writer of the counters in a savepoint rolled back (manage() recounts them with SQL):
-- the version each rep's cached TID names is live again, and the next claim counts from it.
SAVEPOINT recount;
SELECT crmpool.manage('cache_c', 'owner');
ROLLBACK TO recount;
SELECT crmpool.claim('cache_c', 151, 1), crmpool.claim('cache_c', 152, 2), crmpool.claim('cache_c', 153, 3);
-- and one that stays: the claims after it count from its versions
SAVEPOINT recount2;
SELECT crmpool.manage('cache_c', 'owner');
RELEASE recount2;
SELECT crmpool.claim('cache_c', 154, 1), crmpool.claim('cache_c', 155, 2);
SELECT * FROM cache_books();
COMMIT;
SELECT * FROM cache_books();
SELECT * FROM crmpool.check('cache_c');
SELECT rep, owned, claims FROM crmpool.rep_counter WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cache_c'::regclass) ORDER BY rep;

-- Across transactions (READ COMMITTED): a rep's claims, one transaction after another in the
-- same session, find its row by the TID the previous one left, and lock it there.  20 claims
-- by rep 9, each committed: 3 lookups through the index (the first claim finds no row, and its
-- INSERT ... ON CONFLICT looks again; the second finds the row and leaves its TID), where
-- forgetting the TID at each commit made 21.
DO $$
DECLARE
	scans bigint := 0;
	before bigint;
BEGIN
	FOR i IN 961..980 LOOP
		before := pg_stat_get_xact_numscans('crmpool.rep_counter_pkey'::regclass);
		PERFORM crmpool.claim('cache_c', i, 9);
		scans := scans + pg_stat_get_xact_numscans('crmpool.rep_counter_pkey'::regclass) - before;
		COMMIT;
	END LOOP;
	RAISE NOTICE 'counter lookups through the index over 20 transactions: %', scans;
END $$;
-- The TID is only a hint, checked on the tuple: a transaction that rolled back left it on a dead
-- version; VACUUM FULL moved every row (the TID may now hold another rep's row, or nothing);
-- under REPEATABLE READ the row is the one the snapshot sees.  Each claim after them counts
-- from the row's latest version.
BEGIN;
SELECT crmpool.claim('cache_c', 981, 9);
ROLLBACK;
SELECT crmpool.claim('cache_c', 982, 9);
SELECT crmpool.claim('cache_c', 983, 1);
VACUUM FULL crmpool.rep_counter;
SELECT crmpool.claim('cache_c', 984, 9), crmpool.claim('cache_c', 985, 1);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT crmpool.claim('cache_c', 986, 9);
COMMIT;
SELECT crmpool.release('cache_c', 961, 9);
SELECT * FROM cache_books();
SELECT * FROM crmpool.check('cache_c');
SELECT rep, owned, claims FROM crmpool.rep_counter WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cache_c'::regclass) ORDER BY rep;

-- The counter row's page is pruned only when it is short of room (ledger.c, counter_page_short):
-- rep_counter's fillfactor of 10 makes heap_page_prune_opt() prune at nearly every visit, and
-- called at every counter change it pruned at every one (a WAL record and a cleanup lock each).
-- 100 claim+release pairs by rep 10, each its own transaction: the page is pruned a few times
-- (the old code: about 200), and every update of the row stays HOT, so it never leaves its page
-- (with no prune at all, the versions would fill the page and the row would move).
CREATE TABLE prune_c (id bigint PRIMARY KEY, owner bigint);
INSERT INTO prune_c SELECT g, NULL FROM generate_series(1, 101) g;
SELECT crmpool.manage('prune_c', 'owner');
SELECT crmpool.claim('prune_c', 101, 10);
CREATE EXTENSION pg_walinspect;
SELECT pg_stat_force_next_flush();
CREATE TEMP TABLE counter_mark AS
SELECT pg_current_wal_flush_lsn() AS lsn, c.ctid AS tid,
	   pg_stat_get_tuples_updated('crmpool.rep_counter'::regclass) AS upd,
	   pg_stat_get_tuples_hot_updated('crmpool.rep_counter'::regclass) AS hot
FROM crmpool.rep_counter c WHERE c.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'prune_c'::regclass) AND c.rep = 10;
DO $$
BEGIN
	FOR i IN 1..100 LOOP
		PERFORM crmpool.claim('prune_c', i, 10);
		COMMIT;
		PERFORM crmpool.release('prune_c', i, 10);
		COMMIT;
	END LOOP;
END $$;
SELECT pg_stat_force_next_flush();
SELECT count(*) < 20 AS few_prunes
FROM pg_get_wal_records_info((SELECT lsn FROM counter_mark), pg_current_wal_flush_lsn())
WHERE resource_manager = 'Heap2' AND record_type LIKE 'PRUNE%'
  AND block_ref LIKE '%/' || pg_relation_filenode('crmpool.rep_counter') || ' %';
SELECT pg_stat_get_tuples_updated('crmpool.rep_counter'::regclass) - upd AS updates,
	   pg_stat_get_tuples_hot_updated('crmpool.rep_counter'::regclass) - hot AS hot_updates,
	   (c.ctid::text::point)[0] = (m.tid::text::point)[0] AS same_page
FROM counter_mark m, crmpool.rep_counter c
WHERE c.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'prune_c'::regclass) AND c.rep = 10;
SELECT * FROM crmpool.check('prune_c');
DROP EXTENSION pg_walinspect;
DROP TABLE prune_c;
DROP TABLE cache_c;
DROP FUNCTION cache_books();
