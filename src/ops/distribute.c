/*
 * distribute.c: handing pool customers to reps (crmpool.distribute, rule auto_distribute) and
 * grab-next (crmpool.claim_next).
 *
 * crmpool.distribute() decides, per customer, which eligible rep gets it (round_robin, lottery,
 * performance, least_busy: docs/reference.md, "Distribution"), then gives them all with one
 * owner UPDATE announced as an assign whose history says "distribute:<mode>": the ownership
 * trigger checks each rep's private cap again under the rep's counter lock, as for any assign
 * (distribution_apply: rep by rep when one is refused there).  The decisions of one pool are
 * serialized by its row of crmpool.distribute_cursor, locked after the customers and before
 * any rep counter (the global lock order: customers, then reps), which also keeps the
 * round-robin turn: two distributions at once hand out one after the other, and the turn never
 * repeats a rep.
 *
 * crmpool.claim_next() claims the next customers of a pool in pool order, skipping the rows
 * another transaction holds (FOR UPDATE SKIP LOCKED); each claim is an ordinary claim, under
 * every claim rule, in its own subtransaction.
 */
#include "postgres.h"

#include <math.h>

#include "access/heapam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/pg_prng.h"
#include "executor/executor.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "ops/ops.h"

/* At most this many customers per claim_next() call: each is claimed in a subtransaction. */
#define CLAIM_NEXT_MAX 1000
/* The window of mode performance's own score: deals on customers owned in the last 30 days. */
#define PERFORMANCE_DAYS 30

/* Why a rep cannot take a customer; the highest one met is a refused customer's outcome. */
typedef enum Refusal
{
	REFUSE_NONE,
	REFUSE_NO_REP,				/* no rep at all: "no_eligible_rep" */
	REFUSE_INACTIVE,
	REFUSE_ZERO_WEIGHT,
	REFUSE_CAP,
	REFUSE_COOLDOWN
} Refusal;

static const char *const refusal_outcome[] = {
	[REFUSE_NONE] = "distributed",
	[REFUSE_NO_REP] = "no_eligible_rep",
	[REFUSE_INACTIVE] = "inactive_rep",
	[REFUSE_ZERO_WEIGHT] = "no_eligible_rep",
	[REFUSE_CAP] = "private_cap_reached",
	[REFUSE_COOLDOWN] = "reclaim_cooldown",
};

/* A rep the pool may hand customers to, in turn order (the order reps joined the pool). */
typedef struct Candidate
{
	int64		rep;
	Refusal		refusal;		/* REFUSE_NONE: eligible (before cooldown and given counts) */
	double		weight;			/* lottery / performance weight */
	int64		owned;			/* rep_counter.owned, plus what this call gave */
	bool		capped;
	int64		room;			/* capped: how many more it may take */
	bool		has_cooldown;
	Interval	cooldown;
	int			ngiven;
	int64	   *given;			/* customers planned for it, ascending at the end */
	bool		failed;			/* its hand-out was refused under lock */
	const char *failure;
} Candidate;

/* One distribution: a tenant's pool, its reps, and the turn. */
typedef struct Distribution
{
	ManagedRel *mr;
	CrmpoolTenant tenant;
	const char *pool;			/* NULL: the default pool */
	DistributeMode mode;
	int			ncand;
	Candidate  *cand;
	bool		cursor_known;
	int64		last_rep;		/* the round-robin cursor: the rep served last */
	int			next;			/* index in cand of the next turn */
	pg_prng_state prng;
	/* lottery and performance: the draw set (see draw_set_build), rebuilt when a cap fills */
	bool		draw_stale;
	int			ndraw;
	int		   *draw_cand;		/* index in cand of each member of the draw set */
	double	   *draw_cum;		/* their cumulative weights, in turn order */
	int		   *draw_out;		/* positions in the draw set left out for one customer */
} Distribution;


/* ---------------------------------------------------------------------------------------------
 * The reps of a pool
 * -------------------------------------------------------------------------------------------*/

/*
 * The reps a pool hands out to, in turn order: its members in the order they joined (teams
 * expanded in place, table/pools.c); an open pool (no members) hands out to the reps
 * crmpool.set_rep() knows for the tenant (a row for the tenant overrides the table's), by rep
 * id.  Inactive reps stay in the list, ineligible, so that they keep their place in the turn.
 */
static void
add_candidate(Distribution *d, int64 rep, bool active)
{
	const RepInfo *ri = managed_rep(d->mr, d->tenant, rep);
	Candidate  *c = &d->cand[d->ncand++];

	c->rep = rep;
	c->refusal = active ? REFUSE_NONE : REFUSE_INACTIVE;
	c->weight = ri != NULL ? ri->weight : 1.0;
	if (d->mode == DISTRIBUTE_PERFORMANCE)
		c->weight = ri != NULL && ri->has_score ? ri->score : 0;
}

static void
pool_reps(Distribution *d)
{
	ManagedRel *mr = d->mr;
	PoolMember *members;
	int			nmembers = pool_members(mr, d->tenant, d->pool, false, &members);
	int			i;

	d->ncand = 0;
	if (nmembers > 0)
	{
		d->cand = palloc0(sizeof(Candidate) * nmembers);
		for (i = 0; i < nmembers; i++)
			add_candidate(d, members[i].rep, members[i].active);
		return;
	}
	d->cand = palloc0(sizeof(Candidate) * Max(mr->nreps, 1));
	for (i = 0; i < mr->nreps; i++)
	{
		const RepInfo *ri;

		if (i > 0 && mr->reps[i - 1].rep == mr->reps[i].rep)
			continue;			/* mr->reps is by rep: one entry per rep */
		ri = managed_rep(mr, d->tenant, mr->reps[i].rep);
		if (ri != NULL)			/* else a rep of another tenant only */
			add_candidate(d, ri->rep, ri->active);
	}
}

/* The reps' counters (owned, with a deal), as the extension owner. */
static void
read_counts(Distribution *d, int64 *with_deal)
{
	OwnerContext octx;
	int			nestlevel;
	Datum	   *reps = palloc(sizeof(Datum) * Max(d->ncand, 1));
	ArrayType  *arr;
	uint64		i;
	int			j;

	for (j = 0; j < d->ncand; j++)
		reps[j] = Int64GetDatum(d->cand[j].rep);
	arr = construct_array(reps, d->ncand, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	nestlevel = crmpool_begin_admin(&octx);
	if (SPI_execute_with_args("SELECT rep, owned, with_deal FROM crmpool.rep_counter "
							  "WHERE tenant" EQ "$1 AND table_id" EQ "$2 AND rep" EQ "ANY ($3)",
							  3, (Oid[]) {INT8OID, INT4OID, INT8ARRAYOID},
							  (Datum[]) {crmpool_tenant_datum(d->tenant),
							  crmpool_table_id_datum(d->mr->table_id), PointerGetDatum(arr)},
							  NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "crmpool could not read the rep counters");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		rep = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));

		for (j = 0; j < d->ncand; j++)
			if (d->cand[j].rep == rep)
			{
				d->cand[j].owned = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
				with_deal[j] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
			}
	}
	crmpool_end_admin(&octx, nestlevel);
}

/*
 * Mode performance's own score: per rep, the customers with a deal now that the rep owned at
 * some time in the last 30 days (it owns them, or the history gave them to it in that time).
 * crmpool keeps no time of a deal; a customer's deal counts for each rep that held it in the
 * window.  The deal column is read as the caller, the history as the extension owner.
 */
static void
deal_scores(Distribution *d)
{
	ManagedRel *mr = d->mr;
	OwnerContext octx;
	int			nestlevel;
	char	   *sql;
	Datum	   *keys;
	Datum	   *owners;
	bool	   *owner_nulls;
	ArrayType  *arr;
	ArrayType  *owner_arr;
	uint64		n;
	uint64		i;
	int			j;

	for (j = 0; j < d->ncand; j++)
		d->cand[j].weight = 0;
	if (mr->deal_att == InvalidAttrNumber)
		return;
	sql = psprintf("SELECT %s::pg_catalog.int8, %s::pg_catalog.int8 FROM ONLY %s WHERE %s%s",
				   quote_identifier(get_attname(mr->relid, mr->key_att, false)),
				   quote_identifier(get_attname(mr->relid, mr->owner_att, false)),
				   mr->qualname,
				   managed_flag_sql(mr->deal_type,
									quote_identifier(get_attname(mr->relid, mr->deal_att, false)),
									true),
				   mr->tenant_att == InvalidAttrNumber ? "" :
				   psprintf(" AND %s" EQ "$1", managed_column_text_sql(mr, mr->tenant_att, mr->tenant_out)));
	/* the tenant column compared as text with the app's own value of the tenant (tenants.c) */
	if (SPI_execute_with_args(sql, 1, (Oid[]) {TEXTOID},
							  (Datum[]) {CStringGetTextDatum(mr->tenant_att == InvalidAttrNumber ? "" :
															 managed_tenant_name(mr, d->tenant))},
							  NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "crmpool could not read the deals of table %s", mr->qualname);
	n = SPI_processed;
	keys = palloc(sizeof(Datum) * Max(n, 1));
	owners = palloc(sizeof(Datum) * Max(n, 1));
	owner_nulls = palloc(sizeof(bool) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		keys[i] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		owners[i] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &owner_nulls[i]);
	}
	if (n == 0)
		return;
	arr = construct_array(keys, (int) n, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	owner_arr = construct_md_array(owners, owner_nulls, 1, (int[]) {(int) n}, (int[]) {1},
								   INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE);
	/* each (customer, rep) once: its owner now, and the reps the history gave it in the window */
	nestlevel = crmpool_begin_admin(&octx);
	if (SPI_execute_with_args("SELECT owner, pg_catalog.count(*) FROM ("
							  "SELECT c.customer, c.owner FROM ROWS FROM (pg_catalog.unnest($3), pg_catalog.unnest($5)) AS c(customer, owner) "
							  "WHERE c.owner IS NOT NULL UNION "
							  "SELECT customer, owner FROM crmpool.ownership_event "
							  "WHERE tenant" EQ "$1 AND table_id" EQ "$2 AND customer" EQ "ANY ($3) "
							  "AND owner IS NOT NULL AND at OPERATOR(pg_catalog.>=) $4) held GROUP BY owner",
							  5, (Oid[]) {INT8OID, INT4OID, INT8ARRAYOID, TIMESTAMPTZOID, INT8ARRAYOID},
							  (Datum[]) {crmpool_tenant_datum(d->tenant), crmpool_table_id_datum(mr->table_id),
								  PointerGetDatum(arr),
								  TimestampTzGetDatum(crmpool_now() - (int64) PERFORMANCE_DAYS * USECS_PER_DAY),
							  PointerGetDatum(owner_arr)},
							  NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "crmpool could not read the ownership history");
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		rep = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		int64		count = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));

		for (j = 0; j < d->ncand; j++)
			if (d->cand[j].rep == rep)
				d->cand[j].weight = (double) count;
	}
	crmpool_end_admin(&octx, nestlevel);
}

/*
 * Lock the cursor row of (tenant, pool), making it if it is new, until the transaction ends;
 * false if it has served nobody yet, else the rep it served last in *last_rep.
 */
static bool
lock_cursor(ManagedRel *mr, CrmpoolTenant tenant, const char *pool, int64 *last_rep)
{
	OwnerContext octx;
	int			nestlevel;
	Datum		vals[3];
	char		nulls[3] = {' ', ' ', pool ? ' ' : 'n'};
	bool		isnull;
	Datum		v;

	vals[0] = crmpool_tenant_datum(tenant);
	vals[1] = crmpool_table_id_datum(mr->table_id);
	vals[2] = pool ? CStringGetTextDatum(pool) : (Datum) 0;
	nestlevel = crmpool_begin_admin(&octx);
	if (SPI_execute_with_args("INSERT INTO crmpool.distribute_cursor (tenant, table_id, pool, turns) "
							  "VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING",
							  3, (Oid[]) {INT8OID, INT4OID, TEXTOID}, vals, nulls, false, 0) != SPI_OK_INSERT ||
		SPI_execute_with_args("SELECT last_rep FROM crmpool.distribute_cursor WHERE tenant" EQ "$1 "
							  "AND table_id" EQ "$2 AND pool IS NOT DISTINCT FROM $3 FOR NO KEY UPDATE",
							  3, (Oid[]) {INT8OID, INT4OID, TEXTOID}, vals, nulls, false, 0) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "crmpool could not lock the distribution cursor");
	v = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	*last_rep = isnull ? 0 : DatumGetInt64(v);
	crmpool_end_admin(&octx, nestlevel);
	return !isnull;
}

/*
 * Prepare a distribution of (tenant, pool): its reps, what each may still take, and the
 * pool's cursor row, locked until the transaction ends.  The customers are locked already.
 */
static void
distribution_begin(Distribution *d, ManagedRel *mr, CrmpoolTenant tenant, const char *pool,
				   DistributeMode mode, bool seeded, int64 seed)
{
	int64	   *with_deal;
	int			j;

	memset(d, 0, sizeof(*d));
	d->draw_stale = true;
	d->mr = mr;
	d->tenant = tenant;
	d->pool = pool;
	d->mode = mode;
	if (seeded)
		pg_prng_seed(&d->prng, (uint64) seed);
	else if (!pg_prng_strong_seed(&d->prng))
		pg_prng_seed(&d->prng, (uint64) GetCurrentTimestamp());

	/* the cursor row first: it serializes the distributions of the pool */
	d->cursor_known = lock_cursor(mr, tenant, pool, &d->last_rep);

	pool_reps(d);
	if (mode == DISTRIBUTE_PERFORMANCE)
	{
		RuleSet		rules;

		managed_rules(mr, tenant, pool, false, 0, NULL, &rules);
		if (rule_choice(&rules, RULE_PERFORMANCE_SOURCE) == SCORE_FROM_DEALS)
			deal_scores(d);
	}
	with_deal = palloc0(sizeof(int64) * Max(d->ncand, 1));
	read_counts(d, with_deal);
	for (j = 0; j < d->ncand; j++)
	{
		Candidate  *c = &d->cand[j];
		RuleSet		rules;
		int64		limit;

		/* the turn after the cursor's rep (it keeps its place while ineligible) */
		if (d->cursor_known && c->rep == d->last_rep)
			d->next = (j + 1) % d->ncand;
		if (c->refusal != REFUSE_NONE)
			continue;
		managed_rules(mr, tenant, pool, true, c->rep, NULL, &rules);
		if (rule_limit(&rules, RULE_PRIVATE_CAP, &limit))
		{
			int64		counted = c->owned -
				(rule_flag(&rules, RULE_COUNT_DEALS_IN_CAP) ? 0 : with_deal[j]);

			c->capped = true;
			c->room = limit - counted;
			if (c->room <= 0)
				c->refusal = REFUSE_CAP;
		}
		c->has_cooldown = rule_span(&rules, RULE_RECLAIM_COOLDOWN, &c->cooldown);
		if ((d->mode == DISTRIBUTE_LOTTERY || d->mode == DISTRIBUTE_PERFORMANCE) && !(c->weight > 0))
			c->refusal = REFUSE_ZERO_WEIGHT;
	}
	/* performance with no score above 0 anywhere: every eligible rep draws alike */
	if (d->mode == DISTRIBUTE_PERFORMANCE)
	{
		bool		any = false;

		for (j = 0; j < d->ncand; j++)
			any |= (d->cand[j].refusal == REFUSE_NONE);
		for (j = 0; !any && j < d->ncand; j++)
			if (d->cand[j].refusal == REFUSE_ZERO_WEIGHT)
			{
				d->cand[j].refusal = d->cand[j].capped && d->cand[j].room <= 0 ? REFUSE_CAP : REFUSE_NONE;
				d->cand[j].weight = 1;
			}
	}
}

/* Whether rep c lost this customer less than its reclaim_cooldown ago. */
static bool
in_cooldown(Distribution *d, Candidate *c, int64 customer)
{
	CustomerPast past;
	OwnerContext octx;

	if (!c->has_cooldown)
		return false;
	ledger_begin(&octx);
	ledger_customer_past(d->mr->table_id, d->tenant, customer, c->rep, true, &past);
	ledger_end(&octx);
	if (!past.lost_known)
		return false;
	return crmpool_now() < DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
																	TimestampTzGetDatum(past.lost),
																	IntervalPGetDatum(&c->cooldown)));
}

/* Whether c may take the customer now; else raises *why to its refusal. */
static bool
may_take(Distribution *d, Candidate *c, int64 customer, Refusal *why)
{
	Refusal		r = c->refusal;

	if (r == REFUSE_NONE && c->capped && c->room <= 0)
		r = REFUSE_CAP;
	if (r == REFUSE_NONE && in_cooldown(d, c, customer))
		r = REFUSE_COOLDOWN;
	if (r > *why)
		*why = r;
	return r == REFUSE_NONE;
}

/*
 * The lottery (modes lottery and performance).  Rep j of the eligible set A gets the customer
 * with probability weight(j) / weight(A), where A holds the reps that may take it: eligible for
 * the whole call (active, weight above 0, room under the cap) and not in reclaim_cooldown for
 * this customer.  Checking every rep's cooldown for every customer costs a history lookup per
 * rep, so the draw is taken over the first part only, the draw set S (built once, again when a
 * rep's cap fills: room only shrinks in a call), by a binary search of S's cumulative weights
 * in turn order; only the drawn rep's cooldown is checked, and when it cannot take the customer
 * the draw is taken again among the rest of S.  Sampling without replacement until a rep of A
 * comes out gives each rep of A weight(j) / weight(A): leaving reps out keeps the odds between
 * the others.  A seed replays: one draw per customer, and one more per rep passed over; without
 * cooldowns that is exactly the one draw of the plain scan over A.
 */
static void
draw_set_build(Distribution *d)
{
	double		sum = 0;
	int			j;

	if (d->draw_cand == NULL)
	{
		d->draw_cand = palloc(sizeof(int) * Max(d->ncand, 1));
		d->draw_cum = palloc(sizeof(double) * Max(d->ncand, 1));
		d->draw_out = palloc(sizeof(int) * Max(d->ncand, 1));
	}
	d->ndraw = 0;
	for (j = 0; j < d->ncand; j++)
	{
		Candidate  *c = &d->cand[j];

		if (c->refusal != REFUSE_NONE || (c->capped && c->room <= 0))
			continue;
		sum += c->weight;
		d->draw_cand[d->ndraw] = j;
		d->draw_cum[d->ndraw++] = sum;
	}
	d->draw_stale = false;
}

/*
 * The position in the draw set of the point r of [0, weight of S without the nout positions
 * left out), these ascending: r is moved past each left-out span it reaches, then the first
 * position whose cumulative weight exceeds r is found by binary search.  A left-out position is
 * never found (r is moved to or beyond its end); rounding may leave r past the last position,
 * which is then the last one not left out.
 */
static int
draw_position(Distribution *d, double r, int nout)
{
	int			lo = 0;
	int			hi = d->ndraw;
	int			e;

	for (e = 0; e < nout; e++)
	{
		int			p = d->draw_out[e];
		double		start = p > 0 ? d->draw_cum[p - 1] : 0;

		if (r < start)
			break;
		r = d->draw_cum[p] + (r - start);
	}
	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;

		if (d->draw_cum[mid] > r)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo == d->ndraw)
	{
		/* past the end by rounding: the last position not left out */
		for (lo = d->ndraw - 1, e = nout - 1; e >= 0 && d->draw_out[e] == lo; e--)
			lo--;
	}
	return lo;
}

static int
draw(Distribution *d, int64 customer, Refusal *why)
{
	double		out_weight = 0;
	int			nout = 0;
	int			j;

	if (d->draw_stale)
		draw_set_build(d);
	if (d->ndraw == 0)
	{
		/* nobody in S: the outcome is the highest refusal of all; still one draw */
		(void) pg_prng_double(&d->prng);
		for (j = 0; j < d->ncand; j++)
			(void) may_take(d, &d->cand[j], customer, why);
		return -1;
	}
	while (nout < d->ndraw)
	{
		double		total = d->draw_cum[d->ndraw - 1] - out_weight;
		int			p = draw_position(d, pg_prng_double(&d->prng) * total, nout);
		int			e;

		j = d->draw_cand[p];
		if (!in_cooldown(d, &d->cand[j], customer))
			return j;
		/* leave p out for this customer, keeping draw_out ascending */
		for (e = nout++; e > 0 && d->draw_out[e - 1] > p; e--)
			d->draw_out[e] = d->draw_out[e - 1];
		d->draw_out[e] = p;
		out_weight += d->cand[j].weight;
	}
	*why = REFUSE_COOLDOWN;
	return -1;
}

/* The rep (index in d->cand) that gets the customer, or -1 with *why. */
static int
choose(Distribution *d, int64 customer, Refusal *why)
{
	int			k;
	int			best = -1;

	*why = REFUSE_NO_REP;
	if (d->ncand == 0)
		return -1;
	switch (d->mode)
	{
		case DISTRIBUTE_ROUND_ROBIN:
			for (k = 0; k < d->ncand; k++)
			{
				int			j = (d->next + k) % d->ncand;

				if (may_take(d, &d->cand[j], customer, why))
					return j;
			}
			return -1;
		case DISTRIBUTE_LEAST_BUSY:
			/* fewest owned; ties by the turn order from the cursor */
			for (k = 0; k < d->ncand; k++)
			{
				int			j = (d->next + k) % d->ncand;

				if (may_take(d, &d->cand[j], customer, why) &&
					(best < 0 || d->cand[j].owned < d->cand[best].owned))
					best = j;
			}
			return best;
		case DISTRIBUTE_LOTTERY:
		case DISTRIBUTE_PERFORMANCE:
			return draw(d, customer, why);
	}
	return -1;
}

/* Plan the customer for rep j. */
static void
plan(Distribution *d, int j, int64 customer)
{
	Candidate  *c = &d->cand[j];

	if (c->given == NULL)
		c->given = palloc(sizeof(int64) * 16);
	else if ((c->ngiven & (c->ngiven - 1)) == 0 && c->ngiven >= 16)
		c->given = repalloc(c->given, sizeof(int64) * c->ngiven * 2);
	c->given[c->ngiven++] = customer;
	c->owned++;
	c->room--;
	if (d->mode == DISTRIBUTE_ROUND_ROBIN || d->mode == DISTRIBUTE_LEAST_BUSY)
		d->next = (j + 1) % d->ncand;
	else if (c->capped && c->room <= 0)
		d->draw_stale = true;	/* it leaves the draw set */
}

static int
int64_cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a,
				y = *(const int64 *) b;

	return x < y ? -1 : x > y;
}

/*
 * Give each rep its planned customers.  First all of them in one owner UPDATE, announced as an
 * assign whose history says "distribute:<mode>", as one set-based statement gives them: the
 * trigger checks each rep's private cap under its counter lock at the statement's end, reps in
 * ascending order.  When a rep is refused there (a claim filled its cap since distribution_begin
 * read it), that UPDATE is undone and each rep is given its customers by an UPDATE of its own,
 * in a subtransaction: a rep refused under lock keeps none of them, and they stay in the pool
 * with the refusal; the other reps keep theirs.
 */
static int
candidate_rep_cmp(const void *a, const void *b)
{
	return int64_cmp(&(*(Candidate *const *) a)->rep, &(*(Candidate *const *) b)->rep);
}

typedef struct BatchArg
{
	Distribution *d;
	Candidate  *c;				/* NULL: every rep at once */
	OwnershipIntent *in;
	const int64 *owners;		/* every rep at once: the rep of each of in->batch */
} BatchArg;

static void
give_batch(void *arg)
{
	BatchArg   *ba = (BatchArg *) arg;
	uint64		processed = ba->c == NULL ?
		ops_change_owners_batch(ba->d->mr, ba->in, ba->owners) :
		ops_change_owner_batch(ba->d->mr, ba->in, true, ba->c->rep);

	if (processed != (uint64) ba->in->nbatch || ba->in->nfired != ba->in->nbatch)
		elog(ERROR, "crmpool distributed %d of %d customers", ba->in->nfired, ba->in->nbatch);
}

/* A customer and the rep planned for it. */
typedef struct Handout
{
	int64		customer;
	int64		rep;
} Handout;

static int
handout_cmp(const void *a, const void *b)
{
	return int64_cmp(&((const Handout *) a)->customer, &((const Handout *) b)->customer);
}

/*
 * Every rep's customers in one UPDATE; false when a rep was refused (then nothing was given).
 * The customers go in key order, which is the order the trigger looks their intent up in, and
 * about the order of the table's rows: the UPDATE then walks the table's pages, and appends the
 * history's index entries (by customer), in order; rep by rep it would visit the table
 * at random once per rep.
 */
static bool
give_all(Distribution *d, const char *how)
{
	OwnershipIntent in = {.relid = d->mr->relid, .op = OP_ASSIGN};
	BatchArg	ba = {.d = d, .in = &in};
	Handout    *h;
	int64	   *customers;
	int64	   *owners;
	char	  **hows;
	ErrorData  *refusal;
	int			n = 0;
	int			i;
	int			j;

	for (j = 0; j < d->ncand; j++)
		n += d->cand[j].ngiven;
	h = palloc(sizeof(Handout) * n);
	n = 0;
	for (j = 0; j < d->ncand; j++)
		for (i = 0; i < d->cand[j].ngiven; i++)
			h[n++] = (Handout) {d->cand[j].given[i], d->cand[j].rep};
	qsort(h, n, sizeof(Handout), handout_cmp);
	customers = palloc(sizeof(int64) * n);
	owners = palloc(sizeof(int64) * n);
	hows = palloc(sizeof(char *) * n);
	for (i = 0; i < n; i++)
	{
		customers[i] = h[i].customer;
		owners[i] = h[i].rep;
		hows[i] = (char *) how;
	}
	in.nbatch = n;
	in.batch = customers;
	in.batch_how = hows;
	ba.owners = owners;
	refusal = ops_try_refusal(give_batch, &ba);
	if (refusal == NULL)
		return true;
	FreeErrorData(refusal);
	return false;
}

static void
distribution_apply(Distribution *d)
{
	const char *how = psprintf("distribute:%s", distribute_mode_names[d->mode]);
	BatchArg	ba = {.d = d};
	Candidate **byrep = palloc(sizeof(Candidate *) * Max(d->ncand, 1));
	int			nreps = 0;
	int			j;

	for (j = 0; j < d->ncand; j++)
		nreps += (d->cand[j].ngiven > 0);
	if (nreps > 1 && give_all(d, how))
		return;

	/* reps ascending, as every statement takes rep counter rows: no cycle with another */
	for (j = 0; j < d->ncand; j++)
		byrep[j] = &d->cand[j];
	qsort(byrep, d->ncand, sizeof(Candidate *), candidate_rep_cmp);
	for (j = 0; j < d->ncand; j++)
	{
		Candidate  *c = byrep[j];
		OwnershipIntent in = {.relid = d->mr->relid, .op = OP_ASSIGN, .rep = c->rep};
		char	  **hows;
		ErrorData  *refusal;
		int			i;

		if (c->ngiven == 0)
			continue;
		qsort(c->given, c->ngiven, sizeof(int64), int64_cmp);
		hows = palloc(sizeof(char *) * c->ngiven);
		for (i = 0; i < c->ngiven; i++)
			hows[i] = (char *) how;
		in.nbatch = c->ngiven;
		in.batch = c->given;
		in.batch_how = hows;
		ba.c = c;
		ba.in = &in;
		refusal = ops_try_refusal(give_batch, &ba);
		if (refusal != NULL)
		{
			c->failed = true;
			c->failure = crmpool_refusal_name(refusal->sqlerrcode);
			FreeErrorData(refusal);
		}
	}
}

/* crmpool.distribute_log, whose columns are written by number */
static StoreTable log_table = {"distribute_log", "distribute_log_by_time",
{"tenant", "table_id", "pool", "customer", "rep", "mode", "at"}};

#define LOG_BATCH 1000

/*
 * The log's rows of the n customers handed out (as the extension owner): written LOG_BATCH at
 * a time with table_multi_insert (a distribution of a whole pool writes one row per customer,
 * and an INSERT ... SELECT wrote each with a WAL record of its own).
 */
static void
log_handouts(Distribution *d, int n, const int64 *customers, const int64 *reps)
{
	Oid			heapid;
	Oid			indexid;
	Relation	rel;
	StoreWriter w;
	TupleTableSlot *slots[LOG_BATCH];
	BulkInsertState bulk;
	bool		by_batch;
	Datum		pool = d->pool ? CStringGetTextDatum(d->pool) : (Datum) 0;
	Datum		mode = CStringGetTextDatum(distribute_mode_names[d->mode]);
	TimestampTz now = crmpool_now();
	int			k = 0;
	int			i;

	store_oids(&log_table, &heapid, &indexid);
	rel = table_open(heapid, RowExclusiveLock);
	store_writer_begin(&w, rel);
	by_batch = store_multi_insert_ok(rel);
	bulk = by_batch ? GetBulkInsertState() : NULL;
	for (i = 0; i < Min(n, LOG_BATCH); i++)
		slots[i] = store_writer_slot(&w, rel);
	for (i = 0; i < n; i++)
	{
		TupleTableSlot *slot = slots[k++];

		ExecClearTuple(slot);
		store_set(slot, 1, crmpool_tenant_datum(d->tenant), true);
		store_set(slot, 2, crmpool_table_id_datum(d->mr->table_id), true);
		store_set(slot, 3, pool, d->pool != NULL);
		store_set(slot, 4, Int64GetDatum(customers[i]), true);
		store_set(slot, 5, Int64GetDatum(reps[i]), true);
		store_set(slot, 6, mode, true);
		store_set(slot, 7, TimestampTzGetDatum(now), true);
		ExecStoreVirtualTuple(slot);
		if (!by_batch)
		{
			ExecSimpleRelationInsert(w.rri, w.estate, slot);
			k = 0;
		}
		else if (k == LOG_BATCH || i == n - 1)
		{
			store_multi_insert(&w, slots, k, bulk);
			k = 0;
		}
	}
	if (bulk != NULL)
		FreeBulkInsertState(bulk);
	store_writer_end(&w);
	table_close(rel, NoLock);
}

/*
 * After the hand-outs: the cursor moves to the rep served last (order: the sequence of
 * customers) and counts one turn per customer handed out; the log keeps who got what, by mode
 * (crmpool.distribution_stats).  `order`/`rep_of` give the sequence (rep_of: index in cand).
 */
static void
distribution_end(Distribution *d, int n, const int64 *order, const int *rep_of)
{
	OwnerContext octx;
	int			nestlevel;
	int64	   *keys = palloc(sizeof(int64) * Max(n, 1));
	int64	   *reps = palloc(sizeof(int64) * Max(n, 1));
	int			done = 0;
	int			last = -1;
	int			i;
	Datum		vals[5];
	char		nulls[5] = {' ', ' ', d->pool ? ' ' : 'n', ' ', ' '};

	for (i = 0; i < n; i++)
		if (rep_of[i] >= 0 && !d->cand[rep_of[i]].failed)
		{
			keys[done] = order[i];
			reps[done++] = d->cand[rep_of[i]].rep;
			last = rep_of[i];
		}
	if (done == 0)
		return;
	nestlevel = crmpool_begin_admin(&octx);
	if (d->mode == DISTRIBUTE_ROUND_ROBIN || d->mode == DISTRIBUTE_LEAST_BUSY)
	{
		vals[0] = crmpool_tenant_datum(d->tenant);
		vals[1] = crmpool_table_id_datum(d->mr->table_id);
		vals[2] = d->pool ? CStringGetTextDatum(d->pool) : (Datum) 0;
		vals[3] = Int64GetDatum(d->cand[last].rep);
		vals[4] = Int64GetDatum(done);
		if (SPI_execute_with_args("UPDATE crmpool.distribute_cursor SET last_rep = $4, turns = turns" PLUS "$5 "
								  "WHERE tenant" EQ "$1 AND table_id" EQ "$2 AND pool IS NOT DISTINCT FROM $3",
								  5, (Oid[]) {INT8OID, INT4OID, TEXTOID, INT8OID, INT8OID},
								  vals, nulls, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "crmpool could not move the distribution cursor");
	}
	log_handouts(d, done, keys, reps);
	crmpool_end_admin(&octx, nestlevel);
}

/*
 * Distribute customers (locked by the caller, in the order given) of one tenant's pool.
 * outcome[i] is set for each; rep[i] to the rep that got it (or 0).
 */
static void
distribute_group(ManagedRel *mr, CrmpoolTenant tenant, const char *pool, DistributeMode mode,
				 bool seeded, int64 seed, int n, const int64 *customers, int64 *rep,
				 const char **outcome)
{
	Distribution d;
	int		   *rep_of = palloc(sizeof(int) * Max(n, 1));
	int			i;

	distribution_begin(&d, mr, tenant, pool, mode, seeded, seed);
	for (i = 0; i < n; i++)
	{
		Refusal		why;

		rep_of[i] = choose(&d, customers[i], &why);
		if (rep_of[i] >= 0)
			plan(&d, rep_of[i], customers[i]);
		else
			outcome[i] = refusal_outcome[why];
	}
	distribution_apply(&d);
	for (i = 0; i < n; i++)
	{
		if (rep_of[i] < 0)
			continue;
		rep[i] = d.cand[rep_of[i]].rep;
		outcome[i] = d.cand[rep_of[i]].failed ? d.cand[rep_of[i]].failure : refusal_outcome[REFUSE_NONE];
	}
	distribution_end(&d, n, customers, rep_of);
}

/* ---------------------------------------------------------------------------------------------
 * Pool order and the SQL functions
 * -------------------------------------------------------------------------------------------*/

/* "ORDER BY" of pool order: crmpool.set_priority_column()'s column first (highest), then key. */
static char *
pool_order_sql(ManagedRel *mr)
{
	OwnerContext octx;
	int			nestlevel;
	char	   *prio = NULL;
	const char *key = quote_identifier(get_attname(mr->relid, mr->key_att, false));

	nestlevel = crmpool_begin_admin(&octx);
	if (SPI_execute_with_args("SELECT priority_column::pg_catalog.text FROM crmpool.pool_order "
							  "WHERE rel" EQ "$1", 1, (Oid[]) {REGCLASSOID},
							  (Datum[]) {ObjectIdGetDatum(mr->relid)}, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "crmpool could not read the pool order");
	if (SPI_processed == 1)
		prio = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
	crmpool_end_admin(&octx, nestlevel);
	if (prio == NULL)
		return psprintf("ORDER BY %s", key);
	return psprintf("ORDER BY %s DESC NULLS LAST, %s", quote_identifier(prio), key);
}

/*
 * SELECT of the pool customers of `pool` ($1, NULL: the default pool) in pool order, with
 * their tenant, locking each row it returns and skipping the rows others hold.
 */
static char *
pool_select_sql(ManagedRel *mr)
{
	StringInfoData sql;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT %s::pg_catalog.int8, %s FROM ONLY %s WHERE %s IS NULL",
					 quote_identifier(get_attname(mr->relid, mr->key_att, false)),
					 mr->tenant_att == InvalidAttrNumber ? "NULL::pg_catalog.text" :
					 managed_column_text_sql(mr, mr->tenant_att, mr->tenant_out),
					 mr->qualname,
					 quote_identifier(get_attname(mr->relid, mr->owner_att, false)));
	if (mr->pool_att != InvalidAttrNumber)
		appendStringInfo(&sql, " AND %s IS NOT DISTINCT FROM $1",
						 managed_column_text_sql(mr, mr->pool_att, mr->pool_out));
	if (mr->deleted_att != InvalidAttrNumber)
		appendStringInfo(&sql, " AND NOT %s",
						 managed_flag_sql(mr->deleted_type,
										  quote_identifier(get_attname(mr->relid, mr->deleted_att, false)),
										  true));
	/* under crmpool.tenant, that tenant's pool customers only (tenants.c) */
	if (mr->tenant_att != InvalidAttrNumber)
		appendStringInfo(&sql, " AND %s", managed_scope_sql(mr, NULL));
	appendStringInfo(&sql, " %s FOR NO KEY UPDATE SKIP LOCKED", pool_order_sql(mr));
	return sql.data;
}

/* The pool argument: NULL (the default pool), or a pool of a table with a pool column. */
static const char *
pool_arg(FunctionCallInfo fcinfo, int argno, ManagedRel *mr)
{
	text	   *t;

	if (PG_ARGISNULL(argno))
		return NULL;
	t = PG_GETARG_TEXT_PP(argno);
	crmpool_check_length("pool", VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t), CRMPOOL_POOL_MAX_CHARS);
	if (mr->pool_att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("table %s has no pool column", get_rel_name(mr->relid)),
				 errdetail("Every pool customer of the table is in the default pool."),
				 errhint("Pass pool => NULL, or name a pool column with crmpool.manage().")));
	return text_to_cstring(t);
}

/* A customer named to distribute(): whether it may be handed out (outcome NULL). */
typedef struct SeenCustomer
{
	int64		key;
	const char *outcome;
	CrmpoolTenant tenant;
	bool		named;			/* met in the list already */
} SeenCustomer;

/* A group of customers of one tenant, in order. */
typedef struct TenantGroup
{
	CrmpoolTenant tenant;
	int			n;
	int64	   *customers;
	int		   *index;			/* their places in the call's list */
} TenantGroup;

static int
tenant_group_cmp(const void *a, const void *b)
{
	CrmpoolTenant x = ((const TenantGroup *) a)->tenant;
	CrmpoolTenant y = ((const TenantGroup *) b)->tenant;

	return (x > y) - (x < y);
}

PG_FUNCTION_INFO_V1(crmpool_distribute);
Datum
crmpool_distribute(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ManagedRel *mr = ops_rel_arg(fcinfo, RowExclusiveLock);
	const char *pool = pool_arg(fcinfo, 1, mr);
	int64		limit = -1;
	DistributeMode mode = DISTRIBUTE_ROUND_ROBIN;
	bool		seeded = !PG_ARGISNULL(5);
	int64		seed = seeded ? PG_GETARG_INT64(5) : 0;
	int64	   *customers;
	CrmpoolTenant *tenants;
	const char **outcome;
	int64	   *reps;
	int			n = 0;
	int			ngroups = 0;
	TenantGroup *groups;
	int			i;
	int			g;
	MemoryContext callcxt = CurrentMemoryContext;	/* the results outlive SPI_finish */

	if (!PG_ARGISNULL(2))
	{
		limit = PG_GETARG_INT32(2);
		if (limit < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("n must not be negative, not %lld", (long long) limit)));
	}
	if (!PG_ARGISNULL(3))
	{
		char	   *name = text_to_cstring(PG_GETARG_TEXT_PP(3));
		int			m = rules_distribute_mode(name);

		if (m < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown distribution mode \"%s\"", name),
					 errhint("The modes are round_robin, lottery, performance and least_busy.")));
		mode = (DistributeMode) m;
	}
	else
	{
		/* the pool's auto_distribute mode, else round_robin */
		RuleSet		rules;
		int			m;

		managed_rules(mr, CRMPOOL_NO_TENANT, pool, false, 0, NULL, &rules);
		m = rule_choice(&rules, RULE_AUTO_DISTRIBUTE);
		if (m >= 0)
			mode = (DistributeMode) m;
	}
	crmpool_init_srf(fcinfo);

	SPI_connect();
	if (!PG_ARGISNULL(4))
	{
		/* the given customers, locked in key order; those not in the pool are reported */
		ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(4);
		Datum	   *elems;
		bool	   *elemnulls;
		int			nelems;
		HTAB	   *seen;
		HASHCTL		ctl = {.keysize = sizeof(int64), .entrysize = sizeof(SeenCustomer),
		.hcxt = CurrentMemoryContext};

		if (ARR_NDIM(arr) > 1)
			ereport(ERROR,
					(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
					 errmsg("customers must be a one-dimensional array")));
		deconstruct_array(arr, INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &elemnulls, &nelems);
		customers = MemoryContextAlloc(callcxt, sizeof(int64) * Max(nelems, 1));
		tenants = palloc0(sizeof(CrmpoolTenant) * Max(nelems, 1));
		outcome = MemoryContextAllocZero(callcxt, sizeof(char *) * Max(nelems, 1));
		for (i = 0; i < nelems; i++)
		{
			if (elemnulls[i])
				ereport(ERROR,
						(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						 errmsg("customers must not contain null")));
			customers[i] = DatumGetInt64(elems[i]);
			outcome[i] = "unknown_customer";
		}
		n = nelems;
		/* locked in key order, as claim_many: customers before reps, in one order */
		if (SPI_execute_with_args(psprintf("SELECT %s::pg_catalog.int8, crmpool_row FROM ONLY %s crmpool_row "
										   "WHERE %s ORDER BY %s FOR NO KEY UPDATE",
										   quote_identifier(get_attname(mr->relid, mr->owner_att, false)),
										   mr->qualname, managed_customer_sql(mr, NULL, "ANY ($1)"),
										   quote_identifier(get_attname(mr->relid, mr->key_att, false))),
								  1, (Oid[]) {INT8ARRAYOID}, (Datum[]) {PointerGetDatum(arr)}, NULL,
								  false, 0) != SPI_OK_SELECT)
			elog(ERROR, "crmpool could not lock the customers");
		seen = hash_create("crmpool distribute customers", Max(SPI_processed, 16), &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		for (i = 0; i < (int) SPI_processed; i++)
		{
			HeapTuple	row;
			TupleDesc	desc;
			bool		isnull;
			bool		owned;
			int64		key;
			char	   *p;
			SeenCustomer *e;

			row = managed_row_from_datum(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull), &desc);
			(void) SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
			owned = !isnull;
			key = managed_key(mr, row, desc);
			e = hash_search(seen, &key, HASH_ENTER, NULL);
			p = managed_pool_text(mr, row, desc);
			e->tenant = CRMPOOL_NO_TENANT;
			e->named = false;
			if (managed_deleted(mr, row, desc))
				e->outcome = "deleted";
			else if (owned)
				e->outcome = "already_owned";
			else if ((p == NULL) != (pool == NULL) || (p != NULL && strcmp(p, pool) != 0))
				e->outcome = "not_in_pool";
			else
			{
				e->outcome = NULL;
				e->tenant = managed_tenant(mr, row, desc);
			}
		}
		for (i = 0; i < n; i++)
		{
			SeenCustomer *e = hash_search(seen, &customers[i], HASH_FIND, NULL);

			if (e == NULL)
				continue;		/* unknown_customer */
			/* a customer named twice is handed out once */
			outcome[i] = e->named ? "repeated" : e->outcome;
			e->named = true;
			tenants[i] = e->tenant;
		}
	}
	else
	{
		char	   *sql = pool_select_sql(mr);
		Portal		portal;
		int			cap = 64;
		char	  **names;

		customers = MemoryContextAlloc(callcxt, sizeof(int64) * cap);
		names = palloc(sizeof(char *) * cap);
		portal = SPI_cursor_open_with_args(NULL, sql, 1, (Oid[]) {TEXTOID},
										   (Datum[]) {pool ? CStringGetTextDatum(pool) : (Datum) 0},
										   pool ? NULL : "n", false, 0);
		while (limit < 0 || n < limit)
		{
			uint64		k;
			long		want = limit < 0 ? 1000 : Min(1000, limit - n);

			SPI_cursor_fetch(portal, true, want);
			if (SPI_processed == 0)
				break;
			for (k = 0; k < SPI_processed; k++)
			{
				bool		isnull;
				char	   *t;

				if (n == cap)
				{
					cap *= 2;
					customers = repalloc(customers, sizeof(int64) * cap);
					names = repalloc(names, sizeof(char *) * cap);
				}
				customers[n] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 1, &isnull));
				t = SPI_getvalue(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 2);
				names[n++] = t;

			}
			SPI_freetuptable(SPI_tuptable);
		}
		SPI_cursor_close(portal);
		/* the tenants as keys, once the cursor is closed (a first sight is written: tenants.c) */
		tenants = palloc(sizeof(CrmpoolTenant) * Max(n, 1));
		for (i = 0; i < n; i++)
			tenants[i] = managed_tenant_text(mr, names[i], customers[i]);
		outcome = MemoryContextAllocZero(callcxt, sizeof(char *) * Max(n, 1));
	}
	reps = MemoryContextAllocZero(callcxt, sizeof(int64) * Max(n, 1));

	/* by tenant: each has its own reps, counts and cursor */
	groups = palloc0(sizeof(TenantGroup) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		if (outcome[i] != NULL)
			continue;
		for (g = 0; g < ngroups && groups[g].tenant != tenants[i]; g++)
			;
		if (g == ngroups)
		{
			groups[g].tenant = tenants[i];
			groups[g].customers = palloc(sizeof(int64) * n);
			groups[g].index = palloc(sizeof(int) * n);
			ngroups++;
		}
		groups[g].index[groups[g].n] = i;
		groups[g].customers[groups[g].n++] = customers[i];
	}
	/*
	 * Tenants in one order in every call: each locks its tenant's cursor row until commit, and
	 * two calls taking two tenants' cursors in opposite orders would deadlock (the oracle,
	 * test/t/001_oracle.pl, found it).  And every tenant's cursor before any rep (customers,
	 * cursors, reps): a tenant's hand-outs hold its reps' counter rows to commit, and an INSERT
	 * under rule auto_distribute locks all its cursors before its reps (an owned row's, or a
	 * lead's of another pool): waiting for the next tenant's cursor while holding a rep, we
	 * could wait for such an INSERT waiting for that rep (distribute_auto_cross.spec).
	 */
	qsort(groups, ngroups, sizeof(TenantGroup), tenant_group_cmp);
	for (g = 0; ngroups > 1 && g < ngroups; g++)
	{
		int64		last_rep;

		(void) lock_cursor(mr, groups[g].tenant, pool, &last_rep);
	}
	for (g = 0; g < ngroups; g++)
	{
		const char **out = palloc0(sizeof(char *) * groups[g].n);
		int64	   *got = palloc0(sizeof(int64) * groups[g].n);

		distribute_group(mr, groups[g].tenant, pool, mode, seeded, seed, groups[g].n,
						 groups[g].customers, got, out);
		for (i = 0; i < groups[g].n; i++)
		{
			outcome[groups[g].index[i]] = out[i];
			reps[groups[g].index[i]] = got[i];
		}
	}
	SPI_finish();

	for (i = 0; i < n; i++)
	{
		bool		given = strcmp(outcome[i], refusal_outcome[REFUSE_NONE]) == 0;
		Datum		values[3] = {Int64GetDatum(customers[i]), Int64GetDatum(reps[i]),
		CStringGetTextDatum(outcome[i])};
		bool		nulls[3] = {false, !given, false};

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/* Refusals that concern the rep, not the customer: claim_next stops at them. */
static bool
refuses_rep(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_CRMPOOL_PRIVATE_CAP ||
		sqlerrcode == ERRCODE_CRMPOOL_DAILY_LIMIT ||
		sqlerrcode == ERRCODE_CRMPOOL_INACTIVE_REP ||
		sqlerrcode == ERRCODE_CRMPOOL_NOT_MEMBER ||
		sqlerrcode == ERRCODE_CRMPOOL_LOCK_CAP;
}

/*
 * crmpool.claim_next(rel, rep, pool, n): claim the next n pool customers in pool order.  Rows
 * another transaction holds are skipped (a rep never waits for, nor fails on, a customer
 * another rep is taking); a customer this rep may not claim (hold-back, cooldown, a deal) is
 * passed over; a refusal of the rep itself (its cap, its daily limit) ends the call, and is
 * raised only when nothing was claimed.
 */
PG_FUNCTION_INFO_V1(crmpool_claim_next);
Datum
crmpool_claim_next(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	ManagedRel *mr = ops_rel_arg(fcinfo, RowExclusiveLock);
	int64		rep;
	const char *pool;
	int			want;
	int			got = 0;
	Portal		portal;
	ClaimArg	arg;
	ErrorData  *stop = NULL;
	CrmpoolTenant claimed_tenant = CRMPOOL_NO_TENANT;
	MemoryContext callcxt = CurrentMemoryContext;
	MemoryContext oldcxt;

	crmpool_require_arg(fcinfo, 1, "rep");
	crmpool_require_arg(fcinfo, 3, "n");
	rep = PG_GETARG_INT64(1);
	pool = pool_arg(fcinfo, 2, mr);
	want = PG_GETARG_INT32(3);
	if (want < 1 || want > CLAIM_NEXT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("n must be from 1 to %d, not %d", CLAIM_NEXT_MAX, want),
				 errdetail("Each customer is claimed in its own subtransaction, with a transaction id of its own.")));
	crmpool_materialized_srf_scalar(fcinfo);

	arg.mr = mr;
	arg.rep = rep;
	SPI_connect();
	portal = SPI_cursor_open_with_args(NULL, pool_select_sql(mr), 1, (Oid[]) {TEXTOID},
									   (Datum[]) {pool ? CStringGetTextDatum(pool) : (Datum) 0},
									   pool ? NULL : "n", false, 0);
	while (got < want && stop == NULL)
	{
		bool		isnull;
		int64		customer;
		char	   *name;
		CrmpoolTenant tenant;
		ErrorData  *refusal;

		SPI_cursor_fetch(portal, true, 1);
		if (SPI_processed == 0)
			break;
		customer = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		name = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		SPI_freetuptable(SPI_tuptable);

		/*
		 * One tenant per call: each claim keeps the rep's counter row of its tenant locked to
		 * commit, and claims across tenants in pool order could take two of them in the opposite
		 * order to a statement that changes both ((tenant, rep) order): a deadlock.  So the call
		 * ends at the first customer of another tenant than its first claim's.
		 */
		tenant = managed_tenant_text(mr, name, customer);
		if (got > 0 && tenant != claimed_tenant)
			break;

		arg.customer = customer;
		/* in the caller's context: a refusal to raise outlives SPI_finish */
		oldcxt = MemoryContextSwitchTo(callcxt);
		refusal = ops_try_refusal(ops_claim_arg, &arg);
		MemoryContextSwitchTo(oldcxt);
		if (refusal == NULL)
		{
			tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc,
								 (Datum[]) {Int64GetDatum(customer)}, (bool[]) {false});
			claimed_tenant = tenant;
			got++;
		}
		else if (refuses_rep(refusal->sqlerrcode))
			stop = refusal;
		else
			FreeErrorData(refusal);
	}
	SPI_cursor_close(portal);
	SPI_finish();
	if (stop != NULL && got == 0)
		ReThrowError(stop);
	return (Datum) 0;
}

/*
 * crmpool.set_priority_column(rel, column): pool order is this column, highest first (NULL
 * last), then the key; NULL: the key alone (the oldest customers first, ids being ascending).
 */
PG_FUNCTION_INFO_V1(crmpool_set_priority_column);
Datum
crmpool_set_priority_column(PG_FUNCTION_ARGS)
{
	Oid			relid;
	OwnerContext octx;
	int			nestlevel;
	int			rc;

	crmpool_require_arg(fcinfo, 0, "rel");
	relid = PG_GETARG_OID(0);
	crmpool_require_owner(relid);
	(void) managed_rel_get(relid, false);
	if (!PG_ARGISNULL(1))
	{
		char	   *column = NameStr(*PG_GETARG_NAME(1));
		AttrNumber	att = get_attnum(relid, column);

		if (att == InvalidAttrNumber || att < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of table %s does not exist", column, get_rel_name(relid))));
	}
	nestlevel = crmpool_begin_admin(&octx);
	if (PG_ARGISNULL(1))
		rc = SPI_execute_with_args("DELETE FROM crmpool.pool_order WHERE rel" EQ "$1", 1,
								   (Oid[]) {REGCLASSOID}, (Datum[]) {ObjectIdGetDatum(relid)},
								   NULL, false, 0);
	else
		rc = SPI_execute_with_args("INSERT INTO crmpool.pool_order (rel, priority_column) VALUES ($1, $2) "
								   "ON CONFLICT (rel) DO UPDATE SET priority_column = excluded.priority_column",
								   2, (Oid[]) {REGCLASSOID, NAMEOID},
								   (Datum[]) {ObjectIdGetDatum(relid), PG_GETARG_DATUM(1)},
								   NULL, false, 0);
	crmpool_end_admin(&octx, nestlevel);
	if (rc < 0)
		elog(ERROR, "crmpool could not set the priority column: %s", SPI_result_code_string(rc));
	PG_RETURN_VOID();
}

/*
 * Rule auto_distribute: the ownership trigger calls this for a customer inserted into such a
 * pool, after its INSERT is recorded.  The hand-out is the same as distribute()'s, in the
 * inserting transaction, as the inserting role; when nobody is eligible, or the rep's cap
 * refuses it under lock, the customer stays in the pool.
 */
static void
auto_distribute(ManagedRel *mr, CrmpoolTenant tenant, const char *pool, int64 customer, int mode)
{
	const char *outcome = NULL;
	int64		rep = 0;
	/* the inserted row's tenant: a table keyed (tenant, id) finds the customer within it */
	int			scope = managed_scope_push(mr, tenant);

	SPI_connect();
	distribute_group(mr, tenant, pool, (DistributeMode) mode, false, 0, 1, &customer, &rep,
					 &outcome);
	SPI_finish();
	managed_scope_pop(scope);
}

/* Rule auto_distribute: lock the cursor of (tenant, pool) ahead of the statement's hand-outs. */
static void
auto_lock_cursor(ManagedRel *mr, CrmpoolTenant tenant, const char *pool)
{
	int64		last_rep;

	SPI_connect();
	(void) lock_cursor(mr, tenant, pool, &last_rep);
	SPI_finish();
}

void
distribute_init(void)
{
	ownership_auto_lock_cursor_hook = auto_lock_cursor;
	ownership_auto_distribute_hook = auto_distribute;
}
