/*-------------------------------------------------------------------------
 *
 * ticker_shared.h
 *	  Shared memory and interfaces of the in-server ticker: the launcher
 *	  (launcher.c), the per-database workers (worker.c), the
 *	  producer-to-worker wakeup protocol (wakeup.c) and module setup
 *	  (module.c).
 *
 * All of this exists only when pgq is in shared_preload_libraries; then
 * pgq_ticker_shared points at the state below in every process.  Without
 * preloading it stays NULL and every entry point here does nothing, so the
 * extension behaves exactly as with an external ticker.
 *
 * One PgqDbSlot exists per database the launcher currently serves (runs,
 * is starting, or will restart a worker for).  The launcher owns a slot's
 * identity; the worker owns its progress fields; both write under
 * PgqTickerShared.lock.  A worker only takes up its slot if the slot's
 * generation is still the one it was started for: whoever stops a worker
 * bumps the generation, so a worker registered but not yet running never
 * connects.  A running worker is stopped with SIGTERM to the pid in its
 * slot, which it clears (under the lock) before it exits.  The wakeup
 * counters are lock-free atomics because producers touch them at every
 * commit that inserted events.
 *
 * src/ticker/ticker_shared.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGQ_TICKER_SHARED_H
#define PGQ_TICKER_SHARED_H

#include "datatype/timestamp.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/proc.h"

/* GUC variables (module.c) */
extern bool pgq_ticker_enabled;
extern char *pgq_ticker_databases;
extern int	pgq_ticker_period;		/* ms */
extern int	pgq_maint_period;		/* s */
extern int	pgq_retry_period;		/* s */
extern int	pgq_discovery_period;	/* s */
extern int	pgq_max_workers;
extern char *pgq_ticker_role;
extern bool pgq_ticker_allow_superuser;
extern bool pgq_ticker_coalesce;

/*
 * Producers count committed events per bucket of queue ids (queue_id mod
 * PGQ_WAKE_BUCKETS).  Queues sharing a bucket only make the worker wake a
 * little earlier than needed, never later.
 */
#define PGQ_WAKE_BUCKETS 64

/* Databases the launcher has been asked to look at again (see launcher.c) */
#define PGQ_RECHECK_SLOTS 32

#define PGQ_ERROR_LEN 256

typedef enum PgqWorkerState
{
	PGQ_WORKER_STARTING,		/* registered, not yet connected */
	PGQ_WORKER_IDLE,			/* waiting for the next deadline */
	PGQ_WORKER_TICKING,
	PGQ_WORKER_RETRY,			/* moving due events out of the retry queue */
	PGQ_WORKER_MAINT,			/* rotation, extra maintenance, vacuum */
	PGQ_WORKER_STOPPING,		/* asked to exit; not restarted */
	PGQ_WORKER_NO_EXTENSION,	/* exited: pgq is not installed there */
	PGQ_WORKER_OTHER_VERSION,	/* pgq there is not this library's version */
	PGQ_WORKER_RESTARTING,		/* exited unexpectedly; restart pending */
	PGQ_WORKER_NO_BGWORKER		/* no free background worker slot */
} PgqWorkerState;

typedef struct PgqDbSlot
{
	/* identity, owned by the launcher; InvalidOid marks a free slot */
	Oid			dboid;
	NameData	datname;
	uint32		generation;		/* of the worker allowed to run here */
	bool		stop_requested; /* exit now, quietly, and stay stopped */
	int			failures;		/* consecutive unexpected exits */
	TimestampTz restart_at;		/* for RESTARTING and NO_BGWORKER */

	/* progress, written by the worker */
	PgqWorkerState state;
	pid_t		pid;			/* 0 when no worker process runs here */
	PGPROC	   *proc;			/* for SetLatch by producers and launcher */
	TimestampTz started_at;
	TimestampTz last_tick_time;
	TimestampTz last_maint_time;
	TimestampTz last_retry_time;
	TimestampTz last_error_time;
	char		last_error[PGQ_ERROR_LEN];

	/* producer-to-worker wakeups (wakeup.c), no lock */
	pg_atomic_uint32 max_known_queue;	/* highest queue_id the worker knows */
	pg_atomic_uint64 committed[PGQ_WAKE_BUCKETS];	/* events committed */
	pg_atomic_uint64 wake_at[PGQ_WAKE_BUCKETS]; /* wake when committed
												 * reaches this */
} PgqDbSlot;

typedef struct PgqTickerShared
{
	LWLock	   *lock;
	PGPROC	   *launcher_proc;	/* NULL while no launcher runs */

	/* "look at these databases again", from backends at commit */
	int			nrecheck;
	bool		recheck_all;
	Oid			recheck[PGQ_RECHECK_SLOTS];

	int			nslots;			/* = pgq.max_workers */
	PgqDbSlot	slots[FLEXIBLE_ARRAY_MEMBER];
} PgqTickerShared;

/* module.c */
extern PgqTickerShared *pgq_ticker_shared;
extern Oid *pgq_held_databases; /* MaxBackends entries, see launcher.c */

/* What a worker gets in bgw_extra */
typedef struct PgqWorkerArgs
{
	Oid			dboid;
	uint32		generation;
} PgqWorkerArgs;

/* launcher.c */
extern Size pgq_ticker_shmem_size(void);
extern void pgq_ticker_shmem_init(void);
extern void pgq_install_hooks(void);
extern void pgq_register_launcher(void);
extern void pgq_wake_launcher(void);
extern void pgq_stop_worker(PgqDbSlot *slot);
extern const char *pgq_worker_state_name(PgqWorkerState state);
extern PGDLLEXPORT void pgq_launcher_main(Datum main_arg);

/* worker.c */
extern PGDLLEXPORT void pgq_ticker_worker_main(Datum main_arg);

/* wakeup.c */
extern void pgq_wakeup_note_event(int32 queue_id);
extern void pgq_wakeup_reset_slot(PgqDbSlot *slot);
extern void pgq_wakeup_read_counts(PgqDbSlot *slot, uint64 *counts);
extern bool pgq_wakeup_arm(PgqDbSlot *slot, const uint64 *counts,
						   const int64 *headroom, int32 max_queue_id);

#endif							/* PGQ_TICKER_SHARED_H */
