-- Section 4 of issue 7: tables crmpool must refuse, or handle (src/table/tables.c).

-- A mapped column of a managed table that stays cannot be dropped.
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

-- also under session_replication_role = replica (a superuser's setting), which skips event
-- triggers enabled the default way: a table dropped there would leave its rows behind
ALTER EVENT TRIGGER crmpool_forget_dropped_tables ENABLE ALWAYS;

-- ALTER TABLE of a managed table: renames followed, changes crmpool cannot follow refused.
CREATE FUNCTION crmpool.check_altered_table()
RETURNS event_trigger LANGUAGE C
AS 'MODULE_PATHNAME', 'crmpool_check_altered_table';
COMMENT ON FUNCTION crmpool.check_altered_table() IS
	'Event trigger: follows renamed mapped columns of managed tables and refuses an ALTER TABLE that leaves a managed table crmpool cannot manage.';
REVOKE ALL ON FUNCTION crmpool.check_altered_table() FROM PUBLIC;

CREATE EVENT TRIGGER crmpool_check_altered_table ON ddl_command_end
	WHEN TAG IN ('ALTER TABLE', 'CREATE TABLE', 'ALTER FOREIGN TABLE', 'CREATE FOREIGN TABLE')
	EXECUTE FUNCTION crmpool.check_altered_table();
ALTER EVENT TRIGGER crmpool_check_altered_table ENABLE ALWAYS;

-- 0.1 let temporary tables be managed: at the end of their session their rows stayed behind,
-- for tables that no longer exist.  Nothing can reach them any more; they go.
DO $$
DECLARE
	t text;
BEGIN
	FOREACH t IN ARRAY ARRAY['customer_lock', 'recycle_due', 'recycle_warning', 'followup',
							 'ownership_event', 'rep_counter', 'identity_key', 'identity_name',
							 'duplicate_warning', 'managed_table'] LOOP
		EXECUTE pg_catalog.format('DELETE FROM crmpool.%I c WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_class r '
								  'WHERE r.oid OPERATOR(pg_catalog.=) c.rel)', t);
	END LOOP;
END;
$$;
