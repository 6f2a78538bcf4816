/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The replay daemon ("worker") and the table copy process ("copy"):
 *	  what their files share.
 *
 *	worker.c			the two commands, connections, the daemon loop
 *	cascade_worker.c	one batch: node roles, skip and "Lost position",
 *						events copied downstream, branch ticks, cascade
 *						events, watermarks
 *	sync.c				table states (londiste.md 1.6, 3.3), snapshot filter
 *	copy_process.c		copies started by the worker, the copy process
 *	replay.c			row events as SQL (replay.h)
 *	replay_execute.c	EXECUTE events
 *	apply.c				LdApply, the statements' way to the local node
 *
 * src/londiste3/worker/worker.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LONDISTE_WORKER_H
#define LONDISTE_WORKER_H

#include "londiste3/copy/copy.h"
#include "londiste3/handlers/handler.h"
#include "pqexpbuffer.h"

/* merge_state values, londiste.md 1.6 */
typedef enum LdTableState
{
	LD_TABLE_MISSING,			/* NULL: needs a copy */
	LD_TABLE_IN_COPY,
	LD_TABLE_CATCHING_UP,
	LD_TABLE_WANNA_SYNC,
	LD_TABLE_DO_SYNC,
	LD_TABLE_OK
} LdTableState;

/* one local table of the queue, as the worker tracks it */
typedef struct LdTable
{
	char	   *name;			/* global fq name (ev_extra1) */
	char	   *dest_table;		/* local fq name */
	LdTableState state;
	int64_t		sync_tick;		/* of wanna-sync:N / do-sync:N */
	char	   *snapshot_text;	/* custom_snapshot, NULL if none */
	LdSnapshot *snapshot;
	PgqDict    *attrs;
	char	   *copy_role;
	int			copy_pos;
	int			max_parallel_copy;
	char	   *dropped_ddl;
	LdHandler  *handler;
	bool		changed;		/* state or snapshot to be stored */
	bool		used;			/* handler prepared for this batch */

	/* snapshot filter bookkeeping, kept across batches */
	int			ok_batch_count;
	int64_t		last_tick;
	int64_t		last_snapshot_tick;
} LdTable;

/* what a node does with a batch (londiste.md 3.1) */
typedef struct LdNodeRole
{
	char	   *node_type;		/* root, branch, leaf */
	char	   *node_name;
	char	   *combined_queue;
	char	   *combined_type;
	int64_t		local_watermark;
	int64_t		global_watermark;
	bool		process_events; /* apply data events */
	bool		copy_events;	/* into target_queue */
	const char *target_queue;
	bool		keep_event_ids;
	bool		filtered_copy;	/* merge leaf: no pgq.* / londiste.* */
	bool		create_tick;
	bool		send_tick_event;
	bool		wait_behind;	/* leaf of a combined branch */
	bool		process_global_wm;
	bool		sync_watermark;
	char	   *wm_sync_nodes;	/* node attr sync_watermark: "a,b" */
} LdNodeRole;

typedef struct LdWorker
{
	Londiste   *ld;
	bool		copy_process;	/* the "copy TABLE" process */
	char	   *copy_table;		/* its table (global fq name) */
	char	   *consumer_name;	/* pgq consumer on the provider */

	PGconn	   *provider;
	char	   *provider_location;
	char	   *source_location;	/* copy process: where it copies from */

	/* consumer state (pgq_node.get_consumer_state) */
	int64_t		completed_tick;
	bool		paused;
	LdNodeRole	role;

	/* the batch */
	int64_t		batch_id;
	int64_t		cur_tick;
	int64_t		prev_tick;
	char	   *batch_end;		/* cur_tick_time */
	PgqBatchInfo batch_info;	/* the same, for the handlers */
	bool		had_work;		/* the last loop had a batch */
	bool		batch_collected;	/* fetched with the pgq_batch_collect_* keys */
	bool		was_wait_behind;	/* the node followed a combined branch */
	int64_t		cur_max_id;		/* highest ev_id seen: branch ticks */

	LdTable    *tables;
	int			ntables;

	LdApply    *apply;
	PQExpBufferData copy_buf;	/* events for the target queue, COPY text */
	int			ncopy;

	bool		code_checked;
	bool		copy_registered;	/* copy process: consumer registered */
	double		local_wm_time;
	double		global_wm_time;
	double		local_wm_period;
	double		global_wm_period;
	int64_t		real_global_wm; /* -1 until seen */
	int			parallel_copies;
	bool		local_only;
	bool		local_only_drop_execute;
	char	   *event_filter;	/* local_only batch filter, or NULL */
} LdWorker;

/* worker.c */
extern PGconn *ld_worker_local(LdWorker *w);
extern bool ld_worker_exec(PGconn *conn, const char *sql, int nparams,
						   const char *const *params);
extern bool ld_worker_rollback(PGconn *conn);

/* cascade_worker.c */
extern bool ld_worker_exec_script(PGconn *conn, const char *sql);

/* cascade_worker.c */
extern bool ld_worker_batch(LdWorker *w, bool *had_batch);

/* sync.c */
extern bool ld_tables_load(LdWorker *w, PGconn *local);
extern LdTable *ld_table_find(LdWorker *w, const char *name);
extern bool ld_table_interesting(LdWorker *w, LdTable *t, const PgqEvent *ev);
extern bool ld_tables_save(LdWorker *w, PGconn *local);
extern void ld_tables_free(LdWorker *w);
extern bool ld_tables_sync(LdWorker *w, PGconn *local, bool *exit_now);
extern bool ld_tables_handover_pending(LdWorker *w);
extern void ld_tables_gc_snapshots(LdWorker *w);
extern void ld_table_set_snapshot(LdTable *t, const char *text);
extern const char *ld_table_state_text(const LdTable *t, char *buf, size_t len);

/* copy_process.c */
extern bool ld_sync_launch_copies(LdWorker *w, PGconn *local, bool *loop);
extern bool ld_sync_copy_process(LdWorker *w, PGconn *local, bool *loop,
								 bool *exit_now);
extern bool ld_copy_register(LdWorker *w, PGconn *local);

/* apply.c */
extern LdApply *ld_apply_new(void);
extern void ld_apply_free(LdApply *apply);
extern void ld_apply_begin(LdApply *apply, PGconn *conn);
extern void ld_apply_forget_statements(LdApply *apply);

/* replay of events that are not row events, cascade_worker.c */
extern bool ld_replay_event(LdWorker *w, PGconn *local, const PgqEvent *ev);

/* replay_execute.c */
extern bool ld_replay_execute(LdWorker *w, PGconn *local, const PgqEvent *ev);

#endif							/* LONDISTE_WORKER_H */
