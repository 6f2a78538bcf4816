/*-------------------------------------------------------------------------
 *
 * eventdict.c
 *	  Events as dicts, and a query template run for each of them.
 *
 * Skytools' simple consumers hand every event to a user-written query
 * (dst_query) whose %(key)s placeholders name the keys of the event's
 * urldecoded ev_data and the pgq.* keys describing the event itself.  The
 * query runs on an autocommit connection, so each event's effect is
 * committed on its own; when the batch fails midway it is run again from
 * the start and the effects of its first events repeat (at-least-once).
 *
 * sql_retry makes a query that lost its connection wait and run again on a
 * new one instead of failing the batch at once, the way Skytools'
 * execute_with_retry does for simple_local_consumer.  A stop request ends
 * the retries: the batch then fails and is run again after a restart,
 * instead of the stop waiting out a long outage.
 *
 * src/libpgq/eventdict.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <errno.h>
#include <time.h>

#include "framework/signals.h"
#include "libpgq.h"

static void set_int64(PgqDict *dict, const char *key, int64_t value);
static bool connection_lost(PGconn *conn);
static void retry_sleep(int seconds);

void
pgq_sql_retry_config(PgqConsumer *consumer, PgqSqlRetry *retry)
{
	retry->enabled = pgq_config_get_bool(consumer, "sql_retry", false);
	retry->max_count = pgq_config_get_int(consumer, "sql_retry_max_count", 10);
	retry->max_time = pgq_config_get_int(consumer, "sql_retry_max_time", 300);
	retry->formula_a = pgq_config_get_int(consumer, "sql_retry_formula_a", 1);
	retry->formula_b = pgq_config_get_int(consumer, "sql_retry_formula_b", 5);
	retry->formula_cap = pgq_config_get_int(consumer, "sql_retry_formula_cap", 60);
}

bool
pgq_event_query_configure(PgqConsumer *consumer, PgqEventQuery *query)
{
	const char *text;
	PgqTemplate *tmpl;
	char	   *errmsg = NULL;

	if (pgq_config_get(consumer, "dst_db", NULL) == NULL)
	{
		pgq_log(PGQ_LOG_ERROR, "Config value \"dst_db\" is missing");
		return false;
	}
	text = pgq_config_get(consumer, "dst_query", NULL);
	if (text == NULL)
	{
		pgq_log(PGQ_LOG_ERROR, "Config value \"dst_query\" is missing");
		return false;
	}
	tmpl = pgq_template_parse(text, &errmsg);
	if (tmpl == NULL)
	{
		pgq_log(PGQ_LOG_ERROR, "Bad dst_query: %s", errmsg);
		pgq_free(errmsg);
		return false;
	}

	if (query->dst_query != NULL)
		pgq_template_free(query->dst_query);
	query->dst_query = tmpl;
	query->skip_other_types = pgq_config_get_bool(consumer, "skip_other_types",
												  true);
	pgq_sql_retry_config(consumer, &query->sql_retry);
	return true;
}

void
pgq_event_query_free(PgqEventQuery *query)
{
	if (query->dst_query != NULL)
		pgq_template_free(query->dst_query);
	query->dst_query = NULL;
}

bool
pgq_event_is_row_change(const PgqEvent *event)
{
	const char *type = event->type;

	return type != NULL &&
		(type[0] == 'I' || type[0] == 'U' || type[0] == 'D') &&
		type[1] == ':';
}

PgqDict *
pgq_event_dict(PgqBatch *batch, const PgqEvent *event, bool decode_data,
			   char **errmsg)
{
	PgqDict    *dict;

	if (decode_data && event->data != NULL)
	{
		dict = pgq_urldecode(event->data);
		if (dict == NULL)
		{
			*errmsg = psprintf("event " INT64_FORMAT ": ev_data is not urlencoded: \"%s\"",
							   (int64) event->id, event->data);
			return NULL;
		}
	}
	else
		dict = pgq_dict_new();

	set_int64(dict, "pgq.tick_id", pgq_batch_info(batch)->tick_id);
	set_int64(dict, "pgq.ev_id", event->id);
	pgq_dict_set(dict, "pgq.ev_time", event->time);
	pgq_dict_set(dict, "pgq.ev_type", event->type);
	pgq_dict_set(dict, "pgq.ev_data", event->data);
	pgq_dict_set(dict, "pgq.ev_extra1", event->extra1);
	pgq_dict_set(dict, "pgq.ev_extra2", event->extra2);
	pgq_dict_set(dict, "pgq.ev_extra3", event->extra3);
	pgq_dict_set(dict, "pgq.ev_extra4", event->extra4);
	return dict;
}

bool
pgq_batch_run_query(PgqBatch *batch, const char *db_key,
					const PgqTemplate *tmpl, bool skip_other_types,
					const PgqSqlRetry *retry)
{
	PgqConsumer *consumer = pgq_batch_consumer(batch);
	const PgqEvent *event;
	int64_t		skipped = 0;

	while ((event = pgq_batch_next_event(batch)) != NULL)
	{
		bool		row_change = pgq_event_is_row_change(event);
		PgqDict    *values;
		PGresult   *res;
		char	   *errmsg = NULL;

		if (!row_change && skip_other_types)
		{
			skipped++;
			continue;
		}

		values = pgq_event_dict(batch, event, row_change, &errmsg);
		if (values == NULL)
		{
			pgq_log(PGQ_LOG_ERROR, "%s", errmsg);
			pgq_free(errmsg);
			return false;
		}
		res = pgq_event_query_exec(consumer, db_key, tmpl, values, retry,
								   &errmsg);
		pgq_dict_free(values);
		if (res == NULL)
		{
			pgq_log(PGQ_LOG_ERROR, "Query failed for event " INT64_FORMAT ": %s",
					(int64) event->id, errmsg);
			pgq_free(errmsg);
			return false;
		}
		pgq_log(PGQ_LOG_DEBUG, "event " INT64_FORMAT ": %s",
				(int64) event->id, PQcmdStatus(res));
		PQclear(res);
	}
	if (pgq_batch_failed(batch))
		return false;

	if (skipped > 0)
		pgq_batch_stat(batch, "skipped-events", skipped);
	return true;
}

static void
set_int64(PgqDict *dict, const char *key, int64_t value)
{
	char		text[32];

	snprintf(text, sizeof(text), INT64_FORMAT, (int64) value);
	pgq_dict_set(dict, key, text);
}

PGresult *
pgq_event_query_exec(PgqConsumer *consumer, const char *db_key,
					 const PgqTemplate *tmpl, const PgqDict *values,
					 const PgqSqlRetry *retry, char **errmsg)
{
	time_t		started = time(NULL);
	int			tried = 0;

	for (;;)
	{
		PGconn	   *conn;
		PGresult   *res = NULL;
		bool		retryable;
		int			wait;

		*errmsg = NULL;
		conn = pgq_consumer_connection(consumer, db_key, true);
		if (conn == NULL)
		{
			*errmsg = pg_strdup(pgq_consumer_error(consumer));
			retryable = true;
		}
		else
		{
			res = pgq_template_exec(conn, tmpl, values, errmsg);
			if (res != NULL)
				return res;
			retryable = connection_lost(conn);
		}

		if (!retryable || retry == NULL || !retry->enabled ||
			tried >= retry->max_count ||
			time(NULL) - started >= retry->max_time ||
			sky_stop_pending || sky_terminate_pending)
			return NULL;

		pgq_log(PGQ_LOG_INFO, "Got error on connection %s: %s",
				db_key, *errmsg);
		wait = retry->formula_a + retry->formula_b * tried;
		if (wait > retry->formula_cap)
			wait = retry->formula_cap;
		tried++;
		pgq_log(PGQ_LOG_INFO, "Retry #%d in %d seconds ...", tried, wait);
		retry_sleep(wait);
		if (sky_stop_pending || sky_terminate_pending)
			return NULL;		/* failing with the last error */
		pgq_free(*errmsg);
	}
}

/*
 * Only a broken connection is worth retrying: any other error would come
 * back the same on the next try, and failing the batch reports it sooner.
 */
static bool
connection_lost(PGconn *conn)
{
	return PQstatus(conn) == CONNECTION_BAD;
}

/*
 * Wait before a retry; a stop request ends the wait.  Not sky_sleep(): a
 * reload request stays pending until the batch is over, and would turn
 * every wait into none.
 */
static void
retry_sleep(int seconds)
{
	struct timespec left = {.tv_sec = seconds};

	while (!sky_stop_pending && !sky_terminate_pending &&
		   nanosleep(&left, &left) != 0 && errno == EINTR)
		;
}
