-- test/t/004_upgrade_data.pl: fills a database through every path crmpool offers, the same way
-- under 0.1's SQL (with the current library) and under a fresh install.  crmpool.fake_now makes
-- every time crmpool records the same in both.
\set ON_ERROR_STOP 1
SET crmpool.fake_now = '2026-01-05 09:00+00';
SET crmpool.actor = 'admin';
CREATE TABLE public.cust (
	id bigint PRIMARY KEY, name text, phone text, email text, owner int, pool text,
	last_contact timestamptz, deal boolean NOT NULL DEFAULT false, level text);
INSERT INTO public.cust (id, name, phone, email, owner, pool, deal, level)
SELECT g, 'Zhongda' || chr(65 + g % 26) || chr(65 + g / 26) || ' Trading Co Ltd', '1380013' || lpad(g::text, 4, '0'),
	'c' || g || '@example.com', CASE WHEN g <= 2 THEN 5 END, CASE WHEN g % 2 = 0 THEN 'east' ELSE 'west' END,
	g = 2, CASE WHEN g % 5 = 0 THEN 'A' ELSE 'B' END
FROM generate_series(1, 40) g;
SELECT crmpool.manage('public.cust', 'owner', pool_column => 'pool', followup_column => 'last_contact',
	deal_column => 'deal', level_column => 'level');
SELECT crmpool.set_identity('public.cust', 'name', '{phone}', '{email}');
-- rules at each level: table, pool, rep, pool and rep, customer level
SELECT crmpool.set_rules('public.cust', '{"private_cap": 6, "lock_cap": 2, "dedup_phone": "block",
	"dedup_name": "warn", "recycle_no_followup": "10 days", "warn_before": "3 days", "reclaim_cooldown": "2 days"}');
SELECT crmpool.set_rules('public.cust', '{"private_cap": 8, "daily_claim_limit": 5}', pool => 'east');
SELECT crmpool.set_rules('public.cust', '{"private_cap": 4}', rep => 7);
SELECT crmpool.set_rules('public.cust', '{"lock_cap": 1, "pool_holdback": "1 hour"}', pool => 'west', rep => 8);
SELECT crmpool.set_rules('public.cust', '{"levels": {"A": {"recycle_no_followup": "20 days"}}}');
SELECT crmpool.clear_rules('public.cust', pool => 'west', rep => 8, keys => '{pool_holdback}');
-- a key under "levels" that 0.2's set_rules refuses, as 0.1's library stored it
INSERT INTO crmpool.rule_set (rel, pool, rep, rules)
VALUES ('public.cust', 'east', 9, '{"levels": {"B": {"private_cap": 1}}}');
-- a table managed, used, then detached
CREATE TABLE public.scratch (id int PRIMARY KEY, owner int);
INSERT INTO public.scratch SELECT g, NULL FROM generate_series(1, 3) g;
SELECT crmpool.manage('public.scratch', 'owner');
SELECT crmpool.claim('public.scratch', 1, 7);
SELECT crmpool.unmanage('public.scratch');
-- claims, releases with reasons, assign, transfer, locks, follow-ups, direct writes
SET crmpool.actor = 'alice';
SELECT crmpool.claim('public.cust', 11, 7);
SELECT crmpool.claim('public.cust', 12, 7);
SELECT * FROM crmpool.claim_many('public.cust', '{13,14,15,16,17}', 7);
SELECT crmpool.release('public.cust', 13, 7, 'wrong number');
SELECT crmpool.release('public.cust', 14, 7);
SELECT crmpool.lock('public.cust', 11, 7);
SELECT crmpool.lock('public.cust', 12, 7);
SELECT crmpool.unlock('public.cust', 12, 7);
SELECT crmpool.follow_up('public.cust', 12, 7, note => 'called, interested');
SET crmpool.actor = 'bob';
SELECT crmpool.claim('public.cust', 21, 8);
SELECT crmpool.lock('public.cust', 21, 8);
SELECT crmpool.claim('public.cust', 22, 9);
SELECT crmpool.claim('public.cust', 24, 9);
SELECT crmpool.claim('public.cust', 26, 9);
SET crmpool.actor = 'admin';
SELECT crmpool.assign('public.cust', 20, 8);
SELECT crmpool.transfer('public.cust', 20, 8, 9);
UPDATE public.cust SET owner = 8 WHERE id = 23;
UPDATE public.cust SET last_contact = '2026-01-04 15:00+00' WHERE id = 11;
UPDATE public.cust SET deal = true WHERE id = 12;
-- a duplicate e-mail under "warn": let through, and listed
INSERT INTO public.cust (id, name, phone, email, pool, level)
VALUES (41, 'Dongfang Logistics', '13900000041', 'C3@Example.com', 'east', 'B');
-- an e-mail with a plus tag at Gmail: 0.1 keys the address, 0.2 the mailbox it reaches
INSERT INTO public.cust (id, name, phone, email, pool, level)
VALUES (42, 'Qorvex Instruments Ltd', '13900000042', 'Li.Ming+crm@GMail.com', 'east', 'B');
SELECT crmpool.claim('public.cust', 30, 9);
DELETE FROM public.cust WHERE id = 30;
-- recycling: warnings a week later, then the due customers go back to their pools
SET crmpool.fake_now = '2026-01-13 09:00+00';
CALL crmpool.recycle('public.cust');
SET crmpool.fake_now = '2026-01-15 10:00+00';
SELECT crmpool.recycle_now('public.cust');
SELECT crmpool.claim('public.cust', 31, 7);
SELECT crmpool.follow_up('public.cust', 31, 7, '2026-01-15 09:30+00', 'visited');
