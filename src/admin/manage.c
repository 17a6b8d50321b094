/*
 * manage.c: attaching crmpool to a user's table, and detaching it.
 *
 * manage() checks the table's shape (a plain table, one int4/int8 primary key column, an
 * int4/int8 owner column), records the columns, installs the triggers and adopts the rows that
 * are already there: one "adopt" event per customer, and counters recounted from the data.
 * It takes EXCLUSIVE on the table, so no write and no row lock (crmpool.lock() and follow_up()
 * write bookkeeping under a row lock only) slips in between the count and the trigger.  Calling
 * it again on a managed table changes the mapping, recounts and recomputes due times; history is
 * kept.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/relcache.h"

#include "trigger/trigger.h"

static AttrNumber
column_arg(FunctionCallInfo fcinfo, int argno, Relation rel, const char *role, Oid *type)
{
	char	   *name;
	AttrNumber	att;

	if (PG_ARGISNULL(argno))
		return InvalidAttrNumber;
	name = NameStr(*PG_GETARG_NAME(argno));
	att = get_attnum(RelationGetRelid(rel), name);
	if (att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						name, RelationGetRelationName(rel)),
				 errdetail("It was given as the %s column.", role)));
	if (att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("system column \"%s\" cannot be the %s column", name, role)));
	*type = getBaseType(get_atttype(RelationGetRelid(rel), att));
	return att;
}

static const char *
colname(Relation rel, AttrNumber att)
{
	return quote_identifier(get_attname(RelationGetRelid(rel), att, false));
}

/*
 * Drop crmpool's triggers on the table; the identity trigger too only with_identity (unmanage):
 * manage() run again keeps the identity columns set_identity() named, so their trigger stays.
 */
static void
drop_triggers(Oid relid, const char *qualname, bool with_identity)
{
	static const char *const names[] = {TRIGGER_ROW, TRIGGER_UPDATE, TRIGGER_TRUNCATE,
	TRIGGER_STATEMENT, TRIGGER_BEFORE, TRIGGER_IDENTITY};
	int			i;

	for (i = 0; i < lengthof(names) - (with_identity ? 0 : 1); i++)
		if (OidIsValid(get_trigger_oid(relid, names[i], true)))
			crmpool_admin_exec(psprintf("DROP TRIGGER %s ON %s", names[i], qualname), 0, NULL, NULL);
}

static Relation
open_for_admin(FunctionCallInfo fcinfo)
{
	Oid			relid;
	Relation	rel;

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	rel = crmpool_open_owned_table(relid, ExclusiveLock);
	return rel;
}

#define ADOPT_CHUNK 10000

typedef struct AdoptScan
{
	bool		adopt;			/* record an "adopt" event per customer */
	Datum	   *values;			/* $1 the table's id, $2 now, $3 actor */
	Oid			since_type;		/* the owner-since column's type; InvalidOid: none */
	bool		lock_column;	/* column 6 is the app's lock flag: locks rebuilt from it */
	const char *relname;
	ManagedRel *tenants;		/* the table's tenant column (tenants.c); NULL: none */
	MemoryContext cxt;			/* reset per chunk */
} AdoptScan;

/* Statements of manage(), for 0.2's tables and (WITHOUT_TENANT) 0.1's: base.h, CrmpoolStmt */
#define ADOPT_EVENTS_SQL(T) \
	"INSERT INTO crmpool.ownership_event (" T("tenant, ") TABLE_ID(T) ", customer, at, owner, how, actor) " \
	"SELECT " T("u.tenant, ") "$1, u.customer, u.at, u.owner, 'adopt', $3 " \
	"FROM ROWS FROM (pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6), " \
	"pg_catalog.unnest($2)) AS u(customer, owner, tenant, at)"
#define ADOPT_COUNTS_SQL(T) \
	"INSERT INTO crmpool.rep_counter AS c (" T("tenant, ") TABLE_ID(T) ", rep, owned, with_deal) " \
	"SELECT " T("u.tenant, ") "$1, u.owner, pg_catalog.count(*), pg_catalog.count(*) FILTER (WHERE u.deal) " \
	"FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4)) " \
	"AS u(owner, deal, tenant) WHERE u.owner IS NOT NULL GROUP BY u.tenant, u.owner " \
	"ON CONFLICT (" T("tenant, ") TABLE_ID(T) ", rep) DO UPDATE SET owned = c.owned" PLUS "excluded.owned, " \
	"with_deal = c.with_deal" PLUS "excluded.with_deal"
/* the app's lock flags (lock_column) of owned rows: crmpool.customer_lock is rebuilt from them */
#define ADOPT_LOCKS_SQL(T) \
	"INSERT INTO crmpool.customer_lock (" T("tenant, ") TABLE_ID(T) ", customer, rep, since) " \
	"SELECT " T("u.tenant, ") "$1, u.customer, u.rep, $2 " \
	"FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($4), pg_catalog.unnest($5)) " \
	"AS u(customer, rep, tenant)"
#define LOCKED_COUNTS_SQL(T) \
	"UPDATE crmpool.rep_counter c SET locked = " \
	"(SELECT pg_catalog.count(*) FROM crmpool.customer_lock l " \
	" WHERE " T("l.tenant" EQ "c.tenant AND ") "l." TABLE_ID(T) EQ "c." TABLE_ID(T) " AND l.rep" EQ "c.rep) " \
	"WHERE c." TABLE_ID(T) EQ "$1"
#define DROP_LOCKS_SQL(T) "DELETE FROM crmpool.customer_lock WHERE " TABLE_ID(T) EQ "$1"
#define ZERO_COUNTS_SQL(T) \
	"UPDATE crmpool.rep_counter SET owned = 0, locked = 0, with_deal = 0 WHERE " TABLE_ID(T) EQ "$1"
#define MANAGED_ROW_SQL(T) \
	"SELECT " T("tenant_column") " FROM crmpool.managed_table WHERE rel OPERATOR(pg_catalog.=) $1 FOR UPDATE"
/* 0.1's managed_table has neither the tenant column nor the app's lock, owner-since, deleted */
#define MANAGED_UPSERT_SQL(T) \
	"INSERT INTO crmpool.managed_table AS m " \
	"(rel, key_column, owner_column, pool_column, followup_column, deal_column, level_column, " \
	T("tenant_column, lock_column, owner_since_column, deleted_column, ") "managed_at) " \
	"VALUES ($1, %s, %s, %s, %s, %s, %s, " T("%s, %s, %s, %s, ") "$2) " \
	"ON CONFLICT (rel) DO UPDATE SET key_column = excluded.key_column, " \
	"owner_column = excluded.owner_column, pool_column = excluded.pool_column, " \
	"followup_column = excluded.followup_column, deal_column = excluded.deal_column, " \
	"level_column = excluded.level_column" \
	T(", lock_column = excluded.lock_column, owner_since_column = excluded.owner_since_column, " \
	  "deleted_column = excluded.deleted_column RETURNING table_id")
#define UNMANAGE_ROW_SQL(T) \
	"SELECT " T("table_id, ") "rel FROM crmpool.managed_table WHERE rel OPERATOR(pg_catalog.=) $1 FOR UPDATE"

/*
 * The table's id, column 1 of SPI's current row (MANAGED_UPSERT_SQL, UNMANAGE_ROW_SQL); under
 * 0.1's SQL, whose tables key by rel, its OID (base.h).
 */
static CrmpoolTableId
stored_table_id(Oid relid)
{
	bool		isnull;

	if (!crmpool_has_tenants())
		return (CrmpoolTableId) relid;
	return DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * One chunk of (key, owner, has deal, tenant, owner since, locked) rows: count them per tenant
 * and rep, and adopt them (as the extension owner).  The counters were zeroed before the first
 * chunk.  The owner is NULL for a soft-deleted row.  An adopted spell starts at the app's
 * owner-since time where there is one (not in the future), so that recycle clocks go on where
 * the app's were; else now.
 */
static void
adopt_chunk(SPITupleTable *rows, uint64 n, void *arg)
{
	AdoptScan  *scan = arg;
	MemoryContext oldcxt = MemoryContextSwitchTo(scan->cxt);
	Datum	   *customers = palloc(sizeof(Datum) * n);
	Datum	   *owners = palloc(sizeof(Datum) * n);
	bool	   *nulls = palloc(sizeof(bool) * n);
	Datum	   *deals = palloc(sizeof(Datum) * n);
	Datum	   *tenants = palloc(sizeof(Datum) * n);
	Datum	   *ats = palloc(sizeof(Datum) * n);
	Datum	   *locked = palloc(sizeof(Datum) * n);
	Datum	   *holders = palloc(sizeof(Datum) * n);
	Datum	   *lock_tenants = palloc(sizeof(Datum) * n);
	TimestampTz now = DatumGetTimestampTz(scan->values[1]);
	int			nlocked = 0;
	uint64		i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d;

		customers[i] = SPI_getbinval(rows->vals[i], rows->tupdesc, 1, &isnull);
		owners[i] = SPI_getbinval(rows->vals[i], rows->tupdesc, 2, &nulls[i]);
		deals[i] = SPI_getbinval(rows->vals[i], rows->tupdesc, 3, &isnull);
		tenants[i] = SPI_getbinval(rows->vals[i], rows->tupdesc, 4, &isnull);
		if (isnull)
			ereport(ERROR,
					(errcode(ERRCODE_NOT_NULL_VIOLATION),
					 errmsg("customer %lld of table %s has no tenant",
							(long long) DatumGetInt64(customers[i]), scan->relname),
					 errdetail("crmpool keeps every count, cap and history per tenant; a customer without one belongs to none."),
					 errhint("Set the tenant of every customer before attaching the table.")));
		if (scan->tenants != NULL)
			tenants[i] = crmpool_tenant_datum(managed_tenant_value(scan->tenants, tenants[i],
																   DatumGetInt64(customers[i])));
		ats[i] = scan->values[1];
		if (nulls[i])
			continue;
		d = SPI_getbinval(rows->vals[i], rows->tupdesc, 5, &isnull);
		if (OidIsValid(scan->since_type) && !isnull)
		{
			TimestampTz since = managed_time_value(scan->since_type, d);

			if (!TIMESTAMP_NOT_FINITE(since) && since < now)
				ats[i] = TimestampTzGetDatum(since);
		}
		if (scan->lock_column && DatumGetBool(SPI_getbinval(rows->vals[i], rows->tupdesc, 6, &isnull)))
		{
			locked[nlocked] = customers[i];
			holders[nlocked] = owners[i];
			lock_tenants[nlocked++] = tenants[i];
		}
	}
	if (scan->adopt)
		crmpool_admin_exec(TENANT_SQL(ADOPT_EVENTS_SQL),
						   6, (Oid[]) {INT4OID, TIMESTAMPTZARRAYOID, TEXTOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID},
						   (Datum[]) {scan->values[0], crmpool_array(ats, NULL, n, TIMESTAMPTZOID),
						   scan->values[2], crmpool_array(customers, NULL, n, INT8OID),
						   crmpool_array(owners, nulls, n, INT8OID),
						   crmpool_array(tenants, NULL, n, INT8OID)});
	crmpool_admin_exec(TENANT_SQL(ADOPT_COUNTS_SQL),
					   4, (Oid[]) {INT4OID, INT8ARRAYOID, BOOLARRAYOID, INT8ARRAYOID},
					   (Datum[]) {scan->values[0], crmpool_array(owners, nulls, n, INT8OID),
					   crmpool_array(deals, NULL, n, BOOLOID), crmpool_array(tenants, NULL, n, INT8OID)});
	/* lock_column is mapped only under 0.2's SQL, whose tables have tenants */
	if (nlocked > 0)
		crmpool_admin_exec(ADOPT_LOCKS_SQL(WITH_TENANT),
						   5, (Oid[]) {INT4OID, TIMESTAMPTZOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID},
						   (Datum[]) {scan->values[0], scan->values[1],
						   crmpool_array(locked, NULL, nlocked, INT8OID),
						   crmpool_array(holders, NULL, nlocked, INT8OID),
						   crmpool_array(lock_tenants, NULL, nlocked, INT8OID)});
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(scan->cxt);
}

/*
 * Re-attaching a managed table (SPI's current row: its stored tenant_column) cannot change its
 * tenant column: every bookkeeping row is kept under the tenant it was written with.
 */
static void
refuse_tenant_change(Relation rel, AttrNumber tenant)
{
	char	   *stored = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	const char *given = tenant ? get_attname(RelationGetRelid(rel), tenant, false) : NULL;

	if ((stored == NULL) != (given == NULL) ||
		(stored != NULL && strcmp(stored, given) != 0))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot change the tenant column of managed table %s",
						RelationGetRelationName(rel)),
				 stored == NULL ?
				 errdetail("The table was attached without a tenant column; this call names column \"%s\".",
						   given) :
				 given == NULL ?
				 errdetail("The table was attached with tenant column \"%s\"; this call names none.",
						   stored) :
				 errdetail("The table was attached with tenant column \"%s\"; this call names column \"%s\".",
						   stored, given),
				 errhint("crmpool keeps each customer's counters, history and keys under its tenant: detach the table with crmpool.unmanage() and attach it again with the tenant column you want.")));
}

/* The name of att in m's list for role (none when att is InvalidAttrNumber). */
static void
map_column(TableMapping *m, ColumnRole role, Relation rel, AttrNumber att)
{
	if (att != InvalidAttrNumber)
		m->columns[role] = list_make1(get_attname(RelationGetRelid(rel), att, false));
}

/* An argument of manage() that 0.1's six-argument definition does not have is NULL there. */
static AttrNumber
column_arg_v2(FunctionCallInfo fcinfo, int argno, Relation rel, const char *role, Oid *type)
{
	if (PG_NARGS() <= argno)
		return InvalidAttrNumber;
	return column_arg(fcinfo, argno, rel, role, type);
}

static const char *
name_literal(Oid relid, AttrNumber att)
{
	return att != InvalidAttrNumber ? quote_literal_cstr(get_attname(relid, att, false)) : "NULL";
}

/* Whether att is one of the n columns before it (InvalidAttrNumber never is). */
static bool
column_taken(AttrNumber att, const AttrNumber *before, int n)
{
	int			i;

	if (att == InvalidAttrNumber)
		return false;
	for (i = 0; i < n; i++)
		if (before[i] == att)
			return true;
	return false;
}

/*
 * crmpool.manage(): 0.2's ten arguments (crmpool_manage_v2: tenant_column, then the app's lock,
 * owner-since and deleted columns) and 0.1's six (crmpool_manage, which a 0.1 install still
 * binds until ALTER EXTENSION UPDATE), one body.
 */
/*
 * Pools (sql/parts/17_pools.sql): the default pool, and a pool for every value already in the
 * pool column, adopted as the table's pools ("adopt" is what they were before crmpool knew
 * them as objects).  A pool that exists keeps its options and members, and a value that names
 * a pool of some tenants only stays theirs (manage() run again never widens it to every
 * tenant); the values are read as
 * the table's owner (crmpool_scan_table), as every value manage() reads.  Their time is the
 * table's managed_at, as an update from 0.1 writes it (sql/upgrade/0.1--0.2/63_pools_adopt.sql).
 */
#define POOL_ADOPT_SQL \
	"INSERT INTO crmpool.pool (tenant, rel, pool, options, created_at) " \
	"SELECT $2, m.rel, p.pool, '{}', m.managed_at FROM crmpool.managed_table m, " \
	"(SELECT DISTINCT u.pool FROM pg_catalog.unnest($3::pg_catalog.text[]) AS u(pool)) AS p " \
	"WHERE m.rel OPERATOR(pg_catalog.=) $1 AND NOT EXISTS (SELECT FROM crmpool.pool q " \
	"WHERE q.rel OPERATOR(pg_catalog.=) m.rel AND (q.pool OPERATOR(pg_catalog.=) p.pool " \
	"OR (q.pool IS NULL AND p.pool IS NULL))) ON CONFLICT ON CONSTRAINT pool_key DO NOTHING"

/* Pools named by n values (NULL: the default pool); values[0] is the table */
static void
adopt_pool_values(Datum *values, Datum *pools, bool *nulls, int n)
{
	crmpool_admin_exec(POOL_ADOPT_SQL, 3, (Oid[]) {REGCLASSOID, TEXTOID, TEXTARRAYOID},
					   (Datum[]) {values[0], CStringGetTextDatum(""),	/* every tenant */
					   crmpool_array(pools, nulls, n, TEXTOID)});
}

typedef struct PoolScan
{
	Datum	   *values;			/* manage()'s: values[0] is the table */
	Oid			out;			/* the pool column's output function */
} PoolScan;

/* A chunk of pool values, turned into text by the column type's (built-in) output function. */
static void
adopt_pools_chunk(SPITupleTable *rows, uint64 n, void *arg)
{
	PoolScan   *ps = (PoolScan *) arg;
	Datum	   *pools = palloc(sizeof(Datum) * n);
	bool	   *nulls = palloc(sizeof(bool) * n);
	uint64		i;

	for (i = 0; i < n; i++)
	{
		Datum		d = SPI_getbinval(rows->vals[i], rows->tupdesc, 1, &nulls[i]);

		pools[i] = nulls[i] ? (Datum) 0 : CStringGetTextDatum(OidOutputFunctionCall(ps->out, d));
	}
	adopt_pool_values(ps->values, pools, nulls, (int) n);
}

static void
adopt_pools(Relation rel, AttrNumber pool, const char *qualname, Datum *values)
{
	Datum		none = (Datum) 0;
	bool		isnull = true;
	PoolScan	ps;
	bool		isvarlena;

	if (!crmpool_has_relation("pool"))
		return;					/* 0.1's SQL: no pools as objects */
	adopt_pool_values(values, &none, &isnull, 1);
	if (pool == InvalidAttrNumber)
		return;
	/* no cast or operator of the column's type in the statement: values come out as they are */
	ps.values = values;
	getTypeOutputInfo(get_atttype(RelationGetRelid(rel), pool), &ps.out, &isvarlena);
	crmpool_scan_table(RelationGetRelid(rel),
					   psprintf("SELECT %s FROM ONLY %s WHERE %s IS NOT NULL",
								colname(rel, pool), qualname, colname(rel, pool)),
					   0, NULL, NULL, ADOPT_CHUNK, adopt_pools_chunk, &ps);
}

static Datum manage_table(FunctionCallInfo fcinfo);

PG_FUNCTION_INFO_V1(crmpool_manage);
Datum
crmpool_manage(PG_FUNCTION_ARGS)
{
	return manage_table(fcinfo);
}

PG_FUNCTION_INFO_V1(crmpool_manage_v2);
Datum
crmpool_manage_v2(PG_FUNCTION_ARGS)
{
	return manage_table(fcinfo);
}

static Datum
manage_table(FunctionCallInfo fcinfo)
{
	Relation	rel;
	Oid			relid;
	char	   *qualname;
	AttrNumber	key,
				owner,
				pool,
				followup,
				deal,
				level,
				tenant,
				lock,
				owner_since,
				deleted;
	Oid			type,
				deal_type = InvalidOid,
				lock_type = InvalidOid,
				deleted_type = InvalidOid;
	TableMapping mapping = {0};
	OwnerContext octx;
	int			nestlevel;
	bool		adopted;
	const char *deal_expr;
	Oid			types[3] = {REGCLASSOID, TIMESTAMPTZOID, TEXTOID};
	Datum		values[3];
	/* the same for crmpool's state tables: the table's id first (base.h, CrmpoolTableId) */
	Oid			state_types[3] = {INT4OID, TIMESTAMPTZOID, TEXTOID};
	Datum		state_values[3];
	CrmpoolTableId table_id;

	rel = open_for_admin(fcinfo);
	relid = RelationGetRelid(rel);
	ownership_require_settled(relid, "crmpool.manage()");
	/* the kind of table first: a view has no primary key to complain about */
	tables_check_kind(relid, false);
	crmpool_require_arg(fcinfo, 1, "owner_column");
	qualname = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
										  RelationGetRelationName(rel));

	/* a primary key (tenant, id) names the tenant column */
	tenant = column_arg_v2(fcinfo, 6, rel, "tenant", &type);
	key = tables_primary_key(rel, tenant);
	owner = column_arg(fcinfo, 1, rel, "owner", &type);
	pool = column_arg(fcinfo, 2, rel, "pool", &type);
	followup = column_arg(fcinfo, 3, rel, "follow-up", &type);
	deal = column_arg(fcinfo, 4, rel, "deal", &deal_type);
	level = column_arg(fcinfo, 5, rel, "level", &type);
	lock = column_arg_v2(fcinfo, 7, rel, "lock", &lock_type);
	owner_since = column_arg_v2(fcinfo, 8, rel, "owner-since", &type);
	deleted = column_arg_v2(fcinfo, 9, rel, "deleted", &deleted_type);
	{
		AttrNumber	cols[] = {key, owner, pool, deal, followup, level, tenant, lock, owner_since,
		deleted};
		int			i;

		for (i = 1; i < lengthof(cols); i++)
			if (column_taken(cols[i], cols, i))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("the key, owner, pool, follow-up, deal, level, tenant, lock, owner-since and deleted columns must be different columns"),
						 errdetail("Column \"%s\" is named twice.", get_attname(relid, cols[i], false))));
	}
	map_column(&mapping, COLUMN_KEY, rel, key);
	map_column(&mapping, COLUMN_OWNER, rel, owner);
	map_column(&mapping, COLUMN_POOL, rel, pool);
	map_column(&mapping, COLUMN_FOLLOWUP, rel, followup);
	map_column(&mapping, COLUMN_DEAL, rel, deal);
	map_column(&mapping, COLUMN_LEVEL, rel, level);
	map_column(&mapping, COLUMN_TENANT, rel, tenant);
	map_column(&mapping, COLUMN_LOCK, rel, lock);
	map_column(&mapping, COLUMN_OWNER_SINCE, rel, owner_since);
	map_column(&mapping, COLUMN_DELETED, rel, deleted);
	tables_check_mapping(relid, &mapping, false);
	deal_expr = deal == InvalidAttrNumber ? "false" :
		psprintf(deal_type == BOOLOID ? "%s IS TRUE" : "%s IS NOT NULL", colname(rel, deal));

	nestlevel = crmpool_begin_admin(&octx);
	values[0] = ObjectIdGetDatum(relid);
	values[1] = TimestampTzGetDatum(crmpool_now());
	values[2] = CStringGetTextDatum(crmpool_actor_name());

	/* 0.2's SQL binds crmpool_manage_v2; 0.1's six-argument crmpool_manage maps none of these */
	if (PG_NARGS() > 6 && !crmpool_has_tenants())
		elog(ERROR, "crmpool's 0.1 tables cannot keep a tenant, lock, owner-since or deleted column");
	crmpool_admin_exec(crmpool_has_tenants() ? MANAGED_ROW_SQL(WITH_TENANT) : MANAGED_ROW_SQL(WITHOUT_TENANT),
		 1, types, values);
	adopted = SPI_processed > 0;
	if (adopted && crmpool_has_tenants())
		refuse_tenant_change(rel, tenant);
	/* 0.1's text has no %s for the last four columns: those arguments are left unread */
	crmpool_admin_exec(psprintf(crmpool_has_tenants() ? MANAGED_UPSERT_SQL(WITH_TENANT) :
								MANAGED_UPSERT_SQL(WITHOUT_TENANT),
								name_literal(relid, key), name_literal(relid, owner),
								name_literal(relid, pool), name_literal(relid, followup),
								name_literal(relid, deal), name_literal(relid, level),
								name_literal(relid, tenant), name_literal(relid, lock),
								name_literal(relid, owner_since), name_literal(relid, deleted)),
		 2, types, values);
	/* kept by a manage() of a managed table, new for a table managed again (never reused) */
	table_id = stored_table_id(relid);
	state_values[0] = crmpool_table_id_datum(table_id);
	state_values[1] = values[1];
	state_values[2] = values[2];

	adopt_pools(rel, pool, qualname, values);

	drop_triggers(relid, qualname, false);
	crmpool_admin_exec(psprintf("CREATE TRIGGER %s AFTER INSERT OR DELETE ON %s FOR EACH ROW "
				  "EXECUTE FUNCTION crmpool.ownership_trigger()", TRIGGER_ROW, qualname),
		 0, NULL, NULL);
	/*
	 * No WHEN clause and no column list: the trigger itself skips, before anything else, a row
	 * whose key, owner, deal, follow-up, level and pool did not change.  A WHEN clause is read
	 * back and planned again by every UPDATE statement (40k instructions, measured: more than
	 * the C check costs), and a column list would miss an owner changed by a BEFORE trigger of
	 * the user's.
	 */
	crmpool_admin_exec(psprintf("CREATE TRIGGER %s AFTER UPDATE ON %s FOR EACH ROW "
				  "EXECUTE FUNCTION crmpool.ownership_trigger()", TRIGGER_UPDATE, qualname),
		 0, NULL, NULL);
	/*
	 * The app's lock, owner-since and deleted columns are written back into the row on an
	 * ownership change (ownership.c, before_row): only tables that map one get the trigger.
	 */
	if (lock != InvalidAttrNumber || owner_since != InvalidAttrNumber || deleted != InvalidAttrNumber)
		crmpool_admin_exec(psprintf("CREATE TRIGGER %s BEFORE INSERT OR UPDATE ON %s FOR EACH ROW "
									"EXECUTE FUNCTION crmpool.ownership_trigger()", TRIGGER_BEFORE, qualname),
						   0, NULL, NULL);
	crmpool_admin_exec(psprintf("CREATE TRIGGER %s AFTER TRUNCATE ON %s FOR EACH STATEMENT "
				  "EXECUTE FUNCTION crmpool.ownership_trigger()", TRIGGER_TRUNCATE, qualname),
		 0, NULL, NULL);
	/* applies the counter changes queued by the row triggers, in rep order (ownership.c) */
	crmpool_admin_exec(psprintf("CREATE TRIGGER %s AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH STATEMENT "
				  "EXECUTE FUNCTION crmpool.ownership_trigger()", TRIGGER_STATEMENT, qualname),
		 0, NULL, NULL);

	/*
	 * Customers already there start their history now ("adopt"), and the counters are recounted
	 * from the data, per tenant (claims made today survive a re-attach).  The rows are read as
	 * the table's owner (crmpool_scan_table), never as the extension owner; this session writes
	 * them.  A tenant is read as it is and keyed as managed_tenant() keys a row's (tenants.c); a
	 * table without one is all CRMPOOL_NO_TENANT.
	 */
	{
		AdoptScan	scan;
		ManagedRel	tenants;

		const char *owner_expr = colname(rel, owner);

		memset(&scan, 0, sizeof(scan));
		scan.adopt = !adopted;
		scan.values = state_values;
		scan.relname = RelationGetRelationName(rel);
		if (tenant != InvalidAttrNumber)
		{
			memset(&tenants, 0, sizeof(tenants));
			tenants.relid = relid;
			tenants.table_id = table_id;
			tenants.mcxt = CurrentMemoryContext;
			managed_tenant_init(&tenants, tenant);
			scan.tenants = &tenants;
		}
		if (owner_since != InvalidAttrNumber)
			scan.since_type = getBaseType(get_atttype(relid, owner_since));
		/* a soft-deleted row owns nothing; the app's lock flag counts only on an owned row */
		if (deleted != InvalidAttrNumber)
			owner_expr = psprintf("CASE WHEN %s THEN NULL ELSE %s END",
								  managed_flag_sql(deleted_type, colname(rel, deleted), true),
								  owner_expr);
		if (lock != InvalidAttrNumber)
		{
			/* the column is the lock: crmpool.customer_lock is rebuilt from it */
			scan.lock_column = true;
			crmpool_admin_exec(TENANT_SQL(DROP_LOCKS_SQL), 1, state_types, state_values);
		}
		scan.cxt = AllocSetContextCreate(CurrentMemoryContext, "crmpool adopt", ALLOCSET_DEFAULT_SIZES);
		crmpool_admin_exec(TENANT_SQL(ZERO_COUNTS_SQL), 1, state_types, state_values);
		crmpool_scan_table(relid, psprintf("SELECT %s::pg_catalog.int8, (%s)::pg_catalog.int8, %s, %s, %s, %s FROM ONLY %s",
										   colname(rel, key), owner_expr, deal_expr,
										   tenant ? colname(rel, tenant) : "0::pg_catalog.int8",
										   owner_since != InvalidAttrNumber ? colname(rel, owner_since) : "NULL",
										   lock != InvalidAttrNumber ?
										   managed_flag_sql(lock_type, colname(rel, lock), false) : "false",
										   qualname),
						   0, NULL, NULL, ADOPT_CHUNK, adopt_chunk, &scan);
		MemoryContextDelete(scan.cxt);
		crmpool_admin_exec(TENANT_SQL(LOCKED_COUNTS_SQL), 1, state_types, state_values);
	}

	crmpool_end_admin(&octx, nestlevel);
	managed_rel_changed(relid);
	/* a new mapping of the follow-up, deal, level or pool column moves due times */
	due_recompute(relid);
	relation_close(rel, NoLock);
	PG_RETURN_VOID();
}

/* Delete a table's rows of crmpool.<table>, a state table (keyed by the table's id, base.h). */
static uint64
forget_state(const char *table, CrmpoolTableId table_id)
{
	crmpool_admin_exec(psprintf("DELETE FROM crmpool.%s WHERE %s OPERATOR(pg_catalog.=) $1", table,
								crmpool_has_tenants() ? "table_id" : "rel"),
					   1, (Oid[]) {INT4OID}, (Datum[]) {crmpool_table_id_datum(table_id)});
	return SPI_processed;
}

PG_FUNCTION_INFO_V1(crmpool_unmanage);
Datum
crmpool_unmanage(PG_FUNCTION_ARGS)
{
	Relation	rel = open_for_admin(fcinfo);
	Oid			relid = RelationGetRelid(rel);
	OwnerContext octx;
	int			nestlevel;
	Oid			types[1] = {REGCLASSOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	uint64		events;
	CrmpoolTableId table_id;

	ownership_require_settled(relid, "crmpool.unmanage()");

	/*
	 * Listed is enough: detaching must work even when the stored columns no longer resolve
	 * (a table mapped before crmpool followed renames), so the configuration is not loaded.
	 */
	nestlevel = crmpool_begin_admin(&octx);
	crmpool_admin_exec(TENANT_SQL(UNMANAGE_ROW_SQL), 1, types, values);
	if (SPI_processed == 0)
		managed_rel_not_managed(relid);
	table_id = stored_table_id(relid);
	drop_triggers(relid, quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													RelationGetRelationName(rel)), true);
	forget_state("customer_lock", table_id);
	forget_state("recycle_due", table_id);
	forget_state("recycle_warning", table_id);
	forget_state("followup", table_id);
	events = forget_state("ownership_event", table_id);
	forget_state("rep_counter", table_id);
	identity_forget_table(table_id);
	forget_state("duplicate_warning", table_id);
	/* its other state, tenant keys and distribution (0.2), goes with the row: registry.c */
	crmpool_admin_exec("DELETE FROM crmpool.managed_table WHERE rel OPERATOR(pg_catalog.=) $1", 1, types, values);
	crmpool_end_admin(&octx, nestlevel);
	managed_rel_changed(relid);
	ereport(NOTICE,
			(errmsg("crmpool no longer manages table %s", RelationGetRelationName(rel)),
			 errdetail("Its rules, counters, locks, due times, warnings, follow-ups, identity keys and %llu ownership events were removed.",
					   (unsigned long long) events)));
	relation_close(rel, NoLock);
	PG_RETURN_VOID();
}
