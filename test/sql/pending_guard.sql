-- check(), repair(), manage(), unmanage() and set_identity() refuse to run while a statement
-- that changes the table's customers is under way (55000): they would read its rows changed,
-- write the bookkeeping from them, and the statement's own counter changes and history would
-- then come on top (counted twice, or written for a table no longer managed).
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
\set VERBOSITY default

CREATE TABLE guard_cust (id bigint PRIMARY KEY, owner_id bigint, phone text);
INSERT INTO guard_cust SELECT g, NULL, '1380013800' || g FROM generate_series(1, 10) g;
SELECT crmpool.manage('guard_cust', 'owner_id');
CREATE TABLE guard_other (id bigint PRIMARY KEY, owner_id bigint);
INSERT INTO guard_other SELECT g, NULL FROM generate_series(1, 3) g;
SELECT crmpool.manage('guard_other', 'owner_id');
SELECT crmpool.claim('guard_other', 1, 9);

-- counters and history against the table: no row when they agree
CREATE FUNCTION guard_books(t regclass) RETURNS TABLE(rep bigint, counted integer, actual bigint, events bigint)
LANGUAGE plpgsql AS $$
BEGIN
	RETURN QUERY EXECUTE format(
		'SELECT coalesce(c.rep, t.owner_id), c.owned, t.n, e.n
		 FROM (SELECT rep, owned FROM crmpool.rep_counter WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = %L::regclass) AND owned > 0) c
		 FULL JOIN (SELECT owner_id, count(*) AS n FROM %s WHERE owner_id IS NOT NULL GROUP BY 1) t
		   ON t.owner_id = c.rep
		 LEFT JOIN (SELECT owner, count(*) AS n FROM crmpool.ownership_event
		            WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = %L::regclass) AND how <> ''adopt'' GROUP BY 1) e
		   ON e.owner = coalesce(c.rep, t.owner_id)
		 WHERE c.owned IS DISTINCT FROM t.n OR e.n IS DISTINCT FROM t.n', t, t, t);
END $$;

-- A user's AFTER ROW trigger (it fires after crmpool's row trigger: "zz" sorts after
-- "crmpool_ownership_row") runs one of the functions at the third row: rows 1 to 3 are queued.
CREATE FUNCTION guard_call() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.id = 3 THEN
		EXECUTE TG_ARGV[0];
	END IF;
	RETURN NULL;
END $$;

-- the whole error once
CREATE TRIGGER zz AFTER UPDATE ON guard_cust FOR EACH ROW
	EXECUTE FUNCTION guard_call('SELECT * FROM crmpool.repair(''guard_cust'')');
UPDATE guard_cust SET owner_id = 7 WHERE id <= 5;
DROP TRIGGER zz ON guard_cust;

-- every function, from the trigger: the SQLSTATE and message of the UPDATE, or ok
CREATE FUNCTION guard_try(fn text, stmt text DEFAULT 'UPDATE guard_cust SET owner_id = 7 WHERE id <= 5')
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	result text := 'ok';
BEGIN
	IF fn IS NOT NULL THEN
		EXECUTE format('CREATE TRIGGER zz AFTER UPDATE ON guard_cust FOR EACH ROW EXECUTE FUNCTION guard_call(%L)', fn);
	END IF;
	BEGIN
		EXECUTE stmt;
	EXCEPTION WHEN OTHERS THEN
		result := SQLSTATE || ': ' || SQLERRM;
	END;
	IF fn IS NOT NULL THEN
		DROP TRIGGER zz ON guard_cust;
	END IF;
	RETURN result;
END $$;
SELECT fn, guard_try(fn) FROM (VALUES
	('SELECT * FROM crmpool.check(''guard_cust'')'),
	('SELECT * FROM crmpool.repair(''guard_cust'')'),
	('SELECT crmpool.unmanage(''guard_cust'')'),
	('SELECT crmpool.manage(''guard_cust'', ''owner_id'')'),
	('SELECT crmpool.set_identity(''guard_cust'', phone_columns => ''{phone}'')')) f(fn);
-- nothing happened: still managed, nothing owned, no event but the adoptions
SELECT rel FROM crmpool.managed_tables WHERE rel = 'guard_cust'::regclass;
SELECT count(*) FROM guard_cust WHERE owner_id IS NOT NULL;
SELECT how, count(*) FROM crmpool.ownership_event WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'guard_cust'::regclass) GROUP BY how;

-- A trigger that swallows the refusal: the statement goes on, and its counts and history are
-- applied once (without the guard, repair() counted rows 1 to 3 and then the statement trigger
-- added all 5: rep 7 owned 8, with 8 events).
CREATE FUNCTION guard_call_quietly() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.id = 3 THEN
		BEGIN
			PERFORM * FROM crmpool.repair('guard_cust');
		EXCEPTION WHEN object_not_in_prerequisite_state THEN
			RAISE NOTICE 'refused: %', SQLERRM;
		END;
	END IF;
	RETURN NULL;
END $$;
CREATE TRIGGER zz AFTER UPDATE ON guard_cust FOR EACH ROW EXECUTE FUNCTION guard_call_quietly();
UPDATE guard_cust SET owner_id = 7 WHERE id <= 5;
DROP TRIGGER zz ON guard_cust;
SELECT rep, owned FROM crmpool.rep_counter WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'guard_cust'::regclass);
SELECT * FROM guard_books('guard_cust');
SELECT * FROM crmpool.check('guard_cust');

-- Only the table the statement changes is refused: another managed table can be checked and
-- repaired from the trigger.
CREATE TRIGGER zz AFTER UPDATE ON guard_cust FOR EACH ROW
	EXECUTE FUNCTION guard_call('SELECT * FROM crmpool.repair(''guard_other'')');
UPDATE guard_cust SET owner_id = NULL WHERE id <= 5;
DROP TRIGGER zz ON guard_cust;
SELECT * FROM guard_books('guard_cust');
SELECT * FROM guard_books('guard_other');

-- Rows the statement has written but crmpool's row trigger has not seen yet: a function called
-- by the statement itself, or after a data-modifying WITH in the same query.
CREATE FUNCTION guard_repair_then(v bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
	PERFORM * FROM crmpool.repair('guard_cust');
	RETURN v;
END $$;
SELECT guard_try(NULL, 'UPDATE guard_cust SET owner_id = CASE WHEN id = 3 THEN guard_repair_then(7) ELSE 7 END WHERE id <= 5');
SELECT guard_try(NULL, 'WITH u AS (UPDATE guard_cust SET owner_id = 7 WHERE id <= 5 RETURNING id)
                SELECT crmpool.check(''guard_cust'') FROM (SELECT count(*) FROM u) x');
SELECT count(*) FROM guard_cust WHERE owner_id IS NOT NULL;

-- Once the statement is over the functions run, in the same transaction, and find the books
-- in step.
BEGIN;
UPDATE guard_cust SET owner_id = 8 WHERE id <= 4;
SELECT * FROM crmpool.check('guard_cust');
SELECT * FROM crmpool.repair('guard_cust');
SAVEPOINT s;
UPDATE guard_cust SET owner_id = 9 WHERE id = 5;
ROLLBACK TO s;
SELECT * FROM crmpool.check('guard_cust');
SELECT crmpool.set_identity('guard_cust', phone_columns => '{phone}');
SELECT crmpool.manage('guard_cust', 'owner_id');
COMMIT;
SELECT rep, owned FROM crmpool.rep_counter WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'guard_cust'::regclass) AND owned > 0;
SELECT * FROM guard_books('guard_cust');
SELECT crmpool.unmanage('guard_cust');

-- A deferred constraint holds the trigger events of a write until commit: the functions refuse
-- with their own message, and run once SET CONSTRAINTS ALL IMMEDIATE has fired them.
CREATE TABLE guard_ref (id int PRIMARY KEY);
INSERT INTO guard_ref VALUES (1);
CREATE TABLE guard_fk (id bigint PRIMARY KEY, owner_id bigint,
	ref int REFERENCES guard_ref DEFERRABLE INITIALLY DEFERRED);
SELECT crmpool.manage('guard_fk', 'owner_id');
BEGIN;
INSERT INTO guard_fk VALUES (1, 7, 1);
SELECT count(*) FROM crmpool.check('guard_fk');
ROLLBACK;
BEGIN;
INSERT INTO guard_fk VALUES (1, 7, 1);
SET CONSTRAINTS ALL IMMEDIATE;
SELECT count(*) FROM crmpool.check('guard_fk');
COMMIT;
DROP TABLE guard_fk, guard_ref;
DROP TABLE guard_cust, guard_other;
DROP FUNCTION guard_books(regclass), guard_call(), guard_call_quietly(), guard_try(text, text),
	guard_repair_then(bigint);
