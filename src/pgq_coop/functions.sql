-- Functions of the pgq_coop extension.
--
-- Those that write pgq's tables are security definer, so that pgq_reader
-- needs no rights on them, and run under a pinned search_path: the SQL
-- ones qualify every name and operator, the C ones (coop.c) every name,
-- as pgq's own C functions do.  The short forms of next_batch and
-- next_batch_custom only fill in defaults and run with the caller's
-- rights, as in pgq_coop 3.4.
--
-- Lock order (functions_admin.sql, before pgq.register_consumer_at): the
-- queue row, consumer names, subscription rows (the main consumer's before
-- its members'), retry rows.  Every function here share-locks the queue
-- row before any subscription row, registration locks both consumer names
-- before any subscription row, and every function that takes, moves or
-- removes a member's batch locks the main consumer's row first: that row
-- serialises the whole group, so two members never hand out the same
-- batch and a member never disappears under a session taking over its
-- batch.

-- Make subconsumer i_subconsumer_name a member of consumer i_consumer_name
-- on the queue, registering the consumer itself if needed.  Returns 1 if
-- the member is new, 0 if the name was registered already.
CREATE FUNCTION pgq_coop.register_subconsumer(i_queue_name text,
                                              i_consumer_name text,
                                              i_subconsumer_name text)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_member text := i_consumer_name OPERATOR(pg_catalog.||) '.'
                     OPERATOR(pg_catalog.||) i_subconsumer_name;
    v_main record;
    v_new integer;
BEGIN
    -- pgq.register_consumer locks a consumer name and then its
    -- subscription, so calling it for the two consumers in turn would lock
    -- the second name after the first subscription row.  The names that
    -- exist are therefore locked here first.  A member without a
    -- subscription is registered before the consumer: a name it lacks is
    -- then created, and its row inserted (unseen by others), before the
    -- consumer's row is locked.  An existing member comes after the
    -- consumer, whose row goes first.  A missing queue or a NULL name is
    -- left for pgq.register_consumer to report.
    PERFORM 1
       FROM pgq.queue q
      WHERE q.queue_name OPERATOR(pg_catalog.=) i_queue_name
        FOR NO KEY UPDATE;
    PERFORM 1
       FROM pgq.consumer c
      WHERE c.co_name OPERATOR(pg_catalog.=) ANY (ARRAY[i_consumer_name, v_member])
      ORDER BY c.co_name
        FOR NO KEY UPDATE;
    PERFORM 1
       FROM pgq.subscription s
       JOIN pgq.queue q ON q.queue_id OPERATOR(pg_catalog.=) s.sub_queue
       JOIN pgq.consumer c ON c.co_id OPERATOR(pg_catalog.=) s.sub_consumer
      WHERE q.queue_name OPERATOR(pg_catalog.=) i_queue_name
        AND c.co_name OPERATOR(pg_catalog.=) v_member;
    IF FOUND THEN
        PERFORM pgq.register_consumer(i_queue_name, i_consumer_name);
        v_new := pgq.register_consumer(i_queue_name, v_member);
    ELSE
        v_new := pgq.register_consumer(i_queue_name, v_member);
        PERFORM pgq.register_consumer(i_queue_name, i_consumer_name);
    END IF;
    IF v_new OPERATOR(pg_catalog.=) 1 THEN
        SELECT s.sub_queue, s.sub_id INTO v_main
          FROM pgq.subscription s
          JOIN pgq.queue q ON q.queue_id OPERATOR(pg_catalog.=) s.sub_queue
          JOIN pgq.consumer c ON c.co_id OPERATOR(pg_catalog.=) s.sub_consumer
         WHERE q.queue_name OPERATOR(pg_catalog.=) i_queue_name
           AND c.co_name OPERATOR(pg_catalog.=) i_consumer_name;
        -- Sharing the sub_id is what makes it a member; an idle member has
        -- no position of its own, so that rotation does not wait for it.
        UPDATE pgq.subscription s
           SET sub_id = v_main.sub_id, sub_last_tick = NULL,
               sub_next_tick = NULL
          FROM pgq.consumer c
         WHERE s.sub_queue OPERATOR(pg_catalog.=) v_main.sub_queue
           AND s.sub_consumer OPERATOR(pg_catalog.=) c.co_id
           AND c.co_name OPERATOR(pg_catalog.=) v_member;
    END IF;
    RETURN v_new;
END
$$;

-- Remove a member from its group.  Returns 0 if the queue, or a member of
-- that name in the consumer's group, does not exist.  A member with an open
-- batch is removed only when i_batch_handling is 1, and its batch is then
-- lost to the group; any other value is an error.
CREATE FUNCTION pgq_coop.unregister_subconsumer(i_queue_name text,
                                                i_consumer_name text,
                                                i_subconsumer_name text,
                                                i_batch_handling integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_member text := i_consumer_name OPERATOR(pg_catalog.||) '.'
                     OPERATOR(pg_catalog.||) i_subconsumer_name;
    v_queue_id integer;
    v_main record;
    v_sub record;
BEGIN
    SELECT q.queue_id INTO v_queue_id
      FROM pgq.queue q
     WHERE q.queue_name OPERATOR(pg_catalog.=) i_queue_name
       FOR KEY SHARE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    SELECT s.sub_id INTO v_main
      FROM pgq.subscription s
      JOIN pgq.consumer c ON c.co_id OPERATOR(pg_catalog.=) s.sub_consumer
     WHERE s.sub_queue OPERATOR(pg_catalog.=) v_queue_id
       AND c.co_name OPERATOR(pg_catalog.=) i_consumer_name
       FOR UPDATE OF s;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    -- A plain consumer whose name merely looks like "C.S" is left alone:
    -- deleting its row would orphan its retry events.
    SELECT s.sub_consumer, s.sub_batch INTO v_sub
      FROM pgq.subscription s
      JOIN pgq.consumer c ON c.co_id OPERATOR(pg_catalog.=) s.sub_consumer
     WHERE s.sub_queue OPERATOR(pg_catalog.=) v_queue_id
       AND s.sub_id OPERATOR(pg_catalog.=) v_main.sub_id
       AND c.co_name OPERATOR(pg_catalog.=) v_member
       FOR UPDATE OF s;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    IF v_sub.sub_batch IS NOT NULL
       AND i_batch_handling IS DISTINCT FROM 1 THEN
        RAISE EXCEPTION 'subconsumer has active batch'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = pg_catalog.format('Subconsumer "%s" holds batch %s.',
                                             v_member, v_sub.sub_batch),
                  HINT = 'Finish the batch first, or pass i_batch_handling = 1 to drop it.';
    END IF;
    DELETE FROM pgq.subscription s
     WHERE s.sub_queue OPERATOR(pg_catalog.=) v_queue_id
       AND s.sub_consumer OPERATOR(pg_catalog.=) v_sub.sub_consumer;
    RETURN 1;
END
$$;

-- Give the member a batch: its open one if it has one, else (with
-- i_dead_interval) the open batch of a member idle for longer than that,
-- else a new batch of the main consumer, which is closed on the main
-- consumer at once so that the next member gets the batch after it.
-- NULL when there is nothing to hand out yet.  The consumer and the member
-- are registered on first use.  Every member calls this for every batch,
-- so it is written in C (src/pgq_coop/coop.c).
CREATE FUNCTION pgq_coop.next_batch_custom(i_queue_name text,
                                           i_consumer_name text,
                                           i_subconsumer_name text,
                                           i_min_lag interval,
                                           i_min_count integer,
                                           i_min_interval interval,
                                           i_dead_interval interval)
RETURNS bigint
AS 'MODULE_PATHNAME', 'pgq_coop_next_batch_custom'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgq_coop.next_batch_custom(i_queue_name text,
                                           i_consumer_name text,
                                           i_subconsumer_name text,
                                           i_min_lag interval,
                                           i_min_count integer,
                                           i_min_interval interval)
RETURNS bigint
LANGUAGE sql
RETURN pgq_coop.next_batch_custom(i_queue_name, i_consumer_name,
                                  i_subconsumer_name, i_min_lag, i_min_count,
                                  i_min_interval, NULL);

CREATE FUNCTION pgq_coop.next_batch(i_queue_name text, i_consumer_name text,
                                    i_subconsumer_name text)
RETURNS bigint
LANGUAGE sql
RETURN pgq_coop.next_batch_custom(i_queue_name, i_consumer_name,
                                  i_subconsumer_name, NULL, NULL, NULL, NULL);

CREATE FUNCTION pgq_coop.next_batch(i_queue_name text, i_consumer_name text,
                                    i_subconsumer_name text,
                                    i_dead_interval interval)
RETURNS bigint
LANGUAGE sql
RETURN pgq_coop.next_batch_custom(i_queue_name, i_consumer_name,
                                  i_subconsumer_name, NULL, NULL, NULL,
                                  i_dead_interval);

-- Close a member's batch; the member goes back to having no position.
-- An unknown or already finished batch is a WARNING and 0, not an error,
-- as with pgq.finish_batch: clients finish again after reconnecting.  In C
-- (src/pgq_coop/coop.c) like next_batch_custom.
CREATE FUNCTION pgq_coop.finish_batch(i_batch_id bigint)
RETURNS integer
AS 'MODULE_PATHNAME', 'pgq_coop_finish_batch'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

CREATE FUNCTION pgq_coop.version()
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT e.extversion FROM pg_catalog.pg_extension e
     WHERE e.extname OPERATOR(pg_catalog.=) 'pgq_coop'
$$;
