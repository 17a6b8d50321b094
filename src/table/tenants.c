/*
 * tenants.c: a managed table's tenant as crmpool's tables key it (docs/design.md, "Tenants and
 * distribution").
 *
 * Every state table leads its key with a bigint tenant (CrmpoolTenant): fixed-width, so that
 * index tuples keep cached attribute offsets and compare as integers on the claim path.  An
 * integer tenant column (smallint, integer, bigint) is its own key; a table without a tenant
 * column has the one key CRMPOOL_NO_TENANT (0); any other tenant column (text, varchar, uuid)
 * is keyed through the table's dictionary crmpool.tenant_name: the id it gives the name the
 * first time crmpool sees it, never changed nor reused while the table is managed.
 *
 * managed_tenant() is the one place that turns a row's tenant into its key; managed_tenant_key()
 * a tenant given as text (a function's argument, a rule's or a rep's scope); managed_tenant_name()
 * turns a key back into the app's value for what crmpool shows.  The dictionary is cached in the
 * table's ManagedRel (so it goes with every invalidation that retires the entry); an entry this
 * transaction made is not cached until it commits, since a rollback takes it back.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "table/table.h"

typedef struct TenantByName
{
	char		name[CRMPOOL_TENANT_MAX_BYTES + 1];
	CrmpoolTenant key;
} TenantByName;

typedef struct TenantByKey
{
	CrmpoolTenant key;
	char		name[CRMPOOL_TENANT_MAX_BYTES + 1];
} TenantByKey;

static SPIPlanPtr find_plan = NULL;

/*
 * A row's customer id, for messages.  (Not registry.c's managed_key: registry.c keys the
 * tenants of rules and reps through this file, and calls go one way between files.)
 */
static int64
row_customer(ManagedRel *mr, HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, mr->key_att, desc, &isnull);

	return isnull ? 0 : mr->key_type == INT4OID ? DatumGetInt32(d) : DatumGetInt64(d);
}

static SPIPlanPtr add_plan = NULL;
static SPIPlanPtr name_plan = NULL;

/* Whether the table's tenant column is an integer: its value is its key. */
static bool
integer_tenant(ManagedRel *mr)
{
	return mr->tenant_type == INT2OID || mr->tenant_type == INT4OID ||
		mr->tenant_type == INT8OID;
}

static void
cache_entry(ManagedRel *mr, const char *name, CrmpoolTenant key)
{
	TenantByName *bn;
	TenantByKey *bk;

	if (mr->tenant_names == NULL)
	{
		HASHCTL		ctl;

		ctl.hcxt = mr->mcxt;
		ctl.keysize = CRMPOOL_TENANT_MAX_BYTES + 1;
		ctl.entrysize = sizeof(TenantByName);
		mr->tenant_names = hash_create("crmpool tenant keys", 16, &ctl,
									   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
		ctl.keysize = sizeof(CrmpoolTenant);
		ctl.entrysize = sizeof(TenantByKey);
		mr->tenant_keys = hash_create("crmpool tenant names", 16, &ctl,
									  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	bn = hash_search(mr->tenant_names, name, HASH_ENTER, NULL);
	bn->key = key;
	bk = hash_search(mr->tenant_keys, &key, HASH_ENTER, NULL);
	strlcpy(bk->name, name, sizeof(bk->name));
}

/* Remember a dictionary row read by SPI (tenant, xmin) unless this transaction made it. */
static CrmpoolTenant
found_entry(ManagedRel *mr, const char *name)
{
	bool		isnull;
	CrmpoolTenant key = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
													1, &isnull));
	TransactionId xmin = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0],
															 SPI_tuptable->tupdesc, 2, &isnull));

	if (!TransactionIdIsCurrentTransactionId(xmin))
		cache_entry(mr, name, key);
	return key;
}

static void
refuse_long_name(ManagedRel *mr, const char *name)
{
	if (strlen(name) > CRMPOOL_TENANT_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("tenant \"%s\" of managed table %s is too long", name, get_rel_name(mr->relid)),
				 errdetail("It is %d bytes; crmpool keeps tenants of at most %d bytes.",
						   (int) strlen(name), CRMPOOL_TENANT_MAX_BYTES)));
}

/*
 * The key of tenant `name` (the app's value as text).  An integer column's name must be an
 * integer (false when it is not).  A text column's name (or one a rule or rep of a table
 * without a tenant column names: crmpool.rules() can still show it, rows never match it) is
 * looked up in the table's dictionary, and added to it when `create` (the first row of a new
 * tenant, or a rule or rep set for one): INSERT ... ON CONFLICT, so that two transactions
 * adding the same name at once get the same key (the second waits for the first).  False when
 * the name is not there and not `create`: no row of the table has that tenant.
 */
bool
managed_tenant_key(ManagedRel *mr, const char *name, bool create, CrmpoolTenant *key)
{
	OwnerContext octx;
	TenantByName *bn;
	bool		found = false;

	if (integer_tenant(mr))
	{
		char	   *end;
		long long	v;

		errno = 0;
		v = strtoll(name, &end, 10);
		if (errno != 0 || end == name || *end != '\0')
			return false;
		*key = (CrmpoolTenant) v;
		return true;
	}
	refuse_long_name(mr, name);
	if (mr->tenant_names != NULL &&
		(bn = hash_search(mr->tenant_names, name, HASH_FIND, NULL)) != NULL)
	{
		*key = bn->key;
		return true;
	}

	SPI_connect();
	crmpool_become_owner(&octx);
	if (find_plan == NULL)
	{
		find_plan = crmpool_keep_plan("SELECT tenant, xmin FROM crmpool.tenant_name "
									  "WHERE table_id OPERATOR(pg_catalog.=) $1 AND name OPERATOR(pg_catalog.=) $2",
									  2, (Oid[]) {INT4OID, TEXTOID});
		/* DO UPDATE, not DO NOTHING: it returns the row another transaction just added */
		add_plan = crmpool_keep_plan("INSERT INTO crmpool.tenant_name AS t (table_id, name) VALUES ($1, $2) "
									 "ON CONFLICT (table_id, name) DO UPDATE SET name = t.name "
									 "RETURNING tenant, xmin",
									 2, (Oid[]) {INT4OID, TEXTOID});
	}
	{
		Datum		args[2] = {crmpool_table_id_datum(mr->table_id), CStringGetTextDatum(name)};

		if (SPI_execute_plan(find_plan, args, NULL, !create, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read crmpool.tenant_name");
		if (SPI_processed == 0 && create &&
			SPI_execute_plan(add_plan, args, NULL, false, 1) != SPI_OK_INSERT_RETURNING)
			elog(ERROR, "could not write crmpool.tenant_name");
		if (SPI_processed > 0)
		{
			*key = found_entry(mr, name);
			found = true;
		}
	}
	crmpool_restore_user(&octx);
	SPI_finish();
	return found;
}

/* A row without a tenant belongs to no tenant's counts, caps or duplicates. */
static void
refuse_no_tenant(ManagedRel *mr, int64 customer)
{
	ereport(ERROR,
			(errcode(ERRCODE_NOT_NULL_VIOLATION),
			 errmsg("customer %lld of managed table %s has no tenant",
					(long long) customer, get_rel_name(mr->relid)),
			 errdetail("Its tenant column \"%s\" is null; crmpool keeps every count, cap and history per tenant.",
					   get_attname(mr->relid, mr->tenant_att, false)),
			 errhint("Set the tenant of every customer, or declare the column NOT NULL.")));
}

/*
 * Nor a row whose tenant is empty text: '' as crmpool.tenant means unset, so no operation could
 * ever be scoped to that tenant, and crmpool's own per-tenant work (recycling) could not name it.
 */
static void
refuse_empty_tenant(ManagedRel *mr, int64 customer)
{
	ereport(ERROR,
			(errcode(ERRCODE_CHECK_VIOLATION),
			 errmsg("customer %lld of managed table %s has an empty tenant",
					(long long) customer, get_rel_name(mr->relid)),
			 errdetail("Its tenant column \"%s\" is ''; crmpool keeps every count, cap and history per tenant, and an empty crmpool.tenant means no tenant.",
					   get_attname(mr->relid, mr->tenant_att, false)),
			 errhint("Give every customer a non-empty tenant, or add CHECK (%s <> '') to the table.",
					 quote_identifier(get_attname(mr->relid, mr->tenant_att, false)))));
}

/*
 * The key of the tenant of a row of a table with a tenant column, or CRMPOOL_NO_TENANT for a
 * table without one: only a branch on the hot path of such a table.  A row without a tenant
 * belongs to no tenant's counts, caps or duplicates: it is refused (docs/reference.md).
 */
CrmpoolTenant
managed_tenant(ManagedRel *mr, HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	Datum		d;

	if (mr->tenant_att == InvalidAttrNumber)
		return CRMPOOL_NO_TENANT;
	d = heap_getattr(tuple, mr->tenant_att, desc, &isnull);
	if (isnull)
		refuse_no_tenant(mr, row_customer(mr, tuple, desc));
	return managed_tenant_value(mr, d, row_customer(mr, tuple, desc));
}

/*
 * The key of a customer's tenant read as text (its type's output function: crmpool's own
 * statements on the table, ops/), refused like managed_tenant() when null.
 */
CrmpoolTenant
managed_tenant_text(ManagedRel *mr, const char *name, int64 customer)
{
	CrmpoolTenant key;

	if (mr->tenant_att == InvalidAttrNumber)
		return CRMPOOL_NO_TENANT;
	if (name == NULL)
		refuse_no_tenant(mr, customer);
	if (name[0] == '\0')
		refuse_empty_tenant(mr, customer);
	if (!managed_tenant_key(mr, name, true, &key))
		elog(ERROR, "crmpool could not key tenant \"%s\"", name);
	return key;
}

/* The key of a (non-null) value of the table's tenant column; customer: whose, for messages. */
CrmpoolTenant
managed_tenant_value(ManagedRel *mr, Datum d, int64 customer)
{
	char	   *name;
	CrmpoolTenant key;

	if (mr->tenant_type == INT8OID)
		return DatumGetInt64(d);
	if (mr->tenant_type == INT4OID)
		return DatumGetInt32(d);
	if (mr->tenant_type == INT2OID)
		return DatumGetInt16(d);
	name = OidOutputFunctionCall(mr->tenant_out, d);
	if (name[0] == '\0')
		refuse_empty_tenant(mr, customer);
	if (strlen(name) > CRMPOOL_TENANT_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
				 errmsg("the tenant of customer %lld of managed table %s is too long",
						(long long) customer, get_rel_name(mr->relid)),
				 errdetail("It is %d bytes; crmpool keeps tenants of at most %d bytes.",
						   (int) strlen(name), CRMPOOL_TENANT_MAX_BYTES)));
	if (!managed_tenant_key(mr, name, true, &key))
		elog(ERROR, "crmpool could not key tenant \"%s\"", name);
	pfree(name);
	return key;
}

/*
 * Set up mr's tenant column (att; InvalidAttrNumber: none): registry.c when it loads a table,
 * manage() for the rows it adopts.  Its type's output function must be built in: crmpool reads
 * it as the extension owner.
 */
void
managed_tenant_init(ManagedRel *mr, AttrNumber att)
{
	bool		isvarlena;

	Relation	rel;
	Oid			pk;

	mr->tenant_att = att;
	mr->tenant_in_key = false;
	mr->tenant_names = mr->tenant_keys = NULL;
	if (att == InvalidAttrNumber)
		return;
	crmpool_require_builtin_output(mr->relid, att, "tenant");
	mr->tenant_type = getBaseType(get_atttype(mr->relid, att));
	getTypeOutputInfo(mr->tenant_type, &mr->tenant_out, &isvarlena);

	/* manage() accepted a primary key (tenant, id) (tables_primary_key); it cannot change since */
	rel = relation_open(mr->relid, AccessShareLock);
	pk = crmpool_primary_key_index(rel);
	if (OidIsValid(pk))
	{
		Relation	idx = index_open(pk, AccessShareLock);

		mr->tenant_in_key = IndexRelationGetNumberOfKeyAttributes(idx) == 2 &&
			(idx->rd_index->indkey.values[0] == att || idx->rd_index->indkey.values[1] == att);
		index_close(idx, AccessShareLock);
	}
	relation_close(rel, AccessShareLock);
}

/* ---------------------------------------------------------------------------------------------
 * The tenant scope of operations that take customer ids (crmpool.tenant; docs/reference.md,
 * "Tenant scope").  Every statement crmpool runs on a managed table to find customers by id
 * carries managed_customer_sql()'s condition, which reads crmpool.tenant when it runs:
 *   - a table keyed (tenant, id): tenant = crmpool.tenant AND id = ..., by the primary key; an
 *     operation without crmpool.tenant is refused first (managed_scope), and the condition, were
 *     it ever run unset, finds nothing rather than the same id of every tenant;
 *   - a table keyed by id with a tenant column: id = ... and, when crmpool.tenant is set, the
 *     row's tenant is that one: a customer of another tenant is not found, as one that does not
 *     exist; unset, the id alone finds it (as before crmpool.tenant);
 *   - a table without a tenant column: the id alone (crmpool.tenant does not apply).
 * The trigger path needs none of it: the row a plain UPDATE writes carries its tenant.
 * -------------------------------------------------------------------------------------------*/

/*
 * Check crmpool.tenant for an operation (the function fn, for messages) that takes customer ids
 * of mr: required for a table keyed (tenant, id), and a value the tenant column could hold.
 * Returns it (NULL: not set, or a table without a tenant column).  One branch for a table
 * without a tenant column.
 */
const char *
managed_scope(ManagedRel *mr, Oid fn)
{
	const char *tenant;

	if (mr->tenant_att == InvalidAttrNumber)
		return NULL;
	tenant = crmpool_tenant_scope();
	if (tenant == NULL && mr->tenant_in_key)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("crmpool.%s() needs crmpool.tenant for table %s", get_func_name(fn),
						get_rel_name(mr->relid)),
				 errdetail("The primary key of table %s is (%s, %s): a customer id is unique only within its tenant.",
						   get_rel_name(mr->relid), get_attname(mr->relid, mr->tenant_att, false),
						   get_attname(mr->relid, mr->key_att, false)),
				 errhint("Run SET LOCAL crmpool.tenant = '<the tenant>' in the transaction, where the app sets its own tenant context.")));
	if (tenant != NULL)
		managed_tenant_check_name(mr, tenant);
	return tenant;
}

#define TENANT_SETTING "pg_catalog.current_setting('crmpool.tenant', true)"

/*
 * The condition crmpool.tenant puts on the rows of mr a statement picks, whose columns are
 * qualified with alias (NULL: none), as the comment above says; NULL for a table without a
 * tenant column.
 */
char *
managed_scope_sql(ManagedRel *mr, const char *alias)
{
	char	   *tenant;
	char	   *scope;

	if (mr->tenant_att == InvalidAttrNumber)
		return NULL;
	tenant = psprintf("%s%s%s", alias != NULL ? alias : "", alias != NULL ? "." : "",
					  quote_identifier(get_attname(mr->relid, mr->tenant_att, false)));
	/* crmpool.tenant as the column's type; NULL when unset ('') */
	scope = psprintf("(CASE WHEN " TENANT_SETTING " OPERATOR(pg_catalog.<>) '' THEN " TENANT_SETTING
					 " END)::%s", format_type_be_qualified(mr->tenant_type));
	if (mr->tenant_in_key)
		return psprintf("%s OPERATOR(pg_catalog.=) %s", tenant, scope);
	return psprintf("(%s IS NULL OR %s OPERATOR(pg_catalog.=) %s)", scope, tenant, scope);
}

/*
 * The condition that picks customers `ids` ("$1", "ANY ($1)", ...) of mr in a statement on the
 * table, qualified with alias (NULL: none): the id, within crmpool.tenant's scope (the tenant
 * first, so that a key (tenant, id) serves it).
 */
char *
managed_customer_sql(ManagedRel *mr, const char *alias, const char *ids)
{
	char	   *id = psprintf("%s%s%s OPERATOR(pg_catalog.=) %s", alias != NULL ? alias : "",
							  alias != NULL ? "." : "",
							  quote_identifier(get_attname(mr->relid, mr->key_att, false)), ids);
	char	   *scope = managed_scope_sql(mr, alias);

	return scope == NULL ? id : psprintf("%s AND %s", scope, id);
}

/*
 * crmpool's own work over several tenants of a table keyed (tenant, id) (recycling, pool
 * expiry) scopes each tenant's statements to it, as an operation's crmpool.tenant does: until
 * managed_scope_pop(the returned nest level).  Other tables need no scope: -1.  A reader given
 * a text tenant no row has reads under CRMPOOL_NO_TENANT (managed_tenant_arg), which has no
 * name: it is scoped to no row (crmpool.tenant '', the condition tenant = NULL).
 */
int
managed_scope_push(ManagedRel *mr, CrmpoolTenant tenant)
{
	int			nestlevel;

	if (!mr->tenant_in_key)
		return -1;
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("crmpool.tenant",
							 !integer_tenant(mr) && tenant == CRMPOOL_NO_TENANT ? "" :
							 managed_tenant_name(mr, tenant),
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

void
managed_scope_pop(int nestlevel)
{
	if (nestlevel >= 0)
		AtEOXact_GUC(true, nestlevel);
}

/* ---------------------------------------------------------------------------------------------
 * Tenant order.  crmpool.check() and repair() merge a table with crmpool's tables customer by
 * customer and, on a table keyed (tenant, id), tenant by tenant within a customer: both sides
 * must list one id's tenants in the same order.  The order of a text tenant's keys is not its
 * names' (the dictionary numbers names in the order it first sees them), and the table's owner,
 * who reads the table, cannot read the dictionary.  So the order is the app's value: an integer
 * tenant (and the one tenant of a table without a column) by value, which is its key; any other
 * by its text, byte by byte (COLLATE "C" in SQL, strcmp here: both compare unsigned bytes, and
 * a prefix first), which both sides can sort by.
 * -------------------------------------------------------------------------------------------*/

/*
 * The ORDER BY expression of mr's tenant column in tenant order, qualified with alias (NULL:
 * none): the column, or its text (the text of its type's output function, as the dictionary
 * keeps it) in byte order.
 */
char *
managed_tenant_order_sql(ManagedRel *mr, const char *alias)
{
	char	   *col = psprintf("%s%s%s", alias != NULL ? alias : "", alias != NULL ? "." : "",
							   quote_identifier(get_attname(mr->relid, mr->tenant_att, false)));

	if (integer_tenant(mr))
		return col;
	return psprintf("(%s)::pg_catalog.text " TENANT_NAME_ORDER, col);
}

/* Whether mr's tenants sort by name (any but an integer tenant column, or none). */
bool
managed_tenant_by_name(ManagedRel *mr)
{
	return mr->tenant_att != InvalidAttrNumber && !integer_tenant(mr);
}

/*
 * What a row's tenant sorts by in tenant order: its text (palloc'd), or NULL for an integer
 * tenant or a table without a tenant column, whose key sorts.
 */
char *
managed_tenant_sort_name(ManagedRel *mr, HeapTuple tuple, TupleDesc desc)
{
	bool		isnull;
	Datum		d;

	if (!managed_tenant_by_name(mr))
		return NULL;
	d = heap_getattr(tuple, mr->tenant_att, desc, &isnull);
	return isnull ? NULL : OidOutputFunctionCall(mr->tenant_out, d);
}

/*
 * Two tenants of mr in tenant order, each as its key and what it sorts by (its name: the row's,
 * managed_tenant_sort_name, or the dictionary's): < 0, 0 or > 0 as a sorts before, with or
 * after b.  Names, not a lookup of the keys: a check() keys tenants it meets in rows written
 * past crmpool's triggers, after its snapshot was taken.
 */
int
managed_tenant_cmp(ManagedRel *mr, CrmpoolTenant a, const char *a_name, CrmpoolTenant b,
				   const char *b_name)
{
	if (a == b)
		return 0;
	if (!managed_tenant_by_name(mr))
		return a < b ? -1 : 1;
	if (a_name == NULL || b_name == NULL)
		elog(ERROR, "crmpool.tenant_name has no tenant " INT64_FORMAT " of table %s",
			 a_name == NULL ? a : b, get_rel_name(mr->relid));
	return strcmp(a_name, b_name);
}

/*
 * The app's value of a tenant key, as text (palloc'd); NULL for a table without a tenant column.
 */
char *
managed_tenant_name(ManagedRel *mr, CrmpoolTenant key)
{
	OwnerContext octx;
	TenantByKey *bk;
	char	   *name = NULL;
	MemoryContext callcxt = CurrentMemoryContext;
	Datum		args[2];

	if (mr->tenant_att == InvalidAttrNumber)
		return NULL;
	if (integer_tenant(mr))
		return psprintf(INT64_FORMAT, key);
	if (mr->tenant_keys != NULL &&
		(bk = hash_search(mr->tenant_keys, &key, HASH_FIND, NULL)) != NULL)
		return pstrdup(bk->name);
	SPI_connect();
	crmpool_become_owner(&octx);
	if (name_plan == NULL)
		name_plan = crmpool_keep_plan("SELECT name, xmin FROM crmpool.tenant_name "
									  "WHERE table_id OPERATOR(pg_catalog.=) $1 AND tenant OPERATOR(pg_catalog.=) $2",
									  2, (Oid[]) {INT4OID, INT8OID});
	/*
	 * Read-only first: under the statement's snapshot.  A key this transaction gave after that
	 * snapshot was taken (a check() keying a tenant it meets in a row written past crmpool's
	 * triggers) is seen by the fresh snapshot of a read-write execution only.
	 */
	args[0] = crmpool_table_id_datum(mr->table_id);
	args[1] = Int64GetDatum(key);
	if (SPI_execute_plan(name_plan, args, NULL, true, 1) != SPI_OK_SELECT ||
		(SPI_processed == 0 && SPI_execute_plan(name_plan, args, NULL, false, 1) != SPI_OK_SELECT))
		elog(ERROR, "could not read crmpool.tenant_name");
	if (SPI_processed > 0)
	{
		bool		isnull;
		TransactionId xmin = DatumGetTransactionId(SPI_getbinval(SPI_tuptable->vals[0],
																 SPI_tuptable->tupdesc, 2, &isnull));
		MemoryContext oldcxt = MemoryContextSwitchTo(callcxt);

		name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		MemoryContextSwitchTo(oldcxt);
		if (!TransactionIdIsCurrentTransactionId(xmin))
			cache_entry(mr, name, key);
	}
	crmpool_restore_user(&octx);
	SPI_finish();
	if (name == NULL)
		elog(ERROR, "crmpool.tenant_name has no tenant " INT64_FORMAT " of table %s", key,
			 get_rel_name(mr->relid));
	return name;
}

/* The tenant name as a text Datum for a reader's output column; null for no tenant column. */
Datum
managed_tenant_datum_out(ManagedRel *mr, CrmpoolTenant key, bool *isnull)
{
	char	   *name = managed_tenant_name(mr, key);

	*isnull = (name == NULL);
	return name != NULL ? CStringGetTextDatum(name) : (Datum) 0;
}

/*
 * The key of a customer's tenant as its row says, read as the current user (its privileges and
 * row-level security apply, as in managed_locate); false if the row is not there.
 */
bool
managed_customer_tenant(ManagedRel *mr, int64 customer, CrmpoolTenant *tenant)
{
	bool		found = false;

	*tenant = CRMPOOL_NO_TENANT;
	if (mr->tenant_att == InvalidAttrNumber)
		return true;
	SPI_connect();
	if (mr->tenant_plan == NULL)
	{
		const char *col = quote_identifier(get_attname(mr->relid, mr->tenant_att, false));

		mr->tenant_plan =
			crmpool_keep_plan(psprintf("SELECT %s FROM ONLY %s WHERE %s",
									   col, mr->qualname, managed_customer_sql(mr, NULL, "$1")),
							  1, (Oid[]) {INT8OID});
	}
	if (SPI_execute_plan(mr->tenant_plan, (Datum[]) {Int64GetDatum(customer)}, NULL, true, 1) !=
		SPI_OK_SELECT)
		elog(ERROR, "crmpool could not read customer %lld", (long long) customer);
	if (SPI_processed > 0)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
		{
			*tenant = managed_tenant_value(mr, d, customer);
			found = true;
		}
	}
	SPI_finish();
	return found;
}

/* fname was given tenant `name` for a table without a tenant column (22023). */
static void
refuse_tenant_given(ManagedRel *mr, const char *fname, const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("table %s has no tenant column", get_rel_name(mr->relid)),
			 errdetail("%s was given tenant \"%s\".", fname, name),
			 errhint("Leave tenant out for a table attached without tenant_column.")));
}

/*
 * A function's tenant argument (argno; -1: the function's SQL has none, as in 0.1) as a key:
 * required for a table with a tenant column, whose bookkeeping is kept per tenant, and refused
 * for a table without one (its one tenant is CRMPOOL_NO_TENANT).  fname names the function.
 * crmpool.tenant, when set, stands for a missing argument, and an argument that names another
 * tenant is refused: a caller scoped to one tenant reads no other's.
 * A name crmpool has never seen in the table keys no row: *known (unless NULL) is then false,
 * and the key returned is CRMPOOL_NO_TENANT, which no row of a table with text tenants has (the
 * dictionary's ids start at 1), so that readers find nothing under it.
 */
CrmpoolTenant
managed_tenant_arg(ManagedRel *mr, FunctionCallInfo fcinfo, int argno, const char *fname,
				   bool *known)
{
	bool		given = argno >= 0 && !PG_ARGISNULL(argno);
	char	   *name;
	const char *scope;
	CrmpoolTenant key = CRMPOOL_NO_TENANT;

	if (known != NULL)
		*known = true;
	if (mr->tenant_att == InvalidAttrNumber)
	{
		if (given)
			refuse_tenant_given(mr, fname, TextDatumGetCString(PG_GETARG_DATUM(argno)));
		return CRMPOOL_NO_TENANT;
	}
	scope = crmpool_tenant_scope();
	if (!given && scope == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s needs a tenant for table %s", fname, get_rel_name(mr->relid)),
				 errdetail("The table keeps its customers per tenant in column \"%s\".",
						   get_attname(mr->relid, mr->tenant_att, false)),
				 errhint("Pass tenant => the tenant's value as text, or SET LOCAL crmpool.tenant.")));
	name = given ? TextDatumGetCString(PG_GETARG_DATUM(argno)) : pstrdup(scope);
	managed_tenant_check_name(mr, name);
	if (given && scope != NULL)
	{
		CrmpoolTenant a;
		CrmpoolTenant b;

		managed_tenant_check_name(mr, scope);
		/* an integer tenant compares as a number ('07' is 7); any other as its text */
		if (integer_tenant(mr) ? (managed_tenant_key(mr, name, false, &a) &&
								  managed_tenant_key(mr, scope, false, &b) && a != b) :
			strcmp(name, scope) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s was given tenant \"%s\" under crmpool.tenant \"%s\"", fname, name,
							scope),
					 errdetail("A transaction scoped to one tenant reads no other tenant's customers of table %s.",
							   get_rel_name(mr->relid)),
					 errhint("Leave tenant out, or pass the tenant crmpool.tenant names.")));
	}
	if (!managed_tenant_key(mr, name, false, &key))
	{
		key = CRMPOOL_NO_TENANT;
		if (known != NULL)
			*known = false;
	}
	return key;
}

/*
 * Refuse a tenant given as text that the table's tenant column could not hold: not an integer
 * for an integer column (22P02), too long for a text one.
 */
void
managed_tenant_check_name(ManagedRel *mr, const char *name)
{
	CrmpoolTenant key;

	if (integer_tenant(mr) && !managed_tenant_key(mr, name, false, &key))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
				 errmsg("tenant \"%s\" is not an integer", name),
				 errdetail("Table %s keeps its tenants in column \"%s\" of type %s.",
						   get_rel_name(mr->relid), get_attname(mr->relid, mr->tenant_att, false),
						   format_type_be(mr->tenant_type))));
	if (!integer_tenant(mr))
		refuse_long_name(mr, name);
}

/*
 * A tenant a rule or a rep is set for (crmpool.set_rules, crmpool.set_rep; NULL: none): checked
 * as managed_tenant_check_name, and given its key now if it is new, so that the table's rules
 * and reps, read from their text (registry.c), key it the same as its rows.
 */
void
managed_tenant_scope(ManagedRel *mr, text *tenant)
{
	char	   *name;
	CrmpoolTenant key;

	if (tenant == NULL)
		return;
	name = text_to_cstring(tenant);
	managed_tenant_check_name(mr, name);
	(void) managed_tenant_key(mr, name, true, &key);
}

/*
 * The tenant a pool's configuration is set or read for (crmpool.create_pool(..., tenant) and the
 * other pool functions; NULL: the configuration of every tenant): refused on a table without a
 * tenant column, whose one tenant has only that, else checked as managed_tenant_check_name and,
 * when `create` (a writer), keyed as managed_tenant_scope.  Returns the key (CRMPOOL_NO_TENANT
 * for NULL); *known is false for a name no row or configuration of the table has (a reader's).
 */
CrmpoolTenant
managed_tenant_config(ManagedRel *mr, text *tenant, const char *fname, bool create, bool *known)
{
	CrmpoolTenant key = CRMPOOL_NO_TENANT;

	*known = tenant == NULL;
	if (tenant == NULL)
		return key;
	if (mr->tenant_att == InvalidAttrNumber)
		refuse_tenant_given(mr, fname, text_to_cstring(tenant));
	if (create)
		managed_tenant_scope(mr, tenant);
	else
		managed_tenant_check_name(mr, text_to_cstring(tenant));
	*known = managed_tenant_key(mr, text_to_cstring(tenant), false, &key);
	return key;
}
