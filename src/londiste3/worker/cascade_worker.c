/*-------------------------------------------------------------------------
 *
 * cascade_worker.c
 *	  One batch of the londiste worker on a cascade node (londiste.md 3.1,
 *	  3.2; compat-clients.md 2.6, 2.7).
 *
 * The node's role is read from pgq_node.get_node_info() every batch: a
 * root only publishes its watermark and sequences; a branch applies the
 * events, copies every event into its own queue keeping the ids, and
 * ticks its queue where the provider ticked; a leaf applies; a leaf of a
 * combined root also copies the data events into the combined queue.
 *
 * Exactly once: the applied events, the copied events, the table states
 * and the consumer's completed tick (pgq_node.set_consumer_completed) are
 * committed in one local transaction.  Only then is the batch finished on
 * the provider.  A batch fetched again after a crash is recognised by its
 * ticks: prev_tick = completed is new work, cur_tick = completed was
 * applied and is only finished (a branch first makes the tick the crash
 * may have cost it).
 *
 * src/londiste3/worker/cascade_worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <sys/time.h>

#include "framework/log.h"
#include "framework/pqutil.h"
#include "framework/signals.h"
#include "londiste3/handlers/rowsql.h"
#include "londiste3/worker/replay.h"
#include "londiste3/worker/worker.h"

/* events copied downstream per COPY, as python3-pgq buffers them */
#define COPY_GROUP_SIZE 500

static double
now_seconds(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec + tv.tv_usec / 1000000.0;
}

static const char *
field(const PGresult *res, int row, const char *name)
{
	int			col = PQfnumber(res, name);

	if (col < 0 || PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

static char *
field_dup(const PGresult *res, int row, const char *name)
{
	const char *v = field(res, row, name);

	return v ? pg_strdup(v) : NULL;
}

static int64_t
field_int(const PGresult *res, int row, const char *name)
{
	const char *v = field(res, row, name);

	return v ? strtoll(v, NULL, 10) : 0;
}

static void
role_clear(LdNodeRole *r)
{
	pg_free(r->node_type);
	pg_free(r->node_name);
	pg_free(r->combined_queue);
	pg_free(r->combined_type);
	pg_free(r->wm_sync_nodes);
	memset(r, 0, sizeof(*r));
}

/* what the node does, from its get_node_info row (compat-clients 2.7) */
static bool
role_from_node_info(LdWorker *w, const PGresult *res)
{
	LdNodeRole *r = &w->role;
	const char *attrs = field(res, 0, "node_attrs");
	const char *type;
	const char *ctype;

	role_clear(r);
	r->node_type = field_dup(res, 0, "node_type");
	r->node_name = field_dup(res, 0, "node_name");
	r->combined_queue = field_dup(res, 0, "combined_queue");
	r->combined_type = field_dup(res, 0, "combined_type");
	r->local_watermark = field_int(res, 0, "local_watermark");
	r->global_watermark = field_int(res, 0, "global_watermark");
	type = r->node_type ? r->node_type : "";
	ctype = r->combined_type;

	if (attrs != NULL && attrs[0] != '\0')
	{
		PgqDict    *d = pgq_urldecode(attrs);
		const char *v;

		if (d != NULL && pgq_dict_get(d, "sync_watermark", &v))
			r->wm_sync_nodes = pg_strdup(v ? v : "");
		if (d != NULL)
			pgq_dict_free(d);
	}

	if (strcmp(type, "root") == 0)
		;
	else if (strcmp(type, "branch") == 0)
	{
		r->target_queue = w->ld->queue_name;
		r->process_events = true;
		r->copy_events = true;
		r->keep_event_ids = true;
		r->create_tick = true;
		if (r->wm_sync_nodes != NULL)
			r->sync_watermark = true;
		else
			r->process_global_wm = true;
	}
	else if (strcmp(type, "leaf") == 0 && ctype == NULL)
		r->process_events = true;
	else if (strcmp(type, "leaf") == 0 && strcmp(ctype, "root") == 0)
	{
		r->target_queue = r->combined_queue;
		r->process_events = true;
		r->copy_events = true;
		r->filtered_copy = true;
		r->send_tick_event = true;
	}
	else if (strcmp(type, "leaf") == 0 && strcmp(ctype, "branch") == 0)
		r->wait_behind = true;
	else
	{
		sky_log(SKY_LOG_ERROR, "invalid node state: type %s, combined type %s",
				type, ctype ? ctype : "none");
		return false;
	}
	if (ctype != NULL && strcmp(type, "leaf") != 0)
	{
		sky_log(SKY_LOG_ERROR, "invalid node state: a %s with a combined queue", type);
		return false;
	}
	/* the copy process only applies its table */
	if (w->copy_process)
	{
		r->process_events = true;
		r->copy_events = false;
		r->create_tick = false;
		r->send_tick_event = false;
		r->wait_behind = false;
	}
	return true;
}

/*
 * The consumer's state and the node's role on the local node.  Waits
 * while the consumer is paused; marks it up to date and clears a stored
 * error, as the pause/resume commands and status expect.
 */
static bool
refresh_state(LdWorker *w, PGconn *local)
{
	const char *params[3] = {w->ld->queue_name, w->consumer_name, NULL};
	PGresult   *res;
	const char *loc;

	for (;;)
	{
		if (!ld_exec_cmd(local, "select * from pgq_node.get_consumer_state($1, $2)",
						 2, params, &res))
			return false;
		w->completed_tick = field_int(res, 0, "completed_tick");
		w->paused = strcmp(field(res, 0, "paused") ? field(res, 0, "paused") : "f", "t") == 0;
		loc = field(res, 0, "provider_location");
		if (loc != NULL && (w->provider_location == NULL ||
							strcmp(loc, w->provider_location) != 0))
		{
			/* the provider changed (change-provider, takeover) */
			PQfinish(w->provider);
			w->provider = NULL;
			pg_free(w->provider_location);
			w->provider_location = pg_strdup(loc);
		}
		if (strcmp(field(res, 0, "uptodate") ? field(res, 0, "uptodate") : "f", "t") != 0)
		{
			PQclear(res);
			if (!ld_exec_cmd(local,
							 "select * from pgq_node.set_consumer_uptodate($1, $2, true)",
							 2, params, NULL))
				return false;
		}
		else if (field(res, 0, "cur_error") != NULL)
		{
			PQclear(res);
			if (!ld_exec_cmd(local,
							 "select * from pgq_node.set_consumer_error($1, $2, NULL)",
							 2, params, NULL))
				return false;
		}
		else
			PQclear(res);
		if (!w->paused)
			break;
		sky_sleep(w->ld->script.loop_delay);
		if (sky_stop_pending)
			return false;
	}

	if (!ld_exec_cmd(local, "select * from pgq_node.get_node_info($1)",
					 1, params, &res))
		return false;
	if (!role_from_node_info(w, res))
	{
		PQclear(res);
		return false;
	}
	PQclear(res);
	return true;
}

/* run one statement on conn, logging a failure */
bool
ld_worker_exec(PGconn *conn, const char *sql, int nparams,
			   const char *const *params)
{
	PGresult   *res = sky_db_exec(conn, sql, nparams, params);

	if (res == NULL)
		return false;
	PQclear(res);
	return true;
}

/*
 * Run SQL text that may hold several statements (an EXECUTE file, saved
 * DDL): the simple query protocol, in the caller's transaction.
 */
bool
ld_worker_exec_script(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
		PQresultStatus(res) == PGRES_TUPLES_OK ||
		PQresultStatus(res) == PGRES_EMPTY_QUERY;

	if (!ok)
		sky_log(SKY_LOG_ERROR, "query failed: %s", PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

/* the root's loop: watermark downstream, sequences into the queue */
static bool
root_work(LdWorker *w, PGconn *local)
{
	const char *params[1] = {w->ld->queue_name};
	double		now;

	sky_sleep(10 * w->ld->script.loop_delay);
	if (sky_stop_pending)
		return true;
	now = now_seconds();
	if (now - w->global_wm_time >= w->global_wm_period)
	{
		sky_log(SKY_LOG_DEBUG, "Publishing global watermark");
		if (!ld_worker_exec(local,
							"select * from pgq_node.set_global_watermark($1, NULL)",
							1, params))
			return false;
		w->global_wm_time = now;
	}
	return ld_exec_cmd(local, "select * from londiste.root_check_seqs($1)",
					   1, params, NULL);
}

/* write the buffered events into the target queue's current event table */
static bool
flush_copied_events(LdWorker *w, PGconn *local)
{
	const char *params[1] = {w->role.target_queue};
	char	   *table;
	char	   *dot;
	char	   *quoted_schema;
	char	   *quoted_table;
	char	   *sql;
	PGresult   *res;
	bool		ok;

	if (w->ncopy == 0)
		return true;
	if (!ld_apply_flush(w->apply))
		return false;
	table = sky_db_value(local, "select pgq.current_event_table($1)", 1, params);
	if (table == NULL)
		return false;
	dot = strchr(table, '.');
	if (dot == NULL)
	{
		sky_log(SKY_LOG_ERROR, "pgq.current_event_table returned %s", table);
		pg_free(table);
		return false;
	}
	*dot = '\0';
	quoted_schema = PQescapeIdentifier(local, table, strlen(table));
	quoted_table = PQescapeIdentifier(local, dot + 1, strlen(dot + 1));
	sql = psprintf("COPY %s.%s (ev_time, ev_type, ev_data, ev_extra1, ev_extra2, "
				   "ev_extra3, ev_extra4%s) FROM STDIN",
				   quoted_schema, quoted_table,
				   w->role.keep_event_ids ? ", ev_id" : "");
	PQfreemem(quoted_schema);
	PQfreemem(quoted_table);
	pg_free(table);
	res = PQexec(local, sql);
	pg_free(sql);
	ok = PQresultStatus(res) == PGRES_COPY_IN;
	PQclear(res);
	if (ok)
		ok = PQputCopyData(local, w->copy_buf.data, w->copy_buf.len) == 1 &&
			PQputCopyEnd(local, NULL) == 1;
	while ((res = PQgetResult(local)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			ok = false;
		PQclear(res);
	}
	if (!ok)
		sky_log(SKY_LOG_ERROR, "copying events into queue %s failed: %s",
				w->role.target_queue, PQerrorMessage(local));
	resetPQExpBuffer(&w->copy_buf);
	w->ncopy = 0;
	return ok;
}

static bool
prepare_handler(LdWorker *w, LdTable *t)
{
	if (t->used)
		return true;
	t->used = true;
	t->handler->batch = &w->batch_info;
	/* the hook may talk to the connection: the rows before it go first */
	if (t->handler->cls->prepare_batch != NULL)
		return ld_apply_flush(w->apply) &&
			t->handler->cls->prepare_batch(t->handler, w->apply);
	return true;
}

/* queue an event for the target queue; handlers may rewrite or drop it */
static bool
copy_event(LdWorker *w, PGconn *local, const PgqEvent *ev)
{
	const char *type = ev->type ? ev->type : "";
	char		wm[32];
	PgqEvent	patched;

	if (w->role.filtered_copy &&
		(strncmp(type, "pgq.", 4) == 0 || strncmp(type, "londiste.", 9) == 0))
		return true;
	if (ld_is_row_event(ev))
	{
		LdTable    *t = ld_table_find(w, ev->extra1);

		if (t != NULL && t->handler->cls->copy_event != NULL)
		{
			if (!prepare_handler(w, t))
				return false;
			ev = t->handler->cls->copy_event(t->handler, ev);
			if (ev == NULL)
				return true;
		}
	}
	if (w->role.sync_watermark && strcmp(type, "pgq.global-watermark") == 0)
	{
		/* downstream gets the watermark synced among the listed nodes */
		patched = *ev;
		snprintf(wm, sizeof(wm), "%lld", (long long) w->role.global_watermark);
		patched.data = wm;
		ev = &patched;
	}
	if (w->ncopy >= COPY_GROUP_SIZE && !flush_copied_events(w, local))
		return false;
	ld_append_copy_value(&w->copy_buf, ev->time);
	appendPQExpBufferChar(&w->copy_buf, '\t');
	ld_append_copy_value(&w->copy_buf, ev->type);
	appendPQExpBufferChar(&w->copy_buf, '\t');
	ld_append_copy_value(&w->copy_buf, ev->data);
	appendPQExpBufferChar(&w->copy_buf, '\t');
	ld_append_copy_value(&w->copy_buf, ev->extra1);
	appendPQExpBufferChar(&w->copy_buf, '\t');
	ld_append_copy_value(&w->copy_buf, ev->extra2);
	appendPQExpBufferChar(&w->copy_buf, '\t');
	ld_append_copy_value(&w->copy_buf, ev->extra3);
	appendPQExpBufferChar(&w->copy_buf, '\t');
	ld_append_copy_value(&w->copy_buf, ev->extra4);
	if (w->role.keep_event_ids)
		appendPQExpBuffer(&w->copy_buf, "\t%lld", (long long) ev->id);
	appendPQExpBufferChar(&w->copy_buf, '\n');
	w->ncopy++;
	return true;
}

/* pgq.* events: the cascade's own bookkeeping (compat-clients 2.7) */
static bool
cascade_event(LdWorker *w, PGconn *local, const PgqEvent *ev)
{
	const char *q = w->ld->queue_name;
	const char *type = ev->type;

	if (w->copy_process)
		return true;
	if (strcmp(type, "pgq.tick-id") != 0 &&
		(ev->extra1 == NULL || strcmp(ev->extra1, q) != 0))
	{
		sky_log(SKY_LOG_ERROR, "bad event in queue: id=%lld type=%s extra1=%s",
				(long long) ev->id, type, ev->extra1 ? ev->extra1 : "None");
		return false;
	}
	sky_log(SKY_LOG_DEBUG, "got cascade event: %s(%s)", type,
			ev->data ? ev->data : "");
	if (strcmp(type, "pgq.location-info") == 0)
	{
		const char *params[4] = {q, ev->data, ev->extra2, ev->extra3};

		return ld_worker_exec(local,
							  "select * from pgq_node.register_location($1, $2, $3, $4)",
							  4, params);
	}
	if (strcmp(type, "pgq.unregister-location") == 0)
	{
		const char *params[2] = {q, ev->data};

		return ld_worker_exec(local,
							  "select * from pgq_node.unregister_location($1, $2)",
							  2, params);
	}
	if (strcmp(type, "pgq.global-watermark") == 0)
	{
		const char *params[2] = {q, ev->data};

		if (w->role.sync_watermark)
		{
			sky_log(SKY_LOG_DEBUG, "Half-ignoring global watermark %s", ev->data);
			w->real_global_wm = strtoll(ev->data ? ev->data : "0", NULL, 10);
			return true;
		}
		if (!w->role.process_global_wm)
			return true;
		return ld_worker_exec(local,
							  "select * from pgq_node.set_global_watermark($1, $2)",
							  2, params);
	}
	if (strcmp(type, "pgq.tick-id") == 0)
	{
		const char *params[3] = {q, ev->extra1, ev->data};

		if (ev->extra1 != NULL && strcmp(ev->extra1, q) == 0)
		{
			sky_log(SKY_LOG_ERROR, "tick-id event for own queue?");
			return false;
		}
		/* a branch of a combined queue follows its partitions */
		if (!w->role.create_tick)
			return true;
		return ld_worker_exec(local,
							  "select * from pgq_node.set_partition_watermark($1, $2, $3)",
							  3, params);
	}
	sky_log(SKY_LOG_ERROR, "unknown cascade event: %s", type);
	return false;
}

static bool
data_event(LdWorker *w, const PgqEvent *ev)
{
	LdTable    *t = ld_table_find(w, ev->extra1);

	if (t == NULL || !ld_table_interesting(w, t, ev))
		return true;
	if (!prepare_handler(w, t))
		return false;
	if (t->handler->cls->process_event == NULL)
		return true;
	return t->handler->cls->process_event(t->handler, w->apply, ev);
}

static bool
truncate_event(LdWorker *w, PGconn *local, const PgqEvent *ev)
{
	LdTable    *t = ld_table_find(w, ev->extra1);
	const char *ignore;
	PQExpBufferData sql;
	bool		ok;

	if (t == NULL || !ld_table_interesting(w, t, ev))
		return true;
	if (!prepare_handler(w, t))
		return false;
	if (pgq_dict_get(t->handler->args, "ignore_truncate", &ignore) &&
		ignore != NULL && atoi(ignore) != 0)
	{
		sky_log(SKY_LOG_INFO, "ignoring truncate for %s", t->dest_table);
		return true;
	}
	/* CASCADE: foreign keys to the table would refuse it otherwise */
	initPQExpBuffer(&sql);
	appendPQExpBufferStr(&sql, "TRUNCATE ");
	ld_append_quoted_fqname(&sql, t->dest_table);
	appendPQExpBufferStr(&sql, " CASCADE;");
	ok = ld_apply_flush(w->apply) && ld_worker_exec(local, sql.data, 0, NULL);
	termPQExpBuffer(&sql);
	return ok;
}

/* is name in the comma-separated config list key? */
static bool
in_config_list(LdWorker *w, const char *key, const char *name, bool *listed)
{
	char	   *list = sky_config_get(w->ld->script.cf, key, "");
	char	   *item;
	char	   *save;
	bool		found = false;

	*listed = list[0] != '\0';
	for (item = strtok_r(list, ", \t", &save); item != NULL && !found;
		 item = strtok_r(NULL, ", \t", &save))
		found = strcmp(item, name) == 0;
	pg_free(list);
	return found;
}

/* the events of the londiste extension and the cascade */
bool
ld_replay_event(LdWorker *w, PGconn *local, const PgqEvent *ev)
{
	const char *type = ev->type ? ev->type : "";
	const char *params[3] = {w->ld->queue_name, ev->data, NULL};

	if (ld_is_row_event(ev))
		return data_event(w, ev);
	if (strcmp(type, "R") == 0)
		return ld_apply_flush(w->apply) && truncate_event(w, local, ev);
	if (strcmp(type, "EXECUTE") == 0)
	{
		/* the SQL may alter tables: prepare their statements anew */
		if (!ld_apply_flush(w->apply))
			return false;
		ld_apply_forget_statements(w->apply);
		return ld_replay_execute(w, local, ev);
	}
	if (strcmp(type, "londiste.add-table") == 0)
	{
		bool		listed;

		if (!ld_apply_flush(w->apply))
			return false;
		if ((!in_config_list(w, "register_only_tables", ev->data, &listed) && listed) ||
			in_config_list(w, "register_skip_tables", ev->data, &listed))
			return true;
		return ld_worker_exec(local, "select londiste.global_add_table($1, $2)",
							  2, params);
	}
	if (strcmp(type, "londiste.remove-table") == 0)
	{
		LdTable    *t = ld_table_find(w, ev->data);

		if (!ld_apply_flush(w->apply))
			return false;
		/* later events of the batch no longer apply to it */
		if (t != NULL)
			t->state = LD_TABLE_MISSING;
		if (t != NULL)
			t->changed = false;
		return ld_worker_exec(local, "select londiste.global_remove_table($1, $2)",
							  2, params);
	}
	if (strcmp(type, "londiste.remove-seq") == 0)
		return ld_apply_flush(w->apply) &&
			ld_worker_exec(local, "select londiste.global_remove_seq($1, $2)",
						   2, params);
	if (strcmp(type, "londiste.update-seq") == 0)
	{
		const char *seq_params[3] = {w->ld->queue_name, ev->extra1, ev->data};

		if (!ld_apply_flush(w->apply))
			return false;
		if (w->copy_process)
			return true;
		return ld_exec_cmd(local,
						   "select * from londiste.global_update_seq($1, $2, $3)",
						   3, seq_params, NULL);
	}
	if (strncmp(type, "pgq.", 4) == 0)
		return cascade_event(w, local, ev);
	sky_log(SKY_LOG_ERROR, "Unhandled event type in queue: %s", type);
	return false;
}

/*
 * The result of the FETCH sent ahead on src (NULL, logged, on error).  The
 * connection is free again afterwards.
 */
static PGresult *
fetch_ahead_result(PGconn *src, const char *sql)
{
	PGresult   *res = NULL;
	PGresult   *next;

	while ((next = PQgetResult(src)) != NULL)
	{
		if (res == NULL)
			res = next;
		else
			PQclear(next);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		sky_log(SKY_LOG_ERROR, "query failed: %s",
				res ? PQresultErrorMessage(res) : PQerrorMessage(src));
		sky_log(SKY_LOG_DEBUG, "the query was: %s", sql);
		PQclear(res);
		return NULL;
	}
	return res;
}

/*
 * Every event of the batch, in order, from the provider's cursor.  The
 * FETCH of the next page is sent before the current one is applied, so
 * that the provider reads it while the local node applies this one.
 * Applying an event never uses the provider connection.
 */
static bool
process_events(LdWorker *w, PGconn *local)
{
	PGconn	   *src = w->provider;
	int			fetch_size;
	char	   *batch_id = psprintf("%lld", (long long) w->batch_id);
	char	   *size_text;
	char	   *fetch_sql;
	const char *params[3];
	PGresult   *res;
	bool		ok = true;
	bool		first = true;
	bool		fetch_sent = false;
	int64_t		max_id = 0;
	int64_t		nevents = 0;

	fetch_size = sky_config_get_int(w->ld->script.cf, "pgq_lazy_fetch", 300);
	if (fetch_size <= 0)
		fetch_size = 300;
	size_text = psprintf("%d", fetch_size);
	fetch_sql = psprintf("fetch %d from batch_walker", fetch_size);
	params[0] = batch_id;
	params[1] = size_text;
	params[2] = w->event_filter;

	for (;;)
	{
		int			n;
		int			i;
		int			c_id,
					c_time,
					c_txid,
					c_retry,
					c_type,
					c_data,
					c_e1,
					c_e2,
					c_e3,
					c_e4;

		if (first)
			res = sky_db_exec(src,
							  "select * from pgq.get_batch_cursor($1, 'batch_walker', $2, $3)",
							  3, params);
		else
			res = fetch_ahead_result(src, fetch_sql);
		first = false;
		fetch_sent = false;
		if (res == NULL)
		{
			ok = false;
			break;
		}
		/* a full page: there may be more */
		if (PQntuples(res) == fetch_size)
		{
			if (PQsendQueryParams(src, fetch_sql, 0, NULL, NULL, NULL, NULL, 0) != 1)
			{
				sky_log(SKY_LOG_ERROR, "query failed: %s", PQerrorMessage(src));
				PQclear(res);
				ok = false;
				break;
			}
			fetch_sent = true;
		}
		c_id = PQfnumber(res, "ev_id");
		c_time = PQfnumber(res, "ev_time");
		c_txid = PQfnumber(res, "ev_txid");
		c_retry = PQfnumber(res, "ev_retry");
		c_type = PQfnumber(res, "ev_type");
		c_data = PQfnumber(res, "ev_data");
		c_e1 = PQfnumber(res, "ev_extra1");
		c_e2 = PQfnumber(res, "ev_extra2");
		c_e3 = PQfnumber(res, "ev_extra3");
		c_e4 = PQfnumber(res, "ev_extra4");
		n = PQntuples(res);
		for (i = 0; i < n && ok; i++)
		{
			PgqEvent	ev;
			const char *type;

#define COL(c) (PQgetisnull(res, i, (c)) ? NULL : PQgetvalue(res, i, (c)))
			ev.id = strtoll(PQgetvalue(res, i, c_id), NULL, 10);
			ev.txid = strtoll(PQgetvalue(res, i, c_txid), NULL, 10);
			ev.retry = PQgetisnull(res, i, c_retry) ? 0 :
				atoi(PQgetvalue(res, i, c_retry));
			ev.time = COL(c_time);
			ev.type = COL(c_type) ? COL(c_type) : "";
			ev.data = COL(c_data);
			ev.extra1 = COL(c_e1);
			ev.extra2 = COL(c_e2);
			ev.extra3 = COL(c_e3);
			ev.extra4 = COL(c_e4);
#undef COL
			type = ev.type;
			sky_log(SKY_LOG_TRACE,
					"New event: id=%lld / type=%s / data=%s / extra1=%s",
					(long long) ev.id, type, ev.data ? ev.data : "None",
					ev.extra1 ? ev.extra1 : "None");
			/* whatever is not a row talks to the local node in batch order */
			if (!ld_is_row_event(&ev))
				ok = ld_apply_flush(w->apply);
			if (ok && w->role.copy_events)
				ok = copy_event(w, local, &ev);
			if (ok)
			{
				if (strncmp(type, "pgq.", 4) == 0 ||
					strncmp(type, "londiste.", 9) == 0 ||
					w->role.process_events)
					ok = ld_replay_event(w, local, &ev);
			}
			if (!ok)
				sky_log(SKY_LOG_ERROR, "failed event: ev_id=%lld, ev_txid=%lld, type %s",
						(long long) ev.id, (long long) ev.txid, type);
			if (ev.id > max_id)
				max_id = ev.id;
			nevents++;
		}
		PQclear(res);
		if (!ok || !fetch_sent)
			break;
	}
	/* a page asked for in vain (the batch failed) must be read off first */
	if (fetch_sent)
		PQclear(fetch_ahead_result(src, fetch_sql));
	if (ok)
		ok = ld_worker_exec(src, "close batch_walker", 0, NULL);
	if (max_id > w->cur_max_id)
		w->cur_max_id = max_id;
	sky_log(SKY_LOG_DEBUG, "batch %lld: %lld events", (long long) w->batch_id,
			(long long) nevents);
	pg_free(batch_id);
	pg_free(size_text);
	pg_free(fetch_sql);
	return ok;
}

/* the last tick of the node's own queue, NULL on error */
static char *
last_local_tick(PGconn *local, const char *queue)
{
	const char *params[1] = {queue};

	return sky_db_value(local,
						"select t.tick_id from pgq.tick t, pgq.queue q"
						" where t.tick_queue = q.queue_id and q.queue_name = $1"
						" order by t.tick_queue desc, t.tick_id desc limit 1",
						1, params);
}

/* a branch ticks its queue where its provider ticked (autocommit) */
static bool
create_branch_tick(LdWorker *w, PGconn *local)
{
	char		tick[32];
	char		max_id[32];
	const char *params[4] = {w->ld->queue_name, tick, w->batch_end, max_id};

	snprintf(tick, sizeof(tick), "%lld", (long long) w->cur_tick);
	snprintf(max_id, sizeof(max_id), "%lld", (long long) w->cur_max_id);
	return ld_worker_exec(local, "select pgq.ticker($1, $2, $3, $4)", 4, params);
}

/*
 * Was the batch applied already?  *done false: apply it.  A branch
 * whose crash came between the commit and its tick makes the tick now.
 */
static bool
batch_done(LdWorker *w, PGconn *local, bool *done)
{
	char	   *last;
	int64_t		last_tick;

	if (w->completed_tick == 0)
	{
		sky_log(SKY_LOG_ERROR, "dst_tick NULL?");
		return false;
	}
	if (w->prev_tick == w->completed_tick)
	{
		*done = false;
		return true;
	}
	if (w->cur_tick != w->completed_tick)
	{
		sky_log(SKY_LOG_ERROR, "Lost position: batch %lld..%lld, dst has %lld",
				(long long) w->prev_tick, (long long) w->cur_tick,
				(long long) w->completed_tick);
		return false;
	}
	*done = true;
	if (!w->role.create_tick)
		return true;
	last = last_local_tick(local, w->ld->queue_name);
	if (last == NULL)
		return false;
	last_tick = strtoll(last, NULL, 10);
	pg_free(last);
	if (last_tick == w->cur_tick)
		return true;
	if (last_tick != w->prev_tick)
	{
		sky_log(SKY_LOG_ERROR, "is_batch_done: last branch tick = %lld, expected %lld or %lld",
				(long long) last_tick, (long long) w->prev_tick,
				(long long) w->cur_tick);
		return false;
	}
	return create_branch_tick(w, local);
}

/*
 * A branch with node attr sync_watermark=a,b keeps the events its subtree
 * and the listed nodes still need: its global watermark is the lowest
 * local watermark among them, never ahead of the upstream one.
 */
static bool
sync_global_watermark(LdWorker *w, PGconn *local)
{
	const char *params[2] = {w->ld->queue_name, NULL};
	PGresult   *nodes;
	int64_t		wm = w->role.local_watermark;
	char	   *list;
	char	   *item;
	char	   *save;
	char		wm_text[32];
	bool		ok = true;

	if (local == NULL)
		return false;
	nodes = sky_db_exec(local,
						"select node_name, node_location, dead"
						" from pgq_node.get_queue_locations($1)", 1, params);
	if (nodes == NULL)
		return false;
	if (w->real_global_wm < wm)
		wm = w->real_global_wm;
	list = pg_strdup(w->role.wm_sync_nodes);
	for (item = strtok_r(list, ",", &save); item != NULL && ok;
		 item = strtok_r(NULL, ",", &save))
	{
		int			row;
		PGconn	   *conn;
		PGresult   *res;

		if (strcmp(item, w->role.node_name) == 0)
			continue;
		for (row = 0; row < PQntuples(nodes); row++)
			if (strcmp(PQgetvalue(nodes, row, 0), item) == 0)
				break;
		if (row == PQntuples(nodes))
		{
			/* a cluster being set up: wait until every node is there */
			sky_log(SKY_LOG_WARNING, "Unknown node in sync_watermark list: %s", item);
			pg_free(list);
			PQclear(nodes);
			return true;
		}
		if (strcmp(PQgetvalue(nodes, row, 2), "t") == 0)
			continue;
		conn = ld_connect(w->ld, PQgetvalue(nodes, row, 1), true);
		if (conn == NULL)
		{
			ok = false;
			break;
		}
		res = sky_db_exec(conn, "select local_watermark from pgq_node.get_node_info($1)",
						  1, params);
		if (res == NULL)
			ok = false;
		else if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
			sky_log(SKY_LOG_WARNING, "Node not working: %s", item);
		else if (strtoll(PQgetvalue(res, 0, 0), NULL, 10) < wm)
			wm = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		PQfinish(conn);
	}
	pg_free(list);
	PQclear(nodes);
	if (!ok)
		return false;
	snprintf(wm_text, sizeof(wm_text), "%lld", (long long) wm);
	params[1] = wm_text;
	return ld_worker_exec(local, "select pgq_node.set_global_watermark($1, $2)",
						  2, params);
}

/* report the node's position to the provider (its watermark) */
static bool
publish_local_wm(LdWorker *w)
{
	double		now = now_seconds();
	int64_t		wm = w->role.local_watermark;
	char		wm_text[32];
	const char *params[3] = {w->ld->queue_name, w->role.node_name, wm_text};

	if (w->copy_process || now - w->local_wm_time < w->local_wm_period)
		return true;
	if (w->role.sync_watermark)
		wm = w->prev_tick;
	else if (wm > w->cur_tick)
		wm = w->cur_tick;
	snprintf(wm_text, sizeof(wm_text), "%lld", (long long) wm);
	sky_log(SKY_LOG_DEBUG, "Publishing local watermark: %s", wm_text);
	if (!ld_worker_exec(w->provider,
						"select * from pgq_node.set_subscriber_watermark($1, $2, $3)",
						3, params))
		return false;
	/* if what follows fails, it waits for the next period */
	w->local_wm_time = now;
	if (w->role.sync_watermark && w->real_global_wm >= 0)
		return sync_global_watermark(w, ld_worker_local(w));
	return true;
}

static bool
check_code(LdWorker *w, PGconn *local)
{
	char	   *found;

	if (w->code_checked)
		return true;
	found = sky_db_value(local,
						 "select count(*) from pg_catalog.pg_proc p"
						 " join pg_catalog.pg_namespace n on n.oid = p.pronamespace"
						 " where n.nspname = 'pgq' and p.proname = 'maint_operations'"
						 " and p.pronargs = 0", 0, NULL);
	if (found == NULL)
		return false;
	if (strcmp(found, "0") == 0)
	{
		sky_log(SKY_LOG_ERROR, "function pgq.maint_operations() is missing on the local node");
		pg_free(found);
		return false;
	}
	pg_free(found);
	w->code_checked = true;
	return true;
}

/* the provider connection, with the local client_encoding made equal */
/*
 * Every tick of the queue is notified on the channel named like the queue
 * (doc/ticker.md): an idle worker waits for it instead of sleeping
 * loop_delay (ld_worker_wait_tick).
 */
static bool
listen_for_ticks(LdWorker *w)
{
	char	   *channel;
	char	   *sql;
	bool		ok;

	channel = PQescapeIdentifier(w->provider, w->ld->queue_name,
								 strlen(w->ld->queue_name));
	if (channel == NULL)
	{
		sky_log(SKY_LOG_ERROR, "%s", PQerrorMessage(w->provider));
		return false;
	}
	sql = psprintf("listen %s", channel);
	PQfreemem(channel);
	ok = ld_worker_exec(w->provider, sql, 0, NULL);
	pg_free(sql);
	return ok;
}

static bool
connect_provider(LdWorker *w, PGconn *local)
{
	const char *src_enc;
	const char *dst_enc;

	if (w->provider != NULL && PQstatus(w->provider) != CONNECTION_OK)
	{
		PQfinish(w->provider);
		w->provider = NULL;
	}
	if (w->provider == NULL)
	{
		if (w->provider_location == NULL)
		{
			sky_log(SKY_LOG_ERROR, "provider_connstr not set");
			return false;
		}
		w->provider = ld_connect(w->ld, w->provider_location, true);
		if (w->provider == NULL)
			return false;
		if (!listen_for_ticks(w))
			return false;
	}
	src_enc = PQparameterStatus(w->provider, "client_encoding");
	dst_enc = PQparameterStatus(local, "client_encoding");
	if (src_enc != NULL && (dst_enc == NULL || strcmp(src_enc, dst_enc) != 0) &&
		PQsetClientEncoding(local, src_enc) != 0)
	{
		sky_log(SKY_LOG_ERROR, "cannot set client_encoding %s: %s", src_enc,
				PQerrorMessage(local));
		return false;
	}
	return true;
}

/*
 * The next batch.  The batch collection keys are left out while a table
 * is handed over from its copy process (3.3), so that the handover batch
 * is a single tick.
 */
static PGresult *
next_batch(LdWorker *w, bool suspend_collect)
{
	const char *params[5];
	char	   *min_lag;
	char	   *min_count = NULL;
	char	   *min_interval = NULL;
	PGresult   *res;

	min_lag = sky_config_get(w->ld->script.cf, "pgq_keep_lag", "");
	if (!suspend_collect)
	{
		min_count = sky_config_get(w->ld->script.cf, "pgq_batch_collect_events", "0");
		min_interval = sky_config_get(w->ld->script.cf, "pgq_batch_collect_interval", "");
	}
	params[0] = w->ld->queue_name;
	params[1] = w->consumer_name;
	params[2] = min_lag[0] ? min_lag : NULL;
	params[3] = min_count && atoi(min_count) != 0 ? min_count : NULL;
	params[4] = min_interval && min_interval[0] ? min_interval : NULL;
	w->batch_collected = params[3] != NULL || params[4] != NULL;
	res = sky_db_exec(w->provider,
					  "select batch_id, cur_tick_id, prev_tick_id, cur_tick_time"
					  " from pgq.next_batch_custom($1, $2, $3, $4, $5)",
					  5, params);
	pg_free(min_lag);
	pg_free(min_count);
	pg_free(min_interval);
	return res;
}

static void
end_handlers(LdWorker *w)
{
	int			i;

	for (i = 0; i < w->ntables; i++)
		w->tables[i].used = false;
}

/* the handlers' end of batch, in the open transaction */
static bool
finish_handlers(LdWorker *w)
{
	int			i;

	for (i = 0; i < w->ntables; i++)
	{
		LdTable    *t = &w->tables[i];

		if (t->used && t->handler->cls->finish_batch != NULL &&
			!t->handler->cls->finish_batch(t->handler, w->apply))
			return false;
	}
	end_handlers(w);
	return true;
}

/* apply the batch and store its tick, in one local transaction */
static bool
apply_batch(LdWorker *w, PGconn *local)
{
	const char *params[3];
	char		tick[32];

	if (!ld_worker_exec(local, "begin", 0, NULL))
		return false;
	ld_apply_begin(w->apply, local);
	resetPQExpBuffer(&w->copy_buf);
	w->ncopy = 0;
	end_handlers(w);

	/* the provider's transaction only holds the event cursor */
	if (!ld_worker_exec(w->provider, "begin", 0, NULL) ||
		!process_events(w, local) ||
		!ld_worker_exec(w->provider, "commit", 0, NULL) ||
		!ld_apply_flush(w->apply) ||
		!finish_handlers(w) ||
		!ld_apply_flush(w->apply) ||
		!ld_tables_save(w, local))
		return false;
	if (w->role.copy_events && !flush_copied_events(w, local))
		return false;
	snprintf(tick, sizeof(tick), "%lld", (long long) w->cur_tick);
	if (w->role.send_tick_event)
	{
		params[0] = w->role.target_queue;
		params[1] = tick;
		params[2] = w->ld->queue_name;
		if (!ld_worker_exec(local,
							"select pgq.insert_event($1, 'pgq.tick-id', $2, $3, null, null, null)",
							3, params))
			return false;
	}
	params[0] = w->ld->queue_name;
	params[1] = w->consumer_name;
	params[2] = tick;
	if (!ld_exec_cmd(local, "select * from pgq_node.set_consumer_completed($1, $2, $3)",
					 3, params, NULL))
		return false;
	return ld_worker_exec(local, "commit", 0, NULL);
}

/*
 * Wait (leaf of a combined branch) until the branch has moved this node's
 * completed tick past the batch; the branch applies its events.
 */
static bool
wait_behind(LdWorker *w, PGconn *local)
{
	while (w->completed_tick < w->cur_tick)
	{
		if (!publish_local_wm(w))
			return false;
		sky_sleep(10 * w->ld->script.loop_delay);
		if (sky_stop_pending)
			return false;
		if (!refresh_state(w, local))
			return false;
		if (!w->role.wait_behind)
			return true;
	}
	return true;
}

/*
 * One batch, start to end.  *had_batch says whether there was one.  False
 * after a logged error, with both transactions rolled back by the caller.
 */
bool
ld_worker_batch(LdWorker *w, bool *had_batch)
{
	PGconn	   *local = ld_worker_local(w);
	PGresult   *res;
	bool		done;
	bool		decided;
	bool		exit_now = false;
	char		batch_id[32];
	const char *params[1] = {batch_id};

	*had_batch = false;
	if (local == NULL || !refresh_state(w, local))
		return false;
	if (sky_stop_pending)
		return true;
	if (strcmp(w->role.node_type, "root") == 0)
	{
		if (w->copy_process)
		{
			sky_log(SKY_LOG_ERROR, "the copy process does not run on the root");
			return false;
		}
		return root_work(w, local);
	}
	if (!connect_provider(w, local))
		return false;

	/* table states first: a handover may hold the batch settings off */
	if (!ld_tables_load(w, local))
		return false;
	res = next_batch(w, ld_tables_handover_pending(w));
	if (res == NULL)
		return false;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
	{
		PQclear(res);
		w->had_work = false;
		return true;
	}
	w->batch_id = field_int(res, 0, "batch_id");
	w->cur_tick = field_int(res, 0, "cur_tick_id");
	w->prev_tick = field_int(res, 0, "prev_tick_id");
	pg_free(w->batch_end);
	w->batch_end = field_dup(res, 0, "cur_tick_time");
	w->batch_info.batch_id = w->batch_id;
	w->batch_info.tick_id = w->cur_tick;
	w->batch_info.prev_tick_id = w->prev_tick;
	w->batch_info.tick_time = w->batch_end;
	PQclear(res);
	*had_batch = true;
	snprintf(batch_id, sizeof(batch_id), "%lld", (long long) w->batch_id);

	decided = false;
	if (w->role.wait_behind || w->was_wait_behind)
	{
		/* the combined branch applies; this node follows its ticks */
		if (w->role.wait_behind)
		{
			w->was_wait_behind = true;
			if (!wait_behind(w, local))
				return false;
		}
		if (w->cur_tick <= w->completed_tick)
		{
			done = true;
			decided = true;
		}
		else if (!w->role.wait_behind)
			w->was_wait_behind = false;
	}
	if (!decided && !batch_done(w, local, &done))
		return false;

	if (!done)
	{
		if (!check_code(w, local) ||
			!ld_tables_sync(w, local, &exit_now))
			return false;
		if (exit_now)
		{
			/* the copy process is done, or a stop came while waiting */
			sky_stop_pending = 1;
			return true;
		}
		ld_tables_gc_snapshots(w);
		if (!ld_tables_save(w, local))
			return false;
		/* only the main worker, and not on a leaf that only follows */
		if (!w->copy_process && w->role.process_events &&
			!ld_restore_pending_fkeys(local, w->ld->queue_name))
			return false;
		if (!apply_batch(w, local))
			return false;
		if (w->role.create_tick && !create_branch_tick(w, local))
			return false;
	}
	if (!w->role.wait_behind && !publish_local_wm(w))
		return false;
	if (!ld_worker_exec(w->provider, "select pgq.finish_batch($1)", 1, params))
		return false;
	w->had_work = true;
	return true;
}
