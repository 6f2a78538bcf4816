/*-------------------------------------------------------------------------
 *
 * cascade.c
 *	  londiste3: the cascade as the node commands see it (cascade.h).
 *
 * Every function that talks to a node logs what went wrong and returns
 * false or NULL; the commands stop at the first failure with exit status
 * 1, as python3-londiste does.
 *
 * src/londiste3/node/cascade.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "framework/pqutil.h"
#include "framework/signals.h"
#include "londiste3/node/cascade.h"
#include "pqexpbuffer.h"

static char *
value_or_null(PGresult *res, int row, const char *column)
{
	int			col = PQfnumber(res, column);

	if (col < 0 || PQgetisnull(res, row, col))
		return NULL;
	return pg_strdup(PQgetvalue(res, row, col));
}

static bool
bool_value(PGresult *res, int row, const char *column)
{
	int			col = PQfnumber(res, column);

	return col >= 0 && !PQgetisnull(res, row, col) &&
		PQgetvalue(res, row, col)[0] == 't';
}

/* Exact microseconds from an "extract(epoch ...)" text (numeric). */
int64
ld_epoch_usec(const char *text)
{
	bool		negative = text[0] == '-';
	const char *p = negative ? text + 1 : text;
	int64		usec = 0;
	int			digits = 0;

	for (; *p >= '0' && *p <= '9'; p++)
		usec = usec * 10 + (*p - '0');
	usec *= 1000000;
	if (*p == '.')
	{
		int64		scale = 100000;

		for (p++; *p >= '0' && *p <= '9' && digits < 6; p++, digits++)
		{
			usec += (*p - '0') * scale;
			scale /= 10;
		}
	}
	return negative ? -usec : usec;
}

/* "service=NAME" in a connect string, shown in status titles */
static char *
location_service(const char *location)
{
	const char *p;

	for (p = location; p != NULL && (p = strstr(p, "service=")) != NULL; p++)
	{
		size_t		len = strcspn(p + 8, " \t\n\r\f\v");

		if (len > 0)
			return pnstrdup(p + 8, len);
	}
	return NULL;
}

LdNode *
ld_node_dead(const char *name, const char *location)
{
	LdNode	   *node = pg_malloc0(sizeof(LdNode));

	node->name = pg_strdup(name);
	node->type = pg_strdup("dead");
	node->service = location_service(location);
	return node;
}

/* A node from the first row of pgq_node.get_node_info(). */
LdNode *
ld_node_from_row(PGresult *res, const char *location)
{
	LdNode	   *node = pg_malloc0(sizeof(LdNode));

	node->known = true;
	node->name = value_or_null(res, 0, "node_name");
	node->type = value_or_null(res, 0, "node_type");
	node->provider_node = value_or_null(res, 0, "provider_node");
	node->provider_location = value_or_null(res, 0, "provider_location");
	node->worker_name = value_or_null(res, 0, "worker_name");
	node->paused = bool_value(res, 0, "worker_paused");
	node->uptodate = bool_value(res, 0, "worker_uptodate");
	node->last_tick = value_or_null(res, 0, "worker_last_tick");
	node->combined_queue = value_or_null(res, 0, "combined_queue");
	node->combined_type = value_or_null(res, 0, "combined_type");
	node->node_attrs = value_or_null(res, 0, "node_attrs");
	node->target_for = value_or_null(res, 0, "target_for");
	node->service = location_service(location);
	return node;
}

LdMember *
ld_cascade_member(LdCascade *c, const char *name)
{
	int			i;

	for (i = 0; i < c->nmembers; i++)
		if (strcmp(c->members[i].name, name) == 0)
			return &c->members[i];
	return NULL;
}

bool
ld_cascade_alive(LdCascade *c, const char *name)
{
	LdMember   *m = name ? ld_cascade_member(c, name) : NULL;

	return m != NULL && !m->dead;
}

/* Treat a node as dead from now on (in this run only). */
void
ld_cascade_tag_dead(LdCascade *c, const char *name)
{
	LdMember   *m = ld_cascade_member(c, name);

	if (m == NULL)
	{
		c->members = pg_realloc(c->members,
								sizeof(LdMember) * (c->nmembers + 1));
		m = &c->members[c->nmembers++];
		m->name = pg_strdup(name);
		m->location = NULL;
	}
	m->dead = true;
}

/*
 * The cascade as the node behind conn sees it: its own state and its
 * member list, with the --dead nodes tagged dead.
 */
LdCascade *
ld_cascade_load_from(Londiste *ld, PGconn *conn)
{
	const char *params[1] = {ld->queue_name};
	PGresult   *info;
	PGresult   *locs;
	LdCascade  *c;
	LdMember   *self;
	int			i;

	info = sky_db_exec(conn, "select * from pgq_node.get_node_info($1)",
					   1, params);
	if (info == NULL)
		return NULL;
	if (PQntuples(info) != 1 || PQgetisnull(info, 0, PQfnumber(info, "node_type")))
	{
		sky_log(SKY_LOG_ERROR, "the node is not initialized for queue %s%s%s",
				ld->queue_name, PQntuples(info) == 1 ? ": " : "",
				PQntuples(info) == 1 ? PQgetvalue(info, 0, PQfnumber(info, "ret_note")) : "");
		PQclear(info);
		return NULL;
	}
	locs = sky_db_exec(conn, "select * from pgq_node.get_queue_locations($1)",
					   1, params);
	if (locs == NULL)
	{
		PQclear(info);
		return NULL;
	}
	c = pg_malloc0(sizeof(LdCascade));
	c->ld = ld;
	c->nmembers = PQntuples(locs);
	c->members = pg_malloc0(sizeof(LdMember) * (c->nmembers + 1));
	for (i = 0; i < c->nmembers; i++)
	{
		c->members[i].name = value_or_null(locs, i, "node_name");
		c->members[i].location = value_or_null(locs, i, "node_location");
		c->members[i].dead = bool_value(locs, i, "dead");
	}
	PQclear(locs);
	c->local = ld_node_from_row(info, NULL);
	self = ld_cascade_member(c, c->local->name);
	if (self != NULL)
		c->local->service = location_service(self->location);
	PQclear(info);

	for (i = 0; i < ld->opt.dead.n; i++)
	{
		sky_log(SKY_LOG_INFO, "Assuming node '%s' as dead", ld->opt.dead.items[i]);
		ld_cascade_tag_dead(c, ld->opt.dead.items[i]);
	}
	return c;
}

LdCascade *
ld_cascade_load(Londiste *ld)
{
	return ld_cascade_load_from(ld, ld_local(ld));
}

/*
 * A connection to a node: the local one, or a cached one to the member's
 * location (remote_extra_connstr appended).  NULL for a dead node, an
 * unknown one or a failed connection (the last two logged).
 */
PGconn *
ld_cascade_conn(LdCascade *c, const char *node)
{
	LdMember   *m;
	PGconn	   *conn;
	int			i;

	if (strcmp(node, c->local->name) == 0)
		return ld_local(c->ld);
	m = ld_cascade_member(c, node);
	if (m == NULL || m->location == NULL)
	{
		sky_log(SKY_LOG_ERROR, "node %s is not a member of the cascade", node);
		return NULL;
	}
	if (m->dead)
		return NULL;
	for (i = 0; i < c->nconns; i++)
		if (strcmp(c->conn_names[i], node) == 0)
		{
			if (PQstatus(c->conns[i]) == CONNECTION_OK)
				return c->conns[i];
			PQfinish(c->conns[i]);
			c->conns[i] = ld_connect(c->ld, m->location, true);
			return c->conns[i];
		}
	conn = ld_connect(c->ld, m->location, true);
	if (conn == NULL)
		return NULL;
	c->conn_names = pg_realloc(c->conn_names, sizeof(char *) * (c->nconns + 1));
	c->conns = pg_realloc(c->conns, sizeof(PGconn *) * (c->nconns + 1));
	c->conn_names[c->nconns] = pg_strdup(node);
	c->conns[c->nconns++] = conn;
	return conn;
}

void
ld_cascade_close(LdCascade *c, const char *node)
{
	int			i;

	for (i = 0; i < c->nconns; i++)
		if (strcmp(c->conn_names[i], node) == 0 && c->conns[i] != NULL)
		{
			PQfinish(c->conns[i]);
			c->conns[i] = NULL;
		}
}

/* sql with its $n parameters shown as literals, for messages */
static char *
quote_statement(const char *sql, int nparams, const char *const *params)
{
	PQExpBufferData buf;
	const char *p;
	char	   *result;

	initPQExpBuffer(&buf);
	for (p = sql; *p; p++)
	{
		int			n = 0;
		const char *d = p + 1;

		if (*p == '$' && *d >= '1' && *d <= '9')
		{
			while (*d >= '0' && *d <= '9')
				n = n * 10 + (*d++ - '0');
			if (n <= nparams)
			{
				const char *v = params[n - 1];

				if (v == NULL)
					appendPQExpBufferStr(&buf, "NULL");
				else
				{
					appendPQExpBufferChar(&buf, '\'');
					for (; *v; v++)
					{
						if (*v == '\'')
							appendPQExpBufferChar(&buf, '\'');
						appendPQExpBufferChar(&buf, *v);
					}
					appendPQExpBufferChar(&buf, '\'');
				}
				p = d - 1;
				continue;
			}
		}
		appendPQExpBufferChar(&buf, *p);
	}
	result = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return result;
}

/*
 * ld_exec_cmd() on a node's connection, each ret_note logged with the
 * node's name in front ("[node] note"), as python3-pgq's node_cmd does.
 */
static bool
exec_cmd_prefixed(PGconn *conn, const char *node, const char *sql,
				  int nparams, const char *const *params, PGresult **result)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	int			code_col = PQfnumber(res, "ret_code");
	int			note_col = PQfnumber(res, "ret_note");
	bool		ok = true;
	int			row;

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		sky_log(SKY_LOG_ERROR, "[%s] %s   Query: %s", node,
				PQerrorMessage(conn), sql);
		PQclear(res);
		return false;
	}
	if (code_col < 0 || note_col < 0)
	{
		sky_log(SKY_LOG_ERROR, "[%s] the command's result has no ret_code and ret_note columns: %s",
				node, sql);
		PQclear(res);
		return false;
	}
	for (row = 0; row < PQntuples(res); row++)
	{
		int			code = atoi(PQgetvalue(res, row, code_col));
		const char *note = PQgetvalue(res, row, note_col);

		if (code < 200)
			sky_log(SKY_LOG_DEBUG, "[%s] %d %s", node, code, note);
		else if (code < 300)
			sky_log(SKY_LOG_INFO, "[%s] %s", node, note);
		else if (code < 400)
			sky_log(SKY_LOG_WARNING, "[%s] %s", node, note);
		else
		{
			sky_log(SKY_LOG_ERROR, "[%s] %d %s", node, code, note);
			ok = false;
		}
	}
	if (result != NULL && ok)
		*result = res;
	else
		PQclear(res);
	return ok;
}

/*
 * An admin call on a node.  On a dead node nothing is run: a warning
 * says so and the result is true with no rows (*result NULL).
 */
bool
ld_cascade_cmd(LdCascade *c, const char *node, const char *sql,
			   int nparams, const char *const *params, PGresult **result)
{
	PGconn	   *conn;

	if (result != NULL)
		*result = NULL;
	if (node == NULL)
	{
		sky_log(SKY_LOG_ERROR, "no node to run on: %s", sql);
		return false;
	}
	if (strcmp(node, c->local->name) != 0 && !ld_cascade_alive(c, node) &&
		ld_cascade_member(c, node) != NULL)
	{
		char	   *shown = quote_statement(sql, nparams, params);

		sky_log(SKY_LOG_WARNING, "ignoring cmd for dead node '%s': %s", node, shown);
		pg_free(shown);
		return true;
	}
	conn = ld_cascade_conn(c, node);
	if (conn == NULL)
		return false;
	return exec_cmd_prefixed(conn, node, sql, nparams, params, result);
}

/*
 * A node's state read from the node itself, not cached; NULL (with a
 * warning) for a dead node, NULL (logged) on failure.
 */
LdNode *
ld_cascade_load_node(LdCascade *c, const char *name)
{
	const char *params[1] = {c->ld->queue_name};
	PGconn	   *conn;
	PGresult   *res;
	LdMember   *m;
	LdNode	   *node;

	if (strcmp(name, c->local->name) != 0 && !ld_cascade_alive(c, name) &&
		ld_cascade_member(c, name) != NULL)
	{
		sky_log(SKY_LOG_WARNING, "load_node_info(%s): ignoring dead node", name);
		return NULL;
	}
	conn = ld_cascade_conn(c, name);
	if (conn == NULL)
		return NULL;
	res = sky_db_exec(conn, "select * from pgq_node.get_node_info($1)", 1, params);
	if (res == NULL)
		return NULL;
	m = ld_cascade_member(c, name);
	node = ld_node_from_row(res, m ? m->location : NULL);
	PQclear(res);
	if (node->name == NULL)
	{
		sky_log(SKY_LOG_ERROR, "node %s is not initialized for queue %s",
				name, c->ld->queue_name);
		return NULL;
	}
	return node;
}

/* ld_cascade_load_node(), cached for the run */
LdNode *
ld_cascade_node(LdCascade *c, const char *name)
{
	LdNode	   *node;
	int			i;

	for (i = 0; i < c->ninfos; i++)
		if (strcmp(c->infos[i]->name, name) == 0)
			return c->infos[i];
	node = ld_cascade_load_node(c, name);
	if (node == NULL)
		return NULL;
	c->infos = pg_realloc(c->infos, sizeof(LdNode *) * (c->ninfos + 1));
	c->infos[c->ninfos++] = node;
	return node;
}

/* The subscribers registered on a node (none for a dead one); -1 on error. */
int
ld_cascade_subscribers(LdCascade *c, const char *node, char ***names)
{
	const char *params[1] = {c->ld->queue_name};
	PGconn	   *conn;
	PGresult   *res;
	int			n;
	int			i;

	*names = NULL;
	if (strcmp(node, c->local->name) != 0 && !ld_cascade_alive(c, node) &&
		ld_cascade_member(c, node) != NULL)
		return 0;
	conn = ld_cascade_conn(c, node);
	if (conn == NULL)
		return -1;
	res = sky_db_exec(conn,
					  "select node_name, node_watermark from pgq_node.get_subscriber_info($1)",
					  1, params);
	if (res == NULL)
		return -1;
	n = PQntuples(res);
	*names = pg_malloc0(sizeof(char *) * (n + 1));
	for (i = 0; i < n; i++)
		(*names)[i] = pg_strdup(PQgetvalue(res, i, 0));
	PQclear(res);
	return n;
}

/*
 * Walk up from a node (start_connstr, or the local node when NULL) along
 * the provider locations to the root.  Returns a connection to the root
 * (the caller closes it) and its name; NULL if the walk fails.
 */
PGconn *
ld_find_root(Londiste *ld, const char *start_connstr, char **root_name)
{
	const char *params[1] = {ld->queue_name};
	char	   *loc = pg_strdup(start_connstr ? start_connstr : ld->db);
	PGconn	   *conn = ld_connect(ld, loc, start_connstr != NULL);
	int			hops = 0;

	while (conn != NULL)
	{
		PGresult   *res = sky_db_exec(conn, "select * from pgq_node.get_node_info($1)",
									  1, params);
		char	   *type;
		char	   *next;

		if (res == NULL)
			break;
		type = value_or_null(res, 0, "node_type");
		if (type == NULL)
		{
			sky_log(SKY_LOG_ERROR, "Root node not initialized? (queue %s is not set up on %s)",
					ld->queue_name, loc);
			PQclear(res);
			break;
		}
		if (strcmp(type, "root") == 0 || strcmp(type, "combined-root") == 0)
		{
			*root_name = value_or_null(res, 0, "node_name");
			PQclear(res);
			return conn;
		}
		next = value_or_null(res, 0, "provider_location");
		PQclear(res);
		PQfinish(conn);
		conn = NULL;
		if (next == NULL)
		{
			sky_log(SKY_LOG_ERROR, "Sub node provider not initialized?");
			return NULL;
		}
		if (strcmp(next, loc) == 0 || ++hops > 1000)
		{
			sky_log(SKY_LOG_ERROR, "find_root_db: got loop: %s", loc);
			return NULL;
		}
		loc = next;
		conn = ld_connect(ld, loc, true);
	}
	PQfinish(conn);
	return NULL;
}

void
ld_node_add_line(LdNode *node, const char *line)
{
	node->lines = pg_realloc(node->lines, sizeof(char *) * (node->nlines + 1));
	node->lines[node->nlines++] = pg_strdup(line);
}

/* "name (type)" or "name (type, service)" */
char *
ld_node_title(const LdNode *node)
{
	if (node->service != NULL)
		return psprintf("%s (%s, %s)", node->name, node->type ? node->type : "None",
						node->service);
	return psprintf("%s (%s)", node->name, node->type ? node->type : "None");
}

/*
 * A query that logs nothing: status probes run in threads and report
 * failures themselves (PQerrorMessage of the connection).
 */
static PGresult *
query_quietly(PGconn *conn, const char *sql, int nparams,
			  const char *const *params)
{
	PGresult   *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		PQclear(res);
		return NULL;
	}
	return res;
}

/*
 * What status shows of a node, read over conn: its consumers with their
 * tick times, its queue's ticker lag, the cascaded consumers' errors and
 * the count of tables by state.  Thread-safe; false on failure, with the
 * reason in PQerrorMessage(conn).
 */
bool
ld_node_load_status(Londiste *ld, LdNode *node, PGconn *conn)
{
	const char *params[1] = {ld->queue_name};
	PGresult   *res;
	int			i;
	int			n_ok = 0,
				n_half = 0,
				n_ignored = 0;
	char	   *line;

	node->consumers = query_quietly(conn,
								  "select consumer_name, current_timestamp - lag as tick_time,"
								  " lag, last_seen, last_tick,"
								  " extract(epoch from current_timestamp - lag) as tick_epoch"
								  " from pgq.get_consumer_info($1)",
								  1, params);
	if (node->consumers == NULL)
		return false;
	res = query_quietly(conn,
					  "select current_timestamp - ticker_lag as tick_time, ticker_lag,"
					  " current_timestamp as now,"
					  " extract(epoch from current_timestamp) as now_epoch,"
					  " extract(epoch from ticker_lag) as lag_epoch"
					  " from pgq.get_queue_info($1)",
					  1, params);
	if (res == NULL)
		return false;
	if (PQntuples(res) > 0)
	{
		node->has_queue_info = true;
		node->now_usec = ld_epoch_usec(PQgetvalue(res, 0, 3));
		node->ticker_lag_usec = PQgetisnull(res, 0, 4) ? 0 :
			ld_epoch_usec(PQgetvalue(res, 0, 4));
	}
	PQclear(res);
	node->cascaded = query_quietly(conn, "select * from pgq_node.get_consumer_info($1)",
								 1, params);
	if (node->cascaded == NULL)
		return false;

	res = query_quietly(conn, "select * from londiste.get_table_list($1)", 1, params);
	if (res == NULL)
		return false;
	for (i = 0; i < PQntuples(res); i++)
	{
		char	   *state = value_or_null(res, i, "merge_state");

		if (!bool_value(res, i, "local"))
			n_ignored++;
		else if (state != NULL && strcmp(state, "ok") == 0)
			n_ok++;
		else
			n_half++;
	}
	PQclear(res);
	line = psprintf("Tables: %d/%d/%d", n_ok, n_half, n_ignored);
	ld_node_add_line(node, line);
	pg_free(line);
	node->status_loaded = true;
	return true;
}

/* Sleep; false if a signal asked the program to stop meanwhile. */
bool
ld_sleep(double seconds)
{
	sky_sleep(seconds);
	if (sky_stop_pending || sky_terminate_pending)
	{
		sky_log(SKY_LOG_ERROR, "interrupted");
		return false;
	}
	return true;
}

/*
 * Set a consumer's pause flag on a node and wait until its worker has
 * seen it (the worker sets uptodate).
 */
bool
ld_cascade_set_paused(LdCascade *c, const char *node, const char *consumer,
					  bool paused)
{
	return ld_cascade_set_paused_queue(c, node, consumer, paused,
									   c->ld->queue_name);
}

/* the same for a consumer of another queue of the node (merge workers) */
bool
ld_cascade_set_paused_queue(LdCascade *c, const char *node,
							const char *consumer, bool paused,
							const char *queue)
{
	const char *params[3] = {queue, consumer, paused ? "true" : "false"};
	PGresult   *res;

	if (!ld_cascade_alive(c, node) && strcmp(node, c->local->name) != 0)
	{
		sky_log(SKY_LOG_ERROR, "cannot %s consumer '%s' on dead node '%s'",
				paused ? "pause" : "resume", consumer, node);
		return false;
	}
	if (!ld_cascade_cmd(c, node, "select * from pgq_node.set_consumer_paused($1, $2, $3)",
						3, params, &res))
		return false;
	PQclear(res);
	sky_log(SKY_LOG_INFO, "Waiting for worker to accept");
	for (;;)
	{
		bool		now_paused;

		if (!ld_cascade_cmd(c, node, "select * from pgq_node.get_consumer_state($1, $2)",
							2, params, &res))
			return false;
		if (res == NULL || PQntuples(res) == 0)
		{
			sky_log(SKY_LOG_ERROR, "consumer '%s' not found on node '%s'", consumer, node);
			PQclear(res);
			return false;
		}
		now_paused = bool_value(res, 0, "paused");
		if (now_paused != paused)
		{
			sky_log(SKY_LOG_ERROR, "operation canceled? %s <> %s",
					now_paused ? "True" : "False", paused ? "True" : "False");
			PQclear(res);
			return false;
		}
		if (bool_value(res, 0, "uptodate"))
		{
			sky_log(SKY_LOG_INFO, "Consumer '%s' on node '%s' %s", consumer, node,
					paused ? "paused" : "resumed");
			PQclear(res);
			return true;
		}
		PQclear(res);
		if (!ld_sleep(1))
			return false;
	}
}

/* Pause or resume a node's own worker. */
bool
ld_cascade_pause_node(LdCascade *c, const char *name, bool paused)
{
	LdNode	   *node = ld_cascade_node(c, name);

	if (node == NULL)
	{
		sky_log(SKY_LOG_ERROR, "Unknown node: %s", name);
		return false;
	}
	return ld_cascade_set_paused(c, name, node->worker_name, paused);
}

/* pgq_node.get_consumer_info's row of a consumer on a node, or NULL */
static PGresult *
node_consumer(LdCascade *c, const char *node, const char *consumer, int *row)
{
	const char *params[1] = {c->ld->queue_name};
	PGconn	   *conn = ld_cascade_conn(c, node);
	PGresult   *res;
	int			i;

	if (conn == NULL)
		return NULL;
	res = sky_db_exec(conn,
					  "select consumer_name, provider_node, last_tick_id from pgq_node.get_consumer_info($1)",
					  1, params);
	if (res == NULL)
		return NULL;
	for (i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, 0), consumer) == 0)
		{
			*row = i;
			return res;
		}
	PQclear(res);
	return NULL;
}

/*
 * The node where a cascaded consumer runs: the local node if it is there,
 * else the first live member that has it.
 */
bool
ld_cascade_find_consumer(LdCascade *c, const char *consumer, char **node)
{
	PGresult   *res;
	int			row;
	int			i;

	res = node_consumer(c, c->local->name, consumer, &row);
	if (res != NULL)
	{
		PQclear(res);
		*node = pg_strdup(c->local->name);
		return true;
	}
	for (i = 0; i < c->nmembers; i++)
	{
		const char *name = c->members[i].name;

		if (strcmp(name, c->local->name) == 0 || c->members[i].dead)
			continue;
		res = node_consumer(c, name, consumer, &row);
		if (res != NULL)
		{
			PQclear(res);
			*node = pg_strdup(name);
			return true;
		}
	}
	sky_log(SKY_LOG_ERROR, "Consumer not found: %s", consumer);
	return false;
}

/*
 * Move a node's consumer (its worker, or another cascaded consumer when
 * consumer is not NULL) to another provider: pause it, subscribe it on
 * the new provider at the tick it has reached, switch, resume, and only
 * then unsubscribe it from the old provider (a failure there is only a
 * warning: the move is done).
 */
bool
ld_cascade_change_provider(LdCascade *c, const char *node,
						   const char *consumer, const char *new_provider)
{
	const char *q = c->ld->queue_name;
	PGresult   *res;
	int			row;
	char	   *old_provider;
	char	   *last_tick;
	LdCascade  *nc;
	LdMember   *nm;
	PGconn	   *node_conn;
	bool		is_worker;

	if (new_provider == NULL || new_provider[0] == '\0')
	{
		sky_log(SKY_LOG_ERROR, "Please give --provider");
		return false;
	}
	if (consumer == NULL)
	{
		LdNode	   *info = ld_cascade_node(c, node);

		if (info == NULL)
		{
			sky_log(SKY_LOG_ERROR, "Unknown node: %s", node);
			return false;
		}
		consumer = info->worker_name;
	}
	if (strcmp(node, new_provider) == 0)
	{
		sky_log(SKY_LOG_ERROR, "cannot subscribe to itself");
		return false;
	}
	if (ld_cascade_member(c, new_provider) == NULL)
	{
		sky_log(SKY_LOG_ERROR, "Unknown node: %s", new_provider);
		return false;
	}
	if (strcmp(new_provider, c->local->name) != 0 && !ld_cascade_alive(c, new_provider))
	{
		sky_log(SKY_LOG_ERROR, "node %s is dead, it cannot be a provider", new_provider);
		return false;
	}
	if (strcmp(node, c->local->name) != 0 && !ld_cascade_alive(c, node))
	{
		sky_log(SKY_LOG_ERROR, "node %s is dead, it cannot change its provider", node);
		return false;
	}
	res = node_consumer(c, node, consumer, &row);
	if (res == NULL)
	{
		sky_log(SKY_LOG_ERROR, "consumer '%s' not found on node '%s'", consumer, node);
		return false;
	}
	old_provider = value_or_null(res, row, "provider_node");
	PQclear(res);
	if (old_provider != NULL && strcmp(old_provider, new_provider) == 0)
	{
		sky_log(SKY_LOG_INFO, "Consumer '%s' at node '%s' has already '%s' as provider",
				consumer, node, new_provider);
		return true;
	}

	if (!ld_cascade_set_paused(c, node, consumer, true))
		return false;

	/* the node's own view of itself, after the pause */
	node_conn = ld_cascade_conn(c, node);
	if (node_conn == NULL || (nc = ld_cascade_load_from(c->ld, node_conn)) == NULL)
		return false;
	nm = ld_cascade_member(nc, node);
	res = node_consumer(c, node, consumer, &row);
	if (res == NULL)
		return false;
	last_tick = value_or_null(res, row, "last_tick_id");
	PQclear(res);
	is_worker = nc->local->worker_name != NULL &&
		strcmp(nc->local->worker_name, consumer) == 0;

	{
		const char *p[4] = {q, node, nm ? nm->location : "", "false"};

		if (!ld_cascade_cmd(c, new_provider,
							"select * from pgq_node.register_location($1, $2, $3, $4)",
							4, p, &res))
			return false;
		PQclear(res);
	}
	if (is_worker)
	{
		const char *p[4] = {q, node, consumer, last_tick};

		if (!ld_cascade_cmd(c, new_provider,
							"select * from pgq_node.register_subscriber($1, $2, $3, $4)",
							4, p, &res))
			return false;
		PQclear(res);
	}
	else
	{
		const char *p[3] = {q, consumer, last_tick};
		PGconn	   *pconn = ld_cascade_conn(c, new_provider);

		if (pconn == NULL ||
			(res = sky_db_exec(pconn, "select * from pgq.register_consumer_at($1, $2, $3)",
							   3, p)) == NULL)
			return false;
		PQclear(res);
	}
	{
		const char *p[3] = {q, consumer, new_provider};

		if (!ld_cascade_cmd(c, node,
							"select * from pgq_node.change_consumer_provider($1, $2, $3)",
							3, p, &res))
			return false;
		PQclear(res);
	}
	if (!ld_cascade_set_paused(c, node, consumer, false))
		return false;

	if (old_provider == NULL)
		return true;
	if (is_worker)
	{
		const char *p[2] = {q, node};

		if (!ld_cascade_cmd(c, old_provider,
							"select * from pgq_node.unregister_subscriber($1, $2)",
							2, p, &res))
			sky_log(SKY_LOG_WARNING, "failed to unregister from old provider (%s)",
					old_provider);
		PQclear(res);
	}
	else
	{
		const char *p[2] = {q, consumer};
		PGconn	   *oconn = ld_cascade_alive(c, old_provider) ?
			ld_cascade_conn(c, old_provider) : NULL;

		if (oconn != NULL)
		{
			res = sky_db_exec(oconn, "select * from pgq.unregister_consumer($1, $2)", 2, p);
			if (res == NULL)
				sky_log(SKY_LOG_WARNING, "failed to unregister from old provider (%s)",
						old_provider);
			PQclear(res);
		}
	}
	return true;
}

/*
 * tag-dead, tag-alive, takeover --dead-*: set a member's dead flag here
 * and on every other live node.  A node that cannot be told is reported
 * and skipped: the point is usually that some node is gone.
 */
bool
ld_cascade_tag(LdCascade *c, const char *node, bool dead)
{
	const char *params[3] = {c->ld->queue_name, node, dead ? "true" : "false"};
	const char *sql = "select * from pgq_node.register_location($1, $2, null, $3)";
	LdMember   *m = ld_cascade_member(c, node);
	int			i;

	if (m == NULL)
	{
		sky_log(SKY_LOG_ERROR, "Unknown node: %s", node);
		return false;
	}
	sky_log(SKY_LOG_INFO, "Tagging node '%s' as %s", node, dead ? "dead" : "alive");
	m->dead = dead;
	if (!ld_cascade_cmd(c, c->local->name, sql, 3, params, NULL))
		return false;
	for (i = 0; i < c->nmembers; i++)
	{
		const char *name = c->members[i].name;

		if (c->members[i].dead || strcmp(name, node) == 0 ||
			strcmp(name, c->local->name) == 0)
			continue;
		if (!ld_cascade_cmd(c, name, sql, 3, params, NULL))
		{
			printf("Node %s failure: could not tag node %s as %s\n", name, node,
				   dead ? "dead" : "alive");
			ld_cascade_close(c, name);
		}
	}
	return true;
}
