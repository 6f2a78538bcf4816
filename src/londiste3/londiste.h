/*-------------------------------------------------------------------------
 *
 * londiste.h
 *	  londiste3: table replication over cascaded PgQ queues.  What the
 *	  parts of the program share.
 *
 * The program is "londiste3 [SWITCHES] CONFIG.ini COMMAND [ARGS]", as
 * python3-londiste's "londiste" (which owns /usr/bin/londiste on Debian).
 * Each group of commands lives in its own file and exports a table of
 * LondisteCommand, which main.c searches:
 *
 *	node.c		create-root/-branch/-leaf, members, tag-dead, ... (cascade)
 *	status.c	status, node-status, node-info
 *	takeover.c	takeover, change-provider, resurrect, drop-node
 *	tables.c	add-table, remove-table, add-seq, tables, seqs, missing, ...
 *	execute.c	execute
 *	compare.c	compare, repair
 *	worker.c	worker (the replay daemon) and copy (the table copy process)
 *
 * src/londiste3/londiste.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LONDISTE_H
#define LONDISTE_H

#include "framework/script.h"
#include "libpgq.h"
#include "libpq-fe.h"

/* a repeatable switch (--dead, --trigger-arg, --handler-arg) */
typedef struct LdStringList
{
	int			n;
	char	  **items;
} LdStringList;

/*
 * The switches python3-londiste accepts (its optparse set); every command
 * sees all of them, as there.  Unset strings are NULL, max_parallel_copy
 * is -1 when not given.
 */
typedef struct LdOptions
{
	/* cascading */
	char	   *provider;
	char	   *merge;
	LdStringList dead;
	bool		dead_root;
	bool		dead_branch;
	bool		nocheck;
	char	   *sync_watermark;
	/* queue position */
	bool		rewind;
	bool		reset;
	/* add-table, add-seq */
	bool		all;
	bool		wait_sync;
	char	   *dest_table;
	bool		expect_sync;
	bool		skip_truncate;
	bool		create;
	bool		create_full;
	char	   *trigger_flags;
	LdStringList trigger_args;
	bool		no_triggers;
	char	   *handler;
	LdStringList handler_args;
	bool		find_copy_node;
	char	   *copy_node;
	bool		merge_all;
	bool		no_merge;
	int			max_parallel_copy;
	bool		skip_non_existing;
	/* tables, status */
	bool		names_only;
	bool		compact;
	/* compare, repair */
	bool		force;
	bool		apply;
	bool		count_only;
	char	   *sort_bufsize;
	char	   *repair_where;
} LdOptions;

typedef struct Londiste
{
	SkyScript	script;			/* switches, config, logging, pidfile */
	LdOptions	opt;
	const char *command;
	char	  **args;			/* the command's arguments */
	int			nargs;

	/* [londiste] keys every command needs (main.c reads them) */
	char	   *db;				/* local node's connect string */
	char	   *queue_name;
	char	   *consumer_name;	/* the worker's pgq_node consumer */
	char	   *remote_extra_connstr;	/* appended to cascade locations */

	PGconn	   *local;			/* ld_local(), opened on first use */
} Londiste;

/* What a command returns: the program's exit status. */
#define LD_EXIT_OK 0
#define LD_EXIT_ERROR 1
#define LD_EXIT_USAGE 2

typedef int (*LdCommandFunc) (Londiste *ld);

/* which pidfile a command holds (python3-londiste's names) */
typedef enum LdPidfile
{
	LD_PIDFILE_NONE,			/* read-only commands */
	LD_PIDFILE_ADMIN,			/* <pidfile>.admin */
	LD_PIDFILE_REPAIR,			/* <pidfile>.repair */
	LD_PIDFILE_MAIN,			/* <pidfile>: the worker */
	LD_PIDFILE_COPY				/* <pidfile>.copy.<table> */
} LdPidfile;

typedef struct LondisteCommand
{
	const char *name;
	/* arity: -1 = any number; else exactly this many */
	int			nargs;
	const char *arg_names;		/* for "expects N: <names>" */
	LdPidfile	pidfile;
	LdCommandFunc func;
} LondisteCommand;

/* the command tables, each ended by an entry with name NULL */
extern const LondisteCommand ld_node_commands[];
extern const LondisteCommand ld_status_commands[];
extern const LondisteCommand ld_takeover_commands[];
extern const LondisteCommand ld_table_commands[];
extern const LondisteCommand ld_execute_commands[];
extern const LondisteCommand ld_compare_commands[];
extern const LondisteCommand ld_worker_commands[];

/* util.c: connections */
extern PGconn *ld_local(Londiste *ld);
extern PGconn *ld_connect(Londiste *ld, const char *connstr, bool add_extra);
extern void ld_close_local(Londiste *ld);

/*
 * util.c: an admin function returning ret_code/ret_note rows, logged the
 * Skytools way; false (and the error logged) for codes of 400 and above.
 * Plain queries use framework/pqutil.h's sky_db_exec() and sky_db_value().
 */
extern bool ld_exec_cmd(PGconn *conn, const char *sql, int nparams,
						const char *const *params, PGresult **result);

/* util.c: names */
extern char *ld_make_fqname(const char *name);
extern char *ld_quote_fqname(const char *name);

/* util.c: output as python3-londiste prints it */
extern const char *ld_python_value(const PGresult *res, int row, int col);
typedef const char *(*LdFieldFormat) (const char *field, const char *value);
extern void ld_display_table(const PGresult *res, const char *title,
							 LdFieldFormat format);

#endif							/* LONDISTE_H */
