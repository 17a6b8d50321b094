/*
 * reps.c: crmpool.set_rep() and crmpool.reps(): a managed table's reps, their teams, and who is
 * inactive.
 *
 * crmpool knows a rep only by its id (the owner column's value); set_rep() adds what the rules
 * need to know of one: its team (rules scoped to the team apply to it, core/rules.c) and whether
 * it is active (an inactive rep gains no customer, trigger/ownership.c).  The rows live in
 * crmpool.rep_config, tenant first in the key, and are cached with the table's rules
 * (table/registry.c): a table with no rows pays nothing for them.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "trigger/trigger.h"

/*
 * crmpool.set_rep(rel, rep, team, active, tenant, weight, score): set (all of) what crmpool
 * knows of a rep.  weight and score are read by crmpool.distribute() (ops/distribute.c):
 * the lottery's weight, and the app's score for mode performance.
 *
 * Setting a rep inactive must reach every writer at once: a claim under way when it commits
 * would otherwise pass on the configuration it read before, after hand_over() has moved the
 * rep's customers.  So it first takes an EXCLUSIVE lock on the table (as a rule change that
 * recomputes due times does), which waits for every transaction that writes or locks rows of
 * the table and is waited for by every later one; a writer that waited for it takes in its
 * invalidation and reads the configuration again under a snapshot that sees the change.
 * Activating a rep or changing its team takes no such lock: like a rule change, it applies to
 * the writes that start after it commits (due times aside, recomputed at once below).
 */
static Datum set_rep(FunctionCallInfo fcinfo);

/* The first 0.2 definition (five arguments, no weight or score); kept for its SQL. */
PG_FUNCTION_INFO_V1(crmpool_set_rep);
Datum
crmpool_set_rep(PG_FUNCTION_ARGS)
{
	return set_rep(fcinfo);
}

PG_FUNCTION_INFO_V1(crmpool_set_rep_v2);
Datum
crmpool_set_rep_v2(PG_FUNCTION_ARGS)
{
	return set_rep(fcinfo);
}

/* A weight or score: finite and >= 0. */
static double
rep_number_arg(FunctionCallInfo fcinfo, int argno, const char *name)
{
	double		d = PG_GETARG_FLOAT8(argno);

	if (!(d >= 0.0) || isinf(d))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a finite number of at least 0, not %g", name, d)));
	return d;
}

static Datum
set_rep(FunctionCallInfo fcinfo)
{
	Oid			relid;
	int64		rep;
	text	   *team;
	bool		active;
	text	   *tenant;
	ManagedRel *mr;
	Oid			types[8] = {TEXTOID, REGCLASSOID, INT8OID, TEXTOID, BOOLOID, TIMESTAMPTZOID,
	FLOAT8OID, FLOAT8OID};
	Datum		vals[8];
	char		nulls[8] = {' ', ' ', ' ', ' ', ' ', ' ', ' ', 'n'};
	double		weight = 1.0;
	OwnerContext octx;
	int			nestlevel;
	int			rc;
	uint64		processed;

	crmpool_require_arg(fcinfo, 0, "rel");
	crmpool_require_arg(fcinfo, 1, "rep");
	crmpool_require_arg(fcinfo, 3, "active");
	relid = PG_GETARG_OID(0);
	rep = PG_GETARG_INT64(1);
	team = crmpool_name_arg(fcinfo, 2, "team", CRMPOOL_TEAM_MAX_CHARS,
							_("Pass NULL for a rep in no team."));
	active = PG_GETARG_BOOL(3);
	tenant = crmpool_name_arg(fcinfo, 4, "tenant", CRMPOOL_TENANT_MAX_CHARS,
							  _("Pass NULL for a rep of every tenant."));
	vals[7] = Float8GetDatum(0.0);
	if (PG_NARGS() > 5)
	{
		crmpool_require_arg(fcinfo, 5, "weight");
		weight = rep_number_arg(fcinfo, 5, "weight");
		if (!PG_ARGISNULL(6))
		{
			vals[7] = Float8GetDatum(rep_number_arg(fcinfo, 6, "score"));
			nulls[7] = ' ';
		}
	}
	vals[6] = Float8GetDatum(weight);
	crmpool_require_owner(relid);
	mr = managed_rel_get(relid, false);
	managed_tenant_scope(mr, tenant);
	if (!active)
		LockRelationOid(relid, ExclusiveLock);

	vals[0] = tenant != NULL ? PointerGetDatum(tenant) : CStringGetTextDatum("");
	vals[1] = ObjectIdGetDatum(relid);
	vals[2] = Int64GetDatum(rep);
	vals[3] = PointerGetDatum(team);
	nulls[3] = team != NULL ? ' ' : 'n';
	vals[4] = BoolGetDatum(active);
	vals[5] = TimestampTzGetDatum(crmpool_now());

	/*
	 * As set_rules(): the managed_table row is locked as a foreign key's check would, so that an
	 * unmanage() cannot leave this row behind.  search_path pinned while the extension owner.
	 */
	nestlevel = crmpool_begin_admin(&octx);
	rc = SPI_execute_with_args("INSERT INTO crmpool.rep_config AS r (tenant, rel, rep, team, active, set_at, weight, score) "
							   "SELECT $1, $2, $3, $4, $5, $6, $7, $8 FROM crmpool.managed_table m "
							   "WHERE m.rel OPERATOR(pg_catalog.=) $2 FOR KEY SHARE OF m "
							   "ON CONFLICT (tenant, rel, rep) DO UPDATE SET team = excluded.team, "
							   "active = excluded.active, set_at = excluded.set_at, "
							   "weight = excluded.weight, score = excluded.score",
							   8, types, vals, nulls, false, 0);
	processed = SPI_processed;
	crmpool_end_admin(&octx, nestlevel);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "crmpool could not set rep %lld: %s", (long long) rep,
			 SPI_result_code_string(rc));
	if (processed == 0)
		managed_rel_not_managed(relid);
	managed_rel_changed(relid);
	/* a team's rules may decide due times: those of the rep's customers may have moved */
	if (mr->recycles && mr->team_rules)
		due_recompute(relid);
	PG_RETURN_VOID();
}

/* crmpool.reps(rel): every rep set with set_rep(), for a reader of the table. */
PG_FUNCTION_INFO_V1(crmpool_reps);
Datum
crmpool_reps(PG_FUNCTION_ARGS)
{
	static const CrmpoolStmt stmt = {
		"SELECT CASE WHEN tenant" EQ "'' THEN NULL ELSE tenant END, rep, team, active, set_at, weight, score "
		"FROM crmpool.rep_config "
		"WHERE rel OPERATOR(pg_catalog.=) $1 ORDER BY tenant, rep",
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
