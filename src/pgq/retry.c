/*-------------------------------------------------------------------------
 *
 * retry.c
 *	  Putting events of an open batch aside for later delivery:
 *	  pgq.event_retry() (both forms) and pgq.batch_retry().
 *
 * A retried event is copied into pgq.retry_queue owned by the batch's
 * subscription, with its retry count raised by one.  The retry mover
 * (pgq.maint_retry_events) later re-inserts it into the queue, where only
 * that subscription sees it.  Events are found by running the batch's own
 * event query, so an event can be retried only from a batch it belongs to.
 * The primary key of pgq.retry_queue (ev_owner, ev_id) makes a second retry
 * of the same event a no-op.  The batch stays locked until commit, so an
 * unregistration of its consumer waits and then deletes the new rows with
 * the subscription.
 *
 * src/pgq/retry.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pgq.h"

PG_FUNCTION_INFO_V1(pgq_event_retry_at);
PG_FUNCTION_INFO_V1(pgq_event_retry_in);
PG_FUNCTION_INFO_V1(pgq_batch_retry);

static uint64 copy_to_retry_queue(int64 batch_id, bool one_event,
								  int64 event_id, TimestampTz retry_after);
static int32 retry_one_event(FunctionCallInfo fcinfo, TimestampTz retry_after);

/*
 * Copy events of the batch (all, or the one with event_id) into the retry
 * queue.  Returns the number of rows added; events already waiting there
 * for this subscription are left as they are.
 *
 * Rows go in in event id order.  A batch's own order need not be that
 * (re-queued retry events keep their old ids), and two transactions
 * adding the same events in different orders would deadlock on the
 * primary key.
 */
static uint64
copy_to_retry_queue(int64 batch_id, bool one_event, int64 event_id,
					TimestampTz retry_after)
{
	Oid			argtypes[2] = {TIMESTAMPTZOID, INT8OID};
	Datum		args[2];
	int32		queue_id;
	int32		sub_id;
	char	   *sql;
	int			ret;

	pgq_lock_batch(batch_id);
	sql = pgq_batch_sql(batch_id, false, &queue_id, &sub_id);
	sql = psprintf("INSERT INTO pgq.retry_queue"
				   " (ev_retry_after, ev_queue, ev_id, ev_time, ev_txid, ev_owner,"
				   " ev_retry, ev_type, ev_data,"
				   " ev_extra1, ev_extra2, ev_extra3, ev_extra4)"
				   " SELECT $1, %d, ev.ev_id, ev.ev_time, NULL, %d,"
				   " coalesce(ev.ev_retry, 0) + 1, ev.ev_type, ev.ev_data,"
				   " ev.ev_extra1, ev.ev_extra2, ev.ev_extra3, ev.ev_extra4"
				   " FROM (%s) ev%s ORDER BY ev.ev_id"
				   " ON CONFLICT (ev_owner, ev_id) DO NOTHING",
				   queue_id, sub_id, sql,
				   one_event ? " WHERE ev.ev_id = $2" : "");

	args[0] = TimestampTzGetDatum(retry_after);
	args[1] = Int64GetDatum(event_id);
	ret = SPI_execute_with_args(sql, 2, argtypes, args, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "could not copy events to the retry queue: %s",
			 SPI_result_code_string(ret));
	return SPI_processed;
}

/*
 * Shared body of both event_retry forms.  Returns 1 if the event was put
 * aside, 0 if it was already waiting in the retry queue.
 */
static int32
retry_one_event(FunctionCallInfo fcinfo, TimestampTz retry_after)
{
	int64		batch_id = PG_GETARG_INT64(0);
	int64		event_id = PG_GETARG_INT64(1);
	int32		result = 1;

	SPI_connect();
	if (copy_to_retry_queue(batch_id, true, event_id, retry_after) == 0)
	{
		Oid			argtypes[1] = {INT8OID};
		Datum		args[1];
		int32		queue_id;
		int32		sub_id;
		char	   *sql;
		int			ret;

		/*
		 * Nothing was added: either the event is in the batch and already
		 * waiting in the retry queue, or it is not in the batch at all (it
		 * may still be waiting there from an earlier batch, which must not
		 * make this call succeed).
		 */
		sql = psprintf("SELECT 1 FROM (%s) ev WHERE ev.ev_id = $1",
					   pgq_batch_sql(batch_id, false, &queue_id, &sub_id));
		args[0] = Int64GetDatum(event_id);
		ret = SPI_execute_with_args(sql, 1, argtypes, args, NULL, false, 1);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "could not read batch events: %s",
				 SPI_result_code_string(ret));
		if (SPI_processed == 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("event " INT64_FORMAT " is not in batch " INT64_FORMAT,
							event_id, batch_id)));
		result = 0;
	}
	SPI_finish();
	return result;
}

static void
check_retry_args(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("batch id, event id and retry time must not be null")));
}

/*
 * pgq.event_retry(x_batch_id bigint, x_event_id bigint,
 *				   x_retry_time timestamptz) returns integer
 */
Datum
pgq_event_retry_at(PG_FUNCTION_ARGS)
{
	check_retry_args(fcinfo);
	PG_RETURN_INT32(retry_one_event(fcinfo, PG_GETARG_TIMESTAMPTZ(2)));
}

/*
 * pgq.event_retry(x_batch_id bigint, x_event_id bigint,
 *				   x_retry_seconds integer) returns integer
 */
Datum
pgq_event_retry_in(PG_FUNCTION_ARGS)
{
	check_retry_args(fcinfo);
	PG_RETURN_INT32(retry_one_event(fcinfo,
									GetCurrentTransactionStartTimestamp() +
									(int64) PG_GETARG_INT32(2) * USECS_PER_SEC));
}

/*
 * pgq.batch_retry(i_batch_id bigint, i_retry_seconds integer) returns integer
 *
 * Puts every event of the batch aside; returns how many were added.
 */
Datum
pgq_batch_retry(PG_FUNCTION_ARGS)
{
	TimestampTz retry_after;
	uint64		added;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("batch id and retry seconds must not be null")));
	retry_after = GetCurrentTransactionStartTimestamp() +
		(int64) PG_GETARG_INT32(1) * USECS_PER_SEC;

	SPI_connect();
	added = copy_to_retry_queue(PG_GETARG_INT64(0), false, 0, retry_after);
	SPI_finish();

	PG_RETURN_INT32((int32) added);
}
