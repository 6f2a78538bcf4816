/*-------------------------------------------------------------------------
 *
 * takeover.c
 *	  londiste3 commands that change the shape of the cascade:
 *	  change-provider, takeover, drop-node, rename-node (refused).
 *	  resurrect is in resurrect.c.
 *
 * The steps and their order are python3-pgq's CascadeAdmin's, so that a
 * takeover run by either tool leaves the same state.  Where Python fails
 * on a dead node it should have stepped around (takeover --dead-branch),
 * this one steps around it; doc/londiste3.md says where.
 *
 * src/londiste3/node/takeover.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include "framework/log.h"
#include "framework/pqutil.h"
#include "londiste3/node/cascade.h"
#include "pqexpbuffer.h"

static int
cmd_change_provider(Londiste *ld)
{
	LdCascade  *c = ld_cascade_load(ld);
	char	   *node;

	if (c == NULL)
		return LD_EXIT_ERROR;
	if (ld->opt.provider == NULL || ld->opt.provider[0] == '\0')
	{
		sky_log(SKY_LOG_ERROR, "Please give --provider");
		return LD_EXIT_ERROR;
	}
	if (!ld_cascade_find_consumer(c, ld->script.job_name, &node))
		return LD_EXIT_ERROR;
	return ld_cascade_change_provider(c, node, ld->script.job_name,
									  ld->opt.provider) ?
		LD_EXIT_OK : LD_EXIT_ERROR;
}

/* The live nodes whose provider is parent, sorted by name. */
static int
subscribers_for(LdCascade *c, const char *parent, char ***names)
{
	int			n = 0;
	int			i;

	*names = pg_malloc0(sizeof(char *) * (c->nmembers + 1));
	for (i = 0; i < c->nmembers; i++)
	{
		LdMember   *m = &c->members[i];
		LdNode	   *info;
		int			j;

		if (strcmp(m->name, parent) == 0 || !ld_cascade_alive(c, m->name))
			continue;
		info = ld_cascade_node(c, m->name);
		if (info == NULL || info->provider_node == NULL ||
			strcmp(info->provider_node, parent) != 0)
			continue;
		/* insertion sort: the lists are short */
		for (j = n; j > 0 && strcmp((*names)[j - 1], m->name) > 0; j--)
			(*names)[j] = (*names)[j - 1];
		(*names)[j] = m->name;
		n++;
	}
	return n;
}

/*
 * Whether top is sub or one of its providers, up to the root.  top is
 * compared before its state is read, so that a dead top can be found.
 */
static bool
node_depends(LdCascade *c, const char *sub, const char *top, bool *failed)
{
	const char *cur = sub;
	int			hops = 0;

	*failed = false;
	while (cur != NULL && hops++ < 1000)
	{
		LdNode	   *info;

		if (strcmp(cur, top) == 0)
			return true;
		info = ld_cascade_node(c, cur);
		if (info == NULL)
		{
			sky_log(SKY_LOG_ERROR, "Unknown node: %s", cur);
			*failed = true;
			return false;
		}
		if (strcmp(info->type, "root") == 0)
			return false;
		cur = info->provider_node;
	}
	return false;
}

/*
 * The provider of a node; for a dead node, the live member that has it as
 * subscriber, or else the root.
 */
static char *
find_provider(LdCascade *c, const char *name)
{
	char	   *root_name = NULL;
	PGconn	   *root;
	int			i;

	if (ld_cascade_alive(c, name))
	{
		LdNode	   *info = ld_cascade_node(c, name);

		return info ? info->provider_node : NULL;
	}
	for (i = 0; i < c->nmembers; i++)
	{
		char	  **subs;
		int			nsub;
		int			j;

		if (strcmp(c->members[i].name, name) == 0 || c->members[i].dead)
			continue;
		nsub = ld_cascade_subscribers(c, c->members[i].name, &subs);
		for (j = 0; j < nsub; j++)
			if (strcmp(subs[j], name) == 0)
				return c->members[i].name;
	}
	root = ld_find_root(c->ld, NULL, &root_name);
	if (root == NULL)
		return NULL;
	PQfinish(root);
	return root_name;
}

/* pgq_node.demote_root step on the old root; its last_tick (or NULL) */
static bool
demote_node(LdCascade *c, const char *old, int step, const char *new,
			char **last_tick)
{
	char		stepstr[16];
	const char *params[3] = {c->ld->queue_name, stepstr, new};
	PGresult   *res;

	snprintf(stepstr, sizeof(stepstr), "%d", step);
	if (last_tick != NULL)
		*last_tick = NULL;
	if (!ld_cascade_cmd(c, old, "select * from pgq_node.demote_root($1, $2, $3)",
						3, params, &res))
		return false;
	if (res != NULL && PQntuples(res) > 0 && last_tick != NULL &&
		PQfnumber(res, "last_tick") >= 0 &&
		!PQgetisnull(res, 0, PQfnumber(res, "last_tick")))
		*last_tick = pg_strdup(PQgetvalue(res, 0, PQfnumber(res, "last_tick")));
	PQclear(res);
	return true;
}

/* Wait until node's worker has reached tick last_tick, resuming it if paused. */
static bool
wait_for_catchup(LdCascade *c, const char *node, const char *last_tick)
{
	long long	want = atoll(last_tick);
	LdNode	   *info = ld_cascade_load_node(c, node);

	if (info == NULL)
		return false;
	if (info->last_tick != NULL && atoll(info->last_tick) >= want)
	{
		sky_log(SKY_LOG_INFO, "tick already exists");
		return true;
	}
	if (info->paused)
	{
		sky_log(SKY_LOG_INFO, "new node seems paused, resuming");
		if (!ld_cascade_pause_node(c, node, false))
			return false;
	}
	for (;;)
	{
		sky_log(SKY_LOG_DEBUG, "waiting for catchup: need=%lld, cur=%s", want,
				info->last_tick ? info->last_tick : "None");
		if (!ld_sleep(1))
			return false;
		info = ld_cascade_load_node(c, node);
		if (info == NULL)
			return false;
		if (info->last_tick != NULL && atoll(info->last_tick) >= want)
			return true;
	}
}

/* the elements of a one-dimensional text[] literal, sorted */
static int
parse_name_array(const char *text, char ***items)
{
	int			n = 0;
	const char *p = text;

	*items = pg_malloc0(sizeof(char *) * (strlen(text) + 1));
	if (*p != '{')
		return 0;
	p++;
	while (*p != '\0' && *p != '}')
	{
		PQExpBuffer buf = createPQExpBuffer();

		if (*p == '"')
		{
			for (p++; *p != '\0' && *p != '"'; p++)
			{
				if (*p == '\\' && p[1] != '\0')
					p++;
				appendPQExpBufferChar(buf, *p);
			}
			if (*p == '"')
				p++;
		}
		else
			for (; *p != '\0' && *p != ',' && *p != '}'; p++)
				appendPQExpBufferChar(buf, *p);
		if (strcmp(buf->data, "NULL") != 0 && buf->data[0] != '\0')
		{
			int			j;

			for (j = n; j > 0 && strcmp((*items)[j - 1], buf->data) > 0; j--)
				(*items)[j] = (*items)[j - 1];
			(*items)[j] = pg_strdup(buf->data);
			n++;
		}
		destroyPQExpBuffer(buf);
		if (*p == ',')
			p++;
	}
	return n;
}

/* the worker name and position of node's worker on another queue */
static bool
merge_worker(LdCascade *c, const char *node, const char *queue,
			 char **worker, char **tick)
{
	const char *params[1] = {queue};
	PGconn	   *conn = ld_cascade_conn(c, node);
	PGresult   *res;

	if (conn == NULL)
		return false;
	res = sky_db_exec(conn, "select * from pgq_node.get_node_info($1)", 1, params);
	if (res == NULL)
		return false;
	*worker = PQgetisnull(res, 0, PQfnumber(res, "worker_name")) ? NULL :
		pg_strdup(PQgetvalue(res, 0, PQfnumber(res, "worker_name")));
	*tick = PQgetisnull(res, 0, PQfnumber(res, "worker_last_tick")) ? NULL :
		pg_strdup(PQgetvalue(res, 0, PQfnumber(res, "worker_last_tick")));
	PQclear(res);
	if (*worker == NULL)
	{
		sky_log(SKY_LOG_ERROR, "node %s has no worker for queue %s", node, queue);
		return false;
	}
	return true;
}

/*
 * A root that merge leaves feed (target_for): pause the old root's merge
 * workers and wait until the new root's have reached the same positions,
 * so that no merged event is lost or doubled by the switch.
 */
static bool
pause_and_wait_merge_workers(LdCascade *c, LdNode *old_info, LdNode *new_info)
{
	char	  **old_queues;
	char	  **new_queues;
	int			nold = old_info->target_for ? parse_name_array(old_info->target_for, &old_queues) : 0;
	int			nnew = new_info->target_for ? parse_name_array(new_info->target_for, &new_queues) : 0;
	char	  **old_ticks;
	int			i;

	if (nold == 0 && nnew == 0)
		return true;
	if (nold != nnew)
		goto inconsistent;
	for (i = 0; i < nold; i++)
		if (strcmp(old_queues[i], new_queues[i]) != 0)
			goto inconsistent;

	sky_log(SKY_LOG_INFO, "%s: pausing merge workers", old_info->name);
	for (i = 0; i < nold; i++)
	{
		char	   *worker;
		char	   *tick;

		if (!merge_worker(c, old_info->name, old_queues[i], &worker, &tick) ||
			!ld_cascade_set_paused_queue(c, old_info->name, worker, true, old_queues[i]))
			return false;
	}
	old_ticks = pg_malloc0(sizeof(char *) * nold);
	for (i = 0; i < nold; i++)
	{
		char	   *worker;

		if (!merge_worker(c, old_info->name, old_queues[i], &worker, &old_ticks[i]))
			return false;
	}
	sky_log(SKY_LOG_INFO, "%s: waiting for merge position to catch up", new_info->name);
	for (;;)
	{
		bool		in_sync = true;

		if (!ld_sleep(2))
			return false;
		for (i = 0; i < nold; i++)
		{
			char	   *worker;
			char	   *tick;

			if (!merge_worker(c, new_info->name, new_queues[i], &worker, &tick))
				return false;
			if ((tick == NULL) != (old_ticks[i] == NULL) ||
				(tick != NULL && strcmp(tick, old_ticks[i]) != 0))
				in_sync = false;
		}
		if (in_sync)
			return true;
	}

inconsistent:
	sky_log(SKY_LOG_ERROR, "Inconsistent targets: old-node=%s new-node=%s",
			old_info->target_for ? old_info->target_for : "None",
			new_info->target_for ? new_info->target_for : "None");
	return false;
}

static bool
resume_merge_workers(LdCascade *c, LdNode *old_info)
{
	char	  **queues;
	int			n = old_info->target_for ? parse_name_array(old_info->target_for, &queues) : 0;
	int			i;

	if (n == 0)
		return true;
	for (i = 0; i < n; i++)
	{
		char	   *worker;
		char	   *tick;

		if (!merge_worker(c, old_info->name, queues[i], &worker, &tick) ||
			!ld_cascade_set_paused_queue(c, old_info->name, worker, false, queues[i]))
			return false;
	}
	sky_log(SKY_LOG_INFO, "%s: merge workers resumed", old_info->name);
	return true;
}

/*
 * The new node becomes the root.  A live old root is paused and demoted
 * (steps 1 and 2), the new node catches up with its last tick, is
 * promoted, and the old root becomes its subscriber (step 3).  For a
 * dead old root, the new node first catches up from whichever subscriber
 * of the old root got furthest, and the old root's place on the new root
 * is held by the consumer <old>.gravestone, which resurrect looks for.
 */
static bool
takeover_root(LdCascade *c, const char *old, const char *new)
{
	const char *q = c->ld->queue_name;
	LdNode	   *new_info = ld_cascade_node(c, new);
	LdNode	   *old_info = NULL;
	char	   *last_tick = NULL;
	const char *old_worker;
	PGresult   *res;

	if (new_info == NULL)
		return false;
	if (ld_cascade_alive(c, old))
	{
		if ((old_info = ld_cascade_node(c, old)) == NULL ||
			!pause_and_wait_merge_workers(c, old_info, new_info) ||
			!ld_cascade_pause_node(c, old, true) ||
			!demote_node(c, old, 1, new, NULL) ||
			!demote_node(c, old, 2, new, &last_tick))
			return false;
		if (last_tick != NULL && !wait_for_catchup(c, new, last_tick))
			return false;
	}
	else
	{
		const char *params[1] = {q};
		PGconn	   *conn = ld_cascade_conn(c, new);
		char	  **subs;
		int			nsub;
		int			i;
		char	   *other_node = NULL;
		long long	other_tick;

		if (conn == NULL ||
			(res = sky_db_exec(conn, "select * from pgq.get_queue_info($1)", 1, params)) == NULL)
			return false;
		if (PQntuples(res) != 1)
		{
			sky_log(SKY_LOG_ERROR, "node %s has no queue %s", new, q);
			return false;
		}
		last_tick = pg_strdup(PQgetvalue(res, 0, PQfnumber(res, "last_tick_id")));
		PQclear(res);
		other_tick = atoll(last_tick);
		nsub = subscribers_for(c, old, &subs);
		for (i = 0; i < nsub; i++)
		{
			int			col;

			if (!ld_cascade_cmd(c, subs[i], "select * from pgq_node.get_node_info($1)",
								1, params, &res))
				return false;
			col = res ? PQfnumber(res, "worker_last_tick") : -1;
			if (col >= 0 && PQntuples(res) > 0 && !PQgetisnull(res, 0, col) &&
				atoll(PQgetvalue(res, 0, col)) > other_tick)
			{
				other_tick = atoll(PQgetvalue(res, 0, col));
				other_node = subs[i];
			}
			PQclear(res);
		}
		if (other_node != NULL && other_tick != 0)
		{
			char		tickstr[32];

			snprintf(tickstr, sizeof(tickstr), "%lld", other_tick);
			if (!ld_cascade_change_provider(c, new, NULL, other_node) ||
				!wait_for_catchup(c, new, tickstr))
				return false;
			last_tick = pg_strdup(tickstr);
		}
	}

	if (!ld_cascade_pause_node(c, new, true))
		return false;
	{
		const char *params[1] = {q};

		if (!ld_cascade_cmd(c, new, "select * from pgq_node.promote_branch($1)",
							1, params, NULL))
			return false;
	}

	old_worker = ld_cascade_alive(c, old) && old_info != NULL ? old_info->worker_name :
		psprintf("%s.gravestone", old);
	{
		const char *params[4] = {q, old, old_worker, last_tick};

		if (!ld_cascade_cmd(c, new, "select * from pgq_node.register_subscriber($1, $2, $3, $4)",
							4, params, NULL))
			return false;
	}
	if (new_info->provider_node != NULL)
	{
		const char *params[2] = {q, new};

		if (!ld_cascade_cmd(c, new_info->provider_node,
							"select * from pgq_node.unregister_subscriber($1, $2)",
							2, params, NULL))
			return false;
	}
	if (!ld_cascade_pause_node(c, new, false))
		return false;

	if (ld_cascade_alive(c, old))
	{
		if (!demote_node(c, old, 3, new, NULL) ||
			!ld_cascade_pause_node(c, old, false) ||
			!resume_merge_workers(c, old_info))
			return false;
	}
	return true;
}

/*
 * A branch or leaf changes place with the new node: if the new node hangs
 * below the old one, it first moves up to the old one's provider, then
 * the old node moves below the new one.  A dead old node is left where it
 * is.
 */
static bool
takeover_nonroot(LdCascade *c, const char *old, const char *new)
{
	bool		failed;

	if (node_depends(c, new, old, &failed))
	{
		char	   *pnode = find_provider(c, old);

		if (pnode == NULL)
		{
			sky_log(SKY_LOG_ERROR, "cannot find the provider of node %s", old);
			return false;
		}
		if (!ld_cascade_change_provider(c, new, NULL, pnode))
			return false;
	}
	else if (failed)
		return false;
	if (!ld_cascade_alive(c, old))
	{
		sky_log(SKY_LOG_INFO, "node %s is dead, leaving it where it is", old);
		return true;
	}
	return ld_cascade_change_provider(c, old, NULL, new);
}

static int
cmd_takeover(Londiste *ld)
{
	const char *old = ld->args[0];
	LdCascade  *c;
	LdNode	   *new_node;
	const char *new;
	const char *otype;
	bool		failover = false;

	sky_log(SKY_LOG_INFO, "old: %s", old);
	c = ld_cascade_load(ld);
	if (c == NULL)
		return LD_EXIT_ERROR;
	if (c->local->worker_name == NULL ||
		strcmp(c->local->worker_name, ld->script.job_name) != 0)
	{
		sky_log(SKY_LOG_ERROR, "the local node's worker is %s, not this job (%s): "
				"run takeover with the new node's own config",
				c->local->worker_name ? c->local->worker_name : "None",
				ld->script.job_name);
		return LD_EXIT_ERROR;
	}
	new = c->local->name;
	if (ld_cascade_member(c, old) == NULL)
	{
		sky_log(SKY_LOG_ERROR, "Unknown node: %s", old);
		return LD_EXIT_ERROR;
	}
	if (ld->opt.dead_root)
	{
		otype = "root";
		failover = true;
	}
	else if (ld->opt.dead_branch)
	{
		otype = "branch";
		failover = true;
	}
	else
	{
		LdNode	   *onode = ld_cascade_node(c, old);

		if (onode == NULL)
		{
			sky_log(SKY_LOG_ERROR, "Unknown node: %s", old);
			return LD_EXIT_ERROR;
		}
		otype = onode->type;
	}
	if (failover && !ld_cascade_tag(c, old, true))
		return LD_EXIT_ERROR;

	new_node = ld_cascade_node(c, new);
	if (new_node == NULL)
		return LD_EXIT_ERROR;
	if (strcmp(old, new_node->name) == 0)
	{
		sky_log(SKY_LOG_INFO, "same node?");
		return LD_EXIT_OK;
	}

	if (ld->opt.all || failover)
	{
		char	  **subs;
		int			n = subscribers_for(c, old, &subs);
		int			i;

		for (i = 0; i < n; i++)
			if (strcmp(subs[i], new) != 0 &&
				!ld_cascade_change_provider(c, subs[i], NULL, new))
				return LD_EXIT_ERROR;
	}

	if (strcmp(otype, "root") == 0)
		return takeover_root(c, old, new) ? LD_EXIT_OK : LD_EXIT_ERROR;
	return takeover_nonroot(c, old, new) ? LD_EXIT_OK : LD_EXIT_ERROR;
}

/*
 * Remove a node from the cascade: refused while it has subscribers;
 * otherwise its location is dropped at the root (which tells everyone),
 * and its node state on itself and on every member.  Unreachable nodes
 * only give warnings.
 */
static int
cmd_drop_node(Londiste *ld)
{
	const char *name = ld->args[0];
	const char *q = ld->queue_name;
	const char *params[2] = {q, name};
	LdCascade  *c = ld_cascade_load(ld);
	LdNode	   *node;
	PGconn	   *conn;
	int			i;

	if (c == NULL)
		return LD_EXIT_ERROR;
	node = ld_cascade_member(c, name) ? ld_cascade_load_node(c, name) : NULL;
	if (node != NULL)
	{
		char	  **subs;

		if (ld_cascade_subscribers(c, name, &subs) > 0)
		{
			sky_log(SKY_LOG_ERROR, "node still has subscribers");
			return LD_EXIT_ERROR;
		}
	}

	if (node == NULL || strcmp(node->type, "root") != 0)
	{
		char	   *root_name;
		PGconn	   *root = ld_find_root(ld, NULL, &root_name);

		if (root == NULL ||
			!ld_exec_cmd(root, "select * from pgq_node.unregister_location($1, $2)",
						 2, params, NULL))
			sky_log(SKY_LOG_WARNING, "Unregister from root failed");
		PQfinish(root);
	}

	conn = ld_cascade_alive(c, name) || strcmp(name, c->local->name) == 0 ?
		ld_cascade_conn(c, name) : NULL;
	if (conn == NULL)
		sky_log(SKY_LOG_WARNING, "ignoring cmd for dead node '%s': drop_node", name);
	else if (!ld_exec_cmd(conn, "select * from pgq_node.drop_node($1, $2)", 2, params, NULL))
		sky_log(SKY_LOG_WARNING, "Local drop failure");

	for (i = 0; i < c->nmembers; i++)
		if (!ld_cascade_cmd(c, c->members[i].name,
							"select * from pgq_node.drop_node($1, $2)", 2, params, NULL))
			sky_log(SKY_LOG_WARNING, "Failed to remove from '%s'", c->members[i].name);
	return LD_EXIT_OK;
}

/*
 * pgq_node has no way to rename a node (python3-londiste 3.11 calls
 * rename_node_step1/2, which no pgq_node version has, after pausing the
 * node).  Refuse before touching anything.
 */
static int
cmd_rename_node(Londiste *ld)
{
	sky_log(SKY_LOG_ERROR, "rename-node is not supported: pgq_node cannot rename "
			"node %s; drop the node and create it again as %s",
			ld->args[0], ld->args[1]);
	return LD_EXIT_ERROR;
}

const LondisteCommand ld_takeover_commands[] = {
	{"change-provider", 0, "", LD_PIDFILE_ADMIN, cmd_change_provider},
	{"takeover", 1, "old_node_name", LD_PIDFILE_ADMIN, cmd_takeover},
	{"drop-node", 1, "node_name", LD_PIDFILE_ADMIN, cmd_drop_node},
	{"resurrect", 0, "", LD_PIDFILE_ADMIN, ld_cmd_resurrect},
	{"rename-node", 2, "old_name new_name", LD_PIDFILE_ADMIN, cmd_rename_node},
	{NULL}
};
