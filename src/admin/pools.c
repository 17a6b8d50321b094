/*
 * pools.c: crmpool.create_pool(), alter_pool(), drop_pool(), pools(), set_pool_members(),
 * set_pool_admins(), pool_members(): the pools of a managed table as objects
 * (sql/parts/17_pools.sql; docs/reference.md, "Pools").
 *
 * The rows live in crmpool.pool and crmpool.pool_member, tenant first in the key, and are
 * cached with the table's configuration (table/pools.c).  Each function takes a tenant: NULL
 * (tenant "" in the rows) is the configuration of every tenant; a tenant's own row of a pool
 * (create_pool(..., tenant)) replaces it, options, members and admins together, for that
 * tenant's customers (pool_find: the most specific wins, as for rules).  Every change sends the table's relcache
 * invalidation (managed_rel_changed).  Changes that take a right away from a rep (members or
 * admins set, a pool dropped) first take an EXCLUSIVE lock on the managed table, as
 * crmpool.set_rep(..., active => false) does (admin/reps.c): it waits for every writer under
 * way, and every later writer waits for it and then reads the new configuration.  So a claim
 * either committed before the change or is checked against it; a release into a pool being
 * dropped either moved its customer there first (and the drop is refused) or finds the pool
 * gone.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "trigger/trigger.h"

/* The pool's row, in statements whose $1 is the tenant, $2 the table and $3 the pool. */
#define POOL_ROW "tenant OPERATOR(pg_catalog.=) $1 AND rel OPERATOR(pg_catalog.=) $2 " \
	"AND pool IS NOT DISTINCT FROM $3"

/* The pool argument: NULL for the default pool. */
static text *
pool_arg(FunctionCallInfo fcinfo, int argno)
{
	return crmpool_name_arg(fcinfo, argno, "pool", CRMPOOL_POOL_MAX_CHARS,
							_("Pass NULL for the default pool."));
}

static char *
pool_cstring(text *pool)
{
	return pool != NULL ? text_to_cstring(pool) : NULL;
}

/*
 * A pool's options: a JSON object whose keys crmpool knows.  "description" (a string) is the
 * only one today; an unknown key is refused, so that a misspelt one is not silently kept.
 */
static Jsonb *
options_arg(FunctionCallInfo fcinfo, int argno)
{
	Jsonb	   *options;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	crmpool_require_arg(fcinfo, argno, "options");
	options = PG_GETARG_JSONB_P(argno);
	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pool options must be a JSON object"),
				 errhint("Pass an object such as '{\"description\": \"East China leads\"}'.")));
	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;

		if (tok != WJB_KEY)
			continue;
		key = pnstrdup(v.val.string.val, v.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(key, "description") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown pool option \"%s\"", key),
					 errdetail("The only pool option is \"description\"."),
					 errhint("Rules of a pool are set with crmpool.set_rules(..., pool => ...).")));
		if (v.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("pool option \"%s\" must be a string", key)));
	}
	return options;
}

static void
refuse_default_pool(const char *function)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("the default pool always exists"),
			 errdetail("%s() was called with pool NULL, which names the default pool.", function),
			 errhint("Change the default pool's options with crmpool.alter_pool(rel, NULL, options).")));
}

static void
refuse_unknown_pool(Oid relid, const char *pool)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("pool \"%s\" of table %s does not exist", pool, get_rel_name(relid)),
			 errhint("Create it with crmpool.create_pool(); crmpool.pools() lists the pools of the table.")));
}

/*
 * A call's pool: the table, the pool (NULL: the default pool) and whose configuration of it
 * (tenant NULL: every tenant's, key CRMPOOL_NO_TENANT).
 */
typedef struct PoolScope
{
	Oid			relid;
	ManagedRel *mr;
	text	   *pool;
	text	   *tenant;
	CrmpoolTenant key;
} PoolScope;

/*
 * Read the arguments rel (0), pool (pool_argno; -1: none, the default pool) and tenant
 * (tenant_argno) of function fname, for the table's owner (owner: a writer) or a reader; the
 * table locked EXCLUSIVE first when `exclusive`.
 */
static void
pool_scope(PoolScope *ps, FunctionCallInfo fcinfo, int pool_argno, int tenant_argno,
		   const char *fname, bool owner, bool exclusive)
{
	bool		known;

	crmpool_require_arg(fcinfo, 0, "rel");
	ps->relid = PG_GETARG_OID(0);
	ps->pool = pool_argno >= 0 ? pool_arg(fcinfo, pool_argno) : NULL;
	ps->tenant = crmpool_name_arg(fcinfo, PG_NARGS() > tenant_argno ? tenant_argno : -1, "tenant",
								  CRMPOOL_TENANT_MAX_CHARS, _("Pass NULL for the pools of every tenant."));
	if (owner)
		crmpool_require_owner(ps->relid);
	else
		crmpool_require_select(ps->relid);
	if (exclusive)
		LockRelationOid(ps->relid, ExclusiveLock);
	ps->mr = managed_rel_get(ps->relid, false);
	/* a reader keys no new tenant: a name the table has never seen has no pool of its own */
	ps->key = managed_tenant_config(ps->mr, ps->tenant, fname, owner, &known);
	/* the rows keep a tenant as the table's key spells it: "7" for an integer column's "07" */
	if (ps->tenant != NULL && known)
		ps->tenant = cstring_to_text(managed_tenant_name(ps->mr, ps->key));
}

/* The scope's own row of its pool (not another tenant's, nor every tenant's for a tenant). */
static const PoolInfo *
own_pool(const PoolScope *ps)
{
	const char *pool = pool_cstring(ps->pool);
	int			i;

	for (i = 0; i < ps->mr->npools; i++)
	{
		const PoolInfo *pi = &ps->mr->pools[i];

		if (!pool_is(pi, pool))
			continue;
		if (ps->tenant == NULL ? pi->every : (!pi->every && pi->known && pi->tenant_key == ps->key))
			return pi;
	}
	return NULL;
}

/* The scope names no row: the pool does not exist (every tenant), or the tenant has none of its own. */
static void
refuse_no_own_pool(const PoolScope *ps)
{
	const char *tenant;
	PoolScope	every = *ps;

	if (ps->tenant == NULL)
	{
		if (ps->pool == NULL)
			elog(ERROR, "the default pool of table %s has no crmpool.pool row", get_rel_name(ps->relid));
		refuse_unknown_pool(ps->relid, pool_cstring(ps->pool));
	}
	tenant = text_to_cstring(ps->tenant);
	every.tenant = NULL;
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("tenant \"%s\" of table %s has no configuration of its own of %s", tenant,
					get_rel_name(ps->relid), pool_name_words(pool_cstring(ps->pool))),
			 own_pool(&every) != NULL ?
			 errdetail("Its customers use the configuration of every tenant.") :
			 errdetail("The table has no such pool for every tenant either."),
			 errhint("Give the tenant its own with crmpool.create_pool(rel, pool, options, tenant).")));
}

/* Run a statement on crmpool's tables with $1 the scope's tenant ("": every tenant), $2 relid, $3 pool (may be NULL), ... */
static uint64
pool_exec(const char *sql, const PoolScope *ps, int nextra, Oid *extratypes, Datum *extravals,
		  const char *extranulls)
{
	Oid			types[8] = {TEXTOID, REGCLASSOID, TEXTOID};
	Datum		vals[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', ' '};
	OwnerContext octx;
	int			nestlevel;
	int			rc;
	uint64		processed;
	int			i;

	Assert(nextra <= 5);
	vals[0] = ps->tenant != NULL ? PointerGetDatum(ps->tenant) : CStringGetTextDatum("");
	vals[1] = ObjectIdGetDatum(ps->relid);
	vals[2] = PointerGetDatum(ps->pool);
	nulls[2] = ps->pool != NULL ? ' ' : 'n';
	for (i = 0; i < nextra; i++)
	{
		types[3 + i] = extratypes[i];
		vals[3 + i] = extravals[i];
		if (extranulls != NULL)
			nulls[3 + i] = extranulls[i];
	}
	/* search_path pinned: IS NOT DISTINCT FROM looks its "=" up by name */
	nestlevel = crmpool_begin_admin(&octx);
	rc = SPI_execute_with_args(sql, 3 + nextra, types, vals, nulls, false, 0);
	processed = SPI_processed;
	crmpool_end_admin(&octx, nestlevel);
	if (rc < 0)
		elog(ERROR, "crmpool could not run \"%s\": %s", sql, SPI_result_code_string(rc));
	return processed;
}

/*
 * crmpool.create_pool(rel, pool, options, tenant): a pool of every tenant, or a tenant's own
 * configuration of a pool (the default pool included: it exists for every tenant, and a
 * tenant may have its own options, members and admins of it).
 */
PG_FUNCTION_INFO_V1(crmpool_create_pool);
Datum
crmpool_create_pool(PG_FUNCTION_ARGS)
{
	PoolScope	ps;
	Jsonb	   *options;
	Oid			types[2] = {JSONBOID, TIMESTAMPTZOID};
	Datum		vals[2];

	crmpool_require_arg(fcinfo, 0, "rel");
	if (PG_ARGISNULL(1) && (PG_NARGS() < 4 || PG_ARGISNULL(3)))
		refuse_default_pool("crmpool.create_pool");
	options = options_arg(fcinfo, 2);
	/*
	 * A tenant's own row replaces every tenant's for its customers: taken EXCLUSIVE like a
	 * change of members, since the row it shadows may name members and admins.
	 */
	pool_scope(&ps, fcinfo, 1, 3, "crmpool.create_pool()", true,
			   PG_NARGS() > 3 && !PG_ARGISNULL(3));
	vals[0] = JsonbPGetDatum(options);
	vals[1] = TimestampTzGetDatum(crmpool_now());
	/* the managed_table row locked as a foreign key's check would (admin/reps.c) */
	if (pool_exec("INSERT INTO crmpool.pool (tenant, rel, pool, options, created_at) "
				  "SELECT $1, $2, $3, $4, $5 FROM crmpool.managed_table m "
				  "WHERE m.rel OPERATOR(pg_catalog.=) $2 FOR KEY SHARE OF m "
				  "ON CONFLICT ON CONSTRAINT pool_key DO NOTHING",
				  &ps, 2, types, vals, NULL) == 0)
	{
		if (managed_rel_get(ps.relid, true) == NULL)
			managed_rel_not_managed(ps.relid);
		if (ps.tenant != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("tenant \"%s\" of table %s already has a configuration of its own of %s",
							text_to_cstring(ps.tenant), get_rel_name(ps.relid),
							pool_name_words(pool_cstring(ps.pool))),
					 errhint("Change its options with crmpool.alter_pool(..., tenant => ...).")));
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("pool \"%s\" of table %s already exists", pool_cstring(ps.pool),
						get_rel_name(ps.relid)),
				 errhint("Change its options with crmpool.alter_pool().")));
	}
	/*
	 * It starts with every tenant's members and admins of the pool, in their order: a tenant's
	 * row that started empty would open a members-only pool to all of the tenant's reps, and
	 * take the admins' rights away, until its members were named.
	 */
	if (ps.tenant != NULL)
		pool_exec("INSERT INTO crmpool.pool_member (tenant, rel, pool, admin, rep, team, ordinal, joined_at) "
				  "SELECT $1, m.rel, m.pool, m.admin, m.rep, m.team, m.ordinal, m.joined_at "
				  "FROM crmpool.pool_member m WHERE m.tenant OPERATOR(pg_catalog.=) '' "
				  "AND m.rel OPERATOR(pg_catalog.=) $2 AND m.pool IS NOT DISTINCT FROM $3",
				  &ps, 0, NULL, NULL, NULL);
	managed_rel_changed(ps.relid);
	PG_RETURN_VOID();
}

/* crmpool.alter_pool(rel, pool, options, tenant): replaces the options of the scope's own row */
PG_FUNCTION_INFO_V1(crmpool_alter_pool);
Datum
crmpool_alter_pool(PG_FUNCTION_ARGS)
{
	PoolScope	ps;
	Jsonb	   *options;
	Oid			types[1] = {JSONBOID};
	Datum		vals[1];

	crmpool_require_arg(fcinfo, 0, "rel");
	options = options_arg(fcinfo, 2);
	pool_scope(&ps, fcinfo, 1, 3, "crmpool.alter_pool()", true, false);
	vals[0] = JsonbPGetDatum(options);
	if (pool_exec("UPDATE crmpool.pool SET options = $4 WHERE " POOL_ROW,
				  &ps, 1, types, vals, NULL) == 0)
		refuse_no_own_pool(&ps);
	managed_rel_changed(ps.relid);
	PG_RETURN_VOID();
}

/*
 * Counting the customers a drop would leave in no pool: those in the pool (their pool values,
 * as text by the column's output function) whose tenant's configuration of it is the one
 * dropped (by_tenant; else every customer in the pool).
 */
typedef struct PoolCount
{
	const PoolScope *ps;
	const char *pool;
	bool		by_tenant;
	int64		count;
} PoolCount;

static void
count_chunk(SPITupleTable *rows, uint64 n, void *arg)
{
	PoolCount  *pc = (PoolCount *) arg;
	ManagedRel *mr = pc->ps->mr;
	uint64		i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(rows->vals[i], rows->tupdesc, 1, &isnull);
		CrmpoolTenant key;
		bool		known;

		if (isnull || strcmp(OidOutputFunctionCall(mr->pool_out, d), pc->pool) != 0)
			continue;
		if (pc->by_tenant)
		{
			/* a tenant crmpool has no key for has no configuration of its own */
			d = SPI_getbinval(rows->vals[i], rows->tupdesc, 2, &isnull);
			known = !isnull &&
				managed_tenant_key(mr, OidOutputFunctionCall(mr->tenant_out, d), false, &key);
			if (pc->ps->tenant != NULL ? !known || key != pc->ps->key :
				known && !pool_find(mr, key, pc->pool)->every)
				continue;
		}
		pc->count++;
	}
}

/*
 * crmpool.drop_pool(rel, pool, tenant): drops the scope's own row of the pool with its members
 * and admins.  Refused for the default pool of every tenant (it always exists), and while a
 * customer of the table (owned or not, soft-deleted or not) would be left in a pool that no
 * longer exists for it: in the pool, and of a tenant without its own row of it (a drop for
 * every tenant), or of the tenant when the table has no row of the pool for every tenant (a
 * drop for one tenant; its customers otherwise fall back to every tenant's).  The EXCLUSIVE
 * lock on the table comes first, so that no write can put a customer there between the count
 * and the commit (this file's header).
 */
PG_FUNCTION_INFO_V1(crmpool_drop_pool);
Datum
crmpool_drop_pool(PG_FUNCTION_ARGS)
{
	PoolScope	ps;
	PoolScope	every;
	PoolCount	pc = {0};
	bool		scan;
	int			i;

	crmpool_require_arg(fcinfo, 0, "rel");
	if (PG_ARGISNULL(1) && (PG_NARGS() < 3 || PG_ARGISNULL(2)))
		refuse_default_pool("crmpool.drop_pool");
	pool_scope(&ps, fcinfo, 1, 2, "crmpool.drop_pool()", true, true);
	if (own_pool(&ps) == NULL)
		refuse_no_own_pool(&ps);
	pc.ps = &ps;
	pc.pool = pool_cstring(ps.pool);
	every = ps;
	every.tenant = NULL;
	if (ps.tenant != NULL)
	{
		/* a tenant's customers fall back to every tenant's row of the pool, if any */
		scan = own_pool(&every) == NULL;
		pc.by_tenant = true;
	}
	else
	{
		scan = true;
		for (i = 0; i < ps.mr->npools && ps.mr->tenant_att != InvalidAttrNumber; i++)
			if (!ps.mr->pools[i].every && pool_is(&ps.mr->pools[i], pc.pool))
				pc.by_tenant = true;
	}
	if (scan && ps.mr->pool_att != InvalidAttrNumber)
	{
		ManagedRel *mr = ps.mr;
		const char *col = quote_identifier(get_attname(ps.relid, mr->pool_att, false));

		/*
		 * Read as the table's owner, the values turned into text in C by the column type's
		 * (built-in) output function, as every value crmpool reads: no cast or operator of
		 * the type runs.  With a snapshot taken now that the lock is held: the statement's
		 * own, taken before the wait, would miss a customer a release committed meanwhile.
		 */
		PushActiveSnapshot(GetLatestSnapshot());
		crmpool_scan_table(ps.relid, psprintf("SELECT %s, %s FROM ONLY %s WHERE %s IS NOT NULL",
											  col, pc.by_tenant ?
											  quote_identifier(get_attname(ps.relid, mr->tenant_att, false)) :
											  "NULL", mr->qualname, col),
						   0, NULL, NULL, 10000, count_chunk, &pc);
		PopActiveSnapshot();
	}
	if (pc.count > 0 && ps.tenant != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("pool \"%s\" of tenant \"%s\" of table %s still holds customers", pc.pool,
						text_to_cstring(ps.tenant), get_rel_name(ps.relid)),
				 errdetail("%lld customers of the tenant are in pool \"%s\", which the table has for no other tenant.",
						   (long long) pc.count, pc.pool),
				 errhint("Move them to another pool with crmpool.move() first.")));
	if (pc.count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("pool \"%s\" of table %s still holds customers", pc.pool,
						get_rel_name(ps.relid)),
				 errdetail("%lld customers of the table are in pool \"%s\".", (long long) pc.count,
						   pc.pool),
				 errhint("Move them to another pool with crmpool.move() first.")));
	(void) pool_exec("DELETE FROM crmpool.pool_member WHERE " POOL_ROW, &ps, 0, NULL, NULL, NULL);
	if (pool_exec("DELETE FROM crmpool.pool WHERE " POOL_ROW, &ps, 0, NULL, NULL, NULL) == 0)
		refuse_no_own_pool(&ps);
	managed_rel_changed(ps.relid);
	PG_RETURN_VOID();
}

/*
 * crmpool.pools(rel, tenant): for a reader of the table.  Without a tenant every row, each with
 * its tenant (NULL: every tenant's); with one, the pools as they apply to the tenant's
 * customers: per pool its own row, else every tenant's.
 */
PG_FUNCTION_INFO_V1(crmpool_pools);
Datum
crmpool_pools(PG_FUNCTION_ARGS)
{
	static const CrmpoolStmt stmt = {
		"SELECT p.pool, p.options, p.created_at, "
		"(SELECT pg_catalog.count(*)::pg_catalog.int4 FROM crmpool.pool_member m WHERE m.tenant OPERATOR(pg_catalog.=) p.tenant "
		" AND m.rel OPERATOR(pg_catalog.=) p.rel AND m.pool IS NOT DISTINCT FROM p.pool AND NOT m.admin), "
		"(SELECT pg_catalog.count(*)::pg_catalog.int4 FROM crmpool.pool_member m WHERE m.tenant OPERATOR(pg_catalog.=) p.tenant "
		" AND m.rel OPERATOR(pg_catalog.=) p.rel AND m.pool IS NOT DISTINCT FROM p.pool AND m.admin), "
		"NULLIF(p.tenant, '') "
		"FROM crmpool.pool p WHERE p.rel OPERATOR(pg_catalog.=) $1 "
		/* for a tenant: its rows, and every tenant's of the pools it has none of */
		"AND ($2 IS NULL OR p.tenant OPERATOR(pg_catalog.=) $2 OR (p.tenant OPERATOR(pg_catalog.=) '' "
		" AND NOT EXISTS (SELECT FROM crmpool.pool o WHERE o.tenant OPERATOR(pg_catalog.=) $2 "
		" AND o.rel OPERATOR(pg_catalog.=) p.rel AND o.pool IS NOT DISTINCT FROM p.pool))) "
		"ORDER BY p.tenant, p.pool COLLATE \"C\" NULLS FIRST",
		2, {REGCLASSOID, TEXTOID}
	};
	static SPIPlanPtr plans[2];
	PoolScope	ps;

	pool_scope(&ps, fcinfo, -1, 1, "crmpool.pools()", false, false);
	crmpool_srf_from_plan(fcinfo, crmpool_stmt_plan(&stmt, plans),
						  (Datum[]) {ObjectIdGetDatum(ps.relid), PointerGetDatum(ps.tenant)},
						  ps.tenant != NULL ? "  " : " n");
	return (Datum) 0;
}

/*
 * crmpool.pool_members(rel, pool, tenant): the rows as set of the scope's own row of the pool,
 * members first, for a reader of the table.
 */
PG_FUNCTION_INFO_V1(crmpool_pool_members);
Datum
crmpool_pool_members(PG_FUNCTION_ARGS)
{
	static const CrmpoolStmt stmt = {
		"SELECT rep, team, admin, ordinal, joined_at FROM crmpool.pool_member "
		"WHERE tenant OPERATOR(pg_catalog.=) $3 AND rel OPERATOR(pg_catalog.=) $1 "
		"AND pool IS NOT DISTINCT FROM $2 ORDER BY admin, ordinal",
		3, {REGCLASSOID, TEXTOID, TEXTOID}
	};
	static SPIPlanPtr plans[2];
	PoolScope	ps;

	pool_scope(&ps, fcinfo, 1, 2, "crmpool.pool_members()", false, false);
	if (own_pool(&ps) == NULL)
		refuse_no_own_pool(&ps);
	crmpool_srf_from_plan(fcinfo, crmpool_stmt_plan(&stmt, plans),
						  (Datum[]) {ObjectIdGetDatum(ps.relid), PointerGetDatum(ps.pool),
							  ps.tenant != NULL ? PointerGetDatum(ps.tenant) : CStringGetTextDatum("")},
						  ps.pool != NULL ? "   " : " n ");
	return (Datum) 0;
}

/* The elements of a bigint[] or text[] argument (NULL: none); a NULL element is refused. */
static ArrayType *
list_arg(FunctionCallInfo fcinfo, int argno, Oid elemtype, const char *what)
{
	ArrayType  *a;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	if (PG_ARGISNULL(argno))
		return construct_empty_array(elemtype);
	a = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("%s must be a one-dimensional array", what)));
	if (elemtype == INT8OID)
		deconstruct_array(a, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
	else
		deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s must not contain NULL", what)));
		if (elemtype == TEXTOID)
		{
			text	   *t = DatumGetTextPP(elems[i]);

			if (VARSIZE_ANY_EXHDR(t) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("team name must not be empty")));
			crmpool_check_length("team name", VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t),
								 CRMPOOL_TEAM_MAX_CHARS);
		}
	}
	return a;
}

/*
 * set_pool_members / set_pool_admins: the members (admins) become exactly the given reps and
 * teams.  Those who stay keep their row, so their ordinal and joined_at; newcomers join at the
 * end, reps in array order, then teams; a name given twice counts once.
 */
static Datum
set_entries(FunctionCallInfo fcinfo, bool admin)
{
	PoolScope	ps;
	ArrayType  *reps;
	ArrayType  *teams;
	Oid			types[4] = {BOOLOID, INT8ARRAYOID, TEXTARRAYOID, TIMESTAMPTZOID};
	Datum		vals[4];

	crmpool_require_arg(fcinfo, 0, "rel");
	reps = list_arg(fcinfo, 2, INT8OID, "reps");
	teams = list_arg(fcinfo, 3, TEXTOID, "teams");
	pool_scope(&ps, fcinfo, 1, 4, admin ? "crmpool.set_pool_admins()" : "crmpool.set_pool_members()",
			   true, true);
	if (own_pool(&ps) == NULL)
		refuse_no_own_pool(&ps);
	vals[0] = BoolGetDatum(admin);
	vals[1] = PointerGetDatum(reps);
	vals[2] = PointerGetDatum(teams);
	vals[3] = TimestampTzGetDatum(crmpool_now());
	(void) pool_exec("DELETE FROM crmpool.pool_member WHERE " POOL_ROW " AND admin OPERATOR(pg_catalog.=) $4 "
					 "AND NOT COALESCE(rep OPERATOR(pg_catalog.=) ANY ($5), false) "
					 "AND NOT COALESCE(team OPERATOR(pg_catalog.=) ANY ($6), false)",
					 &ps, 4, types, vals, NULL);
	(void) pool_exec("INSERT INTO crmpool.pool_member (tenant, rel, pool, admin, rep, team, ordinal, joined_at) "
					 "SELECT $1, $2, $3, $4, w.rep, w.team, "
					 "(SELECT COALESCE(pg_catalog.max(x.ordinal), 0) FROM crmpool.pool_member x "
					 " WHERE x.tenant OPERATOR(pg_catalog.=) $1 AND x.rel OPERATOR(pg_catalog.=) $2 "
					 " AND x.pool IS NOT DISTINCT FROM $3 AND x.admin OPERATOR(pg_catalog.=) $4) "
					 "OPERATOR(pg_catalog.+) (pg_catalog.row_number() OVER (ORDER BY w.o))::pg_catalog.int4, $7 "
					 "FROM (SELECT DISTINCT ON (u.rep, u.team) u.rep, u.team, u.o FROM ("
					 " SELECT r AS rep, NULL::pg_catalog.text AS team, o FROM pg_catalog.unnest($5) WITH ORDINALITY AS a(r, o)"
					 " UNION ALL SELECT NULL, t, o OPERATOR(pg_catalog.+) pg_catalog.cardinality($5) "
					 " FROM pg_catalog.unnest($6) WITH ORDINALITY AS b(t, o)) u "
					 " ORDER BY u.rep, u.team, u.o) w "
					 "WHERE NOT EXISTS (SELECT FROM crmpool.pool_member x "
					 " WHERE x.tenant OPERATOR(pg_catalog.=) $1 AND x.rel OPERATOR(pg_catalog.=) $2 "
					 " AND x.pool IS NOT DISTINCT FROM $3 AND x.admin OPERATOR(pg_catalog.=) $4 "
					 " AND x.rep IS NOT DISTINCT FROM w.rep AND x.team IS NOT DISTINCT FROM w.team)",
					 &ps, 4, types, vals, NULL);
	managed_rel_changed(ps.relid);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(crmpool_set_pool_members);
Datum
crmpool_set_pool_members(PG_FUNCTION_ARGS)
{
	return set_entries(fcinfo, false);
}

PG_FUNCTION_INFO_V1(crmpool_set_pool_admins);
Datum
crmpool_set_pool_admins(PG_FUNCTION_ARGS)
{
	return set_entries(fcinfo, true);
}
