-- How a write forgets a customer's phone and e-mail keys (issue 11, insert cost).
-- crmpool.identity_key has no index by customer: an UPDATE or DELETE forgets the keys its old
-- row's values made, by the primary key, and crmpool.repair() the keys it read.  Each case
-- lists the keys left, which must be exactly those of the rows as they are now.
SET crmpool.fake_now = '2030-01-07 12:00+00';
CREATE TABLE forget_keys (id bigint PRIMARY KEY, company text, phone text, phone2 text,
						  email text, owner_id bigint, deleted boolean NOT NULL DEFAULT false);
SELECT crmpool.manage('forget_keys', 'owner_id');
SELECT crmpool.set_identity('forget_keys', 'company', '{phone, phone2}', '{email}');
SELECT crmpool.set_rules('forget_keys', '{"dedup_phone": "warn", "dedup_email": "warn", "dedup_name": "warn"}') IS NOT NULL AS set;
CREATE FUNCTION forget_keys_left() RETURNS TABLE (customer bigint, kind "char", key text)
LANGUAGE sql AS $$
	SELECT k.customer, k.kind, k.key FROM crmpool.identity_key k
	WHERE k.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'forget_keys'::regclass)
	UNION ALL
	SELECT n.customer, 'n', n.name FROM crmpool.identity_name n
	WHERE n.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'forget_keys'::regclass)
	ORDER BY 1, 2, 3
$$;

-- two customers share a phone line (warned): forgetting one's never touches the other's
INSERT INTO forget_keys (id, company, phone, phone2, email) VALUES
	(1, '北京蓝宇科技有限公司', '010-5873 7000', '138 0013 8000', 'Li.Ming+crm@Gmail.com'),
	(2, '上海青禾贸易有限公司', '(010) 58737000', NULL, 'wang@qinghe.example');
SELECT * FROM forget_keys_left();
-- an update of one phone and the e-mail forgets exactly the old ones (the other phone stays)
UPDATE forget_keys SET phone2 = '139 0013 9000', email = 'liming@lanyu.example' WHERE id = 1;
SELECT * FROM forget_keys_left();
-- after a rule change: the fold rules decide what matches, never what is stored, so the keys
-- an update gives up are found the same way
SELECT crmpool.set_rules('forget_keys', '{"fold_plus_tags": false, "fold_gmail_dots": false}') IS NOT NULL AS set;
UPDATE forget_keys SET email = 'Li.Ming+crm@Gmail.com' WHERE id = 1;
UPDATE forget_keys SET email = 'li.ming@lanyu.example', phone = NULL WHERE id = 1;
SELECT * FROM forget_keys_left();
-- a delete forgets every key and the name of its customer, and only those
DELETE FROM forget_keys WHERE id = 1;
SELECT * FROM forget_keys_left();

-- soft-deleted customers (the deleted column mapped when set_identity() ran): a soft delete
-- forgets the keys, an undelete stores them again
SELECT crmpool.manage('forget_keys', 'owner_id', deleted_column => 'deleted') IS NOT NULL AS managed;
SELECT crmpool.set_identity('forget_keys', 'company', '{phone, phone2}', '{email}');
INSERT INTO forget_keys (id, company, phone, email) VALUES
	(3, '深圳华星电子有限公司', '0755-8888 1234', 'hx@huaxing.example');
UPDATE forget_keys SET deleted = true WHERE id = 3;
SELECT * FROM forget_keys_left() WHERE customer = 3;
UPDATE forget_keys SET deleted = false, phone = '0755-8888 4321' WHERE id = 3;
SELECT * FROM forget_keys_left() WHERE customer = 3;
-- mapped after set_identity() stored a soft-deleted customer's keys: its row now gives none,
-- yet a delete forgets what the earlier write stored
SELECT crmpool.manage('forget_keys', 'owner_id') IS NOT NULL AS managed;
INSERT INTO forget_keys (id, company, phone, email, deleted) VALUES
	(4, '杭州云杉网络有限公司', '0571-8666 5678', 'ys@yunshan.example', true);
SELECT crmpool.manage('forget_keys', 'owner_id', deleted_column => 'deleted') IS NOT NULL AS managed;
SELECT * FROM forget_keys_left() WHERE customer = 4;
DELETE FROM forget_keys WHERE id = 4;
SELECT * FROM forget_keys_left() WHERE customer = 4;
SELECT count(*) AS disagreements FROM crmpool.check('forget_keys');

-- a key no write of the row made (left by a write with the trigger disabled) stays past an
-- update and a delete of its customer; check() reports it and repair() removes exactly it
SET session_replication_role = replica;
UPDATE forget_keys SET email = 'old@qinghe.example' WHERE id = 2;
SET session_replication_role = origin;
INSERT INTO crmpool.identity_key (tenant, table_id, kind, key, customer)
VALUES (0, (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'forget_keys'::regclass), 'e', 'stale@qinghe.example', 2);
UPDATE forget_keys SET email = 'new@qinghe.example' WHERE id = 2;
SELECT * FROM forget_keys_left() WHERE customer = 2;
SELECT customer, expected, found FROM crmpool.check('forget_keys') WHERE kind = 'identity';
SELECT count(*) AS fixed FROM crmpool.repair('forget_keys') WHERE kind = 'identity';
SELECT * FROM forget_keys_left() WHERE customer = 2;
DELETE FROM forget_keys WHERE id = 2;
SELECT * FROM forget_keys_left() WHERE customer = 2;

-- a name row of the customer's own that an unchecked write left behind: the insert's look at
-- the primary key meets it, and the name is overwritten (INSERT ... ON CONFLICT DO UPDATE)
INSERT INTO crmpool.identity_name (tenant, table_id, customer, name, core, tokens)
VALUES (0, (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'forget_keys'::regclass), 5,
		'旧名称有限公司', crmpool.company_key('旧名称有限公司'), '{1}');
INSERT INTO forget_keys (id, company, phone) VALUES (5, '成都锦江餐饮有限公司', '028-8555 0000');
SELECT * FROM forget_keys_left() WHERE customer = 5;
SELECT count(*) AS disagreements FROM crmpool.check('forget_keys');

DROP FUNCTION forget_keys_left();
SELECT crmpool.unmanage('forget_keys') IS NOT NULL AS unmanaged;
DROP TABLE forget_keys;
