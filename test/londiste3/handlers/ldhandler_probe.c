/*-------------------------------------------------------------------------
 *
 * ldhandler_probe.c
 *	  A test-only driver of londiste3's table handlers, used by
 *	  test/t/240_londiste3_handlers.pl: it plays the worker's part (a
 *	  recording LdApply on a real database) for one handler.
 *
 *	  ldhandler_probe CONFIG.ini TABLE HANDLER [DEST] < script
 *
 * The config is a londiste3 config ([londiste] db=..., handler_modules,
 * ...).  Each script line is a command; events are COPY text fields
 * "type data extra1 extra2 extra3 extra4 time" separated by tabs:
 *
 *	info					needs-table and trigger args
 *	doc						the handler's documentation
 *	batch TICK TIME			begin a transaction, prepare_batch
 *	event FIELDS			process_event
 *	finish					finish_batch, flush, commit
 *	copy_event FIELDS		what would be copied downstream
 *	copy_condition			the initial copy's WHERE condition
 *	copy_columns A,B,...	the initial copy's columns
 *	copy_row A,B,... ROW	one COPY row as the copy would send it
 *
 * Every statement the handler queues is printed as "SQL: ..."; the
 * handler's COPYs show in the debug log (-v).  A failing hook prints
 * "FAILED" and the probe exits 1.
 *
 * test/londiste3/handlers/ldhandler_probe.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "londiste3/handlers/handler.h"
#include "londiste3/handlers/rowsql.h"
#include "londiste3/worker/replay.h"

struct LdApply
{
	PGconn	   *conn;
	PQExpBufferData queued;
};

bool
ld_apply_sql(LdApply *apply, const char *sql)
{
	printf("SQL: %s\n", sql);
	if (apply->queued.len > 0)
		appendPQExpBufferChar(&apply->queued, '\n');
	appendPQExpBufferStr(&apply->queued, sql);
	return true;
}

/*
 * A prepared statement is shown and run as the text statement it stands
 * for: each $n (outside quoted names) replaced by its value's literal.
 */
bool
ld_apply_prepared(LdApply *apply, const char *sql, int nparams,
				  const char *const *values)
{
	PQExpBufferData text;
	const char *p = sql;
	bool		quoted = false;
	bool		ok;

	initPQExpBuffer(&text);
	while (*p)
	{
		if (*p == '"')
			quoted = !quoted;
		if (!quoted && *p == '$' && isdigit((unsigned char) p[1]))
		{
			char	   *end;
			long		n = strtol(p + 1, &end, 10);

			if (n < 1 || n > nparams)
			{
				sky_log(SKY_LOG_ERROR, "parameter $%ld out of range: %s", n, sql);
				termPQExpBuffer(&text);
				return false;
			}
			ld_append_literal(&text, values[n - 1]);
			p = end;
			continue;
		}
		appendPQExpBufferChar(&text, *p++);
	}
	appendPQExpBufferChar(&text, ';');
	ok = ld_apply_sql(apply, text.data);
	termPQExpBuffer(&text);
	return ok;
}

/* rows one by one: what the worker may send several at a time */
bool
ld_apply_insert(LdApply *apply, const char *dest_table, int ncolumns,
				const char *const *columns, const char *const *values,
				const char *insert_sql)
{
	return ld_apply_prepared(apply, insert_sql, ncolumns, values);
}

bool
ld_apply_update(LdApply *apply, const char *dest_table, int nset,
				const char *const *set_columns, int nkeys,
				const char *const *keys, const char *const *values,
				const char *update_sql)
{
	return ld_apply_prepared(apply, update_sql, nset + nkeys, values);
}

bool
ld_apply_delete(LdApply *apply, const char *dest_table, int nkeys,
				const char *const *keys, const char *const *values,
				const char *delete_sql)
{
	return ld_apply_prepared(apply, delete_sql, nkeys, values);
}

bool
ld_apply_flush(LdApply *apply)
{
	PGresult   *res;
	bool		ok;

	if (apply->queued.len == 0)
		return true;
	res = PQexec(apply->conn, apply->queued.data);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
		PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		sky_log(SKY_LOG_ERROR, "%s", PQerrorMessage(apply->conn));
	PQclear(res);
	resetPQExpBuffer(&apply->queued);
	return ok;
}

PGconn *
ld_apply_conn(LdApply *apply)
{
	return apply->conn;
}

static const char *service_names[] = {"londiste", "londiste3", NULL};

static void
failed(PGconn *conn)
{
	printf("FAILED\n");
	if (conn != NULL)
		PQfinish(conn);
	exit(1);
}

static void
exec_or_fail(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		sky_log(SKY_LOG_ERROR, "%s", PQerrorMessage(conn));
		failed(conn);
	}
	PQclear(res);
}

/* an event from COPY text fields; the strings live in *fields */
static void
parse_event(const char *text, PgqEvent *ev, char **fields)
{
	const char *start = text;
	int			n = 0;
	bool		isnull;

	memset(ev, 0, sizeof(PgqEvent));
	memset(fields, 0, sizeof(char *) * 7);
	while (n < 7)
	{
		const char *end = strchr(start, '\t');
		size_t		len = end ? (size_t) (end - start) : strlen(start);

		fields[n++] = ld_copy_unescape(start, len, &isnull);
		if (end == NULL)
			break;
		start = end + 1;
	}
	ev->type = fields[0];
	ev->data = fields[1];
	ev->extra1 = fields[2];
	ev->extra2 = fields[3];
	ev->extra3 = fields[4];
	ev->extra4 = fields[5];
	ev->time = fields[6];
	ev->retry = -1;
}

static void
print_value(const char *label, const char *value)
{
	printf("%s: %s\n", label, value ? value : "None");
}

int
main(int argc, char **argv)
{
	Londiste	ld = {0};
	LdHandler  *h;
	LdApply		apply = {0};
	PgqBatchInfo batch = {0};
	char		line[65536];
	int64_t		next_id = 1;

	if (argc < 4 || argc > 5)
	{
		fprintf(stderr, "usage: %s CONFIG.ini TABLE HANDLER [DEST]\n", argv[0]);
		return 2;
	}
	sky_log_init();
	ld.script.progname = "ldhandler_probe";
	ld.script.service_names = service_names;
	if (getenv("PROBE_DEBUG") != NULL)
		ld.script.verbose = 1;
	if (!sky_script_load(&ld.script, argv[1]))
		return 1;
	if (getenv("PROBE_DEBUG") != NULL)
		sky_log_set_level(SKY_LOG_DEBUG);
	ld.db = sky_config_get(ld.script.cf, "db", NULL);
	if (ld.db == NULL)
	{
		fprintf(stderr, "config key db is missing\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	h = ld_handler_new(&ld, argv[3], argv[2], argc > 4 ? argv[4] : NULL);
	if (h == NULL)
		failed(NULL);
	apply.conn = ld_local(&ld);
	initPQExpBuffer(&apply.queued);

	while (fgets(line, sizeof(line), stdin) != NULL)
	{
		char	   *arg;
		PgqEvent	ev;
		char	   *fields[7];
		int			i;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '\0' || line[0] == '#')
			continue;
		arg = strchr(line, ' ');
		if (arg != NULL)
			*arg++ = '\0';
		else
			arg = "";

		if (strcmp(line, "info") == 0)
		{
			LdStringList targs = {0};

			printf("needs_table: %s\n", ld_handler_needs_table(h) ? "yes" : "no");
			if (h->cls->add_trigger_args != NULL)
				h->cls->add_trigger_args(h, &targs);
			for (i = 0; i < targs.n; i++)
				printf("trigger_arg: %s\n", targs.items[i]);
			ld_names_reset(&targs);
		}
		else if (strcmp(line, "doc") == 0)
			printf("%s - %s", h->cls->name, h->cls->doc);
		else if (strcmp(line, "batch") == 0)
		{
			char	   *time = strchr(arg, ' ');

			batch.tick_id = strtoll(arg, NULL, 10);
			batch.tick_time = time ? pg_strdup(time + 1) : NULL;
			exec_or_fail(apply.conn, "begin");
			h->batch = &batch;
			if (h->cls->prepare_batch != NULL &&
				!h->cls->prepare_batch(h, &apply))
				failed(apply.conn);
		}
		else if (strcmp(line, "event") == 0)
		{
			parse_event(arg, &ev, fields);
			ev.id = next_id++;
			ev.txid = 1000 + ev.id;
			if (h->cls->process_event != NULL &&
				!h->cls->process_event(h, &apply, &ev))
				failed(apply.conn);
		}
		else if (strcmp(line, "finish") == 0)
		{
			if ((h->cls->finish_batch != NULL &&
				 !h->cls->finish_batch(h, &apply)) ||
				!ld_apply_flush(&apply))
				failed(apply.conn);
			exec_or_fail(apply.conn, "commit");
			printf("committed\n");
		}
		else if (strcmp(line, "copy_event") == 0)
		{
			const PgqEvent *out;

			parse_event(arg, &ev, fields);
			ev.id = next_id++;
			out = h->cls->copy_event ? h->cls->copy_event(h, &ev) : &ev;
			if (out == NULL)
				printf("copy_event: dropped\n");
			else
			{
				print_value("copy_event type", out->type);
				print_value("copy_event data", out->data);
			}
		}
		else if (strcmp(line, "copy_condition") == 0)
		{
			char	   *cond = h->cls->copy_condition ? h->cls->copy_condition(h) : NULL;

			print_value("copy_condition", cond);
		}
		else if (strcmp(line, "copy_columns") == 0 || strcmp(line, "copy_row") == 0)
		{
			LdStringList src = {0};
			LdStringList dst = {0};
			char	   *row = strchr(arg, ' ');

			if (row != NULL)
				*row++ = '\0';
			ld_names_split(&src, arg, ',');
			ld_names_split(&dst, arg, ',');
			if (strcmp(line, "copy_row") == 0)
				print_value("copy_row", ld_handler_copy_row(h, row ? row : "", &src));
			else if (!ld_handler_copy_columns(h, &src, &dst))
				printf("copy_columns: none\n");
			else
			{
				printf("copy_columns:");
				for (i = 0; i < src.n; i++)
					printf(" %s>%s", src.items[i], dst.items[i]);
				printf("\n");
			}
		}
		else
		{
			fprintf(stderr, "unknown probe command: %s\n", line);
			failed(apply.conn);
		}
	}
	ld_handler_free(h);
	PQfinish(apply.conn);
	return 0;
}
