-- (tenant, id) primary keys and the tenant scope crmpool.tenant (issue 9, section 1): customer
-- ids repeat across tenants; every operation that takes ids works within the tenant
-- crmpool.tenant names, and a table keyed by id alone is isolated by it too.
\set VERBOSITY default
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
SET TimeZone = 'UTC';
SET crmpool.timezone = 'UTC';
CREATE FUNCTION scope_try(q text) RETURNS text LANGUAGE plpgsql AS $$
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

-- yudao's crm_customer as a SaaS keys it: PRIMARY KEY (tenant_id, id), the same ids in two tenants
CREATE TABLE crm_customer (
	id				bigint NOT NULL,
	name			varchar(255) NOT NULL,
	owner_user_id	bigint,
	owner_time		timestamp,
	lock_status		boolean NOT NULL DEFAULT false,
	tenant_id		bigint NOT NULL,
	PRIMARY KEY (tenant_id, id)
);
INSERT INTO crm_customer (id, name, tenant_id)
SELECT g, 'customer ' || t || '-' || g, t FROM generate_series(1, 4) g, (VALUES (1), (2)) v(t);

-- a two-column key is accepted only with its other column as tenant_column
SELECT scope_try($$SELECT crmpool.manage('crm_customer', 'owner_user_id')$$);
CREATE TABLE two_ids (a bigint, b bigint, owner bigint, t bigint, PRIMARY KEY (a, b));
SELECT scope_try($$SELECT crmpool.manage('two_ids', 'owner', tenant_column => 't')$$);
CREATE TABLE three_cols (id bigint, t bigint, x bigint, owner bigint, PRIMARY KEY (t, id, x));
SELECT scope_try($$SELECT crmpool.manage('three_cols', 'owner', tenant_column => 't')$$);
DROP TABLE two_ids, three_cols;
SELECT crmpool.manage('crm_customer', 'owner_user_id', tenant_column => 'tenant_id',
					  lock_column => 'lock_status', owner_since_column => 'owner_time');
SELECT rel, key_column, tenant_column FROM crmpool.managed_tables;
SELECT crmpool.set_rules('crm_customer', '{"private_cap": 3, "recycle_no_followup": "5 days"}');

-- without crmpool.tenant, every operation that takes ids is refused
SELECT scope_try($$SELECT crmpool.claim('crm_customer', 1, 7)$$);
SELECT scope_try($$SELECT crmpool.release('crm_customer', 1, 7)$$);
SELECT scope_try($$SELECT * FROM crmpool.claim_many('crm_customer', '{1,2}', 7)$$);
SELECT scope_try($$SELECT crmpool.lock('crm_customer', 1, 7)$$);
SELECT scope_try($$SELECT crmpool.follow_up('crm_customer', 1, 7)$$);
SELECT scope_try($$SELECT * FROM crmpool.history('crm_customer', 1)$$);
-- a value the tenant column cannot hold, or one left by a plain SET of an earlier transaction
BEGIN;
SET LOCAL crmpool.tenant = 'acme';
SELECT scope_try($$SELECT crmpool.claim('crm_customer', 1, 7)$$);
ROLLBACK;
SET crmpool.tenant = '1';
SELECT scope_try($$SELECT crmpool.claim('crm_customer', 1, 7)$$);
RESET crmpool.tenant;

-- the same id, claimed in each tenant by a different rep: two customers
BEGIN;
SET LOCAL crmpool.tenant = '1';
SELECT crmpool.claim('crm_customer', 1, 7);
SELECT crmpool.claim('crm_customer', 2, 7);
COMMIT;
BEGIN;
SET LOCAL crmpool.tenant = '2';
SELECT crmpool.claim('crm_customer', 1, 8);
-- tenant 2's customer 2 is not tenant 1's: still in the pool
SELECT scope_try($$SELECT crmpool.release('crm_customer', 2, 7)$$);
SELECT * FROM crmpool.claim_many('crm_customer', '{2,3,9}', 8);
COMMIT;
SELECT tenant_id, id, owner_user_id, owner_time IS NOT NULL AS stamped FROM crm_customer ORDER BY 1, 2;
SELECT tenant, rep, owned FROM crmpool.rep_counter ORDER BY tenant, rep;

-- release, assign, transfer, lock and unlock, each within its tenant
BEGIN;
SET LOCAL crmpool.tenant = '2';
SELECT crmpool.release('crm_customer', 1, 8);
SELECT crmpool.assign('crm_customer', 4, 9);
SELECT crmpool.lock('crm_customer', 4, 9);
SELECT scope_try($$SELECT crmpool.transfer('crm_customer', 4, 9, 8)$$);
SELECT crmpool.unlock('crm_customer', 4, 9);
SELECT crmpool.transfer('crm_customer', 4, 9, 8);
COMMIT;
BEGIN;
SET LOCAL crmpool.tenant = '1';
SELECT crmpool.lock('crm_customer', 1, 7);
SELECT scope_try($$SELECT crmpool.release('crm_customer', 1, 7)$$);
COMMIT;
SELECT tenant_id, id, owner_user_id, lock_status FROM crm_customer ORDER BY 1, 2;
SELECT tenant, customer, rep FROM crmpool.customer_lock ORDER BY tenant, customer;

-- history: by crmpool.tenant, or by the tenant argument (which must agree with it)
BEGIN;
SET LOCAL crmpool.tenant = '1';
SELECT owner, how_gained, how_ended FROM crmpool.history('crm_customer', 1);
SELECT owner, how FROM crmpool.ownership_log('crm_customer', 1);
SELECT crmpool.owner_at('crm_customer', 1, '2026-03-02 10:00+00');
SELECT scope_try($$SELECT * FROM crmpool.history('crm_customer', 1, tenant => '2')$$);
SELECT count(*) FROM crmpool.history('crm_customer', 1, tenant => '01');
COMMIT;
SELECT owner, how_gained, how_ended FROM crmpool.history('crm_customer', 1, tenant => '2');
SELECT * FROM crmpool.rep_load('crm_customer', tenant => '2');

-- due() lists each tenant's customer 2 apart, with its tenant (tenant 1's customer 1 is locked)
SELECT customer, owner, tenant FROM crmpool.due('crm_customer') ORDER BY tenant, customer;

-- a plain UPDATE needs no crmpool.tenant: the row carries its tenant
UPDATE crm_customer SET owner_user_id = 5 WHERE tenant_id = 1 AND id = 3;
SELECT tenant, customer, owner, how FROM crmpool.ownership_event WHERE customer = 3 ORDER BY seq;

-- recycling keeps the tenants apart too: tenant 1's customers 2 and 3 are due, not tenant 2's
SET crmpool.fake_now = '2026-03-08 09:00:00+00';
BEGIN;
SET LOCAL crmpool.tenant = '2';
SELECT crmpool.follow_up('crm_customer', 2, 8);
SELECT crmpool.follow_up('crm_customer', 3, 8);
SELECT crmpool.follow_up('crm_customer', 4, 8);
COMMIT;
SELECT crmpool.recycle_now('crm_customer');
SELECT tenant_id, id, owner_user_id FROM crm_customer ORDER BY 1, 2;
SELECT tenant, rep, owned FROM crmpool.rep_counter ORDER BY tenant, rep;
-- check() compares the table with the bookkeeping customer by customer, the same id of two
-- tenants apart; a bypassed write in one tenant is found in that tenant only
SELECT * FROM crmpool.check('crm_customer');
SET session_replication_role = replica;
UPDATE crm_customer SET owner_user_id = 9 WHERE tenant_id = 2 AND id = 1;
RESET session_replication_role;
SELECT * FROM crmpool.check('crm_customer');
SELECT kind, customer, tenant FROM crmpool.repair('crm_customer');
SELECT * FROM crmpool.check('crm_customer');

-- hand_over, claim and claim_next under the scope: that tenant's customers and pool only
BEGIN;
SET LOCAL crmpool.tenant = '1';
SELECT crmpool.claim('crm_customer', 4, 8);
COMMIT;
BEGIN;
SET LOCAL crmpool.tenant = '2';
SELECT * FROM crmpool.hand_over('crm_customer', 8, NULL);
SELECT crmpool.claim('crm_customer', 2, 8);
-- tenant 2's pool is 3 and 4 (tenant 1's, 2 and 3, is not looked at)
SELECT * FROM crmpool.claim_next('crm_customer', 9);
COMMIT;
SELECT tenant_id, id, owner_user_id FROM crm_customer ORDER BY 1, 2;

-- pools on a (tenant, id) table: move, distribute, auto_distribute and pool_expire act in
-- crmpool.tenant's tenant (or, run by crmpool, in each customer's), never on the same id of
-- the other tenant
CREATE TABLE crm_pooled (
	id			bigint NOT NULL,
	owner		bigint,
	pool		text,
	tenant_id	bigint NOT NULL,
	PRIMARY KEY (tenant_id, id)
);
INSERT INTO crm_pooled SELECT g, NULL, 'east', t FROM generate_series(1, 6) g, (VALUES (1), (2)) v(t);
SELECT crmpool.manage('crm_pooled', 'owner', pool_column => 'pool', tenant_column => 'tenant_id');
SELECT crmpool.create_pool('crm_pooled', 'west');
SELECT crmpool.create_pool('crm_pooled', 'archive');
SELECT crmpool.set_pool_members('crm_pooled', 'east', ARRAY[7, 8]);
SELECT scope_try($$SELECT * FROM crmpool.move('crm_pooled', ARRAY[1], 'west')$$);
BEGIN;
SET LOCAL crmpool.tenant = '1';
SELECT * FROM crmpool.move('crm_pooled', ARRAY[1, 2], 'west') ORDER BY customer;
SELECT * FROM crmpool.distribute('crm_pooled', 'east', mode => 'round_robin', customers => ARRAY[3, 4])
ORDER BY customer;
COMMIT;
SELECT tenant_id, id, pool, owner FROM crm_pooled WHERE id <= 4 ORDER BY tenant_id, id;
-- auto_distribute: a customer inserted into east in tenant 2 goes to a member in tenant 2
SELECT crmpool.set_rules('crm_pooled', '{"auto_distribute": "round_robin"}', pool => 'east');
INSERT INTO crm_pooled VALUES (7, NULL, 'east', 2);
SELECT tenant_id, id, owner FROM crm_pooled WHERE id = 7;
SELECT rep, owned FROM crmpool.rep_load('crm_pooled', tenant => '2') ORDER BY rep;
-- pool_expire: west's customers (tenant 1's 1 and 2 only) go to archive after 30 days (run by
-- crmpool, in each customer's tenant)
SELECT crmpool.set_rules('crm_pooled', '{"pool_expire": "30 days", "pool_expire_to": "archive"}', pool => 'west');
SET crmpool.fake_now = '2026-04-10 10:00:00+00';
SELECT crmpool.recycle_now('crm_pooled');
SELECT tenant_id, id, pool FROM crm_pooled WHERE pool IN ('west', 'archive') ORDER BY tenant_id, id;
SET crmpool.fake_now = '2026-03-08 09:00:00+00';
SELECT * FROM crmpool.check('crm_pooled');
SELECT crmpool.unmanage('crm_pooled');
DROP TABLE crm_pooled;

-- isolation on a table keyed by id alone, with a tenant column: crmpool.tenant hides the
-- other tenants' customers as if they did not exist; unset, ids find any tenant's
CREATE TABLE leads (id bigint PRIMARY KEY, owner bigint, org text NOT NULL);
INSERT INTO leads VALUES (1, NULL, 'acme'), (2, NULL, 'acme'), (3, NULL, 'globex'), (4, 7, 'globex');
SELECT crmpool.manage('leads', 'owner', tenant_column => 'org');
BEGIN;
SET LOCAL crmpool.tenant = 'acme';
SELECT scope_try($$SELECT crmpool.claim('leads', 3, 7)$$);
SELECT scope_try($$SELECT crmpool.release('leads', 4, 7)$$);
SELECT scope_try($$SELECT crmpool.assign('leads', 3, 7)$$);
SELECT scope_try($$SELECT crmpool.lock('leads', 4, 7)$$);
SELECT * FROM crmpool.claim_many('leads', '{1,3}', 7);
SELECT count(*) AS other_tenant_history FROM crmpool.history('leads', 4);
SELECT scope_try($$SELECT * FROM crmpool.history('leads', 4, tenant => 'globex')$$);
COMMIT;
SELECT id, owner, org FROM leads ORDER BY id;
SELECT crmpool.claim('leads', 3, 8);
SELECT id, owner, org FROM leads ORDER BY id;

-- a table without a tenant column ignores crmpool.tenant
CREATE TABLE plain (id bigint PRIMARY KEY, owner bigint);
INSERT INTO plain VALUES (1, NULL);
SELECT crmpool.manage('plain', 'owner');
BEGIN;
SET LOCAL crmpool.tenant = 'acme';
SELECT crmpool.claim('plain', 1, 7);
COMMIT;
SELECT * FROM plain;

SELECT crmpool.unmanage(t) FROM (VALUES ('crm_customer'::regclass), ('leads'), ('plain')) v(t);
DROP TABLE crm_customer, leads, plain;
DROP FUNCTION scope_try(text);
