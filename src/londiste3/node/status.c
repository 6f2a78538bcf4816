/*-------------------------------------------------------------------------
 *
 * status.c
 *	  londiste3 commands status, node-status and node-info.
 *
 * status prints the cascade as a tree, byte for byte as python3-pgq's
 * QueueInfo.print_tree() does: scripts parse it.  Each member is probed
 * over its public location, several at a time; a dead member (tagged, or --dead) is not
 * contacted, an unreachable one is reported and both show as "(dead)"
 * at the top level, with the nodes they feed under them.
 *
 * src/londiste3/node/status.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres_fe.h"

#include <pthread.h>
#include <unistd.h>

#include "framework/log.h"
#include "framework/pqutil.h"
#include "londiste3/node/cascade.h"

/* Python's ival2str of a timedelta: [Nd][Nh][Nm]Ns */
static char *
lag_text(int64 usec)
{
	int64		days = usec / (INT64CONST(86400) * 1000000);
	int64		secs = (usec / 1000000) % 86400;
	char		buf[64];
	size_t		len = 0;

	buf[0] = '\0';
	if (days)
		len += snprintf(buf + len, sizeof(buf) - len, "%lldd", (long long) days);
	if (secs / 3600)
		len += snprintf(buf + len, sizeof(buf) - len, "%lldh", (long long) (secs / 3600));
	if ((secs / 60) % 60)
		len += snprintf(buf + len, sizeof(buf) - len, "%lldm", (long long) ((secs / 60) % 60));
	snprintf(buf + len, sizeof(buf) - len, "%llds", (long long) (secs % 60));
	return pg_strdup(buf);
}

static int
row_of(PGresult *res, const char *column, const char *value)
{
	int			col = PQfnumber(res, column);
	int			i;

	if (res == NULL || col < 0 || value == NULL)
		return -1;
	for (i = 0; i < PQntuples(res); i++)
		if (strcmp(PQgetvalue(res, i, col), value) == 0)
			return i;
	return -1;
}

/*
 * The lines shown under a node: "Tables: ..." (loaded with the status),
 * the lag and tick, node attributes, the errors of its cascaded
 * consumers.  The lag of a node with a parent is how far its worker's
 * position on the parent is behind the root's clock; the root's is its
 * ticker lag.  Zero shows as "(n/a)", as in Python.
 */
static void
add_info_lines(LdNode *node)
{
	bool		have_lag = false;
	int64		lag = 0;
	char	   *lagstr;
	char	   *txt;
	int			i;

	if (!node->known)
		return;
	if (node->parent != NULL)
	{
		LdNode	   *root = node->parent;
		int			row;

		while (root->parent != NULL)
			root = root->parent;
		row = row_of(node->parent->consumers, "consumer_name", node->worker_name);
		if (row >= 0 && root->has_queue_info &&
			!PQgetisnull(node->parent->consumers, row,
						 PQfnumber(node->parent->consumers, "tick_epoch")))
		{
			int64		tick = ld_epoch_usec(PQgetvalue(node->parent->consumers, row,
													 PQfnumber(node->parent->consumers, "tick_epoch")));

			have_lag = true;
			lag = root->now_usec < tick ? 0 : root->now_usec - tick;
		}
	}
	else if (node->has_queue_info)
	{
		have_lag = true;
		lag = node->ticker_lag_usec;
	}
	lagstr = have_lag && lag != 0 ? lag_text(lag) : pg_strdup("(n/a)");
	if (have_lag && lag > INT64CONST(60000000) && isatty(fileno(stdout)))
		txt = psprintf("Lag: \033[31m%s\033[0m", lagstr);
	else
		txt = psprintf("Lag: %s", lagstr);
	if (node->last_tick != NULL && strcmp(node->last_tick, "0") != 0)
		txt = psprintf("%s, Tick: %s", txt, node->last_tick);
	if (node->paused)
		txt = psprintf("%s, PAUSED", txt);
	if (!node->uptodate)
		txt = psprintf("%s, NOT UPTODATE", txt);
	ld_node_add_line(node, txt);

	if (node->node_attrs != NULL && node->node_attrs[0] != '\0')
	{
		PgqDict    *attrs = pgq_urldecode(node->node_attrs);

		for (i = 0; attrs != NULL && i < pgq_dict_count(attrs); i++)
		{
			const char *v = pgq_dict_value(attrs, i);

			txt = psprintf("Attr: %s=%s", pgq_dict_key(attrs, i), v ? v : "None");
			ld_node_add_line(node, txt);
		}
		if (attrs != NULL)
			pgq_dict_free(attrs);
	}

	for (i = 0; node->cascaded != NULL && i < PQntuples(node->cascaded); i++)
	{
		int			col = PQfnumber(node->cascaded, "cur_error");
		const char *err;
		const char *nl;

		if (col < 0 || PQgetisnull(node->cascaded, i, col))
			continue;
		err = PQgetvalue(node->cascaded, i, col);
		if (err[0] == '\0')
			continue;
		nl = strchr(err, '\n');
		txt = psprintf("ERR: %s: %.*s",
					   PQgetvalue(node->cascaded, i, PQfnumber(node->cascaded, "consumer_name")),
					   nl != NULL && nl > err ? (int) (nl - err) : (int) strlen(err),
					   err);
		ld_node_add_line(node, txt);
	}
}

/*
 * The status of one member, probed over its public location on a
 * connection of its own.  A dead member is not contacted; one that fails
 * is shown as dead, and *failure says why (the first line of the error).
 * Thread-safe: it logs nothing.
 */
static LdNode *
probe_member(Londiste *ld, LdMember *m, char **failure)
{
	const char *params[1] = {ld->queue_name};
	char	   *location = m->location ? m->location : "";
	PGconn	   *conn;
	PGresult   *res;
	LdNode	   *node;

	*failure = NULL;
	if (m->dead)
		return ld_node_dead(m->name, location);
	if (ld->remote_extra_connstr != NULL && ld->remote_extra_connstr[0] != '\0')
		location = psprintf("%s %s", location, ld->remote_extra_connstr);
	conn = PQconnectdb(location);
	if (PQstatus(conn) != CONNECTION_OK)
		goto failed;
	res = PQexecParams(conn, "select * from pgq_node.get_node_info($1)",
					   1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		PQclear(res);
		goto failed;
	}
	node = ld_node_from_row(res, location);
	PQclear(res);
	if (node->name == NULL)
	{
		/* the node forgot the queue: show it under the member's name */
		node->name = pg_strdup(m->name);
	}
	if (!ld_node_load_status(ld, node, conn))
		goto failed;
	PQfinish(conn);
	return node;

failed:
	{
		char	   *msg = pg_strdup(PQerrorMessage(conn));
		char	   *start = msg;
		char	   *nl;

		while (*start == ' ' || *start == '\n' || *start == '\t')
			start++;
		nl = strchr(start, '\n');
		if (nl != NULL)
			*nl = '\0';
		*failure = pg_strdup(start);
		pg_free(msg);
		PQfinish(conn);
		return ld_node_dead(m->name, location);
	}
}

/* the members' probes, shared by the probing threads */
typedef struct ProbeSet
{
	Londiste   *ld;
	LdCascade  *cascade;
	LdNode	  **nodes;			/* by member index */
	char	  **failures;
	int			next;			/* the next member to probe */
	pthread_mutex_t lock;
} ProbeSet;

static void *
probe_thread(void *arg)
{
	ProbeSet   *set = arg;

	for (;;)
	{
		int			i;

		pthread_mutex_lock(&set->lock);
		i = set->next++;
		pthread_mutex_unlock(&set->lock);
		if (i >= set->cascade->nmembers)
			return NULL;
		set->nodes[i] = probe_member(set->ld, &set->cascade->members[i],
									 &set->failures[i]);
	}
}

/*
 * Probe every member, in parallel as python3-pgq does (a thread per four
 * members, at least one, at most 100); the failures are printed in member
 * order, before the tree.
 */
static LdNode **
probe_members(Londiste *ld, LdCascade *c)
{
	ProbeSet	set;
	int			nthreads = Max(Min(c->nmembers / 4, 100), 1);
	pthread_t  *threads = pg_malloc0(sizeof(pthread_t) * nthreads);
	int			started = 0;
	int			i;

	memset(&set, 0, sizeof(set));
	set.ld = ld;
	set.cascade = c;
	set.nodes = pg_malloc0(sizeof(LdNode *) * (c->nmembers + 1));
	set.failures = pg_malloc0(sizeof(char *) * (c->nmembers + 1));
	pthread_mutex_init(&set.lock, NULL);
	for (i = 1; i < nthreads; i++)
		if (pthread_create(&threads[started], NULL, probe_thread, &set) == 0)
			started++;
	probe_thread(&set);
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&set.lock);
	for (i = 0; i < c->nmembers; i++)
		if (set.failures[i] != NULL)
			printf("Node '%s' failure: %s\n", c->members[i].name, set.failures[i]);
	pg_free(threads);
	return set.nodes;
}

static int
node_key_compare(const void *a, const void *b)
{
	const LdNode *x = *(LdNode *const *) a;
	const LdNode *y = *(LdNode *const *) b;
	int			r;

	if (x->levels != y->levels)
		return x->levels < y->levels ? -1 : 1;
	if (x->total_children != y->total_children)
		return x->total_children < y->total_children ? -1 : 1;
	r = strcmp(x->service ? x->service : "", y->service ? y->service : "");
	if (r != 0)
		return r;
	return strcmp(x->name, y->name);
}

/* depth and descendant counts; children sorted by them */
static void
tree_calc(LdNode *node)
{
	int			i;

	node->total_children = node->nchildren;
	node->levels = 1;
	for (i = 0; i < node->nchildren; i++)
	{
		LdNode	   *child = node->children[i];

		tree_calc(child);
		node->total_children += child->total_children;
		if (node->levels < child->levels + 1)
			node->levels = child->levels + 1;
	}
	if (node->nchildren > 1)
		qsort(node->children, node->nchildren, sizeof(LdNode *), node_key_compare);
}

/* pfx with its last character replaced by sfx (empty stays empty) */
static char *
set_prefix(const char *pfx, const char *sfx)
{
	size_t		len = strlen(pfx);

	if (len == 0)
		return pg_strdup("");
	return psprintf("%.*s%s", (int) (len - 1), pfx, sfx);
}

/*
 * Print a node's title and its subtree; the node's info lines are printed
 * later, right before the next title (with that title's prefix), or by
 * the caller at the very end: the returned pending lines.
 */
static LdNode *
print_node(LdNode *node, const char *pfx, LdNode *pending)
{
	char	   *p;
	int			i;

	if (pending != NULL)
	{
		p = set_prefix(pfx, "|");
		for (i = 0; i < pending->nlines; i++)
			printf("%-30s%s\n", p, pending->lines[i]);
		pg_free(p);
	}
	add_info_lines(node);
	p = set_prefix(pfx, "+--: ");
	printf("%s%s\n", p, ld_node_title(node));
	pg_free(p);
	pending = node;
	for (i = 0; i < node->nchildren; i++)
	{
		char	   *cpfx = psprintf("%s%s", pfx,
									i < node->nchildren - 1 ? "  |" : "   ");

		pending = print_node(node->children[i], cpfx, pending);
		pg_free(cpfx);
	}
	return pending;
}

static void
print_node_compact(LdNode *node, const char *pfx)
{
	char	   *title = ld_node_title(node);
	int			width = 60 - (int) strlen(pfx);
	int			i;

	add_info_lines(node);
	printf("%s%-*s", pfx, width, title);
	for (i = 0; i < node->nlines; i++)
		printf("%-30s", node->lines[i]);
	printf("\n");
	for (i = 0; i < node->nchildren; i++)
	{
		char	   *cpfx = psprintf("%s   ", pfx);

		print_node_compact(node->children[i], cpfx);
		pg_free(cpfx);
	}
}

static LdNode *
find_node(LdNode **nodes, int n, const char *name)
{
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(nodes[i]->name, name) == 0)
			return nodes[i];
	return NULL;
}

static int
cmd_status(Londiste *ld)
{
	LdCascade  *c = ld_cascade_load(ld);
	LdNode	  **nodes;
	LdNode	  **probed;
	int			n = 0;
	int			i;

	if (c == NULL)
		return LD_EXIT_ERROR;

	/* the local node first, then the members in their order */
	nodes = pg_malloc0(sizeof(LdNode *) * (c->nmembers + 1));
	nodes[n++] = c->local;
	probed = probe_members(ld, c);
	for (i = 0; i < c->nmembers; i++)
	{
		LdNode	   *node = probed[i];
		LdNode	   *same = find_node(nodes, n, node->name);

		if (same == c->local)
			nodes[0] = node;
		else if (same == NULL)
			nodes[n++] = node;
	}

	/* a node hangs under its provider when that is one of the nodes */
	for (i = 0; i < n; i++)
	{
		LdNode	   *node = nodes[i];
		LdNode	   *parent;

		if (!node->known || strcmp(node->type, "root") == 0 ||
			node->provider_node == NULL ||
			strcmp(node->provider_node, node->name) == 0 ||
			(parent = find_node(nodes, n, node->provider_node)) == NULL)
			continue;
		parent->children = pg_realloc(parent->children,
									  sizeof(LdNode *) * (parent->nchildren + 1));
		parent->children[parent->nchildren++] = node;
		node->parent = parent;
	}

	printf("Queue: %s   Local node: %s\n\n", ld->queue_name, c->local->name);
	for (i = 0; i < n; i++)
	{
		LdNode	   *pending;
		int			j;

		if (nodes[i]->parent != NULL)
			continue;
		tree_calc(nodes[i]);
		if (ld->opt.compact)
		{
			print_node_compact(nodes[i], "");
			continue;
		}
		pending = print_node(nodes[i], "", NULL);
		for (j = 0; j < pending->nlines; j++)
			printf("%-30s%s\n", " ", pending->lines[j]);
	}
	return LD_EXIT_OK;
}

static int
cmd_node_status(Londiste *ld)
{
	LdCascade  *c = ld_cascade_load(ld);
	LdNode	   *node;
	char	  **subscribers;
	int			nsub;
	int			i;

	if (c == NULL)
		return LD_EXIT_ERROR;
	node = c->local;
	if (!ld_node_load_status(ld, node, ld_local(ld)))
	{
		sky_log(SKY_LOG_ERROR, "reading the node's status failed: %s",
				PQerrorMessage(ld_local(ld)));
		return LD_EXIT_ERROR;
	}
	nsub = ld_cascade_subscribers(c, node->name, &subscribers);
	if (nsub < 0)
		return LD_EXIT_ERROR;
	add_info_lines(node);
	printf("%s\n", ld_node_title(node));
	printf("    Provider: %s\n", node->provider_node ? node->provider_node : "None");
	printf("    Subscribers: ");
	for (i = 0; i < nsub; i++)
		printf("%s%s", i > 0 ? ", " : "", subscribers[i]);
	printf("\n");
	for (i = 0; i < node->nlines; i++)
		printf("    %s\n", node->lines[i]);
	return LD_EXIT_OK;
}

static int
cmd_node_info(Londiste *ld)
{
	LdCascade  *c = ld_cascade_load(ld);
	LdNode	   *n;
	LdMember   *m;
	bool		root;
	char		status[64] = "";

	if (c == NULL)
		return LD_EXIT_ERROR;
	n = c->local;
	m = ld_cascade_member(c, n->name);
	root = strcmp(n->type, "root") == 0;
	if (m != NULL && m->dead)
		strcat(status, "DEAD");
	if (n->paused)
		strcat(strcat(status, status[0] ? ", " : ""), "PAUSED");
	if (!n->uptodate)
		strcat(strcat(status, status[0] ? ", " : ""), "NON-UP-TO-DATE");
	printf("Node: %s  Type: %s  Queue: %s\n", n->name, n->type, ld->queue_name);
	printf("Status: %s\n", status[0] ? status : "OK");
	printf("Provider: %s\n", root ? "--" : (n->provider_node ? n->provider_node : "None"));
	printf("Connect strings:\n");
	printf("  Local   : %s\n", ld->db);
	if (m != NULL)
		printf("  Public  : %s\n", m->location ? m->location : "None");
	if (!root)
		printf("  Provider: %s\n", n->provider_location ? n->provider_location : "None");
	if (n->combined_queue != NULL)
		printf("Combined Queue: %s  (node type: %s)\n", n->combined_queue,
			   n->combined_type ? n->combined_type : "None");
	return LD_EXIT_OK;
}

const LondisteCommand ld_status_commands[] = {
	{"status", 0, "", LD_PIDFILE_NONE, cmd_status},
	{"node-status", 0, "", LD_PIDFILE_NONE, cmd_node_status},
	{"node-info", 0, "", LD_PIDFILE_NONE, cmd_node_info},
	{NULL}
};
