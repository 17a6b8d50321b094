/*
 * tables.c: which tables crmpool can manage, and what DDL may do to a managed one.
 *
 * crmpool's counters, spells and locks stay true only while every change of the table's rows
 * fires its triggers, and while the columns it reads mean what they meant at manage():
 *
 *   - a temporary table vanishes at the end of its session with no event crmpool could see;
 *   - crash recovery empties an unlogged table without firing a trigger;
 *   - a partition's rows leave it by a DELETE and an INSERT on another partition, and a
 *     partition can be detached and attached again: crmpool would count each part on its own.
 *
 * So crmpool manages permanent plain tables that are not partitions, and refuses any ALTER
 * TABLE that would turn a managed table into one of these (SET UNLOGGED, ATTACH PARTITION).
 *
 * Columns are stored by name (crmpool.managed_table, crmpool.identity_config), because
 * pg_dump and restore renumber them.  The event trigger crmpool.check_altered_table, on
 * ddl_command_end of ALTER TABLE, follows a rename of a mapped column into the stored names,
 * then checks every managed table the command touched again (still a table crmpool manages,
 * mapped columns there with types it reads, no type change it cannot follow: follow-up, deal,
 * USING); an error rolls the command back.
 * The sql_drop event trigger crmpool.forget_dropped_tables (sql/parts/10_core.sql) refuses the
 * drop of a mapped column.  tables_check_mapping() is the one place that says which tables
 * and column types crmpool accepts: manage(), set_identity() and the event trigger call it.
 *
 * The event trigger writes crmpool's tables as the extension owner; it runs only crmpool's own
 * statements there and reads the user's table through the catalog, never through user code.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relation.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "table/table.h"

/* col = $3 where it was $2 (a renamed column) */
#define RENAMED(col) col " = CASE WHEN " col EQ "$2 THEN $3 ELSE " col " END"

/*
 * What crmpool reads of each mapped column.  accepted: the types it reads, and how the error
 * names them (none listed: any type); as_text: read as text through the type's output
 * function, which must be built in (crmpool_require_builtin_output: no user code runs when
 * crmpool reads a value).  A new rule on a
 * role's types goes here and in check_column(), and so holds for manage(), set_identity() and
 * every later ALTER TABLE alike.
 */
typedef struct ColumnRoleDef
{
	const char *name;
	const char *accepted;
	Oid			types[7];
	bool		as_text;
} ColumnRoleDef;

static const ColumnRoleDef role_defs[NUM_COLUMN_ROLES] = {
	[COLUMN_KEY] = {"primary key", "integer or bigint", {INT4OID, INT8OID}},
	[COLUMN_OWNER] = {"owner", "integer or bigint", {INT4OID, INT8OID}},
	[COLUMN_POOL] = {"pool", NULL, {InvalidOid}, true},
	[COLUMN_FOLLOWUP] = {"follow-up", "timestamptz, timestamp or date",
	{TIMESTAMPTZOID, TIMESTAMPOID, DATEOID}},
	[COLUMN_DEAL] = {"deal", NULL, {InvalidOid}},
	[COLUMN_LEVEL] = {"level", NULL, {InvalidOid}, true},
	[COLUMN_TENANT] = {"tenant", "smallint, integer, bigint, text, varchar or uuid",
	{INT2OID, INT4OID, INT8OID, TEXTOID, VARCHAROID, UUIDOID}, true},
	[COLUMN_LOCK] = {"lock", "boolean, smallint, integer or bigint", {BOOLOID, INT2OID, INT4OID, INT8OID}},
	[COLUMN_OWNER_SINCE] = {"owner-since", "timestamptz or timestamp", {TIMESTAMPTZOID, TIMESTAMPOID}},
	[COLUMN_DELETED] = {"deleted", "boolean, smallint, integer, bigint, timestamptz, timestamp or date",
	{BOOLOID, INT2OID, INT4OID, INT8OID, TIMESTAMPTZOID, TIMESTAMPOID, DATEOID}},
	[COLUMN_NAME] = {"name", "text, varchar or char", {TEXTOID, VARCHAROID, BPCHAROID}},
	[COLUMN_PHONE] = {"phone", NULL, {InvalidOid}, true},
	[COLUMN_EMAIL] = {"e-mail", "text, varchar or char", {TEXTOID, VARCHAROID, BPCHAROID}},
};

/* A permanent plain table that is not a partition; `managed`: the check of an ALTER TABLE. */
void
tables_check_kind(Oid relid, bool managed)
{
	const char *name = get_rel_name(relid);

	if (name == NULL)
		crmpool_no_such_table(relid);
	if (get_rel_relkind(relid) != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", name),
				 errdetail("crmpool manages plain tables; views, materialized views, foreign and partitioned tables are not supported.")));
	switch (get_rel_persistence(relid))
	{
		case RELPERSISTENCE_TEMP:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("crmpool cannot manage temporary table \"%s\"", name),
					 errdetail("A temporary table vanishes at the end of its session without any event crmpool could see, which would leave its counters and history behind."),
					 errhint("Manage a permanent table.")));
			break;
		case RELPERSISTENCE_UNLOGGED:
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("crmpool cannot manage unlogged table \"%s\"", name),
					 errdetail("Crash recovery empties an unlogged table without firing any trigger, while crmpool's counters, spells and locks of its rows would stay."),
					 managed ?
					 errhint("Detach the table with crmpool.unmanage() before making it unlogged.") :
					 errhint("Make it a logged table first: ALTER TABLE ... SET LOGGED.")));
			break;
		default:
			break;
	}
	if (get_rel_relispartition(relid))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("crmpool cannot manage partition \"%s\"", name),
				 errdetail("\"%s\" is a partition of \"%s\": a row moving to another partition, and a partition detached or attached, would be counted by each part on its own.",
						   name, get_rel_name(get_partition_parent(relid, true))),
				 managed ?
				 errhint("Detach the table with crmpool.unmanage() before attaching it as a partition.") :
				 errhint("Manage a plain table; for a partitioned customer table, keep the ownership columns in a plain table with the same key and manage that (see \"Partitioned tables\" in docs/reference.md).")));

	/*
	 * Inheritance: a statement on the parent writes the children's rows, firing their row
	 * triggers but only the parent's statement triggers, so neither side's counts could be
	 * kept (a managed child's changes would wait for a statement trigger that never fires; a
	 * managed parent's children would change owners unchecked).
	 */
	if (has_superclass(relid) || find_inheritance_children(relid, NoLock) != NIL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("crmpool cannot manage table \"%s\", which %s", name,
						has_superclass(relid) ? "inherits from another table" : "other tables inherit from"),
				 errdetail("A statement on an inheritance parent writes its children's rows without their statement triggers: crmpool could not count them."),
				 managed ?
				 errhint("Detach the table with crmpool.unmanage() before changing its inheritance.") :
				 errhint("Manage a table outside any inheritance tree.")));
}

/*
 * The customer id column of rel's primary key: manage() maps it, and an ALTER TABLE that drops
 * it is refused.  The key is that one column, or (tenant, id) with the tenant column tenant
 * (InvalidAttrNumber: none), in either order: ids then repeat across tenants, and crmpool.tenant
 * scopes the operations that take ids (managed_customer_sql).
 */
AttrNumber
tables_primary_key(Relation rel, AttrNumber tenant)
{
	Oid			pkoid = crmpool_primary_key_index(rel);
	Relation	idx;
	AttrNumber	att;
	AttrNumber	second = InvalidAttrNumber;
	int			nkeys;

	if (!OidIsValid(pkoid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("table \"%s\" has no primary key", RelationGetRelationName(rel)),
				 errhint("crmpool identifies customers by a primary key of one integer or bigint column.")));
	idx = index_open(pkoid, AccessShareLock);
	nkeys = IndexRelationGetNumberOfKeyAttributes(idx);
	att = idx->rd_index->indkey.values[0];
	if (nkeys == 2)
		second = idx->rd_index->indkey.values[1];
	index_close(idx, AccessShareLock);
	if (nkeys == 2 && tenant != InvalidAttrNumber && (att == tenant || second == tenant))
		return att == tenant ? second : att;
	if (nkeys != 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("table \"%s\" has a composite primary key", RelationGetRelationName(rel)),
				 nkeys == 2 ?
				 errdetail("A key of two columns is accepted when one of them is the tenant column named by tenant_column.") : 0,
				 errhint("crmpool identifies customers by a primary key of one integer or bigint column, or of the tenant column and one.")));
	return att;
}

/* After ALTER TABLE ... DROP CONSTRAINT: the key column is still the primary key. */
static void
check_primary_key(Node *parsetree, Oid relid, const TableMapping *m)
{
	ListCell   *lc;
	Relation	rel;
	AttrNumber	att;

	if (!IsA(parsetree, AlterTableStmt))
		return;
	foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
		if (lfirst_node(AlterTableCmd, lc)->subtype == AT_DropConstraint)
			break;
	if (lc == NULL || m->columns[COLUMN_KEY] == NIL)
		return;
	/* the ALTER TABLE holds its lock on the table; an error closes the relation */
	rel = relation_open(relid, NoLock);
	att = tables_primary_key(rel, m->columns[COLUMN_TENANT] == NIL ? InvalidAttrNumber :
							 get_attnum(relid, linitial(m->columns[COLUMN_TENANT])));
	relation_close(rel, NoLock);
	if (att != get_attnum(relid, linitial(m->columns[COLUMN_KEY])))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("the primary key of managed table \"%s\" is no longer its key column \"%s\"",
						get_rel_name(relid), (const char *) linitial(m->columns[COLUMN_KEY])),
				 errhint("Detach the table with crmpool.unmanage() before changing its primary key.")));
}

/* The column `name` of relid in the given role: it exists and crmpool reads its type. */
static void
check_column(Oid relid, const char *name, ColumnRole role, bool managed)
{
	const ColumnRoleDef *def = &role_defs[role];
	AttrNumber	att = get_attnum(relid, name);
	Oid			type;
	int			i;

	if (att == InvalidAttrNumber || att < 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"%s\" does not exist", name, get_rel_name(relid)),
				 errdetail("crmpool reads it as the %s column.", def->name)));
	if (def->as_text)
		crmpool_require_builtin_output(relid, att, def->name);
	if (def->accepted == NULL)
		return;
	/* a domain is read as its base type (its checks run on writes, never on crmpool's reads) */
	type = get_atttype(relid, att);
	for (i = 0; i < lengthof(def->types) && OidIsValid(def->types[i]); i++)
		if (getBaseType(type) == def->types[i])
			return;
	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("%s column \"%s\" of table \"%s\" must be %s",
					def->name, name, get_rel_name(relid), def->accepted),
			 errdetail("It is of type %s.", format_type_be(type)),
			 managed ? errhint("crmpool reads this column of a managed table; map another column with crmpool.manage() or crmpool.set_identity(), or detach the table with crmpool.unmanage(), before changing its type.") : 0));
}

/*
 * The one check of a table and the columns mapped on it (the roles present in m): manage()
 * and set_identity() before they store a mapping (managed false), the event trigger after an
 * ALTER TABLE of a managed table (managed true: the hints say how to change it).
 */
void
tables_check_mapping(Oid relid, const TableMapping *m, bool managed)
{
	int			role;
	ListCell   *lc;

	tables_check_kind(relid, managed);
	for (role = 0; role < NUM_COLUMN_ROLES; role++)
		foreach(lc, m->columns[role])
			check_column(relid, (const char *) lfirst(lc), role, managed);
}

/* ---------------------------------------------------------------------------------------------
 * The event trigger on ALTER TABLE
 * -------------------------------------------------------------------------------------------*/

/* rv's table, and with its inheritors (partitions too) when the command recurses. */
static List *
add_tables(List *rels, RangeVar *rv)
{
	Oid			relid;
	List	   *all;
	ListCell   *lc;

	if (rv == NULL)
		return rels;
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(relid))
		return rels;
	/* the command holds its locks on them all */
	all = rv->inh ? find_all_inheritors(relid, NoLock, NULL) : list_make1_oid(relid);
	foreach(lc, all)
		rels = list_append_unique_oid(rels, lfirst_oid(lc));
	return rels;
}

/* The tables an ALTER TABLE may have changed: its table, inheritors, an attached partition. */
static List *
altered_tables(Node *parsetree)
{
	List	   *rels = NIL;
	ListCell   *lc;

	if (IsA(parsetree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) parsetree;

		rels = add_tables(rels, stmt->relation);
		foreach(lc, stmt->cmds)
		{
			AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

			if (cmd->subtype == AT_AttachPartition)
				rels = add_tables(rels, ((PartitionCmd *) cmd->def)->name);
			else if (cmd->subtype == AT_AddInherit)
				rels = add_tables(rels, (RangeVar *) cmd->def);
		}
	}
	else if (IsA(parsetree, CreateStmt) || IsA(parsetree, CreateForeignTableStmt))
	{
		/*
		 * CREATE [FOREIGN] TABLE ... INHERITS (a managed table): the parent gains a child (a
		 * CreateForeignTableStmt begins with its CreateStmt)
		 */
		foreach(lc, ((CreateStmt *) parsetree)->inhRelations)
			rels = add_tables(rels, lfirst_node(RangeVar, lc));
	}
	else if (IsA(parsetree, RenameStmt) &&
			 ((RenameStmt *) parsetree)->renameType == OBJECT_COLUMN)
		rels = add_tables(rels, ((RenameStmt *) parsetree)->relation);
	return rels;
}

/*
 * crmpool's statements of the event trigger ($1 the touched tables' OIDs; $2, $3 a rename's old
 * and new name).  They read with the latest snapshot: under REPEATABLE READ the command's own
 * snapshot could miss a manage() committed after it began, and leave that table's names stale.
 */
typedef enum TablesStmt
{
	TS_RENAME_MAPPED,
	TS_RENAME_IDENTITY,
	TS_MAPPINGS,
	NUM_TS_STMTS
} TablesStmt;

/*
 * 0.1's managed_table has neither tenant_column (crmpool_has_tenants) nor the lock,
 * owner-since and deleted columns: one update script adds them all.
 */
#define TS_RENAME_MAPPED_SQL(T) \
	"UPDATE crmpool.managed_table SET " RENAMED("key_column") ", " RENAMED("owner_column") ", " \
	RENAMED("pool_column") ", " RENAMED("followup_column") ", " RENAMED("deal_column") ", " \
	RENAMED("level_column") T(", " RENAMED("tenant_column") ", " RENAMED("lock_column") ", " \
	RENAMED("owner_since_column") ", " RENAMED("deleted_column")) \
	" WHERE rel::pg_catalog.oid" EQ "ANY ($1) " \
	"AND $2" EQ "ANY (ARRAY[key_column, owner_column, pool_column, followup_column, deal_column, " \
	"level_column" T(", tenant_column, lock_column, owner_since_column, deleted_column") "])"

/* the columns in ColumnRole order, from column 2 on */
#define TS_MAPPINGS_SQL(T, O) \
	"SELECT m.rel::pg_catalog.oid, m.key_column, m.owner_column, m.pool_column, " \
	"m.followup_column, m.deal_column, m.level_column, " \
	T("m.tenant_column, m.lock_column, m.owner_since_column, m.deleted_column") \
	O("NULL::pg_catalog.name, NULL::pg_catalog.name, NULL::pg_catalog.name, NULL::pg_catalog.name") ", " \
	"c.name_column, c.phone_columns::pg_catalog.text[], c.email_columns::pg_catalog.text[] " \
	"FROM crmpool.managed_table m LEFT JOIN crmpool.identity_config c " \
	"ON c.rel" EQ "m.rel WHERE m.rel::pg_catalog.oid" EQ "ANY ($1)"

static const CrmpoolStmt ts_defs[NUM_TS_STMTS] = {
	[TS_RENAME_MAPPED] = TENANT_STMT(TS_RENAME_MAPPED_SQL, 3, {OIDARRAYOID, NAMEOID, NAMEOID}),
	[TS_RENAME_IDENTITY] = {
		"UPDATE crmpool.identity_config SET " RENAMED("name_column") ", "
		"phone_columns = pg_catalog.array_replace(phone_columns, $2, $3), "
		"email_columns = pg_catalog.array_replace(email_columns, $2, $3) "
		"WHERE rel::pg_catalog.oid" EQ "ANY ($1) AND ($2" EQ "name_column "
		"OR $2" EQ "ANY (phone_columns) OR $2" EQ "ANY (email_columns))",
		3, {OIDARRAYOID, NAMEOID, NAMEOID}
	},
	[TS_MAPPINGS] = TENANT_STMT2(TS_MAPPINGS_SQL, 1, {OIDARRAYOID}),
};

static SPIPlanPtr ts_plans[NUM_TS_STMTS][2];

/* Run one of them with the latest snapshot, firing the foreign key triggers of its table. */
static void
ts_run(TablesStmt stmt, Datum *values)
{
	int			rc = SPI_execute_snapshot(crmpool_stmt_plan(&ts_defs[stmt], ts_plans[stmt]),
										  values, NULL, GetLatestSnapshot(), InvalidSnapshot,
										  false, true, 0);

	if (rc < 0)
		elog(ERROR, "crmpool statement failed: %s", SPI_result_code_string(rc));
}

/* An oid[] of rels. */
static Datum
oid_array(List *rels)
{
	Datum	   *elems = palloc(sizeof(Datum) * list_length(rels));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, rels)
		elems[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	return PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
}

/* Append the text[] column col of SPI's current row to *names. */
static void
names_from_array(HeapTuple tup, TupleDesc desc, int col, List **names)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;

	if (isnull)
		return;
	deconstruct_array(DatumGetArrayTypeP(d), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (!nulls[i])
			*names = lappend(*names, TextDatumGetCString(elems[i]));
}

/* A refusal raised while checking a managed table after a command names the table. */
static const char *checked_command = NULL;

static void
altered_table_context(void *arg)
{
	errcontext("crmpool checks managed table \"%s\" after %s", (const char *) arg,
			   checked_command);
}

/*
 * ALTER COLUMN ... TYPE of a mapped column that the type check alone cannot judge.  The
 * follow-up and deal columns are read by type (a due time from a date is not the one from a
 * timestamp; a boolean deal counts its true values, another type its non-null ones): their
 * counters and due times would no longer match.  And USING rewrites every row with new values
 * without firing a trigger, so for any mapped column it would bypass crmpool altogether.
 */
static void
check_type_changes(Node *parsetree, Oid relid, const TableMapping *m)
{
	ListCell   *lc;

	if (!IsA(parsetree, AlterTableStmt))
		return;
	foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		int			role;
		ListCell   *lc2;

		if (cmd->subtype != AT_AlterColumnType)
			continue;
		for (role = 0; role < NUM_COLUMN_ROLES; role++)
			foreach(lc2, m->columns[role])
			{
				if (strcmp(cmd->name, (const char *) lfirst(lc2)) != 0)
					continue;
				if (role == COLUMN_FOLLOWUP || role == COLUMN_DEAL || role == COLUMN_POOL ||
					role == COLUMN_LEVEL || role == COLUMN_TENANT || role == COLUMN_LOCK ||
					role == COLUMN_OWNER_SINCE || role == COLUMN_DELETED)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot change the type of %s column \"%s\" of managed table \"%s\"",
									role_defs[role].name, cmd->name, get_rel_name(relid)),
							 role == COLUMN_DEAL ?
							 errdetail("crmpool counts the true values of a boolean deal column and the non-null values of any other type: a new type can change which customers have a deal.") :
							 role == COLUMN_FOLLOWUP || role == COLUMN_OWNER_SINCE ?
							 errdetail("crmpool computed the due times from the %s column's values: a new type can move them.",
									   role_defs[role].name) :
							 role == COLUMN_LOCK || role == COLUMN_DELETED ?
							 errdetail("crmpool counts the %s rows by the column's type (true for a boolean, not 0 for a number, not null for a time): a new type can change which rows those are.",
									   role == COLUMN_LOCK ? "locked" : "deleted") :
							 role == COLUMN_TENANT ?
							 errdetail("crmpool keeps its bookkeeping under each tenant's key, the value of an integer tenant or the id of a text one: a new type can change it, and so whose counts a customer is in.") :
							 errdetail("crmpool's rules and due times name %ss by their text: a new type can change it (char(n) pads, boolean reads \"true\"), and so which rules apply.",
									   role_defs[role].name),
							 role == COLUMN_TENANT ?
							 errhint("Detach the table with crmpool.unmanage(), change the type, then attach it again.") :
							 errhint("Map the table without it first (crmpool.manage() with %s => NULL), change the type, then map it again: manage() recounts and recomputes.",
									 role == COLUMN_DEAL ? "deal_column" :
									 role == COLUMN_FOLLOWUP ? "followup_column" :
									 role == COLUMN_POOL ? "pool_column" :
									 role == COLUMN_LOCK ? "lock_column" :
									 role == COLUMN_OWNER_SINCE ? "owner_since_column" :
									 role == COLUMN_DELETED ? "deleted_column" : "level_column")));
				if (((ColumnDef *) cmd->def)->raw_default != NULL)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot change the type of %s column \"%s\" of managed table \"%s\" with USING",
									role_defs[role].name, cmd->name, get_rel_name(relid)),
							 errdetail("USING rewrites every row without firing a trigger: crmpool's counters, history and keys would no longer match the table."),
							 errhint("Change the type without USING, or detach the table with crmpool.unmanage() first.")));
			}
	}
}

/*
 * ddl_command_end of ALTER TABLE.  A renamed column takes its stored name with it; then each
 * managed table the command touched must still be one crmpool can manage, and its mapped
 * columns must still exist with types crmpool reads.
 */
PG_FUNCTION_INFO_V1(crmpool_check_altered_table);
Datum
crmpool_check_altered_table(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	List	   *rels;
	OwnerContext octx;
	int			nestlevel;
	Datum		values[3];
	uint64		i;
	SPITupleTable *tuptable;
	uint64		nrels;

	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		elog(ERROR, "crmpool.check_altered_table() must be called as an event trigger");
	trigdata = (EventTriggerData *) fcinfo->context;

	/*
	 * crmpool's own install or update script (its tables may not all exist yet), or a binary
	 * upgrade's restore: nothing crmpool maps is being changed.
	 */
	if ((creating_extension && CurrentExtensionObject == get_extension_oid("crmpool", true)) ||
		IsBinaryUpgrade)
		PG_RETURN_VOID();
	rels = altered_tables(trigdata->parsetree);
	if (rels == NIL)
		PG_RETURN_VOID();
	values[0] = oid_array(rels);

	nestlevel = crmpool_begin_admin(&octx);
	if (IsA(trigdata->parsetree, RenameStmt))
	{
		RenameStmt *stmt = (RenameStmt *) trigdata->parsetree;

		values[1] = DirectFunctionCall1(namein, CStringGetDatum(stmt->subname));
		values[2] = DirectFunctionCall1(namein, CStringGetDatum(stmt->newname));
		/* the rename reached every table in rels that has the column (or the command failed) */
		ts_run(TS_RENAME_MAPPED, values);
		ts_run(TS_RENAME_IDENTITY, values);
	}
	ts_run(TS_MAPPINGS, values);
	tuptable = SPI_tuptable;
	/* the checks read the catalog only; as the caller */
	crmpool_restore_user(&octx);

	nrels = SPI_processed;
	for (i = 0; i < nrels; i++)
	{
		HeapTuple	tup = tuptable->vals[i];
		TupleDesc	desc = tuptable->tupdesc;
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		TableMapping m = {0};
		ErrorContextCallback errcb;
		int			role;

		for (role = COLUMN_KEY; role <= COLUMN_NAME; role++)
		{
			char	   *name = SPI_getvalue(tup, desc, 2 + role);

			if (name != NULL)
				m.columns[role] = list_make1(name);
		}
		names_from_array(tup, desc, 2 + COLUMN_PHONE, &m.columns[COLUMN_PHONE]);
		names_from_array(tup, desc, 2 + COLUMN_EMAIL, &m.columns[COLUMN_EMAIL]);

		errcb.callback = altered_table_context;
		errcb.arg = get_rel_name(relid);
		checked_command = GetCommandTagName(trigdata->tag);
		errcb.previous = error_context_stack;
		error_context_stack = &errcb;
		tables_check_mapping(relid, &m, true);
		check_type_changes(trigdata->parsetree, relid, &m);
		check_primary_key(trigdata->parsetree, relid, &m);
		error_context_stack = errcb.previous;
		managed_rel_changed(relid);
	}
	crmpool_end_admin(&octx, nestlevel);
	PG_RETURN_VOID();
}
