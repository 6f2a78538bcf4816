/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The per-database ticker worker: ticks the queues of one database when
 *	  they are due and runs the maintenance pgqd would run there.
 *
 * The worker loops over rounds.  A round reads every queue's settings, its
 * last two ticks and its event sequence in one query, and computes when
 * the queue will next need a tick by the rules of pgq.ticker() if nothing
 * else happens.  Queues that are due get ticked, each in its own
 * transaction; the decision itself is still taken by the tick code under
 * the queue's row lock (src/pgq/tick.c), so our computation only decides when
 * to ask.  Then the worker arms the producer wakeups (wakeup.c) and sleeps
 * until the earliest deadline, a wakeup, or pgq.ticker_period at most.
 * Early ticks (by count or lag) are cut only while some consumer waits at
 * the head of the queue; a queue whose consumers are all behind is ticked
 * at pgqd's cadence instead, so that a backlog goes out in large batches
 * (pgq.ticker_coalesce, see read_queues_unit()).
 *
 * Maintenance is the same as pgqd's: pgq.maint_retry_events() every
 * pgq.retry_period, repeated while it returns non-zero, and every
 * pgq.maint_period the rows of pgq.maint_operations(), each a function
 * call repeated while it returns a non-zero integer, or a VACUUM.  Each
 * call is one unit of work in its own transaction, so step 2 of a rotation
 * always commits after step 1.  Units are queued and run one per round,
 * between tick rounds, so that a long maintenance list never holds up
 * ticks by more than one unit.
 *
 * A failing unit is logged with the database and queue, recorded for
 * pgq.ticker_status(), and retried later; other queues and steps go on.
 * While locks are held by others the worker waits at most
 * WORKER_LOCK_TIMEOUT for them, and it skips a queue whose row another
 * ticker (pgqd) has locked, so a stuck session cannot stall the database's
 * ticks for long.
 *
 * The worker connects as the bootstrap superuser but never runs SQL with
 * that identity.  Each unit of work runs as the role pgq.ticker_role names
 * (pgq_admin by default), or with the rights of what it stands for:
 *	- reading the queues and ticking are what pgq.ticker() does, and run as
 *	  the owner of pgq.ticker(), provided the ticker role may call it;
 *	- every maintenance call runs as the ticker role itself, which must not
 *	  be a superuser unless pgq.ticker_allow_superuser says so; a function
 *	  named by pgq.maint_operations() is called only when it belongs to an
 *	  installed extension or is owned by a superuser or a role whose rights
 *	  the ticker role has, and never from a temporary schema;
 *	- VACUUM of a table that belongs to an extension runs as the table's
 *	  owner (as autovacuum would); of any other table as the ticker role.
 * So a queue's settings make the worker do no more than the ticker role
 * could do by calling pgq.maint_operations() and pgq.ticker() itself.  The
 * identity switch forbids SET ROLE and SET SESSION AUTHORIZATION, and every
 * unit runs with search_path = pg_catalog, pg_temp, whatever the database's
 * settings say; settings a maintenance function changes are undone after
 * it.  See doc/ticker.md.
 *
 * The worker exits quietly (exit code 0, nothing logged) when asked to
 * stop by the launcher or a DROP DATABASE, at shutdown, when the ticker is
 * disabled, and when the pgq extension is not (or no longer) installed.
 *
 * A database whose pgq has another version than this library (the
 * original PgQ 3.5 after our packages replaced it, before ALTER EXTENSION
 * pgq UPDATE) is left alone: its functions may need the original's
 * libraries, which are gone, and its tables need not be what our tick code
 * expects.  The worker logs that once, then only looks at the version
 * every pgq.ticker_period until it is ours, and starts from there.
 *
 * src/ticker/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "access/genam.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type_d.h"
#include "commands/extension.h"
#include "commands/vacuum.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "parser/parse_node.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "pgq.h"
#include "ticker_shared.h"

/* longest wait for a lock held by another session, per unit of work */
#define WORKER_LOCK_TIMEOUT "5s"

/*
 * A queue the tick code declined (another ticker had it locked, or it
 * stopped being due) is asked again this much later, not in a busy loop.
 */
#define DECLINED_RETRY_MS 100

/* a failed unit is tried again after this long (pgqd: 10 s reconnect) */
#define FAILED_RETRY_MS 10000

/*
 * Floors under the spacing of one queue's ticks, whatever its settings say
 * (ticker_max_lag = 0 and ticker_idle_period = 0 would otherwise tick an
 * idle queue in a loop): a queue with events waiting is ticked at most
 * every MIN_BUSY_TICK_SPACING_MS, an idle one at most every
 * pgq.ticker_period, the period at which pgqd calls pgq.ticker().
 */
#define MIN_BUSY_TICK_SPACING_MS 10

/*
 * While no consumer waits for a queue's next tick but one is a batch away
 * from the head, the worker looks at the queues this often to see it get
 * there: consumers do not wake it.  A twentieth of the default
 * pgq.ticker_period, and below what a client pays per batch anyway.
 */
#define CATCH_UP_LOOK_MS 50

/* what every unit of work resolves names through */
#define WORKER_SEARCH_PATH "pg_catalog, pg_temp"

/* One queue as a round sees it */
typedef struct QueueView
{
	int32		queue_id;
	char	   *name;
	bool		skip;			/* paused or externally ticked */
	TimestampTz due;			/* when it needs a tick if nothing changes */
	int64		headroom;		/* committed events that would change "due",
								 * 0 if none would */
	bool		watch;			/* a consumer may catch up any moment */
} QueueView;

/* Queues not to be asked before a given time, kept across rounds */
typedef struct QueueBackoff
{
	int32		queue_id;		/* hash key */
	TimestampTz until;
} QueueBackoff;

typedef enum MaintKind
{
	MAINT_RETRY,				/* pgq.maint_retry_events() */
	MAINT_LIST,					/* read pgq.maint_operations() */
	MAINT_CALL,					/* SELECT func(arg) */
	MAINT_VACUUM				/* VACUUM [ANALYZE] table */
} MaintKind;

typedef struct MaintOp
{
	MaintKind	kind;
	char	   *func;
	char	   *arg;			/* may be NULL for MAINT_CALL */
	bool		analyze;		/* MAINT_VACUUM */
} MaintOp;

/* Arguments and results of the units of work */
/* What a database has of the pgq extension */
typedef enum ExtensionState
{
	EXTENSION_ABSENT,
	EXTENSION_OTHER_VERSION,
	EXTENSION_CURRENT
} ExtensionState;

typedef struct ReadQueuesArgs
{
	List	   *queues;
	ExtensionState extension;
	int32		max_queue_id;
} ReadQueuesArgs;

typedef struct TickArgs
{
	const char *queue_name;
	bool		ticked;
} TickArgs;

typedef struct MaintArgs
{
	MaintOp    *op;
	bool		repeat;			/* the call asked to be made again */
} MaintArgs;

typedef void (*UnitFunction) (void *arg);

/* set while a unit of work runs, for the SIGTERM handler */
static volatile sig_atomic_t in_unit = false;

static PgqDbSlot *my_slot = NULL;
static Oid	my_dboid = InvalidOid;

/* the identity the worker connected with, restored after every unit */
static Oid	worker_userid = InvalidOid;
static int	worker_sec_context = 0;

static MemoryContext round_cxt = NULL;	/* reset at every round */
static MemoryContext maint_cxt = NULL;	/* the pending maintenance units */
static MemoryContext vacuum_cxt = NULL; /* PortalContext for VACUUM */
static List *maint_ops = NIL;
static bool maint_round_running = false;
static HTAB *backoffs = NULL;
static SPIPlanPtr plan_queues = NULL;

static void worker_sigterm(SIGNAL_ARGS);
static void worker_detach(int code, Datum arg);
static void set_state(PgqWorkerState state);
static void exit_quietly(PgqWorkerState state) pg_attribute_noreturn();
static void stop_if_asked(void);
static ExtensionState extension_state(char **version);
static bool extension_ready(void);
static void report_failure(const char *what, ErrorData *edata);
static Oid	ticker_role(bool for_maintenance);
static Oid	tick_rights(void);
static int	enter_role(Oid roleid);
static void leave_role(int nestlevel);
static Oid	maint_function(const char *qualified_name, bool has_arg, Oid roleid);
static bool run_unit(UnitFunction fn, void *arg, const char *activity,
					 const char *what);
static TimestampTz queue_deadline(TimestampTz now, bool has_last,
								  TimestampTz last_time, int64 pending,
								  bool has_prev, TimestampTz prev_time,
								  int32 max_count, int64 max_lag,
								  int64 idle_period);
static void read_queues_unit(void *arg);
static void tick_unit(void *arg);
static void maint_unit(void *arg);
static void vacuum_table(const char *table, bool analyze);
static TimestampTz backoff_until(int32 queue_id);
static void set_backoff(int32 queue_id, TimestampTz until);
static void expire_backoffs(TimestampTz now);
static bool tick_round(List *queues, TimestampTz now);
static void run_one_maint_op(void);
static void queue_maint_op(MaintKind kind, const char *func, const char *arg,
						   bool analyze);
static TimestampTz next_wakeup(List *queues, TimestampTz now,
							   TimestampTz next_retry, TimestampTz next_maint);

/*
 * SIGTERM: from the postmaster at shutdown, from the launcher or a DROP
 * DATABASE through TerminateBackgroundWorker(), or from
 * pg_terminate_backend().  Unlike die() this does not end the process with
 * a FATAL message: the main loop exits quietly.  A unit of work in
 * progress is cancelled so that shutdown stays prompt even when it waits
 * for a lock; the cancellation is caught like any error of the unit.
 */
static void
worker_sigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	ShutdownRequestPending = true;
	if (in_unit)
	{
		InterruptPending = true;
		QueryCancelPending = true;
	}
	SetLatch(MyLatch);
	errno = save_errno;
}

/*
 * Leave the slot to the launcher, and wake it so that it sees the exit
 * without waiting for the postmaster's notification (which goes to the
 * launcher that started us, possibly an earlier one).
 */
static void
worker_detach(int code, Datum arg)
{
	LWLockAcquire(pgq_ticker_shared->lock, LW_EXCLUSIVE);
	my_slot->pid = 0;
	my_slot->proc = NULL;
	LWLockRelease(pgq_ticker_shared->lock);
	pgq_wake_launcher();
}

static void
set_state(PgqWorkerState state)
{
	LWLockAcquire(pgq_ticker_shared->lock, LW_EXCLUSIVE);
	my_slot->state = state;
	LWLockRelease(pgq_ticker_shared->lock);
}

static void
exit_quietly(PgqWorkerState state)
{
	set_state(state);
	proc_exit(0);
}

static void
stop_if_asked(void)
{
	if (ShutdownRequestPending || my_slot->stop_requested)
		exit_quietly(PGQ_WORKER_STOPPING);
	if (ConfigReloadPending)
	{
		ConfigReloadPending = false;
		ProcessConfigFile(PGC_SIGHUP);
		if (!pgq_ticker_enabled)
			exit_quietly(PGQ_WORKER_STOPPING);
	}
}

/*
 * Whether pgq is installed in our database, and with this library's
 * version.  Runs in the caller's transaction; *version, if wanted, gets
 * the installed version in round_cxt (NULL when absent).
 */
static ExtensionState
extension_state(char **version)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	ExtensionState state = EXTENSION_ABSENT;

	if (version)
		*version = NULL;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("pgq"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);
		char	   *installed = isnull ? "" : TextDatumGetCString(d);

		state = strcmp(installed, PGQ_EXTENSION_VERSION) == 0 ?
			EXTENSION_CURRENT : EXTENSION_OTHER_VERSION;
		if (version)
			*version = MemoryContextStrdup(round_cxt, installed);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return state;
}

/* extension_state() in a transaction of its own */
static ExtensionState
extension_state_now(char **version)
{
	ExtensionState state;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	state = extension_state(version);
	CommitTransactionCommand();
	MemoryContextSwitchTo(round_cxt);
	return state;
}

/*
 * Whether the worker may serve its database now.  Leaves quietly when pgq
 * is gone.  Another version is logged once per worker, and the start of
 * service once it has been updated.
 */
static bool
extension_ready(void)
{
	static bool waiting = false;
	ExtensionState state;
	char	   *version;

	state = extension_state_now(&version);
	if (state == EXTENSION_ABSENT)
		exit_quietly(PGQ_WORKER_NO_EXTENSION);
	if (state == EXTENSION_OTHER_VERSION)
	{
		if (!waiting)
			ereport(LOG,
					(errmsg("pgq ticker is waiting for extension pgq to be updated in database \"%s\"",
							NameStr(my_slot->datname)),
					 errdetail("The database has pgq version %s, the ticker needs version %s.",
							   version, PGQ_EXTENSION_VERSION),
					 errhint("Run ALTER EXTENSION pgq UPDATE in that database.")));
		waiting = true;
		set_state(PGQ_WORKER_OTHER_VERSION);
		return false;
	}
	if (waiting)
		ereport(LOG,
				(errmsg("pgq ticker starts in database \"%s\" with pgq version %s",
						NameStr(my_slot->datname), version)));
	waiting = false;
	return true;
}

/*
 * Log a failed unit of work and record it for pgq.ticker_status().  An
 * error caused by our own shutdown, or by the extension being dropped
 * under us, is not worth a log line: we just leave.
 */
static void
report_failure(const char *what, ErrorData *edata)
{
	if (ShutdownRequestPending || my_slot->stop_requested)
		exit_quietly(PGQ_WORKER_STOPPING);
	if (extension_state_now(NULL) == EXTENSION_ABSENT)
		exit_quietly(PGQ_WORKER_NO_EXTENSION);

	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("pgq ticker could not %s in database \"%s\": %s",
					what, NameStr(my_slot->datname), edata->message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0,
			 edata->hint ? errhint("%s", edata->hint) : 0));

	LWLockAcquire(pgq_ticker_shared->lock, LW_EXCLUSIVE);
	snprintf(my_slot->last_error, PGQ_ERROR_LEN, "could not %s: %s",
			 what, edata->message);
	my_slot->last_error_time = GetCurrentTimestamp();
	LWLockRelease(pgq_ticker_shared->lock);
}

/*
 * Run one unit of work in a transaction of its own.  Returns false if it
 * failed, after logging the error.  Called in round_cxt, and returns in it.
 */
static bool
run_unit(UnitFunction fn, void *arg, const char *activity, const char *what)
{
	bool		ok = true;

	Assert(CurrentMemoryContext == round_cxt);
	pgstat_report_activity(STATE_RUNNING, activity);
	in_unit = true;
	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		fn(arg);
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		in_unit = false;
		MemoryContextSwitchTo(round_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		SetUserIdAndSecContext(worker_userid, worker_sec_context);
		PortalContext = NULL;
		MemoryContextReset(vacuum_cxt);
		/* a cancel meant for this unit must not hit the next one */
		QueryCancelPending = false;
		MemoryContextSwitchTo(round_cxt);
		report_failure(what, edata);
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	in_unit = false;
	/* a SIGTERM that came too late to cancel the unit: the loop exits */
	QueryCancelPending = false;
	MemoryContextSwitchTo(round_cxt);
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
	return ok;
}

/*
 * The role pgq.ticker_role names.  Maintenance refuses a superuser unless
 * pgq.ticker_allow_superuser is on: pgqd ran it as the role its
 * configuration named, normally a pgq_admin member, and what a queue's
 * settings make the worker run must not reach further than that.
 */
static Oid
ticker_role(bool for_maintenance)
{
	Oid			roleid = get_role_oid(pgq_ticker_role, true);

	if (!OidIsValid(roleid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("pgq.ticker_role \"%s\" does not exist", pgq_ticker_role),
				 errhint("Set pgq.ticker_role to a role that is a member of pgq_admin.")));
	if (for_maintenance && superuser_arg(roleid) && !pgq_ticker_allow_superuser)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("pgq.ticker_role \"%s\" is a superuser", pgq_ticker_role),
				 errdetail("Maintenance does not run as a superuser unless pgq.ticker_allow_superuser is on."),
				 errhint("Set pgq.ticker_role to a role that is a member of pgq_admin and nothing more.")));
	return roleid;
}

/*
 * The identity to tick with: that of pgq.ticker(), a security definer
 * function, as when the ticker role calls it.  The queue reads that decide
 * when to tick are part of the same job.
 */
static Oid
tick_rights(void)
{
	Oid			roleid = ticker_role(false);
	Oid			funcoid;
	HeapTuple	tup;
	Oid			owner;

	funcoid = LookupFuncName(list_make2(makeString("pgq"), makeString("ticker")),
							 0, NULL, false);
	if (pg_proc_aclcheck(funcoid, roleid, ACL_EXECUTE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("pgq.ticker_role \"%s\" may not call pgq.ticker()", pgq_ticker_role),
				 errhint("Grant pgq_admin to the role.")));
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", funcoid);
	owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * Act as roleid until leave_role().  Meanwhile SET ROLE and SET SESSION
 * AUTHORIZATION are refused (they could lead back to the superuser we
 * connected as), names resolve through WORKER_SEARCH_PATH, and every
 * setting the work changes, even for the session, is undone by
 * leave_role().  An error ends the transaction instead, which restores the
 * settings; run_unit() then restores the identity.
 */
static int
enter_role(Oid roleid)
{
	int			nestlevel = NewGUCNestLevel();

	SetUserIdAndSecContext(roleid, worker_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	(void) set_config_option("search_path", WORKER_SEARCH_PATH,
							 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	return nestlevel;
}

static void
leave_role(int nestlevel)
{
	AtEOXact_GUC(false, nestlevel);
	SetUserIdAndSecContext(worker_userid, worker_sec_context);
}

/*
 * The function a maintenance step names, if the worker may call it.  The
 * name is looked up in its own schema (public when it has none, as for all
 * names stored in pgq.queue) with the step's argument, a text.  Anybody
 * else's function would run with the ticker role's rights, so it must
 * belong to an installed extension or be owned by a superuser or by a role
 * whose rights the ticker role has, and never live in a temporary schema
 * (another session's, named explicitly).
 */
static Oid
maint_function(const char *qualified_name, bool has_arg, Oid roleid)
{
	Oid			argtypes[1] = {TEXTOID};
	int			nargs = has_arg ? 1 : 0;
	char	   *schema;
	char	   *name;
	List	   *names;
	Oid			funcoid;
	HeapTuple	tup;
	Oid			owner;
	Oid			nspid;

	pgq_split_name(qualified_name, &schema, &name);
	names = list_make2(makeString(schema ? schema : "public"), makeString(name));
	funcoid = LookupFuncName(names, nargs, argtypes, true);
	if (!OidIsValid(funcoid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_FUNCTION),
				 errmsg("function %s does not exist",
						func_signature_string(names, nargs, NIL, argtypes)),
				 errdetail("Maintenance functions are looked up in the schema their name gives, public when it gives none.")));

	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", funcoid);
	owner = ((Form_pg_proc) GETSTRUCT(tup))->proowner;
	nspid = ((Form_pg_proc) GETSTRUCT(tup))->pronamespace;
	ReleaseSysCache(tup);

	if (isAnyTempNamespace(nspid))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("refusing to call function \"%s\"", qualified_name),
				 errdetail("It is in a temporary schema.")));
	if (!OidIsValid(getExtensionOfObject(ProcedureRelationId, funcoid)) &&
		!superuser_arg(owner) && !has_privs_of_role(roleid, owner))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("refusing to call function \"%s\"", qualified_name),
				 errdetail("It belongs to no extension, and its owner \"%s\" is neither a superuser nor a role whose rights pgq.ticker_role \"%s\" has.",
						   GetUserNameFromId(owner, false), pgq_ticker_role),
				 errhint("Functions named in queue_extra_maint must be owned by a superuser or by the ticker role.")));
	return funcoid;
}

/*
 * When a queue next needs a tick if no events arrive beyond those already
 * pending: the rules of tick_needed() in src/pgq/tick.c, solved for time, with
 * the floors under tick spacing described at MIN_BUSY_TICK_SPACING_MS.
 */
static TimestampTz
queue_deadline(TimestampTz now, bool has_last, TimestampTz last_time,
			   int64 pending, bool has_prev, TimestampTz prev_time,
			   int32 max_count, int64 max_lag, int64 idle_period)
{
	int64		wait;

	if (!has_last)
		return now;
	if (pending > 0)
	{
		wait = pending >= max_count ? 0 : max_lag;
		wait = Max(wait, MIN_BUSY_TICK_SPACING_MS * INT64CONST(1000));
		return pgq_time_plus_usecs(last_time, wait);
	}
	if (!has_prev)
		return now;
	/* idle: spacing doubles up to the idle period, but not below max_lag/2 */
	wait = Min(pgq_usecs_twice(pgq_usecs_between(last_time, prev_time)), idle_period);
	wait = Max(wait, max_lag / 2);
	wait = Max(wait, pgq_ticker_period * INT64CONST(1000));
	return pgq_time_plus_usecs(last_time, wait);
}

/*
 * Read all queues and compute their deadlines.  The event sequence is
 * read with pg_sequence_last_value(), which is NULL until the first
 * nextval: that counts as 0 issued ids, as in pgq_issued_event_ids().
 */
static void
read_queues_unit(void *arg)
{
	ReadQueuesArgs *result = arg;
	MemoryContext oldcxt;
	TimestampTz now;
	uint64		i;
	int			ret;
	int			nestlevel;

	result->queues = NIL;
	result->max_queue_id = 0;
	result->extension = extension_state(NULL);
	if (result->extension != EXTENSION_CURRENT)
		return;

	nestlevel = enter_role(tick_rights());
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (plan_queues == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(
									   "SELECT q.queue_id, q.queue_name,"
									   " q.queue_external_ticker OR q.queue_ticker_paused,"
									   " q.queue_ticker_max_count, q.queue_ticker_max_lag,"
									   " q.queue_ticker_idle_period,"
									   " pg_catalog.pg_sequence_last_value("
									   "   pg_catalog.to_regclass(pgq.quote_fqname(q.queue_event_seq))),"
									   " last.tick_time, last.tick_event_seq, prev.tick_time,"
									   " last.tick_id, prev.tick_id,"
									   " (SELECT pg_catalog.max(CASE WHEN s.sub_batch IS NULL"
									   "   THEN s.sub_last_tick ELSE s.sub_next_tick END)"
									   "   FROM pgq.subscription s"
									   "   WHERE s.sub_queue OPERATOR(pg_catalog.=) q.queue_id)"
									   " FROM pgq.queue q"
									   " LEFT JOIN LATERAL (SELECT t.tick_id, t.tick_time, t.tick_event_seq"
									   "   FROM pgq.tick t"
									   "   WHERE t.tick_queue OPERATOR(pg_catalog.=) q.queue_id"
									   "   ORDER BY t.tick_queue DESC, t.tick_id DESC LIMIT 1) last ON true"
									   " LEFT JOIN LATERAL (SELECT t.tick_id, t.tick_time"
									   "   FROM pgq.tick t"
									   "   WHERE t.tick_queue OPERATOR(pg_catalog.=) q.queue_id"
									   "   AND t.tick_id OPERATOR(pg_catalog.<) last.tick_id"
									   "   ORDER BY t.tick_queue DESC, t.tick_id DESC LIMIT 1) prev ON true",
									   0, NULL);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		plan_queues = plan;
	}
	ret = SPI_execute_plan(plan_queues, NULL, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read queues: %s", SPI_result_code_string(ret));

	/* SPI allocates in its own context, which SPI_finish frees */
	oldcxt = MemoryContextSwitchTo(round_cxt);
	now = GetCurrentTimestamp();
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		QueueView  *q = palloc0(sizeof(QueueView));
		bool		isnull;
		bool		has_last;
		bool		has_prev;
		Datum		d;
		int64		issued;
		TimestampTz last_time = 0;
		TimestampTz prev_time = 0;
		int64		last_seq = 0;
		int64		last_id = 0;
		int64		prev_id = 0;
		bool		has_reach;
		int64		reach;
		int32		max_count;
		int64		pending;

		q->queue_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		q->name = SPI_getvalue(tup, desc, 2);
		q->skip = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
		result->max_queue_id = Max(result->max_queue_id, q->queue_id);
		result->queues = lappend(result->queues, q);
		if (q->skip)
			continue;

		max_count = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
		d = SPI_getbinval(tup, desc, 7, &isnull);
		issued = isnull ? 0 : DatumGetInt64(d);
		d = SPI_getbinval(tup, desc, 8, &isnull);
		has_last = !isnull;
		if (has_last)
		{
			last_time = DatumGetTimestampTz(d);
			last_seq = DatumGetInt64(SPI_getbinval(tup, desc, 9, &isnull));
			last_id = DatumGetInt64(SPI_getbinval(tup, desc, 11, &isnull));
		}
		d = SPI_getbinval(tup, desc, 10, &isnull);
		has_prev = !isnull;
		if (has_prev)
		{
			prev_time = DatumGetTimestampTz(d);
			prev_id = DatumGetInt64(SPI_getbinval(tup, desc, 12, &isnull));
		}
		d = SPI_getbinval(tup, desc, 13, &isnull);
		has_reach = !isnull;
		reach = has_reach ? DatumGetInt64(d) : 0;

		pending = issued - last_seq;
		q->due = queue_deadline(now, has_last, last_time, pending,
								has_prev, prev_time, max_count,
								pgq_interval_usecs(DatumGetIntervalP(SPI_getbinval(tup, desc, 5, &isnull))),
								pgq_interval_usecs(DatumGetIntervalP(SPI_getbinval(tup, desc, 6, &isnull))));
		q->headroom = pending > 0 ? Max(max_count - pending, 1) : 1;

		/*
		 * An early tick (by count or lag) only serves a consumer that has
		 * taken everything ticked so far; a consumer behind gets bigger
		 * batches from fewer ticks.  So while no subscription has reached
		 * the latest tick (reach: the furthest tick any has taken or is
		 * processing), waiting events get at most one tick per
		 * pgq.ticker_period, pgqd's cadence, and producers need not wake
		 * us for them once the count is reached.  A subscription whose
		 * next batch ends at the latest tick may reach it any moment: look
		 * again soon.  Only the timing is ours; the tick code still
		 * checks the queue's own rules.
		 */
		if (pgq_ticker_coalesce && pending > 0 && has_last &&
			!(has_reach && reach >= last_id))
		{
			q->due = Max(q->due, pgq_time_plus_usecs(last_time,
													 pgq_ticker_period * INT64CONST(1000)));
			q->headroom = pending >= max_count ? 0 : max_count - pending;
			q->watch = has_reach && has_prev && reach >= prev_id;
		}
	}
	MemoryContextSwitchTo(oldcxt);
	PopActiveSnapshot();
	SPI_finish();
	leave_role(nestlevel);
}

static void
tick_unit(void *arg)
{
	TickArgs   *tick = arg;
	int64		tick_id;
	int			nestlevel = enter_role(tick_rights());

	PushActiveSnapshot(GetTransactionSnapshot());
	tick->ticked = pgq_tick_queue_if_due(tick->queue_name, &tick_id);
	PopActiveSnapshot();
	leave_role(nestlevel);
}

/*
 * VACUUM cannot run inside a transaction block or a function, which rules
 * out SPI.  A background worker outside any transaction block can run it
 * as a top-level statement the way a client's simple query does: vacuum()
 * commits our transaction, runs one per table, and starts a new one for us
 * to commit.  It keeps its cross-transaction memory under PortalContext,
 * which a worker does not otherwise have.  SKIP_LOCKED: a table somebody
 * holds is left for the next round rather than holding up the ticks.
 *
 * A table that belongs to an extension (pgq's own bookkeeping tables, those
 * of its companions) is vacuumed as its owner, as autovacuum would; any
 * other as the ticker role, which PostgreSQL lets vacuum only what it owns.
 * The table is passed by OID, so VACUUM cannot resolve the name to another.
 */
static void
vacuum_table(const char *table, bool analyze)
{
	VacuumStmt *stmt = makeNode(VacuumStmt);
	char	   *schema;
	char	   *name;
	RangeVar   *rv;
	Oid			relid;
	Oid			roleid;

	pgq_split_name(table, &schema, &name);
	rv = makeRangeVar(schema, name, -1);
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (!OidIsValid(relid))
		return;					/* dropped since it was listed */
	if (OidIsValid(getExtensionOfObject(RelationRelationId, relid)))
	{
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));

		if (!HeapTupleIsValid(tup))
			return;
		roleid = ((Form_pg_class) GETSTRUCT(tup))->relowner;
		ReleaseSysCache(tup);
	}
	else
		roleid = ticker_role(true);

	stmt->options = list_make1(makeDefElem("skip_locked", NULL, -1));
	if (analyze)
		stmt->options = lappend(stmt->options, makeDefElem("analyze", NULL, -1));
	stmt->rels = list_make1(makeVacuumRelation(rv, relid, NIL));
	stmt->is_vacuumcmd = true;

	/* vacuum() commits and starts transactions: no GUC nesting across it */
	SetUserIdAndSecContext(roleid, worker_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	PortalContext = vacuum_cxt;
	ExecVacuum(make_parsestate(NULL), stmt, true);
	PortalContext = NULL;
	SetUserIdAndSecContext(worker_userid, worker_sec_context);
	MemoryContextReset(vacuum_cxt);
}

static void
maint_unit(void *arg)
{
	MaintArgs  *maint = arg;
	MaintOp    *op = maint->op;
	Oid			roleid;
	Oid			funcoid = InvalidOid;
	int			nestlevel;
	int			ret;
	uint64		i;

	maint->repeat = false;
	if (op->kind == MAINT_VACUUM)
	{
		vacuum_table(op->arg, op->analyze);
		return;
	}

	roleid = ticker_role(true);
	/* looked up as the worker: a refusal must not hide behind a schema ACL */
	if (op->kind == MAINT_CALL)
		funcoid = maint_function(op->func, op->arg != NULL, roleid);
	nestlevel = enter_role(roleid);
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (op->kind == MAINT_RETRY)
	{
		ret = SPI_execute("SELECT pgq.maint_retry_events()", false, 1);
		if (ret != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "unexpected result of pgq.maint_retry_events()");
		maint->repeat = strcmp(SPI_getvalue(SPI_tuptable->vals[0],
											SPI_tuptable->tupdesc, 1), "0") != 0;
	}
	else if (op->kind == MAINT_LIST)
	{
		ret = SPI_execute("SELECT func_name, func_arg FROM pgq.maint_operations()",
						  true, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read pgq.maint_operations(): %s",
				 SPI_result_code_string(ret));
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			char	   *func = SPI_getvalue(tup, desc, 1);
			char	   *func_arg = SPI_getvalue(tup, desc, 2);

			if (func == NULL)
				continue;
			if (pg_strcasecmp(func, "vacuum") == 0 ||
				pg_strcasecmp(func, "vacuum analyze") == 0)
			{
				if (func_arg != NULL)
					queue_maint_op(MAINT_VACUUM, NULL, func_arg,
								   pg_strcasecmp(func, "vacuum analyze") == 0);
			}
			else
				queue_maint_op(MAINT_CALL, func, func_arg, false);
		}
	}
	else
	{
		char	   *function;
		char	   *sql;
		Oid			argtypes[1] = {TEXTOID};
		Datum		values[1];
		char	   *result;

		/* the schema is explicit, so the call can resolve to nothing else */
		function = quote_qualified_identifier(get_namespace_name(get_func_namespace(funcoid)),
											  get_func_name(funcoid));
		if (op->arg != NULL)
		{
			sql = psprintf("SELECT %s($1)", function);
			values[0] = CStringGetTextDatum(op->arg);
			ret = SPI_execute_with_args(sql, 1, argtypes, values, NULL, false, 1);
		}
		else
		{
			sql = psprintf("SELECT %s()", function);
			ret = SPI_execute(sql, false, 1);
		}
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not run %s: %s", sql, SPI_result_code_string(ret));

		/*
		 * pgqd's protocol: a call whose result reads as a non-zero integer
		 * has more to do.  Anything else (NULL, a composite, text) means
		 * done.
		 */
		if (SPI_processed > 0 &&
			(result = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1)) != NULL)
		{
			char	   *end;
			int64		value;

			errno = 0;
			value = strtoi64(result, &end, 10);
			maint->repeat = (errno == 0 && end != result && *end == '\0' && value != 0);
		}
	}
	PopActiveSnapshot();
	SPI_finish();
	leave_role(nestlevel);
}

static TimestampTz
backoff_until(int32 queue_id)
{
	QueueBackoff *entry = hash_search(backoffs, &queue_id, HASH_FIND, NULL);

	return entry != NULL ? entry->until : 0;
}

static void
set_backoff(int32 queue_id, TimestampTz until)
{
	QueueBackoff *entry;

	if (until == 0)
		hash_search(backoffs, &queue_id, HASH_REMOVE, NULL);
	else
	{
		entry = hash_search(backoffs, &queue_id, HASH_ENTER, NULL);
		entry->until = until;
	}
}

/*
 * Forget backoffs that have run out, so that entries of dropped queues do
 * not pile up.
 */
static void
expire_backoffs(TimestampTz now)
{
	HASH_SEQ_STATUS status;
	QueueBackoff *entry;

	hash_seq_init(&status, backoffs);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (entry->until <= now)
			hash_search(backoffs, &entry->queue_id, HASH_REMOVE, NULL);
}

/*
 * Tick every queue that is due and not backed off.  Returns whether any
 * tick was made (the queues must then be read again).
 */
static bool
tick_round(List *queues, TimestampTz now)
{
	ListCell   *lc;
	bool		ticked_any = false;

	foreach(lc, queues)
	{
		QueueView  *q = lfirst(lc);
		TickArgs	tick;
		char	   *what;

		if (q->skip || q->due > now || backoff_until(q->queue_id) > now)
			continue;

		stop_if_asked();
		set_state(PGQ_WORKER_TICKING);
		tick.queue_name = q->name;
		tick.ticked = false;
		what = psprintf("tick queue \"%s\"", q->name);
		if (!run_unit(tick_unit, &tick, what, what))
			set_backoff(q->queue_id, TimestampTzPlusMilliseconds(now, FAILED_RETRY_MS));
		else if (tick.ticked)
		{
			set_backoff(q->queue_id, 0);
			ticked_any = true;
			LWLockAcquire(pgq_ticker_shared->lock, LW_EXCLUSIVE);
			my_slot->last_tick_time = GetCurrentTimestamp();
			LWLockRelease(pgq_ticker_shared->lock);
		}
		else
			set_backoff(q->queue_id, TimestampTzPlusMilliseconds(now, DECLINED_RETRY_MS));
	}
	return ticked_any;
}

/*
 * Append a maintenance unit.  A retry pass or maintenance round that is
 * still running when its period comes round again is not queued twice.
 */
static void
queue_maint_op(MaintKind kind, const char *func, const char *arg, bool analyze)
{
	MemoryContext old;
	MaintOp    *op;
	ListCell   *lc;

	if (kind == MAINT_RETRY || kind == MAINT_LIST)
	{
		foreach(lc, maint_ops)
			if (((MaintOp *) lfirst(lc))->kind == kind)
				return;
	}

	old = MemoryContextSwitchTo(maint_cxt);
	op = palloc0(sizeof(MaintOp));

	op->kind = kind;
	op->func = func ? pstrdup(func) : NULL;
	op->arg = arg ? pstrdup(arg) : NULL;
	op->analyze = analyze;
	maint_ops = lappend(maint_ops, op);
	MemoryContextSwitchTo(old);
}

/*
 * Run the first pending maintenance unit; keep it first if it asked to be
 * repeated.  A failed unit is dropped: its next chance is the next round
 * of its kind.
 */
static void
run_one_maint_op(void)
{
	MaintOp    *op = linitial(maint_ops);
	MaintArgs	maint;
	char	   *what;
	bool		ok;

	stop_if_asked();
	maint.op = op;
	maint.repeat = false;
	switch (op->kind)
	{
		case MAINT_RETRY:
			set_state(PGQ_WORKER_RETRY);
			what = pstrdup("move events from the retry queue");
			break;
		case MAINT_LIST:
			set_state(PGQ_WORKER_MAINT);
			what = pstrdup("read pgq.maint_operations()");
			break;
		case MAINT_VACUUM:
			set_state(PGQ_WORKER_MAINT);
			what = psprintf("vacuum table \"%s\"", op->arg);
			break;
		default:
			set_state(PGQ_WORKER_MAINT);
			what = op->arg ? psprintf("run %s for queue \"%s\"", op->func, op->arg)
				: psprintf("run %s", op->func);
			break;
	}

	/* a MAINT_LIST unit appends to maint_ops */
	ok = run_unit(maint_unit, &maint, what, what);
	if (ok && maint.repeat)
		return;
	if (!ok && op->kind == MAINT_LIST)
		maint_round_running = false;	/* no round to report as done */

	maint_ops = list_delete_first(maint_ops);
	LWLockAcquire(pgq_ticker_shared->lock, LW_EXCLUSIVE);
	if (op->kind == MAINT_RETRY && ok)
		my_slot->last_retry_time = GetCurrentTimestamp();
	if (maint_round_running && maint_ops == NIL)
	{
		my_slot->last_maint_time = GetCurrentTimestamp();
		maint_round_running = false;
	}
	LWLockRelease(pgq_ticker_shared->lock);

	if (maint_ops == NIL)
		MemoryContextReset(maint_cxt);
}

/*
 * The earliest of: a queue's deadline (or the end of its backoff), the
 * next look at a queue whose consumer may be catching up, the next retry
 * or maintenance round, and pgq.ticker_period from now.
 */
static TimestampTz
next_wakeup(List *queues, TimestampTz now, TimestampTz next_retry,
			TimestampTz next_maint)
{
	TimestampTz wake = TimestampTzPlusMilliseconds(now, pgq_ticker_period);
	ListCell   *lc;

	wake = Min(wake, next_retry);
	wake = Min(wake, next_maint);
	foreach(lc, queues)
	{
		QueueView  *q = lfirst(lc);

		if (q->skip)
			continue;
		wake = Min(wake, Max(q->due, backoff_until(q->queue_id)));
		if (q->watch)
			wake = Min(wake, TimestampTzPlusMilliseconds(now, Min(CATCH_UP_LOOK_MS,
																  pgq_ticker_period)));
	}
	return wake;
}

void
pgq_ticker_worker_main(Datum main_arg)
{
	int			slotno = DatumGetInt32(main_arg);
	PgqWorkerArgs args;
	TimestampTz next_retry = 0;
	TimestampTz next_maint = 0;
	TimestampTz read_failed_until = 0;
	bool		serving = false;
	HASHCTL		ctl;

	memcpy(&args, MyBgworkerEntry->bgw_extra, sizeof(args));
	my_dboid = args.dboid;
	my_slot = &pgq_ticker_shared->slots[slotno];

	pqsignal(SIGTERM, worker_sigterm);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();

	/*
	 * We may have been stopped before we got here (DROP DATABASE, launcher
	 * restart); then we must not connect at all.
	 */
	LWLockAcquire(pgq_ticker_shared->lock, LW_EXCLUSIVE);
	if (my_slot->dboid != my_dboid || my_slot->generation != args.generation ||
		my_slot->stop_requested)
	{
		LWLockRelease(pgq_ticker_shared->lock);
		proc_exit(0);
	}
	my_slot->pid = MyProcPid;
	my_slot->proc = MyProc;
	my_slot->started_at = GetCurrentTimestamp();
	my_slot->state = PGQ_WORKER_STARTING;
	LWLockRelease(pgq_ticker_shared->lock);
	before_shmem_exit(worker_detach, (Datum) 0);

	if (ShutdownRequestPending)
		proc_exit(0);
	BackgroundWorkerInitializeConnectionByOid(my_dboid, InvalidOid, 0);
	GetUserIdAndSecContext(&worker_userid, &worker_sec_context);

	/*
	 * Session settings that make the units behave whatever the server or
	 * database defaults say: pgq.ticker() refuses to run above READ
	 * COMMITTED, ticks must be written, and no unit may wait long for a
	 * lock.  search_path is pinned because a database owner may set the
	 * database's to a schema of its own (enter_role() pins it again for
	 * every unit, against a unit that changed it).
	 */
	SetConfigOption("search_path", WORKER_SEARCH_PATH, PGC_SUSET, PGC_S_SESSION);
	SetConfigOption("default_transaction_isolation", "read committed",
					PGC_SUSET, PGC_S_SESSION);
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_SESSION);
	SetConfigOption("lock_timeout", WORKER_LOCK_TIMEOUT, PGC_SUSET, PGC_S_SESSION);
	SetConfigOption("application_name", "pgq ticker", PGC_SUSET, PGC_S_SESSION);
	pgstat_report_appname("pgq ticker");

	round_cxt = AllocSetContextCreate(TopMemoryContext, "pgq ticker round",
									  ALLOCSET_DEFAULT_SIZES);
	maint_cxt = AllocSetContextCreate(TopMemoryContext, "pgq ticker maintenance",
									  ALLOCSET_DEFAULT_SIZES);
	vacuum_cxt = AllocSetContextCreate(TopMemoryContext, "pgq ticker vacuum",
									   ALLOCSET_DEFAULT_SIZES);
	ctl.keysize = sizeof(int32);
	ctl.entrysize = sizeof(QueueBackoff);
	backoffs = hash_create("pgq ticker backoffs", 16, &ctl, HASH_ELEM | HASH_BLOBS);

	for (;;)
	{
		uint64		counts[PGQ_WAKE_BUCKETS];
		int64		headroom[PGQ_WAKE_BUCKETS];
		ReadQueuesArgs rq;
		ListCell   *lc;
		TimestampTz now;
		TimestampTz wake;

		MemoryContextSwitchTo(round_cxt);
		MemoryContextReset(round_cxt);
		stop_if_asked();

		/* nothing at all runs until the database has our pgq */
		if (!serving)
		{
			serving = extension_ready();
			if (!serving)
			{
				(void) WaitLatch(MyLatch,
								 WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 pgq_ticker_period, PG_WAIT_EXTENSION);
				ResetLatch(MyLatch);
				CHECK_FOR_INTERRUPTS();
				continue;
			}
		}

		now = GetCurrentTimestamp();
		if (now >= next_retry)
		{
			queue_maint_op(MAINT_RETRY, NULL, NULL, false);
			next_retry = TimestampTzPlusMilliseconds(now, pgq_retry_period * 1000L);
		}
		if (now >= next_maint)
		{
			if (!maint_round_running)
				queue_maint_op(MAINT_LIST, NULL, NULL, false);
			maint_round_running = true;
			next_maint = TimestampTzPlusMilliseconds(now, pgq_maint_period * 1000L);
		}
		if (maint_ops != NIL)
			run_one_maint_op();

		/* after a failed read of the queues, only maintenance goes on */
		rq.queues = NIL;
		if (GetCurrentTimestamp() >= read_failed_until)
		{
			pgq_wakeup_read_counts(my_slot, counts);
			if (!run_unit(read_queues_unit, &rq, "read queues", "read the queues"))
			{
				read_failed_until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
																FAILED_RETRY_MS);
				rq.queues = NIL;
			}
			else
			{
				if (rq.extension == EXTENSION_ABSENT)
					exit_quietly(PGQ_WORKER_NO_EXTENSION);
				if (rq.extension == EXTENSION_OTHER_VERSION)
				{
					serving = false;
					continue;
				}
				expire_backoffs(GetCurrentTimestamp());
				if (tick_round(rq.queues, GetCurrentTimestamp()))
					continue;

				memset(headroom, 0, sizeof(headroom));
				foreach(lc, rq.queues)
				{
					QueueView  *q = lfirst(lc);
					int			bucket = (uint32) q->queue_id % PGQ_WAKE_BUCKETS;

					if (!q->skip && q->headroom > 0 &&
						(headroom[bucket] == 0 || q->headroom < headroom[bucket]))
						headroom[bucket] = q->headroom;
				}
				if (pgq_wakeup_arm(my_slot, counts, headroom, rq.max_queue_id))
					continue;
			}
		}
		if (maint_ops != NIL)
			continue;

		set_state(PGQ_WORKER_IDLE);
		now = GetCurrentTimestamp();
		wake = next_wakeup(rq.queues, now, next_retry, next_maint);
		if (read_failed_until > now)
			wake = Min(wake, read_failed_until);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 TimestampDifferenceMilliseconds(now, wake),
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);

		/*
		 * Absorbs ProcSignalBarriers (DROP DATABASE of another database
		 * waits for them) and the like.  No cancel is pending here: our
		 * SIGTERM handler only requests one while a unit runs.
		 */
		CHECK_FOR_INTERRUPTS();
	}
}
