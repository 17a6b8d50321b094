-- CordysCRM keeps string ids (VARCHAR(32) holding snowflake numbers) and epoch-millisecond times
-- (BIGINT) in its customer table; crmpool needs an integer key and owner and a timestamp
-- follow-up.  Stored generated columns bridge them with no trigger of the app's
-- (docs/adopting.md, "CordysCRM"): the app keeps writing its own columns, crmpool reads the
-- generated ones.
\set VERBOSITY default
SET crmpool.fake_now = '2026-01-01 09:00:00+00';
CREATE TABLE customer (
	id					varchar(32) NOT NULL PRIMARY KEY,
	name				varchar(255) NOT NULL,
	owner				varchar(32),
	collection_time		bigint,
	pool_id				varchar(32),
	in_shared_pool		boolean NOT NULL DEFAULT false,
	organization_id		varchar(32) NOT NULL,
	follower			varchar(32),
	follow_time			bigint,
	reason_id			varchar(32),
	create_time			bigint NOT NULL,
	update_time			bigint NOT NULL,
	create_user			varchar(32) NOT NULL,
	update_user			varchar(32) NOT NULL
);
INSERT INTO customer (id, name, owner, pool_id, in_shared_pool, organization_id, follow_time,
					  create_time, update_time, create_user, update_user)
VALUES ('726379841150980096', '北京某某科技有限公司', '100001', NULL, false, '100001',
		1766910600000, 1764547200000, 1766910600000, 'admin', 'admin'),
	   ('726379841150980097', '上海某某贸易有限公司', NULL, '726379841150980001', true, '100001',
		NULL, 1764547200000, 1764547200000, 'admin', 'admin'),
	   ('726379841150980098', '广州某某物流有限公司', NULL, '726379841150980001', true, '100001',
		NULL, 1764547200000, 1764547200000, 'admin', 'admin');
-- crmpool's view of the row, exactly as docs/adopting.md gives it
ALTER TABLE customer DROP CONSTRAINT customer_pkey, ADD UNIQUE (id),
    ADD COLUMN customer_no bigint GENERATED ALWAYS AS (id::bigint) STORED PRIMARY KEY,
    ADD COLUMN owner_no    bigint GENERATED ALWAYS AS (owner::bigint) STORED,
    ADD COLUMN followed_at timestamptz GENERATED ALWAYS AS (to_timestamp(follow_time / 1000.0)) STORED;
SELECT crmpool.manage('customer', 'owner_no', pool_column => 'pool_id', followup_column => 'followed_at');
SELECT crmpool.set_rules('customer', '{"private_cap": 2, "recycle_no_followup": "30 days"}');
-- Cordys's pick (PoolCustomerService.ownCustomer), twice: rep 100001 already owns ...096, so
-- ...097 makes 2 of 2 and ...098 is refused
-- (CR006; only the SQLSTATE shown, the errors part tests the fields)
\set VERBOSITY sqlstate
-- UPDATE customer SET pool_id = NULL, in_shared_pool = false, owner = ?, collection_time = ? ...
UPDATE customer SET pool_id = NULL, in_shared_pool = false, owner = '100001', collection_time = 1767258000000
 WHERE id = '726379841150980097';
UPDATE customer SET pool_id = NULL, in_shared_pool = false, owner = '100001', collection_time = 1767258000000
 WHERE id = '726379841150980098';
SELECT id, owner, owner_no FROM customer ORDER BY id;
-- a follow-up in milliseconds (10:00 UTC, an hour after the adopted spell began) moves the due
-- time at once
SELECT customer, owner, due_at, rule FROM crmpool.due('customer') ORDER BY customer;
UPDATE customer SET follow_time = 1767261600000 WHERE id = '726379841150980096';
SELECT customer, owner, due_at, rule FROM crmpool.due('customer') ORDER BY customer;
-- crmpool's own functions write the owner column, which is generated here: the app's UPDATE is the way
\set VERBOSITY terse
SELECT crmpool.release('customer', 726379841150980097, 100001);
-- and recycling, which writes the owner column too, fails on this table (an error here, where it
-- is named; a WARNING and the table skipped in a run over every table); both customers are due
-- by now and stay owned.  docs/adopting.md says so, and what to do instead
SET crmpool.fake_now = '2026-03-01 09:00:00+00';
CALL crmpool.recycle('customer');
SELECT count(*) AS still_owned FROM customer WHERE owner IS NOT NULL;
SELECT * FROM crmpool.check('customer');
-- leave nothing behind for the tests after this one
DROP TABLE customer;
