
-- Duplicate-detection normalizers (src/norm/).
-- All are locale-independent: the same input gives the same key in every database.
-- This file is ASCII only: an extension script is read in the database encoding (EUC_CN too).

CREATE FUNCTION crmpool.normalize_phone(phone text, default_country text DEFAULT NULL)
RETURNS text
LANGUAGE C IMMUTABLE PARALLEL SAFE
AS 'MODULE_PATHNAME', 'crmpool_normalize_phone';

COMMENT ON FUNCTION crmpool.normalize_phone(text, text) IS
'Canonical form of the first phone number in the text: +<country><number>[;ext=<digits>], e.g. +8613800138000, +861088886666;ext=123; bare digits for a local number without area code; NULL if there is no number. default_country (calling code, e.g. ''86'') defaults to crmpool.default_country; pass it explicitly in index expressions.';

CREATE FUNCTION crmpool.normalize_email(email text)
RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'crmpool_normalize_email';

-- Its comment is in 71_contacts.sql (issue 11 changed what it reads).

CREATE FUNCTION crmpool.company_core(name text)
RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'crmpool_company_core';

COMMENT ON FUNCTION crmpool.company_core(text) IS
'Distinctive core of a company name (the trade name): folded, without separators, region, industry words, legal form and branch; NULL if the name has none.';

CREATE FUNCTION crmpool.company_key(name text)
RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'crmpool_company_key';

COMMENT ON FUNCTION crmpool.company_key(text) IS
'Match key of a company name: its core with every Chinese character as its toneless pinyin (Unihan kMandarin), after traditional characters are folded to simplified; names whose keys differ never reach the default name_threshold. NULL if the name has no core.';

CREATE FUNCTION crmpool.company_parts(name text)
RETURNS jsonb
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'crmpool_company_parts';

COMMENT ON FUNCTION crmpool.company_parts(text) IS
'A company name parsed: core, region[], industry, legal_form, jurisdiction[], branch, branch_label; for explaining crmpool.name_similarity.';

CREATE FUNCTION crmpool.name_similarity(a text, b text)
RETURNS real
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'crmpool_name_similarity';

COMMENT ON FUNCTION crmpool.name_similarity(text, text) IS
'Similarity of two company names in [0,1]: 1 for the same core, 0.9x for cores that sound the same (a homophone slip of one character, or the pinyin of a Chinese core), else Dice of the bigrams of their cores x 0.75; 0.95x for a region or industry on one side only (or a short form within the other industry), 0.5x for each conflict (regions, industries, branch, jurisdiction); 0 if either has no core. Duplicates score >= crmpool.name_threshold.';

CREATE FUNCTION crmpool.name_bigrams(name text)
RETURNS int4[]
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'crmpool_name_bigrams';

COMMENT ON FUNCTION crmpool.name_bigrams(text) IS
'Sorted distinct hashes of the character bigrams of the company core (a unigram for a one-character core, empty for none), for a GIN index: names with a similarity above 0 share at least one.';
