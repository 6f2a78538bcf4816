/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  Module entry point and helpers shared by the C parts of pgq: finding a
 *	  queue row without SQL, resolving the object names stored in pgq.queue,
 *	  reading event sequences and preparing SPI plans once per backend.
 *
 * pgq.queue stores the names of per-queue objects as unquoted
 * "schema.name" text (clients split them on the first dot).  We resolve
 * them the same way pgq.seq_getval() does: split at the first dot, no
 * case folding, schema "public" when there is no dot.
 *
 * The queue lookup is on the event insertion path, so it reads pgq.queue
 * through its unique index on queue_name directly instead of running a
 * query.  The relation and index OIDs are cached and forgotten on any
 * relcache invalidation of pgq.queue, which covers DROP/CREATE EXTENSION.
 *
 * src/pgq/queue.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation_d.h"
#include "commands/trigger.h"
#include "common/int.h"
#include "common/int128.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "parser/parse_relation.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "pgq.h"

PG_MODULE_MAGIC;

/* OIDs of pgq.queue and its queue_name index; InvalidOid = look up again */
static Oid	queue_relid = InvalidOid;
static Oid	queue_name_indexid = InvalidOid;
static bool queue_callback_registered = false;

/* Attribute numbers of the pgq.queue columns the insert path reads */
static AttrNumber att_queue_id;
static AttrNumber att_cur_table;
static AttrNumber att_disable_insert;
static AttrNumber att_per_tx_limit;
static AttrNumber att_data_pfx;
static AttrNumber att_event_seq;

static void queue_relcache_callback(Datum arg, Oid relid);
static void queue_cache_init(void);
static AttrNumber queue_attnum(Relation rel, const char *colname);

/*
 * Forget the cached OIDs when pgq.queue changes shape or disappears.
 * InvalidOid means "all relations" (cache reset).
 */
static void
queue_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == queue_relid)
	{
		queue_relid = InvalidOid;
		queue_name_indexid = InvalidOid;
	}
}

static AttrNumber
queue_attnum(Relation rel, const char *colname)
{
	AttrNumber	attnum = attnameAttNum(rel, colname, false);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("column \"%s\" is missing from table pgq.queue", colname),
				 errhint("Reinstall the pgq extension.")));
	return attnum;
}

/*
 * Find pgq.queue, its queue_name_uq index and the column positions.
 */
static void
queue_cache_init(void)
{
	Oid			nspid;
	Relation	rel;
	Oid			relid;
	Oid			indexid;

	if (!queue_callback_registered)
	{
		CacheRegisterRelcacheCallback(queue_relcache_callback, (Datum) 0);
		queue_callback_registered = true;
	}

	nspid = get_namespace_oid("pgq", true);
	relid = OidIsValid(nspid) ? get_relname_relid("queue", nspid) : InvalidOid;
	indexid = OidIsValid(nspid) ? get_relname_relid("queue_name_uq", nspid) : InvalidOid;
	if (!OidIsValid(relid) || !OidIsValid(indexid))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"pgq\" is not installed in this database")));

	rel = table_open(relid, AccessShareLock);
	att_queue_id = queue_attnum(rel, "queue_id");
	att_cur_table = queue_attnum(rel, "queue_cur_table");
	att_disable_insert = queue_attnum(rel, "queue_disable_insert");
	att_per_tx_limit = queue_attnum(rel, "queue_per_tx_limit");
	att_data_pfx = queue_attnum(rel, "queue_data_pfx");
	att_event_seq = queue_attnum(rel, "queue_event_seq");
	table_close(rel, AccessShareLock);

	queue_name_indexid = indexid;
	queue_relid = relid;
}

/*
 * Read the pgq.queue row of the named queue.  Returns false if there is no
 * such queue.  Strings are palloc'd in the current memory context.
 *
 * The row is read with a fresh snapshot, not the caller's: a REPEATABLE
 * READ producer whose snapshot predates a table rotation must still write
 * into the table that is current now, or its event would land in a table
 * that the batches covering its transaction no longer read.
 */
bool
pgq_lookup_queue(const char *queue_name, PgqQueueRow *row)
{
	Relation	rel;
	Relation	index;
	IndexScanDesc scan;
	ScanKeyData key;
	TupleTableSlot *slot;
	Snapshot	snapshot;
	bool		found;
	text	   *name_text = cstring_to_text(queue_name);

	if (!OidIsValid(queue_relid))
		queue_cache_init();

	rel = table_open(queue_relid, AccessShareLock);
	index = index_open(queue_name_indexid, AccessShareLock);

	ScanKeyEntryInitialize(&key, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   index->rd_indcollation[0], F_TEXTEQ,
						   PointerGetDatum(name_text));

	slot = table_slot_create(rel, NULL);
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	scan = index_beginscan(rel, index, snapshot, 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	if (found)
	{
		bool		isnull;
		Datum		d;

		slot_getallattrs(slot);
		row->queue_id = DatumGetInt32(slot_getattr(slot, att_queue_id, &isnull));
		row->cur_table = DatumGetInt32(slot_getattr(slot, att_cur_table, &isnull));
		row->disable_insert = DatumGetBool(slot_getattr(slot, att_disable_insert, &isnull));
		d = slot_getattr(slot, att_per_tx_limit, &isnull);
		row->has_per_tx_limit = !isnull;
		row->per_tx_limit = isnull ? 0 : DatumGetInt32(d);
		row->data_pfx = TextDatumGetCString(slot_getattr(slot, att_data_pfx, &isnull));
		row->event_seq = TextDatumGetCString(slot_getattr(slot, att_event_seq, &isnull));
	}
	index_endscan(scan);
	UnregisterSnapshot(snapshot);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);

	return found;
}

/*
 * Split a stored "schema.name" at the first dot (the way pgq.seq_getval()
 * reads such names).  Without a dot *schema is NULL and the caller picks
 * the default: "public" for the names pgq.queue holds, the search_path for
 * the function and table names of maintenance.
 */
void
pgq_split_name(const char *qualified_name, char **schema, char **name)
{
	const char *dot = strchr(qualified_name, '.');

	if (dot == NULL)
	{
		*schema = NULL;
		*name = pstrdup(qualified_name);
	}
	else
	{
		*schema = pnstrdup(qualified_name, dot - qualified_name);
		*name = pstrdup(dot + 1);
	}
}

/*
 * Resolve a stored "schema.name" to a relation OID.
 */
Oid
pgq_resolve_name(const char *qualified_name, bool missing_ok)
{
	char	   *schema;
	char	   *name;
	Oid			nspid;
	Oid			relid = InvalidOid;

	pgq_split_name(qualified_name, &schema, &name);
	if (schema == NULL)
		schema = "public";
	nspid = get_namespace_oid(schema, true);
	if (OidIsValid(nspid))
		relid = get_relname_relid(name, nspid);
	if (!OidIsValid(relid) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s\" does not exist", qualified_name),
				 errdetail("The name is stored in pgq.queue and is read as schema \"%s\", relation \"%s\".",
						   schema, name)));
	return relid;
}

/*
 * Quote a stored "schema.name" for use in SQL text.
 */
char *
pgq_quote_name(const char *qualified_name)
{
	char	   *schema;
	char	   *name;

	pgq_split_name(qualified_name, &schema, &name);
	return quote_qualified_identifier(schema ? schema : "public", name);
}

/*
 * How many event ids the queue's sequence has handed out, as the ticker
 * counts them: last_value once nextval has been called, one less before
 * that (quirk Q1 of the contract: a fresh sequence reads 1 either way,
 * which would hide a queue's first event from the max-lag rule).
 *
 * Must be called inside an SPI connection.
 */
int64
pgq_issued_event_ids(const char *event_seq)
{
	char	   *sql;
	int			ret;
	bool		isnull;
	int64		last_value;
	bool		is_called;

	sql = psprintf("SELECT last_value, is_called FROM %s",
				   pgq_quote_name(event_seq));
	ret = SPI_execute(sql, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read sequence %s", event_seq);

	last_value = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));
	is_called = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 2, &isnull));
	pfree(sql);
	return is_called ? last_value : last_value - 1;
}

/*
 * Length of an interval in microseconds, with the same month and day
 * equivalences interval comparison uses, so that our ticker decisions
 * agree with "interval >= interval" in SQL.
 *
 * From about 300,000 years on an interval has more microseconds than an
 * int64 holds.  Such lengths saturate: PG_INT64_MAX for a span too long,
 * PG_INT64_MIN for one too far negative.  Compared with any real time
 * difference they are never reached and always reached respectively,
 * which is what such a setting means; arithmetic on the result must
 * saturate as well.
 */
int64
pgq_interval_usecs(const Interval *span)
{
	INT128		usecs = int64_to_int128(span->time);

	/* as interval_cmp_value() does it, so nothing can overflow here */
	int128_add_int64_mul_int64(&usecs, span->day, USECS_PER_DAY);
	int128_add_int64_mul_int64(&usecs, (int64) span->month * DAYS_PER_MONTH,
							   USECS_PER_DAY);
	if (int128_compare(usecs, int64_to_int128(PG_INT64_MAX)) > 0)
		return PG_INT64_MAX;
	if (int128_compare(usecs, int64_to_int128(PG_INT64_MIN)) < 0)
		return PG_INT64_MIN;
	return int128_to_int64(usecs);
}

/*
 * later - earlier in microseconds, saturating like pgq_interval_usecs().
 * Tick times copied from another queue (external ticks) can be anything,
 * infinite ones included.
 */
int64
pgq_usecs_between(TimestampTz later, TimestampTz earlier)
{
	int64		diff;

	if (pg_sub_s64_overflow(later, earlier, &diff))
		return later > earlier ? PG_INT64_MAX : PG_INT64_MIN;
	return diff;
}

/*
 * 2 * usecs, saturating like pgq_interval_usecs().
 */
int64
pgq_usecs_twice(int64 usecs)
{
	int64		result;

	if (pg_mul_s64_overflow(usecs, 2, &result))
		return usecs > 0 ? PG_INT64_MAX : PG_INT64_MIN;
	return result;
}

/*
 * time + usecs, held at the ends of the timestamp range instead of
 * wrapping, for deadlines computed from saturated settings.
 */
TimestampTz
pgq_time_plus_usecs(TimestampTz time, int64 usecs)
{
	TimestampTz result;

	if (pg_add_s64_overflow(time, usecs, &result))
		return usecs > 0 ? PG_INT64_MAX : PG_INT64_MIN;
	return result;
}

/*
 * Prepare a statement on first use and keep it for the life of the
 * backend.  The plan cache re-plans it when the tables it uses change.
 */
SPIPlanPtr
pgq_prepare_once(SPIPlanPtr *cache, const char *sql, int nargs, Oid *argtypes)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, argtypes);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 sql, SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		*cache = plan;
	}
	return *cache;
}

/*
 * Whether inserts into a queue are allowed now.  Queues with inserts
 * disabled (cascade branches) still accept events written in replica
 * role, which is how replayed events arrive.
 */
bool
pgq_insert_allowed(bool disable_insert)
{
	return !disable_insert || SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA;
}
