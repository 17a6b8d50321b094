/*
 * identity.c: duplicate detection (查重) on every write path.
 *
 * crmpool.set_identity() (admin/set_identity.c) names a managed table's identity columns (a
 * company name, phone and e-mail columns) and installs the identity trigger.  The trigger normalizes the new row's
 * values (normalize.h: one canonical phone line, a case-folded e-mail, a parsed company name)
 * and, inside the inserting transaction, compares them with every other customer's keys:
 *
 *   - exact keys (phone, e-mail) through crmpool.identity_key's btree;
 *   - names through the GIN index on the bigram hashes of their cores, each candidate scored by
 *     name_similarity (regions, industries, branches and legal forms understood);
 *
 * then applies the table's policy per kind (dedup_phone, dedup_email, dedup_name): block raises
 * CR020 naming the existing customer and where it sits, warn lets the row in with a NOTICE and a
 * row in crmpool.duplicate_warning, off only keeps the keys (find_duplicates still sees them).
 *
 * Races: before comparing, the trigger takes a transaction advisory lock per key (and per name
 * match key: the pinyin of its core, which its homophone slips share) of the customer's tenant,
 * in a fixed order, and compares with the latest snapshot.  Two transactions inserting
 * the same phone therefore run one after the other, and the second sees the first's committed
 * key.  The locks come after the customer row (AFTER trigger) and, because "crmpool_identity_row"
 * sorts before "crmpool_ownership_*", before any rep counter row.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

#include "track/track.h"

typedef enum IdentityStmt
{
	ID_CANDIDATES,
	ID_FORGET_KEYS,
	ID_FORGET_NAME,
	ID_ADD_KEY,
	ID_PUT_NAME,
	ID_WARN,
	NUM_ID_STMTS
} IdentityStmt;

#define CANDIDATES_SQL(T) \
	"SELECT customer, name, tokens FROM crmpool.identity_name " \
	"WHERE tokens OPERATOR(pg_catalog.&&) $2 AND " TABLE_ID(T) EQ "$1 " T("AND tenant" EQ "$4 ") \
	"AND customer OPERATOR(pg_catalog.<>) $3"

/* a customer's key ($4 kind, $5 key), its name: by their primary keys (see forget()) */
#define FORGET_KEYS_SQL(T) \
	"DELETE FROM crmpool.identity_key WHERE " T("tenant" EQ "$3 AND ") TABLE_ID(T) EQ "$1 " \
	"AND key" EQ "$5 AND kind" EQ "$4 AND customer" EQ "$2"

#define FORGET_NAME_SQL(T) \
	"DELETE FROM crmpool.identity_name WHERE " T("tenant" EQ "$3 AND ") TABLE_ID(T) EQ "$1 AND customer" EQ "$2"

#define ADD_KEY_SQL(T) \
	"INSERT INTO crmpool.identity_key (" T("tenant, ") TABLE_ID(T) ", kind, key, customer) VALUES (" T("$5, ") "$1, $2, $3, $4) " \
	"ON CONFLICT DO NOTHING"

#define PUT_NAME_SQL(T) \
	"INSERT INTO crmpool.identity_name (" T("tenant, ") TABLE_ID(T) ", customer, name, core, tokens) VALUES (" T("$6, ") "$1, $2, $3, $4, $5) " \
	"ON CONFLICT (" T("tenant, ") TABLE_ID(T) ", customer) DO UPDATE SET name = excluded.name, core = excluded.core, " \
	"tokens = excluded.tokens"

#define WARN_SQL(T) \
	"INSERT INTO crmpool.duplicate_warning (" T("tenant, ") TABLE_ID(T) ", customer, existing, matched_on, score, at, actor) " \
	"VALUES (" T("$8, ") "$1, $2, $3, $4, $5, $6, $7)"

static const CrmpoolStmt id_defs[NUM_ID_STMTS] = {
	/* names sharing at least one bigram hash, through the GIN index */
	[ID_CANDIDATES] = TENANT_STMT(CANDIDATES_SQL, 4, {INT4OID, INT4ARRAYOID, INT8OID, INT8OID}),
	[ID_FORGET_KEYS] = TENANT_STMT(FORGET_KEYS_SQL, 5, {INT4OID, INT8OID, INT8OID, CHAROID, TEXTOID}),
	[ID_FORGET_NAME] = TENANT_STMT(FORGET_NAME_SQL, 3, {INT4OID, INT8OID, INT8OID}),
	[ID_ADD_KEY] = TENANT_STMT(ADD_KEY_SQL, 5, {INT4OID, CHAROID, TEXTOID, INT8OID, INT8OID}),
	[ID_PUT_NAME] = TENANT_STMT(PUT_NAME_SQL, 6, {INT4OID, INT8OID, TEXTOID, TEXTOID, INT4ARRAYOID, INT8OID}),
	[ID_WARN] = TENANT_STMT(WARN_SQL, 8, {INT4OID, INT8OID, INT8OID, TEXTOID, FLOAT4OID, TIMESTAMPTZOID, TEXTOID, INT8OID}),
};

static SPIPlanPtr id_plans[NUM_ID_STMTS][2];

static void
id_run(IdentityStmt stmt, Datum *values, const char *nulls, bool latest)
{
	(void) crmpool_run_stmt(&id_defs[stmt], id_plans[stmt], values, nulls, latest);
}

const char *
identity_kind_name(char kind)
{
	switch (kind)
	{
		case IDENTITY_KIND_PHONE:
			return "phone";
		case IDENTITY_KIND_EMAIL:
			return "email";
		case IDENTITY_KIND_PHONE_MAIN:
			return "phone_main";
		default:
			return "name";
	}
}

/* The effective name threshold: the rule, else crmpool.name_threshold. */
double
identity_threshold(const RuleSet *rules)
{
	return rule_real(rules, RULE_NAME_THRESHOLD, crmpool_name_threshold);
}

void
identity_add_key(IdentityKeys *ik, char kind, char *key)
{
	int			i;

	if (key == NULL)
		return;
	for (i = 0; i < ik->nkeys; i++)
		if (ik->kinds[i] == kind && strcmp(ik->keys[i], key) == 0)
			return;
	if (ik->nkeys == ik->maxkeys)
	{
		ik->maxkeys = Max(8, ik->maxkeys * 2);
		ik->kinds = ik->kinds ? repalloc(ik->kinds, ik->maxkeys) : palloc(ik->maxkeys);
		ik->keys = ik->keys ? repalloc(ik->keys, sizeof(char *) * ik->maxkeys) :
			palloc(sizeof(char *) * ik->maxkeys);
	}
	ik->kinds[ik->nkeys] = kind;
	ik->keys[ik->nkeys] = key;
	ik->nkeys++;
}

void
identity_set_name(IdentityKeys *ik, const char *name, int len)
{
	crmpool_company_parse(name, len, &ik->parsed);
	if (ik->parsed.ncore == 0)
		return;
	ik->has_name = true;
	ik->name = pnstrdup(name, len);
	ik->ntokens = crmpool_company_bigrams(&ik->parsed, &ik->tokens);
}

/*
 * The key of an e-mail: its mailbox with every fold (crmpool_email_mailbox), followed by a space
 * and the address as written when that differs ("zs@x.com zs+crm@x.com").  A space occurs in no
 * address, so the keys of one mailbox are one btree range, [mailbox, mailbox || '!'), and each
 * brings the address that the fold_* rules of the table compare.  NULL: no address.
 */
char *
identity_email_key(const char *s, int len)
{
	char	   *address = crmpool_email_canonical(s, len);
	char	   *mailbox;

	if (address == NULL)
		return NULL;
	mailbox = crmpool_email_mailbox(address, EMAIL_FOLD_ALL);
	return strcmp(mailbox, address) == 0 ? mailbox : psprintf("%s %s", mailbox, address);
}

/*
 * The length of a key's common part: a phone's main line (without ";ext=..."), an e-mail's
 * mailbox.  Keys with the same common part are locked as one and looked up by one range scan.
 */
static int
key_common_len(char kind, const char *key)
{
	return strcspn(key, kind == IDENTITY_KIND_PHONE ? ";" : " ");
}

/* What of an e-mail key is the address as written (after the mailbox). */
static const char *
email_key_address(const char *key)
{
	const char *space = strchr(key, ' ');

	return space ? space + 1 : key;
}

/*
 * What a match of key shows a user: the phone line, its main line, or the e-mail address as
 * written.  Inside a ledger session: a main line is SPI_palloc'd, to outlive it (react()).
 */
static const char *
key_shown(char kind, const char *key)
{
	if (kind == IDENTITY_KIND_EMAIL)
		return email_key_address(key);
	if (kind == IDENTITY_KIND_PHONE_MAIN)
	{
		int			len = key_common_len(IDENTITY_KIND_PHONE, key);
		char	   *main = SPI_palloc(len + 1);

		memcpy(main, key, len);
		main[len] = '\0';
		return main;
	}
	return key;
}

/* The e-mail folds a table's rules ask for (fold_plus_tags, fold_gmail_dots). */
int
identity_email_folds(const RuleSet *rules)
{
	return (rule_flag(rules, RULE_FOLD_PLUS_TAGS) ? EMAIL_FOLD_PLUS_TAG : 0) |
		(rule_flag(rules, RULE_FOLD_GMAIL_DOTS) ? EMAIL_FOLD_GMAIL_DOTS : 0);
}

/* Whether two e-mail keys of one mailbox reach one mailbox under folds. */
bool
identity_same_mailbox(const char *a, const char *b, int folds)
{
	const char *aa = email_key_address(a);
	const char *ba = email_key_address(b);

	if (strcmp(aa, ba) == 0 || folds == EMAIL_FOLD_ALL)
		return true;
	return strcmp(crmpool_email_mailbox(aa, folds), crmpool_email_mailbox(ba, folds)) == 0;
}

/* A column's value as text (NULL when null). */
static char *
column_text(HeapTuple tup, TupleDesc desc, AttrNumber att, int *len)
{
	bool		isnull;
	Datum		d = heap_getattr(tup, att, desc, &isnull);
	Oid			type = TupleDescAttr(desc, att - 1)->atttypid;
	char	   *s;

	if (isnull)
		return NULL;
	if (type == TEXTOID || type == VARCHAROID || type == BPCHAROID)
	{
		text	   *t = DatumGetTextPP(d);

		*len = VARSIZE_ANY_EXHDR(t);
		return VARDATA_ANY(t);
	}
	else
	{
		Oid			out;
		bool		isvarlena;

		getTypeOutputInfo(type, &out, &isvarlena);
		s = OidOutputFunctionCall(out, d);
		*len = strlen(s);
		return s;
	}
}

/* The identity keys of a row, given its identity columns. */
void
identity_column_keys(const IdentityColumns *ic, HeapTuple tup, TupleDesc desc, IdentityKeys *ik)
{
	int			i;
	int			len;
	char	   *s;

	memset(ik, 0, sizeof(IdentityKeys));
	for (i = 0; i < ic->nphones; i++)
		if ((s = column_text(tup, desc, ic->phone_atts[i], &len)) != NULL)
			identity_add_key(ik, IDENTITY_KIND_PHONE, crmpool_phone_canonical(s, len, NULL));
	for (i = 0; i < ic->nemails; i++)
		if ((s = column_text(tup, desc, ic->email_atts[i], &len)) != NULL)
			identity_add_key(ik, IDENTITY_KIND_EMAIL, identity_email_key(s, len));
	if (ic->name_att != InvalidAttrNumber &&
		(s = column_text(tup, desc, ic->name_att, &len)) != NULL)
		identity_set_name(ik, s, len);
}

/*
 * The keys a write of a managed table's row may have stored: those of its identity columns,
 * soft-deleted or not (a deleted column mapped since the write that stored them changes nothing
 * of what is stored).  What forget() looks for.
 */
static void
stored_keys(ManagedRel *mr, HeapTuple tup, TupleDesc desc, IdentityKeys *ik)
{
	IdentityColumns ic = {mr->name_att, mr->nphones, mr->phone_atts, mr->nemails, mr->email_atts};

	identity_column_keys(&ic, tup, desc, ik);
}

/* A soft-deleted customer counts nowhere, duplicate detection included: it has no keys. */
static bool
row_soft_deleted(ManagedRel *mr, HeapTuple tup, TupleDesc desc)
{
	return mr->deleted_att != InvalidAttrNumber && managed_deleted(mr, tup, desc);
}

/* The identity keys of a managed table's row (also crmpool.repair()'s). */
void
identity_row_keys(ManagedRel *mr, HeapTuple tup, TupleDesc desc, IdentityKeys *ik)
{
	if (row_soft_deleted(mr, tup, desc))
		memset(ik, 0, sizeof(IdentityKeys));
	else
		stored_keys(mr, tup, desc, ik);
}

/*
 * A row's keys (identity_row_keys) into ik and those a write of it may have stored (stored_keys)
 * into had, normalizing its values once: had, or none if the row is soft-deleted.  ik shares
 * had's arrays.
 */
static void
row_and_stored_keys(ManagedRel *mr, HeapTuple tup, TupleDesc desc, IdentityKeys *ik,
					IdentityKeys *had)
{
	stored_keys(mr, tup, desc, had);
	if (row_soft_deleted(mr, tup, desc))
		memset(ik, 0, sizeof(IdentityKeys));
	else
		*ik = *had;
}

/* Whether column att holds the same bytes in rows a and b (both null counts as the same). */
static bool
column_same(HeapTuple a, HeapTuple b, TupleDesc desc, AttrNumber att)
{
	Form_pg_attribute attr = TupleDescAttr(desc, att - 1);
	bool		anull,
				bnull;
	Datum		ad = heap_getattr(a, att, desc, &anull);
	Datum		bd = heap_getattr(b, att, desc, &bnull);

	if (anull || bnull)
		return anull == bnull;
	return datumIsEqual(ad, bd, attr->attbyval, attr->attlen);
}

/*
 * Whether an update left every column the keys come from as it was, byte for byte: then the
 * keys are the same (they depend on those values alone, never on rules) and nothing is
 * normalized.  An application that writes every column of a customer at each save fires the
 * trigger with the identity columns unchanged; normalizing both rows to find the keys equal
 * cost such an update more than the rest of the trigger.
 */
static bool
identity_columns_same(ManagedRel *mr, HeapTuple a, HeapTuple b, TupleDesc desc)
{
	int			i;

	if (mr->name_att != InvalidAttrNumber && !column_same(a, b, desc, mr->name_att))
		return false;
	if (mr->deleted_att != InvalidAttrNumber && !column_same(a, b, desc, mr->deleted_att))
		return false;
	for (i = 0; i < mr->nphones; i++)
		if (!column_same(a, b, desc, mr->phone_atts[i]))
			return false;
	for (i = 0; i < mr->nemails; i++)
		if (!column_same(a, b, desc, mr->email_atts[i]))
			return false;
	return true;
}

static bool
keys_equal(const IdentityKeys *a, const IdentityKeys *b)
{
	int			i;

	if (a->nkeys != b->nkeys || a->has_name != b->has_name)
		return false;
	for (i = 0; i < a->nkeys; i++)
		if (a->kinds[i] != b->kinds[i] || strcmp(a->keys[i], b->keys[i]) != 0)
			return false;
	return !a->has_name || strcmp(a->name, b->name) == 0;
}

/* The bigram hashes of ik's name as an int4[]. */
static Datum
tokens_array(const IdentityKeys *ik)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(ik->ntokens, 1));
	int			i;

	for (i = 0; i < ik->ntokens; i++)
		elems[i] = Int32GetDatum(ik->tokens[i]);
	return PointerGetDatum(construct_array(elems, ik->ntokens, INT4OID, sizeof(int32), true, TYPALIGN_INT));
}

/* ---------------------------------------------------------------------------------------------
 * Lookups by index, without the executor.
 *
 * Every write reads the customers holding its phone lines and e-mails and those whose names
 * have its core; through SPI each read cost an executor start-up, more than the read.  These
 * are btree scans on crmpool's own tables, with the snapshot SPI_execute_snapshot would have
 * used: the latest, after a command counter increment so that this transaction's own keys are
 * seen (base/store.c).
 * -------------------------------------------------------------------------------------------*/
/* Column numbers of the two tables, checked by name whenever a table's OID is new (store.c). */
#define KEY_KEY			3
#define KEY_CUSTOMER	4
#define KEY_TENANT		5
#define NAME_CUSTOMER	2
#define NAME_NAME		3
#define NAME_CORE		4
#define NAME_TOKENS		5
#define NAME_TENANT		6

/*
 * identity_key by its primary key (tenant, table_id, key, kind, customer); identity_name by its
 * match-key index (tenant, table_id, core).  Duplicates are only ever looked for within the
 * customer's tenant.  The key comes before its kind: every entry of a table has one of two
 * kinds, which a btree would compare at every step, and after the one-byte kind the key sat at
 * an offset that no tuple descriptor caches (nocache_index_getattr at every compare); after
 * tenant and table_id it is at 12, aligned, and cached.  0.1's indexes (crmpool_has_tenants()
 * false) are (rel, kind, key, customer) and (rel, core).
 */
static StoreTable key_table = {"identity_key", "identity_key_pkey", {"table_id", "kind", "key", "customer"}, 5};
static StoreTable name_table = {"identity_name", "identity_name_core", {"table_id", "customer", "name"}, 6};
/* identity_name by its primary key (tenant, table_id, customer; 0.1: rel, customer) */
static StoreTable name_pkey = {"identity_name", "identity_name_pkey",
{"table_id", "customer", "name", "core", "tokens"}, NAME_TENANT};

/* Keys and cores are COLLATE "C" (sql/parts/50_identity.sql). */
static void
text_key(ScanKey key, AttrNumber att, StrategyNumber strategy, RegProcedure proc, const char *value)
{
	ScanKeyEntryInitialize(key, 0, att, strategy, InvalidOid, C_COLLATION_OID, proc,
						   CStringGetTextDatum(value));
}

/*
 * The leading scan keys of every index of the two tables, (tenant, table_id): 0.1's indexes have
 * no tenant (crmpool_has_tenants) and rel for table_id (base.h).  Returns how many.
 */
static int
tenant_rel_keys(ScanKey keys, CrmpoolTenant tenant, CrmpoolTableId table)
{
	int			k = 0;

	if (crmpool_has_tenants())
		ScanKeyInit(&keys[k++], 1, BTEqualStrategyNumber, F_INT8EQ, crmpool_tenant_datum(tenant));
	ScanKeyInit(&keys[k], k + 1, BTEqualStrategyNumber, F_INT4EQ, crmpool_table_id_datum(table));
	return k + 1;
}

/*
 * Existing customers other than exclude whose keys match key, at most max (in key, then id
 * order); with first_of_each, only the first match of each kind.  One range scan over the keys
 * that share key's common part (key_common_len): for a phone, the same line (kind p, score 1)
 * and, if main, the same main line with another or no extension (IDENTITY_KIND_PHONE_MAIN,
 * IDENTITY_PHONE_MAIN_SCORE); for an e-mail, the addresses reaching the same mailbox under folds
 * (kind e, score 1).  key_matches() reads through s, identity_key opened by store_open() under
 * the latest snapshot, which a trigger opens once for all the keys of its row: it has locked
 * them all before, so one snapshot taken after serves them all.
 */
static int
key_matches(StoreScan *s, CrmpoolTableId table, CrmpoolTenant tenant, char kind, const char *key,
			int64 exclude, bool main, int folds, bool first_of_each, IdentityMatch *out, int max)
{
	ScanKeyData keys[5];
	int			n = 0;
	int			k;
	int			common = key_common_len(kind, key);
	char	   *low = pnstrdup(key, common);

	/* past the range: ';' (0x3B) < '<' after a main line, ' ' (0x20) < '!' after a mailbox */
	char	   *high = psprintf("%s%c", low, kind == IDENTITY_KIND_PHONE ? '<' : '!');
	bool		seen_line = false,
				seen_main = false;

	k = tenant_rel_keys(keys, tenant, table);
	if (crmpool_has_tenants())
	{
		text_key(&keys[k], k + 1, BTGreaterEqualStrategyNumber, F_TEXT_GE, low);
		text_key(&keys[k + 1], k + 1, BTLessStrategyNumber, F_TEXT_LT, high);
		ScanKeyInit(&keys[k + 2], k + 2, BTEqualStrategyNumber, F_CHAREQ, CharGetDatum(kind));
	}
	else
	{
		ScanKeyInit(&keys[k], k + 1, BTEqualStrategyNumber, F_CHAREQ, CharGetDatum(kind));
		text_key(&keys[k + 1], k + 2, BTGreaterEqualStrategyNumber, F_TEXT_GE, low);
		text_key(&keys[k + 2], k + 2, BTLessStrategyNumber, F_TEXT_LT, high);
	}
	k += 3;
	store_rescan(s, keys, k);
	for (;;)
	{
		bool		isnull;
		int64		customer;
		char	   *other;
		char		found;

		if (n == max || !index_getnext_slot(s->scan, ForwardScanDirection, s->slot))
			break;
		customer = DatumGetInt64(slot_getattr(s->slot, KEY_CUSTOMER, &isnull));
		other = TextDatumGetCString(slot_getattr(s->slot, KEY_KEY, &isnull));
		if (customer == exclude || key_common_len(kind, other) != common)
			continue;			/* its own, or a longer number that starts with this one */
		if (strcmp(other, key) == 0)
			found = kind;
		else if (kind == IDENTITY_KIND_EMAIL)
			found = identity_same_mailbox(key, other, folds) ? kind : 0;
		else
			found = main ? IDENTITY_KIND_PHONE_MAIN : 0;
		if (found == 0 || (first_of_each && (found == IDENTITY_KIND_PHONE_MAIN ? seen_main : seen_line)))
			continue;
		if (found == IDENTITY_KIND_PHONE_MAIN)
			seen_main = true;
		else
			seen_line = true;
		out[n].customer = customer;
		out[n].kind = found;
		out[n].score = found == IDENTITY_KIND_PHONE_MAIN ? IDENTITY_PHONE_MAIN_SCORE : 1.0f;
		out[n].name = NULL;
		n++;
		if (first_of_each && seen_line && (seen_main || !main))
			break;
	}
	return n;
}

int
identity_key_matches(CrmpoolTableId table, CrmpoolTenant tenant, char kind, const char *key,
					 int64 exclude, bool main, int folds, bool first_of_each, IdentityMatch *out,
					 int max)
{
	StoreScan	s;
	int			n;

	store_open(&s, &key_table, true, AccessShareLock);
	n = key_matches(&s, table, tenant, kind, key, exclude, main, folds, first_of_each, out, max);
	store_scan_end(&s);
	return n;
}

/* A candidate name: its customer and the name as written. */
typedef struct NameRow
{
	int64		customer;
	text	   *name;
	ArrayType  *tokens;			/* NULL: not read (same core) */
} NameRow;

static int
row_by_customer(const void *a, const void *b)
{
	int64		x = ((const NameRow *) a)->customer;
	int64		y = ((const NameRow *) b)->customer;

	return (x > y) - (x < y);
}

/*
 * The names other than exclude's with the given match key (column core: the pinyin of the
 * core, company_name.c), read into rows (palloc'd).
 */
static int
same_key_names(CrmpoolTableId table, CrmpoolTenant tenant, const char *core, int64 exclude,
			   NameRow **rows)
{
	ScanKeyData keys[3];
	StoreScan	s;
	int			n = 0;
	int			cap = 8;
	int			k;

	*rows = palloc(sizeof(NameRow) * cap);
	k = tenant_rel_keys(keys, tenant, table);
	text_key(&keys[k], k + 1, BTEqualStrategyNumber, F_TEXTEQ, core);
	k++;
	store_scan_begin(&s, &name_table, keys, k, true, AccessShareLock);
	while (index_getnext_slot(s.scan, ForwardScanDirection, s.slot))
	{
		bool		isnull;
		int64		customer = DatumGetInt64(slot_getattr(s.slot, NAME_CUSTOMER, &isnull));

		if (customer == exclude)
			continue;
		if (n == cap)
		{
			cap *= 2;
			*rows = repalloc(*rows, sizeof(NameRow) * cap);
		}
		(*rows)[n].customer = customer;
		(*rows)[n].name = DatumGetTextPCopy(slot_getattr(s.slot, NAME_NAME, &isnull));
		(*rows)[n].tokens = NULL;
		n++;
	}
	store_scan_end(&s);
	return n;
}

/*
 * Existing customers whose names score at least min_score against ik's name, best first.
 *
 * A name with another match key scores at most 0.75 (name_similarity.c), so at the default
 * threshold (0.8) only names with the same key (the same core, a homophone slip of it, or its
 * pinyin) can match, and the btree on the key finds exactly them.  Below 0.75 the candidates are
 * those and the names sharing a bigram hash (GIN), which for a common bigram is a good part of
 * the table; of the latter, those that share too few hashes to reach min_score are dropped on
 * their stored hashes, and only the rest are parsed again and scored.
 */
int
identity_name_matches(CrmpoolTableId table, CrmpoolTenant tenant, const IdentityKeys *ik,
					  int64 exclude, double min_score, IdentityMatch **out)
{
	bool		other_cores;
	NameRow    *rows;
	int			nrows;
	int			i;
	int			n = 0;
	IdentityMatch *matches;
	MemoryContext per_name;

	*out = NULL;
	if (!ik->has_name || ik->ntokens == 0)
		return 0;
	nrows = same_key_names(table, tenant, ik->parsed.key, exclude, &rows);
	other_cores = crmpool_company_min_common(ik->ntokens, ik->ntokens, min_score) <= ik->ntokens;
	if (other_cores)
	{
		uint64		k;
		int			nkey = nrows;

		id_run(ID_CANDIDATES, (Datum[]) {crmpool_table_id_datum(table), tokens_array(ik), Int64GetDatum(exclude),
			   crmpool_tenant_datum(tenant)}, NULL, true);
		rows = repalloc(rows, sizeof(NameRow) * (nkey + SPI_processed + 1));
		qsort(rows, nkey, sizeof(NameRow), row_by_customer);
		for (k = 0; k < SPI_processed; k++)
		{
			HeapTuple	tup = SPI_tuptable->vals[k];
			bool		isnull;
			NameRow		row;

			row.customer = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
			/* a name with the same key is read already, and scored whatever its bigrams */
			if (bsearch(&row, rows, nkey, sizeof(NameRow), row_by_customer) != NULL)
				continue;
			row.name = DatumGetTextPP(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
			row.tokens = DatumGetArrayTypeP(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull));
			rows[nrows++] = row;
		}
	}

	matches = SPI_palloc(sizeof(IdentityMatch) * Max(nrows, 1));
	per_name = AllocSetContextCreate(CurrentMemoryContext, "crmpool name candidate",
									 ALLOCSET_DEFAULT_SIZES);
	for (i = 0; i < nrows; i++)
	{
		text	   *name = rows[i].name;
		CompanyName other;
		float4		score = 0.0f;
		MemoryContext old = MemoryContextSwitchTo(per_name);

		if (rows[i].tokens != NULL &&
			crmpool_bigrams_common(ik->tokens, ik->ntokens, (int32 *) ARR_DATA_PTR(rows[i].tokens),
								   ArrayGetNItems(ARR_NDIM(rows[i].tokens), ARR_DIMS(rows[i].tokens))) <
			crmpool_company_min_common(ik->ntokens,
									   ArrayGetNItems(ARR_NDIM(rows[i].tokens), ARR_DIMS(rows[i].tokens)),
									   min_score))
			name = NULL;
		if (name != NULL)
		{
			crmpool_company_parse(VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name), &other);
			score = crmpool_company_similarity(&ik->parsed, &other);
		}
		MemoryContextSwitchTo(old);
		MemoryContextReset(per_name);
		if (name == NULL || score < min_score || score <= 0.0f)
			continue;
		matches[n].customer = rows[i].customer;
		matches[n].kind = 'n';
		matches[n].score = score;
		matches[n].name = SPI_palloc(VARSIZE_ANY_EXHDR(name) + 1);
		memcpy(matches[n].name, VARDATA_ANY(name), VARSIZE_ANY_EXHDR(name));
		matches[n].name[VARSIZE_ANY_EXHDR(name)] = '\0';
		n++;
	}
	MemoryContextDelete(per_name);
	/* best first, then lowest customer id: a stable answer */
	for (i = 1; i < n; i++)
	{
		IdentityMatch m = matches[i];
		int			j = i - 1;

		while (j >= 0 && (matches[j].score < m.score ||
						  (matches[j].score == m.score && matches[j].customer > m.customer)))
		{
			matches[j + 1] = matches[j];
			j--;
		}
		matches[j + 1] = m;
	}
	*out = matches;
	return n;
}

/*
 * Serialize writers of the same key: a transaction advisory lock per key of ik and of also (the
 * keys an update gives up; may be NULL), all in one fixed order so that two writers with several
 * keys cannot deadlock.
 */
static void
lock_keys_one_by_one(Oid relid, CrmpoolTenant tenant, const IdentityKeys *ik,
					 const IdentityKeys *also);

/*
 * Writers of a table's identity keys lock hierarchically.  An ordinary writer takes the table's
 * identity lock in SHARE mode, then one EXCLUSIVE lock per key.  Every lock lives in the shared
 * lock table until commit, which holds max_locks_per_transaction * max_connections entries for
 * the whole server; so a transaction writing many customers of a table (a bulk import, a mass
 * delete) takes the table's identity lock in EXCLUSIVE mode instead, which covers every key, and
 * stops taking key locks.
 *
 * That escalation never waits while the transaction holds a lock another writer may wait for,
 * so it cannot deadlock (an upgrade from SHARE would: two bulk writers, each holding SHARE and
 * waiting for the other's to go, or one waiting for the table while the other waits for one of
 * its keys):
 *   - up front: when the transaction's first identity write of the table comes after more rows
 *     than IDENTITY_KEY_LOCKS_MAX keys' worth (the rows of the statement are all written before
 *     its AFTER ROW triggers run: an INSERT ... SELECT or a COPY of many rows), it waits for the
 *     EXCLUSIVE lock holding no lock of the table's identity at all, like any first writer;
 *   - later in a transaction that already holds SHARE, it only tries: once it has taken
 *     IDENTITY_KEY_LOCKS_MAX key locks, and again after every further IDENTITY_KEY_LOCKS_MAX, it
 *     takes EXCLUSIVE if no other writer holds the table, and otherwise goes on locking keys one
 *     by one (as SQL Server escalates).  Such a transaction that meets other writers all along
 *     keeps a lock per key: its size is then bounded by the shared lock table.
 * The rows written so far are the table's statistics counters of this transaction (pgstat: every
 * insert, update and delete counts there at once); with track_counts off there is no up-front
 * escalation.
 */
#define IDENTITY_KEY_LOCKS_MAX 256

#define BUDGET_TABLES 8

typedef struct KeyLockBudget
{
	Oid			relid;
	int			taken;			/* key locks taken */
	int			next_try;		/* escalate when taken would pass this */
	bool		escalated;		/* EXCLUSIVE taken */
} KeyLockBudget;

static LocalTransactionId budget_lxid = InvalidLocalTransactionId;
static int	budget_ntables = 0;
static KeyLockBudget budget[BUDGET_TABLES];

/* This transaction's key locks on relid; NULL (escalate up front) once too many tables. */
static KeyLockBudget *
key_lock_budget(Oid relid)
{
	int			i;

	if (budget_lxid != CRMPOOL_MY_LXID)
	{
		budget_lxid = CRMPOOL_MY_LXID;
		budget_ntables = 0;
	}
	for (i = 0; i < budget_ntables; i++)
		if (budget[i].relid == relid)
			return &budget[i];
	if (budget_ntables == BUDGET_TABLES)
		return NULL;
	budget[budget_ntables].relid = relid;
	budget[budget_ntables].taken = 0;
	budget[budget_ntables].next_try = IDENTITY_KEY_LOCKS_MAX;
	budget[budget_ntables].escalated = false;
	return &budget[budget_ntables++];
}

/* Take the table's identity lock; false if wait is false and another writer holds it. */
static bool
table_identity_lock(Oid relid, LOCKMODE mode, bool wait)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) relid, 0, 0x4300 + 't');
	return LockAcquire(&tag, mode, false, !wait) != LOCKACQUIRE_NOT_AVAIL;
}

/* The rows this transaction has inserted, updated and deleted in rel so far (see above). */
static int64
rows_written(Relation rel)
{
	PgStat_TableXactStatus *t;
	int64		n = 0;

	if (rel->pgstat_info == NULL)
		return 0;
	for (t = rel->pgstat_info->trans; t != NULL; t = t->upper)
		n += t->tuples_inserted + t->tuples_updated + t->tuples_deleted;
	return n;
}

static void
lock_keys(Relation rel, CrmpoolTenant tenant, const IdentityKeys *ik, const IdentityKeys *also)
{
	Oid			relid = RelationGetRelid(rel);
	int			wanted = (ik ? ik->nkeys + ik->has_name : 0) +
		(also ? also->nkeys + also->has_name : 0);
	KeyLockBudget *b;

	/* no key: nothing to serialize, and taking SHARE would hold a lock the budget does not count */
	if (wanted == 0)
		return;
	b = key_lock_budget(relid);
	/* up front: nothing of the table's identity is held yet (b->taken counts every SHARE taken) */
	if (b == NULL ||
		(b->taken == 0 && (b->escalated || rows_written(rel) * wanted > IDENTITY_KEY_LOCKS_MAX)))
	{
		(void) table_identity_lock(relid, ExclusiveLock, true);
		if (b != NULL)
			b->escalated = true;
		return;
	}
	/*
	 * Escalated while holding SHARE: held, unless the subtransaction that took it rolled back
	 * and released it; then only try again, as below, never wait.
	 */
	if (b->escalated)
	{
		if (table_identity_lock(relid, ExclusiveLock, false))
			return;
		b->escalated = false;
	}
	/* holding SHARE: only try */
	if (b->taken + wanted > b->next_try)
	{
		if (table_identity_lock(relid, ExclusiveLock, false))
		{
			b->escalated = true;
			return;
		}
		b->next_try = b->taken + wanted + IDENTITY_KEY_LOCKS_MAX;
	}
	b->taken += wanted;
	(void) table_identity_lock(relid, ShareLock, true);
	lock_keys_one_by_one(relid, tenant, ik, also);
}

static void
lock_keys_one_by_one(Oid relid, CrmpoolTenant tenant, const IdentityKeys *ik,
					 const IdentityKeys *also)
{
	/*
	 * Per tenant: duplicates are only ever found within a tenant, so two tenants writing the
	 * same key need not wait for each other.  The tenant is mixed into each key's hash (a table
	 * without tenants, the one tenant 0, keeps the key's own hash).
	 */
	uint32		salt = tenant == CRMPOOL_NO_TENANT ? 0 :
		hash_bytes((const unsigned char *) &tenant, sizeof(tenant));
	int			max = (ik ? ik->nkeys + 1 : 0) + (also ? also->nkeys + 1 : 0);
	uint32	   *hashes = palloc(sizeof(uint32) * Max(max, 1));
	uint16	   *kinds = palloc(sizeof(uint16) * Max(max, 1));
	int			n = 0;
	int			i,
				j,
				set;

	for (set = 0; set < 2; set++)
	{
		const IdentityKeys *k = set == 0 ? ik : also;

		if (k == NULL)
			continue;
		/* one lock per main line or mailbox: its writers are each other's duplicates */
		for (i = 0; i < k->nkeys; i++)
		{
			hashes[n] = hash_bytes((const unsigned char *) k->keys[i],
								   key_common_len(k->kinds[i], k->keys[i]));
			kinds[n++] = (uint16) k->kinds[i];
		}
		if (k->has_name)
		{
			/* the match key: homophone slips and pinyin names of one another wait too */
			hashes[n] = hash_bytes((const unsigned char *) k->parsed.key, strlen(k->parsed.key));
			kinds[n++] = (uint16) 'n';
		}
	}
	if (salt != 0)
		for (i = 0; i < n; i++)
			hashes[i] = hash_combine(salt, hashes[i]);
	for (i = 0; i < n; i++)
	{
		uint32		best = i;
		LOCKTAG		tag;

		for (j = i + 1; j < n; j++)
			if (kinds[j] < kinds[best] || (kinds[j] == kinds[best] && hashes[j] < hashes[best]))
				best = j;
		if (best != (uint32) i)
		{
			uint32		h = hashes[i];
			uint16		k = kinds[i];

			hashes[i] = hashes[best];
			kinds[i] = kinds[best];
			hashes[best] = h;
			kinds[best] = k;
		}
		/* field4 0x4300 + kind: apart from the 1 and 2 used by pg_advisory_lock */
		SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) relid, hashes[i], 0x4300 + kinds[i]);
		(void) LockAcquire(&tag, ExclusiveLock, false, false);
	}
}

/* Whether the writer may read where a customer sits: the key, owner and pool columns. */
static bool
may_locate(ManagedRel *mr)
{
	Oid			user = GetUserId();

	if (pg_class_aclcheck(mr->relid, user, ACL_SELECT) == ACLCHECK_OK)
		return true;
	return pg_attribute_aclcheck(mr->relid, mr->key_att, user, ACL_SELECT) == ACLCHECK_OK &&
		pg_attribute_aclcheck(mr->relid, mr->owner_att, user, ACL_SELECT) == ACLCHECK_OK &&
		(mr->pool_att == InvalidAttrNumber ||
		 pg_attribute_aclcheck(mr->relid, mr->pool_att, user, ACL_SELECT) == ACLCHECK_OK);
}

/*
 * Where an existing customer sits, as far as the writer may see it: read as the writer, outside
 * any ledger session, so that its privileges and row-level security decide what it learns.
 * NULL when the writer may not see the customer at all (no SELECT on the key, owner and pool
 * columns, or row-level security hides it): then the message names nothing of it.
 */
static char *
where_it_sits(ManagedRel *mr, CrmpoolTenant tenant, int64 customer)
{
	bool		has_owner;
	int64		owner;
	char	   *pool;
	bool		found;
	int			scope;

	if (!may_locate(mr))
		return NULL;
	/* a plain write needs no crmpool.tenant: the duplicate is of the row's own tenant */
	scope = managed_scope_push(mr, tenant);
	SPI_connect();
	found = managed_locate(mr, customer, &has_owner, &owner, &pool);
	SPI_finish();
	managed_scope_pop(scope);
	if (!found)
		return managed_rls_applies(mr) ? NULL : pstrdup(_("it is being deleted"));
	if (has_owner)
		return pool ? psprintf(_("it is owned by rep %lld (pool \"%s\")"), (long long) owner, pool)
			: psprintf(_("it is owned by rep %lld"), (long long) owner);
	return pool ? psprintf(_("it is in the public pool \"%s\""), pool)
		: pstrdup(_("it is in the public pool"));
}

/* A match the table's policy reacts to (block or warn). */
typedef struct Reaction
{
	int			policy;
	IdentityMatch m;			/* m.name: SPI_palloc'd, outlives the ledger session */
	const char *key;			/* exact matches: the key matched */
} Reaction;

/*
 * The matches of one customer's new keys that the table's policy reacts to, in the order they
 * are reported; up to and including the first block.  Inside a ledger session; the caller has
 * locked the keys (and any keys the customer gives up).
 */
static int
find_reactions(ManagedRel *mr, CrmpoolTenant tenant, int64 customer, IdentityKeys *ik,
			   const RuleSet *rules, Reaction *out)
{
	int			n = 0;
	int			i;
	int			phone = rule_choice(rules, RULE_DEDUP_PHONE);
	int			phone_main = rule_choice(rules, RULE_DEDUP_PHONE_MAIN);
	int			email = rule_choice(rules, RULE_DEDUP_EMAIL);
	StoreScan	s;
	bool		opened = false;
	bool		blocked = false;

	for (i = 0; i < ik->nkeys && !blocked; i++)
	{
		bool		is_phone = ik->kinds[i] == IDENTITY_KIND_PHONE;
		IdentityMatch m[2];
		int			nm,
					j;

		if (is_phone ? (phone == DEDUP_OFF && phone_main == DEDUP_OFF) : email == DEDUP_OFF)
			continue;
		if (!opened)
			store_open(&s, &key_table, true, AccessShareLock);
		opened = true;
		nm = key_matches(&s, mr->table_id, tenant, ik->kinds[i], ik->keys[i], customer,
						 is_phone && phone_main != DEDUP_OFF, identity_email_folds(rules), true, m, 2);
		/* the same line before the same switchboard */
		if (nm == 2 && m[1].kind == IDENTITY_KIND_PHONE)
		{
			IdentityMatch t = m[0];

			m[0] = m[1];
			m[1] = t;
		}
		for (j = 0; j < nm; j++)
		{
			int			policy = m[j].kind == IDENTITY_KIND_PHONE_MAIN ? phone_main :
				is_phone ? phone : email;

			if (policy == DEDUP_OFF)
				continue;
			out[n].policy = policy;
			out[n].m = m[j];
			out[n].key = key_shown(m[j].kind, ik->keys[i]);
			if (out[n++].policy == DEDUP_BLOCK)
			{
				blocked = true;
				break;
			}
		}
	}
	if (opened)
		store_scan_end(&s);
	if (blocked)
		return n;
	if (ik->has_name && rule_choice(rules, RULE_DEDUP_NAME) != DEDUP_OFF)
	{
		IdentityMatch *m;

		if (identity_name_matches(mr->table_id, tenant, ik, customer, identity_threshold(rules), &m) > 0)
		{
			out[n].policy = rule_choice(rules, RULE_DEDUP_NAME);
			out[n].m = m[0];
			out[n].key = NULL;
			n++;
		}
	}
	return n;
}

/*
 * The column a duplicate of this kind is about (its error's column_name): the name column, or
 * the table's phone (e-mail) column when it has only one.
 */
static AttrNumber
kind_column(ManagedRel *mr, char kind)
{
	if (kind == IDENTITY_KIND_PHONE || kind == IDENTITY_KIND_PHONE_MAIN)
		return mr->nphones == 1 ? mr->phone_atts[0] : InvalidAttrNumber;
	if (kind == IDENTITY_KIND_EMAIL)
		return mr->nemails == 1 ? mr->email_atts[0] : InvalidAttrNumber;
	return mr->name_att;
}

/*
 * Refuse (block) or report (warn) a duplicate; outside any ledger session (where_it_sits).
 * Of a customer the writer may not see, the message says only that one holds the same key
 * (the writer's own value): not its id, name, owner or pool.
 */
static void
react(ManagedRel *mr, CrmpoolTenant tenant, int64 customer, const Reaction *r,
	  const IdentityKeys *ik)
{
	const IdentityMatch *m = &r->m;
	char	   *sits = where_it_sits(mr, tenant, m->customer);
	const char *kind = identity_kind_name(m->kind);
	const char *kind_words = m->kind == IDENTITY_KIND_PHONE ? _("phone") :
		m->kind == IDENTITY_KIND_PHONE_MAIN ? _("main phone line") :
		m->kind == IDENTITY_KIND_EMAIL ? _("email") : _("name");
	const char *table = get_rel_name(mr->relid);
	const char *rule = psprintf("dedup_%s", kind);
	AttrNumber	att = kind_column(mr, m->kind);
	char	   *other;
	char	   *detail;
	const char *first_hint;

	if (sits == NULL)
	{
		other = pstrdup(_("a customer you cannot see"));
		detail = psprintf(_("A customer of table %s that is not visible to you has %s."), table,
						  r->key != NULL ? psprintf(_("the same %s %s"), kind_words, r->key) :
						  psprintf(_("a name like \"%s\""), ik->name));
		first_hint = _("Ask someone who can see the existing customer");
	}
	else
	{
		other = psprintf(_("customer %lld"), (long long) m->customer);
		detail = psprintf(_("Customer %lld of table %s has %s; %s."), (long long) m->customer, table,
						  r->key != NULL ? psprintf(_("the same %s %s"), kind_words, r->key) :
						  psprintf(_("the name \"%s\", %.0f%% like \"%s\""), m->name,
								   m->score * 100.0, ik->name),
						  sits);
		first_hint = _("Work with the existing customer");
	}
	/* the other customer's id only when the writer may see it, as in the message */
	if (r->policy == DEDUP_BLOCK)
		ereport(ERROR,
				(errcode(ERRCODE_CRMPOOL_DUPLICATE),
				 errmsg("customer %lld duplicates %s by %s", (long long) customer, other, kind_words),
				 errdetail_internal("%s", detail),
				 errhint("%s, or set dedup_%s to \"warn\" with crmpool.set_rules().",
						 first_hint, kind),
				 sits == NULL ?
				 crmpool_refusal(mr->relid, att, rule, ERR_CUSTOMER(customer)) :
				 crmpool_refusal(mr->relid, att, rule, ERR_CUSTOMER(customer),
								 ERR_DUPLICATE_OF(m->customer))));
	ereport(NOTICE,
			(errcode(ERRCODE_CRMPOOL_DUPLICATE),
			 errmsg("customer %lld may duplicate %s by %s", (long long) customer, other, kind_words),
			 errdetail_internal("%s", detail),
			 sits == NULL ?
			 crmpool_refusal(mr->relid, att, rule, ERR_CUSTOMER(customer)) :
			 crmpool_refusal(mr->relid, att, rule, ERR_CUSTOMER(customer),
							 ERR_DUPLICATE_OF(m->customer))));
}

/* Record a duplicate let in under "warn"; inside a ledger session. */
static void
record_warning(ManagedRel *mr, CrmpoolTenant tenant, int64 customer, const IdentityMatch *m)
{
	id_run(ID_WARN, (Datum[]) {crmpool_table_id_datum(mr->table_id), Int64GetDatum(customer),
			   Int64GetDatum(m->customer), CStringGetTextDatum(identity_kind_name(m->kind)),
			   Float4GetDatum(m->score), TimestampTzGetDatum(crmpool_now()),
			   CStringGetTextDatum(ledger_current_actor()), crmpool_tenant_datum(tenant)},
		   NULL, false);
}

/*
 * Forget a customer's name and its phone and e-mail keys had: the keys a write of its old row
 * stored (stored_keys), or those crmpool.repair() read.  identity_key has no index by customer
 * (one index entry less per key on every insert): a customer's keys are found by its primary
 * key, from the values that made them.  Every key there was made from the row by the trigger,
 * set_identity() or repair(), with the normalization of this version (an update of crmpool that
 * changes it keys the stored rows again: sql/upgrade); a key some other write left behind (the
 * trigger disabled, a superuser's INSERT) stays until crmpool.repair() removes it.
 *
 * The rows are found under the latest snapshot, as the lookups before find the keys of others:
 * under REPEATABLE READ too, a key that crmpool.repair() stored for the customer after the
 * transaction's snapshot was taken is forgotten, not left behind to refuse its phone forever.
 * While the tables are as crmpool made them they are deleted by their primary keys without SPI
 * (store_delete: an SPI statement per key cost a customer's delete more than the rest of the
 * trigger); else (a superuser added a trigger, a rule or row level security) the statements
 * run, applying them.
 */
static void
forget(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer, const IdentityKeys *had)
{
	ScanKeyData keys[5];
	StoreScan	s;
	int			i;
	int			k;

	if (had->nkeys > 0 && store_delete_begin(&s, &key_table))
	{
		/* the primary key: 0.2's (tenant, table_id, key, kind, customer), 0.1's (rel, kind, key, customer) */
		bool		key_first = crmpool_has_tenants();

		/* tenant, table and customer are every key's; key and kind change */
		k = tenant_rel_keys(keys, tenant, table);
		ScanKeyInit(&keys[k + 2], k + 3, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(customer));
		for (i = 0; i < had->nkeys; i++)
		{
			text_key(&keys[k + !key_first], k + 1 + !key_first, BTEqualStrategyNumber, F_TEXTEQ,
					 had->keys[i]);
			ScanKeyInit(&keys[k + key_first], k + 1 + key_first, BTEqualStrategyNumber, F_CHAREQ,
						CharGetDatum(had->kinds[i]));
			(void) store_delete(&s, keys, k + 3);
		}
		store_scan_end(&s);
	}
	else
		for (i = 0; i < had->nkeys; i++)
			id_run(ID_FORGET_KEYS, (Datum[]) {crmpool_table_id_datum(table), Int64GetDatum(customer),
					   crmpool_tenant_datum(tenant), CharGetDatum(had->kinds[i]),
					   CStringGetTextDatum(had->keys[i])}, NULL, true);

	if (store_delete_begin(&s, &name_pkey))
	{
		k = tenant_rel_keys(keys, tenant, table);
		ScanKeyInit(&keys[k], k + 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(customer));
		(void) store_delete(&s, keys, k + 1);
		store_scan_end(&s);
	}
	else
		id_run(ID_FORGET_NAME, (Datum[]) {crmpool_table_id_datum(table), Int64GetDatum(customer),
				   crmpool_tenant_datum(tenant)}, NULL, true);
}

/*
 * Forget the keys of every customer of a table: on TRUNCATE (a key left behind would refuse the
 * same phone forever, as a duplicate of a customer that is gone), set_identity and unmanage.
 * Inside SPI, as the extension owner.
 */
#define FORGET_TABLE_KEYS_SQL(T) "DELETE FROM crmpool.identity_key WHERE " TABLE_ID(T) EQ "$1"
#define FORGET_TABLE_NAMES_SQL(T) "DELETE FROM crmpool.identity_name WHERE " TABLE_ID(T) EQ "$1"

void
identity_forget_table(CrmpoolTableId table)
{
	Oid			types[1] = {INT4OID};
	Datum		values[1] = {crmpool_table_id_datum(table)};

	crmpool_admin_exec(TENANT_SQL(FORGET_TABLE_KEYS_SQL), 1, types, values);
	crmpool_admin_exec(TENANT_SQL(FORGET_TABLE_NAMES_SQL), 1, types, values);
}

void
identity_name_too_long(Oid relid, const char *what, int core_bytes)
{
	ereport(ERROR,
			(errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
			 errmsg("company name %s of table %s is too long for duplicate detection",
					what, get_rel_name(relid)),
			 core_bytes > 0 ?
			 errdetail("Its distinctive part (crmpool.company_core) is %d bytes; crmpool indexes at most %d.",
					   core_bytes, IDENTITY_MAX_CORE_BYTES) :
			 errdetail("Its distinctive part (crmpool.company_core) is over %d bytes.",
					   IDENTITY_MAX_CORE_BYTES),
			 errhint("Shorten the name, or leave the name column out of crmpool.set_identity().")));
}

/* ---------------------------------------------------------------------------------------------
 * Storing a customer's keys without the executor.
 *
 * Every insert of a customer stores its phone and e-mail keys and its name.  Through SPI each
 * was an executor start-up (INSERT ... ON CONFLICT), more than the row: the inserts cost a
 * customer's insert more than all its lookups.  While crmpool's table is as crmpool made it,
 * the row goes in through store_insert (base/store.c), as ledger.c writes ownership events;
 * otherwise (a superuser added a trigger, a constraint, an index on an expression) the SPI
 * statement runs, honouring them.  ON CONFLICT is kept by the insert's own look at the primary
 * key (store_insert's on_conflict): a row that may be there already (keys of a customer that an
 * earlier, unchecked write left behind) makes the statement run instead, which keeps it (keys)
 * or overwrites it (the name), and waits for a writer of the same row as the statement would.
 * -------------------------------------------------------------------------------------------*/

/* A virtual slot for rows of t's table; *heap: the table, opened.  Close with store_slot_end(). */
static TupleTableSlot *
store_slot(StoreTable *t, Relation *heap)
{
	Oid			heapid,
				indexid;

	store_oids(t, &heapid, &indexid);
	*heap = table_open(heapid, RowExclusiveLock);
	return MakeSingleTupleTableSlot(RelationGetDescr(*heap), &TTSOpsVirtual);
}

static void
store_slot_end(Relation heap, TupleTableSlot *slot)
{
	ExecDropSingleTupleTableSlot(slot);
	table_close(heap, NoLock);
}

/*
 * Insert the row in slot into heap (store_slot) without SPI; false (nothing inserted) when the
 * table is not plain or its primary key may hold the row already: then the caller runs its
 * statement.
 */
static bool
store_plain(Relation heap, TupleTableSlot *slot)
{
	ExecStoreVirtualTuple(slot);
	return store_insert(heap, slot, true) == STORE_INSERTED;
}

/* The phone and e-mail keys of ik, through one opening of identity_key */
static void
store_keys(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer, const IdentityKeys *ik)
{
	Relation	heap;
	TupleTableSlot *slot = store_slot(&key_table, &heap);
	int			i;

	for (i = 0; i < ik->nkeys; i++)
	{
		Datum		keytext = CStringGetTextDatum(ik->keys[i]);

		store_clear(slot);
		store_set(slot, 1, crmpool_table_id_datum(table), true);
		store_set(slot, 2, CharGetDatum(ik->kinds[i]), true);
		store_set(slot, KEY_KEY, keytext, true);
		store_set(slot, KEY_CUSTOMER, Int64GetDatum(customer), true);
		if (crmpool_has_tenants())
			store_set(slot, KEY_TENANT, crmpool_tenant_datum(tenant), true);
		if (!store_plain(heap, slot))
			id_run(ID_ADD_KEY, (Datum[]) {crmpool_table_id_datum(table), CharGetDatum(ik->kinds[i]),
					   keytext, Int64GetDatum(customer), crmpool_tenant_datum(tenant)}, NULL, false);
	}
	store_slot_end(heap, slot);
}

static void
store_name(CrmpoolTableId table, CrmpoolTenant tenant, int64 customer, const IdentityKeys *ik)
{
	Datum		name = CStringGetTextDatum(ik->name);
	Datum		core = CStringGetTextDatum(ik->parsed.key);	/* the match key (company_name.c) */
	Datum		tokens = tokens_array(ik);
	Relation	heap;
	TupleTableSlot *slot = store_slot(&name_pkey, &heap);
	bool		done;

	store_clear(slot);
	store_set(slot, 1, crmpool_table_id_datum(table), true);
	store_set(slot, NAME_CUSTOMER, Int64GetDatum(customer), true);
	store_set(slot, NAME_NAME, name, true);
	store_set(slot, NAME_CORE, core, true);
	store_set(slot, NAME_TOKENS, tokens, true);
	if (crmpool_has_tenants())
		store_set(slot, NAME_TENANT, crmpool_tenant_datum(tenant), true);
	done = store_plain(heap, slot);
	store_slot_end(heap, slot);
	if (!done)
		id_run(ID_PUT_NAME, (Datum[]) {crmpool_table_id_datum(table), Int64GetDatum(customer), name,
				   core, tokens, crmpool_tenant_datum(tenant)}, NULL, false);
}

static void
store(ManagedRel *mr, CrmpoolTenant tenant, int64 customer, const IdentityKeys *ik)
{
	if (ik->has_name && strlen(ik->parsed.key) > IDENTITY_MAX_CORE_BYTES)
		identity_name_too_long(mr->relid, psprintf(_("of customer %lld"), (long long) customer),
							   (int) strlen(ik->parsed.key));

	if (ik->nkeys > 0)
		store_keys(mr->table_id, tenant, customer, ik);
	if (ik->has_name)
		store_name(mr->table_id, tenant, customer, ik);
}

/*
 * Make ik the customer's keys, checking nothing (crmpool.repair()); had: the phone and e-mail
 * keys stored for it now.  In a ledger session.
 */
void
identity_replace_keys(ManagedRel *mr, CrmpoolTenant tenant, int64 customer, const IdentityKeys *had,
					  const IdentityKeys *ik)
{
	forget(mr->table_id, tenant, customer, had);
	store(mr, tenant, customer, ik);
}

PG_FUNCTION_INFO_V1(crmpool_identity_trigger);
Datum
crmpool_identity_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *td = (TriggerData *) fcinfo->context;
	Relation	rel;
	TupleDesc	desc;
	ManagedRel *mr;
	HeapTuple	tup;
	OwnerContext octx;
	IdentityKeys ik;
	IdentityKeys lock_both;
	IdentityKeys had;			/* an update's old keys, to forget */
	Reaction   *reactions;
	int			nreactions;
	int			i;
	int64		customer;
	CrmpoolTenant tenant;
	bool		isnull;

	memset(&lock_both, 0, sizeof(lock_both));
	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(td->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(td->tg_event))
		elog(ERROR, "crmpool.identity_trigger() must be an AFTER ROW trigger");
	rel = td->tg_relation;
	desc = RelationGetDescr(rel);
	mr = managed_rel_get(RelationGetRelid(rel), false);
	tup = TRIGGER_FIRED_BY_UPDATE(td->tg_event) ? td->tg_newtuple : td->tg_trigtuple;
	customer = managed_int_value(mr->key_type, heap_getattr(tup, mr->key_att, desc, &isnull));
	tenant = managed_tenant(mr, tup, desc);

	/*
	 * Keys a customer gives up (deleted, or changed by an update) are locked too, so that a
	 * concurrent writer of the same key waits to see whether they are really given up.
	 */
	if (TRIGGER_FIRED_BY_DELETE(td->tg_event))
	{
		memset(&ik, 0, sizeof(ik));
		memset(&had, 0, sizeof(had));
		if (mr->has_identity)
			row_and_stored_keys(mr, tup, desc, &ik, &had);
		ledger_begin(&octx);
		if (mr->has_identity)
			lock_keys(rel, tenant, &ik, NULL);
		forget(mr->table_id, tenant, customer, &had);
		ledger_end(&octx);
		return PointerGetDatum(NULL);
	}
	if (!mr->has_identity)
		return PointerGetDatum(NULL);

	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event) &&
		identity_columns_same(mr, td->tg_trigtuple, tup, desc))
		return PointerGetDatum(NULL);
	identity_row_keys(mr, tup, desc, &ik);
	if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
	{
		IdentityKeys old;

		/* had: with none (soft-deleted), what a write under an earlier mapping may have stored */
		row_and_stored_keys(mr, td->tg_trigtuple, desc, &old, &had);
		if (keys_equal(&old, &ik))
			return PointerGetDatum(NULL);
		lock_both = old;
	}

	{
		RuleSet		rules;
		int64		owner = 0;
		Datum		d = heap_getattr(tup, mr->owner_att, desc, &isnull);

		if (!isnull)
			owner = managed_int_value(mr->owner_type, d);
		managed_rules(mr, tenant, managed_pool_text(mr, tup, desc), !isnull, owner,
						NULL, &rules);
		reactions = palloc(sizeof(Reaction) * (2 * ik.nkeys + 1));
		ledger_begin(&octx);
		lock_keys(rel, tenant, &ik, &lock_both);
		nreactions = find_reactions(mr, tenant, customer, &ik, &rules, reactions);
		if (nreactions > 0)
		{
			/* the writer learns where the other customer sits as itself, not as crmpool */
			ledger_end(&octx);
			for (i = 0; i < nreactions; i++)
				react(mr, tenant, customer, &reactions[i], &ik);
			ledger_begin(&octx);
			for (i = 0; i < nreactions; i++)
				record_warning(mr, tenant, customer, &reactions[i].m);
		}
		if (TRIGGER_FIRED_BY_UPDATE(td->tg_event))
			forget(mr->table_id, tenant, customer, &had);
		store(mr, tenant, customer, &ik);
		ledger_end(&octx);
	}
	return PointerGetDatum(NULL);
}
