/*-------------------------------------------------------------------------
 *
 * util.c
 *	  londiste3: connections, admin calls, names and output helpers shared
 *	  by the commands.
 *
 * src/londiste3/util.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "catalog/pg_type_d.h"
#include "common/keywords.h"
#include "framework/log.h"
#include "framework/pqutil.h"
#include "londiste3/londiste.h"
#include "pqexpbuffer.h"

/*
 * The local node's connection, opened on first use.  Exits on failure:
 * no command can do anything without it.
 */
PGconn *
ld_local(Londiste *ld)
{
	if (ld->local != NULL && PQstatus(ld->local) == CONNECTION_OK)
		return ld->local;
	PQfinish(ld->local);
	ld->local = sky_db_connect(ld->db, ld->script.job_name);
	if (ld->local == NULL)
		exit(LD_EXIT_ERROR);
	return ld->local;
}

void
ld_close_local(Londiste *ld)
{
	PQfinish(ld->local);
	ld->local = NULL;
}

/*
 * Connect to a node.  The connect string of another node (a location read
 * from the cascade, a public connect string or --provider) gets
 * remote_extra_connstr appended (add_extra), as python3-londiste does; the
 * node's own db is used as it is.  NULL (and logged) on failure.
 */
PGconn *
ld_connect(Londiste *ld, const char *connstr, bool add_extra)
{
	PGconn	   *conn;

	if (add_extra && ld->remote_extra_connstr != NULL &&
		ld->remote_extra_connstr[0] != '\0')
	{
		char	   *full = psprintf("%s %s", connstr, ld->remote_extra_connstr);

		conn = sky_db_connect(full, ld->script.job_name);
		pg_free(full);
	}
	else
		conn = sky_db_connect(connstr, ld->script.job_name);
	return conn;
}

bool
ld_exec_cmd(PGconn *conn, const char *sql, int nparams,
			const char *const *params, PGresult **result)
{
	char	   *errmsg;

	if (pgq_exec_cmd(conn, sql, nparams, params, result, &errmsg))
		return true;
	/* "NNN note": python3-londiste logs the note alone */
	if (strspn(errmsg, "0123456789") == 3 && errmsg[3] == ' ')
		sky_log(SKY_LOG_ERROR, "%s", errmsg + 4);
	else
		sky_log(SKY_LOG_ERROR, "%s", errmsg);
	pg_free(errmsg);
	return false;
}

/*
 * "name" -> "public.name"; "s.name" stays.  The first dot splits, as in
 * londiste.make_fqname().
 */
char *
ld_make_fqname(const char *name)
{
	if (strchr(name, '.') != NULL)
		return pg_strdup(name);
	return psprintf("public.%s", name);
}

/* Append one name part, quoted the way the server's quote_ident() would. */
static void
append_ident(PQExpBuffer buf, const char *ident)
{
	const char *p;
	bool		plain = ident[0] != '\0' &&
		((ident[0] >= 'a' && ident[0] <= 'z') || ident[0] == '_');

	for (p = ident; *p && plain; p++)
		plain = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			*p == '_';
	/* a keyword other than an unreserved one must be quoted as well */
	if (plain)
	{
		int			kw = ScanKeywordLookup(ident, &ScanKeywords);

		plain = kw < 0 || ScanKeywordCategories[kw] == UNRESERVED_KEYWORD;
	}
	if (plain)
	{
		appendPQExpBufferStr(buf, ident);
		return;
	}
	appendPQExpBufferChar(buf, '"');
	for (p = ident; *p; p++)
	{
		if (*p == '"')
			appendPQExpBufferChar(buf, '"');
		appendPQExpBufferChar(buf, *p);
	}
	appendPQExpBufferChar(buf, '"');
}

/* Quote each part of a fq name as an identifier, for SQL text. */
char *
ld_quote_fqname(const char *name)
{
	char	   *fq = ld_make_fqname(name);
	char	   *dot = strchr(fq, '.');
	PQExpBufferData buf;
	char	   *result;

	*dot = '\0';
	initPQExpBuffer(&buf);
	append_ident(&buf, fq);
	appendPQExpBufferChar(&buf, '.');
	append_ident(&buf, dot + 1);
	result = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	pg_free(fq);
	return result;
}

/*
 * A value as Python's str() shows what psycopg2 returned: None for NULL,
 * True/False for booleans, the text otherwise.
 */
const char *
ld_python_value(const PGresult *res, int row, int col)
{
	const char *value;

	if (PQgetisnull(res, row, col))
		return "None";
	value = PQgetvalue(res, row, col);
	if (PQftype(res, col) == BOOLOID)
		return value[0] == 't' ? "True" : "False";
	return value;
}

/* whether Python would find the value false: None, False, 0, '' */
static bool
python_falsy(const PGresult *res, int row, int col)
{
	const char *v = PQgetvalue(res, row, col);
	Oid			type = PQftype(res, col);

	if (PQgetisnull(res, row, col) || v[0] == '\0')
		return true;
	if (type == BOOLOID)
		return v[0] == 'f';
	if (type == INT2OID || type == INT4OID || type == INT8OID ||
		type == OIDOID || type == NUMERICOID ||
		type == FLOAT4OID || type == FLOAT8OID)
		return strspn(v, "0.-") == strlen(v);
	return false;
}

static void
print_cell(const char *text, int width, bool last)
{
	if (last)
		printf("%s\n", text);
	else
		printf("%-*s", width, text);
}

/*
 * python3-skytools' display_table: title, header, dashes, rows, then two
 * empty lines; nothing at all when there are no rows.  A column is as wide
 * as its longest value (at least 15; the header does not count) plus 2; a
 * false value counts as 0 wide; the last column is not padded.  format,
 * if given, may show a column's values differently (it returns the text to
 * print, or NULL for the default).
 */
void
ld_display_table(const PGresult *res, const char *title, LdFieldFormat format)
{
	int			nrows = PQntuples(res);
	int			ncols = PQnfields(res);
	int		   *width;
	char	  **text;
	int			row;
	int			col;

	if (nrows == 0)
		return;
	width = pg_malloc0(sizeof(int) * ncols);
	text = pg_malloc0(sizeof(char *) * nrows * ncols);
	for (col = 0; col < ncols; col++)
	{
		width[col] = 15;
		for (row = 0; row < nrows; row++)
		{
			const char *shown = NULL;

			if (format != NULL && !PQgetisnull(res, row, col))
				shown = format(PQfname(res, col), PQgetvalue(res, row, col));
			text[row * ncols + col] =
				pg_strdup(shown ? shown : ld_python_value(res, row, col));
			if (!python_falsy(res, row, col))
				width[col] = Max(width[col],
								 (int) strlen(ld_python_value(res, row, col)));
		}
		width[col] += 2;
	}
	if (title != NULL && title[0] != '\0')
		printf("%s\n", title);
	for (col = 0; col < ncols; col++)
		print_cell(PQfname(res, col), width[col], col == ncols - 1);
	for (col = 0; col < ncols; col++)
	{
		int			i;

		for (i = 0; i < width[col] - 2; i++)
			putchar('-');
		if (col < ncols - 1)
			printf("  ");
	}
	putchar('\n');
	for (row = 0; row < nrows; row++)
		for (col = 0; col < ncols; col++)
		{
			char	   *t = text[row * ncols + col];

			print_cell(t, width[col], col == ncols - 1);
			pg_free(t);
		}
	printf("\n\n");
	pg_free(text);
	pg_free(width);
}
