/*-------------------------------------------------------------------------
 *
 * compare.c
 *	  londiste3 commands: compare, repair.
 *
 * compare runs one query per side in snapshots that hold the same data
 * (syncer.c) and compares the formatted results: a row count and a sum of
 * row hashes by default, computed on the servers.  The exit status is the
 * number of tables that differ.  repair is in repair.c.
 *
 * src/londiste3/compare/compare.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "londiste3/compare/repair.h"
#include "londiste3/compare/syncer.h"
#include "pqexpbuffer.h"

#define COMPARE_SQL \
	"select count(1) as cnt, sum(hashtext(_COLS_::text)::bigint) as chksum from only _TABLE_"
#define COMPARE_SQL_COUNT "select count(1) as cnt from only _TABLE_"
#define COMPARE_FMT "%(cnt)d rows, checksum=%(chksum)s"
#define COMPARE_FMT_COUNT "%(cnt)d rows"

/* text with every occurrence of from replaced by to */
static char *
replace_all(const char *text, const char *from, const char *to)
{
	PQExpBufferData buf;
	const char *p = text;
	const char *hit;
	char	   *result;

	initPQExpBuffer(&buf);
	while ((hit = strstr(p, from)) != NULL)
	{
		appendBinaryPQExpBuffer(&buf, p, hit - p);
		appendPQExpBufferStr(&buf, to);
		p = hit + strlen(from);
	}
	appendPQExpBufferStr(&buf, p);
	result = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return result;
}

/*
 * An integer as Python's %d shows a number: the integral part of the
 * value's text (numeric sums are not bounded by int64).  NULL if the
 * value is not a number.
 */
static char *
integer_text(const char *value)
{
	const char *p = value;
	size_t		len;

	if (*p == '-' || *p == '+')
		p++;
	len = strspn(p, "0123456789");
	if (len == 0 || (p[len] != '\0' && p[len] != '.') ||
		(p[len] == '.' && p[len + 1 + strspn(p + len + 1, "0123456789")] != '\0'))
		return NULL;
	while (len > 1 && *p == '0')
	{
		p++;
		len--;
	}
	if (value[0] == '-' && !(len == 1 && *p == '0'))
		return psprintf("-%.*s", (int) len, p);
	return psprintf("%.*s", (int) len, p);
}

/*
 * Python's "fmt % row" for the one-row result of compare_sql: the
 * conversions %(name)s, %(name)d (also i) and %(name)f with optional
 * flags, width and precision, and %%.  NULL (error logged) on anything
 * else, as Python would fail.
 */
static char *
format_row(const char *fmt, const PGresult *res)
{
	PQExpBufferData buf;
	const char *p = fmt;
	char	   *result = NULL;

	initPQExpBuffer(&buf);
	while (*p)
	{
		const char *end;
		char	   *name;
		char	   *quoted_name;
		int			col;
		char		spec[32];
		size_t		flaglen;
		size_t		speclen;
		char		conv;
		const char *value;

		if (*p != '%')
		{
			appendPQExpBufferChar(&buf, *p++);
			continue;
		}
		if (p[1] == '%')
		{
			appendPQExpBufferChar(&buf, '%');
			p += 2;
			continue;
		}
		if (p[1] != '(' || (end = strchr(p + 2, ')')) == NULL)
		{
			log_error("compare_fmt: only %%(name)x conversions are supported: %s", fmt);
			goto done;
		}
		name = pnstrdup(p + 2, end - p - 2);
		quoted_name = psprintf("\"%s\"", name);
		col = PQfnumber(res, quoted_name);
		pg_free(quoted_name);
		if (col < 0 || PQntuples(res) != 1)
		{
			log_error("compare_fmt: the query returns no column %s", name);
			pg_free(name);
			goto done;
		}
		pg_free(name);
		p = end + 1;
		flaglen = strspn(p, "#0- +");
		speclen = flaglen + strspn(p + flaglen, "0123456789.");
		conv = p[speclen];
		if (speclen >= sizeof(spec) - 4 || conv == '\0')
		{
			log_error("compare_fmt: bad conversion in %s", fmt);
			goto done;
		}
		spec[0] = '%';
		memcpy(spec + 1, p, speclen);
		spec[1 + speclen] = '\0';	/* the width is read from it below */
		p += speclen + 1;
		value = ld_python_value(res, 0, col);
		if (conv == 's')
		{
			strcpy(spec + 1 + speclen, "s");
			appendPQExpBuffer(&buf, spec, value);
		}
		else if (conv == 'd' || conv == 'i')
		{
			char	   *digits = PQgetisnull(res, 0, col) ? NULL :
				integer_text(value);

			if (digits == NULL)
			{
				log_error("compare_fmt: %%%c needs a number, got %s", conv, value);
				goto done;
			}
			/* the flags and width apply to the digits as to a string */
			if (memchr(spec + 1, '0', flaglen) != NULL &&
				memchr(spec + 1, '-', flaglen) == NULL)
			{
				int			width = atoi(spec + 1 + flaglen);
				int			len = strlen(digits);
				bool		neg = digits[0] == '-';

				if (neg)
					appendPQExpBufferChar(&buf, '-');
				for (; len < width; len++)
					appendPQExpBufferChar(&buf, '0');
				appendPQExpBufferStr(&buf, digits + (neg ? 1 : 0));
			}
			else
			{
				strcpy(spec + 1 + speclen, "s");
				appendPQExpBuffer(&buf, spec, digits);
			}
			pg_free(digits);
		}
		else if (conv == 'f')
		{
			if (PQgetisnull(res, 0, col))
			{
				log_error("compare_fmt: %%f needs a number, got None");
				goto done;
			}
			strcpy(spec + 1 + speclen, "f");
			appendPQExpBuffer(&buf, spec, strtod(value, NULL));
		}
		else
		{
			log_error("compare_fmt: unsupported conversion %%%c", conv);
			goto done;
		}
	}
	result = pg_strdup(buf.data);
done:
	termPQExpBuffer(&buf);
	return result;
}

/* "(c1,c2,...)": the source's columns that the local table has too */
static char *
common_columns(LdSyncPair *pair)
{
	int			nsrc;
	int			ndst;
	char	  **src = ld_sync_table_columns(pair->src, pair->src_table, false, &nsrc);
	char	  **dst = ld_sync_table_columns(pair->dst, pair->dst_table, false, &ndst);
	PQExpBufferData buf;
	int			ncommon = 0;
	int			i;
	int			j;
	char	   *result;

	initPQExpBuffer(&buf);
	appendPQExpBufferChar(&buf, '(');
	for (i = 0; i < nsrc; i++)
	{
		for (j = 0; j < ndst; j++)
			if (strcmp(src[i], dst[j]) == 0)
				break;
		if (j == ndst)
			continue;
		if (ncommon++ > 0)
			appendPQExpBufferChar(&buf, ',');
		result = ld_sync_quote_ident(pair->src, src[i]);
		appendPQExpBufferStr(&buf, result);
		pg_free(result);
	}
	appendPQExpBufferChar(&buf, ')');
	if (ncommon == 0)
	{
		log_error("no common columns found");
		exit(LD_EXIT_ERROR);
	}
	if (ncommon != nsrc || ndst != nsrc)
		log_warning("Ignoring some columns");
	result = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return result;
}

/* one side's result of compare_sql, formatted with compare_fmt */
static char *
run_side(PGconn *conn, const char *side, const char *sql, const char *fmt)
{
	PGresult   *res;
	char	   *text;

	log_debug("%s: %s", side, sql);
	res = ld_sync_query(conn, sql, 0, NULL);
	text = format_row(fmt, res);
	PQclear(res);
	if (text == NULL)
		exit(LD_EXIT_ERROR);
	log_info("%s: %s", side, text);
	return text;
}

static int
compare_table(LdSyncPair *pair)
{
	Londiste   *ld = pair->ld;
	bool		count_only = ld->opt.count_only;
	char	   *template;
	char	   *fmt;
	char	   *cols;
	char	   *with_cols;
	char	   *src_sql;
	char	   *dst_sql;
	char	   *quoted;
	char	   *src_text;
	char	   *dst_text;
	int			bad = 0;

	log_info("Counting %s", pair->dst_table);
	cols = common_columns(pair);
	template = sky_config_get(ld->script.cf, "compare_sql",
							  count_only ? COMPARE_SQL_COUNT : COMPARE_SQL);
	fmt = sky_config_get(ld->script.cf, "compare_fmt",
						 count_only ? COMPARE_FMT_COUNT : COMPARE_FMT);
	with_cols = replace_all(template, "_COLS_", cols);

	quoted = ld_sync_quote_fqident(pair->src, pair->src_table);
	src_sql = replace_all(with_cols, "_TABLE_", quoted);
	pg_free(quoted);
	quoted = ld_sync_quote_fqident(pair->dst, pair->dst_table);
	dst_sql = replace_all(with_cols, "_TABLE_", quoted);
	pg_free(quoted);
	if (pair->condition[0] != '\0')
	{
		char	   *s = psprintf("%s WHERE %s", src_sql, pair->condition);
		char	   *d = psprintf("%s WHERE %s", dst_sql, pair->condition);

		pg_free(src_sql);
		pg_free(dst_sql);
		src_sql = s;
		dst_sql = d;
	}

	src_text = run_side(pair->src, "srcdb", src_sql, fmt);
	dst_text = run_side(pair->dst, "dstdb", dst_sql, fmt);
	if (strcmp(src_text, dst_text) != 0)
	{
		log_warning("%s: Results do not match!", pair->dst_table);
		bad = 1;
	}
	pg_free(src_text);
	pg_free(dst_text);
	pg_free(src_sql);
	pg_free(dst_sql);
	pg_free(with_cols);
	pg_free(template);
	pg_free(fmt);
	pg_free(cols);
	return bad;
}

/*
 * Exit status: the number of tables that differ, at most 255 (python's
 * would wrap around to 0 at 256).
 */
static int
cmd_compare(Londiste *ld)
{
	int			bad = ld_sync_tables(ld, compare_table);

	return Min(bad, 255);
}

static int
cmd_repair(Londiste *ld)
{
	ld_sync_tables(ld, ld_repair_table);
	return LD_EXIT_OK;
}

const LondisteCommand ld_compare_commands[] = {
	{"compare", -1, "", LD_PIDFILE_REPAIR, cmd_compare},
	{"repair", -1, "", LD_PIDFILE_REPAIR, cmd_repair},
	{NULL}
};
