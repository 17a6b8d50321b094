/*
 * normalize.h: duplicate-detection normalizers, callable from C without fmgr.
 *
 * Every function takes text in the server encoding (a pointer and a byte length, not
 * necessarily NUL-terminated) and gives the same answer in every locale.  Results are palloc'd
 * in the current memory context.
 *
 *   utf8_fold.c         UTF-8 decoding, width and case folding, character classes
 *   normalize_phone.c   crmpool.normalize_phone: one canonical form per phone line
 *   normalize_email.c   crmpool.normalize_email, crmpool.email_mailbox: an address and its mailbox
 *   company_lexicon.c   legal forms, industry words, branch markers, regions
 *   hanzi.c             traditional -> simplified, toneless pinyin (Unihan)
 *   company_name.c      parsing a company name into its parts; company_core, company_key,
 *                       company_parts
 *   name_similarity.c   bigrams of the distinctive core and the similarity score
 */
#ifndef NORMALIZE_H
#define NORMALIZE_H

#include "postgres.h"
#include "base/base.h"

/* Its settings (crmpool.default_country, crmpool.name_threshold) are in base/settings.c. */

/*
 * The canonical form of the first phone number in s, or NULL if s holds none:
 * "+<country code><national number>[;ext=<digits>]", e.g. "+8613800138000",
 * "+861088886666;ext=123".  A number too short to carry an area code ("8888 6666") is given as
 * its bare digits, without "+", so it only equals the same bare number.  default_country (NULL:
 * crmpool.default_country) is the calling code of numbers written without one.
 */
extern char *crmpool_phone_canonical(const char *s, int len, const char *default_country);

/*
 * The one e-mail address in s, stripped of what was pasted around it (display name, mailto:,
 * labels, brackets, stray punctuation, spaces next to the "@") and case-folded, its plus tag and
 * dots kept; NULL if s holds no address or more than one.
 */
extern char *crmpool_email_canonical(const char *s, int len);

/* Which folds take an address to its mailbox (crmpool_email_mailbox). */
#define EMAIL_FOLD_PLUS_TAG		0x01	/* zs+crm@x.com reaches zs@x.com (RFC 5233) */
#define EMAIL_FOLD_GMAIL_DOTS	0x02	/* z.s@gmail.com, zs@googlemail.com reach zs@gmail.com */
#define EMAIL_FOLD_ALL			(EMAIL_FOLD_PLUS_TAG | EMAIL_FOLD_GMAIL_DOTS)

/* The mailbox a canonical address reaches under the given folds (palloc'd). */
extern char *crmpool_email_mailbox(const char *address, int folds);

/* A company name, parsed.  Strings are UTF-8 and never NULL ("" when absent). */
#define COMPANY_MAX_REGIONS 6

typedef struct CompanyName
{
	char	   *core;			/* the distinctive core (字号): folded, no separators */
	int			ncore;			/* its length in characters; 0: no core, never matches */
	char	   *key;			/* the core's match key: ideographs as toneless pinyin */
	int			nregions;
	const char *regions[COMPANY_MAX_REGIONS];	/* canonical names: "北京", "广东" */
	char	   *industry;		/* canonical industry words: "生物科技", "media" */
	const char *legal_form;		/* the outermost legal form: "有限公司", "Co., Ltd." */
	uint32		jurisdictions;	/* mask of the legal form's jurisdictions; 0: none said */
	bool		is_branch;		/* 分公司, 办事处, branch, ...: not the head office */
	char	   *branch;			/* the branch's label ("长沙"), "" if unknown */
	bool		too_long;		/* longer than COMPANY_MAX_BYTES: not parsed, no core */
} CompanyName;

/* Longer inputs are no company names; they get no core rather than unbounded work. */
#define COMPANY_MAX_BYTES 4096

extern void crmpool_company_parse(const char *s, int len, CompanyName *out);

/* Similarity in [0,1]; 0 whenever either name has no core.  See name_similarity.c. */
extern float4 crmpool_company_similarity(const CompanyName *a, const CompanyName *b);

/*
 * The sorted, distinct 32-bit hashes of the character bigrams of the core (one unigram hash for
 * a one-character core, none for no core); returns their number.  Names that can reach any
 * threshold above 0 share at least one hash.
 */
extern int	crmpool_company_bigrams(const CompanyName *c, int32 **hashes);

/* How many hashes two sorted, distinct hash arrays share. */
extern int	crmpool_bigrams_common(const int32 *a, int na, const int32 *b, int nb);

/*
 * The fewest hashes that two names with different cores, of na and nb hashes, must share to
 * score at least min_score; more than Min(na, nb) when they cannot (min_score above 0.75).
 * Names with the same core share all their hashes.
 */
extern int	crmpool_company_min_common(int na, int nb, double min_score);

#endif							/* NORMALIZE_H */
