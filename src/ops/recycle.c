/*
 * recycle.c: recycling (回收) stale private customers to the public pool.
 *
 * Due rows (crmpool.recycle_due: when each owned customer is due, by which rule, when its owner
 * is warned) are kept by track/due.c on every change; recycling reads them.
 *
 * Locks.  Every write of a due row holds either that customer's row lock (the trigger, lock,
 * unlock, follow_up, a recycle) or EXCLUSIVE on the whole table (recompute).  So once a recycle
 * holds a customer's row lock, the due row it reads is the truth and cannot move under it.  A
 * batch takes ROW EXCLUSIVE on the table first (recompute's EXCLUSIVE waits for it), then
 * locks customer rows with SKIP LOCKED (never waiting: a customer another transaction holds is
 * left for the next run), re-checks their due rows with a fresh snapshot (a follow-up committed
 * meanwhile wins), and recycles them: customer rows first, then the rep counter row, the order
 * every ownership change keeps.  Warnings lock only due rows, with SKIP LOCKED, and wait for
 * nothing while holding them.
 *
 * A batch is the due customers of one rep (at most the batch size): the rep whose customer is
 * due first, then that rep's due customers by index.  A batch holds its rep's counter row to
 * commit, as every ownership change does; were it to mix reps, a claim by any of them would
 * wait for the whole batch.  So a recycle delays only the claims of the one rep it is
 * recycling, and only for one batch.
 *
 * A batch is one OP_RECYCLE intent naming its customers (each with its rule) and one set-based
 * UPDATE of the owner column, so the trigger checks, counts and records each customer like any
 * change (how = the rule, actor "crmpool") and the rep's counter changes once per batch.  One batch is
 * one transaction when run by CALL crmpool.recycle() or the worker: a crash loses at most the
 * open batch, and leaves no customer half-recycled.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "ops/ops.h"

typedef enum RecycleStmt
{
	RS_ADD_FOLLOWUP,
	RS_RECHECK,
	RS_WARN,
	RS_DUE_FIRST,
	RS_DUE_OF_REP,
	RS_TABLES,
	RS_DUE_ONE,
	RS_DUE_ALL,
	RS_WARNINGS,
	NUM_RECYCLE_STMTS
} RecycleStmt;

/*
 * A warning's payload for NOTIFY crmpool_expiring: the table ($4) and the warning's seq, never
 * the customer or its owner.  Any role may LISTEN, with no privilege on the table; the details
 * are read through recycle_warnings(), which checks SELECT and row-level security.
 */
#define WARN_PAYLOAD \
	"pg_catalog.json_build_object('table', $4::pg_catalog.text, 'seq', w.seq)::pg_catalog.text"

/*
 * days_left: whole days until due_at, rounded up; 0 once due.  $1 is now.  Null for a due time
 * that is not finite (none is written since 0.2, but a row of 0.1 may hold one): subtracting it
 * would fail, and fail every caller of due(NULL).
 */
#define DAYS_LEFT \
	"CASE WHEN pg_catalog.isfinite(d.due_at) THEN " \
	"GREATEST(0, pg_catalog.ceil(EXTRACT(epoch FROM d.due_at OPERATOR(pg_catalog.-) $1) " \
	"OPERATOR(pg_catalog./) 86400))::pg_catalog.int4 END"

#define ADD_FOLLOWUP_SQL(T) \
	"INSERT INTO crmpool.followup (" T("tenant, ") TABLE_ID(T) ", customer, rep, at, note, actor) " \
	"VALUES (" T("$7, ") "$1, $2, $3, $4, $5, $6)"

#define RECHECK_SQL(T) \
	"SELECT d.customer, d.owner, d.rule FROM crmpool.recycle_due d " \
	"WHERE " T("d.tenant" EQ "$4 AND ") "d." TABLE_ID(T) EQ "$1 AND d.customer" EQ "ANY ($2) AND d.due_at" LE "$3 " \
	"ORDER BY d.customer"

#define WARN_SQL(T) \
	"WITH c AS (SELECT " T("tenant, ") "customer FROM crmpool.recycle_due " \
	"  WHERE " TABLE_ID(T) EQ "$1 AND NOT warned AND warn_at" LE "$2 AND due_at OPERATOR(pg_catalog.>) $2 " \
	"  ORDER BY warn_at LIMIT $3 FOR UPDATE SKIP LOCKED), " \
	"u AS (UPDATE crmpool.recycle_due d SET warned = true FROM c " \
	"  WHERE " T("d.tenant" EQ "c.tenant AND ") "d." TABLE_ID(T) EQ "$1 AND d.customer" EQ "c.customer " \
	"  RETURNING " T("d.tenant, ") "d.customer, d.owner, d.since, d.due_at, d.rule), " \
	"w AS (INSERT INTO crmpool.recycle_warning (" T("tenant, ") TABLE_ID(T) ", customer, owner, since, due_at, rule, warned_at) " \
	"  SELECT " T("tenant, ") "$1, customer, owner, since, due_at, rule, $2 FROM u RETURNING *) " \
	"SELECT " WARN_PAYLOAD " FROM w ORDER BY w.seq"

#define DUE_FIRST_SQL(T) \
	"SELECT customer, owner" T(", tenant") " FROM crmpool.recycle_due " \
	"WHERE " TABLE_ID(T) EQ "$1 AND due_at" LE "$2 ORDER BY due_at, customer LIMIT $3 OFFSET $4"

#define DUE_OF_REP_SQL(T) \
	"SELECT customer FROM crmpool.recycle_due " \
	"WHERE " T("tenant" EQ "$5 AND ") TABLE_ID(T) EQ "$1 AND owner" EQ "$3 AND due_at" LE "$2 ORDER BY due_at LIMIT $4"

#define DUE_ONE_SQL(T) \
	"SELECT $3, d.customer, d.owner, d.due_at, d.rule, " DAYS_LEFT ", d.warn_at" T(", d.tenant") " " \
	"FROM crmpool.recycle_due d WHERE d." TABLE_ID(T) EQ "$2 ORDER BY d.due_at, d.customer"

/* the table of a due row by its id (0.1's tables: by rel) */
#define DUE_ALL_SQL(T) \
	"SELECT m.rel, d.customer, d.owner, d.due_at, d.rule, " DAYS_LEFT ", d.warn_at" T(", d.tenant") " " \
	"FROM crmpool.recycle_due d JOIN crmpool.managed_table m ON m." TABLE_ID(T) EQ "d." TABLE_ID(T) " " \
	"WHERE pg_catalog.has_table_privilege($2, m.rel::pg_catalog.oid, 'SELECT') " \
	"ORDER BY d.due_at, m.rel, d.customer"

#define WARNINGS_SQL(T) \
	"SELECT seq, customer, owner, due_at, rule, warned_at" T(", tenant") " FROM crmpool.recycle_warning " \
	"WHERE " TABLE_ID(T) EQ "$1 AND seq OPERATOR(pg_catalog.>) $2 ORDER BY seq"

static const CrmpoolStmt stmt_defs[NUM_RECYCLE_STMTS] = {
	[RS_ADD_FOLLOWUP] = TENANT_STMT(ADD_FOLLOWUP_SQL, 7, {INT4OID, INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID, INT8OID}),
	/* $1 table id, $2 locked customers (of one rep of tenant $4), $3 now: those still due */
	[RS_RECHECK] = TENANT_STMT(RECHECK_SQL, 4, {INT4OID, INT8ARRAYOID, TIMESTAMPTZOID, INT8OID}),
	/* $1 table id, $2 now, $3 batch size, $4 table name: warn the next customers in their window */
	[RS_WARN] = TENANT_STMT(WARN_SQL, 4, {INT4OID, TIMESTAMPTZOID, INT4OID, TEXTOID}),
	/* $1 table id, $2 now, $3 limit, $4 offset: due customers, the one due first first */
	[RS_DUE_FIRST] = TENANT_STMT(DUE_FIRST_SQL, 4, {INT4OID, TIMESTAMPTZOID, INT8OID, INT8OID}),
	/*
	 * $1 table id, $2 now, $3 owner, $4 limit, $5 tenant: one rep's due customers, by the
	 * (tenant, table_id, owner, due_at) index
	 */
	[RS_DUE_OF_REP] = TENANT_STMT(DUE_OF_REP_SQL, 5, {INT4OID, TIMESTAMPTZOID, INT8OID, INT8OID, INT8OID}),
	[RS_TABLES] = {
		"SELECT rel FROM crmpool.managed_table ORDER BY rel",
		0, {InvalidOid}
	},
	/* due(): $1 now, $2 the table's id, $3 the table; the tenant key last (0.1's due() has none) */
	[RS_DUE_ONE] = TENANT_STMT(DUE_ONE_SQL, 3, {TIMESTAMPTZOID, INT4OID, REGCLASSOID}),
	/* due(NULL): $1 now, $2 the caller, who sees the tables it may read */
	[RS_DUE_ALL] = TENANT_STMT(DUE_ALL_SQL, 2, {TIMESTAMPTZOID, OIDOID}),
	/* $1 table id, $2 after */
	[RS_WARNINGS] = TENANT_STMT(WARNINGS_SQL, 2, {INT4OID, INT8OID}),
};

static SPIPlanPtr stmt_plans[NUM_RECYCLE_STMTS][2];

static int
run(RecycleStmt stmt, Datum *values, const char *nulls)
{
	return crmpool_run_stmt(&stmt_defs[stmt], stmt_plans[stmt], values, nulls, false);
}

/* ---------------------------------------------------------------------------------------------
 * Follow-ups
 * -------------------------------------------------------------------------------------------*/

static SPIPlanPtr
followup_plan(ManagedRel *mr)
{
	if (mr->followup_plan == NULL)
	{
		const char *col = quote_identifier(get_attname(mr->relid, mr->followup_att, false));

		mr->followup_plan =
			crmpool_keep_plan(psprintf("UPDATE ONLY %s SET %s = GREATEST(%s, $2) WHERE %s",
									   mr->qualname, col, col, managed_customer_sql(mr, NULL, "$1")),
							  2, (Oid[]) {INT8OID, mr->followup_type});
	}
	return mr->followup_plan;
}

/*
 * crmpool.follow_up(rel, customer, rep, at, note): the owner followed the customer up.  Always
 * recorded in crmpool.followup (with the note); when the table maps a follow-up column, that
 * column is moved forward too (as the caller), so the app sees the same truth, and the trigger
 * moves the due time; otherwise the due time is moved here.  `at` NULL means crmpool's clock.
 */
PG_FUNCTION_INFO_V1(crmpool_follow_up);
Datum
crmpool_follow_up(PG_FUNCTION_ARGS)
{
	ManagedRel *mr;
	int64		customer;
	int64		rep;
	TimestampTz now = crmpool_now();
	TimestampTz at;
	HeapTuple	row;
	TupleDesc	desc;
	OwnerContext octx;
	const char *actor;
	CrmpoolTenant tenant;
	Datum		note;

	crmpool_require_arg(fcinfo, 0, "rel");
	crmpool_require_arg(fcinfo, 1, "customer");
	crmpool_require_arg(fcinfo, 2, "rep");
	mr = managed_rel_get(PG_GETARG_OID(0), false);
	crmpool_require_triggers(mr, RowShareLock);	/* ops_lock_owned's FOR UPDATE */
	(void) managed_scope(mr, fcinfo->flinfo->fn_oid);	/* it takes a customer id */
	customer = PG_GETARG_INT64(1);
	rep = PG_GETARG_INT64(2);
	at = PG_ARGISNULL(3) ? now : PG_GETARG_TIMESTAMPTZ(3);
	due_check_followup(at, now, 0, "The time given");
	note = (Datum) 0;
	if (!PG_ARGISNULL(4))
	{
		text	   *t = PG_GETARG_TEXT_PP(4);

		crmpool_check_length("note", VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), CRMPOOL_NOTE_MAX_CHARS);
		note = PointerGetDatum(t);
	}

	/* follow_up changes the follow-up column if mapped, else crmpool's record beside the owner */
	row = ops_lock_owned(mr, customer, rep,
						 mr->followup_att != InvalidAttrNumber ? mr->followup_att : mr->owner_att,
						 "follow_up", &desc);
	actor = pstrdup(crmpool_actor_name());
	tenant = managed_tenant(mr, row, desc);
	ledger_begin(&octx);
	run(RS_ADD_FOLLOWUP,
		(Datum[]) {crmpool_table_id_datum(mr->table_id), Int64GetDatum(customer), Int64GetDatum(rep),
			TimestampTzGetDatum(at), note, CStringGetTextDatum(actor), crmpool_tenant_datum(tenant)},
		(char[]) {' ', ' ', ' ', ' ', PG_ARGISNULL(4) ? 'n' : ' ', ' ', ' '});
	if (mr->followup_att == InvalidAttrNumber)
		due_track(mr, tenant, customer, row, desc, NULL);
	ledger_end(&octx);

	if (mr->followup_att != InvalidAttrNumber)
	{
		SPI_connect();
		/* a timestamp or date column gets the time in crmpool.timezone (managed_time_datum) */
		if (SPI_execute_plan(followup_plan(mr),
							 (Datum[]) {Int64GetDatum(customer),
								 managed_time_datum(mr->followup_type, at)},
							 NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "crmpool could not record the follow-up of customer %lld",
				 (long long) customer);
		SPI_finish();
	}
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------------------------------------
 * Batches
 * -------------------------------------------------------------------------------------------*/

/*
 * Locking the customers a batch recycles.  Their due rows are crmpool's and are read as the
 * extension owner; their rows are the user's and are locked as the batch's user, the table's
 * owner (batch_begin): lock_due_plan locks, of the customers $1 (in that order), the first $2
 * that no other transaction holds (SKIP LOCKED: LIMIT counts only the rows locked).
 */
static SPIPlanPtr
lock_due_plan(ManagedRel *mr)
{
	if (mr->lock_due_plan == NULL)
		mr->lock_due_plan =
			crmpool_keep_plan(psprintf("SELECT u.c FROM pg_catalog.unnest($1) WITH ORDINALITY AS u(c, i) "
									   "JOIN ONLY %s t ON %s ORDER BY u.i LIMIT $2 "
									   "FOR NO KEY UPDATE OF t SKIP LOCKED",
									   mr->qualname, managed_customer_sql(mr, "t", "u.c")),
							  2, (Oid[]) {INT8ARRAYOID, INT8OID});
	return mr->lock_due_plan;
}

/* A column of a statement's row that is never null (NOT NULL columns; `what` names them). */
static Datum
not_null_value(HeapTuple tup, TupleDesc desc, int col, const char *what)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		elog(ERROR, "crmpool read a null from column %d of %s", col, what);
	return d;
}

#define due_value(tup, desc, col) not_null_value(tup, desc, col, "crmpool.recycle_due")

/* Lock the first `limit` of customers[0..n-1] that nobody else holds; returns how many, in *locked. */
static int
lock_due(ManagedRel *mr, Datum *customers, int n, int limit, int64 *locked)
{
	int			i;
	int			got;

	if (n == 0)
		return 0;
	SPI_connect();
	if (SPI_execute_plan(lock_due_plan(mr),
						 (Datum[]) {crmpool_array(customers, NULL, n, INT8OID), Int64GetDatum(limit)},
						 NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "crmpool could not lock customers to recycle");
	got = (int) SPI_processed;
	for (i = 0; i < got; i++)
		locked[i] = DatumGetInt64(not_null_value(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1,
												 mr->qualname));
	SPI_finish();
	return got;
}

/* Due customers (and owners) from crmpool.recycle_due, read as the extension owner. */
static int
due_candidates(RecycleStmt stmt, Datum *args, Datum *customers, Datum *owners,
			   CrmpoolTenant *tenants)
{
	OwnerContext octx;
	int			n;
	int			i;

	ledger_begin(&octx);
	run(stmt, args, NULL);
	n = (int) SPI_processed;
	for (i = 0; i < n; i++)
	{
		customers[i] = due_value(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		if (owners != NULL)
			owners[i] = due_value(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		/* 0.1's tables have no tenant: the one tenant CRMPOOL_NO_TENANT */
		if (tenants != NULL)
			tenants[i] = crmpool_has_tenants() ?
				DatumGetInt64(due_value(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3)) :
				CRMPOOL_NO_TENANT;
	}
	ledger_end(&octx);
	return n;
}

#define FIRST_DUE_STEP 100

/*
 * A batch is the due customers of one rep: lock the customer due first that nobody else holds,
 * which names the rep, then that rep's due customers, at most `batch` in all, in due order.
 * Returns how many are locked (in *locked); 0 when no due customer is left to lock.
 */
static int
lock_batch(ManagedRel *mr, TimestampTz now, int batch, int64 *locked, CrmpoolTenant *tenant)
{
	Datum		customers[FIRST_DUE_STEP];
	Datum		owners[FIRST_DUE_STEP];
	CrmpoolTenant tenants[FIRST_DUE_STEP];
	Datum	   *mine;
	int64		first;
	int64		owner = 0;
	int			offset;
	int			n;
	int			i;
	int			scope;
	int			got;

	for (offset = 0;; offset += FIRST_DUE_STEP)
	{
		n = due_candidates(RS_DUE_FIRST,
						   (Datum[]) {crmpool_table_id_datum(mr->table_id), TimestampTzGetDatum(now),
							   Int64GetDatum(FIRST_DUE_STEP), Int64GetDatum(offset)},
						   customers, owners, tenants);
		if (n == 0)
			return 0;
		if (!mr->tenant_in_key)
		{
			if (lock_due(mr, customers, n, 1, &first) == 1)
				break;
			continue;
		}
		/* ids repeat across the tenants of a table keyed (tenant, id): one by one, each in its own */
		for (i = 0; i < n; i++)
		{
			scope = managed_scope_push(mr, tenants[i]);
			got = lock_due(mr, &customers[i], 1, 1, &first);
			managed_scope_pop(scope);
			if (got == 1)
				break;
		}
		if (i < n)
		{
			owner = DatumGetInt64(owners[i]);
			*tenant = tenants[i];
			break;
		}
	}
	for (i = 0; i < n && !mr->tenant_in_key; i++)
		if (DatumGetInt64(customers[i]) == first)
		{
			owner = DatumGetInt64(owners[i]);
			*tenant = tenants[i];
		}

	/* that rep's due customers, the first one (already ours) first */
	mine = palloc(sizeof(Datum) * (batch + 1));
	n = due_candidates(RS_DUE_OF_REP,
					   (Datum[]) {crmpool_table_id_datum(mr->table_id), TimestampTzGetDatum(now),
						   Int64GetDatum(owner), Int64GetDatum(batch), crmpool_tenant_datum(*tenant)},
					   mine + 1, NULL, NULL);
	mine[0] = Int64GetDatum(first);
	offset = 1;
	for (i = 1; i <= n; i++)
		if (DatumGetInt64(mine[i]) != first)
			mine[offset++] = mine[i];
	scope = managed_scope_push(mr, *tenant);
	got = lock_due(mr, mine, offset, batch, locked);
	managed_scope_pop(scope);
	return got;
}

typedef struct Batch
{
	ManagedRel *mr;
	TableOwnerContext tctx;
	MemoryContext cxt;
	MemoryContext oldcxt;
} Batch;

/*
 * Start a batch on a table in the current transaction: false (and nothing to end) when the
 * table is gone, no longer managed, or has no recycle rules.  What the batch runs of the user's
 * (triggers on the table) runs as the table's owner in a security-restricted operation, as in
 * VACUUM and ANALYZE.
 */
static bool
batch_begin(Batch *b, Oid relid, bool expiring)
{
	Oid			owner;

	/* before any row lock, so that recompute's EXCLUSIVE waits for us, never the reverse */
	LockRelationOid(relid, RowExclusiveLock);
	owner = crmpool_table_owner(relid);
	if (!OidIsValid(owner))
		return false;

	PushActiveSnapshot(GetTransactionSnapshot());
	b->mr = managed_rel_get(relid, true);
	if (b->mr == NULL ||
		!(expiring ? b->mr->expires && b->mr->pool_att != InvalidAttrNumber : b->mr->recycles))
	{
		PopActiveSnapshot();
		return false;
	}
	crmpool_require_triggers(b->mr, RowExclusiveLock);
	b->cxt = AllocSetContextCreate(CurrentMemoryContext, "crmpool recycle batch",
								   ALLOCSET_DEFAULT_SIZES);
	b->oldcxt = MemoryContextSwitchTo(b->cxt);
	crmpool_become_table_owner(owner, &b->tctx, false);
	return true;
}

static void
batch_end(Batch *b)
{
	crmpool_leave_table_owner(&b->tctx);
	MemoryContextSwitchTo(b->oldcxt);
	MemoryContextDelete(b->cxt);
	PopActiveSnapshot();
}

/* Warn the owners of the next customers that entered their warning window; returns how many. */
static int
warn_batch(Batch *b, TimestampTz now, int batch)
{
	OwnerContext octx;
	uint64		i;
	int			n;

	ledger_begin(&octx);
	run(RS_WARN,
		(Datum[]) {crmpool_table_id_datum(b->mr->table_id), TimestampTzGetDatum(now), Int32GetDatum(batch),
			CStringGetTextDatum(b->mr->qualname)},
		NULL);
	n = (int) SPI_processed;
	for (i = 0; i < SPI_processed; i++)
		Async_Notify("crmpool_expiring", SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	ledger_end(&octx);
	return n;
}

/*
 * NOTIFY crmpool_recycled for a batch: only the table, never who lost which customer (any role
 * may LISTEN, with no privilege on the table).  The application reads what changed through
 * its own table or crmpool's readers, which check its privileges and row-level security.
 * PostgreSQL sends a payload once per transaction however often it is notified.
 */
static void
recycled_notify(ManagedRel *mr)
{
	StringInfoData payload;

	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"table\" : ");
	escape_json(&payload, mr->qualname);
	appendStringInfoChar(&payload, '}');
	Async_Notify("crmpool_recycled", payload.data);
}

/*
 * The pool each of customers[0..n-1] (ascending, rows locked by this batch, owned by `owner`)
 * goes to under the rule recycle_to_pool of its own scope (tenant, pool, owner, level); NULL
 * where no scope sets it, or the pool it names does not exist (the customer stays in its pool).
 */
static const char **
recycle_targets(ManagedRel *mr, const int64 *customers, int n, int64 owner, CrmpoolTenant tenant)
{
	const char **targets = palloc0(sizeof(char *) * Max(n, 1));
	Datum	   *keys = palloc(sizeof(Datum) * Max(n, 1));
	MemoryContext callcxt = CurrentMemoryContext;
	uint64		i;

	for (i = 0; i < n; i++)
		keys[i] = Int64GetDatum(customers[i]);
	SPI_connect();
	if (SPI_execute_plan(managed_rows_plan(mr), (Datum[]) {crmpool_array(keys, NULL, n, INT8OID)},
						 NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "crmpool could not read the customers to recycle");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		TupleDesc	desc;
		HeapTuple	row = managed_row_from_datum(SPI_getbinval(SPI_tuptable->vals[i],
															   SPI_tuptable->tupdesc, 1, &isnull),
												 &desc);
		int64		key = managed_key(mr, row, desc);
		RuleSet		rules;
		const char *to;
		const int64 *found;

		managed_rules(mr, tenant, managed_pool_text(mr, row, desc), true, owner,
					  managed_level_text(mr, row, desc), &rules);
		to = rule_pool(&rules, RULE_RECYCLE_TO_POOL);
		if (to == NULL || pool_find(mr, tenant, to) == NULL)
			continue;
		found = bsearch(&key, customers, n, sizeof(int64), ops_int64_order);
		if (found != NULL)
			targets[found - customers] = MemoryContextStrdup(callcxt, to);
	}
	SPI_finish();
	return targets;
}

/*
 * Recycle the due customers of the rep whose customer is due first (at most `batch` of them):
 * a batch holds one rep's counter row, so claims of other reps never wait for a recycle.
 * Returns false when no due customer is left that another transaction does not hold; adds
 * the recycled ones to *recycled.
 */
static bool
recycle_batch(Batch *b, TimestampTz now, int batch, int64 *recycled)
{
	ManagedRel *mr = b->mr;
	OwnerContext octx;
	int64	   *keys;
	int			picked;
	int			n = 0;
	int64	   *customers = NULL;
	char	  **rules = NULL;
	int64		owner = 0;
	CrmpoolTenant tenant = CRMPOOL_NO_TENANT;
	int			scope;
	int			i;

	keys = palloc(sizeof(int64) * (batch + 1));
	picked = lock_batch(mr, now, batch, keys, &tenant);
	/*
	 * the batch is one rep's, of one tenant: its statements on the table are scoped to it (none
	 * when nothing was picked: then there is no tenant to name)
	 */
	scope = picked > 0 ? managed_scope_push(mr, tenant) : -1;
	if (picked > 0)
	{
		Datum	   *keyvals = palloc(sizeof(Datum) * picked);
		MemoryContext spicxt;

		for (i = 0; i < picked; i++)
			keyvals[i] = Int64GetDatum(keys[i]);
		ledger_begin(&octx);
		/* under the row locks, with a fresh snapshot: a follow-up committed meanwhile wins */
		run(RS_RECHECK,
			(Datum[]) {crmpool_table_id_datum(mr->table_id), crmpool_array(keyvals, NULL, picked, INT8OID),
				TimestampTzGetDatum(now), crmpool_tenant_datum(tenant)},
			NULL);
		n = (int) SPI_processed;
		spicxt = MemoryContextSwitchTo(b->cxt);
		customers = palloc(sizeof(int64) * Max(n, 1));
		rules = palloc(sizeof(char *) * Max(n, 1));
		for (i = 0; i < n; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;

			customers[i] = DatumGetInt64(due_value(tup, desc, 1));
			owner = DatumGetInt64(due_value(tup, desc, 2));
			rules[i] = TextDatumGetCString(due_value(tup, desc, 3));
		}
		MemoryContextSwitchTo(spicxt);
		ledger_end(&octx);
	}

	/* one set-based UPDATE for the batch (customers ascending, as RS_RECHECK returns them) */
	if (n > 0)
	{
		OwnershipIntent in = {
			.relid = mr->relid,
			.op = OP_RECYCLE,
			.rep = owner,
			.actor = CRMPOOL_RECYCLER_ACTOR,
			.nbatch = n,
			.batch = customers,
			.batch_how = rules
		};

		ops_release_batch(mr, &in, mr->recycles_to_pool && mr->pool_att != InvalidAttrNumber ?
						  recycle_targets(mr, customers, n, owner, tenant) : NULL);
		recycled_notify(mr);
	}
	managed_scope_pop(scope);
	*recycled += n;
	return picked > 0;
}

/*
 * Pool cleaning (定期清理公海): customers that sat in their pool, unowned, for longer than the
 * rule pool_expire of their scope (tenant, pool) move to the pool pool_expire_to names, never
 * deleted, with an event each (how "pool_expire", actor "crmpool").  The clock is the customer's
 * last event (it entered the pool, or was adopted or moved there).  A batch locks the next
 * `batch` pool customers after *after (key order; on a table keyed (tenant, id), after
 * (*after, *after_tenant): managed_pool_rows_plan) that nobody else holds, reads their events
 * under those locks (every ownership change takes the row lock first), and moves the expired
 * ones.  Returns whether rows were left to look at.
 */
static bool
expire_batch(Batch *b, TimestampTz now, int batch, int64 *after, CrmpoolTenant *after_tenant,
			 int64 *expired)
{
	ManagedRel *mr = b->mr;
	MemoryContext callcxt = CurrentMemoryContext;
	int			nrows;
	int64	   *keys;
	CrmpoolTenant *tenants;
	const char **targets;
	int			i;

	/* the first page (*after PG_INT64_MIN) has no tenant to go after */
	bool		first = *after == PG_INT64_MIN;
	Datum		tenant_after = first || !mr->tenant_in_key ? (Datum) 0 :
		CStringGetTextDatum(managed_tenant_name(mr, *after_tenant));

	SPI_connect();
	if (SPI_execute_plan(managed_pool_rows_plan(mr),
						 (Datum[]) {Int64GetDatum(*after), Int64GetDatum(batch), tenant_after},
						 first ? "  n" : NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "crmpool could not lock pool customers");
	nrows = (int) SPI_processed;
	keys = MemoryContextAlloc(callcxt, sizeof(int64) * Max(nrows, 1));
	targets = MemoryContextAllocZero(callcxt, sizeof(char *) * Max(nrows, 1));
	tenants = MemoryContextAlloc(callcxt, sizeof(CrmpoolTenant) * Max(nrows, 1));
	for (i = 0; i < nrows; i++)
	{
		bool		isnull;
		TupleDesc	desc;
		HeapTuple	row = managed_row_from_datum(SPI_getbinval(SPI_tuptable->vals[i],
															   SPI_tuptable->tupdesc, 1, &isnull),
												 &desc);
		CrmpoolTenant tenant = managed_tenant(mr, row, desc);
		char	   *pool = managed_pool_text(mr, row, desc);
		RuleSet		rules;
		Interval	span;
		const char *to;
		TimestampTz since;
		OwnerContext octx;
		bool		known;

		keys[i] = managed_key(mr, row, desc);
		tenants[i] = tenant;
		managed_rules(mr, tenant, pool, false, 0, NULL, &rules);
		to = rule_pool(&rules, RULE_POOL_EXPIRE_TO);
		if (!rule_span(&rules, RULE_POOL_EXPIRE, &span) || to == NULL ||
			(pool != NULL && strcmp(pool, to) == 0) || pool_find(mr, tenant, to) == NULL)
			continue;
		ledger_begin(&octx);
		known = ledger_spell_start(mr->table_id, tenant, keys[i], &since);
		ledger_end(&octx);
		if (known && crmpool_add_interval(since, &span) <= now)
			targets[i] = MemoryContextStrdup(callcxt, to);
	}
	SPI_finish();
	if (nrows > 0)
	{
		*after = keys[nrows - 1];
		*after_tenant = tenants[nrows - 1];
	}

	/*
	 * one move per target pool, its customers ascending; on a table keyed (tenant, id), per
	 * tenant too, each under its own tenant's scope
	 */
	for (i = 0; i < nrows; i++)
	{
		int64	   *group;
		int			ngroup = 0;
		int			j;
		int			scope;

		if (targets[i] == NULL)
			continue;
		group = palloc(sizeof(int64) * nrows);
		for (j = i; j < nrows; j++)
			if (targets[j] != NULL && strcmp(targets[j], targets[i]) == 0 &&
				(!mr->tenant_in_key || tenants[j] == tenants[i]))
			{
				group[ngroup++] = keys[j];
				if (j > i)
					targets[j] = NULL;
			}
		scope = managed_scope_push(mr, tenants[i]);
		*expired += ops_move_to_pool(mr, group, ngroup, targets[i], "pool_expire",
									 CRMPOOL_RECYCLER_ACTOR, group);
		managed_scope_pop(scope);
		targets[i] = NULL;
	}
	return nrows == batch;
}

/*
 * The maintenance run of one table: warnings for customers entering their window (not those
 * already due: they are recycled next), then recycling, each in batches until a batch comes
 * back short.  `commit`, when given, ends each batch's transaction and starts the next; the
 * time is read once, so the run ends even while customers keep becoming due.  Returns the
 * number recycled; *warned counts the warnings.
 */
int64
recycle_table(Oid relid, int batch_size, void (*commit) (void), int64 *warned, int64 *expired)
{
	MemoryContext cxt = CurrentMemoryContext;
	TimestampTz now = crmpool_now();
	int64		recycled = 0;
	bool		warning = true;

	for (;;)
	{
		Batch		b;
		bool		more;

		if (!batch_begin(&b, relid, false))
			break;
		if (warning)
		{
			int			sent = warn_batch(&b, now, batch_size);

			*warned += sent;
			more = (sent == batch_size);
		}
		else
			more = recycle_batch(&b, now, batch_size, &recycled);
		batch_end(&b);
		if (commit != NULL)
		{
			commit();
			MemoryContextSwitchTo(cxt);
		}
		if (!more)
		{
			if (!warning)
				break;
			warning = false;
		}
	}
	/* then pool cleaning, from the first key on */
	{
		int64		after = PG_INT64_MIN;
		CrmpoolTenant after_tenant = CRMPOOL_NO_TENANT;

		for (;;)
		{
			Batch		b;
			bool		more;

			if (!batch_begin(&b, relid, true))
				break;
			more = expire_batch(&b, now, batch_size, &after, &after_tenant, expired);
			batch_end(&b);
			if (commit != NULL)
			{
				commit();
				MemoryContextSwitchTo(cxt);
			}
			if (!more)
				break;
		}
	}
	return recycled;
}

/*
 * The managed tables a run covers: `relid` (which the caller must own), or, when it is
 * InvalidOid, every managed table the caller owns.  The list is allocated in the caller's
 * memory context.
 */
List *
recycle_tables(Oid relid)
{
	MemoryContext callcxt = CurrentMemoryContext;
	OwnerContext octx;
	List	   *rels = NIL;
	uint64		i;

	if (OidIsValid(relid))
	{
		crmpool_require_owner(relid);
		(void) managed_rel_get(relid, false);
		return list_make1_oid(relid);
	}
	SPI_connect();
	crmpool_become_owner(&octx);
	run(RS_TABLES, NULL, NULL);
	crmpool_restore_user(&octx);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			rel = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														 SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContext oldcxt;

		/* a table gone without its sql_drop (a 0.1 temporary table) is nobody's to recycle */
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(rel)) || !crmpool_is_owner(rel))
			continue;
		oldcxt = MemoryContextSwitchTo(callcxt);
		rels = lappend_oid(rels, rel);
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();
	return rels;
}

static void
procedure_commit(void)
{
	SPI_commit();
}

/* The resource owner outside the subtransaction of the table being recycled. */
static ResourceOwner table_owner;

/* procedure_commit from inside a table's subtransaction: the batch commits, a new one starts. */
static void
procedure_commit_in_subxact(void)
{
	ReleaseCurrentSubTransaction();
	SPI_commit();
	table_owner = CurrentResourceOwner;
	BeginInternalSubTransaction(NULL);
}

/*
 * A table that fails in a run over every table (a trigger of the user's that refuses, a
 * deadlock, a configuration that no longer loads): a WARNING naming it and the error, from
 * CALL crmpool.recycle() and from the worker alike.
 */
void
recycle_report_failure(const char *name, ErrorData *edata)
{
	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("crmpool could not recycle table %s: %s", name ? name : "?", edata->message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
			 edata->hint ? errhint("%s", edata->hint) : 0));
}

/*
 * One table of a run over every table, in a subtransaction of its own (one per batch when
 * committing), so that a table that fails is reported and the run goes on with the next.
 */
static int64
recycle_table_isolated(Oid relid, int batch, bool nonatomic, int64 *warned, int64 *expired)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *name = get_rel_name(relid);
	int64		recycled = 0;

	table_owner = CurrentResourceOwner;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		recycled = recycle_table(relid, batch, nonatomic ? procedure_commit_in_subxact : NULL,
								 warned, expired);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = table_owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = table_owner;
		recycle_report_failure(name, edata);
		FreeErrorData(edata);
		recycled = 0;
	}
	PG_END_TRY();
	return recycled;
}

/* CALL crmpool.recycle() and crmpool.recycle_now(): the same run, committing or not. */
static int64
recycle_run(FunctionCallInfo fcinfo, bool nonatomic)
{
	Oid			relid = PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0);
	int			batch = crmpool_recycle_batch_size;
	int64		recycled = 0;
	int64		warned = 0;
	int64		expired = 0;
	List	   *rels;
	ListCell   *lc;

	if (!PG_ARGISNULL(1))
	{
		batch = PG_GETARG_INT32(1);
		if (batch < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("batch_size must be at least 1"),
					 errdetail("The value given was %d.", batch)));
	}

	/* in non-atomic mode, SPI's procedure context outlives the commits */
	SPI_connect_ext(nonatomic ? SPI_OPT_NONATOMIC : 0);
	rels = recycle_tables(relid);
	foreach(lc, rels)
	{
		if (OidIsValid(relid))
			recycled += recycle_table(lfirst_oid(lc), batch, nonatomic ? procedure_commit : NULL,
									  &warned, &expired);
		else
			recycled += recycle_table_isolated(lfirst_oid(lc), batch, nonatomic, &warned, &expired);
	}
	SPI_finish();
	if (expired > 0)
		ereport(NOTICE,
				(errmsg("crmpool moved %lld customers that sat in their pool longer than pool_expire",
						(long long) expired),
				 errdetail("Their events in crmpool.ownership_log() say \"pool_expire\" and name the pool each went to.")));
	return recycled;
}

PG_FUNCTION_INFO_V1(crmpool_recycle);
Datum
crmpool_recycle(PG_FUNCTION_ARGS)
{
	/* commit per batch when called by a top-level CALL; inside a transaction block, do not */
	bool		nonatomic = fcinfo->context != NULL && IsA(fcinfo->context, CallContext) &&
		!castNode(CallContext, fcinfo->context)->atomic;

	(void) recycle_run(fcinfo, nonatomic);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(crmpool_recycle_now);
Datum
crmpool_recycle_now(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(recycle_run(fcinfo, false));
}

/* ---------------------------------------------------------------------------------------------
 * Readers (they check SELECT privilege on the managed table, then read as the extension owner)
 * -------------------------------------------------------------------------------------------*/

/*
 * due() and recycle_warnings() list the customers of every tenant of a table: 0.2's (the _v2
 * symbols) end with each one's tenant, as the app writes it (tenants.c); 0.1's, bound to the
 * old symbols, have no such column (the plan's extra column is not read).
 */
static Datum
due_reader(FunctionCallInfo fcinfo)
{
	Datum		now = TimestampTzGetDatum(crmpool_now());

	/* customers the caller's row-level security hides are left out */
	VisibleFilter filter = {.relcol = 1, .ncols = 1, .cols = {2}, .tenantcol = 8};

	if (PG_ARGISNULL(0))
		crmpool_srf_from_plan_mapped(fcinfo, crmpool_stmt_plan(&stmt_defs[RS_DUE_ALL], stmt_plans[RS_DUE_ALL]),
									 (Datum[]) {now, ObjectIdGetDatum(GetUserId())}, NULL,
									 managed_filter_visible, managed_tenant_column, &filter);
	else
	{
		Oid			relid = PG_GETARG_OID(0);
		ManagedRel *mr;

		crmpool_require_select(relid);
		mr = managed_rel_get(relid, false);
		crmpool_srf_from_plan_mapped(fcinfo, crmpool_stmt_plan(&stmt_defs[RS_DUE_ONE], stmt_plans[RS_DUE_ONE]),
									 (Datum[]) {now, crmpool_table_id_datum(mr->table_id),
									 ObjectIdGetDatum(relid)}, NULL,
									 managed_filter_visible, managed_tenant_column, &filter);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(crmpool_due);
Datum
crmpool_due(PG_FUNCTION_ARGS)
{
	return due_reader(fcinfo);
}

PG_FUNCTION_INFO_V1(crmpool_due_v2);
Datum
crmpool_due_v2(PG_FUNCTION_ARGS)
{
	return due_reader(fcinfo);
}

static Datum
warnings_reader(FunctionCallInfo fcinfo)
{
	Oid			relid;
	VisibleFilter filter = {.ncols = 1, .cols = {2}, .tenantcol = 7};

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	crmpool_require_select(relid);
	filter.relid = relid;
	crmpool_srf_from_plan_mapped(fcinfo, crmpool_stmt_plan(&stmt_defs[RS_WARNINGS], stmt_plans[RS_WARNINGS]),
								 (Datum[]) {crmpool_table_id_datum(managed_rel_get(relid, false)->table_id),
		Int64GetDatum(PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1))},
								 NULL, managed_filter_visible, managed_tenant_column, &filter);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(crmpool_recycle_warnings);
Datum
crmpool_recycle_warnings(PG_FUNCTION_ARGS)
{
	return warnings_reader(fcinfo);
}

PG_FUNCTION_INFO_V1(crmpool_recycle_warnings_v2);
Datum
crmpool_recycle_warnings_v2(PG_FUNCTION_ARGS)
{
	return warnings_reader(fcinfo);
}
