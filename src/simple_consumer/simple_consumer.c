/*-------------------------------------------------------------------------
 *
 * simple_consumer.c
 *	  Run a query for each row change event of a PgQ queue.
 *
 * The C successor of Skytools' simple_consumer3: every event whose type is
 * a logutriga row change (I:, U:, D:) becomes a dict of its urldecoded
 * ev_data plus the pgq.* keys, and dst_query runs with it on an autocommit
 * connection to dst_db.  Nothing records which events were applied: a
 * batch that fails is fetched and run again from its first event, so the
 * effects of the events before the failure repeat (at-least-once).
 *
 * Events of other types are skipped as Skytools does, but counted in the
 * stats line; skip_other_types = 0 runs dst_query for them too.
 *
 * src/simple_consumer/simple_consumer.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "libpgq.h"

static bool simple_configure(PgqConsumer *consumer, void *arg);
static bool simple_process_batch(PgqBatch *batch, void *arg);

static const char *const service_names[] = {
	"simple_consumer3", "simple_consumer", NULL
};

static const char ini_template[] =
"[simple_consumer3]\n"
"# database holding the queue\n"
"src_db = dbname=sourcedb\n"
"\n"
"# database where dst_query runs, in autocommit\n"
"dst_db = dbname=targetdb\n"
"\n"
"queue_name = myqueue\n"
"\n"
"# run for each I:/U:/D: event; %(key)s takes a key of the urldecoded\n"
"# ev_data or pgq.tick_id, pgq.ev_id, pgq.ev_time, pgq.ev_type,\n"
"# pgq.ev_data, pgq.ev_extra1..4, bound as a query parameter.  Write the\n"
"# placeholders with a doubled % because of config interpolation.\n"
"dst_query = insert into copy_of_data (id, data) values (%%(id)s, %%(data)s)\n"
"\n"
"## only events of these tables (ev_extra1)\n"
"#table_filter = public.data\n"
"\n"
"## a raw SQL condition on the event columns (deprecated); given with\n"
"## table_filter, an event must pass both\n"
"#consumer_filter = ev_extra1 = 'public.data'\n"
"\n"
"## 0: run dst_query for events of any type, with only the pgq.* keys\n"
"## for those that are not row changes\n"
"#skip_other_types = 1\n"
"\n"
"logfile = ~/log/%(job_name)s.log\n"
"pidfile = ~/pid/%(job_name)s.pid\n";

/* the program's own config, replaced at every (re)load that is good */
static PgqEventQuery query;

static const PgqProgram program = {
	.name = "simple_consumer",
	.service_names = service_names,
	.description = "run a query for each row change event of a PgQ queue",
	.ini_template = ini_template,
	.flavour = PGQ_CONSUMER_PLAIN,
	.src_db_key = "src_db",
	.dst_db_key = NULL,
	.configure = simple_configure,
	.process_batch = simple_process_batch,
	.arg = &query,
};

int
main(int argc, char **argv)
{
	return pgq_program_main(&program, argc, argv);
}

/*
 * A config that fails here is refused as a whole, so a reload with a
 * broken dst_query keeps the old one.
 */
static bool
simple_configure(PgqConsumer *consumer, void *arg)
{
	return pgq_event_query_configure(consumer, arg);
}

static bool
simple_process_batch(PgqBatch *batch, void *arg)
{
	PgqEventQuery *q = arg;

	return pgq_batch_run_query(batch, "dst_db", q->dst_query,
							   q->skip_other_types, NULL);
}
