/*
 * clock.c: the one clock every crmpool rule reads.
 *
 * crmpool_now() is the real clock (clock_timestamp(), so that a claim that waited on a lock is
 * stamped when it happened) unless crmpool.fake_now is set, which tests and the demo use to move
 * time.  Calendar days (the daily claim limit) are taken in crmpool.timezone, a superuser
 * setting, and not in the session's TimeZone: any role may SET TimeZone, and a rep whose session
 * sat a day ahead would get a fresh daily count.  Unset, it is the server's log_timezone, which
 * only the server's configuration sets.
 */
#include "postgres.h"

#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/guc.h"
#include "pgtime.h"
#include "utils/timestamp.h"

#include "base/base.h"

static bool fake_now_active = false;
static TimestampTz fake_now_value = 0;
static pg_tz *day_timezone = NULL;		/* NULL: log_timezone */

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
		dterr = crmpool_decode_datetime(field, ftype, nf, &dtype, &tt, &fsec, &tz);
	}
	if (dterr != 0 || dtype != DTK_DATE || tm2timestamp(&tt, fsec, &tz, &result) != 0)
	{
		GUC_check_errdetail("\"%s\" is not an absolute timestamp with time zone, such as \"2026-01-05 09:00+08\".",
							*newval);
		return false;
	}

	parsed = crmpool_guc_malloc(sizeof(TimestampTz));
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

bool
crmpool_check_timezone(char **newval, void **extra, int source)
{
	pg_tz	   *tz;
	pg_tz	  **result;

	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	tz = pg_tzset(*newval);
	if (tz == NULL || !pg_tz_acceptable(tz))
	{
		GUC_check_errdetail("\"%s\" is not a time zone name PostgreSQL knows, such as \"Asia/Shanghai\".",
							*newval);
		return false;
	}
	result = crmpool_guc_malloc(sizeof(pg_tz *));
	if (result == NULL)
		return false;
	*result = tz;
	*extra = result;
	return true;
}

void
crmpool_assign_timezone(const char *newval, void *extra)
{
	day_timezone = extra ? *(pg_tz **) extra : NULL;
}

static pg_tz *
day_zone(void)
{
	return day_timezone ? day_timezone : log_timezone;
}

const char *
crmpool_day_timezone_name(void)
{
	return pg_get_timezone_name(day_zone());
}

/* The calendar day of ts in crmpool.timezone. */
DateADT
crmpool_date(TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tzoff;

	if (timestamp2tm(ts, &tzoff, &tm, &fsec, NULL, day_zone()) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) - POSTGRES_EPOCH_JDATE;
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
