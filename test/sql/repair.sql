-- Bypassed triggers (DISABLE TRIGGER ALL; session_replication_role = replica, as pg_restore
-- --disable-triggers and logical replication apply run): the writes that notice the drift
-- raise CR013 with a hint, crmpool.check() lists every disagreement, crmpool.repair() fixes
-- them without deleting history, and the table works again.
SET TimeZone = 'UTC';
SET crmpool.fake_now = '2026-03-01 09:00+00';
\set VERBOSITY default

-- the SQLSTATE and message of a statement, or ok
CREATE FUNCTION outcome(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

CREATE TABLE acct (
	id				int PRIMARY KEY,
	rep				int,
	last_contact	timestamptz,
	deal			boolean NOT NULL DEFAULT false,
	phone			text
);
INSERT INTO acct (id, phone) SELECT g, '1380013800' || g FROM generate_series(1, 9) g;
SELECT crmpool.manage('acct', 'rep', followup_column => 'last_contact', deal_column => 'deal');
SELECT crmpool.set_identity('acct', phone_columns => '{phone}');
SELECT crmpool.set_rules('acct', '{"recycle_no_followup": "30 days", "warn_before": "5 days"}');
SELECT crmpool.claim('acct', g, 5) FROM generate_series(1, 4) g;
SELECT crmpool.claim('acct', 5, 6);
SELECT crmpool.lock('acct', 4, 5);
-- in step: nothing to report
SELECT * FROM crmpool.check('acct');

-- ---------------------------------------------------------------------------------------------
-- DISABLE TRIGGER ALL: every kind of change slips past crmpool
-- ---------------------------------------------------------------------------------------------
ALTER TABLE acct DISABLE TRIGGER ALL;
UPDATE acct SET rep = NULL WHERE id = 1;					-- released behind crmpool's back
UPDATE acct SET rep = 6 WHERE id IN (2, 7);					-- moved to another rep, claimed
UPDATE acct SET deal = true WHERE id = 3;					-- a deal nobody counted
DELETE FROM acct WHERE id = 4;								-- locked, and gone
INSERT INTO acct VALUES (10, 7, '2026-02-27 09:00+00', false, '13900139000');	-- never seen
UPDATE acct SET last_contact = '2026-02-20 09:00+00' WHERE id = 5;	-- due time not moved
UPDATE acct SET phone = '13700137000' WHERE id = 6;			-- identity key not moved
-- the table says one thing, rep_load another
SELECT rep, count(*) AS owned, count(*) FILTER (WHERE deal) AS with_deal FROM acct
WHERE rep IS NOT NULL GROUP BY rep ORDER BY rep;
SELECT * FROM crmpool.rep_load('acct');

-- a disabled trigger is itself reported, and repair refuses to work under it
SELECT * FROM crmpool.check('acct') WHERE kind = 'trigger';
SELECT count(*) FROM crmpool.repair('acct');
ALTER TABLE acct ENABLE TRIGGER ALL;

-- the writes that meet the drift say so (CR013, with the hint), instead of XX001 / XX000:
-- rep 6 is counted for one customer and releases two; rep 7 was never counted
UPDATE acct SET rep = NULL WHERE id = 10;
SELECT outcome($$SELECT crmpool.release('acct', 2, 6)$$);
SELECT outcome($$SELECT crmpool.release('acct', 7, 6)$$);
SELECT outcome($$SELECT crmpool.lock('acct', 10, 7)$$);
SELECT outcome($$UPDATE acct SET deal = true WHERE id = 10$$);

-- check lists every disagreement: spells, locks, due rows, identity keys, counters
SELECT * FROM crmpool.check('acct');
-- repair fixes exactly those, and returns them
SELECT * FROM crmpool.repair('acct');
SELECT * FROM crmpool.check('acct');
SELECT * FROM crmpool.rep_load('acct');
-- history is kept; repair appends
SELECT owner, how, reason FROM crmpool.ownership_log('acct', 2) ORDER BY seq;
SELECT owner, how, reason FROM crmpool.ownership_log('acct', 4) ORDER BY seq;
SELECT owner, since, how_gained, how_ended FROM crmpool.history('acct', 10);
SELECT customer, owner, due_at, rule FROM crmpool.due('acct') ORDER BY customer;
-- the next writes work
SELECT crmpool.release('acct', 7, 6);
UPDATE acct SET rep = NULL WHERE id = 10;
SELECT crmpool.claim('acct', 1, 7);
SELECT crmpool.lock('acct', 1, 7);
SELECT * FROM crmpool.rep_load('acct');
SELECT * FROM crmpool.check('acct');

-- ---------------------------------------------------------------------------------------------
-- session_replication_role = replica (what pg_restore --disable-triggers and the logical
-- replication apply worker run with): crmpool's triggers (enabled "origin") do not fire
-- ---------------------------------------------------------------------------------------------
SET session_replication_role = replica;
UPDATE acct SET rep = NULL WHERE id = 1;				-- locked by rep 7, released anyway
INSERT INTO acct VALUES (11, 8, NULL, false, '13600136000');
TRUNCATE crmpool.customer_lock;							-- (a restore that skipped crmpool's data)
-- crmpool's own functions refuse to run where its triggers would not fire (a claim's UPDATE
-- would go unrecorded), instead of a misleading "already owned"
SELECT crmpool.claim('acct', 6, 7);
SELECT outcome($$SELECT crmpool.follow_up('acct', 5, 6)$$);
SELECT outcome($$CALL crmpool.recycle('acct')$$);
RESET session_replication_role;
SELECT * FROM crmpool.check('acct');
SELECT count(*) AS fixed FROM crmpool.repair('acct');
SELECT * FROM crmpool.check('acct');
SELECT crmpool.claim('acct', 1, 7);
SELECT crmpool.release('acct', 11, 8);

-- ---------------------------------------------------------------------------------------------
-- Recycling a customer released behind crmpool's back: CR013, not XX000 "released 1 of 1"
-- ---------------------------------------------------------------------------------------------
SELECT customer, owner, rule FROM crmpool.due('acct') ORDER BY customer;
ALTER TABLE acct DISABLE TRIGGER ALL;
UPDATE acct SET rep = NULL WHERE id = 5;
ALTER TABLE acct ENABLE TRIGGER ALL;
SET crmpool.fake_now = '2026-06-01 09:00+00';
SELECT crmpool.recycle_now('acct');
SELECT customer, kind FROM crmpool.repair('acct');
-- and a customer moved to another rep behind crmpool's back
ALTER TABLE acct DISABLE TRIGGER ALL;
UPDATE acct SET rep = 8 WHERE id = 1;
ALTER TABLE acct ENABLE TRIGGER ALL;
SELECT outcome($$SELECT crmpool.recycle_now('acct')$$);
SELECT customer, kind FROM crmpool.repair('acct');
SELECT crmpool.recycle_now('acct');							-- its new spell started at the repair
SET crmpool.fake_now = '2026-08-01 09:00+00';
SELECT crmpool.recycle_now('acct');
SELECT customer, owner, how, reason FROM crmpool.ownership_event
WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'acct'::regclass) AND customer = 1 ORDER BY seq DESC LIMIT 3;
SELECT * FROM crmpool.check('acct');

-- ---------------------------------------------------------------------------------------------
-- Many customers: the pass reads a chunk (1000 rows) of each side at a time
-- ---------------------------------------------------------------------------------------------
CREATE TABLE big (id bigint PRIMARY KEY, rep int, company text, phone text);
INSERT INTO big SELECT g, CASE WHEN g % 3 = 0 THEN g % 10 END, 'Firm ' || g || ' 有限公司',
	'1380000' || lpad(g::text, 4, '0') FROM generate_series(1, 3500) g;
SELECT crmpool.manage('big', 'rep');
SELECT crmpool.set_identity('big', 'company', '{phone}');
SELECT count(*) AS disagreements FROM crmpool.check('big');
ALTER TABLE big DISABLE TRIGGER ALL;
DELETE FROM big WHERE id % 7 = 0;
UPDATE big SET rep = 11 WHERE id % 5 = 0;
INSERT INTO big SELECT g, 12, 'New ' || g, NULL FROM generate_series(3501, 5600) g;
ALTER TABLE big ENABLE TRIGGER ALL;
SELECT kind, count(*) FROM crmpool.check('big') GROUP BY kind ORDER BY kind;
SELECT kind, count(*) FROM crmpool.repair('big') GROUP BY kind ORDER BY kind;
SELECT count(*) AS disagreements FROM crmpool.check('big');
SELECT sum(owned) AS owned FROM crmpool.rep_load('big');
SELECT count(*) AS owned FROM big WHERE rep IS NOT NULL;
DROP TABLE big;

-- ---------------------------------------------------------------------------------------------
-- Who may: the table's owner (like manage); a managed table only
-- ---------------------------------------------------------------------------------------------
CREATE ROLE repair_stranger;
GRANT SELECT, UPDATE ON acct TO repair_stranger;
SET ROLE repair_stranger;
SELECT * FROM crmpool.check('acct');
SELECT * FROM crmpool.repair('acct');
RESET ROLE;
CREATE TABLE plain (id int PRIMARY KEY);
SELECT * FROM crmpool.check('plain');
SELECT * FROM crmpool.check(NULL);
SELECT * FROM crmpool.check(4294967295::oid::regclass);
-- a repair writes what it reads, a check reports it: the snapshot must come after the lock
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM crmpool.check('acct');
ROLLBACK;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT count(*) FROM crmpool.repair('acct');
ROLLBACK;

-- The table is read as its owner, in a security-restricted operation: a policy that would hide
-- rows from the owner (FORCE ROW LEVEL SECURITY) is an error, never customers taken for gone.
CREATE ROLE repair_owner;
CREATE TABLE owned_by (id int PRIMARY KEY, rep int);
INSERT INTO owned_by VALUES (1, 3), (2, NULL);
ALTER TABLE owned_by OWNER TO repair_owner;
SET ROLE repair_owner;
SELECT crmpool.manage('owned_by', 'rep');
ALTER TABLE owned_by ENABLE ROW LEVEL SECURITY;
ALTER TABLE owned_by FORCE ROW LEVEL SECURITY;
CREATE POLICY only_one ON owned_by USING (id = 1);
SELECT * FROM crmpool.check('owned_by');
ALTER TABLE owned_by NO FORCE ROW LEVEL SECURITY;
SELECT * FROM crmpool.check('owned_by');
RESET ROLE;
-- a superuser's call reads as the owner too
SELECT * FROM crmpool.check('owned_by');
DROP TABLE owned_by;
DROP ROLE repair_owner;
REVOKE ALL ON acct FROM repair_stranger;
DROP ROLE repair_stranger;
DROP TABLE acct, plain;
DROP FUNCTION outcome(text);
