-- Recycling (回收), shown with crmpool's fake clock: warnings arrive, customers go back to the
-- pool, a follow-up saves one.  Run by demo/recycle on a throwaway server.
\set ON_ERROR_STOP 1
\pset footer off
SET TimeZone = 'Asia/Shanghai';
SET crmpool.fake_now = '2026-03-02 09:00+08';
LISTEN crmpool_expiring;
LISTEN crmpool_recycled;

CREATE TABLE customer (
	id				bigint PRIMARY KEY,
	name			text NOT NULL,
	sales_rep		bigint,
	last_followup	timestamptz,
	signed			boolean NOT NULL DEFAULT false,
	grade			text
);
INSERT INTO customer (id, name, grade) VALUES
	(1, '杭州云帆科技', 'A'), (2, '苏州恒达机械', 'B'), (3, '宁波海川贸易', 'B'),
	(4, '上海启明医疗', 'C'), (5, '南京博远教育', 'B');
SELECT crmpool.manage('customer', 'sales_rep', followup_column => 'last_followup',
					  deal_column => 'signed', level_column => 'grade');

\echo '== rules: 30 days without follow-up, A-grade customers 60; warn 3 days before'
SELECT crmpool.set_rules('customer', '{"recycle_no_followup": "30 days", "warn_before": "3 days",
	"levels": {"A": {"recycle_no_followup": "60 days"}}}');

\echo '== 2 March: rep 7 claims four customers, rep 8 one'
SELECT crmpool.claim('customer', id, 7) FROM customer WHERE id <= 4;
SELECT crmpool.claim('customer', 5, 8);
SELECT c.name, d.owner, d.due_at, d.rule, d.days_left FROM crmpool.due('customer') d JOIN customer c ON c.id = d.customer;

\echo '== 20 March: rep 7 calls 宁波海川贸易; 上海启明医疗 signs a contract'
SET crmpool.fake_now = '2026-03-20 15:00+08';
SELECT crmpool.follow_up('customer', 3, 7, note => '电话沟通，下周报价');
UPDATE customer SET signed = true WHERE id = 4;
SELECT c.name, d.owner, d.due_at, d.days_left FROM crmpool.due('customer') d JOIN customer c ON c.id = d.customer;

\echo '== 30 March: the nightly run warns the owners of customers due in 3 days'
SET crmpool.fake_now = '2026-03-30 02:00+08';
CALL crmpool.recycle();
SELECT w.customer, c.name, w.owner, w.due_at FROM crmpool.recycle_warnings('customer') w JOIN customer c ON c.id = w.customer;

\echo '== 31 March: the next run warns nobody twice'
SET crmpool.fake_now = '2026-03-31 02:00+08';
CALL crmpool.recycle();

\echo '== 2 April: 苏州恒达机械 and 南京博远教育 go back to the pool'
SET crmpool.fake_now = '2026-04-02 02:00+08';
CALL crmpool.recycle();
SELECT id, name, sales_rep, signed FROM customer ORDER BY id;
SELECT owner, since, until, how_gained, how_ended FROM crmpool.history('customer', 2);
SELECT * FROM crmpool.rep_load('customer');
\echo '== what is still due, and when'
SELECT c.name, d.owner, d.due_at, d.rule, d.days_left FROM crmpool.due('customer') d JOIN customer c ON c.id = d.customer;
