/*
 * crmpool.h: declarations shared by crmpool's C files.
 *
 * One concern per file:
 *   crmpool.c    module entry point (_PG_init)
 *   guc.c        the crmpool.* settings
 *   clock.c      the one clock every rule reads (crmpool.fake_now)
 *   privilege.c  running bookkeeping as the extension owner; SRF helper
 *   registry.c   which tables are managed: cached configuration and plans
 *   rules.c      rule keys, validation, the table -> pool -> rep cascade
 *   ledger.c     bookkeeping tables: rep counters, ownership events, locks
 *   ownership.c  the trigger: every ownership change is checked and recorded here
 *   ops.c        claim, claim_many, release, assign, transfer, lock, unlock
 *   manage.c     manage / unmanage: attaching crmpool to a user's table
 *   history.c    history, owner_at, rep_load, ownership_log readers
 *   identity.c   duplicate detection on write: identity keys, the identity trigger, set_identity
 *   dedup_search.c  find_duplicates, duplicate_groups, duplicate_warnings
 *   recycle.c    recycling: due times, follow-ups, warnings, recycle batches
 *   worker.c     background worker: launcher and per-database maintenance runs
 */
#ifndef CRMPOOL_H
#define CRMPOOL_H

#include "postgres.h"

#include "access/htup.h"
#include "access/tupdesc.h"
#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "utils/date.h"
#include "utils/jsonb.h"

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
#define ERRCODE_CRMPOOL_DUPLICATE			MAKE_SQLSTATE('C','R','0','2','0')

/* The short name of a refusal (claim_many's outcome), or NULL if sqlerrcode is not one. */
extern const char *crmpool_refusal_name(int sqlerrcode);

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

/* privilege.c */
typedef struct OwnerContext
{
	Oid			saved_user;
	int			saved_sec_context;
	const char *saved_actor;	/* ledger: the enclosing session's actor */
} OwnerContext;

extern Oid	crmpool_schema_oid(void);
extern void crmpool_become_owner(OwnerContext *ctx);
extern void crmpool_restore_user(OwnerContext *ctx);
extern const char *crmpool_actor_name(void);
extern bool crmpool_is_owner(Oid relid);
extern void crmpool_require_owner(Oid relid);
extern void crmpool_require_select(Oid relid);
extern SPIPlanPtr crmpool_keep_plan(const char *sql, int nargs, Oid *argtypes);
extern void crmpool_init_srf(FunctionCallInfo fcinfo);

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
extern void crmpool_require_arg(FunctionCallInfo fcinfo, int argno, const char *name);
extern int	crmpool_begin_admin(OwnerContext *octx);
extern void crmpool_end_admin(OwnerContext *octx, int nestlevel);
extern void crmpool_admin_exec(const char *sql, int nargs, Oid *types, Datum *values);

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
	SPIPlanPtr	next_rep_plan;	/* recycle.c: lock the customer due first */
	SPIPlanPtr	pick_plan;		/* recycle.c: lock one rep's due customers */
	int			pick_batch;		/* the batch size pick_plan was prepared for */
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
extern SPIPlanPtr managed_set_owner_plan(ManagedRel *mr);
extern SPIPlanPtr managed_lock_row_plan(ManagedRel *mr);
extern SPIPlanPtr managed_lock_many_plan(ManagedRel *mr);
extern SPIPlanPtr managed_release_many_plan(ManagedRel *mr);
extern bool managed_locate(ManagedRel *mr, int64 customer, bool *has_owner, int64 *owner,
						   char **pool);
extern int64 managed_int_value(Oid type, Datum d);
extern bool managed_owner(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, int64 *owner);
extern int64 managed_key(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
extern char *managed_pool_text(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
extern char *managed_level_text(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
extern bool managed_has_deal(ManagedRel *mr, HeapTuple tuple, TupleDesc desc);
extern bool managed_followup(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, TimestampTz *at);
extern void managed_row_tuple(Datum row, HeapTupleData *tuple);
extern HeapTuple managed_row_from_datum(Datum row, TupleDesc *desc);

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

/* ops.c */
extern void ops_change_owner(ManagedRel *mr, OwnershipIntent *in, bool has_owner, int64 owner);
extern void ops_release_batch(ManagedRel *mr, OwnershipIntent *in);
extern HeapTuple ops_lock_owned(ManagedRel *mr, int64 customer, int64 rep, TupleDesc *desc);

/* recycle.c */
extern int	crmpool_recycle_batch_size;
extern void recycle_define_gucs(void);
extern void recycle_track(ManagedRel *mr, int64 customer, HeapTuple tuple, TupleDesc desc,
						  const TimestampTz *spell_start);
extern void recycle_untrack(ManagedRel *mr, int64 customer);
extern void recycle_forget(Oid relid);
extern void recycle_recompute(Oid relid);
extern List *recycle_tables(Oid relid);
extern int64 recycle_table(Oid relid, int batch_size, void (*commit) (void), int64 *warned);

/* worker.c */
extern void worker_define_gucs(void);
extern void worker_register(void);

/* identity.c */
extern void identity_forget_table(Oid relid);

#endif							/* CRMPOOL_H */
