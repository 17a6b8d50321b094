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
#include "replication/logicalworker.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/syscache.h"
#include "utils/datum.h"
#include "utils/timestamp.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "crmpool.h"

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

const char *
crmpool_refusal_name(int sqlerrcode)
{
	switch (sqlerrcode)
	{
		case ERRCODE_CRMPOOL_UNKNOWN_CUSTOMER:
			return "unknown_customer";
		case ERRCODE_CRMPOOL_ALREADY_OWNED:
			return "already_owned";
		case ERRCODE_CRMPOOL_NOT_OWNER:
			return "not_owner";
		case ERRCODE_CRMPOOL_LOCKED:
			return "locked";
		case ERRCODE_CRMPOOL_PRIVATE_CAP:
			return "private_cap_reached";
		case ERRCODE_CRMPOOL_LOCK_CAP:
			return "lock_cap_reached";
		case ERRCODE_CRMPOOL_DAILY_LIMIT:
			return "daily_limit_reached";
		case ERRCODE_CRMPOOL_COOLDOWN:
			return "reclaim_cooldown";
		case ERRCODE_CRMPOOL_HOLDBACK:
			return "pool_holdback";
		case ERRCODE_CRMPOOL_DIRECT_WRITE:
			return "direct_write_rejected";
		case ERRCODE_CRMPOOL_DUPLICATE:
			return "duplicate";
		default:
			return NULL;
	}
}

/* One row's change, as the trigger sees it. */
typedef struct Change
{
	int64		customer;
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

	if (ledger_lock_holder(mr->relid, ch->customer, &holder, &since))
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
	ledger_customer_past(mr->relid, ch->customer, ch->new_owner, has_cooldown, &past);

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
 * Counter changes, queued per statement
 * -------------------------------------------------------------------------------------------*/

/*
 * Queues of work a statement's row triggers leave for its statement trigger.  Every item starts
 * with the subtransaction that queued it: an aborted subtransaction drops its own items (and its
 * children's), a committed one hands them to its parent.  They live in TopTransactionContext.
 */
typedef struct PendingQueue
{
	char	   *items;
	int			n;
	int			max;
	Size		size;			/* of one item */
} PendingQueue;

#define QUEUE_ITEM(q, i) ((void *) ((q)->items + (Size) (i) * (q)->size))
#define QUEUE_SUBID(q, i) (*(SubTransactionId *) QUEUE_ITEM(q, i))

/* One rep's counter change from one row; checked against the rules after the counts are in. */
typedef struct PendingCount
{
	SubTransactionId subid;
	Oid			relid;
	int64		rep;
	int			owned;			/* deltas */
	int			with_deal;
	int			locked;
	int			claims;
	bool		check;			/* a checked gain: cap (and, for a claim, daily limit) */
	bool		check_lock;		/* a locked customer moved to this pool: its lock cap too */
	int64		customer;
	char	   *pool;
} PendingCount;

/* One ownership change for the ledger, recorded once the counter rows are held. */
typedef struct PendingEvent
{
	SubTransactionId subid;
	Oid			relid;
	int64		customer;
	bool		has_owner;
	int64		owner;
	const char *how;			/* static string */
	char	   *reason;
	char	   *actor;			/* who acted when the row changed (recycling: "crmpool") */
} PendingEvent;

static PendingQueue counts = {NULL, 0, 0, sizeof(PendingCount)};
static PendingQueue events = {NULL, 0, 0, sizeof(PendingEvent)};
static bool pending_callbacks = false;

static void
queue_subxact(PendingQueue *q, SubXactEvent event, SubTransactionId mySubid,
			  SubTransactionId parentSubid)
{
	int			i,
				n = 0;

	for (i = 0; i < q->n; i++)
	{
		if (QUEUE_SUBID(q, i) < mySubid)
		{
			if (n != i)
				memcpy(QUEUE_ITEM(q, n), QUEUE_ITEM(q, i), q->size);
			n++;
		}
		else if (event == SUBXACT_EVENT_COMMIT_SUB)
		{
			QUEUE_SUBID(q, i) = parentSubid;
			if (n != i)
				memcpy(QUEUE_ITEM(q, n), QUEUE_ITEM(q, i), q->size);
			n++;
		}
	}
	q->n = n;
}

static void
pending_subxact(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid,
				void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB || event == SUBXACT_EVENT_COMMIT_SUB)
	{
		queue_subxact(&counts, event, mySubid, parentSubid);
		queue_subxact(&events, event, mySubid, parentSubid);
	}
}

static void
pending_xact(XactEvent event, void *arg)
{
	/* only possible if the statement trigger was disabled: never let the counts drift */
	if (event == XACT_EVENT_PRE_COMMIT && (counts.n > 0 || events.n > 0))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("crmpool has ownership changes that no statement trigger applied"),
				 errhint("Do not disable crmpool's triggers one by one; detach the table with crmpool.unmanage().")));
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_COMMIT ||
		event == XACT_EVENT_PARALLEL_ABORT || event == XACT_EVENT_PARALLEL_COMMIT)
	{
		/* the items lived in TopTransactionContext */
		counts.items = events.items = NULL;
		counts.n = counts.max = events.n = events.max = 0;
	}
}

static void *
queue_push(PendingQueue *q)
{
	void	   *item;

	if (!pending_callbacks)
	{
		RegisterXactCallback(pending_xact, NULL);
		RegisterSubXactCallback(pending_subxact, NULL);
		pending_callbacks = true;
	}
	if (q->n == q->max)
	{
		q->max = Max(16, q->max * 2);
		q->items = q->items == NULL ?
			MemoryContextAlloc(TopTransactionContext, q->size * q->max) :
			repalloc_huge(q->items, q->size * q->max);
	}
	item = QUEUE_ITEM(q, q->n++);
	memset(item, 0, q->size);
	*(SubTransactionId *) item = GetCurrentSubTransactionId();
	return item;
}

static PendingCount *
queue_count(Oid relid, int64 rep, int owned, int with_deal, int locked, int claims, bool check,
			int64 customer, const char *pool)
{
	PendingCount *p = queue_push(&counts);

	p->relid = relid;
	p->rep = rep;
	p->owned = owned;
	p->with_deal = with_deal;
	p->locked = locked;
	p->claims = claims;
	p->check = check;
	p->customer = customer;
	p->pool = pool ? MemoryContextStrdup(TopTransactionContext, pool) : NULL;
	return p;
}

static void
queue_event(Oid relid, int64 customer, bool has_owner, int64 owner, const char *how,
			const char *reason)
{
	PendingEvent *e = queue_push(&events);

	e->relid = relid;
	e->customer = customer;
	e->has_owner = has_owner;
	e->owner = owner;
	e->how = how;
	e->reason = reason ? MemoryContextStrdup(TopTransactionContext, reason) : NULL;
	e->actor = MemoryContextStrdup(TopTransactionContext, ledger_current_actor());
}

static int
pending_order(const void *a, const void *b)
{
	const PendingCount *x = a,
			   *y = b;

	if (x->relid != y->relid)
		return x->relid < y->relid ? -1 : 1;
	if (x->rep != y->rep)
		return x->rep < y->rep ? -1 : 1;
	return x->customer < y->customer ? -1 : x->customer > y->customer ? 1 : 0;
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

	rules_effective(mr->nscopes, mr->scopes, p->pool, true, p->rep, NULL, &rules);
	if (rule_limit(&rules, RULE_PRIVATE_CAP, &limit))
	{
		int64		counted = after->owned;

		if (!rule_flag(&rules, RULE_COUNT_DEALS_IN_CAP))
			counted -= after->with_deal;
		if (counted > limit)
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_PRIVATE_CAP),
					 errmsg("rep " INT64_FORMAT " has reached the private cap", p->rep),
					 errdetail("Rep " INT64_FORMAT " owns " INT64_FORMAT " of " INT64_FORMAT " customers allowed in table %s%s.",
							   p->rep, Max(counted - gained, 0), limit, tabname(mr),
							   rule_flag(&rules, RULE_COUNT_DEALS_IN_CAP) ? "" : " (customers with a deal not counted)"),
					 errhint("Release a customer first, or raise private_cap with crmpool.set_rules().")));
	}
	if (p->check_lock && rule_limit(&rules, RULE_LOCK_CAP, &limit) && after->locked > limit)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_LOCK_CAP),
				 errmsg("rep " INT64_FORMAT " has reached the lock cap", p->rep),
				 errdetail("Rep " INT64_FORMAT " has locked " INT64_FORMAT " customers in table %s; the lock_cap of %s, where locked customer " INT64_FORMAT " moves, is " INT64_FORMAT ".",
						   p->rep, after->locked, tabname(mr), pool_words(p->pool), p->customer, limit),
				 errhint("Unlock a customer first, or raise lock_cap with crmpool.set_rules().")));
	if (p->claims > 0 && rule_limit(&rules, RULE_DAILY_CLAIM_LIMIT, &limit) &&
		after->claims_today > limit)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_DAILY_LIMIT),
				 errmsg("rep " INT64_FORMAT " has reached the daily claim limit", p->rep),
				 errdetail("Rep " INT64_FORMAT " has claimed " INT64_FORMAT " of " INT64_FORMAT " customers allowed today (%s) in table %s.",
						   p->rep, Max(after->claims_today - gained, 0), limit,
						   DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(today))),
						   tabname(mr)),
				 errhint("The count starts again at midnight in time zone \"%s\" (crmpool.timezone).",
						 crmpool_day_timezone_name())));
}

/*
 * Apply every queued counter change: each (table, rep) row once, in ascending order; check the
 * checked gains against the counts after the statement; then record the statement's events.
 */
static void
flush_pending(void)
{
	OwnerContext octx;
	TimestampTz now;
	DateADT		today;
	PendingCount *pending = (PendingCount *) counts.items;
	int			npending = counts.n;
	int			i,
				j;

	if (counts.n == 0 && events.n == 0)
		return;
	qsort(pending, npending, sizeof(PendingCount), pending_order);
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

		for (j = i; j < npending && pending[j].relid == pending[i].relid &&
			 pending[j].rep == pending[i].rep; j++)
		{
			owned += pending[j].owned;
			with_deal += pending[j].with_deal;
			locked += pending[j].locked;
			claims += pending[j].claims;
		}
		ledger_apply(pending[i].relid, pending[i].rep, owned, with_deal, locked, claims, today,
					 &after);
		for (k = i; k < j; k++)
			if (pending[k].check)
			{
				gained += pending[k].owned > 0;
				claimed += pending[k].claims > 0;
			}
		for (k = i; k < j; k++)
			if (pending[k].check)
				check_quota(managed_rel_get(pending[k].relid, false), &pending[k], &after,
							pending[k].claims > 0 ? claimed : gained, today);
	}

	/*
	 * The events go in while every rep row of the statement is held, so a rep's events are in
	 * the same order as its counter changes: replaying a rep's history never overshoots a cap
	 * that its counter never overshot.
	 */
	for (i = 0; i < events.n; i++)
	{
		PendingEvent *e = (PendingEvent *) QUEUE_ITEM(&events, i);

		ledger_record(e->relid, e->customer, now, e->has_owner, e->owner, e->how, e->reason,
					  e->actor);
	}
	ledger_end(&octx);
	counts.n = events.n = 0;
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
			was_locked = ledger_drop_lock(mr->relid, ch->customer);
	}

	if (ch->has_owner && check && is_claim)
	{
		RuleSet		rules;

		rules_effective(mr->nscopes, mr->scopes, ch->pool, true, ch->new_owner, NULL, &rules);
		check_claim_timing(mr, ch, &rules, now);
	}

	if (ch->had_owner)
		queue_count(mr->relid, ch->old_owner, -1, ch->old_deal ? -1 : 0, was_locked ? -1 : 0, 0,
					false, ch->customer, NULL);
	if (ch->has_owner)
		queue_count(mr->relid, ch->new_owner, 1, ch->new_deal ? 1 : 0, 0, is_claim ? 1 : 0,
					check, ch->customer, ch->pool);

	queue_event(mr->relid, ch->customer, ch->has_owner, ch->new_owner, ch->how,
				in != NULL ? in->reason : NULL);

	/* A new spell (or none): its recycle clock starts now. */
	if (ch->had_owner || ch->has_owner)
		recycle_track(mr, ch->customer, ch->newtup, ch->desc, &now);
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
	Oid			nsp;
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

	/*
	 * Straight from the catalog: LookupFuncName would check USAGE on schema crmpool, and a DBA
	 * who revokes that from PUBLIC would make every plain claim fail with 42501.  Only EXECUTE
	 * on the function decides.
	 */
	nsp = crmpool_schema_oid();
	fn = GetSysCacheOid3(PROCNAMEARGSNSP, Anum_pg_proc_oid, CStringGetDatum("assign"),
						 PointerGetDatum(buildoidvector(argtypes, 3)), ObjectIdGetDatum(nsp));
	result = OidIsValid(fn) && pg_proc_aclcheck(fn, user, ACL_EXECUTE) == ACLCHECK_OK;
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
	PendingCount *p;

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
	locked = ledger_lock_holder(mr->relid, ch->customer, &holder, &since);
	ledger_end(&octx);
	p = queue_count(mr->relid, ch->old_owner, 0, 0, 0, 0, true, ch->customer, ch->pool);
	p->check_lock = locked;
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
		column_changed(oldtup, newtup, desc, mr->deal_att) ||
		column_changed(oldtup, newtup, desc, mr->pool_att) ||
		(mr->recycles &&
		 (column_changed(oldtup, newtup, desc, mr->followup_att) ||
		  column_changed(oldtup, newtup, desc, mr->level_att)));
}

/*
 * A new follow-up or deal time (inserted, or changed by an UPDATE) must be one crmpool can
 * count from (recycle_check_times); checked whatever else the write changes, so that no path
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
		recycle_check_times(mr, newtup, desc, managed_key(mr, newtup, desc), followup, deal);
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
		recycle_forget(mr->relid);
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

	/*
	 * Same owner: the deal, follow-up, level or pool column changed.  The deal flag counts; any
	 * of them can move the customer's recycle time (the spell goes on).
	 */
	if (oldtup != NULL && newtup != NULL && ch.had_owner == ch.has_owner &&
		(!ch.had_owner || ch.old_owner == ch.new_owner))
	{
		if (ch.had_owner)
			ch.pool = managed_pool_text(mr, newtup, desc);
		if (ch.had_owner && ch.old_deal != ch.new_deal)
		{
			queue_count(mr->relid, ch.old_owner, 0, ch.new_deal ? 1 : -1, 0, 0,
						deal_clear_counts(mr, &ch), ch.customer, ch.pool);
			flush_if_no_statement_trigger();
		}
		if (ch.had_owner && crmpool_direct_writes != DIRECT_WRITES_ALLOW &&
			column_changed(oldtup, newtup, desc, mr->pool_att))
		{
			pool_move(mr, &ch, oldtup, desc);
			flush_if_no_statement_trigger();
		}
		if (ch.had_owner && mr->recycles)
		{
			ledger_begin(&octx);
			recycle_track(mr, ch.customer, newtup, desc, NULL);
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
