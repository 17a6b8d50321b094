-- Every managed table gets its default pool and a pool per value in its pool column, as
-- crmpool.manage() adopts them (src/admin/manage.c, adopt_pools), dated the table's managed_at.
-- The values are read as the table's owner (SET LOCAL ROLE), never as the superuser running
-- the update: nothing of a user's runs as the superuser.
DO $$
DECLARE
	m record;
	adopted text[];
BEGIN
	FOR m IN SELECT t.rel, t.pool_column, t.managed_at, pg_catalog.pg_get_userbyid(c.relowner) AS owner
			 FROM crmpool.managed_table t JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.rel
	LOOP
		adopted := ARRAY[NULL]::pg_catalog.text[];
		IF m.pool_column IS NOT NULL THEN
			EXECUTE pg_catalog.format('SET LOCAL ROLE %I', m.owner);
			EXECUTE pg_catalog.format('SELECT pg_catalog.array_agg(DISTINCT %1$I::pg_catalog.text) FROM ONLY %2$s WHERE %1$I IS NOT NULL',
									  m.pool_column, m.rel)
				INTO adopted;
			RESET ROLE;
			adopted := COALESCE(adopted, '{}') OPERATOR(pg_catalog.||) ARRAY[NULL]::pg_catalog.text[];
		END IF;
		INSERT INTO crmpool.pool (tenant, rel, pool, options, created_at)
		SELECT '', m.rel, p, '{}', m.managed_at FROM pg_catalog.unnest(adopted) AS p
		ON CONFLICT ON CONSTRAINT pool_key DO NOTHING;
	END LOOP;
END;
$$;
