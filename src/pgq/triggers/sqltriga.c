/*-------------------------------------------------------------------------
 *
 * sqltriga.c
 *	  pgq.sqltriga(): row changes as fragments of SQL.
 *
 * ev_type is "I", "U", "D" or "R"; ev_data is the part of the statement
 * after the table name, which londiste completes and runs:
 *
 *	 INSERT   (a,b) values ('1',null)
 *	 UPDATE   b='2',c=NULL where a='1'        (changed columns only)
 *	 DELETE   a='1' and d='x'
 *
 * Names are quoted only where quote_ident() would quote them; every value
 * is a string literal of its text output, E'' form when it contains a
 * backslash, so the fragment means the same whatever
 * standard_conforming_strings the receiver runs with.  Key columns come in
 * table order.  An UPDATE that changed nothing still needs a SET list:
 * the first key column set to its own value.
 *
 * src/pgq/triggers/sqltriga.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "triggers.h"

PG_FUNCTION_INFO_V1(pgq_sqltriga);

static void sqltriga_encode(PgqEvent *ev);

static const PgqTriggerKind sqltriga_kind = {
	.funcname = "pgq.sqltriga",
	.ignore_magic_always = true,
	.encode = sqltriga_encode,
	.encode_row = pgq_urlencode_row,
};

/* Append a value as a SQL string literal, like quote_literal() */
static void
append_literal(StringInfo buf, const char *str)
{
	const char *p;

	if (strchr(str, '\\') != NULL)
		appendStringInfoChar(buf, 'E');
	appendStringInfoChar(buf, '\'');
	for (p = str; *p; p++)
	{
		if (*p == '\'' || *p == '\\')
			appendStringInfoChar(buf, *p);
		appendStringInfoChar(buf, *p);
	}
	appendStringInfoChar(buf, '\'');
}

/* Text of a key value; a NULL key cannot identify a row */
static char *
key_text(PgqEvent *ev, int i, Datum *values, bool *nulls)
{
	PgqColumn  *col = &ev->table->columns[i];

	if (nulls[i])
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("unexpected NULL key value"),
				 errdetail("Key column \"%s\" of table \"%s\" is NULL.",
						   col->name, ev->table->full_name)));
	return pgq_column_text(col, values[i]);
}

/* Append "key=value" for every key column, joined by " and " */
static void
append_key_condition(StringInfo buf, PgqEvent *ev, Datum *values, bool *nulls)
{
	bool		first = true;
	int			i;

	for (i = 0; i < ev->table->natts; i++)
	{
		if (!ev->trig->is_key[i])
			continue;
		if (!first)
			appendStringInfoString(buf, " and ");
		first = false;
		appendStringInfo(buf, "%s=", ev->table->columns[i].sql_name);
		append_literal(buf, key_text(ev, i, values, nulls));
	}
}

static void
encode_insert(StringInfo buf, PgqEvent *ev)
{
	StringInfoData vals;
	bool		first = true;
	int			i;

	initStringInfo(&vals);
	appendStringInfoChar(buf, '(');
	for (i = 0; i < ev->table->natts; i++)
	{
		PgqColumn  *col = &ev->table->columns[i];

		if (!pgq_column_wanted(ev, i))
			continue;
		if (!first)
		{
			appendStringInfoChar(buf, ',');
			appendStringInfoChar(&vals, ',');
		}
		first = false;
		appendStringInfoString(buf, col->sql_name);
		if (ev->nulls[i])
			appendStringInfoString(&vals, "null");
		else
			append_literal(&vals, pgq_column_text(col, ev->values[i]));
	}
	appendStringInfo(buf, ") values (%s)", vals.data);
}

static void
encode_update(StringInfo buf, PgqEvent *ev)
{
	bool		first = true;
	int			i;

	if (ev->any_changed)
	{
		for (i = 0; i < ev->table->natts; i++)
		{
			PgqColumn  *col = &ev->table->columns[i];

			if (!ev->changed[i] || !pgq_column_wanted(ev, i))
				continue;
			if (!first)
				appendStringInfoChar(buf, ',');
			first = false;
			appendStringInfo(buf, "%s=", col->sql_name);
			if (ev->nulls[i])
				appendStringInfoString(buf, "NULL");
			else
				append_literal(buf, pgq_column_text(col, ev->values[i]));
		}
	}
	else
	{
		/* nothing changed: a harmless SET of the first key column */
		for (i = 0; !ev->trig->is_key[i]; i++)
			;
		appendStringInfo(buf, "%s=", ev->table->columns[i].sql_name);
		append_literal(buf, key_text(ev, i, ev->old_values, ev->old_nulls));
	}
	appendStringInfoString(buf, " where ");
	append_key_condition(buf, ev, ev->old_values, ev->old_nulls);
}

static void
sqltriga_encode(PgqEvent *ev)
{
	StringInfoData buf;

	initStringInfo(&buf);
	switch (ev->op)
	{
		case 'I':
			encode_insert(&buf, ev);
			break;
		case 'U':
			encode_update(&buf, ev);
			break;
		case 'D':
			append_key_condition(&buf, ev, ev->values, ev->nulls);
			break;
		default:
			/* TRUNCATE: no data */
			break;
	}
	ev->fields[PGQ_EV_TYPE] = psprintf("%c", ev->op);
	ev->fields[PGQ_EV_DATA] = buf.data;
}

/*
 * pgq.sqltriga(queue_name [, argument ...]) - trigger function
 */
Datum
pgq_sqltriga(PG_FUNCTION_ARGS)
{
	return pgq_trigger_main(fcinfo, &sqltriga_kind);
}
