/*-------------------------------------------------------------------------
 *
 * libpgq.h
 *	  The PgQ consumer library: the public interface.
 *
 * A consumer program states what it is (a PgqProgram) and how it handles a
 * batch, and hands control to pgq_program_main(), which gives it what every
 * Skytools consumer has: the switches (-q -v -d -r -s -k -V --ini --set,
 * --register, --unregister, and --rewind/--reset where the flavour tracks
 * its position), the ini file, logging, daemon mode, pidfile, reload, the
 * batch loop with per-batch stats, and recovery from lost connections.
 * The flavours are those of python3-pgq:
 *
 *	PGQ_CONSUMER_PLAIN	 pgq.Consumer: at-least-once, no tracking
 *	PGQ_CONSUMER_SERIAL	 pgq.SerialConsumer: the last applied tick is kept
 *						 in the target database (pgq_ext.get_last_tick /
 *						 set_last_tick) and committed with the batch's work
 *	PGQ_CONSUMER_REMOTE	 pgq.RemoteConsumer: the same with batch ids
 *						 (pgq_ext.is_batch_done / set_batch_done)
 *	PGQ_CONSUMER_LOCAL	 pgq.LocalConsumer: the last applied tick is kept
 *						 in a local file, written durably after each batch
 *	PGQ_CONSUMER_COOP	 pgq.CoopConsumer: a subconsumer of a pgq_coop
 *						 cooperative consumer
 *
 * The ini keys are python3-pgq's: queue_name, consumer_name, pgq_lazy_fetch,
 * pgq_batch_collect_events, pgq_batch_collect_interval, pgq_keep_lag,
 * table_filter, consumer_filter, local_tracking_file, subconsumer_name,
 * subconsumer_timeout, and the connect string keys named in the PgqProgram.
 *
 * Everything returned by the library belongs to it and stays valid until
 * the call named in each comment; the caller frees nothing unless told.
 * Functions that can fail return false (or NULL) and leave a message for
 * pgq_consumer_error().
 *
 * The library is not thread-safe: use one PgqConsumer per thread.
 *
 * src/libpgq/libpgq.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LIBPGQ_H
#define LIBPGQ_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#ifdef __cplusplus
extern "C"
{
#endif

#define LIBPGQ_VERSION "4.0"

typedef struct PgqConsumer PgqConsumer;
typedef struct PgqBatch PgqBatch;
typedef struct PgqDict PgqDict;
typedef struct PgqTemplate PgqTemplate;

typedef enum PgqFlavour
{
	PGQ_CONSUMER_PLAIN,
	PGQ_CONSUMER_SERIAL,
	PGQ_CONSUMER_REMOTE,
	PGQ_CONSUMER_LOCAL,
	PGQ_CONSUMER_COOP
} PgqFlavour;

/* What pgq.next_batch_custom() said about the batch. */
typedef struct PgqBatchInfo
{
	int64_t		batch_id;
	int64_t		tick_id;		/* cur_tick_id */
	int64_t		prev_tick_id;
	int64_t		tick_event_seq;
	int64_t		prev_tick_event_seq;
	const char *tick_time;		/* timestamptz text */
	const char *prev_tick_time;
} PgqBatchInfo;

/*
 * One event.  Text columns are NULL when the column is SQL NULL; retry is
 * -1 when ev_retry is NULL (the event was never retried).
 */
typedef struct PgqEvent
{
	int64_t		id;
	int64_t		txid;
	int			retry;
	const char *time;			/* ev_time as timestamptz text */
	const char *type;
	const char *data;
	const char *extra1;
	const char *extra2;
	const char *extra3;
	const char *extra4;
} PgqEvent;

/* Log levels, numbered like Python's logging (TRACE is Skytools' own). */
typedef enum PgqLogLevel
{
	PGQ_LOG_TRACE = 5,
	PGQ_LOG_DEBUG = 10,
	PGQ_LOG_INFO = 20,
	PGQ_LOG_WARNING = 30,
	PGQ_LOG_ERROR = 40
} PgqLogLevel;

/*
 * Exit codes of pgq_program_main(), and of the programs built on it:
 *	0	stopped on request (-s, SIGINT), single run done, or the asked
 *		command (--register, --ini, -r, ...) succeeded
 *	1	error: a bad or missing config, a failed command, nothing to
 *		signal, "Lost position", a damaged tracking file, a retry in a
 *		tracked flavour, or stopped by SIGTERM (after the current batch)
 *	2	wrong usage (unknown switch, missing config file argument)
 */
#define PGQ_EXIT_OK 0
#define PGQ_EXIT_ERROR 1
#define PGQ_EXIT_USAGE 2

/*
 * Handle one batch.  Read its events with pgq_batch_next_event(); tag
 * those to be retried later with pgq_event_retry(), or the whole batch with
 * pgq_batch_retry().  Events not tagged count as done.
 *
 * Return true when the batch is handled: the library then does the
 * flavour's bookkeeping (target tick and commit, tracking file), the
 * retries and pgq.finish_batch().  Return false after reporting the error
 * with pgq_log(): the library rolls back what it can, logs "Job NAME
 * crashed", sleeps exception_sleep and tries the same batch again.
 */
typedef bool (*PgqBatchFunc) (PgqBatch *batch, void *arg);

/*
 * Called after the config is loaded and again after each reload, before
 * any batch: read the program's own keys with pgq_config_*() and check
 * them.  Return false to refuse the config (at start: exit 1; at reload:
 * the old config stays).
 */
typedef bool (*PgqConfigFunc) (PgqConsumer *consumer, void *arg);

typedef struct PgqProgram
{
	const char *name;			/* program name, for --help and logs */
	const char *const *service_names;	/* accepted main sections, NULL-ended */
	const char *description;	/* one line for --help */
	const char *ini_template;	/* printed by --ini */
	PgqFlavour	flavour;
	const char *src_db_key;		/* key of the queue's database: "src_db" */
	const char *dst_db_key;		/* SERIAL/REMOTE target: "dst_db" */
	PgqConfigFunc configure;	/* may be NULL */
	PgqBatchFunc process_batch;
	void	   *arg;			/* passed to both callbacks */
} PgqProgram;

/*
 * Run a consumer program: parse argv, load the config and run the batch
 * loop or the asked command.  Returns the exit code (PGQ_EXIT_*).
 */
extern int	pgq_program_main(const PgqProgram *program, int argc, char **argv);

/*
 * The same machinery without the program frame, for applications that
 * have their own main loop.  pgq_consumer_set() takes the ini keys listed
 * at the top (and the connect string keys of the program); it returns
 * false for an unknown key or a bad value.
 */
extern PgqConsumer *pgq_consumer_new(const PgqProgram *program);
extern bool pgq_consumer_set(PgqConsumer *consumer, const char *key,
							 const char *value);
extern void pgq_consumer_free(PgqConsumer *consumer);

extern bool pgq_consumer_register(PgqConsumer *consumer);
extern bool pgq_consumer_unregister(PgqConsumer *consumer);

/*
 * Take and handle one batch with the program's process_batch.  Returns 1
 * if a batch was handled, 0 if there was none yet, -1 on error.
 */
extern int	pgq_consumer_work(PgqConsumer *consumer);

/* The last error of this consumer, or "" */
extern const char *pgq_consumer_error(const PgqConsumer *consumer);

/*
 * A connection from the consumer's cache, opened from the config key's
 * connect string with application_name = job name (unless the string sets
 * one) and reopened after connection_lifetime or after it broke.  Valid
 * until the next batch.  Without autocommit it is inside a transaction:
 * the source's is the batch's own (it commits with pgq.finish_batch), a
 * SERIAL/REMOTE target's is pgq_batch_target()'s; any other is committed
 * after process_batch succeeds, before the batch is recorded.  After an
 * error every connection is closed.
 *
 * During a batch the library reads events ahead on the source connection
 * (see pgq_batch_next_event), so a program that uses the source
 * connection in process_batch must ask for it here in that batch (not
 * keep the pointer from an earlier one): the call completes the read on
 * its way, and the rest of the batch is then read without read-ahead.
 */
extern PGconn *pgq_consumer_connection(PgqConsumer *consumer,
									   const char *key, bool autocommit);

/*
 * Config values of the loaded ini (main section, [DEFAULT], --set) and of
 * pgq_consumer_set().  A string stays valid until the next call for the
 * same key.  A value that is not of the type asked for is fatal (exit 1).
 */
extern const char *pgq_config_get(PgqConsumer *consumer, const char *key,
								  const char *def);
extern int	pgq_config_get_int(PgqConsumer *consumer, const char *key, int def);
extern double pgq_config_get_float(PgqConsumer *consumer, const char *key,
								   double def);
extern bool pgq_config_get_bool(PgqConsumer *consumer, const char *key,
								bool def);

/* Batches */
extern PgqConsumer *pgq_batch_consumer(PgqBatch *batch);
extern const PgqBatchInfo *pgq_batch_info(PgqBatch *batch);

/*
 * The next event of the batch, or NULL at the end or on error (then
 * pgq_batch_failed() is true and process_batch should return false).
 * Events are fetched pgq_lazy_fetch at a time, the next pages (four
 * FETCHes in one message) already requested while the program works on
 * the current one; with
 * pgq_lazy_fetch = 0 the batch's one query is read row by row as the rows
 * arrive.  Each event stays valid until the next call.
 */
extern const PgqEvent *pgq_batch_next_event(PgqBatch *batch);
extern bool pgq_batch_failed(PgqBatch *batch);

/*
 * Tag an event (or the whole batch) for pgq.event_retry / pgq.batch_retry.
 * PLAIN and COOP only: the tracked flavours record a batch as applied
 * before its retries commit, so a crash in between would lose the events;
 * there the call fails the batch with an error that stops the program.
 */
extern void pgq_event_retry(PgqBatch *batch, const PgqEvent *event,
							int seconds);
extern void pgq_batch_retry(PgqBatch *batch, int seconds);

/*
 * SERIAL and REMOTE: the target connection, inside the transaction that
 * will also record the batch as applied.  Do not commit it yourself.
 */
extern PGconn *pgq_batch_target(PgqBatch *batch);

/* Count something for the per-batch stats line ({count: N, ...}). */
extern void pgq_batch_stat(PgqBatch *batch, const char *key, int64_t add);

/* Logging in the Skytools line format, to stderr and/or the logfile. */
extern void pgq_log(PgqLogLevel level, const char *fmt,...)
#ifdef __GNUC__
			__attribute__((format(printf, 2, 3)))
#endif
			;

/*
 * PgQ's urlencoding (logutriga's ev_data): key=value pairs joined with
 * '&', '+' for space, %XX for other reserved bytes; a key without '='
 * stands for NULL.  A dict keeps keys in insertion order.
 */
extern PgqDict *pgq_dict_new(void);
extern void pgq_dict_free(PgqDict *dict);
extern void pgq_dict_set(PgqDict *dict, const char *key, const char *value);
extern bool pgq_dict_get(const PgqDict *dict, const char *key,
						 const char **value);	/* false if absent */
extern int	pgq_dict_count(const PgqDict *dict);
extern const char *pgq_dict_key(const PgqDict *dict, int i);
extern const char *pgq_dict_value(const PgqDict *dict, int i);

extern PgqDict *pgq_urldecode(const char *text);	/* NULL if malformed */
extern char *pgq_urlencode(const PgqDict *dict);	/* free with pgq_free() */
extern void pgq_free(void *ptr);

/*
 * Query templates with %(key)s placeholders, as in Skytools' dst_query.
 * The values are sent as parameters ($1, $2, ...), never pasted into the
 * SQL text, so quotes in the data cannot change the statement.
 */
extern PgqTemplate *pgq_template_parse(const char *text, char **errmsg);
extern void pgq_template_free(PgqTemplate *tmpl);
extern const char *pgq_template_sql(const PgqTemplate *tmpl);

/* Runs the template; NULL with *errmsg set for a missing key or an error */
extern PGresult *pgq_template_exec(PGconn *conn, const PgqTemplate *tmpl,
								   const PgqDict *values, char **errmsg);

/*
 * Run an admin function whose rows carry ret_code and ret_note, the way
 * Skytools' exec_cmd does: 1xx logged as DEBUG, 2xx as INFO, 3xx as
 * WARNING; any code of 400 or above is an error (false, message set).
 */
extern bool pgq_exec_cmd(PGconn *conn, const char *sql, int nparams,
						 const char *const *params, PGresult **result,
						 char **errmsg);

/*
 * Producing events
 *
 * A PgqEventWriter copies events into queues of the database it writes
 * to, the way queue_mover and queue_splitter need it: each event keeps
 * its ev_time, ev_type, ev_data and ev_extra1..4, and gets a new ev_id
 * (and ev_txid) from the target queue.  Events are collected per queue and
 * written with one COPY into pgq.current_event_table(queue) each, inside
 * the caller's transaction on the target connection, which keeps the
 * queue's invariants: pgq.current_event_table() takes the transaction's
 * txid before it names the table, so a rotation cannot hide the rows from
 * a batch.  Like every direct writer, the COPY is not counted against
 * queue_per_tx_limit.
 *
 * The events' text is sent in the client encoding of the connection the
 * batch was read from, so that the target converts it to its own.  The
 * COPY is binary: ev_time is read from the ISO text the library's source
 * connection prints (DateStyle ISO, with the UTC offset), exactly.  A
 * program that changes that connection's DateStyle fails its batches.
 */
typedef struct PgqEventWriter PgqEventWriter;

extern PgqEventWriter *pgq_event_writer_new(void);
extern void pgq_event_writer_free(PgqEventWriter *writer);

/*
 * Start writing the events of "batch": forget what is pending (after a
 * failed batch the caller's target transaction was rolled back), and
 * take the batch's source encoding.
 */
extern void pgq_event_writer_begin(PgqEventWriter *writer, PgqBatch *batch);

/*
 * Queue one event for "queue".  Once the pending events take much memory
 * they are written at once, so "target" must be in the transaction that
 * pgq_event_writer_flush() will finish.  False on error (as there).
 */
extern bool pgq_event_writer_add(PgqEventWriter *writer, PGconn *target,
								 const char *queue, const PgqEvent *event);

/*
 * Open the COPY into "queue" now, before the first event is added, so that
 * it is ready when the first rows come (queue_mover opens it while the
 * source still sorts the batch).  From here to pgq_event_writer_flush()
 * nothing else may be run on "target".  False on error (as there).
 */
extern bool pgq_event_writer_open(PgqEventWriter *writer, PGconn *target,
								  const char *queue);

/*
 * Write every pending event into its queue.  False on error, which is
 * also the consumer's error (pgq_consumer_error), so that process_batch
 * can simply return false: the log says "Job NAME crashed: ...".
 */
extern bool pgq_event_writer_flush(PgqEventWriter *writer, PGconn *target);

/*
 * Streaming (off by default): each queue's events go to the target in
 * pieces of about 64 kB while the batch is still being read, so that the
 * target server stores them while the source server reads the next ones.
 * A COPY then stays open on the target connection from one
 * pgq_event_writer_add() to the next: nothing else may be run on that
 * connection between the first add and pgq_event_writer_flush().  A
 * program that only adds events and flushes (queue_mover, queue_splitter)
 * turns it on.
 */
extern void pgq_event_writer_set_streaming(PgqEventWriter *writer, bool on);

/*
 * Events as dicts
 *
 * What simple_consumer and simple_local_consumer do with an event, for
 * programs of the same kind: the event becomes a dict of its urldecoded
 * ev_data plus the pgq.* keys, and a %(key)s query template (dst_query) is
 * run with it on an autocommit connection, retried after a lost connection
 * when the sql_retry keys ask for it (Skytools' execute_with_retry).
 */

/* The sql_retry keys of the loaded config (section 1.3 of the tools spec) */
typedef struct PgqSqlRetry
{
	bool		enabled;		/* sql_retry, default off */
	int			max_count;		/* sql_retry_max_count: retries, 10 */
	int			max_time;		/* sql_retry_max_time: seconds, 300 */
	int			formula_a;		/* retry n waits a + b * (n - 1) seconds, */
	int			formula_b;		/* at most cap: sql_retry_formula_a (1), */
	int			formula_cap;	/* sql_retry_formula_b (5), _cap (60) */
} PgqSqlRetry;

extern void pgq_sql_retry_config(PgqConsumer *consumer, PgqSqlRetry *retry);

/* Does ev_type start with I:, U: or D: (a row change from logutriga)? */
extern bool pgq_event_is_row_change(const PgqEvent *event);

/*
 * The event as a dict: when decode_data is true the keys of its urldecoded
 * ev_data first (a key without '=' is NULL), then pgq.tick_id, pgq.ev_id,
 * pgq.ev_time, pgq.ev_type, pgq.ev_data and pgq.ev_extra1..4, which win
 * over data keys of the same name.  NULL with *errmsg (free with
 * pgq_free()) when ev_data is not urlencoded.  Free with pgq_dict_free().
 */
extern PgqDict *pgq_event_dict(PgqBatch *batch, const PgqEvent *event,
							   bool decode_data, char **errmsg);

/*
 * Run tmpl with values on the autocommit connection of config key db_key.
 * A failure to connect or a connection lost during the query is retried as
 * retry says (not at all when retry is NULL or not enabled), each retry on
 * a fresh connection.  Returns the result (free with PQclear()) or NULL
 * with *errmsg (free with pgq_free()).
 */
extern PGresult *pgq_event_query_exec(PgqConsumer *consumer,
									  const char *db_key,
									  const PgqTemplate *tmpl,
									  const PgqDict *values,
									  const PgqSqlRetry *retry,
									  char **errmsg);

/*
 * What a simple consumer reads from its config: dst_query (required, parsed
 * as a template), skip_other_types (default true), the sql_retry keys; and
 * dst_db must be set.  pgq_event_query_configure() replaces query's
 * contents only when all of it is good, so a reload with a bad dst_query
 * keeps the old one; otherwise it logs why and returns false.  Start from a
 * zeroed struct; free it with pgq_event_query_free().
 */
typedef struct PgqEventQuery
{
	PgqTemplate *dst_query;
	bool		skip_other_types;
	PgqSqlRetry sql_retry;
} PgqEventQuery;

extern bool pgq_event_query_configure(PgqConsumer *consumer,
									  PgqEventQuery *query);
extern void pgq_event_query_free(PgqEventQuery *query);

/*
 * The whole of a simple consumer's batch: tmpl run through
 * pgq_event_query_exec() for each event, in order.  Events that are not row
 * changes are skipped and counted as "skipped-events" in the stats when
 * skip_other_types is true; otherwise the query runs for them too, with
 * only the pgq.* keys since their ev_data has no agreed format.  Returns
 * false after logging the error (ev_data that does not decode, a failed
 * query): the batch is then to be run again.
 */
extern bool pgq_batch_run_query(PgqBatch *batch, const char *db_key,
								const PgqTemplate *tmpl,
								bool skip_other_types,
								const PgqSqlRetry *retry);

#ifdef __cplusplus
}
#endif

#endif							/* LIBPGQ_H */
