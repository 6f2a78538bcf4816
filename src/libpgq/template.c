/*-------------------------------------------------------------------------
 *
 * template.c
 *	  Query templates with %(key)s placeholders, and pgq_exec_cmd().
 *
 * A template is turned into SQL with $1, $2, ... in place of the
 * placeholders (one number per distinct key) and the values are sent as
 * parameters: whatever the data holds, it stays data.  "%%" stands for a
 * literal '%', as in the Python formatting Skytools used; any other '%'
 * is an error, which Python would also have reported.
 *
 * src/libpgq/template.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "libpgq.h"
#include "pqexpbuffer.h"

struct PgqTemplate
{
	char	   *sql;
	int			nkeys;
	char	  **keys;			/* key of $1, $2, ... */
};

PgqTemplate *
pgq_template_parse(const char *text, char **errmsg)
{
	PgqTemplate *tmpl = pg_malloc0(sizeof(PgqTemplate));
	PQExpBufferData buf;
	const char *p;

	*errmsg = NULL;
	initPQExpBuffer(&buf);
	for (p = text; *p; p++)
	{
		const char *end;
		char	   *key;
		int			i;

		if (*p != '%')
		{
			appendPQExpBufferChar(&buf, *p);
			continue;
		}
		if (p[1] == '%')
		{
			appendPQExpBufferChar(&buf, '%');
			p++;
			continue;
		}
		end = (p[1] == '(') ? strchr(p + 2, ')') : NULL;
		if (end == NULL || end[1] != 's' || end == p + 2)
		{
			*errmsg = psprintf("bad placeholder at \"%.20s\": use %%(key)s, or %%%% for a percent sign", p);
			termPQExpBuffer(&buf);
			pgq_template_free(tmpl);
			return NULL;
		}
		key = pnstrdup(p + 2, end - p - 2);
		for (i = 0; i < tmpl->nkeys; i++)
			if (strcmp(tmpl->keys[i], key) == 0)
				break;
		if (i == tmpl->nkeys)
		{
			tmpl->keys = pg_realloc(tmpl->keys, sizeof(char *) * (tmpl->nkeys + 1));
			tmpl->keys[tmpl->nkeys++] = key;
		}
		else
			pg_free(key);
		appendPQExpBuffer(&buf, "$%d", i + 1);
		p = end + 1;
	}
	tmpl->sql = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return tmpl;
}

void
pgq_template_free(PgqTemplate *tmpl)
{
	int			i;

	if (tmpl == NULL)
		return;
	for (i = 0; i < tmpl->nkeys; i++)
		pg_free(tmpl->keys[i]);
	pg_free(tmpl->keys);
	pg_free(tmpl->sql);
	pg_free(tmpl);
}

const char *
pgq_template_sql(const PgqTemplate *tmpl)
{
	return tmpl->sql;
}

static char *
server_message(PGconn *conn)
{
	char	   *msg = pg_strdup(PQerrorMessage(conn));
	size_t		len = strlen(msg);

	while (len > 0 && msg[len - 1] == '\n')
		msg[--len] = '\0';
	return msg;
}

PGresult *
pgq_template_exec(PGconn *conn, const PgqTemplate *tmpl,
				  const PgqDict *values, char **errmsg)
{
	const char **params;
	PGresult   *res;
	int			i;

	*errmsg = NULL;
	params = pg_malloc0(sizeof(char *) * (tmpl->nkeys + 1));
	for (i = 0; i < tmpl->nkeys; i++)
	{
		if (!pgq_dict_get(values, tmpl->keys[i], &params[i]))
		{
			*errmsg = psprintf("no value for %%(%s)s in the query", tmpl->keys[i]);
			pg_free(params);
			return NULL;
		}
	}
	res = PQexecParams(conn, tmpl->sql, tmpl->nkeys, NULL, params, NULL, NULL, 0);
	pg_free(params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
		PQresultStatus(res) != PGRES_COMMAND_OK)
	{
		char	   *msg = server_message(conn);

		*errmsg = psprintf("%s   Query: %s", msg, tmpl->sql);
		pg_free(msg);
		PQclear(res);
		return NULL;
	}
	return res;
}

bool
pgq_exec_cmd(PGconn *conn, const char *sql, int nparams,
			 const char *const *params, PGresult **result, char **errmsg)
{
	PGresult   *res;
	int			code_col;
	int			note_col;
	int			row;
	bool		ok = true;

	*errmsg = NULL;
	if (result != NULL)
		*result = NULL;
	res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		char	   *msg = server_message(conn);

		*errmsg = PQresultStatus(res) == PGRES_COMMAND_OK ?
			psprintf("the command returned no rows with ret_code: %s", sql) :
			psprintf("%s   Query: %s", msg, sql);
		pg_free(msg);
		PQclear(res);
		return false;
	}
	code_col = PQfnumber(res, "ret_code");
	note_col = PQfnumber(res, "ret_note");
	if (code_col < 0 || note_col < 0)
	{
		*errmsg = psprintf("the command's result has no ret_code and ret_note columns: %s", sql);
		PQclear(res);
		return false;
	}
	for (row = 0; row < PQntuples(res); row++)
	{
		int			code = atoi(PQgetvalue(res, row, code_col));
		const char *note = PQgetvalue(res, row, note_col);

		if (code < 200)
			log_debug("%s", note);
		else if (code < 300)
			log_info("%s", note);
		else if (code < 400)
			log_warning("%s", note);
		else if (ok)
		{
			*errmsg = psprintf("%d %s", code, note);
			ok = false;
		}
	}
	if (result != NULL && ok)
		*result = res;
	else
		PQclear(res);
	return ok;
}
