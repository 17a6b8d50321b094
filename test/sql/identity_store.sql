-- How a write stores a customer's phone and e-mail keys (issue 11, insert cost).  The search
-- for duplicates of a key reads the rows of that key in order; when it has read them all and
-- met none of the customer's own, the key goes in without a look of its own.  A search that
-- stops early, at the duplicate it reports, proves nothing: a row of the customer's own that
-- an unchecked write left behind is then found by the look, and kept as
-- INSERT ... ON CONFLICT DO NOTHING kept it, never refused by the primary key.
SET crmpool.fake_now = '2030-01-07 12:00+00';
CREATE TABLE store_keys (id bigint PRIMARY KEY, company text, phone text, email text, owner_id bigint);
SELECT crmpool.manage('store_keys', 'owner_id');
SELECT crmpool.set_identity('store_keys', 'company', '{phone}', '{email}');
-- the search stops at the first customer with the same line (no switchboard search)
SELECT crmpool.set_rules('store_keys', '{"dedup_phone": "warn", "dedup_email": "warn", "dedup_phone_main": "off"}') ->> 'dedup_phone_main';

-- fresh keys: stored without a look
INSERT INTO store_keys (id, phone, email) VALUES (1, '010-5873 7000', 'li@lanyu.example');
-- rows of customer 2's own, left behind by an unchecked write, one of the same line as
-- customer 1 (after it in the key's order) and one of a fresh e-mail
INSERT INTO crmpool.identity_key (tenant, table_id, kind, key, customer)
VALUES (0, (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'store_keys'::regclass), 'p', crmpool.normalize_phone('010-5873 7000'), 2),
       (0, (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'store_keys'::regclass), 'e', 'wang@lanyu.example', 2);
-- customer 2: its phone duplicates customer 1's (warned); both rows of its own are kept
INSERT INTO store_keys (id, phone, email) VALUES (2, '(010) 5873 7000', 'wang@lanyu.example');
SELECT customer, kind, key FROM crmpool.identity_key
WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'store_keys'::regclass) ORDER BY customer, kind;
-- the same with the switchboard searched too: the search goes on past customer 1
SELECT crmpool.set_rules('store_keys', '{"dedup_phone_main": "warn"}') ->> 'dedup_phone_main';
INSERT INTO crmpool.identity_key (tenant, table_id, kind, key, customer)
VALUES (0, (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'store_keys'::regclass), 'p', crmpool.normalize_phone('010-5873 7000'), 3);
INSERT INTO store_keys (id, phone) VALUES (3, '010 58737000');
-- an update stores its new keys after forgetting the old ones
UPDATE store_keys SET phone = '010-5873 7001', email = 'zhao@lanyu.example' WHERE id = 3;
SELECT customer, kind, key FROM crmpool.identity_key
WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'store_keys'::regclass) ORDER BY customer, kind;
-- crmpool.check() finds the keys in step with the rows
SELECT count(*) AS disagreements FROM crmpool.check('store_keys');

SELECT crmpool.unmanage('store_keys');
DROP TABLE store_keys;
