/*
 * normalize_phone.c: one canonical form per phone line; the SQL function crmpool.normalize_phone.
 *
 * The canonical form is E.164 with an RFC 3966 extension: "+8613800138000",
 * "+861088886666;ext=123".  "+86 138-0013-8000", "0086 13800138000", "(86)138 0013 8000" and
 * "13800138000" are one line; a landline keeps its area code and loses its trunk 0
 * ("010-8888 6666" is "+861088886666"); the extension is part of the identity: a switchboard
 * and one of its extensions are different lines.  A number written without its area code
 * ("8888 6666") cannot be placed and is given as its bare digits, which equal only the same
 * bare number.
 *
 * Only the first number of the text counts: "010-8888 6666 / 138 0013 8000" or "Tel: ..., Fax:
 * ..." give the first.  Text around the number (labels, notes) is ignored; text with no number
 * in it gives NULL.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "norm/normalize.h"
#include "norm/utf8_fold.h"

PG_FUNCTION_INFO_V1(crmpool_normalize_phone);

/* E.164 allows 15 digits; a little slack lets "(0)" and an unmarked extension be found first. */
#define PHONE_MAX_DIGITS	24
#define PHONE_MAX_GROUPS	12
#define EXT_MAX_DIGITS		8

typedef struct PhoneScan
{
	bool		plus;			/* "+" before the first digit */
	char		d[PHONE_MAX_DIGITS + 1];
	int			nd;
	/* digit groups as written, for "(0)", "86-..." and "...-ext" */
	int			gstart[PHONE_MAX_GROUPS];
	int			glen[PHONE_MAX_GROUPS];
	bool		gparen[PHONE_MAX_GROUPS];
	int			ng;
	char		ext[EXT_MAX_DIGITS + 1];
	int			next;
	bool		overflow;
} PhoneScan;

/* Markers that introduce an extension, folded; longest first where one is a prefix of another. */
static const char *const ext_markers[] = {
	";ext=", "extension", "extn", "ext", "x", "#", "转", "分机号", "分机", "内线"
};

/*
 * Does the text at p start with marker m (compared after folding)?  Returns the bytes it takes,
 * or 0.  A Latin marker must not continue a word: "fax" holds no "x".
 */
static int
match_marker(const unsigned char *p, const unsigned char *end, const char *m, pg_wchar before)
{
	const unsigned char *q = p;
	const unsigned char *mp = (const unsigned char *) m;
	const unsigned char *mend = mp + strlen(m);

	if (m[0] >= 'a' && m[0] <= 'z' && before < 0x80 && uf_class(before) == UF_WORD &&
		!(before >= '0' && before <= '9'))
		return 0;
	while (mp < mend)
	{
		pg_wchar	c,
					mc;

		if (q >= end)
			return 0;
		q += uf_decode(q, end - q, &c);
		mp += uf_decode(mp, mend - mp, &mc);
		if (uf_fold(c) != mc)
			return 0;
	}
	return q - p;
}

/* A character that may stand between the digits of one number. */
static bool
in_number_separator(pg_wchar c)
{
	return c == '-' || c == '.' || c == '(' || c == ')' || uf_class(c) == UF_SPACE ||
		(c >= 0x2010 && c <= 0x2015) || c == 0x2212 || c == 0x30FC || c == 0xB7;
}

static void
scan_phone(const unsigned char *p, const unsigned char *end, PhoneScan *ps)
{
	enum
	{
		PRE, MAIN, EXT_WAIT, EXT
	}			state = PRE;
	int			paren = 0;
	bool		in_group = false;
	pg_wchar	before = ' ';

	while (p < end)
	{
		pg_wchar	c;
		int			n = uf_decode(p, end - p, &c);
		bool		digit;

		c = uf_fold(c);
		digit = (c >= '0' && c <= '9');

		if (state == PRE || state == MAIN)
		{
			if (digit)
			{
				if (ps->nd == PHONE_MAX_DIGITS)
				{
					ps->overflow = true;
					return;
				}
				if (!in_group)
				{
					if (ps->ng == PHONE_MAX_GROUPS)
					{
						ps->overflow = true;
						return;
					}
					ps->gstart[ps->ng] = ps->nd;
					ps->glen[ps->ng] = 0;
					ps->gparen[ps->ng] = paren > 0;
					ps->ng++;
					in_group = true;
				}
				ps->d[ps->nd++] = (char) c;
				ps->glen[ps->ng - 1]++;
				state = MAIN;
			}
			else if (state == PRE)
			{
				/*
				 * Labels ("Tel:", "手机") and brackets before the number.  A "+" counts only
				 * right before it and not after a letter: "C++ 138..." has no international
				 * prefix, "电话+1 212..." has.
				 */
				if (c == '+')
					ps->plus = !(before == '+' || uf_class(before) == UF_WORD);
				else if (c == '(')
					paren++;
				else if (c == ')' && paren > 0)
					paren--;
				else if (uf_class(c) != UF_SPACE)
					ps->plus = false;
			}
			else
			{
				int			k,
							m = 0;

				in_group = false;
				for (k = 0; k < lengthof(ext_markers) && m == 0; k++)
					m = match_marker(p, end, ext_markers[k], before);
				if (m > 0)
				{
					state = EXT_WAIT;
					p += m;
					before = ' ';
					continue;
				}
				if (!in_number_separator(c))
					return;		/* text after the number, or the next number */
				if (c == '(')
					paren++;
				else if (c == ')' && paren > 0)
					paren--;
			}
		}
		else if (state == EXT_WAIT && !digit)
		{
			int			k,
						m = 0;

			/* a second marker: "转分机 163", "转 内线 12", "ext. #12" */
			for (k = 0; k < lengthof(ext_markers) && m == 0; k++)
				m = match_marker(p, end, ext_markers[k], before);
			if (m > 0)
			{
				p += m;
				before = ' ';
				continue;
			}
			if (!(c == '.' || c == ':' || c == '=' || c == '-' ||
				  uf_class(c) == UF_SPACE))
				return;
		}
		else if (digit)
		{
			if (ps->next == EXT_MAX_DIGITS)
			{
				ps->overflow = true;
				return;
			}
			ps->ext[ps->next++] = (char) c;
			state = EXT;
		}
		else
			return;				/* after the extension's digits */
		before = c;
		p += n;
	}
}

/* The length of the country calling code that d starts with (ITU-T E.164 assignments). */
static int
country_code_length(const char *d)
{
	static const char *const two[] = {
		"20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45",
		"46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61",
		"62", "63", "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94",
		"95", "98"
	};
	int			i;

	if (d[0] == '1' || d[0] == '7')
		return 1;
	for (i = 0; i < lengthof(two); i++)
		if (d[0] == two[i][0] && d[1] == two[i][1])
			return 2;
	return 3;
}

/* Countries whose national numbers keep their leading 0 after the country code. */
static bool
keeps_leading_zero(const char *cc)
{
	return strcmp(cc, "39") == 0 || strcmp(cc, "378") == 0 || strcmp(cc, "379") == 0 ||
		strcmp(cc, "225") == 0 || strcmp(cc, "242") == 0;
}

/*
 * A Chinese national significant number: a mobile (11 digits, 1...), or area code and local
 * number (10 or 11 digits, 2-9..., or 10 + 8 digits for Beijing).
 */
static bool
cn_valid(const char *nsn, int n)
{
	if (n == 11 && nsn[0] == '1')
		return true;
	return (n == 10 || n == 11) && nsn[0] != '0' && (nsn[0] != '1' || nsn[1] == '0');
}

typedef struct PhoneNumber
{
	const char *cc;				/* NULL: a bare local number */
	char		nsn[PHONE_MAX_DIGITS + 1];
} PhoneNumber;

static void
set_nsn(PhoneNumber *pn, const char *cc, const char *d, int n)
{
	pn->cc = cc;
	memcpy(pn->nsn, d, n);
	pn->nsn[n] = '\0';
}

/*
 * Hong Kong and Macau (852, 853: 8-digit numbers) and Taiwan (886: 8 or 9 digits after an
 * optional trunk 0) written with their calling code but without "+" or "00": "852-2878 1234",
 * "(852) 3430-1234", "886-2-4904 1234".  Only where a mainland reading is ruled out: the code is
 * written as a group of its own (a mainland area code written apart is written with its trunk
 * 0, "(0852)", "0886-"), or the digits are too many for a mainland number.
 */
static bool
cn_neighbour(const PhoneScan *ps, const char *d, int n, PhoneNumber *pn)
{
	static const char *const codes[] = {"852", "853", "886"};
	int			i;

	if (n < 11 || (ps->glen[0] != 3 && cn_valid(d, n)))
		return false;
	for (i = 0; i < lengthof(codes); i++)
	{
		const char *r = d + 3;
		int			rn = n - 3;
		bool		taiwan = (i == 2);

		if (strncmp(d, codes[i], 3) != 0)
			continue;
		if (taiwan && r[0] == '0')
		{
			r++;
			rn--;
		}
		if (r[0] < '2' || r[0] > '9' || !(rn == 8 || (taiwan && rn == 9)))
			return false;
		set_nsn(pn, codes[i], r, rn);
		return true;
	}
	return false;
}

/* Digits d[0..n) written without an international prefix, default country 86. */
static bool
cn_national(const PhoneScan *ps, const char *d, int n, PhoneNumber *pn)
{
	if (cn_neighbour(ps, d, n, pn))
		return true;
	/* 86-..., (86)..., 8613800138000: the country code without + or 00. */
	if (n >= 12 && d[0] == '8' && d[1] == '6')
	{
		const char *r = d + 2;
		int			rn = n - 2;

		if (r[0] == '0')
		{
			r++;
			rn--;
		}
		if (cn_valid(r, rn))
		{
			set_nsn(pn, "86", r, rn);
			return true;
		}
	}
	if (d[0] == '0')
	{
		/* trunk 0 + area code + local number */
		if (n - 1 < 9 || n - 1 > 11)
			return false;
		set_nsn(pn, "86", d + 1, n - 1);
		return true;
	}
	if (cn_valid(d, n))
	{
		set_nsn(pn, "86", d, n);
		return true;
	}
	if (n >= 7 && n <= 8)
	{
		set_nsn(pn, NULL, d, n);
		return true;
	}
	return false;
}

/* Digits written without an international prefix, any other default country. */
static bool
other_national(const PhoneScan *ps, const char *cc, const char *d, int n, PhoneNumber *pn)
{
	int			cclen = strlen(cc);

	/* The country code written without + or 00, as its own group: "44 20 7946 0958". */
	if (ps->ng > 1 && ps->glen[0] == cclen && n - cclen >= 8 && strncmp(d, cc, cclen) == 0)
	{
		d += cclen;
		n -= cclen;
		if (d[0] == '0' && !keeps_leading_zero(cc))
		{
			d++;
			n--;
		}
		set_nsn(pn, cc, d, n);
		return true;
	}
	/* trunk prefixes: 0 in most countries, 1 in North America, 8 in Russia */
	if ((strcmp(cc, "1") == 0 && n == 11 && d[0] == '1') ||
		(strcmp(cc, "7") == 0 && n == 11 && d[0] == '8') ||
		(d[0] == '0' && !keeps_leading_zero(cc) && strcmp(cc, "1") != 0 && n >= 8))
	{
		set_nsn(pn, cc, d + 1, n - 1);
		return true;
	}
	if (n >= 9)
	{
		set_nsn(pn, cc, d, n);
		return true;
	}
	if (n >= 7)
	{
		set_nsn(pn, NULL, d, n);
		return true;
	}
	return false;
}

/* The digits of ps (without an explicit international prefix) as a national number. */
static bool
national(const PhoneScan *ps, const char *cc, const char *d, int n, PhoneNumber *pn)
{
	if (strcmp(cc, "86") == 0)
		return cn_national(ps, d, n, pn);
	return other_national(ps, cc, d, n, pn);
}

char *
crmpool_phone_canonical(const char *s, int len, const char *default_country)
{
	PhoneScan	ps;
	PhoneNumber pn;
	const char *u;
	int			ulen;
	char		d[PHONE_MAX_DIGITS + 1];
	int			n = 0,
				g;
	bool		ok;
	char		cc[4];

	if (default_country == NULL)
		default_country = crmpool_default_country;
	memset(&ps, 0, sizeof(ps));
	u = uf_to_utf8(s, len, &ulen);
	scan_phone((const unsigned char *) u, (const unsigned char *) u + ulen, &ps);
	if (ps.overflow || ps.nd == 0)
		return NULL;

	/* Drop "(0)", the trunk prefix written inside an international number: +44 (0)20 .... */
	for (g = 0; g < ps.ng; g++)
	{
		if (g > 0 && ps.glen[g] == 1 && ps.gparen[g] && ps.d[ps.gstart[g]] == '0')
			continue;
		memcpy(d + n, ps.d + ps.gstart[g], ps.glen[g]);
		n += ps.glen[g];
	}
	d[n] = '\0';

	if (ps.plus || (n > 2 && d[0] == '0' && d[1] == '0'))
	{
		const char *r = ps.plus ? d : d + 2;
		int			rn = ps.plus ? n : n - 2;
		int			cclen = country_code_length(r);

		if (rn - cclen < 4)
			return NULL;
		memcpy(cc, r, cclen);
		cc[cclen] = '\0';
		r += cclen;
		rn -= cclen;
		/* "+86 0571 ...": a trunk 0 written after the country code */
		if (r[0] == '0' && !keeps_leading_zero(cc))
		{
			r++;
			rn--;
		}
		/* "+86 21 4808 1190-35": an extension written with a dash, as below */
		if (strcmp(cc, "86") == 0 && !cn_valid(r, rn) && ps.next == 0 && ps.ng >= 2 &&
			ps.glen[ps.ng - 1] <= 6 && cn_valid(r, rn - ps.glen[ps.ng - 1]))
		{
			rn -= ps.glen[ps.ng - 1];
			memcpy(ps.ext, r + rn, ps.glen[ps.ng - 1]);
			ps.next = ps.glen[ps.ng - 1];
		}
		set_nsn(&pn, cc, r, rn);
		ok = true;
	}
	else
	{
		ok = national(&ps, default_country, d, n, &pn);

		/*
		 * "0755-5332 6802-4185": more digits than a number has, the last group an extension
		 * written with a dash.  Only when nothing else marked an extension.
		 */
		if (!ok && ps.next == 0 && ps.ng >= 2 && ps.glen[ps.ng - 1] <= 6)
		{
			int			last = ps.glen[ps.ng - 1];

			ok = national(&ps, default_country, d, n - last, &pn) && pn.cc != NULL;
			if (ok)
			{
				memcpy(ps.ext, d + n - last, last);
				ps.ext[last] = '\0';
				ps.next = last;
			}
		}
	}
	if (!ok)
		return NULL;
	if (pn.cc != NULL && (strlen(pn.cc) + strlen(pn.nsn) > 15 || strlen(pn.nsn) < 4))
		return NULL;

	ps.ext[ps.next] = '\0';
	return psprintf("%s%s%s%s%s",
					pn.cc ? "+" : "", pn.cc ? pn.cc : "", pn.nsn,
					ps.next > 0 ? ";ext=" : "", ps.ext);
}

/* crmpool.normalize_phone(text, default_country text DEFAULT NULL) returns text */
Datum
crmpool_normalize_phone(PG_FUNCTION_ARGS)
{
	text	   *t;
	char	   *cc = NULL;
	char	   *r;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	t = PG_GETARG_TEXT_PP(0);
	if (!PG_ARGISNULL(1))
	{
		cc = text_to_cstring(PG_GETARG_TEXT_PP(1));
		if (!crmpool_valid_country_code(cc))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid default country \"%s\"", cc),
					 errdetail("A country is given by its calling code: 1 to 3 digits without \"+\", such as \"86\".")));
	}
	r = crmpool_phone_canonical(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), cc);
	if (r == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(r));
}
