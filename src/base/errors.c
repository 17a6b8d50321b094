/*
 * errors.c: what crmpool's own errors say beyond their SQLSTATE (crmpool.h lists the codes):
 * the error fields of a refusal, the CONTEXT it shows, refusal names, the hint of CR013.
 */
#include "postgres.h"

#include <stdarg.h>

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"

#include "base/base.h"

/*
 * The mark of a statement crmpool runs for an operation; it adds nothing to a CONTEXT.  Its arg
 * is the statement's text, by which the refusal finds SPI's context entry right above it.
 */
static void
statement_mark(void *arg)
{
}

void
crmpool_statement_begin(ErrorContextCallback *mark, SPIPlanPtr plan)
{
	CachedPlanSource *source = linitial(SPI_plan_get_plan_sources(plan));

	mark->callback = statement_mark;
	mark->arg = (void *) source->query_string;
	mark->previous = error_context_stack;
	error_context_stack = mark;
}

void
crmpool_statement_end(ErrorContextCallback *mark)
{
	error_context_stack = mark->previous;
}

/*
 * Unlink from the error context stack SPI's entry of every marked statement: the one right above
 * the mark, whose argument starts with the statement's text (SPICallbackArg, 14 and later:
 * query first).  A refusal's CONTEXT then names what the caller ran (a PL/pgSQL line, the
 * caller's own statement), never crmpool's internal UPDATE.  Safe for any level: an ERROR
 * unwinds the frames that own these entries, and after a NOTICE each frame still restores the
 * stack to what lay under its entry, which leaves the same chain.
 */
static void
drop_statement_context(void)
{
	ErrorContextCallback **link = &error_context_stack;

	while (*link != NULL)
	{
		ErrorContextCallback *e = *link;
		ErrorContextCallback *below = e->previous;

		if (below != NULL && below->callback == statement_mark && e->arg != NULL &&
			*(const char *const *) e->arg == (const char *) below->arg)
			*link = below;
		else
			link = &e->previous;
	}
}

/* The JSON names of the facts, in RefusalFact's order (docs/reference.md, "Error fields"). */
static const char *const fact_names[] = {
	NULL, "rep", "customer", "owner", "count", "limit", "until", "duplicate_of"
};

/*
 * The error fields of a refusal, set in one place for every refusal: schema_name and table_name
 * (the managed table), column_name (the column the refusal is about: att), constraint_name
 * (rule: the rule key, or the refusal's name when no rule key decides it), datatype_name (the
 * facts as one JSON object with the keys of fact_names in that order; "until" is an ISO 8601
 * time).  Those fields are never translated, and JDBC, psycopg and node-postgres all expose
 * them.  Then arguments: (RefusalFact, int64) pairs, ended by REFUSAL_END.  Returns 0, as
 * errdetail() does, to go in an ereport's list.
 */
int
crmpool_refusal_fields(Oid relid, AttrNumber att, const char *rule,...)
{
	bool		has[lengthof(fact_names)] = {false};
	int64		value[lengthof(fact_names)];
	StringInfoData json;
	va_list		ap;
	RefusalFact f;
	int			i;
	char	   *relname = get_rel_name(relid);

	va_start(ap, rule);
	while ((f = (RefusalFact) va_arg(ap, int)) != REFUSAL_END)
	{
		Assert(f > REFUSAL_END && f < lengthof(fact_names));
		has[f] = true;
		value[f] = va_arg(ap, int64);
	}
	va_end(ap);

	if (relname != NULL)
	{
		err_generic_string(PG_DIAG_SCHEMA_NAME, get_namespace_name(get_rel_namespace(relid)));
		err_generic_string(PG_DIAG_TABLE_NAME, relname);
		if (att != InvalidAttrNumber)
		{
			char	   *column = get_attname(relid, att, true);

			if (column != NULL)
				err_generic_string(PG_DIAG_COLUMN_NAME, column);
		}
	}
	err_generic_string(PG_DIAG_CONSTRAINT_NAME, rule);

	initStringInfo(&json);
	appendStringInfoChar(&json, '{');
	for (i = REFUSAL_REP; i < lengthof(fact_names); i++)
	{
		if (!has[i])
			continue;
		if (json.len > 1)
			appendStringInfoChar(&json, ',');
		appendStringInfo(&json, "\"%s\":", fact_names[i]);
		if (i == REFUSAL_UNTIL)
		{
			char		buf[MAXDATELEN + 1];
			int			utc = 0;

			appendStringInfo(&json, "\"%s\"",
							 JsonEncodeDateTime(buf, TimestampTzGetDatum(value[i]), TIMESTAMPTZOID, &utc));
		}
		else
			appendStringInfo(&json, "%lld", (long long) value[i]);
	}
	appendStringInfoChar(&json, '}');
	err_generic_string(PG_DIAG_DATATYPE_NAME, json.data);
	pfree(json.data);

	drop_statement_context();
	return 0;
}

/* The short name of a refusal (claim_many's outcome), or NULL if sqlerrcode is not one. */
const char *
crmpool_refusal_name(int sqlerrcode)
{
	switch (sqlerrcode)
	{
		case ERRCODE_CRMPOOL_UNKNOWN_CUSTOMER:
			return "unknown_customer";
		case ERRCODE_CRMPOOL_ALREADY_OWNED:
			return "already_owned";
		case ERRCODE_CRMPOOL_NOT_OWNER:
			return "not_owner";
		case ERRCODE_CRMPOOL_LOCKED:
			return "locked";
		case ERRCODE_CRMPOOL_PRIVATE_CAP:
			return "private_cap_reached";
		case ERRCODE_CRMPOOL_LOCK_CAP:
			return "lock_cap_reached";
		case ERRCODE_CRMPOOL_DAILY_LIMIT:
			return "daily_limit_reached";
		case ERRCODE_CRMPOOL_COOLDOWN:
			return "reclaim_cooldown";
		case ERRCODE_CRMPOOL_HOLDBACK:
			return "pool_holdback";
		case ERRCODE_CRMPOOL_DIRECT_WRITE:
			return "direct_write_rejected";
		case ERRCODE_CRMPOOL_NOT_MEMBER:
			return "not_member";
		case ERRCODE_CRMPOOL_HAS_DEAL:
			return "has_deal";
		case ERRCODE_CRMPOOL_INACTIVE_REP:
			return "inactive_rep";
		case ERRCODE_CRMPOOL_DUPLICATE:
			return "duplicate";
		default:
			return NULL;
	}
}

/*
 * The hint of every CR013 error.  0.1's SQL has no crmpool.check() (a new library before ALTER
 * EXTENSION UPDATE): the hint says to update first rather than name a function that is not there.
 */
int
crmpool_repair_hint(Oid relid)
{
	char	   *name = quote_literal_cstr(get_rel_name(relid));
	Oid			argtypes[1] = {REGCLASSOID};
	bool		has_check = OidIsValid(crmpool_function_oid("check", 1, argtypes));

	return errhint("crmpool's triggers on the table were bypassed (DISABLE TRIGGER, session_replication_role = replica). "
				   "%sRun crmpool.check(%s) to list what differs and crmpool.repair(%s) to fix it.",
				   has_check ? "" : "Update the extension first (ALTER EXTENSION crmpool UPDATE), which adds them. ",
				   name, name);
}
