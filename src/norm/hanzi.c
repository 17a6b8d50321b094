/*
 * hanzi.c: traditional -> simplified and toneless pinyin, from the tables that
 * scripts/gen_hanzi.py generated out of Unihan (hanzi_table.h, committed: building crmpool
 * needs no Unihan).
 *
 * Why Unihan and not OpenCC: Unihan is Unicode's own, versioned database, packaged by Debian
 * (unicode-data) for every release we build on, and it has both what we need, per character:
 * kSimplifiedVariant and kMandarin.  OpenCC converts phrases (its strength: 乾隆 stays 乾) but has
 * no readings, and a company name's trade name is read character by character anyway.
 *
 * The tables cover the CJK Unified Ideographs (U+4E00..U+9FFF) and Extension A
 * (U+3400..U+4DBF): a reading per code point (an index into the syllables, about 55 kB), and the
 * traditional characters with their simplified form as a sorted array (binary search).
 */
#include "postgres.h"

#include "norm/hanzi.h"

#include "norm/hanzi_table.h"

pg_wchar
hz_simplify(pg_wchar c)
{
	int			lo = 0,
				hi = lengthof(hz_simplified) - 1;

	if (c < hz_simplified[0][0] || c > hz_simplified[hi][0])
		return c;
	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (hz_simplified[mid][0] == c)
			return hz_simplified[mid][1];
		if (hz_simplified[mid][0] < c)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return c;
}

const char *
hz_pinyin(pg_wchar c)
{
	uint16		i = 0;

	if (c >= 0x4E00 && c <= 0x9FFF)
		i = hz_reading_4E00[c - 0x4E00];
	else if (c >= 0x3400 && c <= 0x4DBF)
		i = hz_reading_3400[c - 0x3400];
	return i == 0 ? NULL : hz_syllables[i];
}

const char *
hz_unihan_version(void)
{
	return HZ_UNIHAN_VERSION;
}
