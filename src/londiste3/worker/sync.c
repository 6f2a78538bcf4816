/*-------------------------------------------------------------------------
 *
 * sync.c
 *	  The worker's view of the queue's local tables: their states
 *	  (londiste.md 1.6), which events each wants (3.2: state and copy
 *	  snapshot, 3.5) and storing what changed.
 *
 * The state is read from londiste.get_table_list() at the start of every
 * batch and written with londiste.local_set_table_state() inside the
 * batch's transaction, so a crash loses state changes together with the
 * events they belong to.
 *
 * src/londiste3/worker/sync.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "framework/pqutil.h"
#include "framework/signals.h"
#include "londiste3/worker/worker.h"

/* copy processes allowed at once per table group (attr max_parallel_copy) */
#define DEFAULT_MAX_PARALLEL_COPY 8

/*
 * Change the table's copy snapshot (NULL: none).  A change resets the
 * count of batches seen with it and marks the table for storing.
 */
void
ld_table_set_snapshot(LdTable *t, const char *text)
{
	if ((t->snapshot_text == NULL && text == NULL) ||
		(t->snapshot_text != NULL && text != NULL &&
		 strcmp(t->snapshot_text, text) == 0))
		return;
	pg_free(t->snapshot_text);
	ld_snapshot_free(t->snapshot);
	t->snapshot_text = text ? pg_strdup(text) : NULL;
	t->snapshot = NULL;
	if (text != NULL)
	{
		t->snapshot = ld_snapshot_parse(text);
		if (t->snapshot == NULL)
			sky_log(SKY_LOG_WARNING, "%s: malformed copy snapshot \"%s\", ignored",
					t->name, text);
	}
	t->ok_batch_count = 0;
	t->last_tick = 0;
	t->changed = true;
}

static bool
parse_state(const char *text, LdTable *t)
{
	const char *colon;

	t->sync_tick = 0;
	if (text == NULL)
		t->state = LD_TABLE_MISSING;
	else if (strcmp(text, "in-copy") == 0)
		t->state = LD_TABLE_IN_COPY;
	else if (strcmp(text, "catching-up") == 0)
		t->state = LD_TABLE_CATCHING_UP;
	else if (strcmp(text, "ok") == 0)
		t->state = LD_TABLE_OK;
	else if (strcmp(text, "?") == 0)
	{
		/* legacy spelling of ok, rewritten */
		t->state = LD_TABLE_OK;
		t->changed = true;
	}
	else if ((colon = strchr(text, ':')) != NULL &&
			 colon[1] >= '0' && colon[1] <= '9' &&
			 strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
			 (strncmp(text, "wanna-sync:", 11) == 0 ||
			  strncmp(text, "do-sync:", 8) == 0))
	{
		t->state = text[0] == 'w' ? LD_TABLE_WANNA_SYNC : LD_TABLE_DO_SYNC;
		t->sync_tick = strtoll(colon + 1, NULL, 10);
	}
	else
	{
		sky_log(SKY_LOG_ERROR, "Bad table state: %s", text);
		return false;
	}
	return true;
}

/* the merge_state text of the table's state, NULL for a missing table */
const char *
ld_table_state_text(const LdTable *t, char *buf, size_t len)
{
	switch (t->state)
	{
		case LD_TABLE_MISSING:
			return NULL;
		case LD_TABLE_IN_COPY:
			return "in-copy";
		case LD_TABLE_CATCHING_UP:
			return "catching-up";
		case LD_TABLE_WANNA_SYNC:
			snprintf(buf, len, "wanna-sync:%lld", (long long) t->sync_tick);
			return buf;
		case LD_TABLE_DO_SYNC:
			snprintf(buf, len, "do-sync:%lld", (long long) t->sync_tick);
			return buf;
		case LD_TABLE_OK:
			return "ok";
	}
	return NULL;
}

static void
table_clear(LdTable *t)
{
	pg_free(t->name);
	pg_free(t->dest_table);
	pg_free(t->snapshot_text);
	ld_snapshot_free(t->snapshot);
	if (t->attrs)
		pgq_dict_free(t->attrs);
	pg_free(t->copy_role);
	pg_free(t->dropped_ddl);
	if (t->handler)
		ld_handler_free(t->handler);
	memset(t, 0, sizeof(*t));
}

void
ld_tables_free(LdWorker *w)
{
	int			i;

	for (i = 0; i < w->ntables; i++)
		table_clear(&w->tables[i]);
	pg_free(w->tables);
	w->tables = NULL;
	w->ntables = 0;
}

static const char *
field(const PGresult *res, int row, const char *name)
{
	int			col = PQfnumber(res, name);

	if (col < 0 || PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

/*
 * Read the local tables of the queue, keeping the snapshot bookkeeping of
 * tables known from the previous batch.  Also rebuilds the local_only
 * event filter.  False (logged) on a database error, a bad state or a
 * handler that cannot be built.
 */
bool
ld_tables_load(LdWorker *w, PGconn *local)
{
	const char *params[1] = {w->ld->queue_name};
	PGresult   *res;
	LdTable    *tables;
	int			n = 0;
	int			i;
	bool		ok = true;

	res = sky_db_exec(local, "select * from londiste.get_table_list($1)", 1, params);
	if (res == NULL)
		return false;
	tables = pg_malloc0(sizeof(LdTable) * (PQntuples(res) + 1));
	for (i = 0; i < PQntuples(res) && ok; i++)
	{
		const char *local_flag = field(res, i, "local");
		const char *attrs = field(res, i, "table_attrs");
		const char *dest = field(res, i, "dest_table");
		const char *pos = field(res, i, "copy_pos");
		const char *spec;
		const char *mpc;
		LdTable    *t;
		LdTable    *old;

		if (local_flag == NULL || strcmp(local_flag, "t") != 0)
			continue;
		t = &tables[n++];
		t->name = pg_strdup(field(res, i, "table_name"));
		old = ld_table_find(w, t->name);
		if (old != NULL)
		{
			/* keep the filter's bookkeeping; the snapshot is read anew */
			t->ok_batch_count = old->ok_batch_count;
			t->last_tick = old->last_tick;
			t->last_snapshot_tick = old->last_snapshot_tick;
			t->snapshot_text = old->snapshot_text;
			t->snapshot = old->snapshot;
			old->snapshot_text = NULL;
			old->snapshot = NULL;
		}
		if (t->snapshot_text != NULL && field(res, i, "custom_snapshot") != NULL &&
			strcmp(t->snapshot_text, field(res, i, "custom_snapshot")) == 0)
			;					/* same snapshot: counts stay */
		else
		{
			pg_free(t->snapshot_text);
			ld_snapshot_free(t->snapshot);
			t->snapshot_text = NULL;
			t->snapshot = NULL;
			ld_table_set_snapshot(t, field(res, i, "custom_snapshot"));
		}
		t->changed = false;
		t->dest_table = pg_strdup(dest ? dest : t->name);
		t->attrs = attrs ? pgq_urldecode(attrs) : pgq_dict_new();
		if (t->attrs == NULL)
		{
			sky_log(SKY_LOG_ERROR, "%s: malformed table_attrs: %s", t->name, attrs);
			t->attrs = pgq_dict_new();
			ok = false;
			break;
		}
		if (!parse_state(field(res, i, "merge_state"), t))
		{
			ok = false;
			break;
		}
		t->copy_role = field(res, i, "copy_role") ?
			pg_strdup(field(res, i, "copy_role")) : NULL;
		t->copy_pos = pos ? atoi(pos) : 0;
		t->max_parallel_copy = DEFAULT_MAX_PARALLEL_COPY;
		if (pgq_dict_get(t->attrs, "max_parallel_copy", &mpc) && mpc && mpc[0])
			t->max_parallel_copy = atoi(mpc);
		t->dropped_ddl = field(res, i, "dropped_ddl") ?
			pg_strdup(field(res, i, "dropped_ddl")) : NULL;
		if (!pgq_dict_get(t->attrs, "handler", &spec) &&
			!pgq_dict_get(t->attrs, "handlers", &spec))
			spec = NULL;
		t->handler = ld_handler_new(w->ld, spec, t->name, t->dest_table);
		if (t->handler == NULL)
			ok = false;
	}
	PQclear(res);
	ld_tables_free(w);
	w->tables = tables;
	w->ntables = n;
	if (!ok)
		return false;

	pg_free(w->event_filter);
	w->event_filter = NULL;
	if (w->local_only)
	{
		PQExpBufferData buf;
		bool		any = false;

		initPQExpBuffer(&buf);
		appendPQExpBufferStr(&buf, "(ev_type like 'pgq.%' or ev_type like 'londiste.%'");
		if (!w->local_only_drop_execute)
			appendPQExpBufferStr(&buf, " or ev_type = 'EXECUTE'");
		for (i = 0; i < w->ntables; i++)
		{
			char	   *lit;

			if (w->copy_process && strcmp(w->tables[i].name, w->copy_table) != 0)
				continue;
			lit = PQescapeLiteral(local, w->tables[i].name,
								  strlen(w->tables[i].name));
			appendPQExpBuffer(&buf, "%s%s", any ? "," : " or ev_extra1 in (", lit);
			PQfreemem(lit);
			any = true;
		}
		appendPQExpBufferStr(&buf, any ? "))" : ")");
		w->event_filter = buf.data;
	}
	return true;
}

/* The table an event names: no dot means public. */
LdTable *
ld_table_find(LdWorker *w, const char *name)
{
	int			i;
	char	   *fq;

	if (name == NULL)
		return NULL;
	fq = strchr(name, '.') ? NULL : psprintf("public.%s", name);
	for (i = 0; i < w->ntables; i++)
		if (strcmp(w->tables[i].name, fq ? fq : name) == 0)
		{
			pg_free(fq);
			return &w->tables[i];
		}
	pg_free(fq);
	return NULL;
}

/*
 * Does the table want this data event?  The main worker applies tables
 * that are ok, a copy process only its table while catching up; either
 * skips events the table's copy already contains.  After more than three
 * batches with wanted events the snapshot cannot matter any more and is
 * dropped.
 */
bool
ld_table_interesting(LdWorker *w, LdTable *t, const PgqEvent *ev)
{
	if (w->copy_process)
	{
		if (strcmp(t->name, w->copy_table) != 0)
			return false;
		if (t->state != LD_TABLE_CATCHING_UP && t->state != LD_TABLE_DO_SYNC)
			return false;
	}
	else if (t->state != LD_TABLE_OK)
		return false;

	if (t->snapshot == NULL)
		return true;
	if (ld_snapshot_contains(t->snapshot, ev->txid))
		return false;
	if (w->cur_tick != t->last_tick)
	{
		t->last_tick = w->cur_tick;
		if (++t->ok_batch_count > 3)
			ld_table_set_snapshot(t, NULL);
	}
	return true;
}

/*
 * Drop copy snapshots no longer needed: once a loop found no batch the
 * worker is at the queue's head; the first batch starting past the tick
 * seen then cannot hold events of the copy's time.
 */
void
ld_tables_gc_snapshots(LdWorker *w)
{
	int			i;

	for (i = 0; i < w->ntables; i++)
	{
		LdTable    *t = &w->tables[i];

		if (t->snapshot_text == NULL)
			continue;
		if (w->copy_process ? t->state != LD_TABLE_CATCHING_UP :
			t->state != LD_TABLE_OK)
			continue;
		if (t->last_snapshot_tick == 0)
		{
			if (!w->had_work)
				t->last_snapshot_tick = w->cur_tick;
			continue;
		}
		if (t->last_snapshot_tick < w->prev_tick)
			ld_table_set_snapshot(t, NULL);
	}
}

/* store the states and snapshots that changed, in the open transaction */
bool
ld_tables_save(LdWorker *w, PGconn *local)
{
	int			i;

	for (i = 0; i < w->ntables; i++)
	{
		LdTable    *t = &w->tables[i];
		char		buf[64];
		const char *params[4];

		if (!t->changed)
			continue;
		params[0] = w->ld->queue_name;
		params[1] = t->name;
		params[2] = t->snapshot_text;
		params[3] = ld_table_state_text(t, buf, sizeof(buf));
		sky_log(SKY_LOG_INFO, "storing state of %s: copy:%d new_state:%s",
				t->name, w->copy_process ? 1 : 0, params[3] ? params[3] : "None");
		if (!ld_worker_exec(local,
							"select londiste.local_set_table_state($1, $2, $3, $4)",
							4, params))
			return false;
		t->changed = false;
	}
	return true;
}

/* does a table hand over between the copy process and the main worker? */
bool
ld_tables_handover_pending(LdWorker *w)
{
	int			i;

	for (i = 0; i < w->ntables; i++)
	{
		LdTable    *t = &w->tables[i];

		if (w->copy_process)
		{
			if (strcmp(t->name, w->copy_table) == 0 && t->state == LD_TABLE_DO_SYNC)
				return true;
		}
		else if (t->state == LD_TABLE_WANNA_SYNC || t->state == LD_TABLE_DO_SYNC)
			return true;
	}
	return false;
}

/* change a table's state and commit it at once (local is in autocommit) */
static bool
change_state(LdWorker *w, PGconn *local, LdTable *t, LdTableState state,
			 int64_t tick)
{
	char		buf[64];
	const char *text;

	t->state = state;
	t->sync_tick = tick;
	t->changed = true;
	if (!ld_tables_save(w, local))
		return false;
	text = ld_table_state_text(t, buf, sizeof(buf));
	sky_log(SKY_LOG_INFO, "Table %s status changed to '%s'", t->name,
			text ? text : "None");
	return true;
}

/*
 * The main worker's part of the copy coordination (3.3).  *loop: wait a
 * little and look again, holding the batch.
 */
static bool
sync_main(LdWorker *w, PGconn *local, bool *loop)
{
	int			i;

	*loop = false;
	for (i = 0; i < w->ntables; i++)
	{
		LdTable    *t = &w->tables[i];

		/* the copy process applies the table up to the handover tick */
		if (t->state == LD_TABLE_DO_SYNC)
			*loop = true;
		if (t->state == LD_TABLE_WANNA_SYNC && w->cur_tick >= t->sync_tick &&
			!w->batch_collected)
		{
			if (!change_state(w, local, t, LD_TABLE_DO_SYNC, w->cur_tick))
				return false;
			*loop = true;
		}
	}
	return ld_sync_launch_copies(w, local, loop);
}

/*
 * Table copy coordination before the batch's events: the main worker
 * hands tables to copy processes and takes them back; the copy process
 * copies its table, catches up and asks for the handover.  Loops (every
 * 3 s, re-reading the states) while one side waits for the other.
 * *exit_now: the copy process is done, or a stop was asked for.
 */
bool
ld_tables_sync(LdWorker *w, PGconn *local, bool *exit_now)
{
	*exit_now = false;
	for (;;)
	{
		bool		loop;

		if (w->copy_process)
		{
			if (!ld_sync_copy_process(w, local, &loop, exit_now))
				return false;
			if (*exit_now)
				return true;
		}
		else if (!sync_main(w, local, &loop))
			return false;
		if (!loop)
			return true;
		sky_log(SKY_LOG_DEBUG, "Sync tables: sleeping");
		sky_sleep(3);
		if (sky_stop_pending)
		{
			*exit_now = true;
			return true;
		}
		if (!ld_tables_load(w, local))
			return false;
	}
}
