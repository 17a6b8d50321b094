-- crmpool_yudao: translate yudao's customer-pool configuration (ruoyi-vue-pro, module
-- yudao-module-crm) into crmpool rules and reps.  Not part of the extension: a yudao user runs
-- this script once (psql -f contrib/yudao/sync_rules.sql) in the database of the yudao tables,
-- as the owner of crm_customer, then calls
--
--     SELECT * FROM crmpool_yudao.sync_rules('crm_customer');
--
-- after crmpool.manage() and after every change of the configuration in yudao's admin pages
-- (or from yudao's own save methods).  See docs/adopting.md, "yudao".
--
-- What it reads (in the schema of the table, or app_schema):
--   crm_customer_pool_config   one row per tenant (yudao keeps one): enabled, contact_expire_days,
--                              deal_expire_days, notify_enabled, notify_days
--   crm_customer_limit_config  type 1 (owned cap) / 2 (lock cap), user_ids, dept_ids (comma-separated
--                              ids), max_count, deal_count_enabled
--   system_users               id, dept_id, status (0 enabled), deleted
-- What it writes, through crmpool's API only:
--   crmpool.set_rep(rel, user, team => dept_id, active => enabled and not deleted) for every user;
--   tenant scope:  recycle_no_followup, recycle_no_deal, warn_before (null when yudao does not
--                  recycle or warn for that tenant);
--   team scope (a department listed in dept_ids), rep scope (a user listed in user_ids):
--                  private_cap, count_deals_in_cap (type 1) and lock_cap (type 2).
-- Soft-deleted rows (deleted = true or 1) are ignored, as yudao's @TableLogic ignores them.
--
-- yudao's semantics, reproduced (CrmCustomerServiceImpl):
--   - every owned-cap config that matches a user (by user_ids, or by dept_ids holding the
--     user's dept) must hold, each counting deals or not by its own deal_count_enabled: crmpool
--     keeps one cap per scope, so the smallest max_count wins, counting deals if that config
--     (or any config with the same max_count) counts them; a NULL deal_count_enabled counts them
--     (crmpool's default; yudao itself fails on it);
--   - of the lock-cap configs matching a user, yudao applies the LARGEST max_count
--     (CollectionUtils.getMaxValue), and so does this sync;
--   - a user listed in user_ids gets rep-scope rules computed over every config that matches
--     him (his own and his department's), so that crmpool's cascade (rep beats team) gives what
--     yudao gives; a department's scope holds what its configs say, for its other members;
--   - dept_ids match the user's own department only, not its parents (FIND_IN_SET on dept_id).
--
-- The sync remembers what it set (crmpool_yudao.synced_scope) and clears, at the next run, the
-- keys of scopes that yudao no longer configures; keys set by hand at other scopes, or other
-- keys at the same scopes, are left alone.  A scope whose rules did not change is not written
-- again (a recycle key written again would recompute the table's due times).
--
-- Needs crmpool 0.2 with tenants and reps (set_rules(..., tenant =>, team =>), set_rep);
-- test/pending/030_adopt_yudao.pl runs it.

CREATE SCHEMA IF NOT EXISTS crmpool_yudao;

CREATE TABLE IF NOT EXISTS crmpool_yudao.synced_scope (
	rel		regclass NOT NULL,
	scope	text NOT NULL CHECK (scope IN ('tenant', 'team', 'rep')),
	target	text NOT NULL,
	rules	jsonb NOT NULL,
	PRIMARY KEY (rel, scope, target)
);
COMMENT ON TABLE crmpool_yudao.synced_scope IS
	'The rules crmpool_yudao.sync_rules() last set, per managed table and scope.';

-- yudao's flags are bit(1) in MySQL and boolean or smallint in PostgreSQL ports: read them as text.
CREATE OR REPLACE FUNCTION crmpool_yudao.flag(v anyelement)
RETURNS boolean LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$ SELECT CASE WHEN v IS NULL THEN NULL ELSE v::text IN ('1', 'true') END $$;

-- The comma-separated ids of user_ids / dept_ids, as bigints (blanks and empty items skipped).
CREATE OR REPLACE FUNCTION crmpool_yudao.id_list(ids text)
RETURNS bigint[] LANGUAGE sql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(array_agg(btrim(x)::bigint ORDER BY btrim(x)::bigint), '{}')
	FROM unnest(string_to_array(coalesce(ids, ''), ',')) AS x
	WHERE btrim(x) <> ''
$$;

-- The users as crmpool reps: team = their department, active = enabled and not deleted.
CREATE OR REPLACE FUNCTION crmpool_yudao.planned_reps(app_schema name)
RETURNS TABLE (rep bigint, team text, active boolean)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF app_schema IS NULL THEN
		RAISE EXCEPTION 'app_schema must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	RETURN QUERY EXECUTE format(
		'SELECT u.id::bigint, u.dept_id::text,
				coalesce(u.status::text = ''0'', false)
				AND NOT coalesce(crmpool_yudao.flag(u.deleted), false)
		   FROM %I.system_users u
		  ORDER BY u.id', app_schema);
END
$$;

-- The rules yudao's configuration asks for, one row per crmpool scope.
CREATE OR REPLACE FUNCTION crmpool_yudao.planned_rules(app_schema name)
RETURNS TABLE (scope text, target text, rules jsonb)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF app_schema IS NULL THEN
		RAISE EXCEPTION 'app_schema must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	RETURN QUERY EXECUTE format($q$
	WITH pool AS (
		-- yudao keeps one pool configuration per tenant (selectOne); the newest wins if there are more
		SELECT DISTINCT ON (c.tenant_id) c.tenant_id,
			   coalesce(crmpool_yudao.flag(c.enabled), false) AS enabled,
			   c.contact_expire_days, c.deal_expire_days,
			   coalesce(crmpool_yudao.flag(c.notify_enabled), false) AS notify_enabled,
			   c.notify_days
		  FROM %1$I.crm_customer_pool_config c
		 WHERE NOT coalesce(crmpool_yudao.flag(c.deleted), false)
		 ORDER BY c.tenant_id, c.id DESC
	),
	cfg AS (
		SELECT c.id, c.type, c.max_count,
			   coalesce(crmpool_yudao.flag(c.deal_count_enabled), true) AS deals,
			   crmpool_yudao.id_list(c.user_ids) AS users,
			   crmpool_yudao.id_list(c.dept_ids) AS depts
		  FROM %1$I.crm_customer_limit_config c
		 WHERE NOT coalesce(crmpool_yudao.flag(c.deleted), false) AND c.type IN (1, 2)
	),
	-- every (scope, target) a config applies to: its departments, and its users together with
	-- every config of their department
	listed AS (
		SELECT 'team'::text AS scope, d::text AS target, c.*
		  FROM cfg c, unnest(c.depts) AS d
		UNION ALL
		SELECT 'rep', u.id::text, c.*
		  FROM %1$I.system_users u
		  JOIN cfg c ON u.id = ANY (c.users) OR u.dept_id = ANY (c.depts)
		 WHERE EXISTS (SELECT 1 FROM cfg l WHERE l.type = c.type AND u.id = ANY (l.users))
	),
	owned AS (		-- the smallest cap wins; on a tie, the config that counts deals
		SELECT DISTINCT ON (l.scope, l.target) l.scope, l.target,
			   jsonb_build_object('private_cap', l.max_count, 'count_deals_in_cap', l.deals) AS rules
		  FROM listed l WHERE l.type = 1
		 ORDER BY l.scope, l.target, l.max_count, l.deals DESC
	),
	locked AS (		-- yudao applies the largest lock cap of the matching configs
		SELECT l.scope, l.target, jsonb_build_object('lock_cap', max(l.max_count)) AS rules
		  FROM listed l WHERE l.type = 2
		 GROUP BY l.scope, l.target
	)
	SELECT 'tenant'::text, p.tenant_id::text,
		   jsonb_build_object(
			'recycle_no_followup', CASE WHEN p.enabled AND p.contact_expire_days IS NOT NULL
										THEN p.contact_expire_days || ' days' END,
			'recycle_no_deal', CASE WHEN p.enabled AND p.deal_expire_days IS NOT NULL
									THEN p.deal_expire_days || ' days' END,
			'warn_before', CASE WHEN p.enabled AND p.notify_enabled AND p.notify_days IS NOT NULL
								THEN p.notify_days || ' days' END)
	  FROM pool p
	UNION ALL
	SELECT coalesce(o.scope, k.scope), coalesce(o.target, k.target),
		   coalesce(o.rules, '{}') || coalesce(k.rules, '{}')
	  FROM owned o FULL JOIN locked k ON k.scope = o.scope AND k.target = o.target
	$q$, app_schema);
END
$$;

-- Apply yudao's configuration to the managed table rel: reps first (their teams), then the
-- rules; returns the scopes written (those that changed since the last run).
CREATE OR REPLACE FUNCTION crmpool_yudao.sync_rules(rel regclass, app_schema name DEFAULT NULL)
RETURNS TABLE (scope text, target text, rules jsonb)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r record;
	stale text[];
BEGIN
	IF rel IS NULL THEN
		RAISE EXCEPTION 'rel must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF app_schema IS NULL THEN
		SELECT n.nspname INTO app_schema
		  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.oid = rel;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'relation with OID % does not exist', rel::oid USING ERRCODE = 'undefined_table';
		END IF;
	END IF;
	-- one sync at a time: two would both read the same synced_scope rows
	LOCK TABLE crmpool_yudao.synced_scope IN EXCLUSIVE MODE;

	FOR r IN SELECT * FROM crmpool_yudao.planned_reps(app_schema) LOOP
		PERFORM crmpool.set_rep(rel, r.rep, team => r.team, active => r.active);
	END LOOP;

	CREATE TEMP TABLE crmpool_yudao_plan ON COMMIT DROP AS
		SELECT * FROM crmpool_yudao.planned_rules(app_schema);

	-- keys the last run set that yudao no longer configures at that scope
	FOR r IN
		SELECT s.scope, s.target,
			   ARRAY(SELECT jsonb_object_keys(s.rules)
					 EXCEPT SELECT jsonb_object_keys(coalesce(p.rules, '{}'))) AS keys
		  FROM crmpool_yudao.synced_scope s
		  LEFT JOIN crmpool_yudao_plan p ON p.scope = s.scope AND p.target = s.target
		 WHERE s.rel = sync_rules.rel
	LOOP
		IF cardinality(r.keys) > 0 THEN
			PERFORM crmpool.clear_rules(rel, keys => r.keys,
				rep => CASE WHEN r.scope = 'rep' THEN r.target::bigint END,
				team => CASE WHEN r.scope = 'team' THEN r.target END,
				tenant => CASE WHEN r.scope = 'tenant' THEN r.target END);
		END IF;
	END LOOP;

	FOR r IN
		SELECT p.*
		  FROM crmpool_yudao_plan p
		  LEFT JOIN crmpool_yudao.synced_scope s
			ON s.rel = sync_rules.rel AND s.scope = p.scope AND s.target = p.target
		 WHERE s.rules IS DISTINCT FROM p.rules
		 ORDER BY p.scope, p.target
	LOOP
		PERFORM crmpool.set_rules(rel, r.rules,
			rep => CASE WHEN r.scope = 'rep' THEN r.target::bigint END,
			team => CASE WHEN r.scope = 'team' THEN r.target END,
			tenant => CASE WHEN r.scope = 'tenant' THEN r.target END);
		scope := r.scope; target := r.target; rules := r.rules;
		RETURN NEXT;
	END LOOP;

	DELETE FROM crmpool_yudao.synced_scope s WHERE s.rel = sync_rules.rel;
	INSERT INTO crmpool_yudao.synced_scope (rel, scope, target, rules)
		SELECT sync_rules.rel, p.scope, p.target, p.rules FROM crmpool_yudao_plan p;
	DROP TABLE crmpool_yudao_plan;
END
$$;

COMMENT ON FUNCTION crmpool_yudao.sync_rules(regclass, name) IS
	'Write yudao''s crm_customer_pool_config, crm_customer_limit_config and system_users into crmpool rules and reps of rel; returns the scopes written.';
