/*
 * utf8_fold.h: locale-independent UTF-8 decoding, width and case folding, character classes.
 *
 * The normalizers must give the same answer in every database, whatever its LC_CTYPE: a
 * key computed in one database is compared with keys computed in another, and pg_trgm's
 * behaviour (no Chinese at all under LC_CTYPE=C) is what we must not repeat.  So nothing
 * here calls the C library's locale-dependent functions; the tables are our own.
 */
#ifndef UTF8_FOLD_H
#define UTF8_FOLD_H

#include "postgres.h"

#include "mb/pg_wchar.h"

/* The class of a folded code point, as the normalizers see it. */
typedef enum UfClass
{
	UF_SPACE,					/* white space and controls: separate words */
	UF_PUNCT,					/* punctuation: separates words, dropped */
	UF_OPEN,					/* an opening bracket: ( [ { 【 〔 〖 ... */
	UF_CLOSE,					/* a closing bracket */
	UF_SYMBOL,					/* emoji, marks, symbols, invisible: dropped, separate nothing */
	UF_HAN,						/* a CJK ideograph: one character is one word */
	UF_WORD						/* a letter or digit of any other script */
} UfClass;

#define UF_REPLACEMENT	0xFFFD

/*
 * Decode one code point from s (len > 0 bytes available) into *cp; returns the number of bytes
 * consumed (1..4).  A malformed or truncated sequence yields U+FFFD and consumes one byte, so
 * the caller always advances and never reads past s + len.
 */
extern int	uf_decode(const unsigned char *s, int len, pg_wchar *cp);

/* Full-width to half-width, then case fold (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic). */
extern pg_wchar uf_fold(pg_wchar c);

/* The class of a code point (call it on a folded one). */
extern UfClass uf_class(pg_wchar c);

/* Append the UTF-8 encoding of c to buf (at least 4 bytes free); returns the bytes written. */
extern int	uf_encode(pg_wchar c, char *buf);

/*
 * Text in and out of the server encoding.  The normalizers work on UTF-8; a UTF-8 or SQL_ASCII
 * database passes its bytes through untouched (the decoder copes with anything), others convert.
 */
extern const char *uf_to_utf8(const char *s, int len, int *outlen);
extern text *uf_utf8_to_text(const char *s, int len);

#endif							/* UTF8_FOLD_H */
