/*-------------------------------------------------------------------------
 *
 * loader.c
 *	  Loading a batch's collapsed rows of one table with COPY: inserts go
 *	  straight into the table, updates and deletes through a temp table
 *	  and one statement each.
 *
 * The temp table is "<schema>_<table>_loadertmp", created like the table
 * and kept for the session (ON COMMIT PRESERVE ROWS, truncated after use),
 * as python3-londiste's bulk loaders name it.
 *
 * src/londiste3/handlers/loader.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "londiste3/handlers/rowsql.h"

void
ld_bulk_init(LdBulkLoad *load)
{
	initPQExpBuffer(&load->del);
	initPQExpBuffer(&load->upd);
	initPQExpBuffer(&load->ins);
	load->ndel = load->nupd = load->nins = 0;
}

void
ld_bulk_reset(LdBulkLoad *load)
{
	resetPQExpBuffer(&load->del);
	resetPQExpBuffer(&load->upd);
	resetPQExpBuffer(&load->ins);
	load->ndel = load->nupd = load->nins = 0;
}

void
ld_bulk_term(LdBulkLoad *load)
{
	termPQExpBuffer(&load->del);
	termPQExpBuffer(&load->upd);
	termPQExpBuffer(&load->ins);
}

/* "tbl.k1 = temp.k1 and ..." */
static void
append_join(PQExpBuffer buf, const char *qtable, const char *qtemp,
			const LdStringList *keys)
{
	int			i;

	for (i = 0; i < keys->n; i++)
	{
		char	   *col = ld_sql_ident(keys->items[i]);

		appendPQExpBuffer(buf, "%s%s.%s = %s.%s", i > 0 ? " and " : "",
						  qtable, col, qtemp, col);
		pg_free(col);
	}
}

static void
append_cols(PQExpBuffer buf, const LdStringList *cols)
{
	int			i;

	for (i = 0; i < cols->n; i++)
	{
		char	   *col = ld_sql_ident(cols->items[i]);

		appendPQExpBuffer(buf, "%s%s", i > 0 ? "," : "", col);
		pg_free(col);
	}
}

static void
warn_count(const LdBulkLoad *load, const char *what, int expected,
		   int64_t got)
{
	if (load->check_counts && expected != got)
		sky_log(SKY_LOG_WARNING, "%s: %s mismatch: expected=%d %s=%lld",
				load->table, what, expected,
				strcmp(what, "Delete") == 0 ? "deleted" :
				load->method == 0 ? "updated" : "deleted",
				(long long) got);
}

/*
 * COPY rows into the temp table, first creating it or emptying it.
 */
static bool
fill_temp(LdApply *apply, const LdBulkLoad *load, const char *qtable,
		  const char *qtemp, bool *present, const PQExpBufferData *rows)
{
	char	   *prefix;
	bool		ok;

	if (*present)
		prefix = psprintf("truncate %s;", qtemp);
	else
		prefix = psprintf("create temp table %s (like %s) on commit preserve rows;",
						  qtemp, qtable);
	ok = ld_direct_copy(apply, prefix, qtemp, load->cols, rows->data, rows->len);
	pg_free(prefix);
	if (!ok)
		return false;
	*present = true;
	if (load->analyze)
	{
		char	   *sql = psprintf("analyze %s;", qtemp);

		ok = ld_apply_sql(apply, sql);
		pg_free(sql);
	}
	return ok;
}

bool
ld_bulk_run(LdApply *apply, LdBulkLoad *load)
{
	char	   *qtable = ld_sql_fqident(load->table);
	char	   *temp_name;
	char	   *qtemp;
	char	   *p;
	PQExpBufferData sql;
	PGresult   *res;
	bool		present = false;
	bool		ok = true;
	int			nupd_real = load->nupd;
	int64_t		count;
	int			i;

	sky_log(SKY_LOG_DEBUG, "bulk_flush: %s  (I/U/D = %d/%d/%d)", load->table,
			load->nins, load->nupd, load->ndel);
	/* merged: the inserts are loaded as updates (delete and insert) */
	if (load->method == 2 && load->nins > 0)
	{
		appendBinaryPQExpBuffer(&load->upd, load->ins.data, load->ins.len);
		load->nupd += load->nins;
		resetPQExpBuffer(&load->ins);
		load->nins = 0;
	}
	temp_name = psprintf("%s_loadertmp", load->table);
	for (p = temp_name; *p; p++)
		if (*p == '.')
			*p = '_';
	qtemp = ld_sql_ident(temp_name);
	initPQExpBuffer(&sql);

	if (load->ndel > 0 || load->nupd > 0)
	{
		const char *param = temp_name;

		res = ld_direct_query(apply,
							 "select 1 from pg_catalog.pg_class"
							 " where relname = $1"
							 " and relnamespace = pg_catalog.pg_my_temp_schema()",
							 1, &param);
		if (res == NULL)
			ok = false;
		else
		{
			present = PQntuples(res) > 0;
			PQclear(res);
		}
	}

	if (ok && load->ndel > 0)
	{
		ok = fill_temp(apply, load, qtable, qtemp, &present, &load->del);
		if (ok)
		{
			appendPQExpBuffer(&sql, "delete from only %s using %s where ",
							  qtable, qtemp);
			append_join(&sql, qtable, qtemp, load->keys);
			ok = ld_direct_count(apply, sql.data, &count);
			if (ok)
				warn_count(load, "Delete", load->ndel, count);
		}
	}

	if (ok && load->nupd > 0)
	{
		int			nset = 0;

		resetPQExpBuffer(&sql);
		if (load->method == 0)
		{
			appendPQExpBuffer(&sql, "update only %s set ", qtable);
			for (i = 0; i < load->cols->n; i++)
			{
				char	   *col;

				if (ld_names_contains(load->keys, load->cols->items[i]))
					continue;
				col = ld_sql_ident(load->cols->items[i]);
				appendPQExpBuffer(&sql, "%s%s = %s.%s", nset++ > 0 ? ", " : "",
								  col, qtemp, col);
				pg_free(col);
			}
			appendPQExpBuffer(&sql, " from %s where ", qtemp);
			append_join(&sql, qtable, qtemp, load->keys);
		}
		/* an update of a table of key columns only changes nothing */
		if (load->method != 0 || nset > 0)
			ok = fill_temp(apply, load, qtable, qtemp, &present, &load->upd);
		if (ok && load->method == 0 && nset > 0)
		{
			ok = ld_direct_count(apply, sql.data, &count);
			if (ok)
				warn_count(load, "Update", load->nupd, count);
		}
		else if (ok && load->method != 0)
		{
			resetPQExpBuffer(&sql);
			appendPQExpBuffer(&sql, "delete from only %s using %s where ",
							  qtable, qtemp);
			append_join(&sql, qtable, qtemp, load->keys);
			ok = ld_direct_count(apply, sql.data, &count);
			if (ok)
				warn_count(load, "Update", nupd_real, count);
			if (ok)
			{
				resetPQExpBuffer(&sql);
				appendPQExpBuffer(&sql, "insert into %s (", qtable);
				append_cols(&sql, load->cols);
				appendPQExpBufferStr(&sql, ") select ");
				append_cols(&sql, load->cols);
				appendPQExpBuffer(&sql, " from %s;", qtemp);
				ok = ld_apply_sql(apply, sql.data);
			}
		}
	}

	if (ok && load->nins > 0)
		ok = ld_direct_copy(apply, NULL, qtable, load->cols, load->ins.data,
						   load->ins.len);

	/* leave the temp table empty for the next batch */
	if (ok && present)
	{
		resetPQExpBuffer(&sql);
		appendPQExpBuffer(&sql, "truncate %s;", qtemp);
		ok = ld_apply_sql(apply, sql.data);
	}
	/* finish_batch is the last hook of a batch: nothing may stay queued */
	if (ok)
		ok = ld_apply_flush(apply);
	termPQExpBuffer(&sql);
	pg_free(temp_name);
	pg_free(qtemp);
	pg_free(qtable);
	ld_bulk_reset(load);
	return ok;
}
