/*
 * libpgq_count: a complete consumer on libpgq.
 *
 * It reads every event of a queue and counts them, with the bytes of
 * ev_data and, for events of pgq.logutriga (ev_type "I:", "U:", "D:"),
 * the fields of their urlencoded row.  The counts appear in the stats line
 * the library logs after each batch.  An event whose ev_data cannot be
 * decoded is retried in a minute instead of being counted.
 *
 * Build against an installed libpgq:
 *	cc -o libpgq_count libpgq_count.c $(pkg-config --cflags --libs libpgq)
 *
 * Config (libpgq_count.ini):
 *	[libpgq_count]
 *	src_db = dbname=app
 *	queue_name = myqueue
 *	logfile = ~/log/%(job_name)s.log
 *	pidfile = ~/pid/%(job_name)s.pid
 *
 * Run: libpgq_count --register libpgq_count.ini; libpgq_count -d libpgq_count.ini
 */
#include <stdio.h>
#include <string.h>

#include <libpgq.h>

static bool
count_batch(PgqBatch *batch, void *arg)
{
	const PgqEvent *ev;

	while ((ev = pgq_batch_next_event(batch)) != NULL)
	{
		if (ev->data != NULL)
			pgq_batch_stat(batch, "bytes", (int64_t) strlen(ev->data));
		if (ev->type != NULL && ev->type[0] != '\0' && ev->type[1] == ':' &&
			strchr("IUD", ev->type[0]) != NULL)
		{
			PgqDict    *row = pgq_urldecode(ev->data);

			if (row == NULL)
			{
				pgq_log(PGQ_LOG_WARNING, "event %lld: bad ev_data, retrying later",
						(long long) ev->id);
				pgq_event_retry(batch, ev, 60);
				continue;
			}
			pgq_batch_stat(batch, "fields", pgq_dict_count(row));
			pgq_dict_free(row);
		}
	}
	/* a failed fetch ends the loop too: then the batch is tried again */
	return !pgq_batch_failed(batch);
}

int
main(int argc, char **argv)
{
	static const char *const sections[] = {"libpgq_count", NULL};
	PgqProgram	program = {
		.name = "libpgq_count",
		.service_names = sections,
		.description = "count the events of a PgQ queue",
		.ini_template = "[libpgq_count]\n"
		"src_db = dbname=app\n"
		"queue_name = myqueue\n"
		"#pgq_lazy_fetch = 300\n"
		"#logfile = ~/log/%(job_name)s.log\n"
		"#pidfile = ~/pid/%(job_name)s.pid\n",
		.flavour = PGQ_CONSUMER_PLAIN,
		.src_db_key = "src_db",
		.process_batch = count_batch,
	};

	return pgq_program_main(&program, argc, argv);
}
