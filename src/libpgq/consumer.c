/*-------------------------------------------------------------------------
 *
 * consumer.c
 *	  The consumer object: its settings, its connection cache and the
 *	  query helpers the rest of the library uses.
 *
 * Settings come from the program's config (when run by pgq_program_main)
 * and from pgq_consumer_set(), which wins.  Connections are cached per
 * config key; each is opened with application_name = job name, dropped
 * when it broke, and replaced once it is older than connection_lifetime
 * and not inside a transaction.
 *
 * src/libpgq/consumer.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <limits.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "framework/log.h"
#include "framework/pqutil.h"
#include "libpgq_int.h"

/* the keys pgq_consumer_set() takes besides the program's connect keys */
static const char *const consumer_keys[] = {
	"job_name", "queue_name", "pgq_queue_name", "consumer_name",
	"pgq_consumer_id", "pgq_lazy_fetch", "pgq_batch_collect_events",
	"pgq_batch_collect_interval", "pgq_keep_lag", "table_filter",
	"consumer_filter", "local_tracking_file", "subconsumer_name",
	"subconsumer_timeout", "connection_lifetime", "keepalive_stats",
	NULL
};

static char *build_table_filter(const char *list);
static void append_literal(PQExpBuffer buf, const char *text);
static bool parse_number(PgqConsumer *consumer, const char *key,
						 const char *text, double *result, bool integer);
static const char *conn_key(PgqConsumer *consumer, PGconn *conn);

double
pgq_now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1e6;
}

/* format into a new string (libpq does not export its va_list appender) */
static char *
format_va(const char *fmt, va_list ap)
{
	size_t		size = 256;

	for (;;)
	{
		char	   *buf = pg_malloc(size);
		va_list		copy;
		int			n;

		va_copy(copy, ap);
		n = vsnprintf(buf, size, fmt, copy);
		va_end(copy);
		if (n >= 0 && (size_t) n < size)
			return buf;
		pg_free(buf);
		size = (n >= 0) ? (size_t) n + 1 : size * 2;
	}
}

void
pgq_set_error(PgqConsumer *consumer, const char *fmt,...)
{
	va_list		ap;
	char	   *msg;

	va_start(ap, fmt);
	msg = format_va(fmt, ap);
	va_end(ap);
	resetPQExpBuffer(&consumer->error);
	appendPQExpBufferStr(&consumer->error, msg);
	pg_free(msg);
}

const char *
pgq_consumer_error(const PgqConsumer *consumer)
{
	return consumer->error.data;
}

PgqConsumer *
pgq_consumer_new(const PgqProgram *program)
{
	PgqConsumer *consumer = pg_malloc0(sizeof(PgqConsumer));

	consumer->program = program;
	initPQExpBuffer(&consumer->error);
	consumer->idle_start = pgq_now();
	return consumer;
}

void
pgq_consumer_free(PgqConsumer *consumer)
{
	PgqSetting *s;

	if (consumer == NULL)
		return;
	pgq_consumer_close_all(consumer);
	while ((s = consumer->settings) != NULL)
	{
		consumer->settings = s->next;
		pg_free(s->key);
		pg_free(s->value);
		pg_free(s);
	}
	while ((s = consumer->config_values) != NULL)
	{
		consumer->config_values = s->next;
		pg_free(s->key);
		pg_free(s->value);
		pg_free(s);
	}
	pg_free(consumer->job_name);
	pg_free(consumer->queue_name);
	pg_free(consumer->consumer_name);
	pg_free(consumer->subconsumer_name);
	pg_free(consumer->subconsumer_timeout);
	pg_free(consumer->keep_lag);
	pg_free(consumer->collect_interval);
	pg_free(consumer->collect_events);
	pg_free(consumer->event_filter);
	pg_free(consumer->tracking_file);
	termPQExpBuffer(&consumer->error);
	pg_free(consumer);
}

/*
 * The value of a key (a copy to free), or NULL when unset: first what
 * pgq_consumer_set() stored, then the config file.
 */
char *
pgq_setting_get(PgqConsumer *consumer, const char *key)
{
	PgqSetting *s;

	for (s = consumer->settings; s != NULL; s = s->next)
		if (strcmp(s->key, key) == 0)
			return pg_strdup(s->value);
	if (consumer->cf != NULL && sky_config_has(consumer->cf, key))
		return sky_config_get(consumer->cf, key, NULL);
	return NULL;
}

/* the value of the first key of a pair that is set (new name, old name) */
static char *
setting_either(PgqConsumer *consumer, const char *key, const char *compat)
{
	char	   *value = pgq_setting_get(consumer, key);

	if (value == NULL && compat != NULL)
		value = pgq_setting_get(consumer, compat);
	if (value != NULL && value[0] == '\0')
	{
		pg_free(value);
		value = NULL;
	}
	return value;
}

static bool
parse_number(PgqConsumer *consumer, const char *key, const char *text,
			 double *result, bool integer)
{
	char	   *end;

	errno = 0;
	*result = integer ? (double) strtol(text, &end, 10) : strtod(text, &end);
	while (*end == ' ')
		end++;
	if (errno != 0 || end == text || *end != '\0' ||
		(integer && (*result < INT_MIN || *result > INT_MAX)))
	{
		pgq_set_error(consumer, "value of \"%s\" is not %s: \"%s\"", key,
					  integer ? "an integer" : "a number", text);
		return false;
	}
	return true;
}

/* quote text as an SQL string literal that works whatever the settings */
static void
append_literal(PQExpBuffer buf, const char *text)
{
	const char *p;

	if (strchr(text, '\\') != NULL)
		appendPQExpBufferChar(buf, 'E');
	appendPQExpBufferChar(buf, '\'');
	for (p = text; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			appendPQExpBufferChar(buf, *p);
		appendPQExpBufferChar(buf, *p);
	}
	appendPQExpBufferChar(buf, '\'');
}

/*
 * table_filter = a, s.b  =>  ev_extra1 in ('public.a', 's.b'): logutriga
 * writes the table name schema-qualified into ev_extra1.
 */
static char *
build_table_filter(const char *list)
{
	PQExpBufferData buf;
	const char *p = list;
	int			n = 0;
	char	   *result;

	initPQExpBuffer(&buf);
	appendPQExpBufferStr(&buf, "ev_extra1 in (");
	while (*p)
	{
		const char *start;
		const char *end;
		char	   *name;

		while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\n')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
			end--;
		name = psprintf("%s%.*s", memchr(start, '.', end - start) ? "" : "public.",
						(int) (end - start), start);
		if (n++ > 0)
			appendPQExpBufferStr(&buf, ", ");
		append_literal(&buf, name);
		pg_free(name);
	}
	appendPQExpBufferChar(&buf, ')');
	result = n > 0 ? pg_strdup(buf.data) : NULL;
	termPQExpBuffer(&buf);
	return result;
}

/*
 * Read the consumer keys from the settings and the config.  Returns false
 * with the error set when one is missing or bad; the old values stay then.
 */
bool
pgq_consumer_load_settings(PgqConsumer *consumer)
{
	const PgqProgram *program = consumer->program;
	char	   *job_name;
	char	   *queue_name;
	char	   *consumer_name;
	char	   *subconsumer_name = NULL;
	char	   *text;
	char	   *table_filter;
	char	   *consumer_filter;
	char	   *event_filter = NULL;
	char	   *tracking_file = NULL;
	double		lazy_fetch = 300;
	double		lifetime = 1200;
	double		keepalive = 300;
	double		collect_events = 0;

	job_name = setting_either(consumer, "job_name", NULL);
	if (job_name == NULL)
		job_name = pg_strdup(program->name);
	queue_name = setting_either(consumer, "queue_name", "pgq_queue_name");
	if (queue_name == NULL)
	{
		pgq_set_error(consumer, "required key \"queue_name\" is not set");
		pg_free(job_name);
		return false;
	}
	consumer_name = setting_either(consumer, "consumer_name", "pgq_consumer_id");
	if (consumer_name == NULL)
		consumer_name = pg_strdup(job_name);

	if ((text = setting_either(consumer, "pgq_lazy_fetch", NULL)) != NULL &&
		!parse_number(consumer, "pgq_lazy_fetch", text, &lazy_fetch, true))
		goto fail;
	pg_free(text);
	if ((text = setting_either(consumer, "connection_lifetime", NULL)) != NULL &&
		!parse_number(consumer, "connection_lifetime", text, &lifetime, false))
		goto fail;
	pg_free(text);
	if ((text = setting_either(consumer, "keepalive_stats", NULL)) != NULL &&
		!parse_number(consumer, "keepalive_stats", text, &keepalive, false))
		goto fail;
	pg_free(text);
	if ((text = setting_either(consumer, "pgq_batch_collect_events", NULL)) != NULL &&
		!parse_number(consumer, "pgq_batch_collect_events", text, &collect_events, true))
		goto fail;
	pg_free(text);
	text = NULL;
	if (lazy_fetch < 0)
	{
		pgq_set_error(consumer, "pgq_lazy_fetch must not be negative");
		goto fail;
	}

	if (program->flavour == PGQ_CONSUMER_COOP)
	{
		subconsumer_name = setting_either(consumer, "subconsumer_name", NULL);
		if (subconsumer_name == NULL)
		{
			pgq_set_error(consumer, "required key \"subconsumer_name\" is not set");
			goto fail;
		}
	}
	if (program->flavour == PGQ_CONSUMER_LOCAL)
	{
		char	   *raw = setting_either(consumer, "local_tracking_file", NULL);
		char	   *slash;

		if (raw == NULL)
		{
			pgq_set_error(consumer, "required key \"local_tracking_file\" is not set");
			goto fail;
		}
		tracking_file = sky_expand_home(raw);
		pg_free(raw);
		slash = strrchr(tracking_file, '/');
		if (slash != NULL)
		{
			char	   *dir = pnstrdup(tracking_file, slash == tracking_file ? 1 : slash - tracking_file);
			struct stat st;
			bool		isdir = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);

			if (!isdir)
			{
				pgq_set_error(consumer, "directory of local_tracking_file does not exist: \"%s\"", dir);
				pg_free(dir);
				goto fail;
			}
			pg_free(dir);
		}
	}

	table_filter = setting_either(consumer, "table_filter", NULL);
	consumer_filter = setting_either(consumer, "consumer_filter", NULL);
	if (table_filter != NULL)
	{
		char	   *tf = build_table_filter(table_filter);

		pg_free(table_filter);
		table_filter = tf;
	}
	if (table_filter != NULL && consumer_filter != NULL)
		event_filter = psprintf("(%s) and (%s)", table_filter, consumer_filter);
	else if (table_filter != NULL)
		event_filter = pg_strdup(table_filter);
	else if (consumer_filter != NULL)
		event_filter = pg_strdup(consumer_filter);
	pg_free(table_filter);
	pg_free(consumer_filter);

	/* all good: replace the old values */
	pg_free(consumer->job_name);
	consumer->job_name = job_name;
	pg_free(consumer->queue_name);
	consumer->queue_name = queue_name;
	pg_free(consumer->consumer_name);
	consumer->consumer_name = consumer_name;
	pg_free(consumer->subconsumer_name);
	consumer->subconsumer_name = subconsumer_name;
	pg_free(consumer->tracking_file);
	consumer->tracking_file = tracking_file;
	pg_free(consumer->event_filter);
	consumer->event_filter = event_filter;
	pg_free(consumer->subconsumer_timeout);
	consumer->subconsumer_timeout = setting_either(consumer, "subconsumer_timeout", NULL);
	pg_free(consumer->keep_lag);
	consumer->keep_lag = setting_either(consumer, "pgq_keep_lag", NULL);
	pg_free(consumer->collect_interval);
	consumer->collect_interval = setting_either(consumer, "pgq_batch_collect_interval", NULL);
	pg_free(consumer->collect_events);
	consumer->collect_events = collect_events > 0 ? psprintf("%d", (int) collect_events) : NULL;
	consumer->lazy_fetch = (int) lazy_fetch;
	consumer->connection_lifetime = lifetime;
	consumer->keepalive_stats = keepalive;
	return true;

fail:
	pg_free(text);
	pg_free(job_name);
	pg_free(queue_name);
	pg_free(consumer_name);
	pg_free(subconsumer_name);
	pg_free(tracking_file);
	return false;
}

bool
pgq_consumer_set(PgqConsumer *consumer, const char *key, const char *value)
{
	const PgqProgram *program = consumer->program;
	const char *const *k;
	bool		known = false;
	PgqSetting *s;
	PgqSetting **prev;
	char	   *old = NULL;

	for (k = consumer_keys; *k != NULL; k++)
		if (strcmp(*k, key) == 0)
			known = true;
	if ((program->src_db_key && strcmp(program->src_db_key, key) == 0) ||
		(program->dst_db_key && strcmp(program->dst_db_key, key) == 0))
		known = true;
	if (!known)
	{
		pgq_set_error(consumer, "unknown consumer setting \"%s\"", key);
		return false;
	}

	for (prev = &consumer->settings; (s = *prev) != NULL; prev = &s->next)
		if (strcmp(s->key, key) == 0)
			break;
	if (s == NULL)
	{
		s = pg_malloc0(sizeof(PgqSetting));
		s->key = pg_strdup(key);
		*prev = s;
	}
	else
		old = s->value;
	s->value = pg_strdup(value);

	/*
	 * A setting that makes the whole incomplete (no queue_name yet) is
	 * fine; one that is bad by itself is refused.
	 */
	if (!pgq_consumer_load_settings(consumer) &&
		strncmp(consumer->error.data, "required key", 12) != 0)
	{
		pg_free(s->value);
		if (old != NULL)
			s->value = old;
		else
		{
			*prev = s->next;
			pg_free(s->key);
			pg_free(s);
		}
		return false;
	}
	pg_free(old);
	resetPQExpBuffer(&consumer->error);
	return true;
}

/* Config values for the program's callbacks; see libpgq.h. */
const char *
pgq_config_get(PgqConsumer *consumer, const char *key, const char *def)
{
	char	   *value = pgq_setting_get(consumer, key);
	PgqSetting *s;

	if (value == NULL)
		return def;
	/* keep one copy per key, replaced on the next call for that key */
	for (s = consumer->config_values; s != NULL; s = s->next)
		if (strcmp(s->key, key) == 0)
			break;
	if (s == NULL)
	{
		s = pg_malloc0(sizeof(PgqSetting));
		s->key = pg_strdup(key);
		s->next = consumer->config_values;
		consumer->config_values = s;
	}
	pg_free(s->value);
	s->value = value;
	return value;
}

int
pgq_config_get_int(PgqConsumer *consumer, const char *key, int def)
{
	const char *value = pgq_config_get(consumer, key, NULL);
	double		v;

	if (value == NULL)
		return def;
	if (!parse_number(consumer, key, value, &v, true))
		sky_fatal("%s", consumer->error.data);
	return (int) v;
}

double
pgq_config_get_float(PgqConsumer *consumer, const char *key, double def)
{
	const char *value = pgq_config_get(consumer, key, NULL);
	double		v;

	if (value == NULL)
		return def;
	if (!parse_number(consumer, key, value, &v, false))
		sky_fatal("%s", consumer->error.data);
	return v;
}

bool
pgq_config_get_bool(PgqConsumer *consumer, const char *key, bool def)
{
	const char *value = pgq_config_get(consumer, key, NULL);

	if (value == NULL)
		return def;
	if (pg_strcasecmp(value, "1") == 0 || pg_strcasecmp(value, "yes") == 0 ||
		pg_strcasecmp(value, "true") == 0 || pg_strcasecmp(value, "on") == 0)
		return true;
	if (pg_strcasecmp(value, "0") == 0 || pg_strcasecmp(value, "no") == 0 ||
		pg_strcasecmp(value, "false") == 0 || pg_strcasecmp(value, "off") == 0)
		return false;
	sky_fatal("value of \"%s\" is not a boolean: \"%s\"", key, value);
}

static void
close_conn(PgqConsumer *consumer, PgqConn *c)
{
	PgqConn   **prev;

	for (prev = &consumer->conns; *prev != c; prev = &(*prev)->next)
		;
	*prev = c->next;
	PQfinish(c->conn);
	pg_free(c->key);
	pg_free(c->connstr);
	pg_free(c);
}

void
pgq_consumer_close_all(PgqConsumer *consumer)
{
	while (consumer->conns != NULL)
		close_conn(consumer, consumer->conns);
}

/*
 * Finish the open transactions of the cached connections other than the
 * source's and a tracked target's (the batch loop ends those): commit them after a handled batch, or give up every
 * connection after a failure (the server may be gone or the session in an
 * unknown state; a fresh one is cheap next to a wrong assumption).
 */
void
pgq_consumer_end_transactions(PgqConsumer *consumer, bool commit)
{
	const PgqProgram *program = consumer->program;
	bool		tracked_target = program->flavour == PGQ_CONSUMER_SERIAL ||
		program->flavour == PGQ_CONSUMER_REMOTE;
	PgqConn    *c;

	if (!commit)
	{
		pgq_consumer_close_all(consumer);
		return;
	}
	for (c = consumer->conns; c != NULL; c = c->next)
	{
		if (strcmp(c->key, program->src_db_key) == 0 ||
			(tracked_target && strcmp(c->key, program->dst_db_key) == 0))
			continue;
		if (PQtransactionStatus(c->conn) != PQTRANS_IDLE)
			(void) pgq_command(consumer, c->conn, "COMMIT");
	}
}

static const char *
conn_key(PgqConsumer *consumer, PGconn *conn)
{
	PgqConn    *c;

	for (c = consumer->conns; c != NULL; c = c->next)
		if (c->conn == conn)
			return c->key;
	return "?";
}

static bool
connstr_sets_appname(const char *connstr)
{
	PQconninfoOption *opts = PQconninfoParse(connstr, NULL);
	PQconninfoOption *o;
	bool		found = false;

	if (opts == NULL)
		return false;
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "application_name") == 0 && o->val != NULL)
			found = true;
	PQconninfoFree(opts);
	return found;
}

PGconn *
pgq_consumer_connection(PgqConsumer *consumer, const char *key,
						bool autocommit)
{
	PgqConn    *c;
	char	   *connstr;
	const char *keywords[] = {"dbname", "application_name", NULL};
	const char *values[3];

	connstr = pgq_setting_get(consumer, key);
	if (connstr == NULL)
	{
		pgq_set_error(consumer, "required key \"%s\" is not set", key);
		return NULL;
	}
	for (c = consumer->conns; c != NULL; c = c->next)
		if (strcmp(c->key, key) == 0)
			break;
	/*
	 * The batch's source connection may have the next page's FETCH on its
	 * way: take its result first, and read the rest of the batch one
	 * FETCH at a time, so that the caller can use the connection.
	 */
	if (c != NULL && consumer->batch != NULL && c->conn == consumer->batch->src)
	{
		consumer->batch->read_ahead = false;
		if (!pgq_batch_settle(consumer->batch, true))
		{
			pg_free(connstr);
			return NULL;
		}
	}
	if (c != NULL)
	{
		bool		idle = PQtransactionStatus(c->conn) == PQTRANS_IDLE;

		if (PQstatus(c->conn) != CONNECTION_OK)
		{
			log_info("connection \"%s\" was lost, reconnecting", key);
			close_conn(consumer, c);
			c = NULL;
		}
		else if (idle && strcmp(c->connstr, connstr) != 0)
		{
			log_info("connect string of \"%s\" changed, reconnecting", key);
			close_conn(consumer, c);
			c = NULL;
		}
		else if (idle && consumer->connection_lifetime > 0 &&
				 pgq_now() - c->opened > consumer->connection_lifetime)
		{
			log_debug("connection \"%s\" is older than connection_lifetime, reconnecting", key);
			close_conn(consumer, c);
			c = NULL;
		}
	}
	if (c == NULL)
	{
		PGconn	   *conn;
		PGresult   *res;

		/*
		 * application_name = job name, unless the connect string names one;
		 * it wins over PGAPPNAME, which a fallback would not.
		 */
		values[0] = connstr;
		values[1] = consumer->job_name ? consumer->job_name : consumer->program->name;
		values[2] = NULL;
		if (connstr_sets_appname(connstr))
			keywords[1] = NULL;
		conn = PQconnectdbParams(keywords, values, true);
		if (PQstatus(conn) != CONNECTION_OK)
		{
			char	   *shown = sky_connstr_for_log(connstr);

			pgq_set_error(consumer, "could not connect to \"%s\" (%s): %s", key, shown,
						  conn ? PQerrorMessage(conn) : "out of memory");
			pg_free(shown);
			PQfinish(conn);
			pg_free(connstr);
			return NULL;
		}
		/*
		 * Timestamps pass as text from one database to another (ev_time
		 * into a target's query); only ISO output reads back the same
		 * whatever the receiving server's DateStyle.  psycopg2 did the same
		 * for Skytools.
		 */
		res = PQexec(conn, "SET DateStyle = ISO");
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			pgq_set_error(consumer, "could not set DateStyle on \"%s\": %s", key,
						  PQerrorMessage(conn));
			PQclear(res);
			PQfinish(conn);
			pg_free(connstr);
			return NULL;
		}
		PQclear(res);
		log_debug("connected to \"%s\"", key);
		c = pg_malloc0(sizeof(PgqConn));
		c->key = pg_strdup(key);
		c->connstr = connstr;
		connstr = NULL;
		c->conn = conn;
		c->opened = pgq_now();
		c->next = consumer->conns;
		consumer->conns = c;
	}
	pg_free(connstr);
	if (!autocommit && PQtransactionStatus(c->conn) == PQTRANS_IDLE &&
		!pgq_command(consumer, c->conn, "BEGIN"))
		return NULL;
	return c->conn;
}

/*
 * Run one statement; the result, or NULL with the error set in the form
 * Skytools used: the connection, the server's message and the query.
 */
PGresult *
pgq_query(PgqConsumer *consumer, PGconn *conn, const char *sql,
		  int nparams, const char *const *params)
{
	PGresult   *res;

	res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
		PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		pgq_query_error(consumer, conn, sql);
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Set the error of a failed statement from the connection's message. */
void
pgq_query_error(PgqConsumer *consumer, PGconn *conn, const char *sql)
{
	char	   *msg = pg_strdup(PQerrorMessage(conn));
	size_t		len = strlen(msg);

	while (len > 0 && msg[len - 1] == '\n')
		msg[--len] = '\0';
	pgq_set_error(consumer, "error on connection '%s': %s   Query: %s",
				  conn_key(consumer, conn), msg, sql);
	pg_free(msg);
}

bool
pgq_command(PgqConsumer *consumer, PGconn *conn, const char *sql)
{
	PGresult   *res = pgq_query(consumer, conn, sql, 0, NULL);

	PQclear(res);
	return res != NULL;
}

void
pgq_log(PgqLogLevel level, const char *fmt,...)
{
	va_list		ap;
	char	   *msg;

	va_start(ap, fmt);
	msg = format_va(fmt, ap);
	va_end(ap);
	sky_log((SkyLogLevel) level, "%s", msg);
	pg_free(msg);
}

void
pgq_free(void *ptr)
{
	free(ptr);
}
