/*-------------------------------------------------------------------------
 *
 * apply.c
 *	  LdApply: the SQL sink the handlers write a batch's statements into.
 *
 * Two ways in, kept in the order they were queued:
 *
 * - ld_apply_sql(): statement text, sent joined by newlines, up to 200 at
 *   a time, as one simple query (one round trip for many statements).
 * - ld_apply_prepared(): a statement with $n parameters and its values.
 *   Each statement text is prepared once per batch and the executions are
 *   sent in libpq's pipeline mode, up to APPLY_PIPELINE_SIZE per round
 *   trip: the server parses and plans a row shape once instead of once
 *   per row, and the values travel as parameters, never as SQL text.
 *
 * Switching from one way to the other flushes what the other queued, so
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
#include "londiste3/worker/worker.h"
#include "pqexpbuffer.h"

/* statements per round trip, as python3-londiste groups them */
#define APPLY_GROUP_SIZE 200

/*
 * Executions per pipeline round trip.  The client does not read while it
 * sends, so the server's replies to one pipeline (some 40 bytes a row)
 * must fit in the socket buffers: 500 rows stay far below their size.
 */
#define APPLY_PIPELINE_SIZE 500

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
} PipelineItemKind;

typedef struct PipelineItemRec
{
	PipelineItemKind kind;
	int			stmt;			/* ITEM_PREPARE: index in statements */
} PipelineItemRec;

struct LdApply
{
	PGconn	   *conn;
	PQExpBufferData queued;
	int			nqueued;
	int64_t		nstatements;	/* sent in this batch, for the log */

	ApplyStatement *statements;
	int			nstatements_cached;
	int			statements_size;
	bool		need_deallocate;	/* statements of ours may exist on conn */
	int			last_stmt;		/* lookup shortcut: runs share a shape */

	bool		in_pipeline;
	PipelineItemRec *items;
	int			nitems;
	int			nexecuted;		/* ITEM_EXECUTE among items */
};

LdApply *
ld_apply_new(void)
{
	LdApply    *apply = pg_malloc0(sizeof(LdApply));

	initPQExpBuffer(&apply->queued);
	apply->items = pg_malloc(sizeof(PipelineItemRec) * (APPLY_PIPELINE_SIZE * 2 + 1));
	apply->last_stmt = -1;
	return apply;
}

void
ld_apply_forget_statements(LdApply *apply)
{
	int			i;

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
	apply->nstatements = 0;
	apply->nitems = 0;
	apply->nexecuted = 0;
	apply->in_pipeline = false;
	ld_apply_forget_statements(apply);
}

int64_t
ld_apply_count(const LdApply *apply)
{
	return apply->nstatements + apply->nqueued + apply->nexecuted;
}

/* read the pipeline's results, leave pipeline mode; false on any error */
static bool
flush_pipeline(LdApply *apply)
{
	PGconn	   *conn = apply->conn;
	bool		ok = true;
	int			nnull;
	int			i;

	if (PQpipelineSync(conn) != 1)
	{
		sky_log(SKY_LOG_ERROR, "applying events failed: %s", PQerrorMessage(conn));
		ok = false;
	}
	for (i = 0; ok && i < apply->nitems; i++)
	{
		PipelineItemRec *item = &apply->items[i];
		PGresult   *res = PQgetResult(conn);
		ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

		if (status == PGRES_COMMAND_OK)
		{
			if (item->kind == ITEM_PREPARE)
				apply->statements[item->stmt].prepared = true;
			else if (item->kind == ITEM_DEALLOCATE)
				apply->need_deallocate = false;
		}
		else if (status != PGRES_PIPELINE_ABORTED)
		{
			sky_log(SKY_LOG_ERROR, "applying events failed: %s",
					res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
			if (res == NULL)
				ok = false;
		}
		PQclear(res);
		if (status != PGRES_COMMAND_OK)
			ok = false;
		/* each statement's results end with a NULL */
		if (res != NULL)
		{
			while ((res = PQgetResult(conn)) != NULL)
				PQclear(res);
		}
	}
	for (i = 0; i < apply->nstatements_cached; i++)
		apply->statements[i].sent = false;
	apply->nstatements += apply->nexecuted;
	apply->nitems = 0;
	apply->nexecuted = 0;
	apply->in_pipeline = false;

	/*
	 * The rest, up to the sync, is skipped by the server after an error.
	 * Two NULLs in a row: nothing more is coming.
	 */
	nnull = 0;
	while (PQpipelineStatus(conn) != PQ_PIPELINE_OFF &&
		   PQexitPipelineMode(conn) != 1)
	{
		PGresult   *res = PQgetResult(conn);

		if (res == NULL && (++nnull > 1 || PQstatus(conn) == CONNECTION_BAD))
		{
			sky_log(SKY_LOG_ERROR, "leaving pipeline mode failed: %s",
					PQerrorMessage(conn));
			return false;
		}
		if (res != NULL)
			nnull = 0;
		PQclear(res);
	}
	return ok;
}

bool
ld_apply_flush(LdApply *apply)
{
	PGresult   *res;
	bool		ok;

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
	apply->nstatements += apply->nqueued;
	resetPQExpBuffer(&apply->queued);
	apply->nqueued = 0;
	return ok;
}

bool
ld_apply_sql(LdApply *apply, const char *sql)
{
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

static bool
send_failed(LdApply *apply)
{
	sky_log(SKY_LOG_ERROR, "applying events failed: %s", PQerrorMessage(apply->conn));
	flush_pipeline(apply);
	return false;
}

bool
ld_apply_prepared(LdApply *apply, const char *sql, int nparams,
				  const char *const *values)
{
	PGconn	   *conn = apply->conn;
	ApplyStatement *stmt;
	char		name[32];
	int			idx;

	if (apply->nqueued > 0 && !ld_apply_flush(apply))
		return false;
	if (!apply->in_pipeline)
	{
		if (PQenterPipelineMode(conn) != 1)
		{
			sky_log(SKY_LOG_ERROR, "applying events failed: %s", PQerrorMessage(conn));
			return false;
		}
		apply->in_pipeline = true;
		if (apply->need_deallocate)
		{
			if (PQsendQueryParams(conn, "deallocate all", 0, NULL, NULL, NULL, NULL, 0) != 1)
				return send_failed(apply);
			apply->items[apply->nitems++].kind = ITEM_DEALLOCATE;
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
		apply->items[apply->nitems].kind = ITEM_PREPARE;
		apply->items[apply->nitems++].stmt = idx;
	}
	if (PQsendQueryPrepared(conn, name, nparams, values, NULL, NULL, 0) != 1)
		return send_failed(apply);
	apply->items[apply->nitems++].kind = ITEM_EXECUTE;
	apply->nexecuted++;
	if (apply->nexecuted >= APPLY_PIPELINE_SIZE)
		return flush_pipeline(apply);
	return true;
}

/*
 * The connection, out of pipeline mode.  Handlers flush before they use
 * it; should one not, its statements still run after the queued ones (a
 * failure there is logged and aborts the batch's transaction).
 */
PGconn *
ld_apply_conn(LdApply *apply)
{
	if (apply->in_pipeline)
		(void) flush_pipeline(apply);
	return apply->conn;
}
