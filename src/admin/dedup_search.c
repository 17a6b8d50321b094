/*
 * dedup_search.c: searching for duplicates without writing anything.
 *
 *   find_duplicates   the 查重 screen: customers matching a name, phone or e-mail, best first,
 *                     with where each sits (owner or pool).  At the table's name_threshold it
 *                     returns exactly what a "block" policy would refuse (the same normalizers,
 *                     the same candidates, the same score); a lower min_score widens the search.
 *   duplicate_groups  one pass over a table's identity keys, for adopting crmpool on dirty
 *                     data: customers sharing a phone line or e-mail, or whose names have the
 *                     same core and score at or above the threshold, joined into groups.
 *   duplicate_warnings  the duplicates let in under a "warn" policy.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "trigger/trigger.h"

#define MAX_EXACT 1000
/*
 * duplicate_groups' runs: a tenant key as "tenant:" leads each run's text; for 0.2's tables
 * and (WITHOUT_TENANT) 0.1's, which have none (base.h, CrmpoolStmt)
 */
#define TENANT_PREFIX \
	"tenant::pg_catalog.text OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) "
/*
 * an e-mail's run is its mailbox (what comes before the space of its key, track.h); in key
 * order, the order of identity_key's primary key (tenant, table_id, key, kind, customer), the
 * keys of a run are together: no phone key starts with a mailbox (none has an '@')
 */
/* K: each row's tenant key, last (0.1's tables have none: every row is CRMPOOL_NO_TENANT's) */
#define GROUP_KEYS_SQL(T, K) \
	"SELECT kind::pg_catalog.text OPERATOR(pg_catalog.||) " T(TENANT_PREFIX) \
	"pg_catalog.split_part(key, ' ', 1), customer, key, " K " " \
	"FROM crmpool.identity_key WHERE " TABLE_ID(T) EQ "$1 ORDER BY " T("tenant, ") "key, kind, customer"
#define GROUP_NAMES_SQL(T, K) \
	"SELECT " T(TENANT_PREFIX) "core, customer, name, " K " " \
	"FROM crmpool.identity_name WHERE " TABLE_ID(T) EQ "$1 ORDER BY " T("tenant, ") "core, customer"
#define NO_TENANT_KEY "0::pg_catalog.int8"
#define CORE_RUN_LIMIT 500		/* pairwise scoring within one core, at most this many names */

static ManagedRel *
identity_rel(FunctionCallInfo fcinfo)
{
	Oid			relid;
	ManagedRel *mr;

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	crmpool_require_select(relid);
	mr = managed_rel_get(relid, false);
	if (!mr->has_identity)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table %s has no identity columns", get_rel_name(relid)),
				 errhint("Name them with crmpool.set_identity().")));
	return mr;
}

static int
match_by_customer(const void *a, const void *b)
{
	const IdentityMatch *x = a,
			   *y = b;

	return x->customer < y->customer ? -1 : x->customer > y->customer ? 1 : 0;
}

typedef struct Found
{
	int64		customer;
	float4		score;
	int			kinds;			/* bit 0 phone, 1 e-mail, 2 name */
} Found;

static int
found_best_first(const void *a, const void *b)
{
	const Found *x = a,
			   *y = b;

	if (x->score != y->score)
		return x->score > y->score ? -1 : 1;
	return x->customer < y->customer ? -1 : x->customer > y->customer ? 1 : 0;
}

static int
kind_bit(char kind)
{
	return kind == IDENTITY_KIND_PHONE ? 1 : kind == IDENTITY_KIND_PHONE_MAIN ? 8 :
		kind == IDENTITY_KIND_EMAIL ? 2 : 4;
}

static char *
kinds_text(int kinds)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (kinds & 1)
		appendStringInfoString(&buf, "phone");
	if (kinds & 8)
		appendStringInfo(&buf, "%sphone_main", buf.len ? "," : "");
	if (kinds & 2)
		appendStringInfo(&buf, "%semail", buf.len ? "," : "");
	if (kinds & 4)
		appendStringInfo(&buf, "%sname", buf.len ? "," : "");
	return buf.data;
}

/*
 * find_duplicates(): 0.1's five arguments (crmpool_find_duplicates, still bound by 0.1's SQL)
 * and 0.2's six (crmpool_find_duplicates_v2): the tenant whose customers are searched, which a
 * table with a tenant column needs.
 */
static Datum find_duplicates(FunctionCallInfo fcinfo, bool has_tenant);

PG_FUNCTION_INFO_V1(crmpool_find_duplicates);
Datum
crmpool_find_duplicates(PG_FUNCTION_ARGS)
{
	return find_duplicates(fcinfo, false);
}

PG_FUNCTION_INFO_V1(crmpool_find_duplicates_v2);
Datum
crmpool_find_duplicates_v2(PG_FUNCTION_ARGS)
{
	return find_duplicates(fcinfo, true);
}

static Datum
find_duplicates(FunctionCallInfo fcinfo, bool has_tenant)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ManagedRel *mr = identity_rel(fcinfo);
	CrmpoolTenant tenant = managed_tenant_arg(mr, fcinfo, has_tenant ? 5 : -1,
											"crmpool.find_duplicates()", NULL);
	IdentityKeys ik;
	RuleSet		rules;
	double		threshold;
	int			scope;
	OwnerContext octx;
	IdentityMatch *all;
	int			nall = 0;
	Found	   *found;
	int			nfound = 0;
	int			i;

	memset(&ik, 0, sizeof(ik));
	if (!PG_ARGISNULL(2))
	{
		text	   *t = PG_GETARG_TEXT_PP(2);

		identity_add_key(&ik, IDENTITY_KIND_PHONE,
						 crmpool_phone_canonical(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), NULL));
	}
	if (!PG_ARGISNULL(3))
	{
		text	   *t = PG_GETARG_TEXT_PP(3);

		identity_add_key(&ik, IDENTITY_KIND_EMAIL,
						 identity_email_key(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
	}
	if (!PG_ARGISNULL(1))
	{
		text	   *t = PG_GETARG_TEXT_PP(1);

		identity_set_name(&ik, VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
	}
	managed_rules(mr, tenant, NULL, false, 0, NULL, &rules);
	threshold = identity_threshold(&rules);
	if (!PG_ARGISNULL(4))
	{
		threshold = PG_GETARG_FLOAT4(4);
		if (!(threshold >= 0.0 && threshold <= 1.0))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("min_score must be from 0 to 1")));
	}

	crmpool_init_srf(fcinfo);

	ledger_begin(&octx);
	all = palloc(sizeof(IdentityMatch) * (ik.nkeys * MAX_EXACT + 1));
	/* the same switchboard too, whatever dedup_phone_main says (off keeps the keys, as every dedup_*) */
	for (i = 0; i < ik.nkeys; i++)
		nall += identity_key_matches(mr->table_id, tenant, ik.kinds[i], ik.keys[i], PG_INT64_MIN,
									 true, identity_email_folds(&rules), false, all + nall,
									 MAX_EXACT);
	if (ik.has_name)
	{
		IdentityMatch *names;
		int			n = identity_name_matches(mr->table_id, tenant, &ik, PG_INT64_MIN, threshold,
											  &names);

		all = repalloc(all, sizeof(IdentityMatch) * (nall + n + 1));
		memcpy(all + nall, names, sizeof(IdentityMatch) * n);
		nall += n;
	}

	/* one row per customer: the best score, every kind that matched (outlives the session) */
	qsort(all, nall, sizeof(IdentityMatch), match_by_customer);
	found = SPI_palloc(sizeof(Found) * (nall + 1));
	for (i = 0; i < nall; i++)
	{
		if (nfound == 0 || found[nfound - 1].customer != all[i].customer)
		{
			found[nfound].customer = all[i].customer;
			found[nfound].score = 0;
			found[nfound].kinds = 0;
			nfound++;
		}
		found[nfound - 1].score = Max(found[nfound - 1].score, all[i].score);
		found[nfound - 1].kinds |= kind_bit(all[i].kind);
	}
	qsort(found, nfound, sizeof(Found), found_best_first);
	ledger_end(&octx);

	/*
	 * Where each sits, read as the caller: what the caller's row-level security hides is left
	 * out, and the pool is converted in C, not by a cast.
	 */
	/* the tenant searched scopes where each sits (a key (tenant, id) needs it) */
	scope = managed_scope_push(mr, tenant);
	SPI_connect();
	for (i = 0; i < nfound; i++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};
		bool		has_owner;
		int64		owner;
		char	   *pool;

		if (!managed_locate(mr, found[i].customer, &has_owner, &owner, &pool))
			continue;			/* deleted meanwhile, or hidden from the caller */
		values[0] = Int64GetDatum(found[i].customer);
		values[1] = CStringGetTextDatum(kinds_text(found[i].kinds));
		values[2] = Float4GetDatum(found[i].score);
		values[3] = Int64GetDatum(owner);
		nulls[3] = !has_owner;
		values[4] = pool ? CStringGetTextDatum(pool) : (Datum) 0;
		nulls[4] = (pool == NULL);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	SPI_finish();
	managed_scope_pop(scope);
	return (Datum) 0;
}

/* ---------------------------------------------------------------------------------------------
 * duplicate_groups: union-find over customers
 * -------------------------------------------------------------------------------------------*/

/*
 * A customer is its tenant and id (hash key): ids repeat across the tenants of a table keyed
 * (tenant, id); a group never spans two tenants (every run is one tenant's).
 */
typedef struct UfCustomer
{
	CrmpoolTenant tenant;
	int64		customer;
} UfCustomer;

typedef struct UfNode
{
	UfCustomer	key;
	int			index;
} UfNode;

typedef struct UnionFind
{
	HTAB	   *index;
	int			n;
	int			cap;
	int		   *parent;
	int64	   *customer;
	CrmpoolTenant *tenant;
	uint8	   *kinds;
} UnionFind;

static int
uf_node(UnionFind *uf, CrmpoolTenant tenant, int64 customer)
{
	bool		found;
	UfCustomer	key;
	UfNode	   *node;

	memset(&key, 0, sizeof(key));
	key.tenant = tenant;
	key.customer = customer;
	node = hash_search(uf->index, &key, HASH_ENTER, &found);

	if (!found)
	{
		if (uf->n == uf->cap)
		{
			uf->cap *= 2;
			uf->parent = repalloc_huge(uf->parent, sizeof(int) * uf->cap);
			uf->customer = repalloc_huge(uf->customer, sizeof(int64) * uf->cap);
			uf->tenant = repalloc_huge(uf->tenant, sizeof(CrmpoolTenant) * uf->cap);
			uf->kinds = repalloc_huge(uf->kinds, uf->cap);
		}
		node->index = uf->n;
		uf->parent[uf->n] = uf->n;
		uf->customer[uf->n] = customer;
		uf->tenant[uf->n] = tenant;
		uf->kinds[uf->n] = 0;
		uf->n++;
	}
	return node->index;
}

static int
uf_find(UnionFind *uf, int i)
{
	while (uf->parent[i] != i)
	{
		uf->parent[i] = uf->parent[uf->parent[i]];
		i = uf->parent[i];
	}
	return i;
}

static void
uf_union(UnionFind *uf, int a, int b, int kind)
{
	int			ra = uf_find(uf, a);
	int			rb = uf_find(uf, b);

	uf->kinds[a] |= kind;
	uf->kinds[b] |= kind;
	if (ra != rb)
		uf->parent[Max(ra, rb)] = Min(ra, rb);
}

/* Walk a query in batches through a cursor, calling fn on each row. */
static void
for_each_row(const char *sql, CrmpoolTableId table, void (*fn) (HeapTuple, TupleDesc, void *),
			 void *arg)
{
	SPIPlanPtr	plan = SPI_prepare(sql, 1, (Oid[]) {INT4OID});
	MemoryContext batch = AllocSetContextCreate(CurrentMemoryContext, "crmpool batch",
												ALLOCSET_DEFAULT_SIZES);
	Portal		portal;

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
	portal = SPI_cursor_open(NULL, plan, (Datum[]) {crmpool_table_id_datum(table)}, NULL, true);
	for (;;)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, 10000);
		if (SPI_processed == 0)
			break;
		for (i = 0; i < SPI_processed; i++)
		{
			MemoryContext old = MemoryContextSwitchTo(batch);

			fn(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, arg);
			MemoryContextSwitchTo(old);
		}
		SPI_freetuptable(SPI_tuptable);
		MemoryContextReset(batch);
	}
	SPI_cursor_close(portal);
	MemoryContextDelete(batch);
}

/*
 * Rows come sorted by tenant and key (and names by tenant and core), so customers sharing a
 * key within a tenant are runs of rows: the run's text leads with its tenant, length first
 * (TENANT_PREFIX), so that no two tenants' keys compare equal.
 * Most keys and cores belong to one customer: a run's first row costs a copy of its key, and a
 * union-find node (and a parsed name) is made only once a second row joins the run.
 */
typedef struct KeyRun
{
	UnionFind  *uf;
	int			folds;			/* the table's e-mail folds (fold_* rules) */
	text	   *key;			/* current run's kind and key (an e-mail's mailbox) */
	CrmpoolTenant tenant;		/* the run's tenant */
	int64		first;			/* its first customer */
	char	   *first_key;		/* and its key */
	List	   *mailboxes;		/* e-mail runs under fewer folds: MailboxRun, per mailbox */
	MemoryContext cxt;
} KeyRun;

/* Within an e-mail run when the table folds less than the keys: one mailbox and a customer. */
typedef struct MailboxRun
{
	char	   *key;
	int64		customer;
} MailboxRun;

/* Join customer to the run's first customer, or to the first with the same mailbox. */
static void
join_run(KeyRun *run, char kind, int64 customer, const char *key)
{
	ListCell   *lc;
	MailboxRun *mr;
	MemoryContext old;

	if (kind != IDENTITY_KIND_EMAIL || run->folds == EMAIL_FOLD_ALL)
	{
		uf_union(run->uf, uf_node(run->uf, run->tenant, run->first),
				 uf_node(run->uf, run->tenant, customer),
				 kind == IDENTITY_KIND_PHONE ? 1 : 2);
		return;
	}
	old = MemoryContextSwitchTo(run->cxt);
	if (run->mailboxes == NIL)
	{
		mr = palloc(sizeof(MailboxRun));
		mr->key = run->first_key;
		mr->customer = run->first;
		run->mailboxes = list_make1(mr);
	}
	MemoryContextSwitchTo(old);
	foreach(lc, run->mailboxes)
	{
		mr = lfirst(lc);
		if (identity_same_mailbox(mr->key, key, run->folds))
		{
			uf_union(run->uf, uf_node(run->uf, run->tenant, mr->customer),
					 uf_node(run->uf, run->tenant, customer), 2);
			return;
		}
	}
	old = MemoryContextSwitchTo(run->cxt);
	mr = palloc(sizeof(MailboxRun));
	mr->key = pstrdup(key);
	mr->customer = customer;
	run->mailboxes = lappend(run->mailboxes, mr);
	MemoryContextSwitchTo(old);
}

static bool
same_text(const text *a, const text *b)
{
	return VARSIZE_ANY_EXHDR(a) == VARSIZE_ANY_EXHDR(b) &&
		memcmp(VARDATA_ANY(a), VARDATA_ANY(b), VARSIZE_ANY_EXHDR(a)) == 0;
}

static void
key_row(HeapTuple tup, TupleDesc desc, void *arg)
{
	KeyRun	   *run = arg;
	bool		isnull;
	text	   *kk = DatumGetTextPP(SPI_getbinval(tup, desc, 1, &isnull));
	int64		customer = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	char	   *key = TextDatumGetCString(SPI_getbinval(tup, desc, 3, &isnull));

	if (run->key != NULL && same_text(run->key, kk))
		join_run(run, VARDATA_ANY(kk)[0], customer, key);
	else
	{
		MemoryContextReset(run->cxt);
		run->key = MemoryContextAlloc(run->cxt, VARSIZE_ANY(kk));
		memcpy(run->key, kk, VARSIZE_ANY(kk));
		run->first = customer;
		run->tenant = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		run->first_key = MemoryContextStrdup(run->cxt, key);
		run->mailboxes = NIL;
	}
}

typedef struct NameRun
{
	UnionFind  *uf;
	double		threshold;
	text	   *core;
	CrmpoolTenant tenant;		/* the run's tenant */
	int			n;
	int64		customers[CORE_RUN_LIMIT];
	text	   *first_name;		/* the run's first name, parsed when a second one comes */
	CompanyName names[CORE_RUN_LIMIT];
	MemoryContext cxt;
} NameRun;

static void
name_row(HeapTuple tup, TupleDesc desc, void *arg)
{
	NameRun    *run = arg;
	bool		isnull;
	text	   *core = DatumGetTextPP(SPI_getbinval(tup, desc, 1, &isnull));
	int64		customer = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
	text	   *name = DatumGetTextPP(SPI_getbinval(tup, desc, 3, &isnull));
	MemoryContext old;
	int			i;

	if (run->core == NULL || !same_text(run->core, core))
	{
		MemoryContextReset(run->cxt);
		run->core = MemoryContextAlloc(run->cxt, VARSIZE_ANY(core));
		memcpy(run->core, core, VARSIZE_ANY(core));
		run->first_name = MemoryContextAlloc(run->cxt, VARSIZE_ANY(name));
		memcpy(run->first_name, name, VARSIZE_ANY(name));
		run->customers[0] = customer;
		run->tenant = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		run->n = 1;
		return;
	}
	if (run->n >= CORE_RUN_LIMIT)
		return;
	old = MemoryContextSwitchTo(run->cxt);
	if (run->n == 1)
		crmpool_company_parse(VARDATA_ANY(run->first_name), VARSIZE_ANY_EXHDR(run->first_name),
							  &run->names[0]);
	crmpool_company_parse(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name), &run->names[run->n]);
	MemoryContextSwitchTo(old);
	run->customers[run->n] = customer;
	for (i = 0; i < run->n; i++)
		if (crmpool_company_similarity(&run->names[i], &run->names[run->n]) >= run->threshold)
			uf_union(run->uf, uf_node(run->uf, run->tenant, run->customers[i]),
					 uf_node(run->uf, run->tenant, customer), 4);
	run->n++;
}

typedef struct GroupRow
{
	int64		group_id;
	CrmpoolTenant tenant;		/* of the group and its customer */
	int64		customer;
	uint8		kinds;
} GroupRow;

static int
group_row_order(const void *a, const void *b)
{
	const GroupRow *x = a,
			   *y = b;

	if (x->group_id != y->group_id)
		return x->group_id < y->group_id ? -1 : 1;
	if (x->tenant != y->tenant)
		return x->tenant < y->tenant ? -1 : 1;
	return x->customer < y->customer ? -1 : x->customer > y->customer ? 1 : 0;
}

/*
 * Under row-level security, the groups as the caller sees them: customers it cannot see are
 * left out, a group left with one customer is no group, and a group is named by its smallest
 * visible customer.  rows are sorted by group, then customer; returns how many are kept.
 */
static int
visible_groups(ManagedRel *mr, GroupRow *rows, int nrows)
{
	int64	   *customers;
	bool	   *visible;
	int			n = 0;
	int			i,
				j;

	if (nrows == 0 || !managed_rls_applies(mr))
		return nrows;
	customers = palloc(sizeof(int64) * nrows);
	visible = palloc(sizeof(bool) * nrows);
	for (i = 0; i < nrows; i++)
		customers[i] = rows[i].customer;
	managed_visible(mr, customers, nrows, visible);
	for (i = 0; i < nrows; i = j)
	{
		int			start = n;
		int			k;

		for (j = i; j < nrows && rows[j].group_id == rows[i].group_id &&
			 rows[j].tenant == rows[i].tenant; j++)
			if (visible[j])
				rows[n++] = rows[j];
		if (n - start < 2)
			n = start;
		for (k = start; k < n; k++)
			rows[k].group_id = rows[start].customer;
	}
	return n;
}

/*
 * duplicate_groups() and duplicate_warnings() list customers of every tenant of a table: 0.2's
 * (the _v2 symbols) end with each one's tenant as the app writes it (tenants.c); 0.1's, bound to
 * the old symbols, have no such column.
 */
static Datum
groups_reader(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ManagedRel *mr = identity_rel(fcinfo);
	RuleSet		rules;
	OwnerContext octx;
	UnionFind	uf;
	HASHCTL		ctl;
	KeyRun		krun;
	NameRun    *nrun;
	int		   *size;
	int64	   *minid;
	GroupRow   *rows;
	int			nrows = 0;
	int			i;

	/* groups of every tenant: the threshold of the table-wide scope (a tenant scope is not read) */
	rules_effective(mr->nscopes, mr->scopes, NULL, NULL, NULL, false, 0, NULL, &rules);
	crmpool_init_srf(fcinfo);

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(UfCustomer);
	ctl.entrysize = sizeof(UfNode);
	ctl.hcxt = CurrentMemoryContext;
	uf.index = hash_create("crmpool duplicate groups", 1024, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	uf.n = 0;
	uf.cap = 1024;
	uf.parent = palloc(sizeof(int) * uf.cap);
	uf.customer = palloc(sizeof(int64) * uf.cap);
	uf.tenant = palloc(sizeof(CrmpoolTenant) * uf.cap);
	uf.kinds = palloc(uf.cap);

	ledger_begin(&octx);
	memset(&krun, 0, sizeof(krun));
	krun.uf = &uf;
	krun.folds = identity_email_folds(&rules);
	krun.cxt = AllocSetContextCreate(CurrentMemoryContext, "crmpool key run", ALLOCSET_SMALL_SIZES);
	for_each_row(crmpool_has_tenants() ? GROUP_KEYS_SQL(WITH_TENANT, "tenant") :
				 GROUP_KEYS_SQL(WITHOUT_TENANT, NO_TENANT_KEY),
				 mr->table_id, key_row, &krun);
	nrun = palloc0(sizeof(NameRun));
	nrun->uf = &uf;
	nrun->threshold = identity_threshold(&rules);
	nrun->cxt = AllocSetContextCreate(CurrentMemoryContext, "crmpool name run", ALLOCSET_DEFAULT_SIZES);
	for_each_row(crmpool_has_tenants() ? GROUP_NAMES_SQL(WITH_TENANT, "tenant") :
				 GROUP_NAMES_SQL(WITHOUT_TENANT, NO_TENANT_KEY),
				 mr->table_id, name_row, nrun);
	ledger_end(&octx);

	/* groups of two or more, named by their smallest customer id */
	size = palloc0(sizeof(int) * Max(uf.n, 1));
	minid = palloc(sizeof(int64) * Max(uf.n, 1));
	for (i = 0; i < uf.n; i++)
		minid[i] = PG_INT64_MAX;
	for (i = 0; i < uf.n; i++)
	{
		int			r = uf_find(&uf, i);

		size[r]++;
		minid[r] = Min(minid[r], uf.customer[i]);
	}
	rows = palloc(sizeof(GroupRow) * Max(uf.n, 1));
	for (i = 0; i < uf.n; i++)
	{
		int			r = uf_find(&uf, i);

		if (size[r] < 2)
			continue;
		rows[nrows].group_id = minid[r];
		rows[nrows].customer = uf.customer[i];
		rows[nrows].tenant = uf.tenant[i];
		rows[nrows].kinds = uf.kinds[i];
		nrows++;
	}
	qsort(rows, nrows, sizeof(GroupRow), group_row_order);
	nrows = visible_groups(mr, rows, nrows);
	for (i = 0; i < nrows; i++)
	{
		Datum		values[4] = {Int64GetDatum(rows[i].group_id), Int64GetDatum(rows[i].customer),
		CStringGetTextDatum(kinds_text(rows[i].kinds))};
		bool		nulls[4] = {false, false, false, true};

		if (rsinfo->setDesc->natts > 3)
			values[3] = managed_tenant_datum_out(mr, rows[i].tenant, &nulls[3]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(crmpool_duplicate_groups);
Datum
crmpool_duplicate_groups(PG_FUNCTION_ARGS)
{
	return groups_reader(fcinfo);
}

PG_FUNCTION_INFO_V1(crmpool_duplicate_groups_v2);
Datum
crmpool_duplicate_groups_v2(PG_FUNCTION_ARGS)
{
	return groups_reader(fcinfo);
}

#define DUPLICATE_WARNINGS_SQL(T) \
	"SELECT id, customer, existing, matched_on, score, at, actor" T(", tenant") " " \
	"FROM crmpool.duplicate_warning WHERE " TABLE_ID(T) EQ "$1 ORDER BY id DESC"

static Datum
warnings_reader(FunctionCallInfo fcinfo)
{
	static const CrmpoolStmt warnings = TENANT_STMT(DUPLICATE_WARNINGS_SQL, 1, {INT4OID});
	static SPIPlanPtr plan[2];
	ManagedRel *mr = identity_rel(fcinfo);

	VisibleFilter filter = {.relid = mr->relid, .ncols = 2, .cols = {2, 3}, .tenantcol = 8};

	crmpool_srf_from_plan_mapped(fcinfo, crmpool_stmt_plan(&warnings, plan),
								 (Datum[]) {crmpool_table_id_datum(mr->table_id)}, NULL,
								 managed_filter_visible, managed_tenant_column, &filter);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(crmpool_duplicate_warnings);
Datum
crmpool_duplicate_warnings(PG_FUNCTION_ARGS)
{
	return warnings_reader(fcinfo);
}

PG_FUNCTION_INFO_V1(crmpool_duplicate_warnings_v2);
Datum
crmpool_duplicate_warnings_v2(PG_FUNCTION_ARGS)
{
	return warnings_reader(fcinfo);
}
