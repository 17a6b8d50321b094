
-- Duplicate-detection normalizers (src/normalize_*.c, src/company_name.c, src/name_similarity.c).
-- All are locale-independent: the same input gives the same key in every database.

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

COMMENT ON FUNCTION crmpool.normalize_email(text) IS
'Canonical form of an e-mail address: trimmed, full-width and case folded, plus-tags and dots kept; NULL if the text is not exactly one address.';
