/*
 * registry.c: which tables crmpool manages, cached per backend.
 *
 * The configuration (crmpool.managed_table), rules (crmpool.rule_set) and reps
 * (crmpool.rep_config) of a managed table are read once and kept in a hash keyed by relation
 * OID, with the plans that run on the user's table.  Anything that changes them (manage,
 * unmanage, set_rules, clear_rules, set_rep) sends a relcache invalidation for the managed
 * table, which PostgreSQL delivers to every backend at commit; so does any ALTER TABLE of it.  The callback only marks entries stale: they are rebuilt on next
 * use.  A stale entry may still be in use further up the stack (a claim whose UPDATE fires the
 * trigger, which reloads), so it is retired and freed only when the transaction ends.
 *
 * Also here, for every layer above: whether crmpool's triggers on a table fire
 * (managed_silent_trigger, crmpool_require_triggers).
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"
#include "utils/inval.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "table/table.h"

typedef struct RegistryEntry
{
	Oid			relid;			/* hash key */
	bool		valid;
	ManagedRel *mr;				/* NULL: not managed */
} RegistryEntry;

static HTAB *registry = NULL;
static List *retired = NIL;
/*
 * 0.1's managed_table has neither tenant_column (crmpool_has_tenants) nor the app's lock,
 * owner-since and deleted columns: one update script adds them all.
 */
#define CONFIG_SQL(T) \
	"SELECT key_column, owner_column, pool_column, followup_column, deal_column, level_column" \
	T(", tenant_column, lock_column, owner_since_column, deleted_column, table_id") \
	" FROM crmpool.managed_table WHERE rel OPERATOR(pg_catalog.=) $1"
static const CrmpoolStmt config_stmt = TENANT_STMT(CONFIG_SQL, 1, {REGCLASSOID});
static SPIPlanPtr config_plans[2];
static SPIPlanPtr scopes_plan = NULL;
static SPIPlanPtr scopes_v2_plan = NULL;
static SPIPlanPtr reps_plan = NULL;
static SPIPlanPtr identity_plan = NULL;
static SPIPlanPtr pools_plan = NULL;
static SPIPlanPtr members_plan = NULL;

static void
registry_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS status;
	RegistryEntry *entry;
	ListCell   *lc;

	if (registry == NULL)
		return;
	hash_seq_init(&status, registry);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (relid == InvalidOid || entry->relid == relid)
		{
			entry->valid = false;
			/* a caller may still hold it: its cached triggers go stale all the same */
			if (entry->mr != NULL)
				entry->mr->triggers_known = false;
		}
	foreach(lc, retired)
	{
		ManagedRel *mr = lfirst(lc);

		if (relid == InvalidOid || mr->relid == relid)
			mr->triggers_known = false;
	}
}

static void
free_managed_rel(ManagedRel *mr)
{
	if (mr->set_owner_plan)
		SPI_freeplan(mr->set_owner_plan);
	if (mr->lock_row_plan)
		SPI_freeplan(mr->lock_row_plan);
	if (mr->lock_many_plan)
		SPI_freeplan(mr->lock_many_plan);
	if (mr->release_many_plan)
		SPI_freeplan(mr->release_many_plan);
	if (mr->set_owner_many_plan)
		SPI_freeplan(mr->set_owner_many_plan);
	if (mr->set_owners_plan)
		SPI_freeplan(mr->set_owners_plan);
	if (mr->owned_by_plan)
		SPI_freeplan(mr->owned_by_plan);
	if (mr->locate_plan)
		SPI_freeplan(mr->locate_plan);
	if (mr->followup_plan)
		SPI_freeplan(mr->followup_plan);
	if (mr->lock_due_plan)
		SPI_freeplan(mr->lock_due_plan);
	if (mr->lock_flag_plan)
		SPI_freeplan(mr->lock_flag_plan);
	if (mr->release_to_pools_plan)
		SPI_freeplan(mr->release_to_pools_plan);
	if (mr->move_pool_plan)
		SPI_freeplan(mr->move_pool_plan);
	if (mr->rows_plan)
		SPI_freeplan(mr->rows_plan);
	if (mr->pool_rows_plan)
		SPI_freeplan(mr->pool_rows_plan);
	MemoryContextDelete(mr->mcxt);
}

static void
registry_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;

	if (!crmpool_xact_ended(event))
		return;
	foreach(lc, retired)
		free_managed_rel((ManagedRel *) lfirst(lc));
	list_free(retired);
	retired = NIL;
}

static void
registry_init(void)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(RegistryEntry);
	registry = hash_create("crmpool managed tables", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	CacheRegisterRelcacheCallback(registry_invalidate, (Datum) 0);
	RegisterXactCallback(registry_xact_callback, NULL);
}

static char *
column_or_null(HeapTuple tup, TupleDesc desc, int col)
{
	return SPI_getvalue(tup, desc, col);
}

static AttrNumber
resolve_column(Oid relid, const char *name, const char *role)
{
	AttrNumber	att;

	if (name == NULL)
		return InvalidAttrNumber;
	att = get_attnum(relid, name);
	if (att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("%s column \"%s\" of managed table %s no longer exists",
						role, name, get_rel_name(relid)),
				 errhint("Attach the table again with crmpool.manage() naming its current columns.")));
	return att;
}

/* Column numbers of a text[] of column names. */
static AttrNumber *
resolve_columns(Oid relid, Datum names, const char *role, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	int			nelems;
	int			i;
	AttrNumber *atts;

	deconstruct_array(DatumGetArrayTypeP(names), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &nelems);
	atts = palloc(sizeof(AttrNumber) * Max(nelems, 1));
	for (i = 0; i < nelems; i++)
		atts[i] = resolve_column(relid, TextDatumGetCString(elems[i]), role);
	*n = nelems;
	return atts;
}

/*
 * One of the app's own columns (lock, owner-since, deleted), with its base type.  The event
 * trigger refuses a type crmpool does not read (tables.c), but it is not there while disabled:
 * checked again here, as for the follow-up column.
 */
static AttrNumber
app_column(Oid relid, const char *name, const char *role, Oid *type)
{
	AttrNumber	att = resolve_column(relid, name, role);
	bool		ok;

	if (att == InvalidAttrNumber)
		return att;
	*type = getBaseType(get_atttype(relid, att));
	switch (*type)
	{
		case BOOLOID:
		case INT2OID:
		case INT4OID:
		case INT8OID:
			ok = strcmp(role, "owner-since") != 0;
			break;
		case TIMESTAMPTZOID:
		case TIMESTAMPOID:
			ok = strcmp(role, "lock") != 0;
			break;
		case DATEOID:
			ok = strcmp(role, "deleted") == 0;
			break;
		default:
			ok = false;
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s column \"%s\" of managed table %s has a type crmpool does not read",
						role, name, get_rel_name(relid)),
				 errdetail("It is of type %s.", format_type_be(get_atttype(relid, att))),
				 errhint("Change the column back, or attach the table again with crmpool.manage() mapping another %s column or none.",
						 role)));
	return att;
}

/*
 * Whether crmpool.managed_table has 0.2's columns for the app's lock, owner-since and deleted
 * columns: not under 0.1's SQL (a new library before ALTER EXTENSION crmpool UPDATE), where no
 * table maps them.
 */
bool
managed_app_columns_stored(void)
{
	return get_attnum(crmpool_relid("managed_table"), "deleted_column") != InvalidAttrNumber;
}

/* crmpool.rep_config rows in the order managed_rep() searches them: by rep, then tenant. */
static int
rep_order(const void *a, const void *b)
{
	const RepInfo *x = (const RepInfo *) a,
			   *y = (const RepInfo *) b;

	if (x->rep != y->rep)
		return x->rep < y->rep ? -1 : 1;
	return strcmp(x->tenant, y->tenant);	/* the row for every tenant ("") first */
}

/*
 * Read the pools of the table into mr (in mr->mcxt).  Called by load_managed_rel inside its
 * SPI connection, as the extension owner.  Under 0.1's SQL (a new
 * library before ALTER EXTENSION UPDATE) there is no crmpool.pool: only the default pool,
 * open to every rep.
 */
static void
load_pools(ManagedRel *mr, Datum relid)
{
	Oid			argtypes[1] = {REGCLASSOID};
	uint64		i;
	int			p;
	SPITupleTable *members;
	uint64		nmembers;
	MemoryContext oldcxt;

	mr->npools = 0;
	mr->pools = NULL;
	mr->pool_access = false;
	if (!crmpool_has_relation("pool"))
		return;
	if (pools_plan == NULL)
		pools_plan = crmpool_keep_plan("SELECT tenant, pool FROM crmpool.pool "
									   "WHERE rel OPERATOR(pg_catalog.=) $1 "
									   "ORDER BY tenant, pool COLLATE \"C\" NULLS FIRST",
									   1, argtypes);
	if (members_plan == NULL)
		members_plan = crmpool_keep_plan("SELECT tenant, pool, admin, rep, team, ordinal, joined_at "
										 "FROM crmpool.pool_member WHERE rel OPERATOR(pg_catalog.=) $1 "
										 "ORDER BY tenant, pool COLLATE \"C\" NULLS FIRST, admin, ordinal",
										 1, argtypes);
	if (SPI_execute_plan(members_plan, &relid, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crmpool.pool_member");
	members = SPI_tuptable;
	nmembers = SPI_processed;
	if (SPI_execute_plan(pools_plan, &relid, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crmpool.pool");
	oldcxt = MemoryContextSwitchTo(mr->mcxt);
	mr->npools = (int) SPI_processed;
	mr->pools = palloc0(sizeof(PoolInfo) * Max(mr->npools, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		mr->pools[i].tenant = column_or_null(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		mr->pools[i].pool = column_or_null(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
	}
	/* both lists are in (tenant, pool) order: one merge pass */
	p = 0;
	for (i = 0; i < nmembers; i++)
	{
		HeapTuple	tup = members->vals[i];
		TupleDesc	desc = members->tupdesc;
		char	   *tenant = column_or_null(tup, desc, 1);
		char	   *pool = column_or_null(tup, desc, 2);
		PoolInfo   *pi;
		PoolEntry  *e;
		bool		isnull;

		while (p < mr->npools &&
			   (strcmp(mr->pools[p].tenant, tenant) != 0 ||
				(mr->pools[p].pool == NULL) != (pool == NULL) ||
				(pool != NULL && strcmp(mr->pools[p].pool, pool) != 0)))
			p++;
		if (p == mr->npools)
			elog(ERROR, "crmpool.pool_member names pool \"%s\" that crmpool.pool does not have",
				 pool ? pool : "(default)");
		pi = &mr->pools[p];
		if (pi->entries == NULL)
			pi->entries = palloc0(sizeof(PoolEntry) * nmembers);
		e = &pi->entries[pi->nmembers + pi->nadmins];
		e->admin = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		e->rep = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		e->team = column_or_null(tup, desc, 5);
		e->ordinal = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
		e->joined_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 7, &isnull));
		if (e->admin)
			pi->nadmins++;
		else
			pi->nmembers++;
		mr->pool_access = true;
	}
	MemoryContextSwitchTo(oldcxt);
	/* the tenants of pools as keys (tenants.c), as for reps */
	for (p = 0; p < mr->npools; p++)
	{
		PoolInfo   *pi = &mr->pools[p];

		pi->every = pi->tenant == NULL || pi->tenant[0] == '\0';
		if (!pi->every)
			pi->known = managed_tenant_key(mr, pi->tenant, false, &pi->tenant_key);
	}
}

static ManagedRel *
load_managed_rel(Oid relid)
{
	Oid			argtypes[1] = {REGCLASSOID};
	Datum		args[1];
	OwnerContext octx;
	MemoryContext mcxt;
	MemoryContext oldcxt;
	ManagedRel *mr;
	HeapTuple	tup;
	TupleDesc	desc;
	char	   *key_column,
			   *owner_column,
			   *pool_column,
			   *followup_column,
			   *deal_column,
			   *level_column,
			   *tenant_column,
			   *lock_column,
			   *owner_since_column,
			   *deleted_column;
	CrmpoolTableId table_id;
	uint64		i;
	bool		isvarlena;
	bool		schema_v2;

	/*
	 * Built under the caller's context (so an error frees it) and moved to CacheMemoryContext
	 * only once complete.
	 */
	mcxt = AllocSetContextCreate(CurrentMemoryContext, "crmpool managed table",
								 ALLOCSET_SMALL_SIZES);
	args[0] = ObjectIdGetDatum(relid);
	SPI_connect();
	crmpool_become_owner(&octx);
	/*
	 * 0.1's SQL under this library (before ALTER EXTENSION UPDATE) has no crmpool.rep_config
	 * and no tenant or team scopes: its rules are read as they are stored.
	 */
	schema_v2 = crmpool_has_relation("rep_config");
	if (!schema_v2 && scopes_plan == NULL)
		scopes_plan = crmpool_keep_plan(
										"SELECT NULL::pg_catalog.text, pool, NULL::pg_catalog.text, rep, rules "
										"FROM crmpool.rule_set WHERE rel OPERATOR(pg_catalog.=) $1",
										1, argtypes);
	if (schema_v2 && scopes_v2_plan == NULL)
		scopes_v2_plan = crmpool_keep_plan(
										   "SELECT tenant, pool, team, rep, rules "
										   "FROM crmpool.rule_set WHERE rel OPERATOR(pg_catalog.=) $1",
										   1, argtypes);
	if (schema_v2 && reps_plan == NULL)
		reps_plan = crmpool_keep_plan(
									  "SELECT tenant, rep, team, active, set_at, weight, score FROM crmpool.rep_config "
									  "WHERE rel OPERATOR(pg_catalog.=) $1",
									  1, argtypes);
	if (identity_plan == NULL)
		identity_plan = crmpool_keep_plan(
										  "SELECT name_column, phone_columns::pg_catalog.text[], email_columns::pg_catalog.text[] "
										  "FROM crmpool.identity_config WHERE rel OPERATOR(pg_catalog.=) $1",
										  1, argtypes);

	if (SPI_execute_plan(crmpool_stmt_plan(&config_stmt, config_plans), args, NULL, true, 1) !=
		SPI_OK_SELECT)
		elog(ERROR, "could not read crmpool.managed_table");
	if (SPI_processed == 0)
	{
		crmpool_restore_user(&octx);
		SPI_finish();
		MemoryContextDelete(mcxt);
		return NULL;
	}
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	key_column = column_or_null(tup, desc, 1);
	owner_column = column_or_null(tup, desc, 2);
	pool_column = column_or_null(tup, desc, 3);
	followup_column = column_or_null(tup, desc, 4);
	deal_column = column_or_null(tup, desc, 5);
	level_column = column_or_null(tup, desc, 6);
	if (desc->natts >= 11)
	{
		bool		isnull;

		tenant_column = column_or_null(tup, desc, 7);
		lock_column = column_or_null(tup, desc, 8);
		owner_since_column = column_or_null(tup, desc, 9);
		deleted_column = column_or_null(tup, desc, 10);
		table_id = DatumGetInt32(SPI_getbinval(tup, desc, 11, &isnull));
	}
	else
	{
		tenant_column = lock_column = owner_since_column = deleted_column = NULL;
		table_id = (CrmpoolTableId) relid;	/* 0.1's tables key by the OID (base.h) */
	}

	oldcxt = MemoryContextSwitchTo(mcxt);
	mr = palloc0(sizeof(ManagedRel));
	mr->mcxt = mcxt;
	mr->relid = relid;
	mr->table_id = table_id;
	mr->qualname = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											  get_rel_name(relid));
	/* domains are read as their base types */
	mr->key_att = resolve_column(relid, key_column, "key");
	mr->key_type = getBaseType(get_atttype(relid, mr->key_att));
	mr->owner_att = resolve_column(relid, owner_column, "owner");
	mr->owner_type = getBaseType(get_atttype(relid, mr->owner_att));
	if ((mr->key_type != INT4OID && mr->key_type != INT8OID) ||
		(mr->owner_type != INT4OID && mr->owner_type != INT8OID))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("key and owner columns of managed table %s must be integer or bigint",
						get_rel_name(relid)),
				 errhint("Attach the table again with crmpool.manage() after fixing the column types.")));
	mr->pool_att = resolve_column(relid, pool_column, "pool");
	if (mr->pool_att != InvalidAttrNumber)
	{
		/* checked by manage() already; again, in case the column's type changed since */
		crmpool_require_builtin_output(relid, mr->pool_att, "pool");
		mr->pool_type = get_atttype(relid, mr->pool_att);
		getTypeOutputInfo(mr->pool_type, &mr->pool_out, &isvarlena);
	}
	mr->followup_att = resolve_column(relid, followup_column, "follow-up");
	if (mr->followup_att != InvalidAttrNumber)
	{
		mr->followup_type = getBaseType(get_atttype(relid, mr->followup_att));

		/*
		 * managed_followup() reads the value as one of these three.  The event trigger refuses
		 * any other type (tables.c), but it is not there to refuse it on 0.1's SQL (a new
		 * library before ALTER EXTENSION UPDATE) or while disabled: a bigint would be read as
		 * a timestamp.
		 */
		if (mr->followup_type != TIMESTAMPTZOID && mr->followup_type != TIMESTAMPOID &&
			mr->followup_type != DATEOID)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("follow-up column \"%s\" of managed table %s must be timestamptz, timestamp or date",
							followup_column, get_rel_name(relid)),
					 errdetail("It is of type %s.", format_type_be(get_atttype(relid, mr->followup_att))),
					 errhint("Change the column back, or attach the table again with crmpool.manage() mapping another follow-up column or none.")));
	}
	mr->deal_att = resolve_column(relid, deal_column, "deal");
	if (mr->deal_att != InvalidAttrNumber)
		mr->deal_type = getBaseType(get_atttype(relid, mr->deal_att));
	mr->level_att = resolve_column(relid, level_column, "level");
	if (mr->level_att != InvalidAttrNumber)
	{
		crmpool_require_builtin_output(relid, mr->level_att, "level");
		getTypeOutputInfo(get_atttype(relid, mr->level_att), &mr->level_out, &isvarlena);
	}
	mr->lock_att = app_column(relid, lock_column, "lock", &mr->lock_type);
	mr->owner_since_att = app_column(relid, owner_since_column, "owner-since", &mr->owner_since_type);
	mr->deleted_att = app_column(relid, deleted_column, "deleted", &mr->deleted_type);
	mr->app_columns = mr->lock_att != InvalidAttrNumber ||
		mr->owner_since_att != InvalidAttrNumber || mr->deleted_att != InvalidAttrNumber;
	managed_tenant_init(mr, resolve_column(relid, tenant_column, "tenant"));
	MemoryContextSwitchTo(oldcxt);

	if (SPI_execute_plan(schema_v2 ? scopes_v2_plan : scopes_plan, args, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read crmpool.rule_set");
	oldcxt = MemoryContextSwitchTo(mcxt);
	mr->nscopes = (int) SPI_processed;
	mr->scopes = palloc0(sizeof(RuleScope) * Max(mr->nscopes, 1));
	for (i = 0; i < SPI_processed; i++)
	{
		RuleScope  *scope = &mr->scopes[i];
		bool		isnull;
		Datum		d;

		tup = SPI_tuptable->vals[i];
		desc = SPI_tuptable->tupdesc;
		scope->tenant = column_or_null(tup, desc, 1);
		scope->pool = column_or_null(tup, desc, 2);
		scope->team = column_or_null(tup, desc, 3);
		d = SPI_getbinval(tup, desc, 4, &isnull);
		scope->has_rep = !isnull;
		scope->rep = isnull ? 0 : DatumGetInt64(d);
		d = SPI_getbinval(tup, desc, 5, &isnull);
		rules_parse(DatumGetJsonbP(d), scope);
		mr->team_rules |= (scope->team != NULL);
	}
	rules_sort_scopes(mr->nscopes, mr->scopes);
	mr->recycles = rules_recycle(mr->nscopes, mr->scopes);
	mr->recycles_to_pool = rules_any(mr->nscopes, mr->scopes, RULE_RECYCLE_TO_POOL);
	mr->expires = rules_any(mr->nscopes, mr->scopes, RULE_POOL_EXPIRE);
	mr->auto_distributes = rules_any(mr->nscopes, mr->scopes, RULE_AUTO_DISTRIBUTE);
	MemoryContextSwitchTo(oldcxt);

	if (schema_v2)
	{
		if (SPI_execute_plan(reps_plan, args, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "could not read crmpool.rep_config");
		oldcxt = MemoryContextSwitchTo(mcxt);
		mr->nreps = (int) SPI_processed;
		mr->reps = palloc0(sizeof(RepInfo) * Max(mr->nreps, 1));
		for (i = 0; i < SPI_processed; i++)
		{
			RepInfo    *ri = &mr->reps[i];
			bool		isnull;

			tup = SPI_tuptable->vals[i];
			desc = SPI_tuptable->tupdesc;
			ri->tenant = column_or_null(tup, desc, 1);
			ri->rep = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
			ri->team = column_or_null(tup, desc, 3);
			ri->active = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
			ri->set_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 5, &isnull));
			ri->weight = DatumGetFloat8(SPI_getbinval(tup, desc, 6, &isnull));
			ri->score = DatumGetFloat8(SPI_getbinval(tup, desc, 7, &ri->has_score));
			ri->has_score = !ri->has_score;
		}
		if (mr->nreps > 1)
			qsort(mr->reps, mr->nreps, sizeof(RepInfo), rep_order);
		MemoryContextSwitchTo(oldcxt);
	}
	/* the tenants of scopes and reps as keys (tenants.c); a name never seen keys no row */
	for (i = 0; i < (uint64) mr->nscopes; i++)
		if (mr->scopes[i].tenant != NULL)
			mr->scopes[i].tenant_known = managed_tenant_key(mr, mr->scopes[i].tenant, false,
															&mr->scopes[i].tenant_key);
	for (i = 0; i < (uint64) mr->nreps; i++)
	{
		RepInfo    *ri = &mr->reps[i];

		ri->every = ri->tenant == NULL || ri->tenant[0] == '\0';
		if (!ri->every)
			ri->known = managed_tenant_key(mr, ri->tenant, false, &ri->tenant_key);
	}

	load_pools(mr, args[0]);

	if (SPI_execute_plan(identity_plan, args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "could not read crmpool.identity_config");
	if (SPI_processed > 0)
	{
		bool		isnull;

		tup = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;
		oldcxt = MemoryContextSwitchTo(mcxt);
		mr->has_identity = true;
		mr->name_att = resolve_column(relid, column_or_null(tup, desc, 1), "name");
		mr->phone_atts = resolve_columns(relid, SPI_getbinval(tup, desc, 2, &isnull), "phone",
										 &mr->nphones);
		for (i = 0; i < mr->nphones; i++)
			crmpool_require_builtin_output(relid, mr->phone_atts[i], "phone");
		mr->email_atts = resolve_columns(relid, SPI_getbinval(tup, desc, 3, &isnull), "e-mail",
										 &mr->nemails);
		MemoryContextSwitchTo(oldcxt);
	}

	crmpool_restore_user(&octx);
	SPI_finish();
	MemoryContextSetParent(mcxt, CacheMemoryContext);
	return mr;
}

/*
 * The configuration of a managed table; NULL (or an error unless missing_ok) when the table is
 * not managed.  The result stays valid until the end of the transaction.
 */
ManagedRel *
managed_rel_get(Oid relid, bool missing_ok)
{
	RegistryEntry *entry;
	bool		found;

	if (registry == NULL)
		registry_init();
	entry = hash_search(registry, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->mr = NULL;
	}
	if (!entry->valid)
	{
		ManagedRel *mr;

		if (entry->mr != NULL)
		{
			MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);

			retired = lappend(retired, entry->mr);
			MemoryContextSwitchTo(oldcxt);
			entry->mr = NULL;
		}
		/*
		 * An invalidation that arrives while loading clears valid again.  A load that fails
		 * leaves the entry invalid, so that the next call tries again and raises the real
		 * error, not "not managed".
		 */
		entry->valid = true;
		PG_TRY();
		{
			mr = load_managed_rel(relid);
		}
		PG_CATCH();
		{
			entry = hash_search(registry, &relid, HASH_FIND, NULL);
			entry->valid = false;
			PG_RE_THROW();
		}
		PG_END_TRY();
		entry = hash_search(registry, &relid, HASH_FIND, NULL);
		entry->mr = mr;
	}
	if (entry->mr == NULL && !missing_ok)
		managed_rel_not_managed(relid);
	return entry->mr;
}

/*
 * Open a relation named by a regclass argument.  A regclass made from a number can name a
 * relation that does not exist: that is 42P01, as for a name, not relation_open's XX000.
 */
Relation
crmpool_open_table(Oid relid, LOCKMODE lockmode)
{
	Relation	rel = try_relation_open(relid, lockmode);

	if (rel == NULL)
		crmpool_no_such_table(relid);
	return rel;
}

/*
 * Open a table the caller must own.  Ownership is checked before the lock is queued, so that a
 * role that does not own the table cannot queue a strong lock that stops its writers while it
 * waits (PostgreSQL's RangeVarCallbackOwnsTable does the same), and again once the lock is
 * held, as ownership may have changed meanwhile.
 */
Relation
crmpool_open_owned_table(Oid relid, LOCKMODE lockmode)
{
	Relation	rel;

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		crmpool_no_such_table(relid);
	crmpool_require_owner(relid);
	rel = crmpool_open_table(relid, lockmode);
	crmpool_require_owner(relid);
	return rel;
}

void
crmpool_no_such_table(Oid relid)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_TABLE),
			 errmsg("relation with OID %u does not exist", relid),
			 errhint("The table may have been dropped; crmpool.managed_tables lists the managed tables.")));
}

/* The error for a table crmpool does not manage (42P01 when there is no such table at all). */
void
managed_rel_not_managed(Oid relid)
{
	char	   *name = get_rel_name(relid);

	if (name == NULL)
		crmpool_no_such_table(relid);
	ereport(ERROR,
			(errcode(ERRCODE_CRMPOOL_NOT_MANAGED),
			 errmsg("table %s is not managed by crmpool", name),
			 errhint("Attach it with crmpool.manage()."),
			 crmpool_refusal(relid, InvalidAttrNumber, "not_managed")));
}

/* Tell every backend (at commit) that a managed table's configuration or rules changed. */
void
managed_rel_changed(Oid relid)
{
	CacheInvalidateRelcacheByRelid(relid);
}

/*
 * What crmpool.set_rep() says of a rep for a customer of `tenant` (NULL or "": none): the row
 * set for that tenant, else the one set for every tenant (""); NULL when neither is set.  A
 * binary search of the cached rows: no catalog or table access.
 */
const RepInfo *
managed_rep(ManagedRel *mr, CrmpoolTenant tenant, int64 rep)
{
	int			lo = 0,
				hi = mr->nreps;
	const RepInfo *every = NULL;

	while (lo < hi)
	{
		int			mid = (lo + hi) / 2;

		if (mr->reps[mid].rep < rep)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < mr->nreps && mr->reps[lo].rep == rep; lo++)
	{
		if (mr->reps[lo].every)
			every = &mr->reps[lo];
		else if (mr->reps[lo].known && mr->reps[lo].tenant_key == tenant)
			return &mr->reps[lo];
	}
	return every;
}

/* Whether crmpool.set_rep() set `rep` for any tenant of the table. */
bool
managed_rep_known(ManagedRel *mr, int64 rep)
{
	int			i;

	for (i = 0; i < mr->nreps; i++)
		if (mr->reps[i].rep == rep)
			return true;
	return false;
}

/*
 * A column as text in crmpool's SQL on the user's table, through its type's output function
 * (built in: tables.c refuses others), never a cast: a cast to text may be a user's function,
 * and these statements run as the caller (docs/design.md, "Privileges").
 */
char *
managed_column_text_sql(ManagedRel *mr, AttrNumber att, Oid outfunc)
{
	return psprintf("pg_catalog.textin(pg_catalog.%s(%s))",
					quote_identifier(get_func_name(outfunc)),
					quote_identifier(get_attname(mr->relid, att, false)));
}

/*
 * The effective rules for a customer of `tenant` in `pool`, owned or claimed by `rep`, of level
 * `level` (core/rules.c, rules_effective).  The rep's team is looked up only when some scope
 * names a team: a table without team rules pays nothing for them.
 */
void
managed_rules(ManagedRel *mr, CrmpoolTenant tenant, const char *pool, bool has_rep, int64 rep,
			  const char *level, RuleSet *out)
{
	const char *team = NULL;

	if (mr->team_rules && has_rep)
	{
		const RepInfo *ri = managed_rep(mr, tenant, rep);

		team = ri != NULL ? ri->team : NULL;
	}
	rules_effective(mr->nscopes, mr->scopes, mr->tenant_att != InvalidAttrNumber ? &tenant : NULL,
					pool, team, has_rep, rep, level, out);
}

SPIPlanPtr
managed_set_owner_plan(ManagedRel *mr)
{
	if (mr->set_owner_plan == NULL)
		mr->set_owner_plan =
			crmpool_keep_plan(psprintf("UPDATE ONLY %s SET %s = $2 WHERE %s",
									   mr->qualname,
									   quote_identifier(get_attname(mr->relid, mr->owner_att, false)),
									   managed_customer_sql(mr, NULL, "$1")),
							  2, (Oid[]) {INT8OID, INT8OID});
	return mr->set_owner_plan;
}

SPIPlanPtr
managed_lock_row_plan(ManagedRel *mr)
{
	if (mr->lock_row_plan == NULL)
	{
		const char *owner = quote_identifier(get_attname(mr->relid, mr->owner_att, false));
		const char *pool = mr->pool_att == InvalidAttrNumber ? "NULL" :
			quote_identifier(get_attname(mr->relid, mr->pool_att, false));

		/* the whole row last (alias crmpool_row), for whoever needs more of it */
		mr->lock_row_plan =
			crmpool_keep_plan(psprintf("SELECT %s::pg_catalog.int8, %s, crmpool_row "
									   "FROM ONLY %s crmpool_row "
									   "WHERE %s FOR NO KEY UPDATE",
									   owner, pool, mr->qualname,
									   managed_customer_sql(mr, NULL, "$1")),
							  1, (Oid[]) {INT8OID});
	}
	return mr->lock_row_plan;
}

SPIPlanPtr
managed_lock_many_plan(ManagedRel *mr)
{
	if (mr->lock_many_plan == NULL)
	{
		const char *key = quote_identifier(get_attname(mr->relid, mr->key_att, false));

		/* with each customer's tenant as text, through its type's output function (tenants.c) */
		mr->lock_many_plan =
			crmpool_keep_plan(psprintf("SELECT %s::pg_catalog.int8, %s FROM ONLY %s "
									   "WHERE %s ORDER BY %s "
									   "FOR NO KEY UPDATE",
									   key,
									   mr->tenant_att != InvalidAttrNumber ?
									   managed_column_text_sql(mr, mr->tenant_att, mr->tenant_out) :
									   "NULL::pg_catalog.text",
									   mr->qualname, managed_customer_sql(mr, NULL, "ANY ($1)"), key),
							  1, (Oid[]) {INT8ARRAYOID});
	}
	return mr->lock_many_plan;
}

/* UPDATE ONLY t SET owner = <value> WHERE key = ANY($1), kept in *slot */
static SPIPlanPtr
owner_many_plan(ManagedRel *mr, SPIPlanPtr *slot, const char *value, int nargs)
{
	if (*slot == NULL)
		*slot = crmpool_keep_plan(psprintf("UPDATE ONLY %s SET %s = %s WHERE %s",
										   mr->qualname,
										   quote_identifier(get_attname(mr->relid, mr->owner_att, false)),
										   value, managed_customer_sql(mr, NULL, "ANY ($1)")),
								  nargs, (Oid[]) {INT8ARRAYOID, INT8OID});
	return *slot;
}

/* The customers $1 (bigint[]) to the pool: recycling's batches. */
SPIPlanPtr
managed_release_many_plan(ManagedRel *mr)
{
	return owner_many_plan(mr, &mr->release_many_plan, "NULL", 1);
}

/* The pool column's value $n (text) as the column's type, in a plan's text. */
static char *
pool_value_sql(ManagedRel *mr, int n)
{
	return psprintf("$%d::pg_catalog.text::%s", n, format_type_be_qualified(mr->pool_type));
}

/*
 * The customers $1 (bigint[]) to the pool, each into the pool $2[i] (text[]; NULL: the pool
 * it is in): release(..., to_pool) and recycling under recycle_to_pool.  One UPDATE, so that
 * each customer's release is one change with one event.
 */
SPIPlanPtr
managed_release_to_pools_plan(ManagedRel *mr)
{
	if (mr->release_to_pools_plan == NULL)
	{
		const char *pool = quote_identifier(get_attname(mr->relid, mr->pool_att, false));

		mr->release_to_pools_plan =
			crmpool_keep_plan(psprintf("UPDATE ONLY %s t SET %s = NULL, %s = CASE WHEN u.p IS NULL THEN t.%s ELSE %s END "
									   "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS u(k, p) "
									   "WHERE %s",
									   mr->qualname,
									   quote_identifier(get_attname(mr->relid, mr->owner_att, false)),
									   pool, pool,
									   psprintf("u.p::%s", format_type_be_qualified(mr->pool_type)),
									   managed_customer_sql(mr, "t", "u.k")),
							  2, (Oid[]) {INT8ARRAYOID, TEXTARRAYOID});
	}
	return mr->release_to_pools_plan;
}

/*
 * Move the pool customers among $1 (bigint[]) to the pool $2 (text; NULL: the default pool):
 * crmpool.move() and pool_expire.  Owned customers and those already there are left as they
 * are; the UPDATE waits for a row another transaction holds and checks the row it then finds.
 * Returns each moved customer's key and tenant (as text; '' without a tenant column).
 */
SPIPlanPtr
managed_move_pool_plan(ManagedRel *mr)
{
	if (mr->move_pool_plan == NULL)
	{
		const char *pool = quote_identifier(get_attname(mr->relid, mr->pool_att, false));
		const char *key = quote_identifier(get_attname(mr->relid, mr->key_att, false));

		mr->move_pool_plan =
			crmpool_keep_plan(psprintf("UPDATE ONLY %s SET %s = %s WHERE %s "
									   "AND %s IS NULL AND CASE WHEN $2 IS NULL THEN %s IS NOT NULL "
									   "ELSE (%s OPERATOR(pg_catalog.=) %s) IS NOT TRUE END "
									   "RETURNING %s::pg_catalog.int8, %s",
									   mr->qualname, pool, pool_value_sql(mr, 2),
									   managed_customer_sql(mr, NULL, "ANY ($1)"),
									   quote_identifier(get_attname(mr->relid, mr->owner_att, false)),
									   pool, pool, pool_value_sql(mr, 2), key,
									   /* the tenant's text as its type's output function makes it (tenants.c) */
									   mr->tenant_att != InvalidAttrNumber ?
									   managed_column_text_sql(mr, mr->tenant_att, mr->tenant_out) :
									   "''::pg_catalog.text"),
							  2, (Oid[]) {INT8ARRAYOID, TEXTOID});
	}
	return mr->move_pool_plan;
}

/* The rows (whole, as crmpool_row) of the customers $1 (bigint[]): recycle_to_pool. */
SPIPlanPtr
managed_rows_plan(ManagedRel *mr)
{
	if (mr->rows_plan == NULL)
		mr->rows_plan =
			crmpool_keep_plan(psprintf("SELECT crmpool_row FROM ONLY %s crmpool_row WHERE %s",
									   mr->qualname, managed_customer_sql(mr, NULL, "ANY ($1)")),
							  1, (Oid[]) {INT8ARRAYOID});
	return mr->rows_plan;
}

/*
 * Pool cleaning's batch: the next $2 pool customers with a key above $1 that no other
 * transaction holds, locked, in key order, as whole rows (crmpool_row).
 */
SPIPlanPtr
managed_pool_rows_plan(ManagedRel *mr)
{
	if (mr->pool_rows_plan == NULL)
	{
		const char *key = quote_identifier(get_attname(mr->relid, mr->key_att, false));
		const char *after = psprintf("%s OPERATOR(pg_catalog.>) $1 ORDER BY %s", key, key);

		/*
		 * ids repeat across the tenants of a table keyed (tenant, id): pages go by (id, tenant),
		 * after the last row's tenant $3 (its text; NULL on the first page), so that a page
		 * ending inside an id does not skip that id's other tenants
		 */
		if (mr->tenant_in_key)
		{
			const char *tenant = quote_identifier(get_attname(mr->relid, mr->tenant_att, false));

			after = psprintf("(%s, %s) OPERATOR(pg_catalog.>) ($1, $3::%s) ORDER BY %s, %s",
							 key, tenant, format_type_be_qualified(mr->tenant_type), key, tenant);
		}
		mr->pool_rows_plan =
			crmpool_keep_plan(psprintf("SELECT crmpool_row FROM ONLY %s crmpool_row "
									   "WHERE %s IS NULL AND %s LIMIT $2 "
									   "FOR NO KEY UPDATE SKIP LOCKED",
									   mr->qualname,
									   quote_identifier(get_attname(mr->relid, mr->owner_att, false)),
									   after),
							  mr->tenant_in_key ? 3 : 2, (Oid[]) {INT8OID, INT8OID, TEXTOID});
	}
	return mr->pool_rows_plan;
}

/* The customers $1 (bigint[]) to rep $2 (bigint): hand_over. */
SPIPlanPtr
managed_set_owner_many_plan(ManagedRel *mr)
{
	return owner_many_plan(mr, &mr->set_owner_many_plan, "$2", 2);
}

/*
 * The customers $1 (bigint[]) each to its rep $2[i] (bigint[]): one UPDATE for a whole
 * distribution.  Planned for each run with the arrays' sizes known (a custom plan): a few
 * customers are found through the key's index, most of a pool by one pass over the table that
 * joins them by hash, as a set-based UPDATE would; a generic plan would guess a few rows and
 * descend the index once per customer.
 */
SPIPlanPtr
managed_set_owners_plan(ManagedRel *mr)
{
	if (mr->set_owners_plan == NULL)
		mr->set_owners_plan =
			crmpool_keep_plan_options(psprintf("UPDATE ONLY %s t SET %s = u.r "
											   "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2)) AS u(k, r) "
											   "WHERE %s",
											   mr->qualname,
											   quote_identifier(get_attname(mr->relid, mr->owner_att, false)),
											   managed_customer_sql(mr, "t", "u.k")),
									  2, (Oid[]) {INT8ARRAYOID, INT8ARRAYOID}, CURSOR_OPT_CUSTOM_PLAN);
	return mr->set_owners_plan;
}

/* A rep's customers, locked in key order (hand_over). */
SPIPlanPtr
managed_owned_by_plan(ManagedRel *mr)
{
	if (mr->owned_by_plan == NULL)
	{
		const char *key = quote_identifier(get_attname(mr->relid, mr->key_att, false));

		/*
		 * Second column: the tenant (NULL for a table without a tenant column).  A soft-deleted
		 * row owns nothing (managed_owner), whatever its owner column still says.
		 */
		mr->owned_by_plan =
			crmpool_keep_plan(psprintf("SELECT %s::pg_catalog.int8, %s FROM ONLY %s WHERE %s OPERATOR(pg_catalog.=) $1%s%s "
									   "ORDER BY %s FOR NO KEY UPDATE",
									   key,
									   mr->tenant_att == InvalidAttrNumber ? "NULL" :
									   quote_identifier(get_attname(mr->relid, mr->tenant_att, false)),
									   mr->qualname,
									   quote_identifier(get_attname(mr->relid, mr->owner_att, false)),
									   /* hand_over under crmpool.tenant: that tenant's customers */
									   mr->tenant_att == InvalidAttrNumber ? "" :
									   psprintf(" AND %s", managed_scope_sql(mr, NULL)),
									   mr->deleted_att == InvalidAttrNumber ? "" :
									   psprintf(" AND NOT %s",
												managed_flag_sql(mr->deleted_type,
																 quote_identifier(get_attname(mr->relid, mr->deleted_att, false)),
																 true)),
									   key),
							  1, (Oid[]) {INT8OID});
	}
	return mr->owned_by_plan;
}

/*
 * Where a customer sits: its owner (if any) and pool (as text, NULL for the default pool), read
 * as the current user, never as the extension owner: a reader's row-level security applies, and
 * the pool is converted in C by its (built-in) output function, not by a cast.  False if the
 * customer does not exist or is not visible.  Must be called inside SPI; pool is palloc'd in
 * the caller's memory (SPI_palloc).
 */
bool
managed_locate(ManagedRel *mr, int64 customer, bool *has_owner, int64 *owner, char **pool)
{
	bool		isnull;
	Datum		d;

	if (mr->locate_plan == NULL)
	{
		const char *ownercol = quote_identifier(get_attname(mr->relid, mr->owner_att, false));
		const char *poolcol = mr->pool_att == InvalidAttrNumber ? "NULL" :
			quote_identifier(get_attname(mr->relid, mr->pool_att, false));

		mr->locate_plan =
			crmpool_keep_plan(psprintf("SELECT %s::pg_catalog.int8, %s FROM ONLY %s WHERE %s",
									   ownercol, poolcol, mr->qualname,
									   managed_customer_sql(mr, NULL, "$1")),
							  1, (Oid[]) {INT8OID});
	}
	if (SPI_execute_plan(mr->locate_plan, (Datum[]) {Int64GetDatum(customer)}, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "crmpool could not read customer %lld", (long long) customer);
	if (SPI_processed == 0)
		return false;
	*owner = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*has_owner = !isnull;
	*pool = NULL;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (!isnull && mr->pool_att != InvalidAttrNumber)
	{
		char	   *p = OidOutputFunctionCall(mr->pool_out, d);

		*pool = SPI_palloc(strlen(p) + 1);
		strcpy(*pool, p);
	}
	return true;
}

/*
 * Row-level security on a reader's view of the managed table.  A reader has SELECT on the
 * table (crmpool_require_select); when a policy applies to it, crmpool shows only the customers
 * the reader's own SELECT would show.  Sets visible[i] for each of customers[0..n-1]; runs as
 * the current user (never inside a ledger session).
 */
bool
managed_rls_applies(ManagedRel *mr)
{
	return check_enable_rls(mr->relid, InvalidOid, true) == RLS_ENABLED;
}

static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a,
				y = *(const int64 *) b;

	return x < y ? -1 : x > y ? 1 : 0;
}

void
managed_visible(ManagedRel *mr, const int64 *customers, int n, bool *visible)
{
	Datum	   *elems;
	int64	   *seen;
	int			nseen;
	int			i;

	if (n == 0)
		return;
	if (!managed_rls_applies(mr))
	{
		for (i = 0; i < n; i++)
			visible[i] = true;
		return;
	}
	elems = palloc(sizeof(Datum) * n);
	for (i = 0; i < n; i++)
		elems[i] = Int64GetDatum(customers[i]);
	SPI_connect();
	{
		const char *key = quote_identifier(get_attname(mr->relid, mr->key_att, false));
		Oid			types[1] = {INT8ARRAYOID};
		Datum		values[1] = {PointerGetDatum(construct_array(elems, n, INT8OID, 8,
																 FLOAT8PASSBYVAL, TYPALIGN_DOUBLE))};
		uint64		k;

		if (SPI_execute_with_args(psprintf("SELECT %s::pg_catalog.int8 FROM ONLY %s WHERE %s",
										   key, mr->qualname, managed_customer_sql(mr, NULL, "ANY ($1)")),
								  1, types, values, NULL, true, 0) != SPI_OK_SELECT)
			elog(ERROR, "crmpool could not read table %s", get_rel_name(mr->relid));
		nseen = (int) SPI_processed;
		seen = palloc(sizeof(int64) * Max(nseen, 1));
		for (k = 0; k < SPI_processed; k++)
		{
			bool		isnull;

			seen[k] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 1, &isnull));
		}
	}
	qsort(seen, nseen, sizeof(int64), int64_cmp);
	for (i = 0; i < n; i++)
		visible[i] = bsearch(&customers[i], seen, nseen, sizeof(int64), int64_cmp) != NULL;
	SPI_finish();
}

/* VisibleFilter's filter: one managed_visible() per table and customer column. */
void
managed_filter_visible(HeapTuple *rows, int n, TupleDesc desc, bool *keep, void *arg)
{
	VisibleFilter *f = arg;
	int64	   *customers = palloc(sizeof(int64) * n);
	bool	   *visible = palloc(sizeof(bool) * n);
	bool	   *done = palloc0(sizeof(bool) * n);
	int			i,
				c;

	for (i = 0; i < n; i++)
	{
		bool		isnull;
		Oid			relid = f->relid;
		ManagedRel *mr;
		int			m = 0;
		int			k;

		if (done[i])
			continue;
		if (!OidIsValid(relid))
			relid = DatumGetObjectId(SPI_getbinval(rows[i], desc, f->relcol, &isnull));
		mr = managed_rel_get(relid, true);
		if (mr == NULL || !managed_rls_applies(mr))
		{
			for (k = i; k < n; k++)
				if (OidIsValid(f->relid) ||
					DatumGetObjectId(SPI_getbinval(rows[k], desc, f->relcol, &isnull)) == relid)
					done[k] = true;
			continue;
		}
		for (c = 0; c < f->ncols; c++)
		{
			m = 0;
			for (k = i; k < n; k++)
				if (OidIsValid(f->relid) ||
					DatumGetObjectId(SPI_getbinval(rows[k], desc, f->relcol, &isnull)) == relid)
					customers[m++] = DatumGetInt64(SPI_getbinval(rows[k], desc, f->cols[c], &isnull));
			managed_visible(mr, customers, m, visible);
			m = 0;
			for (k = i; k < n; k++)
				if (OidIsValid(f->relid) ||
					DatumGetObjectId(SPI_getbinval(rows[k], desc, f->relcol, &isnull)) == relid)
				{
					keep[k] = keep[k] && visible[m++];
					done[k] = true;
				}
		}
	}
}

/*
 * VisibleFilter's CrmpoolRowMap, for the readers that list the customers of every tenant of a
 * table (due(), recycle_warnings(), duplicate_warnings()): the plan's column f->tenantcol holds
 * crmpool's tenant key, and the same column of the result shows the app's tenant (text; null for
 * a table without a tenant column, or one unmanaged since).  A reader's 0.1 definition, with
 * fewer columns, shows none.
 */
void
managed_tenant_column(HeapTuple row, TupleDesc desc, Datum *values, bool *nulls, int natts,
					  void *arg)
{
	VisibleFilter *f = arg;
	int			c = f->tenantcol - 1;
	Oid			relid = f->relid;
	ManagedRel *mr;
	bool		isnull;

	if (f->tenantcol == 0 || c >= natts || nulls[c])
		return;
	if (!OidIsValid(relid))
		relid = DatumGetObjectId(SPI_getbinval(row, desc, f->relcol, &isnull));
	mr = managed_rel_get(relid, true);
	if (mr == NULL)
		nulls[c] = true;
	else
		values[c] = managed_tenant_datum_out(mr, DatumGetInt64(values[c]), &nulls[c]);
}

int64
managed_int_value(Oid type, Datum d)
{
	return type == INT4OID ? (int64) DatumGetInt32(d) : DatumGetInt64(d);
}

/* The owner column as it is, soft-deleted or not. */
bool
managed_raw_owner(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, int64 *owner)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, mr->owner_att, desc, &isnull);

	if (!isnull)
		*owner = managed_int_value(mr->owner_type, d);
	return !isnull;
}

/*
 * The customer's owner as crmpool counts it: the owner column, unless the row is soft-deleted
 * (a deleted row counts nowhere: docs/reference.md, "The app's own columns").  Every reader of
 * ownership (the trigger, due times, check and repair) goes through here.
 */
bool
managed_owner(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, int64 *owner)
{
	if (mr->deleted_att != InvalidAttrNumber && managed_deleted(mr, tuple, desc))
		return false;
	return managed_raw_owner(mr, tuple, desc, owner);
}

/* A flag column's value: a boolean true, a number not 0, a time (or date) not null. */
static bool
flag_value(Oid type, Datum d)
{
	switch (type)
	{
		case BOOLOID:
			return DatumGetBool(d);
		case INT2OID:
			return DatumGetInt16(d) != 0;
		case INT4OID:
			return DatumGetInt32(d) != 0;
		case INT8OID:
			return DatumGetInt64(d) != 0;
		default:
			return true;
	}
}

static bool
flag_column(HeapTuple tuple, TupleDesc desc, AttrNumber att, Oid type)
{
	bool		isnull;
	Datum		d;

	if (att == InvalidAttrNumber)
		return false;
	d = heap_getattr(tuple, att, desc, &isnull);
	return !isnull && flag_value(type, d);
}

/* Whether the row is soft-deleted (false when the table maps no deleted column). */
bool
managed_deleted(ManagedRel *mr, HeapTuple tuple, TupleDesc desc)
{
	return flag_column(tuple, desc, mr->deleted_att, mr->deleted_type);
}

/*
 * A soft-deleted customer cannot gain an owner, and crmpool's functions do not act on it:
 * CR002, as for a customer that does not exist.
 */
void
managed_refuse_deleted(ManagedRel *mr, int64 customer)
{
	ereport(ERROR,
			(errcode(ERRCODE_CRMPOOL_UNKNOWN_CUSTOMER),
			 errmsg("customer %lld of table %s is deleted", (long long) customer,
					get_rel_name(mr->relid)),
			 errdetail("Column \"%s\" marks customer %lld as deleted; a deleted customer cannot be claimed, locked or gain an owner.",
					   get_attname(mr->relid, mr->deleted_att, false), (long long) customer),
			 errhint("Undelete the customer first: it goes back to its pool."),
			 crmpool_refusal(mr->relid, mr->deleted_att, "deleted", ERR_CUSTOMER(customer))));
}

/* Whether the app's lock flag is set (false when the table maps no lock column). */
bool
managed_lock_flag(ManagedRel *mr, HeapTuple tuple, TupleDesc desc)
{
	return flag_column(tuple, desc, mr->lock_att, mr->lock_type);
}

/* The value crmpool writes into a lock column: true / 1, or false / 0. */
Datum
managed_flag_datum(Oid type, bool set)
{
	switch (type)
	{
		case BOOLOID:
			return BoolGetDatum(set);
		case INT2OID:
			return Int16GetDatum(set ? 1 : 0);
		case INT4OID:
			return Int32GetDatum(set ? 1 : 0);
		default:
			return Int64GetDatum(set ? 1 : 0);
	}
}

/*
 * The same test as SQL over a (quoted) column, for the statements that read a whole table
 * (manage's adoption): deleted marks a time by not null, lock flags have no time type.
 */
char *
managed_flag_sql(Oid type, const char *column, bool deleted)
{
	switch (type)
	{
		case BOOLOID:
			return psprintf("(%s IS TRUE)", column);
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return psprintf("(%s IS NOT NULL AND %s OPERATOR(pg_catalog.<>) 0)", column, column);
		default:
			Assert(deleted);
			return psprintf("(%s IS NOT NULL)", column);
	}
}

/* A time column's value as timestamptz; a timestamp or date is read in crmpool.timezone. */
TimestampTz
managed_time_value(Oid type, Datum d)
{
	if (type == DATEOID)
		return crmpool_from_local(DatumGetTimestamp(DirectFunctionCall1(date_timestamp, d)));
	if (type == TIMESTAMPOID)
		return crmpool_from_local(DatumGetTimestamp(d));
	return DatumGetTimestampTz(d);
}

int64
managed_key(ManagedRel *mr, HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, mr->key_att, desc, &isnull);

	if (isnull)
		elog(ERROR, "managed row has a null key");
	return managed_int_value(mr->key_type, d);
}

static char *
column_text(HeapTuple tuple, TupleDesc desc, AttrNumber att, Oid outfn)
{
	bool		isnull;
	Datum		d;

	if (att == InvalidAttrNumber)
		return NULL;
	d = heap_getattr(tuple, att, desc, &isnull);
	if (isnull)
		return NULL;
	return OidOutputFunctionCall(outfn, d);
}

/* The customer's pool as text; NULL for the default pool. */
char *
managed_pool_text(ManagedRel *mr, HeapTuple tuple, TupleDesc desc)
{
	return column_text(tuple, desc, mr->pool_att, mr->pool_out);
}

/* The customer's level as text; NULL when the table has no level column or the level is null. */
char *
managed_level_text(ManagedRel *mr, HeapTuple tuple, TupleDesc desc)
{
	return column_text(tuple, desc, mr->level_att, mr->level_out);
}

/* What crmpool writes into a time column of type `type` for the moment at (the inverse). */
Datum
managed_time_datum(Oid type, TimestampTz at)
{
	if (type == DATEOID)
		return DirectFunctionCall1(timestamp_date, TimestampGetDatum(crmpool_to_local(at)));
	if (type == TIMESTAMPOID)
		return TimestampGetDatum(crmpool_to_local(at));
	return TimestampTzGetDatum(at);
}

/* The follow-up column's value as timestamptz; false when there is none. */
bool
managed_followup(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, TimestampTz *at)
{
	bool		isnull;
	Datum		d;

	if (mr->followup_att == InvalidAttrNumber)
		return false;
	d = heap_getattr(tuple, mr->followup_att, desc, &isnull);
	if (isnull)
		return false;
	*at = managed_time_value(mr->followup_type, d);
	return true;
}

/*
 * A whole-row value of a managed table (a column "crmpool_row" of a query) as a tuple that the
 * table's own descriptor reads, attribute numbers and all.  *tuple points into the value.
 */
void
managed_row_tuple(Datum row, HeapTupleData *tuple)
{
	HeapTupleHeader th = DatumGetHeapTupleHeader(row);

	tuple->t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&tuple->t_self);
	tuple->t_tableOid = InvalidOid;
	tuple->t_data = th;
}

/* The same, copied into the current memory context with a copy of its descriptor. */
HeapTuple
managed_row_from_datum(Datum row, TupleDesc *desc)
{
	HeapTupleData tmp;

	managed_row_tuple(row, &tmp);
	*desc = lookup_rowtype_tupdesc_copy(HeapTupleHeaderGetTypeId(tmp.t_data),
										HeapTupleHeaderGetTypMod(tmp.t_data));
	return heap_copytuple(&tmp);
}

/* Whether the customer has a deal: the deal column is set (and, if boolean, true). */
bool
managed_has_deal(ManagedRel *mr, HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	Datum		d;

	if (mr->deal_att == InvalidAttrNumber)
		return false;
	d = heap_getattr(tuple, mr->deal_att, desc, &isnull);
	if (isnull)
		return false;
	if (mr->deal_type == BOOLOID)
		return DatumGetBool(d);
	return true;
}

/*
 * crmpool's triggers on the table, and whether each fires: this_session, in this session
 * (enabled (origin) triggers do not under session_replication_role = replica, ENABLE REPLICA
 * ones only then, ENABLE ALWAYS ones always; only the ownership triggers, which crmpool's
 * functions rely on); else for the table's ordinary writers (also the identity trigger, when
 * identity columns are named).  Returns the first that does not fire (NULL: all do), and why in
 * *why; a missing one counts as not firing.
 */
const char *
managed_silent_trigger(ManagedRel *mr, bool this_session, LOCKMODE lockmode, const char **why)
{
	static const char *const names[] = {TRIGGER_ROW, TRIGGER_UPDATE, TRIGGER_TRUNCATE,
	TRIGGER_STATEMENT, TRIGGER_BEFORE, TRIGGER_IDENTITY};
	bool		replica = this_session && SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA;
	int			ntriggers = lengthof(names);
	int			i,
				j;

	StaticAssertStmt(lengthof(names) == lengthof(mr->tgenabled), "one tgenabled per trigger");

	/*
	 * The triggers' states change only with the table's relcache entry, whose invalidation
	 * clears triggers_known; the lock takes in the invalidations committed since, as opening
	 * the table did.  session_replication_role is a setting, not a relcache event: applied
	 * below on every call.  The caller names the lock its own statement on the table will
	 * take (an UPDATE's RowExclusiveLock), which that statement then finds already held.
	 */
	LockRelationOid(mr->relid, lockmode);
	if (!mr->triggers_known)
	{
		Relation	rel = relation_open(mr->relid, AccessShareLock);

		for (j = 0; j < lengthof(names); j++)
		{
			mr->tgenabled[j] = '\0';
			for (i = 0; rel->trigdesc != NULL && i < rel->trigdesc->numtriggers; i++)
				if (strcmp(rel->trigdesc->triggers[i].tgname, names[j]) == 0)
					mr->tgenabled[j] = rel->trigdesc->triggers[i].tgenabled;
		}
		relation_close(rel, NoLock);
		mr->triggers_known = true;
	}

	/* the identity trigger (last) keeps the identity keys, when identity columns are named */
	if (this_session || (mr->name_att == InvalidAttrNumber && mr->nphones + mr->nemails == 0))
		ntriggers--;
	for (j = 0; j < ntriggers; j++)
	{
		char		tgenabled = mr->tgenabled[j];

		/* the BEFORE trigger is there only for a table that maps one of the app's columns */
		if (strcmp(names[j], TRIGGER_BEFORE) == 0 && !mr->app_columns)
			continue;

		if (tgenabled == '\0')
			*why = "missing";
		else if (tgenabled == TRIGGER_DISABLED)
			*why = "disabled";
		else if (tgenabled == TRIGGER_FIRES_ON_ORIGIN && replica)
			*why = "enabled on origin only, and session_replication_role is replica";
		else if (tgenabled == TRIGGER_FIRES_ON_REPLICA && !replica)
			*why = "enabled on replica only";
		else
			continue;
		return names[j];
	}
	return NULL;
}

/*
 * crmpool's functions change ownership through the table's triggers: refuse to run when they
 * would not fire (a claim's UPDATE would go unchecked and unrecorded, and the function would
 * then report a misleading refusal), rather than let the bookkeeping drift.
 */
void
crmpool_require_triggers(ManagedRel *mr, LOCKMODE lockmode)
{
	const char *why;
	const char *silent = managed_silent_trigger(mr, true, lockmode, &why);

	if (silent != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("crmpool's triggers on table %s do not fire in this session",
						get_rel_name(mr->relid)),
				 errdetail("Trigger %s is %s.", silent, why),
				 errhint("Enable crmpool's triggers (ALTER TABLE %s ENABLE TRIGGER ALL) and use crmpool's functions with session_replication_role = origin.",
						 mr->qualname)));
}

/*
 * Trigger AFTER DELETE ON crmpool.managed_table (sql/parts/70_dump_restore.sql): a table's rules,
 * identity columns, reps, pools and every state row (by its table_id) go with its row, as 0.1's
 * ON DELETE CASCADE foreign keys took the first two, and
 * with their snapshots (ri_triggers.c, ri_PerformCheck): under REPEATABLE READ or SERIALIZABLE
 * the rows are found with the latest snapshot, and a row the transaction's own snapshot does not
 * see (a set_rules() or set_identity() that committed after it was taken) is a serialization
 * failure.  Deleting only what the old snapshot sees would leave that row behind for good.
 */
static const CrmpoolStmt forget_stmts[] = {
	{"DELETE FROM crmpool.rule_set WHERE rel OPERATOR(pg_catalog.=) $1", 1, {REGCLASSOID}},
	{"DELETE FROM crmpool.identity_config WHERE rel OPERATOR(pg_catalog.=) $1", 1, {REGCLASSOID}},
	{"DELETE FROM crmpool.rep_config WHERE rel OPERATOR(pg_catalog.=) $1", 1, {REGCLASSOID}},
	{"DELETE FROM crmpool.pool_order WHERE rel OPERATOR(pg_catalog.=) $1", 1, {REGCLASSOID}},
	{"DELETE FROM crmpool.pool WHERE rel OPERATOR(pg_catalog.=) $1", 1, {REGCLASSOID}},
	{"DELETE FROM crmpool.pool_member WHERE rel OPERATOR(pg_catalog.=) $1", 1, {REGCLASSOID}},
	/*
	 * Every state row, keyed by the table's id ($2): unmanage() deleted most already, a DROP
	 * TABLE (crmpool.forget_dropped_tables) none.  An id is never given again, so a row left
	 * behind could never be reached.
	 */
#define FORGET_STATE(table) \
	{"DELETE FROM crmpool." table " WHERE table_id OPERATOR(pg_catalog.=) $2", 2, {REGCLASSOID, INT4OID}}
	FORGET_STATE("tenant_name"),
	FORGET_STATE("distribute_cursor"),
	FORGET_STATE("distribute_log"),
	FORGET_STATE("customer_lock"),
	FORGET_STATE("recycle_due"),
	FORGET_STATE("recycle_warning"),
	FORGET_STATE("followup"),
	FORGET_STATE("ownership_event"),
	FORGET_STATE("rep_counter"),
	FORGET_STATE("identity_key"),
	FORGET_STATE("identity_name"),
	FORGET_STATE("duplicate_warning"),
};
static SPIPlanPtr forget_plans[lengthof(forget_stmts)][2];

/* crmpool.managed_table's columns rel and table_id (sql/parts/10_core.sql) */
#define MANAGED_TABLE_REL 1
#define MANAGED_TABLE_ID 9

PG_FUNCTION_INFO_V1(crmpool_forget_table_config);
Datum
crmpool_forget_table_config(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Datum		args[2];
	bool		isnull;
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_BY_DELETE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) || !TRIGGER_FIRED_AFTER(trigdata->tg_event))
		elog(ERROR, "crmpool.forget_table_config() must run as an AFTER DELETE row trigger");
	crmpool_check_column(RelationGetRelid(trigdata->tg_relation), "managed_table",
						 MANAGED_TABLE_REL, "rel");
	crmpool_check_column(RelationGetRelid(trigdata->tg_relation), "managed_table",
						 MANAGED_TABLE_ID, "table_id");
	args[0] = heap_getattr(trigdata->tg_trigtuple, MANAGED_TABLE_REL,
						   RelationGetDescr(trigdata->tg_relation), &isnull);
	if (isnull)
		return PointerGetDatum(NULL);
	args[1] = heap_getattr(trigdata->tg_trigtuple, MANAGED_TABLE_ID,
						   RelationGetDescr(trigdata->tg_relation), &isnull);
	if (isnull)
		return PointerGetDatum(NULL);

	SPI_connect();
	for (i = 0; i < lengthof(forget_stmts); i++)
	{
		SPIPlanPtr	plan = crmpool_stmt_plan(&forget_stmts[i], forget_plans[i]);
		int			rc;

		if (IsolationUsesXactSnapshot())
		{
			CommandCounterIncrement();	/* as ri_PerformCheck: see this transaction's own rows */
			rc = SPI_execute_snapshot(plan, args, NULL, GetLatestSnapshot(),
									  GetTransactionSnapshot(), false, false, 0);
		}
		else
			rc = SPI_execute_plan(plan, args, NULL, false, 0);
		if (rc != SPI_OK_DELETE)
			elog(ERROR, "crmpool could not forget the configuration of a managed table: %s",
				 SPI_result_code_string(rc));
	}
	SPI_finish();
	return PointerGetDatum(NULL);
}
