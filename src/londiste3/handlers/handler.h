/*-------------------------------------------------------------------------
 *
 * handler.h
 *	  Table handlers: how the events of one table are applied, copied
 *	  downstream and initially copied.
 *
 * A handler is named in a table's attrs as "name" or "name(k=v&...)"
 * (doc/londiste3.md).  The admin commands need a handler's arguments, doc
 * and trigger arguments; the worker needs its batch hooks.  Each handler
 * class is one LdHandlerClass in handlers/; handler.c keeps the list.
 *
 * src/londiste3/handlers/handler.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LONDISTE_HANDLER_H
#define LONDISTE_HANDLER_H

#include "londiste3/londiste.h"

typedef struct LdHandler LdHandler;

/*
 * Where a handler sends its SQL during a batch: the worker's replay
 * transaction on the local database (worker.c implements it).
 * ld_apply_sql() queues a statement, flushed in groups; ld_apply_flush()
 * sends what is queued (a handler calls it before it talks to the
 * connection itself).  ld_apply_prepared() queues a statement with $n
 * parameters and their values (text, NULL for SQL NULL): prepared once
 * per batch, executed in pipeline mode, in order with the others.
 * ld_apply_insert(), ld_apply_update() and ld_apply_delete() insert,
 * update or delete a row of dest_table (a fq name) by columns (the set
 * columns, then the keys) and values in that order, possibly together
 * with the rows of the next events; insert_sql, update_sql and delete_sql
 * are the same statement for this row alone, with the values as $1..$n.
 */
typedef struct LdApply LdApply;
extern bool ld_apply_sql(LdApply *apply, const char *sql);
extern bool ld_apply_prepared(LdApply *apply, const char *sql, int nparams,
							  const char *const *values);
extern bool ld_apply_insert(LdApply *apply, const char *dest_table,
							int ncolumns, const char *const *columns,
							const char *const *values, const char *insert_sql);
extern bool ld_apply_update(LdApply *apply, const char *dest_table,
							int nset, const char *const *set_columns,
							int nkeys, const char *const *keys,
							const char *const *values, const char *update_sql);
extern bool ld_apply_delete(LdApply *apply, const char *dest_table,
							int nkeys, const char *const *keys,
							const char *const *values, const char *delete_sql);
extern bool ld_apply_flush(LdApply *apply);
extern PGconn *ld_apply_conn(LdApply *apply);

typedef struct LdHandlerClass
{
	const char *name;
	/* python module that provides it ("londiste.handlers.bulk"); NULL: always on */
	const char *module;
	const char *doc;			/* first line is the summary */
	const char *const *args;	/* accepted arguments, NULL-ended; NULL: any */
	size_t		private_size;	/* bytes of LdHandler.private, zeroed */

	/*
	 * Checks the arguments' values and sets up h->private; false (with the
	 * error logged) rejects the handler string.  May be NULL.
	 */
	bool		(*init) (LdHandler *h);

	/* may be NULL: defaults are "needs the table" and no trigger args */
	bool		(*needs_table) (const LdHandler *h);
	void		(*add_trigger_args) (const LdHandler *h, LdStringList *args);

	/*
	 * The worker's hooks; NULL means nothing to do.  prepare_batch is
	 * called once per batch, before the table's first event (or its first
	 * copy_event); finish_batch at the end of a batch that called it.
	 */
	bool		(*prepare_batch) (LdHandler *h, LdApply *apply);
	bool		(*process_event) (LdHandler *h, LdApply *apply, const PgqEvent *ev);
	bool		(*finish_batch) (LdHandler *h, LdApply *apply);
	/* the WHERE condition for the initial copy and compare, or NULL */
	char	   *(*copy_condition) (LdHandler *h);
	/* event as copied to the node's own queue: the event, a rewrite, or NULL to drop */
	const PgqEvent *(*copy_event) (LdHandler *h, const PgqEvent *ev);

	/*
	 * The initial copy's columns: on entry both lists hold the columns
	 * common to source and destination; the hook may drop some or rename
	 * the destination's.  False: the handler copies no data at all.
	 */
	bool		(*copy_columns) (LdHandler *h, LdStringList *src_cols,
								 LdStringList *dst_cols);
	/* rewrite one COPY text row (no newline) of src_cols; palloc'd, NULL on error */
	char	   *(*copy_row) (LdHandler *h, const char *row,
							 const LdStringList *src_cols);
	void		(*free_private) (LdHandler *h);
} LdHandlerClass;

struct LdHandler
{
	const LdHandlerClass *cls;
	char	   *table_name;		/* global fq name (ev_extra1) */
	char	   *dest_table;		/* local fq name */
	PgqDict    *args;
	Londiste   *ld;				/* config and the local connection */
	/* the batch being replayed: the worker sets it before prepare_batch */
	const PgqBatchInfo *batch;
	void	   *private;
};

/* handler.c */
extern bool ld_handler_parse(const char *spec, char **name, PgqDict **args);
extern char *ld_handler_format(const char *name, const PgqDict *args);
extern const LdHandlerClass *ld_handler_class(Londiste *ld, const char *name);
extern LdHandler *ld_handler_new(Londiste *ld, const char *spec,
								 const char *table_name,
								 const char *dest_table);
extern LdHandler *ld_handler_create(Londiste *ld, const LdHandlerClass *cls,
									PgqDict *args, const char *table_name,
									const char *dest_table);
extern void ld_handler_free(LdHandler *h);
extern bool ld_handler_needs_table(const LdHandler *h);
extern void ld_handler_list(Londiste *ld, const LdHandlerClass ***classes,
							int *n);

/*
 * handler.c: the initial copy as the handler wants it (the copy code calls
 * these rather than the hooks): ld_handler_copy_columns() narrows or
 * renames the columns, false meaning "copy nothing"; ld_handler_copy_row()
 * returns the row to send (a copy of the row when the handler keeps it),
 * or NULL (logged) when the row cannot be rewritten: the copy fails.
 */
extern bool ld_handler_copy_columns(LdHandler *h, LdStringList *src_cols,
									LdStringList *dst_cols);
extern bool ld_handler_rewrites_copy(const LdHandler *h);
extern char *ld_handler_copy_row(LdHandler *h, const char *row,
								 const LdStringList *src_cols);

#endif							/* LONDISTE_HANDLER_H */
