/*
 * utf8_fold.c: locale-independent UTF-8 decoding, width and case folding, character classes.
 *
 * Why our own tables: towlower() and iswalpha() answer from LC_CTYPE, so the same name would
 * normalize differently in a database created with LC_CTYPE=C than in one with zh_CN.UTF-8,
 * and keys stored by one would not be found by the other.  We fold only what company names,
 * e-mail addresses and phone numbers really contain: ASCII and full-width forms (the usual
 * noise in Chinese input), Latin letters with diacritics, Greek and Cyrillic.  Everything else
 * keeps its code point, which is the locale-independent answer.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"

#include "norm/utf8_fold.h"

int
uf_decode(const unsigned char *s, int len, pg_wchar *cp)
{
	unsigned char c = s[0];
	int			n;
	pg_wchar	v;
	int			i;

	if (c < 0x80)
	{
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF)
	{
		n = 2;
		v = c & 0x1F;
	}
	else if (c >= 0xE0 && c <= 0xEF)
	{
		n = 3;
		v = c & 0x0F;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		n = 4;
		v = c & 0x07;
	}
	else
	{
		*cp = UF_REPLACEMENT;
		return 1;
	}
	if (n > len)
	{
		*cp = UF_REPLACEMENT;
		return 1;
	}
	for (i = 1; i < n; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
		{
			*cp = UF_REPLACEMENT;
			return 1;
		}
		v = (v << 6) | (s[i] & 0x3F);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are not characters. */
	if ((n == 3 && v < 0x800) || (n == 4 && (v < 0x10000 || v > 0x10FFFF)) ||
		(v >= 0xD800 && v <= 0xDFFF))
	{
		*cp = UF_REPLACEMENT;
		return 1;
	}
	*cp = v;
	return n;
}

/* U+FE50..U+FE6B, the "small form variants" that some Chinese input methods produce. */
static const char small_forms[] = ",\0.\0;:?!\0(){}[]#&*+-<>=\0\\$%@";

pg_wchar
uf_fold(pg_wchar c)
{
	/* Width: full-width ASCII, the ideographic space, small forms. */
	if (c >= 0xFF01 && c <= 0xFF5E)
		c -= 0xFEE0;
	else if (c == 0x3000)
		return ' ';
	else if (c == 0xFF5F)
		return '(';
	else if (c == 0xFF60)
		return ')';
	else if (c >= 0xFE50 && c <= 0xFE6B && small_forms[c - 0xFE50] != '\0')
		c = (unsigned char) small_forms[c - 0xFE50];

	/* Case. */
	if (c < 0x80)
		return (c >= 'A' && c <= 'Z') ? c + 0x20 : c;
	if (c < 0x100)
		return (c >= 0xC0 && c <= 0xDE && c != 0xD7) ? c + 0x20 : c;
	if (c < 0x180)
	{
		/* Latin Extended-A alternates upper/lower, with a shift in parity at U+0139. */
		if (c == 0x130)
			return 'i';
		if (c == 0x178)
			return 0xFF;
		if (c == 0x17F)
			return 's';
		if ((c <= 0x137 || (c >= 0x14A && c <= 0x177)) && c % 2 == 0)
			return c + 1;
		if (((c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E)) && c % 2 == 1)
			return c + 1;
		return c;
	}
	if (c >= 0x386 && c <= 0x3AB)
	{
		/* Greek capitals, with and without tonos. */
		if (c >= 0x391 && c <= 0x3AB && c != 0x3A2)
			return c + 0x20;
		if (c == 0x386)
			return 0x3AC;
		if (c >= 0x388 && c <= 0x38A)
			return c + 0x25;
		if (c == 0x38C)
			return 0x3CC;
		if (c == 0x38E || c == 0x38F)
			return c + 0x3F;
		return c;
	}
	if (c == 0x3C2)
		return 0x3C3;			/* final sigma */
	if (c >= 0x400 && c <= 0x42F)
		return c < 0x410 ? c + 0x50 : c + 0x20;
	if (c >= 0x1E00 && c <= 0x1EFF)
	{
		/* Latin Extended Additional (Vietnamese): upper case at even code points. */
		if (c == 0x1E9E)
			return 0xDF;
		if ((c <= 0x1E95 || c >= 0x1EA0) && c % 2 == 0)
			return c + 1;
	}
	return c;
}

UfClass
uf_class(pg_wchar c)
{
	if (c < 0x80)
	{
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			return UF_WORD;
		if (c <= ' ' || c == 0x7F)
			return UF_SPACE;
		if (c == '(' || c == '[' || c == '{')
			return UF_OPEN;
		if (c == ')' || c == ']' || c == '}')
			return UF_CLOSE;
		return UF_PUNCT;
	}
	if (c < 0xA0)
		return UF_SPACE;		/* C1 controls */
	if (c == 0xA0)
		return UF_SPACE;
	if (c < 0xC0)
		return UF_PUNCT;		/* Latin-1 punctuation and signs: ¡ « » · ¿ ... */
	if (c == 0xD7 || c == 0xF7)
		return UF_PUNCT;
	if (c < 0x2B0)
		return UF_WORD;			/* Latin letters */
	if (c < 0x370)
		return UF_SYMBOL;		/* modifier letters and combining marks */
	if (c >= 0x2000 && c <= 0x206F)
	{
		if (c <= 0x200A || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F)
			return UF_SPACE;
		if ((c >= 0x200B && c <= 0x200F) || (c >= 0x202A && c <= 0x202E) || c >= 0x2060)
			return UF_SYMBOL;	/* zero-width and bidi controls */
		return UF_PUNCT;
	}
	if (c >= 0x2070 && c <= 0x2BFF)
		return UF_SYMBOL;		/* scripts, currency, letterlike, arrows, shapes, dingbats */
	if (c >= 0x2E00 && c <= 0x2E7F)
		return UF_PUNCT;
	if (c >= 0x2E80 && c <= 0x2FDF)
		return UF_HAN;			/* radicals */
	if (c >= 0x3000 && c <= 0x303F)
	{
		if (c == 0x3000)
			return UF_SPACE;
		if ((c >= 0x3005 && c <= 0x3007) || (c >= 0x3021 && c <= 0x3029) ||
			(c >= 0x3031 && c <= 0x3035) || (c >= 0x3038 && c <= 0x303B))
			return UF_HAN;		/* 々 〆 〇, Hangzhou numerals, kana repeat marks */
		if (c == 0x3010 || c == 0x3014 || c == 0x3016 || c == 0x3018 || c == 0x301A)
			return UF_OPEN;		/* 【 〔 〖 〘 〚 */
		if (c == 0x3011 || c == 0x3015 || c == 0x3017 || c == 0x3019 || c == 0x301B)
			return UF_CLOSE;
		if (c == 0x3012 || c == 0x3013 || (c >= 0x302A && c <= 0x302F) || c >= 0x303C)
			return UF_SYMBOL;
		return UF_PUNCT;		/* 、 。 〈 〉 《 》 「 」 『 』 〜 ... */
	}
	if (c == 0x30FB || c == 0xFF65)
		return UF_PUNCT;		/* katakana middle dot */
	if (c >= 0x3200 && c <= 0x33FF)
		return UF_SYMBOL;		/* enclosed and compatibility CJK */
	if ((c >= 0x3400 && c <= 0x4DBF) || (c >= 0x4E00 && c <= 0x9FFF) ||
		(c >= 0xF900 && c <= 0xFAFF) || (c >= 0x20000 && c <= 0x3134F))
		return UF_HAN;
	if (c >= 0xD800 && c <= 0xF8FF)
		return UF_SYMBOL;		/* surrogates, private use */
	if (c >= 0xFE00 && c <= 0xFE0F)
		return UF_SYMBOL;		/* variation selectors */
	if (c >= 0xFE10 && c <= 0xFE6F)
		return UF_PUNCT;		/* vertical, compatibility and small forms */
	if (c == 0xFEFF || (c >= 0xFFE0 && c <= 0xFFFF))
		return UF_SYMBOL;
	if (c >= 0xFF61 && c <= 0xFF64)
		return UF_PUNCT;		/* half-width ideographic punctuation */
	if (c >= 0x1F000 && c <= 0x1FAFF)
		return UF_SYMBOL;		/* emoji, mahjong, playing cards, pictographs */
	if (c >= 0xE0000)
		return UF_SYMBOL;		/* tags, variation selectors supplement, private use */
	return UF_WORD;				/* Greek, Cyrillic, kana, Hangul, Arabic, ... */
}

int
uf_encode(pg_wchar c, char *buf)
{
	unicode_to_utf8(c, (unsigned char *) buf);
	return pg_utf_mblen((unsigned char *) buf);
}

static bool
server_is_utf8(void)
{
	int			enc = GetDatabaseEncoding();

	return enc == PG_UTF8 || enc == PG_SQL_ASCII;
}

const char *
uf_to_utf8(const char *s, int len, int *outlen)
{
	char	   *conv;

	if (server_is_utf8())
	{
		*outlen = len;
		return s;
	}
	conv = pg_server_to_any(s, len, PG_UTF8);
	*outlen = (conv == s) ? len : (int) strlen(conv);
	return conv;
}

text *
uf_utf8_to_text(const char *s, int len)
{
	char	   *conv;

	if (server_is_utf8())
		return cstring_to_text_with_len(s, len);
	conv = pg_any_to_server(s, len, PG_UTF8);
	return cstring_to_text_with_len(conv, (conv == s) ? len : (int) strlen(conv));
}
