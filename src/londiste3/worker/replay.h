/*-------------------------------------------------------------------------
 *
 * replay.h
 *	  Row events as SQL: what the built-in handler applies for the events
 *	  of pgq.sqltriga (I/U/D), pgq.logutriga (I:pk, U:pk, D:pk) and
 *	  pgq.jsontriga ({"op":...}), and the quoting that goes with it.
 *	  Other handlers may build on it.
 *
 * src/londiste3/worker/replay.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LONDISTE_REPLAY_H
#define LONDISTE_REPLAY_H

#include "libpgq.h"
#include "pqexpbuffer.h"

/* a row event (I, U, D, I:.., U:.., D:.., {"..)? */
extern bool ld_is_row_event(const PgqEvent *ev);

/*
 * A row event's operation ('I', 'U' or 'D'), its key columns and its row.
 * For sqltriga events *row is NULL and sql_fragment holds ev_data.
 */
typedef struct LdRowEvent
{
	char		op;
	int			npkeys;
	char	  **pkeys;
	PgqDict    *row;			/* column -> value text (NULL = SQL NULL) */
	const char *sql_fragment;
	char	   *fixed_fragment;	/* sql_fragment with UTF-8 fixed, owned */
} LdRowEvent;

/*
 * Parse a row event.  fix_utf8 replaces invalid UTF-8 in the values (the
 * built-in handler's encoding=utf8); fixed columns are logged.  False
 * with *errmsg set (palloc'd) for an event that does not parse.
 */
extern bool ld_row_event_parse(const PgqEvent *ev, bool fix_utf8,
							   LdRowEvent *out, char **errmsg);
extern void ld_row_event_free(LdRowEvent *rev);

/*
 * The statement that applies a sqltriga event (one with sql_fragment) to
 * dest_table (a fq name), ended with ';'.
 */
extern void ld_row_event_fragment_sql(const LdRowEvent *rev,
									  const char *dest_table, PQExpBuffer sql);

/* is col one of the event's key columns? */
extern bool ld_row_event_is_key(const LdRowEvent *rev, const char *col);

/*
 * The statement that applies any other row event, with $n parameters (no
 * ';'): an update sets the columns that are not keys; *values (pg_malloc'd, free it also on failure) gets the
 * *nvalues parameter values, pointing into rev.  Statements of events of
 * one table, operation and column set are the same text.
 */
extern bool ld_row_event_prepared(const LdRowEvent *rev, const char *dest_table,
								  PQExpBuffer sql, const char ***values,
								  int *nvalues, char **errmsg);

/* SQL text helpers: "a"."b" for a fq name, "col", 'lit' / E'lit' / null */
extern void ld_append_quoted_fqname(PQExpBuffer buf, const char *fqname);
extern void ld_append_quoted_ident(PQExpBuffer buf, const char *ident);
extern void ld_append_literal(PQExpBuffer buf, const char *value);

/* invalid UTF-8 sequences replaced with U+FFFD; NULL if the text is valid */
extern char *ld_utf8_fix(const char *text);

#endif							/* LONDISTE_REPLAY_H */
