-- crmpool's statements qualify every operator and function: a hostile search_path cannot
-- inject code into them (they run partly as the extension owner).
SET crmpool.fake_now = '2026-05-01 09:00:00+00';
CREATE TABLE accounts (id bigint PRIMARY KEY, owner_id bigint);
INSERT INTO accounts SELECT g, NULL FROM generate_series(1, 5) g;
SELECT crmpool.manage('accounts', 'owner_id');
SELECT crmpool.set_rules('accounts', '{"private_cap": 3, "reclaim_cooldown": "1 day", "pool_holdback": "0"}');

CREATE SCHEMA evil;
CREATE TABLE evil.calls (op text);
CREATE FUNCTION evil.int8eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO evil.calls VALUES ('='); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE FUNCTION evil.int4pl(integer, integer) RETURNS integer LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO evil.calls VALUES ('+'); RETURN $1 OPERATOR(pg_catalog.+) $2; END $$;
CREATE FUNCTION evil.regclasseq(regclass, regclass) RETURNS boolean LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO evil.calls VALUES ('regclass ='); RETURN $1::oid OPERATOR(pg_catalog.=) $2::oid; END $$;
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8eq);
CREATE OPERATOR evil.+ (LEFTARG = integer, RIGHTARG = integer, FUNCTION = evil.int4pl);
CREATE OPERATOR evil.= (LEFTARG = regclass, RIGHTARG = regclass, FUNCTION = evil.regclasseq);
CREATE FUNCTION evil.max(bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT 0::bigint $$;

SET search_path = evil, pg_catalog, public;
SELECT crmpool.claim('accounts', 1, 7);
SELECT crmpool.release('accounts', 1, 7);
SELECT crmpool.claim('accounts', 2, 7);
SELECT crmpool.lock('accounts', 2, 7);
SELECT crmpool.unlock('accounts', 2, 7);
SELECT crmpool.transfer('accounts', 2, 7, 8);
SELECT * FROM crmpool.claim_many('accounts', '{3,4}', 9);
SELECT count(*) FROM crmpool.history('accounts', 1);
SELECT crmpool.owner_at('accounts', 2, '2100-01-01') AS owner_of_2;
SELECT count(*) FROM crmpool.rep_load('accounts');
SELECT crmpool.set_rules('accounts', '{"lock_cap": 2}') ->> 'lock_cap' AS lock_cap;
SELECT crmpool.manage('accounts', 'owner_id');
SELECT crmpool.claim('accounts', 1, 7);			-- cooldown still found through the ledger
RESET search_path;
SELECT count(*) AS hijacked_calls FROM evil.calls;

DROP SCHEMA evil CASCADE;
DROP TABLE accounts;
RESET crmpool.fake_now;

-- The secure default (issue 7, section 6).  assign and transfer are not executable by PUBLIC;
-- a plain write that sets an owner is an assign only for a role that may call crmpool.assign(),
-- and for any other role a claim by the new owner (every claim-only limit), an owner-to-owner
-- change being refused; moving an owned customer to another pool is checked against the caps
-- of the new pool.
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_may_call
FROM pg_proc p WHERE p.pronamespace = 'crmpool'::regnamespace
  AND p.proname IN ('assign', 'transfer', 'claim', 'release') ORDER BY 1;
SET crmpool.fake_now = '2026-05-01 09:00:00+00';
CREATE TABLE leads (id bigint PRIMARY KEY, owner_id bigint, pool text);
INSERT INTO leads SELECT g, NULL, CASE WHEN g <= 10 THEN 'big' ELSE 'small' END FROM generate_series(1, 20) g;
SELECT crmpool.manage('leads', 'owner_id', pool_column => 'pool');
SELECT crmpool.set_rules('leads', '{"daily_claim_limit": 2, "reclaim_cooldown": "1 day", "pool_holdback": "1 hour"}');
SELECT crmpool.set_rules('leads', '{"private_cap": 100}', pool => 'big');
SELECT crmpool.set_rules('leads', '{"private_cap": 3}', pool => 'small');
-- the recommended grants (README): reps may claim and release, and write their own columns;
-- only the admin role may assign and transfer
CREATE ROLE regress_rep;
CREATE ROLE regress_admin;
GRANT SELECT, INSERT, UPDATE (owner_id, pool) ON leads TO regress_rep, regress_admin;
GRANT EXECUTE ON FUNCTION crmpool.assign(regclass, bigint, bigint),
	crmpool.transfer(regclass, bigint, bigint, bigint) TO regress_admin;
SET ROLE regress_rep;
SELECT crmpool.assign('leads', 1, 7);
SELECT crmpool.transfer('leads', 1, 7, 8);
UPDATE leads SET owner_id = 7 WHERE id = 1;			-- a claim by rep 7
UPDATE leads SET owner_id = 7 WHERE id = 2;
UPDATE leads SET owner_id = 7 WHERE id = 3;			-- the daily limit holds (CR008)
UPDATE leads SET owner_id = 8 WHERE id = 1;			-- owner to owner: refused (CR011)
UPDATE leads SET owner_id = NULL WHERE id = 1;		-- a release
UPDATE leads SET owner_id = 9 WHERE id = 1;			-- the hold-back holds (CR010)
INSERT INTO leads VALUES (21, 9, 'big');			-- a claim by rep 9: counted today
RESET ROLE;
SET crmpool.fake_now = '2026-05-01 11:00:00+00';
SET ROLE regress_rep;
UPDATE leads SET owner_id = 7 WHERE id = 1;			-- the cooldown holds (CR009)
RESET ROLE;
SELECT rep, owned, claims_today FROM crmpool.rep_load('leads') ORDER BY rep;
SELECT how, actor FROM crmpool.ownership_log('leads', 21);
-- the admin role: a plain write is an assign (no daily limit), owner to owner included
SET ROLE regress_admin;
UPDATE leads SET owner_id = 7 WHERE id IN (4, 5, 6);
UPDATE leads SET owner_id = 8 WHERE id = 4;
SELECT crmpool.transfer('leads', 4, 8, 7);
RESET ROLE;
SELECT rep, owned, claims_today FROM crmpool.rep_load('leads') ORDER BY rep;
-- rep 7 owns 4 customers, all in "big" (cap 100): moving one to "small" (cap 3) is refused,
-- by any role; rep 9's one customer may move
SET ROLE regress_admin;
UPDATE leads SET pool = 'small' WHERE id = 5;
UPDATE leads SET pool = 'small' WHERE id = 21;
RESET ROLE;
SELECT id, owner_id, pool FROM leads WHERE id IN (5, 21) ORDER BY id;
DROP TABLE leads;
DROP OWNED BY regress_rep, regress_admin;
DROP ROLE regress_rep, regress_admin;
RESET crmpool.fake_now;
