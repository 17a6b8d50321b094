-- WukongCRM 11 keeps the lock and the soft delete in one status column (1 normal, 2 locked,
-- 3 deleted) and the deal as an integer 0/1, which crmpool would read as "a deal" whenever it is
-- set.  Stored generated columns give crmpool booleans (docs/adopting.md, "WukongCRM"); here the
-- deal, which today's manage() maps: an integer 0 is no deal once read through has_deal.
\set VERBOSITY default
SET crmpool.fake_now = '2026-01-01 09:00:00+00';
CREATE TABLE wk_crm_customer (
	customer_id			integer NOT NULL PRIMARY KEY,
	customer_name		varchar(255),
	followup			integer,
	is_lock				integer NOT NULL DEFAULT 0,
	next_time			timestamp,
	deal_status			integer DEFAULT 0,
	deal_time			timestamp,
	owner_user_id		bigint,
	create_time			timestamp NOT NULL,
	update_time			timestamp,
	batch_id			varchar(32) NOT NULL,
	status				integer DEFAULT 1,
	last_time			timestamp,
	pool_time			timestamp,
	is_receive			integer,
	receive_time		timestamp,
	pre_owner_user_id	bigint
);
INSERT INTO wk_crm_customer (customer_id, customer_name, deal_status, owner_user_id, create_time,
							 batch_id, status, receive_time)
VALUES (1, '北京某某科技有限公司', 1, 14773, '2025-12-01 09:00', 'b1', 1, '2025-12-01 09:00'),
	   (2, '上海某某贸易有限公司', 0, NULL, '2025-12-01 09:00', 'b2', 1, NULL),
	   (3, '广州某某物流有限公司', 0, NULL, '2025-12-01 09:00', 'b3', 1, NULL);
-- exactly as docs/adopting.md gives it
ALTER TABLE wk_crm_customer
    ADD COLUMN locked   boolean GENERATED ALWAYS AS (status = 2) STORED,
    ADD COLUMN removed  boolean GENERATED ALWAYS AS (status = 3) STORED,
    ADD COLUMN has_deal boolean GENERATED ALWAYS AS (deal_status = 1) STORED;
SELECT crmpool.manage('wk_crm_customer', 'owner_user_id', followup_column => 'last_time',
					  deal_column => 'has_deal');
-- 成交客户不占用数量 (customer_deal = 0): one customer allowed besides the deal
SELECT crmpool.set_rules('wk_crm_customer', '{"private_cap": 1, "count_deals_in_cap": false}', rep => 14773);
-- Wukong's receive (getCustomersByIds): UPDATE wk_crm_customer SET owner_user_id = ?, followup = 0,
-- receive_time = ?, update_time = ?, is_receive = 2 WHERE customer_id IN (...)
UPDATE wk_crm_customer SET owner_user_id = 14773, followup = 0, receive_time = '2026-01-01 17:00',
	   update_time = '2026-01-01 17:00', is_receive = 2 WHERE customer_id IN (2);
\set VERBOSITY sqlstate
UPDATE wk_crm_customer SET owner_user_id = 14773, followup = 0, receive_time = '2026-01-01 17:00',
	   update_time = '2026-01-01 17:00', is_receive = 2 WHERE customer_id IN (3);
\set VERBOSITY default
-- Wukong's setDealStatus turns customer 2 into a deal: it stops counting, and 3 fits
UPDATE wk_crm_customer SET deal_status = 1 WHERE customer_id = 2;
UPDATE wk_crm_customer SET owner_user_id = 14773, followup = 0, receive_time = '2026-01-01 17:00',
	   update_time = '2026-01-01 17:00', is_receive = 2 WHERE customer_id IN (3);
SELECT rep, owned, with_deal FROM crmpool.rep_load('wk_crm_customer');
SELECT * FROM crmpool.check('wk_crm_customer');
-- leave nothing behind for the tests after this one
DROP TABLE wk_crm_customer;
