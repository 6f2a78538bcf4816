-- Functions written in SQL and PL/pgSQL: queue and consumer administration,
-- information, maintenance and small helpers.  The C functions of
-- functions_c.sql exist when this part runs; SQL-language bodies are
-- checked at creation, so a function appears here before any SQL-language
-- function that calls it.
--
-- Security-definer functions pin search_path (see functions_c.sql) and,
-- like everything else here, qualify the tables and functions they use.
-- So do the maintenance functions, which a ticker (pgqd, or the in-server
-- one) calls with whatever rights it has: operators cannot be qualified
-- in PL/pgSQL expressions as easily, and an exact-match operator in a
-- schema on the caller's path would otherwise win over pg_catalog's.
-- Object names stored in pgq.queue are unquoted "schema.name" text; they
-- are turned into SQL with pgq.quote_fqname() and never spliced in as is.

-- ---------------------------------------------------------------------------
-- Utilities
-- ---------------------------------------------------------------------------

-- The installed extension version.  pgqd ignores a database whose answer
-- starts with a character below '3', so this must stay a plain version
-- string.
CREATE FUNCTION pgq.version()
RETURNS text
AS $$
    SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pgq'
$$ LANGUAGE sql;

-- Quote a stored "schema.name" for use in SQL.  Only the first dot
-- separates, so the name part may itself contain dots; no dot means schema
-- public.  Both parts are quoted, never case-folded.
CREATE FUNCTION pgq.quote_fqname(i_name text)
RETURNS text
AS $$
    SELECT CASE
        WHEN pg_catalog.strpos(i_name, '.') = 0 THEN
            'public.' || pg_catalog.quote_ident(i_name)
        ELSE
            pg_catalog.quote_ident(pg_catalog.split_part(i_name, '.', 1))
            || '.'
            || pg_catalog.quote_ident(pg_catalog.substr(i_name, pg_catalog.strpos(i_name, '.') + 1))
    END
$$ LANGUAGE sql STRICT IMMUTABLE;

-- last_value of a sequence, read without advancing it.  It ignores
-- is_called on purpose: londiste copies this value to other sequences
-- (quirk Q1).  Counting issued event ids is done where it matters (ticker,
-- get_queue_info).
CREATE FUNCTION pgq.seq_getval(i_seq_name text)
RETURNS bigint
AS $$
DECLARE
    v_last_value bigint;
BEGIN
    EXECUTE pg_catalog.format('SELECT last_value FROM %s', pgq.quote_fqname(i_seq_name))
        INTO v_last_value;
    RETURN v_last_value;
END
$$ LANGUAGE plpgsql STRICT;

-- Move a sequence forward to i_new_value, never backward; returns the
-- resulting last_value.  Cascaded queues use it to keep their tick and
-- event ids at least as high as the copied ones.
CREATE FUNCTION pgq.seq_setval(i_seq_name text, i_new_value int8)
RETURNS bigint
AS $$
DECLARE
    v_seq text := pgq.quote_fqname(i_seq_name);
    v_last_value bigint;
BEGIN
    EXECUTE pg_catalog.format('SELECT last_value FROM %s', v_seq)
        INTO v_last_value;
    IF v_last_value < i_new_value THEN
        PERFORM pg_catalog.setval(v_seq::pg_catalog.regclass, i_new_value);
        RETURN i_new_value;
    END IF;
    RETURN v_last_value;
END
$$ LANGUAGE plpgsql STRICT;

-- ---------------------------------------------------------------------------
-- Queue administration
-- ---------------------------------------------------------------------------

-- Copy every table privilege of one table to another (same grantee, same
-- privilege, grant option kept).  Event tables get the privileges of
-- pgq.event_template this way, including any an administrator added.  The
-- ACL is read from pg_class rather than information_schema, which hides
-- grants the calling role is not involved in.
CREATE FUNCTION pgq._grant_perms_from(src_schema text, src_table text,
                                      dst_schema text, dst_table text)
RETURNS integer
AS $$
DECLARE
    v_src_acl aclitem[];
    v_grant record;
BEGIN
    SELECT COALESCE(c.relacl, pg_catalog.acldefault('r', c.relowner))
      INTO v_src_acl
      FROM pg_catalog.pg_class c
      JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = src_schema AND c.relname = src_table;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'relation "%.%" does not exist', src_schema, src_table
            USING ERRCODE = 'undefined_table';
    END IF;

    FOR v_grant IN
        SELECT a.privilege_type,
               a.is_grantable,
               CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                    ELSE pg_catalog.quote_ident(r.rolname) END AS grantee
          FROM pg_catalog.aclexplode(v_src_acl) AS a
          LEFT JOIN pg_catalog.pg_roles r ON r.oid = a.grantee
         ORDER BY 3, 1
    LOOP
        EXECUTE pg_catalog.format('GRANT %s ON TABLE %I.%I TO %s%s',
                                  v_grant.privilege_type, dst_schema, dst_table,
                                  v_grant.grantee,
                                  CASE WHEN v_grant.is_grantable
                                       THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    RETURN 1;
END
$$ LANGUAGE plpgsql STRICT;

-- Give a queue's own objects the privileges described in the contract:
-- event tables as pgq.event_template, sequences readable by everyone (for
-- get_queue_info and clients), event id sequence usable by pgq_admin
-- (cascade workers COPY into event tables, which draws ids).
CREATE FUNCTION pgq.grant_perms(x_queue_name text)
RETURNS integer
AS $$
DECLARE
    v_queue pgq.queue%ROWTYPE;
    v_schema text;
    v_parent text;
BEGIN
    IF x_queue_name IS NULL THEN
        RAISE EXCEPTION 'queue name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO v_queue FROM pgq.queue WHERE queue_name = x_queue_name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'queue "%" does not exist', x_queue_name
            USING ERRCODE = 'undefined_object';
    END IF;

    -- split the stored prefix the way pgq.quote_fqname() does
    IF pg_catalog.strpos(v_queue.queue_data_pfx, '.') = 0 THEN
        v_schema := 'public';
        v_parent := v_queue.queue_data_pfx;
    ELSE
        v_schema := pg_catalog.split_part(v_queue.queue_data_pfx, '.', 1);
        v_parent := pg_catalog.substr(v_queue.queue_data_pfx,
                                      pg_catalog.strpos(v_queue.queue_data_pfx, '.') + 1);
    END IF;

    PERFORM pgq._grant_perms_from('pgq', 'event_template', v_schema, v_parent);
    FOR i IN 0 .. v_queue.queue_ntables - 1 LOOP
        PERFORM pgq._grant_perms_from('pgq', 'event_template', v_schema, v_parent || '_' || i);
    END LOOP;

    EXECUTE pg_catalog.format('GRANT SELECT ON SEQUENCE %s TO PUBLIC',
                              pgq.quote_fqname(v_queue.queue_tick_seq));
    EXECUTE pg_catalog.format('GRANT SELECT ON SEQUENCE %s TO PUBLIC',
                              pgq.quote_fqname(v_queue.queue_event_seq));
    EXECUTE pg_catalog.format('GRANT USAGE ON SEQUENCE %s TO pgq_admin',
                              pgq.quote_fqname(v_queue.queue_event_seq));
    RETURN 1;
END
$$ LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- Storage options of a queue's event tables.  They are filled once and
-- truncated on rotation, never updated or vacuumed, so pages are packed full
-- and autovacuum is kept away.  An unknown queue returns 0, not an error.
CREATE FUNCTION pgq.tune_storage(i_queue_name text)
RETURNS integer
AS $$
DECLARE
    v_data_pfx text;
    v_ntables integer;
BEGIN
    SELECT q.queue_data_pfx, q.queue_ntables
      INTO v_data_pfx, v_ntables
      FROM pgq.queue q
     WHERE q.queue_name = i_queue_name;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;

    FOR i IN 0 .. v_ntables - 1 LOOP
        EXECUTE pg_catalog.format(
            'ALTER TABLE %s SET (fillfactor = 100, autovacuum_enabled = off, toast.autovacuum_enabled = off)',
            pgq.quote_fqname(v_data_pfx || '_' || i));
    END LOOP;
    RETURN 1;
END
$$ LANGUAGE plpgsql STRICT;

-- Bring an older PgQ schema up to the current layout; harmless on a current
-- one.  Kept because PgQ 3.x administration scripts call it.  Returns 0 like
-- PgQ 3.5 does, whatever it changed.
CREATE FUNCTION pgq.upgrade_schema()
RETURNS int4
AS $$
BEGIN
    -- idle pgq_coop subconsumers have no position
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                WHERE attrelid = 'pgq.subscription'::pg_catalog.regclass
                  AND attname = 'sub_last_tick' AND attnotnull) THEN
        ALTER TABLE pgq.subscription ALTER COLUMN sub_last_tick DROP NOT NULL;
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgq_reader') THEN
        CREATE ROLE pgq_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgq_writer') THEN
        CREATE ROLE pgq_writer NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'pgq_admin') THEN
        CREATE ROLE pgq_admin NOLOGIN IN ROLE pgq_reader, pgq_writer;
    END IF;

    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute
                    WHERE attrelid = 'pgq.queue'::pg_catalog.regclass
                      AND attname = 'queue_extra_maint' AND NOT attisdropped) THEN
        ALTER TABLE pgq.queue ADD COLUMN queue_extra_maint text[];
    END IF;
    RETURN 0;
END
$$ LANGUAGE plpgsql;

-- Create a queue: its row, two sequences, the parent event table and
-- queue_ntables children, then privileges and the first tick (so consumers
-- can register at once).  Returns 1, or 0 if the queue already exists.
-- The existence check comes before name validation: a queue created under
-- older, looser rules must still answer 0 rather than an error.
CREATE FUNCTION pgq.create_queue(i_queue_name text)
RETURNS integer
AS $$
DECLARE
    v_queue_id integer;
    v_ntables integer;
    v_parent text;
    v_child text;
BEGIN
    IF i_queue_name IS NULL THEN
        RAISE EXCEPTION 'queue name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF EXISTS (SELECT 1 FROM pgq.queue WHERE queue_name = i_queue_name) THEN
        RETURN 0;
    END IF;

    -- The name ends up in NOTIFY channel and trigger names, which are
    -- limited to NAMEDATALEN - 1 bytes.
    IF i_queue_name = '' THEN
        RAISE EXCEPTION 'invalid queue name "%"', i_queue_name
            USING ERRCODE = 'invalid_name',
                  DETAIL = 'Queue names must not be empty.';
    END IF;
    IF i_queue_name ~ E'[\\x01-\\x1f\\x7f]' THEN
        RAISE EXCEPTION 'invalid queue name "%"', i_queue_name
            USING ERRCODE = 'invalid_name',
                  DETAIL = 'Queue names must not contain control characters.';
    END IF;
    IF pg_catalog.octet_length(i_queue_name) > 63 THEN
        RAISE EXCEPTION 'queue name "%" is too long', i_queue_name
            USING ERRCODE = 'name_too_long',
                  DETAIL = 'Queue names are limited to 63 bytes.';
    END IF;

    -- The id is drawn first because the object names contain it.  A
    -- concurrent create_queue of the same name makes this insert wait and
    -- then do nothing; that caller gets 0 like any later one.
    v_queue_id := pg_catalog.nextval('pgq.queue_queue_id_seq');
    v_parent := 'event_' || v_queue_id;
    INSERT INTO pgq.queue (queue_id, queue_name, queue_data_pfx,
                           queue_event_seq, queue_tick_seq)
    VALUES (v_queue_id, i_queue_name, 'pgq.' || v_parent,
            'pgq.' || v_parent || '_id_seq', 'pgq.' || v_parent || '_tick_seq')
    ON CONFLICT ON CONSTRAINT queue_name_uq DO NOTHING
    RETURNING queue_ntables INTO v_ntables;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;

    EXECUTE pg_catalog.format('CREATE SEQUENCE pgq.%I', v_parent || '_tick_seq');
    EXECUTE pg_catalog.format('CREATE SEQUENCE pgq.%I', v_parent || '_id_seq');
    EXECUTE pg_catalog.format('CREATE TABLE pgq.%I () INHERITS (pgq.event_template)',
                              v_parent);
    FOR i IN 0 .. v_ntables - 1 LOOP
        v_child := v_parent || '_' || i;
        EXECUTE pg_catalog.format('CREATE TABLE pgq.%I () INHERITS (pgq.%I)',
                                  v_child, v_parent);
        EXECUTE pg_catalog.format(
            'ALTER TABLE pgq.%I ALTER COLUMN ev_id SET DEFAULT pg_catalog.nextval(%L::pg_catalog.regclass)',
            v_child, pg_catalog.format('pgq.%I', v_parent || '_id_seq'));
        -- batches find their events by ev_txid
        EXECUTE pg_catalog.format('CREATE INDEX %I ON pgq.%I (ev_txid)',
                                  v_child || '_txid_idx', v_child);
    END LOOP;

    PERFORM pgq.tune_storage(i_queue_name);
    PERFORM pgq.grant_perms(i_queue_name);
    PERFORM pgq.ticker(i_queue_name);
    RETURN 1;
END
$$ LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- Change one ticker or rotation setting of a queue.  Parameter names are
-- the pgq.queue column names without the "queue_" prefix; the value text is
-- cast to the column's type, so bad input fails with that type's error.
-- Any interval will do for the ticker settings (one too long to reach just
-- never is); a rotation period must keep the next rotation time a valid
-- timestamp.
CREATE FUNCTION pgq.set_queue_config(x_queue_name text, x_param_name text,
                                     x_param_value text)
RETURNS integer
AS $$
DECLARE
    v_queue_id integer;
    v_switch_time timestamptz;
    v_period interval;
    v_column text;
    v_type text;
BEGIN
    IF x_queue_name IS NULL THEN
        RAISE EXCEPTION 'queue name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF x_param_name IS NULL THEN
        RAISE EXCEPTION 'parameter name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- same lock strength as the ticker, so a tick never sees half a change
    SELECT queue_id, queue_switch_time INTO v_queue_id, v_switch_time
      FROM pgq.queue WHERE queue_name = x_queue_name
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'queue "%" does not exist', x_queue_name
            USING ERRCODE = 'undefined_object';
    END IF;

    v_column := 'queue_' || x_param_name;
    IF v_column NOT IN ('queue_ticker_max_count', 'queue_ticker_max_lag',
                        'queue_ticker_idle_period', 'queue_ticker_paused',
                        'queue_rotation_period', 'queue_external_ticker') THEN
        RAISE EXCEPTION 'cannot change parameter "%"', x_param_name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Settable parameters are ticker_max_count, ticker_max_lag, '
                         'ticker_idle_period, ticker_paused, rotation_period and external_ticker.';
    END IF;
    IF x_param_value IS NULL THEN
        RAISE EXCEPTION 'value of parameter "%" must not be null', x_param_name
            USING ERRCODE = 'null_value_not_allowed';
    END IF;

    -- Maintenance adds the rotation period to the time of the last
    -- rotation, which is now() once it has rotated.  A period that takes
    -- either beyond the range of timestamps would make every maintenance
    -- round fail; ticker periods too long to reach need no such check.
    IF v_column = 'queue_rotation_period' THEN
        v_period := CAST(x_param_value AS interval);
        BEGIN
            PERFORM v_switch_time + v_period, pg_catalog.now() + v_period;
        EXCEPTION WHEN datetime_field_overflow THEN
            RAISE EXCEPTION 'rotation period "%" is out of range', x_param_value
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = 'Added to the time of the last rotation, it gives no valid timestamp.',
                      HINT = 'To keep a queue from rotating in practice, use a period such as 1000 years.';
        END;
    END IF;

    SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO v_type
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = 'pgq.queue'::pg_catalog.regclass AND a.attname = v_column;
    EXECUTE pg_catalog.format('UPDATE pgq.queue SET %I = CAST($1 AS %s) WHERE queue_id = $2',
                              v_column, v_type)
        USING x_param_value, v_queue_id;
    RETURN 1;
END
$$ LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- ---------------------------------------------------------------------------
-- Consumer registration
-- ---------------------------------------------------------------------------

-- Lock order.  Consumers register, unregister, take, retry and finish
-- batches while the ticker, maintenance and drop_queue run, and every one
-- of them locks rows of several of these tables.  They all lock in this
-- order, so that none waits for a lock while holding one that the other
-- side needs first:
--
--   1. the pgq.queue row.  FOR KEY SHARE is taken first by everything that
--      will write rows referring to the queue or lock its subscriptions:
--      next_batch_custom, event_retry, batch_retry, event_retry_raw.
--      FOR NO KEY UPDATE, which does not conflict with that, by the ticker,
--      set_queue_config, rotation and register_consumer_at: a registration
--      positions the consumer on a tick that rotation must not delete
--      before it sees the new subscription.  FOR UPDATE by drop_queue,
--      which so waits for all of them and then holds off new ones.
--   2. the pgq.consumer row, FOR NO KEY UPDATE by register_consumer_at and
--      unregister_consumer, one consumer per call (drop_queue unregisters
--      in consumer name order).  That mode serialises the two on a name
--      but lets foreign key checks through: those take FOR KEY SHARE on the
--      consumer and queue rows when a subscription row is inserted, or
--      updated a second time in one transaction (next_batch and then
--      finish_batch), that is after the subscription row is locked.
--      Deleting a name needs more than the foreign key checks allow, so
--      unregister_consumer deletes only names it can lock without waiting.
--   3. pgq.subscription rows: FOR UPDATE by register_consumer_at,
--      unregister_consumer, next_batch_custom and finish_batch, FOR SHARE
--      by event_retry, batch_retry and event_retry_raw while they copy
--      events.  A pgq_coop main consumer's row before its subconsumers'.
--   4. pgq.retry_queue rows, inserted by the retry functions and deleted
--      by unregister_consumer, drop_queue and maint_retry_events.
--   5. event tables: drop_queue drops them last; rotation truncates one
--      only if it can lock it at once.
--
-- pgq.tick rows are never locked; the queue row lock serialises those who
-- write them.  A transaction that holds locks of a later step and then
-- calls a function taking those of an earlier one (say, next_batch on one
-- queue and then drop_queue of another) can still deadlock; PostgreSQL
-- then cancels one of them.

-- Subscribe a consumer to a queue, or move an existing subscription to the
-- given tick (abandoning any open batch).  A new subscription starts at
-- x_tick_pos, or at the latest tick when that is NULL.  Returns 1 for a new
-- subscription, 0 for an existing one.
--
-- A concurrent unregister_consumer may delete the consumer name between
-- our attempt to create it and our attempt to lock it; we then simply
-- create it again.  Each round needs another transaction to have
-- committed meanwhile, so this cannot loop for long.
CREATE FUNCTION pgq.register_consumer_at(x_queue_name text, x_consumer_name text,
                                         x_tick_pos bigint)
RETURNS integer
AS $$
DECLARE
    v_queue_id integer;
    v_consumer_id integer;
    v_start_tick bigint;
BEGIN
    IF x_queue_name IS NULL THEN
        RAISE EXCEPTION 'queue name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF x_consumer_name IS NULL THEN
        RAISE EXCEPTION 'consumer name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- Keeps drop_queue from removing the queue under the new subscription,
    -- and rotation from deleting the start tick before it can see the
    -- subscription that needs it.
    SELECT queue_id INTO v_queue_id FROM pgq.queue WHERE queue_name = x_queue_name
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'queue "%" does not exist', x_queue_name
            USING ERRCODE = 'undefined_object';
    END IF;

    LOOP
        SELECT co_id INTO v_consumer_id
          FROM pgq.consumer WHERE co_name = x_consumer_name
           FOR NO KEY UPDATE;
        EXIT WHEN FOUND;

        -- only names new to pgq.consumer are validated
        IF x_consumer_name = '' THEN
            RAISE EXCEPTION 'invalid consumer name "%"', x_consumer_name
                USING ERRCODE = 'invalid_name',
                      DETAIL = 'Consumer names must not be empty.';
        END IF;
        IF x_consumer_name ~ E'[\\x01-\\x1f\\x7f]' THEN
            RAISE EXCEPTION 'invalid consumer name "%"', x_consumer_name
                USING ERRCODE = 'invalid_name',
                      DETAIL = 'Consumer names must not contain control characters.';
        END IF;
        IF pg_catalog.octet_length(x_consumer_name) > 255 THEN
            RAISE EXCEPTION 'consumer name "%" is too long', x_consumer_name
                USING ERRCODE = 'name_too_long',
                      DETAIL = 'Consumer names are limited to 255 bytes.';
        END IF;

        -- a row we insert needs no lock: nobody sees it before we commit
        INSERT INTO pgq.consumer (co_name) VALUES (x_consumer_name)
        ON CONFLICT ON CONSTRAINT consumer_name_uq DO NOTHING
        RETURNING co_id INTO v_consumer_id;
        EXIT WHEN FOUND;
        -- a concurrent registration has just created the name: lock it
    END LOOP;

    IF x_tick_pos IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pgq.tick
                        WHERE tick_queue = v_queue_id AND tick_id = x_tick_pos) THEN
        RAISE EXCEPTION 'tick % does not exist for queue "%"', x_tick_pos, x_queue_name
            USING ERRCODE = 'undefined_object';
    END IF;

    PERFORM 1 FROM pgq.subscription
      WHERE sub_queue = v_queue_id AND sub_consumer = v_consumer_id
        FOR UPDATE;
    IF FOUND THEN
        IF x_tick_pos IS NOT NULL THEN
            UPDATE pgq.subscription
               SET sub_last_tick = x_tick_pos,
                   sub_batch = NULL,
                   sub_next_tick = NULL,
                   sub_active = pg_catalog.now()
             WHERE sub_queue = v_queue_id AND sub_consumer = v_consumer_id;
        END IF;
        RETURN 0;
    END IF;

    v_start_tick := x_tick_pos;
    IF v_start_tick IS NULL THEN
        SELECT tick_id INTO v_start_tick
          FROM pgq.tick
         WHERE tick_queue = v_queue_id
         ORDER BY tick_queue DESC, tick_id DESC
         LIMIT 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'queue "%" has no ticks', x_queue_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Run the ticker on this database (pgqd, or pgq.ticker()).';
        END IF;
    END IF;

    -- the consumer row lock keeps any other registration of this name out
    INSERT INTO pgq.subscription (sub_queue, sub_consumer, sub_last_tick)
    VALUES (v_queue_id, v_consumer_id, v_start_tick);
    RETURN 1;
END
$$ LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- Subscribe a consumer at the queue's latest tick; an existing subscription
-- keeps its position.  Returns 1 if new, 0 if already registered.
CREATE FUNCTION pgq.register_consumer(x_queue_name text, x_consumer_id text)
RETURNS integer
AS $$
    SELECT pgq.register_consumer_at(x_queue_name, x_consumer_id, NULL)
$$ LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- Remove a consumer's subscription.  Returns 0 if it has none on this
-- queue, and also if the queue does not exist: teardown scripts run this
-- for queues that may be gone already, as PgQ 3.5 allows.  A NOTICE names
-- the missing queue so that a typo does not pass unseen.
--
-- pgq_coop subconsumers share the sub_id of their main consumer.  A shared
-- row whose tick columns are both NULL (idle) or both set (batch open) is a
-- subconsumer: only that row goes, and 1 is returned.  Otherwise the main
-- consumer goes together with all its subconsumers and their retry events,
-- and the number of rows removed is returned.  Consumer names left without
-- any subscription are deleted too (the main one and, quirk Q4, those of
-- its subconsumers), except a name some other transaction has locked at
-- that moment: it is being registered again, or is still in use.
CREATE FUNCTION pgq.unregister_consumer(x_queue_name text, x_consumer_name text)
RETURNS integer
AS $$
DECLARE
    v_queue_id integer;
    v_consumer_id integer;
    v_sub record;
    v_shared_rows integer;
    v_consumer_ids integer[];
BEGIN
    IF x_queue_name IS NULL THEN
        RAISE EXCEPTION 'queue name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF x_consumer_name IS NULL THEN
        RAISE EXCEPTION 'consumer name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT queue_id INTO v_queue_id FROM pgq.queue WHERE queue_name = x_queue_name;
    IF NOT FOUND THEN
        RAISE NOTICE 'queue "%" does not exist, nothing to unregister', x_queue_name;
        RETURN 0;
    END IF;
    -- lock order: consumer, then subscription (see register_consumer_at)
    SELECT co_id INTO v_consumer_id
      FROM pgq.consumer WHERE co_name = x_consumer_name
       FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    SELECT sub_id, sub_last_tick, sub_next_tick INTO v_sub
      FROM pgq.subscription
     WHERE sub_queue = v_queue_id AND sub_consumer = v_consumer_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;

    SELECT pg_catalog.count(*) INTO v_shared_rows
      FROM pgq.subscription
     WHERE sub_queue = v_queue_id AND sub_id = v_sub.sub_id;

    IF v_shared_rows > 1
       AND (v_sub.sub_last_tick IS NULL) = (v_sub.sub_next_tick IS NULL) THEN
        DELETE FROM pgq.subscription
         WHERE sub_queue = v_queue_id AND sub_consumer = v_consumer_id;
        RETURN 1;
    END IF;

    -- The subconsumers' rows too, before their retry events are deleted:
    -- a retry function copying events for one of them holds its row until
    -- it commits, and its events must be gone with the rest.
    PERFORM 1 FROM pgq.subscription
      WHERE sub_queue = v_queue_id AND sub_id = v_sub.sub_id
      ORDER BY sub_consumer
        FOR UPDATE;
    DELETE FROM pgq.retry_queue WHERE ev_owner = v_sub.sub_id;
    WITH removed AS (
        DELETE FROM pgq.subscription
         WHERE sub_queue = v_queue_id AND sub_id = v_sub.sub_id
        RETURNING sub_consumer
    )
    SELECT pg_catalog.array_agg(sub_consumer), pg_catalog.count(*)
      INTO v_consumer_ids, v_shared_rows
      FROM removed;

    -- Deleting a name needs a lock that a registration of it (or a foreign
    -- key check of one of its subscriptions) holds until commit, and that
    -- transaction may be waiting for a subscription row we hold: take only
    -- the names that are free now.  Locking before the DELETE also gives
    -- the DELETE a snapshot that includes every subscription committed by
    -- a transaction which held one of these rows.
    SELECT pg_catalog.array_agg(c.co_id) INTO v_consumer_ids
      FROM (SELECT co_id FROM pgq.consumer
             WHERE co_id = ANY (v_consumer_ids)
             ORDER BY co_id
               FOR UPDATE SKIP LOCKED) AS c;
    DELETE FROM pgq.consumer c
     WHERE c.co_id = ANY (v_consumer_ids)
       AND NOT EXISTS (SELECT 1 FROM pgq.subscription s
                        WHERE s.sub_consumer = c.co_id);
    RETURN v_shared_rows;
END
$$ LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- Drop a queue and all its objects.  Without x_force a queue with
-- consumers is refused; with it they are unregistered first.  Returns 1.
CREATE FUNCTION pgq.drop_queue(x_queue_name text, x_force bool)
RETURNS integer
AS $$
DECLARE
    v_queue pgq.queue%ROWTYPE;
    v_consumer text;
    v_consumers text;
    v_tables text;
BEGIN
    IF x_queue_name IS NULL THEN
        RAISE EXCEPTION 'queue name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- FOR UPDATE also blocks new subscriptions (their foreign key check
    -- needs a share lock on this row) until we are done
    SELECT * INTO v_queue FROM pgq.queue WHERE queue_name = x_queue_name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'queue "%" does not exist', x_queue_name
            USING ERRCODE = 'undefined_object';
    END IF;

    IF x_force THEN
        FOR v_consumer IN
            SELECT c.co_name
              FROM pgq.subscription s
              JOIN pgq.consumer c ON c.co_id = s.sub_consumer
             WHERE s.sub_queue = v_queue.queue_id
             ORDER BY c.co_name
        LOOP
            PERFORM pgq.unregister_consumer(x_queue_name, v_consumer);
        END LOOP;
    ELSE
        SELECT pg_catalog.string_agg(c.co_name, ', ' ORDER BY c.co_name)
          INTO v_consumers
          FROM pgq.subscription s
          JOIN pgq.consumer c ON c.co_id = s.sub_consumer
         WHERE s.sub_queue = v_queue.queue_id;
        IF v_consumers IS NOT NULL THEN
            RAISE EXCEPTION 'cannot drop queue "%" because consumers are still registered on it',
                    x_queue_name
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      DETAIL = pg_catalog.format('Registered consumers: %s.', v_consumers),
                      HINT = 'Unregister them first, or use pgq.drop_queue(queue_name, true).';
        END IF;
    END IF;

    -- retry rows whose subscription is already gone would block the
    -- deletion of the queue row
    DELETE FROM pgq.retry_queue WHERE ev_queue = v_queue.queue_id;

    SELECT pg_catalog.string_agg(pgq.quote_fqname(v_queue.queue_data_pfx || '_' || i),
                                 ', ' ORDER BY i)
      INTO v_tables
      FROM pg_catalog.generate_series(0, v_queue.queue_ntables - 1) AS i;
    EXECUTE pg_catalog.format('DROP TABLE %s',
                              pg_catalog.concat_ws(', ', v_tables,
                                                   pgq.quote_fqname(v_queue.queue_data_pfx)));
    DELETE FROM pgq.tick WHERE tick_queue = v_queue.queue_id;
    EXECUTE pg_catalog.format('DROP SEQUENCE %s, %s',
                              pgq.quote_fqname(v_queue.queue_tick_seq),
                              pgq.quote_fqname(v_queue.queue_event_seq));
    DELETE FROM pgq.queue WHERE queue_id = v_queue.queue_id;
    RETURN 1;
END
$$ LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- Drop a queue that has no consumers.
CREATE FUNCTION pgq.drop_queue(x_queue_name text)
RETURNS integer
AS $$
    SELECT pgq.drop_queue(x_queue_name, false)
$$ LANGUAGE sql STRICT;

-- ---------------------------------------------------------------------------
-- Producing events
-- ---------------------------------------------------------------------------

-- Insert an event without extra fields.  A plain SQL wrapper so that the
-- planner inlines it into the caller's query and the cost is that of the
-- 7-argument C function alone.
CREATE FUNCTION pgq.insert_event(queue_name text, ev_type text, ev_data text)
RETURNS bigint
AS $$
    SELECT pgq.insert_event(queue_name, ev_type, ev_data, NULL, NULL, NULL, NULL)
$$ LANGUAGE sql;

-- ---------------------------------------------------------------------------
-- Batches
-- ---------------------------------------------------------------------------

-- The consumer's open or next batch, or a row of NULLs when no new tick is
-- available.
CREATE FUNCTION pgq.next_batch_info(
    in i_queue_name text, in i_consumer_name text,
    out batch_id int8,
    out cur_tick_id int8, out prev_tick_id int8,
    out cur_tick_time timestamptz, out prev_tick_time timestamptz,
    out cur_tick_event_seq int8, out prev_tick_event_seq int8)
AS $$
    SELECT * FROM pgq.next_batch_custom(i_queue_name, i_consumer_name, NULL, NULL, NULL)
$$ LANGUAGE sql;

-- Id of the consumer's open or next batch, NULL when none is available.
-- Scalar on purpose: clients select the column named next_batch.
CREATE FUNCTION pgq.next_batch(i_queue_name text, i_consumer_name text)
RETURNS int8
AS $$
    SELECT batch_id FROM pgq.next_batch_custom(i_queue_name, i_consumer_name, NULL, NULL, NULL)
$$ LANGUAGE sql;

-- Choose the end tick for a batch that starts at i_prev_tick_* and should
-- hold at least i_min_count events (by event sequence) or span at least
-- i_min_interval; a NULL criterion is ignored.  Normally the latest tick is
-- taken if it meets a criterion.  When it overshoots one by more than a
-- factor of two (a consumer that fell far behind), the first tick meeting
-- a criterion is taken instead, keeping batches near the requested size.
-- Returns NULLs when no tick qualifies.
--
-- No two timestamps are a million years apart, so an i_min_interval
-- beyond that (either way) is clamped to it: every comparison below comes
-- out the same, and doubling it can no longer overflow.  A huge interval
-- is thus never reached, a hugely negative one always.
CREATE FUNCTION pgq.find_tick_helper(
    in i_queue_id int4, in i_prev_tick_id int8, in i_prev_tick_time timestamptz,
    in i_prev_tick_seq int8, in i_min_count int8, in i_min_interval interval,
    out next_tick_id int8, out next_tick_time timestamptz, out next_tick_seq int8)
AS $$
DECLARE
    v_latest record;
    v_min_interval interval := i_min_interval;
BEGIN
    IF v_min_interval > interval '1000000 years' THEN
        v_min_interval := interval '1000000 years';
    ELSIF v_min_interval < interval '-1000000 years' THEN
        v_min_interval := interval '-1000000 years';
    END IF;

    SELECT t.tick_id, t.tick_time, t.tick_event_seq INTO v_latest
      FROM pgq.tick t
     WHERE t.tick_queue = i_queue_id AND t.tick_id > i_prev_tick_id
     ORDER BY t.tick_queue DESC, t.tick_id DESC
     LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;

    -- a NULL criterion makes its comparison NULL, which never counts as met
    IF v_latest.tick_event_seq - i_prev_tick_seq > 2 * i_min_count
       OR v_latest.tick_time - i_prev_tick_time > 2 * v_min_interval THEN
        SELECT t.tick_id, t.tick_time, t.tick_event_seq
          INTO next_tick_id, next_tick_time, next_tick_seq
          FROM pgq.tick t
         WHERE t.tick_queue = i_queue_id AND t.tick_id > i_prev_tick_id
           AND (t.tick_event_seq - i_prev_tick_seq >= i_min_count
                OR t.tick_time - i_prev_tick_time >= v_min_interval)
         ORDER BY t.tick_queue, t.tick_id
         LIMIT 1;
    ELSIF v_latest.tick_event_seq - i_prev_tick_seq >= i_min_count
          OR v_latest.tick_time - i_prev_tick_time >= v_min_interval THEN
        next_tick_id := v_latest.tick_id;
        next_tick_time := v_latest.tick_time;
        next_tick_seq := v_latest.tick_event_seq;
    END IF;
    RETURN;
END
$$ LANGUAGE plpgsql STABLE;

-- Close a batch: its end tick becomes the consumer's position.  An unknown
-- or already finished batch (NULL included) is only a WARNING and returns
-- 0, because clients finish batches again after reconnecting and expect no
-- error.
CREATE FUNCTION pgq.finish_batch(x_batch_id bigint)
RETURNS integer
AS $$
BEGIN
    UPDATE pgq.subscription
       SET sub_active = pg_catalog.now(),
           sub_last_tick = sub_next_tick,
           sub_next_tick = NULL,
           sub_batch = NULL
     WHERE sub_batch = x_batch_id;
    IF NOT FOUND THEN
        RAISE WARNING 'batch % not found', x_batch_id;
        RETURN 0;
    END IF;
    RETURN 1;
END
$$ LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- ---------------------------------------------------------------------------
-- Retry
-- ---------------------------------------------------------------------------

-- Put an arbitrary event into the retry queue on behalf of a consumer
-- (cascade workers use it to re-create retry state).  ev_retry is stored
-- as given; a NULL event id draws a fresh one.  Returns the event id.
CREATE FUNCTION pgq.event_retry_raw(
    x_queue text, x_consumer text, x_retry_after timestamptz,
    x_ev_id bigint, x_ev_time timestamptz, x_ev_retry integer,
    x_ev_type text, x_ev_data text,
    x_ev_extra1 text, x_ev_extra2 text, x_ev_extra3 text, x_ev_extra4 text)
RETURNS bigint
AS $$
DECLARE
    v_queue_id integer;
    v_event_seq text;
    v_sub_id integer;
    v_ev_id bigint := x_ev_id;
BEGIN
    IF x_queue IS NULL THEN
        RAISE EXCEPTION 'queue name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF x_consumer IS NULL THEN
        RAISE EXCEPTION 'consumer name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- lock order as in register_consumer_at: the queue, then the
    -- subscription, which an unregistration must not delete before our
    -- row is in (it would stay behind with no owner)
    SELECT q.queue_id, q.queue_event_seq INTO v_queue_id, v_event_seq
      FROM pgq.queue q
     WHERE q.queue_name = x_queue
       FOR KEY SHARE;
    SELECT s.sub_id INTO v_sub_id
      FROM pgq.subscription s
      JOIN pgq.consumer c ON c.co_id = s.sub_consumer
     WHERE s.sub_queue = v_queue_id AND c.co_name = x_consumer
       FOR SHARE OF s;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'consumer "%" is not registered on queue "%"', x_consumer, x_queue
            USING ERRCODE = 'undefined_object';
    END IF;

    IF v_ev_id IS NULL THEN
        v_ev_id := pg_catalog.nextval(pgq.quote_fqname(v_event_seq)::pg_catalog.regclass);
    END IF;
    INSERT INTO pgq.retry_queue (ev_retry_after, ev_queue, ev_id, ev_time, ev_owner,
                                 ev_retry, ev_type, ev_data,
                                 ev_extra1, ev_extra2, ev_extra3, ev_extra4)
    VALUES (x_retry_after, v_queue_id, v_ev_id, x_ev_time, v_sub_id,
            x_ev_retry, x_ev_type, x_ev_data,
            x_ev_extra1, x_ev_extra2, x_ev_extra3, x_ev_extra4);
    RETURN v_ev_id;
END
$$ LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- ---------------------------------------------------------------------------
-- Information
-- ---------------------------------------------------------------------------

-- Settings and activity of one queue (zero rows if unknown) or, with NULL,
-- of all queues by name.  ev_new counts event ids issued since the latest
-- tick the way the ticker does (quirk Q1: a sequence never called has
-- issued last_value - 1), so it agrees with the ticker's decisions.
-- ev_per_sec spans up to the last 20 ticks.
CREATE FUNCTION pgq.get_queue_info(
    in i_queue_name text,
    out queue_name text, out queue_ntables integer, out queue_cur_table integer,
    out queue_rotation_period interval, out queue_switch_time timestamptz,
    out queue_external_ticker boolean, out queue_ticker_paused boolean,
    out queue_ticker_max_count integer, out queue_ticker_max_lag interval,
    out queue_ticker_idle_period interval, out ticker_lag interval,
    out ev_per_sec float8, out ev_new bigint, out last_tick_id bigint)
RETURNS SETOF record
AS $$
DECLARE
    v_queue record;
    v_issued bigint;
BEGIN
    FOR v_queue IN
        SELECT q.queue_id, q.queue_event_seq
          FROM pgq.queue q
         WHERE i_queue_name IS NULL OR q.queue_name = i_queue_name
         ORDER BY q.queue_name
    LOOP
        -- the sequence row itself, as seq_getval() ignores is_called
        EXECUTE pg_catalog.format(
            'SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM %s',
            pgq.quote_fqname(v_queue.queue_event_seq))
            INTO v_issued;

        RETURN QUERY
            SELECT q.queue_name, q.queue_ntables, q.queue_cur_table,
                   q.queue_rotation_period, q.queue_switch_time,
                   q.queue_external_ticker, q.queue_ticker_paused,
                   q.queue_ticker_max_count, q.queue_ticker_max_lag,
                   q.queue_ticker_idle_period,
                   pg_catalog.now() - top.tick_time,
                   CASE WHEN base.tick_time < top.tick_time THEN
                       (top.tick_event_seq - base.tick_event_seq)::float8
                       / pg_catalog.date_part('epoch', top.tick_time - base.tick_time)
                   END,
                   v_issued - top.tick_event_seq,
                   top.tick_id
              FROM pgq.queue q
              LEFT JOIN LATERAL (
                    SELECT t.tick_id, t.tick_time, t.tick_event_seq
                      FROM pgq.tick t
                     WHERE t.tick_queue = q.queue_id
                     ORDER BY t.tick_queue DESC, t.tick_id DESC
                     LIMIT 1) AS top ON true
              LEFT JOIN LATERAL (
                    SELECT t.tick_time, t.tick_event_seq
                      FROM pgq.tick t
                     WHERE t.tick_queue = q.queue_id AND t.tick_id >= top.tick_id - 20
                     ORDER BY t.tick_queue, t.tick_id
                     LIMIT 1) AS base ON true
             WHERE q.queue_id = v_queue.queue_id;
    END LOOP;
END
$$ LANGUAGE plpgsql;

-- Settings and activity of all queues, by name.
CREATE FUNCTION pgq.get_queue_info(
    out queue_name text, out queue_ntables integer, out queue_cur_table integer,
    out queue_rotation_period interval, out queue_switch_time timestamptz,
    out queue_external_ticker boolean, out queue_ticker_paused boolean,
    out queue_ticker_max_count integer, out queue_ticker_max_lag interval,
    out queue_ticker_idle_period interval, out ticker_lag interval,
    out ev_per_sec float8, out ev_new bigint, out last_tick_id bigint)
RETURNS SETOF record
AS $$
    SELECT * FROM pgq.get_queue_info(NULL)
$$ LANGUAGE sql;

-- One row per subscription (pgq_coop subconsumers included) matching the
-- queue and consumer names, NULL meaning any, ordered by queue and consumer.
-- lag is the age of the consumer's position, NULL when it has none (idle
-- subconsumer); pending_events is the event-sequence distance between the
-- position and the latest tick, a size hint only.
CREATE FUNCTION pgq.get_consumer_info(
    in i_queue_name text, in i_consumer_name text,
    out queue_name text, out consumer_name text,
    out lag interval, out last_seen interval,
    out last_tick bigint, out current_batch bigint, out next_tick bigint,
    out pending_events bigint)
RETURNS SETOF record
AS $$
    SELECT q.queue_name, c.co_name,
           pg_catalog.now() - pos.tick_time,
           pg_catalog.now() - s.sub_active,
           s.sub_last_tick, s.sub_batch, s.sub_next_tick,
           top.tick_event_seq - pos.tick_event_seq
      FROM pgq.subscription s
      JOIN pgq.queue q ON q.queue_id = s.sub_queue
      JOIN pgq.consumer c ON c.co_id = s.sub_consumer
      LEFT JOIN pgq.tick pos
             ON pos.tick_queue = s.sub_queue AND pos.tick_id = s.sub_last_tick
      LEFT JOIN LATERAL (
            SELECT t.tick_event_seq
              FROM pgq.tick t
             WHERE t.tick_queue = s.sub_queue
             ORDER BY t.tick_queue DESC, t.tick_id DESC
             LIMIT 1) AS top ON true
     WHERE (i_queue_name IS NULL OR q.queue_name = i_queue_name)
       AND (i_consumer_name IS NULL OR c.co_name = i_consumer_name)
     ORDER BY q.queue_name, c.co_name
$$ LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- Consumers of one queue (NULL: all queues).
CREATE FUNCTION pgq.get_consumer_info(
    in i_queue_name text,
    out queue_name text, out consumer_name text,
    out lag interval, out last_seen interval,
    out last_tick bigint, out current_batch bigint, out next_tick bigint,
    out pending_events bigint)
RETURNS SETOF record
AS $$
    SELECT * FROM pgq.get_consumer_info(i_queue_name, NULL)
$$ LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- Consumers of all queues.
CREATE FUNCTION pgq.get_consumer_info(
    out queue_name text, out consumer_name text,
    out lag interval, out last_seen interval,
    out last_tick bigint, out current_batch bigint, out next_tick bigint,
    out pending_events bigint)
RETURNS SETOF record
AS $$
    SELECT * FROM pgq.get_consumer_info(NULL, NULL)
$$ LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- Describe an open batch: owner, start (prev) and end ticks, their times
-- and event sequence values.  An unknown or finished batch gives one row of
-- NULLs rather than an error.
CREATE FUNCTION pgq.get_batch_info(
    in x_batch_id bigint,
    out queue_name text, out consumer_name text,
    out batch_start timestamptz, out batch_end timestamptz,
    out prev_tick_id bigint, out tick_id bigint, out lag interval,
    out seq_start bigint, out seq_end bigint)
AS $$
BEGIN
    SELECT q.queue_name, c.co_name,
           prev.tick_time, cur.tick_time,
           s.sub_last_tick, s.sub_next_tick,
           pg_catalog.now() - cur.tick_time,
           prev.tick_event_seq, cur.tick_event_seq
      INTO queue_name, consumer_name, batch_start, batch_end,
           prev_tick_id, tick_id, lag, seq_start, seq_end
      FROM pgq.subscription s
      JOIN pgq.queue q ON q.queue_id = s.sub_queue
      JOIN pgq.consumer c ON c.co_id = s.sub_consumer
      LEFT JOIN pgq.tick prev
             ON prev.tick_queue = s.sub_queue AND prev.tick_id = s.sub_last_tick
      LEFT JOIN pgq.tick cur
             ON cur.tick_queue = s.sub_queue AND cur.tick_id = s.sub_next_tick
     WHERE s.sub_batch = x_batch_id;
    RETURN;
END
$$ LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- ---------------------------------------------------------------------------
-- Ticking and maintenance
-- ---------------------------------------------------------------------------

-- Make the next pgq.ticker() call tick this queue at once, by advancing the
-- event sequence past the max-count threshold.  Returns the current latest
-- tick id (callers poll until it changes), NULL for an unknown queue.
-- Paused and externally ticked queues are left alone.
--
-- The jump starts from a nextval of the sequence, not from its last_value,
-- so that the resulting value is the one PgQ 3.5 sets (one id further on a
-- sequence already in use).  Producers may take ids between the nextval and
-- the setval; the margin of at least 1000 ids keeps the sequence ahead of
-- them, and seq_setval never moves it back.
CREATE FUNCTION pgq.force_tick(i_queue_name text)
RETURNS bigint
AS $$
DECLARE
    v_queue record;
    v_last_tick bigint;
BEGIN
    IF i_queue_name IS NULL THEN
        RAISE EXCEPTION 'queue name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT q.queue_id, q.queue_event_seq, q.queue_external_ticker,
           q.queue_ticker_paused, q.queue_ticker_max_count
      INTO v_queue
      FROM pgq.queue q
     WHERE q.queue_name = i_queue_name;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    IF NOT v_queue.queue_external_ticker AND NOT v_queue.queue_ticker_paused THEN
        PERFORM pgq.seq_setval(
            v_queue.queue_event_seq,
            pg_catalog.nextval(pgq.quote_fqname(v_queue.queue_event_seq)::pg_catalog.regclass)
            + v_queue.queue_ticker_max_count::bigint * 2 + 1000);
    END IF;

    SELECT t.tick_id INTO v_last_tick
      FROM pgq.tick t
     WHERE t.tick_queue = v_queue.queue_id
     ORDER BY t.tick_queue DESC, t.tick_id DESC
     LIMIT 1;
    RETURN v_last_tick;
END
$$ LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp;

-- Move up to 10 due events from the retry queue back into their queues'
-- current event tables; returns how many were moved (callers repeat until
-- 0).  The events keep their ids, times, data and owner; the new rows get
-- this transaction's txid, so they show up in a later batch of the owning
-- subscription only.  SHARE UPDATE EXCLUSIVE lets one mover run at a time
-- without blocking event_retry inserts.
CREATE FUNCTION pgq.maint_retry_events()
RETURNS integer
AS $$
DECLARE
    v_event record;
    v_moved integer := 0;
BEGIN
    LOCK TABLE pgq.retry_queue IN SHARE UPDATE EXCLUSIVE MODE;
    FOR v_event IN
        WITH due AS (
            SELECT r.ev_owner, r.ev_id
              FROM pgq.retry_queue r
             WHERE r.ev_retry_after <= pg_catalog.now()
             ORDER BY r.ev_retry_after
             LIMIT 10
        )
        DELETE FROM pgq.retry_queue r
         USING due, pgq.queue q
         WHERE r.ev_owner = due.ev_owner AND r.ev_id = due.ev_id
           AND q.queue_id = r.ev_queue
        RETURNING q.queue_name, r.ev_id, r.ev_time, r.ev_owner, r.ev_retry,
                  r.ev_type, r.ev_data, r.ev_extra1, r.ev_extra2,
                  r.ev_extra3, r.ev_extra4
    LOOP
        PERFORM pgq.insert_event_raw(v_event.queue_name, v_event.ev_id, v_event.ev_time,
                                     v_event.ev_owner, v_event.ev_retry,
                                     v_event.ev_type, v_event.ev_data,
                                     v_event.ev_extra1, v_event.ev_extra2,
                                     v_event.ev_extra3, v_event.ev_extra4);
        v_moved := v_moved + 1;
    END LOOP;
    RETURN v_moved;
END
$$ LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp;

-- First half of a table rotation: if the queue is due, truncate its oldest
-- event table and make it the current one.  Rotation is skipped while some
-- consumer's position does not yet see every transaction that finished
-- before the previous rotation was confirmed (it may still need the events
-- of the table about to be emptied), and when the table cannot be locked at
-- once (pg_dump, a long reader).  Ticks older than the previous rotation are
-- deleted with it.  Always returns 0 (pgqd must not repeat it).
CREATE FUNCTION pgq.maint_rotate_tables_step1(i_queue_name text)
RETURNS integer
AS $$
DECLARE
    v_queue pgq.queue%ROWTYPE;
    v_txid bigint;
    v_lowest_tick bigint;
    v_lowest_xmin bigint;
    v_next_table integer;
    v_table text;
BEGIN
    IF i_queue_name IS NULL THEN
        RAISE EXCEPTION 'queue name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- the ticker takes the same lock, so no tick is made mid-rotation
    SELECT * INTO v_queue FROM pgq.queue WHERE queue_name = i_queue_name FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'queue "%" does not exist', i_queue_name
            USING ERRCODE = 'undefined_object';
    END IF;
    IF v_queue.queue_rotation_period IS NULL
       OR v_queue.queue_switch_step2 IS NULL
       OR v_queue.queue_switch_time + v_queue.queue_rotation_period >= pg_catalog.now() THEN
        RETURN 0;
    END IF;

    v_txid := pg_catalog.txid_current();
    IF v_txid < v_queue.queue_switch_step1 THEN
        RAISE EXCEPTION 'invalid pgq state in queue "%": last rotation txid % is above current txid %',
                i_queue_name, v_queue.queue_switch_step1, v_txid
            USING ERRCODE = 'data_corrupted';
    END IF;

    SELECT pg_catalog.min(s.sub_last_tick) INTO v_lowest_tick
      FROM pgq.subscription s
     WHERE s.sub_queue = v_queue.queue_id;
    IF v_lowest_tick IS NOT NULL THEN
        SELECT pg_catalog.txid_snapshot_xmin(t.tick_snapshot) INTO v_lowest_xmin
          FROM pgq.tick t
         WHERE t.tick_queue = v_queue.queue_id AND t.tick_id = v_lowest_tick;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'tick % does not exist for queue "%"', v_lowest_tick, i_queue_name
                USING ERRCODE = 'data_corrupted',
                      DETAIL = 'A consumer of the queue is positioned on this tick.';
        END IF;
        IF v_lowest_xmin <= v_queue.queue_switch_step2 THEN
            RETURN 0;
        END IF;
    END IF;

    v_next_table := (v_queue.queue_cur_table + 1) % v_queue.queue_ntables;
    v_table := pgq.quote_fqname(v_queue.queue_data_pfx || '_' || v_next_table);
    BEGIN
        EXECUTE pg_catalog.format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE NOWAIT', v_table);
    EXCEPTION WHEN lock_not_available THEN
        RETURN 0;
    END;
    EXECUTE pg_catalog.format('TRUNCATE %s', v_table);

    UPDATE pgq.queue
       SET queue_cur_table = v_next_table,
           queue_switch_time = pg_catalog.now(),
           queue_switch_step1 = v_txid,
           queue_switch_step2 = NULL
     WHERE queue_id = v_queue.queue_id;

    DELETE FROM pgq.tick t
     WHERE t.tick_queue = v_queue.queue_id
       AND pg_catalog.txid_snapshot_xmin(t.tick_snapshot) < v_queue.queue_switch_step2;
    RETURN 0;
END
$$ LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp;

-- Second half of a table rotation: record a txid taken after the rotation
-- committed.  Readers use it to know when the previous table no longer
-- needs to be read, so it must be above the txid of every producer that
-- wrote into that table (doc/pgq.md, "Why rotation loses no event").  The
-- txid is therefore assigned here, after the snapshot that sees the
-- rotation: a transaction that had one already may have got it while step
-- 1 was still open (or be step 1 itself), and leaves the confirmation to a
-- later call.  Returns 0.
CREATE FUNCTION pgq.maint_rotate_tables_step2()
RETURNS integer
AS $$
BEGIN
    IF pg_catalog.txid_current_if_assigned() IS NOT NULL THEN
        RETURN 0;
    END IF;
    UPDATE pgq.queue
       SET queue_switch_step2 = pg_catalog.txid_current()
     WHERE queue_switch_step2 IS NULL;
    RETURN 0;
END
$$ LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp;

-- Tables that need an explicit VACUUM from the ticker daemon: the busy
-- bookkeeping tables of pgq and its companions, those that exist.  Nothing
-- when autovacuum is on.
CREATE FUNCTION pgq.maint_tables_to_vacuum()
RETURNS SETOF text
AS $$
    SELECT w.table_name
      FROM pg_catalog.unnest(ARRAY[
                'pgq.subscription', 'pgq.consumer', 'pgq.queue', 'pgq.tick',
                'pgq.retry_queue',
                'pgq_ext.completed_tick', 'pgq_ext.completed_batch',
                'pgq_ext.completed_event', 'pgq_ext.partial_batch',
                'pgq_node.local_state', 'londiste.seq_info', 'txid.epoch',
                'londiste.completed']) WITH ORDINALITY AS w(table_name, pos)
     WHERE pg_catalog.current_setting('autovacuum') <> 'on'
       AND EXISTS (SELECT 1
                     FROM pg_catalog.pg_class c
                     JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname = pg_catalog.split_part(w.table_name, '.', 1)
                      AND c.relname = pg_catalog.split_part(w.table_name, '.', 2))
     ORDER BY w.pos
$$ LANGUAGE sql
SET search_path = pg_catalog, pg_temp;

-- The maintenance calls the ticker daemon should make now, in order:
-- rotations, their confirmation, per-queue extra functions, vacuums, and
-- the periodic jobs of pgq_node and londiste when those are installed.
-- Rows named "vacuum" are run as VACUUM of func_arg; every other row as
-- SELECT func_name(func_arg), repeated while it returns a non-zero number.
CREATE FUNCTION pgq.maint_operations(out func_name text, out func_arg text)
RETURNS SETOF record
AS $$
DECLARE
    v_companions text[];
BEGIN
    RETURN QUERY
        SELECT 'pgq.maint_rotate_tables_step1'::text, q.queue_name
          FROM pgq.queue q
         WHERE q.queue_rotation_period IS NOT NULL
           AND q.queue_switch_step2 IS NOT NULL
           AND q.queue_switch_time + q.queue_rotation_period < pg_catalog.now()
         ORDER BY q.queue_name;
    -- step 2 also confirms rotations left unconfirmed by an earlier round
    IF FOUND OR EXISTS (SELECT 1 FROM pgq.queue q WHERE q.queue_switch_step2 IS NULL) THEN
        func_name := 'pgq.maint_rotate_tables_step2';
        func_arg := NULL;
        RETURN NEXT;
    END IF;

    RETURN QUERY
        SELECT m.func, q.queue_name
          FROM pgq.queue q,
               pg_catalog.unnest(q.queue_extra_maint) WITH ORDINALITY AS m(func, pos)
         ORDER BY q.queue_name, m.pos;

    RETURN QUERY
        SELECT 'vacuum'::text, v.table_name
          FROM pgq.maint_tables_to_vacuum() AS v(table_name);

    -- Companion extensions are optional.  Their steps are listed only when
    -- the function pgqd would call belongs to an installed extension: in a
    -- schema of that name made by somebody else, neither their functions
    -- nor their tables (a view can run the caller's functions) may be used
    -- by the ticker.
    SELECT pg_catalog.array_agg(n.nspname || '.' || p.proname)
      INTO v_companions
      FROM pg_catalog.pg_proc p
      JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
      JOIN pg_catalog.pg_depend d
        ON d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass
       AND d.objid = p.oid AND d.deptype = 'e'
     WHERE (n.nspname, p.proname) IN (('pgq_node', 'maint_watermark'),
                                      ('londiste', 'root_check_seqs'),
                                      ('londiste', 'periodic_maintenance'));

    IF 'pgq_node.maint_watermark' = ANY (v_companions) THEN
        RETURN QUERY
            SELECT 'pgq_node.maint_watermark'::text, ni.queue_name
              FROM pgq_node.node_info ni
             WHERE ni.node_type = 'root'
             ORDER BY ni.queue_name;
    END IF;

    IF 'londiste.root_check_seqs' = ANY (v_companions)
       AND 'pgq_node.maint_watermark' = ANY (v_companions) THEN
        RETURN QUERY
            SELECT DISTINCT 'londiste.root_check_seqs'::text, si.queue_name
              FROM londiste.seq_info si
              JOIN pgq_node.node_info ni ON ni.queue_name = si.queue_name
             WHERE si.local AND ni.node_type = 'root'
             ORDER BY 2;
    END IF;

    IF 'londiste.periodic_maintenance' = ANY (v_companions) THEN
        func_name := 'londiste.periodic_maintenance';
        func_arg := NULL;
        RETURN NEXT;
    END IF;
    RETURN;
END
$$ LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp;
