/*-------------------------------------------------------------------------
 *
 * exec.c
 *	  Running statements: SQL pass-through and the queue statements.
 *
 * Every value from a statement reaches the server as a query parameter,
 * never pasted into SQL text.  A statement that changes more than one
 * thing (alter queue *, unregister consumer *, londiste add table a, b)
 * runs in one transaction, so a failure halfway changes nothing; inside a
 * transaction the user opened, it joins that one instead.
 *
 * src/qadmin/exec.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "pqexpbuffer.h"
#include "qadmin.h"

/* "FILE:LINE: " put before errors while running a script, or "" */
const char *error_location = "";

void
report_error(const char *fmt,...)
{
	va_list		ap;

	fflush(stdout);
	fprintf(stderr, "%sERROR: ", error_location);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Print a server error with its detail and hint. */
void
report_result_error(const PGresult *res)
{
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);

	if (!primary)
	{
		/* a client-side failure (lost connection...): libpq's own text */
		char	   *msg = pg_strdup(PQresultErrorMessage(res));
		size_t		len = strlen(msg);

		while (len > 0 && msg[len - 1] == '\n')
			msg[--len] = '\0';
		report_error("%s", msg[0] ? msg : "query failed");
		pg_free(msg);
		return;
	}
	report_error("%s", primary);
	if (detail)
		fprintf(stderr, "DETAIL: %s\n", detail);
	if (hint)
		fprintf(stderr, "HINT: %s\n", hint);
}

/* After a failure: if the connection is gone, say so and try once to reset it. */
static void
check_connection(Session *s)
{
	if (PQstatus(s->conn) != CONNECTION_BAD)
		return;
	fprintf(stderr, "The connection to the server was lost. Attempting reset: ");
	PQreset(s->conn);
	if (PQstatus(s->conn) == CONNECTION_OK)
	{
		fprintf(stderr, "Succeeded.\n");
		cancel_set_connection(s->conn);
	}
	else
		fprintf(stderr, "Failed.\n");
}

/*
 * Copy data of COPY ... TO STDOUT goes to stdout; COPY ... FROM STDIN is
 * refused, since the console's input is statements.
 */
static void
handle_copy(Session *s, PGresult *res)
{
	if (PQresultStatus(res) == PGRES_COPY_OUT)
	{
		char	   *row;
		int			len;

		while ((len = PQgetCopyData(s->conn, &row, 0)) > 0)
		{
			fwrite(row, 1, len, stdout);
			PQfreemem(row);
		}
	}
	else if (PQresultStatus(res) == PGRES_COPY_IN)
		PQputCopyEnd(s->conn, "qadmin does not read COPY data from its input");
}

/*
 * Send a query and wait for its result; ^C cancels it.  Returns the
 * result of the last statement, whatever its status, or NULL if the query
 * could not be sent (reported).
 */
static PGresult *
send_and_wait(Session *s, const char *sql, int nparams,
			  const char *const *params, bool simple)
{
	PGresult   *last = NULL;
	PGresult   *res;
	int			sent;

	if (simple)
		sent = PQsendQuery(s->conn, sql);
	else
		sent = PQsendQueryParams(s->conn, sql, nparams, NULL, params,
								 NULL, NULL, 0);
	if (!sent)
	{
		char	   *msg = pg_strdup(PQerrorMessage(s->conn));

		msg[strcspn(msg, "\n")] = '\0';
		report_error("%s", msg);
		pg_free(msg);
		check_connection(s);
		return NULL;
	}
	cancel_query_started();
	while ((res = PQgetResult(s->conn)) != NULL)
	{
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_COPY_OUT || st == PGRES_COPY_IN)
			handle_copy(s, res);
		/* keep an error over any later result */
		if (last && PQresultStatus(last) == PGRES_FATAL_ERROR)
			PQclear(res);
		else
		{
			PQclear(last);
			last = res;
		}
	}
	cancel_query_finished();
	return last;
}

/*
 * Run a query of qadmin's own with parameters.  Returns its result, or
 * NULL after reporting the error.
 */
PGresult *
run_query(Session *s, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = send_and_wait(s, sql, nparams, params, false);

	if (!res)
		return NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
		PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		report_result_error(res);
		PQclear(res);
		check_connection(s);
		return NULL;
	}
	return res;
}

/* Run a query for its effect only. */
static bool
run_command(Session *s, const char *sql, int nparams, const char *const *params)
{
	PGresult   *res = run_query(s, sql, nparams, params);

	PQclear(res);
	return res != NULL;
}

/*
 * Open a transaction unless one is open already (the user's own);
 * *started tells end_work whether it is ours to end.
 */
bool
begin_work(Session *s, bool *started)
{
	*started = PQtransactionStatus(s->conn) == PQTRANS_IDLE;
	if (!*started)
		return true;
	if (!run_command(s, "begin", 0, NULL))
	{
		*started = false;
		return false;
	}
	return true;
}

/* Commit our transaction if all went well, else roll it back. */
bool
end_work(Session *s, bool started, bool ok)
{
	if (!started)
		return ok;
	if (!ok)
	{
		if (PQstatus(s->conn) == CONNECTION_OK)
			PQclear(send_and_wait(s, "rollback", 0, NULL, false));
		return false;
	}
	return run_command(s, "commit", 0, NULL);
}

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
static bool
require_queue(Session *s, const char *queue)
{
	bool		exists;

	if (!queue_exists(s, queue, &exists))
		return false;
	if (!exists)
		report_error("queue \"%s\" does not exist", queue);
	return exists;
}

/* The first value of the only row of a query's result, or NULL. */
static char *
query_value(Session *s, const char *sql, int nparams,
			const char *const *params, bool *ok)
{
	PGresult   *res = run_query(s, sql, nparams, params);
	char	   *value = NULL;

	*ok = res != NULL;
	if (res && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		value = pg_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return value;
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

static void
notice_printer(void *arg, const char *message)
{
	fflush(stdout);
	fputs(message, stderr);
}

/* Set up a fresh connection for the session. */
void
session_use_connection(Session *s, PGconn *conn)
{
	PQsetNoticeProcessor(conn, notice_printer, NULL);
	if (s->conn)
		PQfinish(s->conn);
	s->conn = conn;
	cancel_set_connection(conn);
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

static ExecResult
exec_create_queue(Session *s, Statement *stmt)
{
	bool		ok;
	char	   *created = query_value(s, "select pgq.create_queue($1)", 1,
									  &stmt->object, &ok);

	if (!ok)
		return EXEC_ERROR;
	if (created && strcmp(created, "0") == 0)
		print_status("Queue already exists");
	else
		print_status("CREATE");
	pg_free(created);
	return EXEC_OK;
}

static ExecResult
exec_drop_queue(Session *s, Statement *stmt)
{
	if (!require_queue(s, stmt->object) ||
		!run_command(s, "select pgq.drop_queue($1)", 1, &stmt->object))
		return EXEC_ERROR;
	print_status("DROP");
	return EXEC_OK;
}

/*
 * The names a statement applies to: the one named, or the rows of
 * list_sql (with the given parameters) for "*".
 */
static PGresult *
target_names(Session *s, const Statement *stmt, const char *list_sql,
			 int nparams, const char *const *params)
{
	if (stmt->object_all)
		return run_query(s, list_sql, nparams, params);
	return run_query(s, "select $1::text", 1, &stmt->object);
}

/* alter queue Q|* set key=value, ...: pgq.set_queue_config per queue and key */
static ExecResult
exec_alter_queue(Session *s, Statement *stmt)
{
	PGresult   *queues;
	bool		started;
	bool		ok = true;
	int			q,
				o;

	if (!begin_work(s, &started))
		return EXEC_ERROR;
	if (!stmt->object_all)
		ok = require_queue(s, stmt->object);
	queues = ok ? target_names(s, stmt, "select queue_name from pgq.get_queue_info()",
							   0, NULL) : NULL;
	ok = queues != NULL;
	for (q = 0; ok && q < PQntuples(queues); q++)
	{
		for (o = 0; ok && o < stmt->noptions; o++)
		{
			char	   *param = psprintf("ticker_%s", stmt->options[o].key);
			const char *params[3];

			params[0] = PQgetvalue(queues, q, 0);
			params[1] = param;
			params[2] = stmt->options[o].value;
			ok = run_command(s, "select pgq.set_queue_config($1, $2, $3)", 3, params);
			pg_free(param);
		}
	}
	PQclear(queues);
	if (!end_work(s, started, ok))
		return EXEC_ERROR;
	print_status("ALTER");
	return EXEC_OK;
}

/*
 * register consumer C [on Q] [at TICK | copy C2]: a position is the given
 * tick or the one C2 has confirmed (its last tick), and moves C there even
 * if it is registered already.
 */
static ExecResult
exec_register_consumer(Session *s, Statement *stmt)
{
	const char *queue = statement_queue(s, stmt);
	const char *params[3];
	char	   *copied_tick = NULL;
	char	   *result;
	bool		ok;

	if (!queue)
		return EXEC_ERROR;
	params[0] = queue;
	params[1] = stmt->object;
	params[2] = stmt->at_tick;
	if (stmt->copy_from)
	{
		PGresult   *res;
		const char *copy_params[2] = {queue, stmt->copy_from};

		if (!require_queue(s, queue))
			return EXEC_ERROR;
		res = run_query(s, "select last_tick from pgq.get_consumer_info($1, $2)",
						2, copy_params);
		if (!res)
			return EXEC_ERROR;
		if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
		{
			report_error("consumer \"%s\" is not registered on queue \"%s\"",
						 stmt->copy_from, queue);
			PQclear(res);
			return EXEC_ERROR;
		}
		copied_tick = pg_strdup(PQgetvalue(res, 0, 0));
		params[2] = copied_tick;
		PQclear(res);
	}

	if (params[2])
		result = query_value(s, "select pgq.register_consumer_at($1, $2, $3)",
							 3, params, &ok);
	else
		result = query_value(s, "select pgq.register_consumer($1, $2)",
							 2, params, &ok);
	pg_free(copied_tick);
	if (!ok)
		return EXEC_ERROR;
	if (!params[2] && result && strcmp(result, "0") == 0)
		print_status("Consumer already registered");
	else
		print_status("REGISTER");
	pg_free(result);
	return EXEC_OK;
}

static ExecResult
exec_unregister_consumer(Session *s, Statement *stmt)
{
	const char *queue = statement_queue(s, stmt);
	PGresult   *names;
	bool		started;
	bool		ok;
	int			i;

	if (!queue || !begin_work(s, &started))
		return EXEC_ERROR;
	ok = require_queue(s, queue);
	names = ok ? target_names(s, stmt, "select consumer_name from pgq.get_consumer_info($1)",
							  1, &queue) : NULL;
	ok = names != NULL;
	for (i = 0; ok && i < PQntuples(names); i++)
	{
		const char *params[2] = {queue, PQgetvalue(names, i, 0)};
		char	   *removed = query_value(s, "select pgq.unregister_consumer($1, $2)",
										  2, params, &ok);

		/* with "*", a subconsumer went away with its main consumer */
		if (ok && !stmt->object_all && removed && strcmp(removed, "0") == 0)
		{
			report_error("consumer \"%s\" is not registered on queue \"%s\"",
						 stmt->object, queue);
			ok = false;
		}
		pg_free(removed);
	}
	PQclear(names);
	if (!end_work(s, started, ok))
		return EXEC_ERROR;
	print_status("UNREGISTER");
	return EXEC_OK;
}

static ExecResult
exec_register_subconsumer(Session *s, Statement *stmt)
{
	const char *queue = statement_queue(s, stmt);
	const char *params[3];
	char	   *result;
	bool		ok;

	if (!queue)
		return EXEC_ERROR;
	params[0] = queue;
	params[1] = stmt->owner;
	params[2] = stmt->object;
	result = query_value(s, "select pgq_coop.register_subconsumer($1, $2, $3)",
						 3, params, &ok);
	if (!ok)
		return EXEC_ERROR;
	if (result && strcmp(result, "0") == 0)
		print_status("Subconsumer already registered");
	else
		print_status("REGISTER");
	pg_free(result);
	return EXEC_OK;
}

static ExecResult
exec_unregister_subconsumer(Session *s, Statement *stmt)
{
	const char *queue = statement_queue(s, stmt);
	const char *list_params[2];
	PGresult   *names;
	bool		started;
	bool		ok;
	int			i;

	if (!queue || !begin_work(s, &started))
		return EXEC_ERROR;
	list_params[0] = queue;
	list_params[1] = stmt->owner;
	ok = require_queue(s, queue);
	names = ok ? target_names(s, stmt,
							  "select substr(consumer_name, length($2) + 2)"
							  " from pgq.get_consumer_info($1)"
							  " where left(consumer_name, length($2) + 1) = $2 || '.'",
							  2, list_params) : NULL;
	ok = names != NULL;
	for (i = 0; ok && i < PQntuples(names); i++)
	{
		const char *params[4] = {queue, stmt->owner, PQgetvalue(names, i, 0),
		stmt->close_batch ? "1" : "0"};
		char	   *removed = query_value(s, "select pgq_coop.unregister_subconsumer($1, $2, $3, $4)",
										  4, params, &ok);

		if (ok && removed && strcmp(removed, "0") == 0)
		{
			report_error("subconsumer \"%s\" of consumer \"%s\" is not registered on queue \"%s\"",
						 params[2], stmt->owner, queue);
			ok = false;
		}
		pg_free(removed);
	}
	PQclear(names);
	if (!end_work(s, started, ok))
		return EXEC_ERROR;
	print_status("UNREGISTER");
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
			return exec_create_queue(s, stmt);
		case STMT_DROP_QUEUE:
			return exec_drop_queue(s, stmt);
		case STMT_ALTER_QUEUE:
			return exec_alter_queue(s, stmt);
		case STMT_REGISTER_CONSUMER:
			return exec_register_consumer(s, stmt);
		case STMT_UNREGISTER_CONSUMER:
			return exec_unregister_consumer(s, stmt);
		case STMT_REGISTER_SUBCONSUMER:
			return exec_register_subconsumer(s, stmt);
		case STMT_UNREGISTER_SUBCONSUMER:
			return exec_unregister_subconsumer(s, stmt);
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
