/*-------------------------------------------------------------------------
 *
 * main.c
 *	  queue_splitter: moves every event of a queue into the queue of
 *	  another (or the same) database named by one of the event's fields,
 *	  exactly once.
 *
 *	  queue_splitter [OPTION]... INI
 *
 * A serial consumer like queue_mover: all the batch's events, whatever
 * queues they go to, and the batch's tick in pgq_ext commit in one target
 * transaction.  queue_field names the field (default extra1, which
 * pgq.logutriga fills with the table name).  An event whose field is NULL,
 * or names a queue that does not exist, fails the whole batch, which is
 * tried again after exception_sleep: nothing is applied and nothing lost
 * until the queue is created.
 *
 * src/queue_splitter/main.c
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "libpgq.h"

typedef enum EventField
{
	FIELD_TYPE,
	FIELD_DATA,
	FIELD_EXTRA1,
	FIELD_EXTRA2,
	FIELD_EXTRA3,
	FIELD_EXTRA4
} EventField;

typedef struct FieldName
{
	const char *name;
	EventField	field;
} FieldName;

/* The text fields an event can be routed by, in both spellings */
static const FieldName field_names[] = {
	{"type", FIELD_TYPE}, {"ev_type", FIELD_TYPE},
	{"data", FIELD_DATA}, {"ev_data", FIELD_DATA},
	{"extra1", FIELD_EXTRA1}, {"ev_extra1", FIELD_EXTRA1},
	{"extra2", FIELD_EXTRA2}, {"ev_extra2", FIELD_EXTRA2},
	{"extra3", FIELD_EXTRA3}, {"ev_extra3", FIELD_EXTRA3},
	{"extra4", FIELD_EXTRA4}, {"ev_extra4", FIELD_EXTRA4},
};

typedef struct Splitter
{
	EventField	field;
	char		field_name[16];	/* as configured, for messages */
	PgqEventWriter *writer;
} Splitter;

static const char *const service_names[] = {"queue_splitter3", "queue_splitter", NULL};

static const char ini_template[] =
"[queue_splitter3]\n"
"## queue_splitter: moves each event of queue_name in src_db into the\n"
"## queue of dst_db named by the event's queue_field, exactly once\n"
"## (see doc/queue_mover.md).  The main section may also be called\n"
"## [queue_splitter].\n"
"\n"
"job_name = queue_splitter_%(queue_name)s\n"
"\n"
"## the database of the source queue\n"
"src_db = dbname=sourcedb\n"
"\n"
"## the target database: needs the pgq and pgq_ext extensions and every\n"
"## queue the events name\n"
"dst_db = dbname=targetdb\n"
"\n"
"## the source queue (compat name: pgq_queue_name)\n"
"queue_name = source_queue\n"
"\n"
"## the event field holding the target queue's name: type, data,\n"
"## extra1 .. extra4 (also as ev_type, ev_data, ev_extra1 ...).\n"
"## extra1 is the table name in events of pgq.logutriga.\n"
"#queue_field = extra1\n"
"\n"
"## registration name on the source queue and in pgq_ext (default: job_name)\n"
"#consumer_name = %(job_name)s\n"
"\n"
"logfile = ~/log/%(job_name)s.log\n"
"pidfile = ~/pid/%(job_name)s.pid\n"
"\n"
"## seconds to wait when there is no batch\n"
"#loop_delay = 1.0\n"
"\n"
"## seconds to wait after an error before the batch is tried again\n"
"#exception_sleep = 20\n"
"\n"
"## events fetched from the source at a time\n"
"#pgq_lazy_fetch = 300\n"
"\n"
"## take batches only once they hold this many events / span this interval\n"
"#pgq_batch_collect_events = 0\n"
"#pgq_batch_collect_interval = 1 minute\n"
"\n"
"## stay this far behind the head of the queue\n"
"#pgq_keep_lag = 0\n";

static const char *
field_value(const PgqEvent *event, EventField field)
{
	switch (field)
	{
		case FIELD_TYPE:
			return event->type;
		case FIELD_DATA:
			return event->data;
		case FIELD_EXTRA1:
			return event->extra1;
		case FIELD_EXTRA2:
			return event->extra2;
		case FIELD_EXTRA3:
			return event->extra3;
		case FIELD_EXTRA4:
			return event->extra4;
	}
	return NULL;
}

static bool
configure_splitter(PgqConsumer *consumer, void *arg)
{
	Splitter   *splitter = arg;
	const char *name = pgq_config_get(consumer, "queue_field", "extra1");

	for (size_t i = 0; i < sizeof(field_names) / sizeof(field_names[0]); i++)
	{
		if (strcasecmp(name, field_names[i].name) == 0)
		{
			splitter->field = field_names[i].field;
			snprintf(splitter->field_name, sizeof(splitter->field_name), "%s",
					 field_names[i].name);
			return true;
		}
	}
	pgq_log(PGQ_LOG_ERROR,
			"bad queue_field \"%s\": use one of type, data, extra1, extra2, extra3, extra4 (or their ev_ names)",
			name);
	return false;
}

static bool
split_batch(PgqBatch *batch, void *arg)
{
	Splitter   *splitter = arg;
	PGconn	   *target = pgq_batch_target(batch);
	const PgqEvent *event;

	pgq_event_writer_begin(splitter->writer, batch);
	while ((event = pgq_batch_next_event(batch)) != NULL)
	{
		const char *queue = field_value(event, splitter->field);

		if (queue == NULL || queue[0] == '\0')
		{
			pgq_log(PGQ_LOG_ERROR,
					"event %lld has no target queue: its %s is %s",
					(long long) event->id, splitter->field_name,
					queue == NULL ? "NULL" : "empty");
			return false;
		}
		if (!pgq_event_writer_add(splitter->writer, target, queue, event))
			return false;
	}
	if (pgq_batch_failed(batch))
		return false;
	/* a failure of the writer is the consumer's error: "Job ... crashed" */
	return pgq_event_writer_flush(splitter->writer, target);
}

int
main(int argc, char **argv)
{
	Splitter	splitter = {0};
	PgqProgram	program = {
		.name = "queue_splitter",
		.service_names = service_names,
		.description = "Moves each event of a queue into the queue its queue_field names, exactly once.",
		.ini_template = ini_template,
		.flavour = PGQ_CONSUMER_SERIAL,
		.src_db_key = "src_db",
		.dst_db_key = "dst_db",
		.configure = configure_splitter,
		.process_batch = split_batch,
		.arg = &splitter,
	};
	int			rc;

	splitter.writer = pgq_event_writer_new();
	/* process_batch only adds and flushes: the COPY may stay open */
	pgq_event_writer_set_streaming(splitter.writer, true);
	rc = pgq_program_main(&program, argc, argv);
	pgq_event_writer_free(splitter.writer);
	return rc;
}
