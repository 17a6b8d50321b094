-- crmpool.check() and crmpool.repair() on tables keyed (tenant, id) whose tenant is text or
-- uuid (issue 9 follow-up).  Both merge the table with crmpool's tables customer by customer
-- and, within an id, tenant by tenant; a text tenant's key is the order crmpool first saw it
-- in, not its name's, so both sides go in the name's byte order (src/table/tenants.c, "Tenant
-- order").  Before, both refused such a table (0A000).
\set VERBOSITY default
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
SET TimeZone = 'UTC';
SET crmpool.timezone = 'UTC';
CREATE FUNCTION tct_try(q text) RETURNS text LANGUAGE plpgsql AS $$
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

-- ---------------------------------------------------------------------------------------------
-- A text tenant: ids 1-3 in three tenants, met in the order zeta, Alpha, alpha (keys 1, 2, 3),
-- which is neither their byte order (Alpha, alpha, zeta) nor their order in a linguistic collation
-- ---------------------------------------------------------------------------------------------
CREATE TABLE tct_lead (
	org				text NOT NULL,
	id				bigint NOT NULL,
	owner			bigint,
	phone			text,
	last_contact	timestamptz,
	PRIMARY KEY (org, id)
);
SELECT crmpool.manage('tct_lead', 'owner', followup_column => 'last_contact', tenant_column => 'org');
SELECT crmpool.set_identity('tct_lead', phone_columns => '{phone}');
SELECT crmpool.set_rules('tct_lead', '{"recycle_no_followup": "30 days", "warn_before": "5 days"}');
INSERT INTO tct_lead (org, id, phone)
SELECT o, g, '1380013' || n || '00' || g FROM generate_series(1, 3) g,
	(VALUES ('zeta', 1), ('Alpha', 2), ('alpha', 3)) v(o, n) ORDER BY n, g;
-- (the keys, in the order crmpool gave them)
SELECT name FROM crmpool.tenant_name n JOIN crmpool.managed_tables m USING (table_id)
WHERE m.rel = 'tct_lead'::regclass ORDER BY tenant;
-- each tenant's customer 1 claimed by its own rep, customer 2 of alpha locked
BEGIN;
SET LOCAL crmpool.tenant = 'zeta';
SELECT crmpool.claim('tct_lead', 1, 11);
COMMIT;
BEGIN;
SET LOCAL crmpool.tenant = 'Alpha';
SELECT crmpool.claim('tct_lead', 1, 21);
COMMIT;
BEGIN;
SET LOCAL crmpool.tenant = 'alpha';
SELECT crmpool.claim('tct_lead', 1, 31), crmpool.claim('tct_lead', 2, 31), crmpool.lock('tct_lead', 2, 31);
COMMIT;
-- in step: nothing to report
SELECT * FROM crmpool.check('tct_lead');

-- Writes that bypass crmpool's triggers (as pg_restore --disable-triggers and logical
-- replication apply run), in every tenant, on the same ids: a new owner in one tenant, a
-- release in another, a lock's customer gone, a changed phone, and a tenant crmpool never saw
-- (beta: its key comes last, its name in the middle)
SET session_replication_role = replica;
UPDATE tct_lead SET owner = 12 WHERE org = 'zeta' AND id = 1;
UPDATE tct_lead SET owner = NULL WHERE org = 'Alpha' AND id = 1;
DELETE FROM tct_lead WHERE org = 'alpha' AND id = 2;
UPDATE tct_lead SET phone = '13900139000' WHERE org = 'alpha' AND id = 3;
INSERT INTO tct_lead (org, id, owner, phone) VALUES ('beta', 1, 41, '13700137001'), ('beta', 2, NULL, NULL);
RESET session_replication_role;
-- each disagreement is found under its own tenant, in (customer, tenant) order
SELECT * FROM crmpool.check('tct_lead');
SELECT kind, customer, rep, tenant FROM crmpool.repair('tct_lead');
SELECT * FROM crmpool.check('tct_lead');
-- the repair is in each customer's history, under its tenant only
SELECT t, h.owner, h.how_gained, h.how_ended
FROM (VALUES ('zeta'), ('Alpha'), ('alpha'), ('beta')) v(t), crmpool.history('tct_lead', 1, t) h
ORDER BY t COLLATE "C", h.since;
SELECT owner, how_gained, how_ended FROM crmpool.history('tct_lead', 2, 'alpha');
SELECT n.name AS tenant, c.rep, c.owned, c.locked
FROM crmpool.rep_counter c JOIN crmpool.managed_tables m USING (table_id)
JOIN crmpool.tenant_name n ON n.table_id = c.table_id AND n.tenant = c.tenant
WHERE m.rel = 'tct_lead'::regclass ORDER BY c.tenant, c.rep;
-- and the table works on: beta's rep 41 releases, zeta's rep 12 releases
BEGIN;
SET LOCAL crmpool.tenant = 'beta';
SELECT crmpool.release('tct_lead', 1, 41);
COMMIT;
BEGIN;
SET LOCAL crmpool.tenant = 'zeta';
SELECT crmpool.release('tct_lead', 1, 12);
COMMIT;
SELECT * FROM crmpool.check('tct_lead');

-- ---------------------------------------------------------------------------------------------
-- A uuid tenant, keyed (id, tenant): the uuid's text is its name
-- ---------------------------------------------------------------------------------------------
CREATE TABLE tct_uuid (id int NOT NULL, space uuid NOT NULL, owner int, PRIMARY KEY (id, space));
SELECT crmpool.manage('tct_uuid', 'owner', tenant_column => 'space');
INSERT INTO tct_uuid VALUES (1, 'ffffffff-0000-0000-0000-000000000001', 5),
	(1, '0000aaaa-0000-0000-0000-000000000002', 6), (1, 'abcdef00-0000-0000-0000-000000000003', NULL);
SELECT * FROM crmpool.check('tct_uuid');
SET session_replication_role = replica;
UPDATE tct_uuid SET owner = 7 WHERE space = 'abcdef00-0000-0000-0000-000000000003';
UPDATE tct_uuid SET owner = NULL WHERE space = 'ffffffff-0000-0000-0000-000000000001';
RESET session_replication_role;
SELECT * FROM crmpool.check('tct_uuid');
SELECT kind, customer, rep, tenant FROM crmpool.repair('tct_uuid');
SELECT * FROM crmpool.check('tct_uuid');

-- ---------------------------------------------------------------------------------------------
-- Errors
-- ---------------------------------------------------------------------------------------------
-- a row whose tenant crmpool cannot key, slipped in past its triggers: empty (23514), or longer
-- than crmpool keeps (22001); check() and repair() name it and change nothing
SET session_replication_role = replica;
INSERT INTO tct_lead (org, id) VALUES ('', 5);
RESET session_replication_role;
SELECT tct_try($$SELECT * FROM crmpool.check('tct_lead')$$);
SELECT tct_try($$SELECT * FROM crmpool.repair('tct_lead')$$);
SET session_replication_role = replica;
UPDATE tct_lead SET org = repeat('x', 64) WHERE org = '';
RESET session_replication_role;
SELECT tct_try($$SELECT * FROM crmpool.check('tct_lead')$$);
SET session_replication_role = replica;
DELETE FROM tct_lead WHERE id = 5;
RESET session_replication_role;
SELECT * FROM crmpool.check('tct_lead');
-- the readers of one customer, given a tenant no row has, find nothing
SELECT * FROM crmpool.history('tct_lead', 1, 'nosuch');
SELECT * FROM crmpool.ownership_log('tct_lead', 1, 'nosuch');
SELECT crmpool.owner_at('tct_lead', 1, '2026-03-02 10:00+00', 'nosuch');
SELECT * FROM crmpool.rep_load('tct_lead', 'nosuch');
SELECT * FROM crmpool.find_duplicates('tct_lead', phone => '13700137001', tenant => 'nosuch');
-- no table, a table crmpool does not manage, REPEATABLE READ, a silent trigger, not the owner
SELECT tct_try($$SELECT * FROM crmpool.check(NULL)$$);
SELECT tct_try($$SELECT * FROM crmpool.repair(NULL)$$);
CREATE TABLE tct_plain (org text, id bigint, owner bigint, PRIMARY KEY (org, id));
SELECT tct_try($$SELECT * FROM crmpool.check('tct_plain')$$);
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT tct_try($$SELECT * FROM crmpool.repair('tct_lead')$$);
ROLLBACK;
ALTER TABLE tct_lead DISABLE TRIGGER ALL;
SELECT kind, rep, expected, found, tenant FROM crmpool.check('tct_lead');
SELECT tct_try($$SELECT * FROM crmpool.repair('tct_lead')$$);
ALTER TABLE tct_lead ENABLE TRIGGER ALL;
CREATE ROLE tct_reader;
GRANT SELECT ON tct_lead TO tct_reader;
SET ROLE tct_reader;
SELECT tct_try($$SELECT * FROM crmpool.check('tct_lead')$$);
RESET ROLE;

SELECT crmpool.unmanage('tct_lead');
SELECT crmpool.unmanage('tct_uuid');
DROP TABLE tct_lead, tct_uuid, tct_plain;
DROP ROLE tct_reader;
DROP FUNCTION tct_try(text);
