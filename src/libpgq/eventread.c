/*-------------------------------------------------------------------------
 *
 * eventread.c
 *	  Reading the events of a batch from the source database, one page at
 *	  a time, with the next pages already on their way.
 *
 * With pgq_lazy_fetch = N > 0 the events come from the cursor that
 * pgq.get_batch_cursor opens, N rows per FETCH.  As soon as the pages
 * asked for are in, the FETCHes of the next FETCHES_AHEAD pages are sent
 * in one message without waiting for them, so that the server reads and
 * sends those rows while the program works on the current page, and a
 * round trip is paid once per FETCHES_AHEAD pages.  libpq builds one page
 * at a time: the rows of the others wait in the socket and the server.
 *
 * With pgq_lazy_fetch = 0 the one query of pgq.get_batch_events runs in
 * libpq's single-row mode: the rows are used as they arrive instead of
 * after the whole batch has been stored, which saves the client most of
 * its memory and CPU.
 *
 * The first read is sent as soon as the batch is taken, before the
 * consumer flavour checks the batch on the target and before the program
 * runs: the source server sorts the batch meanwhile.
 *
 * Either way the source connection is busy with the library's read while
 * the program runs.  A program that asks for the source connection during
 * the batch (pgq_consumer_connection) gets it free: the rest of the read
 * on its way is collected into one result first, and the batch is read
 * without read-ahead from then on.
 *
 * src/libpgq/eventread.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "libpgq_int.h"

/* the cursor pgq.get_batch_cursor opens for the batch; COMMIT ends it */
#define CURSOR_NAME "batch_walker"
#define CURSOR_SQL "select * from pgq.get_batch_cursor($1, $2, $3, $4)"
#define FETCH_SQL_FORMAT "FETCH %d FROM " CURSOR_NAME

/* pages asked for in one message */
#define FETCHES_AHEAD 4

/* the event columns, in the order of PgqBatch.columns */
static const char *const event_columns[] = {
	"ev_id", "ev_txid", "ev_retry", "ev_time", "ev_type", "ev_data",
	"ev_extra1", "ev_extra2", "ev_extra3", "ev_extra4"
};

/* a value of a result, 0 or NULL when SQL NULL or the column is absent */
int64_t
pgq_value_int64(const PGresult *res, int row, int col)
{
	if (col < 0 || PQgetisnull(res, row, col))
		return 0;
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

const char *
pgq_value_text(const PGresult *res, int row, int col)
{
	if (col < 0 || PQgetisnull(res, row, col))
		return NULL;
	return PQgetvalue(res, row, col);
}

/* pgq.get_batch_events with the consumer's filter; pg_free() it */
static char *
stream_sql(PgqConsumer *consumer)
{
	return psprintf("select * from pgq.get_batch_events($1)%s%s",
					consumer->event_filter ? " where " : "",
					consumer->event_filter ? consumer->event_filter : "");
}

/* The error of the read on its way, in pgq_query()'s form */
static void
read_error(PgqBatch *batch)
{
	PgqConsumer *consumer = batch->consumer;
	char	   *sql;

	if (batch->pending == PGQ_READ_OPEN)
		sql = pg_strdup(CURSOR_SQL);
	else if (batch->pending == PGQ_READ_STREAM)
		sql = stream_sql(consumer);
	else
		sql = psprintf(FETCH_SQL_FORMAT, consumer->lazy_fetch);
	pgq_query_error(consumer, batch->src, sql);
	pg_free(sql);
	batch->failed = true;
}

/* Send the FETCHes of the next pages; see the header. */
static bool
send_fetch(PgqBatch *batch)
{
	PQExpBufferData sql;
	bool		sent;

	initPQExpBuffer(&sql);
	for (int i = 0; i < FETCHES_AHEAD; i++)
	{
		appendPQExpBuffer(&sql, FETCH_SQL_FORMAT, batch->consumer->lazy_fetch);
		appendPQExpBufferStr(&sql, ";");
	}
	sent = PQsendQuery(batch->src, sql.data) == 1;
	termPQExpBuffer(&sql);
	batch->pending = PGQ_READ_FETCH;
	batch->fetches_due = FETCHES_AHEAD;
	if (!sent)
	{
		read_error(batch);
		batch->pending = PGQ_READ_NONE;
		batch->fetches_due = 0;
	}
	return sent;
}

/* Start pgq.get_batch_events in single-row mode. */
static bool
send_stream(PgqBatch *batch)
{
	PgqConsumer *consumer = batch->consumer;
	char		id[32];
	const char *params[1] = {id};
	char	   *sql;
	bool		sent;

	snprintf(id, sizeof(id), "%lld", (long long) batch->info.batch_id);
	sql = stream_sql(consumer);
	sent = PQsendQueryParams(batch->src, sql, 1, NULL, params, NULL, NULL, 0) == 1 &&
		PQsetSingleRowMode(batch->src) == 1;
	if (!sent)
		pgq_query_error(consumer, batch->src, sql);
	pg_free(sql);
	if (sent)
		batch->pending = PGQ_READ_STREAM;
	else
		batch->failed = true;
	return sent;
}

/* Open the batch's cursor, which also brings its first page. */
static bool
send_open(PgqBatch *batch)
{
	PgqConsumer *consumer = batch->consumer;
	char		id[32];
	char		size[16];
	const char *params[4] = {id, CURSOR_NAME, size, consumer->event_filter};

	snprintf(id, sizeof(id), "%lld", (long long) batch->info.batch_id);
	snprintf(size, sizeof(size), "%d", consumer->lazy_fetch);
	if (PQsendQueryParams(batch->src, CURSOR_SQL, 4, NULL, params, NULL, NULL, 0) != 1)
	{
		pgq_query_error(consumer, batch->src, CURSOR_SQL);
		batch->failed = true;
		return false;
	}
	batch->pending = PGQ_READ_OPEN;
	batch->fetches_due = 1;
	return true;
}

/* Send the batch's first read without waiting for it; see the header. */
bool
pgq_batch_start_read(PgqBatch *batch)
{
	if (batch->consumer->lazy_fetch > 0)
		return send_open(batch);
	return send_stream(batch);
}

/* An empty result with the columns of "like", to collect rows into */
static PGresult *
empty_like(PgqBatch *batch, const PGresult *like)
{
	int			n = PQnfields(like);
	PGresAttDesc *attrs = pg_malloc0(sizeof(PGresAttDesc) * (n > 0 ? n : 1));
	PGresult   *res = PQmakeEmptyPGresult(batch->src, PGRES_TUPLES_OK);

	for (int i = 0; i < n; i++)
	{
		attrs[i].name = PQfname(like, i);
		attrs[i].tableid = PQftable(like, i);
		attrs[i].columnid = PQftablecol(like, i);
		attrs[i].format = PQfformat(like, i);
		attrs[i].typid = PQftype(like, i);
		attrs[i].typlen = PQfsize(like, i);
		attrs[i].atttypmod = PQfmod(like, i);
	}
	if (res != NULL && !PQsetResultAttrs(res, n, attrs))
	{
		PQclear(res);
		res = NULL;
	}
	pg_free(attrs);
	return res;
}

static bool
append_rows(PGresult *to, const PGresult *from)
{
	for (int r = 0; r < PQntuples(from); r++)
	{
		int			row = PQntuples(to);

		for (int i = 0; i < PQnfields(from); i++)
			if (!PQsetvalue(to, row, i,
							PQgetisnull(from, r, i) ? NULL : PQgetvalue(from, r, i),
							PQgetlength(from, r, i)))
				return false;
	}
	return true;
}

/*
 * Take what is on its way on the source connection, so that the
 * connection is free for other statements.  With keep, the rows become
 * batch->next_page (a single-row read: all its remaining rows); without,
 * they are dropped.  False with the error set (and the batch failed) if
 * the read failed.
 */
bool
pgq_batch_settle(PgqBatch *batch, bool keep)
{
	PGresult   *res;
	PGresult   *rows = NULL;
	bool		ok = true;
	bool		complete = false;

	if (batch->pending == PGQ_READ_NONE)
		return true;
	while ((res = PQgetResult(batch->src)) != NULL)
	{
		ExecStatusType status = PQresultStatus(res);

		if (ok && status == PGRES_TUPLES_OK && keep && rows == NULL)
		{
			/* the first page of FETCHes, or the end of a single-row read */
			complete = true;
			rows = res;
			continue;
		}
		if (ok && (status == PGRES_SINGLE_TUPLE || status == PGRES_TUPLES_OK))
		{
			complete = complete || status == PGRES_TUPLES_OK;
			if (keep && rows == NULL && (rows = empty_like(batch, res)) == NULL)
				ok = false;
			if (keep && ok && !append_rows(rows, res))
				ok = false;
			if (!ok)
				pgq_set_error(batch->consumer, "out of memory while reading batch %lld",
							  (long long) batch->info.batch_id);
		}
		else if (ok)
		{
			read_error(batch);
			ok = false;
		}
		PQclear(res);
	}
	if (ok && !complete)
	{
		/* no final result: the connection broke */
		read_error(batch);
		ok = false;
	}
	if (batch->pending == PGQ_READ_STREAM)
		batch->fetched_all = true;
	batch->pending = PGQ_READ_NONE;
	batch->fetches_due = 0;
	if (!ok)
	{
		PQclear(rows);
		batch->failed = true;
		return false;
	}
	PQclear(batch->next_page);
	batch->next_page = rows;
	return true;
}

/* The next row of a single-row read, or its empty end; NULL on error */
static PGresult *
next_streamed_row(PgqBatch *batch)
{
	PGresult   *res = PQgetResult(batch->src);
	PGresult   *extra;

	if (res != NULL && PQresultStatus(res) == PGRES_SINGLE_TUPLE)
		return res;
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		read_error(batch);
		PQclear(res);
		/* drop what else comes, so that the connection is free */
		while ((extra = PQgetResult(batch->src)) != NULL)
			PQclear(extra);
		batch->pending = PGQ_READ_NONE;
		return NULL;
	}
	/* the end: nothing but the terminating NULL may follow */
	while ((extra = PQgetResult(batch->src)) != NULL)
		PQclear(extra);
	batch->pending = PGQ_READ_NONE;
	batch->fetched_all = true;
	return res;
}

/*
 * The next page of the FETCHes sent ahead, or the first page, from the
 * opening of the cursor; NULL on error
 */
static PGresult *
next_fetched_page(PgqBatch *batch)
{
	PGresult   *res = PQgetResult(batch->src);
	PGresult   *extra;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		read_error(batch);
		PQclear(res);
		batch->fetches_due = 0;
	}
	else
		batch->fetches_due--;
	if (batch->fetches_due == 0)
	{
		/* after the last page (or an error) the end of the message */
		while ((extra = PQgetResult(batch->src)) != NULL)
			PQclear(extra);
		batch->pending = PGQ_READ_NONE;
	}
	return batch->failed ? NULL : res;
}

/* Read the next page of events into batch->page. */
static bool
fetch_page(PgqBatch *batch)
{
	PgqConsumer *consumer = batch->consumer;
	PGresult   *res;

	if (batch->next_page != NULL)
	{
		res = batch->next_page;
		batch->next_page = NULL;
	}
	else if (batch->pending == PGQ_READ_OPEN || batch->pending == PGQ_READ_FETCH)
		res = next_fetched_page(batch);
	else if (batch->pending == PGQ_READ_STREAM)
		res = next_streamed_row(batch);
	else
	{
		/*
		 * The cursor is open and nothing is on its way: the program took
		 * the source connection (a stream ends with its last row, so this
		 * is a cursor's read).
		 */
		char	   *sql = psprintf(FETCH_SQL_FORMAT, consumer->lazy_fetch);

		res = pgq_query(consumer, batch->src, sql, 0, NULL);
		pg_free(sql);
	}
	if (res == NULL)
	{
		batch->failed = true;
		return false;
	}
	if (consumer->lazy_fetch > 0 && PQntuples(res) < consumer->lazy_fetch)
		batch->fetched_all = true;
	PQclear(batch->page);
	batch->page = res;
	batch->page_row = 0;
	/* every page of a batch has the same columns */
	if (!batch->columns_known)
	{
		for (int i = 0; i < lengthof(event_columns); i++)
			batch->columns[i] = PQfnumber(res, event_columns[i]);
		batch->columns_known = true;
	}
	if (consumer->lazy_fetch > 0 && batch->read_ahead && !batch->fetched_all &&
		batch->pending == PGQ_READ_NONE && !send_fetch(batch))
		return false;
	return true;
}

const PgqEvent *
pgq_batch_next_event(PgqBatch *batch)
{
	PGresult   *res;
	int			row;
	const int  *col;
	PgqEvent   *ev = &batch->event;

	if (batch->failed)
		return NULL;
	while (batch->page == NULL || batch->page_row >= PQntuples(batch->page))
	{
		if (batch->page != NULL && batch->fetched_all && batch->next_page == NULL)
			return NULL;
		if (!fetch_page(batch))
			return NULL;
	}
	res = batch->page;
	row = batch->page_row++;
	col = batch->columns;
	ev->id = pgq_value_int64(res, row, col[0]);
	ev->txid = pgq_value_int64(res, row, col[1]);
	ev->retry = (col[2] < 0 || PQgetisnull(res, row, col[2])) ? -1 :
		(int) pgq_value_int64(res, row, col[2]);
	ev->time = pgq_value_text(res, row, col[3]);
	ev->type = pgq_value_text(res, row, col[4]);
	ev->data = pgq_value_text(res, row, col[5]);
	ev->extra1 = pgq_value_text(res, row, col[6]);
	ev->extra2 = pgq_value_text(res, row, col[7]);
	ev->extra3 = pgq_value_text(res, row, col[8]);
	ev->extra4 = pgq_value_text(res, row, col[9]);
	batch->count++;
	return ev;
}
