/*-------------------------------------------------------------------------
 *
 * replay_execute.c
 *	  EXECUTE events: a file run on the root with "londiste3 execute",
 *	  replayed once on every node (londiste.md 3.2).
 *
 * The file runs in the batch's transaction, in session_replication_role
 * local (so that its changes fire the node's own triggers, as on the
 * root), after londiste.execute_start() has recorded it; a file recorded
 * before is skipped.  Its attributes (exec_attrs.h) decide whether this
 * node runs it and which table names its @name@ tokens stand for, by the
 * same rules as the execute command.
 *
 * src/londiste3/worker/replay_execute.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "londiste3/execute/exec_attrs.h"
#include "londiste3/worker/worker.h"

/* one statement of an EXECUTE event, logged by the worker if it fails */
static bool
run_statement(PGconn *conn, const char *fname, int n, const char *stmt)
{
	return ld_worker_exec_script(conn, stmt);
}

/* run the file if this node needs it; false (logged) on an error */
static bool
execute_if_needed(PGconn *local, const char *queue, const char *fname,
				  const char *sql, const LdExecAttrs *attrs)
{
	LdLocalObjects objs;
	char	   *errmsg = NULL;
	char	   *xsql;
	bool		ok = false;

	if (!ld_local_objects_load(local, queue, &objs))
		return false;
	switch (ld_exec_attrs_decide(attrs, local, &objs, &errmsg))
	{
		case LD_EXEC_RUN:
			sky_log(SKY_LOG_INFO, "%s: executing sql", fname);
			xsql = ld_exec_attrs_substitute(attrs, local, sql, &objs, &errmsg);
			if (xsql != NULL)
			{
				ok = ld_run_statements(local, fname, xsql, run_statement);
				pg_free(xsql);
			}
			break;
		case LD_EXEC_SKIP:
			sky_log(SKY_LOG_INFO, "%s: execution not needed on this node", fname);
			ok = true;
			break;
		case LD_EXEC_FAIL:
			break;
	}
	if (errmsg != NULL)
	{
		sky_log(SKY_LOG_ERROR, "%s: %s", fname, errmsg);
		pg_free(errmsg);
	}
	ld_local_objects_free(&objs);
	return ok;
}

bool
ld_replay_execute(LdWorker *w, PGconn *local, const PgqEvent *ev)
{
	const char *fname = ev->extra1 ? ev->extra1 : "";
	const char *params[4] = {w->ld->queue_name, fname, ev->data, ev->extra2};
	LdExecAttrs *attrs;
	PGresult   *res;
	char	   *errmsg;
	int			code;
	bool		ok;

	if (w->copy_process)
		return true;
	attrs = ld_exec_attrs_from_urlenc(ev->extra2, &errmsg);
	if (attrs == NULL)
	{
		sky_log(SKY_LOG_ERROR, "EXECUTE %s: %s", fname, errmsg);
		pg_free(errmsg);
		return false;
	}
	ok = ld_worker_exec(local,
						"select londiste.set_session_replication_role('local', true)",
						0, NULL) &&
		ld_exec_cmd(local,
					"select * from londiste.execute_start($1, $2, $3, false, $4)",
					4, params, &res);
	if (ok)
	{
		code = atoi(PQgetvalue(res, 0, PQfnumber(res, "ret_code")));
		PQclear(res);
		if (code > 200)
			sky_log(SKY_LOG_WARNING, "Skipping execution of '%s'", fname);
		else
			ok = execute_if_needed(local, w->ld->queue_name, fname,
								   ev->data ? ev->data : "", attrs) &&
				ld_exec_cmd(local, "select * from londiste.execute_finish($1, $2)",
							2, params, NULL);
	}
	ld_exec_attrs_free(attrs);
	return ok &&
		ld_worker_exec(local,
					   "select londiste.set_session_replication_role('replica', true)",
					   0, NULL);
}
