/*-------------------------------------------------------------------------
 *
 * main.c
 *	  queue_mover: moves every event of a queue into a queue of another
 *	  (or the same) database, exactly once.
 *
 *	  queue_mover [OPTION]... INI
 *
 * A serial consumer (libpgq's PGQ_CONSUMER_SERIAL): the events of a batch
 * are copied into dst_queue_name and the batch's tick is recorded with
 * pgq_ext.set_last_tick() in the same target transaction; the batch is
 * finished on the source only after that commit.  If the program dies in
 * between, the next run finds the tick already recorded and skips the
 * batch.  The engine does the bookkeeping; this file only copies events.
 *
 * src/queue_mover/main.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdlib.h>
#include <string.h>

#include "libpgq.h"

typedef struct Mover
{
	char	   *dst_queue;		/* malloc'd: a failed reload keeps it */
	PgqEventWriter *writer;
} Mover;

static const char *const service_names[] = {"queue_mover3", "queue_mover", NULL};

static const char ini_template[] =
"[queue_mover3]\n"
"## queue_mover: moves the events of queue_name in src_db into the\n"
"## queue dst_queue_name in dst_db, exactly once (doc/queue_mover.md).\n"
"## The main section may also be called [queue_mover].\n"
"\n"
"job_name = queue_mover_%(queue_name)s\n"
"\n"
"## the database of the source queue\n"
"src_db = dbname=sourcedb\n"
"\n"
"## the target database: needs the pgq and pgq_ext extensions\n"
"dst_db = dbname=targetdb\n"
"\n"
"## the source queue (compat name: pgq_queue_name)\n"
"queue_name = source_queue\n"
"\n"
"## the target queue; it must exist in dst_db\n"
"dst_queue_name = target_queue\n"
"\n"
"## registration name on the source queue and in pgq_ext (default: job_name)\n"
"#consumer_name = %(job_name)s\n"
"\n"
"logfile = ~/log/%(job_name)s.log\n"
"pidfile = ~/pid/%(job_name)s.pid\n"
"\n"
"## seconds to wait when there is no batch\n"
"#loop_delay = 1.0\n"
"\n"
"## seconds to wait after an error before the batch is tried again\n"
"#exception_sleep = 20\n"
"\n"
"## events fetched from the source at a time\n"
"#pgq_lazy_fetch = 300\n"
"\n"
"## take batches only once they hold this many events / span this interval\n"
"#pgq_batch_collect_events = 0\n"
"#pgq_batch_collect_interval = 1 minute\n"
"\n"
"## stay this far behind the head of the queue\n"
"#pgq_keep_lag = 0\n";

static bool
configure_mover(PgqConsumer *consumer, void *arg)
{
	Mover	   *mover = arg;
	const char *dst_queue = pgq_config_get(consumer, "dst_queue_name", NULL);
	const char *queue;
	const char *src_db;
	const char *dst_db;

	if (dst_queue == NULL || dst_queue[0] == '\0')
	{
		pgq_log(PGQ_LOG_ERROR, "config key dst_queue_name is missing");
		return false;
	}

	/*
	 * A queue moved into itself would grow without end.  Only the plain
	 * case is caught: two connect strings may name one database.
	 */
	queue = pgq_config_get(consumer, "queue_name",
						   pgq_config_get(consumer, "pgq_queue_name", NULL));
	src_db = pgq_config_get(consumer, "src_db", NULL);
	dst_db = pgq_config_get(consumer, "dst_db", NULL);
	if (queue != NULL && src_db != NULL && dst_db != NULL &&
		strcmp(queue, dst_queue) == 0 && strcmp(src_db, dst_db) == 0)
	{
		pgq_log(PGQ_LOG_ERROR,
				"dst_queue_name \"%s\" in dst_db is the source queue itself",
				dst_queue);
		return false;
	}
	free(mover->dst_queue);
	mover->dst_queue = strdup(dst_queue);
	if (mover->dst_queue == NULL)
	{
		pgq_log(PGQ_LOG_ERROR, "out of memory");
		return false;
	}
	return true;
}

static bool
move_batch(PgqBatch *batch, void *arg)
{
	Mover	   *mover = arg;
	PGconn	   *target = pgq_batch_target(batch);
	const PgqEvent *event;

	pgq_event_writer_begin(mover->writer, batch);
	/* the target gets ready while the source sorts the batch */
	if (!pgq_event_writer_open(mover->writer, target, mover->dst_queue))
		return false;
	while ((event = pgq_batch_next_event(batch)) != NULL)
	{
		if (!pgq_event_writer_add(mover->writer, target, mover->dst_queue, event))
			return false;
	}
	if (pgq_batch_failed(batch))
		return false;
	/* a failure of the writer is the consumer's error: "Job ... crashed" */
	return pgq_event_writer_flush(mover->writer, target);
}

int
main(int argc, char **argv)
{
	Mover		mover = {0};
	PgqProgram	program = {
		.name = "queue_mover",
		.service_names = service_names,
		.description = "Moves the events of a queue into a queue of another database, exactly once.",
		.ini_template = ini_template,
		.flavour = PGQ_CONSUMER_SERIAL,
		.src_db_key = "src_db",
		.dst_db_key = "dst_db",
		.configure = configure_mover,
		.process_batch = move_batch,
		.arg = &mover,
	};
	int			rc;

	mover.writer = pgq_event_writer_new();
	/* process_batch only adds and flushes: the COPY may stay open */
	pgq_event_writer_set_streaming(mover.writer, true);
	rc = pgq_program_main(&program, argc, argv);
	pgq_event_writer_free(mover.writer);
	free(mover.dst_queue);
	return rc;
}
