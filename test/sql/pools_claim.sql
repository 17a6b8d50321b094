-- Pools at work (issue 10): only members claim from a pool that names members (CR012); admins
-- claim without the claim-only limits; release(..., to_pool), recycle_to_pool, move(); a
-- customer inserted straight into a pool; pool cleaning (pool_expire, pool_expire_to).
\set VERBOSITY default
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
SET TimeZone = 'UTC';
SET crmpool.timezone = 'UTC';
CREATE FUNCTION pc_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text; msg text; det text; hint text; col text; con text; typ text;
BEGIN
	EXECUTE 'SELECT ' || q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
		hint = PG_EXCEPTION_HINT, col = COLUMN_NAME, con = CONSTRAINT_NAME, typ = PG_DATATYPE_NAME;
	RETURN st || ': ' || msg || coalesce(' / ' || nullif(det, ''), '') || coalesce(' / ' || nullif(hint, ''), '')
		|| coalesce(' [' || nullif(col, '') || ' ' || con || ' ' || typ || ']', '');
END $$;

CREATE TABLE crm_customer (
	id				bigint PRIMARY KEY,
	name			varchar(255) NOT NULL,
	owner_user_id	bigint,
	owner_time		timestamp,
	deal_status		boolean NOT NULL DEFAULT false,
	pool_config		varchar(64)
);
INSERT INTO crm_customer (id, name, pool_config)
SELECT g, 'C' || g, CASE WHEN g <= 10 THEN 'east' WHEN g <= 20 THEN 'west' END
FROM generate_series(1, 30) g;
SELECT crmpool.manage('crm_customer', 'owner_user_id', pool_column => 'pool_config',
	deal_column => 'deal_status', owner_since_column => 'owner_time');
CREATE FUNCTION crmpool_pc_update(c int, r int) RETURNS void LANGUAGE sql
	AS 'UPDATE crm_customer SET owner_user_id = r WHERE id = c';
SELECT crmpool.set_rep('crm_customer', 31, team => 'east-team');
SELECT crmpool.set_pool_members('crm_customer', 'east', reps => '{11, 12}', teams => '{east-team}');
SELECT crmpool.set_pool_admins('crm_customer', 'east', reps => '{90}');

-- east names members: others are refused (CR012, with the error fields); members, team
-- members and admins claim
SELECT pc_try($$crmpool.claim('crm_customer', 1, 13)$$);
SELECT crmpool.claim('crm_customer', 1, 11);
SELECT crmpool.claim('crm_customer', 2, 31);
SELECT crmpool.claim('crm_customer', 3, 90);
SELECT * FROM crmpool.claim_many('crm_customer', '{4, 5}', 13);
-- a plain UPDATE by a role that may not assign is a claim by the new owner: the same refusal
CREATE ROLE pc_app;
GRANT SELECT, UPDATE ON crm_customer TO pc_app;
SET ROLE pc_app;
SELECT pc_try($$crmpool_pc_update(4, 13)$$);
RESET ROLE;
-- west and the default pool name nobody: open to every rep, as before pools
SELECT crmpool.claim('crm_customer', 11, 13);
SELECT crmpool.claim('crm_customer', 21, 13);
-- the default pool can name members too
SELECT crmpool.set_pool_members('crm_customer', NULL, reps => '{11}');
SELECT pc_try($$crmpool.claim('crm_customer', 22, 13)$$);
SELECT crmpool.claim('crm_customer', 22, 11);
SELECT crmpool.set_pool_members('crm_customer', NULL);
-- assign is an admin's act: it may give a pool customer to a rep who is no member
SELECT crmpool.assign('crm_customer', 5, 13);
-- a member removed cannot claim any more; one added can
SELECT crmpool.set_pool_members('crm_customer', 'east', reps => '{12}', teams => '{east-team}');
SELECT pc_try($$crmpool.claim('crm_customer', 6, 11)$$);
SELECT crmpool.claim('crm_customer', 6, 12);
SELECT id, owner_user_id, pool_config FROM crm_customer WHERE owner_user_id IS NOT NULL ORDER BY id;

-- admins are exempt from the claim-only limits: daily limit, cooldown, hold-back
SELECT crmpool.set_rules('crm_customer', '{"daily_claim_limit": 1, "reclaim_cooldown": "7 days", "pool_holdback": "1 day"}', pool => 'east');
SELECT crmpool.release('crm_customer', 6, 12);
SET crmpool.fake_now = '2026-03-03 10:00:00+00';
-- a member: 12 lost 6 a day ago (cooldown); one claim today, then the daily limit
SELECT pc_try($$crmpool.claim('crm_customer', 6, 12)$$);
SELECT crmpool.claim('crm_customer', 7, 12);
SELECT pc_try($$crmpool.claim('crm_customer', 8, 12)$$);
-- the admin: released by itself, claimed again at once, and more than one today
SELECT crmpool.release('crm_customer', 3, 90);
SELECT crmpool.claim('crm_customer', 3, 90);
SELECT crmpool.claim('crm_customer', 8, 90);
SELECT crmpool.claim('crm_customer', 9, 90);
-- a customer that just entered the pool: held back for members, not for the admin
SELECT crmpool.release('crm_customer', 2, 31);
SELECT pc_try($$crmpool.claim('crm_customer', 2, 12)$$);
SELECT crmpool.claim('crm_customer', 2, 90);
-- the admin's claims are not counted against the daily limit
SELECT rep, claims_today FROM crmpool.rep_load('crm_customer') ORDER BY rep;
SELECT crmpool.clear_rules('crm_customer', pool => 'east');

-- release(..., to_pool): the customer goes to the pool named; 0.1's four arguments still work
SELECT crmpool.create_pool('crm_customer', 'archive');
SELECT crmpool.release('crm_customer', 8, 90, 'no budget this year', to_pool => 'archive');
SELECT crmpool.release('crm_customer', 9, 90, 'call back in spring');
SELECT id, owner_user_id, pool_config FROM crm_customer WHERE id IN (8, 9) ORDER BY id;
SELECT how, owner, reason FROM crmpool.ownership_log('crm_customer', 8) ORDER BY seq;
SELECT pc_try($$crmpool.release('crm_customer', 7, 12, to_pool => 'nowhere')$$);
SELECT pc_try($$crmpool.release('crm_customer', 7, 12, to_pool => '')$$);
SELECT pc_try($$crmpool.release('crm_customer', 7, 13, to_pool => 'archive')$$);
SELECT owner_user_id, pool_config FROM crm_customer WHERE id = 7;

-- customers inserted straight into a pool (Cordys #934) are that pool's, members only
INSERT INTO crm_customer (id, name, pool_config) VALUES (31, 'New lead', 'east');
SELECT pc_try($$crmpool.claim('crm_customer', 31, 13)$$);
SELECT crmpool.claim('crm_customer', 31, 12);
SELECT how, owner FROM crmpool.ownership_log('crm_customer', 31) ORDER BY seq;

-- move(): pool customers only; owned ones keep owner and pool; not PUBLIC's
SELECT * FROM crmpool.move('crm_customer', '{12, 10, 31, 999, 10}', 'west');
SELECT id, owner_user_id, pool_config FROM crm_customer WHERE id IN (8, 10, 12, 31) ORDER BY id;
SELECT how, owner, reason FROM crmpool.ownership_log('crm_customer', 10) ORDER BY seq;
SELECT * FROM crmpool.move('crm_customer', '{10}', NULL);
SELECT owner_user_id, pool_config FROM crm_customer WHERE id = 10;
SELECT pc_try($$crmpool.move('crm_customer', '{10}', 'nowhere')$$);
SELECT pc_try($$crmpool.move('crm_customer', '{NULL}', 'west')$$);
SELECT pc_try($$crmpool.move('crm_customer', NULL, 'west')$$);
SET ROLE pc_app;
SELECT pc_try($$crmpool.move('crm_customer', '{10}', 'west')$$);
RESET ROLE;
REVOKE ALL ON crm_customer FROM pc_app;
DROP ROLE pc_app;
-- drop_pool is refused while it holds customers, and works once they are moved out
SELECT pc_try($$crmpool.drop_pool('crm_customer', 'archive')$$);
SELECT * FROM crmpool.move('crm_customer', '{8}', 'west');
SELECT crmpool.drop_pool('crm_customer', 'archive');
SELECT pc_try($$crmpool.release('crm_customer', 7, 12, to_pool => 'archive')$$);

-- rules: recycle_to_pool, pool_expire, pool_expire_to
SELECT pc_try($$crmpool.set_rules('crm_customer', '{"recycle_to_pool": 5}')$$);
SELECT pc_try($$crmpool.set_rules('crm_customer', '{"pool_expire_to": ""}')$$);
SELECT pc_try($$crmpool.set_rules('crm_customer', '{"pool_expire": "-1 day"}')$$);
SELECT crmpool.create_pool('crm_customer', 'recycled');
SELECT crmpool.create_pool('crm_customer', 'archive');
SELECT crmpool.set_rules('crm_customer', '{"recycle_no_followup": "10 days", "recycle_to_pool": "recycled"}', pool => 'east');
SELECT crmpool.rules('crm_customer', pool => 'east') -> 'recycle_to_pool';
-- a table-wide rule sends west's customers, unclaimed 30 days, to archive
SELECT crmpool.set_rules('crm_customer', '{"pool_expire": "30 days", "pool_expire_to": "archive"}', pool => 'west');
SELECT id, pool_config FROM crm_customer WHERE owner_user_id IS NULL AND pool_config = 'west' ORDER BY id;
SET crmpool.fake_now = '2026-03-20 10:00:00+00';
-- east's owned customers are due (no follow-up in 10 days) and go to "recycled"; nothing has
-- sat in west 30 days yet
SELECT crmpool.recycle_now('crm_customer');
SELECT id, owner_user_id, pool_config FROM crm_customer WHERE pool_config IN ('east', 'recycled') ORDER BY id;
SELECT how, owner FROM crmpool.ownership_log('crm_customer', 7) ORDER BY seq DESC LIMIT 1;
SELECT count(*) FROM crm_customer WHERE pool_config = 'archive';
-- 10 enters west now
SELECT * FROM crmpool.move('crm_customer', '{10}', 'west');
SET crmpool.fake_now = '2026-04-05 10:00:00+00';
-- west's customers there since 2 or 3 March go to archive; 10, there for 16 days, and the owned
-- 11 stay
SELECT crmpool.recycle_now('crm_customer');
SELECT id, owner_user_id, pool_config FROM crm_customer WHERE pool_config IN ('west', 'archive') ORDER BY id;
SELECT how, owner, actor, reason FROM crmpool.ownership_log('crm_customer', 13) ORDER BY seq;
-- nothing more to expire: archive names no pool_expire
SELECT crmpool.recycle_now('crm_customer');
SELECT count(*) FROM crm_customer WHERE pool_config = 'archive';

SELECT crmpool.unmanage('crm_customer');
DROP TABLE crm_customer;
