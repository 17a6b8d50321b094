-- A deferrable primary key does not make a table crmpool can manage: until the commit two rows
-- may hold the same customer id, and crmpool's bookkeeping is keyed by it.  PostgreSQL 15 and 17
-- never report a deferrable key as the primary key index; 18 does when asked
-- (RelationGetPrimaryKeyIndex(rel, true)), and crmpool must not ask: the same refusal on every
-- version (src/base/pg_compat.h).
\set VERBOSITY terse
CREATE TABLE deferred_key (id bigint PRIMARY KEY DEFERRABLE, owner_id bigint);
SELECT crmpool.manage('deferred_key', 'owner_id');
SELECT count(*) AS managed FROM crmpool.managed_table WHERE rel = 'deferred_key'::regclass;

-- nor may a managed table's key be replaced by a deferrable one
CREATE TABLE immediate_key (id bigint PRIMARY KEY, owner_id bigint);
SELECT crmpool.manage('immediate_key', 'owner_id');
ALTER TABLE immediate_key DROP CONSTRAINT immediate_key_pkey,
	ADD CONSTRAINT immediate_key_pkey PRIMARY KEY (id) DEFERRABLE INITIALLY DEFERRED;
SELECT c.condeferrable FROM pg_constraint c
 WHERE c.conrelid = 'immediate_key'::regclass AND c.contype = 'p';
DROP TABLE deferred_key, immediate_key;
