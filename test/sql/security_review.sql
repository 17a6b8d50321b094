-- The hostile security review of main b60b660 (issue 7): each finding, tried the way the review
-- did (/work/wt/review/review-repro), now refused or harmless.  The NOTIFY payloads are in
-- test/specs/recycle_notify.spec (psql does not print payloads stably), the RLS cases of the
-- duplicate message in test/sql/rls.sql too.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET crmpool.fake_now = '2026-05-01 09:00:00+00';

-- A statement's outcome: ok, or its SQLSTATE, message, detail and hint.
CREATE FUNCTION review_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	det text;
	hint text;
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
		hint = PG_EXCEPTION_HINT;
	RETURN st || ': ' || msg || coalesce(' / ' || nullif(det, ''), '') || coalesce(' / ' || nullif(hint, ''), '');
END;
$$;

CREATE ROLE regress_rv_rep;
CREATE ROLE regress_rv_admin;
CREATE ROLE regress_rv_nobody;
GRANT EXECUTE ON FUNCTION crmpool.assign(regclass, bigint, bigint) TO regress_rv_admin;

-- 1. A pool round trip: claim into a pool without limits, then move the customer back.
CREATE TABLE rt (id bigint PRIMARY KEY, owner_id bigint, pool text NOT NULL);
INSERT INTO rt SELECT g, NULL, 'hot' FROM generate_series(1, 6) g;
INSERT INTO rt VALUES (9, 8, 'hot');
SELECT crmpool.manage('rt', 'owner_id', pool_column => 'pool');
SELECT crmpool.set_rules('rt', '{"daily_claim_limit": 1, "reclaim_cooldown": "30 days", "pool_holdback": "2 days", "lock_cap": 1}', pool => 'hot') IS NOT NULL AS set;
GRANT SELECT, UPDATE ON rt TO regress_rv_rep, regress_rv_admin;
SET ROLE regress_rv_rep;
SELECT review_try($$UPDATE rt SET owner_id = 7 WHERE id = 1$$);			-- the day's one claim in "hot"
SELECT review_try($$UPDATE rt SET owner_id = 7 WHERE id = 2$$);			-- CR008
-- a claim that also moves the pool is judged by the pool it ends up in
SELECT review_try($$UPDATE rt SET owner_id = 7, pool = 'x' WHERE id IN (2, 3)$$);	-- "x" has no limit
SELECT review_try($$UPDATE rt SET pool = 'x' WHERE id = 4$$);				-- a pool customer moves freely
SELECT review_try($$UPDATE rt SET owner_id = 7, pool = 'hot' WHERE id = 4$$);	-- CR008 of "hot"
-- moving an owned customer is an admin's move: refused to a role that may not assign
SELECT review_try($$UPDATE rt SET pool = 'hot' WHERE id = 2$$);			-- CR011
-- the hold-back and the cooldown escape the same way without it
SELECT review_try($$UPDATE rt SET owner_id = NULL WHERE id = 9$$);
SELECT review_try($$UPDATE rt SET owner_id = 8 WHERE id = 9$$);			-- CR010
SELECT review_try($$UPDATE rt SET owner_id = 8, pool = 'x' WHERE id = 9$$);
SELECT review_try($$UPDATE rt SET pool = 'hot' WHERE id = 9$$);			-- CR011
RESET ROLE;
-- crmpool.lock() checks the lock cap of the customer's current pool
SELECT crmpool.lock('rt', 1, 7);									-- "hot": 1 of 1
SELECT crmpool.lock('rt', 2, 7);									-- "x": no cap
-- an admin may move an owned customer: within the new pool's caps, the lock cap included
SET ROLE regress_rv_admin;
SELECT review_try($$UPDATE rt SET pool = 'hot' WHERE id = 2$$);			-- locked, 2 locks > cap 1: CR007
SELECT review_try($$UPDATE rt SET pool = 'hot' WHERE id = 3$$);			-- not locked: no lock cap
RESET ROLE;
SELECT review_try($$SELECT crmpool.lock('rt', 3, 7)$$);					-- "hot" again: CR007
SELECT id, owner_id, pool FROM rt ORDER BY id;
SELECT rep, owned, locked, claims_today FROM crmpool.rep_load('rt') ORDER BY rep;

-- 2. The deal toggle, with deals not counted in the cap: a cleared deal is a gain.
CREATE TABLE dt (id bigint PRIMARY KEY, owner_id bigint, deal boolean NOT NULL DEFAULT false, notes text);
INSERT INTO dt SELECT g, NULL, false, '' FROM generate_series(1, 6) g;
SELECT crmpool.manage('dt', 'owner_id', deal_column => 'deal');
SELECT crmpool.set_rules('dt', '{"private_cap": 2, "count_deals_in_cap": false}') IS NOT NULL AS set;
GRANT SELECT, INSERT ON dt TO regress_rv_rep;
GRANT UPDATE (owner_id, deal, notes) ON dt TO regress_rv_rep;		-- README's recommended grants
SET ROLE regress_rv_rep;
SELECT review_try($$UPDATE dt SET owner_id = 7 WHERE id IN (1, 2)$$);
SELECT review_try($$UPDATE dt SET owner_id = 7 WHERE id = 3$$);			-- CR006
SELECT review_try($$UPDATE dt SET deal = true WHERE id IN (1, 2)$$);		-- no longer counted
SELECT review_try($$UPDATE dt SET owner_id = 7 WHERE id IN (3, 4)$$);		-- 2 counted again
SELECT review_try($$UPDATE dt SET deal = false WHERE owner_id = 7$$);		-- would count 4: CR006
SELECT review_try($$UPDATE dt SET deal = false WHERE id = 1$$);			-- would count 3: CR006
SELECT review_try($$UPDATE dt SET notes = 'called' WHERE id = 1$$);		-- other columns: not a gain
SELECT review_try($$UPDATE dt SET owner_id = NULL WHERE id = 4$$);
SELECT review_try($$UPDATE dt SET deal = false WHERE id = 1$$);			-- fits now: 2 of 2
RESET ROLE;
SELECT id, owner_id, deal FROM dt WHERE owner_id IS NOT NULL ORDER BY id;
SELECT rep, owned, with_deal FROM crmpool.rep_load('dt');
-- where deals count anyway, clearing one changes no count: never refused, even over the cap
SELECT crmpool.set_rules('dt', '{"count_deals_in_cap": true}') IS NOT NULL AS set;
SET ROLE regress_rv_rep;
SELECT review_try($$UPDATE dt SET deal = false WHERE id = 2$$);			-- rep 7 holds 3 of 2
RESET ROLE;

-- 3. Caps and limits under "levels" would never be enforced: refused.
CREATE TABLE lv (id bigint PRIMARY KEY, owner_id bigint, lvl text);
INSERT INTO lv SELECT g, NULL, 'A' FROM generate_series(1, 4) g;
SELECT crmpool.manage('lv', 'owner_id', level_column => 'lvl');
SELECT review_try($$SELECT crmpool.set_rules('lv', '{"levels": {"A": {"private_cap": 1, "daily_claim_limit": 1}}}')$$);
SELECT review_try($$SELECT crmpool.set_rules('lv', '{"levels": {"A": {"recycle_no_followup": "60 days"}, "B": {"lock_cap": 1}}}')$$);
SELECT review_try($$SELECT crmpool.set_rules('lv', '{"levels": {"A": {"dedup_phone": "block"}}}')$$);
SELECT crmpool.rules('lv') -> 'levels' AS levels;					-- nothing was stored
-- the keys that are read per level
SELECT crmpool.set_rules('lv', '{"levels": {"A": {"recycle_no_followup": "60 days", "recycle_no_deal": "90 days",
	"recycle_exempt_deals": false, "warn_before": "1 day"}}}') -> 'levels' AS levels;

-- 5. A duplicate of a customer the writer cannot see names nothing of it.
CREATE TABLE acc (id bigint PRIMARY KEY, owner_id bigint, region text, phone text, name text);
INSERT INTO acc VALUES (1, NULL, 'north', '13800000001', '北京星河科技有限公司'),
	(3, NULL, 'south', '13800000003', '秘密客户深圳海风物流有限公司');
SELECT crmpool.manage('acc', 'owner_id', pool_column => 'region');
SELECT crmpool.set_identity('acc', 'name', '{phone}');
SELECT crmpool.set_rules('acc', '{"dedup_phone": "block", "dedup_name": "block"}') IS NOT NULL AS set;
ALTER TABLE acc ENABLE ROW LEVEL SECURITY;
CREATE POLICY n ON acc FOR SELECT USING (region = 'north');
CREATE POLICY u ON acc FOR UPDATE USING (region = 'north');
CREATE POLICY i ON acc FOR INSERT WITH CHECK (true);
GRANT SELECT, UPDATE ON acc TO regress_rv_rep;
GRANT INSERT ON acc TO regress_rv_nobody;							-- writes, may read nothing
SET ROLE regress_rv_rep;
SELECT id, name FROM acc;
UPDATE acc SET name = '秘密客户深圳海风物流' WHERE id = 1;			-- CR020, nothing of customer 3
UPDATE acc SET name = '北京星河科技' WHERE id = 1;					-- its own name: no match
SET ROLE regress_rv_nobody;
INSERT INTO acc VALUES (4, NULL, 'north', '13800000001', '无锡某某公司');	-- CR020, nothing of customer 1
RESET ROLE;
INSERT INTO acc VALUES (5, NULL, 'north', '13800000003', '无锡某某公司');	-- the superuser sees it all

-- 6. lock, unlock and follow_up need UPDATE on the column they change, not on any column.
CREATE TABLE lk (id bigint PRIMARY KEY, owner_id bigint, notes text, last_call timestamptz);
INSERT INTO lk SELECT g, 7, '', NULL FROM generate_series(1, 3) g;
SELECT crmpool.manage('lk', 'owner_id');
CREATE TABLE lf (id bigint PRIMARY KEY, owner_id bigint, notes text, last_call timestamptz);
INSERT INTO lf SELECT g, 7, '', NULL FROM generate_series(1, 3) g;
SELECT crmpool.manage('lf', 'owner_id', followup_column => 'last_call');
SELECT crmpool.lock('lk', 1, 7);
GRANT SELECT, UPDATE (notes) ON lk, lf TO regress_rv_nobody;
SET ROLE regress_rv_nobody;
SELECT review_try($$SELECT crmpool.unlock('lk', 1, 7)$$);
SELECT review_try($$SELECT crmpool.lock('lk', 2, 7)$$);
SELECT review_try($$SELECT crmpool.follow_up('lk', 2, 7)$$);
SELECT review_try($$SELECT crmpool.follow_up('lf', 2, 7)$$);
RESET ROLE;
GRANT UPDATE (owner_id) ON lk, lf TO regress_rv_nobody;
SET ROLE regress_rv_nobody;
SELECT review_try($$SELECT crmpool.unlock('lk', 1, 7)$$);
SELECT review_try($$SELECT crmpool.follow_up('lk', 2, 7)$$);
SELECT review_try($$SELECT crmpool.follow_up('lf', 2, 7)$$);				-- needs the follow-up column
RESET ROLE;
GRANT UPDATE (last_call) ON lf TO regress_rv_nobody;
SET ROLE regress_rv_nobody;
SELECT review_try($$SELECT crmpool.follow_up('lf', 2, 7)$$);
RESET ROLE;
SELECT id, last_call FROM lf WHERE id = 2;

-- 8. crmpool.actor cannot take recycling's label.
SET crmpool.actor = 'crmpool';
SET crmpool.actor = ' CrmPool ';
SET crmpool.actor = 'crmpool-import';								-- a label of one's own is fine
SHOW crmpool.actor;
RESET crmpool.actor;

-- 9. A role without USAGE on schema crmpool still claims by plain SQL.
REVOKE USAGE ON SCHEMA crmpool FROM PUBLIC;
CREATE TABLE nu (id bigint PRIMARY KEY, owner_id bigint);
INSERT INTO nu SELECT g, NULL FROM generate_series(1, 2) g;
SELECT crmpool.manage('nu', 'owner_id');
GRANT SELECT, UPDATE ON nu TO regress_rv_nobody;
SET ROLE regress_rv_nobody;
SELECT review_try($$UPDATE nu SET owner_id = 7 WHERE id = 1$$);			-- a claim
SELECT review_try($$UPDATE nu SET owner_id = 8 WHERE id = 1$$);			-- still no assign: CR011
RESET ROLE;
GRANT USAGE ON SCHEMA crmpool TO PUBLIC;
SELECT owner_id FROM nu WHERE id = 1;

-- 10. A follow-up written to the table's column may be up to a day after crmpool's clock (the
-- app's clock, its local time in a timestamp column); follow_up() stays on crmpool's clock.
CREATE TABLE fu (id bigint PRIMARY KEY, owner_id bigint, last_call timestamp);
INSERT INTO fu SELECT g, 7, NULL FROM generate_series(1, 2) g;
SELECT crmpool.manage('fu', 'owner_id', followup_column => 'last_call');
SELECT crmpool.set_rules('fu', '{"recycle_no_followup": "30 days"}') IS NOT NULL AS set;
SET TimeZone = 'UTC';
-- 17:00 in Shanghai, written as local time: 8 hours "ahead" of a UTC session
SELECT review_try($$UPDATE fu SET last_call = '2026-05-01 17:00:00' WHERE id = 1$$);
SELECT review_try($$UPDATE fu SET last_call = '2026-05-02 09:00:00' WHERE id = 1$$);			-- exactly 1 day: ok
SELECT review_try($$UPDATE fu SET last_call = '2026-05-02 09:00:00.000001' WHERE id = 1$$);	-- 22023
SELECT review_try($$INSERT INTO fu VALUES (3, 7, '2026-05-02 09:00:00.000001')$$);			-- INSERT too
SELECT review_try($$UPDATE fu SET last_call = 'infinity' WHERE id = 1$$);						-- 22023
SELECT review_try($$SELECT crmpool.follow_up('fu', 2, 7, at => '2026-05-01 09:00:00.000001+00')$$);	-- 22023
SELECT review_try($$SELECT crmpool.follow_up('fu', 2, 7, at => '2026-05-01 09:00:00+00')$$);
SELECT customer, due_at FROM crmpool.due('fu') ORDER BY customer;
RESET TimeZone;

DROP TABLE rt, dt, lv, acc, lk, lf, nu, fu;
DROP FUNCTION review_try(text);
DROP OWNED BY regress_rv_rep, regress_rv_admin, regress_rv_nobody;
DROP ROLE regress_rv_rep, regress_rv_admin, regress_rv_nobody;
RESET crmpool.fake_now;
