/*-------------------------------------------------------------------------
 *
 * tables.h
 *	  What the table and sequence commands (tables.c, seqs.c) share:
 *	  the local node's place in the cascade, the provider connection, the
 *	  expansion of command arguments over the node's lists, transactions.
 *
 * src/londiste3/tables/tables.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LONDISTE_TABLES_H
#define LONDISTE_TABLES_H

#include "londiste3/londiste.h"

/* pgq_node.get_node_info() of the local node */
typedef struct LdNodeInfo
{
	char	   *node_type;		/* root, branch, leaf */
	char	   *node_name;
	char	   *provider_node;	/* NULL on the root */
	char	   *provider_location;
} LdNodeInfo;

/* tables_util.c */
extern bool ld_load_node_info(Londiste *ld, LdNodeInfo *info);
extern bool ld_is_root(const LdNodeInfo *info);

/*
 * The node to copy from and to take missing tables from: --copy-node if
 * given (a member of the cascade other than this node), else the
 * provider.  *location gets its connect string; false (logged) if
 * --copy-node names no other member.
 */
extern bool ld_source_location(Londiste *ld, const LdNodeInfo *info,
							   char **location);

/*
 * Expand the command's arguments (globs with * and ?, default schema
 * public) over the node's local ("existing") or missing objects of kind
 * 'r' or 'S'; --all with no arguments takes them all.  Names that match
 * nothing are errors unless --force, or unless allow_unknown.  False
 * (logged "Cannot proceed") on an error; an empty result is logged as
 * "what to do ?".
 */
extern bool ld_expand_args(Londiste *ld, PGconn *conn, char kind,
						   bool existing, bool allow_unknown,
						   LdStringList *result);

/*
 * Does the handler of these table_attrs keep the table's data (so that
 * the table may be copied from that node)?  False for an unknown handler.
 */
extern bool ld_handler_keeps_data(Londiste *ld, const char *table_attrs);

/* the list as a text[] literal, for a query parameter */
extern char *ld_text_array(const LdStringList *list);
extern void ld_list_add(LdStringList *list, const char *value);
extern bool ld_list_contains(const LdStringList *list, const char *value);

/* a config key of fq names, comma-separated (register_only_tables, ...) */
extern void ld_config_list(Londiste *ld, const char *key, LdStringList *list);

/* begin, commit, rollback, set: false (logged) on failure */
extern bool ld_sql(PGconn *conn, const char *sql);

/* tables.c: the wait of wait-sync and add-table --wait-sync */
extern bool ld_wait_for_sync(Londiste *ld, PGconn *conn);

/* seqs.c: listed in tables.c's command table */
extern int	ld_cmd_add_seq(Londiste *ld);
extern int	ld_cmd_remove_seq(Londiste *ld);
extern int	ld_cmd_seqs(Londiste *ld);

/* check.c: listed in tables.c's command table */
extern int	ld_cmd_check(Londiste *ld);
extern int	ld_cmd_fkeys(Londiste *ld);

#endif							/* LONDISTE_TABLES_H */
