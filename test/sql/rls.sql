-- Readers respect row-level security on the managed table (issue 7, section 5): a role whose
-- policy hides a customer learns nothing of it from crmpool's readers or refusals.
SET crmpool.fake_now = '2026-05-01 09:00:00+00';
CREATE TABLE accounts (id bigint PRIMARY KEY, owner_id bigint, region text, phone text,
					   name text, last_contact timestamptz);
INSERT INTO accounts VALUES
	(1, NULL, 'north', '13800000001', '北京星河科技有限公司', NULL),
	(2, NULL, 'north', '13800000002', '上海星河科技有限公司', NULL),
	(3, NULL, 'south', '13800000003', '北京星河科技有限公司', NULL),
	(4, NULL, 'south', '13800000004', '广州月光贸易有限公司', NULL);
SELECT crmpool.manage('accounts', 'owner_id', pool_column => 'region', followup_column => 'last_contact');
SELECT crmpool.set_identity('accounts', 'name', '{phone}');
SELECT crmpool.set_rules('accounts', '{"dedup_phone": "block", "dedup_name": "warn", "recycle_no_followup": "3 days", "warn_before": "1 day"}');
SELECT crmpool.claim('accounts', 1, 7);
SELECT crmpool.claim('accounts', 3, 8);
SELECT crmpool.claim('accounts', 4, 8);
INSERT INTO accounts VALUES (5, NULL, 'south', '13800000005', '北京星河科技有限公司', NULL);

ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY north_only ON accounts FOR SELECT USING (region = 'north');
CREATE POLICY insert_any ON accounts FOR INSERT WITH CHECK (true);
CREATE ROLE regress_north;
GRANT SELECT, INSERT ON accounts TO regress_north;

-- what the superuser (no policy applies) sees
SELECT customer, matched_on, owner, pool FROM crmpool.find_duplicates('accounts', name => '北京星河科技有限公司');
SELECT * FROM crmpool.duplicate_groups('accounts');
SELECT customer, existing, matched_on FROM crmpool.duplicate_warnings('accounts');
SELECT rep, owned FROM crmpool.rep_load('accounts');
SET crmpool.fake_now = '2026-05-04 10:00:00+00';
SELECT customer, owner FROM crmpool.due('accounts');

-- what the northern role sees: nothing of customers 3, 4 and 5, nor of rep 8
SET ROLE regress_north;
SELECT id FROM accounts ORDER BY id;
SELECT customer, matched_on, owner, pool FROM crmpool.find_duplicates('accounts', name => '北京星河科技有限公司');
SELECT customer FROM crmpool.find_duplicates('accounts', phone => '13800000003');
SELECT * FROM crmpool.duplicate_groups('accounts');
SELECT customer, existing, matched_on FROM crmpool.duplicate_warnings('accounts');
SELECT rep, owned FROM crmpool.rep_load('accounts');
SELECT count(*) AS spells FROM crmpool.history('accounts', 3);
SELECT count(*) AS events FROM crmpool.ownership_log('accounts', 3);
SELECT crmpool.owner_at('accounts', 3, '2100-01-01') AS owner_of_3;
SELECT crmpool.owner_at('accounts', 1, '2100-01-01') AS owner_of_1;
SELECT customer, owner FROM crmpool.due('accounts');
SELECT customer, owner FROM crmpool.due();
-- a duplicate of a hidden customer is still refused, without saying which customer it is,
-- where it sits, or (by name) the hidden customer's name; a visible one is named
\set VERBOSITY default
INSERT INTO accounts VALUES (6, NULL, 'north', '13800000003', '深圳海风物流有限公司', NULL);
INSERT INTO accounts VALUES (7, NULL, 'north', '13800000001', '深圳海风物流有限公司', NULL);
-- dedup_name "warn": the notice of a hidden customer's name says only that one is like it
INSERT INTO accounts VALUES (8, NULL, 'north', '13800000008', '广州月光贸易', NULL);
\set VERBOSITY terse
RESET ROLE;

DROP TABLE accounts;
DROP ROLE regress_north;
RESET crmpool.fake_now;
