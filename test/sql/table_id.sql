-- Table ids (docs/design.md, "Tenants and distribution"): crmpool's state tables key a managed
-- table by crmpool.managed_table.table_id, never by its OID; a table managed again gets a new
-- id, so no row of its former life is its own; a dropped table leaves no state row behind.
SET crmpool.fake_now = '2026-02-02 10:00+00';
SET crmpool.timezone = 'UTC';

-- No state table has a column of type regclass or oid: only the configuration tables name a
-- table by OID (rel), and only managed_table maps it to its id.
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod) AS type
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relnamespace = 'crmpool'::regnamespace AND c.relkind = 'r'
  AND a.attnum > 0 AND NOT a.attisdropped
  AND a.atttypid IN ('regclass'::regtype, 'oid'::regtype)
ORDER BY 1, 2;
-- every table with a table_id holds an integer, next after the tenant in the table's key
-- (duplicate_warning is keyed by its own id, distribute_log has no key, tenant_name is the
-- dictionary of one table's tenants)
SELECT c.relname, format_type(a.atttypid, a.atttypmod) AS type,
	(SELECT string_agg(k.attname, ', ' ORDER BY x.n)
	 FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS x(att, n)
	 JOIN pg_attribute k ON k.attrelid = c.oid AND k.attnum = x.att
	 WHERE i.indrelid = c.oid AND (i.indisprimary OR (NOT EXISTS (SELECT FROM pg_index p
		 WHERE p.indrelid = c.oid AND p.indisprimary) AND i.indisunique))) AS key
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'table_id'
WHERE c.relnamespace = 'crmpool'::regnamespace AND c.relkind = 'r'
ORDER BY 1;

-- The number of rows each state table holds for table id :id (\gset below)
CREATE FUNCTION state_rows(id integer) RETURNS TABLE(state_table name, n bigint)
LANGUAGE plpgsql AS $$
DECLARE
	t name;
BEGIN
	FOR t IN SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
			 WHERE c.relnamespace = 'crmpool'::regnamespace AND c.relkind = 'r'
			   AND a.attname = 'table_id' AND c.relname <> 'managed_table' ORDER BY 1 LOOP
		state_table := t;
		EXECUTE format('SELECT count(*) FROM crmpool.%I WHERE table_id = $1', t) INTO n USING id;
		RETURN NEXT;
	END LOOP;
END $$;

-- ---------------------------------------------------------------------------------------------
-- Unmanage, then manage again: a new id, and nothing of the former life
-- ---------------------------------------------------------------------------------------------
CREATE TABLE tid_lead (id bigint PRIMARY KEY, owner bigint, phone text);
INSERT INTO tid_lead VALUES (1, NULL, '13800138001'), (2, NULL, '13800138002');
SELECT crmpool.manage('tid_lead', 'owner');
SELECT table_id AS first_id FROM crmpool.managed_tables WHERE rel = 'tid_lead'::regclass \gset
SELECT crmpool.claim('tid_lead', 1, 7), crmpool.lock('tid_lead', 1, 7);
SELECT owner, how_gained FROM crmpool.history('tid_lead', 1);
SELECT * FROM state_rows(:first_id) WHERE n > 0;
SELECT crmpool.unmanage('tid_lead');
SELECT * FROM state_rows(:first_id) WHERE n > 0;
-- rows of the former life that outlived it (written here by hand, as a restore of an old
-- dump or a hand-made fix could leave them): keyed by the old id, they belong to no table
INSERT INTO crmpool.rep_counter (tenant, table_id, rep, owned) VALUES (0, :first_id, 7, 5);
INSERT INTO crmpool.ownership_event (tenant, table_id, customer, at, owner, how)
VALUES (0, :first_id, 2, '2026-01-01 00:00+00', 7, 'claim');
INSERT INTO crmpool.customer_lock (tenant, table_id, customer, rep, since)
VALUES (0, :first_id, 2, 7, '2026-01-01 00:00+00');
SELECT crmpool.manage('tid_lead', 'owner');
SELECT table_id AS second_id FROM crmpool.managed_tables WHERE rel = 'tid_lead'::regclass \gset
SELECT :second_id > :first_id AS new_id;
-- the new life starts from the table as it is: customer 1 adopted with its owner, customer 2
-- never claimed, and nobody's lock
SELECT owner, how_gained FROM crmpool.history('tid_lead', 1);
SELECT owner, how_gained FROM crmpool.history('tid_lead', 2);
SELECT * FROM crmpool.rep_load('tid_lead');
SELECT * FROM crmpool.check('tid_lead');
-- customer 2 is not locked: rep 8 claims it and rep 8 may release it
SELECT crmpool.claim('tid_lead', 2, 8), crmpool.release('tid_lead', 2, 8);
SELECT * FROM crmpool.rep_load('tid_lead');
-- the old rows are still there, under the old id, reached by nothing
SELECT * FROM state_rows(:first_id) WHERE n > 0;
DELETE FROM crmpool.rep_counter WHERE table_id = :first_id;
DELETE FROM crmpool.ownership_event WHERE table_id = :first_id;
DELETE FROM crmpool.customer_lock WHERE table_id = :first_id;
-- a manage() of a table crmpool manages keeps its id
SELECT crmpool.manage('tid_lead', 'owner');
SELECT table_id = :second_id AS same_id FROM crmpool.managed_tables WHERE rel = 'tid_lead'::regclass;

-- ---------------------------------------------------------------------------------------------
-- DROP TABLE of a managed table: every state row of its id goes
-- ---------------------------------------------------------------------------------------------
CREATE TABLE tid_shop (id bigint PRIMARY KEY, org text NOT NULL, owner bigint, name text,
					   phone text, last_contact timestamptz);
SELECT crmpool.manage('tid_shop', 'owner', followup_column => 'last_contact', tenant_column => 'org');
SELECT crmpool.set_identity('tid_shop', 'name', '{phone}');
SELECT crmpool.set_rules('tid_shop', '{"recycle_no_followup": "30 days", "warn_before": "40 days"}');
SELECT crmpool.set_rep('tid_shop', r) FROM generate_series(1, 2) r;
SELECT table_id AS shop_id FROM crmpool.managed_tables WHERE rel = 'tid_shop'::regclass \gset
INSERT INTO tid_shop VALUES (1, 'acme', NULL, 'Zhongda Trading Co Ltd', '13800138001', NULL);
INSERT INTO tid_shop VALUES (2, 'acme', NULL, NULL, '13800138001', NULL), (3, 'initech', NULL, NULL, NULL, NULL);
SELECT crmpool.claim('tid_shop', 1, 1), crmpool.lock('tid_shop', 1, 1);
SELECT crmpool.claim('tid_shop', 3, 2), crmpool.follow_up('tid_shop', 3, 2, note => 'called');
SELECT crmpool.recycle_now('tid_shop') AS recycled;
SELECT customer, rep, outcome FROM crmpool.distribute('tid_shop', customers => '{2}');
-- every state table holds rows of the table now
SELECT * FROM state_rows(:shop_id);
DROP TABLE tid_shop;
SELECT * FROM state_rows(:shop_id) WHERE n > 0;
SELECT count(*) FROM crmpool.managed_tables WHERE table_id = :shop_id;

DROP TABLE tid_lead;
DROP FUNCTION state_rows(integer);
