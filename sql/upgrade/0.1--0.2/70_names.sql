-- Company names (issue 11): traditional characters fold to simplified, and identity_name.core
-- holds the match key of the core (its toneless pinyin, crmpool.company_key) so that homophone
-- slips and pinyin names are found through its btree.  0.1 stored the core itself there: every
-- stored name is keyed again, and its bigrams too (they change with the folding).

CREATE FUNCTION crmpool.company_key(name text)
RETURNS text
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'crmpool_company_key';

COMMENT ON FUNCTION crmpool.company_key(text) IS
'Match key of a company name: its core with every Chinese character as its toneless pinyin (Unihan kMandarin), after traditional characters are folded to simplified; names whose keys differ never reach the default name_threshold. NULL if the name has no core.';

COMMENT ON FUNCTION crmpool.name_similarity(text, text) IS
'Similarity of two company names in [0,1]: 1 for the same core, 0.9x for cores that sound the same (a homophone slip of one character, or the pinyin of a Chinese core), else Dice of the bigrams of their cores x 0.75; 0.95x for a region or industry on one side only (or a short form within the other industry), 0.5x for each conflict (regions, industries, branch, jurisdiction); 0 if either has no core. Duplicates score >= crmpool.name_threshold.';

UPDATE crmpool.identity_name
SET core = crmpool.company_key(name), tokens = crmpool.name_bigrams(name)
WHERE core OPERATOR(pg_catalog.<>) crmpool.company_key(name)
	OR tokens OPERATOR(pg_catalog.<>) crmpool.name_bigrams(name);
