/*-------------------------------------------------------------------------
 *
 * repair.c
 *	  londiste3 repair: walk a table on both sides in primary key order and
 *	  write (or, with --apply, run) the inserts, updates and deletes that
 *	  make the local copy equal to the source.
 *
 * Both sides stream "COPY (SELECT ... ORDER BY <pk>) TO STDOUT" at the
 * same time and are merged row by row; nothing is written to disk but the
 * fix file.  The servers order the rows by the text of each key column as
 * UTF-8 bytes, which is the order the merge compares keys in, and the
 * order python3-londiste's "sort" of its dump files gives for keys
 * without control characters; the statements come out in the same order
 * and with the same text as there.
 *
 * src/londiste3/compare/repair.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <ctype.h>
#include <unistd.h>

#include "framework/log.h"
#include "framework/pqutil.h"
#include "framework/signals.h"
#include "londiste3/compare/repair.h"
#include "londiste3/worker/replay.h"
#include "pqexpbuffer.h"

/* one side's COPY stream and its current row */
typedef struct RepairStream
{
	PGconn	   *conn;
	const char *table;
	char	   *line;			/* the current row as sent, without newline */
	char	  **fields;			/* its fields, still COPY-escaped */
	char	  **keys;			/* its key values, unescaped */
	char	  **prev_keys;		/* the previous row's, to check the order */
	long		rows;
	int64		bytes;
	bool		done;
} RepairStream;

/* the table being repaired */
typedef struct Repair
{
	Londiste   *ld;
	const char *table;			/* local dest_table, as python names files */
	char	   *quoted_table;
	int			ncols;			/* key columns first */
	int			nkeys;
	char	  **quoted_cols;
	PGconn	   *apply;			/* --apply: the local node, replica role */
	char	   *fix_path;
	FILE	   *fix;
	long		inserts;
	long		updates;
	long		deletes;
} Repair;

/*
 * A COPY text field's value: NULL for \N, else the text with the escapes
 * undone (\b \f \n \r \t \v, octal and hex bytes, any other char as is).
 */
static char *
copy_unescape(const char *field)
{
	char	   *out;
	char	   *o;
	const char *p;

	if (strcmp(field, "\\N") == 0)
		return NULL;
	out = o = pg_malloc(strlen(field) + 1);
	for (p = field; *p; p++)
	{
		int			value;
		int			n;

		if (*p != '\\' || p[1] == '\0')
		{
			*o++ = *p;
			continue;
		}
		p++;
		switch (*p)
		{
			case 'b':
				*o++ = '\b';
				break;
			case 'f':
				*o++ = '\f';
				break;
			case 'n':
				*o++ = '\n';
				break;
			case 'r':
				*o++ = '\r';
				break;
			case 't':
				*o++ = '\t';
				break;
			case 'v':
				*o++ = '\v';
				break;
			case '0':
			case '1':
			case '2':
			case '3':
			case '4':
			case '5':
			case '6':
			case '7':
				value = 0;
				for (n = 0; n < 3 && *p >= '0' && *p <= '7'; n++, p++)
					value = value * 8 + (*p - '0');
				p--;
				*o++ = (char) value;
				break;
			case 'x':
				if (isxdigit((unsigned char) p[1]))
				{
					value = 0;
					for (n = 0, p++; n < 2 && isxdigit((unsigned char) *p); n++, p++)
						value = value * 16 +
							(isdigit((unsigned char) *p) ? *p - '0' :
							 (tolower((unsigned char) *p) - 'a' + 10));
					p--;
					*o++ = (char) value;
				}
				else
					*o++ = 'x';
				break;
			default:
				*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* "col = 'v'", or "col is null" in a WHERE clause */
static void
append_match(PQExpBuffer buf, bool first, const char *col, const char *value)
{
	if (!first)
		appendPQExpBufferStr(buf, " and ");
	if (value == NULL)
		appendPQExpBuffer(buf, "%s is null", col);
	else
	{
		appendPQExpBuffer(buf, "%s = ", col);
		ld_append_literal(buf, value);
	}
}

/*
 * Whether two field texts are equal, also when one of two timestamps has
 * a "+hh" zone the other lacks (a timestamptz column on one side and a
 * timestamp column on the other), as python3-londiste allows.
 */
static bool
values_equal(const char *v1, const char *v2)
{
	size_t		z1 = strlen(v1);
	size_t		z2 = strlen(v2);

	if (strcmp(v1, v2) == 0)
		return true;
	if (z1 == z2 + 3 && z2 >= 19 && v1[z2] == '+')
		return strncmp(v1, v2, z2) == 0;
	if (z1 + 3 == z2 && z1 >= 19 && v2[z1] == '+')
		return strncmp(v1, v2, z1) == 0;
	return false;
}

static void
free_values(char **values, int n)
{
	int			i;

	if (values == NULL)
		return;
	for (i = 0; i < n; i++)
		pg_free(values[i]);
	pg_free(values);
}

/* negative, 0, positive as key a sorts before, with, after key b */
static int
compare_keys(char **a, char **b, int nkeys)
{
	int			i;

	for (i = 0; i < nkeys; i++)
	{
		int			c = strcmp(a[i], b[i]);

		if (c != 0)
			return c;
	}
	return 0;
}

/* Read the next row of a stream; at the end, done is set. */
static void
stream_next(Repair *r, RepairStream *s)
{
	char	   *buf;
	int			len;
	int			i;
	char	   *p;

	pg_free(s->line);
	s->line = NULL;
	free_values(s->prev_keys, r->nkeys);
	s->prev_keys = s->keys;
	s->keys = NULL;
	if (s->done)
		return;
	len = PQgetCopyData(s->conn, &buf, 0);
	if (len == -1)
	{
		PGresult   *res = PQgetResult(s->conn);

		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			log_error("COPY of %s failed: %s", s->table, PQerrorMessage(s->conn));
			exit(LD_EXIT_ERROR);
		}
		PQclear(res);
		/* the end of the command's results */
		while ((res = PQgetResult(s->conn)) != NULL)
			PQclear(res);
		s->done = true;
		return;
	}
	if (len < 0)
	{
		log_error("COPY of %s failed: %s", s->table, PQerrorMessage(s->conn));
		exit(LD_EXIT_ERROR);
	}
	s->rows++;
	s->bytes += len;
	s->line = pnstrdup(buf, len > 0 && buf[len - 1] == '\n' ? len - 1 : len);
	PQfreemem(buf);

	/* split a copy of the line at the tabs */
	p = pg_strdup(s->line);
	s->fields[0] = p;
	for (i = 1; i < r->ncols; i++)
	{
		p = strchr(p, '\t');
		if (p == NULL)
		{
			log_error("COPY of %s sent a row of fewer than %d fields: %s",
					  s->table, r->ncols, s->line);
			exit(LD_EXIT_ERROR);
		}
		*p++ = '\0';
		s->fields[i] = p;
	}
	s->keys = pg_malloc0(sizeof(char *) * r->nkeys);
	for (i = 0; i < r->nkeys; i++)
	{
		s->keys[i] = copy_unescape(s->fields[i]);
		if (s->keys[i] == NULL)
		{
			log_error("%s: NULL in primary key column %s", s->table,
					  r->quoted_cols[i]);
			exit(LD_EXIT_ERROR);
		}
	}

	/*
	 * The merge is only right if the server sorted as compare_keys()
	 * compares; a collation or output function surprise stops it here.
	 */
	if (s->prev_keys != NULL && compare_keys(s->prev_keys, s->keys, r->nkeys) >= 0)
	{
		log_error("%s: rows do not arrive in primary key order: %s", s->table,
				  s->line);
		exit(LD_EXIT_ERROR);
	}
}

static void
free_row(RepairStream *s)
{
	if (s->line != NULL && s->fields[0] != NULL)
		pg_free(s->fields[0]);
}

/* Write the statement to the fix file, or run it with --apply. */
static void
emit_fix(Repair *r, const char *kind, const char *sql)
{
	log_debug("missed %s: %s", kind, sql);
	if (r->apply != NULL)
	{
		PGresult   *res = sky_db_exec(r->apply, sql, 0, NULL);

		if (res == NULL)
			exit(LD_EXIT_ERROR);
		PQclear(res);
		return;
	}
	if (r->fix == NULL)
	{
		r->fix = fopen(r->fix_path, "a");
		if (r->fix == NULL)
		{
			log_error("could not open %s: %m", r->fix_path);
			exit(LD_EXIT_ERROR);
		}
	}
	if (fprintf(r->fix, "%s\n", sql) < 0)
	{
		log_error("could not write %s: %m", r->fix_path);
		exit(LD_EXIT_ERROR);
	}
}

static void
missed_insert(Repair *r, RepairStream *src)
{
	PQExpBufferData buf;
	int			i;

	r->inserts++;
	initPQExpBuffer(&buf);
	appendPQExpBuffer(&buf, "insert into %s (", r->quoted_table);
	for (i = 0; i < r->ncols; i++)
		appendPQExpBuffer(&buf, "%s%s", i > 0 ? ", " : "", r->quoted_cols[i]);
	appendPQExpBufferStr(&buf, ") values (");
	for (i = 0; i < r->ncols; i++)
	{
		char	   *value = copy_unescape(src->fields[i]);

		if (i > 0)
			appendPQExpBufferStr(&buf, ", ");
		ld_append_literal(&buf, value);
		pg_free(value);
	}
	appendPQExpBufferStr(&buf, ");");
	emit_fix(r, "insert", buf.data);
	termPQExpBuffer(&buf);
}

/* the update of the columns that differ, matching their old values */
static void
missed_update(Repair *r, RepairStream *src, RepairStream *dst)
{
	PQExpBufferData set;
	PQExpBufferData where;
	PQExpBufferData sql;
	int			nset = 0;
	int			i;

	r->updates++;
	initPQExpBuffer(&set);
	initPQExpBuffer(&where);
	for (i = 0; i < r->nkeys; i++)
		append_match(&where, i == 0, r->quoted_cols[i], src->keys[i]);
	for (i = 0; i < r->ncols; i++)
	{
		char	   *new_value;
		char	   *old_value;

		if (values_equal(src->fields[i], dst->fields[i]))
			continue;
		new_value = copy_unescape(src->fields[i]);
		old_value = copy_unescape(dst->fields[i]);
		appendPQExpBuffer(&set, "%s%s = ", nset++ > 0 ? ", " : "",
						  r->quoted_cols[i]);
		ld_append_literal(&set, new_value);
		append_match(&where, false, r->quoted_cols[i], old_value);
		pg_free(new_value);
		pg_free(old_value);
	}
	initPQExpBuffer(&sql);
	appendPQExpBuffer(&sql, "update only %s set %s where %s;",
					  r->quoted_table, set.data, where.data);
	emit_fix(r, "update", sql.data);
	termPQExpBuffer(&sql);
	termPQExpBuffer(&set);
	termPQExpBuffer(&where);
}

static void
missed_delete(Repair *r, RepairStream *dst)
{
	PQExpBufferData buf;
	int			i;

	r->deletes++;
	initPQExpBuffer(&buf);
	appendPQExpBuffer(&buf, "delete from only %s where ", r->quoted_table);
	for (i = 0; i < r->nkeys; i++)
		append_match(&buf, i == 0, r->quoted_cols[i], dst->keys[i]);
	appendPQExpBufferStr(&buf, ";");
	emit_fix(r, "delete", buf.data);
	termPQExpBuffer(&buf);
}

static bool
rows_differ(Repair *r, RepairStream *src, RepairStream *dst)
{
	int			i;

	for (i = 0; i < r->ncols; i++)
		if (!values_equal(src->fields[i], dst->fields[i]))
			return true;
	return false;
}

/* Merge the two sorted streams; each key only on one side or changed is a fix. */
static void
merge_streams(Repair *r, RepairStream *src, RepairStream *dst)
{
	stream_next(r, src);
	stream_next(r, dst);
	while (!src->done || !dst->done)
	{
		bool		next_src = true;
		bool		next_dst = true;

		/* a long merge stops at SIGINT/SIGTERM; fixes so far are kept */
		if (sky_stop_pending || sky_terminate_pending)
		{
			log_error("interrupted by a signal");
			exit(LD_EXIT_ERROR);
		}

		if (src->done || dst->done || strcmp(src->line, dst->line) != 0)
		{
			int			diff;

			if (src->done)
				diff = 1;
			else if (dst->done)
				diff = -1;
			else
				diff = compare_keys(src->keys, dst->keys, r->nkeys);
			if (diff > 0)
			{
				missed_delete(r, dst);
				next_src = false;
			}
			else if (diff < 0)
			{
				missed_insert(r, src);
				next_dst = false;
			}
			else if (rows_differ(r, src, dst))
				missed_update(r, src, dst);
		}
		if (next_src)
		{
			free_row(src);
			stream_next(r, src);
		}
		if (next_dst)
		{
			free_row(dst);
			stream_next(r, dst);
		}
	}
}

/* the key columns, then the source's other columns the local table has */
static void
load_columns(Repair *r, LdSyncPair *pair)
{
	int			nsrc_keys;
	int			ndst_keys;
	int			nsrc;
	int			ndst;
	char	  **src_keys = ld_sync_table_columns(pair->src, pair->src_table, true, &nsrc_keys);
	char	  **dst_keys = ld_sync_table_columns(pair->dst, pair->dst_table, true, &ndst_keys);
	char	  **src_cols = ld_sync_table_columns(pair->src, pair->src_table, false, &nsrc);
	char	  **dst_cols = ld_sync_table_columns(pair->dst, pair->dst_table, false, &ndst);
	int			i;
	int			j;

	if (nsrc_keys != ndst_keys)
	{
		log_error("pkeys do not match");
		exit(LD_EXIT_ERROR);
	}
	for (i = 0; i < nsrc_keys; i++)
		if (strcmp(src_keys[i], dst_keys[i]) != 0)
		{
			log_error("pkeys do not match");
			exit(LD_EXIT_ERROR);
		}
	if (nsrc_keys == 0)
	{
		log_error("%s has no primary key, repair cannot match its rows",
				  pair->dst_table);
		exit(LD_EXIT_ERROR);
	}

	r->nkeys = nsrc_keys;
	r->quoted_cols = pg_malloc0(sizeof(char *) * (nsrc + 1));
	for (i = 0; i < nsrc_keys; i++)
		r->quoted_cols[r->ncols++] = ld_sync_quote_ident(pair->src, src_keys[i]);
	for (i = 0; i < nsrc; i++)
	{
		bool		is_key = false;
		bool		in_dst = false;

		for (j = 0; j < nsrc_keys; j++)
			is_key = is_key || strcmp(src_cols[i], src_keys[j]) == 0;
		for (j = 0; j < ndst; j++)
			in_dst = in_dst || strcmp(src_cols[i], dst_cols[j]) == 0;
		if (!is_key && in_dst)
			r->quoted_cols[r->ncols++] = ld_sync_quote_ident(pair->src, src_cols[i]);
	}
	free_values(src_keys, nsrc_keys);
	free_values(dst_keys, ndst_keys);
	free_values(src_cols, nsrc);
	free_values(dst_cols, ndst);
}

/* Start "COPY (SELECT cols ... ORDER BY keys) TO STDOUT" on one side. */
static void
start_copy(Repair *r, RepairStream *s, PGconn *conn, const char *table,
		   const char *where)
{
	PQExpBufferData sql;
	char	   *quoted = ld_sync_quote_fqident(conn, table);
	PGresult   *res;
	int			i;

	s->conn = conn;
	s->table = table;
	s->fields = pg_malloc0(sizeof(char *) * r->ncols);
	if (PQsetClientEncoding(conn, "UTF8") != 0)
	{
		log_error("could not set client_encoding: %s", PQerrorMessage(conn));
		exit(LD_EXIT_ERROR);
	}
	initPQExpBuffer(&sql);
	appendPQExpBufferStr(&sql, "copy (SELECT ");
	for (i = 0; i < r->ncols; i++)
		appendPQExpBuffer(&sql, "%s%s", i > 0 ? "," : "", r->quoted_cols[i]);
	appendPQExpBuffer(&sql, " FROM %s WHERE %s ORDER BY ", quoted,
					  where[0] ? where : "true");
	for (i = 0; i < r->nkeys; i++)
		appendPQExpBuffer(&sql, "%spg_catalog.convert_to(pg_catalog.format('%%s', %s), 'UTF8')",
						  i > 0 ? ", " : "", r->quoted_cols[i]);
	appendPQExpBufferStr(&sql, ") to stdout");
	log_debug("Query: %s", sql.data);
	res = PQexec(conn, sql.data);
	if (PQresultStatus(res) != PGRES_COPY_OUT)
	{
		log_error("COPY of %s failed: %s", table, PQerrorMessage(conn));
		exit(LD_EXIT_ERROR);
	}
	PQclear(res);
	termPQExpBuffer(&sql);
	pg_free(quoted);
}

/* the local node, in replica role so that no trigger fires on the fixes */
static PGconn *
apply_connection(Londiste *ld)
{
	static PGconn *conn;
	PGresult   *res;

	if (conn != NULL)
		return conn;
	conn = sky_db_connect(ld->db, ld->script.job_name);
	if (conn == NULL || PQsetClientEncoding(conn, "UTF8") != 0)
		exit(LD_EXIT_ERROR);
	res = sky_db_exec(conn, "select londiste.set_session_replication_role('replica', false)",
					  0, NULL);
	if (res == NULL)
		exit(LD_EXIT_ERROR);
	PQclear(res);
	return conn;
}

int
ld_repair_table(LdSyncPair *pair)
{
	Londiste   *ld = pair->ld;
	Repair		r = {0};
	RepairStream src = {0};
	RepairStream dst = {0};
	char	   *where;

	r.ld = ld;
	r.table = pair->dst_table;
	if (ld->opt.apply)
		r.apply = apply_connection(ld);
	log_info("Checking %s", pair->dst_table);
	load_columns(&r, pair);
	r.quoted_table = ld_sync_quote_fqident(pair->dst, pair->dst_table);

	if (ld->opt.repair_where != NULL && pair->condition[0] != '\0')
		where = psprintf("%s and %s", pair->condition, ld->opt.repair_where);
	else if (ld->opt.repair_where != NULL)
		where = pg_strdup(ld->opt.repair_where);
	else
		where = pg_strdup(pair->condition);
	if (ld->opt.sort_bufsize != NULL)
		log_info("--sort-bufsize has no effect: the servers sort the rows");

	r.fix_path = psprintf("fix.%s.sql", pair->dst_table);
	if (unlink(r.fix_path) != 0 && errno != ENOENT)
	{
		log_error("could not remove %s: %m", r.fix_path);
		exit(LD_EXIT_ERROR);
	}

	log_info("Dumping src table: %s %s", pair->src_table, where);
	start_copy(&r, &src, pair->src, pair->src_table, where);
	log_info("Dumping dst table: %s %s", pair->dst_table, where);
	start_copy(&r, &dst, pair->dst, pair->dst_table, where);
	log_info("Comparing dumps: %s", pair->dst_table);
	merge_streams(&r, &src, &dst);
	log_info("%s: Got %lld bytes", pair->src_table, (long long) src.bytes);
	log_info("%s: Got %lld bytes", pair->dst_table, (long long) dst.bytes);

	if (r.fix != NULL && fclose(r.fix) != 0)
	{
		log_error("could not write %s: %m", r.fix_path);
		exit(LD_EXIT_ERROR);
	}
	log_info("finished %s: src: %ld rows, dst: %ld rows,"
			 " missed: %ld inserts, %ld updates, %ld deletes",
			 pair->dst_table, src.rows, dst.rows,
			 r.inserts, r.updates, r.deletes);

	free_values(src.prev_keys, r.nkeys);
	free_values(dst.prev_keys, r.nkeys);
	pg_free(src.fields);
	pg_free(dst.fields);
	free_values(r.quoted_cols, r.ncols);
	pg_free(r.quoted_table);
	pg_free(r.fix_path);
	pg_free(where);
	return 0;
}
