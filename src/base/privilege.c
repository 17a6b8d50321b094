/*
 * privilege.c: who crmpool acts as, and small helpers shared by the SQL-callable functions.
 *
 * crmpool's bookkeeping tables are private to the extension owner.  The trigger and the
 * functions switch to that owner only around their own SPI statements (the way pg_ivm switches
 * to the table owner), so a rep's role needs no privilege on crmpool's tables and cannot forge
 * history.  Statements on the user's own table run as the caller, with the caller's privileges.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "access/transam.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/timestamp.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "base/base.h"

void
crmpool_become_owner(OwnerContext *ctx)
{
	GetUserIdAndSecContext(&ctx->saved_user, &ctx->saved_sec_context);
	SetUserIdAndSecContext(crmpool_extension_owner(),
						   ctx->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

/* On error, transaction or subtransaction abort restores the user by itself. */
void
crmpool_restore_user(OwnerContext *ctx)
{
	SetUserIdAndSecContext(ctx->saved_user, ctx->saved_sec_context);
}

/*
 * The name of the last role asked for, kept until a role changes (a rename sends a syscache
 * invalidation of pg_authid): every claim records its actor twice, and looking the name up
 * each time cost more than anything else in starting a ledger session.
 */
static Oid	actor_role = InvalidOid;
static char actor_role_name[NAMEDATALEN];

static void
actor_role_forget(Datum arg, int cacheid, uint32 hashvalue)
{
	actor_role = InvalidOid;
}

/* The actor recorded in history: crmpool.actor, or else the current role (valid until the next call). */
const char *
crmpool_actor_name(void)
{
	static bool registered = false;
	Oid			user;

	if (crmpool_actor != NULL && crmpool_actor[0] != '\0')
		return crmpool_actor;
	if (!registered)
	{
		CacheRegisterSyscacheCallback(AUTHOID, actor_role_forget, (Datum) 0);
		registered = true;
	}
	user = GetUserId();
	if (user != actor_role)
	{
		/* cleared first: an invalidation during the lookup makes the next call look again */
		actor_role = InvalidOid;
		strlcpy(actor_role_name, GetUserNameFromId(user, false), sizeof(actor_role_name));
		actor_role = user;
	}
	return actor_role_name;
}

bool
crmpool_is_owner(Oid relid)
{
	return crmpool_owns_relation(relid, GetUserId());
}

void
crmpool_require_owner(Oid relid)
{
	if (!crmpool_is_owner(relid))
		aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, get_rel_name(relid));
}

void
crmpool_require_select(Oid relid)
{
	AclResult	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);

	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, get_rel_name(relid));
}

/* NULL arguments are errors, never a silent NULL result. */
void
crmpool_require_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", name)));
}

/*
 * An optional name argument (a pool, tenant or team, `what`): NULL, or text that is neither
 * empty (`hint` says what NULL means instead) nor longer than max_chars.
 */
text *
crmpool_name_arg(FunctionCallInfo fcinfo, int argno, const char *what, int max_chars,
				 const char *hint)
{
	text	   *t;

	if (argno < 0 || PG_ARGISNULL(argno))
		return NULL;
	t = PG_GETARG_TEXT_PP(argno);
	if (VARSIZE_ANY_EXHDR(t) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s name must not be empty", what),
				 errhint("%s", hint)));
	crmpool_check_length(psprintf("%s name", what), VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t),
						 max_chars);
	return t;
}

/* Refuse text longer than crmpool stores (the CRMPOOL_*_MAX_CHARS limits), up front. */
void
crmpool_check_length(const char *what, const char *s, int len, int max_chars)
{
	int			nchars;

	if (len <= max_chars)
		return;					/* a character is at least one byte */
	nchars = pg_mbstrlen_with_len(s, len);
	if (nchars > max_chars)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("%s is too long", what),
				 errdetail("It has %d characters; crmpool allows at most %d.", nchars, max_chars)));
}

/*
 * Prepare and keep a plan.  Every statement crmpool prepares qualifies its tables, functions
 * and operators, because a kept plan is re-analyzed under whatever search_path is current.
 * Must be called inside SPI_connect.
 */
SPIPlanPtr
crmpool_keep_plan(const char *sql, int nargs, Oid *argtypes)
{
	return crmpool_keep_plan_options(sql, nargs, argtypes, 0);
}

/* The same, with planner options (CURSOR_OPT_*: SPI_prepare_cursor). */
SPIPlanPtr
crmpool_keep_plan_options(const char *sql, int nargs, Oid *argtypes, int options)
{
	SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, argtypes, options);

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	return plan;
}

/* Set up the calling set-returning function's result in materialize mode. */
void
crmpool_init_srf(FunctionCallInfo fcinfo)
{
	crmpool_materialized_srf(fcinfo);
}

/*
 * Run a read-only plan as the extension owner and return its rows as the calling set-returning
 * function's result (materialize mode).  The plan's columns must match the function's result.
 */
void
crmpool_srf_from_plan(FunctionCallInfo fcinfo, SPIPlanPtr plan, Datum *values, const char *nulls)
{
	crmpool_srf_from_plan_mapped(fcinfo, plan, values, nulls, NULL, NULL, NULL);
}

/*
 * The same, keeping only the rows that filter (when given) keeps.  The filter runs as the
 * caller, after the plan, so that it may read the user's table with the caller's privileges
 * and row-level security.
 */
void
crmpool_srf_from_plan_filtered(FunctionCallInfo fcinfo, SPIPlanPtr plan, Datum *values,
							   const char *nulls, CrmpoolRowFilter filter, void *arg)
{
	crmpool_srf_from_plan_mapped(fcinfo, plan, values, nulls, filter, NULL, arg);
}

/*
 * The same, and map (when given) rewrites each kept row's output values, also as the caller:
 * a reader shows a value of crmpool's own (a tenant key) as the app's (its tenant).  The
 * result may have fewer columns than the plan (a reader's 0.1 definition): map sees how many.
 */
void
crmpool_srf_from_plan_mapped(FunctionCallInfo fcinfo, SPIPlanPtr plan, Datum *values,
							 const char *nulls, CrmpoolRowFilter filter, CrmpoolRowMap map,
							 void *arg)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	OwnerContext octx;
	SPITupleTable *rows;
	uint64		n;
	bool	   *keep;
	uint64		i;
	int			rc;

	crmpool_init_srf(fcinfo);

	SPI_connect();
	crmpool_become_owner(&octx);
	rc = SPI_execute_plan(plan, values, nulls, true, 0);
	crmpool_restore_user(&octx);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	rows = SPI_tuptable;
	n = SPI_processed;
	keep = palloc(sizeof(bool) * Max(n, 1));
	for (i = 0; i < n; i++)
		keep[i] = true;
	if (filter != NULL && n > 0)
		filter(rows->vals, (int) n, rows->tupdesc, keep, arg);

	for (i = 0; i < n; i++)
	{
		HeapTuple	tuple = rows->vals[i];
		int			natts = rsinfo->setDesc->natts;
		Datum	   *outvals = palloc(sizeof(Datum) * natts);
		bool	   *outnulls = palloc(sizeof(bool) * natts);
		int			j;

		if (!keep[i])
			continue;
		for (j = 0; j < natts; j++)
			outvals[j] = SPI_getbinval(tuple, rows->tupdesc, j + 1, &outnulls[j]);
		if (map != NULL)
			map(tuple, rows->tupdesc, outvals, outnulls, natts, arg);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, outvals, outnulls);
	}
	SPI_finish();
}

/*
 * Administrative work (manage, set_identity): inside an SPI connection, as the extension owner,
 * with search_path pinned to pg_catalog, pg_temp, so that nothing a generated statement runs
 * can resolve to a user's object.  Returns the GUC nest level for crmpool_end_admin.
 */
int
crmpool_begin_admin(OwnerContext *octx)
{
	int			nestlevel = NewGUCNestLevel();

	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	SPI_connect();
	crmpool_become_owner(octx);
	return nestlevel;
}

void
crmpool_end_admin(OwnerContext *octx, int nestlevel)
{
	crmpool_restore_user(octx);
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);
}

/* Run a statement during administrative work; raises on failure. */
void
crmpool_admin_exec(const char *sql, int nargs, Oid *types, Datum *values)
{
	int			rc = SPI_execute_with_args(sql, nargs, types, values, NULL, false, 0);

	if (rc < 0)
		elog(ERROR, "crmpool could not run \"%s\": %s", sql, SPI_result_code_string(rc));
}

/* ---------------------------------------------------------------------------------------------
 * Reading the user's table
 *
 * Nothing of the user's (a cast, an operator, a function in an index expression or predicate,
 * which the planner evaluates, a trigger, a row-level security policy, a type's I/O) may run
 * while crmpool is the extension owner, a superuser.  So no statement on a managed table ever
 * runs as the extension owner: a reader reads it as the caller (whose row-level security then
 * applies), and administrative work (manage, set_identity, recomputing due times, recycling)
 * reads it as the table's owner in a security-restricted operation, as VACUUM and CREATE INDEX
 * do.  A user's column is turned into text in C, by its type's output function, and only types
 * whose output function is built into PostgreSQL are accepted (crmpool_require_builtin_output).
 * -------------------------------------------------------------------------------------------*/

/* The owner of a table; InvalidOid when it is gone. */
Oid
crmpool_table_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * Act as a table's owner in a security-restricted operation.  Settings the owner's code changes
 * are undone by crmpool_leave_table_owner.  With `complete`, row_security is off: a read that
 * must see every row (counting, indexing) fails rather than silently miss rows that a forced
 * policy hides from the owner.
 */
void
crmpool_become_table_owner(Oid owner, TableOwnerContext *ctx, bool complete)
{
	GetUserIdAndSecContext(&ctx->saved_user, &ctx->saved_sec_context);
	SetUserIdAndSecContext(owner, ctx->saved_sec_context | SECURITY_RESTRICTED_OPERATION);
	ctx->nestlevel = NewGUCNestLevel();
	if (complete)
		(void) set_config_option("row_security", "off", PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
}

void
crmpool_leave_table_owner(TableOwnerContext *ctx)
{
	AtEOXact_GUC(false, ctx->nestlevel);
	SetUserIdAndSecContext(ctx->saved_user, ctx->saved_sec_context);
}

/*
 * Run a query on a managed table as its owner (crmpool_become_table_owner, complete) and hand
 * its rows, `chunk` at a time, to fn, which runs as the user who called this (the extension owner
 * inside a ledger or admin session) and may run its own SPI statements.  Opens its own SPI
 * connection.
 */
void
crmpool_scan_table(Oid relid, const char *sql, int nargs, Oid *types, Datum *values, int chunk,
				   void (*fn) (SPITupleTable *rows, uint64 n, void *arg), void *arg)
{
	Oid			owner = crmpool_table_owner(relid);
	TableOwnerContext tctx;
	Portal		portal;

	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	SPI_connect();
	crmpool_become_table_owner(owner, &tctx, true);
	portal = SPI_cursor_open_with_args(NULL, sql, nargs, types, values, NULL, true, 0);
	crmpool_leave_table_owner(&tctx);
	for (;;)
	{
		SPITupleTable *rows;
		uint64		n;

		crmpool_become_table_owner(owner, &tctx, true);
		SPI_cursor_fetch(portal, true, chunk);
		crmpool_leave_table_owner(&tctx);
		rows = SPI_tuptable;
		n = SPI_processed;
		if (n == 0)
			break;
		fn(rows, n, arg);
		SPI_freetuptable(rows);
	}
	SPI_cursor_close(portal);
	SPI_finish();
}

/* Whether every output function a value of this type goes through is built in. */
static bool
output_is_builtin(Oid type, const char **why)
{
	HeapTuple	tup;
	Form_pg_type t;
	bool		ok;

	type = getBaseType(type);
	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", type);
	t = (Form_pg_type) GETSTRUCT(tup);
	switch (t->typtype)
	{
		case TYPTYPE_ENUM:
			ok = true;			/* enum_out */
			break;
		case TYPTYPE_BASE:
			ok = t->typoutput < FirstNormalObjectId;
			*why = "its output function is not built into PostgreSQL";
			if (ok && IsTrueArrayType(t))
				ok = output_is_builtin(t->typelem, why);
			break;
		default:
			ok = false;
			*why = "composite, range and pseudo-types are not accepted";
			break;
	}
	ReleaseSysCache(tup);
	return ok;
}

/*
 * Refuse a column crmpool would turn into text (pool, level, phone) unless its type's output
 * function, and any it calls, is built in: crmpool converts in C with that function, so no
 * cast or I/O function of a user's runs, whoever reads.
 */
void
crmpool_require_builtin_output(Oid relid, AttrNumber att, const char *role)
{
	Oid			type = get_atttype(relid, att);
	const char *why = NULL;

	if (!output_is_builtin(type, &why))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s column \"%s\" of table \"%s\" has a type crmpool does not read",
						role, get_attname(relid, att, false), get_rel_name(relid)),
				 errdetail("Column \"%s\" is of type %s: %s.", get_attname(relid, att, false),
						   format_type_be(type), why),
				 errhint("Use a column of a built-in type (text, varchar, integer, ...), an enum, or a domain over one of them.")));
}

/*
 * Transaction callbacks: the end of the transaction (commit, abort, or PREPARE TRANSACTION,
 * after which the session goes on with a new transaction while the prepared one keeps its own
 * resources), and the moment before it is committed or prepared.  Every per-transaction state
 * crmpool keeps is reset at the first and checked at the second, so that a prepared
 * transaction is treated exactly like a committed one.
 */
bool
crmpool_xact_ended(XactEvent event)
{
	return event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_PREPARE;
}

bool
crmpool_xact_finishing(XactEvent event)
{
	return event == XACT_EVENT_PRE_COMMIT || event == XACT_EVENT_PARALLEL_PRE_COMMIT ||
		event == XACT_EVENT_PRE_PREPARE;
}
