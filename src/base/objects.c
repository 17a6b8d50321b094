/*
 * objects.c: the OIDs of crmpool's own schema, its owner, and crmpool's relations (tables,
 * indexes, sequences), cached per backend.
 *
 * One rule makes the cache safe to use anywhere: an OID is handed out by value and never
 * cleared behind a caller.  An invalidation only marks the cache stale (a new generation), and
 * the next lookup, not the use in progress, refreshes it.  Invalidations arrive whenever a
 * backend takes a new lock (table_open, index_open, a catalog read): an ANALYZE or an
 * autovacuum of crmpool.rep_counter sends one.  0.1 zeroed its caches in the callback, so an
 * invalidation that arrived inside table_open(cached[0]) made the next line open OID 0
 * ("could not open relation with OID 0", XX000, about once in a thousand transactions under an
 * ANALYZE loop).  Callers therefore take every OID they need into locals first, then open.
 *
 * A relation's OID changes only when it is dropped and created again (ALTER EXTENSION UPDATE
 * could), and a drop sends a relcache invalidation for it; a schema's OID or owner changes
 * with DROP EXTENSION / CREATE EXTENSION or ALTER SCHEMA ... OWNER TO, which send a syscache
 * invalidation of pg_namespace.  Both start a new generation.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "base/base.h"

#define MAX_OWN_RELATIONS 32

typedef struct OwnRelation
{
	const char *name;			/* a relation of schema crmpool */
	Oid			relid;
	uint64		generation;		/* looked up in this generation */
} OwnRelation;

static uint64 generation = 1;	/* 0 is never current: an entry's "not looked up" */
static bool callbacks_registered = false;

static OwnRelation own[MAX_OWN_RELATIONS];
static int	nown = 0;

static Oid	schema_oid = InvalidOid;
static Oid	schema_owner = InvalidOid;
static uint64 schema_generation = 0;

static void
relation_changed(Datum arg, Oid relid)
{
	int			i;

	if (!OidIsValid(relid))
	{
		generation++;
		return;
	}
	for (i = 0; i < nown; i++)
		if (own[i].relid == relid)
		{
			generation++;
			return;
		}
}

static void
schema_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	generation++;
}

static void
register_callbacks(void)
{
	if (callbacks_registered)
		return;
	CacheRegisterRelcacheCallback(relation_changed, (Datum) 0);
	CacheRegisterSyscacheCallback(NAMESPACEOID, schema_changed, (Datum) 0);
	callbacks_registered = true;
}

/*
 * Look the schema up again if stale.  The generation is taken before the lookups: one that
 * starts during them leaves the result stale, to be looked up again next time.
 */
static void
refresh_schema(void)
{
	uint64		seen = generation;
	Oid			nspid;
	Oid			owner;
	HeapTuple	tup;

	register_callbacks();
	if (schema_generation == generation)
		return;
	nspid = get_namespace_oid("crmpool", false);
	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nspid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for namespace %u", nspid);
	owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
	ReleaseSysCache(tup);
	schema_oid = nspid;
	schema_owner = owner;
	schema_generation = seen;
}

Oid
crmpool_schema_oid(void)
{
	refresh_schema();
	return schema_oid;
}

/* The extension owner: the owner of schema crmpool, who owns every crmpool table. */
Oid
crmpool_extension_owner(void)
{
	refresh_schema();
	return schema_owner;
}

/*
 * The OID of relation crmpool.<name> (a table, index or sequence); `name` must be a string
 * constant, which the cache keeps.  An error if the relation is missing (a damaged install).
 */
Oid
crmpool_relid(const char *name)
{
	OwnRelation *entry = NULL;
	uint64		seen;
	Oid			nspid;
	Oid			relid;
	int			i;

	/*
	 * The same constant is the same pointer (the linker merges equal string constants), so
	 * compare pointers over the whole cache before comparing any text: called several times
	 * per claim, this loop would otherwise run strcmp against every entry before the match.
	 */
	for (i = 0; i < nown && entry == NULL; i++)
		if (own[i].name == name)
			entry = &own[i];
	for (i = 0; i < nown && entry == NULL; i++)
		if (strcmp(own[i].name, name) == 0)
			entry = &own[i];
	if (entry != NULL && entry->generation == generation)
		return entry->relid;
	if (entry == NULL)
	{
		if (nown == MAX_OWN_RELATIONS)
			elog(ERROR, "crmpool caches at most %d of its own relations", MAX_OWN_RELATIONS);
		entry = &own[nown];
		entry->name = name;
		entry->relid = InvalidOid;
		entry->generation = 0;
		nown++;
	}

	seen = generation;
	nspid = crmpool_schema_oid();
	relid = get_relname_relid(name, nspid);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation crmpool.%s does not exist", name),
				 errhint("The crmpool extension is damaged; drop and create it again, or restore it.")));
	entry->relid = relid;
	entry->generation = seen;
	return relid;
}

/*
 * Whether this installation's SQL has relation crmpool.<name>: a new library runs under 0.1's
 * SQL until ALTER EXTENSION crmpool UPDATE, and reads what 0.1 stored where 0.2 added to it.
 */
bool
crmpool_has_relation(const char *name)
{
	return OidIsValid(get_relname_relid(name, crmpool_schema_oid()));
}

/*
 * crmpool's own function name(argtypes), or InvalidOid if this installation's SQL has none (a
 * new library under 0.1's SQL, before ALTER EXTENSION crmpool UPDATE).  Straight from the
 * catalog: LookupFuncName would check USAGE on schema crmpool, and a DBA who revokes that from
 * PUBLIC would make every caller fail with 42501.  Not cached: callers cache what they decide.
 */
Oid
crmpool_function_oid(const char *name, int nargs, const Oid *argtypes)
{
	Oid			nspid = crmpool_schema_oid();

	return GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid, CStringGetDatum(name),
						   PointerGetDatum(buildoidvector(argtypes, nargs)),
						   ObjectIdGetDatum(nspid));
}

/* Column number `att` of crmpool.<table> must be named `column`; crmpool's C reads it by number. */
void
crmpool_check_column(Oid relid, const char *table, AttrNumber att, const char *column)
{
	if (get_attnum(relid, column) != att)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of crmpool.%s is not column %d", column, table, att),
				 errhint("The crmpool extension is damaged; drop and create it again, or restore it.")));
}

/*
 * Whether crmpool's bookkeeping tables have 0.2's tenant column.  Under 0.1's SQL (a new library
 * before ALTER EXTENSION crmpool UPDATE) they do not, and every table is the one tenant '':
 * crmpool runs 0.1's statements (CrmpoolStmt.sql01).  The update adds the column to
 * crmpool.rep_counter, whose relcache invalidation starts a new generation.
 */
static bool has_tenants = true;
static uint64 tenants_generation = 0;

bool
crmpool_has_tenants(void)
{
	uint64		seen = generation;
	Oid			relid;

	if (tenants_generation == generation)
		return has_tenants;
	relid = crmpool_relid("rep_counter");
	has_tenants = get_attnum(relid, "tenant") != InvalidAttrNumber;
	tenants_generation = seen;
	return has_tenants;
}
