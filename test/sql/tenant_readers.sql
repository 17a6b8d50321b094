-- The readers that list customers of every tenant of a table end with each customer's tenant,
-- as the app writes it (issue 9, section 1): due(), recycle_warnings(), duplicate_warnings(),
-- duplicate_groups(), check() and repair().  NULL for a table without a tenant column.
\set VERBOSITY default
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
SET TimeZone = 'UTC';
SET crmpool.timezone = 'UTC';

-- three tables: an integer tenant (yudao's tenant_id), a text one (a slug), and none
CREATE TABLE int_t (id bigint PRIMARY KEY, owner bigint, phone text, tenant_id bigint NOT NULL);
CREATE TABLE text_t (id bigint PRIMARY KEY, owner bigint, phone text, org varchar(40) NOT NULL);
CREATE TABLE none_t (id bigint PRIMARY KEY, owner bigint, phone text);
INSERT INTO int_t SELECT g, NULL, '+1 212 555 01' || lpad(g::text, 2, '0'), CASE WHEN g <= 3 THEN 1001 ELSE 2002 END
FROM generate_series(1, 6) g;
INSERT INTO text_t SELECT g, NULL, '+1 212 555 02' || lpad(g::text, 2, '0'), CASE WHEN g <= 3 THEN 'acme' ELSE 'globex' END
FROM generate_series(1, 6) g;
INSERT INTO none_t SELECT g, NULL, '+1 212 555 03' || lpad(g::text, 2, '0') FROM generate_series(1, 6) g;
SELECT crmpool.manage('int_t', 'owner', tenant_column => 'tenant_id');
SELECT crmpool.manage('text_t', 'owner', tenant_column => 'org');
SELECT crmpool.manage('none_t', 'owner');

-- due() and recycle_warnings(): a customer of each tenant owned, then warned
SELECT crmpool.set_rules(t, '{"recycle_no_followup": "3 days", "warn_before": "1 day"}')
FROM (VALUES ('int_t'::regclass), ('text_t'), ('none_t')) v(t);
SELECT crmpool.claim(t, c, 7) FROM (VALUES ('int_t'::regclass), ('text_t'), ('none_t')) v(t), (VALUES (2), (5)) w(c);
SELECT relation, customer, owner, days_left, tenant FROM crmpool.due('int_t');
SELECT relation, customer, owner, days_left, tenant FROM crmpool.due('text_t');
SELECT relation, customer, owner, days_left, tenant FROM crmpool.due('none_t');
-- due(NULL): every table, each row with its own table's tenant
SELECT relation, customer, tenant FROM crmpool.due()
WHERE relation IN ('int_t'::regclass, 'text_t', 'none_t') ORDER BY relation::text, customer;
SET crmpool.fake_now = '2026-03-04 10:00:00+00';
SELECT crmpool.recycle_now(t) FROM (VALUES ('int_t'::regclass), ('text_t'), ('none_t')) v(t);
SELECT customer, owner, rule, tenant FROM crmpool.recycle_warnings('int_t');
SELECT customer, owner, rule, tenant FROM crmpool.recycle_warnings('text_t');
SELECT customer, owner, rule, tenant FROM crmpool.recycle_warnings('none_t');
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
SELECT crmpool.set_rules(t, '{"recycle_no_followup": null, "warn_before": null}')
FROM (VALUES ('int_t'::regclass), ('text_t'), ('none_t')) v(t);

-- duplicate_warnings() and duplicate_groups(): a phone repeated within each tenant
SELECT crmpool.set_identity(t, phone_columns => '{phone}') FROM (VALUES ('int_t'::regclass), ('text_t'), ('none_t')) v(t);
SELECT crmpool.set_rules(t, '{"dedup_phone": "warn", "dedup_name": "off"}')
FROM (VALUES ('int_t'::regclass), ('text_t'), ('none_t')) v(t);
INSERT INTO int_t VALUES (11, NULL, '+1 212 555 0101', 1001), (14, NULL, '+1 212 555 0104', 2002);
INSERT INTO text_t VALUES (11, NULL, '+1 212 555 0201', 'acme'), (14, NULL, '+1 212 555 0204', 'globex');
INSERT INTO none_t VALUES (11, NULL, '+1 212 555 0301');
SELECT customer, existing, matched_on, tenant FROM crmpool.duplicate_warnings('int_t') ORDER BY customer;
SELECT customer, existing, matched_on, tenant FROM crmpool.duplicate_warnings('text_t') ORDER BY customer;
SELECT customer, existing, matched_on, tenant FROM crmpool.duplicate_warnings('none_t') ORDER BY customer;
SELECT * FROM crmpool.duplicate_groups('int_t');
SELECT * FROM crmpool.duplicate_groups('text_t');
SELECT * FROM crmpool.duplicate_groups('none_t');

-- check() and repair(): a bypassed write in each tenant, and the counters of each tenant's rep
SET session_replication_role = replica;
UPDATE int_t SET owner = 8 WHERE id IN (3, 6);
UPDATE text_t SET owner = 8 WHERE id IN (3, 6);
UPDATE none_t SET owner = 8 WHERE id = 3;
RESET session_replication_role;
SELECT kind, customer, rep, expected, found, tenant FROM crmpool.check('int_t');
SELECT kind, customer, rep, expected, found, tenant FROM crmpool.check('text_t');
SELECT kind, customer, rep, expected, found, tenant FROM crmpool.check('none_t');
SELECT kind, customer, rep, tenant FROM crmpool.repair('text_t');
SELECT count(*) AS in_step FROM crmpool.check('text_t');
-- a disabled trigger is a table-wide row: no tenant
ALTER TABLE int_t DISABLE TRIGGER crmpool_ownership_row;
SELECT kind, customer, rep, tenant FROM crmpool.check('int_t') WHERE kind = 'trigger';
ALTER TABLE int_t ENABLE TRIGGER crmpool_ownership_row;

-- 0.1's definitions (their C symbols, as an installation not yet updated binds them) keep
-- their own columns, without the tenant
CREATE FUNCTION due_01(rel regclass DEFAULT NULL)
RETURNS TABLE(relation regclass, customer bigint, owner bigint, due_at timestamptz, rule text,
			  days_left integer, warn_at timestamptz)
LANGUAGE C CALLED ON NULL INPUT STABLE AS 'crmpool', 'crmpool_due';
CREATE FUNCTION warnings_01(rel regclass, after bigint DEFAULT 0)
RETURNS TABLE(seq bigint, customer bigint, owner bigint, due_at timestamptz, rule text, warned_at timestamptz)
LANGUAGE C CALLED ON NULL INPUT STABLE AS 'crmpool', 'crmpool_recycle_warnings';
CREATE FUNCTION dup_warnings_01(rel regclass)
RETURNS TABLE(id bigint, customer bigint, existing bigint, matched_on text, score real, at timestamptz, actor text)
LANGUAGE C CALLED ON NULL INPUT STABLE AS 'crmpool', 'crmpool_duplicate_warnings';
CREATE FUNCTION groups_01(rel regclass)
RETURNS TABLE(group_id bigint, customer bigint, matched_on text)
LANGUAGE C CALLED ON NULL INPUT STABLE AS 'crmpool', 'crmpool_duplicate_groups';
SELECT crmpool.set_rules('int_t', '{"recycle_no_followup": "3 days"}');
SELECT customer, owner, days_left FROM due_01('int_t');
SELECT customer, owner, rule FROM warnings_01('text_t');
SELECT customer, existing, matched_on FROM dup_warnings_01('int_t') ORDER BY customer;
SELECT * FROM groups_01('text_t');
DROP FUNCTION due_01(regclass), warnings_01(regclass, bigint), dup_warnings_01(regclass), groups_01(regclass);

SELECT crmpool.unmanage(t) FROM (VALUES ('int_t'::regclass), ('text_t'), ('none_t')) v(t);
DROP TABLE int_t, text_t, none_t;
