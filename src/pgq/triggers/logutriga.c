/*-------------------------------------------------------------------------
 *
 * logutriga.c
 *	  pgq.logutriga(): rows as urlencoded name=value pairs.
 *
 * ev_type is the operation letter and the key column list ("I:id"),
 * ev_data the row as name=value pairs joined by "&".  Names and values are
 * encoded byte by byte so that the receiver gets the server-encoding bytes
 * back unchanged: letters, digits and "_.-" stay, a space becomes "+",
 * every other byte becomes "%" and two lower-case hex digits.  A NULL is
 * the bare name, an empty string "name=".  sqltriga's backup copy of the
 * old row uses the same encoding.
 *
 * src/pgq/triggers/logutriga.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/memutils.h"

#include "triggers.h"

PG_FUNCTION_INFO_V1(pgq_logutriga);

static void logutriga_encode(PgqEvent *ev);

static const PgqTriggerKind logutriga_kind = {
	.funcname = "pgq.logutriga",
	.ignore_magic_always = false,
	.encode = logutriga_encode,
	.encode_row = pgq_urlencode_row,
};

/*
 * Append str urlencoded.  Room for the worst case (every byte escaped) is
 * made once, so the loop writes into the buffer directly.
 */
void
pgq_urlencode(StringInfo buf, const char *str)
{
	static const char hex[] = "0123456789abcdef";
	size_t		len = strlen(str);
	const unsigned char *p;
	char	   *out;

	if (len > (MaxAllocSize - buf->len) / 3)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("urlencoded row is too long")));
	enlargeStringInfo(buf, len * 3);
	out = buf->data + buf->len;
	for (p = (const unsigned char *) str; *p; p++)
	{
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-')
			*out++ = (char) *p;
		else if (*p == ' ')
			*out++ = '+';
		else
		{
			*out++ = '%';
			*out++ = hex[*p >> 4];
			*out++ = hex[*p & 0x0f];
		}
	}
	buf->len = out - buf->data;
	*out = '\0';
}

/* Append the wanted columns of a row as name=value pairs */
void
pgq_urlencode_row(StringInfo buf, PgqEvent *ev, Datum *values, bool *nulls)
{
	bool		first = true;
	int			i;

	for (i = 0; i < ev->table->natts; i++)
	{
		PgqColumn  *col = &ev->table->columns[i];

		if (!pgq_column_wanted(ev, i))
			continue;
		if (!first)
			appendStringInfoChar(buf, '&');
		first = false;
		appendStringInfoString(buf, col->url_name);
		if (!nulls[i])
		{
			appendStringInfoChar(buf, '=');
			pgq_urlencode(buf, pgq_column_text(col, values[i]));
		}
	}
}

static void
logutriga_encode(PgqEvent *ev)
{
	StringInfoData buf;

	if (ev->op == 'R')
	{
		ev->fields[PGQ_EV_TYPE] = "R";
		ev->fields[PGQ_EV_DATA] = "";
		return;
	}
	ev->fields[PGQ_EV_TYPE] = psprintf("%c:%s", ev->op, ev->trig->key_list);
	initStringInfo(&buf);
	pgq_urlencode_row(&buf, ev, ev->values, ev->nulls);
	ev->fields[PGQ_EV_DATA] = buf.data;
}

/*
 * pgq.logutriga(queue_name [, argument ...]) - trigger function
 */
Datum
pgq_logutriga(PG_FUNCTION_ARGS)
{
	return pgq_trigger_main(fcinfo, &logutriga_kind);
}
