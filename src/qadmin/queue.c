/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  The queue statements: create, drop and alter queues, register and
 *	  unregister consumers and pgq_coop subconsumers.
 *
 * src/qadmin/queue.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "qadmin.h"

static ExecResult
exec_create_queue(Session *s, Statement *stmt)
{
	bool		ok;
	char	   *created = query_value(s, "select pgq.create_queue($1)", 1,
									  &stmt->object, &ok);

	if (!ok)
		return EXEC_ERROR;
	if (created && strcmp(created, "0") == 0)
		print_status("Queue already exists");
	else
		print_status("CREATE");
	pg_free(created);
	return EXEC_OK;
}

static ExecResult
exec_drop_queue(Session *s, Statement *stmt)
{
	if (!require_queue(s, stmt->object) ||
		!run_command(s, "select pgq.drop_queue($1)", 1, &stmt->object))
		return EXEC_ERROR;
	print_status("DROP");
	return EXEC_OK;
}

/*
 * The names a statement applies to: the one named, or the rows of
 * list_sql (with the given parameters) for "*".
 */
static PGresult *
target_names(Session *s, const Statement *stmt, const char *list_sql,
			 int nparams, const char *const *params)
{
	if (stmt->object_all)
		return run_query(s, list_sql, nparams, params);
	return run_query(s, "select $1::text", 1, &stmt->object);
}

/* alter queue Q|* set key=value, ...: pgq.set_queue_config per queue and key */
static ExecResult
exec_alter_queue(Session *s, Statement *stmt)
{
	PGresult   *queues;
	bool		started;
	bool		ok = true;
	int			q,
				o;

	if (!begin_work(s, &started))
		return EXEC_ERROR;
	if (!stmt->object_all)
		ok = require_queue(s, stmt->object);
	queues = ok ? target_names(s, stmt, "select queue_name from pgq.get_queue_info()",
							   0, NULL) : NULL;
	ok = queues != NULL;
	for (q = 0; ok && q < PQntuples(queues); q++)
	{
		for (o = 0; ok && o < stmt->noptions; o++)
		{
			char	   *param = psprintf("ticker_%s", stmt->options[o].key);
			const char *params[3];

			params[0] = PQgetvalue(queues, q, 0);
			params[1] = param;
			params[2] = stmt->options[o].value;
			ok = run_command(s, "select pgq.set_queue_config($1, $2, $3)", 3, params);
			pg_free(param);
		}
	}
	PQclear(queues);
	if (!end_work(s, started, ok))
		return EXEC_ERROR;
	print_status("ALTER");
	return EXEC_OK;
}

/*
 * register consumer C [on Q] [at TICK | copy C2]: a position is the given
 * tick or the one C2 has confirmed (its last tick), and moves C there even
 * if it is registered already.
 */
static ExecResult
exec_register_consumer(Session *s, Statement *stmt)
{
	const char *queue = statement_queue(s, stmt);
	const char *params[3];
	char	   *copied_tick = NULL;
	char	   *result;
	bool		ok;

	if (!queue || !require_queue(s, queue))
		return EXEC_ERROR;
	params[0] = queue;
	params[1] = stmt->object;
	params[2] = stmt->at_tick;
	if (stmt->copy_from)
	{
		PGresult   *res;
		const char *copy_params[2] = {queue, stmt->copy_from};

		res = run_query(s, "select last_tick from pgq.get_consumer_info($1, $2)",
						2, copy_params);
		if (!res)
			return EXEC_ERROR;
		if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0))
		{
			report_error("consumer \"%s\" is not registered on queue \"%s\"",
						 stmt->copy_from, queue);
			PQclear(res);
			return EXEC_ERROR;
		}
		copied_tick = pg_strdup(PQgetvalue(res, 0, 0));
		params[2] = copied_tick;
		PQclear(res);
	}

	if (params[2])
		result = query_value(s, "select pgq.register_consumer_at($1, $2, $3)",
							 3, params, &ok);
	else
		result = query_value(s, "select pgq.register_consumer($1, $2)",
							 2, params, &ok);
	pg_free(copied_tick);
	if (!ok)
		return EXEC_ERROR;
	if (!params[2] && result && strcmp(result, "0") == 0)
		print_status("Consumer already registered");
	else
		print_status("REGISTER");
	pg_free(result);
	return EXEC_OK;
}

static ExecResult
exec_unregister_consumer(Session *s, Statement *stmt)
{
	const char *queue = statement_queue(s, stmt);
	PGresult   *names;
	bool		started;
	bool		ok;
	int			i;

	if (!queue || !begin_work(s, &started))
		return EXEC_ERROR;
	ok = require_queue(s, queue);
	names = ok ? target_names(s, stmt, "select consumer_name from pgq.get_consumer_info($1)",
							  1, &queue) : NULL;
	ok = names != NULL;
	for (i = 0; ok && i < PQntuples(names); i++)
	{
		const char *params[2] = {queue, PQgetvalue(names, i, 0)};
		char	   *removed = query_value(s, "select pgq.unregister_consumer($1, $2)",
										  2, params, &ok);

		/* with "*", a subconsumer went away with its main consumer */
		if (ok && !stmt->object_all && removed && strcmp(removed, "0") == 0)
		{
			report_error("consumer \"%s\" is not registered on queue \"%s\"",
						 stmt->object, queue);
			ok = false;
		}
		pg_free(removed);
	}
	PQclear(names);
	if (!end_work(s, started, ok))
		return EXEC_ERROR;
	print_status("UNREGISTER");
	return EXEC_OK;
}

static ExecResult
exec_register_subconsumer(Session *s, Statement *stmt)
{
	const char *queue = statement_queue(s, stmt);
	const char *params[3];
	char	   *result;
	bool		ok;

	if (!queue || !require_queue(s, queue))
		return EXEC_ERROR;
	params[0] = queue;
	params[1] = stmt->owner;
	params[2] = stmt->object;
	result = query_value(s, "select pgq_coop.register_subconsumer($1, $2, $3)",
						 3, params, &ok);
	if (!ok)
		return EXEC_ERROR;
	if (result && strcmp(result, "0") == 0)
		print_status("Subconsumer already registered");
	else
		print_status("REGISTER");
	pg_free(result);
	return EXEC_OK;
}

static ExecResult
exec_unregister_subconsumer(Session *s, Statement *stmt)
{
	const char *queue = statement_queue(s, stmt);
	const char *list_params[2];
	PGresult   *names;
	bool		started;
	bool		ok;
	int			i;

	if (!queue || !begin_work(s, &started))
		return EXEC_ERROR;
	list_params[0] = queue;
	list_params[1] = stmt->owner;
	ok = require_queue(s, queue);
	names = ok ? target_names(s, stmt,
							  "select substr(consumer_name, length($2) + 2)"
							  " from pgq.get_consumer_info($1)"
							  " where left(consumer_name, length($2) + 1) = $2 || '.'",
							  2, list_params) : NULL;
	ok = names != NULL;
	for (i = 0; ok && i < PQntuples(names); i++)
	{
		const char *params[4] = {queue, stmt->owner, PQgetvalue(names, i, 0),
		stmt->close_batch ? "1" : "0"};
		char	   *removed = query_value(s, "select pgq_coop.unregister_subconsumer($1, $2, $3, $4)",
										  4, params, &ok);

		if (ok && removed && strcmp(removed, "0") == 0)
		{
			report_error("subconsumer \"%s\" of consumer \"%s\" is not registered on queue \"%s\"",
						 params[2], stmt->owner, queue);
			ok = false;
		}
		pg_free(removed);
	}
	PQclear(names);
	if (!end_work(s, started, ok))
		return EXEC_ERROR;
	print_status("UNREGISTER");
	return EXEC_OK;
}

ExecResult
exec_queue(Session *s, Statement *stmt)
{
	switch (stmt->kind)
	{
		case STMT_CREATE_QUEUE:
			return exec_create_queue(s, stmt);
		case STMT_DROP_QUEUE:
			return exec_drop_queue(s, stmt);
		case STMT_ALTER_QUEUE:
			return exec_alter_queue(s, stmt);
		case STMT_REGISTER_CONSUMER:
			return exec_register_consumer(s, stmt);
		case STMT_UNREGISTER_CONSUMER:
			return exec_unregister_consumer(s, stmt);
		case STMT_REGISTER_SUBCONSUMER:
			return exec_register_subconsumer(s, stmt);
		case STMT_UNREGISTER_SUBCONSUMER:
			return exec_unregister_subconsumer(s, stmt);
		default:
			break;
	}
	report_error("not a queue statement");
	return EXEC_ERROR;
}
