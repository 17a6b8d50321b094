-- Pools as objects: crmpool.create_pool(), alter_pool(), drop_pool(), pools(); members and
-- admins (set_pool_members, set_pool_admins, pool_members); release(..., to_pool), move().
-- sql/upgrade/0.1--0.2/61_pools.sql is a link to this file (60_pools.sql first drops 0.1's
-- release); the tables are registered for pg_dump in sql/parts/96_pools.sql, after every
-- table an updated 0.1 registers before them.  docs/reference.md, "Pools".
-- ---------------------------------------------------------------------------------------------
-- A pool of a managed table.  The default pool (the pool column NULL, or a table without a
-- pool column) is the row with pool NULL: it always exists (manage() writes it, drop_pool()
-- refuses it), hence UNIQUE NULLS NOT DISTINCT rather than a primary key.  tenant '' (the type
-- of crmpool.rep_config.tenant): a pool of every tenant of the table; a tenant's own row of a
-- pool (create_pool(..., tenant)) replaces it, options, members and admins together, for that
-- tenant's customers.  The column leads the key as in every state table (docs/design.md).
CREATE TABLE crmpool.pool (
	tenant		text		NOT NULL,
	rel			regclass	NOT NULL,	-- no foreign key: sql/parts/70_dump_restore.sql
	pool		text,
	options		jsonb		NOT NULL,
	created_at	timestamptz	NOT NULL,
	CONSTRAINT pool_key UNIQUE NULLS NOT DISTINCT (tenant, rel, pool)
);
COMMENT ON TABLE crmpool.pool IS 'Pools of managed tables (crmpool.create_pool); pool NULL is the default pool.';

-- The members (admin false) and admins (admin true) of a pool: a rep, or a team (of
-- crmpool.set_rep).  ordinal is the order they joined, kept while they stay: round-robin
-- hands out in that order.
CREATE TABLE crmpool.pool_member (
	tenant		text		NOT NULL,
	rel			regclass	NOT NULL,
	pool		text,
	admin		boolean		NOT NULL,
	rep			bigint,
	team		text,
	ordinal		integer		NOT NULL,
	joined_at	timestamptz	NOT NULL,
	CONSTRAINT pool_member_key UNIQUE NULLS NOT DISTINCT (tenant, rel, pool, admin, rep, team),
	CONSTRAINT pool_member_rep_or_team CHECK ((rep IS NULL) <> (team IS NULL))
);
COMMENT ON TABLE crmpool.pool_member IS 'Members and admins of pools (crmpool.set_pool_members, set_pool_admins), in the order they joined.';

REVOKE ALL ON crmpool.pool, crmpool.pool_member FROM PUBLIC;

CREATE FUNCTION crmpool.create_pool(rel regclass, pool text, options jsonb DEFAULT '{}',
									tenant text DEFAULT NULL)
RETURNS void LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_create_pool';
COMMENT ON FUNCTION crmpool.create_pool(regclass, text, jsonb, text) IS
	'Create a pool of a managed table (tenant NULL: of every tenant), or a tenant''s own configuration of a pool (the default pool included); options is a JSON object (key "description").';

CREATE FUNCTION crmpool.alter_pool(rel regclass, pool text, options jsonb, tenant text DEFAULT NULL)
RETURNS void LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_alter_pool';
COMMENT ON FUNCTION crmpool.alter_pool(regclass, text, jsonb, text) IS
	'Replace the options of a pool (NULL: the default pool), of every tenant or of a tenant''s own configuration.';

CREATE FUNCTION crmpool.drop_pool(rel regclass, pool text, tenant text DEFAULT NULL)
RETURNS void LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_drop_pool';
COMMENT ON FUNCTION crmpool.drop_pool(regclass, text, text) IS
	'Drop a pool (or a tenant''s own configuration of it) with its members and admins; refused while a customer would be left in a pool that no longer exists for it, and for the default pool of every tenant.';

CREATE FUNCTION crmpool.pools(rel regclass, tenant text DEFAULT NULL)
RETURNS TABLE(pool text, options jsonb, created_at timestamptz, members integer, admins integer,
			  tenant text)
LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_pools';
COMMENT ON FUNCTION crmpool.pools(regclass, text) IS
	'The pools of a managed table (NULL: the default pool), with their options, how many members and admins each names, and whose they are (tenant NULL: every tenant''s); for a tenant, the pools as they apply to its customers.';

CREATE FUNCTION crmpool.set_pool_members(rel regclass, pool text, reps bigint[] DEFAULT NULL, teams text[] DEFAULT NULL,
										 tenant text DEFAULT NULL)
RETURNS void LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_set_pool_members';
COMMENT ON FUNCTION crmpool.set_pool_members(regclass, text, bigint[], text[], text) IS
	'Set the members of a pool (reps and teams; none: open to every rep); those who stay keep their place in the join order.';

CREATE FUNCTION crmpool.set_pool_admins(rel regclass, pool text, reps bigint[] DEFAULT NULL, teams text[] DEFAULT NULL,
										tenant text DEFAULT NULL)
RETURNS void LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_set_pool_admins';
COMMENT ON FUNCTION crmpool.set_pool_admins(regclass, text, bigint[], text[], text) IS
	'Set the admins of a pool (reps and teams): they claim from it without the claim-only limits.';

CREATE FUNCTION crmpool.pool_members(rel regclass, pool text, tenant text DEFAULT NULL)
RETURNS TABLE(rep bigint, team text, admin boolean, ordinal integer, joined_at timestamptz)
LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_pool_members';
COMMENT ON FUNCTION crmpool.pool_members(regclass, text, text) IS
	'The members and admins of a pool as set (a rep or a team each), members first, in the order they joined; of every tenant''s configuration, or of a tenant''s own.';

-- ---------------------------------------------------------------------------------------------
-- Where customers go: release(..., to_pool), move()
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION crmpool.release(rel regclass, customer bigint, rep bigint, reason text DEFAULT NULL,
								to_pool text DEFAULT NULL)
RETURNS void LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_release_v2';
COMMENT ON FUNCTION crmpool.release(regclass, bigint, bigint, text, text) IS
	'Return an owned customer to the pool (only its owner may), with an optional reason; to_pool names the pool it goes to (NULL: the one it is in).';

-- move changes where customers wait, which decides who may claim them: not PUBLIC's (as assign)
CREATE FUNCTION crmpool.move(rel regclass, customers bigint[], pool text)
RETURNS TABLE(customer bigint, outcome text) LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_move';
COMMENT ON FUNCTION crmpool.move(regclass, bigint[], text) IS
	'Move pool customers to another pool (NULL: the default pool); owned customers stay.  One row per customer: moved, owned, already_there or unknown_customer.';
REVOKE EXECUTE ON FUNCTION crmpool.move(regclass, bigint[], text) FROM PUBLIC;
