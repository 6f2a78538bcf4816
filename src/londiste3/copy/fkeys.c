/*-------------------------------------------------------------------------
 *
 * fkeys.c
 *	  Foreign keys of replicated tables: dropped before a table's initial
 *	  copy, restored once both of their tables are in sync.
 *
 * A foreign key cannot hold while one of its tables is being copied and
 * the other is not, so the copy drops every key from or to the table;
 * londiste.drop_table_fkey() keeps its definition in
 * londiste.pending_fkeys.  The worker restores the pending keys whose
 * tables are both in sync at the start of each batch.  Each key is dropped
 * and restored in its own transaction: one at a time takes one table's
 * lock at a time, which does not deadlock with the applications' writes.
 *
 * src/londiste3/copy/fkeys.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "framework/pqutil.h"
#include "londiste3/copy/copy.h"

/* the connection must not be inside a transaction: each step commits */
static bool
check_idle(PGconn *conn, const char *what)
{
	if (PQtransactionStatus(conn) == PQTRANS_IDLE)
		return true;
	sky_log(SKY_LOG_ERROR, "%s: the connection is inside a transaction", what);
	return false;
}

bool
ld_drop_table_fkeys(PGconn *local, const char *table_name)
{
	PGresult   *res;
	int			i;
	bool		ok = true;

	if (!check_idle(local, "dropping foreign keys"))
		return false;
	res = sky_db_exec(local,
					  "select from_table, fkey_name from londiste.find_table_fkeys($1)",
					  1, &table_name);
	if (res == NULL)
		return false;
	for (i = 0; i < PQntuples(res) && ok; i++)
	{
		const char *params[2] = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)};
		PGresult   *drop;

		sky_log(SKY_LOG_INFO, "Dropping fkey: %s", params[1]);
		drop = sky_db_exec(local, "select londiste.drop_table_fkey($1, $2)",
						   2, params);
		ok = drop != NULL;
		PQclear(drop);
	}
	PQclear(res);
	return ok;
}

/*
 * Can keys be restored in the lazy three steps (add NOT VALID, validate,
 * forget)?  That needs londiste 3.7 or later; the server (9.1+) always can.
 */
static bool
lazy_restore_possible(PGconn *local, bool *lazy)
{
	char	   *version = sky_db_value(local, "select londiste.version()", 0, NULL);
	int			major = 0;
	int			minor = 0;

	if (version == NULL)
		return false;
	if (sscanf(version, "%d.%d", &major, &minor) < 1)
		major = 0;
	*lazy = major > 3 || (major == 3 && minor >= 7);
	pg_free(version);
	return true;
}

/* one pending key, lazily: run what restore_table_fkey() returns until '' */
static bool
restore_lazily(PGconn *local, const char *from_table, const char *fkey_name)
{
	const char *params[2] = {from_table, fkey_name};

	for (;;)
	{
		char	   *step;
		PGresult   *res;

		if ((res = sky_db_exec(local, "begin", 0, NULL)) == NULL)
			return false;
		PQclear(res);
		step = sky_db_value(local,
							"select londiste.restore_table_fkey($1, $2, true)",
							2, params);
		if (step != NULL && step[0] != '\0')
		{
			sky_log(SKY_LOG_DEBUG, "%s", step);
			res = sky_db_exec(local, step, 0, NULL);
			PQclear(res);
			if (res == NULL)
			{
				pg_free(step);
				step = NULL;
			}
		}
		res = sky_db_exec(local, step != NULL ? "commit" : "rollback", 0, NULL);
		PQclear(res);
		if (step == NULL || res == NULL)
		{
			pg_free(step);
			return false;
		}
		if (step[0] == '\0')
		{
			pg_free(step);
			return true;
		}
		pg_free(step);
	}
}

bool
ld_restore_pending_fkeys(PGconn *local, const char *queue_name)
{
	PGresult   *res;
	bool		lazy = false;
	bool		ok = true;
	int			i;

	if (!check_idle(local, "restoring foreign keys"))
		return false;
	res = sky_db_exec(local,
					  "select from_table, to_table, fkey_name"
					  " from londiste.get_valid_pending_fkeys($1)",
					  1, &queue_name);
	if (res == NULL)
		return false;
	/* the worker calls this every batch: ask for the version only when needed */
	if (PQntuples(res) > 0 && !lazy_restore_possible(local, &lazy))
	{
		PQclear(res);
		return false;
	}
	for (i = 0; i < PQntuples(res) && ok; i++)
	{
		const char *from_table = PQgetvalue(res, i, 0);
		const char *fkey_name = PQgetvalue(res, i, 2);

		sky_log(SKY_LOG_INFO, "Creating fkey: %s (%s --> %s)",
				fkey_name, from_table, PQgetvalue(res, i, 1));
		if (lazy)
			ok = restore_lazily(local, from_table, fkey_name);
		else
		{
			const char *params[2] = {from_table, fkey_name};
			PGresult   *done = sky_db_exec(local,
										   "select londiste.restore_table_fkey($1, $2)",
										   2, params);

			ok = done != NULL;
			PQclear(done);
		}
	}
	PQclear(res);
	return ok;
}
