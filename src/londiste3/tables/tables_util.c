/*-------------------------------------------------------------------------
 *
 * tables_util.c
 *	  Helpers of the table and sequence commands (tables.h).
 *
 * src/londiste3/tables/tables_util.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "framework/pqutil.h"
#include "londiste3/execute/exec_attrs.h"
#include "londiste3/handlers/handler.h"
#include "londiste3/tables/tables.h"
#include "pqexpbuffer.h"

void
ld_list_add(LdStringList *list, const char *value)
{
	list->items = pg_realloc(list->items, sizeof(char *) * (list->n + 1));
	list->items[list->n++] = pg_strdup(value);
}

bool
ld_list_contains(const LdStringList *list, const char *value)
{
	int			i;

	for (i = 0; i < list->n; i++)
		if (strcmp(list->items[i], value) == 0)
			return true;
	return false;
}

bool
ld_sql(PGconn *conn, const char *sql)
{
	PGresult   *res = sky_db_exec(conn, sql, 0, NULL);

	if (res == NULL)
		return false;
	PQclear(res);
	return true;
}

static char *
value_or_null(const PGresult *res, int col)
{
	if (col < 0 || PQgetisnull(res, 0, col))
		return NULL;
	return pg_strdup(PQgetvalue(res, 0, col));
}

bool
ld_load_node_info(Londiste *ld, LdNodeInfo *info)
{
	const char *params[1] = {ld->queue_name};
	PGresult   *res;
	int			code;

	memset(info, 0, sizeof(*info));
	res = sky_db_exec(ld_local(ld),
					  "select * from pgq_node.get_node_info($1)", 1, params);
	if (res == NULL)
		return false;
	code = atoi(PQgetvalue(res, 0, PQfnumber(res, "ret_code")));
	if (code >= 400 || PQgetisnull(res, 0, PQfnumber(res, "node_type")))
	{
		sky_log(SKY_LOG_ERROR, "%s", PQgetvalue(res, 0, PQfnumber(res, "ret_note")));
		PQclear(res);
		return false;
	}
	info->node_type = value_or_null(res, PQfnumber(res, "node_type"));
	info->node_name = value_or_null(res, PQfnumber(res, "node_name"));
	info->provider_node = value_or_null(res, PQfnumber(res, "provider_node"));
	info->provider_location = value_or_null(res, PQfnumber(res, "provider_location"));
	PQclear(res);
	return true;
}

bool
ld_is_root(const LdNodeInfo *info)
{
	return strcmp(info->node_type, "root") == 0;
}

bool
ld_source_location(Londiste *ld, const LdNodeInfo *info, char **location)
{
	const char *node = ld->opt.copy_node;
	const char *params[2] = {ld->queue_name, node};
	PGresult   *res;

	*location = NULL;
	if (node == NULL)
	{
		if (info->provider_location == NULL)
		{
			sky_log(SKY_LOG_ERROR, "node %s has no provider", info->node_name);
			return false;
		}
		*location = pg_strdup(info->provider_location);
		return true;
	}
	res = sky_db_exec(ld_local(ld),
					  "select node_location from pgq_node.get_queue_locations($1)"
					  " where node_name = $2",
					  2, params);
	if (res == NULL)
		return false;
	if (PQntuples(res) == 0)
	{
		sky_log(SKY_LOG_ERROR, "Cannot find node <%s>", node);
		PQclear(res);
		return false;
	}
	if (strcmp(node, info->node_name) == 0)
	{
		sky_log(SKY_LOG_ERROR, "Cannot use itself as provider");
		PQclear(res);
		return false;
	}
	*location = pg_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

char *
ld_text_array(const LdStringList *list)
{
	PQExpBufferData buf;
	char	   *result;
	int			i;

	initPQExpBuffer(&buf);
	appendPQExpBufferChar(&buf, '{');
	for (i = 0; i < list->n; i++)
	{
		const char *p;

		if (i > 0)
			appendPQExpBufferChar(&buf, ',');
		appendPQExpBufferChar(&buf, '"');
		for (p = list->items[i]; *p; p++)
		{
			if (*p == '"' || *p == '\\')
				appendPQExpBufferChar(&buf, '\\');
			appendPQExpBufferChar(&buf, *p);
		}
		appendPQExpBufferChar(&buf, '"');
	}
	appendPQExpBufferChar(&buf, '}');
	result = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return result;
}

void
ld_config_list(Londiste *ld, const char *key, LdStringList *list)
{
	char	   *text = sky_config_get(ld->script.cf, key, "");
	char	   *save;
	char	   *item;

	list->n = 0;
	list->items = NULL;
	for (item = strtok_r(text, ",", &save); item != NULL;
		 item = strtok_r(NULL, ",", &save))
	{
		char	   *end;

		while (*item == ' ' || *item == '\t' || *item == '\n')
			item++;
		end = item + strlen(item);
		while (end > item && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n'))
			*--end = '\0';
		if (*item != '\0')
			ld_list_add(list, item);
	}
	pg_free(text);
}

/* shell-style match: '*' any run of characters, '?' any one */
static bool
glob_match(const char *pat, const char *s)
{
	for (; *pat != '\0'; pat++, s++)
	{
		if (*pat == '*')
		{
			const char *t;

			for (t = s + strlen(s); t >= s; t--)
				if (glob_match(pat + 1, t))
					return true;
			return false;
		}
		if (*s == '\0' || (*pat != '?' && *pat != *s))
			return false;
	}
	return *s == '\0';
}

static bool
fetch_names(PGconn *conn, const char *sql, const char *queue_name,
			LdStringList *list)
{
	const char *params[1] = {queue_name};
	PGresult   *res = sky_db_exec(conn, sql, 1, params);
	int			i;

	if (res == NULL)
		return false;
	for (i = 0; i < PQntuples(res); i++)
		ld_list_add(list, PQgetvalue(res, i, 0));
	PQclear(res);
	return true;
}

bool
ld_expand_args(Londiste *ld, PGconn *conn, char kind, bool existing,
			   bool allow_unknown, LdStringList *result)
{
	LdStringList local = {0};
	LdStringList missing = {0};
	const LdStringList *wanted;
	const LdStringList *other;
	bool		ok = true;
	int			i;

	result->n = 0;
	result->items = NULL;
	if (!fetch_names(conn, kind == 'S' ?
					 "select seq_name from londiste.get_seq_list($1) where local" :
					 "select table_name from londiste.get_table_list($1) where local",
					 ld->queue_name, &local) ||
		!fetch_names(conn, kind == 'S' ?
					 "select obj_name from londiste.local_show_missing($1) where obj_kind = 'S'" :
					 "select obj_name from londiste.local_show_missing($1) where obj_kind = 'r'",
					 ld->queue_name, &missing))
		return false;
	wanted = existing ? &local : &missing;
	other = existing ? &missing : &local;

	if (ld->nargs == 0 && ld->opt.all)
	{
		for (i = 0; i < wanted->n; i++)
			ld_list_add(result, wanted->items[i]);
		ld_string_list_free(&local);
		ld_string_list_free(&missing);
		return true;
	}
	for (i = 0; i < ld->nargs; i++)
	{
		const char *arg = ld->args[i];

		if (strpbrk(arg, "*?") != NULL)
		{
			char	   *pat = strchr(arg, '.') ? pg_strdup(arg) : psprintf("public.%s", arg);
			int			j;

			for (j = 0; j < wanted->n; j++)
				if (glob_match(pat, wanted->items[j]) &&
					!ld_list_contains(result, wanted->items[j]))
					ld_list_add(result, wanted->items[j]);
			pg_free(pat);
		}
		else
		{
			char	   *fq = ld_make_fqname(arg);

			if (ld_list_contains(result, fq))
			{
				/* named twice: once is enough */
			}
			else if (ld_list_contains(wanted, fq))
				ld_list_add(result, fq);
			else if (ld_list_contains(other, fq))
				sky_log(SKY_LOG_INFO, "%s already processed", fq);
			else if (allow_unknown)
				ld_list_add(result, fq);
			else if (ld->opt.force)
			{
				sky_log(SKY_LOG_WARNING, "%s not available, but --force is used", fq);
				ld_list_add(result, fq);
			}
			else
			{
				sky_log(SKY_LOG_WARNING, "%s not available", fq);
				ok = false;
			}
			pg_free(fq);
		}
	}
	ld_string_list_free(&local);
	ld_string_list_free(&missing);
	if (!ok)
	{
		sky_log(SKY_LOG_ERROR, "Cannot proceed");
		ld_string_list_free(result);
		return false;
	}
	if (result->n == 0)
		sky_log(SKY_LOG_INFO, "what to do ?");
	return true;
}

/* is the table's handler one that keeps the data (may it be copied from)? */
bool
ld_handler_keeps_data(Londiste *ld, const char *table_attrs)
{
	PgqDict    *attrs;
	const char *spec = NULL;
	LdHandler  *h;
	bool		allows;

	if (table_attrs == NULL || table_attrs[0] == '\0')
		return true;
	attrs = pgq_urldecode(table_attrs);
	if (attrs == NULL)
		return false;
	if (!pgq_dict_get(attrs, "handler", &spec) || spec == NULL)
		pgq_dict_get(attrs, "handlers", &spec);
	h = ld_handler_new(ld, spec ? spec : "", "unused.string", NULL);
	pgq_dict_free(attrs);
	if (h == NULL)
		return false;
	allows = ld_handler_needs_table(h);
	ld_handler_free(h);
	return allows;
}
