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

#include "common/int.h"
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

/*
 * A `timestamp without time zone` of a managed table (yudao's owner_time, a follow-up column)
 * as the moment it names in crmpool.timezone, and back.  Never in the session's TimeZone: a
 * rule change made from a session in Asia/Shanghai would otherwise move by 8 hours the due
 * times that a UTC session wrote.  A non-finite value stays what it is.
 */
TimestampTz
crmpool_from_local(Timestamp local)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;
	TimestampTz result;

	if (TIMESTAMP_NOT_FINITE(local))
		return local;
	if (timestamp2tm(local, NULL, &tm, &fsec, NULL, NULL) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	tz = DetermineTimeZoneOffset(&tm, day_zone());
	if (tm2timestamp(&tm, fsec, &tz, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return result;
}

Timestamp
crmpool_to_local(TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;
	Timestamp	result;

	if (TIMESTAMP_NOT_FINITE(ts))
		return ts;
	if (timestamp2tm(ts, &tz, &tm, &fsec, NULL, day_zone()) != 0 ||
		tm2timestamp(&tm, fsec, NULL, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return result;
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

/*
 * ts + iv, with months and days counted on the calendar of crmpool.timezone (as
 * timestamptz_pl_interval does in the session's TimeZone): "30 days" from a claim ends at the
 * same moment whichever session computes it, across a daylight-saving change too.
 */
TimestampTz
crmpool_add_interval(TimestampTz ts, const Interval *iv)
{
	struct pg_tm tm;
	fsec_t		fsec;
	int			tz;

#ifdef INTERVAL_NOT_FINITE
	if (INTERVAL_NOT_FINITE(iv))
		return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													   TimestampTzGetDatum(ts),
													   IntervalPGetDatum(iv)));
#endif
	if (TIMESTAMP_NOT_FINITE(ts))
		return ts;
	if (iv->month != 0 || iv->day != 0)
	{
		if (timestamp2tm(ts, &tz, &tm, &fsec, NULL, day_zone()) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range")));
		if (iv->month != 0)
		{
			int			months = tm.tm_year * MONTHS_PER_YEAR + (tm.tm_mon - 1) + iv->month;

			tm.tm_year = months / MONTHS_PER_YEAR;
			tm.tm_mon = months % MONTHS_PER_YEAR + 1;
			if (tm.tm_mday > day_tab[isleap(tm.tm_year)][tm.tm_mon - 1])
				tm.tm_mday = day_tab[isleap(tm.tm_year)][tm.tm_mon - 1];
		}
		if (iv->day != 0)
			j2date(date2j(tm.tm_year, tm.tm_mon, tm.tm_mday) + iv->day,
				   &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
		tz = DetermineTimeZoneOffset(&tm, day_zone());
		if (tm2timestamp(&tm, fsec, &tz, &ts) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
					 errmsg("timestamp out of range")));
	}
	if (pg_add_s64_overflow(ts, iv->time, &ts) || !IS_VALID_TIMESTAMP(ts))
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("timestamp out of range")));
	return ts;
}
