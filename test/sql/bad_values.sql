-- Values crmpool refuses up front, and sizes it supports instead of dropping silently.
SET TimeZone = 'UTC';
SET crmpool.fake_now = '2026-03-01 09:00+00';
\set VERBOSITY default

CREATE TABLE lead (
	id				int PRIMARY KEY,
	rep				int,
	pool			text,
	last_contact	timestamptz,
	deal_at			date,
	grade			text
);
INSERT INTO lead (id, pool, grade) SELECT g, 'east', 'A' FROM generate_series(1, 6) g;
SELECT crmpool.manage('lead', 'rep', 'pool', 'last_contact', 'deal_at', 'grade');
SELECT crmpool.set_rules('lead', '{"recycle_no_followup": "30 days"}');
SELECT crmpool.claim('lead', g, 5) FROM generate_series(1, 3) g;

-- ---------------------------------------------------------------------------------------------
-- Follow-up and deal times: finite, and a follow-up not after crmpool's clock, on every path
-- ---------------------------------------------------------------------------------------------
UPDATE lead SET last_contact = 'infinity' WHERE id = 1;
UPDATE lead SET last_contact = '-infinity' WHERE id = 1;
UPDATE lead SET last_contact = '2999-01-01' WHERE id = 1;		-- would postpone recycling
INSERT INTO lead (id, rep, last_contact) VALUES (7, 5, 'infinity');
UPDATE lead SET deal_at = 'infinity' WHERE id = 2;
UPDATE lead SET last_contact = '2026-02-28 09:00+00', deal_at = '2026-02-28' WHERE id = 1;
SELECT crmpool.follow_up('lead', 2, 5, 'infinity');
SELECT crmpool.follow_up('lead', 2, 5, '-infinity');
SELECT crmpool.follow_up('lead', 2, 5, '2026-03-02 09:00+00');
SELECT crmpool.follow_up('lead', 2, 5, '2026-02-27 09:00+00');
-- a pool customer's follow-up column is checked too (it counts once the customer is claimed)
UPDATE lead SET last_contact = 'infinity' WHERE id = 6;

-- due() never fails because of one row: a due time that is not finite (from 0.1, or written
-- behind crmpool's back) shows with days_left null, for this table and for due(NULL)
UPDATE crmpool.recycle_due SET due_at = 'infinity' WHERE customer = 3;
SELECT customer, due_at, days_left FROM crmpool.due('lead') ORDER BY customer;
SELECT count(*) FROM crmpool.due();
SELECT kind, customer, expected, found FROM crmpool.check('lead');
SELECT count(*) FROM crmpool.repair('lead');
-- an infinite follow-up already in the table (written while the triggers were off) counts as
-- none: the customer is due by its spell, never kept forever
ALTER TABLE lead DISABLE TRIGGER ALL;
UPDATE lead SET last_contact = 'infinity' WHERE id = 3;
ALTER TABLE lead ENABLE TRIGGER ALL;
SELECT crmpool.set_rules('lead', '{"recycle_no_followup": "31 days"}');
SELECT customer, due_at, days_left FROM crmpool.due('lead') ORDER BY customer;
SELECT * FROM crmpool.check('lead');

-- ---------------------------------------------------------------------------------------------
-- Text without bounds: refused up front with 22001, never deep in an index (54000)
-- ---------------------------------------------------------------------------------------------
SELECT crmpool.set_rules('lead', '{"private_cap": 5}', pool => repeat('p', 3000));
SELECT crmpool.set_rules('lead', '{"private_cap": 5}', pool => repeat('池', 201));
SELECT crmpool.set_rules('lead', '{"private_cap": 5}', pool => repeat('池', 200)) ->> 'private_cap';
SELECT crmpool.rules('lead', repeat('p', 201));
SELECT crmpool.clear_rules('lead', repeat('p', 201));
SELECT crmpool.clear_rules('lead', repeat('池', 200));
SELECT crmpool.release('lead', 1, 5, repeat('r', 1001));
SELECT crmpool.release('lead', 1, 5, repeat('因', 1000));
SELECT length(reason) FROM crmpool.ownership_log('lead', 1) WHERE how = 'release';
SELECT crmpool.follow_up('lead', 2, 5, NULL, repeat('n', 10001));
SELECT crmpool.follow_up('lead', 2, 5, NULL, repeat('记', 10000));
SELECT set_config('crmpool.actor', repeat('a', 201), false);
SELECT set_config('crmpool.actor', repeat('名', 200), false) = repeat('名', 200);
SET crmpool.actor = 'sales app / 张三';
SELECT crmpool.claim('lead', 4, 5);
SELECT actor FROM crmpool.ownership_log('lead', 4) ORDER BY seq DESC LIMIT 1;
RESET crmpool.actor;

-- ---------------------------------------------------------------------------------------------
-- Sizes crmpool supports instead of dropping the rest
-- ---------------------------------------------------------------------------------------------
-- more than 32 identity columns: the 40th phone column is checked like the first
SELECT format('CREATE TABLE many_phones (id int PRIMARY KEY, rep int, %s)',
	string_agg(format('p%s text', g), ', ')) FROM generate_series(1, 40) g \gexec
SELECT crmpool.manage('many_phones', 'rep');
SELECT crmpool.set_identity('many_phones', phone_columns => array_agg(format('p%s', g))::name[])
FROM generate_series(1, 40) g;
SELECT crmpool.set_rules('many_phones', '{"dedup_phone": "block"}') ->> 'dedup_phone';
INSERT INTO many_phones (id, p40) VALUES (1, '13800138000');
INSERT INTO many_phones (id, p1) VALUES (2, '13800138000');
INSERT INTO many_phones (id, p39, p40) VALUES (3, '13900139000', '+86 138 0013 8000');
SELECT count(*) FROM crmpool.find_duplicates('many_phones', phone => '13800138000');
SELECT * FROM crmpool.check('many_phones');

-- more than 64 customer levels: rules() shows every one
SELECT crmpool.set_rules('lead', jsonb_build_object('levels',
	jsonb_object_agg('L' || g, jsonb_build_object('recycle_no_followup', g || ' days'))))
	IS NOT NULL FROM generate_series(1, 70) g;
SELECT (SELECT count(*) FROM jsonb_object_keys(crmpool.rules('lead') -> 'levels')) AS levels,
	crmpool.rules('lead') -> 'levels' -> 'L70' AS l70;

-- the actor of a write is its session's, even after an error inside crmpool's bookkeeping
SELECT crmpool.set_rules('lead', '{"private_cap": 1}', rep => 9);
SET crmpool.actor = 'first';
SELECT crmpool.claim('lead', 5, 9);
SET crmpool.actor = 'second';
SELECT crmpool.claim('lead', 6, 9);							-- refused: over the cap
SET crmpool.actor = 'third';
DO $$BEGIN PERFORM crmpool.claim('lead', 6, 9); EXCEPTION WHEN others THEN NULL; END$$;
SELECT crmpool.release('lead', 5, 9);
SELECT actor, how FROM crmpool.ownership_log('lead', 5) ORDER BY seq;
RESET crmpool.actor;

DROP TABLE lead, many_phones;

-- a company name whose core is too long for crmpool's index: a clear 22001, on every path
CREATE TABLE long_names (id int PRIMARY KEY, rep int, name text);
SELECT crmpool.manage('long_names', 'rep');
SELECT crmpool.set_identity('long_names', 'name');
INSERT INTO long_names VALUES (1, NULL, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 100) g));
INSERT INTO long_names VALUES (2, NULL, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 60) g));
SELECT octet_length(core) FROM crmpool.identity_name WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'long_names'::regclass);
SELECT count(*) FROM crmpool.find_duplicates('long_names', (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 100) g));
ALTER TABLE long_names DISABLE TRIGGER ALL;
INSERT INTO long_names VALUES (3, NULL, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 100) g));
INSERT INTO long_names VALUES (4, NULL, (SELECT string_agg(md5(g::text), '') FROM generate_series(1, 70) g));
ALTER TABLE long_names ENABLE TRIGGER ALL;
SELECT crmpool.set_identity('long_names', 'name');			-- customer 3: past the index's own limit
SELECT count(*) FROM crmpool.repair('long_names');
DELETE FROM long_names WHERE id = 3;
SELECT crmpool.set_identity('long_names', 'name');			-- under it, over crmpool's
SELECT count(*) FROM crmpool.repair('long_names');
DROP TABLE long_names;
