-- ---------------------------------------------------------------------------------------------
-- A dropped managed table takes its crmpool rows with it; a mapped column of a managed table
-- that stays cannot be dropped (ALTER TABLE ... DROP COLUMN, DROP TYPE ... CASCADE): every write
-- would fail and recycling would skip the table.  src/table/tables.c says why.  The event
-- trigger is sql/parts/12_forget_dropped_trigger.sql; sql/upgrade/0.1--0.2/81_forget_dropped.sql
-- is a link to this file, so that an updated 0.1 gets exactly this function (81_drop_forget_dropped.sql
-- first drops 0.1's version and its event trigger, which 81_forget_dropped_trigger.sql, a link
-- to 12_forget_dropped_trigger.sql, makes again: the update makes each of them once).
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION crmpool.forget_dropped_tables()
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
	-- its configuration and every state row (by its table_id) go with its row:
	-- crmpool.forget_table_config (sql/parts/70_dump_restore.sql)
	DELETE FROM crmpool.managed_table WHERE rel OPERATOR(pg_catalog.=) ANY (gone::pg_catalog.regclass[]);
END;
$$;
REVOKE ALL ON FUNCTION crmpool.forget_dropped_tables() FROM PUBLIC;
