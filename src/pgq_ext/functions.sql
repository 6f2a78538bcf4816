-- Functions of the pgq_ext extension.
--
-- The forms taking a subconsumer do the work; they are security definer,
-- so that pgq_writer needs no rights on the tables, and run under a pinned
-- search_path with every name qualified.  The shorter forms stand for the
-- plain consumer (subconsumer '') and run with the caller's rights.
--
-- The set_* functions are called by consumers that may race on the same
-- key (two instances of one consumer, or a restart overlapping a dying
-- run).  They write with INSERT ... ON CONFLICT, which waits for the other
-- transaction and then sees its committed row, so neither session fails on
-- the primary key and exactly one of them reports a batch or an event as
-- newly done.

-- True when the batch is the last one the consumer recorded as applied.
CREATE FUNCTION pgq_ext.is_batch_done(a_consumer text, a_subconsumer text,
                                      a_batch_id bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    done boolean;
BEGIN
    SELECT b.last_batch_id OPERATOR(pg_catalog.=) a_batch_id INTO done
      FROM pgq_ext.completed_batch b
     WHERE b.consumer_id OPERATOR(pg_catalog.=) a_consumer
       AND b.subconsumer_id OPERATOR(pg_catalog.=) a_subconsumer;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    RETURN done;
END
$$;

CREATE FUNCTION pgq_ext.is_batch_done(a_consumer text, a_batch_id bigint)
RETURNS boolean
LANGUAGE sql
RETURN pgq_ext.is_batch_done(a_consumer, '', a_batch_id);

-- Record the batch as applied; false if it already was.  Ids that are not
-- positive are never handed out by pgq and are not stored.
CREATE FUNCTION pgq_ext.set_batch_done(a_consumer text, a_subconsumer text,
                                       a_batch_id bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pgq_ext.is_batch_done(a_consumer, a_subconsumer, a_batch_id) THEN
        RETURN false;
    END IF;
    IF a_batch_id OPERATOR(pg_catalog.>) 0 THEN
        -- A session that lost the race finds the winner's id in place and
        -- updates nothing.
        INSERT INTO pgq_ext.completed_batch AS b
               (consumer_id, subconsumer_id, last_batch_id)
        VALUES (a_consumer, a_subconsumer, a_batch_id)
        ON CONFLICT (consumer_id, subconsumer_id) DO UPDATE
           SET last_batch_id = excluded.last_batch_id
         WHERE b.last_batch_id OPERATOR(pg_catalog.<>) excluded.last_batch_id;
        RETURN FOUND;
    END IF;
    RETURN true;
END
$$;

CREATE FUNCTION pgq_ext.set_batch_done(a_consumer text, a_batch_id bigint)
RETURNS boolean
LANGUAGE sql
RETURN pgq_ext.set_batch_done(a_consumer, '', a_batch_id);

-- The last tick recorded for the consumer, NULL if none.
CREATE FUNCTION pgq_ext.get_last_tick(a_consumer text, a_subconsumer text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tick bigint;
BEGIN
    SELECT t.last_tick_id INTO tick
      FROM pgq_ext.completed_tick t
     WHERE t.consumer_id OPERATOR(pg_catalog.=) a_consumer
       AND t.subconsumer_id OPERATOR(pg_catalog.=) a_subconsumer;
    RETURN tick;
END
$$;

CREATE FUNCTION pgq_ext.get_last_tick(a_consumer text)
RETURNS bigint
LANGUAGE sql
RETURN pgq_ext.get_last_tick(a_consumer, '');

-- Record the last applied tick; NULL forgets the consumer.  Always 1.
CREATE FUNCTION pgq_ext.set_last_tick(a_consumer text, a_subconsumer text,
                                      a_tick_id bigint)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF a_tick_id IS NULL THEN
        DELETE FROM pgq_ext.completed_tick t
         WHERE t.consumer_id OPERATOR(pg_catalog.=) a_consumer
           AND t.subconsumer_id OPERATOR(pg_catalog.=) a_subconsumer;
    ELSE
        INSERT INTO pgq_ext.completed_tick
               (consumer_id, subconsumer_id, last_tick_id)
        VALUES (a_consumer, a_subconsumer, a_tick_id)
        ON CONFLICT (consumer_id, subconsumer_id) DO UPDATE
           SET last_tick_id = excluded.last_tick_id;
    END IF;
    RETURN 1;
END
$$;

CREATE FUNCTION pgq_ext.set_last_tick(a_consumer text, a_tick_id bigint)
RETURNS integer
LANGUAGE sql
RETURN pgq_ext.set_last_tick(a_consumer, '', a_tick_id);

-- True when the event of that batch is recorded as applied.
CREATE FUNCTION pgq_ext.is_event_done(a_consumer text, a_subconsumer text,
                                      a_batch_id bigint, a_event_id bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN EXISTS (
        SELECT FROM pgq_ext.completed_event e
         WHERE e.consumer_id OPERATOR(pg_catalog.=) a_consumer
           AND e.subconsumer_id OPERATOR(pg_catalog.=) a_subconsumer
           AND e.batch_id OPERATOR(pg_catalog.=) a_batch_id
           AND e.event_id OPERATOR(pg_catalog.=) a_event_id);
END
$$;

CREATE FUNCTION pgq_ext.is_event_done(a_consumer text, a_batch_id bigint,
                                      a_event_id bigint)
RETURNS boolean
LANGUAGE sql
RETURN pgq_ext.is_event_done(a_consumer, '', a_batch_id, a_event_id);

-- Record one event as applied; false if it already was.  A consumer only
-- asks for a new batch once the previous one is finished on the queue
-- database, so the events kept for any other batch are no longer needed.
CREATE FUNCTION pgq_ext.set_event_done(a_consumer text, a_subconsumer text,
                                       a_batch_id bigint, a_event_id bigint)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    old_batch bigint;
BEGIN
    IF pgq_ext.is_event_done(a_consumer, a_subconsumer, a_batch_id, a_event_id) THEN
        RETURN false;
    END IF;

    -- Make sure the consumer has a partial_batch row, then lock it: the
    -- lock orders concurrent switches to another batch.
    INSERT INTO pgq_ext.partial_batch (consumer_id, subconsumer_id, cur_batch_id)
    VALUES (a_consumer, a_subconsumer, a_batch_id)
    ON CONFLICT (consumer_id, subconsumer_id) DO NOTHING;
    SELECT p.cur_batch_id INTO old_batch
      FROM pgq_ext.partial_batch p
     WHERE p.consumer_id OPERATOR(pg_catalog.=) a_consumer
       AND p.subconsumer_id OPERATOR(pg_catalog.=) a_subconsumer
       FOR UPDATE;

    IF old_batch OPERATOR(pg_catalog.<>) a_batch_id THEN
        DELETE FROM pgq_ext.completed_event e
         WHERE e.consumer_id OPERATOR(pg_catalog.=) a_consumer
           AND e.subconsumer_id OPERATOR(pg_catalog.=) a_subconsumer
           AND e.batch_id OPERATOR(pg_catalog.=) old_batch;
        UPDATE pgq_ext.partial_batch p
           SET cur_batch_id = a_batch_id
         WHERE p.consumer_id OPERATOR(pg_catalog.=) a_consumer
           AND p.subconsumer_id OPERATOR(pg_catalog.=) a_subconsumer;
    END IF;

    INSERT INTO pgq_ext.completed_event
           (consumer_id, subconsumer_id, batch_id, event_id)
    VALUES (a_consumer, a_subconsumer, a_batch_id, a_event_id)
    ON CONFLICT DO NOTHING;
    RETURN FOUND;
END
$$;

CREATE FUNCTION pgq_ext.set_event_done(a_consumer text, a_batch_id bigint,
                                       a_event_id bigint)
RETURNS boolean
LANGUAGE sql
RETURN pgq_ext.set_event_done(a_consumer, '', a_batch_id, a_event_id);

-- Bring tables created by pgq_ext before 3.1 to the current layout: add
-- subconsumer_id to the column list and the primary key, and give it its
-- default.  Returns the number of changes made; the fresh tables of this
-- version need none.
CREATE FUNCTION pgq_ext.upgrade_schema()
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tbl         text;
    key_columns text;
    tbl_oid     oid;
    old_pkey    name;
    changes     integer := 0;
BEGIN
    FOR tbl, key_columns IN
        VALUES ('completed_tick', 'consumer_id, subconsumer_id'),
               ('completed_batch', 'consumer_id, subconsumer_id'),
               ('completed_event', 'consumer_id, subconsumer_id, batch_id, event_id'),
               ('partial_batch', 'consumer_id, subconsumer_id')
    LOOP
        SELECT c.oid INTO tbl_oid
          FROM pg_catalog.pg_class c
         WHERE c.relname OPERATOR(pg_catalog.=) tbl
           AND c.relnamespace OPERATOR(pg_catalog.=)
               (SELECT n.oid FROM pg_catalog.pg_namespace n
                 WHERE n.nspname OPERATOR(pg_catalog.=) 'pgq_ext');

        IF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                        WHERE a.attrelid OPERATOR(pg_catalog.=) tbl_oid
                          AND a.attname OPERATOR(pg_catalog.=) 'subconsumer_id'
                          AND NOT a.attisdropped) THEN
            -- Old rows belong to the plain consumer.  The column comes with
            -- its default: two changes, counted as the original counts them.
            EXECUTE pg_catalog.format(
                'ALTER TABLE pgq_ext.%I ADD COLUMN subconsumer_id text NOT NULL DEFAULT %L',
                tbl, '');
            SELECT k.conname INTO old_pkey
              FROM pg_catalog.pg_constraint k
             WHERE k.conrelid OPERATOR(pg_catalog.=) tbl_oid
               AND k.contype OPERATOR(pg_catalog.=) 'p';
            IF FOUND THEN
                EXECUTE pg_catalog.format('ALTER TABLE pgq_ext.%I DROP CONSTRAINT %I',
                                          tbl, old_pkey);
            END IF;
            EXECUTE pg_catalog.format('ALTER TABLE pgq_ext.%I ADD CONSTRAINT %I PRIMARY KEY (%s)',
                                      tbl, tbl OPERATOR(pg_catalog.||) '_pkey', key_columns);
            changes := changes OPERATOR(pg_catalog.+) 2;
        ELSIF NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                            JOIN pg_catalog.pg_attrdef d
                              ON d.adrelid OPERATOR(pg_catalog.=) a.attrelid
                             AND d.adnum OPERATOR(pg_catalog.=) a.attnum
                           WHERE a.attrelid OPERATOR(pg_catalog.=) tbl_oid
                             AND a.attname OPERATOR(pg_catalog.=) 'subconsumer_id') THEN
            EXECUTE pg_catalog.format(
                'ALTER TABLE pgq_ext.%I ALTER COLUMN subconsumer_id SET DEFAULT %L',
                tbl, '');
            changes := changes OPERATOR(pg_catalog.+) 1;
        END IF;
    END LOOP;
    RETURN changes;
END
$$;

-- The installed extension version (at or above the original's 3.3).
CREATE FUNCTION pgq_ext.version()
RETURNS text
LANGUAGE sql STABLE
AS $$
    SELECT e.extversion FROM pg_catalog.pg_extension e
     WHERE e.extname OPERATOR(pg_catalog.=) 'pgq_ext'
$$;
