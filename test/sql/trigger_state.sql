-- trigger_state: crmpool's functions refuse to run when the table's triggers would not fire
-- (55000), and notice every change of the triggers' state even though they keep it between
-- calls: ALTER TABLE ... DISABLE / ENABLE [REPLICA | ALWAYS] TRIGGER, in the same session and
-- in the same transaction as a claim, and session_replication_role, a setting that no
-- invalidation announces.
\set SHOW_CONTEXT never
SET crmpool.fake_now = '2026-03-02 09:00:00+00';

\set VERBOSITY default

CREATE TABLE ts (id bigint PRIMARY KEY, owner_id bigint);
INSERT INTO ts SELECT g, NULL FROM generate_series(1, 10) g;
SELECT crmpool.manage('ts', 'owner_id');

-- a claim and a release first: their answer about the triggers is the one kept
SELECT crmpool.claim('ts', 1, 7);
SELECT crmpool.release('ts', 1, 7);

-- one trigger disabled after that: refused, for claim and release alike
ALTER TABLE ts DISABLE TRIGGER crmpool_ownership_row;
SELECT crmpool.claim('ts', 2, 7);
SELECT crmpool.release('ts', 2, 7);
ALTER TABLE ts ENABLE TRIGGER crmpool_ownership_row;
SELECT crmpool.claim('ts', 2, 7);

-- disabled in the same transaction as a claim that went through: the next claim is refused
BEGIN;
SELECT crmpool.claim('ts', 3, 7);
ALTER TABLE ts DISABLE TRIGGER crmpool_ownership_stmt;
SELECT crmpool.claim('ts', 4, 7);
ROLLBACK;
SELECT crmpool.claim('ts', 4, 7);

-- session_replication_role = replica after a claim: the default triggers do not fire
SET session_replication_role = replica;
SELECT crmpool.claim('ts', 5, 7);
RESET session_replication_role;
SELECT crmpool.claim('ts', 5, 7);

-- enabled on replica only: refused under origin, accepted under replica; ALWAYS: both
ALTER TABLE ts ENABLE REPLICA TRIGGER crmpool_ownership_update;
SELECT crmpool.claim('ts', 6, 7);
SET session_replication_role = replica;
SELECT crmpool.release('ts', 5, 7);
ALTER TABLE ts ENABLE REPLICA TRIGGER crmpool_ownership_row;
ALTER TABLE ts ENABLE REPLICA TRIGGER crmpool_ownership_truncate;
ALTER TABLE ts ENABLE REPLICA TRIGGER crmpool_ownership_stmt;
SELECT crmpool.release('ts', 5, 7);
RESET session_replication_role;
SELECT crmpool.claim('ts', 6, 7);
ALTER TABLE ts ENABLE ALWAYS TRIGGER crmpool_ownership_row;
ALTER TABLE ts ENABLE ALWAYS TRIGGER crmpool_ownership_update;
ALTER TABLE ts ENABLE ALWAYS TRIGGER crmpool_ownership_truncate;
ALTER TABLE ts ENABLE ALWAYS TRIGGER crmpool_ownership_stmt;
SELECT crmpool.claim('ts', 6, 7);
SET session_replication_role = replica;
SELECT crmpool.release('ts', 6, 7);
RESET session_replication_role;
ALTER TABLE ts ENABLE TRIGGER ALL;

-- the bookkeeping agrees with the table: rep 7 holds 2 and 4, and every change is in the history
SELECT array_agg(id ORDER BY id) FROM ts WHERE owner_id = 7;
SELECT owned FROM crmpool.rep_counter WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'ts'::regclass) AND rep = 7;
SELECT customer, owner, how FROM crmpool.ownership_event WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'ts'::regclass) AND how <> 'adopt' ORDER BY seq;
