/*
 * company_lexicon.h: the words of company names (legal forms, industries, branch markers,
 * regions), as static tables sorted by key for binary search.
 */
#ifndef COMPANY_LEXICON_H
#define COMPANY_LEXICON_H

#include "postgres.h"

/*
 * Jurisdiction families of legal forms.  Two legal forms are compatible when their masks
 * intersect; 0 means the form says nothing about a jurisdiction ("Co.", "Company").
 */
#define LEX_CN		0x0001
#define LEX_GB		0x0002
#define LEX_US		0x0004
#define LEX_AU		0x0008
#define LEX_SG		0x0010
#define LEX_IN		0x0020
#define LEX_MY		0x0040
#define LEX_DE		0x0080
#define LEX_NL		0x0100
#define LEX_FR		0x0200
#define LEX_IT		0x0400
#define LEX_ES		0x0800
#define LEX_JP		0x1000
#define LEX_NORDIC	0x2000
#define LEX_NUM_JURISDICTIONS 14
/*
 * "Ltd", "Co., Ltd.": the British limited company, also the English form of 有限公司 and of
 * Japanese company names.  Where a jurisdiction has its own mark (Pty Ltd, Pte Ltd, Pvt Ltd,
 * Sdn Bhd) that mark is its only family: "X Pty Ltd" and "X Ltd" are told apart.
 */
#define LEX_LTD		(LEX_CN | LEX_GB | LEX_JP)

/* Industry table: a filler ("发展", "国际", "group") is stripped but is no industry. */
#define LEX_FILLER	0x10000

typedef struct LexEntry
{
	const char *key;			/* folded words without separators: "有限公司", "coltd" */
	const char *value;			/* legal form: display form; industry: canonical form */
	uint32		flags;			/* legal form: jurisdiction mask; industry: LEX_FILLER */
} LexEntry;

/* Region kinds. */
#define REGION_PROVINCE		0x01	/* province, municipality, autonomous region, SAR */
#define REGION_CITY			0x02	/* prefecture-level division */
#define REGION_LOCAL		0x04	/* county-level city or district */
#define REGION_COUNTRY		0x08	/* 中国: contains every other region */
#define REGION_NOT_FIRST	0x10	/* only after its municipality: 北京海淀 (海淀 alone is a word) */
#define REGION_NEEDS_SUFFIX 0x20	/* a common word too (阿里, 安康): only as 阿里地区 or in brackets */

typedef struct RegionEntry
{
	const char *key;			/* base name without 省/市/自治区, or its pinyin */
	const char *name;			/* canonical name: 广东 */
	const char *province;		/* the province it lies in ("" for 中国) */
	uint16		flags;
} RegionEntry;

/* Longest key of any table, in bytes: callers need not try longer candidates. */
#define LEX_MAX_KEY_BYTES	32

extern const LexEntry *lex_legal_form(const char *s, int len);
extern const LexEntry *lex_industry(const char *s, int len);
extern const LexEntry *lex_branch_marker(const char *s, int len);
extern const RegionEntry *lex_region(const char *s, int len);
extern const char *lex_jurisdiction_name(int bit);

#endif							/* COMPANY_LEXICON_H */
