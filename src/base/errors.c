/*
 * errors.c: what crmpool's own errors say beyond their SQLSTATE (crmpool.h lists the codes).
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "base/base.h"

/* The short name of a refusal (claim_many's outcome), or NULL if sqlerrcode is not one. */
const char *
crmpool_refusal_name(int sqlerrcode)
{
	switch (sqlerrcode)
	{
		case ERRCODE_CRMPOOL_UNKNOWN_CUSTOMER:
			return "unknown_customer";
		case ERRCODE_CRMPOOL_ALREADY_OWNED:
			return "already_owned";
		case ERRCODE_CRMPOOL_NOT_OWNER:
			return "not_owner";
		case ERRCODE_CRMPOOL_LOCKED:
			return "locked";
		case ERRCODE_CRMPOOL_PRIVATE_CAP:
			return "private_cap_reached";
		case ERRCODE_CRMPOOL_LOCK_CAP:
			return "lock_cap_reached";
		case ERRCODE_CRMPOOL_DAILY_LIMIT:
			return "daily_limit_reached";
		case ERRCODE_CRMPOOL_COOLDOWN:
			return "reclaim_cooldown";
		case ERRCODE_CRMPOOL_HOLDBACK:
			return "pool_holdback";
		case ERRCODE_CRMPOOL_DIRECT_WRITE:
			return "direct_write_rejected";
		case ERRCODE_CRMPOOL_HAS_DEAL:
			return "has_deal";
		case ERRCODE_CRMPOOL_INACTIVE_REP:
			return "inactive_rep";
		case ERRCODE_CRMPOOL_DUPLICATE:
			return "duplicate";
		default:
			return NULL;
	}
}

/*
 * The hint of every CR013 error.  0.1's SQL has no crmpool.check() (a new library before ALTER
 * EXTENSION UPDATE): the hint says to update first rather than name a function that is not there.
 */
int
crmpool_repair_hint(Oid relid)
{
	char	   *name = quote_literal_cstr(get_rel_name(relid));
	Oid			argtypes[1] = {REGCLASSOID};
	bool		has_check = OidIsValid(crmpool_function_oid("check", 1, argtypes));

	return errhint("crmpool's triggers on the table were bypassed (DISABLE TRIGGER, session_replication_role = replica). "
				   "%sRun crmpool.check(%s) to list what differs and crmpool.repair(%s) to fix it.",
				   has_check ? "" : "Update the extension first (ALTER EXTENSION crmpool UPDATE), which adds them. ",
				   name, name);
}
