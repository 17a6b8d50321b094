-- TRUNCATE of a table with identity columns frees every key: the phones, e-mails and names of
-- customers that are gone refuse no one.
SET crmpool.fake_now = '2026-06-01 10:00:00+00';
CREATE TABLE leads (id bigint PRIMARY KEY, company text, phone text, email text, owner_id bigint);
SELECT crmpool.manage('leads', 'owner_id');
SELECT crmpool.set_identity('leads', 'company', '{phone}', '{email}');
SELECT crmpool.set_rules('leads', '{"dedup_phone": "block", "dedup_email": "block", "dedup_name": "block"}');
INSERT INTO leads VALUES (1, 'Acme Robotics Ltd.', '13800138000', 'ops@acme.com', NULL),
						 (2, 'Brightwave Media LLC', '021-6666 8888', NULL, 5);
TRUNCATE leads;
SELECT count(*) AS keys_left FROM crmpool.identity_key;
SELECT count(*) AS names_left FROM crmpool.identity_name;
-- the same customers again, and customer 1 with other values: nothing is refused, and only
-- the new values are its keys
INSERT INTO leads VALUES (3, 'Acme Robotics Ltd.', '+86 138 0013 8000', 'OPS@acme.com', NULL),
						 (1, 'Oakmont Foods LLC', '13900139000', NULL, NULL);
SELECT kind, key, customer FROM crmpool.identity_key ORDER BY customer, kind, key;
SELECT customer, core FROM crmpool.identity_name ORDER BY customer;
-- and the check still works after it
INSERT INTO leads VALUES (4, 'Acme Robotics Limited', NULL, NULL, NULL);
TRUNCATE leads;
-- a TRUNCATE rolled back frees nothing
BEGIN;
INSERT INTO leads VALUES (5, 'Acme Robotics Ltd.', '13800138000', NULL, NULL);
SAVEPOINT s;
TRUNCATE leads;
ROLLBACK TO s;
INSERT INTO leads VALUES (6, 'Other Co.', '138-0013-8000', NULL, NULL);
ROLLBACK;
SELECT crmpool.unmanage('leads');
DROP TABLE leads;
RESET crmpool.fake_now;
