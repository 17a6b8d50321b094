-- yudao: the shared yudao-shaped fixture (test/fixtures/yudao_crm.sql) and the translation of its
-- pool and limit configuration into crmpool scopes (contrib/yudao/sync_rules.sql, planned_reps and
-- planned_rules), then the rep-scope part of that plan enforced on the yudao table with today's
-- manage()/set_rules().  sync_rules() itself needs tenants and reps (test/pending/).
\set VERBOSITY default
SET crmpool.fake_now = '2026-01-01 09:00:00+00';
\set ECHO none
\i test/fixtures/yudao_crm.sql
\i contrib/yudao/sync_rules.sql
\set ECHO all

-- the helpers read yudao's flags and id lists however they are stored
SELECT crmpool_yudao.id_list(' 3, 1,,2 ,') AS ids, crmpool_yudao.id_list('') AS empty,
	   crmpool_yudao.id_list(NULL) AS null_list;
SELECT crmpool_yudao.flag(1::smallint) AS one, crmpool_yudao.flag(0::smallint) AS zero,
	   crmpool_yudao.flag(true) AS t, crmpool_yudao.flag(NULL::boolean) AS null_flag;
SELECT crmpool_yudao.id_list('1,x');		-- not an id list: refused, nothing guessed

-- users as reps: dept 10/20/30 as teams; 104 disabled (status 1) and 105 deleted are inactive
SELECT * FROM crmpool_yudao.planned_reps('public');

-- the plan: tenant 1 recycles (30 / 90 days, warned 3 days before), tenant 2 does not (its pool
-- is disabled: nulls override any table-wide recycle rule); depts 10 and 20 may own 5 without
-- counting deals, dept 30 (tenant 2) 2 with deals; dept 10 may lock 2; rep 101 is listed
-- himself: owns at most 3 counting deals (config 1 beats his dept's 5) and locks at most 2 (yudao
-- takes the larger of his 1 and his dept's 2); config 5 (rep 102) is soft-deleted: no rep 102 scope.
SELECT * FROM crmpool_yudao.planned_rules('public') ORDER BY scope, target;

-- a tie on the smallest cap counts deals (the stricter reading of two configs)
INSERT INTO crm_customer_limit_config (id, type, user_ids, dept_ids, max_count, deal_count_enabled, tenant_id)
VALUES (7, 1, '103', '', 5, 1, 1);
SELECT * FROM crmpool_yudao.planned_rules('public') WHERE scope = 'rep' ORDER BY target;
-- a NULL deal_count_enabled counts deals (crmpool's default); yudao itself fails on it
UPDATE crm_customer_limit_config SET deal_count_enabled = NULL, max_count = 4 WHERE id = 7;
SELECT * FROM crmpool_yudao.planned_rules('public') WHERE scope = 'rep' AND target = '103';
DELETE FROM crm_customer_limit_config WHERE id = 7;

-- notify disabled: no warning, recycling stays; several configs of a tenant: the newest
UPDATE crm_customer_pool_config SET notify_enabled = 0 WHERE id = 1;
INSERT INTO crm_customer_pool_config (id, enabled, contact_expire_days, deal_expire_days, tenant_id)
VALUES (3, 1, 20, NULL, 2);
SELECT * FROM crmpool_yudao.planned_rules('public') WHERE scope = 'tenant' ORDER BY target;
DELETE FROM crm_customer_pool_config WHERE id = 3;
UPDATE crm_customer_pool_config SET notify_enabled = 1 WHERE id = 1;

-- bad input
SELECT * FROM crmpool_yudao.planned_rules(NULL);
SELECT * FROM crmpool_yudao.planned_reps('no_such_schema');
SELECT * FROM crmpool_yudao.sync_rules(NULL);

-- the yudao table as it is: bigint key and owner, timestamp follow-up, boolean deal, integer level
SELECT crmpool.manage('crm_customer', 'owner_user_id', followup_column => 'contact_last_time',
					  deal_column => 'deal_status', level_column => 'level');
-- the rep scopes of the plan, with today's set_rules
SELECT p.target, crmpool.set_rules('crm_customer', p.rules, rep => p.target::bigint) AS stored
  FROM crmpool_yudao.planned_rules('public') p WHERE p.scope = 'rep' ORDER BY p.target;
-- rep 101 owns 1001 and 1002 (a deal, counted as config 1 says): one more receive, then refused
-- as yudao's CUSTOMER_OWNER_EXCEED_LIMIT would be (CR006; only the SQLSTATE shown: the message
-- and its fields are the errors part's, tested there)
\set VERBOSITY sqlstate
SELECT crmpool.claim('crm_customer', 1005, 101);
SELECT crmpool.claim('crm_customer', 1006, 101);
-- yudao's receive is a plain UPDATE of owner_user_id and owner_time: the same cap holds
UPDATE crm_customer SET owner_user_id = 101, owner_time = '2026-01-01 17:00' WHERE id = 1007;
SELECT id, owner_user_id FROM crm_customer WHERE id IN (1005, 1006, 1007) ORDER BY id;
SELECT * FROM crmpool.check('crm_customer');
-- leave nothing behind for the tests after this one
\set VERBOSITY default
DROP TABLE crm_customer, crm_customer_pool_config, crm_customer_limit_config, system_users;
SET client_min_messages = warning;
DROP SCHEMA crmpool_yudao CASCADE;
