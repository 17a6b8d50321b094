/*
 * clock.c: the one clock every crmpool rule reads.
 *
 * crmpool_now() is the real clock (clock_timestamp(), so that a claim that waited on a lock is
 * stamped when it happened) unless crmpool.fake_now is set, which tests and the demo use to move
 * time.  Calendar days (the daily claim limit) are taken in the session's TimeZone, which by
 * default is the database's.
 */
#include "postgres.h"

#include <stdlib.h>

#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "crmpool.h"

static bool fake_now_active = false;
static TimestampTz fake_now_value = 0;

/*
 * Check hook for crmpool.fake_now: parse without throwing (a check hook must not error), using
 * the same decoder as timestamptz input.  Only absolute times are accepted.
 */
bool
crmpool_check_fake_now(char **newval, void **extra, int source)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf;
	int			dtype;
	int			tz = 0;
	struct pg_tm tt;
	fsec_t		fsec;
	TimestampTz result;
	TimestampTz *parsed;
	int			dterr;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;

	dterr = ParseDateTime(*newval, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf);
	if (dterr == 0)
	{
#if PG_VERSION_NUM >= 160000
		DateTimeErrorExtra extra_err;

		dterr = DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz, &extra_err);
#else
		dterr = DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz);
#endif
	}
	if (dterr != 0 || dtype != DTK_DATE || tm2timestamp(&tt, fsec, &tz, &result) != 0)
	{
		GUC_check_errdetail("\"%s\" is not an absolute timestamp with time zone, such as \"2026-01-05 09:00+08\".",
							*newval);
		return false;
	}

	parsed = malloc(sizeof(TimestampTz));
	if (parsed == NULL)
		return false;
	*parsed = result;
	*extra = parsed;
	return true;
}

void
crmpool_assign_fake_now(const char *newval, void *extra)
{
	if (extra != NULL)
	{
		fake_now_active = true;
		fake_now_value = *(TimestampTz *) extra;
	}
	else
		fake_now_active = false;
}

TimestampTz
crmpool_now(void)
{
	if (fake_now_active)
		return fake_now_value;
	return GetCurrentTimestamp();
}

DateADT
crmpool_date(TimestampTz ts)
{
	return DatumGetDateADT(DirectFunctionCall1(timestamptz_date, TimestampTzGetDatum(ts)));
}

char *
crmpool_timestamp_text(TimestampTz ts)
{
	return DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(ts)));
}

char *
crmpool_interval_text(const Interval *iv)
{
	return DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(iv)));
}

TimestampTz
crmpool_add_interval(TimestampTz ts, const Interval *iv)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(ts),
												   IntervalPGetDatum(iv)));
}
