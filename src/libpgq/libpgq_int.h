/*-------------------------------------------------------------------------
 *
 * libpgq_int.h
 *	  What the parts of the consumer library share; not installed.
 *
 * src/libpgq/libpgq_int.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef LIBPGQ_INT_H
#define LIBPGQ_INT_H

#include "framework/config.h"
#include "libpgq.h"
#include "pqexpbuffer.h"

/* one cached connection, named by the config key of its connect string */
typedef struct PgqConn
{
	char	   *key;
	char	   *connstr;
	PGconn	   *conn;
	bool		autocommit;
	double		opened;			/* pgq_now() when connected */
	struct PgqConn *next;
} PgqConn;

/* a key set with pgq_consumer_set() */
typedef struct PgqSetting
{
	char	   *key;
	char	   *value;
	struct PgqSetting *next;
} PgqSetting;

/* a counter of the stats line */
typedef struct PgqStat
{
	char	   *key;
	int64_t		value;
	struct PgqStat *next;
} PgqStat;

typedef struct PgqRetry
{
	int64_t		event_id;
	int			seconds;
	struct PgqRetry *next;
} PgqRetry;

struct PgqConsumer
{
	const PgqProgram *program;
	SkyConfig  *cf;				/* the program's config, or NULL */
	PgqSetting *settings;		/* pgq_consumer_set(); win over cf */
	PgqSetting *config_values;	/* what pgq_config_get() handed out */

	/* the consumer keys, as read by pgq_consumer_load_settings() */
	char	   *job_name;
	char	   *queue_name;
	char	   *consumer_name;
	char	   *subconsumer_name;
	char	   *subconsumer_timeout;	/* interval text or NULL */
	char	   *keep_lag;		/* interval text or NULL */
	char	   *collect_interval;	/* interval text or NULL */
	char	   *collect_events; /* integer text or NULL */
	char	   *event_filter;	/* SQL condition from the filters, or NULL */
	char	   *tracking_file;
	int			lazy_fetch;
	double		connection_lifetime;
	double		keepalive_stats;

	PgqConn    *conns;
	PQExpBufferData error;
	bool		fatal;			/* the last error must stop the program */
	bool		position_checked;	/* LOCAL: startup repositioning done */
	double		idle_start;
	PgqBatch   *batch;			/* the batch being handled, or NULL */
};

/* what is on its way to the library on a batch's source connection */
typedef enum PgqSourceRead
{
	PGQ_READ_NONE,				/* nothing: the connection is free */
	PGQ_READ_OPEN,				/* pgq.get_batch_cursor and its first page */
	PGQ_READ_FETCH,				/* FETCHes of the next pages */
	PGQ_READ_STREAM				/* pgq.get_batch_events rows, one by one */
} PgqSourceRead;

struct PgqBatch
{
	PgqConsumer *consumer;
	PGconn	   *src;
	PgqBatchInfo info;
	PGresult   *info_res;
	PGresult   *page;			/* current page of events */
	int			page_row;
	int			columns[10];	/* ev_id .. ev_extra4 in page, see batch.c */
	bool		fetched_all;
	bool		columns_known;	/* columns[] set from the first page */
	PgqSourceRead pending;		/* the read on its way on src */
	int			fetches_due;	/* pages of it not yet taken */
	bool		read_ahead;		/* false once the program asked for src */
	PGresult   *next_page;		/* rows of a read taken early */
	bool		failed;
	int64_t		count;
	PgqEvent	event;
	PgqRetry   *retries;
	int			batch_retry;	/* seconds, or -1 */
	PGconn	   *target;			/* SERIAL/REMOTE, in a transaction */
	PgqStat    *stats;			/* pgq_batch_stat() counters */
};

/* consumer.c */
extern void pgq_set_error(PgqConsumer *consumer, const char *fmt,...) pg_attribute_printf(2, 3);
extern bool pgq_consumer_load_settings(PgqConsumer *consumer);
extern char *pgq_setting_get(PgqConsumer *consumer, const char *key);
extern void pgq_consumer_close_all(PgqConsumer *consumer);
extern void pgq_consumer_end_transactions(PgqConsumer *consumer, bool commit);
extern double pgq_now(void);

/* query helpers of consumer.c: NULL and the error set on failure */
extern PGresult *pgq_query(PgqConsumer *consumer, PGconn *conn,
						   const char *sql, int nparams,
						   const char *const *params);
extern bool pgq_command(PgqConsumer *consumer, PGconn *conn, const char *sql);
extern void pgq_query_error(PgqConsumer *consumer, PGconn *conn,
							const char *sql);

/* eventread.c */
extern int64_t pgq_value_int64(const PGresult *res, int row, int col);
extern const char *pgq_value_text(const PGresult *res, int row, int col);
extern bool pgq_batch_start_read(PgqBatch *batch);
extern bool pgq_batch_settle(PgqBatch *batch, bool keep);

/* flavours.c */
extern bool pgq_flavour_check_position(PgqConsumer *consumer);
extern int	pgq_flavour_before_batch(PgqBatch *batch);
extern bool pgq_flavour_after_batch(PgqBatch *batch);
extern bool pgq_consumer_rewind(PgqConsumer *consumer);
extern bool pgq_consumer_reset(PgqConsumer *consumer);

/* tracking.c */
extern bool pgq_tracking_read(PgqConsumer *consumer, int64_t *tick, bool *found);
extern bool pgq_tracking_write(PgqConsumer *consumer, int64_t tick);
extern bool pgq_tracking_remove(PgqConsumer *consumer);

#endif							/* LIBPGQ_INT_H */
