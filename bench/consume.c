/*-------------------------------------------------------------------------
 *
 * consume.c
 *	  Benchmark consumer: reads every batch of a queue through libpq the way
 *	  a client does (next_batch, get_batch_events, finish_batch, each in its
 *	  own statement) and reports how many events it received and how long
 *	  that took.
 *
 * libpq receives and stores the complete text-format result of each batch
 * before returning it, so the time includes the transfer of every value;
 * the value lengths are summed to report how much data that was.
 *
 * Usage: consume CONNINFO QUEUE CONSUMER
 * Prints one line: batches=N events=N bytes=N seconds=S read_seconds=S
 * (read_seconds covers the get_batch_events calls only).
 *
 * bench/consume.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "libpq-fe.h"

static PGconn *conn;

static double
seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run a query with text parameters; exits on any error */
static PGresult *
run(const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params,
								   NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "consume: %s", PQerrorMessage(conn));
		exit(1);
	}
	return res;
}

int
main(int argc, char **argv)
{
	const char *queue_and_consumer[2];
	long		batches = 0;
	long long	events = 0;
	long long	bytes = 0;
	double		started;
	double		read_seconds = 0;

	if (argc != 4)
	{
		fprintf(stderr, "usage: consume CONNINFO QUEUE CONSUMER\n");
		return 2;
	}
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "consume: %s", PQerrorMessage(conn));
		return 1;
	}
	queue_and_consumer[0] = argv[2];
	queue_and_consumer[1] = argv[3];

	started = seconds_now();
	for (;;)
	{
		PGresult   *res;
		char		batch_id[32];
		const char *batch_param[1] = {batch_id};
		double		read_started;
		int			nrows;
		int			ncols;

		res = run("select pgq.next_batch($1, $2)", 2, queue_and_consumer);
		if (PQgetisnull(res, 0, 0))
		{
			/* no further tick: the queue has been read to its end */
			PQclear(res);
			break;
		}
		snprintf(batch_id, sizeof(batch_id), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);

		read_started = seconds_now();
		res = run("select * from pgq.get_batch_events($1)", 1, batch_param);
		nrows = PQntuples(res);
		ncols = PQnfields(res);
		for (int row = 0; row < nrows; row++)
			for (int col = 0; col < ncols; col++)
				bytes += PQgetlength(res, row, col);
		events += nrows;
		PQclear(res);
		read_seconds += seconds_now() - read_started;

		PQclear(run("select pgq.finish_batch($1)", 1, batch_param));
		batches++;
	}

	printf("batches=%ld events=%lld bytes=%lld seconds=%.6f read_seconds=%.6f\n",
		   batches, events, bytes, seconds_now() - started, read_seconds);
	PQfinish(conn);
	return 0;
}
