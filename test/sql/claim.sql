-- Ownership operations and quotas: claim, claim_many, release, assign, transfer, lock, unlock.
\set VERBOSITY default
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
SET TimeZone = 'UTC';
SET crmpool.timezone = 'UTC';
CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	det text;
BEGIN
	EXECUTE 'SELECT ' || q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
	RETURN st || ': ' || msg || coalesce(' / ' || det, '');
END $$;
CREATE TABLE customers (
	id		bigint PRIMARY KEY,
	name	text NOT NULL,
	owner_id bigint,
	pool	text,
	deal	date
);
CREATE INDEX ON customers (owner_id);
INSERT INTO customers (id, name, pool)
SELECT g, 'customer ' || g, CASE WHEN g > 20 THEN 'vip' END FROM generate_series(1, 30) g;
SELECT crmpool.manage('customers', 'owner_id', pool_column => 'pool', deal_column => 'deal');

-- rules: validation refuses unknown keys, wrong types, negatives; nothing is stored then
SELECT crmpool.set_rules('customers', '{"privat_cap": 3}');
SELECT crmpool.set_rules('customers', '{"private_cap": "3"}');
SELECT crmpool.set_rules('customers', '{"private_cap": -1}');
SELECT crmpool.set_rules('customers', '{"private_cap": 2.5}');
SELECT crmpool.set_rules('customers', '{"private_cap": 1e12}');
SELECT crmpool.set_rules('customers', '{"count_deals_in_cap": null}');
SELECT crmpool.set_rules('customers', '{"count_deals_in_cap": "yes"}');
SELECT crmpool.set_rules('customers', '{"reclaim_cooldown": 7}');
SELECT crmpool.set_rules('customers', '{"reclaim_cooldown": "seven days"}');
SELECT crmpool.set_rules('customers', '{"pool_holdback": "-1 hour"}');
SELECT crmpool.set_rules('customers', '[1, 2]');
SELECT crmpool.set_rules('customers', '"private_cap"');
SELECT crmpool.set_rules('customers', '{"levels": 5}');
SELECT crmpool.set_rules('customers', '{"levels": {"A": 5}}');
SELECT crmpool.set_rules('customers', '{"levels": {"A": {"levels": {}}}}');
SELECT crmpool.set_rules('customers', NULL);
SELECT crmpool.set_rules('customers', '{}', pool => '');
SELECT count(*) AS rule_rows FROM crmpool.rule_set;

-- the cascade: table -> pool -> rep -> pool and rep; most specific wins; rules merge per scope
SELECT crmpool.set_rules('customers', '{"private_cap": 3, "daily_claim_limit": 10}');
SELECT crmpool.set_rules('customers', '{"private_cap": 5}', pool => 'vip');
SELECT crmpool.set_rules('customers', '{"private_cap": null}', rep => 100);
SELECT crmpool.set_rules('customers', '{"private_cap": 1}', pool => 'vip', rep => 100);
SELECT crmpool.set_rules('customers', '{"lock_cap": 1}');
SELECT crmpool.rules('customers') ->> 'private_cap' AS table_cap,
	   crmpool.rules('customers', 'vip') ->> 'private_cap' AS vip_cap,
	   crmpool.rules('customers', NULL, 100) ->> 'private_cap' AS rep100_cap,
	   crmpool.rules('customers', 'vip', 100) ->> 'private_cap' AS rep100_vip_cap,
	   crmpool.rules('customers', 'east', 100) ->> 'private_cap' AS rep100_east_cap;
SELECT crmpool.rules('customers');
SELECT crmpool.clear_rules('customers', pool => 'vip', rep => 100);
SELECT crmpool.clear_rules('customers', rep => 100, keys => '{private_cap}');
SELECT crmpool.rules('customers', NULL, 100) ->> 'private_cap' AS rep100_cap;

-- claim: a pool customer joins the rep's private pool
SELECT crmpool.claim('customers', 1, 7);
SELECT id, owner_id FROM customers WHERE id = 1;
-- refusals, each with its own SQLSTATE and the numbers in the detail
-- try() shows the SQLSTATE, message and detail of a refusal
SELECT try($$crmpool.claim('customers', 1, 8)$$);			-- already owned (CR003)
SELECT try($$crmpool.claim('customers', 1, 7)$$);			-- already owned, by the same rep
SELECT try($$crmpool.claim('customers', 999, 7)$$);			-- unknown customer (CR002)
SELECT crmpool.claim('customers', 2, 7);
SELECT crmpool.claim('customers', 3, 7);
SELECT try($$crmpool.claim('customers', 4, 7)$$);			-- private cap 3 (CR006)
SELECT crmpool.claim('customers', 21, 7);			-- vip pool: cap 5, rep owns 3
SELECT try($$crmpool.release('customers', 2, 8)$$);			-- not the owner (CR004)
SELECT try($$crmpool.release('customers', 4, 7)$$);			-- in the pool (CR004)
SELECT try($$crmpool.transfer('customers', 4, 7, 8)$$);		-- in the pool (CR004)
SELECT try($$crmpool.transfer('customers', 2, 8, 9)$$);		-- not the owner (CR004)
SELECT try($$crmpool.transfer('customers', 2, 7, 7)$$);		-- same rep: bad input
SELECT crmpool.lock('customers', 2, 7);
SELECT crmpool.lock('customers', 2, 7);				-- already locked: false, no change
SELECT try($$crmpool.lock('customers', 3, 7)$$);				-- lock cap 1 (CR007)
SELECT try($$crmpool.lock('customers', 3, 8)$$);				-- not the owner (CR004)
SELECT try($$crmpool.lock('customers', 4, 7)$$);				-- in the pool (CR004)
SELECT try($$crmpool.release('customers', 2, 7)$$);			-- locked (CR005)
SELECT try($$crmpool.assign('customers', 2, 8)$$);			-- locked (CR005)
SELECT try($$crmpool.transfer('customers', 2, 7, 8)$$);		-- locked (CR005)
SELECT try($$crmpool.unlock('customers', 2, 8)$$);			-- not the owner (CR004)
SELECT crmpool.unlock('customers', 2, 7);
SELECT crmpool.unlock('customers', 2, 7);			-- not locked: false
SELECT * FROM crmpool.rep_load('customers');

-- NULL arguments are errors, never a silent no-op
SELECT crmpool.claim('customers', NULL, 7);
SELECT crmpool.claim('customers', 1, NULL);
SELECT crmpool.claim(NULL, 1, 7);
SELECT crmpool.release('customers', NULL, 7);
SELECT crmpool.assign('customers', 1, NULL);
SELECT crmpool.transfer('customers', 1, NULL, 8);
SELECT crmpool.lock('customers', 1, NULL);
SELECT crmpool.unlock(NULL, 1, 7);
SELECT * FROM crmpool.claim_many('customers', NULL, 7);
SELECT * FROM crmpool.claim_many('customers', '{1,NULL}', 7);
SELECT * FROM crmpool.claim_many('customers', '{{1,2},{3,4}}', 7);
SELECT crmpool.owner_at('customers', 1, NULL);

-- release with a reason; the reason is in the log
SELECT crmpool.release('customers', 3, 7, 'wrong region');
SELECT owner, how, reason FROM crmpool.ownership_log('customers', 3);

-- assign (admin): from the pool or from another rep; the cap applies, the daily limit does not
SELECT crmpool.assign('customers', 3, 8);
SELECT crmpool.assign('customers', 3, 9);
SELECT crmpool.assign('customers', 3, 9);			-- already owned by that rep
SELECT crmpool.assign('customers', 4, 7);
SELECT crmpool.assign('customers', 5, 7);			-- cap
SELECT crmpool.transfer('customers', 3, 9, 7);		-- cap of the receiver

-- deals: with count_deals_in_cap = false customers with a deal do not count
UPDATE customers SET deal = '2026-03-01' WHERE id = 1;
SELECT * FROM crmpool.rep_load('customers') WHERE rep = 7;
SELECT crmpool.claim('customers', 5, 7);			-- cap: deals count by default
SELECT crmpool.set_rules('customers', '{"count_deals_in_cap": false}');
SELECT crmpool.claim('customers', 5, 7);
SELECT crmpool.claim('customers', 6, 7);			-- now 3 without a deal
UPDATE customers SET deal = NULL WHERE id = 1;		-- the deal falls through: it would count, over the cap (CR006)
SELECT * FROM crmpool.rep_load('customers') WHERE rep = 7;
SELECT crmpool.set_rules('customers', '{"count_deals_in_cap": true, "private_cap": 50}');

-- claim_many: refusals become outcomes; the claims that passed stay
SELECT crmpool.set_rules('customers', '{"private_cap": 3}', rep => 11);
SELECT * FROM crmpool.claim_many('customers', '{10, 11, 1, 404, 12, 13, 10}', 11);
SELECT id FROM customers WHERE owner_id = 11 ORDER BY id;

-- daily claim limit: per rep and calendar day in crmpool.timezone; assign is exempt
SELECT crmpool.set_rules('customers', '{"daily_claim_limit": 2}', rep => 12);
SELECT crmpool.claim('customers', 14, 12);
SELECT crmpool.claim('customers', 15, 12);
SELECT crmpool.claim('customers', 16, 12);
SELECT crmpool.assign('customers', 16, 12);
SET crmpool.fake_now = '2026-03-03 00:00:01+00';
SELECT crmpool.claim('customers', 17, 12);
SELECT * FROM crmpool.rep_load('customers') WHERE rep = 12;
SET TimeZone = 'America/Los_Angeles';				-- a session's TimeZone does not move the day
SELECT crmpool.claim('customers', 18, 12);
SELECT crmpool.claim('customers', 19, 12);
SET TimeZone = 'UTC';
SET crmpool.timezone = 'America/Los_Angeles';		-- the superuser's setting does: March 2 there
SELECT crmpool.claim('customers', 19, 12);
SELECT * FROM crmpool.rep_load('customers') WHERE rep = 12;
SET crmpool.timezone = 'UTC';
SET crmpool.timezone = 'Mars/Olympus_Mons';

-- pool hold-back: a customer that just entered the pool waits; adopted customers do not
SELECT crmpool.set_rules('customers', '{"pool_holdback": "2 hours"}');
SELECT crmpool.release('customers', 14, 12);
SELECT crmpool.claim('customers', 14, 13);
INSERT INTO customers (id, name) VALUES (31, 'new lead');
SELECT crmpool.claim('customers', 31, 13);
SET crmpool.fake_now = '2026-03-03 02:00:01+00';
SELECT crmpool.claim('customers', 14, 13);
SELECT crmpool.claim('customers', 31, 13);

-- reclaim cooldown: the previous owner waits; others do not
SELECT crmpool.set_rules('customers', '{"pool_holdback": null, "reclaim_cooldown": "7 days"}');
SELECT crmpool.release('customers', 14, 13, 'not interested');
SELECT crmpool.claim('customers', 14, 13);
SELECT crmpool.claim('customers', 14, 12);			-- 12 lost it too, on March 3
SELECT crmpool.claim('customers', 14, 15);			-- never owned it
SELECT crmpool.release('customers', 14, 15);
SELECT crmpool.claim('customers', 14, 13);			-- 13 lost it at 02:00:01, still cooling
SET crmpool.fake_now = '2026-03-10 02:00:01+00';
SELECT crmpool.claim('customers', 14, 13);

-- history: exact, non-overlapping spells; owner_at answers "who owned it at T"
SELECT owner, since, until, how_gained, how_ended FROM crmpool.history('customers', 14);
SELECT crmpool.owner_at('customers', 14, '2026-03-02 12:00+00') AS at_noon_mar2,
	   crmpool.owner_at('customers', 14, '2026-03-03 03:00+00') AS mar3,
	   crmpool.owner_at('customers', 14, '2026-03-11 00:00+00') AS mar11,
	   crmpool.owner_at('customers', 14, '2020-01-01 00:00+00') AS before_managed;

-- the actor is recorded
SET crmpool.actor = 'alice@sales';
SELECT crmpool.transfer('customers', 14, 13, 12);
SELECT owner, how_gained, actor FROM crmpool.history('customers', 14) WHERE until IS NULL;
RESET crmpool.actor;

-- counters always equal the data
SELECT l.rep, l.owned, c.n
FROM crmpool.rep_load('customers') l
FULL JOIN (SELECT owner_id AS rep, count(*) AS n FROM customers WHERE owner_id IS NOT NULL GROUP BY 1) c
	ON c.rep = l.rep
WHERE l.owned IS DISTINCT FROM c.n::int;

DROP TABLE customers;
DROP FUNCTION try(text);
RESET crmpool.fake_now;
