/*-------------------------------------------------------------------------
 *
 * execute.c
 *	  londiste3 execute FILE...: run SQL files on the root, from where the
 *	  EXECUTE events take them to every node of the cascade.
 *
 * All files run in one transaction, in the "local" replication role so
 * that the statements fire no replication triggers: the EXECUTE event
 * carries the SQL itself.  A file is known by its base name: one already
 * applied (londiste.applied_execute) is skipped.  Whether a node runs a
 * file, and the @name@ substitution, follow the file's header attributes
 * (exec_attrs.h); the worker applies the same rules when it replays.
 *
 * src/londiste3/execute/execute.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "framework/pqutil.h"
#include "londiste3/execute/exec_attrs.h"

/* the whole file, NULL (logged) if it cannot be read */
static char *
read_sql_file(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	char	   *data = NULL;
	size_t		len = 0;
	size_t		cap = 0;
	size_t		n;

	if (f == NULL)
	{
		sky_log(SKY_LOG_ERROR, "could not open file \"%s\": %s", path, strerror(errno));
		return NULL;
	}
	do
	{
		if (cap - len < 8192)
		{
			cap = cap * 2 + 8192;
			data = pg_realloc(data, cap + 1);
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f))
	{
		sky_log(SKY_LOG_ERROR, "could not read file \"%s\": %s", path, strerror(errno));
		fclose(f);
		pg_free(data);
		return NULL;
	}
	fclose(f);
	data[len] = '\0';
	if (strlen(data) != len)
	{
		sky_log(SKY_LOG_ERROR, "file \"%s\" contains a zero byte", path);
		pg_free(data);
		return NULL;
	}
	return data;
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* one statement of a file; false (logged) if it failed */
static bool
run_statement(PGconn *conn, const char *fname, int n, const char *stmt)
{
	PGresult   *res = PQexec(conn, stmt);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
		PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
	{
		sky_log(SKY_LOG_ERROR, "%s: statement %d failed: %s", fname, n,
				PQerrorMessage(conn));
		sky_log(SKY_LOG_DEBUG, "the statement was: %s", stmt);
	}
	PQclear(res);
	return ok;
}

/* one file, inside the command's transaction; false if all must roll back */
static bool
execute_file(Londiste *ld, PGconn *conn, const char *path,
			 const LdLocalObjects *objs)
{
	const char *fname = base_name(path);
	char	   *sql;
	LdExecAttrs *attrs;
	char	   *errmsg;
	char	   *urlenc;
	const char *params[4];
	PGresult   *res;
	bool		ok = false;
	int			code;

	if ((sql = read_sql_file(path)) == NULL)
		return false;
	if ((attrs = ld_exec_attrs_from_sql(sql, &errmsg)) == NULL)
	{
		sky_log(SKY_LOG_ERROR, "%s: %s", fname, errmsg);
		pg_free(errmsg);
		pg_free(sql);
		return false;
	}
	urlenc = ld_exec_attrs_to_urlenc(attrs);
	params[0] = ld->queue_name;
	params[1] = fname;
	params[2] = sql;
	params[3] = urlenc;
	if (!ld_exec_cmd(conn,
					 "select * from londiste.execute_start($1, $2, $3, true, $4)",
					 4, params, &res))
		goto done;
	code = atoi(PQgetvalue(res, 0, PQfnumber(res, "ret_code")));
	PQclear(res);
	if (code > 200)
	{
		sky_log(SKY_LOG_WARNING, "Skipping execution of '%s'", fname);
		ok = true;
		goto done;
	}
	switch (ld_exec_attrs_decide(attrs, conn, objs, &errmsg))
	{
		case LD_EXEC_RUN:
			{
				char	   *xsql;

				sky_log(SKY_LOG_INFO, "%s: executing sql", fname);
				xsql = ld_exec_attrs_substitute(attrs, conn, sql, objs, &errmsg);
				if (xsql == NULL)
				{
					sky_log(SKY_LOG_ERROR, "%s: %s", fname, errmsg);
					pg_free(errmsg);
					goto done;
				}
				ok = ld_run_statements(conn, fname, xsql, run_statement);
				pg_free(xsql);
				if (!ok)
					goto done;
			}
			break;
		case LD_EXEC_SKIP:
			sky_log(SKY_LOG_INFO, "%s: This SQL does not need to run on this node.",
					fname);
			break;
		case LD_EXEC_FAIL:
			sky_log(SKY_LOG_ERROR, "%s: %s", fname, errmsg);
			pg_free(errmsg);
			goto done;
	}
	params[2] = NULL;
	ok = ld_exec_cmd(conn, "select * from londiste.execute_finish($1, $2)",
					 2, params, NULL);

done:
	pg_free(urlenc);
	ld_exec_attrs_free(attrs);
	pg_free(sql);
	return ok;
}

static int
cmd_execute(Londiste *ld)
{
	PGconn	   *conn = ld_local(ld);
	LdLocalObjects objs;
	PGresult   *res;
	bool		ok = true;
	int			i;

	res = sky_db_exec(conn, "begin", 0, NULL);
	if (res == NULL)
		return LD_EXIT_ERROR;
	PQclear(res);
	if (!ld_local_objects_load(conn, ld->queue_name, &objs))
		return LD_EXIT_ERROR;
	res = sky_db_exec(conn,
					  "select londiste.set_session_replication_role('local', true)",
					  0, NULL);
	ok = res != NULL;
	PQclear(res);
	for (i = 0; i < ld->nargs && ok; i++)
		ok = execute_file(ld, conn, ld->args[i], &objs);
	ld_local_objects_free(&objs);
	res = sky_db_exec(conn, ok ? "commit" : "rollback", 0, NULL);
	if (res == NULL)
		return LD_EXIT_ERROR;
	PQclear(res);
	return ok ? LD_EXIT_OK : LD_EXIT_ERROR;
}

const LondisteCommand ld_execute_commands[] = {
	{"execute", -1, "FILE...", LD_PIDFILE_ADMIN, cmd_execute},
	{NULL}
};
