-- Plain SQL goes through the same rules: UPDATE as assign/release, INSERT counts, DELETE and
-- TRUNCATE close spells; crmpool.direct_writes = enforce | reject | allow.
\set VERBOSITY default
SET crmpool.fake_now = '2026-04-01 10:00:00+00';
CREATE TABLE leads (id int PRIMARY KEY, company text, rep int, deal boolean NOT NULL DEFAULT false);
INSERT INTO leads SELECT g, 'company ' || g, NULL FROM generate_series(1, 12) g;
SELECT crmpool.manage('leads', 'rep', deal_column => 'deal');
SELECT crmpool.set_rules('leads', '{"private_cap": 2, "lock_cap": 1}');
SHOW crmpool.direct_writes;

-- enforce (default): an UPDATE is an assign, a NULL owner a release
UPDATE leads SET rep = 5 WHERE id = 1;
UPDATE leads SET rep = 5 WHERE id IN (2, 3);		-- the cap holds for set-based writes too
SELECT id, rep FROM leads WHERE rep IS NOT NULL ORDER BY id;
UPDATE leads SET rep = 5 WHERE id = 2;
SELECT crmpool.lock('leads', 2, 5);
UPDATE leads SET rep = NULL WHERE id = 2;			-- locked
UPDATE leads SET rep = 6 WHERE id = 2;				-- locked
UPDATE leads SET rep = NULL WHERE id = 1;
UPDATE leads SET company = 'renamed' WHERE id = 2;	-- not an ownership change: no rules
UPDATE leads SET id = 200 WHERE id = 2;				-- keys of managed customers do not change
-- INSERT with an owner counts against the cap; without one it enters the pool
INSERT INTO leads VALUES (13, 'new', 6), (14, 'new', 6);
INSERT INTO leads VALUES (15, 'new', 6);
INSERT INTO leads VALUES (16, 'new', NULL);
SELECT * FROM crmpool.rep_load('leads');
-- DELETE closes the spell and frees the counts and the lock
DELETE FROM leads WHERE id = 2;
SELECT * FROM crmpool.rep_load('leads');
SELECT owner, how FROM crmpool.ownership_log('leads', 2);
SELECT count(*) AS locks FROM crmpool.customer_lock;

-- reject: only crmpool functions change ownership
SET crmpool.direct_writes = 'reject';
UPDATE leads SET rep = 7 WHERE id = 3;
INSERT INTO leads VALUES (17, 'new', 7);
INSERT INTO leads VALUES (17, 'new', NULL);			-- the pool is fine
UPDATE leads SET deal = true WHERE id = 13;			-- not an ownership change
DELETE FROM leads WHERE id = 17;
SELECT crmpool.claim('leads', 3, 7);

-- allow: recorded, not checked (superuser only)
SET crmpool.direct_writes = 'allow';
UPDATE leads SET rep = 7 WHERE id IN (4, 5, 6);		-- over the cap, but recorded
SELECT * FROM crmpool.rep_load('leads') WHERE rep = 7;
SELECT owner, how FROM crmpool.ownership_log('leads', 4);
RESET crmpool.direct_writes;
SET crmpool.direct_writes = 'sometimes';

-- only superusers may weaken enforcement or move the clock
CREATE ROLE crmpool_rep;
SET ROLE crmpool_rep;
SET crmpool.direct_writes = 'allow';
SET crmpool.fake_now = '2030-01-01 00:00+00';
SET crmpool.timezone = 'Pacific/Kiritimati';
SET crmpool.actor = 'rep via app';					-- a harmless label: allowed
RESET ROLE;
DROP ROLE crmpool_rep;
SET crmpool.fake_now = 'next tuesday';
SET crmpool.fake_now = 'now';
SET crmpool.no_such_setting = 1;

-- TRUNCATE closes every open spell and zeroes the counts
TRUNCATE leads;
SELECT * FROM crmpool.rep_load('leads');
SELECT owner, how FROM crmpool.ownership_log('leads', 13);
SELECT count(*) AS open_owned_spells
FROM (SELECT DISTINCT ON (customer) owner FROM crmpool.ownership_event ORDER BY customer, seq DESC) e
WHERE owner IS NOT NULL;
-- the table keeps working after a TRUNCATE
INSERT INTO leads VALUES (1, 'back', NULL);
SELECT crmpool.claim('leads', 1, 5);
SELECT owner, how FROM crmpool.ownership_log('leads', 1);

-- under REPEATABLE READ a claim sees the truth: a stale snapshot cannot double-assign
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT rep FROM leads WHERE id = 1;
SELECT crmpool.claim('leads', 1, 6);
ROLLBACK;

-- the counts never drift: with only crmpool's statement trigger disabled, the commit is refused
ALTER TABLE leads DISABLE TRIGGER crmpool_ownership_stmt;
INSERT INTO leads VALUES (50, 'sneaky', 9);
ALTER TABLE leads ENABLE TRIGGER crmpool_ownership_stmt;
SELECT count(*) AS sneaked_in FROM leads WHERE id = 50;

DROP TABLE leads;
RESET crmpool.fake_now;
