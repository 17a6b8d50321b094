-- The app's own columns (issue 9, section 3): lock_column, owner_since_column, deleted_column,
-- the rule lock_blocks, and timestamp-without-time-zone columns read in crmpool.timezone.  The
-- table has the shape of yudao's crm_customer (ruoyi-vue-pro's CRM module).
\set VERBOSITY default
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
SET TimeZone = 'UTC';
SET crmpool.timezone = 'Asia/Shanghai';
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	det text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
	RETURN st || ': ' || msg || coalesce(' / ' || det, '');
END $$;

CREATE TABLE crm_customer (
	id					bigint PRIMARY KEY,
	name				varchar(255) NOT NULL,
	owner_user_id		bigint,
	owner_time			timestamp,
	lock_status			smallint NOT NULL DEFAULT 0,
	deal_status			boolean NOT NULL DEFAULT false,
	contact_last_time	timestamp,
	deleted				smallint NOT NULL DEFAULT 0,
	tenant_id			bigint NOT NULL DEFAULT 1
);
-- what the app left before crmpool: owners since 20 days (Shanghai wall clock), a lock, a
-- soft-deleted customer that still names its owner, a pool customer with a stale lock flag
INSERT INTO crm_customer (id, name, owner_user_id, owner_time, lock_status, deleted)
VALUES (1, 'Acme', 7, '2026-02-10 17:00', 0, 0),
	   (2, 'Beta', 7, '2026-02-10 17:00', 1, 0),
	   (3, 'Gamma', 7, '2026-02-10 17:00', 0, 1),
	   (4, 'Delta', NULL, NULL, 1, 0),
	   (5, 'Epsilon', 8, NULL, 0, 0),
	   (6, 'Zeta', NULL, NULL, 0, 0),
	   (7, 'Eta', NULL, NULL, 0, 0),
	   (8, 'Theta', NULL, NULL, 0, 0);

-- wrong columns: clear errors with SQLSTATEs, nothing stored
SELECT try($$SELECT crmpool.manage('crm_customer', 'owner_user_id', lock_column => 'name')$$);
SELECT try($$SELECT crmpool.manage('crm_customer', 'owner_user_id', owner_since_column => 'lock_status')$$);
SELECT try($$SELECT crmpool.manage('crm_customer', 'owner_user_id', deleted_column => 'name')$$);
SELECT try($$SELECT crmpool.manage('crm_customer', 'owner_user_id', lock_column => 'nope')$$);
SELECT try($$SELECT crmpool.manage('crm_customer', 'owner_user_id', lock_column => 'deleted', deleted_column => 'deleted')$$);
SELECT try($$SELECT crmpool.manage('crm_customer', 'owner_user_id', lock_column => 'ctid')$$);
SELECT count(*) FROM crmpool.managed_tables;

SELECT crmpool.manage('crm_customer', 'owner_user_id', deal_column => 'deal_status',
					  followup_column => 'contact_last_time', lock_column => 'lock_status',
					  owner_since_column => 'owner_time', deleted_column => 'deleted');
SELECT lock_column, owner_since_column, deleted_column FROM crmpool.managed_tables;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'crm_customer'::regclass ORDER BY tgname;

-- adoption: the deleted customer counts nowhere, the lock comes from the column (the pool
-- customer's flag locks nothing), spells start at owner_time read in crmpool.timezone
SELECT * FROM crmpool.rep_load('crm_customer') ORDER BY rep;
SELECT customer, rep FROM crmpool.customer_lock ORDER BY customer;
SELECT c.id, h.owner, h.since, h.how_gained
FROM crm_customer c, crmpool.history('crm_customer', c.id) h WHERE c.id <= 5 ORDER BY c.id;
SELECT * FROM crmpool.check('crm_customer');

-- recycling continues from the app's clock: 30 days after owner_time, not after manage()
SELECT crmpool.set_rules('crm_customer', '{"recycle_no_followup": "30 days"}') IS NOT NULL AS set;
SELECT customer, owner, due_at, rule FROM crmpool.due('crm_customer') ORDER BY customer;

-- a claim stamps owner_time with crmpool's clock, in crmpool.timezone (Shanghai: 17:00)
SELECT crmpool.claim('crm_customer', 6, 9);
SELECT id, owner_user_id, owner_time FROM crm_customer WHERE id = 6;
SET TimeZone = 'America/New_York';
SELECT crmpool.assign('crm_customer', 7, 9);
SELECT id, owner_user_id, owner_time FROM crm_customer WHERE id = 7;
SET TimeZone = 'UTC';
SELECT customer, owner, due_at FROM crmpool.due('crm_customer') WHERE customer IN (6, 7) ORDER BY customer;
-- transfer and a plain UPDATE that changes the owner stamp it too; one that does not, does not
SET crmpool.fake_now = '2026-03-03 01:30:00+00';
SELECT crmpool.transfer('crm_customer', 6, 9, 8);
UPDATE crm_customer SET owner_user_id = 7 WHERE id = 7;
UPDATE crm_customer SET name = 'Zeta Ltd' WHERE id = 6;
-- an INSERT with an owner is a gain too: the time written is crmpool's, the spell's start
INSERT INTO crm_customer (id, name, owner_user_id, owner_time) VALUES (9, 'Iota', 9, '2001-01-01');
SELECT id, owner_user_id, owner_time FROM crm_customer WHERE id IN (6, 7, 9) ORDER BY id;
DELETE FROM crm_customer WHERE id = 9;

-- locks: crmpool.lock() writes the column; the column is the lock
SELECT crmpool.lock('crm_customer', 1, 7);
SELECT crmpool.lock('crm_customer', 1, 7);
SELECT id, lock_status FROM crm_customer WHERE id = 1;
SELECT customer, rep FROM crmpool.customer_lock ORDER BY customer;
SELECT rep, owned, locked FROM crmpool.rep_load('crm_customer') WHERE rep = 7;
SELECT try($$SELECT crmpool.release('crm_customer', 1, 7)$$);
SELECT try($$SELECT crmpool.transfer('crm_customer', 1, 7, 8)$$);
SELECT try($$UPDATE crm_customer SET owner_user_id = NULL WHERE id = 1$$);
-- a locked customer is not due
SELECT customer FROM crmpool.due('crm_customer') ORDER BY customer;
SELECT crmpool.unlock('crm_customer', 1, 7);
SELECT id, lock_status FROM crm_customer WHERE id = 1;
SELECT customer FROM crmpool.due('crm_customer') ORDER BY customer;
-- the app's plain UPDATE of the flag is a lock or an unlock, with the same rules
SELECT crmpool.set_rules('crm_customer', '{"lock_cap": 2}') IS NOT NULL AS set;
UPDATE crm_customer SET lock_status = 1 WHERE id = 1;
SELECT customer, rep FROM crmpool.customer_lock ORDER BY customer;
SELECT try($$UPDATE crm_customer SET lock_status = 1 WHERE id = 7$$);
SELECT try($$UPDATE crm_customer SET lock_status = 1 WHERE id = 8$$);
SELECT try($$INSERT INTO crm_customer (id, name, lock_status) VALUES (20, 'Locked pool', 1)$$);
UPDATE crm_customer SET lock_status = 0 WHERE id = 2;
UPDATE crm_customer SET lock_status = 1 WHERE id = 7;
SELECT customer, rep FROM crmpool.customer_lock ORDER BY customer;
SELECT rep, owned, locked FROM crmpool.rep_load('crm_customer') ORDER BY rep;
-- a multi-row UPDATE past the lock cap is refused whole
SELECT try($$UPDATE crm_customer SET lock_status = 1 WHERE owner_user_id = 7$$);
SELECT id, lock_status FROM crm_customer WHERE owner_user_id = 7 ORDER BY id;

-- lock_blocks: what a lock blocks is a rule (yudao: a locked customer may be transferred)
SELECT try($$SELECT crmpool.set_rules('crm_customer', '{"lock_blocks": "release"}')$$);
SELECT try($$SELECT crmpool.set_rules('crm_customer', '{"lock_blocks": ["release", "steal"]}')$$);
SELECT try($$SELECT crmpool.set_rules('crm_customer', '{"lock_blocks": [1]}')$$);
SELECT try($$SELECT crmpool.set_rules('crm_customer', '{"lock_blocks": null}')$$);
SELECT crmpool.rules('crm_customer') -> 'lock_blocks' AS default_blocks;
SELECT crmpool.set_rules('crm_customer', '{"lock_blocks": ["recycle", "release"]}') -> 'lock_blocks' AS blocks;
-- the transfer passes and the lock goes with the customer to its new owner
SELECT crmpool.transfer('crm_customer', 1, 7, 8);
SELECT id, owner_user_id, lock_status FROM crm_customer WHERE id = 1;
SELECT customer, rep FROM crmpool.customer_lock ORDER BY customer;
SELECT rep, owned, locked FROM crmpool.rep_load('crm_customer') ORDER BY rep;
SELECT try($$SELECT crmpool.release('crm_customer', 1, 8)$$);
-- a lock that blocks nothing: the release passes, the flag is cleared with the spell
SELECT crmpool.set_rules('crm_customer', '{"lock_blocks": []}') -> 'lock_blocks' AS blocks;
SELECT crmpool.release('crm_customer', 1, 8);
SELECT id, owner_user_id, lock_status FROM crm_customer WHERE id = 1;
SELECT customer, rep FROM crmpool.customer_lock ORDER BY customer;
-- without "recycle", a locked customer is due and recycled like any other
SELECT customer, owner FROM crmpool.due('crm_customer') WHERE customer = 7;
SET crmpool.fake_now = '2026-04-10 09:00:00+00';
SELECT crmpool.recycle_now('crm_customer');
SELECT id, owner_user_id, lock_status FROM crm_customer ORDER BY id;
SELECT customer, rep FROM crmpool.customer_lock ORDER BY customer;
SELECT * FROM crmpool.check('crm_customer');
SELECT crmpool.clear_rules('crm_customer', '{lock_blocks, recycle_no_followup, lock_cap}') IS NOT NULL AS cleared;

-- soft delete: ends the spell and frees the counts like DELETE; the row counts nowhere
SET crmpool.fake_now = '2026-04-11 09:00:00+00';
SELECT crmpool.claim('crm_customer', 6, 7);
SELECT crmpool.lock('crm_customer', 6, 7);
SELECT rep, owned, locked FROM crmpool.rep_load('crm_customer') WHERE rep = 7;
UPDATE crm_customer SET deleted = 1 WHERE id = 6;
SELECT rep, owned, locked FROM crmpool.rep_load('crm_customer') WHERE rep = 7;
SELECT customer, rep FROM crmpool.customer_lock WHERE customer = 6;
SELECT owner, how FROM crmpool.ownership_log('crm_customer', 6) ORDER BY seq DESC LIMIT 1;
-- a deleted customer cannot be claimed, gain an owner, or be locked (CR002)
SELECT try($$SELECT crmpool.claim('crm_customer', 3, 8)$$);
SELECT try($$SELECT crmpool.assign('crm_customer', 6, 8)$$);
SELECT try($$SELECT crmpool.lock('crm_customer', 6, 7)$$);
SELECT try($$SELECT crmpool.release('crm_customer', 6, 7)$$);
SELECT try($$UPDATE crm_customer SET owner_user_id = 8 WHERE id = 6$$);
SELECT crmpool.claim_many('crm_customer', '{3, 7}', 8);
-- other writes of a deleted row pass and count nowhere
UPDATE crm_customer SET name = 'Zeta (deleted)', lock_status = 0 WHERE id = 6;
INSERT INTO crm_customer (id, name, owner_user_id, deleted) VALUES (21, 'Imported, deleted', 9, 1);
SELECT rep, owned, locked FROM crmpool.rep_load('crm_customer') ORDER BY rep;
-- undeleting puts the customer back in its pool: owner and lock flag cleared
UPDATE crm_customer SET deleted = 0 WHERE id = 6;
SELECT id, owner_user_id, lock_status, deleted FROM crm_customer WHERE id = 6;
SELECT crmpool.claim('crm_customer', 6, 8);
-- an undelete that names an owner is that owner's gain, checked as such
UPDATE crm_customer SET deleted = 0, owner_user_id = 8 WHERE id = 21;
SELECT id, owner_user_id, owner_time FROM crm_customer WHERE id = 21;
SELECT rep, owned, locked FROM crmpool.rep_load('crm_customer') ORDER BY rep;
-- DELETE of a soft-deleted row, and the rest of the history
DELETE FROM crm_customer WHERE id = 3;
SELECT owner, how FROM crmpool.ownership_log('crm_customer', 6) ORDER BY seq;
SELECT * FROM crmpool.check('crm_customer');

-- check() and repair() know the columns: drift written with the triggers off (a lock flag
-- set, one cleared, a soft delete)
SELECT crmpool.claim('crm_customer', 5, 8);
SELECT crmpool.lock('crm_customer', 5, 8);
ALTER TABLE crm_customer DISABLE TRIGGER USER;
UPDATE crm_customer SET lock_status = 0 WHERE id = 5;
UPDATE crm_customer SET lock_status = 1 WHERE id = 21;
UPDATE crm_customer SET deleted = 1 WHERE id = 6;
ALTER TABLE crm_customer ENABLE TRIGGER USER;
SELECT kind, customer, rep, expected, found FROM crmpool.check('crm_customer') ORDER BY kind, customer;
SELECT count(*) > 0 AS repaired FROM crmpool.repair('crm_customer');
SELECT * FROM crmpool.check('crm_customer');
SELECT customer, rep FROM crmpool.customer_lock ORDER BY customer;
SELECT rep, owned, locked FROM crmpool.rep_load('crm_customer') ORDER BY rep;

-- duplicate detection drops soft-deleted rows: their keys are given up, and come back
SELECT crmpool.set_identity('crm_customer', name_column => 'name');
SELECT crmpool.set_rules('crm_customer', '{"dedup_name": "block"}') IS NOT NULL AS set;
SELECT try($$INSERT INTO crm_customer (id, name) VALUES (30, 'Zeta (deleted)')$$);
INSERT INTO crm_customer (id, name) VALUES (31, 'Omicron Trading');
UPDATE crm_customer SET deleted = 1 WHERE id = 31;
INSERT INTO crm_customer (id, name) VALUES (32, 'Omicron Trading');
SELECT try($$UPDATE crm_customer SET deleted = 0 WHERE id = 31$$);
SELECT crmpool.clear_rules('crm_customer', '{dedup_name}') IS NOT NULL AS cleared;

-- DDL: renames are followed, drops and type changes refused
ALTER TABLE crm_customer RENAME COLUMN lock_status TO lock_flag;
SELECT lock_column FROM crmpool.managed_tables WHERE rel = 'crm_customer'::regclass;
SELECT try($$ALTER TABLE crm_customer DROP COLUMN lock_flag$$);
SELECT try($$ALTER TABLE crm_customer DROP COLUMN owner_time$$);
SELECT try($$ALTER TABLE crm_customer ALTER COLUMN lock_flag TYPE integer$$);
SELECT try($$ALTER TABLE crm_customer ALTER COLUMN owner_time TYPE timestamptz$$);

-- the other kinds: a boolean lock, a timestamptz owner-since, a Rails-style deleted_at
CREATE TABLE accounts (
	id			integer PRIMARY KEY,
	rep			integer,
	locked		boolean,
	owned_since	timestamptz,
	deleted_at	timestamptz
);
INSERT INTO accounts VALUES (1, 5, true, '2026-01-01 00:00+00', NULL),
							(2, 5, NULL, NULL, '2026-02-01 00:00+00'),
							(3, NULL, false, NULL, NULL);
SELECT crmpool.manage('accounts', 'rep', lock_column => 'locked', owner_since_column => 'owned_since',
					  deleted_column => 'deleted_at');
SELECT * FROM crmpool.rep_load('accounts');
SELECT h.since, h.how_gained FROM crmpool.history('accounts', 1) h;
SELECT crmpool.claim('accounts', 3, 6);
SELECT crmpool.lock('accounts', 3, 6);
SELECT id, rep, locked, owned_since FROM accounts ORDER BY id;
SELECT try($$SELECT crmpool.claim('accounts', 2, 6)$$);
UPDATE accounts SET deleted_at = '2026-03-01 00:00+00' WHERE id = 3;
UPDATE accounts SET deleted_at = NULL WHERE id = 2;
SELECT id, rep, locked, deleted_at IS NOT NULL AS deleted FROM accounts ORDER BY id;
SELECT * FROM crmpool.rep_load('accounts') ORDER BY rep;
SELECT * FROM crmpool.check('accounts');
-- integer and bigint lock flags (any value but 0 is set), boolean and date deleted marks
CREATE TABLE kinds_a (id bigint PRIMARY KEY, rep bigint, lk integer NOT NULL DEFAULT 0, del boolean);
CREATE TABLE kinds_b (id bigint PRIMARY KEY, rep bigint, lk bigint NOT NULL DEFAULT 0, del date);
INSERT INTO kinds_a VALUES (1, 5, 2, false), (2, 5, 0, true), (3, NULL, 0, NULL);
INSERT INTO kinds_b VALUES (1, 5, -1, NULL), (2, 5, 0, '2026-01-01'), (3, NULL, 0, NULL);
SELECT crmpool.manage('kinds_a', 'rep', lock_column => 'lk', deleted_column => 'del');
SELECT crmpool.manage('kinds_b', 'rep', lock_column => 'lk', deleted_column => 'del');
SELECT m.rel, l.customer, l.rep FROM crmpool.customer_lock l JOIN crmpool.managed_tables m USING (table_id)
WHERE m.rel IN ('kinds_a'::regclass, 'kinds_b'::regclass) ORDER BY 1, 2;
SELECT (SELECT owned FROM crmpool.rep_load('kinds_a')) AS owned_a,
	   (SELECT owned FROM crmpool.rep_load('kinds_b')) AS owned_b;
SELECT crmpool.claim('kinds_a', 3, 6), crmpool.lock('kinds_a', 3, 6), crmpool.unlock('kinds_a', 1, 5);
SELECT crmpool.claim('kinds_b', 3, 6), crmpool.lock('kinds_b', 3, 6), crmpool.unlock('kinds_b', 1, 5);
SELECT 'a' AS t, id, rep, lk, del FROM kinds_a UNION ALL SELECT 'b', id, rep, lk, NULL FROM kinds_b ORDER BY 1, 2;
SELECT try($$SELECT crmpool.claim('kinds_a', 2, 6)$$);
SELECT try($$SELECT crmpool.claim('kinds_b', 2, 6)$$);
-- an INSERT with an owner and the flag set is a locked gain for that owner, lock_cap checked
SELECT crmpool.set_rules('kinds_a', '{"lock_cap": 1}') IS NOT NULL AS set;
INSERT INTO kinds_a VALUES (4, 7, 1, false);
SELECT try($$INSERT INTO kinds_a VALUES (5, 7, 1, false)$$);
SELECT * FROM crmpool.rep_load('kinds_a') ORDER BY rep;
SELECT * FROM crmpool.check('kinds_a') UNION ALL SELECT * FROM crmpool.check('kinds_b');
SELECT crmpool.unmanage(t) FROM unnest('{kinds_a, kinds_b}'::regclass[]) t;
DROP TABLE kinds_a, kinds_b;

-- the BEFORE trigger is one of crmpool's: off, crmpool's functions refuse and check() says so
ALTER TABLE accounts DISABLE TRIGGER crmpool_ownership_before;
SELECT try($$SELECT crmpool.claim('accounts', 2, 6)$$);
SELECT kind, expected, found FROM crmpool.check('accounts') WHERE kind = 'trigger';
ALTER TABLE accounts ENABLE TRIGGER crmpool_ownership_before;
-- a six-argument call attaches a table without the new columns; so does 0.1's C symbol, which
-- a 0.1 install binds until ALTER EXTENSION UPDATE
SELECT crmpool.manage('accounts', 'rep', NULL, NULL, NULL, NULL);
CREATE FUNCTION manage_01(rel regclass, owner_column name, pool_column name DEFAULT NULL,
						  followup_column name DEFAULT NULL, deal_column name DEFAULT NULL,
						  level_column name DEFAULT NULL)
RETURNS void LANGUAGE C CALLED ON NULL INPUT AS '$libdir/crmpool', 'crmpool_manage';
SELECT manage_01('accounts', 'rep');
DROP FUNCTION manage_01;
SELECT lock_column, owner_since_column, deleted_column FROM crmpool.managed_tables WHERE rel = 'accounts'::regclass;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'accounts'::regclass ORDER BY tgname;

-- timestamp without time zone columns are read in crmpool.timezone, never the session's
-- TimeZone: a rule change from a session in Shanghai leaves the due times a UTC session wrote
CREATE TABLE leads (
	id			bigint PRIMARY KEY,
	owner_id	bigint,
	followed	timestamp,
	owner_time	timestamp
);
SET crmpool.fake_now = '2026-05-01 00:00:00+00';
INSERT INTO leads VALUES (1, 3, '2026-04-20 10:00', '2026-04-01 10:00'), (2, NULL, NULL, NULL);
SELECT crmpool.manage('leads', 'owner_id', followup_column => 'followed', owner_since_column => 'owner_time');
SELECT crmpool.set_rules('leads', '{"recycle_no_followup": "10 days"}') IS NOT NULL AS set;
SELECT crmpool.claim('leads', 2, 3);
CREATE TEMP TABLE due_utc AS SELECT customer, due_at FROM crmpool.due('leads');
SET TimeZone = 'Asia/Shanghai';
SELECT crmpool.set_rules('leads', '{"recycle_no_followup": "10 days", "warn_before": "1 day"}') IS NOT NULL AS set;
SELECT crmpool.follow_up('leads', 2, 3, '2026-05-01 06:00+08');
SELECT id, followed, owner_time FROM leads ORDER BY id;
SET TimeZone = 'UTC';
SELECT d.customer, u.due_at AS before, d.due_at AS after
FROM crmpool.due('leads') d JOIN due_utc u USING (customer) ORDER BY customer;
-- and days are counted on crmpool.timezone's calendar: a claim from a session in New York
-- (whose clocks change on 2026-03-08) is due 30 days later at the same hour as from UTC
SET crmpool.timezone = 'UTC';
SET crmpool.fake_now = '2026-03-01 12:00:00+00';
SELECT crmpool.set_rules('leads', '{"recycle_no_followup": "30 days"}') IS NOT NULL AS set;
INSERT INTO leads VALUES (3, NULL, NULL, NULL), (4, NULL, NULL, NULL);
SELECT crmpool.claim('leads', 3, 5);
SET TimeZone = 'America/New_York';
SELECT crmpool.claim('leads', 4, 5);
SET TimeZone = 'UTC';
SELECT customer, due_at FROM crmpool.due('leads') WHERE customer IN (3, 4) ORDER BY customer;

-- the regression tests share a database
SELECT crmpool.unmanage(t) FROM unnest('{crm_customer, accounts, leads}'::regclass[]) t;
DROP TABLE crm_customer, accounts, leads;
DROP FUNCTION try(text);
