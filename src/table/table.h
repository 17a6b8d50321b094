/*
 * table.h: managed tables: their configuration, kept plans and row accessors (registry.c), and
 * which tables and columns crmpool accepts (tables.c).
 */
#ifndef CRMPOOL_TABLE_H
#define CRMPOOL_TABLE_H

#include "core/core.h"

/* registry.c */

/* A row of crmpool.rep_config (crmpool.set_rep). */
typedef struct RepInfo
{
	char	   *tenant;			/* the app's value as set; "": every tenant of the table */
	bool		every;			/* tenant "" */
	bool		known;			/* tenant_key is the key of tenant (managed_tenant_key) */
	CrmpoolTenant tenant_key;
	int64		rep;
	char	   *team;			/* NULL: none */
	bool		active;
	double		weight;			/* lottery weight (set_rep's weight), >= 0 */
	bool		has_score;		/* the app's score (set_rep's score), for performance */
	double		score;
	TimestampTz set_at;			/* when set_rep() last set it: the order a team's reps joined */
} RepInfo;

/* A row of crmpool.pool_member: a member or an admin of a pool, a rep or a team. */
typedef struct PoolEntry
{
	bool		admin;
	int64		rep;			/* when team is NULL */
	char	   *team;			/* NULL: a rep */
	int			ordinal;		/* the join order, among the pool's members (or admins) */
	TimestampTz joined_at;
} PoolEntry;

/*
 * A row of crmpool.pool (sql/parts/17_pools.sql) with its members and admins.  pool NULL: the
 * default pool.  tenant "": a pool of every tenant; a tenant's own row of a pool beats it for
 * that tenant's customers (pool_find).
 */
typedef struct PoolInfo
{
	char	   *tenant;			/* the app's value as set; "": every tenant of the table */
	bool		every;			/* tenant "" */
	bool		known;			/* tenant_key is the key of tenant (managed_tenant_key) */
	CrmpoolTenant tenant_key;
	char	   *pool;
	int			nmembers;		/* entries[0 .. nmembers-1], by ordinal */
	int			nadmins;		/* entries[nmembers ..], by ordinal */
	PoolEntry  *entries;
} PoolInfo;

typedef struct ManagedRel
{
	Oid			relid;
	CrmpoolTableId table_id;	/* what crmpool's state rows key it by (base.h) */
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
	bool		tenant_in_key;	/* the primary key is (tenant, id): ids repeat across tenants */
	Oid			tenant_type;
	Oid			tenant_out;		/* output function of the tenant column's type */
	HTAB	   *tenant_names;	/* tenants.c: dictionary cache, name -> key (text tenants) */
	HTAB	   *tenant_keys;	/* and key -> name */
	/*
	 * The app's own columns (InvalidAttrNumber: not mapped).  lock_att: the lock flag (bool or
	 * integer, set = locked); owner_since_att: stamped at every gain (timestamptz or timestamp);
	 * deleted_att: the soft-delete mark (true, not 0, or not null).  app_columns: any of the
	 * three, so that a table with none pays one branch per row.
	 */
	bool		app_columns;
	AttrNumber	lock_att;
	Oid			lock_type;
	AttrNumber	owner_since_att;
	Oid			owner_since_type;
	AttrNumber	deleted_att;
	Oid			deleted_type;
	/* plans on the user's table, prepared on first use; parameters are bigint */
	SPIPlanPtr	set_owner_plan; /* UPDATE ONLY t SET owner = $2 WHERE key = $1 */
	SPIPlanPtr	lock_row_plan;	/* SELECT owner, pool, row FROM ONLY t WHERE key = $1 FOR NO KEY UPDATE */
	SPIPlanPtr	lock_many_plan; /* the same for key = ANY($1), locking in key order */
	SPIPlanPtr	release_many_plan;	/* UPDATE ONLY t SET owner = NULL WHERE key = ANY($1) */
	SPIPlanPtr	set_owner_many_plan;	/* UPDATE ONLY t SET owner = $2 WHERE key = ANY($1) */
	SPIPlanPtr	set_owners_plan;	/* owner = $2[i] for key = $1[i] (distribute.c) */
	SPIPlanPtr	owned_by_plan;	/* SELECT key FROM ONLY t WHERE owner = $1 ORDER BY key FOR NO KEY UPDATE */
	SPIPlanPtr	followup_plan;	/* recycle.c: UPDATE ONLY t SET followup = ... WHERE key = $1 */
	SPIPlanPtr	lock_due_plan;	/* recycle.c: lock the first $2 of the customers $1 */
	SPIPlanPtr	lock_flag_plan; /* ops.c: UPDATE ONLY t SET lock = $2 WHERE key = $1 */
	SPIPlanPtr	release_to_pools_plan;	/* owner = NULL, pool = $2[i] for key = $1[i] */
	SPIPlanPtr	move_pool_plan; /* pool = $2 WHERE key = ANY($1) AND owner IS NULL ... */
	SPIPlanPtr	rows_plan;		/* SELECT crmpool_row ... WHERE key = ANY($1) */
	SPIPlanPtr	pool_rows_plan; /* pool customers after key $1 (tenant $3), $2 of them, locked */
	int			nscopes;
	RuleScope  *scopes;			/* sorted by rules_sort_scopes() */
	bool		team_rules;		/* some scope names a team: rules need the rep's team */
	int			nreps;			/* crmpool.rep_config rows; 0: no rep is set, none inactive */
	RepInfo    *reps;			/* sorted by rep, then tenant */
	/*
	 * Pools (table/pools.c).  pool_access: some pool names members or admins, so that a claim
	 * asks who may claim there; a table whose pools name nobody pays this one branch per row.
	 */
	int			npools;
	PoolInfo   *pools;
	bool		pool_access;
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
	bool		auto_distributes;	/* some scope sets auto_distribute (trigger: one branch) */
	bool		recycles_to_pool;	/* some scope sets recycle_to_pool */
	bool		expires;		/* some scope sets pool_expire */
	/*
	 * tgenabled of each of crmpool's triggers on the table ('\0': missing), read on first use
	 * (managed_silent_trigger); cleared by the relcache invalidations that retire the entry
	 */
	bool		triggers_known;
	char		tgenabled[6];
	MemoryContext mcxt;
} ManagedRel;

extern ManagedRel *managed_rel_get(Oid relid, bool missing_ok);
extern bool managed_app_columns_stored(void);
extern void managed_rel_changed(Oid relid);
extern const RepInfo *managed_rep(ManagedRel *mr, CrmpoolTenant tenant, int64 rep);
extern bool managed_rep_known(ManagedRel *mr, int64 rep);
extern void managed_rules(ManagedRel *mr, CrmpoolTenant tenant, const char *pool, bool has_rep,
						  int64 rep, const char *level, RuleSet *out);
pg_noreturn extern void managed_rel_not_managed(Oid relid);
extern const char *managed_silent_trigger(ManagedRel *mr, bool this_session, LOCKMODE lockmode,
										  const char **why);
extern void crmpool_require_triggers(ManagedRel *mr, LOCKMODE lockmode);
extern Relation crmpool_open_table(Oid relid, LOCKMODE lockmode);
extern Relation crmpool_open_owned_table(Oid relid, LOCKMODE lockmode);
pg_noreturn extern void crmpool_no_such_table(Oid relid);
extern SPIPlanPtr managed_set_owner_plan(ManagedRel *mr);
extern SPIPlanPtr managed_lock_row_plan(ManagedRel *mr);
extern char *managed_column_text_sql(ManagedRel *mr, AttrNumber att, Oid outfunc);
extern SPIPlanPtr managed_lock_many_plan(ManagedRel *mr);
extern SPIPlanPtr managed_release_many_plan(ManagedRel *mr);
extern SPIPlanPtr managed_set_owner_many_plan(ManagedRel *mr);
extern SPIPlanPtr managed_set_owners_plan(ManagedRel *mr);
extern SPIPlanPtr managed_owned_by_plan(ManagedRel *mr);
extern SPIPlanPtr managed_release_to_pools_plan(ManagedRel *mr);
extern SPIPlanPtr managed_move_pool_plan(ManagedRel *mr);
extern SPIPlanPtr managed_rows_plan(ManagedRel *mr);
extern SPIPlanPtr managed_pool_rows_plan(ManagedRel *mr);
extern bool managed_locate(ManagedRel *mr, int64 customer, bool *has_owner, int64 *owner,
						   char **pool);
extern bool managed_rls_applies(ManagedRel *mr);
extern void managed_visible(ManagedRel *mr, const int64 *customers, int n, bool *visible);

/*
 * A CrmpoolRowFilter: rows naming customers (columns cols) the reader cannot see are dropped.
 * And a CrmpoolRowMap (managed_tenant_column): column tenantcol (0: none) holds a tenant key,
 * shown as the app's tenant.
 */
typedef struct VisibleFilter
{
	Oid			relid;			/* the table; InvalidOid: column relcol names it */
	int			relcol;
	int			ncols;
	int			cols[2];		/* customer columns (1-based) */
	int			tenantcol;
} VisibleFilter;

extern void managed_filter_visible(HeapTuple *rows, int n, TupleDesc desc, bool *keep, void *arg);
extern void managed_tenant_column(HeapTuple row, TupleDesc desc, Datum *values, bool *nulls,
								  int natts, void *arg);
extern int64 managed_int_value(Oid type, Datum d);
extern bool managed_owner(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, int64 *owner);
extern bool managed_raw_owner(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, int64 *owner);
extern bool managed_deleted(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
pg_noreturn extern void managed_refuse_deleted(ManagedRel *mr, int64 customer);
extern bool managed_lock_flag(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
extern Datum managed_flag_datum(Oid type, bool set);
extern char *managed_flag_sql(Oid type, const char *column, bool deleted);
extern TimestampTz managed_time_value(Oid type, Datum d);
extern Datum managed_time_datum(Oid type, TimestampTz at);
extern int64 managed_key(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
extern char *managed_pool_text(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
extern char *managed_level_text(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
/* tenants.c */
extern CrmpoolTenant managed_tenant(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
extern CrmpoolTenant managed_tenant_value(ManagedRel *mr, Datum d, int64 customer);
extern CrmpoolTenant managed_tenant_text(ManagedRel *mr, const char *name, int64 customer);
extern void managed_tenant_init(ManagedRel *mr, AttrNumber att);
extern bool managed_tenant_key(ManagedRel *mr, const char *name, bool create, CrmpoolTenant *key);
extern char *managed_tenant_name(ManagedRel *mr, CrmpoolTenant key);
extern Datum managed_tenant_datum_out(ManagedRel *mr, CrmpoolTenant key, bool *isnull);
extern bool managed_customer_tenant(ManagedRel *mr, int64 customer, CrmpoolTenant *tenant);
extern CrmpoolTenant managed_tenant_arg(ManagedRel *mr, FunctionCallInfo fcinfo, int argno,
										const char *fname, bool *known);
extern void managed_tenant_check_name(ManagedRel *mr, const char *name);
extern void managed_tenant_scope(ManagedRel *mr, text *tenant);
extern CrmpoolTenant managed_tenant_config(ManagedRel *mr, text *tenant, const char *fname,
										   bool create, bool *known);
extern const char *managed_scope(ManagedRel *mr, Oid fn);
extern char *managed_customer_sql(ManagedRel *mr, const char *alias, const char *ids);
extern char *managed_scope_sql(ManagedRel *mr, const char *alias);
extern int	managed_scope_push(ManagedRel *mr, CrmpoolTenant tenant);
extern void managed_scope_pop(int nestlevel);
/*
 * tenants.c, tenant order: a text tenant's names sort byte by byte, in SQL (this collation, on
 * crmpool.tenant_name.name or the tenant column as text) as in C (managed_tenant_cmp).
 */
#define TENANT_NAME_ORDER "COLLATE pg_catalog.\"C\""
extern bool managed_tenant_by_name(ManagedRel *mr);
extern char *managed_tenant_order_sql(ManagedRel *mr, const char *alias);
extern char *managed_tenant_sort_name(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
extern int	managed_tenant_cmp(ManagedRel *mr, CrmpoolTenant a, const char *a_name,
							   CrmpoolTenant b, const char *b_name);
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
/* BEFORE INSERT OR UPDATE, only on tables that map an app column (lock, owner-since, deleted) */
#define TRIGGER_BEFORE "crmpool_ownership_before"

/*
 * pools.c: the pools of a managed table, from the cached configuration (no catalog or table
 * access).  A pool is named by its text (NULL: the default pool); tenant is the customer's.
 */
typedef struct PoolMember
{
	int64		rep;
	bool		active;			/* not set inactive with crmpool.set_rep() */
	const char *team;			/* the team it belongs to the pool through; NULL: named itself */
	int			ordinal;		/* 1, 2, ...: its place in the join order (round-robin order) */
	TimestampTz joined_at;		/* when it (or its team) joined the pool */
} PoolMember;

extern bool pool_is(const PoolInfo *pi, const char *pool);
extern const PoolInfo *pool_find(ManagedRel *mr, CrmpoolTenant tenant, const char *pool);
extern bool pool_exists(ManagedRel *mr, const char *pool, bool *every);
extern int	pool_members(ManagedRel *mr, CrmpoolTenant tenant, const char *pool, bool admins,
						 PoolMember **out);
extern bool pool_is_member(ManagedRel *mr, CrmpoolTenant tenant, const char *pool, int64 rep);
extern bool pool_is_admin(ManagedRel *mr, CrmpoolTenant tenant, const char *pool, int64 rep);
extern bool pool_is_open(ManagedRel *mr, CrmpoolTenant tenant, const char *pool);
extern const char *pool_name_words(const char *pool);

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
	COLUMN_LOCK,
	COLUMN_OWNER_SINCE,
	COLUMN_DELETED,
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
extern AttrNumber tables_primary_key(Relation rel, AttrNumber tenant);
extern void tables_check_mapping(Oid relid, const TableMapping *m, bool managed);

#endif							/* CRMPOOL_TABLE_H */
