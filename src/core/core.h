/*
 * core.h: rules (what a table's rules say) and the ledger (crmpool's bookkeeping: counters,
 * ownership events, locks), before any managed table.
 */
#ifndef CRMPOOL_CORE_H
#define CRMPOOL_CORE_H

#include "base/base.h"

/* rules.c */
typedef enum RuleKey
{
	RULE_PRIVATE_CAP,
	RULE_COUNT_DEALS_IN_CAP,
	RULE_LOCK_CAP,
	RULE_LOCK_BLOCKS,
	RULE_DAILY_CLAIM_LIMIT,
	RULE_RECLAIM_COOLDOWN,
	RULE_POOL_HOLDBACK,
	RULE_CLAIM_WITH_DEAL,
	RULE_DEDUP_PHONE,
	RULE_DEDUP_EMAIL,
	RULE_DEDUP_NAME,
	RULE_NAME_THRESHOLD,
	RULE_RECYCLE_NO_FOLLOWUP,
	RULE_RECYCLE_NO_DEAL,
	RULE_RECYCLE_EXEMPT_DEALS,
	RULE_WARN_BEFORE,
	/* issue 11, phones and e-mails */
	RULE_DEDUP_PHONE_MAIN,
	RULE_FOLD_PLUS_TAGS,
	RULE_FOLD_GMAIL_DOTS,
	RULE_AUTO_DISTRIBUTE,		/* a DistributeMode, or -1 */
	RULE_PERFORMANCE_SOURCE,	/* a ScoreSource */
	RULE_RECYCLE_TO_POOL,
	RULE_POOL_EXPIRE,
	RULE_POOL_EXPIRE_TO,
	NUM_RULE_KEYS
} RuleKey;

/* Values of the dedup_* rules. */
typedef enum DedupPolicy
{
	DEDUP_OFF,
	DEDUP_WARN,
	DEDUP_BLOCK
} DedupPolicy;

/* The modes of crmpool.distribute() (docs/reference.md, "Distribution"). */
typedef enum DistributeMode
{
	DISTRIBUTE_ROUND_ROBIN,
	DISTRIBUTE_LOTTERY,
	DISTRIBUTE_PERFORMANCE,
	DISTRIBUTE_LEAST_BUSY
} DistributeMode;

extern const char *const distribute_mode_names[];

/* Values of rule performance_source: the performance mode's score of a rep. */
typedef enum ScoreSource
{
	SCORE_FROM_DEALS,			/* deals won in the last 30 days (crmpool's own data) */
	SCORE_FROM_APP				/* crmpool.set_rep(..., score => ...) */
} ScoreSource;

/* What a lock blocks (rule lock_blocks, a set of these bits; by default all three). */
#define LOCK_BLOCKS_RELEASE		0x01
#define LOCK_BLOCKS_TRANSFER	0x02	/* assign and transfer from the owner to another rep */
#define LOCK_BLOCKS_RECYCLE		0x04
#define LOCK_BLOCKS_ALL			0x07

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
		const char *pool;		/* a pool's name */
	}			v;
} RuleValue;

typedef struct RuleSet
{
	RuleValue	key[NUM_RULE_KEYS];
} RuleSet;

/*
 * One row of crmpool.rule_set: a scope and its rules, with optional per-level overrides.  A
 * scope names at most one of team and rep (set_rules refuses both).
 */
typedef struct RuleScope
{
	char	   *tenant;			/* NULL: every tenant; else the app's value as set */
	bool		tenant_known;	/* tenant_key is its key (src/table/tenants.c) */
	CrmpoolTenant tenant_key;
	char	   *pool;			/* NULL: every pool */
	char	   *team;			/* NULL: every team (crmpool.set_rep) */
	bool		has_rep;
	int64		rep;
	RuleSet		rules;
	int			nlevels;
	char	  **level_names;
	RuleSet    *level_rules;
} RuleScope;

extern void rules_parse(Jsonb *jb, RuleScope *scope);
extern void rules_sort_scopes(int nscopes, RuleScope *scopes);
extern void rules_effective(int nscopes, const RuleScope *scopes, const CrmpoolTenant *tenant,
							const char *pool, const char *team, bool has_rep, int64 rep,
							const char *level, RuleSet *out);
extern bool rule_limit(const RuleSet *rs, RuleKey key, int64 *limit);
extern bool rule_span(const RuleSet *rs, RuleKey key, Interval *span);
extern bool rule_flag(const RuleSet *rs, RuleKey key);
extern int	rule_choice(const RuleSet *rs, RuleKey key);
extern int	rules_distribute_mode(const char *name);
extern const char *rule_pool(const RuleSet *rs, RuleKey key);
extern bool rules_any(int nscopes, const RuleScope *scopes, RuleKey key);
extern double rule_real(const RuleSet *rs, RuleKey key, double dflt);
extern bool rules_recycle(int nscopes, const RuleScope *scopes);
extern bool rules_touch_due(const RuleScope *scope);
extern bool rules_key_touches_due(const char *name);
extern Jsonb *rules_jsonb(const RuleSet *rs, int nlevels, char **level_names, RuleSet *level_sets);
extern void rules_refuse_level_keys(const RuleScope *scope);

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
/*
 * Every function taking a table id and a tenant keeps its state under (tenant, table_id): the
 * table's id is ManagedRel.table_id (base.h, CrmpoolTableId), the tenant the key of the row's
 * tenant (managed_tenant), CRMPOOL_NO_TENANT for a table without one.  relid, where also
 * taken, only names the table in an error.
 */
extern void ledger_apply(Oid relid, CrmpoolTableId table, CrmpoolTenant tenant, int64 rep,
						 int owned, int with_deal, int locked, int claims, DateADT today,
						 RepCounts *after);
extern void ledger_set_actor(const char *actor);
extern void ledger_locked_changed(Oid relid, CrmpoolTableId table, CrmpoolTenant tenant,
								  int64 rep, int delta, int64 *locked_after);
typedef struct LedgerEvents LedgerEvents;
extern LedgerEvents *ledger_events_begin(void);
extern void ledger_events_add(LedgerEvents *le, CrmpoolTableId table, CrmpoolTenant tenant,
							  int64 customer, TimestampTz at, bool has_owner, int64 owner,
							  const char *how, const char *reason, const char *actor);
extern void ledger_events_end(LedgerEvents *le);
extern void ledger_record(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer,
						  TimestampTz at, bool has_owner, int64 owner, const char *how,
						  const char *reason, const char *actor);
extern const char *ledger_current_actor(void);
extern bool ledger_lock_holder(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer,
							   int64 *rep, TimestampTz *since);
extern bool ledger_add_lock(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer, int64 rep,
							TimestampTz at);
extern bool ledger_drop_lock(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer);

/* What the claim-only rules need of a customer's past (ledger_customer_past). */
typedef struct CustomerPast
{
	bool		entered_known;	/* it entered the pool by a recorded event, at: */
	TimestampTz entered;
	bool		lost_known;		/* the claiming rep owned it before, and lost it at: */
	TimestampTz lost;
} CustomerPast;

extern void ledger_customer_past(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer,
								 int64 rep, bool want_lost, CustomerPast *past);
extern bool ledger_spell_start(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer,
							   TimestampTz *since);
extern void ledger_truncate(CrmpoolTableId table, TimestampTz at);

#endif							/* CRMPOOL_CORE_H */
