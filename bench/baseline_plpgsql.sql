-- bench/baseline_plpgsql.sql: crmpool's claim and release rules written the way a competent
-- user writes them in PL/pgSQL, on bench.cust_c (created by bench/claim_setup.sql).  This is
-- the (c) script of bench/claim: crmpool must beat it.
--
-- Same rules, same checks, same bookkeeping as crmpool, in the same lock order:
--   claim:   lock the customer row, refuse if owned; hold-back and reclaim cool-down from the
--            history; take the rep's counter row (the lock that keeps caps exact under
--            concurrency), check private cap and daily claim limit; set the owner; append history.
--   release: lock the customer row, refuse unless the rep owns it or if it is locked; count
--            down; clear the owner; append history with the reason.
-- What it does not do, and crmpool does: check writes that bypass these functions (a plain
-- UPDATE of owner_id from an import or psql goes unchecked and unrecorded).
-- Both functions lock and read the customer row with the same few lines rather than through a
-- helper: a competent author keeps a PL/pgSQL call out of the hot path, and so does this one.

CREATE TABLE bench.rules_c (
	id					integer		PRIMARY KEY DEFAULT 1 CHECK (id = 1),
	private_cap			integer,
	daily_claim_limit	integer,
	reclaim_cooldown	interval,
	pool_holdback		interval,
	lock_cap			integer
);

CREATE TABLE bench.rep_counter_c (
	rep			integer		PRIMARY KEY,
	owned		integer		NOT NULL DEFAULT 0,
	with_deal	integer		NOT NULL DEFAULT 0,
	locked		integer		NOT NULL DEFAULT 0,
	claims_day	date,
	claims		integer		NOT NULL DEFAULT 0
);

-- Append-only: "from this moment the owner is X" (NULL: the public pool).
CREATE TABLE bench.history_c (
	customer	bigint		NOT NULL,
	seq			bigint		GENERATED ALWAYS AS IDENTITY,
	at			timestamptz	NOT NULL,
	owner		integer,
	how			text		NOT NULL,
	actor		text,
	reason		text,
	PRIMARY KEY (customer, seq)
);

CREATE TABLE bench.customer_lock_c (
	customer	bigint		PRIMARY KEY,
	rep			integer		NOT NULL,
	since		timestamptz	NOT NULL
);

CREATE FUNCTION bench.claim_c(p_customer bigint, p_rep integer)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_now		timestamptz := clock_timestamp();
	v_owner		integer;
	v_deal		boolean;
	r			bench.rules_c;
	v_at		timestamptz;
	v_last_owner integer;
	v_how		text;
	v_owned		integer;
	v_claims	integer;
BEGIN
	SELECT owner_id, has_deal INTO v_owner, v_deal
	FROM bench.cust_c WHERE id = p_customer FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'customer % does not exist', p_customer USING ERRCODE = 'CR002';
	END IF;
	IF v_owner IS NOT NULL THEN
		RAISE EXCEPTION 'customer % is already owned', p_customer
			USING ERRCODE = 'CR003', DETAIL = format('Owned by rep %s.', v_owner);
	END IF;

	SELECT * INTO r FROM bench.rules_c WHERE id = 1;

	IF r.pool_holdback IS NOT NULL THEN
		SELECT h.at, h.owner, h.how INTO v_at, v_last_owner, v_how
		FROM bench.history_c h WHERE h.customer = p_customer ORDER BY h.seq DESC LIMIT 1;
		IF FOUND AND v_last_owner IS NULL AND v_how <> 'adopt' AND v_now < v_at + r.pool_holdback THEN
			RAISE EXCEPTION 'customer % is held back in the pool', p_customer
				USING ERRCODE = 'CR010', DETAIL = format('It entered the pool at %s.', v_at);
		END IF;
	END IF;

	IF r.reclaim_cooldown IS NOT NULL THEN
		SELECT n.at INTO v_at
		FROM bench.history_c n
		WHERE n.customer = p_customer
		  AND n.seq > (SELECT max(o.seq) FROM bench.history_c o
					   WHERE o.customer = p_customer AND o.owner = p_rep)
		ORDER BY n.seq LIMIT 1;
		IF FOUND AND v_now < v_at + r.reclaim_cooldown THEN
			RAISE EXCEPTION 'rep % may not reclaim customer % yet', p_rep, p_customer
				USING ERRCODE = 'CR009', DETAIL = format('The rep lost it at %s.', v_at);
		END IF;
	END IF;

	-- The rep's counter row is the rep's lock: concurrent claims by one rep queue here.
	UPDATE bench.rep_counter_c
	SET owned = owned + 1,
		with_deal = with_deal + v_deal::integer,
		claims = CASE WHEN claims_day = v_now::date THEN claims + 1 ELSE 1 END,
		claims_day = v_now::date
	WHERE rep = p_rep
	RETURNING owned, claims
	INTO v_owned, v_claims;
	IF NOT FOUND THEN
		INSERT INTO bench.rep_counter_c AS c (rep, owned, with_deal, claims_day, claims)
		VALUES (p_rep, 1, v_deal::integer, v_now::date, 1)
		ON CONFLICT (rep) DO UPDATE
		SET owned = c.owned + 1, with_deal = c.with_deal + excluded.with_deal,
			claims = CASE WHEN c.claims_day = excluded.claims_day THEN c.claims + 1 ELSE 1 END,
			claims_day = excluded.claims_day
		RETURNING owned, claims INTO v_owned, v_claims;
	END IF;
	IF v_owned > r.private_cap THEN
		RAISE EXCEPTION 'rep % has reached the private cap', p_rep
			USING ERRCODE = 'CR006', DETAIL = format('Rep %s owns %s of %s.', p_rep, v_owned - 1, r.private_cap);
	END IF;
	IF v_claims > r.daily_claim_limit THEN
		RAISE EXCEPTION 'rep % has reached the daily claim limit', p_rep
			USING ERRCODE = 'CR008', DETAIL = format('Rep %s claimed %s of %s today.', p_rep, v_claims - 1, r.daily_claim_limit);
	END IF;

	UPDATE bench.cust_c SET owner_id = p_rep WHERE id = p_customer;
	INSERT INTO bench.history_c (customer, at, owner, how, actor)
	VALUES (p_customer, v_now, p_rep, 'claim', current_user);
END;
$$;

CREATE FUNCTION bench.release_c(p_customer bigint, p_rep integer, p_reason text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	v_now		timestamptz := clock_timestamp();
	v_owner		integer;
	v_deal		boolean;
	v_holder	integer;
BEGIN
	SELECT owner_id, has_deal INTO v_owner, v_deal
	FROM bench.cust_c WHERE id = p_customer FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'customer % does not exist', p_customer USING ERRCODE = 'CR002';
	END IF;
	IF v_owner IS DISTINCT FROM p_rep THEN
		RAISE EXCEPTION 'rep % does not own customer %', p_rep, p_customer USING ERRCODE = 'CR004';
	END IF;
	SELECT rep INTO v_holder FROM bench.customer_lock_c WHERE customer = p_customer;
	IF FOUND THEN
		RAISE EXCEPTION 'customer % is locked', p_customer
			USING ERRCODE = 'CR005', DETAIL = format('Locked by rep %s.', v_holder);
	END IF;

	UPDATE bench.rep_counter_c
	SET owned = owned - 1, with_deal = with_deal - v_deal::integer
	WHERE rep = p_rep;
	UPDATE bench.cust_c SET owner_id = NULL WHERE id = p_customer;
	INSERT INTO bench.history_c (customer, at, owner, how, actor, reason)
	VALUES (p_customer, v_now, NULL, 'release', current_user, p_reason);
END;
$$;
