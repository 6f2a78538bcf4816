/*-------------------------------------------------------------------------
 *
 * tables.c
 *	  londiste3 commands on the node's tables: add-table, remove-table,
 *	  change-handler, resync, tables, missing, wait-sync, and the handler
 *	  and check commands show-handlers, check, fkeys.  The sequence
 *	  commands are in seqs.c, listed here too.
 *
 * A table is known to every node of the cascade once the root added it
 * (londiste.table_info, "local" false); add-table makes it local here,
 * which puts its triggers on (root) or starts its initial copy (others).
 * Output and messages are python3-londiste 3.11's (doc/londiste3.md,
 * "Tables").
 *
 * src/londiste3/tables/tables.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "framework/pqutil.h"
#include "framework/signals.h"
#include "londiste3/copy/copy.h"
#include "londiste3/execute/exec_attrs.h"
#include "londiste3/handlers/handler.h"
#include "londiste3/tables/tables.h"
#include "pqexpbuffer.h"

/* a table of pgq_node's list: get_table_list() of one node */
typedef struct SetTable
{
	char	   *name;
	bool		local;
	char	   *dest_table;		/* coalesce(dest_table, table_name) */
} SetTable;

typedef struct SetTables
{
	int			n;
	SetTable   *items;
} SetTables;

static bool
fetch_set_tables(PGconn *conn, const char *queue_name, SetTables *tables)
{
	const char *params[1] = {queue_name};
	PGresult   *res;
	int			i;

	tables->n = 0;
	tables->items = NULL;
	res = sky_db_exec(conn,
					  "select table_name, local, coalesce(dest_table, table_name)"
					  " from londiste.get_table_list($1)",
					  1, params);
	if (res == NULL)
		return false;
	tables->n = PQntuples(res);
	tables->items = pg_malloc0(sizeof(SetTable) * (tables->n + 1));
	for (i = 0; i < tables->n; i++)
	{
		tables->items[i].name = pg_strdup(PQgetvalue(res, i, 0));
		tables->items[i].local = PQgetvalue(res, i, 1)[0] == 't';
		tables->items[i].dest_table = pg_strdup(PQgetvalue(res, i, 2));
	}
	PQclear(res);
	return true;
}

static SetTable *
find_set_table(const SetTables *tables, const char *name)
{
	int			i;

	for (i = 0; i < tables->n; i++)
		if (strcmp(tables->items[i].name, name) == 0)
			return &tables->items[i];
	return NULL;
}

static bool
filtered_out(const LdStringList *only, const LdStringList *skip,
			 const char *name)
{
	return (only->n > 0 && !ld_list_contains(only, name)) ||
		ld_list_contains(skip, name);
}

/*
 * A non-root node's list of tables follows its provider's: tables the
 * provider has are registered (through register_only_tables and
 * register_skip_tables), those it has not are removed.  In the caller's
 * transaction.
 */
static bool
sync_table_list(Londiste *ld, PGconn *conn, const SetTables *src,
				const SetTables *dst)
{
	LdStringList only;
	LdStringList skip;
	bool		ok = true;
	int			i;

	ld_config_list(ld, "register_only_tables", &only);
	ld_config_list(ld, "register_skip_tables", &skip);
	for (i = 0; i < src->n && ok; i++)
	{
		const char *params[2] = {ld->queue_name, src->items[i].name};

		if (filtered_out(&only, &skip, src->items[i].name) ||
			find_set_table(dst, src->items[i].name) != NULL)
			continue;
		sky_log(SKY_LOG_INFO, "Table %s info missing from subscriber, adding",
				src->items[i].name);
		ok = ld_exec_cmd(conn, "select * from londiste.global_add_table($1, $2)",
						 2, params, NULL);
	}
	for (i = 0; i < dst->n && ok; i++)
	{
		const char *params[2] = {ld->queue_name, dst->items[i].name};

		if (find_set_table(src, dst->items[i].name) != NULL)
			continue;
		sky_log(SKY_LOG_INFO, "Table %s gone but exists on subscriber, removing",
				dst->items[i].name);
		ok = ld_exec_cmd(conn, "select * from londiste.global_remove_table($1, $2)",
						 2, params, NULL);
	}
	ld_string_list_free(&only);
	ld_string_list_free(&skip);
	return ok;
}

/*
 * The handler string of --handler and --handler-arg: "name" or
 * "name(k=v&...)", urlencoded.  NULL (logged) for a malformed one.
 */
static char *
handler_string(Londiste *ld)
{
	PgqDict    *args;
	char	   *result;
	int			i;

	if (strchr(ld->opt.handler, '(') != NULL)
	{
		sky_log(SKY_LOG_ERROR, "invalid handler name: %s", ld->opt.handler);
		return NULL;
	}
	args = pgq_dict_new();
	for (i = 0; i < ld->opt.handler_args.n; i++)
	{
		const char *arg = ld->opt.handler_args.items[i];
		const char *eq = strchr(arg, '=');
		char	   *key = pnstrdup(arg, eq ? (size_t) (eq - arg) : strlen(arg));
		char	   *value = pg_strdup(eq ? eq + 1 : "");
		char	   *k = key;
		char	   *v = value;
		const char *seen;
		size_t		len;

		while (*k == ' ' || *k == '\t')
			k++;
		for (len = strlen(k); len > 0 && (k[len - 1] == ' ' || k[len - 1] == '\t'); len--)
			k[len - 1] = '\0';
		while (*v == ' ' || *v == '\t')
			v++;
		for (len = strlen(v); len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'); len--)
			v[len - 1] = '\0';
		if (pgq_dict_get(args, k, &seen))
		{
			sky_log(SKY_LOG_ERROR, "multiple handler arguments: %s", k);
			pg_free(key);
			pg_free(value);
			pgq_dict_free(args);
			return NULL;
		}
		pgq_dict_set(args, k, v);
		pg_free(key);
		pg_free(value);
	}
	result = ld_handler_format(ld->opt.handler, args);
	pgq_dict_free(args);
	return result;
}

/* Does the --handler need the table to exist?  -1 for a bad handler. */
static int
handler_needs_table(Londiste *ld)
{
	char	   *spec;
	LdHandler  *h;
	bool		needs;

	if (ld->opt.handler == NULL || ld->opt.handler[0] == '\0')
		return 1;
	if ((spec = handler_string(ld)) == NULL)
		return -1;
	h = ld_handler_new(ld, spec, "unused.string", NULL);
	pg_free(spec);
	if (h == NULL)
		return -1;
	needs = ld_handler_needs_table(h);
	ld_handler_free(h);
	return needs;
}

/* the trigger arguments the switches ask for */
static void
build_trigger_args(Londiste *ld, LdStringList *args)
{
	int			i;

	args->n = 0;
	args->items = NULL;
	for (i = 0; i < ld->opt.trigger_args.n; i++)
		ld_list_add(args, ld->opt.trigger_args.items[i]);
	if (ld->opt.trigger_flags != NULL && ld->opt.trigger_flags[0] != '\0')
	{
		char	   *flags = psprintf("tgflags=%s", ld->opt.trigger_flags);

		ld_list_add(args, flags);
		pg_free(flags);
	}
	if (ld->opt.no_triggers)
		ld_list_add(args, "no_triggers");
	if (ld->opt.merge_all)
		ld_list_add(args, "merge_all");
	if (ld->opt.no_merge)
		ld_list_add(args, "no_merge");
	if (ld->opt.expect_sync)
		ld_list_add(args, "expect_sync");
}

/*
 * The --handler string for a table, with the handler's own trigger
 * arguments added to tgargs.  NULL (logged) for a bad handler.
 */
static char *
build_handler(Londiste *ld, const char *table, const char *dest_table,
			  LdStringList *tgargs)
{
	char	   *spec = handler_string(ld);
	LdHandler  *h;

	if (spec == NULL)
		return NULL;
	h = ld_handler_new(ld, spec, table, dest_table);
	if (h == NULL)
	{
		pg_free(spec);
		return NULL;
	}
	if (h->cls->add_trigger_args != NULL)
		h->cls->add_trigger_args(h, tgargs);
	ld_handler_free(h);
	return spec;
}

/* count of tables (relkind r) of that fq name; -1 if the query failed */
static int
table_exists(PGconn *conn, const char *fqname)
{
	const char *params[1] = {fqname};
	char	   *v = sky_db_value(conn,
								 "select count(1) from pg_catalog.pg_class c"
								 " join pg_catalog.pg_namespace n on n.oid = c.relnamespace"
								 " where c.relkind = 'r'"
								 " and n.nspname = split_part($1, '.', 1)"
								 " and c.relname = substr($1, strpos($1, '.') + 1)",
								 1, params);
	int			n;

	if (v == NULL)
		return -1;
	n = atoi(v);
	pg_free(v);
	return n;
}

/* SET LOCAL statement_timeout from lock_timeout (seconds, default 10) */
static bool
set_lock_timeout(Londiste *ld, PGconn *conn)
{
	double		secs = sky_config_get_float(ld->script.cf, "lock_timeout", 10);
	long		ms = (long) (secs * 1000);
	char	   *sql;
	bool		ok;

	if (ms <= 0)
		return true;
	sql = psprintf("SET LOCAL statement_timeout = %ld", ms);
	sky_log(SKY_LOG_DEBUG, "%s", sql);
	ok = ld_sql(conn, sql);
	pg_free(sql);
	return ok;
}

typedef enum AddResult
{
	ADD_DONE,
	ADD_SKIPPED,
	ADD_FAILED
} AddResult;

/*
 * --create / --create-full: create the missing local table like the
 * source's (its dest_table there), inside the caller's transaction.
 */
static AddResult
create_table(Londiste *ld, PGconn *src, PGconn *dst, const char *table,
			 const char *dest_table, const SetTables *src_tables)
{
	const SetTable *st = find_set_table(src_tables, table);

	switch (ld_create_from_provider(src, dst, st ? st->dest_table : table, 'r',
									dest_table, ld->opt.create_full))
	{
		case LD_CREATE_DONE:
			return ADD_DONE;
		case LD_CREATE_SKIPPED:
			return ADD_SKIPPED;
		case LD_CREATE_FAILED:
			break;
	}
	return ADD_FAILED;
}

/* add one table, in a transaction of its own */
static AddResult
add_one_table(Londiste *ld, PGconn *src, PGconn *dst, const char *arg,
			  const SetTables *src_tables)
{
	char	   *table = ld_make_fqname(arg);
	char	   *dest_table = ld_make_fqname(ld->opt.dest_table ? ld->opt.dest_table : arg);
	char	   *desc;
	LdStringList tgargs = {0};
	PgqDict    *attrs = pgq_dict_new();
	char	   *attrs_text = NULL;
	char	   *tgargs_text = NULL;
	const char *params[5];
	AddResult	result = ADD_FAILED;
	int			exists;

	desc = strcmp(table, dest_table) == 0 ? pg_strdup(table) :
		psprintf("%s(%s)", table, dest_table);
	exists = table_exists(dst, dest_table);
	if (exists < 0 || !ld_sql(dst, "begin") || !set_lock_timeout(ld, dst))
		goto done;

	if (ld->opt.create || ld->opt.create_full)
	{
		/* it logs "already exist, not touching" itself */
		result = create_table(ld, src, dst, table, dest_table, src_tables);
		if (result != ADD_DONE)
			goto done;
		result = ADD_FAILED;
	}
	else if (exists == 0 && ld->opt.skip_non_existing)
	{
		sky_log(SKY_LOG_WARNING, "Table %s does not exist on local node, skipping", desc);
		result = ADD_SKIPPED;
		goto done;
	}

	build_trigger_args(ld, &tgargs);
	if (ld->opt.handler != NULL && ld->opt.handler[0] != '\0')
	{
		char	   *spec = build_handler(ld, table, ld->opt.dest_table ? dest_table : NULL,
										 &tgargs);

		if (spec == NULL)
			goto done;
		pgq_dict_set(attrs, "handler", spec);
		pg_free(spec);
	}
	if (ld->opt.find_copy_node)
		pgq_dict_set(attrs, "copy_node", "?");
	else if (ld->opt.copy_node != NULL && ld->opt.copy_node[0] != '\0')
		pgq_dict_set(attrs, "copy_node", ld->opt.copy_node);
	if (!ld->opt.expect_sync && ld->opt.skip_truncate)
		pgq_dict_set(attrs, "skip_truncate", "1");
	if (ld->opt.max_parallel_copy > 0)
	{
		char	   *n = psprintf("%d", ld->opt.max_parallel_copy);

		pgq_dict_set(attrs, "max_parallel_copy", n);
		pg_free(n);
	}
	if (pgq_dict_count(attrs) > 0)
	{
		char	   *enc = pgq_urlencode(attrs);

		attrs_text = pg_strdup(enc);
		pgq_free(enc);
	}
	tgargs_text = ld_text_array(&tgargs);
	params[0] = ld->queue_name;
	params[1] = table;
	params[2] = tgargs_text;
	params[3] = attrs_text;
	params[4] = strcmp(dest_table, table) != 0 ? dest_table : NULL;
	if (ld_exec_cmd(dst,
					"select * from londiste.local_add_table($1, $2, $3, $4, $5)",
					5, params, NULL))
		result = ADD_DONE;

done:
	if (PQtransactionStatus(dst) != PQTRANS_IDLE)
		ld_sql(dst, result == ADD_DONE ? "commit" : "rollback");
	pg_free(table);
	pg_free(dest_table);
	pg_free(desc);
	pg_free(attrs_text);
	pg_free(tgargs_text);
	ld_string_list_free(&tgargs);
	pgq_dict_free(attrs);
	return result;
}

/*
 * --find-copy-node: walk up from the provider to the first node that has
 * every table local with a handler that keeps the data.  Its connection,
 * or NULL (logged).
 */
static PGconn *
find_copy_source(Londiste *ld, const LdNodeInfo *info, const LdStringList *tables)
{
	char	   *location = pg_strdup(info->provider_location);

	for (;;)
	{
		const char *params[1] = {ld->queue_name};
		PGconn	   *conn = ld_connect(ld, location, true);
		PGresult   *ninfo;
		PGresult   *res;
		int			found = 0;
		int			i;
		bool		root;

		pg_free(location);
		if (conn == NULL)
			return NULL;
		ninfo = sky_db_exec(conn, "select * from pgq_node.get_node_info($1)", 1, params);
		if (ninfo == NULL ||
			atoi(PQgetvalue(ninfo, 0, PQfnumber(ninfo, "ret_code"))) >= 400)
		{
			sky_log(SKY_LOG_ERROR, "Node does not exist");
			PQclear(ninfo);
			PQfinish(conn);
			return NULL;
		}
		sky_log(SKY_LOG_INFO, "Checking if %s can be used for copy",
				PQgetvalue(ninfo, 0, PQfnumber(ninfo, "node_name")));
		res = sky_db_exec(conn,
						  "select table_name, local, table_attrs"
						  " from londiste.get_table_list($1)",
						  1, params);
		if (res == NULL)
		{
			PQclear(ninfo);
			PQfinish(conn);
			return NULL;
		}
		for (i = 0; i < PQntuples(res); i++)
			if (ld_list_contains(tables, PQgetvalue(res, i, 0)) &&
				PQgetvalue(res, i, 1)[0] == 't' &&
				ld_handler_keeps_data(ld, PQgetisnull(res, i, 2) ? NULL : PQgetvalue(res, i, 2)))
				found++;
		PQclear(res);
		if (found == tables->n)
		{
			sky_log(SKY_LOG_INFO, "Node %s seems good source, using it",
					PQgetvalue(ninfo, 0, PQfnumber(ninfo, "node_name")));
			PQclear(ninfo);
			return conn;
		}
		sky_log(SKY_LOG_INFO, "Node %s does not have all tables",
				PQgetvalue(ninfo, 0, PQfnumber(ninfo, "node_name")));
		root = strcmp(PQgetvalue(ninfo, 0, PQfnumber(ninfo, "node_type")), "root") == 0;
		location = root ? NULL :
			pg_strdup(PQgetvalue(ninfo, 0, PQfnumber(ninfo, "provider_location")));
		PQclear(ninfo);
		PQfinish(conn);
		if (root)
		{
			sky_log(SKY_LOG_ERROR, "Found root and no source found");
			return NULL;
		}
	}
}

static int
cmd_add_table(Londiste *ld)
{
	PGconn	   *dst = ld_local(ld);
	PGconn	   *src = NULL;
	LdNodeInfo	info;
	SetTables	src_tables = {0};
	SetTables	dst_tables = {0};
	LdStringList tables;
	char	   *location = NULL;
	int			needs_table;
	bool		root;
	int			rc = LD_EXIT_ERROR;
	int			i;

	if (!ld_load_node_info(ld, &info) || !ld_source_location(ld, &info, &location))
		return LD_EXIT_ERROR;
	root = ld_is_root(&info);
	if (!root)
	{
		if ((src = ld_connect(ld, location, true)) == NULL ||
			!fetch_set_tables(src, ld->queue_name, &src_tables))
			goto done;
	}
	if (!fetch_set_tables(dst, ld->queue_name, &dst_tables))
		goto done;
	if (root)
	{
		/* the root is its own source */
		src = dst;
		src_tables = dst_tables;
	}
	else
	{
		if (!ld_sql(dst, "begin") ||
			!sync_table_list(ld, dst, &src_tables, &dst_tables))
		{
			ld_sql(dst, "rollback");
			goto done;
		}
		if (!ld_sql(dst, "commit"))
			goto done;
	}

	if ((needs_table = handler_needs_table(ld)) < 0 ||
		!ld_expand_args(ld, dst, 'r', false, !needs_table, &tables))
		goto done;

	if (ld->opt.find_copy_node && (ld->opt.create || ld->opt.create_full) &&
		needs_table && !root)
	{
		PGconn	   *found = find_copy_source(ld, &info, &tables);

		if (found == NULL)
			goto done;
		PQfinish(src);
		src = found;
	}

	if (!root && !ld->opt.expect_sync && !ld->opt.find_copy_node)
	{
		bool		problems = false;

		for (i = 0; i < tables.n; i++)
		{
			const SetTable *st = find_set_table(&src_tables, tables.items[i]);

			if (st == NULL || st->local)
				continue;
			if (ld->opt.skip_non_existing)
				sky_log(SKY_LOG_WARNING, "Table %s does not exist on provider",
						tables.items[i]);
			else
			{
				sky_log(SKY_LOG_ERROR, "Table %s does not exist on provider, need to switch to different provider",
						tables.items[i]);
				problems = true;
			}
		}
		if (problems)
		{
			sky_log(SKY_LOG_ERROR, "Problems, canceling operation");
			goto done;
		}
	}
	if (ld->opt.dest_table != NULL && tables.n > 1)
	{
		sky_log(SKY_LOG_ERROR, "--dest-table can be given only for single table");
		goto done;
	}

	for (i = 0; i < tables.n; i++)
		if (add_one_table(ld, src, dst, tables.items[i], &src_tables) == ADD_FAILED)
			goto done;

	if (ld->opt.wait_sync && !ld_wait_for_sync(ld, dst))
		goto done;
	rc = LD_EXIT_OK;

done:
	if (src != NULL && src != dst)
		PQfinish(src);
	pg_free(location);
	return rc;
}

/* run a ret_code function once per name; all or nothing */
static int
exec_for_each(Londiste *ld, PGconn *conn, const char *sql,
			  const LdStringList *names)
{
	bool		ok = true;
	int			i;

	if (!ld_sql(conn, "begin"))
		return LD_EXIT_ERROR;
	for (i = 0; i < names->n; i++)
	{
		const char *params[2] = {ld->queue_name, names->items[i]};

		if (!ld_exec_cmd(conn, sql, 2, params, NULL))
			ok = false;
		if (PQtransactionStatus(conn) == PQTRANS_INERROR)
			break;
	}
	if (!ld_sql(conn, ok ? "commit" : "rollback"))
		return LD_EXIT_ERROR;
	return ok ? LD_EXIT_OK : LD_EXIT_ERROR;
}

static int
cmd_remove_table(Londiste *ld)
{
	PGconn	   *conn = ld_local(ld);
	LdStringList tables;
	int			rc;

	if (!ld_expand_args(ld, conn, 'r', true, false, &tables))
		return LD_EXIT_ERROR;
	rc = exec_for_each(ld, conn, "select * from londiste.local_remove_table($1, $2)",
					   &tables);
	ld_string_list_free(&tables);
	return rc;
}

static int
cmd_change_handler(Londiste *ld)
{
	PGconn	   *conn = ld_local(ld);
	LdNodeInfo	info;
	char	   *table = ld_make_fqname(ld->args[0]);
	const char *params[4] = {ld->queue_name, table};
	PGresult   *res;
	PgqDict    *attrs;
	const char *old_handler = NULL;
	char	   *new_handler = NULL;
	char	   *dest_table;
	LdStringList tgargs;
	char	   *tgargs_text;
	char	   *attrs_text = NULL;
	bool		ok;

	if (!ld_load_node_info(ld, &info))
		return LD_EXIT_ERROR;
	res = sky_db_exec(conn,
					  "select table_attrs, dest_table from londiste.get_table_list($1)"
					  " where table_name = $2 and local",
					  2, params);
	if (res == NULL)
		return LD_EXIT_ERROR;
	if (PQntuples(res) == 0)
	{
		sky_log(SKY_LOG_ERROR, "Table %s not found on this node", table);
		PQclear(res);
		return LD_EXIT_ERROR;
	}
	attrs = pgq_urldecode(PQgetvalue(res, 0, 0));
	dest_table = PQgetisnull(res, 0, 1) ? NULL : pg_strdup(PQgetvalue(res, 0, 1));
	PQclear(res);
	if (attrs == NULL)
	{
		sky_log(SKY_LOG_ERROR, "Table %s has malformed table_attrs", table);
		return LD_EXIT_ERROR;
	}
	pgq_dict_get(attrs, "handler", &old_handler);

	build_trigger_args(ld, &tgargs);
	if (ld->opt.handler != NULL && ld->opt.handler[0] != '\0' &&
		(new_handler = build_handler(ld, table, dest_table, &tgargs)) == NULL)
		return LD_EXIT_ERROR;
	if ((old_handler == NULL && new_handler == NULL) ||
		(old_handler != NULL && new_handler != NULL &&
		 strcmp(old_handler, new_handler) == 0))
	{
		sky_log(SKY_LOG_INFO, "Handler is already set to desired value, nothing done");
		return LD_EXIT_OK;
	}
	if (new_handler != NULL)
		pgq_dict_set(attrs, "handler", new_handler);
	else
	{
		/* rebuild without the handler key, keeping the others' order */
		PgqDict    *rest = pgq_dict_new();
		int			i;

		for (i = 0; i < pgq_dict_count(attrs); i++)
			if (strcmp(pgq_dict_key(attrs, i), "handler") != 0)
				pgq_dict_set(rest, pgq_dict_key(attrs, i), pgq_dict_value(attrs, i));
		pgq_dict_free(attrs);
		attrs = rest;
	}
	if (pgq_dict_count(attrs) > 0)
	{
		char	   *enc = pgq_urlencode(attrs);

		attrs_text = pg_strdup(enc);
		pgq_free(enc);
	}
	tgargs_text = ld_text_array(&tgargs);
	params[2] = tgargs_text;
	params[3] = attrs_text;
	ok = ld_sql(conn, "begin");
	if (ok)
	{
		ok = ld_exec_cmd(conn,
						 "select * from londiste.local_change_handler($1, $2, $3, $4)",
						 4, params, NULL);
		ok = ld_sql(conn, ok ? "commit" : "rollback") && ok;
	}
	pg_free(tgargs_text);
	pg_free(attrs_text);
	pg_free(new_handler);
	pgq_dict_free(attrs);
	return ok ? LD_EXIT_OK : LD_EXIT_ERROR;
}

static int
cmd_resync(Londiste *ld)
{
	PGconn	   *conn = ld_local(ld);
	LdNodeInfo	info;
	LdStringList tables;
	int			i;

	if (!ld_load_node_info(ld, &info))
		return LD_EXIT_ERROR;
	if (ld_is_root(&info))
	{
		/*
		 * python3-londiste sets the root's table to state NULL, which no
		 * root worker ever copies back to "ok": the subscribers then wait
		 * for it for good.
		 */
		sky_log(SKY_LOG_ERROR, "resync on the root node: the root is where the tables are copied from");
		return LD_EXIT_ERROR;
	}
	if (!ld_expand_args(ld, conn, 'r', true, false, &tables))
		return LD_EXIT_ERROR;
	if (!ld->opt.find_copy_node)
	{
		char	   *location;
		PGconn	   *src;
		SetTables	src_tables;
		int			problems = 0;

		if (!ld_source_location(ld, &info, &location))
			return LD_EXIT_ERROR;
		src = ld_connect(ld, location, true);
		if (src == NULL)
			return LD_EXIT_ERROR;
		if (!fetch_set_tables(src, ld->queue_name, &src_tables))
		{
			PQfinish(src);
			return LD_EXIT_ERROR;
		}
		PQfinish(src);
		for (i = 0; i < tables.n; i++)
		{
			const SetTable *st = find_set_table(&src_tables, tables.items[i]);

			if (st == NULL || !st->local)
			{
				sky_log(SKY_LOG_ERROR, "Table %s does not exist on provider, need to switch to different provider",
						tables.items[i]);
				problems++;
			}
		}
		if (problems > 0)
		{
			sky_log(SKY_LOG_ERROR, "Problems, cancelling operation");
			return LD_EXIT_ERROR;
		}
	}
	if (ld->opt.find_copy_node ||
		(ld->opt.copy_node != NULL && ld->opt.copy_node[0] != '\0'))
	{
		const char *params[3] = {ld->queue_name};
		PGresult   *res = sky_db_exec(conn,
									  "select table_name, table_attrs from londiste.get_table_list($1)"
									  " where local",
									  1, params);

		if (res == NULL)
			return LD_EXIT_ERROR;
		for (i = 0; i < PQntuples(res); i++)
		{
			PgqDict    *attrs;
			char	   *enc;
			bool		ok;

			if (!ld_list_contains(&tables, PQgetvalue(res, i, 0)))
				continue;
			attrs = pgq_urldecode(PQgetvalue(res, i, 1));
			if (attrs == NULL)
			{
				sky_log(SKY_LOG_ERROR, "Table %s has malformed table_attrs",
						PQgetvalue(res, i, 0));
				PQclear(res);
				return LD_EXIT_ERROR;
			}
			pgq_dict_set(attrs, "copy_node",
						 ld->opt.find_copy_node ? "?" : ld->opt.copy_node);
			enc = pgq_urlencode(attrs);
			params[1] = PQgetvalue(res, i, 0);
			params[2] = enc;
			ok = ld_exec_cmd(conn,
							 "select * from londiste.local_set_table_attrs($1, $2, $3)",
							 3, params, NULL);
			pgq_free(enc);
			pgq_dict_free(attrs);
			if (!ok)
			{
				PQclear(res);
				return LD_EXIT_ERROR;
			}
		}
		PQclear(res);
	}
	return exec_for_each(ld, conn,
						 "select * from londiste.local_set_table_state($1, $2, null, null)",
						 &tables);
}

/* Python's repr() of a str, for the attrs column of "tables" */
static void
append_py_repr(PQExpBuffer buf, const char *s)
{
	char		quote = (strchr(s, '\'') && !strchr(s, '"')) ? '"' : '\'';
	const unsigned char *p;

	appendPQExpBufferChar(buf, quote);
	for (p = (const unsigned char *) s; *p; p++)
	{
		if (*p == '\\' || *p == (unsigned char) quote)
			appendPQExpBuffer(buf, "\\%c", *p);
		else if (*p == '\n')
			appendPQExpBufferStr(buf, "\\n");
		else if (*p == '\r')
			appendPQExpBufferStr(buf, "\\r");
		else if (*p == '\t')
			appendPQExpBufferStr(buf, "\\t");
		else if (*p < 0x20 || *p == 0x7f)
			appendPQExpBuffer(buf, "\\x%02x", *p);
		else
			appendPQExpBufferChar(buf, *p);
	}
	appendPQExpBufferChar(buf, quote);
}

/* table_attrs as python3-londiste shows them: the decoded dict, or '' */
static const char *
format_table_attrs(const char *field, const char *value)
{
	static char *shown = NULL;
	PgqDict    *attrs;
	PQExpBufferData buf;
	int			i;

	if (strcmp(field, "table_attrs") != 0)
		return NULL;
	if (value[0] == '\0')
		return "";
	attrs = pgq_urldecode(value);
	if (attrs == NULL)
		return NULL;
	initPQExpBuffer(&buf);
	appendPQExpBufferChar(&buf, '{');
	for (i = 0; i < pgq_dict_count(attrs); i++)
	{
		const char *v = pgq_dict_value(attrs, i);

		if (i > 0)
			appendPQExpBufferStr(&buf, ", ");
		append_py_repr(&buf, pgq_dict_key(attrs, i));
		appendPQExpBufferStr(&buf, ": ");
		if (v == NULL)
			appendPQExpBufferStr(&buf, "None");
		else
			append_py_repr(&buf, v);
	}
	appendPQExpBufferChar(&buf, '}');
	pgq_dict_free(attrs);
	pg_free(shown);
	shown = pg_strdup(buf.data);
	termPQExpBuffer(&buf);
	return shown;
}

static int
cmd_tables(Londiste *ld)
{
	const char *params[1] = {ld->queue_name};
	PGresult   *res;
	int			i;

	if (ld->opt.names_only)
	{
		res = sky_db_exec(ld_local(ld),
						  "select table_name from londiste.get_table_list($1)"
						  " where local order by table_name",
						  1, params);
		if (res == NULL)
			return LD_EXIT_ERROR;
		for (i = 0; i < PQntuples(res); i++)
			printf("%s\n", PQgetvalue(res, i, 0));
		PQclear(res);
		return LD_EXIT_OK;
	}
	/* NULL attrs show as nothing, as python3-londiste prints them */
	res = sky_db_exec(ld_local(ld),
					  "select table_name, merge_state,"
					  " coalesce(table_attrs, '') as table_attrs"
					  " from londiste.get_table_list($1)"
					  " where local order by table_name",
					  1, params);
	if (res == NULL)
		return LD_EXIT_ERROR;
	ld_display_table(res, "Tables on node", format_table_attrs);
	PQclear(res);
	return LD_EXIT_OK;
}

static int
cmd_missing(Londiste *ld)
{
	const char *params[1] = {ld->queue_name};
	PGresult   *res = sky_db_exec(ld_local(ld),
								  "select * from londiste.local_show_missing($1)",
								  1, params);

	if (res == NULL)
		return LD_EXIT_ERROR;
	ld_display_table(res, "Missing objects on node", NULL);
	PQclear(res);
	return LD_EXIT_OK;
}

/*
 * Poll the local tables every 2 seconds until all are "ok", reporting
 * each one that gets there after the first look.
 */
bool
ld_wait_for_sync(Londiste *ld, PGconn *conn)
{
	const char *params[1] = {ld->queue_name};
	LdStringList pending = {0};
	LdStringList finished = {0};
	bool		first = true;

	sky_log(SKY_LOG_INFO, "Waiting until all tables are in sync");
	for (;;)
	{
		PGresult   *res = sky_db_exec(conn,
									  "select table_name, merge_state"
									  " from londiste.get_table_list($1) where local",
									  1, params);
		int			total;
		int			copying = 0;
		int			i;

		if (res == NULL)
			return false;
		total = PQntuples(res);
		for (i = 0; i < total; i++)
		{
			const char *t = PQgetvalue(res, i, 0);

			if (PQgetisnull(res, i, 1) || strcmp(PQgetvalue(res, i, 1), "ok") != 0)
			{
				copying++;
				if (!ld_list_contains(&pending, t))
					ld_list_add(&pending, t);
			}
		}
		if (first)
			sky_log(SKY_LOG_INFO, "%d/%d table(s) to copy", copying, total);
		first = false;
		for (i = 0; i < total; i++)
		{
			const char *t = PQgetvalue(res, i, 0);

			if (!PQgetisnull(res, i, 1) && strcmp(PQgetvalue(res, i, 1), "ok") == 0 &&
				ld_list_contains(&pending, t) && !ld_list_contains(&finished, t))
			{
				ld_list_add(&finished, t);
				sky_log(SKY_LOG_INFO, "%s: finished (%d/%d)", t, total - copying, total);
			}
		}
		PQclear(res);
		if (copying == 0)
			break;
		sky_sleep(2.0);
		if (sky_stop_pending || sky_terminate_pending)
		{
			sky_log(SKY_LOG_ERROR, "stopped while %d table(s) are still copying", copying);
			ld_string_list_free(&pending);
			ld_string_list_free(&finished);
			return false;
		}
	}
	sky_log(SKY_LOG_INFO, "All done");
	ld_string_list_free(&pending);
	ld_string_list_free(&finished);
	return true;
}

static int
cmd_wait_sync(Londiste *ld)
{
	LdNodeInfo	info;

	if (!ld_load_node_info(ld, &info))
		return LD_EXIT_ERROR;
	return ld_wait_for_sync(ld, ld_local(ld)) ? LD_EXIT_OK : LD_EXIT_ERROR;
}

/* every handler's summary line, or the named ones' full text */
static int
cmd_show_handlers(Londiste *ld)
{
	int			i;

	if (ld->nargs == 0)
	{
		const LdHandlerClass **classes;
		int			n;

		ld_handler_list(ld, &classes, &n);
		for (i = 0; i < n; i++)
		{
			const char *doc = classes[i]->doc ? classes[i]->doc : "";

			printf("%s - %.*s\n", classes[i]->name, (int) strcspn(doc, "\n"), doc);
		}
		pg_free(classes);
		return LD_EXIT_OK;
	}
	for (i = 0; i < ld->nargs; i++)
	{
		const LdHandlerClass *cls = ld_handler_class(ld, ld->args[i]);
		const char *doc;
		int			len;

		if (cls == NULL)
		{
			sky_log(SKY_LOG_ERROR, "unknown handler: %s", ld->args[i]);
			return LD_EXIT_ERROR;
		}
		doc = cls->doc ? cls->doc : "";
		len = strlen(doc);
		while (len > 0 && (doc[len - 1] == '\n' || doc[len - 1] == ' '))
			len--;
		printf("%s - %.*s\n", cls->name, len, doc);
	}
	return LD_EXIT_OK;
}

const LondisteCommand ld_table_commands[] = {
	{"add-table", -1, "TBL...", LD_PIDFILE_ADMIN, cmd_add_table},
	{"remove-table", -1, "TBL...", LD_PIDFILE_ADMIN, cmd_remove_table},
	{"change-handler", 1, "tbl", LD_PIDFILE_ADMIN, cmd_change_handler},
	{"add-seq", -1, "SEQ...", LD_PIDFILE_ADMIN, ld_cmd_add_seq},
	{"remove-seq", -1, "SEQ...", LD_PIDFILE_ADMIN, ld_cmd_remove_seq},
	{"resync", -1, "TBL...", LD_PIDFILE_ADMIN, cmd_resync},
	{"tables", 0, "", LD_PIDFILE_NONE, cmd_tables},
	{"seqs", 0, "", LD_PIDFILE_NONE, ld_cmd_seqs},
	{"missing", 0, "", LD_PIDFILE_NONE, cmd_missing},
	{"wait-sync", 0, "", LD_PIDFILE_NONE, cmd_wait_sync},
	{"show-handlers", -1, "HANDLER...", LD_PIDFILE_NONE, cmd_show_handlers},
	{"check", 0, "", LD_PIDFILE_ADMIN, ld_cmd_check},
	{"fkeys", 0, "", LD_PIDFILE_ADMIN, ld_cmd_fkeys},
	{NULL}
};
