/*-------------------------------------------------------------------------
 *
 * wakeup.c
 *	  How producers wake the ticker worker of their database, and how the
 *	  worker tells them when it wants to be woken.
 *
 * A tick is due when a queue has queue_ticker_max_count new events, or has
 * new events and queue_ticker_max_lag has passed since its last tick.  The
 * worker computes the second kind of deadline itself, but it can only
 * learn about new events by looking.  So producers announce them: at
 * commit of a transaction that inserted events, the backend adds the
 * number of events per queue to a counter in the worker's slot, and sets
 * the worker's latch if that counter crossed the threshold the worker
 * asked for.  Announcing at commit rather than at insert matters: a tick
 * taken while the inserting transaction is still open would not contain
 * its events, and the queue would then look idle.
 *
 * Counters are per bucket of queue ids rather than per queue, so that the
 * shared memory is fixed and the producer needs no lookup.  Before going
 * to sleep the worker sets, per bucket, the count at which it wants to
 * wake: one more event for a bucket holding a queue without pending events
 * (its first event moves that queue's deadline from the idle schedule to
 * max_lag), and for a bucket whose queues all have pending events, the
 * smallest number still missing to any queue's max_count.  Buckets with
 * only paused or externally ticked queues, or none, never wake it; nor
 * does a queue that has reached max_count while no consumer waits for it
 * (its tick waits for pgq.ticker_period, see worker.c).  A
 * queue created after the worker last looked has an id above the highest
 * one it knows, and any commit to it wakes the worker.
 *
 * The hot path costs one hash-free array update per event and, per
 * committing transaction, one atomic add per touched bucket and a compare;
 * no locks.  Events written without pgq.insert_event (COPY into an event
 * table) and transactions committed through COMMIT PREPARED are not
 * announced; the worker notices them within pgq.ticker_period.
 *
 * src/ticker/wakeup.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/latch.h"

#include "ticker_shared.h"

/* events inserted by the current transaction, per bucket */
static uint32 xact_counts[PGQ_WAKE_BUCKETS];
static uint64 xact_buckets = 0; /* bit per bucket with a non-zero count */
static int32 xact_max_queue_id = 0;
static bool wakeup_callback_registered = false;

/* index of our database's slot, checked before each use */
static int	cached_slotno = -1;

static void wakeup_xact_callback(XactEvent event, void *arg);
static PgqDbSlot *find_my_slot(void);

StaticAssertDecl(PGQ_WAKE_BUCKETS <= 64, "xact_buckets needs a bit per bucket");

/*
 * Called by the insert path for every event.  Without the in-server ticker
 * there is nobody to wake and this returns at once.
 */
void
pgq_wakeup_note_event(int32 queue_id)
{
	int			bucket;

	if (pgq_ticker_shared == NULL)
		return;

	if (!wakeup_callback_registered)
	{
		RegisterXactCallback(wakeup_xact_callback, NULL);
		wakeup_callback_registered = true;
	}
	bucket = (uint32) queue_id % PGQ_WAKE_BUCKETS;
	xact_counts[bucket]++;
	xact_buckets |= UINT64CONST(1) << bucket;
	if (queue_id > xact_max_queue_id)
		xact_max_queue_id = queue_id;
}

/*
 * The slot of the worker serving our database, or NULL.  Read without the
 * lock: a slot being reused for another database at this very moment at
 * worst costs one spurious or one missed wakeup, and a missed one is made
 * up by the worker's periodic look.
 */
static PgqDbSlot *
find_my_slot(void)
{
	PgqTickerShared *shared = pgq_ticker_shared;
	int			i;

	if (cached_slotno >= 0 && shared->slots[cached_slotno].dboid == MyDatabaseId)
		return &shared->slots[cached_slotno];
	for (i = 0; i < shared->nslots; i++)
	{
		if (shared->slots[i].dboid == MyDatabaseId)
		{
			cached_slotno = i;
			return &shared->slots[i];
		}
	}
	return NULL;
}

/*
 * At commit, publish this transaction's events and wake the worker if it
 * asked for it.  Runs after the commit record is written, so it must not
 * fail; it only does atomic arithmetic and SetLatch.  Events of aborted
 * subtransactions are counted too: that only makes a wakeup come early.
 */
static void
wakeup_xact_callback(XactEvent event, void *arg)
{
	PgqDbSlot  *slot;
	bool		wake = false;
	int			bucket;

	if (xact_buckets == 0)
		return;
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT &&
		event != XACT_EVENT_PREPARE)
		return;

	if (event == XACT_EVENT_COMMIT && (slot = find_my_slot()) != NULL)
	{
		for (bucket = 0; bucket < PGQ_WAKE_BUCKETS; bucket++)
		{
			uint64		before;
			uint64		threshold;

			if ((xact_buckets & (UINT64CONST(1) << bucket)) == 0)
				continue;
			before = pg_atomic_fetch_add_u64(&slot->committed[bucket],
											 xact_counts[bucket]);
			threshold = pg_atomic_read_u64(&slot->wake_at[bucket]);
			if (before < threshold && before + xact_counts[bucket] >= threshold)
				wake = true;
		}
		if ((uint32) xact_max_queue_id > pg_atomic_read_u32(&slot->max_known_queue))
			wake = true;
		if (wake)
		{
			PGPROC	   *proc = slot->proc;

			if (proc != NULL)
				SetLatch(&proc->procLatch);
		}
	}

	memset(xact_counts, 0, sizeof(xact_counts));
	xact_buckets = 0;
	xact_max_queue_id = 0;
}

/*
 * A slot handed to a new worker starts with no thresholds: nothing wakes
 * the worker until its first round has armed them.
 */
void
pgq_wakeup_reset_slot(PgqDbSlot *slot)
{
	int			bucket;

	pg_atomic_init_u32(&slot->max_known_queue, PG_UINT32_MAX);
	for (bucket = 0; bucket < PGQ_WAKE_BUCKETS; bucket++)
	{
		pg_atomic_init_u64(&slot->committed[bucket], 0);
		pg_atomic_init_u64(&slot->wake_at[bucket], PG_UINT64_MAX);
	}
}

/*
 * The worker reads the counters before it reads the queues; thresholds
 * are then relative to what it has already accounted for.
 */
void
pgq_wakeup_read_counts(PgqDbSlot *slot, uint64 *counts)
{
	int			bucket;

	for (bucket = 0; bucket < PGQ_WAKE_BUCKETS; bucket++)
		counts[bucket] = pg_atomic_read_u64(&slot->committed[bucket]);
}

/*
 * Publish the worker's thresholds: headroom[b] more committed events in
 * bucket b wake it (0 = never).  Returns true if events committed since
 * the counts were read already reach a threshold, in which case the
 * worker must look again instead of sleeping: the producers that crossed
 * it may have compared against the old threshold.
 */
bool
pgq_wakeup_arm(PgqDbSlot *slot, const uint64 *counts, const int64 *headroom,
			   int32 max_queue_id)
{
	uint64		thresholds[PGQ_WAKE_BUCKETS];
	int			bucket;

	for (bucket = 0; bucket < PGQ_WAKE_BUCKETS; bucket++)
	{
		thresholds[bucket] = headroom[bucket] > 0 ?
			counts[bucket] + (uint64) headroom[bucket] : PG_UINT64_MAX;
		pg_atomic_write_u64(&slot->wake_at[bucket], thresholds[bucket]);
	}
	pg_atomic_write_u32(&slot->max_known_queue, (uint32) Max(max_queue_id, 0));

	/* pairs with the full barrier of the producers' fetch-and-add */
	pg_memory_barrier();

	for (bucket = 0; bucket < PGQ_WAKE_BUCKETS; bucket++)
		if (pg_atomic_read_u64(&slot->committed[bucket]) >= thresholds[bucket])
			return true;
	return false;
}
