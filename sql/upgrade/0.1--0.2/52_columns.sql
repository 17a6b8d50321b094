-- Section 3 of issue 9: the app's own lock, owner-time and soft-delete columns
-- (sql/parts/10_core.sql; src/admin/manage.c, src/trigger/ownership.c).

ALTER TABLE crmpool.managed_table ADD COLUMN lock_column name, ADD COLUMN owner_since_column name,
	ADD COLUMN deleted_column name;

CREATE OR REPLACE VIEW crmpool.managed_tables AS
	SELECT rel, key_column, owner_column, pool_column, followup_column, deal_column, level_column,
		managed_at, tenant_column, lock_column, owner_since_column, deleted_column
	FROM crmpool.managed_table;

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

-- the new mapped columns cannot be dropped either
CREATE OR REPLACE FUNCTION crmpool.forget_dropped_tables()
RETURNS event_trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	gone oid[];
	mapped record;
BEGIN
	IF pg_catalog.to_regclass('crmpool.managed_table') IS NULL THEN
		RETURN;
	END IF;
	SELECT pg_catalog.array_agg(d.objid) INTO gone
	FROM pg_catalog.pg_event_trigger_dropped_objects() AS d
	WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
	  AND d.objsubid OPERATOR(pg_catalog.=) 0;
	-- a dropped column is listed under the name it had (address_names: schema, table, column)
	SELECT m.rel, c.role, c.col INTO mapped
	FROM pg_catalog.pg_event_trigger_dropped_objects() AS d
	JOIN crmpool.managed_table m ON m.rel OPERATOR(pg_catalog.=) d.objid
	LEFT JOIN crmpool.identity_config i ON i.rel OPERATOR(pg_catalog.=) m.rel
	CROSS JOIN LATERAL (
		VALUES ('primary key', m.key_column), ('owner', m.owner_column), ('pool', m.pool_column),
			   ('follow-up', m.followup_column), ('deal', m.deal_column), ('level', m.level_column),
			   ('tenant', m.tenant_column), ('lock', m.lock_column),
			   ('owner-since', m.owner_since_column), ('deleted', m.deleted_column),
			   ('name', i.name_column)
		UNION ALL SELECT 'phone', p FROM pg_catalog.unnest(i.phone_columns) AS p
		UNION ALL SELECT 'e-mail', e FROM pg_catalog.unnest(i.email_columns) AS e
	) AS c(role, col)
	WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
	  AND d.objsubid OPERATOR(pg_catalog.>) 0
	  AND c.col OPERATOR(pg_catalog.=) d.address_names[3]::pg_catalog.name
	  AND NOT d.objid OPERATOR(pg_catalog.=) ANY (COALESCE(gone, '{}'))
	LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'cannot drop column % of table % because crmpool reads it', mapped.col, mapped.rel
			USING ERRCODE = 'dependent_objects_still_exist',
				  DETAIL = pg_catalog.format('It is the %s column of a table crmpool manages.', mapped.role),
				  HINT = 'Map the table without it first (crmpool.manage() or crmpool.set_identity()), or detach the table with crmpool.unmanage().';
	END IF;
	IF gone IS NULL THEN
		RETURN;
	END IF;
	DELETE FROM crmpool.customer_lock WHERE rel OPERATOR(pg_catalog.=) ANY (gone::pg_catalog.regclass[]);
	DELETE FROM crmpool.recycle_due WHERE rel OPERATOR(pg_catalog.=) ANY (gone::pg_catalog.regclass[]);
	DELETE FROM crmpool.recycle_warning WHERE rel OPERATOR(pg_catalog.=) ANY (gone::pg_catalog.regclass[]);
	DELETE FROM crmpool.followup WHERE rel OPERATOR(pg_catalog.=) ANY (gone::pg_catalog.regclass[]);
	DELETE FROM crmpool.ownership_event WHERE rel OPERATOR(pg_catalog.=) ANY (gone::pg_catalog.regclass[]);
	DELETE FROM crmpool.rep_counter WHERE rel OPERATOR(pg_catalog.=) ANY (gone::pg_catalog.regclass[]);
	DELETE FROM crmpool.identity_key WHERE rel OPERATOR(pg_catalog.=) ANY (gone::pg_catalog.regclass[]);
	DELETE FROM crmpool.identity_name WHERE rel OPERATOR(pg_catalog.=) ANY (gone::pg_catalog.regclass[]);
	DELETE FROM crmpool.duplicate_warning WHERE rel OPERATOR(pg_catalog.=) ANY (gone::pg_catalog.regclass[]);
	DELETE FROM crmpool.managed_table WHERE rel OPERATOR(pg_catalog.=) ANY (gone::pg_catalog.regclass[]);
END;
$$;
