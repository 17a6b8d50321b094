/*
 * history.c: reading the ownership ledger and the counters.
 *
 * The ledger is private to the extension owner; these readers check that the caller may SELECT
 * from the managed table, then read as the owner.  Under row-level security on the managed
 * table they show nothing of a customer the caller's SELECT would not show.  A spell is one event up to the next event
 * of the same customer, so spells never overlap and the open spell is the current owner.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "track/track.h"

typedef enum ReaderStmt
{
	READ_HISTORY,
	READ_OWNER_AT,
	READ_LOG,
	READ_LOAD,
	NUM_READERS
} ReaderStmt;

#define READ_HISTORY_SQL(T) \
	"SELECT s.owner, s.at, s.next_at, s.how, s.next_how, s.actor FROM " \
	"(SELECT e.seq, e.owner, e.at, e.how, e.actor, " \
	"        pg_catalog.lead(e.at) OVER w AS next_at, pg_catalog.lead(e.how) OVER w AS next_how " \
	"   FROM crmpool.ownership_event e " \
	"  WHERE " T("e.tenant" EQ "$3 AND ") "e." TABLE_ID(T) EQ "$1 AND e.customer" EQ "$2 WINDOW w AS (ORDER BY e.seq)) s " \
	"WHERE s.owner IS NOT NULL ORDER BY s.seq"

#define READ_OWNER_AT_SQL(T) \
	"SELECT owner FROM crmpool.ownership_event " \
	"WHERE " T("tenant" EQ "$4 AND ") TABLE_ID(T) EQ "$1 AND customer" EQ "$2 AND at OPERATOR(pg_catalog.<=) $3 " \
	"ORDER BY seq DESC LIMIT 1"

#define READ_LOG_SQL(T) \
	"SELECT seq, at, owner, how, actor, reason FROM crmpool.ownership_event " \
	"WHERE " T("tenant" EQ "$3 AND ") TABLE_ID(T) EQ "$1 AND customer" EQ "$2 ORDER BY seq"

#define READ_LOAD_SQL(T) \
	"SELECT rep, owned, locked, with_deal, " \
	"CASE WHEN claims_day" EQ "$2 THEN claims ELSE 0 END " \
	"FROM crmpool.rep_counter WHERE " T("tenant" EQ "$3 AND ") TABLE_ID(T) EQ "$1 AND owned OPERATOR(pg_catalog.+) claims " \
	"OPERATOR(pg_catalog.>) 0 ORDER BY rep"

static const CrmpoolStmt reader_defs[NUM_READERS] = {
	[READ_HISTORY] = TENANT_STMT(READ_HISTORY_SQL, 3, {INT4OID, INT8OID, INT8OID}),
	[READ_OWNER_AT] = TENANT_STMT(READ_OWNER_AT_SQL, 4, {INT4OID, INT8OID, TIMESTAMPTZOID, INT8OID}),
	[READ_LOG] = TENANT_STMT(READ_LOG_SQL, 3, {INT4OID, INT8OID, INT8OID}),
	[READ_LOAD] = TENANT_STMT(READ_LOAD_SQL, 3, {INT4OID, DATEOID, INT8OID}),
};

static SPIPlanPtr reader_plans[NUM_READERS][2];

static SPIPlanPtr
reader_plan(ReaderStmt stmt)
{
	return crmpool_stmt_plan(&reader_defs[stmt], reader_plans[stmt]);
}

/* The managed table argument, readable by the caller. */
static Oid
readable_rel(FunctionCallInfo fcinfo)
{
	Oid			relid;

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	crmpool_require_select(relid);
	(void) managed_rel_get(relid, false);
	return relid;
}

/*
 * Whether the caller may see the customer: a customer that the caller's row-level security
 * hides (or that is gone, under such a policy) has no history the caller may read.
 */
/* The table's id, as $1 of every reader statement: the registry entry is cached (registry.c). */
static Datum
table_id_arg(Oid relid)
{
	return crmpool_table_id_datum(managed_rel_get(relid, false)->table_id);
}

/*
 * rep_load's filter under row-level security: only the reps who own a customer the caller can
 * see, so that a reader learns of no owner its policies hide.
 */
static void
visible_owners(HeapTuple *rows, int n, TupleDesc desc, bool *keep, void *arg)
{
	ManagedRel *mr = arg;
	const char *owner = quote_identifier(get_attname(mr->relid, mr->owner_att, false));
	int64	   *reps;
	int			nreps;
	int			i;

	if (!managed_rls_applies(mr))
		return;
	SPI_connect();
	if (SPI_execute(psprintf("SELECT DISTINCT %s::pg_catalog.int8 FROM ONLY %s WHERE %s IS NOT NULL",
							 owner, mr->qualname, owner), true, 0) != SPI_OK_SELECT)
		elog(ERROR, "crmpool could not read table %s", get_rel_name(mr->relid));
	nreps = (int) SPI_processed;
	reps = palloc(sizeof(int64) * Max(nreps, 1));
	for (i = 0; i < nreps; i++)
	{
		bool		isnull;

		reps[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		int64		rep = DatumGetInt64(SPI_getbinval(rows[i], desc, 1, &isnull));
		int			k;

		keep[i] = false;
		for (k = 0; k < nreps && !keep[i]; k++)
			keep[i] = (reps[k] == rep);
	}
	SPI_finish();
}

/*
 * The tenant a customer reader reads under: its tenant argument (argno; -1 for 0.1's SQL, which
 * has none) or, on a table with a tenant column, the customer's own tenant, read as the caller.
 * A customer no longer in the table (or hidden from the caller) needs the argument.
 */
static CrmpoolTenant
customer_tenant(FunctionCallInfo fcinfo, Oid relid, int64 customer, int argno, const char *fname)
{
	ManagedRel *mr = managed_rel_get(relid, false);
	CrmpoolTenant tenant;

	/* the argument, or crmpool.tenant (which must agree with it); a key (tenant, id) needs one */
	if (mr->tenant_att == InvalidAttrNumber || (argno >= 0 && !PG_ARGISNULL(argno)) ||
		managed_scope(mr, fcinfo->flinfo->fn_oid) != NULL)
		return managed_tenant_arg(mr, fcinfo, argno, fname, NULL);
	if (!managed_customer_tenant(mr, customer, &tenant))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s needs a tenant for customer %lld of table %s", fname,
						(long long) customer, get_rel_name(relid)),
				 errdetail("The customer is not in the table, so its tenant cannot be read from its row."),
				 errhint("Pass tenant => the tenant's value as text.")));
	return tenant;
}

/*
 * Whether the caller's row-level security lets it see the customer, and then (in *tenant) the
 * tenant to read it under (customer_tenant).  On a table keyed (tenant, id) the row is found
 * under that tenant, the argument's when crmpool.tenant is unset (which would find no row); on
 * any other table the check comes first, so that a hidden customer's tenant is never read.
 */
static bool
visible_customer(FunctionCallInfo fcinfo, Oid relid, int64 customer, int argno, const char *fname,
				 CrmpoolTenant *tenant)
{
	ManagedRel *mr = managed_rel_get(relid, false);
	bool		visible;
	int			scope;

	if (mr->tenant_in_key)
	{
		*tenant = customer_tenant(fcinfo, relid, customer, argno, fname);
		scope = managed_scope_push(mr, *tenant);
		managed_visible(mr, &customer, 1, &visible);
		managed_scope_pop(scope);
		return visible;
	}
	managed_visible(mr, &customer, 1, &visible);
	if (visible)
		*tenant = customer_tenant(fcinfo, relid, customer, argno, fname);
	return visible;
}

/*
 * history() and ownership_log(): the rows of stmt for one customer.  0.1's SQL binds
 * crmpool_history and crmpool_ownership_log (no tenant argument), 0.2's the _v2 symbols.
 */
static Datum
customer_rows(FunctionCallInfo fcinfo, ReaderStmt stmt, int tenant_argno, const char *fname)
{
	Oid			relid = readable_rel(fcinfo);
	int64		customer;
	CrmpoolTenant tenant;

	crmpool_require_arg(fcinfo, 1, "customer");
	customer = PG_GETARG_INT64(1);
	if (!visible_customer(fcinfo, relid, customer, tenant_argno, fname, &tenant))
	{
		crmpool_init_srf(fcinfo);
		return (Datum) 0;
	}
	crmpool_srf_from_plan(fcinfo, reader_plan(stmt),
						  (Datum[]) {table_id_arg(relid), Int64GetDatum(customer),
						  crmpool_tenant_datum(tenant)}, NULL);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(crmpool_history);
Datum
crmpool_history(PG_FUNCTION_ARGS)
{
	return customer_rows(fcinfo, READ_HISTORY, -1, "crmpool.history()");
}

PG_FUNCTION_INFO_V1(crmpool_history_v2);
Datum
crmpool_history_v2(PG_FUNCTION_ARGS)
{
	return customer_rows(fcinfo, READ_HISTORY, 2, "crmpool.history()");
}

PG_FUNCTION_INFO_V1(crmpool_ownership_log);
Datum
crmpool_ownership_log(PG_FUNCTION_ARGS)
{
	return customer_rows(fcinfo, READ_LOG, -1, "crmpool.ownership_log()");
}

PG_FUNCTION_INFO_V1(crmpool_ownership_log_v2);
Datum
crmpool_ownership_log_v2(PG_FUNCTION_ARGS)
{
	return customer_rows(fcinfo, READ_LOG, 2, "crmpool.ownership_log()");
}

/* rep_load(rel [, tenant]): one tenant's reps; a table with a tenant column needs it. */
static Datum
rep_load(FunctionCallInfo fcinfo, int tenant_argno)
{
	Oid			relid = readable_rel(fcinfo);
	ManagedRel *mr = managed_rel_get(relid, false);
	CrmpoolTenant tenant = managed_tenant_arg(mr, fcinfo, tenant_argno, "crmpool.rep_load()",
												  NULL);

	crmpool_srf_from_plan_filtered(fcinfo, reader_plan(READ_LOAD),
								   (Datum[]) {crmpool_table_id_datum(mr->table_id), DateADTGetDatum(crmpool_date(crmpool_now())),
								   crmpool_tenant_datum(tenant)},
								   NULL, visible_owners, mr);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(crmpool_rep_load);
Datum
crmpool_rep_load(PG_FUNCTION_ARGS)
{
	return rep_load(fcinfo, -1);
}

PG_FUNCTION_INFO_V1(crmpool_rep_load_v2);
Datum
crmpool_rep_load_v2(PG_FUNCTION_ARGS)
{
	return rep_load(fcinfo, 1);
}

static Datum
owner_at(FunctionCallInfo fcinfo, int tenant_argno)
{
	Oid			relid = readable_rel(fcinfo);
	SPIPlanPtr	plan;
	OwnerContext octx;
	bool		isnull = true;
	Datum		owner = (Datum) 0;
	int64		customer;
	CrmpoolTenant tenant;

	crmpool_require_arg(fcinfo, 1, "customer");
	crmpool_require_arg(fcinfo, 2, "at");
	customer = PG_GETARG_INT64(1);
	if (!visible_customer(fcinfo, relid, customer, tenant_argno, "crmpool.owner_at()", &tenant))
		PG_RETURN_NULL();
	plan = reader_plan(READ_OWNER_AT);
	SPI_connect();
	crmpool_become_owner(&octx);
	if (SPI_execute_plan(plan, (Datum[]) {table_id_arg(relid), Int64GetDatum(customer),
						 PG_GETARG_DATUM(2), crmpool_tenant_datum(tenant)},
						 NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "crmpool could not read the ownership history");
	crmpool_restore_user(&octx);
	if (SPI_processed > 0)
		owner = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	SPI_finish();
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(owner);
}

PG_FUNCTION_INFO_V1(crmpool_owner_at);
Datum
crmpool_owner_at(PG_FUNCTION_ARGS)
{
	return owner_at(fcinfo, -1);
}

PG_FUNCTION_INFO_V1(crmpool_owner_at_v2);
Datum
crmpool_owner_at_v2(PG_FUNCTION_ARGS)
{
	return owner_at(fcinfo, 3);
}
