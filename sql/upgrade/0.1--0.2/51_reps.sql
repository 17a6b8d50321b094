-- ---------------------------------------------------------------------------------------------
-- Reps and teams: rules gain tenant and team scopes, crmpool.set_rep() and crmpool.reps() keep a
-- rep's team and whether it is active, crmpool.hand_over() moves a leaving rep's customers.
-- Here what only an update does: crmpool.rule_set gains tenant and team (last, as in a fresh
-- install: sql/parts/10_core.sql), and 0.1's set_rules, clear_rules and rules go (0.1's SQL
-- binds them to C symbols that keep working until this update).  Then 52_reps.sql, a link to
-- sql/parts/15_reps.sql, creates their replacements and the new objects, and 53_reps_dump.sql,
-- a link to sql/parts/95_reps.sql, registers crmpool.rep_config for pg_dump, after every table
-- 0.1 had, as a fresh install does.
-- ---------------------------------------------------------------------------------------------
ALTER TABLE crmpool.rule_set ADD COLUMN tenant text, ADD COLUMN team text;
ALTER TABLE crmpool.rule_set DROP CONSTRAINT rule_set_scope;
ALTER TABLE crmpool.rule_set ADD CONSTRAINT rule_set_scope UNIQUE NULLS NOT DISTINCT (tenant, rel, pool, team, rep),
	ADD CONSTRAINT rule_set_team_or_rep CHECK (team IS NULL OR rep IS NULL);

DROP FUNCTION crmpool.set_rules(regclass, jsonb, text, bigint);
DROP FUNCTION crmpool.clear_rules(regclass, text, bigint, text[]);
DROP FUNCTION crmpool.rules(regclass, text, bigint);
