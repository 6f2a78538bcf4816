/*-------------------------------------------------------------------------
 *
 * rowsql.c
 *	  Row events as dicts and as SQL text, COPY on the replay connection:
 *	  the pieces the table handlers build on.
 *
 * Quoting follows Skytools (quote_ident, quote_literal, quote_copy), so
 * that the statements our handlers send read like python3-londiste's.
 *
 * src/londiste3/handlers/rowsql.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "common/keywords.h"
#include "framework/log.h"
#include "londiste3/handlers/rowsql.h"

/*
 * An identifier, quoted unless it is lower-case letters, digits and
 * underscores not starting with a digit, and no keyword that would need
 * quoting.
 */
char *
ld_sql_ident(const char *name)
{
	const char *p;
	bool		plain = name[0] != '\0' && !(name[0] >= '0' && name[0] <= '9');
	PQExpBufferData buf;
	char	   *result;

	for (p = name; *p && plain; p++)
		plain = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			*p == '_';
	if (plain)
	{
		int			kw = ScanKeywordLookup(name, &ScanKeywords);

		if (kw < 0 || ScanKeywordCategories[kw] == UNRESERVED_KEYWORD)
			return pg_strdup(name);
	}
	initPQExpBuffer(&buf);
	appendPQExpBufferChar(&buf, '"');
	for (p = name; *p; p++)
	{
		if (*p == '"')
			appendPQExpBufferChar(&buf, '"');
		appendPQExpBufferChar(&buf, *p);
	}
	appendPQExpBufferChar(&buf, '"');
	result = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return result;
}

/* "schema.name" with each part quoted; no dot means schema public */
char *
ld_sql_fqident(const char *name)
{
	const char *dot = strchr(name, '.');
	char	   *schema;
	char	   *rel;
	char	   *result;

	if (dot == NULL)
	{
		schema = pg_strdup("public");
		rel = ld_sql_ident(name);
	}
	else
	{
		char	   *part = pnstrdup(name, dot - name);

		schema = ld_sql_ident(part);
		pg_free(part);
		rel = ld_sql_ident(dot + 1);
	}
	result = psprintf("%s.%s", schema, rel);
	pg_free(schema);
	pg_free(rel);
	return result;
}

/* one field of COPY text format */
void
ld_append_copy_value(PQExpBuffer buf, const char *value)
{
	const char *p;

	if (value == NULL)
	{
		appendPQExpBufferStr(buf, "\\N");
		return;
	}
	for (p = value; *p; p++)
	{
		switch (*p)
		{
			case '\\':
				appendPQExpBufferStr(buf, "\\\\");
				break;
			case '\t':
				appendPQExpBufferStr(buf, "\\t");
				break;
			case '\n':
				appendPQExpBufferStr(buf, "\\n");
				break;
			case '\r':
				appendPQExpBufferStr(buf, "\\r");
				break;
			default:
				appendPQExpBufferChar(buf, *p);
		}
	}
}

/* one field of COPY text format back to its value; palloc'd */
char *
ld_copy_unescape(const char *field, size_t len, bool *isnull)
{
	PQExpBufferData buf;
	char	   *result;
	size_t		i;

	*isnull = len == 2 && field[0] == '\\' && field[1] == 'N';
	if (*isnull)
		return NULL;
	initPQExpBuffer(&buf);
	for (i = 0; i < len; i++)
	{
		char		c = field[i];

		if (c == '\\' && i + 1 < len)
		{
			c = field[++i];
			switch (c)
			{
				case 't':
					c = '\t';
					break;
				case 'n':
					c = '\n';
					break;
				case 'r':
					c = '\r';
					break;
				case 'b':
					c = '\b';
					break;
				case 'f':
					c = '\f';
					break;
				case 'v':
					c = '\v';
					break;
				default:
					break;
			}
		}
		appendPQExpBufferChar(&buf, c);
	}
	result = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return result;
}

/* bytes of a valid sequence starting at p, or 0 */
static int
utf8_valid_length(const unsigned char *p)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80;
	unsigned char hi = 0xBF;
	int			len;
	int			i;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
	{
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	}
	else if (c >= 0xF0 && c <= 0xF4)
	{
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	}
	else
		return 0;
	/* only the second byte has the narrower ranges */
	for (i = 1; i < len; i++)
	{
		if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xBF))
			return -i;			/* the maximal invalid subpart's length */
	}
	return len;
}

char *
ld_utf8_repair(const char *text)
{
	const unsigned char *p = (const unsigned char *) text;
	PQExpBufferData buf;
	bool		fixed = false;
	char	   *result;

	initPQExpBuffer(&buf);
	while (*p)
	{
		int			len = utf8_valid_length(p);

		if (len > 0)
		{
			appendBinaryPQExpBuffer(&buf, (const char *) p, len);
			p += len;
			continue;
		}
		appendPQExpBufferStr(&buf, "\xEF\xBF\xBD");
		p += len < 0 ? -len : 1;
		fixed = true;
	}
	result = fixed ? pg_strdup(buf.data) : NULL;
	termPQExpBuffer(&buf);
	return result;
}

/* the encoding argument: absent, or utf8 to repair invalid UTF-8 */
bool
ld_check_encoding(const LdHandler *h, bool *fix_utf8)
{
	const char *enc = NULL;

	*fix_utf8 = false;
	if (!pgq_dict_get(h->args, "encoding", &enc) || enc == NULL || enc[0] == '\0')
		return true;
	if (pg_strcasecmp(enc, "utf8") != 0 && pg_strcasecmp(enc, "utf-8") != 0)
	{
		sky_log(SKY_LOG_ERROR, "only utf8 supported");
		return false;
	}
	*fix_utf8 = true;
	return true;
}

void
ld_fix_row_utf8(const LdHandler *h, PgqDict *row)
{
	int			i;

	for (i = 0; i < pgq_dict_count(row); i++)
	{
		const char *value = pgq_dict_value(row, i);
		char	   *fixed = value ? ld_utf8_repair(value) : NULL;

		if (fixed == NULL)
			continue;
		sky_log(SKY_LOG_INFO, "Fixed invalid UTF8 in column <%s.%s>",
				h->table_name, pgq_dict_key(row, i));
		pgq_dict_set(row, pgq_dict_key(row, i), fixed);
		pg_free(fixed);
	}
}

void
ld_names_add(LdStringList *list, const char *item)
{
	list->items = pg_realloc(list->items, sizeof(char *) * (list->n + 1));
	list->items[list->n++] = pg_strdup(item);
}

void
ld_names_reset(LdStringList *list)
{
	int			i;

	for (i = 0; i < list->n; i++)
		pg_free(list->items[i]);
	pg_free(list->items);
	list->items = NULL;
	list->n = 0;
}

bool
ld_names_contains(const LdStringList *list, const char *item)
{
	int			i;

	for (i = 0; i < list->n; i++)
		if (strcmp(list->items[i], item) == 0)
			return true;
	return false;
}

/* append the sep-separated items of text (empty text: none) */
void
ld_names_split(LdStringList *list, const char *text, char sep)
{
	const char *start = text;

	if (text[0] == '\0')
		return;
	for (;;)
	{
		const char *end = strchr(start, sep);
		char	   *item = end ? pnstrdup(start, end - start) : pg_strdup(start);

		ld_names_add(list, item);
		pg_free(item);
		if (end == NULL)
			break;
		start = end + 1;
	}
}

bool
ld_parse_row_event(const LdHandler *h, const PgqEvent *ev, char *op,
				   LdStringList *pkeys, PgqDict **row)
{
	const char *type = ev->type ? ev->type : "";

	*row = NULL;
	if (strlen(type) < 2 || type[1] != ':' || ev->data == NULL)
	{
		sky_log(SKY_LOG_ERROR, "Unsupported event type: %s/extra1=%s/data=%s",
				type, ev->extra1 ? ev->extra1 : "None",
				ev->data ? ev->data : "None");
		return false;
	}
	if (strchr("IUD", type[0]) == NULL)
	{
		sky_log(SKY_LOG_ERROR, "Unknown event type: %s", type);
		return false;
	}
	*op = type[0];
	ld_names_reset(pkeys);
	ld_names_split(pkeys, type + 2, ',');
	*row = pgq_urldecode(ev->data);
	if (*row == NULL)
	{
		sky_log(SKY_LOG_ERROR, "%s: malformed row data in event %lld",
				h->table_name, (long long) ev->id);
		return false;
	}
	return true;
}

void
ld_sql_insert(PQExpBuffer buf, const char *qtable, const PgqDict *row)
{
	int			i;

	appendPQExpBuffer(buf, "insert into %s (", qtable);
	for (i = 0; i < pgq_dict_count(row); i++)
	{
		char	   *col = ld_sql_ident(pgq_dict_key(row, i));

		appendPQExpBuffer(buf, "%s%s", i > 0 ? ", " : "", col);
		pg_free(col);
	}
	appendPQExpBufferStr(buf, ") values (");
	for (i = 0; i < pgq_dict_count(row); i++)
	{
		if (i > 0)
			appendPQExpBufferStr(buf, ", ");
		ld_append_literal(buf, pgq_dict_value(row, i));
	}
	appendPQExpBufferStr(buf, ");");
}

/* "pk1 = v1 and pk2 = v2"; false if the row lacks a key column */
static bool
append_key_condition(PQExpBuffer buf, const PgqDict *row,
					 const LdStringList *pkeys)
{
	int			i;

	if (pkeys->n == 0)
	{
		sky_log(SKY_LOG_ERROR, "update and delete need primary key columns");
		return false;
	}
	for (i = 0; i < pkeys->n; i++)
	{
		const char *value;
		char	   *col;

		if (!pgq_dict_get(row, pkeys->items[i], &value))
		{
			sky_log(SKY_LOG_ERROR, "key column %s missing from row",
					pkeys->items[i]);
			return false;
		}
		col = ld_sql_ident(pkeys->items[i]);
		appendPQExpBuffer(buf, "%s%s = ", i > 0 ? " and " : "", col);
		ld_append_literal(buf, value);
		pg_free(col);
	}
	return true;
}

bool
ld_sql_update(PQExpBuffer buf, const char *qtable, const PgqDict *row,
			  const LdStringList *pkeys)
{
	int			i;
	int			nset = 0;

	appendPQExpBuffer(buf, "update only %s set ", qtable);
	for (i = 0; i < pgq_dict_count(row); i++)
	{
		char	   *col;

		if (ld_names_contains(pkeys, pgq_dict_key(row, i)))
			continue;
		col = ld_sql_ident(pgq_dict_key(row, i));
		appendPQExpBuffer(buf, "%s%s = ", nset++ > 0 ? ", " : "", col);
		ld_append_literal(buf, pgq_dict_value(row, i));
		pg_free(col);
	}
	appendPQExpBufferStr(buf, " where ");
	if (!append_key_condition(buf, row, pkeys))
		return false;
	appendPQExpBufferChar(buf, ';');
	return true;
}

bool
ld_sql_delete(PQExpBuffer buf, const char *qtable, const PgqDict *row,
			  const LdStringList *pkeys)
{
	appendPQExpBuffer(buf, "delete from only %s where ", qtable);
	if (!append_key_condition(buf, row, pkeys))
		return false;
	appendPQExpBufferChar(buf, ';');
	return true;
}

/*
 * SQL-text events ("I" with "(cols) values (...)" data) and logutriga
 * events; JSON row events are the built-in handler's only.
 */
bool
ld_sql_row_event(const LdHandler *h, const PgqEvent *ev, const char *qtable,
				 bool fix_utf8, PQExpBuffer buf)
{
	LdStringList pkeys = {0};
	PgqDict    *row;
	char		op;
	bool		ok;

	if (ev->type != NULL && strlen(ev->type) == 1 && ev->data != NULL &&
		strchr("IUD", ev->type[0]) != NULL)
	{
		static const char *const formats[] = {"insert into %s %s;",
		"update only %s set %s;", "delete from only %s where %s;"};
		char	   *fixed = fix_utf8 ? ld_utf8_repair(ev->data) : NULL;

		if (fixed != NULL)
			sky_log(SKY_LOG_INFO, "%s: Fixed invalid UTF8 in string <%s>",
					h->table_name, ev->data);
		appendPQExpBuffer(buf, formats[strchr("IUD", ev->type[0]) - "IUD"],
						  qtable, fixed ? fixed : ev->data);
		pg_free(fixed);
		return true;
	}
	if (!ld_parse_row_event(h, ev, &op, &pkeys, &row))
	{
		ld_names_reset(&pkeys);
		return false;
	}
	if (fix_utf8)
		ld_fix_row_utf8(h, row);
	if (op == 'I')
	{
		ld_sql_insert(buf, qtable, row);
		ok = true;
	}
	else if (op == 'U')
		ok = ld_sql_update(buf, qtable, row, &pkeys);
	else
		ok = ld_sql_delete(buf, qtable, row, &pkeys);
	pgq_dict_free(row);
	ld_names_reset(&pkeys);
	return ok;
}

static bool
result_ok(PGconn *conn, PGresult *res)
{
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return true;
	sky_log(SKY_LOG_ERROR, "%s", PQerrorMessage(conn));
	return false;
}

bool
ld_direct_copy(LdApply *apply, const char *prefix, const char *qtable,
			  const LdStringList *cols, const char *rows, size_t len)
{
	PGconn	   *conn;
	PQExpBufferData sql;
	PGresult   *res;
	bool		ok = true;
	bool		in_copy = false;
	int			i;

	if (!ld_apply_flush(apply))
		return false;
	conn = ld_apply_conn(apply);
	initPQExpBuffer(&sql);
	if (prefix != NULL)
		appendPQExpBuffer(&sql, "%s\n", prefix);
	appendPQExpBuffer(&sql, "copy %s (", qtable);
	for (i = 0; i < cols->n; i++)
	{
		char	   *col = ld_sql_ident(cols->items[i]);

		appendPQExpBuffer(&sql, "%s%s", i > 0 ? "," : "", col);
		pg_free(col);
	}
	appendPQExpBufferStr(&sql, ") from stdin");
	sky_log(SKY_LOG_DEBUG, "bulk: %s", sql.data);
	if (!PQsendQuery(conn, sql.data))
	{
		sky_log(SKY_LOG_ERROR, "%s", PQerrorMessage(conn));
		termPQExpBuffer(&sql);
		return false;
	}
	termPQExpBuffer(&sql);
	/* the prefix's results, then the COPY's */
	while (!in_copy && (res = PQgetResult(conn)) != NULL)
	{
		if (PQresultStatus(res) == PGRES_COPY_IN)
			in_copy = true;
		else if (ok && !result_ok(conn, res))
			ok = false;
		PQclear(res);
	}
	if (in_copy)
	{
		if (PQputCopyData(conn, rows, (int) len) != 1 ||
			PQputCopyEnd(conn, ok ? NULL : "aborted") != 1)
		{
			sky_log(SKY_LOG_ERROR, "%s", PQerrorMessage(conn));
			ok = false;
		}
		while ((res = PQgetResult(conn)) != NULL)
		{
			if (ok && !result_ok(conn, res))
				ok = false;
			PQclear(res);
		}
	}
	else if (ok)
	{
		sky_log(SKY_LOG_ERROR, "COPY into %s did not start", qtable);
		ok = false;
	}
	return ok;
}

bool
ld_direct_count(LdApply *apply, const char *sql, int64_t *count)
{
	PGconn	   *conn;
	PGresult   *res;
	bool		ok;

	if (!ld_apply_flush(apply))
		return false;
	conn = ld_apply_conn(apply);
	sky_log(SKY_LOG_DEBUG, "exec: %s", sql);
	res = PQexec(conn, sql);
	ok = result_ok(conn, res);
	if (ok)
		*count = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return ok;
}

PGresult *
ld_direct_query(LdApply *apply, const char *sql, int nparams,
			   const char *const *params)
{
	PGconn	   *conn;
	PGresult   *res;

	if (!ld_apply_flush(apply))
		return NULL;
	conn = ld_apply_conn(apply);
	res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	if (!result_ok(conn, res))
	{
		PQclear(res);
		return NULL;
	}
	return res;
}
