-- Schema of the pgq_node extension: the state of cascaded queues.  A
-- cascaded queue has the same name on every node (database) of the
-- cascade; these tables say where the other nodes are, what this node is
-- (root, branch or leaf), which consumers write into it and which nodes
-- read from it.  Functions are in functions.sql, privileges in grants.sql;
-- the Makefile concatenates the three into pgq_node--<version>.sql.

\echo Use "CREATE EXTENSION pgq_node" to load this file. \quit

CREATE SCHEMA pgq_node;

-- Every node of a cascade as known here, with its libpq connect string.
CREATE TABLE pgq_node.node_location (
    queue_name      text    NOT NULL,
    node_name       text    NOT NULL,
    node_location   text    NOT NULL,
    dead            boolean NOT NULL DEFAULT false,

    PRIMARY KEY (queue_name, node_name)
);

-- This node, one row per cascaded queue.  worker_name is the consumer that
-- maintains the node; combined_queue is the queue a merge-leaf copies into,
-- which only a leaf has; node_attrs are urlencoded settings for the worker.
CREATE TABLE pgq_node.node_info (
    queue_name      text    NOT NULL PRIMARY KEY,
    node_type       text    NOT NULL,
    node_name       text    NOT NULL,
    worker_name     text,
    combined_queue  text,
    node_attrs      text,

    FOREIGN KEY (queue_name, node_name) REFERENCES pgq_node.node_location,
    CHECK (node_type IN ('root', 'branch', 'leaf')),
    CHECK (CASE WHEN node_type = 'root'
                     THEN worker_name IS NOT NULL AND combined_queue IS NULL
                WHEN node_type = 'branch'
                     THEN worker_name IS NOT NULL AND combined_queue IS NULL
                WHEN node_type = 'leaf'
                     THEN worker_name IS NOT NULL
                ELSE false END)
);

-- Cascaded consumers (the worker and any others) that write into this
-- node: where they read from and the last tick they committed here.
CREATE TABLE pgq_node.local_state (
    queue_name      text    NOT NULL,
    consumer_name   text    NOT NULL,
    provider_node   text    NOT NULL,
    last_tick_id    bigint  NOT NULL,
    cur_error       text,
    paused          boolean NOT NULL DEFAULT false,
    uptodate        boolean NOT NULL DEFAULT false,

    PRIMARY KEY (queue_name, consumer_name),
    FOREIGN KEY (queue_name) REFERENCES pgq_node.node_info,
    FOREIGN KEY (queue_name, provider_node) REFERENCES pgq_node.node_location
);

-- Nodes that read from this one: the pgq consumer their worker reads
-- with, and the consumer that holds their watermark.
CREATE TABLE pgq_node.subscriber_info (
    queue_name      text    NOT NULL,
    subscriber_node text    NOT NULL,
    worker_name     text    NOT NULL,
    watermark_name  text    NOT NULL,

    PRIMARY KEY (queue_name, subscriber_node),
    FOREIGN KEY (queue_name) REFERENCES pgq_node.node_info,
    FOREIGN KEY (queue_name, subscriber_node) REFERENCES pgq_node.node_location,
    FOREIGN KEY (worker_name) REFERENCES pgq.consumer (co_name),
    FOREIGN KEY (watermark_name) REFERENCES pgq.consumer (co_name)
);

-- The cascade's configuration is user data: pg_dump keeps it.
SELECT pg_catalog.pg_extension_config_dump('pgq_node.node_location', '');
SELECT pg_catalog.pg_extension_config_dump('pgq_node.node_info', '');
SELECT pg_catalog.pg_extension_config_dump('pgq_node.local_state', '');
SELECT pg_catalog.pg_extension_config_dump('pgq_node.subscriber_info', '');
