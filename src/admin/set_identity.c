/*
 * set_identity.c: crmpool.set_identity() names a managed table's identity columns (a company
 * name, phone and e-mail columns), installs the identity trigger (track/identity.c) and indexes
 * the rows already there with the trigger's own code.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/typcache.h"

#include "trigger/trigger.h"

/* A column of rel named as an identity column; returns its name.  Types: tables.c. */
static char *
identity_column(Relation rel, const char *name, const char *role)
{
	AttrNumber	att = get_attnum(RelationGetRelid(rel), name);

	if (att == InvalidAttrNumber || att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist",
						name, RelationGetRelationName(rel)),
				 errdetail("It was given as a %s column.", role)));
	return pstrdup(name);
}

static List *
identity_columns(FunctionCallInfo fcinfo, int argno, Relation rel, const char *role)
{
	List	   *names = NIL;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	if (PG_ARGISNULL(argno))
		return NIL;
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(argno), NAMEOID, NAMEDATALEN, false, TYPALIGN_CHAR,
					  &elems, &nulls, &n);
	for (i = 0; i < n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s columns must not contain null", role)));
		names = lappend(names, identity_column(rel, NameStr(*DatumGetName(elems[i])), role));
	}
	return names;
}

/* "a, b" of quoted identifiers, or "ARRAY['a', 'b']::name[]" of literals. */
static char *
column_sql(List *names, bool as_array)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	if (as_array)
		appendStringInfoString(&buf, "ARRAY[");
	foreach(lc, names)
		appendStringInfo(&buf, "%s%s", lc == list_head(names) ? "" : ", ",
						 as_array ? quote_literal_cstr(lfirst(lc)) : quote_identifier(lfirst(lc)));
	if (as_array)
		appendStringInfoString(&buf, "]::pg_catalog.name[]");
	return buf.data;
}

/* Column numbers of a list of column names. */
static AttrNumber *
column_atts(Oid relid, List *names, int *n)
{
	AttrNumber *atts = palloc(sizeof(AttrNumber) * Max(list_length(names), 1));
	ListCell   *lc;

	*n = 0;
	foreach(lc, names)
		atts[(*n)++] = get_attnum(relid, lfirst(lc));
	return atts;
}

#define INDEX_CHUNK 10000

/* set_identity's pass over the rows already there. */
typedef struct ExistingRows
{
	Oid			relid;
	TupleDesc	rowdesc;
	AttrNumber	key_att;
	Oid			key_type;
	ManagedRel *mr;				/* the tenant of each row (managed_tenant) */
	IdentityColumns cols;
	MemoryContext cxt;			/* reset per chunk */
} ExistingRows;

/* The keys of existing rows, for 0.2's tables and (WITHOUT_TENANT) 0.1's: base.h, CrmpoolStmt */
#define INDEX_KEYS_SQL(T) \
	"INSERT INTO crmpool.identity_key (" T("tenant, ") TABLE_ID(T) ", kind, key, customer) " \
	"SELECT " T("u.tenant, ") "$1, u.kind, u.key, u.customer " \
	"FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), " \
	"pg_catalog.unnest($5)) AS u(kind, key, customer, tenant)"
#define INDEX_NAMES_SQL(T) \
	"INSERT INTO crmpool.identity_name (" T("tenant, ") TABLE_ID(T) ", customer, name, core, tokens) " \
	"SELECT " T("u.tenant, ") "$1, u.customer, u.name, u.core, crmpool.name_bigrams(u.name) " \
	"FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), " \
	"pg_catalog.unnest($5)) AS u(customer, name, core, tenant)"

/* Keys of one chunk of rows, written as the extension owner (crmpool_scan_table's callback). */
static void
index_chunk(SPITupleTable *rows, uint64 n, void *arg)
{
	ExistingRows  *scan = arg;
	MemoryContext oldcxt = MemoryContextSwitchTo(scan->cxt);
	/* a row has at most one key per phone and e-mail column */
	int			row_keys = Max(scan->cols.nphones + scan->cols.nemails, 1);
	Datum	   *kinds = palloc(sizeof(Datum) * n * row_keys);
	Datum	   *keys = palloc(sizeof(Datum) * n * row_keys);
	Datum	   *key_customers = palloc(sizeof(Datum) * n * row_keys);
	Datum	   *key_tenants = palloc(sizeof(Datum) * n * row_keys);
	Datum	   *name_tenants = palloc(sizeof(Datum) * n);
	Datum	   *names = palloc(sizeof(Datum) * n);
	Datum	   *cores = palloc(sizeof(Datum) * n);
	Datum	   *name_customers = palloc(sizeof(Datum) * n);
	int			nkeys = 0;
	int			nnames = 0;
	uint64		r;
	Datum		table_id = crmpool_table_id_datum(scan->mr->table_id);

	for (r = 0; r < n; r++)
	{
		bool		isnull;
		HeapTupleData row;
		IdentityKeys ik;
		Datum		customer;
		Datum		tenant;
		int			k;

		managed_row_tuple(SPI_getbinval(rows->vals[r], rows->tupdesc, 1, &isnull), &row);
		customer = Int64GetDatum(managed_int_value(scan->key_type,
												   heap_getattr(&row, scan->key_att, scan->rowdesc, &isnull)));
		/* a soft-deleted row has no keys (identity_row_keys) */
		if (scan->mr->deleted_att != InvalidAttrNumber && managed_deleted(scan->mr, &row, scan->rowdesc))
			continue;
		tenant = crmpool_tenant_datum(managed_tenant(scan->mr, &row, scan->rowdesc));
		identity_column_keys(&scan->cols, &row, scan->rowdesc, &ik);
		for (k = 0; k < ik.nkeys; k++)
		{
			kinds[nkeys] = CharGetDatum(ik.kinds[k]);
			keys[nkeys] = CStringGetTextDatum(ik.keys[k]);
			key_tenants[nkeys] = tenant;
			key_customers[nkeys++] = customer;
		}
		if (ik.has_name)
		{
			if (strlen(ik.parsed.key) > IDENTITY_MAX_CORE_BYTES)
				identity_name_too_long(scan->relid,
									   psprintf(_("of customer %lld"), (long long) DatumGetInt64(customer)),
									   (int) strlen(ik.parsed.key));
			names[nnames] = CStringGetTextDatum(ik.name);
			cores[nnames] = CStringGetTextDatum(ik.parsed.key);
			name_tenants[nnames] = tenant;
			name_customers[nnames++] = customer;
		}
	}
	/* a customer's keys are distinct (identity_add_key), so no conflict can arise */
	if (nkeys > 0)
		crmpool_admin_exec(TENANT_SQL(INDEX_KEYS_SQL),
						   5, (Oid[]) {INT4OID, CHARARRAYOID, TEXTARRAYOID, INT8ARRAYOID, INT8ARRAYOID},
						   (Datum[]) {table_id,
							   PointerGetDatum(construct_array(kinds, nkeys, CHAROID, 1, true, TYPALIGN_CHAR)),
							   PointerGetDatum(construct_array(keys, nkeys, TEXTOID, -1, false, TYPALIGN_INT)),
							   PointerGetDatum(construct_array(key_customers, nkeys, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
						   crmpool_array(key_tenants, NULL, nkeys, INT8OID)});
	if (nnames > 0)
		crmpool_admin_exec(TENANT_SQL(INDEX_NAMES_SQL),
						   5, (Oid[]) {INT4OID, INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, INT8ARRAYOID},
						   (Datum[]) {table_id,
							   PointerGetDatum(construct_array(name_customers, nnames, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE)),
							   PointerGetDatum(construct_array(names, nnames, TEXTOID, -1, false, TYPALIGN_INT)),
							   PointerGetDatum(construct_array(cores, nnames, TEXTOID, -1, false, TYPALIGN_INT)),
						   crmpool_array(name_tenants, NULL, nnames, INT8OID)});
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(scan->cxt);
}

/*
 * Name the identity columns and index what is already there.  Existing duplicates are not
 * refused (crmpool.duplicate_groups() shows them); from now on every write is checked.
 */
PG_FUNCTION_INFO_V1(crmpool_set_identity);
Datum
crmpool_set_identity(PG_FUNCTION_ARGS)
{
	Oid			relid;
	Relation	rel;
	ManagedRel *mr;
	char	   *name = NULL;
	List	   *phones;
	List	   *emails;
	List	   *watched;
	TableMapping mapping = {0};
	OwnerContext octx;
	int			nestlevel;
	Oid			types[1] = {REGCLASSOID};
	Datum		values[1];

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	rel = crmpool_open_owned_table(relid, ShareRowExclusiveLock);
	ownership_require_settled(relid, "crmpool.set_identity()");
	mr = managed_rel_get(relid, false);
	if (!PG_ARGISNULL(1))
		name = identity_column(rel, NameStr(*PG_GETARG_NAME(1)), "name");
	phones = identity_columns(fcinfo, 2, rel, "phone");
	emails = identity_columns(fcinfo, 3, rel, "e-mail");
	mapping.columns[COLUMN_NAME] = name ? list_make1(name) : NIL;
	mapping.columns[COLUMN_PHONE] = phones;
	mapping.columns[COLUMN_EMAIL] = emails;
	tables_check_mapping(relid, &mapping, false);
	watched = list_concat(list_concat(name ? list_make1(name) : NIL, list_copy(phones)), list_copy(emails));
	values[0] = ObjectIdGetDatum(relid);

	nestlevel = crmpool_begin_admin(&octx);
	/*
	 * The table's managed_table row is locked as a foreign key's check would (there is none:
	 * sql/parts/70_dump_restore.sql), as crmpool.set_rules() does.  This statement's snapshot is
	 * taken now, after the wait for the table's lock: an unmanage() that committed during that
	 * wait leaves no row (mr was read under the older snapshot of the caller's statement and
	 * still says managed), and none can start before this commits.
	 */
	crmpool_admin_exec(psprintf("INSERT INTO crmpool.identity_config AS c (rel, name_column, phone_columns, email_columns) "
								"SELECT $1, %s, %s, %s FROM crmpool.managed_table m "
								"WHERE m.rel OPERATOR(pg_catalog.=) $1 FOR KEY SHARE OF m "
								"ON CONFLICT (rel) DO UPDATE SET "
								"name_column = excluded.name_column, phone_columns = excluded.phone_columns, "
								"email_columns = excluded.email_columns",
								name ? quote_literal_cstr(name) : "NULL::pg_catalog.name",
								column_sql(phones, true), column_sql(emails, true)),
					   1, types, values);
	if (SPI_processed == 0)
		managed_rel_not_managed(relid);
	if (OidIsValid(get_trigger_oid(relid, TRIGGER_IDENTITY, true)))
		crmpool_admin_exec(psprintf("DROP TRIGGER %s ON %s", TRIGGER_IDENTITY, mr->qualname),
						   0, NULL, NULL);
	identity_forget_table(mr->table_id);

	/* a soft delete gives up the customer's keys, an undelete takes them back */
	if (watched != NIL && mr->deleted_att != InvalidAttrNumber)
		watched = lappend(watched, get_attname(relid, mr->deleted_att, false));
	if (watched != NIL)
		crmpool_admin_exec(psprintf("CREATE TRIGGER %s AFTER INSERT OR DELETE OR UPDATE OF %s ON %s "
									"FOR EACH ROW EXECUTE FUNCTION crmpool.identity_trigger()",
									TRIGGER_IDENTITY, column_sql(watched, false), mr->qualname),
						   0, NULL, NULL);

	/*
	 * Index the rows already there with the trigger's own code.  The table's keys were just
	 * removed and its writers are locked out.  The rows are read as the table's owner
	 * (crmpool_scan_table) and written here, as the extension owner, a chunk at a time.
	 */
	if (watched != NIL)
	{
		ExistingRows	scan;

		memset(&scan, 0, sizeof(scan));
		scan.relid = relid;
		scan.rowdesc = lookup_rowtype_tupdesc_copy(get_rel_type_id(relid), -1);
		scan.key_att = mr->key_att;
		scan.key_type = mr->key_type;
		scan.mr = mr;
		scan.cols.name_att = name ? get_attnum(relid, name) : InvalidAttrNumber;
		scan.cols.phone_atts = column_atts(relid, phones, &scan.cols.nphones);
		scan.cols.email_atts = column_atts(relid, emails, &scan.cols.nemails);
		scan.cxt = AllocSetContextCreate(CurrentMemoryContext, "crmpool set_identity",
										 ALLOCSET_DEFAULT_SIZES);
		crmpool_scan_table(relid, psprintf("SELECT crmpool_row FROM ONLY %s crmpool_row", mr->qualname),
						   0, NULL, NULL, INDEX_CHUNK, index_chunk, &scan);
		MemoryContextDelete(scan.cxt);
	}
	crmpool_end_admin(&octx, nestlevel);
	managed_rel_changed(relid);
	relation_close(rel, NoLock);
	PG_RETURN_VOID();
}
