/*-------------------------------------------------------------------------
 *
 * replay.c
 *	  Row events as SQL statements.
 *
 * sqltriga events carry a ready SQL fragment; logutriga events an
 * urlencoded row with the key columns in ev_type ("U:id,sub"); jsontriga
 * events a JSON row with the operation and key in a JSON ev_type.  Values
 * are rendered as python3-londiste renders them, so that both write the
 * same data: JSON true/false become True/False, numbers keep their text.
 *
 * src/londiste3/worker/replay.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "londiste3/json.h"
#include "londiste3/worker/replay.h"

bool
ld_is_row_event(const PgqEvent *ev)
{
	const char *t = ev->type;

	if (t == NULL)
		return false;
	if ((t[0] == 'I' || t[0] == 'U' || t[0] == 'D') &&
		(t[1] == '\0' || t[1] == ':'))
		return true;
	return t[0] == '{' && t[1] == '"';
}

/*
 * A value of a jsontriga row as text for SQL: strings unescaped, true and
 * false as Python prints them, null as NULL, numbers and nested objects
 * and arrays as written.
 */
static char *
json_value_text(const LdJson *v)
{
	switch (v->type)
	{
		case LD_JSON_NULL:
			return NULL;
		case LD_JSON_TRUE:
			return pg_strdup("True");
		case LD_JSON_FALSE:
			return pg_strdup("False");
		case LD_JSON_STRING:
			return pg_strdup(v->text);
		default:
			return pnstrdup(v->src, v->srclen);
	}
}

/* a jsontriga row (a JSON object) into a dict; NULL with *error */
static PgqDict *
parse_json_row(const char *data, char **error)
{
	LdJson	   *row = ld_json_parse(data, false, error);
	PgqDict    *dict;
	int			i;

	if (row == NULL)
		return NULL;
	if (row->type != LD_JSON_OBJECT)
	{
		*error = pg_strdup("not an object");
		ld_json_free(row);
		return NULL;
	}
	dict = pgq_dict_new();
	for (i = 0; i < row->n; i++)
	{
		char	   *value = json_value_text(row->items[i]);

		pgq_dict_set(dict, row->keys[i], value);
		pg_free(value);
	}
	ld_json_free(row);
	return dict;
}

/* jsontriga's ev_type: the operation's first letter and the key list */
static bool
parse_json_type(const char *type, LdRowEvent *out, char **errmsg)
{
	char	   *error = NULL;
	LdJson	   *t = ld_json_parse(type, false, &error);
	bool		have_op = false;
	int			i;
	int			k;

	if (t != NULL && t->type != LD_JSON_OBJECT)
		error = pg_strdup("not an object");
	for (i = 0; error == NULL && i < t->n; i++)
	{
		const LdJson *v = t->items[i];

		if (strcmp(t->keys[i], "op") == 0)
		{
			if (v->type != LD_JSON_STRING)
				error = pg_strdup("\"op\" is not a string");
			else
			{
				out->op = v->text[0];
				have_op = true;
			}
		}
		else if (strcmp(t->keys[i], "pkey") == 0 && v->type == LD_JSON_ARRAY)
		{
			for (k = 0; error == NULL && k < v->n; k++)
			{
				if (v->items[k]->type != LD_JSON_STRING)
				{
					error = pg_strdup("\"pkey\" holds a non-string");
					break;
				}
				out->pkeys = pg_realloc(out->pkeys,
										sizeof(char *) * (out->npkeys + 1));
				out->pkeys[out->npkeys++] = pg_strdup(v->items[k]->text);
			}
		}
	}
	ld_json_free(t);
	if (error != NULL)
	{
		*errmsg = psprintf("bad JSON event type (%s): %s", error, type);
		pg_free(error);
		return false;
	}
	if (!have_op)
	{
		*errmsg = psprintf("JSON event type without \"op\": %s", type);
		return false;
	}
	return true;
}

/* split "a,b" (ev_type after "I:") into key names */
static void
split_key_list(const char *list, LdRowEvent *out)
{
	const char *p = list;

	if (*p == '\0')
		return;
	for (;;)
	{
		const char *comma = strchr(p, ',');
		size_t		len = comma ? (size_t) (comma - p) : strlen(p);

		out->pkeys = pg_realloc(out->pkeys, sizeof(char *) * (out->npkeys + 1));
		out->pkeys[out->npkeys++] = pnstrdup(p, len);
		if (comma == NULL)
			break;
		p = comma + 1;
	}
}

/* fix invalid UTF-8 in every value of the row, saying which columns */
static void
fix_row_utf8(PgqDict *row, const char *table)
{
	int			i;

	for (i = 0; i < pgq_dict_count(row); i++)
	{
		const char *value = pgq_dict_value(row, i);
		char	   *fixed;

		if (value == NULL || (fixed = ld_utf8_fix(value)) == NULL)
			continue;
		sky_log(SKY_LOG_INFO, "Fixed invalid UTF8 in column <%s.%s>",
				table ? table : "", pgq_dict_key(row, i));
		pgq_dict_set(row, pgq_dict_key(row, i), fixed);
		pg_free(fixed);
	}
}

bool
ld_row_event_parse(const PgqEvent *ev, bool fix_utf8, LdRowEvent *out,
				   char **errmsg)
{
	const char *data = ev->data ? ev->data : "";

	memset(out, 0, sizeof(*out));
	*errmsg = NULL;
	if (ev->type[0] == '{')
	{
		if (!parse_json_type(ev->type, out, errmsg))
		{
			ld_row_event_free(out);
			return false;
		}
	}
	else
	{
		out->op = ev->type[0];
		if (ev->type[1] == '\0')
		{
			/* sqltriga: the SQL text itself */
			out->sql_fragment = data;
			if (fix_utf8)
			{
				char	   *fixed = ld_utf8_fix(data);

				if (fixed != NULL)
				{
					sky_log(SKY_LOG_INFO, "%s: Fixed invalid UTF8 in string <%s>",
							ev->extra1 ? ev->extra1 : "", data);
					out->fixed_fragment = fixed;
					out->sql_fragment = fixed;
				}
			}
			return true;
		}
		split_key_list(ev->type + 2, out);
	}
	if (out->op != 'I' && out->op != 'U' && out->op != 'D')
	{
		*errmsg = psprintf("Unknown row event operation: %s", ev->type);
		ld_row_event_free(out);
		return false;
	}
	if (data[0] == '{')
	{
		char	   *error;

		out->row = parse_json_row(data, &error);
		if (out->row == NULL)
		{
			*errmsg = psprintf("bad JSON row (%s) in event %lld",
							   error, (long long) ev->id);
			pg_free(error);
			ld_row_event_free(out);
			return false;
		}
	}
	else
	{
		out->row = pgq_urldecode(data);
		if (out->row == NULL)
		{
			*errmsg = psprintf("bad urlencoded row in event %lld",
							   (long long) ev->id);
			ld_row_event_free(out);
			return false;
		}
	}
	if (fix_utf8)
		fix_row_utf8(out->row, ev->extra1);
	return true;
}

void
ld_row_event_free(LdRowEvent *rev)
{
	int			i;

	for (i = 0; i < rev->npkeys; i++)
		pg_free(rev->pkeys[i]);
	pg_free(rev->pkeys);
	if (rev->row != NULL)
		pgq_dict_free(rev->row);
	pg_free(rev->fixed_fragment);
	memset(rev, 0, sizeof(*rev));
}

void
ld_append_quoted_ident(PQExpBuffer buf, const char *ident)
{
	const char *p;

	appendPQExpBufferChar(buf, '"');
	for (p = ident; *p; p++)
	{
		if (*p == '"')
			appendPQExpBufferChar(buf, '"');
		appendPQExpBufferChar(buf, *p);
	}
	appendPQExpBufferChar(buf, '"');
}

void
ld_append_quoted_fqname(PQExpBuffer buf, const char *fqname)
{
	const char *dot = strchr(fqname, '.');
	char	   *schema;

	if (dot == NULL)
	{
		appendPQExpBufferStr(buf, "\"public\".");
		ld_append_quoted_ident(buf, fqname);
		return;
	}
	schema = pnstrdup(fqname, dot - fqname);
	ld_append_quoted_ident(buf, schema);
	appendPQExpBufferChar(buf, '.');
	ld_append_quoted_ident(buf, dot + 1);
	pg_free(schema);
}

void
ld_append_literal(PQExpBuffer buf, const char *value)
{
	const char *p;

	if (value == NULL)
	{
		appendPQExpBufferStr(buf, "null");
		return;
	}
	/* E'' with doubled backslashes whatever standard_conforming_strings is */
	if (strchr(value, '\\') != NULL)
		appendPQExpBufferChar(buf, 'E');
	appendPQExpBufferChar(buf, '\'');
	for (p = value; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			appendPQExpBufferChar(buf, *p);
		appendPQExpBufferChar(buf, *p);
	}
	appendPQExpBufferChar(buf, '\'');
}

bool
ld_row_event_is_key(const LdRowEvent *rev, const char *col)
{
	int			i;

	for (i = 0; i < rev->npkeys; i++)
		if (strcmp(rev->pkeys[i], col) == 0)
			return true;
	return false;
}

void
ld_row_event_fragment_sql(const LdRowEvent *rev, const char *dest_table,
						  PQExpBuffer sql)
{
	switch (rev->op)
	{
		case 'I':
			appendPQExpBufferStr(sql, "insert into ");
			break;
		case 'U':
			appendPQExpBufferStr(sql, "update only ");
			break;
		default:
			appendPQExpBufferStr(sql, "delete from only ");
			break;
	}
	ld_append_quoted_fqname(sql, dest_table);
	appendPQExpBufferStr(sql, rev->op == 'U' ? " set " :
						 rev->op == 'D' ? " where " : " ");
	appendPQExpBuffer(sql, "%s;", rev->sql_fragment);
}

/* "k1 = $n and k2 = $n+1", their values appended; false if a key is missing */
static bool
append_key_params(PQExpBuffer sql, const LdRowEvent *rev, const char **values,
				  int *nvalues, char **errmsg)
{
	int			i;

	for (i = 0; i < rev->npkeys; i++)
	{
		const char *value;

		if (!pgq_dict_get(rev->row, rev->pkeys[i], &value))
		{
			*errmsg = psprintf("key column %s missing from the event's row",
							   rev->pkeys[i]);
			return false;
		}
		if (i > 0)
			appendPQExpBufferStr(sql, " and ");
		ld_append_quoted_ident(sql, rev->pkeys[i]);
		values[(*nvalues)++] = value;
		appendPQExpBuffer(sql, " = $%d", *nvalues);
	}
	return true;
}

bool
ld_row_event_prepared(const LdRowEvent *rev, const char *dest_table,
					  PQExpBuffer sql, const char ***values, int *nvalues,
					  char **errmsg)
{
	int			n = pgq_dict_count(rev->row);
	const char **vals;
	int			i;
	bool		first;

	*errmsg = NULL;
	*values = NULL;
	*nvalues = 0;
	if (rev->op != 'I' && rev->npkeys == 0)
	{
		*errmsg = psprintf("%s needs pkeys: table %s has no key columns in its events",
						   rev->op == 'U' ? "update" : "delete", dest_table);
		return false;
	}
	vals = pg_malloc(sizeof(char *) * (n + rev->npkeys + 1));
	*values = vals;
	if (rev->op == 'I')
	{
		appendPQExpBufferStr(sql, "insert into ");
		ld_append_quoted_fqname(sql, dest_table);
		appendPQExpBufferStr(sql, " (");
		for (i = 0; i < n; i++)
		{
			if (i > 0)
				appendPQExpBufferStr(sql, ", ");
			ld_append_quoted_ident(sql, pgq_dict_key(rev->row, i));
		}
		appendPQExpBufferStr(sql, ") values (");
		for (i = 0; i < n; i++)
		{
			vals[(*nvalues)++] = pgq_dict_value(rev->row, i);
			appendPQExpBuffer(sql, i > 0 ? ", $%d" : "$%d", *nvalues);
		}
		appendPQExpBufferChar(sql, ')');
		return true;
	}
	if (rev->op == 'U')
	{
		appendPQExpBufferStr(sql, "update only ");
		ld_append_quoted_fqname(sql, dest_table);
		appendPQExpBufferStr(sql, " set ");
		first = true;
		for (i = 0; i < n; i++)
		{
			const char *col = pgq_dict_key(rev->row, i);

			if (ld_row_event_is_key(rev, col))
				continue;
			if (!first)
				appendPQExpBufferStr(sql, ", ");
			first = false;
			ld_append_quoted_ident(sql, col);
			vals[(*nvalues)++] = pgq_dict_value(rev->row, i);
			appendPQExpBuffer(sql, " = $%d", *nvalues);
		}
		if (first)
		{
			/* only key columns: the row stays as it is, still checked */
			ld_append_quoted_ident(sql, rev->pkeys[0]);
			appendPQExpBufferStr(sql, " = ");
			ld_append_quoted_ident(sql, rev->pkeys[0]);
		}
		appendPQExpBufferStr(sql, " where ");
		return append_key_params(sql, rev, vals, nvalues, errmsg);
	}
	appendPQExpBufferStr(sql, "delete from only ");
	ld_append_quoted_fqname(sql, dest_table);
	appendPQExpBufferStr(sql, " where ");
	return append_key_params(sql, rev, vals, nvalues, errmsg);
}

/* length of the valid UTF-8 sequence at s, 0 if invalid */
static int
utf8_sequence_length(const unsigned char *s)
{
	unsigned int code;
	int			len;
	int			i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
	{
		len = 2;
		code = s[0] & 0x1F;
	}
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
	{
		len = 3;
		code = s[0] & 0x0F;
	}
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
	{
		len = 4;
		code = s[0] & 0x07;
	}
	else
		return 0;
	for (i = 1; i < len; i++)
	{
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		code = (code << 6) | (s[i] & 0x3F);
	}
	/* overlong forms, surrogates and code points past U+10FFFF */
	if ((len == 3 && code < 0x800) || (len == 4 && code < 0x10000) ||
		(code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF)
		return 0;
	return len;
}

char *
ld_utf8_fix(const char *text)
{
	const unsigned char *p = (const unsigned char *) text;
	PQExpBufferData buf;
	bool		fixed = false;

	initPQExpBuffer(&buf);
	while (*p)
	{
		int			len = utf8_sequence_length(p);

		if (len == 0)
		{
			appendPQExpBufferStr(&buf, "\xEF\xBF\xBD");
			fixed = true;
			p++;
			continue;
		}
		appendBinaryPQExpBuffer(&buf, (const char *) p, len);
		p += len;
	}
	if (!fixed)
	{
		termPQExpBuffer(&buf);
		return NULL;
	}
	return buf.data;
}
