/*
 * hanzi.h: Chinese characters: traditional to simplified, and the toneless pinyin reading.
 *
 * From Unicode's Unihan database (kSimplifiedVariant, kMandarin), generated into hanzi_table.h
 * by scripts/gen_hanzi.py; the same answer in every locale.
 */
#ifndef HANZI_H
#define HANZI_H

#include "postgres.h"

#include "mb/pg_wchar.h"

/* The simplified form of a traditional character; any other code point unchanged. */
extern pg_wchar hz_simplify(pg_wchar c);

/* The usual reading of a CJK ideograph without its tone ("zhong"), or NULL if it has none. */
extern const char *hz_pinyin(pg_wchar c);

/* The Unihan version the tables were made from. */
extern const char *hz_unihan_version(void);

#endif							/* HANZI_H */
