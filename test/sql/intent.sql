-- intent: plain SQL that says what it is.  SET LOCAL crmpool.intent makes the plain writes of a
-- transaction one crmpool operation (claim, release, assign, transfer, distribute), with that
-- operation's rules and its name in the history; crmpool.direct_writes = enforce_owned refuses
-- the stale receive; the rule claim_with_deal.  On a table shaped like yudao's crm_customer,
-- whose receive, distribute and transfer all send the same UPDATE.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET crmpool.fake_now = '2026-04-01 10:00:00+00';

-- Runs a statement and shows its outcome: ok, or SQLSTATE, message and detail.
CREATE FUNCTION intent_try(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	det text;
BEGIN
	EXECUTE sql;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
	RETURN st || ': ' || msg || coalesce(' / ' || nullif(det, ''), '');
END;
$$;

-- yudao's crm_customer (MySQL bit(1) as boolean, datetime as timestamp)
CREATE TABLE crm_customer (
	id					bigint PRIMARY KEY,
	name				varchar(255) NOT NULL,
	owner_user_id		bigint,
	owner_time			timestamp,
	lock_status			boolean NOT NULL DEFAULT false,
	deal_status			boolean NOT NULL DEFAULT false,
	contact_last_time	timestamp,
	deleted				boolean NOT NULL DEFAULT false,
	tenant_id			bigint NOT NULL DEFAULT 1
);
INSERT INTO crm_customer (id, name, owner_user_id, deal_status)
SELECT i, '客户 ' || i, CASE WHEN i BETWEEN 15 AND 18 THEN 100 END, i IN (18, 20)
FROM generate_series(1, 20) AS i;
SELECT crmpool.manage('crm_customer', 'owner_user_id', deal_column => 'deal_status');
SELECT crmpool.set_rules('crm_customer', '{"private_cap": 3, "daily_claim_limit": 2}');
-- yudao's one statement for receive, distribute and transfer
CREATE FUNCTION intent_own(c bigint, r bigint) RETURNS text LANGUAGE sql AS $$
	SELECT intent_try(format('UPDATE crm_customer SET owner_user_id = %s, owner_time = %L WHERE id = %s',
					  coalesce(r::text, 'NULL'), '2026-04-01 18:00', c))
$$;
CREATE FUNCTION intent_events(c bigint) RETURNS TABLE(owner bigint, how text)
LANGUAGE sql AS $$ SELECT owner, how FROM crmpool.ownership_log('crm_customer', c) ORDER BY seq $$;
CREATE VIEW intent_load AS SELECT rep, owned, claims_today FROM crmpool.rep_load('crm_customer') ORDER BY rep;

-- the setting: none by default, only the listed values
SHOW crmpool.intent;
SET LOCAL crmpool.intent = 'receive';
BEGIN;
SET LOCAL crmpool.intent = 'steal';
ROLLBACK;
SET LOCAL crmpool.intent = 'claim';			-- outside a transaction block: no effect
SHOW crmpool.intent;

-- claim: the rules of crmpool.claim(), recorded as a claim
BEGIN;
SET LOCAL crmpool.intent = 'claim';
SHOW crmpool.intent;
UPDATE crm_customer SET owner_user_id = 7, owner_time = '2026-04-01 18:00' WHERE id = 1;
COMMIT;
SHOW crmpool.intent;							-- gone with the transaction
SELECT * FROM intent_events(1);
SELECT * FROM intent_load;
-- an owned customer: refused as crmpool.claim() refuses it (the stale receive)
BEGIN;
SET LOCAL crmpool.intent = 'claim';
UPDATE crm_customer SET owner_user_id = 7, owner_time = '2026-04-01 18:00' WHERE id = 15;
ROLLBACK;
SELECT intent_try($$SELECT crmpool.claim('crm_customer', 15, 7)$$) AS the_same_as_claim;
-- daily limit (2), then private cap (3: rep 8 is unlimited per day)
SELECT crmpool.set_rules('crm_customer', '{"daily_claim_limit": null}', rep => 8);
BEGIN;
SET LOCAL crmpool.intent = 'claim';
SELECT intent_own(2, 7) AS second_today, intent_own(3, 7) AS third_today;
SELECT intent_try('UPDATE crm_customer SET owner_user_id = 8 WHERE id IN (4, 5, 6, 7)') AS four_at_once;
SELECT intent_try('UPDATE crm_customer SET owner_user_id = 8 WHERE id IN (4, 5, 6)') AS three_at_once;
COMMIT;
SELECT * FROM intent_load;
-- hold-back and cooldown apply to a marked claim
SELECT crmpool.set_rules('crm_customer', '{"pool_holdback": "1 hour", "reclaim_cooldown": "1 day"}');
BEGIN;
SET LOCAL crmpool.intent = 'release';
SELECT intent_own(1, NULL) AS release_1;
SET LOCAL crmpool.intent = 'claim';
SELECT intent_own(1, 9) AS claim_held_back;
COMMIT;
SET crmpool.fake_now = '2026-04-01 12:00:00+00';
BEGIN;
SET LOCAL crmpool.intent = 'claim';
SELECT intent_own(1, 7) AS reclaim_cooling_down, intent_own(1, 9) AS claim_after_holdback;
COMMIT;
SELECT * FROM intent_events(1);
SELECT crmpool.clear_rules('crm_customer', keys => ARRAY['pool_holdback', 'reclaim_cooldown']);

-- release: the owner lets the customer go, unless it is locked
SELECT crmpool.lock('crm_customer', 16, 100);
BEGIN;
SET LOCAL crmpool.intent = 'release';
SELECT intent_own(15, NULL) AS release_15, intent_own(16, NULL) AS release_locked_16;
UPDATE crm_customer SET owner_user_id = 7 WHERE id = 10;	-- gives an owner: not a release
ROLLBACK;

-- assign: the admin's move, from the pool or from another rep (cap and lock still hold)
BEGIN;
SET LOCAL crmpool.intent = 'assign';
SELECT intent_own(15, 9) AS reassign_15, intent_own(10, 8) AS assign_over_cap, intent_own(16, 9) AS reassign_locked;
UPDATE crm_customer SET owner_user_id = NULL WHERE id = 17;	-- a release: not an assign
ROLLBACK;

-- transfer: from an owner to another rep; a pool customer has no owner to transfer from
BEGIN;
SET LOCAL crmpool.intent = 'transfer';
SELECT intent_own(15, 9) AS transfer_15, intent_own(10, 9) AS transfer_from_pool, intent_own(16, 9) AS transfer_locked;
COMMIT;
SELECT * FROM intent_events(15);

-- a release does not match any intent but release
BEGIN;
SET LOCAL crmpool.intent = 'claim';
SELECT intent_own(4, NULL) AS release_under_claim;
SET LOCAL crmpool.intent = 'transfer';
SELECT intent_own(4, NULL) AS release_under_transfer;
SET LOCAL crmpool.intent = 'distribute';
SELECT intent_own(4, NULL) AS release_under_distribute;
ROLLBACK;

-- distribute (issue 10 gives it rules of its own): for now an admin's assign, recorded as such
BEGIN;
SET LOCAL crmpool.intent = 'distribute';
SELECT intent_own(11, 200) AS distribute_11;
COMMIT;
SELECT * FROM intent_events(11);

-- crmpool's own functions keep their operation whatever the intent says
BEGIN;
SET LOCAL crmpool.intent = 'release';
SELECT crmpool.claim('crm_customer', 12, 201);
COMMIT;
SELECT * FROM intent_events(12);

-- INSERT follows the intent too; DELETE is never refused
BEGIN;
SET LOCAL crmpool.intent = 'claim';
SELECT intent_try($$INSERT INTO crm_customer (id, name, owner_user_id) VALUES (21, 'new', 202)$$) AS insert_claim;
DELETE FROM crm_customer WHERE id = 17;
COMMIT;
SELECT * FROM intent_events(21);
SELECT * FROM intent_events(17);

-- a role that may not call crmpool.assign() / transfer() may not mark writes as one
CREATE ROLE crmpool_intent_app LOGIN;
GRANT SELECT, INSERT, UPDATE ON crm_customer TO crmpool_intent_app;
GRANT EXECUTE ON FUNCTION intent_try(text), intent_own(bigint, bigint) TO crmpool_intent_app;
SET ROLE crmpool_intent_app;
BEGIN;
SET LOCAL crmpool.intent = 'assign';
UPDATE crm_customer SET owner_user_id = 7 WHERE id = 13;
ROLLBACK;
BEGIN;
SET LOCAL crmpool.intent = 'transfer';
SELECT intent_own(18, 9) AS transfer_by_app;
SET LOCAL crmpool.intent = 'distribute';
SELECT intent_own(13, 9) AS distribute_by_app;
SET LOCAL crmpool.intent = 'claim';				-- any role may claim
SELECT intent_own(13, 9) AS claim_by_app;
ROLLBACK;
RESET ROLE;

-- SET instead of SET LOCAL: applied in its own transaction, refused in any later one
BEGIN;
SET crmpool.intent = 'claim';
SELECT intent_own(13, 9) AS same_transaction;
ROLLBACK;
SET crmpool.intent = 'claim';
UPDATE crm_customer SET owner_user_id = 9 WHERE id = 13;
UPDATE crm_customer SET name = 'renamed' WHERE id = 13;	-- no ownership change: not concerned
RESET crmpool.intent;
SELECT intent_own(13, 9) AS after_reset;
-- nor from a role's or database's defaults (refused when the role logs in)
SELECT current_user AS superuser \gset
ALTER ROLE crmpool_intent_app SET crmpool.intent = 'claim';
\c - crmpool_intent_app
SHOW crmpool.intent;
\c - :superuser
ALTER ROLE crmpool_intent_app RESET crmpool.intent;
SET crmpool.fake_now = '2026-04-01 12:00:00+00';
-- a function's SET clause marks its own writes, for the function only
CREATE FUNCTION intent_receive(c bigint, r bigint) RETURNS void LANGUAGE sql
SET crmpool.intent = 'claim' AS $$
	UPDATE crm_customer SET owner_user_id = r, owner_time = '2026-04-01 18:00' WHERE id = c
$$;
SELECT intent_receive(14, 100);
SHOW crmpool.intent;
SELECT intent_try('SELECT intent_receive(15, 100)') AS receive_owned;
SELECT * FROM intent_events(14);

-- reject: unmarked writes are refused, marked ones are crmpool operations
SET crmpool.direct_writes = 'reject';
SELECT intent_own(19, 100) AS unmarked;
BEGIN;
SET LOCAL crmpool.intent = 'release';
SELECT intent_own(19, 100) AS wrong_direction, intent_own(14, NULL) AS marked_release;
COMMIT;
-- allow: nothing is checked; the intent names the event
SET crmpool.direct_writes = 'allow';
BEGIN;
SET LOCAL crmpool.intent = 'distribute';
SELECT intent_own(19, 100) AS unchecked_distribute;
COMMIT;
SELECT * FROM intent_events(19);
RESET crmpool.direct_writes;

-- enforce_owned: the stale receive is refused, taking a pool customer is a claim
SET crmpool.direct_writes = 'enforce_owne';
SET crmpool.direct_writes = 'enforce_owned';
SHOW crmpool.direct_writes;
SELECT * FROM intent_load;
UPDATE crm_customer SET owner_user_id = 9, owner_time = '2026-04-01 18:00' WHERE id = 18;
SELECT intent_own(2, 200) AS owned_is_stale, intent_own(14, 200) AS pool_is_claim;
-- a claim even by an admin: the daily limit (2) holds
SELECT intent_own(7, 205) AS first, intent_own(8, 205) AS second, intent_own(9, 205) AS third;
BEGIN;
SET LOCAL crmpool.intent = 'transfer';
SELECT intent_own(18, 203) AS marked_transfer;
SET LOCAL crmpool.intent = 'assign';
SELECT intent_own(18, 204) AS marked_assign;
COMMIT;
SELECT intent_own(18, NULL) AS unmarked_release;
SELECT intent_try($$INSERT INTO crm_customer (id, name, owner_user_id) VALUES (22, 'new', 300)$$) AS insert_as_today;
SELECT * FROM intent_events(14);
SELECT * FROM intent_events(18);
RESET crmpool.direct_writes;

-- claim_with_deal false: a customer with a deal stays out of every claim (CR015)
SELECT crmpool.set_rules('crm_customer', '{"claim_with_deal": false, "daily_claim_limit": null}');
SELECT crmpool.claim('crm_customer', 20, 300);
SELECT * FROM crmpool.claim_many('crm_customer', ARRAY[20, 10], 300);
BEGIN;
SET LOCAL crmpool.intent = 'claim';
SELECT intent_own(20, 301) AS marked_claim;
COMMIT;
SET crmpool.direct_writes = 'enforce_owned';
SELECT intent_own(20, 301) AS enforce_owned_claim;
RESET crmpool.direct_writes;
SET ROLE crmpool_intent_app;
SELECT intent_own(20, 301) AS unmarked_by_app;
RESET ROLE;
SELECT crmpool.assign('crm_customer', 20, 301);	-- an admin still can
SELECT crmpool.set_rules('crm_customer', '{"claim_with_deal": "no"}');
SELECT crmpool.set_rules('crm_customer', '{"claim_with_deal": true}', rep => 302);
SELECT intent_own(20, NULL), crmpool.claim('crm_customer', 20, 302) AS rep_scope_allows;

SELECT * FROM intent_load;
SELECT l.rep, l.owned = (SELECT count(*) FROM crm_customer c WHERE c.owner_user_id = l.rep) AS counted
FROM crmpool.rep_load('crm_customer') l ORDER BY l.rep;

DROP FUNCTION intent_receive(bigint, bigint);
SELECT crmpool.unmanage('crm_customer');
DROP VIEW intent_load;
DROP FUNCTION intent_own(bigint, bigint), intent_events(bigint), intent_try(text);
DROP TABLE crm_customer;
DROP ROLE crmpool_intent_app;
RESET crmpool.fake_now;
