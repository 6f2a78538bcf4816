/*-------------------------------------------------------------------------
 *
 * bulk.c
 *	  bulk: a batch's events of the table collapsed per primary key and
 *	  loaded with COPY instead of a statement per event.
 *
 * Per key, the first event says whether the row existed before the batch
 * (not for an insert) and the last one whether it exists after (not
 * after a delete); a row that lived only inside the batch is dropped,
 * the others become one delete, update or insert of the latest image.
 * loader.c does the loading.  A table without primary key takes inserts
 * only.
 *
 * src/londiste3/handlers/bulk.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "londiste3/handlers/rowsql.h"

static const char *const bulk_args[] = {"method", NULL};

typedef struct Bulk
{
	int			method;
	LdStringList pkeys;			/* from the first event's type */
	bool		have_pkeys;
	LdStringList cols;			/* the latest event's columns */
	LdRowMap   *rows;
	int64_t		fake_seq;		/* keys for inserts into a keyless table */
	LdBulkLoad	load;
} Bulk;

static bool
bulk_init(LdHandler *h)
{
	Bulk	   *b = h->private;
	const char *method = NULL;

	if (pgq_dict_get(h->args, "method", &method))
	{
		if (method == NULL || strlen(method) != 1 ||
			method[0] < '0' || method[0] > '2')
		{
			sky_log(SKY_LOG_ERROR, "unknown method: %s", method ? method : "");
			return false;
		}
		b->method = method[0] - '0';
	}
	b->rows = ld_rowmap_new();
	ld_bulk_init(&b->load);
	return true;
}

static void
bulk_free(LdHandler *h)
{
	Bulk	   *b = h->private;

	if (b->rows == NULL)
		return;
	ld_rowmap_free(b->rows);
	ld_names_reset(&b->pkeys);
	ld_names_reset(&b->cols);
	ld_bulk_term(&b->load);
}

static bool
bulk_prepare(LdHandler *h, LdApply *apply)
{
	Bulk	   *b = h->private;

	ld_rowmap_reset(b->rows);
	return true;
}

static bool
bulk_event(LdHandler *h, LdApply *apply, const PgqEvent *ev)
{
	Bulk	   *b = h->private;
	LdStringList evkeys = {0};
	PgqDict    *row;
	LdRowEntry *entry;
	char		op;
	int			i;

	if (!ld_parse_row_event(h, ev, &op, &evkeys, &row))
	{
		ld_names_reset(&evkeys);
		return false;
	}
	if (!b->have_pkeys)
	{
		for (i = 0; i < evkeys.n; i++)
			ld_names_add(&b->pkeys, evkeys.items[i]);
		b->have_pkeys = true;
	}
	ld_names_reset(&evkeys);

	if (b->pkeys.n > 0)
		entry = ld_rowmap_get(b->rows, row, &b->pkeys);
	else if (op == 'I')
	{
		/* every insert of a keyless table is a row of its own */
		PgqDict    *fake = pgq_dict_new();
		LdStringList fake_key = {0};
		char		seq[32];

		snprintf(seq, sizeof(seq), "%lld", (long long) b->fake_seq++);
		pgq_dict_set(fake, "seq", seq);
		ld_names_add(&fake_key, "seq");
		entry = ld_rowmap_get(b->rows, fake, &fake_key);
		ld_names_reset(&fake_key);
		pgq_dict_free(fake);
	}
	else
	{
		sky_log(SKY_LOG_ERROR, "non-pk tables not supported: %s", h->table_name);
		pgq_dict_free(row);
		return false;
	}

	/* the column list follows the latest event (columns may be added) */
	ld_names_reset(&b->cols);
	for (i = 0; i < pgq_dict_count(row); i++)
		ld_names_add(&b->cols, pgq_dict_key(row, i));

	if (entry->first_op == 0)
	{
		entry->first_op = op;
		entry->op = 'I';		/* exists after, until a delete */
	}
	if (op == 'I')
		entry->op = 'I';
	else if (op == 'D')
		entry->op = 'D';
	if (entry->row != NULL)
		pgq_dict_free(entry->row);
	entry->row = row;
	return true;
}

static bool
bulk_finish(LdHandler *h, LdApply *apply)
{
	Bulk	   *b = h->private;
	LdStringList cols = {0};
	int			i;
	bool		ok;

	if (ld_rowmap_size(b->rows) == 0)
		return true;
	/* key columns first */
	for (i = 0; i < b->pkeys.n; i++)
		ld_names_add(&cols, b->pkeys.items[i]);
	for (i = 0; i < b->cols.n; i++)
		if (!ld_names_contains(&b->pkeys, b->cols.items[i]))
			ld_names_add(&cols, b->cols.items[i]);

	for (i = 0; i < ld_rowmap_size(b->rows); i++)
	{
		LdRowEntry *e = ld_rowmap_entry(b->rows, i);
		bool		before = e->first_op != 'I';
		bool		after = e->op != 'D';

		if (before && after)
		{
			ld_append_copy_row(&b->load.upd, e->row, &cols);
			b->load.nupd++;
		}
		else if (before)
		{
			ld_append_copy_row(&b->load.del, e->row, &cols);
			b->load.ndel++;
		}
		else if (after)
		{
			ld_append_copy_row(&b->load.ins, e->row, &cols);
			b->load.nins++;
		}
	}
	b->load.table = h->dest_table;
	b->load.cols = &cols;
	b->load.keys = &b->pkeys;
	b->load.method = b->method;
	b->load.analyze = false;
	b->load.check_counts = true;
	ok = ld_bulk_run(apply, &b->load);
	ld_names_reset(&cols);
	ld_rowmap_reset(b->rows);
	return ok;
}

const LdHandlerClass ld_handler_bulk = {
	.name = "bulk",
	.module = "londiste.handlers.bulk",
	.doc = "Loads each batch with COPY instead of a statement per event.\n"
	"\n"
	"The batch's events are collapsed per primary key to the row's final\n"
	"state; new rows are COPYed into the table, changed and deleted ones\n"
	"into the temp table <schema>_<table>_loadertmp, then applied with one\n"
	"UPDATE and one DELETE.  Needs urlencoded (logutriga) events; a table\n"
	"without primary key can only take inserts.\n"
	"\n"
	"Arguments:\n"
	"  method=0  updates with UPDATE ... FROM the temp table (default)\n"
	"  method=1  updates as DELETE and INSERT from the temp table\n"
	"  method=2  as 1, and new rows go the same way as updated ones\n",
	.args = bulk_args,
	.private_size = sizeof(Bulk),
	.init = bulk_init,
	.prepare_batch = bulk_prepare,
	.process_event = bulk_event,
	.finish_batch = bulk_finish,
	.free_private = bulk_free,
};
