-- Fixes to the tenant scope crmpool.tenant and to tables keyed (tenant, id) (review of issue 9).
\set VERBOSITY default
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
SET TimeZone = 'UTC';
SET crmpool.timezone = 'UTC';
CREATE FUNCTION fix_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	det text;
	hint text;
BEGIN
	EXECUTE q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
		hint = PG_EXCEPTION_HINT;
	RETURN st || ': ' || msg || coalesce(' / ' || nullif(det, ''), '') || coalesce(' / ' || nullif(hint, ''), '');
END $$;

-- 1. an empty text tenant: '' as crmpool.tenant means unset, so no operation could be scoped to
-- it and recycling could not name it; manage() refuses such a row, and so do INSERT and UPDATE
CREATE TABLE ct (id bigint, owner bigint, tenant text, PRIMARY KEY (tenant, id));
INSERT INTO ct VALUES (1, 7, ''), (1, 7, 'x');
SELECT fix_try($$SELECT crmpool.manage('ct', 'owner', tenant_column => 'tenant')$$);
DELETE FROM ct WHERE tenant = '';
SELECT crmpool.manage('ct', 'owner', tenant_column => 'tenant');
SELECT fix_try($$INSERT INTO ct VALUES (2, 7, '')$$);
SELECT fix_try($$INSERT INTO ct VALUES (2, NULL, '')$$);
-- a table keyed by id with a varchar tenant column refuses it too
CREATE TABLE cv (id bigint PRIMARY KEY, owner bigint, tenant varchar(10));
INSERT INTO cv VALUES (1, 7, 'x');
SELECT crmpool.manage('cv', 'owner', tenant_column => 'tenant');
SELECT fix_try($$INSERT INTO cv VALUES (2, 7, '')$$);
SELECT fix_try($$UPDATE cv SET owner = 8, tenant = '' WHERE id = 1$$);
-- recycling still works for every tenant
SELECT crmpool.set_rules('ct', '{"recycle_no_followup": "5 days"}');
SET crmpool.fake_now = '2026-03-08 09:00:00+00';
SELECT crmpool.recycle_now('ct');
SELECT id, owner, tenant FROM ct ORDER BY tenant, id;
RESET crmpool.fake_now;
SET crmpool.fake_now = '2026-03-02 09:00:00+00';

-- 2. a crmpool.tenant (crmpool.intent) a plain SET left from an earlier transaction stays
-- refused when PostgreSQL restores it: at the end of crmpool's own per-tenant scope
-- (recycle_now) and by ROLLBACK TO SAVEPOINT over a SET LOCAL; the value keeps the transaction
-- it was set in
CREATE TABLE cc (id bigint, owner bigint, tenant bigint, PRIMARY KEY (tenant, id));
INSERT INTO cc SELECT g, NULL, t FROM generate_series(1, 3) g, generate_series(1, 2) t;
INSERT INTO cc VALUES (4, 7, 1);
SELECT crmpool.manage('cc', 'owner', tenant_column => 'tenant');
SELECT crmpool.set_rules('cc', '{"recycle_no_followup": "5 days"}');
SET crmpool.tenant = '1';
BEGIN;
SET LOCAL crmpool.fake_now = '2026-03-08 09:00:00+00';
SELECT crmpool.recycle_now('cc');
SELECT fix_try($$SELECT crmpool.claim('cc', 2, 8)$$);
ROLLBACK;
BEGIN;
SAVEPOINT a;
SET LOCAL crmpool.tenant = '2';
ROLLBACK TO a;
SELECT fix_try($$SELECT crmpool.claim('cc', 2, 8)$$);
ROLLBACK;
-- a SET LOCAL of this transaction over it still applies, and its end restores the stale value
BEGIN;
SET LOCAL crmpool.tenant = '2';
SELECT crmpool.claim('cc', 2, 8);
COMMIT;
SELECT fix_try($$SELECT crmpool.claim('cc', 3, 8)$$);
-- a SET of this very transaction, restored by ROLLBACK TO SAVEPOINT, is this transaction's
BEGIN;
SET crmpool.tenant = '2';
SAVEPOINT a;
SET LOCAL crmpool.tenant = '1';
ROLLBACK TO a;
SELECT crmpool.claim('cc', 3, 8);
ROLLBACK;
RESET crmpool.tenant;
SELECT tenant, id, owner FROM cc ORDER BY tenant, id;
-- crmpool.intent, the same way
SET crmpool.intent = 'claim';
BEGIN;
SAVEPOINT a;
SET LOCAL crmpool.intent = 'claim';
ROLLBACK TO a;
SELECT fix_try($$UPDATE cc SET owner = 9 WHERE tenant = 2 AND id = 1$$);
ROLLBACK;
RESET crmpool.intent;

-- 3. pool cleaning on a table keyed (tenant, id) pages by (id, tenant): a page that ends inside
-- an id no longer skips that id's other tenants (3 tenants x ids 1-3, pages of 2: all 9 move)
CREATE TABLE cp (id bigint, owner bigint, tenant bigint, pool text, PRIMARY KEY (tenant, id));
INSERT INTO cp SELECT g, NULL, t, 'west' FROM generate_series(1, 3) g, generate_series(1, 3) t;
SELECT crmpool.manage('cp', 'owner', pool_column => 'pool', tenant_column => 'tenant');
SELECT crmpool.create_pool('cp', p, tenant => t::text) FROM generate_series(1, 3) t, (VALUES ('west'), ('archive')) v(p);
SELECT crmpool.set_rules('cp', '{"pool_expire": "30 days", "pool_expire_to": "archive"}');
SET crmpool.recycle_batch_size = 2;
SET crmpool.fake_now = '2026-04-20 09:00:00+00';
SELECT crmpool.recycle_now('cp');
SELECT tenant, id, pool FROM cp ORDER BY tenant, id;
RESET crmpool.recycle_batch_size;
SET crmpool.fake_now = '2026-03-02 09:00:00+00';

-- 4. the customer readers given a tenant, crmpool.tenant unset, on a table keyed (tenant, id)
-- under row-level security: the row is looked for under the argument's tenant (it was looked
-- for under no tenant, found nowhere, and every reader returned nothing)
CREATE TABLE ch (id bigint, owner bigint, tenant bigint, PRIMARY KEY (tenant, id));
INSERT INTO ch VALUES (1, 7, 1), (1, 8, 2), (2, 9, 2);
SELECT crmpool.manage('ch', 'owner', tenant_column => 'tenant');
CREATE ROLE fix_reader;
GRANT SELECT ON ch TO fix_reader;
ALTER TABLE ch ENABLE ROW LEVEL SECURITY;
CREATE POLICY ch_tenant2 ON ch FOR SELECT USING (tenant = 2);
SET ROLE fix_reader;
SELECT count(*) FROM crmpool.history('ch', 1, tenant => '2');
SELECT owner, how FROM crmpool.ownership_log('ch', 1, tenant => '2');
SELECT crmpool.owner_at('ch', 1, pg_catalog.now(), tenant => '2');
-- tenant 1's customer 1 stays hidden
SELECT owner, how FROM crmpool.ownership_log('ch', 1, tenant => '1');
SELECT crmpool.owner_at('ch', 1, pg_catalog.now(), tenant => '1');
RESET ROLE;
DROP POLICY ch_tenant2 ON ch;
REVOKE ALL ON ch FROM fix_reader;
DROP ROLE fix_reader;

SELECT crmpool.unmanage(t) FROM (VALUES ('ct'::regclass), ('cv'), ('cc'), ('cp'), ('ch')) v(t);
DROP TABLE ct, cv, cc, cp, ch;
DROP FUNCTION fix_try(text);
RESET crmpool.fake_now;
