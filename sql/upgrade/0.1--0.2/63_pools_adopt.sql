-- Every managed table gets its default pool and a pool per value in its pool column, as
-- crmpool.manage() adopts them (src/admin/manage.c, adopt_pools), dated the table's managed_at.
-- A value is turned into text by format('%s'), that is by its type's output function, and only
-- where that function is built in (0.1 did not require it; 0.2 does, docs/reference.md, "Who may
-- call what"; otherwise only the default pool is adopted): no cast, operator or function of a
-- user's runs as the superuser running the update.
DO $$
DECLARE
	m record;
	adopted text[];
BEGIN
	FOR m IN SELECT t.rel, t.pool_column, t.managed_at FROM crmpool.managed_table t
	LOOP
		adopted := ARRAY[NULL]::pg_catalog.text[];
		IF m.pool_column IS NOT NULL AND EXISTS (
			SELECT FROM pg_catalog.pg_attribute a
			JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid
			JOIN pg_catalog.pg_type b ON b.oid OPERATOR(pg_catalog.=)
				CASE WHEN t.typtype OPERATOR(pg_catalog.=) 'd' THEN t.typbasetype ELSE t.oid END
			WHERE a.attrelid OPERATOR(pg_catalog.=) m.rel AND a.attname OPERATOR(pg_catalog.=) m.pool_column
			  AND b.typtype OPERATOR(pg_catalog.=) ANY ('{b,e}')
			  AND b.typcategory OPERATOR(pg_catalog.<>) 'A'
			  AND b.typoutput::pg_catalog.oid OPERATOR(pg_catalog.<) 16384) THEN
			EXECUTE pg_catalog.format('SELECT pg_catalog.array_agg(DISTINCT pg_catalog.format(''%%s'', %1$I)) FROM ONLY %2$s WHERE %1$I IS NOT NULL',
									  m.pool_column, m.rel)
				INTO adopted;
			adopted := COALESCE(adopted, '{}') OPERATOR(pg_catalog.||) ARRAY[NULL]::pg_catalog.text[];
		END IF;
		INSERT INTO crmpool.pool (tenant, rel, pool, options, created_at)
		SELECT '', m.rel, p, '{}', m.managed_at FROM pg_catalog.unnest(adopted) AS p
		ON CONFLICT ON CONSTRAINT pool_key DO NOTHING;
	END LOOP;
END;
$$;
