/*
 * nls.c: crmpool's gettext domain (po/; crmpool.h defines TEXTDOMAIN as its name).  A file of
 * its own: every file that reports an error calls it, so it calls nothing of crmpool's.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "miscadmin.h"

#include "base/base.h"

/*
 * crmpool's gettext domain, PG_TEXTDOMAIN("crmpool"): "crmpool-<major>" (TEXTDOMAIN, crmpool.h).
 * Translations come out in the database's encoding only once the domain's codeset is bound to
 * it, which pg_bindtextdomain() in _PG_init cannot do when the postmaster loads crmpool
 * (shared_preload_libraries): no database is known there, and under LC_CTYPE C gettext would
 * then turn every Chinese character into "?".  PostgreSQL binds only its own domain when a
 * backend connects; crmpool binds its own here, at its first message in a database.
 */
const char *
crmpool_textdomain(void)
{
#ifdef ENABLE_NLS
	static bool bound = false;

	if (!bound && OidIsValid(MyDatabaseId))
	{
		bound = true;
		(void) pg_bind_textdomain_codeset(PG_TEXTDOMAIN("crmpool"));
	}
#endif
	return PG_TEXTDOMAIN("crmpool");
}
