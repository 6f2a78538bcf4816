/*
 * libpgq_probe: a consumer program on libpgq for the tests, and a front
 * to the library's helpers.
 *
 *	libpgq_probe FLAVOUR [switches] CONFIG.ini
 *		FLAVOUR: plain serial remote local coop.  Each event is recorded
 *		in the table named by the key "apply_table" (ev_id, ev_type,
 *		ev_data, batch_id) of "dst_db": in the batch's target transaction
 *		for SERIAL and REMOTE, else in a transaction the library commits
 *		before it records the batch.  Keys: retry_type (events of this
 *		type are retried once), fail_type (a batch with such an event fails),
 *		event_delay (seconds to sleep per event), source_query (run on the
 *		source connection, asked for anew, before event number
 *		source_query_at (default 3; 0: before the first event is asked
 *		for) of every batch; a batch fails if it fails).
 *	libpgq_probe urldecode TEXT		 pairs as HEXKEY HEXVALUE|NULL lines
 *	libpgq_probe urlencode HEXKEY HEXVALUE|NULL ...
 *	libpgq_probe template TEXT		 the SQL, or the error
 *	libpgq_probe tmplexec CONNSTR TEXT KEY=VALUE...  rows, tab-separated
 *	libpgq_probe execcmd CONNSTR SQL	"ok" or the error; exit 1 on error
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpgq.h>

static const char *apply_table;
static const char *retry_type;
static const char *fail_type;
static const char *source_query;
static int	source_query_at;
static double event_delay;

static bool
probe_configure(PgqConsumer *consumer, void *arg)
{
	apply_table = pgq_config_get(consumer, "apply_table", "applied");
	retry_type = pgq_config_get(consumer, "retry_type", NULL);
	fail_type = pgq_config_get(consumer, "fail_type", NULL);
	source_query = pgq_config_get(consumer, "source_query", NULL);
	source_query_at = pgq_config_get_int(consumer, "source_query_at", 3);
	event_delay = pgq_config_get_float(consumer, "event_delay", 0);
	return true;
}

/* source_query on the source connection, which the library hands over */
static bool
run_source_query(PgqBatch *batch, const PgqProgram *program)
{
	PgqConsumer *consumer = pgq_batch_consumer(batch);
	PGconn	   *src = pgq_consumer_connection(consumer, program->src_db_key, true);
	PGresult   *res = src ? PQexec(src, source_query) : NULL;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		pgq_log(PGQ_LOG_ERROR, "source_query failed: %s",
				src ? PQerrorMessage(src) : pgq_consumer_error(consumer));
		PQclear(res);
		return false;
	}
	PQclear(res);
	pgq_batch_stat(batch, "source_queries", 1);
	return true;
}

static bool
probe_batch(PgqBatch *batch, void *arg)
{
	PgqConsumer *consumer = pgq_batch_consumer(batch);
	const PgqProgram *program = arg;
	PGconn	   *dst = pgq_batch_target(batch);
	const PgqEvent *ev;
	char		sql[256];
	char		batch_id[32];
	char		ev_id[32];
	int			seen = 0;

	if (dst == NULL)
		dst = pgq_consumer_connection(consumer, program->dst_db_key, false);
	if (dst == NULL)
	{
		pgq_log(PGQ_LOG_ERROR, "%s", pgq_consumer_error(consumer));
		return false;
	}
	snprintf(sql, sizeof(sql),
			 "insert into %s (ev_id, ev_type, ev_data, batch_id) values ($1, $2, $3, $4)",
			 apply_table);
	snprintf(batch_id, sizeof(batch_id), "%lld",
			 (long long) pgq_batch_info(batch)->batch_id);
	if (source_query != NULL && source_query_at == 0 &&
		!run_source_query(batch, program))
		return false;
	while ((ev = pgq_batch_next_event(batch)) != NULL)
	{
		const char *params[4] = {ev_id, ev->type, ev->data, batch_id};
		PGresult   *res;

		if (source_query != NULL && ++seen == source_query_at &&
			!run_source_query(batch, program))
			return false;
		if (event_delay > 0)
		{
			struct timespec ts;

			ts.tv_sec = (time_t) event_delay;
			ts.tv_nsec = (long) ((event_delay - ts.tv_sec) * 1e9);
			nanosleep(&ts, NULL);
		}
		if (fail_type && ev->type && strcmp(ev->type, fail_type) == 0)
		{
			pgq_log(PGQ_LOG_ERROR, "event %lld has fail_type", (long long) ev->id);
			return false;
		}
		if (retry_type && ev->type && strcmp(ev->type, retry_type) == 0 &&
			ev->retry < 0)
		{
			pgq_event_retry(batch, ev, 0);
			continue;
		}
		snprintf(ev_id, sizeof(ev_id), "%lld", (long long) ev->id);
		res = PQexecParams(dst, sql, 4, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			pgq_log(PGQ_LOG_ERROR, "insert failed: %s", PQerrorMessage(dst));
			PQclear(res);
			return false;
		}
		PQclear(res);
		pgq_batch_stat(batch, "applied", 1);
	}
	return !pgq_batch_failed(batch);
}

static void
print_hex(const char *s)
{
	if (*s == '\0')
		printf("-");
	for (; *s; s++)
		printf("%02x", (unsigned char) *s);
}

static char *
from_hex(const char *hex)
{
	size_t		n = strlen(hex) / 2;
	char	   *out = malloc(n + 1);
	size_t		i;

	if (strcmp(hex, "-") == 0)
		n = 0;
	for (i = 0; i < n; i++)
	{
		unsigned int b;

		sscanf(hex + 2 * i, "%2x", &b);
		out[i] = (char) b;
	}
	out[n] = '\0';
	return out;
}

static int
helpers(int argc, char **argv)
{
	const char *cmd = argv[1];
	char	   *err = NULL;

	if (strcmp(cmd, "urldecode") == 0 && argc == 3)
	{
		PgqDict    *d = pgq_urldecode(argv[2]);
		int			i;

		if (d == NULL)
		{
			printf("MALFORMED\n");
			return 1;
		}
		for (i = 0; i < pgq_dict_count(d); i++)
		{
			print_hex(pgq_dict_key(d, i));
			printf(" ");
			if (pgq_dict_value(d, i) == NULL)
				printf("NULL");
			else
				print_hex(pgq_dict_value(d, i));
			printf("\n");
		}
		pgq_dict_free(d);
		return 0;
	}
	if (strcmp(cmd, "urlencode") == 0)
	{
		PgqDict    *d = pgq_dict_new();
		char	   *text;
		int			i;

		for (i = 2; i + 1 < argc; i += 2)
			pgq_dict_set(d, from_hex(argv[i]),
						 strcmp(argv[i + 1], "NULL") == 0 ? NULL : from_hex(argv[i + 1]));
		text = pgq_urlencode(d);
		printf("%s\n", text);
		pgq_free(text);
		pgq_dict_free(d);
		return 0;
	}
	if (strcmp(cmd, "template") == 0 && argc == 3)
	{
		PgqTemplate *t = pgq_template_parse(argv[2], &err);

		if (t == NULL)
		{
			printf("ERROR: %s\n", err);
			return 1;
		}
		printf("%s\n", pgq_template_sql(t));
		pgq_template_free(t);
		return 0;
	}
	if ((strcmp(cmd, "tmplexec") == 0 || strcmp(cmd, "execcmd") == 0) && argc >= 4)
	{
		PGconn	   *conn = PQconnectdb(argv[2]);
		PGresult   *res = NULL;

		if (PQstatus(conn) != CONNECTION_OK)
		{
			printf("ERROR: %s", PQerrorMessage(conn));
			return 1;
		}
		if (strcmp(cmd, "execcmd") == 0)
		{
			if (!pgq_exec_cmd(conn, argv[3], 0, NULL, &res, &err))
			{
				printf("ERROR: %s\n", err);
				return 1;
			}
			printf("ok %d\n", PQntuples(res));
		}
		else
		{
			PgqTemplate *t = pgq_template_parse(argv[3], &err);
			PgqDict    *d = pgq_dict_new();
			int			i;
			int			j;

			if (t == NULL)
			{
				printf("ERROR: %s\n", err);
				return 1;
			}
			for (i = 4; i < argc; i++)
			{
				char	   *eq = strchr(argv[i], '=');

				if (eq == NULL)
					pgq_dict_set(d, argv[i], NULL);
				else
				{
					*eq = '\0';
					pgq_dict_set(d, argv[i], eq + 1);
				}
			}
			res = pgq_template_exec(conn, t, d, &err);
			if (res == NULL)
			{
				printf("ERROR: %s\n", err);
				return 1;
			}
			for (i = 0; i < PQntuples(res); i++)
				for (j = 0; j < PQnfields(res); j++)
					printf("%s%s", PQgetisnull(res, i, j) ? "NULL" : PQgetvalue(res, i, j),
						   j + 1 < PQnfields(res) ? "\t" : "\n");
		}
		PQclear(res);
		PQfinish(conn);
		return 0;
	}
	fprintf(stderr, "libpgq_probe: bad helper command\n");
	return 2;
}

int
main(int argc, char **argv)
{
	static const char *const service_names[] = {"libpgq_probe", NULL};
	static const struct
	{
		const char *name;
		PgqFlavour	flavour;
	}			flavours[] = {
		{"plain", PGQ_CONSUMER_PLAIN}, {"serial", PGQ_CONSUMER_SERIAL},
		{"remote", PGQ_CONSUMER_REMOTE}, {"local", PGQ_CONSUMER_LOCAL},
		{"coop", PGQ_CONSUMER_COOP}
	};
	static PgqProgram program;
	size_t		i;

	if (argc < 2)
	{
		fprintf(stderr, "usage: libpgq_probe FLAVOUR|HELPER ...\n");
		return 2;
	}
	for (i = 0; i < sizeof(flavours) / sizeof(flavours[0]); i++)
	{
		if (strcmp(argv[1], flavours[i].name) == 0)
		{
			program.name = "libpgq_probe";
			program.service_names = service_names;
			program.description = "test consumer";
			program.ini_template = "[libpgq_probe]\nsrc_db = dbname=x\ndst_db = dbname=x\nqueue_name = q\n";
			program.flavour = flavours[i].flavour;
			program.src_db_key = "src_db";
			program.dst_db_key = "dst_db";
			program.configure = probe_configure;
			program.process_batch = probe_batch;
			program.arg = &program;
			argv[1] = argv[0];
			return pgq_program_main(&program, argc - 1, argv + 1);
		}
	}
	return helpers(argc, argv);
}
