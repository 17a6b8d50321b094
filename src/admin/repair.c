/*
 * repair.c: crmpool.check() and crmpool.repair(): crmpool's bookkeeping against the table.
 *
 * crmpool keeps its counters, history, locks, due times and identity keys in step with a
 * managed table through the table's triggers.  Whatever bypasses them (ALTER TABLE ... DISABLE
 * TRIGGER, session_replication_role = replica as pg_restore --disable-triggers and logical
 * replication's apply worker run) leaves the two apart; the next write that notices raises
 * CR013 with a hint to come here.
 *
 * check() lists every disagreement, one row each: kind, customer, rep, what crmpool should
 * hold (expected, from the table) and what it holds (found).  repair() finds the same and fixes
 * it: it appends events (how "repair", or "delete" for a customer that is gone; reason
 * "repair"), never deleting history; drops locks and due rows that no longer apply, writes the
 * due rows and identity keys the rows call for, and sets the counters to the table's counts.
 * It returns the rows it fixed.
 *
 * One pass, in customer order, merges the table (read by key) with crmpool's tables (read by
 * customer), a chunk of each at a time: memory stays flat in the size of the table.  The table
 * is read as its owner in a security-restricted operation, with row_security off (a policy that
 * would hide rows is an error, not a false "gone"), like VACUUM reads it; everything computed
 * from a row (pool and level text, identity keys: type output functions that a user may
 * define) is computed there too.  crmpool's own tables are read and written as the extension
 * owner, running nothing of the user's.  Both functions take EXCLUSIVE on the table, as
 * manage() does: no write of the table, and so none of its bookkeeping, happens meanwhile.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "trigger/trigger.h"

/* Rows fetched from each cursor at a time. */
#define REPAIR_CHUNK 1000

/* ---------------------------------------------------------------------------------------------
 * crmpool's side: statements on its tables, each ordered by customer
 * -------------------------------------------------------------------------------------------*/
typedef enum RepairStmt
{
	RP_EVENTS,
	RP_LOCKS,
	RP_DUE,
	RP_FOLLOWUPS,
	RP_KEYS,
	RP_NAMES,
	RP_COUNTERS,
	RP_SET_COUNTER,
	/* the streams of customers of a table whose tenants sort by name, in RP_EVENTS' order */
	RP_EVENTS_BY_NAME,
	RP_LOCKS_BY_NAME,
	RP_DUE_BY_NAME,
	RP_FOLLOWUPS_BY_NAME,
	RP_KEYS_BY_NAME,
	RP_NAMES_BY_NAME,
	NUM_REPAIR_STMTS
} RepairStmt;

/*
 * Every stream is read in (customer, tenant) order, as the table (examine): ids repeat across
 * the tenants of a table keyed (tenant, id), and each (customer, tenant) is one customer.
 * Tenants in tenant order (tenants.c): by key, which is an integer tenant's value, or for a
 * table whose tenants sort by name (text ones), by the name the dictionary keeps, joined:
 * BY_KEY(T, inner, then) and BY_NAME(T, inner, then) read inner (whose first column is the
 * customer and, on 0.2's tables, last the tenant) in that order, then by the columns `then`
 * names.  BY_NAME adds the tenant's name as the last column.
 */
#define BY_KEY(T, inner, then) inner " ORDER BY customer" T(", tenant") then
#define BY_NAME(T, inner, then) \
	"SELECT s.*" T(", n.name") " FROM (" inner ") s" \
	T(" LEFT JOIN crmpool.tenant_name n ON n.table_id" EQ "$1 AND n.tenant" EQ "s.tenant") \
	" ORDER BY s.customer" T(", n.name " TENANT_NAME_ORDER ", s.tenant") then

/* each customer's last event (DISTINCT ON: in key order already) */
#define RP_EVENTS_INNER(T) \
	"SELECT DISTINCT ON (customer" T(", tenant") ") customer, owner, how, at" T(", tenant") " FROM crmpool.ownership_event " \
	"WHERE " TABLE_ID(T) EQ "$1 ORDER BY customer, " T("tenant, ") "seq DESC"
#define RP_EVENTS_SQL(T) RP_EVENTS_INNER(T)
#define RP_EVENTS_BY_NAME_SQL(T) BY_NAME(T, RP_EVENTS_INNER(T), "")

#define RP_LOCKS_INNER(T) \
	"SELECT customer, rep" T(", tenant") " FROM crmpool.customer_lock WHERE " TABLE_ID(T) EQ "$1"
#define RP_LOCKS_SQL(T) BY_KEY(T, RP_LOCKS_INNER(T), "")
#define RP_LOCKS_BY_NAME_SQL(T) BY_NAME(T, RP_LOCKS_INNER(T), "")

#define RP_DUE_INNER(T) \
	"SELECT customer, owner, since, due_at, rule, warn_at" T(", tenant") " FROM crmpool.recycle_due " \
	"WHERE " TABLE_ID(T) EQ "$1"
#define RP_DUE_SQL(T) BY_KEY(T, RP_DUE_INNER(T), "")
#define RP_DUE_BY_NAME_SQL(T) BY_NAME(T, RP_DUE_INNER(T), "")

#define RP_FOLLOWUPS_INNER(T) \
	"SELECT customer, pg_catalog.max(at)" T(", tenant") " FROM crmpool.followup WHERE " TABLE_ID(T) EQ "$1 " \
	"GROUP BY customer" T(", tenant")
#define RP_FOLLOWUPS_SQL(T) BY_KEY(T, RP_FOLLOWUPS_INNER(T), "")
#define RP_FOLLOWUPS_BY_NAME_SQL(T) BY_NAME(T, RP_FOLLOWUPS_INNER(T), "")

#define RP_KEYS_INNER(T) \
	"SELECT customer, kind, key" T(", tenant") " FROM crmpool.identity_key WHERE " TABLE_ID(T) EQ "$1"
#define RP_KEYS_SQL(T) BY_KEY(T, RP_KEYS_INNER(T), ", kind, key")
#define RP_KEYS_BY_NAME_SQL(T) BY_NAME(T, RP_KEYS_INNER(T), ", kind, key")

#define RP_NAMES_INNER(T) \
	"SELECT customer, name, core" T(", tenant") " FROM crmpool.identity_name WHERE " TABLE_ID(T) EQ "$1"
#define RP_NAMES_SQL(T) BY_KEY(T, RP_NAMES_INNER(T), "")
#define RP_NAMES_BY_NAME_SQL(T) BY_NAME(T, RP_NAMES_INNER(T), "")

#define RP_COUNTERS_SQL(T) \
	"SELECT rep, owned, locked, with_deal" T(", tenant") " FROM crmpool.rep_counter WHERE " TABLE_ID(T) EQ "$1 " \
	"ORDER BY " T("tenant, ") "rep"

#define RP_SET_COUNTER_SQL(T) \
	"INSERT INTO crmpool.rep_counter AS c (" T("tenant, ") TABLE_ID(T) ", rep, owned, locked, with_deal) " \
	"VALUES (" T("$6, ") "$1, $2, $3, $4, $5) ON CONFLICT (" T("tenant, ") TABLE_ID(T) ", rep) DO UPDATE SET owned = excluded.owned, " \
	"locked = excluded.locked, with_deal = excluded.with_deal"

static const CrmpoolStmt stmt_defs[NUM_REPAIR_STMTS] = {
	/* each customer's last event */
	[RP_EVENTS] = TENANT_STMT(RP_EVENTS_SQL, 1, {INT4OID}),
	[RP_LOCKS] = TENANT_STMT(RP_LOCKS_SQL, 1, {INT4OID}),
	[RP_DUE] = TENANT_STMT(RP_DUE_SQL, 1, {INT4OID}),
	[RP_FOLLOWUPS] = TENANT_STMT(RP_FOLLOWUPS_SQL, 1, {INT4OID}),
	[RP_KEYS] = TENANT_STMT(RP_KEYS_SQL, 1, {INT4OID}),
	[RP_NAMES] = TENANT_STMT(RP_NAMES_SQL, 1, {INT4OID}),
	[RP_COUNTERS] = TENANT_STMT(RP_COUNTERS_SQL, 1, {INT4OID}),
	/* claims made today are not the table's to say: kept */
	[RP_SET_COUNTER] = TENANT_STMT(RP_SET_COUNTER_SQL, 6, {INT4OID, INT8OID, INT4OID, INT4OID, INT4OID, INT8OID}),
	[RP_EVENTS_BY_NAME] = TENANT_STMT(RP_EVENTS_BY_NAME_SQL, 1, {INT4OID}),
	[RP_LOCKS_BY_NAME] = TENANT_STMT(RP_LOCKS_BY_NAME_SQL, 1, {INT4OID}),
	[RP_DUE_BY_NAME] = TENANT_STMT(RP_DUE_BY_NAME_SQL, 1, {INT4OID}),
	[RP_FOLLOWUPS_BY_NAME] = TENANT_STMT(RP_FOLLOWUPS_BY_NAME_SQL, 1, {INT4OID}),
	[RP_KEYS_BY_NAME] = TENANT_STMT(RP_KEYS_BY_NAME_SQL, 1, {INT4OID}),
	[RP_NAMES_BY_NAME] = TENANT_STMT(RP_NAMES_BY_NAME_SQL, 1, {INT4OID}),
};

static SPIPlanPtr stmt_plans[NUM_REPAIR_STMTS][2];

/* ---------------------------------------------------------------------------------------------
 * Who reads what
 * -------------------------------------------------------------------------------------------*/
typedef struct Roles
{
	Oid			table_owner;
	TableOwnerContext tctx;
	OwnerContext octx;
} Roles;

/*
 * As the table's owner, in a security-restricted operation with row_security off (privilege.c:
 * what VACUUM runs user code as; a policy that would hide rows is an error, never a customer
 * taken for gone), and back.
 */
static void
as_table_owner(Roles *r)
{
	crmpool_become_table_owner(r->table_owner, &r->tctx, true);
}

static void
as_caller(Roles *r)
{
	crmpool_leave_table_owner(&r->tctx);
}

/* ---------------------------------------------------------------------------------------------
 * Streams: a cursor read a chunk at a time, each row's first column the customer (or rep)
 * -------------------------------------------------------------------------------------------*/
typedef struct Stream
{
	Portal		portal;
	bool		of_table;		/* the user's table: fetched as its owner */
	bool		named;			/* read BY_NAME: the tenant's name follows the tenant */
	SPITupleTable *tt;
	uint64		n;
	uint64		pos;
	bool		done;
} Stream;

/*
 * Open stmt's stream of mr's rows: a stream of customers (RP_EVENTS to RP_NAMES) in tenant
 * order, by name when mr's tenants sort by name (0.2's tables only: 0.1's have no tenant).
 */
static void
stream_open(Stream *s, Roles *r, RepairStmt stmt, ManagedRel *mr)
{
	bool		named = stmt <= RP_NAMES && crmpool_has_tenants() && managed_tenant_by_name(mr);
	SPIPlanPtr	plan;
	Datum		arg = crmpool_table_id_datum(mr->table_id);

	if (named)
		stmt += RP_EVENTS_BY_NAME - RP_EVENTS;
	plan = crmpool_stmt_plan(&stmt_defs[stmt], stmt_plans[stmt]);
	memset(s, 0, sizeof(Stream));
	s->named = named;
	crmpool_become_owner(&r->octx);
	s->portal = SPI_cursor_open(NULL, plan, &arg, NULL, true);
	crmpool_restore_user(&r->octx);
}

/* The current row, fetching the next chunk when needed; NULL at the end. */
static HeapTuple
stream_row(Stream *s, Roles *r)
{
	if (s->pos < s->n)
		return s->tt->vals[s->pos];
	if (s->done)
		return NULL;
	if (s->tt != NULL)
		SPI_freetuptable(s->tt);
	if (s->of_table)
		as_table_owner(r);
	else
		crmpool_become_owner(&r->octx);
	SPI_cursor_fetch(s->portal, true, REPAIR_CHUNK);
	if (s->of_table)
		as_caller(r);
	else
		crmpool_restore_user(&r->octx);
	s->tt = SPI_tuptable;
	s->n = SPI_processed;
	s->pos = 0;
	if (s->n == 0)
	{
		s->done = true;
		return NULL;
	}
	return s->tt->vals[0];
}

static Datum
stream_value(Stream *s, int col, bool *isnull)
{
	return SPI_getbinval(s->tt->vals[s->pos], s->tt->tupdesc, col, isnull);
}

static Datum
stream_notnull(Stream *s, int col)
{
	bool		isnull;
	Datum		d = stream_value(s, col, &isnull);

	if (isnull)
		elog(ERROR, "crmpool read an unexpected null from one of its tables");
	return d;
}

/*
 * The tenant of the stream's current row: every stream reads it as its last column, or the one
 * before the tenant's name (0.1's tables have none: the one tenant CRMPOOL_NO_TENANT).
 */
static CrmpoolTenant
stream_tenant(Stream *s)
{
	if (!crmpool_has_tenants())
		return CRMPOOL_NO_TENANT;
	return DatumGetInt64(stream_notnull(s, s->tt->tupdesc->natts - (s->named ? 1 : 0)));
}

/* The name of the current row's tenant (NULL: an integer tenant, or none), for tenant order. */
static char *
stream_tenant_name(Stream *s)
{
	bool		isnull;
	Datum		d;

	if (!s->named)
		return NULL;
	d = stream_value(s, s->tt->tupdesc->natts, &isnull);
	return isnull ? NULL : TextDatumGetCString(d);
}

/* Whether the stream's current row is of `customer` (column 1) of `tenant`. */
static bool
stream_at(Stream *s, Roles *r, int64 customer, CrmpoolTenant tenant)
{
	return stream_row(s, r) != NULL && DatumGetInt64(stream_notnull(s, 1)) == customer &&
		stream_tenant(s) == tenant;
}

static void
stream_close(Stream *s)
{
	if (s->tt != NULL)
		SPI_freetuptable(s->tt);
	SPI_cursor_close(s->portal);
}

/* ---------------------------------------------------------------------------------------------
 * The table's side: what each row says, computed as the table's owner
 * -------------------------------------------------------------------------------------------*/
typedef struct RowFacts
{
	int64		customer;
	CrmpoolTenant tenant;
	char	   *tenant_name;	/* what the tenant sorts by (tenants.c); NULL: its key */
	bool		has_owner;
	int64		owner;
	bool		deal;
	bool		lock_flag;		/* the app's lock flag (lock_column) of an owned customer */
	DueInput	in;				/* pool, level, follow-up column (no since yet) */
	IdentityKeys keys;
	char	   *keys_text;		/* the keys as check() shows them */
} RowFacts;

/* The table, read by key: facts of REPAIR_CHUNK rows at a time, in their own context. */
typedef struct TableReader
{
	Stream		s;
	MemoryContext cxt;
	RowFacts   *facts;
	int			n;
	int			pos;
} TableReader;

static int
key_order(const void *a, const void *b)
{
	const char *const *x = a;
	const char *const *y = b;

	return strcmp(*x, *y);
}

/* "phone +8613800138000, email a@b.cn, name "Acme" (key acme)"; "none" when empty. */
static char *
keys_text(int nkeys, char **kinds_keys, bool has_name, const char *name, const char *core)
{
	StringInfoData buf;
	int			i;

	qsort(kinds_keys, nkeys, sizeof(char *), key_order);
	initStringInfo(&buf);
	for (i = 0; i < nkeys; i++)
		appendStringInfo(&buf, "%s%s %s", i > 0 ? ", " : "",
						 identity_kind_name(kinds_keys[i][0]), kinds_keys[i] + 1);
	if (has_name)
		appendStringInfo(&buf, "%sname \"%s\" (key %s)", nkeys > 0 ? ", " : "", name, core);
	if (buf.len == 0)
		appendStringInfoString(&buf, "none");
	return buf.data;
}

/* A key as kind character + key, so that sorting orders by kind then key (as the index). */
static char *
kind_key(char kind, const char *key)
{
	return psprintf("%c%s", kind, key);
}

static void
row_facts(ManagedRel *mr, HeapTuple row, TupleDesc desc, RowFacts *f)
{
	memset(f, 0, sizeof(RowFacts));
	f->customer = managed_key(mr, row, desc);
	f->tenant = managed_tenant(mr, row, desc);
	f->tenant_name = managed_tenant_sort_name(mr, row, desc);
	f->has_owner = managed_owner(mr, row, desc, &f->owner);
	f->deal = f->has_owner && managed_has_deal(mr, row, desc);
	f->lock_flag = f->has_owner && managed_lock_flag(mr, row, desc);
	if (f->has_owner)
		due_input(mr, row, desc, &f->in);
	if (mr->has_identity)
	{
		char	  **kk;
		int			i;

		identity_row_keys(mr, row, desc, &f->keys);
		kk = palloc(sizeof(char *) * Max(f->keys.nkeys, 1));
		for (i = 0; i < f->keys.nkeys; i++)
			kk[i] = kind_key(f->keys.kinds[i], f->keys.keys[i]);
		f->keys_text = keys_text(f->keys.nkeys, kk, f->keys.has_name, f->keys.name,
								 f->keys.has_name ? f->keys.parsed.key : NULL);
	}
	else
		f->keys_text = "none";
}

/* The current row's facts; NULL at the end of the table. */
static RowFacts *
table_row(TableReader *t, ManagedRel *mr, Roles *r, TupleDesc rowdesc)
{
	MemoryContext old;
	uint64		i;

	if (t->pos < t->n)
		return &t->facts[t->pos];
	t->s.pos = t->s.n;			/* the whole chunk is consumed */
	if (stream_row(&t->s, r) == NULL)
		return NULL;
	MemoryContextReset(t->cxt);
	old = MemoryContextSwitchTo(t->cxt);
	t->facts = palloc(sizeof(RowFacts) * t->s.n);
	as_table_owner(r);
	for (i = 0; i < t->s.n; i++)
	{
		HeapTupleData row;
		bool		isnull;

		managed_row_tuple(SPI_getbinval(t->s.tt->vals[i], t->s.tt->tupdesc, 1, &isnull), &row);
		row_facts(mr, &row, rowdesc, &t->facts[i]);
	}
	as_caller(r);
	MemoryContextSwitchTo(old);
	t->n = (int) t->s.n;
	t->pos = 0;
	return &t->facts[0];
}

/* ---------------------------------------------------------------------------------------------
 * The pass
 * -------------------------------------------------------------------------------------------*/
typedef struct RepCount
{
	CrmpoolTenant tenant;		/* hash key: tenant and rep */
	int64		rep;
	int32		owned;
	int32		locked;
	int32		with_deal;
} RepCount;

typedef struct Pass
{
	FunctionCallInfo fcinfo;
	ManagedRel *mr;
	bool		fix;
	TimestampTz now;
	Roles		roles;
	HTAB	   *counts;
	/* the tenant of what report() reports (has_tenant false: a table-wide row, "trigger") */
	bool		has_tenant;
	CrmpoolTenant tenant;
} Pass;

static void
report(Pass *p, const char *kind, bool has_customer, int64 customer, bool has_rep, int64 rep,
	   const char *expected, const char *found)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) p->fcinfo->resultinfo;
	Datum		values[6];
	bool		nulls[6] = {false, !has_customer, !has_rep, expected == NULL, found == NULL, true};

	values[0] = CStringGetTextDatum(kind);
	values[1] = Int64GetDatum(customer);
	values[2] = Int64GetDatum(rep);
	values[3] = expected ? CStringGetTextDatum(expected) : (Datum) 0;
	values[4] = found ? CStringGetTextDatum(found) : (Datum) 0;
	/* the customer's or rep's tenant, as the app writes it; null for a table without one */
	values[5] = (Datum) 0;
	if (p->has_tenant)
		values[5] = managed_tenant_datum_out(p->mr, p->tenant, &nulls[5]);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static RepCount *
rep_count(Pass *p, CrmpoolTenant tenant, int64 rep)
{
	bool		found;
	RepCount	key;
	RepCount   *c;

	memset(&key, 0, sizeof(key));
	key.tenant = tenant;
	key.rep = rep;
	c = hash_search(p->counts, &key, HASH_ENTER, &found);
	if (!found)
		c->owned = c->locked = c->with_deal = 0;
	return c;
}

static char *
owner_text(bool has_owner, int64 owner)
{
	return has_owner ? psprintf("rep " INT64_FORMAT, owner) : pstrdup("pool");
}

static char *
due_text(const DueInput *in, const Due *due)
{
	return psprintf("rep " INT64_FORMAT ": %s at %s, since %s, warn %s", in->owner, due->rule,
					crmpool_timestamp_text(due->due_at), crmpool_timestamp_text(in->since),
					due->has_warn ? crmpool_timestamp_text(due->warn_at) : "none");
}

/*
 * One customer, customer of tenant: f its row (NULL: not in the table), and the streams' rows
 * of it; the fixes are written under that tenant (the row's, or for a customer gone from the
 * table the one its bookkeeping was kept under).  Compares, reports, and (p->fix) repairs, in
 * the order that keeps the result true: history first (the new spell's start is the due rows'
 * "since"), then locks, due rows, identity keys.
 */
static void
one_customer(Pass *p, int64 customer, CrmpoolTenant tenant, RowFacts *f, Stream *events,
			 Stream *locks, Stream *due, Stream *followups, Stream *keys, Stream *names)
{
	ManagedRel *mr = p->mr;
	Roles	   *r = &p->roles;
	OwnerContext octx;
	bool		has_history = stream_at(events, r, customer, tenant);
	bool		history_gone = false;
	bool		history_owned = false;
	int64		history_owner = 0;
	TimestampTz history_at = 0;
	bool		spell_ok;
	bool		lock_ok = false;
	bool		want_due = false;
	DueInput	in;
	Due			want;

	p->has_tenant = true;
	p->tenant = tenant;

	/* history: the last event must say what the table says */
	if (has_history)
	{
		bool		isnull;
		Datum		owner = stream_value(events, 2, &isnull);
		char	   *how = TextDatumGetCString(stream_notnull(events, 3));

		history_owned = !isnull;
		history_owner = isnull ? 0 : DatumGetInt64(owner);
		history_gone = strcmp(how, "delete") == 0 || strcmp(how, "truncate") == 0;
		history_at = DatumGetTimestampTz(stream_notnull(events, 4));
		events->pos++;
	}
	if (f == NULL)
		spell_ok = !has_history || history_gone;
	else
		spell_ok = has_history && !history_gone && history_owned == f->has_owner &&
			(!f->has_owner || history_owner == f->owner);
	if (!spell_ok)
	{
		report(p, "spell", true, customer, f != NULL && f->has_owner, f ? f->owner : 0,
			   f ? owner_text(f->has_owner, f->owner) : "gone",
			   !has_history ? "no history" : history_gone ? "gone" :
			   owner_text(history_owned, history_owner));
		if (p->fix)
		{
			ledger_begin(&octx);
			if (f != NULL)
				ledger_record(mr->table_id, tenant, customer, p->now, f->has_owner, f->owner,
							  "repair", "repair", ledger_current_actor());
			else
				ledger_record(mr->table_id, tenant, customer, p->now, false, 0, "delete", "repair",
							  ledger_current_actor());
			ledger_end(&octx);
		}
		history_at = p->now;	/* the spell a repair opens starts now */
	}

	/* a lock stands only on a customer its rep still owns */
	if (stream_at(locks, r, customer, tenant))
	{
		int64		holder = DatumGetInt64(stream_notnull(locks, 2));

		/* with a lock column, the app's flag is the lock (ownership.c) */
		lock_ok = f != NULL && f->has_owner && f->owner == holder &&
			(mr->lock_att == InvalidAttrNumber || f->lock_flag);
		if (lock_ok)
			rep_count(p, tenant, holder)->locked++;
		else
		{
			report(p, "lock", true, customer, true, holder,
				   psprintf("none (%s)", f == NULL ? "gone" : !f->has_owner ? "in the pool" :
							f->owner != holder ? psprintf("rep " INT64_FORMAT " owns it", f->owner) :
							psprintf("column \"%s\" is not set",
									 get_attname(mr->relid, mr->lock_att, false))),
				   psprintf("locked by rep " INT64_FORMAT, holder));
			if (p->fix)
			{
				ledger_begin(&octx);
				(void) ledger_drop_lock(mr->table_id, stream_tenant(locks), customer);
				ledger_end(&octx);
			}
		}
		locks->pos++;
	}
	else if (f != NULL && f->lock_flag)
	{
		/* the app's lock flag is set, crmpool holds no lock: the flag wins */
		report(p, "lock", true, customer, true, f->owner,
			   psprintf("locked by rep " INT64_FORMAT " (column \"%s\")", f->owner,
						get_attname(mr->relid, mr->lock_att, false)),
			   "none");
		if (p->fix)
		{
			ledger_begin(&octx);
			(void) ledger_add_lock(mr->table_id, tenant, customer, f->owner, p->now);
			ledger_end(&octx);
		}
		lock_ok = true;
		rep_count(p, tenant, f->owner)->locked++;
	}

	if (f != NULL && f->has_owner)
	{
		RepCount   *c = rep_count(p, tenant, f->owner);

		c->owned++;
		c->with_deal += f->deal;
	}

	/* the due row: owned, unlocked customers a rule recycles */
	if (f != NULL && f->has_owner && mr->recycles)
	{
		in = f->in;
		in.since = history_at;
		in.locked = lock_ok;
		if (mr->followup_att == InvalidAttrNumber && stream_at(followups, r, customer, tenant))
		{
			bool		isnull;
			Datum		at = stream_value(followups, 2, &isnull);

			in.has_followup = !isnull;
			if (!isnull)
				in.followup = DatumGetTimestampTz(at);
		}
		want_due = due_compute(mr, &in, &want);
	}
	if (stream_at(followups, r, customer, tenant))
		followups->pos++;
	{
		char	   *expected = want_due ? due_text(&in, &want) : "none";
		char	   *found = "none";

		if (stream_at(due, r, customer, tenant))
		{
			DueInput	had;
			Due			was;
			bool		isnull;
			Datum		warn;

			had.owner = DatumGetInt64(stream_notnull(due, 2));
			had.since = DatumGetTimestampTz(stream_notnull(due, 3));
			was.due_at = DatumGetTimestampTz(stream_notnull(due, 4));
			was.rule = TextDatumGetCString(stream_notnull(due, 5));
			warn = stream_value(due, 6, &isnull);
			was.has_warn = !isnull;
			was.warn_at = isnull ? 0 : DatumGetTimestampTz(warn);
			found = due_text(&had, &was);
			due->pos++;
		}
		if (strcmp(expected, found) != 0)
		{
			report(p, "due", true, customer, f != NULL && f->has_owner, f ? f->owner : 0,
				   expected, found);
			if (p->fix)
			{
				ledger_begin(&octx);
				if (want_due)
					due_store(mr->table_id, tenant, customer, &in, &want);
				else
					due_drop(mr->table_id, tenant, customer);
				ledger_end(&octx);
			}
		}
	}

	/* identity keys: those the row gives (none for a gone customer or a table without) */
	{
		const char *expected = (f != NULL && mr->has_identity) ? f->keys_text : "none";
		char	  **stored = NULL;
		int			nstored = 0;
		int			maxstored = 0;
		bool		has_name = false;
		char	   *name = NULL;
		char	   *core = NULL;
		char	   *found;
		IdentityKeys had;		/* the stored keys, which a fix forgets */

		memset(&had, 0, sizeof(had));
		while (stream_at(keys, r, customer, tenant))
		{
			char		kind = DatumGetChar(stream_notnull(keys, 2));
			char	   *key = TextDatumGetCString(stream_notnull(keys, 3));

			if (nstored == maxstored)
			{
				maxstored = Max(8, maxstored * 2);
				stored = stored ? repalloc(stored, sizeof(char *) * maxstored) :
					palloc(sizeof(char *) * maxstored);
			}
			stored[nstored++] = kind_key(kind, key);
			identity_add_key(&had, kind, key);
			keys->pos++;
		}
		if (stream_at(names, r, customer, tenant))
		{
			has_name = true;
			name = TextDatumGetCString(stream_notnull(names, 2));
			core = TextDatumGetCString(stream_notnull(names, 3));
			names->pos++;
		}
		found = keys_text(nstored, stored, has_name, name, core);
		if (strcmp(expected, found) != 0)
		{
			IdentityKeys none;

			report(p, "identity", true, customer, f != NULL && f->has_owner, f ? f->owner : 0,
				   expected, found);
			memset(&none, 0, sizeof(none));
			if (p->fix)
			{
				ledger_begin(&octx);
				identity_replace_keys(mr, tenant, customer, &had,
									  (f != NULL && mr->has_identity) ? &f->keys : &none);
				ledger_end(&octx);
			}
		}
	}
}

static int
rep_order(const void *a, const void *b)
{
	const RepCount *x = a,
			   *y = b;

	if (x->tenant != y->tenant)
		return x->tenant < y->tenant ? -1 : 1;
	return x->rep < y->rep ? -1 : x->rep > y->rep ? 1 : 0;
}

static void
report_counter(Pass *p, const char *kind, int64 rep, int32 expected, int32 found)
{
	if (expected != found)
		report(p, kind, false, 0, true, rep, psprintf("%d", expected), psprintf("%d", found));
}

/* The counters: the table's counts against crmpool's, rep by rep (both in rep order). */
static void
counters(Pass *p, Roles *r)
{
	Stream		s;
	HASH_SEQ_STATUS seq;
	RepCount   *c;
	RepCount   *want;
	int			n = 0;
	int			i = 0;

	want = palloc(sizeof(RepCount) * Max(hash_get_num_entries(p->counts), 1));
	hash_seq_init(&seq, p->counts);
	while ((c = hash_seq_search(&seq)) != NULL)
		want[n++] = *c;
	qsort(want, n, sizeof(RepCount), rep_order);

	stream_open(&s, r, RP_COUNTERS, p->mr);
	for (;;)
	{
		bool		has_row = stream_row(&s, r) != NULL;
		RepCount	have = {0};
		RepCount	should = {0};

		if (!has_row && i == n)
			break;
		if (has_row)
		{
			have.tenant = stream_tenant(&s);
			have.rep = DatumGetInt64(stream_notnull(&s, 1));
		}
		if (has_row && (i == n || rep_order(&have, &want[i]) <= 0))
		{
			have.owned = DatumGetInt32(stream_notnull(&s, 2));
			have.locked = DatumGetInt32(stream_notnull(&s, 3));
			have.with_deal = DatumGetInt32(stream_notnull(&s, 4));
			s.pos++;
			if (i < n && rep_order(&want[i], &have) == 0)
				should = want[i++];
			should.tenant = have.tenant;
			should.rep = have.rep;
		}
		else
		{
			should = want[i++];
			/* crmpool has no row: it counts zero */
			memset(&have, 0, sizeof(have));
			have.tenant = should.tenant;
			have.rep = should.rep;
		}
		p->has_tenant = true;
		p->tenant = have.tenant;
		report_counter(p, "owned", have.rep, should.owned, have.owned);
		report_counter(p, "locked", have.rep, should.locked, have.locked);
		report_counter(p, "with_deal", have.rep, should.with_deal, have.with_deal);
		if (p->fix && (should.owned != have.owned || should.locked != have.locked ||
					   should.with_deal != have.with_deal))
		{
			OwnerContext octx;

			ledger_begin(&octx);
			crmpool_run_stmt(&stmt_defs[RP_SET_COUNTER], stmt_plans[RP_SET_COUNTER],
							 (Datum[]) {crmpool_table_id_datum(p->mr->table_id), Int64GetDatum(have.rep),
				Int32GetDatum(should.owned), Int32GetDatum(should.locked),
			Int32GetDatum(should.with_deal), crmpool_tenant_datum(have.tenant)}, NULL, false);
			ledger_end(&octx);
		}
	}
	stream_close(&s);
}

static void
examine(FunctionCallInfo fcinfo, bool fix)
{
	Pass		p;
	Oid			relid;
	TableReader table;
	Stream		events,
				locks,
				due,
				followups,
				keys,
				names;
	TupleDesc	rowdesc;
	HASHCTL		ctl;
	int			nestlevel;
	const char *silent;
	const char *why;
	MemoryContext percustomer;
	MemoryContext old;

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	memset(&p, 0, sizeof(p));
	p.roles.table_owner = crmpool_table_owner(relid);
	if (!OidIsValid(p.roles.table_owner))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	crmpool_require_owner(relid);
	ownership_require_settled(relid, fix ? "crmpool.repair()" : "crmpool.check()");

	/*
	 * A repair writes what it read, and a check reports it.  Under REPEATABLE READ or
	 * SERIALIZABLE the snapshot was taken before the lock below, and might not see a change
	 * committed just before it.
	 */
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TRANSACTION_STATE),
				 errmsg("crmpool.%s() must run under READ COMMITTED", fix ? "repair" : "check"),
				 errdetail("Its snapshot must be taken after it has locked the table: an older one could %s differences that a commit just before the lock removed.",
						   fix ? "write" : "report")));
	/* as manage(): nothing writes the table, or its bookkeeping, until we commit */
	LockRelationOid(relid, ExclusiveLock);
	p.mr = managed_rel_get(relid, false);
	p.fcinfo = fcinfo;
	p.fix = fix;
	p.now = crmpool_now();
	crmpool_init_srf(fcinfo);

	/* a table whose triggers do not fire (for its ordinary writers) drifts again at once */
	silent = managed_silent_trigger(p.mr, false, AccessShareLock, &why);
	if (silent != NULL && fix)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("crmpool's trigger %s on table %s is %s", silent, get_rel_name(relid), why),
				 errdetail("A repair would fall out of step again with the next write."),
				 errhint("Enable crmpool's triggers first: ALTER TABLE %s ENABLE TRIGGER ALL.",
						 p.mr->qualname)));
	if (silent != NULL)
		report(&p, "trigger", false, 0, false, 0, psprintf("%s enabled", silent), why);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = offsetof(RepCount, owned);
	ctl.entrysize = sizeof(RepCount);
	ctl.hcxt = CurrentMemoryContext;
	p.counts = hash_create("crmpool repair counts", 256, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);

	/* one snapshot for every cursor, taken under the lock */
	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	SPI_connect();

	memset(&table, 0, sizeof(table));
	table.cxt = AllocSetContextCreate(CurrentMemoryContext, "crmpool repair rows",
									  ALLOCSET_DEFAULT_SIZES);
	table.s.of_table = true;
	as_table_owner(&p.roles);
	/*
	 * In (customer, tenant) order, as the streams: an id is one row, or on a table keyed (tenant,
	 * id) one row per tenant, in tenant order
	 */
	table.s.portal = SPI_cursor_open_with_args(NULL,
											   psprintf("SELECT crmpool_row FROM ONLY %s crmpool_row ORDER BY %s%s%s",
														p.mr->qualname,
														quote_identifier(get_attname(relid, p.mr->key_att, false)),
														p.mr->tenant_in_key ? ", " : "",
														p.mr->tenant_in_key ?
														managed_tenant_order_sql(p.mr, NULL) : ""),
											   0, NULL, NULL, NULL, true, 0);
	as_caller(&p.roles);
	rowdesc = lookup_rowtype_tupdesc_copy(get_rel_type_id(relid), -1);

	stream_open(&events, &p.roles, RP_EVENTS, p.mr);
	stream_open(&locks, &p.roles, RP_LOCKS, p.mr);
	stream_open(&due, &p.roles, RP_DUE, p.mr);
	stream_open(&followups, &p.roles, RP_FOLLOWUPS, p.mr);
	stream_open(&keys, &p.roles, RP_KEYS, p.mr);
	stream_open(&names, &p.roles, RP_NAMES, p.mr);

	percustomer = AllocSetContextCreate(CurrentMemoryContext, "crmpool repair customer",
										ALLOCSET_DEFAULT_SIZES);
	for (;;)
	{
		RowFacts   *f = table_row(&table, p.mr, &p.roles, rowdesc);
		Stream	   *all[] = {&events, &locks, &due, &followups, &keys, &names};
		bool		any = (f != NULL);
		int64		customer = f ? f->customer : 0;
		CrmpoolTenant tenant = f ? f->tenant : CRMPOOL_NO_TENANT;
		char	   *tenant_name = f ? f->tenant_name : NULL;
		int			i;

		old = MemoryContextSwitchTo(percustomer);
		/* the lowest (customer, tenant) anyone has, tenants in tenant order */
		for (i = 0; i < lengthof(all); i++)
			if (stream_row(all[i], &p.roles) != NULL)
			{
				int64		c = DatumGetInt64(stream_notnull(all[i], 1));
				CrmpoolTenant t = stream_tenant(all[i]);
				char	   *t_name = stream_tenant_name(all[i]);

				if (!any || c < customer ||
					(c == customer && managed_tenant_cmp(p.mr, t, t_name, tenant, tenant_name) < 0))
				{
					customer = c;
					tenant = t;
					tenant_name = t_name;
				}
				any = true;
			}
		if (!any)
		{
			MemoryContextSwitchTo(old);
			break;
		}
		if (f != NULL && (f->customer != customer || f->tenant != tenant))
			f = NULL;
		one_customer(&p, customer, tenant, f, &events, &locks, &due, &followups, &keys, &names);
		MemoryContextSwitchTo(old);
		MemoryContextReset(percustomer);
		if (f != NULL)
			table.pos++;
		CHECK_FOR_INTERRUPTS();
	}
	stream_close(&table.s);
	stream_close(&events);
	stream_close(&locks);
	stream_close(&due);
	stream_close(&followups);
	stream_close(&keys);
	stream_close(&names);
	counters(&p, &p.roles);

	SPI_finish();
	PopActiveSnapshot();
	AtEOXact_GUC(true, nestlevel);
}

PG_FUNCTION_INFO_V1(crmpool_check);
Datum
crmpool_check(PG_FUNCTION_ARGS)
{
	examine(fcinfo, false);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(crmpool_repair);
Datum
crmpool_repair(PG_FUNCTION_ARGS)
{
	examine(fcinfo, true);
	return (Datum) 0;
}
