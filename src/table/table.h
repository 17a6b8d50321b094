/*
 * table.h: managed tables: their configuration, kept plans and row accessors (registry.c), and
 * which tables and columns crmpool accepts (tables.c).
 */
#ifndef CRMPOOL_TABLE_H
#define CRMPOOL_TABLE_H

#include "core/core.h"

/* registry.c */
typedef struct ManagedRel
{
	Oid			relid;
	char	   *qualname;		/* quoted, schema-qualified */
	AttrNumber	key_att;
	Oid			key_type;		/* INT4OID or INT8OID */
	AttrNumber	owner_att;
	Oid			owner_type;		/* INT4OID or INT8OID */
	AttrNumber	pool_att;		/* InvalidAttrNumber: one default pool */
	Oid			pool_type;
	Oid			pool_out;		/* output function of pool_type */
	AttrNumber	followup_att;
	Oid			followup_type;	/* TIMESTAMPTZOID, TIMESTAMPOID or DATEOID */
	AttrNumber	deal_att;
	Oid			deal_type;
	AttrNumber	level_att;		/* InvalidAttrNumber: no customer levels */
	Oid			level_out;		/* output function of the level column's type */
	AttrNumber	tenant_att;		/* InvalidAttrNumber: one tenant, CRMPOOL_NO_TENANT */
	Oid			tenant_out;		/* output function of the tenant column's type */
	/* plans on the user's table, prepared on first use; parameters are bigint */
	SPIPlanPtr	set_owner_plan; /* UPDATE ONLY t SET owner = $2 WHERE key = $1 */
	SPIPlanPtr	lock_row_plan;	/* SELECT owner, pool, row FROM ONLY t WHERE key = $1 FOR NO KEY UPDATE */
	SPIPlanPtr	lock_many_plan; /* the same for key = ANY($1), locking in key order */
	SPIPlanPtr	release_many_plan;	/* UPDATE ONLY t SET owner = NULL WHERE key = ANY($1) */
	SPIPlanPtr	followup_plan;	/* recycle.c: UPDATE ONLY t SET followup = ... WHERE key = $1 */
	SPIPlanPtr	lock_due_plan;	/* recycle.c: lock the first $2 of the customers $1 */
	int			nscopes;
	RuleScope  *scopes;
	/* identity columns (crmpool.set_identity); InvalidAttrNumber / 0 when none */
	bool		has_identity;
	AttrNumber	name_att;
	int			nphones;
	AttrNumber *phone_atts;
	int			nemails;
	AttrNumber *email_atts;
	SPIPlanPtr	locate_plan;	/* SELECT owner, pool FROM ONLY t WHERE key = $1 */
	SPIPlanPtr	tenant_plan;	/* SELECT tenant FROM ONLY t WHERE key = $1 */
	bool		recycles;		/* some scope sets a recycle period */
	/*
	 * tgenabled of each of crmpool's triggers on the table ('\0': missing), read on first use
	 * (managed_silent_trigger); cleared by the relcache invalidations that retire the entry
	 */
	bool		triggers_known;
	char		tgenabled[5];
	MemoryContext mcxt;
} ManagedRel;

extern ManagedRel *managed_rel_get(Oid relid, bool missing_ok);
extern void managed_rel_changed(Oid relid);
pg_noreturn extern void managed_rel_not_managed(Oid relid);
extern const char *managed_silent_trigger(ManagedRel *mr, bool this_session, const char **why);
extern void crmpool_require_triggers(ManagedRel *mr);
extern Relation crmpool_open_table(Oid relid, LOCKMODE lockmode);
extern Relation crmpool_open_owned_table(Oid relid, LOCKMODE lockmode);
pg_noreturn extern void crmpool_no_such_table(Oid relid);
extern SPIPlanPtr managed_set_owner_plan(ManagedRel *mr);
extern SPIPlanPtr managed_lock_row_plan(ManagedRel *mr);
extern SPIPlanPtr managed_lock_many_plan(ManagedRel *mr);
extern SPIPlanPtr managed_release_many_plan(ManagedRel *mr);
extern bool managed_locate(ManagedRel *mr, int64 customer, bool *has_owner, int64 *owner,
						   char **pool);
extern bool managed_rls_applies(ManagedRel *mr);
extern void managed_visible(ManagedRel *mr, const int64 *customers, int n, bool *visible);

/* A CrmpoolRowFilter: rows naming customers (columns cols) the reader cannot see are dropped. */
typedef struct VisibleFilter
{
	Oid			relid;			/* the table; InvalidOid: column relcol names it */
	int			relcol;
	int			ncols;
	int			cols[2];		/* customer columns (1-based) */
} VisibleFilter;

extern void managed_filter_visible(HeapTuple *rows, int n, TupleDesc desc, bool *keep, void *arg);
extern int64 managed_int_value(Oid type, Datum d);
extern bool managed_owner(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, int64 *owner);
extern int64 managed_key(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
extern char *managed_pool_text(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
extern char *managed_level_text(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
extern const char *managed_tenant(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
extern char *managed_customer_tenant(ManagedRel *mr, int64 customer);
extern const char *managed_tenant_arg(ManagedRel *mr, FunctionCallInfo fcinfo, int argno,
									  const char *fname);
extern bool managed_has_deal(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
extern bool managed_followup(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, TimestampTz *at);
extern void managed_row_tuple(Datum row, HeapTupleData *tuple);
extern HeapTuple managed_row_from_datum(Datum row, TupleDesc *desc);

/*
 * crmpool's triggers on a managed table (manage.c installs them; set_identity.c the last one).
 * "crmpool_identity_row" sorts before "crmpool_ownership_*": identity.c relies on that order.
 */
#define TRIGGER_ROW "crmpool_ownership_row"
#define TRIGGER_UPDATE "crmpool_ownership_update"
#define TRIGGER_TRUNCATE "crmpool_ownership_truncate"
#define TRIGGER_STATEMENT "crmpool_ownership_stmt"
#define TRIGGER_IDENTITY "crmpool_identity_row"

/* tables.c */
typedef enum ColumnRole
{
	COLUMN_KEY,
	COLUMN_OWNER,
	COLUMN_POOL,
	COLUMN_FOLLOWUP,
	COLUMN_DEAL,
	COLUMN_LEVEL,
	COLUMN_TENANT,
	COLUMN_NAME,
	COLUMN_PHONE,
	COLUMN_EMAIL,
	NUM_COLUMN_ROLES
} ColumnRole;

/* Column names mapped on a table, per role (a List of char *; NIL: that role is not mapped). */
typedef struct TableMapping
{
	List	   *columns[NUM_COLUMN_ROLES];
} TableMapping;

extern void tables_check_kind(Oid relid, bool managed);
extern AttrNumber tables_primary_key(Relation rel);
extern void tables_check_mapping(Oid relid, const TableMapping *m, bool managed);

#endif							/* CRMPOOL_TABLE_H */
