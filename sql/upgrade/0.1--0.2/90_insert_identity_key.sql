-- Insert cost (issue 11).  crmpool.identity_key has no index by customer any more.  The trigger
-- forgets a customer's keys by the primary key, from the old row's values that made them
-- (src/track/identity.c, forget), and crmpool.repair() by the keys it read: the index cost
-- every insert of a customer an entry per phone and e-mail and was only ever used to forget.
DROP INDEX crmpool.identity_key_customer;

-- The key's primary key has the key before its kind (sql/parts/50_identity.sql).
ALTER TABLE crmpool.identity_key DROP CONSTRAINT identity_key_pkey;
ALTER TABLE crmpool.identity_key ADD PRIMARY KEY (tenant, table_id, key, kind, customer);
