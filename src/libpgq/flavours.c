/*-------------------------------------------------------------------------
 *
 * flavours.c
 *	  What the consumer flavours add to the batch loop: the position
 *	  tracking of SERIAL (last tick on the target), REMOTE (last batch on
 *	  the target) and LOCAL (last tick in a file), and registration,
 *	  rewind and reset for each flavour.
 *
 * A tracked batch is recorded as applied before pgq.finish_batch commits.
 * If the program dies in between, the batch comes back from PgQ and the
 * record says it was applied: it is finished without being applied again.
 * If it dies before the record, nothing of the batch was recorded (the
 * target transaction never committed) and it is applied again.
 *
 * src/libpgq/flavours.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "libpgq_int.h"

static bool get_target_tick(PgqConsumer *consumer, PGconn *dst,
							int64_t *tick, bool *found);

static PGconn *
source(PgqConsumer *consumer)
{
	return pgq_consumer_connection(consumer, consumer->program->src_db_key, true);
}

/* run a one-row source function in autocommit; result kept by caller */
static PGresult *
source_call(PgqConsumer *consumer, const char *sql, int nparams,
			const char *const *params)
{
	PGconn	   *src = source(consumer);

	if (src == NULL)
		return NULL;
	return pgq_query(consumer, src, sql, nparams, params);
}

static bool
register_at(PgqConsumer *consumer, int64_t tick)
{
	char		t[32];
	const char *params[3] = {consumer->queue_name, consumer->consumer_name, t};
	PGresult   *res;

	snprintf(t, sizeof(t), "%lld", (long long) tick);
	res = source_call(consumer, "select pgq.register_consumer_at($1, $2, $3)", 3, params);
	PQclear(res);
	return res != NULL;
}

static bool
lost_position(PgqBatch *batch, int64_t tick)
{
	pgq_set_error(batch->consumer, "Lost position: batch %lld..%lld, dst has %lld",
				  (long long) batch->info.prev_tick_id,
				  (long long) batch->info.tick_id, (long long) tick);
	batch->consumer->fatal = true;
	return false;
}

/*
 * LOCAL, at startup and after a failure: bring the queue position and the
 * tracking file together.  The file wins: it records what was applied.
 */
bool
pgq_flavour_check_position(PgqConsumer *consumer)
{
	const char *params[2] = {consumer->queue_name, consumer->consumer_name};
	PGresult   *res;
	int64_t		local;
	int64_t		queue;
	bool		have_local;
	bool		registered;

	if (!pgq_tracking_read(consumer, &local, &have_local))
		return false;
	res = source_call(consumer,
					  "select last_tick from pgq.get_consumer_info($1, $2)", 2, params);
	if (res == NULL)
		return false;
	registered = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0);
	queue = registered ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
	PQclear(res);

	if (!registered && have_local)
	{
		log_info("Registering consumer at tick %lld", (long long) local);
		return register_at(consumer, local);
	}
	if (!registered)
	{
		log_info("Registering consumer at queue top");
		res = source_call(consumer, "select pgq.register_consumer($1, $2)", 2, params);
		PQclear(res);
		return res != NULL;
	}
	if (!have_local)
	{
		log_info("Local tick missing, storing queue tick %lld", (long long) queue);
		return pgq_tracking_write(consumer, queue);
	}
	if (local > queue)
	{
		log_warning("Tracking out of sync: queue=%lld local=%lld.  Repositioning on queue.  [Database failure?]",
					(long long) queue, (long long) local);
		return register_at(consumer, local);
	}
	if (local < queue)
	{
		log_warning("Tracking out of sync: queue=%lld local=%lld.  Rewinding queue.  [Lost file data?]",
					(long long) queue, (long long) local);
		return register_at(consumer, local);
	}
	log_info("Ticks match: Queue=%lld Local=%lld", (long long) queue, (long long) local);
	return true;
}

static bool
get_target_tick(PgqConsumer *consumer, PGconn *dst, int64_t *tick, bool *found)
{
	const char *params[1] = {consumer->consumer_name};
	PGresult   *res;

	res = pgq_query(consumer, dst, "select pgq_ext.get_last_tick($1)", 1, params);
	if (res == NULL)
		return false;
	*found = !PQgetisnull(res, 0, 0);
	*tick = *found ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
	PQclear(res);
	return true;
}

/*
 * Decide whether the batch is to be applied: 1 yes, 0 it already was
 * (finish it only), -1 error.  SERIAL and REMOTE open the target
 * transaction here, which the program's work then joins.
 */
int
pgq_flavour_before_batch(PgqBatch *batch)
{
	PgqConsumer *consumer = batch->consumer;
	const PgqProgram *program = consumer->program;
	int64_t		tick = -1;
	bool		found = false;

	switch (program->flavour)
	{
		case PGQ_CONSUMER_PLAIN:
		case PGQ_CONSUMER_COOP:
			return 1;
		case PGQ_CONSUMER_SERIAL:
		case PGQ_CONSUMER_REMOTE:
			batch->target = pgq_consumer_connection(consumer, program->dst_db_key, false);
			if (batch->target == NULL)
				return -1;
			if (program->flavour == PGQ_CONSUMER_REMOTE)
			{
				char		id[32];
				const char *params[2] = {consumer->consumer_name, id};
				PGresult   *res;
				bool		done;

				snprintf(id, sizeof(id), "%lld", (long long) batch->info.batch_id);
				res = pgq_query(consumer, batch->target,
								"select pgq_ext.is_batch_done($1, $2)", 2, params);
				if (res == NULL)
					return -1;
				done = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
				PQclear(res);
				if (!done)
					return 1;
				log_info("batch %lld was already applied, finishing it",
						 (long long) batch->info.batch_id);
				return pgq_command(consumer, batch->target, "ROLLBACK") ? 0 : -1;
			}
			if (!get_target_tick(consumer, batch->target, &tick, &found))
				return -1;
			break;
		case PGQ_CONSUMER_LOCAL:
			if (!pgq_tracking_read(consumer, &tick, &found))
				return -1;
			break;
	}
	if (!found || tick == batch->info.prev_tick_id)
		return 1;
	if (tick == batch->info.tick_id)
	{
		log_info("batch %lld (ticks %lld..%lld) was already applied, finishing it",
				 (long long) batch->info.batch_id,
				 (long long) batch->info.prev_tick_id, (long long) batch->info.tick_id);
		if (batch->target != NULL &&
			!pgq_command(consumer, batch->target, "ROLLBACK"))
			return -1;
		return 0;
	}
	return lost_position(batch, tick) ? 1 : -1;
}

/* Record the applied batch: commit the target with it, or write the file. */
bool
pgq_flavour_after_batch(PgqBatch *batch)
{
	PgqConsumer *consumer = batch->consumer;
	char		value[32];
	const char *params[2] = {consumer->consumer_name, value};
	PGresult   *res;

	switch (consumer->program->flavour)
	{
		case PGQ_CONSUMER_PLAIN:
		case PGQ_CONSUMER_COOP:
			return true;
		case PGQ_CONSUMER_SERIAL:
			snprintf(value, sizeof(value), "%lld", (long long) batch->info.tick_id);
			res = pgq_query(consumer, batch->target,
							"select pgq_ext.set_last_tick($1, $2)", 2, params);
			break;
		case PGQ_CONSUMER_REMOTE:
			snprintf(value, sizeof(value), "%lld", (long long) batch->info.batch_id);
			res = pgq_query(consumer, batch->target,
							"select pgq_ext.set_batch_done($1, $2)", 2, params);
			break;
		case PGQ_CONSUMER_LOCAL:
			return pgq_tracking_write(consumer, batch->info.tick_id);
		default:
			return false;
	}
	if (res == NULL)
		return false;
	PQclear(res);
	return pgq_command(consumer, batch->target, "COMMIT");
}

bool
pgq_consumer_register(PgqConsumer *consumer)
{
	const char *params[3];
	PGresult   *res;
	bool		created;
	PgqFlavour	flavour = consumer->program->flavour;

	if (consumer->queue_name == NULL && !pgq_consumer_load_settings(consumer))
		return false;
	params[0] = consumer->queue_name;
	params[1] = consumer->consumer_name;
	params[2] = consumer->subconsumer_name;
	if (flavour == PGQ_CONSUMER_COOP)
	{
		log_info("Registering subconsumer %s.%s on queue %s", consumer->consumer_name,
				 consumer->subconsumer_name, consumer->queue_name);
		res = source_call(consumer, "select pgq_coop.register_subconsumer($1, $2, $3)", 3, params);
	}
	else
	{
		log_info("Registering consumer %s on queue %s", consumer->consumer_name,
				 consumer->queue_name);
		res = source_call(consumer, "select pgq.register_consumer($1, $2)", 2, params);
	}
	if (res == NULL)
		return false;
	created = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
	PQclear(res);
	if (!created)
		log_info("Consumer was already registered");
	/* a new registration starts afresh: old tracking would be a lie */
	if (created && (flavour == PGQ_CONSUMER_SERIAL || flavour == PGQ_CONSUMER_LOCAL))
		return pgq_consumer_reset(consumer);
	return true;
}

bool
pgq_consumer_unregister(PgqConsumer *consumer)
{
	const char *params[3];
	PGresult   *res;
	PgqFlavour	flavour = consumer->program->flavour;

	if (consumer->queue_name == NULL && !pgq_consumer_load_settings(consumer))
		return false;
	params[0] = consumer->queue_name;
	params[1] = consumer->consumer_name;
	params[2] = consumer->subconsumer_name;
	if (flavour == PGQ_CONSUMER_COOP)
	{
		log_info("Unregistering subconsumer %s.%s from queue %s", consumer->consumer_name,
				 consumer->subconsumer_name, consumer->queue_name);
		res = source_call(consumer, "select pgq_coop.unregister_subconsumer($1, $2, $3, 0)", 3, params);
	}
	else
	{
		log_info("Unregistering consumer %s from queue %s", consumer->consumer_name,
				 consumer->queue_name);
		res = source_call(consumer, "select pgq.unregister_consumer($1, $2)", 2, params);
	}
	if (res == NULL)
		return false;
	PQclear(res);
	if (flavour == PGQ_CONSUMER_SERIAL || flavour == PGQ_CONSUMER_LOCAL)
		return pgq_consumer_reset(consumer);
	return true;
}

/* --rewind: move the queue position to the recorded tick. */
bool
pgq_consumer_rewind(PgqConsumer *consumer)
{
	int64_t		tick = -1;
	bool		found = false;

	if (consumer->program->flavour == PGQ_CONSUMER_SERIAL)
	{
		PGconn	   *dst = pgq_consumer_connection(consumer, consumer->program->dst_db_key, true);

		if (dst == NULL || !get_target_tick(consumer, dst, &tick, &found))
			return false;
		if (!found)
		{
			pgq_set_error(consumer, "cannot rewind: no tick found on the target for consumer %s",
						  consumer->consumer_name);
			return false;
		}
	}
	else if (consumer->program->flavour == PGQ_CONSUMER_LOCAL)
	{
		if (!pgq_tracking_read(consumer, &tick, &found))
			return false;
		if (!found)
		{
			pgq_set_error(consumer, "cannot rewind: no tick in local file \"%s\"",
						  consumer->tracking_file);
			return false;
		}
	}
	else
	{
		pgq_set_error(consumer, "--rewind needs a consumer that tracks its ticks (SERIAL or LOCAL)");
		return false;
	}
	log_info("Rewinding queue to tick %lld", (long long) tick);
	return register_at(consumer, tick);
}

/* --reset: forget the recorded position. */
bool
pgq_consumer_reset(PgqConsumer *consumer)
{
	if (consumer->program->flavour == PGQ_CONSUMER_SERIAL)
	{
		const char *params[2] = {consumer->consumer_name, NULL};
		PGconn	   *dst = pgq_consumer_connection(consumer, consumer->program->dst_db_key, true);
		PGresult   *res;

		if (dst == NULL)
			return false;
		log_info("Resetting queue tracking on dst side");
		res = pgq_query(consumer, dst, "select pgq_ext.set_last_tick($1, $2::int8)", 2, params);
		PQclear(res);
		return res != NULL;
	}
	if (consumer->program->flavour == PGQ_CONSUMER_LOCAL)
	{
		log_info("Removing local tracking file");
		return pgq_tracking_remove(consumer);
	}
	pgq_set_error(consumer, "--reset needs a consumer that tracks its ticks (SERIAL or LOCAL)");
	return false;
}
