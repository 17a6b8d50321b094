/*
 * ownership.c: the one place where ownership changes are checked and recorded.
 *
 * Every managed table carries crmpool's AFTER ROW trigger (INSERT, UPDATE, DELETE; an UPDATE
 * that changes none of the key, owner, deal, follow-up, level and pool columns is skipped first
 * thing) and an AFTER TRUNCATE trigger.  Whatever wrote the change (a crmpool function, an
 * app's UPDATE, an import, psql), the trigger decides with the same rules:
 *
 *   - crmpool's functions announce what they are doing with an intent (claim, release, assign,
 *     transfer, recycle, and for whom) before running their UPDATE; the trigger applies that
 *     operation's rules to the row it sees;
 *   - a change with no intent is a direct write, checked according to crmpool.direct_writes:
 *     a new owner is an assign when the writing role may call crmpool.assign(), otherwise a
 *     claim by the new owner (from another owner: refused); owner NULL is a release.  Moving
 *     an owned customer to another pool is an assign into it (refused to other roles), and
 *     clearing a deal that the cap did not count is a gain: both checked at statement end.
 *
 * Two phases keep the lock order (customer rows, then rep counter rows in ascending rep order;
 * docs/design.md) even for statements that change many rows:
 *
 *   1. the AFTER ROW trigger checks each row's change against its customer's state (owned, not
 *      the owner, locked, hold-back, cooldown) and queues its counter changes and its event;
 *   2. the AFTER STATEMENT trigger applies the queued counter changes sorted by table and rep,
 *      each rep's row once, checks the caps and daily limits against the counts it gets back,
 *      and records the events while those rows are held.
 *
 * AFTER triggers fire once the statement has locked and written all its rows, and the trigger
 * sees the row version that was actually replaced (under READ COMMITTED, the latest committed
 * one), so "already owned" is decided on the truth, never on a stale read.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "commands/trigger.h"
#include "miscadmin.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "replication/logicalworker.h"
#include "storage/buffile.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/datum.h"
#include "utils/timestamp.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/resowner.h"

#include "trigger/trigger.h"

static OwnershipIntent *current_intent = NULL;

void
ownership_push_intent(OwnershipIntent *intent)
{
	intent->fired = false;
	intent->nfired = 0;
	intent->outer = current_intent;
	current_intent = intent;
}

void
ownership_pop_intent(OwnershipIntent *intent)
{
	current_intent = intent->outer;
}

/*
 * The intent announced for this customer, and the `how` to record for it.  An intent stays
 * pushed only while its own statement runs; error unwinding pops it.
 */
static OwnershipIntent *
intent_for(Oid relid, int64 customer, const char **how)
{
	OwnershipIntent *in;

	for (in = current_intent; in != NULL; in = in->outer)
	{
		if (in->relid != relid)
			continue;
		if (in->batch != NULL)
		{
			int			lo = 0,
						hi = in->nbatch - 1;

			while (lo <= hi)
			{
				int			mid = (lo + hi) / 2;

				if (in->batch[mid] == customer)
				{
					*how = in->batch_how[mid];
					return in;
				}
				if (in->batch[mid] < customer)
					lo = mid + 1;
				else
					hi = mid - 1;
			}
		}
		else if (in->customer == customer && !in->fired)
		{
			*how = in->how;
			return in;
		}
	}
	return NULL;
}

/* One row's change, as the trigger sees it. */
typedef struct Change
{
	int64		customer;
	const char *tenant;			/* the row's tenant (managed_tenant) */
	bool		had_owner;
	int64		old_owner;
	bool		has_owner;
	int64		new_owner;
	bool		old_deal;
	bool		new_deal;
	char	   *pool;			/* the customer's pool after the change (NULL: default) */
	const char *how;			/* recorded in the ledger */
	HeapTuple	newtup;			/* the row after the change; NULL when deleted */
	TupleDesc	desc;
} Change;

static const char *
tabname(ManagedRel *mr)
{
	return get_rel_name(mr->relid);
}

static void
refuse_locked(ManagedRel *mr, Change *ch)
{
	int64		holder;
	TimestampTz since;

	if (ledger_lock_holder(mr->relid, ch->tenant, ch->customer, &holder, &since))
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_LOCKED),
				 errmsg("customer " INT64_FORMAT " is locked", ch->customer),
				 errdetail("Rep " INT64_FORMAT " locked customer " INT64_FORMAT " of table %s at %s.",
						   holder, ch->customer, tabname(mr), crmpool_timestamp_text(since)),
				 errhint("Unlock it with crmpool.unlock() first.")));
}

/* Claim-only rules on the customer's past: hold-back after entering the pool, reclaim cooldown. */
static void
check_claim_timing(ManagedRel *mr, Change *ch, const RuleSet *rules, TimestampTz now)
{
	Interval	holdback;
	Interval	cooldown;
	bool		has_holdback = rule_span(rules, RULE_POOL_HOLDBACK, &holdback);
	bool		has_cooldown = rule_span(rules, RULE_RECLAIM_COOLDOWN, &cooldown);
	CustomerPast past;

	if (!has_holdback && !has_cooldown)
		return;
	ledger_customer_past(mr->relid, ch->tenant, ch->customer, ch->new_owner, has_cooldown, &past);

	if (has_holdback && past.entered_known)
	{
		TimestampTz from = crmpool_add_interval(past.entered, &holdback);

		if (now < from)
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_HOLDBACK),
					 errmsg("customer " INT64_FORMAT " is held back in the pool", ch->customer),
					 errdetail("The customer entered the pool at %s; pool_holdback is %s, so it can be claimed from %s.",
							   crmpool_timestamp_text(past.entered), crmpool_interval_text(&holdback),
							   crmpool_timestamp_text(from))));
	}
	if (has_cooldown && past.lost_known)
	{
		TimestampTz from = crmpool_add_interval(past.lost, &cooldown);

		if (now < from)
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_COOLDOWN),
					 errmsg("rep " INT64_FORMAT " may not reclaim customer " INT64_FORMAT " yet",
							ch->new_owner, ch->customer),
					 errdetail("Rep " INT64_FORMAT " lost the customer at %s; reclaim_cooldown is %s, so the rep may claim it again from %s.",
							   ch->new_owner, crmpool_timestamp_text(past.lost),
							   crmpool_interval_text(&cooldown), crmpool_timestamp_text(from))));
	}
}

/* ---------------------------------------------------------------------------------------------
 * Counter changes and events, queued per statement
 * -------------------------------------------------------------------------------------------*/

/*
 * What a statement's row triggers leave for its statement trigger.  Every item carries the
 * subtransaction that queued it.  Items queued after a subtransaction began carry it or one of
 * its children, whose ids are all higher, and items queued before carry lower ids: so an
 * aborted subtransaction drops exactly the items whose id is at least its own, and those are
 * the newest events (a suffix of the queue).  The items live in TopTransactionContext.
 *
 * The queue does not grow in memory with the rows.  Counter changes are summed as they come,
 * into one entry per rep (and subtransaction, table, pool and kind); events are small records
 * whose strings are interned once per transaction, EVENT_CHUNK of them in memory and any more
 * in a temporary file.
 *
 * The two hash tables themselves outlive the transaction, emptied at its end (creating both
 * cost about 5,500 instructions per transaction, over 1% of a claim and a release): they live
 * in pending_cxt, while what their entries point to (interned strings) is the transaction's.  A transaction that filled them with more
 * than PENDING_KEEP entries frees them instead, so that a bulk statement's peak is not kept.
 */
typedef struct PendingKey
{
	SubTransactionId subid;
	Oid			relid;
	const char *tenant;			/* interned: equal tenants are one pointer */
	int64		rep;
	const char *pool;			/* interned; NULL unless checked */
	bool		check;			/* checked gains: cap (and, for claims, daily limit) */
	bool		check_lock;		/* locked customers moved to this pool: its lock cap too */
	bool		claim;
} PendingKey;

/* One rep's counter changes of one kind; checked against the rules after the counts are in. */
typedef struct PendingCount
{
	PendingKey	key;
	int			owned;			/* summed deltas */
	int			with_deal;
	int			locked;
	int			claims;
	int			gains;			/* rows that gained the rep a customer the cap counts */
	int64		first;			/* the lowest customer: checks run in customer order */
} PendingCount;

/* One ownership change for the ledger, recorded once the counter rows are held. */
typedef struct PendingEvent
{
	SubTransactionId subid;
	Oid			relid;
	const char *tenant;			/* interned */
	int64		customer;
	int64		owner;
	bool		has_owner;
	const char *how;			/* static string */
	const char *reason;			/* interned */
	const char *actor;			/* interned: who acted when the row changed */
} PendingEvent;

/* Events in memory; a full chunk goes to the file, at a whole number of blocks. */
#define EVENT_CHUNK BLCKSZ
#define CHUNK_BLOCKS(c) ((long) (c) * sizeof(PendingEvent))

#define PENDING_KEEP 64

static MemoryContext pending_cxt = NULL;
static HTAB *counts = NULL;
static HTAB *strings = NULL;
static long counts_peak = 0;	/* most entries counts held in this transaction */
static PendingEvent *events = NULL;
static int	nevents = 0;		/* in memory */
static BufFile *event_file = NULL;
static int64 event_chunks = 0;	/* full chunks in event_file */
static SubTransactionId first_subid;	/* of the oldest queued event */
static bool pending_callbacks = false;

static int64
events_queued(void)
{
	return event_chunks * EVENT_CHUNK + nevents;
}

/* Read chunk c of the event file into events[]. */
static void
event_chunk_read(int64 c, PendingEvent *into)
{
	if (BufFileSeekBlock(event_file, CHUNK_BLOCKS(c)) != 0 ||
		BufFileRead(event_file, into, EVENT_CHUNK * sizeof(PendingEvent)) !=
		EVENT_CHUNK * sizeof(PendingEvent))
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not read crmpool's queued events from a temporary file: %m")));
}

/*
 * Where the events of subtransaction subid (and its children) begin: all the events from there
 * on are theirs.  Before them there can only be an outer statement's, when a trigger of that
 * statement ran this one (in a subtransaction of its own, if subid is higher than theirs).
 */
static int64
events_since(SubTransactionId subid)
{
	int64		from = events_queued();
	int64		c = event_chunks;
	PendingEvent *chunk = NULL;
	int			i;

	if (from == 0 || first_subid >= subid)
		return 0;
	for (i = nevents; i > 0 && events[i - 1].subid >= subid; i--)
		from--;
	while (i == 0 && c > 0)
	{
		if (chunk == NULL)
			chunk = palloc(EVENT_CHUNK * sizeof(PendingEvent));
		event_chunk_read(--c, chunk);
		for (i = EVENT_CHUNK; i > 0 && chunk[i - 1].subid >= subid; i--)
			from--;
	}
	if (chunk != NULL)
		pfree(chunk);
	return from;
}

/* Drop the events from position `from` on. */
static void
events_truncate(int64 from)
{
	if (from < event_chunks * EVENT_CHUNK)
	{
		/* the chunk the queue now ends in comes back to memory, where the queue goes on */
		event_chunks = from / EVENT_CHUNK;
		nevents = from % EVENT_CHUNK;
		if (nevents > 0)
			event_chunk_read(event_chunks, events);
	}
	else
		nevents = from - event_chunks * EVENT_CHUNK;
	if (event_chunks == 0 && event_file != NULL)
	{
		BufFileClose(event_file);
		event_file = NULL;
	}
}

static void
pending_subxact(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid,
				void *arg)
{
	HASH_SEQ_STATUS seq;
	PendingCount *p;

	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	if (counts != NULL && hash_get_num_entries(counts) > 0)
	{
		hash_seq_init(&seq, counts);
		while ((p = hash_seq_search(&seq)) != NULL)
			if (p->key.subid >= mySubid)
				hash_search(counts, &p->key, HASH_REMOVE, NULL);
	}
	events_truncate(events_since(mySubid));
}

/* Empty the hash tables for the next transaction, or free them if this one made them big. */
static void
pending_reset(void)
{
	HASH_SEQ_STATUS seq;
	void	   *entry;

	if (counts == NULL)
		return;
	if (counts_peak > PENDING_KEEP || hash_get_num_entries(strings) > PENDING_KEEP)
	{
		MemoryContextReset(pending_cxt);
		counts = strings = NULL;
	}
	else
	{
		/* removing the entry just returned is allowed during a scan; an empty one is skipped */
		HTAB	   *tables[] = {counts, strings};
		int			i;

		for (i = 0; i < lengthof(tables); i++)
		{
			if (hash_get_num_entries(tables[i]) == 0)
				continue;
			hash_seq_init(&seq, tables[i]);
			while ((entry = hash_seq_search(&seq)) != NULL)
				hash_search(tables[i], entry, HASH_REMOVE, NULL);
		}
	}
	counts_peak = 0;
}

static void
pending_xact(XactEvent event, void *arg)
{
	/* only possible if the statement trigger was disabled: never let the counts drift */
	if (crmpool_xact_finishing(event) &&
		((counts != NULL && hash_get_num_entries(counts) > 0) || events_queued() > 0))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("crmpool has ownership changes that no statement trigger applied"),
				 errhint("Do not disable crmpool's triggers one by one; detach the table with crmpool.unmanage().")));
	if (crmpool_xact_ended(event))
	{
		pending_reset();
		/* they lived in TopTransactionContext; the file goes with the transaction's resources */
		events = NULL;
		event_file = NULL;
		nevents = 0;
		event_chunks = 0;
	}
}

static uint32
string_hash_ptr(const void *key, Size keysize)
{
	const char *s = *(const char *const *) key;

	return hash_bytes((const unsigned char *) s, strlen(s));
}

static int
string_match_ptr(const void *a, const void *b, Size keysize)
{
	return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Set up the queue for this transaction, on first use. */
static void
pending_start(void)
{
	HASHCTL		ctl;

	if (!pending_callbacks)
	{
		RegisterXactCallback(pending_xact, NULL);
		RegisterSubXactCallback(pending_subxact, NULL);
		pending_callbacks = true;
	}
	if (events == NULL)
		events = MemoryContextAlloc(TopTransactionContext, EVENT_CHUNK * sizeof(PendingEvent));
	if (counts != NULL)
		return;
	if (pending_cxt == NULL)
		pending_cxt = AllocSetContextCreate(TopMemoryContext, "crmpool pending",
											ALLOCSET_SMALL_SIZES);
	/* strings first: counts set means both are there */
	if (strings == NULL)
	{
		ctl.keysize = sizeof(char *);
		ctl.entrysize = sizeof(char *);
		ctl.hash = string_hash_ptr;
		ctl.match = string_match_ptr;
		ctl.hcxt = pending_cxt;
		strings = hash_create("crmpool pending strings", 16, &ctl,
							  HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
	}
	ctl.keysize = sizeof(PendingKey);
	ctl.entrysize = sizeof(PendingCount);
	ctl.hcxt = pending_cxt;
	counts = hash_create("crmpool pending counts", 16, &ctl,
						 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* The transaction's copy of s. */
static const char *
intern(const char *s)
{
	char	  **entry;
	bool		found;

	if (s == NULL)
		return NULL;
	entry = hash_search(strings, &s, HASH_ENTER, &found);
	if (!found)
		*entry = MemoryContextStrdup(TopTransactionContext, s);
	return *entry;
}

/*
 * The queue's copy of a tenant: equal tenants are one pointer (the queue compares them so).  A
 * table without tenants costs no lookup: its "" is this function's own constant.
 */
static const char *
intern_tenant(const char *tenant)
{
	return tenant[0] == '\0' ? "" : intern(tenant);
}

static PendingCount *
queue_count_key(Oid relid, const char *tenant, int64 rep, int owned, int with_deal, int locked,
				int claims, bool check, bool check_lock, int64 customer, const char *pool)
{
	PendingKey	key;
	PendingCount *p;
	bool		found;

	pending_start();
	memset(&key, 0, sizeof(key));	/* the key is hashed as bytes, padding included */
	key.subid = GetCurrentSubTransactionId();
	key.relid = relid;
	key.tenant = intern_tenant(tenant);
	key.rep = rep;
	key.check = check;
	key.check_lock = check_lock;
	key.claim = claims > 0;
	key.pool = check ? intern(pool) : NULL;
	p = hash_search(counts, &key, HASH_ENTER, &found);
	if (!found)
	{
		counts_peak = Max(counts_peak, hash_get_num_entries(counts));
		p->owned = p->with_deal = p->locked = p->claims = p->gains = 0;
		p->first = customer;
	}
	p->owned += owned;
	p->with_deal += with_deal;
	p->locked += locked;
	p->claims += claims;
	/* a checked deal that falls through (deals not counted) is a gain too */
	p->gains += owned > 0 || (check && owned == 0 && with_deal < 0);
	p->first = Min(p->first, customer);
	return p;
}

static void
queue_count(Oid relid, const char *tenant, int64 rep, int owned, int with_deal, int locked,
			int claims, bool check, int64 customer, const char *pool)
{
	(void) queue_count_key(relid, tenant, rep, owned, with_deal, locked, claims, check, false,
						   customer, pool);
}

static void
queue_event(Oid relid, const char *tenant, int64 customer, bool has_owner, int64 owner,
			const char *how, const char *reason)
{
	PendingEvent *e;

	pending_start();
	if (nevents == EVENT_CHUNK)
	{
		if (event_file == NULL)
		{
			/* the file belongs to the transaction, whichever subtransaction spills first */
			ResourceOwner oldowner = CurrentResourceOwner;
			MemoryContext oldcxt = MemoryContextSwitchTo(TopTransactionContext);

			CurrentResourceOwner = TopTransactionResourceOwner;
			event_file = BufFileCreateTemp(false);
			CurrentResourceOwner = oldowner;
			MemoryContextSwitchTo(oldcxt);
		}
		if (BufFileSeekBlock(event_file, CHUNK_BLOCKS(event_chunks)) != 0)
			ereport(ERROR,
					(errcode_for_file_access(),
					 errmsg("could not write crmpool's queued events to a temporary file: %m")));
		BufFileWrite(event_file, events, EVENT_CHUNK * sizeof(PendingEvent));
		event_chunks++;
		nevents = 0;
	}
	if (events_queued() == 0)
		first_subid = GetCurrentSubTransactionId();
	e = &events[nevents++];
	e->subid = GetCurrentSubTransactionId();
	e->relid = relid;
	e->tenant = intern_tenant(tenant);
	e->customer = customer;
	e->has_owner = has_owner;
	e->owner = owner;
	e->how = how;
	e->reason = intern(reason);
	e->actor = intern(ledger_current_actor());
}

/*
 * Whether this transaction has queued counter changes or events of relid that no statement
 * trigger has applied yet, at any subtransaction level: a statement writing the table is still
 * under way (its row triggers have fired, its statement trigger has not).
 */
bool
ownership_has_pending(Oid relid)
{
	HASH_SEQ_STATUS seq;
	PendingCount *p;
	PendingEvent *chunk;
	int64		c;
	int			i;
	bool		found = false;

	if (counts == NULL)
		return false;
	hash_seq_init(&seq, counts);
	while ((p = hash_seq_search(&seq)) != NULL)
		if (p->key.relid == relid)
		{
			hash_seq_term(&seq);
			return true;
		}
	/* an event with no counter change: a customer inserted or deleted without an owner */
	for (i = 0; i < nevents; i++)
		if (events[i].relid == relid)
			return true;
	if (event_chunks == 0)
		return false;
	chunk = palloc(EVENT_CHUNK * sizeof(PendingEvent));
	for (c = 0; c < event_chunks && !found; c++)
	{
		event_chunk_read(c, chunk);
		for (i = 0; i < EVENT_CHUNK && !found; i++)
			found = (chunk[i].relid == relid);
	}
	pfree(chunk);
	return found;
}

/*
 * check(), repair(), manage(), unmanage() and set_identity() read the table and write crmpool's
 * bookkeeping of it from what they read.  While a statement that changes its customers is still
 * under way, they would see its rows changed but not its counters and history, which its
 * statement trigger then applies on top of theirs: counted twice (or, after unmanage(), written
 * for a table crmpool no longer manages).  Refuse until the statement is over.
 *
 * Two queues can hold such a statement's work: ours (the row triggers have fired, the
 * statement trigger has not: a trigger of the table calling the function) and PostgreSQL's
 * after-trigger queue (the rows are written, crmpool's row triggers have not fired yet: a
 * function called in the statement itself, or from a data-modifying WITH).  The second also
 * holds a deferred constraint trigger's pending event on the table until commit: refused as
 * well, which errs on the safe side.
 */
void
ownership_require_settled(Oid relid, const char *function)
{
	if (ownership_has_pending(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s cannot run on table %s while a statement changes it",
						function, get_rel_name(relid)),
				 errdetail("A statement that changes its customers has not finished."),
				 errhint("Call it outside the statement (not from a trigger of the table).")));

	/*
	 * Rows changed whose AFTER ROW triggers, crmpool's among them, have not fired yet: the
	 * statement is still running (a function it calls, a query over a data-modifying WITH), or
	 * a deferred constraint holds its events to commit.  PostgreSQL does not say whose events
	 * they are, so both refuse; the second is cleared by SET CONSTRAINTS ALL IMMEDIATE.
	 */
	if (AfterTriggerPendingOnRel(relid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s cannot run on table %s while trigger events on it are pending",
						function, get_rel_name(relid)),
				 errdetail("Rows of the table were changed by a statement that is still running, or a deferred constraint holds their trigger events until commit."),
				 errhint("Call it outside the statement; after a write in the same transaction, run SET CONSTRAINTS ALL IMMEDIATE first if the table has deferred constraints.")));
}

static int
pending_order(const void *a, const void *b)
{
	const PendingCount *x = *(PendingCount *const *) a,
			   *y = *(PendingCount *const *) b;

	if (x->key.relid != y->key.relid)
		return x->key.relid < y->key.relid ? -1 : 1;
	if (x->key.tenant != y->key.tenant)
		return strcmp(x->key.tenant, y->key.tenant);
	if (x->key.rep != y->key.rep)
		return x->key.rep < y->key.rep ? -1 : 1;
	return x->first < y->first ? -1 : x->first > y->first ? 1 : 0;
}

/* A pool as messages name it; NULL (no pool column, or a null value) has the table's rules only. */
static char *
pool_words(const char *pool)
{
	return pool != NULL ? psprintf("pool \"%s\"", pool) : pstrdup("the default pool");
}

static void
check_quota(ManagedRel *mr, const PendingCount *p, const RepCounts *after, int gained,
			DateADT today)
{
	RuleSet		rules;
	int64		limit;
	int64		rep = p->key.rep;

	rules_effective(mr->nscopes, mr->scopes, p->key.pool, true, rep, NULL, &rules);
	if (rule_limit(&rules, RULE_PRIVATE_CAP, &limit))
	{
		int64		counted = after->owned;

		if (!rule_flag(&rules, RULE_COUNT_DEALS_IN_CAP))
			counted -= after->with_deal;
		if (counted > limit)
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_PRIVATE_CAP),
					 errmsg("rep " INT64_FORMAT " has reached the private cap", rep),
					 gained > 1 ?
					 errdetail("Rep " INT64_FORMAT " owns " INT64_FORMAT " of " INT64_FORMAT " customers allowed in table %s%s; the statement would give it %d more.",
							   rep, Max(counted - gained, 0), limit, tabname(mr),
							   rule_flag(&rules, RULE_COUNT_DEALS_IN_CAP) ? "" : " (customers with a deal not counted)",
							   gained) :
					 errdetail("Rep " INT64_FORMAT " owns " INT64_FORMAT " of " INT64_FORMAT " customers allowed in table %s%s.",
							   rep, Max(counted - gained, 0), limit, tabname(mr),
							   rule_flag(&rules, RULE_COUNT_DEALS_IN_CAP) ? "" : " (customers with a deal not counted)"),
					 errhint("Release a customer first, or raise private_cap with crmpool.set_rules().")));
	}
	if (p->key.check_lock && rule_limit(&rules, RULE_LOCK_CAP, &limit) && after->locked > limit)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_LOCK_CAP),
				 errmsg("rep " INT64_FORMAT " has reached the lock cap", p->key.rep),
				 errdetail("Rep " INT64_FORMAT " has locked " INT64_FORMAT " customers in table %s; the lock_cap of %s, where locked customer " INT64_FORMAT " moves, is " INT64_FORMAT ".",
						   p->key.rep, after->locked, tabname(mr), pool_words(p->key.pool), p->first, limit),
				 errhint("Unlock a customer first, or raise lock_cap with crmpool.set_rules().")));
	if (p->key.claim && rule_limit(&rules, RULE_DAILY_CLAIM_LIMIT, &limit) &&
		after->claims_today > limit)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_DAILY_LIMIT),
				 errmsg("rep " INT64_FORMAT " has reached the daily claim limit", rep),
				 errdetail("Rep " INT64_FORMAT " has claimed " INT64_FORMAT " of " INT64_FORMAT " customers allowed today (%s) in table %s.",
						   rep, Max(after->claims_today - gained, 0), limit,
						   DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(today))),
						   tabname(mr)),
				 errhint("The count starts again at midnight in time zone \"%s\" (crmpool.timezone).",
						 crmpool_day_timezone_name())));
}

/* Record the queued events from position `from` on, oldest first, and drop them. */
static void
flush_events(TimestampTz now, int64 from)
{
	LedgerEvents *le = ledger_events_begin();
	PendingEvent *chunk = NULL;
	int64		c;
	int			i;

	for (c = from / EVENT_CHUNK; c < event_chunks; c++)
	{
		if (chunk == NULL)
			chunk = palloc(EVENT_CHUNK * sizeof(PendingEvent));
		event_chunk_read(c, chunk);
		for (i = (c == from / EVENT_CHUNK) ? from % EVENT_CHUNK : 0; i < EVENT_CHUNK; i++)
			ledger_events_add(le, chunk[i].relid, chunk[i].tenant, chunk[i].customer, now,
							  chunk[i].has_owner,
							  chunk[i].owner, chunk[i].how, chunk[i].reason, chunk[i].actor);
	}
	for (i = Max(from - event_chunks * EVENT_CHUNK, 0); i < nevents; i++)
		ledger_events_add(le, events[i].relid, events[i].tenant, events[i].customer, now,
						  events[i].has_owner,
						  events[i].owner, events[i].how, events[i].reason, events[i].actor);
	ledger_events_end(le);
	if (chunk != NULL)
		pfree(chunk);
	events_truncate(from);
}

/*
 * Apply every queued counter change: each (table, rep) row once, in ascending order; check the
 * checked gains against the counts after the statement; then record the statement's events.
 *
 * Only the work of the current subtransaction (and its children) is the statement's.  When a
 * trigger of an outer statement runs this one in a subtransaction, the outer statement's work
 * queued so far stays queued for the outer statement: the subtransaction may still roll back
 * what this flush writes.
 */
static void
flush_pending(void)
{
	OwnerContext octx;
	TimestampTz now;
	DateADT		today;
	HASH_SEQ_STATUS seq;
	PendingCount **pending;
	PendingCount *p;
	SubTransactionId subid = GetCurrentSubTransactionId();
	int64		from;
	int			npending = 0;
	int			i,
				j;

	if (counts == NULL || (hash_get_num_entries(counts) == 0 && events_queued() == 0))
		return;
	from = events_since(subid);
	pending = palloc(sizeof(PendingCount *) * Max(hash_get_num_entries(counts), 1));
	hash_seq_init(&seq, counts);
	while ((p = hash_seq_search(&seq)) != NULL)
		if (p->key.subid >= subid)
			pending[npending++] = p;
	if (npending == 0 && from == events_queued())
	{
		pfree(pending);
		return;
	}
	qsort(pending, npending, sizeof(PendingCount *), pending_order);
	now = crmpool_now();
	today = crmpool_date(now);
	ledger_begin(&octx);
	for (i = 0; i < npending; i = j)
	{
		int			owned = 0,
					with_deal = 0,
					locked = 0,
					claims = 0,
					gained = 0,
					claimed = 0;
		RepCounts	after;
		int			k;

		for (j = i; j < npending && pending[j]->key.relid == pending[i]->key.relid &&
			 pending[j]->key.tenant == pending[i]->key.tenant &&
			 pending[j]->key.rep == pending[i]->key.rep; j++)
		{
			owned += pending[j]->owned;
			with_deal += pending[j]->with_deal;
			locked += pending[j]->locked;
			claims += pending[j]->claims;
			if (pending[j]->key.check)
			{
				gained += pending[j]->gains;
				claimed += pending[j]->key.claim ? pending[j]->gains : 0;
			}
		}
		ledger_apply(pending[i]->key.relid, pending[i]->key.tenant, pending[i]->key.rep, owned,
					 with_deal, locked, claims, today, &after);
		for (k = i; k < j; k++)
			if (pending[k]->key.check)
				check_quota(managed_rel_get(pending[k]->key.relid, false), pending[k], &after,
							pending[k]->key.claim ? claimed : gained, today);
	}

	/*
	 * The events go in while every rep row of the statement is held, so a rep's events are in
	 * the same order as its counter changes: replaying a rep's history never overshoots a cap
	 * that its counter never overshot.
	 */
	flush_events(now, from);
	ledger_end(&octx);
	for (i = 0; i < npending; i++)
		hash_search(counts, &pending[i]->key, HASH_REMOVE, NULL);
	pfree(pending);
}

/*
 * Check (unless `check` is false) one ownership change, and queue its counter changes and its
 * event.  Runs inside a ledger session; takes no rep counter row.
 */
static void
apply_change(ManagedRel *mr, Change *ch, OwnershipIntent *in, bool check)
{
	TimestampTz now = crmpool_now();
	bool		is_claim = (in != NULL && in->op == OP_CLAIM);
	bool		was_locked = false;

	if (check && in != NULL)
	{
		switch (in->op)
		{
			case OP_CLAIM:
				if (ch->had_owner)
					ereport(ERROR,
							(errcode(ERRCODE_CRMPOOL_ALREADY_OWNED),
							 errmsg("customer " INT64_FORMAT " is already owned", ch->customer),
							 errdetail("Customer " INT64_FORMAT " of table %s is owned by rep " INT64_FORMAT ".",
									   ch->customer, tabname(mr), ch->old_owner)));
				break;
			case OP_RECYCLE:
				/* the due row named this owner, under the customer's row lock: drift */
				if (!ch->had_owner || ch->old_owner != in->rep)
					ereport(ERROR,
							(errcode(ERRCODE_CRMPOOL_OUT_OF_STEP),
							 errmsg("crmpool's due times of table %s are out of step with the table",
									tabname(mr)),
							 errdetail("Customer " INT64_FORMAT " was due to be recycled from rep " INT64_FORMAT ", but the table says %s.",
									   ch->customer, in->rep,
									   ch->had_owner ? psprintf("rep " INT64_FORMAT " owns it", ch->old_owner) :
									   pstrdup("it is in the pool")),
							 crmpool_repair_hint(mr->relid)));
				break;
			case OP_RELEASE:
				if (!ch->had_owner || ch->old_owner != in->rep)
					ereport(ERROR,
							(errcode(ERRCODE_CRMPOOL_NOT_OWNER),
							 errmsg("rep " INT64_FORMAT " does not own customer " INT64_FORMAT,
									in->rep, ch->customer),
							 errdetail("Customer " INT64_FORMAT " of table %s is owned by rep " INT64_FORMAT ".",
									   ch->customer, tabname(mr), ch->old_owner)));
				break;
			case OP_TRANSFER:
				if (!ch->had_owner || ch->old_owner != in->from_rep)
				{
					if (ch->had_owner)
						ereport(ERROR,
								(errcode(ERRCODE_CRMPOOL_NOT_OWNER),
								 errmsg("rep " INT64_FORMAT " does not own customer " INT64_FORMAT,
										in->from_rep, ch->customer),
								 errdetail("Customer " INT64_FORMAT " of table %s is owned by rep " INT64_FORMAT ".",
										   ch->customer, tabname(mr), ch->old_owner)));
					ereport(ERROR,
							(errcode(ERRCODE_CRMPOOL_NOT_OWNER),
							 errmsg("rep " INT64_FORMAT " does not own customer " INT64_FORMAT,
									in->from_rep, ch->customer),
							 errdetail("Customer " INT64_FORMAT " of table %s is in the public pool.",
									   ch->customer, tabname(mr)),
							 errhint("Use crmpool.assign() to give a pool customer to a rep.")));
				}
				break;
			case OP_ASSIGN:
			case OP_DIRECT:
				break;
		}
	}

	/*
	 * A locked customer keeps its owner.  Unchecked changes (the row is deleted, or
	 * crmpool.direct_writes = allow) end the lock with the spell.
	 */
	if (ch->had_owner)
	{
		if (check)
			refuse_locked(mr, ch);
		else
			was_locked = ledger_drop_lock(mr->relid, ch->tenant, ch->customer);
	}

	if (ch->has_owner && check && is_claim)
	{
		RuleSet		rules;

		rules_effective(mr->nscopes, mr->scopes, ch->pool, true, ch->new_owner, NULL, &rules);
		check_claim_timing(mr, ch, &rules, now);
	}

	if (ch->had_owner)
		queue_count(mr->relid, ch->tenant, ch->old_owner, -1, ch->old_deal ? -1 : 0,
					was_locked ? -1 : 0, 0, false, ch->customer, NULL);
	if (ch->has_owner)
		queue_count(mr->relid, ch->tenant, ch->new_owner, 1, ch->new_deal ? 1 : 0, 0,
					is_claim ? 1 : 0, check, ch->customer, ch->pool);

	queue_event(mr->relid, ch->tenant, ch->customer, ch->has_owner, ch->new_owner, ch->how,
				in != NULL ? in->reason : NULL);

	/* A new spell (or none): its recycle clock starts now. */
	if (ch->had_owner || ch->has_owner)
		due_track(mr, ch->tenant, ch->customer, ch->newtup, ch->desc, &now);
}

static void
refuse_direct_write(ManagedRel *mr, Change *ch)
{
	ereport(ERROR,
			(errcode(ERRCODE_CRMPOOL_DIRECT_WRITE),
			 errmsg("direct ownership changes to table %s are rejected", tabname(mr)),
			 errdetail("crmpool.direct_writes is \"reject\": the owner of customer " INT64_FORMAT " may change only through crmpool functions.",
					   ch->customer),
			 errhint("Use crmpool.claim(), crmpool.assign(), crmpool.transfer() or crmpool.release().")));
}

/*
 * Whether the current role may call crmpool.assign().  A direct write that gives a customer an
 * owner is checked as an assign only for such a role (the CRM's admin or import role); for any
 * other role it is a claim by the new owner.  Cached per role; GRANT, REVOKE and role membership
 * changes reset the cache.
 */
static bool assign_cache_valid = false;
static Oid	assign_cache_user = InvalidOid;
static bool assign_cache_result;

static void
assign_cache_reset(Datum arg, int cacheid, uint32 hashvalue)
{
	assign_cache_valid = false;
}

static bool
may_assign(void)
{
	static bool registered = false;
	Oid			user = GetUserId();
	Oid			argtypes[3] = {REGCLASSOID, INT8OID, INT8OID};
	Oid			fn;
	bool		result;

	if (!registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, assign_cache_reset, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, assign_cache_reset, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, assign_cache_reset, (Datum) 0);
		registered = true;
	}
	if (assign_cache_valid && assign_cache_user == user)
		return assign_cache_result;
	/* valid first: an invalidation arriving during the lookups makes the next call look again */
	assign_cache_valid = true;

	/* only EXECUTE on the function decides (not USAGE on the schema: see crmpool_function_oid) */
	fn = crmpool_function_oid("assign", 3, argtypes);
	result = OidIsValid(fn) && crmpool_may_execute(fn, user);
	assign_cache_user = user;
	assign_cache_result = result;
	return result;
}

/*
 * A direct write that sets an owner, by a role that may not call crmpool.assign(): from the pool
 * it is a claim by the new owner (every claim-only limit applies); from another owner it is
 * refused.  Returns the claim's intent (in *claim), or NULL to check the write as an assign.
 */
static OwnershipIntent *
direct_write_intent(ManagedRel *mr, Change *ch, OwnershipIntent *claim)
{
	if (may_assign())
		return NULL;
	if (ch->had_owner)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_DIRECT_WRITE),
				 errmsg("role \"%s\" may not move customer " INT64_FORMAT " from rep " INT64_FORMAT " to rep " INT64_FORMAT,
						GetUserNameFromId(GetUserId(), false), ch->customer, ch->old_owner,
						ch->new_owner),
				 errdetail("A direct write that gives an owned customer of table %s another owner is an assign, and the role may not call crmpool.assign().",
						   tabname(mr)),
				 errhint("Release the customer first so that the new rep can claim it, or have a role allowed to call crmpool.assign() or crmpool.transfer() move it.")));
	memset(claim, 0, sizeof(OwnershipIntent));
	claim->relid = mr->relid;
	claim->customer = ch->customer;
	claim->op = OP_CLAIM;
	claim->rep = ch->new_owner;
	return claim;
}

/*
 * An owned customer moved to another pool by plain SQL (no crmpool function writes the pool
 * column).  The pool chooses the caps and limits, so the move is an assign into the new pool:
 * refused (CR011) for a role that may not call crmpool.assign(), or a claim in an uncapped pool
 * followed by a move back would pass every claim-only rule and the lock cap.  For a role that
 * may, the owner keeps the customer only within the new pool's private cap, and its lock cap if
 * the customer is locked: checked at the end of the statement with the counts after it.  The
 * lock cannot change meanwhile: lock() and unlock() take the customer's row lock, which this
 * UPDATE holds.
 */
static void
pool_move(ManagedRel *mr, Change *ch, HeapTuple oldtup, TupleDesc desc)
{
	OwnerContext octx;
	int64		holder;
	TimestampTz since;
	bool		locked;

	if (!may_assign())
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_DIRECT_WRITE),
				 errmsg("role \"%s\" may not move customer " INT64_FORMAT " of rep " INT64_FORMAT " from %s to %s",
						GetUserNameFromId(GetUserId(), false), ch->customer, ch->old_owner,
						pool_words(managed_pool_text(mr, oldtup, desc)), pool_words(ch->pool)),
				 errdetail("A direct write that moves an owned customer of table %s to another pool is an assign into that pool, and the role may not call crmpool.assign().",
						   tabname(mr)),
				 errhint("Release the customer first so that a rep can claim it in its new pool, or have a role allowed to call crmpool.assign() move it.")));
	ledger_begin(&octx);
	locked = ledger_lock_holder(mr->relid, ch->tenant, ch->customer, &holder, &since);
	ledger_end(&octx);
	(void) queue_count_key(mr->relid, ch->tenant, ch->old_owner, 0, 0, 0, 0, true, locked,
						   ch->customer, ch->pool);
}

/*
 * Whether a deal change of an owned customer is a gain against the private cap: a deal cleared
 * where deals are not counted in the cap (count_deals_in_cap false) makes the customer count
 * again, so it is checked at the end of the statement like a claim's gain.  Otherwise setting
 * a deal, claiming up to the cap and clearing the deal would pass private_cap.
 */
static bool
deal_clear_counts(ManagedRel *mr, Change *ch)
{
	RuleSet		rules;

	if (ch->new_deal || crmpool_direct_writes == DIRECT_WRITES_ALLOW)
		return false;
	rules_effective(mr->nscopes, mr->scopes, ch->pool, true, ch->old_owner, NULL, &rules);
	return !rule_flag(&rules, RULE_COUNT_DEALS_IN_CAP);
}

static const char *
op_how(OwnershipOp op)
{
	switch (op)
	{
		case OP_CLAIM:
			return "claim";
		case OP_RELEASE:
			return "release";
		case OP_ASSIGN:
			return "assign";
		case OP_TRANSFER:
			return "transfer";
		case OP_RECYCLE:
			return "recycle";
		case OP_DIRECT:
			break;
	}
	return "update";
}

/*
 * Whether an UPDATE changed a column crmpool reads.  The comparison is binary: a value written
 * again in another form (1.0 for 1.00) counts as changed, which costs only a needless check.
 */
static bool
column_changed(HeapTuple oldtup, HeapTuple newtup, TupleDesc desc, AttrNumber att)
{
	Form_pg_attribute attr;
	bool		oldnull,
				newnull;
	Datum		oldval,
				newval;

	if (att == InvalidAttrNumber)
		return false;
	oldval = heap_getattr(oldtup, att, desc, &oldnull);
	newval = heap_getattr(newtup, att, desc, &newnull);
	if (oldnull || newnull)
		return oldnull != newnull;
	attr = TupleDescAttr(desc, att - 1);
	return !datumIsEqual(oldval, newval, attr->attbyval, attr->attlen);
}

/*
 * An UPDATE that concerns crmpool: the key, owner, deal or pool changed (the pool chooses the
 * caps), or (if the table recycles) a column that moves the recycle time.  Most UPDATEs of a managed table (a note written, a
 * phone number fixed) are none of these, which is why the trigger needs no WHEN clause.
 */
static bool
update_concerns(ManagedRel *mr, HeapTuple oldtup, HeapTuple newtup, TupleDesc desc)
{
	return column_changed(oldtup, newtup, desc, mr->owner_att) ||
		column_changed(oldtup, newtup, desc, mr->key_att) ||
		column_changed(oldtup, newtup, desc, mr->tenant_att) ||
		column_changed(oldtup, newtup, desc, mr->deal_att) ||
		column_changed(oldtup, newtup, desc, mr->pool_att) ||
		(mr->recycles &&
		 (column_changed(oldtup, newtup, desc, mr->followup_att) ||
		  column_changed(oldtup, newtup, desc, mr->level_att)));
}

/*
 * A new follow-up or deal time (inserted, or changed by an UPDATE) must be one crmpool can
 * count from (due_check_times); checked whatever else the write changes, so that no path
 * stores an infinite or future follow-up that would keep its customer forever.
 */
static void
check_new_times(ManagedRel *mr, HeapTuple oldtup, HeapTuple newtup, TupleDesc desc)
{
	bool		followup = mr->followup_att != InvalidAttrNumber &&
		(oldtup == NULL || column_changed(oldtup, newtup, desc, mr->followup_att));
	bool		deal = mr->deal_att != InvalidAttrNumber &&
		(oldtup == NULL || column_changed(oldtup, newtup, desc, mr->deal_att));

	if (followup || deal)
		due_check_times(mr, newtup, desc, managed_key(mr, newtup, desc), followup, deal);
}

/*
 * Logical replication's apply worker fires row triggers (those enabled ALWAYS or REPLICA) but
 * no statement triggers except TRUNCATE's: there each row's counts and event are applied at
 * once, as a one-row statement's would be (a subscriber's setup, docs/reference.md).
 */
static void
flush_if_no_statement_trigger(void)
{
	if (IsLogicalWorker())
		flush_pending();
}

PG_FUNCTION_INFO_V1(crmpool_ownership_trigger);
Datum
crmpool_ownership_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	ManagedRel *mr;
	HeapTuple	oldtup = NULL;
	HeapTuple	newtup = NULL;
	OwnershipIntent *in;
	OwnershipIntent claim;
	OwnerContext octx;
	Change		ch;
	bool		check;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event))
		elog(ERROR, "crmpool.ownership_trigger() must be an AFTER trigger");
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	mr = managed_rel_get(RelationGetRelid(rel), false);

	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
	{
		ledger_begin(&octx);
		ledger_truncate(mr->relid, crmpool_now());
		due_forget(mr->relid);
		identity_forget_table(mr->relid);
		ledger_end(&octx);
		return PointerGetDatum(NULL);
	}
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event))
	{
		flush_pending();
		return PointerGetDatum(NULL);
	}

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		newtup = td->tg_trigtuple;
		check_new_times(mr, NULL, newtup, desc);
	}
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		oldtup = td->tg_trigtuple;
	else
	{
		oldtup = td->tg_trigtuple;
		newtup = td->tg_newtuple;
		check_new_times(mr, oldtup, newtup, desc);
		if (!update_concerns(mr, oldtup, newtup, desc))
			return PointerGetDatum(NULL);
	}

	memset(&ch, 0, sizeof(ch));
	ch.customer = managed_key(mr, newtup ? newtup : oldtup, desc);
	if (oldtup != NULL)
	{
		ch.had_owner = managed_owner(mr, oldtup, desc, &ch.old_owner);
		ch.old_deal = ch.had_owner && managed_has_deal(mr, oldtup, desc);
	}
	if (newtup != NULL)
	{
		ch.has_owner = managed_owner(mr, newtup, desc, &ch.new_owner);
		ch.new_deal = ch.has_owner && managed_has_deal(mr, newtup, desc);
		ch.newtup = newtup;
	}
	ch.desc = desc;
	if (oldtup != NULL && newtup != NULL && managed_key(mr, oldtup, desc) != ch.customer)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the key of a customer in managed table %s cannot change", tabname(mr)),
				 errdetail("Customer " INT64_FORMAT " would become " INT64_FORMAT "; its ownership history is kept by key.",
						   managed_key(mr, oldtup, desc), ch.customer),
				 errhint("Insert a new customer instead, or detach the table with crmpool.unmanage() first.")));
	ch.tenant = managed_tenant(mr, newtup ? newtup : oldtup, desc);
	if (oldtup != NULL && newtup != NULL && mr->tenant_att != InvalidAttrNumber &&
		strcmp(managed_tenant(mr, oldtup, desc), ch.tenant) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the tenant of a customer in managed table %s cannot change", tabname(mr)),
				 errdetail("Customer " INT64_FORMAT " would move from tenant \"%s\" to tenant \"%s\"; its counts, history and keys are kept under its tenant.",
						   ch.customer, managed_tenant(mr, oldtup, desc), ch.tenant),
				 errhint("Delete the customer and insert it again under the new tenant.")));

	/*
	 * Same owner: the deal, follow-up, level or pool column changed.  The deal flag counts; any
	 * of them can move the customer's recycle time (the spell goes on).
	 */
	if (oldtup != NULL && newtup != NULL && ch.had_owner == ch.has_owner &&
		(!ch.had_owner || ch.old_owner == ch.new_owner))
	{
		if (ch.had_owner && ch.old_deal != ch.new_deal)
		{
			ch.pool = managed_pool_text(mr, newtup, desc);
			queue_count(mr->relid, ch.tenant, ch.old_owner, 0, ch.new_deal ? 1 : -1, 0, 0,
						deal_clear_counts(mr, &ch), ch.customer, ch.pool);
			flush_if_no_statement_trigger();
		}
		if (ch.had_owner && crmpool_direct_writes != DIRECT_WRITES_ALLOW &&
			column_changed(oldtup, newtup, desc, mr->pool_att))
		{
			if (ch.pool == NULL)
				ch.pool = managed_pool_text(mr, newtup, desc);
			pool_move(mr, &ch, oldtup, desc);
			flush_if_no_statement_trigger();
		}
		if (ch.had_owner && mr->recycles)
		{
			ledger_begin(&octx);
			due_track(mr, ch.tenant, ch.customer, newtup, desc, NULL);
			ledger_end(&octx);
		}
		return PointerGetDatum(NULL);
	}

	if (newtup != NULL)
		ch.pool = managed_pool_text(mr, newtup, desc);

	in = intent_for(mr->relid, ch.customer, &ch.how);
	if (in != NULL)
	{
		in->fired = true;
		in->nfired++;
		if (ch.how == NULL)
			ch.how = op_how(in->op);
		check = true;
	}
	else
	{
		if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
			ch.how = "insert";
		else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
			ch.how = "delete";
		else
			ch.how = "update";
		/* A row going away is never refused: its spell simply ends. */
		if (oldtup != NULL && newtup == NULL)
			check = false;
		else if (crmpool_direct_writes == DIRECT_WRITES_REJECT && ch.has_owner + ch.had_owner > 0)
		{
			refuse_direct_write(mr, &ch);
			check = false;		/* not reached */
		}
		else
		{
			check = (crmpool_direct_writes != DIRECT_WRITES_ALLOW);
			if (check && ch.has_owner)
				in = direct_write_intent(mr, &ch, &claim);
		}
	}

	ledger_begin(&octx);
	if (in != NULL && in->actor != NULL)
		ledger_set_actor(in->actor);
	apply_change(mr, &ch, in, check);
	ledger_end(&octx);
	flush_if_no_statement_trigger();
	return PointerGetDatum(NULL);
}
