-- Functions of the pgq_node extension.
--
-- All but is_root_node, is_leaf_node, maint_watermark, upgrade_schema and
-- version are security definer, as in pgq_node 3.5, so that a worker needs
-- no rights on the tables.  Every function runs under a pinned search_path
-- with every name and operator qualified.
--
-- Lock order.  A cascade worker moves positions (set_consumer_completed on
-- its target, set_subscriber_watermark on its provider, the cascade events
-- it applies) while an administrator or the ticker changes the node
-- (set_global_watermark, maint_watermark, demote_root, promote_branch,
-- drop_node, subscriber and location changes).  All of them lock in this
-- order, ahead of pgq's own (pgq.queue row, pgq.consumer row,
-- pgq.subscription rows, see src/pgq/sql/functions_admin.sql):
--
--   1. the pgq_node.node_info row of the queue: FOR UPDATE by drop_node,
--      which deletes it; FOR NO KEY UPDATE by every other function that
--      changes the node, its subscribers, its locations or a pgq position
--      (pgq's locks come after it).  NO KEY UPDATE leaves the foreign key
--      checks of local_state and subscriber_info through.  maint_watermark,
--      run by the ticker, skips a row that is locked.
--   2. pgq_node.node_location, subscriber_info rows.
--   3. pgq's locks, through pgq.register_consumer_at, unregister_consumer,
--      drop_queue, ticker and insert_event.
--   4. pgq_node.local_state rows.  The functions a consumer calls per batch
--      (set_consumer_completed, set_consumer_error, set_consumer_uptodate,
--      set_consumer_paused) lock only their own row, so a worker that
--      applied cascade events (which took step 1) and then completes its
--      batch keeps to the order.
--
-- pgq_node 3.5 deleted local_state and subscriber_info rows in drop_node
-- before it locked node_info, and set_subscriber_watermark and
-- unregister_subscriber locked nothing; see doc/pgq_node.md for what that
-- broke.

-- ---------------------------------------------------------------------------
-- Helpers
-- ---------------------------------------------------------------------------

-- Positions on the local queue: the lowest tick any consumer but
-- .global_watermark still needs (the latest tick when there is none), the
-- position of .global_watermark, and the latest tick.  NULLs when the
-- local queue does not exist.
CREATE FUNCTION pgq_node.queue_watermarks(i_queue_name text,
                                          OUT local_watermark bigint,
                                          OUT global_watermark bigint,
                                          OUT queue_top bigint)
RETURNS record
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(w.local_wm, top.tick_id), w.global_wm, top.tick_id
      FROM pgq.queue q
      LEFT JOIN LATERAL (
            SELECT pg_catalog.min(s.sub_last_tick)
                     FILTER (WHERE c.co_name OPERATOR(pg_catalog.<>) '.global_watermark') AS local_wm,
                   pg_catalog.min(s.sub_last_tick)
                     FILTER (WHERE c.co_name OPERATOR(pg_catalog.=) '.global_watermark') AS global_wm
              FROM pgq.subscription s
              JOIN pgq.consumer c ON c.co_id OPERATOR(pg_catalog.=) s.sub_consumer
             WHERE s.sub_queue OPERATOR(pg_catalog.=) q.queue_id) w ON true
      LEFT JOIN LATERAL (
            SELECT t.tick_id
              FROM pgq.tick t
             WHERE t.tick_queue OPERATOR(pg_catalog.=) q.queue_id
             ORDER BY t.tick_queue DESC, t.tick_id DESC
             LIMIT 1) top ON true
     WHERE q.queue_name OPERATOR(pg_catalog.=) i_queue_name
$$;

-- ---------------------------------------------------------------------------
-- Node map
-- ---------------------------------------------------------------------------

-- Add a node's location or update it (a NULL location keeps the old one).
-- The root announces it downstream with a pgq.location-info event.
CREATE FUNCTION pgq_node.register_location(i_queue_name text,
                                           i_node_name text,
                                           i_node_location text,
                                           i_dead boolean,
                                           OUT ret_code integer,
                                           OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_node_type text;
BEGIN
    SELECT n.node_type INTO v_node_type
      FROM pgq_node.node_info n
     WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name
       FOR NO KEY UPDATE;

    UPDATE pgq_node.node_location l
       SET node_location = coalesce(i_node_location, l.node_location),
           dead = i_dead
     WHERE l.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND l.node_name OPERATOR(pg_catalog.=) i_node_name;
    IF NOT FOUND AND i_node_location IS NOT NULL THEN
        INSERT INTO pgq_node.node_location (queue_name, node_name, node_location, dead)
        VALUES (i_queue_name, i_node_name, i_node_location, i_dead);
    END IF;

    IF v_node_type OPERATOR(pg_catalog.=) 'root' THEN
        PERFORM pgq.insert_event(i_queue_name, 'pgq.location-info', i_node_name,
                                 i_queue_name, i_node_location, i_dead::text, NULL);
    END IF;

    ret_code := 200;
    ret_note := 'Location registered';
END
$$;

-- Forget a node's location, and its subscription if it has one.  The
-- local node and its provider cannot be forgotten.  The root announces it
-- downstream with a pgq.unregister-location event.
CREATE FUNCTION pgq_node.unregister_location(i_queue_name text,
                                             i_node_name text,
                                             OUT ret_code integer,
                                             OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_node record;
BEGIN
    SELECT n.node_name, n.node_type, s.provider_node INTO v_node
      FROM pgq_node.node_info n
      LEFT JOIN pgq_node.local_state s
             ON s.queue_name OPERATOR(pg_catalog.=) n.queue_name
            AND s.consumer_name OPERATOR(pg_catalog.=) n.worker_name
     WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name
       FOR NO KEY UPDATE OF n;
    IF v_node.node_name OPERATOR(pg_catalog.=) i_node_name THEN
        ret_code := 403;
        ret_note := 'Cannot drop node''s own location';
        RETURN;
    END IF;
    IF v_node.provider_node OPERATOR(pg_catalog.=) i_node_name THEN
        ret_code := 403;
        ret_note := 'Cannot drop location of node''s parent';
        RETURN;
    END IF;

    -- a subscription left behind would refer to the location
    PERFORM pgq_node.unregister_subscriber(i_queue_name, i_node_name);

    DELETE FROM pgq_node.node_location l
     WHERE l.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND l.node_name OPERATOR(pg_catalog.=) i_node_name;
    IF FOUND THEN
        ret_code := 200;
        ret_note := 'Ok';
    ELSE
        ret_code := 301;
        ret_note := 'Location not found: ' OPERATOR(pg_catalog.||) i_queue_name
                    OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) i_node_name;
    END IF;

    IF v_node.node_type OPERATOR(pg_catalog.=) 'root' THEN
        PERFORM pgq.insert_event(i_queue_name, 'pgq.unregister-location', i_node_name,
                                 i_queue_name, NULL, NULL, NULL);
    END IF;
END
$$;

-- Every node of the cascade known here, in no particular order.
CREATE FUNCTION pgq_node.get_queue_locations(i_queue_name text,
                                             OUT node_name text,
                                             OUT node_location text,
                                             OUT dead boolean)
RETURNS SETOF record
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.node_name, l.node_location, l.dead
      FROM pgq_node.node_location l
     WHERE l.queue_name OPERATOR(pg_catalog.=) i_queue_name
$$;

-- ---------------------------------------------------------------------------
-- Node lifecycle
-- ---------------------------------------------------------------------------

-- Make this database a node of the cascade.  A root gets a local queue it
-- ticks itself, a branch one whose ticks are copied from its provider
-- (starting at the global watermark), a leaf none.  The node's own and
-- its provider's locations must be registered first.
CREATE FUNCTION pgq_node.create_node(i_queue_name text,
                                     i_node_type text,
                                     i_node_name text,
                                     i_worker_name text,
                                     i_provider_name text,
                                     i_global_watermark bigint,
                                     i_combined_queue text,
                                     OUT ret_code integer,
                                     OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_global_wm bigint := i_global_watermark;
    v_provider text := i_provider_name;
BEGIN
    PERFORM 1 FROM pgq_node.node_info n
      WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name;
    IF FOUND THEN
        ret_code := 401;
        ret_note := 'Node already initialized';
        RETURN;
    END IF;

    IF i_node_type OPERATOR(pg_catalog.=) 'root' THEN
        IF i_provider_name IS NOT NULL OR i_global_watermark IS NOT NULL
           OR i_combined_queue IS NOT NULL THEN
            ret_code := 401;
            ret_note := 'unexpected args for ' OPERATOR(pg_catalog.||) i_node_type;
            RETURN;
        END IF;
        PERFORM pgq.create_queue(i_queue_name);
        PERFORM pgq.register_consumer(i_queue_name, '.global_watermark');
        SELECT w.global_watermark INTO v_global_wm
          FROM pgq_node.queue_watermarks(i_queue_name) w;
        -- the root's worker reads the root's own queue
        v_provider := i_node_name;
    ELSIF i_node_type OPERATOR(pg_catalog.=) 'branch' THEN
        IF i_provider_name IS NULL THEN
            ret_code := 401;
            ret_note := 'provider not set for ' OPERATOR(pg_catalog.||) i_node_type;
            RETURN;
        END IF;
        IF i_global_watermark IS NULL THEN
            ret_code := 401;
            ret_note := 'global watermark not set for ' OPERATOR(pg_catalog.||) i_node_type;
            RETURN;
        END IF;
        PERFORM pgq.create_queue(i_queue_name);
        UPDATE pgq.queue q
           SET queue_external_ticker = true,
               queue_disable_insert = true
         WHERE q.queue_name OPERATOR(pg_catalog.=) i_queue_name;
        -- the provider's tick the branch starts from, so that the first
        -- batch copied ends on a tick that exists here too
        IF i_global_watermark OPERATOR(pg_catalog.>) 1 THEN
            PERFORM pgq.ticker(i_queue_name, i_global_watermark, pg_catalog.now(), 1);
        END IF;
        PERFORM pgq.register_consumer_at(i_queue_name, '.global_watermark',
                                         i_global_watermark);
    ELSIF i_node_type OPERATOR(pg_catalog.=) 'leaf' THEN
        IF i_combined_queue IS NOT NULL THEN
            PERFORM 1 FROM pgq.queue q
              WHERE q.queue_name OPERATOR(pg_catalog.=) i_combined_queue;
            IF NOT FOUND THEN
                ret_code := 401;
                ret_note := 'non-existing queue on leaf side: '
                            OPERATOR(pg_catalog.||) i_combined_queue;
                RETURN;
            END IF;
        END IF;
    END IF;
    -- any other type fails the table's check constraint here

    INSERT INTO pgq_node.node_info (queue_name, node_type, node_name,
                                    worker_name, combined_queue)
    VALUES (i_queue_name, i_node_type, i_node_name, i_worker_name, i_combined_queue);

    SELECT f.ret_code, f.ret_note INTO ret_code, ret_note
      FROM pgq_node.register_consumer(i_queue_name, i_worker_name,
                                      v_provider, v_global_wm) f;
    IF ret_code OPERATOR(pg_catalog.<>) 200 THEN
        RETURN;
    END IF;

    ret_code := 200;
    ret_note := pg_catalog.format('Node "%s" initialized for queue "%s" with type "%s"',
                                  i_node_name, i_queue_name, i_node_type);
END
$$;

-- Remove a node.  On the node itself this removes all of the queue's state
-- and its local queue; on another member it removes the node's
-- subscription and location (not if it is this node's provider).
CREATE FUNCTION pgq_node.drop_node(i_queue_name text,
                                   i_node_name text,
                                   OUT ret_code integer,
                                   OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_is_local boolean;
    v_is_provider boolean;
BEGIN
    SELECT n.node_name OPERATOR(pg_catalog.=) i_node_name,
           s.provider_node OPERATOR(pg_catalog.=) i_node_name
      INTO v_is_local, v_is_provider
      FROM pgq_node.node_info n
      LEFT JOIN pgq_node.local_state s
             ON s.queue_name OPERATOR(pg_catalog.=) n.queue_name
            AND s.consumer_name OPERATOR(pg_catalog.=) n.worker_name
     WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name
       FOR UPDATE OF n;
    IF NOT FOUND THEN
        -- clean up whatever a half-done setup or drop left behind
        v_is_local := true;
        v_is_provider := false;
    END IF;

    IF v_is_local THEN
        DELETE FROM pgq_node.subscriber_info s
         WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name;
        DELETE FROM pgq_node.local_state s
         WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name;
        DELETE FROM pgq_node.node_info n
         WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name
           AND n.node_name OPERATOR(pg_catalog.=) i_node_name;
        PERFORM pgq.drop_queue(q.queue_name, true)
           FROM pgq.queue q
          WHERE q.queue_name OPERATOR(pg_catalog.=) i_queue_name;
        DELETE FROM pgq_node.node_location l
         WHERE l.queue_name OPERATOR(pg_catalog.=) i_queue_name
           AND l.node_name OPERATOR(pg_catalog.<>) i_node_name;
    ELSIF v_is_provider THEN
        ret_code := 405;
        ret_note := 'Cannot drop provider node: ' OPERATOR(pg_catalog.||) i_node_name;
        RETURN;
    ELSE
        PERFORM pgq_node.unregister_subscriber(i_queue_name, i_node_name);
    END IF;

    -- its result does not matter: the location may be gone already; on the
    -- root it tells the other nodes
    PERFORM pgq_node.unregister_location(i_queue_name, i_node_name);

    ret_code := 200;
    ret_note := 'Node dropped: ' OPERATOR(pg_catalog.||) i_node_name;
END
$$;

-- Store the worker's urlencoded settings (such as sync_watermark).
CREATE FUNCTION pgq_node.set_node_attrs(i_queue_name text,
                                        i_node_attrs text,
                                        OUT ret_code integer,
                                        OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE pgq_node.node_info n
       SET node_attrs = i_node_attrs
     WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name;
    IF NOT FOUND THEN
        ret_code := 404;
        ret_note := 'Node not found';
        RETURN;
    END IF;
    ret_code := 200;
    ret_note := 'Node attributes updated';
END
$$;

-- Turn the root into a branch of i_new_provider, in three steps, each in a
-- transaction of its own: 1 stops inserts and the local ticker, 2 waits
-- for the writers still inserting and makes a last tick over their events,
-- 3 changes the type and points the worker at the new provider.
CREATE FUNCTION pgq_node.demote_root(i_queue_name text,
                                     i_step integer,
                                     i_new_provider text,
                                     OUT ret_code integer,
                                     OUT ret_note text,
                                     OUT last_tick bigint)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_node record;
    v_queue record;
    v_event_id bigint;
BEGIN
    SELECT n.node_type, n.worker_name INTO v_node
      FROM pgq_node.node_info n
     WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        ret_code := 404;
        ret_note := 'Node not initialized for queue: ' OPERATOR(pg_catalog.||) i_queue_name;
        RETURN;
    END IF;
    IF v_node.node_type OPERATOR(pg_catalog.<>) 'root' THEN
        ret_code := 301;
        ret_note := 'Node not root';
        RETURN;
    END IF;

    IF i_step OPERATOR(pg_catalog.>) 1 THEN
        SELECT q.queue_data_pfx, q.queue_tick_seq, q.queue_event_seq INTO v_queue
          FROM pgq.queue q
         WHERE q.queue_name OPERATOR(pg_catalog.=) i_queue_name
           AND q.queue_disable_insert
           AND q.queue_external_ticker;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'steps in wrong order'
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Run step 1 first, in a transaction of its own.';
        END IF;
    END IF;

    IF i_step OPERATOR(pg_catalog.=) 1 THEN
        UPDATE pgq.queue q
           SET queue_disable_insert = true,
               queue_external_ticker = true
         WHERE q.queue_name OPERATOR(pg_catalog.=) i_queue_name;
        IF NOT FOUND THEN
            ret_code := 404;
            ret_note := 'Huh, no queue?: ' OPERATOR(pg_catalog.||) i_queue_name;
            RETURN;
        END IF;
        ret_code := 200;
        ret_note := 'Step 1: Writing disabled for: ' OPERATOR(pg_catalog.||) i_queue_name;
    ELSIF i_step OPERATOR(pg_catalog.=) 2 THEN
        -- as in 3.5, the rest of the transaction runs in the replica role,
        -- the role in which a branch's worker writes into its queue
        PERFORM pg_catalog.set_config('session_replication_role', 'replica', true);
        -- writers that started before step 1 hold the event table; waiting
        -- for them puts all their events below the last tick, and readers
        -- are not blocked
        EXECUTE pg_catalog.format('LOCK TABLE %s IN EXCLUSIVE MODE',
                                  pgq.quote_fqname(v_queue.queue_data_pfx));
        last_tick := pg_catalog.nextval(pgq.quote_fqname(v_queue.queue_tick_seq)::pg_catalog.regclass);
        v_event_id := pg_catalog.nextval(pgq.quote_fqname(v_queue.queue_event_seq)::pg_catalog.regclass);
        PERFORM pgq.ticker(i_queue_name, last_tick, pg_catalog.now(), v_event_id);
        ret_code := 200;
        ret_note := 'Step 2: Inserted last tick: ' OPERATOR(pg_catalog.||) i_queue_name;
    ELSIF i_step OPERATOR(pg_catalog.=) 3 THEN
        SELECT w.queue_top INTO last_tick
          FROM pgq_node.queue_watermarks(i_queue_name) w;
        UPDATE pgq_node.node_info n
           SET node_type = 'branch'
         WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name;
        UPDATE pgq_node.local_state s
           SET provider_node = i_new_provider,
               last_tick_id = last_tick,
               uptodate = false
         WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
           AND s.consumer_name OPERATOR(pg_catalog.=) v_node.worker_name;
        ret_code := 200;
        ret_note := 'Step 3: Demoted root to branch: ' OPERATOR(pg_catalog.||) i_queue_name;
    ELSE
        RAISE EXCEPTION 'incorrect step number'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = pg_catalog.format('Step %s was requested.', i_step),
                  HINT = 'Steps are 1, 2 and 3.';
    END IF;
END
$$;

-- Turn a branch into the root: it ticks its own queue again, from above
-- the latest tick copied, and its worker reads from itself.
CREATE FUNCTION pgq_node.promote_branch(i_queue_name text,
                                        OUT ret_code integer,
                                        OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_node record;
    v_last_tick bigint;
BEGIN
    SELECT n.node_name, n.node_type, n.worker_name INTO v_node
      FROM pgq_node.node_info n
     WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        ret_code := 404;
        ret_note := 'Node not initialized for queue: ' OPERATOR(pg_catalog.||) i_queue_name;
        RETURN;
    END IF;
    IF v_node.node_type OPERATOR(pg_catalog.<>) 'branch' THEN
        ret_code := 301;
        ret_note := 'Node not branch';
        RETURN;
    END IF;

    UPDATE pgq.queue q
       SET queue_disable_insert = false,
           queue_external_ticker = false
     WHERE q.queue_name OPERATOR(pg_catalog.=) i_queue_name;

    SELECT w.queue_top INTO v_last_tick
      FROM pgq_node.queue_watermarks(i_queue_name) w;
    -- ticks copied from the old root did not use the local sequence
    PERFORM pgq.seq_setval(q.queue_tick_seq, v_last_tick)
       FROM pgq.queue q
      WHERE q.queue_name OPERATOR(pg_catalog.=) i_queue_name;

    UPDATE pgq_node.node_info n
       SET node_type = 'root'
     WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name;
    UPDATE pgq_node.local_state s
       SET provider_node = v_node.node_name,
           last_tick_id = v_last_tick,
           uptodate = false
     WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND s.consumer_name OPERATOR(pg_catalog.=) v_node.worker_name;

    ret_code := 200;
    ret_note := 'Branch node promoted to root';
END
$$;

-- ---------------------------------------------------------------------------
-- Node information
-- ---------------------------------------------------------------------------

-- The local node of a cascaded queue, always one row: ret_code 404 with
-- every other column NULL when this database is not a node of it.
CREATE FUNCTION pgq_node.get_node_info(i_queue_name text,
                                       OUT ret_code integer,
                                       OUT ret_note text,
                                       OUT node_type text,
                                       OUT node_name text,
                                       OUT global_watermark bigint,
                                       OUT local_watermark bigint,
                                       OUT provider_node text,
                                       OUT provider_location text,
                                       OUT combined_queue text,
                                       OUT combined_type text,
                                       OUT worker_name text,
                                       OUT worker_paused boolean,
                                       OUT worker_uptodate boolean,
                                       OUT worker_last_tick bigint,
                                       OUT node_attrs text,
                                       OUT target_for text[])
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_top bigint;
BEGIN
    SELECT 100, 'Ok', n.node_type, n.node_name,
           c.node_type, c.queue_name, w.provider_node, l.node_location,
           n.worker_name, w.paused, w.uptodate, w.last_tick_id, n.node_attrs
      INTO ret_code, ret_note, node_type, node_name,
           combined_type, combined_queue, provider_node, provider_location,
           worker_name, worker_paused, worker_uptodate, worker_last_tick, node_attrs
      FROM pgq_node.node_info n
      LEFT JOIN pgq_node.node_info c
             ON c.queue_name OPERATOR(pg_catalog.=) n.combined_queue
      LEFT JOIN pgq_node.local_state w
             ON w.queue_name OPERATOR(pg_catalog.=) n.queue_name
            AND w.consumer_name OPERATOR(pg_catalog.=) n.worker_name
      LEFT JOIN pgq_node.node_location l
             ON l.queue_name OPERATOR(pg_catalog.=) w.queue_name
            AND l.node_name OPERATOR(pg_catalog.=) w.provider_node
     WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name;
    IF NOT FOUND THEN
        ret_code := 404;
        ret_note := 'Unknown queue: ' OPERATOR(pg_catalog.||) i_queue_name;
        RETURN;
    END IF;

    IF node_type OPERATOR(pg_catalog.=) 'leaf' THEN
        local_watermark := worker_last_tick;
        RETURN;
    END IF;

    SELECT w.local_watermark, w.global_watermark, w.queue_top
      INTO local_watermark, global_watermark, v_top
      FROM pgq_node.queue_watermarks(i_queue_name) w;
    SELECT pg_catalog.array_agg(t.queue_name ORDER BY t.queue_name) INTO target_for
      FROM pgq_node.node_info t
     WHERE t.combined_queue OPERATOR(pg_catalog.=) i_queue_name;
    -- the root's worker has nothing to copy: its position is the queue's
    IF node_type OPERATOR(pg_catalog.=) 'root' THEN
        worker_last_tick := v_top;
    END IF;
END
$$;

-- The local node's worker: its state and the positions it works with.
CREATE FUNCTION pgq_node.get_worker_state(i_queue_name text,
                                          OUT ret_code integer,
                                          OUT ret_note text,
                                          OUT node_type text,
                                          OUT node_name text,
                                          OUT completed_tick bigint,
                                          OUT provider_node text,
                                          OUT provider_location text,
                                          OUT paused boolean,
                                          OUT uptodate boolean,
                                          OUT cur_error text,
                                          OUT worker_name text,
                                          OUT global_watermark bigint,
                                          OUT local_watermark bigint,
                                          OUT local_queue_top bigint,
                                          OUT combined_queue text,
                                          OUT combined_type text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_state record;
BEGIN
    SELECT n.node_type, n.node_name, n.worker_name, n.combined_queue,
           s.consumer_name IS NOT NULL AS has_worker, s.last_tick_id,
           s.provider_node, s.paused, s.uptodate, s.cur_error,
           l.node_name IS NOT NULL AS has_provider, l.node_location,
           c.queue_name IS NOT NULL AS has_combined, c.node_type AS combined_type
      INTO v_state
      FROM pgq_node.node_info n
      LEFT JOIN pgq_node.local_state s
             ON s.queue_name OPERATOR(pg_catalog.=) n.queue_name
            AND s.consumer_name OPERATOR(pg_catalog.=) n.worker_name
      LEFT JOIN pgq_node.node_location l
             ON l.queue_name OPERATOR(pg_catalog.=) n.queue_name
            AND l.node_name OPERATOR(pg_catalog.=) s.provider_node
      LEFT JOIN pgq_node.node_info c
             ON c.queue_name OPERATOR(pg_catalog.=) n.combined_queue
     WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name;
    IF NOT FOUND THEN
        ret_code := 404;
        ret_note := 'Unknown queue: ' OPERATOR(pg_catalog.||) i_queue_name;
        RETURN;
    END IF;
    node_type := v_state.node_type;
    node_name := v_state.node_name;
    worker_name := v_state.worker_name;
    combined_queue := v_state.combined_queue;
    IF NOT v_state.has_worker THEN
        ret_code := 404;
        ret_note := 'Unknown consumer: ' OPERATOR(pg_catalog.||) i_queue_name
                    OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) worker_name;
        RETURN;
    END IF;
    completed_tick := v_state.last_tick_id;
    provider_node := v_state.provider_node;
    paused := v_state.paused;
    uptodate := v_state.uptodate;
    cur_error := v_state.cur_error;
    IF NOT v_state.has_provider THEN
        ret_code := 404;
        ret_note := 'Unknown provider node: ' OPERATOR(pg_catalog.||) i_queue_name
                    OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) provider_node;
        RETURN;
    END IF;
    ret_code := 100;
    ret_note := 'Ok';
    provider_location := v_state.node_location;
    IF combined_queue IS NOT NULL THEN
        IF NOT v_state.has_combined THEN
            ret_code := 404;
            ret_note := 'Combinde queue node not found: ' OPERATOR(pg_catalog.||) combined_queue;
            RETURN;
        END IF;
        combined_type := v_state.combined_type;
    END IF;

    IF node_type OPERATOR(pg_catalog.=) 'leaf' THEN
        local_watermark := completed_tick;
    ELSE
        SELECT w.local_watermark, w.global_watermark, w.queue_top
          INTO local_watermark, global_watermark, local_queue_top
          FROM pgq_node.queue_watermarks(i_queue_name) w;
    END IF;
END
$$;

-- The type of the local node of the queue; an error when this database is
-- not a node of it.
CREATE FUNCTION pgq_node.node_type_of(i_queue_name text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_type text;
BEGIN
    SELECT n.node_type INTO v_type
      FROM pgq_node.node_info n
     WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'queue does not exist: %', i_queue_name
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN v_type;
END
$$;

-- Whether the local node of the queue is the root (londiste asks).
CREATE FUNCTION pgq_node.is_root_node(i_queue_name text)
RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pgq_node.node_type_of(i_queue_name) OPERATOR(pg_catalog.=) 'root'
$$;

-- Whether the local node of the queue is a leaf.
CREATE FUNCTION pgq_node.is_leaf_node(i_queue_name text)
RETURNS boolean
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT pgq_node.node_type_of(i_queue_name) OPERATOR(pg_catalog.=) 'leaf'
$$;

-- The nodes that read from this one, by name, with their watermarks.
CREATE FUNCTION pgq_node.get_subscriber_info(i_queue_name text,
                                             OUT node_name text,
                                             OUT worker_name text,
                                             OUT node_watermark bigint)
RETURNS SETOF record
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT si.subscriber_node, si.worker_name,
           (SELECT s.sub_last_tick
              FROM pgq.subscription s
              JOIN pgq.queue q ON q.queue_id OPERATOR(pg_catalog.=) s.sub_queue
              JOIN pgq.consumer c ON c.co_id OPERATOR(pg_catalog.=) s.sub_consumer
             WHERE q.queue_name OPERATOR(pg_catalog.=) i_queue_name
               AND c.co_name OPERATOR(pg_catalog.=) si.watermark_name)
      FROM pgq_node.subscriber_info si
     WHERE si.queue_name OPERATOR(pg_catalog.=) i_queue_name
     ORDER BY si.subscriber_node
$$;

-- The cascaded consumers that write into this node, by name.
CREATE FUNCTION pgq_node.get_consumer_info(i_queue_name text,
                                           OUT consumer_name text,
                                           OUT provider_node text,
                                           OUT last_tick_id bigint,
                                           OUT paused boolean,
                                           OUT uptodate boolean,
                                           OUT cur_error text)
RETURNS SETOF record
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT s.consumer_name, s.provider_node, s.last_tick_id,
           s.paused, s.uptodate, s.cur_error
      FROM pgq_node.local_state s
     WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
     ORDER BY s.consumer_name
$$;

-- The installed version of the extension.
CREATE FUNCTION pgq_node.version()
RETURNS text
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT e.extversion::text FROM pg_catalog.pg_extension e
     WHERE e.extname OPERATOR(pg_catalog.=) 'pgq_node'
$$;

-- Bring tables made by old versions up to date; returns the number of
-- changes.  pgq_node 3.0 had no node_attrs.
CREATE FUNCTION pgq_node.upgrade_schema()
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM 1 FROM pg_catalog.pg_attribute a
      WHERE a.attrelid OPERATOR(pg_catalog.=) 'pgq_node.node_info'::pg_catalog.regclass
        AND a.attname OPERATOR(pg_catalog.=) 'node_attrs'
        AND NOT a.attisdropped;
    IF FOUND THEN
        RETURN 0;
    END IF;
    ALTER TABLE pgq_node.node_info ADD COLUMN node_attrs text;
    RETURN 1;
END
$$;

-- ---------------------------------------------------------------------------
-- Provider side: called by the workers and administrators of subscribers
-- ---------------------------------------------------------------------------

-- Let node i_remote_node_name read from this one with consumer
-- i_remote_worker_name, from i_custom_tick_id or else the global
-- watermark, which it also gets back.
CREATE FUNCTION pgq_node.register_subscriber(i_queue_name text,
                                             i_remote_node_name text,
                                             i_remote_worker_name text,
                                             i_custom_tick_id bigint,
                                             OUT ret_code integer,
                                             OUT ret_note text,
                                             OUT global_watermark bigint)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_node_type text;
    v_wm_name text := '.' OPERATOR(pg_catalog.||) i_remote_node_name
                      OPERATOR(pg_catalog.||) '.watermark';
BEGIN
    SELECT n.node_type INTO v_node_type
      FROM pgq_node.node_info n
     WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        ret_code := 404;
        ret_note := 'Unknown queue: ' OPERATOR(pg_catalog.||) i_queue_name;
        RETURN;
    END IF;
    SELECT w.global_watermark INTO global_watermark
      FROM pgq_node.queue_watermarks(i_queue_name) w;
    IF v_node_type OPERATOR(pg_catalog.<>) ALL (ARRAY['root', 'branch']) THEN
        ret_code := 401;
        ret_note := 'Cannot subscribe to ' OPERATOR(pg_catalog.||) v_node_type
                    OPERATOR(pg_catalog.||) ' node';
        RETURN;
    END IF;

    PERFORM pgq.register_consumer_at(i_queue_name, v_wm_name, global_watermark);
    PERFORM pgq.register_consumer_at(i_queue_name, i_remote_worker_name,
                                     coalesce(i_custom_tick_id, global_watermark));
    INSERT INTO pgq_node.subscriber_info (queue_name, subscriber_node,
                                          worker_name, watermark_name)
    VALUES (i_queue_name, i_remote_node_name, i_remote_worker_name, v_wm_name);

    ret_code := 200;
    ret_note := 'Subscriber registered: ' OPERATOR(pg_catalog.||) i_remote_node_name;
END
$$;

-- Stop node i_remote_node_name from reading from this one.
CREATE FUNCTION pgq_node.unregister_subscriber(i_queue_name text,
                                               i_remote_node_name text,
                                               OUT ret_code integer,
                                               OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_worker_name text;
BEGIN
    -- step 1 of the lock order: a set_subscriber_watermark waiting for us
    -- must see the subscription gone rather than register it again
    PERFORM 1 FROM pgq_node.node_info n
      WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name
        FOR NO KEY UPDATE;
    DELETE FROM pgq_node.subscriber_info s
     WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND s.subscriber_node OPERATOR(pg_catalog.=) i_remote_node_name
    RETURNING s.worker_name INTO v_worker_name;
    IF NOT FOUND THEN
        ret_code := 304;
        ret_note := 'Subscriber not found';
        RETURN;
    END IF;

    PERFORM pgq.unregister_consumer(i_queue_name,
                                    '.' OPERATOR(pg_catalog.||) i_remote_node_name
                                    OPERATOR(pg_catalog.||) '.watermark');
    PERFORM pgq.unregister_consumer(i_queue_name, v_worker_name);

    ret_code := 200;
    ret_note := 'Subscriber unregistered: ' OPERATOR(pg_catalog.||) i_remote_node_name;
END
$$;

-- A subscriber reports the lowest tick it and the nodes below it still
-- need; the watermark only moves forward.
CREATE FUNCTION pgq_node.set_subscriber_watermark(i_queue_name text,
                                                  i_node_name text,
                                                  i_watermark bigint,
                                                  OUT ret_code integer,
                                                  OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_wm_name text := '.' OPERATOR(pg_catalog.||) i_node_name
                      OPERATOR(pg_catalog.||) '.watermark';
    v_current bigint;
BEGIN
    -- serialises with unregister_subscriber (which would otherwise be
    -- undone by the registration below) and with other moves of the same
    -- watermark (which could otherwise move it backwards)
    PERFORM 1 FROM pgq_node.node_info n
      WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name
        FOR NO KEY UPDATE;
    SELECT s.sub_last_tick INTO v_current
      FROM pgq.subscription s
      JOIN pgq.queue q ON q.queue_id OPERATOR(pg_catalog.=) s.sub_queue
      JOIN pgq.consumer c ON c.co_id OPERATOR(pg_catalog.=) s.sub_consumer
     WHERE q.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND c.co_name OPERATOR(pg_catalog.=) v_wm_name;
    IF NOT FOUND THEN
        -- sic: 3.5 leaves the queue name out
        ret_code := 404;
        ret_note := 'node ' OPERATOR(pg_catalog.||) i_node_name
                    OPERATOR(pg_catalog.||) ' not subscribed to queue ';
        RETURN;
    END IF;

    IF i_watermark OPERATOR(pg_catalog.<) v_current THEN
        ret_code := 405;
        ret_note := 'watermark must not be moved backwards';
        RETURN;
    ELSIF i_watermark OPERATOR(pg_catalog.=) v_current THEN
        ret_code := 100;
        ret_note := 'watermark already set';
        RETURN;
    END IF;

    PERFORM pgq.register_consumer_at(i_queue_name, v_wm_name, i_watermark);

    ret_code := 200;
    ret_note := v_wm_name OPERATOR(pg_catalog.||) ' set to '
                OPERATOR(pg_catalog.||) i_watermark::text;
END
$$;

-- ---------------------------------------------------------------------------
-- Watermarks
-- ---------------------------------------------------------------------------

-- Move the global watermark: the lowest tick every node has processed.  The
-- root publishes it (NULL: its local watermark) with a pgq.global-watermark
-- event; branches apply what the event says; leaves have nothing to keep.
CREATE FUNCTION pgq_node.set_global_watermark(i_queue_name text,
                                              i_watermark bigint,
                                              OUT ret_code integer,
                                              OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_node record;
    v_wm bigint := i_watermark;
BEGIN
    SELECT n.node_type, n.worker_name INTO v_node
      FROM pgq_node.node_info n
     WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        -- sic: 3.5 has no space after "Queue"
        ret_code := 404;
        ret_note := 'Queue' OPERATOR(pg_catalog.||) i_queue_name
                    OPERATOR(pg_catalog.||) ' not found';
        RETURN;
    END IF;

    IF v_node.node_type OPERATOR(pg_catalog.=) 'root' THEN
        IF v_wm IS NULL THEN
            SELECT w.local_watermark INTO v_wm
              FROM pgq_node.queue_watermarks(i_queue_name) w;
            IF v_wm IS NULL THEN
                RAISE EXCEPTION 'root node of cascaded queue "%" has no local queue', i_queue_name
                    USING ERRCODE = 'undefined_object';
            END IF;
        END IF;
        PERFORM pgq.register_consumer_at(i_queue_name, '.global_watermark', v_wm);
        PERFORM pgq.insert_event(i_queue_name, 'pgq.global-watermark', v_wm::text,
                                 i_queue_name, NULL, NULL, NULL);
        -- the root's worker copies nothing, so nothing else moves it
        UPDATE pgq_node.local_state s
           SET last_tick_id = v_wm
         WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
           AND s.consumer_name OPERATOR(pg_catalog.=) v_node.worker_name;
    ELSIF v_node.node_type OPERATOR(pg_catalog.=) 'branch' THEN
        IF v_wm IS NULL THEN
            ret_code := 500;
            ret_note := 'bad usage: wm=null on branch node';
            RETURN;
        END IF;
        -- a worker replaying old batches can carry a watermark whose tick
        -- is gone here already
        PERFORM 1 FROM pgq.tick t
           JOIN pgq.queue q ON q.queue_id OPERATOR(pg_catalog.=) t.tick_queue
          WHERE q.queue_name OPERATOR(pg_catalog.=) i_queue_name
            AND t.tick_id OPERATOR(pg_catalog.=) v_wm;
        IF NOT FOUND THEN
            ret_code := 200;
            ret_note := 'Skipping global watermark update to ' OPERATOR(pg_catalog.||) v_wm::text;
            RETURN;
        END IF;
        PERFORM pgq.register_consumer_at(i_queue_name, '.global_watermark', v_wm);
    ELSE
        ret_code := 100;
        ret_note := 'Ignoring global watermark in leaf';
        RETURN;
    END IF;

    ret_code := 200;
    ret_note := 'Global watermark set to ' OPERATOR(pg_catalog.||) v_wm::text;
END
$$;

-- On a combined branch, move the position of the merge-leaf of part queue
-- i_part_queue_name to the part's tick that came in a combined batch.
CREATE FUNCTION pgq_node.set_partition_watermark(i_combined_queue_name text,
                                                 i_part_queue_name text,
                                                 i_watermark bigint,
                                                 OUT ret_code integer,
                                                 OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_worker_name text;
BEGIN
    SELECT p.worker_name INTO v_worker_name
      FROM pgq_node.node_info p
      JOIN pgq_node.node_info c
        ON c.queue_name OPERATOR(pg_catalog.=) p.combined_queue
     WHERE p.queue_name OPERATOR(pg_catalog.=) i_part_queue_name
       AND c.queue_name OPERATOR(pg_catalog.=) i_combined_queue_name
       AND p.node_type OPERATOR(pg_catalog.=) 'leaf'
       AND c.node_type OPERATOR(pg_catalog.=) 'branch';
    IF NOT FOUND THEN
        ret_code := 201;
        ret_note := 'Part-queue does not exist';
        RETURN;
    END IF;

    UPDATE pgq_node.local_state s
       SET last_tick_id = i_watermark
     WHERE s.queue_name OPERATOR(pg_catalog.=) i_part_queue_name
       AND s.consumer_name OPERATOR(pg_catalog.=) v_worker_name;
    IF NOT FOUND THEN
        ret_code := 401;
        ret_note := 'Worker registration not found';
        RETURN;
    END IF;

    ret_code := 200;
    ret_note := 'Ok';
END
$$;

-- Run by the ticker (pgq.maint_operations) for every root: publish the
-- global watermark when it was last moved 5 minutes ago or more, for roots
-- whose worker does not run.  Returns 0: one call per round.  A node some
-- transaction is changing is left for the next round: waiting would stall
-- the ticker's work on the whole database behind, say, an open demote_root.
CREATE FUNCTION pgq_node.maint_watermark(i_queue_name text)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_lag interval;
BEGIN
    PERFORM 1 FROM pgq_node.node_info n
      WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name
        AND n.node_type OPERATOR(pg_catalog.=) 'root'
        FOR NO KEY UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;

    SELECT ci.lag INTO v_lag
      FROM pgq.get_consumer_info(i_queue_name, '.global_watermark') ci;
    IF v_lag OPERATOR(pg_catalog.>=) '5 minutes'::interval THEN
        PERFORM pgq_node.set_global_watermark(i_queue_name, NULL);
    END IF;
    RETURN 0;
END
$$;

-- ---------------------------------------------------------------------------
-- Subscriber side: cascaded consumers writing into this node
-- ---------------------------------------------------------------------------

-- Record cascaded consumer i_consumer_name, which reads from node
-- i_provider_node and has committed tick i_custom_tick_id here; an
-- existing one is moved there.
CREATE FUNCTION pgq_node.register_consumer(i_queue_name text,
                                           i_consumer_name text,
                                           i_provider_node text,
                                           i_custom_tick_id bigint,
                                           OUT ret_code integer,
                                           OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM 1 FROM pgq_node.node_info n
      WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name
        FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        ret_code := 404;
        ret_note := 'Unknown queue: ' OPERATOR(pg_catalog.||) i_queue_name;
        RETURN;
    END IF;

    UPDATE pgq_node.local_state s
       SET provider_node = i_provider_node,
           last_tick_id = i_custom_tick_id
     WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND s.consumer_name OPERATOR(pg_catalog.=) i_consumer_name;
    IF FOUND THEN
        ret_code := 201;
        ret_note := 'Consumer already registered: ' OPERATOR(pg_catalog.||) i_queue_name
                    OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) i_consumer_name;
        RETURN;
    END IF;

    INSERT INTO pgq_node.local_state (queue_name, consumer_name, provider_node, last_tick_id)
    VALUES (i_queue_name, i_consumer_name, i_provider_node, i_custom_tick_id);

    ret_code := 200;
    ret_note := 'Consumer ' OPERATOR(pg_catalog.||) i_consumer_name
                OPERATOR(pg_catalog.||) ' registered on queue '
                OPERATOR(pg_catalog.||) i_queue_name;
END
$$;

-- Forget cascaded consumer i_consumer_name (nothing happens if unknown).
CREATE FUNCTION pgq_node.unregister_consumer(i_queue_name text,
                                             i_consumer_name text,
                                             OUT ret_code integer,
                                             OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM 1 FROM pgq_node.node_info n
      WHERE n.queue_name OPERATOR(pg_catalog.=) i_queue_name
        FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        ret_code := 404;
        ret_note := 'Unknown queue: ' OPERATOR(pg_catalog.||) i_queue_name;
        RETURN;
    END IF;

    DELETE FROM pgq_node.local_state s
     WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND s.consumer_name OPERATOR(pg_catalog.=) i_consumer_name;

    ret_code := 200;
    ret_note := 'Consumer ' OPERATOR(pg_catalog.||) i_consumer_name
                OPERATOR(pg_catalog.||) ' unregistered from '
                OPERATOR(pg_catalog.||) i_queue_name;
END
$$;

-- What cascaded consumer i_consumer_name needs to know before each batch:
-- the node, its committed tick, its provider and its flags.  In C
-- (src/pgq_node/state.c): it is the call a cascade makes most often.
CREATE FUNCTION pgq_node.get_consumer_state(i_queue_name text,
                                            i_consumer_name text,
                                            OUT ret_code integer,
                                            OUT ret_note text,
                                            OUT node_type text,
                                            OUT node_name text,
                                            OUT completed_tick bigint,
                                            OUT provider_node text,
                                            OUT provider_location text,
                                            OUT paused boolean,
                                            OUT uptodate boolean,
                                            OUT cur_error text)
RETURNS record
AS 'MODULE_PATHNAME', 'pgq_node_get_consumer_state'
LANGUAGE C SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- Point cascaded consumer i_consumer_name at another provider node.
CREATE FUNCTION pgq_node.change_consumer_provider(i_queue_name text,
                                                  i_consumer_name text,
                                                  i_new_provider text,
                                                  OUT ret_code integer,
                                                  OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM 1 FROM pgq_node.node_location l
      WHERE l.queue_name OPERATOR(pg_catalog.=) i_queue_name
        AND l.node_name OPERATOR(pg_catalog.=) i_new_provider;
    IF NOT FOUND THEN
        ret_code := 404;
        ret_note := 'New node not found: ' OPERATOR(pg_catalog.||) i_new_provider;
        RETURN;
    END IF;

    UPDATE pgq_node.local_state s
       SET provider_node = i_new_provider,
           uptodate = false
     WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND s.consumer_name OPERATOR(pg_catalog.=) i_consumer_name;
    IF NOT FOUND THEN
        ret_code := 404;
        ret_note := 'Unknown consumer: ' OPERATOR(pg_catalog.||) i_queue_name
                    OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) i_consumer_name;
        RETURN;
    END IF;
    ret_code := 200;
    ret_note := 'Consumer provider node set to : ' OPERATOR(pg_catalog.||) i_new_provider;
END
$$;

-- The consumer has seen its changed settings (uptodate = true), or an
-- administrator wants it to look again (false).
CREATE FUNCTION pgq_node.set_consumer_uptodate(i_queue_name text,
                                               i_consumer_name text,
                                               i_uptodate boolean,
                                               OUT ret_code integer,
                                               OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE pgq_node.local_state s
       SET uptodate = i_uptodate
     WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND s.consumer_name OPERATOR(pg_catalog.=) i_consumer_name;
    IF FOUND THEN
        ret_code := 200;
        ret_note := 'Consumer uptodate = ' OPERATOR(pg_catalog.||) i_uptodate::integer::text;
    ELSE
        ret_code := 404;
        ret_note := 'Consumer not known: ' OPERATOR(pg_catalog.||) i_queue_name
                    OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) i_consumer_name;
    END IF;
END
$$;

-- Pause or resume cascaded consumer i_consumer_name; it notices at its
-- next batch.
CREATE FUNCTION pgq_node.set_consumer_paused(i_queue_name text,
                                             i_consumer_name text,
                                             i_paused boolean,
                                             OUT ret_code integer,
                                             OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_paused boolean;
    v_word text := CASE WHEN i_paused THEN 'paused' ELSE 'resumed' END;
BEGIN
    SELECT s.paused INTO v_paused
      FROM pgq_node.local_state s
     WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND s.consumer_name OPERATOR(pg_catalog.=) i_consumer_name
       FOR UPDATE;
    IF NOT FOUND THEN
        ret_code := 404;
        ret_note := 'Unknown consumer: ' OPERATOR(pg_catalog.||) i_consumer_name;
    ELSIF v_paused OPERATOR(pg_catalog.=) i_paused THEN
        ret_code := 201;
        ret_note := 'Consumer ' OPERATOR(pg_catalog.||) i_consumer_name
                    OPERATOR(pg_catalog.||) ' already ' OPERATOR(pg_catalog.||) v_word;
    ELSE
        UPDATE pgq_node.local_state s
           SET paused = i_paused,
               uptodate = false
         WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
           AND s.consumer_name OPERATOR(pg_catalog.=) i_consumer_name;
        ret_code := 200;
        ret_note := 'Consumer ' OPERATOR(pg_catalog.||) i_consumer_name
                    OPERATOR(pg_catalog.||) ' tagged as ' OPERATOR(pg_catalog.||) v_word;
    END IF;
END
$$;

-- Record the tick whose batch cascaded consumer i_consumer_name has applied
-- here, in the same transaction as the batch: exactly-once bookkeeping.
CREATE FUNCTION pgq_node.set_consumer_completed(i_queue_name text,
                                                i_consumer_name text,
                                                i_tick_id bigint,
                                                OUT ret_code integer,
                                                OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE pgq_node.local_state s
       SET last_tick_id = i_tick_id,
           cur_error = NULL
     WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND s.consumer_name OPERATOR(pg_catalog.=) i_consumer_name;
    IF FOUND THEN
        ret_code := 100;
        ret_note := 'Consumer ' OPERATOR(pg_catalog.||) i_consumer_name
                    OPERATOR(pg_catalog.||) ' completed tick = '
                    OPERATOR(pg_catalog.||) i_tick_id::text;
    ELSE
        ret_code := 404;
        ret_note := 'Consumer not known: ' OPERATOR(pg_catalog.||) i_queue_name
                    OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) i_consumer_name;
    END IF;
END
$$;

-- Store why cascaded consumer i_consumer_name failed its last batch (NULL
-- clears it).
CREATE FUNCTION pgq_node.set_consumer_error(i_queue_name text,
                                            i_consumer_name text,
                                            i_error_msg text,
                                            OUT ret_code integer,
                                            OUT ret_note text)
RETURNS record
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE pgq_node.local_state s
       SET cur_error = i_error_msg
     WHERE s.queue_name OPERATOR(pg_catalog.=) i_queue_name
       AND s.consumer_name OPERATOR(pg_catalog.=) i_consumer_name;
    IF FOUND THEN
        ret_code := 100;
        ret_note := 'Consumer ' OPERATOR(pg_catalog.||) i_consumer_name
                    OPERATOR(pg_catalog.||) ' error = ' OPERATOR(pg_catalog.||) i_error_msg;
    ELSE
        ret_code := 101;
        ret_note := 'Consumer not known, ignoring: ' OPERATOR(pg_catalog.||) i_queue_name
                    OPERATOR(pg_catalog.||) '/' OPERATOR(pg_catalog.||) i_consumer_name;
    END IF;
END
$$;
