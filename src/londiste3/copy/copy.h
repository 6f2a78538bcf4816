/*-------------------------------------------------------------------------
 *
 * copy.h
 *	  The initial copy of a table and what goes with it: foreign keys,
 *	  the copy snapshot, and creating a missing table from the provider.
 *
 * The worker (worker.c) decides when a table is copied and runs the copy
 * process; these functions do the work on the two connections they are
 * given (doc/londiste3.md, "Initial copy").
 *
 * src/londiste3/copy/copy.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LONDISTE_COPY_H
#define LONDISTE_COPY_H

#include "londiste3/handlers/handler.h"

/* snapshot.c: "xmin:xmax:xip,..." as txid_current_snapshot() prints it */
typedef struct LdSnapshot LdSnapshot;
extern LdSnapshot *ld_snapshot_parse(const char *text);	/* NULL if malformed */
/* did the transaction commit before the snapshot was taken? */
extern bool ld_snapshot_contains(const LdSnapshot *snap, int64_t txid);
extern void ld_snapshot_free(LdSnapshot *snap);

/* copy.c */
typedef struct LdCopyRequest
{
	const char *queue_name;
	const char *table_name;		/* global fq name, on the source */
	const char *dest_table;		/* local fq name */
	LdHandler  *handler;		/* copy condition; NULL: copy every row */
	bool		skip_truncate;	/* table attr skip_truncate */
	/*
	 * 0: copy in dst's own transaction.  N >= 1: the table matches
	 * threaded_copy_tables; copy through N writer sessions of their own
	 * (threaded_copy_pool_size).
	 */
	int			writers;
} LdCopyRequest;

/*
 * Copy one table from src (the provider or copy node) into dst (the local
 * node), spec londiste.md 3.4 steps 1-6: wait for the table's turn (copy
 * role, max_parallel_copy) and for it to be in sync on src; pick the mode
 * from the copy role (none: one transaction; lead: structure dropped and
 * truncated first; follower: data only); copy; store catching-up with the
 * source snapshot; re-create what was dropped; force a tick on src.  Both
 * connections must be outside a transaction; dst should run in the
 * replica session_replication_role as the worker's does.  On success
 * *snapshot holds the stored snapshot's text (pg_free it).  Logs and
 * returns false on failure, with dst rolled back to where the mode allows
 * (doc/londiste3.md, "Initial copy").
 */
extern bool ld_copy_table(Londiste *ld, PGconn *src, PGconn *dst,
						  const LdCopyRequest *req, char **snapshot);

/*
 * fkeys.c: local must be outside a transaction; each key is dropped or
 * restored in transactions of its own.
 */
/* drop every foreign key from or to the table, keeping it in pending_fkeys */
extern bool ld_drop_table_fkeys(PGconn *local, const char *table_name);
/* restore the queue's pending foreign keys that may be restored now */
extern bool ld_restore_pending_fkeys(PGconn *local, const char *queue_name);

/*
 * create.c: create a missing table or sequence (relkind 'r' or 'S') from
 * the provider's for add-table/add-seq --create (tables: columns and
 * primary key) or --create-full (also defaults, the serial columns'
 * sequences, constraints, indexes, triggers, rules, grants and owner).
 * name is the object's name on src (a table's dest_table there),
 * dest_name the local one.  The statements run in dst's transaction, if
 * it is in one, so that they commit with the registration.
 */
typedef enum LdCreateResult
{
	LD_CREATE_FAILED,			/* logged */
	LD_CREATE_DONE,				/* created, or it existed already (logged) */
	LD_CREATE_SKIPPED			/* not on the provider either: do not add it */
} LdCreateResult;

extern LdCreateResult ld_create_from_provider(PGconn *src, PGconn *dst,
											  const char *name, char relkind,
											  const char *dest_name, bool full);

#endif							/* LONDISTE_COPY_H */
