/*-------------------------------------------------------------------------
 *
 * coop.c
 *	  The per-batch functions of the pgq_coop extension:
 *	  pgq_coop.next_batch_custom() (the 7-argument form, which every other
 *	  next_batch form calls) and pgq_coop.finish_batch().
 *
 * They live in pgq's shared library so that handing a batch to a member
 * costs about what pgq.next_batch costs a plain consumer: the main
 * consumer's next batch is chosen with pgq's own tick lookup and closed on
 * the main consumer in the same statement that gives it to the member,
 * instead of being opened by pgq.next_batch_custom and then moved by two
 * more updates.  The result and the row locks are those of pgq_coop 3.4's
 * sequence: the queue row FOR KEY SHARE, the main consumer's subscription
 * row FOR UPDATE, then the member's, then (taking over) a silent member's.
 * The whole lock order is described in src/pgq_coop/functions.sql.
 *
 * src/pgq_coop/coop.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type_d.h"
#include "utils/builtins.h"

#include "pgq.h"

PG_FUNCTION_INFO_V1(pgq_coop_next_batch_custom);
PG_FUNCTION_INFO_V1(pgq_coop_finish_batch);

/* The columns of a subscription row that the group functions look at */
typedef struct CoopSub
{
	int32		consumer;
	int32		sub_id;
	bool		has_batch;
	int64		batch;
	bool		has_last_tick;
	int64		last_tick;
	bool		has_next_tick;
	int64		next_tick;
} CoopSub;

/*
 * Read columns sub_consumer, sub_id, sub_batch, sub_last_tick and
 * sub_next_tick, in that order from column "first" on, of the row-th row of
 * SPI_tuptable.
 */
static void
read_sub(uint64 row, int first, CoopSub *sub)
{
	HeapTuple	tup = SPI_tuptable->vals[row];
	TupleDesc	desc = SPI_tuptable->tupdesc;
	bool		isnull;
	Datum		d;

	sub->consumer = DatumGetInt32(SPI_getbinval(tup, desc, first, &isnull));
	sub->sub_id = DatumGetInt32(SPI_getbinval(tup, desc, first + 1, &isnull));
	d = SPI_getbinval(tup, desc, first + 2, &isnull);
	sub->has_batch = !isnull;
	sub->batch = isnull ? 0 : DatumGetInt64(d);
	d = SPI_getbinval(tup, desc, first + 3, &isnull);
	sub->has_last_tick = !isnull;
	sub->last_tick = isnull ? 0 : DatumGetInt64(d);
	d = SPI_getbinval(tup, desc, first + 4, &isnull);
	sub->has_next_tick = !isnull;
	sub->next_tick = isnull ? 0 : DatumGetInt64(d);
}

static void
execute_plan(SPIPlanPtr plan, Datum *args, const char *nulls, int expected,
			 const char *what)
{
	int			ret = SPI_execute_plan(plan, args, nulls, false, 0);

	if (ret != expected)
		elog(ERROR, "could not %s: %s", what, SPI_result_code_string(ret));
}

/*
 * Register the consumer and the member unless both have a subscription on
 * the queue.  This comes before any row is locked here, because
 * registration locks consumer names, which come before subscription rows
 * in the lock order.  Errors about the queue or NULL names come from
 * pgq_coop.register_subconsumer().
 */
static void
register_if_needed(Datum *names, const char *nulls, Datum member,
				   bool member_null)
{
	static SPIPlanPtr plan_count = NULL;
	static SPIPlanPtr plan_register = NULL;
	Oid			count_types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		count_args[3];
	char		count_nulls[3];
	bool		isnull;

	pgq_prepare_once(&plan_count,
					 "SELECT pg_catalog.count(*) FROM pgq.subscription s"
					 " JOIN pgq.queue q ON q.queue_id = s.sub_queue"
					 " JOIN pgq.consumer c ON c.co_id = s.sub_consumer"
					 " WHERE q.queue_name = $1 AND c.co_name IN ($2, $3)",
					 3, count_types);
	count_args[0] = names[0];
	count_args[1] = names[1];
	count_args[2] = member;
	count_nulls[0] = nulls[0];
	count_nulls[1] = nulls[1];
	count_nulls[2] = member_null ? 'n' : ' ';
	execute_plan(plan_count, count_args, count_nulls, SPI_OK_SELECT,
				 "look up the subscriptions");
	if (DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									SPI_tuptable->tupdesc, 1, &isnull)) >= 2)
		return;

	pgq_prepare_once(&plan_register,
					 "SELECT pgq_coop.register_subconsumer($1, $2, $3)",
					 3, count_types);
	execute_plan(plan_register, names, nulls, SPI_OK_SELECT,
				 "register the subconsumer");
}

/*
 * pgq_coop.next_batch_custom(i_queue_name, i_consumer_name,
 *							  i_subconsumer_name, i_min_lag, i_min_count,
 *							  i_min_interval, i_dead_interval)
 *
 * The member's open batch; else, given a dead interval, the batch of a
 * member silent for longer than that (a silent idle member is just
 * removed); else the main consumer's next batch, which the main consumer
 * passes at once; NULL if there is none yet.
 */
Datum
pgq_coop_next_batch_custom(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_queue = NULL;
	static SPIPlanPtr plan_group = NULL;
	static SPIPlanPtr plan_touch = NULL;
	static SPIPlanPtr plan_dead = NULL;
	static SPIPlanPtr plan_remove = NULL;
	static SPIPlanPtr plan_move = NULL;
	static SPIPlanPtr plan_handout = NULL;
	Oid			name_types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		names[3];
	char		name_nulls[3];
	char	   *queue_name;
	char	   *consumer_name;
	char	   *member_name;
	Datum		member;
	Oid			group_types[3] = {INT4OID, TEXTOID, TEXTOID};
	Datum		group_args[3];
	Oid			dead_types[5] = {INT4OID, INT4OID, INT4OID, INT4OID, INTERVALOID};
	Datum		dead_args[5];
	Oid			move_types[5] = {INT4OID, INT4OID, INT8OID, INT8OID, INT8OID};
	Datum		move_args[5];
	char		move_nulls[5] = {' ', ' ', ' ', ' ', ' '};
	Oid			handout_types[5] = {INT4OID, INT4OID, INT4OID, INT8OID, INT8OID};
	Datum		handout_args[5];
	int32		queue_id;
	bool		isnull;
	bool		found_main = false;
	bool		found_member = false;
	CoopSub		main_sub;
	CoopSub		member_sub;
	PgqTick		start;
	PgqTick		end;
	int64		batch_id;
	uint64		i;

	for (i = 0; i < 3; i++)
	{
		names[i] = PG_ARGISNULL(i) ? (Datum) 0 : PG_GETARG_DATUM(i);
		name_nulls[i] = PG_ARGISNULL(i) ? 'n' : ' ';
	}
	queue_name = PG_ARGISNULL(0) ? NULL : TextDatumGetCString(names[0]);
	consumer_name = PG_ARGISNULL(1) ? NULL : TextDatumGetCString(names[1]);
	member_name = (PG_ARGISNULL(1) || PG_ARGISNULL(2)) ? NULL :
		psprintf("%s.%s", consumer_name, TextDatumGetCString(names[2]));
	member = member_name ? CStringGetTextDatum(member_name) : (Datum) 0;

	SPI_connect();

	register_if_needed(names, name_nulls, member, member_name == NULL);

	/* registration has reported NULL names and a missing queue */
	pgq_prepare_once(&plan_queue,
					 "SELECT queue_id FROM pgq.queue WHERE queue_name = $1"
					 " FOR KEY SHARE",
					 1, name_types);
	execute_plan(plan_queue, names, name_nulls, SPI_OK_SELECT, "lock the queue");
	if (SPI_processed == 0)
		/* only a concurrent drop_queue gets here */
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("consumer \"%s\" is not registered on queue \"%s\"",
						consumer_name, queue_name)));
	queue_id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 1, &isnull));

	/*
	 * The main consumer's row and the member's, locked in that order: the
	 * sort comes before the row locks.
	 */
	pgq_prepare_once(&plan_group,
					 "SELECT c.co_name = $2, s.sub_consumer, s.sub_id,"
					 " s.sub_batch, s.sub_last_tick, s.sub_next_tick"
					 " FROM pgq.subscription s"
					 " JOIN pgq.consumer c ON c.co_id = s.sub_consumer"
					 " WHERE s.sub_queue = $1 AND c.co_name IN ($2, $3)"
					 " ORDER BY c.co_name = $2 DESC"
					 " FOR UPDATE OF s",
					 3, group_types);
	group_args[0] = Int32GetDatum(queue_id);
	group_args[1] = names[1];
	group_args[2] = member;
	execute_plan(plan_group, group_args, NULL, SPI_OK_SELECT,
				 "lock the subscriptions");
	for (i = 0; i < SPI_processed; i++)
	{
		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
									   SPI_tuptable->tupdesc, 1, &isnull)))
		{
			read_sub(i, 2, &main_sub);
			found_main = true;
		}
		else
		{
			read_sub(i, 2, &member_sub);
			found_member = true;
		}
	}

	/* only a concurrent unregister_consumer or drop_queue gets here */
	if (!found_main)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("consumer \"%s\" is not registered on queue \"%s\"",
						consumer_name, queue_name)));
	if (main_sub.has_next_tick)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("main consumer has batch open?"),
				 errdetail("Consumer \"%s\" took a batch with pgq.next_batch().",
						   consumer_name),
				 errhint("Finish it with pgq.finish_batch(); the members of a group take batches only through pgq_coop.")));
	/* only a concurrent unregister_subconsumer gets here */
	if (!found_member)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("subconsumer \"%s\" is not registered on queue \"%s\"",
						member_name, queue_name)));
	/* its retry events would go to another sub_id than its batches' */
	if (member_sub.sub_id != main_sub.sub_id)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("consumer \"%s\" is not a subconsumer of \"%s\"",
						member_name, consumer_name),
				 errhint("It was registered as a plain consumer; unregister it with pgq.unregister_consumer() first.")));

	move_args[0] = Int32GetDatum(queue_id);
	move_args[1] = Int32GetDatum(member_sub.consumer);

	if (member_sub.has_batch)
	{
		pgq_prepare_once(&plan_touch,
						 "UPDATE pgq.subscription SET sub_active = now()"
						 " WHERE sub_queue = $1 AND sub_consumer = $2",
						 2, move_types);
		execute_plan(plan_touch, move_args, NULL, SPI_OK_UPDATE,
					 "update the subscription");
		SPI_finish();
		PG_RETURN_INT64(member_sub.batch);
	}

	if (!PG_ARGISNULL(6))
	{
		CoopSub		dead;

		/*
		 * Silent members holding a batch first: their events are what the
		 * group is waiting for.
		 */
		pgq_prepare_once(&plan_dead,
						 "SELECT s.sub_consumer, s.sub_id, s.sub_batch,"
						 " s.sub_last_tick, s.sub_next_tick"
						 " FROM pgq.subscription s"
						 " WHERE s.sub_queue = $1 AND s.sub_id = $2"
						 " AND s.sub_consumer <> $3 AND s.sub_consumer <> $4"
						 " AND s.sub_active < now() - $5"
						 " ORDER BY s.sub_batch IS NULL, s.sub_active, s.sub_consumer"
						 " LIMIT 1"
						 " FOR UPDATE OF s",
						 5, dead_types);
		dead_args[0] = Int32GetDatum(queue_id);
		dead_args[1] = Int32GetDatum(main_sub.sub_id);
		dead_args[2] = Int32GetDatum(main_sub.consumer);
		dead_args[3] = Int32GetDatum(member_sub.consumer);
		dead_args[4] = PG_GETARG_DATUM(6);
		execute_plan(plan_dead, dead_args, NULL, SPI_OK_SELECT,
					 "look for silent subconsumers");
		if (SPI_processed > 0)
		{
			read_sub(0, 1, &dead);

			pgq_prepare_once(&plan_remove,
							 "DELETE FROM pgq.subscription"
							 " WHERE sub_queue = $1 AND sub_consumer = $2",
							 2, move_types);
			move_args[1] = Int32GetDatum(dead.consumer);
			execute_plan(plan_remove, move_args, NULL, SPI_OK_DELETE,
						 "remove the silent subconsumer");

			if (dead.has_batch)
			{
				pgq_prepare_once(&plan_move,
								 "UPDATE pgq.subscription"
								 " SET sub_batch = $3, sub_last_tick = $4,"
								 " sub_next_tick = $5, sub_active = now()"
								 " WHERE sub_queue = $1 AND sub_consumer = $2",
								 5, move_types);
				move_args[1] = Int32GetDatum(member_sub.consumer);
				move_args[2] = Int64GetDatum(dead.batch);
				move_args[3] = Int64GetDatum(dead.last_tick);
				move_nulls[3] = dead.has_last_tick ? ' ' : 'n';
				move_args[4] = Int64GetDatum(dead.next_tick);
				move_nulls[4] = dead.has_next_tick ? ' ' : 'n';
				execute_plan(plan_move, move_args, move_nulls, SPI_OK_UPDATE,
							 "take over the batch");
				SPI_finish();
				PG_RETURN_INT64(dead.batch);
			}
		}
	}

	/* the main consumer's next batch, as pgq.next_batch_custom finds it */
	if (!main_sub.has_last_tick ||
		!pgq_read_tick(queue_id, main_sub.last_tick, &start))
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("consumer \"%s\" on queue \"%s\" does not see tick %s",
						consumer_name, queue_name,
						main_sub.has_last_tick ?
						psprintf(INT64_FORMAT, main_sub.last_tick) : "NULL"),
				 errdetail("The tick its position refers to is missing from pgq.tick.")));
	if (!pgq_choose_end_tick(queue_id, &start, fcinfo, 3, &end))
	{
		SPI_finish();
		PG_RETURN_NULL();
	}

	/*
	 * One statement moves the main consumer to the batch's end and gives
	 * the batch to the member; CASE evaluates nextval() for the member's
	 * row only.
	 */
	pgq_prepare_once(&plan_handout,
					 "UPDATE pgq.subscription"
					 " SET sub_batch = CASE WHEN sub_consumer = $2 THEN NULL"
					 "   ELSE nextval('pgq.batch_id_seq') END,"
					 " sub_last_tick = CASE WHEN sub_consumer = $2 THEN $5"
					 "   ELSE $4 END,"
					 " sub_next_tick = CASE WHEN sub_consumer = $2 THEN NULL"
					 "   ELSE $5 END,"
					 " sub_active = now()"
					 " WHERE sub_queue = $1 AND sub_consumer IN ($2, $3)"
					 " RETURNING sub_batch",
					 5, handout_types);
	handout_args[0] = Int32GetDatum(queue_id);
	handout_args[1] = Int32GetDatum(main_sub.consumer);
	handout_args[2] = Int32GetDatum(member_sub.consumer);
	handout_args[3] = Int64GetDatum(start.tick_id);
	handout_args[4] = Int64GetDatum(end.tick_id);
	execute_plan(plan_handout, handout_args, NULL, SPI_OK_UPDATE_RETURNING,
				 "hand out the batch");
	batch_id = 0;
	for (i = 0; i < SPI_processed; i++)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i],
									  SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			batch_id = DatumGetInt64(d);
	}
	if (SPI_processed != 2 || batch_id == 0)
		elog(ERROR, "could not hand out the batch");
	SPI_finish();
	PG_RETURN_INT64(batch_id);
}

/*
 * pgq_coop.finish_batch(i_batch_id)
 *
 * Close a member's batch; the member goes back to having no position.  An
 * unknown or already finished batch is a WARNING and 0, as with
 * pgq.finish_batch: clients finish again after reconnecting.
 */
Datum
pgq_coop_finish_batch(PG_FUNCTION_ARGS)
{
	static SPIPlanPtr plan_queue = NULL;
	static SPIPlanPtr plan_finish = NULL;
	Oid			types[1] = {INT8OID};
	Datum		args[1];
	const char *nulls = PG_ARGISNULL(0) ? "n" : NULL;
	uint64		finished;

	args[0] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);

	SPI_connect();

	/*
	 * The queue row first, as everywhere else: a member that finishes and
	 * then takes its next batch in one transaction would otherwise hold its
	 * subscription row, which drop_queue waits for after locking the queue
	 * row that next_batch then needs.
	 */
	pgq_prepare_once(&plan_queue,
					 "SELECT 1 FROM pgq.queue WHERE queue_id IN"
					 " (SELECT sub_queue FROM pgq.subscription WHERE sub_batch = $1)"
					 " FOR KEY SHARE",
					 1, types);
	execute_plan(plan_queue, args, nulls, SPI_OK_SELECT, "lock the queue");

	pgq_prepare_once(&plan_finish,
					 "UPDATE pgq.subscription"
					 " SET sub_active = now(), sub_last_tick = NULL,"
					 " sub_next_tick = NULL, sub_batch = NULL"
					 " WHERE sub_batch = $1",
					 1, types);
	execute_plan(plan_finish, args, nulls, SPI_OK_UPDATE, "finish the batch");
	finished = SPI_processed;
	SPI_finish();

	if (finished == 0)
	{
		ereport(WARNING,
				(errmsg("coop_finish_batch: batch %s not found",
						PG_ARGISNULL(0) ? "<NULL>" :
						psprintf(INT64_FORMAT, PG_GETARG_INT64(0)))));
		PG_RETURN_INT32(0);
	}
	PG_RETURN_INT32(1);
}
