/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  londiste3 commands: worker, the replay daemon of a node, and copy,
 *	  the process the worker starts for a table's initial copy
 *	  (copy_process.c).
 *
 * The daemon loop is the framework's (sky_script_loop): one batch per
 * round (cascade_worker.c).  With no batch, the worker waits up to
 * loop_delay for the provider's tick notification (it listens on the
 * queue's channel) rather than sleeping, so that a new batch is read as
 * soon as it is ticked.  After a failure both connections' open
 * transactions are rolled back, the error is stored for "status"
 * (pgq_node.set_consumer_error) and the batch is tried again after
 * exception_sleep.  The local connection runs in session_replication_role
 * replica, set again on every reconnect, so that the tables' own
 * triggers (londiste's among them) stay silent during replay.
 *
 * src/londiste3/worker/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <poll.h>
#include <signal.h>

#include "framework/log.h"
#include "framework/pqutil.h"
#include "framework/signals.h"
#include "londiste3/worker/worker.h"

/*
 * The local connection, (re)opened as needed; NULL (logged) if the
 * database cannot be reached, which the loop retries.
 */
PGconn *
ld_worker_local(LdWorker *w)
{
	Londiste   *ld = w->ld;

	if (ld->local != NULL && PQstatus(ld->local) == CONNECTION_OK)
		return ld->local;
	PQfinish(ld->local);
	ld->local = sky_db_connect(ld->db, ld->script.job_name);
	if (ld->local == NULL)
		return NULL;
	if (!ld_worker_exec(ld->local,
						"select londiste.set_session_replication_role('replica', false)",
						0, NULL))
	{
		PQfinish(ld->local);
		ld->local = NULL;
		return NULL;
	}
	return ld->local;
}

/* roll back what a failed batch left open; drop a broken connection */
bool
ld_worker_rollback(PGconn *conn)
{
	PGresult   *res;

	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		return false;
	if (PQtransactionStatus(conn) == PQTRANS_IDLE)
		return true;
	res = PQexec(conn, "rollback");
	PQclear(res);
	return PQtransactionStatus(conn) == PQTRANS_IDLE;
}

/* the first line of the connections' last error, for status */
static char *
failure_note(LdWorker *w)
{
	const char *msgs[2] = {
		w->ld->local ? PQerrorMessage(w->ld->local) : "",
		w->provider ? PQerrorMessage(w->provider) : ""
	};
	int			i;

	for (i = 0; i < 2; i++)
		if (msgs[i] != NULL && msgs[i][0] != '\0')
			return pnstrdup(msgs[i], strcspn(msgs[i], "\n"));
	return pg_strdup("worker failed, see its log");
}

static void
worker_failed(LdWorker *w)
{
	char	   *note = failure_note(w);
	const char *params[3] = {w->ld->queue_name, w->consumer_name, note};

	if (!ld_worker_rollback(w->provider))
	{
		PQfinish(w->provider);
		w->provider = NULL;
	}
	if (!ld_worker_rollback(w->ld->local))
		ld_close_local(w->ld);
	else if (!ld_exec_cmd(w->ld->local,
						  "select * from pgq_node.set_consumer_error($1, $2, $3)",
						  3, params, NULL))
		sky_log(SKY_LOG_WARNING, "Failure to call pgq_node.set_consumer_error()");
	pg_free(note);
}

/* the keys of the worker, read at start and at every reload */
static bool
worker_reload(SkyScript *script, void *arg)
{
	LdWorker   *w = arg;
	SkyConfig  *cf = script->cf;
	char	   *unused;
	int			parallel;
	const char *const other_keys[] = {
		"threaded_copy_tables", "threaded_copy_pool_size", "handler_modules",
		"register_only_tables", "register_skip_tables", "register_only_seqs",
		"register_skip_seqs", "pgq_lazy_fetch", "pgq_autocommit",
		"pgq_batch_collect_events", "pgq_batch_collect_interval",
		"pgq_keep_lag", NULL
	};
	int			i;

	parallel = sky_config_get_int(cf, "parallel_copies", 1);
	if (parallel < 1)
	{
		sky_log(SKY_LOG_ERROR, "Bad value for parallel_copies: %d", parallel);
		return false;
	}
	w->parallel_copies = parallel;
	w->local_only = sky_config_get_bool(cf, "local_only", false);
	w->local_only_drop_execute = sky_config_get_bool(cf, "local_only_drop_execute", false);
	w->local_wm_period = sky_config_get_float(cf, "local_wm_publish_period", 300);
	w->global_wm_period = sky_config_get_float(cf, "global_wm_publish_period", 300);
	/* read per batch; looked at here so they count as known keys */
	for (i = 0; other_keys[i] != NULL; i++)
	{
		unused = sky_config_get(cf, other_keys[i], "");
		pg_free(unused);
	}
	return true;
}

/*
 * After an empty next_batch: wait up to loop_delay for the provider's
 * tick notification (or a signal).  True if the caller should look for a
 * batch right away, false to fall back to the framework's plain sleep.
 */
static bool
wait_for_tick(LdWorker *w, double seconds)
{
	PGconn	   *conn = w->provider;
	PGnotify   *notify;
	bool		notified = false;
	struct pollfd pfd;
	struct timespec ts;
	sigset_t	block;
	sigset_t	old;

	if (conn == NULL || PQstatus(conn) != CONNECTION_OK ||
		PQtransactionStatus(conn) != PQTRANS_IDLE || seconds <= 0)
		return false;

	/* notifications that came with earlier replies: ticks we may have missed */
	if (!PQconsumeInput(conn))
		return false;
	while ((notify = PQnotifies(conn)) != NULL)
	{
		notified = true;
		PQfreemem(notify);
	}
	if (notified)
		return true;

	pfd.fd = PQsocket(conn);
	pfd.events = POLLIN;
	pfd.revents = 0;
	ts.tv_sec = (time_t) seconds;
	ts.tv_nsec = (long) ((seconds - (double) ts.tv_sec) * 1e9);
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	if (!sky_reload_pending && !sky_stop_pending && !sky_terminate_pending)
		(void) ppoll(&pfd, 1, &ts, &old);
	sigprocmask(SIG_SETMASK, &old, NULL);

	if ((pfd.revents & POLLIN) && !PQconsumeInput(conn))
		return false;
	while ((notify = PQnotifies(conn)) != NULL)
		PQfreemem(notify);
	return true;
}

static SkyWorkResult
worker_work(SkyScript *script, void *arg)
{
	LdWorker   *w = arg;
	bool		had_batch;

	if (w->copy_process && !w->copy_registered)
	{
		PGconn	   *local = ld_worker_local(w);

		if (local == NULL || !ld_copy_register(w, local))
		{
			worker_failed(w);
			return SKY_WORK_FAILED;
		}
		w->copy_registered = true;
	}
	if (!ld_worker_batch(w, &had_batch))
	{
		worker_failed(w);
		return SKY_WORK_FAILED;
	}
	if (had_batch || wait_for_tick(w, script->loop_delay))
		return SKY_WORK_MORE;
	return SKY_WORK_IDLE;
}

static void
worker_init(LdWorker *w, Londiste *ld)
{
	memset(w, 0, sizeof(*w));
	w->ld = ld;
	w->consumer_name = pg_strdup(ld->consumer_name);
	w->apply = ld_apply_new();
	w->real_global_wm = -1;
	initPQExpBuffer(&w->copy_buf);
}

static void
worker_free(LdWorker *w)
{
	ld_tables_free(w);
	ld_apply_free(w->apply);
	termPQExpBuffer(&w->copy_buf);
	PQfinish(w->provider);
	pg_free(w->provider_location);
	pg_free(w->consumer_name);
	pg_free(w->batch_end);
	pg_free(w->event_filter);
}

/*
 * --rewind: move the consumer on the provider back to the local node's
 * completed tick.  --reset: the other way round, the local completed tick
 * to the consumer's position on the provider.  Both end the command.
 */
static int
worker_reposition(Londiste *ld)
{
	const char *params[3] = {ld->queue_name, ld->consumer_name, NULL};
	PGconn	   *local = ld_local(ld);
	PGconn	   *src;
	PGresult   *res;
	char	   *completed;
	char	   *location;
	int			rc = LD_EXIT_ERROR;

	if (!ld_exec_cmd(local, "select * from pgq_node.get_consumer_state($1, $2)",
					 2, params, &res))
		return LD_EXIT_ERROR;
	completed = PQgetisnull(res, 0, PQfnumber(res, "completed_tick")) ? NULL :
		pg_strdup(PQgetvalue(res, 0, PQfnumber(res, "completed_tick")));
	location = PQgetisnull(res, 0, PQfnumber(res, "provider_location")) ? NULL :
		pg_strdup(PQgetvalue(res, 0, PQfnumber(res, "provider_location")));
	PQclear(res);
	if (location == NULL)
	{
		sky_log(SKY_LOG_ERROR, "the consumer %s has no provider", ld->consumer_name);
		goto done;
	}
	if ((src = ld_connect(ld, location, true)) == NULL)
		goto done;
	if (ld->opt.rewind)
	{
		sky_log(SKY_LOG_INFO, "Rewinding queue");
		params[2] = completed;
		if (completed == NULL)
		{
			sky_log(SKY_LOG_WARNING, "No tick found on dst side");
			rc = LD_EXIT_OK;
		}
		else if (ld_worker_exec(src, "select pgq.register_consumer_at($1, $2, $3)",
								3, params))
			rc = LD_EXIT_OK;
	}
	else
	{
		char	   *last;

		sky_log(SKY_LOG_INFO, "Resetting queue tracking on dst side");
		res = sky_db_exec(src, "select last_tick from pgq.get_consumer_info($1, $2)",
						  2, params);
		if (res != NULL && PQntuples(res) == 0)
		{
			sky_log(SKY_LOG_INFO, "No info about consumer, cannot reset");
			rc = LD_EXIT_OK;
		}
		else if (res != NULL)
		{
			last = PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0);
			params[2] = last;
			if (ld_exec_cmd(local,
							"select * from pgq_node.set_consumer_completed($1, $2, $3)",
							3, params, NULL))
				rc = LD_EXIT_OK;
		}
		PQclear(res);
	}
	PQfinish(src);
done:
	pg_free(completed);
	pg_free(location);
	return rc;
}

/* "worker": replay the node's provider until stopped */
static int
cmd_worker(Londiste *ld)
{
	LdWorker	w;
	int			rc;

	if (ld->opt.rewind || ld->opt.reset)
		return worker_reposition(ld);
	worker_init(&w, ld);
	if (!worker_reload(&ld->script, &w))
		return LD_EXIT_ERROR;
	rc = sky_script_loop(&ld->script, worker_work, worker_reload, &w);
	worker_free(&w);
	return rc;
}

/* "copy TABLE": the initial copy of a table, started by the worker */
static int
cmd_copy(Londiste *ld)
{
	LdWorker	w;
	int			rc;

	if (ld->nargs < 1)
	{
		sky_log(SKY_LOG_ERROR, "londiste copy requires table name");
		return LD_EXIT_ERROR;
	}
	worker_init(&w, ld);
	w.copy_process = true;
	w.copy_table = ld_make_fqname(ld->args[0]);
	pg_free(w.consumer_name);
	w.consumer_name = psprintf("%s.copy.%s", ld->consumer_name, w.copy_table);
	if (!worker_reload(&ld->script, &w))
		return LD_EXIT_ERROR;
	rc = sky_script_loop(&ld->script, worker_work, worker_reload, &w);
	pg_free(w.copy_table);
	worker_free(&w);
	return rc;
}

const LondisteCommand ld_worker_commands[] = {
	{"worker", 0, "", LD_PIDFILE_MAIN, cmd_worker},
	{"copy", -1, "table", LD_PIDFILE_COPY, cmd_copy},
	{NULL}
};
