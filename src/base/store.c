/*
 * store.c: crmpool's own tables: fixed statements, and reads by index and row writes without SPI
 * where a claim pays for each statement.
 *
 * A claim reads a customer's events or lock, changes a rep's counters and appends an event;
 * every write of a managed table with identity columns reads the customers holding its keys.
 * Through SPI each of these statements paid an executor start-up (plan lookup,
 * ExecInitModifyTable, projections), more than the work itself.  Here a read is an index scan
 * (StoreScan) and a row is written through ExecSimpleRelationInsert/Update (StoreWriter), the
 * executor's own path for one row without a plan, set up as logical replication's apply worker
 * sets it up: constraints, every index and row triggers are honoured.  A read takes the snapshot
 * an SPI statement would take: a fresh one (READ COMMITTED) or the latest, after a command
 * counter increment so that this transaction's own changes are seen.  The tables are crmpool's
 * own and private, used as the extension owner, who owns them: no privilege check is made
 * (SPI's would pass).  Locks are kept to the end of the transaction, as a statement's are.
 *
 * Everything else runs as fixed statements (CrmpoolStmt), each prepared once per backend and
 * kept, whose text qualifies every table, function and operator.
 *
 * Table and index OIDs come from objects.c, taken into locals before anything is opened; the
 * column numbers C reads by are checked by name once per OID a table has had (StoreTable).
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "nodes/makefuncs.h"
#include "utils/array.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "base/base.h"

/* ---------------------------------------------------------------------------------------------
 * Fixed statements (CrmpoolStmt), through SPI: what is not on the hot path.
 * -------------------------------------------------------------------------------------------*/

/*
 * The kept plan of a fixed statement, prepared on first use (inside or outside SPI): 0.2's, or
 * 0.1's text while crmpool's tables are still 0.1's.
 */
SPIPlanPtr
crmpool_stmt_plan(const CrmpoolStmt *stmt, SPIPlanPtr slot[2])
{
	int			v = (stmt->sql01 != NULL && !crmpool_has_tenants()) ? 1 : 0;

	if (slot[v] == NULL)
	{
		SPI_connect();
		slot[v] = crmpool_keep_plan(v == 1 ? stmt->sql01 : stmt->sql, stmt->nargs,
									(Oid *) stmt->argtypes);
		SPI_finish();
	}
	return slot[v];
}

/*
 * Run a fixed statement inside the caller's SPI connection; `latest` reads with the latest
 * snapshot instead of the statement's own.  Returns the SPI result code.
 */
int
crmpool_run_stmt(const CrmpoolStmt *stmt, SPIPlanPtr slot[2], Datum *values, const char *nulls,
				 bool latest)
{
	SPIPlanPtr	plan = crmpool_stmt_plan(stmt, slot);
	int			rc;

	if (latest)
		rc = SPI_execute_snapshot(plan, values, nulls, GetLatestSnapshot(), InvalidSnapshot,
								  false, false, 0);
	else
		rc = SPI_execute_plan(plan, values, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "crmpool statement failed: %s", SPI_result_code_string(rc));
	return rc;
}

/* ---------------------------------------------------------------------------------------------
 * Without SPI
 * -------------------------------------------------------------------------------------------*/

/* The OIDs of t's table and index; its columns are checked whenever the table's OID is new. */
void
store_oids(StoreTable *t, Oid *heap, Oid *index)
{
	int			i;

	bool		tenants = crmpool_has_tenants();

	*heap = crmpool_relid(t->table);
	*index = crmpool_relid(t->index);
	if (t->checked == *heap && t->checked_tenants == tenants)
		return;
	for (i = 0; i < lengthof(t->columns) && t->columns[i] != NULL; i++)
	{
		const char *column = t->columns[i];

		/* 0.1's tables key by rel where 0.2's have table_id, at the same number (base.h) */
		if (!tenants && strcmp(column, "table_id") == 0)
			column = "rel";
		crmpool_check_column(*heap, t->table, i + 1, column);
	}
	if (tenants && t->tenant_att != 0)
		crmpool_check_column(*heap, t->table, t->tenant_att, "tenant");
	t->checked = *heap;
	t->checked_tenants = tenants;
}

/*
 * Open t's table under a fresh snapshot or, if latest, the latest one, without its index yet:
 * a caller that may find its row by TID (ledger.c's counters) opens the index only when it
 * needs it, with store_scan_keys().  lockmode is taken on the table, as a statement would.
 */
void
store_open(StoreScan *s, StoreTable *t, bool latest, LOCKMODE lockmode)
{
	Oid			heapid;

	store_oids(t, &heapid, &s->indexid);
	if (latest)
		PushCopiedSnapshot(GetLatestSnapshot());
	else
		PushActiveSnapshot(GetTransactionSnapshot());
	CommandCounterIncrement();
	UpdateActiveSnapshotCommandId();

	s->heap = table_open(heapid, lockmode);
	s->index = NULL;
	s->scan = NULL;
	s->slot = table_slot_create(s->heap, NULL);
}

/* Scan the table store_open() opened through its index for the rows equal to keys. */
void
store_scan_keys(StoreScan *s, ScanKey keys, int nkeys)
{
	s->index = index_open(s->indexid, AccessShareLock);
	s->scan = crmpool_index_beginscan(s->heap, s->index, GetActiveSnapshot(), nkeys);
	index_rescan(s->scan, keys, nkeys, NULL, 0);
}

/*
 * Scan the table store_open() opened for the rows equal to keys: through its index, opened on
 * the first call; a later call starts over with other keys, under the same snapshot.
 */
void
store_rescan(StoreScan *s, ScanKey keys, int nkeys)
{
	if (s->index == NULL)
		store_scan_keys(s, keys, nkeys);
	else
		index_rescan(s->scan, keys, nkeys, NULL, 0);
}

/*
 * Scan t's table through its index for the rows equal to keys (the caller fetches with
 * index_getnext_slot), under a fresh snapshot or, if latest, the latest one.  lockmode is taken
 * on the table, as a statement would.
 */
void
store_scan_begin(StoreScan *s, StoreTable *t, ScanKey keys, int nkeys, bool latest,
				 LOCKMODE lockmode)
{
	store_open(s, t, latest, lockmode);
	store_scan_keys(s, keys, nkeys);
}

/* Locks are kept to the end of the transaction, as a statement would. */
void
store_scan_end(StoreScan *s)
{
	ExecDropSingleTupleTableSlot(s->slot);
	if (s->index != NULL)
	{
		index_endscan(s->scan);
		index_close(s->index, NoLock);
	}
	table_close(s->heap, NoLock);
	PopActiveSnapshot();
}

/*
 * Open t's table to delete rows of it with store_delete() (under the latest snapshot, as
 * store_open); false, the table closed again, if a DELETE statement would do more than delete
 * them: a trigger, a rule or row level security (which a superuser may add; store_table_plain
 * and the relcache entry say, without a catalog access).  The caller then runs its statement,
 * which applies them.  Close with store_scan_end().
 */
bool
store_delete_begin(StoreScan *s, StoreTable *t)
{
	store_open(s, t, true, RowExclusiveLock);
	if (store_table_plain(s->heap) && s->heap->rd_rules == NULL &&
		!s->heap->rd_rel->relrowsecurity)
		return true;
	store_scan_end(s);
	return false;
}

/*
 * Delete the rows equal to keys of the table store_delete_begin() opened, found through its
 * index, as "DELETE ... WHERE" those keys would under the latest snapshot (the snapshot the
 * lookups before it read with: what they saw is what goes), without an executor; whether it
 * deleted any.  It waits for a concurrent writer of a row as the statement would; a row that
 * writer deleted is gone, and on a row it updated the keys are looked up again under a snapshot
 * that sees the update (the rule EvalPlanQual applies).  May be called again with other keys.
 */
bool
store_delete(StoreScan *s, ScanKey keys, int nkeys)
{
	bool		deleted = false;

	for (;;)
	{
		bool		again = false;

		store_rescan(s, keys, nkeys);
		while (index_getnext_slot(s->scan, ForwardScanDirection, s->slot))
		{
			TM_FailureData tmfd;

			switch (table_tuple_delete(s->heap, &s->slot->tts_tid, GetCurrentCommandId(true),
									   GetActiveSnapshot(), InvalidSnapshot, true, &tmfd, false))
			{
				case TM_Ok:
					deleted = true;
					break;
				case TM_SelfModified:	/* this transaction deleted it since the snapshot */
				case TM_Deleted:
					break;
				case TM_Updated:
					again = true;
					break;
				default:
					elog(ERROR, "unexpected result deleting a row of crmpool table %s",
						 RelationGetRelationName(s->heap));
			}
		}
		if (!again)
			return deleted;
		index_endscan(s->scan);
		index_close(s->index, NoLock);
		s->index = NULL;
		PopActiveSnapshot();
		PushCopiedSnapshot(GetLatestSnapshot());
		UpdateActiveSnapshotCommandId();
	}
}

/* The executor state ExecSimpleRelationInsert/Update need, set up as the apply worker does. */
void
store_writer_begin(StoreWriter *w, Relation rel)
{
	RangeTblEntry *rte = makeNode(RangeTblEntry);

	w->estate = CreateExecutorState();
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = RELKIND_RELATION;
	rte->rellockmode = RowExclusiveLock;
	crmpool_init_range_table(w->estate, rte);
	w->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(w->rri, rel, 1, NULL, 0);
	w->estate->es_opened_result_relations = list_make1(w->rri);
	w->estate->es_output_cid = GetCurrentCommandId(true);
	w->estate->es_snapshot = GetActiveSnapshot();
	crmpool_epq_init(&w->epq, w->estate);
	AfterTriggerBeginQuery();
	ExecOpenIndices(w->rri, false);
}

void
store_writer_end(StoreWriter *w)
{
	ExecCloseIndices(w->rri);
	AfterTriggerEndQuery(w->estate);
	EvalPlanQualEnd(&w->epq);
	ExecResetTupleTable(w->estate->es_tupleTable, false);
	FreeExecutorState(w->estate);
}

/*
 * Whether rel is as crmpool made it, for a write without an executor state: no trigger, no
 * stored generated column, no CHECK constraint, not a partition.  A superuser may have added any
 * of these; then the row goes through a StoreWriter, which honours them.  Read from the
 * relcache entry: asking costs no catalog access.
 */
bool
store_table_plain(Relation rel)
{
	TupleConstr *constr = rel->rd_att->constr;

	return rel->trigdesc == NULL && !rel->rd_rel->relispartition &&
		(constr == NULL || (!constr->has_generated_stored && constr->num_check == 0));
}

/* Whether every NOT NULL column of the row in slot (virtual, or deformed) has a value. */
bool
store_not_nulls_set(TupleTableSlot *slot)
{
	TupleDesc	desc = slot->tts_tupleDescriptor;
	int			i;

	slot_getallattrs(slot);
	for (i = 0; i < desc->natts; i++)
		if (TupleDescAttr(desc, i)->attnotnull && slot->tts_isnull[i])
			return false;
	return true;
}

/*
 * What store_insert() needs of a table's indexes, kept per table: building it per row (the index
 * list, each index's IndexInfo, and for a GIN index the GinState gininsert() keeps in its
 * IndexInfo's ii_AmCache) cost more than a btree insert.  Kept in CacheMemoryContext and dropped
 * on any relcache invalidation of the table or of one of its indexes (a new, dropped or rebuilt
 * index, a changed pg_index row), or of every relation; an index whose relcache entry was made
 * anew since is built again too (a GinState points to the entry it was made with).
 */
typedef struct PlainIndexes
{
	Oid			relid;			/* hash key */
	bool		valid;
	bool		plain;			/* every index immediate, on plain columns, no predicate */
	int			nindexes;
	Oid			indexes[INDEX_MAX_KEYS];
	Relation	built_for[INDEX_MAX_KEYS];	/* the relcache entry each IndexInfo was made with */
	IndexInfo  *info[INDEX_MAX_KEYS];
	MemoryContext cxt;
} PlainIndexes;

static HTAB *plain_indexes = NULL;

static void
plain_indexes_invalidate(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS seq;
	PlainIndexes *p;

	hash_seq_init(&seq, plain_indexes);
	while ((p = hash_seq_search(&seq)) != NULL)
	{
		int			i;

		if (!OidIsValid(relid) || p->relid == relid)
			p->valid = false;
		for (i = 0; i < p->nindexes; i++)
			if (p->indexes[i] == relid)
				p->valid = false;
	}
}

/* rel's entry, (re)built from its index list if stale; its indexes are not opened */
static PlainIndexes *
plain_indexes_get(Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	PlainIndexes *p;
	bool		found;

	if (plain_indexes == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(PlainIndexes);
		ctl.hcxt = CacheMemoryContext;
		plain_indexes = hash_create("crmpool plain indexes", 16, &ctl,
									HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterRelcacheCallback(plain_indexes_invalidate, (Datum) 0);
	}
	p = hash_search(plain_indexes, &relid, HASH_ENTER, &found);
	if (found && p->valid)
		return p;
	if (found)
		MemoryContextDelete(p->cxt);
	p->valid = false;
	p->cxt = AllocSetContextCreate(CacheMemoryContext, "crmpool plain indexes",
								   ALLOCSET_SMALL_SIZES);
	{
		List	   *indexes = RelationGetIndexList(rel);
		ListCell   *lc;

		p->nindexes = 0;
		p->plain = list_length(indexes) <= INDEX_MAX_KEYS;
		foreach(lc, indexes)
		{
			if (!p->plain)
				break;
			p->indexes[p->nindexes] = lfirst_oid(lc);
			p->built_for[p->nindexes] = NULL;
			p->info[p->nindexes] = NULL;
			p->nindexes++;
		}
		list_free(indexes);
	}
	/* an invalidation from here on (opening an index) finds the OIDs and marks it stale */
	p->valid = true;
	return p;
}

/*
 * Insert the row in slot into rel (opened RowExclusiveLock) as ExecSimpleRelationInsert() would,
 * without the executor state it needs: for a claim's one event, setting that state up and
 * freeing it cost more than the insert.  Only for a plain table (store_table_plain) whose
 * indexes are all on plain columns, immediate, without predicate; returns STORE_NOT_PLAIN,
 * inserting nothing, otherwise (or if a NOT NULL column is null): the caller then uses a
 * StoreWriter, which also raises the constraint's error.
 *
 * Unique indexes are checked as the executor checks them, unless on_conflict: then a row that
 * one of them may already hold (a live row, or one that another transaction is writing) is not
 * waited for nor refused: the new row is deleted again, and STORE_CONFLICT returned for the
 * caller to run INSERT ... ON CONFLICT, which waits and decides as the statement does.  That is
 * the look ON CONFLICT takes at the unique index before inserting, made by the insert's own
 * descent (UNIQUE_CHECK_PARTIAL, as for a deferred constraint).  The deleted row and the
 * index entries made for it are dead to everyone; VACUUM removes them.
 */
StoreInsert
store_insert(Relation rel, TupleTableSlot *slot, bool on_conflict)
{
	PlainIndexes *p;
	Relation	opened[INDEX_MAX_KEYS];
	int			nopened = 0;
	bool		plain;
	bool		conflict = false;
	int			i;

	if (!store_table_plain(rel) || !store_not_nulls_set(slot))
		return STORE_NOT_PLAIN;
	p = plain_indexes_get(rel);
	plain = p->plain;
	for (i = 0; plain && i < p->nindexes; i++)
	{
		Relation	index = index_open(p->indexes[i], RowExclusiveLock);
		Form_pg_index form = index->rd_index;

		opened[nopened++] = index;
		/* opening may have taken an invalidation: the entry, rebuilt, is looked at again */
		if (!p->valid)
			break;
		if (p->info[i] == NULL || p->built_for[i] != index)
		{
			MemoryContext old;

			plain = form->indisready && form->indimmediate && !form->indisexclusion &&
				RelationGetIndexExpressions(index) == NIL &&
				RelationGetIndexPredicate(index) == NIL;
			if (!plain)
				break;
			old = MemoryContextSwitchTo(p->cxt);
			p->info[i] = BuildIndexInfo(index);
			p->info[i]->ii_Context = p->cxt;
			MemoryContextSwitchTo(old);
			p->built_for[i] = index;
		}
	}
	if (plain && !p->valid)
	{
		while (nopened > 0)
			index_close(opened[--nopened], NoLock);
		return store_insert(rel, slot, on_conflict);
	}
	if (plain)
	{
		table_tuple_insert(rel, slot, GetCurrentCommandId(true), 0, NULL);
		for (i = 0; i < nopened && !conflict; i++)
		{
			Datum		values[INDEX_MAX_KEYS];
			bool		isnull[INDEX_MAX_KEYS];
			bool		unique = opened[i]->rd_index->indisunique;

			FormIndexDatum(p->info[i], slot, NULL, values, isnull);
			if (!index_insert(opened[i], values, isnull, &slot->tts_tid, rel,
							  !unique ? UNIQUE_CHECK_NO :
							  on_conflict ? UNIQUE_CHECK_PARTIAL : UNIQUE_CHECK_YES,
							  false, p->info[i]) && unique && on_conflict)
				conflict = true;
		}
		if (conflict)
		{
			/* visible to this transaction's next command, which deletes it */
			CommandCounterIncrement();
			simple_heap_delete(rel, &slot->tts_tid);
		}
	}
	while (nopened > 0)
		index_close(opened[--nopened], NoLock);
	return !plain ? STORE_NOT_PLAIN : conflict ? STORE_CONFLICT : STORE_INSERTED;
}

/* store_insert() checking unique indexes as the executor does; whether the row went in. */
bool
store_insert_plain(Relation rel, TupleTableSlot *slot)
{
	return store_insert(rel, slot, false) == STORE_INSERTED;
}

/*
 * Whether rows may go into rel by store_multi_insert(): no BEFORE ROW INSERT trigger or stored
 * generated column would change them on the way (a superuser may have added one); else insert
 * each with ExecSimpleRelationInsert().
 */
bool
store_multi_insert_ok(Relation rel)
{
	return !(rel->trigdesc != NULL && rel->trigdesc->trig_insert_before_row) &&
		!(rel->rd_att->constr != NULL && rel->rd_att->constr->has_generated_stored);
}

/*
 * Insert the n rows in slots into w's table at once (table_multi_insert, as COPY does: one
 * WAL record per page, not per row), checking its constraints, inserting into every index and
 * firing AFTER ROW triggers.  bulk (may be NULL) keeps the target page from one call to the
 * next.  Only where store_multi_insert_ok().
 */
void
store_multi_insert(StoreWriter *w, TupleTableSlot **slots, int n, BulkInsertState bulk)
{
	ResultRelInfo *rri = w->rri;
	Relation	rel = rri->ri_RelationDesc;
	int			i;

	if (rel->rd_att->constr != NULL)
		for (i = 0; i < n; i++)
			ExecConstraints(rri, slots[i], w->estate);
	table_multi_insert(rel, slots, n, w->estate->es_output_cid, 0, bulk);
	for (i = 0; i < n; i++)
	{
		List	   *recheck = NIL;

		if (rri->ri_NumIndices > 0)
			recheck = crmpool_insert_index_tuples(rri, slots[i], w->estate);
		if (rri->ri_TrigDesc != NULL)
			ExecARInsertTriggers(w->estate, rri, slots[i], recheck, NULL);
		ResetPerTupleExprContext(w->estate);
	}
}

/* An empty virtual slot for a row of rel, every column null. */
TupleTableSlot *
store_writer_slot(StoreWriter *w, Relation rel)
{
	TupleTableSlot *slot = ExecInitExtraTupleSlot(w->estate, RelationGetDescr(rel),
												  &TTSOpsVirtual);

	store_clear(slot);
	return slot;
}

/* A one-dimensional array of n elements of type (nulls may be NULL: none is null). */
Datum
crmpool_array(Datum *elems, bool *nulls, int n, Oid type)
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
