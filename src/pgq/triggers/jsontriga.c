/*-------------------------------------------------------------------------
 *
 * jsontriga.c
 *	  pgq.jsontriga(): rows as JSON objects.
 *
 * ev_type is a JSON object naming the operation, the table and its key
 * ({"op":"INSERT","table":["s","t"],"pkey":["id"]}); ev_data is the row
 * as one JSON object in column order.  Booleans and integers become JSON
 * literals; date, timestamp and timestamptz the ISO strings to_json()
 * writes; every other value the JSON string of its text output - json and
 * jsonb included, so that the receiver gets the stored text back exactly.
 * No white space anywhere.
 *
 * src/pgq/triggers/jsontriga.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/datetime.h"
#include "utils/json.h"

#include "triggers.h"

PG_FUNCTION_INFO_V1(pgq_jsontriga);

static void json_encode_row(StringInfo buf, PgqEvent *ev, Datum *values, bool *nulls);
static void jsontriga_encode(PgqEvent *ev);

static const PgqTriggerKind jsontriga_kind = {
	.funcname = "pgq.jsontriga",
	.ignore_magic_always = false,
	.encode = jsontriga_encode,
	.encode_row = json_encode_row,
};

/* Append the wanted columns of a row as a JSON object */
static void
json_encode_row(StringInfo buf, PgqEvent *ev, Datum *values, bool *nulls)
{
	bool		first = true;
	int			i;

	appendStringInfoChar(buf, '{');
	for (i = 0; i < ev->table->natts; i++)
	{
		PgqColumn  *col = &ev->table->columns[i];
		char		dtbuf[MAXDATELEN + 1];

		if (!pgq_column_wanted(ev, i))
			continue;
		if (!first)
			appendStringInfoChar(buf, ',');
		first = false;
		appendStringInfoString(buf, col->json_name);
		appendStringInfoChar(buf, ':');

		if (nulls[i])
		{
			appendStringInfoString(buf, "null");
			continue;
		}
		switch (col->json_kind)
		{
			case PGQ_JSON_BOOL:
				appendStringInfoString(buf, DatumGetBool(values[i]) ? "true" : "false");
				break;
			case PGQ_JSON_NUMBER:
				appendStringInfoString(buf, pgq_column_text(col, values[i]));
				break;
			case PGQ_JSON_DATETIME:
				appendStringInfoChar(buf, '"');
				appendStringInfoString(buf, JsonEncodeDateTime(dtbuf, values[i],
															   col->typid, NULL));
				appendStringInfoChar(buf, '"');
				break;
			case PGQ_JSON_STRING:
				escape_json(buf, pgq_column_text(col, values[i]));
				break;
		}
	}
	appendStringInfoChar(buf, '}');
}

static void
jsontriga_encode(PgqEvent *ev)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "{\"op\":\"%s\"%s", ev->op_name, ev->trig->json_tail);
	ev->fields[PGQ_EV_TYPE] = buf.data;

	if (ev->op == 'R')
		ev->fields[PGQ_EV_DATA] = "{}";
	else
	{
		initStringInfo(&buf);
		json_encode_row(&buf, ev, ev->values, ev->nulls);
		ev->fields[PGQ_EV_DATA] = buf.data;
	}
}

/*
 * pgq.jsontriga(queue_name [, argument ...]) - trigger function
 */
Datum
pgq_jsontriga(PG_FUNCTION_ARGS)
{
	return pgq_trigger_main(fcinfo, &jsontriga_kind);
}
