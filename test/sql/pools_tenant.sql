-- Pools per tenant (issue 10, a SaaS CRM: yudao's crm_customer_pool_config has tenant_id):
-- create_pool, alter_pool, drop_pool, pools, set_pool_members, set_pool_admins and pool_members
-- take a tenant.  NULL is the configuration of every tenant; a tenant's own row of a pool
-- replaces it (options, members and admins together) for that tenant's customers, as the most
-- specific rule wins.
\set VERBOSITY default
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
SET TimeZone = 'UTC';
CREATE FUNCTION pt_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	det text;
	hint text;
BEGIN
	EXECUTE 'SELECT ' || q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
		hint = PG_EXCEPTION_HINT;
	RETURN st || ': ' || msg || coalesce(' / ' || nullif(det, ''), '') || coalesce(' / ' || nullif(hint, ''), '');
END $$;

-- yudao's crm_customer with its tenant_id; customers 1-12, tenants 1 to 3 (id % 3 + 1)
CREATE TABLE crm_customer (
	id				bigint PRIMARY KEY,
	name			varchar(255) NOT NULL,
	owner_user_id	bigint,
	pool_config		varchar(64),
	tenant_id		bigint NOT NULL
);
INSERT INTO crm_customer (id, name, pool_config, tenant_id)
SELECT g, 'C' || g, CASE WHEN g <= 6 THEN 'east' END, g % 3 + 1 FROM generate_series(1, 12) g;
SELECT crmpool.manage('crm_customer', 'owner_user_id', pool_column => 'pool_config',
					  tenant_column => 'tenant_id');
SELECT crmpool.set_rep('crm_customer', r) FROM generate_series(1, 4) r;

-- every tenant: east is for reps 1 and 2
SELECT crmpool.set_pool_members('crm_customer', 'east', ARRAY[1, 2]);
-- tenant 2 configures its own east: rep 3 only, rep 4 its admin
SELECT crmpool.create_pool('crm_customer', 'east', '{"description": "tenant 2 east"}', tenant => '2');
-- its own row starts with every tenant's members and admins: it never opens the pool to the
-- tenant's other reps before its own members are named
SELECT rep, team, admin, ordinal FROM crmpool.pool_members('crm_customer', 'east', tenant => '2');
SELECT pt_try($$crmpool.claim('crm_customer', 1, 3)$$) AS "rep 3, tenant 2's new east";
SELECT crmpool.set_pool_members('crm_customer', 'east', ARRAY[3], tenant => '2');
SELECT crmpool.set_pool_admins('crm_customer', 'east', ARRAY[4], tenant => '2');
-- tenant 3 configures its own default pool: rep 4 only
SELECT crmpool.create_pool('crm_customer', NULL, tenant => '3');
SELECT crmpool.set_pool_members('crm_customer', NULL, ARRAY[4], tenant => '3');
-- and tenant 2 alone has pool vip
SELECT crmpool.create_pool('crm_customer', 'vip', tenant => '2');

-- every row, with its tenant; and the pools as each tenant's customers see them
SELECT tenant, pool, options, members, admins FROM crmpool.pools('crm_customer');
SELECT tenant, pool, options, members, admins FROM crmpool.pools('crm_customer', '1');
SELECT tenant, pool, options, members, admins FROM crmpool.pools('crm_customer', '2');
SELECT tenant, pool, options, members, admins FROM crmpool.pools('crm_customer', '3');
SELECT rep, team, admin, ordinal FROM crmpool.pool_members('crm_customer', 'east', tenant => '2');
SELECT rep, team, admin, ordinal FROM crmpool.pool_members('crm_customer', 'east');

-- who may claim: east customers 3 (tenant 1), 1 and 4 (tenant 2), 2 (tenant 3)
SELECT pt_try($$crmpool.claim('crm_customer', 3, 3)$$) AS "rep 3, tenant 1's east";
SELECT pt_try($$crmpool.claim('crm_customer', 3, 1)$$) AS "rep 1, tenant 1's east";
SELECT pt_try($$crmpool.claim('crm_customer', 1, 1)$$) AS "rep 1, tenant 2's east";
SELECT pt_try($$crmpool.claim('crm_customer', 1, 3)$$) AS "rep 3, tenant 2's east";
SELECT pt_try($$crmpool.claim('crm_customer', 4, 4)$$) AS "rep 4 (admin), tenant 2's east";
SELECT pt_try($$crmpool.claim('crm_customer', 2, 2)$$) AS "rep 2, tenant 3 (every tenant's east)";
-- the default pool: tenant 3's is rep 4's; tenant 1's stays open
SELECT pt_try($$crmpool.claim('crm_customer', 8, 1)$$) AS "rep 1, tenant 3's default pool";
SELECT pt_try($$crmpool.claim('crm_customer', 8, 4)$$) AS "rep 4, tenant 3's default pool";
SELECT pt_try($$crmpool.claim('crm_customer', 9, 1)$$) AS "rep 1, tenant 1's default pool";
-- distribute and claim_next follow the same configuration
INSERT INTO crm_customer (id, name, pool_config, tenant_id)
SELECT g, 'C' || g, 'east', g % 3 + 1 FROM generate_series(13, 24) g;
SELECT c.tenant_id, d.rep, count(*) FROM crmpool.distribute('crm_customer', 'east', mode => 'round_robin') d
JOIN crm_customer c ON c.id = d.customer GROUP BY 1, 2 ORDER BY 1, 2;
-- (claim_next claims one tenant's customers per call, and stops at a pool it may not claim from)
INSERT INTO crm_customer (id, name, pool_config, tenant_id) VALUES (25, 'C25', 'east', 2), (26, 'C26', 'east', 1);
SELECT crmpool.claim_next('crm_customer', 3, 'east', 2) AS "rep 3 grabs east";
SELECT pt_try($$crmpool.claim_next('crm_customer', 3, 'east')$$) AS "rep 3 grabs again";
SELECT crmpool.claim_next('crm_customer', 1, 'east') AS "rep 1 grabs east";
-- pool vip exists for tenant 2 only
SELECT pt_try($$crmpool.release('crm_customer', 1, 3, to_pool => 'vip')$$) AS "tenant 2 into vip";
SELECT pt_try($$crmpool.release('crm_customer', 3, 1, to_pool => 'vip')$$) AS "tenant 1 into vip";
SELECT * FROM crmpool.move('crm_customer', ARRAY[12, 11, 10], 'vip') ORDER BY customer;
SELECT id, tenant_id, pool_config FROM crm_customer WHERE pool_config = 'vip' ORDER BY id;
-- manage() run again adopts only values no pool names: vip stays tenant 2's
SELECT crmpool.manage('crm_customer', 'owner_user_id', pool_column => 'pool_config',
					  tenant_column => 'tenant_id');
SELECT tenant, pool FROM crmpool.pools('crm_customer') WHERE pool = 'vip';

-- alter_pool: a tenant's own row only
SELECT crmpool.alter_pool('crm_customer', 'east', '{"description": "tenant 2, east China"}', tenant => '2');
SELECT tenant, pool, options FROM crmpool.pools('crm_customer') WHERE pool = 'east';
SELECT pt_try($$crmpool.alter_pool('crm_customer', 'east', '{}', tenant => '1')$$);
SELECT pt_try($$crmpool.set_pool_members('crm_customer', 'east', ARRAY[1], tenant => '1')$$);
SELECT pt_try($$crmpool.set_pool_admins('crm_customer', 'vip', ARRAY[1], tenant => '3')$$);
SELECT pt_try($$crmpool.pool_members('crm_customer', 'vip')$$);

-- bad input: a tenant twice (07 is 7 for an integer column), not an integer, empty, NULL pool
-- of every tenant
SELECT crmpool.create_pool('crm_customer', 'north', tenant => '07');
SELECT tenant, pool FROM crmpool.pools('crm_customer', '7') WHERE pool = 'north';
SELECT pt_try($$crmpool.create_pool('crm_customer', 'north', tenant => '7')$$);
SELECT pt_try($$crmpool.create_pool('crm_customer', 'east', tenant => '2')$$);
SELECT pt_try($$crmpool.create_pool('crm_customer', 'x', tenant => 'acme')$$);
SELECT pt_try($$crmpool.pools('crm_customer', 'acme')$$);
SELECT pt_try($$crmpool.create_pool('crm_customer', 'x', tenant => '')$$);
SELECT pt_try($$crmpool.create_pool('crm_customer', NULL)$$);
SELECT pt_try($$crmpool.drop_pool('crm_customer', NULL)$$);

-- drop_pool of every tenant's east: refused while customers of a tenant without its own east
-- are in it (tenant 2's are not counted: they keep theirs)
SELECT count(*) FILTER (WHERE tenant_id <> 2) AS others, count(*) FILTER (WHERE tenant_id = 2) AS tenant_2
FROM crm_customer WHERE pool_config = 'east';
SELECT pt_try($$crmpool.drop_pool('crm_customer', 'east')$$);
-- tenant 2's own east: dropped with its customers in it, who fall back to every tenant's east
SELECT crmpool.drop_pool('crm_customer', 'east', tenant => '2');
INSERT INTO crm_customer (id, name, pool_config, tenant_id) VALUES (27, 'C27', 'east', 2);
SELECT pt_try($$crmpool.claim('crm_customer', 27, 3)$$) AS "rep 3, tenant 2's east now";
SELECT pt_try($$crmpool.claim('crm_customer', 27, 1)$$) AS "rep 1, tenant 2's east now";
SELECT count(*) FROM crmpool.pool_member WHERE rel = 'crm_customer'::regclass AND tenant = '2';
-- vip (tenant 2 only) holds customers 1 and 10: refused, then dropped once they are moved out
SELECT pt_try($$crmpool.drop_pool('crm_customer', 'vip', tenant => '2')$$);
SELECT * FROM crmpool.move('crm_customer', ARRAY[1, 10], NULL);
SELECT crmpool.drop_pool('crm_customer', 'vip', tenant => '2');
-- tenant 3's default pool: dropped, tenant 3 falls back to every tenant's (open)
SELECT crmpool.drop_pool('crm_customer', NULL, tenant => '3');
SELECT pt_try($$crmpool.claim('crm_customer', 11, 1)$$) AS "rep 1, tenant 3's default pool now";
SELECT pt_try($$crmpool.drop_pool('crm_customer', NULL, tenant => '3')$$);
SELECT tenant, pool FROM crmpool.pools('crm_customer');

-- a table without a tenant column: its pools are every tenant's; a tenant is refused
CREATE TABLE single (id bigint PRIMARY KEY, owner bigint, pool text);
SELECT crmpool.manage('single', 'owner', pool_column => 'pool');
SELECT pt_try($$crmpool.create_pool('single', 'p', tenant => '1')$$);
SELECT pt_try($$crmpool.alter_pool('single', NULL, '{}', tenant => '1')$$);
SELECT pt_try($$crmpool.drop_pool('single', NULL, tenant => '1')$$);
SELECT pt_try($$crmpool.pools('single', '1')$$);
SELECT pt_try($$crmpool.set_pool_members('single', NULL, ARRAY[1], tenant => '1')$$);
SELECT pt_try($$crmpool.set_pool_admins('single', NULL, ARRAY[1], tenant => '1')$$);
SELECT pt_try($$crmpool.pool_members('single', NULL, tenant => '1')$$);
SELECT tenant, pool FROM crmpool.pools('single');

-- text tenants: reading the pools of a tenant the table has never seen keys nothing (it works
-- in a read-only transaction); configuring a pool for it keys it
CREATE TABLE saas (id bigint PRIMARY KEY, owner bigint, pool text, tenant text NOT NULL);
SELECT crmpool.manage('saas', 'owner', pool_column => 'pool', tenant_column => 'tenant');
BEGIN READ ONLY;
SELECT tenant, pool FROM crmpool.pools('saas', 'newco');
SELECT pt_try($$crmpool.pool_members('saas', NULL, tenant => 'newco')$$);
COMMIT;
SELECT count(*) AS tenants_keyed FROM crmpool.tenant_name WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'saas'::regclass);
SELECT crmpool.create_pool('saas', 'p', tenant => 'newco');
SELECT count(*) AS tenants_keyed FROM crmpool.tenant_name WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'saas'::regclass);
SELECT tenant, pool FROM crmpool.pools('saas', 'newco');

SELECT crmpool.unmanage(t) FROM unnest(ARRAY['crm_customer', 'single', 'saas']::regclass[]) t;
DROP TABLE crm_customer, single, saas;
DROP FUNCTION pt_try(text);
