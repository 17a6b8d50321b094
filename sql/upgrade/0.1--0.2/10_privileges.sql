
-- Privileges (sql/parts/90_privileges.sql): assign and transfer are no longer executable by
-- PUBLIC.  Roles that need them must be granted EXECUTE explicitly after the update.
REVOKE EXECUTE ON FUNCTION crmpool.assign(regclass, bigint, bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION crmpool.transfer(regclass, bigint, bigint, bigint) FROM PUBLIC;
