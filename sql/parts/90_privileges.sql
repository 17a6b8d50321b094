-- ---------------------------------------------------------------------------------------------
-- Privileges.  assign and transfer skip the claim-only limits (daily limit, cooldown, hold-back)
-- and take the rep as an argument: only the roles the DBA grants them to may call them, and a
-- plain write that sets an owner is checked as an assign only for such a role (as a claim by the
-- new owner otherwise).  docs/reference.md, "Who may call what".
-- ---------------------------------------------------------------------------------------------
REVOKE EXECUTE ON FUNCTION crmpool.assign(regclass, bigint, bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION crmpool.transfer(regclass, bigint, bigint, bigint) FROM PUBLIC;
