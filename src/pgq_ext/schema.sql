-- Schema objects of the pgq_ext extension.  pgq_ext lives in a consumer's
-- target database: the consumer records there, in the same transaction as
-- the changes it applies, how far it got, so that after a crash between
-- that commit and pgq.finish_batch() on the queue database it can tell an
-- applied batch from a lost one.  It calls nothing of pgq; it requires pgq
-- only for the pgq_writer role its functions are granted to.  Functions
-- are in functions.sql, privileges in grants.sql; the Makefile
-- concatenates the three into pgq_ext--<version>.sql.

\echo Use "CREATE EXTENSION pgq_ext" to load this file. \quit

CREATE SCHEMA pgq_ext;

-- Every table is keyed by consumer and subconsumer; '' is the subconsumer
-- of a plain (non-cooperative) consumer, so the default serves the short
-- forms of the functions and rows written before subconsumers existed.

-- Last tick whose batch the consumer applied.
CREATE TABLE pgq_ext.completed_tick (
    consumer_id     text    NOT NULL,
    subconsumer_id  text    NOT NULL DEFAULT '',
    last_tick_id    bigint  NOT NULL,
    CONSTRAINT completed_tick_pkey PRIMARY KEY (consumer_id, subconsumer_id)
);

-- Last batch the consumer applied; batches come in order, so one id is
-- enough.
CREATE TABLE pgq_ext.completed_batch (
    consumer_id     text    NOT NULL,
    subconsumer_id  text    NOT NULL DEFAULT '',
    last_batch_id   bigint  NOT NULL,
    CONSTRAINT completed_batch_pkey PRIMARY KEY (consumer_id, subconsumer_id)
);

-- Events applied one by one, only for the batch in partial_batch: rows of
-- earlier batches are deleted when the consumer moves on.
CREATE TABLE pgq_ext.completed_event (
    consumer_id     text    NOT NULL,
    subconsumer_id  text    NOT NULL DEFAULT '',
    batch_id        bigint  NOT NULL,
    event_id        bigint  NOT NULL,
    CONSTRAINT completed_event_pkey
        PRIMARY KEY (consumer_id, subconsumer_id, batch_id, event_id)
);

-- The batch whose events completed_event currently holds.
CREATE TABLE pgq_ext.partial_batch (
    consumer_id     text    NOT NULL,
    subconsumer_id  text    NOT NULL DEFAULT '',
    cur_batch_id    bigint  NOT NULL,
    CONSTRAINT partial_batch_pkey PRIMARY KEY (consumer_id, subconsumer_id)
);

-- The positions are the consumer's data: pg_dump must carry every row.
SELECT pg_catalog.pg_extension_config_dump('pgq_ext.completed_tick', '');
SELECT pg_catalog.pg_extension_config_dump('pgq_ext.completed_batch', '');
SELECT pg_catalog.pg_extension_config_dump('pgq_ext.completed_event', '');
SELECT pg_catalog.pg_extension_config_dump('pgq_ext.partial_batch', '');
