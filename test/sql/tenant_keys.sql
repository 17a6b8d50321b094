-- Tenant keys (docs/design.md, "Tenants and distribution"): crmpool's state tables lead every key
-- with a bigint tenant.  An integer tenant column is its own key, a table without one is 0, and
-- a text, varchar or uuid tenant is keyed by the table's dictionary crmpool.tenant_name (ids
-- from 1, made the first time crmpool sees the name).  What crmpool shows is the app's value.
\set VERBOSITY default
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
SET TimeZone = 'UTC';
CREATE FUNCTION keys_try(q text) RETURNS text LANGUAGE plpgsql AS $$
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

-- the tenant columns of crmpool's state tables are bigint, first in every primary key
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
WHERE i.indisprimary AND c.relnamespace = 'crmpool'::regnamespace
  AND c.relname NOT IN ('managed_table', 'tenant_name', 'identity_config', 'rep_config', 'pool_order')
ORDER BY 1;

-- an integer tenant column (here smallint) is its own key
CREATE TABLE small_t (id int PRIMARY KEY, owner int, org smallint NOT NULL);
INSERT INTO small_t VALUES (1, NULL, 5), (2, NULL, -3), (3, 9, 5);
SELECT crmpool.manage('small_t', 'owner', tenant_column => 'org');
SELECT crmpool.claim('small_t', 1, 9), crmpool.claim('small_t', 2, 9);
SELECT tenant, rep, owned FROM crmpool.rep_counter WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'small_t'::regclass) ORDER BY tenant;
SELECT count(*) FROM crmpool.tenant_name WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'small_t'::regclass);
SELECT * FROM crmpool.rep_load('small_t', tenant => '-3');
-- a tenant argument of an integer tenant column must be an integer
SELECT keys_try($$SELECT * FROM crmpool.rep_load('small_t', tenant => 'acme')$$);
SELECT keys_try($$SELECT crmpool.set_rules('small_t', '{"private_cap": 1}', tenant => '5x')$$);
SELECT crmpool.unmanage('small_t');

-- a varchar tenant: keyed through the dictionary, one id per name, made on first sight
CREATE TABLE shop (id bigint PRIMARY KEY, owner bigint, tenant varchar(100) NOT NULL, name text);
INSERT INTO shop VALUES (1, NULL, 'acme', 'a1'), (2, 7, 'acme', 'a2'), (3, 7, 'globex', 'g1');
SELECT crmpool.manage('shop', 'owner', tenant_column => 'tenant');
SELECT name, tenant > 0 AS keyed FROM crmpool.tenant_name WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'shop'::regclass) ORDER BY name;
-- rep 7's counters per tenant, under the keys the dictionary gave
SELECT n.name, c.rep, c.owned FROM crmpool.rep_counter c
JOIN crmpool.tenant_name n ON n.table_id = c.table_id AND n.tenant = c.tenant
WHERE c.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'shop'::regclass) ORDER BY n.name;
-- readers take and show the app's own tenant value
SELECT * FROM crmpool.rep_load('shop', tenant => 'acme');
SELECT * FROM crmpool.rep_load('shop', tenant => 'globex');
-- a tenant crmpool never saw has nothing (and is not added by reading)
SELECT * FROM crmpool.rep_load('shop', tenant => 'initech');
SELECT count(*) FROM crmpool.tenant_name WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'shop'::regclass) AND name = 'initech';
-- a rule set for a tenant before its first customer keys it then, and applies to its rows
SELECT crmpool.set_rules('shop', '{"private_cap": 1}', tenant => 'initech');
SELECT count(*) FROM crmpool.tenant_name WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'shop'::regclass) AND name = 'initech';
INSERT INTO shop VALUES (10, NULL, 'initech', 'i1'), (11, NULL, 'initech', 'i2');
SELECT crmpool.claim('shop', 10, 8);
SELECT keys_try($$SELECT crmpool.claim('shop', 11, 8)$$);
-- rules() reads the tenant scope by the app's value
SELECT crmpool.rules('shop', tenant => 'initech') ->> 'private_cap' AS initech_cap,
	   crmpool.rules('shop', tenant => 'acme') ->> 'private_cap' AS acme_cap;
-- a rep set inactive in one text tenant only
SELECT crmpool.set_rep('shop', 8, active => false, tenant => 'acme');
SELECT tenant, rep, active FROM crmpool.reps('shop');
INSERT INTO shop VALUES (12, NULL, 'acme', 'a3');
SELECT keys_try($$SELECT crmpool.claim('shop', 12, 8)$$);
-- a new tenant whose first row is rolled back leaves no key behind, in the dictionary or the
-- session's cache: the next first row makes the key again
BEGIN;
INSERT INTO shop VALUES (20, 7, 'umbrella', 'u1');
SELECT count(*) FROM crmpool.tenant_name WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'shop'::regclass) AND name = 'umbrella';
ROLLBACK;
SELECT count(*) FROM crmpool.tenant_name WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'shop'::regclass) AND name = 'umbrella';
INSERT INTO shop VALUES (20, 7, 'umbrella', 'u1');
SELECT n.name, c.rep, c.owned FROM crmpool.rep_counter c
JOIN crmpool.tenant_name n ON n.table_id = c.table_id AND n.tenant = c.tenant
WHERE c.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'shop'::regclass) AND n.name = 'umbrella';
SELECT owner, how_gained FROM crmpool.history('shop', 20);
DELETE FROM shop WHERE id = 20;
SELECT owner, how_gained, how_ended FROM crmpool.history('shop', 20, tenant => 'umbrella');
-- a customer's tenant cannot change; the message names the app's values
SELECT keys_try($$UPDATE shop SET tenant = 'globex' WHERE id = 1$$);
-- a too long text tenant is refused
SELECT keys_try($$INSERT INTO shop VALUES (30, NULL, repeat('x', 40) || repeat('y', 30), 'long')$$);
SELECT crmpool.check('shop');
-- unmanage() takes the table's dictionary with it
SELECT crmpool.unmanage('shop');
SELECT count(*) FROM crmpool.tenant_name WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'shop'::regclass);

-- a uuid tenant
CREATE TABLE ushop (id int PRIMARY KEY, owner int, tenant uuid NOT NULL);
INSERT INTO ushop VALUES (1, NULL, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
						 (2, NULL, 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12');
SELECT crmpool.manage('ushop', 'owner', tenant_column => 'tenant');
SELECT crmpool.claim('ushop', 1, 3), crmpool.claim('ushop', 2, 3);
SELECT count(DISTINCT tenant) AS tenants, sum(owned) AS owned FROM crmpool.rep_counter
WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'ushop'::regclass);
SELECT * FROM crmpool.rep_load('ushop', tenant => 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
SELECT crmpool.unmanage('ushop');
