/*-------------------------------------------------------------------------
 *
 * pgq.h
 *	  Declarations shared by the C parts of the pgq extension.
 *
 * The extension keeps all state in ordinary tables of schema pgq (see
 * src/pgq/sql/schema.sql); the C code only provides the paths that run
 * per event or per batch.  What several of those files need - resolving the
 * textual object names stored in pgq.queue, reading tick snapshots, running
 * a prepared SPI statement - lives in queue.c.
 *
 * src/pgq/pgq.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGQ_H
#define PGQ_H

#include "executor/spi.h"
#include "fmgr.h"
#include "utils/timestamp.h"

/*
 * In-memory layout of a txid_snapshot value.  PostgreSQL 15 stores
 * txid_snapshot and pg_snapshot identically: 64-bit epoch-extended ids,
 * xip sorted ascending.  The server does not export the struct, so we
 * mirror it here; txid_snapshot is part of our on-disk format (pgq.tick)
 * and cannot change without breaking every PgQ client anyway.
 */
typedef struct PgqSnapshot
{
	int32		vl_len_;		/* varlena header (do not touch directly) */
	uint32		nxip;			/* number of ids in xip[] */
	uint64		xmin;			/* all ids below are finished */
	uint64		xmax;			/* all ids at or above are not yet started */
	uint64		xip[FLEXIBLE_ARRAY_MEMBER]; /* ids in progress, ascending */
} PgqSnapshot;

#define DatumGetPgqSnapshot(d)	((PgqSnapshot *) PG_DETOAST_DATUM(d))

/*
 * The subset of a pgq.queue row that event insertion needs.  Strings point
 * into memory owned by the caller's context.
 */
typedef struct PgqQueueRow
{
	int32		queue_id;
	int32		cur_table;		/* index of the table receiving inserts */
	bool		disable_insert;
	bool		has_per_tx_limit;
	int32		per_tx_limit;
	char	   *data_pfx;		/* "schema.table" prefix of event tables */
	char	   *event_seq;		/* "schema.sequence" of event ids */
} PgqQueueRow;

/* One tick of a queue */
typedef struct PgqTick
{
	int64		tick_id;
	TimestampTz tick_time;
	int64		event_seq;
} PgqTick;

/* queue.c */
extern bool pgq_lookup_queue(const char *queue_name, PgqQueueRow *row);
extern void pgq_split_name(const char *qualified_name, char **schema, char **name);
extern Oid	pgq_resolve_name(const char *qualified_name, bool missing_ok);
extern char *pgq_quote_name(const char *qualified_name);
extern int64 pgq_issued_event_ids(const char *event_seq);
extern int64 pgq_interval_usecs(const Interval *span);
extern int64 pgq_usecs_between(TimestampTz later, TimestampTz earlier);
extern int64 pgq_usecs_twice(int64 usecs);
extern TimestampTz pgq_time_plus_usecs(TimestampTz time, int64 usecs);
extern SPIPlanPtr pgq_prepare_once(SPIPlanPtr *cache, const char *sql,
								   int nargs, Oid *argtypes);
extern bool pgq_insert_allowed(bool disable_insert);

/* tick.c */
extern bool pgq_tick_queue_if_due(const char *queue_name, int64 *tick_id);

/* batch.c */
extern char *pgq_batch_sql(int64 batch_id, bool with_order,
						   int32 *queue_id, int32 *sub_id);
extern void pgq_lock_batch(int64 batch_id);
extern bool pgq_read_tick(int32 queue_id, int64 tick_id, PgqTick *tick);
extern bool pgq_choose_end_tick(int32 queue_id, const PgqTick *start,
								FunctionCallInfo fcinfo, int lag_arg,
								PgqTick *end);

#endif							/* PGQ_H */
