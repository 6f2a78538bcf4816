/*-------------------------------------------------------------------------
 *
 * syncer.h
 *	  compare and repair: bring a table on the local node and on its copy
 *	  source to the same moment, then look at both sides.
 *
 * ld_sync_tables() walks the tables named on the command line (or every
 * local table), finds the node the table would be copied from, waits until
 * the local worker has replayed everything the source holds of the table
 * and takes a REPEATABLE READ snapshot on both sides.  The caller's
 * function then reads both snapshots (doc/londiste3.md, "compare and
 * repair").
 *
 * src/londiste3/compare/syncer.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LONDISTE_SYNCER_H
#define LONDISTE_SYNCER_H

#include "londiste3/londiste.h"

/* both sides of one table, each inside a snapshot taken at the same tick */
typedef struct LdSyncPair
{
	Londiste   *ld;
	PGconn	   *src;			/* the source node, in its snapshot */
	PGconn	   *dst;			/* the local node, in its snapshot */
	const char *src_table;		/* dest_table on the source */
	const char *dst_table;		/* dest_table on the local node */
	const char *condition;		/* the handler's copy condition, "" for none */
} LdSyncPair;

/*
 * Look at one table: returns 0 when it matches, 1 when it does not;
 * exits the program on errors.
 */
typedef int (*LdSyncFunc) (LdSyncPair *pair);

/* Run func over the tables; returns the number of mismatching tables. */
extern int	ld_sync_tables(Londiste *ld, LdSyncFunc func);

/* quote_ident() as the server does it (keywords too) */
extern char *ld_sync_quote_ident(PGconn *conn, const char *ident);
extern char *ld_sync_quote_fqident(PGconn *conn, const char *fqname);

/* column names of a table in column order; NULL if it does not exist */
extern char **ld_sync_table_columns(PGconn *conn, const char *fqname,
									bool pkey_only, int *n);

/* a failed query on a side of the comparison ends the program */
extern PGresult *ld_sync_query(PGconn *conn, const char *sql, int nparams,
							   const char *const *params);

#endif							/* LONDISTE_SYNCER_H */
