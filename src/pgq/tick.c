/*-------------------------------------------------------------------------
 *
 * tick.c
 *	  Tick creation: pgq.ticker(queue), pgq.ticker() and the external form
 *	  pgq.ticker(queue, tick_id, time, event_seq).
 *
 * A tick records a transaction snapshot; a batch is the set of events
 * visible in its end tick's snapshot and not in its start tick's.  For
 * consecutive batches to partition the events, a tick with a higher id must
 * see at least what every lower tick sees.  PgQ 3.5 got that from running a
 * single ticker.  We may have several (the in-server worker, an external
 * pgqd, a user calling pgq.ticker()), so tick creation is serialised per
 * queue by locking the queue row, and everything the decision and the tick
 * row depend on - the previous tick, the sequence values, the snapshot - is
 * read by statements that start after the lock is granted.  SPI takes a new
 * snapshot for each statement in READ COMMITTED, which gives us exactly
 * that; the transaction-wide snapshot of REPEATABLE READ cannot, so ticking
 * is refused there.
 *
 * Every tick sends a notification on a channel named like the queue, with
 * the tick id as payload, so that consumers can LISTEN instead of polling.
 * Like the tick, it takes effect at commit.
 *
 * src/pgq/tick.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "commands/async.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "pgq.h"

PG_FUNCTION_INFO_V1(pgq_ticker_queue);
PG_FUNCTION_INFO_V1(pgq_ticker_all);
PG_FUNCTION_INFO_V1(pgq_ticker_external);

/* What the ticker reads of a queue row */
typedef struct TickerQueue
{
	int32		queue_id;
	char	   *tick_seq;
	char	   *event_seq;
	bool		external_ticker;
	bool		paused;
	int32		max_count;
	int64		max_lag;		/* microseconds, saturated */
	int64		idle_period;	/* microseconds, saturated */
} TickerQueue;

/* What the ticker reads of a tick row */
typedef struct TickInfo
{
	int64		tick_id;
	TimestampTz tick_time;
	int64		event_seq;
	int64		xmin;
	int64		xmax;
} TickInfo;

typedef enum LockMode
{
	LOCK_WAIT,					/* explicit ticker(queue): wait for the lock */
	LOCK_SKIP					/* ticker(): another ticker is on it, skip */
} LockMode;

static SPIPlanPtr plan_lock_wait = NULL;
static SPIPlanPtr plan_lock_skip = NULL;
static SPIPlanPtr plan_last_ticks = NULL;
static SPIPlanPtr plan_insert_tick = NULL;
static SPIPlanPtr plan_list_queues = NULL;

static void require_fresh_snapshots(void);
static bool lock_queue(const char *queue_name, LockMode mode, TickerQueue *queue);
static int	read_last_ticks(int32 queue_id, TickInfo *ticks);
static bool tick_needed(const char *queue_name, const TickerQueue *queue,
						int64 issued, int nticks, const TickInfo *ticks);
static int64 insert_tick(int32 queue_id, const char *tick_seq, int64 event_seq);
static void notify_tick(const char *queue_name, int64 tick_id);
static bool tick_queue(const char *queue_name, LockMode mode,
					   bool *ticked, int64 *tick_id);

/*
 * The ordering argument above needs a new snapshot per statement.
 */
static void
require_fresh_snapshots(void)
{
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("pgq.ticker() must run in a READ COMMITTED transaction"),
				 errdetail("A tick must record a snapshot taken after the queue is locked."),
				 errhint("Where default_transaction_isolation is set higher, connect the ticker with options='-c default_transaction_isolation=read\\ committed'.")));
}

/*
 * Lock the queue row and read its ticker settings.  Returns false if the
 * queue does not exist, or (LOCK_SKIP) if another transaction holds it.
 */
static bool
lock_queue(const char *queue_name, LockMode mode, TickerQueue *queue)
{
#define LOCK_QUEUE_SQL \
	"SELECT queue_id, queue_tick_seq, queue_event_seq," \
	" queue_external_ticker, queue_ticker_paused, queue_ticker_max_count," \
	" queue_ticker_max_lag, queue_ticker_idle_period" \
	" FROM pgq.queue WHERE queue_name OPERATOR(pg_catalog.=) $1" \
	" FOR NO KEY UPDATE"
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	SPIPlanPtr	plan;
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int			ret;

	if (mode == LOCK_WAIT)
		plan = pgq_prepare_once(&plan_lock_wait, LOCK_QUEUE_SQL, 1, argtypes);
	else
		plan = pgq_prepare_once(&plan_lock_skip, LOCK_QUEUE_SQL " SKIP LOCKED",
								1, argtypes);

	args[0] = CStringGetTextDatum(queue_name);
	ret = SPI_execute_plan(plan, args, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not lock queue \"%s\": %s",
			 queue_name, SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	queue->queue_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
	queue->tick_seq = SPI_getvalue(tup, desc, 2);
	queue->event_seq = SPI_getvalue(tup, desc, 3);
	queue->external_ticker = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
	queue->paused = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
	queue->max_count = DatumGetInt32(SPI_getbinval(tup, desc, 6, &isnull));
	queue->max_lag = pgq_interval_usecs(DatumGetIntervalP(SPI_getbinval(tup, desc, 7, &isnull)));
	queue->idle_period = pgq_interval_usecs(DatumGetIntervalP(SPI_getbinval(tup, desc, 8, &isnull)));
	return true;
#undef LOCK_QUEUE_SQL
}

/*
 * Read the newest two ticks of the queue, newest first.  Returns how many
 * there are (0 to 2).
 */
static int
read_last_ticks(int32 queue_id, TickInfo *ticks)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	SPIPlanPtr	plan;
	int			ret;
	uint64		i;

	plan = pgq_prepare_once(&plan_last_ticks,
							"SELECT tick_id, tick_time, tick_event_seq,"
							" pg_catalog.txid_snapshot_xmin(tick_snapshot),"
							" pg_catalog.txid_snapshot_xmax(tick_snapshot)"
							" FROM pgq.tick WHERE tick_queue OPERATOR(pg_catalog.=) $1"
							" ORDER BY tick_queue DESC, tick_id DESC LIMIT 2",
							1, argtypes);
	args[0] = Int32GetDatum(queue_id);
	ret = SPI_execute_plan(plan, args, NULL, false, 2);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read ticks: %s", SPI_result_code_string(ret));

	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		ticks[i].tick_id = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		ticks[i].tick_time = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
		ticks[i].event_seq = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		ticks[i].xmin = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		ticks[i].xmax = DatumGetInt64(SPI_getbinval(tup, desc, 5, &isnull));
	}
	return (int) SPI_processed;
}

/*
 * The tick decision.  With events waiting, tick when there are
 * queue_ticker_max_count of them or the oldest tick is queue_ticker_max_lag
 * old.  On an idle queue the spacing between ticks doubles up to
 * queue_ticker_idle_period, but never drops below half of max_lag, so idle
 * queues cost few ticks while consumers still see time advance.
 *
 * All times are saturating microsecond counts (see pgq_interval_usecs()):
 * a setting of a few hundred thousand years is never reached, and an
 * infinite tick time copied from another queue makes no wrap-around.
 */
static bool
tick_needed(const char *queue_name, const TickerQueue *queue,
			int64 issued, int nticks, const TickInfo *ticks)
{
	const TickInfo *last = &ticks[0];
	int64		current_txid;
	int64		new_events;
	int64		lag;

	if (nticks == 0)
		return true;

	current_txid = (int64) U64FromFullTransactionId(GetTopFullTransactionId());
	if (last->xmin > current_txid)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("invalid pgq state in queue \"%s\": last tick xmin " INT64_FORMAT " is above current txid " INT64_FORMAT,
						queue_name, last->xmin, current_txid),
				 errdetail("The last tick has xmax " INT64_FORMAT ".", last->xmax),
				 errhint("The transaction id counter has gone backwards, for example after restoring pgq tables into another cluster.")));
	if (last->xmax > current_txid)
		ereport(WARNING,
				(errmsg("dubious pgq state in queue \"%s\": last tick xmax " INT64_FORMAT " is above current txid " INT64_FORMAT,
						queue_name, last->xmax, current_txid)));

	new_events = issued - last->event_seq;
	if (new_events < 0)
		ereport(WARNING,
				(errmsg("event sequence of queue \"%s\" is behind its last tick", queue_name),
				 errdetail("The sequence has issued " INT64_FORMAT " ids, the last tick recorded " INT64_FORMAT ".",
						   issued, last->event_seq)));

	lag = pgq_usecs_between(GetCurrentTransactionStartTimestamp(), last->tick_time);

	if (new_events > 0)
		return new_events >= queue->max_count || lag >= queue->max_lag;

	/* idle queue */
	if (nticks < 2)
		return true;
	if (lag < queue->max_lag / 2)
		return false;
	if (lag < pgq_usecs_twice(pgq_usecs_between(last->tick_time, ticks[1].tick_time)) &&
		lag < queue->idle_period)
		return false;
	return true;
}

/*
 * Insert a tick row with the next id of the queue's tick sequence.  The
 * snapshot and time come from the column defaults, evaluated by this
 * statement.
 */
static int64
insert_tick(int32 queue_id, const char *tick_seq, int64 event_seq)
{
	Oid			argtypes[3] = {INT4OID, OIDOID, INT8OID};
	Datum		args[3];
	SPIPlanPtr	plan;
	bool		isnull;
	int			ret;

	plan = pgq_prepare_once(&plan_insert_tick,
							"INSERT INTO pgq.tick (tick_queue, tick_id, tick_event_seq)"
							" VALUES ($1, pg_catalog.nextval($2), $3) RETURNING tick_id",
							3, argtypes);
	args[0] = Int32GetDatum(queue_id);
	args[1] = ObjectIdGetDatum(pgq_resolve_name(tick_seq, false));
	args[2] = Int64GetDatum(event_seq);
	ret = SPI_execute_plan(plan, args, NULL, false, 1);
	if (ret != SPI_OK_INSERT_RETURNING || SPI_processed != 1)
		elog(ERROR, "could not insert tick: %s", SPI_result_code_string(ret));
	return DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									   SPI_tuptable->tupdesc, 1, &isnull));
}

/*
 * Tell LISTENing consumers that the queue has a new tick.  The notification
 * is a hint and must never make the tick fail: names that cannot be a
 * channel (longer than NAMEDATALEN - 1 bytes; only possible for queues
 * created before names were checked) get none, and neither do ticks while
 * the notification queue is nearly full because some listener stopped
 * reading - filling it would make every committing tick fail.  PostgreSQL
 * itself warns about the full queue from half full on.
 */
static void
notify_tick(const char *queue_name, int64 tick_id)
{
	LOCAL_FCINFO(fcinfo, 0);
	char		payload[32];

	if (strlen(queue_name) >= NAMEDATALEN)
		return;

	InitFunctionCallInfoData(*fcinfo, NULL, 0, InvalidOid, NULL, NULL);
	if (DatumGetFloat8(pg_notification_queue_usage(fcinfo)) > 0.9)
		return;

	snprintf(payload, sizeof(payload), INT64_FORMAT, tick_id);
	Async_Notify(queue_name, payload);
}

/*
 * Tick one queue if its settings call for it.  Returns false when the queue
 * was not there to tick; *ticked says whether a tick was made and *tick_id
 * its id.  With LOCK_WAIT (an explicit request for this queue) a paused or
 * externally ticked queue is an error; with LOCK_SKIP (a round over all
 * queues) such a queue, or one locked by another transaction, is skipped.
 */
static bool
tick_queue(const char *queue_name, LockMode mode, bool *ticked, int64 *tick_id)
{
	TickerQueue queue;
	TickInfo	ticks[2];
	int			nticks;
	int64		issued;

	*ticked = false;
	if (!lock_queue(queue_name, mode, &queue))
		return false;

	if (mode == LOCK_SKIP && (queue.external_ticker || queue.paused))
		return false;
	if (queue.external_ticker)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("queue \"%s\" has an external tick source", queue_name),
				 errhint("Ticks for this queue come from pgq.ticker(queue, tick_id, time, event_seq).")));
	if (queue.paused)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ticker is paused for queue \"%s\"", queue_name),
				 errhint("Resume it with pgq.set_queue_config(queue, 'ticker_paused', 'false').")));

	issued = pgq_issued_event_ids(queue.event_seq);
	nticks = read_last_ticks(queue.queue_id, ticks);
	if (tick_needed(queue_name, &queue, issued, nticks, ticks))
	{
		*tick_id = insert_tick(queue.queue_id, queue.tick_seq, issued);
		*ticked = true;
		notify_tick(queue_name, *tick_id);
	}
	return true;
}

/*
 * pgq.ticker(i_queue_name text) returns bigint
 *
 * Ticks the queue if needed; returns the new tick id or NULL.
 */
Datum
pgq_ticker_queue(PG_FUNCTION_ARGS)
{
	char	   *queue_name;
	bool		ticked;
	int64		tick_id = 0;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("queue name must not be null")));
	queue_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	require_fresh_snapshots();

	SPI_connect();
	if (!tick_queue(queue_name, LOCK_WAIT, &ticked, &tick_id))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", queue_name)));
	SPI_finish();

	if (!ticked)
		PG_RETURN_NULL();
	PG_RETURN_INT64(tick_id);
}

/*
 * pgq.ticker() returns bigint
 *
 * Ticks every queue that has neither an external tick source nor a paused
 * ticker, in name order; returns how many got a tick.  A queue whose row is
 * locked is being ticked (or reconfigured) by someone else right now and is
 * left for the next round instead of stalling all the others behind it.
 */
Datum
pgq_ticker_all(PG_FUNCTION_ARGS)
{
	int64		nticked = 0;
	List	   *names = NIL;
	ListCell   *lc;
	uint64		i;
	int			ret;

	require_fresh_snapshots();
	SPI_connect();

	pgq_prepare_once(&plan_list_queues,
					 "SELECT queue_name FROM pgq.queue"
					 " WHERE NOT queue_external_ticker AND NOT queue_ticker_paused"
					 " ORDER BY queue_name",
					 0, NULL);
	ret = SPI_execute_plan(plan_list_queues, NULL, NULL, true, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not list queues: %s", SPI_result_code_string(ret));
	for (i = 0; i < SPI_processed; i++)
		names = lappend(names, SPI_getvalue(SPI_tuptable->vals[i],
											SPI_tuptable->tupdesc, 1));

	foreach(lc, names)
	{
		bool		ticked;
		int64		tick_id;

		if (tick_queue(lfirst(lc), LOCK_SKIP, &ticked, &tick_id) && ticked)
			nticked++;
	}

	SPI_finish();
	PG_RETURN_INT64(nticked);
}

/*
 * One queue's share of pgq.ticker(), for the in-server ticker: ticks the
 * queue if it is due, in the caller's transaction.  A queue another
 * transaction has locked (pgqd ticking it), or one that has been paused,
 * switched to an external tick source or dropped meanwhile, is left alone.
 * Returns whether a tick was made.
 */
bool
pgq_tick_queue_if_due(const char *queue_name, int64 *tick_id)
{
	bool		ticked;

	require_fresh_snapshots();
	SPI_connect();
	(void) tick_queue(queue_name, LOCK_SKIP, &ticked, tick_id);
	SPI_finish();
	return ticked;
}

/*
 * pgq.ticker(i_queue_name, i_tick_id, i_orig_timestamp, i_event_seq)
 *
 * Copies a tick from an upstream queue onto a queue with an external tick
 * source (cascading).  The sequences are moved forward so that local ids
 * never fall behind the copied ones.
 */
Datum
pgq_ticker_external(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_insert_external = NULL;
	static SPIPlanPtr plan_move_seqs = NULL;
	char	   *queue_name;
	TickerQueue queue;
	int64		tick_id;
	Oid			insert_types[4] = {INT4OID, INT8OID, TIMESTAMPTZOID, INT8OID};
	Datum		insert_args[4];
	Oid			move_types[4] = {TEXTOID, INT8OID, TEXTOID, INT8OID};
	Datum		move_args[4];
	int			ret;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("queue name must not be null")));
	if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tick id, time and event sequence must not be null")));
	queue_name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	tick_id = PG_GETARG_INT64(1);
	require_fresh_snapshots();

	SPI_connect();
	if (!lock_queue(queue_name, LOCK_WAIT, &queue))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", queue_name)));
	if (!queue.external_ticker || queue.paused)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("queue \"%s\" does not accept external ticks", queue_name),
				 errdetail("External ticks need queue_external_ticker set and the ticker not paused.")));

	pgq_prepare_once(&plan_insert_external,
					 "INSERT INTO pgq.tick (tick_queue, tick_id, tick_time, tick_event_seq)"
					 " VALUES ($1, $2, $3, $4)",
					 4, insert_types);
	insert_args[0] = Int32GetDatum(queue.queue_id);
	insert_args[1] = Int64GetDatum(tick_id);
	insert_args[2] = PG_GETARG_DATUM(2);
	insert_args[3] = PG_GETARG_DATUM(3);
	ret = SPI_execute_plan(plan_insert_external, insert_args, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not insert tick: %s", SPI_result_code_string(ret));
	notify_tick(queue_name, tick_id);

	pgq_prepare_once(&plan_move_seqs,
					 "SELECT pgq.seq_setval($1, $2), pgq.seq_setval($3, $4)",
					 4, move_types);
	move_args[0] = CStringGetTextDatum(queue.tick_seq);
	move_args[1] = Int64GetDatum(tick_id);
	move_args[2] = CStringGetTextDatum(queue.event_seq);
	move_args[3] = PG_GETARG_DATUM(3);
	ret = SPI_execute_plan(plan_move_seqs, move_args, NULL, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not move sequences: %s", SPI_result_code_string(ret));

	SPI_finish();
	PG_RETURN_INT64(tick_id);
}
