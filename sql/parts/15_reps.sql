-- Rule scopes with tenants and teams, reps (crmpool.set_rep, crmpool.reps) and crmpool.hand_over.
-- sql/upgrade/0.1--0.2/52_reps.sql is a link to this file: an updated 0.1 gets exactly these
-- objects (51_reps.sql first drops 0.1's set_rules, clear_rules and rules, and adds
-- crmpool.rule_set's tenant and team).  crmpool.rep_config is registered for pg_dump in
-- sql/parts/95_reps.sql.
-- ---------------------------------------------------------------------------------------------
-- Rules, by scope (crmpool.rule_set, sql/parts/10_core.sql)
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION crmpool.set_rules(rel regclass, rules jsonb, pool text DEFAULT NULL, rep bigint DEFAULT NULL,
								  tenant text DEFAULT NULL, team text DEFAULT NULL)
RETURNS jsonb LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_set_rules_v2';
COMMENT ON FUNCTION crmpool.set_rules(regclass, jsonb, text, bigint, text, text) IS
	'Merge rules into the scope (the table, narrowed by a tenant, a pool, and a team or a rep); returns the scope''s rules.';

CREATE FUNCTION crmpool.clear_rules(rel regclass, pool text DEFAULT NULL, rep bigint DEFAULT NULL, keys text[] DEFAULT NULL,
									tenant text DEFAULT NULL, team text DEFAULT NULL)
RETURNS jsonb LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_clear_rules_v2';
COMMENT ON FUNCTION crmpool.clear_rules(regclass, text, bigint, text[], text, text) IS
	'Remove the given rule keys (all, when keys is NULL) from one scope; returns what is left.';

CREATE FUNCTION crmpool.rules(rel regclass, pool text DEFAULT NULL, rep bigint DEFAULT NULL,
							  tenant text DEFAULT NULL, team text DEFAULT NULL)
RETURNS jsonb LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_rules_v2';
COMMENT ON FUNCTION crmpool.rules(regclass, text, bigint, text, text) IS
	'The effective rules for a customer of a tenant in a pool, owned by a rep (of its set_rep team) or a member of a team: table -> tenant -> pool -> team -> rep.';

-- ---------------------------------------------------------------------------------------------
-- Reps: teams, and who left
-- ---------------------------------------------------------------------------------------------
-- Per rep and table, what crmpool.set_rep() says: the rep's team (whose rules it gets) and
-- whether it is active (an inactive rep gains no customer).  tenant '' (not NULL, being part of
-- the key): the rep of every tenant of the table; a row for one tenant overrides it there.
CREATE TABLE crmpool.rep_config (
	tenant		text		NOT NULL,
	rel			regclass	NOT NULL,	-- no foreign key: sql/parts/70_dump_restore.sql
	rep			bigint		NOT NULL,
	team		text,
	active		boolean		NOT NULL,
	set_at		timestamptz	NOT NULL,
	-- crmpool.distribute(): the lottery weight, and the app's score for mode performance
	weight		float8		NOT NULL DEFAULT 1 CHECK (weight OPERATOR(pg_catalog.>=) 0 AND weight OPERATOR(pg_catalog.<) 'infinity'),
	score		float8		CHECK (score OPERATOR(pg_catalog.>=) 0 AND score OPERATOR(pg_catalog.<) 'infinity'),
	PRIMARY KEY (tenant, rel, rep)
);
COMMENT ON TABLE crmpool.rep_config IS 'Reps set with crmpool.set_rep(): team, active, lottery weight and score, per tenant.';

REVOKE ALL ON crmpool.rep_config FROM PUBLIC;

CREATE FUNCTION crmpool.set_rep(rel regclass, rep bigint, team text DEFAULT NULL, active boolean DEFAULT true,
								tenant text DEFAULT NULL, weight float8 DEFAULT 1, score float8 DEFAULT NULL)
RETURNS void LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_set_rep_v2';
COMMENT ON FUNCTION crmpool.set_rep(regclass, bigint, text, boolean, text, float8, float8) IS
	'Set a rep''s team (its team''s rules apply to it), whether it is active (an inactive rep gains no customer), its lottery weight and its score (crmpool.distribute), for one tenant or (NULL) every tenant.';

CREATE FUNCTION crmpool.reps(rel regclass)
RETURNS TABLE(tenant text, rep bigint, team text, active boolean, set_at timestamptz, weight float8, score float8)
LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_reps';
COMMENT ON FUNCTION crmpool.reps(regclass) IS
	'The reps set with crmpool.set_rep(): tenant (NULL: every tenant), team, active, when they were set, lottery weight and score.';

-- hand_over gives customers to a rep without the claim-only limits: not PUBLIC's (as transfer)
CREATE FUNCTION crmpool.hand_over(rel regclass, from_rep bigint, to_rep bigint DEFAULT NULL)
RETURNS TABLE(customer bigint, outcome text) LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_hand_over';
COMMENT ON FUNCTION crmpool.hand_over(regclass, bigint, bigint) IS
	'Move every customer of from_rep to to_rep (NULL: the pool) in one statement, all or nothing; locked customers stay (outcome "locked").';
REVOKE EXECUTE ON FUNCTION crmpool.hand_over(regclass, bigint, bigint) FROM PUBLIC;
