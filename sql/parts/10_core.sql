-- ---------------------------------------------------------------------------------------------
-- Core: managed tables, rules, rep counters, ownership events, customer locks.
-- The owner column of the user's table is the single truth of ownership; these tables hold
-- crmpool's bookkeeping, written only by crmpool's C code (as the extension owner).
-- ---------------------------------------------------------------------------------------------

-- Which tables crmpool manages, and the columns it reads.  Column names, not numbers, so that
-- pg_dump / restore (which renumbers columns) keeps working.  table_id is what crmpool's state
-- tables key the table by (docs/design.md, "Tenants and distribution"): given by manage(),
-- never reused (a table managed again gets a new one), and not its OID, which another server
-- or a restore gives it anew.  Its sequence is registered for pg_dump in
-- sql/parts/91_table_ids.sql, where an updated 0.1 registers it.
CREATE TABLE crmpool.managed_table (
	rel				regclass	PRIMARY KEY,
	key_column		name		NOT NULL,
	owner_column	name		NOT NULL,
	pool_column		name,
	followup_column	name,
	deal_column		name,
	level_column	name,
	managed_at		timestamptz	NOT NULL,
	table_id		integer		GENERATED ALWAYS AS IDENTITY,
	tenant_column	name,		-- NULL: one tenant, '' in the bookkeeping (docs/design.md)
	-- the app's own lock flag, owner-time and soft-delete columns (docs/reference.md)
	lock_column		name,
	owner_since_column	name,
	deleted_column	name,
	CONSTRAINT managed_table_table_id_key UNIQUE (table_id)
);
COMMENT ON TABLE crmpool.managed_table IS 'Tables attached with crmpool.manage(), and the columns crmpool reads.';

-- Rules, by scope: the table (every part NULL) narrowed by a tenant, a pool, and a team or a
-- rep.  Most specific wins (src/core/rules.c).  tenant and team come last: 0.1 had neither.
CREATE TABLE crmpool.rule_set (
	rel		regclass	NOT NULL,	-- no foreign key: sql/parts/70_dump_restore.sql
	pool	text,
	rep		bigint,
	rules	jsonb		NOT NULL,
	tenant	text,
	team	text,
	CONSTRAINT rule_set_scope UNIQUE NULLS NOT DISTINCT (tenant, rel, pool, team, rep),
	CONSTRAINT rule_set_team_or_rep CHECK (team IS NULL OR rep IS NULL)
);
COMMENT ON TABLE crmpool.rule_set IS 'Rules set with crmpool.set_rules(), one row per scope.';

-- Per rep and table: how many customers the rep owns, has locked, owns with a deal, and has
-- claimed today.  Its row is also the lock that serializes a rep's quota checks.
-- Every claim and release updates the rep's row, so pages are filled to 10% only: the other
-- 90% holds the row's new versions (HOT), a page holds few busy rows, and pruning a page is cheap.
CREATE TABLE crmpool.rep_counter (
	table_id	integer		NOT NULL,	-- crmpool.managed_table.table_id, as in every state table
	rep			bigint		NOT NULL,
	owned		integer		NOT NULL DEFAULT 0,
	locked		integer		NOT NULL DEFAULT 0,
	with_deal	integer		NOT NULL DEFAULT 0,
	claims_day	date,
	claims		integer		NOT NULL DEFAULT 0,
	tenant		bigint		NOT NULL,
	PRIMARY KEY (tenant, table_id, rep)
) WITH (fillfactor = 10);
COMMENT ON TABLE crmpool.rep_counter IS 'Per-rep counts kept by crmpool; always equal to the counts in the managed table.';

-- Append-only ownership ledger: each row says "from this moment the owner is X" (NULL: the
-- pool, or gone for how = delete / truncate).  A spell is the time between one event and the
-- next for the same customer, so spells can never overlap.
CREATE TABLE crmpool.ownership_event (
	table_id	integer		NOT NULL,
	customer	bigint		NOT NULL,
	seq			bigint		GENERATED ALWAYS AS IDENTITY,
	at			timestamptz	NOT NULL,
	owner		bigint,
	how			text		NOT NULL,
	actor		text,
	reason		text,
	tenant		bigint		NOT NULL,
	PRIMARY KEY (tenant, table_id, customer, seq)
);
COMMENT ON TABLE crmpool.ownership_event IS 'Append-only ownership history; read it through crmpool.history() and crmpool.ownership_log().';

-- Customers locked (锁定) by their owner: never released, reassigned or recycled.
CREATE TABLE crmpool.customer_lock (
	table_id	integer		NOT NULL,
	customer	bigint		NOT NULL,
	rep			bigint		NOT NULL,
	since		timestamptz	NOT NULL,
	tenant		bigint		NOT NULL,
	PRIMARY KEY (tenant, table_id, customer)
);
COMMENT ON TABLE crmpool.customer_lock IS 'Locked customers and the rep who locked them.';

-- pg_dump keeps crmpool's configuration and bookkeeping with the data.
SELECT pg_catalog.pg_extension_config_dump('crmpool.managed_table', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.rule_set', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.rep_counter', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.ownership_event', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.ownership_event_seq_seq', '');
SELECT pg_catalog.pg_extension_config_dump('crmpool.customer_lock', '');

REVOKE ALL ON ALL TABLES IN SCHEMA crmpool FROM PUBLIC;
GRANT USAGE ON SCHEMA crmpool TO PUBLIC;

CREATE VIEW crmpool.managed_tables AS
	SELECT rel, key_column, owner_column, pool_column, followup_column, deal_column, level_column,
		managed_at, tenant_column, lock_column, owner_since_column, deleted_column, table_id
	FROM crmpool.managed_table;
GRANT SELECT ON crmpool.managed_tables TO PUBLIC;

-- ---------------------------------------------------------------------------------------------
-- Attaching a table
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION crmpool.manage(rel regclass, owner_column name, pool_column name DEFAULT NULL,
							   followup_column name DEFAULT NULL, deal_column name DEFAULT NULL,
							   level_column name DEFAULT NULL, tenant_column name DEFAULT NULL,
							   lock_column name DEFAULT NULL, owner_since_column name DEFAULT NULL,
							   deleted_column name DEFAULT NULL)
RETURNS void LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_manage_v2';
COMMENT ON FUNCTION crmpool.manage(regclass, name, name, name, name, name, name, name, name, name) IS
	'Attach crmpool to an existing table: its single-column integer primary key is the customer id, owner_column (int4/int8, NULL = public pool) the owner; level_column names the customer level (A/B/C) that rules under "levels" apply to; tenant_column (integer or text, never NULL) keeps every count, cap, history and duplicate key per tenant; lock_column, owner_since_column and deleted_column are the app''s own lock flag, owner time and soft-delete mark.';

CREATE FUNCTION crmpool.unmanage(rel regclass)
RETURNS void LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_unmanage';
COMMENT ON FUNCTION crmpool.unmanage(regclass) IS
	'Detach crmpool from a table: drops its triggers, rules, counters, locks and ownership history.';

CREATE FUNCTION crmpool.ownership_trigger()
RETURNS trigger LANGUAGE C
AS 'MODULE_PATHNAME', 'crmpool_ownership_trigger';
COMMENT ON FUNCTION crmpool.ownership_trigger() IS
	'Checks and records every ownership change of a managed table, whatever path wrote it.';

-- ---------------------------------------------------------------------------------------------
-- Ownership operations
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION crmpool.claim(rel regclass, customer bigint, rep bigint)
RETURNS void LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_claim';
COMMENT ON FUNCTION crmpool.claim(regclass, bigint, bigint) IS
	'Take a customer from the public pool into the rep''s private pool, or raise a crmpool refusal.';

CREATE FUNCTION crmpool.claim_many(rel regclass, customers bigint[], rep bigint)
RETURNS TABLE(customer bigint, outcome text) LANGUAGE C CALLED ON NULL INPUT VOLATILE ROWS 20
AS 'MODULE_PATHNAME', 'crmpool_claim_many';
COMMENT ON FUNCTION crmpool.claim_many(regclass, bigint[], bigint) IS
	'Claim several customers; one row per customer with outcome "claimed" or the refusal''s name.';

-- crmpool.release() is in sql/parts/17_pools.sql (0.2 gave it to_pool)

CREATE FUNCTION crmpool.assign(rel regclass, customer bigint, rep bigint)
RETURNS void LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_assign';
COMMENT ON FUNCTION crmpool.assign(regclass, bigint, bigint) IS
	'Admin: give a customer (from the pool or another rep) to a rep; the private cap applies, claim-only limits do not.';

CREATE FUNCTION crmpool.transfer(rel regclass, customer bigint, from_rep bigint, to_rep bigint)
RETURNS void LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_transfer';
COMMENT ON FUNCTION crmpool.transfer(regclass, bigint, bigint, bigint) IS
	'Move a customer from one rep to another; refused unless from_rep owns it.';

CREATE FUNCTION crmpool.lock(rel regclass, customer bigint, rep bigint)
RETURNS boolean LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_lock';
COMMENT ON FUNCTION crmpool.lock(regclass, bigint, bigint) IS
	'Lock an owned customer (only its owner may): it cannot be released, reassigned or recycled.  False if already locked.';

CREATE FUNCTION crmpool.unlock(rel regclass, customer bigint, rep bigint)
RETURNS boolean LANGUAGE C CALLED ON NULL INPUT VOLATILE
AS 'MODULE_PATHNAME', 'crmpool_unlock';
COMMENT ON FUNCTION crmpool.unlock(regclass, bigint, bigint) IS
	'Unlock a customer (only its owner may).  False if it was not locked.';

-- ---------------------------------------------------------------------------------------------
-- History and counters (readers check SELECT privilege on the managed table)
-- ---------------------------------------------------------------------------------------------
CREATE FUNCTION crmpool.history(rel regclass, customer bigint, tenant text DEFAULT NULL)
RETURNS TABLE(owner bigint, since timestamptz, until timestamptz, how_gained text, how_ended text, actor text)
LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_history_v2';
COMMENT ON FUNCTION crmpool.history(regclass, bigint, text) IS
	'Ownership spells of a customer, oldest first; until is NULL for the current owner.  tenant: the customer''s tenant (read from its row when NULL; needed once the row is gone).';

CREATE FUNCTION crmpool.owner_at(rel regclass, customer bigint, at timestamptz, tenant text DEFAULT NULL)
RETURNS bigint LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_owner_at_v2';
COMMENT ON FUNCTION crmpool.owner_at(regclass, bigint, timestamptz, text) IS
	'Who owned the customer at the given time (NULL: the pool, or unknown before crmpool managed it).  tenant as in crmpool.history().';

CREATE FUNCTION crmpool.ownership_log(rel regclass, customer bigint, tenant text DEFAULT NULL)
RETURNS TABLE(seq bigint, at timestamptz, owner bigint, how text, actor text, reason text)
LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_ownership_log_v2';
COMMENT ON FUNCTION crmpool.ownership_log(regclass, bigint, text) IS
	'The raw ownership events of a customer, with release reasons.  tenant as in crmpool.history().';

CREATE FUNCTION crmpool.rep_load(rel regclass, tenant text DEFAULT NULL)
RETURNS TABLE(rep bigint, owned integer, locked integer, with_deal integer, claims_today integer)
LANGUAGE C CALLED ON NULL INPUT STABLE
AS 'MODULE_PATHNAME', 'crmpool_rep_load_v2';
COMMENT ON FUNCTION crmpool.rep_load(regclass, text) IS
	'Per rep: customers owned, locked, owned with a deal, and claimed today; of one tenant (required for a table with a tenant column).';

-- A dropped managed table: sql/parts/11_forget_dropped.sql and 12_forget_dropped_trigger.sql.

-- ---------------------------------------------------------------------------------------------
-- ALTER TABLE of a managed table (and CREATE TABLE ... INHERITS one): a renamed mapped column
-- is followed; a change that leaves a table crmpool cannot manage (unlogged, a partition, in an
-- inheritance tree, without its primary key, a mapped column of a type crmpool does not read) is
-- refused.  src/table/tables.c.
-- ---------------------------------------------------------------------------------------------
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
