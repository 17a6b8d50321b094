/*
 * trigger.h: the ownership trigger, through which every ownership change passes; crmpool's
 * own operations announce theirs with an intent.
 */
#ifndef CRMPOOL_TRIGGER_H
#define CRMPOOL_TRIGGER_H

#include "track/track.h"

/* ownership.c */
typedef enum OwnershipOp
{
	OP_CLAIM,
	OP_RELEASE,
	OP_ASSIGN,
	OP_TRANSFER,
	OP_RECYCLE,					/* recycle.c: back to the pool by a recycle rule */
	OP_DIRECT					/* plain SQL: INSERT, UPDATE or DELETE */
} OwnershipOp;

typedef struct OwnershipIntent
{
	Oid			relid;
	int64		customer;
	OwnershipOp op;
	int64		rep;			/* claim/assign: the new owner; release: the owner */
	int64		from_rep;		/* transfer: the expected current owner */
	const char *reason;
	const char *how;			/* recorded instead of the operation's name (recycle: the rule) */
	const char *actor;			/* recorded instead of crmpool.actor / the current role */
	/* a batch (recycling): these customers, ascending, each with its own how; else customer */
	int			nbatch;
	const int64 *batch;
	char	  **batch_how;
	bool		fired;			/* set by the trigger when it handled this change */
	int			nfired;			/* how many of the batch it handled */
	struct OwnershipIntent *outer;
} OwnershipIntent;

extern void ownership_push_intent(OwnershipIntent *intent);
extern void ownership_pop_intent(OwnershipIntent *intent);
extern bool ownership_has_pending(Oid relid);
extern void ownership_require_settled(Oid relid, const char *function);

/*
 * Rule auto_distribute (ops/distribute.c sets both at load: the trigger layer cannot call the
 * ops layer).  At the end of an INSERT statement the trigger locks the cursor of each tenant and
 * pool it hands out in, in tenant and pool order, before the statement's rep counter rows (the
 * global lock order: customers, cursors, reps); then hands each customer out.
 */
typedef void (*AutoLockCursorHook) (ManagedRel *mr, CrmpoolTenant tenant, const char *pool);
typedef void (*AutoDistributeHook) (ManagedRel *mr, CrmpoolTenant tenant, const char *pool,
									int64 customer, int mode);
extern AutoLockCursorHook ownership_auto_lock_cursor_hook;
extern AutoDistributeHook ownership_auto_distribute_hook;

#endif							/* CRMPOOL_TRIGGER_H */
