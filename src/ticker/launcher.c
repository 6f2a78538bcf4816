/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The pgq launcher: finds the databases that have the pgq extension and
 *	  keeps one ticker worker (worker.c) running in each.  Also the
 *	  hooks through which ordinary backends keep it informed, and
 *	  pgq.ticker_status().
 *
 * The launcher is a static background worker connected to no database, so
 * it can read pg_database but cannot tell whether a database has pgq.  It
 * starts a worker for every connectable database it has not yet ruled
 * out; a worker that finds no pgq extension exits at once, and the
 * launcher remembers that and does not try the database again until told
 * that something changed there.  So an idle cluster costs one short-lived
 * process per database at launcher start and nothing after that.
 *
 * Backends tell the launcher, at commit, about:
 *	- CREATE EXTENSION and DROP EXTENSION of any extension (object access
 *	  hook): the database is looked at again, so a new pgq installation is
 *	  ticked at once and a running worker re-checks that pgq still exists;
 *	- CREATE and ALTER DATABASE (utility hook): a rescan of pg_database.
 *
 * A worker keeps a connection to its database, which would make DROP
 * DATABASE fail with "database is being accessed by other users" (only
 * WITH (FORCE) terminates other sessions, and CountOtherDBBackends waits
 * for autovacuum workers only).  The same holds for ALTER DATABASE RENAME,
 * ALTER DATABASE SET TABLESPACE and CREATE DATABASE using it as template.
 * For such a statement the backend "holds" the database: it records the
 * database in pgq_held_databases (one entry per backend), stops our worker
 * there and waits until it is gone.  The launcher starts nothing in a held
 * database.  The hold ends when the transaction ends, and the launcher
 * then looks at the database again (it is gone, or renamed, or still there
 * after a failed statement).
 *
 * Only a statement PostgreSQL lets proceed may hold: otherwise any login
 * role could keep another database's worker stopped by attempting DROP
 * DATABASE in a transaction it leaves open, or by attempting it in a loop.
 * DROP DATABASE holds from the object access hook, which dropdb() calls
 * once the statement has passed its checks.  The other three statements
 * have no such hook; the utility hook holds for them after repeating the
 * checks that PostgreSQL makes of who may run them where (see
 * database_needing_exclusive_use).
 *
 * Starting a worker and holding a database are ordered by the shared lock:
 * the launcher claims a slot only for a database nobody holds, and a
 * holder stops whatever slot it finds (see pgq_stop_worker; a worker
 * registered but not yet running will not take the slot up).  A database
 * dropped between the launcher's pg_database scan and its claim is caught
 * by re-reading pg_database after claiming.
 *
 * src/ticker/launcher.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <signal.h>

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "ticker_shared.h"

PG_FUNCTION_INFO_V1(pgq_ticker_status);

/* a terminated or failed launcher comes back after this many seconds */
#define LAUNCHER_RESTART_SECONDS 5

/* when no background worker slot was free, try again this much later */
#define BGWORKER_RETRY_MS 5000

/* restart delays of a worker that keeps failing: 1 s, doubling to 60 s */
#define RESTART_DELAY_MIN_MS 1000
#define RESTART_DELAY_MAX_MS 60000
/* a worker that ran this long counts as healthy again */
#define HEALTHY_RUN_MS 60000

/* how long a DROP DATABASE waits for our worker to leave */
#define HOLD_WAIT_MS 10000

/*
 * What the launcher knows about a database from pg_database and from
 * earlier workers.  Lives in the launcher only.
 */
typedef struct LauncherDb
{
	Oid			dboid;			/* hash key */
	NameData	datname;
	bool		seen;			/* in the latest pg_database scan */
	bool		no_pgq;			/* a worker found no pgq; wait to be told */
	uint64		rechecks;		/* how often backends asked us to look */
} LauncherDb;

/*
 * Backend-local: what to tell the launcher when this transaction ends.
 * pending_rescan asks for a pg_database scan only, pending_recheck for a
 * fresh look at a few databases, pending_recheck_all at every database.
 */
static bool xact_callback_registered = false;
static bool pending_rescan = false;
static bool pending_recheck_all = false;
static int	npending_recheck = 0;
static Oid	pending_recheck[4];
static bool holding_database = false;

static ProcessUtility_hook_type prev_ProcessUtility = NULL;
static object_access_hook_type prev_object_access_hook = NULL;

/* launcher state */
static MemoryContext launcher_cxt = NULL;	/* reset at every loop */
static HTAB *launcher_dbs = NULL;
static BackgroundWorkerHandle **worker_handles = NULL;	/* per slot */
static uint64 *worker_rechecks = NULL;	/* LauncherDb.rechecks at start */
static bool rescan_requested = true;
static bool slots_full_logged = false;
static bool bgworkers_full_logged = false;

static void register_xact_callback(void);
static void request_recheck_at_commit(Oid dboid);
static void push_recheck(Oid dboid);
static void hooks_xact_callback(XactEvent event, void *arg);
static void pgq_object_access(ObjectAccessType access, Oid classId,
							  Oid objectId, int subId, void *arg);
static bool user_has_createdb(void);
static Oid	database_owned_by_user(const char *dbname);
static bool user_may_copy_database(Oid dboid);
static Oid	database_needing_exclusive_use(Node *parsetree, bool isTopLevel);
static void hold_database(Oid dboid, bool db_locked);
static void pgq_process_utility(PlannedStmt *pstmt, const char *queryString,
								bool readOnlyTree, ProcessUtilityContext context,
								ParamListInfo params, QueryEnvironment *queryEnv,
								DestReceiver *dest, QueryCompletion *qc);
static void launcher_detach(int code, Datum arg);
static bool database_wanted(const char *datname);
static void scan_databases(void);
static void take_rechecks(void);
static bool database_is_held(Oid dboid);
static void reap_and_stop_workers(TimestampTz now);
static void start_workers(TimestampTz now);
static bool database_still_usable(Oid dboid);
static void register_worker(int slotno, uint64 rechecks, TimestampTz now);
static void free_slot(int slotno);
static long next_timeout(TimestampTz now, TimestampTz next_scan);

/* ----------------------------------------------------------------------
 * Shared memory
 * ----------------------------------------------------------------------
 */

Size
pgq_ticker_shmem_size(void)
{
	Size		size;

	size = add_size(offsetof(PgqTickerShared, slots),
					mul_size(pgq_max_workers, sizeof(PgqDbSlot)));
	size = MAXALIGN(size);
	size = add_size(size, mul_size(MaxBackends, sizeof(Oid)));
	return size;
}

void
pgq_ticker_shmem_init(void)
{
	bool		found;
	int			i;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pgq_ticker_shared = ShmemInitStruct("pgq ticker", pgq_ticker_shmem_size(), &found);
	pgq_held_databases = (Oid *) ((char *) pgq_ticker_shared +
								  MAXALIGN(offsetof(PgqTickerShared, slots) +
										   pgq_max_workers * sizeof(PgqDbSlot)));
	if (!found)
	{
		memset(pgq_ticker_shared, 0, pgq_ticker_shmem_size());
		pgq_ticker_shared->lock = &(GetNamedLWLockTranche("pgq ticker"))->lock;
		pgq_ticker_shared->nslots = pgq_max_workers;
		for (i = 0; i < pgq_max_workers; i++)
		{
			pgq_ticker_shared->slots[i].dboid = InvalidOid;
			pgq_wakeup_reset_slot(&pgq_ticker_shared->slots[i]);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

void
pgq_wake_launcher(void)
{
	PGPROC	   *proc = pgq_ticker_shared->launcher_proc;

	if (proc != NULL)
		SetLatch(&proc->procLatch);
}

const char *
pgq_worker_state_name(PgqWorkerState state)
{
	switch (state)
	{
		case PGQ_WORKER_STARTING:
			return "starting";
		case PGQ_WORKER_IDLE:
			return "idle";
		case PGQ_WORKER_TICKING:
			return "ticking";
		case PGQ_WORKER_RETRY:
			return "retry";
		case PGQ_WORKER_MAINT:
			return "maintenance";
		case PGQ_WORKER_STOPPING:
			return "stopping";
		case PGQ_WORKER_NO_EXTENSION:
			return "no extension";
		case PGQ_WORKER_OTHER_VERSION:
			return "waiting for ALTER EXTENSION pgq UPDATE";
		case PGQ_WORKER_RESTARTING:
			return "restarting";
		case PGQ_WORKER_NO_BGWORKER:
			return "waiting for a background worker slot";
	}
	return "unknown";
}

/* ----------------------------------------------------------------------
 * Hooks in ordinary backends
 * ----------------------------------------------------------------------
 */

void
pgq_install_hooks(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = pgq_process_utility;
	prev_object_access_hook = object_access_hook;
	object_access_hook = pgq_object_access;
}

static void
register_xact_callback(void)
{
	if (!xact_callback_registered)
	{
		RegisterXactCallback(hooks_xact_callback, NULL);
		xact_callback_registered = true;
	}
}

/*
 * Remember to ask the launcher, once this transaction commits, to look at
 * a database again; InvalidOid asks for a pg_database rescan only.  Doing
 * it at commit means the launcher never acts on a change that may still
 * roll back, and sees the catalogs as they are after it.
 */
static void
request_recheck_at_commit(Oid dboid)
{
	int			i;

	register_xact_callback();
	if (!OidIsValid(dboid))
	{
		pending_rescan = true;
		return;
	}
	for (i = 0; i < npending_recheck; i++)
		if (pending_recheck[i] == dboid)
			return;
	if (npending_recheck < lengthof(pending_recheck))
		pending_recheck[npending_recheck++] = dboid;
	else
		pending_recheck_all = true;
}

/* Queue one database for the launcher; caller holds the lock */
static void
push_recheck(Oid dboid)
{
	PgqTickerShared *shared = pgq_ticker_shared;

	if (shared->nrecheck < PGQ_RECHECK_SLOTS)
		shared->recheck[shared->nrecheck++] = dboid;
	else
		shared->recheck_all = true;
}

/*
 * End of a transaction that had something to tell the launcher, or that
 * held a database.  Runs after commit or abort, so it must not fail: it
 * only copies a few OIDs into shared memory and sets a latch.
 *
 * A prepared transaction tells nothing when it is prepared; COMMIT
 * PREPARED makes the launcher look at every database instead (see
 * pgq_process_utility), since it may run in another session.
 */
static void
hooks_xact_callback(XactEvent event, void *arg)
{
	PgqTickerShared *shared = pgq_ticker_shared;
	int			i;

	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PREPARE)
		return;

	if (holding_database || (event == XACT_EVENT_COMMIT &&
							 (pending_rescan || pending_recheck_all ||
							  npending_recheck > 0)))
	{
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		if (holding_database)
		{
			/* also after a failed DROP: the database is served again */
			push_recheck(pgq_held_databases[MyBackendId - 1]);
			pgq_held_databases[MyBackendId - 1] = InvalidOid;
		}
		if (event == XACT_EVENT_COMMIT)
		{
			for (i = 0; i < npending_recheck; i++)
				push_recheck(pending_recheck[i]);
			if (pending_recheck_all)
				shared->recheck_all = true;
			/* a recheck of InvalidOid still makes the launcher rescan */
			if (pending_rescan)
				push_recheck(InvalidOid);
		}
		LWLockRelease(shared->lock);
		pgq_wake_launcher();
	}

	holding_database = false;
	pending_rescan = false;
	pending_recheck_all = false;
	npending_recheck = 0;
}

/*
 * Creating or dropping any extension makes the launcher look at the
 * database again.  Checking the name here would need a catalog lookup of
 * a row this command has just written; a needless recheck is cheap.  The
 * hook also fires for extensions created through CASCADE, which the
 * utility hook would not see.
 *
 * dropdb() calls the hook for the database it drops after the ownership
 * check and before it counts the other sessions there; DROP DATABASE has
 * also passed the transaction-block check by then.  So this is where it
 * holds the database: at the first point where PostgreSQL itself has
 * decided that the statement may proceed.
 */
static void
pgq_object_access(ObjectAccessType access, Oid classId, Oid objectId,
				  int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);

	if (classId == ExtensionRelationId &&
		(access == OAT_POST_CREATE || access == OAT_DROP))
		request_recheck_at_commit(MyDatabaseId);
	else if (classId == DatabaseRelationId && access == OAT_DROP)
		hold_database(objectId, true);
}

/*
 * Whether the current user has the CREATEDB attribute (superusers have
 * every attribute).  dbcommands.c has the same test, but not exported.
 */
static bool
user_has_createdb(void)
{
	HeapTuple	tup;
	bool		createdb = false;

	if (superuser())
		return true;
	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(GetUserId()));
	if (HeapTupleIsValid(tup))
	{
		createdb = ((Form_pg_authid) GETSTRUCT(tup))->rolcreatedb;
		ReleaseSysCache(tup);
	}
	return createdb;
}

/*
 * The database of that name if it exists and the current user owns it,
 * else InvalidOid.
 */
static Oid
database_owned_by_user(const char *dbname)
{
	Oid			dboid = get_database_oid(dbname, true);

	if (OidIsValid(dboid) && pg_database_ownercheck(dboid, GetUserId()))
		return dboid;
	return InvalidOid;
}

/*
 * Whether the current user may copy the database: its owner can, and
 * anyone allowed to create databases can copy one marked as a template.
 */
static bool
user_may_copy_database(Oid dboid)
{
	HeapTuple	tup;
	bool		istemplate = false;

	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
	if (HeapTupleIsValid(tup))
	{
		istemplate = ((Form_pg_database) GETSTRUCT(tup))->datistemplate;
		ReleaseSysCache(tup);
	}
	return istemplate || pg_database_ownercheck(dboid, GetUserId());
}

/*
 * The database a utility statement other than DROP DATABASE will need
 * without other sessions, if PostgreSQL 15 lets the current user run it
 * here; InvalidOid otherwise.  dbcommands.c offers no hook after its checks
 * for these statements, so the checks that decide who may run them where
 * are repeated: ownership, CREATEDB, the template flag, and the rule that
 * SET TABLESPACE and CREATE DATABASE run only at top level outside a
 * transaction block (IsInTransactionBlock() tests exactly what
 * PreventInTransactionBlock() enforces).  Checks that only a user who
 * passed these can fail (new name taken, tablespace privileges, encodings)
 * are left to PostgreSQL: such a user owns the database or may copy it,
 * and so can stop the worker anyway by a statement that succeeds.
 */
static Oid
database_needing_exclusive_use(Node *parsetree, bool isTopLevel)
{
	const char *dbname = NULL;
	Oid			dboid;
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_RenameStmt:
			{
				RenameStmt *stmt = (RenameStmt *) parsetree;

				if (stmt->renameType != OBJECT_DATABASE || !user_has_createdb())
					return InvalidOid;
				return database_owned_by_user(stmt->subname);
			}
		case T_AlterDatabaseStmt:
			{
				AlterDatabaseStmt *stmt = (AlterDatabaseStmt *) parsetree;
				DefElem    *opt;

				/* SET TABLESPACE allows no other option */
				if (list_length(stmt->options) != 1)
					return InvalidOid;
				opt = linitial_node(DefElem, stmt->options);
				if (strcmp(opt->defname, "tablespace") != 0 ||
					IsInTransactionBlock(isTopLevel))
					return InvalidOid;
				return database_owned_by_user(stmt->dbname);
			}
		case T_CreatedbStmt:
			foreach(lc, ((CreatedbStmt *) parsetree)->options)
			{
				DefElem    *opt = lfirst_node(DefElem, lc);

				if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
					dbname = defGetString(opt);
			}
			/* without a template it copies template1, which has no worker */
			if (dbname == NULL || IsInTransactionBlock(isTopLevel) ||
				!user_has_createdb())
				return InvalidOid;
			dboid = get_database_oid(dbname, true);
			if (OidIsValid(dboid) && user_may_copy_database(dboid))
				return dboid;
			return InvalidOid;
		default:
			return InvalidOid;
	}
}

/*
 * Stop the worker of a slot: no worker started for the current generation
 * may take the slot up any more, and one that already runs gets SIGTERM.
 * Its pid is cleared under the lock before the process exits, so a pid
 * read under the lock belongs to our worker.  Caller holds the lock
 * exclusively.
 */
void
pgq_stop_worker(PgqDbSlot *slot)
{
	slot->stop_requested = true;
	slot->generation++;
	if (slot->pid != 0)
	{
		slot->state = PGQ_WORKER_STOPPING;
		kill(slot->pid, SIGTERM);
	}
}

/*
 * Keep our worker out of a database for the rest of this transaction:
 * stop the worker there, if any, and wait until its process has left.  If
 * it does not go in time the statement proceeds anyway and reports the
 * database as being in use, as it would for any other session.  (The
 * process detaches from its slot a moment before it leaves the database;
 * the statement's own wait for other sessions covers that moment.)
 *
 * With db_locked the caller holds the database's lock, which a connecting
 * process must get before it shows as being in the database: a worker not
 * in it yet is then stuck behind our lock and cannot count as another
 * session, so it is not waited for.
 */
static void
hold_database(Oid dboid, bool db_locked)
{
	PgqTickerShared *shared = pgq_ticker_shared;
	TimestampTz give_up;

	if (MyBackendId == InvalidBackendId)
		return;

	register_xact_callback();
	give_up = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), HOLD_WAIT_MS);
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	pgq_held_databases[MyBackendId - 1] = dboid;
	holding_database = true;
	for (;;)
	{
		bool		running = false;
		int			i;

		for (i = 0; i < shared->nslots; i++)
		{
			PgqDbSlot  *slot = &shared->slots[i];

			if (slot->dboid != dboid)
				continue;
			if (!slot->stop_requested)
				pgq_stop_worker(slot);
			running = (slot->pid != 0 &&
					   !(db_locked && slot->proc != NULL &&
						 slot->proc->databaseId != dboid));
		}
		LWLockRelease(shared->lock);

		if (!running || GetCurrentTimestamp() >= give_up)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	}
	pgq_wake_launcher();
}

static void
pgq_process_utility(PlannedStmt *pstmt, const char *queryString,
					bool readOnlyTree, ProcessUtilityContext context,
					ParamListInfo params, QueryEnvironment *queryEnv,
					DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	Oid			dboid;

	dboid = database_needing_exclusive_use(parsetree,
										   context == PROCESS_UTILITY_TOPLEVEL);
	if (OidIsValid(dboid))
		hold_database(dboid, false);
	if (IsA(parsetree, CreatedbStmt) || IsA(parsetree, AlterDatabaseStmt))
		request_recheck_at_commit(InvalidOid);
	else if (IsA(parsetree, TransactionStmt) &&
			 ((TransactionStmt *) parsetree)->kind == TRANS_STMT_COMMIT_PREPARED)
	{
		register_xact_callback();
		pending_recheck_all = true;
	}

	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/* ----------------------------------------------------------------------
 * The launcher
 * ----------------------------------------------------------------------
 */

void
pgq_register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* never on a hot standby: there is nothing a ticker could write */
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = LAUNCHER_RESTART_SECONDS;
	strlcpy(worker.bgw_library_name, "pgq", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgq_launcher_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "pgq launcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "pgq launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

static void
launcher_detach(int code, Datum arg)
{
	LWLockAcquire(pgq_ticker_shared->lock, LW_EXCLUSIVE);
	pgq_ticker_shared->launcher_proc = NULL;
	LWLockRelease(pgq_ticker_shared->lock);
}

/*
 * Whether pgq.ticker_databases lets us serve this database.
 */
static bool
database_wanted(const char *datname)
{
	char	   *rawstring;
	List	   *names;
	ListCell   *lc;
	bool		wanted = false;

	if (pgq_ticker_databases == NULL || pgq_ticker_databases[0] == '\0')
		return true;

	rawstring = pstrdup(pgq_ticker_databases);
	/* the check hook has accepted the value */
	(void) SplitGUCList(rawstring, ',', &names);
	foreach(lc, names)
	{
		if (strcmp((char *) lfirst(lc), datname) == 0)
		{
			wanted = true;
			break;
		}
	}
	list_free(names);
	pfree(rawstring);
	return wanted;
}

/*
 * Read pg_database and bring launcher_dbs in line with it: every
 * connectable non-template database that pgq.ticker_databases admits is
 * "seen"; entries for databases gone from the list are removed.
 */
static void
scan_databases(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	HASH_SEQ_STATUS status;
	LauncherDb *entry;

	hash_seq_init(&status, launcher_dbs);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->seen = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	pgstat_report_activity(STATE_RUNNING, "scanning pg_database");

	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		bool		found;

		if (db->datistemplate || !db->datallowconn ||
			database_is_invalid_form(db) ||
			!database_wanted(NameStr(db->datname)))
			continue;

		entry = hash_search(launcher_dbs, &db->oid, HASH_ENTER, &found);
		if (!found)
		{
			entry->no_pgq = false;
			entry->rechecks = 0;
		}
		entry->datname = db->datname;
		entry->seen = true;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);

	CommitTransactionCommand();
	MemoryContextSwitchTo(launcher_cxt);
	pgstat_report_activity(STATE_IDLE, NULL);

	hash_seq_init(&status, launcher_dbs);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (!entry->seen)
			hash_search(launcher_dbs, &entry->dboid, HASH_REMOVE, NULL);
}

/*
 * Take the databases backends asked us to look at again.  Forget that
 * they had no pgq, poke their workers (so they re-check the extension),
 * let workers waiting for a restart try now, and rescan pg_database.
 */
static void
take_rechecks(void)
{
	PgqTickerShared *shared = pgq_ticker_shared;
	Oid			dbs[PGQ_RECHECK_SLOTS];
	int			ndbs;
	bool		all;
	int			i;
	int			j;
	LauncherDb *entry;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	ndbs = shared->nrecheck;
	memcpy(dbs, shared->recheck, ndbs * sizeof(Oid));
	all = shared->recheck_all;
	shared->nrecheck = 0;
	shared->recheck_all = false;

	for (j = 0; j < shared->nslots && (ndbs > 0 || all); j++)
	{
		PgqDbSlot  *slot = &shared->slots[j];
		bool		poke = all;

		if (!OidIsValid(slot->dboid))
			continue;
		for (i = 0; i < ndbs && !poke; i++)
			poke = (dbs[i] == slot->dboid);
		if (poke)
		{
			slot->restart_at = 0;
			slot->failures = 0;
			if (slot->proc != NULL)
				SetLatch(&slot->proc->procLatch);
		}
	}
	LWLockRelease(shared->lock);

	if (ndbs == 0 && !all)
		return;
	rescan_requested = true;

	if (all)
	{
		HASH_SEQ_STATUS status;

		hash_seq_init(&status, launcher_dbs);
		while ((entry = hash_seq_search(&status)) != NULL)
		{
			entry->no_pgq = false;
			entry->rechecks++;
		}
	}
	for (i = 0; i < ndbs; i++)
	{
		if (!OidIsValid(dbs[i]))
			continue;
		entry = hash_search(launcher_dbs, &dbs[i], HASH_FIND, NULL);
		if (entry != NULL)
		{
			entry->no_pgq = false;
			entry->rechecks++;
		}
	}
}

/* Caller holds the lock */
static bool
database_is_held(Oid dboid)
{
	int			i;

	for (i = 0; i < MaxBackends; i++)
		if (pgq_held_databases[i] == dboid)
			return true;
	return false;
}

/*
 * Forget a slot's database.  The generation stays: it must never repeat
 * for a slot while a worker started for an old one might still come up.
 * Caller holds the lock.
 */
static void
free_slot(int slotno)
{
	PgqDbSlot  *slot = &pgq_ticker_shared->slots[slotno];

	slot->dboid = InvalidOid;
	slot->stop_requested = false;
	slot->pid = 0;
	slot->proc = NULL;
	slot->last_error[0] = '\0';
	pgq_wakeup_reset_slot(slot);
	if (worker_handles[slotno] != NULL)
	{
		pfree(worker_handles[slotno]);
		worker_handles[slotno] = NULL;
	}
}

/*
 * Look at every slot: free the slots whose worker is gone for good,
 * schedule restarts for workers that died, and stop workers that must not
 * run (ticker disabled, database dropped, unlisted or without pgq, held).
 */
static void
reap_and_stop_workers(TimestampTz now)
{
	PgqTickerShared *shared = pgq_ticker_shared;
	bool		freed_bgworker = false;
	int			i;

	for (i = 0; i < shared->nslots; i++)
	{
		PgqDbSlot  *slot = &shared->slots[i];
		LauncherDb *entry;
		bool		wanted;
		bool		exited = false;
		pid_t		pid;

		if (!OidIsValid(slot->dboid))
			continue;

		entry = hash_search(launcher_dbs, &slot->dboid, HASH_FIND, NULL);
		wanted = pgq_ticker_enabled && entry != NULL && !entry->no_pgq;

		if (worker_handles[i] != NULL)
		{
			BgwHandleStatus status = GetBackgroundWorkerPid(worker_handles[i], &pid);

			if (status == BGWH_POSTMASTER_DIED)
				proc_exit(1);
			exited = (status == BGWH_STOPPED);
		}

		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		if (database_is_held(slot->dboid) || slot->stop_requested)
			wanted = false;
		if (exited)
		{
			pfree(worker_handles[i]);
			worker_handles[i] = NULL;
			freed_bgworker = true;
			/*
			 * "No pgq" is believed only if nobody asked us to look again
			 * since the worker started: it may have checked just before a
			 * CREATE EXTENSION committed.  Then the slot is freed and the
			 * database tried again at once.
			 */
			if (slot->state == PGQ_WORKER_NO_EXTENSION)
			{
				if (entry != NULL && entry->rechecks == worker_rechecks[i])
					entry->no_pgq = true;
			}
			else if (wanted && slot->state != PGQ_WORKER_STOPPING)
			{
				/* died, or was terminated by hand: restart after a delay */
				long		delay;

				if (slot->started_at != 0 &&
					TimestampDifferenceExceeds(slot->started_at, now, HEALTHY_RUN_MS))
					slot->failures = 0;
				delay = (long) RESTART_DELAY_MIN_MS << Min(slot->failures, 6);
				slot->failures++;
				slot->restart_at = TimestampTzPlusMilliseconds(now,
															   Min(delay, RESTART_DELAY_MAX_MS));
				slot->state = PGQ_WORKER_RESTARTING;
				slot->pid = 0;
				slot->proc = NULL;
				LWLockRelease(shared->lock);
				continue;
			}
			free_slot(i);
		}
		else if (!wanted)
		{
			if (!slot->stop_requested)
				pgq_stop_worker(slot);
			if (worker_handles[i] != NULL)
				TerminateBackgroundWorker(worker_handles[i]);
			else if (slot->pid == 0)
				free_slot(i);	/* nothing runs here */
		}
		LWLockRelease(shared->lock);
	}

	/* a background worker slot was freed: whoever waits for one, try now */
	if (freed_bgworker)
	{
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		for (i = 0; i < shared->nslots; i++)
			if (shared->slots[i].state == PGQ_WORKER_NO_BGWORKER)
				shared->slots[i].restart_at = 0;
		LWLockRelease(shared->lock);
	}
}

/*
 * Re-read one database after claiming a slot for it: it may have been
 * dropped, renamed or closed to connections since the last scan.
 */
static bool
database_still_usable(Oid dboid)
{
	HeapTuple	tup;
	bool		usable = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dboid));
	if (HeapTupleIsValid(tup))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		usable = !db->datistemplate && db->datallowconn &&
			!database_is_invalid_form(db);
		ReleaseSysCache(tup);
	}
	CommitTransactionCommand();
	MemoryContextSwitchTo(launcher_cxt);
	return usable;
}

/*
 * Register the worker of a claimed slot.  When no background worker slot
 * is free, say so once and try again later.
 */
static void
register_worker(int slotno, uint64 rechecks, TimestampTz now)
{
	PgqTickerShared *shared = pgq_ticker_shared;
	PgqDbSlot  *slot = &shared->slots[slotno];
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	PgqWorkerArgs args;
	MemoryContext oldcxt;
	bool		registered;

	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	if (slot->stop_requested)
	{
		/* a holder got here first; the slot is freed by the next reap */
		LWLockRelease(shared->lock);
		return;
	}
	args.dboid = slot->dboid;
	args.generation = ++slot->generation;
	slot->state = PGQ_WORKER_STARTING;
	LWLockRelease(shared->lock);

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "pgq", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgq_ticker_worker_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "pgq ticker for database %s",
			 NameStr(slot->datname));
	strlcpy(worker.bgw_type, "pgq ticker", BGW_MAXLEN);
	worker.bgw_main_arg = Int32GetDatum(slotno);
	memcpy(worker.bgw_extra, &args, sizeof(args));
	worker.bgw_notify_pid = MyProcPid;

	/* the handle outlives this loop's memory context */
	oldcxt = MemoryContextSwitchTo(TopMemoryContext);
	registered = RegisterDynamicBackgroundWorker(&worker, &handle);
	MemoryContextSwitchTo(oldcxt);
	if (!registered)
	{
		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		slot->state = PGQ_WORKER_NO_BGWORKER;
		slot->restart_at = TimestampTzPlusMilliseconds(now, BGWORKER_RETRY_MS);
		LWLockRelease(shared->lock);
		if (!bgworkers_full_logged)
			ereport(LOG,
					(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
					 errmsg("could not start pgq ticker for database \"%s\": no free background worker slot",
							NameStr(slot->datname)),
					 errdetail("The launcher keeps trying every %d seconds; this is not reported again until no database is waiting.",
							   BGWORKER_RETRY_MS / 1000),
					 errhint("Raise max_worker_processes (currently %d).",
							 max_worker_processes)));
		else
			ereport(DEBUG1,
					(errmsg_internal("pgq launcher: still no free background worker slot for database \"%s\"",
									 NameStr(slot->datname))));
		bgworkers_full_logged = true;
		return;
	}
	worker_handles[slotno] = handle;
	worker_rechecks[slotno] = rechecks;
}

/*
 * Start a worker for every database that should have one and has none,
 * and restart those whose delay has passed.
 */
static void
start_workers(TimestampTz now)
{
	PgqTickerShared *shared = pgq_ticker_shared;
	HASH_SEQ_STATUS status;
	LauncherDb *entry;
	List	   *candidates = NIL;
	ListCell   *lc;
	bool		short_of_slots = false;
	bool		waiting;
	int			i;

	if (!pgq_ticker_enabled)
		return;

	for (i = 0; i < shared->nslots; i++)
	{
		PgqDbSlot  *slot = &shared->slots[i];

		if (OidIsValid(slot->dboid) && worker_handles[i] == NULL &&
			slot->pid == 0 && !slot->stop_requested && slot->restart_at <= now)
		{
			entry = hash_search(launcher_dbs, &slot->dboid, HASH_FIND, NULL);
			register_worker(i, entry ? entry->rechecks : 0, now);
		}
	}

	/*
	 * Collect the candidates first: checking a database runs a transaction,
	 * and a hash table scan must not stay open across one.
	 */
	hash_seq_init(&status, launcher_dbs);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (!entry->no_pgq)
			candidates = lappend(candidates, entry);

	foreach(lc, candidates)
	{
		int			slotno = -1;
		bool		served = false;
		bool		held;

		entry = lfirst(lc);

		LWLockAcquire(shared->lock, LW_EXCLUSIVE);
		for (i = 0; i < shared->nslots; i++)
		{
			if (shared->slots[i].dboid == entry->dboid)
				served = true;
			else if (!OidIsValid(shared->slots[i].dboid) && slotno < 0)
				slotno = i;
		}
		held = database_is_held(entry->dboid);
		if (!served && !held && slotno >= 0)
		{
			PgqDbSlot  *slot = &shared->slots[slotno];

			free_slot(slotno);
			slot->dboid = entry->dboid;
			slot->datname = entry->datname;
			slot->state = PGQ_WORKER_STARTING;
			slot->failures = 0;
			slot->restart_at = 0;
			slot->started_at = 0;
			slot->last_tick_time = 0;
			slot->last_maint_time = 0;
			slot->last_retry_time = 0;
			slot->last_error_time = 0;
		}
		LWLockRelease(shared->lock);

		if (served || held)
			continue;
		if (slotno < 0)
		{
			if (!slots_full_logged)
				ereport(LOG,
						(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						 errmsg("pgq ticker limit of %d databases reached", pgq_max_workers),
						 errdetail("Database \"%s\" is not ticked; this is not reported again until every database has been served.",
								   NameStr(entry->datname)),
						 errhint("Raise pgq.max_workers.")));
			slots_full_logged = true;
			short_of_slots = true;
			break;
		}

		if (!database_still_usable(entry->dboid))
		{
			LWLockAcquire(shared->lock, LW_EXCLUSIVE);
			free_slot(slotno);
			LWLockRelease(shared->lock);
			rescan_requested = true;
			continue;
		}
		register_worker(slotno, entry->rechecks, now);
	}

	/*
	 * Each shortage is reported once: not again while it lasts, even if
	 * slots come and go meanwhile (probes of databases without pgq end
	 * quickly, for one).
	 */
	if (!short_of_slots)
		slots_full_logged = false;
	waiting = false;
	LWLockAcquire(shared->lock, LW_SHARED);
	for (i = 0; i < shared->nslots; i++)
		if (OidIsValid(shared->slots[i].dboid) &&
			shared->slots[i].state == PGQ_WORKER_NO_BGWORKER)
			waiting = true;
	LWLockRelease(shared->lock);
	if (!waiting)
		bgworkers_full_logged = false;
}

/*
 * Sleep until the next pg_database scan or the next pending restart.
 */
static long
next_timeout(TimestampTz now, TimestampTz next_scan)
{
	PgqTickerShared *shared = pgq_ticker_shared;
	TimestampTz wake = next_scan;
	int			i;

	LWLockAcquire(shared->lock, LW_SHARED);
	for (i = 0; i < shared->nslots; i++)
	{
		PgqDbSlot  *slot = &shared->slots[i];

		if (OidIsValid(slot->dboid) && worker_handles[i] == NULL &&
			slot->pid == 0 && !slot->stop_requested && slot->restart_at < wake)
			wake = slot->restart_at;
	}
	LWLockRelease(shared->lock);

	return (long) TimestampDifferenceMilliseconds(now, wake);
}

void
pgq_launcher_main(Datum main_arg)
{
	PgqTickerShared *shared = pgq_ticker_shared;
	HASHCTL		ctl;
	TimestampTz next_scan = 0;
	int			i;

	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	before_shmem_exit(launcher_detach, (Datum) 0);

	/*
	 * Workers left by a previous launcher (one that was terminated; a crash
	 * resets shared memory) are stopped: we have no handles to watch them
	 * with.  Their slots are freed once their processes are gone, and the
	 * databases get new workers then.
	 */
	LWLockAcquire(shared->lock, LW_EXCLUSIVE);
	shared->launcher_proc = MyProc;
	for (i = 0; i < shared->nslots; i++)
		if (OidIsValid(shared->slots[i].dboid))
			pgq_stop_worker(&shared->slots[i]);
	LWLockRelease(shared->lock);

	/* pg_database is a shared catalog: no database connection needed */
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	launcher_cxt = AllocSetContextCreate(TopMemoryContext, "pgq launcher",
										 ALLOCSET_DEFAULT_SIZES);
	worker_handles = MemoryContextAllocZero(TopMemoryContext,
											shared->nslots * sizeof(BackgroundWorkerHandle *));
	worker_rechecks = MemoryContextAllocZero(TopMemoryContext,
											 shared->nslots * sizeof(uint64));
	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(LauncherDb);
	launcher_dbs = hash_create("pgq launcher databases", 64, &ctl,
							   HASH_ELEM | HASH_BLOBS);

	while (!ShutdownRequestPending)
	{
		TimestampTz now;

		MemoryContextSwitchTo(launcher_cxt);
		MemoryContextReset(launcher_cxt);

		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			/* pgq.ticker_databases may have changed */
			rescan_requested = true;
		}

		take_rechecks();
		now = GetCurrentTimestamp();
		if (rescan_requested || now >= next_scan)
		{
			rescan_requested = false;
			scan_databases();
			now = GetCurrentTimestamp();
			next_scan = TimestampTzPlusMilliseconds(now, pgq_discovery_period * 1000L);
		}
		reap_and_stop_workers(now);
		start_workers(now);

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 next_timeout(GetCurrentTimestamp(), next_scan),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		/* absorbs ProcSignalBarriers, which DROP DATABASE waits for */
		CHECK_FOR_INTERRUPTS();
	}

	/*
	 * Exit code 1 so that the postmaster starts a new launcher after
	 * bgw_restart_time if we were terminated by hand; at shutdown it does
	 * not matter.  Our workers get their own SIGTERM from the postmaster at
	 * shutdown; otherwise they keep ticking until the next launcher
	 * replaces them.
	 */
	proc_exit(1);
}

/* ----------------------------------------------------------------------
 * pgq.ticker_status()
 * ----------------------------------------------------------------------
 */

/*
 * One row per database the in-server ticker serves, from shared memory.
 * No rows when pgq is not preloaded.
 */
Datum
pgq_ticker_status(PG_FUNCTION_ARGS)
{
#define STATUS_COLS 8
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PgqTickerShared *shared = pgq_ticker_shared;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (shared == NULL)
		PG_RETURN_VOID();

	LWLockAcquire(shared->lock, LW_SHARED);
	for (i = 0; i < shared->nslots; i++)
	{
		PgqDbSlot  *slot = &shared->slots[i];
		Datum		values[STATUS_COLS];
		bool		nulls[STATUS_COLS];

		if (!OidIsValid(slot->dboid))
			continue;

		memset(nulls, 0, sizeof(nulls));
		values[0] = NameGetDatum(&slot->datname);
		values[1] = Int32GetDatum(slot->pid);
		nulls[1] = (slot->pid == 0);
		values[2] = CStringGetTextDatum(pgq_worker_state_name(slot->state));
		values[3] = TimestampTzGetDatum(slot->last_tick_time);
		nulls[3] = (slot->last_tick_time == 0);
		values[4] = TimestampTzGetDatum(slot->last_maint_time);
		nulls[4] = (slot->last_maint_time == 0);
		values[5] = TimestampTzGetDatum(slot->last_retry_time);
		nulls[5] = (slot->last_retry_time == 0);
		values[6] = CStringGetTextDatum(slot->last_error);
		nulls[6] = (slot->last_error[0] == '\0');
		values[7] = TimestampTzGetDatum(slot->last_error_time);
		nulls[7] = (slot->last_error_time == 0);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	LWLockRelease(shared->lock);

	PG_RETURN_VOID();
#undef STATUS_COLS
}
