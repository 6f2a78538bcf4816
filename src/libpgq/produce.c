/*-------------------------------------------------------------------------
 *
 * produce.c
 *	  Copying events into queues of a target database (PgqEventWriter).
 *
 * Events are kept per queue as ready COPY text lines and written with one
 * COPY per queue into the table pgq.current_event_table() names.  The
 * columns written are those an event keeps when it moves (ev_time, ev_type,
 * ev_data, ev_extra1..4); ev_id and ev_txid come from the target table's
 * defaults, so the target queue numbers the events itself.
 *
 * When streaming, a queue's text is sent as soon as STREAM_CHUNK_BYTES of
 * it are pending, into a COPY left open until the flush, or until another
 * queue needs the connection for its own COPY.
 *
 * src/libpgq/produce.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "libpgq_int.h"

/* Pending COPY text beyond this many bytes is written before more is added */
#define WRITER_FLUSH_BYTES (8 * 1024 * 1024)

/* PQputCopyData takes an int length; send in pieces of this size */
#define COPY_CHUNK_BYTES (1024 * 1024)

/* Streaming: a queue's pending text is sent once it is this long */
#define STREAM_CHUNK_BYTES (64 * 1024)

#define COPY_COLUMNS \
	"(ev_time, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4)"

typedef struct QueueBuffer
{
	char	   *queue;
	char	   *data;			/* COPY text of the pending events */
	size_t		len;
	size_t		size;
} QueueBuffer;

struct PgqEventWriter
{
	char	   *client_encoding;	/* NULL: leave the target's alone */
	QueueBuffer *queues;
	int			nqueues;
	int			maxqueues;
	size_t		pending_bytes;	/* over all queues */
	PgqConsumer *consumer;		/* of the current batch, or NULL */
	char		error[1024];	/* the last error, for the consumer's */
	bool		streaming;
	PGconn	   *copy_conn;		/* where a COPY is open, or NULL */
	QueueBuffer *copy_queue;	/* the queue that COPY writes */
};

static bool send_queue(PgqEventWriter *writer, PGconn *target, QueueBuffer *qb);

static void set_error(PgqEventWriter *writer, const char *fmt,...) pg_attribute_printf(2, 3);

static void
set_error(PgqEventWriter *writer, const char *fmt,...)
{
	va_list		ap;
	size_t		len;

	va_start(ap, fmt);
	vsnprintf(writer->error, sizeof(writer->error), fmt, ap);
	va_end(ap);
	/* server messages end with a newline; the log line adds its own */
	len = strlen(writer->error);
	while (len > 0 && writer->error[len - 1] == '\n')
		writer->error[--len] = '\0';
	/* the batch fails with this error: "Job NAME crashed: ..." */
	if (writer->consumer != NULL)
		pgq_set_error(writer->consumer, "%s", writer->error);
}

PgqEventWriter *
pgq_event_writer_new(void)
{
	return pg_malloc0(sizeof(PgqEventWriter));
}

void
pgq_event_writer_begin(PgqEventWriter *writer, PgqBatch *batch)
{
	const char *encoding = PQparameterStatus(batch->src, "client_encoding");

	for (int i = 0; i < writer->nqueues; i++)
	{
		writer->queues[i].len = 0;
	}
	writer->pending_bytes = 0;
	writer->error[0] = '\0';
	writer->consumer = batch->consumer;
	/* a COPY left open by a failed batch went with its connection */
	writer->copy_conn = NULL;
	writer->copy_queue = NULL;
	if (encoding == NULL ? writer->client_encoding != NULL :
		writer->client_encoding == NULL ||
		strcmp(encoding, writer->client_encoding) != 0)
	{
		pg_free(writer->client_encoding);
		writer->client_encoding = encoding ? pg_strdup(encoding) : NULL;
	}
}

void
pgq_event_writer_set_streaming(PgqEventWriter *writer, bool on)
{
	writer->streaming = on;
}

void
pgq_event_writer_free(PgqEventWriter *writer)
{
	if (writer == NULL)
		return;
	for (int i = 0; i < writer->nqueues; i++)
	{
		pg_free(writer->queues[i].queue);
		pg_free(writer->queues[i].data);
	}
	pg_free(writer->queues);
	pg_free(writer->client_encoding);
	pg_free(writer);
}

static QueueBuffer *
queue_buffer(PgqEventWriter *writer, const char *queue)
{
	QueueBuffer *qb;

	/* a splitter writes to few queues; a linear search is enough */
	for (int i = 0; i < writer->nqueues; i++)
		if (strcmp(writer->queues[i].queue, queue) == 0)
			return &writer->queues[i];

	if (writer->nqueues == writer->maxqueues)
	{
		/* copy_queue points into the array that moves */
		int			copying = writer->copy_queue ?
			(int) (writer->copy_queue - writer->queues) : -1;

		writer->maxqueues = writer->maxqueues ? writer->maxqueues * 2 : 4;
		writer->queues = pg_realloc(writer->queues,
									writer->maxqueues * sizeof(QueueBuffer));
		if (copying >= 0)
			writer->copy_queue = &writer->queues[copying];
	}
	qb = &writer->queues[writer->nqueues++];
	memset(qb, 0, sizeof(QueueBuffer));
	qb->queue = pg_strdup(queue);
	return qb;
}

static void
buffer_reserve(QueueBuffer *qb, size_t more)
{
	if (qb->len + more <= qb->size)
		return;
	while (qb->len + more > qb->size)
		qb->size = qb->size ? qb->size * 2 : 8192;
	qb->data = pg_realloc(qb->data, qb->size);
}

/* One COPY text field: \N for NULL, the four special bytes escaped */
static void
append_field(QueueBuffer *qb, const char *value, char terminator)
{
	const char *p;

	if (value == NULL)
	{
		buffer_reserve(qb, 3);
		memcpy(qb->data + qb->len, "\\N", 2);
		qb->len += 2;
		qb->data[qb->len++] = terminator;
		return;
	}

	/* every byte may double, plus the terminator */
	buffer_reserve(qb, strlen(value) * 2 + 1);
	for (p = value; *p; p++)
	{
		char		c = *p;

		switch (c)
		{
			case '\\':
				qb->data[qb->len++] = '\\';
				qb->data[qb->len++] = '\\';
				break;
			case '\n':
				qb->data[qb->len++] = '\\';
				qb->data[qb->len++] = 'n';
				break;
			case '\r':
				qb->data[qb->len++] = '\\';
				qb->data[qb->len++] = 'r';
				break;
			case '\t':
				qb->data[qb->len++] = '\\';
				qb->data[qb->len++] = 't';
				break;
			default:
				qb->data[qb->len++] = c;
		}
	}
	qb->data[qb->len++] = terminator;
}

bool
pgq_event_writer_add(PgqEventWriter *writer, PGconn *target,
					 const char *queue, const PgqEvent *event)
{
	QueueBuffer *qb;
	size_t		before;

	if (event->time == NULL)
	{
		/* ev_time is NOT NULL in every event table */
		set_error(writer, "event %lld has no ev_time", (long long) event->id);
		return false;
	}
	if (writer->pending_bytes >= WRITER_FLUSH_BYTES &&
		!pgq_event_writer_flush(writer, target))
		return false;

	qb = queue_buffer(writer, queue);
	before = qb->len;
	append_field(qb, event->time, '\t');
	append_field(qb, event->type, '\t');
	append_field(qb, event->data, '\t');
	append_field(qb, event->extra1, '\t');
	append_field(qb, event->extra2, '\t');
	append_field(qb, event->extra3, '\t');
	append_field(qb, event->extra4, '\n');
	writer->pending_bytes += qb->len - before;
	if (writer->streaming && qb->len >= STREAM_CHUNK_BYTES)
		return send_queue(writer, target, qb);
	return true;
}

/* The client encoding the writer's text is in, set on the target */
static bool
match_encoding(PgqEventWriter *writer, PGconn *target)
{
	const char *current;

	if (writer->client_encoding == NULL)
		return true;
	current = PQparameterStatus(target, "client_encoding");
	if (current != NULL && strcmp(current, writer->client_encoding) == 0)
		return true;
	if (PQsetClientEncoding(target, writer->client_encoding) != 0)
	{
		set_error(writer, "could not set client_encoding %s on the target: %s",
				  writer->client_encoding, PQerrorMessage(target));
		return false;
	}
	return true;
}

/*
 * "schema.table" as pgq.current_event_table() gives it, quoted for SQL.
 * NULL if libpq refuses a part (bad encoding); free with pg_free().
 */
static char *
quote_table_name(PGconn *target, const char *name)
{
	const char *dot = strchr(name, '.');
	char	   *schema = NULL;
	char	   *table;
	char	   *quoted = NULL;

	if (dot != NULL)
	{
		schema = PQescapeIdentifier(target, name, dot - name);
		if (schema == NULL)
			return NULL;
		name = dot + 1;
	}
	table = PQescapeIdentifier(target, name, strlen(name));
	if (table != NULL)
	{
		quoted = pg_malloc( (schema ? strlen(schema) : 0) + strlen(table) + 2);
		sprintf(quoted, "%s%s%s", schema ? schema : "", schema ? "." : "", table);
		PQfreemem(table);
	}
	PQfreemem(schema);
	return quoted;
}

/* The COPY target of "queue" in this transaction; NULL on error */
static char *
current_event_table(PgqEventWriter *writer, PGconn *target, const char *queue)
{
	const char *params[1] = {queue};
	PGresult   *res;
	char	   *table;

	res = PQexecParams(target, "select pgq.current_event_table($1)",
					   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		set_error(writer, "target queue \"%s\": %s", queue,
				  PQresultErrorMessage(res));
		PQclear(res);
		return NULL;
	}
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
	{
		set_error(writer, "target queue \"%s\": pgq.current_event_table() returned no table",
				  queue);
		PQclear(res);
		return NULL;
	}
	table = quote_table_name(target, PQgetvalue(res, 0, 0));
	if (table == NULL)
		set_error(writer, "target queue \"%s\": %s", queue,
				  PQerrorMessage(target));
	PQclear(res);
	return table;
}

/* End the open COPY, if any, and check its outcome */
static bool
end_copy(PgqEventWriter *writer)
{
	PGconn	   *conn = writer->copy_conn;
	QueueBuffer *qb = writer->copy_queue;
	PGresult   *res;
	bool		ok;

	if (conn == NULL)
		return true;
	writer->copy_conn = NULL;
	writer->copy_queue = NULL;
	ok = PQputCopyEnd(conn, NULL) == 1;
	if (!ok)
		set_error(writer, "target queue \"%s\": %s", qb->queue,
				  PQerrorMessage(conn));
	/* the COPY's own result, then the end of the command */
	while ((res = PQgetResult(conn)) != NULL)
	{
		if (ok && PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			set_error(writer, "target queue \"%s\": %s", qb->queue,
					  PQresultErrorMessage(res));
			ok = false;
		}
		PQclear(res);
	}
	return ok;
}

/* Open a COPY into the current event table of the queue */
static bool
start_copy(PgqEventWriter *writer, PGconn *target, QueueBuffer *qb)
{
	char	   *table;
	char	   *sql;
	PGresult   *res;

	if (!match_encoding(writer, target))
		return false;
	table = current_event_table(writer, target, qb->queue);
	if (table == NULL)
		return false;
	sql = pg_malloc(strlen(table) + sizeof(COPY_COLUMNS) + 32);
	sprintf(sql, "copy %s " COPY_COLUMNS " from stdin", table);
	res = PQexec(target, sql);
	pg_free(sql);
	pg_free(table);
	if (PQresultStatus(res) != PGRES_COPY_IN)
	{
		set_error(writer, "target queue \"%s\": %s", qb->queue,
				  PQresultErrorMessage(res));
		PQclear(res);
		return false;
	}
	PQclear(res);
	writer->copy_conn = target;
	writer->copy_queue = qb;
	return true;
}

/*
 * Send a queue's pending text into its COPY, opening that first (and
 * ending another queue's).  The COPY stays open.
 */
static bool
send_queue(PgqEventWriter *writer, PGconn *target, QueueBuffer *qb)
{
	if (writer->copy_conn != target || writer->copy_queue != qb)
	{
		if (!end_copy(writer) || !start_copy(writer, target, qb))
			return false;
	}
	for (size_t sent = 0; sent < qb->len; sent += COPY_CHUNK_BYTES)
	{
		size_t		chunk = qb->len - sent;

		if (chunk > COPY_CHUNK_BYTES)
			chunk = COPY_CHUNK_BYTES;
		if (PQputCopyData(target, qb->data + sent, (int) chunk) != 1)
		{
			set_error(writer, "target queue \"%s\": %s", qb->queue,
					  PQerrorMessage(target));
			/* the connection is broken: the batch fails and it goes */
			writer->copy_conn = NULL;
			writer->copy_queue = NULL;
			return false;
		}
	}
	writer->pending_bytes -= qb->len;
	qb->len = 0;
	return true;
}

bool
pgq_event_writer_flush(PgqEventWriter *writer, PGconn *target)
{
	for (int i = 0; i < writer->nqueues; i++)
	{
		QueueBuffer *qb = &writer->queues[i];

		if (qb->len > 0 && !send_queue(writer, target, qb))
			return false;
	}
	writer->pending_bytes = 0;
	return end_copy(writer);
}
