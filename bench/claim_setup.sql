-- bench/claim: four twin customer tables with identical data, one per pgbench script.
--   bench.cust_a  bare UPDATEs of the owner column (the floor)
--   bench.cust_b  managed by crmpool (claim / release)
--   bench.cust_c  the same rules written in PL/pgSQL (bench/baseline_plpgsql.sql)
--   bench.cust_d  the racy app code crmpool replaces (yudao's receive / put-back, claim_d.pgbench)
-- psql variables: size (customers per table), pool_n (customers 1..pool_n start in the public
-- pool; the rest are owned by reps 101..150, as in a CRM that has been running for a while).
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS bench CASCADE;
CREATE SCHEMA bench;

-- A realistic customers table: the owner column is indexed (every CRM lists "my customers"),
-- so setting it is a non-HOT update whoever does it.
CREATE TABLE bench.cust_a (
	id				bigint		PRIMARY KEY,
	name			text		NOT NULL,
	phone			text,
	email			text,
	city			text,
	pool			text,
	level			text,
	owner_id		integer,
	has_deal		boolean		NOT NULL DEFAULT false,
	last_followup	timestamptz,
	created_at		timestamptz	NOT NULL,
	notes			text
);

INSERT INTO bench.cust_a
SELECT i,
	   CASE WHEN i % 2 = 0
			THEN (ARRAY['华东', '华南', '北方', '西部', '江南'])[1 + i % 5] ||
				 (ARRAY['星辰', '远航', '恒通', '瑞丰', '鼎盛', '宏图', '金桥'])[1 + i % 7] ||
				 (ARRAY['科技', '贸易', '物流', '制造', '咨询'])[1 + i % 11 % 5] || '有限公司' || i
			ELSE (ARRAY['Acme', 'Northwind', 'Globex', 'Initech', 'Umbrella', 'Stark'])[1 + i % 6] || ' ' ||
				 (ARRAY['Trading', 'Logistics', 'Software', 'Foods', 'Motors'])[1 + i % 13 % 5] || ' Ltd ' || i
	   END,
	   '1' || (3800000000 + i::bigint * 7919 % 100000000)::text,
	   'contact' || i || '@example.com',
	   (ARRAY['上海', '深圳', 'Beijing', '杭州', 'Chengdu', '广州'])[1 + i % 6],
	   (ARRAY['east', 'south', 'north'])[1 + i % 3],
	   (ARRAY['A', 'B', 'C'])[1 + i % 3],
	   CASE WHEN i > :pool_n THEN 101 + (i % 50)::integer END,
	   i > :pool_n AND i % 4 = 0,
	   CASE WHEN i > :pool_n THEN '2026-01-01'::timestamptz - (i % 90) * interval '1 day' END,
	   '2025-01-01'::timestamptz + (i % 365) * interval '1 day',
	   CASE WHEN i % 5 = 0 THEN 'met at trade fair; wants a quote for next quarter' END
FROM generate_series(1, :size) AS i;
CREATE INDEX cust_a_owner_idx ON bench.cust_a (owner_id);

CREATE TABLE bench.cust_b (LIKE bench.cust_a INCLUDING ALL);
INSERT INTO bench.cust_b SELECT * FROM bench.cust_a;
CREATE TABLE bench.cust_c (LIKE bench.cust_a INCLUDING ALL);
INSERT INTO bench.cust_c SELECT * FROM bench.cust_a;

-- (d): yudao's crm_customer has the same two indexes as cust_a, PRIMARY KEY (id) and KEY
-- owner_user_id (YunaiV/ruoyi-vue-pro: sql/mysql/crm.sql at commit 04613af0cd, and the same in
-- sql/mysql/crm-2024-09-30.sql of its pull request 1169; its master ships no CRM DDL), plus an
-- owner_time column that receiving sets; here it starts as the owned customers' creation time.
CREATE TABLE bench.cust_d (LIKE bench.cust_a INCLUDING ALL, owner_time timestamptz);
INSERT INTO bench.cust_d SELECT a.*, CASE WHEN a.owner_id IS NOT NULL THEN a.created_at END
FROM bench.cust_a a;

-- (b): crmpool, with every claim rule evaluated but set so that none refuses.
SELECT crmpool.manage('bench.cust_b', 'owner_id', pool_column => 'pool',
					  followup_column => 'last_followup', deal_column => 'has_deal');
SELECT crmpool.set_rules('bench.cust_b',
						 '{"private_cap": 1000000000, "daily_claim_limit": 1000000000,
						   "reclaim_cooldown": "0 seconds", "pool_holdback": "0 seconds",
						   "lock_cap": 100}');

-- (c): the PL/pgSQL baseline, with the same rules and its history seeded the way crmpool adopts.
\ir baseline_plpgsql.sql
INSERT INTO bench.rules_c (private_cap, daily_claim_limit, reclaim_cooldown, pool_holdback, lock_cap)
VALUES (1000000000, 1000000000, '0 seconds', '0 seconds', 100);
INSERT INTO bench.history_c (customer, at, owner, how, actor)
SELECT id, pg_catalog.now(), owner_id, 'adopt', current_user FROM bench.cust_c;
INSERT INTO bench.rep_counter_c (rep, owned, with_deal)
SELECT owner_id, count(*), count(*) FILTER (WHERE has_deal) FROM bench.cust_c
WHERE owner_id IS NOT NULL GROUP BY owner_id;

VACUUM (ANALYZE, FREEZE) bench.cust_a, bench.cust_b, bench.cust_c, bench.cust_d, bench.history_c,
	bench.rep_counter_c, crmpool.ownership_event, crmpool.rep_counter;
