-- The sample CRM: an ordinary customers table, as an app would have it.
SELECT pg_catalog.setseed(0.42);
CREATE EXTENSION crmpool;
CREATE SCHEMA crm;
CREATE TABLE crm.reps (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO crm.reps
SELECT g, (ARRAY['王伟','李娜','张敏','刘洋','陈静','杨磊','赵强','黄丽','周杰','吴芳',
				 'Alice Chen','Bob Li','Carol Wang','David Zhou','Emma Liu','Frank Xu',
				 'Grace Sun','Henry Ma','Ivy Zhu','Jack Hu'])[g]
FROM generate_series(1, 20) g;

CREATE TABLE crm.customers (
	id			bigint PRIMARY KEY,
	name		text NOT NULL,
	phone		text,
	pool		text NOT NULL DEFAULT 'general',
	owner_id	int REFERENCES crm.reps,
	last_contact timestamptz,
	deal_closed	boolean NOT NULL DEFAULT false,
	created_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON crm.customers (owner_id);

WITH parts AS (
	SELECT ARRAY['北京','上海','深圳','广州','杭州','成都','武汉','南京','西安','苏州','重庆','天津'] AS region,
		   ARRAY['华','泰','恒','瑞','鑫','达','丰','盛','嘉','宏','安','信','博','源','汇','诚','科','锐','联','创'] AS ch,
		   ARRAY['科技','贸易','物流','生物科技','文化传媒','餐饮管理','教育科技','电子','建筑工程','医疗器械'] AS ind,
		   ARRAY['有限公司','股份有限公司','有限责任公司'] AS legal,
		   ARRAY['Northwind','Bluepeak','Redstone','Silverline','Greenfield','Ironbridge','Skyward','Oakmont','Brightwave','Stonegate'] AS en,
		   ARRAY['Trading','Logistics','Software','Foods','Media','Medical','Robotics','Energy'] AS en_ind,
		   ARRAY['Ltd.','Inc.','LLC','Co., Ltd.'] AS en_legal
)
INSERT INTO crm.customers (id, name, phone, pool)
SELECT g,
	   CASE WHEN g % 5 = 0
			THEN en[1 + (g / 7) % 10] || ' ' || en_ind[1 + (g / 3) % 8] || ' ' || g || ' ' || en_legal[1 + g % 4]
			ELSE region[1 + g % 12] || ch[1 + (g / 12) % 20] || ch[1 + (g / 240) % 20] || g
				 || ind[1 + (g / 5) % 10] || legal[1 + g % 3]
	   END,
	   '+86 13' || lpad((g * 7919 % 1000000000)::text, 9, '0'),
	   CASE WHEN g <= 300 THEN 'hot leads' WHEN g % 10 = 0 THEN 'key accounts' ELSE 'general' END
FROM parts, generate_series(1, 30000) g;

-- Some customers already belong to reps before crmpool arrives.
UPDATE crm.customers SET owner_id = 1 + id % 20, last_contact = now() - (id % 30) * interval '1 day'
WHERE id BETWEEN 301 AND 1300;

-- Attach crmpool, and set the pool rules: the whole table, a stricter hot-leads pool, and
-- a senior rep with a larger cap.
SELECT crmpool.manage('crm.customers', 'owner_id', pool_column => 'pool',
					  followup_column => 'last_contact', deal_column => 'deal_closed');
SELECT crmpool.set_rules('crm.customers', '{"private_cap": 60, "lock_cap": 5, "daily_claim_limit": 30,
											"reclaim_cooldown": "7 days", "pool_holdback": "1 hour"}');
SELECT crmpool.set_rules('crm.customers', '{"private_cap": 55, "daily_claim_limit": 8}', pool => 'hot leads');
SELECT crmpool.set_rules('crm.customers', '{"pool_holdback": null}', pool => 'key accounts');
SELECT crmpool.set_rules('crm.customers', '{"private_cap": 80}', rep => 1);

-- Duplicate detection on the company name and phone; block duplicate phones and companies.
SELECT crmpool.set_identity('crm.customers', 'name', '{phone}');
SELECT crmpool.set_rules('crm.customers', '{"dedup_phone": "block", "dedup_name": "block"}');

-- The race script records every attempt's outcome.
CREATE TABLE crm.attempts (rep int, customer bigint, outcome text);

\echo
\echo 'Rules in force (crmpool.rules):'
SELECT 'whole table' AS scope, crmpool.rules('crm.customers') AS rules
UNION ALL SELECT 'pool "hot leads"', crmpool.rules('crm.customers', 'hot leads')
UNION ALL SELECT 'pool "key accounts"', crmpool.rules('crm.customers', 'key accounts')
UNION ALL SELECT 'rep 1 (senior)', crmpool.rules('crm.customers', NULL, 1);
