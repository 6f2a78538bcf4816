/*-------------------------------------------------------------------------
 *
 * apply.c
 *	  LdApply: the SQL sink the handlers write a batch's statements into.
 *
 * Three ways in, kept in the order they were queued:
 *
 * - ld_apply_sql(): statement text, sent joined by newlines, up to 200 at
 *   a time, as one simple query (one round trip for many statements).
 * - ld_apply_prepared(): a statement with $n parameters and its values.
 *   Each statement text is prepared once per batch and the executions are
 *   sent in libpq's pipeline mode: the server parses and plans a row shape
 *   once instead of once per row, and the values travel as parameters,
 *   never as SQL text.  A sync point follows every APPLY_PIPELINE_SIZE
 *   executions, and the program goes on with the batch without waiting
 *   for them: their results are read as they come in, so that the server
 *   applies one part of the batch while the program reads and decodes the
 *   next.  At most APPLY_PIPELINE_DEPTH such parts are outstanding; an
 *   error in one is seen when its results are read, at the latest when
 *   the batch is flushed before its commit.
 *
 * - ld_apply_insert(), ld_apply_update() and ld_apply_delete(): a row to
 *   insert, update or delete.  Consecutive rows for the same table and
 *   columns are sent APPLY_RUN_ROWS at a time as one prepared multi-row
 *   statement (INSERT ... VALUES (...), (...); UPDATE ... FROM (VALUES
 *   ...) WHERE key = ...; DELETE ... WHERE key IN (...)), which costs the
 *   server less than half of what as many single-row statements cost.
 *   The outcome is the same: rows are inserted in order, a row updated
 *   twice ends a run so that each statement touches a row once, and the
 *   order of deletes does not matter.  An UPDATE's values are cast to the
 *   column types (read once per batch), as a single-row UPDATE's
 *   parameters are typed by their columns.  Only statement triggers (of
 *   which a replica fires just the ENABLE ALWAYS ones) can tell.
 *
 * Switching from one way to another flushes what the other queued, so
 * the statements run exactly in the order of the batch's events.
 *
 * Prepared statements live for one batch only (and are dropped after an
 * EXECUTE event, see ld_apply_forget_statements): a parameter's type is
 * fixed when it is prepared, and a table altered later (by an EXECUTE
 * event or by hand between batches) must get statements made for its
 * new columns.  The old ones are dropped by a "deallocate all" at the
 * head of the next pipeline, which costs no extra round trip.
 *
 * Everything runs in the worker's open transaction on the local node, the
 * one that also stores the batch's completed tick, so a batch is applied
 * whole or not at all.
 *
 * src/londiste3/worker/apply.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "londiste3/worker/replay.h"
#include "londiste3/worker/worker.h"
#include "pqexpbuffer.h"

/* statements per round trip, as python3-londiste groups them */
#define APPLY_GROUP_SIZE 200

/* executions between two sync points of the pipeline */
#define APPLY_PIPELINE_SIZE 500

/*
 * Sync points whose results may be outstanding.  Bounds what the program
 * runs ahead of the server (and what libpq buffers of the replies).
 */
#define APPLY_PIPELINE_DEPTH 4

/* rows per multi-row statement; shorter runs use the sizes of run_sizes */
#define APPLY_RUN_ROWS 64

/* the most parameters one statement can have (the protocol's Int16) */
#define MAX_STATEMENT_PARAMS 65535

/* every item a pipeline may hold: each part's executions, prepares, sync */
#define APPLY_PIPELINE_ITEMS ((APPLY_PIPELINE_SIZE * 2 + 2) * (APPLY_PIPELINE_DEPTH + 1))

/* a statement text prepared in this batch as "ld_apply_<index>" */
typedef struct ApplyStatement
{
	char	   *sql;
	bool		prepared;		/* its prepare succeeded on the server */
	bool		sent;			/* its prepare is in the current pipeline */
} ApplyStatement;

/* what a pipeline result answers, in the order they were sent */
typedef enum PipelineItemKind
{
	ITEM_DEALLOCATE,
	ITEM_PREPARE,
	ITEM_EXECUTE,
	ITEM_SYNC,
} PipelineItemKind;

typedef struct PipelineItemRec
{
	PipelineItemKind kind;
	int			stmt;			/* ITEM_PREPARE: index in statements */
} PipelineItemRec;

/* a table's column names and types, read for multi-row UPDATEs */
typedef struct TableTypes
{
	char	   *dest_table;
	int			ncolumns;		/* -1: the table was not found */
	char	  **names;
	char	  **types;
} TableTypes;

struct LdApply
{
	PGconn	   *conn;
	PQExpBufferData queued;
	int			nqueued;

	ApplyStatement *statements;
	int			nstatements_cached;
	int			statements_size;
	bool		need_deallocate;	/* statements of ours may exist on conn */
	int			last_stmt;		/* lookup shortcut: runs share a shape */

	bool		in_pipeline;
	bool		failed;			/* an error was logged; the batch is lost */
	PipelineItemRec *items;		/* sent, results not read yet: a ring */
	int			first_item;
	int			nitems;
	int			nsyncs;			/* ITEM_SYNC among items */
	int			nexecuted;		/* executions since the last sync point */

	/* rows not sent yet, of one table and statement shape */
	char	   *run_head;		/* "insert into t (c, ...) values ", or NULL */
	char	   *run_tail;		/* what follows the rows */
	bool		run_parens;		/* each row's values in parentheses */
	char	  **run_casts;		/* each column's type, or NULL: no casts */
	int			run_key_from;	/* rows' key values from here: no row twice */
	int			run_ncolumns;
	int			run_rows;
	char	  **run_values;		/* run_rows * run_ncolumns values, copied */
	int			run_capacity;	/* values run_values has room for */

	/* column types of the tables updated in this batch */
	TableTypes *types;
	int			ntypes;
};

static void discard_run(LdApply *apply);
static bool flush_run(LdApply *apply);
static bool queue_prepared(LdApply *apply, const char *sql, int nparams,
						   const char *const *values);

LdApply *
ld_apply_new(void)
{
	LdApply    *apply = pg_malloc0(sizeof(LdApply));

	initPQExpBuffer(&apply->queued);
	apply->items = pg_malloc(sizeof(PipelineItemRec) * APPLY_PIPELINE_ITEMS);
	apply->last_stmt = -1;
	return apply;
}

void
ld_apply_forget_statements(LdApply *apply)
{
	int			i;

	for (i = 0; i < apply->ntypes; i++)
	{
		int			c;

		for (c = 0; c < apply->types[i].ncolumns; c++)
		{
			pg_free(apply->types[i].names[c]);
			pg_free(apply->types[i].types[c]);
		}
		pg_free(apply->types[i].names);
		pg_free(apply->types[i].types);
		pg_free(apply->types[i].dest_table);
	}
	apply->ntypes = 0;
	for (i = 0; i < apply->nstatements_cached; i++)
		pg_free(apply->statements[i].sql);
	if (apply->nstatements_cached > 0)
		apply->need_deallocate = true;
	apply->nstatements_cached = 0;
	apply->last_stmt = -1;
}

void
ld_apply_free(LdApply *apply)
{
	ld_apply_forget_statements(apply);
	discard_run(apply);
	pg_free(apply->run_values);
	pg_free(apply->types);
	pg_free(apply->statements);
	pg_free(apply->items);
	termPQExpBuffer(&apply->queued);
	pg_free(apply);
}

/* start a batch on conn: forget whatever a failed batch left queued */
void
ld_apply_begin(LdApply *apply, PGconn *conn)
{
	if (apply->conn != conn)
		apply->need_deallocate = false;
	apply->conn = conn;
	resetPQExpBuffer(&apply->queued);
	apply->nqueued = 0;
	apply->first_item = 0;
	apply->nitems = 0;
	apply->nsyncs = 0;
	apply->nexecuted = 0;
	apply->in_pipeline = false;
	apply->failed = false;
	discard_run(apply);
	ld_apply_forget_statements(apply);
}

/* the first error of the batch is logged, the ones it causes are not */
static void
apply_error(LdApply *apply, const char *message)
{
	if (!apply->failed)
		sky_log(SKY_LOG_ERROR, "applying events failed: %s", message);
	apply->failed = true;
}

static void
push_item(LdApply *apply, PipelineItemKind kind, int stmt)
{
	PipelineItemRec *item;

	item = &apply->items[(apply->first_item + apply->nitems) % APPLY_PIPELINE_ITEMS];
	item->kind = kind;
	item->stmt = stmt;
	apply->nitems++;
	if (kind == ITEM_SYNC)
		apply->nsyncs++;
}

/*
 * Read the results of the oldest item.  Without wait, only if they are
 * in already: 0 when they are not.  -1 when the connection failed.
 */
static int
read_item(LdApply *apply, bool wait)
{
	PGconn	   *conn = apply->conn;
	PipelineItemRec *item = &apply->items[apply->first_item];
	PGresult   *res;
	ExecStatusType status;

	if (!wait)
	{
		if (PQconsumeInput(conn) != 1)
		{
			apply_error(apply, PQerrorMessage(conn));
			return -1;
		}
		if (PQisBusy(conn))
			return 0;
	}
	res = PQgetResult(conn);
	if (res == NULL)
	{
		/* a result was due: the connection is gone */
		apply_error(apply, PQerrorMessage(conn));
		return -1;
	}
	status = PQresultStatus(res);
	if (item->kind == ITEM_SYNC)
	{
		if (status != PGRES_PIPELINE_SYNC)
			apply_error(apply, PQresultErrorMessage(res));
		apply->nsyncs--;
	}
	else
	{
		if (status == PGRES_COMMAND_OK)
		{
			if (item->kind == ITEM_PREPARE)
				apply->statements[item->stmt].prepared = true;
			else if (item->kind == ITEM_DEALLOCATE)
				apply->need_deallocate = false;
		}
		else if (status == PGRES_PIPELINE_ABORTED)
			apply->failed = true;
		else
			apply_error(apply, PQresultErrorMessage(res));
		/* each statement's results end with a NULL */
		while (PQclear(res), (res = PQgetResult(conn)) != NULL)
			;
	}
	PQclear(res);
	apply->first_item = (apply->first_item + 1) % APPLY_PIPELINE_ITEMS;
	apply->nitems--;
	return 1;
}

/*
 * Read the results that are in, and wait for more while over
 * max_syncs sync points are outstanding.  false if the connection failed.
 */
static bool
read_results(LdApply *apply, int max_syncs)
{
	while (apply->nitems > 0)
	{
		int			got = read_item(apply, apply->nsyncs > max_syncs);

		if (got < 0)
			return false;
		if (got == 0)
			break;
	}
	return true;
}

/* end the current part of the pipeline with a sync point */
static bool
send_sync(LdApply *apply)
{
	if (PQpipelineSync(apply->conn) != 1)
	{
		apply_error(apply, PQerrorMessage(apply->conn));
		return false;
	}
	push_item(apply, ITEM_SYNC, -1);
	apply->nexecuted = 0;
	return true;
}

/* read every result of the pipeline, leave pipeline mode; false on any error */
static bool
flush_pipeline(LdApply *apply)
{
	PGconn	   *conn = apply->conn;
	bool		ok;
	int			i;

	ok = (apply->nexecuted == 0 && apply->nitems > 0 &&
		  apply->items[(apply->first_item + apply->nitems - 1) % APPLY_PIPELINE_ITEMS].kind == ITEM_SYNC) ||
		send_sync(apply);
	if (ok)
		ok = read_results(apply, 0);
	for (i = 0; i < apply->nstatements_cached; i++)
		apply->statements[i].sent = false;
	apply->first_item = 0;
	apply->nitems = 0;
	apply->nsyncs = 0;
	apply->nexecuted = 0;
	apply->in_pipeline = false;
	if (!ok)
	{
		/* the connection is broken; the batch's transaction is lost with it */
		return false;
	}
	if (PQexitPipelineMode(conn) != 1)
	{
		apply_error(apply, PQerrorMessage(conn));
		return false;
	}
	return !apply->failed;
}

bool
ld_apply_flush(LdApply *apply)
{
	PGresult   *res;
	bool		ok;

	if (!flush_run(apply))
		return false;
	if (apply->in_pipeline)
		return flush_pipeline(apply);
	if (apply->nqueued == 0)
		return true;
	if (PQExpBufferBroken(&apply->queued))
	{
		sky_log(SKY_LOG_ERROR, "out of memory queueing statements");
		return false;
	}
	res = PQexec(apply->conn, apply->queued.data);
	ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
		PQresultStatus(res) == PGRES_TUPLES_OK;
	if (!ok)
		sky_log(SKY_LOG_ERROR, "applying events failed: %s",
				PQerrorMessage(apply->conn));
	PQclear(res);
	resetPQExpBuffer(&apply->queued);
	apply->nqueued = 0;
	return ok;
}

bool
ld_apply_sql(LdApply *apply, const char *sql)
{
	if (!flush_run(apply))
		return false;
	if (apply->in_pipeline && !flush_pipeline(apply))
		return false;
	if (apply->nqueued > 0)
		appendPQExpBufferChar(&apply->queued, '\n');
	appendPQExpBufferStr(&apply->queued, sql);
	apply->nqueued++;
	if (apply->nqueued >= APPLY_GROUP_SIZE)
		return ld_apply_flush(apply);
	return true;
}

/* the index of sql among the batch's statements, added if new */
static int
statement_index(LdApply *apply, const char *sql)
{
	int			i;

	if (apply->last_stmt >= 0 &&
		strcmp(apply->statements[apply->last_stmt].sql, sql) == 0)
		return apply->last_stmt;
	for (i = 0; i < apply->nstatements_cached; i++)
		if (strcmp(apply->statements[i].sql, sql) == 0)
			return apply->last_stmt = i;
	if (apply->nstatements_cached == apply->statements_size)
	{
		apply->statements_size = apply->statements_size ? apply->statements_size * 2 : 16;
		apply->statements = pg_realloc(apply->statements,
									   sizeof(ApplyStatement) * apply->statements_size);
	}
	apply->statements[i].sql = pg_strdup(sql);
	apply->statements[i].prepared = false;
	apply->statements[i].sent = false;
	apply->nstatements_cached++;
	return apply->last_stmt = i;
}

/* the batch has failed: leave pipeline mode, so that it can be rolled back */
static bool
abandon_pipeline(LdApply *apply)
{
	if (apply->in_pipeline)
		(void) flush_pipeline(apply);
	return false;
}

static bool
send_failed(LdApply *apply)
{
	apply_error(apply, PQerrorMessage(apply->conn));
	flush_pipeline(apply);
	return false;
}

bool
ld_apply_prepared(LdApply *apply, const char *sql, int nparams,
				  const char *const *values)
{
	return flush_run(apply) && queue_prepared(apply, sql, nparams, values);
}

static bool
queue_prepared(LdApply *apply, const char *sql, int nparams,
			   const char *const *values)
{
	PGconn	   *conn = apply->conn;
	ApplyStatement *stmt;
	char		name[32];
	int			idx;

	if (apply->nqueued > 0 && !ld_apply_flush(apply))
		return false;
	if (apply->failed)
		return abandon_pipeline(apply);
	if (!apply->in_pipeline)
	{
		if (PQenterPipelineMode(conn) != 1)
		{
			apply_error(apply, PQerrorMessage(conn));
			return false;
		}
		apply->in_pipeline = true;
		if (apply->need_deallocate)
		{
			if (PQsendQueryParams(conn, "deallocate all", 0, NULL, NULL, NULL, NULL, 0) != 1)
				return send_failed(apply);
			push_item(apply, ITEM_DEALLOCATE, -1);
		}
	}
	idx = statement_index(apply, sql);
	stmt = &apply->statements[idx];
	snprintf(name, sizeof(name), "ld_apply_%d", idx);
	if (!stmt->prepared && !stmt->sent)
	{
		if (PQsendPrepare(conn, name, sql, nparams, NULL) != 1)
			return send_failed(apply);
		stmt->sent = true;
		push_item(apply, ITEM_PREPARE, idx);
	}
	if (PQsendQueryPrepared(conn, name, nparams, values, NULL, NULL, 0) != 1)
		return send_failed(apply);
	push_item(apply, ITEM_EXECUTE, -1);
	apply->nexecuted++;
	if (apply->nexecuted >= APPLY_PIPELINE_SIZE)
	{
		if (!send_sync(apply) ||
			!read_results(apply, APPLY_PIPELINE_DEPTH))
			return send_failed(apply);
	}
	if (apply->failed)
		return abandon_pipeline(apply);
	return true;
}

static void
discard_run(LdApply *apply)
{
	int			i;

	for (i = 0; i < apply->run_rows * apply->run_ncolumns; i++)
		pg_free(apply->run_values[i]);
	apply->run_rows = 0;
	if (apply->run_casts != NULL)
		for (i = 0; i < apply->run_ncolumns; i++)
			pg_free(apply->run_casts[i]);
	pg_free(apply->run_casts);
	apply->run_casts = NULL;
	pg_free(apply->run_tail);
	apply->run_tail = NULL;
	pg_free(apply->run_head);
	apply->run_head = NULL;
}

/* the rows collected, as multi-row statements into the pipeline */
static bool
flush_run(LdApply *apply)
{
	static const int run_sizes[] = {APPLY_RUN_ROWS, 16, 4, 1};
	int			ncolumns = apply->run_ncolumns;
	int			done = 0;
	bool		ok = true;
	char	   *head = apply->run_head;
	PQExpBufferData sql;

	if (head == NULL)
		return true;
	/* taken off: what the statements below flush first is not this run */
	apply->run_head = NULL;
	initPQExpBuffer(&sql);
	while (ok && done < apply->run_rows)
	{
		int			left = apply->run_rows - done;
		int			rows = 1;
		int			param = 0;
		int			i;
		int			r;

		/* few prepared shapes: the largest size that fits */
		for (i = 0; i < lengthof(run_sizes); i++)
			if (run_sizes[i] <= left &&
				run_sizes[i] * ncolumns <= MAX_STATEMENT_PARAMS)
			{
				rows = run_sizes[i];
				break;
			}
		resetPQExpBuffer(&sql);
		appendPQExpBufferStr(&sql, head);
		for (r = 0; r < rows; r++)
		{
			if (r > 0)
				appendPQExpBufferStr(&sql, ", ");
			if (apply->run_parens)
				appendPQExpBufferChar(&sql, '(');
			for (i = 0; i < ncolumns; i++)
			{
				appendPQExpBuffer(&sql, i > 0 ? ", $%d" : "$%d", ++param);
				if (apply->run_casts != NULL)
					appendPQExpBuffer(&sql, "::%s", apply->run_casts[i]);
			}
			if (apply->run_parens)
				appendPQExpBufferChar(&sql, ')');
		}
		appendPQExpBufferStr(&sql, apply->run_tail);
		ok = queue_prepared(apply, sql.data, rows * ncolumns,
							(const char *const *) &apply->run_values[done * ncolumns]);
		done += rows;
	}
	termPQExpBuffer(&sql);
	apply->run_head = head;
	discard_run(apply);
	return ok;
}

/* does the run hold a row with the key values of values already? */
static bool
run_has_key(LdApply *apply, const char *const *values)
{
	int			ncolumns = apply->run_ncolumns;
	int			r;
	int			i;

	for (r = 0; r < apply->run_rows; r++)
	{
		char	  **row = &apply->run_values[r * ncolumns];

		for (i = apply->run_key_from; i < ncolumns; i++)
			if (row[i] == NULL || values[i] == NULL || strcmp(row[i], values[i]) != 0)
				break;
		if (i == ncolumns)
			return true;
	}
	return false;
}

/*
 * Add a row to the run of statement head and tail (flushing a run of
 * another shape, or one that would touch the same row twice, first).
 */
static bool
add_to_run(LdApply *apply, const char *head, const char *tail, bool parens,
		   const char *const *casts, int key_from, int ncolumns,
		   const char *const *values)
{
	int			i;

	if (apply->run_head != NULL &&
		(strcmp(apply->run_head, head) != 0 || strcmp(apply->run_tail, tail) != 0 ||
		 (key_from >= 0 && run_has_key(apply, values))) &&
		!flush_run(apply))
		return false;
	/* statement text queued before the run goes first */
	if (apply->run_head == NULL && apply->nqueued > 0 && !ld_apply_flush(apply))
		return false;
	if (apply->run_head == NULL)
	{
		apply->run_head = pg_strdup(head);
		apply->run_tail = pg_strdup(tail);
		apply->run_parens = parens;
		apply->run_key_from = key_from;
		apply->run_ncolumns = ncolumns;
		if (casts != NULL)
		{
			apply->run_casts = pg_malloc(sizeof(char *) * ncolumns);
			for (i = 0; i < ncolumns; i++)
				apply->run_casts[i] = pg_strdup(casts[i]);
		}
	}
	if ((apply->run_rows + 1) * ncolumns > apply->run_capacity)
	{
		apply->run_capacity = APPLY_RUN_ROWS * ncolumns;
		apply->run_values = pg_realloc(apply->run_values,
									   sizeof(char *) * apply->run_capacity);
	}
	for (i = 0; i < ncolumns; i++)
		apply->run_values[apply->run_rows * ncolumns + i] =
			values[i] ? pg_strdup(values[i]) : NULL;
	apply->run_rows++;
	if (apply->run_rows == APPLY_RUN_ROWS)
		return flush_run(apply);
	return true;
}

static void
append_column_list(PQExpBuffer buf, int ncolumns, const char *const *columns)
{
	int			i;

	for (i = 0; i < ncolumns; i++)
	{
		if (i > 0)
			appendPQExpBufferStr(buf, ", ");
		ld_append_quoted_ident(buf, columns[i]);
	}
}

bool
ld_apply_insert(LdApply *apply, const char *dest_table, int ncolumns,
				const char *const *columns, const char *const *values,
				const char *insert_sql)
{
	PQExpBufferData head;
	bool		ok;

	if (apply->failed)
		return abandon_pipeline(apply);
	if (ncolumns == 0 || ncolumns > MAX_STATEMENT_PARAMS)
		return ld_apply_prepared(apply, insert_sql, ncolumns, values);
	initPQExpBuffer(&head);
	appendPQExpBufferStr(&head, "insert into ");
	ld_append_quoted_fqname(&head, dest_table);
	appendPQExpBufferStr(&head, " (");
	append_column_list(&head, ncolumns, columns);
	appendPQExpBufferStr(&head, ") values ");
	ok = add_to_run(apply, head.data, "", true, NULL, -1, ncolumns, values);
	termPQExpBuffer(&head);
	return ok;
}

bool
ld_apply_delete(LdApply *apply, const char *dest_table, int nkeys,
				const char *const *keys, const char *const *values,
				const char *delete_sql)
{
	PQExpBufferData head;
	bool		ok;

	if (apply->failed)
		return abandon_pipeline(apply);
	if (nkeys == 0 || nkeys > MAX_STATEMENT_PARAMS)
		return ld_apply_prepared(apply, delete_sql, nkeys, values);
	initPQExpBuffer(&head);
	appendPQExpBufferStr(&head, "delete from only ");
	ld_append_quoted_fqname(&head, dest_table);
	appendPQExpBufferStr(&head, nkeys > 1 ? " where (" : " where ");
	append_column_list(&head, nkeys, keys);
	appendPQExpBufferStr(&head, nkeys > 1 ? ") in (" : " in (");
	ok = add_to_run(apply, head.data, ")", nkeys > 1, NULL, -1, nkeys, values);
	termPQExpBuffer(&head);
	return ok;
}

/* the column types of dest_table, read once per batch; NULL on error */
static TableTypes *
table_types(LdApply *apply, const char *dest_table)
{
	PQExpBufferData qname;
	const char *params[1];
	PGresult   *res;
	TableTypes *t;
	int			i;

	for (i = 0; i < apply->ntypes; i++)
		if (strcmp(apply->types[i].dest_table, dest_table) == 0)
			return &apply->types[i];

	if (!flush_run(apply) || (apply->in_pipeline && !flush_pipeline(apply)) ||
		(apply->nqueued > 0 && !ld_apply_flush(apply)))
		return NULL;
	initPQExpBuffer(&qname);
	ld_append_quoted_fqname(&qname, dest_table);
	params[0] = qname.data;
	res = PQexecParams(apply->conn,
					   "select a.attname, pg_catalog.format_type(a.atttypid, NULL)"
					   " from pg_catalog.pg_attribute a"
					   " where a.attrelid operator(pg_catalog.=) pg_catalog.to_regclass($1)"
					   " and a.attnum operator(pg_catalog.>) 0 and not a.attisdropped",
					   1, NULL, params, NULL, NULL, 0);
	termPQExpBuffer(&qname);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		apply_error(apply, PQerrorMessage(apply->conn));
		PQclear(res);
		return NULL;
	}
	apply->types = pg_realloc(apply->types, sizeof(TableTypes) * (apply->ntypes + 1));
	t = &apply->types[apply->ntypes++];
	t->dest_table = pg_strdup(dest_table);
	t->ncolumns = PQntuples(res);
	t->names = pg_malloc(sizeof(char *) * (t->ncolumns + 1));
	t->types = pg_malloc(sizeof(char *) * (t->ncolumns + 1));
	for (i = 0; i < t->ncolumns; i++)
	{
		t->names[i] = pg_strdup(PQgetvalue(res, i, 0));
		t->types[i] = pg_strdup(PQgetvalue(res, i, 1));
	}
	PQclear(res);
	return t;
}

static const char *
column_type(const TableTypes *t, const char *column)
{
	int			i;

	for (i = 0; i < t->ncolumns; i++)
		if (strcmp(t->names[i], column) == 0)
			return t->types[i];
	return NULL;
}

bool
ld_apply_update(LdApply *apply, const char *dest_table, int nset,
				const char *const *set_columns, int nkeys,
				const char *const *keys, const char *const *values,
				const char *update_sql)
{
	int			ncolumns = nset + nkeys;
	TableTypes *t;
	const char **casts;
	PQExpBufferData head;
	PQExpBufferData tail;
	bool		ok = true;
	int			i;

	if (apply->failed)
		return abandon_pipeline(apply);
	if (nset == 0 || nkeys == 0 || ncolumns > MAX_STATEMENT_PARAMS)
		return ld_apply_prepared(apply, update_sql, ncolumns, values);
	t = table_types(apply, dest_table);
	if (t == NULL)
		return false;
	casts = pg_malloc(sizeof(char *) * ncolumns);
	for (i = 0; i < ncolumns && ok; i++)
		ok = (casts[i] = column_type(t, i < nset ? set_columns[i] : keys[i - nset])) != NULL;
	if (!ok)
	{
		/* a column the table lacks: the single-row UPDATE reports it */
		pg_free(casts);
		return ld_apply_prepared(apply, update_sql, ncolumns, values);
	}

	initPQExpBuffer(&head);
	appendPQExpBufferStr(&head, "update only ");
	ld_append_quoted_fqname(&head, dest_table);
	appendPQExpBufferStr(&head, " as ld_t set ");
	for (i = 0; i < nset; i++)
	{
		if (i > 0)
			appendPQExpBufferStr(&head, ", ");
		ld_append_quoted_ident(&head, set_columns[i]);
		appendPQExpBuffer(&head, " = ld_v.c%d", i + 1);
	}
	appendPQExpBufferStr(&head, " from (values ");
	initPQExpBuffer(&tail);
	appendPQExpBufferStr(&tail, ") as ld_v(");
	for (i = 0; i < ncolumns; i++)
		appendPQExpBuffer(&tail, i > 0 ? ", c%d" : "c%d", i + 1);
	appendPQExpBufferStr(&tail, ") where ");
	for (i = 0; i < nkeys; i++)
	{
		if (i > 0)
			appendPQExpBufferStr(&tail, " and ");
		appendPQExpBufferStr(&tail, "ld_t.");
		ld_append_quoted_ident(&tail, keys[i]);
		appendPQExpBuffer(&tail, " = ld_v.c%d", nset + i + 1);
	}
	ok = add_to_run(apply, head.data, tail.data, true, casts, nset, ncolumns,
					values);
	termPQExpBuffer(&head);
	termPQExpBuffer(&tail);
	pg_free(casts);
	return ok;
}

/*
 * The connection, out of pipeline mode.  Handlers flush before they use
 * it; should one not, its statements still run after the queued ones (a
 * failure there is logged and aborts the batch's transaction).
 */
PGconn *
ld_apply_conn(LdApply *apply)
{
	(void) flush_run(apply);
	if (apply->in_pipeline)
		(void) flush_pipeline(apply);
	return apply->conn;
}
