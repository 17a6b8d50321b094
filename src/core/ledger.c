/*
 * ledger.c: crmpool's bookkeeping tables, and the statements that keep them.
 *
 *   crmpool.rep_counter      per rep: owned, locked, owned with a deal, claims today
 *   crmpool.ownership_event  append-only: from this moment the owner is X
 *   crmpool.customer_lock    locked customers
 *
 * Every function here runs between ledger_begin() and ledger_end(), that is inside an SPI
 * connection and as the extension owner.  What a claim or a release does (read the customer's
 * events or lock, change the rep's counters, append an event) goes without SPI, by primary key
 * (see "without SPI" below); the rest runs SPI statements, prepared once per backend and kept,
 * whose text qualifies every table, function and operator, because a kept plan is re-analyzed
 * under the search_path of whoever happens to run it next.
 *
 * Locking: a rep's rep_counter row is that rep's lock.  counter_update() (or, for the rep's
 * first customer, the upsert in ledger_apply()) takes it and keeps it to commit, so two claims
 * by one rep are serialized and the second sees the first's count: caps and daily limits
 * cannot be overshot.  Callers lock the customer row first and rep rows after it, in ascending
 * rep order (docs/design.md).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_am_d.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/int.h"
#include "mb/pg_wchar.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "nodes/makefuncs.h"
#include "storage/bufmgr.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/smgr.h"
#include "utils/builtins.h"
#include "common/hashfn.h"
#include "utils/hsearch.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "core/core.h"

typedef enum LedgerStmt
{
	STMT_APPLY,
	STMT_ADD_LOCK,
	STMT_DROP_LOCK,
	STMT_TRUNCATE_EVENTS,
	STMT_TRUNCATE_COUNTERS,
	STMT_TRUNCATE_LOCKS,
	NUM_LEDGER_STMTS
} LedgerStmt;

#define APPLY_SQL(T) \
	"INSERT INTO crmpool.rep_counter AS c (" T("tenant, ") TABLE_ID(T) ", rep, owned, with_deal, locked, claims_day, claims) " \
	"VALUES (" T("$8, ") "$1, $2, $3, $4, $5, $7, $6) " \
	"ON CONFLICT (" T("tenant, ") TABLE_ID(T) ", rep) DO UPDATE SET " \
	"owned = c.owned" PLUS "excluded.owned, " \
	"with_deal = c.with_deal" PLUS "excluded.with_deal, " \
	"locked = c.locked" PLUS "excluded.locked, " \
	"claims = CASE WHEN excluded.claims" EQ "0 THEN c.claims " \
	"WHEN c.claims_day" EQ "excluded.claims_day THEN c.claims" PLUS "excluded.claims " \
	"ELSE excluded.claims END, " \
	"claims_day = CASE WHEN excluded.claims" EQ "0 THEN c.claims_day ELSE excluded.claims_day END " \
	"RETURNING c.owned, c.with_deal, c.locked, " \
	"CASE WHEN c.claims_day" EQ "$7 THEN c.claims ELSE 0 END"

#define ADD_LOCK_SQL(T) \
	"INSERT INTO crmpool.customer_lock (" T("tenant, ") TABLE_ID(T) ", customer, rep, since) VALUES (" T("$5, ") "$1, $2, $3, $4) " \
	"ON CONFLICT (" T("tenant, ") TABLE_ID(T) ", customer) DO NOTHING"

#define DROP_LOCK_SQL(T) \
	"DELETE FROM crmpool.customer_lock WHERE " T("tenant" EQ "$3 AND ") TABLE_ID(T) EQ "$1 AND customer" EQ "$2"

#define TRUNCATE_EVENTS_SQL(T) \
	"INSERT INTO crmpool.ownership_event (" T("tenant, ") TABLE_ID(T) ", customer, at, owner, how, actor) " \
	"SELECT " T("e.tenant, ") "$1, e.customer, $2, NULL, 'truncate', $3 FROM " \
	"(SELECT DISTINCT ON (" T("tenant, ") "customer) " T("tenant, ") "customer, how FROM crmpool.ownership_event " \
	" WHERE " TABLE_ID(T) EQ "$1 ORDER BY " T("tenant, ") "customer, seq DESC) e " \
	"WHERE e.how OPERATOR(pg_catalog.<>) ALL (ARRAY['delete', 'truncate'])"

#define TRUNCATE_COUNTERS_SQL(T) \
	"UPDATE crmpool.rep_counter SET owned = 0, locked = 0, with_deal = 0 WHERE " TABLE_ID(T) EQ "$1"
#define TRUNCATE_LOCKS_SQL(T) \
	"DELETE FROM crmpool.customer_lock WHERE " TABLE_ID(T) EQ "$1"

static const CrmpoolStmt stmt_defs[NUM_LEDGER_STMTS] = {
	/*
	 * The rep's first customer in the table (counter_update found no row).  $1 table id, $2 rep,
	 * then deltas: $3 owned, $4 with_deal, $5 locked, $6 claims; $7 today; $8 tenant.  The upsert also
	 * covers a concurrent first customer of the same rep, whose new row it waits for and then
	 * counts on.  Takes the rep's row (the rep's lock) and returns the counts after the change.
	 */
	[STMT_APPLY] = TENANT_STMT(APPLY_SQL, 8, {INT4OID, INT8OID, INT4OID, INT4OID, INT4OID, INT4OID, DATEOID, INT8OID}),
	[STMT_ADD_LOCK] = TENANT_STMT(ADD_LOCK_SQL, 5, {INT4OID, INT8OID, INT8OID, TIMESTAMPTZOID, INT8OID}),
	[STMT_DROP_LOCK] = TENANT_STMT(DROP_LOCK_SQL, 3, {INT4OID, INT8OID, INT8OID}),
	/* $1 table id, $2 at, $3 actor: close the open spell of every customer still present */
	[STMT_TRUNCATE_EVENTS] = TENANT_STMT(TRUNCATE_EVENTS_SQL, 3, {INT4OID, TIMESTAMPTZOID, INT8OID}),
	[STMT_TRUNCATE_COUNTERS] = TENANT_STMT(TRUNCATE_COUNTERS_SQL, 1, {INT4OID}),
	[STMT_TRUNCATE_LOCKS] = TENANT_STMT(TRUNCATE_LOCKS_SQL, 1, {INT4OID}),
};

static SPIPlanPtr stmt_plans[NUM_LEDGER_STMTS][2];

/*
 * Who acts, taken before switching to the extension owner.  ledger_begin saves the enclosing
 * value and ledger_end restores it; an error in between skips ledger_end, so an abort restores
 * it too (actor_xact, actor_subxact): otherwise the rest of the session would record a stale
 * actor, or read freed memory.  Each session keeps a copy of its actor, so that a SET of
 * crmpool.actor inside it cannot free the string it records.
 */
static const char *ledger_actor = NULL;

/* One open ledger session: where it began, the actor it replaced, and its own actor's copy. */
typedef struct ActorFrame
{
	SubTransactionId subid;
	const char *outer;
	char		name[CRMPOOL_ACTOR_MAX_CHARS * MAX_MULTIBYTE_CHAR_LEN + 1];
} ActorFrame;

/* Sessions nest only through crmpool's own code (a trigger fired inside an operation). */
#define MAX_LEDGER_NESTING 16

static ActorFrame actor_frames[MAX_LEDGER_NESTING];
static int	actor_depth = 0;

static void
actor_subxact(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid,
			  void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	while (actor_depth > 0 && actor_frames[actor_depth - 1].subid >= mySubid)
	{
		actor_depth--;
		ledger_actor = actor_frames[actor_depth].outer;
	}
}

static void
actor_xact(XactEvent event, void *arg)
{
	if (crmpool_xact_ended(event))
	{
		actor_depth = 0;
		ledger_actor = NULL;
	}
}

static int
run(LedgerStmt stmt, Datum *values, const char *nulls)
{
	return crmpool_run_stmt(&stmt_defs[stmt], stmt_plans[stmt], values, nulls, false);
}

static int64
result_int(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, &isnull);

	return isnull ? 0 : DatumGetInt32(d);
}

/* ---------------------------------------------------------------------------------------------
 * Without SPI: reads, counter updates and event inserts by primary key (base/store.c says
 * why and how).
 * -------------------------------------------------------------------------------------------*/
typedef enum LedgerTable
{
	LT_EVENTS,
	LT_LOCKS,
	LT_COUNTERS,
	NUM_LEDGER_TABLES
} LedgerTable;

/* Column numbers, checked against the names in ledger_tables when a table is looked up. */
#define EVENT_TABLE_ID		1
#define EVENT_CUSTOMER	2
#define EVENT_SEQ		3
#define EVENT_AT		4
#define EVENT_OWNER		5
#define EVENT_HOW		6
#define EVENT_ACTOR		7
#define EVENT_REASON	8
#define EVENT_TENANT	9
#define LOCK_TENANT		5
#define COUNT_TENANT	8
#define LOCK_REP		3
#define LOCK_SINCE		4
#define COUNT_OWNED		3
#define COUNT_LOCKED	4
#define COUNT_WITH_DEAL 5
#define COUNT_DAY		6
#define COUNT_CLAIMS	7

static StoreTable ledger_tables[NUM_LEDGER_TABLES] = {
	[LT_EVENTS] = {"ownership_event", "ownership_event_pkey",
	{"table_id", "customer", "seq", "at", "owner", "how", "actor", "reason"}, EVENT_TENANT},
	[LT_LOCKS] = {"customer_lock", "customer_lock_pkey",
	{"table_id", "customer", "rep", "since"}, LOCK_TENANT},
	[LT_COUNTERS] = {"rep_counter", "rep_counter_pkey",
	{"table_id", "rep", "owned", "locked", "with_deal", "claims_day", "claims"}, COUNT_TENANT},
};

/*
 * The scan keys of (tenant, table_id, key) in table t, key being the customer or the rep (each
 * primary key starts so; 0.1's with (rel, key), rel compared as table_id: base.h); returns how
 * many.
 */
static int
ledger_keys(ScanKeyData *keys, CrmpoolTableId table, CrmpoolTenant tenant, int64 key)
{
	int			n = 0;

	if (crmpool_has_tenants())
		ScanKeyInit(&keys[n++], 1, BTEqualStrategyNumber, F_INT8EQ, crmpool_tenant_datum(tenant));
	ScanKeyInit(&keys[n], n + 1, BTEqualStrategyNumber, F_INT4EQ, crmpool_table_id_datum(table));
	n++;
	ScanKeyInit(&keys[n], n + 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(key));
	n++;
	return n;
}

/*
 * Scan table t for (tenant, table_id, key); the caller fetches with index_getnext_slot().  lockmode
 * is taken on the table, as a statement would.
 */
static void
key_scan_begin(StoreScan *ks, LedgerTable t, CrmpoolTableId table, CrmpoolTenant tenant, int64 key,
			   bool latest, LOCKMODE lockmode)
{
	ScanKeyData keys[3];

	store_scan_begin(ks, &ledger_tables[t], keys, ledger_keys(keys, table, tenant, key), latest,
					 lockmode);
}

static bool
text_equals(Datum d, const char *s)
{
	text	   *t = DatumGetTextPP(d);

	return VARSIZE_ANY_EXHDR(t) == strlen(s) && memcmp(VARDATA_ANY(t), s, strlen(s)) == 0;
}

/* ---------------------------------------------------------------------------------------------
 * The ledger's operations
 * -------------------------------------------------------------------------------------------*/

void
ledger_begin(OwnerContext *octx)
{
	static bool callbacks = false;
	ActorFrame *f;

	if (!callbacks)
	{
		RegisterXactCallback(actor_xact, NULL);
		RegisterSubXactCallback(actor_subxact, NULL);
		callbacks = true;
	}
	if (actor_depth == MAX_LEDGER_NESTING)
		elog(ERROR, "crmpool ledger sessions nested too deeply");
	f = &actor_frames[actor_depth];
	f->subid = GetCurrentSubTransactionId();
	f->outer = ledger_actor;
	strlcpy(f->name, crmpool_actor_name(), sizeof(f->name));
	actor_depth++;
	ledger_actor = f->name;
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
	Assert(actor_depth > 0);
	actor_depth--;
	ledger_actor = actor_frames[actor_depth].outer;
}

/* What a change adds to a rep's counters. */
typedef struct CounterChange
{
	int32		owned;
	int32		with_deal;
	int32		locked;
	int32		claims;			/* claims made `today` */
	DateADT		today;
} CounterChange;

static int32
add_count(int32 count, int32 delta)
{
	int32		result;

	if (pg_add_s32_overflow(count, delta, &result))
		ereport(ERROR,
				(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
				 errmsg("integer out of range")));
	return result;
}

/*
 * Where this backend left each rep counter row it updated: the TID of the version it wrote
 * last, and the transaction that wrote it.  Two uses:
 *
 * - Within that transaction: it holds the row to commit, so no one else can make a newer
 *   version, and reading it again through the primary key would only walk the versions the
 *   transaction made itself (dead to it, but not prunable before it ends): a loop of n claims by
 *   one rep cost O(n^2), 40,000 claims and releases 88 s.
 * - In a later transaction (READ COMMITTED only): a rep's claims are usually transactions of
 *   their own, one after another in the same session, and the version written last is then
 *   still the row's latest; updating it at its TID as an UPDATE would (waiting for a concurrent
 *   writer; if one changed it, taking the latest version through the index: counter_cached),
 *   costs no index descent and no walk of the row's HOT chain.  The heap page is pruned first when it is
 *   short of room (counter_page_short), so the rep's updates stay HOT.
 *
 * An entry is only a hint: counter_cached() checks on the tuple, kept pinned until it is updated,
 * that it still is that rep's row and its latest version (a version another backend has changed
 * since, or a line pointer VACUUM freed and reused, is passed over for the index), and a TID
 * past the end of the table is never read.
 *
 * Each entry remembers the subtransaction that set it, and a subtransaction that rolls back
 * forgets the entries of this transaction it or its children set (ids at least its own:
 * subtransaction ids grow within a transaction, and its children started after it).  Those
 * point at versions the rollback killed.  Every other entry of this transaction was set by a
 * subtransaction still alive (an ancestor, or a sibling committed into one): its version is
 * still ours.  So a loop that swallows a refusal after each claim (a PL/pgSQL EXCEPTION block
 * rolls back a subtransaction) keeps its entries, and stays linear.  An entry a rolled-back
 * top transaction left points at a dead version: the later transaction's lock finds it invisible
 * and goes to the index.
 */
typedef struct CounterKey
{
	CrmpoolTableId table;
	CrmpoolTenant tenant;
	int64		rep;
} CounterKey;

typedef struct CounterTid
{
	CounterKey	key;
	LocalTransactionId lxid;	/* the transaction that set it */
	SubTransactionId subid;		/* the subtransaction that set it */
	ItemPointerData tid;
} CounterTid;

static HTAB *counter_tids = NULL;

static void
counter_subxact(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid,
				void *arg)
{
	HASH_SEQ_STATUS seq;
	CounterTid *ct;

	if (event != SUBXACT_EVENT_ABORT_SUB || counter_tids == NULL)
		return;
	hash_seq_init(&seq, counter_tids);
	while ((ct = hash_seq_search(&seq)) != NULL)
		if (ct->lxid == CRMPOOL_MY_LXID && ct->subid >= mySubid)
			hash_search(counter_tids, &ct->key, HASH_REMOVE, NULL);
}

/*
 * The entry of a rep's row; NULL if none and not `create` (a new one has no TID yet).  The
 * table is started again only once it holds many reps.
 */
static CounterTid *
counter_tid(CrmpoolTableId table, CrmpoolTenant tenant, int64 rep, bool create)
{
	CounterKey	key;
	CounterTid *ct;
	bool		found;

	if (counter_tids == NULL || (create && hash_get_num_entries(counter_tids) > 1024))
	{
		HASHCTL		ctl;

		if (!create)
			return NULL;
		if (counter_tids != NULL)
			hash_destroy(counter_tids);
		else
			RegisterSubXactCallback(counter_subxact, NULL);
		ctl.keysize = sizeof(CounterKey);
		ctl.entrysize = sizeof(CounterTid);
		counter_tids = hash_create("crmpool counter rows", 64, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	memset(&key, 0, sizeof(key));
	key.table = table;
	key.tenant = tenant;
	key.rep = rep;
	ct = hash_search(counter_tids, &key, create ? HASH_ENTER : HASH_FIND, &found);
	if (ct != NULL && !found)
	{
		ct->lxid = InvalidLocalTransactionId;
		ItemPointerSetInvalid(&ct->tid);
	}
	return ct;
}

/* Whether the row version in slot is the counter row of (table, tenant, rep). */
static bool
counter_is_rep(TupleTableSlot *slot, CrmpoolTableId table, CrmpoolTenant tenant, int64 rep)
{
	return DatumGetInt32(store_attr(slot, 1)) == table &&
		DatumGetInt64(store_attr(slot, 2)) == rep &&
		(!crmpool_has_tenants() || DatumGetInt64(store_attr(slot, COUNT_TENANT)) == tenant);
}

/*
 * Whether a counter row's page is short of room for the next versions: full (an update did not
 * fit), or less than a tenth of it free, the threshold heap_page_prune_opt() uses for a table
 * without a fillfactor.  rep_counter's fillfactor of 10 spreads the reps' rows over pages, but
 * it also makes heap_page_prune_opt() prune whenever less than 90% of the page is free, which
 * with a page's share of reps is nearly always: called at every counter change, it pruned at
 * every one (400 prunes, each with its WAL record and cleanup lock, in 200 claim+release pairs
 * of one rep; 0.1, reaching the row through the index, pruned 40 times).  Pruning only once
 * the page is short of room (not once in those 200 pairs) still keeps the rep's updates HOT.
 * Read without the buffer lock, as heap_page_prune_opt() reads it: a stale answer only moves
 * the prune to the next call.
 */
static bool
counter_page_short(Page page)
{
	return PageIsFull(page) || PageGetHeapFreeSpace(page) < BLCKSZ / 10;
}

/*
 * Whether block is inside the counter table as far as this backend can know, asking the kernel
 * only when its last-known size does not already say so.  RelationGetNumberOfBlocks() is an
 * lseek() at every call (PostgreSQL caches the size only in recovery): at every counter change,
 * two per claim+release, it was the one system call 0.2 added to a claim (strace of 1,000 pairs:
 * 2,183 lseeks against 0.1's 162), and four backends seeking on the same file contend for it.
 * The last-known size (smgr_cached_nblocks, set by every size lookup and extension) can be too
 * low, which only costs the lseek; it is never too high, because the table shrinks only by
 * VACUUM's truncation, which sends every backend an invalidation that resets it before the
 * file shrinks, and which needs a lock the caller's RowExclusiveLock conflicts with: this
 * transaction took that lock, and so read the invalidation, after any truncation that could
 * matter here.  (TRUNCATE and VACUUM FULL give the table a new file, with no size known yet.)
 */
static bool
counter_block_exists(Relation heap, BlockNumber block)
{
	BlockNumber known = RelationGetSmgr(heap)->smgr_cached_nblocks[MAIN_FORKNUM];

	return (known != InvalidBlockNumber && block < known) ||
		block < RelationGetNumberOfBlocks(heap);
}

/*
 * Whether the counter table is plain (store_table_plain) and every index reads only (tenant, rel, rep),
 * which a change of the counts never changes.  The index columns are cached in the relcache
 * entry too, so asking costs no catalog access.
 */
static bool
counter_table_plain(Relation rel)
{
	Bitmapset  *attrs;
	int			x = -1;
	bool		plain;

	if (!store_table_plain(rel))
		return false;
	attrs = crmpool_indexed_attrs(rel);
	plain = true;
	while ((x = bms_next_member(attrs, x)) >= 0)
		if (x + FirstLowInvalidHeapAttributeNumber != 1 &&
			x + FirstLowInvalidHeapAttributeNumber != 2 &&
			x + FirstLowInvalidHeapAttributeNumber != COUNT_TENANT)
			plain = false;
	bms_free(attrs);
	return plain;
}

/* Whether a row version's inserting transaction committed (not ours, not running, not aborted). */
static bool
counter_xmin_committed(HeapTupleHeader htup)
{
	TransactionId xmin = HeapTupleHeaderGetRawXmin(htup);

	if (HeapTupleHeaderXminCommitted(htup))
		return true;
	if (HeapTupleHeaderXminInvalid(htup))
		return false;
	return !TransactionIdIsInProgress(xmin) && TransactionIdDidCommit(xmin);
}

/*
 * Fetch into slot the rep's latest row version, found from the entry's TID (see counter_tids);
 * false, slot empty, if the entry cannot say where it is.  *locked says whether the row is
 * already held: the version this transaction made is.  A version a committed transaction left
 * is not locked here: counter_write() updates it as an UPDATE of it would, waiting for a
 * concurrent writer of the row, and if one changed it in between, reports that, and the caller
 * takes the latest version through the primary key (counter_lock).  Locking it first, as the
 * path through the index does, cost each counter change a second WAL record (Heap/LOCK, about
 * a fifth of a claim's records and a seventh of its WAL bytes) and a second exclusive lock of
 * the page the other reps' rows share.
 */
static bool
counter_cached(Relation heap, bool plain, CrmpoolTableId table, CrmpoolTenant tenant, int64 rep,
			   CounterTid *ct, TupleTableSlot *slot, bool *locked)
{
	HeapTuple	tuple;
	HeapTupleHeader htup;
	bool		should_free;
	bool		ok;
	Buffer		buffer;
	bool		mine;

	if (ct == NULL || !ItemPointerIsValid(&ct->tid) || heap->rd_rel->relam != HEAP_TABLE_AM_OID)
		return false;
	mine = ct->lxid == CRMPOOL_MY_LXID;
	if (!mine)
	{
		/*
		 * A later transaction: under REPEATABLE READ the row must be the version its snapshot
		 * sees (counter_lock); the table may have shrunk since (this transaction's lock on it
		 * keeps it from shrinking from now on); and an update without a lock first needs the
		 * plain table counter_write() can update so.
		 */
		if (IsolationUsesXactSnapshot() || !plain ||
			!counter_block_exists(heap, ItemPointerGetBlockNumber(&ct->tid)))
			return false;
		buffer = ReadBuffer(heap, ItemPointerGetBlockNumber(&ct->tid));
		if (counter_page_short(BufferGetPage(buffer)))
			heap_page_prune_opt(heap, buffer);
		ReleaseBuffer(buffer);
	}

	/*
	 * The version at the TID, kept pinned in the slot until it is updated: the pin keeps any
	 * backend from pruning the page (pruning needs a cleanup lock), so the line pointer cannot
	 * be freed or given to another row in between.
	 */
	ok = table_tuple_fetch_row_version(heap, &ct->tid, SnapshotAny, slot);
	if (ok)
	{
		tuple = ExecFetchSlotHeapTuple(slot, false, &should_free);
		htup = tuple->t_data;
		/* the rep's row, not updated since: its latest version (a dead one goes to the index) */
		ok = counter_is_rep(slot, table, tenant, rep) &&
			((htup->t_infomask & HEAP_XMAX_INVALID) || HEAP_XMAX_IS_LOCKED_ONLY(htup->t_infomask));
		/*
		 * Within its transaction: the version it made.  Later: one a committed transaction made
		 * (an update of the version of a rolled-back one, or of a running one's, would fail).
		 */
		if (mine)
			ok = ok && TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetRawXmin(htup));
		else
			ok = ok && counter_xmin_committed(htup);
		if (should_free)
			heap_freetuple(tuple);
	}
	if (!ok)
		ExecClearTuple(slot);
	*locked = mine;
	return ok;
}

/*
 * Find the rep's row by primary key and lock it into `current`, waiting for a concurrent change
 * by the same rep to end; under READ COMMITTED then take its latest version (EvalPlanQual's
 * rule), under REPEATABLE READ or SERIALIZABLE fail with a serialization error.  False if the
 * rep has no row.
 */
static bool
counter_lock(StoreScan *ks, TupleTableSlot *current)
{
	ItemPointerData tid;
	TM_FailureData tmfd;
	TM_Result	res;

	if (!index_getnext_slot(ks->scan, ForwardScanDirection, ks->slot))
		return false;
	tid = ks->slot->tts_tid;
	ExecClearTuple(ks->slot);

	res = table_tuple_lock(ks->heap, &tid, GetActiveSnapshot(), current,
						   GetCurrentCommandId(true), LockTupleNoKeyExclusive, LockWaitBlock,
						   IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION,
						   &tmfd);
	switch (res)
	{
		case TM_Ok:
			break;
		case TM_Updated:
			/* only without TUPLE_LOCK_FLAG_FIND_LAST_VERSION */
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent update")));
			break;
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent delete")));
			return false;
		default:
			elog(ERROR, "unexpected result %d locking a crmpool counter", (int) res);
	}
	return true;
}

/*
 * Write the counter row's new version (next, a virtual slot) over current: the version this
 * transaction holds (locked), or one counter_cached() read without a lock.  False, writing
 * nothing, if that one was changed or deleted since (READ COMMITTED: the caller then takes the
 * row's latest version, locked, and computes again).
 *
 * While the table is as crmpool made it (counter_table_plain), this is a heap update and, for
 * an update that does not fit the row's page (about every 120th: its versions cannot be pruned
 * before the transaction ends), index entries without the primary key's unique check: that
 * check would visit every version of the row this transaction made, O(n) for the n-th change,
 * O(n^2) for n changes of one rep in one transaction.  The key (tenant, rel, rep) never changes
 * and the old version is ours (locked, or now updated), so the new entry cannot be a duplicate.  The executor state that
 * inserting index entries needs is set up only then: setting it up for every change cost a
 * claim more than the update itself.  update_indexes is never "summarizing only" (16+): that
 * needs an index on a changed column.
 *
 * Otherwise (a superuser added a trigger, a constraint or an index) ExecSimpleRelationUpdate()
 * writes it, honouring all of them; counter_cached() gives such a table no unlocked version.
 */
static bool
counter_write(Relation rel, bool plain, TupleTableSlot *current, TupleTableSlot *next,
			  bool locked)
{
	StoreWriter w;
	CrmpoolUpdateIndexes update_indexes;
	int			i;

	if (!plain || !store_not_nulls_set(next))
	{
		Assert(locked);
		store_writer_begin(&w, rel);
		ExecSimpleRelationUpdate(w.rri, w.estate, &w.epq, current, next);
		store_writer_end(&w);
		return true;
	}
	if (locked)
		simple_table_tuple_update(rel, &current->tts_tid, next, GetActiveSnapshot(), &update_indexes);
	else
	{
		TM_FailureData tmfd;
		LockTupleMode lockmode;
		TM_Result	res;

		res = table_tuple_update(rel, &current->tts_tid, next, GetCurrentCommandId(true),
								 GetActiveSnapshot(), InvalidSnapshot, true, &tmfd, &lockmode,
								 &update_indexes);
		if (res == TM_Updated || res == TM_Deleted)
			return false;
		if (res != TM_Ok)
			elog(ERROR, "unexpected result %d updating a crmpool counter", (int) res);
	}
	if (!update_indexes)
		return true;
	store_writer_begin(&w, rel);
	GetPerTupleExprContext(w.estate)->ecxt_scantuple = next;
	for (i = 0; i < w.rri->ri_NumIndices; i++)
	{
		Datum		values[INDEX_MAX_KEYS];
		bool		isnull[INDEX_MAX_KEYS];

		FormIndexDatum(w.rri->ri_IndexRelationInfo[i], next, w.estate, values, isnull);
		index_insert(w.rri->ri_IndexRelationDescs[i], values, isnull, &next->tts_tid, rel,
					 UNIQUE_CHECK_NO, true, w.rri->ri_IndexRelationInfo[i]);
	}
	store_writer_end(&w);
	return true;
}

/*
 * Apply a change to the rep's counter row in place, with the semantics of
 * "UPDATE crmpool.rep_counter SET ... WHERE table_id = $1 AND rep = $2" (counter_lock), or at
 * the version a transaction of this session left (counter_tids, counter_cached).  The row is
 * the rep's lock: held to commit.  Returns false, changing nothing, if the rep has no row.
 */
static bool
counter_update(CrmpoolTableId table, CrmpoolTenant tenant, int64 rep, const CounterChange *chg,
			   RepCounts *after)
{
	StoreScan	ks;
	TupleTableSlot *current;
	TupleTableSlot *next;
	bool		plain;
	bool		locked;
	bool		day_null;
	Datum		day;
	int32		claims;
	int			i;
	CounterTid *ct = counter_tid(table, tenant, rep, false);

	store_open(&ks, &ledger_tables[LT_COUNTERS], false, RowExclusiveLock);
	plain = counter_table_plain(ks.heap);	/* once: it builds a bitmap of the indexed columns */
	current = table_slot_create(ks.heap, NULL);
	next = MakeSingleTupleTableSlot(RelationGetDescr(ks.heap), &TTSOpsVirtual);
	if (!counter_cached(ks.heap, plain, table, tenant, rep, ct, current, &locked))
		locked = false;
	for (;;)
	{
		ScanKeyData keys[3];

		/*
		 * Nothing cached, or the cached version changed since it was read: through the index,
		 * locked (so at most once: a write over a locked version cannot fail).
		 */
		if (!locked && TupIsNull(current))
		{
			store_scan_keys(&ks, keys, ledger_keys(keys, table, tenant, rep));
			if (!counter_lock(&ks, current))
			{
				ExecDropSingleTupleTableSlot(next);
				ExecDropSingleTupleTableSlot(current);
				store_scan_end(&ks);
				return false;
			}
			locked = true;
		}

		/* the new version: the current one with the change applied */
		slot_getallattrs(current);
		ExecClearTuple(next);
		for (i = 0; i < next->tts_tupleDescriptor->natts; i++)
			store_set(next, i + 1, current->tts_values[i], !current->tts_isnull[i]);
		after->owned = add_count(DatumGetInt32(store_attr(current, COUNT_OWNED)), chg->owned);
		after->with_deal = add_count(DatumGetInt32(store_attr(current, COUNT_WITH_DEAL)),
									 chg->with_deal);
		after->locked = add_count(DatumGetInt32(store_attr(current, COUNT_LOCKED)), chg->locked);
		claims = DatumGetInt32(store_attr(current, COUNT_CLAIMS));
		day = slot_getattr(current, COUNT_DAY, &day_null);
		if (chg->claims != 0)
		{
			claims = (!day_null && DatumGetDateADT(day) == chg->today) ?
				add_count(claims, chg->claims) : chg->claims;
			day = DateADTGetDatum(chg->today);
			day_null = false;
		}
		after->claims_today = (!day_null && DatumGetDateADT(day) == chg->today) ? claims : 0;
		store_set(next, COUNT_OWNED, Int32GetDatum(after->owned), true);
		store_set(next, COUNT_WITH_DEAL, Int32GetDatum(after->with_deal), true);
		store_set(next, COUNT_LOCKED, Int32GetDatum(after->locked), true);
		store_set(next, COUNT_CLAIMS, Int32GetDatum(claims), true);
		store_set(next, COUNT_DAY, day, !day_null);
		ExecStoreVirtualTuple(next);
		if (counter_write(ks.heap, plain, current, next, locked))
			break;
		ExecClearTuple(current);
	}
	/* the new version's TID, where the next change of this rep in this transaction finds it */
	ct = counter_tid(table, tenant, rep, true);
	ct->tid = next->tts_tid;
	ct->lxid = CRMPOOL_MY_LXID;
	ct->subid = GetCurrentSubTransactionId();

	ExecDropSingleTupleTableSlot(next);
	ExecDropSingleTupleTableSlot(current);
	store_scan_end(&ks);
	return true;
}

/*
 * A rep losing what crmpool never counted for it, or a count below zero: the table changed
 * behind crmpool's back (its triggers were bypassed).  Refuse rather than hide it, and say how
 * to bring the bookkeeping back in step.
 */
static void
missing_counter(Oid relid, CrmpoolTenant tenant, int64 rep)
{
	ereport(ERROR,
			(errcode(ERRCODE_CRMPOOL_OUT_OF_STEP),
			 errmsg("crmpool has no counters for rep %lld of table %s",
					(long long) rep, get_rel_name(relid)),
			 tenant == CRMPOOL_NO_TENANT ?
			 errdetail("The table says rep %lld owns the customer; crmpool never counted it.",
					   (long long) rep) :
			 errdetail("The table says rep %lld of tenant \"%s\" owns the customer; crmpool never counted it.",
					   (long long) rep, psprintf(INT64_FORMAT, tenant)),
			 crmpool_repair_hint(relid),
			 crmpool_refusal(relid, InvalidAttrNumber, "out_of_step", ERR_REP(rep))));
}

static void
check_counts(Oid relid, int64 rep, const RepCounts *after)
{
	if (after->owned < 0 || after->with_deal < 0 || after->locked < 0)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_OUT_OF_STEP),
				 errmsg("crmpool counters of rep %lld in table %s went below zero",
						(long long) rep, get_rel_name(relid)),
				 errdetail("After this change rep %lld would own %lld, lock %lld and have %lld with a deal.",
						   (long long) rep, (long long) after->owned, (long long) after->locked,
						   (long long) after->with_deal),
				 crmpool_repair_hint(relid),
				 crmpool_refusal(relid, InvalidAttrNumber, "out_of_step", ERR_REP(rep))));
}

/*
 * Apply one rep's counter deltas; returns the counts after them, with the rep's row locked to
 * commit.  A count below zero means the bookkeeping lost track: refuse rather than hide it.
 */
void
ledger_apply(Oid relid, CrmpoolTableId table, CrmpoolTenant tenant, int64 rep, int owned,
			 int with_deal, int locked, int claims, DateADT today, RepCounts *after)
{
	CounterChange chg = {.owned = owned, .with_deal = with_deal, .locked = locked,
	.claims = claims, .today = today};

	if (!counter_update(table, tenant, rep, &chg, after))
	{
		Datum		v[8] = {crmpool_table_id_datum(table), Int64GetDatum(rep), Int32GetDatum(owned),
			Int32GetDatum(with_deal), Int32GetDatum(locked), Int32GetDatum(claims),
		DateADTGetDatum(today), crmpool_tenant_datum(tenant)};

		/* only a gain makes a rep's row; a rep losing what it was never counted for cannot */
		if (owned <= 0)
			missing_counter(relid, tenant, rep);
		run(STMT_APPLY, v, NULL);
		if (SPI_processed != 1)
			elog(ERROR, "crmpool could not count rep %lld", (long long) rep);
		after->owned = result_int(1);
		after->with_deal = result_int(2);
		after->locked = result_int(3);
		after->claims_today = result_int(4);
	}
	check_counts(relid, rep, after);
}

void
ledger_locked_changed(Oid relid, CrmpoolTableId table, CrmpoolTenant tenant, int64 rep, int delta,
					  int64 *locked_after)
{
	CounterChange chg = {.locked = delta};
	RepCounts	after;

	if (!counter_update(table, tenant, rep, &chg, &after))
		missing_counter(relid, tenant, rep);
	check_counts(relid, rep, &after);
	*locked_after = after.locked;
}

/* The actor this ledger session records (crmpool.actor, the role, or ledger_set_actor's). */
const char *
ledger_current_actor(void)
{
	return ledger_actor;
}

/*
 * Appending a statement's ownership events.  One executor state serves all of them (setting
 * one up per row cost more than the insert, and its allocations lived until the end of the
 * flush: about 1.9 kB per event).  The rows go in by batches of EVENT_BATCH, through
 * table_multi_insert() and then each row's index entries and AFTER triggers, as COPY does: a
 * heap page is filled and logged once per batch instead of once per row.  A BEFORE ROW trigger
 * (crmpool has none; a superuser could add one) makes it insert row by row, as does a statement
 * with a single event (a claim), where a batch only costs more: that one row needs no executor
 * state at all while the table is as crmpool made it (store_insert_plain), and the state is set
 * up only for a statement that needs it.  Memory is reset after each batch, so a flush of any
 * size runs in constant memory.
 */
#define EVENT_BATCH 1000

struct LedgerEvents
{
	Relation	rel;
	Oid			seqid;
	StoreWriter	w;				/* set up with the first insert that needs it */
	bool		have_writer;
	bool		by_batch;
	BulkInsertState bulk;		/* from the first full batch on */
	int			n;				/* rows waiting in slots */
	int			nslots;			/* slots made: 1, or EVENT_BATCH once a batch has two rows */
	TupleTableSlot **slots;
	MemoryContext batchcxt;		/* their values; reset after each batch */
};

LedgerEvents *
ledger_events_begin(void)
{
	/* not zeroed whole: a claim's single event needs one slot, not EVENT_BATCH */
	LedgerEvents *le = palloc(sizeof(LedgerEvents));
	Oid			heapid;
	Oid			indexid;

	store_oids(&ledger_tables[LT_EVENTS], &heapid, &indexid);
	le->seqid = crmpool_relid("ownership_event_seq_seq");
	le->rel = table_open(heapid, RowExclusiveLock);
	le->have_writer = false;
	le->by_batch = store_multi_insert_ok(le->rel);
	le->bulk = NULL;
	le->n = 0;
	le->nslots = 0;
	le->slots = NULL;
	le->batchcxt = AllocSetContextCreate(CurrentMemoryContext, "crmpool events",
										 ALLOCSET_DEFAULT_SIZES);
	return le;
}

static StoreWriter *
events_writer(LedgerEvents *le)
{
	if (!le->have_writer)
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(GetMemoryChunkContext(le));

		store_writer_begin(&le->w, le->rel);
		le->have_writer = true;
		MemoryContextSwitchTo(oldcxt);
	}
	return &le->w;
}

/*
 * Insert the rows waiting in the slots.  A single row (a claim's event) goes in without an
 * executor state while the table is plain (store_insert_plain).
 */
static void
events_insert(LedgerEvents *le)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(le->batchcxt);
	EState	   *estate;
	int			i;

	if (le->n == 1 && store_insert_plain(le->rel, le->slots[0]))
		estate = NULL;
	else if (!le->by_batch || le->n == 1)
	{
		StoreWriter *w = events_writer(le);

		estate = w->estate;
		ExecSimpleRelationInsert(w->rri, estate, le->slots[0]);
	}
	else
	{
		StoreWriter *w = events_writer(le);

		estate = w->estate;
		if (le->bulk == NULL && le->n == EVENT_BATCH)
		{
			/* it lives as long as le, not the batch */
			MemoryContextSwitchTo(GetMemoryChunkContext(le));
			le->bulk = GetBulkInsertState();
			MemoryContextSwitchTo(le->batchcxt);
		}
		store_multi_insert(w, le->slots, le->n, le->bulk);
	}
	for (i = 0; i < le->n; i++)
		ExecClearTuple(le->slots[i]);
	le->n = 0;
	MemoryContextSwitchTo(oldcxt);
	if (estate != NULL)
		ResetPerTupleExprContext(estate);
	MemoryContextReset(le->batchcxt);
}

/* Append an ownership event. */
void
ledger_events_add(LedgerEvents *le, CrmpoolTableId table, CrmpoolTenant tenant, int64 customer,
				  TimestampTz at, bool has_owner, int64 owner, const char *how, const char *reason,
				  const char *actor)
{
	TupleTableSlot *slot;
	MemoryContext oldcxt;

	if (le->n == le->nslots)
	{
		/* the slot array lives as long as le; 1 slot, then EVENT_BATCH (only when batching) */
		int			nslots = le->nslots == 0 ? 1 : EVENT_BATCH;
		TupleTableSlot **slots = MemoryContextAllocZero(GetMemoryChunkContext(le),
														nslots * sizeof(TupleTableSlot *));

		if (le->nslots > 0)
			memcpy(slots, le->slots, le->nslots * sizeof(TupleTableSlot *));
		le->slots = slots;
		le->nslots = nslots;
	}
	if (le->slots[le->n] == NULL)
	{
		oldcxt = MemoryContextSwitchTo(GetMemoryChunkContext(le));
		le->slots[le->n] = MakeSingleTupleTableSlot(RelationGetDescr(le->rel), &TTSOpsVirtual);
		MemoryContextSwitchTo(oldcxt);
	}
	slot = le->slots[le->n++];
	oldcxt = MemoryContextSwitchTo(le->batchcxt);
	store_clear(slot);
	store_set(slot, EVENT_TABLE_ID, crmpool_table_id_datum(table), true);
	if (crmpool_has_tenants())
		store_set(slot, EVENT_TENANT, crmpool_tenant_datum(tenant), true);
	store_set(slot, EVENT_CUSTOMER, Int64GetDatum(customer), true);
	store_set(slot, EVENT_SEQ, Int64GetDatum(nextval_internal(le->seqid, false)), true);
	store_set(slot, EVENT_AT, TimestampTzGetDatum(at), true);
	store_set(slot, EVENT_OWNER, Int64GetDatum(owner), has_owner);
	store_set(slot, EVENT_HOW, CStringGetTextDatum(how), true);
	store_set(slot, EVENT_ACTOR, CStringGetTextDatum(actor), true);
	if (reason != NULL)
		store_set(slot, EVENT_REASON, CStringGetTextDatum(reason), true);
	ExecStoreVirtualTuple(slot);
	MemoryContextSwitchTo(oldcxt);
	if (!le->by_batch || le->n == EVENT_BATCH)
		events_insert(le);
}

void
ledger_events_end(LedgerEvents *le)
{
	int			i;

	if (le->n > 0)
		events_insert(le);
	if (le->bulk != NULL)
		FreeBulkInsertState(le->bulk);
	if (le->have_writer)
		store_writer_end(&le->w);
	table_close(le->rel, NoLock);
	MemoryContextDelete(le->batchcxt);
	for (i = 0; i < le->nslots && le->slots[i] != NULL; i++)
		ExecDropSingleTupleTableSlot(le->slots[i]);
	if (le->slots != NULL)
		pfree(le->slots);
	pfree(le);
}

/* Append one event on its own (crmpool.repair()); a statement's events go in by batches. */
void
ledger_record(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer, TimestampTz at,
			  bool has_owner, int64 owner, const char *how, const char *reason, const char *actor)
{
	LedgerEvents *le = ledger_events_begin();

	ledger_events_add(le, table, tenant, customer, at, has_owner, owner, how, reason, actor);
	ledger_events_end(le);
}

/*
 * Who locked the customer, if anyone.  Read with the latest snapshot: under REPEATABLE READ a
 * lock taken after our snapshot must still stop a release (crmpool.lock() locks the customer
 * row without changing it, so no serialization failure would catch it).
 */
bool
ledger_lock_holder(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer, int64 *rep,
				   TimestampTz *since)
{
	StoreScan	ks;
	bool		found;

	key_scan_begin(&ks, LT_LOCKS, table, tenant, customer, true, AccessShareLock);
	found = index_getnext_slot(ks.scan, ForwardScanDirection, ks.slot);
	if (found)
	{
		*rep = DatumGetInt64(store_attr(ks.slot, LOCK_REP));
		*since = DatumGetTimestampTz(store_attr(ks.slot, LOCK_SINCE));
	}
	store_scan_end(&ks);
	return found;
}

/* True if the lock is new. */
bool
ledger_add_lock(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer, int64 rep,
				TimestampTz at)
{
	Datum		v[5] = {crmpool_table_id_datum(table), Int64GetDatum(customer), Int64GetDatum(rep),
	TimestampTzGetDatum(at), crmpool_tenant_datum(tenant)};

	run(STMT_ADD_LOCK, v, NULL);
	return SPI_processed == 1;
}

/* True if there was a lock. */
bool
ledger_drop_lock(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer)
{
	Datum		v[3] = {crmpool_table_id_datum(table), Int64GetDatum(customer),
	crmpool_tenant_datum(tenant)};

	run(STMT_DROP_LOCK, v, NULL);
	return SPI_processed == 1;
}

/*
 * What the claim-only rules need of the customer's past, from one backward scan of its events.
 *
 * Hold-back: when it entered the pool, if it is there by a recorded event (its last event has
 * no owner); customers already in the pool when the table was attached ("adopt") have no known
 * entry time.  Cool-down (only if want_lost): when `rep` last lost it, that is the time of the
 * event that followed the rep's last spell; unknown if the rep never owned it.
 */
void
ledger_customer_past(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer, int64 rep,
					 bool want_lost, CustomerPast *past)
{
	StoreScan	ks;
	bool		newest = true;
	TimestampTz newer_at = 0;

	memset(past, 0, sizeof(CustomerPast));
	key_scan_begin(&ks, LT_EVENTS, table, tenant, customer, false, AccessShareLock);
	while (index_getnext_slot(ks.scan, BackwardScanDirection, ks.slot))
	{
		TimestampTz at = DatumGetTimestampTz(store_attr(ks.slot, EVENT_AT));
		bool		isnull;
		Datum		owner = slot_getattr(ks.slot, EVENT_OWNER, &isnull);

		if (newest)
		{
			/* adopted or repaired: when it entered the pool is not known */
			if (isnull && !text_equals(store_attr(ks.slot, EVENT_HOW), "adopt") &&
				!text_equals(store_attr(ks.slot, EVENT_HOW), "repair"))
			{
				past->entered_known = true;
				past->entered = at;
			}
			if (!want_lost)
				break;
		}
		if (!isnull && DatumGetInt64(owner) == rep)
		{
			past->lost_known = !newest;
			past->lost = newer_at;
			break;
		}
		newest = false;
		newer_at = at;
	}
	store_scan_end(&ks);
}

/* When the customer's current spell began: its last event; false if it has none. */
bool
ledger_spell_start(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer,
				   TimestampTz *since)
{
	StoreScan	ks;
	bool		found;

	key_scan_begin(&ks, LT_EVENTS, table, tenant, customer, false, AccessShareLock);
	found = index_getnext_slot(ks.scan, BackwardScanDirection, ks.slot);
	if (found)
		*since = DatumGetTimestampTz(store_attr(ks.slot, EVENT_AT));
	store_scan_end(&ks);
	return found;
}

/* TRUNCATE of a managed table: close every open spell, zero the counts, drop the locks. */
void
ledger_truncate(CrmpoolTableId table, TimestampTz at)
{
	Datum		v[3] = {crmpool_table_id_datum(table), TimestampTzGetDatum(at),
	CStringGetTextDatum(ledger_actor)};

	run(STMT_TRUNCATE_EVENTS, v, NULL);
	run(STMT_TRUNCATE_COUNTERS, v, NULL);
	run(STMT_TRUNCATE_LOCKS, v, NULL);
}
