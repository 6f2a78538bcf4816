-- Schema of the londiste extension: the replication state of one node's
-- tables and sequences, kept per pgq_node queue.  Functions are in
-- functions.sql, privileges in grants.sql; the Makefile concatenates the
-- three into londiste--<version>.sql.
--
-- Table names are stored as "schema.name" text, unquoted, exactly as the
-- pgq triggers put them into ev_extra1, because that is the key the
-- replay side routes events by.

\echo Use "CREATE EXTENSION londiste" to load this file. \quit

CREATE SCHEMA londiste;

-- One row per table known to a queue.  On the root every registered
-- table has a row; elsewhere rows arrive with londiste.add-table events
-- and become local when the node subscribes.  merge_state is the copy
-- state machine (NULL, in-copy, catching-up, wanna-sync:<tick>,
-- do-sync:<tick>, ok); dropped_ddl holds what the lead copy process
-- dropped and must re-create, so it only makes sense during a copy.
CREATE TABLE londiste.table_info (
    nr              serial NOT NULL,
    queue_name      text NOT NULL,
    table_name      text NOT NULL,
    local           boolean NOT NULL DEFAULT false,
    merge_state     text,
    custom_snapshot text,
    dropped_ddl     text,
    table_attrs     text,
    dest_table      text,
    PRIMARY KEY (queue_name, table_name),
    FOREIGN KEY (queue_name) REFERENCES pgq_node.node_info (queue_name)
        ON DELETE CASCADE,
    CONSTRAINT table_info_check
        CHECK (dropped_ddl IS NULL OR merge_state IN ('in-copy', 'catching-up'))
);

-- Sequences of a queue.  last_value is the value the root published last:
-- the root publishes ahead of the real value, so that subscribers never
-- hand out a number the root has used.
CREATE TABLE londiste.seq_info (
    nr              serial NOT NULL,
    queue_name      text NOT NULL,
    seq_name        text NOT NULL,
    local           boolean NOT NULL DEFAULT false,
    last_value      int8 NOT NULL,
    PRIMARY KEY (queue_name, seq_name),
    FOREIGN KEY (queue_name) REFERENCES pgq_node.node_info (queue_name)
        ON DELETE CASCADE
);

-- Scripts run by "londiste execute".  The key is the file name alone: a
-- script arriving through several queues of one database runs once.
CREATE TABLE londiste.applied_execute (
    queue_name      text NOT NULL,
    execute_file    text NOT NULL,
    execute_time    timestamptz NOT NULL DEFAULT now(),
    execute_sql     text NOT NULL,
    execute_attrs   text,
    PRIMARY KEY (execute_file)
);

-- Foreign keys dropped for a copy, to be re-created once both of their
-- tables are in sync.  Not per queue: a table has one set of constraints.
CREATE TABLE londiste.pending_fkeys (
    from_table      text NOT NULL,
    to_table        text NOT NULL,
    fkey_name       text NOT NULL,
    fkey_def        text NOT NULL,
    PRIMARY KEY (from_table, fkey_name)
);

-- The registration state is data: pg_dump must keep it.
SELECT pg_catalog.pg_extension_config_dump('londiste.table_info', '');
SELECT pg_catalog.pg_extension_config_dump('londiste.seq_info', '');
SELECT pg_catalog.pg_extension_config_dump('londiste.applied_execute', '');
SELECT pg_catalog.pg_extension_config_dump('londiste.pending_fkeys', '');
