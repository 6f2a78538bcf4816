/*-------------------------------------------------------------------------
 *
 * simple_local_consumer.c
 *	  Run a query for each row change event of a PgQ queue, keeping the
 *	  position in a local file.
 *
 * The C successor of Skytools' simple_local_consumer3: dst_query runs for
 * each row change event as in simple_consumer, retried after a lost
 * connection when sql_retry is on, and the last applied tick is written
 * (fsync'd, then renamed into place) to local_tracking_file after each
 * batch.  The library's LOCAL flavour does the tracking: it skips a batch
 * the file says was applied and puts the queue position back in line with
 * the file at startup and after an error.  So only a batch cut short by a
 * crash or an error is applied again, from its first event.
 *
 * src/simple_local_consumer/simple_local_consumer.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "libpgq.h"

static bool local_configure(PgqConsumer *consumer, void *arg);
static bool local_process_batch(PgqBatch *batch, void *arg);

static const char *const service_names[] = {
	"simple_local_consumer3", "simple_local_consumer", NULL
};

static const char ini_template[] =
"[simple_local_consumer3]\n"
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
"# the last applied tick; the directory must exist\n"
"local_tracking_file = ~/state/%(job_name)s.tick\n"
"\n"
"## on a lost connection, run the query again on a new one, waiting\n"
"## a + b * (n - 1) seconds (at most cap) before retry n\n"
"#sql_retry = 0\n"
"#sql_retry_max_count = 10\n"
"#sql_retry_max_time = 300\n"
"#sql_retry_formula_a = 1\n"
"#sql_retry_formula_b = 5\n"
"#sql_retry_formula_cap = 60\n"
"\n"
"logfile = ~/log/%(job_name)s.log\n"
"pidfile = ~/pid/%(job_name)s.pid\n";

/* the program's own config, replaced at every (re)load that is good */
static PgqEventQuery query;

static const PgqProgram program = {
	.name = "simple_local_consumer",
	.service_names = service_names,
	.description = "run a query for each row change event of a PgQ queue, tracking it in a local file",
	.ini_template = ini_template,
	.flavour = PGQ_CONSUMER_LOCAL,
	.src_db_key = "src_db",
	.dst_db_key = NULL,
	.configure = local_configure,
	.process_batch = local_process_batch,
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
local_configure(PgqConsumer *consumer, void *arg)
{
	return pgq_event_query_configure(consumer, arg);
}

static bool
local_process_batch(PgqBatch *batch, void *arg)
{
	PgqEventQuery *q = arg;

	return pgq_batch_run_query(batch, "dst_db", q->dst_query,
							   q->skip_other_types, &q->sql_retry);
}
