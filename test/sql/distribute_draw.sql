-- The lottery's draw (modes lottery and performance, src/ops/distribute.c "draw"): taken over
-- the reps eligible for the whole call, the drawn rep's reclaim_cooldown checked alone, and the
-- draw taken again among the rest when it cannot take the customer.  Each rep that may take a
-- customer must still get it with probability weight / (weight of the reps that may take it).
SET TimeZone = 'UTC';
SET crmpool.timezone = 'UTC';

-- Four reps weighted 1:2:3:4; rep 2 lost every customer (7-day cooldown) and is drawn 20% of
-- the time first: each such draw is taken again among reps 1, 3 and 4 (a rep in the middle of
-- the cumulative weights left out), whose shares must be 1:3:4 (chi-square with 2 degrees of
-- freedom under 13.816: p > 0.001).
CREATE TABLE draw (id bigint PRIMARY KEY, owner bigint);
SELECT crmpool.manage('draw', 'owner');
SELECT crmpool.set_rep('draw', r, weight => r) FROM generate_series(1, 4) r;
INSERT INTO draw SELECT i FROM generate_series(1, 20000) i;
UPDATE draw SET owner = 2;
UPDATE draw SET owner = NULL;
SELECT crmpool.set_rules('draw', '{"reclaim_cooldown": "7 days"}');
SELECT outcome, count(*) FROM crmpool.distribute('draw', mode => 'lottery', seed => 7) GROUP BY 1;
SELECT count(*) FILTER (WHERE owner = 2) AS to_rep_in_cooldown FROM draw;
SELECT round(chi2::numeric, 3) AS chi_square, chi2 < 13.816 AS p_above_0_001 FROM (
	SELECT sum((c - e) ^ 2 / e) AS chi2 FROM (
		SELECT owner, count(*)::float8 AS c, 20000 * owner / 8.0 AS e FROM draw GROUP BY owner) s) t;

-- The same seed, the same draw, cooldown redraws included.
UPDATE draw SET owner = NULL WHERE id <= 100;
SELECT crmpool.clear_rules('draw');
SELECT crmpool.set_rules('draw', '{"reclaim_cooldown": "7 days"}');
BEGIN;
SELECT array_agg(rep ORDER BY customer) AS draw1 FROM crmpool.distribute('draw', mode => 'lottery', seed => 8) \gset
ROLLBACK;
SELECT array_agg(rep ORDER BY customer) = :'draw1'::bigint[] AS same_draw, count(*) AS handed_out,
	bool_and(rep <> 2) AS never_in_cooldown
FROM crmpool.distribute('draw', mode => 'lottery', seed => 8);

-- Every rep in cooldown for a customer: the reason, after each was drawn once; the others of
-- the call are still handed out.
UPDATE draw SET owner = 1 WHERE id = 1;
UPDATE draw SET owner = NULL WHERE id = 1;
UPDATE draw SET owner = 3 WHERE id = 1;
UPDATE draw SET owner = NULL WHERE id = 1;
UPDATE draw SET owner = 4 WHERE id = 1;
UPDATE draw SET owner = NULL WHERE id = 2;
UPDATE draw SET owner = NULL WHERE id = 1;
SELECT customer, rep IS NOT NULL AS has_rep, outcome
FROM crmpool.distribute('draw', mode => 'lottery', customers => ARRAY[1, 2], seed => 9) ORDER BY customer;

-- Caps: a rep whose cap fills leaves the draw; once all are full, private_cap_reached.
UPDATE draw SET owner = NULL WHERE id <= 30;
SELECT crmpool.clear_rules('draw');
SELECT crmpool.set_rules('draw', '{"private_cap": 5}');
UPDATE draw SET owner = NULL WHERE id > 30;
SELECT outcome, rep, count(*) FROM crmpool.distribute('draw', mode => 'lottery', n => 30, seed => 10)
GROUP BY 1, 2 ORDER BY 1, 2;

SELECT crmpool.unmanage('draw');
DROP TABLE draw;
