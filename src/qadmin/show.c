/*-------------------------------------------------------------------------
 *
 * show.c
 *	  The show statements: queues, consumers, nodes, batches, table and
 *	  sequence definitions, help and versions.
 *
 * A named object that does not exist is an error; "*" (or no name) that
 * matches nothing prints an empty table.
 *
 * src/qadmin/show.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "pqexpbuffer.h"
#include "qadmin.h"

/* Print a query's result as a table under title; false on error. */
static bool
show_query(Session *s, const char *title, const char *sql, int nparams,
		   const char *const *params, bool must_find, const char *not_found)
{
	PGresult   *res = run_query(s, sql, nparams, params);

	if (!res)
		return false;
	if (must_find && PQntuples(res) == 0)
	{
		report_error("%s", not_found);
		PQclear(res);
		return false;
	}
	print_table(title, res);
	PQclear(res);
	return true;
}

static ExecResult
show_queue(Session *s, Statement *stmt)
{
	char	   *title = psprintf("Queue \"%s\":", stmt->object ? stmt->object : "*");
	char	   *not_found = psprintf("queue \"%s\" does not exist",
									 stmt->object ? stmt->object : "");
	bool		ok;

	ok = show_query(s, title,
					"select queue_name,"
					" queue_cur_table || '/' || queue_ntables as tables,"
					" queue_ticker_max_count as max_count,"
					" queue_ticker_max_lag as max_lag,"
					" queue_ticker_idle_period as idle_period,"
					" queue_ticker_paused as paused,"
					" ticker_lag,"
					" round(ev_per_sec::numeric, 2) as ev_per_sec,"
					" ev_new"
					" from pgq.get_queue_info($1)",
					1, &stmt->object, stmt->object != NULL, not_found);
	pg_free(title);
	pg_free(not_found);
	return ok ? EXEC_OK : EXEC_ERROR;
}

/*
 * The queue of show consumer/node: "on Q", "on *", else the default
 * queue, else all; NULL means all.
 */
static const char *
show_queue_filter(Session *s, const Statement *stmt)
{
	if (stmt->queue_all)
		return NULL;
	return stmt->queue ? stmt->queue : s->queue;
}

static ExecResult
show_consumer(Session *s, Statement *stmt)
{
	const char *params[2];
	char	   *title;
	char	   *not_found;
	bool		ok;

	params[0] = show_queue_filter(s, stmt);
	params[1] = stmt->object;
	if (params[0] && stmt->queue)
	{
		bool		exists;

		if (!queue_exists(s, params[0], &exists))
			return EXEC_ERROR;
		if (!exists)
		{
			report_error("queue \"%s\" does not exist", params[0]);
			return EXEC_ERROR;
		}
	}
	title = psprintf("Consumer \"%s\" on queue \"%s\":",
					 params[1] ? params[1] : "*", params[0] ? params[0] : "*");
	not_found = psprintf("consumer \"%s\" is not registered on queue \"%s\"",
						 params[1] ? params[1] : "", params[0] ? params[0] : "*");
	ok = show_query(s, title,
					"select queue_name, consumer_name, lag, last_seen, last_tick,"
					" current_batch, next_tick, pending_events"
					" from pgq.get_consumer_info($1, $2)",
					2, params, params[1] != NULL, not_found);
	pg_free(title);
	pg_free(not_found);
	return ok ? EXEC_OK : EXEC_ERROR;
}

static ExecResult
show_node(Session *s, Statement *stmt)
{
	const char *params[2];
	char	   *title;
	char	   *not_found;
	bool		ok;

	params[0] = show_queue_filter(s, stmt);
	params[1] = stmt->object;
	title = psprintf("Node \"%s\" on queue \"%s\":",
					 params[1] ? params[1] : "*", params[0] ? params[0] : "*");
	not_found = psprintf("node \"%s\" is not known on queue \"%s\"",
						 params[1] ? params[1] : "", params[0] ? params[0] : "*");
	ok = show_query(s, title,
					"select queue_name, node_name, node_location, dead"
					" from pgq_node.node_location"
					" where ($1::text is null or queue_name = $1)"
					" and ($2::text is null or node_name = $2)"
					" order by queue_name, node_name",
					2, params, params[1] != NULL, not_found);
	pg_free(title);
	pg_free(not_found);
	return ok ? EXEC_OK : EXEC_ERROR;
}

/* show batch ID | show batch CONSUMER (its open batch on the queue) */
static ExecResult
show_batch(Session *s, Statement *stmt)
{
	char	   *batch_id = NULL;
	PGresult   *info;
	char	   *title;
	bool		ok;

	if (stmt->object)
	{
		const char *queue = statement_queue(s, stmt);
		const char *params[2];
		PGresult   *res;

		if (!queue)
			return EXEC_ERROR;
		params[0] = queue;
		params[1] = stmt->object;
		res = run_query(s, "select current_batch from pgq.get_consumer_info($1, $2)",
						2, params);
		if (!res)
			return EXEC_ERROR;
		if (PQntuples(res) == 0)
			report_error("consumer \"%s\" is not registered on queue \"%s\"",
						 stmt->object, queue);
		else if (PQgetisnull(res, 0, 0))
			report_error("consumer \"%s\" has no open batch on queue \"%s\"",
						 stmt->object, queue);
		else
			batch_id = pg_strdup(PQgetvalue(res, 0, 0));
		PQclear(res);
		if (!batch_id)
			return EXEC_ERROR;
	}
	else
		batch_id = pg_strdup(stmt->at_tick);

	info = run_query(s, "select queue_name, consumer_name, prev_tick_id, tick_id"
					 " from pgq.get_batch_info($1)", 1, (const char **) &batch_id);
	if (!info)
	{
		pg_free(batch_id);
		return EXEC_ERROR;
	}
	if (PQntuples(info) == 0 || PQgetisnull(info, 0, 0))
	{
		report_error("batch %s does not exist", batch_id);
		PQclear(info);
		pg_free(batch_id);
		return EXEC_ERROR;
	}
	title = psprintf("Batch %s of consumer \"%s\" on queue \"%s\" (ticks %s..%s):",
					 batch_id, PQgetvalue(info, 0, 1), PQgetvalue(info, 0, 0),
					 PQgetvalue(info, 0, 2), PQgetvalue(info, 0, 3));
	PQclear(info);
	ok = show_query(s, title,
					"select ev_id, ev_time, ev_txid, ev_retry, ev_type, ev_data,"
					" ev_extra1, ev_extra2, ev_extra3, ev_extra4"
					" from pgq.get_batch_events($1)",
					1, (const char **) &batch_id, false, NULL);
	pg_free(title);
	pg_free(batch_id);
	return ok ? EXEC_OK : EXEC_ERROR;
}

/* Print each row's first column as a line: statements that build DDL. */
static bool
print_lines(Session *s, const char *sql, const char *name, const char *not_found)
{
	PGresult   *res = run_query(s, sql, 1, &name);
	int			i;

	if (!res)
		return false;
	if (PQntuples(res) == 0)
	{
		report_error("%s", not_found);
		PQclear(res);
		return false;
	}
	for (i = 0; i < PQntuples(res); i++)
		printf("%s\n", PQgetvalue(res, i, 0));
	putchar('\n');
	fflush(stdout);
	PQclear(res);
	return true;
}

/*
 * show table T: CREATE TABLE with columns, defaults and NOT NULL, then
 * the constraints, the other indexes and the user triggers, as the
 * server's own pg_get_*def functions write them.
 */
static ExecResult
show_table(Session *s, Statement *stmt)
{
	char	   *not_found = psprintf("table \"%s\" does not exist", stmt->object);
	bool		ok;

	ok = print_lines(s,
					 "with t as ("
					 "  select c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) as name"
					 "  from pg_class c join pg_namespace n on n.oid = c.relnamespace"
					 "  where c.oid = to_regclass($1) and c.relkind in ('r', 'p'))"
					 " select line from ("
					 " select 1 as part, 0 as nr, 'CREATE TABLE ' || t.name || E' (\\n'"
					 "  || coalesce(string_agg('    ' || quote_ident(a.attname) || ' '"
					 "     || format_type(a.atttypid, a.atttypmod)"
					 "     || case when a.attgenerated = 's'"
					 "        then ' GENERATED ALWAYS AS (' || pg_get_expr(d.adbin, d.adrelid) || ') STORED'"
					 "        else coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '') end"
					 "     || case when a.attnotnull then ' NOT NULL' else '' end,"
					 "     E',\\n' order by a.attnum), '') || E'\\n);' as line"
					 "  from t left join pg_attribute a on a.attrelid = t.oid"
					 "   and a.attnum > 0 and not a.attisdropped"
					 "  left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum"
					 "  group by t.oid, t.name"
					 " union all"
					 " select 2, position(con.contype in 'pucfx'), 'ALTER TABLE ONLY '"
					 "  || t.name || ' ADD CONSTRAINT '"
					 "  || quote_ident(con.conname) || ' ' || pg_get_constraintdef(con.oid) || ';'"
					 "  from t join pg_constraint con on con.conrelid = t.oid"
					 " union all"
					 " select 3, 0, pg_get_indexdef(i.indexrelid) || ';'"
					 "  from t join pg_index i on i.indrelid = t.oid"
					 "  where not exists (select 1 from pg_constraint con"
					 "   where con.conindid = i.indexrelid and con.conrelid = t.oid)"
					 " union all"
					 " select 4, 0, pg_get_triggerdef(tg.oid) || ';'"
					 "  from t join pg_trigger tg on tg.tgrelid = t.oid and not tg.tgisinternal"
					 " ) ddl order by part, nr, line",
					 stmt->object_sql, not_found);
	pg_free(not_found);
	return ok ? EXEC_OK : EXEC_ERROR;
}

static ExecResult
show_sequence(Session *s, Statement *stmt)
{
	char	   *not_found = psprintf("sequence \"%s\" does not exist", stmt->object);
	bool		ok;

	ok = print_lines(s,
					 "select 'CREATE SEQUENCE ' || quote_ident(n.nspname) || '.' || quote_ident(c.relname)"
					 " || ' AS ' || format_type(seqtypid, null)"
					 " || ' INCREMENT BY ' || seqincrement"
					 " || ' MINVALUE ' || seqmin || ' MAXVALUE ' || seqmax"
					 " || ' START WITH ' || seqstart || ' CACHE ' || seqcache"
					 " || case when seqcycle then ' CYCLE' else ' NO CYCLE' end || ';'"
					 " from pg_sequence s join pg_class c on c.oid = s.seqrelid"
					 " join pg_namespace n on n.oid = c.relnamespace"
					 " where s.seqrelid = to_regclass($1)",
					 stmt->object_sql, not_found);
	pg_free(not_found);
	return ok ? EXEC_OK : EXEC_ERROR;
}

static ExecResult
show_version(Session *s)
{
	PGresult   *res;

	printf("qadmin version %s\n", PGQ_VERSION);
	printf("server version %s\n", PQparameterStatus(s->conn, "server_version"));
	res = run_query(s, "select extname, extversion from pg_extension"
					" where extname in ('pgq', 'pgq_node', 'pgq_coop', 'pgq_ext', 'londiste')"
					" order by extname = 'pgq' desc, extname", 0, NULL);
	if (!res)
		return EXEC_ERROR;
	if (PQntuples(res) == 0)
		printf("pgq is not installed\n");
	for (int i = 0; i < PQntuples(res); i++)
		printf("%s version %s\n", PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
	putchar('\n');
	fflush(stdout);
	PQclear(res);
	return EXEC_OK;
}

ExecResult
exec_show(Session *s, Statement *stmt)
{
	switch (stmt->kind)
	{
		case STMT_SHOW_QUEUE:
			return show_queue(s, stmt);
		case STMT_SHOW_CONSUMER:
			return show_consumer(s, stmt);
		case STMT_SHOW_NODE:
			return show_node(s, stmt);
		case STMT_SHOW_BATCH:
			return show_batch(s, stmt);
		case STMT_SHOW_TABLE:
			return show_table(s, stmt);
		case STMT_SHOW_SEQUENCE:
			return show_sequence(s, stmt);
		case STMT_SHOW_HELP:
			print_help_text();
			return EXEC_OK;
		case STMT_SHOW_VERSION:
			return show_version(s);
		default:
			break;
	}
	report_error("not a show statement");
	return EXEC_ERROR;
}
