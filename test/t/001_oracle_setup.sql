-- The oracle's customers table and the helper that pgbench's scripts call.
--
-- 2000 customers, every third one owned by one of 20 reps, rep 20 adopted over the cap; every
-- seventh has a deal.  Small caps, so that every kind of refusal happens under load: private
-- cap 40 (14 per tenant), lock cap 5, 200 claims a day, and only 8 a day for reps 1 to 4 (a rep-scope rule).
-- Every fourth customer (oracle_pool: id % 4 = 1, never changing) waits in pool "team", whose
-- members are reps 17, 15, 19, 16 and 18, joined in that order: only they claim there, and
-- round_robin hands its customers out to them in that order.  Their cap is high (a rep-scope
-- rule), so that they are never passed over for it: each round_robin hand-out of the pool goes
-- to the member after the previous one (001_oracle.pl checks it), and multi_assign, which
-- gives to them, is refused only by locks, not by caps that the other operations fill.
-- With oracle.tenants = on the table is managed with its tenant column: three tenants (id % 3,
-- never null and never changing), the same 20 rep ids working in each, every count per tenant.
CREATE TABLE oracle_config AS SELECT current_setting('oracle.tenants', true) = 'on' AS tenants;
-- The tenant key crmpool keeps a customer's bookkeeping under: an integer tenant column's value
-- (0 without a tenant column); oracle_tenant_arg: what crmpool's readers take (NULL: none).
CREATE FUNCTION oracle_tenant(id bigint) RETURNS bigint LANGUAGE sql STABLE
AS $$ SELECT CASE WHEN tenants THEN id % 3 ELSE 0 END FROM oracle_config $$;
CREATE FUNCTION oracle_tenant_arg(tenant bigint) RETURNS text LANGUAGE sql STABLE
AS $$ SELECT CASE WHEN tenants THEN tenant::text END FROM oracle_config $$;
CREATE FUNCTION oracle_pool(id bigint) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN id % 4 = 1 THEN 'team' END $$;
-- the pool distribute and claim_next work on for random c: "team" or the default pool (NULL),
-- independent of distribute's mode (c % 4)
CREATE FUNCTION oracle_pick_pool(c bigint) RETURNS text LANGUAGE sql IMMUTABLE
AS $$ SELECT CASE WHEN c / 4 % 2 = 0 THEN 'team' END $$;
-- the members of pool "team", in join order
CREATE FUNCTION oracle_team() RETURNS bigint[] LANGUAGE sql IMMUTABLE
AS $$ SELECT ARRAY[17, 15, 19, 16, 18]::bigint[] $$;
CREATE TABLE customers (
	id			bigint PRIMARY KEY,
	owner_id	bigint,
	has_deal	boolean NOT NULL DEFAULT false,
	name		text,
	tenant_id	bigint GENERATED ALWAYS AS (id % 3) STORED,
	pool		text
);
CREATE INDEX customers_owner ON customers (owner_id);
INSERT INTO customers (id, owner_id, has_deal, name, pool)
	SELECT g,
		   CASE WHEN g <= 45 THEN 20 WHEN g % 3 = 0 THEN g % 19 + 1 END,
		   g % 7 = 0,
		   'customer ' || g,
		   oracle_pool(g)
	FROM generate_series(1, 2000) g;
SELECT crmpool.manage('customers', 'owner_id', deal_column => 'has_deal',
					  tenant_column => CASE WHEN tenants THEN 'tenant_id' END, pool_column => 'pool')
FROM oracle_config;
SELECT crmpool.set_pool_members('customers', 'team', oracle_team());
-- with three tenants each rep's customers are spread over three counters: a third of the cap
-- keeps every refusal happening (rep 20, adopted with 15 in each tenant, stays over it)
SELECT crmpool.set_rules('customers', jsonb_build_object('private_cap', CASE WHEN tenants THEN 14 ELSE 40 END,
														 'lock_cap', 5, 'daily_claim_limit', 200))
FROM oracle_config;
SELECT crmpool.set_rules('customers', '{"daily_claim_limit": 8}', rep => r) FROM generate_series(1, 4) r;
SELECT crmpool.set_rules('customers', '{"private_cap": 100000}', rep => r) FROM unnest(oracle_team()) r;
-- the reps crmpool.distribute() hands out to (weights 1 to 3 for the lottery)
SELECT crmpool.set_rep('customers', r, weight => r % 3 + 1) FROM generate_series(1, 20) r;

-- What each rep owned when the table was adopted (the cap check allows the adopted excess).
CREATE TABLE oracle_adopted AS
	SELECT oracle_tenant(id) AS tenant, owner_id AS rep, count(*) AS owned
	FROM customers WHERE owner_id IS NOT NULL GROUP BY 1, 2;

-- Every outcome, by operation: 'ok' (something changed), 'noop', a refusal's SQLSTATE, or a
-- claim_many outcome.
CREATE TABLE oracle_outcome (op text NOT NULL, code text NOT NULL);
-- Every hand-out of distribute(), numbered in the order it was made: a pool's distributions
-- hold its cursor row (per tenant) to commit, and a call's rows come in turn order, so seq
-- orders the hand-outs of each tenant's pool as they took their turns.
CREATE TABLE oracle_handout (
	seq			bigint GENERATED ALWAYS AS IDENTITY,
	pool		text,
	mode		text NOT NULL,
	customer	bigint NOT NULL,
	rep			bigint NOT NULL
);

-- One operation on customer c (or the next suitable one from c on) for rep r.  A refusal of
-- crmpool's class CR is recorded and swallowed; anything else (a deadlock, a serialization
-- failure for pgbench to retry, an internal error) is raised again.  New customers get ids
-- above 2000.
CREATE FUNCTION oracle_try(op text, c bigint, r bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
	target	bigint;
	holder	bigint;
	other	bigint := r % 20 + 1;
	res		record;
	done	boolean := true;
BEGIN
	CASE op
	WHEN 'claim' THEN
		PERFORM crmpool.claim('customers', c, r);
	WHEN 'claim_pool' THEN
		SELECT id INTO target FROM customers
		WHERE owner_id IS NULL ORDER BY id >= c DESC, id LIMIT 1;
		PERFORM crmpool.claim('customers', coalesce(target, c), r);
	WHEN 'claim_many' THEN
		FOR res IN SELECT * FROM crmpool.claim_many('customers', ARRAY[c, c + 1, c + 2], r) LOOP
			INSERT INTO oracle_outcome
			VALUES (op, CASE res.outcome WHEN 'claimed' THEN 'ok' ELSE res.outcome END);
		END LOOP;
		RETURN;
	-- distribution: the next two customers of a pool (the default one or "team") by a mode;
	-- grab-next for rep r
	WHEN 'distribute' THEN
		FOR res IN SELECT d.*, m.mode FROM (SELECT (ARRAY['round_robin', 'lottery', 'performance', 'least_busy'])[1 + c % 4]) m(mode),
				crmpool.distribute('customers', oracle_pick_pool(c), n => 2, mode => m.mode) d LOOP
			INSERT INTO oracle_outcome
			VALUES (op, CASE res.outcome WHEN 'distributed' THEN 'ok' ELSE res.outcome END);
			IF res.outcome = 'distributed' THEN
				INSERT INTO oracle_handout (pool, mode, customer, rep)
				VALUES (oracle_pick_pool(c), res.mode, res.customer, res.rep);
			END IF;
		END LOOP;
		RETURN;
	WHEN 'claim_next' THEN
		done := EXISTS (SELECT FROM crmpool.claim_next('customers', r, oracle_pick_pool(c), n => 2));
	WHEN 'release' THEN
		-- half of them a customer of the rep's, half any customer (mostly not the rep's)
		IF c % 2 = 0 THEN
			SELECT id INTO target FROM customers
			WHERE owner_id = r ORDER BY id >= c DESC, id LIMIT 1;
		END IF;
		PERFORM crmpool.release('customers', coalesce(target, c), r, 'oracle');
	WHEN 'assign' THEN
		PERFORM crmpool.assign('customers', c, r);
	WHEN 'transfer' THEN
		SELECT id, owner_id INTO target, holder FROM customers
		WHERE owner_id IS NOT NULL ORDER BY id >= c DESC, id LIMIT 1;
		IF holder IS NULL OR holder = r THEN
			holder := other;
		END IF;
		PERFORM crmpool.transfer('customers', coalesce(target, c), holder, r);
	WHEN 'lock' THEN
		SELECT id INTO target FROM customers
		WHERE owner_id = r ORDER BY id >= c DESC, id LIMIT 1;
		done := crmpool.lock('customers', coalesce(target, c), r);
	WHEN 'unlock' THEN
		SELECT customer INTO target FROM crmpool.customer_lock
		WHERE table_id = (SELECT table_id FROM crmpool.managed_tables WHERE rel = 'customers'::regclass) AND rep = r ORDER BY customer >= c DESC, customer LIMIT 1;
		done := crmpool.unlock('customers', coalesce(target, c), r);
	WHEN 'update' THEN
		UPDATE customers SET owner_id = r WHERE id = c AND owner_id IS DISTINCT FROM r;
		done := FOUND;
	WHEN 'update_null' THEN
		UPDATE customers SET owner_id = NULL WHERE id = c AND owner_id IS NOT NULL;
		done := FOUND;
	WHEN 'insert' THEN
		INSERT INTO customers (id, owner_id, name, pool)
		VALUES (c + 2000, CASE WHEN c % 2 = 0 THEN r END, 'new customer ' || c + 2000, oracle_pool(c + 2000))
		ON CONFLICT (id) DO NOTHING;
		done := FOUND;
	WHEN 'delete' THEN
		DELETE FROM customers WHERE id = c;
		done := FOUND;
	WHEN 'deal' THEN
		UPDATE customers SET has_deal = NOT has_deal WHERE id = c;
		done := FOUND;
	-- set-based statements touching several reps at once (imports, scripts, admin fixes)
	WHEN 'multi_release' THEN
		UPDATE customers SET owner_id = NULL WHERE id IN (c, c + 7, c + 13) AND owner_id IS NOT NULL;
		done := FOUND;
	-- to members of "team", whom no cap stops (the others' caps fill early in the run): up to
	-- three reps in one statement
	WHEN 'multi_assign' THEN
		UPDATE customers SET owner_id = (oracle_team())[1 + (r + id) % 5]
		WHERE id IN (c, c + 5, c + 11);
		done := FOUND;
	WHEN 'multi_assign_capped' THEN
		-- the same to reps the others' claims fill up: a statement refused partway by a cap
		UPDATE customers SET owner_id = CASE id % 3 WHEN 0 THEN r WHEN 1 THEN other ELSE (r + 6) % 20 + 1 END
		WHERE id IN (c, c + 5, c + 11);
		done := FOUND;
	WHEN 'multi_deal' THEN
		UPDATE customers SET has_deal = NOT has_deal WHERE id BETWEEN c AND c + 4;
		done := FOUND;
	WHEN 'multi_insert' THEN
		INSERT INTO customers (id, owner_id, name, pool)
		SELECT c + 3000 + 2100 * g, CASE WHEN g > 0 THEN (r + g * 3) % 20 + 1 END, 'imported ' || c,
			   oracle_pool(c + 3000 + 2100 * g)
		FROM generate_series(0, 2) g
		ON CONFLICT (id) DO NOTHING;
		done := FOUND;
	END CASE;
	INSERT INTO oracle_outcome VALUES (op, CASE WHEN done THEN 'ok' ELSE 'noop' END);
EXCEPTION WHEN OTHERS THEN
	IF SQLSTATE LIKE 'CR%' THEN
		INSERT INTO oracle_outcome VALUES (op, SQLSTATE);
	ELSE
		RAISE;
	END IF;
END
$$;
