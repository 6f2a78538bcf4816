/*-------------------------------------------------------------------------
 *
 * rowsql.h
 *	  What the table handlers share: row events as dicts, SQL text for
 *	  rows, COPY into a table, and the per-key row collapsing of the bulk
 *	  loaders.
 *
 * src/londiste3/handlers/rowsql.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LONDISTE_ROWSQL_H
#define LONDISTE_ROWSQL_H

#include "londiste3/handlers/handler.h"
#include "londiste3/worker/replay.h"
#include "pqexpbuffer.h"

/* rowsql.c: quoting as Skytools does it */
extern char *ld_sql_ident(const char *name);
extern char *ld_sql_fqident(const char *name);
extern void ld_append_copy_value(PQExpBuffer buf, const char *value);
extern char *ld_copy_unescape(const char *field, size_t len, bool *isnull);

/*
 * rowsql.c: invalid UTF-8 replaced by U+FFFD, one for each maximal invalid
 * subsequence (as Python's errors='replace'); NULL when the text is valid.
 * ld_check_encoding() accepts what the encoding argument may say (utf8).
 */
extern char *ld_utf8_repair(const char *text);
extern bool ld_check_encoding(const LdHandler *h, bool *fix_utf8);

/* rowsql.c: lists of names */
extern void ld_names_add(LdStringList *list, const char *item);
extern void ld_names_reset(LdStringList *list);
extern bool ld_names_contains(const LdStringList *list, const char *item);
extern void ld_names_split(LdStringList *list, const char *text, char sep);

/*
 * rowsql.c: a logutriga event ("I:pk1,pk2", urlencoded row).  *op is
 * 'I', 'U' or 'D'; pkeys are the key columns.  Logs and returns false for
 * any other event type.
 */
extern bool ld_parse_row_event(const LdHandler *h, const PgqEvent *ev,
							   char *op, LdStringList *pkeys, PgqDict **row);
/* the row's invalid UTF-8 values repaired, each repair logged */
extern void ld_fix_row_utf8(const LdHandler *h, PgqDict *row);

/* rowsql.c: one statement per row, as Skytools' mk_*_sql write them */
extern void ld_sql_insert(PQExpBuffer buf, const char *qtable,
						  const PgqDict *row);
extern bool ld_sql_update(PQExpBuffer buf, const char *qtable,
						  const PgqDict *row, const LdStringList *pkeys);
extern bool ld_sql_delete(PQExpBuffer buf, const char *qtable,
						  const PgqDict *row, const LdStringList *pkeys);

/* rowsql.c: the statement for any row event, as the built-in handler */
extern bool ld_sql_row_event(const LdHandler *h, const PgqEvent *ev,
							 const char *qtable, bool fix_utf8,
							 PQExpBuffer buf);

/*
 * rowsql.c: talking to the replay connection directly.  Each first sends
 * what the worker has queued.  ld_direct_copy() runs "prefix" (NULL or
 * statements) and COPYs the rows (one COPY text line each, with newline)
 * into qtable's columns cols; ld_direct_count() runs one statement and gives
 * its row count; ld_direct_query() returns a query's result (PQclear it).
 */
extern bool ld_direct_copy(LdApply *apply, const char *prefix,
						  const char *qtable, const LdStringList *cols,
						  const char *rows, size_t len);
extern bool ld_direct_count(LdApply *apply, const char *sql, int64_t *count);
extern PGresult *ld_direct_query(LdApply *apply, const char *sql,
								int nparams, const char *const *params);

/* rowmap.c: rows collapsed by primary key, first-seen order */
typedef struct LdRowEntry
{
	char		op;				/* last state: 'I', 'U', 'D', or '.' gone */
	char		first_op;		/* the key's first event in the batch */
	PgqDict    *row;			/* latest row image */
} LdRowEntry;

typedef struct LdRowMap LdRowMap;
extern LdRowMap *ld_rowmap_new(void);
extern void ld_rowmap_free(LdRowMap *map);
extern void ld_rowmap_reset(LdRowMap *map);
/* the entry of the row's key (pkeys' values), created with op 0 if new */
extern LdRowEntry *ld_rowmap_get(LdRowMap *map, const PgqDict *row,
								 const LdStringList *pkeys);
extern void ld_rowmap_remove(LdRowMap *map, LdRowEntry *entry);
/* entries in first-seen order; NULL past the end (removed ones skipped) */
extern LdRowEntry *ld_rowmap_entry(LdRowMap *map, int i);
extern int	ld_rowmap_size(const LdRowMap *map);

/* rowmap.c: COPY text of rows, columns in cols order */
extern void ld_append_copy_row(PQExpBuffer buf, const PgqDict *row,
							   const LdStringList *cols);

/*
 * loader.c: one table's collapsed rows loaded with COPY through a temp
 * table: deletes, then updates, then inserts, each list COPY text rows of
 * cols.  method 0 updates from the temp table, 1 deletes and re-inserts,
 * 2 as 1 with the inserts loaded together with the updates.  keys are the
 * columns that identify a row.  check_counts warns when a DELETE or
 * UPDATE touches another number of rows than it had.
 */
typedef struct LdBulkLoad
{
	const char *table;			/* fq name, unquoted */
	const LdStringList *cols;
	const LdStringList *keys;
	int			method;
	bool		analyze;		/* analyze the temp table after each COPY */
	bool		check_counts;
	PQExpBufferData del;
	int			ndel;
	PQExpBufferData upd;
	int			nupd;
	PQExpBufferData ins;
	int			nins;
} LdBulkLoad;

extern void ld_bulk_init(LdBulkLoad *load);
extern void ld_bulk_reset(LdBulkLoad *load);
extern void ld_bulk_term(LdBulkLoad *load);
extern bool ld_bulk_run(LdApply *apply, LdBulkLoad *load);

#endif							/* LONDISTE_ROWSQL_H */
