/*
 * due.c: when each owned customer is due for recycling, kept up to date on every change.
 *
 * Due rows.  crmpool.recycle_due holds one row per owned, unlocked customer that a recycle rule
 * applies to: when it is due (due_at), by which rule, when its owner is warned (warn_at), and
 * whether that warning went out.  The ownership trigger keeps it (due_track() from
 * apply_change(), and on a change of the deal, follow-up, level or pool column); lock() drops
 * the row and unlock() restores it; set_rules / clear_rules / manage recompute a whole table.
 * A table without recycle rules (ManagedRel.recycles false) costs a claim nothing here.
 *
 * The clock of a spell starts when the owner gained the customer (any claim, assign, transfer
 * or direct write).  recycle_no_followup counts from the later of that and the last follow-up
 * (the mapped follow-up column, or else crmpool.follow_up() records); recycle_no_deal from the
 * start of the spell, for customers without a deal.  With recycle_exempt_deals (the default) a
 * customer with a deal is never due.  The earlier rule wins.
 *
 * Recycling itself (batches, warnings, follow_up()) is ops/recycle.c; it reads what is kept here.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "track/track.h"

/* Rows a recompute computes and writes at a time. */
#define RECOMPUTE_CHUNK 10000

typedef enum DueStmt
{
	RS_UPSERT_DUE,
	RS_DELETE_DUE,
	RS_FORGET_DUE,
	RS_BULK_DUE,
	RS_LAST_FOLLOWUP,
	NUM_DUE_STMTS
} DueStmt;

#define UPSERT_DUE_SQL(T) \
	"INSERT INTO crmpool.recycle_due AS d (" T("tenant, ") TABLE_ID(T) ", customer, owner, since, due_at, rule, warn_at, warned) " \
	"VALUES (" T("$8, ") "$1, $2, $3, $4, $5, $6, $7, false) " \
	"ON CONFLICT (" T("tenant, ") TABLE_ID(T) ", customer) DO UPDATE SET owner = excluded.owner, since = excluded.since, " \
	"due_at = excluded.due_at, rule = excluded.rule, warn_at = excluded.warn_at, " \
	"warned = d.warned AND d.owner" EQ "excluded.owner AND d.since" EQ "excluded.since " \
	"AND d.due_at" EQ "excluded.due_at"

#define DELETE_DUE_SQL(T) \
	"DELETE FROM crmpool.recycle_due WHERE " T("tenant" EQ "$3 AND ") TABLE_ID(T) EQ "$1 AND customer" EQ "$2"

#define BULK_DUE_SQL(T) \
	"INSERT INTO crmpool.recycle_due (" T("tenant, ") TABLE_ID(T) ", customer, owner, since, due_at, rule, warn_at, warned) " \
	"SELECT " T("u.tenant, ") "$1, u.customer, u.owner, u.since, u.due_at, u.rule, u.warn_at, " \
	"EXISTS (SELECT FROM crmpool.recycle_warning w WHERE " T("w.tenant" EQ "u.tenant AND ") "w." TABLE_ID(T) EQ "$1 " \
	"  AND w.customer" EQ "u.customer AND w.owner" EQ "u.owner AND w.since" EQ "u.since " \
	"  AND w.due_at" EQ "u.due_at) " \
	"FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), " \
	"pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7)" T(", pg_catalog.unnest($8)") ") " \
	"AS u(customer, owner, since, due_at, rule, warn_at" T(", tenant") ")"

#define FORGET_DUE_SQL(T) \
	"DELETE FROM crmpool.recycle_due WHERE " TABLE_ID(T) EQ "$1"

#define LAST_FOLLOWUP_SQL(T) \
	"SELECT pg_catalog.max(at) FROM crmpool.followup WHERE " T("tenant" EQ "$3 AND ") TABLE_ID(T) EQ "$1 AND customer" EQ "$2"

static const CrmpoolStmt stmt_defs[NUM_DUE_STMTS] = {
	/*
	 * $1 table id, $2 customer, $3 owner, $4 since, $5 due_at, $6 rule, $7 warn_at, $8 tenant.  A warning
	 * stands while the spell and its due time stay the same: a follow-up opens a new window.
	 */
	[RS_UPSERT_DUE] = TENANT_STMT(UPSERT_DUE_SQL, 8, {INT4OID, INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID, INT8OID}),
	[RS_DELETE_DUE] = TENANT_STMT(DELETE_DUE_SQL, 3, {INT4OID, INT8OID, INT8OID}),
	[RS_FORGET_DUE] = TENANT_STMT(FORGET_DUE_SQL, 1, {INT4OID}),
	/* a recompute: warned is remembered by the warnings already sent for the same window */
	[RS_BULK_DUE] = TENANT_STMT(BULK_DUE_SQL, 8, {INT4OID, INT8ARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID, INT8ARRAYOID}),
	[RS_LAST_FOLLOWUP] = TENANT_STMT(LAST_FOLLOWUP_SQL, 3, {INT4OID, INT8OID, INT8OID}),
};

static SPIPlanPtr stmt_plans[NUM_DUE_STMTS][2];

static int
run(DueStmt stmt, Datum *values, const char *nulls)
{
	return crmpool_run_stmt(&stmt_defs[stmt], stmt_plans[stmt], values, nulls, false);
}

/*
 * Everything but `since` (and a follow-up kept in crmpool.followup) from the customer's row.
 * An infinite follow-up (only in rows written before 0.2 or while crmpool's triggers were off:
 * due_check_times refuses it) counts as none, so it cannot keep a customer forever.
 */
void
due_input(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, DueInput *in)
{
	(void) managed_owner(mr, tuple, desc, &in->owner);
	in->tenant = managed_tenant(mr, tuple, desc);
	in->pool = managed_pool_text(mr, tuple, desc);
	in->level = managed_level_text(mr, tuple, desc);
	in->deal = managed_has_deal(mr, tuple, desc);
	in->locked = false;
	in->has_followup = managed_followup(mr, tuple, desc, &in->followup) &&
		!TIMESTAMP_NOT_FINITE(in->followup);
}

/*
 * How far after crmpool's clock a follow-up written to the table's follow-up column may be.
 * The application writes that column with its own clock (an app server a few seconds ahead),
 * and a timestamp-without-time-zone column in its own local zone (a session whose TimeZone is
 * UTC reads Asia/Shanghai times as 8 hours ahead): refusing those would fail ordinary writes.
 * Beyond a day it is a rep postponing recycling at will.
 */
#define FOLLOWUP_COLUMN_SLACK USECS_PER_DAY

/*
 * A follow-up time crmpool accepts: finite, and not more than `slack` after crmpool's clock.
 * A later one would postpone recycling at will (infinity: forever).  follow_up() is held to
 * crmpool's clock (slack 0), a write of the mapped follow-up column to FOLLOWUP_COLUMN_SLACK.
 * `where` says which customer, for the detail.
 */
void
due_check_followup(TimestampTz at, TimestampTz now, int64 slack, const char *where)
{
	if (TIMESTAMP_NOT_FINITE(at))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("follow-up time must be finite"),
				 errdetail("%s is %s.", where, crmpool_timestamp_text(at)),
				 errhint("An infinite follow-up time would keep the customer from ever being recycled.")));
	if (slack == 0 && at > now)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("follow-up time %s is in the future", crmpool_timestamp_text(at)),
				 errdetail("%s is later than crmpool's clock, which reads %s.", where,
						   crmpool_timestamp_text(now))));
	/* now is finite (fake_now too), so now + slack stays far inside int64 */
	if (slack > 0 && at > now + slack)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("follow-up time %s is too far in the future", crmpool_timestamp_text(at)),
				 errdetail("%s is more than 1 day later than crmpool's clock, which reads %s.",
						   where, crmpool_timestamp_text(now)),
				 errhint("Write the time of the last follow-up; crmpool accepts up to a day ahead of its clock for clock skew and local times.")));
}

/*
 * The ownership trigger's check of a row's new follow-up (check_followup) or deal
 * (check_deal) column value: the follow-up as follow_up() checks it; a deal time, when the deal
 * column holds one, must be finite.
 */
void
due_check_times(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, int64 customer,
				bool check_followup, bool check_deal)
{
	TimestampTz at;

	if (check_followup && managed_followup(mr, tuple, desc, &at))
		due_check_followup(at, crmpool_now(), FOLLOWUP_COLUMN_SLACK,
							psprintf(_("Column \"%s\" of customer %lld of table %s"),
									 get_attname(mr->relid, mr->followup_att, false), (long long) customer,
									 get_rel_name(mr->relid)));
	if (check_deal && mr->deal_att != InvalidAttrNumber &&
		(mr->deal_type == TIMESTAMPTZOID || mr->deal_type == TIMESTAMPOID ||
		 mr->deal_type == DATEOID))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, mr->deal_att, desc, &isnull);
		bool		infinite;

		if (isnull)
			return;
		if (mr->deal_type == DATEOID)
			infinite = DATE_NOT_FINITE(DatumGetDateADT(d));
		else
			infinite = TIMESTAMP_NOT_FINITE(DatumGetTimestamp(d));
		if (infinite)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("deal time must be finite"),
					 errdetail("Column \"%s\" of customer %lld of table %s is %s.",
							   get_attname(mr->relid, mr->deal_att, false), (long long) customer,
							   get_rel_name(mr->relid),
							   OidOutputFunctionCall(mr->deal_type == DATEOID ? F_DATE_OUT :
													 mr->deal_type == TIMESTAMPOID ? F_TIMESTAMP_OUT :
													 F_TIMESTAMPTZ_OUT, d))));
	}
}

/* When the customer is due and by which rule; false when no rule recycles it. */
bool
due_compute(ManagedRel *mr, const DueInput *in, Due *out)
{
	RuleSet		rules;
	Interval	span;
	bool		found = false;

	managed_rules(mr, in->tenant, in->pool, true, in->owner, in->level, &rules);
	if (in->deal && rule_flag(&rules, RULE_RECYCLE_EXEMPT_DEALS))
		return false;
	if (in->locked && (rule_choice(&rules, RULE_LOCK_BLOCKS) & LOCK_BLOCKS_RECYCLE))
		return false;

	if (rule_span(&rules, RULE_RECYCLE_NO_FOLLOWUP, &span))
	{
		TimestampTz from = in->since;

		if (in->has_followup && in->followup > from)
			from = in->followup;
		out->due_at = crmpool_add_interval(from, &span);
		out->rule = "no_followup";
		found = true;
	}
	if (!in->deal && rule_span(&rules, RULE_RECYCLE_NO_DEAL, &span))
	{
		TimestampTz at = crmpool_add_interval(in->since, &span);

		if (!found || at < out->due_at)
		{
			out->due_at = at;
			out->rule = "no_deal";
			found = true;
		}
	}
	if (!found)
		return false;
	out->has_warn = rule_span(&rules, RULE_WARN_BEFORE, &span);
	out->warn_at = 0;
	if (out->has_warn)
	{
		span.month = -span.month;
		span.day = -span.day;
		span.time = -span.time;
		out->warn_at = crmpool_add_interval(out->due_at, &span);
	}
	return true;
}

/* The last follow-up recorded by crmpool.follow_up() (tables without a follow-up column). */
static bool
last_followup(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer, TimestampTz *at)
{
	bool		isnull;
	Datum		d;

	run(RS_LAST_FOLLOWUP, (Datum[]) {crmpool_table_id_datum(table), Int64GetDatum(customer),
		crmpool_tenant_datum(tenant)}, NULL);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		*at = DatumGetTimestampTz(d);
	return !isnull;
}

/* Drop a customer's due row, if any.  Runs in a ledger session. */
void
due_drop(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer)
{
	run(RS_DELETE_DUE, (Datum[]) {crmpool_table_id_datum(table), Int64GetDatum(customer),
		crmpool_tenant_datum(tenant)}, NULL);
}

/* Write a customer's due row.  Runs in a ledger session. */
void
due_store(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer, const DueInput *in, const Due *due)
{
	run(RS_UPSERT_DUE,
		(Datum[]) {crmpool_table_id_datum(table), Int64GetDatum(customer), Int64GetDatum(in->owner),
			TimestampTzGetDatum(in->since), TimestampTzGetDatum(due->due_at),
			CStringGetTextDatum(due->rule), TimestampTzGetDatum(due->warn_at),
		crmpool_tenant_datum(tenant)},
		(char[]) {' ', ' ', ' ', ' ', ' ', ' ', due->has_warn ? ' ' : 'n', ' '});
}

/* Drop a customer's due row (locked where lock_blocks has "recycle").  Runs in a ledger session. */
void
due_untrack(ManagedRel *mr, CrmpoolTenant tenant, int64 customer)
{
	if (!mr->recycles)
		return;
	due_drop(mr->table_id, tenant, customer);
}

/* Store or drop the due row that in calls for. */
static void
track_input(ManagedRel *mr, CrmpoolTenant tenant, int64 customer, const DueInput *in)
{
	Due			due;

	if (!due_compute(mr, in, &due))
		due_untrack(mr, tenant, customer);
	else
		due_store(mr->table_id, tenant, customer, in, &due);
}

/*
 * Bring the customer's due row up to date with its row as it is now (tuple NULL: deleted).
 * spell_start is when the current owner gained it, if that happens in this very change (then
 * not locked: due_track_spell says otherwise); NULL when the spell goes on (a follow-up, deal,
 * level or pool change, a lock or an unlock), in which case the lock, the spell's start and
 * recorded follow-ups are looked up.  A locked customer is due only where lock_blocks leaves
 * out "recycle".  Runs in a ledger session.
 */
void
due_track(ManagedRel *mr, CrmpoolTenant tenant, int64 customer, HeapTuple tuple, TupleDesc desc,
		  const TimestampTz *spell_start)
{
	DueInput	in;
	int64		holder;
	TimestampTz locked_since;

	if (!mr->recycles)
		return;
	if (tuple == NULL || !managed_owner(mr, tuple, desc, &in.owner))
	{
		due_untrack(mr, tenant, customer);
		return;
	}
	due_input(mr, tuple, desc, &in);
	if (spell_start != NULL)
		in.since = *spell_start;	/* new owner: older follow-ups do not count */
	else
	{
		in.locked = ledger_lock_holder(mr->table_id, tenant, customer, &holder, &locked_since);
		if (!ledger_spell_start(mr->table_id, tenant, customer, &in.since))
			in.since = crmpool_now();
		if (mr->followup_att == InvalidAttrNumber)
			in.has_followup = last_followup(mr->table_id, tenant, customer, &in.followup);
	}
	track_input(mr, tenant, customer, &in);
}

/* A spell that starts now and is locked from its start (the lock passed with the customer). */
void
due_track_spell(ManagedRel *mr, CrmpoolTenant tenant, int64 customer, HeapTuple tuple,
				TupleDesc desc, TimestampTz spell_start, bool locked)
{
	DueInput	in;

	if (!mr->recycles)
		return;
	if (!managed_owner(mr, tuple, desc, &in.owner))
	{
		due_untrack(mr, tenant, customer);
		return;
	}
	due_input(mr, tuple, desc, &in);
	in.since = spell_start;
	in.locked = locked;
	track_input(mr, tenant, customer, &in);
}

/* TRUNCATE of a managed table: no customer is left to recycle.  Runs in a ledger session. */
void
due_forget(CrmpoolTableId table)
{
	run(RS_FORGET_DUE, (Datum[]) {crmpool_table_id_datum(table)}, NULL);
}

/* Due rows computed by a recompute, written RECOMPUTE_CHUNK at a time. */
typedef struct DueChunk
{
	int			n;
	Datum		customer[RECOMPUTE_CHUNK];
	Datum		owner[RECOMPUTE_CHUNK];
	Datum		since[RECOMPUTE_CHUNK];
	Datum		due_at[RECOMPUTE_CHUNK];
	Datum		rule[RECOMPUTE_CHUNK];
	Datum		warn_at[RECOMPUTE_CHUNK];
	bool		warn_null[RECOMPUTE_CHUNK];
	Datum		tenant[RECOMPUTE_CHUNK];
} DueChunk;

static void
write_chunk(CrmpoolTableId table, DueChunk *c)
{
	if (c->n == 0)
		return;
	run(RS_BULK_DUE,
		(Datum[]) {crmpool_table_id_datum(table),
			crmpool_array(c->customer, NULL, c->n, INT8OID),
			crmpool_array(c->owner, NULL, c->n, INT8OID),
			crmpool_array(c->since, NULL, c->n, TIMESTAMPTZOID),
			crmpool_array(c->due_at, NULL, c->n, TIMESTAMPTZOID),
			crmpool_array(c->rule, NULL, c->n, TEXTOID),
			crmpool_array(c->warn_at, c->warn_null, c->n, TIMESTAMPTZOID),
			crmpool_array(c->tenant, NULL, c->n, INT8OID)},
		NULL);
	c->n = 0;
}

typedef struct RecomputeScan
{
	ManagedRel *mr;
	TupleDesc	rowdesc;
	DueChunk   *chunk;
	MemoryContext cxt;			/* reset per chunk */
} RecomputeScan;

/*
 * $1 table id, $2 customers, $3 their tenants: each one's spell start, last recorded follow-up, and
 * lock, in order
 */
#define CUSTOMER_STATE_SQL(T) \
	"SELECT (SELECT e.at FROM crmpool.ownership_event e WHERE " T("e.tenant" EQ "u.t AND ") "e." TABLE_ID(T) EQ "$1 " \
	"  AND e.customer" EQ "u.c ORDER BY e.seq DESC LIMIT 1), " \
	"(SELECT pg_catalog.max(f.at) FROM crmpool.followup f WHERE " T("f.tenant" EQ "u.t AND ") "f." TABLE_ID(T) EQ "$1 " \
	"  AND f.customer" EQ "u.c), " \
	"EXISTS (SELECT FROM crmpool.customer_lock l WHERE " T("l.tenant" EQ "u.t AND ") "l." TABLE_ID(T) EQ "$1 " \
	"  AND l.customer" EQ "u.c) " \
	"FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3)) WITH ORDINALITY AS u(c, t, i) " \
	"ORDER BY u.i"
static const CrmpoolStmt customer_state = TENANT_STMT(CUSTOMER_STATE_SQL, 3,
													 {INT4OID, INT8ARRAYOID, INT8ARRAYOID});
static SPIPlanPtr customer_state_plans[2];

/* One chunk of owned rows (crmpool_scan_table's callback, as the extension owner). */
static void
recompute_chunk(SPITupleTable *rows, uint64 n, void *arg)
{
	RecomputeScan *scan = arg;
	ManagedRel *mr = scan->mr;
	DueChunk   *chunk = scan->chunk;
	MemoryContext oldcxt = MemoryContextSwitchTo(scan->cxt);
	HeapTupleData *tuples = palloc(sizeof(HeapTupleData) * n);
	Datum	   *keys = palloc(sizeof(Datum) * n);
	Datum	   *tenants = palloc(sizeof(Datum) * n);
	SPITupleTable *state;
	uint64		i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;

		managed_row_tuple(SPI_getbinval(rows->vals[i], rows->tupdesc, 1, &isnull), &tuples[i]);
		keys[i] = Int64GetDatum(managed_key(mr, &tuples[i], scan->rowdesc));
		tenants[i] = crmpool_tenant_datum(managed_tenant(mr, &tuples[i], scan->rowdesc));
	}
	if (SPI_execute_plan(crmpool_stmt_plan(&customer_state, customer_state_plans),
						 (Datum[]) {crmpool_table_id_datum(mr->table_id), crmpool_array(keys, NULL, (int) n, INT8OID),
						 crmpool_array(tenants, NULL, (int) n, INT8OID)},
						 NULL, true, 0) != SPI_OK_SELECT || SPI_processed != n)
		elog(ERROR, "crmpool could not read the state of the customers of table %s",
			 get_rel_name(mr->relid));
	state = SPI_tuptable;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		DueInput	in;
		Due			due;
		int			c = chunk->n;
		Datum		d;

		/* soft-deleted rows own nothing */
		if (!managed_owner(mr, &tuples[i], scan->rowdesc, &in.owner))
			continue;
		due_input(mr, &tuples[i], scan->rowdesc, &in);
		in.locked = DatumGetBool(SPI_getbinval(state->vals[i], state->tupdesc, 3, &isnull));
		d = SPI_getbinval(state->vals[i], state->tupdesc, 1, &isnull);
		in.since = isnull ? crmpool_now() : DatumGetTimestampTz(d);
		if (mr->followup_att == InvalidAttrNumber)
		{
			d = SPI_getbinval(state->vals[i], state->tupdesc, 2, &isnull);
			in.has_followup = !isnull;
			if (!isnull)
				in.followup = DatumGetTimestampTz(d);
		}
		if (!due_compute(mr, &in, &due))
			continue;
		chunk->customer[c] = keys[i];
		chunk->tenant[c] = tenants[i];
		chunk->owner[c] = Int64GetDatum(in.owner);
		chunk->since[c] = TimestampTzGetDatum(in.since);
		chunk->due_at[c] = TimestampTzGetDatum(due.due_at);
		chunk->rule[c] = CStringGetTextDatum(due.rule);
		chunk->warn_at[c] = TimestampTzGetDatum(due.warn_at);
		chunk->warn_null[c] = !due.has_warn;
		chunk->n++;
	}
	write_chunk(mr->table_id, chunk);
	SPI_freetuptable(state);
	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(scan->cxt);
}

/*
 * Recompute every due row of a table after its rules or mapping changed (an admin operation:
 * one pass over the owned customers).  EXCLUSIVE on the table means that nobody writes or
 * row-locks a customer meanwhile, so no due row is written by anyone else; and any backend's
 * next write of the table, which must wait for this lock, first takes in the new rules.
 */
void
due_recompute(Oid relid)
{
	ManagedRel *mr;
	OwnerContext octx;
	RecomputeScan scan;
	const char *owner;

	LockRelationOid(relid, ExclusiveLock);

	/*
	 * The caller's change was announced by managed_rel_changed(): take it in now, and read with
	 * a snapshot that sees it and every write that finished before we got the lock.
	 */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	mr = managed_rel_get(relid, false);

	ledger_begin(&octx);
	due_forget(mr->table_id);
	if (!mr->recycles)
	{
		ledger_end(&octx);
		PopActiveSnapshot();
		return;
	}

	/*
	 * The owned customers are read as the table's owner (crmpool_scan_table); their spells,
	 * follow-ups and locks are looked up here, as the extension owner, a chunk at a time.
	 */
	scan.mr = mr;
	scan.rowdesc = lookup_rowtype_tupdesc_copy(get_rel_type_id(relid), -1);
	scan.chunk = palloc(sizeof(DueChunk));
	scan.chunk->n = 0;
	scan.cxt = AllocSetContextCreate(CurrentMemoryContext, "crmpool recompute",
									 ALLOCSET_DEFAULT_SIZES);
	owner = quote_identifier(get_attname(relid, mr->owner_att, false));
	crmpool_scan_table(relid, psprintf("SELECT crmpool_row FROM ONLY %s crmpool_row "
									   "WHERE crmpool_row.%s IS NOT NULL", mr->qualname, owner),
					   0, NULL, NULL, RECOMPUTE_CHUNK, recompute_chunk, &scan);
	MemoryContextDelete(scan.cxt);
	ledger_end(&octx);
	PopActiveSnapshot();
}
