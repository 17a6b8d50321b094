/*
 * settings.c: every crmpool.* setting, defined in one place (crmpool_define_gucs, from _PG_init).
 * Each setting's variable is read by the module named beside it in base.h.
 *
 * Contexts are chosen on purpose: what weakens enforcement or moves the clock is superuser-only
 * (PGC_SUSET); the actor label is a per-session knob (PGC_USERSET): the application's own,
 * unauthenticated statement of who acts, recorded beside the role, which is what privileges
 * are checked against.  Only recycling's label is kept from it.
 *
 * The normalizers' settings (crmpool.default_country, crmpool.name_threshold) are PGC_SUSET too.
 * They decide which rows the duplicate check treats as the same customer,
 * so a rep who could change them in a session could switch duplicate detection off for the
 * rows he inserts (crmpool.name_threshold = 1, or another default country, and his phone
 * numbers no longer equal the stored ones).  An administrator sets them per database or role.
 * Stored keys (indexes on normalize_phone(...)) must be rebuilt when default_country changes;
 * the two-argument form normalize_phone(phone, '86') does not depend on it.
 */
#include "postgres.h"

#include "mb/pg_wchar.h"
#include "parser/scansup.h"
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/varlena.h"

#include "base/base.h"

int			crmpool_direct_writes = DIRECT_WRITES_ENFORCE;
int			crmpool_intent = WRITE_INTENT_NONE;
char	   *crmpool_actor = NULL;
char	   *crmpool_tenant = NULL;
char	   *crmpool_fake_now = NULL;
char	   *crmpool_timezone = NULL;
char	   *crmpool_default_country = NULL;
double		crmpool_name_threshold = 0.8;
int			crmpool_recycle_batch_size = 1000;
int			crmpool_worker_naptime = 60;
char	   *crmpool_worker_databases = NULL;

static const struct config_enum_entry direct_writes_options[] = {
	{"enforce", DIRECT_WRITES_ENFORCE, false},
	{"enforce_owned", DIRECT_WRITES_ENFORCE_OWNED, false},
	{"reject", DIRECT_WRITES_REJECT, false},
	{"allow", DIRECT_WRITES_ALLOW, false},
	{NULL, 0, false}
};

static const struct config_enum_entry intent_options[] = {
	{"none", WRITE_INTENT_NONE, false},
	{"claim", WRITE_INTENT_CLAIM, false},
	{"release", WRITE_INTENT_RELEASE, false},
	{"assign", WRITE_INTENT_ASSIGN, false},
	{"transfer", WRITE_INTENT_TRANSFER, false},
	{"distribute", WRITE_INTENT_DISTRIBUTE, false},
	{"", WRITE_INTENT_NONE, true},
	{NULL, 0, false}
};

/*
 * crmpool.intent names what the plain writes of one transaction are.  It is meant for SET LOCAL
 * (or a function's SET clause), which PostgreSQL reverts when the transaction (the function)
 * ends.  A plain SET would outlive the transaction and silently turn every later write of the
 * session (a pooled connection: of whoever gets it next) into that operation; so the transaction
 * that set the value is remembered, and crmpool_write_intent() refuses a value set in an
 * earlier one.  Defaults from the configuration file, the database, the role or the connection
 * are refused outright: they are session-wide by nature.
 */
static LocalTransactionId intent_lxid = InvalidLocalTransactionId;

/*
 * The transaction a value of crmpool.intent or crmpool.tenant was set in is kept with the value,
 * as its GUC extra: PostgreSQL runs the check hook only for a new value (SET, SET LOCAL, a
 * function's SET clause, crmpool's own scope in managed_scope_push), and restores the value and
 * its extra together when a transaction, a savepoint or a function's SET clause ends.  So a value
 * an earlier transaction SET, restored by ROLLBACK TO SAVEPOINT or by the end of a SET LOCAL
 * over it, keeps that earlier transaction, where an assign hook that stamped the current one
 * would make it this transaction's own.  NULL: out of memory (the set fails).
 */
static bool
set_lxid_extra(void **extra)
{
	LocalTransactionId *lxid = crmpool_guc_malloc(sizeof(LocalTransactionId));

	if (lxid == NULL)
		return false;
	*lxid = MyProc != NULL ? CRMPOOL_MY_LXID : InvalidLocalTransactionId;
	*extra = lxid;
	return true;
}

/* The transaction the value being assigned was set in (its extra; none: never this one). */
static LocalTransactionId
extra_lxid(void *extra)
{
	return extra != NULL ? *(LocalTransactionId *) extra : InvalidLocalTransactionId;
}

static bool
check_intent(int *newval, void **extra, GucSource source)
{
	if (*newval == WRITE_INTENT_NONE || source == PGC_S_DEFAULT ||
		source == PGC_S_DYNAMIC_DEFAULT || source >= PGC_S_TEST)
		return set_lxid_extra(extra);
	GUC_check_errdetail("crmpool.intent applies to one transaction; it cannot be a default of the server, a database, a role or a connection.");
	GUC_check_errhint("Run SET LOCAL crmpool.intent = '%s' in the transaction of the write.",
					  crmpool_intent_name((WriteIntent) *newval));
	return false;
}

static void
assign_intent(int newval, void *extra)
{
	intent_lxid = extra_lxid(extra);
}

const char *
crmpool_intent_name(WriteIntent intent)
{
	return intent_options[intent].name;
}

/*
 * The intent of the current transaction's plain writes.  The ownership trigger calls it for
 * each ownership change that no crmpool function announced: one comparison when unset.
 */
WriteIntent
crmpool_write_intent(void)
{
	if (likely(crmpool_intent == WRITE_INTENT_NONE))
		return WRITE_INTENT_NONE;
	if (intent_lxid != CRMPOOL_MY_LXID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("crmpool.intent \"%s\" was set in an earlier transaction",
						crmpool_intent_name((WriteIntent) crmpool_intent)),
				 errdetail("crmpool.intent applies only to the transaction that sets it; a value set with SET instead of SET LOCAL outlives that transaction and is not applied to later writes."),
				 errhint("Run RESET crmpool.intent, and SET LOCAL crmpool.intent = '%s' inside the transaction of the write.",
						 crmpool_intent_name((WriteIntent) crmpool_intent))));
	return (WriteIntent) crmpool_intent;
}

/*
 * crmpool.tenant: the app's tenant whose customers the operations of this transaction take by
 * id (docs/reference.md, "Tenant scope").  Like crmpool.intent, it is meant for SET LOCAL in the
 * interceptor that sets the app's own tenant context: a plain SET outliving the transaction on a
 * pooled connection would scope the next request, of whatever tenant, to this one; so the
 * transaction that set it is remembered and crmpool_tenant_scope() refuses a value of an earlier
 * one.  Defaults (server, database, role, connection) are refused outright.
 */
static LocalTransactionId tenant_lxid = InvalidLocalTransactionId;

static bool
check_tenant(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
		return set_lxid_extra(extra);
	if (strlen(*newval) > CRMPOOL_TENANT_MAX_BYTES)
	{
		GUC_check_errdetail("It is %d bytes; crmpool keeps tenants of at most %d bytes.",
							(int) strlen(*newval), CRMPOOL_TENANT_MAX_BYTES);
		return false;
	}
	if (source == PGC_S_DEFAULT || source == PGC_S_DYNAMIC_DEFAULT || source >= PGC_S_TEST)
		return set_lxid_extra(extra);
	GUC_check_errdetail("crmpool.tenant applies to one transaction; it cannot be a default of the server, a database, a role or a connection.");
	GUC_check_errhint("Run SET LOCAL crmpool.tenant = '%s' in the transaction of the operation.",
					  *newval);
	return false;
}

/* as assign_intent: the transaction its value was set in (set_lxid_extra) */
static void
assign_tenant(const char *newval, void *extra)
{
	tenant_lxid = extra_lxid(extra);
}

/*
 * The tenant crmpool.tenant scopes this transaction's operations to, as the app writes it, or
 * NULL when it is not set.  One comparison when unset.
 */
const char *
crmpool_tenant_scope(void)
{
	if (likely(crmpool_tenant == NULL || crmpool_tenant[0] == '\0'))
		return NULL;
	if (tenant_lxid != CRMPOOL_MY_LXID)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("crmpool.tenant \"%s\" was set in an earlier transaction", crmpool_tenant),
				 errdetail("crmpool.tenant applies only to the transaction that sets it; a value set with SET instead of SET LOCAL outlives that transaction and is not applied to later operations."),
				 errhint("Run RESET crmpool.tenant, and SET LOCAL crmpool.tenant = '%s' inside the transaction of the operation.",
						 crmpool_tenant)));
	return crmpool_tenant;
}

static bool
check_fake_now(char **newval, void **extra, GucSource source)
{
	return crmpool_check_fake_now(newval, extra, (int) source);
}

/*
 * crmpool.actor is recorded in every event: keep it to CRMPOOL_ACTOR_MAX_CHARS, and keep
 * "crmpool" (any case, any surrounding blanks) for recycling's own events, so that no session
 * can make its release look like a recycle in the history.
 */
static bool
check_actor(char **newval, void **extra, GucSource source)
{
	const char *s;
	int			len;
	int			nchars;

	if (*newval == NULL)
		return true;
	s = *newval;
	len = strlen(s);
	while (len > 0 && scanner_isspace(s[len - 1]))
		len--;
	while (len > 0 && scanner_isspace(*s))
		s++, len--;
	if (len == strlen(CRMPOOL_RECYCLER_ACTOR) && pg_strncasecmp(s, CRMPOOL_RECYCLER_ACTOR, len) == 0)
	{
		GUC_check_errmsg("crmpool.actor cannot be \"%s\"", *newval);
		GUC_check_errdetail("\"%s\" is reserved for the events of crmpool's own recycling.",
							CRMPOOL_RECYCLER_ACTOR);
		GUC_check_errhint("Name the person or service acting, or leave crmpool.actor empty to record the current role.");
		return false;
	}
	nchars = pg_mbstrlen(*newval);
	if (nchars <= CRMPOOL_ACTOR_MAX_CHARS)
		return true;
	GUC_check_errdetail("It has %d characters; crmpool allows at most %d.", nchars,
						CRMPOOL_ACTOR_MAX_CHARS);
	return false;
}

static bool
check_timezone(char **newval, void **extra, GucSource source)
{
	return crmpool_check_timezone(newval, extra, (int) source);
}

bool
crmpool_valid_country_code(const char *cc)
{
	int			i;

	if (cc == NULL || cc[0] < '1' || cc[0] > '9')
		return false;
	for (i = 0; cc[i] != '\0'; i++)
		if (i == 3 || cc[i] < '0' || cc[i] > '9')
			return false;
	return true;
}

static bool
check_default_country(char **newval, void **extra, GucSource source)
{
	if (crmpool_valid_country_code(*newval))
		return true;
	GUC_check_errdetail("A country is given by its calling code: 1 to 3 digits without \"+\", such as \"86\".");
	return false;
}

static bool
check_worker_databases(char **newval, void **extra, GucSource source)
{
	char	   *raw = pstrdup(*newval);
	List	   *names;
	bool		ok = SplitIdentifierString(raw, ',', &names);

	if (!ok)
		GUC_check_errdetail("Give database names separated by commas; put a name with capitals, commas or spaces in double quotes.");
	list_free(names);
	pfree(raw);
	return ok;
}

void
crmpool_define_gucs(void)
{
	DefineCustomEnumVariable("crmpool.direct_writes",
							 "How crmpool treats ownership changes written by plain SQL.",
							 "enforce: checked by the rules of crmpool.assign and crmpool.release; "
							 "enforce_owned: as enforce, but taking a pool customer is a claim and "
							 "moving an owned one needs crmpool.intent assign, transfer or distribute; "
							 "reject: refused unless crmpool.intent names the operation; "
							 "allow: recorded in the history but not checked.",
							 &crmpool_direct_writes,
							 DIRECT_WRITES_ENFORCE,
							 direct_writes_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomEnumVariable("crmpool.intent",
							 "Which crmpool operation the plain writes of this transaction are.",
							 "none, claim, release, assign, transfer or distribute; set it with SET LOCAL.",
							 &crmpool_intent,
							 WRITE_INTENT_NONE,
							 intent_options,
							 PGC_USERSET,
							 0,
							 check_intent, assign_intent, NULL);

	DefineCustomStringVariable("crmpool.tenant",
							   "The tenant whose customers this transaction's crmpool operations take by id.",
							   "The app's tenant value as text; set it with SET LOCAL.  Empty: not set.  "
							   "Required on a table keyed (tenant, id); on a table keyed by id alone, "
							   "a customer of another tenant is then not found.",
							   &crmpool_tenant,
							   "",
							   PGC_USERSET,
							   0,
							   check_tenant, assign_tenant, NULL);

	DefineCustomStringVariable("crmpool.actor",
							   "Who is acting, as recorded in the ownership history.",
							   "Empty means the current database role.",
							   &crmpool_actor,
							   "",
							   PGC_USERSET,
							   0,
							   check_actor, NULL, NULL);

	DefineCustomStringVariable("crmpool.fake_now",
							   "A fixed time that every crmpool rule reads instead of the clock.",
							   "For tests and demonstrations; empty means the real clock.",
							   &crmpool_fake_now,
							   "",
							   PGC_SUSET,
							   0,
							   check_fake_now, crmpool_assign_fake_now, NULL);

	DefineCustomStringVariable("crmpool.timezone",
							   "The time zone of calendar days for daily claim limits.",
							   "Empty means the server's log_timezone.  Superuser-only, so that no "
							   "session can move its day (set it per database with ALTER DATABASE).",
							   &crmpool_timezone,
							   "",
							   PGC_SUSET,
							   0,
							   check_timezone, crmpool_assign_timezone, NULL);

	DefineCustomStringVariable("crmpool.default_country",
							   "Country calling code of phone numbers written without one.",
							   "Used by crmpool.normalize_phone when no default country is passed.",
							   &crmpool_default_country,
							   "86",
							   PGC_SUSET,
							   0,
							   check_default_country, NULL, NULL);

	/*
	 * 0.8 sits between the scores of the same company (1.0, or 0.90 with region and industry
	 * missing on one side) and of different ones (at most 0.75 for any difference in the core,
	 * 0.5 for any conflict): see name_similarity.c.
	 */
	DefineCustomRealVariable("crmpool.name_threshold",
							 "Lowest crmpool.name_similarity at which two company names are duplicates.",
							 NULL,
							 &crmpool_name_threshold,
							 0.8,
							 0.0, 1.0,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("crmpool.recycle_batch_size",
							"How many customers one recycle batch (one transaction) handles.",
							"crmpool.recycle() commits after each batch; the background worker too.",
							&crmpool_recycle_batch_size,
							1000, 1, 100000,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("crmpool.worker_naptime",
							"Time between two maintenance rounds of crmpool's background worker.",
							"Each round warns owners and recycles due customers in every database of crmpool.worker_databases; 0 turns the worker off.",
							&crmpool_worker_naptime,
							60, 0, 7 * 24 * 3600,
							PGC_SIGHUP,
							GUC_UNIT_S,
							NULL, NULL, NULL);

	DefineCustomStringVariable("crmpool.worker_databases",
							   "Databases that crmpool's background worker serves.",
							   "A comma-separated list; a database that does not exist yet or has no crmpool extension yet is tried again each round.",
							   &crmpool_worker_databases,
							   "",
							   PGC_SIGHUP,
							   GUC_LIST_INPUT,
							   check_worker_databases, NULL, NULL);
}
