/*-------------------------------------------------------------------------
 *
 * batch.c
 *	  The batch loop: take a batch, hand its events to the program, tag
 *	  retries and finish it.
 *
 * The source connection runs in autocommit for pgq.next_batch_custom (so
 * the batch is taken at once), then one transaction holds the event
 * cursor, the program's own work on the source, the retries and
 * pgq.finish_batch.  The tracked flavours record the batch (target
 * commit, tracking file) before that transaction commits, and recognise
 * a batch recorded but not finished when it comes back (flavours.c).
 *
 * One of the two source commits of a batch does not wait for its WAL flush
 * (synchronous_commit = off for that transaction alone), because losing it
 * in a crash cannot lose or double an event:
 *	- PLAIN, COOP: taking the batch.  Lost, the batch is taken anew; any
 *	  later synchronous commit (the finish) flushes it first.
 *	- SERIAL, REMOTE, LOCAL: finishing it, when the transaction holds only
 *	  the library's statements.  Lost, the batch comes back and the record
 *	  of the target or the file skips it.  Taking the batch stays durable
 *	  there: REMOTE recognises the batch by its id, and SERIAL and LOCAL
 *	  by its ticks, which batch collection may choose differently anew.
 *	  And the flush of the take also makes the batch's end tick durable
 *	  before the target records it: a tick committed without a flush (a
 *	  ticker role with synchronous_commit = off) could otherwise vanish in
 *	  a crash and come back under the same id with other events in it.
 * That is one WAL flush per batch less to wait for.
 *
 * src/libpgq/batch.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "libpgq_int.h"

/*
 * Added to a query's select or FROM list: its transaction commits without
 * waiting for the WAL flush.
 */
#define NO_FLUSH_WAIT "pg_catalog.set_config('synchronous_commit', 'off', true)"

/* the batch of a queue's own consumer; NO_FLUSH_WAIT may follow */
#define NEXT_BATCH_SQL \
	"select cur_tick_id, prev_tick_id, cur_tick_event_seq, prev_tick_event_seq, cur_tick_time, prev_tick_time, batch_id" \
	" from pgq.next_batch_custom($1, $2, $3::interval, $4::int4, $5::interval)"

static bool take_batch(PgqConsumer *consumer, PgqBatch *batch, bool *found);
static bool finish_batch(PgqBatch *batch);
static void batch_cleanup(PgqBatch *batch);
static void log_stats(PgqBatch *batch, double start, bool skipped);

/*
 * Ask PgQ for the next batch; *found is false when there is none yet.
 */
static bool
take_batch(PgqConsumer *consumer, PgqBatch *batch, bool *found)
{
	PGresult   *res;
	char		id[32];

	*found = false;
	if (consumer->program->flavour == PGQ_CONSUMER_COOP)
	{
		const char *params[7] = {consumer->queue_name, consumer->consumer_name,
			consumer->subconsumer_name, consumer->keep_lag,
			consumer->collect_events, consumer->collect_interval,
		consumer->subconsumer_timeout};
		const char *one[1];

		res = pgq_query(consumer, batch->src,
						"select b from pgq_coop.next_batch_custom($1, $2, $3, $4::interval, $5::int4, $6::interval, $7::interval) b, "
						NO_FLUSH_WAIT, 7, params);
		if (res == NULL)
			return false;
		if (PQgetisnull(res, 0, 0))
		{
			PQclear(res);
			return true;
		}
		snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		one[0] = id;
		res = pgq_query(consumer, batch->src,
						"select tick_id, prev_tick_id, seq_end, seq_start, batch_end, batch_start from pgq.get_batch_info($1)",
						1, one);
		if (res == NULL)
			return false;
		batch->info.batch_id = strtoll(id, NULL, 10);
	}
	else
	{
		const char *params[5] = {consumer->queue_name, consumer->consumer_name,
			consumer->keep_lag, consumer->collect_events,
		consumer->collect_interval};
		bool		tracked = consumer->program->flavour != PGQ_CONSUMER_PLAIN;

		res = pgq_query(consumer, batch->src,
						tracked ? NEXT_BATCH_SQL : NEXT_BATCH_SQL ", " NO_FLUSH_WAIT,
						5, params);
		if (res == NULL)
			return false;
		if (PQntuples(res) != 1 || PQgetisnull(res, 0, 6))
		{
			PQclear(res);
			return true;
		}
		batch->info.batch_id = pgq_value_int64(res, 0, 6);
	}
	if (PQntuples(res) != 1)
	{
		pgq_set_error(consumer, "batch %lld has no batch info",
					  (long long) batch->info.batch_id);
		PQclear(res);
		return false;
	}
	batch->info.tick_id = pgq_value_int64(res, 0, 0);
	batch->info.prev_tick_id = pgq_value_int64(res, 0, 1);
	batch->info.tick_event_seq = pgq_value_int64(res, 0, 2);
	batch->info.prev_tick_event_seq = pgq_value_int64(res, 0, 3);
	batch->info.tick_time = pgq_value_text(res, 0, 4);
	batch->info.prev_tick_time = pgq_value_text(res, 0, 5);
	batch->info_res = res;
	*found = true;
	return true;
}

bool
pgq_batch_failed(PgqBatch *batch)
{
	return batch->failed;
}

PgqConsumer *
pgq_batch_consumer(PgqBatch *batch)
{
	return batch->consumer;
}

const PgqBatchInfo *
pgq_batch_info(PgqBatch *batch)
{
	return &batch->info;
}

/*
 * The tracked flavours record a batch as applied before its retries are
 * committed on the source, so a crash in between would lose the events
 * meant for retry: they refuse retries instead (python3-pgq documents
 * that they "must not use the retry queue").
 */
static bool
retry_allowed(PgqBatch *batch)
{
	PgqFlavour	flavour = batch->consumer->program->flavour;

	if (flavour == PGQ_CONSUMER_PLAIN || flavour == PGQ_CONSUMER_COOP)
		return true;
	pgq_set_error(batch->consumer,
				  "event retry is not possible for a consumer that tracks its batches (SERIAL, REMOTE, LOCAL)");
	batch->consumer->fatal = true;
	batch->failed = true;
	return false;
}

void
pgq_event_retry(PgqBatch *batch, const PgqEvent *event, int seconds)
{
	PgqRetry   *r;

	if (!retry_allowed(batch))
		return;
	r = pg_malloc0(sizeof(PgqRetry));
	r->event_id = event->id;
	r->seconds = seconds;
	r->next = batch->retries;
	batch->retries = r;
}

void
pgq_batch_retry(PgqBatch *batch, int seconds)
{
	if (retry_allowed(batch))
		batch->batch_retry = seconds;
}

PGconn *
pgq_batch_target(PgqBatch *batch)
{
	return batch->target;
}

void
pgq_batch_stat(PgqBatch *batch, const char *key, int64_t add)
{
	PgqStat    *s;
	PgqStat   **prev;

	for (prev = &batch->stats; (s = *prev) != NULL; prev = &s->next)
		if (strcmp(s->key, key) == 0)
			break;
	if (s == NULL)
	{
		s = pg_malloc0(sizeof(PgqStat));
		s->key = pg_strdup(key);
		*prev = s;
	}
	s->value += add;
}

/* retries, pgq.finish_batch (or pgq_coop's) and the source commit */
static bool
finish_batch(PgqBatch *batch)
{
	PgqConsumer *consumer = batch->consumer;
	char		id[32];
	char		ev[32];
	char		secs[16];
	const char *params[3] = {id, ev, secs};
	PgqRetry   *r;
	int			nretry = 0;
	PGresult   *res;
	const char *sql;

	snprintf(id, sizeof(id), "%lld", (long long) batch->info.batch_id);
	/*
	 * A program that stopped reading early leaves a read on its way.  The
	 * cursor needs no CLOSE: the COMMIT below ends it.
	 */
	if (!pgq_batch_settle(batch, false))
		return false;
	if (batch->batch_retry >= 0)
	{
		snprintf(secs, sizeof(secs), "%d", batch->batch_retry);
		params[1] = secs;
		res = pgq_query(consumer, batch->src, "select pgq.batch_retry($1, $2)", 2, params);
		if (res == NULL)
			return false;
		nretry = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	else
	{
		for (r = batch->retries; r != NULL; r = r->next)
		{
			snprintf(ev, sizeof(ev), "%lld", (long long) r->event_id);
			snprintf(secs, sizeof(secs), "%d", r->seconds);
			res = pgq_query(consumer, batch->src, "select pgq.event_retry($1, $2, $3::int4)", 3, params);
			if (res == NULL)
				return false;
			PQclear(res);
			nretry++;
		}
	}
	if (nretry > 0)
		pgq_batch_stat(batch, "retry-events", nretry);
	if (consumer->program->flavour == PGQ_CONSUMER_COOP)
		sql = "select pgq_coop.finish_batch($1)";
	else if (consumer->program->flavour == PGQ_CONSUMER_PLAIN || !batch->read_ahead)
		sql = "select pgq.finish_batch($1)";
	else
		/* tracked, and the program never had the source connection */
		sql = "select pgq.finish_batch($1), " NO_FLUSH_WAIT;
	res = pgq_query(consumer, batch->src, sql, 1, params);
	if (res == NULL)
		return false;
	PQclear(res);
	return pgq_command(consumer, batch->src, "COMMIT");
}

static void
batch_cleanup(PgqBatch *batch)
{
	PgqRetry   *r;
	PgqStat    *s;

	/* a read still on its way after a failure: the connection is closed */
	batch->consumer->batch = NULL;
	PQclear(batch->page);
	PQclear(batch->next_page);
	PQclear(batch->info_res);
	while ((r = batch->retries) != NULL)
	{
		batch->retries = r->next;
		pg_free(r);
	}
	while ((s = batch->stats) != NULL)
	{
		batch->stats = s->next;
		pg_free(s->key);
		pg_free(s);
	}
}

/*
 * The stats line after a batch: {count: N, duration: S[, idle: S], ...}.
 * idle is the time spent waiting for events before this batch; it is
 * reported with the first batch that has events, or every keepalive_stats
 * seconds so that a silent consumer can still be seen alive.
 */
static void
log_stats(PgqBatch *batch, double start, bool skipped)
{
	PgqConsumer *consumer = batch->consumer;
	double		now = pgq_now();
	PQExpBufferData buf;
	PgqStat    *s;

	initPQExpBuffer(&buf);
	appendPQExpBuffer(&buf, "{count: %lld, duration: %.4f",
					  (long long) batch->count, now - start);
	if (batch->count > 0 || start - consumer->idle_start > consumer->keepalive_stats)
	{
		appendPQExpBuffer(&buf, ", idle: %.4f", start - consumer->idle_start);
		consumer->idle_start = now;
	}
	if (skipped)
		appendPQExpBufferStr(&buf, ", skipped: 1");
	for (s = batch->stats; s != NULL; s = s->next)
		appendPQExpBuffer(&buf, ", %s: %lld", s->key, (long long) s->value);
	appendPQExpBufferChar(&buf, '}');
	log_info("%s", buf.data);
	termPQExpBuffer(&buf);
}

/* With no batch to handle: the keepalive stats line, when due. */
static void
log_idle(PgqConsumer *consumer)
{
	double		now = pgq_now();

	if (consumer->keepalive_stats > 0 &&
		now - consumer->idle_start > consumer->keepalive_stats)
	{
		log_info("{idle: %.4f}", now - consumer->idle_start);
		consumer->idle_start = now;
	}
}

int
pgq_consumer_work(PgqConsumer *consumer)
{
	const PgqProgram *program = consumer->program;
	PgqBatch	batch;
	bool		found;
	double		start = pgq_now();
	int			apply;
	bool		ok = false;

	resetPQExpBuffer(&consumer->error);
	consumer->fatal = false;
	memset(&batch, 0, sizeof(batch));
	batch.consumer = consumer;
	batch.batch_retry = -1;
	batch.read_ahead = true;

	if (consumer->queue_name == NULL && !pgq_consumer_load_settings(consumer))
		return -1;
	batch.src = pgq_consumer_connection(consumer, program->src_db_key, true);
	if (batch.src == NULL)
		goto failed;
	if (program->flavour == PGQ_CONSUMER_LOCAL && !consumer->position_checked)
	{
		if (!pgq_flavour_check_position(consumer))
			goto failed;
		consumer->position_checked = true;
	}
	if (!take_batch(consumer, &batch, &found))
		goto failed;
	if (!found)
	{
		log_idle(consumer);
		return 0;
	}
	log_debug("batch %lld: ticks %lld..%lld", (long long) batch.info.batch_id,
			  (long long) batch.info.prev_tick_id, (long long) batch.info.tick_id);

	if (!pgq_command(consumer, batch.src, "BEGIN"))
		goto failed;
	consumer->batch = &batch;
	if (!pgq_batch_start_read(&batch))
		goto failed;
	apply = pgq_flavour_before_batch(&batch);
	if (apply < 0)
		goto failed;
	if (apply > 0)
	{
		if (!program->process_batch(&batch, program->arg) || batch.failed)
		{
			if (consumer->error.len == 0)
				pgq_set_error(consumer, "batch %lld was not handled",
							  (long long) batch.info.batch_id);
			goto failed;
		}
		/* the program's own transactions first, then the batch's record */
		pgq_consumer_end_transactions(consumer, true);
		if (consumer->error.len > 0)
			goto failed;
		if (!pgq_flavour_after_batch(&batch))
			goto failed;
	}
	if (!finish_batch(&batch))
		goto failed;
	log_stats(&batch, start, apply == 0);
	ok = true;

failed:
	batch_cleanup(&batch);
	if (!ok)
	{
		/* the next attempt starts from fresh connections and checks */
		pgq_consumer_end_transactions(consumer, false);
		consumer->position_checked = false;
		return -1;
	}
	return 1;
}
