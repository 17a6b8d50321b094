/*
 * rules.c: rule keys, their validation, and the cascade table -> tenant -> pool -> team -> rep.
 *
 * Rules are stored as jsonb per scope in crmpool.rule_set and parsed here into RuleSets.  A
 * scope is the whole table (every part NULL) narrowed by any of a tenant, a pool, and either a
 * team (the reps crmpool.set_rep() put in it) or one rep; the effective value of a key is the
 * one from the most specific scope that sets it (rules_effective says which that is).  Inside a
 * scope, "levels" may override the recycle keys (those marked `due`) for customers of one level
 * (A/B/C); a level override beats the same scope's plain value but not a more specific scope.
 *
 * Adding a rule is one line in rule_defs[] (and one RuleKey).  The SQL functions that store
 * rules (set_rules, clear_rules, rules) are in admin/rule_api.c.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/guc.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/float.h"
#include "utils/timestamp.h"

#include "core/core.h"

typedef enum RuleType
{
	RT_COUNT,					/* whole number >= 0, or null = unlimited */
	RT_BOOL,
	RT_INTERVAL,				/* interval string >= 0, or null = none */
	RT_POLICY,					/* "block", "warn" or "off" */
	RT_FRACTION,				/* number from 0 to 1, or null = the setting's default */
	RT_OPS,						/* array of operation names (op_names), a bit set in choice */
	RT_CHOICE,					/* one of the names in `names`, or null = default_choice (-1: off) */
	RT_POOL						/* a pool's name (a non-empty string), or null = none */
} RuleType;

typedef struct RuleDef
{
	const char *name;
	RuleType	type;
	bool		default_flag;	/* RT_BOOL only */
	int			default_choice; /* RT_POLICY, RT_OPS and RT_CHOICE only */
	const char *const *names;	/* RT_CHOICE only: the values, NULL-terminated */
	const double *default_real; /* RT_FRACTION only: the setting that holds the default */
	bool		has_default_key;	/* RT_POLICY only: unset, it takes default_key's value */
	RuleKey		default_key;
	bool		due;			/* decides when customers are recycled (due.c); the only
								 * keys read per customer level */
	bool		moves_due;		/* not read per level, but changes which customers are due */
} RuleDef;

static const char *const policy_names[] = {
	[DEDUP_OFF] = "off",
	[DEDUP_WARN] = "warn",
	[DEDUP_BLOCK] = "block",
};

/* The modes of crmpool.distribute() (rule auto_distribute), in DistributeMode's order. */
const char *const distribute_mode_names[] = {
	[DISTRIBUTE_ROUND_ROBIN] = "round_robin",
	[DISTRIBUTE_LOTTERY] = "lottery",
	[DISTRIBUTE_PERFORMANCE] = "performance",
	[DISTRIBUTE_LEAST_BUSY] = "least_busy",
	NULL
};

/* Where the performance mode reads a rep's score (rule performance_source). */
static const char *const score_source_names[] = {
	[SCORE_FROM_DEALS] = "deals",
	[SCORE_FROM_APP] = "score",
	NULL
};

/* The operations a lock can block (lock_blocks), bit i for name i. */
static const char *const op_names[] = {"release", "transfer", "recycle"};

StaticAssertDecl(LOCK_BLOCKS_RELEASE == 1 << 0 && LOCK_BLOCKS_TRANSFER == 1 << 1 &&
				 LOCK_BLOCKS_RECYCLE == 1 << 2, "op_names follows the LOCK_BLOCKS_* bits");

static const RuleDef rule_defs[NUM_RULE_KEYS] = {
	[RULE_PRIVATE_CAP] = {.name = "private_cap", .type = RT_COUNT},
	[RULE_COUNT_DEALS_IN_CAP] = {.name = "count_deals_in_cap", .type = RT_BOOL, .default_flag = true},
	[RULE_LOCK_CAP] = {.name = "lock_cap", .type = RT_COUNT},
	[RULE_LOCK_BLOCKS] = {.name = "lock_blocks", .type = RT_OPS, .default_choice = LOCK_BLOCKS_ALL,
	.moves_due = true},
	[RULE_DAILY_CLAIM_LIMIT] = {.name = "daily_claim_limit", .type = RT_COUNT},
	[RULE_RECLAIM_COOLDOWN] = {.name = "reclaim_cooldown", .type = RT_INTERVAL},
	[RULE_POOL_HOLDBACK] = {.name = "pool_holdback", .type = RT_INTERVAL},
	[RULE_CLAIM_WITH_DEAL] = {.name = "claim_with_deal", .type = RT_BOOL, .default_flag = true},
	[RULE_DEDUP_PHONE] = {.name = "dedup_phone", .type = RT_POLICY, .default_choice = DEDUP_WARN},
	[RULE_DEDUP_EMAIL] = {.name = "dedup_email", .type = RT_POLICY, .default_choice = DEDUP_WARN},
	[RULE_DEDUP_NAME] = {.name = "dedup_name", .type = RT_POLICY, .default_choice = DEDUP_WARN},
	[RULE_NAME_THRESHOLD] = {.name = "name_threshold", .type = RT_FRACTION,
	.default_real = &crmpool_name_threshold},
	[RULE_RECYCLE_NO_FOLLOWUP] = {.name = "recycle_no_followup", .type = RT_INTERVAL, .due = true},
	[RULE_RECYCLE_NO_DEAL] = {.name = "recycle_no_deal", .type = RT_INTERVAL, .due = true},
	[RULE_RECYCLE_EXEMPT_DEALS] = {.name = "recycle_exempt_deals", .type = RT_BOOL,
	.default_flag = true, .due = true},
	[RULE_WARN_BEFORE] = {.name = "warn_before", .type = RT_INTERVAL, .due = true},
	/* the same switchboard (main line, another or no extension): as dedup_phone unless set */
	[RULE_DEDUP_PHONE_MAIN] = {.name = "dedup_phone_main", .type = RT_POLICY,
	.has_default_key = true, .default_key = RULE_DEDUP_PHONE},
	[RULE_FOLD_PLUS_TAGS] = {.name = "fold_plus_tags", .type = RT_BOOL, .default_flag = true},
	[RULE_FOLD_GMAIL_DOTS] = {.name = "fold_gmail_dots", .type = RT_BOOL, .default_flag = true},
	[RULE_AUTO_DISTRIBUTE] = {.name = "auto_distribute", .type = RT_CHOICE, .default_choice = -1,
	.names = distribute_mode_names},
	[RULE_PERFORMANCE_SOURCE] = {.name = "performance_source", .type = RT_CHOICE,
	.default_choice = SCORE_FROM_DEALS, .names = score_source_names},
	[RULE_RECYCLE_TO_POOL] = {.name = "recycle_to_pool", .type = RT_POOL},
	[RULE_POOL_EXPIRE] = {.name = "pool_expire", .type = RT_INTERVAL},
	[RULE_POOL_EXPIRE_TO] = {.name = "pool_expire_to", .type = RT_POOL},
};

#define LEVELS_KEY "levels"

static const char *
rule_key_list(void)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	for (i = 0; i < NUM_RULE_KEYS; i++)
		appendStringInfo(&buf, "%s%s", i > 0 ? ", " : "", rule_defs[i].name);
	appendStringInfo(&buf, ", %s", LEVELS_KEY);
	return buf.data;
}

static int
rule_key_lookup(const char *name, int len)
{
	int			i;

	for (i = 0; i < NUM_RULE_KEYS; i++)
		if (strlen(rule_defs[i].name) == (size_t) len &&
			strncmp(rule_defs[i].name, name, len) == 0)
			return i;
	return -1;
}

static void
error_context_rule(void *arg)
{
	errcontext("rule \"%s\"", (const char *) arg);
}

static pg_noreturn void
refuse_ops(const RuleDef *def, const char *given)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("rule \"%s\" must be an array of \"release\", \"transfer\" and \"recycle\"",
					def->name),
			 given ? errdetail("\"%s\" is not one of them.", given) : 0,
			 errhint("For example: {\"%s\": [\"release\", \"recycle\"]}; [] lets a lock block nothing.",
					 def->name)));
}

/* The index of a name in a NULL-terminated list, or -1. */
static int
choice_lookup(const char *const *names, const char *name, int len)
{
	int			i;

	for (i = 0; names[i] != NULL; i++)
		if (strlen(names[i]) == (size_t) len && strncmp(names[i], name, len) == 0)
			return i;
	return -1;
}

/* Index of a distribute mode's name, or -1 (distribute.c reads its mode argument so). */
int
rules_distribute_mode(const char *name)
{
	return choice_lookup(distribute_mode_names, name, strlen(name));
}

static pg_noreturn void
refuse_choice(const RuleDef *def)
{
	StringInfoData names;
	int			i;

	initStringInfo(&names);
	for (i = 0; def->names[i] != NULL; i++)
		appendStringInfo(&names, "%s\"%s\"", i > 0 ? ", " : "", def->names[i]);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("rule \"%s\" must be one of %s, or null", def->name, names.data)));
}

/* An RT_OPS value: a JSON array of names from op_names, as a bit set. */
static int
parse_ops(const RuleDef *def, JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	elem;
	JsonbIteratorToken tok;
	int			set = 0;

	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		refuse_ops(def, NULL);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
	{
		int			i;
		int			found = -1;

		if (tok != WJB_ELEM)
			continue;
		if (elem.type != jbvString)
			refuse_ops(def, NULL);
		for (i = 0; i < lengthof(op_names); i++)
			if (strlen(op_names[i]) == (size_t) elem.val.string.len &&
				strncmp(op_names[i], elem.val.string.val, elem.val.string.len) == 0)
				found = i;
		if (found < 0)
			refuse_ops(def, pnstrdup(elem.val.string.val, elem.val.string.len));
		set |= 1 << found;
	}
	return set;
}

static void
append_ops(StringInfo buf, int set)
{
	int			i;
	bool		first = true;

	appendStringInfoChar(buf, '[');
	for (i = 0; i < lengthof(op_names); i++)
		if (set & (1 << i))
		{
			if (!first)
				appendStringInfoString(buf, ", ");
			escape_json(buf, op_names[i]);
			first = false;
		}
	appendStringInfoChar(buf, ']');
}

static void
parse_value(RuleKey key, JsonbValue *v, RuleValue *out)
{
	const RuleDef *def = &rule_defs[key];

	out->set = true;
	out->isnull = false;

	if (v->type == jbvNull)
	{
		if (def->type == RT_BOOL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rule \"%s\" must be true or false", def->name)));
		if (def->type == RT_POLICY)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("rule \"%s\" must be \"block\", \"warn\" or \"off\"", def->name)));
		if (def->type == RT_OPS)
			refuse_ops(def, NULL);
		out->isnull = true;
		return;
	}

	switch (def->type)
	{
		case RT_COUNT:
			{
				Numeric		n;
				bool		have_error = false;
				int64		count;

				if (v->type != jbvNumeric)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("rule \"%s\" must be a whole number or null", def->name)));
				n = v->val.numeric;
				/* rounds; the comparison below refuses fractions */
				count = numeric_int4_opt_error(n, &have_error);
				if (have_error || count < 0 ||
					!DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(n),
													  DirectFunctionCall1(int4_numeric, Int32GetDatum((int32) count)))))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("rule \"%s\" must be a whole number from 0 to %d, or null",
									def->name, PG_INT32_MAX),
							 errdetail("The value given was %s.",
									   DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n))))));
				out->v.count = count;
				break;
			}
		case RT_BOOL:
			if (v->type != jbvBool)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("rule \"%s\" must be true or false", def->name)));
			out->v.flag = v->val.boolean;
			break;
		case RT_INTERVAL:
			{
				char	   *str;
				Interval   *iv;
				Interval	zero;
				ErrorContextCallback errcb;

				if (v->type != jbvString)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("rule \"%s\" must be an interval string such as \"7 days\", or null",
									def->name)));
				str = pnstrdup(v->val.string.val, v->val.string.len);
				errcb.callback = error_context_rule;
				errcb.arg = (void *) def->name;
				errcb.previous = error_context_stack;
				error_context_stack = &errcb;
				iv = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(str),
														   ObjectIdGetDatum(InvalidOid),
														   Int32GetDatum(-1)));
				error_context_stack = errcb.previous;
				memset(&zero, 0, sizeof(zero));
				if (DatumGetBool(DirectFunctionCall2(interval_lt, IntervalPGetDatum(iv),
													 IntervalPGetDatum(&zero))))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("rule \"%s\" must not be negative", def->name),
							 errdetail("The value given was \"%s\".", str)));
				out->v.span = *iv;
				break;
			}
		case RT_POLICY:
			{
				int			i;

				out->v.choice = -1;
				if (v->type == jbvString)
					for (i = 0; i < lengthof(policy_names); i++)
						if (strlen(policy_names[i]) == (size_t) v->val.string.len &&
							strncmp(policy_names[i], v->val.string.val, v->val.string.len) == 0)
							out->v.choice = i;
				if (out->v.choice < 0)
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("rule \"%s\" must be \"block\", \"warn\" or \"off\"", def->name)));
				break;
			}
		case RT_FRACTION:
			{
				double		d = -1;

				if (v->type == jbvNumeric)
					d = DatumGetFloat8(DirectFunctionCall1(numeric_float8,
														   NumericGetDatum(v->val.numeric)));
				if (v->type != jbvNumeric || !(d >= 0.0 && d <= 1.0))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("rule \"%s\" must be a number from 0 to 1, or null", def->name)));
				out->v.real = d;
				break;
			}
		case RT_OPS:
			out->v.choice = parse_ops(def, v);
			break;
		case RT_CHOICE:
			out->v.choice = -1;
			if (v->type == jbvString)
				out->v.choice = choice_lookup(def->names, v->val.string.val, v->val.string.len);
			if (out->v.choice < 0)
				refuse_choice(def);
			break;
		case RT_POOL:
			if (v->type != jbvString || v->val.string.len == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("rule \"%s\" must be the name of a pool, or null", def->name)));
			crmpool_check_length(psprintf(_("rule \"%s\""), def->name), v->val.string.val,
								 v->val.string.len, CRMPOOL_POOL_MAX_CHARS);
			out->v.pool = pnstrdup(v->val.string.val, v->val.string.len);
			break;
	}
}

/* Parse one object of rule keys into rs; levels are allowed only at the top. */
static void
parse_object(JsonbContainer *container, RuleSet *rs, RuleScope *scope)
{
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;

	it = JsonbIteratorInit(container);
	tok = JsonbIteratorNext(&it, &v, false);
	if (tok != WJB_BEGIN_OBJECT)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rules must be a JSON object"),
				 errhint("For example: {\"private_cap\": 50, \"reclaim_cooldown\": \"7 days\"}.")));

	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *keyname;
		int			keylen;
		int			key;

		if (tok != WJB_KEY)
			continue;
		keyname = v.val.string.val;
		keylen = v.val.string.len;
		key = rule_key_lookup(keyname, keylen);
		tok = JsonbIteratorNext(&it, &v, true);
		Assert(tok == WJB_VALUE);

		if (key >= 0)
		{
			parse_value((RuleKey) key, &v, &rs->key[key]);
			continue;
		}
		if (scope != NULL && keylen == strlen(LEVELS_KEY) && strncmp(keyname, LEVELS_KEY, keylen) == 0)
		{
			JsonbIterator *lit;
			JsonbValue	lv;
			JsonbIteratorToken ltok;
			int			nlevels;

			if (v.type != jbvBinary || !JsonContainerIsObject(v.val.binary.data))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("rule \"levels\" must be an object of level names to rules"),
						 errhint("For example: {\"levels\": {\"A\": {\"recycle_no_followup\": \"60 days\"}}}.")));
			nlevels = JsonContainerSize(v.val.binary.data);
			scope->nlevels = 0;
			scope->level_names = palloc0(sizeof(char *) * Max(nlevels, 1));
			scope->level_rules = palloc0(sizeof(RuleSet) * Max(nlevels, 1));
			lit = JsonbIteratorInit(v.val.binary.data);
			while ((ltok = JsonbIteratorNext(&lit, &lv, true)) != WJB_DONE)
			{
				char	   *level;

				if (ltok != WJB_KEY)
					continue;
				level = pnstrdup(lv.val.string.val, lv.val.string.len);
				ltok = JsonbIteratorNext(&lit, &lv, true);
				if (lv.type != jbvBinary || !JsonContainerIsObject(lv.val.binary.data))
					ereport(ERROR,
							(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
							 errmsg("rules of level \"%s\" must be a JSON object", level)));
				scope->level_names[scope->nlevels] = level;
				parse_object(lv.val.binary.data, &scope->level_rules[scope->nlevels], NULL);
				scope->nlevels++;
			}
			continue;
		}
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown rule \"%.*s\"", keylen, keyname),
				 errhint("Known rules: %s.", rule_key_list())));
	}
}

/* Parse and validate a scope's rules; raises on unknown keys, wrong types, negative values. */
void
rules_parse(Jsonb *jb, RuleScope *scope)
{
	memset(&scope->rules, 0, sizeof(RuleSet));
	scope->nlevels = 0;
	scope->level_names = NULL;
	scope->level_rules = NULL;
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("rules must be a JSON object"),
				 errhint("For example: {\"private_cap\": 50, \"reclaim_cooldown\": \"7 days\"}.")));
	parse_object(&jb->root, &scope->rules, scope);
}

static void
overlay(RuleSet *out, const RuleSet *in)
{
	int			i;

	for (i = 0; i < NUM_RULE_KEYS; i++)
		if (in->key[i].set)
			out->key[i] = in->key[i];
}

static void
overlay_scope(RuleSet *out, const RuleScope *scope, const char *level)
{
	int			i;

	overlay(out, &scope->rules);
	if (level == NULL)
		return;
	for (i = 0; i < scope->nlevels; i++)
		if (strcmp(scope->level_names[i], level) == 0)
			overlay(out, &scope->level_rules[i]);
}

/*
 * How specific a scope is: a rep beats any scope without one, then a team, then a pool, then a
 * tenant; among scopes of the same most specific part, the next part decides (a rep in a pool
 * beats the rep alone).  A rep's own rule therefore overrides its team's, whatever the team's
 * other parts.
 */
static int
scope_rank(const RuleScope *s)
{
	return (s->tenant != NULL ? 1 : 0) | (s->pool != NULL ? 2 : 0) |
		(s->team != NULL ? 4 : 0) | (s->has_rep ? 8 : 0);
}

static int
scope_order(const void *a, const void *b)
{
	int			x = scope_rank((const RuleScope *) a),
				y = scope_rank((const RuleScope *) b);

	return x < y ? -1 : x > y ? 1 : 0;
}

/* Sort a table's scopes, least specific first, as rules_effective() needs them (once per load). */
void
rules_sort_scopes(int nscopes, RuleScope *scopes)
{
	if (nscopes > 1)
		qsort(scopes, nscopes, sizeof(RuleScope), scope_order);
}

static bool
part_matches(const char *scope_part, const char *value)
{
	return scope_part == NULL || (value != NULL && strcmp(scope_part, value) == 0);
}

/*
 * The effective rules for a customer of `tenant` (its key; NULL: the table has no tenant column)
 * in `pool` (NULL: the default pool) owned or claimed by `rep` of `team` (NULL: none), of level
 * `level` (NULL: none).  `scopes` are sorted by rules_sort_scopes(): one pass overlays every
 * matching scope, least specific first, so the most specific one that sets a key wins.  Two
 * matching scopes of the same rank would be the same scope, which crmpool.rule_set's unique
 * constraint forbids.
 */
void
rules_effective(int nscopes, const RuleScope *scopes, const CrmpoolTenant *tenant,
				const char *pool, const char *team, bool has_rep, int64 rep, const char *level,
				RuleSet *out)
{
	int			i;

	memset(out, 0, sizeof(RuleSet));
	for (i = 0; i < nscopes; i++)
	{
		const RuleScope *s = &scopes[i];

		if ((s->tenant != NULL &&
			 (tenant == NULL || !s->tenant_known || s->tenant_key != *tenant)) ||
			!part_matches(s->pool, pool) ||
			!part_matches(s->team, team) || (s->has_rep && (!has_rep || s->rep != rep)))
			continue;
		overlay_scope(out, s, level);
	}
}

/* A count limit: true with *limit set when the rule applies (set and not null). */
bool
rule_limit(const RuleSet *rs, RuleKey key, int64 *limit)
{
	if (!rs->key[key].set || rs->key[key].isnull)
		return false;
	*limit = rs->key[key].v.count;
	return true;
}

/* An interval rule: true (with *span set, unless span is NULL) when it applies. */
bool
rule_span(const RuleSet *rs, RuleKey key, Interval *span)
{
	if (!rs->key[key].set || rs->key[key].isnull)
		return false;
	if (span != NULL)
		*span = rs->key[key].v.span;
	return true;
}

bool
rule_flag(const RuleSet *rs, RuleKey key)
{
	if (!rs->key[key].set)
		return rule_defs[key].default_flag;
	return rs->key[key].v.flag;
}

int
rule_choice(const RuleSet *rs, RuleKey key)
{
	/* null (RT_CHOICE): the default, -1 for a choice that is off by default */
	if (!rs->key[key].set || rs->key[key].isnull)
		return rule_defs[key].has_default_key ? rule_choice(rs, rule_defs[key].default_key) :
			rule_defs[key].default_choice;
	return rs->key[key].v.choice;
}

/* A pool rule: the pool's name, or NULL when no scope sets it or it is null. */
const char *
rule_pool(const RuleSet *rs, RuleKey key)
{
	if (!rs->key[key].set || rs->key[key].isnull)
		return NULL;
	return rs->key[key].v.pool;
}

/* A fraction rule, or dflt (a setting's value) when no scope sets it or it is null. */
double
rule_real(const RuleSet *rs, RuleKey key, double dflt)
{
	if (!rs->key[key].set || rs->key[key].isnull)
		return dflt;
	return rs->key[key].v.real;
}

/* Whether some scope of a table sets `key` (to a value, not null). */
bool
rules_any(int nscopes, const RuleScope *scopes, RuleKey key)
{
	int			i;

	for (i = 0; i < nscopes; i++)
		if (scopes[i].rules.key[key].set && !scopes[i].rules.key[key].isnull)
			return true;
	return false;
}

/* Whether some scope (or level) of a table sets a recycle period: only then are due times kept. */
bool
rules_recycle(int nscopes, const RuleScope *scopes)
{
	int			i,
				j;

	for (i = 0; i < nscopes; i++)
	{
		const RuleScope *s = &scopes[i];

		if (rule_span(&s->rules, RULE_RECYCLE_NO_FOLLOWUP, NULL) ||
			rule_span(&s->rules, RULE_RECYCLE_NO_DEAL, NULL))
			return true;
		for (j = 0; j < s->nlevels; j++)
			if (rule_span(&s->level_rules[j], RULE_RECYCLE_NO_FOLLOWUP, NULL) ||
				rule_span(&s->level_rules[j], RULE_RECYCLE_NO_DEAL, NULL))
				return true;
	}
	return false;
}

static bool
ruleset_touches_due(const RuleSet *rs)
{
	int			i;

	for (i = 0; i < NUM_RULE_KEYS; i++)
		if ((rule_defs[i].due || rule_defs[i].moves_due) && rs->key[i].set)
			return true;
	return false;
}

/* Whether a scope's rules set (or null) a key that decides due times, at the top or per level. */
bool
rules_touch_due(const RuleScope *scope)
{
	int			j;

	if (ruleset_touches_due(&scope->rules))
		return true;
	for (j = 0; j < scope->nlevels; j++)
		if (ruleset_touches_due(&scope->level_rules[j]))
			return true;
	return false;
}

/* Whether removing the key `name` from a scope can change due times. */
bool
rules_key_touches_due(const char *name)
{
	int			key = rule_key_lookup(name, strlen(name));

	if (key >= 0)
		return rule_defs[key].due || rule_defs[key].moves_due;
	return strcmp(name, LEVELS_KEY) == 0;
}

/* ---------------------------------------------------------------------------------------------
 * Rules as jsonb, and what set_rules refuses
 * -------------------------------------------------------------------------------------------*/

static void
append_value(StringInfo buf, const RuleSet *rs, RuleKey key)
{
	const RuleDef *def = &rule_defs[key];
	const RuleValue *v = &rs->key[key];

	appendStringInfo(buf, "\"%s\": ", def->name);
	if (!v->set)
	{
		if (def->has_default_key)
			escape_json(buf, policy_names[rule_choice(rs, key)]);
		else if (def->type == RT_BOOL)
			appendStringInfoString(buf, def->default_flag ? "true" : "false");
		else if (def->type == RT_POLICY)
			escape_json(buf, policy_names[def->default_choice]);
		else if (def->type == RT_FRACTION)
			appendStringInfo(buf, "%g", *def->default_real);
		else if (def->type == RT_OPS)
			append_ops(buf, def->default_choice);
		else if (def->type == RT_CHOICE && def->default_choice >= 0)
			escape_json(buf, def->names[def->default_choice]);
		else
			appendStringInfoString(buf, "null");
		return;
	}
	if (v->isnull)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	switch (def->type)
	{
		case RT_COUNT:
			appendStringInfo(buf, INT64_FORMAT, v->v.count);
			break;
		case RT_BOOL:
			appendStringInfoString(buf, v->v.flag ? "true" : "false");
			break;
		case RT_INTERVAL:
			escape_json(buf, crmpool_interval_text(&v->v.span));
			break;
		case RT_POLICY:
			escape_json(buf, policy_names[v->v.choice]);
			break;
		case RT_FRACTION:
			appendStringInfo(buf, "%g", v->v.real);
			break;
		case RT_OPS:
			append_ops(buf, v->v.choice);
			break;
		case RT_CHOICE:
			escape_json(buf, def->names[v->v.choice]);
			break;
		case RT_POOL:
			escape_json(buf, v->v.pool);
			break;
	}
}

/* A rule set (and its levels' sets) as jsonb, every key with its value or default. */
Jsonb *
rules_jsonb(const RuleSet *rs, int nlevels, char **level_names, RuleSet *level_sets)
{
	StringInfoData buf;
	int			i;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	for (i = 0; i < NUM_RULE_KEYS; i++)
	{
		if (i > 0)
			appendStringInfoString(&buf, ", ");
		append_value(&buf, rs, (RuleKey) i);
	}
	if (nlevels > 0)
	{
		appendStringInfo(&buf, ", \"%s\": {", LEVELS_KEY);
		for (i = 0; i < nlevels; i++)
		{
			int			k;
			bool		first = true;

			if (i > 0)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, level_names[i]);
			appendStringInfoString(&buf, ": {");
			for (k = 0; k < NUM_RULE_KEYS; k++)
			{
				/* show only what the level changes */
				if (memcmp(&level_sets[i].key[k], &rs->key[k], sizeof(RuleValue)) == 0)
					continue;
				if (!first)
					appendStringInfoString(&buf, ", ");
				append_value(&buf, &level_sets[i], (RuleKey) k);
				first = false;
			}
			appendStringInfoChar(&buf, '}');
		}
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, '}');
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}

/*
 * Only the keys that decide due times are read per customer level (due.c): a cap or a
 * limit under "levels" would be stored and shown by rules() but never enforced, so set_rules
 * refuses it.  (Rules stored by 0.1 are still loaded; such a key in them stays without effect.)
 */
void
rules_refuse_level_keys(const RuleScope *scope)
{
	int			i,
				k;

	for (i = 0; i < scope->nlevels; i++)
		for (k = 0; k < NUM_RULE_KEYS; k++)
			if (scope->level_rules[i].key[k].set && !rule_defs[k].due)
			{
				StringInfoData keys;
				int			j;

				initStringInfo(&keys);
				for (j = 0; j < NUM_RULE_KEYS; j++)
					if (rule_defs[j].due)
						appendStringInfo(&keys, "%s%s", keys.len > 0 ? ", " : "", rule_defs[j].name);
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("rule \"%s\" cannot be set per customer level", rule_defs[k].name),
						 errdetail("It was given under \"levels\" for level \"%s\".",
								   scope->level_names[i]),
						 errhint("Levels hold %s; set \"%s\" for the table, a pool or a rep instead.",
								 keys.data, rule_defs[k].name)));
			}
}
