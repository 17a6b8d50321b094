/*
 * crmpool.h: what every C file of crmpool needs (SQLSTATEs, limits, statement operators, the
 * texts of its errors), and the code map.
 *
 * src/ is one directory per layer, bottom first (src/LAYERS; docs/design.md, "Layers").  A file
 * uses its own directory and the layers below, through one header per layer; never a layer
 * above.  Read it bottom-up:
 *
 * base/      base.h: what knows nothing of managed tables
 *   crmpool.h      this file;  pg_compat.h  every difference of PostgreSQL 15, 17 and 18
 *   settings.c     every crmpool.* setting
 *   clock.c        the one clock every rule reads (crmpool.fake_now)
 *   nls.c          crmpool's gettext domain (translations: po/)
 *   errors.c       the error fields and CONTEXT of refusals, refusal names, the hint of CR013
 *   objects.c      the OIDs of crmpool's own schema, owner and relations
 *   privilege.c    acting as the extension owner or a table's owner; SRF and argument helpers
 *   store.c        crmpool's own tables: fixed statements, index scans, row writes
 * norm/      normalize.h: phone, e-mail and company name to duplicate keys
 *   utf8_fold.c, company_lexicon.c, company_name.c, name_similarity.c, normalize_phone.c,
 *   normalize_email.c
 * core/      core.h
 *   rules.c        rule keys, validation, the table -> tenant -> pool -> team -> rep cascade
 *   ledger.c       bookkeeping: rep counters, ownership events, locks
 * table/     table.h: managed tables
 *   registry.c     which tables are managed: cached configuration, plans, row accessors
 *   tables.c       which tables and column types crmpool accepts; the ALTER TABLE event trigger
 *   pools.c        a table's pools, their members and admins (who may claim where)
 * track/     track.h: what is kept per customer on every change
 *   due.c          due times for recycling
 *   identity.c     identity keys and the identity trigger: duplicate detection on write
 *   history.c      history, owner_at, rep_load, ownership_log readers
 * trigger/   trigger.h
 *   ownership.c    the trigger: every ownership change is checked and recorded here
 * admin/     (nothing calls it)
 *   manage.c       manage / unmanage: attaching crmpool to a user's table
 *   set_identity.c naming the identity columns, indexing the rows already there
 *   rule_api.c     set_rules, clear_rules, rules
 *   reps.c         set_rep, reps: the reps of a table, their teams, who is inactive
 *   pools.c        create_pool, alter_pool, drop_pool, pools, set_pool_members/admins
 *   dedup_search.c find_duplicates, duplicate_groups, duplicate_warnings
 *   repair.c       check / repair: crmpool's bookkeeping against the table, after a bypass
 * ops/       ops.h
 *   ops.c          claim, claim_many, release, assign, transfer, hand_over, lock, unlock
 *   recycle.c      recycling: follow-ups, warnings, recycle batches
 * entry/     entry.h
 *   crmpool.c      module entry point (_PG_init)
 *   worker.c       background worker: launcher and per-database maintenance runs
 */
#ifndef CRMPOOL_H
#define CRMPOOL_H

#include "postgres.h"

#include "base/pg_compat.h"

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
/* A claim from a pool whose members (crmpool.set_pool_members) do not include the rep. */
#define ERRCODE_CRMPOOL_NOT_MEMBER			MAKE_SQLSTATE('C','R','0','1','2')
/* The rep was set inactive (crmpool.set_rep(..., active => false)): it gains no customer. */
#define ERRCODE_CRMPOOL_INACTIVE_REP		MAKE_SQLSTATE('C','R','0','1','4')
/*
 * crmpool's bookkeeping disagrees with the table: its triggers were bypassed (DISABLE TRIGGER,
 * session_replication_role = replica).  Not XX001 (data_corrupted): nothing is corrupt on disk,
 * the state is known and crmpool.repair() brings it back in step.
 */
#define ERRCODE_CRMPOOL_OUT_OF_STEP			MAKE_SQLSTATE('C','R','0','1','3')
/* A claim of a customer with a deal, where the rule claim_with_deal is false. */
#define ERRCODE_CRMPOOL_HAS_DEAL			MAKE_SQLSTATE('C','R','0','1','5')
#define ERRCODE_CRMPOOL_DUPLICATE			MAKE_SQLSTATE('C','R','0','2','0')

/*
 * Lengths of text crmpool stores, in characters (docs/reference.md, "Limits").  A pool name, a
 * tenant and a team are parts of crmpool.rule_set's unique index, whose entries must stay under
 * 2.7 kB: three times 200 characters of at most 4 bytes (2,400 bytes) fit with room to spare.
 * Reasons, notes and actors are not indexed; their limits keep the history readable and the
 * ledger's rows small.
 */
#define CRMPOOL_POOL_MAX_CHARS		200
#define CRMPOOL_TENANT_MAX_CHARS	200
#define CRMPOOL_TEAM_MAX_CHARS		200
#define CRMPOOL_REASON_MAX_CHARS	1000
#define CRMPOOL_NOTE_MAX_CHARS		10000
#define CRMPOOL_ACTOR_MAX_CHARS		200
/*
 * A tenant's text (its column's value: an integer, or a text such as a UUID) in bytes.  Short
 * enough to key fixed-size hash entries (repair.c) and to lead every bookkeeping index.
 */
#define CRMPOOL_TENANT_MAX_BYTES	63

/* The actor of recycling's events; crmpool.actor may not take it (settings.c, check_actor). */
#define CRMPOOL_RECYCLER_ACTOR		"crmpool"

/*
 * Operators in the text of crmpool's statements, qualified: a kept plan is analyzed again under
 * the search_path of whoever runs it next, which must not pick an operator of its own.
 */
#define EQ " OPERATOR(pg_catalog.=) "
#define LE " OPERATOR(pg_catalog.<=) "
#define PLUS " OPERATOR(pg_catalog.+) "

/*
 * Translations.  crmpool's messages are in its own gettext domain, "crmpool-<major>" (po/;
 * _PG_init binds it; nls.c returns its name), defined here as PL/pgSQL's plpgsql.h does: every
 * file that reports an error includes this header through its layer's.  ereport's errmsg,
 * errdetail, errhint and errcontext look their text up there; a fragment that goes into a
 * message through %s is looked up with _().  Translatable text has no INT64_FORMAT (xgettext
 * cannot see through the macro): int64 values go as %lld with a (long long) cast.
 */
extern const char *crmpool_textdomain(void);

#undef TEXTDOMAIN
#define TEXTDOMAIN crmpool_textdomain()
#undef _
#define _(x) dgettext(TEXTDOMAIN, x)

/*
 * errors.c: the error fields of a refusal (docs/reference.md, "Error fields").  Every ereport
 * with a crmpool SQLSTATE ends its list with
 *     crmpool_refusal(relid, att, "rule", ERR_REP(rep), ERR_CUSTOMER(customer), ...)
 * which sets schema_name and table_name (relid), column_name (att, or InvalidAttrNumber),
 * constraint_name (the rule key or refusal name) and datatype_name (the facts, as JSON), and
 * drops crmpool's own statement from the error's CONTEXT (crmpool_statement_begin).
 */
typedef enum RefusalFact
{
	REFUSAL_END,
	REFUSAL_REP,
	REFUSAL_CUSTOMER,
	REFUSAL_OWNER,
	REFUSAL_COUNT,
	REFUSAL_LIMIT,
	REFUSAL_UNTIL,				/* a TimestampTz */
	REFUSAL_DUPLICATE_OF
} RefusalFact;

#define ERR_REP(v)		REFUSAL_REP, ((int64) (v))
#define ERR_CUSTOMER(v) REFUSAL_CUSTOMER, ((int64) (v))
#define ERR_OWNER(v)	REFUSAL_OWNER, ((int64) (v))
#define ERR_COUNT(v)	REFUSAL_COUNT, ((int64) (v))
#define ERR_LIMIT(v)	REFUSAL_LIMIT, ((int64) (v))
#define ERR_UNTIL(v)	REFUSAL_UNTIL, ((int64) (v))
#define ERR_DUPLICATE_OF(v) REFUSAL_DUPLICATE_OF, ((int64) (v))
#define crmpool_refusal(...) crmpool_refusal_fields(__VA_ARGS__, REFUSAL_END)
extern int	crmpool_refusal_fields(Oid relid, AttrNumber att, const char *rule,...);

/*
 * Around SPI_execute_plan of a statement crmpool runs for an operation (claim, release, ...):
 * a refusal raised inside it does not show that statement in its CONTEXT.
 */
struct _SPI_plan;
extern void crmpool_statement_begin(ErrorContextCallback *mark, struct _SPI_plan *plan);
extern void crmpool_statement_end(ErrorContextCallback *mark);

/* The short name of a refusal (claim_many's outcome), or NULL if sqlerrcode is not one. */
extern const char *crmpool_refusal_name(int sqlerrcode);
/* The hint of every CR013 error: check() and repair() the table. */
extern int	crmpool_repair_hint(Oid relid);

#endif							/* CRMPOOL_H */
