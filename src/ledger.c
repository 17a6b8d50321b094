/*
 * ledger.c: crmpool's bookkeeping tables, and the statements that keep them.
 *
 *   crmpool.rep_counter      per rep: owned, locked, owned with a deal, claims today
 *   crmpool.ownership_event  append-only: from this moment the owner is X
 *   crmpool.customer_lock    locked customers
 *
 * Every function here runs between ledger_begin() and ledger_end(), that is inside an SPI
 * connection and as the extension owner.  Plans are prepared once per backend and kept; their
 * text qualifies every table, function and operator, because a kept plan is re-analyzed under
 * the search_path of whoever happens to run it next.
 *
 * Locking: a rep's rep_counter row is that rep's lock.  The upsert in ledger_apply() takes it
 * and keeps it to commit, so two claims by one rep are serialized and the second sees the
 * first's count: caps and daily limits cannot be overshot.  Callers lock the customer row
 * first and rep rows after it, in ascending rep order (docs/design.md).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "crmpool.h"

typedef enum LedgerStmt
{
	STMT_APPLY,
	STMT_LOCKED,
	STMT_RECORD,
	STMT_LOCK_HOLDER,
	STMT_ADD_LOCK,
	STMT_DROP_LOCK,
	STMT_LAST_EVENT,
	STMT_LOST_AT,
	STMT_TRUNCATE_EVENTS,
	STMT_TRUNCATE_COUNTERS,
	STMT_TRUNCATE_LOCKS,
	NUM_LEDGER_STMTS
} LedgerStmt;

#define EQ " OPERATOR(pg_catalog.=) "
#define PLUS " OPERATOR(pg_catalog.+) "
#define MINUS " OPERATOR(pg_catalog.-) "

static const CrmpoolStmt stmt_defs[NUM_LEDGER_STMTS] = {
	/*
	 * $1 rel, $2 rep, then deltas: $3 owned, $4 with_deal, $5 locked, $6 claims; $7 today.
	 * Takes the rep's row (the rep's lock) and returns the counts after the change.
	 */
	[STMT_APPLY] = {
		"INSERT INTO crmpool.rep_counter AS c (rel, rep, owned, with_deal, locked, claims_day, claims) "
		"VALUES ($1, $2, $3, $4, $5, $7, $6) "
		"ON CONFLICT (rel, rep) DO UPDATE SET "
		"owned = c.owned" PLUS "excluded.owned, "
		"with_deal = c.with_deal" PLUS "excluded.with_deal, "
		"locked = c.locked" PLUS "excluded.locked, "
		"claims = CASE WHEN excluded.claims" EQ "0 THEN c.claims "
		"WHEN c.claims_day" EQ "excluded.claims_day THEN c.claims" PLUS "excluded.claims "
		"ELSE excluded.claims END, "
		"claims_day = CASE WHEN excluded.claims" EQ "0 THEN c.claims_day ELSE excluded.claims_day END "
		"RETURNING c.owned, c.with_deal, c.locked, "
		"CASE WHEN c.claims_day" EQ "$7 THEN c.claims ELSE 0 END",
		7, {REGCLASSOID, INT8OID, INT4OID, INT4OID, INT4OID, INT4OID, DATEOID}
	},
	[STMT_LOCKED] = {
		"UPDATE crmpool.rep_counter SET locked = locked" PLUS "$3 "
		"WHERE rel" EQ "$1 AND rep" EQ "$2 RETURNING locked",
		3, {REGCLASSOID, INT8OID, INT4OID}
	},
	[STMT_RECORD] = {
		"INSERT INTO crmpool.ownership_event (rel, customer, at, owner, how, actor, reason) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7)",
		7, {REGCLASSOID, INT8OID, TIMESTAMPTZOID, INT8OID, TEXTOID, TEXTOID, TEXTOID}
	},
	[STMT_LOCK_HOLDER] = {
		"SELECT rep, since FROM crmpool.customer_lock WHERE rel" EQ "$1 AND customer" EQ "$2",
		2, {REGCLASSOID, INT8OID}
	},
	[STMT_ADD_LOCK] = {
		"INSERT INTO crmpool.customer_lock (rel, customer, rep, since) VALUES ($1, $2, $3, $4) "
		"ON CONFLICT (rel, customer) DO NOTHING",
		4, {REGCLASSOID, INT8OID, INT8OID, TIMESTAMPTZOID}
	},
	[STMT_DROP_LOCK] = {
		"DELETE FROM crmpool.customer_lock WHERE rel" EQ "$1 AND customer" EQ "$2",
		2, {REGCLASSOID, INT8OID}
	},
	[STMT_LAST_EVENT] = {
		"SELECT at, owner, how FROM crmpool.ownership_event "
		"WHERE rel" EQ "$1 AND customer" EQ "$2 ORDER BY seq DESC LIMIT 1",
		2, {REGCLASSOID, INT8OID}
	},
	/* when did `rep` last stop owning the customer: the event after its last spell began */
	[STMT_LOST_AT] = {
		"SELECT n.at FROM crmpool.ownership_event n "
		"WHERE n.rel" EQ "$1 AND n.customer" EQ "$2 AND n.seq OPERATOR(pg_catalog.>) "
		"(SELECT pg_catalog.max(o.seq) FROM crmpool.ownership_event o "
		" WHERE o.rel" EQ "$1 AND o.customer" EQ "$2 AND o.owner" EQ "$3) "
		"ORDER BY n.seq LIMIT 1",
		3, {REGCLASSOID, INT8OID, INT8OID}
	},
	/* $1 rel, $2 at, $3 actor: close the open spell of every customer still present */
	[STMT_TRUNCATE_EVENTS] = {
		"INSERT INTO crmpool.ownership_event (rel, customer, at, owner, how, actor) "
		"SELECT $1, e.customer, $2, NULL, 'truncate', $3 FROM "
		"(SELECT DISTINCT ON (customer) customer, how FROM crmpool.ownership_event "
		" WHERE rel" EQ "$1 ORDER BY customer, seq DESC) e "
		"WHERE e.how OPERATOR(pg_catalog.<>) ALL (ARRAY['delete', 'truncate'])",
		3, {REGCLASSOID, TIMESTAMPTZOID, TEXTOID}
	},
	[STMT_TRUNCATE_COUNTERS] = {
		"UPDATE crmpool.rep_counter SET owned = 0, locked = 0, with_deal = 0 WHERE rel" EQ "$1",
		1, {REGCLASSOID}
	},
	[STMT_TRUNCATE_LOCKS] = {
		"DELETE FROM crmpool.customer_lock WHERE rel" EQ "$1",
		1, {REGCLASSOID}
	},
};

static SPIPlanPtr stmt_plans[NUM_LEDGER_STMTS];

/* Who acts, taken before switching to the extension owner. */
static const char *ledger_actor = NULL;

static int
run(LedgerStmt stmt, Datum *values, const char *nulls, bool latest)
{
	return crmpool_run_stmt(&stmt_defs[stmt], &stmt_plans[stmt], values, nulls, latest);
}

static int64
result_int(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? 0 : DatumGetInt32(d);
}

void
ledger_begin(OwnerContext *octx)
{
	octx->saved_actor = ledger_actor;
	ledger_actor = crmpool_actor_name();
	SPI_connect();
	crmpool_become_owner(octx);
}

/* Record `actor` instead of the session's actor until ledger_end (recycling records "crmpool"). */
void
ledger_set_actor(const char *actor)
{
	ledger_actor = actor;
}

void
ledger_end(OwnerContext *octx)
{
	crmpool_restore_user(octx);
	SPI_finish();
	ledger_actor = octx->saved_actor;
}

/*
 * Apply one rep's counter deltas; returns the counts after them, with the rep's row locked to
 * commit.  A count below zero means the bookkeeping lost track: refuse rather than hide it.
 */
void
ledger_apply(Oid relid, int64 rep, int owned, int with_deal, int locked, int claims,
			 DateADT today, RepCounts *after)
{
	Datum		v[7] = {ObjectIdGetDatum(relid), Int64GetDatum(rep), Int32GetDatum(owned),
		Int32GetDatum(with_deal), Int32GetDatum(locked), Int32GetDatum(claims),
	DateADTGetDatum(today)};

	run(STMT_APPLY, v, NULL, false);
	if (SPI_processed != 1)
		elog(ERROR, "crmpool could not count rep " INT64_FORMAT, rep);
	after->owned = result_int(1);
	after->with_deal = result_int(2);
	after->locked = result_int(3);
	after->claims_today = result_int(4);
	if (after->owned < 0 || after->with_deal < 0 || after->locked < 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("crmpool counters of rep " INT64_FORMAT " in table %s went below zero",
						rep, get_rel_name(relid)),
				 errhint("Attach the table again with crmpool.manage() to recount.")));
}

static void
missing_counter(Oid relid, int64 rep)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("crmpool has no counters for rep " INT64_FORMAT " of table %s",
					rep, get_rel_name(relid)),
			 errhint("Attach the table again with crmpool.manage() to recount.")));
}

void
ledger_locked_changed(Oid relid, int64 rep, int delta, int64 *locked_after)
{
	Datum		v[3] = {ObjectIdGetDatum(relid), Int64GetDatum(rep), Int32GetDatum(delta)};

	run(STMT_LOCKED, v, NULL, false);
	if (SPI_processed != 1)
		missing_counter(relid, rep);
	*locked_after = result_int(1);
}

/* The actor this ledger session records (crmpool.actor, the role, or ledger_set_actor's). */
const char *
ledger_current_actor(void)
{
	return ledger_actor;
}

void
ledger_record(Oid relid, int64 customer, TimestampTz at, bool has_owner, int64 owner,
			  const char *how, const char *reason, const char *actor)
{
	Datum		v[7] = {ObjectIdGetDatum(relid), Int64GetDatum(customer), TimestampTzGetDatum(at),
		Int64GetDatum(owner), CStringGetTextDatum(how),
		CStringGetTextDatum(actor),
	reason ? CStringGetTextDatum(reason) : (Datum) 0};
	char		nulls[7] = {' ', ' ', ' ', has_owner ? ' ' : 'n', ' ', ' ', reason ? ' ' : 'n'};

	run(STMT_RECORD, v, nulls, false);
}

/*
 * Who locked the customer, if anyone.  Read with the latest snapshot: under REPEATABLE READ a
 * lock taken after our snapshot must still stop a release (crmpool.lock() locks the customer
 * row without changing it, so no serialization failure would catch it).
 */
bool
ledger_lock_holder(Oid relid, int64 customer, int64 *rep, TimestampTz *since)
{
	Datum		v[2] = {ObjectIdGetDatum(relid), Int64GetDatum(customer)};
	bool		isnull;

	run(STMT_LOCK_HOLDER, v, NULL, true);
	if (SPI_processed == 0)
		return false;
	*rep = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*since = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	return true;
}

/* True if the lock is new. */
bool
ledger_add_lock(Oid relid, int64 customer, int64 rep, TimestampTz at)
{
	Datum		v[4] = {ObjectIdGetDatum(relid), Int64GetDatum(customer), Int64GetDatum(rep),
	TimestampTzGetDatum(at)};

	run(STMT_ADD_LOCK, v, NULL, false);
	return SPI_processed == 1;
}

/* True if there was a lock. */
bool
ledger_drop_lock(Oid relid, int64 customer)
{
	Datum		v[2] = {ObjectIdGetDatum(relid), Int64GetDatum(customer)};

	run(STMT_DROP_LOCK, v, NULL, false);
	return SPI_processed == 1;
}

/*
 * When the customer entered the pool, if it is there by a recorded event.  Customers that were
 * already in the pool when the table was attached ("adopt") have no known entry time.
 */
bool
ledger_pool_entry(Oid relid, int64 customer, TimestampTz *entered)
{
	Datum		v[2] = {ObjectIdGetDatum(relid), Int64GetDatum(customer)};
	bool		owner_null;
	bool		isnull;
	char	   *how;

	run(STMT_LAST_EVENT, v, NULL, false);
	if (SPI_processed == 0)
		return false;
	(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &owner_null);
	how = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	if (!owner_null || strcmp(how, "adopt") == 0)
		return false;
	*entered = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return true;
}

/* Run a statement whose first column is a time; false when it returns no row. */
static bool
run_time(LedgerStmt stmt, Datum *values, TimestampTz *at)
{
	bool		isnull;

	run(stmt, values, NULL, false);
	if (SPI_processed == 0)
		return false;
	*at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return true;
}

/* When the customer's current spell began: its last event; false if it has none. */
bool
ledger_spell_start(Oid relid, int64 customer, TimestampTz *since)
{
	return run_time(STMT_LAST_EVENT, (Datum[]) {ObjectIdGetDatum(relid), Int64GetDatum(customer)},
					since);
}

/* When `rep` last lost the customer; false if the rep never owned it. */
bool
ledger_lost_at(Oid relid, int64 customer, int64 rep, TimestampTz *lost)
{
	return run_time(STMT_LOST_AT,
					(Datum[]) {ObjectIdGetDatum(relid), Int64GetDatum(customer), Int64GetDatum(rep)},
					lost);
}

/* TRUNCATE of a managed table: close every open spell, zero the counts, drop the locks. */
void
ledger_truncate(Oid relid, TimestampTz at)
{
	Datum		v[3] = {ObjectIdGetDatum(relid), TimestampTzGetDatum(at),
	CStringGetTextDatum(ledger_actor)};

	run(STMT_TRUNCATE_EVENTS, v, NULL, false);
	run(STMT_TRUNCATE_COUNTERS, v, NULL, false);
	run(STMT_TRUNCATE_LOCKS, v, NULL, false);
}
