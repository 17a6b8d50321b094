-- Distribution from the pool: crmpool.distribute() by mode (round_robin, lottery, performance,
-- least_busy), its outcomes, claim_next (grab-next), pool order, rule auto_distribute, and the
-- statistics view; with the fairness figures of issue 10 (deterministic: seeded draws).
\set VERBOSITY default
-- crmpool's clock is the real one: the statistics view reads the last 30 days of now()
SET TimeZone = 'UTC';
SET crmpool.timezone = 'UTC';
CREATE FUNCTION dist_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
BEGIN
	EXECUTE 'SELECT ' || q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	RETURN st || ': ' || msg;
END $$;

-- yudao's crm_customer (as dist_customer), the columns used here (pool_name stands for the pool a lead sits in)
CREATE TABLE dist_customer (
	id				bigint PRIMARY KEY,
	name			varchar(255) NOT NULL,
	owner_user_id	bigint,
	deal_status		boolean NOT NULL DEFAULT false,
	pool_name		text,
	level			int
);
SELECT crmpool.manage('dist_customer', 'owner_user_id', pool_column => 'pool_name',
					  deal_column => 'deal_status');
SELECT crmpool.set_rep('dist_customer', r) FROM generate_series(1, 3) r;
INSERT INTO dist_customer (id, name) SELECT i, 'lead ' || i FROM generate_series(1, 9) i;

-- round_robin: 1, 2, 3, 1, 2, 3 ... in rep order, the cursor kept between calls
SELECT * FROM crmpool.distribute('dist_customer', n => 4, mode => 'round_robin');
SELECT * FROM crmpool.distribute('dist_customer', n => 2);
SELECT tenant, pool, last_rep, turns FROM crmpool.distribute_cursor;
-- history says how: distribute:<mode>
SELECT customer, owner, how FROM crmpool.ownership_event WHERE how LIKE 'distribute%' ORDER BY seq;

-- an inactive rep and a rep at its cap are skipped; their place in the turn is kept
SELECT crmpool.set_rules('dist_customer', '{"private_cap": 2}', rep => 1);
SELECT crmpool.set_rep('dist_customer', 3, active => false);
SELECT * FROM crmpool.distribute('dist_customer', n => 3);
SELECT crmpool.set_rep('dist_customer', 3);
SELECT crmpool.clear_rules('dist_customer', rep => 1);

-- named customers: owned, unknown, repeated, another pool
UPDATE dist_customer SET pool_name = 'vip' WHERE id = 9;
INSERT INTO dist_customer (id, name) VALUES (10, 'lead 10');
SELECT * FROM crmpool.distribute('dist_customer', customers => ARRAY[10, 1, 99, 10, 9]);

-- bad input
SELECT dist_try($$crmpool.distribute('dist_customer', mode => 'fastest')$$);
SELECT dist_try($$crmpool.distribute('dist_customer', n => -1)$$);
SELECT dist_try($$crmpool.set_rep('dist_customer', 1, weight => -1)$$);
SELECT dist_try($$crmpool.set_rep('dist_customer', 1, weight => 'infinity')$$);
SELECT dist_try($$crmpool.set_rep('dist_customer', 1, score => 'NaN')$$);
SELECT dist_try($$crmpool.set_rules('dist_customer', '{"auto_distribute": "fastest"}')$$);
SELECT dist_try($$crmpool.set_rules('dist_customer', '{"performance_source": 3}')$$);
SELECT dist_try($$crmpool.claim_next('dist_customer', 1, n => 0)$$);

-- nobody can take it: every rep capped
SELECT crmpool.set_rules('dist_customer', '{"private_cap": 0}');
INSERT INTO dist_customer (id, name) VALUES (11, 'lead 11');
SELECT * FROM crmpool.distribute('dist_customer', customers => ARRAY[11]);
SELECT crmpool.clear_rules('dist_customer');

-- reclaim_cooldown: rep 2 let customer 11 go (it had it); the next turn passes it over
SELECT crmpool.assign('dist_customer', 11, 2);
SELECT crmpool.release('dist_customer', 11, 2);
SELECT crmpool.set_rules('dist_customer', '{"reclaim_cooldown": "7 days"}');
SELECT last_rep FROM crmpool.distribute_cursor;
SELECT * FROM crmpool.distribute('dist_customer', customers => ARRAY[11]);
SELECT crmpool.clear_rules('dist_customer');

-- least_busy: the rep owning fewest gets it
SELECT owner_user_id, count(*) FROM dist_customer WHERE owner_user_id IS NOT NULL GROUP BY 1 ORDER BY 1;
INSERT INTO dist_customer (id, name) SELECT i, 'lead ' || i FROM generate_series(12, 14) i;
SELECT * FROM crmpool.distribute('dist_customer', n => 3, mode => 'least_busy');
SELECT owner_user_id, count(*) FROM dist_customer WHERE owner_user_id IS NOT NULL GROUP BY 1 ORDER BY 1;

-- lottery: the same seed, the same draw; weight 0 never wins
SELECT crmpool.set_rep('dist_customer', 1, weight => 0);
INSERT INTO dist_customer (id, name) SELECT i, 'lead ' || i FROM generate_series(20, 29) i;
BEGIN;
SELECT array_agg(rep ORDER BY customer) AS draw1 FROM crmpool.distribute('dist_customer', mode => 'lottery', seed => 42) \gset
ROLLBACK;
SELECT array_agg(rep ORDER BY customer) = :'draw1'::bigint[] AS same_draw, bool_and(rep <> 1) AS no_weight_zero
FROM crmpool.distribute('dist_customer', mode => 'lottery', seed => 42);
SELECT crmpool.set_rep('dist_customer', 1);

-- performance: from the app's score, or from deals won (default)
SELECT crmpool.set_rep('dist_customer', r, score => CASE r WHEN 3 THEN 1 ELSE 0 END) FROM generate_series(1, 3) r;
SELECT crmpool.set_rules('dist_customer', '{"performance_source": "score"}');
INSERT INTO dist_customer (id, name) SELECT i, 'lead ' || i FROM generate_series(30, 33) i;
SELECT rep, count(*) FROM crmpool.distribute('dist_customer', mode => 'performance', seed => 1) GROUP BY 1;
SELECT crmpool.clear_rules('dist_customer');
-- deals: rep 2 won two deals, rep 1 none, rep 3 none
UPDATE dist_customer SET deal_status = true WHERE id IN (SELECT id FROM dist_customer WHERE owner_user_id = 2 ORDER BY id LIMIT 2);
INSERT INTO dist_customer (id, name) SELECT i, 'lead ' || i FROM generate_series(40, 43) i;
SELECT rep, count(*) FROM crmpool.distribute('dist_customer', mode => 'performance', seed => 1) GROUP BY 1;

-- claim_next: pool order (priority column, then the key), under the claim rules
INSERT INTO dist_customer (id, name, level) VALUES (50, 'lead 50', 1), (51, 'lead 51', 9), (52, 'lead 52', 5);
SELECT crmpool.claim_next('dist_customer', 1, n => 2);
SELECT crmpool.set_priority_column('dist_customer', 'level');
SELECT crmpool.claim_next('dist_customer', 2, n => 1);
SELECT dist_try($$crmpool.set_priority_column('dist_customer', 'nope')$$);
-- the rep's own cap ends it: raised when nothing was claimed
INSERT INTO dist_customer (id, name) VALUES (53, 'lead 53'), (54, 'lead 54');
SELECT crmpool.set_rules('dist_customer', '{"private_cap": 0}', rep => 3);
SELECT dist_try($$crmpool.claim_next('dist_customer', 3)$$);
SELECT crmpool.clear_rules('dist_customer', rep => 3);
-- a customer this rep may not claim (a deal) is passed over
INSERT INTO dist_customer (id, name, deal_status, level) VALUES (55, 'lead 55', true, 7);
SELECT crmpool.set_rules('dist_customer', '{"claim_with_deal": false}');
SELECT crmpool.claim_next('dist_customer', 3, n => 5);
SELECT id, owner_user_id FROM dist_customer WHERE id = 55;
SELECT crmpool.clear_rules('dist_customer');
-- an empty pool: nothing, no error
SELECT count(*) FROM crmpool.claim_next('dist_customer', 3, 'empty');

-- auto_distribute: a lead inserted into the pool goes to a rep in the same transaction
SELECT crmpool.set_rules('dist_customer', '{"auto_distribute": "round_robin"}', pool => 'web');
INSERT INTO dist_customer (id, name, pool_name) VALUES (60, 'web lead', 'web'), (61, 'web lead', 'web'), (62, 'phone lead', NULL);
SELECT id, owner_user_id, pool_name FROM dist_customer WHERE id >= 60 ORDER BY id;
-- the hand-out waits for its INSERT's statement: the history has the INSERT, then the hand-out
SELECT customer, how, owner FROM crmpool.ownership_event
WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'dist_customer'::regclass)
  AND customer IN (60, 61) ORDER BY seq;
SELECT count(*) AS disagreements FROM crmpool.check('dist_customer');
-- a statement that fails after queuing a hand-out leaves none behind for the next one
CREATE FUNCTION dist_fail() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'refused by the app'; END $$;
CREATE TRIGGER zz_dist_fail AFTER INSERT ON dist_customer FOR EACH ROW WHEN (NEW.name = 'fail')
EXECUTE FUNCTION dist_fail();
BEGIN;
SAVEPOINT s;
INSERT INTO dist_customer (id, name, pool_name) VALUES (64, 'web lead', 'web'), (65, 'fail', 'web');
ROLLBACK TO s;
INSERT INTO dist_customer (id, name, pool_name) VALUES (66, 'web lead', 'web');
COMMIT;
SELECT id, owner_user_id FROM dist_customer WHERE id BETWEEN 64 AND 66 ORDER BY id;
DROP TRIGGER zz_dist_fail ON dist_customer;
DROP FUNCTION dist_fail();
DELETE FROM dist_customer WHERE id = 66;
-- nobody eligible: it stays in the pool, the INSERT succeeds
SELECT crmpool.set_rules('dist_customer', '{"private_cap": 0}', pool => 'web');
INSERT INTO dist_customer (id, name, pool_name) VALUES (63, 'web lead', 'web');
SELECT id, owner_user_id FROM dist_customer WHERE id = 63;
-- distribute() without a mode uses the pool's auto_distribute mode
SELECT crmpool.set_rules('dist_customer', '{"private_cap": null, "auto_distribute": "least_busy"}', pool => 'web');
SELECT customer, outcome FROM crmpool.distribute('dist_customer', 'web');
SELECT how FROM crmpool.ownership_event WHERE customer = 63 ORDER BY seq DESC LIMIT 1;

-- a pool with members: only they get its customers, in the order they joined (3, then 1)
SELECT crmpool.create_pool('dist_customer', 'members');
SELECT crmpool.set_pool_members('dist_customer', 'members', reps => ARRAY[3, 1]);
INSERT INTO dist_customer (id, name, pool_name) SELECT i, 'lead ' || i, 'members' FROM generate_series(70, 74) i;
SELECT * FROM crmpool.distribute('dist_customer', 'members', n => 4);
-- an inactive member keeps its place and is passed over
SELECT crmpool.set_rep('dist_customer', 3, active => false);
SELECT * FROM crmpool.distribute('dist_customer', 'members');
SELECT crmpool.set_rep('dist_customer', 3);
-- claim_next by a rep who is not a member: CR012, nothing claimed
INSERT INTO dist_customer (id, name, pool_name) VALUES (75, 'lead 75', 'members');
SELECT dist_try($$crmpool.claim_next('dist_customer', 2, 'members')$$);
SELECT crmpool.claim_next('dist_customer', 1, 'members');

-- statistics per pool and rep, by mode
SELECT pool, rep, received, round_robin, lottery, performance, least_busy
FROM crmpool.distribution_stats WHERE rel = 'dist_customer'::regclass ORDER BY pool NULLS FIRST, rep;

-- Fairness (issue 10).  Round robin: 10,000 hand-outs to 20 reps, max - min <= 1.
CREATE TABLE fair (id bigint PRIMARY KEY, owner bigint);
SELECT crmpool.manage('fair', 'owner');
SELECT crmpool.set_rep('fair', r) FROM generate_series(1, 20) r;
INSERT INTO fair SELECT i FROM generate_series(1, 10000) i;
SELECT count(*) FILTER (WHERE outcome = 'distributed') AS distributed
FROM crmpool.distribute('fair', mode => 'round_robin');
SELECT max(c) - min(c) AS spread, max(c) - min(c) <= 1 AS fair
FROM (SELECT owner, count(*) c FROM fair GROUP BY owner) s;
-- in the middle of a cycle, across calls: no rep two turns in a row
UPDATE fair SET owner = NULL WHERE id <= 37;
SELECT count(*) FROM crmpool.distribute('fair', n => 17);
SELECT count(*) FROM crmpool.distribute('fair', n => 20);
SELECT count(*) AS repeats FROM (
	SELECT rep, lag(rep) OVER (ORDER BY ctid) AS prev FROM crmpool.distribute_log WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'fair'::regclass)) s
WHERE rep = prev;

-- Lottery: 100,000 seeded draws over 4 reps weighted 1:2:3:4; chi-square with 3 degrees of
-- freedom must stay under 16.266 (p > 0.001).
CREATE TABLE lot (id bigint PRIMARY KEY, owner bigint);
SELECT crmpool.manage('lot', 'owner');
SELECT crmpool.set_rep('lot', r, weight => r) FROM generate_series(1, 4) r;
INSERT INTO lot SELECT i FROM generate_series(1, 100000) i;
SELECT count(*) FROM crmpool.distribute('lot', mode => 'lottery', seed => 20261130);
SELECT round(chi2::numeric, 3) AS chi_square, chi2 < 16.266 AS p_above_0_001 FROM (
	SELECT sum((c - e) ^ 2 / e) AS chi2 FROM (
		SELECT owner, count(*)::float8 AS c, 100000 * owner / 10.0 AS e FROM lot GROUP BY owner) s) t;

SELECT crmpool.unmanage(t) FROM unnest(ARRAY['dist_customer', 'fair', 'lot']::regclass[]) t;
DROP TABLE dist_customer, fair, lot;
DROP FUNCTION dist_try(text);
