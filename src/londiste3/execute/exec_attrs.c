/*-------------------------------------------------------------------------
 *
 * exec_attrs.c
 *	  The attributes of EXECUTE files: parsing, urlencoding, matching
 *	  them against the node, and @name@ substitution (exec_attrs.h).
 *
 * The rules are python3-londiste's (exec_attrs.py), so that a file run
 * on a mixed cascade has the same effect on every node.  One difference:
 * Need-Function with a name without schema also finds built-in functions
 * (pg_catalog), which python3-londiste means to do but never does.
 *
 * src/londiste3/execute/exec_attrs.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <ctype.h>

#include "framework/pqutil.h"
#include "londiste3/execute/exec_attrs.h"
#include "pqexpbuffer.h"

#define META_PREFIX "--*--"

typedef enum MatchKind
{
	MATCH_LOCAL_TABLE,
	MATCH_LOCAL_SEQUENCE,
	MATCH_LOCAL_DESTINATION,
	MATCH_NEED_TABLE,
	MATCH_NEED_SEQUENCE,
	MATCH_NEED_FUNCTION,
	MATCH_NEED_SCHEMA,
	MATCH_NEED_VIEW
} MatchKind;

/* the keys, in the order their values are probed */
static const struct
{
	const char *key;			/* lower case, as stored */
	MatchKind	kind;
	bool		local_rename;	/* @name@ becomes the local name */
}			matchers[] =
{
	{"local-table", MATCH_LOCAL_TABLE, true},
	{"local-sequence", MATCH_LOCAL_SEQUENCE, true},
	{"local-destination", MATCH_LOCAL_DESTINATION, true},
	{"need-table", MATCH_NEED_TABLE, false},
	{"need-sequence", MATCH_NEED_SEQUENCE, false},
	{"need-function", MATCH_NEED_FUNCTION, false},
	{"need-schema", MATCH_NEED_SCHEMA, false},
	{"need-view", MATCH_NEED_VIEW, false},
};

static int
matcher_index(const char *key)
{
	int			i;

	for (i = 0; i < lengthof(matchers); i++)
		if (strcmp(matchers[i].key, key) == 0)
			return i;
	return -1;
}

static void
list_add(LdStringList *list, const char *value)
{
	list->items = pg_realloc(list->items, sizeof(char *) * (list->n + 1));
	list->items[list->n++] = pg_strdup(value);
}

void
ld_string_list_free(LdStringList *list)
{
	int			i;

	for (i = 0; i < list->n; i++)
		pg_free(list->items[i]);
	pg_free(list->items);
	list->items = NULL;
	list->n = 0;
}

/* copy of s[0..len) without leading and trailing white space */
static char *
strip_copy(const char *s, size_t len)
{
	while (len > 0 && isspace((unsigned char) *s))
		s++, len--;
	while (len > 0 && isspace((unsigned char) s[len - 1]))
		len--;
	return pnstrdup(s, len);
}

/* add one value under a key (any case); false for an unknown key */
static bool
attrs_add(LdExecAttrs *attrs, const char *key, const char *value,
		  char **errmsg)
{
	char	   *lkey = strip_copy(key, strlen(key));
	char	   *p;
	int			i;

	for (p = lkey; *p; p++)
		*p = pg_tolower((unsigned char) *p);
	if (matcher_index(lkey) < 0)
	{
		*errmsg = psprintf("Invalid key: %s", key);
		pg_free(lkey);
		return false;
	}
	for (i = 0; i < attrs->nkeys; i++)
		if (strcmp(attrs->keys[i], lkey) == 0)
			break;
	if (i == attrs->nkeys)
	{
		attrs->keys = pg_realloc(attrs->keys, sizeof(char *) * (i + 1));
		attrs->values = pg_realloc(attrs->values, sizeof(LdStringList) * (i + 1));
		attrs->keys[i] = lkey;
		attrs->values[i].n = 0;
		attrs->values[i].items = NULL;
		attrs->nkeys++;
	}
	else
		pg_free(lkey);
	p = strip_copy(value, strlen(value));
	list_add(&attrs->values[i], p);
	pg_free(p);
	return true;
}

/* add each non-empty comma-separated value of text under key */
static bool
attrs_add_list(LdExecAttrs *attrs, const char *key, const char *text,
			   char **errmsg)
{
	const char *start = text;

	for (;;)
	{
		const char *end = strchr(start, ',');
		char	   *value = strip_copy(start, end ? (size_t) (end - start) : strlen(start));
		bool		ok = true;

		if (value[0] != '\0')
			ok = attrs_add(attrs, key, value, errmsg);
		pg_free(value);
		if (!ok)
			return false;
		if (end == NULL)
			return true;
		start = end + 1;
	}
}

void
ld_exec_attrs_free(LdExecAttrs *attrs)
{
	int			i;

	if (attrs == NULL)
		return;
	for (i = 0; i < attrs->nkeys; i++)
	{
		pg_free(attrs->keys[i]);
		ld_string_list_free(&attrs->values[i]);
	}
	pg_free(attrs->keys);
	pg_free(attrs->values);
	pg_free(attrs);
}

/*
 * Only the leading comment lines count: empty lines and plain comments are
 * passed over, the first other line ends the header.  "--*-- Key: a, b"
 * starts a key; a line ending in ',' continues it on the next meta line.
 */
LdExecAttrs *
ld_exec_attrs_from_sql(const char *sql, char **errmsg)
{
	LdExecAttrs *attrs = pg_malloc0(sizeof(LdExecAttrs));
	char	   *cur_key = NULL;
	const char *line = sql;

	*errmsg = NULL;
	while (line != NULL && *line != '\0')
	{
		size_t		len = strcspn(line, "\r\n");
		const char *next = line[len] == '\0' ? NULL : line + len + 1;
		char	   *ln;
		char	   *body;
		size_t		blen;
		bool		ok = true;

		if (next != NULL && line[len] == '\r' && *next == '\n')
			next++;
		ln = strip_copy(line, len);
		line = next;
		if (ln[0] == '\0' || strncmp(ln, META_PREFIX, strlen(META_PREFIX)) != 0)
		{
			bool		stop = ln[0] != '\0' && strncmp(ln, "--", 2) != 0;

			pg_free(ln);
			if (stop)
				break;
			continue;
		}
		body = strip_copy(ln + strlen(META_PREFIX), strlen(ln + strlen(META_PREFIX)));
		pg_free(ln);
		blen = strlen(body);
		if (blen == 0)
		{
			pg_free(body);
			continue;
		}
		if (cur_key != NULL)
		{
			ok = attrs_add_list(attrs, cur_key, body, errmsg);
			if (body[blen - 1] != ',')
			{
				pg_free(cur_key);
				cur_key = NULL;
			}
		}
		else
		{
			char	   *colon = strchr(body, ':');

			if (colon != NULL)
			{
				char	   *key = pnstrdup(body, colon - body);

				ok = attrs_add_list(attrs, key, colon + 1, errmsg);
				if (ok && body[blen - 1] == ',')
					cur_key = key;
				else
					pg_free(key);
			}
		}
		pg_free(body);
		if (!ok)
		{
			pg_free(cur_key);
			ld_exec_attrs_free(attrs);
			return NULL;
		}
	}
	pg_free(cur_key);
	return attrs;
}

LdExecAttrs *
ld_exec_attrs_from_urlenc(const char *text, char **errmsg)
{
	LdExecAttrs *attrs = pg_malloc0(sizeof(LdExecAttrs));
	PgqDict    *dict;
	int			i;

	*errmsg = NULL;
	if (text == NULL || text[0] == '\0')
		return attrs;
	dict = pgq_urldecode(text);
	if (dict == NULL)
	{
		*errmsg = psprintf("malformed EXECUTE attributes: %s", text);
		ld_exec_attrs_free(attrs);
		return NULL;
	}
	for (i = 0; i < pgq_dict_count(dict); i++)
	{
		const char *value = pgq_dict_value(dict, i);

		if (!attrs_add_list(attrs, pgq_dict_key(dict, i), value ? value : "",
							errmsg))
		{
			pgq_dict_free(dict);
			ld_exec_attrs_free(attrs);
			return NULL;
		}
	}
	pgq_dict_free(dict);
	return attrs;
}

char *
ld_exec_attrs_to_urlenc(const LdExecAttrs *attrs)
{
	PgqDict    *dict = pgq_dict_new();
	char	   *encoded;
	char	   *result;
	int			i;

	for (i = 0; i < attrs->nkeys; i++)
	{
		PQExpBufferData buf;
		int			j;

		initPQExpBuffer(&buf);
		for (j = 0; j < attrs->values[i].n; j++)
			appendPQExpBuffer(&buf, "%s%s", j > 0 ? "," : "",
							  attrs->values[i].items[j]);
		pgq_dict_set(dict, attrs->keys[i], buf.data);
		termPQExpBuffer(&buf);
	}
	encoded = pgq_urlencode(dict);
	result = pg_strdup(encoded);
	pgq_free(encoded);
	pgq_dict_free(dict);
	return result;
}

bool
ld_local_objects_load(PGconn *conn, const char *queue_name,
					  LdLocalObjects *objs)
{
	const char *params[1] = {queue_name};
	PGresult   *res;
	int			i;

	memset(objs, 0, sizeof(*objs));
	res = sky_db_exec(conn,
					  "select table_name, coalesce(dest_table, table_name)"
					  " from londiste.get_table_list($1) where local",
					  1, params);
	if (res == NULL)
		return false;
	for (i = 0; i < PQntuples(res); i++)
	{
		list_add(&objs->tables, PQgetvalue(res, i, 0));
		list_add(&objs->dests, PQgetvalue(res, i, 1));
	}
	PQclear(res);
	res = sky_db_exec(conn,
					  "select seq_name from londiste.get_seq_list($1) where local",
					  1, params);
	if (res == NULL)
	{
		ld_local_objects_free(objs);
		return false;
	}
	for (i = 0; i < PQntuples(res); i++)
		list_add(&objs->seqs, PQgetvalue(res, i, 0));
	PQclear(res);
	return true;
}

void
ld_local_objects_free(LdLocalObjects *objs)
{
	ld_string_list_free(&objs->tables);
	ld_string_list_free(&objs->dests);
	ld_string_list_free(&objs->seqs);
}

static int
list_find(const LdStringList *list, const char *name)
{
	int			i;

	for (i = 0; i < list->n; i++)
		if (strcmp(list->items[i], name) == 0)
			return i;
	return -1;
}

/* count of pg_class rows of that kind and name; -1 if the query failed */
static int
relation_exists(PGconn *conn, const char *fqname, char relkind)
{
	char		kind[2] = {relkind, '\0'};
	const char *params[2] = {fqname, kind};
	char	   *v;
	int			n;

	v = sky_db_value(conn,
					 "select count(1) from pg_catalog.pg_class c"
					 " join pg_catalog.pg_namespace n on n.oid = c.relnamespace"
					 " where n.nspname = split_part($1, '.', 1)"
					 " and c.relname = substr($1, strpos($1, '.') + 1)"
					 " and c.relkind = $2",
					 2, params);
	if (v == NULL)
		return -1;
	n = atoi(v);
	pg_free(v);
	return n;
}

/*
 * "[schema.]name(nargs)": is there a function of that name and number of
 * arguments?  Without a schema, public and then pg_catalog.
 */
static int
function_exists(PGconn *conn, const char *spec, char **errmsg)
{
	const char *open = strchr(spec, '(');
	const char *close = open ? strchr(open, ')') : NULL;
	char	   *name;
	char	   *nargs;
	char	   *v;
	int			n;
	const char *params[3];

	if (open != NULL && close != NULL)
	{
		char	   *end;
		long		count;

		nargs = pnstrdup(open + 1, close - open - 1);
		count = strtol(nargs, &end, 10);
		if (end == nargs || *end != '\0' || count < 0)
		{
			*errmsg = psprintf("Need-Function: bad argument count in \"%s\"", spec);
			pg_free(nargs);
			return -1;
		}
		name = pnstrdup(spec, open - spec);
	}
	else
	{
		nargs = pg_strdup("0");
		name = pg_strdup(spec);
	}
	params[0] = name;
	params[1] = nargs;
	params[2] = strchr(name, '.') ? "" : "pg_catalog";
	v = sky_db_value(conn,
					 "select count(1) from pg_catalog.pg_proc p"
					 " join pg_catalog.pg_namespace n on n.oid = p.pronamespace"
					 " where p.pronargs = $2::int2"
					 " and ((strpos($1, '.') > 0"
					 "       and n.nspname = split_part($1, '.', 1)"
					 "       and p.proname = substr($1, strpos($1, '.') + 1))"
					 "   or (strpos($1, '.') = 0 and n.nspname in ('public', $3)"
					 "       and p.proname = $1))",
					 3, params);
	pg_free(name);
	pg_free(nargs);
	if (v == NULL)
	{
		*errmsg = pg_strdup("could not look up a Need-Function");
		return -1;
	}
	n = atoi(v);
	pg_free(v);
	return n;
}

/* 1 matches, 0 does not, -1 error (*errmsg set) */
static int
match_one(MatchKind kind, PGconn *conn, const char *value,
		  const LdLocalObjects *objs, char **errmsg)
{
	char	   *fq = ld_make_fqname(value);
	int			result = 0;
	int			i;

	switch (kind)
	{
		case MATCH_LOCAL_TABLE:
			result = list_find(&objs->tables, fq) >= 0;
			break;
		case MATCH_LOCAL_SEQUENCE:
			result = list_find(&objs->seqs, fq) >= 0;
			break;
		case MATCH_LOCAL_DESTINATION:
			i = list_find(&objs->tables, fq);
			result = i >= 0 ? relation_exists(conn, objs->dests.items[i], 'r') : 0;
			break;
		case MATCH_NEED_TABLE:
			result = relation_exists(conn, fq, 'r');
			break;
		case MATCH_NEED_SEQUENCE:
			result = relation_exists(conn, fq, 'S');
			break;
		case MATCH_NEED_VIEW:
			result = relation_exists(conn, fq, 'v');
			break;
		case MATCH_NEED_SCHEMA:
			{
				const char *params[1] = {value};
				char	   *v = sky_db_value(conn,
											 "select count(1) from pg_catalog.pg_namespace"
											 " where nspname = $1",
											 1, params);

				result = v ? atoi(v) : -1;
				pg_free(v);
			}
			break;
		case MATCH_NEED_FUNCTION:
			pg_free(fq);
			return function_exists(conn, value, errmsg) > 0 ? 1 :
				(*errmsg != NULL ? -1 : 0);
	}
	pg_free(fq);
	if (result < 0 && *errmsg == NULL)
		*errmsg = psprintf("could not check \"%s\" in the catalog", value);
	return result < 0 ? -1 : (result > 0);
}

/* Python's repr() of a list of plain strings, for the error message */
static void
append_py_list(PQExpBuffer buf, const LdStringList *list)
{
	int			i;

	appendPQExpBufferChar(buf, '[');
	for (i = 0; i < list->n; i++)
		appendPQExpBuffer(buf, "%s'%s'", i > 0 ? ", " : "", list->items[i]);
	appendPQExpBufferChar(buf, ']');
}

LdExecDecision
ld_exec_attrs_decide(const LdExecAttrs *attrs, PGconn *conn,
					 const LdLocalObjects *objs, char **errmsg)
{
	LdStringList good = {0};
	LdStringList missed = {0};
	LdExecDecision decision;
	int			m;

	*errmsg = NULL;
	for (m = 0; m < lengthof(matchers); m++)
	{
		int			k;
		int			i;

		for (k = 0; k < attrs->nkeys; k++)
			if (strcmp(attrs->keys[k], matchers[m].key) == 0)
				break;
		if (k == attrs->nkeys)
			continue;
		for (i = 0; i < attrs->values[k].n; i++)
		{
			const char *v = attrs->values[k].items[i];
			int			r = match_one(matchers[m].kind, conn, v, objs, errmsg);

			if (r < 0)
			{
				ld_string_list_free(&good);
				ld_string_list_free(&missed);
				return LD_EXEC_FAIL;
			}
			list_add(r ? &good : &missed, v);
		}
	}
	if (missed.n == 0)
		decision = LD_EXEC_RUN;
	else if (good.n == 0)
		decision = LD_EXEC_SKIP;
	else
	{
		PQExpBufferData buf;

		initPQExpBuffer(&buf);
		appendPQExpBufferStr(&buf, "SQL only partially matches local setup: matches=");
		append_py_list(&buf, &good);
		appendPQExpBufferStr(&buf, " misses=");
		append_py_list(&buf, &missed);
		*errmsg = pg_strdup(buf.data);
		termPQExpBuffer(&buf);
		decision = LD_EXEC_FAIL;
	}
	ld_string_list_free(&good);
	ld_string_list_free(&missed);
	return decision;
}

/* replace every "@value@" in *sql by replacement */
static void
replace_all(char **sql, const char *tag, const char *replacement)
{
	PQExpBufferData buf;
	const char *p = *sql;
	const char *hit;

	if (strstr(p, tag) == NULL)
		return;
	initPQExpBuffer(&buf);
	while ((hit = strstr(p, tag)) != NULL)
	{
		appendBinaryPQExpBuffer(&buf, p, hit - p);
		appendPQExpBufferStr(&buf, replacement);
		p = hit + strlen(tag);
	}
	appendPQExpBufferStr(&buf, p);
	pg_free(*sql);
	*sql = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
}

char *
ld_exec_attrs_substitute(const LdExecAttrs *attrs, PGconn *conn,
						 const char *sql, const LdLocalObjects *objs,
						 char **errmsg)
{
	char	   *result = pg_strdup(sql);
	int			k;

	*errmsg = NULL;
	for (k = 0; k < attrs->nkeys; k++)
	{
		int			m = matcher_index(attrs->keys[k]);
		int			i;

		if (!matchers[m].local_rename)
			continue;
		for (i = 0; i < attrs->values[k].n; i++)
		{
			const char *v = attrs->values[k].items[i];
			char	   *fq = ld_make_fqname(v);
			char	   *tag = psprintf("@%s@", v);
			const char *local = NULL;
			const char *params[1];
			char	   *quoted;
			int			t;

			if ((t = list_find(&objs->tables, fq)) >= 0)
				local = objs->dests.items[t];
			else if (list_find(&objs->seqs, fq) >= 0)
				local = fq;
			if (local == NULL)
			{
				*errmsg = psprintf("%s is not a local table or sequence of this node", v);
				pg_free(fq);
				pg_free(tag);
				pg_free(result);
				return NULL;
			}
			/* the server quotes the parts as quote_ident() does */
			params[0] = local;
			quoted = sky_db_value(conn, "select londiste.quote_fqname($1)",
								  1, params);
			if (quoted == NULL)
			{
				*errmsg = psprintf("could not quote the name %s", local);
				pg_free(fq);
				pg_free(tag);
				pg_free(result);
				return NULL;
			}
			replace_all(&result, tag, quoted);
			pg_free(quoted);
			pg_free(fq);
			pg_free(tag);
		}
	}
	return result;
}
