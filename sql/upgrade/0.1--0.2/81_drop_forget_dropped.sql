-- 0.1's crmpool.forget_dropped_tables() goes, with the event trigger that depends on it, so that
-- 0.2's (81_forget_dropped.sql, a link to
-- sql/parts/11_forget_dropped.sql) is made with CREATE, never CREATE OR REPLACE, and its event
-- trigger again by 81_forget_dropped_trigger.sql (a link to sql/parts/12_forget_dropped_trigger.sql).
DROP EVENT TRIGGER crmpool_forget_dropped_tables;
DROP FUNCTION crmpool.forget_dropped_tables();
