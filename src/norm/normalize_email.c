/*
 * normalize_email.c: the canonical form of an e-mail address; the SQL function
 * crmpool.normalize_email.
 *
 * Trimmed and case-folded, full-width forms folded (ｃａｏ＠ｘ．ｃｏｍ is cao@x.com, and 。 in
 * the domain is a dot, as Chinese input methods type it).  Plus-tags and dots are kept:
 * cao.bin+2023@ and caobin@ are different mailboxes at most providers, and a CRM must not
 * merge two people.  A trailing dot of the domain (end of a sentence, or a fully qualified
 * name) is dropped.
 *
 * NULL if the text is not one address: not exactly one @, an empty local part or domain,
 * white space or symbols inside, list or display-name punctuation (<>,;:"()[]\), an empty
 * label in the domain, or more than 254 bytes (RFC 5321).
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"

#include "norm/normalize.h"
#include "norm/utf8_fold.h"

PG_FUNCTION_INFO_V1(crmpool_normalize_email);

#define EMAIL_MAX_BYTES 254

/* Invisible characters that paste around addresses: trimmed like spaces. */
static bool
is_trim(pg_wchar c)
{
	return uf_class(c) == UF_SPACE || (c >= 0x200B && c <= 0x200F) || c == 0xFEFF ||
		c == 0x2060;
}

char *
crmpool_email_canonical(const char *s, int len)
{
	const char *u;
	int			ulen;
	const unsigned char *p,
			   *end;
	char	   *out;
	int			n = 0,
				at = -1,
				trailing_space = 0;

	u = uf_to_utf8(s, len, &ulen);
	p = (const unsigned char *) u;
	end = p + ulen;
	out = palloc(EMAIL_MAX_BYTES + 8);

	while (p < end)
	{
		pg_wchar	c;
		UfClass		cls;

		p += uf_decode(p, end - p, &c);
		c = uf_fold(c);
		if (c == 0x3002 || c == 0xFF61)
			c = '.';			/* ideographic full stop */
		if (is_trim(c))
		{
			if (n > 0)
				trailing_space++;
			continue;
		}
		/* A visible character after a space that followed another: white space inside. */
		if (trailing_space > 0)
			return NULL;
		cls = uf_class(c);
		if (cls == UF_SYMBOL || cls == UF_OPEN || cls == UF_CLOSE ||
			(c < 0x80 && strchr("<>,;:\"\\", (int) c) != NULL))
			return NULL;
		if (c == '@')
		{
			if (at >= 0)
				return NULL;
			at = n;
		}
		if (n > EMAIL_MAX_BYTES)
			return NULL;
		n += uf_encode(c, out + n);
	}
	/* A trailing dot ends a sentence or a fully qualified name: no part of the address. */
	while (n > 0 && out[n - 1] == '.')
		n--;
	out[n] = '\0';

	if (at <= 0 || at >= n - 1 || n > EMAIL_MAX_BYTES)
		return NULL;
	/* Every label of the domain has a character: no ".x", "x..y". */
	if (out[at + 1] == '.' || strstr(out + at, "..") != NULL)
		return NULL;
	return out;
}

/* crmpool.normalize_email(text) returns text */
Datum
crmpool_normalize_email(PG_FUNCTION_ARGS)
{
	text	   *t = PG_GETARG_TEXT_PP(0);
	char	   *r = crmpool_email_canonical(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));

	if (r == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(uf_utf8_to_text(r, strlen(r)));
}
