/*
 * rule_api.c: crmpool.set_rules(), clear_rules() and rules(): a table's rules, per scope (the
 * table, narrowed by a tenant, a pool, and a team or a rep: core/rules.c).
 *
 * Rules are stored as jsonb per scope in crmpool.rule_set (written here, as the extension
 * owner) and parsed by core/rules.c, which says what each key means.  A change is announced to
 * the registry (managed_rel_changed) and, when it touches a key that decides due times,
 * recomputes the table's due rows (track/due.c).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include "trigger/trigger.h"

/*
 * A scope's arguments.  0.1's set_rules, clear_rules and rules (still bound by its SQL under
 * this library) have no tenant and team: they pass -1 for those arguments.
 */
typedef struct ScopeArgs
{
	text	   *pool;
	bool		has_rep;
	int64		rep;
	text	   *tenant;
	text	   *team;
} ScopeArgs;

static void
scope_args(FunctionCallInfo fcinfo, int pool_arg, int rep_arg, int tenant_arg, int team_arg,
		   ScopeArgs *sc)
{
	sc->pool = crmpool_name_arg(fcinfo, pool_arg, "pool", CRMPOOL_POOL_MAX_CHARS,
								_("Pass NULL for rules of the whole table."));
	sc->has_rep = !PG_ARGISNULL(rep_arg);
	sc->rep = sc->has_rep ? PG_GETARG_INT64(rep_arg) : 0;
	sc->tenant = crmpool_name_arg(fcinfo, tenant_arg, "tenant", CRMPOOL_TENANT_MAX_CHARS,
								  _("Pass NULL for rules of every tenant."));
	sc->team = crmpool_name_arg(fcinfo, team_arg, "team", CRMPOOL_TEAM_MAX_CHARS,
								_("Pass NULL for rules of every team."));
	if (sc->team != NULL && sc->has_rep)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a rule scope names a team or a rep, not both"),
				 errdetail("Team \"%s\" and rep %lld were given.",
						   text_to_cstring(sc->team), (long long) sc->rep),
				 errhint("A rep's own rules override its team's: set them with rep alone.")));
}

/* Copy a jsonb datum out of SPI memory into the caller's context. */
static Jsonb *
copy_jsonb_out(Datum d)
{
	Jsonb	   *src = DatumGetJsonbP(d);
	Jsonb	   *copy = SPI_palloc(VARSIZE(src));

	memcpy(copy, src, VARSIZE(src));
	return copy;
}

/*
 * Run a statement on crmpool.rule_set as the extension owner; returns the scope's rules or
 * NULL.  Parameters: $1 rel, $2 pool, $3 rep, $4 tenant, $5 team, then the extra ones from $6.
 */
static Jsonb *
rule_set_exec(const char *sql, Oid relid, const ScopeArgs *sc, int nextra, Oid *extratypes,
			  Datum *extravals)
{
	Oid			types[6] = {REGCLASSOID, TEXTOID, INT8OID, TEXTOID, TEXTOID};
	Datum		vals[6];
	char		nulls[6] = {' ', sc->pool ? ' ' : 'n', sc->has_rep ? ' ' : 'n',
	sc->tenant ? ' ' : 'n', sc->team ? ' ' : 'n', ' '};
	OwnerContext octx;
	int			nestlevel;
	Jsonb	   *result = NULL;
	int			rc;
	int			i;

	vals[0] = ObjectIdGetDatum(relid);
	vals[1] = PointerGetDatum(sc->pool);
	vals[2] = Int64GetDatum(sc->rep);
	vals[3] = PointerGetDatum(sc->tenant);
	vals[4] = PointerGetDatum(sc->team);
	for (i = 0; i < nextra; i++)
	{
		types[5 + i] = extratypes[i];
		vals[5 + i] = extravals[i];
	}
	/*
	 * With search_path pinned: IS NOT DISTINCT FROM looks its "=" up by name, which a caller's
	 * search_path could otherwise resolve to an operator of its own, run as the extension owner.
	 */
	nestlevel = crmpool_begin_admin(&octx);
	rc = SPI_execute_with_args(sql, 5 + nextra, types, vals, nulls, false, 0);
	crmpool_restore_user(&octx);
	if (rc < 0)
		elog(ERROR, "SPI_execute_with_args failed: %s", SPI_result_code_string(rc));
	/* a statement without RETURNING (the DELETE of clear_rules) has no tuple table */
	if (SPI_processed > 0 && SPI_tuptable != NULL)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			result = copy_jsonb_out(d);
	}
	SPI_finish();
	AtEOXact_GUC(true, nestlevel);
	return result;
}

/*
 * The condition naming one scope's row.  0.1's crmpool.rule_set (a new library under 0.1's
 * SQL) has no tenant and team columns, and 0.1's functions name no tenant or team.
 */
static const char *
scope_condition(void)
{
	return crmpool_has_relation("rep_config") ?
		"rel OPERATOR(pg_catalog.=) $1 AND pool IS NOT DISTINCT FROM $2 "
		"AND rep IS NOT DISTINCT FROM $3 AND tenant IS NOT DISTINCT FROM $4 "
		"AND team IS NOT DISTINCT FROM $5" :
		"rel OPERATOR(pg_catalog.=) $1 AND pool IS NOT DISTINCT FROM $2 "
		"AND rep IS NOT DISTINCT FROM $3";
}

static Datum
set_rules(FunctionCallInfo fcinfo, int tenant_arg, int team_arg)
{
	Oid			relid;
	Jsonb	   *rules;
	ScopeArgs	sc;
	RuleScope	scope;
	ManagedRel *mr;
	Jsonb	   *merged;
	Oid			extratype = JSONBOID;
	Datum		extraval;

	crmpool_require_arg(fcinfo, 0, "rel");
	crmpool_require_arg(fcinfo, 1, "rules");
	relid = PG_GETARG_OID(0);
	rules = PG_GETARG_JSONB_P(1);
	scope_args(fcinfo, 2, 3, tenant_arg, team_arg, &sc);
	crmpool_require_owner(relid);
	mr = managed_rel_get(relid, false);

	rules_parse(rules, &scope);	/* reject bad input before touching anything */
	rules_refuse_level_keys(&scope);
	if (scope.nlevels > 0 && mr->level_att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("table %s has no level column", get_rel_name(relid)),
				 errdetail("Rules under \"levels\" apply to customers by the value of their level column."),
				 errhint("Name the level column with crmpool.manage(..., level_column => ...).")));
	managed_tenant_scope(mr, sc.tenant);

	extraval = JsonbPGetDatum(rules);
	/*
	 * The table's managed_table row is locked as a foreign key's check would (there is none:
	 * sql/parts/70_dump_restore.sql): an unmanage() committed since managed_rel_get() leaves
	 * no row to insert for, one under way is waited for, and none can start before this commits.
	 */
	merged = rule_set_exec(crmpool_has_relation("rep_config") ?
						   "INSERT INTO crmpool.rule_set AS r (rel, pool, rep, rules, tenant, team) "
						   "SELECT $1, $2, $3, $6, $4, $5 FROM crmpool.managed_table m "
						   "WHERE m.rel OPERATOR(pg_catalog.=) $1 FOR KEY SHARE OF m "
						   "ON CONFLICT ON CONSTRAINT rule_set_scope "
						   "DO UPDATE SET rules = r.rules OPERATOR(pg_catalog.||) excluded.rules "
						   "RETURNING r.rules" :
						   "INSERT INTO crmpool.rule_set AS r (rel, pool, rep, rules) "
						   "SELECT $1, $2, $3, $6 FROM crmpool.managed_table m "
						   "WHERE m.rel OPERATOR(pg_catalog.=) $1 FOR KEY SHARE OF m "
						   "ON CONFLICT ON CONSTRAINT rule_set_scope "
						   "DO UPDATE SET rules = r.rules OPERATOR(pg_catalog.||) excluded.rules "
						   "RETURNING r.rules",
						   relid, &sc, 1, &extratype, &extraval);
	if (merged == NULL)
		managed_rel_not_managed(relid);
	rules_parse(merged, &scope);	/* the merged whole must be valid too */
	managed_rel_changed(relid);
	rules_parse(rules, &scope);
	if (rules_touch_due(&scope))
		due_recompute(relid);
	PG_RETURN_JSONB_P(merged);
}

/* 0.1's crmpool.set_rules(regclass, jsonb, text, bigint) */
PG_FUNCTION_INFO_V1(crmpool_set_rules);
Datum
crmpool_set_rules(PG_FUNCTION_ARGS)
{
	return set_rules(fcinfo, -1, -1);
}

/* crmpool.set_rules(rel, rules, pool, rep, tenant, team) */
PG_FUNCTION_INFO_V1(crmpool_set_rules_v2);
Datum
crmpool_set_rules_v2(PG_FUNCTION_ARGS)
{
	return set_rules(fcinfo, 4, 5);
}

static Datum
clear_rules(FunctionCallInfo fcinfo, int tenant_arg, int team_arg)
{
	Oid			relid;
	ScopeArgs	sc;
	Jsonb	   *left;
	bool		due;

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	scope_args(fcinfo, 1, 2, tenant_arg, team_arg, &sc);
	crmpool_require_owner(relid);
	due = managed_rel_get(relid, false)->recycles;

	if (PG_ARGISNULL(3))
	{
		rule_set_exec(psprintf("DELETE FROM crmpool.rule_set WHERE %s", scope_condition()),
					  relid, &sc, 0, NULL, NULL);
		left = NULL;
	}
	else
	{
		Oid			extratype = TEXTARRAYOID;
		Datum		extraval = PG_GETARG_DATUM(3);
		Datum	   *keys;
		bool	   *keynulls;
		int			nkeys;
		int			i;
		bool		touched = false;

		deconstruct_array(PG_GETARG_ARRAYTYPE_P(3), TEXTOID, -1, false, TYPALIGN_INT,
						  &keys, &keynulls, &nkeys);
		for (i = 0; i < nkeys; i++)
			if (!keynulls[i] && rules_key_touches_due(TextDatumGetCString(keys[i])))
				touched = true;
		due = due && touched;

		left = rule_set_exec(psprintf("UPDATE crmpool.rule_set SET rules = rules OPERATOR(pg_catalog.-) $6 "
									  "WHERE %s RETURNING rules", scope_condition()),
							 relid, &sc, 1, &extratype, &extraval);
	}
	managed_rel_changed(relid);
	if (due)
		due_recompute(relid);
	if (left == NULL)
		left = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	PG_RETURN_JSONB_P(left);
}

/* 0.1's crmpool.clear_rules(regclass, text, bigint, text[]) */
PG_FUNCTION_INFO_V1(crmpool_clear_rules);
Datum
crmpool_clear_rules(PG_FUNCTION_ARGS)
{
	return clear_rules(fcinfo, -1, -1);
}

/* crmpool.clear_rules(rel, pool, rep, keys, tenant, team) */
PG_FUNCTION_INFO_V1(crmpool_clear_rules_v2);
Datum
crmpool_clear_rules_v2(PG_FUNCTION_ARGS)
{
	return clear_rules(fcinfo, 4, 5);
}

/*
 * The effective rules for a customer of a tenant in a pool, owned by a rep (whose team is the
 * one crmpool.set_rep() gave it) or by a member of a team with no rules of its own.
 */
static Datum
effective_rules(FunctionCallInfo fcinfo, int tenant_arg, int team_arg)
{
	Oid			relid;
	ScopeArgs	sc;
	ManagedRel *mr;
	char	   *poolstr;
	char	   *tenantstr;
	CrmpoolTenant tenant = CRMPOOL_NO_TENANT;
	const CrmpoolTenant *tenantp = NULL;
	const char *teamstr;
	RuleSet		eff;
	int			nlevels = 0;
	char	  **level_names;
	RuleSet    *level_sets;
	int			i,
				j,
				k;

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	scope_args(fcinfo, 1, 2, tenant_arg, team_arg, &sc);
	crmpool_require_select(relid);
	mr = managed_rel_get(relid, false);
	poolstr = sc.pool ? text_to_cstring(sc.pool) : NULL;
	tenantstr = sc.tenant ? text_to_cstring(sc.tenant) : NULL;
	/* a tenant crmpool has never seen has no tenant scope: NULL, the table's other scopes */
	if (tenantstr != NULL)
	{
		managed_tenant_check_name(mr, tenantstr);
		if (managed_tenant_key(mr, tenantstr, false, &tenant))
			tenantp = &tenant;
	}
	if (sc.team != NULL)
		teamstr = text_to_cstring(sc.team);
	else if (sc.has_rep)
	{
		const RepInfo *ri = managed_rep(mr, tenant, sc.rep);

		teamstr = ri != NULL ? ri->team : NULL;
	}
	else
		teamstr = NULL;

	rules_effective(mr->nscopes, mr->scopes, tenantp, poolstr, teamstr, sc.has_rep, sc.rep,
					NULL, &eff);

	/* every level named in any scope, with its effective rules; at most all of them */
	for (i = 0; i < mr->nscopes; i++)
		nlevels += mr->scopes[i].nlevels;
	level_names = palloc(sizeof(char *) * Max(nlevels, 1));
	nlevels = 0;
	for (i = 0; i < mr->nscopes; i++)
		for (j = 0; j < mr->scopes[i].nlevels; j++)
		{
			for (k = 0; k < nlevels; k++)
				if (strcmp(level_names[k], mr->scopes[i].level_names[j]) == 0)
					break;
			if (k == nlevels)
				level_names[nlevels++] = mr->scopes[i].level_names[j];
		}
	level_sets = palloc(sizeof(RuleSet) * Max(nlevels, 1));
	for (k = 0; k < nlevels; k++)
		rules_effective(mr->nscopes, mr->scopes, tenantp, poolstr, teamstr, sc.has_rep, sc.rep,
						level_names[k], &level_sets[k]);

	PG_RETURN_JSONB_P(rules_jsonb(&eff, nlevels, level_names, level_sets));
}

/* 0.1's crmpool.rules(regclass, text, bigint) */
PG_FUNCTION_INFO_V1(crmpool_rules);
Datum
crmpool_rules(PG_FUNCTION_ARGS)
{
	return effective_rules(fcinfo, -1, -1);
}

/* crmpool.rules(rel, pool, rep, tenant, team) */
PG_FUNCTION_INFO_V1(crmpool_rules_v2);
Datum
crmpool_rules_v2(PG_FUNCTION_ARGS)
{
	return effective_rules(fcinfo, 3, 4);
}
