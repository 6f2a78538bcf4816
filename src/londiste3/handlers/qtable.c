/*-------------------------------------------------------------------------
 *
 * qtable.c
 *	  qtable: a queue table, whose inserts only produce events (the
 *	  trigger skips the insert); qsplitter: a table's events go into
 *	  another queue of the local database.
 *
 * src/londiste3/handlers/qtable.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "londiste3/handlers/rowsql.h"

static const char *const no_args[] = {NULL};
static const char *const qsplitter_args[] = {"queue", NULL};

static bool
no_table_needed(const LdHandler *h)
{
	return false;
}

static bool
no_copy(LdHandler *h, LdStringList *src_cols, LdStringList *dst_cols)
{
	return false;
}

/* a BEFORE INSERT trigger that keeps no row; the table is not copied */
static void
qtable_trigger_args(const LdHandler *h, LdStringList *args)
{
	ld_names_add(args, "tgflags=BI");
	ld_names_add(args, "SKIP");
	ld_names_add(args, "expect_sync");
}

const LdHandlerClass ld_handler_qtable = {
	.name = "qtable",
	.module = "londiste.handlers.qtable",
	.doc = "Queue table: inserts become events and nothing is stored.\n"
	"\n"
	"The trigger runs before insert and skips the row, so the table stays\n"
	"empty and only feeds the queue.  Replicated events are ignored and\n"
	"the table is neither required nor copied on the other nodes.\n",
	.args = no_args,
	.needs_table = no_table_needed,
	.add_trigger_args = qtable_trigger_args,
	.copy_columns = no_copy,
};

/* qsplitter: the batch's events of the table, as COPY rows */
typedef struct QSplitter
{
	const char *queue;
	PQExpBufferData rows;
	int			count;
} QSplitter;

static bool
qsplitter_init(LdHandler *h)
{
	QSplitter  *qs = h->private;

	if (!pgq_dict_get(h->args, "queue", &qs->queue) || qs->queue == NULL ||
		qs->queue[0] == '\0')
	{
		sky_log(SKY_LOG_ERROR, "specify queue with handler-arg");
		return false;
	}
	initPQExpBuffer(&qs->rows);
	return true;
}

static void
qsplitter_free(LdHandler *h)
{
	QSplitter  *qs = h->private;

	if (qs->rows.data != NULL)
		termPQExpBuffer(&qs->rows);
}

static void
qsplitter_trigger_args(const LdHandler *h, LdStringList *args)
{
	ld_names_add(args, "virtual_table");
}

static bool
qsplitter_prepare(LdHandler *h, LdApply *apply)
{
	QSplitter  *qs = h->private;

	resetPQExpBuffer(&qs->rows);
	qs->count = 0;
	return true;
}

static bool
qsplitter_event(LdHandler *h, LdApply *apply, const PgqEvent *ev)
{
	QSplitter  *qs = h->private;
	const char *fields[] = {ev->type, ev->data, ev->extra1, ev->extra2,
	ev->extra3, ev->extra4, ev->time};
	int			i;

	for (i = 0; i < lengthof(fields); i++)
	{
		if (i > 0)
			appendPQExpBufferChar(&qs->rows, '\t');
		ld_append_copy_value(&qs->rows, fields[i]);
	}
	appendPQExpBufferChar(&qs->rows, '\n');
	qs->count++;
	return true;
}

/* one COPY into the queue's current event table */
static bool
qsplitter_finish(LdHandler *h, LdApply *apply)
{
	static const char *const columns[] = {"ev_type", "ev_data", "ev_extra1",
	"ev_extra2", "ev_extra3", "ev_extra4", "ev_time"};
	QSplitter  *qs = h->private;
	LdStringList cols = {0};
	PGresult   *res;
	char	   *table;
	bool		ok;
	int			i;

	if (qs->count == 0)
		return true;
	res = ld_direct_query(apply, "select pgq.current_event_table($1)", 1,
						 &qs->queue);
	if (res == NULL)
		return false;
	table = pg_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	for (i = 0; i < lengthof(columns); i++)
		ld_names_add(&cols, columns[i]);
	sky_log(SKY_LOG_DEBUG, "qsplitter: %d events of %s into queue %s",
			qs->count, h->table_name, qs->queue);
	/* the event table's name comes quoted from pgq */
	ok = ld_direct_copy(apply, NULL, table, &cols, qs->rows.data,
					   qs->rows.len);
	ld_names_reset(&cols);
	pg_free(table);
	resetPQExpBuffer(&qs->rows);
	qs->count = 0;
	return ok;
}

const LdHandlerClass ld_handler_qsplitter = {
	.name = "qsplitter",
	.module = "londiste.handlers.qtable",
	.doc = "Sends the table's events into another queue of this database.\n"
	"\n"
	"The table needs not exist here.  At the end of each batch its row\n"
	"events are inserted, unchanged, into the local queue named by the\n"
	"argument, in one COPY.\n"
	"\n"
	"Arguments:\n"
	"  queue=QUEUE  the local queue that receives the events (required)\n",
	.args = qsplitter_args,
	.private_size = sizeof(QSplitter),
	.init = qsplitter_init,
	.needs_table = no_table_needed,
	.add_trigger_args = qsplitter_trigger_args,
	.prepare_batch = qsplitter_prepare,
	.process_event = qsplitter_event,
	.finish_batch = qsplitter_finish,
	.copy_columns = no_copy,
	.free_private = qsplitter_free,
};
