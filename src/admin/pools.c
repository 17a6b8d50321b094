/*
 * pools.c: crmpool.create_pool(), alter_pool(), drop_pool(), pools(), set_pool_members(),
 * set_pool_admins(), pool_members(): the pools of a managed table as objects
 * (sql/parts/17_pools.sql; docs/reference.md, "Pools").
 *
 * The rows live in crmpool.pool and crmpool.pool_member, tenant first in the key (tenant "":
 * a pool of every tenant, the only kind these functions write), and are cached with the
 * table's configuration (table/pools.c).  Every change sends the table's relcache
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

/* Run a statement on crmpool's tables with $1 tenant "", $2 relid, $3 pool (may be NULL), ... */
static uint64
pool_exec(const char *sql, Oid relid, text *pool, int nextra, Oid *extratypes, Datum *extravals,
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
	vals[0] = CStringGetTextDatum("");	/* pools of every tenant (crmpool.pool) */
	vals[1] = ObjectIdGetDatum(relid);
	vals[2] = PointerGetDatum(pool);
	nulls[2] = pool != NULL ? ' ' : 'n';
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

/* crmpool.create_pool(rel, pool, options) */
PG_FUNCTION_INFO_V1(crmpool_create_pool);
Datum
crmpool_create_pool(PG_FUNCTION_ARGS)
{
	Oid			relid;
	text	   *pool;
	Jsonb	   *options;
	Oid			types[2] = {JSONBOID, TIMESTAMPTZOID};
	Datum		vals[2];

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	pool = pool_arg(fcinfo, 1);
	if (pool == NULL)
		refuse_default_pool("crmpool.create_pool");
	options = options_arg(fcinfo, 2);
	crmpool_require_owner(relid);
	(void) managed_rel_get(relid, false);
	vals[0] = JsonbPGetDatum(options);
	vals[1] = TimestampTzGetDatum(crmpool_now());
	/* the managed_table row locked as a foreign key's check would (admin/reps.c) */
	if (pool_exec("INSERT INTO crmpool.pool (tenant, rel, pool, options, created_at) "
				  "SELECT $1, $2, $3, $4, $5 FROM crmpool.managed_table m "
				  "WHERE m.rel OPERATOR(pg_catalog.=) $2 FOR KEY SHARE OF m "
				  "ON CONFLICT ON CONSTRAINT pool_key DO NOTHING",
				  relid, pool, 2, types, vals, NULL) == 0)
	{
		if (managed_rel_get(relid, true) == NULL)
			managed_rel_not_managed(relid);
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("pool \"%s\" of table %s already exists", pool_cstring(pool),
						get_rel_name(relid)),
				 errhint("Change its options with crmpool.alter_pool().")));
	}
	managed_rel_changed(relid);
	PG_RETURN_VOID();
}

/* crmpool.alter_pool(rel, pool, options): replaces the options */
PG_FUNCTION_INFO_V1(crmpool_alter_pool);
Datum
crmpool_alter_pool(PG_FUNCTION_ARGS)
{
	Oid			relid;
	text	   *pool;
	Jsonb	   *options;
	Oid			types[1] = {JSONBOID};
	Datum		vals[1];

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	pool = pool_arg(fcinfo, 1);
	options = options_arg(fcinfo, 2);
	crmpool_require_owner(relid);
	(void) managed_rel_get(relid, false);
	vals[0] = JsonbPGetDatum(options);
	if (pool_exec("UPDATE crmpool.pool SET options = $4 WHERE " POOL_ROW,
				  relid, pool, 1, types, vals, NULL) == 0)
		refuse_unknown_pool(relid, pool_cstring(pool));
	managed_rel_changed(relid);
	PG_RETURN_VOID();
}

/* Counting a pool's customers: their pool values, as text by the column's output function */
typedef struct PoolCount
{
	Oid			out;
	const char *pool;
	int64		count;
} PoolCount;

static void
count_chunk(SPITupleTable *rows, uint64 n, void *arg)
{
	PoolCount  *pc = (PoolCount *) arg;
	uint64		i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(rows->vals[i], rows->tupdesc, 1, &isnull);

		if (!isnull && strcmp(OidOutputFunctionCall(pc->out, d), pc->pool) == 0)
			pc->count++;
	}
}

/*
 * crmpool.drop_pool(rel, pool): refused for the default pool and while a customer of the
 * table (owned or not, soft-deleted or not) has the pool in its pool column.  The EXCLUSIVE
 * lock on the table comes first, so that no write can put a customer there between the count
 * and the commit (this file's header).
 */
PG_FUNCTION_INFO_V1(crmpool_drop_pool);
Datum
crmpool_drop_pool(PG_FUNCTION_ARGS)
{
	Oid			relid;
	text	   *pool;
	ManagedRel *mr;
	PoolCount	pc = {0};

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	pool = pool_arg(fcinfo, 1);
	if (pool == NULL)
		refuse_default_pool("crmpool.drop_pool");
	crmpool_require_owner(relid);
	LockRelationOid(relid, ExclusiveLock);
	mr = managed_rel_get(relid, false);
	if (pool_find(mr, CRMPOOL_NO_TENANT, pool_cstring(pool)) == NULL)
		refuse_unknown_pool(relid, pool_cstring(pool));
	if (mr->pool_att != InvalidAttrNumber)
	{
		const char *col = quote_identifier(get_attname(relid, mr->pool_att, false));

		/*
		 * Read as the table's owner, the values turned into text in C by the column type's
		 * (built-in) output function, as every value crmpool reads: no cast or operator of
		 * the type runs.  With a snapshot taken now that the lock is held: the statement's
		 * own, taken before the wait, would miss a customer a release committed meanwhile.
		 */
		pc.out = mr->pool_out;
		pc.pool = pool_cstring(pool);
		PushActiveSnapshot(GetLatestSnapshot());
		crmpool_scan_table(relid, psprintf("SELECT %s FROM ONLY %s WHERE %s IS NOT NULL",
										   col, mr->qualname, col),
						   0, NULL, NULL, 10000, count_chunk, &pc);
		PopActiveSnapshot();
	}
	if (pc.count > 0)
		ereport(ERROR,
				(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
				 errmsg("pool \"%s\" of table %s still holds customers", pool_cstring(pool),
						get_rel_name(relid)),
				 errdetail("%lld customers of the table are in pool \"%s\".", (long long) pc.count,
						   pool_cstring(pool)),
				 errhint("Move them to another pool with crmpool.move() first.")));
	(void) pool_exec("DELETE FROM crmpool.pool_member WHERE " POOL_ROW, relid, pool, 0, NULL, NULL, NULL);
	if (pool_exec("DELETE FROM crmpool.pool WHERE " POOL_ROW, relid, pool, 0, NULL, NULL, NULL) == 0)
		refuse_unknown_pool(relid, pool_cstring(pool));
	managed_rel_changed(relid);
	PG_RETURN_VOID();
}

/* crmpool.pools(rel): for a reader of the table */
PG_FUNCTION_INFO_V1(crmpool_pools);
Datum
crmpool_pools(PG_FUNCTION_ARGS)
{
	static const CrmpoolStmt stmt = {
		"SELECT p.pool, p.options, p.created_at, "
		"(SELECT pg_catalog.count(*)::pg_catalog.int4 FROM crmpool.pool_member m WHERE m.tenant OPERATOR(pg_catalog.=) p.tenant "
		" AND m.rel OPERATOR(pg_catalog.=) p.rel AND m.pool IS NOT DISTINCT FROM p.pool AND NOT m.admin), "
		"(SELECT pg_catalog.count(*)::pg_catalog.int4 FROM crmpool.pool_member m WHERE m.tenant OPERATOR(pg_catalog.=) p.tenant "
		" AND m.rel OPERATOR(pg_catalog.=) p.rel AND m.pool IS NOT DISTINCT FROM p.pool AND m.admin) "
		"FROM crmpool.pool p WHERE p.rel OPERATOR(pg_catalog.=) $1 "
		"ORDER BY p.tenant, p.pool COLLATE \"C\" NULLS FIRST",
		1, {REGCLASSOID}
	};
	static SPIPlanPtr plans[2];
	Oid			relid;

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	crmpool_require_select(relid);
	(void) managed_rel_get(relid, false);
	crmpool_srf_from_plan(fcinfo, crmpool_stmt_plan(&stmt, plans),
						  (Datum[]) {ObjectIdGetDatum(relid)}, NULL);
	return (Datum) 0;
}

/* crmpool.pool_members(rel, pool): the rows as set, members first, for a reader of the table */
PG_FUNCTION_INFO_V1(crmpool_pool_members);
Datum
crmpool_pool_members(PG_FUNCTION_ARGS)
{
	static const CrmpoolStmt stmt = {
		"SELECT rep, team, admin, ordinal, joined_at FROM crmpool.pool_member "
		"WHERE tenant OPERATOR(pg_catalog.=) '' AND rel OPERATOR(pg_catalog.=) $1 "
		"AND pool IS NOT DISTINCT FROM $2 ORDER BY admin, ordinal",
		2, {REGCLASSOID, TEXTOID}
	};
	static SPIPlanPtr plans[2];
	Oid			relid;
	text	   *pool;
	ManagedRel *mr;

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	pool = pool_arg(fcinfo, 1);
	crmpool_require_select(relid);
	mr = managed_rel_get(relid, false);
	if (pool_find(mr, CRMPOOL_NO_TENANT, pool_cstring(pool)) == NULL)
		refuse_unknown_pool(relid, pool_cstring(pool));
	crmpool_srf_from_plan(fcinfo, crmpool_stmt_plan(&stmt, plans),
						  (Datum[]) {ObjectIdGetDatum(relid), PointerGetDatum(pool)},
						  pool != NULL ? "  " : " n");
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
	Oid			relid;
	text	   *pool;
	ArrayType  *reps;
	ArrayType  *teams;
	ManagedRel *mr;
	Oid			types[4] = {BOOLOID, INT8ARRAYOID, TEXTARRAYOID, TIMESTAMPTZOID};
	Datum		vals[4];

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	pool = pool_arg(fcinfo, 1);
	reps = list_arg(fcinfo, 2, INT8OID, "reps");
	teams = list_arg(fcinfo, 3, TEXTOID, "teams");
	crmpool_require_owner(relid);
	LockRelationOid(relid, ExclusiveLock);
	mr = managed_rel_get(relid, false);
	if (pool_find(mr, CRMPOOL_NO_TENANT, pool_cstring(pool)) == NULL)
	{
		if (pool == NULL)
			elog(ERROR, "the default pool of table %s has no crmpool.pool row", get_rel_name(relid));
		refuse_unknown_pool(relid, pool_cstring(pool));
	}
	vals[0] = BoolGetDatum(admin);
	vals[1] = PointerGetDatum(reps);
	vals[2] = PointerGetDatum(teams);
	vals[3] = TimestampTzGetDatum(crmpool_now());
	(void) pool_exec("DELETE FROM crmpool.pool_member WHERE " POOL_ROW " AND admin OPERATOR(pg_catalog.=) $4 "
					 "AND NOT COALESCE(rep OPERATOR(pg_catalog.=) ANY ($5), false) "
					 "AND NOT COALESCE(team OPERATOR(pg_catalog.=) ANY ($6), false)",
					 relid, pool, 4, types, vals, NULL);
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
					 relid, pool, 4, types, vals, NULL);
	managed_rel_changed(relid);
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
