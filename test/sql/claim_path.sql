-- claim_path: the claim and release path that bench/claim measures, step by step, with every
-- rule of the claim evaluated.  It pins down what the trigger does for each kind of UPDATE, so
-- that making the path faster cannot change what it decides or records.
\set SHOW_CONTEXT never
SET crmpool.fake_now = '2026-01-05 09:00+08';
SET TimeZone = 'Asia/Shanghai';
-- The daily claim limit counts days in crmpool.timezone (UTC unless set), not the session's.
SET crmpool.timezone = 'Asia/Shanghai';

-- Runs a statement and shows its outcome: ok, or SQLSTATE, message and detail.
CREATE FUNCTION try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	det text;
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
	RETURN st || ': ' || msg || coalesce(' / ' || nullif(det, ''), '');
END;
$$;

CREATE TABLE cp (
	id			bigint	PRIMARY KEY,
	name		text	NOT NULL,
	owner_id	integer,
	pool		text,
	has_deal	boolean	NOT NULL DEFAULT false,
	notes		text
);
CREATE INDEX cp_owner_idx ON cp (owner_id);
INSERT INTO cp SELECT i, 'customer ' || i, CASE WHEN i > 8 THEN 100 END,
	CASE WHEN i % 2 = 0 THEN 'east' END, i = 10, NULL
FROM generate_series(1, 10) AS i;
SELECT crmpool.manage('cp', 'owner_id', 'pool', deal_column => 'has_deal');
CREATE VIEW load AS SELECT * FROM crmpool.rep_load('cp');
CREATE FUNCTION events_of(c bigint) RETURNS TABLE(at text, owner bigint, how text, actor text, reason text)
LANGUAGE sql AS $$
	SELECT to_char(at, 'MM-DD HH24:MI'), owner, how, actor, reason FROM crmpool.ownership_log('cp', c)
$$;

-- crmpool adds no index to the managed table: its bookkeeping lives in its own tables.
SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'cp'::regclass ORDER BY 1;
SELECT * FROM load;

SELECT crmpool.set_rules('cp', '{"private_cap": 2, "daily_claim_limit": 3, "reclaim_cooldown": "1 day", "pool_holdback": "1 hour", "lock_cap": 1}');

-- Adopted pool customers have no known entry time: no hold-back.
SELECT try($$SELECT crmpool.claim('cp', 1, 7)$$);
SELECT try($$SELECT crmpool.claim('cp', 2, 7)$$);
-- the cap counts what the rep owns, the daily limit what it claimed today
SELECT try($$SELECT crmpool.claim('cp', 3, 7)$$);
SELECT * FROM load;
SELECT try($$SELECT crmpool.claim('cp', 1, 8)$$);
SELECT try($$SELECT crmpool.claim('cp', 99, 8)$$);
SELECT try($$SELECT crmpool.claim('pg_class', 1, 8)$$);

-- Release: only the owner, never a locked customer; the reason is kept.
SELECT try($$SELECT crmpool.release('cp', 1, 8)$$);
SELECT try($$SELECT crmpool.release('cp', 3, 7)$$);
SELECT crmpool.lock('cp', 2, 7);
SELECT try($$SELECT crmpool.release('cp', 2, 7)$$);
SELECT crmpool.unlock('cp', 2, 7);
SELECT try($$SELECT crmpool.release('cp', 1, 7, 'no budget this year')$$);
SELECT * FROM load;
SELECT * FROM events_of(1);

-- Customer 1 entered the pool at 09:00: held back for an hour, and rep 7 cools down for a day.
SET crmpool.fake_now = '2026-01-05 09:30+08';
SELECT try($$SELECT crmpool.claim('cp', 1, 8)$$);
SET crmpool.fake_now = '2026-01-05 10:00+08';
SELECT try($$SELECT crmpool.claim('cp', 1, 7)$$);
SELECT try($$SELECT crmpool.claim('cp', 3, 7)$$);
-- at the cap, whatever the daily count
SELECT try($$SELECT crmpool.claim('cp', 5, 7)$$);
SELECT try($$SELECT crmpool.claim('cp', 1, 8)$$);
SELECT try($$SELECT crmpool.release('cp', 1, 8)$$);
-- Under the cap again, rep 7 has still claimed 3 customers today: the daily limit refuses a
-- fourth until midnight in the session's time zone.
SET crmpool.fake_now = '2026-01-05 23:59+08';
SELECT try($$SELECT crmpool.release('cp', 3, 7)$$);
SELECT try($$SELECT crmpool.claim('cp', 5, 7)$$);
SET crmpool.fake_now = '2026-01-06 00:01+08';
SELECT try($$SELECT crmpool.claim('cp', 5, 7)$$);
SELECT * FROM load;
-- A day after losing it, rep 7 may claim customer 1 again, once under the cap.
SET crmpool.fake_now = '2026-01-06 10:00+08';
SELECT try($$SELECT crmpool.claim('cp', 1, 7)$$);
SELECT try($$SELECT crmpool.release('cp', 2, 7)$$);
SELECT try($$SELECT crmpool.claim('cp', 1, 7)$$);
SELECT * FROM events_of(1);

-- Which UPDATEs the trigger sees.  Columns crmpool does not read: nothing recorded.
SELECT count(*) AS events FROM crmpool.ownership_event WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cp'::regclass);
UPDATE cp SET name = name || ' (renamed)', notes = 'called' WHERE id <= 4;
-- An ORM that writes back every column unchanged: nothing recorded either.
UPDATE cp SET id = id, name = name, owner_id = owner_id, pool = pool, has_deal = has_deal;
SELECT count(*) AS events FROM crmpool.ownership_event WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cp'::regclass);
SELECT * FROM load;
-- A deal on an owned customer is counted; on a pool customer it is not.
UPDATE cp SET has_deal = true WHERE id IN (1, 3);
SELECT * FROM load;
UPDATE cp SET has_deal = false WHERE id IN (1, 3, 10);
SELECT * FROM load;
-- The key of a customer cannot change.
SELECT try($$UPDATE cp SET id = 100 WHERE id = 1$$);
-- A direct write of the owner is checked as an assign (the cap applies) or a release.
-- Claim-only rules (cool-down, daily limit) do not apply to an assign.
SELECT try($$UPDATE cp SET owner_id = 7 WHERE id = 6$$);
SELECT try($$UPDATE cp SET owner_id = NULL WHERE id = 5$$);
SELECT try($$UPDATE cp SET owner_id = 7 WHERE id = 5$$);
SELECT try($$UPDATE cp SET owner_id = 7 WHERE id = 6$$);
SELECT * FROM load;
SELECT owner, how FROM events_of(5);
SELECT try($$UPDATE cp SET owner_id = NULL WHERE id = 5$$);
-- An owner changed by a BEFORE trigger of the user's, in an UPDATE that does not name the owner
-- column, is seen too.
CREATE FUNCTION cp_lost() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.notes = 'lost' THEN
		NEW.owner_id := NULL;
	END IF;
	RETURN NEW;
END;
$$;
CREATE TRIGGER cp_lost BEFORE UPDATE ON cp FOR EACH ROW EXECUTE FUNCTION cp_lost();
UPDATE cp SET notes = 'lost' WHERE id = 9;
SELECT owner, how FROM events_of(9);
DROP TRIGGER cp_lost ON cp;
DROP FUNCTION cp_lost();

-- The actor recorded: crmpool.actor, else the current role, whoever it is at the moment.
CREATE ROLE regress_cp_rep;
GRANT SELECT, UPDATE ON cp TO regress_cp_rep;
GRANT EXECUTE ON FUNCTION try(text) TO regress_cp_rep;
SET crmpool.fake_now = '2026-01-07 10:00+08';
SET ROLE regress_cp_rep;
SELECT try($$SELECT crmpool.claim('cp', 4, 8)$$);
SET crmpool.actor = 'alice@sales';
SELECT try($$SELECT crmpool.release('cp', 4, 8)$$);
RESET crmpool.actor;
RESET ROLE;
SET crmpool.fake_now = '2026-01-07 12:00+08';
SELECT try($$SELECT crmpool.claim('cp', 4, 8)$$);
SELECT try($$SELECT crmpool.claim('cp', 4, 9)$$);
SELECT * FROM events_of(4);

-- Bookkeeping statements run as the owner of schema crmpool, looked up afresh when it changes:
-- an owner without rights on crmpool's tables cannot lock a customer, and the lock fails whole.
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO regress_cp_rep', current_database()); END $$;
ALTER SCHEMA crmpool OWNER TO regress_cp_rep;
SELECT try($$SELECT crmpool.lock('cp', 4, 9)$$);
SELECT count(*) AS locks FROM crmpool.customer_lock WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cp'::regclass);
DO $$ BEGIN EXECUTE format('ALTER SCHEMA crmpool OWNER TO %I', (SELECT relowner::regrole::text FROM pg_class WHERE oid = 'crmpool.rep_counter'::regclass)); END $$;
SELECT try($$SELECT crmpool.lock('cp', 4, 9)$$);
SELECT crmpool.unlock('cp', 4, 9);
SELECT try($$SELECT crmpool.release('cp', 4, 9)$$);
SELECT owner_id FROM cp WHERE id = 4;
DO $$ BEGIN EXECUTE format('REVOKE CREATE ON DATABASE %I FROM regress_cp_rep', current_database()); END $$;

-- Every other kind of change records exactly one event and moves the counters: transfers
-- both ways between reps (the lower rep's counter is taken first), assign, insert, delete.
SET crmpool.fake_now = '2026-01-08 10:00+08';
SELECT try($$SELECT crmpool.assign('cp', 6, 8)$$);
SELECT try($$SELECT crmpool.transfer('cp', 6, 8, 7)$$);
SELECT try($$SELECT crmpool.transfer('cp', 6, 7, 9)$$);
SELECT try($$SELECT crmpool.transfer('cp', 6, 7, 9)$$);
INSERT INTO cp VALUES (11, 'customer 11', 9, NULL, true, NULL), (12, 'customer 12', NULL, 'east', false, NULL);
SELECT * FROM load;
SELECT crmpool.lock('cp', 11, 9);
DELETE FROM cp WHERE id IN (6, 11, 12);
SELECT * FROM load;
SELECT customer, owner, how FROM crmpool.ownership_event
WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cp'::regclass) AND customer IN (6, 11, 12) AND at >= '2026-01-08 10:00+08'
ORDER BY seq;
SELECT count(*) AS locks FROM crmpool.customer_lock WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cp'::regclass);

-- The event insert honours what may have been added to crmpool's history table: row triggers
-- fire and constraints are checked.
CREATE FUNCTION event_seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE NOTICE 'event: customer %, owner %, %', NEW.customer, NEW.owner, NEW.how;
	RETURN NEW;
END;
$$;
CREATE TRIGGER event_seen AFTER INSERT ON crmpool.ownership_event
	FOR EACH ROW EXECUTE FUNCTION event_seen();
ALTER TABLE crmpool.ownership_event ADD CONSTRAINT not_13 CHECK (customer <> 13);
SELECT try($$SELECT crmpool.assign('cp', 7, 8)$$);
SELECT split_part(try($$INSERT INTO cp VALUES (13, 'customer 13', NULL, NULL, false, NULL)$$), ' / ', 1) AS try;
ALTER TABLE crmpool.ownership_event DROP CONSTRAINT not_13;
DROP TRIGGER event_seen ON crmpool.ownership_event;
DROP FUNCTION event_seen();

-- The same for each of them alone, and for the counters: a change writes its one event and its
-- counter row without an executor state only while the tables are as crmpool made them.
-- A CHECK constraint alone, a NOT NULL column crmpool leaves null, and an index with a
-- predicate on the history table; a CHECK constraint and an index on a counted column on the
-- counters.  Each assign below gives customer 7 to rep 8, and each release takes it back.
SELECT try($$SELECT crmpool.release('cp', 7, 8)$$);
ALTER TABLE crmpool.ownership_event ADD CONSTRAINT not_14 CHECK (customer <> 14);
SELECT split_part(try($$INSERT INTO cp VALUES (14, 'customer 14', NULL, NULL, false, NULL)$$), ' / ', 1) AS try;
ALTER TABLE crmpool.ownership_event DROP CONSTRAINT not_14;
ALTER TABLE crmpool.ownership_event ADD COLUMN audited text NOT NULL DEFAULT 'no';
SELECT split_part(try($$SELECT crmpool.assign('cp', 7, 8)$$), ' / ', 1) AS try;
ALTER TABLE crmpool.ownership_event DROP COLUMN audited;
CREATE INDEX event_assigns ON crmpool.ownership_event (customer) WHERE how = 'assign';
SELECT count(*) AS assigns_of_7 FROM crmpool.ownership_event
WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cp'::regclass) AND customer = 7 AND how = 'assign';
SELECT try($$SELECT crmpool.assign('cp', 7, 8)$$);
SET enable_seqscan = off;
SELECT count(*) AS assigns_of_7 FROM crmpool.ownership_event
WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cp'::regclass) AND customer = 7 AND how = 'assign';
RESET enable_seqscan;
DROP INDEX crmpool.event_assigns;
SELECT try($$SELECT crmpool.release('cp', 7, 8)$$);
SELECT owned FROM crmpool.rep_counter WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cp'::regclass) AND rep = 8;
ALTER TABLE crmpool.rep_counter ADD CONSTRAINT rep_8_owns_none CHECK (rep <> 8 OR owned < 1);
SELECT split_part(try($$SELECT crmpool.assign('cp', 7, 8)$$), ' / ', 1) AS try;
ALTER TABLE crmpool.rep_counter DROP CONSTRAINT rep_8_owns_none;
CREATE INDEX counter_owned ON crmpool.rep_counter (table_id, owned);
SELECT try($$SELECT crmpool.assign('cp', 7, 8)$$);
SET enable_seqscan = off;
SELECT rep, owned FROM crmpool.rep_counter WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cp'::regclass) AND owned = 1 AND rep = 8;
RESET enable_seqscan;
DROP INDEX crmpool.counter_owned;

-- Counters that were lost are reported, not silently recreated.
DELETE FROM crmpool.rep_counter WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cp'::regclass) AND rep = 7;
SELECT try($$SELECT crmpool.release('cp', 1, 7)$$);
SELECT crmpool.manage('cp', 'owner_id', 'pool', deal_column => 'has_deal');
SELECT try($$SELECT crmpool.release('cp', 1, 7)$$);
SELECT * FROM load;

-- Every counter equals the table, and every customer's last event is its owner.
SELECT r.rep, r.owned, (SELECT count(*) FROM cp WHERE owner_id = r.rep) AS actual
FROM crmpool.rep_load('cp') r ORDER BY r.rep;
SELECT c.id, c.owner_id, l.owner AS last_event_owner
FROM cp c, LATERAL (SELECT owner FROM crmpool.ownership_event e
					WHERE e.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'cp'::regclass) AND e.customer = c.id ORDER BY seq DESC LIMIT 1) l
WHERE c.owner_id IS DISTINCT FROM l.owner;

DROP VIEW load;
DROP FUNCTION events_of(bigint);
SELECT crmpool.unmanage('cp');
DROP TABLE cp;
REVOKE ALL ON FUNCTION try(text) FROM regress_cp_rep;
DROP ROLE regress_cp_rep;
