-- Tenants (issue 9, section 1): manage(..., tenant_column => ...) keeps every count, cap, daily
-- limit, cooldown, history spell, lock, due time, follow-up and duplicate key per tenant.
\set VERBOSITY default
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
SET TimeZone = 'UTC';
SET crmpool.timezone = 'UTC';
CREATE FUNCTION tenant_try(q text) RETURNS text LANGUAGE plpgsql AS $$
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

-- A table shaped like yudao's crm_customer: id alone is the primary key, tenant_id beside it.
CREATE TABLE crm_customer (
	id					bigint PRIMARY KEY,
	name				varchar(255) NOT NULL,
	mobile				varchar(255),
	owner_user_id		bigint,
	owner_time			timestamp,
	lock_status			boolean NOT NULL DEFAULT false,
	deal_status			boolean NOT NULL DEFAULT false,
	contact_last_time	timestamp,
	deleted				boolean NOT NULL DEFAULT false,
	tenant_id			bigint
);
INSERT INTO crm_customer (id, name, tenant_id)
SELECT g, 'customer ' || g, CASE WHEN g <= 10 THEN 1 ELSE 2 END FROM generate_series(1, 20) g;
-- customers 1-10 are tenant 1's, 11-20 tenant 2's; one of each already owned by rep 7
UPDATE crm_customer SET owner_user_id = 7 WHERE id IN (10, 20);

-- manage(): what a tenant column may be
SELECT tenant_try($$SELECT crmpool.manage('crm_customer', 'owner_user_id', tenant_column => 'no_such')$$);
SELECT tenant_try($$SELECT crmpool.manage('crm_customer', 'owner_user_id', tenant_column => 'owner_time')$$);
SELECT tenant_try($$SELECT crmpool.manage('crm_customer', 'owner_user_id', tenant_column => 'owner_user_id')$$);
SELECT tenant_try($$SELECT crmpool.manage('crm_customer', 'owner_user_id', tenant_column => 'id')$$);
UPDATE crm_customer SET tenant_id = NULL WHERE id = 5;
SELECT tenant_try($$SELECT crmpool.manage('crm_customer', 'owner_user_id', tenant_column => 'tenant_id')$$);
SELECT count(*) AS nothing_kept FROM crmpool.managed_table;
UPDATE crm_customer SET tenant_id = 1 WHERE id = 5;
SELECT crmpool.manage('crm_customer', 'owner_user_id', tenant_column => 'tenant_id');
SELECT rel, tenant_column FROM crmpool.managed_tables;
-- adopted rows and counters are kept under each row's tenant
SELECT tenant, rep, owned FROM crmpool.rep_counter ORDER BY tenant, rep;
SELECT tenant, customer, owner, how FROM crmpool.ownership_event WHERE owner IS NOT NULL ORDER BY tenant, customer;
-- a second manage() keeps the tenant column; another one is refused
SELECT crmpool.manage('crm_customer', 'owner_user_id', tenant_column => 'tenant_id');
SELECT tenant_try($$SELECT crmpool.manage('crm_customer', 'owner_user_id')$$);
SELECT tenant_try($$SELECT crmpool.manage('crm_customer', 'owner_user_id', tenant_column => 'name')$$);

-- caps count only the tenant's customers: rep 7 owns one in each tenant
SELECT crmpool.set_rules('crm_customer', '{"private_cap": 2, "daily_claim_limit": 5}');
SELECT crmpool.claim('crm_customer', 1, 7);
SELECT tenant_try($$SELECT crmpool.claim('crm_customer', 2, 7)$$);
SELECT crmpool.claim('crm_customer', 11, 7);
SELECT tenant_try($$SELECT crmpool.claim('crm_customer', 12, 7)$$);
SELECT * FROM crmpool.rep_load('crm_customer', tenant => '1');
SELECT * FROM crmpool.rep_load('crm_customer', tenant => '2');
SELECT * FROM crmpool.rep_load('crm_customer', tenant => '3');
SELECT tenant_try($$SELECT * FROM crmpool.rep_load('crm_customer')$$);
SELECT tenant, rep, owned, claims FROM crmpool.rep_counter ORDER BY tenant, rep;

-- the daily limit is per tenant
SELECT crmpool.set_rules('crm_customer', '{"private_cap": null, "daily_claim_limit": 2}');
SELECT crmpool.claim('crm_customer', 2, 8);
SELECT crmpool.claim('crm_customer', 3, 8);
SELECT tenant_try($$SELECT crmpool.claim('crm_customer', 4, 8)$$);
SELECT crmpool.claim('crm_customer', 13, 8);
SELECT crmpool.claim('crm_customer', 14, 8);
SELECT tenant_try($$SELECT crmpool.claim('crm_customer', 15, 8)$$);

-- the reclaim cooldown is per customer, and so per tenant
SELECT crmpool.set_rules('crm_customer', '{"daily_claim_limit": null, "reclaim_cooldown": "1 day"}');
SELECT crmpool.release('crm_customer', 2, 8, 'not interested');
SELECT tenant_try($$SELECT crmpool.claim('crm_customer', 2, 8)$$);
SELECT crmpool.claim('crm_customer', 15, 8);

-- locks and the lock cap, per tenant
SELECT crmpool.set_rules('crm_customer', '{"reclaim_cooldown": null, "lock_cap": 1}');
SELECT crmpool.lock('crm_customer', 1, 7);
SELECT tenant_try($$SELECT crmpool.lock('crm_customer', 10, 7)$$);
SELECT crmpool.lock('crm_customer', 11, 7);
SELECT tenant, customer, rep FROM crmpool.customer_lock ORDER BY tenant, customer;
SELECT tenant_try($$SELECT crmpool.release('crm_customer', 11, 7)$$);
SELECT crmpool.unlock('crm_customer', 11, 7);
SELECT tenant, rep, owned, locked FROM crmpool.rep_counter WHERE rep = 7 ORDER BY tenant;

-- plain SQL: an insert counts under its tenant; no tenant, or a new tenant, is refused
INSERT INTO crm_customer (id, name, owner_user_id, tenant_id) VALUES (21, 'new in 2', 8, 2);
SELECT tenant_try($$INSERT INTO crm_customer (id, name, tenant_id) VALUES (22, 'no tenant', NULL)$$);
SELECT tenant_try($$UPDATE crm_customer SET tenant_id = 2 WHERE id = 3$$);
SELECT tenant_try($$UPDATE crm_customer SET tenant_id = 2, owner_user_id = NULL WHERE id = 3$$);
UPDATE crm_customer SET name = 'renamed' WHERE id = 3;
SELECT tenant, rep, owned FROM crmpool.rep_counter WHERE rep = 8 ORDER BY tenant;

-- history readers: the tenant comes from the row, or is given; a gone customer needs it
SELECT owner, how_gained, how_ended FROM crmpool.history('crm_customer', 2);
SELECT owner, how_gained FROM crmpool.history('crm_customer', 2, tenant => '1');
SELECT owner, how_gained FROM crmpool.history('crm_customer', 2, tenant => '2');
SELECT crmpool.owner_at('crm_customer', 11, '2026-03-02 09:00:00+00');
SELECT how, owner, reason FROM crmpool.ownership_log('crm_customer', 2);
DELETE FROM crm_customer WHERE id = 21;
SELECT tenant_try($$SELECT * FROM crmpool.history('crm_customer', 21)$$);
SELECT owner, how_gained, how_ended FROM crmpool.history('crm_customer', 21, tenant => '2');
SELECT tenant_try($$SELECT crmpool.owner_at('crm_customer', 21, '2026-03-02 09:00:00+00')$$);
SELECT crmpool.owner_at('crm_customer', 21, '2026-03-02 09:00:00+00', tenant => '2');
SELECT tenant_try($$SELECT * FROM crmpool.ownership_log('crm_customer', 21)$$);
SELECT count(*) FROM crmpool.ownership_log('crm_customer', 21, tenant => '2');

-- a table without a tenant column refuses a tenant argument
CREATE TABLE tenantless (id int PRIMARY KEY, owner int);
INSERT INTO tenantless VALUES (1, NULL);
SELECT crmpool.manage('tenantless', 'owner');
SELECT tenant_try($$SELECT * FROM crmpool.rep_load('tenantless', tenant => '1')$$);
SELECT tenant_try($$SELECT * FROM crmpool.history('tenantless', 1, tenant => '1')$$);
SELECT crmpool.claim('tenantless', 1, 3);
SELECT tenant = 0 AS no_tenant, rep, owned FROM crmpool.rep_counter WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'tenantless'::regclass);
SELECT owner FROM crmpool.history('tenantless', 1);

-- recycling, per tenant: due rows, warnings and follow-ups carry the tenant
SELECT crmpool.set_rules('crm_customer', '{"lock_cap": null, "recycle_no_followup": "3 days", "warn_before": "1 day"}');
SELECT tenant, customer, owner, rule FROM crmpool.recycle_due ORDER BY tenant, customer;
SELECT crmpool.follow_up('crm_customer', 13, 8, note => 'called');
SELECT tenant, customer, rep, note FROM crmpool.followup ORDER BY tenant, customer;
SET crmpool.fake_now = '2026-03-04 10:00:00+00';
SELECT crmpool.recycle_now('crm_customer');
SELECT tenant, customer, owner FROM crmpool.recycle_warning ORDER BY tenant, customer;
SET crmpool.fake_now = '2026-03-05 10:00:00+00';
SELECT crmpool.recycle_now('crm_customer');
SELECT id, tenant_id, owner_user_id FROM crm_customer WHERE owner_user_id IS NOT NULL ORDER BY id;
SELECT tenant, rep, owned, locked FROM crmpool.rep_counter WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'crm_customer'::regclass) ORDER BY tenant, rep;
SET crmpool.fake_now = '2026-03-09 10:00:00+00';
SELECT crmpool.recycle_now('crm_customer');
SELECT id, tenant_id, owner_user_id FROM crm_customer WHERE owner_user_id IS NOT NULL ORDER BY id;
SELECT crmpool.set_rules('crm_customer', '{"recycle_no_followup": null, "warn_before": null}');
SET crmpool.fake_now = '2026-03-10 09:00:00+00';

-- check() and repair() compare and fix per tenant
SELECT crmpool.claim('crm_customer', 4, 9);
SELECT crmpool.claim('crm_customer', 16, 9);
ALTER TABLE crm_customer DISABLE TRIGGER USER;
UPDATE crm_customer SET owner_user_id = NULL WHERE id = 16;
ALTER TABLE crm_customer ENABLE TRIGGER USER;
SELECT * FROM crmpool.check('crm_customer');
SELECT count(*) FROM crmpool.repair('crm_customer');
SELECT * FROM crmpool.check('crm_customer');
SELECT tenant, rep, owned FROM crmpool.rep_counter WHERE rep = 9 ORDER BY tenant;
SELECT tenant, owner, how FROM crmpool.ownership_event WHERE customer = 16 ORDER BY seq DESC LIMIT 1;

-- duplicates are found only within a tenant (text tenants here)
CREATE TABLE accounts (
	id		bigint PRIMARY KEY,
	name	text,
	phone	text,
	owner	bigint,
	org		varchar(80) NOT NULL
);
INSERT INTO accounts VALUES (1, 'Acme Trading Co', '+1 212 555 0100', NULL, 'acme'),
							(2, 'Globex Ltd', '+1 212 555 0199', NULL, 'globex');
SELECT crmpool.manage('accounts', 'owner', tenant_column => 'org');
SELECT crmpool.set_identity('accounts', name_column => 'name', phone_columns => '{phone}');
SELECT crmpool.set_rules('accounts', '{"dedup_phone": "block", "dedup_name": "block"}');
-- a text tenant is keyed by the table's dictionary (crmpool.tenant_name): its name shown here
SELECT n.name AS tenant, kind, key, customer FROM crmpool.identity_key k
JOIN crmpool.tenant_name n ON n.table_id = k.table_id AND n.tenant = k.tenant ORDER BY n.name, customer;
-- the same phone and name in another tenant is no duplicate
INSERT INTO accounts VALUES (3, 'Acme Trading Co', '+1 212 555 0100', NULL, 'globex');
SELECT tenant_try($$INSERT INTO accounts VALUES (4, 'Other', '+1 212 555 0100', NULL, 'acme')$$);
SELECT tenant_try($$INSERT INTO accounts VALUES (4, 'Acme Trading Company', '+1 212 555 0111', NULL, 'globex')$$);
SELECT tenant_try($$SELECT * FROM crmpool.find_duplicates('accounts', phone => '+1 212 555 0100')$$);
SELECT customer, matched_on FROM crmpool.find_duplicates('accounts', phone => '+1 212 555 0100', tenant => 'acme');
SELECT customer, matched_on FROM crmpool.find_duplicates('accounts', name => 'Acme Trading', tenant => 'globex');
SELECT customer, matched_on FROM crmpool.find_duplicates('accounts', phone => '+1 212 555 0199', tenant => 'acme');
-- under "warn", a duplicate is recorded under its tenant; groups never span tenants
SELECT crmpool.set_rules('accounts', '{"dedup_phone": "warn", "dedup_name": "off"}');
INSERT INTO accounts VALUES (5, 'Acme Again', '+1 212 555 0100', NULL, 'acme');
SELECT n.name AS tenant, customer, existing, matched_on FROM crmpool.duplicate_warning w
JOIN crmpool.tenant_name n ON n.table_id = w.table_id AND n.tenant = w.tenant;
SELECT group_id, customer, matched_on FROM crmpool.duplicate_groups('accounts') ORDER BY group_id, customer;
-- a tenant longer than 63 bytes is refused
SELECT tenant_try($$INSERT INTO accounts VALUES (6, 'Long', NULL, NULL, repeat('t', 70))$$);

-- DDL: the tenant column is followed when renamed, and cannot change type or be dropped
ALTER TABLE crm_customer RENAME COLUMN tenant_id TO tenant;
SELECT tenant_column FROM crmpool.managed_tables WHERE rel = 'crm_customer'::regclass;
SELECT tenant_try($$ALTER TABLE crm_customer ALTER COLUMN tenant TYPE text$$);
SELECT tenant_try($$ALTER TABLE crm_customer DROP COLUMN tenant$$);
SELECT crmpool.claim('crm_customer', 5, 9);
SELECT tenant, rep, owned FROM crmpool.rep_counter WHERE rep = 9 ORDER BY tenant;

-- With the other parts of issue 9: tenant scopes of the rules, set_rep per tenant, the app's
-- own lock, owner-time and soft-delete columns, and hand_over across tenants.
CREATE TABLE leads (
	id			bigint PRIMARY KEY,
	owner_id	bigint,
	org			text NOT NULL,
	locked		smallint NOT NULL DEFAULT 0,
	deleted		boolean NOT NULL DEFAULT false,
	owner_time	timestamp
);
INSERT INTO leads (id, org) SELECT g, CASE WHEN g <= 5 THEN 'a' ELSE 'b' END FROM generate_series(1, 10) g;
SELECT crmpool.manage('leads', 'owner_id', tenant_column => 'org', lock_column => 'locked',
					  owner_since_column => 'owner_time', deleted_column => 'deleted');
SELECT tenant_column, lock_column, owner_since_column, deleted_column FROM crmpool.managed_tables
WHERE rel = 'leads'::regclass;
-- a tenant scope applies to that tenant's customers only: rep 7 is capped in tenant a alone
SELECT crmpool.set_rules('leads', '{"private_cap": 1}', tenant => 'a');
SELECT crmpool.claim('leads', 1, 7);
SELECT tenant_try($$SELECT crmpool.claim('leads', 2, 7)$$);
SELECT crmpool.claim('leads', 6, 7), crmpool.claim('leads', 7, 7);
SELECT id, owner_id, owner_time FROM leads WHERE owner_id IS NOT NULL ORDER BY id;
-- the app's lock flag is a lock under the customer's tenant, checked by that tenant's lock_cap
SELECT crmpool.set_rules('leads', '{"lock_cap": 1}', tenant => 'b');
UPDATE leads SET locked = 1 WHERE id = 6;
SELECT tenant_try($$UPDATE leads SET locked = 1 WHERE id = 7$$);
SELECT crmpool.lock('leads', 1, 7);
SELECT n.name AS tenant, customer, rep FROM crmpool.customer_lock l
JOIN crmpool.tenant_name n ON n.table_id = l.table_id AND n.tenant = l.tenant WHERE l.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'leads'::regclass) ORDER BY 1, 2;
-- a rep set inactive in one tenant gains nothing there, and still can in another
SELECT crmpool.set_rep('leads', 8, active => false, tenant => 'a');
SELECT tenant_try($$SELECT crmpool.claim('leads', 3, 8)$$);
SELECT crmpool.claim('leads', 8, 8);
-- a soft delete frees the count of the customer's tenant
UPDATE leads SET deleted = true WHERE id = 8;
-- hand_over moves the rep's customers of every tenant (locked ones stay), counted per tenant
SELECT crmpool.unlock('leads', 1, 7);
SELECT * FROM crmpool.hand_over('leads', 7, 9) ORDER BY customer;
SELECT 'a' AS tenant, * FROM crmpool.rep_load('leads', 'a')
UNION ALL SELECT 'b', * FROM crmpool.rep_load('leads', 'b') ORDER BY 1, 2;
SELECT how_gained FROM crmpool.history('leads', 7) WITH ORDINALITY h ORDER BY ordinality DESC LIMIT 1;
-- to_rep's cap is checked per tenant: rep 10 owns one of tenant a, whose cap is 1
SELECT crmpool.claim('leads', 2, 10);
SELECT tenant_try($$SELECT * FROM crmpool.hand_over('leads', 9, 10)$$);
-- a rep set for one tenant only is known to hand_over (no 42704), and has nothing to hand over
SELECT count(*) FROM crmpool.hand_over('leads', 8, NULL);
SELECT count(*) AS problems FROM crmpool.check('leads');
SELECT crmpool.unmanage('leads');
DROP TABLE leads;

-- TRUNCATE closes the open spells of every tenant
TRUNCATE accounts;
TRUNCATE crm_customer;
-- (accounts' text tenants by name, crm_customer's integer ones as they are)
SELECT m.rel, coalesce(n.name, e.tenant::text) AS tenant, count(*) FROM crmpool.ownership_event e
JOIN crmpool.managed_tables m USING (table_id)
LEFT JOIN crmpool.tenant_name n ON n.table_id = e.table_id AND n.tenant = e.tenant
WHERE how = 'truncate' GROUP BY 1, 2 ORDER BY m.rel::text, 2;
SELECT tenant, rep, owned FROM crmpool.rep_counter WHERE owned <> 0;
SELECT crmpool.unmanage('crm_customer');
SELECT crmpool.unmanage('accounts');
SELECT crmpool.unmanage('tenantless');
DROP TABLE crm_customer, accounts, tenantless;
DROP FUNCTION tenant_try(text);
