-- ---------------------------------------------------------------------------------------------
-- Duplicate detection (查重): identity columns, normalized keys, warnings, search.
-- Keys live here, not as indexes on the user's table; the identity trigger keeps them current.
-- ---------------------------------------------------------------------------------------------

-- Which columns identify a customer of a managed table.
CREATE TABLE crmpool.identity_config (
	rel				regclass	PRIMARY KEY,	-- no foreign key: sql/parts/70_dump_restore.sql
	name_column		name,
	phone_columns	name[]		NOT NULL DEFAULT '{}',
	email_columns	name[]		NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE crmpool.identity_config IS 'Identity columns named with crmpool.set_identity().';

-- Exact keys: normalized phone lines (kind p) and e-mail addresses (kind e).  Keys and cores
-- are compared byte for byte (COLLATE "C"): they are only ever looked up and grouped, never
-- shown in the database's order, and the btrees compare them with memcmp, not strcoll.  No
-- index by customer: a write forgets a customer's keys by this primary key, from the old row's
-- values that made them (src/track/identity.c, forget), and saves an index entry per key.  The
-- primary key has the key before its kind: a btree compares column after column, and every key
-- of a table has one of two kinds; the key then sits at an aligned offset, which index tuple
-- access caches (after the one-byte kind, none did).
CREATE TABLE crmpool.identity_key (
	table_id	integer		NOT NULL,	-- crmpool.managed_table.table_id
	kind		"char"		NOT NULL,
	key			text		COLLATE pg_catalog."C" NOT NULL,
	customer	bigint		NOT NULL,
	tenant		bigint		NOT NULL,
	PRIMARY KEY (tenant, table_id, key, kind, customer)
);
COMMENT ON TABLE crmpool.identity_key IS 'Normalized phone (p) and e-mail (e) keys of managed customers.';

-- Company names: the name as written (re-parsed to score a candidate), its distinctive core
-- (btree: at a threshold above 0.75 only names with the same core can match) and the bigram
-- hashes of the core (GIN: the candidates with other cores below that).
CREATE TABLE crmpool.identity_name (
	table_id	integer		NOT NULL,
	customer	bigint		NOT NULL,
	name		text		NOT NULL,
	core		text		COLLATE pg_catalog."C" NOT NULL,
	tokens		integer[]	NOT NULL,
	tenant		bigint		NOT NULL,
	PRIMARY KEY (tenant, table_id, customer)
);
CREATE INDEX identity_name_tokens ON crmpool.identity_name USING gin (tokens);
CREATE INDEX identity_name_core ON crmpool.identity_name (tenant, table_id, core);
COMMENT ON TABLE crmpool.identity_name IS 'Company names of managed customers and the bigram hashes of their cores.';

-- Duplicates let through under the "warn" policy, for the app to review.
CREATE TABLE crmpool.duplicate_warning (
	id			bigint		GENERATED ALWAYS AS IDENTITY,
	table_id	integer		NOT NULL,
	customer	bigint		NOT NULL,
	existing	bigint		NOT NULL,
	matched_on	text		NOT NULL,
	score		real		NOT NULL,
	at			timestamptz	NOT NULL,
	actor		text,
	tenant		bigint		NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX duplicate_warning_by_table ON crmpool.duplicate_warning (table_id, at);
COMMENT ON TABLE crmpool.duplicate_warning IS 'Duplicates inserted under a "warn" policy; read them with crmpool.duplicate_warnings().';

SELECT pg_catalog.pg_extension_config_dump('crmpool.identity_config', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.identity_key', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.identity_name', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.duplicate_warning', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.duplicate_warning_id_seq', '');
REVOKE ALL ON crmpool.identity_config, crmpool.identity_key, crmpool.identity_name,
	crmpool.duplicate_warning FROM PUBLIC;

CREATE FUNCTION crmpool.set_identity(rel regclass, name_column name DEFAULT NULL,
									 phone_columns name[] DEFAULT '{}', email_columns name[] DEFAULT '{}')
RETURNS void LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_set_identity';
COMMENT ON FUNCTION crmpool.set_identity(regclass, name, name[], name[]) IS
	'Name the identity columns of a managed table (company name, phones, e-mails) and index the existing rows.';

CREATE FUNCTION crmpool.identity_trigger()
RETURNS trigger LANGUAGE C
AS 'MODULE_PATHNAME', 'crmpool_identity_trigger';
COMMENT ON FUNCTION crmpool.identity_trigger() IS
	'Keeps the identity keys of a managed table current and applies the duplicate policies.';

CREATE FUNCTION crmpool.find_duplicates(rel regclass, name text DEFAULT NULL, phone text DEFAULT NULL,
										email text DEFAULT NULL, min_score real DEFAULT NULL,
										tenant text DEFAULT NULL)
RETURNS TABLE(customer bigint, matched_on text, score real, owner bigint, pool text)
LANGUAGE C CALLED ON NULL INPUT STABLE ROWS 10
AS 'MODULE_PATHNAME', 'crmpool_find_duplicates_v2';
COMMENT ON FUNCTION crmpool.find_duplicates(regclass, text, text, text, real, text) IS
	'The 查重 screen: existing customers of one tenant (required for a table with a tenant column) matching a name, phone or e-mail, best first, with where they sit.';

CREATE FUNCTION crmpool.duplicate_groups(rel regclass)
RETURNS TABLE(group_id bigint, customer bigint, matched_on text, tenant text)
LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_duplicate_groups_v2';
COMMENT ON FUNCTION crmpool.duplicate_groups(regclass) IS
	'Groups of likely-same customers already in a table (one pass, each group within one tenant), for adopting crmpool on dirty data.  tenant: the group''s (NULL without a tenant column).';

CREATE FUNCTION crmpool.duplicate_warnings(rel regclass)
RETURNS TABLE(id bigint, customer bigint, existing bigint, matched_on text, score real, at timestamptz, actor text,
			  tenant text)
LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_duplicate_warnings_v2';
COMMENT ON FUNCTION crmpool.duplicate_warnings(regclass) IS
	'Duplicates let through under a "warn" policy, newest first.  tenant: the customers'' (NULL without a tenant column).';
