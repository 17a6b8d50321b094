/*
 * ops.c: claim, claim_many, release, assign, transfer, lock, unlock.
 *
 * The ownership operations do not check rules themselves: each announces its intent (which
 * operation, for whom) and runs one UPDATE of the owner column; the managed table's trigger
 * (ownership.c) applies that operation's rules to the row it locked and records the change.
 * So a claim and an app's plain UPDATE go through the very same code.
 *
 * The UPDATE runs as the caller: crmpool never lets anyone change a table they could not
 * change themselves.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "ops/ops.h"

/*
 * Argument 0, the managed table, whose triggers must fire; lockmode is the lock the function's
 * own statement on the table takes (an UPDATE's, or FOR UPDATE's), taken here first.
 */
ManagedRel *
ops_rel_arg(FunctionCallInfo fcinfo, LOCKMODE lockmode)
{
	ManagedRel *mr;

	crmpool_require_arg(fcinfo, 0, "rel");
	mr = managed_rel_get(PG_GETARG_OID(0), false);
	crmpool_require_triggers(mr, lockmode);
	/* every operation that takes customer ids goes through here: crmpool.tenant scopes it */
	(void) managed_scope(mr, fcinfo->flinfo->fn_oid);
	return mr;
}

/* Arguments 1 and 2 of claim, release, assign, lock and unlock: the customer and the rep. */
static void
customer_rep_args(FunctionCallInfo fcinfo, int64 *customer, int64 *rep)
{
	crmpool_require_arg(fcinfo, 1, "customer");
	crmpool_require_arg(fcinfo, 2, "rep");
	*customer = PG_GETARG_INT64(1);
	*rep = PG_GETARG_INT64(2);
}

static void
unknown_customer(ManagedRel *mr, int64 customer)
{
	ereport(ERROR,
			(errcode(ERRCODE_CRMPOOL_UNKNOWN_CUSTOMER),
			 errmsg("customer %lld does not exist in table %s",
					(long long) customer, get_rel_name(mr->relid)),
			 crmpool_refusal(mr->relid, mr->key_att, "unknown_customer", ERR_CUSTOMER(customer))));
}

/*
 * Run one of crmpool's owner UPDATEs with the intent announced; returns the number of rows it
 * changed.  A refusal raised inside it (by the trigger) does not show the UPDATE in its CONTEXT.
 */
static void refuse_unchanged(ManagedRel *mr, OwnershipIntent *in, int64 owner);

static uint64
run_owner_update(ManagedRel *mr, SPIPlanPtr (*plan_of) (ManagedRel *mr), OwnershipIntent *in,
				 Datum *values, const char *nulls)
{
	ErrorContextCallback mark;
	SPIPlanPtr	plan;
	uint64		processed;

	SPI_connect();
	plan = plan_of(mr);			/* prepared in SPI on first use */
	ownership_push_intent(in);
	crmpool_statement_begin(&mark, plan);
	PG_TRY();
	{
		int			rc = SPI_execute_plan(plan, values, nulls, false, 0);

		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "crmpool owner update failed: %s", SPI_result_code_string(rc));
	}
	PG_FINALLY();
	{
		ownership_pop_intent(in);
	}
	PG_END_TRY();
	crmpool_statement_end(&mark);
	processed = SPI_processed;
	SPI_finish();
	return processed;
}

/*
 * Run the owner UPDATE with the intent announced.  When the row already had that owner the
 * trigger does not fire (nothing changed), and the operation is refused here instead.
 */
void
ops_change_owner(ManagedRel *mr, OwnershipIntent *in, bool has_owner, int64 owner)
{
	Datum		values[2] = {Int64GetDatum(in->customer), Int64GetDatum(owner)};
	char		nulls[2] = {' ', has_owner ? ' ' : 'n'};
	uint64		processed = run_owner_update(mr, managed_set_owner_plan, in, values, nulls);

	if (processed == 0)
		unknown_customer(mr, in->customer);
	if (!in->fired)
		refuse_unchanged(mr, in, owner);
}

/* The owner UPDATE of one customer changed nothing the trigger saw: the row had that owner. */
static void
refuse_unchanged(ManagedRel *mr, OwnershipIntent *in, int64 owner)
{
	switch (in->op)
	{
		case OP_CLAIM:
		case OP_ASSIGN:
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_ALREADY_OWNED),
					 errmsg("customer %lld is already owned", (long long) in->customer),
					 errdetail("Customer %lld of table %s is already owned by rep %lld.",
							   (long long) in->customer, get_rel_name(mr->relid), (long long) owner),
					 crmpool_refusal(mr->relid, mr->owner_att, "already_owned", ERR_REP(in->rep),
									 ERR_CUSTOMER(in->customer), ERR_OWNER(owner))));
			break;
		case OP_RELEASE:
		case OP_RECYCLE:
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_NOT_OWNER),
					 errmsg("rep %lld does not own customer %lld",
							(long long) in->rep, (long long) in->customer),
					 errdetail("Customer %lld of table %s is in the public pool.",
							   (long long) in->customer, get_rel_name(mr->relid)),
					 crmpool_refusal(mr->relid, mr->owner_att, "not_owner", ERR_REP(in->rep),
									 ERR_CUSTOMER(in->customer))));
			break;
		case OP_TRANSFER:
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_NOT_OWNER),
					 errmsg("rep %lld does not own customer %lld",
							(long long) in->from_rep, (long long) in->customer),
					 errdetail("Customer %lld of table %s is owned by rep %lld.",
							   (long long) in->customer, get_rel_name(mr->relid), (long long) owner),
					 crmpool_refusal(mr->relid, mr->owner_att, "not_owner", ERR_REP(in->from_rep),
									 ERR_CUSTOMER(in->customer), ERR_OWNER(owner))));
			break;
		case OP_DIRECT:
			break;
	}
}

/*
 * Give a batch of customers (all locked by the caller, in->batch ascending) to `owner` (or the
 * pool) with one set-based UPDATE, so that their counter change is applied once, as for any
 * multi-row write.  Returns how many rows the UPDATE changed.
 */
uint64
ops_change_owner_batch(ManagedRel *mr, OwnershipIntent *in, bool has_owner, int64 owner)
{
	Datum	   *keys = palloc(sizeof(Datum) * Max(in->nbatch, 1));
	ArrayType  *arr;
	int			i;

	for (i = 0; i < in->nbatch; i++)
		keys[i] = Int64GetDatum(in->batch[i]);
	arr = construct_array(keys, in->nbatch, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	return run_owner_update(mr, has_owner ? managed_set_owner_many_plan : managed_release_many_plan,
							in, (Datum[]) {PointerGetDatum(arr), Int64GetDatum(owner)}, NULL);
}

/*
 * Give each customer of a batch (all locked by the caller, in->batch ascending) to its own rep,
 * owners[i], with one set-based UPDATE: a distribution.  Returns how many rows it changed.
 */
uint64
ops_change_owners_batch(ManagedRel *mr, OwnershipIntent *in, const int64 *owners)
{
	Datum	   *keys = palloc(sizeof(Datum) * Max(in->nbatch, 1));
	Datum	   *reps = palloc(sizeof(Datum) * Max(in->nbatch, 1));
	int			i;

	for (i = 0; i < in->nbatch; i++)
	{
		keys[i] = Int64GetDatum(in->batch[i]);
		reps[i] = Int64GetDatum(owners[i]);
	}
	return run_owner_update(mr, managed_set_owners_plan, in,
							(Datum[]) {crmpool_array(keys, NULL, in->nbatch, INT8OID),
							crmpool_array(reps, NULL, in->nbatch, INT8OID)}, NULL);
}

/*
 * Release a batch of customers (all locked by the caller and all owned by in->rep): recycling.
 * targets (NULL: none) names the pool each goes to (rule recycle_to_pool; NULL: its own).
 */
void
ops_release_batch(ManagedRel *mr, OwnershipIntent *in, const char **targets)
{
	uint64		processed;

	if (targets == NULL)
		processed = ops_change_owner_batch(mr, in, false, 0);
	else
	{
		Datum	   *keys = palloc(sizeof(Datum) * Max(in->nbatch, 1));
		Datum	   *pools = palloc(sizeof(Datum) * Max(in->nbatch, 1));
		bool	   *nulls = palloc(sizeof(bool) * Max(in->nbatch, 1));
		int			i;

		for (i = 0; i < in->nbatch; i++)
		{
			keys[i] = Int64GetDatum(in->batch[i]);
			nulls[i] = targets[i] == NULL;
			pools[i] = targets[i] ? CStringGetTextDatum(targets[i]) : (Datum) 0;
		}
		processed = run_owner_update(mr, managed_release_to_pools_plan, in,
									 (Datum[]) {crmpool_array(keys, NULL, in->nbatch, INT8OID),
									 crmpool_array(pools, nulls, in->nbatch, TEXTOID)}, NULL);
	}

	/*
	 * The rows were locked and their due rows re-checked by the caller: every one must have
	 * changed owner.  One that did not was no longer owned by in->rep although its due row said
	 * so: the table changed behind crmpool's back.
	 */
	if (processed != (uint64) in->nbatch || in->nfired != in->nbatch)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_OUT_OF_STEP),
				 errmsg("crmpool's due times of table %s are out of step with the table",
						get_rel_name(mr->relid)),
				 errdetail("Of %d customers due to be recycled from rep %lld, the table had %d owned by that rep.",
						   in->nbatch, (long long) in->rep, in->nfired),
				 crmpool_repair_hint(mr->relid),
				 crmpool_refusal(mr->relid, mr->owner_att, "out_of_step", ERR_REP(in->rep))));
}

void
ops_claim(ManagedRel *mr, int64 customer, int64 rep)
{
	OwnershipIntent in = {.relid = mr->relid, .customer = customer, .op = OP_CLAIM, .rep = rep};

	ops_change_owner(mr, &in, true, rep);
}

/*
 * Run fn(arg) in an internal subtransaction.  Returns NULL when it succeeded, or the error of a
 * crmpool refusal (CR class, crmpool_refusal_name) when it was refused, everything it did
 * undone; any other error is raised again.  The caller's memory context and resource owner
 * are back in place either way.
 */
ErrorData *
ops_try_refusal(void (*fn) (void *arg), void *arg)
{
	MemoryContext callcxt = CurrentMemoryContext;
	ResourceOwner callowner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(callcxt);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(callcxt);
		CurrentResourceOwner = callowner;
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(callcxt);
		e = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(callcxt);
		CurrentResourceOwner = callowner;
		if (crmpool_refusal_name(e->sqlerrcode) == NULL)
			ReThrowError(e);
		edata = e;
	}
	PG_END_TRY();
	return edata;
}

void
ops_claim_arg(void *arg)
{
	ClaimArg   *a = (ClaimArg *) arg;

	ops_claim(a->mr, a->customer, a->rep);
}

PG_FUNCTION_INFO_V1(crmpool_claim);
Datum
crmpool_claim(PG_FUNCTION_ARGS)
{
	ManagedRel *mr = ops_rel_arg(fcinfo, RowExclusiveLock);
	int64		customer;
	int64		rep;

	customer_rep_args(fcinfo, &customer, &rep);
	ops_claim(mr, customer, rep);
	PG_RETURN_VOID();
}

/*
 * Claim several customers; a refusal becomes that customer's outcome instead of an error.
 * All the customer rows are locked first, in key order, so that claim_many keeps the global
 * lock order (customers before reps) and cannot deadlock with a concurrent claim; each claim
 * then runs in its own subtransaction so that a refused one leaves no trace.
 *
 * At most CLAIM_MANY_MAX customers per call.  Each subtransaction that claims consumes its own
 * transaction id, and while more than 64 of them are open in one transaction (PostgreSQL's
 * cache of subtransaction ids per backend) every other backend must look up pg_subtrans to
 * decide whether this transaction's rows are visible: a call with 10^6 ids would burn 10^6
 * transaction ids and slow the whole server for its duration.  A claim batch is a user's
 * selection in a UI; an import that gives many customers to reps is one UPDATE of the owner
 * column (checked as an assign).
 */
#define CLAIM_MANY_MAX 1000

/* A customer of claim_many: its place in the call's list, and its tenant's key. */
typedef struct ClaimOrder
{
	int			index;
	CrmpoolTenant tenant;
} ClaimOrder;

static int
claim_order_cmp(const void *a, const void *b)
{
	const ClaimOrder *x = a;
	const ClaimOrder *y = b;

	if (x->tenant != y->tenant)
		return x->tenant < y->tenant ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

PG_FUNCTION_INFO_V1(crmpool_claim_many);
Datum
crmpool_claim_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ManagedRel *mr = ops_rel_arg(fcinfo, RowExclusiveLock);
	ArrayType  *arr;
	int64		rep;
	Datum	   *elems;
	bool	   *elemnulls;
	int			nelems;
	int			i;
	ClaimOrder *order;
	const char **outcome;

	crmpool_require_arg(fcinfo, 1, "customers");
	crmpool_require_arg(fcinfo, 2, "rep");
	arr = PG_GETARG_ARRAYTYPE_P(1);
	rep = PG_GETARG_INT64(2);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("customers must be a one-dimensional array")));
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
					  &elems, &elemnulls, &nelems);
	if (nelems > CLAIM_MANY_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("crmpool.claim_many() takes at most %d customers, not %d",
						CLAIM_MANY_MAX, nelems),
				 errdetail("Each customer is claimed in its own subtransaction, with a transaction id of its own."),
				 errhint("Claim the customers in several calls of at most %d each, committing in between.",
						 CLAIM_MANY_MAX)));
	for (i = 0; i < nelems; i++)
		if (elemnulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("customers must not contain null")));

	crmpool_init_srf(fcinfo);

	order = palloc(sizeof(ClaimOrder) * Max(nelems, 1));	/* outlives SPI_finish */
	for (i = 0; i < nelems; i++)
	{
		order[i].index = i;
		order[i].tenant = CRMPOOL_NO_TENANT;	/* not found: refused before any counter */
	}
	SPI_connect();
	if (SPI_execute_plan(managed_lock_many_plan(mr), (Datum[]) {PointerGetDatum(arr)}, NULL,
						 false, 0) != SPI_OK_SELECT)
		elog(ERROR, "crmpool could not lock the customers");
	if (mr->tenant_att != InvalidAttrNumber)
	{
		uint64		k;
		int64	   *keys = palloc(sizeof(int64) * Max(SPI_processed, 1));
		char	  **names = palloc(sizeof(char *) * Max(SPI_processed, 1));
		uint64		nfound = SPI_processed;

		for (k = 0; k < nfound; k++)
		{
			bool		isnull;

			keys[k] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 1, &isnull));
			names[k] = SPI_getvalue(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 2);
		}
		for (k = 0; k < nfound; k++)
			for (i = 0; i < nelems; i++)
				if (DatumGetInt64(elems[i]) == keys[k])
					order[i].tenant = managed_tenant_text(mr, names[k], keys[k]);
	}
	SPI_finish();

	/*
	 * Claimed tenant by tenant: each claim is a statement of its own, which keeps the rep's
	 * counter row of that tenant locked to commit, so claims in the order given could take two
	 * tenants' rows of the rep in the opposite order to a statement that changes both (a
	 * multi-row UPDATE locks its counter rows in (tenant, rep) order): a deadlock.  Within a
	 * tenant, in the order given; the result keeps the order given.
	 */
	qsort(order, nelems, sizeof(ClaimOrder), claim_order_cmp);
	outcome = palloc0(sizeof(char *) * Max(nelems, 1));
	for (i = 0; i < nelems; i++)
	{
		ClaimArg	arg = {mr, DatumGetInt64(elems[order[i].index]), rep};
		ErrorData  *refusal = ops_try_refusal(ops_claim_arg, &arg);

		outcome[order[i].index] = refusal ? crmpool_refusal_name(refusal->sqlerrcode) : "claimed";
	}
	for (i = 0; i < nelems; i++)
	{
		Datum		values[2];
		bool		nulls[2] = {false, false};

		values[0] = elems[i];
		values[1] = CStringGetTextDatum(outcome[i]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

static void
refuse_unknown_target(ManagedRel *mr, text *pool, int64 customer)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("pool \"%s\" of table %s does not exist", text_to_cstring(pool),
					get_rel_name(mr->relid)),
			 customer != 0 ?
			 errdetail("The table has the pool for other tenants than customer %lld's.", (long long) customer) : 0,
			 errhint("Create it with crmpool.create_pool(); crmpool.pools() lists the pools of the table.")));
}

/*
 * Whether a pool that exists for some tenants only (target_pool_arg's *every false) exists for
 * customer's tenant; true for an unknown customer (the caller reports it).
 */
static bool
target_pool_for(ManagedRel *mr, const char *pool, int64 customer)
{
	CrmpoolTenant tenant;

	return !managed_customer_tenant(mr, customer, &tenant) || pool_find(mr, tenant, pool) != NULL;
}

/*
 * The pool argument `argno` of a pool operation (release's to_pool, move's pool): NULL for the
 * default pool; the table must map a pool column, and the pool must exist, for every tenant
 * (*every) or for some (then the caller checks each customer's tenant: target_pool_for).  The
 * table is locked already (rel_arg), and the configuration is read again with a snapshot
 * taken now: a drop_pool() that committed while this waited for the lock is seen
 * (admin/pools.c), where the statement's snapshot, taken before the wait, would still show
 * the pool.
 */
static text *
target_pool_arg(ManagedRel **mrp, FunctionCallInfo fcinfo, int argno, const char *what, bool *every)
{
	text	   *pool = crmpool_name_arg(fcinfo, argno, "pool", CRMPOOL_POOL_MAX_CHARS,
										_("Pass NULL for the default pool."));
	ManagedRel *mr;

	PushActiveSnapshot(GetLatestSnapshot());
	mr = *mrp = managed_rel_get((*mrp)->relid, false);
	PopActiveSnapshot();

	if (mr->pool_att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("table %s has no pool column", get_rel_name(mr->relid)),
				 errdetail("%s names a pool, and the table keeps every customer in the default pool.", what),
				 errhint("Name the pool column with crmpool.manage(..., pool_column => ...).")));
	if (!pool_exists(mr, pool ? text_to_cstring(pool) : NULL, every))
		refuse_unknown_target(mr, pool, 0);
	return pool;
}

static void
release_customer(FunctionCallInfo fcinfo, bool v2)
{
	ManagedRel *mr = ops_rel_arg(fcinfo, RowExclusiveLock);
	OwnershipIntent in = {.relid = mr->relid, .op = OP_RELEASE};
	text	   *to_pool = NULL;

	customer_rep_args(fcinfo, &in.customer, &in.rep);
	if (!PG_ARGISNULL(3))
	{
		text	   *reason = PG_GETARG_TEXT_PP(3);

		crmpool_check_length("reason", VARDATA_ANY(reason), VARSIZE_ANY_EXHDR(reason),
							 CRMPOOL_REASON_MAX_CHARS);
		in.reason = text_to_cstring(reason);
	}
	if (v2 && !PG_ARGISNULL(4))
	{
		bool		every;

		to_pool = target_pool_arg(&mr, fcinfo, 4, "to_pool", &every);
		if (!every && !target_pool_for(mr, text_to_cstring(to_pool), in.customer))
			refuse_unknown_target(mr, to_pool, in.customer);
	}
	if (to_pool == NULL)
	{
		ops_change_owner(mr, &in, false, 0);
		return;
	}
	if (run_owner_update(mr, managed_release_to_pools_plan, &in,
						 (Datum[]) {crmpool_array((Datum[]) {Int64GetDatum(in.customer)}, NULL, 1, INT8OID),
						 crmpool_array((Datum[]) {PointerGetDatum(to_pool)}, NULL, 1, TEXTOID)},
						 NULL) == 0)
		unknown_customer(mr, in.customer);
	if (!in.fired)
		refuse_unchanged(mr, &in, 0);
}

/* 0.1's crmpool.release(rel, customer, rep, reason) */
PG_FUNCTION_INFO_V1(crmpool_release);
Datum
crmpool_release(PG_FUNCTION_ARGS)
{
	release_customer(fcinfo, false);
	PG_RETURN_VOID();
}

/* crmpool.release(rel, customer, rep, reason, to_pool): to_pool NULL leaves it in its pool */
PG_FUNCTION_INFO_V1(crmpool_release_v2);
Datum
crmpool_release_v2(PG_FUNCTION_ARGS)
{
	release_customer(fcinfo, true);
	PG_RETURN_VOID();
}

/*
 * Move the pool customers among customers[0..n-1] (ascending) to `pool` (NULL: the default
 * pool), with one event each (how, reason "to <pool>", actor: NULL for the session's).  Owned
 * customers stay where they are: their pool decides their owner's caps, and moving them is an
 * assign into the new pool (trigger/ownership.c, pool_move).  Returns how many moved; their
 * keys in moved[] (allocated by the caller, n long; it may be customers itself, which is read
 * first).
 */
int
ops_move_to_pool(ManagedRel *mr, const int64 *customers, int n, const char *pool,
				 const char *how, const char *actor, int64 *moved)
{
	MemoryContext callcxt = CurrentMemoryContext;
	Datum	   *keys = palloc(sizeof(Datum) * Max(n, 1));
	char	  **names;
	CrmpoolTenant *tenants;
	TimestampTz now = crmpool_now();
	OwnerContext octx;
	LedgerEvents *le;
	char	   *reason;
	int			nmoved;
	int			i;

	for (i = 0; i < n; i++)
		keys[i] = Int64GetDatum(customers[i]);
	SPI_connect();
	if (SPI_execute_plan(managed_move_pool_plan(mr),
						 (Datum[]) {crmpool_array(keys, NULL, n, INT8OID),
						 pool ? CStringGetTextDatum(pool) : (Datum) 0},
						 pool ? "  " : " n", false, 0) != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "crmpool could not move customers to %s", pool_name_words(pool));
	nmoved = (int) SPI_processed;
	names = MemoryContextAlloc(callcxt, sizeof(char *) * Max(nmoved, 1));
	for (i = 0; i < nmoved; i++)
	{
		bool		isnull;

		moved[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		names[i] = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
		if (names[i] != NULL)
			names[i] = MemoryContextStrdup(callcxt, names[i]);
	}
	SPI_finish();
	/* the tenants as keys (tenants.c): known already, their customers have rows */
	tenants = palloc(sizeof(CrmpoolTenant) * Max(nmoved, 1));
	for (i = 0; i < nmoved; i++)
		tenants[i] = managed_tenant_text(mr, names[i], moved[i]);

	/* stored text, not translated: the history reads the same in every language */
	reason = pool ? psprintf("to pool \"%s\"", pool) : pstrdup("to the default pool");
	ledger_begin(&octx);
	le = ledger_events_begin();
	for (i = 0; i < nmoved; i++)
		ledger_events_add(le, mr->table_id, tenants[i], moved[i], now, false, 0, how, reason,
						  actor ? actor : ledger_current_actor());
	ledger_events_end(le);
	ledger_end(&octx);
	return nmoved;
}

/* qsort/bsearch order of int64 keys */
int
ops_int64_order(const void *a, const void *b)
{
	int64		x = *(const int64 *) a;
	int64		y = *(const int64 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

/*
 * crmpool.move(rel, customers, pool): pool customers only (ops_move_to_pool says why).  One
 * row per customer given: "moved", or why not: "owned", "already_there", "unknown_customer",
 * "no_such_pool" (a pool the table has for other tenants only).
 * Not PUBLIC's (as assign): sql/parts/17_pools.sql.
 */
PG_FUNCTION_INFO_V1(crmpool_move);
Datum
crmpool_move(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ManagedRel *mr = ops_rel_arg(fcinfo, RowExclusiveLock);
	text	   *pooltext;
	char	   *pool;
	ArrayType  *arr;
	Datum	   *elems;
	bool	   *elemnulls;
	int			nelems;
	int64	   *customers;
	int64	   *moved;
	int			n = 0;
	int			nmoved;
	int			i;
	int			j = 0;
	bool		every;
	int64	   *elsewhere;		/* customers of tenants without the pool */
	int			nelsewhere = 0;
	int			k;

	crmpool_require_arg(fcinfo, 1, "customers");
	pooltext = target_pool_arg(&mr, fcinfo, 2, "crmpool.move()", &every);
	pool = pooltext ? text_to_cstring(pooltext) : NULL;
	arr = PG_GETARG_ARRAYTYPE_P(1);
	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("customers must be a one-dimensional array")));
	deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &elemnulls, &nelems);
	customers = palloc(sizeof(int64) * Max(nelems, 1));
	for (i = 0; i < nelems; i++)
	{
		if (elemnulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("customers must not contain null")));
		customers[i] = DatumGetInt64(elems[i]);
	}
	/* ascending, each once: rows are locked in key order, as every multi-row change does */
	qsort(customers, nelems, sizeof(int64), ops_int64_order);
	for (i = 0; i < nelems; i++)
		if (n == 0 || customers[n - 1] != customers[i])
			customers[n++] = customers[i];

	/* a pool some tenants have only: the other tenants' customers stay ("no_such_pool") */
	elsewhere = palloc(sizeof(int64) * Max(n, 1));
	if (!every)
	{
		int			m = 0;

		for (i = 0; i < n; i++)
			if (target_pool_for(mr, pool, customers[i]))
				customers[m++] = customers[i];
			else
				elsewhere[nelsewhere++] = customers[i];
		n = m;
	}

	crmpool_init_srf(fcinfo);
	moved = palloc(sizeof(int64) * Max(n, 1));
	nmoved = ops_move_to_pool(mr, customers, n, pool, "move", NULL, moved);
	qsort(moved, nmoved, sizeof(int64), ops_int64_order);
	SPI_connect();
	for (i = 0; i < n; i++)
	{
		const char *outcome;
		Datum		values[2];
		bool		nulls[2] = {false, false};

		if (j < nmoved && moved[j] == customers[i])
		{
			outcome = "moved";
			j++;
		}
		else
		{
			bool		has_owner;
			int64		owner;
			char	   *now_in;

			if (!managed_locate(mr, customers[i], &has_owner, &owner, &now_in))
				outcome = "unknown_customer";
			else if (has_owner)
				outcome = "owned";
			else
				outcome = "already_there";
		}
		values[0] = Int64GetDatum(customers[i]);
		values[1] = CStringGetTextDatum(outcome);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	for (k = 0; k < nelsewhere; k++)
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
							 (Datum[]) {Int64GetDatum(elsewhere[k]), CStringGetTextDatum("no_such_pool")},
							 (bool[]) {false, false});
	SPI_finish();
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(crmpool_assign);
Datum
crmpool_assign(PG_FUNCTION_ARGS)
{
	ManagedRel *mr = ops_rel_arg(fcinfo, RowExclusiveLock);
	OwnershipIntent in = {.relid = mr->relid, .op = OP_ASSIGN};

	customer_rep_args(fcinfo, &in.customer, &in.rep);
	ops_change_owner(mr, &in, true, in.rep);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(crmpool_transfer);
Datum
crmpool_transfer(PG_FUNCTION_ARGS)
{
	ManagedRel *mr = ops_rel_arg(fcinfo, RowExclusiveLock);
	OwnershipIntent in = {.relid = mr->relid, .op = OP_TRANSFER};

	crmpool_require_arg(fcinfo, 1, "customer");
	crmpool_require_arg(fcinfo, 2, "from_rep");
	crmpool_require_arg(fcinfo, 3, "to_rep");
	in.customer = PG_GETARG_INT64(1);
	in.from_rep = PG_GETARG_INT64(2);
	in.rep = PG_GETARG_INT64(3);
	if (in.from_rep == in.rep)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("from_rep and to_rep are the same rep %lld", (long long) in.rep)));
	ops_change_owner(mr, &in, true, in.rep);
	PG_RETURN_VOID();
}

/*
 * Move every customer of from_rep to to_rep (NULL: to the pool) in one statement: a rep who
 * leaves (销售人员离职: set_rep(..., active => false), then hand_over(rel, rep, NULL)).
 *
 * The customers are locked first, in key order (customers before reps, as every path), as the
 * caller.  A locked customer keeps its owner, as the lock rules say for a release or a transfer:
 * it is left out and reported with outcome "locked" (unlock it, then hand over again).  The rest
 * move by one UPDATE announced as a transfer (or, to the pool, a release) whose history says
 * "hand_over": the trigger applies the same rules as to crmpool.transfer(), and to_rep's private
 * cap is checked once, with the counts after the whole move.  So the move is all or nothing: a
 * cap that cannot take the whole book refuses it (CR006), as does an inactive to_rep (CR014).
 */
PG_FUNCTION_INFO_V1(crmpool_hand_over);
Datum
crmpool_hand_over(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ManagedRel *mr = ops_rel_arg(fcinfo, RowExclusiveLock);
	OwnershipIntent in = {.relid = mr->relid};
	bool		to_pool = PG_ARGISNULL(2);
	int64		from_rep;
	int64		to_rep = 0;
	int64	   *customers;
	int64	   *moving;
	bool	   *locked;
	char	  **hows;
	CrmpoolTenant *tenants;
	MemoryContext callcxt = CurrentMemoryContext;
	uint64		n;
	uint64		i;
	OwnerContext octx;

	crmpool_require_arg(fcinfo, 1, "from_rep");
	from_rep = PG_GETARG_INT64(1);
	if (!to_pool)
	{
		to_rep = PG_GETARG_INT64(2);
		if (to_rep == from_rep)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("from_rep and to_rep are the same rep %lld", (long long) to_rep)));
	}
	crmpool_init_srf(fcinfo);

	SPI_connect();
	if (SPI_execute_plan(managed_owned_by_plan(mr), (Datum[]) {Int64GetDatum(from_rep)}, NULL,
						 false, 0) != SPI_OK_SELECT)
		elog(ERROR, "crmpool could not lock the customers of rep %lld", (long long) from_rep);
	n = SPI_processed;
	customers = MemoryContextAlloc(rsinfo->econtext->ecxt_per_query_memory,
								   sizeof(int64) * Max(n, 1));
	tenants = MemoryContextAlloc(callcxt, sizeof(CrmpoolTenant) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		t;

		customers[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
												   SPI_tuptable->tupdesc, 1, &isnull));
		/* never NULL: the trigger refuses an owned row without a tenant */
		t = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);
		tenants[i] = mr->tenant_att == InvalidAttrNumber || isnull ? CRMPOOL_NO_TENANT :
			managed_tenant_value(mr, t, customers[i]);
	}
	SPI_finish();

	if (n == 0 && !managed_rep_known(mr, from_rep))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("rep %lld is unknown in table %s", (long long) from_rep,
						get_rel_name(mr->relid)),
				 errdetail("Rep %lld owns no customer of the table and was not set with crmpool.set_rep().",
						   (long long) from_rep),
				 errhint("Check the rep id: crmpool.reps() lists the reps set with crmpool.set_rep(), crmpool.rep_load() those who own customers.")));

	/* the lock table cannot change meanwhile: lock() and unlock() take the row lock we hold */
	locked = palloc0(sizeof(bool) * Max(n, 1));
	moving = palloc(sizeof(int64) * Max(n, 1));
	hows = palloc(sizeof(char *) * Max(n, 1));
	ledger_begin(&octx);
	for (i = 0; i < n; i++)
	{
		int64		holder;
		TimestampTz since;

		locked[i] = ledger_lock_holder(mr->table_id, tenants[i], customers[i], &holder, &since);
		if (!locked[i])
		{
			hows[in.nbatch] = "hand_over";
			moving[in.nbatch++] = customers[i];
		}
	}
	ledger_end(&octx);

	if (in.nbatch > 0)
	{
		uint64		processed;

		in.op = to_pool ? OP_RELEASE : OP_TRANSFER;
		in.rep = to_pool ? from_rep : to_rep;
		in.from_rep = from_rep;
		in.batch = moving;
		in.batch_how = hows;
		processed = ops_change_owner_batch(mr, &in, !to_pool, to_rep);
		/* the rows are locked by us and owned by from_rep; the trigger fires (rel_arg) */
		if (processed != (uint64) in.nbatch || in.nfired != in.nbatch)
			elog(ERROR, "crmpool handed over %d of %d customers of rep %lld",
				 in.nfired, in.nbatch, (long long) from_rep);
	}

	for (i = 0; i < n; i++)
	{
		Datum		values[2] = {Int64GetDatum(customers[i]),
		CStringGetTextDatum(locked[i] ? "locked" : "handed_over")};
		bool		nulls[2] = {false, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * Lock the customer row and check that `rep` owns it; returns the row (with its descriptor).
 * Lock, unlock and follow_up change no ownership, so they take the row lock themselves, as the
 * caller.  FOR NO KEY UPDATE needs UPDATE on any one column; what they change is crmpool's
 * state of the owner column (or the follow-up), so the caller (`fname` names the function)
 * must hold UPDATE on column `att`, as for a plain UPDATE of it.
 */
HeapTuple
ops_lock_owned(ManagedRel *mr, int64 customer, int64 rep, AttrNumber att, const char *fname,
			   TupleDesc *desc)
{
	MemoryContext callcxt = CurrentMemoryContext;
	bool		isnull;
	int64		owner;
	HeapTuple	row;

	/* a column's own ACL holds only column grants: the table's is checked first, as the executor does */
	if (pg_class_aclcheck(mr->relid, GetUserId(), ACL_UPDATE) != ACLCHECK_OK &&
		pg_attribute_aclcheck(mr->relid, att, GetUserId(), ACL_UPDATE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for crmpool.%s() on table %s", fname,
						get_rel_name(mr->relid)),
				 errdetail("crmpool.%s() needs UPDATE privilege on column \"%s\" of the table.",
						   fname, get_attname(mr->relid, att, false)),
				 errhint("GRANT UPDATE (%s) ON %s to the role.",
						 quote_identifier(get_attname(mr->relid, att, false)), mr->qualname)));
	SPI_connect();
	if (SPI_execute_plan(managed_lock_row_plan(mr), (Datum[]) {Int64GetDatum(customer)}, NULL,
						 false, 0) != SPI_OK_SELECT)
		elog(ERROR, "crmpool could not lock customer %lld", (long long) customer);
	if (SPI_processed == 0)
		unknown_customer(mr, customer);
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
		MemoryContext oldcxt = MemoryContextSwitchTo(callcxt);

		row = managed_row_from_datum(d, desc);
		MemoryContextSwitchTo(oldcxt);
	}
	if (managed_deleted(mr, row, *desc))
		managed_refuse_deleted(mr, customer);
	owner = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_NOT_OWNER),
				 errmsg("rep %lld does not own customer %lld", (long long) rep, (long long) customer),
				 errdetail("Customer %lld of table %s is in the public pool.",
						   (long long) customer, get_rel_name(mr->relid)),
				 crmpool_refusal(mr->relid, mr->owner_att, "not_owner", ERR_REP(rep),
								 ERR_CUSTOMER(customer))));
	if (owner != rep)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_NOT_OWNER),
				 errmsg("rep %lld does not own customer %lld", (long long) rep, (long long) customer),
				 errdetail("Customer %lld of table %s is owned by rep %lld.",
						   (long long) customer, get_rel_name(mr->relid), (long long) owner),
				 crmpool_refusal(mr->relid, mr->owner_att, "not_owner", ERR_REP(rep),
								 ERR_CUSTOMER(customer), ERR_OWNER(owner))));
	SPI_finish();
	return row;
}

/*
 * lock() and unlock() on a table with a lock column write the app's flag (as the caller, who
 * needs UPDATE on that column too); the trigger keeps crmpool's bookkeeping from it, as for the
 * app's own UPDATE of the flag.  Returns whether the flag changed.
 */
static bool
set_lock_flag(ManagedRel *mr, int64 customer, HeapTuple row, TupleDesc desc, bool locked)
{
	ErrorContextCallback mark;

	if (managed_lock_flag(mr, row, desc) == locked)
		return false;
	SPI_connect();
	if (mr->lock_flag_plan == NULL)
		mr->lock_flag_plan =
			crmpool_keep_plan(psprintf("UPDATE ONLY %s SET %s = $2 WHERE %s",
									   mr->qualname,
									   quote_identifier(get_attname(mr->relid, mr->lock_att, false)),
									   managed_customer_sql(mr, NULL, "$1")),
							  2, (Oid[]) {INT8OID, mr->lock_type});
	/* a lock_cap refusal at the UPDATE's end does not show crmpool's UPDATE in its CONTEXT */
	crmpool_statement_begin(&mark, mr->lock_flag_plan);
	if (SPI_execute_plan(mr->lock_flag_plan,
						 (Datum[]) {Int64GetDatum(customer), managed_flag_datum(mr->lock_type, locked)},
						 NULL, false, 0) != SPI_OK_UPDATE)
		elog(ERROR, "crmpool could not write the lock flag of customer %lld", (long long) customer);
	crmpool_statement_end(&mark);
	SPI_finish();
	return true;
}

PG_FUNCTION_INFO_V1(crmpool_lock);
Datum
crmpool_lock(PG_FUNCTION_ARGS)
{
	ManagedRel *mr = ops_rel_arg(fcinfo, RowShareLock);
	int64		customer;
	int64		rep;
	HeapTuple	row;
	TupleDesc	desc;
	OwnerContext octx;
	bool		added;
	CrmpoolTenant tenant;

	customer_rep_args(fcinfo, &customer, &rep);
	row = ops_lock_owned(mr, customer, rep, mr->owner_att, "lock", &desc);
	if (mr->lock_att != InvalidAttrNumber)
		PG_RETURN_BOOL(set_lock_flag(mr, customer, row, desc, true));

	tenant = managed_tenant(mr, row, desc);
	ledger_begin(&octx);
	added = ledger_add_lock(mr->table_id, tenant, customer, rep, crmpool_now());
	if (added)
	{
		RuleSet		rules;
		int64		locked;
		int64		limit;

		ledger_locked_changed(mr->relid, mr->table_id, tenant, rep, 1, &locked);
		managed_rules(mr, tenant, managed_pool_text(mr, row, desc), true, rep,
						NULL, &rules);
		if (rule_limit(&rules, RULE_LOCK_CAP, &limit) && locked > limit)
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_LOCK_CAP),
					 errmsg("rep %lld has reached the lock cap", (long long) rep),
					 errdetail("Rep %lld has locked %lld of %lld customers allowed in table %s.",
							   (long long) rep, (long long) (locked - 1), (long long) limit,
							   get_rel_name(mr->relid)),
					 errhint("Unlock a customer first, or raise lock_cap with crmpool.set_rules()."),
					 crmpool_refusal(mr->relid, mr->owner_att, "lock_cap", ERR_REP(rep),
									 ERR_CUSTOMER(customer), ERR_COUNT(locked - 1), ERR_LIMIT(limit))));
		/* locked customers are not recycled (unless lock_blocks leaves out "recycle") */
		due_track(mr, tenant, customer, row, desc, NULL);
	}
	ledger_end(&octx);
	PG_RETURN_BOOL(added);
}

PG_FUNCTION_INFO_V1(crmpool_unlock);
Datum
crmpool_unlock(PG_FUNCTION_ARGS)
{
	ManagedRel *mr = ops_rel_arg(fcinfo, RowShareLock);
	int64		customer;
	int64		rep;
	HeapTuple	row;
	TupleDesc	desc;
	OwnerContext octx;
	bool		dropped;
	CrmpoolTenant tenant;

	customer_rep_args(fcinfo, &customer, &rep);
	row = ops_lock_owned(mr, customer, rep, mr->owner_att, "unlock", &desc);
	if (mr->lock_att != InvalidAttrNumber)
		PG_RETURN_BOOL(set_lock_flag(mr, customer, row, desc, false));

	tenant = managed_tenant(mr, row, desc);
	ledger_begin(&octx);
	dropped = ledger_drop_lock(mr->table_id, tenant, customer);
	if (dropped)
	{
		int64		locked;

		ledger_locked_changed(mr->relid, mr->table_id, tenant, rep, -1, &locked);
		/* the spell goes on: the customer is due again by its rules */
		due_track(mr, tenant, customer, row, desc, NULL);
	}
	ledger_end(&octx);
	PG_RETURN_BOOL(dropped);
}
