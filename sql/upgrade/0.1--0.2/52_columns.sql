-- Section 3 of issue 9: the app's own lock, owner-time and soft-delete columns
-- (sql/parts/10_core.sql; src/admin/manage.c, src/trigger/ownership.c).

ALTER TABLE crmpool.managed_table ADD COLUMN lock_column name, ADD COLUMN owner_since_column name,
	ADD COLUMN deleted_column name;

-- crmpool.managed_tables shows them: 80_table_id.sql.

-- 0.1's six-argument manage() (C symbol crmpool_manage, which the library keeps) makes way for
-- the ten-argument one (tenant_column from 50_tenant.sql, then this part's three); calls that
-- name six or fewer arguments resolve to it unchanged.
DROP FUNCTION crmpool.manage(regclass, name, name, name, name, name);
CREATE FUNCTION crmpool.manage(rel regclass, owner_column name, pool_column name DEFAULT NULL,
							   followup_column name DEFAULT NULL, deal_column name DEFAULT NULL,
							   level_column name DEFAULT NULL, tenant_column name DEFAULT NULL,
							   lock_column name DEFAULT NULL, owner_since_column name DEFAULT NULL,
							   deleted_column name DEFAULT NULL)
RETURNS void LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_manage_v2';
COMMENT ON FUNCTION crmpool.manage(regclass, name, name, name, name, name, name, name, name, name) IS
	'Attach crmpool to an existing table: its single-column integer primary key is the customer id, owner_column (int4/int8, NULL = public pool) the owner; level_column names the customer level (A/B/C) that rules under "levels" apply to; tenant_column (integer or text, never NULL) keeps every count, cap, history and duplicate key per tenant; lock_column, owner_since_column and deleted_column are the app''s own lock flag, owner time and soft-delete mark.';

-- the new mapped columns cannot be dropped either: 0.2's crmpool.forget_dropped_tables()
-- (81_drop_forget_dropped.sql).
