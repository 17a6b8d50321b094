-- Big statements and long transactions (issue 7, section 3): claim_many's limit, and one rep's
-- counter changed many times in one transaction, across savepoints.  bench/bulk measures the
-- time; test/t/020_bulk_memory.pl the memory.
\set VERBOSITY default
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
CREATE TABLE bulk_c (id bigint PRIMARY KEY, owner bigint);
INSERT INTO bulk_c SELECT g, NULL FROM generate_series(1, 1200) g;
SELECT crmpool.manage('bulk_c', 'owner');
-- counters of the table against count(*): no row when they agree
CREATE FUNCTION bulk_books() RETURNS TABLE(rep bigint, counted integer, actual bigint)
LANGUAGE sql AS $$
	SELECT coalesce(c.rep, t.owner), c.owned, t.n
	FROM (SELECT rep, owned FROM crmpool.rep_counter
	      WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'bulk_c'::regclass) AND owned > 0) c
	FULL JOIN (SELECT owner, count(*) AS n FROM bulk_c WHERE owner IS NOT NULL GROUP BY owner) t
	ON t.owner = c.rep
	WHERE c.owned IS DISTINCT FROM t.n $$;

-- claim_many takes at most 1000 customers: one subtransaction (and transaction id) each
SELECT count(*) FROM crmpool.claim_many('bulk_c', (SELECT array_agg(g) FROM generate_series(1, 1001) g), 7);
SELECT outcome, count(*) FROM crmpool.claim_many('bulk_c', (SELECT array_agg(g) FROM generate_series(1, 1000) g), 7)
GROUP BY outcome;
SELECT * FROM bulk_books();
UPDATE bulk_c SET owner = NULL;

-- One rep, many changes in one transaction: after its first change the transaction finds the
-- rep's counter row where it left it.  A savepoint rolled back takes its changes with it, and
-- the next change counts from the version before it.
SELECT crmpool.set_rules('bulk_c', '{"private_cap": 3}', rep => 5);
BEGIN;
DO $$ BEGIN
	FOR i IN 1..200 LOOP
		PERFORM crmpool.claim('bulk_c', i, 5);
		PERFORM crmpool.release('bulk_c', i, 5);
	END LOOP;
END $$;
SELECT crmpool.claim('bulk_c', 1, 5);
SAVEPOINT a;
SELECT crmpool.claim('bulk_c', 2, 5);
SELECT crmpool.claim('bulk_c', 3, 5);
ROLLBACK TO a;
SELECT crmpool.claim('bulk_c', 4, 5);
SELECT crmpool.claim('bulk_c', 5, 5);
-- the cap counts what stayed: 1, 4, 5
SAVEPOINT c;
SELECT crmpool.claim('bulk_c', 6, 5);
ROLLBACK TO c;
SELECT owned FROM crmpool.rep_load('bulk_c') WHERE rep = 5;
SELECT * FROM bulk_books();
COMMIT;
SELECT owned, claims_today FROM crmpool.rep_load('bulk_c') WHERE rep = 5;
SELECT * FROM bulk_books();
-- rep 5's events: 200 claims and 200 releases in the loop, then the claims of 1, 4 and 5
SELECT how, count(*) FROM crmpool.ownership_event
WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'bulk_c'::regclass) AND (owner = 5 OR how = 'release') GROUP BY how ORDER BY how;

-- A multi-row statement: the counter changes are summed per rep, the cap checked after them,
-- and every row gets its event, in a subtransaction that fails and in one that stays.
BEGIN;
SAVEPOINT b;
UPDATE bulk_c SET owner = 5 WHERE id BETWEEN 10 AND 20;
ROLLBACK TO b;
UPDATE bulk_c SET owner = 6 + id % 3 WHERE id BETWEEN 10 AND 20;
SELECT * FROM bulk_books();
COMMIT;
SELECT owner, count(*) FROM bulk_c WHERE owner IS NOT NULL GROUP BY owner ORDER BY owner;
SELECT count(*) FROM crmpool.ownership_event
WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'bulk_c'::regclass) AND customer BETWEEN 10 AND 20 AND how = 'update' AND owner IS NOT NULL;

-- A statement run by a trigger of another, in a subtransaction that rolls back, leaves the
-- outer statement's queued work alone: the outer statement still records all its rows.  (0.1
-- flushed everything at the inner statement's end, and the rollback took the outer rows' counts
-- and events with it: 5 customers owned, 0 counted.)
CREATE TABLE bulk_n (id bigint PRIMARY KEY, owner bigint);
INSERT INTO bulk_n SELECT g, NULL FROM generate_series(1, 5) g;
SELECT crmpool.manage('bulk_n', 'owner');
CREATE FUNCTION bulk_c_after() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		UPDATE bulk_n SET owner = 99 WHERE id = NEW.id - 999;
		RAISE EXCEPTION 'give up';
	EXCEPTION WHEN raise_exception THEN NULL;
	END;
	-- and one that stays
	UPDATE bulk_n SET owner = 98 WHERE id = NEW.id - 998;
	RETURN NULL;
END $$;
CREATE TRIGGER zz_after AFTER UPDATE ON bulk_c FOR EACH ROW EXECUTE FUNCTION bulk_c_after();
UPDATE bulk_c SET owner = 9 WHERE id BETWEEN 1000 AND 1003;
DROP TRIGGER zz_after ON bulk_c;
SELECT * FROM bulk_books();
SELECT rep, owned FROM crmpool.rep_load('bulk_n') ORDER BY rep;
SELECT count(*) FROM bulk_n WHERE owner IS NOT NULL;
SELECT m.rel, e.owner, e.how, count(*) FROM crmpool.ownership_event e JOIN crmpool.managed_tables m USING (table_id)
WHERE m.rel IN ('bulk_c'::regclass, 'bulk_n'::regclass) AND e.owner IN (9, 98, 99)
GROUP BY m.rel, e.owner, e.how ORDER BY m.rel, e.owner;

DROP TABLE bulk_c, bulk_n;
DROP FUNCTION bulk_books();
DROP FUNCTION bulk_c_after();
