-- Distribution (分配): a manager hands out the morning's new leads by each mode, and prints who
-- got how many.  Weights: the five senior reps draw twice as often in the lottery; the app's
-- score (performance) is the rep id modulo 4, as a CRM would write its own ranking.
\pset footer off
\echo
\echo '=== Distribution (分配): the morning''s new leads, handed out by each mode ==='
SELECT count(crmpool.set_rep('crm.customers', id, weight => CASE WHEN id <= 5 THEN 2 ELSE 1 END,
							 score => id % 4)) AS reps_set
FROM crm.reps;
SELECT crmpool.set_rules('crm.customers', '{"private_cap": 500, "performance_source": "score", "pool_holdback": null,
										   "dedup_name": "off"}',
						 pool => 'morning leads');
CREATE TEMP TABLE handed (mode text, rep int, outcome text);
DO $$
DECLARE
	m text;
	batch int := 0;
BEGIN
	FOREACH m IN ARRAY ARRAY['round_robin', 'lottery', 'performance', 'least_busy'] LOOP
		batch := batch + 1;
		-- 60 leads arrive overnight in the "morning leads" pool
		INSERT INTO crm.customers (id, name, pool)
		SELECT 100000 + batch * 1000 + g, '晨间线索 morning lead ' || batch || '-' || g, 'morning leads'
		FROM generate_series(1, 60) g;
		INSERT INTO handed SELECT m, d.rep, d.outcome
		FROM crmpool.distribute('crm.customers', 'morning leads', mode => m, seed => 7) d;
	END LOOP;
END $$;
\echo '-- leads received per rep, by mode (round_robin: 3 each; lottery: seniors about twice;'
\echo '-- performance: by score, score 0 gets none; least_busy: the reps owning fewest)'
SELECT r.id, r.name AS rep,
	   count(*) FILTER (WHERE h.mode = 'round_robin') AS round_robin,
	   count(*) FILTER (WHERE h.mode = 'lottery') AS lottery,
	   count(*) FILTER (WHERE h.mode = 'performance') AS performance,
	   count(*) FILTER (WHERE h.mode = 'least_busy') AS least_busy
FROM crm.reps r LEFT JOIN handed h ON h.rep = r.id
GROUP BY r.id, r.name ORDER BY r.id;
SELECT outcome, count(*) FROM handed GROUP BY outcome;

\echo '-- grab-next (抢单): rep 3 takes the next two leads of the pool, in pool order'
INSERT INTO crm.customers (id, name, pool)
SELECT 109000 + g, '晨间线索 late lead ' || g, 'morning leads' FROM generate_series(1, 3) g;
SELECT crmpool.claim_next('crm.customers', 3, 'morning leads', 2) AS claimed;

\echo '-- the manager''s fairness view (crmpool.distribution_stats, last 30 days)'
SELECT s.pool, sum(s.received) AS received, min(s.received) AS fewest_per_rep, max(s.received) AS most_per_rep
FROM crmpool.distribution_stats s WHERE s.rel = 'crm.customers'::regclass GROUP BY s.pool;
