/*-------------------------------------------------------------------------
 *
 * londiste.c
 *	  The londiste statements: local table and sequence registration on
 *	  the default queue's node, and the lists.
 *
 * The londiste functions answer with (ret_code, ret_note) and do not roll
 * back what they changed before a failure, so every statement runs in one
 * transaction and any code of 400 or more rolls it all back.
 *
 * src/qadmin/londiste.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "pqexpbuffer.h"
#include "qadmin.h"

/*
 * The trigger arguments londiste.local_add_table takes for the "with"
 * options: flags as they are, key=value for the others; qadmin's
 * ev_ignore is the trigger's ignore=.
 */
static const char *
trigger_arg_name(const char *option)
{
	if (strcmp(option, "ev_ignore") == 0)
		return "ignore";
	return option;
}

/*
 * The queue a londiste statement works on must be a cascade node here
 * (a leaf has no pgq queue of its name, only the node).
 */
static bool
require_node(Session *s, const char *queue)
{
	PGresult   *res = run_query(s, "select node_type, ret_note"
								" from pgq_node.get_node_info($1)", 1, &queue);
	bool		ok;

	if (!res)
		return false;
	ok = PQntuples(res) > 0 && !PQgetisnull(res, 0, 0);
	if (!ok)
		report_error("queue \"%s\" is not a cascade node in this database (%s)",
					 queue, PQntuples(res) > 0 ? PQgetvalue(res, 0, 1) : "no node info");
	PQclear(res);
	return ok;
}

/* Run one (ret_code, ret_note) call; print the note; false on code >= 400. */
static bool
run_londiste_call(Session *s, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = run_query(s, sql, nparams, params);
	bool		ok = true;
	int			i;

	if (!res)
		return false;
	for (i = 0; i < PQntuples(res); i++)
	{
		if (atoi(PQgetvalue(res, i, 0)) >= 400)
		{
			report_error("%s", PQgetvalue(res, i, 1));
			ok = false;
		}
		else
			printf("%s\n", PQgetvalue(res, i, 1));
	}
	PQclear(res);
	return ok;
}

/* add/remove table/sequence for each name, in one transaction */
static ExecResult
londiste_change(Session *s, Statement *stmt, const char *queue)
{
	const char *params[2 + MAX_OPTIONS];
	char	   *args[MAX_OPTIONS];
	PQExpBufferData sql;
	const char *tag;
	bool		started;
	bool		ok;
	int			nparams = 2;
	int			i;

	initPQExpBuffer(&sql);
	switch (stmt->kind)
	{
		case STMT_LONDISTE_ADD_TABLE:
			appendPQExpBufferStr(&sql, "select ret_code, ret_note from londiste.local_add_table($1, $2, array[");
			for (i = 0; i < stmt->noptions; i++)
			{
				const Option *opt = &stmt->options[i];

				args[i] = opt->value ?
					psprintf("%s=%s", trigger_arg_name(opt->key), opt->value) :
					pg_strdup(opt->key);
				params[nparams] = args[i];
				appendPQExpBuffer(&sql, "%s$%d", i > 0 ? ", " : "", ++nparams);
			}
			appendPQExpBufferStr(&sql, "]::text[])");
			tag = "ADD_TABLE";
			break;
		case STMT_LONDISTE_REMOVE_TABLE:
			appendPQExpBufferStr(&sql, "select ret_code, ret_note from londiste.local_remove_table($1, $2)");
			tag = "REMOVE_TABLE";
			break;
		case STMT_LONDISTE_ADD_SEQ:
			appendPQExpBufferStr(&sql, "select ret_code, ret_note from londiste.local_add_seq($1, $2)");
			tag = "ADD_SEQ";
			break;
		default:
			appendPQExpBufferStr(&sql, "select ret_code, ret_note from londiste.local_remove_seq($1, $2)");
			tag = "REMOVE_SEQ";
			break;
	}

	ok = begin_work(s, &started);
	if (ok)
	{
		ok = require_node(s, queue);
		params[0] = queue;
		for (i = 0; ok && i < stmt->ntargets; i++)
		{
			params[1] = stmt->targets[i];
			ok = run_londiste_call(s, sql.data, nparams, params);
		}
		ok = end_work(s, started, ok);
	}
	for (i = 2; i < nparams; i++)
		pg_free(args[i - 2]);
	termPQExpBuffer(&sql);
	if (!ok)
		return EXEC_ERROR;
	print_status(tag);
	return EXEC_OK;
}

static ExecResult
londiste_list(Session *s, Statement *stmt, const char *queue)
{
	const char *sql;
	char	   *title;
	PGresult   *res;
	bool		ok;

	if (!require_node(s, queue))
		return EXEC_ERROR;
	switch (stmt->kind)
	{
		case STMT_LONDISTE_TABLES:
			sql = "select table_name, local, merge_state, table_attrs, dest_table"
				" from londiste.get_table_list($1)";
			title = psprintf("Tables on queue \"%s\":", queue);
			break;
		case STMT_LONDISTE_SEQS:
			sql = "select seq_name, local, last_value from londiste.get_seq_list($1)";
			title = psprintf("Sequences on queue \"%s\":", queue);
			break;
		default:
			sql = "select obj_kind, obj_name from londiste.local_show_missing($1)";
			title = psprintf("Missing objects on queue \"%s\":", queue);
			break;
	}
	res = run_query(s, sql, 1, &queue);
	ok = res != NULL;
	if (ok)
		print_table(title, res);
	pg_free(title);
	PQclear(res);
	return ok ? EXEC_OK : EXEC_ERROR;
}

ExecResult
exec_londiste(Session *s, Statement *stmt)
{
	const char *queue = statement_queue(s, stmt);

	if (!queue)
		return EXEC_ERROR;
	switch (stmt->kind)
	{
		case STMT_LONDISTE_TABLES:
		case STMT_LONDISTE_SEQS:
		case STMT_LONDISTE_MISSING:
			return londiste_list(s, stmt, queue);
		default:
			return londiste_change(s, stmt, queue);
	}
}
