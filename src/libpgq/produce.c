/*-------------------------------------------------------------------------
 *
 * produce.c
 *	  Copying events into queues of a target database (PgqEventWriter).
 *
 * Events are kept per queue as ready COPY rows and written with one COPY
 * per queue into the table pgq.current_event_table() names.  The columns
 * written are those an event keeps when it moves (ev_time, ev_type,
 * ev_data, ev_extra1..4); ev_id and ev_txid come from the target table's
 * defaults, so the target queue numbers the events itself.
 *
 * The rows are in COPY's binary format, which spares the target parsing
 * the text of every row (about a fifth of its COPY time).  ev_time comes
 * as the text the source printed with DateStyle ISO, which the library
 * sets on its connections: that text always carries its UTC offset, so it
 * converts exactly to the binary timestamptz without any time zone data.
 *
 * When streaming, a queue's rows are sent as soon as STREAM_CHUNK_BYTES of
 * them are pending, into a COPY left open until the flush, or until another
 * queue needs the connection for its own COPY.  The first rows of a batch
 * go sooner, at STREAM_FIRST_BYTES: the target is the slower side of a
 * move, so every moment it waits for its first rows is added to the batch.
 * pgq_event_writer_open() readies the COPY even before the first event.
 *
 * src/libpgq/produce.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "libpgq_int.h"
#include "port/pg_bswap.h"

/* Pending COPY data beyond this many bytes is written before more is added */
#define WRITER_FLUSH_BYTES (8 * 1024 * 1024)

/* PQputCopyData takes an int length; send in pieces of this size */
#define COPY_CHUNK_BYTES (1024 * 1024)

/* Streaming: a queue's pending rows are sent once they are this long */
#define STREAM_CHUNK_BYTES (64 * 1024)
/* ... and the first rows of a batch once they are this long */
#define STREAM_FIRST_BYTES (8 * 1024)

#define COPY_COLUMNS \
	"(ev_time, ev_type, ev_data, ev_extra1, ev_extra2, ev_extra3, ev_extra4)"
#define COPY_NCOLUMNS 7

/* binary COPY: signature, flags and header extension length (both 0) */
static const char binary_header[19] = "PGCOPY\n\377\r\n";

/* timestamptz's binary form counts microseconds from this day */
#define PG_EPOCH_YEAR 2000
#define SECONDS_PER_DAY INT64CONST(86400)
#define USECS_PER_SEC INT64CONST(1000000)

typedef struct QueueBuffer
{
	char	   *queue;
	char	   *data;			/* binary COPY rows of the pending events */
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
	bool		batch_sent;		/* rows of this batch went to a COPY */
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
	writer->batch_sent = false;
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

/* Bytes into room already reserved */
static void
append_bytes(QueueBuffer *qb, const void *bytes, size_t len)
{
	memcpy(qb->data + qb->len, bytes, len);
	qb->len += len;
}

/* Big-endian integers of the binary COPY format */
static void
append_int16(QueueBuffer *qb, int16 value)
{
	uint16		n = pg_hton16((uint16) value);

	append_bytes(qb, &n, sizeof(n));
}

static void
append_int32(QueueBuffer *qb, int32 value)
{
	uint32		n = pg_hton32((uint32) value);

	append_bytes(qb, &n, sizeof(n));
}

static void
append_int64(QueueBuffer *qb, int64 value)
{
	uint64		n = pg_hton64((uint64) value);

	append_bytes(qb, &n, sizeof(n));
}

/* One binary COPY field of text: its length (-1 for NULL) and bytes */
static void
append_binary_text(QueueBuffer *qb, const char *value)
{
	size_t		len = value ? strlen(value) : 0;

	buffer_reserve(qb, len + 4);
	append_int32(qb, value ? (int32) len : -1);
	append_bytes(qb, value ? value : "", len);
}

/* Read count digits (at least min, at most max) as a number */
static bool
read_number(const char **p, int min, int max, int *value)
{
	int			n = 0;

	*value = 0;
	while (n < max && **p >= '0' && **p <= '9')
	{
		*value = *value * 10 + (**p - '0');
		(*p)++;
		n++;
	}
	return n >= min;
}

/*
 * Days from 1970-01-01 to a day of the proleptic Gregorian calendar
 * (year 0 is 1 BC), counting in 400-year cycles of 146097 days from
 * March 1st so that the leap day ends a year.
 */
static int64
days_from_civil(int64 year, int month, int day)
{
	int64		cycle;
	int64		year_of_cycle;
	int64		day_of_year;

	if (month <= 2)
		year--;
	cycle = (year >= 0 ? year : year - 399) / 400;
	year_of_cycle = year - cycle * 400;
	day_of_year = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
	return cycle * 146097 + year_of_cycle * 365 + year_of_cycle / 4 -
		year_of_cycle / 100 + day_of_year - 719468;
}

/*
 * A timestamptz as PostgreSQL prints it with DateStyle ISO, as the
 * microseconds since 2000-01-01 00:00 UTC of its binary form:
 *
 *	 Y...Y-MM-DD HH:MM:SS[.F...F]{+|-}HH[:MM[:SS]][ BC], infinity, -infinity
 *
 * False for anything else.
 */
static bool
iso_timestamptz_usecs(const char *text, int64 *usecs)
{
	const char *p = text;
	int			year,
				month,
				day,
				hour,
				minute,
				second;
	int			zone_hour,
				zone_minute = 0,
				zone_second = 0;
	int64		fraction = 0;
	int64		seconds;
	int			zone_sign;

	if (strcmp(text, "infinity") == 0)
	{
		*usecs = PG_INT64_MAX;
		return true;
	}
	if (strcmp(text, "-infinity") == 0)
	{
		*usecs = PG_INT64_MIN;
		return true;
	}
	if (!read_number(&p, 4, 6, &year) || *p++ != '-' ||
		!read_number(&p, 2, 2, &month) || *p++ != '-' ||
		!read_number(&p, 2, 2, &day) || *p++ != ' ' ||
		!read_number(&p, 2, 2, &hour) || *p++ != ':' ||
		!read_number(&p, 2, 2, &minute) || *p++ != ':' ||
		!read_number(&p, 2, 2, &second))
		return false;
	if (*p == '.')
	{
		const char *digits = ++p;
		int			value;

		/* up to microseconds, the digits PostgreSQL prints */
		if (!read_number(&p, 1, 6, &value))
			return false;
		fraction = value;
		for (int scale = p - digits; scale < 6; scale++)
			fraction *= 10;
	}
	if (*p != '+' && *p != '-')
		return false;
	zone_sign = (*p++ == '+') ? 1 : -1;
	if (!read_number(&p, 2, 2, &zone_hour))
		return false;
	if (*p == ':')
	{
		p++;
		if (!read_number(&p, 2, 2, &zone_minute))
			return false;
		if (*p == ':')
		{
			p++;
			if (!read_number(&p, 2, 2, &zone_second))
				return false;
		}
	}
	if (strcmp(p, " BC") == 0)
		year = 1 - year;
	else if (*p != '\0')
		return false;
	if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 ||
		minute > 59 || second > 59 || zone_minute > 59 || zone_second > 59)
		return false;

	/* the text is local time at the offset: UTC is that much earlier */
	seconds = (days_from_civil(year, month, day) -
			   days_from_civil(PG_EPOCH_YEAR, 1, 1)) * SECONDS_PER_DAY +
		hour * 3600 + minute * 60 + second -
		zone_sign * (zone_hour * 3600 + zone_minute * 60 + zone_second);
	*usecs = seconds * USECS_PER_SEC + fraction;
	return true;
}

/* The event as one binary COPY row; false if ev_time is not ISO text */
static bool
append_binary_event(QueueBuffer *qb, const PgqEvent *event)
{
	int64		time;

	if (!iso_timestamptz_usecs(event->time, &time))
		return false;
	buffer_reserve(qb, 2 + 4 + 8);
	append_int16(qb, COPY_NCOLUMNS);
	append_int32(qb, sizeof(int64));
	append_int64(qb, time);
	append_binary_text(qb, event->type);
	append_binary_text(qb, event->data);
	append_binary_text(qb, event->extra1);
	append_binary_text(qb, event->extra2);
	append_binary_text(qb, event->extra3);
	append_binary_text(qb, event->extra4);
	return true;
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
	if (!append_binary_event(qb, event))
	{
		set_error(writer, "event %lld: ev_time \"%s\" is not a timestamp in ISO form (the source connection's DateStyle must stay ISO)",
				  (long long) event->id, event->time);
		return false;
	}
	writer->pending_bytes += qb->len - before;
	if (writer->streaming &&
		qb->len >= (writer->batch_sent ? STREAM_CHUNK_BYTES : STREAM_FIRST_BYTES))
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
	/* the binary format's trailer: a row of -1 columns */
	ok = PQputCopyData(conn, "\377\377", 2) == 1 &&
		PQputCopyEnd(conn, NULL) == 1;
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
	sql = psprintf("copy %s " COPY_COLUMNS " from stdin (format binary)", table);
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
	if (PQputCopyData(target, binary_header, sizeof(binary_header)) != 1)
	{
		set_error(writer, "target queue \"%s\": %s", qb->queue,
				  PQerrorMessage(target));
		return false;
	}
	writer->copy_conn = target;
	writer->copy_queue = qb;
	return true;
}

/* Have the queue's COPY open on target, ending another queue's first */
static bool
use_copy(PgqEventWriter *writer, PGconn *target, QueueBuffer *qb)
{
	if (writer->copy_conn == target && writer->copy_queue == qb)
		return true;
	return end_copy(writer) && start_copy(writer, target, qb);
}

/* Send a queue's pending rows into its COPY, which stays open */
static bool
send_queue(PgqEventWriter *writer, PGconn *target, QueueBuffer *qb)
{
	if (!use_copy(writer, target, qb))
		return false;
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
	writer->batch_sent = true;
	return true;
}

bool
pgq_event_writer_open(PgqEventWriter *writer, PGconn *target, const char *queue)
{
	return use_copy(writer, target, queue_buffer(writer, queue));
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
