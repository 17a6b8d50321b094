-- Tables crmpool refuses: temporary, unlogged, partitions (and a managed table made one of
-- these later); a regclass naming no relation at all.
\set VERBOSITY default
-- The SQLSTATE a statement raises ('ok' when it succeeds); messages are shown separately.
CREATE FUNCTION sqlstate_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	RETURN SQLSTATE;
END;
$$;
-- The same with the message and hint, OIDs masked.
CREATE FUNCTION error_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	hint text;
BEGIN
	EXECUTE stmt;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
	RETURN regexp_replace(SQLSTATE || ': ' || SQLERRM || ' / ' || hint, 'OID [0-9]+', 'OID N');
END;
$$;

-- temporary: refused (its end of session fires no sql_drop)
CREATE TEMP TABLE tmp_customer (id int PRIMARY KEY, owner_id int);
SELECT crmpool.manage('tmp_customer', 'owner_id');
SELECT sqlstate_of($$SELECT crmpool.manage('tmp_customer', 'owner_id')$$);

-- unlogged: refused (crash recovery empties it without a trigger)
CREATE UNLOGGED TABLE unlogged_customer (id int PRIMARY KEY, owner_id int);
SELECT crmpool.manage('unlogged_customer', 'owner_id');
SELECT sqlstate_of($$SELECT crmpool.manage('unlogged_customer', 'owner_id')$$);
-- ... and made logged, accepted
ALTER TABLE unlogged_customer SET LOGGED;
SELECT crmpool.manage('unlogged_customer', 'owner_id');

-- a managed table cannot be made unlogged; nothing changed
INSERT INTO unlogged_customer VALUES (1, 7);
ALTER TABLE unlogged_customer SET UNLOGGED;
SELECT sqlstate_of($$ALTER TABLE unlogged_customer SET UNLOGGED$$);
SELECT relpersistence FROM pg_class WHERE oid = 'unlogged_customer'::regclass;
-- once detached, it may
SELECT crmpool.unmanage('unlogged_customer');
ALTER TABLE unlogged_customer SET UNLOGGED;

-- partitions: the partitioned table is not a table, a leaf partition is refused by name
CREATE TABLE parted (id int PRIMARY KEY, owner_id int) PARTITION BY RANGE (id);
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (1) TO (100);
SELECT crmpool.manage('parted', 'owner_id');
SELECT crmpool.manage('parted_1', 'owner_id');
SELECT sqlstate_of($$SELECT crmpool.manage('parted_1', 'owner_id')$$);
-- a detached partition is a plain table again
ALTER TABLE parted DETACH PARTITION parted_1;
SELECT crmpool.manage('parted_1', 'owner_id');
-- and, managed, it cannot be attached again; it stays a plain managed table
INSERT INTO parted_1 VALUES (5, 7), (6, NULL);
ALTER TABLE parted ATTACH PARTITION parted_1 FOR VALUES FROM (1) TO (100);
SELECT sqlstate_of($$ALTER TABLE parted ATTACH PARTITION parted_1 FOR VALUES FROM (1) TO (100)$$);
SELECT relispartition FROM pg_class WHERE oid = 'parted_1'::regclass;
SELECT crmpool.claim('parted_1', 6, 8);
SELECT rep, owned FROM crmpool.rep_load('parted_1') ORDER BY rep;
-- detached from crmpool first, it may
SELECT crmpool.unmanage('parted_1');
ALTER TABLE parted ATTACH PARTITION parted_1 FOR VALUES FROM (1) TO (100);

-- A regclass naming no relation (a dropped table's OID): 42P01 at every entry point, never
-- XX000 or a "not managed" that names no table.
CREATE TABLE gone (id int PRIMARY KEY, owner_id int, name text);
SELECT 'gone'::regclass::oid AS gone_oid \gset
DROP TABLE gone;
SELECT error_of(format('SELECT crmpool.manage(%s, ''owner_id'')', :gone_oid));
SELECT f, sqlstate_of(pg_catalog.format(f, :gone_oid)) AS sqlstate
FROM unnest(ARRAY[
	'SELECT crmpool.manage(%s, ''owner_id'')',
	'SELECT crmpool.unmanage(%s)',
	'SELECT crmpool.set_identity(%s, ''name'')',
	'SELECT crmpool.set_rules(%s, ''{}'')',
	'SELECT crmpool.clear_rules(%s)',
	'SELECT crmpool.rules(%s)',
	'SELECT crmpool.claim(%s, 1, 7)',
	'SELECT crmpool.claim_many(%s, ''{1}'', 7)',
	'SELECT crmpool.release(%s, 1, 7)',
	'SELECT crmpool.assign(%s, 1, 7)',
	'SELECT crmpool.transfer(%s, 1, 7, 8)',
	'SELECT crmpool.lock(%s, 1, 7)',
	'SELECT crmpool.unlock(%s, 1, 7)',
	'SELECT crmpool.history(%s, 1)',
	'SELECT crmpool.owner_at(%s, 1, now())',
	'SELECT crmpool.ownership_log(%s, 1)',
	'SELECT crmpool.rep_load(%s)',
	'SELECT crmpool.follow_up(%s, 1, 7)',
	'SELECT crmpool.due(%s)',
	'SELECT crmpool.recycle_warnings(%s)',
	'SELECT crmpool.recycle_now(%s)',
	'CALL crmpool.recycle(%s)',
	'SELECT crmpool.find_duplicates(%s, ''x'')',
	'SELECT crmpool.duplicate_groups(%s)',
	'SELECT crmpool.duplicate_warnings(%s)'
]) AS f ORDER BY 1;

-- A 0.1 temporary table gone with its session left its row behind: a run over every table
-- by an ordinary role skips it (0.1: 42P01 for every caller but superusers).
CREATE ROLE kinds_owner;
GRANT CREATE ON SCHEMA public TO kinds_owner;
INSERT INTO crmpool.managed_table (rel, key_column, owner_column, managed_at)
VALUES (:gone_oid, 'id', 'owner_id', now());
SET ROLE kinds_owner;
CREATE TABLE kinds_customer (id int PRIMARY KEY, owner_id int);
SELECT crmpool.manage('kinds_customer', 'owner_id');
CALL crmpool.recycle();
SELECT crmpool.recycle_now();
RESET ROLE;
-- unmanage() says there is no such table (the 0.1 -> 0.2 upgrade removes such rows)
SELECT error_of(format('SELECT crmpool.unmanage(%s)', :gone_oid));
DELETE FROM crmpool.managed_table WHERE rel = :gone_oid;
DROP TABLE kinds_customer;
DROP OWNED BY kinds_owner;
DROP ROLE kinds_owner;
DROP TABLE parted, unlogged_customer;

-- Domains over the accepted types are read as their base types: an int4 domain as owner, an
-- int8 domain as key, a date domain as follow-up, a text domain as name.
CREATE DOMAIN rep_id AS integer CHECK (VALUE > 0);
CREATE DOMAIN customer_id AS bigint;
CREATE DOMAIN contact_day AS date;
CREATE DOMAIN company AS text;
CREATE TABLE domain_customer (id customer_id PRIMARY KEY, owner_id rep_id, last_contact contact_day, name company);
INSERT INTO domain_customer VALUES (1, NULL, NULL, '北京星河科技有限公司'), (2, 5, NULL, NULL), (5000000000, NULL, NULL, NULL);
SELECT crmpool.manage('domain_customer', 'owner_id', followup_column => 'last_contact');
SELECT crmpool.set_identity('domain_customer', 'name');
SELECT crmpool.claim('domain_customer', 5000000000, 7);
SELECT crmpool.claim('domain_customer', 1, 7);
SELECT rep, owned FROM crmpool.rep_load('domain_customer') ORDER BY rep;
SELECT customer, matched_on FROM crmpool.find_duplicates('domain_customer', name => '星河科技（北京）有限公司');
SELECT count(*) AS disagreements FROM crmpool.check('domain_customer');
DROP TABLE domain_customer;
DROP DOMAIN rep_id, customer_id, contact_day, company;
DROP FUNCTION sqlstate_of(text), error_of(text);
SELECT count(*) AS managed FROM crmpool.managed_tables;
