/*-------------------------------------------------------------------------
 *
 * exec.c
 *	  Running a statement: ours through the grammar, anything else as SQL;
 *	  connect and install.
 *
 * src/qadmin/exec.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "mb/pg_wchar.h"
#include "qadmin.h"

/* The statement's queue (on/from Q), else the default one; NULL if none. */
const char *
statement_queue(Session *s, const Statement *stmt)
{
	if (stmt->queue)
		return stmt->queue;
	if (s->queue)
		return s->queue;
	report_error("no queue given: name one with \"on QUEUE\" (\"from QUEUE\"), "
				 "or set a default with \"connect queue=QUEUE\" or -Q");
	return NULL;
}

/* Does the queue exist?  False (reported) if the query failed. */
bool
queue_exists(Session *s, const char *queue, bool *exists)
{
	PGresult   *res = run_query(s, "select 1 from pgq.get_queue_info($1)",
								1, &queue);

	if (!res)
		return false;
	*exists = PQntuples(res) > 0;
	PQclear(res);
	return true;
}

/* queue_exists that reports an unknown queue as an error */
bool
require_queue(Session *s, const char *queue)
{
	bool		exists;

	if (!queue_exists(s, queue, &exists))
		return false;
	if (!exists)
		report_error("queue \"%s\" does not exist", queue);
	return exists;
}


static const char *
option_value(const Statement *stmt, const char *key)
{
	int			i;

	for (i = 0; i < stmt->noptions; i++)
		if (strcmp(stmt->options[i].key, key) == 0)
			return stmt->options[i].value;
	return NULL;
}


/*
 * connect: a new connection built from the current one's parameters with
 * the given ones in their place (like psql's \c), or from a node's
 * location in pgq_node; and/or a new default queue.  On failure the old
 * connection stays.
 */
static ExecResult
exec_connect(Session *s, Statement *stmt)
{
	static const char *const conn_keys[] = {"host", "port", "user", "password", "dbname"};
	const char *queue = option_value(stmt, "queue");
	const char *node = option_value(stmt, "node");
	const char *keywords[16];
	const char *values[16];
	char	   *location = NULL;
	bool		reconnect = node != NULL;
	bool		same_login = true;
	int			n = 0;
	int			i;
	PGconn	   *conn;

	if (!queue)
		queue = s->queue;
	for (i = 0; i < lengthof(conn_keys); i++)
		if (option_value(stmt, conn_keys[i]))
		{
			reconnect = true;
			if (strcmp(conn_keys[i], "dbname") != 0)
				same_login = false;
		}

	if (node)
	{
		const char *params[2];
		bool		ok;

		if (!queue)
		{
			report_error("node= needs a queue: give queue= too, or set a default queue");
			return EXEC_ERROR;
		}
		params[0] = queue;
		params[1] = node;
		location = query_value(s, "select node_location from pgq_node.node_location"
							   " where queue_name = $1 and node_name = $2",
							   2, params, &ok);
		if (!ok)
			return EXEC_ERROR;
		if (!location)
		{
			report_error("node \"%s\" is not known on queue \"%s\"", node, queue);
			return EXEC_ERROR;
		}
		keywords[n] = "dbname";
		values[n++] = location;
	}
	else if (reconnect)
	{
		keywords[n] = "host";
		values[n++] = PQhost(s->conn);
		keywords[n] = "port";
		values[n++] = PQport(s->conn);
		keywords[n] = "user";
		values[n++] = PQuser(s->conn);
		keywords[n] = "dbname";
		values[n++] = PQdb(s->conn);
		if (same_login && PQpass(s->conn))
		{
			keywords[n] = "password";
			values[n++] = PQpass(s->conn);
		}
	}

	if (reconnect)
	{
		for (i = 0; i < lengthof(conn_keys); i++)
		{
			const char *value = option_value(stmt, conn_keys[i]);

			if (value)
			{
				keywords[n] = conn_keys[i];
				values[n++] = value;
			}
		}
		keywords[n] = "fallback_application_name";
		values[n++] = "qadmin";
		/* the output goes where it went: keep its encoding */
		keywords[n] = "client_encoding";
		values[n++] = pg_encoding_to_char(PQclientEncoding(s->conn));
		keywords[n] = NULL;
		values[n] = NULL;
		/* only a node location is a connection string to expand */
		conn = PQconnectdbParams(keywords, values, node != NULL);
		pg_free(location);
		if (PQstatus(conn) != CONNECTION_OK)
		{
			char	   *msg = pg_strdup(PQerrorMessage(conn));

			msg[strcspn(msg, "\n")] = '\0';
			report_error("could not connect: %s", msg);
			fprintf(stderr, "Previous connection kept.\n");
			pg_free(msg);
			PQfinish(conn);
			return EXEC_ERROR;
		}
		session_use_connection(s, conn);
	}
	if (queue != s->queue)
	{
		char	   *copy = pg_strdup(queue);

		pg_free(s->queue);
		s->queue = copy;
	}
	print_status("CONNECT");
	return EXEC_OK;
}

/* install pgq | londiste: the extensions, in one transaction */
static ExecResult
exec_install(Session *s, Statement *stmt)
{
	static const char *const pgq_extensions[] = {
		"create extension if not exists pgq",
		"create extension if not exists pgq_node",
		"create extension if not exists pgq_coop",
		"create extension if not exists pgq_ext",
	};
	bool		started;
	bool		ok;
	int			i;

	if (!begin_work(s, &started))
		return EXEC_ERROR;
	ok = true;
	for (i = 0; ok && i < lengthof(pgq_extensions); i++)
		ok = run_command(s, pgq_extensions[i], 0, NULL);
	if (ok && strcmp(stmt->object, "londiste") == 0)
		ok = run_command(s, "create extension if not exists londiste cascade", 0, NULL);
	if (!end_work(s, started, ok))
		return EXEC_ERROR;
	print_status("INSTALL");
	return EXEC_OK;
}

/* SQL as typed: result table, then the status tag */
static ExecResult
exec_sql(Session *s, const char *sql)
{
	PGresult   *res = send_and_wait(s, sql, 0, NULL, true);
	ExecResult	result = EXEC_OK;

	if (!res)
		return EXEC_ERROR;
	switch (PQresultStatus(res))
	{
		case PGRES_TUPLES_OK:
			print_table(NULL, res);
			print_status(PQcmdStatus(res));
			break;
		case PGRES_COMMAND_OK:
		case PGRES_COPY_OUT:
		case PGRES_EMPTY_QUERY:
			if (PQcmdStatus(res)[0])
				print_status(PQcmdStatus(res));
			break;
		default:
			report_result_error(res);
			check_connection(s);
			result = EXEC_ERROR;
			break;
	}
	PQclear(res);
	return result;
}

ExecResult
exec_statement(Session *s, Statement *stmt)
{
	switch (stmt->kind)
	{
		case STMT_EXIT:
			return EXEC_QUIT;
		case STMT_CONNECT:
			return exec_connect(s, stmt);
		case STMT_INSTALL:
			return exec_install(s, stmt);
		case STMT_CREATE_QUEUE:
		case STMT_DROP_QUEUE:
		case STMT_ALTER_QUEUE:
		case STMT_REGISTER_CONSUMER:
		case STMT_UNREGISTER_CONSUMER:
		case STMT_REGISTER_SUBCONSUMER:
		case STMT_UNREGISTER_SUBCONSUMER:
			return exec_queue(s, stmt);
		case STMT_SHOW_QUEUE:
		case STMT_SHOW_CONSUMER:
		case STMT_SHOW_NODE:
		case STMT_SHOW_BATCH:
		case STMT_SHOW_TABLE:
		case STMT_SHOW_SEQUENCE:
		case STMT_SHOW_HELP:
		case STMT_SHOW_VERSION:
			return exec_show(s, stmt);
		case STMT_LONDISTE_ADD_TABLE:
		case STMT_LONDISTE_ADD_SEQ:
		case STMT_LONDISTE_REMOVE_TABLE:
		case STMT_LONDISTE_REMOVE_SEQ:
		case STMT_LONDISTE_TABLES:
		case STMT_LONDISTE_SEQS:
		case STMT_LONDISTE_MISSING:
			return exec_londiste(s, stmt);
		case STMT_SQL:
			break;
	}
	report_error("statement kind %d cannot be run", (int) stmt->kind);
	return EXEC_ERROR;
}

/*
 * Run one statement's text (without its ";"): ours if the grammar says
 * so, else SQL for the server.  A syntax error is reported as such.
 */
ExecResult
execute_text(Session *s, const char *text)
{
	TokenList	tokens;
	Statement	stmt;
	char	   *error = NULL;
	ExecResult	result;

	if (is_blank_statement(text))
		return EXEC_OK;
	/* "set client_encoding" may have changed it since */
	print_set_encoding(PQclientEncoding(s->conn));
	if (!tokenize(text, &tokens, &error))
	{
		/* not ours to read: the server may know it (E'...', operators) */
		bool		ours = is_qadmin_statement(&tokens, false);

		free_tokens(&tokens);
		if (!ours)
		{
			pg_free(error);
			return exec_sql(s, text);
		}
		report_error("syntax error: %s", error);
		pg_free(error);
		return EXEC_SYNTAX_ERROR;
	}
	if (!is_qadmin_statement(&tokens, false))
	{
		free_tokens(&tokens);
		return exec_sql(s, text);
	}
	if (!parse_statement(&tokens, &stmt, NULL, &error))
	{
		report_error("syntax error: %s", error);
		pg_free(error);
		free_tokens(&tokens);
		return EXEC_SYNTAX_ERROR;
	}
	result = exec_statement(s, &stmt);
	free_tokens(&tokens);
	return result;
}
