/*
 * company_name.c: parsing a company name into region, distinctive core, industry, legal form
 * and branch; the SQL functions crmpool.company_core and crmpool.company_parts.
 *
 * A Chinese registered name is 行政区划 + 字号 + 行业 + 组织形式 (北京 + 澈鸣 + 餐饮管理 + 有限公司),
 * and the region may instead follow the trade name in brackets (澈鸣(北京)餐饮管理有限公司).
 * A branch appends its own label and marker to the head office's name (...有限公司长沙分公司).
 * English names follow the same shape without the region: Castlemere + Media + LLC.  We take a
 * name apart in that order from both ends, and what is left in the middle is the distinctive
 * core, the part that names this company and no other.  Matching works on the core; the other
 * parts decide whether two names can be the same legal entity at all (name_similarity.c).
 *
 * The name is first cut into words (traditional characters folded to simplified ones, hanzi.c):
 * each CJK ideograph is a word, a run of letters and digits of
 * any other script is a word, and separators (spaces, punctuation, symbols, emoji) are dropped.
 * The words' text is kept contiguous without separators, so "Co., Ltd." is the run "co" "ltd"
 * with text "coltd", and every lexicon lookup is a binary search on the text of a run of words.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"

#include "norm/company_lexicon.h"
#include "norm/hanzi.h"
#include "norm/normalize.h"
#include "norm/utf8_fold.h"

PG_FUNCTION_INFO_V1(crmpool_company_core);
PG_FUNCTION_INFO_V1(crmpool_company_parts);
PG_FUNCTION_INFO_V1(crmpool_company_key);

typedef struct Word
{
	int			off;			/* byte offset of its text in Words.buf */
	int			len;			/* bytes */
	int			nchars;			/* characters */
	bool		han;			/* a CJK ideograph */
	int			bracket;		/* 0, or the id of the outermost bracket group it is in */
} Word;

typedef struct Words
{
	char	   *buf;			/* folded text of all words, without separators */
	Word	   *w;
	int			n;
} Words;

/* The length in bytes of the text of words [i, j), i < j. */
static inline int
run_len(const Words *ws, int i, int j)
{
	return ws->w[j - 1].off + ws->w[j - 1].len - ws->w[i].off;
}

/* The text of words [i, j), i < j. */
static inline const char *
run_text(const Words *ws, int i, int j, int *len)
{
	*len = run_len(ws, i, j);
	return ws->buf + ws->w[i].off;
}

static inline bool
word_is(const Words *ws, int i, const char *s)
{
	return ws->w[i].len == (int) strlen(s) && memcmp(ws->buf + ws->w[i].off, s, ws->w[i].len) == 0;
}

/* Append a word (or a character to the current one) to ws. */
static void
words_add(Words *ws, const char *text, int len, bool han, bool extend, int bracket)
{
	int			off = ws->n > 0 ? ws->w[ws->n - 1].off + ws->w[ws->n - 1].len : 0;

	memcpy(ws->buf + off, text, len);
	if (extend)
	{
		ws->w[ws->n - 1].len += len;
		ws->w[ws->n - 1].nchars++;
		return;
	}
	ws->w[ws->n].off = off;
	ws->w[ws->n].len = len;
	ws->w[ws->n].nchars = 1;
	ws->w[ws->n].han = han;
	ws->w[ws->n].bracket = bracket;
	ws->n++;
}

/* Keep only the words not marked in drop[], keeping the text contiguous. */
static void
words_compact(Words *ws, const bool *drop)
{
	int			i,
				k = 0,
				off = 0;

	for (i = 0; i < ws->n; i++)
	{
		Word		w = ws->w[i];

		if (drop[i])
			continue;
		memmove(ws->buf + off, ws->buf + w.off, w.len);
		w.off = off;
		off += w.len;
		ws->w[k++] = w;
	}
	ws->n = k;
}

/*
 * Cut s into folded words.  "and" is dropped wherever it stands and "the" at the start, so that
 * "Smith & Sons" and "The Smith and Sons" agree (& is punctuation).
 */
static void
words_cut(const char *s, int len, Words *ws)
{
	const unsigned char *p = (const unsigned char *) s;
	const unsigned char *end = p + len;
	bool		in_word = false;
	int			depth = 0;
	int			groups = 0;

	/* Folding never lengthens a character's encoding: len bytes always suffice. */
	ws->buf = palloc(len + 1);
	ws->w = palloc(sizeof(Word) * (len + 1));
	ws->n = 0;

	while (p < end)
	{
		pg_wchar	c;
		char		enc[8];
		int			n;

		p += uf_decode(p, end - p, &c);
		c = uf_fold(c);
		switch (uf_class(c))
		{
			case UF_SYMBOL:
				break;
			case UF_OPEN:
				if (depth++ == 0)
					groups++;
				in_word = false;
				break;
			case UF_CLOSE:
				if (depth > 0)
					depth--;
				in_word = false;
				break;
			case UF_SPACE:
			case UF_PUNCT:
				in_word = false;
				break;
			case UF_HAN:
				/* traditional characters fold to simplified before anything looks at them */
				n = uf_encode(hz_simplify(c), enc);
				words_add(ws, enc, n, true, false, depth > 0 ? groups : 0);
				in_word = false;
				break;
			case UF_WORD:
				n = uf_encode(c, enc);
				words_add(ws, enc, n, false, in_word, depth > 0 ? groups : 0);
				in_word = true;
				break;
		}
	}

	/* Drop "and" anywhere and a leading "the". */
	{
		bool	   *drop = palloc0(sizeof(bool) * (ws->n + 1));
		int			i;

		for (i = 0; i < ws->n; i++)
			drop[i] = !ws->w[i].han &&
				(word_is(ws, i, "and") || (i == 0 && word_is(ws, i, "the")));
		words_compact(ws, drop);
	}
}

typedef const LexEntry *(*LookupFn) (const char *s, int len);

/*
 * The longest run of words [i, hi) with lo <= i < hi whose text is in the lexicon: returns i and
 * the entry, or -1.  Runs longer than any key are not tried, so this costs O(key length) however
 * long the name.
 */
static int
match_suffix(const Words *ws, int lo, int hi, LookupFn lookup, const LexEntry **entry)
{
	int			i = hi;
	int			len;

	while (i > lo && run_len(ws, i - 1, hi) <= LEX_MAX_KEY_BYTES)
		i--;
	for (; i < hi; i++)
	{
		const char *t = run_text(ws, i, hi, &len);

		if ((*entry = lookup(t, len)) != NULL)
			return i;
	}
	return -1;
}

/* Suffixes of region names, longest first (...自治州 and the like are handled apart). */
static const char *const region_suffixes[] = {"特别行政区", "地区", "新区", "省", "市", "盟", "区", "县"};

/* Does words [i, ...) start with s?  Returns the number of words, or 0. */
static int
words_start_with(const Words *ws, int i, int hi, const char *s)
{
	int			slen = strlen(s);
	int			j;

	for (j = i + 1; j <= hi; j++)
	{
		int			len;
		const char *t = run_text(ws, i, j, &len);

		if (len > slen)
			return 0;
		if (len == slen)
			return memcmp(t, s, len) == 0 ? j - i : 0;
	}
	return 0;
}

/*
 * The region suffix after a region name ending at word i, in words (0: none).  区, 县 and 新区
 * only follow a district or county-level city: after a city they would eat the trade name
 * (上海区块链 is not 上海区); 盟 only a league of Inner Mongolia.
 */
static int
region_suffix(const Words *ws, int i, int hi, const RegionEntry *re)
{
	int			k,
				n;

	/* 自治区, 壮族自治区, 维吾尔自治区, 朝鲜族自治州, 哈萨克自治州: up to six characters. */
	for (k = i; k < hi && k <= i + 6; k++)
	{
		if (k > i && !ws->w[k - 1].han)
			break;
		if ((n = words_start_with(ws, k, hi, "自治区")) > 0 ||
			(n = words_start_with(ws, k, hi, "自治州")) > 0 ||
			(n = words_start_with(ws, k, hi, "自治县")) > 0)
			return k + n - i;
	}
	for (k = 0; k < lengthof(region_suffixes); k++)
	{
		const char *suf = region_suffixes[k];

		if ((strcmp(suf, "区") == 0 || strcmp(suf, "县") == 0 || strcmp(suf, "新区") == 0) &&
			!(re->flags & REGION_LOCAL))
			continue;
		/* leagues (兴安盟) are Inner Mongolia's: 杭州盟奇 is 杭州 + 盟奇 */
		if (strcmp(suf, "盟") == 0 && strcmp(re->province, "内蒙古") != 0)
			continue;
		if ((n = words_start_with(ws, i, hi, suf)) > 0)
			return n;
	}
	return 0;
}

/*
 * The longest region name starting at word i (with its suffix): returns the index after it and
 * sets *re and *suffixed, or returns -1.
 */
static int
match_region(const Words *ws, int i, int hi, const RegionEntry **re, bool *suffixed)
{
	int			j = i;
	int			len;

	while (j < hi && run_len(ws, i, j + 1) <= LEX_MAX_KEY_BYTES)
		j++;
	for (; j > i; j--)
	{
		const char *t = run_text(ws, i, j, &len);
		int			n;

		if ((*re = lex_region(t, len)) == NULL)
			continue;
		n = region_suffix(ws, j, hi, *re);
		*suffixed = n > 0;
		return j + n;
	}
	return -1;
}

static void
add_region(CompanyName *out, const char *name)
{
	int			i;

	for (i = 0; i < out->nregions; i++)
		if (strcmp(out->regions[i], name) == 0)
			return;
	if (out->nregions < COMPANY_MAX_REGIONS)
		out->regions[out->nregions++] = name;
}

/*
 * Are words [i, j) nothing but region names (in brackets: "(北京)", "(广东深圳)", "(中国)")?
 * If so and out is given, record them.  In brackets a name needs no suffix: it is a region.
 */
static bool
all_regions(const Words *ws, int i, int j, CompanyName *out)
{
	const RegionEntry *found[COMPANY_MAX_REGIONS];
	int			n = 0;
	int			k;

	while (i < j)
	{
		const RegionEntry *re;
		bool		suffixed;
		int			next = match_region(ws, i, j, &re, &suffixed);

		if (next < 0 || n == COMPANY_MAX_REGIONS)
			return false;
		found[n++] = re;
		i = next;
	}
	if (n == 0)
		return false;
	if (out)
		for (k = 0; k < n; k++)
			add_region(out, found[k]->name);
	return true;
}

/*
 * Region prefixes of words [*lo, hi): 广东省深圳市..., 北京海淀..., 北京市朝阳区....  After the
 * first, a further prefix must lie in the same province (or follow 中国), so 上海大同... keeps
 * 大同 (a trade name here, a city in Shanxi).  After a name written with its suffix, a district
 * of two to four characters ending in 区, 县 or 旗 is a region too, listed or not.
 */
static void
strip_region_prefix(const Words *ws, int *lo, int hi, CompanyName *out)
{
	const RegionEntry *prev = NULL;
	bool		prev_suffixed = false;

	while (*lo < hi && out->nregions < COMPANY_MAX_REGIONS)
	{
		const RegionEntry *re;
		bool		suffixed;
		int			next = match_region(ws, *lo, hi, &re, &suffixed);

		if (next >= 0 &&
			!((re->flags & REGION_NEEDS_SUFFIX) && !suffixed) &&
			!(prev == NULL && (re->flags & REGION_NOT_FIRST)) &&
			(prev == NULL || (prev->flags & REGION_COUNTRY) ||
			 (strcmp(re->province, prev->province) == 0 && re != prev)))
		{
			add_region(out, re->name);
			*lo = next;
			prev = re;
			prev_suffixed = suffixed;
			continue;
		}
		if (prev != NULL && prev_suffixed)
		{
			int			k;

			for (k = *lo + 2; k <= *lo + 4 && k < hi - 1; k++)
			{
				if (!ws->w[k].han)
					break;
				if (word_is(ws, k, "区") || word_is(ws, k, "县") || word_is(ws, k, "旗"))
				{
					int			len;
					const char *t = run_text(ws, *lo, k, &len);

					add_region(out, pnstrdup(t, len));
					*lo = k + 1;
					break;
				}
			}
		}
		break;
	}
}

/* The canonical text of a branch label: its regions if it is nothing else, else its text. */
static char *
branch_label(const Words *ws, int i, int j)
{
	CompanyName tmp;
	StringInfoData buf;
	int			k,
				len;
	const char *t;

	if (i >= j)
		return "";
	tmp.nregions = 0;
	if (all_regions(ws, i, j, &tmp))
	{
		initStringInfo(&buf);
		for (k = 0; k < tmp.nregions; k++)
			appendStringInfoString(&buf, tmp.regions[k]);
		return buf.data;
	}
	t = run_text(ws, i, j, &len);
	return pnstrdup(t, len);
}

/*
 * Branch: the name ends with 分公司, 办事处, branch, ...  The label is what stands between the
 * head office's legal form and the marker (...有限公司 长沙 分公司); without a legal form, a region
 * just before the marker (...科技 长沙 分公司).  A label is a few words (长沙, 朝阳路, Shanghai):
 * a legal form further back is part of the trade name.  Returns the end of the head office's name.
 */
static int
strip_branch(const Words *ws, int lo, int hi, CompanyName *out)
{
	const LexEntry *entry;
	int			m = match_suffix(ws, lo, hi, lex_branch_marker, &entry);
	int			p;

	if (m < 0)
		return hi;
	out->is_branch = true;
	for (p = m; p > Max(lo, m - 8); p--)
	{
		if (match_suffix(ws, lo, p, lex_legal_form, &entry) >= 0)
		{
			out->branch = branch_label(ws, p, m);
			return p;
		}
	}
	for (p = Max(lo + 1, m - 8); p < m; p++)
	{
		if (all_regions(ws, p, m, NULL))
		{
			out->branch = branch_label(ws, p, m);
			return p;
		}
	}
	return m;
}

/*
 * The match key of a core: each CJK ideograph replaced by its toneless pinyin (hanzi.c), every
 * other character kept.  濠远 and "Haoyuan", 鸣缔 and 鸣蒂 have the key "haoyuan", "mingdi".
 */
static char *
core_key(const char *core)
{
	const unsigned char *p = (const unsigned char *) core;
	const unsigned char *end = p + strlen(core);
	StringInfoData buf;

	initStringInfo(&buf);
	while (p < end)
	{
		pg_wchar	c;
		int			n = uf_decode(p, end - p, &c);
		const char *py = hz_pinyin(c);

		if (py != NULL)
			appendStringInfoString(&buf, py);
		else
			appendBinaryStringInfo(&buf, (const char *) p, n);
		p += n;
	}
	return buf.data;
}

void
crmpool_company_parse(const char *s, int len, CompanyName *out)
{
	Words		ws;
	const char *u;
	int			ulen;
	bool	   *drop;
	int			lo,
				hi,
				i,
				rounds;
	const LexEntry *entry;
	const LexEntry *ind[8];
	int			nind;
	StringInfoData industry;

	memset(out, 0, sizeof(*out));
	out->core = out->key = out->industry = out->branch = "";
	out->legal_form = "";
	if (len > COMPANY_MAX_BYTES)
	{
		out->too_long = true;
		return;
	}
	u = uf_to_utf8(s, len, &ulen);
	words_cut(u, ulen, &ws);

	/* Regions in brackets, wherever they stand: 澈鸣(北京)..., ...科技(北京)有限公司. */
	drop = palloc0(sizeof(bool) * (ws.n + 1));
	for (i = 0; i < ws.n;)
	{
		int			j = i + 1;

		if (ws.w[i].bracket == 0)
		{
			i++;
			continue;
		}
		while (j < ws.n && ws.w[j].bracket == ws.w[i].bracket)
			j++;
		if (all_regions(&ws, i, j, out))
			memset(drop + i, true, j - i);
		i = j;
	}
	words_compact(&ws, drop);

	lo = 0;
	hi = strip_branch(&ws, 0, ws.n, out);

	/*
	 * Legal forms, outermost first (...集团 有限公司).  The jurisdiction is that of the outermost
	 * form that says one: "Co." alone says nothing.
	 */
	for (rounds = 0; rounds < 4; rounds++)
	{
		if ((i = match_suffix(&ws, lo, hi, lex_legal_form, &entry)) < 0)
			break;
		if (rounds == 0)
			out->legal_form = entry->value;
		if (out->jurisdictions == 0)
			out->jurisdictions = entry->flags;
		hi = i;
	}

	/* Industry words, found from the end: 生物 科技, 教育 科技, 文化传媒, Oil Gas. */
	nind = 0;
	for (rounds = 0; rounds < lengthof(ind); rounds++)
	{
		if ((i = match_suffix(&ws, lo, hi, lex_industry, &entry)) < 0)
			break;
		hi = i;
		if (!(entry->flags & LEX_FILLER))
			ind[nind++] = entry;
	}
	initStringInfo(&industry);
	while (nind-- > 0)
	{
		/* English words are kept apart: "oil gas", not "oilgas". */
		if (industry.len > 0 && !(ind[nind]->value[0] & 0x80))
			appendStringInfoChar(&industry, ' ');
		appendStringInfoString(&industry, ind[nind]->value);
	}
	out->industry = industry.data;

	strip_region_prefix(&ws, &lo, hi, out);

	if (lo < hi)
	{
		const char *t = run_text(&ws, lo, hi, &ulen);

		out->core = pnstrdup(t, ulen);
		for (i = lo; i < hi; i++)
			out->ncore += ws.w[i].nchars;
		out->key = core_key(out->core);
	}
}

/* A jsonb value from a JSON text we built. */
static Datum
jsonb_from_text(const char *json)
{
	return DirectFunctionCall1(jsonb_in, CStringGetDatum(json));
}

static void
append_json_string(StringInfo buf, const char *key, const char *utf8)
{
	text	   *t = uf_utf8_to_text(utf8, strlen(utf8));

	if (buf->len > 1)
		appendStringInfoString(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
	escape_json(buf, text_to_cstring(t));
}

/* The core of the name argument (or its match key), or NULL if the name has none. */
static Datum
core_of_arg(FunctionCallInfo fcinfo, bool key)
{
	text	   *name = PG_GETARG_TEXT_PP(0);
	CompanyName cn;
	const char *s;

	crmpool_company_parse(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name), &cn);
	if (cn.ncore == 0)
		PG_RETURN_NULL();
	s = key ? cn.key : cn.core;
	PG_RETURN_TEXT_P(uf_utf8_to_text(s, strlen(s)));
}

/* crmpool.company_core(text): the distinctive core, or NULL if the name has none. */
Datum
crmpool_company_core(PG_FUNCTION_ARGS)
{
	return core_of_arg(fcinfo, false);
}

/* crmpool.company_key(text): the match key of the core (its pinyin), or NULL if it has no core. */
Datum
crmpool_company_key(PG_FUNCTION_ARGS)
{
	return core_of_arg(fcinfo, true);
}


/* crmpool.company_parts(text): every part, for debugging and for explaining a match. */
Datum
crmpool_company_parts(PG_FUNCTION_ARGS)
{
	text	   *name = PG_GETARG_TEXT_PP(0);
	CompanyName cn;
	StringInfoData buf;
	int			i;

	crmpool_company_parse(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name), &cn);

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	append_json_string(&buf, "core", cn.core);
	appendStringInfoString(&buf, ", \"region\": [");
	for (i = 0; i < cn.nregions; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		escape_json(&buf, text_to_cstring(uf_utf8_to_text(cn.regions[i], strlen(cn.regions[i]))));
	}
	appendStringInfoChar(&buf, ']');
	append_json_string(&buf, "industry", cn.industry);
	append_json_string(&buf, "legal_form", cn.legal_form);
	appendStringInfoString(&buf, ", \"jurisdiction\": [");
	for (i = 0; i < LEX_NUM_JURISDICTIONS; i++)
	{
		if (cn.jurisdictions & (1 << i))
		{
			if (buf.data[buf.len - 1] != '[')
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, lex_jurisdiction_name(i));
		}
	}
	appendStringInfoChar(&buf, ']');
	appendStringInfo(&buf, ", \"branch\": %s", cn.is_branch ? "true" : "false");
	if (cn.is_branch)
		append_json_string(&buf, "branch_label", cn.branch);
	if (cn.too_long)
		appendStringInfoString(&buf, ", \"too_long\": true");
	appendStringInfoChar(&buf, '}');

	PG_RETURN_DATUM(jsonb_from_text(buf.data));
}
