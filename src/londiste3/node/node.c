/*-------------------------------------------------------------------------
 *
 * node.c
 *	  londiste3 commands that make and tend nodes: create-root,
 *	  create-branch, create-leaf, members, tag-dead, tag-alive, pause,
 *	  resume, wait-root, wait-provider.
 *
 * The SQL is the one python3-pgq's CascadeAdmin sends (compat-clients.md
 * 2.8), so that a cascade may mix Python and C nodes and tools.
 *
 * src/londiste3/node/node.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/config.h"
#include "framework/log.h"
#include "framework/pqutil.h"
#include "londiste3/node/cascade.h"

/*
 * The extensions a node needs: a schema that is missing gets its
 * extension created.  python3-londiste logs the same lines.
 */
static bool
install_code(PGconn *conn)
{
	static const char *const schemas[] = {"pgq", "pgq_node", "londiste", NULL};
	char	   *found;
	int			i;

	found = sky_db_value(conn,
						 "select count(*) from pg_catalog.pg_language where lanname = 'plpgsql'",
						 0, NULL);
	if (found == NULL)
		return false;
	if (strcmp(found, "0") == 0)
	{
		sky_log(SKY_LOG_INFO, "Installing plpgsql");
		if (sky_db_exec(conn, "create extension plpgsql", 0, NULL) == NULL)
			return false;
	}
	else
		sky_log(SKY_LOG_INFO, "plpgsql is installed");
	for (i = 0; schemas[i] != NULL; i++)
	{
		const char *params[1] = {schemas[i]};
		PGresult   *res;

		found = sky_db_value(conn,
							 "select count(*) from pg_catalog.pg_namespace where nspname = $1",
							 1, params);
		if (found == NULL)
			return false;
		if (strcmp(found, "0") != 0)
		{
			sky_log(SKY_LOG_INFO, "%s is installed", schemas[i]);
			continue;
		}
		sky_log(SKY_LOG_INFO, "Installing %s", schemas[i]);
		res = sky_db_exec(conn, psprintf("create extension %s", schemas[i]), 0, NULL);
		if (res == NULL)
			return false;
		PQclear(res);
	}
	return true;
}

/* Whether a connect string names a host or a service: others see only it. */
static bool
connstr_has_host(const char *connstr, bool *parsed)
{
	char	   *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(connstr, &err);
	PQconninfoOption *o;
	bool		found = false;

	*parsed = opts != NULL;
	if (opts == NULL)
	{
		sky_log(SKY_LOG_ERROR, "bad connect string \"%s\": %s", connstr,
				err ? err : "out of memory");
		PQfreemem(err);
		return false;
	}
	for (o = opts; o->keyword != NULL; o++)
		if ((strcmp(o->keyword, "host") == 0 || strcmp(o->keyword, "service") == 0) &&
			o->val != NULL && o->val[0] != '\0')
			found = true;
	PQconninfoFree(opts);
	return found;
}

/* whether txid is visible (committed) in snapshot text "xmin:xmax:xip,..." */
static bool
snapshot_contains(const char *snap, unsigned long long txid)
{
	char	   *end;
	unsigned long long xmin = strtoull(snap, &end, 10);
	unsigned long long xmax = strtoull(end + 1, &end, 10);

	if (txid < xmin)
		return true;
	if (txid >= xmax)
		return false;
	while (*end == ':' || *end == ',')
	{
		if (strtoull(end + 1, &end, 10) == txid)
			return false;
	}
	return true;
}

/*
 * Check that the public connect string leads to this very database: same
 * oid and name, and a transaction committed there is seen here right
 * after, and not before.  The failure number is python3-pgq's sum (1:
 * other database, 2: seen too early, 4: not seen).
 */
static bool
check_public_connstr(Londiste *ld, PGconn *local, const char *public_connstr)
{
	const char *sql = "select oid, datname, txid_current() as txid,"
		" txid_current_snapshot() as snap"
		" from pg_catalog.pg_database where datname = current_database()";
	PGconn	   *pub;
	PGresult   *r1;
	PGresult   *r2;
	PGresult   *r3;
	int			failure = 0;
	unsigned long long txid;

	if (ld->opt.nocheck)
		return true;
	pub = ld_connect(ld, public_connstr, true);
	if (pub == NULL)
	{
		sky_log(SKY_LOG_ERROR, "cannot connect with the public connect string: %s",
				public_connstr);
		return false;
	}
	r1 = sky_db_exec(local, sql, 0, NULL);
	r2 = r1 ? sky_db_exec(pub, sql, 0, NULL) : NULL;
	r3 = r2 ? sky_db_exec(local, sql, 0, NULL) : NULL;
	PQfinish(pub);
	if (r3 == NULL)
		return false;
	if (strcmp(PQgetvalue(r1, 0, 0), PQgetvalue(r2, 0, 0)) != 0 ||
		strcmp(PQgetvalue(r1, 0, 1), PQgetvalue(r2, 0, 1)) != 0)
		failure += 1;
	txid = strtoull(PQgetvalue(r2, 0, 2), NULL, 10);
	if (snapshot_contains(PQgetvalue(r1, 0, 3), txid))
		failure += 2;
	else if (!snapshot_contains(PQgetvalue(r3, 0, 3), txid))
		failure += 4;
	PQclear(r1);
	PQclear(r2);
	PQclear(r3);
	if (failure != 0)
	{
		sky_log(SKY_LOG_ERROR, "Public connect string points to different database"
				" than local connect string (fail=%d)", failure);
		return false;
	}
	return true;
}

/* A comma-separated list key of the config; n = 0 when not set. */
typedef struct NameList
{
	int			n;
	char	  **names;
} NameList;

static NameList
config_list(Londiste *ld, const char *key)
{
	NameList	list = {0, NULL};
	char	   *value = sky_config_get(ld->script.cf, key, "");
	char	   *item;
	char	   *save;

	for (item = strtok_r(value, ",", &save); item != NULL;
		 item = strtok_r(NULL, ",", &save))
	{
		char	   *end = item + strlen(item);

		while (*item == ' ' || *item == '\t')
			item++;
		while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		list.names = pg_realloc(list.names, sizeof(char *) * (list.n + 1));
		list.names[list.n++] = item;
	}
	return list;
}

static bool
list_has(const NameList *list, const char *name)
{
	int			i;

	for (i = 0; i < list->n; i++)
		if (strcmp(list->names[i], name) == 0)
			return true;
	return false;
}

/* register_only_* / register_skip_*: whether an object joins this node */
static bool
registered(const NameList *only, const NameList *skip, const char *name)
{
	if (only->n > 0 && !list_has(only, name))
		return false;
	return !(skip->n > 0 && list_has(skip, name));
}

/*
 * A new node learns the provider's tables and sequences (not yet local
 * here: add-table/add-seq make them so), through the register_* filters.
 */
static bool
copy_provider_objects(Londiste *ld, PGconn *local, PGconn *provider)
{
	const char *q = ld->queue_name;
	const char *params[1] = {q};
	NameList	only_tables = config_list(ld, "register_only_tables");
	NameList	skip_tables = config_list(ld, "register_skip_tables");
	NameList	only_seqs = config_list(ld, "register_only_seqs");
	NameList	skip_seqs = config_list(ld, "register_skip_seqs");
	PGresult   *tables;
	PGresult   *seqs;
	PGresult   *res;
	bool		ok = true;
	int			i;

	tables = sky_db_exec(provider, "select table_name from londiste.get_table_list($1)",
						 1, params);
	seqs = tables ? sky_db_exec(provider,
								"select seq_name, last_value from londiste.get_seq_list($1)",
								1, params) : NULL;
	if (seqs == NULL)
		return false;
	if ((res = sky_db_exec(local, "begin", 0, NULL)) == NULL)
		return false;
	PQclear(res);
	for (i = 0; ok && i < PQntuples(tables); i++)
	{
		const char *p[2] = {q, PQgetvalue(tables, i, 0)};

		if (!registered(&only_tables, &skip_tables, p[1]))
			continue;
		ok = ld_exec_cmd(local, "select * from londiste.global_add_table($1, $2)",
						 2, p, NULL);
	}
	for (i = 0; ok && i < PQntuples(seqs); i++)
	{
		const char *p[3] = {q, PQgetvalue(seqs, i, 0),
		PQgetisnull(seqs, i, 1) ? NULL : PQgetvalue(seqs, i, 1)};

		if (!registered(&only_seqs, &skip_seqs, p[1]))
			continue;
		ok = ld_exec_cmd(local, "select * from londiste.global_update_seq($1, $2, $3)",
						 3, p, NULL);
	}
	PQclear(tables);
	PQclear(seqs);
	res = sky_db_exec(local, ok ? "commit" : "rollback", 0, NULL);
	PQclear(res);
	return ok && res != NULL;
}

/* create-branch/create-leaf: join an existing cascade below a provider */
static int
create_subscriber(Londiste *ld, PGconn *local, const char *type,
				  const char *name, const char *location,
				  const char *provider_loc)
{
	const char *q = ld->queue_name;
	char	   *root_name = NULL;
	PGconn	   *root;
	PGconn	   *provider;
	LdCascade  *rc;
	PGresult   *res;
	char	   *provider_name;
	char	   *watermark;
	int			i;

	root = ld_find_root(ld, provider_loc, &root_name);
	if (root == NULL)
		return LD_EXIT_ERROR;
	rc = ld_cascade_load_from(ld, root);
	if (rc == NULL)
		return LD_EXIT_ERROR;
	if (ld_cascade_member(rc, name) != NULL)
	{
		sky_log(SKY_LOG_ERROR, "Node '%s' already exists", name);
		return LD_EXIT_ERROR;
	}

	provider = ld_connect(ld, provider_loc, true);
	if (provider == NULL)
		return LD_EXIT_ERROR;
	{
		const char *p[1] = {q};

		res = sky_db_exec(provider,
						  "select node_type, node_name from pgq_node.get_node_info($1)",
						  1, p);
		if (res == NULL)
			return LD_EXIT_ERROR;
		if (PQntuples(res) != 1 || PQgetisnull(res, 0, 1))
		{
			sky_log(SKY_LOG_ERROR, "provider node not found");
			return LD_EXIT_ERROR;
		}
		provider_name = pg_strdup(PQgetvalue(res, 0, 1));
		PQclear(res);
	}
	if (ld_cascade_member(rc, provider_name) == NULL)
	{
		sky_log(SKY_LOG_ERROR, "Node %s does not exist", provider_name);
		return LD_EXIT_ERROR;
	}

	{
		const char *p[3] = {q, name, location};

		if (!ld_exec_cmd(root, "select * from pgq_node.register_location($1, $2, $3, false)",
						 3, p, NULL) ||
			!ld_exec_cmd(provider, "select * from pgq_node.register_location($1, $2, $3, false)",
						 3, p, NULL))
			return LD_EXIT_ERROR;
	}
	{
		const char *p[3] = {q, name, ld->script.job_name};

		if (!ld_exec_cmd(provider, "select * from pgq_node.register_subscriber($1, $2, $3, null)",
						 3, p, &res))
			return LD_EXIT_ERROR;
		i = PQfnumber(res, "global_watermark");
		watermark = i < 0 || PQntuples(res) == 0 || PQgetisnull(res, 0, i) ? NULL :
			pg_strdup(PQgetvalue(res, 0, i));
		PQclear(res);
	}

	{
		const char *p[3] = {q, name, location};

		if (!ld_exec_cmd(local, "select * from pgq_node.register_location($1, $2, $3, false)",
						 3, p, NULL))
			return LD_EXIT_ERROR;
	}
	for (i = 0; i < rc->nmembers; i++)
	{
		LdMember   *m = &rc->members[i];
		const char *p[4] = {q, m->name, m->location, m->dead ? "true" : "false"};

		if (!ld_exec_cmd(local, "select * from pgq_node.register_location($1, $2, $3, $4)",
						 4, p, NULL))
			return LD_EXIT_ERROR;
	}
	{
		const char *p[7] = {q, type, name, ld->script.job_name, provider_name,
		watermark, ld->opt.merge};

		if (!ld_exec_cmd(local, "select * from pgq_node.create_node($1, $2, $3, $4, $5, $6, $7)",
						 7, p, NULL))
			return LD_EXIT_ERROR;
	}
	if (!copy_provider_objects(ld, local, provider))
		return LD_EXIT_ERROR;
	PQfinish(provider);
	PQfinish(root);
	return LD_EXIT_OK;
}

static int
create_node(Londiste *ld, const char *type)
{
	const char *q = ld->queue_name;
	const char *name;
	const char *location;
	const char *provider_loc;
	PGconn	   *local;
	PGresult   *res;
	bool		parsed;
	int			rc;

	if (ld->nargs > 2)
	{
		sky_log(SKY_LOG_ERROR, "Too many args, only node name and public connect string allowed");
		return LD_EXIT_ERROR;
	}
	name = ld->nargs > 0 ? ld->args[0] : sky_config_get(ld->script.cf, "node_name", "");
	if (name[0] == '\0')
	{
		sky_log(SKY_LOG_ERROR, "Node name must be given either in command line or config");
		return LD_EXIT_ERROR;
	}
	location = ld->nargs > 1 ? ld->args[1] :
		sky_config_get(ld->script.cf, "public_node_location", "");
	if (location[0] == '\0')
	{
		sky_log(SKY_LOG_ERROR, "Node public location must be given either in command line or config");
		return LD_EXIT_ERROR;
	}
	provider_loc = ld->opt.provider ? ld->opt.provider :
		sky_config_get(ld->script.cf, "initial_provider_location", "");
	if (strcmp(type, "root") != 0 && provider_loc[0] == '\0')
	{
		sky_log(SKY_LOG_ERROR, "Please specify --provider");
		return LD_EXIT_ERROR;
	}
	if (ld->opt.merge != NULL && strcmp(type, "leaf") != 0)
	{
		sky_log(SKY_LOG_ERROR, "--merge can be used only for leafs");
		return LD_EXIT_ERROR;
	}
	if (ld->opt.sync_watermark != NULL && strcmp(type, "branch") != 0)
	{
		sky_log(SKY_LOG_ERROR, "--sync-watermark can be used only for branch nodes");
		return LD_EXIT_ERROR;
	}
	if (!connstr_has_host(location, &parsed))
	{
		if (!parsed)
			return LD_EXIT_ERROR;
		sky_log(SKY_LOG_WARNING, "No host= in public connect string, bad idea");
	}

	local = ld_local(ld);
	if (!install_code(local))
		return LD_EXIT_ERROR;
	{
		const char *p[1] = {q};

		res = sky_db_exec(local, "select * from pgq_node.get_node_info($1)", 1, p);
		if (res == NULL)
			return LD_EXIT_ERROR;
		if (!PQgetisnull(res, 0, PQfnumber(res, "node_type")))
		{
			sky_log(SKY_LOG_INFO, "Node is already initialized as %s",
					PQgetvalue(res, 0, PQfnumber(res, "node_type")));
			PQclear(res);
			return LD_EXIT_OK;
		}
		PQclear(res);
	}
	if (!check_public_connstr(ld, local, location))
		return LD_EXIT_ERROR;

	sky_log(SKY_LOG_INFO, "Initializing node");
	if (strcmp(type, "root") == 0)
	{
		const char *p1[3] = {q, name, location};
		const char *p2[7] = {q, type, name, ld->script.job_name, NULL, NULL, NULL};

		if (!ld_exec_cmd(local, "select * from pgq_node.register_location($1, $2, $3, false)",
						 3, p1, NULL) ||
			!ld_exec_cmd(local, "select * from pgq_node.create_node($1, $2, $3, $4, $5, $6, $7)",
						 7, p2, NULL))
			return LD_EXIT_ERROR;
	}
	else if ((rc = create_subscriber(ld, local, type, name, location,
									 provider_loc)) != LD_EXIT_OK)
		return rc;

	if (ld->opt.sync_watermark != NULL)
	{
		PgqDict    *attrs = pgq_dict_new();
		char	   *text;
		const char *p[2] = {q, NULL};

		pgq_dict_set(attrs, "sync_watermark", ld->opt.sync_watermark);
		text = pgq_urlencode(attrs);
		p[1] = text;
		if (!ld_exec_cmd(local, "select * from pgq_node.set_node_attrs($1, $2)", 2, p, NULL))
			return LD_EXIT_ERROR;
		pgq_dict_free(attrs);
	}
	sky_log(SKY_LOG_INFO, "Done");
	return LD_EXIT_OK;
}

static int
cmd_create_root(Londiste *ld)
{
	return create_node(ld, "root");
}

static int
cmd_create_branch(Londiste *ld)
{
	return create_node(ld, "branch");
}

static int
cmd_create_leaf(Londiste *ld)
{
	return create_node(ld, "leaf");
}

static int
cmd_members(Londiste *ld)
{
	LdCascade  *c = ld_cascade_load(ld);
	const char *params[1] = {ld->queue_name};
	PGresult   *res;
	char	   *title;

	if (c == NULL)
		return LD_EXIT_ERROR;
	res = sky_db_exec(ld_local(ld),
					  "select node_name, dead, node_location"
					  " from pgq_node.get_queue_locations($1) order by 1",
					  1, params);
	if (res == NULL)
		return LD_EXIT_ERROR;
	title = psprintf("Member info on %s@%s:", c->local->name, ld->queue_name);
	ld_display_table(res, title, NULL);
	PQclear(res);
	return LD_EXIT_OK;
}

static int
tag_node(Londiste *ld, const char *node, bool dead)
{
	LdCascade  *c = ld_cascade_load(ld);

	if (c == NULL || !ld_cascade_tag(c, node, dead))
		return LD_EXIT_ERROR;
	return LD_EXIT_OK;
}

static int
cmd_tag_dead(Londiste *ld)
{
	return tag_node(ld, ld->args[0], true);
}

static int
cmd_tag_alive(Londiste *ld)
{
	return tag_node(ld, ld->args[0], false);
}

/* pause, resume: the local worker (job_name), wherever it is registered */
static int
set_paused(Londiste *ld, bool paused)
{
	LdCascade  *c = ld_cascade_load(ld);
	char	   *node;

	if (c == NULL || !ld_cascade_find_consumer(c, ld->script.job_name, &node))
		return LD_EXIT_ERROR;
	return ld_cascade_set_paused(c, node, ld->script.job_name, paused) ?
		LD_EXIT_OK : LD_EXIT_ERROR;
}

static int
cmd_pause(Londiste *ld)
{
	return set_paused(ld, true);
}

static int
cmd_resume(Londiste *ld)
{
	return set_paused(ld, false);
}

/* Wait until the local worker has passed the tick node is at now. */
static int
wait_for_node(Londiste *ld, LdCascade *c, const char *node)
{
	const char *params[1] = {ld->queue_name};
	LdNode	   *info;
	long long	tick;

	sky_log(SKY_LOG_INFO, "Fetching last tick for %s", node);
	info = ld_cascade_load_node(c, node);
	if (info == NULL)
		return LD_EXIT_ERROR;
	tick = info->last_tick ? atoll(info->last_tick) : 0;
	sky_log(SKY_LOG_INFO, "Waiting for tick > %lld", tick);
	for (;;)
	{
		PGresult   *res = sky_db_exec(ld_local(ld),
									  "select * from pgq_node.get_node_info($1)",
									  1, params);
		int			code;
		int			col;

		if (res == NULL)
			return LD_EXIT_ERROR;
		code = atoi(PQgetvalue(res, 0, PQfnumber(res, "ret_code")));
		if (code >= 300)
		{
			sky_log(SKY_LOG_WARNING, "Problem: [%d] %s", code,
					PQgetvalue(res, 0, PQfnumber(res, "ret_note")));
			PQclear(res);
			return LD_EXIT_OK;
		}
		col = PQfnumber(res, "worker_last_tick");
		if (!PQgetisnull(res, 0, col) && atoll(PQgetvalue(res, 0, col)) > tick)
		{
			sky_log(SKY_LOG_INFO, "Got tick %s, exiting", PQgetvalue(res, 0, col));
			PQclear(res);
			return LD_EXIT_OK;
		}
		PQclear(res);
		if (!ld_sleep(2))
			return LD_EXIT_ERROR;
	}
}

static int
cmd_wait_root(Londiste *ld)
{
	LdCascade  *c = ld_cascade_load(ld);
	char	   *root_name = NULL;
	PGconn	   *root;

	if (c == NULL)
		return LD_EXIT_ERROR;
	if (strcmp(c->local->type, "root") == 0)
	{
		sky_log(SKY_LOG_INFO, "Current node is root, no need to wait");
		return LD_EXIT_OK;
	}
	sky_log(SKY_LOG_INFO, "Finding root node");
	root = ld_find_root(ld, NULL, &root_name);
	if (root == NULL)
		return LD_EXIT_ERROR;
	PQfinish(root);
	sky_log(SKY_LOG_INFO, "Root is %s", root_name);
	return wait_for_node(ld, c, root_name);
}

static int
cmd_wait_provider(Londiste *ld)
{
	LdCascade  *c = ld_cascade_load(ld);

	if (c == NULL)
		return LD_EXIT_ERROR;
	if (strcmp(c->local->type, "root") == 0)
	{
		sky_log(SKY_LOG_INFO, "Current node is root, no need to wait");
		return LD_EXIT_OK;
	}
	if (c->local->provider_node == NULL)
		return LD_EXIT_OK;
	sky_log(SKY_LOG_INFO, "Provider is %s", c->local->provider_node);
	return wait_for_node(ld, c, c->local->provider_node);
}

const LondisteCommand ld_node_commands[] = {
	{"create-root", -1, "", LD_PIDFILE_ADMIN, cmd_create_root},
	{"create-branch", -1, "", LD_PIDFILE_ADMIN, cmd_create_branch},
	{"create-leaf", -1, "", LD_PIDFILE_ADMIN, cmd_create_leaf},
	{"members", 0, "", LD_PIDFILE_ADMIN, cmd_members},
	{"tag-dead", 1, "dead_node_name", LD_PIDFILE_ADMIN, cmd_tag_dead},
	{"tag-alive", 1, "node_name", LD_PIDFILE_ADMIN, cmd_tag_alive},
	{"pause", 0, "", LD_PIDFILE_ADMIN, cmd_pause},
	{"resume", 0, "", LD_PIDFILE_ADMIN, cmd_resume},
	{"wait-root", 0, "", LD_PIDFILE_ADMIN, cmd_wait_root},
	{"wait-provider", 0, "", LD_PIDFILE_ADMIN, cmd_wait_provider},
	{NULL}
};
