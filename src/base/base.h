/*
 * base.h: the bottom layer: settings, the clock, crmpool's own objects and tables, acting as
 * the extension owner or a table's owner.  Knows nothing of the layers above (src/LAYERS).
 */
#ifndef CRMPOOL_BASE_H
#define CRMPOOL_BASE_H


#include "base/crmpool.h"

#include "access/genam.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "access/xact.h"
#include "datatype/timestamp.h"
#include "executor/execdesc.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "storage/lockdefs.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"

/* settings.c */
typedef enum DirectWritesMode
{
	DIRECT_WRITES_ENFORCE,
	DIRECT_WRITES_ENFORCE_OWNED,	/* enforce, and an owned customer moves only with an intent */
	DIRECT_WRITES_REJECT,
	DIRECT_WRITES_ALLOW
} DirectWritesMode;

/* crmpool.intent: what the plain writes of the current transaction are (SET LOCAL). */
typedef enum WriteIntent
{
	WRITE_INTENT_NONE,
	WRITE_INTENT_CLAIM,
	WRITE_INTENT_RELEASE,
	WRITE_INTENT_ASSIGN,
	WRITE_INTENT_TRANSFER,
	WRITE_INTENT_DISTRIBUTE
} WriteIntent;

extern int	crmpool_direct_writes;
extern int	crmpool_intent;
extern char *crmpool_actor;
extern char *crmpool_tenant;
extern char *crmpool_fake_now;
extern char *crmpool_timezone;
extern int	crmpool_recycle_batch_size;
extern int	crmpool_worker_naptime;
extern char *crmpool_worker_databases;
extern char *crmpool_default_country;
extern double crmpool_name_threshold;

/* True if cc is a calling code as crmpool.default_country accepts it: 1-3 digits, no leading 0. */
extern bool crmpool_valid_country_code(const char *cc);
extern void crmpool_define_gucs(void);
extern WriteIntent crmpool_write_intent(void);
extern const char *crmpool_intent_name(WriteIntent intent);
extern const char *crmpool_tenant_scope(void);

/* clock.c */
extern TimestampTz crmpool_now(void);
extern DateADT crmpool_date(TimestampTz ts);
extern TimestampTz crmpool_from_local(Timestamp local);
extern Timestamp crmpool_to_local(TimestampTz ts);
extern bool crmpool_check_fake_now(char **newval, void **extra, int source);
extern void crmpool_assign_fake_now(const char *newval, void *extra);
extern bool crmpool_check_timezone(char **newval, void **extra, int source);
extern void crmpool_assign_timezone(const char *newval, void *extra);
extern const char *crmpool_day_timezone_name(void);
extern char *crmpool_timestamp_text(TimestampTz ts);
extern char *crmpool_interval_text(const Interval *iv);
extern TimestampTz crmpool_add_interval(TimestampTz ts, const Interval *iv);

/* objects.c: OIDs are returned by value; take them into locals before opening anything */
extern Oid	crmpool_schema_oid(void);
extern Oid	crmpool_extension_owner(void);
extern Oid	crmpool_relid(const char *name);
extern bool crmpool_has_relation(const char *name);
extern Oid	crmpool_function_oid(const char *name, int nargs, const Oid *argtypes);
extern void crmpool_check_column(Oid relid, const char *table, AttrNumber att, const char *column);

/* privilege.c */
typedef struct OwnerContext
{
	Oid			saved_user;
	int			saved_sec_context;
} OwnerContext;

extern void crmpool_become_owner(OwnerContext *ctx);
extern void crmpool_restore_user(OwnerContext *ctx);
extern const char *crmpool_actor_name(void);
extern bool crmpool_is_owner(Oid relid);
extern void crmpool_require_owner(Oid relid);
extern void crmpool_require_select(Oid relid);
extern SPIPlanPtr crmpool_keep_plan(const char *sql, int nargs, Oid *argtypes);
extern SPIPlanPtr crmpool_keep_plan_options(const char *sql, int nargs, Oid *argtypes,
											int options);
extern void crmpool_init_srf(FunctionCallInfo fcinfo);
extern bool crmpool_xact_ended(XactEvent event);
extern bool crmpool_xact_finishing(XactEvent event);

extern void crmpool_srf_from_plan(FunctionCallInfo fcinfo, SPIPlanPtr plan,
								  Datum *values, const char *nulls);
/* Sets keep[i] false for the rows a reader must not see. */
typedef void (*CrmpoolRowFilter) (HeapTuple *rows, int n, TupleDesc desc, bool *keep, void *arg);
extern void crmpool_srf_from_plan_filtered(FunctionCallInfo fcinfo, SPIPlanPtr plan,
										   Datum *values, const char *nulls,
										   CrmpoolRowFilter filter, void *arg);
/* Rewrites the output values (natts of them) of a plan's row. */
typedef void (*CrmpoolRowMap) (HeapTuple row, TupleDesc desc, Datum *values, bool *nulls,
							   int natts, void *arg);
extern void crmpool_srf_from_plan_mapped(FunctionCallInfo fcinfo, SPIPlanPtr plan,
										 Datum *values, const char *nulls,
										 CrmpoolRowFilter filter, CrmpoolRowMap map, void *arg);
extern void crmpool_require_arg(FunctionCallInfo fcinfo, int argno, const char *name);
extern void crmpool_check_length(const char *what, const char *s, int len, int max_chars);
extern text *crmpool_name_arg(FunctionCallInfo fcinfo, int argno, const char *what,
							  int max_chars, const char *hint);
extern int	crmpool_begin_admin(OwnerContext *octx);
extern void crmpool_end_admin(OwnerContext *octx, int nestlevel);
extern void crmpool_admin_exec(const char *sql, int nargs, Oid *types, Datum *values);

/* Acting as a table's owner, in a security-restricted operation, to read the user's table. */
typedef struct TableOwnerContext
{
	Oid			saved_user;
	int			saved_sec_context;
	int			nestlevel;
} TableOwnerContext;

extern Oid	crmpool_table_owner(Oid relid);
extern void crmpool_become_table_owner(Oid owner, TableOwnerContext *ctx, bool complete);
extern void crmpool_leave_table_owner(TableOwnerContext *ctx);
extern void crmpool_scan_table(Oid relid, const char *sql, int nargs, Oid *types, Datum *values,
							   int chunk, void (*fn) (SPITupleTable *rows, uint64 n, void *arg),
							   void *arg);
extern void crmpool_require_builtin_output(Oid relid, AttrNumber att, const char *role);

/*
 * store.c: crmpool's own tables (as the extension owner): fixed statements through SPI, and
 * reads by index and row writes without it.  A StoreTable names a table, the index scans use, and the first columns C reads by number.
 */
typedef struct StoreTable
{
	const char *table;			/* crmpool.<table> */
	const char *index;
	const char *columns[8];		/* its first columns, in order */
	AttrNumber	tenant_att;		/* column "tenant" (0.2's tables only; 0: none) */
	Oid			checked;		/* the table OID whose columns were checked */
	bool		checked_tenants;	/* ... and whether with 0.2's tenant column */
} StoreTable;

typedef struct StoreScan
{
	Relation	heap;
	Relation	index;			/* NULL until store_scan_keys() */
	Oid			indexid;
	IndexScanDesc scan;
	TupleTableSlot *slot;		/* fetch into it with index_getnext_slot(scan, ...) */
} StoreScan;

typedef struct StoreWriter
{
	EState	   *estate;
	ResultRelInfo *rri;
	EPQState	epq;			/* for BEFORE ROW triggers, if any */
} StoreWriter;

/*
 * A fixed statement of one of crmpool's statement tables; its plan is kept once prepared, in
 * slot[0] (0.2's tables) or slot[1] (0.1's, sql01).  sql01: the statement for 0.1's tables,
 * which have no tenant column (a new library before ALTER EXTENSION crmpool UPDATE); NULL when
 * sql is the same there.  TENANT_STMT writes both from one text: TENANT(x) is x in sql and left
 * out of sql01 (a parameter it names is passed either way, unused under 0.1).
 */
typedef struct CrmpoolStmt
{
	const char *sql;
	int			nargs;
	Oid			argtypes[8];
	const char *sql01;
} CrmpoolStmt;

#define WITH_TENANT(x) x
#define WITHOUT_TENANT(x) ""
#define TENANT_STMT(text, nargs, ...) {text(WITH_TENANT), nargs, __VA_ARGS__, text(WITHOUT_TENANT)}
/* The same for a text(T, O) whose O(x) is x only in sql01 (what 0.1 reads instead) */
#define TENANT_STMT2(text, nargs, ...) \
	{text(WITH_TENANT, WITHOUT_TENANT), nargs, __VA_ARGS__, text(WITHOUT_TENANT, WITH_TENANT)}
/* A statement text of TENANT_STMT's kind for the tables this installation has */
#define TENANT_SQL(text) (crmpool_has_tenants() ? text(WITH_TENANT) : text(WITHOUT_TENANT))

/*
 * A managed table as crmpool's state tables key it (docs/design.md, "Tenants and
 * distribution"): crmpool.managed_table.table_id, a number given by manage() and never reused,
 * that no other server needs to agree on, unlike the relation's OID.  Under 0.1's SQL (a new
 * library before ALTER EXTENSION crmpool UPDATE) the state tables key by 0.1's column rel, and
 * the table's id is its OID: four bytes either way, compared bit for bit (F_INT4EQ serves both
 * columns, int4 parameters compare to rel as oid).  In a statement text, TABLE_ID(T) is the
 * column's name: table_id for 0.2's tables, rel for 0.1's (T as in TENANT_STMT).
 */
typedef int32 CrmpoolTableId;

static inline Datum
crmpool_table_id_datum(CrmpoolTableId id)
{
	return Int32GetDatum(id);
}

#define TABLE_ID(T) TABLE_ID_##T
#define TABLE_ID_WITH_TENANT "table_id"
#define TABLE_ID_WITHOUT_TENANT "rel"

extern SPIPlanPtr crmpool_stmt_plan(const CrmpoolStmt *stmt, SPIPlanPtr slot[2]);
extern int	crmpool_run_stmt(const CrmpoolStmt *stmt, SPIPlanPtr slot[2], Datum *values,
							 const char *nulls, bool latest);
/* objects.c: crmpool's tables have 0.2's tenant columns (false under 0.1's SQL) */
extern bool crmpool_has_tenants(void);
extern void store_oids(StoreTable *t, Oid *heap, Oid *index);
extern void store_open(StoreScan *s, StoreTable *t, bool latest, LOCKMODE lockmode);
extern void store_scan_keys(StoreScan *s, ScanKey keys, int nkeys);
extern void store_rescan(StoreScan *s, ScanKey keys, int nkeys);
extern void store_scan_begin(StoreScan *s, StoreTable *t, ScanKey keys, int nkeys, bool latest,
							 LOCKMODE lockmode);
extern void store_scan_end(StoreScan *s);
extern bool store_delete_begin(StoreScan *s, StoreTable *t);
extern bool store_delete(StoreScan *s, ScanKey keys, int nkeys);
extern void store_writer_begin(StoreWriter *w, Relation rel);
extern void store_writer_end(StoreWriter *w);
extern TupleTableSlot *store_writer_slot(StoreWriter *w, Relation rel);
extern bool store_multi_insert_ok(Relation rel);
extern void store_multi_insert(StoreWriter *w, TupleTableSlot **slots, int n,
							   struct BulkInsertStateData *bulk);
extern bool store_table_plain(Relation rel);
extern bool store_not_nulls_set(TupleTableSlot *slot);
extern bool store_insert_plain(Relation rel, TupleTableSlot *slot);

/* What store_insert() did with a row */
typedef enum StoreInsert
{
	STORE_NOT_PLAIN,			/* nothing: the table or an index is not plain */
	STORE_INSERTED,
	STORE_CONFLICT				/* nothing: a unique index may hold the row already */
} StoreInsert;

extern StoreInsert store_insert(Relation rel, TupleTableSlot *slot, bool on_conflict);
extern Datum crmpool_array(Datum *elems, bool *nulls, int n, Oid type);

/*
 * A tenant as crmpool's tables key it (docs/design.md, "Tenants and distribution"): a bigint,
 * fixed-width first column of every state table's key.  The value itself for an integer tenant
 * column, the id crmpool.tenant_name gives a text one, CRMPOOL_NO_TENANT for a table without a
 * tenant column (the one tenant of such a table: a table has tenants or not, so 0 never meets
 * a tenant 0 of another kind under the same table).  managed_tenant() (src/table) is the one
 * place that turns a row's tenant into its key; managed_tenant_name() turns it back.
 */
typedef int64 CrmpoolTenant;

#define CRMPOOL_NO_TENANT ((CrmpoolTenant) 0)

/* The tenant as a Datum of crmpool's tenant columns (bigint). */
static inline Datum
crmpool_tenant_datum(CrmpoolTenant tenant)
{
	return Int64GetDatum(tenant);
}

/* A column that is never null.  (Inline: a claim reads and sets a few dozen columns.) */
static inline Datum
store_attr(TupleTableSlot *slot, AttrNumber att)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, att, &isnull);

	if (isnull)
		elog(ERROR, "unexpected null in a crmpool table");
	return d;
}

/* Empty a virtual slot for the next row: every column null until store_set(). */
static inline void
store_clear(TupleTableSlot *slot)
{
	ExecClearTuple(slot);
	memset(slot->tts_isnull, true, slot->tts_tupleDescriptor->natts * sizeof(bool));
}

/* Set a column of a virtual slot (left null unless present). */
static inline void
store_set(TupleTableSlot *slot, AttrNumber att, Datum value, bool present)
{
	slot->tts_values[att - 1] = value;
	slot->tts_isnull[att - 1] = !present;
}

#endif							/* CRMPOOL_BASE_H */
