-- PREPARE TRANSACTION is the end of a transaction for crmpool too: what it queued or cached for
-- the transaction is applied (or refused) before the prepare and gone after it, and the next
-- transaction of the session starts clean.  (test/crmpool.conf: max_prepared_transactions = 4)
SET crmpool.fake_now = '2026-05-01 09:00:00+00';
CREATE TABLE prep (id bigint PRIMARY KEY, owner_id bigint);
INSERT INTO prep SELECT g, NULL FROM generate_series(1, 10) g;
SELECT crmpool.manage('prep', 'owner_id');
SELECT crmpool.set_rules('prep', '{"private_cap": 3}') IS NOT NULL AS set;

-- a claim, prepared; the session goes on writing before and after the prepared one commits
BEGIN;
SELECT crmpool.claim('prep', 1, 7);
UPDATE prep SET owner_id = 7 WHERE id IN (2, 3);		-- a two-row statement, capped at statement end
PREPARE TRANSACTION 'crmpool_p1';
BEGIN;
SELECT crmpool.claim('prep', 4, 8);
COMMIT;
SELECT crmpool.claim('prep', 5, 8);
COMMIT PREPARED 'crmpool_p1';
SELECT crmpool.claim('prep', 6, 7);						-- rep 7 is at the cap: CR006
SELECT rep, owned FROM crmpool.rep_load('prep') ORDER BY rep;
SELECT customer, owner, how FROM crmpool.ownership_event WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'prep'::regclass) AND how <> 'adopt' ORDER BY seq;

-- a prepared transaction that is rolled back leaves nothing behind
BEGIN;
SELECT crmpool.release('prep', 4, 8, 'prepared, then rolled back');
PREPARE TRANSACTION 'crmpool_p2';
ROLLBACK PREPARED 'crmpool_p2';
SELECT crmpool.claim('prep', 7, 8);
SELECT rep, owned FROM crmpool.rep_load('prep') ORDER BY rep;
SELECT count(*) AS disagreements FROM crmpool.check('prep');

-- changes that no statement trigger applied are refused at PREPARE as at COMMIT
ALTER TABLE prep DISABLE TRIGGER crmpool_ownership_stmt;
BEGIN;
UPDATE prep SET owner_id = 9 WHERE id = 8;
PREPARE TRANSACTION 'crmpool_p3';
ALTER TABLE prep ENABLE TRIGGER crmpool_ownership_stmt;
SELECT count(*) AS prepared FROM pg_prepared_xacts WHERE gid LIKE 'crmpool_%';
SELECT owner_id FROM prep WHERE id = 8;
SELECT count(*) AS disagreements FROM crmpool.check('prep');

DROP TABLE prep;
RESET crmpool.fake_now;
