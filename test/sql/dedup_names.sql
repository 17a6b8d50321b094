-- Company names end to end (issue 11): homophone slips, traditional characters, pinyin and
-- English names, short forms and English abbreviations are found by the trigger and by
-- find_duplicates; other sectors, branches, other regions and names without a core never are.
SET crmpool.fake_now = '2026-06-01 10:00:00+00';
SET client_encoding = 'UTF8';
CREATE TABLE firms (id bigint PRIMARY KEY, name text, owner_id bigint);
INSERT INTO firms (id, name) VALUES
	(1, '广州市鸣缔教育科技股份有限公司'),
	(2, '佛山濠远科技有限公司'),
	(3, '宏锟（湖州）精密机械有限公司'),
	(4, 'Orvrick National Materials LLC'),
	(5, '北京科技发展有限公司'),
	(6, '上海翊楷文化传媒有限公司');
SELECT crmpool.manage('firms', 'owner_id');
SELECT crmpool.set_identity('firms', 'name');

-- What is stored and looked up: the match key of the core (its pinyin), not the core.
SELECT customer, core, core = crmpool.company_key(name) AS is_key
FROM crmpool.identity_name WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'firms'::regclass) ORDER BY customer;

-- find_duplicates at the default threshold: each variant finds its company and nothing else.
SELECT n, q, (SELECT array_agg(customer ORDER BY customer) FROM crmpool.find_duplicates('firms', name => q)) AS found
FROM unnest(ARRAY[
	'广州鸣蒂教育科技有限公司',				-- homophone slip: 1
	'廣州市鳴締教育科技股份有限公司',		-- traditional: 1
	'Guangzhou Mingdi Education Technology Co., Ltd.',	-- pinyin name: 1
	'Haoyuan Tech',						-- pinyin and English: 2
	'宏锟精密公司',						-- short form: 3
	'Orvrick Natl Materials Limited Liability Company',	-- abbreviations: 4
	'上海翊楷文化傳媒有限公司',				-- traditional: 6
	'广州市明蒂教育科技股份有限公司',		-- two characters written differently: none
	'广州市鸣涛教育科技股份有限公司',		-- another sound: none
	'广州市鸣蒂餐饮管理有限公司',			-- another sector: none
	'杭州市鸣蒂教育科技有限公司',			-- another city: none
	'广州市鸣缔教育科技股份有限公司天河分公司',	-- a branch of 1: none
	'宏锟餐饮',							-- short form of another sector: none
	'Haoyuan Tech Hangzhou Branch',		-- a branch: none
	'北京科技发展有限公司',				-- no distinctive core: none, not even itself
	'Hao Yuan']) WITH ORDINALITY AS t(q, n)		-- pinyin in two words: 2
ORDER BY n;

-- Below 0.75 the bigram candidates (GIN) come in too; names with the same key still count
-- (the pinyin name shares no bigram with the Chinese one).
SELECT customer, round(score::numeric, 3) AS score
FROM crmpool.find_duplicates('firms', name => 'Haoyuan Technology Co., Ltd.', min_score => 0.5);

-- The trigger under "block": a homophone slip and a pinyin name are refused (CR020) ...
SELECT crmpool.set_rules('firms', '{"dedup_name": "block"}') ->> 'dedup_name' AS dedup_name;
\set VERBOSITY default
INSERT INTO firms (id, name) VALUES (10, '广州鸣蒂教育科技有限公司');
INSERT INTO firms (id, name) VALUES (11, 'Foshan Haoyuan Technology Co., Ltd.');
-- ... another sound, another sector and a branch go in.
INSERT INTO firms (id, name) VALUES (12, '广州市鸣涛教育科技有限公司');
INSERT INTO firms (id, name) VALUES (13, '广州市鸣蒂餐饮管理有限公司');
INSERT INTO firms (id, name) VALUES (14, '广州市鸣缔教育科技股份有限公司天河分公司');
-- Renaming a customer into a homophone slip of another is refused too.
UPDATE firms SET name = '广州鸣蒂教育科技有限公司' WHERE id = 12;

-- duplicate_groups joins names with the same key that score at the threshold.
SELECT crmpool.set_rules('firms', '{"dedup_name": "warn"}') ->> 'dedup_name' AS dedup_name;
INSERT INTO firms (id, name) VALUES (15, '广州鸣蒂教育科技有限公司');
SELECT group_id, customer, matched_on FROM crmpool.duplicate_groups('firms') ORDER BY group_id, customer;

-- repair() finds the stored keys in step with the names.
SELECT count(*) AS out_of_step FROM crmpool.check('firms');

SELECT crmpool.unmanage('firms');
DROP TABLE firms;
