/*
 * recycle.c: recycling (回收) stale private customers to the public pool.
 *
 * Due rows.  crmpool.recycle_due holds one row per owned, unlocked customer that a recycle rule
 * applies to: when it is due (due_at), by which rule, when its owner is warned (warn_at), and
 * whether that warning went out.  The ownership trigger keeps it (recycle_track() from
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
 * Locks.  Every write of a due row holds either that customer's row lock (the trigger, lock,
 * unlock, follow_up, a recycle) or EXCLUSIVE on the whole table (recompute).  So once a recycle
 * holds a customer's row lock, the due row it reads is the truth and cannot move under it.  A
 * batch takes ROW EXCLUSIVE on the table first (recompute's EXCLUSIVE waits for it), then
 * locks customer rows with SKIP LOCKED (never waiting: a customer another transaction holds is
 * left for the next run), re-checks their due rows with a fresh snapshot (a follow-up committed
 * meanwhile wins), and recycles them: customer rows first, then the rep counter row, the order
 * every ownership change keeps.  Warnings lock only due rows, with SKIP LOCKED, and wait for
 * nothing while holding them.
 *
 * A batch is the due customers of one rep (at most the batch size): the rep whose customer is
 * due first, then that rep's due customers by index.  A batch holds its rep's counter row to
 * commit, as every ownership change does; were it to mix reps, a claim by any of them would
 * wait for the whole batch.  So a recycle delays only the claims of the one rep it is
 * recycling, and only for one batch.
 *
 * A batch is one OP_RECYCLE intent naming its customers (each with its rule) and one set-based
 * UPDATE of the owner column, so the trigger checks, counts and records each customer like any
 * change (how = the rule, actor "crmpool") and the rep's counter changes once per batch.  One batch is
 * one transaction when run by CALL crmpool.recycle() or the worker: a crash loses at most the
 * open batch, and leaves no customer half-recycled.
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

#include "crmpool.h"

#define EQ " OPERATOR(pg_catalog.=) "
#define LE " OPERATOR(pg_catalog.<=) "

int			crmpool_recycle_batch_size = 1000;

/* Rows a recompute computes and writes at a time. */
#define RECOMPUTE_CHUNK 10000

typedef enum RecycleStmt
{
	RS_UPSERT_DUE,
	RS_DELETE_DUE,
	RS_FORGET_DUE,
	RS_BULK_DUE,
	RS_LAST_FOLLOWUP,
	RS_ADD_FOLLOWUP,
	RS_RECHECK,
	RS_WARN,
	RS_DUE_FIRST,
	RS_DUE_OF_REP,
	RS_TABLES,
	RS_DUE_ONE,
	RS_DUE_ALL,
	RS_WARNINGS,
	NUM_RECYCLE_STMTS
} RecycleStmt;

/*
 * A warning's payload for NOTIFY crmpool_expiring: the table ($4) and the warning's seq, never
 * the customer or its owner.  Any role may LISTEN, with no privilege on the table; the details
 * are read through recycle_warnings(), which checks SELECT and row-level security.
 */
#define WARN_PAYLOAD \
	"pg_catalog.json_build_object('table', $4::pg_catalog.text, 'seq', w.seq)::pg_catalog.text"

/*
 * days_left: whole days until due_at, rounded up; 0 once due.  $1 is now.  Null for a due time
 * that is not finite (none is written since 0.2, but a row of 0.1 may hold one): subtracting it
 * would fail, and fail every caller of due(NULL).
 */
#define DAYS_LEFT \
	"CASE WHEN pg_catalog.isfinite(d.due_at) THEN " \
	"GREATEST(0, pg_catalog.ceil(EXTRACT(epoch FROM d.due_at OPERATOR(pg_catalog.-) $1) " \
	"OPERATOR(pg_catalog./) 86400))::pg_catalog.int4 END"

static const CrmpoolStmt stmt_defs[NUM_RECYCLE_STMTS] = {
	/*
	 * $1 rel, $2 customer, $3 owner, $4 since, $5 due_at, $6 rule, $7 warn_at.  A warning
	 * stands while the spell and its due time stay the same: a follow-up opens a new window.
	 */
	[RS_UPSERT_DUE] = {
		"INSERT INTO crmpool.recycle_due AS d (rel, customer, owner, since, due_at, rule, warn_at, warned) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, false) "
		"ON CONFLICT (rel, customer) DO UPDATE SET owner = excluded.owner, since = excluded.since, "
		"due_at = excluded.due_at, rule = excluded.rule, warn_at = excluded.warn_at, "
		"warned = d.warned AND d.owner" EQ "excluded.owner AND d.since" EQ "excluded.since "
		"AND d.due_at" EQ "excluded.due_at",
		7, {REGCLASSOID, INT8OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TEXTOID, TIMESTAMPTZOID}
	},
	[RS_DELETE_DUE] = {
		"DELETE FROM crmpool.recycle_due WHERE rel" EQ "$1 AND customer" EQ "$2",
		2, {REGCLASSOID, INT8OID}
	},
	[RS_FORGET_DUE] = {
		"DELETE FROM crmpool.recycle_due WHERE rel" EQ "$1",
		1, {REGCLASSOID}
	},
	/* a recompute: warned is remembered by the warnings already sent for the same window */
	[RS_BULK_DUE] = {
		"INSERT INTO crmpool.recycle_due (rel, customer, owner, since, due_at, rule, warn_at, warned) "
		"SELECT $1, u.customer, u.owner, u.since, u.due_at, u.rule, u.warn_at, "
		"EXISTS (SELECT FROM crmpool.recycle_warning w WHERE w.rel" EQ "$1 "
		"  AND w.customer" EQ "u.customer AND w.owner" EQ "u.owner AND w.since" EQ "u.since "
		"  AND w.due_at" EQ "u.due_at) "
		"FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), "
		"pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7)) "
		"AS u(customer, owner, since, due_at, rule, warn_at)",
		7, {REGCLASSOID, INT8ARRAYOID, INT8ARRAYOID, TIMESTAMPTZARRAYOID, TIMESTAMPTZARRAYOID,
		TEXTARRAYOID, TIMESTAMPTZARRAYOID}
	},
	[RS_LAST_FOLLOWUP] = {
		"SELECT pg_catalog.max(at) FROM crmpool.followup WHERE rel" EQ "$1 AND customer" EQ "$2",
		2, {REGCLASSOID, INT8OID}
	},
	[RS_ADD_FOLLOWUP] = {
		"INSERT INTO crmpool.followup (rel, customer, rep, at, note, actor) "
		"VALUES ($1, $2, $3, $4, $5, $6)",
		6, {REGCLASSOID, INT8OID, INT8OID, TIMESTAMPTZOID, TEXTOID, TEXTOID}
	},
	/* $1 rel, $2 locked customers (of one rep), $3 now: those still due */
	[RS_RECHECK] = {
		"SELECT d.customer, d.owner, d.rule FROM crmpool.recycle_due d "
		"WHERE d.rel" EQ "$1 AND d.customer" EQ "ANY ($2) AND d.due_at" LE "$3 "
		"ORDER BY d.customer",
		3, {REGCLASSOID, INT8ARRAYOID, TIMESTAMPTZOID}
	},
	/* $1 rel, $2 now, $3 batch size, $4 table name: warn the next customers in their window */
	[RS_WARN] = {
		"WITH c AS (SELECT customer FROM crmpool.recycle_due "
		"  WHERE rel" EQ "$1 AND NOT warned AND warn_at" LE "$2 AND due_at OPERATOR(pg_catalog.>) $2 "
		"  ORDER BY warn_at LIMIT $3 FOR UPDATE SKIP LOCKED), "
		"u AS (UPDATE crmpool.recycle_due d SET warned = true FROM c "
		"  WHERE d.rel" EQ "$1 AND d.customer" EQ "c.customer "
		"  RETURNING d.customer, d.owner, d.since, d.due_at, d.rule), "
		"w AS (INSERT INTO crmpool.recycle_warning (rel, customer, owner, since, due_at, rule, warned_at) "
		"  SELECT $1, customer, owner, since, due_at, rule, $2 FROM u RETURNING *) "
		"SELECT " WARN_PAYLOAD " FROM w ORDER BY w.seq",
		4, {REGCLASSOID, TIMESTAMPTZOID, INT4OID, TEXTOID}
	},
	/* $1 rel, $2 now, $3 limit, $4 offset: due customers, the one due first first */
	[RS_DUE_FIRST] = {
		"SELECT customer, owner FROM crmpool.recycle_due "
		"WHERE rel" EQ "$1 AND due_at" LE "$2 ORDER BY due_at, customer LIMIT $3 OFFSET $4",
		4, {REGCLASSOID, TIMESTAMPTZOID, INT8OID, INT8OID}
	},
	/* $1 rel, $2 now, $3 owner, $4 limit: one rep's due customers, by the (rel, owner, due_at) index */
	[RS_DUE_OF_REP] = {
		"SELECT customer FROM crmpool.recycle_due "
		"WHERE rel" EQ "$1 AND owner" EQ "$3 AND due_at" LE "$2 ORDER BY due_at LIMIT $4",
		4, {REGCLASSOID, TIMESTAMPTZOID, INT8OID, INT8OID}
	},
	[RS_TABLES] = {
		"SELECT rel FROM crmpool.managed_table ORDER BY rel",
		0, {InvalidOid}
	},
	/* due(): $1 now, $2 rel */
	[RS_DUE_ONE] = {
		"SELECT d.rel, d.customer, d.owner, d.due_at, d.rule, " DAYS_LEFT ", d.warn_at "
		"FROM crmpool.recycle_due d WHERE d.rel" EQ "$2 ORDER BY d.due_at, d.customer",
		2, {TIMESTAMPTZOID, REGCLASSOID}
	},
	/* due(NULL): $1 now, $2 the caller, who sees the tables it may read */
	[RS_DUE_ALL] = {
		"SELECT d.rel, d.customer, d.owner, d.due_at, d.rule, " DAYS_LEFT ", d.warn_at "
		"FROM crmpool.recycle_due d "
		"WHERE pg_catalog.has_table_privilege($2, d.rel::pg_catalog.oid, 'SELECT') "
		"ORDER BY d.due_at, d.rel, d.customer",
		2, {TIMESTAMPTZOID, OIDOID}
	},
	[RS_WARNINGS] = {
		"SELECT seq, customer, owner, due_at, rule, warned_at FROM crmpool.recycle_warning "
		"WHERE rel" EQ "$1 AND seq OPERATOR(pg_catalog.>) $2 ORDER BY seq",
		2, {REGCLASSOID, INT8OID}
	},
};

static SPIPlanPtr stmt_plans[NUM_RECYCLE_STMTS];

static int
run(RecycleStmt stmt, Datum *values, const char *nulls)
{
	return crmpool_run_stmt(&stmt_defs[stmt], &stmt_plans[stmt], values, nulls, false);
}

void
recycle_define_gucs(void)
{
	DefineCustomIntVariable("crmpool.recycle_batch_size",
							"How many customers one recycle batch (one transaction) handles.",
							"crmpool.recycle() commits after each batch; the background worker too.",
							&crmpool_recycle_batch_size,
							1000, 1, 100000,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Due times
 * -------------------------------------------------------------------------------------------*/


/*
 * Everything but `since` (and a follow-up kept in crmpool.followup) from the customer's row.
 * An infinite follow-up (only in rows written before 0.2 or while crmpool's triggers were off:
 * recycle_check_times refuses it) counts as none, so it cannot keep a customer forever.
 */
void
recycle_due_input(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, DueInput *in)
{
	(void) managed_owner(mr, tuple, desc, &in->owner);
	in->pool = managed_pool_text(mr, tuple, desc);
	in->level = managed_level_text(mr, tuple, desc);
	in->deal = managed_has_deal(mr, tuple, desc);
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
static void
check_followup_time(TimestampTz at, TimestampTz now, int64 slack, const char *where)
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
recycle_check_times(ManagedRel *mr, HeapTuple tuple, TupleDesc desc, int64 customer,
					bool check_followup, bool check_deal)
{
	TimestampTz at;

	if (check_followup && managed_followup(mr, tuple, desc, &at))
		check_followup_time(at, crmpool_now(), FOLLOWUP_COLUMN_SLACK,
							psprintf("Column \"%s\" of customer " INT64_FORMAT " of table %s",
									 get_attname(mr->relid, mr->followup_att, false), customer,
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
					 errdetail("Column \"%s\" of customer " INT64_FORMAT " of table %s is %s.",
							   get_attname(mr->relid, mr->deal_att, false), customer,
							   get_rel_name(mr->relid),
							   OidOutputFunctionCall(mr->deal_type == DATEOID ? F_DATE_OUT :
													 mr->deal_type == TIMESTAMPOID ? F_TIMESTAMP_OUT :
													 F_TIMESTAMPTZ_OUT, d))));
	}
}

/* When the customer is due and by which rule; false when no rule recycles it. */
bool
recycle_due_compute(ManagedRel *mr, const DueInput *in, Due *out)
{
	RuleSet		rules;
	Interval	span;
	bool		found = false;

	rules_effective(mr->nscopes, mr->scopes, in->pool, true, in->owner, in->level, &rules);
	if (in->deal && rule_flag(&rules, RULE_RECYCLE_EXEMPT_DEALS))
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
last_followup(Oid relid, int64 customer, TimestampTz *at)
{
	bool		isnull;
	Datum		d;

	run(RS_LAST_FOLLOWUP, (Datum[]) {ObjectIdGetDatum(relid), Int64GetDatum(customer)}, NULL);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		*at = DatumGetTimestampTz(d);
	return !isnull;
}

/* Drop a customer's due row, if any.  Runs in a ledger session. */
void
recycle_drop_due(Oid relid, int64 customer)
{
	run(RS_DELETE_DUE, (Datum[]) {ObjectIdGetDatum(relid), Int64GetDatum(customer)}, NULL);
}

/* Write a customer's due row.  Runs in a ledger session. */
void
recycle_store_due(Oid relid, int64 customer, const DueInput *in, const Due *due)
{
	run(RS_UPSERT_DUE,
		(Datum[]) {ObjectIdGetDatum(relid), Int64GetDatum(customer), Int64GetDatum(in->owner),
			TimestampTzGetDatum(in->since), TimestampTzGetDatum(due->due_at),
			CStringGetTextDatum(due->rule), TimestampTzGetDatum(due->warn_at)},
		(char[]) {' ', ' ', ' ', ' ', ' ', ' ', due->has_warn ? ' ' : 'n'});
}

/* A locked customer's due row is dropped; it is never recycled.  Runs in a ledger session. */
void
recycle_untrack(ManagedRel *mr, int64 customer)
{
	if (!mr->recycles)
		return;
	recycle_drop_due(mr->relid, customer);
}

/*
 * Bring the customer's due row up to date with its row as it is now (tuple NULL: deleted).
 * spell_start is when the current owner gained it, if that happens in this very change; NULL
 * when the spell goes on (a follow-up, deal, level or pool change, or an unlock), in which case
 * the lock, the spell's start and recorded follow-ups are looked up.  Runs in a ledger session.
 */
void
recycle_track(ManagedRel *mr, int64 customer, HeapTuple tuple, TupleDesc desc,
			  const TimestampTz *spell_start)
{
	DueInput	in;
	Due			due;
	int64		holder;
	TimestampTz locked_since;

	if (!mr->recycles)
		return;
	if (tuple == NULL || !managed_owner(mr, tuple, desc, &in.owner))
	{
		recycle_untrack(mr, customer);
		return;
	}
	recycle_due_input(mr, tuple, desc, &in);
	if (spell_start != NULL)
		in.since = *spell_start;	/* new owner: not locked; older follow-ups do not count */
	else
	{
		if (ledger_lock_holder(mr->relid, customer, &holder, &locked_since))
		{
			recycle_untrack(mr, customer);
			return;
		}
		if (!ledger_spell_start(mr->relid, customer, &in.since))
			in.since = crmpool_now();
		if (mr->followup_att == InvalidAttrNumber)
			in.has_followup = last_followup(mr->relid, customer, &in.followup);
	}

	if (!recycle_due_compute(mr, &in, &due))
	{
		recycle_untrack(mr, customer);
		return;
	}
	recycle_store_due(mr->relid, customer, &in, &due);
}

/* TRUNCATE of a managed table: no customer is left to recycle.  Runs in a ledger session. */
void
recycle_forget(Oid relid)
{
	run(RS_FORGET_DUE, (Datum[]) {ObjectIdGetDatum(relid)}, NULL);
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
} DueChunk;

static Datum
array_of(Datum *elems, bool *nulls, int n, Oid type)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, type,
											  typlen, typbyval, typalign));
}

static void
write_chunk(Oid relid, DueChunk *c)
{
	if (c->n == 0)
		return;
	run(RS_BULK_DUE,
		(Datum[]) {ObjectIdGetDatum(relid),
			array_of(c->customer, NULL, c->n, INT8OID),
			array_of(c->owner, NULL, c->n, INT8OID),
			array_of(c->since, NULL, c->n, TIMESTAMPTZOID),
			array_of(c->due_at, NULL, c->n, TIMESTAMPTZOID),
			array_of(c->rule, NULL, c->n, TEXTOID),
			array_of(c->warn_at, c->warn_null, c->n, TIMESTAMPTZOID)},
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

/* $1 rel, $2 customers: each one's spell start, last recorded follow-up, and lock, in order */
#define CUSTOMER_STATE \
	"SELECT (SELECT e.at FROM crmpool.ownership_event e WHERE e.rel" EQ "$1 " \
	"  AND e.customer" EQ "u.c ORDER BY e.seq DESC LIMIT 1), " \
	"(SELECT pg_catalog.max(f.at) FROM crmpool.followup f WHERE f.rel" EQ "$1 " \
	"  AND f.customer" EQ "u.c), " \
	"EXISTS (SELECT FROM crmpool.customer_lock l WHERE l.rel" EQ "$1 AND l.customer" EQ "u.c) " \
	"FROM pg_catalog.unnest($2) WITH ORDINALITY AS u(c, i) ORDER BY u.i"

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
	SPITupleTable *state;
	uint64		i;

	for (i = 0; i < n; i++)
	{
		bool		isnull;

		managed_row_tuple(SPI_getbinval(rows->vals[i], rows->tupdesc, 1, &isnull), &tuples[i]);
		keys[i] = Int64GetDatum(managed_key(mr, &tuples[i], scan->rowdesc));
	}
	if (SPI_execute_with_args(CUSTOMER_STATE, 2, (Oid[]) {REGCLASSOID, INT8ARRAYOID},
							  (Datum[]) {ObjectIdGetDatum(mr->relid), array_of(keys, NULL, (int) n, INT8OID)},
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

		if (DatumGetBool(SPI_getbinval(state->vals[i], state->tupdesc, 3, &isnull)))
			continue;			/* locked: never recycled */
		recycle_due_input(mr, &tuples[i], scan->rowdesc, &in);
		d = SPI_getbinval(state->vals[i], state->tupdesc, 1, &isnull);
		in.since = isnull ? crmpool_now() : DatumGetTimestampTz(d);
		if (mr->followup_att == InvalidAttrNumber)
		{
			d = SPI_getbinval(state->vals[i], state->tupdesc, 2, &isnull);
			in.has_followup = !isnull;
			if (!isnull)
				in.followup = DatumGetTimestampTz(d);
		}
		if (!recycle_due_compute(mr, &in, &due))
			continue;
		chunk->customer[c] = keys[i];
		chunk->owner[c] = Int64GetDatum(in.owner);
		chunk->since[c] = TimestampTzGetDatum(in.since);
		chunk->due_at[c] = TimestampTzGetDatum(due.due_at);
		chunk->rule[c] = CStringGetTextDatum(due.rule);
		chunk->warn_at[c] = TimestampTzGetDatum(due.warn_at);
		chunk->warn_null[c] = !due.has_warn;
		chunk->n++;
	}
	write_chunk(mr->relid, chunk);
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
recycle_recompute(Oid relid)
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
	recycle_forget(relid);
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

/* ---------------------------------------------------------------------------------------------
 * Follow-ups
 * -------------------------------------------------------------------------------------------*/

static SPIPlanPtr
followup_plan(ManagedRel *mr)
{
	if (mr->followup_plan == NULL)
	{
		const char *col = quote_identifier(get_attname(mr->relid, mr->followup_att, false));

		mr->followup_plan =
			crmpool_keep_plan(psprintf("UPDATE ONLY %s SET %s = GREATEST(%s, $2::%s) "
									   "WHERE %s OPERATOR(pg_catalog.=) $1",
									   mr->qualname, col, col,
									   format_type_extended(mr->followup_type, -1,
															FORMAT_TYPE_FORCE_QUALIFY),
									   quote_identifier(get_attname(mr->relid, mr->key_att, false))),
							  2, (Oid[]) {INT8OID, TIMESTAMPTZOID});
	}
	return mr->followup_plan;
}

/*
 * crmpool.follow_up(rel, customer, rep, at, note): the owner followed the customer up.  Always
 * recorded in crmpool.followup (with the note); when the table maps a follow-up column, that
 * column is moved forward too (as the caller), so the app sees the same truth, and the trigger
 * moves the due time; otherwise the due time is moved here.  `at` NULL means crmpool's clock.
 */
PG_FUNCTION_INFO_V1(crmpool_follow_up);
Datum
crmpool_follow_up(PG_FUNCTION_ARGS)
{
	ManagedRel *mr;
	int64		customer;
	int64		rep;
	TimestampTz now = crmpool_now();
	TimestampTz at;
	HeapTuple	row;
	TupleDesc	desc;
	OwnerContext octx;
	const char *actor;
	Datum		note;

	crmpool_require_arg(fcinfo, 0, "rel");
	crmpool_require_arg(fcinfo, 1, "customer");
	crmpool_require_arg(fcinfo, 2, "rep");
	mr = managed_rel_get(PG_GETARG_OID(0), false);
	crmpool_require_triggers(mr);
	customer = PG_GETARG_INT64(1);
	rep = PG_GETARG_INT64(2);
	at = PG_ARGISNULL(3) ? now : PG_GETARG_TIMESTAMPTZ(3);
	check_followup_time(at, now, 0, "The time given");
	note = (Datum) 0;
	if (!PG_ARGISNULL(4))
	{
		text	   *t = PG_GETARG_TEXT_PP(4);

		crmpool_check_length("note", VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), CRMPOOL_NOTE_MAX_CHARS);
		note = PointerGetDatum(t);
	}

	/* follow_up changes the follow-up column if mapped, else crmpool's record beside the owner */
	row = ops_lock_owned(mr, customer, rep,
						 mr->followup_att != InvalidAttrNumber ? mr->followup_att : mr->owner_att,
						 "follow_up", &desc);
	actor = crmpool_actor_name();
	ledger_begin(&octx);
	run(RS_ADD_FOLLOWUP,
		(Datum[]) {ObjectIdGetDatum(mr->relid), Int64GetDatum(customer), Int64GetDatum(rep),
			TimestampTzGetDatum(at), note, CStringGetTextDatum(actor)},
		(char[]) {' ', ' ', ' ', ' ', PG_ARGISNULL(4) ? 'n' : ' ', ' '});
	if (mr->followup_att == InvalidAttrNumber)
		recycle_track(mr, customer, row, desc, NULL);
	ledger_end(&octx);

	if (mr->followup_att != InvalidAttrNumber)
	{
		SPI_connect();
		if (SPI_execute_plan(followup_plan(mr),
							 (Datum[]) {Int64GetDatum(customer), TimestampTzGetDatum(at)},
							 NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "crmpool could not record the follow-up of customer " INT64_FORMAT,
				 customer);
		SPI_finish();
	}
	PG_RETURN_VOID();
}

/* ---------------------------------------------------------------------------------------------
 * Batches
 * -------------------------------------------------------------------------------------------*/

/*
 * Locking the customers a batch recycles.  Their due rows are crmpool's and are read as the
 * extension owner; their rows are the user's and are locked as the batch's user, the table's
 * owner (batch_begin): lock_due_plan locks, of the customers $1 (in that order), the first $2
 * that no other transaction holds (SKIP LOCKED: LIMIT counts only the rows locked).
 */
static SPIPlanPtr
lock_due_plan(ManagedRel *mr)
{
	if (mr->lock_due_plan == NULL)
		mr->lock_due_plan =
			crmpool_keep_plan(psprintf("SELECT u.c FROM pg_catalog.unnest($1) WITH ORDINALITY AS u(c, i) "
									   "JOIN ONLY %s t ON t.%s" EQ "u.c ORDER BY u.i LIMIT $2 "
									   "FOR NO KEY UPDATE OF t SKIP LOCKED",
									   mr->qualname,
									   quote_identifier(get_attname(mr->relid, mr->key_att, false))),
							  2, (Oid[]) {INT8ARRAYOID, INT8OID});
	return mr->lock_due_plan;
}

/* A column of a statement's row that is never null (NOT NULL columns; `what` names them). */
static Datum
not_null_value(HeapTuple tup, TupleDesc desc, int col, const char *what)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	if (isnull)
		elog(ERROR, "crmpool read a null from column %d of %s", col, what);
	return d;
}

#define due_value(tup, desc, col) not_null_value(tup, desc, col, "crmpool.recycle_due")

/* Lock the first `limit` of customers[0..n-1] that nobody else holds; returns how many, in *locked. */
static int
lock_due(ManagedRel *mr, Datum *customers, int n, int limit, int64 *locked)
{
	int			i;
	int			got;

	if (n == 0)
		return 0;
	SPI_connect();
	if (SPI_execute_plan(lock_due_plan(mr),
						 (Datum[]) {array_of(customers, NULL, n, INT8OID), Int64GetDatum(limit)},
						 NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "crmpool could not lock customers to recycle");
	got = (int) SPI_processed;
	for (i = 0; i < got; i++)
		locked[i] = DatumGetInt64(not_null_value(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1,
												 mr->qualname));
	SPI_finish();
	return got;
}

/* Due customers (and owners) from crmpool.recycle_due, read as the extension owner. */
static int
due_candidates(RecycleStmt stmt, Datum *args, Datum *customers, Datum *owners)
{
	OwnerContext octx;
	int			n;
	int			i;

	ledger_begin(&octx);
	run(stmt, args, NULL);
	n = (int) SPI_processed;
	for (i = 0; i < n; i++)
	{
		customers[i] = due_value(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		if (owners != NULL)
			owners[i] = due_value(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2);
	}
	ledger_end(&octx);
	return n;
}

#define FIRST_DUE_STEP 100

/*
 * A batch is the due customers of one rep: lock the customer due first that nobody else holds,
 * which names the rep, then that rep's due customers, at most `batch` in all, in due order.
 * Returns how many are locked (in *locked); 0 when no due customer is left to lock.
 */
static int
lock_batch(ManagedRel *mr, TimestampTz now, int batch, int64 *locked)
{
	Datum		customers[FIRST_DUE_STEP];
	Datum		owners[FIRST_DUE_STEP];
	Datum	   *mine;
	int64		first;
	int64		owner = 0;
	int			offset;
	int			n;
	int			i;

	for (offset = 0;; offset += FIRST_DUE_STEP)
	{
		n = due_candidates(RS_DUE_FIRST,
						   (Datum[]) {ObjectIdGetDatum(mr->relid), TimestampTzGetDatum(now),
							   Int64GetDatum(FIRST_DUE_STEP), Int64GetDatum(offset)},
						   customers, owners);
		if (n == 0)
			return 0;
		if (lock_due(mr, customers, n, 1, &first) == 1)
			break;
	}
	for (i = 0; i < n; i++)
		if (DatumGetInt64(customers[i]) == first)
			owner = DatumGetInt64(owners[i]);

	/* that rep's due customers, the first one (already ours) first */
	mine = palloc(sizeof(Datum) * (batch + 1));
	n = due_candidates(RS_DUE_OF_REP,
					   (Datum[]) {ObjectIdGetDatum(mr->relid), TimestampTzGetDatum(now),
						   Int64GetDatum(owner), Int64GetDatum(batch)},
					   mine + 1, NULL);
	mine[0] = Int64GetDatum(first);
	offset = 1;
	for (i = 1; i <= n; i++)
		if (DatumGetInt64(mine[i]) != first)
			mine[offset++] = mine[i];
	return lock_due(mr, mine, offset, batch, locked);
}

typedef struct Batch
{
	ManagedRel *mr;
	TableOwnerContext tctx;
	MemoryContext cxt;
	MemoryContext oldcxt;
} Batch;

/*
 * Start a batch on a table in the current transaction: false (and nothing to end) when the
 * table is gone, no longer managed, or has no recycle rules.  What the batch runs of the user's
 * (triggers on the table) runs as the table's owner in a security-restricted operation, as in
 * VACUUM and ANALYZE.
 */
static bool
batch_begin(Batch *b, Oid relid)
{
	Oid			owner;

	/* before any row lock, so that recompute's EXCLUSIVE waits for us, never the reverse */
	LockRelationOid(relid, RowExclusiveLock);
	owner = crmpool_table_owner(relid);
	if (!OidIsValid(owner))
		return false;

	PushActiveSnapshot(GetTransactionSnapshot());
	b->mr = managed_rel_get(relid, true);
	if (b->mr == NULL || !b->mr->recycles)
	{
		PopActiveSnapshot();
		return false;
	}
	crmpool_require_triggers(b->mr);
	b->cxt = AllocSetContextCreate(CurrentMemoryContext, "crmpool recycle batch",
								   ALLOCSET_DEFAULT_SIZES);
	b->oldcxt = MemoryContextSwitchTo(b->cxt);
	crmpool_become_table_owner(owner, &b->tctx, false);
	return true;
}

static void
batch_end(Batch *b)
{
	crmpool_leave_table_owner(&b->tctx);
	MemoryContextSwitchTo(b->oldcxt);
	MemoryContextDelete(b->cxt);
	PopActiveSnapshot();
}

/* Warn the owners of the next customers that entered their warning window; returns how many. */
static int
warn_batch(Batch *b, TimestampTz now, int batch)
{
	OwnerContext octx;
	uint64		i;
	int			n;

	ledger_begin(&octx);
	run(RS_WARN,
		(Datum[]) {ObjectIdGetDatum(b->mr->relid), TimestampTzGetDatum(now), Int32GetDatum(batch),
			CStringGetTextDatum(b->mr->qualname)},
		NULL);
	n = (int) SPI_processed;
	for (i = 0; i < SPI_processed; i++)
		Async_Notify("crmpool_expiring", SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1));
	ledger_end(&octx);
	return n;
}

/*
 * NOTIFY crmpool_recycled for a batch: only the table, never who lost which customer (any role
 * may LISTEN, with no privilege on the table).  The application reads what changed through
 * its own table or crmpool's readers, which check its privileges and row-level security.
 * PostgreSQL sends a payload once per transaction however often it is notified.
 */
static void
recycled_notify(ManagedRel *mr)
{
	StringInfoData payload;

	initStringInfo(&payload);
	appendStringInfoString(&payload, "{\"table\" : ");
	escape_json(&payload, mr->qualname);
	appendStringInfoChar(&payload, '}');
	Async_Notify("crmpool_recycled", payload.data);
}

/*
 * Recycle the due customers of the rep whose customer is due first (at most `batch` of them):
 * a batch holds one rep's counter row, so claims of other reps never wait for a recycle.
 * Returns false when no due customer is left that another transaction does not hold; adds
 * the recycled ones to *recycled.
 */
static bool
recycle_batch(Batch *b, TimestampTz now, int batch, int64 *recycled)
{
	ManagedRel *mr = b->mr;
	OwnerContext octx;
	int64	   *keys;
	int			picked;
	int			n = 0;
	int64	   *customers = NULL;
	char	  **rules = NULL;
	int64		owner = 0;
	int			i;

	keys = palloc(sizeof(int64) * (batch + 1));
	picked = lock_batch(mr, now, batch, keys);
	if (picked > 0)
	{
		Datum	   *keyvals = palloc(sizeof(Datum) * picked);
		MemoryContext spicxt;

		for (i = 0; i < picked; i++)
			keyvals[i] = Int64GetDatum(keys[i]);
		ledger_begin(&octx);
		/* under the row locks, with a fresh snapshot: a follow-up committed meanwhile wins */
		run(RS_RECHECK,
			(Datum[]) {ObjectIdGetDatum(mr->relid), array_of(keyvals, NULL, picked, INT8OID),
				TimestampTzGetDatum(now)},
			NULL);
		n = (int) SPI_processed;
		spicxt = MemoryContextSwitchTo(b->cxt);
		customers = palloc(sizeof(int64) * Max(n, 1));
		rules = palloc(sizeof(char *) * Max(n, 1));
		for (i = 0; i < n; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;

			customers[i] = DatumGetInt64(due_value(tup, desc, 1));
			owner = DatumGetInt64(due_value(tup, desc, 2));
			rules[i] = TextDatumGetCString(due_value(tup, desc, 3));
		}
		MemoryContextSwitchTo(spicxt);
		ledger_end(&octx);
	}

	/* one set-based UPDATE for the batch (customers ascending, as RS_RECHECK returns them) */
	if (n > 0)
	{
		OwnershipIntent in = {
			.relid = mr->relid,
			.op = OP_RECYCLE,
			.rep = owner,
			.actor = CRMPOOL_RECYCLER_ACTOR,
			.nbatch = n,
			.batch = customers,
			.batch_how = rules
		};

		ops_release_batch(mr, &in);
		recycled_notify(mr);
	}
	*recycled += n;
	return picked > 0;
}

/*
 * The maintenance run of one table: warnings for customers entering their window (not those
 * already due: they are recycled next), then recycling, each in batches until a batch comes
 * back short.  `commit`, when given, ends each batch's transaction and starts the next; the
 * time is read once, so the run ends even while customers keep becoming due.  Returns the
 * number recycled; *warned counts the warnings.
 */
int64
recycle_table(Oid relid, int batch_size, void (*commit) (void), int64 *warned)
{
	MemoryContext cxt = CurrentMemoryContext;
	TimestampTz now = crmpool_now();
	int64		recycled = 0;
	bool		warning = true;

	for (;;)
	{
		Batch		b;
		bool		more;

		if (!batch_begin(&b, relid))
			break;
		if (warning)
		{
			int			sent = warn_batch(&b, now, batch_size);

			*warned += sent;
			more = (sent == batch_size);
		}
		else
			more = recycle_batch(&b, now, batch_size, &recycled);
		batch_end(&b);
		if (commit != NULL)
		{
			commit();
			MemoryContextSwitchTo(cxt);
		}
		if (!more)
		{
			if (!warning)
				break;
			warning = false;
		}
	}
	return recycled;
}

/*
 * The managed tables a run covers: `relid` (which the caller must own), or, when it is
 * InvalidOid, every managed table the caller owns.  The list is allocated in the caller's
 * memory context.
 */
List *
recycle_tables(Oid relid)
{
	MemoryContext callcxt = CurrentMemoryContext;
	OwnerContext octx;
	List	   *rels = NIL;
	uint64		i;

	if (OidIsValid(relid))
	{
		crmpool_require_owner(relid);
		(void) managed_rel_get(relid, false);
		return list_make1_oid(relid);
	}
	SPI_connect();
	crmpool_become_owner(&octx);
	run(RS_TABLES, NULL, NULL);
	crmpool_restore_user(&octx);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		Oid			rel = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[i],
														 SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContext oldcxt;

		/* a table gone without its sql_drop (a 0.1 temporary table) is nobody's to recycle */
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(rel)) || !crmpool_is_owner(rel))
			continue;
		oldcxt = MemoryContextSwitchTo(callcxt);
		rels = lappend_oid(rels, rel);
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();
	return rels;
}

static void
procedure_commit(void)
{
	SPI_commit();
}

/* The resource owner outside the subtransaction of the table being recycled. */
static ResourceOwner table_owner;

/* procedure_commit from inside a table's subtransaction: the batch commits, a new one starts. */
static void
procedure_commit_in_subxact(void)
{
	ReleaseCurrentSubTransaction();
	SPI_commit();
	table_owner = CurrentResourceOwner;
	BeginInternalSubTransaction(NULL);
}

/*
 * A table that fails in a run over every table (a trigger of the user's that refuses, a
 * deadlock, a configuration that no longer loads): a WARNING naming it and the error, from
 * CALL crmpool.recycle() and from the worker alike.
 */
void
recycle_report_failure(const char *name, ErrorData *edata)
{
	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("crmpool could not recycle table %s: %s", name ? name : "?", edata->message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
			 edata->hint ? errhint("%s", edata->hint) : 0));
}

/*
 * One table of a run over every table, in a subtransaction of its own (one per batch when
 * committing), so that a table that fails is reported and the run goes on with the next.
 */
static int64
recycle_table_isolated(Oid relid, int batch, bool nonatomic, int64 *warned)
{
	MemoryContext cxt = CurrentMemoryContext;
	char	   *name = get_rel_name(relid);
	int64		recycled = 0;

	table_owner = CurrentResourceOwner;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		recycled = recycle_table(relid, batch, nonatomic ? procedure_commit_in_subxact : NULL,
								 warned);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = table_owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			PG_RE_THROW();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = table_owner;
		recycle_report_failure(name, edata);
		FreeErrorData(edata);
		recycled = 0;
	}
	PG_END_TRY();
	return recycled;
}

/* CALL crmpool.recycle() and crmpool.recycle_now(): the same run, committing or not. */
static int64
recycle_run(FunctionCallInfo fcinfo, bool nonatomic)
{
	Oid			relid = PG_ARGISNULL(0) ? InvalidOid : PG_GETARG_OID(0);
	int			batch = crmpool_recycle_batch_size;
	int64		recycled = 0;
	int64		warned = 0;
	List	   *rels;
	ListCell   *lc;

	if (!PG_ARGISNULL(1))
	{
		batch = PG_GETARG_INT32(1);
		if (batch < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("batch_size must be at least 1"),
					 errdetail("The value given was %d.", batch)));
	}

	/* in non-atomic mode, SPI's procedure context outlives the commits */
	SPI_connect_ext(nonatomic ? SPI_OPT_NONATOMIC : 0);
	rels = recycle_tables(relid);
	foreach(lc, rels)
	{
		if (OidIsValid(relid))
			recycled += recycle_table(lfirst_oid(lc), batch, nonatomic ? procedure_commit : NULL,
									  &warned);
		else
			recycled += recycle_table_isolated(lfirst_oid(lc), batch, nonatomic, &warned);
	}
	SPI_finish();
	return recycled;
}

PG_FUNCTION_INFO_V1(crmpool_recycle);
Datum
crmpool_recycle(PG_FUNCTION_ARGS)
{
	/* commit per batch when called by a top-level CALL; inside a transaction block, do not */
	bool		nonatomic = fcinfo->context != NULL && IsA(fcinfo->context, CallContext) &&
		!castNode(CallContext, fcinfo->context)->atomic;

	(void) recycle_run(fcinfo, nonatomic);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(crmpool_recycle_now);
Datum
crmpool_recycle_now(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(recycle_run(fcinfo, false));
}

/* ---------------------------------------------------------------------------------------------
 * Readers (they check SELECT privilege on the managed table, then read as the extension owner)
 * -------------------------------------------------------------------------------------------*/

PG_FUNCTION_INFO_V1(crmpool_due);
Datum
crmpool_due(PG_FUNCTION_ARGS)
{
	Datum		now = TimestampTzGetDatum(crmpool_now());

	/* customers the caller's row-level security hides are left out */
	VisibleFilter filter = {.relcol = 1, .ncols = 1, .cols = {2}};

	if (PG_ARGISNULL(0))
		crmpool_srf_from_plan_filtered(fcinfo, crmpool_stmt_plan(&stmt_defs[RS_DUE_ALL], &stmt_plans[RS_DUE_ALL]),
									   (Datum[]) {now, ObjectIdGetDatum(GetUserId())}, NULL,
									   managed_filter_visible, &filter);
	else
	{
		Oid			relid = PG_GETARG_OID(0);

		crmpool_require_select(relid);
		(void) managed_rel_get(relid, false);
		crmpool_srf_from_plan_filtered(fcinfo, crmpool_stmt_plan(&stmt_defs[RS_DUE_ONE], &stmt_plans[RS_DUE_ONE]),
									   (Datum[]) {now, ObjectIdGetDatum(relid)}, NULL,
									   managed_filter_visible, &filter);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(crmpool_recycle_warnings);
Datum
crmpool_recycle_warnings(PG_FUNCTION_ARGS)
{
	Oid			relid;
	VisibleFilter filter = {.ncols = 1, .cols = {2}};

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	crmpool_require_select(relid);
	(void) managed_rel_get(relid, false);
	filter.relid = relid;
	crmpool_srf_from_plan_filtered(fcinfo, crmpool_stmt_plan(&stmt_defs[RS_WARNINGS], &stmt_plans[RS_WARNINGS]),
								   (Datum[]) {ObjectIdGetDatum(relid),
		Int64GetDatum(PG_ARGISNULL(1) ? 0 : PG_GETARG_INT64(1))},
								   NULL, managed_filter_visible, &filter);
	return (Datum) 0;
}
