/*-------------------------------------------------------------------------
 *
 * qadmin.h
 *	  qadmin, the PgQ admin console: shared types and entry points.
 *
 * Input is split into statements (lexer.c), each statement is either one
 * of qadmin's own (grammar.c parses it into a Statement) or SQL passed to
 * the server as typed.  exec.c runs a statement, queue.c, show.c and
 * londiste.c hold the statements, query.c talks to the server, print.c
 * prints result tables, console.c, complete.c and cancel.c are the
 * interactive side, main.c the command line.
 *
 * src/qadmin/qadmin.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef QADMIN_H
#define QADMIN_H

#include "libpq-fe.h"

/* exit codes */
#define QADMIN_EXIT_OK		0
#define QADMIN_EXIT_ERROR	1
#define QADMIN_EXIT_USAGE	2

/* ---------- lexer.c ---------- */

typedef enum TokenKind
{
	TOK_WORD,					/* unquoted word, value lower-cased */
	TOK_QUOTED_IDENT,			/* "..." with "" undoubled */
	TOK_STRING,					/* '...' with '' undoubled */
	TOK_NUMBER,					/* digits */
	TOK_SYMBOL					/* one of , = * . (and - : / + @ in values) */
} TokenKind;

typedef struct Token
{
	TokenKind	kind;
	char	   *value;
	char	   *raw;			/* the token as typed */
	int			offset;			/* byte offsets in the statement text */
	int			end;
} Token;

typedef struct TokenList
{
	Token	   *tokens;
	int			count;
	int			allocated;
	char	  **strings;		/* strings made while parsing, freed with it */
	int			nstrings;
	int			strings_allocated;
} TokenList;

/*
 * Splitting a stream of text into statements: text is fed in pieces
 * (lines); statement_complete() tells whether the buffer holds at least
 * one full statement, next_statement() takes it out.
 */
typedef struct StatementSplitter
{
	char	   *buf;
	size_t		len;
	size_t		allocated;
	int			first_line;		/* input line number where buf starts */
	int			lines;			/* lines fed since then */
} StatementSplitter;

extern void splitter_init(StatementSplitter *sp, int first_line);
extern void splitter_feed(StatementSplitter *sp, const char *text);
extern char *splitter_next(StatementSplitter *sp, int *line);
extern bool splitter_has_pending(const StatementSplitter *sp);
extern void splitter_reset(StatementSplitter *sp);
extern const char *splitter_pending_text(const StatementSplitter *sp);
extern size_t statement_start(const char *text, size_t len);
extern bool tokenize(const char *text, TokenList *list, char **error);
extern void free_tokens(TokenList *list);
extern char *token_list_keep(TokenList *list, char *str);
extern bool is_blank_statement(const char *text);

/* ---------- grammar.c ---------- */

typedef enum StatementKind
{
	STMT_SQL,					/* not ours: pass to the server */
	STMT_EXIT,
	STMT_CONNECT,
	STMT_INSTALL,
	STMT_CREATE_QUEUE,
	STMT_DROP_QUEUE,
	STMT_ALTER_QUEUE,
	STMT_REGISTER_CONSUMER,
	STMT_UNREGISTER_CONSUMER,
	STMT_REGISTER_SUBCONSUMER,
	STMT_UNREGISTER_SUBCONSUMER,
	STMT_SHOW_QUEUE,
	STMT_SHOW_CONSUMER,
	STMT_SHOW_NODE,
	STMT_SHOW_BATCH,
	STMT_SHOW_TABLE,
	STMT_SHOW_SEQUENCE,
	STMT_SHOW_HELP,
	STMT_SHOW_VERSION,
	STMT_LONDISTE_ADD_TABLE,
	STMT_LONDISTE_ADD_SEQ,
	STMT_LONDISTE_REMOVE_TABLE,
	STMT_LONDISTE_REMOVE_SEQ,
	STMT_LONDISTE_TABLES,
	STMT_LONDISTE_SEQS,
	STMT_LONDISTE_MISSING
} StatementKind;

#define MAX_OPTIONS 32
#define MAX_TARGETS 64

/* key = value in connect, alter queue ... set, londiste ... with */
typedef struct Option
{
	const char *key;
	const char *value;			/* NULL for a flag */
} Option;

typedef struct Statement
{
	StatementKind kind;
	const char *object;			/* queue, consumer, node, table... or NULL */
	const char *object_sql;		/* object as a quoted SQL name (tables) */
	bool		object_all;		/* object given as "*" */
	const char *owner;			/* "for C" of subconsumers */
	const char *queue;			/* "on/from Q", NULL: the default queue */
	bool		queue_all;		/* "on *" */
	const char *at_tick;		/* register ... at TICK */
	const char *copy_from;		/* register ... copy C2 */
	bool		close_batch;	/* unregister subconsumer ... close */
	int			noptions;
	Option		options[MAX_OPTIONS];
	int			ntargets;		/* londiste add/remove */
	const char *targets[MAX_TARGETS];
} Statement;

/* What may come next where the input ended: used for completion. */
typedef enum NameKind
{
	NAME_NONE = 0,
	NAME_QUEUE,
	NAME_CONSUMER,
	NAME_SUBCONSUMER,
	NAME_NODE,
	NAME_BATCH,
	NAME_TABLE,
	NAME_SEQUENCE,
	NAME_LONDISTE_TABLE,
	NAME_LONDISTE_SEQ,
	NAME_DATABASE,
	NAME_USER,
	NAME_HOST,
	NAME_COUNT
} NameKind;

#define MAX_EXPECTED_KEYWORDS 48

typedef struct Expected
{
	int			nkeywords;
	const char *keywords[MAX_EXPECTED_KEYWORDS];
	bool		names[NAME_COUNT];
} Expected;

extern bool is_qadmin_statement(const TokenList *tokens, bool partial);
extern bool parse_statement(TokenList *tokens, Statement *stmt,
							Expected *expected, char **error);

/* ---------- exec.c, query.c, queue.c, show.c, londiste.c ---------- */

typedef struct Session
{
	PGconn	   *conn;
	char	   *queue;			/* default queue or NULL */
} Session;

typedef enum ExecResult
{
	EXEC_OK,
	EXEC_ERROR,					/* the statement failed */
	EXEC_SYNTAX_ERROR,			/* the statement was not understood */
	EXEC_QUIT
} ExecResult;

extern ExecResult execute_text(Session *s, const char *text);
extern ExecResult exec_statement(Session *s, Statement *stmt);
extern PGresult *send_and_wait(Session *s, const char *sql, int nparams,
								const char *const *params, bool simple);
extern PGresult *run_query(Session *s, const char *sql, int nparams,
						   const char *const *params);
extern bool run_command(Session *s, const char *sql, int nparams,
						const char *const *params);
extern char *query_value(Session *s, const char *sql, int nparams,
						 const char *const *params, bool *ok);
extern bool begin_work(Session *s, bool *started);
extern bool end_work(Session *s, bool started, bool ok);
extern const char *statement_queue(Session *s, const Statement *stmt);
extern bool queue_exists(Session *s, const char *queue, bool *exists);
extern bool require_queue(Session *s, const char *queue);
extern void report_error(const char *fmt,...) pg_attribute_printf(1, 2);
extern void report_result_error(const PGresult *res);
extern void session_use_connection(Session *s, PGconn *conn);
extern void check_connection(Session *s);
extern const char *error_location;

extern ExecResult exec_queue(Session *s, Statement *stmt);
extern ExecResult exec_show(Session *s, Statement *stmt);
extern ExecResult exec_londiste(Session *s, Statement *stmt);
extern void print_help_text(void);

/* ---------- print.c ---------- */

extern void print_set_encoding(int encoding);
extern void print_table(const char *title, const PGresult *res);
extern void print_status(const char *tag);

/* ---------- cancel.c ---------- */

extern void cancel_init(void);
extern void cancel_set_connection(PGconn *conn);
extern void cancel_query_started(void);
extern void cancel_query_finished(void);
extern bool cancel_take_interrupt(void);

/* ---------- console.c, complete.c ---------- */

extern int	run_console(Session *s);
extern void install_completion(Session *s, const StatementSplitter *pending);

extern const char *progname;

#endif							/* QADMIN_H */
