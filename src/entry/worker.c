/*
 * worker.c: crmpool's background worker, when crmpool is in shared_preload_libraries.
 *
 * A launcher, started by the postmaster and connected to no database (it reads only
 * pg_database, a shared catalog), serves the databases named in crmpool.worker_databases: every
 * crmpool.worker_naptime seconds it starts one short-lived worker per database.  That worker
 * connects, runs over every managed table the same maintenance as CALL crmpool.recycle()
 * (recycle_table() with a commit per batch) and exits.  One process per database because a
 * backend can connect to one database only; short-lived so that nothing holds a database open
 * between rounds (DROP DATABASE) and every round starts from the current configuration.
 *
 * A database that does not exist yet, does not accept connections, or has no crmpool extension
 * yet is passed over quietly and tried again next round.  The launcher does nothing during
 * recovery, reloads its settings on SIGHUP (a new naptime counts from the last round), and is
 * restarted by the postmaster if it fails.  Both show in pg_stat_activity (backend_type
 * "crmpool launcher" / "crmpool worker").  A worker never starts a round for a database whose
 * previous round is still running.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "entry/entry.h"

PGDLLEXPORT void crmpool_launcher_main(Datum arg);
PGDLLEXPORT void crmpool_worker_main(Datum arg);

/* The launcher's workers, one per database, while they run. */
typedef struct DatabaseWorker
{
	Oid			dboid;
	BackgroundWorkerHandle *handle;
} DatabaseWorker;

static List *database_workers = NIL;

void
worker_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* it starts on a hot standby too, and waits there for the end of recovery */
	worker.bgw_start_time = BgWorkerStart_ConsistentState;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "crmpool");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "crmpool_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "crmpool launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "crmpool launcher");
	RegisterBackgroundWorker(&worker);
}

/* The database's OID if it exists and accepts connections; InvalidOid otherwise. */
static Oid
database_to_serve(const char *name)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	Oid			dboid = InvalidOid;

	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (strcmp(NameStr(db->datname), name) == 0)
		{
			if (db->datallowconn)
				dboid = db->oid;
			break;
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	return dboid;
}

static DatabaseWorker *
worker_for(Oid dboid)
{
	ListCell   *lc;

	foreach(lc, database_workers)
	{
		DatabaseWorker *w = lfirst(lc);

		if (w->dboid == dboid)
			return w;
	}
	return NULL;
}

static void
start_database_worker(Oid dboid, const char *name)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	DatabaseWorker *w = worker_for(dboid);
	MemoryContext oldcxt;
	pid_t		pid;

	if (w != NULL)
	{
		if (GetBackgroundWorkerPid(w->handle, &pid) != BGWH_STOPPED)
			return;				/* its last round is still running */
		pfree(w->handle);
		database_workers = list_delete_ptr(database_workers, w);
		pfree(w);
	}

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;	/* the next round starts it again */
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "crmpool");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "crmpool_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "crmpool worker for database %s", name);
	snprintf(worker.bgw_type, BGW_MAXLEN, "crmpool worker");
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;

	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		ereport(WARNING,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("crmpool could not start a worker for database \"%s\"", name),
				 errdetail("All background worker slots are in use; it is tried again next round."),
				 errhint("Raise max_worker_processes (now %d).", max_worker_processes)));
	else
	{
		w = palloc(sizeof(DatabaseWorker));
		w->dboid = dboid;
		w->handle = handle;
		database_workers = lappend(database_workers, w);
	}
	MemoryContextSwitchTo(oldcxt);
}

/* One round: a worker for each listed database that exists now. */
static void
launch_round(MemoryContext roundcxt)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(roundcxt);
	char	   *raw = pstrdup(crmpool_worker_databases);
	List	   *names;
	List	   *oids = NIL;
	ListCell   *lc,
			   *lc2;

	if (!SplitIdentifierString(raw, ',', &names) || names == NIL)
	{
		MemoryContextSwitchTo(oldcxt);
		return;
	}
	pgstat_report_activity(STATE_RUNNING, "crmpool: starting a maintenance round");
	StartTransactionCommand();
	foreach(lc, names)
		oids = lappend_oid(oids, database_to_serve(lfirst(lc)));
	CommitTransactionCommand();
	MemoryContextSwitchTo(roundcxt);

	forboth(lc, names, lc2, oids)
	{
		if (OidIsValid(lfirst_oid(lc2)))
			start_database_worker(lfirst_oid(lc2), lfirst(lc));
		else
			elog(DEBUG1, "crmpool: database \"%s\" does not exist or takes no connections; trying again next round",
				 (char *) lfirst(lc));
	}
	MemoryContextSwitchTo(oldcxt);
}

void
crmpool_launcher_main(Datum arg)
{
	TimestampTz last_round = 0;
	MemoryContext roundcxt;
	char		activity[256];

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("crmpool launcher");
	roundcxt = AllocSetContextCreate(TopMemoryContext, "crmpool launcher round",
									 ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		int			flags = WL_LATCH_SET | WL_EXIT_ON_PM_DEATH;
		long		timeout = -1;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (crmpool_worker_naptime > 0)
		{
			TimestampTz now = GetCurrentTimestamp();
			TimestampTz next = TimestampTzPlusMilliseconds(last_round, crmpool_worker_naptime * 1000L);

			if (now >= next)
			{
				/* recovery: nothing to do, and nothing may be written; look again next time */
				if (!RecoveryInProgress())
					launch_round(roundcxt);
				MemoryContextReset(roundcxt);
				last_round = now;
				next = TimestampTzPlusMilliseconds(now, crmpool_worker_naptime * 1000L);
			}
			timeout = TimestampDifferenceMilliseconds(now, next);
			flags |= WL_TIMEOUT;
		}
		/* what it waits for, for pg_stat_activity.query (settings change on SIGHUP) */
		snprintf(activity, sizeof(activity), "crmpool launcher: naptime %d s, databases \"%s\"",
				 crmpool_worker_naptime, crmpool_worker_databases);
		pgstat_report_activity(STATE_IDLE, activity);
		(void) WaitLatch(MyLatch, flags, timeout, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* Between two batches of a worker: the batch's transaction commits, the next one begins. */
static void
worker_commit(void)
{
	CommitTransactionCommand();
	CHECK_FOR_INTERRUPTS();
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
}

/*
 * One table's maintenance.  An error (a deadlock with an application's transaction, a trigger
 * of the table that refuses) is logged and the worker goes on with the next table; what the
 * committed batches did stays, the rest is tried again next round.
 */
static void
maintain_table(Oid relid, MemoryContext tablecxt)
{
	int64		recycled;
	int64		warned = 0;
	int64		expired = 0;
	char	   *volatile name = NULL;

	PG_TRY();
	{
		MemoryContextSwitchTo(tablecxt);
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		MemoryContextSwitchTo(tablecxt);
		name = get_rel_name(relid);
		if (name != NULL)
		{
			pgstat_report_activity(STATE_RUNNING, psprintf("crmpool: maintaining table %s", name));
			recycled = recycle_table(relid, crmpool_recycle_batch_size, worker_commit, &warned,
									 &expired);
			if (recycled > 0 || warned > 0)
				ereport(LOG,
						(errmsg("crmpool recycled %lld customers of table %s and sent %lld warnings",
								(long long) recycled, name, (long long) warned)));
			if (expired > 0)
				ereport(LOG,
						(errmsg("crmpool moved %lld customers of table %s that sat in their pool longer than pool_expire",
								(long long) expired, name)));
		}
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(tablecxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		recycle_report_failure(name, edata);
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(TopMemoryContext);
	MemoryContextReset(tablecxt);
}

void
crmpool_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	MemoryContext workcxt;
	MemoryContext tablecxt;
	List	   *rels = NIL;
	ListCell   *lc;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("crmpool worker");
	/* each batch re-checks under its row locks with a fresh snapshot: read committed */
	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET, PGC_S_OVERRIDE);

	workcxt = AllocSetContextCreate(TopMemoryContext, "crmpool worker", ALLOCSET_DEFAULT_SIZES);
	tablecxt = AllocSetContextCreate(TopMemoryContext, "crmpool worker table",
									 ALLOCSET_DEFAULT_SIZES);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "crmpool: listing managed tables");
	/* not created here yet: quietly done, the next round looks again */
	if (OidIsValid(get_extension_oid("crmpool", true)))
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(workcxt);

		rels = recycle_tables(InvalidOid);
		MemoryContextSwitchTo(oldcxt);
	}
	else
		elog(DEBUG1, "crmpool: no crmpool extension in database \"%s\" yet; trying again next round",
			 get_database_name(dboid));
	PopActiveSnapshot();
	CommitTransactionCommand();

	foreach(lc, rels)
	{
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		maintain_table(lfirst_oid(lc), tablecxt);
	}
	pgstat_report_activity(STATE_IDLE, NULL);
	proc_exit(0);
}
