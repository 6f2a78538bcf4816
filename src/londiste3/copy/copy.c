/*-------------------------------------------------------------------------
 *
 * copy.c
 *	  The initial copy of one table from the source node into the local
 *	  one (doc/londiste3.md, "Initial copy").
 *
 * The source runs in a REPEATABLE READ transaction: the COPY and the
 * txid_current_snapshot() taken after it see the same data, so the events
 * of transactions the snapshot shows as committed are in the copy and the
 * others are replayed afterwards (snapshot.c).
 *
 * Rows go from "COPY ... TO stdout" on the source straight into "COPY ...
 * FROM stdin" on the destination, one row at a time; nothing holds more
 * than a row (or, for the parallel writers, a 256 KiB block per writer),
 * so a table of any size copies in constant memory.  The destination's
 * constraints, indexes, rules and inheritance are dropped first and made
 * again after the data is in, which is much faster than maintaining them
 * row by row.
 *
 * src/londiste3/copy/copy.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "framework/pqutil.h"
#include "framework/signals.h"
#include "londiste3/copy/copy.h"
#include "londiste3/copy/tablestruct.h"
#include "pqexpbuffer.h"

/* how long to sleep between looks while waiting for a turn, as Python */
#define WAIT_SECONDS 10
/* the default of the table attr max_parallel_copy */
#define DEFAULT_MAX_PARALLEL_COPY 8
/* what the parallel writers get at a time */
#define WRITER_BLOCK_SIZE (256 * 1024)

/* the objects dropped for the copy and made again after it */
#define DROPPED_OBJECTS (LD_OBJ_CONSTRAINT | LD_OBJ_INDEX | LD_OBJ_RULE | LD_OBJ_PARENT)

typedef enum CopyMode
{
	COPY_SINGLE,				/* one transaction: truncate, DDL and data */
	COPY_LEAD,					/* merge lead: truncate and DDL committed first */
	COPY_DATA_ONLY				/* merge follower: data only */
} CopyMode;

/* the local table_info row, as get_table_list() shows it */
typedef struct LocalRow
{
	char	   *state;
	char	   *dropped_ddl;
	char	   *copy_role;
	int			copy_pos;
	int			max_parallel_copy;
} LocalRow;

static void
local_row_clear(LocalRow *row)
{
	pg_free(row->state);
	pg_free(row->dropped_ddl);
	pg_free(row->copy_role);
	memset(row, 0, sizeof(LocalRow));
}

static char *
value_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : pg_strdup(PQgetvalue(res, row, col));
}

/* read the table's local row; false (logged) if it is gone */
static bool
read_local_row(PGconn *dst, const LdCopyRequest *req, LocalRow *row)
{
	const char *params[2] = {req->queue_name, req->table_name};
	PGresult   *res;
	PgqDict    *attrs = NULL;
	const char *value;

	local_row_clear(row);
	res = sky_db_exec(dst,
					  "select merge_state, table_attrs, dropped_ddl, copy_role, copy_pos"
					  " from londiste.get_table_list($1) where table_name = $2 and local",
					  2, params);
	if (res == NULL)
		return false;
	if (PQntuples(res) != 1)
	{
		sky_log(SKY_LOG_WARNING, "Table %s removed from replication", req->table_name);
		PQclear(res);
		return false;
	}
	row->state = value_or_null(res, 0, 0);
	row->dropped_ddl = value_or_null(res, 0, 2);
	row->copy_role = value_or_null(res, 0, 3);
	row->copy_pos = PQgetisnull(res, 0, 4) ? 0 : atoi(PQgetvalue(res, 0, 4));
	row->max_parallel_copy = DEFAULT_MAX_PARALLEL_COPY;
	if (!PQgetisnull(res, 0, 1))
		attrs = pgq_urldecode(PQgetvalue(res, 0, 1));
	if (attrs != NULL && pgq_dict_get(attrs, "max_parallel_copy", &value) &&
		value != NULL && atoi(value) > 0)
		row->max_parallel_copy = atoi(value);
	pgq_dict_free(attrs);
	PQclear(res);
	return true;
}

/* sleep between looks; false if the program was told to stop meanwhile */
static bool
wait_a_while(const char *table_name)
{
	sky_sleep(WAIT_SECONDS);
	if (sky_stop_pending || sky_terminate_pending)
	{
		sky_log(SKY_LOG_INFO, "%s: stopping while waiting to copy", table_name);
		return false;
	}
	return true;
}

/* step 1: wait while the copy role or max_parallel_copy hold this one back */
static bool
wait_for_turn(PGconn *dst, const LdCopyRequest *req, LocalRow *row)
{
	for (;;)
	{
		if (!read_local_row(dst, req, row))
			return false;
		if (row->copy_role != NULL && strcmp(row->copy_role, "wait-copy") == 0)
			sky_log(SKY_LOG_INFO, "waiting for first partition to initialize copy");
		else if (row->copy_pos >= row->max_parallel_copy)
			sky_log(SKY_LOG_INFO, "number of max parallel copies (%d) reached",
					row->max_parallel_copy);
		else
			return true;
		if (!wait_a_while(req->table_name))
			return false;
	}
}

/*
 * ... and until the table is in sync on the source.  Returns the table's
 * name there (its dest_table), or NULL (logged).
 *
 * On a combined root the table is "ok" as soon as it is added, while the
 * merge leaves of the same database are still copying the partitions into
 * it (with triggers off, so none of those rows reach the combined queue):
 * a copy taken then would miss them for good.  So the merge leaves' rows
 * for the same table must be "ok" too.  Python londiste does not wait
 * here.
 */
static char *
wait_for_source(PGconn *src, const LdCopyRequest *req)
{
	const char *params[2] = {req->queue_name, req->table_name};

	for (;;)
	{
		PGresult   *res = sky_db_exec(src,
									  "select t.merge_state, coalesce(t.dest_table, t.table_name),"
									  " exists (select 1 from londiste.table_info p"
									  "   join pgq_node.node_info n on n.queue_name = p.queue_name"
									  "  where n.combined_queue = $1 and p.local"
									  "    and coalesce(p.dest_table, p.table_name) ="
									  "        coalesce(t.dest_table, t.table_name)"
									  "    and p.merge_state is distinct from 'ok')"
									  " from londiste.get_table_list($1) t where t.table_name = $2",
									  2, params);

		if (res == NULL)
			return NULL;
		if (PQntuples(res) != 1)
		{
			sky_log(SKY_LOG_ERROR, "table %s not available on provider", req->table_name);
			PQclear(res);
			return NULL;
		}
		if (!PQgetisnull(res, 0, 0) && strcmp(PQgetvalue(res, 0, 0), "ok") == 0 &&
			strcmp(PQgetvalue(res, 0, 2), "f") == 0)
		{
			char	   *name = pg_strdup(PQgetvalue(res, 0, 1));

			PQclear(res);
			return name;
		}
		PQclear(res);
		sky_log(SKY_LOG_WARNING, "table %s not in sync yet on provider, waiting",
				req->table_name);
		if (!wait_a_while(req->table_name))
			return NULL;
	}
}

/* one or more statements without parameters (stored DDL may be several) */
static bool
run(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		sky_log(SKY_LOG_ERROR, "query failed: %s", PQerrorMessage(conn));
		sky_log(SKY_LOG_DEBUG, "the query was: %s", sql);
		PQclear(res);
		return false;
	}
	PQclear(res);
	return true;
}

/*
 * Leave whatever conn is in (a COPY, a transaction) without keeping
 * anything, so that the connection can be used again.
 */
static void
abandon(PGconn *conn)
{
	PGresult   *res;

	if (conn == NULL || PQstatus(conn) != CONNECTION_OK)
		return;
	if (PQtransactionStatus(conn) == PQTRANS_ACTIVE)
	{
		PGcancel   *cancel = PQgetCancel(conn);
		char		errbuf[256];

		/* in a COPY: stop the server's side, end ours, read to the end */
		if (cancel != NULL)
		{
			(void) PQcancel(cancel, errbuf, sizeof(errbuf));
			PQfreeCancel(cancel);
		}
		(void) PQputCopyEnd(conn, "initial copy abandoned");
		while ((res = PQgetResult(conn)) != NULL)
		{
			if (PQresultStatus(res) == PGRES_COPY_OUT)
			{
				char	   *buf;

				PQclear(res);
				while (PQgetCopyData(conn, &buf, 0) > 0)
					PQfreemem(buf);
				continue;
			}
			if (PQresultStatus(res) == PGRES_COPY_IN)
			{
				/* the end could not be sent: the connection is lost */
				PQclear(res);
				break;
			}
			PQclear(res);
		}
	}
	if (PQtransactionStatus(conn) != PQTRANS_IDLE)
	{
		res = PQexec(conn, "rollback");
		PQclear(res);
	}
}

/* the columns of a table (generated ones cannot be copied), in order */
static PGresult *
column_names(PGconn *conn, const char *fqname)
{
	return sky_db_exec(conn,
					   "select a.attname from pg_catalog.pg_attribute a"
					   " where a.attrelid = londiste.find_table_oid($1)"
					   "   and a.attnum > 0 and not a.attisdropped"
					   "   and a.attgenerated = ''"
					   " order by a.attnum",
					   1, &fqname);
}

static bool
has_column(const PGresult *cols, const char *name)
{
	int			i;

	for (i = 0; i < PQntuples(cols); i++)
		if (strcmp(PQgetvalue(cols, i, 0), name) == 0)
			return true;
	return false;
}

/*
 * The source's columns that the destination has too, quoted and joined by
 * commas, in the source's order; warnings for the others.  NULL (logged)
 * if there is nothing to copy.
 */
static char *
common_columns(PGconn *src, const char *src_table, PGconn *dst,
			   const char *dst_table, const char *table_name)
{
	PGresult   *scols = column_names(src, src_table);
	PGresult   *dcols = scols ? column_names(dst, dst_table) : NULL;
	PQExpBufferData buf;
	char	   *result = NULL;
	int			i;

	if (dcols == NULL)
	{
		PQclear(scols);
		return NULL;
	}
	initPQExpBuffer(&buf);
	for (i = 0; i < PQntuples(scols); i++)
	{
		const char *name = PQgetvalue(scols, i, 0);
		char	   *q;

		if (!has_column(dcols, name))
		{
			sky_log(SKY_LOG_WARNING, "Table %s column %s does not exist on subscriber",
					table_name, name);
			continue;
		}
		q = PQescapeIdentifier(dst, name, strlen(name));
		if (buf.len > 0)
			appendPQExpBufferChar(&buf, ',');
		appendPQExpBufferStr(&buf, q);
		PQfreemem(q);
	}
	for (i = 0; i < PQntuples(dcols); i++)
		if (!has_column(scols, PQgetvalue(dcols, i, 0)))
			sky_log(SKY_LOG_WARNING, "Table %s column %s does not exist on provider",
					table_name, PQgetvalue(dcols, i, 0));
	if (buf.len == 0)
		sky_log(SKY_LOG_ERROR, "Table %s: no common columns to copy", table_name);
	else
		result = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	PQclear(scols);
	PQclear(dcols);
	return result;
}

/* start a COPY on conn; false (logged) if it did not start as expected */
static bool
start_copy(PGconn *conn, const char *sql, ExecStatusType expect)
{
	PGresult   *res = PQexec(conn, sql);

	if (PQresultStatus(res) != expect)
	{
		sky_log(SKY_LOG_ERROR, "%s failed: %s", sql, PQerrorMessage(conn));
		PQclear(res);
		return false;
	}
	PQclear(res);
	return true;
}

/* the end of a COPY FROM after all data was sent */
static bool
finish_copy_in(PGconn *conn, const char *what)
{
	PGresult   *res;
	bool		ok = true;

	if (PQputCopyEnd(conn, NULL) != 1)
	{
		sky_log(SKY_LOG_ERROR, "%s: %s", what, PQerrorMessage(conn));
		return false;
	}
	while ((res = PQgetResult(conn)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			sky_log(SKY_LOG_ERROR, "%s: %s", what, PQerrorMessage(conn));
			ok = false;
		}
		PQclear(res);
	}
	return ok;
}

/* the end of a COPY TO once PQgetCopyData() said there is no more */
static bool
finish_copy_out(PGconn *src, int last)
{
	PGresult   *res;
	bool		ok = last == -1;

	while ((res = PQgetResult(src)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			ok = false;
		PQclear(res);
	}
	if (!ok)
		sky_log(SKY_LOG_ERROR, "reading the source failed: %s", PQerrorMessage(src));
	return ok;
}

/*
 * One row of the COPY TO as the handler wants it copied (obfuscate
 * rewrites rows): into *row, newline-terminated.  Without a rewriting
 * handler the row is sent as it came.
 */
typedef struct RowRewrite
{
	LdHandler  *handler;		/* NULL: rows are not rewritten */
	const LdStringList *cols;	/* the source columns of a row */
	PQExpBufferData row;
} RowRewrite;

static bool
rewrite_row(RowRewrite *rw, const char *buf, int len, const char **out,
			int *outlen)
{
	char	   *line;
	char	   *rewritten;

	if (rw->handler == NULL)
	{
		*out = buf;
		*outlen = len;
		return true;
	}
	line = pnstrdup(buf, len > 0 && buf[len - 1] == '\n' ? len - 1 : len);
	rewritten = ld_handler_copy_row(rw->handler, line, rw->cols);
	pg_free(line);
	if (rewritten == NULL)
		return false;
	resetPQExpBuffer(&rw->row);
	appendPQExpBuffer(&rw->row, "%s\n", rewritten);
	pg_free(rewritten);
	*out = rw->row.data;
	*outlen = rw->row.len;
	return true;
}

/*
 * The rows of the running COPY TO on src into the COPY FROM on dst, as
 * they come.
 */
static bool
stream_rows(PGconn *src, PGconn *dst, RowRewrite *rw, int64_t *bytes,
			int64_t *rows)
{
	char	   *buf;
	int			len;

	while ((len = PQgetCopyData(src, &buf, 0)) > 0)
	{
		const char *out;
		int			outlen;
		int			sent = 0;

		if (rewrite_row(rw, buf, len, &out, &outlen))
			sent = PQputCopyData(dst, out, outlen);
		PQfreemem(buf);
		if (sent != 1)
		{
			sky_log(SKY_LOG_ERROR, "writing the copy failed: %s", PQerrorMessage(dst));
			return false;
		}
		*bytes += len;
		(*rows)++;
	}
	if (!finish_copy_out(src, len))
		return false;
	return finish_copy_in(dst, "writing the copy failed");
}

/*
 * Parallel copy: the rows are sent in blocks of WRITER_BLOCK_SIZE to the
 * writers in turn, each its own session and transaction on the local
 * database, so that the server parses and stores them on several
 * backends.  One loop feeds all writers: a writer's COPY takes a block
 * without waiting unless its socket is full, and then the others are
 * still busy with theirs.  The writers commit only when all succeeded.
 */
static bool
parallel_rows(Londiste *ld, PGconn *src, const char *copy_in, int nwriters,
			  RowRewrite *rw, int64_t *bytes, int64_t *rows)
{
	PGconn	  **writers = pg_malloc0(nwriters * sizeof(PGconn *));
	PQExpBufferData block;
	const char *encoding = PQparameterStatus(src, "client_encoding");
	int			next = 0;
	int			len = 0;
	int			i;
	bool		ok = true;
	char	   *buf;

	initPQExpBuffer(&block);
	for (i = 0; i < nwriters && ok; i++)
	{
		writers[i] = ld_connect(ld, ld->db, false);
		ok = writers[i] != NULL &&
			(encoding == NULL || PQsetClientEncoding(writers[i], encoding) == 0) &&
			run(writers[i], "begin") &&
			run(writers[i], "select londiste.set_session_replication_role('replica', true)") &&
			start_copy(writers[i], copy_in, PGRES_COPY_IN);
	}
	while (ok && (len = PQgetCopyData(src, &buf, 0)) > 0)
	{
		const char *out;
		int			outlen;

		ok = rewrite_row(rw, buf, len, &out, &outlen);
		if (ok)
			appendBinaryPQExpBuffer(&block, out, outlen);
		PQfreemem(buf);
		if (!ok)
			break;
		*bytes += len;
		(*rows)++;
		if (block.len >= WRITER_BLOCK_SIZE)
		{
			ok = PQputCopyData(writers[next], block.data, block.len) == 1;
			if (!ok)
				sky_log(SKY_LOG_ERROR, "writer %d failed: %s", next + 1,
						PQerrorMessage(writers[next]));
			next = (next + 1) % nwriters;
			resetPQExpBuffer(&block);
		}
	}
	if (ok)
		ok = finish_copy_out(src, len);
	if (ok && block.len > 0)
		ok = PQputCopyData(writers[next], block.data, block.len) == 1;
	for (i = 0; i < nwriters && ok; i++)
		ok = finish_copy_in(writers[i], "writing the copy failed");
	for (i = 0; i < nwriters && ok; i++)
		ok = run(writers[i], "commit");
	for (i = 0; i < nwriters; i++)
	{
		if (!ok)
			abandon(writers[i]);
		PQfinish(writers[i]);
	}
	pg_free(writers);
	termPQExpBuffer(&block);
	return ok;
}

/*
 * The names of a list of quoted identifiers, as common_columns() makes
 * it ("a","b"), into names.
 */
static void
split_columns(const char *columns, LdStringList *names)
{
	const char *p = columns;
	PQExpBufferData name;

	initPQExpBuffer(&name);
	while (*p == '"')
	{
		resetPQExpBuffer(&name);
		for (p++; *p && !(p[0] == '"' && p[1] != '"'); p++)
		{
			if (p[0] == '"')
				p++;			/* a doubled quote */
			appendPQExpBufferChar(&name, *p);
		}
		names->items = pg_realloc(names->items, sizeof(char *) * (names->n + 1));
		names->items[names->n++] = pg_strdup(name.data);
		if (*p == '"')
			p++;
		if (*p == ',')
			p++;
	}
	termPQExpBuffer(&name);
}

/* names as a list of quoted identifiers */
static char *
join_columns(PGconn *conn, const LdStringList *names)
{
	PQExpBufferData buf;
	char	   *result;
	int			i;

	initPQExpBuffer(&buf);
	for (i = 0; i < names->n; i++)
	{
		char	   *q = PQescapeIdentifier(conn, names->items[i], strlen(names->items[i]));

		appendPQExpBuffer(&buf, "%s%s", i > 0 ? "," : "", q);
		PQfreemem(q);
	}
	result = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return result;
}

static void
free_names(LdStringList *names)
{
	int			i;

	for (i = 0; i < names->n; i++)
		pg_free(names->items[i]);
	pg_free(names->items);
}

/* step 4: the rows themselves */
static bool
copy_rows(Londiste *ld, PGconn *src, PGconn *dst, const LdCopyRequest *req,
		  const char *src_table, const char *columns)
{
	char	   *qsrc = ld_quote_fqident(src, src_table, NULL);
	char	   *qdst = ld_quote_fqident(dst, req->dest_table, NULL);
	char	   *condition = NULL;
	char	   *copy_out = NULL;
	char	   *copy_in = NULL;
	LdStringList src_names = {0};
	LdStringList dst_names = {0};
	char	   *src_cols;
	char	   *dst_cols;
	RowRewrite	rw = {0};
	int64_t		bytes = 0;
	int64_t		rows = 0;
	bool		ok = true;

	/* the handler may narrow or rename the columns, or copy nothing */
	split_columns(columns, &src_names);
	split_columns(columns, &dst_names);
	if (req->handler != NULL &&
		!ld_handler_copy_columns(req->handler, &src_names, &dst_names))
	{
		sky_log(SKY_LOG_INFO, "%s: the handler copies no data", req->table_name);
		goto done;
	}
	if (src_names.n == 0)
	{
		sky_log(SKY_LOG_ERROR, "Table %s: the handler leaves no columns to copy",
				req->table_name);
		ok = false;
		goto done;
	}
	if (req->handler != NULL && ld_handler_rewrites_copy(req->handler))
	{
		rw.handler = req->handler;
		rw.cols = &src_names;
		initPQExpBuffer(&rw.row);
	}
	src_cols = join_columns(src, &src_names);
	dst_cols = join_columns(dst, &dst_names);

	if (req->handler != NULL && req->handler->cls->copy_condition != NULL)
		condition = req->handler->cls->copy_condition(req->handler);
	if (condition != NULL && condition[0] != '\0')
		copy_out = psprintf("COPY (SELECT %s FROM ONLY %s WHERE %s) TO stdout",
							src_cols, qsrc, condition);
	else
		copy_out = psprintf("COPY %s (%s) TO stdout", qsrc, src_cols);
	copy_in = psprintf("COPY %s (%s) FROM stdin", qdst, dst_cols);
	pg_free(src_cols);
	pg_free(dst_cols);
	sky_log(SKY_LOG_DEBUG, "%s", copy_out);

	ok = start_copy(src, copy_out, PGRES_COPY_OUT);
	if (ok && req->writers > 0)
	{
		sky_log(SKY_LOG_INFO, "%s: start threaded copy", req->table_name);
		ok = parallel_rows(ld, src, copy_in, req->writers, &rw, &bytes, &rows);
	}
	else if (ok)
	{
		sky_log(SKY_LOG_INFO, "%s: start copy", req->table_name);
		ok = start_copy(dst, copy_in, PGRES_COPY_IN) &&
			stream_rows(src, dst, &rw, &bytes, &rows);
	}
	if (ok)
		sky_log(SKY_LOG_INFO, "%s: copy finished: %lld bytes, %lld rows",
				req->table_name, (long long) bytes, (long long) rows);
done:
	if (rw.handler != NULL)
		termPQExpBuffer(&rw.row);
	free_names(&src_names);
	free_names(&dst_names);
	pg_free(qsrc);
	pg_free(qdst);
	pg_free(condition);
	pg_free(copy_out);
	pg_free(copy_in);
	return ok;
}

/*
 * Step 3 on dst (not for data-only): lock the table, drop what slows the
 * copy down, truncate.  Where the re-create statements must outlive this
 * transaction (lead, or parallel writers that commit on their own), they
 * are added to the table's dropped_ddl, which the copy, the worker or
 * remove-table runs later; *ddl gets them in every case, *dropped what
 * was dropped now.
 */
static bool
prepare_destination(PGconn *dst, const LdCopyRequest *req, LocalRow *row,
					bool keep_ddl, LdTableStruct **dropped, char **ddl)
{
	char	   *qdst = ld_quote_fqident(dst, req->dest_table, NULL);
	char	   *sql;
	LdTableStruct *st;
	char	   *created;
	bool		ok;

	sql = psprintf("lock table %s", qdst);
	ok = run(dst, sql);
	pg_free(sql);
	if (!ok || (st = ld_struct_load(dst, req->dest_table, DROPPED_OBJECTS, NULL, NULL)) == NULL)
	{
		pg_free(qdst);
		return false;
	}
	*dropped = st;
	ok = ld_struct_drop(dst, st, DROPPED_OBJECTS);
	created = ld_struct_create_text(st, DROPPED_OBJECTS);
	/* a retry finds dropped what an earlier attempt kept in dropped_ddl */
	*ddl = psprintf("%s%s", row->dropped_ddl ? row->dropped_ddl : "", created);
	pg_free(created);

	if (ok && req->skip_truncate)
		sky_log(SKY_LOG_INFO, "%s: skipping truncate", req->table_name);
	else if (ok)
	{
		sky_log(SKY_LOG_INFO, "%s: truncating", req->table_name);
		sql = psprintf("truncate only %s", qdst);
		ok = run(dst, sql);
		pg_free(sql);
	}
	if (ok && keep_ddl && (*ddl)[0] != '\0' &&
		(row->dropped_ddl == NULL || strcmp(row->dropped_ddl, *ddl) != 0))
	{
		const char *params[3] = {req->queue_name, req->table_name, *ddl};

		ok = ld_exec_cmd(dst, "select * from londiste.local_set_table_struct($1, $2, $3)",
						 3, params, NULL);
	}
	pg_free(qdst);
	return ok;
}

/* run the stored re-create statements and forget them */
static bool
restore_ddl(PGconn *dst, const LdCopyRequest *req, const char *ddl)
{
	const char *params[2] = {req->queue_name, req->table_name};

	sky_log(SKY_LOG_INFO, "%s: restoring DDL", req->table_name);
	sky_log(SKY_LOG_DEBUG, "%s", ddl);
	return run(dst, ddl) &&
		ld_exec_cmd(dst, "select * from londiste.local_set_table_struct($1, $2, NULL)",
					2, params, NULL);
}

bool
ld_copy_table(Londiste *ld, PGconn *src, PGconn *dst,
			  const LdCopyRequest *req, char **snapshot)
{
	LocalRow	row = {0};
	CopyMode	mode;
	char	   *src_table = NULL;
	char	   *columns = NULL;
	char	   *ddl = NULL;
	LdTableStruct *dropped = NULL;
	char	   *snap = NULL;
	const char *encoding;
	bool		keep_ddl;
	bool		ok = false;

	*snapshot = NULL;
	if (PQtransactionStatus(src) != PQTRANS_IDLE ||
		PQtransactionStatus(dst) != PQTRANS_IDLE)
	{
		sky_log(SKY_LOG_ERROR, "copy of %s: a connection is inside a transaction",
				req->table_name);
		return false;
	}
	if (!wait_for_turn(dst, req, &row) ||
		(src_table = wait_for_source(src, req)) == NULL)
		goto done;

	if (row.copy_role == NULL)
		mode = COPY_SINGLE;
	else if (strcmp(row.copy_role, "lead") == 0)
		mode = COPY_LEAD;
	else
		mode = COPY_DATA_ONLY;
	/* DDL an earlier attempt kept (threaded, or Python's) is kept on too */
	keep_ddl = mode == COPY_LEAD ||
		(mode == COPY_SINGLE && (req->writers > 0 || row.dropped_ddl != NULL));

	/* the snapshot of the first query is the one the COPY sees */
	if (!run(src, "begin transaction isolation level repeatable read"))
		goto done;
	encoding = PQparameterStatus(src, "client_encoding");
	if (encoding != NULL && PQsetClientEncoding(dst, encoding) != 0)
	{
		sky_log(SKY_LOG_ERROR, "cannot set client_encoding %s: %s", encoding,
				PQerrorMessage(dst));
		goto done;
	}

	sky_log(SKY_LOG_INFO, "Starting full copy of %s", req->table_name);
	/* each dropped key commits on its own, so before our transaction */
	if (mode != COPY_DATA_ONLY && !ld_drop_table_fkeys(dst, req->dest_table))
		goto done;
	if (!run(dst, "begin"))
		goto done;
	if (mode != COPY_DATA_ONLY &&
		!prepare_destination(dst, req, &row, keep_ddl, &dropped, &ddl))
		goto done;
	if ((columns = common_columns(src, src_table, dst, req->dest_table,
								  req->table_name)) == NULL)
		goto done;
	/* what was done so far must be visible to the writers' sessions */
	if ((mode == COPY_LEAD || req->writers > 0) &&
		!(run(dst, "commit") && run(dst, "begin")))
		goto done;

	if (!copy_rows(ld, src, dst, req, src_table, columns))
		goto done;

	/* step 5 */
	if ((snap = sky_db_value(src, "select txid_current_snapshot()", 0, NULL)) == NULL ||
		!run(src, "commit"))
		goto done;
	{
		const char *params[4] = {req->queue_name, req->table_name, snap, "catching-up"};

		if (!ld_exec_cmd(dst, "select * from londiste.local_set_table_state($1, $2, $3, $4)",
						 4, params, NULL))
			goto done;
	}
	if (mode == COPY_SINGLE && !keep_ddl &&
		!ld_struct_create(dst, dropped, DROPPED_OBJECTS))
		goto done;
	if (mode == COPY_SINGLE && keep_ddl && ddl[0] != '\0' &&
		!restore_ddl(dst, req, ddl))
		goto done;
	if (!run(dst, "commit"))
		goto done;

	if (mode == COPY_LEAD)
	{
		/* the followers copy now; the structure comes back after them */
		for (;;)
		{
			if (!read_local_row(dst, req, &row))
				goto done;
			if (row.copy_role == NULL)
				break;
			sky_log(SKY_LOG_INFO, "waiting for other partitions to finish copy");
			if (!wait_a_while(req->table_name))
				goto done;
		}
		if (row.dropped_ddl != NULL &&
			!(run(dst, "begin") && restore_ddl(dst, req, row.dropped_ddl) &&
			  run(dst, "commit")))
			goto done;
	}

	/* step 6: a tick soon moves the table on from catching-up */
	if (row.copy_role == NULL || strcmp(row.copy_role, "wait-replay") != 0)
	{
		const char *params[1] = {req->queue_name};
		PGresult   *res = sky_db_exec(src, "select pgq.force_tick($1)", 1, params);

		if (res == NULL)
			goto done;
		PQclear(res);
	}
	*snapshot = snap;
	snap = NULL;
	ok = true;

done:
	if (!ok)
	{
		abandon(src);
		abandon(dst);
		sky_log(SKY_LOG_ERROR, "copy of %s failed", req->table_name);
	}
	local_row_clear(&row);
	pg_free(src_table);
	pg_free(columns);
	pg_free(ddl);
	ld_struct_free(dropped);
	pg_free(snap);
	return ok;
}
