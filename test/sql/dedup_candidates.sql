-- Which existing names are compared with a new one.  A name with another match key scores at
-- most 0.75, so above that only names with the same key can match (they are found by the key);
-- at or below it, names with other cores count when they share enough bigrams of the core.
SET crmpool.fake_now = '2026-06-01 10:00:00+00';
SET client_encoding = 'UTF8';
CREATE TABLE firms (id bigint PRIMARY KEY, name text, phone text, owner_id bigint);
INSERT INTO firms (id, name) VALUES
	(1, 'Abab Trading Ltd.'),		-- core abab: bigrams ab, ba
	(2, 'Aba Trading Ltd.'),		-- core aba: the same bigrams, another core
	(3, 'Northwind Trading Ltd.'),	-- 8 bigrams
	(4, 'Northwand Trading Ltd.'),	-- 6 of them shared with Northwind
	(5, 'Northwood Trading Ltd.'),	-- 5 of them shared with Northwind
	(6, '北京百川汇智能科技有限公司');
SELECT crmpool.manage('firms', 'owner_id');
SELECT crmpool.set_identity('firms', 'name', '{phone}');

-- the same bigrams under another core: 0.75, found at 0.75 and not above
SELECT crmpool.name_similarity('Abab Trading Ltd.', 'Aba Trading Ltd.');
SELECT customer, score FROM crmpool.find_duplicates('firms', name => 'Abab Trading Ltd.', min_score => 0.75);
SELECT customer, score FROM crmpool.find_duplicates('firms', name => 'Abab Trading Ltd.', min_score => 0.76);
-- 6 of 8 bigrams shared: 0.75 x 0.75 = 0.5625, found at exactly that score
SELECT customer, score FROM crmpool.find_duplicates('firms', name => 'Northwind Trading Ltd.', min_score => 0.5625);
SELECT customer, score FROM crmpool.find_duplicates('firms', name => 'Northwind Trading Ltd.', min_score => 0.57);
-- 5 of 8: 0.46875
SELECT customer, score FROM crmpool.find_duplicates('firms', name => 'Northwind Trading Ltd.', min_score => 0.46);
SELECT customer, score FROM crmpool.find_duplicates('firms', name => 'Northwind Trading Ltd.', min_score => 0.47);
-- at the default threshold only the same match key (crmpool.company_key), whatever the region:
-- the same core, or a homophone slip of it (荟 and 汇 are both hui); 华 (hua) is another name
SELECT customer, score FROM crmpool.find_duplicates('firms', name => '百川汇智能科技有限公司');
SELECT customer, score FROM crmpool.find_duplicates('firms', name => '百川荟智能科技有限公司');
SELECT customer, score FROM crmpool.find_duplicates('firms', name => '百川华智能科技有限公司');

-- the trigger too: at the default threshold a near miss goes in silently ...
INSERT INTO firms (id, name) VALUES (7, 'Northwund Trading Ltd.');
-- ... at a table threshold of 0.5 it is a possible duplicate (6 of 8 bigrams: 0.5625)
SELECT crmpool.set_rules('firms', '{"name_threshold": 0.5}') ->> 'name_threshold' AS threshold;
INSERT INTO firms (id, name) VALUES (8, 'Northwond Trading Ltd.');
SELECT crmpool.set_rules('firms', '{"name_threshold": 0.5, "dedup_name": "block"}') ->> 'dedup_name' AS dedup_name;
INSERT INTO firms (id, name) VALUES (9, 'Northwend Trading Ltd.');
SELECT customer, existing, matched_on, score FROM crmpool.duplicate_warnings('firms');

SELECT crmpool.unmanage('firms');
DROP TABLE firms;
RESET crmpool.fake_now;
