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
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/timestamp.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "crmpool.h"

/*
 * Schema crmpool and its owner, who owns every crmpool table.  Every ledger session switches
 * to the owner, so both are cached; any change to a schema (ALTER SCHEMA ... OWNER TO, DROP
 * EXTENSION) invalidates them through the syscache, and they are looked up again on next use.
 */
static Oid	schema_oid = InvalidOid;
static Oid	schema_owner = InvalidOid;

static void
schema_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	schema_oid = InvalidOid;
	schema_owner = InvalidOid;
}

static void
load_schema(void)
{
	static bool callback_registered = false;
	Oid			nspid;
	HeapTuple	tup;
	Oid			owner;

	if (!callback_registered)
	{
		CacheRegisterSyscacheCallback(NAMESPACEOID, schema_changed, (Datum) 0);
		callback_registered = true;
	}
	nspid = get_namespace_oid("crmpool", false);
	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nspid);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	/* both set together, from lookups made after any invalidation they read */
	schema_oid = nspid;
	schema_owner = owner;
}

Oid
crmpool_schema_oid(void)
{
	if (!OidIsValid(schema_oid))
		load_schema();
	return schema_oid;
}

static Oid
extension_owner(void)
{
	if (!OidIsValid(schema_owner))
		load_schema();
	return schema_owner;
}

void
crmpool_become_owner(OwnerContext *ctx)
{
	GetUserIdAndSecContext(&ctx->saved_user, &ctx->saved_sec_context);
	SetUserIdAndSecContext(extension_owner(),
						   ctx->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

/* On error, transaction or subtransaction abort restores the user by itself. */
void
crmpool_restore_user(OwnerContext *ctx)
{
	SetUserIdAndSecContext(ctx->saved_user, ctx->saved_sec_context);
}

/* The actor recorded in history: crmpool.actor, or else the current role. */
const char *
crmpool_actor_name(void)
{
	if (crmpool_actor != NULL && crmpool_actor[0] != '\0')
		return crmpool_actor;
	return GetUserNameFromId(GetUserId(), false);
}

bool
crmpool_is_owner(Oid relid)
{
#if PG_VERSION_NUM >= 160000
	return object_ownercheck(RelationRelationId, relid, GetUserId());
#else
	return pg_class_ownercheck(relid, GetUserId());
#endif
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
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

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
#if PG_VERSION_NUM >= 160000
	InitMaterializedSRF(fcinfo, 0);
#else
	SetSingleFuncCall(fcinfo, 0);
#endif
}

/* The kept plan of a fixed statement, prepared on first use (inside or outside SPI). */
SPIPlanPtr
crmpool_stmt_plan(const CrmpoolStmt *stmt, SPIPlanPtr *slot)
{
	if (*slot == NULL)
	{
		SPI_connect();
		*slot = crmpool_keep_plan(stmt->sql, stmt->nargs, (Oid *) stmt->argtypes);
		SPI_finish();
	}
	return *slot;
}

/*
 * Run a fixed statement inside the caller's SPI connection; `latest` reads with the latest
 * snapshot instead of the statement's own.  Returns the SPI result code.
 */
int
crmpool_run_stmt(const CrmpoolStmt *stmt, SPIPlanPtr *slot, Datum *values, const char *nulls,
				 bool latest)
{
	SPIPlanPtr	plan = crmpool_stmt_plan(stmt, slot);
	int			rc;

	if (latest)
		rc = SPI_execute_snapshot(plan, values, nulls, GetLatestSnapshot(), InvalidSnapshot,
								  false, false, 0);
	else
		rc = SPI_execute_plan(plan, values, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "crmpool statement failed: %s", SPI_result_code_string(rc));
	return rc;
}

/*
 * Run a read-only plan as the extension owner and return its rows as the calling set-returning
 * function's result (materialize mode).  The plan's columns must match the function's result.
 */
void
crmpool_srf_from_plan(FunctionCallInfo fcinfo, SPIPlanPtr plan, Datum *values, const char *nulls)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	OwnerContext octx;
	uint64		i;
	int			rc;

	crmpool_init_srf(fcinfo);

	SPI_connect();
	crmpool_become_owner(&octx);
	rc = SPI_execute_plan(plan, values, nulls, true, 0);
	crmpool_restore_user(&octx);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		int			natts = rsinfo->setDesc->natts;
		Datum	   *outvals = palloc(sizeof(Datum) * natts);
		bool	   *outnulls = palloc(sizeof(bool) * natts);
		int			j;

		for (j = 0; j < natts; j++)
			outvals[j] = SPI_getbinval(tuple, SPI_tuptable->tupdesc, j + 1, &outnulls[j]);
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
