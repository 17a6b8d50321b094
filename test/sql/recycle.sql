-- Recycling (回收): rules, due times and the countdown, follow-ups, levels, deals, locks,
-- warnings, recycle runs, privileges.  NOTIFY payloads are checked in test/specs/recycle_notify.
SET TimeZone = 'UTC';
SET crmpool.fake_now = '2026-01-01 09:00+00';

CREATE TABLE customer (
	id				bigint PRIMARY KEY,
	owner			bigint,
	pool			text,
	last_followup	timestamptz,
	deal			boolean NOT NULL DEFAULT false,
	level			text
);
INSERT INTO customer (id, pool, level)
SELECT g, CASE WHEN g > 10 THEN 'north' END, CASE g % 3 WHEN 0 THEN 'A' WHEN 1 THEN 'B' END
FROM generate_series(1, 14) g;

-- The level column: bad input, then the mapping.
SELECT crmpool.manage('customer', 'owner', level_column => 'grade');
SELECT crmpool.manage('customer', 'owner', 'pool', level_column => 'pool');
SELECT crmpool.manage('customer', 'owner', 'pool', 'last_followup', 'deal', 'level');
SELECT followup_column, deal_column, level_column FROM crmpool.managed_tables;

-- Rule validation.
SELECT crmpool.set_rules('customer', '{"recycle_no_followup": 30}');
SELECT crmpool.set_rules('customer', '{"recycle_no_followup": "-1 day"}');
SELECT crmpool.set_rules('customer', '{"recycle_no_deal": "soon"}');
SELECT crmpool.set_rules('customer', '{"recycle_exempt_deals": "yes"}');
SELECT crmpool.set_rules('customer', '{"recycle_exempt_deals": null}');
SELECT crmpool.set_rules('customer', '{"warn_before": true}');
SELECT crmpool.set_rules('customer', '{"recycle_after": "30 days"}');
SELECT crmpool.set_rules('customer', '{"levels": {"A": {"recycle_no_followup": 60}}}');
SELECT crmpool.set_rules('customer', '{"levels": {"A": "60 days"}}');

-- Without recycle rules nothing is due, however long a customer waits.
SELECT crmpool.claim('customer', 1, 7);
SELECT count(*) FROM crmpool.due('customer');

-- Rules for the whole table; "levels" override per customer level.  set_rules recomputes the
-- customers already owned: customer 1 (level B) counts from its claim.
SELECT crmpool.set_rules('customer', '{"recycle_no_followup": "30 days", "recycle_no_deal": "90 days",
	"warn_before": "3 days", "levels": {"A": {"recycle_no_followup": "60 days"}}}');
SELECT crmpool.rules('customer');
SELECT * FROM crmpool.due('customer');

-- A pool's rules beat the table's, a rep's beat the pool's.
SELECT crmpool.set_rules('customer', '{"recycle_no_followup": "10 days"}', pool => 'north');
SELECT crmpool.set_rules('customer', '{"recycle_no_followup": "20 days"}', rep => 9);

-- Claims at different times: the clock of a spell starts when it begins.
SET crmpool.fake_now = '2026-01-02 09:00+00';
SELECT crmpool.claim('customer', g, 7) FROM generate_series(2, 4) g;
SELECT crmpool.claim('customer', g, 8) FROM generate_series(5, 8) g;
SET crmpool.fake_now = '2026-01-03 09:00+00';
SELECT crmpool.claim('customer', 9, 9);
SELECT crmpool.claim('customer', 11, 8);
SELECT crmpool.claim('customer', 12, 9);
-- customer 3 is level A (60 days), 11 is in pool north (10 days), 9 and 12 belong to rep 9
SELECT customer, owner, due_at, rule, days_left FROM crmpool.due('customer');

-- The countdown a rep sees: whole days left, rounded up; 0 once due.
SET crmpool.fake_now = '2026-01-12 21:00+00';
SELECT customer, due_at, days_left FROM crmpool.due('customer') WHERE owner = 8;

-- A follow-up restarts the clock at once: by crmpool.follow_up() (which also moves the mapped
-- column forward) or by the app writing the column.
SELECT crmpool.follow_up('customer', 5, 8, note => 'called, interested');
SELECT last_followup FROM customer WHERE id = 5;
UPDATE customer SET last_followup = '2026-01-10 09:00+00' WHERE id = 6;
SELECT customer, due_at, days_left FROM crmpool.due('customer') WHERE customer IN (5, 6);
-- an older follow-up, recorded late, does not move the clock back
SELECT crmpool.follow_up('customer', 5, 8, at => '2026-01-04 09:00+00');
SELECT last_followup FROM customer WHERE id = 5;
SELECT due_at FROM crmpool.due('customer') WHERE customer = 5;

-- follow_up: bad input and refusals.
SELECT crmpool.follow_up('customer', 5, 7);
SELECT crmpool.follow_up('customer', 10, 7);
SELECT crmpool.follow_up('customer', 99, 7);
SELECT crmpool.follow_up('customer', 5, 8, at => '2026-02-01 09:00+00');
SELECT crmpool.follow_up(NULL, 5, 8);
SELECT crmpool.follow_up('customer', 5, NULL);

-- Deals: a customer with a deal is never recycled (recycle_exempt_deals defaults to true) ...
UPDATE customer SET deal = true WHERE id = 7;
SELECT count(*) FROM crmpool.due('customer') WHERE customer = 7;
-- ... unless exempt_deals is false; then recycle_no_followup still applies to it.
SELECT crmpool.set_rules('customer', '{"recycle_exempt_deals": false}', rep => 8);
SELECT customer, due_at, rule FROM crmpool.due('customer') WHERE customer = 7;
-- recycle_no_deal wins when it comes first; a deal stops it.
SELECT crmpool.set_rules('customer', '{"recycle_no_deal": "5 days"}', rep => 8);
SELECT customer, due_at, rule FROM crmpool.due('customer') WHERE owner = 8 ORDER BY customer;
SELECT crmpool.clear_rules('customer', rep => 8, keys => '{recycle_exempt_deals,recycle_no_deal}');
UPDATE customer SET deal = false WHERE id = 7;

-- A level change moves the due time (customer 4: B -> A).
UPDATE customer SET level = 'A' WHERE id = 4;
SELECT customer, due_at FROM crmpool.due('customer') WHERE customer = 4;
-- So does a pool change (customer 4 into pool north: 10 days, and back).  The trigger has no
-- WHEN clause; it must not skip these columns.
UPDATE customer SET pool = 'north' WHERE id = 4;
SELECT customer, due_at FROM crmpool.due('customer') WHERE customer = 4;
UPDATE customer SET pool = NULL WHERE id = 4;
SELECT customer, due_at FROM crmpool.due('customer') WHERE customer = 4;

-- Locked customers are never recycled: lock drops the due time, unlock restores it.
SELECT crmpool.lock('customer', 2, 7);
SELECT count(*) FROM crmpool.due('customer') WHERE customer = 2;
SELECT crmpool.follow_up('customer', 2, 7);
SELECT count(*) FROM crmpool.due('customer') WHERE customer = 2;
SELECT crmpool.unlock('customer', 2, 7);
SELECT customer, due_at FROM crmpool.due('customer') WHERE customer = 2;
SELECT crmpool.lock('customer', 2, 7);

-- A transfer starts a new spell: a new owner, a new clock.
SELECT crmpool.transfer('customer', 8, 8, 7);
SELECT customer, owner, due_at FROM crmpool.due('customer') WHERE customer = 8;

-- Warnings: a run warns the owners of customers in their warning window, once (not customers
-- already due: customer 11 is recycled instead) ...
SELECT customer, owner, due_at, warn_at FROM crmpool.due('customer') ORDER BY due_at, customer;
SET crmpool.fake_now = '2026-01-21 10:00+00';
SELECT crmpool.recycle_now('customer');
SELECT seq, customer, owner, due_at, rule, warned_at FROM crmpool.recycle_warnings('customer');
-- ... never twice in the same window, even after a recompute that keeps the due time ...
SELECT crmpool.set_rules('customer', '{"warn_before": "4 days"}');
SELECT crmpool.recycle_now('customer');
SELECT count(*) FROM crmpool.recycle_warnings('customer');
-- ... and a follow-up opens a new window, which is warned again when it comes.
SELECT crmpool.follow_up('customer', 12, 9);
SELECT customer, due_at, warn_at FROM crmpool.due('customer') WHERE customer = 12;
SET crmpool.fake_now = '2026-01-30 10:00+00';
SELECT crmpool.recycle_now('customer');
SELECT seq, customer, owner, due_at FROM crmpool.recycle_warnings('customer', after => 2);

-- Recycling: every due customer goes back to its pool; customer 12's new window is warned.
SET crmpool.fake_now = '2026-02-08 10:00+00';
SELECT customer, owner, due_at, rule FROM crmpool.due('customer') WHERE due_at <= '2026-02-08 10:00+00';
SELECT crmpool.recycle_now('customer', batch_size => 2);
SELECT seq, customer, owner, due_at FROM crmpool.recycle_warnings('customer', after => 4);
SELECT id, owner FROM customer ORDER BY id;
-- the spell ends with the rule that ended it, recorded by actor crmpool; counters follow
SELECT how, actor FROM crmpool.ownership_log('customer', 1) ORDER BY seq DESC LIMIT 1;
SELECT owner, how_gained, how_ended FROM crmpool.history('customer', 11);
SELECT * FROM crmpool.rep_load('customer');
SELECT r.rep, r.owned, (SELECT count(*) FROM customer c WHERE c.owner = r.rep) AS actual
FROM crmpool.rep_load('customer') r ORDER BY r.rep;
-- the previous owner's reclaim cooldown applies after a recycle as after a release
SELECT crmpool.set_rules('customer', '{"reclaim_cooldown": "7 days"}');
SELECT crmpool.claim('customer', 1, 7);
SELECT crmpool.claim('customer', 1, 8);
-- nothing is due any more; another run does nothing
SELECT crmpool.recycle_now('customer');

-- The procedure commits each batch; inside a transaction block it runs in that transaction.
SET crmpool.fake_now = '2026-03-10 10:00+00';
SELECT customer, owner, due_at FROM crmpool.due('customer') ORDER BY customer;
BEGIN;
CALL crmpool.recycle('customer', 1);
SELECT count(*) FROM crmpool.due('customer');
ROLLBACK;
CALL crmpool.recycle(batch_size => 1);
SELECT id, owner FROM customer WHERE owner IS NOT NULL ORDER BY id;
SELECT crmpool.recycle_now('customer', 0);
CALL crmpool.recycle('customer', -1);

-- Direct writes keep due times too: an UPDATE of the owner, a DELETE.
SELECT crmpool.unlock('customer', 2, 7);
SELECT crmpool.release('customer', 2, 7);
UPDATE customer SET owner = 9 WHERE id IN (13, 14);
SELECT customer, owner, due_at FROM crmpool.due('customer');
UPDATE customer SET owner = NULL WHERE id = 13;
DELETE FROM customer WHERE id = 14;
SELECT count(*) FROM crmpool.due('customer');

-- A table without a follow-up column keeps crmpool.follow_up() records itself.
CREATE TABLE lead (id integer PRIMARY KEY, rep integer);
INSERT INTO lead SELECT g, NULL FROM generate_series(1, 3) g;
SELECT crmpool.manage('lead', 'rep');
SELECT crmpool.set_rules('lead', '{"levels": {"A": {"recycle_no_deal": "1 day"}}}');
SELECT crmpool.set_rules('lead', '{"recycle_no_followup": "7 days"}');
SELECT crmpool.claim('lead', 1, 3);
SET crmpool.fake_now = '2026-03-12 10:00+00';
SELECT crmpool.follow_up('lead', 1, 3, note => 'sent a quote');
SELECT relation, customer, owner, due_at, rule FROM crmpool.due('lead');
SELECT (SELECT m.rel FROM crmpool.managed_tables m WHERE m.table_id = f.table_id) AS rel,
	customer, rep, at, note FROM crmpool.followup f;
-- set_rules recomputes from the recorded follow-up, not from the claim
SELECT crmpool.set_rules('lead', '{"recycle_no_followup": "14 days"}');
SELECT customer, due_at FROM crmpool.due('lead');

-- Privileges: recycling a table takes its owner; due() and recycle_warnings() take SELECT.
CREATE ROLE regress_recycle_rep;
GRANT USAGE ON SCHEMA public TO regress_recycle_rep;
SET ROLE regress_recycle_rep;
CALL crmpool.recycle('lead');
SELECT crmpool.recycle_now();
SELECT * FROM crmpool.due('lead');
SELECT count(*) FROM crmpool.due();
SELECT * FROM crmpool.recycle_warnings('customer');
RESET ROLE;
GRANT SELECT ON lead TO regress_recycle_rep;
SET ROLE regress_recycle_rep;
SELECT relation, customer FROM crmpool.due();
RESET ROLE;
REVOKE ALL ON lead FROM regress_recycle_rep;
REVOKE USAGE ON SCHEMA public FROM regress_recycle_rep;
DROP ROLE regress_recycle_rep;

-- clear_rules, TRUNCATE and unmanage leave no due time behind.
SELECT crmpool.clear_rules('lead');
SELECT count(*) FROM crmpool.due('lead');
SELECT crmpool.claim('customer', 5, 8);
SELECT count(*) FROM crmpool.due('customer');
TRUNCATE customer;
SELECT count(*) FROM crmpool.due('customer');
SELECT crmpool.unmanage('customer');
SELECT crmpool.unmanage('lead');
SELECT (SELECT count(*) FROM crmpool.recycle_due) AS due,
	(SELECT count(*) FROM crmpool.recycle_warning) AS warnings,
	(SELECT count(*) FROM crmpool.followup) AS followups;

-- Scheduling needs pg_cron in this database; the worker's settings are checked.
SELECT crmpool.schedule();
SELECT crmpool.unschedule();
SELECT crmpool.schedule(NULL);
ALTER SYSTEM SET crmpool.worker_databases = 'crm,,sales';
-- PostgreSQL 16 added units to this message's range: the SQLSTATE is what counts here
\set VERBOSITY sqlstate
ALTER SYSTEM SET crmpool.worker_naptime = -1;
\set VERBOSITY default
SET crmpool.worker_naptime = 5;
SET crmpool.recycle_batch_size = 0;

DROP TABLE customer, lead;
