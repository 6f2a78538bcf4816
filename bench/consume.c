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
 * With a fourth argument, text or binary, each batch is read instead
 * through a cursor of its own over pgq.batch_event_sql(), declared in that
 * format and fetched 300 rows at a time: what choosing the FETCH format
 * would change for a cursor-based consumer (the cost of the text output of
 * ev_time and the numbers, against their binary form).
 *
 * Usage: consume CONNINFO QUEUE CONSUMER [text|binary]
 * Prints one line: batches=N events=N bytes=N seconds=S read_seconds=S
 * server_cpu=S (read_seconds covers reading the events only; server_cpu is
 * the CPU time of the connection's server process).
 *
 * bench/consume.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "libpq-fe.h"

#include "backend_cpu.h"

static PGconn *conn;

#define CURSOR_FETCH "FETCH 300 FROM batch_rows"

static double
seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The result if it has the expected status; exits on anything else */
static PGresult *
expect(PGresult *res, ExecStatusType status)
{
	if (PQresultStatus(res) != status)
	{
		fprintf(stderr, "consume: %s", PQerrorMessage(conn));
		exit(1);
	}
	return res;
}

/* Run a query with text parameters */
static PGresult *
run(const char *sql, int nparams, const char *const *params)
{
	return expect(PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0),
				  PGRES_TUPLES_OK);
}

static void
command(const char *sql)
{
	PQclear(expect(PQexec(conn, sql), PGRES_COMMAND_OK));
}

/* the values of a result: rows, and bytes added to *bytes */
static int
count_result(PGresult *res, long long *bytes)
{
	int			nrows = PQntuples(res);
	int			ncols = PQnfields(res);

	for (int row = 0; row < nrows; row++)
		for (int col = 0; col < ncols; col++)
			*bytes += PQgetlength(res, row, col);
	return nrows;
}

/* Read a batch through a cursor in the given format; returns its events */
static long long
read_by_cursor(const char *batch_id, bool binary, long long *bytes)
{
	const char *batch_param[1] = {batch_id};
	PGresult   *res;
	char	   *declare;
	long long	events = 0;
	int			nrows;

	command("begin");
	res = run("select pgq.batch_event_sql($1)", 1, batch_param);
	declare = malloc(strlen(PQgetvalue(res, 0, 0)) + 64);
	if (declare == NULL)
	{
		fprintf(stderr, "consume: out of memory\n");
		exit(1);
	}
	sprintf(declare, "declare batch_rows %s no scroll cursor for %s",
			binary ? "binary" : "", PQgetvalue(res, 0, 0));
	PQclear(res);
	command(declare);
	free(declare);
	do
	{
		/* the simple protocol: with the extended one, FETCH's Bind says text */
		res = expect(PQexec(conn, CURSOR_FETCH), PGRES_TUPLES_OK);
		nrows = count_result(res, bytes);
		events += nrows;
		PQclear(res);
	} while (nrows > 0);
	command("commit");
	return events;
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
	const char *cursor_format = argc == 5 ? argv[4] : NULL;

	if ((argc != 4 && argc != 5) ||
		(cursor_format != NULL && strcmp(cursor_format, "text") != 0 &&
		 strcmp(cursor_format, "binary") != 0))
	{
		fprintf(stderr, "usage: consume CONNINFO QUEUE CONSUMER [text|binary]\n");
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
		if (cursor_format != NULL)
			events += read_by_cursor(batch_id, strcmp(cursor_format, "binary") == 0,
									 &bytes);
		else
		{
			res = run("select * from pgq.get_batch_events($1)", 1, batch_param);
			events += count_result(res, &bytes);
			PQclear(res);
		}
		read_seconds += seconds_now() - read_started;

		PQclear(run("select pgq.finish_batch($1)", 1, batch_param));
		batches++;
	}

	printf("batches=%ld events=%lld bytes=%lld seconds=%.6f read_seconds=%.6f"
		   " server_cpu=%.2f\n",
		   batches, events, bytes, seconds_now() - started, read_seconds,
		   backend_cpu_seconds(conn));
	PQfinish(conn);
	return 0;
}
