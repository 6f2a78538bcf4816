/*-------------------------------------------------------------------------
 *
 * print.c
 *	  Result tables and status tags on stdout.
 *
 * The layout is Skytools qadmin's: an optional title line, the header,
 * a rule of dashes, the rows and an empty line; every column but the
 * last is padded to its width plus two spaces, the width being at least
 * 10.  Unlike the original, the header counts towards the width, so a
 * long column name never runs into the next column.  Widths are counted
 * in screen columns in the connection's encoding, so that names in other
 * scripts line up too.  NULL prints empty.
 *
 * src/qadmin/print.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "mb/pg_wchar.h"
#include "qadmin.h"

#define MIN_COLUMN_WIDTH 10
#define COLUMN_GAP 2

/* the client encoding of the session's connection */
static int	print_encoding = PG_SQL_ASCII;

void
print_set_encoding(int encoding)
{
	print_encoding = encoding;
}

/* How many screen columns text takes. */
static int
display_width(const char *text)
{
	int			width = 0;

	while (*text)
	{
		int			len = PQmblenBounded(text, print_encoding);
		int			w = PQdsplen(text, print_encoding);

		if (w > 0)
			width += w;
		text += len > 0 ? len : 1;
	}
	return width;
}

static void
print_row(int ncols, const int *widths, const char *const *cells)
{
	int			c;

	for (c = 0; c < ncols; c++)
	{
		fputs(cells[c], stdout);
		if (c < ncols - 1)
			printf("%*s", widths[c] + COLUMN_GAP - display_width(cells[c]), "");
	}
	putchar('\n');
}

void
print_table(const char *title, const PGresult *res)
{
	int			ncols = PQnfields(res);
	int			nrows = PQntuples(res);
	int		   *widths = pg_malloc0(ncols * sizeof(int));
	const char **cells = pg_malloc0(ncols * sizeof(char *));
	char	  **rules = pg_malloc0(ncols * sizeof(char *));
	int			r,
				c;

	for (c = 0; c < ncols; c++)
	{
		widths[c] = Max(MIN_COLUMN_WIDTH, display_width(PQfname(res, c)));
		for (r = 0; r < nrows; r++)
			widths[c] = Max(widths[c], display_width(PQgetvalue(res, r, c)));
	}

	if (title)
		printf("%s\n", title);
	for (c = 0; c < ncols; c++)
	{
		cells[c] = PQfname(res, c);
		rules[c] = pg_malloc(widths[c] + 1);
		memset(rules[c], '-', widths[c]);
		rules[c][widths[c]] = '\0';
	}
	print_row(ncols, widths, cells);
	print_row(ncols, widths, (const char *const *) rules);
	for (r = 0; r < nrows; r++)
	{
		/* PQgetvalue gives "" for NULL */
		for (c = 0; c < ncols; c++)
			cells[c] = PQgetvalue(res, r, c);
		print_row(ncols, widths, cells);
	}
	putchar('\n');
	fflush(stdout);

	for (c = 0; c < ncols; c++)
		pg_free(rules[c]);
	pg_free(rules);
	pg_free(cells);
	pg_free(widths);
}

void
print_status(const char *tag)
{
	printf("%s\n", tag);
	fflush(stdout);
}
