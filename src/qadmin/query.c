/*-------------------------------------------------------------------------
 *
 * query.c
 *	  Talking to the server: queries with parameters, waiting with ^C
 *	  cancelling, errors, and qadmin's transactions.
 *
 * Every value from a statement reaches the server as a query parameter,
 * never pasted into SQL text.  A statement that changes more than one
 * thing (alter queue *, unregister consumer *, londiste add table a, b)
 * runs in one transaction (begin_work/end_work), so a failure halfway
 * changes nothing; inside a transaction the user opened, it joins that
 * one instead.
 *
 * src/qadmin/query.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

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
void
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
PGresult *
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
bool
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


/* The first value of the only row of a query's result, or NULL. */
char *
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
