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
