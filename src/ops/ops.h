/*
 * ops.h: claim, release, assign, transfer, lock (ops.c) and recycling (recycle.c).
 */
#ifndef CRMPOOL_OPS_H
#define CRMPOOL_OPS_H

#include "trigger/trigger.h"

/* ops.c */
extern void ops_change_owner(ManagedRel *mr, OwnershipIntent *in, bool has_owner, int64 owner);
extern void ops_release_batch(ManagedRel *mr, OwnershipIntent *in, const char **targets);
extern int	ops_int64_order(const void *a, const void *b);
extern int	ops_move_to_pool(ManagedRel *mr, const int64 *customers, int n, const char *pool,
							 const char *how, const char *actor, int64 *moved);
extern HeapTuple ops_lock_owned(ManagedRel *mr, int64 customer, int64 rep, AttrNumber att,
								const char *fname, TupleDesc *desc);

/* recycle.c */
extern List *recycle_tables(Oid relid);
extern int64 recycle_table(Oid relid, int batch_size, void (*commit) (void), int64 *warned,
						  int64 *expired);
extern void recycle_report_failure(const char *name, ErrorData *edata);

#endif							/* CRMPOOL_OPS_H */
