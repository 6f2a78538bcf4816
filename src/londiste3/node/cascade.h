/*-------------------------------------------------------------------------
 *
 * cascade.h
 *	  londiste3: what the node commands know about the cascade: its
 *	  members, the state of each node, connections to them, and the
 *	  operations several commands share (pause, change of provider).
 *
 * The model is pgq.cascade's (python3-pgq): the local node's view of the
 * member list (pgq_node.get_queue_locations), the state of a node
 * (pgq_node.get_node_info) loaded from the node itself, and a member
 * tagged dead is never contacted.
 *
 * src/londiste3/node/cascade.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LD_CASCADE_H
#define LD_CASCADE_H

#include "londiste3/londiste.h"

typedef struct LdMember
{
	char	   *name;
	char	   *location;		/* NULL for a node only tagged dead here */
	bool		dead;
} LdMember;

/* A node's state as get_node_info shows it, plus what status adds. */
typedef struct LdNode
{
	char	   *name;
	char	   *type;			/* root, branch, leaf; "dead" if unknown */
	bool		known;			/* false: dead or unreachable */
	char	   *provider_node;
	char	   *provider_location;
	char	   *worker_name;
	bool		paused;
	bool		uptodate;
	char	   *last_tick;		/* worker_last_tick, NULL if none */
	char	   *combined_queue;
	char	   *combined_type;
	char	   *node_attrs;		/* urlencoded */
	char	   *target_for;		/* text[] of the merged queues, or NULL */
	char	   *service;		/* service= of its location, for titles */

	/* loaded by ld_node_load_status() */
	bool		status_loaded;
	PGresult   *consumers;		/* pgq.get_consumer_info, with tick_epoch */
	bool		has_queue_info;
	int64		now_usec;		/* the node's current_timestamp, epoch */
	int64		ticker_lag_usec;
	PGresult   *cascaded;		/* pgq_node.get_consumer_info */
	char	  **lines;			/* info lines, "Tables: ..." first */
	int			nlines;

	/* the status tree */
	struct LdNode *parent;
	struct LdNode **children;
	int			nchildren;
	int			total_children;
	int			levels;
} LdNode;

typedef struct LdCascade
{
	Londiste   *ld;
	LdNode	   *local;
	LdMember   *members;
	int			nmembers;
	/* connections to other nodes and node states, by node name */
	int			nconns;
	char	  **conn_names;
	PGconn	  **conns;
	int			ninfos;
	LdNode	  **infos;
} LdCascade;

/* loading */
extern LdCascade *ld_cascade_load(Londiste *ld);
extern LdCascade *ld_cascade_load_from(Londiste *ld, PGconn *conn);
extern LdNode *ld_node_from_row(PGresult *res, const char *location);
extern LdNode *ld_node_dead(const char *name, const char *location);
extern LdMember *ld_cascade_member(LdCascade *c, const char *name);
extern bool ld_cascade_alive(LdCascade *c, const char *name);
extern void ld_cascade_tag_dead(LdCascade *c, const char *name);

/* nodes */
extern PGconn *ld_cascade_conn(LdCascade *c, const char *node);
extern void ld_cascade_close(LdCascade *c, const char *node);
extern bool ld_cascade_cmd(LdCascade *c, const char *node, const char *sql,
						   int nparams, const char *const *params,
						   PGresult **result);
extern LdNode *ld_cascade_node(LdCascade *c, const char *name);
extern LdNode *ld_cascade_load_node(LdCascade *c, const char *name);
extern int	ld_cascade_subscribers(LdCascade *c, const char *node,
								   char ***names);
extern PGconn *ld_find_root(Londiste *ld, const char *start_connstr,
							char **root_name);

/* status */
extern bool ld_node_load_status(Londiste *ld, LdNode *node, PGconn *conn);
extern void ld_node_add_line(LdNode *node, const char *line);
extern char *ld_node_title(const LdNode *node);
extern int64 ld_epoch_usec(const char *text);

/* operations */
extern bool ld_cascade_set_paused(LdCascade *c, const char *node,
								  const char *consumer, bool paused);
extern bool ld_cascade_set_paused_queue(LdCascade *c, const char *node,
										const char *consumer, bool paused,
										const char *queue);
extern bool ld_cascade_tag(LdCascade *c, const char *node, bool dead);
extern bool ld_cascade_pause_node(LdCascade *c, const char *node, bool paused);
extern bool ld_cascade_find_consumer(LdCascade *c, const char *consumer,
									 char **node);
extern bool ld_cascade_change_provider(LdCascade *c, const char *node,
									   const char *consumer,
									   const char *new_provider);
extern bool ld_sleep(double seconds);

/* resurrect.c: the resurrect command (in takeover.c's table) */
extern int	ld_cmd_resurrect(Londiste *ld);

#endif							/* LD_CASCADE_H */
