/*
 * guc.c: the crmpool.* settings.
 *
 * Contexts are chosen on purpose: what weakens enforcement or moves the clock is superuser-only
 * (PGC_SUSET); the actor label is a per-session knob (PGC_USERSET): the application's own,
 * unauthenticated statement of who acts, recorded beside the role, which is what privileges
 * are checked against.  Only recycling's label is kept from it.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "parser/scansup.h"
#include "utils/guc.h"

#include "crmpool.h"

int			crmpool_direct_writes = DIRECT_WRITES_ENFORCE;
char	   *crmpool_actor = NULL;
char	   *crmpool_fake_now = NULL;
char	   *crmpool_timezone = NULL;

static const struct config_enum_entry direct_writes_options[] = {
	{"enforce", DIRECT_WRITES_ENFORCE, false},
	{"reject", DIRECT_WRITES_REJECT, false},
	{"allow", DIRECT_WRITES_ALLOW, false},
	{NULL, 0, false}
};

static bool
check_fake_now(char **newval, void **extra, GucSource source)
{
	return crmpool_check_fake_now(newval, extra, (int) source);
}

/*
 * crmpool.actor is recorded in every event: keep it to CRMPOOL_ACTOR_MAX_CHARS, and keep
 * "crmpool" (any case, any surrounding blanks) for recycling's own events, so that no session
 * can make its release look like a recycle in the history.
 */
static bool
check_actor(char **newval, void **extra, GucSource source)
{
	const char *s;
	int			len;
	int			nchars;

	if (*newval == NULL)
		return true;
	s = *newval;
	len = strlen(s);
	while (len > 0 && scanner_isspace(s[len - 1]))
		len--;
	while (len > 0 && scanner_isspace(*s))
		s++, len--;
	if (len == strlen(CRMPOOL_RECYCLER_ACTOR) && pg_strncasecmp(s, CRMPOOL_RECYCLER_ACTOR, len) == 0)
	{
		GUC_check_errmsg("crmpool.actor cannot be \"%s\"", *newval);
		GUC_check_errdetail("\"%s\" is reserved for the events of crmpool's own recycling.",
							CRMPOOL_RECYCLER_ACTOR);
		GUC_check_errhint("Name the person or service acting, or leave crmpool.actor empty to record the current role.");
		return false;
	}
	nchars = pg_mbstrlen(*newval);
	if (nchars <= CRMPOOL_ACTOR_MAX_CHARS)
		return true;
	GUC_check_errdetail("It has %d characters; crmpool allows at most %d.", nchars,
						CRMPOOL_ACTOR_MAX_CHARS);
	return false;
}

static bool
check_timezone(char **newval, void **extra, GucSource source)
{
	return crmpool_check_timezone(newval, extra, (int) source);
}

void
crmpool_define_gucs(void)
{
	DefineCustomEnumVariable("crmpool.direct_writes",
							 "How crmpool treats ownership changes written by plain SQL.",
							 "enforce: checked by the rules of crmpool.assign and crmpool.release; "
							 "reject: refused, ownership changes only through crmpool functions; "
							 "allow: recorded in the history but not checked.",
							 &crmpool_direct_writes,
							 DIRECT_WRITES_ENFORCE,
							 direct_writes_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomStringVariable("crmpool.actor",
							   "Who is acting, as recorded in the ownership history.",
							   "Empty means the current database role.",
							   &crmpool_actor,
							   "",
							   PGC_USERSET,
							   0,
							   check_actor, NULL, NULL);

	DefineCustomStringVariable("crmpool.fake_now",
							   "A fixed time that every crmpool rule reads instead of the clock.",
							   "For tests and demonstrations; empty means the real clock.",
							   &crmpool_fake_now,
							   "",
							   PGC_SUSET,
							   0,
							   check_fake_now, crmpool_assign_fake_now, NULL);

	DefineCustomStringVariable("crmpool.timezone",
							   "The time zone of calendar days for daily claim limits.",
							   "Empty means the server's log_timezone.  Superuser-only, so that no "
							   "session can move its day (set it per database with ALTER DATABASE).",
							   &crmpool_timezone,
							   "",
							   PGC_SUSET,
							   0,
							   check_timezone, crmpool_assign_timezone, NULL);
}
