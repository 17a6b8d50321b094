/*
 * pools.c: the pools of a managed table, their members and admins, read from the table's
 * cached configuration.
 *
 * crmpool.pool and crmpool.pool_member (sql/parts/17_pools.sql) are read with the rest of a
 * table's configuration (registry.c, load_pools) and dropped with it on the relcache
 * invalidation that every change to them sends (admin/pools.c), so that the trigger and the
 * operations answer "who may claim here" from memory.  A pool that names no member is open to
 * every rep (0.1's behaviour); ManagedRel.pool_access is false while no pool names anyone, and
 * then nothing here is asked on the hot path.
 *
 * Members and admins are reps or teams (crmpool.set_rep's team).  A team stands for the reps
 * set in it, in the order they were set (rep_config.set_at, then rep id), at the team's place in
 * the pool's join order; a rep named twice (itself, or through two teams) counts at its first
 * place.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "table/table.h"

/* Whether pi is a row of pool `pool` (NULL: the default pool), for whichever tenant. */
bool
pool_is(const PoolInfo *pi, const char *pool)
{
	return (pi->pool == NULL) == (pool == NULL) && (pool == NULL || strcmp(pi->pool, pool) == 0);
}

/*
 * The pool `pool` (NULL: the default pool) as it applies to a customer of `tenant`: the one set
 * for that tenant, else the one of every tenant; NULL when the table has no such pool.
 */
const PoolInfo *
pool_find(ManagedRel *mr, CrmpoolTenant tenant, const char *pool)
{
	const PoolInfo *every = NULL;
	int			i;

	for (i = 0; i < mr->npools; i++)
	{
		const PoolInfo *pi = &mr->pools[i];

		if (!pool_is(pi, pool))
			continue;
		if (pi->every)
			every = pi;
		else if (pi->known && pi->tenant_key == tenant)
			return pi;
	}
	return every;
}

/*
 * Whether the pool exists for every tenant (*every) or for some tenant only: true when the
 * table has a row of it at all.
 */
bool
pool_exists(ManagedRel *mr, const char *pool, bool *every)
{
	bool		found = false;
	int			i;

	*every = false;
	for (i = 0; i < mr->npools; i++)
	{
		const PoolInfo *pi = &mr->pools[i];

		if (!pool_is(pi, pool))
			continue;
		found = true;
		*every |= pi->every;
	}
	return found;
}

/* Whether rep is in `team` for a customer of `tenant` (crmpool.set_rep). */
static bool
in_team(ManagedRel *mr, CrmpoolTenant tenant, int64 rep, const char *team)
{
	const RepInfo *ri = managed_rep(mr, tenant, rep);

	return ri != NULL && ri->team != NULL && strcmp(ri->team, team) == 0;
}

/* Whether one of the entries [from, from + n) names rep, itself or through its team. */
static bool
entries_name(ManagedRel *mr, CrmpoolTenant tenant, const PoolEntry *e, int n, int64 rep)
{
	int			i;

	for (i = 0; i < n; i++)
		if (e[i].team == NULL ? e[i].rep == rep : in_team(mr, tenant, rep, e[i].team))
			return true;
	return false;
}

/* Whether the pool names no member: every rep may claim from it. */
bool
pool_is_open(ManagedRel *mr, CrmpoolTenant tenant, const char *pool)
{
	const PoolInfo *pi;

	if (!mr->pool_access)
		return true;
	pi = pool_find(mr, tenant, pool);
	return pi == NULL || pi->nmembers == 0;
}

/* Whether rep is an admin of the pool (itself or through its team). */
bool
pool_is_admin(ManagedRel *mr, CrmpoolTenant tenant, const char *pool, int64 rep)
{
	const PoolInfo *pi;

	if (!mr->pool_access)
		return false;
	pi = pool_find(mr, tenant, pool);
	return pi != NULL && entries_name(mr, tenant, pi->entries + pi->nmembers, pi->nadmins, rep);
}

/*
 * Whether rep may claim from the pool: the pool is open (names no member), or names the rep as
 * a member or an admin, itself or through its team.
 */
bool
pool_is_member(ManagedRel *mr, CrmpoolTenant tenant, const char *pool, int64 rep)
{
	const PoolInfo *pi;

	if (!mr->pool_access)
		return true;
	pi = pool_find(mr, tenant, pool);
	if (pi == NULL || pi->nmembers == 0)
		return true;
	return entries_name(mr, tenant, pi->entries, pi->nmembers + pi->nadmins, rep);
}

/* Reps of a team in join order: set_at, then rep. */
static int
team_order(const void *a, const void *b)
{
	const RepInfo *x = *(const RepInfo *const *) a;
	const RepInfo *y = *(const RepInfo *const *) b;

	if (x->set_at != y->set_at)
		return x->set_at < y->set_at ? -1 : 1;
	if (x->rep != y->rep)
		return x->rep < y->rep ? -1 : 1;
	return 0;
}

static bool
listed(const PoolMember *m, int n, int64 rep)
{
	int			i;

	for (i = 0; i < n; i++)
		if (m[i].rep == rep)
			return true;
	return false;
}

/*
 * The members (admins false) or admins (true) of the pool for a customer of `tenant`, each rep
 * once, in join order (teams expanded in place), into *out (palloc'd in the current context);
 * returns how many.  Inactive reps are listed with active false: a caller that skips them keeps
 * everyone else's turn.  An open pool (no member) returns 0: every rep may claim there, and
 * crmpool cannot list "every rep".
 */
int
pool_members(ManagedRel *mr, CrmpoolTenant tenant, const char *pool, bool admins, PoolMember **out)
{
	const PoolInfo *pi = mr->pool_access ? pool_find(mr, tenant, pool) : NULL;
	const PoolEntry *e;
	int			n;
	int			cap;
	int			count = 0;
	int			i;
	PoolMember *m;

	*out = NULL;
	if (pi == NULL)
		return 0;
	e = admins ? pi->entries + pi->nmembers : pi->entries;
	n = admins ? pi->nadmins : pi->nmembers;
	if (n == 0)
		return 0;
	cap = n + mr->nreps;
	m = palloc0(sizeof(PoolMember) * cap);
	for (i = 0; i < n; i++)
	{
		if (e[i].team == NULL)
		{
			const RepInfo *ri;

			if (listed(m, count, e[i].rep))
				continue;
			ri = managed_rep(mr, tenant, e[i].rep);
			m[count].rep = e[i].rep;
			m[count].active = ri == NULL || ri->active;
			m[count].team = NULL;
			m[count].joined_at = e[i].joined_at;
			count++;
		}
		else
		{
			const RepInfo **team = palloc(sizeof(RepInfo *) * Max(mr->nreps, 1));
			int			nteam = 0;
			int			j;

			/* each rep once, as set for this tenant (managed_rep), if in the team */
			for (j = 0; j < mr->nreps; j++)
			{
				const RepInfo *ri;

				if (j > 0 && mr->reps[j].rep == mr->reps[j - 1].rep)
					continue;
				ri = managed_rep(mr, tenant, mr->reps[j].rep);
				if (ri != NULL && ri->team != NULL && strcmp(ri->team, e[i].team) == 0)
					team[nteam++] = ri;
			}
			if (nteam > 1)
				qsort(team, nteam, sizeof(RepInfo *), team_order);
			for (j = 0; j < nteam; j++)
			{
				if (listed(m, count, team[j]->rep))
					continue;
				m[count].rep = team[j]->rep;
				m[count].active = team[j]->active;
				m[count].team = e[i].team;
				m[count].joined_at = e[i].joined_at;
				count++;
			}
			pfree(team);
		}
	}
	for (i = 0; i < count; i++)
		m[i].ordinal = i + 1;
	*out = m;
	return count;
}

/* A pool as messages name it: pool "x", or the default pool (no pool column, or a null value). */
const char *
pool_name_words(const char *pool)
{
	if (pool == NULL)
		return _("the default pool");
	return psprintf(_("pool \"%s\""), pool);
}
