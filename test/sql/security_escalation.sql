-- A table owner who is no superuser must never become one through crmpool (issue 7, section 1).
-- The attacker plants code everywhere a non-superuser can: a cast on his enum, an operator and
-- functions found through his search_path, an immutable function in an index expression and in
-- a partial index predicate (PostgreSQL evaluates those while planning over the table), a
-- domain CHECK, a trigger and a row-level security policy.  Every planted function goes through
-- att.trap(), which logs who ran it and, when that is a superuser, makes the attacker one.
-- crmpool must run none of them as its extension owner (a superuser).
SET crmpool.fake_now = '2026-05-01 09:00:00+00';
CREATE ROLE regress_attacker;
CREATE ROLE regress_reader;
CREATE ROLE regress_writer;
CREATE SCHEMA att AUTHORIZATION regress_attacker;
SET ROLE regress_attacker;
CREATE TABLE att.log (tag text, who name, super boolean);
GRANT INSERT ON att.log TO PUBLIC;
CREATE FUNCTION att.trap(tag text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE super boolean := (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user);
BEGIN
	INSERT INTO att.log VALUES (tag, current_user, super);
	IF super THEN
		EXECUTE 'ALTER ROLE regress_attacker SUPERUSER';
	END IF;
END $$;
-- an immutable wrapper (index expressions and predicates must be immutable)
CREATE FUNCTION att.imm(tag text) RETURNS integer IMMUTABLE LANGUAGE plpgsql AS $$
BEGIN PERFORM att.trap(tag); RETURN 0; END $$;

-- 1. an enum phone column with the attacker's own cast to text
CREATE TYPE att.e AS ENUM ('13800138000', '13900139000', 'east', 'west');
CREATE FUNCTION att.e_text(att.e) RETURNS text LANGUAGE plpgsql AS $$
BEGIN PERFORM att.trap('cast'); RETURN $1::name::text; END $$;
CREATE CAST (att.e AS text) WITH FUNCTION att.e_text(att.e);
-- a domain whose CHECK calls his function
CREATE FUNCTION att.ok(text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM att.trap('domain check'); RETURN true; END $$;
CREATE DOMAIN att.company AS text CHECK (att.ok(VALUE));

CREATE TABLE att.t (id bigint PRIMARY KEY, owner_id bigint, phone att.e, pool att.e,
					name att.company);
INSERT INTO att.t VALUES (1, NULL, '13800138000', 'east', '北京星河科技有限公司');
-- index expression and partial index predicate with constant-folded calls of his function
CREATE INDEX t_expr ON att.t ((id OPERATOR(pg_catalog.+) att.imm('index expression')));
CREATE INDEX t_pred ON att.t (owner_id) WHERE att.imm('index predicate') OPERATOR(pg_catalog.=) 0;
-- a trigger and a row-level security policy
CREATE FUNCTION att.trig() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM att.trap('trigger'); RETURN NEW; END $$;
CREATE TRIGGER t_trig BEFORE INSERT OR UPDATE ON att.t FOR EACH ROW EXECUTE FUNCTION att.trig();
CREATE FUNCTION att.see(bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM att.trap('policy'); RETURN true; END $$;
ALTER TABLE att.t ENABLE ROW LEVEL SECURITY;
CREATE POLICY t_all ON att.t USING (att.see(id)) WITH CHECK (att.see(id));
GRANT SELECT ON att.t TO regress_reader;
GRANT SELECT, INSERT, UPDATE ON att.t TO regress_writer;
GRANT USAGE ON SCHEMA att TO regress_reader, regress_writer;

-- 2. an operator and functions in his schema, first on his search_path
CREATE FUNCTION att.texteq(text, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM att.trap('operator'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR att.= (LEFTARG = text, RIGHTARG = text, FUNCTION = att.texteq);
CREATE FUNCTION att.int8eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM att.trap('operator'); RETURN $1 OPERATOR(pg_catalog.=) $2; END $$;
CREATE OPERATOR att.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = att.int8eq);
SET search_path = att, pg_catalog;

-- the attack, as the table's owner
SELECT crmpool.manage('att.t', 'owner_id', pool_column => 'pool');
SELECT crmpool.set_identity('att.t', 'name', '{phone}');		-- the issue's exploit
SELECT crmpool.set_rules('att.t', '{"dedup_phone": "block", "dedup_name": "warn", "recycle_no_deal": "1 day"}');
SELECT crmpool.set_rules('att.t', '{"private_cap": 5}', pool => 'east');
SELECT crmpool.clear_rules('att.t', pool => 'east', keys => '{private_cap}');
SELECT crmpool.claim('att.t', 1, 7);
SELECT crmpool.lock('att.t', 1, 7);
SELECT crmpool.unlock('att.t', 1, 7);
SELECT crmpool.follow_up('att.t', 1, 7, NULL, 'called');
SELECT count(*) FROM crmpool.history('att.t', 1);
RESET ROLE;
RESET search_path;

-- a SELECT-only role searching for duplicates (the pool column is the enum)
SET ROLE regress_reader;
SET search_path = att, pg_catalog;
SELECT customer, matched_on, owner, pool FROM crmpool.find_duplicates('att.t', phone => '13800138000');
SELECT customer, matched_on, owner, pool FROM crmpool.find_duplicates('att.t', name => '北京星河科技有限公司');
SELECT * FROM crmpool.duplicate_groups('att.t');
RESET ROLE;
RESET search_path;

-- any role inserting a duplicate: the refusal names where the existing customer sits
SET ROLE regress_writer;
SET search_path = att, pg_catalog;
\set VERBOSITY default
INSERT INTO att.t VALUES (2, NULL, '13800138000', 'west', '上海月光贸易有限公司');
INSERT INTO att.t VALUES (3, NULL, '13900139000', 'west', '北京星河科技有限公司');
\set VERBOSITY terse
UPDATE att.t SET owner_id = 8 WHERE id = 3;
RESET ROLE;
RESET search_path;

-- recycling, as the table owner's maintenance run and as the superuser's
SET crmpool.fake_now = '2026-05-03 09:00:00+00';
SET ROLE regress_attacker;
SET search_path = att, pg_catalog;
CALL crmpool.recycle('att.t');
SELECT crmpool.claim('att.t', 3, 9);
RESET ROLE;
RESET search_path;
SET crmpool.fake_now = '2026-05-05 09:00:00+00';
SELECT crmpool.recycle_now('att.t');

-- the same in a fresh session, whose first plan over the table is crmpool's (the index
-- expressions and predicates are evaluated then)
\c -
SET ROLE regress_reader;
SELECT customer, owner, pool FROM crmpool.find_duplicates('att.t', phone => '13800138000');
RESET ROLE;
\c -
SET crmpool.fake_now = '2026-05-05 09:00:00+00';
SET ROLE regress_attacker;
SELECT crmpool.claim('att.t', 1, 7);
-- claim_next compares the pool column through its type's output function, not his cast
SELECT count(*) FROM crmpool.claim_next('att.t', 7, 'nowhere');
SELECT crmpool.set_rules('att.t', '{"recycle_no_deal": "2 days"}');
SELECT crmpool.manage('att.t', 'owner_id', pool_column => 'pool');
SELECT crmpool.set_identity('att.t', 'name', '{phone}');
RESET ROLE;
\c -
SET crmpool.fake_now = '2026-05-09 09:00:00+00';
SELECT crmpool.recycle_now('att.t');

-- nothing the attacker planted ran as a superuser, and he is none
SELECT count(*) AS ran_as_superuser FROM att.log WHERE super;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_attacker';
SELECT tag, who FROM att.log WHERE super GROUP BY 1, 2 ORDER BY 1, 2;
-- the traps are live: these ran, as the roles that wrote or read (the cast never runs at all)
SELECT DISTINCT tag FROM att.log ORDER BY 1;

-- columns crmpool would turn into text must have a built-in output function (42804)
SET ROLE regress_attacker;
CREATE TYPE att.pair AS (a text, b text);
CREATE TYPE att.span AS RANGE (subtype = integer);
CREATE TABLE att.u (id bigint PRIMARY KEY, owner_id bigint, p att.pair, r att.span, ph att.e);
\set VERBOSITY default
SELECT crmpool.manage('att.u', 'owner_id', pool_column => 'p');
SELECT crmpool.manage('att.u', 'owner_id', level_column => 'r');
SELECT crmpool.manage('att.u', 'owner_id', pool_column => 'ph');
SELECT crmpool.set_identity('att.u', NULL, '{p}');
\set VERBOSITY terse
RESET ROLE;

DROP SCHEMA att CASCADE;
DROP ROLE regress_attacker, regress_reader, regress_writer;
