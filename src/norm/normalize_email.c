/*
 * normalize_email.c: the address in a pasted e-mail field, and the mailbox it reaches; the SQL
 * functions crmpool.normalize_email and crmpool.email_mailbox.
 *
 * What a rep pastes into an e-mail field is often more than the address: a display name
 * ("张三 <zs@x.com>", "\"Peng Lu\" <lu.peng@x.cn>"), a link ("mailto:zs@x.com"), a label or a note
 * ("邮箱：zs@x.com", "zs@x.com（工作邮箱）"), brackets, a stray ";" or "，" from a list, spaces
 * next to the "@", full-width forms (ｚｓ＠ｘ．ｃｏｍ) and the ideographic full stop 。 that
 * Chinese input methods type for a dot.  crmpool_email_canonical finds the one address in it:
 *
 *   - the address inside <...> when there is one (a display name may itself hold an "@");
 *     otherwise the text must hold exactly one "@" (two are two addresses: NULL);
 *   - around that "@", spaces next to it are dropped; the local part reaches left over letters,
 *     digits and . _ - + ! # $ % & * / = ? ^ ~, the domain right over letters, digits, - and .;
 *     any other character (space, quote, bracket, ":", ";", ",", a CJK character) ends it and
 *     is text around it.  Letters of other scripts below U+2E80 (Latin, Greek, Cyrillic, ...)
 *     belong to the address; CJK characters never do, so "邮箱zs@x.com" is "zs@x.com";
 *   - leading dots of the local part and trailing dots of the domain are dropped (the end of a
 *     sentence, "。"), then the whole address is case-folded.
 *
 * NULL when there is no such address: an empty local part or domain, an empty label in the
 * domain ("x..com", "@.x.com"), or more than 254 bytes (RFC 5321).
 *
 * The address keeps its plus tag and its dots: "cao.bin+2023@x.com" is written as it was.  The
 * mailbox (crmpool_email_mailbox) is where mail to it arrives: a plus tag (RFC 5233
 * subaddressing: "zs+crm@x.com") reaches zs@x.com, and at Gmail dots in the user name are
 * ignored and googlemail.com is gmail.com.  Dots elsewhere are kept (cao.bin@outlook.com and
 * caobin@outlook.com are two people), and so is the domain.
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "norm/normalize.h"
#include "norm/utf8_fold.h"

PG_FUNCTION_INFO_V1(crmpool_normalize_email);
PG_FUNCTION_INFO_V1(crmpool_email_mailbox_sql);

#define EMAIL_MAX_BYTES 254

/* Invisible characters that paste around addresses: spaces. */
static bool
is_space(pg_wchar c)
{
	return uf_class(c) == UF_SPACE || (c >= 0x200B && c <= 0x200F) || c == 0xFEFF ||
		c == 0x2060;
}

/* A letter of a script other than ASCII that may spell an address (not CJK). */
static bool
other_letter(pg_wchar c)
{
	return c >= 0x80 && c < 0x2E80 && uf_class(c) == UF_WORD;
}

static bool
ascii_alnum(pg_wchar c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
local_char(pg_wchar c)
{
	return ascii_alnum(c) || other_letter(c) ||
		(c < 0x80 && c != '\0' && strchr("._-+!#$%&*/=?^~", (int) c) != NULL);
}

static bool
domain_char(pg_wchar c)
{
	return ascii_alnum(c) || other_letter(c) || c == '-' || c == '.';
}

/*
 * The "@" of the address in w[0..n), and the part [*lo, *hi) the address may take; -1 if there
 * is not exactly one address.
 */
static int
find_at(const pg_wchar *w, int n, int *lo, int *hi)
{
	int			i,
				at = -1,
				ats = 0;

	/* "name <address>": the one <...> holding an "@" */
	for (i = 0; i < n; i++)
	{
		int			j,
					k = -1,
					inside = 0;

		if (w[i] != '<')
			continue;
		for (j = i + 1; j < n && w[j] != '>' && w[j] != '<'; j++)
			if (w[j] == '@')
			{
				inside++;
				k = j;
			}
		if (j == n || w[j] != '>' || inside == 0)
			continue;
		if (inside > 1 || at >= 0)
			return -1;
		at = k;
		*lo = i + 1;
		*hi = j;
	}
	if (at >= 0)
		return at;
	for (i = 0; i < n; i++)
		if (w[i] == '@')
		{
			at = i;
			ats++;
		}
	*lo = 0;
	*hi = n;
	return ats == 1 ? at : -1;
}

char *
crmpool_email_canonical(const char *s, int len)
{
	const char *u;
	int			ulen;
	const unsigned char *p,
			   *end;
	pg_wchar   *w;
	int			n = 0;
	int			at,
				lo,
				hi,
				start,
				stop,
				i,
				bytes = 0;
	char	   *out;

	u = uf_to_utf8(s, len, &ulen);
	p = (const unsigned char *) u;
	end = p + ulen;
	w = palloc(sizeof(pg_wchar) * (ulen + 1));
	while (p < end)
	{
		pg_wchar	c;

		p += uf_decode(p, end - p, &c);
		c = uf_fold(c);
		if (c == 0x3002 || c == 0xFF61)
			c = '.';			/* ideographic full stop */
		else if (is_space(c))
			c = ' ';
		w[n++] = c;
	}

	at = find_at(w, n, &lo, &hi);
	if (at < 0)
		return NULL;

	/* the local part, left of the "@" and any spaces next to it; no leading dot */
	start = at;
	while (start > lo && w[start - 1] == ' ')
		start--;
	stop = start;
	while (start > lo && local_char(w[start - 1]))
		start--;
	while (start < stop && w[start] == '.')
		start++;
	if (start == stop)
		return NULL;

	out = palloc(EMAIL_MAX_BYTES + 8);
	for (i = start; i < stop; i++)
	{
		if (bytes > EMAIL_MAX_BYTES)
			return NULL;
		bytes += uf_encode(w[i], out + bytes);
	}
	out[bytes++] = '@';

	/* the domain, right of the "@" and any spaces next to it; no trailing dot */
	start = at + 1;
	while (start < hi && w[start] == ' ')
		start++;
	stop = start;
	while (stop < hi && domain_char(w[stop]))
		stop++;
	while (stop > start && w[stop - 1] == '.')
		stop--;
	if (stop == start || w[start] == '.')
		return NULL;
	for (i = start; i < stop; i++)
	{
		if (bytes > EMAIL_MAX_BYTES)
			return NULL;
		if (w[i] == '.' && w[i - 1] == '.')
			return NULL;		/* an empty label */
		bytes += uf_encode(w[i], out + bytes);
	}
	if (bytes > EMAIL_MAX_BYTES)
		return NULL;
	out[bytes] = '\0';
	return out;
}

/*
 * The mailbox an address (crmpool_email_canonical's form) reaches: with EMAIL_FOLD_PLUS_TAG,
 * without its plus tag; with EMAIL_FOLD_GMAIL_DOTS, at gmail.com or googlemail.com, without the
 * dots of its user name and at gmail.com.  palloc'd.
 */
char *
crmpool_email_mailbox(const char *address, int folds)
{
	const char *at = strrchr(address, '@');
	const char *domain;
	const char *local_end;
	StringInfoData buf;
	const char *c;
	bool		gmail;

	if (at == NULL)
		return pstrdup(address);
	domain = at + 1;
	local_end = at;
	if (folds & EMAIL_FOLD_PLUS_TAG)
	{
		const char *plus = memchr(address, '+', at - address);

		/* "+x@..." is a name, not a tag */
		if (plus != NULL && plus > address)
			local_end = plus;
	}
	gmail = (folds & EMAIL_FOLD_GMAIL_DOTS) &&
		(strcmp(domain, "gmail.com") == 0 || strcmp(domain, "googlemail.com") == 0);
	initStringInfo(&buf);
	for (c = address; c < local_end; c++)
		if (!(gmail && *c == '.'))
			appendStringInfoChar(&buf, *c);
	appendStringInfo(&buf, "@%s", gmail ? "gmail.com" : domain);
	return buf.data;
}

/* The address in the text argument, or (mailbox) the mailbox it reaches; NULL if none. */
static Datum
email_result(FunctionCallInfo fcinfo, bool mailbox)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char	   *r = crmpool_email_canonical(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));

	if (r == NULL)
		PG_RETURN_NULL();
	if (mailbox)
		r = crmpool_email_mailbox(r, EMAIL_FOLD_ALL);
	PG_RETURN_TEXT_P(uf_utf8_to_text(r, strlen(r)));
}

/* crmpool.normalize_email(text) returns text */
Datum
crmpool_normalize_email(PG_FUNCTION_ARGS)
{
	return email_result(fcinfo, false);
}

/* crmpool.email_mailbox(text) returns text: the mailbox, every fold applied */
Datum
crmpool_email_mailbox_sql(PG_FUNCTION_ARGS)
{
	return email_result(fcinfo, true);
}
