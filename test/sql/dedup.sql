-- Duplicate detection (查重) on every write path: set_identity, block / warn / off,
-- find_duplicates, duplicate_groups, duplicate_warnings.
SET crmpool.fake_now = '2026-06-01 10:00:00+00';
SET client_encoding = 'UTF8';
CREATE TABLE accounts (
	id		bigint PRIMARY KEY,
	company	text,
	phone	text,
	mobile	text,
	email	varchar(200),
	owner_id bigint,
	pool	text
);
INSERT INTO accounts VALUES
	(1, '北京某某科技有限公司', '+86 138-0013-8000', NULL, 'Sales@MouMou.cn', 7, NULL),
	(2, '上海澈鸣餐饮管理有限公司', '021-6666 8888', '13900001111', NULL, NULL, 'east'),
	(3, 'Dravenport Marine Inc.', '+1 212 555 1234', NULL, 'ops@dravenport.com', 8, NULL),
	(4, '某某（北京）科技有限公司', '010-8888 6666 转 123', NULL, NULL, NULL, NULL),
	(5, '广东东岚智行教育科技有限公司', NULL, NULL, 'info@donglan.cn', 9, NULL),
	(6, '重庆市百川汇智能科技有限责任公司', NULL, NULL, NULL, NULL, 'east');
SELECT crmpool.manage('accounts', 'owner_id', pool_column => 'pool');

-- bad input
SELECT crmpool.set_identity('accounts', 'nope');
SELECT crmpool.set_identity('accounts', 'owner_id');
SELECT crmpool.set_identity('accounts', phone_columns => '{phone,nope}');
SELECT crmpool.set_identity('accounts', phone_columns => '{phone,NULL}');
SELECT crmpool.set_identity('accounts', email_columns => '{owner_id}');
SELECT crmpool.set_identity(NULL);
CREATE TABLE plain (id int PRIMARY KEY, name text);
SELECT crmpool.set_identity('plain', 'name');
SELECT * FROM crmpool.find_duplicates('accounts', name => 'x');
DROP TABLE plain;

-- name the identity columns: the rows already there are indexed, not refused
SELECT crmpool.set_identity('accounts', 'company', '{phone,mobile}', '{email}');
SELECT rel, name_column, phone_columns, email_columns FROM crmpool.identity_config;
SELECT kind, key, customer FROM crmpool.identity_key ORDER BY customer, kind, key;
SELECT customer, core FROM crmpool.identity_name ORDER BY customer;
-- the adopted duplicates show up as a group
SELECT * FROM crmpool.duplicate_groups('accounts');

-- find_duplicates: the 查重 screen, best first, with where each match sits
SELECT * FROM crmpool.find_duplicates('accounts', name => '北京某某科技有限公司');
SELECT * FROM crmpool.find_duplicates('accounts', phone => '0086 13800138000');
SELECT * FROM crmpool.find_duplicates('accounts', email => '  sales@moumou.CN ');
SELECT * FROM crmpool.find_duplicates('accounts', name => '某某科技', phone => '(86)138 0013 8000');
SELECT * FROM crmpool.find_duplicates('accounts', name => '上海澈光餐饮管理有限公司');			-- one character: another company
SELECT * FROM crmpool.find_duplicates('accounts', name => '重庆市百川荷智能科技有限责任公司');	-- 汇 / 荷 (hui / he): another company
SELECT * FROM crmpool.find_duplicates('accounts', name => '重庆市百川荷智能科技有限责任公司', min_score => 0.3);	-- widened for a human
SELECT * FROM crmpool.find_duplicates('accounts', name => '广东东岚智行教育科技有限公司长沙分公司');	-- a branch office
SELECT * FROM crmpool.find_duplicates('accounts', name => 'Dravenport Marine Incorporated');
SELECT * FROM crmpool.find_duplicates('accounts');
SELECT * FROM crmpool.find_duplicates('accounts', name => '有限公司', phone => 'call me', email => 'no-at-sign');
SELECT * FROM crmpool.find_duplicates('accounts', name => 'x', min_score => 1.5);

-- default policy is warn: the row goes in, with a NOTICE and a warning row
INSERT INTO accounts (id, company, phone) VALUES (10, '某某(北京)科技有限公司', '13800138000');
SELECT customer, existing, matched_on, score, actor FROM crmpool.duplicate_warnings('accounts');

-- block: refused inside the inserting transaction, naming the existing customer and where it sits
SELECT crmpool.set_rules('accounts', '{"dedup_phone": "block", "dedup_email": "block", "dedup_name": "block"}');
INSERT INTO accounts (id, company, phone) VALUES (11, '杭州新锐智能科技有限公司', '+86 21 6666 8888');
INSERT INTO accounts (id, company, email) VALUES (12, 'Northwind Trading Ltd.', 'OPS@dravenport.com');
INSERT INTO accounts (id, company) VALUES (13, '某某(北京)科技有限公司');
INSERT INTO accounts (id, company, mobile) VALUES (14, '武汉博源电子有限公司', '139 0000 1111');
SELECT count(*) AS refused_rows_absent FROM accounts WHERE id BETWEEN 11 AND 14;
-- a different company of the same trade is fine, and so is a different branch office
INSERT INTO accounts (id, company, phone) VALUES (15, '上海澈光餐饮管理有限公司', '021-6666 9999');
INSERT INTO accounts (id, company) VALUES (16, '广东东岚智行教育科技有限公司长沙分公司');
-- updates are checked too; an update that changes no identity value is not
UPDATE accounts SET phone = '13800138000' WHERE id = 15;
UPDATE accounts SET owner_id = 7 WHERE id = 15;
UPDATE accounts SET company = company WHERE id = 15;
-- deleting a customer frees its keys
DELETE FROM accounts WHERE id = 3;
INSERT INTO accounts (id, company, email) VALUES (17, 'Dravenport Marine Incorporated', 'ops@dravenport.com');
-- off: nothing is refused or warned, but the keys are kept for the search
SELECT crmpool.set_rules('accounts', '{"dedup_email": "off"}');
INSERT INTO accounts (id, company, email) VALUES (18, 'Oakmont Foods LLC', 'ops@dravenport.com');
SELECT customer, matched_on FROM crmpool.find_duplicates('accounts', email => 'ops@dravenport.com');
-- policies cascade like every rule: a pool may be stricter than the table
SELECT crmpool.set_rules('accounts', '{"dedup_email": "block"}', pool => 'east');
INSERT INTO accounts (id, company, email, pool) VALUES (19, 'Silverline Media Co., Ltd.', 'ops@dravenport.com', 'east');
SELECT crmpool.rules('accounts', 'east') ->> 'dedup_email' AS east, crmpool.rules('accounts') ->> 'dedup_email' AS whole_table;

-- rule validation
SELECT crmpool.set_rules('accounts', '{"dedup_phone": "maybe"}');
SELECT crmpool.set_rules('accounts', '{"dedup_phone": true}');
SELECT crmpool.set_rules('accounts', '{"name_threshold": 1.2}');
SELECT crmpool.set_rules('accounts', '{"name_threshold": "high"}');
SELECT crmpool.set_rules('accounts', '{"name_threshold": 0.9}') ->> 'name_threshold' AS threshold;

-- bad input never crashes and never matches on an empty core
INSERT INTO accounts (id, company, phone, email) VALUES
	(30, '', '', ''),
	(31, '   ', 'no digits here', '@'),
	(32, '😀😀😀 🚀', '📞', 'a@b@c'),
	(33, 'Ltd.', NULL, NULL),
	(34, repeat('北京', 500000), repeat('1', 1000000), NULL);
SELECT count(*) AS bad_rows_in FROM accounts WHERE id BETWEEN 30 AND 34;
SELECT count(*) AS keys_from_bad_rows FROM crmpool.identity_key WHERE customer BETWEEN 30 AND 34;
SELECT count(*) AS names_from_bad_rows FROM crmpool.identity_name WHERE customer BETWEEN 30 AND 34;
SELECT * FROM crmpool.find_duplicates('accounts', name => '', phone => '', email => '');
SELECT * FROM crmpool.find_duplicates('accounts', name => repeat('某', 1000000),
									  email => repeat('a', 1000000) || '@x.cn');

-- a bulk import of many customers in one transaction does not exhaust the shared lock table:
-- past 256 key locks the transaction locks the table's identity keys as a whole
BEGIN;
INSERT INTO accounts (id, company, phone, email)
SELECT g, 'Bulkimport' || g || ' Trading Ltd.', '+86 137 ' || lpad(g::text, 8, '0'), 'buyer' || g || '@bulk.example'
FROM generate_series(100000, 109999) g;
SELECT count(*) <= 3 * 256 + 10 AS key_locks_bounded
FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid();
SELECT count(*) AS table_lock_exclusive
FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND objid = 0 AND mode = 'ExclusiveLock';
COMMIT;
SELECT count(*) AS imported FROM accounts WHERE id >= 100000;
INSERT INTO accounts (id, company, phone) VALUES (200000, 'Another Co., Ltd.', '+86 137 00100005');

-- unmanage takes the identity keys and warnings with it
SELECT crmpool.unmanage('accounts');
SELECT count(*) FROM crmpool.identity_key;
SELECT count(*) FROM crmpool.identity_name;
SELECT count(*) FROM crmpool.duplicate_warning;
SELECT count(*) FROM crmpool.identity_config;
DROP TABLE accounts;
RESET crmpool.fake_now;
