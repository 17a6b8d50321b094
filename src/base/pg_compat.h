/*
 * pg_compat.h: every difference between the PostgreSQL versions crmpool is built and tested on
 * (15, 17 and 18, each in CI), in one place.  Code elsewhere calls these names and carries no
 * version test of its own.  Versions outside that list are refused at compile time rather than
 * claimed: nothing here has been run on them.
 */
#ifndef CRMPOOL_PG_COMPAT_H
#define CRMPOOL_PG_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 190000
#error "crmpool is built and tested on PostgreSQL 15, 17 and 18"
#endif

#include "access/genam.h"
#include "access/tableam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "executor/executor.h"
#include "nodes/parsenodes.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/relcache.h"

#if PG_VERSION_NUM >= 160000
#include "varatt.h"				/* VARDATA_ANY and friends moved out of postgres.h in 16 */
#include "parser/parse_relation.h"
#endif

/* 18 declares noreturn functions with a prefix; 15 and 17 have only the attribute. */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

/* The backend's local transaction id: MyProc->lxid until 16, MyProc->vxid.lxid since 17. */
#if PG_VERSION_NUM >= 170000
#define CRMPOOL_MY_LXID (MyProc->vxid.lxid)
#else
#define CRMPOOL_MY_LXID (MyProc->lxid)
#endif

/* simple_table_tuple_update's report of which indexes the new row version needs (16: an enum). */
#if PG_VERSION_NUM >= 160000
typedef TU_UpdateIndexes CrmpoolUpdateIndexes;
#else
typedef bool CrmpoolUpdateIndexes;
#endif

/*
 * The columns any index of rel reads (keys, expressions, predicates), offset by
 * FirstLowInvalidHeapAttributeNumber; a copy.  16 split 15's one bitmap in two: the indexes
 * that block a HOT update and the summarizing ones (BRIN), which do not.
 */
static inline Bitmapset *
crmpool_indexed_attrs(Relation rel)
{
#if PG_VERSION_NUM >= 160000
	return bms_join(RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_HOT_BLOCKING),
					RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_SUMMARIZED));
#else
	return RelationGetIndexAttrBitmap(rel, INDEX_ATTR_BITMAP_ALL);
#endif
}

/* Whether the user may execute function fn. */
static inline bool
crmpool_may_execute(Oid fn, Oid user)
{
#if PG_VERSION_NUM >= 160000
	return object_aclcheck(ProcedureRelationId, fn, user, ACL_EXECUTE) == ACLCHECK_OK;
#else
	return pg_proc_aclcheck(fn, user, ACL_EXECUTE) == ACLCHECK_OK;
#endif
}

/* Whether the user owns relation relid. */
static inline bool
crmpool_owns_relation(Oid relid, Oid user)
{
#if PG_VERSION_NUM >= 160000
	return object_ownercheck(RelationRelationId, relid, user);
#else
	return pg_class_ownercheck(relid, user);
#endif
}

/*
 * An executor range table of the one relation rte names, as the logical replication apply
 * worker sets it up: 16 added permission infos, 18 the set of relations left after pruning.
 */
static inline void
crmpool_init_range_table(EState *estate, RangeTblEntry *rte)
{
#if PG_VERSION_NUM >= 160000
	List	   *perminfos = NIL;

	addRTEPermissionInfo(&perminfos, rte);
#if PG_VERSION_NUM >= 180000
	ExecInitRangeTable(estate, list_make1(rte), perminfos, bms_make_singleton(1));
#else
	ExecInitRangeTable(estate, list_make1(rte), perminfos);
#endif
#else
	ExecInitRangeTable(estate, list_make1(rte));
#endif
}

/* EvalPlanQual state for a plan-less executor state (result relations: none). */
static inline void
crmpool_epq_init(EPQState *epq, EState *estate)
{
#if PG_VERSION_NUM >= 160000
	EvalPlanQualInit(epq, estate, NULL, NIL, -1, NIL);
#else
	EvalPlanQualInit(epq, estate, NULL, NIL, -1);
#endif
}

/* Index entries of a newly inserted row (16 added "only summarizing indexes"). */
static inline List *
crmpool_insert_index_tuples(ResultRelInfo *rri, TupleTableSlot *slot, EState *estate)
{
#if PG_VERSION_NUM >= 160000
	return ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL, false);
#else
	return ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);
#endif
}

/* DecodeDateTime, whose error details (16) crmpool does not use: a bad value is refused whole. */
static inline int
crmpool_decode_datetime(char **field, int *ftype, int nf, int *dtype, struct pg_tm *tm,
						fsec_t *fsec, int *tzp)
{
#if PG_VERSION_NUM >= 160000
	DateTimeErrorExtra extra;

	return DecodeDateTime(field, ftype, nf, dtype, tm, fsec, tzp, &extra);
#else
	return DecodeDateTime(field, ftype, nf, dtype, tm, fsec, tzp);
#endif
}

/* An index scan without instrumentation (18 added its collector). */
static inline IndexScanDesc
crmpool_index_beginscan(Relation heap, Relation index, Snapshot snapshot, int nkeys)
{
#if PG_VERSION_NUM >= 180000
	return index_beginscan(heap, index, snapshot, NULL, nkeys, 0);
#else
	return index_beginscan(heap, index, snapshot, nkeys, 0);
#endif
}

/*
 * The primary key index of rel, never a deferrable one: 15 and 17 leave a deferrable key out of
 * the relcache's primary key (InvalidOid), 18 returns it only when asked (deferrable_ok), and
 * crmpool does not ask.  Until commit two rows may hold the same key under a deferrable one,
 * and crmpool's bookkeeping is keyed by it (test/sql/deferrable_key.sql).
 */
static inline Oid
crmpool_primary_key_index(Relation rel)
{
#if PG_VERSION_NUM >= 180000
	return RelationGetPrimaryKeyIndex(rel, false);
#else
	return RelationGetPrimaryKeyIndex(rel);
#endif
}

/*
 * Memory for a setting's "extra", which PostgreSQL frees itself: with free() until 15, with
 * guc_free() in its own memory context since 16, which refuses (ERROR at commit) anything
 * malloc'd.  NULL when out of memory, as a check hook must not throw.
 */
#if PG_VERSION_NUM >= 160000
#define crmpool_guc_malloc(size) guc_malloc(LOG, (size))
#else
#define crmpool_guc_malloc(size) malloc(size)
#endif

/* A set-returning function's result in materialize mode (renamed in 16). */
#if PG_VERSION_NUM >= 160000
#define crmpool_materialized_srf(fcinfo) InitMaterializedSRF((fcinfo), 0)
/* a function returning SETOF a scalar type: the descriptor the caller expects */
#define crmpool_materialized_srf_scalar(fcinfo) InitMaterializedSRF((fcinfo), MAT_SRF_USE_EXPECTED_DESC)
#else
#define crmpool_materialized_srf(fcinfo) SetSingleFuncCall((fcinfo), 0)
#define crmpool_materialized_srf_scalar(fcinfo) SetSingleFuncCall((fcinfo), SRF_SINGLE_USE_EXPECTED)
#endif

#endif							/* CRMPOOL_PG_COMPAT_H */
