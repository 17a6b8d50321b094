-- pg_dump keeps the distribution cursors, log and pool order (sql/parts/18_distribute.sql).
-- Registered after crmpool.rep_config, as an updated 0.1 registers them
-- (sql/upgrade/0.1--0.2/61_distribute_dump.sql): the order of registration must agree.
SELECT pg_catalog.pg_extension_config_dump('crmpool.distribute_cursor', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.distribute_log', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.pool_order', '');

-- Per table, pool and rep: the customers received in the last 30 days, by mode.  Readable by
-- who may read the table (the security barrier keeps other tables' rows out).
CREATE VIEW crmpool.distribution_stats WITH (security_barrier) AS
	SELECT m.rel,
		CASE WHEN m.tenant_column IS NULL THEN NULL
			 ELSE COALESCE(n.name, l.tenant::pg_catalog.text) END AS tenant,
		l.pool, l.rep,
		pg_catalog.count(*) AS received,
		pg_catalog.count(*) FILTER (WHERE l.mode OPERATOR(pg_catalog.=) 'round_robin') AS round_robin,
		pg_catalog.count(*) FILTER (WHERE l.mode OPERATOR(pg_catalog.=) 'lottery') AS lottery,
		pg_catalog.count(*) FILTER (WHERE l.mode OPERATOR(pg_catalog.=) 'performance') AS performance,
		pg_catalog.count(*) FILTER (WHERE l.mode OPERATOR(pg_catalog.=) 'least_busy') AS least_busy,
		pg_catalog.max(l.at) AS last_received
	FROM crmpool.distribute_log l
	JOIN crmpool.managed_table m ON m.table_id OPERATOR(pg_catalog.=) l.table_id
	LEFT JOIN crmpool.tenant_name n
		ON n.table_id OPERATOR(pg_catalog.=) l.table_id AND n.tenant OPERATOR(pg_catalog.=) l.tenant
	WHERE l.at OPERATOR(pg_catalog.>=) (pg_catalog.now() OPERATOR(pg_catalog.-) '30 days'::pg_catalog.interval)
		AND pg_catalog.has_table_privilege(m.rel, 'SELECT')
	GROUP BY m.rel, m.tenant_column, n.name, l.tenant, l.pool, l.rep;
COMMENT ON VIEW crmpool.distribution_stats IS 'Customers each rep received per pool in the last 30 days, by distribution mode.';
GRANT SELECT ON crmpool.distribution_stats TO PUBLIC;
