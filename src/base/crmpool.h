/*
 * crmpool.h: declarations shared by crmpool's C files.
 *
 * One concern per file:
 *   crmpool.c    module entry point (_PG_init)
 *   guc.c        the crmpool.* settings
 *   clock.c      the one clock every rule reads (crmpool.fake_now)
 *   objects.c    the OIDs of crmpool's own schema, owner and relations
 *   privilege.c  running bookkeeping as the extension owner; SRF helper
 *   registry.c   which tables are managed: cached configuration and plans
 *   rules.c      rule keys, validation, the table -> pool -> rep cascade
 *   ledger.c     bookkeeping tables: rep counters, ownership events, locks
 *   ownership.c  the trigger: every ownership change is checked and recorded here
 *   ops.c        claim, claim_many, release, assign, transfer, lock, unlock
 *   manage.c     manage / unmanage: attaching crmpool to a user's table
 *   tables.c     which tables and column types crmpool accepts; the ALTER TABLE event trigger
 *   history.c    history, owner_at, rep_load, ownership_log readers
 *   identity.c   duplicate detection on write: identity keys, the identity trigger, set_identity
 *   dedup_search.c  find_duplicates, duplicate_groups, duplicate_warnings
 *   recycle.c    recycling: due times, follow-ups, warnings, recycle batches
 *   repair.c     check / repair: crmpool's bookkeeping against the table, after a bypass
 *   worker.c     background worker: launcher and per-database maintenance runs
 */
#ifndef CRMPOOL_H
#define CRMPOOL_H

#include "postgres.h"
#include "pg_compat.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "access/xact.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "storage/lockdefs.h"
#include "utils/date.h"
#include "utils/jsonb.h"
#include "utils/relcache.h"

/*
 * SQLSTATEs of crmpool's own class "CR".  Every refusal of a rule uses one of these, so that
 * applications can catch them; docs/reference.md lists them.  Bad input (NULL arguments, unknown
 * columns, malformed rules) uses PostgreSQL's standard codes instead.
 */
#define ERRCODE_CRMPOOL_NOT_MANAGED			MAKE_SQLSTATE('C','R','0','0','1')
#define ERRCODE_CRMPOOL_UNKNOWN_CUSTOMER	MAKE_SQLSTATE('C','R','0','0','2')
#define ERRCODE_CRMPOOL_ALREADY_OWNED		MAKE_SQLSTATE('C','R','0','0','3')
#define ERRCODE_CRMPOOL_NOT_OWNER			MAKE_SQLSTATE('C','R','0','0','4')
#define ERRCODE_CRMPOOL_LOCKED				MAKE_SQLSTATE('C','R','0','0','5')
#define ERRCODE_CRMPOOL_PRIVATE_CAP			MAKE_SQLSTATE('C','R','0','0','6')
#define ERRCODE_CRMPOOL_LOCK_CAP			MAKE_SQLSTATE('C','R','0','0','7')
#define ERRCODE_CRMPOOL_DAILY_LIMIT			MAKE_SQLSTATE('C','R','0','0','8')
#define ERRCODE_CRMPOOL_COOLDOWN			MAKE_SQLSTATE('C','R','0','0','9')
#define ERRCODE_CRMPOOL_HOLDBACK			MAKE_SQLSTATE('C','R','0','1','0')
#define ERRCODE_CRMPOOL_DIRECT_WRITE		MAKE_SQLSTATE('C','R','0','1','1')
/*
 * crmpool's bookkeeping disagrees with the table: its triggers were bypassed (DISABLE TRIGGER,
 * session_replication_role = replica).  Not XX001 (data_corrupted): nothing is corrupt on disk,
 * the state is known and crmpool.repair() brings it back in step.
 */
#define ERRCODE_CRMPOOL_OUT_OF_STEP			MAKE_SQLSTATE('C','R','0','1','3')
#define ERRCODE_CRMPOOL_DUPLICATE			MAKE_SQLSTATE('C','R','0','2','0')

/*
 * Lengths of text crmpool stores, in characters (docs/reference.md, "Limits").  A pool name is
 * part of crmpool.rule_set's unique index, whose entries must stay under 2.7 kB: 200 characters
 * of at most 4 bytes fit with room to spare.  Reasons, notes and actors are not indexed; their
 * limits keep the history readable and the ledger's rows small.
 */
#define CRMPOOL_POOL_MAX_CHARS		200
#define CRMPOOL_REASON_MAX_CHARS	1000
#define CRMPOOL_NOTE_MAX_CHARS		10000
#define CRMPOOL_ACTOR_MAX_CHARS		200

/* The actor of recycling's events; crmpool.actor may not take it (guc.c, check_actor). */
#define CRMPOOL_RECYCLER_ACTOR		"crmpool"

/*
 * Operators in the text of crmpool's statements, qualified: a kept plan is analyzed again under
 * the search_path of whoever runs it next, which must not pick an operator of its own.
 */
#define EQ " OPERATOR(pg_catalog.=) "
#define LE " OPERATOR(pg_catalog.<=) "
#define PLUS " OPERATOR(pg_catalog.+) "

/* The short name of a refusal (claim_many's outcome), or NULL if sqlerrcode is not one. */
extern const char *crmpool_refusal_name(int sqlerrcode);
/* The hint of every CR013 error: check() and repair() the table. */
extern int	crmpool_repair_hint(Oid relid);

/* guc.c */
typedef enum DirectWritesMode
{
	DIRECT_WRITES_ENFORCE,
	DIRECT_WRITES_REJECT,
	DIRECT_WRITES_ALLOW
} DirectWritesMode;

extern int	crmpool_direct_writes;
extern char *crmpool_actor;
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

/* clock.c */
extern TimestampTz crmpool_now(void);
extern DateADT crmpool_date(TimestampTz ts);
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
extern void crmpool_init_srf(FunctionCallInfo fcinfo);
extern bool crmpool_xact_ended(XactEvent event);
extern bool crmpool_xact_finishing(XactEvent event);

/* A fixed statement of one of crmpool's statement tables; its plan is kept once prepared. */
typedef struct CrmpoolStmt
{
	const char *sql;
	int			nargs;
	Oid			argtypes[8];
} CrmpoolStmt;

extern SPIPlanPtr crmpool_stmt_plan(const CrmpoolStmt *stmt, SPIPlanPtr *slot);
extern int	crmpool_run_stmt(const CrmpoolStmt *stmt, SPIPlanPtr *slot, Datum *values,
							 const char *nulls, bool latest);
extern void crmpool_srf_from_plan(FunctionCallInfo fcinfo, SPIPlanPtr plan,
								  Datum *values, const char *nulls);
/* Sets keep[i] false for the rows a reader must not see. */
typedef void (*CrmpoolRowFilter) (HeapTuple *rows, int n, TupleDesc desc, bool *keep, void *arg);
extern void crmpool_srf_from_plan_filtered(FunctionCallInfo fcinfo, SPIPlanPtr plan,
										   Datum *values, const char *nulls,
										   CrmpoolRowFilter filter, void *arg);
extern void crmpool_require_arg(FunctionCallInfo fcinfo, int argno, const char *name);
extern void crmpool_check_length(const char *what, const char *s, int len, int max_chars);
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

/* rules.c */
typedef enum RuleKey
{
	RULE_PRIVATE_CAP,
	RULE_COUNT_DEALS_IN_CAP,
	RULE_LOCK_CAP,
	RULE_DAILY_CLAIM_LIMIT,
	RULE_RECLAIM_COOLDOWN,
	RULE_POOL_HOLDBACK,
	RULE_DEDUP_PHONE,
	RULE_DEDUP_EMAIL,
	RULE_DEDUP_NAME,
	RULE_NAME_THRESHOLD,
	RULE_RECYCLE_NO_FOLLOWUP,
	RULE_RECYCLE_NO_DEAL,
	RULE_RECYCLE_EXEMPT_DEALS,
	RULE_WARN_BEFORE,
	NUM_RULE_KEYS
} RuleKey;

/* Values of the dedup_* rules. */
typedef enum DedupPolicy
{
	DEDUP_OFF,
	DEDUP_WARN,
	DEDUP_BLOCK
} DedupPolicy;

typedef struct RuleValue
{
	bool		set;			/* given at this scope */
	bool		isnull;			/* explicitly null: no limit */
	union
	{
		int64		count;
		bool		flag;
		Interval	span;
		double		real;
		int			choice;
	}			v;
} RuleValue;

typedef struct RuleSet
{
	RuleValue	key[NUM_RULE_KEYS];
} RuleSet;

/* One row of crmpool.rule_set: a scope and its rules, with optional per-level overrides. */
typedef struct RuleScope
{
	char	   *pool;			/* NULL: every pool */
	bool		has_rep;
	int64		rep;
	RuleSet		rules;
	int			nlevels;
	char	  **level_names;
	RuleSet    *level_rules;
} RuleScope;

extern void rules_parse(Jsonb *jb, RuleScope *scope);
extern void rules_effective(int nscopes, const RuleScope *scopes, const char *pool,
							bool has_rep, int64 rep, const char *level, RuleSet *out);
extern bool rule_limit(const RuleSet *rs, RuleKey key, int64 *limit);
extern bool rule_span(const RuleSet *rs, RuleKey key, Interval *span);
extern bool rule_flag(const RuleSet *rs, RuleKey key);
extern int	rule_choice(const RuleSet *rs, RuleKey key);
extern double rule_real(const RuleSet *rs, RuleKey key, double dflt);
extern bool rules_recycle(int nscopes, const RuleScope *scopes);
extern bool rules_touch_due(const RuleScope *scope);
extern bool rules_key_touches_due(const char *name);
extern Jsonb *rules_jsonb(const RuleSet *rs, int nlevels, char **level_names, RuleSet *level_sets);
extern void rules_refuse_level_keys(const RuleScope *scope);

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
	bool		recycles;		/* some scope sets a recycle period */
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
extern bool managed_has_deal(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
extern bool managed_followup(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, TimestampTz *at);
extern void managed_row_tuple(Datum row, HeapTupleData *tuple);
extern HeapTuple managed_row_from_datum(Datum row, TupleDesc *desc);

/*
 * crmpool's triggers on a managed table (manage.c installs them; identity.c the last one).
 * "crmpool_identity_row" sorts before "crmpool_ownership_*": identity.c relies on that order.
 */
#define TRIGGER_ROW "crmpool_ownership_row"
#define TRIGGER_UPDATE "crmpool_ownership_update"
#define TRIGGER_TRUNCATE "crmpool_ownership_truncate"
#define TRIGGER_STATEMENT "crmpool_ownership_stmt"
#define TRIGGER_IDENTITY "crmpool_identity_row"

/* ledger.c */
typedef struct RepCounts
{
	int64		owned;
	int64		with_deal;
	int64		locked;
	int64		claims_today;
} RepCounts;

extern void ledger_begin(OwnerContext *octx);
extern void ledger_end(OwnerContext *octx);
extern void ledger_apply(Oid relid, int64 rep, int owned, int with_deal, int locked, int claims,
						 DateADT today, RepCounts *after);
extern void ledger_set_actor(const char *actor);
extern void ledger_locked_changed(Oid relid, int64 rep, int delta, int64 *locked_after);
typedef struct LedgerEvents LedgerEvents;
extern LedgerEvents *ledger_events_begin(void);
extern void ledger_events_add(LedgerEvents *le, Oid relid, int64 customer, TimestampTz at,
							  bool has_owner, int64 owner, const char *how, const char *reason,
							  const char *actor);
extern void ledger_events_end(LedgerEvents *le);
extern void ledger_record(Oid relid, int64 customer, TimestampTz at, bool has_owner,
						  int64 owner, const char *how, const char *reason, const char *actor);
extern const char *ledger_current_actor(void);
extern bool ledger_lock_holder(Oid relid, int64 customer, int64 *rep, TimestampTz *since);
extern bool ledger_add_lock(Oid relid, int64 customer, int64 rep, TimestampTz at);
extern bool ledger_drop_lock(Oid relid, int64 customer);

/* What the claim-only rules need of a customer's past (ledger_customer_past). */
typedef struct CustomerPast
{
	bool		entered_known;	/* it entered the pool by a recorded event, at: */
	TimestampTz entered;
	bool		lost_known;		/* the claiming rep owned it before, and lost it at: */
	TimestampTz lost;
} CustomerPast;

extern void ledger_customer_past(Oid relid, int64 customer, int64 rep, bool want_lost,
								 CustomerPast *past);
extern bool ledger_spell_start(Oid relid, int64 customer, TimestampTz *since);
extern void ledger_truncate(Oid relid, TimestampTz at);

/* ownership.c */
typedef enum OwnershipOp
{
	OP_CLAIM,
	OP_RELEASE,
	OP_ASSIGN,
	OP_TRANSFER,
	OP_RECYCLE,					/* recycle.c: back to the pool by a recycle rule */
	OP_DIRECT					/* plain SQL: INSERT, UPDATE or DELETE */
} OwnershipOp;

typedef struct OwnershipIntent
{
	Oid			relid;
	int64		customer;
	OwnershipOp op;
	int64		rep;			/* claim/assign: the new owner; release: the owner */
	int64		from_rep;		/* transfer: the expected current owner */
	const char *reason;
	const char *how;			/* recorded instead of the operation's name (recycle: the rule) */
	const char *actor;			/* recorded instead of crmpool.actor / the current role */
	/* a batch (recycling): these customers, ascending, each with its own how; else customer */
	int			nbatch;
	const int64 *batch;
	char	  **batch_how;
	bool		fired;			/* set by the trigger when it handled this change */
	int			nfired;			/* how many of the batch it handled */
	struct OwnershipIntent *outer;
} OwnershipIntent;

extern void ownership_push_intent(OwnershipIntent *intent);
extern void ownership_pop_intent(OwnershipIntent *intent);
extern bool ownership_has_pending(Oid relid);
extern void ownership_require_settled(Oid relid, const char *function);

/* ops.c */
extern void ops_change_owner(ManagedRel *mr, OwnershipIntent *in, bool has_owner, int64 owner);
extern void ops_release_batch(ManagedRel *mr, OwnershipIntent *in);
extern HeapTuple ops_lock_owned(ManagedRel *mr, int64 customer, int64 rep, AttrNumber att,
								const char *fname, TupleDesc *desc);

/* recycle.c */

/* What decides one customer's due time. */
typedef struct DueInput
{
	int64		owner;
	char	   *pool;
	char	   *level;
	bool		deal;
	TimestampTz since;			/* start of the spell */
	bool		has_followup;
	TimestampTz followup;		/* last follow-up (may be older than the spell) */
} DueInput;

/* When a customer is due, by which rule, and when its owner is warned. */
typedef struct Due
{
	TimestampTz due_at;
	const char *rule;
	bool		has_warn;
	TimestampTz warn_at;
} Due;

extern void due_input(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, DueInput *in);
extern bool due_compute(ManagedRel *mr, const DueInput *in, Due *out);
extern void due_store(Oid relid, int64 customer, const DueInput *in, const Due *due);
extern void due_drop(Oid relid, int64 customer);
extern void due_track(ManagedRel *mr, int64 customer, HeapTuple tuple, TupleDesc desc,
						  const TimestampTz *spell_start);
extern void due_untrack(ManagedRel *mr, int64 customer);
extern void due_check_times(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, int64 customer,
								bool check_followup, bool check_deal);
extern void due_check_followup(TimestampTz at, TimestampTz now, int64 slack, const char *where);
extern void due_forget(Oid relid);
extern void due_recompute(Oid relid);
extern List *recycle_tables(Oid relid);
extern Datum crmpool_array(Datum *elems, bool *nulls, int n, Oid type);
extern int64 recycle_table(Oid relid, int batch_size, void (*commit) (void), int64 *warned);
extern void recycle_report_failure(const char *name, ErrorData *edata);

/* worker.c */
extern void worker_register(void);

/* tables.c */
typedef enum ColumnRole
{
	COLUMN_KEY,
	COLUMN_OWNER,
	COLUMN_POOL,
	COLUMN_FOLLOWUP,
	COLUMN_DEAL,
	COLUMN_LEVEL,
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

/* identity.c */
extern void identity_forget_table(Oid relid);


#endif							/* CRMPOOL_H */
