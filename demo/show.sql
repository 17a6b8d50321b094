\pset footer off
\echo
\echo '=== The race: every hot lead has exactly one owner, whatever the timing ==='
SELECT count(*) AS attempts,
	   count(*) FILTER (WHERE outcome = 'claimed') AS claimed,
	   count(DISTINCT customer) FILTER (WHERE outcome = 'claimed') AS distinct_customers_claimed,
	   (SELECT count(*) FROM crm.customers WHERE pool = 'hot leads' AND owner_id IS NOT NULL) AS hot_leads_owned
FROM crm.attempts;

\echo '=== Refusals by reason (a claim_many outcome is the refusal''s name) ==='
SELECT outcome, count(*) FROM crm.attempts GROUP BY outcome ORDER BY count(*) DESC;

\echo '=== Who owns how many (crmpool.rep_load: counters kept by crmpool, checked against the table) ==='
SELECT r.name AS rep, l.owned, l.locked, l.claims_today,
	   (SELECT count(*) FROM crm.customers c WHERE c.owner_id = l.rep) AS count_in_table
FROM crmpool.rep_load('crm.customers') l JOIN crm.reps r ON r.id = l.rep
ORDER BY l.owned DESC, r.id LIMIT 8;

\echo '=== Rules say no, with a reason an app can show ==='
\set VERBOSITY default
\set ON_ERROR_STOP 0
\set SHOW_CONTEXT never
\echo '-- a customer that is already owned'
SELECT crmpool.claim('crm.customers', 301, 3);
\echo '-- the private cap (60): an admin fills rep 7 up to it, then rep 7 claims one too many'
SELECT count(*) AS assigned_to_rep_7 FROM (
	SELECT crmpool.assign('crm.customers', id, 7) FROM crm.customers
	WHERE owner_id IS NULL AND pool = 'general' ORDER BY id
	LIMIT greatest(0, 60 - (SELECT owned FROM crmpool.rep_load('crm.customers') WHERE rep = 7))) a;
SELECT crmpool.claim('crm.customers', 2001, 7);
\echo '-- cooldown: rep 11 gives a key account back, then wants it again at once'
SELECT crmpool.release('crm.customers', 310, 11, 'budget frozen');
SELECT crmpool.claim('crm.customers', 310, 11);
\echo '-- hold-back: a lead that just entered the pool waits an hour before anyone may claim it'
INSERT INTO crm.customers (id, name, pool) VALUES (30001, '杭州新锐智能科技有限公司', 'general');
SELECT crmpool.claim('crm.customers', 30001, 5);
\echo '-- a locked customer stays with its owner'
SELECT crmpool.lock('crm.customers', 305, 6);
SELECT crmpool.transfer('crm.customers', 305, 6, 9);
\echo '-- plain SQL from any app or script is checked too'
UPDATE crm.customers SET owner_id = 7 WHERE id = 2002;
UPDATE crm.customers SET owner_id = NULL WHERE id = 305;
\set ON_ERROR_STOP 1

\echo '=== Duplicate detection (查重): the same company or phone, however it is written ==='
\set ON_ERROR_STOP 0
SELECT id, name, phone FROM crm.customers WHERE id IN (24, 2004);
\echo '-- the 查重 screen: customer 24 with its region in brackets, and customer 2004''s phone written another way'
SELECT * FROM crmpool.find_duplicates('crm.customers',
	name => (SELECT regexp_replace(name, '^北京(.*?)(科技|贸易|物流|生物科技|文化传媒|餐饮管理|教育科技|电子|建筑工程|医疗器械)', '\1（北京）\2')
			 FROM crm.customers WHERE id = 24));
SELECT * FROM crmpool.find_duplicates('crm.customers',
	phone => (SELECT '0086 ' || substr(replace(phone, ' ', ''), 4) FROM crm.customers WHERE id = 2004));
\echo '-- an import that would create them is refused inside its transaction'
INSERT INTO crm.customers (id, name, pool)
SELECT 40001, regexp_replace(name, '^北京(.*?)(科技|贸易|物流|生物科技|文化传媒|餐饮管理|教育科技|电子|建筑工程|医疗器械)', '\1（北京）\2'), 'general'
FROM crm.customers WHERE id = 24;
INSERT INTO crm.customers (id, name, phone, pool)
SELECT 40002, 'Some New Buyer Ltd.', '(86)' || substr(replace(phone, ' ', ''), 4), 'general' FROM crm.customers WHERE id = 2004;
\echo '-- a different branch office of the same company is a different customer'
INSERT INTO crm.customers (id, name, pool)
SELECT 40003, name || '杭州分公司', 'general' FROM crm.customers WHERE id = 24;
SELECT id, name FROM crm.customers WHERE id >= 40001;
\set ON_ERROR_STOP 1

\echo '=== A customer''s exact ownership history (crmpool.history) ==='
SELECT crmpool.claim('crm.customers', 2003, 1);
SELECT crmpool.transfer('crm.customers', 2003, 1, 2);
SELECT crmpool.release('crm.customers', 2003, 2, 'duplicate of another account');
SELECT c.name AS customer, h.owner, r.name AS rep, h.since, h.until, h.how_gained, h.how_ended
FROM crmpool.history('crm.customers', 2003) h
JOIN crm.reps r ON r.id = h.owner, crm.customers c WHERE c.id = 2003;
SELECT seq, how, owner, reason FROM crmpool.ownership_log('crm.customers', 2003);

\echo '=== Invariants (all must be zero) ==='
SELECT
  (SELECT count(*) FROM crmpool.rep_load('crm.customers') l
	WHERE l.owned <> (SELECT count(*) FROM crm.customers c WHERE c.owner_id = l.rep)) AS counters_off,
  (SELECT count(*) FROM crm.customers c
	WHERE c.owner_id IS DISTINCT FROM (SELECT e.owner FROM crmpool.ownership_event e
									   WHERE e.rel = 'crm.customers'::regclass AND e.customer = c.id
									   ORDER BY e.seq DESC LIMIT 1)) AS spells_off,
  (SELECT count(*) FROM (SELECT customer FROM crm.attempts WHERE outcome = 'claimed'
						 GROUP BY customer HAVING count(*) > 1) d) AS double_claims;
