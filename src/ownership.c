/*
 * ownership.c: the one place where ownership changes are checked and recorded.
 *
 * Every managed table carries crmpool's AFTER ROW trigger (INSERT, UPDATE, DELETE; an UPDATE
 * that changes neither key, owner nor deal is skipped first thing) and an AFTER TRUNCATE
 * trigger.  Whatever wrote the change (a crmpool function, an app's UPDATE, an import, psql),
 * the trigger decides with the same rules:
 *
 *   - crmpool's functions announce what they are doing with an intent (claim, release, assign,
 *     transfer, and for whom) before running their UPDATE; the trigger applies that operation's
 *     rules to the row it sees;
 *   - a change with no intent is a direct write, checked as an assign (new owner) or a release
 *     (owner NULL) according to crmpool.direct_writes.
 *
 * AFTER triggers fire once the statement has locked and written all its rows, so the lock order
 * is always: customer rows, then rep counter rows in ascending rep order (docs/design.md).  The
 * trigger sees the row version that was actually replaced (under READ COMMITTED, the latest
 * committed one), so "already owned" is decided on the truth, never on a stale read.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "commands/trigger.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "crmpool.h"

static OwnershipIntent *current_intent = NULL;

void
ownership_push_intent(OwnershipIntent *intent)
{
	intent->fired = false;
	intent->outer = current_intent;
	current_intent = intent;
}

void
ownership_pop_intent(OwnershipIntent *intent)
{
	current_intent = intent->outer;
}

/* An intent stays pushed only while its own statement runs; error unwinding pops it. */
static OwnershipIntent *
intent_for(Oid relid, int64 customer)
{
	OwnershipIntent *in;

	for (in = current_intent; in != NULL; in = in->outer)
		if (in->relid == relid && in->customer == customer && !in->fired)
			return in;
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
} Change;

static bool
owner_of(ManagedRel *mr, HeapTuple tup, TupleDesc desc, int64 *owner)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, mr->owner_att, desc, &isnull);

	if (!isnull)
		*owner = managed_int_value(mr->owner_type, d);
	return !isnull;
}

static int64
key_of(ManagedRel *mr, HeapTuple tup, TupleDesc desc)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, mr->key_att, desc, &isnull);

	if (isnull)
		elog(ERROR, "managed row has a null key");
	return managed_int_value(mr->key_type, d);
}

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

static void
check_quota(ManagedRel *mr, Change *ch, const RuleSet *rules, const RepCounts *after,
			bool is_claim, DateADT today)
{
	int64		limit;

	if (rule_limit(rules, RULE_PRIVATE_CAP, &limit))
	{
		int64		counted = after->owned;

		if (!rule_flag(rules, RULE_COUNT_DEALS_IN_CAP))
			counted -= after->with_deal;
		if (counted > limit)
			ereport(ERROR,
					(errcode(ERRCODE_CRMPOOL_PRIVATE_CAP),
					 errmsg("rep " INT64_FORMAT " has reached the private cap", ch->new_owner),
					 errdetail("Rep " INT64_FORMAT " owns " INT64_FORMAT " of " INT64_FORMAT " customers allowed in table %s%s.",
							   ch->new_owner, counted - 1, limit, tabname(mr),
							   rule_flag(rules, RULE_COUNT_DEALS_IN_CAP) ? "" : " (customers with a deal not counted)"),
					 errhint("Release a customer first, or raise private_cap with crmpool.set_rules().")));
	}
	if (is_claim && rule_limit(rules, RULE_DAILY_CLAIM_LIMIT, &limit) &&
		after->claims_today > limit)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_DAILY_LIMIT),
				 errmsg("rep " INT64_FORMAT " has reached the daily claim limit", ch->new_owner),
				 errdetail("Rep " INT64_FORMAT " has claimed " INT64_FORMAT " of " INT64_FORMAT " customers allowed today (%s) in table %s.",
						   ch->new_owner, after->claims_today - 1, limit,
						   DatumGetCString(DirectFunctionCall1(date_out, DateADTGetDatum(today))),
						   tabname(mr)),
				 errhint("The count starts again at midnight in time zone \"%s\".",
						 pg_get_timezone_name(session_timezone))));
}

/*
 * Check (unless `check` is false) and record one ownership change.  Runs inside a ledger
 * session.  The order of statements follows the lock order: the customer row is already locked
 * by the statement; rep counter rows are taken in ascending rep order.
 */
static void
apply_change(ManagedRel *mr, Change *ch, OwnershipIntent *in, bool check)
{
	TimestampTz now = crmpool_now();
	DateADT		today = crmpool_date(now);
	bool		is_claim = (in != NULL && in->op == OP_CLAIM);
	bool		ends = ch->had_owner;
	bool		was_locked = false;
	RuleSet		rules;
	RepCounts	after;

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
	if (ends)
	{
		if (check)
			refuse_locked(mr, ch);
		else
			was_locked = ledger_drop_lock(mr->relid, ch->customer);
	}

	if (ch->has_owner && check)
	{
		rules_effective(mr->nscopes, mr->scopes, ch->pool, true, ch->new_owner, NULL, &rules);
		if (is_claim)
			check_claim_timing(mr, ch, &rules, now);
	}

	/* Counters: lower rep id first, so two transfers in opposite directions cannot deadlock. */
	if (ends && (!ch->has_owner || ch->old_owner < ch->new_owner))
	{
		ledger_lose(mr->relid, ch->old_owner, ch->old_deal, was_locked);
		ends = false;
	}
	if (ch->has_owner)
	{
		ledger_gain(mr->relid, ch->new_owner, ch->new_deal, is_claim, today, &after);
		if (check)
			check_quota(mr, ch, &rules, &after, is_claim, today);
	}
	if (ends)
		ledger_lose(mr->relid, ch->old_owner, ch->old_deal, was_locked);

	ledger_record(mr->relid, ch->customer, now, ch->has_owner, ch->new_owner, ch->how,
				  in != NULL ? in->reason : NULL);
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
		case OP_DIRECT:
			break;
	}
	return "update";
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
		ledger_end(&octx);
		return PointerGetDatum(NULL);
	}
	if (!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "crmpool.ownership_trigger() must be a row or TRUNCATE trigger");

	if (TRIGGER_FIRED_BY_INSERT(td->tg_event))
		newtup = td->tg_trigtuple;
	else if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
		oldtup = td->tg_trigtuple;
	else
	{
		oldtup = td->tg_trigtuple;
		newtup = td->tg_newtuple;
	}

	memset(&ch, 0, sizeof(ch));
	ch.customer = key_of(mr, newtup ? newtup : oldtup, desc);
	if (oldtup != NULL)
	{
		ch.had_owner = owner_of(mr, oldtup, desc, &ch.old_owner);
		ch.old_deal = ch.had_owner && managed_has_deal(mr, oldtup, desc);
	}
	if (newtup != NULL)
	{
		ch.has_owner = owner_of(mr, newtup, desc, &ch.new_owner);
		ch.new_deal = ch.has_owner && managed_has_deal(mr, newtup, desc);
	}
	if (oldtup != NULL && newtup != NULL && key_of(mr, oldtup, desc) != ch.customer)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("the key of a customer in managed table %s cannot change", tabname(mr)),
				 errdetail("Customer " INT64_FORMAT " would become " INT64_FORMAT "; its ownership history is kept by key.",
						   key_of(mr, oldtup, desc), ch.customer),
				 errhint("Insert a new customer instead, or detach the table with crmpool.unmanage() first.")));

	/*
	 * Same owner: only the deal flag can have changed.  Most UPDATEs of a managed table (a
	 * follow-up written, a phone number fixed) leave here, which is why the trigger needs no
	 * WHEN clause.
	 */
	if (oldtup != NULL && newtup != NULL && ch.had_owner == ch.has_owner &&
		(!ch.had_owner || ch.old_owner == ch.new_owner))
	{
		if (ch.had_owner && ch.old_deal != ch.new_deal)
		{
			ledger_begin(&octx);
			ledger_deal_changed(mr->relid, ch.old_owner, ch.new_deal ? 1 : -1);
			ledger_end(&octx);
		}
		return PointerGetDatum(NULL);
	}
	if (newtup != NULL)
		ch.pool = managed_pool_text(mr, newtup, desc);

	in = intent_for(mr->relid, ch.customer);
	if (in != NULL)
	{
		in->fired = true;
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
			check = (crmpool_direct_writes != DIRECT_WRITES_ALLOW);
	}

	ledger_begin(&octx);
	apply_change(mr, &ch, in, check);
	ledger_end(&octx);
	return PointerGetDatum(NULL);
}
