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
extern uint64 ops_change_owner_batch(ManagedRel *mr, OwnershipIntent *in, bool has_owner,
									 int64 owner);
extern uint64 ops_change_owners_batch(ManagedRel *mr, OwnershipIntent *in, const int64 *owners);
extern void ops_claim(ManagedRel *mr, int64 customer, int64 rep);
extern ErrorData *ops_try_refusal(void (*fn) (void *arg), void *arg);

/* ops_claim's arguments, for ops_try_refusal(ops_claim_arg, &arg) */
typedef struct ClaimArg
{
	ManagedRel *mr;
	int64		customer;
	int64		rep;
} ClaimArg;
extern void ops_claim_arg(void *arg);
extern ManagedRel *ops_rel_arg(FunctionCallInfo fcinfo, LOCKMODE lockmode);
extern HeapTuple ops_lock_owned(ManagedRel *mr, int64 customer, int64 rep, AttrNumber att,
								const char *fname, TupleDesc *desc);

/* distribute.c */
extern void distribute_init(void);

/* recycle.c */
extern List *recycle_tables(Oid relid);
extern int64 recycle_table(Oid relid, int batch_size, void (*commit) (void), int64 *warned,
						  int64 *expired);
extern void recycle_report_failure(const char *name, ErrorData *edata);

#endif							/* CRMPOOL_OPS_H */
