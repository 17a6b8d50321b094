/*
 * name_similarity.c: character bigrams of a company's distinctive core, and the similarity of
 * two company names; the SQL functions crmpool.name_similarity and crmpool.name_bigrams.
 *
 * Bigrams, not trigrams: a Chinese trade name is two to four characters, and 澈鸣 has one bigram
 * but no trigram.  A one-character core gets one unigram token instead, so it still has a key.
 *
 * The score is the Dice coefficient of the two cores' bigram sets, then the rules of the
 * language.  The score's scale is what the threshold (crmpool.name_threshold, 0.8) is set on:
 *
 *   1.0     same core, everything else agrees
 *   0.90-   same core, a region or an industry given on one side only (x 0.95 each): a name
 *           without its region is the same company as one with it
 *   0.90-   cores that sound the same (x 0.9): two Chinese cores of at least two characters, read
 *           alike character by character, one character written differently (an input
 *           method's slip: 鸣缔 / 鸣蒂); or a core in Latin letters that spells the toneless
 *           pinyin of a Chinese core of at least two characters (Haoyuan / 濠远).  Their match
 *           keys (company_name.c) are equal, which is how the candidates are found
 *   0.75-   cores differ otherwise (x 0.75): 南京澈鸣 and 南京澈明 (another sound) are different
 *           companies, however long the name; near misses stay visible below the threshold
 *   x 0.5   for each conflict: two different regions, two different industries (科技 vs
 *           生物科技 as well: a different registered name), a branch against its head office or
 *           two different branches, legal forms of different jurisdictions (B.V. vs Co., Ltd.)
 *
 * Industries that differ do not conflict (x 0.95, as one-sided) in two cases: a short form (no
 * legal form, or the bare 公司) whose industry is part of the other's (环保 in 环保科技, 咨询 in
 * 企业管理咨询), unless it is only a generic word (科技, 技术, 服务, 管理, 工程, 实业: those
 * are in every sector); and a pinyin or English name against the Chinese one (the two
 * industries are in two languages and not compared).
 *
 * A name without a core (only punctuation, legal form, region, industry) scores 0 against
 * everything, itself included.
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "norm/hanzi.h"
#include "norm/normalize.h"
#include "norm/utf8_fold.h"

PG_FUNCTION_INFO_V1(crmpool_name_similarity);
PG_FUNCTION_INFO_V1(crmpool_name_bigrams);

#define CORE_MISMATCH	0.75
#define SOUND_ALIKE		0.9
#define SOUND_MIN_CHARS	2
#define ONE_SIDED		0.95
#define CONFLICT		0.5

/*
 * The hash of a pair of code points (b = 0xFFFFFFFF: a unigram).  Our own function, fixed
 * forever: the values are stored in GIN indexes, so changing it requires a REINDEX.
 */
static uint32
pair_hash(uint32 a, uint32 b)
{
	uint32		h = a * 0x9E3779B1u;

	h ^= b + 0x7F4A7C15u + (h << 6) + (h >> 2);
	/* murmur3's finaliser, for well-spread bits */
	h ^= h >> 16;
	h *= 0x85EBCA6Bu;
	h ^= h >> 13;
	h *= 0xC2B2AE35u;
	h ^= h >> 16;
	return h;
}

static int
int32_cmp(const void *a, const void *b)
{
	int32		x = *(const int32 *) a;
	int32		y = *(const int32 *) b;

	return (x > y) - (x < y);
}

int
crmpool_company_bigrams(const CompanyName *c, int32 **hashes)
{
	const unsigned char *p = (const unsigned char *) c->core;
	const unsigned char *end = p + strlen(c->core);
	int32	   *h;
	int			n = 0,
				i,
				k;
	pg_wchar	prev = 0;

	*hashes = NULL;
	if (c->ncore == 0)
		return 0;
	h = palloc(sizeof(int32) * c->ncore);
	if (c->ncore == 1)
	{
		uf_decode(p, end - p, &prev);
		h[n++] = (int32) pair_hash(prev, 0xFFFFFFFFu);
	}
	else
	{
		for (i = 0; p < end; i++)
		{
			pg_wchar	cur;

			p += uf_decode(p, end - p, &cur);
			if (i > 0)
				h[n++] = (int32) pair_hash(prev, cur);
			prev = cur;
		}
	}
	qsort(h, n, sizeof(int32), int32_cmp);
	for (i = 1, k = (n > 0); i < n; i++)
		if (h[i] != h[k - 1])
			h[k++] = h[i];
	*hashes = h;
	return k;
}

/* Is every region of a also one of b? */
static bool
regions_within(const CompanyName *a, const CompanyName *b)
{
	int			i,
				j;

	for (i = 0; i < a->nregions; i++)
	{
		for (j = 0; j < b->nregions; j++)
			if (strcmp(a->regions[i], b->regions[j]) == 0)
				break;
		if (j == b->nregions)
			return false;
	}
	return true;
}

/*
 * Regions: none on either side, or the same ones, agree; one side's within the other's
 * (广东省深圳市 and 深圳, or no region at all) is one-sided; anything else is a conflict.
 */
static double
region_factor(const CompanyName *a, const CompanyName *b)
{
	bool		ab = regions_within(a, b);
	bool		ba = regions_within(b, a);

	if (ab && ba)
		return 1.0;
	return (ab || ba) ? ONE_SIDED : CONFLICT;
}

/* A name as a rep types it: no legal form, or only the bare 公司. */
static bool
is_short_form(const CompanyName *c)
{
	return c->legal_form[0] == '\0' || strcmp(c->legal_form, "公司") == 0;
}

/* Industry words of every sector: a short form naming only one of them says no sector. */
static const char *const generic_industries[] = {
	"engineering", "management", "services", "technology",
	"实业", "工程", "技术", "服务", "科技", "管理"
};

/* Is the short form s's industry part of c's? */
static bool
industry_within(const CompanyName *s, const CompanyName *c)
{
	int			i;

	if (!is_short_form(s))
		return false;
	for (i = 0; i < lengthof(generic_industries); i++)
		if (strcmp(s->industry, generic_industries[i]) == 0)
			return false;
	return strstr(c->industry, s->industry) != NULL;
}

/* cross_script: the cores matched as a Latin spelling of a Chinese one (sound_factor). */
static double
industry_factor(const CompanyName *a, const CompanyName *b, bool cross_script)
{
	if (strcmp(a->industry, b->industry) == 0)
		return 1.0;
	if (a->industry[0] == '\0' || b->industry[0] == '\0')
		return ONE_SIDED;
	if (cross_script && (IS_HIGHBIT_SET(a->industry[0]) != IS_HIGHBIT_SET(b->industry[0])))
		return ONE_SIDED;
	if (industry_within(a, b) || industry_within(b, a))
		return ONE_SIDED;
	return CONFLICT;
}

/* Is every character of s an ASCII letter? */
static bool
latin_letters(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return false;
	return true;
}

/* Has every character of s (ncore of them) a pinyin reading? */
static bool
all_read(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + strlen(s);

	while (p < end)
	{
		pg_wchar	c;

		p += uf_decode(p, end - p, &c);
		if (hz_pinyin(c) == NULL)
			return false;
	}
	return true;
}

/*
 * Two different cores with the same match key: do they sound the same (SOUND_ALIKE), or not
 * (0)?  Sets *cross_script for a Latin core against a Chinese one.
 */
static double
sound_factor(const CompanyName *a, const CompanyName *b, bool *cross_script)
{
	bool		la = latin_letters(a->core),
				lb = latin_letters(b->core);
	const unsigned char *p,
			   *q,
			   *pe,
			   *qe;
	int			differ = 0;

	*cross_script = false;
	if (strcmp(a->key, b->key) != 0)
		return 0.0;
	if (la != lb)
	{
		const CompanyName *han = la ? b : a;

		*cross_script = true;
		return han->ncore >= SOUND_MIN_CHARS && all_read(han->core) ? SOUND_ALIKE : 0.0;
	}
	if (la || a->ncore != b->ncore || a->ncore < SOUND_MIN_CHARS)
		return 0.0;
	/* character by character: the same reading, one written differently */
	p = (const unsigned char *) a->core;
	pe = p + strlen(a->core);
	q = (const unsigned char *) b->core;
	qe = q + strlen(b->core);
	while (p < pe && q < qe)
	{
		pg_wchar	x,
					y;
		const char *px,
				   *py;

		p += uf_decode(p, pe - p, &x);
		q += uf_decode(q, qe - q, &y);
		if (x == y)
			continue;
		px = hz_pinyin(x);
		py = hz_pinyin(y);
		if (px == NULL || py == NULL || strcmp(px, py) != 0)
			return 0.0;
		differ++;
	}
	return differ == 1 ? SOUND_ALIKE : 0.0;
}

int
crmpool_bigrams_common(const int32 *a, int na, const int32 *b, int nb)
{
	int			i = 0,
				j = 0,
				common = 0;

	while (i < na && j < nb)
	{
		if (a[i] == b[j])
		{
			common++;
			i++;
			j++;
		}
		else if (a[i] < b[j])
			i++;
		else
			j++;
	}
	return common;
}

/*
 * Names with different cores score at most CORE_MISMATCH times the Dice coefficient
 * 2 common / (na + nb) of their bigram sets (every other factor is at most 1), so reaching
 * min_score takes common >= min_score (na + nb) / (2 CORE_MISMATCH).  The bound is kept a little
 * low (the score is rounded to float4 before it is compared), and at least 1: a score of 0
 * never counts.
 */
int
crmpool_company_min_common(int na, int nb, double min_score)
{
	double		need = (min_score - 1e-6) * (na + nb) / (2.0 * CORE_MISMATCH);

	return Max(1, (int) ceil(need));
}

float4
crmpool_company_similarity(const CompanyName *a, const CompanyName *b)
{
	double		score = 1.0;
	bool		cross_script = false;

	if (a->ncore == 0 || b->ncore == 0)
		return 0.0f;

	/* The same core has the same bigrams: Dice 1, without computing them. */
	if (strcmp(a->core, b->core) != 0 &&
		(score = sound_factor(a, b, &cross_script)) == 0.0)
	{
		int32	   *ha,
				   *hb;
		int			na = crmpool_company_bigrams(a, &ha);
		int			nb = crmpool_company_bigrams(b, &hb);

		score = 2.0 * crmpool_bigrams_common(ha, na, hb, nb) / (na + nb);
		pfree(ha);
		pfree(hb);
		if (score == 0.0)
			return 0.0f;
		score *= CORE_MISMATCH;
	}
	score *= region_factor(a, b);
	score *= industry_factor(a, b, cross_script);
	if (a->is_branch != b->is_branch ||
		(a->is_branch && strcmp(a->branch, b->branch) != 0))
		score *= CONFLICT;
	if (a->jurisdictions != 0 && b->jurisdictions != 0 &&
		(a->jurisdictions & b->jurisdictions) == 0)
		score *= CONFLICT;
	return (float4) score;
}

static void
parse_arg(FunctionCallInfo fcinfo, int argno, CompanyName *cn)
{
	text	   *t = PG_GETARG_TEXT_PP(argno);

	crmpool_company_parse(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), cn);
}

/* crmpool.name_similarity(a text, b text) returns real */
Datum
crmpool_name_similarity(PG_FUNCTION_ARGS)
{
	CompanyName a,
				b;

	parse_arg(fcinfo, 0, &a);
	parse_arg(fcinfo, 1, &b);
	PG_RETURN_FLOAT4(crmpool_company_similarity(&a, &b));
}

/* crmpool.name_bigrams(text) returns int4[] */
Datum
crmpool_name_bigrams(PG_FUNCTION_ARGS)
{
	CompanyName cn;
	int32	   *h;
	Datum	   *d;
	int			n,
				i;

	parse_arg(fcinfo, 0, &cn);
	n = crmpool_company_bigrams(&cn, &h);
	d = palloc(sizeof(Datum) * (n + 1));
	for (i = 0; i < n; i++)
		d[i] = Int32GetDatum(h[i]);
	PG_RETURN_ARRAYTYPE_P(construct_array(d, n, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}
