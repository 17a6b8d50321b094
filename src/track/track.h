/*
 * track.h: what crmpool keeps per customer on every change: due times (due.c) and identity
 * keys (identity.c); history.c reads the history.
 */
#ifndef CRMPOOL_TRACK_H
#define CRMPOOL_TRACK_H

#include "table/table.h"
#include "norm/normalize.h"

/* due.c */
/* What decides one customer's due time. */
typedef struct DueInput
{
	CrmpoolTenant tenant;			/* the customer's tenant: rules are looked up for it */
	int64		owner;
	char	   *pool;
	char	   *level;
	bool		deal;
	bool		locked;			/* recycled only if lock_blocks leaves out "recycle" */
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
extern void due_store(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer, const DueInput *in,
					  const Due *due);
extern void due_drop(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer);
extern void due_track(ManagedRel *mr, CrmpoolTenant tenant, int64 customer, HeapTuple tuple,
					  TupleDesc desc, const TimestampTz *spell_start);
extern void due_track_spell(ManagedRel *mr, CrmpoolTenant tenant, int64 customer, HeapTuple tuple,
							TupleDesc desc, TimestampTz spell_start, bool locked);
extern void due_untrack(ManagedRel *mr, CrmpoolTenant tenant, int64 customer);
extern void due_check_times(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, int64 customer,
							bool check_followup, bool check_deal);
extern void due_check_followup(TimestampTz at, TimestampTz now, int64 slack, const char *where);
extern void due_forget(CrmpoolTableId table);
extern void due_recompute(Oid relid);

/* identity.c */
#define IDENTITY_KIND_PHONE 'p'
#define IDENTITY_KIND_EMAIL 'e'
/* A match, never a stored key: the same main line as a phone key, another or no extension. */
#define IDENTITY_KIND_PHONE_MAIN 'm'
/* Its score: below an exact line (1), so that a rule can tell them apart. */
#define IDENTITY_PHONE_MAIN_SCORE 0.9f

/*
 * The longest name core crmpool indexes, in bytes: crmpool.identity_name's btree on (tenant, table_id, core)
 * takes entries of at most 2704 bytes.  A longer core (a "company name" of some 700 Chinese or
 * 2000 Latin characters) is refused with a clear error rather than failing deep in the index.
 */
#define IDENTITY_MAX_CORE_BYTES 2000

/*
 * What identifies one customer: normalized exact keys (one per phone or e-mail column, as many
 * as the table names) and the parsed company name.  Zeroed memory is an empty set.
 */
typedef struct IdentityKeys
{
	int			nkeys;
	int			maxkeys;		/* allocated length of kinds and keys */
	char	   *kinds;
	char	  **keys;
	bool		has_name;		/* a name with a distinctive core */
	char	   *name;
	CompanyName parsed;
	int32	   *tokens;
	int			ntokens;
} IdentityKeys;

/* A match against an existing customer. */
typedef struct IdentityMatch
{
	int64		customer;
	char		kind;			/* IDENTITY_KIND_* or 'n' for the name */
	float4		score;
	char	   *name;			/* name matches: the existing customer's name */
} IdentityMatch;

/* Which columns of a row are its identity columns. */
typedef struct IdentityColumns
{
	AttrNumber	name_att;
	int			nphones;
	AttrNumber *phone_atts;
	int			nemails;
	AttrNumber *email_atts;
} IdentityColumns;

extern void identity_column_keys(const IdentityColumns *ic, HeapTuple tup, TupleDesc desc,
								 IdentityKeys *ik);
extern void identity_add_key(IdentityKeys *ik, char kind, char *key);
extern void identity_row_keys(ManagedRel *mr, HeapTuple tup, TupleDesc desc, IdentityKeys *ik);
extern void identity_replace_keys(ManagedRel *mr, CrmpoolTenant tenant, int64 customer,
								  const IdentityKeys *had, const IdentityKeys *ik);
extern void identity_name_too_long(Oid relid, const char *what, int core_bytes);
extern void identity_set_name(IdentityKeys *ik, const char *name, int len);
extern const char *identity_kind_name(char kind);
extern double identity_threshold(const RuleSet *rules);
extern char *identity_email_key(const char *s, int len);
extern int	identity_email_folds(const RuleSet *rules);
extern bool identity_same_mailbox(const char *a, const char *b, int folds);

/* Inside a ledger session (SPI, extension owner). */
extern int	identity_key_matches(CrmpoolTableId table, CrmpoolTenant tenant, char kind, const char *key,
								 int64 exclude, bool main, int folds, bool first_of_each,
								 IdentityMatch *out, int max);
extern int	identity_name_matches(CrmpoolTableId table, CrmpoolTenant tenant, const IdentityKeys *ik,
								  int64 exclude, double min_score, IdentityMatch **out);
extern void identity_forget_table(CrmpoolTableId table);

#endif							/* CRMPOOL_TRACK_H */
