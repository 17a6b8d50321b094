-- Tenants (issue 9, section 1; docs/design.md, "Tenants and distribution").
--
-- Every table of per-customer or per-rep state gets a tenant column, first in its primary key:
-- the bigint key of the managed table's tenant (its value for an integer tenant column, its id
-- in crmpool.tenant_name for a text one), 0 for a table without one.  The column goes last (ADD
-- COLUMN) so that the column numbers C reads by stay those of 0.1; a fresh install declares it
-- last too.  0.1 rows all belong to the one tenant 0.  The new library runs on 0.1's tables
-- too, before this update (crmpool_has_tenants in src/base).
ALTER TABLE crmpool.managed_table ADD COLUMN tenant_column name;

DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['rep_counter', 'ownership_event', 'customer_lock', 'recycle_due',
							 'recycle_warning', 'followup', 'identity_key', 'identity_name',
							 'duplicate_warning'] LOOP
		-- not ADD COLUMN ... DEFAULT '': that keeps a "missing value" in the catalog, which a
		-- fresh install does not have (pg_upgrade's dump would differ)
		EXECUTE pg_catalog.format('ALTER TABLE crmpool.%I ADD COLUMN tenant bigint', t);
		EXECUTE pg_catalog.format('UPDATE crmpool.%I SET tenant = 0', t);
		EXECUTE pg_catalog.format('ALTER TABLE crmpool.%I ALTER COLUMN tenant SET NOT NULL', t);
		EXECUTE pg_catalog.format('ALTER TABLE crmpool.%I DROP CONSTRAINT %I', t, t || '_pkey');
	END LOOP;
END;
$$;
ALTER TABLE crmpool.rep_counter ADD PRIMARY KEY (tenant, rel, rep);
ALTER TABLE crmpool.ownership_event ADD PRIMARY KEY (tenant, rel, customer, seq);
ALTER TABLE crmpool.customer_lock ADD PRIMARY KEY (tenant, rel, customer);
ALTER TABLE crmpool.recycle_due ADD PRIMARY KEY (tenant, rel, customer);
DROP INDEX crmpool.recycle_due_by_owner;
CREATE INDEX recycle_due_by_owner ON crmpool.recycle_due (tenant, rel, owner, due_at);
ALTER TABLE crmpool.recycle_warning ADD PRIMARY KEY (tenant, rel, seq);
DROP INDEX crmpool.recycle_warning_by_customer;
CREATE INDEX recycle_warning_by_customer ON crmpool.recycle_warning (tenant, rel, customer);
CREATE INDEX recycle_warning_by_seq ON crmpool.recycle_warning (rel, seq);
ALTER TABLE crmpool.followup ADD PRIMARY KEY (tenant, rel, customer, seq);
ALTER TABLE crmpool.identity_key ADD PRIMARY KEY (tenant, rel, kind, key, customer);
DROP INDEX crmpool.identity_key_customer;
CREATE INDEX identity_key_customer ON crmpool.identity_key (tenant, rel, customer);
ALTER TABLE crmpool.identity_name ADD PRIMARY KEY (tenant, rel, customer);
DROP INDEX crmpool.identity_name_core;
CREATE INDEX identity_name_core ON crmpool.identity_name (tenant, rel, core);
ALTER TABLE crmpool.duplicate_warning ADD PRIMARY KEY (tenant, id);

-- crmpool.managed_tables shows tenant_column: 80_table_id.sql, with every column 0.2 adds.

-- The dictionary of text tenants: 50_tenant_names.sql (a link to sql/parts/92_tenant_names.sql).

-- manage() gains tenant_column: 52_columns.sql replaces 0.1's manage() with the final signature.

-- The tenant column is a mapped column: it cannot be dropped while the table is managed
-- (0.2's crmpool.forget_dropped_tables(), made last: 81_drop_forget_dropped.sql).

-- The readers of one customer or rep, and find_duplicates, gain a tenant argument; 0.1's
-- definitions (C symbols crmpool_history, ...) go.
DROP FUNCTION crmpool.history(regclass, bigint);
DROP FUNCTION crmpool.owner_at(regclass, bigint, timestamptz);
DROP FUNCTION crmpool.ownership_log(regclass, bigint);
DROP FUNCTION crmpool.rep_load(regclass);
DROP FUNCTION crmpool.find_duplicates(regclass, text, text, text, real);
CREATE FUNCTION crmpool.history(rel regclass, customer bigint, tenant text DEFAULT NULL)
RETURNS TABLE(owner bigint, since timestamptz, until timestamptz, how_gained text, how_ended text, actor text)
LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_history_v2';
COMMENT ON FUNCTION crmpool.history(regclass, bigint, text) IS
	'Ownership spells of a customer, oldest first; until is NULL for the current owner.  tenant: the customer''s tenant (read from its row when NULL; needed once the row is gone).';

CREATE FUNCTION crmpool.owner_at(rel regclass, customer bigint, at timestamptz, tenant text DEFAULT NULL)
RETURNS bigint LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_owner_at_v2';
COMMENT ON FUNCTION crmpool.owner_at(regclass, bigint, timestamptz, text) IS
	'Who owned the customer at the given time (NULL: the pool, or unknown before crmpool managed it).  tenant as in crmpool.history().';

CREATE FUNCTION crmpool.ownership_log(rel regclass, customer bigint, tenant text DEFAULT NULL)
RETURNS TABLE(seq bigint, at timestamptz, owner bigint, how text, actor text, reason text)
LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_ownership_log_v2';
COMMENT ON FUNCTION crmpool.ownership_log(regclass, bigint, text) IS
	'The raw ownership events of a customer, with release reasons.  tenant as in crmpool.history().';

CREATE FUNCTION crmpool.rep_load(rel regclass, tenant text DEFAULT NULL)
RETURNS TABLE(rep bigint, owned integer, locked integer, with_deal integer, claims_today integer)
LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_rep_load_v2';
COMMENT ON FUNCTION crmpool.rep_load(regclass, text) IS
	'Per rep: customers owned, locked, owned with a deal, and claimed today; of one tenant (required for a table with a tenant column).';

CREATE FUNCTION crmpool.find_duplicates(rel regclass, name text DEFAULT NULL, phone text DEFAULT NULL,
										email text DEFAULT NULL, min_score real DEFAULT NULL,
										tenant text DEFAULT NULL)
RETURNS TABLE(customer bigint, matched_on text, score real, owner bigint, pool text)
LANGUAGE C CALLED ON NULL INPUT STABLE ROWS 10
AS 'MODULE_PATHNAME', 'crmpool_find_duplicates_v2';
COMMENT ON FUNCTION crmpool.find_duplicates(regclass, text, text, text, real, text) IS
	'The 查重 screen: existing customers of one tenant (required for a table with a tenant column) matching a name, phone or e-mail, best first, with where they sit.';
