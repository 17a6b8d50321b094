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

#include "ops/ops.h"

static ManagedRel *
rel_arg(FunctionCallInfo fcinfo)
{
	ManagedRel *mr;

	crmpool_require_arg(fcinfo, 0, "rel");
	mr = managed_rel_get(PG_GETARG_OID(0), false);
	crmpool_require_triggers(mr);
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
			 errmsg("customer " INT64_FORMAT " does not exist in table %s",
					customer, get_rel_name(mr->relid))));
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
	uint64		processed;

	SPI_connect();
	ownership_push_intent(in);
	PG_TRY();
	{
		int			rc = SPI_execute_plan(managed_set_owner_plan(mr), values, nulls, false, 0);

		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "crmpool owner update failed: %s", SPI_result_code_string(rc));
	}
	PG_FINALLY();
	{
		ownership_pop_intent(in);
	}
	PG_END_TRY();
	processed = SPI_processed;
	SPI_finish();

	if (processed == 0)
		unknown_customer(mr, in->customer);
	if (in->fired)
		return;

	switch (in->op)
	{
		case OP_CLAIM:
		case OP_ASSIGN:
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_ALREADY_OWNED),
					 errmsg("customer " INT64_FORMAT " is already owned", in->customer),
					 errdetail("Customer " INT64_FORMAT " of table %s is already owned by rep " INT64_FORMAT ".",
							   in->customer, get_rel_name(mr->relid), owner)));
			break;
		case OP_RELEASE:
		case OP_RECYCLE:
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_NOT_OWNER),
					 errmsg("rep " INT64_FORMAT " does not own customer " INT64_FORMAT,
							in->rep, in->customer),
					 errdetail("Customer " INT64_FORMAT " of table %s is in the public pool.",
							   in->customer, get_rel_name(mr->relid))));
			break;
		case OP_TRANSFER:
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_NOT_OWNER),
					 errmsg("rep " INT64_FORMAT " does not own customer " INT64_FORMAT,
							in->from_rep, in->customer),
					 errdetail("Customer " INT64_FORMAT " of table %s is owned by rep " INT64_FORMAT ".",
							   in->customer, get_rel_name(mr->relid), owner)));
			break;
		case OP_DIRECT:
			break;
	}
}

/*
 * Release a batch of customers (all locked by the caller and all owned by in->rep) with one
 * set-based UPDATE, so that their counter change is applied once, as for any multi-row write.
 */
void
ops_release_batch(ManagedRel *mr, OwnershipIntent *in)
{
	Datum	   *keys = palloc(sizeof(Datum) * Max(in->nbatch, 1));
	uint64		processed;
	int			i;

	for (i = 0; i < in->nbatch; i++)
		keys[i] = Int64GetDatum(in->batch[i]);
	SPI_connect();
	ownership_push_intent(in);
	PG_TRY();
	{
		ArrayType  *arr = construct_array(keys, in->nbatch, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
		int			rc = SPI_execute_plan(managed_release_many_plan(mr),
										  (Datum[]) {PointerGetDatum(arr)}, NULL, false, 0);

		if (rc != SPI_OK_UPDATE)
			elog(ERROR, "crmpool owner update failed: %s", SPI_result_code_string(rc));
	}
	PG_FINALLY();
	{
		ownership_pop_intent(in);
	}
	PG_END_TRY();
	processed = SPI_processed;
	SPI_finish();
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
				 errdetail("Of %d customers due to be recycled from rep " INT64_FORMAT ", the table had %d owned by that rep.",
						   in->nbatch, in->rep, in->nfired),
				 crmpool_repair_hint(mr->relid)));
}

static void
claim_one(ManagedRel *mr, int64 customer, int64 rep)
{
	OwnershipIntent in = {.relid = mr->relid, .customer = customer, .op = OP_CLAIM, .rep = rep};

	ops_change_owner(mr, &in, true, rep);
}

PG_FUNCTION_INFO_V1(crmpool_claim);
Datum
crmpool_claim(PG_FUNCTION_ARGS)
{
	ManagedRel *mr = rel_arg(fcinfo);
	int64		customer;
	int64		rep;

	customer_rep_args(fcinfo, &customer, &rep);
	claim_one(mr, customer, rep);
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

PG_FUNCTION_INFO_V1(crmpool_claim_many);
Datum
crmpool_claim_many(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ManagedRel *mr = rel_arg(fcinfo);
	ArrayType  *arr;
	int64		rep;
	Datum	   *elems;
	bool	   *elemnulls;
	int			nelems;
	int			i;
	MemoryContext callcxt;
	ResourceOwner callowner;

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

	SPI_connect();
	if (SPI_execute_plan(managed_lock_many_plan(mr), (Datum[]) {PointerGetDatum(arr)}, NULL,
						 false, 0) != SPI_OK_SELECT)
		elog(ERROR, "crmpool could not lock the customers");
	SPI_finish();

	callcxt = CurrentMemoryContext;
	callowner = CurrentResourceOwner;
	for (i = 0; i < nelems; i++)
	{
		int64		customer = DatumGetInt64(elems[i]);
		const char *outcome;
		Datum		values[2];
		bool		nulls[2] = {false, false};

		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(callcxt);
		PG_TRY();
		{
			claim_one(mr, customer, rep);
			ReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(callcxt);
			CurrentResourceOwner = callowner;
			outcome = "claimed";
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(callcxt);
			edata = CopyErrorData();
			FlushErrorState();
			RollbackAndReleaseCurrentSubTransaction();
			MemoryContextSwitchTo(callcxt);
			CurrentResourceOwner = callowner;
			outcome = crmpool_refusal_name(edata->sqlerrcode);
			if (outcome == NULL)
				ReThrowError(edata);
			FreeErrorData(edata);
		}
		PG_END_TRY();

		values[0] = Int64GetDatum(customer);
		values[1] = CStringGetTextDatum(outcome);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(crmpool_release);
Datum
crmpool_release(PG_FUNCTION_ARGS)
{
	ManagedRel *mr = rel_arg(fcinfo);
	OwnershipIntent in = {.relid = mr->relid, .op = OP_RELEASE};

	customer_rep_args(fcinfo, &in.customer, &in.rep);
	if (!PG_ARGISNULL(3))
	{
		text	   *reason = PG_GETARG_TEXT_PP(3);

		crmpool_check_length("reason", VARDATA_ANY(reason), VARSIZE_ANY_EXHDR(reason),
							 CRMPOOL_REASON_MAX_CHARS);
		in.reason = text_to_cstring(reason);
	}
	ops_change_owner(mr, &in, false, 0);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(crmpool_assign);
Datum
crmpool_assign(PG_FUNCTION_ARGS)
{
	ManagedRel *mr = rel_arg(fcinfo);
	OwnershipIntent in = {.relid = mr->relid, .op = OP_ASSIGN};

	customer_rep_args(fcinfo, &in.customer, &in.rep);
	ops_change_owner(mr, &in, true, in.rep);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(crmpool_transfer);
Datum
crmpool_transfer(PG_FUNCTION_ARGS)
{
	ManagedRel *mr = rel_arg(fcinfo);
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
				 errmsg("from_rep and to_rep are the same rep " INT64_FORMAT, in.rep)));
	ops_change_owner(mr, &in, true, in.rep);
	PG_RETURN_VOID();
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
		elog(ERROR, "crmpool could not lock customer " INT64_FORMAT, customer);
	if (SPI_processed == 0)
		unknown_customer(mr, customer);
	owner = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_NOT_OWNER),
				 errmsg("rep " INT64_FORMAT " does not own customer " INT64_FORMAT, rep, customer),
				 errdetail("Customer " INT64_FORMAT " of table %s is in the public pool.",
						   customer, get_rel_name(mr->relid))));
	if (owner != rep)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_NOT_OWNER),
				 errmsg("rep " INT64_FORMAT " does not own customer " INT64_FORMAT, rep, customer),
				 errdetail("Customer " INT64_FORMAT " of table %s is owned by rep " INT64_FORMAT ".",
						   customer, get_rel_name(mr->relid), owner)));
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull);
		MemoryContext oldcxt = MemoryContextSwitchTo(callcxt);

		row = managed_row_from_datum(d, desc);
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();
	return row;
}

PG_FUNCTION_INFO_V1(crmpool_lock);
Datum
crmpool_lock(PG_FUNCTION_ARGS)
{
	ManagedRel *mr = rel_arg(fcinfo);
	int64		customer;
	int64		rep;
	HeapTuple	row;
	TupleDesc	desc;
	OwnerContext octx;
	bool		added;
	const char *tenant;

	customer_rep_args(fcinfo, &customer, &rep);
	row = ops_lock_owned(mr, customer, rep, mr->owner_att, "lock", &desc);

	tenant = managed_tenant(mr, row, desc);
	ledger_begin(&octx);
	added = ledger_add_lock(mr->relid, tenant, customer, rep, crmpool_now());
	if (added)
	{
		RuleSet		rules;
		int64		locked;
		int64		limit;

		ledger_locked_changed(mr->relid, tenant, rep, 1, &locked);
		/* tenant: for the rules' tenant scope once rules_effective() takes one (docs/design.md) */
		rules_effective(mr->nscopes, mr->scopes, managed_pool_text(mr, row, desc), true, rep,
						NULL, &rules);
		if (rule_limit(&rules, RULE_LOCK_CAP, &limit) && locked > limit)
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_LOCK_CAP),
					 errmsg("rep " INT64_FORMAT " has reached the lock cap", rep),
					 errdetail("Rep " INT64_FORMAT " has locked " INT64_FORMAT " of " INT64_FORMAT " customers allowed in table %s.",
							   rep, locked - 1, limit, get_rel_name(mr->relid)),
					 errhint("Unlock a customer first, or raise lock_cap with crmpool.set_rules().")));
		/* locked customers are never recycled */
		due_untrack(mr, tenant, customer);
	}
	ledger_end(&octx);
	PG_RETURN_BOOL(added);
}

PG_FUNCTION_INFO_V1(crmpool_unlock);
Datum
crmpool_unlock(PG_FUNCTION_ARGS)
{
	ManagedRel *mr = rel_arg(fcinfo);
	int64		customer;
	int64		rep;
	HeapTuple	row;
	TupleDesc	desc;
	OwnerContext octx;
	bool		dropped;
	const char *tenant;

	customer_rep_args(fcinfo, &customer, &rep);
	row = ops_lock_owned(mr, customer, rep, mr->owner_att, "unlock", &desc);

	tenant = managed_tenant(mr, row, desc);
	ledger_begin(&octx);
	dropped = ledger_drop_lock(mr->relid, tenant, customer);
	if (dropped)
	{
		int64		locked;

		ledger_locked_changed(mr->relid, tenant, rep, -1, &locked);
		/* the spell goes on: the customer is due again by its rules */
		due_track(mr, tenant, customer, row, desc, NULL);
	}
	ledger_end(&octx);
	PG_RETURN_BOOL(dropped);
}
