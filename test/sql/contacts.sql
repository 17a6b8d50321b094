-- Phones and e-mails as reps paste them (issue 11, contacts part): the same switchboard
-- (matched_on phone_main, its own rule dedup_phone_main), e-mail mailboxes and the rules that
-- fold less (fold_plus_tags, fold_gmail_dots), the keys written without SPI and the statement
-- they fall back to, and the normalizers in a C-locale database.
SET crmpool.fake_now = '2030-01-07 12:00+00';
CREATE TABLE contacts (id bigint PRIMARY KEY, company text, phone text, email text, owner_id bigint);
SELECT crmpool.manage('contacts', 'owner_id');
SELECT crmpool.set_identity('contacts', 'company', '{phone}', '{email}');

-- the new rule keys: dedup_phone_main follows dedup_phone until it is set
SELECT crmpool.set_rules('contacts', '{"dedup_phone": "block", "dedup_email": "block"}');
SELECT r ->> 'dedup_phone_main' AS phone_main, r ->> 'fold_plus_tags' AS plus_tags,
       r ->> 'fold_gmail_dots' AS gmail_dots
FROM crmpool.rules('contacts') r;
SELECT crmpool.set_rules('contacts', '{"dedup_phone_main": "sometimes"}');
SELECT crmpool.set_rules('contacts', '{"fold_plus_tags": "no"}');
SELECT crmpool.set_rules('contacts', '{"fold_gmail_dots": null}');

--
-- Phones: the same line, the same switchboard, and neither
--
INSERT INTO contacts (id, company, phone) VALUES (1, NULL, '010-5873 7000 转 163');
-- the same line written another way: refused by dedup_phone
INSERT INTO contacts (id, company, phone) VALUES (2, NULL, '+86 10 5873 7000 转分机 163');
-- another extension, or none: the same switchboard, refused by dedup_phone_main (as dedup_phone)
INSERT INTO contacts (id, company, phone) VALUES (2, NULL, '(010) 5873-7000 ext 57');
DO $$
DECLARE
	st text; col text; con text; typ text;
BEGIN
	INSERT INTO contacts (id, company, phone) VALUES (2, NULL, '010 58737000');
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, col = COLUMN_NAME, con = CONSTRAINT_NAME,
		typ = PG_DATATYPE_NAME;
	RAISE NOTICE 'sqlstate %, column %, rule %, facts %', st, col, con, typ;
END $$;
-- block limited to exact lines: the switchboard only warns, and is recorded as phone_main
SELECT crmpool.set_rules('contacts', '{"dedup_phone_main": "warn"}') ->> 'dedup_phone_main';
INSERT INTO contacts (id, company, phone) VALUES (2, NULL, '(010) 5873-7000 ext 57');
INSERT INTO contacts (id, company, phone) VALUES (3, NULL, '+86 10 5873 7000 x163');
SELECT customer, existing, matched_on, score FROM crmpool.duplicate_warnings('contacts');
-- off: not even a warning; the exact line is still refused
SELECT crmpool.set_rules('contacts', '{"dedup_phone_main": "off"}') ->> 'dedup_phone_main';
INSERT INTO contacts (id, company, phone) VALUES (3, NULL, '010-58737000');
INSERT INTO contacts (id, company, phone) VALUES (4, NULL, '010-58737000');
SELECT count(*) AS warnings FROM crmpool.duplicate_warnings('contacts');
-- find_duplicates reports the switchboard whatever the policy: the line scores 1, the
-- switchboard 0.9
SELECT * FROM crmpool.find_duplicates('contacts', phone => '010-5873 7000 分机 163');
SELECT * FROM crmpool.find_duplicates('contacts', phone => '(010) 5873 7000');
-- a longer number that starts with the same digits is another line
INSERT INTO contacts (id, company, phone) VALUES (5, NULL, '5873 7000');
SELECT * FROM crmpool.find_duplicates('contacts', phone => '5873 700');
-- Hong Kong and Taiwan without "+"
INSERT INTO contacts (id, company, phone) VALUES (6, NULL, '852-2878 1234'), (7, NULL, '886-2-4904 1234');
SELECT * FROM crmpool.find_duplicates('contacts', phone => '+852 2878 1234');
SELECT * FROM crmpool.find_duplicates('contacts', phone => '(+886) 2-4904-1234');
SELECT * FROM crmpool.find_duplicates('contacts', phone => '0852-2878 1234');

--
-- E-mails: the mailbox, and the rules that fold less
--
INSERT INTO contacts (id, company, email) VALUES (10, NULL, '张三 <ZhangSan+CRM@Weikesen.com>');
INSERT INTO contacts (id, company, email) VALUES (11, NULL, 'mailto:zhangsan@weikesen.com');
INSERT INTO contacts (id, company, email) VALUES (12, NULL, 'Zhang.San@GoogleMail.com');
INSERT INTO contacts (id, company, email) VALUES (13, NULL, '邮箱：zhangsan@gmail.com；');
SELECT kind, key, customer FROM crmpool.identity_key
WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'contacts'::regclass) AND kind = 'e' ORDER BY customer;
-- plus tags kept apart: zhangsan@ is another mailbox than zhangsan+crm@, but an address is still
-- its own duplicate however pasted
SELECT crmpool.set_rules('contacts', '{"fold_plus_tags": false}') ->> 'fold_plus_tags';
INSERT INTO contacts (id, company, email) VALUES (11, NULL, 'mailto:zhangsan@weikesen.com');
INSERT INTO contacts (id, company, email) VALUES (14, NULL, '(zhangsan+crm@weikesen.com)');
-- Gmail's dots kept apart too
SELECT crmpool.set_rules('contacts', '{"fold_gmail_dots": false}') ->> 'fold_gmail_dots';
INSERT INTO contacts (id, company, email) VALUES (13, NULL, '邮箱：zhangsan@gmail.com；');
INSERT INTO contacts (id, company, email) VALUES (15, NULL, 'ZHANG.SAN@googlemail.com');
SELECT * FROM crmpool.find_duplicates('contacts', email => 'zhang.san+x@googlemail.com');
SELECT * FROM crmpool.duplicate_groups('contacts') WHERE matched_on = 'email';
SELECT crmpool.clear_rules('contacts', keys => '{fold_plus_tags,fold_gmail_dots}') ->> 'fold_plus_tags';
SELECT * FROM crmpool.find_duplicates('contacts', email => 'zhang.san+x@googlemail.com');
SELECT * FROM crmpool.duplicate_groups('contacts') WHERE matched_on = 'email';
-- an update moves the customer's keys
UPDATE contacts SET email = 'li.si@weikesen.com' WHERE id = 13;
SELECT kind, key, customer FROM crmpool.identity_key WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'contacts'::regclass) AND customer = 13;

--
-- Keys are written without SPI while crmpool's tables are as it made them; otherwise the
-- statement runs
--
-- a key or name row already there (left by an unchecked write) is kept, or overwritten, as
-- INSERT ... ON CONFLICT did
INSERT INTO crmpool.identity_key (tenant, table_id, kind, key, customer) VALUES (0, (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'contacts'::regclass), 'p', '+862188880000', 20);
INSERT INTO crmpool.identity_name (tenant, table_id, customer, name, core, tokens) VALUES (0, (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'contacts'::regclass), 20, 'stale', 'stale', '{1}');
INSERT INTO contacts (id, company, phone) VALUES (20, '上海澜雨信息技术有限公司', '021-8888 0000');
SELECT kind, key FROM crmpool.identity_key WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'contacts'::regclass) AND customer = 20;
SELECT name, core FROM crmpool.identity_name WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'contacts'::regclass) AND customer = 20;
-- a trigger a superuser added on crmpool's table runs: the row goes through the executor
CREATE FUNCTION public.count_key_rows() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE NOTICE 'identity_key row %', NEW.key; RETURN NEW; END $$;
CREATE TRIGGER count_key_rows BEFORE INSERT ON crmpool.identity_key
	FOR EACH ROW EXECUTE FUNCTION public.count_key_rows();
INSERT INTO contacts (id, company, phone, email) VALUES (21, NULL, '021-8888 0001', 'wu@lanyu.example');
DROP TRIGGER count_key_rows ON crmpool.identity_key;
DROP FUNCTION public.count_key_rows();
SELECT kind, key FROM crmpool.identity_key WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'contacts'::regclass) AND customer = 21 ORDER BY kind;
-- crmpool.check() finds the keys in step with the rows
SELECT count(*) AS disagreements FROM crmpool.check('contacts');

SELECT crmpool.unmanage('contacts');
DROP TABLE contacts;

--
-- The normalizers give the same answers in a C-locale database
--
CREATE DATABASE contacts_c TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C';
\c contacts_c
CREATE EXTENSION crmpool;
SELECT datctype FROM pg_catalog.pg_database WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database();
SELECT v, crmpool.normalize_phone(v) AS phone, crmpool.normalize_email(v) AS address,
       crmpool.email_mailbox(v) AS mailbox
FROM unnest(ARRAY['852-2878 1234', '886-2-4904 1234', '０１０－５８７３　７０００　转分机　１６３',
                  '张三 <ZhangSan+CRM@Weikesen.com>', 'ＺＨＡＮＧ．ＳＡＮ＠ＧｏｏｇｌｅＭａｉｌ．ｃｏｍ',
                  '邮箱：zs@x。com；']) AS t(v);
