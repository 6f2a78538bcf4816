/*-------------------------------------------------------------------------
 *
 * londiste.c
 *	  The built-in handler: each row event becomes one SQL statement on
 *	  the table (replay.c builds it), sent through the worker's LdApply:
 *	  a prepared statement with the row's values as parameters (several
 *	  rows' inserts or deletes may go together, see apply.c), or for sqltriga events (their
 *	  SQL fragment is the data) statement text.
 *
 * encoding=utf8 replaces invalid UTF-8 in the incoming values with
 * U+FFFD (and logs the column); ignore_truncate=1 keeps TRUNCATE events
 * from being replayed (the worker reads that argument for every handler).
 *
 * src/londiste3/handlers/londiste.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "londiste3/handlers/handler.h"
#include "londiste3/worker/replay.h"

static const char *const londiste_args[] = {"encoding", "ignore_truncate", NULL};

/* does the handler fix invalid UTF-8?  Only utf8 is known, as in Python */
static bool
fixes_utf8(LdHandler *h, bool *fix)
{
	const char *enc;

	*fix = false;
	if (!pgq_dict_get(h->args, "encoding", &enc) || enc == NULL || enc[0] == '\0')
		return true;
	if (pg_strcasecmp(enc, "utf8") != 0 && pg_strcasecmp(enc, "utf-8") != 0)
	{
		sky_log(SKY_LOG_ERROR, "%s: handler encoding %s: only utf8 supported",
				h->table_name, enc);
		return false;
	}
	*fix = true;
	return true;
}

/*
 * An update's set columns are the row's columns that are not keys, in the
 * order ld_row_event_prepared() gives their values (then the keys').
 */
static bool
apply_update(LdHandler *h, LdApply *apply, const LdRowEvent *rev,
			 int nvalues, const char **values, const char *sql)
{
	int			n = pgq_dict_count(rev->row);
	const char **set_columns = pg_malloc(sizeof(char *) * (n + 1));
	int			nset = 0;
	int			i;
	bool		ok;

	for (i = 0; i < n; i++)
	{
		const char *col = pgq_dict_key(rev->row, i);

		if (!ld_row_event_is_key(rev, col))
			set_columns[nset++] = col;
	}
	if (nset + rev->npkeys == nvalues)
		ok = ld_apply_update(apply, h->dest_table, nset, set_columns,
							 rev->npkeys, (const char *const *) rev->pkeys,
							 values, sql);
	else
		ok = ld_apply_prepared(apply, sql, nvalues, values);
	pg_free(set_columns);
	return ok;
}

static bool
londiste_process_event(LdHandler *h, LdApply *apply, const PgqEvent *ev)
{
	LdRowEvent	rev;
	PQExpBufferData sql;
	const char **values = NULL;
	int			nvalues = 0;
	char	   *errmsg;
	bool		fix;
	bool		ok;

	if (!fixes_utf8(h, &fix))
		return false;
	if (!ld_row_event_parse(ev, fix, &rev, &errmsg))
	{
		sky_log(SKY_LOG_ERROR, "%s: %s", h->table_name, errmsg);
		pg_free(errmsg);
		return false;
	}
	initPQExpBuffer(&sql);
	if (rev.sql_fragment != NULL)
	{
		ld_row_event_fragment_sql(&rev, h->dest_table, &sql);
		ok = ld_apply_sql(apply, sql.data);
	}
	else if (!ld_row_event_prepared(&rev, h->dest_table, &sql, &values,
									&nvalues, &errmsg))
	{
		sky_log(SKY_LOG_ERROR, "%s: %s", h->table_name, errmsg);
		pg_free(errmsg);
		ok = false;
	}
	else if (rev.op == 'I')
	{
		const char **columns = pg_malloc(sizeof(char *) * (nvalues + 1));
		int			i;

		for (i = 0; i < nvalues; i++)
			columns[i] = pgq_dict_key(rev.row, i);
		ok = ld_apply_insert(apply, h->dest_table, nvalues, columns, values,
							 sql.data);
		pg_free(columns);
	}
	else if (rev.op == 'U')
		ok = apply_update(h, apply, &rev, nvalues, values, sql.data);
	else if (rev.op == 'D')
		ok = ld_apply_delete(apply, h->dest_table, nvalues,
							 (const char *const *) rev.pkeys, values, sql.data);
	else
		ok = ld_apply_prepared(apply, sql.data, nvalues, values);
	pg_free(values);
	termPQExpBuffer(&sql);
	ld_row_event_free(&rev);
	return ok;
}

const LdHandlerClass ld_handler_londiste = {
	.name = "londiste",
	.module = NULL,
	.doc = "Default Londiste handler, inserts events into tables with plain SQL.\n"
	"\n"
	"Arguments:\n"
	"  encoding=ENC       validate and fix the incoming data's encoding\n"
	"  ignore_truncate=1  do not replay TRUNCATE\n",
	.args = londiste_args,
	.process_event = londiste_process_event,
};
