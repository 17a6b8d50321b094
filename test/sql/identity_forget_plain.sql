-- Forgetting identity keys without SPI (issue 11).  An UPDATE or DELETE of a customer deletes its
-- old phone, e-mail and name rows by their primary keys (src/track/identity.c, forget); what it
-- gives up is free for the next customer at once, under "block".  While a superuser has added
-- a trigger or a rule to crmpool's identity tables, the DELETE statements run instead and apply
-- them.
SET crmpool.fake_now = '2030-01-07 12:00+00';
CREATE TABLE forget_plain (id bigint PRIMARY KEY, company text, phone text, email text, owner_id bigint,
						   mobile text, note text);
SELECT crmpool.manage('forget_plain', 'owner_id') IS NOT NULL AS managed;
SELECT crmpool.set_identity('forget_plain', 'company', '{phone, mobile}', '{email}');
SELECT crmpool.set_rules('forget_plain', '{"dedup_phone": "block", "dedup_email": "block", "dedup_name": "block"}') IS NOT NULL AS set;
CREATE FUNCTION forget_plain_left() RETURNS TABLE (customer bigint, kind "char", key text)
LANGUAGE sql AS $$
	SELECT k.customer, k.kind, k.key FROM crmpool.identity_key k
	WHERE k.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'forget_plain'::regclass)
	UNION ALL
	SELECT n.customer, 'n', n.name FROM crmpool.identity_name n
	WHERE n.table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'forget_plain'::regclass)
	ORDER BY 1, 2, 3
$$;

INSERT INTO forget_plain (id, company, phone, email) VALUES
	(1, '北京蓝宇科技有限公司', '010-5873 7000', 'li@lanyu.example');
-- an update gives up the old phone, e-mail and name: another customer takes them at once ...
UPDATE forget_plain SET company = '北京蓝宇网络有限公司', phone = '010-5873 7001', email = 'ming@lanyu.example' WHERE id = 1;
INSERT INTO forget_plain (id, company, phone, email) VALUES
	(2, '北京蓝宇科技有限公司', '010-5873 7000', 'li@lanyu.example');
-- ... while the new ones are held
\set VERBOSITY terse
INSERT INTO forget_plain (id, company, phone) VALUES (3, '上海青禾贸易有限公司', '010 58737001');
INSERT INTO forget_plain (id, company, email) VALUES (3, '上海青禾贸易有限公司', 'Ming@Lanyu.example');
INSERT INTO forget_plain (id, company) VALUES (3, '北京蓝宇网络有限公司');
\set VERBOSITY default
-- a delete gives up all of them
DELETE FROM forget_plain WHERE id = 1;
INSERT INTO forget_plain (id, company, phone, email) VALUES
	(3, '北京蓝宇网络有限公司', '010-5873 7001', 'ming@lanyu.example');
SELECT * FROM forget_plain_left();

-- a superuser's rule on identity_key and trigger on identity_name: the statements run and
-- apply them
CREATE TABLE forget_plain_log (what text, customer bigint, key text);
CREATE RULE forget_plain_rule AS ON DELETE TO crmpool.identity_key
	DO ALSO INSERT INTO public.forget_plain_log VALUES ('key', old.customer, old.key);
CREATE FUNCTION forget_plain_logged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO public.forget_plain_log VALUES ('name', old.customer, old.name);
	RETURN old;
END $$;
CREATE TRIGGER forget_plain_trigger AFTER DELETE ON crmpool.identity_name
	FOR EACH ROW EXECUTE FUNCTION forget_plain_logged();
UPDATE forget_plain SET phone = '010-5873 7002', company = '北京蓝宇软件有限公司' WHERE id = 3;
DELETE FROM forget_plain WHERE id = 2;
SELECT * FROM forget_plain_log ORDER BY customer, what, key;
SELECT * FROM forget_plain_left();
DROP RULE forget_plain_rule ON crmpool.identity_key;
DROP TRIGGER forget_plain_trigger ON crmpool.identity_name;

DELETE FROM forget_plain WHERE id = 3;
SELECT * FROM forget_plain_left();
SELECT count(*) AS disagreements FROM crmpool.check('forget_plain');

-- an update that writes the identity columns as they are (an application saving every column)
-- changes no key; one that changes only the second phone column gives up exactly its line
INSERT INTO forget_plain (id, company, phone, mobile, email) VALUES
	(4, '深圳华星电子有限公司', '0755-8888 1234', '138 0013 8000', 'hx@huaxing.example');
UPDATE forget_plain SET company = company, phone = phone, mobile = mobile, email = email, note = 'called' WHERE id = 4;
SELECT * FROM forget_plain_left();
UPDATE forget_plain SET company = company, phone = phone, mobile = '139 0013 9000', email = email WHERE id = 4;
SELECT * FROM forget_plain_left();
INSERT INTO forget_plain (id, company, mobile) VALUES (5, '广州青木贸易有限公司', '13800138000');
DELETE FROM forget_plain WHERE id IN (4, 5);

DROP FUNCTION forget_plain_left();
DROP FUNCTION forget_plain_logged();
DROP TABLE forget_plain_log;
SELECT crmpool.unmanage('forget_plain') IS NOT NULL AS unmanaged;
DROP TABLE forget_plain;
