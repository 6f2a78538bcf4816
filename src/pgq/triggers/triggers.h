/*-------------------------------------------------------------------------
 *
 * triggers.h
 *	  Declarations shared by the change-capture triggers pgq.logutriga,
 *	  pgq.sqltriga and pgq.jsontriga.
 *
 * The three functions differ only in how they spell an event; everything
 * else - trigger arguments, the per-table and per-trigger caches, deciding
 * whether a row change produces an event, magic columns, expressions and
 * handing the event to pgq.insert_event - is in common.c.  Each encoder
 * file adds one PgqTriggerKind describing its encodings.
 *
 * src/pgq/triggers/triggers.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGQ_TRIGGERS_H
#define PGQ_TRIGGERS_H

#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"

/* Event fields a trigger fills, in pgq.insert_event argument order */
typedef enum PgqEventField
{
	PGQ_EV_TYPE,
	PGQ_EV_DATA,
	PGQ_EV_EXTRA1,
	PGQ_EV_EXTRA2,
	PGQ_EV_EXTRA3,
	PGQ_EV_EXTRA4,
	PGQ_EV_NFIELDS
} PgqEventField;

/* How jsontriga writes a column's values */
typedef enum PgqJsonKind
{
	PGQ_JSON_STRING,			/* JSON string of the text output */
	PGQ_JSON_BOOL,				/* true / false */
	PGQ_JSON_NUMBER,			/* text output, unquoted */
	PGQ_JSON_DATETIME			/* ISO form, as to_json() writes it */
} PgqJsonKind;

/* One attribute of a table, with everything the encoders need */
typedef struct PgqColumn
{
	char	   *name;			/* attname as stored */
	char	   *sql_name;		/* quoted like quote_ident() when needed */
	char	   *url_name;		/* urlencoded */
	char	   *json_name;		/* JSON string literal, quotes included */
	Oid			typid;			/* declared type (may be a domain) */
	int16		typlen;
	bool		typbyval;
	bool		encoded;		/* false: dropped, generated or magic */
	int			magic_field;	/* PgqEventField set by a magic column, or -1 */
	bool		in_pkey;		/* part of the table's primary key */
	PgqJsonKind json_kind;
	FmgrInfo	output;			/* type output function */
	bool		compare_text;	/* no usable equality: compare text output */
	FmgrInfo	equal;			/* equality function otherwise */
	Oid			collation;		/* collation passed to "equal" */
} PgqColumn;

/* A when= or ev_*= expression, prepared as "SELECT <expr>" */
typedef struct PgqExpr
{
	const char *argument;		/* the trigger argument, for messages */
	SPIPlanPtr	plan;
	int			nparams;
	AttrNumber *param_attnums;	/* column behind each $n */
} PgqExpr;

/* The parsed arguments of one trigger on the table */
typedef struct PgqTriggerInfo
{
	struct PgqTriggerInfo *next;
	Oid			tgoid;
	MemoryContext ctx;			/* holds this struct and its strings */
	Datum		queue_name;		/* text */
	bool		skip;
	bool		backup;
	bool		deny;
	bool		has_ignore;		/* ignore= given */
	char	   *ignore_list;	/* its text */
	bool		has_pkey_arg;	/* pkey= given */
	char	   *pkey_list;		/* its text */
	bool	   *ignored;		/* per column: listed in ignore= */
	bool	   *is_key;			/* per column: part of the key */
	int			nkeys;
	char	   *key_list;		/* logutriga: "id,b" or the pkey= text */
	char	   *json_tail;		/* jsontriga: ,"table":[..],"pkey":[..]} */
	bool		has_exprs;		/* when= or any ev_*= given */
	PgqExpr    *when;
	PgqExpr    *override[PGQ_EV_NFIELDS];
} PgqTriggerInfo;

/* What a backend knows about a table that has pgq triggers */
typedef struct PgqTableInfo
{
	Oid			relid;
	bool		valid;			/* cleared by relcache invalidation */
	MemoryContext ctx;			/* holds everything below */
	char	   *schema_name;
	char	   *table_name;
	char	   *full_name;		/* "schema.table", never quoted */
	int			natts;
	PgqColumn  *columns;
	int			npkey;
	AttrNumber *pkey_attnums;	/* primary key, index column order */
	PgqTriggerInfo *triggers;
} PgqTableInfo;

/* One firing of a trigger: the input and the event being built */
typedef struct PgqEvent
{
	TriggerData *tgdata;
	PgqTableInfo *table;
	PgqTriggerInfo *trig;
	char		op;				/* 'I', 'U', 'D' or 'R' (truncate) */
	const char *op_name;		/* "INSERT", ... */
	Datum	   *values;			/* the row the event describes: NEW, or */
	bool	   *nulls;			/* OLD for DELETE */
	Datum	   *old_values;		/* UPDATE only */
	bool	   *old_nulls;
	bool	   *changed;		/* UPDATE: per column, value changed */
	bool		any_changed;	/* UPDATE: a column outside ignore= changed */
	char	   *fields[PGQ_EV_NFIELDS]; /* NULL = SQL NULL */
} PgqEvent;

/* What distinguishes the three trigger functions */
typedef struct PgqTriggerKind
{
	const char *funcname;		/* for messages */

	/*
	 * sqltriga drops an UPDATE that changed only ignored or magic columns
	 * even without ignore=; the others apply that rule only with ignore=.
	 */
	bool		ignore_magic_always;

	/* set fields[PGQ_EV_TYPE] and fields[PGQ_EV_DATA] */
	void		(*encode) (PgqEvent *ev);

	/* append a row in the encoding "backup" uses */
	void		(*encode_row) (StringInfo buf, PgqEvent *ev,
							   Datum *values, bool *nulls);
} PgqTriggerKind;

/* common.c */
extern Datum pgq_trigger_main(FunctionCallInfo fcinfo, const PgqTriggerKind *kind);
extern char *pgq_column_text(PgqColumn *col, Datum value);

/* logutriga.c: urlencoding, also used for column names and by sqltriga */
extern void pgq_urlencode(StringInfo buf, const char *str);
extern void pgq_urlencode_row(StringInfo buf, PgqEvent *ev,
							  Datum *values, bool *nulls);

/*
 * Whether column i goes into ev_data and backups: not dropped, generated
 * or magic, and not listed in ignore=.
 */
static inline bool
pgq_column_wanted(PgqEvent *ev, int i)
{
	return ev->table->columns[i].encoded && !ev->trig->ignored[i];
}

#endif							/* PGQ_TRIGGERS_H */
