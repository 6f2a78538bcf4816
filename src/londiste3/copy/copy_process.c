/*-------------------------------------------------------------------------
 *
 * copy_process.c
 *	  The initial copy of tables, coordinated between the main worker and
 *	  one "copy TABLE" process per table (londiste.md 3.3).
 *
 * The main worker drops the table's foreign keys, stores in-copy and
 * starts "londiste3 CONFIG copy TABLE -d".  The copy process registers its
 * own consumer (<consumer>.copy.<table>) on the source node at the
 * source's current tick, copies the table (ld_copy_table: the table is
 * then catching-up with the copy's snapshot) and replays the table's
 * events from that tick on, skipping what the snapshot already holds.
 * Once it has caught up it asks for the handover (wanna-sync:T); the main
 * worker answers do-sync:T' at a batch ending at T' and waits; the copy
 * process applies up to T' - 1, stores ok and exits, and the main worker
 * applies the table from batch T' on.  Each step is stored in the local
 * database, so either side may be killed and restarted at any point.
 *
 * src/londiste3/copy/copy_process.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <fnmatch.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "framework/log.h"
#include "framework/pqutil.h"
#include "framework/signals.h"
#include "londiste3/worker/replay.h"
#include "londiste3/worker/worker.h"

/* the pid in a pidfile if that process lives, else 0 */
static pid_t
live_pid(const char *pidfile)
{
	FILE	   *f = fopen(pidfile, "r");
	long		pid = 0;

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0 || (kill((pid_t) pid, 0) != 0 && errno != EPERM))
		return 0;
	return (pid_t) pid;
}

/*
 * Start the copy process of a table and wait until it has daemonised.
 * An older copy process of the same table still running is waited for,
 * as a new one would find its pidfile taken.
 */
static bool
launch_copy(LdWorker *w, LdTable *t)
{
	Londiste   *ld = w->ld;
	char		exe[MAXPGPATH];
	ssize_t		len;
	char	   *argv[16];
	int			argc = 0;
	int			i;
	pid_t		child;
	int			status;

	sky_log(SKY_LOG_INFO, "Launching copy process");
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= 0)
	{
		sky_log(SKY_LOG_ERROR, "cannot find the program to run the copy: %m");
		return false;
	}
	exe[len] = '\0';
	if (ld->script.pidfile != NULL && ld->script.pidfile[0] != '\0')
	{
		char	   *pidfile = psprintf("%s.copy.%s", ld->script.pidfile, t->name);

		while (live_pid(pidfile) != 0)
		{
			sky_log(SKY_LOG_WARNING, "Waiting for existing copy to exit");
			sky_sleep(2);
			if (sky_stop_pending)
			{
				pg_free(pidfile);
				return false;
			}
		}
		pg_free(pidfile);
	}

	argv[argc++] = exe;
	argv[argc++] = ld->script.config_path;
	argv[argc++] = "copy";
	argv[argc++] = t->name;
	argv[argc++] = "-d";
	if (ld->script.quiet)
		argv[argc++] = "-q";
	for (i = 0; i < ld->script.verbose && i < 3; i++)
		argv[argc++] = "-v";
	argv[argc] = NULL;

	fflush(NULL);
	child = fork();
	if (child < 0)
	{
		sky_log(SKY_LOG_ERROR, "cannot start the copy process: %m");
		return false;
	}
	if (child == 0)
	{
		execv(exe, argv);
		fprintf(stderr, "cannot run %s: %s\n", exe, strerror(errno));
		_exit(127);
	}
	while (waitpid(child, &status, 0) < 0)
	{
		if (errno != EINTR)
		{
			sky_log(SKY_LOG_ERROR, "waiting for the copy process failed: %m");
			return false;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		sky_log(SKY_LOG_ERROR, "Failed to launch copy process, result=%d",
				WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return true;
}

/* writer sessions for the table: threaded_copy_pool_size if it matches */
static int
copy_writers(LdWorker *w, const char *table)
{
	char	   *patterns = sky_config_get(w->ld->script.cf, "threaded_copy_tables", "");
	char	   *item;
	char	   *save;
	int			writers = 0;

	for (item = strtok_r(patterns, ", \t", &save); item != NULL;
		 item = strtok_r(NULL, ", \t", &save))
	{
		if (fnmatch(item, table, 0) == 0)
		{
			writers = sky_config_get_int(w->ld->script.cf, "threaded_copy_pool_size", 1);
			if (writers < 1)
				writers = 1;
			break;
		}
	}
	pg_free(patterns);
	return writers;
}

/* the provider's local tables that are ok there */
static PGresult *
provider_tables(LdWorker *w)
{
	const char *params[1] = {w->ld->queue_name};

	return sky_db_exec(w->provider,
					   "select table_name, merge_state from londiste.get_table_list($1)"
					   " where local",
					   1, params);
}

/*
 * The main worker starts copies of tables without a state, as many as
 * parallel_copies leaves room for.  *loop is set when one was started.
 */
bool
ld_sync_launch_copies(LdWorker *w, PGconn *local, bool *loop)
{
	int			busy = 0;
	int			missing = 0;
	int			i;
	PGresult   *pmap = NULL;

	for (i = 0; i < w->ntables; i++)
	{
		LdTable    *t = &w->tables[i];

		switch (t->state)
		{
			case LD_TABLE_MISSING:
				missing++;
				break;
			case LD_TABLE_IN_COPY:
				{
					int			writers = copy_writers(w, t->name);

					busy += writers > 0 ? writers : 1;
					break;
				}
			case LD_TABLE_CATCHING_UP:
			case LD_TABLE_WANNA_SYNC:
			case LD_TABLE_DO_SYNC:
				busy++;
				break;
			case LD_TABLE_OK:
				break;
		}
	}
	if (missing == 0 || busy >= w->parallel_copies)
		return true;

	for (i = 0; i < w->ntables && busy < w->parallel_copies; i++)
	{
		LdTable    *t = &w->tables[i];
		const char *copy_node;

		if (t->state != LD_TABLE_MISSING)
			continue;
		if (!pgq_dict_get(t->attrs, "copy_node", &copy_node))
		{
			int			row;
			const char *pstate = NULL;

			/* the provider must have the table in sync */
			if (pmap == NULL && (pmap = provider_tables(w)) == NULL)
				return false;
			for (row = 0; row < PQntuples(pmap); row++)
				if (strcmp(PQgetvalue(pmap, row, 0), t->name) == 0)
					break;
			if (row == PQntuples(pmap))
			{
				sky_log(SKY_LOG_WARNING, "Table %s not available on provider", t->name);
				continue;
			}
			if (!PQgetisnull(pmap, row, 1))
				pstate = PQgetvalue(pmap, row, 1);
			if (pstate == NULL || (strcmp(pstate, "ok") != 0 && strcmp(pstate, "?") != 0))
			{
				sky_log(SKY_LOG_INFO, "Table %s not OK on provider, waiting", t->name);
				continue;
			}
		}
		busy++;
		/* each key is dropped and committed alone; a crash keeps them pending */
		if (!ld_drop_table_fkeys(local, t->dest_table))
		{
			PQclear(pmap);
			return false;
		}
		t->state = LD_TABLE_IN_COPY;
		t->changed = true;
		if (!ld_tables_save(w, local))
		{
			PQclear(pmap);
			return false;
		}
		sky_log(SKY_LOG_INFO, "Table %s status changed to 'in-copy'", t->name);
		if (!launch_copy(w, t))
		{
			PQclear(pmap);
			return false;
		}
		*loop = true;
	}
	PQclear(pmap);
	return true;
}

/* the copy process's consumer on the source and on the local node */
static bool
unregister_copy_consumer(LdWorker *w, PGconn *local)
{
	const char *params[2] = {w->ld->queue_name, w->consumer_name};
	PGresult   *res;

	sky_log(SKY_LOG_INFO, "Unregistering consumer from source queue");
	if (w->provider != NULL)
	{
		res = sky_db_exec(w->provider, "select pgq.unregister_consumer($1, $2)",
						  2, params);
		if (res == NULL)
			return false;
		PQclear(res);
	}
	return ld_exec_cmd(local, "select * from pgq_node.unregister_consumer($1, $2)",
					   2, params, NULL);
}

/* run a table's saved structure again (lead copy) and analyze it */
static bool
restore_copy_ddl(LdWorker *w, PGconn *local, LdTable *t)
{
	const char *params[2] = {w->ld->queue_name, t->name};
	PQExpBufferData sql;
	bool		ok;

	sky_log(SKY_LOG_INFO, "%s: restoring DDL", t->name);
	if (!ld_worker_exec(local, "begin", 0, NULL) ||
		!ld_worker_exec_script(local, t->dropped_ddl) ||
		!ld_exec_cmd(local, "select * from londiste.local_set_table_struct($1, $2, NULL)",
					 2, params, NULL) ||
		!ld_worker_exec(local, "commit", 0, NULL))
		return false;
	pg_free(t->dropped_ddl);
	t->dropped_ddl = NULL;
	sky_log(SKY_LOG_INFO, "%s: analyze", t->name);
	initPQExpBuffer(&sql);
	appendPQExpBufferStr(&sql, "analyze ");
	ld_append_quoted_fqname(&sql, t->dest_table);
	ok = ld_worker_exec(local, sql.data, 0, NULL);
	termPQExpBuffer(&sql);
	return ok;
}

static bool
copy_table(LdWorker *w, PGconn *local, LdTable *t)
{
	LdCopyRequest req = {0};
	char	   *snapshot = NULL;
	const char *skip;

	req.queue_name = w->ld->queue_name;
	req.table_name = t->name;
	req.dest_table = t->dest_table;
	req.handler = t->handler;
	req.skip_truncate = pgq_dict_get(t->attrs, "skip_truncate", &skip) &&
		skip != NULL && atoi(skip) != 0;
	req.writers = copy_writers(w, t->name);
	if (!ld_copy_table(w->ld, w->provider, local, &req, &snapshot))
		return false;
	pg_free(snapshot);
	return true;
}

/*
 * The copy process's step before each batch.  *loop: wait and look
 * again; *exit_now: the table is handed over (or gone), the process ends.
 */
bool
ld_sync_copy_process(LdWorker *w, PGconn *local, bool *loop, bool *exit_now)
{
	LdTable    *t = ld_table_find(w, w->copy_table);

	*loop = false;
	*exit_now = false;
	if (t == NULL)
	{
		sky_log(SKY_LOG_ERROR, "copy_sync: lost table: %s", w->copy_table);
		*exit_now = true;
		return unregister_copy_consumer(w, local);
	}
	switch (t->state)
	{
		case LD_TABLE_DO_SYNC:
			if (w->cur_tick == t->sync_tick)
			{
				/* the main worker applies from this batch on */
				t->state = LD_TABLE_OK;
				t->changed = true;
				if (!ld_tables_save(w, local))
					return false;
				sky_log(SKY_LOG_INFO, "Table %s status changed to 'ok'", t->name);
				*exit_now = true;
				return unregister_copy_consumer(w, local);
			}
			if (w->cur_tick < t->sync_tick)
				return true;
			sky_log(SKY_LOG_ERROR, "copy_sync: cur_tick=%lld sync_tick=%lld",
					(long long) w->cur_tick, (long long) t->sync_tick);
			sky_log(SKY_LOG_ERROR, "Invalid table state");
			return false;
		case LD_TABLE_WANNA_SYNC:
			*loop = true;
			return true;
		case LD_TABLE_CATCHING_UP:
			if (t->copy_role != NULL && (strcmp(t->copy_role, "wait-replay") == 0 ||
										 strcmp(t->copy_role, "lead") == 0))
			{
				*loop = true;
				return true;
			}
			if (t->dropped_ddl != NULL)
				return restore_copy_ddl(w, local, t);
			if (w->had_work)
				return true;
			/* caught up: ask the main worker for the handover */
			t->state = LD_TABLE_WANNA_SYNC;
			t->sync_tick = w->cur_tick;
			t->changed = true;
			if (!ld_tables_save(w, local))
				return false;
			sky_log(SKY_LOG_INFO, "Table %s status changed to 'wanna-sync:%lld'",
					t->name, (long long) w->cur_tick);
			*loop = true;
			return true;
		case LD_TABLE_IN_COPY:
			if (!copy_table(w, local, t))
				return false;
			w->had_work = true;
			*loop = true;
			return true;
		case LD_TABLE_MISSING:
		case LD_TABLE_OK:
			break;
	}
	/* nothing left for a copy process */
	*exit_now = true;
	return unregister_copy_consumer(w, local);
}

/* the location of node name in the cascade, NULL if unknown */
static char *
node_location(LdWorker *w, PGconn *local, const char *name)
{
	const char *params[2] = {w->ld->queue_name, name};
	PGresult   *res;
	char	   *loc = NULL;

	res = sky_db_exec(local,
					  "select node_location from pgq_node.get_queue_locations($1)"
					  " where node_name = $2", 2, params);
	if (res == NULL)
		return NULL;
	if (PQntuples(res) > 0)
		loc = pg_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return loc;
}

/*
 * copy_node=?: walk up from the provider to the first node that has the
 * table local with a handler that stores its rows.
 */
static bool
find_copy_source(LdWorker *w, char **node, char **location)
{
	for (;;)
	{
		const char *params[2] = {w->ld->queue_name, w->copy_table};
		PGconn	   *conn = ld_connect(w->ld, *location, true);
		PGresult   *res;
		bool		usable = false;
		char	   *up_node = NULL;
		char	   *up_loc = NULL;

		if (conn == NULL)
			return false;
		res = sky_db_exec(conn,
						  "select t.local, t.table_attrs, n.node_name, n.provider_node,"
						  " n.provider_location from pgq_node.get_node_info($1) n"
						  " left join londiste.get_table_list($1) t on t.table_name = $2",
						  2, params);
		if (res == NULL || PQntuples(res) != 1)
		{
			sky_log(SKY_LOG_ERROR, "Node does not exist");
			PQclear(res);
			PQfinish(conn);
			return false;
		}
		sky_log(SKY_LOG_INFO, "Checking if %s can be used for copy", PQgetvalue(res, 0, 2));
		if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		{
			PgqDict    *attrs = pgq_urldecode(PQgetisnull(res, 0, 1) ? "" : PQgetvalue(res, 0, 1));
			const char *spec = NULL;
			LdHandler  *h;

			if (attrs != NULL && !pgq_dict_get(attrs, "handler", &spec))
				(void) pgq_dict_get(attrs, "handlers", &spec);
			h = attrs ? ld_handler_new(w->ld, spec, w->copy_table, w->copy_table) : NULL;
			usable = h != NULL && ld_handler_needs_table(h);
			if (h)
				ld_handler_free(h);
			if (attrs)
				pgq_dict_free(attrs);
		}
		if (usable)
		{
			pg_free(*node);
			*node = pg_strdup(PQgetvalue(res, 0, 2));
			sky_log(SKY_LOG_INFO, "Node %s seems good source, using it", *node);
		}
		else if (!PQgetisnull(res, 0, 4))
		{
			up_node = pg_strdup(PQgetvalue(res, 0, 3));
			up_loc = pg_strdup(PQgetvalue(res, 0, 4));
		}
		PQclear(res);
		PQfinish(conn);
		if (usable)
			return true;
		if (up_loc == NULL)
		{
			sky_log(SKY_LOG_ERROR, "Cannot find source for table %s", w->copy_table);
			return false;
		}
		pg_free(*node);
		pg_free(*location);
		*node = up_node;
		*location = up_loc;
	}
}

/*
 * Register the copy process's consumer: on the source node (the main
 * worker's provider, or the table's copy_node) at its current position,
 * and on the local node with that tick as its completed one.
 */
bool
ld_copy_register(LdWorker *w, PGconn *local)
{
	const char *params[4];
	PGresult   *res;
	char	   *node = NULL;
	char	   *location = NULL;
	const char *copy_node = NULL;
	PgqDict    *attrs = NULL;
	PGconn	   *src;
	char	   *last_tick;
	bool		ok = false;

	params[0] = w->ld->queue_name;
	params[1] = w->copy_table;
	res = sky_db_exec(local,
					  "select table_attrs from londiste.get_table_list($1) where table_name = $2",
					  2, params);
	if (res == NULL)
		return false;
	if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
		attrs = pgq_urldecode(PQgetvalue(res, 0, 0));
	PQclear(res);

	params[1] = w->ld->consumer_name;
	if (!ld_exec_cmd(local, "select * from pgq_node.get_consumer_state($1, $2)",
					 2, params, &res))
		goto done;
	node = PQgetisnull(res, 0, PQfnumber(res, "provider_node")) ? NULL :
		pg_strdup(PQgetvalue(res, 0, PQfnumber(res, "provider_node")));
	location = PQgetisnull(res, 0, PQfnumber(res, "provider_location")) ? NULL :
		pg_strdup(PQgetvalue(res, 0, PQfnumber(res, "provider_location")));
	PQclear(res);
	if (location == NULL)
	{
		sky_log(SKY_LOG_ERROR, "the worker %s has no provider", w->ld->consumer_name);
		goto done;
	}
	if (attrs != NULL && pgq_dict_get(attrs, "copy_node", &copy_node) && copy_node)
	{
		if (strcmp(copy_node, "?") == 0)
		{
			if (!find_copy_source(w, &node, &location))
				goto done;
		}
		else
		{
			char	   *loc = node_location(w, local, copy_node);

			if (loc != NULL)
			{
				pg_free(node);
				pg_free(location);
				node = pg_strdup(copy_node);
				location = loc;
			}
		}
	}
	sky_log(SKY_LOG_INFO, "Using '%s' as source node", node ? node : "");

	src = ld_connect(w->ld, location, true);
	if (src == NULL)
		goto done;
	params[1] = w->consumer_name;
	sky_log(SKY_LOG_INFO, "Registering consumer on source queue");
	res = sky_db_exec(src, "select pgq.register_consumer($1, $2)", 2, params);
	if (res != NULL)
	{
		PQclear(res);
		last_tick = sky_db_value(src,
								 "select last_tick from pgq.get_consumer_info($1, $2)",
								 2, params);
		if (last_tick != NULL && last_tick[0] != '\0')
		{
			params[2] = node;
			params[3] = last_tick;
			ok = ld_exec_cmd(local,
							 "select * from pgq_node.register_consumer($1, $2, $3, $4)",
							 4, params, NULL);
		}
		else if (last_tick != NULL)
			sky_log(SKY_LOG_ERROR, "registration failed?");
		pg_free(last_tick);
	}
	PQfinish(src);

done:
	if (attrs)
		pgq_dict_free(attrs);
	pg_free(node);
	pg_free(location);
	return ok;
}
