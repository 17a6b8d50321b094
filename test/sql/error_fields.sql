-- The error fields of crmpool's refusals, as JDBC, psycopg and node-postgres read them without
-- parsing text (docs/reference.md, "Error fields"): schema_name, table_name, column_name,
-- constraint_name (the rule key, or the refusal's name) and datatype_name (the numbers, as JSON);
-- and the CONTEXT of a refusal raised inside crmpool's functions: the caller's, never crmpool's
-- own UPDATE statement.
\set VERBOSITY default
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
SET TimeZone = 'UTC';
SET crmpool.timezone = 'UTC';
-- fields(q): run q; on an error, every field an app reads, one per line
CREATE FUNCTION fields(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	st text; msg text; det text; hint text; ctx text;
	sch text; tab text; col text; con text; typ text;
BEGIN
	EXECUTE q;
	RETURN NEXT 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
		hint = PG_EXCEPTION_HINT, ctx = PG_EXCEPTION_CONTEXT, sch = SCHEMA_NAME, tab = TABLE_NAME,
		col = COLUMN_NAME, con = CONSTRAINT_NAME, typ = PG_DATATYPE_NAME;
	RETURN NEXT 'sqlstate:   ' || st;
	RETURN NEXT 'message:    ' || msg;
	RETURN NEXT 'detail:     ' || coalesce(det, '');
	RETURN NEXT 'hint:       ' || coalesce(hint, '');
	RETURN NEXT 'schema:     ' || coalesce(sch, '');
	RETURN NEXT 'table:      ' || coalesce(tab, '');
	RETURN NEXT 'column:     ' || coalesce(col, '');
	RETURN NEXT 'constraint: ' || coalesce(con, '');
	RETURN NEXT 'datatype:   ' || coalesce(typ, '');
	RETURN NEXT 'context:    ' || coalesce(replace(ctx, E'\n', ' | '), '');
END $$;
-- the facts are one JSON object: apps parse datatype_name
CREATE FUNCTION facts(q text) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
	typ text;
BEGIN
	EXECUTE q;
	RETURN NULL;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS typ = PG_DATATYPE_NAME;
	RETURN typ::jsonb;
END $$;

CREATE SCHEMA crm;
CREATE TABLE crm.customer (
	id			bigint PRIMARY KEY,
	name		text NOT NULL,
	phone		text,
	owner_user_id bigint,
	pool		text
);
INSERT INTO crm.customer (id, name, phone) SELECT g, 'customer ' || g, '1380013800' || g FROM generate_series(1, 9) g;
SELECT crmpool.manage('crm.customer', 'owner_user_id', pool_column => 'pool');
SELECT crmpool.set_rules('crm.customer', '{"private_cap": 2, "lock_cap": 1, "daily_claim_limit": 3, "reclaim_cooldown": "1 day"}');

-- CR002 unknown customer: the key column
SELECT fields($$SELECT crmpool.claim('crm.customer', 99, 7)$$);
SELECT crmpool.claim('crm.customer', 1, 7);
SELECT crmpool.claim('crm.customer', 2, 7);
-- CR006 private cap, raised inside crmpool.claim()'s own UPDATE: the CONTEXT is the caller's
-- statement and PL/pgSQL line only
SELECT fields($$SELECT crmpool.claim('crm.customer', 3, 7)$$);
-- the same refusal from an app's plain UPDATE (a claim by the new owner's role... here checked
-- as an assign by the superuser): the same fields
SELECT fields($$UPDATE crm.customer SET owner_user_id = 7 WHERE id = 3$$);
-- a multi-row UPDATE: count is what the rep had, customer the first customer it would gain
SELECT facts($$UPDATE crm.customer SET owner_user_id = 8 WHERE id IN (3, 4, 5)$$);
-- CR003 already owned; CR004 not the owner (owner names the real owner; absent: in the pool)
SELECT fields($$SELECT crmpool.claim('crm.customer', 1, 8)$$);
SELECT facts($$SELECT crmpool.assign('crm.customer', 1, 7)$$);
SELECT facts($$SELECT crmpool.release('crm.customer', 1, 8)$$);
SELECT facts($$SELECT crmpool.release('crm.customer', 5, 8)$$);
SELECT facts($$SELECT crmpool.transfer('crm.customer', 1, 8, 9)$$);
SELECT facts($$SELECT crmpool.lock('crm.customer', 1, 8)$$);
-- CR005 locked; CR007 lock cap
SELECT crmpool.lock('crm.customer', 1, 7);
SELECT fields($$SELECT crmpool.release('crm.customer', 1, 7)$$);
SELECT fields($$SELECT crmpool.lock('crm.customer', 2, 7)$$);
-- CR008 daily claim limit (3 a day; rep 8 claims 3, releases, claims a fourth)
SELECT crmpool.claim('crm.customer', 3, 8), crmpool.claim('crm.customer', 4, 8);
SELECT crmpool.release('crm.customer', 4, 8);
SELECT crmpool.claim('crm.customer', 5, 8);
SELECT crmpool.release('crm.customer', 5, 8);
SELECT fields($$SELECT crmpool.claim('crm.customer', 6, 8)$$);
-- CR009 reclaim cooldown: until is when the rep may claim again, ISO 8601 in UTC
SET crmpool.fake_now = '2026-03-03 09:00:00+00';
SELECT crmpool.claim('crm.customer', 6, 9);
SELECT crmpool.release('crm.customer', 6, 9);
SELECT fields($$SELECT crmpool.claim('crm.customer', 6, 9)$$);
-- CR010 pool hold-back: customer 6 entered the pool just now
SELECT crmpool.set_rules('crm.customer', '{"pool_holdback": "2 hours"}');
SELECT fields($$SELECT crmpool.claim('crm.customer', 6, 10)$$);
-- CR011 direct write under crmpool.direct_writes = reject
SET crmpool.direct_writes = 'reject';
SELECT fields($$UPDATE crm.customer SET owner_user_id = 10 WHERE id = 8$$);
RESET crmpool.direct_writes;
-- CR020 duplicate (blocked): the phone column, the rule key, and the customer it duplicates
SELECT crmpool.set_identity('crm.customer', phone_columns => '{phone}');
SELECT crmpool.set_rules('crm.customer', '{"dedup_phone": "block"}');
SELECT fields($$INSERT INTO crm.customer (id, name, phone) VALUES (20, 'again', '13800138001')$$);
-- CR001 not managed: the table only
CREATE TABLE crm.other (id bigint PRIMARY KEY, owner bigint);
SELECT fields($$SELECT crmpool.claim('crm.other', 1, 7)$$);
-- bad input keeps PostgreSQL's codes and no crmpool fields
SELECT fields($$SELECT crmpool.transfer('crm.customer', 1, 7, 7)$$);

-- a refusal inside claim_many is an outcome, not an error; the next statement still shows no
-- trace of the UPDATE in a refusal's CONTEXT
SELECT * FROM crmpool.claim_many('crm.customer', '{9, 99}', 11);
-- psql shows the CONTEXT of an error by default: a refusal raised in crmpool.claim()'s UPDATE
-- (the private cap, checked at its end) has none
SELECT crmpool.set_rules('crm.customer', '{"private_cap": 1}', rep => 11);
SELECT crmpool.claim('crm.customer', 5, 11);
-- an error of the user's own trigger inside crmpool's UPDATE is not a refusal: its CONTEXT
-- still shows where it happened
CREATE FUNCTION crm.no_nine() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.owner_user_id = 9 THEN
		RAISE EXCEPTION 'rep 9 is on leave';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER no_nine BEFORE UPDATE ON crm.customer FOR EACH ROW EXECUTE FUNCTION crm.no_nine();
SELECT fields($$SELECT crmpool.claim('crm.customer', 9, 9)$$);
-- the refusals of a yudao-shaped table (crm_customer's names): the soft-delete, lock and deal
-- columns, inactive reps, enforce_owned and crmpool.intent
CREATE TABLE crm.yd (id bigint PRIMARY KEY, owner_user_id bigint, deal_status boolean NOT NULL DEFAULT false,
	lock_status boolean NOT NULL DEFAULT false, deleted boolean NOT NULL DEFAULT false);
INSERT INTO crm.yd (id) SELECT g FROM generate_series(1, 6) g;
SELECT crmpool.manage('crm.yd', 'owner_user_id', deal_column => 'deal_status',
	lock_column => 'lock_status', deleted_column => 'deleted');
-- CR002 soft-deleted: the deleted column
UPDATE crm.yd SET deleted = true WHERE id = 6;
SELECT fields($$SELECT crmpool.claim('crm.yd', 6, 7)$$);
-- CR005 locked by the app's flag: the lock column, rule lock_blocks
SELECT crmpool.claim('crm.yd', 1, 7), crmpool.claim('crm.yd', 2, 7);
UPDATE crm.yd SET lock_status = true WHERE id = 1;
SELECT fields($$SELECT crmpool.release('crm.yd', 1, 7)$$);
-- CR007 lock cap, from the app's flag and from crmpool.lock() (which writes the flag: no
-- UPDATE of crmpool's in the CONTEXT)
SELECT crmpool.set_rules('crm.yd', '{"lock_cap": 1, "claim_with_deal": false}');
SELECT fields($$UPDATE crm.yd SET lock_status = true WHERE id = 2$$);
SELECT fields($$SELECT crmpool.lock('crm.yd', 2, 7)$$);
-- CR015 a customer with a deal: the deal column, rule claim_with_deal
UPDATE crm.yd SET deal_status = true WHERE id = 4;
SELECT fields($$SELECT crmpool.claim('crm.yd', 4, 8)$$);
-- CR014 inactive rep, by claim and inside hand_over's UPDATE
SELECT crmpool.set_rep('crm.yd', 9, active => false);
SELECT fields($$SELECT crmpool.claim('crm.yd', 5, 9)$$);
SELECT fields($$SELECT * FROM crmpool.hand_over('crm.yd', 7, 9)$$);
-- CR003 under enforce_owned: rule enforce_owned
SET crmpool.direct_writes = 'enforce_owned';
SELECT fields($$UPDATE crm.yd SET owner_user_id = 8 WHERE id = 2$$);
RESET crmpool.direct_writes;
-- CR011 a write that does not match crmpool.intent: rule intent
BEGIN;
SET LOCAL crmpool.intent = 'release';
SELECT fields($$UPDATE crm.yd SET owner_user_id = 8 WHERE id = 3$$);
COMMIT;
BEGIN;
SET LOCAL crmpool.intent = 'claim';
SELECT fields($$UPDATE crm.yd SET owner_user_id = NULL WHERE id = 2$$);
COMMIT;
SELECT crmpool.unmanage('crm.yd');
DROP TABLE crm.other;
SELECT crmpool.unmanage('crm.customer');
DROP SCHEMA crm CASCADE;
DROP FUNCTION fields(text);
DROP FUNCTION facts(text);
