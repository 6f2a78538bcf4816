/*-------------------------------------------------------------------------
 *
 * copy.h
 *	  The initial copy of a table and what goes with it: foreign keys,
 *	  the copy snapshot, and creating a missing table from the provider.
 *
 * The worker (worker.c) decides when a table is copied and runs the copy
 * process; these functions do the work on the two connections they are
 * given (doc/londiste.md, "Initial copy").
 *
 * src/londiste3/copy.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LONDISTE_COPY_H
#define LONDISTE_COPY_H

#include "londiste3/handler.h"

/* snapshot.c: "xmin:xmax:xip,..." as txid_current_snapshot() prints it */
typedef struct LdSnapshot LdSnapshot;
extern LdSnapshot *ld_snapshot_parse(const char *text);	/* NULL if malformed */
/* did the transaction commit before the snapshot was taken? */
extern bool ld_snapshot_contains(const LdSnapshot *snap, int64_t txid);
extern void ld_snapshot_free(LdSnapshot *snap);

/* copy.c */
typedef enum LdCopyMode
{
	LD_COPY_SINGLE,				/* one transaction: truncate, DDL and data */
	LD_COPY_LEAD,				/* merge lead: truncate and DDL committed first */
	LD_COPY_DATA_ONLY			/* merge follower: data only */
} LdCopyMode;

typedef struct LdCopyRequest
{
	const char *queue_name;
	const char *table_name;		/* global fq name, on the source */
	const char *dest_table;		/* local fq name */
	LdHandler  *handler;		/* copy condition, real copy */
	LdCopyMode	mode;
	bool		skip_truncate;	/* table attr skip_truncate */
	int			writers;		/* >1: threaded copy with this many sessions */
} LdCopyRequest;

/*
 * Copy one table from src (the provider or copy node) into dst (the local
 * node), spec londiste.md 3.4 steps 2-5.  On success the table is in state
 * catching-up with the source snapshot stored, and *snapshot holds that
 * snapshot's text (pg_free it).  Logs and returns false on failure, with
 * dst rolled back to where the mode allows.
 */
extern bool ld_copy_table(Londiste *ld, PGconn *src, PGconn *dst,
						  const LdCopyRequest *req, char **snapshot);

/* fkeys.c */
/* drop every foreign key from or to the table, keeping it in pending_fkeys */
extern bool ld_drop_table_fkeys(PGconn *local, const char *table_name);
/* restore the queue's pending foreign keys that may be restored now */
extern bool ld_restore_pending_fkeys(PGconn *local, const char *queue_name);

/* create.c: create a missing table (or sequence) from the provider's */
extern bool ld_create_from_provider(PGconn *src, PGconn *dst,
									const char *name, char relkind,
									const char *dest_name, bool full);

#endif							/* LONDISTE_COPY_H */
