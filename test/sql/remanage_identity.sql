-- manage() run again on a table with identity columns keeps its duplicate detection: the
-- identity trigger that set_identity() made stays (it used to be dropped with the ownership
-- triggers and never made again, so duplicates went through unseen).  unmanage() drops it.
CREATE TABLE ri (id bigint PRIMARY KEY, name text, phone text, owner_id bigint, pool text);
SELECT crmpool.manage('ri', 'owner_id');
SELECT crmpool.set_identity('ri', phone_columns => '{phone}');
SELECT crmpool.set_rules('ri', '{"dedup_phone": "block"}');
INSERT INTO ri VALUES (1, 'a', '13800138000', NULL, NULL);
SELECT crmpool.manage('ri', 'owner_id', pool_column => 'pool');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'ri'::regclass AND NOT tgisinternal ORDER BY tgname;
\set VERBOSITY terse
INSERT INTO ri VALUES (2, 'b', '138 0013 8000', NULL, NULL);
\set VERBOSITY default
SELECT count(*) AS customers FROM ri;
SELECT crmpool.unmanage('ri');
SELECT tgname FROM pg_trigger WHERE tgrelid = 'ri'::regclass AND NOT tgisinternal;
DROP TABLE ri;
