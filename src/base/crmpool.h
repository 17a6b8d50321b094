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

/* errors.c: the short name of a refusal (claim_many's outcome), or NULL if sqlerrcode is not one. */
extern const char *crmpool_refusal_name(int sqlerrcode);
/* The hint of every CR013 error: check() and repair() the table. */
extern int	crmpool_repair_hint(Oid relid);

#endif							/* CRMPOOL_H */
