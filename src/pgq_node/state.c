/*-------------------------------------------------------------------------
 *
 * state.c
 *	  pgq_node.get_consumer_state(): what a cascaded consumer reads from its
 *	  target node before every batch.
 *
 * It is the most frequent call of a cascade (every consumer, every round
 * of its loop, busy or idle).  Written in PL/pgSQL it came out slower than
 * pgq_node 3.5 (bench/pgq_node.sh), the cost of the pinned search_path of
 * a security definer function eating what the single join saved.  Here it
 * fetches its three rows through the tables' primary keys, with the
 * calling statement's snapshot, as one SQL statement would.
 *
 * Columns are found by name, so the tables of a database updated from 3.5
 * work as well as fresh ones.
 *
 * src/pgq_node/state.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "catalog/namespace.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

PG_FUNCTION_INFO_V1(pgq_node_get_consumer_state);

/* The row of one pgq_node table found by its primary key. */
typedef struct NodeRow
{
	Relation	rel;
	HeapTuple	tuple;			/* NULL when there is none */
} NodeRow;

/*
 * Find the row of pgq_node.<table> whose primary key columns key_columns
 * hold the text values keys (nkeys of them, at most two), as the active
 * snapshot sees it.  The caller closes the table (keeping its lock until
 * the end of the transaction, like any table a query reads).
 */
static NodeRow
fetch_by_key(const char *table, int nkeys, const char *const *key_columns,
			 const Datum *keys)
{
	NodeRow		row;
	Oid			relid;
	Oid			pkey;
	ScanKeyData skey[2];
	SysScanDesc scan;
	HeapTuple	tuple;

	Assert(nkeys <= 2);
	relid = get_relname_relid(table, get_namespace_oid("pgq_node", false));
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"pgq_node.%s\" does not exist", table)));
	row.rel = table_open(relid, AccessShareLock);

	for (int i = 0; i < nkeys; i++)
	{
		AttrNumber	attnum = get_attnum(relid, key_columns[i]);

		if (attnum == InvalidAttrNumber)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"pgq_node.%s\" does not exist",
							key_columns[i], table)));
		ScanKeyEntryInitialize(&skey[i], 0, attnum, BTEqualStrategyNumber,
							   InvalidOid,
							   TupleDescAttr(RelationGetDescr(row.rel), attnum - 1)->attcollation,
							   F_TEXTEQ, keys[i]);
	}

	/* without its primary key (dropped by hand) the table is scanned */
	pkey = RelationGetPrimaryKeyIndex(row.rel);
	scan = systable_beginscan(row.rel, pkey, OidIsValid(pkey),
							  GetActiveSnapshot(), nkeys, skey);
	tuple = systable_getnext(scan);
	row.tuple = HeapTupleIsValid(tuple) ? heap_copytuple(tuple) : NULL;
	systable_endscan(scan);
	return row;
}

/* Column "name" of a row fetched by fetch_by_key. */
static Datum
row_column(NodeRow row, const char *name, bool *isnull)
{
	AttrNumber	attnum = get_attnum(RelationGetRelid(row.rel), name);

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of relation \"pgq_node.%s\" does not exist",
						name, RelationGetRelationName(row.rel))));
	return heap_getattr(row.tuple, attnum, RelationGetDescr(row.rel), isnull);
}

/* "prefix<queue>/<name>", NULL when name is NULL, as || would give. */
static Datum
queue_slash(const char *prefix, Datum queue, Datum name, bool name_null,
			bool *isnull)
{
	*isnull = name_null;
	if (name_null)
		return (Datum) 0;
	return CStringGetTextDatum(psprintf("%s%s/%s", prefix,
										TextDatumGetCString(queue),
										TextDatumGetCString(name)));
}

/*
 * pgq_node.get_consumer_state(i_queue_name text, i_consumer_name text)
 *		-> (ret_code, ret_note, node_type, node_name, completed_tick,
 *			provider_node, provider_location, paused, uptodate, cur_error)
 *
 * 404 when the queue has no node here, the consumer is not registered on
 * it, or its provider's location is unknown; the columns found so far are
 * filled in even then, as in 3.5.  Not strict: NULL arguments find nothing
 * and give a NULL ret_note, as concatenation did in 3.5.
 */
Datum
pgq_node_get_consumer_state(PG_FUNCTION_ARGS)
{
	enum
	{
		COL_RET_CODE,
		COL_RET_NOTE,
		COL_NODE_TYPE,
		COL_NODE_NAME,
		COL_COMPLETED_TICK,
		COL_PROVIDER_NODE,
		COL_PROVIDER_LOCATION,
		COL_PAUSED,
		COL_UPTODATE,
		COL_CUR_ERROR,
		NUM_COLS
	};
	static const char *const node_key[] = {"queue_name"};
	static const char *const consumer_key[] = {"queue_name", "consumer_name"};
	static const char *const location_key[] = {"queue_name", "node_name"};
	TupleDesc	result_desc;
	Datum		values[NUM_COLS];
	bool		nulls[NUM_COLS];
	Datum		queue = PG_GETARG_DATUM(0);
	Datum		consumer = PG_GETARG_DATUM(1);
	bool		consumer_null = PG_ARGISNULL(1);
	NodeRow		rows[3];
	int			nrows = 0;
	Datum		keys[2];

	if (get_call_result_type(fcinfo, NULL, &result_desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	for (int i = 0; i < NUM_COLS; i++)
		nulls[i] = true;
	values[COL_RET_CODE] = Int32GetDatum(404);
	nulls[COL_RET_CODE] = false;

	if (PG_ARGISNULL(0))
		goto done;				/* no node, and a NULL ret_note */
	keys[0] = queue;
	rows[nrows] = fetch_by_key("node_info", 1, node_key, keys);
	if (rows[nrows++].tuple == NULL)
	{
		values[COL_RET_NOTE] =
			CStringGetTextDatum(psprintf("Unknown queue: %s",
										 TextDatumGetCString(queue)));
		nulls[COL_RET_NOTE] = false;
		goto done;
	}
	values[COL_NODE_TYPE] = row_column(rows[0], "node_type", &nulls[COL_NODE_TYPE]);
	values[COL_NODE_NAME] = row_column(rows[0], "node_name", &nulls[COL_NODE_NAME]);

	if (!consumer_null)
	{
		keys[1] = consumer;
		rows[nrows++] = fetch_by_key("local_state", 2, consumer_key, keys);
	}
	if (consumer_null || rows[1].tuple == NULL)
	{
		values[COL_RET_NOTE] = queue_slash("Unknown consumer: ", queue,
										   consumer, consumer_null,
										   &nulls[COL_RET_NOTE]);
		goto done;
	}
	values[COL_COMPLETED_TICK] = row_column(rows[1], "last_tick_id", &nulls[COL_COMPLETED_TICK]);
	values[COL_PROVIDER_NODE] = row_column(rows[1], "provider_node", &nulls[COL_PROVIDER_NODE]);
	values[COL_PAUSED] = row_column(rows[1], "paused", &nulls[COL_PAUSED]);
	values[COL_UPTODATE] = row_column(rows[1], "uptodate", &nulls[COL_UPTODATE]);
	values[COL_CUR_ERROR] = row_column(rows[1], "cur_error", &nulls[COL_CUR_ERROR]);

	keys[1] = values[COL_PROVIDER_NODE];
	rows[nrows] = fetch_by_key("node_location", 2, location_key, keys);
	if (rows[nrows++].tuple == NULL)
	{
		values[COL_RET_NOTE] = queue_slash("Unknown provider node: ", queue,
										   values[COL_PROVIDER_NODE], false,
										   &nulls[COL_RET_NOTE]);
		goto done;
	}
	values[COL_PROVIDER_LOCATION] = row_column(rows[2], "node_location",
											   &nulls[COL_PROVIDER_LOCATION]);
	values[COL_RET_CODE] = Int32GetDatum(100);
	values[COL_RET_NOTE] = CStringGetTextDatum("Ok");
	nulls[COL_RET_NOTE] = false;

done:
	/* the locks stay until the end of the transaction */
	for (int i = 0; i < nrows; i++)
		table_close(rows[i].rel, NoLock);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(result_desc, values, nulls)));
}
