/*
 * entry.h: the module's entry point (crmpool.c) and its background worker (worker.c).
 */
#ifndef CRMPOOL_ENTRY_H
#define CRMPOOL_ENTRY_H

#include "ops/ops.h"

/* worker.c */
extern void worker_register(void);

#endif							/* CRMPOOL_ENTRY_H */
