/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  Batch selection and reading: pgq.next_batch_custom(),
 *	  pgq.get_batch_events(), pgq.get_batch_cursor(), pgq.batch_event_sql()
 *	  and pgq.batch_event_tables().
 *
 * A batch is the span between two ticks of a queue.  Its events are the
 * rows whose ev_txid is visible in the end tick's snapshot and not in the
 * start tick's, restricted to events not owned by another subscription
 * (retried events carry their owner).  Written out, for start snapshot S
 * and end snapshot E:
 *
 *	  S.xmax <= ev_txid < E.xmax and ev_txid not in E.xip
 *	  or ev_txid in (S.xip minus E.xip)
 *
 * because every txid below S.xmax that S does not see is in S.xip, and a
 * txid visible in E is either below E.xmin or below E.xmax and not in E.xip.
 * Both parts are answered by the ev_txid index of the event tables: a range
 * scan for the first and exact lookups for the (usually short) second list.
 * The query compares txids as plain bigints, so no per-row function call is
 * needed to decide visibility.
 *
 * Which event tables hold a batch's events follows from the rotation
 * bookkeeping in pgq.queue (queue_switch_step1/step2); see
 * batch_tables().
 *
 * src/pgq/batch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_type_d.h"
#include "executor/tstoreReceiver.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pgq.h"

PG_FUNCTION_INFO_V1(pgq_next_batch_custom);
PG_FUNCTION_INFO_V1(pgq_get_batch_events);
PG_FUNCTION_INFO_V1(pgq_get_batch_cursor);
PG_FUNCTION_INFO_V1(pgq_batch_event_sql);
PG_FUNCTION_INFO_V1(pgq_batch_event_tables);

#define EVENT_COLUMNS \
	"ev_id, ev_time, ev_txid, ev_retry, ev_type, ev_data," \
	" ev_extra1, ev_extra2, ev_extra3, ev_extra4"

/* An open batch, as far as reading its events is concerned */
typedef struct BatchInfo
{
	int64		batch_id;
	int32		queue_id;
	int32		sub_id;
	char	   *data_pfx;
	int32		ntables;
	int32		cur_table;
	int64		switch_step1;
	bool		has_step2;
	int64		switch_step2;
	PgqSnapshot *start;			/* snapshot of the batch's first tick */
	PgqSnapshot *end;			/* snapshot of the batch's last tick */
} BatchInfo;

static SPIPlanPtr plan_load_batch = NULL;

static bool load_batch(int64 batch_id, BatchInfo *batch);
static int	batch_tables(const BatchInfo *batch, char **tables);
static bool lock_batch_tables(const BatchInfo *batch);
static bool lock_row(SPIPlanPtr plan, Datum *args, const char *nulls,
					 const char *what);
static void append_txid_array(StringInfo buf, const uint64 *txids, int n);
static void append_table_query(StringInfo sql, const BatchInfo *batch,
							   const char *table);
static char *build_batch_sql(const BatchInfo *batch, bool with_order);
static void batch_not_found(int64 batch_id) pg_attribute_noreturn();

static void
batch_not_found(int64 batch_id)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("batch " INT64_FORMAT " does not exist", batch_id),
			 errhint("A batch exists from next_batch until finish_batch.")));
}

/*
 * Read the batch's queue, subscription and tick snapshots.  Returns false
 * if no subscription has this batch open.  Must be called inside SPI;
 * results live in the SPI procedure context.
 */
static bool
load_batch(int64 batch_id, BatchInfo *batch)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	int			ret;

	pgq_prepare_once(&plan_load_batch,
					 "SELECT s.sub_queue, s.sub_id, q.queue_data_pfx,"
					 " q.queue_ntables, q.queue_cur_table,"
					 " q.queue_switch_step1, q.queue_switch_step2,"
					 " t1.tick_snapshot, t2.tick_snapshot"
					 " FROM pgq.subscription s"
					 " JOIN pgq.queue q ON q.queue_id = s.sub_queue"
					 " JOIN pgq.tick t1 ON t1.tick_queue = s.sub_queue"
					 "  AND t1.tick_id = s.sub_last_tick"
					 " JOIN pgq.tick t2 ON t2.tick_queue = s.sub_queue"
					 "  AND t2.tick_id = s.sub_next_tick"
					 " WHERE s.sub_batch = $1",
					 1, argtypes);
	args[0] = Int64GetDatum(batch_id);
	/* not read-only: a batch opened earlier in this same command must show */
	ret = SPI_execute_plan(plan_load_batch, args, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read batch: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	batch->batch_id = batch_id;
	batch->queue_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
	batch->sub_id = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
	batch->data_pfx = SPI_getvalue(tup, desc, 3);
	batch->ntables = DatumGetInt32(SPI_getbinval(tup, desc, 4, &isnull));
	batch->cur_table = DatumGetInt32(SPI_getbinval(tup, desc, 5, &isnull));
	batch->switch_step1 = DatumGetInt64(SPI_getbinval(tup, desc, 6, &isnull));
	d = SPI_getbinval(tup, desc, 7, &isnull);
	batch->has_step2 = !isnull;
	batch->switch_step2 = isnull ? 0 : DatumGetInt64(d);
	batch->start = DatumGetPgqSnapshot(SPI_getbinval(tup, desc, 8, &isnull));
	batch->end = DatumGetPgqSnapshot(SPI_getbinval(tup, desc, 9, &isnull));
	return true;
}

/*
 * Pick the event tables that can hold the batch's events; stores 1 or 2
 * table names ("schema.table", unquoted, older first) and returns the count.
 *
 * A rotation switches inserts to the next table in transaction step1 and
 * records in a later transaction a txid step2 that is known to be after
 * step1 committed.  Transactions that the batch covers all started before
 * end.xmax; if that is below step1 they wrote into the previous table.
 * If the batch starts (start.xmin) after step2, every transaction it covers
 * began after the switch was visible and wrote into the current table.
 * Otherwise the batch straddles the switch and needs both.
 */
static int
batch_tables(const BatchInfo *batch, char **tables)
{
	int			prev = (batch->cur_table + batch->ntables - 1) % batch->ntables;

	if (batch->end->xmax < (uint64) batch->switch_step1)
	{
		tables[0] = psprintf("%s_%d", batch->data_pfx, prev);
		return 1;
	}
	if (batch->has_step2 && batch->start->xmin > (uint64) batch->switch_step2)
	{
		tables[0] = psprintf("%s_%d", batch->data_pfx, batch->cur_table);
		return 1;
	}
	tables[0] = psprintf("%s_%d", batch->data_pfx, prev);
	tables[1] = psprintf("%s_%d", batch->data_pfx, batch->cur_table);
	return 2;
}

/*
 * Lock the batch's event tables as its query would, in the same order.
 * Returns false if one of them does not exist (any more).
 */
static bool
lock_batch_tables(const BatchInfo *batch)
{
	char	   *tables[2];
	int			ntables = batch_tables(batch, tables);
	int			i;

	for (i = 0; i < ntables; i++)
	{
		char	   *schema;
		char	   *name;
		RangeVar   *rv;

		pgq_split_name(tables[i], &schema, &name);
		rv = makeRangeVar(schema ? schema : "public", name, -1);
		if (!OidIsValid(RangeVarGetRelidExtended(rv, AccessShareLock,
												 RVR_MISSING_OK, NULL, NULL)))
			return false;
	}
	return true;
}

/*
 * Append a bigint[] literal holding the given txids.
 */
static void
append_txid_array(StringInfo buf, const uint64 *txids, int n)
{
	int			i;

	appendStringInfoString(buf, "'{");
	for (i = 0; i < n; i++)
		appendStringInfo(buf, "%s" UINT64_FORMAT, i > 0 ? "," : "", txids[i]);
	appendStringInfoString(buf, "}'::pg_catalog.int8[]");
}

/*
 * Append the SELECT over one event table (see the file header for the
 * visibility rule it encodes).
 */
static void
append_table_query(StringInfo sql, const BatchInfo *batch, const char *table)
{
	const PgqSnapshot *start = batch->start;
	const PgqSnapshot *end = batch->end;
	uint64	   *pending_at_end;
	int			npending = 0;
	uint64	   *finished_since_start;
	int			nfinished = 0;
	uint32		i;
	uint32		j;

	/* txids at or above start.xmax that were still running at the end */
	pending_at_end = palloc(sizeof(uint64) * (end->nxip + 1));
	for (i = 0; i < end->nxip; i++)
		if (end->xip[i] >= start->xmax)
			pending_at_end[npending++] = end->xip[i];

	/* txids running at the start that the end sees (both lists sorted) */
	finished_since_start = palloc(sizeof(uint64) * (start->nxip + 1));
	for (i = 0, j = 0; i < start->nxip; i++)
	{
		while (j < end->nxip && end->xip[j] < start->xip[i])
			j++;
		if (j < end->nxip && end->xip[j] == start->xip[i])
			continue;
		finished_since_start[nfinished++] = start->xip[i];
	}

	appendStringInfo(sql,
					 "SELECT " EVENT_COLUMNS " FROM %s ev"
					 " WHERE (ev_owner IS NULL OR ev_owner = %d) AND ("
					 "(ev_txid >= " UINT64_FORMAT " AND ev_txid < " UINT64_FORMAT,
					 pgq_quote_name(table), batch->sub_id, start->xmax, end->xmax);
	if (npending > 0)
	{
		appendStringInfoString(sql, " AND ev_txid <> ALL (");
		append_txid_array(sql, pending_at_end, npending);
		appendStringInfoChar(sql, ')');
	}
	appendStringInfoChar(sql, ')');
	if (nfinished > 0)
	{
		appendStringInfoString(sql, " OR ev_txid = ANY (");
		append_txid_array(sql, finished_since_start, nfinished);
		appendStringInfoChar(sql, ')');
	}
	appendStringInfoChar(sql, ')');
}

/*
 * The SQL text returning the batch's events, optionally ending with the
 * " order by 1" that pgq.batch_event_sql() promises its callers.
 */
static char *
build_batch_sql(const BatchInfo *batch, bool with_order)
{
	StringInfoData sql;
	char	   *tables[2];
	int			ntables = batch_tables(batch, tables);
	int			i;

	initStringInfo(&sql);
	for (i = 0; i < ntables; i++)
	{
		if (i > 0)
			appendStringInfoString(&sql, " UNION ALL ");
		append_table_query(&sql, batch, tables[i]);
	}
	if (with_order)
		appendStringInfoString(&sql, " order by 1");
	return sql.data;
}

/*
 * The batch's event query, for other C files (retry.c).  Must be called
 * inside SPI.  Errors out if the batch does not exist.
 */
char *
pgq_batch_sql(int64 batch_id, bool with_order, int32 *queue_id, int32 *sub_id)
{
	BatchInfo	batch;

	if (!load_batch(batch_id, &batch))
		batch_not_found(batch_id);

	/*
	 * Readers take no row locks, so drop_queue may have removed the queue
	 * since we read the batch.  Once we hold the event tables, it cannot
	 * any more; if one is missing, another look (a new snapshot) shows the
	 * batch gone with it.
	 */
	if (!lock_batch_tables(&batch) && !load_batch(batch_id, &batch))
		batch_not_found(batch_id);
	*queue_id = batch.queue_id;
	*sub_id = batch.sub_id;
	return build_batch_sql(&batch, with_order);
}

/*
 * Keep an open batch from being finished or unregistered until the end of
 * the transaction: the queue row FOR KEY SHARE, then the subscription row
 * FOR SHARE, in the lock order of functions_admin.sql.  For the retry
 * functions, which must not leave retry rows behind for a subscription
 * that an unregistration removes meanwhile (nor trip over a queue being
 * dropped); readers of a batch take no locks.  Must be called inside SPI.
 * Errors out if the batch does not exist.
 */
void
pgq_lock_batch(int64 batch_id)
{
	static SPIPlanPtr plan_queue = NULL;
	static SPIPlanPtr plan_sub = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		args[1];

	pgq_prepare_once(&plan_queue,
					 "SELECT 1 FROM pgq.queue WHERE queue_id ="
					 " (SELECT sub_queue FROM pgq.subscription WHERE sub_batch = $1)"
					 " FOR KEY SHARE",
					 1, argtypes);
	pgq_prepare_once(&plan_sub,
					 "SELECT 1 FROM pgq.subscription WHERE sub_batch = $1"
					 " FOR SHARE",
					 1, argtypes);
	args[0] = Int64GetDatum(batch_id);

	/* the batch may also have been finished while we waited for the queue */
	if (!lock_row(plan_queue, args, NULL, "queue") ||
		!lock_row(plan_sub, args, NULL, "batch"))
		batch_not_found(batch_id);
}

/*
 * Run a prepared SELECT ... FOR <lock mode>; true if it found and locked a
 * row, which is then in SPI_tuptable.
 */
static bool
lock_row(SPIPlanPtr plan, Datum *args, const char *nulls, const char *what)
{
	int			ret = SPI_execute_plan(plan, args, nulls, false, 1);

	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not lock %s: %s", what, SPI_result_code_string(ret));
	return SPI_processed > 0;
}

static int64
batch_id_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("batch id must not be null")));
	return PG_GETARG_INT64(0);
}

/*
 * Read one tick of the queue into *tick; false if there is no such tick.
 * Must be called inside SPI.
 */
bool
pgq_read_tick(int32 queue_id, int64 tick_id, PgqTick *tick)
{
	static SPIPlanPtr plan = NULL;
	Oid			argtypes[2] = {INT4OID, INT8OID};
	Datum		args[2];
	bool		isnull;
	int			ret;

	pgq_prepare_once(&plan,
					 "SELECT tick_id, tick_time, tick_event_seq FROM pgq.tick"
					 " WHERE tick_queue = $1 AND tick_id = $2",
					 2, argtypes);
	args[0] = Int32GetDatum(queue_id);
	args[1] = Int64GetDatum(tick_id);
	ret = SPI_execute_plan(plan, args, NULL, false, 1);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read tick: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;
	tick->tick_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	tick->tick_time = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	tick->event_seq = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, &isnull));
	return true;
}

/*
 * Choose the end tick of a new batch that starts at "start", under the
 * conditions of next_batch_custom: fcinfo's arguments lag_arg, lag_arg + 1
 * and lag_arg + 2 are its i_min_lag, i_min_count and i_min_interval.
 * Without size or interval wishes that is simply the next tick; otherwise
 * pgq.find_tick_helper() decides.  Returns false if no tick qualifies.
 * Must be called inside SPI.
 */
bool
pgq_choose_end_tick(int32 queue_id, const PgqTick *start,
					FunctionCallInfo fcinfo, int lag_arg, PgqTick *end)
{
	static SPIPlanPtr plan_next = NULL;
	static SPIPlanPtr plan_helper = NULL;
	bool		want_count = !PG_ARGISNULL(lag_arg + 1);
	bool		want_interval = !PG_ARGISNULL(lag_arg + 2);
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		d;
	int			ret;

	if (!want_count && !want_interval)
	{
		Oid			argtypes[2] = {INT4OID, INT8OID};
		Datum		args[2];

		pgq_prepare_once(&plan_next,
						 "SELECT tick_id, tick_time, tick_event_seq FROM pgq.tick"
						 " WHERE tick_queue = $1 AND tick_id > $2"
						 " ORDER BY tick_queue, tick_id LIMIT 1",
						 2, argtypes);
		args[0] = Int32GetDatum(queue_id);
		args[1] = Int64GetDatum(start->tick_id);
		ret = SPI_execute_plan(plan_next, args, NULL, false, 1);
	}
	else
	{
		Oid			argtypes[6] = {INT4OID, INT8OID, TIMESTAMPTZOID, INT8OID,
								   INT8OID, INTERVALOID};
		Datum		args[6];
		char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

		pgq_prepare_once(&plan_helper,
						 "SELECT next_tick_id, next_tick_time, next_tick_seq"
						 " FROM pgq.find_tick_helper($1, $2, $3, $4, $5, $6)",
						 6, argtypes);
		args[0] = Int32GetDatum(queue_id);
		args[1] = Int64GetDatum(start->tick_id);
		args[2] = TimestampTzGetDatum(start->tick_time);
		args[3] = Int64GetDatum(start->event_seq);
		args[4] = want_count ? Int64GetDatum((int64) PG_GETARG_INT32(lag_arg + 1)) : (Datum) 0;
		nulls[4] = want_count ? ' ' : 'n';
		args[5] = want_interval ? PG_GETARG_DATUM(lag_arg + 2) : (Datum) 0;
		nulls[5] = want_interval ? ' ' : 'n';
		ret = SPI_execute_plan(plan_helper, args, nulls, false, 1);
	}
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not find next tick: %s", SPI_result_code_string(ret));
	if (SPI_processed == 0)
		return false;

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	d = SPI_getbinval(tup, desc, 1, &isnull);
	if (isnull)
		return false;
	end->tick_id = DatumGetInt64(d);
	end->tick_time = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
	end->event_seq = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));

	/*
	 * i_min_lag: the end tick must be at least this old.  A lag too long to
	 * measure in microseconds is never reached, as in SQL.
	 */
	if (!PG_ARGISNULL(lag_arg) &&
		pgq_usecs_between(GetCurrentTransactionStartTimestamp(), end->tick_time) <
		pgq_interval_usecs(PG_GETARG_INTERVAL_P(lag_arg)))
		return false;
	return true;
}

/*
 * pgq.next_batch_custom(i_queue_name, i_consumer_name, i_min_lag,
 *						 i_min_count, i_min_interval)
 *
 * Returns the consumer's open batch, or opens a new one if a suitable end
 * tick exists, or a row of NULLs.  The subscription row is locked, so two
 * sessions asking for the same consumer's batch get the same one.  The
 * queue row is share-locked before it (the lock order is described in
 * functions_admin.sql): a consumer that goes on to retry events or finish
 * the batch in the same transaction writes rows whose foreign keys lock
 * the queue row, and drop_queue must wait for that transaction rather
 * than hold the queue row while waiting for our subscription row.
 */
Datum
pgq_next_batch_custom(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_queue = NULL;
	static SPIPlanPtr plan_sub = NULL;
	static SPIPlanPtr plan_open = NULL;
	Oid			queue_types[1] = {TEXTOID};
	Datum		queue_args[1];
	Oid			sub_types[2] = {INT4OID, TEXTOID};
	Datum		sub_args[2];
	Oid			open_types[3] = {INT4OID, INT4OID, INT8OID};
	Datum		open_args[3];
	char	   *queue_name;
	char	   *consumer_name;
	TupleDesc	result_desc;
	Datum		values[7];
	bool		nulls[7];
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	int32		queue_id = 0;
	int32		consumer_id;
	Datum		d;
	bool		has_start;
	bool		has_open_batch;
	PgqTick		start;
	PgqTick		end;
	int64		batch_id;
	int			ret;

	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");

	queue_name = PG_ARGISNULL(0) ? "NULL" : text_to_cstring(PG_GETARG_TEXT_PP(0));
	consumer_name = PG_ARGISNULL(1) ? "NULL" : text_to_cstring(PG_GETARG_TEXT_PP(1));

	SPI_connect();

	/* a NULL queue name is reported below as a missing registration */
	if (!PG_ARGISNULL(0))
	{
		pgq_prepare_once(&plan_queue,
						 "SELECT queue_id FROM pgq.queue WHERE queue_name = $1"
						 " FOR KEY SHARE",
						 1, queue_types);
		queue_args[0] = CStringGetTextDatum(queue_name);
		if (!lock_row(plan_queue, queue_args, NULL, "queue"))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("queue \"%s\" does not exist", queue_name)));
		queue_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	}

	pgq_prepare_once(&plan_sub,
					 "SELECT s.sub_consumer, s.sub_last_tick,"
					 " s.sub_batch, s.sub_next_tick"
					 " FROM pgq.subscription s"
					 " JOIN pgq.consumer c ON c.co_id = s.sub_consumer"
					 " WHERE s.sub_queue = $1 AND c.co_name = $2"
					 " FOR UPDATE OF s",
					 2, sub_types);
	sub_args[0] = Int32GetDatum(queue_id);
	sub_args[1] = CStringGetTextDatum(consumer_name);
	if (!lock_row(plan_sub, sub_args,
				  (PG_ARGISNULL(0) || PG_ARGISNULL(1)) ? "nn" : NULL,
				  "subscription"))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("consumer \"%s\" is not registered on queue \"%s\"",
						consumer_name, queue_name)));

	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	consumer_id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
	d = SPI_getbinval(tup, desc, 2, &isnull);
	has_start = !isnull;
	start.tick_id = isnull ? 0 : DatumGetInt64(d);
	d = SPI_getbinval(tup, desc, 3, &isnull);
	has_open_batch = !isnull;
	batch_id = isnull ? 0 : DatumGetInt64(d);
	d = SPI_getbinval(tup, desc, 4, &isnull);
	end.tick_id = isnull ? 0 : DatumGetInt64(d);

	if (!has_start || !pgq_read_tick(queue_id, start.tick_id, &start))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("consumer \"%s\" on queue \"%s\" does not see tick %s",
						consumer_name, queue_name,
						has_start ? psprintf(INT64_FORMAT, start.tick_id) : "NULL"),
				 errdetail("The tick its position refers to is missing from pgq.tick.")));

	memset(nulls, true, sizeof(nulls));
	if (has_open_batch)
	{
		/* a batch is open: hand it out again */
		if (!pgq_read_tick(queue_id, end.tick_id, &end))
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("batch " INT64_FORMAT " of consumer \"%s\" on queue \"%s\" ends at missing tick " INT64_FORMAT,
							batch_id, consumer_name, queue_name, end.tick_id)));
	}
	else
	{
		if (!pgq_choose_end_tick(queue_id, &start, fcinfo, 2, &end))
		{
			SPI_finish();
			PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(result_desc, values, nulls)));
		}

		pgq_prepare_once(&plan_open,
						 "UPDATE pgq.subscription"
						 " SET sub_batch = nextval('pgq.batch_id_seq'),"
						 " sub_next_tick = $3, sub_active = now()"
						 " WHERE sub_queue = $1 AND sub_consumer = $2"
						 " RETURNING sub_batch",
						 3, open_types);
		open_args[0] = Int32GetDatum(queue_id);
		open_args[1] = Int32GetDatum(consumer_id);
		open_args[2] = Int64GetDatum(end.tick_id);
		ret = SPI_execute_plan(plan_open, open_args, NULL, false, 1);
		if (ret != SPI_OK_UPDATE_RETURNING || SPI_processed != 1)
			elog(ERROR, "could not open batch: %s", SPI_result_code_string(ret));
		batch_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
	}
	SPI_finish();

	values[0] = Int64GetDatum(batch_id);
	values[1] = Int64GetDatum(end.tick_id);
	values[2] = Int64GetDatum(start.tick_id);
	values[3] = TimestampTzGetDatum(end.tick_time);
	values[4] = TimestampTzGetDatum(start.tick_time);
	values[5] = Int64GetDatum(end.event_seq);
	values[6] = Int64GetDatum(start.event_seq);
	memset(nulls, false, sizeof(nulls));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(result_desc, values, nulls)));
}

/*
 * pgq.get_batch_events(x_batch_id bigint) returns setof event rows
 *
 * The rows go straight from the executor into the function's result
 * tuplestore, with no per-row copy in between.
 */
Datum
pgq_get_batch_events(PG_FUNCTION_ARGS)
{
	int64		batch_id = batch_id_arg(fcinfo);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	SPIExecuteOptions options;
	DestReceiver *dest;
	char	   *sql;
	int32		dummy;
	int			ret;

	InitMaterializedSRF(fcinfo, 0);

	SPI_connect();
	sql = pgq_batch_sql(batch_id, true, &dummy, &dummy);

	dest = CreateDestReceiver(DestTuplestore);
	SetTuplestoreDestReceiverParams(dest, rsinfo->setResult,
									rsinfo->econtext->ecxt_per_query_memory,
									false, NULL, NULL);
	memset(&options, 0, sizeof(options));
	options.dest = dest;
	ret = SPI_execute_extended(sql, &options);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "could not read batch events: %s", SPI_result_code_string(ret));
	dest->rDestroy(dest);

	SPI_finish();
	return (Datum) 0;
}

/*
 * pgq.get_batch_cursor(i_batch_id, i_cursor_name, i_quick_limit
 *						[, i_extra_where]) returns setof event rows
 *
 * Opens a cursor named exactly i_cursor_name over the batch's events, in
 * the caller's transaction, and returns its first i_quick_limit rows.  The
 * caller FETCHes the rest and closes it.  i_extra_where filters the events
 * by an SQL condition on the event columns.
 */
Datum
pgq_get_batch_cursor(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64		batch_id;
	char	   *cursor_name;
	int32		quick_limit;
	char	   *extra_where = NULL;
	char	   *sql;
	SPIParseOpenOptions options;
	Portal		portal;
	int32		dummy;

	InitMaterializedSRF(fcinfo, 0);

	/* the 4-argument form is not strict: NULL key arguments mean "nothing" */
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		return (Datum) 0;
	batch_id = PG_GETARG_INT64(0);
	cursor_name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	quick_limit = PG_GETARG_INT32(2);
	if (PG_NARGS() > 3 && !PG_ARGISNULL(3))
		extra_where = text_to_cstring(PG_GETARG_TEXT_PP(3));

	SPI_connect();
	if (extra_where == NULL)
		sql = pgq_batch_sql(batch_id, true, &dummy, &dummy);
	else
		sql = psprintf("SELECT * FROM (%s) ev WHERE (%s) ORDER BY 1",
					   pgq_batch_sql(batch_id, false, &dummy, &dummy),
					   extra_where);

	memset(&options, 0, sizeof(options));
	options.cursorOptions = CURSOR_OPT_NO_SCROLL;
	portal = SPI_cursor_parse_open(cursor_name, sql, &options);

	if (quick_limit > 0)
	{
		uint64		i;

		SPI_cursor_fetch(portal, true, quick_limit);
		for (i = 0; i < SPI_processed; i++)
			tuplestore_puttuple(rsinfo->setResult, SPI_tuptable->vals[i]);
		SPI_freetuptable(SPI_tuptable);
	}

	SPI_finish();
	return (Datum) 0;
}

/*
 * pgq.batch_event_sql(x_batch_id bigint) returns text
 */
Datum
pgq_batch_event_sql(PG_FUNCTION_ARGS)
{
	int64		batch_id = batch_id_arg(fcinfo);
	MemoryContext caller_cxt = CurrentMemoryContext;
	char	   *sql;
	text	   *result;
	int32		dummy;

	SPI_connect();
	sql = pgq_batch_sql(batch_id, true, &dummy, &dummy);
	result = (text *) MemoryContextAlloc(caller_cxt, VARHDRSZ + strlen(sql));
	SET_VARSIZE(result, VARHDRSZ + strlen(sql));
	memcpy(VARDATA(result), sql, strlen(sql));
	SPI_finish();

	PG_RETURN_TEXT_P(result);
}

/*
 * pgq.batch_event_tables(x_batch_id bigint) returns setof text
 */
Datum
pgq_batch_event_tables(PG_FUNCTION_ARGS)
{
	int64		batch_id = batch_id_arg(fcinfo);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	BatchInfo	batch;
	char	   *tables[2];
	int			ntables;
	int			i;
	MemoryContext oldcxt;
	TupleDesc	tupdesc;

	/*
	 * InitMaterializedSRF() insists on a composite result; this one returns
	 * plain text, so describe the single column by hand.
	 */
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	oldcxt = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupdesc = CreateTemplateTupleDesc(1);
	TupleDescInitEntry(tupdesc, (AttrNumber) 1, "batch_event_tables",
					   TEXTOID, -1, 0);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setDesc = tupdesc;
	rsinfo->setResult = tuplestore_begin_heap(true, false, work_mem);
	MemoryContextSwitchTo(oldcxt);

	SPI_connect();
	if (!load_batch(batch_id, &batch))
		batch_not_found(batch_id);
	ntables = batch_tables(&batch, tables);
	for (i = 0; i < ntables; i++)
	{
		Datum		value = CStringGetTextDatum(tables[i]);
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	SPI_finish();
	return (Datum) 0;
}
