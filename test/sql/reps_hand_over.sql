-- An inactive rep (left the company) gains no customer by any path (CR014), and
-- crmpool.hand_over() moves a rep's customers to a colleague or to the pool in one statement.
\set VERBOSITY default
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
SET TimeZone = 'UTC';
SET crmpool.timezone = 'UTC';
CREATE FUNCTION reps_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	det text;
BEGIN
	EXECUTE 'SELECT ' || q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
	RETURN st || ': ' || msg || coalesce(' / ' || det, '');
END $$;
CREATE TABLE crm_customer (
	id					bigint PRIMARY KEY,
	name				varchar(255) NOT NULL,
	owner_user_id		bigint,
	owner_time			timestamp,
	deal_status			boolean NOT NULL DEFAULT false,
	tenant_id			bigint NOT NULL DEFAULT 1
);
CREATE INDEX ON crm_customer (owner_user_id);
INSERT INTO crm_customer (id, name, owner_user_id)
SELECT g, '客户 ' || g, CASE WHEN g <= 6 THEN 7 WHEN g <= 8 THEN 8 END FROM generate_series(1, 30) g;
SELECT crmpool.manage('crm_customer', 'owner_user_id', deal_column => 'deal_status');
SELECT crmpool.set_rules('crm_customer', '{"private_cap": 10}');

-- rep 7 leaves (销售人员离职)
SELECT crmpool.set_rep('crm_customer', 7, team => 'sales', active => false);
SELECT crmpool.set_rep('crm_customer', 8, team => 'sales');

-- it gains nothing, by any path
SELECT reps_try($$crmpool.claim('crm_customer', 20, 7)$$) AS claim;
SELECT * FROM crmpool.claim_many('crm_customer', '{21, 22}', 7);
SELECT reps_try($$crmpool.assign('crm_customer', 20, 7)$$) AS assign_from_pool;
SELECT reps_try($$crmpool.assign('crm_customer', 7, 7)$$) AS assign_from_rep8;
SELECT reps_try($$crmpool.transfer('crm_customer', 7, 8, 7)$$) AS transfer_to_it;
UPDATE crm_customer SET owner_user_id = 7 WHERE id = 20;	-- the table owner: an assign
\echo :LAST_ERROR_SQLSTATE
INSERT INTO crm_customer (id, name, owner_user_id) VALUES (31, 'new', 7);
CREATE ROLE hand_over_app;
GRANT SELECT, INSERT, UPDATE ON crm_customer TO hand_over_app;
SET ROLE hand_over_app;
UPDATE crm_customer SET owner_user_id = 7 WHERE id = 20;	-- an app: a claim by rep 7
RESET ROLE;
-- a statement that gives several reps customers is refused whole
UPDATE crm_customer SET owner_user_id = CASE WHEN id = 20 THEN 8 ELSE 7 END WHERE id IN (20, 21);
SELECT count(*) AS owned_by_7 FROM crm_customer WHERE owner_user_id = 7;
-- it still loses customers: release, transfer away, a plain UPDATE to the pool, delete
SELECT reps_try($$crmpool.release('crm_customer', 1, 7, 'leaving')$$) AS release;
SELECT reps_try($$crmpool.transfer('crm_customer', 2, 7, 8)$$) AS transfer_away;
UPDATE crm_customer SET owner_user_id = NULL WHERE id = 3;
DELETE FROM crm_customer WHERE id = 4;
SELECT id, owner_user_id FROM crm_customer WHERE id <= 8 ORDER BY id;
-- under crmpool.direct_writes = allow nothing is checked, as for every rule
SET crmpool.direct_writes = allow;
UPDATE crm_customer SET owner_user_id = 7 WHERE id = 3;
RESET crmpool.direct_writes;
-- active again: it gains again (no lock taken for that)
SELECT crmpool.set_rep('crm_customer', 7, team => 'sales');
SELECT reps_try($$crmpool.claim('crm_customer', 20, 7)$$) AS claim_when_active;
SELECT crmpool.set_rep('crm_customer', 7, team => 'sales', active => false);

-- hand_over: bad input
SELECT * FROM crmpool.hand_over(NULL, 7);
SELECT * FROM crmpool.hand_over('crm_customer', NULL);
SELECT * FROM crmpool.hand_over('crm_customer', 7, 7);
SELECT * FROM crmpool.hand_over('crm_customer', 99);	-- unknown rep
SELECT * FROM crmpool.hand_over('crm_customer', 9, 8);	-- owns nothing, never set: unknown too
SELECT crmpool.set_rep('crm_customer', 9);
SELECT * FROM crmpool.hand_over('crm_customer', 9, 8);	-- set, owns nothing: nothing to do
SELECT * FROM crmpool.hand_over(0, 7);
-- only roles granted EXECUTE may hand over (as transfer)
SET ROLE hand_over_app;
SELECT reps_try($$* FROM crmpool.hand_over('crm_customer', 7)$$) AS hand_over_public;
RESET ROLE;

-- to an inactive colleague, or over the colleague's cap: nothing moves (all or nothing)
SELECT crmpool.set_rep('crm_customer', 10, active => false);
SELECT * FROM crmpool.hand_over('crm_customer', 7, 10);
SELECT crmpool.set_rules('crm_customer', '{"private_cap": 5}', rep => 8);
SELECT * FROM crmpool.hand_over('crm_customer', 7, 8);
SELECT id, owner_user_id FROM crm_customer WHERE owner_user_id IN (7, 8) ORDER BY id;

-- a locked customer keeps its owner, as the lock rules say; the rest move
SELECT crmpool.lock('crm_customer', 5, 7);
SELECT crmpool.set_rules('crm_customer', '{"private_cap": 6}', rep => 8);
SELECT * FROM crmpool.hand_over('crm_customer', 7, 8) ORDER BY customer;
SELECT id, owner_user_id FROM crm_customer WHERE owner_user_id IN (7, 8) ORDER BY id;
SELECT how, owner, reason FROM crmpool.ownership_log('crm_customer', 6) ORDER BY seq;
SELECT owner, how_gained, how_ended FROM crmpool.history('crm_customer', 6);
SELECT rep, owned, locked FROM crmpool.rep_load('crm_customer') ORDER BY rep;

-- the seed case: the leaving rep's customers go to the pool; unlock the locked one first
SELECT crmpool.unlock('crm_customer', 5, 7);
SELECT * FROM crmpool.hand_over('crm_customer', 7) ORDER BY customer;
SELECT count(*) AS owned_by_7 FROM crm_customer WHERE owner_user_id = 7;
SELECT owner, how_gained, how_ended FROM crmpool.history('crm_customer', 5);
SELECT rep, owned, locked FROM crmpool.rep_load('crm_customer') ORDER BY rep;
-- colleagues claim them; rep 7 cannot
SELECT reps_try($$crmpool.claim('crm_customer', 5, 7)$$) AS claim_back;
SELECT reps_try($$crmpool.claim('crm_customer', 5, 9)$$) AS colleague_claims;
-- nothing left: an empty result
SELECT * FROM crmpool.hand_over('crm_customer', 7);
SELECT * FROM crmpool.check('crm_customer');

SELECT crmpool.unmanage('crm_customer');
DROP TABLE crm_customer;
DROP OWNED BY hand_over_app;
DROP ROLE hand_over_app;
DROP FUNCTION reps_try(text);
