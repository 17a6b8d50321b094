/*
 * crmpool.c: module entry point.
 *
 * Everything crmpool enforces works without shared_preload_libraries: the library is loaded
 * by the first call to one of its functions or triggers, and recycling runs by CALL
 * crmpool.recycle() or a pg_cron job (crmpool.schedule()).  Preloading it makes the crmpool.*
 * settings known from server start (so postgresql.conf entries are checked at once) and starts
 * crmpool's own background worker (worker.c).
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "entry/entry.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	/* crmpool's messages are in its own domain (po/): <localedir>/LANG/LC_MESSAGES/crmpool-NN.mo */
	pg_bindtextdomain(TEXTDOMAIN);

	/* pg_upgrade loads libraries only to check them; define nothing there. */
	if (IsBinaryUpgrade)
		return;

	crmpool_define_gucs();
	distribute_init();

	/* After every setting is defined: unknown crmpool.* names are errors. */
	MarkGUCPrefixReserved("crmpool");

	/* last: the worker exists only when the postmaster loads crmpool */
	if (process_shared_preload_libraries_in_progress)
		worker_register();
}
