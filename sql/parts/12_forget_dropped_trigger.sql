-- The event trigger that runs crmpool.forget_dropped_tables() (sql/parts/11_forget_dropped.sql).
CREATE EVENT TRIGGER crmpool_forget_dropped_tables ON sql_drop
	EXECUTE FUNCTION crmpool.forget_dropped_tables();
-- also under session_replication_role = replica (a superuser's setting), which skips event
-- triggers enabled the default way: a table dropped there would leave its rows behind
ALTER EVENT TRIGGER crmpool_forget_dropped_tables ENABLE ALWAYS;
