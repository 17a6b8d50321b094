-- manage / unmanage: attaching crmpool to an existing table, and every way it can be refused.
\set VERBOSITY default
CREATE TABLE customers (
	id			int PRIMARY KEY,
	name		text NOT NULL,
	owner_id	int,
	pool		text,
	last_contact timestamptz,
	deal		boolean NOT NULL DEFAULT false
);
INSERT INTO customers (id, name, owner_id, pool)
SELECT g, 'customer ' || g, CASE WHEN g <= 3 THEN 7 WHEN g = 4 THEN 8 END,
	   CASE WHEN g % 2 = 0 THEN 'east' END
FROM generate_series(1, 10) g;
UPDATE customers SET deal = true WHERE id = 2;

-- bad input: nothing is changed by any of these
SELECT crmpool.manage(NULL, 'owner_id');
SELECT crmpool.manage('customers', NULL);
SELECT crmpool.manage('no_such_table', 'owner_id');
SELECT crmpool.manage('customers', 'no_such_column');
SELECT crmpool.manage('customers', 'name');
SELECT crmpool.manage('customers', 'id');
SELECT crmpool.manage('customers', 'owner_id', pool_column => 'owner_id');
SELECT crmpool.manage('customers', 'owner_id', followup_column => 'name');
SELECT crmpool.manage('customers', 'owner_id', deal_column => 'nope');
SELECT crmpool.manage('customers', 'owner_id', pool_column => 'ctid');
CREATE VIEW customers_view AS SELECT * FROM customers;
SELECT crmpool.manage('customers_view', 'owner_id');
CREATE TABLE no_pk (id int, owner_id int);
SELECT crmpool.manage('no_pk', 'owner_id');
CREATE TABLE composite_pk (a int, b int, owner_id int, PRIMARY KEY (a, b));
SELECT crmpool.manage('composite_pk', 'owner_id');
CREATE TABLE text_pk (id text PRIMARY KEY, owner_id int);
SELECT crmpool.manage('text_pk', 'owner_id');
CREATE TABLE parted (id int PRIMARY KEY, owner_id int) PARTITION BY RANGE (id);
SELECT crmpool.manage('parted', 'owner_id');
SELECT count(*) AS managed FROM crmpool.managed_tables;

-- functions on a table that is not managed
SELECT crmpool.claim('customers', 1, 7);
SELECT crmpool.set_rules('customers', '{}');
SELECT * FROM crmpool.history('customers', 1);

-- attach: existing owners are adopted, counters come from the data
SELECT crmpool.manage('customers', 'owner_id', pool_column => 'pool',
					  followup_column => 'last_contact', deal_column => 'deal');
SELECT rel, key_column, owner_column, pool_column, followup_column, deal_column
FROM crmpool.managed_tables;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'customers'::regclass ORDER BY tgname;
SELECT * FROM crmpool.rep_load('customers');
SELECT owner, how FROM crmpool.ownership_log('customers', 1);
SELECT count(*) AS adopted FROM crmpool.ownership_event WHERE how = 'adopt';

-- managing again changes the mapping and recounts; history is kept, not adopted twice
SELECT crmpool.manage('customers', 'owner_id', pool_column => 'pool');
SELECT deal_column IS NULL AS no_deal_column FROM crmpool.managed_tables;
SELECT * FROM crmpool.rep_load('customers');
SELECT count(*) AS adopted FROM crmpool.ownership_event WHERE how = 'adopt';
SELECT crmpool.manage('customers', 'owner_id', pool_column => 'pool', deal_column => 'deal');

-- only the table's owner may attach or detach it
CREATE ROLE crmpool_app;
GRANT SELECT, UPDATE ON customers TO crmpool_app;
SET ROLE crmpool_app;
SELECT crmpool.manage('customers', 'owner_id');
SELECT crmpool.unmanage('customers');
SELECT crmpool.set_rules('customers', '{"private_cap": 1}');
-- but may read what it may select, and use the rules
SELECT * FROM crmpool.rep_load('customers');
SELECT crmpool.claim('customers', 5, 9);
SELECT owner, how_gained, how_ended, actor FROM crmpool.history('customers', 5);
-- and cannot touch crmpool's bookkeeping directly
SELECT count(*) FROM crmpool.ownership_event;
INSERT INTO crmpool.rep_counter (table_id, rep) VALUES (1, 1);
RESET ROLE;

-- a renamed column: the stored mapping follows it (more in ddl.sql)
ALTER TABLE customers RENAME COLUMN pool TO pool_name;
SELECT crmpool.claim('customers', 6, 9);
ALTER TABLE customers RENAME COLUMN pool_name TO pool;
SELECT pool_column FROM crmpool.managed_tables WHERE rel = 'customers'::regclass;

-- detach: triggers, counters, locks and history go; the data stays
SELECT crmpool.unmanage('customers');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'customers'::regclass;
SELECT count(*) FROM crmpool.ownership_event;
SELECT count(*) FROM crmpool.rep_counter;
SELECT count(*) AS owned_rows FROM customers WHERE owner_id IS NOT NULL;
SELECT crmpool.unmanage('customers');
UPDATE customers SET owner_id = 99 WHERE id = 10;  -- plain table again: no rules

-- dropping a managed table forgets it
SELECT crmpool.manage('customers', 'owner_id');
DROP TABLE customers CASCADE;
SELECT count(*) FROM crmpool.managed_table;
SELECT count(*) FROM crmpool.ownership_event;
SELECT count(*) FROM crmpool.rep_counter;

DROP TABLE no_pk, composite_pk, text_pk, parted;
REVOKE ALL ON SCHEMA public FROM crmpool_app;
DROP ROLE crmpool_app;
