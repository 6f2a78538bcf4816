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
 * A small JSON reader: enough for jsontriga's ev_type and row objects.
 * Scalars come out as text (strings unescaped); nested objects and
 * arrays as their JSON text.
 */
typedef struct JsonReader
{
	const char *p;
	const char *error;
} JsonReader;

static void
json_skip_space(JsonReader *r)
{
	while (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')
		r->p++;
}

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
json_read_hex4(JsonReader *r, unsigned int *code)
{
	int			i;

	*code = 0;
	for (i = 0; i < 4; i++)
	{
		int			v = hex_value(r->p[i]);

		if (v < 0)
			return false;
		*code = *code * 16 + v;
	}
	r->p += 4;
	return true;
}

static void
append_utf8(PQExpBuffer buf, unsigned int code)
{
	if (code < 0x80)
		appendPQExpBufferChar(buf, (char) code);
	else if (code < 0x800)
	{
		appendPQExpBufferChar(buf, (char) (0xC0 | (code >> 6)));
		appendPQExpBufferChar(buf, (char) (0x80 | (code & 0x3F)));
	}
	else if (code < 0x10000)
	{
		appendPQExpBufferChar(buf, (char) (0xE0 | (code >> 12)));
		appendPQExpBufferChar(buf, (char) (0x80 | ((code >> 6) & 0x3F)));
		appendPQExpBufferChar(buf, (char) (0x80 | (code & 0x3F)));
	}
	else
	{
		appendPQExpBufferChar(buf, (char) (0xF0 | (code >> 18)));
		appendPQExpBufferChar(buf, (char) (0x80 | ((code >> 12) & 0x3F)));
		appendPQExpBufferChar(buf, (char) (0x80 | ((code >> 6) & 0x3F)));
		appendPQExpBufferChar(buf, (char) (0x80 | (code & 0x3F)));
	}
}

/* a JSON string at r->p (at the quote); palloc'd text or NULL on error */
static char *
json_read_string(JsonReader *r)
{
	PQExpBufferData buf;

	if (*r->p != '"')
	{
		r->error = "string expected";
		return NULL;
	}
	r->p++;
	initPQExpBuffer(&buf);
	while (*r->p != '"')
	{
		if (*r->p == '\0')
		{
			r->error = "unterminated string";
			termPQExpBuffer(&buf);
			return NULL;
		}
		if (*r->p != '\\')
		{
			appendPQExpBufferChar(&buf, *r->p++);
			continue;
		}
		r->p++;
		switch (*r->p++)
		{
			case '"':
				appendPQExpBufferChar(&buf, '"');
				break;
			case '\\':
				appendPQExpBufferChar(&buf, '\\');
				break;
			case '/':
				appendPQExpBufferChar(&buf, '/');
				break;
			case 'b':
				appendPQExpBufferChar(&buf, '\b');
				break;
			case 'f':
				appendPQExpBufferChar(&buf, '\f');
				break;
			case 'n':
				appendPQExpBufferChar(&buf, '\n');
				break;
			case 'r':
				appendPQExpBufferChar(&buf, '\r');
				break;
			case 't':
				appendPQExpBufferChar(&buf, '\t');
				break;
			case 'u':
				{
					unsigned int code;
					unsigned int low;

					if (!json_read_hex4(r, &code))
					{
						r->error = "bad \\u escape";
						termPQExpBuffer(&buf);
						return NULL;
					}
					if (code >= 0xD800 && code < 0xDC00 &&
						r->p[0] == '\\' && r->p[1] == 'u')
					{
						r->p += 2;
						if (!json_read_hex4(r, &low) || low < 0xDC00 || low > 0xDFFF)
						{
							r->error = "bad surrogate pair";
							termPQExpBuffer(&buf);
							return NULL;
						}
						code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
					}
					if (code == 0)
					{
						r->error = "\\u0000 cannot be stored";
						termPQExpBuffer(&buf);
						return NULL;
					}
					append_utf8(&buf, code);
					break;
				}
			default:
				r->error = "bad escape";
				termPQExpBuffer(&buf);
				return NULL;
		}
	}
	r->p++;
	return buf.data;
}

/* skip over one JSON value of any kind */
static bool
json_skip_value(JsonReader *r)
{
	json_skip_space(r);
	if (*r->p == '"')
	{
		char	   *s = json_read_string(r);

		pg_free(s);
		return s != NULL;
	}
	if (*r->p == '{' || *r->p == '[')
	{
		char		close = *r->p == '{' ? '}' : ']';
		bool		object = *r->p == '{';

		r->p++;
		json_skip_space(r);
		if (*r->p == close)
		{
			r->p++;
			return true;
		}
		for (;;)
		{
			if (object)
			{
				char	   *key;

				json_skip_space(r);
				key = json_read_string(r);
				if (key == NULL)
					return false;
				pg_free(key);
				json_skip_space(r);
				if (*r->p++ != ':')
				{
					r->error = "':' expected";
					return false;
				}
			}
			if (!json_skip_value(r))
				return false;
			json_skip_space(r);
			if (*r->p == ',')
			{
				r->p++;
				continue;
			}
			if (*r->p == close)
			{
				r->p++;
				return true;
			}
			r->error = "',' or end of container expected";
			return false;
		}
	}
	if (strncmp(r->p, "true", 4) == 0 || strncmp(r->p, "null", 4) == 0)
	{
		r->p += 4;
		return true;
	}
	if (strncmp(r->p, "false", 5) == 0)
	{
		r->p += 5;
		return true;
	}
	if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
	{
		r->p++;
		while ((*r->p >= '0' && *r->p <= '9') || *r->p == '.' ||
			   *r->p == 'e' || *r->p == 'E' || *r->p == '+' || *r->p == '-')
			r->p++;
		return true;
	}
	r->error = "value expected";
	return false;
}

/*
 * One value as text for SQL: strings unescaped, true/false as Python
 * prints them, null as NULL (*is_null), numbers and containers verbatim.
 */
static bool
json_read_scalar(JsonReader *r, char **value)
{
	const char *start;

	json_skip_space(r);
	*value = NULL;
	if (*r->p == '"')
		return (*value = json_read_string(r)) != NULL;
	if (strncmp(r->p, "true", 4) == 0)
	{
		r->p += 4;
		*value = pg_strdup("True");
		return true;
	}
	if (strncmp(r->p, "false", 5) == 0)
	{
		r->p += 5;
		*value = pg_strdup("False");
		return true;
	}
	if (strncmp(r->p, "null", 4) == 0)
	{
		r->p += 4;
		return true;
	}
	start = r->p;
	if (!json_skip_value(r))
		return false;
	*value = pnstrdup(start, r->p - start);
	return true;
}

/* a JSON object of scalars into a dict */
static PgqDict *
json_read_object(JsonReader *r)
{
	PgqDict    *dict = pgq_dict_new();

	json_skip_space(r);
	if (*r->p++ != '{')
	{
		r->error = "object expected";
		pgq_dict_free(dict);
		return NULL;
	}
	json_skip_space(r);
	if (*r->p == '}')
	{
		r->p++;
		return dict;
	}
	for (;;)
	{
		char	   *key;
		char	   *value;

		json_skip_space(r);
		key = json_read_string(r);
		if (key == NULL)
			break;
		json_skip_space(r);
		if (*r->p++ != ':')
		{
			r->error = "':' expected";
			pg_free(key);
			break;
		}
		if (!json_read_scalar(r, &value))
		{
			pg_free(key);
			break;
		}
		pgq_dict_set(dict, key, value);
		pg_free(key);
		pg_free(value);
		json_skip_space(r);
		if (*r->p == ',')
		{
			r->p++;
			continue;
		}
		if (*r->p == '}')
		{
			r->p++;
			return dict;
		}
		r->error = "',' or '}' expected";
		break;
	}
	pgq_dict_free(dict);
	return NULL;
}

/* jsontriga's ev_type: the operation's first letter and the key list */
static bool
parse_json_type(const char *type, LdRowEvent *out, char **errmsg)
{
	JsonReader	r = {type, NULL};
	bool		have_op = false;

	r.p++;						/* the '{' */
	for (;;)
	{
		char	   *key;

		json_skip_space(&r);
		key = json_read_string(&r);
		if (key == NULL)
			break;
		json_skip_space(&r);
		if (*r.p++ != ':')
		{
			r.error = "':' expected";
			pg_free(key);
			break;
		}
		json_skip_space(&r);
		if (strcmp(key, "op") == 0)
		{
			char	   *op = json_read_string(&r);

			if (op == NULL)
			{
				pg_free(key);
				break;
			}
			out->op = op[0];
			have_op = true;
			pg_free(op);
		}
		else if (strcmp(key, "pkey") == 0 && *r.p == '[')
		{
			r.p++;
			json_skip_space(&r);
			while (*r.p != ']')
			{
				char	   *name = json_read_string(&r);

				if (name == NULL)
					break;
				out->pkeys = pg_realloc(out->pkeys,
										sizeof(char *) * (out->npkeys + 1));
				out->pkeys[out->npkeys++] = name;
				json_skip_space(&r);
				if (*r.p == ',')
				{
					r.p++;
					json_skip_space(&r);
				}
				else if (*r.p != ']')
					r.error = "',' or ']' expected";
				if (r.error)
					break;
			}
			if (r.error)
			{
				pg_free(key);
				break;
			}
			r.p++;
		}
		else if (!json_skip_value(&r))
		{
			pg_free(key);
			break;
		}
		pg_free(key);
		json_skip_space(&r);
		if (*r.p == ',')
		{
			r.p++;
			continue;
		}
		if (*r.p == '}')
		{
			if (!have_op)
			{
				*errmsg = psprintf("JSON event type without \"op\": %s", type);
				return false;
			}
			return true;
		}
		r.error = "',' or '}' expected";
		break;
	}
	*errmsg = psprintf("bad JSON event type (%s): %s", r.error, type);
	return false;
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
			return false;
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
		JsonReader	r = {data, NULL};

		out->row = json_read_object(&r);
		if (out->row == NULL)
		{
			*errmsg = psprintf("bad JSON row (%s) in event %lld",
							   r.error, (long long) ev->id);
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

static bool
is_key(const LdRowEvent *rev, const char *col)
{
	int			i;

	for (i = 0; i < rev->npkeys; i++)
		if (strcmp(rev->pkeys[i], col) == 0)
			return true;
	return false;
}

/* "k1 = v1 and k2 = v2"; false if a key column is not in the row */
static bool
append_key_condition(PQExpBuffer sql, const LdRowEvent *rev, char **errmsg)
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
		appendPQExpBufferStr(sql, " = ");
		ld_append_literal(sql, value);
	}
	return true;
}

bool
ld_row_event_sql(const LdRowEvent *rev, const char *dest_table,
				 PQExpBuffer sql, char **errmsg)
{
	int			n;
	int			i;
	bool		first;

	*errmsg = NULL;
	if (rev->sql_fragment != NULL)
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
		return true;
	}

	n = pgq_dict_count(rev->row);
	if (rev->op != 'I' && rev->npkeys == 0)
	{
		*errmsg = psprintf("%s needs pkeys: table %s has no key columns in its events",
						   rev->op == 'U' ? "update" : "delete", dest_table);
		return false;
	}
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
			if (i > 0)
				appendPQExpBufferStr(sql, ", ");
			ld_append_literal(sql, pgq_dict_value(rev->row, i));
		}
		appendPQExpBufferStr(sql, ");");
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

			if (is_key(rev, col))
				continue;
			if (!first)
				appendPQExpBufferStr(sql, ", ");
			first = false;
			ld_append_quoted_ident(sql, col);
			appendPQExpBufferStr(sql, " = ");
			ld_append_literal(sql, pgq_dict_value(rev->row, i));
		}
		if (first)
		{
			/* only key columns: the row stays as it is, still checked */
			ld_append_quoted_ident(sql, rev->pkeys[0]);
			appendPQExpBufferStr(sql, " = ");
			ld_append_quoted_ident(sql, rev->pkeys[0]);
		}
		appendPQExpBufferStr(sql, " where ");
		if (!append_key_condition(sql, rev, errmsg))
			return false;
		appendPQExpBufferChar(sql, ';');
		return true;
	}
	appendPQExpBufferStr(sql, "delete from only ");
	ld_append_quoted_fqname(sql, dest_table);
	appendPQExpBufferStr(sql, " where ");
	if (!append_key_condition(sql, rev, errmsg))
		return false;
	appendPQExpBufferChar(sql, ';');
	return true;
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

			if (is_key(rev, col))
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
