-- Review of check()/repair() on tables keyed (tenant, id) with text or uuid tenants (c566d81,
-- 8627524): the table's rows and crmpool's streams must list one id's tenants in the same order.
-- Here the tenant column has a case-insensitive, nondeterministic ICU collation (its own order
-- differs from byte order), the names mix case, punctuation, spaces and non-ASCII text, every
-- id repeats over 13 tenants met in an order unlike their byte order, and a uuid tenant sits in a
-- key (id, tenant).  check() finds nothing on a table in step, exactly the rows written past the
-- triggers otherwise, and nothing after repair().
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
SET TimeZone = 'UTC';
CREATE COLLATION tco_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE tco_lead (org text COLLATE tco_ci NOT NULL, id bigint NOT NULL, owner bigint, phone text,
	PRIMARY KEY (org, id));
SELECT crmpool.manage('tco_lead', 'owner', tenant_column => 'org');
SELECT crmpool.set_identity('tco_lead', phone_columns => '{phone}');
INSERT INTO tco_lead (org, id, phone)
	SELECT o, i, '1370013' || lpad((i * 100 + n)::text, 4, '0')
	FROM unnest(ARRAY['zeta', 'Alpha', 'b', '_x', 'ä', 'é', 'Z~', 'a b', 'ab', 'AB2', 'Ω', '中文', 'e'])
		WITH ORDINALITY AS u(o, n), generate_series(1, 3) AS i;
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT org, id FROM tco_lead WHERE id <= 2 ORDER BY id DESC, org LOOP
		PERFORM set_config('crmpool.tenant', r.org, true);
		PERFORM crmpool.claim('tco_lead', r.id, r.id + 10);
	END LOOP;
END $$;
SELECT count(*) AS mismatches FROM crmpool.check('tco_lead');
SET session_replication_role = replica;
UPDATE tco_lead SET owner = 99 WHERE org = 'ä' AND id = 3;
UPDATE tco_lead SET owner = NULL WHERE org = 'Z~' AND id = 1;
INSERT INTO tco_lead VALUES ('new1', 2, NULL, NULL), ('ÄÖ', 1, 5, NULL);
RESET session_replication_role;
SELECT kind, customer, rep, tenant FROM crmpool.check('tco_lead') ORDER BY tenant COLLATE "C", kind, customer;
SELECT count(*) AS repaired FROM crmpool.repair('tco_lead');
SELECT count(*) AS mismatches FROM crmpool.check('tco_lead');

CREATE TABLE tco_uuid (org uuid NOT NULL, id bigint NOT NULL, owner bigint, PRIMARY KEY (id, org));
SELECT crmpool.manage('tco_uuid', 'owner', tenant_column => 'org');
INSERT INTO tco_uuid
	SELECT ('0000000' || h || '-0000-0000-0000-00000000000' || h)::uuid, i, NULL
	FROM unnest(ARRAY['a', 'F', '0', '9', 'c']) AS h, generate_series(1, 3) AS i;
DO $$
DECLARE
	r record;
BEGIN
	FOR r IN SELECT org, id FROM tco_uuid ORDER BY org DESC, id LOOP
		PERFORM set_config('crmpool.tenant', r.org::text, true);
		PERFORM crmpool.claim('tco_uuid', r.id, r.id + 10);
	END LOOP;
END $$;
SELECT count(*) AS mismatches FROM crmpool.check('tco_uuid');
SET session_replication_role = replica;
DELETE FROM tco_uuid WHERE id = 2 AND org = '0000000c-0000-0000-0000-00000000000c';
RESET session_replication_role;
SELECT kind, customer, rep, tenant FROM crmpool.check('tco_uuid') ORDER BY kind, customer;
SELECT count(*) AS repaired FROM crmpool.repair('tco_uuid');
SELECT count(*) AS mismatches FROM crmpool.check('tco_uuid');

SELECT crmpool.unmanage('tco_lead');
SELECT crmpool.unmanage('tco_uuid');
DROP TABLE tco_lead, tco_uuid;
DROP COLLATION tco_ci;
