/*-------------------------------------------------------------------------
 *
 * libpgq_count.c
 *	  Benchmark consumer on the consumer library: a plain consumer that
 *	  counts the events of every batch, the work bench/python_count.py does
 *	  with python3-pgq, so that the two measure the libraries and not the
 *	  work.
 *
 * It drives the library without its program frame (pgq_consumer_work()
 * until no batch is left), which is what the frame's loop does between
 * sleeps.
 *
 * Usage: libpgq_count CONNINFO QUEUE CONSUMER LAZY_FETCH
 * Prints one line: batches=N events=N seconds=S server_cpu=S, the last
 * the CPU time of the source connection's server process
 *
 * bench/libpgq_count.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "libpgq.h"

#include "backend_cpu.h"

typedef struct Counts
{
	long		batches;
	long long	events;
} Counts;

static double
seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool
count_batch(PgqBatch *batch, void *arg)
{
	Counts	   *counts = arg;

	while (pgq_batch_next_event(batch) != NULL)
		counts->events++;
	if (pgq_batch_failed(batch))
		return false;
	counts->batches++;
	return true;
}

int
main(int argc, char **argv)
{
	static const char *const services[] = {"libpgq_count", NULL};
	Counts		counts = {0, 0};
	PgqProgram	program = {
		.name = "libpgq_count",
		.service_names = services,
		.description = "count the events of a queue",
		.flavour = PGQ_CONSUMER_PLAIN,
		.src_db_key = "src_db",
		.process_batch = count_batch,
		.arg = &counts,
	};
	PgqConsumer *consumer;
	double		started;
	double		seconds;
	PGconn	   *src;
	int			rc;

	if (argc != 5)
	{
		fprintf(stderr, "usage: %s CONNINFO QUEUE CONSUMER LAZY_FETCH\n", argv[0]);
		return 2;
	}
	consumer = pgq_consumer_new(&program);
	if (!pgq_consumer_set(consumer, "src_db", argv[1]) ||
		!pgq_consumer_set(consumer, "queue_name", argv[2]) ||
		!pgq_consumer_set(consumer, "consumer_name", argv[3]) ||
		!pgq_consumer_set(consumer, "pgq_lazy_fetch", argv[4]))
	{
		fprintf(stderr, "libpgq_count: %s\n", pgq_consumer_error(consumer));
		return 1;
	}
	started = seconds_now();
	while ((rc = pgq_consumer_work(consumer)) == 1)
		;
	if (rc < 0)
	{
		fprintf(stderr, "libpgq_count: %s\n", pgq_consumer_error(consumer));
		return 1;
	}
	seconds = seconds_now() - started;
	src = pgq_consumer_connection(consumer, "src_db", false);
	if (src == NULL)
	{
		fprintf(stderr, "libpgq_count: %s\n", pgq_consumer_error(consumer));
		return 1;
	}
	printf("batches=%ld events=%lld seconds=%.6f server_cpu=%.2f\n",
		   counts.batches, counts.events, seconds, backend_cpu_seconds(src));
	pgq_consumer_free(consumer);
	return 0;
}
