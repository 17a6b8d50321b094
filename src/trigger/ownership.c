/*
 * ownership.c: the one place where ownership changes are checked and recorded.
 *
 * Every managed table carries crmpool's AFTER ROW trigger (INSERT, UPDATE, DELETE; an UPDATE
 * that changes none of the key, owner, deal, follow-up, level and pool columns, nor the app's
 * lock or deleted column, is skipped first thing) and an AFTER TRUNCATE trigger; a table that
 * maps one of the app's own columns (lock, owner-since, deleted) also a BEFORE ROW trigger that
 * writes what follows from an ownership change into the row (before_row).  Whatever wrote the
 * change (a crmpool function, an app's UPDATE, an import, psql), the trigger decides with the
 * same rules:
 *
 *   - crmpool's functions announce what they are doing with an intent (claim, release, assign,
 *     transfer, recycle, and for whom) before running their UPDATE; the trigger applies that
 *     operation's rules to the row it sees;
 *   - a plain write in a transaction that set crmpool.intent (SET LOCAL) is checked as the
 *     operation it names, the rep read from the row (marked_write_intent);
 *   - any other change is a direct write, checked according to crmpool.direct_writes:
 *     a new owner is an assign when the writing role may call crmpool.assign(), otherwise a
 *     claim by the new owner (from another owner: refused); under enforce_owned an UPDATE from
 *     the pool is a claim and one from another owner is refused; owner NULL is a release.
 *     Moving an owned customer to another pool is an assign into it (refused to other roles),
 *     and clearing a deal that the cap did not count is a gain: both checked at statement end.
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
	CrmpoolTenant tenant;		/* the row's tenant (managed_tenant) */
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

/*
 * The rule lock_blocks of the customer's owner: whether a lock stops this change, which is a
 * release (to the pool), a recycle, or a transfer (assign, transfer, or a plain write that gives
 * the customer another rep).
 */
static bool
lock_blocks(ManagedRel *mr, Change *ch, OwnershipIntent *in)
{
	RuleSet		rules;
	int			op;

	if (ch->has_owner)
		op = LOCK_BLOCKS_TRANSFER;
	else if (in != NULL && in->op == OP_RECYCLE)
		op = LOCK_BLOCKS_RECYCLE;
	else
		op = LOCK_BLOCKS_RELEASE;
	managed_rules(mr, ch->tenant, ch->pool, true, ch->old_owner, NULL, &rules);
	return (rule_choice(&rules, RULE_LOCK_BLOCKS) & op) != 0;
}

/* The column a lock refusal is about: the app's lock flag, or the owner a lock in crmpool keeps. */
static AttrNumber
lock_column(ManagedRel *mr)
{
	return mr->lock_att != InvalidAttrNumber ? mr->lock_att : mr->owner_att;
}

static void
refuse_locked(ManagedRel *mr, Change *ch, int64 holder, TimestampTz since)
{
	ereport(ERROR,
			(errcode(ERRCODE_CRMPOOL_LOCKED),
			 errmsg("customer %lld is locked", (long long) ch->customer),
			 errdetail("Rep %lld locked customer %lld of table %s at %s.",
					   (long long) holder, (long long) ch->customer, tabname(mr),
					   crmpool_timestamp_text(since)),
			 errhint("Unlock it with crmpool.unlock() first."),
			 crmpool_refusal(mr->relid, lock_column(mr), "lock_blocks", ERR_CUSTOMER(ch->customer),
							 ERR_OWNER(holder))));
}

/*
 * A rep set inactive (crmpool.set_rep(..., active => false): left the company) cannot gain the
 * customer.  The cached state is current: set_rep() takes a lock on the table that waits for
 * every writer under way and that every later writer waits for, and a writer that waited
 * reads the configuration again after it (crmpool.set_rep, src/admin/reps.c).
 */
static void
refuse_inactive(ManagedRel *mr, Change *ch)
{
	const RepInfo *ri = managed_rep(mr, ch->tenant, ch->new_owner);

	if (ri != NULL && !ri->active)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_INACTIVE_REP),
				 errmsg("rep %lld is inactive", (long long) ch->new_owner),
				 errdetail("Rep %lld of table %s was set inactive with crmpool.set_rep(), so it cannot gain customer %lld.",
						   (long long) ch->new_owner, tabname(mr), (long long) ch->customer),
				 errhint("Give the customer to an active rep, or set the rep active again with crmpool.set_rep(..., active => true)."),
				 crmpool_refusal(mr->relid, mr->owner_att, "inactive_rep", ERR_REP(ch->new_owner),
								 ERR_CUSTOMER(ch->customer))));
}

/*
 * A claim from a pool whose members (crmpool.set_pool_members) do not include the rep.  The
 * cached membership is current: set_pool_members() takes a lock on the table that waits for
 * every writer under way and that every later writer waits for (admin/pools.c).
 */
static void
refuse_not_member(ManagedRel *mr, Change *ch)
{
	ereport(ERROR,
			(errcode(ERRCODE_CRMPOOL_NOT_MEMBER),
			 errmsg("rep %lld is not a member of %s", (long long) ch->new_owner,
					pool_name_words(ch->pool)),
			 errdetail("Customer %lld of table %s is in %s, and only its members and admins may claim there.",
					   (long long) ch->customer, tabname(mr), pool_name_words(ch->pool)),
			 errhint("Add the rep with crmpool.set_pool_members(), or have a role allowed to call crmpool.assign() give it the customer."),
			 crmpool_refusal(mr->relid, mr->pool_att != InvalidAttrNumber ? mr->pool_att : mr->owner_att,
							 "not_member", ERR_REP(ch->new_owner), ERR_CUSTOMER(ch->customer))));
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
	ledger_customer_past(mr->table_id, ch->tenant, ch->customer, ch->new_owner, has_cooldown, &past);

	if (has_holdback && past.entered_known)
	{
		TimestampTz from = crmpool_add_interval(past.entered, &holdback);

		if (now < from)
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_HOLDBACK),
					 errmsg("customer %lld is held back in the pool", (long long) ch->customer),
					 errdetail("The customer entered the pool at %s; pool_holdback is %s, so it can be claimed from %s.",
							   crmpool_timestamp_text(past.entered), crmpool_interval_text(&holdback),
							   crmpool_timestamp_text(from)),
					 crmpool_refusal(mr->relid, mr->owner_att, "pool_holdback", ERR_REP(ch->new_owner),
									 ERR_CUSTOMER(ch->customer), ERR_UNTIL(from))));
	}
	if (has_cooldown && past.lost_known)
	{
		TimestampTz from = crmpool_add_interval(past.lost, &cooldown);

		if (now < from)
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_COOLDOWN),
					 errmsg("rep %lld may not reclaim customer %lld yet",
							(long long) ch->new_owner, (long long) ch->customer),
					 errdetail("Rep %lld lost the customer at %s; reclaim_cooldown is %s, so the rep may claim it again from %s.",
							   (long long) ch->new_owner, crmpool_timestamp_text(past.lost),
							   crmpool_interval_text(&cooldown), crmpool_timestamp_text(from)),
					 crmpool_refusal(mr->relid, mr->owner_att, "reclaim_cooldown", ERR_REP(ch->new_owner),
									 ERR_CUSTOMER(ch->customer), ERR_UNTIL(from))));
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
	CrmpoolTenant tenant;
	int64		rep;
	const char *pool;			/* interned; NULL unless checked */
	bool		check;			/* checked gains: cap (and, for claims, daily limit) */
	bool		check_lock;		/* locked customers moved to this pool: its lock cap too */
	bool		lock_gain;		/* the app's lock flag set (lock_column): the lock cap only */
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
	CrmpoolTableId table_id;	/* key.relid's, as crmpool's tables key it */
} PendingCount;

/* One ownership change for the ledger, recorded once the counter rows are held. */
typedef struct PendingEvent
{
	SubTransactionId subid;
	Oid			relid;
	CrmpoolTenant tenant;
	int64		customer;
	int64		owner;
	bool		has_owner;
	CrmpoolTableId table_id;	/* relid's, as crmpool's tables key it */
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

/*
 * New pool customers of pools with rule auto_distribute, waiting for the end of the statement
 * that inserted them (in TopTransactionContext; NIL between transactions).  The hand-out is an
 * UPDATE of its own, whose event must follow the INSERT's in the history: the INSERT's event is
 * recorded when its statement ends (flush_pending), so the hand-out waits for that too.  Each
 * entry names the subtransaction that queued it, as the counts do: a statement takes its own,
 * and a subtransaction that rolls back takes its entries with it.
 */
typedef struct AutoPending
{
	Oid			relid;
	CrmpoolTenant tenant;
	char	   *pool;
	int64		customer;
	int			mode;
	SubTransactionId subid;
	uint64		seq;			/* insertion order, kept within a tenant and pool */
} AutoPending;

static List *auto_pending = NIL;
static uint64 auto_pending_seq = 0;

static void
auto_pending_forget(SubTransactionId subid)
{
	ListCell   *lc;

	foreach(lc, auto_pending)
	{
		AutoPending *a = lfirst(lc);

		if (a->subid >= subid)
			auto_pending = foreach_delete_current(auto_pending, lc);
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
	auto_pending_forget(mySubid);
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
		auto_pending = NIL;
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

static PendingCount *
queue_count_full(ManagedRel *mr, CrmpoolTenant tenant, int64 rep, int owned, int with_deal,
				 int locked, int claims, bool check, bool check_lock, bool lock_gain, int64 customer,
				 const char *pool)
{
	PendingKey	key;
	PendingCount *p;
	bool		found;

	pending_start();
	memset(&key, 0, sizeof(key));	/* the key is hashed as bytes, padding included */
	key.subid = GetCurrentSubTransactionId();
	key.relid = mr->relid;
	key.tenant = tenant;
	key.rep = rep;
	key.check = check;
	key.check_lock = check_lock;
	key.lock_gain = lock_gain;
	key.claim = claims > 0;
	key.pool = check ? intern(pool) : NULL;
	p = hash_search(counts, &key, HASH_ENTER, &found);
	if (!found)
	{
		counts_peak = Max(counts_peak, hash_get_num_entries(counts));
		p->owned = p->with_deal = p->locked = p->claims = p->gains = 0;
		p->first = customer;
		p->table_id = mr->table_id;
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

static PendingCount *
queue_count_key(ManagedRel *mr, CrmpoolTenant tenant, int64 rep, int owned, int with_deal,
				int locked, int claims, bool check, bool check_lock, int64 customer, const char *pool)
{
	return queue_count_full(mr, tenant, rep, owned, with_deal, locked, claims, check,
							check_lock, false, customer, pool);
}

static void
queue_count(ManagedRel *mr, CrmpoolTenant tenant, int64 rep, int owned, int with_deal,
			int locked, int claims, bool check, int64 customer, const char *pool)
{
	(void) queue_count_key(mr, tenant, rep, owned, with_deal, locked, claims, check, false,
						   customer, pool);
}

static void
queue_event(ManagedRel *mr, CrmpoolTenant tenant, int64 customer, bool has_owner, int64 owner,
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
	e->relid = mr->relid;
	e->table_id = mr->table_id;
	e->tenant = tenant;
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
		return x->key.tenant < y->key.tenant ? -1 : 1;
	if (x->key.rep != y->key.rep)
		return x->key.rep < y->key.rep ? -1 : 1;
	return x->first < y->first ? -1 : x->first > y->first ? 1 : 0;
}

static void
check_quota(ManagedRel *mr, const PendingCount *p, const RepCounts *after, int gained,
			DateADT today)
{
	RuleSet		rules;
	int64		limit;
	int64		rep = p->key.rep;

	managed_rules(mr, p->key.tenant, p->key.pool, true, rep, NULL, &rules);
	if (p->key.lock_gain)
	{
		/* the app set its lock flag (lock_column): crmpool.lock()'s check, at statement end */
		if (rule_limit(&rules, RULE_LOCK_CAP, &limit) && after->locked > limit)
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_LOCK_CAP),
					 errmsg("rep %lld has reached the lock cap", (long long) rep),
					 errdetail("Rep %lld has locked %lld of %lld customers allowed in table %s.",
							   (long long) rep, (long long) Max(after->locked - p->locked, 0),
							   (long long) limit, tabname(mr)),
					 errhint("Unlock a customer first, or raise lock_cap with crmpool.set_rules()."),
					 crmpool_refusal(mr->relid, mr->lock_att, "lock_cap", ERR_REP(rep),
									 ERR_CUSTOMER(p->first),
									 ERR_COUNT(Max(after->locked - p->locked, 0)), ERR_LIMIT(limit))));
		return;
	}
	if (rule_limit(&rules, RULE_PRIVATE_CAP, &limit))
	{
		int64		counted = after->owned;
		const char *deals_words = "";

		if (!rule_flag(&rules, RULE_COUNT_DEALS_IN_CAP))
		{
			counted -= after->with_deal;
			deals_words = _(" (customers with a deal not counted)");
		}
		if (counted > limit)
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_PRIVATE_CAP),
					 errmsg("rep %lld has reached the private cap", (long long) rep),
					 gained > 1 ?
					 errdetail("Rep %lld owns %lld of %lld customers allowed in table %s%s; the statement would give it %d more.",
							   (long long) rep, (long long) Max(counted - gained, 0), (long long) limit,
							   tabname(mr), deals_words, gained) :
					 errdetail("Rep %lld owns %lld of %lld customers allowed in table %s%s.",
							   (long long) rep, (long long) Max(counted - gained, 0), (long long) limit,
							   tabname(mr), deals_words),
					 errhint("Release a customer first, or raise private_cap with crmpool.set_rules()."),
					 crmpool_refusal(mr->relid, mr->owner_att, "private_cap", ERR_REP(rep),
									 ERR_CUSTOMER(p->first), ERR_COUNT(Max(counted - gained, 0)),
									 ERR_LIMIT(limit))));
	}
	if (p->key.check_lock && rule_limit(&rules, RULE_LOCK_CAP, &limit) && after->locked > limit)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_LOCK_CAP),
				 errmsg("rep %lld has reached the lock cap", (long long) rep),
				 p->gains > 0 ?
				 errdetail("Rep %lld would have locked %lld customers in table %s with locked customer %lld, which it gains; the lock_cap of %s is %lld.",
						   (long long) rep, (long long) after->locked, tabname(mr),
						   (long long) p->first, pool_name_words(p->key.pool), (long long) limit) :
				 errdetail("Rep %lld has locked %lld customers in table %s; the lock_cap of %s, where locked customer %lld moves, is %lld.",
						   (long long) rep, (long long) after->locked, tabname(mr),
						   pool_name_words(p->key.pool), (long long) p->first, (long long) limit),
				 errhint("Unlock a customer first, or raise lock_cap with crmpool.set_rules()."),
				 crmpool_refusal(mr->relid, mr->owner_att, "lock_cap", ERR_REP(rep),
								 ERR_CUSTOMER(p->first), ERR_COUNT(after->locked), ERR_LIMIT(limit))));
	if (p->key.claim && rule_limit(&rules, RULE_DAILY_CLAIM_LIMIT, &limit) &&
		after->claims_today > limit)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_DAILY_LIMIT),
				 errmsg("rep %lld has reached the daily claim limit", (long long) rep),
				 errdetail("Rep %lld has claimed %lld of %lld customers allowed today (%s) in table %s.",
						   (long long) rep, (long long) Max(after->claims_today - gained, 0),
						   (long long) limit,
						   DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(today))),
						   tabname(mr)),
				 errhint("The count starts again at midnight in time zone \"%s\" (crmpool.timezone).",
						 crmpool_day_timezone_name()),
				 crmpool_refusal(mr->relid, mr->owner_att, "daily_claim_limit", ERR_REP(rep),
								 ERR_CUSTOMER(p->first),
								 ERR_COUNT(Max(after->claims_today - gained, 0)), ERR_LIMIT(limit))));
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
			ledger_events_add(le, chunk[i].table_id, chunk[i].tenant, chunk[i].customer, now,
							  chunk[i].has_owner,
							  chunk[i].owner, chunk[i].how, chunk[i].reason, chunk[i].actor);
	}
	for (i = Max(from - event_chunks * EVENT_CHUNK, 0); i < nevents; i++)
		ledger_events_add(le, events[i].table_id, events[i].tenant, events[i].customer, now,
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
		ledger_apply(pending[i]->key.relid, pending[i]->table_id, pending[i]->key.tenant,
					 pending[i]->key.rep, owned, with_deal, locked, claims, today, &after);
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
	bool		now_locked = false;
	bool		pool_admin = false;

	if (check && in != NULL)
	{
		switch (in->op)
		{
			case OP_CLAIM:
				if (ch->had_owner)
					ereport(ERROR,
							(errcode(ERRCODE_CRMPOOL_ALREADY_OWNED),
							 errmsg("customer %lld is already owned", (long long) ch->customer),
							 errdetail("Customer %lld of table %s is owned by rep %lld.",
									   (long long) ch->customer, tabname(mr), (long long) ch->old_owner),
							 crmpool_refusal(mr->relid, mr->owner_att, "already_owned",
											 ERR_REP(in->rep), ERR_CUSTOMER(ch->customer),
											 ERR_OWNER(ch->old_owner))));
				break;
			case OP_RECYCLE:
				/* the due row named this owner, under the customer's row lock: drift */
				if (!ch->had_owner || ch->old_owner != in->rep)
					ereport(ERROR,
							(errcode(ERRCODE_CRMPOOL_OUT_OF_STEP),
							 errmsg("crmpool's due times of table %s are out of step with the table",
									tabname(mr)),
							 errdetail("Customer %lld was due to be recycled from rep %lld, but the table says %s.",
									   (long long) ch->customer, (long long) in->rep,
									   ch->had_owner ? psprintf(_("rep %lld owns it"), (long long) ch->old_owner) :
									   pstrdup(_("it is in the pool"))),
							 crmpool_repair_hint(mr->relid),
							 crmpool_refusal(mr->relid, mr->owner_att, "out_of_step", ERR_REP(in->rep),
											 ERR_CUSTOMER(ch->customer))));
				break;
			case OP_RELEASE:
				if (!ch->had_owner || ch->old_owner != in->rep)
					ereport(ERROR,
							(errcode(ERRCODE_CRMPOOL_NOT_OWNER),
							 errmsg("rep %lld does not own customer %lld",
									(long long) in->rep, (long long) ch->customer),
							 errdetail("Customer %lld of table %s is owned by rep %lld.",
									   (long long) ch->customer, tabname(mr), (long long) ch->old_owner),
							 crmpool_refusal(mr->relid, mr->owner_att, "not_owner", ERR_REP(in->rep),
											 ERR_CUSTOMER(ch->customer), ERR_OWNER(ch->old_owner))));
				break;
			case OP_TRANSFER:
				if (!ch->had_owner || ch->old_owner != in->from_rep)
				{
					if (ch->had_owner)
						ereport(ERROR,
								(errcode(ERRCODE_CRMPOOL_NOT_OWNER),
								 errmsg("rep %lld does not own customer %lld",
										(long long) in->from_rep, (long long) ch->customer),
								 errdetail("Customer %lld of table %s is owned by rep %lld.",
										   (long long) ch->customer, tabname(mr), (long long) ch->old_owner),
								 crmpool_refusal(mr->relid, mr->owner_att, "not_owner",
												 ERR_REP(in->from_rep), ERR_CUSTOMER(ch->customer),
												 ERR_OWNER(ch->old_owner))));
					ereport(ERROR,
							(errcode(ERRCODE_CRMPOOL_NOT_OWNER),
							 errmsg("rep %lld does not own customer %lld",
									(long long) in->from_rep, (long long) ch->customer),
							 errdetail("Customer %lld of table %s is in the public pool.",
									   (long long) ch->customer, tabname(mr)),
							 errhint("Use crmpool.assign() to give a pool customer to a rep."),
							 crmpool_refusal(mr->relid, mr->owner_att, "not_owner",
											 ERR_REP(in->from_rep), ERR_CUSTOMER(ch->customer))));
				}
				break;
			case OP_ASSIGN:
			case OP_DIRECT:
				break;
		}
	}

	/*
	 * A locked customer keeps its owner, for the changes the rule lock_blocks names.  Any other
	 * change ends the old owner's lock; the customer stays locked for its new owner when the
	 * app's lock flag (lock_column) says so, or, without a lock column, when a checked change
	 * passes the lock (a transfer that lock_blocks allows).  Unchecked changes (the row is
	 * deleted or soft-deleted, or crmpool.direct_writes = allow) end the lock with the spell.
	 */
	if (ch->had_owner)
	{
		int64		holder;
		TimestampTz since;

		if (ledger_lock_holder(mr->table_id, ch->tenant, ch->customer, &holder, &since))
		{
			if (check && lock_blocks(mr, ch, in))
				refuse_locked(mr, ch, holder, since);
			was_locked = ledger_drop_lock(mr->table_id, ch->tenant, ch->customer);
		}
	}
	if (ch->has_owner)
	{
		if (mr->lock_att != InvalidAttrNumber)
			now_locked = managed_lock_flag(mr, ch->newtup, ch->desc);
		else
			now_locked = was_locked && check;
		if (now_locked)
			(void) ledger_add_lock(mr->table_id, ch->tenant, ch->customer, ch->new_owner, now);
	}

	/*
	 * An inactive rep gains nothing, by any path; losing customers stays allowed.  A table with
	 * no crmpool.set_rep() rows has no inactive rep: one branch on the cached count.
	 */
	if (ch->has_owner && check && mr->nreps > 0)
		refuse_inactive(mr, ch);

	/*
	 * Pools that name members or admins (crmpool.set_pool_members): only they claim there, and
	 * an admin's claim is free of the claim-only limits (below, and its claim is not counted
	 * against the daily limit).  A table whose pools name nobody: one branch on the cached flag.
	 */
	if (ch->has_owner && check && is_claim && mr->pool_access)
	{
		if (pool_is_admin(mr, ch->tenant, ch->pool, ch->new_owner))
			pool_admin = true;
		else if (!pool_is_member(mr, ch->tenant, ch->pool, ch->new_owner))
			refuse_not_member(mr, ch);
	}

	if (ch->has_owner && check && is_claim)
	{
		RuleSet		rules;

		managed_rules(mr, ch->tenant, ch->pool, true, ch->new_owner, NULL, &rules);
		if (ch->new_deal && !rule_flag(&rules, RULE_CLAIM_WITH_DEAL))
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_HAS_DEAL),
					 errmsg("customer %lld has a deal and cannot be claimed", (long long) ch->customer),
					 errdetail("Rule claim_with_deal is false in %s of table %s, and column \"%s\" says customer %lld has a deal.",
							   pool_name_words(ch->pool), tabname(mr),
							   get_attname(mr->relid, mr->deal_att, false), (long long) ch->customer),
					 errhint("An admin can give it to a rep with crmpool.assign(); or set claim_with_deal to true with crmpool.set_rules()."),
					 crmpool_refusal(mr->relid, mr->deal_att, "claim_with_deal", ERR_REP(ch->new_owner),
									 ERR_CUSTOMER(ch->customer))));
		if (!pool_admin)
			check_claim_timing(mr, ch, &rules, now);
	}

	if (ch->had_owner)
		queue_count(mr, ch->tenant, ch->old_owner, -1, ch->old_deal ? -1 : 0,
					was_locked ? -1 : 0, 0, false, ch->customer, NULL);
	if (ch->has_owner)
		(void) queue_count_key(mr, ch->tenant, ch->new_owner, 1, ch->new_deal ? 1 : 0,
							   now_locked ? 1 : 0, is_claim && !pool_admin ? 1 : 0, check, check && now_locked,
							   ch->customer, ch->pool);

	queue_event(mr, ch->tenant, ch->customer, ch->has_owner, ch->new_owner, ch->how,
				in != NULL ? in->reason : NULL);

	/* A new spell (or none): its recycle clock starts now. */
	if (ch->has_owner)
		due_track_spell(mr, ch->tenant, ch->customer, ch->newtup, ch->desc, now, now_locked);
	else if (ch->had_owner)
		due_untrack(mr, ch->tenant, ch->customer);
}

static void
refuse_direct_write(ManagedRel *mr, Change *ch)
{
	ereport(ERROR,
			(errcode(ERRCODE_CRMPOOL_DIRECT_WRITE),
			 errmsg("direct ownership changes to table %s are rejected", tabname(mr)),
			 errdetail("crmpool.direct_writes is \"reject\": the owner of customer %lld may change only through crmpool functions.",
					   (long long) ch->customer),
			 errhint("Use crmpool.claim(), crmpool.assign(), crmpool.transfer() or crmpool.release()."),
			 ch->has_owner ?
			 crmpool_refusal(mr->relid, mr->owner_att, "direct_write", ERR_REP(ch->new_owner),
							 ERR_CUSTOMER(ch->customer)) :
			 crmpool_refusal(mr->relid, mr->owner_att, "direct_write", ERR_CUSTOMER(ch->customer))));
}

AutoLockCursorHook ownership_auto_lock_cursor_hook = NULL;
AutoDistributeHook ownership_auto_distribute_hook = NULL;

static void
auto_pending_add(ManagedRel *mr, CrmpoolTenant tenant, const char *pool, int64 customer, int mode)
{
	MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);
	AutoPending *a = palloc(sizeof(AutoPending));

	a->relid = mr->relid;
	a->tenant = tenant;
	a->pool = pool != NULL ? pstrdup(pool) : NULL;
	a->customer = customer;
	a->mode = mode;
	a->subid = GetCurrentSubTransactionId();
	a->seq = auto_pending_seq++;
	auto_pending = lappend(auto_pending, a);
	MemoryContextSwitchTo(old);
}

/* The order of distribution cursors: tenant, then pool (the default pool first). */
static int
cursor_cmp(const AutoPending *x, const AutoPending *y)
{
	if (x->tenant != y->tenant)
		return x->tenant < y->tenant ? -1 : 1;
	if (x->pool == NULL || y->pool == NULL)
		return (y->pool == NULL) - (x->pool == NULL);
	return strcmp(x->pool, y->pool);
}

/* Cursor order, then insertion order. */
static int
auto_pending_cmp(const ListCell *a, const ListCell *b)
{
	const AutoPending *x = lfirst(a);
	const AutoPending *y = lfirst(b);
	int			c = cursor_cmp(x, y);

	return c != 0 ? c : (x->seq > y->seq) - (x->seq < y->seq);
}

/*
 * The customers of mr that this statement queued, taken off the queue: by tenant and pool, each
 * pool's in insertion order (so every round-robin turn is the one insertion order gives).
 */
static List *
auto_pending_take(ManagedRel *mr)
{
	SubTransactionId subid = GetCurrentSubTransactionId();
	List	   *mine = NIL;
	ListCell   *lc;

	foreach(lc, auto_pending)
	{
		AutoPending *a = lfirst(lc);

		if (a->subid >= subid && a->relid == mr->relid)
		{
			mine = lappend(mine, a);
			auto_pending = foreach_delete_current(auto_pending, lc);
		}
	}
	list_sort(mine, auto_pending_cmp);
	return mine;
}

/*
 * Lock the cursor of every tenant and pool of mine, in that order, before the statement's rep
 * counter rows.  Each cursor stays locked until commit, and so does each rep's counter row that
 * a hand-out changes: taking the cursors one hand-out at a time, an INSERT of several tenants' or
 * pools' leads would hold a cursor and a rep while waiting for the next cursor, held by a
 * distribute() (which locks its tenants' cursors in tenant order, all before its reps) waiting
 * for that rep or cursor: a deadlock.
 */
static void
auto_lock_cursors(ManagedRel *mr, List *mine)
{
	ListCell   *lc;
	AutoPending *last = NULL;

	foreach(lc, mine)
	{
		AutoPending *a = lfirst(lc);

		if (last == NULL || cursor_cmp(last, a) != 0)
			ownership_auto_lock_cursor_hook(mr, a->tenant, a->pool);
		last = a;
	}
}

static void
auto_handout(ManagedRel *mr, List *mine)
{
	ListCell   *lc;

	foreach(lc, mine)
	{
		AutoPending *a = lfirst(lc);

		ownership_auto_distribute_hook(mr, a->tenant, a->pool, a->customer, a->mode);
	}
	list_free(mine);
}

/*
 * Whether the current role may call crmpool.assign() (or crmpool.transfer()).  A direct write
 * that gives a customer an owner is checked as an assign only for such a role (the CRM's admin
 * or import role); for any other role it is a claim by the new owner.  crmpool.intent assign and
 * distribute need the first, transfer the second.  Cached per role; GRANT, REVOKE and role
 * membership changes reset the cache.
 */
typedef struct RoleCache
{
	const char *function;		/* crmpool.<function>(regclass, bigint, bigint[, bigint]) */
	int			nargs;
	bool		valid;
	Oid			user;
	bool		result;
} RoleCache;

static RoleCache may_assign_cache = {"assign", 3};
static RoleCache may_transfer_cache = {"transfer", 4};

static void
role_cache_reset(Datum arg, int cacheid, uint32 hashvalue)
{
	may_assign_cache.valid = false;
	may_transfer_cache.valid = false;
}

static bool
may_call(RoleCache *rc)
{
	static bool registered = false;
	Oid			user = GetUserId();
	Oid			argtypes[4] = {REGCLASSOID, INT8OID, INT8OID, INT8OID};
	Oid			fn;
	bool		result;

	if (!registered)
	{
		CacheRegisterSyscacheCallback(PROCOID, role_cache_reset, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHMEMROLEMEM, role_cache_reset, (Datum) 0);
		CacheRegisterSyscacheCallback(AUTHOID, role_cache_reset, (Datum) 0);
		registered = true;
	}
	if (rc->valid && rc->user == user)
		return rc->result;
	/* valid first: an invalidation arriving during the lookups makes the next call look again */
	rc->valid = true;

	/* only EXECUTE on the function decides (not USAGE on the schema: see crmpool_function_oid) */
	fn = crmpool_function_oid(rc->function, rc->nargs, argtypes);
	result = OidIsValid(fn) && crmpool_may_execute(fn, user);
	rc->user = user;
	rc->result = result;
	return result;
}

static bool
may_assign(void)
{
	return may_call(&may_assign_cache);
}

/* A claim of the customer by its new owner, in *claim. */
static OwnershipIntent *
claim_intent(ManagedRel *mr, Change *ch, OwnershipIntent *claim)
{
	memset(claim, 0, sizeof(OwnershipIntent));
	claim->relid = mr->relid;
	claim->customer = ch->customer;
	claim->op = OP_CLAIM;
	claim->rep = ch->new_owner;
	return claim;
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
				 errmsg("role \"%s\" may not move customer %lld from rep %lld to rep %lld",
						GetUserNameFromId(GetUserId(), false), (long long) ch->customer,
						(long long) ch->old_owner, (long long) ch->new_owner),
				 errdetail("A direct write that gives an owned customer of table %s another owner is an assign, and the role may not call crmpool.assign().",
						   tabname(mr)),
				 errhint("Release the customer first so that the new rep can claim it, or have a role allowed to call crmpool.assign() or crmpool.transfer() move it."),
				 crmpool_refusal(mr->relid, mr->owner_att, "direct_write", ERR_REP(ch->new_owner),
								 ERR_CUSTOMER(ch->customer), ERR_OWNER(ch->old_owner))));
	return claim_intent(mr, ch, claim);
}

/*
 * crmpool.direct_writes = enforce_owned: a plain UPDATE that gives a customer an owner, with no
 * crmpool.intent.  From the pool it is a claim by the new owner, whoever writes (an app's
 * receive); an owned customer is refused as crmpool.claim() refuses it (CR003): the app's own
 * check that it was free was stale, and without enforce_owned an admin role's write would have
 * overwritten the colleague's claim as an assign.  A deliberate move says so with an intent.
 */
static OwnershipIntent *
owned_write_intent(ManagedRel *mr, Change *ch, OwnershipIntent *claim)
{
	if (ch->had_owner)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_ALREADY_OWNED),
				 errmsg("customer %lld is already owned", (long long) ch->customer),
				 errdetail("Customer %lld of table %s is owned by rep %lld; with crmpool.direct_writes = enforce_owned a plain UPDATE gives an owned customer to rep %lld only as an assign, a transfer or a distribute.",
						   (long long) ch->customer, tabname(mr), (long long) ch->old_owner,
						   (long long) ch->new_owner),
				 errhint("To move the customer on purpose, run SET LOCAL crmpool.intent = 'transfer' (or 'assign') in the transaction before the UPDATE; a receive that gets this error lost the customer to another rep."),
				 crmpool_refusal(mr->relid, mr->owner_att, "enforce_owned", ERR_REP(ch->new_owner),
								 ERR_CUSTOMER(ch->customer), ERR_OWNER(ch->old_owner))));
	return claim_intent(mr, ch, claim);
}

/* Refuse a write marked with an intent that the role may not use (assign, transfer). */
static void
require_intent_privilege(ManagedRel *mr, Change *ch, WriteIntent wi, RoleCache *rc)
{
	if (!may_call(rc))
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_DIRECT_WRITE),
				 errmsg("role \"%s\" may not write ownership changes as \"%s\"",
						GetUserNameFromId(GetUserId(), false), crmpool_intent_name(wi)),
				 errdetail("crmpool.intent = '%s' checks a write as crmpool.%s() does, and the role may not call crmpool.%s().",
						   crmpool_intent_name(wi), rc->function, rc->function),
				 errhint("Grant the role EXECUTE on crmpool.%s(), or mark the write as 'claim'.",
						 rc->function),
				 crmpool_refusal(mr->relid, mr->owner_att, "intent", ERR_REP(ch->new_owner),
								 ERR_CUSTOMER(ch->customer))));
}

/*
 * A plain write in a transaction that set crmpool.intent: the ownership change is checked as
 * that operation, as if the crmpool function had made it, and its event is recorded under the
 * intent's name.  The rep is read from the row: the new owner (claim, assign, transfer,
 * distribute) or the old one (release: its owner lets it go, under the lock rules).  A change
 * of the other direction does not match the intent and is refused (CR011); a claim of an
 * owned customer (CR003) and a transfer from the pool (CR004) are refused as the functions
 * refuse them.  distribute is an assign recorded as 'distribute' (issue 10 gives it rules of
 * its own).
 */
static OwnershipIntent *
marked_write_intent(ManagedRel *mr, Change *ch, WriteIntent wi, OwnershipIntent *out)
{
	const char *name = crmpool_intent_name(wi);

	memset(out, 0, sizeof(OwnershipIntent));
	out->relid = mr->relid;
	out->customer = ch->customer;
	out->how = name;
	if (wi == WRITE_INTENT_RELEASE)
	{
		if (ch->has_owner)
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_DIRECT_WRITE),
					 errmsg("the write gives customer %lld to rep %lld, but crmpool.intent is \"%s\"",
							(long long) ch->customer, (long long) ch->new_owner, name),
					 errdetail("With crmpool.intent = '%s' every ownership change of the transaction in table %s must put a customer back in the pool.",
							   name, tabname(mr)),
					 errhint("Set crmpool.intent to the operation the statement performs, such as SET LOCAL crmpool.intent = 'claim'."),
					 crmpool_refusal(mr->relid, mr->owner_att, "intent", ERR_REP(ch->new_owner),
									 ERR_CUSTOMER(ch->customer))));
		out->op = OP_RELEASE;
		out->rep = ch->old_owner;
		return out;
	}
	if (!ch->has_owner)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_DIRECT_WRITE),
				 errmsg("the write releases customer %lld of rep %lld, but crmpool.intent is \"%s\"",
						(long long) ch->customer, (long long) ch->old_owner, name),
				 errdetail("With crmpool.intent = '%s' every ownership change of the transaction in table %s must give a customer an owner.",
						   name, tabname(mr)),
				 errhint("Run SET LOCAL crmpool.intent = 'release' before a statement that puts customers back in the pool."),
				 crmpool_refusal(mr->relid, mr->owner_att, "intent", ERR_REP(ch->old_owner),
								 ERR_CUSTOMER(ch->customer))));
	out->rep = ch->new_owner;
	switch (wi)
	{
		case WRITE_INTENT_CLAIM:
			out->op = OP_CLAIM;
			break;
		case WRITE_INTENT_TRANSFER:
			require_intent_privilege(mr, ch, wi, &may_transfer_cache);
			if (!ch->had_owner)
				ereport(ERROR,
						(errcode(ERRCODE_CRMPOOL_NOT_OWNER),
						 errmsg("customer %lld has no owner to transfer it from", (long long) ch->customer),
						 errdetail("Customer %lld of table %s is in the public pool.",
								   (long long) ch->customer, tabname(mr)),
						 errhint("Run SET LOCAL crmpool.intent = 'assign' (or 'distribute') to give a pool customer to a rep."),
						 crmpool_refusal(mr->relid, mr->owner_att, "not_owner", ERR_REP(ch->new_owner),
										 ERR_CUSTOMER(ch->customer))));
			out->op = OP_TRANSFER;
			out->from_rep = ch->old_owner;
			break;
		default:				/* assign, distribute */
			require_intent_privilege(mr, ch, wi, &may_assign_cache);
			out->op = OP_ASSIGN;
			break;
	}
	return out;
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
				 errmsg("role \"%s\" may not move customer %lld of rep %lld from %s to %s",
						GetUserNameFromId(GetUserId(), false), (long long) ch->customer,
						(long long) ch->old_owner,
						pool_name_words(managed_pool_text(mr, oldtup, desc)), pool_name_words(ch->pool)),
				 errdetail("A direct write that moves an owned customer of table %s to another pool is an assign into that pool, and the role may not call crmpool.assign().",
						   tabname(mr)),
				 errhint("Release the customer first so that a rep can claim it in its new pool, or have a role allowed to call crmpool.assign() move it."),
				 crmpool_refusal(mr->relid, mr->pool_att, "direct_write", ERR_REP(ch->old_owner),
								 ERR_CUSTOMER(ch->customer), ERR_OWNER(ch->old_owner))));
	ledger_begin(&octx);
	locked = ledger_lock_holder(mr->table_id, ch->tenant, ch->customer, &holder, &since);
	ledger_end(&octx);
	(void) queue_count_key(mr, ch->tenant, ch->old_owner, 0, 0, 0, 0, true, locked,
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
	managed_rules(mr, ch->tenant, ch->pool, true, ch->old_owner, NULL, &rules);
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
 * Read from the trigger's slots, which deform each row once for all the columns asked
 * (heap_getattr walks the row from its start for every column after a variable-length one).
 */
static bool
column_changed(TupleTableSlot *oldslot, TupleTableSlot *newslot, AttrNumber att)
{
	Form_pg_attribute attr;
	bool		oldnull,
				newnull;
	Datum		oldval,
				newval;

	if (att == InvalidAttrNumber)
		return false;
	oldval = slot_getattr(oldslot, att, &oldnull);
	newval = slot_getattr(newslot, att, &newnull);
	if (oldnull || newnull)
		return oldnull != newnull;
	attr = TupleDescAttr(oldslot->tts_tupleDescriptor, att - 1);
	return !datumIsEqual(oldval, newval, attr->attbyval, attr->attlen);
}

/*
 * An UPDATE that concerns crmpool: the key, owner, deal or pool changed (the pool chooses the
 * caps), or (if the table recycles) a column that moves the recycle time.  Most UPDATEs of a managed table (a note written, a
 * phone number fixed) are none of these, which is why the trigger needs no WHEN clause.
 */
static bool
update_concerns(ManagedRel *mr, TupleTableSlot *oldslot, TupleTableSlot *newslot)
{
	return column_changed(oldslot, newslot, mr->owner_att) ||
		column_changed(oldslot, newslot, mr->key_att) ||
		column_changed(oldslot, newslot, mr->tenant_att) ||
		(mr->app_columns &&
		 (column_changed(oldslot, newslot, mr->lock_att) ||
		  column_changed(oldslot, newslot, mr->deleted_att))) ||
		column_changed(oldslot, newslot, mr->deal_att) ||
		column_changed(oldslot, newslot, mr->pool_att) ||
		(mr->recycles &&
		 (column_changed(oldslot, newslot, mr->followup_att) ||
		  column_changed(oldslot, newslot, mr->level_att)));
}

/*
 * A new follow-up or deal time (inserted, or changed by an UPDATE) must be one crmpool can
 * count from (due_check_times); checked whatever else the write changes, so that no path
 * stores an infinite or future follow-up that would keep its customer forever.
 */
static void
check_new_times(ManagedRel *mr, TupleTableSlot *oldslot, TupleTableSlot *newslot,
				HeapTuple newtup, TupleDesc desc)
{
	bool		followup = mr->followup_att != InvalidAttrNumber &&
		(oldslot == NULL || column_changed(oldslot, newslot, mr->followup_att));
	bool		deal = mr->deal_att != InvalidAttrNumber &&
		(oldslot == NULL || column_changed(oldslot, newslot, mr->deal_att));

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

/* ---------------------------------------------------------------------------------------------
 * The app's own columns: lock flag, owner-since, soft delete (ManagedRel.app_columns)
 * -------------------------------------------------------------------------------------------*/

static const char *
attname(ManagedRel *mr, AttrNumber att)
{
	return get_attname(mr->relid, att, false);
}

/*
 * The BEFORE ROW trigger (INSERT, UPDATE), installed only on tables that map one of the app's
 * columns, writes what follows from an ownership change into the row itself:
 *
 *   - an undeleted row goes back to its pool: its owner (and lock flag) cleared, unless the same
 *     statement names a new owner;
 *   - the lock flag goes with the spell: cleared when the customer loses its owner, or when a
 *     pool customer whose flag was left set gains one; set by the statement on a customer with
 *     no owner, it is refused (only an owned customer can be locked, crmpool.lock()'s rule);
 *   - owner_since is stamped with crmpool's clock on every gain.
 *
 * The AFTER trigger then sees the row as it is stored and checks and records it as usual.
 */
static Datum
before_row(TriggerData *td, ManagedRel *mr)
{
	TupleDesc	desc = RelationGetDescr(td->tg_relation);
	bool		update = TRIGGER_FIRED_BY_UPDATE(td->tg_event);
	HeapTuple	oldtup = update ? td->tg_trigtuple : NULL;
	HeapTuple	newtup = update ? td->tg_newtuple : td->tg_trigtuple;
	int			cols[3];
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	int			n = 0;
	bool		deleted = managed_deleted(mr, newtup, desc);
	bool		had_owner = false;
	bool		has_owner;
	int64		old_owner = 0;
	int64		new_owner = 0;
	bool		old_flag = oldtup != NULL && managed_lock_flag(mr, oldtup, desc);
	bool		new_flag = managed_lock_flag(mr, newtup, desc);

	if (oldtup != NULL)
		had_owner = managed_owner(mr, oldtup, desc, &old_owner);
	has_owner = managed_owner(mr, newtup, desc, &new_owner);

	if (oldtup != NULL && !deleted && managed_deleted(mr, oldtup, desc))
	{
		int64		raw_old = 0;
		bool		raw_had = managed_raw_owner(mr, oldtup, desc, &raw_old);

		if (has_owner && raw_had && raw_old == new_owner)
		{
			cols[n] = mr->owner_att;
			nulls[n++] = true;
			has_owner = false;
		}
	}
	if (mr->lock_att != InvalidAttrNumber && new_flag && !deleted && !has_owner)
	{
		if (oldtup == NULL || !old_flag)
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_NOT_OWNER),
					 errmsg("customer %lld has no owner and cannot be locked",
							(long long) managed_key(mr, newtup, desc)),
					 errdetail("Column \"%s\" of customer %lld of table %s marks it as locked, but only an owned customer can be locked.",
							   attname(mr, mr->lock_att), (long long) managed_key(mr, newtup, desc),
							   tabname(mr)),
					 errhint("Lock a customer after a rep owns it."),
					 crmpool_refusal(mr->relid, mr->lock_att, "not_owner",
									 ERR_CUSTOMER(managed_key(mr, newtup, desc)))));
		new_flag = false;
	}
	else if (mr->lock_att != InvalidAttrNumber && new_flag && has_owner && !had_owner &&
			 old_flag)
		new_flag = false;		/* a pool customer's stale flag does not lock it for its new owner */
	if (mr->lock_att != InvalidAttrNumber && !new_flag && managed_lock_flag(mr, newtup, desc))
	{
		cols[n] = mr->lock_att;
		values[n++] = managed_flag_datum(mr->lock_type, false);
	}
	if (mr->owner_since_att != InvalidAttrNumber && has_owner &&
		(!had_owner || old_owner != new_owner))
	{
		cols[n] = mr->owner_since_att;
		values[n++] = managed_time_datum(mr->owner_since_type, crmpool_now());
	}
	if (n > 0)
		newtup = heap_modify_tuple_by_cols(newtup, desc, n, cols, values, nulls);
	return PointerGetDatum(newtup);
}

/*
 * The app's lock flag of an owned customer changed, its owner did not: a lock or an unlock by
 * the owner, with crmpool.lock()'s and unlock()'s bookkeeping (crmpool.customer_lock, the
 * rep's locked count, checked against lock_cap at the end of the statement, the due row).
 */
static void
lock_flag_changed(ManagedRel *mr, Change *ch, bool locked)
{
	OwnerContext octx;

	ledger_begin(&octx);
	if (locked)
	{
		if (ledger_add_lock(mr->table_id, ch->tenant, ch->customer, ch->old_owner, crmpool_now()))
		{
			(void) queue_count_full(mr, ch->tenant, ch->old_owner, 0, 0, 1, 0, true, false,
									true, ch->customer, ch->pool);
			due_track(mr, ch->tenant, ch->customer, ch->newtup, ch->desc, NULL);
		}
	}
	else if (ledger_drop_lock(mr->table_id, ch->tenant, ch->customer))
	{
		queue_count(mr, ch->tenant, ch->old_owner, 0, 0, -1, 0, false, ch->customer, NULL);
		/* the spell goes on: the customer is due again by its rules */
		due_track(mr, ch->tenant, ch->customer, ch->newtup, ch->desc, NULL);
	}
	ledger_end(&octx);
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
	WriteIntent wi;

	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "crmpool.ownership_trigger() must be called as a trigger");
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	mr = managed_rel_get(RelationGetRelid(rel), false);
	if (TRIGGER_FIRED_BEFORE(td->tg_event) && TRIGGER_FIRED_FOR_ROW(td->tg_event) &&
		!TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		if (!mr->app_columns)
			return PointerGetDatum(TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple :
								   td->tg_trigtuple);
		return before_row(td, mr);
	}
	if (!TRIGGER_FIRED_AFTER(td->tg_event))
		elog(ERROR, "crmpool.ownership_trigger() must be an AFTER trigger, or a BEFORE INSERT OR UPDATE row trigger");

	if (TRIGGER_FIRED_BY_TRUNCATE(td->tg_event))
	{
		ledger_begin(&octx);
		ledger_truncate(mr->table_id, crmpool_now());
		due_forget(mr->table_id);
		identity_forget_table(mr->table_id);
		ledger_end(&octx);
		return PointerGetDatum(NULL);
	}
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event))
	{
		List	   *mine = auto_pending != NIL ? auto_pending_take(mr) : NIL;

		/* the hand-outs' cursors before the statement's own counts: auto_lock_cursors() */
		auto_lock_cursors(mr, mine);
		flush_pending();
		auto_handout(mr, mine);
		return PointerGetDatum(NULL);
	}

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
	{
		newtup = td->tg_trigtuple;
		check_new_times(mr, NULL, NULL, newtup, desc);
	}
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		oldtup = td->tg_trigtuple;
	else
	{
		oldtup = td->tg_trigtuple;
		newtup = td->tg_newtuple;
		/* AfterTriggerExecute() fetched both rows into these slots */
		if (td->tg_trigslot == NULL || td->tg_newslot == NULL)
			elog(ERROR, "crmpool.ownership_trigger() was called without the rows' slots");
		check_new_times(mr, td->tg_trigslot, td->tg_newslot, newtup, desc);
		if (!update_concerns(mr, td->tg_trigslot, td->tg_newslot))
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
				 errdetail("Customer %lld would become %lld; its ownership history is kept by key.",
						   (long long) managed_key(mr, oldtup, desc), (long long) ch.customer),
				 errhint("Insert a new customer instead, or detach the table with crmpool.unmanage() first.")));
	ch.tenant = managed_tenant(mr, newtup ? newtup : oldtup, desc);
	if (oldtup != NULL && newtup != NULL && mr->tenant_att != InvalidAttrNumber &&
		managed_tenant(mr, oldtup, desc) != ch.tenant)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the tenant of a customer in managed table %s cannot change", tabname(mr)),
				 errdetail("Customer %lld would move from tenant \"%s\" to tenant \"%s\"; its counts, history and keys are kept under its tenant.",
						   (long long) ch.customer,
						   managed_tenant_name(mr, managed_tenant(mr, oldtup, desc)),
						   managed_tenant_name(mr, ch.tenant)),
				 errhint("Delete the customer and insert it again under the new tenant.")));

	/*
	 * A soft-deleted row (deleted_column) owns nothing (managed_owner): a write that gives it an
	 * owner, or a crmpool function acting on it, is refused; the soft delete itself ends the
	 * spell like a DELETE (below).
	 */
	if (mr->app_columns && mr->deleted_att != InvalidAttrNumber && oldtup != NULL &&
		newtup != NULL && managed_deleted(mr, newtup, desc))
	{
		int64		raw_new;
		int64		raw_old;
		bool		raw_has = managed_raw_owner(mr, newtup, desc, &raw_new);
		bool		raw_had = managed_raw_owner(mr, oldtup, desc, &raw_old);
		const char *how;

		if ((raw_has && (!raw_had || raw_new != raw_old)) ||
			intent_for(mr->relid, ch.customer, &how) != NULL)
			managed_refuse_deleted(mr, ch.customer);
	}

	/*
	 * Same owner: the deal, follow-up, level, pool or lock column changed.  The deal flag
	 * counts, and so does the lock flag; any of them can move the customer's recycle time (the
	 * spell goes on).
	 */
	if (oldtup != NULL && newtup != NULL && ch.had_owner == ch.has_owner &&
		(!ch.had_owner || ch.old_owner == ch.new_owner))
	{
		if (ch.had_owner && mr->app_columns && mr->lock_att != InvalidAttrNumber &&
			column_changed(td->tg_trigslot, td->tg_newslot, mr->lock_att))
		{
			bool		locked = managed_lock_flag(mr, newtup, desc);

			if (locked != managed_lock_flag(mr, oldtup, desc))
			{
				ch.pool = managed_pool_text(mr, newtup, desc);
				lock_flag_changed(mr, &ch, locked);
				flush_if_no_statement_trigger();
			}
		}
		if (ch.had_owner && ch.old_deal != ch.new_deal)
		{
			ch.pool = managed_pool_text(mr, newtup, desc);
			queue_count(mr, ch.tenant, ch.old_owner, 0, ch.new_deal ? 1 : -1, 0, 0,
						deal_clear_counts(mr, &ch), ch.customer, ch.pool);
			flush_if_no_statement_trigger();
		}
		if (ch.had_owner && crmpool_direct_writes != DIRECT_WRITES_ALLOW &&
			column_changed(td->tg_trigslot, td->tg_newslot, mr->pool_att))
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
		/* A row going away (or soft-deleted) is never refused: its spell simply ends. */
		if (oldtup != NULL && newtup == NULL)
			check = false;
		else if (mr->app_columns && oldtup != NULL && managed_deleted(mr, newtup, desc))
		{
			ch.how = "soft_delete";
			check = false;
		}
		else if ((wi = crmpool_write_intent()) != WRITE_INTENT_NONE)
		{
			/* marked with crmpool.intent; under allow it only names the event */
			check = (crmpool_direct_writes != DIRECT_WRITES_ALLOW);
			if (check)
				in = marked_write_intent(mr, &ch, wi, &claim);
			ch.how = crmpool_intent_name(wi);
		}
		else if (crmpool_direct_writes == DIRECT_WRITES_REJECT && ch.has_owner + ch.had_owner > 0)
		{
			refuse_direct_write(mr, &ch);
			check = false;		/* not reached */
		}
		else
		{
			check = (crmpool_direct_writes != DIRECT_WRITES_ALLOW);
			if (check && ch.has_owner)
				in = (crmpool_direct_writes == DIRECT_WRITES_ENFORCE_OWNED && oldtup != NULL) ?
					owned_write_intent(mr, &ch, &claim) :
					direct_write_intent(mr, &ch, &claim);
		}
	}

	ledger_begin(&octx);
	if (in != NULL && in->actor != NULL)
		ledger_set_actor(in->actor);
	apply_change(mr, &ch, in, check);
	ledger_end(&octx);
	flush_if_no_statement_trigger();

	/* a new pool customer of a pool with rule auto_distribute: one branch for other tables */
	if (mr->auto_distributes && oldtup == NULL && !ch.has_owner &&
		ownership_auto_distribute_hook != NULL)
	{
		RuleSet		rules;
		int			mode;

		managed_rules(mr, ch.tenant, ch.pool, false, 0, NULL, &rules);
		mode = rule_choice(&rules, RULE_AUTO_DISTRIBUTE);
		if (mode >= 0 && !(mr->app_columns && managed_deleted(mr, newtup, desc)))
		{
			/* a logical apply worker fires no statement trigger: its event is recorded already */
			if (IsLogicalWorker())
				ownership_auto_distribute_hook(mr, ch.tenant, ch.pool, ch.customer, mode);
			else
				auto_pending_add(mr, ch.tenant, ch.pool, ch.customer, mode);
		}
	}
	return PointerGetDatum(NULL);
}
