/*
 * rule_api.c: crmpool.set_rules(), clear_rules() and rules(): a table's rules, per scope.
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

static void
check_scope_args(FunctionCallInfo fcinfo, int pool_arg, int rep_arg, text **pool, bool *has_rep,
				 int64 *rep)
{
	*pool = PG_ARGISNULL(pool_arg) ? NULL : PG_GETARG_TEXT_PP(pool_arg);
	*has_rep = !PG_ARGISNULL(rep_arg);
	*rep = *has_rep ? PG_GETARG_INT64(rep_arg) : 0;
	if (*pool != NULL && VARSIZE_ANY_EXHDR(*pool) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pool name must not be empty"),
				 errhint("Pass NULL for rules of the whole table.")));
	if (*pool != NULL)
		crmpool_check_length("pool name", VARDATA_ANY(*pool), VARSIZE_ANY_EXHDR(*pool),
							 CRMPOOL_POOL_MAX_CHARS);
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

/* Run a statement on crmpool.rule_set as the extension owner; returns the scope's rules or NULL. */
static Jsonb *
rule_set_exec(const char *sql, Oid relid, text *pool, bool has_rep, int64 rep, int nextra,
			  Oid *extratypes, Datum *extravals)
{
	Oid			types[5] = {REGCLASSOID, TEXTOID, INT8OID};
	Datum		vals[5];
	char		nulls[5] = {' ', pool ? ' ' : 'n', has_rep ? ' ' : 'n', ' ', ' '};
	OwnerContext octx;
	int			nestlevel;
	Jsonb	   *result = NULL;
	int			rc;
	int			i;

	vals[0] = ObjectIdGetDatum(relid);
	vals[1] = PointerGetDatum(pool);
	vals[2] = Int64GetDatum(rep);
	for (i = 0; i < nextra; i++)
	{
		types[3 + i] = extratypes[i];
		vals[3 + i] = extravals[i];
	}
	/*
	 * With search_path pinned: IS NOT DISTINCT FROM looks its "=" up by name, which a caller's
	 * search_path could otherwise resolve to an operator of its own, run as the extension owner.
	 */
	nestlevel = crmpool_begin_admin(&octx);
	rc = SPI_execute_with_args(sql, 3 + nextra, types, vals, nulls, false, 0);
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

PG_FUNCTION_INFO_V1(crmpool_set_rules);
Datum
crmpool_set_rules(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Jsonb	   *rules;
	text	   *pool;
	bool		has_rep;
	int64		rep;
	RuleScope	scope;
	ManagedRel *mr;
	Jsonb	   *merged;
	Oid			extratype = JSONBOID;
	Datum		extraval;

	crmpool_require_arg(fcinfo, 0, "rel");
	crmpool_require_arg(fcinfo, 1, "rules");
	relid = PG_GETARG_OID(0);
	rules = PG_GETARG_JSONB_P(1);
	check_scope_args(fcinfo, 2, 3, &pool, &has_rep, &rep);
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

	extraval = JsonbPGetDatum(rules);
	/*
	 * The table's managed_table row is locked as a foreign key's check would (there is none:
	 * sql/parts/70_dump_restore.sql): an unmanage() committed since managed_rel_get() leaves
	 * no row to insert for, one under way is waited for, and none can start before this commits.
	 */
	merged = rule_set_exec("INSERT INTO crmpool.rule_set AS r (rel, pool, rep, rules) "
						   "SELECT $1, $2, $3, $4 FROM crmpool.managed_table m "
						   "WHERE m.rel OPERATOR(pg_catalog.=) $1 FOR KEY SHARE OF m "
						   "ON CONFLICT ON CONSTRAINT rule_set_scope "
						   "DO UPDATE SET rules = r.rules OPERATOR(pg_catalog.||) excluded.rules "
						   "RETURNING r.rules",
						   relid, pool, has_rep, rep, 1, &extratype, &extraval);
	if (merged == NULL)
		managed_rel_not_managed(relid);
	rules_parse(merged, &scope);	/* the merged whole must be valid too */
	managed_rel_changed(relid);
	rules_parse(rules, &scope);
	if (rules_touch_due(&scope))
		due_recompute(relid);
	PG_RETURN_JSONB_P(merged);
}

PG_FUNCTION_INFO_V1(crmpool_clear_rules);
Datum
crmpool_clear_rules(PG_FUNCTION_ARGS)
{
	Oid			relid;
	text	   *pool;
	bool		has_rep;
	int64		rep;
	Jsonb	   *left;
	bool		due;

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	check_scope_args(fcinfo, 1, 2, &pool, &has_rep, &rep);
	crmpool_require_owner(relid);
	due = managed_rel_get(relid, false)->recycles;

	if (PG_ARGISNULL(3))
	{
		rule_set_exec("DELETE FROM crmpool.rule_set WHERE rel OPERATOR(pg_catalog.=) $1 "
					  "AND pool IS NOT DISTINCT FROM $2 AND rep IS NOT DISTINCT FROM $3",
					  relid, pool, has_rep, rep, 0, NULL, NULL);
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

		left = rule_set_exec("UPDATE crmpool.rule_set SET rules = rules OPERATOR(pg_catalog.-) $4 "
							 "WHERE rel OPERATOR(pg_catalog.=) $1 "
							 "AND pool IS NOT DISTINCT FROM $2 AND rep IS NOT DISTINCT FROM $3 "
							 "RETURNING rules",
							 relid, pool, has_rep, rep, 1, &extratype, &extraval);
	}
	managed_rel_changed(relid);
	if (due)
		due_recompute(relid);
	if (left == NULL)
		left = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
	PG_RETURN_JSONB_P(left);
}

PG_FUNCTION_INFO_V1(crmpool_rules);
Datum
crmpool_rules(PG_FUNCTION_ARGS)
{
	Oid			relid;
	text	   *pool;
	bool		has_rep;
	int64		rep;
	ManagedRel *mr;
	char	   *poolstr;
	RuleSet		eff;
	int			nlevels = 0;
	char	  **level_names;
	RuleSet    *level_sets;
	int			i,
				j,
				k;

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	check_scope_args(fcinfo, 1, 2, &pool, &has_rep, &rep);
	crmpool_require_select(relid);
	mr = managed_rel_get(relid, false);
	poolstr = pool ? text_to_cstring(pool) : NULL;

	rules_effective(mr->nscopes, mr->scopes, poolstr, has_rep, rep, NULL, &eff);

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
		rules_effective(mr->nscopes, mr->scopes, poolstr, has_rep, rep, level_names[k],
						&level_sets[k]);

	PG_RETURN_JSONB_P(rules_jsonb(&eff, nlevels, level_names, level_sets));
}
