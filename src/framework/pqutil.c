/*-------------------------------------------------------------------------
 *
 * pqutil.c
 *	  libpq helpers shared by the client programs.
 *
 * Connection strings come from configuration files and are logged when
 * something goes wrong; a password in them must never reach the log, so
 * every message shows the string through sky_connstr_for_log().
 *
 * src/framework/pqutil.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "framework/pqutil.h"
#include "pqexpbuffer.h"

/*
 * The connection string with any password replaced by "***".  Strings that
 * libpq cannot parse are not shown at all: we cannot tell where a password
 * would be in them.
 */
char *
sky_connstr_for_log(const char *connstr)
{
	PQconninfoOption *opts;
	PQconninfoOption *o;
	PQExpBufferData buf;
	char	   *result;

	opts = PQconninfoParse(connstr, NULL);
	if (opts == NULL)
		return pg_strdup("(unparsable connection string)");
	initPQExpBuffer(&buf);
	for (o = opts; o->keyword != NULL; o++)
	{
		if (o->val == NULL)
			continue;
		if (buf.len > 0)
			appendPQExpBufferChar(&buf, ' ');
		if (strcmp(o->keyword, "password") == 0)
			appendPQExpBuffer(&buf, "%s=***", o->keyword);
		else
			appendPQExpBuffer(&buf, "%s=%s", o->keyword, o->val);
	}
	PQconninfoFree(opts);
	result = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return result;
}

/*
 * Connect with application_name set to appname unless the connection
 * string names one; replication is libpq's keyword of that name, NULL for
 * an ordinary connection.  Returns NULL after logging the reason.
 */
static PGconn *
connect_as(const char *connstr, const char *appname, const char *replication)
{
	const char *keywords[] = {"dbname", "fallback_application_name",
	"replication", NULL};
	const char *values[] = {connstr, appname, replication, NULL};
	PGconn	   *conn;

	conn = PQconnectdbParams(keywords, values, true);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
	{
		char	   *shown = sky_connstr_for_log(connstr);

		log_error("could not connect to \"%s\": %s", shown,
				  conn ? PQerrorMessage(conn) : "out of memory");
		pg_free(shown);
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

PGconn *
sky_db_connect(const char *connstr, const char *appname)
{
	return connect_as(connstr, appname, NULL);
}

/* A physical replication connection, for replication commands */
PGconn *
sky_db_connect_replication(const char *connstr, const char *appname)
{
	return connect_as(connstr, appname, "true");
}

/*
 * Run one statement with text parameters.  Returns the result, or NULL
 * after logging the server's message and the statement.
 */
PGresult *
sky_db_exec(PGconn *conn, const char *sql, int nparams,
			const char *const *params)
{
	PGresult   *res;

	res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
		PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		log_error("query failed: %s", PQerrorMessage(conn));
		log_debug("the query was: %s", sql);
		PQclear(res);
		return NULL;
	}
	return res;
}

/*
 * The single value of a one-row, one-column query ("" for NULL), or NULL
 * if the query failed or returned another shape.
 */
char *
sky_db_value(PGconn *conn, const char *sql, int nparams,
			 const char *const *params)
{
	PGresult   *res = sky_db_exec(conn, sql, nparams, params);
	char	   *value;

	if (res == NULL)
		return NULL;
	if (PQntuples(res) != 1 || PQnfields(res) != 1)
	{
		log_error("query returned %d rows and %d columns, expected one value: %s",
				  PQntuples(res), PQnfields(res), sql);
		PQclear(res);
		return NULL;
	}
	value = pg_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return value;
}
