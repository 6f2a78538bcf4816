/*-------------------------------------------------------------------------
 *
 * exec_attrs.h
 *	  EXECUTE files: the attributes in their header comments, the decision
 *	  whether a node runs the file, the @name@ substitution, and the
 *	  splitting of the file into statements.
 *
 * "londiste3 execute" (execute.c) applies these rules on the root, the
 * worker applies the same rules to the EXECUTE events it replays, so that
 * every node decides alike (doc/londiste3.md, "Table commands").
 *
 * A file's attributes come from the comment lines at its top:
 *
 *	--*-- Local-Table: public.a, b,
 *	--*--     c
 *
 * Keys: Local-Table, Local-Sequence, Local-Destination (these three also
 * turn @name@ into the quoted local name), Need-Table, Need-Sequence,
 * Need-Function ("name(nargs)"), Need-Schema, Need-View.  They travel in
 * the EXECUTE event (ev_extra2) urlencoded, keys lower case, values joined
 * by commas.
 *
 * src/londiste3/execute/exec_attrs.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LONDISTE_EXEC_ATTRS_H
#define LONDISTE_EXEC_ATTRS_H

#include "londiste3/londiste.h"

/* the attributes, keys lower case in the order they first appeared */
typedef struct LdExecAttrs
{
	int			nkeys;
	char	  **keys;
	LdStringList *values;		/* values[i] belong to keys[i] */
} LdExecAttrs;

/*
 * Parse the header comments of an SQL file, or an urlencoded attribute
 * string (NULL or "" gives no attributes).  NULL with *errmsg (pg_free)
 * for an unknown key.
 */
extern LdExecAttrs *ld_exec_attrs_from_sql(const char *sql, char **errmsg);
extern LdExecAttrs *ld_exec_attrs_from_urlenc(const char *text, char **errmsg);
/* "" when there are none; pg_free the result */
extern char *ld_exec_attrs_to_urlenc(const LdExecAttrs *attrs);
extern void ld_exec_attrs_free(LdExecAttrs *attrs);

/* The node's local tables (global name -> local name) and sequences. */
typedef struct LdLocalObjects
{
	LdStringList tables;
	LdStringList dests;			/* dests.items[i] is tables.items[i]'s */
	LdStringList seqs;
} LdLocalObjects;

extern bool ld_local_objects_load(PGconn *conn, const char *queue_name,
								  LdLocalObjects *objs);
extern void ld_local_objects_free(LdLocalObjects *objs);

typedef enum LdExecDecision
{
	LD_EXEC_RUN,				/* no attributes, or every one matches */
	LD_EXEC_SKIP,				/* none matches */
	LD_EXEC_FAIL				/* some match and some do not: an error */
} LdExecDecision;

/*
 * Does this node run the file?  LD_EXEC_FAIL comes with *errmsg (pg_free),
 * also when a catalog query fails.
 */
extern LdExecDecision ld_exec_attrs_decide(const LdExecAttrs *attrs,
										   PGconn *conn,
										   const LdLocalObjects *objs,
										   char **errmsg);

/*
 * The SQL with @name@ replaced by the quoted local name of each table or
 * sequence of the Local-* keys.  NULL with *errmsg if a name is not local.
 */
extern char *ld_exec_attrs_substitute(const LdExecAttrs *attrs, PGconn *conn,
									  const char *sql,
									  const LdLocalObjects *objs,
									  char **errmsg);

/*
 * Split SQL text into statements the way the server reads it: semicolons
 * inside quotes, quoted identifiers, dollar quotes, comments (nested block
 * comments too), parentheses and BEGIN ATOMIC bodies do not end a
 * statement.  Comments and white space before a statement are dropped, a
 * statement keeps its semicolon.  backslash_quotes: plain '' strings take
 * backslash escapes (standard_conforming_strings off).  False with *errmsg
 * for unbalanced parentheses, an unterminated quote or comment, or COPY
 * FROM STDIN (there is no data stream to feed it).
 */
extern bool ld_split_statements(const char *sql, bool backslash_quotes,
								LdStringList *stmts, char **errmsg);
extern void ld_string_list_free(LdStringList *list);

/*
 * Split an EXECUTE file's SQL as the connection's standard_conforming_strings
 * says and hand each statement (numbered from 1) to run_one, stopping at the
 * first that returns false.  A split error is logged with the file name.
 */
typedef bool (*LdRunStatement) (PGconn *conn, const char *fname, int n,
								const char *stmt);
extern bool ld_run_statements(PGconn *conn, const char *fname, const char *sql,
							  LdRunStatement run_one);

#endif							/* LONDISTE_EXEC_ATTRS_H */
