-- Pools as objects (issue 10): create_pool, alter_pool, drop_pool, pools(); members and admins
-- with their join order; manage() adopting the pool column's values; the default pool.
\set VERBOSITY default
SET crmpool.fake_now = '2026-03-02 09:00:00+00';
SET TimeZone = 'UTC';
CREATE FUNCTION pools_try(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	st text;
	msg text;
	det text;
	hint text;
BEGIN
	EXECUTE 'SELECT ' || q;
	RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
		hint = PG_EXCEPTION_HINT;
	RETURN st || ': ' || msg || coalesce(' / ' || nullif(det, ''), '') || coalesce(' / ' || nullif(hint, ''), '');
END $$;

-- a table shaped like yudao's crm_customer, with pools in pool_config (东区/西区)
CREATE TABLE crm_customer (
	id				bigint PRIMARY KEY,
	name			varchar(255) NOT NULL,
	owner_user_id	bigint,
	owner_time		timestamp,
	deal_status		boolean NOT NULL DEFAULT false,
	pool_config		varchar(64),
	tenant_id		bigint NOT NULL DEFAULT 1
);
INSERT INTO crm_customer (id, name, owner_user_id, pool_config)
SELECT g, 'C' || g, CASE WHEN g <= 2 THEN 7 END, CASE WHEN g % 3 = 0 THEN 'east' WHEN g % 3 = 1 THEN 'west' END
FROM generate_series(1, 12) g;
SELECT crmpool.manage('crm_customer', 'owner_user_id', pool_column => 'pool_config',
	deal_column => 'deal_status', owner_since_column => 'owner_time');

-- manage() adopted the values of the pool column as pools, and the default pool (NULL)
SELECT * FROM crmpool.pools('crm_customer');

-- create, alter, options
SELECT crmpool.create_pool('crm_customer', 'north', '{"description": "North China leads"}');
SELECT crmpool.create_pool('crm_customer', 'south');
SELECT crmpool.alter_pool('crm_customer', NULL, '{"description": "everyone''s pool"}');
SELECT crmpool.alter_pool('crm_customer', 'south', '{"description": "Guangdong"}');
SELECT pool, options FROM crmpool.pools('crm_customer');
-- bad input
SELECT pools_try($$crmpool.create_pool('crm_customer', 'north')$$);
SELECT pools_try($$crmpool.create_pool('crm_customer', NULL)$$);
SELECT pools_try($$crmpool.create_pool('crm_customer', '')$$);
SELECT pools_try($$crmpool.create_pool('crm_customer', 'x', '[1]')$$);
SELECT pools_try($$crmpool.create_pool('crm_customer', 'x', '{"colour": "red"}')$$);
SELECT pools_try($$crmpool.create_pool('crm_customer', 'x', '{"description": 5}')$$);
SELECT pools_try($$crmpool.create_pool('crm_customer', 'x', NULL)$$);
SELECT pools_try($$crmpool.create_pool('crm_customer', repeat('p', 201))$$);
SELECT pools_try($$crmpool.alter_pool('crm_customer', 'nowhere', '{}')$$);
SELECT pools_try($$crmpool.create_pool('pg_class', 'x')$$);

-- drop: refused for the default pool and while customers are in the pool
SELECT pools_try($$crmpool.drop_pool('crm_customer', NULL)$$);
SELECT pools_try($$crmpool.drop_pool('crm_customer', 'east')$$);
SELECT pools_try($$crmpool.drop_pool('crm_customer', 'nowhere')$$);
SELECT crmpool.drop_pool('crm_customer', 'south');
SELECT pool FROM crmpool.pools('crm_customer');

-- members and admins: reps and teams, the join order kept for those who stay
SELECT crmpool.set_rep('crm_customer', 21, team => 'sales-east');
SET crmpool.fake_now = '2026-03-02 09:01:00+00';
SELECT crmpool.set_rep('crm_customer', 20, team => 'sales-east');
SELECT crmpool.set_pool_members('crm_customer', 'east', reps => '{7, 8, 7}', teams => '{sales-east}');
SELECT crmpool.set_pool_admins('crm_customer', 'east', reps => '{100}');
SELECT * FROM crmpool.pool_members('crm_customer', 'east');
SET crmpool.fake_now = '2026-03-02 10:00:00+00';
-- 7 leaves, 9 joins: 8 and the team keep their place, 9 comes last
SELECT crmpool.set_pool_members('crm_customer', 'east', reps => '{9, 8}', teams => '{sales-east}');
SELECT * FROM crmpool.pool_members('crm_customer', 'east');
SELECT pool, members, admins FROM crmpool.pools('crm_customer');
SELECT pools_try($$crmpool.set_pool_members('crm_customer', 'east', reps => '{1, NULL}')$$);
SELECT pools_try($$crmpool.set_pool_members('crm_customer', 'east', teams => '{""}')$$);
SELECT pools_try($$crmpool.set_pool_members('crm_customer', 'nowhere', reps => '{1}')$$);
SELECT pools_try($$crmpool.pool_members('crm_customer', 'nowhere')$$);
-- dropping a pool takes its members with it
SELECT crmpool.set_pool_members('crm_customer', 'north', reps => '{8}');
SELECT crmpool.drop_pool('crm_customer', 'north');
SELECT crmpool.create_pool('crm_customer', 'north');
SELECT * FROM crmpool.pool_members('crm_customer', 'north');
-- the default pool has members too; none: open again
SELECT crmpool.set_pool_members('crm_customer', NULL, reps => '{8}');
SELECT * FROM crmpool.pool_members('crm_customer', NULL);
SELECT crmpool.set_pool_members('crm_customer', NULL);
SELECT count(*) FROM crmpool.pool_members('crm_customer', NULL);

-- only the table's owner configures pools; readers of the table may list them
CREATE ROLE pools_reader;
GRANT SELECT ON crm_customer TO pools_reader;
SET ROLE pools_reader;
SELECT pools_try($$crmpool.create_pool('crm_customer', 'mine')$$);
SELECT pools_try($$crmpool.set_pool_members('crm_customer', 'east', reps => '{1}')$$);
SELECT pools_try($$crmpool.drop_pool('crm_customer', 'north')$$);
SELECT count(*) FROM crmpool.pools('crm_customer');
RESET ROLE;

-- manage() again keeps the pools, their options and members, and adopts new values
UPDATE crm_customer SET pool_config = 'far-west' WHERE id = 12;
SELECT crmpool.manage('crm_customer', 'owner_user_id', pool_column => 'pool_config',
	deal_column => 'deal_status', owner_since_column => 'owner_time');
SELECT pool, options, members, admins FROM crmpool.pools('crm_customer');

-- unmanage() forgets them
SELECT crmpool.unmanage('crm_customer');
SELECT count(*) FROM crmpool.pool;
SELECT count(*) FROM crmpool.pool_member;
DROP TABLE crm_customer;
DROP ROLE pools_reader;
