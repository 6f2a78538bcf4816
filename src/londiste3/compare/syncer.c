/*-------------------------------------------------------------------------
 *
 * syncer.c
 *	  compare and repair: find a table's copy source and get the source and
 *	  the local node into snapshots that hold the same data of it.
 *
 * With a root source, a third session locks the table IN SHARE MODE (no
 * writer can commit to it), two ticks are forced, and the local worker
 * must get past the first of them: then everything committed to the table
 * has been replayed here.  With a branch source, the branch's own worker
 * is paused (its tables stop changing) and the local worker must reach the
 * last tick the branch holds.  python3-londiste waits for a tick after a
 * forced one there, which a paused branch never makes; doc/londiste3.md
 * says more.
 *
 * src/londiste3/compare/syncer.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <time.h>

#include "framework/log.h"
#include "framework/pqutil.h"
#include "framework/signals.h"
#include "londiste3/handlers/handler.h"
#include "londiste3/compare/syncer.h"

/* one row of londiste.get_table_list() */
typedef struct SyncTable
{
	char	   *table_name;
	char	   *dest_table;		/* dest_table, or table_name */
	char	   *merge_state;	/* "" for NULL */
	char	   *handler;		/* handler string from the attrs, or "" */
} SyncTable;

/* the source node of the table being looked at */
typedef struct SyncSource
{
	char	   *node_name;
	char	   *location;
	char	   *node_type;		/* root, branch */
	char	   *worker_name;	/* its worker, paused for a branch source */
} SyncSource;

/*
 * What must be undone when the program ends halfway: the lock session (its
 * transaction ends with the connection) and a branch worker paused here.
 */
static PGconn *paused_conn;
static const char *paused_queue;
static const char *paused_worker;

static void resume_worker(void);

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* End the program with a failure, resuming a worker paused here first. */
static void
sync_fail(void)
{
	resume_worker();
	exit(LD_EXIT_ERROR);
}

PGresult *
ld_sync_query(PGconn *conn, const char *sql, int nparams,
			  const char *const *params)
{
	PGresult   *res = sky_db_exec(conn, sql, nparams, params);

	if (res == NULL)
		sync_fail();
	return res;
}

/* an admin function's result (ret_code < 400), or the end of the program */
static PGresult *
sync_exec_cmd(PGconn *conn, const char *sql, int nparams,
			  const char *const *params)
{
	PGresult   *res;

	if (!ld_exec_cmd(conn, sql, nparams, params, &res))
		sync_fail();
	return res;
}

static const char *
field(PGresult *res, int row, const char *name)
{
	int			col = PQfnumber(res, name);

	if (col < 0)
	{
		log_error("result has no column %s", name);
		sync_fail();
	}
	return PQgetvalue(res, row, col);
}

static bool
interrupted(void)
{
	if (sky_stop_pending || sky_terminate_pending)
	{
		log_error("interrupted by a signal");
		return true;
	}
	return false;
}

char *
ld_sync_quote_ident(PGconn *conn, const char *ident)
{
	const char *params[1] = {ident};
	PGresult   *res = ld_sync_query(conn, "select pg_catalog.quote_ident($1)",
									1, params);
	char	   *quoted = pg_strdup(PQgetvalue(res, 0, 0));

	PQclear(res);
	return quoted;
}

/* "schema.name" split at the first dot, as skytools does */
static void
split_fqname(const char *fqname, char **schema, char **name)
{
	char	   *fq = ld_make_fqname(fqname);
	char	   *dot = strchr(fq, '.');

	*dot = '\0';
	*schema = pg_strdup(fq);
	*name = pg_strdup(dot + 1);
	pg_free(fq);
}

char *
ld_sync_quote_fqident(PGconn *conn, const char *fqname)
{
	char	   *schema;
	char	   *name;
	char	   *qschema;
	char	   *qname;
	char	   *quoted;

	split_fqname(fqname, &schema, &name);
	qschema = ld_sync_quote_ident(conn, schema);
	qname = ld_sync_quote_ident(conn, name);
	quoted = psprintf("%s.%s", qschema, qname);
	pg_free(schema);
	pg_free(name);
	pg_free(qschema);
	pg_free(qname);
	return quoted;
}

char **
ld_sync_table_columns(PGconn *conn, const char *fqname, bool pkey_only,
					  int *n)
{
	char	   *schema;
	char	   *name;
	const char *params[2];
	PGresult   *res;
	char	  **cols;
	int			i;

	split_fqname(fqname, &schema, &name);
	params[0] = schema;
	params[1] = name;
	res = ld_sync_query(conn,
						"select c.oid from pg_catalog.pg_class c"
						" join pg_catalog.pg_namespace n on n.oid = c.relnamespace"
						" where n.nspname = $1 and c.relname = $2 and c.relkind in ('r', 'p')",
						2, params);
	if (PQntuples(res) == 0)
	{
		PQclear(res);
		pg_free(schema);
		pg_free(name);
		return NULL;
	}
	params[0] = pg_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (pkey_only)
		res = ld_sync_query(conn,
							"select k.attname from pg_catalog.pg_index i"
							" join pg_catalog.pg_attribute k on k.attrelid = i.indexrelid"
							" where i.indrelid = $1::pg_catalog.oid and i.indisprimary"
							" and k.attnum > 0 and not k.attisdropped order by k.attnum",
							1, params);
	else
		res = ld_sync_query(conn,
							"select attname from pg_catalog.pg_attribute"
							" where attrelid = $1::pg_catalog.oid and attnum > 0"
							" and not attisdropped order by attnum",
							1, params);
	*n = PQntuples(res);
	cols = pg_malloc0(sizeof(char *) * (*n + 1));
	for (i = 0; i < *n; i++)
		cols[i] = pg_strdup(PQgetvalue(res, i, 0));
	PQclear(res);
	pg_free((char *) params[0]);
	pg_free(schema);
	pg_free(name);
	return cols;
}

/* the handler string of a table_attrs value; "" for the default */
static char *
attrs_handler(const char *attrs)
{
	PgqDict    *dict;
	const char *value = NULL;
	char	   *handler;

	if (attrs == NULL || attrs[0] == '\0')
		return pg_strdup("");
	dict = pgq_urldecode(attrs);
	if (dict == NULL)
	{
		log_error("invalid table_attrs: %s", attrs);
		sync_fail();
	}
	if (!pgq_dict_get(dict, "handler", &value) || value == NULL)
		pgq_dict_get(dict, "handlers", &value);
	handler = pg_strdup(value ? value : "");
	pgq_dict_free(dict);
	return handler;
}

/* the local tables of a node */
static SyncTable *
load_tables(Londiste *ld, PGconn *conn, int *n)
{
	const char *params[1] = {ld->queue_name};
	PGresult   *res;
	SyncTable  *tables;
	int			i;

	res = ld_sync_query(conn,
						"select table_name, merge_state, dest_table, table_attrs"
						" from londiste.get_table_list($1) where local",
						1, params);
	*n = PQntuples(res);
	tables = pg_malloc0(sizeof(SyncTable) * (*n + 1));
	for (i = 0; i < *n; i++)
	{
		tables[i].table_name = pg_strdup(PQgetvalue(res, i, 0));
		tables[i].merge_state = pg_strdup(PQgetvalue(res, i, 1));
		tables[i].dest_table = pg_strdup(PQgetisnull(res, i, 2) ?
										 PQgetvalue(res, i, 0) :
										 PQgetvalue(res, i, 2));
		tables[i].handler = attrs_handler(PQgetisnull(res, i, 3) ? NULL :
										  PQgetvalue(res, i, 3));
	}
	PQclear(res);
	return tables;
}

static SyncTable *
find_table(SyncTable *tables, int n, const char *name)
{
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(tables[i].table_name, name) == 0)
			return &tables[i];
	return NULL;
}

/* whether the table's handler keeps the rows in a table (copy source) */
static bool
handler_stores_rows(Londiste *ld, const char *table, const char *handler)
{
	LdHandler  *h = ld_handler_new(ld, handler, table, NULL);
	bool		stores;

	if (h == NULL)
		sync_fail();
	stores = ld_handler_needs_table(h);
	ld_handler_free(h);
	return stores;
}

/*
 * The first node upwards from the local node's provider that has the
 * table locally with a handler that stores rows.
 */
static void
find_copy_source(Londiste *ld, const char *table, char **node_name,
				 char **location)
{
	const char *params[1] = {ld->queue_name};

	for (;;)
	{
		PGconn	   *conn = ld_connect(ld, *location, true);
		PGresult   *info;
		PGresult   *res;
		bool		usable = false;
		int			i;

		if (conn == NULL)
			sync_fail();
		res = ld_sync_query(conn, "select * from pgq_node.get_node_info($1)",
							1, params);
		if (atoi(field(res, 0, "ret_code")) >= 400)
		{
			log_error("Node does not exist");
			sync_fail();
		}
		info = res;
		log_info("Checking if %s can be used for copy", field(info, 0, "node_name"));
		res = ld_sync_query(conn,
							"select table_name, local, table_attrs"
							" from londiste.get_table_list($1)",
							1, params);
		for (i = 0; i < PQntuples(res); i++)
		{
			char	   *handler;

			if (strcmp(PQgetvalue(res, i, 0), table) != 0)
				continue;
			if (strcmp(PQgetvalue(res, i, 1), "t") != 0)
			{
				log_debug("Problem: %s is not local", table);
				continue;
			}
			handler = attrs_handler(PQgetisnull(res, i, 2) ? NULL :
									PQgetvalue(res, i, 2));
			usable = handler_stores_rows(ld, table, handler);
			if (!usable)
				log_debug("Problem: %s handler does not store data [%s]",
						  table, PQgetvalue(res, i, 2));
			pg_free(handler);
		}
		PQclear(res);
		PQfinish(conn);

		if (usable)
		{
			log_info("Node %s seems good source, using it",
					 field(info, 0, "node_name"));
			PQclear(info);
			return;
		}
		log_info("Node %s does not have all tables", field(info, 0, "node_name"));
		if (strcmp(field(info, 0, "node_type"), "root") == 0)
		{
			log_error("Found root and no source found");
			sync_fail();
		}
		pg_free(*node_name);
		pg_free(*location);
		*node_name = pg_strdup(field(info, 0, "provider_node"));
		*location = pg_strdup(field(info, 0, "provider_location"));
		PQclear(info);
	}
}

static bool
table_exists(PGconn *conn, const char *fqname)
{
	int			n;
	char	  **cols = ld_sync_table_columns(conn, fqname, true, &n);
	int			i;

	if (cols == NULL)
		return false;
	for (i = 0; i < n; i++)
		pg_free(cols[i]);
	pg_free(cols);
	return true;
}

/* the lock_timeout key, in seconds */
static double
lock_timeout(Londiste *ld)
{
	return sky_config_get_float(ld->script.cf, "lock_timeout", 10);
}

/* the local worker's last completed tick */
static int64
local_last_tick(Londiste *ld, PGconn *dst)
{
	const char *params[1] = {ld->queue_name};
	PGresult   *res = sync_exec_cmd(dst,
									"select * from pgq_node.get_node_info($1)",
									1, params);
	const char *tick = field(res, 0, "worker_last_tick");
	int64		value = tick[0] ? strtoll(tick, NULL, 10) : -1;

	PQclear(res);
	return value;
}

/*
 * A forced tick comes with the ticker's next round, which does not depend
 * on lock_timeout; a queue that gets none in this long has no ticker.
 */
#define TICK_WAIT_MIN 60.0

/*
 * pgq.force_tick(), then wait until the queue's position moves: that is
 * the new tick, returned.  Without --force, a ticker that makes no tick
 * within lock_timeout (at least TICK_WAIT_MIN) ends the program.
 */
static int64
force_tick(Londiste *ld, PGconn *setup)
{
	const char *params[1] = {ld->queue_name};
	PGresult   *res;
	int64		start;
	int64		pos;
	double		deadline = now_seconds() + Max(lock_timeout(ld), TICK_WAIT_MIN);

	res = ld_sync_query(setup, "select pgq.force_tick($1)", 1, params);
	start = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	for (;;)
	{
		sky_sleep(0.5);
		if (interrupted())
			sync_fail();
		res = ld_sync_query(setup, "select pgq.force_tick($1)", 1, params);
		pos = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		if (pos != start)
			return pos;
		if (now_seconds() > deadline && !ld->opt.force)
		{
			log_error("Queue %s gets no ticks on the provider, exiting",
					  ld->queue_name);
			sync_fail();
		}
	}
}

/* Wait until the local worker's last tick is past (or at) tick. */
static void
wait_local_tick(Londiste *ld, PGconn *dst, int64 tick, bool inclusive,
				double deadline)
{
	for (;;)
	{
		int64		last;

		sky_sleep(0.5);
		if (interrupted())
			sync_fail();
		last = local_last_tick(ld, dst);
		if (last > tick || (inclusive && last == tick))
			return;
		if (now_seconds() > deadline && !ld->opt.force)
		{
			log_error("Consumer lagging too much, exiting");
			sync_fail();
		}
	}
}

/*
 * Root source: lock the table in SHARE MODE in the lock session (no writes
 * can commit), make two ticks and wait until the local worker is past the
 * first: it has then replayed every change of the table.
 */
static void
lock_table_root(Londiste *ld, PGconn *lock, PGconn *setup, PGconn *dst,
				const char *src_table, const char *dst_table)
{
	double		timeout = lock_timeout(ld);
	double		deadline;
	int			ms = (int) (1000 * timeout);
	char	   *quoted = ld_sync_quote_fqident(lock, src_table);
	char	   *sql;
	int64		tick;

	log_info("Locking %s", src_table);
	PQclear(ld_sync_query(lock, "begin", 0, NULL));
	if (ms > 0)
	{
		sql = psprintf("set local statement_timeout = %d", ms);
		log_debug("%s", sql);
		PQclear(ld_sync_query(lock, sql, 0, NULL));
		pg_free(sql);
	}
	deadline = now_seconds() + timeout;
	sql = psprintf("lock table %s in share mode", quoted);
	PQclear(ld_sync_query(lock, sql, 0, NULL));
	pg_free(sql);
	pg_free(quoted);

	log_info("Syncing %s", dst_table);
	tick = force_tick(ld, setup);
	force_tick(ld, setup);
	wait_local_tick(ld, dst, tick, false, deadline);
}

/*
 * Pause a worker and wait until it has seen the flag (it then sits between
 * batches); returns whether it was paused already.
 */
static bool
pause_worker(Londiste *ld, PGconn *conn, const char *worker, double deadline)
{
	const char *params[3] = {ld->queue_name, worker, "true"};
	PGresult   *res;
	bool		old;

	res = sync_exec_cmd(conn, "select * from pgq_node.get_consumer_state($1, $2)",
						2, params);
	old = strcmp(field(res, 0, "paused"), "t") == 0;
	PQclear(res);
	PQclear(sync_exec_cmd(conn, "select * from pgq_node.set_consumer_paused($1, $2, $3)",
						  3, params));
	if (!old)
	{
		paused_conn = conn;
		paused_queue = ld->queue_name;
		paused_worker = worker;
	}
	for (;;)
	{
		bool		uptodate;

		res = sync_exec_cmd(conn, "select * from pgq_node.get_consumer_state($1, $2)",
							2, params);
		uptodate = strcmp(field(res, 0, "uptodate"), "t") == 0;
		PQclear(res);
		if (uptodate)
			return old;
		sky_sleep(0.5);
		if (interrupted())
			sync_fail();
		if (now_seconds() > deadline && !ld->opt.force)
		{
			log_error("Worker %s does not answer the pause request, exiting",
					  worker);
			sync_fail();
		}
	}
}

/* Resume the branch worker paused here, if any (also on the way out). */
static void
resume_worker(void)
{
	const char *params[3];
	PGresult   *res;
	char	   *errmsg;

	if (paused_conn == NULL)
		return;
	params[0] = paused_queue;
	params[1] = paused_worker;
	params[2] = "false";
	log_info("Resuming upstream worker: %s", paused_worker);
	if (!pgq_exec_cmd(paused_conn,
					  "select * from pgq_node.set_consumer_paused($1, $2, $3)",
					  3, params, &res, &errmsg))
	{
		log_error("could not resume worker %s: %s", paused_worker, errmsg);
		pg_free(errmsg);
	}
	PQclear(res);
	paused_conn = NULL;
}

/*
 * Branch source: pause the branch's worker (its tables stop changing) and
 * wait until the local worker has reached the branch queue's last tick.
 */
static void
lock_table_branch(Londiste *ld, SyncSource *source, PGconn *setup,
				  PGconn *dst, const char *dst_table)
{
	const char *params[1] = {ld->queue_name};
	double		deadline = now_seconds() + lock_timeout(ld);
	bool		was_paused;
	PGresult   *res;
	int64		tick;

	log_info("Pausing upstream worker: %s", source->worker_name);
	/* a worker paused before stays paused (resume_worker skips it) */
	was_paused = pause_worker(ld, setup, source->worker_name, deadline);

	log_info("Syncing %s", dst_table);
	res = ld_sync_query(setup,
						"select last_tick_id from pgq.get_queue_info($1)",
						1, params);
	tick = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	wait_local_tick(ld, dst, tick, true, deadline);
	if (was_paused)
		log_info("Worker %s was paused already, it stays paused",
				 source->worker_name);
}

static void
begin_snapshot(PGconn *conn)
{
	PQclear(ld_sync_query(conn, "begin isolation level repeatable read", 0, NULL));
	PQclear(ld_sync_query(conn, "select 1", 0, NULL));
}

/* Bring one table to the same state on both sides and run func on it. */
static int
process_table(Londiste *ld, SyncTable *local_table, SyncSource *source,
			  LdSyncFunc func)
{
	const char *params[1] = {ld->queue_name};
	PGconn	   *dst = ld_local(ld);
	PGconn	   *lock;
	PGconn	   *setup;
	PGconn	   *src;
	PGresult   *res;
	SyncTable  *src_tables;
	SyncTable  *src_table;
	int			n;
	int			bad = 0;
	LdHandler  *handler;
	char	   *condition;
	LdSyncPair	pair;

	lock = ld_connect(ld, source->location, true);
	setup = ld_connect(ld, source->location, true);
	src = ld_connect(ld, source->location, true);
	if (lock == NULL || setup == NULL || src == NULL)
		sync_fail();

	res = sync_exec_cmd(setup, "select ret_code, ret_note, node_name, node_type, worker_name"
						" from pgq_node.get_node_info($1)", 1, params);
	source->node_type = pg_strdup(field(res, 0, "node_type"));
	source->worker_name = pg_strdup(field(res, 0, "worker_name"));
	log_info("Provider: %s (%s)", field(res, 0, "node_name"), source->node_type);
	PQclear(res);

	src_tables = load_tables(ld, src, &n);
	src_table = find_table(src_tables, n, local_table->table_name);
	if (src_table == NULL)
		log_warning("Table not available on provider: %s", local_table->table_name);
	else if (strcmp(src_table->merge_state, "ok") != 0)
		log_warning("Table %s not ready yet on provider", local_table->table_name);
	else if (!table_exists(src, src_table->dest_table))
		log_warning("Table %s does not exist on provider side", src_table->dest_table);
	else if (!table_exists(dst, local_table->dest_table))
		log_warning("Table %s does not exist on subscriber side", local_table->dest_table);
	else
	{
		handler = ld_handler_new(ld, local_table->handler,
								 local_table->table_name,
								 local_table->dest_table);
		if (handler == NULL)
			sync_fail();
		condition = handler->cls->copy_condition ?
			handler->cls->copy_condition(handler) : NULL;

		if (strcmp(source->node_type, "root") == 0)
		{
			lock_table_root(ld, lock, setup, dst, src_table->dest_table,
							local_table->dest_table);
			begin_snapshot(src);
			begin_snapshot(dst);
			PQclear(ld_sync_query(lock, "commit", 0, NULL));
		}
		else
		{
			lock_table_branch(ld, source, setup, dst, local_table->dest_table);
			begin_snapshot(src);
			begin_snapshot(dst);
			resume_worker();
		}

		pair.ld = ld;
		pair.src = src;
		pair.dst = dst;
		pair.src_table = src_table->dest_table;
		pair.dst_table = local_table->dest_table;
		pair.condition = condition ? condition : "";
		bad = func(&pair);

		PQclear(ld_sync_query(src, "commit", 0, NULL));
		PQclear(ld_sync_query(dst, "commit", 0, NULL));
		pg_free(condition);
		ld_handler_free(handler);
	}
	PQfinish(lock);
	PQfinish(setup);
	PQfinish(src);
	return bad;
}

int
ld_sync_tables(Londiste *ld, LdSyncFunc func)
{
	const char *params[1] = {ld->queue_name};
	PGconn	   *dst = ld_local(ld);
	PGresult   *res;
	SyncTable  *tables;
	int			ntables;
	char	   *provider_node;
	char	   *provider_location;
	int			bad = 0;
	int			i;
	int			count;

	res = sync_exec_cmd(dst, "select * from pgq_node.get_node_info($1)", 1, params);
	provider_node = pg_strdup(field(res, 0, "provider_node"));
	provider_location = pg_strdup(field(res, 0, "provider_location"));
	PQclear(res);

	tables = load_tables(ld, dst, &ntables);
	count = ld->nargs > 0 ? ld->nargs : ntables;
	for (i = 0; i < count; i++)
	{
		char	   *name = ld->nargs > 0 ? ld_make_fqname(ld->args[i]) :
			pg_strdup(tables[i].table_name);
		SyncTable  *t = find_table(tables, ntables, name);
		SyncSource	source = {0};

		if (t == NULL)
			log_warning("Table not subscribed: %s", name);
		else if (strcmp(t->merge_state, "ok") != 0)
			log_warning("Table %s not synced yet, no point", name);
		else
		{
			source.node_name = pg_strdup(provider_node);
			source.location = pg_strdup(provider_location);
			find_copy_source(ld, name, &source.node_name, &source.location);
			log_info("%s: Using node %s as provider", name, source.node_name);
			bad += process_table(ld, t, &source, func);
			pg_free(source.node_name);
			pg_free(source.location);
			pg_free(source.node_type);
			pg_free(source.worker_name);
		}
		pg_free(name);
	}
	return bad;
}
