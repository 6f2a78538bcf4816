/*-------------------------------------------------------------------------
 *
 * insert.c
 *	  Event insertion: pgq.insert_event_raw(), the 7-argument
 *	  pgq.insert_event() and pgq.current_event_table() for clients that
 *	  write into the event table themselves.
 *
 * This is the producer's hot path, so it runs no SQL: the queue row is read
 * through its index, the event id comes from nextval on the queue's
 * sequence, and the row goes into the current event table through the
 * executor's simple insert routine (the one logical replication apply
 * uses), which still honours indexes, constraints and any triggers a user
 * put on the table.  The queue row is read with a fresh snapshot on every
 * call (see pgq_lookup_queue), because a rotation may switch the current
 * table between two inserts.  The transaction takes its txid before that
 * read, so that a rotation it does not see is confirmed with a higher txid
 * and every batch that can hold the event still reads the table it goes
 * to (doc/pgq.md, "Why rotation loses no event").  While no transaction
 * has ended in between, a fresh snapshot is the same as the last one, and
 * the row read with it is remembered (a bulk statement, or the
 * change-capture triggers firing for its rows, reads it once); so are the
 * objects it names until they change.
 *
 * Every call advances the event sequence, even when the insert is refused
 * or rolled back later: the ticker uses the sequence as its activity
 * counter (contract quirk Q2).
 *
 * src/pgq/insert.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "commands/sequence.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "storage/proc.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "pgq.h"
#include "ticker_shared.h"

PG_FUNCTION_INFO_V1(pgq_insert_event_raw);
PG_FUNCTION_INFO_V1(pgq_insert_event);
PG_FUNCTION_INFO_V1(pgq_current_event_table);

/* Columns of an event table, in pgq.event_template order */
#define EVENT_NATTS 11
static const char *const event_columns[EVENT_NATTS] = {
	"ev_id", "ev_time", "ev_txid", "ev_owner", "ev_retry", "ev_type",
	"ev_data", "ev_extra1", "ev_extra2", "ev_extra3", "ev_extra4"
};

/* Arguments of one event; text values are the last six columns */
typedef struct EventArgs
{
	bool		id_given;
	int64		ev_id;
	bool		time_given;
	TimestampTz ev_time;
	bool		owner_given;
	int32		ev_owner;
	bool		retry_given;
	int32		ev_retry;
	Datum		text_values[6];
	bool		text_nulls[6];
} EventArgs;

/*
 * Events inserted per queue by the current top-level transaction, for
 * queue_per_tx_limit.  An entry belonging to an older transaction is simply
 * restarted, so nothing has to be cleaned up at transaction end.
 */
typedef struct TxCountEntry
{
	int32		queue_id;		/* hash key */
	FullTransactionId fxid;
	int64		count;
} TxCountEntry;

static HTAB *tx_counts = NULL;

/*
 * What the insert path remembers about the queue it used last:
 *
 * - the queue row and a fresh snapshot taken just before it was read.
 *   A read with an equal snapshot (same transaction, same command, same
 *   set of finished transactions) finds the same row version.  Snapshots
 *   only move forward, so if the row was in fact read with a later one,
 *   the remembered snapshot can no longer come back and the row is read
 *   again;
 * - the OIDs of the event sequence and the current event table, which
 *   stay right until a relcache invalidation of either or a change of any
 *   schema (a rename could make the stored names mean other objects).
 */
typedef struct InsertTarget
{
	MemoryContext ctx;			/* holds the strings and arrays below */
	char	   *queue_name;		/* NULL: nothing remembered */
	PgqQueueRow queue;
	/* the snapshot the row was read with */
	LocalTransactionId lxid;
	CommandId	curcid;
	TransactionId xmin;
	TransactionId xmax;
	uint32		xcnt;
	int32		subxcnt;
	bool		suboverflowed;
	TransactionId *xip;
	TransactionId *subxip;
	/* objects named by the row */
	bool		oids_valid;
	Oid			seq_relid;
	Oid			table_relid;
} InsertTarget;

static InsertTarget target = {0};

static void target_relcache_callback(Datum arg, Oid relid);
static void target_namespace_callback(Datum arg, int cacheid, uint32 hashvalue);
static bool target_snapshot_matches(const char *queue_name, Snapshot snap);
static void remember_queue(const char *queue_name, const PgqQueueRow *queue,
						   Snapshot snap);
static void read_target_queue(const char *queue_name, PgqQueueRow *queue);
static void check_insert_allowed(const char *queue_name, const PgqQueueRow *queue);
static void check_per_tx_limit(const char *queue_name, const PgqQueueRow *queue,
							   FullTransactionId fxid);
static void check_event_table_layout(Relation rel);
static void store_event(Relation rel, Datum *values, bool *nulls);
static int64 insert_event(const char *queue_name, EventArgs *args);

static void
target_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == target.seq_relid || relid == target.table_relid)
		target.oids_valid = false;
}

static void
target_namespace_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	target.oids_valid = false;
}

/*
 * Whether the remembered queue row is the one a read with "snap" would
 * return.
 */
static bool
target_snapshot_matches(const char *queue_name, Snapshot snap)
{
	return target.queue_name != NULL &&
		snap->snapshot_type == SNAPSHOT_MVCC &&
		target.lxid == MyProc->lxid &&
		target.curcid == snap->curcid &&
		target.xmin == snap->xmin &&
		target.xmax == snap->xmax &&
		target.xcnt == snap->xcnt &&
		target.subxcnt == snap->subxcnt &&
		target.suboverflowed == snap->suboverflowed &&
		(snap->xcnt == 0 ||
		 memcmp(target.xip, snap->xip, sizeof(TransactionId) * snap->xcnt) == 0) &&
		(snap->subxcnt == 0 ||
		 memcmp(target.subxip, snap->subxip, sizeof(TransactionId) * snap->subxcnt) == 0) &&
		strcmp(target.queue_name, queue_name) == 0;
}

/*
 * Remember a queue row just read with "snap".  The OIDs are kept if the
 * row names the same objects as before.
 */
static void
remember_queue(const char *queue_name, const PgqQueueRow *queue, Snapshot snap)
{
	MemoryContext oldctx;

	if (target.ctx == NULL)
	{
		target.ctx = AllocSetContextCreate(TopMemoryContext, "pgq insert target",
										   ALLOCSET_SMALL_SIZES);
		CacheRegisterRelcacheCallback(target_relcache_callback, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID, target_namespace_callback, (Datum) 0);
	}
	if (target.queue_name == NULL ||
		target.queue.cur_table != queue->cur_table ||
		strcmp(target.queue.data_pfx, queue->data_pfx) != 0 ||
		strcmp(target.queue.event_seq, queue->event_seq) != 0)
		target.oids_valid = false;

	target.queue_name = NULL;
	MemoryContextReset(target.ctx);
	if (snap->snapshot_type != SNAPSHOT_MVCC)
		return;
	oldctx = MemoryContextSwitchTo(target.ctx);

	target.queue = *queue;
	target.queue.data_pfx = pstrdup(queue->data_pfx);
	target.queue.event_seq = pstrdup(queue->event_seq);
	target.lxid = MyProc->lxid;
	target.curcid = snap->curcid;
	target.xmin = snap->xmin;
	target.xmax = snap->xmax;
	target.xcnt = snap->xcnt;
	target.subxcnt = snap->subxcnt;
	target.suboverflowed = snap->suboverflowed;
	target.xip = palloc(sizeof(TransactionId) * Max(snap->xcnt, 1));
	memcpy(target.xip, snap->xip, sizeof(TransactionId) * snap->xcnt);
	target.subxip = palloc(sizeof(TransactionId) * Max(snap->subxcnt, 1));
	memcpy(target.subxip, snap->subxip, sizeof(TransactionId) * snap->subxcnt);
	target.queue_name = pstrdup(queue_name);

	MemoryContextSwitchTo(oldctx);
}

/*
 * Read the row of the queue that an event of this transaction is about to
 * be written to, with a fresh snapshot or from memory; errors out if there
 * is no such queue.
 *
 * The top-level txid is taken first.  Then either the read sees rotation
 * step 1, and the event goes to the new table, or step 1 commits after the
 * read and step 2, which starts later still, records a txid above ours:
 * batches starting past step 2 cannot hold our event, and all others read
 * the previous table too.  A txid taken after the read could be above
 * step 2 while the row still names the previous table.  Remembered rows
 * keep this order, as they were read in this transaction with a snapshot
 * equal to the current one.  A standby can neither write an event nor
 * assign a txid, but may still be asked for the current table.
 */
static void
read_target_queue(const char *queue_name, PgqQueueRow *queue)
{
	Snapshot	snap;

	if (!RecoveryInProgress())
		(void) GetTopFullTransactionId();

	snap = GetLatestSnapshot();
	if (target_snapshot_matches(queue_name, snap))
	{
		*queue = target.queue;
		return;
	}
	if (!pgq_lookup_queue(queue_name, queue))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", queue_name)));
	remember_queue(queue_name, queue, snap);
}

/*
 * Refuse writes into a queue with inserts disabled, unless in replica role.
 */
static void
check_insert_allowed(const char *queue_name, const PgqQueueRow *queue)
{
	if (!pgq_insert_allowed(queue->disable_insert))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("inserts into queue \"%s\" are disabled", queue_name),
				 errhint("Events can be written to this queue only with session_replication_role = replica.")));
}

/*
 * Count one more event for this transaction and refuse it when the queue's
 * per-transaction limit is exceeded.
 */
static void
check_per_tx_limit(const char *queue_name, const PgqQueueRow *queue,
				   FullTransactionId fxid)
{
	TxCountEntry *entry;
	bool		found;

	if (tx_counts == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int32);
		ctl.entrysize = sizeof(TxCountEntry);
		ctl.hcxt = TopMemoryContext;
		tx_counts = hash_create("pgq per-transaction event counts", 16, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	entry = hash_search(tx_counts, &queue->queue_id, HASH_ENTER, &found);
	if (!found || !FullTransactionIdEquals(entry->fxid, fxid))
	{
		entry->fxid = fxid;
		entry->count = 0;
	}
	entry->count++;

	if (entry->count > queue->per_tx_limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("queue \"%s\" allows at most %d events per transaction",
						queue_name, queue->per_tx_limit),
				 errdetail("The limit is set in pgq.queue.queue_per_tx_limit.")));
}

/*
 * The insert below fills columns by position, so make sure the table still
 * has the event-template layout before writing into it.
 */
static void
check_event_table_layout(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	int			i;

	for (i = 0; i < EVENT_NATTS && i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (att->attisdropped || strcmp(NameStr(att->attname), event_columns[i]) != 0)
			break;
	}
	if (i != EVENT_NATTS || desc->natts != EVENT_NATTS)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("event table \"%s\" does not have the columns of pgq.event_template",
						RelationGetRelationName(rel))));
}

/*
 * Insert one row through the executor, so that indexes, constraints and
 * triggers on the event table behave as for an INSERT statement.
 */
static void
store_event(Relation rel, Datum *values, bool *nulls)
{
	EState	   *estate;
	RangeTblEntry *rte;
	ResultRelInfo *result_rel;
	TupleTableSlot *slot;
	bool		has_triggers = (rel->trigdesc != NULL);

	estate = CreateExecutorState();

	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(rel);
	rte->relkind = rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
	ExecInitRangeTable(estate, list_make1(rte));

	result_rel = makeNode(ResultRelInfo);
	InitResultRelInfo(result_rel, rel, 1, NULL, 0);
	estate->es_output_cid = GetCurrentCommandId(true);

	if (has_triggers)
		AfterTriggerBeginQuery();
	ExecOpenIndices(result_rel, false);

	slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel), &TTSOpsVirtual);
	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, EVENT_NATTS * sizeof(Datum));
	memcpy(slot->tts_isnull, nulls, EVENT_NATTS * sizeof(bool));
	ExecStoreVirtualTuple(slot);

	ExecSimpleRelationInsert(result_rel, estate, slot);

	ExecCloseIndices(result_rel);
	if (has_triggers)
		AfterTriggerEndQuery(estate);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
}

/*
 * Insert one event into the named queue and return its id.
 */
static int64
insert_event(const char *queue_name, EventArgs *args)
{
	PgqQueueRow queue;
	Oid			seq_relid;
	int64		next_id;
	Oid			table_relid;
	Relation	rel;
	FullTransactionId fxid;
	AclResult	aclresult;
	Datum		values[EVENT_NATTS];
	bool		nulls[EVENT_NATTS];

	PreventCommandIfReadOnly("pgq.insert_event()");
	PreventCommandIfParallelMode("pgq.insert_event()");

	read_target_queue(queue_name, &queue);

	if (!target.oids_valid || target.queue_name == NULL)
	{
		target.seq_relid = pgq_resolve_name(queue.event_seq, false);
		target.table_relid = pgq_resolve_name(psprintf("%s_%d", queue.data_pfx,
													   queue.cur_table), false);
		target.oids_valid = (target.queue_name != NULL);
	}
	seq_relid = target.seq_relid;
	table_relid = target.table_relid;

	/*
	 * The event table is locked before the sequence is touched: drop_queue
	 * drops the tables first, so the other order could deadlock with it.
	 * Once we have the lock, a queue dropped meanwhile shows as a missing
	 * table.
	 */
	rel = try_table_open(table_relid, RowExclusiveLock);
	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", queue_name),
				 errdetail("The queue was dropped while the event was being inserted.")));

	next_id = nextval_internal(seq_relid, true);

	check_insert_allowed(queue_name, &queue);

	fxid = GetTopFullTransactionId();
	if (queue.has_per_tx_limit)
		check_per_tx_limit(queue_name, &queue, fxid);

	aclresult = pg_class_aclcheck(table_relid, GetUserId(), ACL_INSERT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_TABLE, RelationGetRelationName(rel));
	check_event_table_layout(rel);

	values[0] = Int64GetDatum(args->id_given ? args->ev_id : next_id);
	nulls[0] = false;
	values[1] = TimestampTzGetDatum(args->time_given ? args->ev_time
									: GetCurrentTransactionStartTimestamp());
	nulls[1] = false;
	values[2] = Int64GetDatum((int64) U64FromFullTransactionId(fxid));
	nulls[2] = false;
	values[3] = Int32GetDatum(args->ev_owner);
	nulls[3] = !args->owner_given;
	values[4] = Int32GetDatum(args->ev_retry);
	nulls[4] = !args->retry_given;
	memcpy(&values[5], args->text_values, sizeof(args->text_values));
	memcpy(&nulls[5], args->text_nulls, sizeof(args->text_nulls));

	store_event(rel, values, nulls);
	table_close(rel, NoLock);

	/* let the in-server ticker know at commit (wakeup.c) */
	pgq_wakeup_note_event(queue.queue_id);

	return DatumGetInt64(values[0]);
}

/*
 * Copy the six text arguments starting at argument number "first".
 */
static void
collect_text_args(FunctionCallInfo fcinfo, int first, EventArgs *args)
{
	int			i;

	for (i = 0; i < 6; i++)
	{
		args->text_nulls[i] = PG_ARGISNULL(first + i);
		args->text_values[i] = args->text_nulls[i] ? (Datum) 0 : PG_GETARG_DATUM(first + i);
	}
}

static char *
queue_name_arg(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("queue name must not be null")));
	return text_to_cstring(PG_GETARG_TEXT_PP(0));
}

/*
 * pgq.insert_event_raw(queue_name, ev_id, ev_time, ev_owner, ev_retry,
 *						ev_type, ev_data, ev_extra1 .. ev_extra4)
 *
 * NULL ev_id takes the next id of the queue's sequence, NULL ev_time the
 * transaction start time.
 */
Datum
pgq_insert_event_raw(PG_FUNCTION_ARGS)
{
	char	   *queue_name = queue_name_arg(fcinfo);
	EventArgs	args;

	args.id_given = !PG_ARGISNULL(1);
	args.ev_id = args.id_given ? PG_GETARG_INT64(1) : 0;
	args.time_given = !PG_ARGISNULL(2);
	args.ev_time = args.time_given ? PG_GETARG_TIMESTAMPTZ(2) : 0;
	args.owner_given = !PG_ARGISNULL(3);
	args.ev_owner = args.owner_given ? PG_GETARG_INT32(3) : 0;
	args.retry_given = !PG_ARGISNULL(4);
	args.ev_retry = args.retry_given ? PG_GETARG_INT32(4) : 0;
	collect_text_args(fcinfo, 5, &args);

	PG_RETURN_INT64(insert_event(queue_name, &args));
}

/*
 * pgq.insert_event(queue_name, ev_type, ev_data, ev_extra1 .. ev_extra4)
 *
 * The producer entry point; security definer, so that members of
 * pgq_writer can insert without privileges on the event tables.
 */
Datum
pgq_insert_event(PG_FUNCTION_ARGS)
{
	char	   *queue_name = queue_name_arg(fcinfo);
	EventArgs	args;

	args.id_given = false;
	args.ev_id = 0;
	args.time_given = false;
	args.ev_time = 0;
	args.owner_given = false;
	args.ev_owner = 0;
	args.retry_given = false;
	args.ev_retry = 0;
	collect_text_args(fcinfo, 1, &args);

	PG_RETURN_INT64(insert_event(queue_name, &args));
}

/*
 * pgq.current_event_table(queue_name)
 *
 * The event table that direct writers (COPY or INSERT by bulk clients and
 * cascade workers) should use in this transaction, as an unquoted
 * "schema.table".  The queue row is read the way an insert reads it, so
 * the answer stays right for the rest of the transaction even if a
 * rotation happens meanwhile, and a REPEATABLE READ caller gets the table
 * that is current now, not the one its snapshot shows.
 */
Datum
pgq_current_event_table(PG_FUNCTION_ARGS)
{
	char	   *queue_name = queue_name_arg(fcinfo);
	PgqQueueRow queue;

	read_target_queue(queue_name, &queue);
	check_insert_allowed(queue_name, &queue);

	PG_RETURN_TEXT_P(cstring_to_text(psprintf("%s_%d", queue.data_pfx,
											  queue.cur_table)));
}
