/*-------------------------------------------------------------------------
 *
 * latency.c
 *	  Benchmark client: end-to-end latency of events, from the producer's
 *	  commit to the consumer having them in hand.
 *
 * Two threads with a connection each.  The producer inserts COUNT events,
 * one per transaction, about every INTERVAL milliseconds (each gap drawn
 * uniformly from half to one and a half INTERVAL, so that the events do
 * not fall into step with the ticker), and notes the time its COMMIT
 * returned.  The consumer LISTENs on the queue's channel and, whenever it
 * is notified or has just finished a batch, asks for the next batch and
 * reads its events, noting the time get_batch_events returned.  It never
 * polls: without a batch it sleeps until the next notification (with a
 * 5 s safety timeout that is counted and reported).
 *
 * Usage: latency CONNINFO QUEUE CONSUMER COUNT INTERVAL_MS
 * Prints one line:
 *   events=N p50_ms=X p95_ms=X max_ms=X min_ms=X batches=N timeouts=N
 *
 * bench/latency.c
 *
 *-------------------------------------------------------------------------
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include "libpq-fe.h"

static const char *conninfo;
static const char *queue;
static const char *consumer;
static int	count;
static int	interval_ms;

static double *committed_at;	/* per event, by the producer */
static double *seen_at;			/* per event, by the consumer */
static long batches;
static long timeouts;

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static PGconn *
connect_or_die(void)
{
	PGconn	   *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "latency: %s", PQerrorMessage(conn));
		exit(1);
	}
	return conn;
}

/* Run a statement with text parameters; exits on error */
static PGresult *
run(PGconn *conn, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params,
								   NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
		PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		fprintf(stderr, "latency: %s", PQerrorMessage(conn));
		exit(1);
	}
	return res;
}

static void *
producer_main(void *arg)
{
	PGconn	   *conn = connect_or_die();
	double		next = now_seconds();
	unsigned int seed = 12345;

	for (int i = 0; i < count; i++)
	{
		char		number[16];
		const char *params[2] = {queue, number};
		double		wait;

		next += interval_ms / 1000.0 * (0.5 + (double) rand_r(&seed) / RAND_MAX);
		wait = next - now_seconds();
		if (wait > 0)
		{
			struct timespec ts;

			ts.tv_sec = (time_t) wait;
			ts.tv_nsec = (long) ((wait - ts.tv_sec) * 1e9);
			nanosleep(&ts, NULL);
		}
		snprintf(number, sizeof(number), "%d", i);
		PQclear(run(conn, "select pgq.insert_event($1, 'bench', $2)", 2, params));
		committed_at[i] = now_seconds();
	}
	PQfinish(conn);
	return NULL;
}

static void *
consumer_main(void *arg)
{
	PGconn	   *conn = connect_or_die();
	const char *queue_and_consumer[2] = {queue, consumer};
	char	   *listen_sql;
	char	   *quoted;
	int			received = 0;

	quoted = PQescapeIdentifier(conn, queue, strlen(queue));
	listen_sql = malloc(strlen(quoted) + 8);
	sprintf(listen_sql, "LISTEN %s", quoted);
	PQclear(run(conn, listen_sql, 0, NULL));
	PQfreemem(quoted);
	free(listen_sql);

	while (received < count)
	{
		PGresult   *res;
		PGnotify   *notify;
		char		batch_id[32];
		const char *batch_param[1] = {batch_id};

		/* notifications already received are used up by this look */
		PQconsumeInput(conn);
		while ((notify = PQnotifies(conn)) != NULL)
			PQfreemem(notify);

		res = run(conn, "select pgq.next_batch($1, $2)", 2, queue_and_consumer);
		if (PQgetisnull(res, 0, 0))
		{
			int			sock = PQsocket(conn);
			fd_set		fds;
			struct timeval tv = {5, 0};

			PQclear(res);
			FD_ZERO(&fds);
			FD_SET(sock, &fds);
			if (select(sock + 1, &fds, NULL, NULL, &tv) == 0)
				timeouts++;
			continue;
		}
		snprintf(batch_id, sizeof(batch_id), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);

		res = run(conn, "select ev_data from pgq.get_batch_events($1)", 1, batch_param);
		{
			double		t = now_seconds();

			for (int row = 0; row < PQntuples(res); row++)
			{
				int			i = atoi(PQgetvalue(res, row, 0));

				if (i >= 0 && i < count && seen_at[i] == 0)
				{
					seen_at[i] = t;
					received++;
				}
			}
		}
		PQclear(res);
		PQclear(run(conn, "select pgq.finish_batch($1)", 1, batch_param));
		batches++;
	}
	PQfinish(conn);
	return NULL;
}

static int
compare_doubles(const void *a, const void *b)
{
	double		x = *(const double *) a;
	double		y = *(const double *) b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	pthread_t	producer;
	pthread_t	consumer_thread;
	double	   *latency;

	if (argc != 6)
	{
		fprintf(stderr, "usage: latency CONNINFO QUEUE CONSUMER COUNT INTERVAL_MS\n");
		return 2;
	}
	conninfo = argv[1];
	queue = argv[2];
	consumer = argv[3];
	count = atoi(argv[4]);
	interval_ms = atoi(argv[5]);
	if (count <= 0 || interval_ms <= 0)
	{
		fprintf(stderr, "latency: COUNT and INTERVAL_MS must be positive\n");
		return 2;
	}

	committed_at = calloc(count, sizeof(double));
	seen_at = calloc(count, sizeof(double));
	latency = calloc(count, sizeof(double));

	pthread_create(&consumer_thread, NULL, consumer_main, NULL);
	pthread_create(&producer, NULL, producer_main, NULL);
	pthread_join(producer, NULL);
	pthread_join(consumer_thread, NULL);

	/*
	 * The consumer can have an event in hand a moment before the producer
	 * thread has noted its COMMIT as returned; such a latency counts as 0.
	 */
	for (int i = 0; i < count; i++)
		latency[i] = seen_at[i] > committed_at[i] ? (seen_at[i] - committed_at[i]) * 1000 : 0;
	qsort(latency, count, sizeof(double), compare_doubles);

	printf("events=%d p50_ms=%.1f p95_ms=%.1f max_ms=%.1f min_ms=%.1f batches=%ld timeouts=%ld\n",
		   count, latency[count / 2], latency[(int) (count * 0.95)],
		   latency[count - 1], latency[0], batches, timeouts);
	return 0;
}
